#!/usr/bin/env bash
# podman (Debian 4.3 + conmon), rootful, cgroupfs manager, with RUNTIME as its OCI runtime.
# Private storage, run root and tmp dir; the busybox image comes from an OCI layout the suite
# builds offline. Prints `podman-<rt>: N passed, N failed`.
#
#   tests/engines/podman.sh RUNTIME_BINARY [RESULTS_FILE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
RESULTS=${2:-/dev/null}
SUITE=podman
RT=$(basename "$BIN")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

T=$(mktemp -d /tmp/hezi-podman.XXXXXX)
# conmon writes an `oom` marker into its working directory: keep it in ours.
cd "$T"
P=(timeout 120 podman --root "$T/storage" --runroot "$T/run" --tmpdir "$T/tmp"
	--cgroup-manager cgroupfs --events-backend file --runtime "$BIN")
# The sandboxes this runs in may lack CAP_SYS_RESOURCE, so podman's default raise of
# nofile/nproc to 1048576 fails for every runtime; pin them.
U=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
IMG=localhost/busybox:latest
R=("${P[@]}" run --rm "${U[@]}" --network none)

# podman's cgroupfs parent (libpod_parent, with conmon's cgroup) is shared by every rootful
# podman here: removed at the end (if empty) only when this suite made it.
[ -d /sys/fs/cgroup/memory/libpod_parent ] || [ -d /sys/fs/cgroup/libpod_parent ] || OWN_LIBPOD_PARENT=1

cleanup() {
	"${P[@]}" rm -af -t 0 >/dev/null 2>&1
	if [ -n "${OWN_LIBPOD_PARENT:-}" ]; then
		for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
			[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	fi
	"${P[@]}" system reset -f >/dev/null 2>&1 || true
	grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# podman names an oci: image after its path, which must then be a valid (lower-case) name.
L=/tmp/hezi-podman-layout-$$
"$HERE/fixture-layout.sh" "$L" >/dev/null || { echo "podman: no fixture layout"; exit 1; }
id=$("${P[@]}" pull -q "oci:$L:busybox:latest" 2>/dev/null | tail -n 1)
rm -rf "$L"
"${P[@]}" tag "$id" "$IMG" >/dev/null || { echo "podman: cannot load the image"; exit 1; }

check "run attached" expect_eq "hi" "${R[@]}" "$IMG" echo hi
check "exit code 1" expect_code 1 "${R[@]}" "$IMG" sh -c 'exit 1'
check "exit code 127 (missing binary)" expect_code 127 "${R[@]}" "$IMG" /nonexistent
check "exit code 126 (not executable)" expect_code 126 "${R[@]}" "$IMG" /etc/passwd
# Not the container's pid 1: signals without a handler do not kill an init.
check "exit code 128+TERM" expect_code 143 "${R[@]}" "$IMG" sh -c 'sleep 30 & kill -TERM $!; wait $!; exit $?'
check "--rm leaves no container" expect_eq "0" sh -c "${P[*]} ps -aq | wc -l"
check "--user 1000:1000" expect_eq "1000:1000" "${R[@]}" --user 1000:1000 "$IMG" sh -c 'echo $(id -u):$(id -g)'
check "--read-only" expect_eq "ro" "${R[@]}" --read-only "$IMG" sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
check "--cap-drop ALL" expect_eq "denied" "${R[@]}" --cap-drop ALL "$IMG" sh -c 'chown 1 /tmp 2>/dev/null && echo allowed || echo denied'
check "--privileged" expect_eq "ok" "${R[@]}" --privileged "$IMG" sh -c 'test "$(ls /dev | wc -l)" -gt 30 && grep -q "CapEff:.*ffffff" /proc/self/status && echo ok'
if [ -e /dev/fuse ]; then
	check "--device /dev/fuse" expect_eq "c" "${R[@]}" --device /dev/fuse "$IMG" sh -c 'test -c /dev/fuse && echo c'
fi
check "--network=none loopback TCP" expect_eq "ping" "${R[@]}" "$IMG" sh -c \
	'(nc -l -p 7777 > /tmp/got &); i=0; until echo ping | nc 127.0.0.1 7777 2>/dev/null || [ $i -ge 50 ]; do i=$((i+1)); sleep 0.1; done; j=0; while [ ! -s /tmp/got ] && [ $j -lt 50 ]; do j=$((j+1)); sleep 0.1; done; cat /tmp/got'
check "default seccomp filter" expect_eq "2" "${R[@]}" "$IMG" sh -c 'awk "/^Seccomp:/ {print \$2}" /proc/self/status'
check "seccomp=unconfined" expect_eq "ok" "${R[@]}" --security-opt seccomp=unconfined "$IMG" sh -c 'grep -q "Seccomp:.*0" /proc/self/status && echo ok'
check "--memory 32m OOM kill" expect_code 137 "${R[@]}" --memory 32m --memory-swap 32m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
check "--pids-limit 10" sh -c "${R[*]} --pids-limit 10 $IMG sh -c 'i=0; while [ \$i -lt 30 ]; do sleep 5 & i=\$((i+1)); done' 2>&1 | grep -q \"can't fork\""
if command -v catatonit >/dev/null || [ -x /usr/libexec/podman/catatonit ]; then
	check "--init" expect_eq "ok" "${R[@]}" --init "$IMG" sh -c 'test "$(cat /proc/1/comm)" != sh && echo ok'
fi
check "-it under a pty" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${R[@]}" -it "$IMG" tty

# A long-running container for exec, logs, top, stats, pause, update, stop, kill.
c=$("${P[@]}" run -d "${U[@]}" --network none "$IMG" sh -c 'echo started; trap "exit 0" TERM; while :; do sleep 0.1; done')
check "detached run is running" expect_eq "running" "${P[@]}" inspect -f '{{.State.Status}}' "$c"
check "exec" expect_eq "in" "${P[@]}" exec "$c" echo in
check "exec exit code" expect_code 3 "${P[@]}" exec "$c" sh -c 'exit 3'
check "exec missing binary 127" expect_code 127 "${P[@]}" exec "$c" /nonexistent
check "exec -it" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${P[@]}" exec -it "$c" tty
check "logs" expect_eq "started" "${P[@]}" logs "$c"
check "top" sh -c "${P[*]} top $c | grep -q sleep"
check "stats" sh -c "${P[*]} stats --no-stream --format '{{.MemUsage}}' $c | grep -q B"
check "pause" expect_eq "paused" sh -c "${P[*]} pause $c >/dev/null && ${P[*]} inspect -f '{{.State.Status}}' $c"
check "unpause" expect_eq "running" sh -c "${P[*]} unpause $c >/dev/null && ${P[*]} inspect -f '{{.State.Status}}' $c"
check "update --memory" sh -c "${P[*]} update --memory 64m $c >/dev/null && ${P[*]} exec $c sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null' | grep -q 67108864"
check "stop with a TERM handler" expect_eq "0" sh -c "${P[*]} stop -t 10 $c >/dev/null && ${P[*]} inspect -f '{{.State.ExitCode}}' $c"
"${P[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${P[@]}" run -d "${U[@]}" --network none "$IMG" sleep 1000)
check "stop without a handler (timeout, KILL)" expect_eq "137" sh -c "${P[*]} stop -t 1 $c >/dev/null && ${P[*]} inspect -f '{{.State.ExitCode}}' $c"
"${P[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${P[@]}" run -d "${U[@]}" --network none "$IMG" sleep 1000)
check "kill" expect_eq "137" sh -c "${P[*]} kill $c >/dev/null && ${P[*]} wait $c"
"${P[@]}" rm -f "$c" >/dev/null 2>&1
c=$("${P[@]}" run -d "${U[@]}" --network none --health-cmd 'true' --health-interval 0 "$IMG" sleep 1000)
check "healthcheck" sh -c "${P[*]} healthcheck run $c"
"${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
check "--timeout 2" sh -c "start=\$(date +%s); ${R[*]} --timeout 2 $IMG sleep 60; end=\$(date +%s); [ \$((end - start)) -lt 20 ]"
check "20 parallel runs" sh -c "for i in \$(seq 20); do ${R[*]} $IMG true & done; fail=0; for j in \$(jobs -p); do wait \$j || fail=1; done; [ \$fail = 0 ]"
check "nothing left: containers" expect_eq "0" sh -c "${P[*]} ps -aq | wc -l"
check "nothing left: conmon" sh -c "! pgrep -f '^/usr/bin/conmon.*$T' >/dev/null"
summary
