package mcp

import (
	"regexp"
	"strconv"
)

// The daemon's texts for a person (a delivery's note, a session's detail)
// point at the CLI: "see `studiod attach api`". A model acts through tools,
// so the face names the tool that does the same instead.
var (
	cliOutput = regexp.MustCompile("`studiod (?:logs|attach) ([^`\\s]+)(?: -f)?`")
	cliRemove = regexp.MustCompile("`studiod rm ([^`\\s]+) --force`")
	cliForce  = regexp.MustCompile(`(^|[\s(])--force\b`)
)

// toolWords rewrites the CLI commands a daemon text names into tool calls.
func toolWords(text string) string {
	text = cliOutput.ReplaceAllStringFunc(text, func(m string) string {
		return ToolReadOutput + ` {"session":` + strconv.Quote(cliOutput.FindStringSubmatch(m)[1]) + `}`
	})
	text = cliRemove.ReplaceAllStringFunc(text, func(m string) string {
		return ToolRemoveSession + ` {"session":` + strconv.Quote(cliRemove.FindStringSubmatch(m)[1]) + `,"force":true}`
	})
	// The tools that take the flag call it force.
	return cliForce.ReplaceAllString(text, "${1}force=true")
}
