package agents

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/studiod/studiod/agents/host"
)

// DefaultLogLimit caps a session's output log unless config says otherwise:
// an agent printing in a loop must not fill the disk.
const DefaultLogLimit = "32MiB"

// ParseSize reads a size: bytes, or a number with KiB, MiB, GiB (powers of
// 1024) or KB, MB, GB (powers of 1000). "0" (or "") is no limit; a limit
// under 4 KiB is refused.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("size %q: use bytes or a number with KiB, MiB or GiB, e.g. 32MiB", s)
	}
	if n*mult < 4<<10 {
		return 0, fmt.Errorf("size %q: at least 4KiB, or 0 for no limit", s)
	}
	return n * mult, nil
}

// FormatSize says a size for a person, in the units ParseSize reads:
// "1.5 GiB", "12.0 MiB", "512 B".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// OutputSlice is a part of a session's output log. Offsets count every
// byte the agent wrote since the session started, including output the log
// no longer keeps.
type OutputSlice struct {
	Data   []byte
	Offset int64 // where Data starts
	Size   int64 // offset after the last byte logged
	Kept   int64 // first byte the log still keeps: before it, output was rotated out
	Done   bool  // the agent has exited and Data reaches Size
}

// ReadOutput reads the agent's log from offset (negative: from size+offset)
// up to limit bytes. A read from before the first byte kept starts there.
func (m *Manager) ReadOutput(ref Ref, offset int64, limit int) (OutputSlice, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return OutputSlice{}, err
	}
	if limit < 0 {
		return OutputSlice{}, invalidf("output limit %d: give a number of bytes, or 0 for the default", limit)
	}
	if limit == 0 || limit > 4<<20 {
		limit = 1 << 20
	}
	r, err := m.proc(s.ID).OpenLog()
	if err != nil {
		return OutputSlice{}, fmt.Errorf("read the output of %s: %w", s.Name, err)
	}
	defer r.Close()
	out := OutputSlice{Size: r.End(), Kept: r.Start()}
	if offset < 0 {
		offset = out.Size + offset
	}
	offset = min(max(offset, out.Kept), out.Size)
	n := min(int64(limit), out.Size-offset)
	out.Data = make([]byte, n)
	if _, err := r.ReadAt(out.Data, offset); err != nil {
		return OutputSlice{}, fmt.Errorf("read the output of %s: %w", s.Name, err)
	}
	out.Offset = offset
	out.Done = !live(s.State) && offset+n == out.Size
	return out, nil
}

// dropLog deletes a session's output log, to free the disk it filled.
func (m *Manager) dropLog(s Session) error { return m.proc(s.ID).RemoveLog() }

// Attach streams a session's output from offset (negative: from the end)
// and follows it while the agent runs. It fails with host.ErrGone once the
// agent has gone: ReadOutput reads the rest.
func (m *Manager) Attach(ctx context.Context, ref Ref, offset int64) (host.Stream, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return m.proc(s.ID).Attach(ctx, offset)
}
