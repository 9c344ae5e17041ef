#!/bin/sh
# report.sh DIR: plots every CSV the demo wrote into DIR as SVG and PNG
# (with the marks of NAME.events, if the scenario wrote one), and writes
# DIR/summary.md from DIR/summary.txt ("scenario figure value" lines).
set -eu
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
for csv in "$dir"/*.csv; do
	[ -e "$csv" ] || continue
	name=$(basename "$csv" .csv)
	events=$dir/$name.events
	[ -e "$events" ] || events=
	"$here/plot.sh" "$csv" "esxmem demo: $name (MiB over time)" ${events:+"$events"}
done
{
	echo "# esxmem demo: summary"
	echo
	echo "| scenario | figure | value |"
	echo "|---|---|---|"
	[ -e "$dir/summary.txt" ] && awk '{ print "| " $1 " | " $2 " | " $3 " |" }' "$dir/summary.txt"
} > "$dir/summary.md"
echo "demo: report in $dir: summary.md, $(ls "$dir" | grep -c '\.svg$') plots (SVG and PNG), raw data as CSV"
