/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the parts of esxmem.ko.
 *
 * Lock order, outermost first. A lock may be taken while holding only
 * locks above it on its path; functions that need one held say so with
 * lockdep_assert_held().
 *
 *   swap_files_lock (swap.c)		giving VMs swap files
 *     esxmem_vms_lock			the VM registry, VM policy
 *   esxmem_share.run_lock,		a background thread's batch (and
 *					the safe mode's reserve, share.c)
 *   esxmem_sampler.run_lock
 *     vm->balloon_lock			one balloon request a VM
 *       vm->zero_sem			leaving the zero state
 *         vm->reclaim.lock		page-outs, page-ins, their slots
 *           page lock			a machine page's pmap entry; a
 *					large page's, all its pieces'
 *					(large.c); a zero frame's, its
 *					mappings' (zero.c)
 *             esxmem_share.lock	the frame table, frame counts
 *             zstore.lock		the compression store
 *               vm->lock		pmap entries (spinlock)
 *                 esxmem_pool.lock	pool limits, state (spinlock)
 *   vm->kvm_lock			the KVM link
 *     a VMM's mmap_lock		walking its mappings
 *   esxmem_pool_config_lock		the pool's configuration
 *   vm->numa.lock			a VM's NUMA policy (spinlock): a leaf,
 *					held over nothing, taken under any
 *					of the above and mmap_lock (mbind)
 *
 * A VMM's mmap_lock is special: faults arrive holding it (read), and may
 * take everything from vm->zero_sem down, but never sleep for memory,
 * a page lock or swap I/O with it held when the fault allows a retry
 * (fault.c). Outside faults it is taken only by kvm.c, with nothing held
 * but kvm_lock: never under esxmem_vms_lock, genl_mutex (the netlink
 * family runs with parallel_ops) or a lock that faults or reclaim take.
 * Threads that work on a VM without esxmem_vms_lock hold it by its inode,
 * with esxmem_vm_grab() (fs.c): an unmount waits for such holds to end.
 * The sharing scanner only looks at a VM's bucket under RCU (VMs are freed
 * after a grace period) to see whether its turn is due, and holds it for
 * the turn itself.
 */
#ifndef _ESXMEM_H
#define _ESXMEM_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "compat.h"
#include "memstate.h"
#include "pmap.h"
#include "slotmap.h"

#define ESXMEM_MAGIC	0x65786d6d	/* "exmm": our pseudo filesystem */

/* pool.c: the machine memory that backs every VM's guest pages. */
struct esxmem_pool {
	atomic_long_t used;		/* pages charged */
	unsigned long pages;		/* limit; under @lock */
	spinlock_t lock;		/* pages, permille, thresholds, state */
	struct esxmem_permille permille;
	struct esxmem_thresholds thresholds;
	enum esxmem_mem_state state;
	wait_queue_head_t wait;		/* faults waiting for a page */
	unsigned int fault_wait_ms;

	atomic_long_t faults;
	atomic_long_t cow_breaks;
	atomic_long_t fault_waits;
	atomic_long_t fault_wait_timeouts;
	atomic_long_t alloc_failures;
	atomic_long_t state_changes;
};

extern struct esxmem_pool esxmem_pool;

/* The pool's knobs, set together or not at all. */
struct esxmem_pool_config {
	unsigned long pages;
	struct esxmem_permille permille;
	unsigned int fault_wait_ms;
};

#define ESXMEM_FAULT_WAIT_MS_MAX 600000

void esxmem_pool_init(unsigned long pages);
long esxmem_pool_free_pages(void);
/* Serializes read-modify-write of the configuration. */
extern struct mutex esxmem_pool_config_lock;
void esxmem_pool_get_config(struct esxmem_pool_config *c);
int esxmem_pool_configure(const struct esxmem_pool_config *c);
void esxmem_pool_uncharge(unsigned long pages);
bool esxmem_pool_charge_beyond(unsigned long pages, unsigned long beyond);
struct esxmem_vm;

/*
 * Large pages (large.c): 2 MiB folios that back an aligned 2 MiB of guest
 * RAM whole, so that the VMM, and through it KVM, map it with one PMD.
 */
#define ESXMEM_LARGE_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define ESXMEM_LARGE_PAGES	(1UL << ESXMEM_LARGE_ORDER)

struct folio *esxmem_vm_alloc_large(struct esxmem_vm *vm, pgoff_t base);
bool esxmem_pool_charge_breaking(unsigned long pages);
struct page *esxmem_vm_alloc_page_breaking(struct esxmem_vm *vm,
					   pgoff_t index);
/* A page for page @index of @vm, on the node its memory policy asks for. */
struct page *esxmem_vm_alloc_page(struct esxmem_vm *vm, pgoff_t index,
				  bool zero);
struct page *esxmem_vm_alloc_page_nowait(struct esxmem_vm *vm, pgoff_t index,
					 bool zero);
/*
 * Gives back a page of the pool that no pmap entry names and no page table
 * maps any more, dropping the caller's (the pmap's) reference. A page that
 * someone else still holds stays charged until its last holder lets go.
 */
void esxmem_vm_free_page(struct page *page);

/* numa.c: an object's NUMA memory policy, by page offset. */
#define ESXMEM_NUMA_RANGES_MAX	64	/* policy ranges of one object */
struct esxmem_numa {
	spinlock_t lock;		/* the ranges */
	struct list_head ranges;	/* disjoint, by offset */
	unsigned int nr_ranges;
};

struct mempolicy;
#ifdef CONFIG_NUMA
void esxmem_numa_init(struct esxmem_numa *numa);
void esxmem_numa_destroy(struct esxmem_numa *numa);
int esxmem_numa_set(struct esxmem_numa *numa, pgoff_t start, pgoff_t end,
		    const struct mempolicy *pol);
struct page *esxmem_numa_alloc(struct esxmem_numa *numa, pgoff_t index,
			       gfp_t gfp, unsigned int order);
#else
static inline void esxmem_numa_init(struct esxmem_numa *numa) {}
static inline void esxmem_numa_destroy(struct esxmem_numa *numa) {}
static inline struct page *esxmem_numa_alloc(struct esxmem_numa *numa,
					     pgoff_t index, gfp_t gfp,
					     unsigned int order)
{
	struct folio *folio;

	if (!order)
		return alloc_pages(gfp, 0);
	folio = folio_alloc(gfp, order);
	return folio ? &folio->page : NULL;
}
#endif

/* held.c: freed pages that someone else still holds. */
bool esxmem_held_put(struct page *page);
unsigned long esxmem_held_pages(void);
void esxmem_held_scan(void);
void esxmem_held_exit(void);

/* zero.c: what reads of pages that hold no data map. */
vm_fault_t esxmem_zero_insert(struct vm_fault *vmf, bool large_fits);
struct page *esxmem_zero_large_page(pgoff_t offset);
bool esxmem_zero_is_frame(struct page *page);
void esxmem_zero_barrier(void);
void esxmem_zero_exit(void);

/* large.c: guest RAM in large pages; the knobs and counters. */
enum esxmem_break_large {
	ESXMEM_BREAK_PRESSURE,		/* in the soft state and below */
	ESXMEM_BREAK_ALWAYS,
	ESXMEM_BREAK_NEVER,
};

struct esxmem_large {
	/* Knobs (sysfs), read without a lock. */
	bool enabled;			/* back new guest RAM with them */
	enum esxmem_break_large break_for_sharing;
	unsigned int max_zero_pieces;	/* more, and the scanner breaks it */
	/* Statistics. */
	atomic_long_t in_use;		/* large pages backing guest RAM */
	atomic_long_t allocs;
	atomic_long_t fallbacks;	/* small pages where one could be */
	atomic_long_t breaks;
	atomic_long_t underused_breaks;	/* ... of them, mostly zero */
	atomic_long_t break_failures;	/* held by someone, or no memory */
};

extern struct esxmem_large esxmem_large;

static inline pgoff_t esxmem_large_base(pgoff_t index)
{
	return index & ~(ESXMEM_LARGE_PAGES - 1);
}

/* Whether @page is a piece of a large page. */
static inline bool esxmem_page_is_large(struct page *page)
{
	return PageCompound(page);
}

bool esxmem_large_fits(struct vm_fault *vmf, struct esxmem_vm *vm);
vm_fault_t esxmem_large_fault_write(struct vm_fault *vmf,
				    struct esxmem_vm *vm);
void esxmem_large_touched(struct esxmem_vm *vm, pgoff_t base);
int esxmem_large_break(struct esxmem_vm *vm, pgoff_t index);
int esxmem_large_scan(struct esxmem_vm *vm, pgoff_t index, struct page *page);
bool esxmem_large_break_for_sharing(void);
void esxmem_zero_left(struct esxmem_vm *vm, pgoff_t start,
		      unsigned long pages);

/* share.c: what the page-sharing scanner keeps per VM. */
struct esxmem_vm_scan {
	/* Only the scanner thread touches these. */
	unsigned long npages;		/* size the pass was planned for */
	u64 start, step, k;		/* page k of a pass: start + k * step */
	s64 tokens;			/* the VM's bucket: advisor or fixed */
	u64 stamp;
	/* Statistics. */
	atomic_long_t pages_scanned;
	atomic_long_t full_scans;
	atomic_long_t hints;		/* hint frames naming this VM */
	atomic64_t scan_ns;		/* scanner time spent on this VM */
};

/* A VM's idle-memory sampling state (sample.c). */
struct esxmem_vm_sample {
	/* Only the sampler thread touches these. */
	pgoff_t *picked;		/* the pages sampled this period */
	unsigned int n;			/* how many */
	unsigned int capacity;		/* room in @picked */
	unsigned long due;		/* jiffies: the period ends */
	bool primed;			/* a period has completed */
	/* Counted by faults on sampled pages. */
	atomic_t touched;
	atomic64_t faults;
	/* Fractions in parts per million, read without a lock. */
	u32 last_ppm;
	u32 slow_ppm;
	u32 fast_ppm;
	u64 periods;
};

/* reclaim.c: what compression and swapping keep per VM. */
struct esxmem_vm_reclaim {
	struct mutex lock;		/* page-outs, page-ins, the slots */
	/* The compression cache: zsmalloc handles by slot, 0 when free. */
	unsigned long *zslot;
	unsigned long zslots;		/* room in @zslot */
	unsigned long zused;
	unsigned long znext;		/* where to look for a free slot */
	/* The swap file (swap.c) and its slots in use. */
	struct file *swap_file;
	unsigned long *swap_map;
	unsigned long swap_slots;
	unsigned long swap_used;
	unsigned long swap_next;
	/* Policy, set over netlink. */
	u64 swap_target;		/* U64_MAX: none */
	u64 compress_max;		/* U64_MAX: compress_percent of the size */
	/* Statistics. */
	atomic64_t swap_outs;
	atomic64_t swap_ins;
	atomic64_t swap_errors;		/* writes and reads that failed */
	atomic64_t compress_outs;
	atomic64_t compress_ins;
	atomic64_t compress_rejects;	/* pages that did not compress enough */
	atomic64_t compress_errors;
	atomic64_t skipped;		/* victims held by someone else */
	atomic64_t low_waits;		/* new pages held back in the low state */
	/*
	 * Under @lock: where the pieces of the large page reclaim broke last
	 * may remain, or -ENOENT; they go before another one is broken.
	 */
	long broken_near;
	/* Only the reclaim thread touches these. */
	unsigned long held_checked;	/* jiffies: held marks last cleared */
	unsigned long barren_until;	/* jiffies: gave nothing, passed over */
};

/* A SIGBUS a fault owes its task after it dropped mmap_lock (fault.c). */
struct esxmem_sigbus_owed {
	pid_t tid;
	pgoff_t index;
	unsigned long when;		/* jiffies */
};

#define ESXMEM_SIGBUS_OWED	4

/* vm.c: one VM memory object per open() of /dev/esxmem. */
struct esxmem_vm {
	struct inode *inode;		/* its inode, in an esxmem superblock */
	struct address_space *mapping;	/* what unmaps of this VM go through */
	struct mutex size_lock;		/* fixing the size and pmap */
	spinlock_t lock;		/* pmap entries and state_pages */
	esxmem_pte_t *pmap;		/* set once, with npages */
	/*
	 * Read-held while a fault checks an entry's state and maps the
	 * kernel's zero page there, write-held while a write takes an entry
	 * out of the zero state and unmaps its page: so a zero mapping is
	 * never left installed after the entry leaves the zero state. (Freeing
	 * does without it; map_zero() looks again after mapping: see fault.c.)
	 */
	struct rw_semaphore zero_sem;
	unsigned long npages;
	unsigned long state_pages[ESXMEM_PAGE_NR_STATES];
	unsigned long held_pages;	/* entries marked ESXMEM_PTE_HELD */

	atomic_t mappings;
	atomic_t mappings_gen;		/* bumped when a mapping comes or goes */
	atomic_long_t faults;
	atomic_long_t cow_breaks;
	atomic_long_t fault_waits;
	atomic_long_t fault_wait_timeouts;
	/* Under @lock. */
	struct esxmem_sigbus_owed sigbus_owed[ESXMEM_SIGBUS_OWED];
	unsigned int sigbus_owed_next;
	unsigned long sigbus_owed_last;	/* jiffies; read without @lock */

	pid_t owner_pid;
	char owner_comm[TASK_COMM_LEN];
	u32 id;				/* key in the VM registry */

	/* Policy set over netlink; under esxmem_vms_lock. */
	char name[ESXMEM_VM_NAME_MAX];
	u32 domain;
	u32 shares;
	u32 flags;
	u64 min_pages;
	u64 max_pages;
	u64 target_pages;

	struct mutex kvm_lock;		/* @kvm and its map */
	struct mutex balloon_lock;	/* one balloon request at a time */
	/* NULL when not attached; set under kvm_lock, read under RCU. */
	struct esxmem_kvm_link __rcu *kvm;

	struct esxmem_vm_scan scan;
	struct esxmem_vm_sample sample;
	struct esxmem_vm_reclaim reclaim;
	struct esxmem_numa numa;
	struct rcu_head rcu;
};

#define ESXMEM_DEFAULT_SHARES	1000


struct esxmem_vm *esxmem_vm_create(struct inode *inode);
void esxmem_vm_destroy(struct esxmem_vm *vm);
long esxmem_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
unsigned long esxmem_vm_count(void);
void esxmem_vm_get_stats(struct esxmem_vm *vm, struct esxmem_vm_stats *st);

/*
 * The VM registry: held across a netlink request that looks VMs up, and
 * while objects come and go, which bumps the generation.
 */
extern struct mutex esxmem_vms_lock;
extern u64 esxmem_vms_generation;
struct esxmem_vm *esxmem_vm_lookup(u32 id);
/* Under rcu_read_lock(); the VM may be on its way out. */
struct esxmem_vm *esxmem_vm_lookup_rcu(u32 id);
unsigned long esxmem_vm_total_pages(void);
u64 esxmem_vm_frame_table_bytes(u64 npages);
unsigned long esxmem_vm_sum_state(enum esxmem_page_state state);
struct esxmem_vm *esxmem_vm_next(u32 *id);
struct esxmem_vm *esxmem_vm_next_held(u32 *id);
/* Under rcu_read_lock(), as esxmem_vm_lookup_rcu(). */
struct esxmem_vm *esxmem_vm_next_rcu(u32 *id);
int esxmem_vm_fix_size(struct esxmem_vm *vm, unsigned long npages,
		       bool exact);
void *esxmem_table_alloc(size_t n, size_t size);
void esxmem_vm_set_pte(struct esxmem_vm *vm, pgoff_t index, esxmem_pte_t e);
struct page *esxmem_vm_get_private(struct esxmem_vm *vm, pgoff_t index);
/* Drops the machine page behind a pmap entry that was just cleared. */
void esxmem_vm_release(esxmem_pte_t e);

/* Whether entry @e is still @page, private to its VM. */
static inline bool esxmem_pte_private(esxmem_pte_t e, struct page *page)
{
	return esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE &&
	       esxmem_pte_payload(e) == page_to_pfn(page);
}

/* Whether entry @e is still backed by machine page @page. */
static inline bool esxmem_pte_maps(esxmem_pte_t e, struct page *page)
{
	return esxmem_pte_has_pfn(e) &&
	       esxmem_pte_payload(e) == page_to_pfn(page);
}

/*
 * Whether anyone beyond esxmem holds @page: a GUP pin (VFIO, O_DIRECT, a
 * pipe's vmsplice), a fault in progress, a reference of any kind. esxmem
 * holds one reference for the pmap (or, for a shared frame, one for the
 * frame), each page table mapping holds one, and the caller holds @own.
 * A held page is never freed, shared, written in place for another, nor
 * paged out: its holder may read or write it at any moment.
 */
static inline bool esxmem_page_held(struct page *page, int own)
{
	return page_count(page) > 1 + own + esxmem_page_mapcount(page);
}

/* fault.c: mapping guest RAM, faults, copy-on-write and punching holes. */
bool esxmem_vma_is_ours(const struct vm_area_struct *vma);
int esxmem_mmap(struct file *file, struct vm_area_struct *vma);
void esxmem_vm_unmap_page(struct esxmem_vm *vm, pgoff_t index);
int esxmem_vm_punch_hole(struct esxmem_vm *vm, loff_t offset, loff_t len);
int esxmem_vm_move_candidate(struct esxmem_vm *vm, pgoff_t index,
			     struct page *page);
int esxmem_vm_unshare_page(struct esxmem_vm *vm, pgoff_t index,
			   struct page *frame);
int esxmem_vm_free_range(struct esxmem_vm *vm, pgoff_t start, pgoff_t end);
bool esxmem_vm_isolate_page(struct esxmem_vm *vm, pgoff_t index,
			    struct page *page);
long esxmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len);

/* share.c: content-based page sharing. */
enum esxmem_share_mode {
	ESXMEM_SHARE_ISOLATED,	/* within sharing domains only */
	ESXMEM_SHARE_SAFE,	/* across domains, idle pages, copy on access */
	ESXMEM_SHARE_OPEN,	/* across domains, nothing hidden */
};

struct esxmem_share {
	struct mutex lock;		/* the frame table, frame counts */
	struct mutex run_lock;		/* held while the scanner works */
	wait_queue_head_t wait;		/* the scanner's */
	atomic_t kicks;			/* ends the scanner's naps */
	/* Knobs (sysfs), read without a lock. */
	bool enabled;
	bool isolate_vms;		/* every VM its own sharing domain */
	enum esxmem_share_mode mode;	/* set by esxmem_share_set_mode() */
	unsigned int safe_idle_passes;	/* safe mode: visits a page stays idle */
	unsigned int scan_time_secs;	/* the advisor's time for a VM's pass */
	unsigned int max_cpu_percent;	/* its cap, of one CPU */
	unsigned int pages_per_sec;	/* fixed rates if non-zero */
	unsigned int vm_pages_per_sec;
	/* Statistics. */
	unsigned long table_bytes;
	atomic64_t cpu_capped_ns;	/* time the cap held the scanner */
	atomic_long_t sharing;		/* pmap entries on shared frames */
	atomic_long_t pages_scanned;
	atomic_long_t full_scans;
	atomic_long_t merges;		/* pages freed by sharing */
	atomic_long_t zero_merges;	/* ... of them, zero pages */
	atomic_long_t stale_hints;	/* hinted pages that had changed */
	atomic_long_t hints_dropped;	/* hints of pages seen changed */
	atomic_long_t hints_evicted;	/* hints pushed out by others */
	atomic_long_t collisions;	/* same hash, other content */
	atomic_long_t table_full;	/* hints not kept for want of room */
	atomic_long_t candidates;	/* safe mode: pages taken as candidates */
	atomic_long_t access_copies;	/* ... and copied on their next access */
};

#define ESXMEM_SCAN_RATE_MAX	10000000	/* pages a second */
#define ESXMEM_SCAN_TIME_MAX	86400		/* seconds: a day */
#define ESXMEM_SAFE_IDLE_PASSES_MAX 100

extern struct esxmem_share esxmem_share;
int esxmem_share_init(void);
void esxmem_share_exit(void);
void esxmem_share_kick(void);
void esxmem_share_set_enabled(bool on);
int esxmem_share_set_mode(enum esxmem_share_mode mode);
void esxmem_share_release_later(esxmem_pte_t e);
unsigned long esxmem_share_releases_pending(void);
unsigned long esxmem_share_reserve_pages(void);
void esxmem_share_put(struct page *frame);
bool esxmem_share_claim(struct page *frame);
void esxmem_share_forget_vm(struct esxmem_vm *vm);
int esxmem_share_unmerge_vm(struct esxmem_vm *vm, bool all);
int esxmem_share_unmerge_all(bool all);
u64 esxmem_share_cpu_ns(void);
unsigned long esxmem_share_frames(void);
unsigned long esxmem_share_hints(void);

/*
 * balloon.c: pages the guest's balloon holds go back to the pool. On error
 * *@bad is the position in @gfns of the first frame refused, if any.
 */
int esxmem_vm_balloon(struct esxmem_vm *vm, const u64 *gfns, unsigned int n,
		      bool release, unsigned int *bad);

/* sample.c: idle-memory sampling. */
struct esxmem_sampler {
	struct mutex run_lock;		/* held while the sampler works */
	wait_queue_head_t wait;		/* the sampler's */
	/* Knobs (sysfs, netlink). */
	bool enabled;
	unsigned int period_secs;
	unsigned int pages;
	/* Statistics. */
	atomic64_t faults;		/* touches of sampled pages */
	atomic64_t periods;		/* VM periods completed */
};

extern struct esxmem_sampler esxmem_sampler;
int esxmem_sample_init(void);
void esxmem_sample_exit(void);
void esxmem_sample_kick(void);
u64 esxmem_sample_cpu_ns(void);
void esxmem_sample_set_enabled(bool on);
void esxmem_sample_touched(struct esxmem_vm *vm);
void esxmem_sample_forget_vm(struct esxmem_vm *vm);
u32 esxmem_sample_partial_ppm(struct esxmem_vm *vm);
u32 esxmem_sample_estimate_ppm(struct esxmem_vm *vm);

/* compress.c: the compression cache's store, shared by every VM. */
#define ESXMEM_COMPRESS_MAX_BYTES 2048	/* pages that compress to more stay out */
/*
 * How far the store may take the pool beyond its size: it grows by a whole
 * zspage (up to 4 pages) before the page it takes in goes back, and an
 * exhausted pool must still be able to compress. Four zspages: 64 KiB.
 */
#define ESXMEM_ZSTORE_BEYOND_PAGES 16
int esxmem_zstore_init(void);
void esxmem_zstore_exit(void);
int esxmem_zstore_put(struct page *page, unsigned long *handle);
int esxmem_zstore_get(unsigned long handle, struct page *page);
void esxmem_zstore_free(unsigned long handle);
u64 esxmem_zstore_bytes(void);
unsigned long esxmem_zstore_pages(void);
void esxmem_zstore_resync(void);

/* swap.c: each VM's swap file. */
struct netlink_ext_ack;
int esxmem_swap_set_file(struct esxmem_vm *vm, int fd,
			 struct netlink_ext_ack *extack);
long esxmem_swap_slot_get(struct esxmem_vm_reclaim *r);
long esxmem_swap_out(struct esxmem_vm_reclaim *r, struct page *page);
int esxmem_swap_in(struct esxmem_vm_reclaim *r, struct page *page,
		   unsigned long slot);
void esxmem_swap_slot_put(struct esxmem_vm_reclaim *r, unsigned long slot);
void esxmem_swap_forget_vm(struct esxmem_vm *vm);

/* reclaim.c: compression and swapping of guest pages. */
struct esxmem_reclaimer {
	wait_queue_head_t wait;		/* the reclaim thread's */
	/* Knobs (sysfs). */
	bool enabled;
	unsigned int compress_percent;	/* a VM's cache by default, of its size */
	/* Statistics. */
	atomic64_t emergency_pages;	/* paged out with no target asking */
};

extern struct esxmem_reclaimer esxmem_reclaimer;
int esxmem_reclaim_init(void);
void esxmem_reclaim_exit(void);
void esxmem_reclaim_kick(void);
u64 esxmem_reclaim_cpu_ns(void);
void esxmem_reclaim_init_vm(struct esxmem_vm *vm);
void esxmem_reclaim_forget_vm(struct esxmem_vm *vm);
void esxmem_reclaim_drop(struct esxmem_vm *vm, esxmem_pte_t e);
int esxmem_page_in(struct esxmem_vm *vm, pgoff_t index, esxmem_pte_t e,
		   struct page *fresh, bool nowait);
bool esxmem_reclaim_holds_back(struct esxmem_vm *vm);
u64 esxmem_reclaim_sum(size_t offset);

/* fs.c: esxmemfs, whose regular files are VM memory objects. */
int esxmem_fs_init(void);
void esxmem_fs_exit(void);
struct inode *esxmem_fs_new_object(void);
bool esxmem_vm_grab(struct esxmem_vm *vm);
void esxmem_vm_put(struct esxmem_vm *vm);

/* device.c: /dev/esxmem, one new object per open(). */
int esxmem_device_init(void);
void esxmem_device_exit(void);

/* kvm.c: the link to the KVM VM running on an object. */
#define ESXMEM_SLOTMAP_MAX	512	/* pieces: far more than VMMs make */
struct esxmem_kvm_link;
int esxmem_kvm_attach(struct esxmem_vm *vm, int fd);
void esxmem_kvm_detach(struct esxmem_vm *vm);
int esxmem_kvm_refresh(struct esxmem_vm *vm);
int esxmem_kvm_gfn_to_offset(struct esxmem_vm *vm, u64 gfn, u64 *offset);
int esxmem_kvm_report(struct esxmem_vm *vm,
		      int (*report)(void *ctx, const struct esxmem_slotmap *map,
				    pid_t pid),
		      void *ctx);
bool esxmem_kvm_has_assigned_device(struct esxmem_vm *vm);

/* netlink.c: the generic netlink family; events from the rest. */
int esxmem_netlink_init(void);
void esxmem_netlink_exit(void);
void esxmem_netlink_vm_event(int cmd, u32 id, pid_t owner);
void esxmem_netlink_state_changed(void);

/* sysfs.c */
int esxmem_sysfs_init(void);
void esxmem_sysfs_exit(void);
void esxmem_sysfs_state_changed(void);

#endif
