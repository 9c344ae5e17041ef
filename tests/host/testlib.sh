# Helpers for shell tests in the test host.
fail() {
	echo "FAIL: $*"
	exit 1
}
pass() {
	echo "PASS"
	exit 0
}
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}
# run_demo NAME ARGS...: runs the demo scenario /demo/NAME (which checks
# itself) with ARGS, shows what it printed, and fails unless it passed and
# reported its summary.
run_demo() {
	name=$1
	shift
	"/demo/$name" "$@" > "/tmp/demo_$name.out" 2>&1
	rc=$?
	cat "/tmp/demo_$name.out"
	[ $rc -eq 0 ] || fail "the $name scenario failed ($rc)"
	grep -q "^summary: $name " "/tmp/demo_$name.out" || fail "the $name scenario gave no summary"
	pass
}
