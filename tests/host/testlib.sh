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
