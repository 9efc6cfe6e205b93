#!/bin/busybox sh
# PID 1 of the hezi cgroup-v2 test VM (copied to /init of the initramfs by
# prepare.sh; runs under busybox ash, NOT on the host).
#
# 1. mounts /proc, /sys, /dev; loads the 9p/virtio/overlay modules listed in
#    /modules/order (in dependency order);
# 2. mounts the host root read-only over 9p (tag "hostroot") and puts a tmpfs
#    overlay on top of it at /newroot, so every host binary and library is
#    there and writes land in RAM;
# 3. mounts fresh /proc /sys /dev /tmp /run, cgroup2 at /sys/fs/cgroup (all
#    controllers enabled in the root subtree_control) and bpffs;
# 4. mounts each shared project directory read-write at its host path;
# 5. runs /run/hezi-vm/cmd.sh (written by run.sh) with /bin/sh in a chroot,
#    its stdout+stderr on the virtio serial port "org.hezi.out" (or the
#    console when there is none), writes its exit status to the control share and prints
#    "HEZI-VM-EXIT-<nonce>=<status>" on the console, then powers off.
#
# Kernel command line keys read here: hezi.nonce=<word>, hezi.probe=1 (just
# print the probe marker and power off), hezi.verbose=1.

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
for word in $(cat /proc/cmdline); do
	case "$word" in
	hezi.nonce=*) nonce=${word#hezi.nonce=} ;;
	hezi.probe=1) probe=1 ;;
	hezi.verbose=1) verbose=1 ;;
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
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $R/sys/fs/cgroup ||
	mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2 at /sys/fs/cgroup"
mkdir -p $R/sys/fs/bpf
mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf 2>/dev/null || say "warning: cannot mount bpffs"

# Enable every available controller for the children of the root cgroup.
for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >$R/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
		say "warning: cannot enable cgroup controller $c"
done
note "cgroup2 controllers: $(cat $R/sys/fs/cgroup/cgroup.subtree_control)"

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

if [ "$out" = /dev/console ]; then echo "HEZI-VM-BEGIN-$nonce out=console"; else echo "HEZI-VM-BEGIN-$nonce out=port"; fi
chroot $R /bin/sh /run/hezi-vm/cmd.sh </dev/null >"$out" 2>&1
finish $?
