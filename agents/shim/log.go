package shim

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A session's output log is every byte the agent wrote, addressed by
// absolute offsets from 0, of which the most recent are kept: with a limit,
// the log is the active file (Spec.Log) plus one older segment,
// "<log>.<offset of its first byte>". Once the active file reaches half the
// limit it becomes the older segment (the previous one is deleted) and a
// new active file starts, so between half the limit and the limit (plus
// one chunk) stays on disk. Offsets never move: a reader asking for output
// that was rotated out starts at the first byte kept (Start), and can tell
// how much it missed. The active file's offset is the older segment's plus
// its size (0 without one), so every step of a rotation leaves a
// consistent log, even across a crash.

// segment is one file of a log.
type segment struct {
	start int64 // absolute offset of its first byte
	path  string
}

// rotated lists a log's older segments, oldest first.
func rotated(log string) ([]segment, error) {
	ents, err := os.ReadDir(filepath.Dir(log))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(log) + "."
	var segs []segment
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		start, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || start < 0 {
			continue
		}
		segs = append(segs, segment{start: start, path: filepath.Join(filepath.Dir(log), e.Name())})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.start, b.start) })
	return segs, nil
}

// activeStart is the offset of the active file's first byte.
func activeStart(segs []segment) (int64, error) {
	if len(segs) == 0 {
		return 0, nil
	}
	last := segs[len(segs)-1]
	fi, err := os.Stat(last.path)
	if err != nil {
		return 0, err
	}
	return last.start + fi.Size(), nil
}

// logWriter appends to a log, rotating it under its limit. It is not safe
// for concurrent use.
type logWriter struct {
	path  string
	limit int64 // 0: no limit
	f     *os.File
	start int64 // offset of the active file's first byte
	size  int64 // bytes in the active file
}

// openLogWriter opens the log at path for appending (a resumed agent
// appends to its session's log).
func openLogWriter(path string, limit int64) (*logWriter, error) {
	segs, err := rotated(path)
	if err != nil {
		return nil, err
	}
	start, err := activeStart(segs)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{path: path, limit: limit, f: f, start: start, size: fi.Size()}, nil
}

// end is the offset after the last byte written.
func (w *logWriter) end() int64 { return w.start + w.size }

// Write appends p, rotating first when the active file is full. It returns
// how much of p is on disk.
func (w *logWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		if err := w.reopen(); err != nil {
			return 0, err
		}
	}
	if w.limit > 0 && w.size > 0 && w.size+int64(len(p)) > w.limit/2 {
		if err := w.rotate(); err != nil {
			return 0, fmt.Errorf("rotate output log: %w", err)
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// rotate makes the active file the older segment and starts a new one.
// Each step leaves a readable log: the older segment's name says where it
// starts, and the active file (none until reopen succeeds) follows it.
func (w *logWriter) rotate() error {
	old, err := rotated(w.path)
	if err != nil {
		return err
	}
	seg := fmt.Sprintf("%s.%d", w.path, w.start)
	if err := os.Rename(w.path, seg); err != nil {
		return err
	}
	w.f.Close()
	w.f, w.start, w.size = nil, w.start+w.size, 0
	for _, s := range old {
		os.Remove(s.path)
	}
	return w.reopen()
}

// reopen opens (creates) the active file.
func (w *logWriter) reopen() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

func (w *logWriter) Sync() error {
	if w.f == nil {
		return nil
	}
	return w.f.Sync()
}

func (w *logWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// LogReader reads a log as it was when opened.
type LogReader struct {
	segs  []openSegment
	start int64
	end   int64
}

type openSegment struct {
	start, size int64
	f           *os.File
}

// OpenLog opens the log at path (Spec.Log) for reading. A log that does not
// exist is empty.
func OpenLog(path string) (*LogReader, error) {
	for try := 0; ; try++ {
		r, stable, err := openLog(path)
		if err != nil || stable || try == 10 {
			return r, err
		}
		r.Close() // rotated while being opened: again
	}
}

func openLog(path string) (r *LogReader, stable bool, err error) {
	segs, err := rotated(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &LogReader{}, true, nil
		}
		return nil, false, err
	}
	r = &LogReader{}
	for _, s := range append(segs, segment{start: -1, path: path}) {
		f, err := os.Open(s.path)
		if errors.Is(err, os.ErrNotExist) {
			if s.start < 0 {
				// No active file: none yet, or a rotation cut short
				// between its two steps. Either way it is empty.
				break
			}
			r.Close() // rotated away meanwhile
			return &LogReader{}, false, nil
		}
		if err != nil {
			r.Close()
			return nil, false, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			r.Close()
			return nil, false, err
		}
		start := s.start
		if start < 0 { // the active file follows the older segments
			start = r.end
		}
		if len(r.segs) == 0 {
			r.start = start
		} else if start != r.end {
			f.Close()
			r.Close()
			return &LogReader{}, false, nil
		}
		r.segs = append(r.segs, openSegment{start: start, size: fi.Size(), f: f})
		r.end = start + fi.Size()
	}
	again, err := rotated(path)
	if err != nil || !slices.Equal(again, segs) {
		return r, false, err
	}
	return r, true, nil
}

// Start is the offset of the first byte kept: output before it was rotated
// out.
func (r *LogReader) Start() int64 { return r.start }

// End is the offset after the last byte: the log's size, counting what was
// rotated out.
func (r *LogReader) End() int64 { return r.end }

// ReadAt reads from offset off, which must be at least Start.
func (r *LogReader) ReadAt(p []byte, off int64) (int, error) {
	if off < r.start {
		return 0, fmt.Errorf("output log: offset %d was rotated out (the log starts at %d)", off, r.start)
	}
	n := 0
	for _, s := range r.segs {
		if len(p) == 0 {
			break
		}
		if off >= s.start+s.size {
			continue
		}
		k, err := s.f.ReadAt(p[:min(int64(len(p)), s.start+s.size-off)], off-s.start)
		n += k
		p = p[k:]
		off += int64(k)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// Section returns a reader of [off, End), off clamped to Start.
func (r *LogReader) Section(off int64) io.Reader {
	off = max(off, r.start)
	return io.NewSectionReader(r, off, max(r.end-off, 0))
}

// Close closes the log's files.
func (r *LogReader) Close() error {
	for _, s := range r.segs {
		s.f.Close()
	}
	r.segs = nil
	return nil
}

// openAttach opens the log for an attach from offset (negative, or past
// end: from end) and replies with where the stream starts: output older
// than the log keeps was rotated out, so at the first byte kept. ok is
// false when the client is gone or was told the log cannot be read.
func openAttach(c io.Writer, log string, offset, end int64) (lr *LogReader, start int64, ok bool) {
	if offset < 0 || offset > end {
		offset = end
	}
	lr, err := OpenLog(log)
	if err != nil {
		c.Write(encode(reply{Error: fmt.Sprintf("read output log: %v", err)}))
		return nil, 0, false
	}
	offset = min(max(offset, lr.Start()), end)
	if _, err := c.Write(encode(reply{OK: true, Offset: offset})); err != nil {
		lr.Close()
		return nil, 0, false
	}
	return lr, offset, true
}

// RemoveLog deletes a log's files (every segment, and a pipes log's head).
func RemoveLog(path string) error {
	segs, _ := rotated(path)
	for _, s := range segs {
		os.Remove(s.path)
	}
	os.Remove(HeadFile(path))
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
