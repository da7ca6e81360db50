#!/bin/sh
# Real MCP clients (the MCP TypeScript SDK over stdio and HTTP, the MCP
# Inspector CLI) against a freshly built studiod. Called from .ci/run.
#
# STUDIOD_MCP_STRICT=1 demands successful results from session_diff,
# check_conflicts, merge_session (and the review tools); flip the default
# below to 1 once the daemon implements studio/diff, conflicts, comment,
# feedback and merge.
set -eu
cd "$(dirname "$0")/.."
: "${STUDIOD_MCP_STRICT:=1}"
export STUDIOD_MCP_STRICT

tmp=$(mktemp -d /tmp/sdci.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/studiod" ./cmd/studiod

cd test/mcp
# Idempotent: npm ci only when the lock file changed since the last install.
stamp=node_modules/.studiod-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	npm ci --no-audit --no-fund
	echo "$want" >"$stamp"
fi
STUDIOD_BIN="$tmp/studiod" npm test
