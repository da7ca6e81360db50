package protocol

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"
)

// rw is a stream's peer: what it sent, and what the stream writes back.
type rw struct {
	io.Reader
	out bytes.Buffer
}

func (r *rw) Write(p []byte) (int, error) { return r.out.Write(p) }
func (r *rw) Close() error                { return nil }

func TestStreamFraming(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // body read, if any
		wantErr string // error read, if any
	}{
		{name: "one message", in: "Content-Length: 2\r\n\r\n{}", want: "{}"},
		{name: "case-insensitive name, other headers", in: "content-length: 2\r\nContent-Type: x\r\n\r\n{}", want: "{}"},
		{name: "no length", in: "Content-Type: x\r\n\r\n{}", wantErr: "missing Content-Length"},
		{name: "bad length", in: "Content-Length: -1\r\n\r\n", wantErr: "malformed Content-Length"},
		{name: "header without colon", in: "Content-Length 2\r\n\r\n{}", wantErr: "malformed header"},
		// Two lengths, the second longer than the body: read as the last
		// one says, this waited forever for bytes that never come.
		{name: "two lengths", in: "Content-Length: 2\r\nContent-Length: 100\r\n\r\n{}", wantErr: "more than one Content-Length"},
		{name: "two equal lengths", in: "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", wantErr: "more than one Content-Length"},
		{name: "too large", in: "Content-Length: 16777217\r\n\r\n", wantErr: "exceeds the size limit"},
		{name: "cut short", in: "Content-Length: 10\r\n\r\n{}", wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := &rw{Reader: strings.NewReader(tt.in)}
			s := NewStream(peer)
			body, err := s.ReadBody()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error %q", body, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(body) != tt.want {
				t.Fatalf("got %q, %v; want %q", body, err, tt.want)
			}
		})
	}
}

// TestStreamRefusesTwoLengths: the peer is told why before the stream ends.
func TestStreamRefusesTwoLengths(t *testing.T) {
	peer := &rw{Reader: strings.NewReader("Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")}
	s := NewStream(peer)
	var v json.RawMessage
	if err := s.ReadObject(&v); err == nil {
		t.Fatal("read a message framed by two lengths")
	}
	reply, err := NewStream(&rw{Reader: &peer.out}).ReadBody()
	if err != nil || !strings.Contains(string(reply), "more than one Content-Length") || !strings.Contains(string(reply), `"code":-32700`) {
		t.Errorf("reply: %s (%v)", reply, err)
	}
}

// TestStreamClaimedLengthCostsNothing: memory follows the bytes that
// arrive, not the length a peer claims.
func TestStreamClaimedLengthCostsNothing(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := NewStream(&rw{Reader: strings.NewReader("Content-Length: 16777216\r\n\r\n{}")})
	if _, err := s.ReadBody(); err == nil {
		t.Fatal("read a message cut short")
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("a 2-byte message claiming 16 MiB cost %d bytes", n)
	}
}
