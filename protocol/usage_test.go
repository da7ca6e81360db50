package protocol

import "testing"

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
}
