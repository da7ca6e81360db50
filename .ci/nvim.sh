#!/usr/bin/env bash
# Headless Neovim tests of editors/nvim against the real daemon.
# Usage: .ci/nvim.sh   (from anywhere; needs go, git, and root or neovim)
# STUDIO_TEST_DIAGNOSTICS=1 also requires LSP conflict diagnostics;
# STUDIO_TEST_STRICT=1 fails on requests the daemon does not serve yet;
# STUDIOD_BIN=/path/to/studiod tests that binary instead of building one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v nvim >/dev/null; then
	apt-get update -qq && apt-get install -y -qq neovim >/dev/null
fi
nvim --version | head -1

tmp=$(mktemp -d)
export STUDIOD_HOME="$tmp/home"
if [ -z "${STUDIOD_BIN:-}" ]; then
	export STUDIOD_BIN="$tmp/studiod"
	(cd "$root" && go build -o "$STUDIOD_BIN" ./cmd/studiod)
fi
cleanup() {
	# The test stops its sessions and the daemon; this is the backstop.
	"$STUDIOD_BIN" shutdown >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=studio-test GIT_AUTHOR_EMAIL=test@studio.invalid
export GIT_COMMITTER_NAME=studio-test GIT_COMMITTER_EMAIL=test@studio.invalid
export XDG_CONFIG_HOME="$tmp/xdg/config" XDG_DATA_HOME="$tmp/xdg/data"
export XDG_STATE_HOME="$tmp/xdg/state" XDG_CACHE_HOME="$tmp/xdg/cache"
export STUDIO_DEMO_SPEED=${STUDIO_DEMO_SPEED:-20}
export STUDIO_TEST_STRICT=${STUDIO_TEST_STRICT:-1}
export STUDIO_TEST_DIAGNOSTICS=${STUDIO_TEST_DIAGNOSTICS:-1}
mkdir -p "$STUDIOD_HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$XDG_CACHE_HOME"

export STUDIO_TEST_REPO="$tmp/repo"
mkdir -p "$STUDIO_TEST_REPO/app"
git -C "$STUDIO_TEST_REPO" init -q -b main
for i in 1 2 3 4 5 6 7 8; do echo "setting$i = $i"; done >"$STUDIO_TEST_REPO/app/config.txt"
git -C "$STUDIO_TEST_REPO" add -A
git -C "$STUDIO_TEST_REPO" commit -q -m "initial"

cd "$root/editors/nvim"
status=0
for t in tests/unit.lua tests/e2e.lua; do
	echo "== $t"
	timeout 300 nvim --headless --clean -u NONE -c "luafile $t" </dev/null || status=1
done
exit $status
