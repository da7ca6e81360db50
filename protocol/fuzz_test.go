package protocol

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// FuzzStreamReadBody feeds arbitrary bytes to the LSP framing reader: it
// must never panic, never hand out a body over its limit, and either read
// whole messages or stop with an error.
func FuzzStreamReadBody(f *testing.F) {
	for _, seed := range []string{
		"Content-Length: 2\r\n\r\n{}",
		"Content-Length: 2\r\n\r\n{}Content-Length: 4\r\n\r\nnull",
		"content-length:2\n\n[]",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"Content-Length: -1\r\n\r\n",
		"Content-Length: 99999999999999999999\r\n\r\n",
		"Content-Type: application/json\r\n\r\n{}",
		"Content-Length: 10\r\n\r\n{}",
		"\r\n\r\n",
		"Content-Length 2\r\n\r\n{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStreamPair(bytes.NewReader(data), io.Discard, nil)
		s.limit = 1 << 16 // keep allocations small; the limit check is the same
		for range 100 {
			body, err := s.ReadBody()
			if err != nil {
				return
			}
			if len(body) > s.limit {
				t.Fatalf("body of %d bytes over the %d limit", len(body), s.limit)
			}
		}
	})
}

// FuzzStreamReadObject: malformed bodies are answered and skipped, never a
// panic or a message that is not one.
func FuzzStreamReadObject(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"studio/sessions"}`,
		`{"jsonrpc":"2.0","id":"x","method":"studio/spawn","params":{"repo":"/r"}}`,
		`{"jsonrpc":"2.0",`, `[1,2]`, `null`, `"str"`, `{"id":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in bytes.Buffer
		in.WriteString("Content-Length: ")
		in.WriteString(itoa(len(body)))
		in.WriteString("\r\n\r\n")
		in.Write(body)
		var out bytes.Buffer
		s := NewStreamPair(&in, &out, nil)
		var v json.RawMessage
		if err := s.ReadObject(&v); err == nil && !json.Valid(v) {
			t.Fatalf("read a message that is not JSON: %q", v)
		}
		// Whatever was answered is framed and valid JSON.
		r := NewStreamPair(&out, io.Discard, nil)
		for {
			b, err := r.ReadBody()
			if err != nil {
				break
			}
			if !json.Valid(b) {
				t.Fatalf("answered with invalid JSON: %q", b)
			}
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// closedClient is an API whose every call fails at once (its connection is
// closed): routes built on it decode their params, then return an error.
func closedClient() *Client {
	a, b := net.Pipe()
	b.Close()
	c := NewClient(a, nil)
	<-c.Done()
	return c
}

// methodParams maps each request to its params type, from the API
// interface, so that a request added to the API is fuzzed too.
func methodParams() (names []string, params map[string]reflect.Type) {
	api := reflect.TypeFor[API]()
	params = map[string]reflect.Type{}
	for i := range api.NumMethod() {
		m := api.Method(i)
		name := "studio/" + string(unicode.ToLower(rune(m.Name[0]))) + m.Name[1:]
		params[name] = m.Type.In(1)
		names = append(names, name)
	}
	slices.Sort(names)
	return names, params
}

// FuzzRouteParams decodes arbitrary params for every request through the
// route table (protocol.Routes, protocol.Decode): a request never panics;
// params that do not decode are -32602 with a message; params that do
// survive a round trip through JSON unchanged.
func FuzzRouteParams(f *testing.F) {
	for i, seed := range []string{
		``, `null`, `{}`, `[]`, `5`, `"x"`,
		`{"repo":"/r","name":"a","command":["sh","-c","x"],"rows":40,"cols":120}`,
		`{"session":"a","offset":-5,"limit":1048576}`,
		`{"session":"a","path":"src/x.go","startLine":1,"endLine":2,"body":"b"}`,
		`{"session":"a","strategy":"squash","dryRun":true}`,
		`{"sessions":true,"output":[{"session":"a","offset":0}]}`,
		`{"session":"a","version":"snapshot","path":"a"}`,
		`{"rows":"many"}`, `{"session":{"x":1}}`, `{"offset":1e999}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	names, params := methodParams()
	routes := Routes(closedClient())
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		name := names[int(which)%len(names)]
		_, err := routes[name](t.Context(), json.RawMessage(raw))
		if err == nil {
			t.Fatalf("%s: a call on a closed connection succeeded", name)
		}
		decoded := CodeOf(err) != CodeInvalidParams
		if !decoded && !strings.HasPrefix(err.Error(), "invalid params") {
			t.Fatalf("%s: invalid params without saying so: %v", name, err)
		}
		// The same decoding, by reflection, and a round trip.
		p := reflect.New(params[name])
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 || string(trimmed) == "null" {
			return
		}
		if uerr := json.Unmarshal(raw, p.Interface()); (uerr == nil) != decoded {
			t.Fatalf("%s: route decoded %v, json.Unmarshal %v", name, decoded, uerr)
		}
		if !decoded {
			return
		}
		enc, err := json.Marshal(p.Interface())
		if err != nil {
			t.Fatalf("%s: re-encode %+v: %v", name, p.Interface(), err)
		}
		q := reflect.New(params[name])
		if err := json.Unmarshal(enc, q.Interface()); err != nil {
			t.Fatalf("%s: the params' own encoding does not decode: %s: %v", name, enc, err)
		}
		if again, _ := json.Marshal(q.Interface()); !bytes.Equal(enc, again) {
			t.Fatalf("%s: round trip changed the params: %s -> %s", name, enc, again)
		}
	})
}
