#!/bin/sh
# plot.sh FILE.csv TITLE [EVENTS]: draws a demo's CSV with gnuplot as
# FILE.svg and FILE.png, next to it. The first column is the time, across;
# every other column is a line, in MiB. The CSV's header names them: its
# first field is the x axis' label, the others the lines' labels in the
# key, as written (the scenarios write them for people, e.g.
# "grower: consumed (MiB)"). Each "SECONDS,LABEL" line of EVENTS is a
# dashed vertical mark with its label.
set -eu
csv=$1 title=$2 events=${3:-}
out=${csv%.csv}

# A string as a gnuplot string literal: in single quotes, where '' is '.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

header=$(head -n 1 "$csv")
columns=$(printf '%s\n' "$header" | awk -F, '{ print NF }')
xlabel=${header%%,*}
[ "$columns" -ge 2 ] || { echo "plot.sh: $csv: want a header of at least 2 columns" >&2; exit 1; }
[ "$(wc -l < "$csv")" -ge 2 ] ||
	{ echo "plot.sh: $csv has a header but no samples: see its scenario's output" >&2; exit 1; }

{
	cat <<-EOF
	set datafile separator ','
	set termoption noenhanced
	set title $(quote "$title") font ',14'
	set xlabel $(quote "$xlabel")
	set ylabel 'MiB'
	set xrange [0:*]
	set yrange [0:*]
	set xtics nomirror out format '%g'
	set ytics nomirror out format '%g'
	set border 3
	set grid ytics linecolor rgb '#dddddd'
	set key outside right top vertical Left reverse noenhanced samplen 2
	set style textbox opaque noborder margins 1, 1
	EOF
	# The events: each a dashed line across the plot, its label at the
	# top, one row lower than the last one's so near events stay legible.
	if [ -n "$events" ]; then
		awk -F, '{
			x = $1 + 0; label = substr($0, length($1) + 2)
			gsub("\047", "\047\047", label)
			printf "set arrow from %g, graph 0 to %g, graph 1 nohead dashtype 2 linecolor rgb \047#555555\047\n", x, x
			printf "set label \047%s\047 at %g, graph 1 offset character 0.5, character %d boxed textcolor rgb \047#333333\047\n", label, x, -((NR - 1) % 3) - 1
		}' "$events"
	fi
	cat <<-EOF
	set terminal svg size 900,450 font 'sans,12' background rgb 'white'
	set output $(quote "$out.svg")
	plot for [i = 2:$columns] $(quote "$csv") using 1:i with lines linewidth 2 title columnheader(i)
	set terminal pngcairo size 900,450 font 'sans,10' background rgb 'white'
	set output $(quote "$out.png")
	replot
	unset output
	EOF
} | gnuplot
