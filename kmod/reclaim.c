// SPDX-License-Identifier: GPL-2.0
/*
 * Reclamation inside the module: guest pages compressed into the
 * compression cache (compress.c) or written to the VM's swap file
 * (swap.c), and read back on the next touch.
 *
 * Victims are private pages picked at random, as ESX does: the module
 * cannot see the guest's own idea of which pages are cold, and random
 * choice cannot be gamed by a guest's access pattern. A page someone else
 * holds (a GUP pin for DMA, a pipe, a fault in progress) is skipped before
 * it is unmapped, and marked so that the next picks pass it over; the marks
 * go every HELD_RECHECK, when the holders may have let go. A VM's marked
 * pages do not count as memory it can give, and a VM that gave nothing is
 * passed over for a while (BARREN_PAUSE), so the emergency path moves on
 * to VMs that can give memory instead of starving behind pinned ones.
 *
 * Two things make the reclaim thread work:
 *  - a VM's swap target, set by the daemon in the hard and low states:
 *    the VM's pages go out while it consumes more than the target;
 *  - the emergency path: in the hard and low states, whether or not a
 *    daemon runs, pages go out of the VM furthest above its target (or,
 *    with no targets, its minimum) until free memory is back above the
 *    soft threshold.
 * In the low state, a VM above its target also waits at each new page for
 * the state to pass (pool.c), so reclaim catches up with it.
 *
 * Locking: a VM's reclaim lock serializes its page-outs, page-ins and
 * everything in its compression and swap slots. It nests outside page
 * locks, which nest outside the VM's spinlock. A swapped or compressed
 * entry changes only under the reclaim lock.
 */
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "esxmem.h"

struct esxmem_reclaimer esxmem_reclaimer = {
	.wait = __WAIT_QUEUE_HEAD_INITIALIZER(esxmem_reclaimer.wait),
	.enabled = true,
	.compress_percent = 10,
};

static struct task_struct *reclaimer;
static unsigned long kicked;

/* Once a minute at most: a frozen filesystem is worth a note, not a flood. */
static struct ratelimit_state swap_frozen_rs =
	RATELIMIT_STATE_INIT_FLAGS(swap_frozen_rs, 60 * HZ, 1, RATELIMIT_MSG_ON_RELEASE);

#define RECLAIM_BATCH	64	/* pages per VM before looking around */
#define PICK_WINDOW	64	/* entries looked at from a random start */
#define PICK_TRIES	8
#define HELD_RECHECK	(5 * HZ)
#define BARREN_PAUSE	HZ
#define EMERGENCY_VICTIMS 8	/* VMs tried in a row when none gives */

/* ---- the compression cache's slots ---------------------------------- */

static unsigned long compress_limit(struct esxmem_vm *vm)
{
	u64 max = READ_ONCE(vm->reclaim.compress_max);

	if (max == U64_MAX)
		max = (u64)vm->npages *
		      READ_ONCE(esxmem_reclaimer.compress_percent) / 100;
	return min_t(u64, max, vm->npages);
}

/* A free slot, growing the table up to the VM's limit; or -ENOSPC. */
static long zslot_get(struct esxmem_vm *vm)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long limit = compress_limit(vm), size, i, s;
	unsigned long *table;

	lockdep_assert_held(&r->lock);
	if (r->zused >= limit)
		return -ENOSPC;
	if (r->zused == r->zslots) {
		size = min(limit, max(2 * r->zslots, 256UL));
		table = esxmem_table_alloc(size, sizeof(*table));
		if (!table)
			return -ENOMEM;
		if (r->zslots)
			memcpy(table, r->zslot, r->zslots * sizeof(*table));
		kvfree(r->zslot);
		r->zslot = table;
		r->znext = r->zslots;
		r->zslots = size;
	}
	for (i = 0; i < r->zslots; i++) {
		s = (r->znext + i) % r->zslots;
		if (!r->zslot[s])
			return s;
	}
	return -ENOSPC;		/* not reached: zused < zslots */
}

/* Frees what swapped or compressed entry @e held; the entry is cleared. */
void esxmem_reclaim_drop(struct esxmem_vm *vm, esxmem_pte_t e)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long slot = esxmem_pte_payload(e);

	lockdep_assert_held(&r->lock);
	if (esxmem_pte_state(e) == ESXMEM_PAGE_COMPRESSED) {
		esxmem_zstore_free(r->zslot[slot]);
		r->zslot[slot] = 0;
		r->zused--;
	} else if (esxmem_pte_state(e) == ESXMEM_PAGE_SWAPPED) {
		esxmem_swap_slot_put(r, slot);
	}
}

/* ---- page-out and page-in ---------------------------------------------- */

/*
 * Puts the data of @page, locked and unmapped, in the compression cache or,
 * when it does not compress or the cache is full, in the swap file: the
 * entry that finds it again in *@outp. The errors are page_out()'s.
 */
static int store_page(struct esxmem_vm *vm, struct page *page,
		      esxmem_pte_t *outp)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long handle;
	esxmem_pte_t out;
	long slot;
	int err;

	slot = zslot_get(vm);
	err = slot < 0 ? slot : esxmem_zstore_put(page, &handle);
	if (!err) {
		r->zslot[slot] = handle;
		r->zused++;
		r->znext = slot + 1;
		out = esxmem_pte_make(ESXMEM_PAGE_COMPRESSED, slot, 0);
		atomic64_inc(&r->compress_outs);
	} else {
		if (err == -E2BIG)
			atomic64_inc(&r->compress_rejects);
		if (r->swap_file) {
			slot = esxmem_swap_out(r, page);
			err = slot < 0 ? slot : 0;
			if (!err) {
				out = esxmem_pte_make(ESXMEM_PAGE_SWAPPED,
						      slot, 0);
				atomic64_inc(&r->swap_outs);
			} else if (err == -EAGAIN) {
				/* Frozen, for a snapshot say: not a failure. */
				if (__ratelimit(&swap_frozen_rs))
					pr_info("esxmem: VM %u: the swap file's filesystem is frozen; pages stay in memory until it is thawed\n",
						vm->id);
			} else if (err != -ENOSPC || r->swap_used < r->swap_slots) {
				atomic64_inc(&r->swap_errors);
				pr_warn_ratelimited("esxmem: VM %u: swap file write failed (%d); its pages stay in memory: check the swap file's filesystem\n",
						    vm->id, err);
			}
		}
		if (err)
			return err;
	}
	*outp = out;
	return 0;
}

/*
 * Pages out the large page that @piece, referenced and locked, is part of,
 * whole: every piece goes to the cache or the swap file, as a small page
 * would, and the large page goes back to the pool: when reclaim cannot
 * have the small pages that breaking it takes, or finds it held (page_out()).
 * Reclaim's batches are smaller than a large page, so it is not asked for
 * a whole one otherwise. Only when some piece cannot go (it does not
 * compress and there is no swap, or no room) is the large page broken, so
 * that the pieces that can go are paged out on the next picks; not when
 * page_out() found a moment ago that the small pages cannot be had
 * (!@may_break). Unlocks and drops @piece. The pages paged out, or
 * page_out()'s errors.
 */
static long page_out_large(struct esxmem_vm *vm, pgoff_t index,
			   struct page *piece, bool may_break)
{
	struct folio *folio = page_folio(piece);
	pgoff_t base = esxmem_large_base(index);
	esxmem_pte_t *out = NULL;
	unsigned long i, j;
	long err;

	/* A pinned page first, before its mappings go, as page_out() does. */
	if (!folio_maybe_dma_pinned(folio))
		unmap_mapping_range(vm->mapping, (loff_t)base << PAGE_SHIFT,
				    PMD_SIZE, 0);
	if (folio_mapped(folio) || folio_maybe_dma_pinned(folio) ||
	    folio_ref_count(folio) != 2) {
		/* Every piece: each would take the whole page down again. */
		spin_lock(&vm->lock);
		for (i = 0; i < ESXMEM_LARGE_PAGES; i++)
			if (esxmem_pte_maps(vm->pmap[base + i],
					    folio_page(folio, i)))
				esxmem_vm_set_pte(vm, base + i,
						  vm->pmap[base + i] |
						  ESXMEM_PTE_HELD);
		spin_unlock(&vm->lock);
		atomic64_inc(&vm->reclaim.skipped);
		err = -EBUSY;
		goto unlock;
	}
	out = kvmalloc_array(ESXMEM_LARGE_PAGES, sizeof(*out), GFP_KERNEL);
	err = -EAGAIN;
	if (!out)
		goto unlock;
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		err = store_page(vm, folio_page(folio, i), &out[i]);
		if (err) {
			for (j = 0; j < i; j++)
				esxmem_reclaim_drop(vm, out[j]);
			goto unlock;
		}
		cond_resched();
	}
	spin_lock(&vm->lock);
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		/* The idle sampler's mark stays: a touch still counts. */
		esxmem_vm_set_pte(vm, base + i,
				  out[i] | (vm->pmap[base + i] &
					    ESXMEM_PTE_SAMPLED));
	}
	spin_unlock(&vm->lock);
	folio_unlock(folio);
	folio_put(folio);
	/* The pmap's reference: the large page goes back to the pool. */
	esxmem_vm_free_page(&folio->page);
	atomic_long_dec(&esxmem_large.in_use);
	kvfree(out);
	return ESXMEM_LARGE_PAGES;
unlock:
	kvfree(out);
	folio_unlock(folio);
	folio_put(folio);
	if (may_break && (err == -E2BIG || err == -ENOSPC || err == -ENOMEM) &&
	    !esxmem_large_break(vm, index))
		return -EAGAIN;
	return err;
}

/*
 * Whether the private page of entry @e is a piece of a large page. Read
 * without a page reference: the pmap's keeps it, or, should the entry
 * have changed meanwhile, the answer is a hint for pick() and no more.
 */
static bool entry_is_large(esxmem_pte_t e)
{
	return esxmem_page_is_large(pfn_to_page(esxmem_pte_payload(e)));
}

/*
 * Compresses or swaps out the private page at @index, or the large page it
 * is part of when @need, the pages still asked for, takes a large page;
 * when it takes less, as a batch of reclaim_vm() always does, the large
 * page is broken instead (0), for its pieces to go one by one, so that
 * reclaim frees what it is asked and no more. This is how the large pages
 * of cold memory are broken. Breaking may take
 * the pool up to one large page beyond its size for a moment (pool.c):
 * when even that cannot be had, the large page goes out whole after all,
 * as it needs no memory to free memory. The pages paged out on success;
 * -EAGAIN or -EBUSY to try another page (-EAGAIN also when the swap file's
 * filesystem is frozen: another page may compress); -E2BIG when it did not
 * compress and there is no swap; -ENOSPC when there is no room left;
 * -ENOMEM when the compression store may not grow and there is no swap; or
 * the swap file's error. The page stays as it was on any error.
 */
static long page_out(struct esxmem_vm *vm, pgoff_t index, unsigned long need)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	esxmem_pte_t e, out;
	bool may_break = true;
	struct page *page;
	int err;

	lockdep_assert_held(&r->lock);
	page = esxmem_vm_get_private(vm, index);
	if (!page)
		return -EAGAIN;
	/* A page being faulted in is in use. */
	err = -EAGAIN;
	if (!trylock_page(page))
		goto put;
	e = READ_ONCE(vm->pmap[index]);
	if (!esxmem_pte_private(e, page) ||
	    (e & (ESXMEM_PTE_HELD | ESXMEM_PTE_CANDIDATE)))
		goto unlock;
	if (esxmem_page_is_large(page) && need < ESXMEM_LARGE_PAGES) {
		unlock_page(page);
		put_page(page);
		err = esxmem_large_break(vm, index);
		/* Held: page_out_large() marks it so, for picks to pass over. */
		if (err != -ENOMEM && err != -EBUSY)
			return err;
		may_break = err != -ENOMEM;
		page = esxmem_vm_get_private(vm, index);
		if (!page)
			return -EAGAIN;
		err = -EAGAIN;
		if (!trylock_page(page))
			goto put;
		e = READ_ONCE(vm->pmap[index]);
		if (!esxmem_pte_private(e, page) || (e & ESXMEM_PTE_HELD))
			goto unlock;
	}
	if (esxmem_page_is_large(page))
		return page_out_large(vm, index, page, may_break);
	/*
	 * A held page first, before its mappings go: unmapping it would only
	 * make the VMM fault it back for nothing.
	 */
	err = -EBUSY;
	if (esxmem_page_held(page, 1) ||
	    !esxmem_vm_isolate_page(vm, index, page)) {
		spin_lock(&vm->lock);
		if (esxmem_pte_private(vm->pmap[index], page))
			esxmem_vm_set_pte(vm, index,
					  vm->pmap[index] | ESXMEM_PTE_HELD);
		spin_unlock(&vm->lock);
		atomic64_inc(&r->skipped);
		goto unlock;
	}

	err = store_page(vm, page, &out);
	if (err)
		goto unlock;
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	/* The idle sampler's mark stays: a touch still counts. */
	esxmem_vm_set_pte(vm, index, out | (e & ESXMEM_PTE_SAMPLED));
	spin_unlock(&vm->lock);
	unlock_page(page);
	put_page(page);
	/* The pmap's reference: the machine page goes back to the pool. */
	esxmem_vm_free_page(page);
	return 1;
unlock:
	unlock_page(page);
put:
	put_page(page);
	return err;
}

/*
 * Makes @fresh, a page of the pool, the private page at @index with the
 * contents that swapped or compressed entry @e holds, and returns it
 * locked. -EAGAIN when the entry changed meanwhile (fault again), or the
 * read's error: then the data stays where it was. With @nowait, nothing
 * sleeps: -EWOULDBLOCK where the reclaim lock is busy or swap I/O is due.
 */
int esxmem_page_in(struct esxmem_vm *vm, pgoff_t index, esxmem_pte_t e,
		   struct page *fresh, bool nowait)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long slot = esxmem_pte_payload(e);
	bool compressed = esxmem_pte_state(e) == ESXMEM_PAGE_COMPRESSED;
	esxmem_pte_t cur;
	int err;

	if (!nowait)
		mutex_lock(&r->lock);
	else if (!compressed || !mutex_trylock(&r->lock))
		return -EWOULDBLOCK;
	cur = READ_ONCE(vm->pmap[index]);
	if ((cur ^ e) & ~ESXMEM_PTE_FLAGS) {
		mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	err = compressed ? esxmem_zstore_get(r->zslot[slot], fresh) :
			   esxmem_swap_in(r, fresh, slot);
	if (err) {
		mutex_unlock(&r->lock);
		atomic64_inc(compressed ? &r->compress_errors : &r->swap_errors);
		pr_err_ratelimited("esxmem: VM %u: cannot read page %lu back from %s (%d); the access gets SIGBUS\n",
				   vm->id, index,
				   compressed ? "the compression cache" : "the swap file",
				   err);
		return err;
	}
	/* Unpublished until now, so nobody else holds its lock. */
	__SetPageLocked(fresh);
	spin_lock(&vm->lock);
	cur = vm->pmap[index];
	esxmem_vm_set_pte(vm, index,
			  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
					  page_to_pfn(fresh),
					  cur & ESXMEM_PTE_SAMPLED));
	spin_unlock(&vm->lock);
	esxmem_reclaim_drop(vm, e);
	mutex_unlock(&r->lock);
	atomic64_inc(compressed ? &r->compress_ins : &r->swap_ins);
	return 0;
}

/* ---- choosing pages and VMs -------------------------------------------- */

/*
 * A candidate of the safe sharing mode (share.c) is not reclaimed while it
 * is one, merged or not: a merged one is a shared frame, which reclaim
 * never takes, and an unmerged one paged out would come back by page-in,
 * mapped without the copy on access; either way the guest could tell the
 * two kinds apart. Keeping the mark through page-out and page-in would not
 * help, as the merged kind would still never go out. A candidate's next
 * access makes it an ordinary private page again.
 */
static bool reclaimable(esxmem_pte_t e)
{
	return esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE &&
	       !(e & (ESXMEM_PTE_HELD | ESXMEM_PTE_CANDIDATE));
}

/* Whether @vm's held marks are due to go, for its pages to be tried again. */
static bool held_due(struct esxmem_vm *vm)
{
	return READ_ONCE(vm->held_pages) &&
	       time_after(jiffies, vm->reclaim.held_checked + HELD_RECHECK);
}

/* Takes the held marks off @vm's pages, so that reclaim tries them again. */
static void clear_held(struct esxmem_vm *vm)
{
	unsigned long i, n = vm->npages;

	lockdep_assert_held(&vm->reclaim.lock);
	vm->reclaim.held_checked = jiffies;
	for (i = 0; i < n && READ_ONCE(vm->held_pages); i++) {
		if (!(READ_ONCE(vm->pmap[i]) & ESXMEM_PTE_HELD))
			goto next;
		spin_lock(&vm->lock);
		if (vm->pmap[i] & ESXMEM_PTE_HELD)
			esxmem_vm_set_pte(vm, i, vm->pmap[i] & ~ESXMEM_PTE_HELD);
		spin_unlock(&vm->lock);
next:
		if (!(i % 4096))
			cond_resched();
	}
}

/*
 * A private page of @vm at random, or -ENOENT. With @small, a small page
 * where the window looked at holds one, rather than a piece of a large
 * page there: reclaim asked for less than a large page, which would have
 * to be broken. Only within the window, so that the choice stays random:
 * small pages that do not compress must not keep reclaim from the rest.
 */
static long pick(struct esxmem_vm *vm, bool small)
{
	unsigned long n = vm->npages, start, i, t;
	long large;

	for (t = 0; t < PICK_TRIES; t++) {
		start = get_random_u64() % n;
		large = -ENOENT;
		spin_lock(&vm->lock);
		for (i = 0; i < min_t(unsigned long, PICK_WINDOW, n); i++) {
			pgoff_t index = (start + i) % n;
			esxmem_pte_t e = vm->pmap[index];

			if (!reclaimable(e))
				continue;
			if (small && entry_is_large(e)) {
				if (large < 0)
					large = index;
				continue;
			}
			spin_unlock(&vm->lock);
			return index;
		}
		spin_unlock(&vm->lock);
		if (large >= 0)
			return large;
	}
	/* Few private pages: look at every entry, from a random start. */
	start = get_random_u64() % n;
	for (i = 0; i < n; i++) {
		pgoff_t index = (start + i) % n;

		if (reclaimable(READ_ONCE(vm->pmap[index])))
			return index;
		if (!(i % 4096))
			cond_resched();
	}
	return -ENOENT;
}

/*
 * The first private small page at or after @from in its 2 MiB, or -ENOENT:
 * after a large page is broken, its pieces go before another large page is
 * broken.
 */
static long pick_near(struct esxmem_vm *vm, pgoff_t from)
{
	pgoff_t end = min(esxmem_large_base(from) + ESXMEM_LARGE_PAGES,
			  vm->npages);

	for (; from < end; from++) {
		esxmem_pte_t e = READ_ONCE(vm->pmap[from]);

		if (reclaimable(e) && !entry_is_large(e))
			return from;
	}
	return -ENOENT;
}

/*
 * Pages out up to @want pages of @vm; how many went. Reclaim goes a batch
 * (RECLAIM_BATCH) at a time, for the free-memory states to be passed one
 * by one, and a batch is smaller than a large page: the large pages it
 * picks are broken, and their pieces go first, in this batch and the next
 * ones (vm->reclaim.broken_near), before another large page is broken.
 */
static unsigned long reclaim_vm(struct esxmem_vm *vm, unsigned long want)
{
	unsigned long done = 0, tries = 0;
	long index, near, err;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap) || !want)
		return 0;
	mutex_lock(&vm->reclaim.lock);
	near = vm->reclaim.broken_near;
	if (held_due(vm))
		clear_held(vm);
	while (done < want && tries++ < 4 * want + PICK_TRIES) {
		bool small = want - done < ESXMEM_LARGE_PAGES;

		/* The pieces of a large page just broken go first. */
		index = near >= 0 ? pick_near(vm, near) : -ENOENT;
		near = index >= 0 && esxmem_large_base(index + 1) ==
			esxmem_large_base(index) ? index + 1 : -ENOENT;
		if (index < 0)
			index = pick(vm, small);
		if (index < 0)
			break;
		err = page_out(vm, index, want - done);
		if (!err)
			near = esxmem_large_base(index);
		else if (err > 0)
			done += err;
		else if (err != -EAGAIN && err != -EBUSY && err != -E2BIG)
			break;		/* nowhere to put pages */
	}
	vm->reclaim.broken_near = near;
	mutex_unlock(&vm->reclaim.lock);
	if (!done)
		vm->reclaim.barren_until = jiffies + BARREN_PAUSE;
	return done;
}

static unsigned long consumed(struct esxmem_vm *vm)
{
	return READ_ONCE(vm->state_pages[ESXMEM_PAGE_PRIVATE]);
}

/*
 * What @vm could give above @floor, and at least its minimum: its private
 * pages less those found held, until they are due to be tried again.
 */
static unsigned long above(struct esxmem_vm *vm, u64 floor)
{
	u64 c = consumed(vm);

	if (!held_due(vm))
		c -= min_t(u64, c, READ_ONCE(vm->held_pages));

	floor = max_t(u64, floor, READ_ONCE(vm->min_pages));
	return c > floor ? c - floor : 0;
}

/* The daemon's swap targets. */
static unsigned long reclaim_targets(void)
{
	unsigned long done = 0, excess;
	struct esxmem_vm *vm;
	u64 target;
	u32 id = 0;

	for (;; id++) {
		vm = esxmem_vm_next_held(&id);
		if (!vm)
			break;
		target = READ_ONCE(vm->reclaim.swap_target);
		excess = target == U64_MAX ? 0 : above(vm, target);
		if (excess)
			done += reclaim_vm(vm, min_t(unsigned long, excess,
						     RECLAIM_BATCH));
		esxmem_vm_put(vm);
		if (kthread_should_stop())
			break;
	}
	return done;
}

/*
 * The VM to take from in an emergency, referenced: the one furthest above
 * its target, or, when none is above, the one furthest above its minimum.
 * A VM that gave nothing a moment ago is passed over.
 */
static struct esxmem_vm *emergency_victim(void)
{
	unsigned long best_over = 0, best_min = 0, over;
	struct esxmem_vm *vm, *victim = NULL;
	u32 id = 0;

	mutex_lock(&esxmem_vms_lock);
	while ((vm = esxmem_vm_next(&id))) {
		u64 target = READ_ONCE(vm->target_pages);

		if (time_before(jiffies, vm->reclaim.barren_until)) {
			id++;
			continue;
		}
		over = target ? above(vm, target) : 0;
		if (over > best_over ||
		    (!best_over && above(vm, 0) > best_min)) {
			victim = vm;
			best_over = over;
			best_min = above(vm, 0);
		}
		id++;
	}
	if (victim && !esxmem_vm_grab(victim))
		victim = NULL;
	mutex_unlock(&esxmem_vms_lock);
	return victim;
}

static unsigned long reclaim_emergency(void)
{
	struct esxmem_pool *p = &esxmem_pool;
	unsigned long done = 0;
	struct esxmem_vm *vm;
	int victims;
	long need;

	if (READ_ONCE(p->state) < ESXMEM_STATE_HARD)
		return 0;
	/* Back above the soft threshold, where the hard state ends. */
	need = (long)READ_ONCE(p->thresholds.of[ESXMEM_STATE_SOFT]) -
	       esxmem_pool_free_pages();
	if (need <= 0)
		return 0;
	/* A victim that gives nothing is passed over: try the next ones. */
	for (victims = 0; !done && victims < EMERGENCY_VICTIMS; victims++) {
		vm = emergency_victim();
		if (!vm)
			break;
		done = reclaim_vm(vm, min_t(unsigned long, need, RECLAIM_BATCH));
		esxmem_vm_put(vm);
	}
	atomic64_add(done, &esxmem_reclaimer.emergency_pages);
	return done;
}

static int reclaimer_main(void *unused)
{
	unsigned long done;

	set_freezable();
	while (!kthread_should_stop()) {
		clear_bit(0, &kicked);
		/* Freed pages whose holders let go: see held.c. */
		esxmem_held_scan();
		/* Pages zsmalloc let go of on its own. */
		esxmem_zstore_resync();
		done = 0;
		if (READ_ONCE(esxmem_reclaimer.enabled))
			done = reclaim_emergency() + reclaim_targets();
		if (done) {
			cond_resched();
			continue;
		}
		/* Nothing to do, or no way to do it: look again soon. */
		wait_event_freezable_timeout(esxmem_reclaimer.wait,
					     kthread_should_stop() ||
					     test_bit(0, &kicked), HZ / 2);
	}
	return 0;
}

void esxmem_reclaim_kick(void)
{
	set_bit(0, &kicked);
	wake_up_all(&esxmem_reclaimer.wait);
}

u64 esxmem_reclaim_cpu_ns(void)
{
	return reclaimer ? READ_ONCE(reclaimer->se.sum_exec_runtime) : 0;
}

/* Whether a new page for @vm waits in the low state (see pool.c). */
bool esxmem_reclaim_holds_back(struct esxmem_vm *vm)
{
	u64 target = READ_ONCE(vm->target_pages);

	return READ_ONCE(esxmem_pool.state) == ESXMEM_STATE_LOW && target &&
	       consumed(vm) >= target;
}

/* Sums a per-VM counter over every VM, for sysfs. */
u64 esxmem_reclaim_sum(size_t offset)
{
	struct esxmem_vm *vm;
	u64 sum = 0;
	u32 id = 0;

	mutex_lock(&esxmem_vms_lock);
	while ((vm = esxmem_vm_next(&id))) {
		sum += atomic64_read((atomic64_t *)((char *)&vm->reclaim + offset));
		id++;
	}
	mutex_unlock(&esxmem_vms_lock);
	return sum;
}

void esxmem_reclaim_init_vm(struct esxmem_vm *vm)
{
	mutex_init(&vm->reclaim.lock);
	vm->reclaim.broken_near = -ENOENT;
	vm->reclaim.held_checked = jiffies;
	vm->reclaim.barren_until = jiffies;
	vm->reclaim.swap_target = U64_MAX;
	vm->reclaim.compress_max = U64_MAX;
}

/* Called when @vm is torn down: nothing else can reach it any more. */
void esxmem_reclaim_forget_vm(struct esxmem_vm *vm)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long s;

	for (s = 0; s < r->zslots; s++)
		if (r->zslot[s])
			esxmem_zstore_free(r->zslot[s]);
	kvfree(r->zslot);
	esxmem_swap_forget_vm(vm);
}

int esxmem_reclaim_init(void)
{
	int err = esxmem_zstore_init();

	if (err)
		return err;
	reclaimer = kthread_run(reclaimer_main, NULL, "esxmem_reclaim");
	if (IS_ERR(reclaimer)) {
		esxmem_zstore_exit();
		return PTR_ERR(reclaimer);
	}
	return 0;
}

void esxmem_reclaim_exit(void)
{
	kthread_stop(reclaimer);
	esxmem_zstore_exit();
}
