#!/bin/sh
# The demo's pressure scenario as it is (it ends 20 s after everything it
# checks has happened): three guests with esxballoon, one growing until
# the pool runs short; the pool must go through soft and hard, balloons,
# compression and swap must all take memory, no balloon may hold more than
# its guest used, and every guest stay up. Then a calm guest stops: in the
# high state the grower's balloon must deflate.
. /usr/lib/esxmem-test/lib.sh
run_demo pressure
