#!/usr/bin/env bash
# Runs every benchmark and prints one table: each figure next to its floor
# (what plain git, or the git work it cannot avoid, takes in the same run)
# and their ratio. Quick by default (small repositories, few rounds);
# --full runs them at 10k files with more rounds (slow on small machines).
#
#   bench/all.sh            # quick: 3k files, 3 rounds
#   bench/all.sh --full     # 10k files, default rounds
#   BENCH_FILES=30000 bench/all.sh
#
# The raw `go test -bench` output is kept in $TMPDIR/studiod-bench.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
files=3000 rounds=3 writes=30 snaps=10 sessions=10
if [[ ${1:-} == --full ]]; then
  files=10000 rounds=5 writes=200 snaps=30 sessions=20
fi
export STUDIOD_BENCH_FILES=${BENCH_FILES:-$files}
export STUDIOD_BENCH_ROUNDS=$rounds STUDIOD_BENCH_WRITES=$writes STUDIOD_BENCH_SNAPS=$snaps STUDIOD_BENCH_SESSIONS=$sessions
raw=${TMPDIR:-/tmp}/studiod-bench.txt
: >"$raw"
run() { # package regexp
  echo "… $1 $2 ($STUDIOD_BENCH_FILES files)" >&2
  go test -run XXX -bench "$2" -benchtime 1x -timeout 1h "$1" >>"$raw" 2>&1 ||
    { echo "benchmarks in $1 failed; see $raw" >&2; exit 1; }
}
run ./workspace/ 'ConflictLatency|Snapshot$|Preview|WatchDegraded'
run ./cmd/studiod/ 'SpawnCLI|SpawnDeps|PoolSpawn|FsmonitorStatus|Gate|HookToWaiting|SessionsRoundTrip|ConflictLatency'
# Many sessions at once: 50 with --full, as many as the others' sessions
# otherwise.
STUDIOD_BENCH_SESSIONS=$([[ ${1:-} == --full ]] && echo 50 || echo "$sessions") run ./cmd/studiod/ 'ManySessions'

# A benchmark line is its name, b.N, then value-unit pairs. Units with a
# slash are ratios; units naming git, plain or a floor are floors; the
# rest are the figures; ns/op (the whole benchmark, setup included) is left
# out.
awk -v files="$STUDIOD_BENCH_FILES" -v machine="$(nproc) cores, $(uname -sr)" '
/^pkg: / { pkg = $2; sub(/.*\//, "", pkg) }
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); name = pkg "." name
  fig = ""; flo = ""; rat = ""
  for (i = 3; i < NF; i += 2) {
    v = $i; u = $(i + 1)
    if (u == "ns/op") continue
    cell = sprintf("%s %s", v, u)
    if (u ~ /^(git|plain|floor|add-A|status-ms)/ || u ~ /^µs\/git/) flo = flo (flo ? ", " : "") cell
    else if (u ~ /\// && u !~ /\/op$/ && u !~ /^µs\//) rat = rat (rat ? ", " : "") cell
    else fig = fig (fig ? ", " : "") cell
  }
  rows[++n] = sprintf("| %s | %s | %s | %s |", name, fig, flo, rat)
}
END {
  printf "%d files, one run; the machine: %s\n\n", files, machine
  print "| benchmark | figures | floors (plain git, same run) | ratios |"
  print "|---|---|---|---|"
  for (i = 1; i <= n; i++) print rows[i]
}' "$raw"
