package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrFullSnapshot reports that a worktree cannot be snapshotted
// incrementally this time (its HEAD moved, ignore rules changed, or its
// configuration is one the incremental path does not model): take a full
// snapshot, TakeSnapshot with paths == nil on a fresh private index. The
// error wraps it with the reason.
var ErrFullSnapshot = errors.New("needs a full snapshot")

// Snapshotter takes snapshots of a repository's worktrees without an index.
// Given a worktree's previous snapshot and the paths changed since (from the
// watcher), it hashes what changed and rewrites only the trees above it, so
// the cost follows the change, not the size of the repository: no index is
// read or written and no other file is looked at.
//
// The tree is the one `git add -A` and `git write-tree` give on a copy of the
// worktree's index: untracked files are in, ignored ones are out unless
// tracked, empty directories vanish, modes are 100644, 100755, 120000 (the
// link's text as a blob) or 160000 (a nested repository's HEAD, never its
// files). "Tracked" is read from the previous snapshot and HEAD's tree: a
// path the snapshot holds was tracked or not ignored, and with the ignore
// rules unchanged it still is; an ignored path it does not hold is tracked
// if HEAD has it (a tracked file deleted, then back). So what it cannot see
// is what changes only the index (`git add -f` of an ignored file, `git rm
// --cached` of one) or the ignore rules outside the
// worktree (info/exclude, core.excludesFile); when HEAD moves or a
// .gitignore or .gitattributes changes it returns ErrFullSnapshot.
//
// Blobs are written by `git hash-object -w --stdin-paths`, so clean filters
// and line-ending conversion apply as for `git add`: one long-lived process
// per worktree, stopped by Forget and after a minute unused. Trees and the
// commit are built in process and written as loose objects (`git gc --auto`
// packs them eventually); trees are read through one long-lived `git
// cat-file --batch`, stopped after a minute unused too, and cached.
//
// A Snapshotter is safe for concurrent use; Updates run one at a time.
type Snapshotter struct {
	g       *Git
	dir     string // a worktree of the repository, for cat-file
	objects looseStore
	ctx     context.Context // bounds the long-lived processes
	cancel  context.CancelFunc
	// wg counts the runs of reaper's func, for Close to wait.
	wg sync.WaitGroup

	// mu serializes Updates and guards the fields below. It is held while
	// git runs: the cat-file pipe and the caches are the resource, as with
	// Predictor.catMu.
	mu      sync.Mutex
	cat     *batchProc
	trees   map[oid][]treeEntry // tree id → entries, read or written
	entries int                 // in trees, to bound its memory
	wts     map[string]string   // worktree → why it needs full snapshots ("" if it does not)
	hashers map[string]*hasher  // worktree → its hash-object
	idle    time.Duration       // after which an unused hasher stops
	reaper  *time.Timer         // stops idle hashers and cat-file
	armed   bool                // reaper is set to fire
	closed  bool

	// Alternatives measured by the benchmarks; production leaves them nil.
	// hashFiles replaces hash-object; build replaces the in-process trees and
	// commit.
	hashFiles func(ctx context.Context, dir string, paths []string) ([]oid, error)
	build     func(ctx context.Context, dir string, base oid, head string, edits []treeEdit) (tree, commit oid, err error)
	// write replaces the loose-object writer for trees, symlink blobs and
	// the commit.
	write func(ctx context.Context, typ string, data []byte) (oid, error)
}

// NewSnapshotter returns a Snapshotter for repo. Its process starts on first
// use and lives until Close.
func NewSnapshotter(repo *Repo) *Snapshotter {
	ctx, cancel := context.WithCancel(context.Background())
	return &Snapshotter{
		g: repo.Git, dir: repo.Root, objects: looseStore{filepath.Join(repo.CommonDir, "objects")},
		ctx: ctx, cancel: cancel,
		trees: map[oid][]treeEntry{}, wts: map[string]string{}, hashers: map[string]*hasher{}, idle: hasherIdle,
	}
}

// Close stops the Snapshotter's processes and waits for them.
func (s *Snapshotter) Close() error {
	s.cancel()
	s.mu.Lock()
	s.closed = true
	if s.armed && s.reaper.Stop() {
		s.armed = false
		s.wg.Done()
	}
	if s.cat != nil {
		s.cat.close()
		s.cat = nil
	}
	for dir := range s.hashers {
		s.dropHasher(dir)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// treeCacheMax bounds the entries in the tree cache (a few MB); past it the
// cache starts over. Each snapshot adds the trees above its changes, the
// root's included, and reads those again next time.
const treeCacheMax = 50000

// treeEdit is one change to a tree, as fast-import's M and D: set path to an
// entry, or delete it with everything below.
type treeEdit struct {
	path string
	del  bool
	mode uint32
	id   oid
}

// Update returns the snapshot of the worktree at dir, given prev, an earlier
// snapshot of it, and the paths changed since (relative to dir,
// slash-separated; files or directories, existing or not). It returns an
// error wrapping ErrFullSnapshot when only a full snapshot will do.
func (s *Snapshotter) Update(ctx context.Context, dir string, prev Snapshot, changed []string) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if why, err := s.unsupported(ctx, dir); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	} else if why != "" {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w: %s", dir, ErrFullSnapshot, why)
	}
	head, err := s.head(ctx, dir)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if head != prev.Head {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w: HEAD moved", dir, ErrFullSnapshot)
	}
	base, err := parseOID(prev.Tree)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: previous snapshot: %w", dir, err)
	}
	u := &update{s: s, ctx: ctx, dir: dir, base: base, head: head, listings: map[string][]treeEntry{}, stats: map[string]statResult{}}
	roots, err := u.roots(changed)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if len(roots) == 0 {
		return prev, nil
	}
	if err := u.collect(roots); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := u.hash(); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	build := s.build
	if build == nil {
		build = s.buildInProcess
	}
	tree, commit, err := build(ctx, dir, base, head, u.edits)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return Snapshot{Commit: commit.String(), Tree: tree.String(), Head: head}, nil
}

// Forget drops what the Snapshotter keeps for the worktree at dir: what it
// read of its configuration, and its hash-object (which read it too). Call it
// when done with a worktree, and after taking a full snapshot of it, so that
// configuration changes are seen.
func (s *Snapshotter) Forget(dir string) {
	s.mu.Lock()
	delete(s.wts, dir)
	s.dropHasher(dir)
	s.mu.Unlock()
}

// unsupported says why dir's configuration needs full snapshots, or "".
// Caller holds mu.
func (s *Snapshotter) unsupported(ctx context.Context, dir string) (string, error) {
	if why, ok := s.wts[dir]; ok {
		return why, nil
	}
	out, err := s.g.Run(ctx, dir, "config", "-z", "--list")
	if err != nil && ExitCode(err) != 1 {
		return "", fmt.Errorf("read config: %w", err)
	}
	why := unsupportedConfig(out)
	for _, kv := range slices.Concat(os.Environ(), s.g.Env) {
		if strings.HasPrefix(kv, "GIT_OBJECT_DIRECTORY=") || strings.HasPrefix(kv, "GIT_DIR=") || strings.HasPrefix(kv, "GIT_WORK_TREE=") {
			why = "GIT_OBJECT_DIRECTORY, GIT_DIR or GIT_WORK_TREE is set"
		}
	}
	s.wts[dir] = why
	return why, nil
}

// unsupportedConfig reads `git config -z --list` output and says which
// setting makes `git add` behave otherwise than the incremental path
// models, or "".
func unsupportedConfig(out []byte) string {
	for _, rec := range strings.Split(string(out), "\x00") {
		key, val, hasVal := strings.Cut(rec, "\n")
		key = strings.ToLower(key)
		on := func() bool {
			if !hasVal {
				return true
			}
			switch strings.ToLower(val) {
			case "true", "yes", "on":
				return true
			case "false", "no", "off", "":
				return false
			}
			n, err := strconv.Atoi(val)
			return err != nil || n != 0
		}
		switch {
		case key == "core.filemode" && !on(),
			key == "core.symlinks" && !on(),
			key == "core.ignorecase" && on(),
			key == "core.precomposeunicode" && on(),
			key == "core.sparsecheckout" && on(),
			key == "index.sparse" && on():
			return key + "=" + val
		case key == "core.sharedrepository" && !slices.Contains([]string{"", "false", "umask", "0", "no", "off"}, strings.ToLower(val)):
			return key + "=" + val
		case key == "extensions.objectformat" && strings.ToLower(val) != "sha1":
			return key + "=" + val
		}
	}
	return ""
}

// head returns dir's HEAD commit, from its files when it can.
func (s *Snapshotter) head(ctx context.Context, dir string) (string, error) {
	if h, ok := readHead(dir); ok {
		return h, nil
	}
	out, err := s.g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", err
	}
	return trim(out), nil
}

// readHead resolves a worktree's HEAD by reading its files; ok is false
// when it takes more than that (a symbolic ref to a symbolic ref, an unborn
// branch, anything unexpected), for rev-parse to answer.
func readHead(dir string) (string, bool) {
	gitdir := filepath.Join(dir, ".git")
	fi, err := os.Lstat(gitdir)
	if err != nil {
		return "", false
	}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(gitdir)
		p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
		if err != nil || !ok {
			return "", false
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		gitdir = p
	}
	b, err := os.ReadFile(filepath.Join(gitdir, "HEAD"))
	if err != nil {
		return "", false
	}
	h := strings.TrimSpace(string(b))
	ref, ok := strings.CutPrefix(h, "ref: ")
	if !ok {
		return h, len(h) == 40 && isOID(h)
	}
	if !strings.HasPrefix(ref, "refs/") || strings.Contains(ref, "..") {
		return "", false
	}
	common := gitdir
	if b, err := os.ReadFile(filepath.Join(gitdir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitdir, c)
		}
		common = c
	}
	refdir := common
	for _, p := range []string{"refs/bisect/", "refs/worktree/", "refs/rewritten/"} {
		if strings.HasPrefix(ref, p) {
			refdir = gitdir
		}
	}
	if b, err := os.ReadFile(filepath.Join(refdir, filepath.FromSlash(ref))); err == nil {
		v := strings.TrimSpace(string(b))
		return v, len(v) == 40 && isOID(v)
	}
	f, err := os.Open(filepath.Join(common, "packed-refs"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref && len(id) == 40 && isOID(id) {
			return id, true
		}
	}
	return "", false
}

// tree returns the entries of tree id. Caller holds mu.
func (s *Snapshotter) tree(ctx context.Context, id oid) ([]treeEntry, error) {
	if list, ok := s.trees[id]; ok {
		return list, nil
	}
	_, list, err := s.readTree(ctx, id.String())
	return list, err
}

// readTree reads the tree that name (an object name cat-file takes, such as
// "<commit>^{tree}") names. Caller holds mu.
func (s *Snapshotter) readTree(ctx context.Context, name string) (oid, []treeEntry, error) {
	if s.cat != nil && s.cat.dead {
		s.cat.close()
		s.cat = nil
	}
	if s.cat == nil {
		b, err := startBatch(s.ctx, s.g, s.dir, "cat-file", "--batch")
		if err != nil {
			return oid{}, nil, fmt.Errorf("start cat-file: %w", err)
		}
		s.cat = b
		s.arm()
	}
	var data []byte
	var id oid
	b := s.cat
	b.used = time.Now()
	err := b.exchange(ctx, func() error {
		if _, err := fmt.Fprintf(b.in, "%s\n", name); err != nil {
			return err
		}
		line, err := b.out.ReadString('\n')
		if err != nil {
			return err
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "tree" {
			return fmt.Errorf("read tree %s: got %q", name, strings.TrimSpace(line))
		}
		if id, err = parseOID(f[0]); err != nil {
			return fmt.Errorf("read tree %s: got %q", name, strings.TrimSpace(line))
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("read tree %s: got %q", name, strings.TrimSpace(line))
		}
		data = make([]byte, n+1)
		_, err = io.ReadFull(b.out, data)
		return err
	})
	if err != nil {
		return oid{}, nil, err
	}
	list, err := parseTree(data[:len(data)-1])
	if err != nil {
		return oid{}, nil, fmt.Errorf("read tree %s: %w", name, err)
	}
	s.remember(id, list)
	return id, list, nil
}

// remember caches a tree. Caller holds mu.
func (s *Snapshotter) remember(id oid, list []treeEntry) {
	if _, ok := s.trees[id]; ok {
		return
	}
	if s.entries+len(list) > treeCacheMax {
		clear(s.trees)
		s.entries = 0
	}
	s.trees[id] = list
	s.entries += len(list)
}

// writeObject stores an object, loose unless a benchmark says otherwise.
func (s *Snapshotter) writeObject(ctx context.Context, typ string, data []byte) (oid, error) {
	if s.write != nil {
		return s.write(ctx, typ, data)
	}
	return s.objects.write(typ, data)
}

// snapshotMessage and snapshotSig make snapshot commits byte for byte the
// ones `git commit-tree` writes with snapshotIdentity.
const (
	snapshotMessage = "studiod snapshot"
	snapshotSig     = "studiod <studiod@localhost> 1700000000 +0000"
)

// commitObject is a snapshot commit's content.
func commitObject(tree oid, head string) []byte {
	return fmt.Appendf(nil, "tree %s\nparent %s\nauthor %s\ncommitter %s\n\n%s\n", tree, head, snapshotSig, snapshotSig, snapshotMessage)
}

// buildInProcess applies edits to the tree base and commits the result on
// head, writing the new trees and the commit as loose objects.
func (s *Snapshotter) buildInProcess(ctx context.Context, dir string, base oid, head string, edits []treeEdit) (tree, commit oid, err error) {
	root := &editNode{}
	for _, e := range edits {
		root.add(e)
	}
	top, err := s.apply(ctx, root, &treeEntry{mode: modeTree, id: base})
	if err != nil {
		return tree, commit, err
	}
	if top == nil {
		// Everything is gone: the empty tree, as write-tree gives.
		if tree, err = s.writeObject(ctx, "tree", nil); err != nil {
			return tree, commit, err
		}
	} else {
		tree = top.id
	}
	commit, err = s.writeObject(ctx, "commit", commitObject(tree, head))
	return tree, commit, err
}

// editNode is the edits below one path, as a tree of names.
type editNode struct {
	// replace starts from nothing instead of the base's content.
	replace bool
	// set, if not nil, is what the path becomes (not a tree).
	set  *treeEntry
	kids map[string]*editNode
}

func (n *editNode) add(e treeEdit) {
	parts := strings.Split(e.path, "/")
	for i, name := range parts {
		if n.kids == nil {
			n.kids = map[string]*editNode{}
		}
		if i == len(parts)-1 {
			if e.del {
				n.kids[name] = &editNode{replace: true}
			} else {
				n.kids[name] = &editNode{set: &treeEntry{name: name, mode: e.mode, id: e.id}}
			}
			return
		}
		k := n.kids[name]
		if k == nil {
			k = &editNode{}
			n.kids[name] = k
		}
		if k.set != nil {
			// What was set to a file becomes a directory.
			k.set, k.replace = nil, true
		}
		n = k
	}
}

// apply returns what base becomes under n's edits: nil when nothing is left.
// Caller holds mu.
func (s *Snapshotter) apply(ctx context.Context, n *editNode, base *treeEntry) (*treeEntry, error) {
	if n.set != nil {
		return n.set, nil
	}
	var entries []treeEntry
	if !n.replace && base != nil && base.isTree() {
		list, err := s.tree(ctx, base.id)
		if err != nil {
			return nil, err
		}
		entries = slices.Clone(list)
	}
	for name, kid := range n.kids {
		i := slices.IndexFunc(entries, func(e treeEntry) bool { return e.name == name })
		var b *treeEntry
		if i >= 0 {
			b = &entries[i]
		}
		r, err := s.apply(ctx, kid, b)
		if err != nil {
			return nil, err
		}
		switch {
		case r == nil && i >= 0:
			entries = slices.Delete(entries, i, i+1)
		case r == nil:
		case i >= 0:
			entries[i] = treeEntry{name: name, mode: r.mode, id: r.id}
		default:
			entries = append(entries, treeEntry{name: name, mode: r.mode, id: r.id})
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	data := encodeTree(entries)
	id, err := s.writeObject(ctx, "tree", data)
	if err != nil {
		return nil, err
	}
	s.remember(id, entries)
	return &treeEntry{mode: modeTree, id: id}, nil
}

// hasherIdle is how long a worktree's hash-object waits unused before it is
// stopped.
const hasherIdle = procIdle

// hasher is a worktree's long-lived `git hash-object -w --stdin-paths`: it
// answers each path as it comes (git flushes after each one into a pipe).
type hasher struct {
	p    *batchProc
	used time.Time
}

// hashObjects writes the blobs of files (relative to dir) with the
// worktree's hash-object, which applies the worktree's attributes. If that
// fails (a file vanished: git stops there) it stops the process and hashes
// once more with a process of its own, whose error the caller gets. Caller
// holds mu.
func (s *Snapshotter) hashObjects(ctx context.Context, dir string, paths []string) ([]oid, error) {
	h := s.hashers[dir]
	if h == nil && !s.closed {
		p, err := startBatch(s.ctx, s.g, dir, "hash-object", "-w", "--stdin-paths")
		if err != nil {
			return nil, fmt.Errorf("start hash-object: %w", err)
		}
		h = &hasher{p: p}
		s.hashers[dir] = h
		s.arm()
	}
	if h != nil {
		h.used = time.Now()
		ids := make([]oid, len(paths))
		err := h.p.exchange(ctx, func() error {
			for i, p := range paths {
				if _, err := fmt.Fprintf(h.p.in, "%s\n", quotePath(p)); err != nil {
					return err
				}
				line, err := h.p.out.ReadString('\n')
				if err != nil {
					return err
				}
				if ids[i], err = parseOID(strings.TrimSpace(line)); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return ids, nil
		}
		s.dropHasher(dir)
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return s.hashOnce(ctx, dir, paths)
}

// dropHasher stops dir's hash-object. Caller holds mu.
func (s *Snapshotter) dropHasher(dir string) {
	if h := s.hashers[dir]; h != nil {
		h.p.close()
		delete(s.hashers, dir)
	}
}

// arm sets the reaper to stop idle hashers. Caller holds mu.
func (s *Snapshotter) arm() {
	if s.armed || s.closed {
		return
	}
	s.armed = true
	s.wg.Add(1)
	if s.reaper == nil {
		s.reaper = time.AfterFunc(s.idle, s.reap)
	} else {
		s.reaper.Reset(s.idle)
	}
}

// reap stops the hashers and the cat-file unused for s.idle.
func (s *Snapshotter) reap() {
	defer s.wg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	if s.closed {
		return
	}
	for dir, h := range s.hashers {
		if time.Since(h.used) >= s.idle {
			s.dropHasher(dir)
		}
	}
	if s.cat != nil && time.Since(s.cat.used) >= s.idle {
		s.cat.close()
		s.cat = nil
	}
	if len(s.hashers) > 0 || s.cat != nil {
		s.arm()
	}
}

// hashOnce writes the blobs of files (relative to dir) with a `git
// hash-object -w --stdin-paths` of their own.
func (s *Snapshotter) hashOnce(ctx context.Context, dir string, paths []string) ([]oid, error) {
	var in strings.Builder
	for _, p := range paths {
		in.WriteString(quotePath(p))
		in.WriteByte('\n')
	}
	out, err := s.g.RunCmd(ctx, Cmd{Dir: dir, Stdin: strings.NewReader(in.String())}, "hash-object", "-w", "--stdin-paths")
	if err != nil {
		return nil, fmt.Errorf("hash files: %w", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(paths) {
		return nil, fmt.Errorf("hash files: %d ids for %d files", len(lines), len(paths))
	}
	ids := make([]oid, len(lines))
	for i, l := range lines {
		if ids[i], err = parseOID(l); err != nil {
			return nil, fmt.Errorf("hash files: %w", err)
		}
	}
	return ids, nil
}

// quotePath quotes p for git's line-oriented input the way git quotes
// paths (C style), when it has to: a line starting with a double quote is
// unquoted by git, and line ends cannot appear raw.
func quotePath(p string) string {
	if !strings.ContainsAny(p, "\n\r\"\\") && !strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return p
	}
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
