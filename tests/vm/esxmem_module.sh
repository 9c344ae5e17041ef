#!/bin/sh
# esxmem.ko loads and unloads cleanly; rmmod is refused while a VM memory
# object exists (an open fd or a mapping) and succeeds after; the device is
# root-only and the sysfs directory is complete.
. /usr/lib/esxmem-test/lib.sh
ko=/lib/modules/esxmem/esxmem.ko

[ -c /dev/esxmem ] || fail "/dev/esxmem missing"
expect_eq "device mode" "crw-------" "$(ls -l /dev/esxmem | cut -c1-10)"
for f in pool_pages used_pages free_pages state state_high_permille \
	state_soft_permille state_hard_permille state_low_permille \
	fault_wait_ms objects faults cow_breaks fault_waits \
	fault_wait_timeouts alloc_failures state_changes held_pages reclaim/enabled \
	reclaim/compress_percent reclaim/swapped_pages reclaim/compressed_pages \
	reclaim/swap_outs reclaim/swap_ins reclaim/swap_errors reclaim/compress_outs \
	reclaim/compress_ins reclaim/emergency_pages reclaim/low_waits; do
	[ -r /sys/kernel/mm/esxmem/$f ] || fail "sysfs file $f missing"
done
expect_eq "initial state" high "$(cat /sys/kernel/mm/esxmem/state)"

exec 4<>/dev/esxmem
expect_eq "objects with one fd open" 1 "$(cat /sys/kernel/mm/esxmem/objects)"
rmmod esxmem 2>/dev/null && fail "rmmod succeeded while an object was open"
grep -q '^esxmem ' /proc/modules || fail "module gone while in use"
exec 4>&-
expect_eq "objects after close" 0 "$(cat /sys/kernel/mm/esxmem/objects)"

rmmod esxmem || fail "rmmod refused with no object left"
[ -e /dev/esxmem ] && fail "/dev/esxmem still there after rmmod"
[ -d /sys/kernel/mm/esxmem ] && fail "sysfs directory still there after rmmod"

# Load and unload a few times; a module parameter sets the pool.
for i in 1 2 3; do
	insmod $ko pool_pages=12345 || fail "insmod $i"
	expect_eq "pool_pages parameter" 12345 "$(cat /sys/kernel/mm/esxmem/pool_pages)"
	rmmod esxmem || fail "rmmod $i"
done
insmod $ko pool_pages=999999999999 2>/dev/null && fail "a pool larger than RAM was accepted"
insmod $ko || fail "final insmod"
dmesg | grep -q 'pool_pages=999999999999 exceeds RAM' || fail "no message for the bad pool_pages"
pass
