// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prometheus's text exposition format: see metrics_text.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"

void prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void prom_free(struct prom *p)
{
	free(p->buf);
	prom_init(p);
}

char *prom_take(struct prom *p, size_t *len)
{
	char *text = p->buf;

	if (p->failed || !text) {
		prom_free(p);
		return NULL;
	}
	*len = p->len;
	prom_init(p);
	return text;
}

static void put(struct prom *p, const char *s, size_t n)
{
	if (p->failed)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *grown;

		while (p->len + n + 1 > cap)
			cap *= 2;
		grown = realloc(p->buf, cap);
		if (!grown) {
			p->failed = true;
			return;
		}
		p->buf = grown;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void puts_(struct prom *p, const char *s)
{
	put(p, s, strlen(s));
}

void prom_family(struct prom *p, const char *name, const char *type, const char *help)
{
	const char *c;

	puts_(p, "# HELP ");
	puts_(p, name);
	put(p, " ", 1);
	/* In HELP only backslash and newline are escaped. */
	for (c = help; *c; c++) {
		if (*c == '\\')
			put(p, "\\\\", 2);
		else if (*c == '\n')
			put(p, "\\n", 2);
		else
			put(p, c, 1);
	}
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	put(p, " ", 1);
	puts_(p, type);
	put(p, "\n", 1);
}

static void sample(struct prom *p, const char *name, const char *labels, const char *value)
{
	puts_(p, name);
	if (labels && *labels) {
		put(p, "{", 1);
		puts_(p, labels);
		put(p, "}", 1);
	}
	put(p, " ", 1);
	puts_(p, value);
	put(p, "\n", 1);
}

void prom_u64(struct prom *p, const char *name, const char *labels, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	sample(p, name, labels, num);
}

void prom_i64(struct prom *p, const char *name, const char *labels, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	sample(p, name, labels, num);
}

void prom_format_double(double v, char *buf, size_t size)
{
	static const char *const fmts[] = { "%.15g", "%.16g", "%.17g" };
	size_t i;

	if (isnan(v)) {
		snprintf(buf, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		snprintf(buf, size, fmts[i], v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void prom_double(struct prom *p, const char *name, const char *labels, double v)
{
	char num[32];

	prom_format_double(v, num, sizeof(num));
	sample(p, name, labels, num);
}

void prom_bytes(struct prom *p, const char *name, const char *labels, uint64_t pages,
		uint64_t page_size)
{
	if (!page_size || pages <= UINT64_MAX / page_size)
		prom_u64(p, name, labels, pages * page_size);
	else
		prom_double(p, name, labels, (double)pages * (double)page_size);
}

int prom_escape_label(const char *in, char *out, size_t size)
{
	size_t n = 0;
	const char *c;

	for (c = in; *c; c++) {
		const char *rep = *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" :
				  *c == '\n' ? "\\n" : NULL;
		size_t len = rep ? 2 : 1;

		if (n + len + 1 > size) {
			if (size)
				out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + n, rep ? rep : c, len);
		n += len;
	}
	if (n + 1 > size)
		return -ENOSPC;
	out[n] = '\0';
	return 0;
}

int prom_labels(char *buf, size_t size, ...)
{
	const char *name, *value;
	size_t n = 0;
	va_list ap;
	int err = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	va_start(ap, size);
	while (!err && (name = va_arg(ap, const char *))) {
		value = va_arg(ap, const char *);
		int len = snprintf(buf + n, size - n, "%s%s=\"", n ? "," : "", name);

		if (len < 0 || (size_t)len >= size - n ||
		    prom_escape_label(value, buf + n + len, size - n - (size_t)len)) {
			err = -ENOSPC;
			break;
		}
		n += (size_t)len + strlen(buf + n + len);
		if (n + 2 > size) {
			err = -ENOSPC;
			break;
		}
		buf[n++] = '"';
		buf[n] = '\0';
	}
	va_end(ap);
	if (err)
		buf[0] = '\0';
	return err;
}
