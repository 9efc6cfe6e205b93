#!/usr/bin/env bash
# Docker (Debian's docker.io 20.10) with RUNTIME as an `--add-runtime`: its own dockerd and
# containerd, each with its own root, state, exec root and sockets (no systemd needed), no
# bridge and no iptables; the busybox image loaded from a docker-archive skopeo makes of the
# OCI layout the suite builds offline. Prints `docker-<rt>: N passed, N failed`.
#
#   tests/engines/docker.sh RUNTIME_BINARY [RESULTS_FILE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
RESULTS=${2:-/dev/null}
SUITE=docker
RT=$(basename "$BIN")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

if ! command -v dockerd >/dev/null; then
	echo "docker: installing docker.io"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io; } >/dev/null ||
		{ echo "docker: cannot install docker.io"; exit 1; }
fi
# Debian's client, matching its dockerd (another one may come first on PATH).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)

T=$(mktemp -d /tmp/hezi-docker.XXXXXX)
cat >"$T/containerd.toml" <<TOML
version = 2
root = "$T/containerd/root"
state = "$T/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[debug]
  address = "$T/cd.sock"
TOML
# dockerd's trust key would go to /etc/docker/key.json; its cgroups go under their own parent.
# (Docker 23 and later make no trust key and refuse the setting.)
if [ "$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')" -lt 23 ] 2>/dev/null; then
	echo "{\"deprecated-key-path\": \"$T/key.json\"}" >"$T/daemon.json"
else
	echo "{}" >"$T/daemon.json"
fi
CG=$(basename "$T")
# dockerd makes /run/docker/plugins whatever its exec root; removed if it was not there.
had_run_docker=$([ -e /run/docker ] && echo 1)
containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
CPID=$!
DPID=
# "runc" is the name of dockerd's built-in runtime, so the one under test gets its own.
NAME=under-test-$RT
D=(timeout 60 "$DOCKER" --host "unix://$T/docker.sock")
IMG=busybox:latest
R=("${D[@]}" run --rm --runtime "$NAME" --network none)
RD=("${D[@]}" run -d --runtime "$NAME" --network none)

cleanup() {
	if [ -n "$DPID" ]; then
		# shellcheck disable=SC2046
		"${D[@]}" rm -f $("${D[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1
		kill "$DPID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	pkill -KILL -f "^/usr/bin/containerd-shim-runc-v2 -namespace moby -id [0-9a-f]* -address $T/" 2>/dev/null
	grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	find /sys/fs/cgroup/ -maxdepth 2 -type d -name "$CG" -exec rmdir {} + 2>/dev/null
	[ -n "$had_run_docker" ] || rmdir /run/docker/plugins /run/docker 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

for _ in $(seq 50); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
dockerd --config-file "$T/daemon.json" --data-root "$T/data" --exec-root "$T/exec" \
	--pidfile "$T/dockerd.pid" --cgroup-parent "/$CG" --host "unix://$T/docker.sock" \
	--containerd "$T/c.sock" --storage-driver overlay2 \
	--bridge none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
	--add-runtime "$NAME=$BIN" >"$T/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 150); do "${D[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
"${D[@]}" version >/dev/null 2>&1 || { echo "docker: dockerd did not start"; tail -n 20 "$T/dockerd.log"; exit 1; }
"$HERE/fixture-layout.sh" "$T/layout" >/dev/null || { echo "docker: no fixture layout"; exit 1; }
if ! skopeo copy -q "oci:$T/layout:$IMG" "docker-archive:$T/image.tar:$IMG" >/dev/null ||
	! "${D[@]}" load -q -i "$T/image.tar" >/dev/null; then
	echo "docker: cannot load the image"
	exit 1
fi

check "run attached" expect_eq "hi" "${R[@]}" "$IMG" echo hi
check "exit code 0" expect_code 0 "${R[@]}" "$IMG" true
check "exit code 1" expect_code 1 "${R[@]}" "$IMG" sh -c 'exit 1'
check "exit code 126 (not executable)" expect_code 126 "${R[@]}" "$IMG" /etc/passwd
check "exit code 127 (missing binary)" expect_code 127 "${R[@]}" "$IMG" /nonexistent
# Not the container's pid 1: the kernel keeps signals without a handler from an init.
check "exit code 128+TERM" expect_code 143 "${R[@]}" "$IMG" sh -c 'sleep 30 & kill -TERM $!; wait $!; exit $?'
# With --init, sh is not pid 1 and can kill itself; docker-init exits 128+KILL.
check "exit code 128+KILL (kill -9 self)" expect_code 137 "${R[@]}" --init "$IMG" sh -c 'kill -9 $$'
# dockerd removes an --rm container just after it exits.
check "--rm leaves no container" sh -c "for i in \$(seq 50); do [ \$(${D[*]} ps -aq | wc -l) = 0 ] && exit 0; sleep 0.1; done; exit 1"
check "-it under a pty" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${R[@]}" -it "$IMG" tty
check "--init" expect_eq "docker-init" "${R[@]}" --init "$IMG" cat /proc/1/comm
# --privileged asks for every capability the kernel has, and ignores --cap-drop: sandboxes
# whose bounding set lacks one (often CAP_SYS_RESOURCE) cannot run it with any runtime.
if [ "$(awk '/^CapBnd:/ {print $2}' /proc/self/status)" = "$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))" ]; then
	check "--privileged" expect_eq "ok" "${R[@]}" --privileged "$IMG" sh -c 'test "$(ls /dev | wc -l)" -gt 30 && grep -q "CapEff:.*ffffff" /proc/self/status && echo ok'
else
	echo "note: docker/$RT: --privileged skipped, the bounding set lacks capabilities"
fi
check "--cap-add ALL" expect_eq "ok" "${R[@]}" --cap-add ALL --cap-drop SYS_RESOURCE "$IMG" sh -c 'grep -q "CapEff:.*ffeffffff" /proc/self/status && echo ok'
check "--read-only" expect_eq "ro" "${R[@]}" --read-only "$IMG" sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
check "--memory 32m OOM kill" expect_code 137 "${R[@]}" --memory 32m --memory-swap 32m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
check "--pids-limit 10" sh -c "${R[*]} --pids-limit 10 $IMG sh -c 'i=0; while [ \$i -lt 30 ]; do sleep 5 & i=\$((i+1)); done' 2>&1 | grep -q \"can't fork\""
check "--network none: lo only, up" expect_eq "lo 0x9" "${R[@]}" "$IMG" sh -c 'echo $(ls /sys/class/net) $(cat /sys/class/net/lo/flags)'
check "--user 1000:1000" expect_eq "1000:1000" "${R[@]}" --user 1000:1000 "$IMG" sh -c 'echo $(id -u):$(id -g)'
check "--cap-drop ALL" expect_eq "denied 0000000000000000" "${R[@]}" --cap-drop ALL "$IMG" sh -c 'r=denied; chown 1 /tmp 2>/dev/null && r=allowed; echo $r $(awk "/^CapEff:/ {print \$2}" /proc/self/status)'
check "default seccomp filter" expect_eq "2" "${R[@]}" "$IMG" sh -c 'awk "/^Seccomp:/ {print \$2}" /proc/self/status'
check "--security-opt no-new-privileges" expect_eq "1" "${R[@]}" --security-opt no-new-privileges "$IMG" sh -c 'awk "/^NoNewPrivs:/ {print \$2}" /proc/self/status'
check "-e, --workdir, --hostname" expect_eq "v /srv h1" "${R[@]}" -e K=v --workdir /srv --hostname h1 "$IMG" sh -c 'echo $K $(pwd) $(hostname)'
check "-v bind mount, --tmpfs" expect_eq "bound tmpfs" "${R[@]}" -v "$T/vol:/vol" --tmpfs /t "$IMG" sh -c 'echo bound > /vol/f; echo $(cat /vol/f) $(awk "\$2 == \"/t\" {print \$3}" /proc/mounts)'
check "--ulimit nofile" expect_eq "512" "${R[@]}" --ulimit nofile=512:512 "$IMG" sh -c 'ulimit -n'
check "--sysctl" expect_eq "1" "${R[@]}" --sysctl net.ipv4.ip_forward=1 "$IMG" cat /proc/sys/net/ipv4/ip_forward
check "--shm-size" expect_eq "8192" "${R[@]}" --shm-size 8m "$IMG" sh -c 'df -k /dev/shm | awk "NR == 2 {print \$2}"'
check "--cpus 0.5" sh -c "${R[*]} --cpus 0.5 $IMG cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null | grep -q '^50000'"
check "--pid host" sh -c "${R[*]} --pid host $IMG cat /proc/1/comm | grep -qv '^sh\$'"
check "--cgroupns private" expect_eq "/" "${R[@]}" --cgroupns private "$IMG" sh -c 'cut -d: -f3 /proc/self/cgroup | sort -u'
check "--group-add" expect_eq "0 10 1234" "${R[@]}" --group-add 10 --group-add 1234 "$IMG" sh -c 'echo $(id -G)'
check "-t without -i" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${R[@]}" -t "$IMG" tty
if [ -e /dev/fuse ]; then
	check "--device /dev/fuse" expect_eq "c" "${R[@]}" --device /dev/fuse "$IMG" sh -c 'test -c /dev/fuse && echo c'
fi

# A long-running container for exec, logs, top, stats, pause, update and stop.
c=$("${RD[@]}" "$IMG" sh -c 'echo started; trap "exit 0" TERM; while :; do sleep 0.1; done')
check "detached run is running" expect_eq "running" "${D[@]}" inspect -f '{{.State.Status}}' "$c"
check "exec" expect_eq "in" "${D[@]}" exec "$c" echo in
check "exec exit code" expect_code 3 "${D[@]}" exec "$c" sh -c 'exit 3'
# docker exec 20.10 exits 126 for any exec start failure, a missing binary too (later 127).
check "exec missing binary" sh -c "${D[*]} exec $c /nonexistent; rc=\$?; [ \$rc = 126 ] || [ \$rc = 127 ]"
check "exec -it" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${D[@]}" exec -it "$c" tty
check "exec -d" expect_eq "bg" sh -c "${D[*]} exec -d $c sh -c 'echo bg > /tmp/bg' && for i in \$(seq 50); do ${D[*]} exec $c cat /tmp/bg 2>/dev/null && exit 0; sleep 0.1; done"
check "exec --user, -w, -e" expect_eq "1000 /tmp x" "${D[@]}" exec --user 1000 -w /tmp -e V=x "$c" sh -c 'echo $(id -u) $(pwd) $V'
check "logs" expect_eq "started" "${D[@]}" logs "$c"
check "top" sh -c "${D[*]} top $c | grep -q sleep"
check "stats --no-stream" sh -c "${D[*]} stats --no-stream --format '{{.MemUsage}}' $c | grep -q 'B / '"
check "pause" expect_eq "paused" sh -c "${D[*]} pause $c >/dev/null && ${D[*]} inspect -f '{{.State.Status}}' $c"
check "unpause" expect_eq "running" sh -c "${D[*]} unpause $c >/dev/null && ${D[*]} inspect -f '{{.State.Status}}' $c"
check "update --memory" sh -c "${D[*]} update --memory 64m --memory-swap 64m $c >/dev/null && ${D[*]} exec $c sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null' | grep -qx 67108864"
check "update --pids-limit" sh -c "${D[*]} update --pids-limit 20 $c >/dev/null && ${D[*]} exec $c sh -c 'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null' | grep -qx 20"
check "update --cpus" sh -c "${D[*]} update --cpus 0.25 $c >/dev/null && ${D[*]} exec $c cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null | grep -q '^25000'"
check "stop with a TERM handler" expect_eq "0" sh -c "start=\$(date +%s); ${D[*]} stop -t 10 $c >/dev/null && [ \$((\$(date +%s) - start)) -lt 8 ] && ${D[*]} inspect -f '{{.State.ExitCode}}' $c"
"${D[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${RD[@]}" "$IMG" sleep 1000)
check "stop without a handler (timeout, KILL)" expect_eq "137" sh -c "start=\$(date +%s); ${D[*]} stop -t 1 $c >/dev/null && [ \$((\$(date +%s) - start)) -lt 8 ] && ${D[*]} inspect -f '{{.State.ExitCode}}' $c"
"${D[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${RD[@]}" "$IMG" sleep 1000)
check "kill" expect_eq "137" sh -c "${D[*]} kill $c >/dev/null && ${D[*]} wait $c"
"${D[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${RD[@]}" "$IMG" sh -c 'trap "exit 7" USR1; while :; do sleep 0.1; done')
check "kill -s USR1" expect_eq "7" sh -c "${D[*]} kill -s USR1 $c >/dev/null && ${D[*]} wait $c"
"${D[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${RD[@]}" "$IMG" sh -c 'echo run >> /tmp/runs; cat /tmp/runs | wc -l; sleep 1000')
check "restart" expect_eq "running 2" sh -c "${D[*]} restart -t 1 $c >/dev/null && echo \$(${D[*]} inspect -f '{{.State.Status}}' $c) \$(${D[*]} exec $c sh -c 'wc -l < /tmp/runs')"
"${D[@]}" rm -f "$c" >/dev/null 2>&1
check "nothing left: containers" expect_eq "0" sh -c "${D[*]} ps -aq | wc -l"
check "nothing left: shims" sh -c "for i in \$(seq 50); do pgrep -f '^/usr/bin/containerd-shim-runc-v2 .*-address $T/' >/dev/null || exit 0; sleep 0.1; done; exit 1"
summary
