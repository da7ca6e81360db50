// Command studiod-fsmonitor is git's fsmonitor hook for studiod's session
// worktrees, as `studiod fsmonitor` is, in a binary small enough to start
// in a few milliseconds: git runs it at every status. The daemon names it
// in core.fsmonitor when it is installed next to studiod (`go install
// ./cmd/...`).
//
//	studiod-fsmonitor --socket SOCKET VERSION TOKEN
package main

import (
	"os"

	"github.com/studiod/studiod/internal/fsmonitor"
)

func main() {
	os.Exit(fsmonitor.Main(os.Args[1:]))
}
