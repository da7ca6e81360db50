package protocol

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestRoutesCoverAPI fails when the route table, the Methods list and the
// API interface disagree: every API method is served under "studio/" + its
// name in lower camel case, and nothing else is.
func TestRoutesCoverAPI(t *testing.T) {
	routes := Routes((*Client)(nil))
	api := reflect.TypeFor[API]()
	var fromAPI []string
	for i := range api.NumMethod() {
		name := api.Method(i).Name
		fromAPI = append(fromAPI, "studio/"+string(unicode.ToLower(rune(name[0])))+name[1:])
	}
	var fromRoutes []string
	for m := range routes {
		fromRoutes = append(fromRoutes, m)
	}
	slices.Sort(fromAPI)
	slices.Sort(fromRoutes)
	methods := slices.Sorted(slices.Values(Methods))
	if !slices.Equal(fromAPI, fromRoutes) {
		t.Errorf("API methods %v\nroutes %v", fromAPI, fromRoutes)
	}
	if !slices.Equal(methods, fromRoutes) {
		t.Errorf("Methods %v\nroutes %v", methods, fromRoutes)
	}
}

// echo is an API whose Spawn returns what it was given.
type echo struct{ *Client }

func (echo) Spawn(_ context.Context, p SpawnParams) (*Session, error) {
	return &Session{Name: p.Name, Prompt: p.Prompt}, nil
}

func TestRouteDecodes(t *testing.T) {
	h := Routes(echo{})[MethodSpawn]
	for _, tc := range []struct {
		name, params string
		want         string // name of the session, or the error's start
	}{
		{"object", `{"name":"a","prompt":"p","unknown":1}`, "a"},
		{"absent", ``, ""},
		{"null", `null`, ""},
		{"wrong type", `{"name":5}`, "invalid params"},
		{"not an object", `[1]`, "invalid params"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h(t.Context(), json.RawMessage(tc.params))
			if err != nil {
				if CodeOf(err) != CodeInvalidParams || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("got error %v (code %d), want %q", err, CodeOf(err), tc.want)
				}
				return
			}
			if got := res.(*Session).Name; got != tc.want {
				t.Errorf("got session %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEventsDispatch(t *testing.T) {
	var got []string
	e := Events{
		SessionChanged:   func(n SessionChanged) { got = append(got, "session "+n.Session.Name) },
		ConflictsChanged: func(n ConflictsChanged) { got = append(got, "resolved "+strings.Join(n.Resolved, ",")) },
	}
	e.Notify(NotifySessionChanged, json.RawMessage(`{"session":{"name":"a"}}`))
	e.Notify(NotifyConflictsChanged, json.RawMessage(`{"resolved":["x"]}`))
	e.Notify(NotifyOutput, json.RawMessage(`{"session":"a"}`))          // no handler
	e.Notify(NotifySessionChanged, json.RawMessage(`{"session":5}`))    // does not decode
	e.Notify("studio/somethingNew", json.RawMessage(`{"session":"a"}`)) // unknown
	want := []string{"session a", "resolved x"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
