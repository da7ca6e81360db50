package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// subscriber answers Subscribe with a snapshot at seq, after delivering
// the notifications in before to the feed (as a Client's read goroutine can
// before the call returns).
type subscriber struct {
	API
	feed   *Feed
	seq    int64
	before []int64
	err    error
}

func (s subscriber) Subscribe(context.Context, SubscribeParams) (*SubscribeResult, error) {
	for _, n := range s.before {
		s.feed.Notify(NotifySessionChanged, json.RawMessage(fmt.Sprintf(`{"session":{"name":"a"},"seq":%d}`, n)))
	}
	if s.err != nil {
		return nil, s.err
	}
	return &SubscribeResult{Seq: s.seq}, nil
}

func TestFeed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seq    int64
		before []int64
		err    error
		want   []string
	}{
		{"nothing held", 5, nil, nil, []string{"snapshot 5", "6"}},
		{"older held dropped, newer delivered after", 5, []int64{4, 5, 6}, nil, []string{"snapshot 5", "6", "6"}},
		{"failed subscribe delivers what it held", 5, []int64{4}, &Error{Code: CodeInvalid, Message: "no"}, []string{"4", "6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			f := NewFeed(func(method string, params json.RawMessage) {
				seq, _ := Seq(method, params)
				got = append(got, fmt.Sprint(seq))
			})
			_, err := f.Subscribe(t.Context(), subscriber{feed: f, seq: tc.seq, before: tc.before, err: tc.err}, SubscribeParams{Sessions: true},
				func(r *SubscribeResult) { got = append(got, fmt.Sprint("snapshot ", r.Seq)) })
			if (err != nil) != (tc.err != nil) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			f.Notify(NotifySessionChanged, json.RawMessage(`{"session":{"name":"a"},"seq":6}`))
			f.Notify(NotifyOutput, json.RawMessage(`{"session":"a"}`)) // no seq: always delivered
			if !slices.Equal(got[:len(got)-1], tc.want) || got[len(got)-1] != "0" {
				t.Errorf("got %q, want %q then the output", got, tc.want)
			}
		})
	}
}
