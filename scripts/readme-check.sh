#!/usr/bin/env bash
# Runs the README's tour as written: every ```sh block preceded by a `<!-- readme-check -->`
# line, in order, as one bash script (set -e: the first failing command fails the check), in a
# fresh temp dir, as root, after the install step (scripts/install.sh --bin into a temp
# PREFIX). Container state and the image store live in the temp dir too (HEZI_ROOT,
# HEZI_STORE), and whatever the tour leaves running is force-deleted at the end.
#
#   scripts/readme-check.sh            builds hezi and hezi-fixtures (debug) first
#   HEZI_BIN_DIR=target/release scripts/readme-check.sh   uses binaries already built there
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ "$(id -u)" -ne 0 ]; then
    echo "readme-check: skipped (needs root)"
    exit 0
fi
bindir=${HEZI_BIN_DIR:-}
if [ -z "$bindir" ]; then
    cargo build -q -p hezi -p hezi-testsupport
    bindir=target/debug
fi
bindir=$(cd "$bindir" && pwd)

work=$(mktemp -d /tmp/hezi-readme.XXXXXX)
export HEZI_ROOT="$work/state" HEZI_STORE="$work/store"
cleanup() {
    if [ -d "$HEZI_ROOT" ]; then
        for id in $("$work/prefix/bin/hezi" list -q 2>/dev/null); do
            "$work/prefix/bin/hezi" delete --force "$id" >/dev/null 2>&1 || true
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The install step, into the temp dir.
PREFIX="$work/prefix" MANDIR="$work/prefix/man1" BASH_COMPLETION_DIR="$work/prefix/bash-completion" \
    scripts/install.sh --bin "$bindir/hezi" >/dev/null
test -s "$work/prefix/man1/hezi-run.1"
test -s "$work/prefix/bash-completion/hezi"

# The marked blocks, in README order.
awk '
    /^<!-- readme-check -->$/ { armed = 1; next }
    armed && /^```sh$/ { inblock = 1; armed = 0; n++; printf "\n# --- README block %d\n", n; next }
    inblock && /^```$/ { inblock = 0; next }
    inblock { print; next }
    { armed = 0 }
' README.md >"$work/tour.sh"
blocks=$(grep -c '^# --- README block' "$work/tour.sh" || true)
if [ "$blocks" -eq 0 ]; then
    echo "readme-check: no marked blocks in README.md" >&2
    exit 1
fi

mkdir "$work/tour"
echo "readme-check: running $blocks README block(s) in $work/tour"
start=$(date +%s)
(
    cd "$work/tour"
    # hezi-fixtures (the offline busybox image) is built next to hezi in the checkout.
    export PATH="$work/prefix/bin:$bindir:$PATH"
    bash -euo pipefail -x "$work/tour.sh"
)
echo "readme-check: ok ($(($(date +%s) - start))s, repo $repo)"
