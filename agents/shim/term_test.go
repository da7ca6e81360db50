package shim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render feeds raw through a 40x120 term in chunks of size n (0: whole).
func render(t *testing.T, raw []byte, n int) ScreenState {
	t.Helper()
	tm := newTerm(40, 120, io.Discard, 0)
	defer tm.close()
	if n <= 0 {
		n = len(raw)
	}
	for i := 0; i < len(raw); i += n {
		tm.Write(raw[i:min(i+n, len(raw))])
	}
	return tm.screen()
}

// TestTermGoldenScreens renders each recorded agent screen and compares it
// with xterm.js's rendering.
func TestTermGoldenScreens(t *testing.T) {
	raws, err := filepath.Glob("../testdata/screens/*.raw")
	if err != nil || len(raws) == 0 {
		t.Fatalf("no recorded screens: %v", err)
	}
	for _, raw := range raws {
		name := strings.TrimSuffix(filepath.Base(raw), ".raw")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(raw)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(raw, ".raw") + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{0, 1, 7, 4096} {
				sc := render(t, b, n)
				got := strings.Join(sc.Rows, "\n") + "\n"
				if got != string(want) {
					t.Fatalf("chunks of %d: screen differs from %s.txt:\n%s", n, name, diffLines(got, string(want)))
				}
			}
		})
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var sb strings.Builder
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			fmt.Fprintf(&sb, "row %d:\n  got  %q\n  want %q\n", i, a, b)
		}
	}
	return sb.String()
}
