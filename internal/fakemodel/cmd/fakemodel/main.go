// Command fakemodel runs internal/fakemodel's server by hand, to try an agent
// CLI against a scripted model (docs/agents.md). It prints the base URL on
// stdout, one line per request on stderr, and with -dump writes each request
// body to DIR/NNN.json.
//
//	go run ./internal/fakemodel/cmd/fakemodel [-dump DIR] [script.json]
//
// The script is fakemodel.Script as JSON: {"turns": [{"user_contains": "…",
// "text": "…", "tool": {"name": "Write", "input": {…}}}, {"after_tool_result":
// true, "text": "Done."}], "default": "OK"}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/studiod/studiod/internal/fakemodel"
)

func main() {
	dump := flag.String("dump", "", "write each request body to `dir`/NNN.json")
	flag.Parse()
	var script fakemodel.Script
	if flag.NArg() > 0 {
		b, err := os.ReadFile(flag.Arg(0))
		if err == nil {
			err = json.Unmarshal(b, &script)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakemodel: read script: %v\n", err)
			os.Exit(2)
		}
	}
	s := fakemodel.New(script)
	defer s.Close()
	fmt.Println(s.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for n := 0; ; n++ {
		// Wait for the request numbered n: the cond sees the log in order.
		i := 0
		r, err := s.Wait(ctx, func(*fakemodel.Request) bool { i++; return i > n })
		if err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "%s %03d %s %s?%s api=%s model=%s stream=%v tools=%d msgs=%d turn=%d last=%q\n",
			r.Time.Format("15:04:05.000"), n, r.Method, r.Path, r.Query, r.API, r.Model, r.Stream, len(r.Tools), len(r.Messages), r.Turn,
			short(r.LastUserText()))
		if *dump != "" {
			_ = os.MkdirAll(*dump, 0o755)
			_ = os.WriteFile(filepath.Join(*dump, fmt.Sprintf("%03d.json", n)), r.Body, 0o644)
		}
	}
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
