package main

import (
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// ls and the other tables cut long text to a number of terminal cells,
// never inside a character.
func TestTrunc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "working", 40, "working"},
		{"ascii", "waiting: Allow Write hello.py?", 12, "waiting: Al…"},
		{"accents", "waiting: Écrire le fichier général ?", 12, "waiting: Éc…"},
		{"wide", "waiting: 書き込みますか", 14, "waiting: 書き…"},
		{"emoji", "idle 🚀🚀🚀🚀", 8, "idle 🚀…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := trunc(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("trunc(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("trunc(%q, %d) = %q: not valid UTF-8", tc.in, tc.n, got)
			}
			if w := ansi.StringWidth(got); w > tc.n {
				t.Errorf("trunc(%q, %d) is %d cells wide", tc.in, tc.n, w)
			}
		})
	}
}
