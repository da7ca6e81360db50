package agents

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestOpencodeDB(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"home", []string{"HOME=/h"}, "/h/.local/share/opencode/opencode.db"},
		{"xdg", []string{"HOME=/h", "XDG_DATA_HOME=/d"}, "/d/opencode/opencode.db"},
		{"the profile's home wins", []string{"HOME=/h", "HOME=/p"}, "/p/.local/share/opencode/opencode.db"},
		{"named", []string{"HOME=/h", "OPENCODE_DB=mine.db"}, "/h/.local/share/opencode/mine.db"},
		{"absolute", []string{"HOME=/h", "OPENCODE_DB=/x/oc.db"}, "/x/oc.db"},
		{"in memory", []string{"HOME=/h", "OPENCODE_DB=:memory:"}, ""},
		{"no home", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := opencodeDB(tt.env); got != tt.want {
				t.Errorf("opencodeDB = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOpencodeUsage sums the answers of the sessions opencode held in the
// worktree since the spawn, a subagent's too: not the person's messages,
// not sessions elsewhere or from before; the conversation is the first
// session that is no subagent's.
func TestOpencodeUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "opencode.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The columns studiod reads, as opencode 1.18.33 creates them.
	for _, q := range []string{
		"CREATE TABLE session (id text PRIMARY KEY, parent_id text, directory text NOT NULL, time_created integer NOT NULL)",
		"CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL, data text NOT NULL)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	const wt = "/wt/oc"
	since := time.UnixMilli(1000)
	sessions := []struct {
		id, parent, dir string
		created         int64
	}{
		{"ses_old", "", wt, 500},
		{"ses_main", "", wt, 1001},
		{"ses_sub", "ses_main", wt, 1002},
		{"ses_other", "", "/wt/other", 1003},
	}
	for _, s := range sessions {
		if _, err := db.Exec("INSERT INTO session VALUES (?, NULLIF(?, ''), ?, ?)", s.id, s.parent, s.dir, s.created); err != nil {
			t.Fatal(err)
		}
	}
	answer := `{"role":"assistant","cost":0.5,"tokens":{"input":100,"output":10,"reasoning":5,"cache":{"read":1000,"write":200}}}`
	messages := []struct{ id, session, data string }{
		{"msg_1", "ses_old", answer},
		{"msg_2", "ses_main", `{"role":"user"}`},
		{"msg_3", "ses_main", answer},
		{"msg_4", "ses_main", `{"role":"assistant","cost":0.25,"tokens":{"input":7,"output":3,"reasoning":0,"cache":{"read":0,"write":0}}}`},
		{"msg_5", "ses_sub", answer},
		{"msg_6", "ses_other", answer},
	}
	for i, m := range messages {
		if _, err := db.Exec("INSERT INTO message VALUES (?, ?, ?, ?)", m.id, m.session, 2000+i, m.data); err != nil {
			t.Fatal(err)
		}
	}
	u, conv, err := opencodeUsage(t.Context(), path, wt, since)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{Input: 207, Output: 33, CacheRead: 2000, CacheWrite: 400}
	if u == nil || u.Cost == nil || *u.Cost != 1.25 {
		t.Fatalf("usage %+v, want %+v and cost 1.25", u, want)
	}
	got := *u
	got.Cost = nil
	if got != want {
		t.Errorf("usage %+v, want %+v", got, want)
	}
	if conv != "ses_main" {
		t.Errorf("conversation %q, want ses_main", conv)
	}
	// Nothing recorded yet in a worktree: no usage; no database: an error.
	if u, conv, err := opencodeUsage(t.Context(), path, "/wt/new", since); err != nil || u != nil || conv != "" {
		t.Errorf("new worktree: %+v, %q, %v; want nothing", u, conv, err)
	}
	if _, _, err := opencodeUsage(t.Context(), filepath.Join(t.TempDir(), "none.db"), wt, since); err == nil {
		t.Error("no database: no error")
	}
}
