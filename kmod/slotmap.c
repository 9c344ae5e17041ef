// SPDX-License-Identifier: GPL-2.0
/*
 * Guest frame number <-> object offset translation over a slot map. KVM
 * guarantees that the slots of one address space do not overlap in guest
 * frame numbers, so lookups by gfn are a binary search; one object page
 * may appear at several gfns (aliases), and offset lookups return the
 * lowest.
 */
#include <linux/errno.h>
#include "slotmap.h"

/* Inserts @p keeping the pieces sorted; -ENOSPC when full, -EINVAL on an
 * empty piece or one overlapping another in gfns or wrapping around.
 */
int esxmem_slotmap_add(struct esxmem_slotmap *m,
		       const struct esxmem_slot_piece *p)
{
	unsigned int i;

	if (!p->npages || p->base_gfn + p->npages < p->base_gfn ||
	    p->offset + p->npages < p->offset)
		return -EINVAL;
	if (m->nr == m->max)
		return -ENOSPC;
	for (i = m->nr; i > 0 && m->piece[i - 1].base_gfn > p->base_gfn; i--)
		;
	if (i > 0 && m->piece[i - 1].base_gfn + m->piece[i - 1].npages > p->base_gfn)
		return -EINVAL;
	if (i < m->nr && p->base_gfn + p->npages > m->piece[i].base_gfn)
		return -EINVAL;
	for (unsigned int j = m->nr; j > i; j--)
		m->piece[j] = m->piece[j - 1];
	m->piece[i] = *p;
	m->nr++;
	return 0;
}

bool esxmem_slotmap_gfn_to_offset(const struct esxmem_slotmap *m, u64 gfn,
				  u64 *offset)
{
	unsigned int lo = 0, hi = m->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct esxmem_slot_piece *p = &m->piece[mid];

		if (gfn < p->base_gfn) {
			hi = mid;
		} else if (gfn - p->base_gfn >= p->npages) {
			lo = mid + 1;
		} else {
			*offset = p->offset + (gfn - p->base_gfn);
			return true;
		}
	}
	return false;
}

bool esxmem_slotmap_offset_to_gfn(const struct esxmem_slotmap *m, u64 offset,
				  u64 *gfn)
{
	unsigned int i;

	/* Sorted by gfn, so the first hit is the lowest gfn. */
	for (i = 0; i < m->nr; i++) {
		const struct esxmem_slot_piece *p = &m->piece[i];

		if (offset >= p->offset && offset - p->offset < p->npages) {
			*gfn = p->base_gfn + (offset - p->offset);
			return true;
		}
	}
	return false;
}
