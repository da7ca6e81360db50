package agents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/studiod/studiod/agents/host"
)

// TestClaudeUsage sums a Claude Code transcript: an answer written as
// several lines (one per block) counts once, lines without usage (the
// person's, the CLI's own messages) and a line still being written count
// not at all, and a cost counts where a line gives one.
func TestClaudeUsage(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("testdata", "transcripts", "claude.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := claudeUsage(path)
	if err != nil {
		t.Fatal(err)
	}
	cost := 0.25
	// The context is the last answer's (msg_2): what it read, 42 + 60 +
	// 5007, and its 9 tokens.
	want := &Usage{Input: 1245, Output: 66, CacheRead: 9103, CacheWrite: 871, Cost: &cost, Context: 5118}
	if !u.equal(want) {
		t.Errorf("usage %+v (cost %v), want %+v (cost 0.25)", u, u.Cost, want)
	}

	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, []byte(`{"type":"user","message":{"role":"user","content":"hi"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if u, err := claudeUsage(empty); u != nil || err != nil {
		t.Errorf("a transcript with no answer: %+v, %v; want nothing", u, err)
	}
	for _, bad := range []string{"transcript.jsonl", filepath.Join(t.TempDir(), "missing.jsonl"), t.TempDir()} {
		if u, err := claudeUsage(bad); err == nil || u != nil {
			t.Errorf("claudeUsage(%q) = %+v, %v; want an error", bad, u, err)
		}
	}
}

// TestTranscriptsIncremental: reading a transcript as Claude Code writes
// it, a hook at a time, gives the figures a reading of the whole gives:
// a line cut short waits for its end, an answer's later line replaces its
// earlier one, and a transcript written anew is read from its start.
func TestTranscriptsIncremental(t *testing.T) {
	whole, err := os.ReadFile(filepath.Join("testdata", "transcripts", "claude.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.jsonl")
	var ts transcripts
	var got *Usage
	// Cut after each line and in the middle of each.
	for end := 1; end <= len(whole); end += 97 {
		if err := os.WriteFile(path, whole[:end], 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err = ts.usage("s", path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ = ts.usage("s", path)
	want, err := claudeUsage(path)
	if err != nil || !got.equal(want) || got.Input != 1245 {
		t.Errorf("read in pieces: %+v; whole: %+v, %v", got, want, err)
	}
	// A shorter file is a new transcript.
	if err := os.WriteFile(path, []byte(`{"type":"assistant","message":{"id":"m","usage":{"input_tokens":7,"output_tokens":1}}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ = ts.usage("s", path); got == nil || got.Input != 7 || got.Output != 1 || got.CacheRead != 0 {
		t.Errorf("after the transcript was written anew: %+v, want 7 in, 1 out", got)
	}
}

// TestStoreUsage: a session's usage survives the daemon's restart, cost
// included, and a session without figures stays without.
func TestStoreUsage(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "db")
	st, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cost := 0.0123
	now := time.Now()
	for _, r := range []*Session{
		{ID: "a", Name: "a", State: Idle, Created: now, Updated: now, Usage: &Usage{Input: 1, Output: 2, CacheRead: 3, CacheWrite: 4, Cost: &cost}},
		{ID: "b", Name: "b", State: Idle, Created: now.Add(time.Second), Updated: now},
	} {
		if err := st.put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	st.close()
	if st, err = openStore(ctx, db); err != nil {
		t.Fatal(err)
	}
	defer st.close()
	all, err := st.all(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("sessions: %d, %v", len(all), err)
	}
	if want := (&Usage{Input: 1, Output: 2, CacheRead: 3, CacheWrite: 4, Cost: &cost}); !all[0].Usage.equal(want) {
		t.Errorf("usage after reopening: %+v, want %+v", all[0].Usage, want)
	}
	if all[1].Usage != nil {
		t.Errorf("a session without figures has usage %+v after reopening", all[1].Usage)
	}
}

// TestACPUsage: an ACP session's usage is its turns' token counts summed
// and its cost what each process's last usage_update said, added up over
// the processes of the session (an agent started again after it exited).
func TestACPUsage(t *testing.T) {
	st := newACPState(t.TempDir())
	rec := func(from, msg string) {
		st.apply(host.Record{From: from, Msg: json.RawMessage(msg)})
	}
	used := 100
	turn := func(id, usage, cost string) {
		used += 1000
		rec(host.FromClient, `{"jsonrpc":"2.0","id":`+id+`,"method":"session/prompt","params":{"sessionId":"s1","prompt":[]}}`)
		rec(host.FromAgent, `{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s1","update":{"sessionUpdate":"usage_update","used":`+strconv.Itoa(used)+`,"size":200000,"cost":{"amount":`+cost+`,"currency":"USD"}}}}`)
		rec(host.FromAgent, `{"jsonrpc":"2.0","id":`+id+`,"result":{"stopReason":"end_turn","usage":`+usage+`}}`)
	}
	if st.used() != nil {
		t.Fatalf("usage %+v before any turn", st.used())
	}
	st.apply(host.Record{From: host.FromShim, Text: "started"})
	turn("1", `{"inputTokens":10,"outputTokens":2,"cachedReadTokens":100,"cachedWriteTokens":5,"totalTokens":117}`, "0.5")
	turn("2", `{"inputTokens":1,"outputTokens":1,"totalTokens":2}`, "0.75")
	st.apply(host.Record{From: host.FromShim, Text: "exited 0"})
	st.apply(host.Record{From: host.FromShim, Text: "started"})
	turn("1", `{"inputTokens":3,"outputTokens":4,"cachedReadTokens":7,"cachedWriteTokens":0,"totalTokens":14}`, "0.25")
	cost := 1.0
	// The context is what the last usage_update said.
	if got, want := st.used(), (&Usage{Input: 14, Output: 7, CacheRead: 107, CacheWrite: 5, Cost: &cost, Context: 3100, ContextWindow: 200000}); !got.equal(want) {
		t.Errorf("usage %+v (cost %v), want %+v (cost 1)", got, *got.Cost, want)
	}
}

// TestCodexUsage reads a Codex rollout: the last token_count event holds
// the session's totals so far (input counting the cached tokens, OpenAI's
// way); a token_count without figures (rate limits only) changes nothing.
func TestCodexUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rollout.jsonl")
	lines := `{"timestamp":"2026-12-07T00:00:00Z","type":"session_meta","payload":{"id":"c1","cwd":"/w"}}
{"timestamp":"2026-12-07T00:00:01Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}
{"timestamp":"2026-12-07T00:00:02Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1000,"cached_input_tokens":300,"output_tokens":30,"reasoning_output_tokens":0,"total_tokens":1030},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":300,"output_tokens":30,"reasoning_output_tokens":0,"total_tokens":1030},"model_context_window":272000}}}
{"timestamp":"2026-12-07T00:00:03Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"usage"}]}}
{"timestamp":"2026-12-07T00:00:04Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":2050,"cached_input_tokens":1300,"output_tokens":38,"reasoning_output_tokens":0,"total_tokens":2088}}}}
{"timestamp":"2026-12-07T00:00:05Z","type":"event_msg","payload":{"type":"token_count","info":null}}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var ts transcripts
	u, err := ts.usage("s", path)
	if err != nil {
		t.Fatal(err)
	}
	// The context is the last turn's tokens where an event gives them,
	// the window from whichever event said it last.
	if want := (&Usage{Input: 750, CacheRead: 1300, Output: 38, Context: 1030, ContextWindow: 272000}); !u.equal(want) {
		t.Errorf("usage %+v, want %+v", u, want)
	}
}

// TestGeminiUsage reads a Gemini CLI chat: each model message's tokens
// once, by id (input counting the cached tokens, thoughts billed as
// output); the person's messages and the chat's updates count not at all.
// A Claude Code line whose tool input names "tokens" or "token_count" is
// still read as Claude's.
func TestGeminiUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session.jsonl")
	lines := `{"sessionId":"g1","projectHash":"x","startTime":"2026-12-07T16:42:20.016Z","kind":"main"}
{"id":"u1","timestamp":"2026-12-07T16:42:20.076Z","type":"user","content":[{"text":"say hello"}]}
{"id":"m1","timestamp":"2026-12-07T16:42:20.123Z","type":"gemini","content":"Hi.","thoughts":[],"tokens":{"input":1600,"output":30,"cached":400,"thoughts":5,"tool":0,"total":1635},"model":"gemini-3.8-flash"}
{"$set":{"lastUpdated":"2026-12-07T16:42:20.123Z"}}
{"id":"m2","timestamp":"2026-12-07T16:42:21.000Z","type":"gemini","content":"Done.","tokens":{"input":2000,"output":8,"cached":1500,"thoughts":0,"tool":0,"total":2008}}
{"id":"m2","timestamp":"2026-12-07T16:42:21.100Z","type":"gemini","content":"Done.","tokens":{"input":2000,"output":9,"cached":1500,"thoughts":0,"tool":0,"total":2009}}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var ts transcripts
	u, err := ts.usage("g", path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Usage{Input: 1200 + 500, CacheRead: 400 + 1500, Output: 35 + 9, Context: 2009}); !u.equal(want) {
		t.Errorf("gemini usage %+v, want %+v", u, want)
	}

	// A subagent's answer (isSidechain) counts in the usage, not in the
	// context, which is the session's own model's.
	side := filepath.Join(t.TempDir(), "side.jsonl")
	lines = `{"type":"assistant","message":{"id":"a1","usage":{"input_tokens":10,"output_tokens":2,"cache_read_input_tokens":100,"cache_creation_input_tokens":0}}}
{"type":"assistant","isSidechain":true,"message":{"id":"s1","usage":{"input_tokens":5,"output_tokens":1,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}
`
	if err := os.WriteFile(side, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if u, err := claudeUsage(side); err != nil || !u.equal(&Usage{Input: 15, Output: 3, CacheRead: 100, Context: 112}) {
		t.Errorf("a subagent's answer: %+v, %v; want its tokens counted and the context the main answer's, 112", u, err)
	}

	claude := filepath.Join(t.TempDir(), "claude.jsonl")
	line := `{"type":"assistant","message":{"id":"a1","content":[{"type":"tool_use","input":{"tokens":3,"kind":"token_count"}}],"usage":{"input_tokens":10,"output_tokens":2,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}` + "\n"
	if err := os.WriteFile(claude, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if u, err := claudeUsage(claude); err != nil || !u.equal(&Usage{Input: 10, Output: 2, Context: 12}) {
		t.Errorf("claude line naming tokens: %+v, %v", u, err)
	}
}
