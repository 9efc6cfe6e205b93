#!/usr/bin/env bash
# Builds hezi's libFuzzer targets (fuzz/, cargo-fuzz layout) on stable Rust and runs each for a
# bounded time from its seed corpus. A crash, timeout or memory blow-up fails the script; the
# input is copied to fuzz/regressions/<target>/ so that `cargo test -p hezi-fuzzcheck` replays
# it from then on (commit it with the fix).
#
#   scripts/fuzz.sh                 every target, HEZI_FUZZ_SECONDS (default 10) each
#   scripts/fuzz.sh seccomp 300     one target for 300 s
#
# Stable Rust: the coverage instrumentation libFuzzer needs (sancov) is a stable codegen pass;
# only the sanitizers need nightly, and Rust code needs no AddressSanitizer to find panics,
# hangs and runaway allocations, which is what these targets look for. With cargo-fuzz and a
# nightly toolchain, `cargo fuzz run <target>` in fuzz/ works as well.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(config seccomp layer image_documents dbus proc_parsers)
if [ $# -ge 1 ]; then targets=("$1"); fi
seconds=${2:-${HEZI_FUZZ_SECONDS:-10}}

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_TARGET_DIR=${HEZI_FUZZ_TARGET_DIR:-$PWD/target/fuzz}
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --manifest-path fuzz/Cargo.toml --bins --target "$triple"
bin="$CARGO_TARGET_DIR/$triple/release"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
for t in "${targets[@]}"; do
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	# Seeds plus earlier crashers; new corpus entries stay in the temp dir.
	cp fuzz/corpus/"$t"/* "$work/$t/corpus/" 2>/dev/null || true
	cp fuzz/regressions/"$t"/* "$work/$t/corpus/" 2>/dev/null || true
	echo "fuzz: $t for ${seconds}s"
	if (cd "$work/$t" && "$bin/$t" corpus \
		-max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -max_len=65536 \
		-artifact_prefix="$work/$t/artifacts/" -print_final_stats=0 >"$work/$t/log" 2>&1); then
		passed=$((passed + 1))
		tail -n 2 "$work/$t/log" | sed "s/^/fuzz: $t: /"
	else
		failed=$((failed + 1))
		tail -n 40 "$work/$t/log"
		mkdir -p fuzz/regressions/"$t"
		for a in "$work/$t"/artifacts/*; do
			[ -e "$a" ] || continue
			cp "$a" fuzz/regressions/"$t"/
			echo "fuzz: $t: kept $(basename "$a") in fuzz/regressions/$t/"
		done
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
