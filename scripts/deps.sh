#!/usr/bin/env bash
# Installs what hezi's tests, demo and benchmarks need on a fresh Debian machine (as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
pkgs=(busybox-static runc crun umoci skopeo libseccomp-dev jq cpio hyperfine
      qemu-system-x86 iproute2 attr procps time openssl systemd dbus-daemon
      podman conmon catatonit containerd containernetworking-plugins docker.io python3
      docker-registry apache2-utils apparmor uidmap criu iptables
      python3-grpcio python3-protobuf protobuf-compiler)
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root, not installing packages (${pkgs[*]})" >&2
    exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
