package protocol

import "testing"

func TestFormatRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Range
		want string
	}{
		{"none", nil, "the whole file"},
		{"one line", []Range{{4, 4}}, "line 4"},
		{"a span", []Range{{12, 14}}, "lines 12–14"},
		{"several", []Range{{12, 14}, {20, 20}}, "lines 12–14, 20"},
		{"a deletion", []Range{{7, 6}}, "deletion before line 7"},
		{"a deletion among others", []Range{{3, 3}, {7, 6}}, "lines 3, deletion before 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatRanges(tc.in); got != tc.want {
				t.Errorf("FormatRanges(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
