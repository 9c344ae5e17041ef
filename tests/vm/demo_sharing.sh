#!/bin/sh
# The demo's sharing scenario, shortened (70 s rather than 90: the guests
# boot and sharing finds their identical pages; the plateau is left out).
# On a busy host it goes on until it has shared what it checks, for at
# most 420 s. It checks itself: it fails unless sharing saved 64 MiB or
# more, zero and other pages both.
. /usr/lib/esxmem-test/lib.sh
run_demo sharing 70
