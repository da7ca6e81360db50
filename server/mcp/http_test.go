package mcp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// newMCPHTTP serves the guarded MCP handler on a real loopback listener,
// so mcp-go's own rebinding protection sees a loopback local address too.
// Its daemon connection always fails: these tests never get past
// initialize.
func newMCPHTTP(t *testing.T) (url, token string) {
	t.Helper()
	token, err := Token(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Dial: func(context.Context, protocol.NotifyFunc) (*protocol.Client, error) {
		return nil, errors.New("no daemon in this test")
	}})
	srv := httptest.NewServer(Handler(m, token))
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp", token
}

func TestMCPHTTPGuard(t *testing.T) {
	url, token := newMCPHTTP(t)
	port := url[strings.LastIndex(url, ":")+1 : strings.LastIndex(url, "/")]
	tests := []struct {
		name   string
		header map[string]string
		host   string
		body   io.Reader
		want   int
	}{
		{name: "ok", header: map[string]string{"Authorization": "Bearer " + token}, want: http.StatusOK},
		{name: "ok localhost host and origin", host: "localhost:" + port, header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://localhost:" + port}, want: http.StatusOK},
		{name: "ok lower-case scheme", header: map[string]string{"Authorization": "bearer " + token}, want: http.StatusOK},
		{name: "ok upper-case scheme", header: map[string]string{"Authorization": "BEARER " + token}, want: http.StatusOK},
		{name: "no token", want: http.StatusUnauthorized},
		{name: "scheme only", header: map[string]string{"Authorization": "Bearer"}, want: http.StatusUnauthorized},
		{name: "wrong token", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("0", len(token))}, want: http.StatusUnauthorized},
		{name: "token not bearer", header: map[string]string{"Authorization": "Basic " + token}, want: http.StatusUnauthorized},
		{name: "foreign origin", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}, want: http.StatusForbidden},
		{name: "ok 127.0.0.1 origin", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://127.0.0.1:" + port}, want: http.StatusOK},
		{name: "loopback origin of another port", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://localhost:9999"}, want: http.StatusForbidden},
		{name: "loopback origin without a port", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://localhost"}, want: http.StatusForbidden},
		{name: "loopback origin over https", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "https://127.0.0.1:" + port}, want: http.StatusForbidden},
		{name: "null origin", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "null"}, want: http.StatusForbidden},
		{name: "rebinding host", host: "evil.example:" + port, header: map[string]string{"Authorization": "Bearer " + token}, want: http.StatusForbidden},
		{name: "rebinding host without token", host: "evil.example", want: http.StatusForbidden},
		{name: "oversized body", header: map[string]string{"Authorization": "Bearer " + token}, body: strings.NewReader(strings.Repeat(" ", BodyLimit+1)), want: http.StatusRequestEntityTooLarge},
		{name: "oversized chunked body", header: map[string]string{"Authorization": "Bearer " + token}, body: io.MultiReader(strings.NewReader(strings.Repeat(" ", BodyLimit+1))), want: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				body = strings.NewReader(initBody)
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := body.(*strings.Reader); !ok {
				req.ContentLength = -1 // chunked
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, b, tt.want)
			}
			if tt.want == http.StatusOK && !strings.Contains(string(b), `"serverInfo"`) {
				t.Fatalf("initialize answered %s", b)
			}
			if tt.want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestCheckLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8765", true},
		{"127.0.0.1:0", true},
		{"localhost:8765", true},
		{"[::1]:8765", true},
		{"127.1.2.3:8765", true},
		{"0.0.0.0:8765", false},
		{"[::]:8765", false},
		{":8765", false},
		{"192.0.2.1:8765", false},
		{"[2001:db8::1]:8765", false},
		{"example.com:8765", false},
		{"127.0.0.1", false},
		{"127.0.0.1:", false},
	}
	for _, tt := range tests {
		err := CheckLoopbackAddr(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopbackAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.addr) {
			t.Errorf("CheckLoopbackAddr(%q) = %v: the error should name the address", tt.addr, err)
		}
	}
}

func TestMCPToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tok, err := Token(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 64 {
		t.Fatalf("token %q: want 64 hex digits", tok)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := Token(dir)
	if err != nil || again != tok {
		t.Fatalf("second Token = %q, %v; want the same token", again, err)
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"colors", "\x1b[1;32mok\x1b[0m\r\n", "ok\n"},
		{"cursor", "\x1b[2K\x1b[1Gprogress\rdone\n", "progress\ndone\n"},
		{"osc title", "\x1b]0;title\x07text", "text"},
		{"osc st", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"charset and keypad", "\x1b(B\x1b=a\tb", "a\tb"},
		{"private modes", "\x1b[?25l\x1b[?2004hx\x1b[?25h", "x"},
		{"controls", "a\x07b\x08c\x00", "abc"},
		{"utf8", "héllo → ✓\n", "héllo → ✓\n"},
		{"truecolor and sub-parameters", "\x1b[38;2;255;0;0mred\x1b[4:3mcurly\x1b[m", "redcurly"},
		{"dcs", "\x1bP1$r0m\x1b\\after", "after"},
		{"apc with escapes inside", "\x1b_Gf=100;AAAA\x1b\\img", "img"},
		{"clipboard osc", "\x1b]52;c;aGVsbG8=\x07copied", "copied"},
	}
	for _, tt := range tests {
		if got := plainText([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: plainText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
