#!/usr/bin/env bash
# pass() and fail() always succeed, so `test && pass || fail` is an if/else.
# shellcheck disable=SC2015
# Self-test of the cgroup-v2 VM harness: boots the VM once through run.sh and
# checks, inside, that /sys/fs/cgroup is a pure cgroup2 hierarchy with the
# controllers enabled, that no cgroup v1 hierarchy exists or can be mounted,
# that cgroup.kill works, that host dynamic binaries run, that BPF works (bpffs
# mounted, and a BPF_PROG_TYPE_CGROUP_DEVICE program loads, attaches and
# denies a device open), and that the read-write share and the tmpfs overlay
# behave. Then checks from the host that the share was written and that exit
# statuses and timeouts come back. Prints PASS/FAIL/SKIP lines; exits 0 only
# when nothing failed.
#
# usage: scripts/vm/selftest.sh            (the ctl share etc. are set up by run.sh)
#        scripts/vm/selftest.sh --inside DIR   (internal: the in-VM half)
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

if [ "${1:-}" = --inside ]; then
	# The checks mkdir under /sys/fs/cgroup and try to mount v1 hierarchies:
	# never on the host.
	[ "${HEZI_IN_VM:-}" = 1 ] || {
		echo "selftest.sh: --inside runs only inside the VM (HEZI_IN_VM=1)" >&2
		exit 2
	}
	inside "$2"
	exit
fi

RUN="$(dirname "$SELF")/run.sh"
SHARE=$(mktemp -d "${TMPDIR:-/tmp}/hezi-vm-selftest.XXXXXX")
trap 'rm -rf "$SHARE"' EXIT

start=$(date +%s.%N)
"$RUN" --no-share --share "$SHARE" --timeout 300 -- bash "$SELF" --inside "$SHARE"
rc=$?
end=$(date +%s.%N)
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

echo
if [ "$FAILS" = 0 ]; then
	echo "selftest: all checks passed"
else
	echo "selftest: $FAILS check(s) failed"
fi
[ "$FAILS" = 0 ]
