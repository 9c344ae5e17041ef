#!/bin/sh
# demo/report.sh turns what the demo's scenarios recorded into the report:
# an SVG and a PNG plot per CSV, with a line per column labelled as its
# header says, round ticks and its events marked, and summary.md's table.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Up to 215 MiB: an axis cut in four at the top value would read 54, 107...
{
	echo 'time (s),grower: consumed (MiB),pool: free (MiB)'
	echo '0,20.0,200.0'
	echo '30,150.0,80.0'
	echo '60,215.0,60.0'
} > "$dir/pressure.csv"
printf '30,pool: soft\n' > "$dir/pressure.events"
printf 'sharing saved_mib 60.5\nsharing saved_percent 30.2\n' > "$dir/summary.txt"
"$top/demo/report.sh" "$dir" >/dev/null
status=0
fail() { echo "demo_report: $*"; status=1; }
svg=$dir/pressure.svg png=$dir/pressure.png

grep -q '<svg[ >]' "$svg" && grep -v '^$' "$svg" | tail -n 1 | grep -q '</svg>' ||
	fail "pressure.svg is not an SVG document"

# The SVG flattened, whichever way it places things: "text X Y ANCHOR SIZE
# CONTENT" for each text, its position and font size its own or its
# group's (translate()); "dash X Y1 Y2" for each vertical dashed segment.
flat=$dir/svg.flat
awk '
function attr(name, line) {
	if (match(line, "(^|[ \t])" name "=\"[^\"]*\"") == 0) return ""
	line = substr(line, RSTART, RLENGTH)
	sub(/^[ \t]*[^=]*="/, "", line)
	return substr(line, 1, length(line) - 1)
}
/<svg/ { in_svg = 1 }
in_svg && !width && attr("width", $0) != "" { width = attr("width", $0) + 0; print "width", width }
{
	if (match($0, /translate\([-0-9.]+,[-0-9.]+/)) {
		split(substr($0, RSTART + 10, RLENGTH - 10), p, ",")
		x = p[1] + 0; y = p[2] + 0; anchor = "start"; size = 12
	}
	if ($0 ~ /<text [^>]*x="/) {
		x = attr("x", $0) + 0; y = attr("y", $0) + 0; anchor = "start"; size = 12
	}
	if (attr("text-anchor", $0) != "") anchor = attr("text-anchor", $0)
	if (attr("font-size", $0) != "") size = attr("font-size", $0) + 0
}
/<text/ {
	t = $0; sub(/^.*<text[^>]*>/, "", t); sub(/<\/text>.*$/, "", t)
	gsub(/<[^>]*>/, "", t); sub(/^ +/, "", t); sub(/ +$/, "", t)
	print "text", x, y, anchor, size, t
}
/stroke-dasharray/ {
	if ($0 ~ /<line /) {
		if (attr("x1", $0) == attr("x2", $0))
			print "dash", attr("x1", $0) + 0, attr("y1", $0) + 0, attr("y2", $0) + 0
	} else if (match($0, /d=.[^"\047]*/)) {
		n = split(substr($0, RSTART + 3, RLENGTH - 3), c, /[ML ,]+/)
		for (i = 2; i + 3 <= n; i += 4)
			if (c[i] == c[i + 2]) print "dash", c[i] + 0, c[i + 1] + 0, c[i + 3] + 0
	}
}' "$svg" > "$flat"

# The y axis' tick labels, the leftmost column of numbers, count at least
# 3, reach the top value and step by 1, 2, 2.5 or 5 times a power of ten.
awk '
$1 == "text" && $6 ~ /^-?[0-9.]+$/ && NF == 6 { n[$2]++; v[$2, n[$2]] = $6 + 0 }
END {
	for (x in n) if (n[x] >= 3 && (left == "" || x + 0 < left + 0)) left = x
	if (left == "") { print "no column of y tick labels"; exit 1 }
	k = n[left]
	for (i = 1; i <= k; i++) t[i] = v[left, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
		if (t[j] < t[i]) { s = t[i]; t[i] = t[j]; t[j] = s }
	line = t[1]; for (i = 2; i <= k; i++) line = line ", " t[i]
	if (t[k] < 215) { print "y ticks " line " stop below the top value, 215"; exit 1 }
	step = t[2] - t[1]
	for (i = 3; i <= k; i++)
		if ((t[i] - t[i - 1]) - step > step * 1e-6 || step - (t[i] - t[i - 1]) > step * 1e-6) {
			print "y ticks " line " are not evenly spaced"; exit 1
		}
	m = step; while (m >= 10) m /= 10; while (m < 1) m *= 10
	if (m != 1 && m != 2 && m != 2.5 && m != 5) { print "y ticks " line " are not round"; exit 1 }
}' "$flat" > "$dir/why" || fail "$(cat "$dir/why")"

# Each column in the key, labelled as its header says, whole: the label's
# text fits in the picture (at 0.6 em a character, a sans-serif average).
for label in 'grower: consumed (MiB)' 'pool: free (MiB)'; do
	awk -v label="$label" '
	$1 == "width" { width = $2 }
	$1 == "text" {
		t = $0; for (i = 1; i <= 5; i++) sub(/^[^ ]+ /, "", t)
		if (t != label) next
		found = 1; w = length(t) * 0.6 * $5
		left = $4 == "end" ? $2 - w : $4 == "middle" ? $2 - w / 2 : $2
		if (left < 0 || left + w > width) {
			printf "the key label \"%s\" runs off the picture (%.0f to %.0f of %d px)\n", label, left, left + w, width
			exit 1
		}
	}
	END { if (!found) { printf "the key lacks the label \"%s\"\n", label; exit 1 } }' "$flat" > "$dir/why" ||
		fail "$(cat "$dir/why")"
done

# The event at 30 s: a dashed line across the plot where the x axis reads
# 30 (between its ticks for 0 and 60), and its label next to it.
awk '
$1 == "text" && $4 == "middle" && ($6 == "0" || $6 == "60") && NF == 6 { at[$6] = $2 }
$1 == "dash" { nd++; dx[nd] = $2; dy[nd] = $3 - $4 }
$1 == "text" && $0 ~ / pool: soft$/ { lx = $2 }
END {
	if (!("0" in at) || !("60" in at)) { print "no x ticks for 0 and 60"; exit 1 }
	want = at["0"] + (at["60"] - at["0"]) / 2
	for (i = 1; i <= nd; i++)
		if (dx[i] - want < 1.5 && want - dx[i] < 1.5 && (dy[i] > 100 || dy[i] < -100)) line = 1
	if (!line) { printf "no dashed line across the plot at 30 s (x = %.1f)\n", want; exit 1 }
	if (lx == "" || lx < want - 2 || lx > want + 20) {
		printf "the event label \"pool: soft\" is not next to its line at x = %.1f\n", want; exit 1
	}
}' "$flat" > "$dir/why" || fail "$(cat "$dir/why")"

# The PNG: a PNG signature, a header of 400x250 to 4000x4000 pixels, an
# end chunk, and enough bytes to hold more than a blank picture.
if [ -e "$png" ]; then
	sig=$(od -A n -t x1 -N 8 "$png" | tr -d ' \n')
	wh=$(od -A n -t u1 -j 16 -N 8 "$png" |
		awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }')
	end=$(tail -c 8 "$png" | od -A n -t x1 -N 4 | tr -d ' \n')
	size=$(wc -c < "$png")
	[ "$sig" = 89504e470d0a1a0a ] && [ "$end" = 49454e44 ] || fail "pressure.png is not a PNG file"
	echo "$wh" | awk '{ exit !($1 >= 400 && $1 <= 4000 && $2 >= 250 && $2 <= 4000) }' ||
		fail "pressure.png is $wh pixels, want 400x250 to 4000x4000"
	[ "$size" -gt 8000 ] || fail "pressure.png is $size bytes: blank?"
else
	fail "no pressure.png"
fi

grep -q '^| sharing | saved_percent | 30.2 |$' "$dir/summary.md" ||
	fail "summary.md lacks the figures"
[ $status -eq 0 ] && echo "demo_report: ok"
exit $status
