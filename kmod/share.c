// SPDX-License-Identifier: GPL-2.0
/*
 * Content-based page sharing, the ESX way (Waldspurger, OSDI 2002, §4).
 *
 * A kernel thread visits the private pages of every VM in a random order,
 * round robin across VMs, at the rates the scan-time advisor sets (below) or
 * at fixed global and per-VM rates. For each page:
 *
 *  - all zeros: it becomes a zero page, mapped as the kernel's zero page;
 *  - else its content hash, salted with the VM's sharing domain, is looked
 *    up in the frame table (frames.h). A shared frame with that key: after
 *    a full compare the page maps the frame copy-on-write and its machine
 *    page is freed. A hint (a page seen once): the hinted page is hashed
 *    again, since it may have changed, compared in full, and both pages
 *    move to a new shared frame, a page no VM chose, and are freed.
 *    Nothing: the page becomes a hint.
 *
 * Before a page's content is trusted, the page is locked (so no fault can
 * map it), unmapped everywhere (so nothing can write it, KVM included
 * through its MMU notifier), and must have no reference beyond the pmap's
 * and ours (so no GUP pin can write it). Writes to shared frames then go
 * through .page_mkwrite and copy-on-write (fault.c).
 *
 * share/mode chooses who shares with whom: isolated (sharing domains, the
 * salt above), or safe and open, where every VM has one salt. The safe
 * mode (below, "the safe mode") hides from a guest whether its pages were
 * merged: only idle pages become candidates, every candidate is left
 * unmapped whether merged or not, and its next access takes a copy.
 *
 * A shared frame's machine page holds its key in page->index and its
 * domain and sharer count in page->private: these pages are never in the
 * page cache, so the fields are ours. Lock order: see esxmem.h.
 *
 * The scan-time advisor (share/pages_per_sec 0, the default) gives every VM
 * the rate that visits each of its pages once per share/scan_time_secs, as
 * ESX's Mem.ShareScanTime does: a VM's bucket fills at npages / scan_time
 * pages a second, and the VM takes a turn once it holds a turn's worth (as
 * many entries as hold SCAN_BATCH pages with data, at its density). So the
 * rates of N VMs add up, a large VM is not slowed by many small ones, and
 * no VM waits on another's backlog: every round visits each VM that is due.
 * The thread's own CPU time (what share/scan_cpu_us shows) is charged to a
 * budget that fills at share/max_cpu_percent of one CPU; while it is spent
 * the thread sleeps, and VMs' buckets, which hold at most a second's
 * worth, overflow alike: under the cap every VM slows in proportion, none
 * starves. KSM's advisor measures a pass's CPU cost to set pages_to_scan;
 * charging the time itself keeps the cap exact whatever a page costs.
 * A fixed share/pages_per_sec (and share/vm_pages_per_sec) sets the rates
 * instead, with no cap, as before the advisor.
 */
#include <linux/freezer.h>
#include <linux/gcd.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xxhash.h>

#include "esxmem.h"
#include "frames.h"

#define SCAN_BATCH		64	/* pages with data of one VM per turn */
/* Empty entries cost a read: a turn steps over this many at most. */
#define SCAN_TURN_VISITS	(16 * SCAN_BATCH)
#define SCAN_BURST_NS		(50 * NSEC_PER_MSEC)	/* rate bucket depth */
#define SCAN_IDLE_MS		10	/* wait when no VM may scan */
#define SCAN_DEPTH_NS		NSEC_PER_SEC	/* advisor: a VM's bucket */
#define SCAN_WAIT_MAX_NS	NSEC_PER_SEC	/* longest nap of the advisor */
#define CPU_BURST_NS		(100 * NSEC_PER_MSEC)	/* the cap's window */
#define CPU_NAP_MAX_NS		NSEC_PER_SEC		/* the longest nap the cap asks */
#define DOMAIN_ALONE		(1U << 31)
/*
 * The salts of the safe and open modes: no VM has either otherwise, as VM
 * ids start at 1 (vm.c) and the domains a VM may be given stop at
 * ESXMEM_DOMAIN_MAX, below DOMAIN_ALONE. Each mode its own, so that after a
 * switch between them no merge lands on a frame the other mode made (in
 * the safe mode, one not taken from the reserve).
 */
#define DOMAIN_OPEN		0U
#define DOMAIN_SAFE		(DOMAIN_ALONE | 0U)
static_assert(ESXMEM_DOMAIN_MAX < DOMAIN_ALONE);
#define COUNT_MASK		0xffffffffUL

struct esxmem_share esxmem_share = {
	.lock = __MUTEX_INITIALIZER(esxmem_share.lock),
	.run_lock = __MUTEX_INITIALIZER(esxmem_share.run_lock),
	.wait = __WAIT_QUEUE_HEAD_INITIALIZER(esxmem_share.wait),
	.enabled = true,
	.scan_time_secs = 3600,
	.max_cpu_percent = 10,
	.vm_pages_per_sec = 5000,
	.safe_idle_passes = 2,
};

static struct esxmem_frames frames;
static struct task_struct *scanner;

/* ---- frames ------------------------------------------------------------ */

static u32 frame_count(struct page *frame)
{
	return page_private(frame) & COUNT_MASK;
}

static u32 frame_domain(struct page *frame)
{
	return page_private(frame) >> 32;
}

static void set_frame(struct page *frame, u32 domain, u32 count)
{
	set_page_private(frame, (unsigned long)domain << 32 | count);
}

/* A hint of VM @id left the table: count it off that VM, if it is there. */
static void hint_gone(u32 id)
{
	struct esxmem_vm *vm;

	rcu_read_lock();
	vm = esxmem_vm_lookup_rcu(id);
	if (vm)
		atomic_long_dec(&vm->scan.hints);
	rcu_read_unlock();
}

/*
 * Sharer counts change without share.lock, so that faults and frees never
 * wait for it: the scanner may hold it a long while, rehashing or purging
 * the table. Every change is a cmpxchg on page->private. A count rises
 * only under share.lock (a merge), and never from 0: a frame whose last
 * sharer went while the lock was busy is dead, with count 0, and waits on
 * dead_frames for the scanner to take it out of the table and free it.
 */
static DEFINE_SPINLOCK(dead_lock);
static LIST_HEAD(dead_frames);		/* through page->lru */

/* One more sharer of @frame, unless it is dead. Under share.lock. */
static bool frame_get(struct page *frame)
{
	unsigned long old = READ_ONCE(frame->private);

	lockdep_assert_held(&esxmem_share.lock);
	do {
		if (!(old & COUNT_MASK))
			return false;
	} while (!try_cmpxchg(&frame->private, &old, old + 1));
	return true;
}

/* One sharer less, unless it is the last; whether it went. */
static bool frame_put_not_last(struct page *frame)
{
	unsigned long old = READ_ONCE(frame->private);

	do {
		if ((old & COUNT_MASK) <= 1)
			return false;
	} while (!try_cmpxchg(&frame->private, &old, old - 1));
	return true;
}

/* Takes a frame that lost its last sharer out of the table. */
static void frame_delete(struct page *frame)
{
	long pos;

	lockdep_assert_held(&esxmem_share.lock);
	pos = esxmem_frames_find(&frames, frame->index);
	if (!WARN_ON_ONCE(pos < 0 || frames.slot[pos].val !=
			  esxmem_frame_shared_val(page_to_pfn(frame))))
		esxmem_frames_delete(&frames, pos);
	set_page_private(frame, 0);
}

static bool frames_dead(void)
{
	return !list_empty_careful(&dead_frames);
}

/* Deletes and frees the frames that died while share.lock was busy. */
static void reap_dead_frames(void)
{
	struct page *frame, *next;
	LIST_HEAD(dead);

	spin_lock(&dead_lock);
	list_splice_init(&dead_frames, &dead);
	spin_unlock(&dead_lock);
	if (list_empty(&dead))
		return;
	mutex_lock(&esxmem_share.lock);
	list_for_each_entry(frame, &dead, lru)
		frame_delete(frame);
	mutex_unlock(&esxmem_share.lock);
	list_for_each_entry_safe(frame, next, &dead, lru) {
		list_del(&frame->lru);
		esxmem_vm_free_page(frame);
	}
}

/* Drops one sharer of @frame; the last one frees it. Never waits. */
void esxmem_share_put(struct page *frame)
{
	unsigned long one;

	atomic_long_dec(&esxmem_share.sharing);
	for (;;) {
		if (frame_put_not_last(frame))
			return;
		/*
		 * The last sharer, unless a merge raised the count since;
		 * under the lock no merge can, and no other sharer is left to
		 * lower it.
		 */
		if (mutex_trylock(&esxmem_share.lock)) {
			if (frame_count(frame) != 1) {
				mutex_unlock(&esxmem_share.lock);
				if (WARN_ON_ONCE(!frame_count(frame)))
					return;
				continue;
			}
			frame_delete(frame);
			mutex_unlock(&esxmem_share.lock);
			esxmem_vm_free_page(frame);
			return;
		}
		/* Busy: dead unless a merge raised the count meanwhile. */
		one = (page_private(frame) & ~COUNT_MASK) | 1;
		if (try_cmpxchg(&frame->private, &one, one & ~COUNT_MASK)) {
			spin_lock(&dead_lock);
			list_add_tail(&frame->lru, &dead_frames);
			spin_unlock(&dead_lock);
			esxmem_share_kick();
			return;
		}
	}
}

/*
 * Whether the caller's pmap entry is the only sharer of @frame, in which
 * case the frame leaves the table and is the caller's private page now.
 * The caller holds the frame locked.
 */
bool esxmem_share_claim(struct page *frame)
{
	bool claimed = false;

	/* Never waits: when the table is busy, the writer takes a copy. */
	if (!mutex_trylock(&esxmem_share.lock))
		return false;
	if (frame_count(frame) == 1) {
		frame_delete(frame);
		claimed = true;
	}
	mutex_unlock(&esxmem_share.lock);
	if (claimed)
		atomic_long_dec(&esxmem_share.sharing);
	return claimed;
}

/*
 * The salt of @vm's content keys, which is also its frames' domain. In the
 * safe and open modes (share/mode) every VM has the same one, DOMAIN_SAFE
 * or DOMAIN_OPEN. isolate_vms holds in every mode.
 */
static u32 share_domain(struct esxmem_vm *vm)
{
	u32 domain = READ_ONCE(vm->domain);

	if (READ_ONCE(esxmem_share.isolate_vms))
		return DOMAIN_ALONE | vm->id;
	switch (READ_ONCE(esxmem_share.mode)) {
	case ESXMEM_SHARE_SAFE:
		return DOMAIN_SAFE;
	case ESXMEM_SHARE_OPEN:
		return DOMAIN_OPEN;
	default:
		break;
	}
	if (!domain)
		return DOMAIN_ALONE | vm->id;
	return domain;
}

/*
 * Whether entry @e, which shares @frame, may go on sharing it under the
 * rules in force, @domain being its VM's. A frame's domain is set when it
 * is made and never changes. In the safe mode only what the safe mode
 * merged may stay: its sharers are still left for copy on access.
 */
static bool share_allowed(esxmem_pte_t e, struct page *frame, u32 domain)
{
	if (frame_domain(frame) != domain)
		return false;
	return READ_ONCE(esxmem_share.mode) != ESXMEM_SHARE_SAFE ||
	       (e & ESXMEM_PTE_CANDIDATE);
}

/*
 * Gives @vm's pages private copies of the shared frames they may no longer
 * share: every one with @all, else those share_allowed() refuses now (the
 * VM's domain changed, isolate_vms was set, share/mode changed), as KSM's
 * run=2 does; and moves its unmerged candidates of the safe mode onto
 * fresh copies alike (esxmem_vm_move_candidate()). Under run_lock, so
 * that no merge of the old rules lands meanwhile. 0, or the error when no
 * page could be had for a copy: the pages done so far stay done.
 */
int esxmem_share_unmerge_vm(struct esxmem_vm *vm, bool all)
{
	struct page *frame;
	unsigned long i;
	esxmem_pte_t e;
	u32 domain;
	int err = 0;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return 0;
	mutex_lock(&esxmem_share.run_lock);
	domain = share_domain(vm);
	for (i = 0; i < vm->npages && !err; i++) {
		if (!(i % 4096))
			cond_resched();
		e = READ_ONCE(vm->pmap[i]);
		if (esxmem_pte_state(e) != ESXMEM_PAGE_SHARED &&
		    !(e & ESXMEM_PTE_CANDIDATE))
			continue;
		frame = NULL;
		spin_lock(&vm->lock);
		e = vm->pmap[i];
		if (esxmem_pte_has_pfn(e)) {
			frame = pfn_to_page(esxmem_pte_payload(e));
			get_page(frame);
		}
		spin_unlock(&vm->lock);
		if (!frame)
			continue;
		if (esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE) {
			/* An unmerged candidate, moved as merged ones are. */
			err = esxmem_vm_move_candidate(vm, i, frame);
			goto next;
		}
		if (all || !share_allowed(e, frame, domain))
			err = esxmem_vm_unshare_page(vm, i, frame);
		put_page(frame);
next:
		if (fatal_signal_pending(current))
			err = -EINTR;
	}
	mutex_unlock(&esxmem_share.run_lock);
	return err;
}

static void safe_release_flush(void);

/* esxmem_share_unmerge_vm() for every VM; the first error, if any. */
int esxmem_share_unmerge_all(bool all)
{
	struct esxmem_vm *vm;
	int err = 0, e;
	u32 id = 0;

	/* Copies need pool pages: those waiting to be let go of first. */
	safe_release_flush();
	for (;; id++) {
		vm = esxmem_vm_next_held(&id);
		if (!vm)
			break;
		e = esxmem_share_unmerge_vm(vm, all);
		esxmem_vm_put(vm);
		err = err ?: e;
		if (e == -EINTR)
			break;
	}
	return err;
}

static bool forget_hint(struct esxmem_vm *vm, pgoff_t index, u64 key);

/*
 * Every hint of @vm goes, before its id may be reused. Called as the VM is
 * torn down, when no mapping, fault or scanner turn reaches its pages.
 */
void esxmem_share_forget_vm(struct esxmem_vm *vm)
{
	unsigned long pos = 0, i;
	esxmem_pte_t e;
	u64 key;

	/*
	 * The hints of pages the VM still holds are found by their keys: a
	 * private page keeps the key it was hinted under (scan_page()). So a
	 * thousand VMs go without a thousand walks of a table sized for all
	 * of them; the pmap is walked anyway when the VM is freed.
	 */
	mutex_lock(&esxmem_share.lock);
	for (i = 0; vm->pmap && i < vm->npages &&
	     atomic_long_read(&vm->scan.hints); i++) {
		if (i && !(i % 4096)) {
			mutex_unlock(&esxmem_share.lock);
			cond_resched();
			mutex_lock(&esxmem_share.lock);
		}
		e = vm->pmap[i];
		if (esxmem_pte_state(e) != ESXMEM_PAGE_PRIVATE)
			continue;
		key = page_private(pfn_to_page(esxmem_pte_payload(e)));
		if (key && frames.slot)
			forget_hint(vm, i, key);
	}
	/*
	 * Hints of pages that went since (a hole, the balloon, a write
	 * that replaced a page) take a whole-table walk: faults never wait
	 * for share.lock (see esxmem_share_put()), and the walk yields the
	 * CPU as it goes.
	 */
	while (frames.slot && pos <= frames.mask &&
	       atomic_long_read(&vm->scan.hints)) {
		atomic_long_sub(esxmem_frames_purge_vm_step(&frames, vm->id,
							    &pos, 4096),
				&vm->scan.hints);
		cond_resched();
	}
	mutex_unlock(&esxmem_share.lock);
}

/*
 * Sizes the table to half an entry per guest page, so that with the pmap's
 * eight bytes a guest page costs at most sixteen. Shared frames and as many
 * hints as fit move over.
 */
static void frames_resize(void)
{
	static unsigned long failed_cap;
	unsigned long cap, old_cap, i;
	struct esxmem_frame *slot, *old;
	struct esxmem_frames t;
	u64 evicted;

	cap = max(ESXMEM_FRAMES_MIN,
		  rounddown_pow_of_two(max(esxmem_vm_total_pages() / 2, 1UL)));
	old_cap = frames.slot ? frames.mask + 1 : 0;
	if (cap == old_cap || cap == failed_cap)
		return;
	slot = esxmem_table_alloc(cap, sizeof(*slot));
	if (!slot) {
		failed_cap = cap;	/* until the size wanted changes */
		return;
	}

	esxmem_frames_init(&t, slot, cap);
	mutex_lock(&esxmem_share.lock);
	old = frames.slot;
	/* Shared frames first: hints may be dropped, frames may not. */
	for (i = 0; i < old_cap; i++) {
		struct esxmem_frame *f = &old[i];

		if (!(i % 4096))
			cond_resched();
		if (esxmem_frame_is_shared(f->val) &&
		    esxmem_frames_insert(&t, f->key, f->val, &evicted)) {
			/* A shrink that cannot hold every frame waits. */
			mutex_unlock(&esxmem_share.lock);
			kvfree(slot);
			failed_cap = cap;
			return;
		}
	}
	for (i = 0; i < old_cap; i++) {
		struct esxmem_frame *f = &old[i];

		if (!(i % 4096))
			cond_resched();
		if (!f->val || esxmem_frame_is_shared(f->val))
			continue;
		if (esxmem_frames_insert(&t, f->key, f->val, &evicted))
			hint_gone(esxmem_frame_hint_vm(f->val));
		else if (evicted)
			hint_gone(esxmem_frame_hint_vm(evicted));
	}
	frames = t;
	WRITE_ONCE(esxmem_share.table_bytes, cap * sizeof(*slot));
	mutex_unlock(&esxmem_share.lock);
	kvfree(old);
}

/* ---- visiting one page -------------------------------------------------- */

static u64 page_key(struct page *page, u32 domain)
{
	void *p = kmap_local_page(page);
	u64 key = xxh64(p, PAGE_SIZE, domain);

	kunmap_local(p);
	return key;
}

static bool page_is_zero(struct page *page)
{
	void *p = kmap_local_page(page);
	bool zero = !memchr_inv(p, 0, PAGE_SIZE);

	kunmap_local(p);
	return zero;
}

static bool pages_equal(struct page *a, struct page *b)
{
	void *pa = kmap_local_page(a), *pb = kmap_local_page(b);
	bool equal = !memcmp(pa, pb, PAGE_SIZE);

	kunmap_local(pb);
	kunmap_local(pa);
	return equal;
}

/* Points the entry at @index, still backed by locked @page, at @frame. */
static void map_frame(struct esxmem_vm *vm, pgoff_t index, struct page *page,
		      enum esxmem_page_state state, struct page *frame)
{
	/*
	 * An idle page is what gets shared: its sampling mark must stay; and
	 * a candidate of the safe mode stays one, merged or not.
	 */
	u64 keep = ESXMEM_PTE_SAMPLED |
		   (state == ESXMEM_PAGE_SHARED ? ESXMEM_PTE_CANDIDATE : 0);

	spin_lock(&vm->lock);
	WARN_ON_ONCE(!esxmem_pte_maps(vm->pmap[index], page));
	esxmem_vm_set_pte(vm, index,
			  esxmem_pte_make(state, frame ? page_to_pfn(frame) : 0,
					  vm->pmap[index] & keep));
	spin_unlock(&vm->lock);
}

/* Frees locked @page at @index, if it is all zeros, for the zero state. */
static bool merge_zero(struct esxmem_vm *vm, pgoff_t index, struct page *page)
{
	if (!esxmem_vm_isolate_page(vm, index, page) || !page_is_zero(page))
		return false;
	map_frame(vm, index, page, ESXMEM_PAGE_ZERO, NULL);
	atomic_long_inc(&esxmem_share.zero_merges);
	return true;
}

/* Shares locked @page with the shared frame at table slot @pos. */
static bool merge_into_frame(struct esxmem_vm *vm, pgoff_t index,
			     struct page *page, u64 key, u32 domain, long pos)
	__releases(&esxmem_share.lock)
{
	u64 val = frames.slot[pos].val;
	struct page *frame = pfn_to_page(esxmem_frame_pfn(val));
	bool merged = false;

	lockdep_assert_held(&esxmem_share.lock);
	if (frame_domain(frame) != domain) {
		/* The same key in another domain: a 64-bit hash collision. */
		mutex_unlock(&esxmem_share.lock);
		atomic_long_inc(&esxmem_share.collisions);
		return false;
	}
	get_page(frame);
	mutex_unlock(&esxmem_share.lock);

	if (esxmem_vm_isolate_page(vm, index, page) && pages_equal(page, frame)) {
		mutex_lock(&esxmem_share.lock);
		pos = esxmem_frames_find(&frames, key);
		/* The frame may have lost its last sharer meanwhile. */
		if (pos >= 0 && frames.slot[pos].val == val)
			merged = frame_get(frame);
		mutex_unlock(&esxmem_share.lock);
	}
	if (merged) {
		map_frame(vm, index, page, ESXMEM_PAGE_SHARED, frame);
		atomic_long_inc(&esxmem_share.sharing);
	}
	put_page(frame);
	return merged;
}

/* ---- the safe mode ------------------------------------------------------ */

static bool safe_mode(void)
{
	return READ_ONCE(esxmem_share.mode) == ESXMEM_SHARE_SAFE;
}

/*
 * New frames of the safe mode come from a small reserve of pages allocated
 * beforehand, one picked at random: a page freed just before a merge (one
 * a VM has templated for Rowhammer, say) is not the page the merge gets,
 * as the page allocator's last-in first-out lists would make it. The
 * reserve is touched only under run_lock: filled at the start of each of
 * the scanner's turns (safe_reserve_fill()), not under the page locks of a
 * merge, so that a page freed during a turn is not picked in it; picked
 * from by its merges; drained by a mode change and at module exit. Each
 * fill also sends one page picked at random back, so that no page stays
 * in the reserve for ever.
 */
#define SAFE_RESERVE		256
static struct page *safe_reserve[SAFE_RESERVE];
static unsigned int safe_reserve_pages;	/* how many of them hold a page */

static void safe_reserve_fill(struct esxmem_vm *vm)
{
	struct page *page;
	unsigned int i;

	lockdep_assert_held(&esxmem_share.run_lock);
	i = get_random_u32() % SAFE_RESERVE;
	if (safe_reserve[i]) {
		esxmem_vm_free_page(safe_reserve[i]);
		safe_reserve[i] = NULL;
		WRITE_ONCE(safe_reserve_pages, safe_reserve_pages - 1);
	}
	for (i = 0; i < SAFE_RESERVE; i++) {
		if (safe_reserve[i])
			continue;
		page = esxmem_vm_alloc_page_nowait(vm, 0, false);
		if (IS_ERR(page))
			break;
		safe_reserve[i] = page;
		WRITE_ONCE(safe_reserve_pages, safe_reserve_pages + 1);
	}
}

/*
 * A page of the reserve: the first one from a slot picked at random on;
 * -ENOMEM when the reserve is empty.
 */
static struct page *safe_new_frame(void)
{
	unsigned int i, start = get_random_u32() % SAFE_RESERVE;
	struct page *frame;

	lockdep_assert_held(&esxmem_share.run_lock);
	for (i = 0; i < SAFE_RESERVE; i++) {
		frame = safe_reserve[(start + i) % SAFE_RESERVE];
		if (!frame)
			continue;
		safe_reserve[(start + i) % SAFE_RESERVE] = NULL;
		WRITE_ONCE(safe_reserve_pages, safe_reserve_pages - 1);
		return frame;
	}
	return ERR_PTR(-ENOMEM);
}

/*
 * What a candidate's copy on access lets go of (fault.c): a shared frame's
 * sharer, or a private page. Letting go of them costs differently (a page
 * freed, or a count lowered), so the fault only queues it, at the same cost
 * for both, and a work item of its own, queued by the first release on an
 * empty list, lets go of it SAFE_RELEASE_DELAY later: not the scanner,
 * which may sleep for a second or wait for run_lock while what waits here
 * is pool memory someone is waiting for. Not at once either: a worker
 * woken by the fault would run on the guest's CPU as the fault returns,
 * within the access the guest times, and release that very page.
 */
struct safe_release {
	struct llist_node node;
	esxmem_pte_t e;
};

static LLIST_HEAD(safe_releases);
static atomic_long_t safe_releases_pending;
#define SAFE_RELEASE_DELAY	(HZ / 10)
static void safe_release_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(safe_release_work, safe_release_fn);

void esxmem_share_release_later(esxmem_pte_t e)
{
	struct safe_release *r = kmalloc(sizeof(*r), GFP_NOWAIT | __GFP_NOWARN);

	if (!r) {
		esxmem_vm_release(e);
		return;
	}
	r->e = e;
	atomic_long_inc(&safe_releases_pending);
	if (llist_add(&r->node, &safe_releases))
		queue_delayed_work(system_unbound_wq, &safe_release_work,
				   SAFE_RELEASE_DELAY);
}

static void safe_release_queued(void)
{
	struct llist_node *list = llist_del_all(&safe_releases);
	struct safe_release *r, *next;

	llist_for_each_entry_safe(r, next, list, node) {
		esxmem_vm_release(r->e);
		kfree(r);
		atomic_long_dec(&safe_releases_pending);
		cond_resched();
	}
}

static void safe_release_fn(struct work_struct *work)
{
	safe_release_queued();
}

/* Waits until what was queued before the call is let go of. */
static void safe_release_flush(void)
{
	flush_delayed_work(&safe_release_work);
}

/* Pool pages that copies on access let go of and that wait to be freed. */
unsigned long esxmem_share_releases_pending(void)
{
	return atomic_long_read(&safe_releases_pending);
}

/* The reserve goes back to the pool when the safe mode ends. */
static void safe_reserve_drain(void)
{
	unsigned int i;

	lockdep_assert_held(&esxmem_share.run_lock);
	for (i = 0; i < SAFE_RESERVE; i++) {
		if (safe_reserve[i])
			esxmem_vm_free_page(safe_reserve[i]);
		safe_reserve[i] = NULL;
	}
	WRITE_ONCE(safe_reserve_pages, 0);
}

/* Pool pages the safe mode's reserve holds, charged but in no VM. */
unsigned long esxmem_share_reserve_pages(void)
{
	return READ_ONCE(safe_reserve_pages);
}

/*
 * The safe mode's idle test of locked private @page at @index of @vm:
 * whether it is a candidate (VUsion, SOSP'17). The first visit unmaps the
 * page and marks the entry trapped; a fault at the entry clears the mark
 * (fault.c). A page still trapped and mapped nowhere after
 * share/safe_idle_passes more visits was not touched meanwhile: it becomes
 * a candidate, left unmapped, so that its next access, merged or not,
 * takes the same copy (fault.c). Its visits are counted in folio->index,
 * which nothing else uses for a private page, and which the trap resets.
 */
static bool safe_candidate(struct esxmem_vm *vm, pgoff_t index,
			   struct page *page)
{
	struct folio *folio = page_folio(page);
	esxmem_pte_t e = READ_ONCE(vm->pmap[index]);
	bool trap = !(e & ESXMEM_PTE_TRAPPED) || page_mapped(page);

	/* Faults map the page under its lock: what follows relies on it. */
	VM_WARN_ON_ONCE_PAGE(!PageLocked(page), page);
	if (e & ESXMEM_PTE_CANDIDATE)
		return true;
	/*
	 * A page someone else holds (a VFIO or io_uring pin) would only fail
	 * isolation below, pass after pass: not unmapped for nothing.
	 */
	if (esxmem_page_held(page, 1))
		return false;
	if (!trap && ++folio->index < READ_ONCE(esxmem_share.safe_idle_passes))
		return false;
	/* Idle long enough; a page someone holds is passed over. */
	if (!trap && !esxmem_vm_isolate_page(vm, index, page))
		trap = true;
	if (trap) {
		esxmem_vm_unmap_page(vm, index);
		folio->index = 0;
	}
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (WARN_ON_ONCE(!esxmem_pte_private(e, page))) {
		spin_unlock(&vm->lock);
		return false;
	}
	/*
	 * A fault may have cleared the trap and given up without mapping the
	 * page (a retry, a fatal signal), its reference gone by the isolation
	 * above: touched all the same. The page is mapped nowhere (isolated,
	 * and locked here), so setting the trap again is a trap.
	 */
	if (!trap && !(e & ESXMEM_PTE_TRAPPED)) {
		trap = true;
		folio->index = 0;
	}
	e &= ~(ESXMEM_PTE_TRAPPED | ESXMEM_PTE_CANDIDATE);
	vm->pmap[index] = e | (trap ? ESXMEM_PTE_TRAPPED : ESXMEM_PTE_CANDIDATE);
	spin_unlock(&vm->lock);
	if (!trap)
		atomic_long_inc(&esxmem_share.candidates);
	return !trap;
}

/*
 * A VM by id, held by its inode, or NULL when it is gone or going. Called
 * with a page locked, so no mutex: VMs and inodes are freed after an RCU
 * grace period, and esxmem_vm_grab() refuses a VM on its way out.
 */
static struct esxmem_vm *get_vm(u32 id)
{
	struct esxmem_vm *vm;

	rcu_read_lock();
	vm = esxmem_vm_lookup_rcu(id);
	if (vm && !esxmem_vm_grab(vm))
		vm = NULL;
	rcu_read_unlock();
	return vm;
}

enum hint_result { HINT_MERGED, HINT_BUSY, HINT_STALE };

/*
 * Shares locked @page with the page the hint @hint names, on a new frame,
 * if that page still has content key @key. The hinted
 * VM, if found, is left held in *@held: the caller lets it go once @page
 * is unlocked, since the last reference tears the VM down.
 */
static enum hint_result merge_with_hint(struct esxmem_vm *vm, pgoff_t index,
					struct page *page, u64 key, u32 domain,
					u64 hint, struct esxmem_vm **held)
{
	u32 index2 = esxmem_frame_hint_index(hint);
	struct page *page2 = NULL, *frame = NULL;
	enum hint_result ret = HINT_STALE;
	struct esxmem_vm *vm2;
	long pos;

	vm2 = get_vm(esxmem_frame_hint_vm(hint));
	*held = vm2;
	if (!vm2)
		return HINT_STALE;
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (share_domain(vm2) != domain || !smp_load_acquire(&vm2->pmap) ||
	    index2 >= vm2->npages)
		goto out;
	page2 = esxmem_vm_get_private(vm2, index2);
	if (!page2 || page2 == page)
		goto out;
	if (!trylock_page(page2)) {
		ret = HINT_BUSY;
		goto out;
	}
	if (!esxmem_pte_private(vm2->pmap[index2], page2) ||
	    (safe_mode() && !(vm2->pmap[index2] & ESXMEM_PTE_CANDIDATE))) {
		/*
		 * Freed or replaced since (a candidate's access copies it):
		 * the hint is stale.
		 */
	} else if (!esxmem_vm_isolate_page(vm2, index2, page2) || !esxmem_vm_isolate_page(vm, index, page)) {
		ret = HINT_BUSY;
	} else if (page_key(page2, domain) == key) {
		if (!pages_equal(page, page2)) {
			atomic_long_inc(&esxmem_share.collisions);
			ret = HINT_BUSY;
			goto unlock;
		}
		/*
		 * The shared data goes to a page of its own, where the page
		 * allocator puts it (on a node @vm's memory policy allows
		 * at @index): had one of the pages become the frame,
		 * a VM could choose where another VM's data lives (and steer
		 * it onto memory it has templated for Rowhammer).
		 */
		frame = safe_mode() ? safe_new_frame() :
			esxmem_vm_alloc_page_nowait(vm, index, false);
		if (IS_ERR(frame)) {
			frame = NULL;
			ret = HINT_BUSY;
			goto unlock;
		}
		copy_highpage(frame, page);
		mutex_lock(&esxmem_share.lock);
		pos = esxmem_frames_find(&frames, key);
		if (pos >= 0 && frames.slot[pos].val == hint) {
			frame->index = key;
			set_frame(frame, domain, 2);
			esxmem_frames_replace(&frames, pos,
					      esxmem_frame_shared_val(page_to_pfn(frame)));
			atomic_long_dec(&vm2->scan.hints);
			ret = HINT_MERGED;
		} else {
			ret = HINT_BUSY;
		}
		mutex_unlock(&esxmem_share.lock);
		if (ret == HINT_MERGED) {
			map_frame(vm2, index2, page2, ESXMEM_PAGE_SHARED, frame);
			map_frame(vm, index, page, ESXMEM_PAGE_SHARED, frame);
			atomic_long_add(2, &esxmem_share.sharing);
			frame = NULL;
		}
	}
unlock:
	unlock_page(page2);
out:
	if (page2)
		put_page(page2);
	/* The pmap's reference of the hinted page, now that the frame has it. */
	if (ret == HINT_MERGED)
		esxmem_vm_free_page(page2);
	if (frame)
		esxmem_vm_free_page(frame);
	return ret;
}

/* Makes @page at @index of @vm the hint for @key, in place of @old if set. */
static void set_hint(struct esxmem_vm *vm, pgoff_t index, u64 key, u64 old)
{
	u64 val = esxmem_frame_hint_val(vm->id, index), evicted;
	u32 gone = 0;
	long pos;

	mutex_lock(&esxmem_share.lock);
	pos = esxmem_frames_find(&frames, key);
	if (pos >= 0) {
		if (!old || frames.slot[pos].val != old)
			goto out;	/* someone else's entry now */
		esxmem_frames_replace(&frames, pos, val);
		gone = esxmem_frame_hint_vm(old);
	} else if (esxmem_frames_insert(&frames, key, val, &evicted)) {
		atomic_long_inc(&esxmem_share.table_full);
		goto out;
	} else if (evicted) {
		gone = esxmem_frame_hint_vm(evicted);
		atomic_long_inc(&esxmem_share.hints_evicted);
	}
	atomic_long_inc(&vm->scan.hints);
	if (gone)
		hint_gone(gone);
out:
	mutex_unlock(&esxmem_share.lock);
}

/*
 * The hint of @index of @vm under @key, which its content no longer has,
 * leaves the table. Called with share.lock held.
 */
static void drop_hint(struct esxmem_vm *vm, pgoff_t index, u64 key)
{
	lockdep_assert_held(&esxmem_share.lock);
	if (frames.slot && forget_hint(vm, index, key))
		atomic_long_inc(&esxmem_share.hints_dropped);
}

/* Takes out the hint of @index of @vm under @key, if there; whether it was. */
static bool forget_hint(struct esxmem_vm *vm, pgoff_t index, u64 key)
{
	long pos;

	lockdep_assert_held(&esxmem_share.lock);
	pos = esxmem_frames_find(&frames, key);
	if (pos < 0 || frames.slot[pos].val != esxmem_frame_hint_val(vm->id, index))
		return false;
	esxmem_frames_delete(&frames, pos);
	atomic_long_dec(&vm->scan.hints);
	return true;
}

/*
 * Visits the page at @index of @vm. A private page keeps the content key
 * it had at the last visit in page->private (the page lock guards it; the
 * page allocator hands pages out with it cleared). That gives KSM's
 * volatility test for free: only a page whose content stayed the same from
 * one visit to the next becomes a hint, so pages the guest keeps changing
 * do not crowd the table with hints that go stale; and a page that did
 * change takes its old hint out of the table.
 */
static bool scan_page(struct esxmem_vm *vm, pgoff_t index, u32 domain)
{
	struct esxmem_vm *held = NULL;
	bool freed = false, broken = false, candidate, known;
	enum hint_result r;
	struct page *page;
	u64 key, last_key, val;
	long pos;

again:
	/*
	 * Most entries of a large sparse object hold nothing: a read tells,
	 * without the lock. Whatever the entry becomes meanwhile waits for
	 * the next pass.
	 */
	if (esxmem_pte_state(READ_ONCE(vm->pmap[index])) != ESXMEM_PAGE_PRIVATE)
		return false;
	page = esxmem_vm_get_private(vm, index);
	if (!page)
		return false;
	/* A page being faulted in is in use: no time to share it. */
	if (!trylock_page(page))
		goto put;
	if (!esxmem_pte_private(vm->pmap[index], page))
		goto unlock;
	/*
	 * A piece of a large page is hashed, and may be a hint, but shares
	 * nothing while the page stands (esxmem_vm_isolate_page() refuses
	 * it); when share/break_large says so, or the page is mostly zero,
	 * the page is broken first and the visit goes on with the piece's own
	 * small page.
	 */
	if (esxmem_page_is_large(page) && !broken) {
		int err = esxmem_large_scan(vm, index, page);

		if (err <= 0) {
			broken = true;
			if (err)
				return true;
			goto again;
		}
	}

	/*
	 * A candidate of the safe mode is mapped nowhere and held by nobody:
	 * its content, and the key it got when it became one, stand. Its
	 * visit takes the lock only as long as a look in the table: a fault
	 * on it must not wait for a hash more often than a fault on a merged
	 * page, which the scanner never visits, or the wait would tell them
	 * apart. (A key salted before isolate_vms changed only misses merges
	 * until the page is accessed.)
	 */
	known = safe_mode() && (READ_ONCE(vm->pmap[index]) &
				ESXMEM_PTE_CANDIDATE) && page_private(page);
	if (!known && page_is_zero(page)) {
		/*
		 * A hint under the page's old content goes with it, or the
		 * VM's teardown would have to look for it in the whole table.
		 */
		last_key = page_private(page);
		if (last_key) {
			mutex_lock(&esxmem_share.lock);
			drop_hint(vm, index, last_key);
			mutex_unlock(&esxmem_share.lock);
		}
		freed = merge_zero(vm, index, page);
		goto unlock;
	}
	/* Pieces of a large page are never candidates: they share nothing. */
	candidate = safe_mode();
	if (candidate && !known && (esxmem_page_is_large(page) ||
				    !safe_candidate(vm, index, page)))
		goto unlock;

	key = known ? page_private(page) : page_key(page, domain);
	last_key = page_private(page);
	set_page_private(page, key);
	mutex_lock(&esxmem_share.lock);
	if (last_key && last_key != key)
		drop_hint(vm, index, last_key);
	pos = frames.slot ? esxmem_frames_find(&frames, key) : -1;
	if (pos < 0) {
		mutex_unlock(&esxmem_share.lock);
		/*
		 * Only a page that kept its content since the last visit, as
		 * a candidate has.
		 */
		if (frames.slot && (last_key == key || candidate))
			set_hint(vm, index, key, 0);
		goto unlock;
	}
	if (esxmem_page_is_large(page)) {
		/* Nothing merges with a piece of a large page: see above. */
		mutex_unlock(&esxmem_share.lock);
		goto unlock;
	}
	val = frames.slot[pos].val;
	if (esxmem_frame_is_shared(val)) {
		/* Drops share.lock. */
		freed = merge_into_frame(vm, index, page, key, domain, pos);
		goto unlock;
	}
	mutex_unlock(&esxmem_share.lock);
	if (esxmem_frame_hint_vm(val) == vm->id &&
	    esxmem_frame_hint_index(val) == index)
		goto unlock;	/* itself, unchanged */

	r = merge_with_hint(vm, index, page, key, domain, val, &held);
	if (r == HINT_MERGED) {
		freed = true;
	} else if (r == HINT_STALE) {
		atomic_long_inc(&esxmem_share.stale_hints);
		set_hint(vm, index, key, val);
	}
unlock:
	unlock_page(page);
	if (held)
		esxmem_vm_put(held);
put:
	put_page(page);
	if (freed) {
		atomic_long_inc(&esxmem_share.merges);
		esxmem_vm_free_page(page);
	}
	return true;
}

/* ---- the scanner -------------------------------------------------------- */

/* A step coprime to @n visits every page once per pass, in random order. */
static void start_pass(struct esxmem_vm_scan *s, unsigned long n)
{
	s->start = get_random_u64() % n;
	s->step = 1 + get_random_u64() % n;
	while (gcd(s->step, n) != 1)
		s->step = s->step % n + 1;
	s->k = 0;
}

/*
 * Visits up to @n entries of @vm, stopping after SCAN_BATCH pages that held
 * data; returns how many it visited.
 */
static unsigned long scan_vm(struct esxmem_vm *vm, unsigned long n)
{
	struct esxmem_vm_scan *s = &vm->scan;
	unsigned long npages, i, pages = 0;
	u64 t0 = local_clock();
	u32 domain;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap) ||
	    (READ_ONCE(vm->flags) & ESXMEM_VM_F_NO_SHARING))
		return 0;
	npages = vm->npages;
	if (s->npages != npages) {
		s->npages = npages;
		start_pass(s, npages);
	}
	domain = share_domain(vm);
	for (i = 0; i < n && pages < SCAN_BATCH; i++) {
		pages += scan_page(vm, (s->start + s->k * s->step) % npages,
				   domain);
		if (++s->k == npages) {
			atomic_long_inc(&s->full_scans);
			atomic_long_inc(&esxmem_share.full_scans);
			start_pass(s, npages);
		}
	}
	n = i;
	atomic_long_add(n, &s->pages_scanned);
	atomic_long_add(n, &esxmem_share.pages_scanned);
	atomic64_add(local_clock() - t0, &s->scan_ns);
	return n;
}

/* Token bucket in page-nanoseconds: @rate pages a second, 50 ms deep. */
static unsigned long bucket_fill(s64 *tokens, u64 *stamp, unsigned int rate,
				 u64 now)
{
	u64 dt = min_t(u64, now - *stamp, NSEC_PER_SEC);

	*stamp = now;
	*tokens = min_t(s64, *tokens + (s64)rate * dt,
			(s64)rate * SCAN_BURST_NS);
	return *tokens > 0 ? *tokens / NSEC_PER_SEC : 0;
}

/* Sleeps @ns, or until a knob changes or the thread is to stop. */
static void scanner_sleep(u64 ns)
{
	int kicks = atomic_read(&esxmem_share.kicks);

	wait_event_freezable_timeout(esxmem_share.wait,
				     kthread_should_stop() ||
				     atomic_read(&esxmem_share.kicks) != kicks,
				     max(nsecs_to_jiffies(ns), 1UL));
}

/* What the scanner thread keeps between its turns. */
struct scanner_state {
	u32 next_id;		/* the VM whose turn comes next */
	bool worked;		/* in this round */
	/* Fixed rates: the global bucket. */
	s64 tokens;
	u64 stamp;
	/* The advisor: the CPU budget, and the nap before a VM is due. */
	s64 cpu_budget;		/* ns of CPU the cap allows now */
	u64 cpu_stamp;
	u64 cpu_seen;		/* the thread's runtime at the last charge */
	u64 wait;
};

/*
 * Charges the CPU the thread used since the last call to the budget, which
 * fills at @percent of one CPU; 0 if some is left, else how long to wait,
 * at most a second (the caller calls again after it). The runtime is the
 * scheduler's, as share/scan_cpu_us shows it; it moves at ticks and
 * context switches, so a turn may overrun the cap by a tick.
 */
static u64 cpu_wait(struct scanner_state *st, unsigned int percent, u64 now)
{
	u64 ran = READ_ONCE(current->se.sum_exec_runtime);
	/* Longer than any nap, or a nap would refill less than it waited. */
	u64 dt = min_t(u64, now - st->cpu_stamp, CPU_NAP_MAX_NS * 4);

	st->cpu_stamp = now;
	st->cpu_budget += dt * percent / 100 - (ran - st->cpu_seen);
	st->cpu_seen = ran;
	/*
	 * A window's worth saved up at most; and a debt of a second at most,
	 * so that a long frame-table resize does not stop scanning for
	 * minutes.
	 */
	st->cpu_budget = clamp_t(s64, st->cpu_budget, -(s64)NSEC_PER_SEC,
				 CPU_BURST_NS * percent / 100);
	if (st->cpu_budget >= 0)
		return 0;
	return min_t(u64, (u64)-st->cpu_budget * 100 / percent, CPU_NAP_MAX_NS);
}

/*
 * Entries of @vm a turn is worth: as many as hold SCAN_BATCH pages with
 * data, going by how full the VM is, within SCAN_TURN_VISITS and its size.
 * A sparse VM takes fewer, longer turns.
 */
static unsigned long turn_visits(struct esxmem_vm *vm, unsigned long npages)
{
	unsigned long data = READ_ONCE(vm->state_pages[ESXMEM_PAGE_PRIVATE]);
	u64 visits = (u64)SCAN_BATCH * npages / max(data, 1UL);

	return min3(visits, (u64)SCAN_TURN_VISITS, (u64)npages);
}

/*
 * The advisor's entries due of @vm, 0 until it holds a turn's worth: its
 * bucket fills at npages / @secs entries a second and holds a second's
 * worth, two turns at least. When none are due, *@wait drops to the time
 * until they are. Only this thread touches vm->scan; the VM may be on its
 * way out (the caller holds RCU), and is not touched beyond.
 */
static unsigned long advisor_due(struct esxmem_vm *vm, unsigned int secs,
				 u64 now, u64 *wait)
{
	struct esxmem_vm_scan *s = &vm->scan;
	u64 dt = min_t(u64, now - s->stamp, NSEC_PER_SEC);
	unsigned long npages;
	s64 want, depth;

	s->stamp = now;
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap) ||
	    (READ_ONCE(vm->flags) & ESXMEM_VM_F_NO_SHARING))
		return 0;
	/* At most 2^30 pages and a second: no overflow. */
	npages = vm->npages;
	want = (s64)turn_visits(vm, npages) * NSEC_PER_SEC;
	depth = max_t(s64, 2 * want, (s64)npages * SCAN_DEPTH_NS / secs);
	s->tokens = min_t(s64, s->tokens + (s64)(npages * dt / secs), depth);
	if (s->tokens >= want)
		return min_t(u64, s->tokens / NSEC_PER_SEC, SCAN_TURN_VISITS);
	*wait = min_t(u64, *wait, (u64)(want - s->tokens) * secs / npages);
	return 0;
}

/*
 * The next VM from st->next_id on whose turn it is, held, and in *@n its
 * pages due; NULL at the end of a round. VMs that are not due are passed
 * over under RCU, without holding them.
 */
static struct esxmem_vm *advisor_next(struct scanner_state *st,
				      unsigned int secs, u64 now,
				      unsigned long *n)
{
	struct esxmem_vm *vm;

	rcu_read_lock();
	while ((vm = esxmem_vm_next_rcu(&st->next_id))) {
		*n = advisor_due(vm, secs, now, &st->wait);
		if (*n && esxmem_vm_grab(vm))
			break;
		if (st->next_id == U32_MAX) {
			vm = NULL;
			break;
		}
		st->next_id++;
	}
	rcu_read_unlock();
	return vm;
}

/* Scans @n pages of @vm, unless sharing was stopped; how many it did. */
static unsigned long scan_turn(struct esxmem_vm *vm, unsigned long n)
{
	mutex_lock(&esxmem_share.run_lock);
	if (!READ_ONCE(esxmem_share.enabled))
		n = 0;
	if (n && safe_mode())
		safe_reserve_fill(vm);
	if (n)
		n = scan_vm(vm, n);
	mutex_unlock(&esxmem_share.run_lock);
	return n;
}

/* One turn under the scan-time advisor. */
static void advisor_step(struct scanner_state *st, u64 now)
{
	unsigned int percent = READ_ONCE(esxmem_share.max_cpu_percent);
	unsigned int secs = READ_ONCE(esxmem_share.scan_time_secs);
	struct esxmem_vm *vm;
	unsigned long n;
	u64 wait;

	wait = cpu_wait(st, percent, now);
	if (wait) {
		scanner_sleep(wait);
		atomic64_add(local_clock() - now, &esxmem_share.cpu_capped_ns);
		return;
	}
	vm = advisor_next(st, secs, now, &n);
	if (!vm) {
		/* A round ended: wait for the first VM due, if none was. */
		if (!st->worked)
			scanner_sleep(st->wait);
		st->next_id = 0;
		st->worked = false;
		st->wait = SCAN_WAIT_MAX_NS;
		return;
	}
	st->next_id++;
	n = scan_turn(vm, n);
	vm->scan.tokens -= (s64)n * NSEC_PER_SEC;
	/* The next round comes at once and looks again. */
	if (n)
		st->worked = true;
	esxmem_vm_put(vm);
}

/* One turn at the fixed rates of pages_per_sec and vm_pages_per_sec. */
static void fixed_step(struct scanner_state *st, unsigned int rate, u64 now)
{
	struct esxmem_vm *vm;
	unsigned long n;

	/* No cap at fixed rates: the advisor starts from a clean budget. */
	st->cpu_stamp = now;
	st->cpu_seen = READ_ONCE(current->se.sum_exec_runtime);
	st->cpu_budget = 0;
	n = bucket_fill(&st->tokens, &st->stamp, rate, now);
	if (!n) {
		/* Until one page's worth of tokens has come in. */
		scanner_sleep((NSEC_PER_SEC - st->tokens) / rate);
		return;
	}
	vm = esxmem_vm_next_held(&st->next_id);
	if (!vm) {
		/* A round ended; if no VM could scan, wait a little. */
		if (!st->worked)
			scanner_sleep(SCAN_IDLE_MS * NSEC_PER_MSEC);
		st->next_id = 0;
		st->worked = false;
		return;
	}
	st->next_id++;

	n = min3(n, bucket_fill(&vm->scan.tokens, &vm->scan.stamp,
				READ_ONCE(esxmem_share.vm_pages_per_sec),
				now),
		 (unsigned long)SCAN_BATCH);
	n = scan_turn(vm, n);
	if (n) {
		st->tokens -= (s64)n * NSEC_PER_SEC;
		vm->scan.tokens -= (s64)n * NSEC_PER_SEC;
		st->worked = true;
	}
	esxmem_vm_put(vm);
}

static int scanner_main(void *unused)
{
	struct scanner_state st = {
		.stamp = local_clock(),
		.cpu_stamp = local_clock(),
		.cpu_seen = current->se.sum_exec_runtime,
		.wait = SCAN_WAIT_MAX_NS,
	};

	set_freezable();
	set_user_nice(current, MAX_NICE);
	while (!kthread_should_stop()) {
		unsigned int rate = READ_ONCE(esxmem_share.pages_per_sec);

		/* Dead frames go back to the pool, scanning or not. */
		reap_dead_frames();
		if (!READ_ONCE(esxmem_share.enabled)) {
			wait_event_freezable(esxmem_share.wait,
					     READ_ONCE(esxmem_share.enabled) ||
					     frames_dead() ||
					     kthread_should_stop());
			st.stamp = local_clock();
			continue;
		}
		frames_resize();

		if (rate)
			fixed_step(&st, rate, local_clock());
		else
			advisor_step(&st, local_clock());
		cond_resched();
	}
	return 0;
}

/*
 * Starts or stops the scanner. Once stopped, it has finished its last
 * batch: no page changes on its account after this returns.
 */
void esxmem_share_set_enabled(bool on)
{
	WRITE_ONCE(esxmem_share.enabled, on);
	mutex_lock(&esxmem_share.run_lock);
	mutex_unlock(&esxmem_share.run_lock);
	esxmem_share_kick();
}

/*
 * Sets share/mode. What is shared already and the new mode forbids is
 * unshared before this returns (the scanner shares it again under the new
 * rules where they allow): 0, or the error of an unshare that found no
 * page for its copy.
 */
int esxmem_share_set_mode(enum esxmem_share_mode mode)
{
	WRITE_ONCE(esxmem_share.mode, mode);
	if (mode != ESXMEM_SHARE_SAFE) {
		mutex_lock(&esxmem_share.run_lock);
		safe_reserve_drain();
		mutex_unlock(&esxmem_share.run_lock);
	}
	esxmem_share_kick();
	return esxmem_share_unmerge_all(false);
}

/* Wakes the scanner after a knob changed. */
void esxmem_share_kick(void)
{
	atomic_inc(&esxmem_share.kicks);
	wake_up_all(&esxmem_share.wait);
}

u64 esxmem_share_cpu_ns(void)
{
	return scanner ? READ_ONCE(scanner->se.sum_exec_runtime) : 0;
}

unsigned long esxmem_share_frames(void)
{
	return READ_ONCE(frames.shared);
}

unsigned long esxmem_share_hints(void)
{
	return READ_ONCE(frames.hints);
}

int esxmem_share_init(void)
{
	scanner = kthread_run(scanner_main, NULL, "esxmem_scan");
	return PTR_ERR_OR_ZERO(scanner);
}

void esxmem_share_exit(void)
{
	kthread_stop(scanner);
	/* Every VM is gone: no fault queues a release any more. */
	flush_delayed_work(&safe_release_work);
	safe_release_queued();
	mutex_lock(&esxmem_share.run_lock);
	safe_reserve_drain();
	mutex_unlock(&esxmem_share.run_lock);
	reap_dead_frames();
	/* Every VM is gone, and with it every frame. */
	WARN_ON_ONCE(frames.shared);
	kvfree(frames.slot);
}
