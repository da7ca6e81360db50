package protocol

import (
	"context"
	"encoding/json"
	"sync"
)

// Feed joins a subscription's snapshot and the notifications after it, for
// a client whose notifications run apart from its calls' results (a Client
// hands notifications to its NotifyFunc on its read goroutine, possibly
// before the Subscribe call has returned). Notifications that arrive while
// a snapshot is asked for are held; once the snapshot is applied, the held
// ones the snapshot already has (a Seq at or below its Seq) are dropped and
// the rest delivered, in order. Use Notify as the Client's NotifyFunc.
type Feed struct {
	// next receives the notifications in order. It runs on the read
	// goroutine or inside Subscribe, under the feed's lock: it must not
	// block or call the feed.
	next NotifyFunc

	// mu guards the fields below, and serializes next and apply.
	mu      sync.Mutex
	waiting int     // snapshots asked for and not yet applied
	seq     int64   // the last snapshot's Seq
	held    []notif // notifications that came while waiting
}

type notif struct {
	method string
	params json.RawMessage
}

// NewFeed returns a feed that delivers to next.
func NewFeed(next NotifyFunc) *Feed { return &Feed{next: next} }

// Notify takes one notification from the connection.
func (f *Feed) Notify(method string, params json.RawMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting > 0 {
		f.held = append(f.held, notif{method, params})
		return
	}
	f.deliver(method, params)
}

// deliver passes a notification on unless the last snapshot has it. The
// caller holds f.mu.
func (f *Feed) deliver(method string, params json.RawMessage) {
	if seq, ok := Seq(method, params); ok && seq <= f.seq {
		return
	}
	f.next(method, params)
}

// Subscribe subscribes through api with a snapshot, calls apply with the
// result, then delivers the notifications that followed it. apply runs
// under the feed's lock: it must not block or call the feed.
func (f *Feed) Subscribe(ctx context.Context, api API, p SubscribeParams, apply func(*SubscribeResult)) (*SubscribeResult, error) {
	p.Snapshot = true
	f.mu.Lock()
	f.waiting++
	f.mu.Unlock()
	res, err := api.Subscribe(ctx, p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting--
	if err == nil {
		apply(res)
		f.seq = res.Seq
	}
	if f.waiting == 0 {
		held := f.held
		f.held = nil
		for _, n := range held {
			f.deliver(n.method, n.params)
		}
	}
	return res, err
}

// Seq returns the sequence number of a session, conflict or preview
// notification (see SubscribeResult.Seq); ok is false for others.
func Seq(method string, params json.RawMessage) (seq int64, ok bool) {
	switch method {
	case NotifySessionChanged, NotifyConflictsChanged, NotifyPreviewChanged:
	default:
		return 0, false
	}
	var v struct {
		Seq int64 `json:"seq"`
	}
	if json.Unmarshal(params, &v) != nil || v.Seq == 0 {
		return 0, false
	}
	return v.Seq, true
}
