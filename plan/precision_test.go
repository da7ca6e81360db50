package plan

import (
	"os"
	"path"
	"slices"
	"testing"

	"github.com/studiod/studiod/workspace"
)

// TestCoChangePrecision measures the co-change signal on a real history
// (STUDIOD_PLAN_PRECISION_REPO, e.g. this repository): each directory is a
// scope; the older 70% of the commits flag the coupled pairs of scopes as
// Check does, and for each later commit, each scope it changes predicts
// that its flagged partners change in the same commit. Precision is the
// share of those predictions that came true; the base rate is the same for
// the pairs not flagged. It reports, it asserts nothing.
func TestCoChangePrecision(t *testing.T) {
	repo := os.Getenv("STUDIOD_PLAN_PRECISION_REPO")
	if repo == "" {
		t.Skip("set STUDIOD_PLAN_PRECISION_REPO to a repository to measure")
	}
	var commits [][]string
	err := walkHistory(t.Context(), &workspace.Git{}, repo, -1, func(paths []string) {
		if len(paths) > DefaultMaxCommitFiles {
			return
		}
		var dirs []string
		for _, p := range paths {
			if d := path.Dir(p); !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
		commits = append(commits, dirs)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(commits) // oldest first
	split := len(commits) * 7 / 10
	count := map[string]int{}
	together := map[[2]string]int{}
	for _, dirs := range commits[:split] {
		for _, a := range dirs {
			count[a]++
			for _, b := range dirs {
				if a != b {
					together[[2]string{a, b}]++
				}
			}
		}
	}
	flagged := func(a, b string) bool {
		n := together[[2]string{a, b}]
		return n >= CoupledCommits && float64(n)/float64(min(count[a], count[b])) >= CoupledStrength
	}
	var predicted, hit, basePredicted, baseHit int
	for _, dirs := range commits[split:] {
		for _, a := range dirs {
			for b := range count {
				if b == a || count[a] == 0 {
					continue
				}
				in := slices.Contains(dirs, b)
				if flagged(a, b) {
					predicted++
					if in {
						hit++
					}
				} else {
					basePredicted++
					if in {
						baseHit++
					}
				}
			}
		}
	}
	// Per pair: of the flagged pairs either of whose scopes changed
	// later, those changed together at least once.
	later := map[[2]string]bool{}
	active := map[string]bool{}
	for _, dirs := range commits[split:] {
		for _, a := range dirs {
			active[a] = true
			for _, b := range dirs {
				later[[2]string{a, b}] = true
			}
		}
	}
	var pairs, pairsHit int
	for k := range together {
		if k[0] < k[1] && flagged(k[0], k[1]) && (active[k[0]] || active[k[1]]) {
			pairs++
			if later[k] {
				pairsHit++
			}
		}
	}
	t.Logf("flagged pairs changed together again: %d of %d (%.1f%%)", pairsHit, pairs, 100*float64(pairsHit)/float64(max(pairs, 1)))
	if predicted == 0 {
		t.Fatalf("nothing flagged over %d commits", len(commits))
	}
	t.Logf("%d commits (%d to learn, %d to test), %d scopes: precision %.1f%% (%d of %d predictions), base rate of the pairs not flagged %.2f%% (%d of %d)",
		len(commits), split, len(commits)-split, len(count),
		100*float64(hit)/float64(predicted), hit, predicted, 100*float64(baseHit)/float64(max(basePredicted, 1)), baseHit, basePredicted)
}
