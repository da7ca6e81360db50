package acp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	sdk "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/protocol"
)

// thread is one studiod session the client follows. Server.mu guards its
// fields, but for those the worker alone touches: offset, buf, replaying,
// requests, perms, behind, noted (and state, for terminal agents).
type thread struct {
	sid      sdk.SessionId // the client's session id: the session's first id
	id       string        // studiod session id
	name     string
	repo     string
	worktree string
	agent    string
	acp      bool // the agent speaks ACP: its log is JSON lines
	profiles []protocol.Profile

	// offset is how far the log has been read; buf holds a line cut short.
	offset int64
	buf    []byte
	// streaming says the daemon streams the log; it stops when the agent
	// exits, and starts again when it runs again.
	streaming bool
	// replaying is true while session/load replays the log: nothing is
	// asked, nothing is announced as answered elsewhere.
	replaying bool
	// requests maps the ids of the requests studiod sent the agent to
	// their methods, to read the responses.
	requests map[string]string
	// turns are this client's prompts not yet ended, oldest first.
	turns []*turn
	// perms are the agent's open permission requests, by JSON-RPC id.
	perms map[string]*perm
	// ask is the terminal agent's question put to the client.
	ask *perm

	state   protocol.State
	behind  int
	noted   map[string]string // conflict id → note tool call id
	prompts int               // prompts the agent got (from any face)
}

// turn is a prompt of this client: key is the JSON-RPC id studiod gave it
// once it went to the agent.
type turn struct {
	text    string
	key     string
	started bool // a terminal agent has been seen working on it
	done    chan turnEnd
}

type turnEnd struct {
	r   sdk.PromptResponse
	err error
}

// end ends the turn; the first end counts.
func (t *turn) end(r sdk.PromptResponse, err error) {
	select {
	case t.done <- turnEnd{r, err}:
	default:
	}
}

// NewSession spawns a studiod session in the repository of the client's
// cwd: its own worktree and branch, the agent of --agent, else [acp]
// agent, else [defaults] agent. The thread's config options offer every
// profile; changing it before the first prompt starts that agent instead.
func (s *Server) NewSession(ctx context.Context, p sdk.NewSessionRequest) (sdk.NewSessionResponse, error) {
	if p.Cwd == "" || !strings.HasPrefix(p.Cwd, "/") {
		return sdk.NewSessionResponse{}, invalid("cwd %q: give the absolute path of a directory inside a git repository", p.Cwd)
	}
	profs, err := s.daemon().Profiles(ctx, protocol.ProfilesParams{Repo: p.Cwd})
	if err != nil {
		return sdk.NewSessionResponse{}, invalid("cwd %s: %v", p.Cwd, err)
	}
	agent := s.cfg.Agent
	if agent == "" {
		agent = profs.ACP
	}
	name := newName()
	// A client that knows studiod may name the session:
	// "_meta": {"studiod": {"name": "fix-login"}}.
	if m, ok := p.Meta["studiod"].(map[string]any); ok {
		if n, ok := m["name"].(string); ok && n != "" {
			name = n
		}
	}
	sess, err := s.daemon().Spawn(ctx, protocol.SpawnParams{Repo: profs.Repo, Agent: agent, Name: name})
	if err != nil {
		return sdk.NewSessionResponse{}, toACP(err)
	}
	th := s.attach(*sess, profs.Profiles)
	if err := s.follow(ctx, th, false); err != nil {
		return sdk.NewSessionResponse{}, toACP(err)
	}
	return sdk.NewSessionResponse{SessionId: sdk.SessionId(sess.ID), ConfigOptions: s.configOptions(th)}, nil
}

// newName names a thread's session: "acp-", the time (so that the
// sessions an editor starts sort together and by age) and a random tail.
func newName() string {
	var b [2]byte
	rand.Read(b[:])
	return "acp-" + time.Now().UTC().Format("0102-1504") + "-" + hex.EncodeToString(b[:])
}

// attach makes (or finds) the thread of a session.
func (s *Server) attach(sess protocol.Session, profiles []protocol.Profile) *thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	if th, ok := s.byID[sess.ID]; ok {
		return th
	}
	th := &thread{sid: sdk.SessionId(sess.ID), id: sess.ID, name: sess.Name, repo: sess.Repo, worktree: sess.Worktree, agent: sess.Agent,
		acp: !sess.Terminal(), profiles: profiles, state: sess.State, behind: sess.Behind,
		requests: map[string]string{}, perms: map[string]*perm{}, noted: map[string]string{}}
	s.threads[th.sid] = th
	s.byID[th.id] = th
	return th
}

// idOf is th's studiod session id, for callers other than the worker
// (the Agent option can change it).
func (s *Server) idOf(th *thread) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return th.id
}

func (s *Server) thread(id sdk.SessionId) (*thread, error) {
	s.mu.Lock()
	th := s.threads[id]
	s.mu.Unlock()
	if th == nil {
		return nil, &sdk.RequestError{Code: codeResourceNotFound, Message: fmt.Sprintf("session %s is not open on this connection: load it first (session/load)", id)}
	}
	return th, nil
}

// configOptions offers the agent profiles.
func (s *Server) configOptions(th *thread) []sdk.SessionConfigOption {
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := sdk.SessionConfigSelectOptionsUngrouped{}
	for _, p := range th.profiles {
		kind := "terminal agent"
		if !p.Terminal() {
			kind = "ACP agent"
		}
		opts = append(opts, sdk.SessionConfigSelectOption{Name: p.Name, Value: sdk.SessionConfigValueId(p.Name), Description: ptr(kind)})
	}
	return []sdk.SessionConfigOption{{Select: &sdk.SessionConfigOptionSelect{
		Id: "agent", Name: "Agent", Type: "select", CurrentValue: sdk.SessionConfigValueId(th.agent),
		Description: ptr("The studiod agent profile this session runs; it can change until the first prompt"),
		Options:     sdk.SessionConfigSelectOptions{Ungrouped: &opts},
	}}}
}

// SetSessionConfigOption changes the agent before the first prompt: the
// session's agent is stopped and the chosen one started in the same
// worktree, as the same session name.
func (s *Server) SetSessionConfigOption(ctx context.Context, p sdk.SetSessionConfigOptionRequest) (sdk.SetSessionConfigOptionResponse, error) {
	v := p.ValueId
	if v == nil {
		return sdk.SetSessionConfigOptionResponse{}, invalid("studiod's only option, agent, takes a value id")
	}
	th, err := s.thread(v.SessionId)
	if err != nil {
		return sdk.SetSessionConfigOptionResponse{}, err
	}
	if v.ConfigId != "agent" {
		return sdk.SetSessionConfigOptionResponse{}, invalid("unknown config option %q: studiod offers agent", v.ConfigId)
	}
	want := string(v.Value)
	s.mu.Lock()
	cur, prompted, known := th.agent, th.prompts > 0 || len(th.turns) > 0, false
	for _, pr := range th.profiles {
		known = known || pr.Name == want
	}
	s.mu.Unlock()
	switch {
	case !known:
		return sdk.SetSessionConfigOptionResponse{}, invalid("no agent profile %q in this repository's config", want)
	case want == cur:
		return sdk.SetSessionConfigOptionResponse{ConfigOptions: s.configOptions(th)}, nil
	case prompted:
		return sdk.SetSessionConfigOptionResponse{}, invalid("session %s has had a prompt: its agent stays %s; start a new thread for %s", th.name, cur, want)
	}
	if err := s.switchAgent(ctx, th, want); err != nil {
		return sdk.SetSessionConfigOptionResponse{}, toACP(err)
	}
	return sdk.SetSessionConfigOptionResponse{ConfigOptions: s.configOptions(th)}, nil
}

// LoadSession attaches to any session of the cwd's repository, spawned
// from anywhere, and replays its conversation before answering.
func (s *Server) LoadSession(ctx context.Context, p sdk.LoadSessionRequest) (sdk.LoadSessionResponse, error) {
	sess, err := s.daemon().Session(ctx, protocol.SessionRef{Session: string(p.SessionId)})
	if err != nil {
		return sdk.LoadSessionResponse{}, toACP(err)
	}
	profs, err := s.daemon().Profiles(ctx, protocol.ProfilesParams{Repo: p.Cwd})
	if err != nil {
		return sdk.LoadSessionResponse{}, invalid("cwd %s: %v", p.Cwd, err)
	}
	if sess.Repo != profs.Repo {
		return sdk.LoadSessionResponse{}, invalid("session %s belongs to repository %s, not to %s (the cwd's)", sess.Name, sess.Repo, profs.Repo)
	}
	if sess.State == protocol.StateRemoved {
		return sdk.LoadSessionResponse{}, invalid("session %s was removed: its worktree is gone", sess.Name)
	}
	s.mu.Lock()
	_, open := s.byID[sess.ID]
	s.mu.Unlock()
	if open {
		return sdk.LoadSessionResponse{}, invalid("session %s is already open on this connection", sess.Name)
	}
	th := s.attach(*sess, profs.Profiles)
	if err := s.follow(ctx, th, true); err != nil {
		return sdk.LoadSessionResponse{}, toACP(err)
	}
	return sdk.LoadSessionResponse{ConfigOptions: s.configOptions(th)}, nil
}

// ListSessions lists every studiod session of the cwd's repository (of
// every repository without a cwd), whoever spawned it, newest first.
func (s *Server) ListSessions(ctx context.Context, p sdk.ListSessionsRequest) (sdk.ListSessionsResponse, error) {
	repo := ""
	if p.Cwd != nil && *p.Cwd != "" {
		profs, err := s.daemon().Profiles(ctx, protocol.ProfilesParams{Repo: *p.Cwd})
		if err != nil {
			return sdk.ListSessionsResponse{}, invalid("cwd %s: %v", *p.Cwd, err)
		}
		repo = profs.Repo
	}
	res, err := s.daemon().Sessions(ctx, protocol.SessionsParams{Repo: repo})
	if err != nil {
		return sdk.ListSessionsResponse{}, toACP(err)
	}
	out := sdk.ListSessionsResponse{Sessions: []sdk.SessionInfo{}}
	for i := len(res.Sessions) - 1; i >= 0; i-- {
		sess := res.Sessions[i]
		if repo != "" && sess.Repo != repo {
			continue
		}
		title := sess.Name + " · " + sess.Agent + " · " + string(sess.State)
		if note := firstLine(sess.Note); note != "" {
			title += " — " + note
		}
		out.Sessions = append(out.Sessions, sdk.SessionInfo{
			SessionId: sdk.SessionId(sess.ID), Cwd: sess.Repo, Title: ptr(title),
			UpdatedAt: ptr(sess.Updated.UTC().Format(time.RFC3339)),
			Meta: map[string]any{"studiod": map[string]any{"name": sess.Name, "worktree": sess.Worktree,
				"branch": sess.Branch, "agent": sess.Agent, "state": sess.State}},
		})
	}
	return out, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	return s
}

// Prompt sends the prompt to the session's agent (queued behind a turn
// that runs) and answers when its turn ends. Resource links become
// mentions of their URI.
func (s *Server) Prompt(ctx context.Context, p sdk.PromptRequest) (sdk.PromptResponse, error) {
	th, err := s.thread(p.SessionId)
	if err != nil {
		return sdk.PromptResponse{}, err
	}
	var parts []string
	for _, b := range p.Prompt {
		switch {
		case b.Text != nil:
			parts = append(parts, b.Text.Text)
		case b.ResourceLink != nil:
			parts = append(parts, "@"+strings.TrimPrefix(b.ResourceLink.Uri, "file://"))
		default:
			return sdk.PromptResponse{}, invalid("studiod takes text and resource links in a prompt (see its prompt capabilities)")
		}
	}
	text := strings.Join(parts, "\n")
	if strings.TrimSpace(text) == "" {
		return sdk.PromptResponse{}, invalid("empty prompt")
	}
	t := &turn{text: text, done: make(chan turnEnd, 1)}
	s.mu.Lock()
	th.turns = append(th.turns, t)
	s.mu.Unlock()
	defer s.dropTurn(th, t)
	// The prompt is delivered even when the client cancels the turn
	// meanwhile: session/cancel then ends it.
	if err := s.again(ctx, func(api *protocol.Client) error {
		_, err := api.Send(context.WithoutCancel(ctx), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.idOf(th)}, Text: text})
		return err
	}); err != nil {
		return sdk.PromptResponse{}, toACP(err)
	}
	s.mu.Lock()
	th.prompts++ // a terminal agent's log says nothing of prompts
	s.mu.Unlock()
	select {
	case e := <-t.done:
		return e.r, e.err
	case <-ctx.Done():
	}
	// Cancelled (session/cancel): the agent ends the turn, and says how.
	select {
	case e := <-t.done:
		return e.r, e.err
	case <-time.After(5 * time.Second):
	case <-s.ctx.Done():
	}
	return sdk.PromptResponse{StopReason: sdk.StopReasonCancelled}, nil
}

func (s *Server) dropTurn(th *thread, t *turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range th.turns {
		if x == t {
			th.turns = append(th.turns[:i], th.turns[i+1:]...)
			return
		}
	}
}

// Cancel cancels the session's running turn, whichever face started it;
// the agent goes on running, waiting for the next prompt.
func (s *Server) Cancel(ctx context.Context, p sdk.CancelNotification) error {
	th, err := s.thread(p.SessionId)
	if err != nil {
		return err
	}
	// A notification is handled in line with the others: the daemon's
	// answer waits for the turn to end, so it is not awaited here.
	go func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
		defer cancel()
		if _, err := s.daemon().Cancel(cctx, protocol.SessionRef{Session: s.idOf(th)}); err != nil {
			s.cfg.Log.Warn("cancel", "session", th.name, "err", err)
		}
	}()
	return nil
}

// switchAgent starts want instead of the thread's agent: the session is
// stopped and removed, and spawned again under the same name.
func (s *Server) switchAgent(ctx context.Context, th *thread, want string) error {
	ref := protocol.SessionRef{Session: s.idOf(th)}
	if _, err := s.daemon().Stop(ctx, protocol.StopParams{SessionRef: ref}); err != nil {
		return err
	}
	if _, err := s.daemon().Remove(ctx, protocol.RemoveParams{SessionRef: ref, Force: true}); err != nil {
		return err
	}
	sess, err := s.daemon().Spawn(ctx, protocol.SpawnParams{Repo: th.repo, Name: th.name, Agent: want})
	if err != nil {
		return err
	}
	// The client keeps its session id; the daemon's new session stands
	// behind it.
	return s.run(ctx, func() {
		s.mu.Lock()
		delete(s.outputs, th.id)
		delete(s.byID, th.id)
		th.id, th.agent, th.worktree, th.acp, th.state = sess.ID, sess.Agent, sess.Worktree, !sess.Terminal(), sess.State
		th.offset, th.buf, th.streaming = 0, nil, false
		th.requests, th.perms = map[string]string{}, map[string]*perm{}
		s.byID[th.id] = th
		s.mu.Unlock()
		if err := s.startStream(ctx, th); err != nil {
			s.cfg.Log.Warn("follow the new agent", "session", th.name, "err", err)
		}
	})
}
