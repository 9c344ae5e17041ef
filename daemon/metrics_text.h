/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus's text exposition format (version 0.0.4), written into a
 * growing buffer: families with their HELP and TYPE lines, samples with
 * escaped label values and numbers as Prometheus parses them. Pure: no
 * I/O, so the unit tests check it byte by byte.
 *
 *	struct prom p;
 *	prom_init(&p);
 *	prom_family(&p, "esxmem_vm_size_bytes", "gauge", "Guest RAM.");
 *	prom_labels(labels, sizeof(labels), "name", vm_name, "id", "3", NULL);
 *	prom_u64(&p, "esxmem_vm_size_bytes", labels, 1073741824);
 *	text = prom_take(&p, &len);	// NULL if memory ran out
 */
#ifndef ESXMEMD_METRICS_TEXT_H
#define ESXMEMD_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom {
	char *buf;
	size_t len, cap;
	bool failed;			/* out of memory: prom_take() gives NULL */
};

void prom_init(struct prom *p);

/* The text (NUL-terminated, *@len bytes without the NUL), now the caller's
 * to free(); NULL when memory ran out on the way. @p is empty afterwards. */
char *prom_take(struct prom *p, size_t *len);

/* Frees what @p holds. */
void prom_free(struct prom *p);

/* "# HELP name help" and "# TYPE name type"; @help is escaped. */
void prom_family(struct prom *p, const char *name, const char *type, const char *help);

/*
 * One sample, "name{labels} value": @labels as prom_labels() made them,
 * or NULL or "" for none.
 */
void prom_u64(struct prom *p, const char *name, const char *labels, uint64_t v);
void prom_i64(struct prom *p, const char *name, const char *labels, int64_t v);
void prom_double(struct prom *p, const char *name, const char *labels, double v);

/*
 * pages * page_size bytes: exact as an integer when it fits in 64 bits,
 * else as a float (Prometheus keeps every value as a float anyway).
 */
void prom_bytes(struct prom *p, const char *name, const char *labels, uint64_t pages,
		uint64_t page_size);

/*
 * A label set, name="value",... from NULL-terminated pairs of names and
 * values, values escaped; without the braces. -ENOSPC (and "" in @buf)
 * when it does not fit in @size bytes.
 */
int prom_labels(char *buf, size_t size, ...) __attribute__((sentinel));

/*
 * @in escaped as a label value: backslash, double quote and newline
 * become \\, \" and \n. -ENOSPC (and "" in @out) when it does not fit.
 */
int prom_escape_label(const char *in, char *out, size_t size);

/* @v as Prometheus reads it back exactly: "NaN", "+Inf", "-Inf", or the
 * shortest of %.15g, %.16g and %.17g that round-trips. */
void prom_format_double(double v, char *buf, size_t size);

#endif
