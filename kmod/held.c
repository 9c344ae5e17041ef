// SPDX-License-Identifier: GPL-2.0
/*
 * Machine pages that no pmap entry names any more but that someone else
 * still holds.
 *
 * A page leaves the pmap (a punched hole, the balloon, a page-out, a merge,
 * the end of its object) while a pipe that vmsplice() filled, an O_DIRECT
 * transfer, or any other GUP holder may still have it. The page then lives
 * on until its last holder lets go, and it stays charged to the pool until
 * then: were it uncharged at once, the pool would count memory free that
 * the host has not got back, and hand it out a second time.
 *
 * Nothing calls back when a plain page's last reference drops, so such a
 * page waits on a list with the pmap's reference, and the reclaim thread
 * looks at the list about twice a second (esxmem_held_scan()): a page whose
 * count has fallen to that one reference is freed and uncharged.
 * /sys/kernel/mm/esxmem/held_pages says how many pages wait.
 *
 * The list links pages through page->lru: esxmem's pages are never on an
 * LRU list nor in the page cache, so the field is esxmem's while it holds
 * the page.
 *
 * At module unload the pool goes away with the module, so the pages still
 * waiting are left to their holders: esxmem drops its reference and the
 * last holder's put_page() gives the page back to the host. Waiting for
 * them could take forever (a pipe nobody reads), and nothing is leaked.
 */
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#include "esxmem.h"

static LIST_HEAD(held_pages);
static DEFINE_SPINLOCK(held_lock);	/* held_pages */
static atomic_long_t held_count;
static unsigned long held_scanned = INITIAL_JIFFIES;	/* reclaim thread's */

/*
 * Drops the pool's reference to @page, a page of the pool that no pmap
 * entry names and no page table maps any more. True when that was the last
 * reference and the page is freed: the caller uncharges it. False when
 * someone else still holds the page: it waits on the list, charged.
 */
bool esxmem_held_put(struct page *page)
{
	/*
	 * Nobody can take a new reference now: GUP needs a page table entry
	 * and esxmem's own paths need the pmap entry. (A pfn walker's
	 * speculative get_page_unless_zero() at worst frees the page a
	 * moment after it is uncharged.)
	 */
	if (page_count(page) == 1) {
		put_page(page);
		return true;
	}
	spin_lock(&held_lock);
	list_add_tail(&page->lru, &held_pages);
	spin_unlock(&held_lock);
	atomic_long_add(folio_nr_pages(page_folio(page)), &held_count);
	return false;
}

unsigned long esxmem_held_pages(void)
{
	return atomic_long_read(&held_count);
}

/*
 * Frees and uncharges the waiting pages that nobody else holds any more.
 * Called by the reclaim thread on each round; looks at the list at most
 * four times a second.
 */
void esxmem_held_scan(void)
{
	struct page *page, *next;
	unsigned long freed = 0, seen = 0;
	LIST_HEAD(scan);

	if (!atomic_long_read(&held_count) ||
	    time_before(jiffies, held_scanned + HZ / 4))
		return;
	held_scanned = jiffies;

	/* Walked off the lock: new pages meanwhile go on the list itself. */
	spin_lock(&held_lock);
	list_splice_init(&held_pages, &scan);
	spin_unlock(&held_lock);
	list_for_each_entry_safe(page, next, &scan, lru) {
		if (page_count(page) == 1) {
			list_del(&page->lru);
			freed += folio_nr_pages(page_folio(page));
			put_page(page);
		}
		if (!(++seen % 4096))
			cond_resched();
	}
	spin_lock(&held_lock);
	list_splice(&scan, &held_pages);
	spin_unlock(&held_lock);

	atomic_long_sub(freed, &held_count);
	esxmem_pool_uncharge(freed);
}

/* At module unload, once nothing can free pages any more: see above. */
void esxmem_held_exit(void)
{
	struct page *page, *next;
	unsigned long left = 0;

	list_for_each_entry_safe(page, next, &held_pages, lru) {
		list_del(&page->lru);
		left += folio_nr_pages(page_folio(page));
		put_page(page);
	}
	atomic_long_set(&held_count, 0);
	if (left)
		pr_info("esxmem: %lu pages still held at unload (pipes, pinned I/O) go back to the host when their holders let go\n",
			left);
}
