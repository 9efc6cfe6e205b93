#!/usr/bin/env bash
# Build (once) everything scripts/vm/run.sh needs to boot the cgroup-v2 test VM:
#
#   $HEZI_VM_CACHE (default /var/cache/hezi-vm)/
#     kernel/vmlinuz      Debian linux-image-6.1 bzImage (unpacked with dpkg -x, not installed)
#     kernel/vmlinux      the uncompressed ELF kernel (booted through its PVH entry; faster)
#     kernel/package      the Debian package name and version used
#     kernel/modules/     the .ko files the initramfs loads, and their load order
#     debs/               the downloaded kernel .deb (re-extracted when the module list changes)
#     initramfs.cpio.gz   static busybox + /init (scripts/vm/init.sh) + virtio/9p/overlay modules
#     accel               "kvm" or "tcg": what booted this kernel on this machine
#
# Idempotent: a second run only checks the stamps. It installs its own apt
# packages when a tool is missing (needs root then). Environment:
#   HEZI_VM_CACHE        cache directory
#   HEZI_VM_KERNEL_PKG   exact Debian package to use (default: the newest
#                        linux-image-6.1.0-<N>-amd64 that apt knows)
#   HEZI_VM_ACCEL        kvm|tcg: skip the KVM probe (run.sh then uses this)
# Options: --force (rebuild the initramfs and re-probe), -q (quiet).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HEZI_VM_CACHE:-/var/cache/hezi-vm}
FORCE=0
QUIET=0
for arg in "$@"; do
	case "$arg" in
	--force) FORCE=1 ;;
	-q | --quiet) QUIET=1 ;;
	-h | --help)
		sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "prepare.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

log() { [ "$QUIET" = 1 ] || echo "prepare.sh: $*" >&2; }
die() {
	echo "prepare.sh: error: $*" >&2
	exit 1
}

# Modules the initramfs needs (dependencies are added automatically).
# nf_tables and the *_diag modules: CRIU (checkpoint/restore tests) probes nftables
# at start-up and dumps sockets through sock_diag; veth and tun for its net checks.
WANTED_MODULES=(virtio_pci virtio_console virtio_blk 9pnet_virtio 9p overlay nf_tables unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag veth tun nf_conntrack_netlink)

mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"

# ---------------------------------------------------------------- packages
is_static_busybox() {
	# A dynamic ELF names its interpreter (PT_INTERP) near the start of the file.
	[ -x /bin/busybox ] && ! head -c 2048 /bin/busybox | grep -qa 'ld-linux'
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
is_static_busybox || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v xz >/dev/null || missing+=(xz-utils)
command -v gzip >/dev/null || missing+=(gzip)
command -v flock >/dev/null || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root to install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
	is_static_busybox || die "/bin/busybox is not the static busybox after installing busybox-static"
fi

# ---------------------------------------------------------------- kernel
KDIR="$CACHE/kernel"

pick_kernel_package() {
	if [ -n "${HEZI_VM_KERNEL_PKG:-}" ]; then
		echo "$HEZI_VM_KERNEL_PKG"
		return
	fi
	local list
	list=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null | cut -d' ' -f1 | sort -V)
	if [ -z "$list" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >&2 || true
		list=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null | cut -d' ' -f1 | sort -V)
	fi
	[ -n "$list" ] || die "apt knows no linux-image-6.1.0-<N>-amd64 package (Debian bookworm sources needed)"
	echo "$list" | tail -n1
}

# extract_vmlinux BZIMAGE OUT: find the compressed payload in the bzImage
# (same idea as the kernel's scripts/extract-vmlinux: try every offset where a
# compression magic occurs, keep the first that decompresses to an ELF file).
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for spec in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08' 'lzma:\x5d\x00\x00\x00' 'bzip2:BZh'; do
		tool=${spec%%:*}
		magic=${spec#*:}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$img" 2>/dev/null | cut -d: -f1); do
			case "$tool" in
			xz) tail -c +$((off + 1)) "$img" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true ;;
			*) tail -c +$((off + 1)) "$img" | "$tool" -dc >"$out.tmp" 2>/dev/null || true ;;
			esac
			if [ "$(head -c4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				mv "$out.tmp" "$out"
				log "extracted vmlinux ($tool payload at offset $off)"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

# resolve_one MODDIR NAME: append to ORDER the .ko paths (relative to MODDIR)
# of NAME and its dependencies, dependencies first; builtin modules are skipped.
declare -A KO_PATH=() SEEN=()
ORDER=()
resolve_one() {
	local moddir=$1 name=${2//-/_} file deps dep
	[ -n "${SEEN[$name]:-}" ] && return 0
	SEEN[$name]=1
	file=${KO_PATH[$name]:-}
	if [ -z "$file" ]; then
		if grep -qE "/${name//_/[-_]}\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
			return 0
		fi
		die "kernel module $name is neither built in nor in $moddir"
	fi
	deps=$(decompress_ko "$moddir/$file" | tr '\0' '\n' | grep -a '^depends=' | head -n1 | cut -d= -f2)
	for dep in ${deps//,/ }; do
		resolve_one "$moddir" "$dep"
	done
	# "softdep=pre: crc32c": modules the init function needs loaded first (libcrc32c
	# fails with ENOENT without a crc32c provider). Only the names that map to a
	# module of the same name (with _generic for crypto algorithms) are followed.
	local soft
	soft=$(decompress_ko "$moddir/$file" | tr '\0' '\n' | grep -a '^softdep=pre:' | head -n1 | cut -d: -f2 | sed 's/post:.*//' || true)
	for dep in $soft; do
		dep=${dep//-/_}
		if [ -n "${KO_PATH[$dep]:-}" ]; then
			resolve_one "$moddir" "$dep"
		elif [ -n "${KO_PATH[${dep}_generic]:-}" ]; then
			resolve_one "$moddir" "${dep}_generic"
		fi
	done
	ORDER+=("$file")
}
decompress_ko() {
	case "$1" in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.zst) zstd -dc "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

prepare_kernel() {
	local pkg work deb ver moddir
	if [ -f "$KDIR/package" ] && [ -f "$KDIR/vmlinuz" ] && [ -d "$KDIR/modules" ] &&
		[ "$(cat "$KDIR/wanted" 2>/dev/null)" = "${WANTED_MODULES[*]}" ]; then
		if [ -z "${HEZI_VM_KERNEL_PKG:-}" ] || grep -q "^$HEZI_VM_KERNEL_PKG " "$KDIR/package"; then
			return 0
		fi
	fi
	# Reuse the kernel package already cached unless another one is asked for.
	pkg=${HEZI_VM_KERNEL_PKG:-}
	[ -n "$pkg" ] || pkg=$(cut -d' ' -f1 "$KDIR/package" 2>/dev/null || true)
	[ -n "$pkg" ] || pkg=$(pick_kernel_package)
	work=$(mktemp -d "$CACHE/kernel-build.XXXXXX")
	trap 'rm -rf "$work"' RETURN
	chmod 0755 "$work"
	mkdir -p "$CACHE/debs"
	deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		log "fetching kernel package $pkg"
		(cd "$work" && apt-get download "$pkg") >"$work/download.log" 2>&1 ||
			die "apt-get download $pkg failed: $(tail -n3 "$work/download.log")"
		rm -f "$CACHE/debs/"*.deb
		mv "$work"/*.deb "$CACHE/debs/" || die "no .deb after apt-get download $pkg"
		deb=$(ls "$CACHE/debs/${pkg}_"*.deb | head -n1)
	fi
	dpkg -x "$deb" "$work/x" || die "dpkg -x $deb failed"
	ver=$(ls "$work/x/lib/modules" | head -n1)
	[ -n "$ver" ] || die "$pkg has no /lib/modules"
	moddir="$work/x/lib/modules/$ver"
	mkdir -p "$work/k/modules"
	cp "$work/x/boot/vmlinuz-$ver" "$work/k/vmlinuz"
	cp "$work/x/boot/config-$ver" "$work/k/config"

	if grep -qx 'CONFIG_PVH=y' "$work/k/config"; then
		extract_vmlinux "$work/k/vmlinuz" "$work/k/vmlinux" || log "warning: could not extract vmlinux; will boot the bzImage"
	else
		log "kernel lacks CONFIG_PVH; will boot the bzImage"
	fi

	local f
	while IFS= read -r f; do
		KO_PATH[$(basename "${f%%.ko*}" | tr - _)]=$f
	done < <(cd "$moddir" && find kernel -name '*.ko*')
	local order=() m base
	for m in "${WANTED_MODULES[@]}"; do
		resolve_one "$moddir" "$m"
	done
	for f in "${ORDER[@]}"; do
		base=$(basename "${f%%.ko*}")
		decompress_ko "$moddir/$f" >"$work/k/modules/$base.ko"
		order+=("$base")
	done
	printf '%s\n' "${order[@]}" >"$work/k/modules/order"
	echo "$pkg $(dpkg-deb -f "$deb" Version) $ver" >"$work/k/package"
	echo "${WANTED_MODULES[*]}" >"$work/k/wanted"

	rm -rf "$KDIR.old"
	[ -d "$KDIR" ] && mv "$KDIR" "$KDIR.old"
	mv "$work/k" "$KDIR"
	rm -rf "$KDIR.old"
	rm -f "$CACHE/accel" "$CACHE/initramfs.stamp"
	log "kernel ready: $(cat "$KDIR/package"); modules: ${order[*]}"
}

prepare_kernel

# ---------------------------------------------------------------- initramfs
stamp=$(cat "$HERE/init.sh" "$HERE/prepare.sh" "$KDIR/package" /bin/busybox | sha256sum | cut -d' ' -f1)
if [ "$FORCE" = 1 ] || [ ! -f "$CACHE/initramfs.cpio.gz" ] || [ "$(cat "$CACHE/initramfs.stamp" 2>/dev/null)" != "$stamp" ]; then
	tree=$(mktemp -d "$CACHE/initramfs-build.XXXXXX")
	mkdir -p "$tree/bin" "$tree/sbin" "$tree/modules" "$tree/proc" "$tree/sys" "$tree/dev" "$tree/mnt"
	cp /bin/busybox "$tree/bin/busybox"
	cp "$HERE/init.sh" "$tree/init"
	chmod 0755 "$tree/init"
	cp "$KDIR/modules/"* "$tree/modules/"
	(cd "$tree" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$CACHE/initramfs.cpio.gz.tmp"
	mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
	rm -rf "$tree"
	echo "$stamp" >"$CACHE/initramfs.stamp"
	log "initramfs built: $CACHE/initramfs.cpio.gz"
fi

# ---------------------------------------------------------------- accelerator
# /dev/kvm may exist yet fail to run this kernel (e.g. a nested/software KVM
# that rejects MSR writes): boot once with KVM and keep it only if the probe
# marker shows up.
if [ -n "${HEZI_VM_ACCEL:-}" ]; then
	# run.sh reads the variable itself; the recorded probe result stays.
	case "$HEZI_VM_ACCEL" in kvm | tcg) ;; *) die "HEZI_VM_ACCEL must be kvm or tcg" ;; esac
elif [ "$FORCE" = 1 ] || [ ! -f "$CACHE/accel" ]; then
	accel=tcg
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		kernel="$KDIR/vmlinux"
		[ -f "$kernel" ] || kernel="$KDIR/vmlinuz"
		out=$(timeout 60 qemu-system-x86_64 -accel kvm -cpu host -m 512 -smp 1 \
			-nodefaults -display none -no-reboot -serial stdio -monitor none \
			-kernel "$kernel" -initrd "$CACHE/initramfs.cpio.gz" \
			-append "console=ttyS0 panic=-1 quiet hezi.probe=1 hezi.nonce=probe" </dev/null 2>&1 || true)
		if grep -q 'HEZI-VM-PROBE-OK-probe' <<<"$out"; then
			accel=kvm
		else
			log "KVM present but cannot boot this kernel ($(grep -m1 -i error <<<"$out" || echo 'no probe marker')); using TCG"
		fi
	fi
	echo "$accel" >"$CACHE/accel"
	log "accelerator: $accel"
fi

log "ready: $(cat "$KDIR/package"), accel ${HEZI_VM_ACCEL:-$(cat "$CACHE/accel" 2>/dev/null || echo 'not probed')}, cache $CACHE"
