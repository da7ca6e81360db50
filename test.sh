#!/usr/bin/env bash
# Runs every test studiod has: formatting, vet, the Go tests with the race
# detector, fuzzing, then the real-client suites (MCP, LSP, ACP, Neovim, VS Code),
# each of which installs what it needs first. Every suite runs even when an
# earlier one fails; the last line counts them, and the exit status is
# non-zero if any failed.
#
#   ./test.sh            everything
#   ./test.sh go         gofmt, vet, go test -race, fuzz
#   ./test.sh clients    the MCP, LSP, ACP, Neovim and VS Code suites
#   ./test.sh lsp nvim   those suites only (names: gofmt vet gotest fuzz mcp lsp acp nvim vscode)
set -uo pipefail
cd "$(dirname "$0")"

go_suites=(gofmt vet gotest fuzz)
client_suites=(mcp lsp acp nvim vscode)
case "${1:-all}" in
all) suites=("${go_suites[@]}" "${client_suites[@]}") ;;
go) suites=("${go_suites[@]}") ;;
clients) suites=("${client_suites[@]}") ;;
*) suites=("$@") ;;
esac

# apt installs a package when its command is missing, with sudo only when
# not root.
apt() {
	local sudo=""
	((EUID == 0)) || sudo=sudo
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

suite_gofmt() {
	local unformatted
	unformatted=$(gofmt -l $(git ls-files '*.go')) || return 1
	[[ -z $unformatted ]] || { echo "gofmt would change:"; echo "$unformatted"; return 1; }
}
suite_vet() { go vet ./...; }
suite_gotest() {
	# -race needs cgo, so a C compiler.
	command -v gcc >/dev/null || apt gcc libc6-dev || return 1
	STUDIOD_AGENTS_BIN=$(bash .ci/agents.sh) || return 1
	export STUDIOD_AGENTS_BIN
	# The daemon tests mostly wait on real processes (agents, git, sshd):
	# they run side by side, two at a time.
	CGO_ENABLED=1 go test -race -count=1 -parallel 2 -timeout 45m ./...
}
# The fuzz targets' seeds and saved corpora ran with the Go tests; fuzz each
# briefly. A count, not a duration: Go 1.26's fuzz coordinator can report its
# own -fuzztime deadline as a failure (go.dev/issue/75804).
suite_fuzz() { bash test/fuzz.sh 20000x; }
suite_mcp() { bash .ci/mcp.sh; }
suite_lsp() { bash .ci/lsp.sh; }
suite_acp() { bash .ci/acp.sh; }
suite_nvim() { bash .ci/nvim.sh; }
suite_vscode() { bash .ci/vscode.sh; }

for s in "${suites[@]}"; do
	if ! declare -F "suite_$s" >/dev/null; then
		echo "test.sh: no suite $s (suites: ${go_suites[*]} ${client_suites[*]})" >&2
		exit 2
	fi
done
passed=() failed=()
for s in "${suites[@]}"; do
	echo "== $s"
	start=$SECONDS
	# Each suite in a subshell: one that exits or changes directory does
	# not end or move the others. (set -e does not apply inside an if's
	# condition, so the suites chain their steps with || return.)
	if ("suite_$s"); then
		passed+=("$s")
		echo "== $s: ok ($((SECONDS - start))s)"
	else
		failed+=("$s")
		echo "== $s: FAILED ($((SECONDS - start))s)"
	fi
done
echo "== summary"
for s in "${passed[@]}"; do echo "  ok      $s"; done
for s in "${failed[@]}"; do echo "  FAILED  $s"; done
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
