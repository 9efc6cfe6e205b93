#!/usr/bin/env bash
# Run one command as root inside a throwaway cgroup test VM.
#
# usage: scripts/vm/run.sh [options] -- COMMAND [ARG...]
#
# Boots a Debian 6.1 kernel under qemu (KVM when it works here, TCG
# otherwise) on the host root (read-only 9p share + tmpfs overlay, so host
# binaries and libraries work and writes go to RAM), with fresh /proc /sys
# /dev /tmp /run, bpffs at /sys/fs/bpf, and an empty 64 MiB scratch disk at
# /dev/vda (virtio-blk, for io.max tests). The --share directories are
# mounted read-write at the same path. By default (--init busybox --cgroup
# unified) the kernel has cgroup_no_v1=all, cgroup2 is at /sys/fs/cgroup with
# every controller enabled in the root subtree_control, and COMMAND runs
# through /bin/sh in a chroot from a busybox PID 1, in the root cgroup.
# COMMAND's stdout and stderr stream to stdout; run.sh exits with COMMAND's
# status, 124 on timeout, 125 when the VM fails to boot or to set up. No qemu
# process outlives run.sh.
#
# options:
#   --init busybox|systemd
#                      PID 1 of the VM (default busybox). systemd: the
#                      host's systemd 252 boots hezi-vm.target (the system
#                      bus dbus.socket/dbus.service and hezi-vm-cmd.service,
#                      nothing else: the host's units are not even visible,
#                      all generators masked) and COMMAND runs
#                      in hezi-vm-cmd.service (cgroup
#                      /system.slice/hezi-vm-cmd.service, Delegate=yes), so
#                      /run/systemd/private, /run/dbus/system_bus_socket,
#                      systemctl, systemd-run and busctl work
#   --cgroup unified|hybrid
#                      cgroup layout (default unified). unified: pure cgroup
#                      v2 (cgroup_no_v1=all). hybrid: like the development
#                      host, v1 controllers at /sys/fs/cgroup/<controller>,
#                      name=systemd at /sys/fs/cgroup/systemd, cgroup2 at
#                      /sys/fs/cgroup/unified (with systemd:
#                      systemd.unified_cgroup_hierarchy=0, systemd mounts it
#                      and joins cpu,cpuacct and net_cls,net_prio; with
#                      busybox: one hierarchy per controller as on the host)
#   --timeout SECS     kill the VM after SECS seconds (default 600)
#   --share DIR        share DIR read-write at the same path (repeatable;
#                      default: the git toplevel of the checkout holding
#                      this script)
#   --no-share         share nothing read-write
#   --cwd DIR          working directory inside (default: the current one; the
#                      whole host root is visible read-only, the shares
#                      read-write; / when DIR does not exist inside, e.g. a
#                      directory under the host /tmp, a fresh tmpfs inside)
#   --env NAME=VALUE   set an environment variable inside (repeatable; RUST_*,
#                      CARGO_TERM_COLOR and HEZI_* except HEZI_VM_* pass
#                      through automatically)
#   --memory MIB       guest memory (default 3072)
#   --cpus N           guest vcpus (default 2)
#   --verbose          show the boot console and kernel (and systemd)
#                      messages too, and the boot time
#   --timing           print the boot time (qemu start to command) and the
#                      command + power-off time on stderr (--verbose does too)
#   --console-log FILE keep the whole raw console output in FILE
# environment: HEZI_VM_CACHE (cache dir, default /var/cache/hezi-vm),
#   HEZI_VM_ACCEL (kvm|tcg, forces the accelerator).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HEZI_VM_CACHE:-/var/cache/hezi-vm}
TIMEOUT=600
MEMORY=3072
CPUS=2
VERBOSE=0
TIMING=0
CONSOLE_LOG=
CWD=
SHARES=()
NO_SHARE=0
ENVS=()
INIT=busybox
CGROUP=unified

die() {
	echo "run.sh: error: $*" >&2
	exit 125
}
usage() {
	sed -n '2,/^set -uo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--init)
		case "${2:-}" in busybox | systemd) INIT=$2 ;; *) die "--init needs busybox or systemd" ;; esac
		shift 2
		;;
	--cgroup)
		case "${2:-}" in unified | hybrid) CGROUP=$2 ;; *) die "--cgroup needs unified or hybrid" ;; esac
		shift 2
		;;
	--timeout)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a positive number of seconds"
		TIMEOUT=$2
		shift 2
		;;
	--share)
		[ -d "${2:-}" ] || die "--share: not a directory: ${2:-}"
		SHARES+=("$(cd "$2" && pwd -P)")
		shift 2
		;;
	--no-share)
		NO_SHARE=1
		shift
		;;
	--cwd)
		CWD=${2:-}
		[[ $CWD == /* ]] || die "--cwd needs an absolute path"
		shift 2
		;;
	--env)
		[[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env needs NAME=VALUE"
		ENVS+=("$2")
		shift 2
		;;
	--memory)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--memory needs MiB"
		MEMORY=$2
		shift 2
		;;
	--cpus)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--cpus needs a number"
		CPUS=$2
		shift 2
		;;
	--verbose)
		VERBOSE=1
		TIMING=1
		shift
		;;
	--timing)
		TIMING=1
		shift
		;;
	--console-log)
		CONSOLE_LOG=${2:-}
		[ -n "$CONSOLE_LOG" ] || die "--console-log needs a file"
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		break
		;;
	*) die "unknown option $1 (the command goes after --)" ;;
	esac
done
[ $# -gt 0 ] || {
	usage >&2
	die "no command given"
}

if [ "$NO_SHARE" = 0 ] && [ "${#SHARES[@]}" -eq 0 ]; then
	# The checkout holding this script (scripts/vm/ is two levels down), also
	# when git is missing or refuses the tree (safe.directory).
	top=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || top=$(cd "$HERE/../.." && pwd -P)
	SHARES+=("$(cd "$top" && pwd -P)")
fi
for s in "${SHARES[@]}"; do
	[ "$s" != / ] || die "--share / is not supported (the host root is already visible read-only)"
	[[ $s != *,* ]] || die "--share $s: paths with commas are not supported (qemu option syntax)"
done

"$HERE/prepare.sh" -q || die "prepare.sh failed"
KDIR="$CACHE/kernel"
KERNEL="$KDIR/vmlinux"
[ -f "$KERNEL" ] || KERNEL="$KDIR/vmlinuz"
ACCEL=${HEZI_VM_ACCEL:-$(cat "$CACHE/accel" 2>/dev/null || echo tcg)}

# ------------------------------------------------------------ control share
CTL=$(mktemp -d "${TMPDIR:-/tmp}/hezi-vm.XXXXXX") || die "mktemp failed"
[[ $CTL != *,* ]] || {
	rmdir "$CTL"
	die "TMPDIR must not contain commas (qemu option syntax): $CTL"
}
QEMU_PID=
WATCHDOG_PID=
CAT_PID=
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	[ -n "$CAT_PID" ] && kill "$CAT_PID" 2>/dev/null
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -TERM "$QEMU_PID" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null
	fi
	rm -rf "$CTL"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Single-quote for /bin/sh (POSIX): ' becomes '\''.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

[ -n "$CWD" ] || CWD=$(pwd -P)

{
	echo "# written by scripts/vm/run.sh"
	echo "export PATH=$(shq /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/root/.cargo/bin)"
	echo "export HOME=/root TERM=dumb USER=root LOGNAME=root LANG=C.UTF-8"
	echo "export HEZI_IN_VM=1"
	while IFS= read -r name; do
		case "$name" in
		HEZI_VM_*) ;;
		RUST_* | CARGO_TERM_COLOR | HEZI_*) echo "export $name=$(shq "${!name}")" ;;
		esac
	done < <(compgen -e)
	for kv in "${ENVS[@]}"; do
		echo "export ${kv%%=*}=$(shq "${kv#*=}")"
	done
	echo "cd $(shq "$CWD") 2>/dev/null || { echo \"run.sh: warning: $(shq "$CWD") does not exist in the VM; running in /\" >&2; cd /; }"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(shq "$a")"; done
	echo
} >"$CTL/cmd.sh"

# passthrough keeps host ownership and modes exact but needs root on the host.
SECMODEL=passthrough
[ "$(id -u)" = 0 ] || SECMODEL=none
NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
SHARE_ARGS=()
i=0
: >"$CTL/shares"
for s in "${SHARES[@]}"; do
	SHARE_ARGS+=(-virtfs "local,path=$s,mount_tag=share$i,security_model=$SECMODEL,multidevs=remap")
	echo "share$i $s" >>"$CTL/shares"
	i=$((i + 1))
done

case "$ACCEL" in
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
tcg) ACCEL_ARGS=(-accel 'tcg,thread=multi' -cpu max) ;;
*) die "unknown accelerator $ACCEL" ;;
esac

APPEND="console=ttyS0 panic=-1 hezi.nonce=$NONCE hezi.init=$INIT hezi.cgroup=$CGROUP"
[ "$CGROUP" = unified ] && APPEND="$APPEND cgroup_no_v1=all"
if [ "$VERBOSE" = 1 ]; then APPEND="$APPEND hezi.verbose=1"; else APPEND="$APPEND quiet"; fi
if [ "$INIT" = systemd ]; then
	# init.sh writes hezi-vm.target into the overlay and switch_roots into
	# systemd, which reads these from the kernel command line.
	# crash_reboot: a crashing PID 1 reboots (= qemu exits, -no-reboot)
	# instead of freezing until the timeout.
	APPEND="$APPEND systemd.unit=hezi-vm.target systemd.crash_reboot=1 systemd.log_color=0"
	if [ "$CGROUP" = unified ]; then
		APPEND="$APPEND systemd.unified_cgroup_hierarchy=1"
	else
		APPEND="$APPEND systemd.unified_cgroup_hierarchy=0"
	fi
	if [ "$VERBOSE" = 1 ]; then
		APPEND="$APPEND systemd.show_status=1 systemd.log_level=info"
	else
		# Warnings straight to the console (kmsg would be filtered by the
		# quiet printk level): shown when the VM fails, vm-console: lines
		# on stderr while the command runs.
		APPEND="$APPEND systemd.show_status=0 systemd.log_level=warning systemd.log_target=console"
	fi
fi

# Two streams: the serial console (boot messages and the begin/exit markers)
# and a virtio serial port carrying only the command's stdout+stderr.
FIFO="$CTL/.console"
OUTFIFO="$CTL/.output"
mkfifo "$FIFO" "$OUTFIFO" || die "mkfifo failed"
# An empty sparse scratch disk, /dev/vda inside: a real block device for io.max
# and friends.
truncate -s 64M "$CTL/.scratch.img" || die "cannot create the scratch disk"
cat "$OUTFIFO" &
CAT_PID=$!
# setpriv --pdeathsig: qemu dies with run.sh even if run.sh is SIGKILLed.
PDEATH=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && PDEATH=(setpriv --pdeathsig KILL --)
"${PDEATH[@]}" qemu-system-x86_64 "${ACCEL_ARGS[@]}" -m "$MEMORY" -smp "$CPUS" \
	-nodefaults -display none -no-reboot -monitor none -serial stdio \
	-kernel "$KERNEL" -initrd "$CACHE/initramfs.cpio.gz" -append "$APPEND" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=$SECMODEL,readonly=on,multidevs=remap" \
	-virtfs "local,path=$CTL,mount_tag=hezictl,security_model=$SECMODEL" \
	-drive "file=$CTL/.scratch.img,format=raw,if=virtio,cache=unsafe" \
	-device virtio-serial-pci,id=vser -chardev "file,id=hezi-out,path=$OUTFIFO" \
	-device virtserialport,bus=vser.0,chardev=hezi-out,name=org.hezi.out \
	"${SHARE_ARGS[@]}" \
	</dev/null >"$FIFO" 2>"$CTL/.qemu.err" &
QEMU_PID=$!

# Watchdog: polls, so it ends by itself once qemu is gone (also when run.sh
# was SIGKILLed), and checks the nonce on qemu's command line before killing,
# so a recycled PID is never hit.
our_qemu() { grep -qa -- "hezi.nonce=$NONCE" "/proc/$QEMU_PID/cmdline" 2>/dev/null; }
(
	end=$((SECONDS + TIMEOUT))
	while [ "$SECONDS" -lt "$end" ]; do
		kill -0 "$QEMU_PID" 2>/dev/null || exit 0
		sleep 1
	done
	: >"$CTL/.timedout"
	kill -TERM "$QEMU_PID" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		our_qemu || exit 0
		sleep 0.2
	done
	our_qemu && kill -KILL "$QEMU_PID" 2>/dev/null
) &
WATCHDOG_PID=$!

# Read the console: boot noise is hidden (unless --verbose) until the begin
# marker. The command's output arrives on the virtio port (copied by cat
# above); console lines after the begin marker are kernel messages and go to
# stderr. If init found no port, the output comes on the console instead and
# goes to stdout.
t_start=$EPOCHREALTIME
t_begin=
state=boot
began=0
marker_rc=
: >"$CTL/.console.log"
while IFS= read -r line || [ -n "$line" ]; do
	# The serial console ends lines with \r\n (systemd's with \r\r\n).
	while [[ $line == *$'\r' ]]; do line=${line%$'\r'}; done
	printf '%s\n' "$line" >>"$CTL/.console.log"
	case "$state:$line" in
	*"HEZI-VM-BEGIN-$NONCE out=port"*)
		state=port
		began=1
		t_begin=$EPOCHREALTIME
		;;
	*"HEZI-VM-BEGIN-$NONCE"*)
		state=cmd
		began=1
		t_begin=$EPOCHREALTIME
		;;
	*"HEZI-VM-EXIT-$NONCE="*)
		marker_rc=${line##*"HEZI-VM-EXIT-$NONCE="}
		state='done'
		;;
	cmd:*) printf '%s\n' "$line" ;;
	port:*) printf 'vm-console: %s\n' "$line" >&2 ;;
	*) [ "$VERBOSE" = 1 ] && printf '%s\n' "$line" >&2 ;;
	esac
done <"$FIFO"
wait "$QEMU_PID"
qemu_rc=$?
QEMU_PID=
# If qemu died before opening the output port, cat still waits in open():
# an O_RDWR open of a FIFO never blocks, and closing it gives cat its EOF.
exec 7<>"$OUTFIFO"
exec 7>&-
wait "$CAT_PID" 2>/dev/null
CAT_PID=
kill "$WATCHDOG_PID" 2>/dev/null
wait "$WATCHDOG_PID" 2>/dev/null
WATCHDOG_PID=

[ -n "$CONSOLE_LOG" ] && cp "$CTL/.console.log" "$CONSOLE_LOG"
if [ "$TIMING" = 1 ] && [ -n "$t_begin" ]; then
	awk -v s="$t_start" -v b="$t_begin" -v e="$EPOCHREALTIME" \
		'BEGIN { printf "run.sh: qemu start to command %.2fs, command and power-off %.2fs\n", b - s, e - b }' >&2
fi

if [ -e "$CTL/.timedout" ]; then
	echo "run.sh: timeout: the VM ran longer than ${TIMEOUT}s and was killed" >&2
	if [ "$began" = 0 ]; then
		echo "run.sh: the command never started; last console lines:" >&2
		tail -n 40 "$CTL/.console.log" >&2
	fi
	exit 124
fi
rc=
if [ -f "$CTL/exit" ]; then
	rc=$(tr -dc 0-9 <"$CTL/exit")
fi
[ -n "$rc" ] || rc=$(printf '%s' "$marker_rc" | tr -dc 0-9)
if [ -z "$rc" ]; then
	echo "run.sh: the VM ended without reporting an exit status (qemu exit $qemu_rc); last console lines:" >&2
	tail -n 40 "$CTL/.console.log" >&2
	[ -s "$CTL/.qemu.err" ] && sed 's/^/qemu: /' "$CTL/.qemu.err" >&2
	exit 125
fi
if [ "$began" = 0 ]; then
	echo "run.sh: the VM failed before running the command; last console lines:" >&2
	tail -n 40 "$CTL/.console.log" >&2
fi
exit "$rc"
