package workspace

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// TestIdleProcessesStop: the long-lived cat-file processes of a
// repository's Predictor and Snapshotter stop once unused for their idle
// time, and start again when needed: a daemon does not keep processes for
// every repository it ever served.
func TestIdleProcessesStop(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	repo, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPredictor(ctx, repo.Git, root)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.idle = 20 * time.Millisecond
	s := NewSnapshotter(repo)
	defer s.Close()
	s.idle = 20 * time.Millisecond

	predictorCat := func() *batchProc {
		p.catMu.Lock()
		defer p.catMu.Unlock()
		return p.cat
	}
	snapshotterCat := func() *batchProc {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cat
	}
	use := func() {
		if _, _, ok, err := p.objectInfo(ctx, "HEAD"); err != nil || !ok {
			t.Fatalf("objectInfo: %v, %v", ok, err)
		}
		s.mu.Lock()
		_, _, err := s.readTree(ctx, "HEAD^{tree}")
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		use()
		procs := []*batchProc{predictorCat(), snapshotterCat()}
		for i, b := range procs {
			if b == nil {
				t.Fatalf("round %d: process %d not running after use", round, i)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for predictorCat() != nil || snapshotterCat() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: cat-file processes still running long after their idle time", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
		for _, b := range procs {
			if _, err := os.Stat("/proc/" + strconv.Itoa(b.cmd.Process.Pid)); err == nil {
				t.Errorf("round %d: process %d still exists", round, b.cmd.Process.Pid)
			}
		}
	}
}
