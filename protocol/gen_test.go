package protocol

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The editors' copies of the wire surface are generated from this package,
// so they cannot drift: editors/vscode/src/protocol.ts (names, codes, every
// request with its params and result types) and
// editors/nvim/lua/studio/protocol.lua (names and codes). go generate
// ./protocol/... regenerates them (see generate.go).
var update = flag.Bool("update", false, "rewrite the generated editor files")

// notificationTypes are the params of each notification.
var notificationTypes = map[string]reflect.Type{
	NotifySessionChanged:   reflect.TypeFor[SessionChanged](),
	NotifyConflictsChanged: reflect.TypeFor[ConflictsChanged](),
	NotifyOutput:           reflect.TypeFor[OutputNotification](),
	NotifyPreviewChanged:   reflect.TypeFor[PreviewChanged](),
	NotifySessionActivity:  reflect.TypeFor[SessionActivity](),
	NotifyProgress:         reflect.TypeFor[ProgressParams](),
}

// extraTypes are wire types no request names: error data.
var extraTypes = []reflect.Type{reflect.TypeFor[MergeConflictData](), reflect.TypeFor[TargetDirtyData]()}

func TestGenerated(t *testing.T) {
	consts, err := parseConsts(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Notifications {
		if notificationTypes[n] == nil {
			t.Fatalf("notification %s has no params type in notificationTypes", n)
		}
	}
	for _, g := range []struct {
		path string
		text string
	}{
		{"../editors/vscode/src/protocol.ts", typescript(consts)},
		{"../editors/nvim/lua/studio/protocol.lua", lua(consts)},
	} {
		have, _ := os.ReadFile(g.path)
		if string(have) == g.text {
			continue
		}
		if *update {
			if err := os.WriteFile(g.path, []byte(g.text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is not what the Go package protocol generates: run go generate ./protocol/...", g.path)
	}
}

// constant is one exported constant of the package, in source order.
type constant struct {
	name    string
	value   any // string or int
	comment string
}

// parseConsts reads the package's exported string and integer constants;
// a constant that is one of package vocab's (the vocabulary the wire
// shares with the core) has vocab's value, and its comment unless it has
// its own.
func parseConsts(dir string) ([]constant, error) {
	vocab, err := parseConstFiles(filepath.Join(dir, "..", "vocab"), nil)
	if err != nil {
		return nil, err
	}
	return parseConstFiles(dir, vocab)
}

func parseConstFiles(dir string, vocab []constant) ([]constant, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []constant
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || i >= len(vs.Values) {
						continue
					}
					c := constant{name: name.Name}
					if sel, ok := vs.Values[i].(*ast.SelectorExpr); ok && fmt.Sprint(sel.X) == "vocab" {
						j := slices.IndexFunc(vocab, func(v constant) bool { return v.name == sel.Sel.Name })
						if j < 0 {
							return nil, fmt.Errorf("%s: vocab.%s: no such constant", name.Name, sel.Sel.Name)
						}
						c.value, c.comment = vocab[j].value, vocab[j].comment
					} else if v, ok := literal(vs.Values[i]); ok {
						c.value = v
					} else {
						continue
					}
					if vs.Comment != nil {
						c.comment = strings.TrimSpace(vs.Comment.Text())
					}
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

func literal(e ast.Expr) (any, bool) {
	neg := false
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.SUB {
		neg, e = true, u.X
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok {
		return nil, false
	}
	switch lit.Kind {
	case token.STRING:
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil && !neg
	case token.INT:
		n, err := strconv.Atoi(lit.Value)
		if neg {
			n = -n
		}
		return n, err == nil
	}
	return nil, false
}

// group returns the constants named prefix+X, as (X, value) in order.
func group(consts []constant, prefix string) []constant {
	var out []constant
	for _, c := range consts {
		if rest, ok := strings.CutPrefix(c.name, prefix); ok && rest != "" && unicode.IsUpper(rune(rest[0])) {
			out = append(out, constant{name: rest, value: c.value, comment: c.comment})
		}
	}
	return out
}

func lookup(consts []constant, name string) any {
	for _, c := range consts {
		if c.name == name {
			return c.value
		}
	}
	return nil
}

// groups are the constant groups both editors get, with the Go type of
// the typed ones.
var groups = []struct{ prefix, typ, doc string }{
	{"Method", "", "Requests served by the daemon."},
	{"Notify", "", "Notifications from the daemon."},
	{"Command", "", "Editor commands (workspace/executeCommand)."},
	{"Code", "", "Error codes."},
	{"State", "State", "Session states."},
	{"Kind", "Kind", "Conflict kinds."},
	{"Severity", "Severity", "Conflict severities."},
	{"Strategy", "Strategy", "Merge strategies."},
	{"File", "FileVersion", "File versions (studio/file)."},
	{"Preview", "PreviewStatus", "Where a session stands in a preview."},
	{"Check", "CheckStatus", "Check statuses."},
	{"Land", "LandStatus", "Land queue statuses."},
	{"Fix", "Fix", "What to do about an error (ErrorData.fix)."},
}

// typed reports whether a Go string type has a constant group.
func typed(name string) bool {
	return slices.ContainsFunc(groups, func(g struct{ prefix, typ, doc string }) bool { return g.typ == name && name != "" })
}

func literalTS(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func typescript(consts []constant) string {
	var b bytes.Buffer
	b.WriteString(`// The studiod wire surface, generated from the Go package protocol by
// ` + "`go test ./protocol -run TestGenerated -update`" + `. Do not edit: change
// the Go declarations and regenerate. It imports nothing, so the unit tests
// can load it outside VS Code.

/** A request with its parameter and result types. */
export class Request<P, R> {
    declare readonly _params?: P;
    declare readonly _result?: R;
    constructor(readonly method: string) {}
}

/** A notification with its parameter type. */
export class Notification<P> {
    declare readonly _params?: P;
    constructor(readonly method: string) {}
}

`)
	fmt.Fprintf(&b, "/** Clients refuse a daemon with a different major version. */\nexport const ProtocolVersion = %s;\n\n", literalTS(lookup(consts, "Version")))
	fmt.Fprintf(&b, "/** The Side.session of a conflict's target-branch side. */\nexport const TargetSide = %s;\n\n", literalTS(lookup(consts, "TargetSide")))
	for _, g := range groups {
		fmt.Fprintf(&b, "/** %s */\nexport const %s = {\n", g.doc, g.prefix)
		for _, c := range group(consts, g.prefix) {
			comment := ""
			if c.comment != "" {
				comment = " // " + c.comment
			}
			fmt.Fprintf(&b, "    %s: %s,%s\n", c.name, literalTS(c.value), comment)
		}
		b.WriteString("} as const;\n")
		if g.typ != "" {
			fmt.Fprintf(&b, "export type %s = (typeof %s)[keyof typeof %s];\n", g.typ, g.prefix, g.prefix)
		}
		b.WriteString("\n")
	}
	var live []string
	for _, s := range States {
		if s.Live() {
			live = append(live, "s === State."+constName(consts, "State", string(s)))
		}
	}
	fmt.Fprintf(&b, "/** Reports whether an agent process may still be running in state s. */\nexport function live(s: string): boolean {\n    return %s;\n}\n\n", strings.Join(live, " || "))

	// Types, in the order requests reach them.
	api := reflect.TypeFor[API]()
	var order []reflect.Type
	seen := map[reflect.Type]bool{}
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			visit(t.Field(i).Type)
		}
		order = append(order, t)
	}
	for i := range api.NumMethod() {
		m := api.Method(i).Type
		visit(m.In(1))
		visit(m.Out(0))
	}
	for _, n := range Notifications {
		visit(notificationTypes[n])
	}
	for _, t := range extraTypes {
		visit(t)
	}
	b.WriteString("// ---- types ----\n\n")
	for _, t := range order {
		b.WriteString(tsInterface(t))
	}

	b.WriteString("// ---- typed requests and notifications ----\n\n")
	methods := group(consts, "Method")
	for i := range api.NumMethod() {
		m := api.Method(i)
		if !slices.ContainsFunc(methods, func(c constant) bool { return c.name == m.Name }) {
			panic("no Method constant for " + m.Name)
		}
		fmt.Fprintf(&b, "export const %s = new Request<%s, %s>(Method.%s);\n", lowerFirst(m.Name), m.Type.In(1).Name(), m.Type.Out(0).Elem().Name(), m.Name)
	}
	b.WriteString("\n")
	for _, c := range group(consts, "Notify") {
		name := lowerFirst(c.name)
		if c.name == "Output" {
			name = "outputNotification" // "output" is the request
		}
		fmt.Fprintf(&b, "export const %s = new Notification<%s>(Notify.%s);\n", name, notificationTypes[c.value.(string)].Name(), c.name)
	}
	return b.String()
}

// constName finds the name (after prefix) of the constant with value v.
func constName(consts []constant, prefix string, v string) string {
	for _, c := range group(consts, prefix) {
		if c.value == v {
			return c.name
		}
	}
	panic(fmt.Sprintf("no %s constant %q", prefix, v))
}

func tsInterface(t reflect.Type) string {
	var b bytes.Buffer
	var extends []string
	var fields []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			extends = append(extends, f.Type.Name())
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		opt := ""
		if strings.Contains(opts, "omitempty") || f.Type.Kind() == reflect.Pointer {
			opt = "?"
		}
		fields = append(fields, fmt.Sprintf("    %s%s: %s;", name, opt, tsType(f.Type)))
	}
	fmt.Fprintf(&b, "export interface %s", t.Name())
	if len(extends) > 0 {
		fmt.Fprintf(&b, " extends %s", strings.Join(extends, ", "))
	}
	if len(fields) == 0 {
		b.WriteString(" {}\n\n")
		return b.String()
	}
	b.WriteString(" {\n" + strings.Join(fields, "\n") + "\n}\n\n")
	return b.String()
}

func tsType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "string" // RFC 3339
	case t == reflect.TypeFor[[]byte]():
		return "string" // base64
	case t == reflect.TypeFor[json.RawMessage]():
		return "unknown" // any JSON
	}
	switch t.Kind() {
	case reflect.Pointer:
		return tsType(t.Elem())
	case reflect.Slice:
		return tsType(t.Elem()) + "[]"
	case reflect.Map:
		return fmt.Sprintf("Record<%s, %s>", tsType(t.Key()), tsType(t.Elem()))
	case reflect.Struct:
		return t.Name()
	case reflect.Interface:
		return "unknown"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		if typed(t.Name()) {
			return t.Name()
		}
		return "string"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Float64:
		return "number"
	}
	panic("no TypeScript type for " + t.String())
}

func lowerFirst(s string) string { return string(unicode.ToLower(rune(s[0]))) + s[1:] }

// snake turns a Go name into a Lua key: NotFound → not_found.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func lua(consts []constant) string {
	var b bytes.Buffer
	b.WriteString(`-- The studiod wire surface, generated from the Go package protocol by
-- ` + "`go test ./protocol -run TestGenerated -update`" + `. Do not edit: change the
-- Go declarations and regenerate.
local M = {}

`)
	fmt.Fprintf(&b, "-- Clients refuse a daemon with a different major version.\nM.version = %s\n\n", luaLiteral(lookup(consts, "Version")))
	fmt.Fprintf(&b, "-- The side name of a conflict's target branch.\nM.target_side = %s\n\n", luaLiteral(lookup(consts, "TargetSide")))
	for _, g := range groups {
		fmt.Fprintf(&b, "-- %s\nM.%s = {\n", g.doc, snake(g.prefix))
		for _, c := range group(consts, g.prefix) {
			fmt.Fprintf(&b, "  %s = %s,\n", snake(c.name), luaLiteral(c.value))
		}
		b.WriteString("}\n\n")
	}
	var live []string
	for _, s := range States {
		if s.Live() {
			live = append(live, fmt.Sprintf("[%s] = true", luaLiteral(string(s))))
		}
	}
	fmt.Fprintf(&b, "-- States in which an agent process may still be running.\nM.live = { %s }\n\n", strings.Join(live, ", "))
	b.WriteString("return M\n")
	return b.String()
}

func luaLiteral(v any) string {
	if s, ok := v.(string); ok {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	return fmt.Sprint(v)
}
