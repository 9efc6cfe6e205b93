#!/usr/bin/env bash
# Builds the release binary as it is shipped and benchmarked: the release profile (fat LTO,
# one codegen unit, panic=abort) linked static-pie against glibc (`+crt-static`), and prints
# its path.
#
# Why static: every `create`, `run` and `exec` executes the binary twice (the CVE-2019-5736
# re-exec from a read-only copy), and with a dynamic glibc each execution paid the dynamic
# loader (about 0.3 ms) and mapped libc, libm and libgcc_s (about 1.2 MB of peak RSS);
# scripts/bench.sh measures both. Static-pie keeps ASLR. hezi needs no NSS module (users and
# groups are read from the container's own /etc files; host names resolve through glibc's
# built-in files and dns backends).
#
# The flag needs an explicit --target: with it, cargo builds proc-macros and build scripts for
# the host without crt-static (they cannot be static), and the binary lands in
# target/<triple>/release/hezi.
#
#   scripts/build-release.sh          build, print the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked -q -p hezi --target "$triple" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$triple/release/hezi"
