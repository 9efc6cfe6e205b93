#!/usr/bin/env bash
# Runs every engine suite twice, with Debian's runc and with hezi, and fails when hezi fails a
# case runc passes (a case runc fails is reported, not counted against hezi). Ends with one
# line `engines: N passed, N failed` (failed = cases where hezi does worse than runc).
#
#   tests/engines/run-all.sh HEZI_BINARY
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HEZI=$(realpath "$1")
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
better=0
worse=0
for suite in podman containerd cri docker; do
	start=$(date +%s)
	bash "$HERE/$suite.sh" "$RUNC" "$work/$suite.runc"
	bash "$HERE/$suite.sh" "$HEZI" "$work/$suite.hezi"
	echo "$suite: both runtimes in $(($(date +%s) - start)) s"
	while read -r result name; do
		hezi=$(grep -F -x -e "pass $name" -e "fail $name" "$work/$suite.hezi" | head -n 1 | cut -d' ' -f1)
		case "$result/${hezi:-missing}" in
		pass/pass) better=$((better + 1)) ;;
		fail/pass) better=$((better + 1)); echo "note: $suite: runc fails, hezi passes: $name" ;;
		fail/*) echo "note: $suite: runc fails too: $name" ;;
		*) worse=$((worse + 1)); echo "WORSE: $suite: hezi ${hezi:-did not run} where runc passes: $name" ;;
		esac
	done <"$work/$suite.runc"
	# Cases only hezi ran (none expected) count too.
	[ -s "$work/$suite.runc" ] || { worse=$((worse + 1)); echo "WORSE: $suite: the runc run recorded nothing"; }
done
echo "engines: $better passed, $worse failed"
[ "$worse" -eq 0 ]
