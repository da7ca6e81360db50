package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/protocol"
)

// TestHostReports: an agent on a host reports through $STUDIO_HOOK as one
// here does (a note, a question, its state), over the reports socket its
// connection forwards there; after the connection drops and comes back it
// reports again. The reports socket takes reports alone, and only with a
// host session's secret.
func TestHostReports(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	s := e.spawn("reporter", "sh", "-c", `$STUDIO_HOOK note "from the host" && $STUDIO_HOOK waiting "Ship it?" && read a && echo "answered $a" && $STUDIO_HOOK idle && read b && $STUDIO_HOOK note "again: $b" && exec cat`)
	e.follow(s.ID)
	e.w.Await(t, "the host agent's note", func() bool { got, _ := e.w.Session(s.ID); return got.Note == "from the host" },
		func() string { got, _ := e.w.Session(s.ID); return jsonString(got) })
	// No waiting pattern: the question comes from its report.
	w := e.w.AwaitState(t, s.ID, protocol.StateWaiting)
	if w.Waiting == nil || w.Waiting.Question != "Ship it?" {
		t.Fatalf("waiting: %+v", w.Waiting)
	}
	if _, err := e.c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "yes"}); err != nil {
		t.Fatal(err)
	}
	e.awaitOutput(s.ID, "answered yes")
	e.w.AwaitState(t, s.ID, protocol.StateIdle)

	// The socket on the host is the host user's alone.
	sock := e.onHost("ls " + e.ssh.Dir + "/run/home-*.sock")
	if mode := e.onHost("stat -c %a " + sock); mode != "600" {
		t.Errorf("the reports socket on the host is %s, want 600", mode)
	}

	// The connection drops and comes back: the agent reports again.
	e.ssh.Stop()
	e.w.AwaitState(t, s.ID, protocol.StateDisconnected)
	e.ssh.Restart()
	e.w.Await(t, "the session back from disconnected", func() bool {
		got, _ := e.w.Session(s.ID)
		return got.State != protocol.StateDisconnected
	})
	if _, err := e.c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "later"}); err != nil {
		t.Fatal(err)
	}
	e.w.Await(t, "the note after the reconnection", func() bool { got, _ := e.w.Session(s.ID); return got.Note == "again: later" },
		func() string { got, _ := e.w.Session(s.ID); return jsonString(got) })

	// The reports socket at home: nothing but reports, and only a host
	// session's with its secret.
	local, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "local", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := protocol.Dial(t.Context(), filepath.Join(e.home, "run", "hosts.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Sessions(t.Context(), protocol.SessionsParams{All: true}); protocol.CodeOf(err) != protocol.CodeForbidden {
		t.Errorf("studio/sessions on the reports socket: %v, want forbidden", err)
	}
	for _, hp := range []protocol.HookParams{
		{SessionRef: protocol.SessionRef{Session: s.ID}, Event: "note", Message: "no secret"},
		{SessionRef: protocol.SessionRef{Session: local.ID}, Event: "note", Message: "a local session", Token: envValue(sessionEnv(t, *local), "STUDIO_SESSION_TOKEN")},
	} {
		if _, err := rc.Hook(t.Context(), hp); protocol.CodeOf(err) != protocol.CodeForbidden {
			t.Errorf("report %q on the reports socket: %v, want forbidden", hp.Message, err)
		}
	}
	if got, _ := e.w.Session(s.ID); strings.Contains(got.Note, "secret") {
		t.Errorf("a refused report changed the note: %q", got.Note)
	}
}

// envValue is the value of key in env, "" when unset.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}
