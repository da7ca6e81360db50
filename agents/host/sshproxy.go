package host

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// A session on a host has a socket at home that stands for its shim's: each
// connection to it is carried over ssh to the shim's socket on the host
// (`studiod remote proxy`), so whatever speaks to a shim (`studiod attach`)
// speaks to a host's as to a local one.

// proxySocket is where session id's shim is reached at home.
func (h *SSH) proxySocket(id string) string {
	return filepath.Join(h.RuntimeDir, "hostshims", id+".sock")
}

// serveProxy makes session id's socket at home, unless it is there.
func (h *SSH) serveProxy(id string) string {
	p := h.proxySocket(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proxies == nil {
		h.proxies = map[string]net.Listener{}
	}
	if _, ok := h.proxies[id]; ok || h.ctx.Err() != nil {
		return p
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return ""
	}
	os.Remove(p)
	l, err := net.Listen("unix", p)
	if err != nil {
		h.Log.Warn("serve the host shim's socket at home", "session", id, "err", err)
		return ""
	}
	h.proxies[id] = l
	h.wg.Go(func() {
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { h.proxy(c.(*net.UnixConn), id) })
		}
	})
	return p
}

func (h *SSH) stopProxy(id string) {
	h.mu.Lock()
	l := h.proxies[id]
	delete(h.proxies, id)
	h.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

// proxy carries one connection to the host's shim socket.
func (h *SSH) proxy(c *net.UnixConn, id string) {
	defer c.Close()
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	if _, err := h.Install(ctx); err != nil {
		return
	}
	if err := h.connect(ctx); err != nil {
		return
	}
	cmd := h.command(ctx, h.helper("proxy", "--id", id))
	cmd.Stdin = c
	cmd.Stdout = c
	if err := cmd.Start(); err != nil {
		return
	}
	cmd.Wait()
}

// remoteProxy (on the host) joins stdin and stdout to the shim's socket.
func remoteProxy(socket string, stdin io.Reader, stdout io.Writer) error {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return ErrGone
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(c, stdin)
		c.(*net.UnixConn).CloseWrite()
		close(done)
	}()
	_, err = io.Copy(stdout, c)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
