# Shared by the VM suites (v2-suite.sh, systemd-suite.sh): PASS/FAIL bookkeeping and running
# one prebuilt test of a Rust test binary as one check. Source it; it sets TARGET, PASS, FAIL
# and FAILED.
# shellcheck shell=bash

VM_LIB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$VM_LIB_TOP/target}
PASS=0
FAIL=0
FAILED=()

pass() { echo "PASS: $1"; PASS=$((PASS + 1)); }
fail() { echo "FAIL: $1${2:+ ($2)}"; FAIL=$((FAIL + 1)); FAILED+=("$1"); }

# The newest executable test binary named NAME-<hash> in target/debug/deps.
newest_bin() {
	local best= f
	for f in "$TARGET"/debug/deps/"$1"-*; do
		[ -x "$f" ] && [ -f "$f" ] || continue
		case "$f" in *.d) continue ;; esac
		if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best=$f; fi
	done
	echo "$best"
}

# run_test BIN NAME LABEL: runs test NAME of BIN alone; it passes only if it ran and passed
# (a test that printed "skipped:" counts as failed: in the VM nothing may skip).
run_test() {
	local out rc
	out=$("$1" --exact "$2" --test-threads=1 --nocapture 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q "skipped:" <<<"$out" && grep -q "1 passed" <<<"$out"; then
		pass "$3"
	else
		fail "$3" "exit $rc"
		sed 's/^/    | /' <<<"$out" | tail -60
	fi
}

# summary NAME: prints the totals and the failed checks; returns non-zero if any failed.
summary() {
	local f
	echo "$1: $PASS passed, $FAIL failed"
	for f in "${FAILED[@]}"; do echo "  failed: $f"; done
	[ "$FAIL" -eq 0 ]
}
