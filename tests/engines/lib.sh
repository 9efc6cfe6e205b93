# Shared by the engine suites: case bookkeeping and result lines.
# A suite sources this, sets SUITE and RT (the runtime's short name), calls `check NAME CMD...`
# per case and `summary` at the end, which prints `<suite>-<rt>: N passed, N failed` and
# writes one `pass|fail NAME` line per case to $RESULTS (for run-all.sh's comparison).

: "${RESULTS:=/dev/null}"
PASSED=0
FAILED=0

# check NAME CMD...: runs CMD (bounded by the caller's own timeouts), records the result.
check() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		PASSED=$((PASSED + 1))
		echo "ok   $SUITE/$RT: $name"
		echo "pass $name" >>"$RESULTS"
	else
		FAILED=$((FAILED + 1))
		echo "FAIL $SUITE/$RT: $name"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/     | /'
		echo "fail $name" >>"$RESULTS"
	fi
}

# expect_eq WANT CMD...: CMD's stdout (trailing blanks and CRs dropped) equals WANT; its
# stderr is shown when it does not.
expect_eq() {
	local want=$1
	shift
	local got err
	err=$(mktemp)
	got=$("$@" 2>"$err") || true
	got=$(printf '%s' "$got" | tr -d '\r' | sed -e 's/[[:space:]]*$//')
	if [ "$got" = "$want" ]; then rm -f "$err"; return 0; fi
	echo "want: $want"
	echo "got:  $got"
	cat "$err"
	rm -f "$err"
	return 1
}

# expect_code WANT CMD...: CMD exits with WANT.
expect_code() {
	local want=$1
	shift
	local code=0
	"$@" >/tmp/engine-out.$$ 2>&1 || code=$?
	if [ "$code" -eq "$want" ]; then rm -f /tmp/engine-out.$$; return 0; fi
	echo "want exit $want, got $code"
	cat /tmp/engine-out.$$
	rm -f /tmp/engine-out.$$
	return 1
}

summary() {
	echo "$SUITE-$RT: $PASSED passed, $FAILED failed"
}
