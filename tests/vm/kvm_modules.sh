#!/bin/sh
# The Debian kernel's KVM modules are loaded and /dev/kvm is usable.
. /usr/lib/esxmem-test/lib.sh
for m in kvm kvm_amd; do
	grep -q "^$m " /proc/modules || fail "module $m not loaded"
done
[ -c /dev/kvm ] || fail "/dev/kvm missing"
grep -q svm /proc/cpuinfo || fail "CPU lacks svm"
# Shadow paging, not nested paging: see setup() in init.
[ "$(cat /sys/module/kvm_amd/parameters/npt)" = N ] || fail "kvm_amd runs with npt=1"
# init keeps one idle KVM VM for the whole run (tinyvmm --help says why).
pidof tinyvmm >/dev/null || fail "the idle KVM VM holder is not running"
pass
