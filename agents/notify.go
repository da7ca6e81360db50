package agents

// Notify says how the person hears that a session needs them. It is read
// from the user's own config.toml only: a repository's .studio.toml may
// not name a command to run on every event.
type Notify struct {
	// Command runs with one JSON event on its stdin per event (the
	// daemon's server.NotifyEvent).
	Command []string `toml:"command"`
	// Events limits the events (waiting, idle, failed, done, budget); empty is
	// all of them.
	Events []string `toml:"events"`
	// Timeout kills a run that takes longer (default 30s).
	Timeout duration `toml:"timeout"`
	// Desktop, when false, turns off the desktop notification shown
	// through notify-send where a session bus exists.
	Desktop *bool `toml:"desktop"`
}

// repoNotify refuses a repository config that sets [notify].
func repoNotify(c Config, path string) error {
	n := c.Notify
	if n.Command != nil || n.Events != nil || n.Timeout.Duration != 0 || n.Desktop != nil {
		return invalidf("%s: [notify] belongs in your own config.toml, not a repository's", path)
	}
	return nil
}
