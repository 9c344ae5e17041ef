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
 * pool: a handful of pages for the whole host.
 */
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pfn_t.h>

#include "esxmem.h"

#define ZERO_FRAME_MAPPINGS	(1 << 30)
#define ZERO_FRAMES_MAX		64	/* 2^36 mappings: 256 TiB of zero pages */

static struct {
	struct mutex lock;		/* making frames */
	unsigned int nr;		/* frames made; only grows */
	struct page *frame[ZERO_FRAMES_MAX];
} zero = {
	.lock = __MUTEX_INITIALIZER(zero.lock),
};

/* The frame new zero mappings take, or NULL when none can be had. */
static struct page *zero_frame(void)
{
	/* Pairs with the release below: the frame is there before nr counts it. */
	unsigned int nr = smp_load_acquire(&zero.nr);
	struct page *page;

	if (nr && page_count(zero.frame[nr - 1]) < ZERO_FRAME_MAPPINGS)
		return zero.frame[nr - 1];
	mutex_lock(&zero.lock);
	nr = zero.nr;
	if (nr && page_count(zero.frame[nr - 1]) < ZERO_FRAME_MAPPINGS) {
		page = zero.frame[nr - 1];
	} else if (nr < ZERO_FRAMES_MAX) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (page) {
			zero.frame[nr] = page;
			smp_store_release(&zero.nr, nr + 1);
		}
	} else {
		page = NULL;
	}
	mutex_unlock(&zero.lock);
	return page;
}

/* Maps the zero mapping at @vmf's address, read-only as every first map. */
vm_fault_t esxmem_zero_insert(struct vm_fault *vmf)
{
	struct page *page;

	if (ESXMEM_KERNEL_ZERO_PAGE_SHARED)
		return vmf_insert_mixed(vmf->vma, vmf->address,
					pfn_to_pfn_t(my_zero_pfn(vmf->address)));
	page = zero_frame();
	if (!page)
		return VM_FAULT_OOM;
	return vmf_insert_page(vmf->vma, vmf->address, page);
}

/* Whether @page is one of esxmem's zero frames. */
bool esxmem_zero_is_frame(struct page *page)
{
	unsigned int nr = smp_load_acquire(&zero.nr), i;

	for (i = 0; i < nr; i++)
		if (zero.frame[i] == page)
			return true;
	return false;
}


/* At module exit, when no VM, and so no mapping, is left. */
void esxmem_zero_exit(void)
{
	unsigned int i;

	/* A pipe or a pin may hold a frame yet: it goes when they let go. */
	for (i = 0; i < zero.nr; i++)
		put_page(zero.frame[i]);
	zero.nr = 0;
}
