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
#
# A test whose source has a line "testhost: numa" runs in a test host of
# its own with two NUMA nodes (QEMU -numa), each with one CPU and half the
# memory; every other test runs in the usual one-node host. ESXTEST_NUMA=1
# gives the shell the two-node host.
#
# A run whose emulated machine resets with neither a kernel message nor an
# end report, only "Triple fault" in QEMU's log, boots once more for the
# test it was running and the tests after it (see machine_reset below).
# ESXTEST_FAKE_RESET="a [b]" makes that happen on purpose, to test it: the
# first boot resets the machine (a real triple fault, reboot=t) instead of
# running test a, the boot after it instead of running b.
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

mem=${ESXTEST_MEM:-4096}
# Per-test and whole-run limits, in seconds.
test_timeout=${ESXTEST_TEST_TIMEOUT:-600}
run_timeout=${ESXTEST_TIMEOUT:-1200}
soak_secs=${SOAK_SECS:-300}
if [ $mode = bench ]; then
	# The sharing bench boots four pairs of Linux guests, each taking
	# minutes under emulation.
	test_timeout=${ESXTEST_TEST_TIMEOUT:-1800}
	run_timeout=${ESXTEST_TIMEOUT:-3600}
fi
if [ $mode = soak ]; then
	case $soak_secs in
	'' | *[!0-9]*) die "SOAK_SECS=$soak_secs: a number of seconds" ;;
	esac
	# The soak's own time, its setup and final checks, and the boot.
	test_timeout=${ESXTEST_TEST_TIMEOUT:-$((soak_secs * 2 + 600))}
	run_timeout=${ESXTEST_TIMEOUT:-$((test_timeout + 600))}
fi

# Two NUMA nodes, each with one CPU and half the memory. The CPUs sit in
# sockets of their own: the kernel warns about a package that spans nodes.
numa_smp=2,sockets=2,cores=1,threads=1
numa_args="-object memory-backend-ram,id=node0mem,size=$((mem / 2))M
	-object memory-backend-ram,id=node1mem,size=$((mem - mem / 2))M
	-numa node,nodeid=0,cpus=0,memdev=node0mem
	-numa node,nodeid=1,cpus=1,memdev=node1mem"

# The tests that need the two-node host, comma-separated.
numa_tests=$(grep -l 'testhost: numa$' "$top"/tests/vm/*.c "$top"/tests/vm/*.sh 2>/dev/null |
	sed 's|.*/||; s|\.[a-z]*$||' | paste -s -d , -)
is_numa_test() {
	case ",$numa_tests," in
	*",$1,"*) return 0 ;;
	esac
	return 1
}

passed_total=0
failed_total=0
# The tests whose run ends in a reset, in the order of the boots: the
# first word is the next boot's.
fake_reset=${ESXTEST_FAKE_RESET:-}
# Set once a boot has been run again after a reset: one per run.
retried=
# Set by boot: the test during which the machine reset, if it did so with
# the emulator's signature and may run again.
reset_during=

# machine_reset DIR QRC: whether the boot logged in DIR ended in the
# emulated machine's reset alone: QEMU exited by itself (-no-reboot turns
# the reset into an exit with 0), its log shows a triple fault, and the
# kernel said nothing (kernel-bad.log is empty: no panic, WARN or lockup).
# Tests that run KVM guests, under QEMU's TCG emulation of AMD-V, see this
# now and then. A test's own failure, a timeout or a kernel in trouble is
# never this.
machine_reset() {
	[ "$2" -eq 0 ] && grep -q 'Triple fault' "$1/qemu.log" 2>/dev/null &&
		[ ! -s "$1/kernel-bad.log" ]
}

# running_test DIR: the test that had started but not reported when the
# boot logged in DIR ended, if any.
running_test() {
	last=$(sed -n 's/\r$//; s/^=== RUN //p' "$1/console.log" | tail -n 1)
	[ -n "$last" ] && ! reported "$1" | grep -qx "$last" && echo "$last"
}

# reported DIR: the tests with a verdict in the boot logged in DIR.
reported() {
	tr -d '\r' < "$1/results.log" | awk '$1 == "ok" || $1 == "fail" { print $2 }'
}

# boot DIR NUMA ONLY SKIP: one test host, two-node if NUMA is 1, running
# the tests in ONLY (all if empty) but those in SKIP (comma-separated);
# adds its verdicts to the totals.
boot() {
	out=$1 numa=$2 boot_only=$3 boot_skip=$4
	rm -rf "$out"
	mkdir -p "$out"
	append="console=ttyS0 loglevel=5 panic=-1 panic_on_warn=1 oops=panic"
	# Linux 6.12 builds the jitter entropy source in, and its start-up
	# test times the CPU in a loop that under emulation on a busy machine
	# ran for 22 s without yielding: a soft lockup before any test. The
	# test host has virtio-rng for entropy.
	append="$append initcall_blacklist=jent_mod_init"
	append="$append esxtest.mode=$mode esxtest.timeout=$test_timeout"
	[ -n "$boot_only" ] && append="$append esxtest.only=$boot_only"
	[ -n "$boot_skip" ] && append="$append esxtest.skip=$boot_skip"
	[ $mode = soak ] && append="$append esxtest.soak_secs=$soak_secs"
	# Words on purpose.
	# shellcheck disable=SC2086
	set -- $fake_reset
	if [ $# -gt 0 ]; then
		append="$append reboot=t esxtest.fake_reset=$1"
		shift
		fake_reset=$*
	fi
	smp=2 extra=
	[ "$numa" = 1 ] && smp=$numa_smp extra=$numa_args

	# $extra splits into words on purpose.
	# shellcheck disable=SC2086
	set -- -machine q35 -accel tcg -cpu qemu64,+svm,+npt -smp "$smp" -m "$mem" \
		-kernel "$kernel" -initrd "$ESXTEST_OUT/initrd.cpio" -no-reboot \
		-display none -device virtio-rng-pci \
		-d cpu_reset,guest_errors -D "$out/qemu.log" $extra

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
	kernel_bad=
	grep -nE 'WARNING:|BUG:|Oops|Kernel panic|general protection|UBSAN:|Call Trace:|soft lockup|blocked for more than|Busy inodes' \
		"$out/console.log" > "$out/kernel-bad.log" && kernel_bad=1
	reset_during=
	if ! grep -q '^end' "$out/results.log" && [ $mode = run ] && [ -z "$retried" ] &&
		machine_reset "$out" $qrc; then
		# Not a failure: boot_run runs the test again.
		reset_during=$(running_test "$out")
	fi
	if [ -z "$reset_during" ] && ! grep -q '^end' "$out/results.log"; then
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
	if [ -n "$kernel_bad" ]; then
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
	[ -n "$reset_during" ] &&
		echo "testhost: the emulated machine reset (QEMU: Triple fault, no kernel message) during $reset_during; running $reset_during and the tests after it again (this boot's logs move to $out.1)"
	passed_total=$((passed_total + passed))
	failed_total=$((failed_total + failed))
}

# boot_run DIR NUMA ONLY SKIP: boot, and if the machine reset during a test
# (machine_reset), boot again, once per run, for that test and those that
# had not run, skipping those that reported; the first boot's logs go to
# DIR.1.
boot_run() {
	rm -rf "$1.1"
	boot "$@"
	[ -n "$reset_during" ] || return 0
	retried=1
	mv "$1" "$1.1"
	retry_skip=$4
	for t in $(reported "$1.1"); do
		retry_skip=$retry_skip${retry_skip:+,}$t
	done
	boot "$1" "$2" "$3" "$retry_skip"
}

# Which tests each host runs: the two-node host only those that ask for it.
numa_only=
plain_only=
for t in $(echo "$only" | tr , ' '); do
	if is_numa_test "$t"; then
		numa_only=$numa_only${numa_only:+,}$t
	else
		plain_only=$plain_only${plain_only:+,}$t
	fi
done
runs=$ESXTEST_OUT/run-$mode
case $mode in
shell)
	boot "$runs" "${ESXTEST_NUMA:-0}" "" "" ;;
run)
	if [ -z "$only" ]; then
		boot_run "$runs" 0 "" "$numa_tests"
		[ -n "$numa_tests" ] && boot_run "$runs-numa" 1 "$numa_tests" ""
	else
		[ -n "$plain_only" ] && boot_run "$runs" 0 "$plain_only" ""
		[ -n "$numa_only" ] && boot_run "$runs-numa" 1 "$numa_only" ""
	fi
	;;
*)
	boot "$runs" 0 "$only" "" ;;
esac
echo "testhost: $passed_total passed, $failed_total failed"
[ "$failed_total" -eq 0 ]
