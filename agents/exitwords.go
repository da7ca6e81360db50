package agents

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// signalName names a signal as a person looks it up ("SIGKILL"), from the
// description an exit record holds ("killed", as Go's Signal.String says
// it) or a name already.
func signalName(desc string) string {
	if strings.HasPrefix(desc, "SIG") {
		return desc
	}
	for n := 1; n < 32; n++ {
		if sig := syscall.Signal(n); sig.String() == desc {
			if name := unix.SignalName(sig); name != "" {
				return name
			}
		}
	}
	return desc
}

// termSignal returns the signal an exit code of 128+N says ended the agent,
// for the signals that end a program on request (the agent caught it and
// exited with the shell's convention): "" for any other code.
func termSignal(code int) string {
	switch syscall.Signal(code - 128) {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM:
		return unix.SignalName(syscall.Signal(code - 128))
	}
	return ""
}

// exitDetail says why an agent nobody stopped through studiod ended: the
// signal that ended it, named, or its last words.
func exitDetail(code int, signal, lastWords string) string {
	switch {
	case signal != "":
		return "killed by " + signalName(signal)
	case termSignal(code) != "":
		// The agent caught the signal and said goodbye; its own advice
		// (Claude Code's "Resume this session with: claude --resume …")
		// is not how a studiod session goes on.
		return fmt.Sprintf("ended by %s (not through studiod stop)", termSignal(code))
	case code != 0:
		return lastWords
	}
	return ""
}
