package protocol

import (
	"fmt"
	"strings"
)

// Deletion reports whether r marks lines deleted before r.Start rather than
// lines present in the file.
func (r Range) Deletion() bool { return r.End < r.Start }

// String renders r for a person: "4", "12–14", or "deletion before 7".
func (r Range) String() string {
	switch {
	case r.Deletion():
		return fmt.Sprintf("deletion before %d", r.Start)
	case r.End == r.Start:
		return fmt.Sprint(r.Start)
	}
	return fmt.Sprintf("%d–%d", r.Start, r.End)
}

// FormatRanges renders line ranges for a person, the one way every face
// says them: "line 4", "lines 12–14, 20", "deletion before line 7",
// "the whole file" when there are none.
func FormatRanges(rs []Range) string {
	if len(rs) == 0 {
		return "the whole file"
	}
	if len(rs) == 1 && rs[0].Deletion() {
		return fmt.Sprintf("deletion before line %d", rs[0].Start)
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	word := "lines "
	if len(rs) == 1 && rs[0].End == rs[0].Start {
		word = "line "
	}
	return word + strings.Join(parts, ", ")
}
