package agents

import "sync"

// fanout hands each value sent to every listener added and not yet
// cancelled: session changes, conflict changes, ACP activity, previews.
// Listeners are called on the sender's goroutine, outside the fanout's
// lock, and must not block.
type fanout[T any] struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(T)
}

// add calls fn with every value sent until cancel is called.
func (f *fanout[T]) add(fn func(T)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns == nil {
		f.fns = map[int]func(T){}
	}
	id := f.next
	f.next++
	f.fns[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.fns, id)
		f.mu.Unlock()
	}
}

// send calls every listener with v.
func (f *fanout[T]) send(v T) {
	f.mu.Lock()
	fns := make([]func(T), 0, len(f.fns))
	for _, fn := range f.fns {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(v)
	}
}
