/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pool's free-memory state machine. Pure functions with no kernel
 * dependencies beyond types, so tests/unit compiles them in userspace.
 */
#ifndef _ESXMEM_MEMSTATE_H
#define _ESXMEM_MEMSTATE_H

#include <linux/types.h>
#include "uapi/esxmem.h"

/* Thresholds in per mille of the pool, by state; HIGH's is the level free
 * memory must regain before SOFT returns to HIGH.
 */
struct esxmem_permille {
	unsigned int of[ESXMEM_STATE_NR];
};

/* The same thresholds in pages for a given pool size. */
struct esxmem_thresholds {
	unsigned long of[ESXMEM_STATE_NR];
};

#define ESXMEM_PERMILLE_DEFAULT { .of = { 60, 40, 20, 10 } }

bool esxmem_permille_valid(const struct esxmem_permille *p);
void esxmem_thresholds_compute(struct esxmem_thresholds *t,
			       const struct esxmem_permille *p,
			       unsigned long pool_pages);
enum esxmem_mem_state esxmem_state_next(enum esxmem_mem_state cur,
					long free_pages,
					const struct esxmem_thresholds *t);
const char *esxmem_state_name(enum esxmem_mem_state s);

#endif
