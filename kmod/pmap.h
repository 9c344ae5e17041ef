/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pmap: one 64-bit entry per guest page of a VM memory object.
 *
 *   bits  0..2   enum esxmem_page_state
 *   bits  3..7   flags
 *   bits  8..63  payload: the machine page frame number for PRIVATE and
 *                SHARED pages, a slot for SWAPPED and COMPRESSED pages,
 *                nothing for the others.
 *
 * Eight bytes per guest page leaves eight of the sixteen-byte budget for
 * the sharing frame table. Entries change only under the object's lock.
 */
#ifndef _ESXMEM_PMAP_H
#define _ESXMEM_PMAP_H

#include <linux/types.h>
#include "uapi/esxmem.h"

typedef u64 esxmem_pte_t;

#define ESXMEM_PTE_STATE_BITS	3
#define ESXMEM_PTE_STATE_MASK	((1ULL << ESXMEM_PTE_STATE_BITS) - 1)
#define ESXMEM_PTE_PAYLOAD_SHIFT 8

/* Set when the idle sampler has unmapped the page to trap its next touch. */
#define ESXMEM_PTE_SAMPLED	(1ULL << 3)
/* Set when the page was made writable since it was last scanned. */
#define ESXMEM_PTE_DIRTY	(1ULL << 4)
/*
 * Set when reclamation found the page held by someone else (a GUP pin for
 * DMA, a pipe): it is passed over until the VM's held pages are looked at
 * again (reclaim.c), and does not count as memory the VM can give.
 */
#define ESXMEM_PTE_HELD		(1ULL << 5)
/*
 * Set when the sharing scanner took the page, private or shared, as a
 * candidate in the safe mode (share.c): it is mapped nowhere, and its next
 * access, read or write, gives it a private copy (fault.c).
 */
#define ESXMEM_PTE_CANDIDATE	(1ULL << 6)
/*
 * Set when the sharing scanner, in the safe mode, unmapped the private page
 * to learn whether it stays idle; any fault at the entry clears it.
 */
#define ESXMEM_PTE_TRAPPED	(1ULL << 7)
#define ESXMEM_PTE_FLAGS	(ESXMEM_PTE_SAMPLED | ESXMEM_PTE_DIRTY | \
				 ESXMEM_PTE_HELD | ESXMEM_PTE_CANDIDATE | \
				 ESXMEM_PTE_TRAPPED)

static inline enum esxmem_page_state esxmem_pte_state(esxmem_pte_t e)
{
	return (enum esxmem_page_state)(e & ESXMEM_PTE_STATE_MASK);
}

static inline u64 esxmem_pte_payload(esxmem_pte_t e)
{
	return e >> ESXMEM_PTE_PAYLOAD_SHIFT;
}

static inline esxmem_pte_t esxmem_pte_make(enum esxmem_page_state state,
					   u64 payload, u64 flags)
{
	return (payload << ESXMEM_PTE_PAYLOAD_SHIFT) |
	       (flags & ESXMEM_PTE_FLAGS) | (u64)state;
}

/* Whether the entry is backed by a machine page its payload names. */
static inline bool esxmem_pte_has_pfn(esxmem_pte_t e)
{
	enum esxmem_page_state s = esxmem_pte_state(e);

	return s == ESXMEM_PAGE_PRIVATE || s == ESXMEM_PAGE_SHARED;
}

#endif
