package agents

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The gate decides on the file a write will really change, not on the
// name the agent gave: a committed symbolic link, /proc/self/cwd, a `..`
// after a linked directory or a linked path to a worktree all name files
// elsewhere. And a write that lands in another session's worktree or in
// the person's own checkout is always something to say, whatever the
// other sessions' changes: no session writes there.

// maxLinks bounds the symbolic links followed while resolving one path,
// as the kernel's ELOOP does.
const maxLinks = 40

// realPath resolves p as the kernel does when a process whose working
// directory is cwd opens it: relative to cwd, /proc/self/cwd (and
// thread-self) as cwd itself, `..` after what a link named, and every
// symbolic link followed. The parts that do not exist yet are kept as
// written.
func realPath(p, cwd string) string {
	if !filepath.IsAbs(cwd) {
		cwd = "/"
	}
	if !filepath.IsAbs(p) {
		p = cwd + "/" + p
	}
	todo := strings.Split(p, "/")
	resolved := "/"
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		if resolved == "/proc" && (c == "self" || c == "thread-self") && len(todo) > 0 {
			// The agent's own process, not the daemon's.
			switch todo[0] {
			case "cwd":
				todo = append(strings.Split(cwd, "/"), todo[1:]...)
				resolved = "/"
				continue
			case "root":
				todo = todo[1:]
				resolved = "/"
				continue
			}
		}
		next := filepath.Join(resolved, c)
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		target, err := os.Readlink(next)
		if err != nil || links > maxLinks {
			resolved = next
			continue
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return resolved
}

// foreignWrite says what is wrong with session s writing file (resolved),
// which is outside its own worktree: it is in another session's worktree,
// or in the person's own checkout of a repository studiod knows. Any other
// place (a scratch directory, a cache) is not the gate's to judge.
func (m *Manager) foreignWrite(s Session, file string) (string, []gateFinding) {
	others := m.List("", false)
	// Another session's worktree first: worktrees may live inside the
	// person's checkout (worktree_dir = ".worktrees").
	for _, o := range others {
		if o.ID == s.ID || o.Worktree == "" {
			continue
		}
		if rel, ok := relWithin(realPath(o.Worktree, "/"), file); ok {
			return rel, []gateFinding{{other: o.Name, text: fmt.Sprintf("%s is in the worktree of %s, not yours (%s): a session writes only its own worktree. Make the change in yours, or ask the person", file, sessionText(o), s.Worktree)}}
		}
	}
	repos := map[string]bool{s.Repo: true}
	for _, o := range others {
		repos[o.Repo] = true
	}
	for repo := range repos {
		if repo == "" {
			continue
		}
		if within(file, realPath(repo, "/")) {
			return file, []gateFinding{{text: fmt.Sprintf("%s is in the person's own checkout (%s), not your worktree (%s): a session never writes there. Make the change in your worktree; it reaches %s when the person merges it", file, repo, s.Worktree, s.Target)}}
		}
	}
	return "", nil
}
