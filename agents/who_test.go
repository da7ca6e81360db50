package agents

import (
	"slices"
	"testing"

	"github.com/studiod/studiod/workspace"
)

func TestChangedLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hunks []workspace.Hunk
		want  []workspace.Range
	}{
		{"a changed line", []workspace.Hunk{{NewStart: 1, Lines: []string{" a", "-b", "+B", " c"}}}, []workspace.Range{{Start: 2, End: 2}}},
		{"added lines", []workspace.Hunk{{NewStart: 3, Lines: []string{" c", "+x", "+y", " d"}}}, []workspace.Range{{Start: 4, End: 5}}},
		{"a deletion marks the line after it", []workspace.Hunk{{NewStart: 1, Lines: []string{" a", "-b", " c"}}}, []workspace.Range{{Start: 2, End: 1}}},
		{"two runs in one hunk", []workspace.Hunk{{NewStart: 1, Lines: []string{"+a", " b", "+c"}}}, []workspace.Range{{Start: 1, End: 1}, {Start: 3, End: 3}}},
		{"adjacent runs of two hunks merge", []workspace.Hunk{
			{NewStart: 1, Lines: []string{"+a"}},
			{NewStart: 2, Lines: []string{"+b", " c"}},
		}, []workspace.Range{{Start: 1, End: 2}}},
		{"a new file", []workspace.Hunk{{NewStart: 1, Lines: []string{"+a", "+b", "+c"}}}, []workspace.Range{{Start: 1, End: 3}}},
		{"a deleted file", []workspace.Hunk{{NewStart: 0, Lines: []string{"-a", "-b"}}}, []workspace.Range{{Start: 1, End: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := changedLines(tc.hunks); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMeets(t *testing.T) {
	rs := []workspace.Range{{Start: 3, End: 5}, {Start: 9, End: 8}}
	for _, tc := range []struct {
		start, end int
		want       bool
	}{
		{1, 2, false}, {2, 3, true}, {5, 7, true}, {6, 8, false}, {9, 9, true}, {10, 12, false},
	} {
		if got := meets(rs, tc.start, tc.end); got != tc.want {
			t.Errorf("meets(%v, %d, %d) = %v, want %v", rs, tc.start, tc.end, got, tc.want)
		}
	}
}
