#!/bin/sh
# plot.sh FILE.csv TITLE [EVENTS] > FILE.svg: a line chart of a demo's CSV,
# the first column (seconds) across, every other column a line, in MiB;
# each "SECONDS,LABEL" line of EVENTS a dashed vertical mark.
set -eu
awk -F, -v title="$2" -v events="${3:-}" '
BEGIN {
	while (events != "" && (getline line < events) > 0) {
		split(line, f, ",")
		ne++; ex[ne] = f[1] + 0; el[ne] = substr(line, length(f[1]) + 2)
	}
}
NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; cols = NF; next }
{
	n++; x[n] = $1
	for (i = 2; i <= cols; i++) { y[n, i] = $i; if ($i > ymax) ymax = $i }
	if ($1 > xmax) xmax = $1
}
END {
	W = 720; H = 400; L = 70; R = 170; T = 40; B = 50
	pw = W - L - R; ph = H - T - B
	if (xmax <= 0) xmax = 1
	if (ymax <= 0) ymax = 1
	split("#1f77b4 #d62728 #2ca02c #ff7f0e #9467bd #8c564b", color, " ")
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
	printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	printf "<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n", L, title
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, T + ph
	for (k = 0; k <= 4; k++) {
		yv = ymax * k / 4; py = T + ph - ph * k / 4
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f</text>\n", L - 6, py + 4, yv
		printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", L, py, L + pw, py
		xv = xmax * k / 4; px = L + pw * k / 4
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", px, T + ph + 16, xv
	}
	for (e = 1; e <= ne; e++) {
		px = L + pw * ex[e] / xmax
		printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n", px, T, px, T + ph
		printf "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%s</text>\n", px + 4, T + 12, el[e]
	}
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">seconds</text>\n", L + pw / 2, H - 10
	printf "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">MiB</text>\n", T + ph / 2, T + ph / 2
	for (i = 2; i <= cols; i++) {
		c = color[(i - 2) % 6 + 1]
		printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c
		for (j = 1; j <= n; j++)
			printf "%.1f,%.1f ", L + pw * x[j] / xmax, T + ph - ph * y[j, i] / ymax
		printf "\"/>\n"
		ly = T + 10 + 18 * (i - 2)
		printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", L + pw + 12, ly, L + pw + 32, ly, c
		printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L + pw + 38, ly + 4, name[i]
	}
	printf "</svg>\n"
}' "$1"
