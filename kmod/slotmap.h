/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VM's guest-physical layout over its memory object: pieces of KVM memory
 * slots that lie in the object, sorted by guest frame number. Pure code,
 * unit-tested in userspace through tests/unit/shim.
 */
#ifndef _ESXMEM_SLOTMAP_H
#define _ESXMEM_SLOTMAP_H

#include <linux/types.h>

struct esxmem_slot_piece {
	u32 id;			/* address space << 16 | KVM slot id */
	u64 base_gfn;
	u64 npages;
	u64 offset;		/* object page of base_gfn */
};

struct esxmem_slotmap {
	unsigned int nr;
	unsigned int max;
	struct esxmem_slot_piece piece[];
};

int esxmem_slotmap_add(struct esxmem_slotmap *m,
		       const struct esxmem_slot_piece *p);
bool esxmem_slotmap_gfn_to_offset(const struct esxmem_slotmap *m, u64 gfn,
				  u64 *offset);
bool esxmem_slotmap_offset_to_gfn(const struct esxmem_slotmap *m, u64 offset,
				  u64 *gfn);

#endif
