package workspace

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// BenchmarkPreview folds 10 sessions onto a target that moved on, in a
// generated repository, next to what it replaces measured in the same run:
// merging the same sessions one by one with `git merge` in a scratch
// worktree (the worktree's checkout is reported apart, not counted). Two
// sessions collide, so both ways leave one out. Run it as
//
//	go test -run XXX -bench Preview -benchtime 1x ./workspace/
//
// It reports three previews, each the median of STUDIOD_BENCH_ROUNDS
// rounds (default 5): cold (a new Predictor and Folder: every merge base,
// diff and merge computed); the daemon's first (the predictor already
// holds what the conflict tracker computed for the same snapshots); and
// live (one session changed since the last preview, as the daemon
// recomputes it). STUDIOD_BENCH_FILES sets the repository size (default
// 10000).
func BenchmarkPreview(b *testing.B) {
	nfiles := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_ROUNDS", 5)
	const sessions = 10
	gittest.Setenv(b)
	root := filepath.Join(b.TempDir(), "repo")
	gittest.Git(b, "", "init", "-q", "-b", "main", root)
	batch := map[string]string{}
	for i := range nfiles {
		batch[fmt.Sprintf("pkg%03d/file%05d.go", i%(nfiles/100), i)] = fmt.Sprintf("package p\n\n// file %d\nvar x%d = %d\n", i, i, i)
		if len(batch) == 2000 {
			gittest.Write(b, root, batch)
			clear(batch)
		}
	}
	batch["hot.txt"] = gittest.Lines(100)
	batch["main.txt"] = gittest.Lines(10)
	gittest.Write(b, root, batch)
	gittest.Commit(b, root, "initial")
	// Each session changes two files of its own; s1 and s2 also change the
	// same line of hot.txt.
	var sides []FoldSide
	for i := range sessions {
		name := fmt.Sprintf("s%d", i)
		gittest.Git(b, root, "checkout", "-q", "-b", "studio/"+name, "main")
		files := map[string]string{
			fmt.Sprintf("pkg%03d/file%05d.go", i, i):                "package p\n// edited by " + name + "\n",
			fmt.Sprintf("pkg%03d/file%05d.go", i+20, i+20+nfiles/2): "package p\n// also edited by " + name + "\n",
		}
		if i == 1 || i == 2 {
			files["hot.txt"] = edit(100, map[int]string{20: name})
		}
		gittest.Write(b, root, files)
		sides = append(sides, FoldSide{Name: name, Commit: gittest.Commit(b, root, name)})
	}
	gittest.Git(b, root, "checkout", "-q", "main")
	gittest.Write(b, root, map[string]string{"main.txt": edit(10, map[int]string{5: "main moved"})})
	tip := gittest.Commit(b, root, "main moves on")
	repo, err := Open(b.Context(), &Git{}, root)
	if err != nil {
		b.Fatal(err)
	}
	newFolder := func() *Folder {
		p, err := NewPredictor(b.Context(), repo.Git, root)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		return NewFolder(repo, p)
	}
	fold := func(f *Folder, sides []FoldSide) (FoldResult, time.Duration) {
		start := time.Now()
		r, err := f.Fold(b.Context(), tip, sides)
		if err != nil {
			b.Fatal(err)
		}
		return r, time.Since(start)
	}

	b.ResetTimer()
	var cold, daemon, live []time.Duration
	var res FoldResult
	for round := range max(rounds, b.N) {
		f := newFolder()
		r, d := fold(f, sides)
		cold = append(cold, d)
		res = r
		// In the daemon the tracker has already predicted every pair with
		// the same predictor: the first preview only folds.
		_, d = fold(NewFolder(repo, f.Predictor()), sides)
		daemon = append(daemon, d)
		// Then a session writes: its snapshot is a new commit.
		changed := append([]FoldSide(nil), sides...)
		k := round % sessions
		c := gittest.Git(b, root, "commit-tree", "-p", sides[k].Commit, "-m", fmt.Sprintf("snapshot %d", round),
			gittest.Git(b, root, "rev-parse", sides[k].Commit+"^{tree}"))
		changed[k].Commit, changed[k].Head = c, sides[k].Commit
		_, d = fold(f, changed)
		live = append(live, d)
	}
	b.StopTimer()
	if len(res.Steps) != sessions-1 || len(res.Left) != 1 {
		b.Fatalf("fold: %d in the order, %d left out; want %d and 1", len(res.Steps), len(res.Left), sessions-1)
	}

	// The same with git merge, one session after the other, in a scratch
	// worktree at the target's tip: a conflict is aborted and the next one
	// merged, as a person would.
	var checkout, merges []time.Duration
	for round := range rounds {
		wt := filepath.Join(b.TempDir(), fmt.Sprintf("scratch%d", round))
		start := time.Now()
		gittest.Git(b, root, "worktree", "add", "-q", "--detach", wt, tip)
		checkout = append(checkout, time.Since(start))
		start = time.Now()
		failed := 0
		for _, s := range sides {
			cmd := exec.Command("git", "merge", "-q", "--no-edit", "--no-ff", s.Commit)
			cmd.Dir = wt
			if out, err := cmd.CombinedOutput(); err != nil {
				if !strings.Contains(string(out), "CONFLICT") {
					b.Fatalf("git merge %s: %v\n%s", s.Name, err, out)
				}
				failed++
				gittest.Git(b, wt, "merge", "--abort")
			}
		}
		merges = append(merges, time.Since(start))
		if failed != 1 {
			b.Fatalf("git merge: %d conflicts, want 1", failed)
		}
		gittest.Git(b, root, "worktree", "remove", "--force", wt)
	}
	c50, d50, l50 := percentile(cold, 50), percentile(daemon, 50), percentile(live, 50)
	m50, w50 := percentile(merges, 50), percentile(checkout, 50)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(c50), "cold-ms")
	b.ReportMetric(ms(d50), "daemon-ms")
	b.ReportMetric(ms(l50), "live-ms")
	b.ReportMetric(ms(m50), "git-merge-ms")
	b.ReportMetric(float64(m50)/float64(c50), "merge/cold")
	b.ReportMetric(float64(m50)/float64(d50), "merge/daemon")
	b.ReportMetric(float64(m50)/float64(l50), "merge/live")
	b.Logf("%d files, %d sessions (one pair colliding), median of %d: preview cold %v, first in the daemon (predictions shared with the tracker) %v, live after one session changed %v; "+
		"git merge one by one in a scratch worktree %v = %.1f× cold, %.1f× daemon, %.1f× live (plus %v to check the worktree out)",
		nfiles, sessions, rounds, c50, d50, l50, m50, float64(m50)/float64(c50), float64(m50)/float64(d50), float64(m50)/float64(l50), w50)
}
