package agents

import (
	"slices"
	"testing"
)

// TestFanout hands each value to every listener until it cancels.
func TestFanout(t *testing.T) {
	var f fanout[int]
	var a, b []int
	cancelA := f.add(func(v int) { a = append(a, v) })
	f.add(func(v int) { b = append(b, v) })
	f.send(1)
	cancelA()
	f.send(2)
	if !slices.Equal(a, []int{1}) || !slices.Equal(b, []int{1, 2}) {
		t.Errorf("a got %v, b got %v; want [1] and [1 2]", a, b)
	}
	// A listener may cancel itself while called.
	var cancelC func()
	var c []int
	cancelC = f.add(func(v int) { c = append(c, v); cancelC() })
	f.send(3)
	f.send(4)
	if !slices.Equal(c, []int{3}) {
		t.Errorf("a listener cancelling itself got %v; want [3]", c)
	}
}
