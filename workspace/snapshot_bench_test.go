package workspace

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// BenchmarkSnapshot compares, in one run on one repository, the ways of
// snapshotting a worktree after a few files changed:
//
//   - fast: Snapshotter.Update as the tracker uses it (a long-lived
//     hash-object for the blobs, trees and commit built in process, written
//     loose);
//   - fast-inproc-blobs: the same with blobs hashed and written in process;
//   - fast-hash-once: the same with one hash-object process per snapshot;
//   - fast-mktree: trees written by one `git mktree` per changed directory
//     level, the commit by `git hash-object`;
//   - fast-import: blobs by hash-object, then trees and commit by one
//     `git fast-import` from the previous tree (M/D lines);
//   - index: TakeSnapshot on its private index with the changed paths (the
//     tracker's former path);
//   - add-A: plain `git add -A` and `git write-tree` on a temporary index.
//
// Every round changes the same files for all of them and checks that their
// trees are equal. Run it as
//
//	go test -run XXX -bench Snapshot$ -benchtime 1x ./workspace/
//
// STUDIOD_BENCH_FILES sets the repository size (default 10000),
// STUDIOD_BENCH_SNAPS the rounds (default 30), STUDIOD_BENCH_METHODS a
// comma-separated subset of the fast methods (index and add-A always run).
func BenchmarkSnapshot(b *testing.B) {
	nfiles := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_SNAPS", 30)
	gittest.Setenv(b)
	ctx := b.Context()

	dir := filepath.Join(b.TempDir(), "repo")
	gittest.Git(b, "", "init", "-q", "-b", "main", dir)
	gittest.Git(b, dir, "config", "gc.auto", "0") // packed once below, on purpose
	var files []string
	batch := map[string]string{}
	for i := range nfiles {
		p := fmt.Sprintf("pkg%03d/sub%d/file%05d.go", i%max(nfiles/100, 1), i%3, i)
		files = append(files, p)
		batch[p] = fmt.Sprintf("package p\n\n// file %d\nvar x%d = %d\n", i, i, i)
		if len(batch) == 2000 {
			gittest.Write(b, dir, batch)
			clear(batch)
		}
	}
	gittest.Write(b, dir, batch)
	gittest.Write(b, dir, map[string]string{".gitignore": "*.log\n"})
	gittest.Commit(b, dir, "initial")
	gittest.Git(b, dir, "gc", "-q")
	repo, err := Open(ctx, &Git{}, dir)
	if err != nil {
		b.Fatal(err)
	}
	g := repo.Git
	ix := b.TempDir()

	type method struct {
		name string
		snap func(paths []string) (string, error) // returns the tree
	}
	fastMethod := func(name string, tune func(s *Snapshotter)) method {
		s := NewSnapshotter(repo)
		b.Cleanup(func() { s.Close() })
		if tune != nil {
			tune(s)
		}
		prev, err := g.TakeSnapshot(ctx, dir, filepath.Join(ix, name), nil)
		if err != nil {
			b.Fatal(err)
		}
		return method{name, func(paths []string) (string, error) {
			next, err := s.Update(ctx, dir, prev, paths)
			prev = next
			return next.Tree, err
		}}
	}
	methods := []method{
		fastMethod("fast", nil),
		fastMethod("fast-inproc-blobs", func(s *Snapshotter) { s.hashFiles = s.hashInProcess }),
		fastMethod("fast-hash-once", func(s *Snapshotter) { s.hashFiles = s.hashOnce }),
		fastMethod("fast-mktree", func(s *Snapshotter) { s.write = mktreeWriter(g, dir) }),
		fastMethod("fast-import", func(s *Snapshotter) { s.build = fastImportBuilder(g) }),
	}
	index := filepath.Join(ix, "index")
	if _, err := g.TakeSnapshot(ctx, dir, index, nil); err != nil {
		b.Fatal(err)
	}
	methods = append(methods, method{"index", func(paths []string) (string, error) {
		s, err := g.TakeSnapshot(ctx, dir, index, paths)
		return s.Tree, err
	}})
	plain := []string{"GIT_INDEX_FILE=" + filepath.Join(ix, "plain")}
	if _, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: plain}, "read-tree", "HEAD"); err != nil {
		b.Fatal(err)
	}
	methods = append(methods, method{"add-A", func([]string) (string, error) {
		if _, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: plain}, "add", "-A"); err != nil {
			return "", err
		}
		out, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: plain}, "write-tree")
		return trim(out), err
	}})
	if only := os.Getenv("STUDIOD_BENCH_METHODS"); only != "" {
		methods = slices.DeleteFunc(methods, func(m method) bool {
			return m.name != "index" && m.name != "add-A" && !slices.Contains(strings.Split(only, ","), m.name)
		})
	}
	// Warm up: every method once on the current state (the first runs pay
	// for reading the trees and the index into the page cache).
	for _, m := range methods {
		if _, err := m.snap(nil); err != nil {
			b.Fatalf("%s: %v", m.name, err)
		}
	}

	r := rand.New(rand.NewPCG(1, 2))
	for _, changed := range []int{1, 20} {
		b.Run(fmt.Sprintf("files=%d/changed=%d", nfiles, changed), func(b *testing.B) {
			n := max(rounds, b.N)
			times := make([][]time.Duration, len(methods))
			loose0 := countLoose(repo.CommonDir)
			for round := range n {
				var paths []string
				for range changed {
					p := files[r.IntN(len(files))]
					paths = append(paths, p)
					gittest.Write(b, dir, map[string]string{p: fmt.Sprintf("package p\n\n// round %d %d\n", round, r.Int())})
				}
				want := ""
				for i := range methods {
					m := methods[(round+i)%len(methods)] // rotate, so no method always runs first
					start := time.Now()
					tree, err := m.snap(slices.Clone(paths))
					d := time.Since(start)
					if err != nil {
						b.Fatalf("%s: %v", m.name, err)
					}
					if want == "" {
						want = tree
					} else if tree != want {
						b.Fatalf("round %d: %s made tree %s, another method %s", round, m.name, tree, want)
					}
					times[(round+i)%len(methods)] = append(times[(round+i)%len(methods)], d)
				}
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			var report strings.Builder
			fmt.Fprintf(&report, "%d files, %d changed, %d rounds: p50 (p90) per snapshot\n", nfiles, changed, n)
			base := percentile(times[len(methods)-2], 50) // index
			plainP50 := percentile(times[len(methods)-1], 50)
			for i, m := range methods {
				p50 := percentile(times[i], 50)
				b.ReportMetric(ms(p50), m.name+"-ms")
				fmt.Fprintf(&report, "  %-18s %8.2f ms (%7.2f)  ×%.3f of index  ×%.3f of add-A\n", m.name, ms(p50), ms(percentile(times[i], 90)), float64(p50)/float64(base), float64(p50)/float64(plainP50))
			}
			fmt.Fprintf(&report, "  loose objects written: %d (%.1f per round, all methods)", countLoose(repo.CommonDir)-loose0, float64(countLoose(repo.CommonDir)-loose0)/float64(n))
			b.Log(report.String())
		})
	}
}

func countLoose(common string) int {
	n := 0
	filepath.WalkDir(filepath.Join(common, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(filepath.Base(filepath.Dir(p))) == 2 {
			n++
		}
		return nil
	})
	return n
}

// hashInProcess writes blobs without git: no clean filters, no line-ending
// conversion (measured, not used).
func (s *Snapshotter) hashInProcess(ctx context.Context, dir string, paths []string) ([]oid, error) {
	ids := make([]oid, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		if ids[i], err = s.objects.write("blob", data); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// mktreeWriter writes trees with one `git mktree` each and other objects
// with `git hash-object`.
func mktreeWriter(g *Git, dir string) func(ctx context.Context, typ string, data []byte) (oid, error) {
	return func(ctx context.Context, typ string, data []byte) (oid, error) {
		var out []byte
		var err error
		if typ == "tree" {
			entries, perr := parseTree(data)
			if perr != nil {
				return oid{}, perr
			}
			var in bytes.Buffer
			for _, e := range entries {
				t := "blob"
				switch e.mode {
				case modeTree:
					t = "tree"
				case modeGitlink:
					t = "commit"
				}
				fmt.Fprintf(&in, "%06o %s %s\t%s\x00", e.mode, t, e.id, e.name)
			}
			out, err = g.RunCmd(ctx, Cmd{Dir: dir, Stdin: &in}, "mktree", "-z")
		} else {
			out, err = g.RunCmd(ctx, Cmd{Dir: dir, Stdin: bytes.NewReader(data)}, "hash-object", "-w", "-t", typ, "--stdin")
		}
		if err != nil {
			return oid{}, err
		}
		return parseOID(trim(out))
	}
}

// fastImportBuilder builds the tree and commit with one `git fast-import`:
// the previous tree as the root, the edits as M and D lines, the ref reset
// so that none is written.
func fastImportBuilder(g *Git) func(ctx context.Context, dir string, base oid, head string, edits []treeEdit) (oid, oid, error) {
	return func(ctx context.Context, dir string, base oid, head string, edits []treeEdit) (oid, oid, error) {
		const ref = "refs/studiod/snapshot-build"
		var in bytes.Buffer
		msg := snapshotMessage + "\n"
		fmt.Fprintf(&in, "feature done\ncommit %s\nmark :1\nauthor %s\ncommitter %s\ndata %d\n%sfrom %s\nM 040000 %s \"\"\n", ref, snapshotSig, snapshotSig, len(msg), msg, head, base)
		for _, e := range edits {
			if e.del {
				fmt.Fprintf(&in, "D %s\n", quotePath(e.path))
			} else {
				fmt.Fprintf(&in, "M %06o %s %s\n", e.mode, e.id, quotePath(e.path))
			}
		}
		fmt.Fprintf(&in, "\nls :1 \"\"\nget-mark :1\nreset %s\n\ndone\n", ref)
		out, err := g.RunCmd(ctx, Cmd{Dir: dir, Stdin: &in}, "fast-import", "--quiet", "--done")
		if err != nil {
			return oid{}, oid{}, err
		}
		lines := strings.Split(trim(out), "\n")
		if len(lines) != 2 {
			return oid{}, oid{}, fmt.Errorf("fast-import: unexpected output %q", out)
		}
		f := strings.Fields(lines[0])
		if len(f) < 3 {
			return oid{}, oid{}, fmt.Errorf("fast-import: unexpected output %q", out)
		}
		tree, err := parseOID(f[2])
		if err != nil {
			return oid{}, oid{}, err
		}
		commit, err := parseOID(lines[1])
		return tree, commit, err
	}
}
