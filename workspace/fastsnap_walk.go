package workspace

// This file is the path-walking half of Snapshotter.Update: from changed
// paths to tree edits, deciding as `git add -A` does what comes in.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// update is one Update's work.
type update struct {
	s    *Snapshotter
	ctx  context.Context
	dir  string
	base oid
	head string // the commit HEAD names

	headListings map[string][]treeEntry // directory → its entries in HEAD's tree, read as needed

	listings map[string][]treeEntry // directory → its entries in base (nil: not a tree there)
	stats    map[string]statResult

	edits []treeEdit
	files []fileMode // regular files to hash, in order
	cands []candidate
	dirs  []string // directories whose content is read from disk
}

type statResult struct {
	fi  fs.FileInfo
	err error
}

type fileMode struct {
	path string
	mode uint32
}

// candidate is a path the previous snapshot does not hold: it comes in only
// if git does not ignore it.
type candidate struct {
	path string
	fi   fs.FileInfo
	// nested marks a directory holding a repository of its own.
	nested bool
}

func (u *update) abs(p string) string { return filepath.Join(u.dir, filepath.FromSlash(p)) }

func (u *update) lstat(p string) (fs.FileInfo, error) {
	if r, ok := u.stats[p]; ok {
		return r.fi, r.err
	}
	fi, err := os.Lstat(u.abs(p))
	u.stats[p] = statResult{fi, err}
	return fi, err
}

// hasGit reports whether directory p holds a `.git`: git takes it for a
// nested repository.
func (u *update) hasGit(p string) bool {
	_, err := os.Lstat(filepath.Join(u.abs(p), ".git"))
	return err == nil
}

// listing returns the entries of directory p in the base tree, nil if p is
// not a tree there.
func (u *update) listing(p string) ([]treeEntry, error) {
	if l, ok := u.listings[p]; ok {
		return l, nil
	}
	var l []treeEntry
	var err error
	if p == "" {
		l, err = u.s.tree(u.ctx, u.base)
	} else if e, ok, lerr := u.entry(p); lerr != nil {
		err = lerr
	} else if ok && e.isTree() {
		l, err = u.s.tree(u.ctx, e.id)
	}
	if err != nil {
		return nil, err
	}
	u.listings[p] = l
	return l, nil
}

// entry returns path p's entry in the base tree.
func (u *update) entry(p string) (treeEntry, bool, error) {
	dir, name := path.Split(p)
	l, err := u.listing(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return treeEntry{}, false, err
	}
	for _, e := range l {
		if e.name == name {
			return e, true, nil
		}
	}
	return treeEntry{}, false, nil
}

// roots turns the changed paths into the paths to look at afresh, none
// below another: a path below a file, a symlink, a nested repository or a
// directory that is gone is looked at from there.
func (u *update) roots(changed []string) ([]string, error) {
	set := map[string]bool{}
	for _, p := range changed {
		p = path.Clean(p)
		if p == "." || p == "/" || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("%w: changed path %q", ErrFullSnapshot, p)
		}
		parts := strings.Split(p, "/")
		if i := slices.Index(parts, ".git"); i == 0 {
			continue
		} else if i > 0 {
			parts = parts[:i] // inside a nested repository: the repository
		}
		r, err := u.root(parts)
		if err != nil {
			return nil, err
		}
		if b := path.Base(r); b == ".gitignore" || b == ".gitattributes" {
			// The rules change for untracked files that did not: `git add
			// -A` takes them in (or out, or converted) afresh.
			return nil, fmt.Errorf("%w: %s changed", ErrFullSnapshot, r)
		}
		set[r] = true
	}
	var list []string
	for p := range set {
		covered := false
		for a := path.Dir(p); a != "."; a = path.Dir(a) {
			if set[a] {
				covered = true
				break
			}
		}
		if !covered {
			list = append(list, p)
		}
	}
	slices.Sort(list)
	return list, nil
}

// root returns the path to look at for a change at parts.
func (u *update) root(parts []string) (string, error) {
	for i := 1; i < len(parts); i++ {
		a := strings.Join(parts[:i], "/")
		e, inBase, err := u.entry(a)
		if err != nil {
			return "", err
		}
		if inBase && !e.isTree() {
			return a, nil // was a file, a symlink or a nested repository
		}
		fi, err := u.lstat(a)
		if err != nil || !fi.IsDir() {
			return a, nil // is gone, or not a directory any more
		}
		if !inBase && u.hasGit(a) {
			return a, nil // a new nested repository
		}
	}
	return strings.Join(parts, "/"), nil
}

// collect turns roots into edits, reading new directories and asking git
// which new paths it ignores, one question per level of directories.
func (u *update) collect(roots []string) error {
	for _, r := range roots {
		e, inBase, err := u.entry(r)
		if err != nil {
			return err
		}
		if inBase {
			// Whatever r becomes is set again below.
			u.edits = append(u.edits, treeEdit{path: r, del: true})
		}
		fi, err := u.lstat(r)
		if err != nil {
			continue // gone, with everything below
		}
		var base *treeEntry
		if inBase {
			base = &e
		}
		if err := u.visit(r, base, fi); err != nil {
			return err
		}
	}
	for len(u.cands) > 0 || len(u.dirs) > 0 {
		if err := u.settle(); err != nil {
			return err
		}
		dirs := u.dirs
		u.dirs = nil
		for _, d := range dirs {
			if err := u.readDir(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// visit decides about p, which is on disk as fi and in the base as base
// (nil if not there).
func (u *update) visit(p string, base *treeEntry, fi fs.FileInfo) error {
	tracked := base != nil && !base.isTree()
	switch m := fi.Mode(); {
	case m.IsRegular() || m&fs.ModeSymlink != 0:
		if !tracked {
			u.cands = append(u.cands, candidate{path: p, fi: fi})
			return nil
		}
		return u.file(p, fi)
	case m.IsDir():
		switch {
		case base != nil && base.mode == modeGitlink:
			return u.gitlink(p, base)
		case base != nil && base.isTree():
			u.dirs = append(u.dirs, p)
		default:
			u.cands = append(u.cands, candidate{path: p, fi: fi, nested: u.hasGit(p)})
		}
	}
	// Anything else (a fifo, a socket) git leaves out.
	return nil
}

// settle asks git which candidates it ignores and takes in the others.
func (u *update) settle() error {
	if len(u.cands) == 0 {
		return nil
	}
	cands := u.cands
	u.cands = nil
	paths := make([]string, len(cands))
	for i, c := range cands {
		paths[i] = c.path
	}
	ignored, err := u.ignored(paths)
	if err != nil {
		return err
	}
	for _, c := range cands {
		if ignored[c.path] {
			// Ignored, yet tracked if HEAD has it: a tracked file that
			// was deleted and comes back is not in the previous snapshot.
			// `git add -A` takes it in, and under a directory HEAD has,
			// the tracked files only.
			if ok, err := u.atHead(c.path, c.fi.IsDir() && !c.nested); err != nil {
				return err
			} else if !ok {
				continue
			}
		}
		switch {
		case c.fi.IsDir() && c.nested:
			if err := u.gitlink(c.path, nil); err != nil {
				return err
			}
		case c.fi.IsDir():
			u.dirs = append(u.dirs, c.path)
		default:
			if err := u.file(c.path, c.fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDir visits the entries of directory d, whose content replaces the
// base's.
func (u *update) readDir(d string) error {
	des, err := os.ReadDir(u.abs(d))
	if err != nil {
		return nil // gone meanwhile: the next event brings it up to date
	}
	base, err := u.listing(d)
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.Name() == ".git" {
			continue
		}
		p := d + "/" + de.Name()
		if d == "" {
			p = de.Name()
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		var b *treeEntry
		if i := slices.IndexFunc(base, func(e treeEntry) bool { return e.name == de.Name() }); i >= 0 {
			b = &base[i]
		}
		if err := u.visit(p, b, fi); err != nil {
			return err
		}
	}
	return nil
}

// file takes in the regular file or symlink at p.
func (u *update) file(p string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(u.abs(p))
		if err != nil {
			return nil // gone meanwhile
		}
		id, err := u.s.writeObject(u.ctx, "blob", []byte(target))
		if err != nil {
			return err
		}
		u.edits = append(u.edits, treeEdit{path: p, mode: modeSymlink, id: id})
		return nil
	}
	mode := uint32(modeFile)
	if fi.Mode()&0o100 != 0 {
		mode = modeExec
	}
	u.files = append(u.files, fileMode{p, mode})
	return nil
}

// gitlink takes in the nested repository at p as its HEAD commit, as git
// does; base is p's entry in the base tree, if any.
func (u *update) gitlink(p string, base *treeEntry) error {
	keep := func() {
		if base != nil && base.mode == modeGitlink {
			u.edits = append(u.edits, treeEdit{path: p, mode: modeGitlink, id: base.id})
		}
	}
	if !u.hasGit(p) {
		keep() // a submodule not checked out
		return nil
	}
	// The ceiling keeps git from finding the outer repository.
	c := Cmd{Dir: u.abs(p), Env: []string{"GIT_CEILING_DIRECTORIES=" + filepath.Dir(u.abs(p))}}
	out, err := u.s.g.RunCmd(u.ctx, c, "rev-parse", "--verify", "-q", "HEAD^{commit}")
	switch code := ExitCode(err); {
	case err == nil:
		id, err := parseOID(trim(out))
		if err != nil {
			return err
		}
		u.edits = append(u.edits, treeEdit{path: p, mode: modeGitlink, id: id})
	case code == 1:
		keep() // no commit yet: git leaves it out
	case code == 128 && (base == nil || base.mode != modeGitlink):
		u.dirs = append(u.dirs, p) // not a repository after all
	case code == 128:
		keep()
	default:
		return err
	}
	return nil
}

// atHead reports whether HEAD's tree has p, as a tree if dir, else as a
// file, link or gitlink.
func (u *update) atHead(p string, dir bool) (bool, error) {
	parent, name := path.Split(p)
	l, err := u.headListing(strings.TrimSuffix(parent, "/"))
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(l, func(e treeEntry) bool { return e.name == name })
	return i >= 0 && l[i].isTree() == dir, nil
}

// headListing returns directory d's entries in HEAD's tree (nil if HEAD
// has no tree there).
func (u *update) headListing(d string) ([]treeEntry, error) {
	if l, ok := u.headListings[d]; ok {
		return l, nil
	}
	if u.headListings == nil {
		u.headListings = map[string][]treeEntry{}
	}
	var l []treeEntry
	if d == "" {
		if u.head != "" {
			var err error
			if _, l, err = u.s.readTree(u.ctx, u.head+"^{tree}"); err != nil {
				return nil, err
			}
		}
	} else {
		parent, name := path.Split(d)
		pl, err := u.headListing(strings.TrimSuffix(parent, "/"))
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(pl, func(e treeEntry) bool { return e.name == name }); i >= 0 && pl[i].isTree() {
			if l, err = u.s.tree(u.ctx, pl[i].id); err != nil {
				return nil, err
			}
		}
	}
	u.headListings[d] = l
	return l, nil
}

// ignored returns the paths among paths that git ignores. They are not in
// the previous snapshot, so the index is not read: whether an ignored one is
// tracked is read from HEAD's tree (atHead).
func (u *update) ignored(paths []string) (map[string]bool, error) {
	in := strings.Join(paths, "\x00") + "\x00"
	out, err := u.s.g.RunCmd(u.ctx, Cmd{Dir: u.dir, Stdin: strings.NewReader(in)}, "check-ignore", "--stdin", "-z", "--no-index")
	if err != nil && ExitCode(err) != 1 {
		return nil, fmt.Errorf("check ignored paths: %w", err)
	}
	set := map[string]bool{}
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			set[p] = true
		}
	}
	return set, nil
}

// hash writes the blobs of the regular files taken in and adds their edits.
// A file that vanished meanwhile is left out, as `git add --ignore-errors`
// does; the next event brings it up to date.
func (u *update) hash() error {
	if len(u.files) == 0 {
		return nil
	}
	paths := make([]string, len(u.files))
	for i, f := range u.files {
		paths[i] = f.path
	}
	hashFiles := u.s.hashFiles
	if hashFiles == nil {
		hashFiles = u.s.hashObjects
	}
	ids, err := hashFiles(u.ctx, u.dir, paths)
	if err != nil && u.ctx.Err() == nil {
		// Retry without the files that are gone.
		var kept []fileMode
		for _, f := range u.files {
			if _, serr := os.Lstat(u.abs(f.path)); serr == nil {
				kept = append(kept, f)
			}
		}
		if len(kept) == len(u.files) {
			return err
		}
		u.files = kept
		return u.hash()
	}
	if err != nil {
		return err
	}
	for i, f := range u.files {
		u.edits = append(u.edits, treeEdit{path: f.path, mode: f.mode, id: ids[i]})
	}
	return nil
}
