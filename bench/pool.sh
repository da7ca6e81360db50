#!/usr/bin/env bash
# Runs the warm-pool, fsmonitor and conflict-latency benchmarks on generated
# repositories, each printing its numbers next to plain git's in the same
# run (ratios included). Usage:
#
#   bench/pool.sh            # 10k files
#   bench/pool.sh 100000     # 100k files (slow: minutes, and ~10 GB of disk)
#
# STUDIOD_BENCH_ROUNDS (spawns one at a time, default 5) and
# STUDIOD_BENCH_WRITES (writes for the latency benchmark, default 200) tune
# them; BENCH selects which (a go test -bench regexp).
set -euo pipefail
cd "$(dirname "$0")/.."
export STUDIOD_BENCH_FILES=${1:-${STUDIOD_BENCH_FILES:-10000}}
bench=${BENCH:-'PoolSpawn|FsmonitorStatus|PoolMemory|ConflictLatency'}
echo "== $STUDIOD_BENCH_FILES files: $bench"
go test -run XXX -bench "$bench" -benchtime 1x -timeout 2h -v ./cmd/studiod/ |
  grep -E '^(Benchmark|    pool_bench_test|    bench_test)|files' || true
