package studiod_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/agents"
)

// TestConfigDocumented: every key of config.toml and .studio.toml, as the
// code decodes them, appears in docs/config.md, written in full
// (`defaults.log_limit`, `agents.NAME.screen`).
func TestConfigDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := configKeys("", reflect.TypeFor[agents.Config]())
	if len(keys) < 25 {
		t.Fatalf("found only %d config keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
}

// configKeys lists the TOML keys of a config struct type, dotted; the
// tables keyed by name (agents) are NAME.
func configKeys(prefix string, typ reflect.Type) []string {
	var keys []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(key+".NAME.", ft.Elem())...)
		case ft.Kind() == reflect.Struct && ft.NumField() > 0 && ft.Field(0).Tag.Get("toml") != "":
			keys = append(keys, configKeys(key+".", ft)...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

// TestREADMEListsFaces: the README names every MCP tool the MCP face
// declares and every :Studio subcommand the Neovim plugin has.
func TestREADMEListsFaces(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]bool{}
	files, _ := filepath.Glob("server/mcp/*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^\s*Tool[A-Z]\w*\s*=\s*"(\w+)"`).FindAllSubmatch(b, -1) {
			tools[string(m[1])] = true
		}
	}
	if len(tools) < 15 {
		t.Fatalf("found only %d MCP tools in server/mcp", len(tools))
	}
	for tool := range tools {
		if !strings.Contains(string(readme), "`"+tool+"`") {
			t.Errorf("README does not list the MCP tool `%s`", tool)
		}
	}

	lua, err := os.ReadFile("editors/nvim/lua/studio/commands.lua")
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile("`:Studio\\s+([a-z|]+)`").FindSubmatch(readme)
	if list == nil {
		t.Fatal("README has no `:Studio a|b|…` list")
	}
	listed := strings.Split(string(list[1]), "|")
	for _, m := range regexp.MustCompile(`(?m)^sub\.(\w+) = `).FindAllSubmatch(lua, -1) {
		if !slices.Contains(listed, string(m[1])) {
			t.Errorf("README's :Studio list does not have %s", m[1])
		}
	}
}
