#!/usr/bin/env bash
# Protocol-level LSP test: the npm vscode-languageserver-protocol client
# (test/lsp) drives a freshly built `studiod lsp` against a temp repository.
# Installs the client's npm dependencies only when the lockfile changed.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "lsp.sh: node is required" >&2; exit 1; }

dir=test/lsp
# The stamp is the lockfile the installed node_modules came from.
stamp=$dir/node_modules/.studiod-lock.json
if ! cmp -s "$dir/package-lock.json" "$stamp"; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/studiod" ./cmd/studiod
(cd "$dir" && STUDIOD_BIN="$tmp/studiod" timeout 180 node client.test.js)
