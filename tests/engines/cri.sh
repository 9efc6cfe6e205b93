#!/usr/bin/env bash
# Kubernetes' CRI (runtime.v1) through containerd 1.6's built-in CRI plugin, whose default
# runtime handler is the runc shim v2 with BinaryName=RUNTIME: its own config, root, state,
# socket, CNI config (bridge + host-local, Debian's plugins in /usr/lib/cni) and a pause image
# (busybox's `sleep`) built offline with the busybox test image. The calls are made by
# cri_client.py, with Python classes generated at test time from cri/api.proto. The runtime
# keeps its state (--root) in the suite's temp dir too.
# Prints `cri-<rt>: N passed, N failed`.
#
#   tests/engines/cri.sh RUNTIME_BINARY [RESULTS_FILE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
RESULTS=${2:-/dev/null}
SUITE=cri
RT=$(basename "$BIN")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

T=$(mktemp -d /tmp/hezi-cri.XXXXXX)
ID=${T##*.}
CG=/hezi-cri-$ID                      # the pods' cgroup parent, in every v1 hierarchy
BR=hcri${ID:0:6}                      # the CNI bridge (at most 15 characters)
IMG=docker.io/library/busybox:latest
PAUSE=hezi.test/pause:1
PY=/usr/bin/python3                   # Debian's, with python3-grpcio and python3-protobuf
mkdir -p "$T/cni" "$T/py" "$T/r" "$T/logs"
cat >"$T/config.toml" <<TOML
version = 2
root = "$T/root"
state = "$T/state"
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[debug]
  address = "$T/d.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "hezi-test"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hezi-test]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hezi-test.options]
        BinaryName = "$BIN"
        Root = "$T/runtime"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$T/cni"
TOML
cat >"$T/cni/10-hezi.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "hezi-cri-$ID", "plugins": [
  {"type": "bridge", "bridge": "$BR", "ipam": {"type": "host-local",
    "ranges": [[{"subnet": "10.250.77.0/24"}]], "dataDir": "$T/ipam"}}]}
JSON
NETNS_DIR_NEW=0                       # containerd creates /run/netns for the pods' namespaces
[ -d /run/netns ] || NETNS_DIR_NEW=1
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CPID=$!

# cri METHOD [JSON]: the response as JSON on stdout.
cri() { CRI_PY="$T/py" "$PY" "$HERE/cri_client.py" "$T/c.sock" "$@"; }
# call NAME METHOD [JSON]: the response in $T/r/NAME (stderr in $T/r/NAME.err).
call() {
	local name=$1
	shift
	cri "$@" >"$T/r/$name" 2>"$T/r/$name.err"
}
# ok NAME JQ: the response NAME satisfies the jq expression (else shows it and its stderr).
ok() {
	[ -s "$T/r/$1" ] && jq -e "$2" "$T/r/$1" >/dev/null 2>&1 && return 0
	echo "response $1 fails $2:"
	cat "$T/r/$1" "$T/r/$1.err" 2>/dev/null | cut -c1-2000
	return 1
}
# get NAME JQ: one value out of the response NAME.
get() { jq -r "$2" "$T/r/$1" 2>/dev/null; }
# wait_state CONTAINER STATE: waits up to 10 s for ContainerStatus to report STATE.
wait_state() {
	for _ in $(seq 50); do
		[ "$(cri ContainerStatus "{\"container_id\": \"$1\"}" | jq -r .status.state)" = "$2" ] && return 0
		sleep 0.2
	done
	echo "container $1 is not $2"
	cri ContainerStatus "{\"container_id\": \"$1\"}"
	return 1
}
# logged CONTAINER LINE...: each LINE is a whole line of CONTAINER's stdout in its CRI log.
logged() {
	local c=$1 l
	shift
	for l in "$@"; do
		sed -n 's/^[^ ]* stdout [FP] //p' "$T/logs/$c.log" | tr -d '\r' | grep -qxF -e "$l" && continue
		echo "no line '$l' in $c's stdout:"
		cat "$T/logs/$c.log"
		return 1
	done
}
# stop_remove_pod POD: StopPodSandbox and RemovePodSandbox.
stop_remove_pod() {
	cri StopPodSandbox "{\"pod_sandbox_id\": \"$1\"}" && cri RemovePodSandbox "{\"pod_sandbox_id\": \"$1\"}"
}
# ctr_k8s ARGS...: ctr in the k8s.io namespace of this containerd.
ctr_k8s() { timeout 60 ctr -a "$T/c.sock" -n k8s.io "$@"; }

cleanup() {
	local p c
	for p in $(cri ListPodSandbox 2>/dev/null | jq -r '.items[].id' 2>/dev/null); do
		CRI_TIMEOUT=20 stop_remove_pod "$p" >/dev/null 2>&1
	done
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	# shims (and their containers) this containerd started, should any be left
	for p in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $T/c.sock"); do kill -9 "$p" 2>/dev/null; done
	grep " $T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	for c in /sys/fs/cgroup/*/"${CG#/}"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	ip link del "$BR" >/dev/null 2>&1
	[ "$NETNS_DIR_NEW" = 1 ] && rmdir /run/netns 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP

# The busybox image and a pause image (the same layer, `sleep` as its process) in one OCI
# archive, imported into the CRI plugin's namespace.
pause_image() {
	local L=$1 m cfg d size
	m=$(jq -r '.manifests[0].digest' "$L/index.json" | cut -d: -f2)
	cfg=$(jq -r '.config.digest' "$L/blobs/sha256/$m" | cut -d: -f2)
	jq -c '.config.Cmd = ["sleep", "2147483647"]' "$L/blobs/sha256/$cfg" >"$T/blob"
	d=$(sha256sum "$T/blob" | cut -d' ' -f1) size=$(stat -c %s "$T/blob")
	mv "$T/blob" "$L/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$size" '.config.digest = $d | .config.size = $s' \
		"$L/blobs/sha256/$m" >"$T/blob"
	d=$(sha256sum "$T/blob" | cut -d' ' -f1) size=$(stat -c %s "$T/blob")
	mv "$T/blob" "$L/blobs/sha256/$d"
	jq --arg d "sha256:$d" --argjson s "$size" --arg r "$PAUSE" \
		'.manifests += [.manifests[0] | .digest = $d | .size = $s
			| .annotations["org.opencontainers.image.ref.name"] = $r]' "$L/index.json" >"$T/blob"
	mv "$T/blob" "$L/index.json"
}
"$HERE/fixture-layout.sh" "$T/layout" "$IMG" >/dev/null || { echo "cri: no fixture layout"; exit 1; }
pause_image "$T/layout"
tar -C "$T/layout" -cf "$T/images.tar" .
protoc -I "$HERE/cri" --python_out="$T/py" "$HERE/cri/api.proto" || { echo "cri: protoc failed"; exit 1; }
for _ in $(seq 100); do CRI_TIMEOUT=2 cri Version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_k8s images import "$T/images.tar" >/dev/null || { echo "cri: cannot import the images"; exit 1; }

call version Version
check "Version" ok version '.runtime_name == "containerd" and .runtime_api_version == "v1"'
call images ListImages
check "ListImages: busybox and pause" ok images "[.images[].repo_tags[]] | index(\"$IMG\") != null and index(\"$PAUSE\") != null"
call status Status
check "Status: runtime and network ready" ok status '[.status.conditions[] | select(.status)] | length == 2'

POD_CONFIG=$(jq -n -c --arg cg "$CG" --arg logs "$T/logs" --arg uid "hezi-$ID" '{
	metadata: {name: "p1", uid: $uid, namespace: "hezi-test", attempt: 0},
	hostname: "p1", log_directory: $logs, labels: {suite: "hezi"},
	linux: {cgroup_parent: $cg, sysctls: {"net.ipv4.ping_group_range": "0 12345"},
		security_context: {namespace_options: {pid: "CONTAINER"}}}}')
call pod RunPodSandbox "{\"config\": $POD_CONFIG}"
POD=$(get pod .pod_sandbox_id)
check "RunPodSandbox" ok pod '.pod_sandbox_id | length == 64'
call podstatus PodSandboxStatus "{\"pod_sandbox_id\": \"$POD\", \"verbose\": true}"
check "PodSandboxStatus: ready, with an IP" ok podstatus \
	'.status.state == "SANDBOX_READY" and (.status.network.ip | startswith("10.250.77."))'
POD_IP=$(get podstatus .status.network.ip)

# container NAME JSON_CONFIG_FIELDS: creates a container in the pod, its ID on stdout.
container() {
	local cfg
	cfg=$(jq -n -c --arg name "$1" --arg img "$IMG" --argjson extra "$2" \
		'{metadata: {name: $name}, image: {image: $img}, log_path: ($name + ".log"),
		  linux: {security_context: {namespace_options: {pid: "CONTAINER"}}}} * $extra')
	cri CreateContainer "{\"pod_sandbox_id\": \"$POD\", \"config\": $cfg, \"sandbox_config\": $POD_CONFIG}" |
		jq -r .container_id
}

# A container that runs to its end: exit code and log.
C1=$(container c1 '{"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}')
check "CreateContainer" test -n "$C1"
check "StartContainer" cri StartContainer "{\"container_id\": \"$C1\"}"
check "ContainerStatus: exited" wait_state "$C1" CONTAINER_EXITED
call c1status ContainerStatus "{\"container_id\": \"$C1\"}"
check "ContainerStatus: exit code 3" ok c1status '.status.exit_code == 3 and .status.reason == "Error"'
check "container log" sh -c "grep -q ' stdout F out\$' $T/logs/c1.log && grep -q ' stderr F err\$' $T/logs/c1.log"

# A long-running container with a TERM handler, limits, in the pod's network namespace.
C2=$(container c2 '{"command": ["sh", "-c", "trap \"echo term; exit 0\" TERM; while :; do sleep 0.1; done"],
	"linux": {"resources": {"memory_limit_in_bytes": 67108864, "cpu_period": 100000, "cpu_quota": 200000,
		"oom_score_adj": 500}}}')
cri StartContainer "{\"container_id\": \"$C2\"}" >/dev/null
check "ContainerStatus: running" wait_state "$C2" CONTAINER_RUNNING
call exec1 ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"echo\", \"in\"], \"timeout\": 10}"
check "ExecSync: output" ok exec1 '.stdout == "in\n" and .exit_code == 0'
call exec2 ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"sh\", \"-c\", \"echo e >&2; exit 5\"], \"timeout\": 10}"
check "ExecSync: exit code and stderr" ok exec2 '.stderr == "e\n" and .exit_code == 5'
call exec3 ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"sh\", \"-c\", \"hostname; ip -o -4 addr show eth0\"], \"timeout\": 10}"
check "ExecSync: pod hostname and IP" ok exec3 ".stdout | startswith(\"p1\n\") and contains(\" $POD_IP/\")"
call exec4 ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"nosuchcmd\"], \"timeout\": 10}"
check "ExecSync: missing command fails" grep -q "ExecSync: UNKNOWN: .*nosuchcmd" "$T/r/exec4.err"
start=$(date +%s%N)
call exec5 ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"sleep\", \"30\"], \"timeout\": 1}"
ms=$((($(date +%s%N) - start) / 1000000))
check "ExecSync: timeout" sh -c "[ $ms -lt 10000 ] && grep -q DEADLINE_EXCEEDED $T/r/exec5.err || { echo '$ms ms'; cat $T/r/exec5.err; exit 1; }"
call exec6 Exec+stream "{\"container_id\": \"$C2\", \"cmd\": [\"sh\", \"-c\", \"echo o; echo e >&2; exit 3\"], \"stdout\": true, \"stderr\": true}"
check "Exec (stream): output and exit code" ok exec6 '.stdout == "o\n" and .stderr == "e\n" and .status.details.causes[0].message == "3"'
call exec7 Exec+stream "{\"container_id\": \"$C2\", \"cmd\": [\"sh\", \"-c\", \"tty; stty size\"], \"tty\": true, \"stdin\": true, \"stdout\": true}"
check "Exec (stream): tty" ok exec7 '(.stdout | test("^/dev/pts/[0-9]+\r?\n")) and .status.status == "Success"'

CRI_STDIN=$'hello\n' call exec8 Exec+stream "{\"container_id\": \"$C2\", \"cmd\": [\"sh\", \"-c\", \"read l; echo got \$l\"], \"stdin\": true, \"stdout\": true}"
check "Exec (stream): stdin" ok exec8 '.stdout == "got hello\n" and .status.status == "Success"'

call c2status ContainerStatus "{\"container_id\": \"$C2\", \"verbose\": true}"
CGPATH=$(get c2status '.info.info | fromjson | .runtimeSpec.linux.cgroupsPath')
check "cgroup under the pod's parent" sh -c "case '$CGPATH' in $CG/*) test -d /sys/fs/cgroup/memory$CGPATH ;; *) echo '$CGPATH'; exit 1 ;; esac"
check "memory limit in the cgroup" expect_eq 67108864 cat "/sys/fs/cgroup/memory$CGPATH/memory.limit_in_bytes"
check "UpdateContainerResources" cri UpdateContainerResources "{\"container_id\": \"$C2\",
	\"linux\": {\"memory_limit_in_bytes\": 100663296, \"cpu_period\": 100000, \"cpu_quota\": 50000, \"cpu_shares\": 512,
		\"cpuset_cpus\": \"0\", \"oom_score_adj\": 500}}"
check "updated memory limit in the cgroup" expect_eq 100663296 cat "/sys/fs/cgroup/memory$CGPATH/memory.limit_in_bytes"
check "updated cpu quota in the cgroup" expect_eq "50000 512" sh -c "echo \$(cat /sys/fs/cgroup/cpu$CGPATH/cpu.cfs_quota_us /sys/fs/cgroup/cpu$CGPATH/cpu.shares)"
check "updated cpuset in the cgroup" expect_eq 0 cat "/sys/fs/cgroup/cpuset$CGPATH/cpuset.cpus"
call oom ExecSync "{\"container_id\": \"$C2\", \"cmd\": [\"cat\", \"/proc/1/oom_score_adj\", \"/proc/self/oom_score_adj\"], \"timeout\": 10}"
check "oom_score_adj of the container and of an exec" ok oom '.stdout == "500\n500\n"'
call c2status2 ContainerStatus "{\"container_id\": \"$C2\"}"
check "ContainerStatus: updated resources" ok c2status2 '.status.resources.linux.memory_limit_in_bytes == "100663296" and .status.resources.linux.cpu_quota == "50000"'
call stats ContainerStats "{\"container_id\": \"$C2\"}"
check "ContainerStats" ok stats '(.stats.memory.working_set_bytes.value | tonumber) > 0 and (.stats.cpu.usage_core_nano_seconds.value | tonumber) > 0'
call lstats ListContainerStats "{\"filter\": {\"pod_sandbox_id\": \"$POD\"}}"
check "ListContainerStats" ok lstats "[.stats[] | select(.attributes.id == \"$C2\") | .memory.working_set_bytes.value | tonumber] | length == 1 and .[0] > 0"
call list ListContainers "{\"filter\": {\"pod_sandbox_id\": \"$POD\"}}"
check "ListContainers" ok list "[.containers[] | .id + \" \" + .state] | sort == ([\"$C1 CONTAINER_EXITED\", \"$C2 CONTAINER_RUNNING\"] | sort)"
call listrun ListContainers '{"filter": {"state": {"state": "CONTAINER_RUNNING"}}}'
check "ListContainers: running" ok listrun "[.containers[].id] == [\"$C2\"]"
call pods ListPodSandbox '{"filter": {"label_selector": {"suite": "hezi"}}}'
check "ListPodSandbox" ok pods "[.items[] | .id + \" \" + .state] == [\"$POD SANDBOX_READY\"]"

start=$(date +%s%N)
check "StopContainer: TERM handler" cri StopContainer "{\"container_id\": \"$C2\", \"timeout\": 10}"
check "StopContainer: TERM handler is quick" test $((($(date +%s%N) - start) / 1000000)) -lt 5000
call c2status3 ContainerStatus "{\"container_id\": \"$C2\"}"
check "StopContainer: exit code 0" ok c2status3 '.status.state == "CONTAINER_EXITED" and .status.exit_code == 0'
check "StopContainer: the handler ran" grep -q ' stdout F term$' "$T/logs/c2.log"

# PID 1 without a TERM handler ignores TERM: StopContainer kills it after the timeout.
C3=$(container c3 '{"command": ["sleep", "1000"]}')
cri StartContainer "{\"container_id\": \"$C3\"}" >/dev/null
wait_state "$C3" CONTAINER_RUNNING >/dev/null
start=$(date +%s%N)
check "StopContainer: timeout" cri StopContainer "{\"container_id\": \"$C3\", \"timeout\": 2}"
ms=$((($(date +%s%N) - start) / 1000000))
check "StopContainer: killed after the timeout" sh -c "[ $ms -ge 1900 ] && [ $ms -lt 8000 ] || { echo '$ms ms'; exit 1; }"
call c3status ContainerStatus "{\"container_id\": \"$C3\"}"
check "StopContainer: exit code 137" ok c3status '.status.exit_code == 137'

# A container over its memory limit is OOM-killed. (It waits a little first: the shim watches
# the cgroup's OOM events only once the container has started.)
C4=$(container c4 '{"command": ["sh", "-c", "sleep 0.5; x=0123456789; while :; do x=$x$x; done"],
	"linux": {"resources": {"memory_limit_in_bytes": 16777216}}}')
cri StartContainer "{\"container_id\": \"$C4\"}" >/dev/null
check "OOM: exited" wait_state "$C4" CONTAINER_EXITED
call c4status ContainerStatus "{\"container_id\": \"$C4\"}"
check "OOM: reason OOMKilled" ok c4status '.status.reason == "OOMKilled" and .status.exit_code == 137'

# A non-root user and a read-only rootfs.
C5=$(container c5 '{"command": ["sh", "-c", "id -u; touch /x 2>/dev/null && echo rw || echo ro"],
	"linux": {"security_context": {"run_as_user": {"value": 1000}, "readonly_rootfs": true}}}')
cri StartContainer "{\"container_id\": \"$C5\"}" >/dev/null
wait_state "$C5" CONTAINER_EXITED >/dev/null
check "run_as_user and readonly_rootfs" logged c5 1000 ro

# Environment, working directory, a read-only bind mount, a device, the default seccomp
# profile, no capabilities, a pod sysctl.
mkdir "$T/data" && echo data >"$T/data/f"
C6=$(container c6 "$(jq -n -c --arg data "$T/data" '{
	command: ["sh", "-c", "cat /data/f; echo $FOO; pwd; touch /data/g 2>/dev/null && echo data-rw || echo data-ro; ls -l /dev/xnull | cut -c1; grep -E \"^(Seccomp|CapEff):\" /proc/self/status | tr -s \"\\t\" \" \"; cat /proc/sys/net/ipv4/ping_group_range | tr -s \"\\t\" \" \""],
	envs: [{key: "FOO", value: "bar"}], working_dir: "/tmp",
	mounts: [{container_path: "/data", host_path: $data, readonly: true}],
	devices: [{container_path: "/dev/xnull", host_path: "/dev/null", permissions: "rwm"}],
	linux: {security_context: {seccomp: {profile_type: "RuntimeDefault"}, capabilities: {drop_capabilities: ["ALL"]}}}}')")
cri StartContainer "{\"container_id\": \"$C6\"}" >/dev/null
wait_state "$C6" CONTAINER_EXITED >/dev/null
check "env and working_dir" logged c6 bar /tmp
check "read-only bind mount" logged c6 data data-ro
check "device" logged c6 c
check "seccomp RuntimeDefault" logged c6 "Seccomp: 2"
check "capabilities dropped" logged c6 "CapEff: 0000000000000000"
check "pod sysctl" logged c6 "0 12345"

# A command that does not exist fails StartContainer; a missing working_dir is created.
C10=$(container c10 '{"command": ["/no/such/cmd"]}')
call start10 StartContainer "{\"container_id\": \"$C10\"}"
check "StartContainer: missing command fails" grep -q "StartContainer: UNKNOWN: .*/no/such/cmd" "$T/r/start10.err"
call c10status ContainerStatus "{\"container_id\": \"$C10\"}"
check "ContainerStatus: StartError" ok c10status '.status.state == "CONTAINER_EXITED" and .status.reason == "StartError" and .status.exit_code == 128'
C11=$(container c11 '{"command": ["pwd"], "working_dir": "/new/dir"}')
cri StartContainer "{\"container_id\": \"$C11\"}" >/dev/null
wait_state "$C11" CONTAINER_EXITED >/dev/null
check "missing working_dir created" logged c11 /new/dir

# A container with a terminal, and one reading its stdin, attached to.
C8=$(container c8 '{"command": ["sh", "-c", "tty; stty size"], "tty": true}')
cri StartContainer "{\"container_id\": \"$C8\"}" >/dev/null
wait_state "$C8" CONTAINER_EXITED >/dev/null
check "container with a tty" logged c8 /dev/pts/0
C9=$(container c9 '{"command": ["sh", "-c", "read l; echo got $l"], "stdin": true, "stdin_once": true}')
cri StartContainer "{\"container_id\": \"$C9\"}" >/dev/null
wait_state "$C9" CONTAINER_RUNNING >/dev/null
CRI_STDIN=$'attached\n' call attach Attach+stream "{\"container_id\": \"$C9\", \"stdin\": true, \"stdout\": true, \"stderr\": true}"
check "Attach: stdin and stdout" ok attach '.stdout == "got attached\n"'
check "Attach: exit" wait_state "$C9" CONTAINER_EXITED

# A second pod: host network, one pid namespace for the pod (its pause process is visible),
# privileged.
POD2_CONFIG=$(jq -n -c --arg cg "$CG" --arg logs "$T/logs" --arg uid "hezi2-$ID" '{
	metadata: {name: "p2", uid: $uid, namespace: "hezi-test", attempt: 0},
	log_directory: $logs, labels: {suite: "hezi"},
	linux: {cgroup_parent: $cg, security_context: {privileged: true,
		namespace_options: {network: "NODE", pid: "POD"}}}}')
call pod2 RunPodSandbox "{\"config\": $POD2_CONFIG}"
POD2=$(get pod2 .pod_sandbox_id)
check "RunPodSandbox: host network, shared pid namespace, privileged" ok pod2 '.pod_sandbox_id | length == 64'
cfg=$(jq -n -c --arg img "$IMG" '{metadata: {name: "c7"}, image: {image: $img}, log_path: "c7.log",
	command: ["sh", "-c", "cat /sys/class/net/eth0/address; ps -o args | grep -x \"sleep 2147483647\"; grep -E \"^(Seccomp|CapEff):\" /proc/self/status | tr -s \"\\t\" \" \"; ls /dev/loop-control"],
	linux: {security_context: {privileged: true, namespace_options: {network: "NODE", pid: "POD"}}}}')
C7=$(cri CreateContainer "{\"pod_sandbox_id\": \"$POD2\", \"config\": $cfg, \"sandbox_config\": $POD2_CONFIG}" | jq -r .container_id)
cri StartContainer "{\"container_id\": \"$C7\"}" >/dev/null
wait_state "$C7" CONTAINER_EXITED >/dev/null
check "host network" logged c7 "$(cat /sys/class/net/eth0/address)"
check "pod pid namespace: the pause process" logged c7 "sleep 2147483647"
check "privileged: capabilities, no seccomp, host devices" logged c7 \
	"$(grep CapEff: /proc/self/status | tr -s '\t' ' ')" "Seccomp: 0" /dev/loop-control
cri RemoveContainer "{\"container_id\": \"$C7\"}" >/dev/null
check "StopPodSandbox, RemovePodSandbox: host network" stop_remove_pod "$POD2"

for c in "$C1" "$C2" "$C3" "$C4" "$C5" "$C6" "$C8" "$C9" "$C10" "$C11"; do
	cri RemoveContainer "{\"container_id\": \"$c\"}" >"$T/r/rm" 2>&1 || cat "$T/r/rm"
done
call list2 ListContainers '{}'
check "RemoveContainer" ok list2 '.containers == []'
NETNS=$(get podstatus '.info.info // "{}" | fromjson | .runtimeSpec.linux.namespaces[]? | select(.type == "network") | .path')
check "StopPodSandbox" cri StopPodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
call podstatus2 PodSandboxStatus "{\"pod_sandbox_id\": \"$POD\"}"
check "PodSandboxStatus: not ready" ok podstatus2 '.status.state == "SANDBOX_NOTREADY"'
check "RemovePodSandbox" cri RemovePodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
call pods2 ListPodSandbox '{}'
check "ListPodSandbox: empty" ok pods2 '.items == []'
check "nothing left: shims" expect_eq 0 sh -c "pgrep -f 'containerd-shim-runc-v[2] -namespace k8s.io .*-address $T/c.sock' | wc -l"
check "nothing left: runtime state" expect_eq "" ls -A "$T/runtime/k8s.io"
check "nothing left: mounts" expect_eq 0 sh -c "grep -c ' $T' /proc/self/mountinfo"
check "nothing left: cgroups" expect_eq 0 sh -c "find /sys/fs/cgroup/*/${CG#/} -mindepth 1 -type d 2>/dev/null | wc -l"
check "nothing left: the pod's netns" sh -c "[ -n '$NETNS' ] && [ ! -e '$NETNS' ]"
summary
