/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page model that esxmem_stress and the soak check guest RAM against:
 * each page holds the pattern of a non-zero 32-bit seed (vmm_pattern() of
 * each dword's guest-physical address) or, for seed 0, zeros. Pages are
 * written and read through the host mapping or from inside a tiny-VMM
 * guest; these helpers are the parts of that which do not depend on how a
 * test keeps its model or counts its results.
 */
#ifndef ESXMEM_TEST_PAGEMODEL_H
#define ESXMEM_TEST_PAGEMODEL_H

#include "esxtest.h"
#include "vmm/vmm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* xorshift64*: a cheap generator, one state per thread. */
static inline uint64_t pm_rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t pm_rnd_below(uint64_t *s, uint64_t n)
{
	return (pm_rnd(s) >> 11) % n;
}

/* A seed that is not 0, which stands for zeros. */
static inline uint32_t pm_fresh_seed(uint64_t *s)
{
	uint32_t seed;

	do
		seed = (uint32_t)(pm_rnd(s) >> 32);
	while (!seed);
	return seed;
}

/* Whether the page at @p, guest-physical @gpa, holds what @seed says. */
static inline bool pm_page_ok(const void *p, uint64_t gpa, uint32_t seed)
{
	if (!seed)
		return esx_is_zero(p, ESX_PAGE);
	return vmm_pattern_check(p, gpa, ESX_PAGE, seed, NULL) == 0;
}

/*
 * The wrong dwords of a page that is not what @seed says: how many, and in
 * *@first the index of the first one (0 when there is none).
 */
static inline size_t pm_wrong_dwords(const void *p, uint64_t gpa, uint32_t seed,
				     size_t *first)
{
	const uint32_t *q = p;
	size_t i, bad = 0;

	*first = 0;
	for (i = 0; i < ESX_PAGE / 4; i++) {
		uint32_t want = seed ? vmm_pattern(gpa + 4 * i, seed) : 0;

		if (q[i] != want && !bad++)
			*first = i;
	}
	return bad;
}

/*
 * The guest routine that writes @seed's pattern into @n pages from @gpa:
 * its registers go in *@r.
 */
static inline enum vmm_routine pm_guest_fill(struct vmm_regs *r, uint64_t gpa,
					     uint64_t n, uint32_t seed)
{
	*r = (struct vmm_regs){ .ebx = (uint32_t)gpa, .ecx = (uint32_t)n, .edx = seed };
	return VMM_FILL;
}

/*
 * The guest routine that reads @n pages from @gpa: once run, eax holds for
 * a pattern the number of wrong dwords, and for zeros the XOR of all
 * dwords; either is 0 when the pages are right.
 */
static inline enum vmm_routine pm_guest_look(struct vmm_regs *r, uint64_t gpa,
					     uint64_t n, uint32_t seed)
{
	if (seed) {
		*r = (struct vmm_regs){ .ebx = (uint32_t)gpa, .ecx = (uint32_t)n,
					.edx = seed };
		return VMM_CHECK;
	}
	*r = (struct vmm_regs){ .ebx = (uint32_t)gpa,
				.ecx = (uint32_t)(n * ESX_PAGE / 4), .edx = 4 };
	return VMM_TOUCH;
}

/* Runs a guest routine that reads pages: eax as pm_guest_look() says. */
typedef int64_t (*pm_look_fn)(void *ctx, uint64_t page, uint64_t n, uint32_t seed);

/*
 * Checks pages [@page, @page + @n), which all should hold @seed, from
 * inside the guest through @look: all at once, and only when something is
 * wrong one by one, to mark in @bad[0..n) the pages that are. 0, or -1 when
 * the guest could not run.
 */
static inline int pm_guest_find_wrong(pm_look_fn look, void *ctx, uint64_t page,
				      size_t n, uint32_t seed, bool *bad)
{
	int64_t v = look(ctx, page, n, seed);
	size_t i;

	if (v < 0)
		return -1;
	for (i = 0; v && i < n; i++) {
		int64_t pv = look(ctx, page + i, 1, seed);

		if (pv < 0)
			return -1;
		bad[i] = pv != 0;
	}
	return 0;
}

#endif
