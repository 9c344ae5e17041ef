// SPDX-License-Identifier: GPL-2.0
/*
 * Large pages: guest RAM in 2 MiB folios, as ESX backs guests.
 *
 * A write to a 2 MiB range of an object that holds no data anywhere (every
 * entry unbacked or zero) gets one large page for the whole range when the
 * pool is in the high state and the host has one free at once. The fault
 * returns its piece; the kernel's finish_fault() then maps the whole folio
 * with one PMD wherever the VMA is aligned to it (esxmem_large_fits()), so
 * KVM, which follows the VMM's page tables, maps 2 MiB in its NPT/EPT too.
 * Where the VMA is not aligned the pieces are mapped with 4 KiB PTEs, and
 * where no large page can be had the range gets small pages as before.
 *
 * The pmap keeps one entry per 4 KiB piece, as for small pages: the pool,
 * the states and every count go on counting 4 KiB pages. The pieces'
 * entries are all PRIVATE, naming consecutive pfns of one folio, and they
 * change only together, with the folio locked:
 *  - broken (esxmem_large_break()): every piece gets a small page of its
 *    own with its data, all-zero pieces go to the zero state, and the
 *    folio goes back to the pool. Sharing breaks large pages in the
 *    pressure states (share/break_large), and in any state a large page
 *    that is mostly zero (esxmem_large_scan()); the balloon and partial
 *    holes break the pages they touch;
 *  - paged out whole by reclaim (reclaim.c), or broken by it when it is
 *    asked for less than a large page; or freed whole by a hole or the
 *    object's end (fault.c).
 * The pmap holds a single reference to the folio, whichever number of
 * pieces name it: code that takes a piece for a small page must not, and
 * esxmem_vm_isolate_page() refuses pieces, so that no path that frees or
 * shares one page can ever free or share a piece of a large one.
 *
 * Idle sampling traps a large page whole: unmapping the sampled piece
 * takes down the PMD, and the next touch of any piece maps it again and
 * counts as a touch of every sampled piece (esxmem_large_touched()). The
 * estimate is made at the granularity the memory can be reclaimed at
 * without breaking, which is what the guest's working set costs the host.
 */
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

#include "esxmem.h"

struct esxmem_large esxmem_large = {
	.enabled = true,
	.break_for_sharing = ESXMEM_BREAK_PRESSURE,
	.max_zero_pieces = ESXMEM_LARGE_PAGES / 2,
};

/*
 * Whether the large page for @vmf's page can be mapped with one PMD: the
 * VMA's offset aligned to it, the 2 MiB around the address all inside the
 * VMA, and the aligned range inside the object.
 */
bool esxmem_large_fits(struct vm_fault *vmf, struct esxmem_vm *vm)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long haddr = vmf->address & PMD_MASK;

	return READ_ONCE(esxmem_large.enabled) &&
	       IS_ALIGNED((vma->vm_start >> PAGE_SHIFT) - vma->vm_pgoff,
			  ESXMEM_LARGE_PAGES) &&
	       haddr >= vma->vm_start && haddr + PMD_SIZE <= vma->vm_end &&
	       esxmem_large_base(vmf->pgoff) + ESXMEM_LARGE_PAGES <= vm->npages;
}

/* Whether every entry of the range at @base holds no data. */
static bool range_empty(struct esxmem_vm *vm, pgoff_t base)
{
	unsigned long i;

	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		enum esxmem_page_state s =
			esxmem_pte_state(READ_ONCE(vm->pmap[base + i]));

		if (s != ESXMEM_PAGE_ZERO && s != ESXMEM_PAGE_UNBACKED)
			return false;
	}
	return true;
}

/*
 * A write to an empty 2 MiB range that the VMA can map whole: a large page
 * for it, its piece returned locked in vmf->page. 0 when that does not
 * apply or no large page can be had at once: the fault goes on with a
 * small page.
 */
vm_fault_t esxmem_large_fault_write(struct vm_fault *vmf,
				    struct esxmem_vm *vm)
{
	pgoff_t base = esxmem_large_base(vmf->pgoff);
	struct folio *folio;
	bool empty;
	unsigned long i;

	if (!esxmem_large_fits(vmf, vm) || !range_empty(vm, base))
		return 0;
	folio = esxmem_vm_alloc_large(vm, base);
	if (!folio) {
		atomic_long_inc(&esxmem_large.fallbacks);
		return 0;
	}
	/* Leaving the zero state: see esxmem_vm.zero_sem. */
	down_write(&vm->zero_sem);
	spin_lock(&vm->lock);
	empty = range_empty(vm, base);
	if (empty) {
		/* What finish_fault() checks against the file's size. */
		folio->index = base;
		for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
			esxmem_pte_t old = vm->pmap[base + i];

			esxmem_vm_set_pte(vm, base + i,
				esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
						folio_pfn(folio) + i,
						old & ESXMEM_PTE_SAMPLED));
		}
		/* Unpublished until now, so nobody else holds its lock. */
		__folio_set_locked(folio);
	}
	spin_unlock(&vm->lock);
	/*
	 * Even with no entry zero now: one freed from the zero state a moment
	 * ago may still show a zero mapping until its hole's unmap.
	 */
	if (empty)
		esxmem_zero_left(vm, base, ESXMEM_LARGE_PAGES);
	up_write(&vm->zero_sem);
	if (!empty) {
		esxmem_vm_free_page(&folio->page);
		return 0;
	}
	atomic_long_inc(&esxmem_large.allocs);
	atomic_long_inc(&esxmem_large.in_use);
	/* The reference the mapping takes over from the fault. */
	folio_get(folio);
	vmf->page = folio_page(folio, vmf->pgoff - base);
	return VM_FAULT_LOCKED;
}

/*
 * A touch of the large page at @base: it is mapped whole, so each of its
 * pieces that the idle sampler marked counts as touched.
 */
void esxmem_large_touched(struct esxmem_vm *vm, pgoff_t base)
{
	unsigned long i;

	lockdep_assert_held(&vm->lock);
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		if (vm->pmap[base + i] & ESXMEM_PTE_SAMPLED) {
			vm->pmap[base + i] &= ~ESXMEM_PTE_SAMPLED;
			esxmem_sample_touched(vm);
		}
	}
}

/* Whether sharing may break large pages now (share/break_large). */
bool esxmem_large_break_for_sharing(void)
{
	switch (READ_ONCE(esxmem_large.break_for_sharing)) {
	case ESXMEM_BREAK_ALWAYS:
		return true;
	case ESXMEM_BREAK_NEVER:
		return false;
	default:
		return READ_ONCE(esxmem_pool.state) >= ESXMEM_STATE_SOFT;
	}
}

/* Whether the entries at @base still name the pieces of locked @folio. */
static bool names_folio(struct esxmem_vm *vm, pgoff_t base,
			struct folio *folio)
{
	lockdep_assert_held(&vm->lock);
	return esxmem_pte_private(vm->pmap[base], &folio->page);
}

static bool piece_is_zero(struct page *page)
{
	void *p = kmap_local_page(page);
	bool zero = !memchr_inv(p, 0, PAGE_SIZE);

	kunmap_local(p);
	return zero;
}

/*
 * Breaks the large page that backs page @index of @vm into small pages:
 * each piece gets a page of its own with its data (all-zero pieces go to
 * the zero state and take none), then the large page goes back to the
 * pool. Sleeps; called with no page locked. 0 when done, or when the
 * entry is not a piece of a large page (any more); -EBUSY when someone
 * else holds the large page (a GUP pin, I/O in flight): what they hold must
 * not be copied away from under them; -ENOMEM when the small pages cannot
 * be had.
 */
static int break_large(struct esxmem_vm *vm, pgoff_t index, bool mostly_zero)
{
	pgoff_t base = esxmem_large_base(index);
	DECLARE_BITMAP(data, ESXMEM_LARGE_PAGES);
	unsigned long i, charged = 0;
	struct page **small = NULL;
	struct folio *folio;
	esxmem_pte_t e;
	int err = 0;

	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (!esxmem_pte_has_pfn(e) ||
	    !esxmem_page_is_large(pfn_to_page(esxmem_pte_payload(e)))) {
		spin_unlock(&vm->lock);
		return 0;
	}
	folio = page_folio(pfn_to_page(esxmem_pte_payload(e)));
	folio_get(folio);
	spin_unlock(&vm->lock);

	small = kcalloc(ESXMEM_LARGE_PAGES, sizeof(*small), GFP_KERNEL);
	if (!small) {
		err = -ENOMEM;
		goto put;
	}
	folio_lock(folio);
	spin_lock(&vm->lock);
	if (!names_folio(vm, base, folio)) {
		/* Broken or freed meanwhile. */
		spin_unlock(&vm->lock);
		goto unlock;
	}
	spin_unlock(&vm->lock);

	/*
	 * A pinned page first, before its mappings go: unmapping it would
	 * only take the 2 MiB mapping from the guest for nothing.
	 */
	if (folio_maybe_dma_pinned(folio)) {
		err = -EBUSY;
		goto unlock;
	}
	/* The pmap's reference and ours, once nothing maps it. */
	unmap_mapping_range(vm->mapping, (loff_t)base << PAGE_SHIFT, PMD_SIZE,
			    0);
	if (folio_mapped(folio) || folio_maybe_dma_pinned(folio) ||
	    folio_ref_count(folio) != 2) {
		err = -EBUSY;
		goto unlock;
	}
	/*
	 * The pieces that hold data, and their small pages charged at once:
	 * with the pool exhausted the break fails here, before it allocates
	 * or copies anything.
	 */
	bitmap_zero(data, ESXMEM_LARGE_PAGES);
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		if (!piece_is_zero(folio_page(folio, i)))
			__set_bit(i, data);
		if (!(i % 64))
			cond_resched();
	}
	charged = bitmap_weight(data, ESXMEM_LARGE_PAGES);
	if (!esxmem_pool_charge_breaking(charged)) {
		charged = 0;
		err = -ENOMEM;
		goto unlock;
	}
	for_each_set_bit(i, data, ESXMEM_LARGE_PAGES) {
		small[i] = esxmem_vm_alloc_page_breaking(vm, base + i);
		if (!small[i]) {
			err = -ENOMEM;
			goto unlock;
		}
		/* Its charge goes with it now: esxmem_vm_free_page(). */
		charged--;
		copy_highpage(small[i], folio_page(folio, i));
		cond_resched();
	}

	spin_lock(&vm->lock);
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		esxmem_pte_t old = vm->pmap[base + i];

		/* The sampler's and the writer's marks stay with the data. */
		esxmem_vm_set_pte(vm, base + i, small[i] ?
			esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
					page_to_pfn(small[i]),
					old & (ESXMEM_PTE_SAMPLED |
					       ESXMEM_PTE_DIRTY)) :
			esxmem_pte_make(ESXMEM_PAGE_ZERO, 0,
					old & ESXMEM_PTE_SAMPLED));
		small[i] = NULL;
	}
	spin_unlock(&vm->lock);
	folio_unlock(folio);
	folio_put(folio);
	/* The pmap's reference: the large page goes back to the pool. */
	esxmem_vm_free_page(&folio->page);
	atomic_long_dec(&esxmem_large.in_use);
	atomic_long_inc(&esxmem_large.breaks);
	if (mostly_zero)
		atomic_long_inc(&esxmem_large.underused_breaks);
	kfree(small);
	return 0;

unlock:
	folio_unlock(folio);
put:
	folio_put(folio);
	if (small) {
		for (i = 0; i < ESXMEM_LARGE_PAGES; i++)
			if (small[i])
				esxmem_vm_free_page(small[i]);
		kfree(small);
	}
	esxmem_pool_uncharge(charged);
	if (err)
		atomic_long_inc(&esxmem_large.break_failures);
	return err;
}

/* break_large() for everyone but the scanner's underused large pages. */
int esxmem_large_break(struct esxmem_vm *vm, pgoff_t index)
{
	return break_large(vm, index, false);
}

/*
 * Whether more than large_max_zero_pieces pieces of @folio are all zero.
 * The guest may write meanwhile: this is only the decision, and the break
 * looks at every piece again once the large page is unmapped.
 */
static bool underused(struct folio *folio)
{
	unsigned int max = READ_ONCE(esxmem_large.max_zero_pieces);
	unsigned long i, zero = 0, data = 0;

	if (max >= ESXMEM_LARGE_PAGES)
		return false;
	for (i = 0; i < ESXMEM_LARGE_PAGES; i++) {
		if (piece_is_zero(folio_page(folio, i))) {
			if (++zero > max)
				return true;
		} else if (++data >= ESXMEM_LARGE_PAGES - max) {
			/* Too few left to be zero: no need to read them. */
			return false;
		}
		if (!(i % 64))
			cond_resched();
	}
	return false;
}

/*
 * The sharing scanner's visit of piece @index of a large page, @page, which
 * it holds referenced and locked. The large page is broken when sharing may
 * break it (share/break_large), or, in any state, when it is underused: more
 * than large_max_zero_pieces of its pieces are all zero, as in a sparse
 * guest or where a migration wrote a few pages of a 2 MiB range. A large
 * page is mostly zero only until the guest fills it, and its zero pieces
 * take memory the pool counts in full; breaking it frees them (they go to
 * the zero state) and costs the guest only the 2 MiB mapping of the little
 * data it holds. Its pieces are read once a pass, at the visit of its first
 * one, stopping as soon as the verdict is known: a full large page costs a
 * look at a few hundred pieces, each up to its first byte that is not zero.
 * A large page that someone holds (a long-term GUP pin, or one reclaim found
 * held) is not looked at: its break would be refused anyway, and trying it
 * would unmap it every pass. 1 when the large page stays, with @page as it
 * was; otherwise @page is unlocked and dropped, and the break's result
 * returned (0 when broken).
 */
int esxmem_large_scan(struct esxmem_vm *vm, pgoff_t index, struct page *page)
{
	bool mostly_zero = false;

	if (folio_maybe_dma_pinned(page_folio(page)) ||
	    (READ_ONCE(vm->pmap[index]) & ESXMEM_PTE_HELD))
		return 1;
	if (!esxmem_large_break_for_sharing()) {
		if (index != esxmem_large_base(index) ||
		    !underused(page_folio(page)))
			return 1;
		mostly_zero = true;
	}
	unlock_page(page);
	put_page(page);
	return break_large(vm, index, mostly_zero);
}
