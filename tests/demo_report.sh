#!/bin/sh
# demo/report.sh turns what the demo's scenarios recorded into the report:
# an SVG plot per CSV, with a line per column and its events marked, and
# summary.md's table.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

printf 'seconds,consumed_mib,saved_mib\n0,0.0,0.0\n2,90.5,1.0\n4,140.0,60.5\n' > "$dir/sharing.csv"
printf 'sharing saved_mib 60.5\nsharing saved_percent 30.2\n' > "$dir/summary.txt"
printf '2,tau = 0.75\n' > "$dir/sharing.events"
"$top/demo/report.sh" "$dir" >/dev/null
status=0
svg=$dir/sharing.svg
head -n 1 "$svg" | grep -q '^<svg ' && tail -n 1 "$svg" | grep -q '^</svg>$' ||
	{ echo "demo_report: sharing.svg is not an SVG document"; status=1; }
[ "$(grep -c "<polyline " "$svg")" -eq 2 ] ||
	{ echo "demo_report: want a line for each of the 2 columns"; status=1; }
grep -q '>consumed_mib<' "$svg" && grep -q '>saved_mib<' "$svg" ||
	{ echo "demo_report: the legend does not name the columns"; status=1; }
# The last point of saved_mib (60.5 of 140 at 4 s) sits at the plot's right edge.
grep -q 'points="[^"]*550\.0,' "$svg" ||
	{ echo "demo_report: the last sample is not at the right edge"; status=1; }
# The event at 2 s of 4: a dashed mark across the middle, with its label.
grep -q '<line x1="310.0" y1="40" x2="310.0" y2="350" stroke="#555" stroke-dasharray' "$svg" &&
	grep -q '>tau = 0.75<' "$svg" ||
	{ echo "demo_report: the event is not marked at 2 s"; status=1; }
grep -q '^| sharing | saved_percent | 30.2 |$' "$dir/summary.md" ||
	{ echo "demo_report: summary.md lacks the figures"; status=1; }
[ $status -eq 0 ] && echo "demo_report: ok"
exit $status
