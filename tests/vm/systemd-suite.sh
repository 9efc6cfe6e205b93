#!/usr/bin/env bash
# The systemd cgroup driver (`hezi --systemd-cgroup`) against a real systemd; runs INSIDE the
# test VM booted with systemd as init, on either cgroup layout:
#
#   cargo build -p hezi && cargo test -p hezi --no-run
#   scripts/vm/run.sh --init systemd --cgroup unified -- bash "$PWD/tests/vm/systemd-suite.sh"
#   scripts/vm/run.sh --init systemd --cgroup hybrid  -- bash "$PWD/tests/vm/systemd-suite.sh"
#
# Runs every test of crates/hezi/tests/systemd_cgroup.rs from its prebuilt binary (scope
# creation and properties, limits in the files, update/pause/resume/events, TasksMax holding a
# fork loop, device rules through DevicePolicy=strict, the system bus as well as systemd's
# private socket, a failed create leaving no unit, and runc 1.1 asking systemd for the same
# scope), then checks that no hezi or runc unit is left. Prints PASS/FAIL per check and exits
# non-zero if any failed. Override the binary with HEZI_SD_BIN.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/lib.sh
. "$HERE/lib.sh"

layout=hybrid
[ -f /sys/fs/cgroup/cgroup.controllers ] && layout=unified
echo "cgroup layout: $layout"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then
	pass "systemd is PID 1 ($layout)"
else
	fail "systemd is PID 1" "PID 1 is $(cat /proc/1/comm 2>/dev/null)"
	echo "not booted with systemd: run me through scripts/vm/run.sh --init systemd"
	exit 1
fi
[ "$(id -u)" = 0 ] || { fail "running as root"; exit 1; }

BIN=${HEZI_SD_BIN:-$(newest_bin systemd_cgroup)}
if [ -z "$BIN" ]; then
	fail "find the systemd_cgroup test binary" "run cargo test -p hezi --no-run on the host"
else
	echo "using $BIN"
	tests=$("$BIN" --list 2>/dev/null | sed -n 's/: test$//p')
	for t in $tests; do
		[ "$t" = refuses_clearly_without_systemd ] && continue
		run_test "$BIN" "$t" "$t ($layout)"
	done
fi

left=$(systemctl list-units --all --plain --no-legend 'hezi-*.scope' 'runc-*.scope' 2>/dev/null)
if [ -z "$left" ]; then pass "no hezi or runc units left"; else fail "no hezi or runc units left" "$left"; fi

summary "systemd-suite ($layout)"
