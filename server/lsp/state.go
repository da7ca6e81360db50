package lsp

import (
	"path/filepath"

	"github.com/studiod/studiod/protocol"
)

// state is what the face knows of the daemon: the sessions and the
// predicted conflicts, kept current by the daemon's notifications. It is
// guarded by server.mu.
type state struct {
	sessions  map[string]protocol.Session  // by ID
	conflicts map[string]protocol.Conflict // by ID
}

func newState() state {
	return state{sessions: map[string]protocol.Session{}, conflicts: map[string]protocol.Conflict{}}
}

// outOfScopeFiles are the files of s's worktree it changed outside its
// scope: they get a diagnostic.
func outOfScopeFiles(s protocol.Session) []string {
	var out []string
	for _, p := range s.OutOfScope {
		out = append(out, filepath.Join(s.Worktree, filepath.FromSlash(p)))
	}
	return out
}

// setSession records a session and returns the files whose diagnostics
// may have changed with it.
func (st *state) setSession(s protocol.Session) map[string]bool {
	files := map[string]bool{}
	for _, f := range outOfScopeFiles(st.sessions[s.ID]) {
		files[f] = true
	}
	st.sessions[s.ID] = s
	for _, f := range outOfScopeFiles(s) {
		files[f] = true
	}
	return files
}

// files lists every file with a diagnostic: a side of a conflict, or a
// change outside a session's scope.
func (st *state) files() map[string]bool {
	out := map[string]bool{}
	for _, cf := range st.conflicts {
		for _, f := range diagnosedFiles(cf) {
			out[f] = true
		}
	}
	for _, s := range st.sessions {
		for _, f := range outOfScopeFiles(s) {
			out[f] = true
		}
	}
	return out
}

// reset replaces everything known and returns the files whose diagnostics
// may have changed: those with a conflict before or after.
func (st *state) reset(sessions []protocol.Session, conflicts []protocol.Conflict) map[string]bool {
	files := st.files()
	st.sessions = map[string]protocol.Session{}
	for _, s := range sessions {
		st.sessions[s.ID] = s
	}
	st.conflicts = map[string]protocol.Conflict{}
	for _, cf := range conflicts {
		st.conflicts[cf.ID] = cf
	}
	for f := range st.files() {
		files[f] = true
	}
	return files
}

// apply applies a conflict delta and returns the files it touches.
func (st *state) apply(d protocol.ConflictsChanged) map[string]bool {
	files := map[string]bool{}
	touch := func(cf protocol.Conflict) {
		for _, f := range diagnosedFiles(cf) {
			files[f] = true
		}
	}
	for _, list := range [][]protocol.Conflict{d.Added, d.Updated} {
		for _, cf := range list {
			if old, ok := st.conflicts[cf.ID]; ok {
				touch(old)
			}
			st.conflicts[cf.ID] = cf
			touch(cf)
		}
	}
	for _, id := range d.Resolved {
		if old, ok := st.conflicts[id]; ok {
			touch(old)
			delete(st.conflicts, id)
		}
	}
	return files
}

// session finds a session of repo by name.
func (st *state) session(repo, name string) (protocol.Session, bool) {
	for _, s := range st.sessions {
		if s.Name == name && s.Repo == repo && s.State != protocol.StateRemoved {
			return s, true
		}
	}
	return protocol.Session{}, false
}

// diagnosedFiles are the files a conflict puts diagnostics in: each side's
// own copy.
func diagnosedFiles(cf protocol.Conflict) []string {
	var out []string
	for _, f := range []string{cf.A.File, cf.B.File} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
