#!/bin/sh
# make check: every test. Builds warning-free for both supported kernels,
# runs the unit tests (Check, ASan/UBSan), the install test, the demo's
# report test, the whole test-host suite on $KVER (by default Debian 12's
# 6.1) and its core on the other kernel, then prints one total line. Exits
# non-zero if anything failed.
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

# The second kernel: Linux 6.12 when the suite runs on 6.1, and 6.1 when it
# runs on 6.12 (make check KVER=6.12...).
case $KVER in
6.12.*) KVER2=$(tools/kver.sh) ;;
*) KVER2=$(tools/kver.sh second) ;;
esac || KVER2=
export KVER2
src2=$BUILD/kernel2/src

echo "== build for the second kernel, ${KVER2:-none} (W=1, -Werror)"
# The same module sources against the second kernel's headers, in a copy of
# their own: kbuild builds in the source tree.
built2=
if [ -n "$KVER2" ]; then
	rm -rf "$src2" && mkdir -p "$src2"
	find Kbuild kmod guest-balloon tests/kmod \( -name '*.[ch]' ! -name '*.mod.c' -o -name Kbuild \) \
		-exec cp --parents {} "$src2/" \;
	if make -C "/lib/modules/$KVER2/build" M="$src2" W=1 KCFLAGS=-Werror modules \
		>"$BUILD/build2.log" 2>&1; then
		echo "build: esxmem.ko, esxballoon.ko for $KVER2"
		built2=1
		ok 1
	else
		tail -n 30 "$BUILD/build2.log"
		echo "check: the build for $KVER2 failed (log: $BUILD/build2.log)"
		bad 1
	fi
else
	echo "check: no second kernel's headers; run 'make deps'"
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

# testhost LOG COMMAND...: runs the test host through COMMAND and counts
# its verdict; the output goes to LOG as well.
testhost() {
	log=$1
	shift
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^testhost: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		ok "$(echo "$line" | awk '{ print $2 }')"
		bad "$(echo "$line" | awk '{ print $4 }')"
	else
		echo "check: the test host reported nothing (log: $log)"
		bad 1
	fi
}

echo "== test host, $KVER: every test"
testhost "$BUILD/testhost.log" tests/host/run.sh

# On the second kernel, the core: the module, objects, large pages,
# sharing, sampling, reclaim, balloons, KVM's memory-slot hook, a real
# Linux guest (with esxballoon in it) and the daemon.
CORE2="esxmem_module esxmem_object esxmem_fs esxmem_zero esxmem_hugepage esxmem_share esxmem_unmerge
	esxmem_cow_held esxmem_cow_race esxmem_held esxmem_fault_retry esxmem_sample esxmem_reclaim
	esxmem_balloon kvm_hook kvm_modules netlink_vm esxballoon_guest
	esxmemd_policy esxmemd_balloon"
echo "== test host, ${KVER2:-second kernel}: the core"
if [ -n "$built2" ]; then
	# shellcheck disable=SC2086
	testhost "$BUILD/testhost2.log" env KVER="$KVER2" KROOT= ESXMEM_MODULES="$src2" \
		ESXTEST_OUT="$BUILD/testhost2" tests/host/run.sh $CORE2
else
	echo "check: not run: the modules did not build for it"
	bad 1
fi

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
