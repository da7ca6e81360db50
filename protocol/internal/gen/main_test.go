package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFresh fails when protocol/api_gen.go is not what the API interface
// generates.
func TestFresh(t *testing.T) {
	want, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(filepath.Join("../..", output))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Errorf("protocol/%s is stale: run go generate ./protocol/...", output)
	}
}

// TestNewMethod generates from an API with one more method: it gets its
// constant, its route, its place in Methods and its Client method.
func TestNewMethod(t *testing.T) {
	dir := t.TempDir()
	api := `package protocol

import "context"

type API interface {
	Hello(context.Context, HelloParams) (*HelloResult, error)
	// PlanCheck checks a plan.
	PlanCheck(ctx context.Context, p PlanCheckParams) (*PlanCheckResult, error)
}
`
	if err := os.WriteFile(filepath.Join(dir, "api.go"), []byte(api), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`MethodPlanCheck = "studio/planCheck"`,
		"MethodPlanCheck: route(api.PlanCheck),",
		"// PlanCheck checks a plan.\nfunc (c *Client) PlanCheck(ctx context.Context, p PlanCheckParams) (*PlanCheckResult, error) {\n\treturn call[PlanCheckResult](ctx, c, MethodPlanCheck, p)",
		"var Methods = []string{\n\tMethodHello,\n\tMethodPlanCheck,\n}",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated source lacks %q:\n%s", want, src)
		}
	}
}

// TestBadAPI: an API method of the wrong shape is an error naming it, and
// nothing is generated.
func TestBadAPI(t *testing.T) {
	for _, tc := range []struct{ name, method, want string }{
		{"no context", "Spawn(SpawnParams) (*Session, error)", "Spawn must take (context.Context, Params)"},
		{"no error", "Spawn(context.Context, SpawnParams) *Session", "Spawn must return (*Result, error)"},
		{"not a pointer", "Spawn(context.Context, SpawnParams) (Session, error)", "Spawn must return a pointer"},
		{"embedded", "io.Closer", "only methods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			api := "package protocol\n\ntype API interface {\n\t" + tc.method + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "api.go"), []byte(api), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := generate(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (source %d bytes), want an error with %q", err, len(src), tc.want)
			}
		})
	}
}
