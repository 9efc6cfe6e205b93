#!/bin/busybox sh
# PID 1 of the hezi cgroup test VM (copied to /init of the initramfs by
# prepare.sh; runs under busybox ash, NOT on the host).
#
# 1. mounts /proc, /sys, /dev; loads the 9p/virtio/overlay modules listed in
#    /modules/order (in dependency order);
# 2. mounts the host root read-only over 9p (tag "hostroot") and puts a tmpfs
#    overlay on top of it at /newroot, so every host binary and library is
#    there and writes land in RAM;
# 3. mounts fresh /proc /sys /dev /tmp /run and bpffs in it, and the cgroup
#    layout asked for (busybox init only; systemd mounts its own):
#    hezi.cgroup=unified  cgroup2 at /sys/fs/cgroup, every controller enabled
#                         in the root subtree_control (needs cgroup_no_v1=all)
#    hezi.cgroup=hybrid   the layout of the development host: tmpfs at
#                         /sys/fs/cgroup, one v1 hierarchy per controller
#                         (cpu, cpuacct, cpuset, memory, devices, freezer,
#                         blkio, pids), name=systemd at systemd/, cgroup2 at
#                         unified/
# 4. mounts each shared project directory read-write at its host path;
# 5. hezi.init=busybox (default): runs /run/hezi-vm/cmd.sh (written by run.sh)
#    with /bin/sh in a chroot (the new root moved onto /), its stdout+stderr
#    on the virtio serial port "org.hezi.out" (or the console when there is
#    none), writes its exit
#    status to the control share and prints "HEZI-VM-EXIT-<nonce>=<status>"
#    on the console, then powers off.
#    hezi.init=systemd: moves the control share to /run/hezi-vm/ctl, writes a
#    minimal systemd configuration into the overlay (hezi-vm.target: the
#    system bus and hezi-vm-cmd.service, which does what step 5 does above and
#    powers off; SYSTEMD_UNIT_PATH names only these units, every generator is
#    masked) and switch_roots into /newroot with /lib/systemd/systemd as PID 1
#    (the kernel command line carries systemd.unit=hezi-vm.target).
#
# Kernel command line keys read here: hezi.nonce=<word>, hezi.probe=1 (just
# print the probe marker and power off), hezi.verbose=1,
# hezi.init=busybox|systemd, hezi.cgroup=unified|hybrid.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin
umask 022

mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

nonce=none
probe=0
verbose=0
init=busybox
cgroup=unified
for word in $(cat /proc/cmdline); do
	case "$word" in
	hezi.nonce=*) nonce=${word#hezi.nonce=} ;;
	hezi.probe=1) probe=1 ;;
	hezi.verbose=1) verbose=1 ;;
	hezi.init=*) init=${word#hezi.init=} ;;
	hezi.cgroup=*) cgroup=${word#hezi.cgroup=} ;;
	esac
done

say() { echo "hezi-vm: $*"; }
note() { [ "$verbose" = 1 ] && echo "hezi-vm: [$(cut -d" " -f1 /proc/uptime)] $*"; }

finish() {
	# $1 = exit status to report.
	[ -d /mnt/ctl ] && echo "$1" >/mnt/ctl/exit 2>/dev/null
	sync
	echo "HEZI-VM-EXIT-$nonce=$1"
	poweroff -f
	# poweroff -f does not return; if it did, exiting PID 1 panics the kernel
	# and panic=-1 + qemu -no-reboot end the VM anyway.
	exit "$1"
}

fail() {
	say "init: $*"
	finish 125
}

if [ "$probe" = 1 ]; then
	echo "HEZI-VM-PROBE-OK-$nonce"
	poweroff -f
fi

case "$init:$cgroup" in
busybox:unified | busybox:hybrid | systemd:unified | systemd:hybrid) ;;
*) fail "unknown hezi.init=$init / hezi.cgroup=$cgroup (want busybox|systemd, unified|hybrid)" ;;
esac

# Quiet the console unless asked: only errors and worse from the kernel.
[ "$verbose" = 1 ] || echo "3 4 1 3" >/proc/sys/kernel/printk

for mod in $(cat /modules/order 2>/dev/null); do
	out=$(insmod "/modules/$mod.ko" 2>&1) || case "$out" in
	*exists*) ;;
	*) fail "insmod $mod: $out" ;;
	esac
done
note "modules loaded"

ninep="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /mnt/host /mnt/ctl /mnt/rw /newroot
mount -t 9p -o "$ninep,cache=mmap" hezictl /mnt/ctl || fail "cannot mount the control share (9p tag hezictl)"
mount -t 9p -o "$ninep,cache=loose,ro" hostroot /mnt/host || fail "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "cannot mount tmpfs for the overlay upper dir"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot ||
	fail "cannot mount overlayfs (lower: 9p host root, upper: tmpfs)"
note "host root mounted"

PREFETCH_PID=
if [ "$init" = systemd ]; then
	# Read what systemd, the system bus and the command's wrapper run (and
	# the libraries they link, as on Debian 12) into the page cache now, on
	# the other vCPU, while /init sets up the root: a big sequential read
	# over 9p takes ~0.5 s, the page faults of a cold start of systemd ~2.5 s.
	(
		cd /newroot/usr/lib/x86_64-linux-gnu || exit 0
		cat ../systemd/systemd systemd/*.so ../../bin/dbus-daemon ../../bin/busctl ../../bin/systemctl \
			../../bin/dash ../../share/dbus-1/system.conf libc.so.6 libm.so.6 libacl.so.1 libapparmor.so.1 \
			libaudit.so.1 libblkid.so.1 libcap-ng.so.0 libcap.so.2 libcrypt.so.1 libcrypto.so.3 \
			libdbus-1.so.3 libexpat.so.1 libgcrypt.so.20 libgpg-error.so.0 libip4tc.so.2 libkmod.so.2 \
			liblz4.so.1 liblzma.so.5 libmount.so.1 libpam.so.0 libpcre2-8.so.0 libseccomp.so.2 \
			libselinux.so.1 libsystemd.so.0 libzstd.so.1 >/dev/null 2>&1
	) &
	PREFETCH_PID=$!
fi

R=/newroot
mkdir -p $R/proc $R/sys $R/dev $R/tmp $R/run
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $R/dev/pts || fail "mount devpts"
[ -e $R/dev/ptmx ] || ln -s pts/ptmx $R/dev/ptmx
mount -t tmpfs -o mode=1777 shm $R/dev/shm || fail "mount /dev/shm"
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd
[ -e $R/dev/stdin ] || ln -s /proc/self/fd/0 $R/dev/stdin
[ -e $R/dev/stdout ] || ln -s /proc/self/fd/1 $R/dev/stdout
[ -e $R/dev/stderr ] || ln -s /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail "mount /run"
mkdir -p $R/sys/fs/bpf
mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf 2>/dev/null || say "warning: cannot mount bpffs"

# mount_unified: cgroup2 at /sys/fs/cgroup, every controller enabled for the
# children of the root cgroup.
mount_unified() {
	mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $R/sys/fs/cgroup ||
		mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2 at /sys/fs/cgroup"
	for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
		echo "+$c" >$R/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
			say "warning: cannot enable cgroup controller $c"
	done
	note "cgroup2 controllers: $(cat $R/sys/fs/cgroup/cgroup.subtree_control)"
}

# mount_hybrid: the development host's layout (v1 controllers each on their
# own hierarchy, name=systemd, and cgroup2 at unified/ holding the rest).
mount_hybrid() {
	cg=$R/sys/fs/cgroup
	mount -t tmpfs -o mode=0755 tmpfs $cg || fail "mount tmpfs at /sys/fs/cgroup"
	for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
		mkdir -p $cg/$c
		mount -t cgroup -o $c cgroup $cg/$c || fail "mount the cgroup v1 $c hierarchy (is cgroup_no_v1 on the kernel command line?)"
	done
	mkdir -p $cg/systemd $cg/unified
	mount -t cgroup -o none,name=systemd cgroup $cg/systemd || fail "mount the cgroup v1 name=systemd hierarchy"
	mount -t cgroup2 cgroup2 $cg/unified || fail "mount cgroup2 at /sys/fs/cgroup/unified"
	note "cgroup v1 hierarchies: $(awk '$3 == "cgroup" { printf "%s ", $2 }' /proc/mounts)"
}

# systemd mounts its own cgroup layout (systemd.unified_cgroup_hierarchy= on
# the kernel command line picks it).
if [ "$init" = busybox ]; then
	if [ "$cgroup" = hybrid ]; then mount_hybrid; else mount_unified; fi
fi

# Project shares: /mnt/ctl/shares holds "<tag> <path>" lines.
if [ -f /mnt/ctl/shares ]; then
	while read -r tag path; do
		[ -n "$tag" ] || continue
		mkdir -p "$R$path" 2>/dev/null
		mount -t 9p -o "$ninep,cache=mmap" "$tag" "$R$path" || fail "cannot mount share $tag at $path"
		note "shared $path"
	done </mnt/ctl/shares
fi

hostname hezi-vm
ip link set lo up 2>/dev/null

mkdir -p $R/run/hezi-vm
cp /mnt/ctl/cmd.sh $R/run/hezi-vm/cmd.sh || fail "no command script in the control share"

# The command's output goes to the virtio serial port named org.hezi.out when
# run.sh provides one (fast, byte-exact), else to the console.
out=/dev/console
i=0
while [ $i -lt 30 ]; do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.hezi.out ] && [ -e "/dev/${p##*/}" ] && out=/dev/${p##*/}
	done
	[ "$out" != /dev/console ] && break
	[ -d /sys/class/virtio-ports ] || break
	sleep 0.1
	i=$((i + 1))
done
note "command output to $out"

if [ "$init" = busybox ]; then
	if [ "$out" = /dev/console ]; then echo "HEZI-VM-BEGIN-$nonce out=console"; else echo "HEZI-VM-BEGIN-$nonce out=port"; fi
	# Make the new root the mount namespace's root (what switch_root does, minus
	# freeing the initramfs) before chrooting into it: setns() into a mount
	# namespace starts at the namespace's root and follows what is mounted on it,
	# so a process that later joins a container (runc exec, hezi exec) lands in
	# the container's root, not in the initramfs. This shell keeps its own root,
	# the initramfs, so /mnt/ctl and poweroff below still resolve there.
	cd $R && mount --move . / || fail "cannot move the new root onto /"
	chroot . /bin/sh /run/hezi-vm/cmd.sh </dev/null >"$out" 2>&1
	rc=$?
	cd /
	finish $rc
fi

# ------------------------------------------------------------- systemd boot
# Everything below is written into the overlay (tmpfs upper), never to the
# host: the host root is a read-only 9p share.

# mask_generators KIND: a /dev/null symlink in /etc masks a generator of the
# same name; generators would read the host's fstab, spawn gettys, ...
mask_generators() {
	mkdir -p "$R/etc/systemd/$1"
	for d in /usr/lib /lib /usr/local/lib /etc; do
		# /lib is usually a symlink to /usr/lib (merged /usr).
		[ "$d" = /lib ] && [ -L $R/lib ] && continue
		for g in "$R$d/systemd/$1"/*; do
			[ -e "$g" ] || [ -L "$g" ] || continue
			ln -sfn /dev/null "$R/etc/systemd/$1/${g##*/}" || fail "cannot mask generator $g"
		done
	done
}

# write_mount_unit NAME WHAT WHERE TYPE: NAME.mount without default
# dependencies, for a mount /init made.
write_mount_unit() {
	printf '%s\n' "# written by the hezi-vm /init" "[Unit]" "Description=$3 (mounted by the hezi-vm /init)" \
		"DefaultDependencies=no" "" "[Mount]" "What=$2" "Where=$3" "Type=$4" \
		>"$R$UNITS/$1.mount" || fail "cannot write $1.mount"
}

# Units systemd sees: SYSTEMD_UNIT_PATH (set for PID 1 below) names only
# these dirs (with the ones for transient units and runtime properties), so
# none of the host's units loads or starts: with the host's unit dirs in the
# path, systemd loaded ~150 units of the host's graph at start-up (4-8 s
# under TCG) even with default dependencies cut.
UNITS=/run/hezi-vm/units
UNIT_PATH=/etc/systemd/system.control:/run/systemd/system.control:/run/systemd/transient:$UNITS

write_systemd_config() {
	u=$R$UNITS
	mkdir -p $u/dbus.socket.d $u/dbus.service.d || fail "cannot create $u"
	# The host's system bus units, and a slice for system services.
	cp $R/lib/systemd/system/dbus.socket $R/lib/systemd/system/dbus.service $u/ ||
		fail "no dbus.socket/dbus.service on the host root"
	printf '%s\n' "# written by the hezi-vm /init" "[Unit]" "Description=System Slice" "DefaultDependencies=no" \
		>$u/system.slice || fail "cannot write system.slice"
	mask_generators system-generators
	mask_generators system-environment-generators

	# The host root may be a container's (/.dockerenv): systemd would then
	# believe it runs in docker and ignore the kernel command line.
	rm -f $R/.dockerenv $R/run/.containerenv $R/run/systemd/container ||
		fail "cannot hide the container markers of the host root"

	# A fresh machine id (not the host's, not empty: no first-boot units).
	tr -d '-' </proc/sys/kernel/random/uuid >$R/etc/machine-id || fail "cannot write /etc/machine-id"
	mkdir -p $R/var/lib/dbus
	cp $R/etc/machine-id $R/var/lib/dbus/machine-id
	echo hezi-vm >$R/etc/hostname

	# Default dependencies would tie every unit to sysinit.target,
	# local-fs.target, ... which do not exist here: the mounts /init made (a
	# drop-in for all mount units, and own units for two that got default
	# dependencies before their drop-in applied), the target and the system
	# bus go without. journald is not started: services write to the console
	# (vm-console: lines from run.sh) instead of the journal.
	mkdir -p $R/etc/systemd/system.conf.d || fail "cannot create /etc/systemd/system.conf.d"
	printf '# written by the hezi-vm /init\n[Manager]\nDefaultStandardOutput=tty\n' \
		>$R/etc/systemd/system.conf.d/hezi-vm.conf
	mkdir -p $u/mount.d || fail "cannot create $u/mount.d"
	printf '# written by the hezi-vm /init\n[Unit]\nDefaultDependencies=no\n' >$u/mount.d/hezi-vm.conf
	write_mount_unit dev-mqueue mqueue /dev/mqueue mqueue
	write_mount_unit tmp tmpfs /tmp tmpfs
	cat >$u/hezi-vm.target <<-'UNIT' || fail "cannot write hezi-vm.target"
		# written by the hezi-vm /init
		[Unit]
		Description=hezi test VM (system bus + the command)
		DefaultDependencies=no
		Wants=dbus.socket dbus.service hezi-vm-cmd.service
		AllowIsolate=yes
	UNIT
	printf '# written by the hezi-vm /init\n[Unit]\nDefaultDependencies=no\n' >$u/dbus.socket.d/hezi-vm.conf
	printf '# written by the hezi-vm /init\n[Unit]\nDefaultDependencies=no\n' >$u/dbus.service.d/hezi-vm.conf
	cat >$u/hezi-vm-cmd.service <<-'UNIT' || fail "cannot write hezi-vm-cmd.service"
		# written by the hezi-vm /init
		[Unit]
		Description=hezi test VM command (/run/hezi-vm/cmd.sh)
		DefaultDependencies=no
		Wants=dbus.service
		After=dbus.service
		# run-cmd.sh powers off itself; these catch it dying first, and the
		# job timeout a boot that never gets here (run.sh then reports 125).
		SuccessAction=poweroff-immediate
		FailureAction=poweroff-immediate
		JobTimeoutSec=300
		JobTimeoutAction=poweroff-immediate

		[Service]
		Type=exec
		ExecStart=/bin/sh /run/hezi-vm/run-cmd.sh
		StandardInput=null
		StandardOutput=tty
		StandardError=tty
		TTYPath=/dev/console
		# Like the busybox init: default SIGPIPE, no task limit, and an OOM
		# kill inside the command's cgroups does not stop the command.
		IgnoreSIGPIPE=no
		TasksMax=infinity
		OOMPolicy=continue
		# The command may manage cgroups below its own.
		Delegate=yes
		TimeoutStartSec=infinity
	UNIT

	# run-cmd.sh runs under the host's /bin/sh: waits until PID 1 owns its
	# name on the system bus, then does what the busybox init does.
	cat >$R/run/hezi-vm/run-cmd.sh <<-EOF || fail "cannot write run-cmd.sh"
		# written by the hezi-vm /init
		nonce=$nonce
		out=$out
		ctl=/run/hezi-vm/ctl
	EOF
	cat >>$R/run/hezi-vm/run-cmd.sh <<-'EOF'
		i=0
		until busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
			NameHasOwner s org.freedesktop.systemd1 2>/dev/null | grep -q true; do
			i=$((i + 1))
			if [ $i -ge 300 ]; then
				echo "hezi-vm: warning: systemd did not appear on the system bus" >/dev/console
				break
			fi
			sleep 0.1
		done
		if [ "$out" = /dev/console ]; then where=console; else where=port; fi
		echo "HEZI-VM-BEGIN-$nonce out=$where" >/dev/console
		/bin/sh /run/hezi-vm/cmd.sh </dev/null >"$out" 2>&1
		rc=$?
		echo "$rc" >"$ctl/exit"
		sync
		echo "HEZI-VM-EXIT-$nonce=$rc" >/dev/console
		systemctl poweroff --force --force >/dev/null 2>&1
		exit 0
	EOF
}

[ -x $R/lib/systemd/systemd ] || fail "no /lib/systemd/systemd on the host root"
write_systemd_config
note "systemd configuration written; switching root"
mkdir -p $R/run/hezi-vm/ctl
mount -o move /mnt/ctl $R/run/hezi-vm/ctl || fail "cannot move the control share to /run/hezi-vm/ctl"
# From here on a failure ends PID 1 (kernel panic, panic=-1, qemu -no-reboot)
# and run.sh reports 125 with the console.
[ -n "$PREFETCH_PID" ] && wait "$PREFETCH_PID"
note "prefetch done"
export SYSTEMD_UNIT_PATH=$UNIT_PATH
exec switch_root $R /lib/systemd/systemd
