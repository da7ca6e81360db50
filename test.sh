#!/usr/bin/env bash
# Runs every test studiod has: formatting, vet, the Go tests with the race
# detector, then the real-client suites (MCP, LSP, ACP, Neovim, VS Code), each of
# which installs what it needs first. Usage: ./test.sh [go|clients]
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-all}
suites=0

if [ "$what" = all ] || [ "$what" = go ]; then
  echo "== gofmt"
  unformatted=$(gofmt -l $(git ls-files '*.go'))
  if [ -n "$unformatted" ]; then
    echo "gofmt would change:"; echo "$unformatted"; exit 1
  fi
  echo "== go vet"
  go vet ./...
  echo "== agent CLIs (npm)"
  STUDIOD_AGENTS_BIN=$(bash .ci/agents.sh)
  export STUDIOD_AGENTS_BIN
  echo "== go test -race"
  go test -race -count=1 -timeout 30m ./...
  # The fuzz targets' seeds and saved corpora ran above; fuzz each briefly.
  # A count, not a duration: Go 1.26's fuzz coordinator can report its own
  # -fuzztime deadline as a failure (go.dev/issue/75804).
  echo "== fuzz (20000 inputs a target)"
  bash test/fuzz.sh 20000x
  suites=$((suites + 1))
fi

if [ "$what" = all ] || [ "$what" = clients ]; then
  for suite in mcp lsp acp nvim vscode; do
    if [ -x ".ci/$suite.sh" ] || [ -f ".ci/$suite.sh" ]; then
      echo "== $suite"
      bash ".ci/$suite.sh"
      suites=$((suites + 1))
    fi
  done
fi
echo "== all tests passed"
# set -e stops at the first failing suite, so reaching here means none failed.
echo "suites: $suites passed, 0 failed"
