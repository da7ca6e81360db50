package host

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"strings"
)

// The agents on a host report their state (their hooks, $STUDIO_HOOK) to
// the home daemon as the agents here do, over a socket: the connection
// forwards the home daemon's reports socket, which takes nothing but
// reports carrying a session's secret, to DIR/run/home-KEY.sock on the
// host (an OpenSSH remote forward of a unix socket, which the host's sshd
// makes readable by the user alone), and each session there has
// STUDIOD_SOCKET naming it. When the connection drops the reports fail as
// they do with the daemon down (the hook lets its agent go on and says so
// in its log); the connection made again forwards the socket again.

// reportPath is the forwarded socket's path on the host.
func (h *SSH) reportPath(hl *Hello) string {
	return path.Join(hl.Dir, "run", "home-"+h.key()+".sock")
}

// key names this daemon's connection to the host: the control socket's
// name.
func (h *SSH) key() string {
	p := h.controlPath()
	return p[strings.LastIndexAny(p, "/-")+1:]
}

// forwardReports makes sure the connection forwards the reports socket,
// and returns its path on the host: "" when this daemon has none to
// forward.
func (h *SSH) forwardReports(ctx context.Context) (string, error) {
	if h.ReportSocket == "" {
		return "", nil
	}
	hl, err := h.Install(ctx)
	if err != nil {
		return "", err
	}
	p := h.reportPath(hl)
	h.fwdMu.Lock()
	defer h.fwdMu.Unlock()
	if err := h.connect(ctx); err != nil {
		return "", err
	}
	conn := h.masters.Load()
	if h.forwarded == conn {
		return p, nil
	}
	spec := p + ":" + h.ReportSocket
	// A connection kept from an earlier daemon may forward it already; a
	// socket left by a connection that died would keep sshd from binding.
	exec.CommandContext(ctx, h.Command[0], h.sshArgs("-O", "cancel", "-R", spec, h.Target)...).Run()
	if _, err := h.run(ctx, "prepare the reports socket", "mkdir -p "+shellQuote(path.Dir(p))+" && rm -f "+shellQuote(p), nil); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, h.Command[0], h.sshArgs("-O", "forward", "-R", spec, h.Target)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("host %s: forward studiod's reports socket over ssh, which the agents' hooks report on (the host's sshd must allow remote forwarding: AllowTcpForwarding and AllowStreamLocalForwarding yes or remote): %s", h.Name, strings.TrimSpace(string(out)))
	}
	h.forwarded = conn
	return p, nil
}
