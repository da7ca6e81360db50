package mcp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/studiod/studiod/protocol"
)

// BodyLimit caps an MCP HTTP request body.
const BodyLimit = 4 << 20

// TokenFile is the bearer token's file name in the state directory.
const TokenFile = "mcp-token"

// CheckLoopbackAddr accepts only host:port listen addresses whose host is
// a loopback IP or localhost: the MCP endpoint can start agents, so it must
// not be reachable from the network.
func CheckLoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("MCP HTTP address %q: %v: use 127.0.0.1:PORT", addr, err)
	}
	if port == "" {
		return fmt.Errorf("MCP HTTP address %q has no port: use 127.0.0.1:PORT", addr)
	}
	if host == "" {
		return fmt.Errorf("MCP HTTP address %q listens on every interface: use 127.0.0.1:%s (loopback only)", addr, port)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("MCP HTTP address %q: host must be a loopback IP (127.0.0.1 or ::1) or localhost", addr)
	}
	if ip.IsUnspecified() {
		return fmt.Errorf("MCP HTTP address %q listens on every interface: use 127.0.0.1:%s (loopback only)", addr, port)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("MCP HTTP address %q is not loopback: studiod serves MCP over HTTP on 127.0.0.1 or ::1 only", addr)
	}
	return nil
}

// Token returns the bearer token kept in dir, creating it (0600) on
// first use.
func Token(dir string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read MCP token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	buf := make([]byte, 32)
	rand.Read(buf)
	tok := hex.EncodeToString(buf)
	tmp, err := os.CreateTemp(dir, ".mcp-token-*")
	if err != nil {
		return "", fmt.Errorf("write MCP token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// Link, not rename: when two processes create the token at once, the
	// first wins and both use it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return Token(dir)
		}
		return "", fmt.Errorf("write MCP token: %w", err)
	}
	return tok, nil
}

// Handler serves MCP over Streamable HTTP behind the checks a loopback
// endpoint needs: a bearer token, Host and Origin against DNS rebinding,
// and a body size cap.
func Handler(m *Server, token string) http.Handler {
	h := mcpserver.NewStreamableHTTPServer(m.Server(), mcpserver.WithStateful(true), mcpserver.WithSessionIdleTTL(time.Hour))
	return &mcpGuard{token: token, next: h}
}

type mcpGuard struct {
	token string
	next  http.Handler
}

func (g *mcpGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Host first: a rebinding page learns nothing, not even whether the
	// token was right.
	if !loopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("forbidden: Host %q is not a loopback name (DNS rebinding protection)", r.Host), http.StatusForbidden)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !ownOrigin(o, r.Host) {
		http.Error(w, fmt.Sprintf("forbidden: Origin %q is not this server's own (http://%s)", o, r.Host), http.StatusForbidden)
		return
	}
	// RFC 7235: the scheme is case-insensitive ("bearer" is Bearer).
	scheme, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(g.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="studiod"`)
		http.Error(w, "unauthorized: send Authorization: Bearer TOKEN (`studiod mcp-token` prints it)", http.StatusUnauthorized)
		return
	}
	if r.Body != nil && r.Method == http.MethodPost {
		if r.ContentLength > BodyLimit {
			http.Error(w, fmt.Sprintf("request body too large (limit %d bytes)", BodyLimit), http.StatusRequestEntityTooLarge)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, BodyLimit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("request body too large (limit %d bytes)", BodyLimit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	g.next.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names this machine's
// loopback interface.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// ownOrigin reports whether a browser's Origin is this server's own: http,
// a loopback host, and the port of the request's Host (already checked to
// be loopback). A page served by another local server (another port) is a
// different origin and gets no answer.
func ownOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || !loopbackHost(u.Host) {
		return false
	}
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		port = "80"
	}
	return cmp.Or(u.Port(), "80") == port
}

// HTTP is a running MCP HTTP endpoint.
type HTTP struct {
	Addr string // where it listens, with the actual port
	srv  *http.Server
	mcp  *Server
	done chan error
}

// Close stops the endpoint.
func (h *HTTP) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := h.srv.Shutdown(ctx)
	if err != nil {
		h.srv.Close()
	}
	<-h.done
	h.mcp.Close()
	return err
}

// StartHTTP serves MCP on addr, a loopback host:port, with tool calls going
// to the daemon over connections that connect makes.
func StartHTTP(connect func() net.Conn, addr, token, version string, log *slog.Logger) (*HTTP, error) {
	if err := CheckLoopbackAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("MCP HTTP: %w", err)
	}
	m := New(Config{
		Version: version, Log: log,
		Dial: func(_ context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
			return protocol.NewClient(connect(), notify), nil
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", Handler(m, token))
	h := &HTTP{
		Addr: ln.Addr().String(), mcp: m, done: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10},
	}
	go func() { h.done <- h.srv.Serve(ln) }()
	log.Info("MCP over HTTP", "url", "http://"+h.Addr+"/mcp")
	return h, nil
}
