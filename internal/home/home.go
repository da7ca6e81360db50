// Package home says where studiod keeps its files: the runtime directory
// (sockets, lock), the state directory (database, logs), the data directory
// (worktrees) and the config file. STUDIOD_HOME puts all of them below one
// directory, which is how every test isolates itself.
package home

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dirs are studiod's directories for one user.
type Dirs struct {
	Runtime string // socket, lock, pid, shim sockets: 0700
	State   string // studiod.db, logs, session dirs
	Data    string // worktrees
	Config  string // config.toml lives here
}

// Resolve returns the directories from the environment.
func Resolve() Dirs {
	if h := os.Getenv("STUDIOD_HOME"); h != "" {
		h, _ = filepath.Abs(h)
		return Dirs{
			Runtime: filepath.Join(h, "run"),
			State:   filepath.Join(h, "state"),
			Data:    filepath.Join(h, "data"),
			Config:  filepath.Join(h, "config"),
		}
	}
	var d Dirs
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		d.Runtime = filepath.Join(x, "studiod")
	} else {
		d.Runtime = filepath.Join(os.TempDir(), fmt.Sprintf("studiod-%d", os.Getuid()))
	}
	hd, _ := os.UserHomeDir()
	d.State = filepath.Join(xdg("XDG_STATE_HOME", filepath.Join(hd, ".local", "state")), "studiod")
	d.Data = filepath.Join(xdg("XDG_DATA_HOME", filepath.Join(hd, ".local", "share")), "studiod")
	d.Config = filepath.Join(xdg("XDG_CONFIG_HOME", filepath.Join(hd, ".config")), "studiod")
	return d
}

func xdg(name, def string) string {
	if v := os.Getenv(name); v != "" && filepath.IsAbs(v) {
		return v
	}
	return def
}

// Socket is the daemon's socket.
func (d Dirs) Socket() string { return filepath.Join(d.Runtime, "studiod.sock") }

// Lock is the daemon's single-instance lock file.
func (d Dirs) Lock() string { return filepath.Join(d.Runtime, "studiod.lock") }

// Log is the daemon's log file.
func (d Dirs) Log() string { return filepath.Join(d.State, "studiod.log") }

// DB is the state database.
func (d Dirs) DB() string { return filepath.Join(d.State, "studiod.db") }

// ConfigFile is the user config.
func (d Dirs) ConfigFile() string { return filepath.Join(d.Config, "config.toml") }

// Worktrees is the default root for session worktrees.
func (d Dirs) Worktrees() string { return filepath.Join(d.Data, "worktrees") }

// Ensure creates the directories with private permissions, tightening the
// runtime directory if it exists with looser ones.
func (d Dirs) Ensure() error {
	for _, dir := range []string{d.Runtime, d.State, d.Data} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(d.Runtime)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(d.Runtime, 0o700); err != nil {
			return fmt.Errorf("secure %s: %w", d.Runtime, err)
		}
	}
	return nil
}
