package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/studiod/studiod/protocol"
)

var errNoDaemon = errors.New("studiod daemon unavailable")

// startWait bounds how long a client waits for a daemon it started.
const startWait = 10 * time.Second

// connect returns a client of the daemon, starting one if none runs.
func (a *app) connect(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
	if err := a.dirs.Ensure(); err != nil {
		return nil, err
	}
	c, err := protocol.DialOrStart(ctx, a.dirs.Socket(), notify, a.startDaemon, startWait)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (daemon log: %s; run `studiod serve` to see it start in the foreground)", errNoDaemon, err, a.dirs.Log())
	}
	if _, err := c.Hello(ctx, protocol.HelloParams{Client: "studiod-cli", Version: protocol.Version}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startDaemon starts `studiod serve` detached from this process: its own
// session, no terminal, output to the daemon log.
func (a *app) startDaemon() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(a.dirs.Log(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, "serve", "--background")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return err
	}
	a.started = true
	// Not waited for: the daemon outlives this client. Release it so it
	// does not stay a zombie while this process lives.
	return cmd.Process.Release()
}

// repoDir is the repository a verb acts on: --repo, else the working
// directory.
func (a *app) repoDir() string {
	if a.repo != "" {
		if abs, err := filepath.Abs(a.repo); err == nil {
			return abs
		}
		return a.repo
	}
	wd, _ := os.Getwd()
	return wd
}

// call connects, runs fn and closes.
func (a *app) call(ctx context.Context, fn func(c *protocol.Client) error) error {
	c, err := a.connect(ctx, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
