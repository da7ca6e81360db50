// Command studiod-hook is the lifecycle hook studiod installs for the
// agents it knows, as `studiod hook --agent KIND` is, in a binary small
// enough to start in a few milliseconds: an agent runs it at every tool
// call. The daemon names it in the agents' hook settings when it is
// installed next to studiod (`go install ./cmd/...`).
//
//	studiod-hook --agent claude|codex|codex-notify|gemini [PAYLOAD]
package main

import (
	"os"

	"github.com/studiod/studiod/internal/hook"
)

func main() {
	os.Exit(hook.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
