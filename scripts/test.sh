#!/usr/bin/env bash
# hezi's test command (the README's): installs what the tests need, checks formatting and
# lints, builds, dry-runs `cargo publish` of every crate, runs the cgroup v2 suite, the checkpoint/restore (CRIU) suite and the systemd driver suite (systemd as init, unified
# and hybrid cgroups) in throwaway VMs (as root), the engine suites (podman, containerd and
# docker with runc and with hezi, as root), a bounded run of every fuzz target, and every unit and
# integration test. Without root, root-only tests skip themselves with a message.
#
#   scripts/test.sh              everything
#   HEZI_SKIP_VM=1 scripts/test.sh   without the VM suite
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "build"
cargo build --workspace --all-targets

step "feature subsets embedders may pick (hezi-cgroups v1/v2/systemd, hezi-image zstd/registry)"
for f in v1 v2 systemd,v1 systemd,v2; do
    cargo build -q -p hezi-cgroups --no-default-features --features "$f"
done
cargo build -q -p hezi-cgroups --no-default-features
cargo test -q -p hezi-cgroups --no-default-features --features v2 --lib
cargo build -q -p hezi-image --no-default-features
cargo build -q -p hezi-image --no-default-features --features registry


if [ "$(id -u)" -eq 0 ] && [ "${HEZI_SKIP_VM:-0}" != 1 ] && [ -x scripts/vm/run.sh ] && [ -f tests/vm/v2-suite.sh ]; then
    step "cgroup v2 suite in a throwaway VM"
    scripts/vm/run.sh --timeout 1200 -- bash "$PWD/tests/vm/v2-suite.sh"
    step "checkpoint/restore with CRIU in a throwaway VM (Debian's kernel), beside runc (pure v2)"
    scripts/vm/run.sh --timeout 900 -- bash "$PWD/tests/vm/criu-suite.sh"
    step "checkpoint/restore with CRIU in a throwaway VM, beside runc (hybrid: v1 controllers)"
    scripts/vm/run.sh --init systemd --cgroup hybrid --timeout 900 -- bash "$PWD/tests/vm/criu-suite.sh"
    for layout in unified hybrid; do
        step "systemd cgroup driver in a throwaway VM booted with systemd ($layout cgroups)"
        scripts/vm/run.sh --init systemd --cgroup "$layout" --timeout 900 -- bash "$PWD/tests/vm/systemd-suite.sh"
    done
else
    step "cgroup v2 suite: skipped (needs root, scripts/vm/run.sh and tests/vm/v2-suite.sh; HEZI_SKIP_VM=${HEZI_SKIP_VM:-0})"
fi

if [ "$(id -u)" -eq 0 ]; then
    step "engines: podman, containerd, Kubernetes CRI (containerd) and docker, each with runc and with hezi (tests/engines)"
    bash tests/engines/run-all.sh target/debug/hezi
else
    step "engines: skipped (needs root)"
fi

if [ "$(id -u)" -eq 0 ]; then
    step "README tour, run as written (scripts/readme-check.sh)"
    HEZI_BIN_DIR=target/debug scripts/readme-check.sh >/dev/null
    echo "README tour: ok"
else
    step "README tour: skipped (needs root)"
fi

step "fuzz targets, bounded (scripts/fuzz.sh: ${HEZI_FUZZ_SECONDS:-10}s each)"
scripts/fuzz.sh

step "unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast --failure-output final
else
    cargo test --workspace --no-fail-fast
fi

# Last: the verify build of the packaged `hezi` replaces target/debug/hezi (the binary every
# step above tests) with one built from the packages. Cargo unpacks the packages into
# $CARGO_HOME/registry/src/<local registry>/ and reuses an unpacked name-version there, so
# a copy left by an earlier run (same version, older code) would be built instead of this
# checkout's: ours are removed first (crates.io's own directory is not touched).
step "cargo publish --dry-run of every crate in dependency order (each package builds on its own, as crates.io would)"
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rm -rf "$cargo_home"/registry/src/-*/hezi-* "$cargo_home"/registry/cache/-*/hezi-*
cargo publish --dry-run --allow-dirty -q -p hezi-digest -p hezi-spec -p hezi-cgroups -p hezi-seccomp \
    -p hezi-image -p hezi-runtime -p hezi
