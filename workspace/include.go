package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IncludeFile names the file, at the top of a repository, that lists in
// gitignore syntax the ignored files a new worktree needs from the main one
// (`.env`, local settings): the convention other worktree tools share.
const IncludeFile = ".worktreeinclude"

// WorktreeInclude lists the files of the main worktree that IncludeFile
// names and git ignores, as slash-separated paths relative to the root,
// sorted. Files that IncludeFile names but git does not ignore are left
// out: a checkout has the tracked ones, and untracked work in progress is
// not configuration. Without IncludeFile it returns nothing.
func (r *Repo) WorktreeInclude(ctx context.Context) ([]string, error) {
	list := filepath.Join(r.Root, IncludeFile)
	if fi, err := os.Stat(list); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", list, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", list)
	}
	// Untracked files the list names, by git's own pattern matching...
	out, err := r.Run(ctx, "ls-files", "-z", "--others", "--ignored", "--exclude-from="+list)
	if err != nil {
		return nil, fmt.Errorf("list %s files: %w", IncludeFile, err)
	}
	named := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(named) == 0 || named[0] == "" {
		return nil, nil
	}
	// ...of which those git ignores.
	out, err = r.Git.RunCmd(ctx, Cmd{Dir: r.Root, Stdin: strings.NewReader(strings.Join(named, "\x00") + "\x00")}, "check-ignore", "-z", "--stdin")
	if err != nil && ExitCode(err) != 1 { // 1: none ignored
		return nil, fmt.Errorf("list %s files: %w", IncludeFile, err)
	}
	var files []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files, nil
}
