#!/bin/sh
# Real ACP clients (acpx, the ACP TypeScript SDK's client) against a freshly
# built `studiod acp`, with the scripted ACP agent of cmd/studiod's tests
# underneath (the test binary runs it when called as fakeacp). Called from
# test.sh.
set -eu
cd "$(dirname "$0")/.."

tmp=$(mktemp -d /tmp/sdci.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/studiod" ./cmd/studiod
go test -c -o "$tmp/studiod.test" ./cmd/studiod

cd test/acp
# Idempotent: install only when the lock file changed since the last
# install. npm install, not npm ci: the lock pins every version, but the
# registry reached here serves only the linux-x64 builds of acpx's optional
# native packages, so the lock lacks the others and npm ci refuses it.
stamp=node_modules/.studiod-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	npm install --no-audit --no-fund
	echo "$want" >"$stamp"
fi
STUDIOD_BIN="$tmp/studiod" FAKEACP_BIN="$tmp/studiod.test" npm test
