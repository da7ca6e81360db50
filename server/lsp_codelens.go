package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	lsp "go.lsp.dev/protocol"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// Code lenses head files that sessions are changing: "2 sessions edit this
// file: auth +12 −3 · api +5", then one "Review <session>" lens each.

func (s *Server) codeLens(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := lspDecode[lsp.CodeLensParams](params)
	if err != nil {
		return nil, err
	}
	lenses := []lsp.CodeLens{}
	repo, rel, ok := s.locate(docPath(p.TextDocument.URI))
	if !ok {
		return lspEncode(lenses)
	}
	edits := s.fileEdits(ctx, repo, rel)
	if len(edits) == 0 {
		return lspEncode(lenses)
	}
	top := lsp.Range{}
	var parts []string
	for _, e := range edits {
		parts = append(parts, fmt.Sprintf("%s +%d −%d", e.session.Name, e.add, e.del))
	}
	who := "1 session edits"
	if len(edits) > 1 {
		who = fmt.Sprintf("%d sessions edit", len(edits))
	}
	// The summary is informational: its command is empty.
	lenses = append(lenses, lsp.CodeLens{Range: top, Command: lsp.Command{Title: who + " this file: " + strings.Join(parts, " · ")}})
	for _, e := range edits {
		lenses = append(lenses, lsp.CodeLens{Range: top, Command: lsp.Command{
			Title:     "Review " + e.session.Name,
			Command:   protocol.CommandReview,
			Arguments: lspArgs(map[string]any{"session": e.session.Name, "repo": e.session.Repo, "paths": []string{rel}}),
		}})
	}
	return lspEncode(lenses)
}

// lspArgs makes a command's one object argument.
func lspArgs(arg any) []lsp.LSPAny {
	b, err := json.Marshal(arg)
	if err != nil {
		return nil
	}
	return []lsp.LSPAny{lsp.LSPAny(b)}
}

// locate finds the repository (main worktree) and repository-relative path
// of a file in the main worktree or a session worktree of a known session.
func (s *Server) locate(file string) (repo, rel string, ok bool) {
	if file == "" {
		return "", "", false
	}
	sessions := s.agents.List("", false)
	for _, sess := range sessions {
		if r, ok := relWithin(sess.Worktree, file); ok {
			return sess.Repo, r, true
		}
	}
	for _, sess := range sessions {
		if r, ok := relWithin(sess.Repo, file); ok {
			return sess.Repo, r, true
		}
	}
	return "", "", false
}

// relWithin returns file's slash path below root, if it is one that names
// a file of the repository.
func relWithin(root, file string) (string, bool) {
	if root == "" {
		return "", false
	}
	r, err := filepath.Rel(root, file)
	if err != nil {
		return "", false
	}
	r = filepath.ToSlash(r)
	if workspace.ValidatePath(r) != nil {
		return "", false
	}
	return r, true
}

// fileEdit is one session's change to a file.
type fileEdit struct {
	session  agents.Session
	add, del int
}

// fileEdits lists the sessions of repo whose work changes rel, with their
// line counts.
func (s *Server) fileEdits(ctx context.Context, repo, rel string) []fileEdit {
	var out []fileEdit
	for _, sess := range s.agents.List(repo, false) {
		if sess.Worktree == "" || sess.Base == "" {
			continue
		}
		st, ok := s.lens.stat(ctx, sess, rel)
		if ok && st.changed {
			out = append(out, fileEdit{session: sess, add: st.add, del: st.del})
		}
	}
	return out
}

// lensCache keeps per-(session, file) line counts, valid while the file's
// size and modification time and the session's base stay the same.
type lensCache struct {
	// mu guards m.
	mu sync.Mutex
	m  map[lensKey]lensStat
}

type lensKey struct {
	session, rel, base string
	size               int64
	mtime              time.Time
	exists             bool
}

type lensStat struct {
	changed  bool
	add, del int
}

// lensCacheMax bounds the cache; it is dropped whole when full.
const lensCacheMax = 4096

func (lc *lensCache) stat(ctx context.Context, sess agents.Session, rel string) (lensStat, bool) {
	file := filepath.Join(sess.Worktree, filepath.FromSlash(rel))
	key := lensKey{session: sess.ID, rel: rel, base: sess.Base}
	if fi, err := os.Lstat(file); err == nil {
		key.size, key.mtime, key.exists = fi.Size(), fi.ModTime(), true
	}
	lc.mu.Lock()
	st, ok := lc.m[key]
	lc.mu.Unlock()
	if ok {
		return st, true
	}
	st, err := numstat(ctx, sess.Worktree, sess.Base, rel, key.exists, file)
	if err != nil {
		return lensStat{}, false
	}
	lc.mu.Lock()
	if lc.m == nil || len(lc.m) >= lensCacheMax {
		lc.m = map[lensKey]lensStat{}
	}
	lc.m[key] = st
	lc.mu.Unlock()
	return st, true
}

// numstat counts the lines a worktree's copy of rel changed against base,
// uncommitted work included. A file absent from base and not yet added to
// the index (git diff does not see it) counts all its lines as added.
func numstat(ctx context.Context, dir, base, rel string, exists bool, file string) (lensStat, error) {
	if err := workspace.ValidateRefArg(base); err != nil {
		return lensStat{}, err
	}
	g := workspace.DefaultGit
	cmd := workspace.Cmd{Dir: dir, Env: []string{"GIT_LITERAL_PATHSPECS=1"}}
	out, err := g.RunCmd(ctx, cmd, "diff", "--numstat", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", base, "--", rel)
	if err != nil {
		return lensStat{}, err
	}
	if f := strings.SplitN(string(bytes.TrimRight(out, "\x00")), "\t", 3); len(f) == 3 {
		a, _ := strconv.Atoi(f[0]) // "-" for binary files: 0
		d, _ := strconv.Atoi(f[1])
		return lensStat{changed: true, add: a, del: d}, nil
	}
	if !exists {
		return lensStat{}, nil
	}
	if _, err := g.RunCmd(ctx, cmd, "cat-file", "-e", base+":"+rel); err == nil {
		return lensStat{}, nil // unchanged
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return lensStat{}, err
	}
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return lensStat{changed: true, add: n}, nil
}

// refreshLenses asks the client to fetch code lenses again, once for any
// number of changes queued before the request goes out.
func (c *conn) refreshLenses() {
	c.lsp.mu.Lock()
	ok := c.lsp.lensRefresh && c.lsp.ready
	c.lsp.mu.Unlock()
	if !ok || c.lsp.refreshQueued.Swap(true) {
		return
	}
	c.lspQueue(func() {
		c.lsp.refreshQueued.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		if err := c.lspCall(ctx, lspCodeLensRefresh, nil, nil); err != nil {
			c.s.log.Debug("code lens refresh", "err", err)
		}
	})
}
