package protocol

import (
	"strings"
	"testing"
)

func TestUsageShortAndAdd(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.0k", 4_100_000: "4.1M"} {
		if got := tokenCount(n); got != want {
			t.Errorf("tokenCount(%d) = %q, want %q", n, got, want)
		}
	}
	var total Usage
	total.Add(Usage{Input: 1000, Output: 10, CacheRead: 9000, CacheWrite: 200})
	if got := total.Short(); got != "10.2k in 10 out" {
		t.Errorf("no cost reported: %q", got)
	}
	a, b := 0.5, 0.25
	total.Add(Usage{Input: 1, Cost: &a})
	total.Add(Usage{Output: 5, Cost: &b})
	if got := total.Short(); got != "10.2k in 15 out $0.75" {
		t.Errorf("costs summed: %q", got)
	}
	if *total.Cost != 0.75 || a != 0.5 {
		t.Errorf("Add changed an addend's cost: %v %v", *total.Cost, a)
	}
	// A session's context, not a sum's.
	total.Add(Usage{Input: 1, Context: 5000, ContextWindow: 200000})
	if total.Context != 0 || total.ContextWindow != 0 {
		t.Errorf("a sum with a context: %+v", total)
	}
	for _, c := range []struct {
		u            Usage
		short, words string
	}{
		{Usage{Input: 100, Output: 5, Context: 41_200, ContextWindow: 200_000}, "100 in 5 out ctx 20%", "41.2k of 200.0k tokens (20%)"},
		{Usage{Input: 100, Output: 5, Context: 41_200}, "100 in 5 out ctx 41.2k", "41.2k tokens"},
		{Usage{Input: 100, Output: 5}, "100 in 5 out", ""},
	} {
		if got := c.u.Short(); got != c.short {
			t.Errorf("%+v: Short %q, want %q", c.u, got, c.short)
		}
		if got := c.u.ContextText(); got != c.words {
			t.Errorf("%+v: ContextText %q, want %q", c.u, got, c.words)
		}
		if !strings.HasSuffix(c.u.String(), c.words) {
			t.Errorf("%+v: String %q does not end in %q", c.u, c.u.String(), c.words)
		}
	}
}
