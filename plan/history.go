package plan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"

	"github.com/studiod/studiod/workspace"
)

// commitMark starts each commit in the log Check reads.
const commitMark = "\x01"

// logArgs is the history Check reads: each commit's changed paths, newest
// first, merges left out (their changes are their parents'), renames not
// looked for (a rename is its two paths, which is what co-change wants, and
// detecting them costs more than the rest of the log).
func logArgs(maxCommits int) []string {
	args := []string{"log", "--no-merges", "--no-renames", "--name-only", "-z", "--format=%x01"}
	if maxCommits > 0 {
		args = append(args, "--max-count="+strconv.Itoa(maxCommits))
	}
	return append(args, "HEAD", "--")
}

// LogArgs is the git command line Check reads the history with (without
// the runner's own options), for benchmarks to compare against.
func LogArgs(maxCommits int) []string { return logArgs(maxCommits) }

// walkHistory streams the history of the repository at dir through one git
// process, calling fn with the paths each commit changed (the slice is
// reused; fn must copy what it keeps). A repository without commits has no
// history.
func walkHistory(ctx context.Context, git *workspace.Git, dir string, maxCommits int, fn func(paths []string)) error {
	if _, err := git.Run(ctx, dir, "rev-parse", "--verify", "-q", "HEAD^{commit}"); err != nil {
		var ge *workspace.GitError
		if errors.As(err, &ge) && ge.Code == 1 {
			return nil
		}
		return err
	}
	args := logArgs(maxCommits)
	cmd := git.Command(ctx, workspace.Cmd{Dir: dir}, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git log: %w", err)
	}
	perr := parseLog(bufio.NewReaderSize(out, 64<<10), fn)
	if perr != nil {
		// Stop git rather than wait for it to write into a closed pipe.
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if perr != nil {
		return fmt.Errorf("read git log: %w", perr)
	}
	if werr != nil {
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			return &workspace.GitError{Args: args, Code: ee.ExitCode(), Stderr: stderr.String()}
		}
		return fmt.Errorf("git log: %w", werr)
	}
	return nil
}

// parseLog reads `git log --name-only -z --format=<commitMark>`: each
// commit is the mark, then its paths, NUL-terminated, the first after a
// newline.
func parseLog(r *bufio.Reader, fn func(paths []string)) error {
	var paths []string
	intern := map[string]string{}
	started := false
	for {
		tok, err := r.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			// A path longer than the buffer: gather it whole.
			long := append([]byte(nil), tok...)
			for errors.Is(err, bufio.ErrBufferFull) {
				tok, err = r.ReadSlice(0)
				long = append(long, tok...)
			}
			tok = long
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(tok)) > 0 {
				return fmt.Errorf("unterminated record %q", tok)
			}
			break
		}
		if err != nil {
			return err
		}
		tok = tok[:len(tok)-1]
		if string(tok) == commitMark {
			if started {
				fn(paths)
			}
			started = true
			paths = paths[:0]
			continue
		}
		tok = bytes.TrimPrefix(tok, []byte("\n"))
		if len(tok) > 0 {
			p, ok := intern[string(tok)]
			if !ok {
				p = string(tok)
				intern[p] = p
			}
			paths = append(paths, p)
		}
	}
	if started {
		fn(paths)
	}
	return nil
}
