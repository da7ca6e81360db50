package agents

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// Presence is one session's work on one file: its diff against the
// session's base, uncommitted work included, and the lines it changed in
// the session's own copy.
type Presence struct {
	Session Session
	File    workspace.FileDiff
	Ranges  []workspace.Range
	// InScope says the file is inside the session's scope.
	InScope bool
}

// Who lists the live or finished, unmerged sessions whose work changes
// path, a repository-relative path of the repository containing dir or an
// absolute path inside the main worktree or a session worktree. With
// start > 0 only sessions whose changed lines (in their own copy) meet
// start..end are listed. It returns the repository and the relative path.
func (m *Manager) Who(ctx context.Context, dir, path string, start, end int) (repo, rel string, list []Presence, err error) {
	repo, rel, err = m.locate(ctx, dir, path)
	if err != nil {
		return "", "", nil, err
	}
	if end < start {
		end = start
	}
	for _, s := range m.List(repo, false) {
		if s.Worktree == "" || s.Base == "" {
			continue
		}
		tip := ""
		if snap, ok := m.conf.snapshotOf(s.ID); ok {
			tip = snap.Commit
		} else if tip, err = m.tip(ctx, s); err != nil {
			m.log.Debug("who: no tip", "session", s.Name, "err", err)
			continue
		}
		fd, ok, err := m.who.fileDiff(ctx, m.files(s), s.Base, tip, rel)
		if err != nil {
			return "", "", nil, err
		}
		if !ok {
			continue
		}
		p := Presence{Session: s, File: fd, Ranges: changedLines(fd.Hunks), InScope: inScope(s.Scope, rel)}
		if start > 0 && !meets(p.Ranges, start, end) {
			continue
		}
		list = append(list, p)
	}
	return repo, rel, list, nil
}

// locate resolves who's path argument to a repository and a path in it:
// an absolute path in a session's worktree or main worktree, or in any
// other repository; a relative one in the repository containing dir.
func (m *Manager) locate(ctx context.Context, dir, path string) (repo, rel string, err error) {
	if path == "" {
		return "", "", invalidf("no path given")
	}
	if filepath.IsAbs(path) {
		file := cleanAbs(path)
		m.mu.Lock()
		for _, s := range m.sessions {
			if !active(s.State) {
				continue
			}
			for _, root := range []string{s.Worktree, s.Repo} {
				if r, ok := relWithin(root, file); ok {
					m.mu.Unlock()
					return s.Repo, r, nil
				}
			}
		}
		m.mu.Unlock()
		r, err := m.openRepo(ctx, nearestDir(file))
		if err != nil {
			return "", "", err
		}
		rel, ok := relWithin(r.Root, file)
		if !ok {
			return "", "", invalidf("path %s is not a file of the repository at %s", path, r.Root)
		}
		return r.Root, rel, nil
	}
	if err := workspace.ValidatePath(path); err != nil {
		return "", "", invalidf("path %q: %v", path, err)
	}
	if dir == "" {
		return "", "", invalidf("path %q is relative: give the repository too", path)
	}
	m.mu.Lock()
	repo = m.repoForLocked(dir)
	m.mu.Unlock()
	return repo, path, nil
}

// nearestDir is the nearest existing directory holding path.
func nearestDir(path string) string {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() || d == filepath.Dir(d) {
			return d
		}
	}
}

// relWithin returns file's slash path below root, if it names a path of
// the repository there.
func relWithin(root, file string) (string, bool) {
	if root == "" {
		return "", false
	}
	r, err := filepath.Rel(root, file)
	if err != nil {
		return "", false
	}
	r = filepath.ToSlash(r)
	if workspace.ValidatePath(r) != nil {
		return "", false
	}
	return r, true
}

// changedLines returns the lines a diff's hunks add or change in the new
// file, merged into ranges; lines removed with nothing in their place are
// a deletion marker before the line that follows them.
func changedLines(hunks []workspace.Hunk) []workspace.Range {
	var out []workspace.Range
	add := func(r workspace.Range) {
		if n := len(out); n > 0 && out[n-1].End >= out[n-1].Start && r.End >= r.Start && out[n-1].End+1 >= r.Start {
			out[n-1].End = max(out[n-1].End, r.End)
			return
		}
		out = append(out, r)
	}
	for _, h := range hunks {
		line := h.NewStart
		runStart, deleted := 0, false
		flush := func() {
			switch {
			case runStart > 0:
				add(workspace.Range{Start: runStart, End: line - 1})
			case deleted:
				// A file deleted whole has no line 0: mark line 1.
				at := max(line, 1)
				add(workspace.Range{Start: at, End: at - 1})
			}
			runStart, deleted = 0, false
		}
		for _, l := range h.Lines {
			switch {
			case len(l) > 0 && l[0] == '+':
				if runStart == 0 {
					runStart = line
				}
				line++
			case len(l) > 0 && l[0] == '-':
				deleted = true
			default:
				flush()
				line++
			}
		}
		flush()
	}
	return out
}

// meets reports whether any range touches lines start..end. A deletion
// marker touches the line it stands before.
func meets(rs []workspace.Range, start, end int) bool {
	for _, r := range rs {
		lo, hi := r.Start, max(r.End, r.Start)
		if lo <= end && start <= hi {
			return true
		}
	}
	return false
}

// whoCache keeps one-file diffs by (base, tip, path), and whole diffs by
// (base, tip): a tip is a commit, so an entry never goes stale. With a
// whole diff at hand a file's entry needs no git at all.
type whoCache struct {
	// mu guards m and tips.
	mu   sync.Mutex
	m    map[[3]string]whoEntry
	tips map[[2]string]map[string]workspace.FileDiff // (base, tip) → path → diff
}

// tipsMax bounds the whole diffs kept; they are dropped whole when full.
const tipsMax = 256

// putTip keeps a whole diff of base..tip.
func (c *whoCache) putTip(base, tip string, files []workspace.FileDiff) {
	byPath := make(map[string]workspace.FileDiff, len(files))
	for _, f := range files {
		byPath[f.Path] = f
		if f.OldPath != "" {
			byPath[f.OldPath] = f
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tips == nil || len(c.tips) >= tipsMax {
		c.tips = map[[2]string]map[string]workspace.FileDiff{}
	}
	c.tips[[2]string{base, tip}] = byPath
}

type whoEntry struct {
	fd      workspace.FileDiff
	changed bool
}

const whoCacheMax = 4096

func (c *whoCache) fileDiff(ctx context.Context, ws host.Workspace, base, tip, rel string) (workspace.FileDiff, bool, error) {
	key := [3]string{base, tip, rel}
	c.mu.Lock()
	if whole, ok := c.tips[[2]string{base, tip}]; ok {
		fd, changed := whole[rel]
		c.mu.Unlock()
		return fd, changed, nil
	}
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return e.fd, e.changed, nil
	}
	files, err := ws.Diff(ctx, base, tip, []string{rel}, false)
	if err != nil {
		return workspace.FileDiff{}, false, err
	}
	for _, f := range files {
		if f.Path == rel || f.OldPath == rel {
			e = whoEntry{fd: f, changed: true}
		}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= whoCacheMax {
		c.m = map[[3]string]whoEntry{}
	}
	c.m[key] = e
	c.mu.Unlock()
	return e.fd, e.changed, nil
}
