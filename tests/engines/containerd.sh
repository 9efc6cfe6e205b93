#!/usr/bin/env bash
# containerd (Debian 1.6) with the runc shim v2 running RUNTIME (ctr's --runc-binary, the
# shim's BinaryName): its own config, root, state and sockets; the busybox image imported
# from an OCI archive the suite builds offline. Prints `containerd-<rt>: N passed, N failed`.
#
#   tests/engines/containerd.sh RUNTIME_BINARY [RESULTS_FILE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1
RESULTS=${2:-/dev/null}
SUITE=containerd
RT=$(basename "$BIN")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

T=$(mktemp -d /tmp/hezi-containerd.XXXXXX)
cat >"$T/config.toml" <<TOML
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[debug]
  address = "$T/d.sock"
TOML
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CPID=$!
# The namespace names the containers' cgroup parent (/NS/<id>): one per run, removed at the end.
NS=hezi-test-$$
C=(timeout 60 ctr -a "$T/c.sock" -n "$NS")
IMG=busybox:latest
RUN=(run --runc-binary "$BIN")

cleanup() {
	for t in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks kill -s KILL "$t" >/dev/null 2>&1; done
	sleep 0.3
	for t in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks rm -f "$t" >/dev/null 2>&1; done
	for c in $("${C[@]}" containers ls -q 2>/dev/null); do "${C[@]}" containers rm "$c" >/dev/null 2>&1; done
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	pkill -f "containerd-shim-runc-v2 -namespace $NS -address $T" 2>/dev/null
	for d in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

for _ in $(seq 50); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
"$HERE/fixture-layout.sh" "$T/layout" >/dev/null || { echo "containerd: no fixture layout"; exit 1; }
tar -C "$T/layout" -cf "$T/image.tar" .
"${C[@]}" images import "$T/image.tar" >/dev/null || { echo "containerd: cannot import the image"; exit 1; }

check "ctr run" expect_eq "hi" "${C[@]}" "${RUN[@]}" --rm "$IMG" r1 echo hi
check "ctr run exit code" expect_code 3 "${C[@]}" "${RUN[@]}" --rm "$IMG" r2 sh -c 'exit 3'
check "ctr run -t" expect_eq "/dev/pts/0" "$HERE/pty-run.py" "${C[@]}" "${RUN[@]}" --rm -t "$IMG" r3 tty
check "loopback up by default" expect_eq "0x9" "${C[@]}" "${RUN[@]}" --rm "$IMG" r4 cat /sys/class/net/lo/flags

# A long-running task for exec, ps, pause, metrics and kill.
"${C[@]}" "${RUN[@]}" -d "$IMG" long sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
check "task is running" sh -c "${C[*]} tasks ls | grep -q 'long .*RUNNING'"
check "task exec" expect_eq "in" "${C[@]}" tasks exec --exec-id e1 long echo in
check "task exec exit code" expect_code 4 "${C[@]}" tasks exec --exec-id e2 long sh -c 'exit 4'
# ctr may also print a resize race ("cannot resize a stopped container") on the same tty.
check "task exec -t" sh -c "$HERE/pty-run.py ${C[*]} tasks exec -t --exec-id e3 long tty | grep -qx /dev/pts/0"
check "task ps" sh -c "${C[*]} tasks ps long | grep -q '^[0-9]'"
check "task pause" sh -c "${C[*]} tasks pause long && ${C[*]} tasks ls | grep -q 'long .*PAUSED'"
check "task resume" sh -c "${C[*]} tasks resume long && ${C[*]} tasks ls | grep -q 'long .*RUNNING'"
check "task metrics" sh -c "${C[*]} tasks metrics long | grep -qi 'memory'"
check "task kill TERM" sh -c "${C[*]} tasks kill -s TERM long && for i in \$(seq 50); do ${C[*]} tasks ls | grep -q 'long .*STOPPED' && exit 0; sleep 0.1; done; exit 1"
check "task delete" sh -c "${C[*]} tasks rm long >/dev/null && ${C[*]} containers rm long"

"${C[@]}" "${RUN[@]}" -d "$IMG" hard sleep 1000 >/dev/null
check "task kill KILL" sh -c "${C[*]} tasks kill -s KILL hard && for i in \$(seq 50); do ${C[*]} tasks ls | grep -q 'hard .*STOPPED' && exit 0; sleep 0.1; done; exit 1"
"${C[@]}" tasks rm hard >/dev/null 2>&1; "${C[@]}" containers rm hard >/dev/null 2>&1

"${C[@]}" "${RUN[@]}" -d "$IMG" all sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null
"${C[@]}" tasks exec -d --exec-id x1 all sleep 1000 >/dev/null 2>&1
check "task kill --all" sh -c "${C[*]} tasks kill -a -s KILL all && for i in \$(seq 50); do ${C[*]} tasks ls | grep -q 'all .*STOPPED' && exit 0; sleep 0.1; done; exit 1"
"${C[@]}" tasks rm all >/dev/null 2>&1; "${C[@]}" containers rm all >/dev/null 2>&1
check "nothing left: tasks" expect_eq "0" sh -c "${C[*]} tasks ls -q | wc -l"
summary
