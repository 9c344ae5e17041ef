// SPDX-License-Identifier: GPL-2.0
/*
 * The machine-memory pool: how many pages esxmem may back in total. Pages
 * are charged here before they are allocated, so the host's own memory is
 * never touched beyond the pool: a fault that finds the pool exhausted waits
 * for pages to come back rather than pushing the host into OOM.
 */
#include <linux/mm.h>
#include <linux/printk.h>

#include "esxmem.h"

struct esxmem_pool esxmem_pool = {
	.lock = __SPIN_LOCK_UNLOCKED(esxmem_pool.lock),
	.wait = __WAIT_QUEUE_HEAD_INITIALIZER(esxmem_pool.wait),
	.permille = ESXMEM_PERMILLE_DEFAULT,
	.state = ESXMEM_STATE_HIGH,
	.fault_wait_ms = 10000,
};

long esxmem_pool_free_pages(void)
{
	return (long)READ_ONCE(esxmem_pool.pages) -
	       atomic_long_read(&esxmem_pool.used);
}

static void pool_update_state(void)
{
	struct esxmem_pool *p = &esxmem_pool;
	enum esxmem_mem_state old;
	bool changed = false;

	/* Cheap unlocked test first: the state rarely changes. */
	old = READ_ONCE(p->state);
	if (esxmem_state_next(old, esxmem_pool_free_pages(), &p->thresholds) == old)
		return;

	spin_lock(&p->lock);
	old = p->state;
	p->state = esxmem_state_next(old, esxmem_pool_free_pages(),
				     &p->thresholds);
	if (p->state != old) {
		atomic_long_inc(&p->state_changes);
		changed = true;
	}
	spin_unlock(&p->lock);

	if (changed) {
		/* Faults held back in the low state wait for a change. */
		wake_up_all(&p->wait);
		if (p->state >= ESXMEM_STATE_HARD)
			esxmem_reclaim_kick();
		pr_debug("esxmem: free-memory state %s -> %s, %ld pages free\n",
			 esxmem_state_name(old), esxmem_state_name(p->state),
			 esxmem_pool_free_pages());
		esxmem_sysfs_state_changed();
		esxmem_netlink_state_changed();
	}
}

void esxmem_pool_init(unsigned long pages)
{
	spin_lock(&esxmem_pool.lock);
	esxmem_pool.pages = pages;
	esxmem_thresholds_compute(&esxmem_pool.thresholds,
				  &esxmem_pool.permille, pages);
	spin_unlock(&esxmem_pool.lock);
}

DEFINE_MUTEX(esxmem_pool_config_lock);

void esxmem_pool_get_config(struct esxmem_pool_config *c)
{
	spin_lock(&esxmem_pool.lock);
	c->pages = esxmem_pool.pages;
	c->permille = esxmem_pool.permille;
	c->fault_wait_ms = esxmem_pool.fault_wait_ms;
	spin_unlock(&esxmem_pool.lock);
}

/* Applies @c whole, or returns -EINVAL and changes nothing. */
int esxmem_pool_configure(const struct esxmem_pool_config *c)
{
	struct esxmem_pool *p = &esxmem_pool;

	if (!c->pages || c->pages > totalram_pages() ||
	    !esxmem_permille_valid(&c->permille) ||
	    c->fault_wait_ms > ESXMEM_FAULT_WAIT_MS_MAX)
		return -EINVAL;
	spin_lock(&p->lock);
	p->pages = c->pages;
	p->permille = c->permille;
	WRITE_ONCE(p->fault_wait_ms, c->fault_wait_ms);
	esxmem_thresholds_compute(&p->thresholds, &p->permille, p->pages);
	spin_unlock(&p->lock);
	pool_update_state();
	/* A larger pool may satisfy waiting faults. */
	wake_up_all(&p->wait);
	return 0;
}

/*
 * Charges @pages if that leaves at least @keep pages of the pool free;
 * returns false, charging nothing, otherwise. The test and the charge are
 * one step, so nobody ever sees a charge that is taken back.
 */
static bool pool_try_charge_keeping(unsigned long pages, unsigned long keep)
{
	long used = atomic_long_read(&esxmem_pool.used);

	do {
		if (used + (long)pages + (long)keep >
		    (long)READ_ONCE(esxmem_pool.pages))
			return false;
	} while (!atomic_long_try_cmpxchg(&esxmem_pool.used, &used,
					  used + pages));
	return true;
}

static bool pool_try_charge(void)
{
	return pool_try_charge_keeping(1, 0);
}

/*
 * Charges one page to the pool, waiting killably for at most fault_wait_ms
 * when it is exhausted. Returns 0, -ENOMEM on timeout or -EINTR when the
 * task was killed; without @wait, -EAGAIN instead of waiting.
 */
static int pool_charge(struct esxmem_vm *vm, bool wait)
{
	unsigned int ms;
	long ret;

	if (!wait) {
		if (esxmem_reclaim_holds_back(vm) || !pool_try_charge())
			return -EAGAIN;
		goto charged;
	}

	/*
	 * In the low state a VM above its target waits, for reclamation to
	 * catch up, and then goes on: being above target is no reason to
	 * fail a guest's access.
	 */
	if (unlikely(esxmem_reclaim_holds_back(vm))) {
		atomic64_inc(&vm->reclaim.low_waits);
		ms = READ_ONCE(esxmem_pool.fault_wait_ms);
		if (wait_event_killable_timeout(esxmem_pool.wait,
						!esxmem_reclaim_holds_back(vm),
						msecs_to_jiffies(ms)) < 0)
			return -EINTR;
	}
	if (likely(pool_try_charge()))
		goto charged;

	atomic_long_inc(&esxmem_pool.fault_waits);
	atomic_long_inc(&vm->fault_waits);
	ms = READ_ONCE(esxmem_pool.fault_wait_ms);
	ret = wait_event_killable_timeout(esxmem_pool.wait, pool_try_charge(),
					  msecs_to_jiffies(ms));
	if (ret < 0)
		return -EINTR;
	if (ret == 0) {
		atomic_long_inc(&esxmem_pool.fault_wait_timeouts);
		atomic_long_inc(&vm->fault_wait_timeouts);
		pr_warn_ratelimited("esxmem: %s[%d]: no machine memory after %u ms, sending SIGBUS; raise /sys/kernel/mm/esxmem/pool_pages or free guest memory\n",
				    current->comm, task_pid_nr(current), ms);
		return -ENOMEM;
	}
charged:
	pool_update_state();
	return 0;
}

void esxmem_pool_uncharge(unsigned long pages)
{
	if (!pages)
		return;
	atomic_long_sub(pages, &esxmem_pool.used);
	if (wq_has_sleeper(&esxmem_pool.wait))
		wake_up_all(&esxmem_pool.wait);
	pool_update_state();
}

/*
 * Charges @pages that are already allocated (the compression store's
 * growth) if that leaves the pool at most @beyond pages over its size;
 * returns false, charging nothing, otherwise. Never waits.
 */
static bool charge_beyond(unsigned long pages, unsigned long beyond)
{
	long used = atomic_long_read(&esxmem_pool.used);

	do {
		if (used + (long)pages >
		    (long)(READ_ONCE(esxmem_pool.pages) + beyond))
			return false;
	} while (!atomic_long_try_cmpxchg(&esxmem_pool.used, &used,
					  used + pages));
	return true;
}

bool esxmem_pool_charge_beyond(unsigned long pages, unsigned long beyond)
{
	if (!charge_beyond(pages, beyond))
		return false;
	pool_update_state();
	return true;
}

/*
 * A machine page for page @index of @vm, charged to the pool, on the node
 * the object's memory policy asks for there (numa.c). Not movable: the
 * page is off the LRU and has no migration callbacks, so it must not sit
 * in a movable pageblock where it would defeat compaction and memory
 * hot-unplug.
 */
static struct page *alloc_page_charged(struct esxmem_vm *vm, pgoff_t index,
				       bool zero, bool wait)
{
	gfp_t gfp = GFP_HIGHUSER | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	struct page *page;
	int err;

	err = pool_charge(vm, wait);
	if (err)
		return ERR_PTR(err);
	page = esxmem_numa_alloc(&vm->numa, index,
				 zero ? gfp | __GFP_ZERO : gfp, 0);
	if (unlikely(!page)) {
		esxmem_pool_uncharge(1);
		atomic_long_inc(&esxmem_pool.alloc_failures);
		pr_warn_ratelimited("esxmem: host has no free page although the pool has; lower /sys/kernel/mm/esxmem/pool_pages\n");
		return ERR_PTR(-ENOMEM);
	}
	return page;
}

/*
 * A zeroed large page (ESXMEM_LARGE_ORDER) for the aligned range at @base
 * of @vm, charged to the pool, or NULL. Only while memory is plentiful
 * (the high state, and still high with it; nobody held back) and only if
 * the host has one free at once: a fault never waits or compacts for a
 * large page, it takes small pages instead. The folio is prepared as the page cache prepares
 * its large folios, which the kernel's PMD mapping code expects.
 */
struct folio *esxmem_vm_alloc_large(struct esxmem_vm *vm, pgoff_t base)
{
	gfp_t gfp = (GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN |
		     __GFP_NOMEMALLOC) & ~__GFP_DIRECT_RECLAIM;
	unsigned long keep;
	struct page *page;

	/*
	 * Nor one that would take the pool out of the high state: the last
	 * 2 MiB before a threshold go in small pages, so that the states are
	 * passed one by one, and no write that needs 4 KiB makes reclaim
	 * free 2 MiB.
	 */
	keep = READ_ONCE(esxmem_pool.thresholds.of[ESXMEM_STATE_SOFT]);
	if (READ_ONCE(esxmem_pool.state) != ESXMEM_STATE_HIGH ||
	    esxmem_reclaim_holds_back(vm) ||
	    !pool_try_charge_keeping(ESXMEM_LARGE_PAGES, keep))
		return NULL;
	page = esxmem_numa_alloc(&vm->numa, base, gfp, ESXMEM_LARGE_ORDER);
	if (!page) {
		esxmem_pool_uncharge(ESXMEM_LARGE_PAGES);
		return NULL;
	}
	pool_update_state();
	return page_folio(page);
}

/*
 * Charges the @pages small pages that breaking a large one takes (large.c),
 * all at once, so that a break the pool cannot have fails before it
 * allocates or copies anything: the pool may go up to one large page
 * beyond its size meanwhile, as the large page goes back once its pieces
 * are copied. That moment is not a state of the pool: the state follows
 * when the large page goes back (or, should the break fail, the small
 * pages). Never waits.
 */
bool esxmem_pool_charge_breaking(unsigned long pages)
{
	return charge_beyond(pages, ESXMEM_LARGE_PAGES);
}

/*
 * A small page for breaking a large one, charged already by
 * esxmem_pool_charge_breaking(), or NULL; the caller then uncharges it.
 */
struct page *esxmem_vm_alloc_page_breaking(struct esxmem_vm *vm,
					   pgoff_t index)
{
	return esxmem_numa_alloc(&vm->numa, index,
				 GFP_HIGHUSER | __GFP_NOWARN |
				 __GFP_RETRY_MAYFAIL, 0);
}

struct page *esxmem_vm_alloc_page(struct esxmem_vm *vm, pgoff_t index,
				  bool zero)
{
	return alloc_page_charged(vm, index, zero, true);
}

/* The same without waiting for the pool: -EAGAIN when it would. */
struct page *esxmem_vm_alloc_page_nowait(struct esxmem_vm *vm, pgoff_t index,
					 bool zero)
{
	return alloc_page_charged(vm, index, zero, false);
}

void esxmem_vm_free_page(struct page *page)
{
	unsigned long pages = folio_nr_pages(page_folio(page));

	if (esxmem_held_put(page))
		esxmem_pool_uncharge(pages);
}
