#!/bin/sh
# make check: every test. Builds warning-free, runs the unit tests (Check,
# ASan/UBSan), the install test, the demo's report test and the test-host
# suite, then prints one total line. Exits non-zero if anything failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
: "${BUILD:=$top/build}"
KVER=${KVER:-$(tools/kver.sh)} || exit 1
export BUILD KVER
mkdir -p "$BUILD"

passed=0
failed=0
ok() { passed=$((passed + $1)); }
bad() { failed=$((failed + $1)); }

echo "== build (W=1, -Werror)"
if make --no-print-directory all vm-programs demo-programs >"$BUILD/build.log" 2>&1; then
	ok 1
else
	tail -n 30 "$BUILD/build.log"
	echo "check: build failed (log: $BUILD/build.log)"
	echo "check: $passed passed, 1 failed"
	exit 1
fi

echo "== build for the second kernel (W=1, -Werror)"
# The same module sources against Linux 6.12's headers, in a copy of their
# own: kbuild builds in the source tree.
if KVER2=$(tools/kver.sh second); then
	src2=$BUILD/kernel2/src
	rm -rf "$src2" && mkdir -p "$src2"
	find Kbuild kmod guest-balloon tests/kmod \( -name '*.[ch]' ! -name '*.mod.c' -o -name Kbuild \) \
		-exec cp --parents {} "$src2/" \;
	if make -C "/lib/modules/$KVER2/build" M="$src2" W=1 KCFLAGS=-Werror modules \
		>"$BUILD/build2.log" 2>&1; then
		echo "build: esxmem.ko, esxballoon.ko for $KVER2"
		ok 1
	else
		tail -n 30 "$BUILD/build2.log"
		echo "check: the build for $KVER2 failed (log: $BUILD/build2.log)"
		bad 1
	fi
else
	bad 1
fi

echo "== unit tests"
make --no-print-directory unit 2>&1 | tee "$BUILD/unit.log"
line=$(grep -E '^[0-9]+%: Checks: ' "$BUILD/unit.log" | tail -n 1)
if [ -n "$line" ]; then
	checks=$(echo "$line" | sed 's/.*Checks: \([0-9]*\).*/\1/')
	fails=$(echo "$line" | sed 's/.*Failures: \([0-9]*\).*/\1/')
	errors=$(echo "$line" | sed 's/.*Errors: \([0-9]*\).*/\1/')
	ok $((checks - fails - errors))
	bad $((fails + errors))
else
	echo "check: the unit tests reported nothing"
	bad 1
fi

echo "== install"
if tests/install.sh; then ok 1; else bad 1; fi

echo "== demo report"
if tests/demo_report.sh; then ok 1; else bad 1; fi

echo "== test host"
tests/host/run.sh 2>&1 | tee "$BUILD/testhost.log"
line=$(grep -E '^testhost: [0-9]+ passed, [0-9]+ failed' "$BUILD/testhost.log" | tail -n 1)
if [ -n "$line" ]; then
	ok "$(echo "$line" | awk '{ print $2 }')"
	bad "$(echo "$line" | awk '{ print $4 }')"
else
	echo "check: the test host reported nothing"
	bad 1
fi

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
