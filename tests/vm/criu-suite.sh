#!/usr/bin/env bash
# Checkpoint/restore suite; runs INSIDE the VM (Debian's 6.1 kernel, on which Debian's
# criu works; on the 6.18 development host criu fails on the vDSO), on pure v2 and on the
# hybrid layout (v1 controllers: the container's cgroup mounts are external binds):
#
#   cargo build -p hezi
#   scripts/vm/run.sh --timeout 900 -- bash "$PWD/tests/vm/criu-suite.sh"
#   scripts/vm/run.sh --init systemd --cgroup hybrid --timeout 900 -- bash "$PWD/tests/vm/criu-suite.sh"
#
# Every case runs with hezi and with Debian's runc on the same kind of bundle (a busybox
# counter that writes "<its pid> <count>" to /cnt in its rootfs every 0.1 s, by rename so a
# reader never sees a torn file), so a failure
# of either is visible side by side:
#   - checkpoint stops the container; restore resumes the count where it was, as pid 1 of
#     its pid namespace, in the new container's cgroup (`ps` lists it), `delete` cleans up
#   - --leave-running keeps the container counting; the images restore under another id
#     from a copy of the bundle
#   - --pre-dump then a dump with --parent-path
#   - a paused container checkpointed, restored running
#   - a terminal container (the master reaches --console-socket again on restore)
#   - runc's images restored by hezi
#   - bad input: a missing image dir, a stopped container, a bad --manage-cgroups-mode: a
#     clear error, nothing left behind
# Prints PASS/FAIL per check and exits non-zero if any failed. HEZI_BIN overrides hezi.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/lib.sh
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || {
	echo "needs root (run me through scripts/vm/run.sh)"
	exit 1
}
if ! criu check >/tmp/criu-check.log 2>&1; then
	fail "criu check passes in the VM" "$(tail -3 /tmp/criu-check.log)"
	summary "criu suite"
	exit 1
fi
pass "criu check passes in the VM ($(criu --version | head -1))"

WORK=$(mktemp -d /tmp/criu-suite.XXXXXX)
HEZI=$WORK/hezi
cp "${HEZI_BIN:-$TARGET/debug/hezi}" "$HEZI" || {
	fail "find the hezi binary" "cargo build -p hezi on the host"
	summary "criu suite"
	exit 1
}
RUNC=$(command -v runc || true)

# Every container of every runtime under one state root per runtime; deleted at exit.
cleanup() {
	local rt r id
	for rt in "$HEZI" $RUNC; do
		r=$(root_of "$rt")
		for id in $("$rt" --root "$r" list -q 2>/dev/null); do
			"$rt" --root "$r" delete -f "$id" >/dev/null 2>&1
		done
	done
	pkill -f "$WORK/" 2>/dev/null
	# Deepest first; only cgroups this suite's containers left (see RUNC_LEFT below).
	for d in $(echo "${RUNC_LEFT:-}" | tr ' ' '\n' | sort -r); do rmdir "$d" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
root_of() { echo "$WORK/state-$(basename "$1")"; }
name_of() { basename "$1"; }

# bundle DIR [terminal]: a busybox counter bundle written by the runtime under test's spec.
bundle() {
	local dir=$1 terminal=${2:-false}
	mkdir -p "$dir/rootfs/bin"
	cp /bin/busybox "$dir/rootfs/bin/"
	for c in sh sleep cat mv; do ln -sf busybox "$dir/rootfs/bin/$c"; done
	(cd "$dir" && "$HEZI" spec)
	python3 - "$dir/config.json" "$terminal" <<'EOF'
import json, sys
path, terminal = sys.argv[1], sys.argv[2] == "true"
c = json.load(open(path))
c["process"]["terminal"] = terminal
c["process"]["args"] = ["sh", "-c",
    'i=0; while :; do i=$((i+1)); echo "$$ $i" > /cnt.new; mv /cnt.new /cnt; sleep 0.1; done']
c["root"]["readonly"] = False
json.dump(c, open(path, "w"))
EOF
}

count() { cut -d' ' -f2 "$1/rootfs/cnt" 2>/dev/null; }
inner_pid() { cut -d' ' -f1 "$1/rootfs/cnt" 2>/dev/null; }

# Runs RUNTIME ARGS with stdio on pipes (CRIU cannot dump a host file the container
# cannot see; pipes are handed back on restore through descriptors.json, as with runc).
# The runtime's stderr ends up in $WORK/err (the container keeps writing to the pipe).
with_pipes() {
	local rc
	"$@" < <(sleep 3600) > >(cat >/dev/null) 2> >(cat >"$WORK/err")
	rc=$?
	sleep 0.2
	return $rc
}

# started RT ID BUNDLE: run -d and wait for the first count.
started() {
	with_pipes "$1" --root "$(root_of "$1")" run -d --bundle "$3" "$2" || return 1
	for _ in $(seq 50); do
		[ -n "$(count "$3")" ] && return 0
		sleep 0.1
	done
	return 1
}

status_of() { "$1" --root "$(root_of "$1")" state "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }

# advances BUNDLE: the count grows within 2 s.
advances() {
	local a b
	a=$(count "$1")
	for _ in $(seq 20); do
		sleep 0.1
		b=$(count "$1")
		[ -n "$b" ] && [ -n "$a" ] && [ "$b" -gt "$a" ] && return 0
	done
	return 1
}

# --- the basic cycle --------------------------------------------------------------------
basic() {
	local rt=$1 n b img r at before after
	n=$(name_of "$rt")
	b=$WORK/basic-$n
	img=$WORK/img-basic-$n
	r=$(root_of "$rt")
	bundle "$b"
	if ! started "$rt" c1 "$b"; then
		fail "$n: run a counter container" "$(cat "$WORK/err")"
		return
	fi
	sleep 0.5
	if ! "$rt" --root "$r" checkpoint --image-path "$img" c1 2>"$WORK/err"; then
		fail "$n: checkpoint" "$(cat "$WORK/err"; grep Error "$img/dump.log" | tail -3)"
		return
	fi
	at=$(count "$b")
	sleep 0.5
	if [ -n "$at" ] && [ "$(count "$b")" = "$at" ] && [ -z "$("$rt" --root "$r" list -q)" ]; then
		pass "$n: checkpoint stops the container and removes it (count stays $at)"
	else
		fail "$n: checkpoint stops the container" "count $at -> $(count "$b"), list: $("$rt" --root "$r" list -q | tr '\n' ' ')"
	fi
	if ! with_pipes "$rt" --root "$r" restore -d --image-path "$img" --bundle "$b" c1; then
		fail "$n: restore" "$(cat "$WORK/err"; grep Error "$img/restore.log" | tail -3)"
		return
	fi
	before=$(count "$b")
	if advances "$b" && [ "$before" -ge "$at" ] && [ "$before" -lt $((at + 10)) ]; then
		pass "$n: restored counter continues from $at (not from 0)"
	else
		fail "$n: restored counter continues" "at dump $at, after restore $before then $(count "$b")"
	fi
	if [ "$(inner_pid "$b")" = 1 ]; then
		pass "$n: restored process is still pid 1 in its pid namespace"
	else
		fail "$n: restored process is still pid 1 in its pid namespace" "$(cat "$b/rootfs/cnt")"
	fi
	if [ "$(status_of "$rt" c1)" = running ]; then
		pass "$n: state says running after restore"
	else
		fail "$n: state says running after restore" "$(status_of "$rt" c1)"
	fi
	after=$("$rt" --root "$r" ps c1 2>&1 | grep -c 'while')
	if [ "$after" -ge 1 ]; then
		pass "$n: ps lists the restored process"
	else
		fail "$n: ps lists the restored process" "$("$rt" --root "$r" ps c1 2>&1)"
	fi
	if "$rt" --root "$r" delete -f c1 && [ -z "$("$rt" --root "$r" list -q)" ]; then
		pass "$n: delete -f removes the restored container"
	else
		fail "$n: delete -f removes the restored container"
	fi
}

# --- --leave-running, restore under another id from a copy -----------------------------
leave_running() {
	local rt=$1 n b b2 img r at
	n=$(name_of "$rt")
	b=$WORK/leave-$n
	img=$WORK/img-leave-$n
	r=$(root_of "$rt")
	bundle "$b"
	started "$rt" lr "$b" || {
		fail "$n: run for --leave-running" "$(cat "$WORK/err")"
		return
	}
	if "$rt" --root "$r" checkpoint --leave-running --image-path "$img" lr 2>"$WORK/err" &&
		[ "$(status_of "$rt" lr)" = running ] && advances "$b"; then
		pass "$n: checkpoint --leave-running keeps the container running"
	else
		fail "$n: checkpoint --leave-running" "$(cat "$WORK/err") status $(status_of "$rt" lr)"
		return
	fi
	"$rt" --root "$r" delete -f lr
	at=$(count "$b")
	b2=$WORK/leave2-$n
	mkdir -p "$b2"
	cp -a "$b/rootfs" "$b/config.json" "$b2/"
	if with_pipes "$rt" --root "$r" restore -d --image-path "$img" --bundle "$b2" other-id &&
		advances "$b2" && [ "$(status_of "$rt" other-id)" = running ]; then
		pass "$n: restore under another id from a copy of the bundle (count $at -> $(count "$b2"))"
	else
		fail "$n: restore under another id" "$(cat "$WORK/err"; grep Error "$img/restore.log" | tail -3)"
	fi
	"$rt" --root "$r" delete -f other-id 2>/dev/null
}

# --- pre-dump + dump --------------------------------------------------------------------
pre_dump() {
	local rt=$1 n b img r
	n=$(name_of "$rt")
	b=$WORK/pre-$n
	img=$WORK/img-pre-$n
	r=$(root_of "$rt")
	bundle "$b"
	started "$rt" pd "$b" || {
		fail "$n: run for pre-dump" "$(cat "$WORK/err")"
		return
	}
	if ! "$rt" --root "$r" checkpoint --pre-dump --image-path "$img/pre" pd 2>"$WORK/err"; then
		fail "$n: checkpoint --pre-dump" "$(cat "$WORK/err"; grep Error "$img/pre/"*.log | tail -3)"
		"$rt" --root "$r" delete -f pd
		return
	fi
	if [ "$(status_of "$rt" pd)" = running ] && advances "$b"; then
		pass "$n: --pre-dump leaves the container running"
	else
		fail "$n: --pre-dump leaves the container running"
	fi
	if "$rt" --root "$r" checkpoint --parent-path ../pre --image-path "$img/full" pd 2>"$WORK/err" &&
		[ -L "$img/full/parent" ]; then
		pass "$n: dump with --parent-path ../pre links to the pre-dump"
	else
		fail "$n: dump with --parent-path" "$(cat "$WORK/err"; grep Error "$img/full/dump.log" | tail -3)"
		"$rt" --root "$r" delete -f pd
		return
	fi
	if with_pipes "$rt" --root "$r" restore -d --image-path "$img/full" --bundle "$b" pd && advances "$b"; then
		pass "$n: restore of an incremental dump"
	else
		fail "$n: restore of an incremental dump" "$(cat "$WORK/err"; grep Error "$img/full/restore.log" | tail -3)"
	fi
	"$rt" --root "$r" delete -f pd 2>/dev/null
}

# --- a paused container -----------------------------------------------------------------
paused() {
	local rt=$1 n b img r
	n=$(name_of "$rt")
	b=$WORK/paused-$n
	img=$WORK/img-paused-$n
	r=$(root_of "$rt")
	bundle "$b"
	started "$rt" pz "$b" || {
		fail "$n: run for pause" "$(cat "$WORK/err")"
		return
	}
	"$rt" --root "$r" pause pz
	if ! "$rt" --root "$r" checkpoint --image-path "$img" pz 2>"$WORK/err"; then
		fail "$n: checkpoint of a paused container" "$(cat "$WORK/err"; grep Error "$img/dump.log" | tail -3)"
		"$rt" --root "$r" delete -f pz
		return
	fi
	if with_pipes "$rt" --root "$r" restore -d --image-path "$img" --bundle "$b" pz && advances "$b" &&
		[ "$(status_of "$rt" pz)" = running ]; then
		pass "$n: a paused container checkpointed is restored running"
	else
		fail "$n: paused container restored running" "$(cat "$WORK/err"; grep Error "$img/restore.log" | tail -3) status $(status_of "$rt" pz)"
	fi
	"$rt" --root "$r" delete -f pz 2>/dev/null
}

# --- a terminal container ---------------------------------------------------------------
# A console socket server that keeps every master it receives open until killed.
console_server() {
	python3 - "$1" <<'EOF' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
held = []
while True:
    c, _ = s.accept()
    msg, fds, _, _ = socket.recv_fds(c, 1024, 4)
    held.extend(fds)
    open(sys.argv[1] + ".got", "a").write("%d\n" % len(fds))
EOF
	for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	return 1
}

terminal() {
	local rt=$1 n b img r sock
	n=$(name_of "$rt")
	b=$WORK/tty-$n
	img=$WORK/img-tty-$n
	r=$(root_of "$rt")
	sock=$WORK/console-$n.sock
	bundle "$b" true
	console_server "$sock" || {
		fail "$n: console socket server"
		return
	}
	if ! "$rt" --root "$r" run -d --console-socket "$sock" --bundle "$b" tty >/dev/null 2>"$WORK/err" ||
		! advances "$b"; then
		fail "$n: run a terminal container" "$(cat "$WORK/err")"
		return
	fi
	if ! "$rt" --root "$r" checkpoint --image-path "$img" tty 2>"$WORK/err"; then
		fail "$n: checkpoint of a terminal container" "$(cat "$WORK/err"; grep Error "$img/dump.log" | tail -3)"
		"$rt" --root "$r" delete -f tty
		return
	fi
	if "$rt" --root "$r" restore -d --console-socket "$sock" --image-path "$img" --bundle "$b" tty >/dev/null 2>"$WORK/err" &&
		advances "$b" && [ "$(wc -l <"$sock.got")" = 2 ]; then
		pass "$n: a terminal container restored; its master sent to --console-socket again"
	else
		fail "$n: terminal container restored" "$(cat "$WORK/err"; grep Error "$img/restore.log" | tail -3) masters $(wc -l <"$sock.got" 2>/dev/null)"
	fi
	"$rt" --root "$r" delete -f tty 2>/dev/null
}

# --- hooks: prestart and createRuntime run again on restore (runc's order) ----------------
hooks() {
	local rt=$1 n b img r log
	n=$(name_of "$rt")
	b=$WORK/hooks-$n
	img=$WORK/img-hooks-$n
	r=$(root_of "$rt")
	log=$WORK/hooks-$n.log
	bundle "$b"
	python3 - "$b/config.json" "$log" <<'EOF'
import json, sys
path, log = sys.argv[1], sys.argv[2]
c = json.load(open(path))
hook = lambda kind: {"path": "/bin/sh", "args": ["sh", "-c",
    'printf "%s " ' + kind + ' >> ' + log + '; cat >> ' + log + '; echo >> ' + log]}
c["hooks"] = {"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]}
json.dump(c, open(path, "w"))
EOF
	started "$rt" hk "$b" || {
		fail "$n: run with hooks" "$(cat "$WORK/err")"
		return
	}
	"$rt" --root "$r" checkpoint --image-path "$img" hk 2>"$WORK/err" || {
		fail "$n: checkpoint with hooks" "$(cat "$WORK/err")"
		return
	}
	: >"$log"
	if with_pipes "$rt" --root "$r" restore -d --image-path "$img" --bundle "$b" hk &&
		grep -q '^prestart .*"pid": *[1-9]' "$log" && grep -q '^createRuntime ' "$log"; then
		pass "$n: prestart and createRuntime hooks run on restore with the restored pid"
	else
		fail "$n: hooks on restore" "$(cat "$WORK/err"; cat "$log")"
	fi
	"$rt" --root "$r" delete -f hk 2>/dev/null
}

# --- bad input --------------------------------------------------------------------------
bad_input() {
	local r b out
	r=$(root_of "$HEZI")
	b=$WORK/bad
	bundle "$b"
	if out=$("$HEZI" --root "$r" restore -d --image-path "$WORK/no-such-dir" --bundle "$b" bad 2>&1); then
		fail "hezi: restore from a missing image dir" "succeeded"
	elif grep -q "no-such-dir" <<<"$out" && [ ! -e "$r/bad" ] &&
		[ ! -e /sys/fs/cgroup/hezi/bad ]; then
		pass "hezi: restore from a missing image dir names it and leaves nothing"
	else
		fail "hezi: restore from a missing image dir" "$out"
	fi
	mkdir -p "$WORK/empty-img"
	out=$(with_pipes "$HEZI" --root "$r" restore -d --image-path "$WORK/empty-img" --bundle "$b" bad; cat "$WORK/err")
	if grep -q "criu RESTORE failed" <<<"$out" && [ ! -e "$r/bad" ] && [ ! -e /sys/fs/cgroup/hezi/bad ] &&
		! grep -q criu-root /proc/mounts; then
		pass "hezi: restore from an empty image dir gives CRIU's error, leaves no state, cgroup or mount"
	else
		fail "hezi: restore from an empty image dir" "$out; state: $(ls "$r" 2>&1)"
	fi
	if ! out=$("$HEZI" --root "$r" checkpoint --manage-cgroups-mode hard --image-path "$WORK/x" nosuch 2>&1) &&
		grep -q 'invalid manage cgroups mode.*hard' <<<"$out"; then
		pass "hezi: a bad --manage-cgroups-mode is named"
	else
		fail "hezi: bad --manage-cgroups-mode" "$out"
	fi
	if ! out=$("$HEZI" --root "$r" checkpoint --lazy-pages --image-path "$WORK/x" nosuch 2>&1) &&
		grep -q 'lazy-pages is not supported' <<<"$out"; then
		pass "hezi: --lazy-pages is refused by name"
	else
		fail "hezi: --lazy-pages refused" "$out"
	fi
}

# --- runc's images restored by hezi -----------------------------------------------------
cross() {
	local b img
	[ -n "$RUNC" ] || return 0
	b=$WORK/cross
	img=$WORK/img-cross
	bundle "$b"
	started "$RUNC" x "$b" || {
		fail "runc: run for the cross restore" "$(cat "$WORK/err")"
		return
	}
	if ! "$RUNC" --root "$(root_of "$RUNC")" checkpoint --image-path "$img" x 2>"$WORK/err"; then
		fail "runc: checkpoint for the cross restore" "$(cat "$WORK/err")"
		return
	fi
	if with_pipes "$HEZI" --root "$(root_of "$HEZI")" restore -d --image-path "$img" --bundle "$b" fromrunc &&
		advances "$b" && [ "$(inner_pid "$b")" = 1 ]; then
		pass "hezi restores a checkpoint written by runc"
	else
		fail "hezi restores a checkpoint written by runc" "$(cat "$WORK/err"; grep Error "$img/restore.log" | tail -3)"
	fi
	"$HEZI" --root "$(root_of "$HEZI")" delete -f fromrunc 2>/dev/null
}

T0=$(date +%s)
for rt in "$HEZI" $RUNC; do
	basic "$rt"
	leave_running "$rt"
	pre_dump "$rt"
	paused "$rt"
	terminal "$rt"
	hooks "$rt"
done
cross
bad_input
# Pure v2: /sys/fs/cgroup/hezi/<id>; v1 and hybrid: /sys/fs/cgroup/<controller>/hezi/<id>.
left=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -path '*/hezi/*' 2>/dev/null)
if [ -z "$left" ]; then pass "hezi left no container cgroups behind"; else fail "hezi left no container cgroups behind" "$left"; fi
# runc 1.1 restores into the cgroup recorded at dump time, so after a restore under another
# id (leave_running) the old one stays; reported, and removed by the cleanup.
RUNC_LEFT=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d \( -name c1 -o -name pz -o -name pd -o -name lr -o -name x -o -name hk -o -name tty \) 2>/dev/null)
[ -z "$RUNC_LEFT" ] || echo "note: runc left these cgroups: ${RUNC_LEFT//$'\n'/ }"
echo "criu suite took $(($(date +%s) - T0)) s"
summary "criu suite"
