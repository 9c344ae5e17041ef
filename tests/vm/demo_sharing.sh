#!/bin/sh
# The demo's sharing scenario, shortened (70 s rather than 90: the guests
# boot and sharing finds their identical pages; the plateau is left out).
# It checks itself: it fails unless sharing saved 64 MiB or more.
set -u
/demo/sharing 70 > /tmp/demo_sharing.out 2>&1
rc=$?
cat /tmp/demo_sharing.out
[ $rc -eq 0 ] || { echo "FAIL demo_sharing: the scenario failed ($rc)"; exit 1; }
grep -q '^summary: sharing saved_percent ' /tmp/demo_sharing.out ||
	{ echo "FAIL demo_sharing: no summary"; exit 1; }
echo "PASS demo_sharing"
