#!/usr/bin/env bash
# pass() and fail() always succeed, so `test && pass || fail` is an if/else.
# shellcheck disable=SC2015
# Self-test of the cgroup VM harness (scripts/vm/run.sh).
#
# Default mode (busybox init, pure cgroup v2): boots the VM once and checks,
# inside, that /sys/fs/cgroup is a pure cgroup2 hierarchy with the
# controllers enabled, that no cgroup v1 hierarchy exists or can be mounted,
# that cgroup.kill works, that host dynamic binaries run, that BPF works (bpffs
# mounted, and a BPF_PROG_TYPE_CGROUP_DEVICE program loads, attaches and
# denies a device open), and that the read-write share and the tmpfs overlay
# behave. Then checks from the host that the share was written and that exit
# statuses and timeouts come back.
# --cgroup hybrid with the busybox init: the host's v1 layout is mounted.
# --init systemd, with --cgroup unified and hybrid: systemd is PID 1,
# /run/systemd/system exists, the system is running (or degraded), none of
# the host's enabled services started, the command runs in
# hezi-vm-cmd.service, `systemd-run --scope` and a StartTransientUnit call
# (system bus and /run/systemd/private) put processes in a scope, the cgroup
# layout is the one asked for, output arrives, exit statuses 0 and 5
# propagate, a timeout during the systemd boot gives 124 and leaves no qemu.
# Prints PASS/FAIL/SKIP lines and the boot times (qemu start to command) of
# each mode; exits 0 only when nothing failed.
#
# usage: scripts/vm/selftest.sh            (the ctl share etc. are set up by run.sh)
#        scripts/vm/selftest.sh --inside DIR   (internal: the in-VM half)
#        scripts/vm/selftest.sh --inside-hybrid DIR
#        scripts/vm/selftest.sh --inside-systemd unified|hybrid DIR
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
FAILS=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
skip() { echo "SKIP: $*"; }
check() {
	# check DESCRIPTION COMMAND...: PASS when COMMAND succeeds.
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

# bpf_deny_devices_in CGROUP_DIR COMMAND...: load a BPF_PROG_TYPE_CGROUP_DEVICE
# program that returns 0 (deny every device access), attach it to CGROUP_DIR
# with raw bpf(2) calls from perl (perl-base is always on Debian), move into
# that cgroup and exec COMMAND.
bpf_deny_devices_in() {
	perl -e '
		use strict; use Fcntl;
		my ($cg, @cmd) = @ARGV;
		my $SYS_bpf = 321;               # x86_64
		my $insns = pack("CCsl", 0xb7, 0, 0, 0)   # r0 = 0 (deny)
		          . pack("CCsl", 0x95, 0, 0, 0);  # exit
		my $license = "GPL\0";
		my $attr = pack("LLQQLLQLL", 15, 2,       # BPF_PROG_TYPE_CGROUP_DEVICE, 2 insns
			unpack("Q", pack("p", $insns)), unpack("Q", pack("p", $license)),
			0, 0, 0, 0, 0);
		$attr .= "\0" x (128 - length $attr);
		my $prog = syscall($SYS_bpf, 5, $attr, length $attr);   # BPF_PROG_LOAD
		die "BPF_PROG_LOAD: $!\n" if $prog < 0;
		sysopen(my $dir, $cg, O_RDONLY | O_DIRECTORY) or die "open $cg: $!\n";
		my $att = pack("LLLL", fileno($dir), $prog, 6, 0);      # BPF_CGROUP_DEVICE
		$att .= "\0" x (128 - length $att);
		syscall($SYS_bpf, 8, $att, length $att) == 0 or die "BPF_PROG_ATTACH: $!\n";
		open(my $procs, ">", "$cg/cgroup.procs") or die "open cgroup.procs: $!\n";
		print $procs "$$\n"; close($procs) or die "join $cg: $!\n";
		exec(@cmd) or die "exec: $!\n";
	' "$@"
}

inside() {
	local share=$1 cg=/sys/fs/cgroup

	[ "$(stat -f -c %T $cg)" = cgroup2fs ] && pass "/sys/fs/cgroup is cgroup2" ||
		fail "/sys/fs/cgroup is $(stat -f -c %T $cg), not cgroup2"
	local want missing=""
	for want in cpu cpuset io memory pids; do
		grep -qw "$want" $cg/cgroup.subtree_control || missing="$missing $want"
	done
	[ -z "$missing" ] && pass "controllers enabled in root subtree_control: $(cat $cg/cgroup.subtree_control)" ||
		fail "controllers missing from root subtree_control:$missing (have: $(cat $cg/cgroup.subtree_control))"
	if awk '$3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts; then
		fail "a cgroup v1 hierarchy is mounted: $(awk '$3 == "cgroup"' /proc/mounts)"
	else
		pass "no cgroup v1 hierarchy mounted"
	fi
	mkdir -p /tmp/v1probe
	if mount -t cgroup -o memory cgroup /tmp/v1probe 2>/dev/null; then
		umount /tmp/v1probe
		fail "cgroup v1 memory hierarchy could be mounted (cgroup_no_v1=all not in effect)"
	else
		pass "cgroup v1 memory hierarchy cannot be mounted"
	fi
	[ "$(cat /proc/self/cgroup)" = "0::/" ] && pass "/proc/self/cgroup is 0::/" ||
		fail "/proc/self/cgroup is $(tr '\n' ' ' </proc/self/cgroup)"

	local child=$cg/hezi-vm-selftest-$$
	if mkdir "$child"; then
		[ -e "$child/cgroup.kill" ] && pass "cgroup.kill exists" || fail "no cgroup.kill in $child"
		[ -e "$child/memory.max" ] && [ -e "$child/pids.max" ] && [ -e "$child/cpu.max" ] && [ -e "$child/io.max" ] &&
			pass "memory.max pids.max cpu.max io.max exist in a child cgroup" ||
			fail "controller files missing in $child: $(ls "$child" | tr '\n' ' ')"
		sh -c "echo \$\$ > $child/cgroup.procs; exec sleep 600" &
		local pid=$!
		sleep 0.5
		echo 1 >"$child/cgroup.kill"
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		wait "$pid" 2>/dev/null
		if kill -0 "$pid" 2>/dev/null; then fail "cgroup.kill did not kill $pid"; else pass "cgroup.kill kills the cgroup's processes"; fi
		local devnum
		devnum=$(cat /sys/block/vda/dev 2>/dev/null)
		if [ -z "$devnum" ]; then
			fail "no scratch disk /dev/vda"
		elif echo "$devnum rbps=1048576" >"$child/io.max" && grep -q "^$devnum rbps=1048576 " "$child/io.max"; then
			pass "io.max takes a limit on the scratch disk /dev/vda ($devnum)"
		else
			fail "io.max rejected a limit on /dev/vda ($devnum): $(cat "$child/io.max")"
		fi
		rmdir "$child" || fail "rmdir $child"
	else
		fail "cannot create child cgroup $child"
	fi

	check "host dynamic binary runs (/usr/bin/env true)" /usr/bin/env true
	[ "$(bash -c 'echo ok')" = ok ] && pass "bash -c 'echo ok'" || fail "bash -c 'echo ok'"

	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && pass "bpffs mounted at /sys/fs/bpf" ||
		fail "/sys/fs/bpf is not bpffs"
	if command -v perl >/dev/null; then
		local dev=$cg/hezi-vm-bpf-$$
		mkdir "$dev"
		local out
		out=$(bpf_deny_devices_in "$dev" sh -c 'cat /dev/null && echo opened' 2>&1)
		case "$out" in
		*BPF_* | *exec:* | *"open "* | *join*) fail "BPF device program: $out" ;;
		*opened*) fail "BPF device program loaded and attached but /dev/null still opened" ;;
		*) pass "BPF cgroup device program loads, attaches and denies /dev/null (${out:-no output})" ;;
		esac
		rmdir "$dev" 2>/dev/null || fail "rmdir $dev"
		cat /dev/null && pass "/dev/null still opens outside that cgroup" || fail "/dev/null denied outside the cgroup"
	else
		skip "BPF program load (no perl)"
	fi

	if echo vm >"$share/written-inside"; then pass "share $share is writable"; else fail "cannot write to share $share"; fi
	if echo x >/etc/hezi-vm-selftest && [ "$(cat /etc/hezi-vm-selftest)" = x ]; then
		pass "host root is writable through the tmpfs overlay"
	else
		fail "cannot write /etc inside the VM"
	fi
	[ "$(stat -f -c %T /tmp)" = tmpfs ] && pass "/tmp is tmpfs" || fail "/tmp is $(stat -f -c %T /tmp)"
	[ "$(id -u)" = 0 ] && pass "runs as root" || fail "runs as uid $(id -u)"
	[ "$FAILS" = 0 ]
}

# inside_hybrid SHARE: the busybox init's copy of the host's hybrid layout.
inside_hybrid() {
	local share=$1 cg=/sys/fs/cgroup c
	[ "$(stat -f -c %T $cg)" = tmpfs ] && pass "hybrid: /sys/fs/cgroup is tmpfs" ||
		fail "hybrid: /sys/fs/cgroup is $(stat -f -c %T $cg)"
	local missing=""
	for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
		awk -v d="$cg/$c" -v c="$c" '$2 == d && $3 == "cgroup" && ("," $4 ",") ~ ("," c ",") { f = 1 } END { exit !f }' /proc/mounts ||
			missing="$missing $c"
	done
	[ -z "$missing" ] && pass "hybrid: one v1 hierarchy per controller (cpu cpuacct cpuset memory devices freezer blkio pids)" ||
		fail "hybrid: v1 hierarchies missing:$missing"
	awk -v d="$cg/systemd" '$2 == d && $3 == "cgroup" && $4 ~ /name=systemd/ { f = 1 } END { exit !f }' /proc/mounts &&
		pass "hybrid: name=systemd at $cg/systemd" || fail "hybrid: no name=systemd hierarchy at $cg/systemd"
	[ "$(stat -f -c %T $cg/unified)" = cgroup2fs ] && pass "hybrid: cgroup2 at $cg/unified" ||
		fail "hybrid: $cg/unified is $(stat -f -c %T $cg/unified 2>&1)"
	local child=$cg/memory/hezi-vm-selftest-$$
	if mkdir "$child" && echo 8388608 >"$child/memory.limit_in_bytes" && [ "$(cat "$child/memory.limit_in_bytes")" = 8388608 ]; then
		pass "hybrid: v1 memory.limit_in_bytes takes a limit"
	else
		fail "hybrid: cannot set memory.limit_in_bytes in $child"
	fi
	rmdir "$child" 2>/dev/null
	if echo vm >"$share/written-hybrid"; then pass "hybrid: share $share is writable"; else fail "hybrid: cannot write to share $share"; fi
	[ "$FAILS" = 0 ]
}

# inside_systemd LAYOUT SHARE: checks under --init systemd --cgroup LAYOUT.
inside_systemd() {
	local layout=$1 share=$2 cg=/sys/fs/cgroup
	local comm
	comm=$(cat /proc/1/comm)
	[ "$comm" = systemd ] && pass "systemd: PID 1 is systemd ($(readlink /proc/1/exe))" || fail "systemd: PID 1 is $comm"
	[ -d /run/systemd/system ] && pass "systemd: /run/systemd/system exists" || fail "systemd: no /run/systemd/system"
	local state
	state=$(systemctl is-system-running 2>&1)
	case "$state" in
	running | degraded) pass "systemd: systemctl is-system-running says $state" ;;
	*) fail "systemd: systemctl is-system-running says $state (failed: $(systemctl --failed --no-legend --plain 2>&1 | tr '\n' ' '))" ;;
	esac
	local started
	started=$(systemctl list-units --state=active --no-legend --plain 2>/dev/null | awk '{ print $1 }' |
		grep -E '^(postgresql|getty@|serial-getty@|systemd-(journald|logind|timesyncd|udevd|networkd)|cron|ssh|docker|containerd)\.' | tr '\n' ' ')
	[ -z "$started" ] && pass "systemd: none of the host's services started ($(systemctl list-units --all --no-legend --plain 2>/dev/null | wc -l) units loaded in all)" ||
		fail "systemd: host services started in the VM: $started"
	[ "$(tail -n1 /proc/self/cgroup)" = 0::/system.slice/hezi-vm-cmd.service ] &&
		pass "systemd: the command runs in hezi-vm-cmd.service" ||
		fail "systemd: the command's cgroup is $(tr '\n' ' ' </proc/self/cgroup)"

	local out
	out=$(systemd-run --quiet --scope cat /proc/self/cgroup 2>&1)
	grep -q '^0::/system.slice/run-.*\.scope$' <<<"$out" && pass "systemd: systemd-run --scope runs in a transient scope" ||
		fail "systemd: systemd-run --scope: $out"
	local path=/org/freedesktop/systemd1/unit/hezi_2dvm_2dcmd_2eservice
	out=$(busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager GetUnit s hezi-vm-cmd.service 2>&1)
	[ "$out" = "o \"$path\"" ] && pass "systemd: the system bus answers (GetUnit hezi-vm-cmd.service)" ||
		fail "systemd: GetUnit over the system bus: $out"
	# systemctl and systemd-run (root) talk to /run/systemd/private directly
	# and fall back to the system bus: with the bus address broken, only the
	# private socket can answer. (It is a peer-to-peer server: no Hello.)
	out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent systemctl show -p ControlGroup hezi-vm-cmd.service 2>&1)
	[ "$out" = ControlGroup=/system.slice/hezi-vm-cmd.service ] &&
		pass "systemd: /run/systemd/private answers (systemctl show without the system bus)" ||
		fail "systemd: systemctl over /run/systemd/private: $out"
	out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent systemd-run --quiet --scope cat /proc/self/cgroup 2>&1)
	grep -q '^0::/system.slice/run-.*\.scope$' <<<"$out" &&
		pass "systemd: StartTransientUnit over /run/systemd/private (systemd-run --scope without the system bus)" ||
		fail "systemd: systemd-run --scope over /run/systemd/private: $out"
	# What hezi --systemd-cgroup does: a transient scope for an existing pid.
	sleep 600 &
	local pid=$! unit=hezi-vm-selftest-$$.scope
	out=$(busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
		StartTransientUnit 'ssa(sv)a(sa(sv))' "$unit" fail 2 PIDs au 1 "$pid" Delegate b true 0 2>&1)
	for _ in $(seq 50); do
		grep -q "/$unit\$" "/proc/$pid/cgroup" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "^0::/system.slice/$unit\$" "/proc/$pid/cgroup" &&
		pass "systemd: StartTransientUnit moved pid $pid into $unit" ||
		fail "systemd: StartTransientUnit $unit: $out; pid $pid is in $(tr '\n' ' ' <"/proc/$pid/cgroup")"
	systemctl stop "$unit" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null

	if [ "$layout" = unified ]; then
		[ "$(stat -f -c %T $cg)" = cgroup2fs ] && pass "systemd unified: /sys/fs/cgroup is cgroup2" ||
			fail "systemd unified: /sys/fs/cgroup is $(stat -f -c %T $cg)"
		if awk '$3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts; then
			fail "systemd unified: a cgroup v1 hierarchy is mounted"
		else
			pass "systemd unified: no cgroup v1 hierarchy mounted"
		fi
		grep -qw memory $cg/cgroup.subtree_control && pass "systemd unified: memory enabled in the root subtree_control" ||
			fail "systemd unified: root subtree_control is $(cat $cg/cgroup.subtree_control)"
	else
		[ "$(stat -f -c %T $cg)" = tmpfs ] && [ "$(stat -f -c %T $cg/unified)" = cgroup2fs ] &&
			pass "systemd hybrid: tmpfs at /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified" ||
			fail "systemd hybrid: /sys/fs/cgroup is $(stat -f -c %T $cg), unified/ is $(stat -f -c %T $cg/unified 2>&1)"
		grep -q '^1:name=systemd:/system.slice/hezi-vm-cmd.service$' /proc/self/cgroup &&
			pass "systemd hybrid: name=systemd hierarchy in use" ||
			fail "systemd hybrid: /proc/self/cgroup is $(tr '\n' ' ' </proc/self/cgroup)"
		local c v1=""
		for c in memory pids cpu cpuacct cpuset devices freezer blkio; do
			[ "$(stat -f -c %T "$cg/$c/")" = cgroupfs ] && v1="$v1 $c"
		done
		[ "$v1" = " memory pids cpu cpuacct cpuset devices freezer blkio" ] && [ -e $cg/memory/memory.limit_in_bytes ] &&
			pass "systemd hybrid: v1 hierarchies at /sys/fs/cgroup/{memory,pids,cpu,cpuacct,cpuset,devices,freezer,blkio}" ||
			fail "systemd hybrid: v1 hierarchies found:$v1 (/sys/fs/cgroup has: $(cd $cg && echo *))"
	fi
	if echo "$layout" >"$share/written-systemd-$layout"; then pass "systemd: share $share is writable"; else fail "systemd: cannot write to share $share"; fi
	echo "HEZI-SELFTEST-OUTPUT-$layout"
	[ "$FAILS" = 0 ]
}

if [ "${1:-}" = --inside ] || [ "${1:-}" = --inside-hybrid ] || [ "${1:-}" = --inside-systemd ]; then
	# The checks mkdir under /sys/fs/cgroup and try to mount v1 hierarchies:
	# never on the host.
	[ "${HEZI_IN_VM:-}" = 1 ] || {
		echo "selftest.sh: $1 runs only inside the VM (HEZI_IN_VM=1)" >&2
		exit 2
	}
	case "$1" in
	--inside) inside "$2" ;;
	--inside-hybrid) inside_hybrid "$2" ;;
	--inside-systemd) inside_systemd "$2" "$3" ;;
	esac
	exit
fi

RUN="$(dirname "$SELF")/run.sh"
SHARE=$(mktemp -d "${TMPDIR:-/tmp}/hezi-vm-selftest.XXXXXX")
trap 'rm -rf "$SHARE"' EXIT

# boot_time LABEL ERRFILE: remember run.sh --timing's boot time.
BOOTS=()
boot_time() {
	local t
	t=$(sed -n 's/^run.sh: qemu start to command \([0-9.]*\)s.*/\1/p' "$2" | tail -n1)
	BOOTS+=("$1 ${t:-?}s")
}

start=$(date +%s.%N)
"$RUN" --no-share --share "$SHARE" --timeout 300 --timing -- bash "$SELF" --inside "$SHARE" 2>"$SHARE/err"
rc=$?
end=$(date +%s.%N)
cat "$SHARE/err" >&2
boot_time "busybox unified" "$SHARE/err"
echo "run.sh exit status $rc after $(echo "$end - $start" | bc 2>/dev/null || echo '?')s"
[ "$rc" = 0 ] || fail "in-VM checks (run.sh exit $rc)"
if [ -f "$SHARE/written-inside" ] && [ "$(cat "$SHARE/written-inside")" = vm ]; then
	pass "file written inside the VM is on the host share"
else
	fail "file written inside the VM is missing on the host"
fi
[ ! -e /etc/hezi-vm-selftest ] && pass "host /etc untouched" || fail "/etc/hezi-vm-selftest leaked to the host"

"$RUN" --no-share --timeout 120 -- sh -c 'exit 3' >/dev/null 2>&1
rc=$?
[ "$rc" = 3 ] && pass "exit status 3 propagates" || fail "exit status: expected 3, got $rc"

# The control dir of this run lives under $SHARE/t, so its qemu is findable.
mkdir -p "$SHARE/t"
TMPDIR="$SHARE/t" "$RUN" --no-share --timeout 5 -- sleep 600 >/dev/null 2>&1
rc=$?
[ "$rc" = 124 ] && pass "timeout gives exit 124" || fail "timeout: expected 124, got $rc"
sleep 0.5
if pgrep -f "$SHARE/t" >/dev/null; then fail "a qemu process was left behind"; else pass "no qemu left behind"; fi
[ -z "$(ls -A "$SHARE/t")" ] && pass "control dir removed" || fail "control dir left: $(ls -A "$SHARE/t")"

# ------------------------------------------------------ busybox init, hybrid
"$RUN" --cgroup hybrid --no-share --share "$SHARE" --timeout 300 --timing -- bash "$SELF" --inside-hybrid "$SHARE" 2>"$SHARE/err"
rc=$?
cat "$SHARE/err" >&2
boot_time "busybox hybrid" "$SHARE/err"
[ "$rc" = 0 ] && pass "busybox hybrid: in-VM checks (run.sh exit 0)" || fail "busybox hybrid: in-VM checks (run.sh exit $rc)"

# ------------------------------------------------------------ systemd init
for layout in unified hybrid; do
	"$RUN" --init systemd --cgroup "$layout" --no-share --share "$SHARE" --timeout 300 --timing -- \
		bash "$SELF" --inside-systemd "$layout" "$SHARE" >"$SHARE/out" 2>"$SHARE/err"
	rc=$?
	cat "$SHARE/out"
	cat "$SHARE/err" >&2
	boot_time "systemd $layout" "$SHARE/err"
	[ "$rc" = 0 ] && pass "systemd $layout: in-VM checks passed and exit status 0 propagates" ||
		fail "systemd $layout: in-VM checks (run.sh exit $rc)"
	grep -qx "HEZI-SELFTEST-OUTPUT-$layout" "$SHARE/out" && pass "systemd $layout: the command's output arrives" ||
		fail "systemd $layout: the command's output is missing"
	[ "$(cat "$SHARE/written-systemd-$layout" 2>/dev/null)" = "$layout" ] &&
		pass "systemd $layout: file written inside is on the host share" ||
		fail "systemd $layout: file written inside is missing on the host"

	# shellcheck disable=SC2016 # $0 is expanded by the sh inside
	"$RUN" --init systemd --cgroup "$layout" --no-share --timeout 300 -- \
		sh -c 'echo "out-$0"; echo "err-$0" >&2; exit 5' "$layout" >"$SHARE/out" 2>"$SHARE/err"
	rc=$?
	[ "$rc" = 5 ] && pass "systemd $layout: exit status 5 propagates" ||
		fail "systemd $layout: exit status: expected 5, got $rc ($(tail -n5 "$SHARE/err" | tr '\n' ' '))"
	grep -qx "out-$layout" "$SHARE/out" && grep -qx "err-$layout" "$SHARE/out" &&
		pass "systemd $layout: stdout and stderr arrive" ||
		fail "systemd $layout: output was: $(tr '\n' ' ' <"$SHARE/out")"
done

# A timeout while systemd boots: 124, the console shown, nothing left behind.
mkdir -p "$SHARE/t2"
TMPDIR="$SHARE/t2" "$RUN" --init systemd --no-share --timeout 5 -- sleep 600 >/dev/null 2>"$SHARE/err"
rc=$?
[ "$rc" = 124 ] && pass "systemd: timeout gives exit 124" || fail "systemd: timeout: expected 124, got $rc"
grep -q 'never started; last console lines' "$SHARE/err" && pass "systemd: a timeout before the command shows the console" ||
	fail "systemd: no console lines after a timeout before the command"
sleep 0.5
if pgrep -f "$SHARE/t2" >/dev/null; then fail "systemd: a qemu process was left behind"; else pass "systemd: no qemu left behind"; fi
[ -z "$(ls -A "$SHARE/t2")" ] && pass "systemd: control dir removed" || fail "systemd: control dir left: $(ls -A "$SHARE/t2")"

echo
echo "boot time (qemu start to command): ${BOOTS[*]} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "$FAILS" = 0 ]; then
	echo "selftest: all checks passed"
else
	echo "selftest: $FAILS check(s) failed"
fi
[ "$FAILS" = 0 ]
