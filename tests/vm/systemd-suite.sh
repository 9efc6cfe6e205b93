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
# scope; on unified also rootless --systemd-cgroup and rootless podman in the test user's own
# user@UID.service), then checks that no hezi or runc unit is left. Prints PASS/FAIL per check and exits
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

# The test user's own systemd (user@UID.service) for rootless --systemd-cgroup: used on
# cgroup v2, refused on hybrid (a user's manager cannot delegate v1 controllers). The VM's systemd sees only the units
# /init wrote, so the user units are added here; PAM is left out (no logind in the VM) and
# XDG_RUNTIME_DIR, which pam_systemd would set, is given directly.
ROOTLESS_USER=hezi-rootless
start_user_manager() {
	local units=/run/hezi-vm/units uid
	id -u "$ROOTLESS_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /bin/sh "$ROOTLESS_USER" || return 1
	uid=$(id -u "$ROOTLESS_USER")
	cp /lib/systemd/system/user@.service /lib/systemd/system/user-runtime-dir@.service \
		/lib/systemd/system/user.slice "$units/" || return 1
	mkdir -p "$units/user@.service.d" "$units/user-runtime-dir@.service.d" || return 1
	printf '[Unit]\nDefaultDependencies=no\n[Service]\nPAMName=\nEnvironment=XDG_RUNTIME_DIR=/run/user/%%i\n' \
		>"$units/user@.service.d/hezi-vm.conf" || return 1
	printf '[Unit]\nDefaultDependencies=no\n' >"$units/user-runtime-dir@.service.d/hezi-vm.conf" || return 1
	systemctl daemon-reload && systemctl start "user@$uid.service" || return 1
	[ -S "/run/user/$uid/systemd/private" ] && [ -S "/run/user/$uid/bus" ]
}
if start_user_manager; then
	pass "user@$(id -u "$ROOTLESS_USER").service started"
else
	fail "start the test user's systemd manager"
fi
RBIN=$(newest_bin runtime_rootless)
if [ -z "$RBIN" ]; then
	fail "find the runtime_rootless test binary" "run cargo test -p hezi --no-run on the host"
else
	if [ "$layout" = unified ]; then
		run_test "$RBIN" rootless_systemd_cgroup_uses_the_users_own_manager "rootless --systemd-cgroup in user@.service ($layout)"
		run_test "$RBIN" rootless_podman_with_systemd_cgroups_uses_the_users_manager "rootless podman --cgroup-manager systemd ($layout)"
	else
		run_test "$RBIN" rootless_systemd_cgroup_on_a_v1_host_is_refused_clearly "rootless --systemd-cgroup refused on $layout"
	fi
fi
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
if id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
	left+=$(runuser -u "$ROOTLESS_USER" -- env XDG_RUNTIME_DIR="/run/user/$(id -u "$ROOTLESS_USER")" \
		systemctl --user list-units --all --plain --no-legend 'hezi-*.scope' 'runc-*.scope' 2>/dev/null)
fi
if [ -z "$left" ]; then pass "no hezi or runc units left"; else fail "no hezi or runc units left" "$left"; fi

summary "systemd-suite ($layout)"
