#!/usr/bin/env bash
# Runs the tests that lean on git's own behaviour (the workspace package:
# snapshots, merge-tree, merges, the fsmonitor; the daemon's fsmonitor and
# merge tests) against other releases of git than the machine's, built from
# Debian's source packages: Debian 13's (trixie) and unstable's (sid) by
# default, or the suites named.
#
#   bash test/gitversions.sh              trixie and sid
#   bash test/gitversions.sh sid          one suite
#
# Each git is built once into $STUDIOD_GIT_CACHE (default
# ~/.cache/studiod-test/git) under its version, without the parts studiod
# does not use (curl, Perl, Python, Tcl/Tk, gettext). A build needs make,
# gcc and zlib's headers (apt-get install make gcc zlib1g-dev).
set -uo pipefail
cd "$(dirname "$0")/.."

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${STUDIOD_GIT_CACHE:-$HOME/.cache/studiod-test/git}
suites=("$@")
((${#suites[@]})) || suites=(trixie sid)
tests='TestFsmonitor|TestMerge|TestLand|TestSync|TestConflict|TestPreview|TestUndo'

# build SUITE prints the bin directory of that suite's git, building it
# first when the cache has none.
build() {
	local suite=$1 entry version file sum dir src
	# awk reads to the end: a pipe closed early would fail curl (pipefail).
	entry=$(curl -fsS "$mirror/dists/$suite/main/source/Sources.xz" | xz -d | awk '/^Package: git$/{f=1} f&&/^$/{f=0} f{print}') || return 1
	version=$(awk '/^Version:/{print $2; exit}' <<<"$entry")
	version=${version#*:}
	version=${version%%-*}
	[[ -n $version ]] || { echo "no git in $suite" >&2; return 1; }
	dir=$cache/$version
	if [[ ! -x $dir/bin/git ]]; then
		file=$(awk '/^Checksums-Sha256:/{f=1; next} f&&/^ /{print $3} f&&!/^ /{exit}' <<<"$entry" | grep '\.orig\.tar\.')
		sum=$(awk '/^Checksums-Sha256:/{f=1; next} f&&/^ /&&$3=="'"$file"'"{print $1}' <<<"$entry")
		src=$(mktemp -d)
		echo "building git $version ($suite) into $dir" >&2
		curl -fsS -o "$src/$file" "$mirror/pool/main/g/git/$file" || return 1
		echo "$sum  $src/$file" | sha256sum -c --quiet - >&2 || return 1
		tar -xf "$src/$file" -C "$src" || return 1
		make -C "$src/git-$version" -j"$(nproc)" prefix="$dir" NO_CURL=1 NO_GETTEXT=1 NO_TCLTK=1 NO_PERL=1 NO_PYTHON=1 \
			NO_EXPAT=1 NO_OPENSSL=1 INSTALL_SYMLINKS=1 install >"$src/build.log" 2>&1 || { tail -20 "$src/build.log" >&2; return 1; }
		rm -rf "$src"
	fi
	echo "$dir/bin"
}

failed=0
for suite in "${suites[@]}"; do
	bin=$(build "$suite") || { echo "== git of $suite: could not build"; failed=1; continue; }
	echo "== $("$bin/git" --version) ($suite)"
	# GIT_EXEC_PATH: the built git's own helpers, not the machine's.
	if PATH=$bin:$PATH GIT_EXEC_PATH=$(dirname "$bin")/libexec/git-core \
		CGO_ENABLED=1 go test -race -count=1 -parallel 4 ./workspace/ &&
		PATH=$bin:$PATH GIT_EXEC_PATH=$(dirname "$bin")/libexec/git-core \
			CGO_ENABLED=1 go test -race -count=1 -parallel 4 -run "$tests" ./cmd/studiod/; then
		echo "== $suite: ok"
	else
		echo "== $suite: FAILED"
		failed=1
	fi
done
exit $failed
