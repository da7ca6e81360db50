#!/bin/sh
# Installs the agent CLIs that studiod drives (Claude Code, Codex, Gemini CLI,
# opencode, claude-agent-acp), at the versions pinned in test/agents, and
# prints the directory holding their executables. Idempotent: npm ci runs only
# when node_modules is missing or was installed from another lock file.
# Reaches only the npm registry. Needs Node >= 20 and npm.
#
#   bin=$(.ci/agents.sh)   # progress goes to stderr, the bin dir to stdout
#
# See docs/agents.md for how each CLI is run offline against internal/fakemodel.
set -eu
cd "$(dirname "$0")/../test/agents"
dir=$(pwd)
# install runs npm ci in the current directory unless node_modules was
# installed from this lock file already.
install() {
	stamp=node_modules/.studiod-lock.sha
	want=$(sha256sum package-lock.json | cut -d' ' -f1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		npm ci --no-audit --no-fund >&2
		echo "$want" >"$stamp"
	fi
}
# package.json's allowScripts lets Claude Code's postinstall run: it links
# the native binary from @anthropic-ai/claude-code-linux-x64 over the
# bin/claude.exe placeholder. node-pty and keytar (Gemini CLI's optional
# native modules) are denied: Gemini CLI uses @lydell/node-pty's prebuilt.
install
# Claude Code at the version npm picks on Node 20 (newer ones need a newer
# Node), in node20/: its screens differ from the pinned one's.
(cd node20 && install)
if ! node20/node_modules/.bin/claude --version >/dev/null 2>&1; then
	node node20/node_modules/@anthropic-ai/claude-code/install.cjs >&2
fi
bin=$dir/node_modules/.bin
# opencode is pinned as its platform package (opencode-linux-x64): the
# opencode-ai wrapper lists platform packages that the registry reached here
# does not serve, so npm ci cannot use it. That package declares no bin.
ln -sf ../opencode-linux-x64/bin/opencode "$bin/opencode"
# If install scripts were skipped anyway (npm --ignore-scripts, or a policy
# that blocks them), finish Claude Code's install by hand.
if ! "$bin/claude" --version >/dev/null 2>&1; then
	node node_modules/@anthropic-ai/claude-code/install.cjs >&2
fi
for c in "$bin"/claude "$bin"/codex "$bin"/gemini "$bin"/opencode "$bin"/claude-agent-acp "$bin"/codex-acp "$dir"/node20/node_modules/.bin/claude; do
	[ -x "$c" ] || { echo "agents.sh: $c missing" >&2; exit 1; }
done
echo "$bin"
