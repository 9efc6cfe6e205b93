#!/usr/bin/env bash
# fixture-layout.sh DIR [REF]: the busybox OCI layout (ref REF, default busybox:latest) the
# engine suites load, built offline by hezi-testsupport from Debian's busybox-static.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${CARGO_TARGET_DIR:-target}/debug/hezi-fixtures
[ -x "$bin" ] || cargo build -q -p hezi-testsupport
"$bin" layout "$1" "${2:-busybox:latest}"
