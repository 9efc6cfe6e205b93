#!/usr/bin/env bash
# hezi's main job, on a fresh machine: build hezi, build the default busybox image from
# Debian's busybox-static, import it into a store, and run a real container from it.
#
#   scripts/demo.sh                    runs: sh -c 'echo ...; id; ls /'
#   scripts/demo.sh -- CMD [ARGS...]   runs CMD in the container instead
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--" ] && shift
scripts/deps.sh
cargo build --release -q -p hezi -p hezi-testsupport
hezi=target/release/hezi
work=$(mktemp -d /tmp/hezi-demo.XXXXXX)
id="demo-$$"
cleanup() {
    "$hezi" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
store="${HEZI_STORE:-$work/store}"
echo "building the default image (Debian busybox-static) ..."
target/release/hezi-fixtures layout "$work/layout" busybox:latest >/dev/null
"$hezi" --store "$store" image import "$work/layout" busybox:latest
"$hezi" --store "$store" image ls
if [ $# -eq 0 ]; then
    set -- sh -c 'echo "hello from a hezi container: $(hostname)"; id; cat /proc/self/cgroup | head -3; ls /'
fi
echo "running: $*"
"$hezi" --root "$work/state" --store "$store" run --image busybox:latest "$id" -- "$@"
