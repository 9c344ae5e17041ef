/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frame table of content-based page sharing: one open-addressed hash
 * table of sixteen-byte entries, keyed by a page's 64-bit content hash.
 *
 *   shared frame  key, ESXMEM_FRAME_SHARED | machine pfn
 *                 (its sharer count lives in the machine page itself)
 *   hint frame    key, VM id << 32 | guest page index
 *                 (a page seen once; it may have changed since)
 *
 * At most one entry per key: a second page with the key of a hint either
 * turns the hint into a shared frame or, if the hinted page changed,
 * replaces the hint. Capacity is a power of two; linear probing with
 * backward-shift deletion, so there are no tombstones. Pure code, without
 * locking or allocation, so the unit tests compile it unchanged.
 */
#ifndef _ESXMEM_FRAMES_H
#define _ESXMEM_FRAMES_H

#include <linux/types.h>

#define ESXMEM_FRAME_SHARED	(1ULL << 63)
#define ESXMEM_FRAMES_MIN	1024UL
/*
 * Past 13/16 a new hint takes the place of a hint near its home slot
 * rather than lengthen its cluster, unless an empty slot comes first: so
 * that no key is kept out for good by shared frames around its home ...
 */
#define ESXMEM_FRAMES_HINT_LOAD(cap)	((cap) / 16 * 13)
/* ... and nothing goes beyond 7/8, which keeps probe sequences short. */
#define ESXMEM_FRAMES_MAX_LOAD(cap)	((cap) / 8 * 7)
/* How far from its home slot an insertion looks for a hint to evict. */
#define ESXMEM_FRAMES_EVICT_WINDOW	32

struct esxmem_frame {
	u64 key;
	u64 val;		/* 0: empty */
};

struct esxmem_frames {
	struct esxmem_frame *slot;
	unsigned long mask;	/* capacity - 1 */
	unsigned long shared;	/* entries of each kind */
	unsigned long hints;
};

static inline bool esxmem_frame_is_shared(u64 val)
{
	return val & ESXMEM_FRAME_SHARED;
}

static inline u64 esxmem_frame_shared_val(u64 pfn)
{
	return ESXMEM_FRAME_SHARED | pfn;
}

static inline u64 esxmem_frame_pfn(u64 val)
{
	return val & ~ESXMEM_FRAME_SHARED;
}

/* VM ids are below 2^31 and guest page indexes below 2^32. */
static inline u64 esxmem_frame_hint_val(u32 vm_id, u32 index)
{
	return (u64)vm_id << 32 | index;
}

static inline u32 esxmem_frame_hint_vm(u64 val)
{
	return val >> 32;
}

static inline u32 esxmem_frame_hint_index(u64 val)
{
	return (u32)val;
}

void esxmem_frames_init(struct esxmem_frames *t, struct esxmem_frame *slot,
			unsigned long capacity);
long esxmem_frames_find(const struct esxmem_frames *t, u64 key);
int esxmem_frames_insert(struct esxmem_frames *t, u64 key, u64 val,
			 u64 *evicted);
void esxmem_frames_replace(struct esxmem_frames *t, unsigned long pos,
			   u64 val);
void esxmem_frames_delete(struct esxmem_frames *t, unsigned long pos);
unsigned long esxmem_frames_purge_vm_step(struct esxmem_frames *t, u32 vm_id,
					  unsigned long *pos,
					  unsigned long budget);
unsigned long esxmem_frames_purge_vm(struct esxmem_frames *t, u32 vm_id);

#endif
