package workspace

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// This file reads and writes git objects in process: tree encoding, object
// ids, and loose objects. It knows SHA-1 repositories only; the caller
// checks the object format.

// oid is a SHA-1 object id.
type oid [sha1.Size]byte

func (o oid) String() string { return hex.EncodeToString(o[:]) }

func parseOID(s string) (oid, error) {
	var o oid
	if len(s) != 2*len(o) {
		return o, fmt.Errorf("bad object id %q", s)
	}
	if _, err := hex.Decode(o[:], []byte(s)); err != nil {
		return o, fmt.Errorf("bad object id %q", s)
	}
	return o, nil
}

// Git's file modes in trees, as the index writes them.
const (
	modeTree    = 0o40000
	modeFile    = 0o100644
	modeExec    = 0o100755
	modeSymlink = 0o120000
	modeGitlink = 0o160000
)

// canonMode is the mode write-tree gives an entry read with mode m: trees,
// symlinks and gitlinks keep theirs, regular files are 644 or 755 by the
// owner's execute bit (old trees may hold 664 and the like).
func canonMode(m uint32) uint32 {
	switch m & 0o170000 {
	case modeTree, modeSymlink, modeGitlink:
		return m & 0o170000
	}
	if m&0o100 != 0 {
		return modeExec
	}
	return modeFile
}

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode uint32
	id   oid
}

func (e treeEntry) isTree() bool { return e.mode == modeTree }

// compareEntries is git's tree order: names compared bytewise, a tree's
// name as if it ended in "/".
func compareEntries(a, b treeEntry) int {
	an, bn := a.name, b.name
	n := min(len(an), len(bn))
	if c := cmp.Compare(an[:n], bn[:n]); c != 0 {
		return c
	}
	ac, bc := entryEnd(a, n), entryEnd(b, n)
	return cmp.Compare(ac, bc)
}

// entryEnd is the byte of e's sort key at i, past the common prefix.
func entryEnd(e treeEntry, i int) int {
	if i < len(e.name) {
		return int(e.name[i])
	}
	if e.isTree() {
		return '/'
	}
	return 0
}

// parseTree decodes a tree object's content.
func parseTree(data []byte) ([]treeEntry, error) {
	var list []treeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return nil, errors.New("bad tree: no mode")
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("bad tree: mode %q", data[:sp])
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+len(oid{}) {
			return nil, errors.New("bad tree: truncated entry")
		}
		e := treeEntry{name: string(data[:nul]), mode: canonMode(uint32(mode))}
		copy(e.id[:], data[nul+1:])
		data = data[nul+1+len(oid{}):]
		list = append(list, e)
	}
	return list, nil
}

// encodeTree encodes entries, which it sorts, as a tree object's content.
func encodeTree(entries []treeEntry) []byte {
	slices.SortFunc(entries, compareEntries)
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(strconv.FormatUint(uint64(e.mode), 8))
		b.WriteByte(' ')
		b.WriteString(e.name)
		b.WriteByte(0)
		b.Write(e.id[:])
	}
	return b.Bytes()
}

// hashObject returns the id of an object of type typ ("blob", "tree",
// "commit") holding data.
func hashObject(typ string, data []byte) oid {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", typ, len(data))
	h.Write(data)
	var o oid
	h.Sum(o[:0])
	return o
}

// looseStore writes loose objects into a repository's object directory the
// way git does: deflated into a temporary file, then linked into place, read
// only. An object already there is freshened instead (so that `git gc` does
// not prune it as old and unreachable while a new snapshot refers to it).
type looseStore struct{ dir string }

func (s looseStore) path(id oid) string {
	h := id.String()
	return filepath.Join(s.dir, h[:2], h[2:])
}

// write stores the object and returns its id.
func (s looseStore) write(typ string, data []byte) (oid, error) {
	id := hashObject(typ, data)
	final := s.path(id)
	now := time.Now()
	if err := os.Chtimes(final, now, now); err == nil {
		return id, nil
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return id, fmt.Errorf("write object %s: %w", id, err)
	}
	f, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return id, fmt.Errorf("write object %s: %w", id, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	zw, _ := zlib.NewWriterLevel(f, zlib.BestSpeed) // core.looseCompression's default
	fmt.Fprintf(zw, "%s %d\x00", typ, len(data))
	zw.Write(data)
	err = zw.Close()
	if err == nil {
		err = f.Chmod(0o444)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return id, fmt.Errorf("write object %s: %w", id, err)
	}
	if err := os.Link(tmp, final); err != nil && !errors.Is(err, fs.ErrExist) {
		if err := os.Rename(tmp, final); err != nil {
			return id, fmt.Errorf("write object %s: %w", id, err)
		}
	}
	return id, nil
}
