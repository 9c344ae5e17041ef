// SPDX-License-Identifier: GPL-2.0
/*
 * The zero mapping: what a read of a page that holds no data maps.
 *
 * Where the kernel allows it (before 6.10), that is the kernel's zero page,
 * inserted as a special PTE the way DAX maps holes: no reference and no
 * mapcount, so any number of zero mappings costs nothing and can overflow
 * no count.
 *
 * Since 6.10 the kernel refuses its zero page in a shared mapping that may
 * be written (vm_mixed_zeropage_allowed(): a long-term GUP pin of the zero
 * page would outlive the write that replaces it). There zero pages map
 * esxmem's own zero frames instead: zeroed pages never written, inserted
 * as ordinary pages, so that each mapping takes a reference and a
 * mapcount. A frame takes at most ZERO_FRAME_MAPPINGS of them, half of
 * what would overflow either count; then the next frame is made. What a
 * pin holds is a zero frame, which never changes: a write gets the page a
 * private copy, as for any shared frame. The frames are not charged to the
 * pool: a handful of pages for the whole host. A zero frame is not mapped
 * from inside the fault but returned by it, locked, as any page: since
 * large pages (large.c), esxmem's VMAs are not VM_MIXEDMAP, which
 * vm_insert_page() would need.
 *
 * A read of a 2 MiB range that holds no data anywhere maps a large zero
 * frame, a zeroed 2 MiB folio, over the whole range with one PMD, where the
 * VMA allows (large.c): the guest keeps its 2 MiB mappings on memory it has
 * only read, and the first write takes the PMD down (.huge_fault) and gets
 * a large page. These are returned by the fault too.
 *
 * A frame returned by the fault is mapped after the fault has looked at
 * the entries, so a path that takes an entry out of the zero state calls
 * esxmem_zero_left() after the change: it takes and drops the lock of
 * every frame (esxmem_zero_barrier()), then unmaps the range. A fault
 * holds its frame locked from its look at the entries until its mapping
 * is in: either it looked after the entry left the zero state, and maps
 * nothing, or its mapping is in before the unmap, which takes it down.
 */
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/pfn_t.h>

#include "esxmem.h"

#define ZERO_FRAME_MAPPINGS	(1 << 30)
#define ZERO_FRAMES_MAX		64	/* 2^36 mappings: 256 TiB of zero pages */

/* The small zero frames, or the large ones. */
struct zero_frames {
	unsigned int order;
	unsigned int nr;		/* frames made; only grows */
	struct page *frame[ZERO_FRAMES_MAX];
};

static DEFINE_MUTEX(zero_lock);		/* making frames */
static struct zero_frames zero_small, zero_large = {
	.order = ESXMEM_LARGE_ORDER,
};

/* The frame new zero mappings take, or NULL when none can be had. */
static struct page *zero_frame(struct zero_frames *z)
{
	/* Pairs with the release below: the frame is there before nr counts it. */
	unsigned int nr = smp_load_acquire(&z->nr);
	struct folio *folio;
	struct page *page;

	if (nr && page_count(z->frame[nr - 1]) < ZERO_FRAME_MAPPINGS)
		return z->frame[nr - 1];
	mutex_lock(&zero_lock);
	nr = z->nr;
	if (nr && page_count(z->frame[nr - 1]) < ZERO_FRAME_MAPPINGS) {
		page = z->frame[nr - 1];
	} else if (nr < ZERO_FRAMES_MAX) {
		if (z->order) {
			folio = folio_alloc(GFP_KERNEL | __GFP_ZERO |
					    __GFP_NOWARN, z->order);
			page = folio ? &folio->page : NULL;
		} else {
			page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		}
		if (page) {
			z->frame[nr] = page;
			/* Pairs with the acquires: the frame before the count. */
			smp_store_release(&z->nr, nr + 1);
		}
	} else {
		page = NULL;
	}
	mutex_unlock(&zero_lock);
	return page;
}

/*
 * Maps the zero mapping at @vmf's address, read-only as every first map:
 * the kernel's zero page, or VM_FAULT_LOCKED and a small zero frame in
 * vmf->page for the caller to check the entry against (see above). Where a
 * large zero frame may be mapped (@large_fits), never the kernel's zero
 * page: vmf_insert_mixed() walks to the PMD before it takes any lock, and
 * would write its PTE into a large zero frame that another fault mapped
 * there meanwhile; finish_fault() sees such a PMD under its lock.
 */
vm_fault_t esxmem_zero_insert(struct vm_fault *vmf, bool large_fits)
{
	struct page *page;

	if (ESXMEM_KERNEL_ZERO_PAGE_SHARED && !large_fits)
		return vmf_insert_mixed(vmf->vma, vmf->address,
					pfn_to_pfn_t(my_zero_pfn(vmf->address)));
	page = zero_frame(&zero_small);
	if (!page)
		return VM_FAULT_OOM;
	get_page(page);
	lock_page(page);
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * Piece @offset of a large zero frame, referenced, or NULL when none can
 * be had (the fault maps small zero pages instead).
 */
struct page *esxmem_zero_large_page(pgoff_t offset)
{
	struct page *head = zero_frame(&zero_large);

	if (!head)
		return NULL;
	get_page(head);
	return nth_page(head, offset);
}

/* Whether @page is one of esxmem's zero frames, or a piece of one. */
bool esxmem_zero_is_frame(struct page *page)
{
	struct page *head = compound_head(page);
	struct zero_frames *z = PageCompound(page) ? &zero_large : &zero_small;
	/* Pairs with the release in zero_frame(). */
	unsigned int nr = smp_load_acquire(&z->nr), i;

	for (i = 0; i < nr; i++)
		if (z->frame[i] == head)
			return true;
	return false;
}

/* Waits for faults that are mapping a zero frame they chose: see above. */
void esxmem_zero_barrier(void)
{
	struct zero_frames *zs[] = { &zero_small, &zero_large };
	unsigned int i, k, nr;

	for (k = 0; k < ARRAY_SIZE(zs); k++) {
		/* Pairs with the release in zero_frame(). */
		nr = smp_load_acquire(&zs[k]->nr);
		for (i = 0; i < nr; i++) {
			lock_page(zs[k]->frame[i]);
			unlock_page(zs[k]->frame[i]);
		}
	}
}

/*
 * Called once entries [start, start + @pages) of @vm have left the zero
 * state: no zero mapping is left there afterwards (see above).
 */
void esxmem_zero_left(struct esxmem_vm *vm, pgoff_t start,
		      unsigned long pages)
{
	loff_t from = (loff_t)start << PAGE_SHIFT;
	loff_t len = (loff_t)pages << PAGE_SHIFT;

	esxmem_zero_barrier();
	unmap_mapping_range(vm->mapping, from, len, 0);
}

static void zero_frames_put(struct zero_frames *z)
{
	unsigned int i;

	/* A pipe or a pin may hold a frame yet: it goes when they let go. */
	for (i = 0; i < z->nr; i++)
		put_page(z->frame[i]);
	z->nr = 0;
}

/* At module exit, when no VM, and so no mapping, is left. */
void esxmem_zero_exit(void)
{
	zero_frames_put(&zero_small);
	zero_frames_put(&zero_large);
}
