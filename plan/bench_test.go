package plan

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/workspace"
)

// historyRepo makes a repository with a history of n commits (fast-import),
// each changing one to four of 1,000 files in 20 directories; a third of
// them change a file of the next directory too, so neighbouring
// directories are coupled.
func historyRepo(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	gittest.Git(b, dir, "init", "-q", "-b", "main")
	var in bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter T <t@t> %d +0000\ndata 2\nc\n", 1700000000+i)
		if i == 0 {
			for f := range 1000 {
				fmt.Fprintf(&in, "M 644 inline d%02d/f%03d.go\ndata 2\n0\n", f%20, f)
			}
			continue
		}
		for range 1 + rng.IntN(4) {
			f := rng.IntN(1000)
			fmt.Fprintf(&in, "M 644 inline d%02d/f%03d.go\ndata %d\n%d\n", f%20, f, len(fmt.Sprint(i))+1, i)
			if rng.IntN(3) == 0 {
				g := (f/20*20 + (f%20+1)%20) % 1000
				fmt.Fprintf(&in, "M 644 inline d%02d/f%03d.go\ndata %d\n%d\n", g%20, g, len(fmt.Sprint(i))+1, i)
			}
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v: %s", err, out)
	}
	gittest.Git(b, dir, "reset", "-q", "--hard", "main")
	return dir
}

// BenchmarkCheck runs Check on 10 tasks over a history of 5,000 commits,
// and, in the same run, the same `git log` to the end of its output alone:
// the floor. floor-x is Check's time over the floor's.
func BenchmarkCheck(b *testing.B) {
	dir := historyRepo(b, 5000)
	var sb strings.Builder
	for i := range 10 {
		fmt.Fprintf(&sb, "[[task]]\nname = \"t%d\"\nscope = [\"d%02d/**\"]\n", i, i*2)
	}
	p, err := Parse([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	git := &workspace.Git{Env: gittest.Env}
	var checkTotal, floorTotal time.Duration
	var rep *Report
	for b.Loop() {
		t0 := time.Now()
		cmd := git.Command(b.Context(), workspace.Cmd{Dir: dir}, logArgs(DefaultMaxCommits)...)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		floorTotal += time.Since(t0)

		t0 = time.Now()
		rep, err = Check(b.Context(), git, dir, p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		checkTotal += time.Since(t0)
	}
	if rep.Commits != 5000 {
		b.Fatalf("read %d commits, want 5000", rep.Commits)
	}
	b.ReportMetric(float64(floorTotal.Microseconds())/float64(b.N)/1000, "floor-ms/op")
	b.ReportMetric(float64(checkTotal.Microseconds())/float64(b.N)/1000, "check-ms/op")
	b.ReportMetric(float64(checkTotal)/float64(floorTotal), "floor-x")
}
