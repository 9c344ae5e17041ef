#!/bin/sh
# Boots the test host (the Debian kernel under QEMU/TCG with emulated AMD-V,
# so that KVM works inside it) and runs the in-VM tests.
#
#   run.sh [NAME...]   run all tests, or only those named
#   run.sh --shell     interactive shell in the test host
#   run.sh --bench [NAME...]  run the bench programs (or those named), print
#                      their "bench:" lines
#   run.sh --demo [NAME...]   run the demo scenarios (or those named), show
#                      them live, and write their report to $DEMO_REPORT
#   run.sh --soak [NAME...]   run the soak programs (or those named) for
#                      $SOAK_SECS seconds each (default 300), print their
#                      "soak:" lines
#
# The kernel is Debian's $KVER, found under $KROOT (by default where
# tools/kimage.sh finds or unpacks it); the modules come from the tree $ESXMEM_MODULES (default
# this one), built for that kernel; the logs go to $ESXTEST_OUT (default
# $BUILD/testhost).
#
# The verdict fails by default: every test must report "ok" on the second
# serial port, the runner must report "end", QEMU must finish before the
# timeout, and the console must show no kernel warning, BUG or oops.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${BUILD:=$top/build}" "${KVER:=$("$top/tools/kver.sh")}"
if [ -z "${KROOT:-}" ]; then
	KROOT=$("$top/tools/kimage.sh" "$KVER") || exit 1
fi
: "${ESXMEM_MODULES:=$top}" "${ESXTEST_OUT:=$BUILD/testhost}"
export BUILD KVER KROOT ESXMEM_MODULES ESXTEST_OUT

die() {
	echo "testhost: $*" >&2
	exit 1
}

mode=run
case ${1:-} in
--shell) mode=shell; shift ;;
--bench) mode=bench; shift ;;
--demo) mode=demo; shift ;;
--soak) mode=soak; shift ;;
esac
only=$(echo "$*" | tr -s ' ' ,)

kernel=$KROOT/boot/vmlinuz-$KVER
[ -r "$kernel" ] || die "$kernel missing or unreadable: install linux-image-$KVER (make deps), or run tools/kimage.sh $KVER"
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing: install qemu-system-x86 (make deps)"
"$top/tests/host/mkinitramfs.sh" || die "could not build the initramfs"

out=$ESXTEST_OUT/run-$mode
rm -rf "$out"
mkdir -p "$out"
mem=${ESXTEST_MEM:-4096}
# Per-test and whole-run limits, in seconds.
test_timeout=${ESXTEST_TEST_TIMEOUT:-600}
run_timeout=${ESXTEST_TIMEOUT:-1200}
soak_secs=${SOAK_SECS:-300}
if [ $mode = soak ]; then
	case $soak_secs in
	'' | *[!0-9]*) die "SOAK_SECS=$soak_secs: a number of seconds" ;;
	esac
	# The soak's own time, its setup and final checks, and the boot.
	test_timeout=${ESXTEST_TEST_TIMEOUT:-$((soak_secs * 2 + 600))}
	run_timeout=${ESXTEST_TIMEOUT:-$((test_timeout + 600))}
fi

append="console=ttyS0 loglevel=5 panic=-1 panic_on_warn=1 oops=panic"
# Linux 6.12 builds the jitter entropy source in, and its start-up test
# times the CPU in a loop that under emulation on a busy machine ran for
# 22 s without yielding: a soft lockup before any test. The test host has
# virtio-rng for entropy.
append="$append initcall_blacklist=jent_mod_init"
append="$append esxtest.mode=$mode esxtest.timeout=$test_timeout"
[ -n "$only" ] && append="$append esxtest.only=$only"
[ $mode = soak ] && append="$append esxtest.soak_secs=$soak_secs"

set -- -machine q35 -accel tcg -cpu qemu64,+svm,+npt -smp 2 -m "$mem" \
	-kernel "$kernel" -initrd "$ESXTEST_OUT/initrd.cpio" -no-reboot \
	-display none -device virtio-rng-pci \
	-d cpu_reset,guest_errors -D "$out/qemu.log"

if [ $mode = shell ]; then
	exec "$qemu" "$@" -append "$append" -serial mon:stdio -serial null
fi

start=$(date +%s)
timeout -s KILL "$run_timeout" "$qemu" "$@" -append "$append" \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	2> "$out/qemu.stderr" &
qpid=$!
# Show results as they arrive.
touch "$out/results.log" "$out/console.log"
if [ $mode = demo ]; then
	report=${DEMO_REPORT:-$BUILD/demo-report}
	rm -rf "$report"
	mkdir -p "$report"
	# The live view: what the scenarios say, as they say it.
	tail -n +1 -f --pid=$qpid "$out/console.log" | sed -u -n 's/^demo: //p' &
fi
# The serial port ends lines with CR LF; the report's files want LF.
tail -n +1 -f --pid=$qpid "$out/results.log" | sed -u 's/\r$//' | while read -r verdict name rest; do
	case $verdict in
	ok) echo "testhost: ok   $name ${rest}" ;;
	fail) echo "testhost: FAIL $name ${rest}" ;;
	bench:) echo "bench: $name $rest" ;;
	soak:) echo "soak: $name $rest" ;;
	data:) echo "$rest" >> "$report/$name" ;;
	summary:) echo "$name $rest" >> "$report/summary.txt" ;;
	esac
done
wait $qpid
qrc=$?
secs=$(( $(date +%s) - start ))

passed=$(grep -c '^ok ' "$out/results.log")
failed=$(grep -c '^fail ' "$out/results.log")
# Why the run failed goes last, next to the verdict, where a log's tail
# shows it; the console sections come first.
: > "$out/reasons"
if ! grep -q '^end' "$out/results.log"; then
	if [ $qrc -eq 137 ]; then
		echo "FAIL no end report: QEMU killed (SIGKILL) after ${secs}s: the ${run_timeout}s limit, or the host's OOM killer" >> "$out/reasons"
	else
		echo "FAIL no end report: QEMU exited with $qrc after ${secs}s (panic, WARN or crash)" >> "$out/reasons"
	fi
	# A triple fault resets the machine, which -no-reboot turns into a
	# silent exit: only QEMU's own log tells.
	grep -h -m 3 -i 'triple fault' "$out/qemu.log" >> "$out/reasons" 2>/dev/null
	tail -n 5 "$out/qemu.stderr" | sed 's/^/qemu: /' >> "$out/reasons"
	failed=$((failed + 1))
fi
if grep -nE 'WARNING:|BUG:|Oops|Kernel panic|general protection|UBSAN:|Call Trace:|soft lockup|blocked for more than|Busy inodes' \
	"$out/console.log" > "$out/kernel-bad.log"; then
	echo "FAIL kernel log shows trouble:" >> "$out/reasons"
	head -n 20 "$out/kernel-bad.log" | sed 's/^/  /' >> "$out/reasons"
	failed=$((failed + 1))
fi

if [ "$failed" -gt 0 ]; then
	for t in $(awk '$1 == "fail" { print $2 }' "$out/results.log"); do
		echo "---- console of $t ----"
		awk -v t="$t" '/^=== (RUN|BENCH) / { show = ($3 == t) } show' "$out/console.log" | tail -n 60
	done
	echo "---- console tail ($out/console.log) ----"
	tail -n 40 "$out/console.log"
	echo "----"
	sed 's/^/testhost: /' "$out/reasons"
fi
echo "testhost: ${secs}s, log in $out/console.log"
echo "testhost: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
