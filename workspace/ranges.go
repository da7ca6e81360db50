package workspace

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/studiod/studiod/vocab"
)

// Range is a 1-based, inclusive line range in one side's file. End < Start
// marks a pure deletion before line Start.
type Range struct {
	Start, End int
}

// span is one `git diff -U0` hunk: Old* in the base file, New* in the side's.
type span struct {
	OldStart, OldCount, NewStart, NewCount int
}

// Range returns the hunk's lines in the side's file.
func (h span) Range() Range {
	if h.NewCount == 0 {
		return Range{Start: h.NewStart + 1, End: h.NewStart}
	}
	return Range{Start: h.NewStart, End: h.NewStart + h.NewCount - 1}
}

// baseSpan is the hunk's half-open, 0-based span of base lines; an insertion
// is the empty span at its position.
func (h span) baseSpan() (lo, hi int) {
	if h.OldCount == 0 {
		return h.OldStart, h.OldStart
	}
	return h.OldStart - 1, h.OldStart - 1 + h.OldCount
}

// collide reports whether two hunks against the same base touch the same
// base lines. Like git's merge, adjacent changes collide too.
func collide(a, b span) bool {
	alo, ahi := a.baseSpan()
	blo, bhi := b.baseSpan()
	return alo <= bhi && blo <= ahi
}

// Severities of a FileConflict, the vocabulary's.
const (
	SeverityConflict = string(vocab.SeverityConflict)
	SeverityOverlap  = string(vocab.SeverityOverlap)
)

// FileConflict is one path of a predicted merge that both sides changed:
// conflicting (git cannot merge it) or overlapping (it merges cleanly).
type FileConflict struct {
	// Path is the path in the merged tree.
	Path     string
	Kind     string
	Severity string
	A, B     FileSide
}

// FileSide is one side's part in a FileConflict.
type FileSide struct {
	// Path is the path on this side: it differs from the others after a
	// rename.
	Path string
	// Ranges are the lines this side changed, in this side's version of
	// the file: for a conflict the hunks that collide with the other
	// side's, for an overlap all of them. None for binary or deleted files.
	Ranges []Range
	Binary bool
}

type blobDiff struct {
	hunks  []span
	binary bool
}

// Locate computes, for a prediction, each conflicted path's kind and line
// ranges on both sides from the two diffs against the merge base, and the
// overlaps: paths both sides changed that merge cleanly. Results are cached
// like Predict's.
func (p *Predictor) Locate(ctx context.Context, pred Prediction) ([]FileConflict, error) {
	if pred.Err != nil {
		return nil, pred.Err
	}
	key := [3]string{pred.Base, pred.TreeA, pred.TreeB}
	p.mu.Lock()
	fc, ok := p.locations[key]
	p.mu.Unlock()
	if ok {
		return fc, nil
	}
	chA, err := p.ChangedPaths(ctx, pred.Base, pred.A)
	if err != nil {
		return nil, err
	}
	chB, err := p.ChangedPaths(ctx, pred.Base, pred.B)
	if err != nil {
		return nil, err
	}
	a, b := indexChanges(chA), indexChanges(chB)
	var list []FileConflict
	done := map[string]bool{} // base paths handled
	for _, pc := range pred.Conflicts {
		base := pc.Path
		if c, ok := a.byPath[pc.Path]; ok {
			base = c.BasePath()
		} else if c, ok := b.byPath[pc.Path]; ok {
			base = c.BasePath()
		}
		ca, okA := a.lookup(base, pc.Path)
		cb, okB := b.lookup(base, pc.Path)
		f := FileConflict{Path: pc.Path, Kind: pc.Kind, Severity: SeverityConflict}
		if err := p.fillSides(ctx, &f, base, ca, okA, cb, okB, pc.Kind == KindContent || pc.Kind == KindRename); err != nil {
			return nil, err
		}
		if f.A.Binary || f.B.Binary {
			f.Kind = KindBinary
		}
		done[base] = true
		list = append(list, f)
	}
	for base, ca := range a.byBase {
		cb, ok := b.byBase[base]
		if !ok || done[base] {
			continue
		}
		if ca.NewBlob == cb.NewBlob && ca.NewMode == cb.NewMode && ca.Path == cb.Path {
			continue // the same change on both sides: nothing to merge
		}
		path := cb.Path
		if ca.Path != base {
			path = ca.Path
		}
		f := FileConflict{Path: path, Kind: KindOverlap, Severity: SeverityOverlap}
		if err := p.fillSides(ctx, &f, base, ca, true, cb, true, false); err != nil {
			return nil, err
		}
		list = append(list, f)
	}
	slices.SortFunc(list, func(x, y FileConflict) int { return strings.Compare(x.Path, y.Path) })
	p.mu.Lock()
	if len(p.locations) > cacheMax {
		clear(p.locations)
	}
	p.locations[key] = list
	p.mu.Unlock()
	return list, nil
}

type changeIndex struct {
	byPath, byBase map[string]Change
}

func indexChanges(list []Change) changeIndex {
	ix := changeIndex{byPath: map[string]Change{}, byBase: map[string]Change{}}
	for _, c := range list {
		ix.byPath[c.Path] = c
		ix.byBase[c.BasePath()] = c
	}
	return ix
}

func (ix changeIndex) lookup(base, path string) (Change, bool) {
	if c, ok := ix.byBase[base]; ok {
		return c, true
	}
	c, ok := ix.byPath[path]
	return c, ok
}

// fillSides sets both sides' paths and ranges. With onlyColliding, each side
// keeps the hunks that collide with the other side's (all of them if none
// do, which happens when git's merge and diff align hunks differently).
func (p *Predictor) fillSides(ctx context.Context, f *FileConflict, base string, ca Change, okA bool, cb Change, okB bool, onlyColliding bool) error {
	f.A.Path, f.B.Path = base, base
	var da, db blobDiff
	var err error
	if okA {
		f.A.Path = ca.Path
		if da, err = p.diffChange(ctx, ca); err != nil {
			return err
		}
	}
	if okB {
		f.B.Path = cb.Path
		if db, err = p.diffChange(ctx, cb); err != nil {
			return err
		}
	}
	f.A.Binary, f.B.Binary = da.binary, db.binary
	selA, selB := da.hunks, db.hunks
	if onlyColliding && len(da.hunks) > 0 && len(db.hunks) > 0 {
		var ca, cb []span
		usedB := make([]bool, len(db.hunks))
		for _, ha := range da.hunks {
			hit := false
			for j, hb := range db.hunks {
				if collide(ha, hb) {
					hit, usedB[j] = true, true
				}
			}
			if hit {
				ca = append(ca, ha)
			}
		}
		for j, hb := range db.hunks {
			if usedB[j] {
				cb = append(cb, hb)
			}
		}
		if len(ca) > 0 {
			selA, selB = ca, cb
		}
	}
	f.A.Ranges, f.B.Ranges = hunkRanges(selA), hunkRanges(selB)
	return nil
}

func hunkRanges(hs []span) []Range {
	if len(hs) == 0 {
		return nil
	}
	r := make([]Range, len(hs))
	for i, h := range hs {
		r[i] = h.Range()
	}
	return r
}

func isZeroOID(s string) bool { return strings.Trim(s, "0") == "" }

// diffChange returns the -U0 hunks of one change, cached by blob pair.
func (p *Predictor) diffChange(ctx context.Context, c Change) (blobDiff, error) {
	switch {
	case c.Status == 'D' || isZeroOID(c.NewBlob):
		return blobDiff{}, nil
	case c.OldBlob == c.NewBlob:
		return blobDiff{}, nil
	case c.NewMode == "160000" || c.OldMode == "160000":
		return blobDiff{}, nil // submodule
	}
	key := [2]string{c.OldBlob, c.NewBlob}
	p.mu.Lock()
	d, ok := p.hunks[key]
	p.mu.Unlock()
	if ok {
		return d, nil
	}
	if isZeroOID(c.OldBlob) || c.OldMode == "120000" || c.NewMode == "120000" {
		// Added (or a symlink): the whole file is the change.
		data, err := p.blob(ctx, c.NewBlob)
		if err != nil {
			return blobDiff{}, err
		}
		if isBinary(data) {
			d.binary = true
		} else if n := countLines(data); n > 0 {
			d.hunks = []span{{OldStart: 0, OldCount: 0, NewStart: 1, NewCount: n}}
		}
	} else {
		out, err := p.g.Run(ctx, p.dir, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--end-of-options", c.OldBlob, c.NewBlob)
		if err != nil {
			return blobDiff{}, fmt.Errorf("diff %s: %w", c.Path, err)
		}
		if d, err = parseHunks(out); err != nil {
			return blobDiff{}, fmt.Errorf("diff %s: %w", c.Path, err)
		}
	}
	p.mu.Lock()
	p.stats.Diffs++
	if len(p.hunks) > cacheMax {
		clear(p.hunks)
	}
	p.hunks[key] = d
	p.mu.Unlock()
	return d, nil
}

// isBinary is git's heuristic: a NUL in the first 8000 bytes.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

func countLines(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// parseHunks reads the hunks of a -U0 diff of one blob pair. git names
// such a diff's sides by the two object names ("diff --git a/<old>
// b/<new>"); with no "---"/"+++" lines to follow (a binary pair has none)
// a parser cannot tell that header from a rename's, so both sides are
// named alike first.
func parseHunks(out []byte) (blobDiff, error) {
	if rest, ok := bytes.CutPrefix(out, []byte("diff --git ")); ok {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			out = append([]byte("diff --git a/blob b/blob"), rest[i:]...)
		}
	}
	ps, err := parsePatches(out)
	if err != nil {
		return blobDiff{}, err
	}
	var d blobDiff
	for _, p := range ps {
		d.binary = d.binary || p.binary
		for _, h := range p.hunks {
			d.hunks = append(d.hunks, h.span())
		}
	}
	return d, nil
}
