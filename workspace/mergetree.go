package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/vocab"
)

// ErrNoMergeBase reports two commits with no common history.
var ErrNoMergeBase = errors.New("no merge base")

// Pair is two commits whose merge is predicted.
type Pair struct {
	A, B string
	// Base is the merge base of A and B when the caller knows it (for
	// snapshot commits it is the merge base of their parents, which stays
	// the same while only uncommitted work changes). Empty means: compute it.
	Base string
}

// Prediction is the outcome of merging one Pair, without touching any
// worktree, index or ref.
type Prediction struct {
	Pair
	// TreeA and TreeB are the trees of A and B.
	TreeA, TreeB string
	// Clean reports a merge without conflicts.
	Clean bool
	// Tree is the merged tree, conflict markers included.
	Tree string
	// Conflicts lists the conflicted paths of the merged tree, sorted.
	Conflicts []PathConflict
	// Err is set for this pair alone: ErrBadRef (A or B does not name a
	// commit) or ErrNoMergeBase. The other fields are then empty.
	Err error
}

// PathConflict is one conflicted path of a merge, as merge-tree names it.
type PathConflict struct {
	Path string
	Kind string // one of the Kind constants
	// Types are merge-tree's conflict type strings for the path, such as
	// "CONFLICT (contents)".
	Types []string
}

// Conflict kinds, the vocabulary's.
const (
	KindContent      = string(vocab.KindContent)
	KindModifyDelete = string(vocab.KindModifyDelete)
	KindAddAdd       = string(vocab.KindAddAdd)
	KindRename       = string(vocab.KindRename)
	KindBinary       = string(vocab.KindBinary)
	KindMode         = string(vocab.KindMode)
	KindOverlap      = string(vocab.KindOverlap) // both sides change the file; it merges cleanly
)

// kindRank orders kinds when merge-tree reports several for one path: the
// most specific wins.
var kindRank = map[string]int{KindContent: 1, KindMode: 2, KindAddAdd: 3, KindRename: 4, KindModifyDelete: 5, KindBinary: 6}

// kindOf maps merge-tree's stable conflict type strings to a kind; "" means
// informational (not a conflict).
func kindOf(typ string) string {
	t, ok := strings.CutPrefix(typ, "CONFLICT (")
	if !ok {
		return ""
	}
	t = strings.TrimSuffix(t, ")")
	switch {
	case t == "binary":
		return KindBinary
	case t == "modify/delete":
		return KindModifyDelete
	case t == "add/add", t == "file/directory":
		return KindAddAdd
	case t == "distinct modes":
		return KindMode
	case strings.Contains(t, "rename"):
		return KindRename
	default:
		return KindContent
	}
}

// Change is one path changed between a base and a commit (`git diff-tree
// -r -M --raw`).
type Change struct {
	// Status is A, D, M, T, R or C.
	Status byte
	// Path is the path in the commit; for deletions, the path in the base.
	Path string
	// OldPath is the path in the base: Path unless renamed or copied, ""
	// for additions.
	OldPath          string
	OldMode, NewMode string
	OldBlob, NewBlob string
}

// BasePath is the path the change starts from: OldPath, or Path for an
// addition.
func (c Change) BasePath() string {
	if c.OldPath != "" {
		return c.OldPath
	}
	return c.Path
}

// Predictor predicts merges in one repository. It keeps a long-lived `git
// cat-file --batch-command` process, and a long-lived `git merge-tree
// --stdin` process when git flushes its output after each merge (2.49 and
// newer; older versions buffer it until stdin closes, so there one
// merge-tree process serves each Predict call, all of its pairs batched).
// Dead processes are restarted on next use, and long-lived ones stop after
// a minute unused: a daemon serving many repositories keeps processes for
// those in use only. Results are cached by content:
// unchanged pairs cost nothing.
//
// A Predictor is safe for concurrent use.
type Predictor struct {
	g   *Git
	dir string
	// ctx bounds the long-lived processes; cancel ends them.
	ctx    context.Context
	cancel context.CancelFunc

	longLived bool // merge-tree --stdin flushes after each merge

	// catMu guards cat and serializes its requests: the pipe is the
	// resource, so it is held across one request/response exchange.
	catMu sync.Mutex
	cat   *batchProc
	// mtMu guards mt, like catMu.
	mtMu sync.Mutex
	mt   *batchProc

	// idle is how long a long-lived process may go unused; reaper stops
	// it then. reaperMu guards reaper and armed.
	idle     time.Duration
	reaperMu sync.Mutex
	reaper   *time.Timer
	armed    bool

	// mu guards the caches below. Never held while git runs.
	mu        sync.Mutex
	trees     map[string]string        // commit id → tree id
	bases     map[[2]string]string     // commit pair → merge base ("" = none)
	changes   map[[2]string][]Change   // base, tree → changes
	merges    map[[3]string]Prediction // base, treeA, treeB → merge
	hunks     map[[2]string]blobDiff   // old blob, new blob → hunks
	locations map[[3]string][]FileConflict
	stats     PredictorStats
}

// PredictorStats counts work done, for benchmarks and `studiod doctor`.
type PredictorStats struct {
	Merges     int // pairs merged by git
	CacheHits  int // pairs answered from the cache
	Diffs      int // blob diffs run
	ProcStarts int // long-lived or per-batch processes started
}

const cacheMax = 4096

// NewPredictor returns a Predictor for the repository containing dir. Its
// processes start on first use and live until Close.
func NewPredictor(ctx context.Context, g *Git, dir string) (*Predictor, error) {
	v, err := g.Version(ctx)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Predictor{
		g: g, dir: dir, ctx: pctx, cancel: cancel,
		longLived: versionAtLeast(v, [2]int{2, 49}),
		idle:      procIdle,
		trees:     map[string]string{},
		bases:     map[[2]string]string{},
		changes:   map[[2]string][]Change{},
		merges:    map[[3]string]Prediction{},
		hunks:     map[[2]string]blobDiff{},
		locations: map[[3]string][]FileConflict{},
	}, nil
}

// Close stops the predictor's processes.
func (p *Predictor) Close() error {
	p.cancel()
	p.reaperMu.Lock()
	if p.reaper != nil {
		p.reaper.Stop()
	}
	p.reaperMu.Unlock()
	p.catMu.Lock()
	if p.cat != nil {
		p.cat.close()
		p.cat = nil
	}
	p.catMu.Unlock()
	p.mtMu.Lock()
	if p.mt != nil {
		p.mt.close()
		p.mt = nil
	}
	p.mtMu.Unlock()
	return nil
}

// Stats returns counters of the work done so far.
func (p *Predictor) Stats() PredictorStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// batchProc is a git process spoken to over stdin/stdout.
type batchProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *lockedBuffer
	dead   bool
	used   time.Time // last exchange begun, for the reaper; guarded as the process is
}

func (p *Predictor) start(ctx context.Context, args ...string) (*batchProc, error) {
	b, err := startBatch(ctx, p.g, p.dir, args...)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.stats.ProcStarts++
	p.mu.Unlock()
	return b, nil
}

// startBatch starts a long-lived git process in dir, living until ctx ends.
func startBatch(ctx context.Context, g *Git, dir string, args ...string) (*batchProc, error) {
	cmd := g.Command(ctx, Cmd{Dir: dir}, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, g.wrap(dir, args, err, "")
	}
	return &batchProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: &stderr}, nil
}

// lockedBuffer is a bytes.Buffer safe to read while exec's goroutine copies
// a process's stderr into it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *batchProc) close() error {
	b.in.Close()
	if b.dead && b.cmd.Process != nil {
		b.cmd.Process.Kill()
	}
	return b.cmd.Wait()
}

// exchange runs f against the process, killing it if ctx ends first so that
// f's blocked read returns. A failed exchange leaves the process dead.
func (b *batchProc) exchange(ctx context.Context, f func() error) error {
	stop := context.AfterFunc(ctx, func() { b.cmd.Process.Kill() })
	err := f()
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		b.dead = true
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s := strings.TrimSpace(b.stderr.String()); s != "" {
			err = fmt.Errorf("%w: %s", err, s)
		}
	}
	return err
}

// procIdle is how long a long-lived git process waits unused before it is
// stopped.
const procIdle = time.Minute

// arm sets the reaper to stop the long-lived processes once idle.
func (p *Predictor) arm() {
	p.reaperMu.Lock()
	defer p.reaperMu.Unlock()
	if p.armed || p.ctx.Err() != nil {
		return
	}
	p.armed = true
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idle, p.reap)
	} else {
		p.reaper.Reset(p.idle)
	}
}

// reap stops the long-lived processes unused for p.idle, and comes back
// for those still in use.
func (p *Predictor) reap() {
	p.reaperMu.Lock()
	p.armed = false
	p.reaperMu.Unlock()
	left := false
	for _, x := range []struct {
		mu *sync.Mutex
		b  **batchProc
	}{{&p.catMu, &p.cat}, {&p.mtMu, &p.mt}} {
		x.mu.Lock()
		if b := *x.b; b != nil {
			if time.Since(b.used) >= p.idle {
				b.close()
				*x.b = nil
			} else {
				left = true
			}
		}
		x.mu.Unlock()
	}
	if left {
		p.arm()
	}
}

// catFile runs one cat-file --batch-command exchange.
func (p *Predictor) catFile(ctx context.Context, f func(b *batchProc) error) error {
	p.catMu.Lock()
	defer p.catMu.Unlock()
	if p.cat != nil && p.cat.dead {
		p.cat.close()
		p.cat = nil
	}
	if p.cat == nil {
		b, err := p.start(p.ctx, "cat-file", "--batch-command")
		if err != nil {
			return fmt.Errorf("start cat-file: %w", err)
		}
		p.cat = b
		p.arm()
	}
	b := p.cat
	b.used = time.Now()
	return b.exchange(ctx, func() error { return f(b) })
}

// objectInfo resolves rev with cat-file; ok is false when it names nothing.
func (p *Predictor) objectInfo(ctx context.Context, rev string) (oid, typ string, ok bool, err error) {
	err = p.catFile(ctx, func(b *batchProc) error {
		if _, err := fmt.Fprintf(b.in, "info %s\n", rev); err != nil {
			return err
		}
		line, err := b.out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("cat-file info %s: %w", rev, err)
		}
		f := strings.Fields(line)
		if len(f) == 3 {
			oid, typ, ok = f[0], f[1], true
		}
		return nil
	})
	return
}

// blob returns an object's content.
func (p *Predictor) blob(ctx context.Context, oid string) ([]byte, error) {
	var data []byte
	err := p.catFile(ctx, func(b *batchProc) error {
		if _, err := fmt.Fprintf(b.in, "contents %s\n", oid); err != nil {
			return err
		}
		line, err := b.out.ReadString('\n')
		if err != nil {
			return fmt.Errorf("cat-file contents %s: %w", oid, err)
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil // missing: treated as empty
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("cat-file contents %s: bad header %q", oid, line)
		}
		data = make([]byte, n+1) // content and a newline
		if _, err := io.ReadFull(b.out, data); err != nil {
			return fmt.Errorf("cat-file contents %s: %w", oid, err)
		}
		data = data[:n]
		return nil
	})
	return data, err
}

// Tree returns the tree of the commit rev, or ErrBadRef.
func (p *Predictor) Tree(ctx context.Context, rev string) (string, error) {
	p.mu.Lock()
	t, ok := p.trees[rev]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, " \t\r\n\x00") {
		return "", fmt.Errorf("%w: %q", ErrBadRef, rev)
	}
	// Peel to a commit first, so that a tree id is not taken for a commit.
	if _, typ, ok, err := p.objectInfo(ctx, rev+"^{commit}"); err != nil {
		return "", err
	} else if !ok || typ != "commit" {
		return "", fmt.Errorf("%w: %q is not a commit", ErrBadRef, rev)
	}
	t, _, ok, err := p.objectInfo(ctx, rev+"^{tree}")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %q has no tree", ErrBadRef, rev)
	}
	if isOID(rev) {
		p.mu.Lock()
		if len(p.trees) > cacheMax {
			clear(p.trees)
		}
		p.trees[rev] = t
		p.mu.Unlock()
	}
	return t, nil
}

func isOID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MergeBase returns the best common ancestor of commits a and b, or
// ErrNoMergeBase. Results for commit ids are cached.
func (p *Predictor) MergeBase(ctx context.Context, a, b string) (string, error) {
	key := [2]string{a, b}
	if b < a {
		key = [2]string{b, a}
	}
	p.mu.Lock()
	base, ok := p.bases[key]
	p.mu.Unlock()
	if !ok {
		if err := ValidateRefArg(a); err != nil {
			return "", err
		}
		if err := ValidateRefArg(b); err != nil {
			return "", err
		}
		out, err := p.g.Run(ctx, p.dir, "merge-base", "--end-of-options", a, b)
		switch {
		case err == nil:
			base = trim(out)
		case ExitCode(err) == 1 && len(out) == 0:
			base = ""
		default:
			return "", fmt.Errorf("merge-base %s %s: %w", a, b, err)
		}
		if isOID(a) && isOID(b) {
			p.mu.Lock()
			if len(p.bases) > cacheMax {
				clear(p.bases)
			}
			p.bases[key] = base
			p.mu.Unlock()
		}
	}
	if base == "" {
		return "", fmt.Errorf("%w: %s and %s", ErrNoMergeBase, a, b)
	}
	return base, nil
}

// ChangedPaths lists what changed from base to commit (any tree-ish), with
// renames detected, sorted by path. It costs one git process the first time
// for a (base, tree) pair and nothing after.
func (p *Predictor) ChangedPaths(ctx context.Context, base, commit string) ([]Change, error) {
	tree, err := p.Tree(ctx, commit)
	if err != nil {
		return nil, err
	}
	key := [2]string{base, tree}
	p.mu.Lock()
	ch, ok := p.changes[key]
	p.mu.Unlock()
	if ok {
		return ch, nil
	}
	if err := ValidateRefArg(base); err != nil {
		return nil, err
	}
	out, err := p.g.Run(ctx, p.dir, "diff-tree", "-r", "-z", "-M", "--raw", "--no-abbrev", "--end-of-options", base, tree)
	if err != nil {
		return nil, fmt.Errorf("changed paths %s..%s: %w", base, commit, err)
	}
	ch, err = parseRaw(out)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if len(p.changes) > cacheMax {
		clear(p.changes)
	}
	p.changes[key] = ch
	p.mu.Unlock()
	return ch, nil
}

// parseRaw parses `diff-tree -r -z --raw` output.
func parseRaw(out []byte) ([]Change, error) {
	var list []Change
	f := strings.Split(string(out), "\x00")
	for i := 0; i < len(f); i++ {
		meta := f[i]
		if meta == "" {
			continue
		}
		if !strings.HasPrefix(meta, ":") {
			return nil, fmt.Errorf("diff-tree: unexpected %q", meta)
		}
		m := strings.Fields(meta[1:])
		if len(m) != 5 || i+1 >= len(f) {
			return nil, fmt.Errorf("diff-tree: unexpected %q", meta)
		}
		c := Change{Status: m[4][0], OldMode: m[0], NewMode: m[1], OldBlob: m[2], NewBlob: m[3]}
		i++
		c.Path = f[i]
		switch c.Status {
		case 'R', 'C':
			if i+1 >= len(f) {
				return nil, fmt.Errorf("diff-tree: rename without target")
			}
			i++
			c.OldPath, c.Path = c.Path, f[i]
		case 'A':
		default:
			c.OldPath = c.Path
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return list, nil
}

// Predict merges each pair with `git merge-tree --write-tree` and reports
// which paths conflict. A bad ref or unrelated histories fail that pair
// alone (Prediction.Err); other errors fail the call.
func (p *Predictor) Predict(ctx context.Context, pairs []Pair) ([]Prediction, error) {
	out := make([]Prediction, len(pairs))
	var todo []int
	for i, pr := range pairs {
		out[i].Pair = pr
		ta, err := p.Tree(ctx, pr.A)
		if err == nil {
			out[i].TreeA = ta
			out[i].TreeB, err = p.Tree(ctx, pr.B)
		}
		if err == nil && pr.Base == "" {
			out[i].Base, err = p.MergeBase(ctx, pr.A, pr.B)
		}
		if errors.Is(err, ErrBadRef) || errors.Is(err, ErrNoMergeBase) {
			out[i] = Prediction{Pair: pr, Err: err}
			continue
		}
		if err != nil {
			return nil, err
		}
		key := [3]string{out[i].Base, out[i].TreeA, out[i].TreeB}
		p.mu.Lock()
		m, ok := p.merges[key]
		if ok {
			p.stats.CacheHits++
		}
		p.mu.Unlock()
		if ok {
			m.Pair = out[i].Pair
			out[i] = m
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	var in bytes.Buffer
	for _, i := range todo {
		fmt.Fprintf(&in, "%s %s\n", out[i].A, out[i].B)
	}
	results, err := p.mergeTree(ctx, in.Bytes(), len(todo))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Merges += len(todo)
	if len(p.merges) > cacheMax {
		clear(p.merges)
	}
	for k, i := range todo {
		r := results[k]
		out[i].Clean, out[i].Tree, out[i].Conflicts = r.Clean, r.Tree, r.Conflicts
		m := out[i]
		m.Pair = Pair{}
		p.merges[[3]string{out[i].Base, out[i].TreeA, out[i].TreeB}] = m
	}
	return out, nil
}

// mergeTree feeds input ("A B" lines) to merge-tree --stdin and reads n
// results.
func (p *Predictor) mergeTree(ctx context.Context, input []byte, n int) ([]Prediction, error) {
	args := []string{"merge-tree", "--write-tree", "--stdin", "-z"}
	p.mtMu.Lock()
	defer p.mtMu.Unlock()
	if !p.longLived {
		b, err := p.start(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("start merge-tree: %w", err)
		}
		var results []Prediction
		err = b.exchange(ctx, func() error {
			go func() {
				b.in.Write(input)
				b.in.Close()
			}()
			var err error
			results, err = readMerges(b.out, n)
			return err
		})
		if werr := b.close(); err == nil && werr != nil {
			err = p.g.wrap(b.cmd.Dir, args, werr, b.stderr.String())
		}
		if err != nil {
			return nil, fmt.Errorf("merge-tree: %w", err)
		}
		return results, nil
	}
	if p.mt != nil && p.mt.dead {
		p.mt.close()
		p.mt = nil
	}
	if p.mt == nil {
		b, err := p.start(p.ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("start merge-tree: %w", err)
		}
		p.mt = b
		p.arm()
	}
	b := p.mt
	b.used = time.Now()
	var results []Prediction
	err := b.exchange(ctx, func() error {
		errc := make(chan error, 1)
		go func() {
			_, err := b.in.Write(input)
			errc <- err
		}()
		var err error
		results, err = readMerges(b.out, n)
		if werr := <-errc; err == nil {
			err = werr
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("merge-tree: %w", err)
	}
	return results, nil
}

// readMerges parses n results of `merge-tree --write-tree --stdin -z`:
//
//	<clean>NUL<tree>NUL[<mode> <oid> <stage>TAB<path>NUL...]NUL
//	[<n>NUL<path>NUL...<type>NUL<message>NUL...]NUL
//
// where the conflicted-file and message sections appear only for conflicts.
func readMerges(r *bufio.Reader, n int) ([]Prediction, error) {
	tok := func() (string, error) {
		s, err := r.ReadString(0)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		return s[:len(s)-1], nil
	}
	results := make([]Prediction, 0, n)
	for range n {
		status, err := tok()
		if err != nil {
			return nil, err
		}
		tree, err := tok()
		if err != nil {
			return nil, err
		}
		var res Prediction
		res.Tree = tree
		switch status {
		case "1":
			res.Clean = true
			if _, err := tok(); err != nil { // end of the result
				return nil, err
			}
			results = append(results, res)
			continue
		case "0":
		default:
			return nil, fmt.Errorf("unexpected merge status %q", status)
		}
		paths := map[string]*PathConflict{}
		stages := map[string]int{} // path → bit set of stages 1..3
		for {
			e, err := tok()
			if err != nil {
				return nil, err
			}
			if e == "" {
				break
			}
			meta, path, ok := strings.Cut(e, "\t")
			if f := strings.Fields(meta); len(f) == 3 && len(f[2]) == 1 {
				stages[path] |= 1 << (f[2][0] - '0')
			}
			if !ok {
				return nil, fmt.Errorf("unexpected conflicted file entry %q", e)
			}
			if paths[path] == nil {
				paths[path] = &PathConflict{Path: path}
			}
		}
		for {
			cnt, err := tok()
			if err != nil {
				return nil, err
			}
			if cnt == "" {
				break
			}
			k, err := strconv.Atoi(cnt)
			if err != nil {
				return nil, fmt.Errorf("unexpected message path count %q", cnt)
			}
			var mpaths []string
			for range k {
				s, err := tok()
				if err != nil {
					return nil, err
				}
				mpaths = append(mpaths, s)
			}
			typ, err := tok()
			if err != nil {
				return nil, err
			}
			if _, err := tok(); err != nil { // the message text
				return nil, err
			}
			kind := kindOf(typ)
			if kind == "" {
				continue
			}
			for _, mp := range mpaths {
				pc := paths[mp]
				if pc == nil {
					continue
				}
				pc.Types = append(pc.Types, typ)
				if kindRank[kind] > kindRank[pc.Kind] {
					pc.Kind = kind
				}
			}
		}
		for _, pc := range paths {
			if pc.Kind == "" {
				pc.Kind = KindContent
			}
			// The type says "contents" for a content conflict of two
			// additions; the stages tell.
			if pc.Kind == KindContent && stages[pc.Path] == 1<<2|1<<3 {
				pc.Kind = KindAddAdd
			}
			res.Conflicts = append(res.Conflicts, *pc)
		}
		slices.SortFunc(res.Conflicts, func(a, b PathConflict) int { return strings.Compare(a.Path, b.Path) })
		results = append(results, res)
	}
	return results, nil
}
