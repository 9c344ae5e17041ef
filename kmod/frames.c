// SPDX-License-Identifier: GPL-2.0
/*
 * The frame table: see frames.h. The caller serializes all calls.
 */
#include <linux/errno.h>
#include "frames.h"

void esxmem_frames_init(struct esxmem_frames *t, struct esxmem_frame *slot,
			unsigned long capacity)
{
	t->slot = slot;
	t->mask = capacity - 1;
	t->shared = 0;
	t->hints = 0;
}

static unsigned long next(const struct esxmem_frames *t, unsigned long pos)
{
	return (pos + 1) & t->mask;
}

static void count(struct esxmem_frames *t, u64 val, long delta)
{
	if (esxmem_frame_is_shared(val))
		t->shared += delta;
	else
		t->hints += delta;
}

/* The slot holding @key, or -1. */
long esxmem_frames_find(const struct esxmem_frames *t, u64 key)
{
	unsigned long pos;

	/* The load limits leave empty slots, so this ends. */
	for (pos = key & t->mask; t->slot[pos].val; pos = next(t, pos))
		if (t->slot[pos].key == key)
			return pos;
	return -1;
}

/*
 * Adds @key, which must not be in the table, with @val. Past the hint load
 * a hint takes the place of the hint nearest its home slot, whose value
 * goes to *@evicted (else 0 goes there), or the empty slot met first while
 * the table is below its maximum load; past the maximum load so does a
 * shared frame. -ENOSPC when there is neither room nor a hint to evict
 * near the home slot.
 */
int esxmem_frames_insert(struct esxmem_frames *t, u64 key, u64 val,
			 u64 *evicted)
{
	unsigned long cap = t->mask + 1, pos = key & t->mask, i;
	unsigned long used = t->shared + t->hints;
	bool full = used >= ESXMEM_FRAMES_MAX_LOAD(cap);
	bool crowded = full || (!esxmem_frame_is_shared(val) &&
				used >= ESXMEM_FRAMES_HINT_LOAD(cap));

	*evicted = 0;
	if (!crowded) {
		while (t->slot[pos].val)
			pos = next(t, pos);
		goto store;
	}
	/*
	 * Every slot from home to the one taken is occupied, so @key is found
	 * there as if it had been inserted at the end of its cluster.
	 */
	for (i = 0; i < ESXMEM_FRAMES_EVICT_WINDOW; i++) {
		u64 v = t->slot[pos].val;

		if (!v) {
			if (full)
				return -ENOSPC;
			goto store;
		}
		if (!esxmem_frame_is_shared(v)) {
			*evicted = v;
			count(t, v, -1);
			goto store;
		}
		pos = next(t, pos);
	}
	return -ENOSPC;
store:
	t->slot[pos].key = key;
	t->slot[pos].val = val;
	count(t, val, 1);
	return 0;
}

/* Gives the entry at @pos a new value, keeping its key. */
void esxmem_frames_replace(struct esxmem_frames *t, unsigned long pos, u64 val)
{
	count(t, t->slot[pos].val, -1);
	t->slot[pos].val = val;
	count(t, val, 1);
}

/* Whether home slot @home lies cyclically in (@from, @to]. */
static bool home_between(unsigned long home, unsigned long from,
			 unsigned long to)
{
	if (from <= to)
		return from < home && home <= to;
	return from < home || home <= to;
}

/*
 * Removes the entry at @pos. Later entries of its cluster move back into
 * the gap unless that would put them before their home slot.
 */
void esxmem_frames_delete(struct esxmem_frames *t, unsigned long pos)
{
	unsigned long gap = pos, j = pos;

	count(t, t->slot[pos].val, -1);
	for (;;) {
		j = next(t, j);
		if (!t->slot[j].val)
			break;
		/* An entry whose home lies after the gap must stay. */
		if (home_between(t->slot[j].key & t->mask, gap, j))
			continue;
		t->slot[gap] = t->slot[j];
		gap = j;
	}
	t->slot[gap].key = 0;
	t->slot[gap].val = 0;
}

/*
 * Removes the hints of VM @vm_id from at most @budget slots from *@pos on,
 * leaving *@pos where to go on (past the end when done); returns how many.
 * In steps, so that a caller can yield the CPU between them.
 */
unsigned long esxmem_frames_purge_vm_step(struct esxmem_frames *t, u32 vm_id,
					  unsigned long *pos,
					  unsigned long budget)
{
	unsigned long removed = 0;

	while (*pos <= t->mask && budget--) {
		u64 v = t->slot[*pos].val;

		if (v && !esxmem_frame_is_shared(v) &&
		    esxmem_frame_hint_vm(v) == vm_id) {
			/* Deletion may move another entry here: look again. */
			esxmem_frames_delete(t, *pos);
			removed++;
			continue;
		}
		(*pos)++;
	}
	return removed;
}

/* Removes every hint of VM @vm_id; returns how many. */
unsigned long esxmem_frames_purge_vm(struct esxmem_frames *t, u32 vm_id)
{
	unsigned long pos = 0;

	return esxmem_frames_purge_vm_step(t, vm_id, &pos, ~0UL);
}
