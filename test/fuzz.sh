#!/usr/bin/env bash
# Runs every fuzz target for a while, one at a time (each on one worker, to
# leave the machine to others). CI runs it briefly (test.sh: 20000 inputs a
# target); run it longer by hand, e.g. `test/fuzz.sh 3m`, and commit what it
# finds:
# a failing input lands in the package's testdata/fuzz/<Target>/, where
# plain `go test` replays it from then on.
# Usage: test/fuzz.sh [DURATION|COUNTx] [TARGET-REGEXP]
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-5s}
only=${2:-.}
for pkg in ./protocol ./workspace ./agents; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E "$only" || true); do
    echo "== $pkg $target ($time)"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -parallel 1
  done
done
