#!/usr/bin/env bash
# cgroup v2 enforcement suite for hezi-cgroups; runs INSIDE the pure-v2 VM:
#
#   cargo test -p hezi-cgroups --no-run && cargo build -p hezi && cargo test -p hezi --no-run
#   scripts/vm/run.sh --timeout 1200 -- bash "$PWD/tests/vm/v2-suite.sh"
#
# It runs the prebuilt test binaries (nothing is compiled in the VM): the root-only
# enforcement tests of crates/cgroups/tests/enforce.rs (pids.max stops a fork loop, memory.max
# OOM-kills a hog, the eBPF device filter denies /dev/null, cgroup.freeze stops a counter,
# cgroup.kill empties the cgroup, a full resource set is accepted and updated), plus direct
# checks of the eBPF program attachment and cgroup.kill, and the CLI tests of
# crates/hezi/tests/cgroups_cli.rs (pause/resume/update/events), and the cgroup-related
# comparisons with runc 1.1.5 of crates/hezi/tests/differential_runc.rs (pause/resume, update,
# ps, kill --all, events --stats, the v2 files written for linux.resources). Prints PASS/FAIL
# per check and exits non-zero if any failed. Override binaries with HEZI_CG_ENFORCE_BIN,
# HEZI_CG_CLI_BIN, HEZI_DIFF_BIN (test binaries) and HEZI_BIN (hezi); the suite runs private
# copies of them.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/lib.sh
. "$HERE/lib.sh"

# --- the environment is really pure v2 -------------------------------------------------
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	pass "cgroup2 is mounted at /sys/fs/cgroup"
else
	fail "cgroup2 is mounted at /sys/fs/cgroup" "found $(stat -fc %T /sys/fs/cgroup)"
	echo "not a pure cgroup v2 host: run me through scripts/vm/run.sh"
	exit 1
fi
[ "$(id -u)" = 0 ] || { fail "running as root"; exit 1; }

ENFORCE=${HEZI_CG_ENFORCE_BIN:-$(newest_bin enforce)}
CLI=${HEZI_CG_CLI_BIN:-$(newest_bin cgroups_cli)}
DIFF=${HEZI_DIFF_BIN:-$(newest_bin differential_runc)}
APPARMOR=${HEZI_APPARMOR_BIN:-$(newest_bin runtime_apparmor)}

# Private copies (in the VM's tmpfs) of every binary the suite runs: the target dir is
# shared with the host, where other builds may replace a binary while the suite runs it.
PRIV=$(mktemp -d /tmp/v2-suite-bins.XXXXXX)
private_copy() { # PATH -> prints the copy's path (empty for an empty PATH)
	[ -n "$1" ] || return 0
	cp "$1" "$PRIV/" && echo "$PRIV/$(basename "$1")"
}
ENFORCE=$(private_copy "$ENFORCE")
CLI=$(private_copy "$CLI")
DIFF=$(private_copy "$DIFF")
APPARMOR=$(private_copy "$APPARMOR")
if [ -x "$TARGET/debug/hezi" ]; then
	HEZI_BIN=$(private_copy "$TARGET/debug/hezi")
	export HEZI_BIN
fi

# --- enforcement tests, one check per test --------------------------------------------
if [ -z "$ENFORCE" ]; then
	fail "find the hezi-cgroups enforce test binary" "run cargo test -p hezi-cgroups --no-run on the host"
else
	echo "using $ENFORCE"
	run_test "$ENFORCE" pids_limit_stops_a_fork_loop "pids.max stops a fork loop"
	run_test "$ENFORCE" memory_limit_oom_kills_a_hog "memory.max (+ swap.max 0) OOM-kills a hog"
	run_test "$ENFORCE" denied_device_cannot_be_opened "eBPF device filter: /dev/null denied (EPERM), /dev/zero allowed"
	run_test "$ENFORCE" frozen_cgroup_makes_no_progress "cgroup.freeze stops a counter; thaw resumes it"
	run_test "$ENFORCE" destroy_kills_everything_and_removes_the_cgroup "cgroup.kill empties the cgroup; rmdir succeeds"
	run_test "$ENFORCE" destroy_reaches_processes_in_sub_cgroups "ps lists, and delete kills and removes, processes in sub-cgroups"
	run_test "$ENFORCE" kernel_accepts_a_full_resource_set "full resource set applied and updated (cpu.weight, cpu.max, memory, pids, cpuset)"
	run_test "$ENFORCE" v2_device_program_is_attached "BPF_PROG_ATTACH: a cgroup_device program is attached to the container cgroup"
	run_test "$ENFORCE" v2_cgroup_kill_kills_a_forking_tree "cgroup.kill kills a tree that keeps forking"
	run_test "$ENFORCE" v2_io_max_on_scratch_disk "io.max written for the scratch disk /dev/vda"
fi

# --- leftovers: every test cleaned up --------------------------------------------------
left=$(find /sys/fs/cgroup -maxdepth 1 -name 'hezi-test-*' 2>/dev/null)
if [ -z "$left" ]; then pass "no test cgroups left behind"; else fail "no test cgroups left behind" "$left"; fi

# --- the CLI on v2 (needs the runtime to create containers on v2) ----------------------
if [ -z "$CLI" ]; then
	fail "find the hezi cgroups_cli test binary" "run cargo test -p hezi --no-run on the host"
else
	echo "using $CLI"
	run_test "$CLI" pause_and_resume_stop_and_restart_the_container "hezi pause/resume on v2 (state shows paused/running)"
	run_test "$CLI" update_changes_limits_and_events_reports_them "hezi update on v2 + events --stats"
	run_test "$CLI" events_streams_until_the_container_stops "hezi events streams until the container stops"
	run_test "$CLI" events_reports_oom "hezi events reports an oom event"
fi

# --- hezi against runc on v2 (crates/hezi/tests/differential_runc.rs) -----------------
# The host's runc 1.1.5 is visible here; each test runs one bundle under both runtimes,
# each with its own --root, and compares what they print and write to the cgroup (limits are
# read from the host side, through the container's /proc/<pid>/cgroup).
RUNC=/usr/sbin/runc
if [ ! -x "$RUNC" ]; then
	fail "runc is visible in the VM" "$RUNC missing"
elif [ -z "$DIFF" ]; then
	fail "find the hezi differential_runc test binary" "run cargo test -p hezi --no-run on the host"
else
	echo "using $DIFF"
	# runc itself must work on v2 first, or every comparison below is meaningless.
	rb=$(mktemp -d /tmp/v2-runc.XXXXXX)
	mkdir -p "$rb/rootfs/bin" && cp /bin/busybox "$rb/rootfs/bin/busybox"
	(cd "$rb" && "$RUNC" spec) &&
		jq '.process.terminal = false | .process.args = ["/bin/busybox", "cat", "/proc/self/cgroup"]' \
			"$rb/config.json" >"$rb/c.json" && mv "$rb/c.json" "$rb/config.json"
	out=$("$RUNC" --root "$rb/state" run --bundle "$rb" v2-suite-runc 2>&1)
	if [ $? -eq 0 ] && [ "$out" = "0::/" ]; then
		pass "runc $("$RUNC" --version | head -1 | cut -d' ' -f3) runs a container on v2"
	else
		fail "runc runs a container on v2" "$out"
	fi
	"$RUNC" --root "$rb/state" delete --force v2-suite-runc >/dev/null 2>&1
	rm -rf "$rb"
	run_test "$DIFF" detach_pause_resume_list "v2 vs runc: run -d, pause (delete refused), list, resume, kill, delete"
	run_test "$DIFF" pid_file_update_exec_detach_ps_kill_all_stats "v2 vs runc: pid file, update limits, exec -d, ps, kill --all, stats"
	run_test "$DIFF" events_stats_sections "v2 vs runc: events --stats sections"
	run_test "$DIFF" events_stats_cpuset "v2 vs runc: events --stats cpuset (hezi adds the effective lists)"
	run_test "$DIFF" cgroup_v2_limits_match "v2 vs runc: cgroup files written at create and by update"
	run_test "$DIFF" update_resources_file_matches "v2 vs runc: update --resources FILE (containerd's way) writes the same files"
	run_test "$DIFF" list_json_keys_and_ps_json "v2 vs runc: list --format json keys, ps --format json"
	run_test "$DIFF" lifecycle_create_start_kill_delete "v2 vs runc: create, start, kill, delete"
	run_test "$DIFF" exit_code_of_init_killed_from_outside "v2 vs runc: exit code of an init killed from outside"
	run_test "$DIFF" cgroup_v2_conversion_edge_cases "v2 vs runc: swap 0, update --memory -1, update --cpu-quota -1"
	run_test "$DIFF" spec_default_config "v2 vs runc: hezi spec (cgroup namespace on a v2 host)"
	run_test "$DIFF" exec_inherits_the_process_config "v2 vs runc: exec inherits the process config"
	run_test "$DIFF" exec_with_user_cwd_env_flags "v2 vs runc: exec --user --cwd --env"
	run_test "$DIFF" exec_cap_does_not_touch_inheritable "v2 vs runc: exec --cap"
	left=$(find /sys/fs/cgroup -maxdepth 2 -name 'diff-*' 2>/dev/null)
	if [ -z "$left" ]; then pass "no differential-test cgroups left behind"; else fail "no differential-test cgroups left behind" "$left"; fi
fi

# --- AppArmor (Debian's kernel has the LSM on; the host here has no LSM) ---------------
if [ -z "$APPARMOR" ]; then
	fail "find the runtime_apparmor test binary" "run cargo test -p hezi --no-run on the host"
elif ! command -v apparmor_parser >/dev/null; then
	fail "apparmor_parser is installed (scripts/deps.sh installs apparmor)"
else
	run_test "$APPARMOR" a_profile_confines_the_container_as_with_runc "AppArmor: apparmorProfile confines (attr/current, denied write) as with runc; exec inherits it and --apparmor overrides; an unloaded profile is named"
fi

summary v2-suite
