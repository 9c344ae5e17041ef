// SPDX-License-Identifier: GPL-2.0
/*
 * Ballooning, the host's half. A balloon driver in the guest (esxballoon,
 * see guest-balloon/uapi/esxballoon.h) allocates guest pages and reports
 * their guest frame numbers; the daemon hands them to the module, which
 * gives their machine pages back to the pool and marks the entries
 * BALLOONED. The guest promised not to touch them; if it does anyway, the
 * fault backs the page with zeros like any page never written, so a lying
 * or buggy guest only hurts itself. Releasing takes the mark off, before
 * the guest frees the pages again.
 *
 * Every frame of a request is checked before anything changes: it must
 * lie in the guest's RAM as KVM's memory slots map it, and appear once;
 * and, to be ballooned, its page must be held by nobody beyond esxmem. A
 * page pinned for DMA, in a pipe or under I/O may be written or read at any
 * moment: freeing it would leave the device with a page outside the pool
 * while the guest's next touch gets another one. For the same reason a VM
 * with devices assigned (VFIO), which may DMA into any of its pages, cannot
 * balloon at all.
 * Both ways are idempotent: a frame ballooned already stays so, and one
 * the guest has touched since (it is the guest's again) is left alone;
 * the daemon keeps the strict account of each balloon session.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "esxmem.h"

/* A frame of a request. */
struct balloon_frame {
	pgoff_t index;		/* the object page */
	unsigned int pos;	/* in the request, for *bad */
	bool shared;		/* left for hold_shared() */
	bool ballooned;		/* by hold(), from entry @old */
	struct page *page;	/* the private page, referenced and locked */
	esxmem_pte_t old;
};

/* By object page, and in request order for the same page. */
static int cmp_frame(const void *a, const void *b)
{
	const struct balloon_frame *x = a, *y = b;

	if (x->index != y->index)
		return (x->index > y->index) - (x->index < y->index);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The frames of @gfns, sorted, in *@out; *@bad the first refused. */
static int translate(struct esxmem_vm *vm, const u64 *gfns, unsigned int n,
		     struct balloon_frame **out, unsigned int *bad)
{
	struct balloon_frame *f = kcalloc(n, sizeof(*f), GFP_KERNEL);
	unsigned int i;
	u64 offset;
	int err;

	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = esxmem_kvm_gfn_to_offset(vm, gfns[i], &offset);
		if (err == -ENOENT)	/* no KVM VM to translate with */
			err = -ENOTCONN;
		if (!err && offset >= vm->npages)
			err = -ERANGE;
		if (err) {
			*bad = i;
			kfree(f);
			return err;
		}
		f[i].index = offset;
		f[i].pos = i;
	}
	sort(f, n, sizeof(*f), cmp_frame, NULL);
	err = 0;
	for (i = 1; i < n; i++)
		if (f[i].index == f[i - 1].index && (!err || f[i].pos < *bad)) {
			*bad = f[i].pos;	/* the second time */
			err = -EEXIST;
		}
	if (err) {
		kfree(f);
		return err;
	}
	*out = f;
	return 0;
}

/*
 * Balloons the shared entry at @index on its own, as esxmem_vm_free_range()
 * frees a shared frame: other VMs lock their frames in their own order. A
 * frame is read-only to everyone (a writing holder has broken copy-on-write
 * first), and only the VM's share of it goes; the frame stays with its
 * other sharers, and the last sharer's share_put() frees it as any page.
 * An entry the guest has written since (its private copy) stays as it is.
 */
static void hold_shared(struct esxmem_vm *vm, pgoff_t index)
{
	struct page *frame;
	esxmem_pte_t e;
	bool done;

	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (esxmem_pte_state(e) != ESXMEM_PAGE_SHARED) {
		spin_unlock(&vm->lock);
		return;
	}
	frame = pfn_to_page(esxmem_pte_payload(e));
	get_page(frame);
	spin_unlock(&vm->lock);

	lock_page(frame);
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	done = esxmem_pte_state(e) == ESXMEM_PAGE_SHARED &&
	       esxmem_pte_maps(e, frame);
	if (done)
		esxmem_vm_set_pte(vm, index,
				  esxmem_pte_make(ESXMEM_PAGE_BALLOONED, 0, 0));
	spin_unlock(&vm->lock);
	esxmem_vm_unmap_page(vm, index);
	unlock_page(frame);
	put_page(frame);
	if (done)
		esxmem_share_put(frame);
}

/*
 * The balloon takes the frames @f[0..n), sorted by index: their machine
 * pages go back to the pool, all of them or, when someone beyond esxmem
 * holds one (a GUP pin for DMA, a pipe, I/O in flight), none: -EBUSY, *@bad
 * the first such frame of the request.
 *
 * The check and the change are one step: the private pages are locked, in
 * index order as esxmem_vm_free_range() does, so no fault can map them or
 * change their entries; each is unmapped and must then be held by nobody
 * but the pmap and us; only then do the entries change, while the pages
 * are still locked. A fault that found a page before waits for its lock,
 * holds a reference meanwhile (so the check fails: the page is in use),
 * and finds the entry changed afterwards.
 */
static int hold(struct esxmem_vm *vm, struct balloon_frame *f, unsigned int n,
		unsigned int *bad)
{
	esxmem_pte_t e;
	unsigned int i;
	int err = 0;

	/* Swapped and compressed entries change only under it. */
	mutex_lock(&vm->reclaim.lock);
	spin_lock(&vm->lock);
	for (i = 0; i < n; i++) {
		e = vm->pmap[f[i].index];
		if (esxmem_pte_state(e) != ESXMEM_PAGE_PRIVATE)
			continue;
		f[i].page = pfn_to_page(esxmem_pte_payload(e));
		/*
		 * A piece of a large page backed since break_large_pages():
		 * in use, as the guest wrote it; not to be locked twice.
		 */
		if (esxmem_page_is_large(f[i].page)) {
			f[i].page = NULL;
			if (!err || f[i].pos < *bad)
				*bad = f[i].pos;
			err = -EBUSY;
			continue;
		}
		get_page(f[i].page);
	}
	spin_unlock(&vm->lock);
	if (err) {
		for (i = 0; i < n; i++)
			if (f[i].page)
				put_page(f[i].page);
		mutex_unlock(&vm->reclaim.lock);
		return err;
	}

	for (i = 0; i < n; i++)
		if (f[i].page)
			lock_page(f[i].page);
	for (i = 0; i < n; i++) {
		struct page *page = f[i].page;

		if (!page)
			continue;
		/* A locked page's entry does not change, nor come back. */
		e = READ_ONCE(vm->pmap[f[i].index]);
		if (esxmem_pte_state(e) != ESXMEM_PAGE_PRIVATE ||
		    !esxmem_pte_maps(e, page)) {
			/* Shared or freed meanwhile: seen again below. */
			unlock_page(page);
			put_page(page);
			f[i].page = NULL;
		} else if (!esxmem_vm_isolate_page(vm, f[i].index, page)) {
			/* Unmapped now, yet held: someone is using it. */
			if (!err || f[i].pos < *bad)
				*bad = f[i].pos;
			err = -EBUSY;
		}
	}
	if (err)
		goto unlock;

	spin_lock(&vm->lock);
	for (i = 0; i < n; i++) {
		e = vm->pmap[f[i].index];
		switch (esxmem_pte_state(e)) {
		case ESXMEM_PAGE_PRIVATE:
			/* Not one we locked: the guest wrote it since. */
			if (!f[i].page)
				continue;
			break;
		case ESXMEM_PAGE_SHARED:
			f[i].shared = true;
			continue;
		case ESXMEM_PAGE_BALLOONED:
			continue;
		default:	/* unbacked, zero, swapped or compressed */
			break;
		}
		f[i].old = e;
		f[i].ballooned = true;
		esxmem_vm_set_pte(vm, f[i].index,
				  esxmem_pte_make(ESXMEM_PAGE_BALLOONED, 0, 0));
	}
	spin_unlock(&vm->lock);

unlock:
	for (i = 0; i < n; i++) {
		struct page *page = f[i].page;

		if (!page)
			continue;
		unlock_page(page);
		put_page(page);
		/* The pmap's reference: unmapped above, and locked since. */
		if (f[i].ballooned)
			esxmem_vm_free_page(page);
	}
	for (i = 0; i < n; i++) {
		if (!f[i].ballooned)
			continue;
		switch (esxmem_pte_state(f[i].old)) {
		case ESXMEM_PAGE_SWAPPED:
		case ESXMEM_PAGE_COMPRESSED:
			esxmem_reclaim_drop(vm, f[i].old);
			break;
		case ESXMEM_PAGE_ZERO:
			/* The zero frame may still be mapped there. */
			esxmem_zero_left(vm, f[i].index, 1);
			break;
		default:
			break;
		}
	}
	mutex_unlock(&vm->reclaim.lock);

	for (i = 0; !err && i < n; i++)
		if (f[i].shared)
			hold_shared(vm, f[i].index);
	return err;
}

/*
 * The large pages that back frames @f[0..n) are broken first: the balloon
 * takes 4 KiB pages, and the rest of each large page stays with the guest.
 * -EBUSY, *@bad the first such frame, when one cannot be broken.
 */
static int break_large_pages(struct esxmem_vm *vm,
			     const struct balloon_frame *f, unsigned int n,
			     unsigned int *bad)
{
	unsigned int i;
	esxmem_pte_t e;
	int err;

	for (i = 0; i < n; i++) {
		e = READ_ONCE(vm->pmap[f[i].index]);
		if (!esxmem_pte_has_pfn(e) ||
		    !esxmem_page_is_large(pfn_to_page(esxmem_pte_payload(e))))
			continue;
		err = esxmem_large_break(vm, f[i].index);
		if (err) {
			*bad = f[i].pos;
			return -EBUSY;
		}
	}
	return 0;
}

/* The balloon gives frames back: their entries are no longer ballooned. */
static void release(struct esxmem_vm *vm, const struct balloon_frame *f,
		    unsigned int n)
{
	unsigned int i;

	spin_lock(&vm->lock);
	/* A page the guest touched meanwhile stays as it is. */
	for (i = 0; i < n; i++)
		if (esxmem_pte_state(vm->pmap[f[i].index]) ==
		    ESXMEM_PAGE_BALLOONED)
			esxmem_vm_set_pte(vm, f[i].index,
					  esxmem_pte_make(ESXMEM_PAGE_UNBACKED,
							  0, 0));
	spin_unlock(&vm->lock);
}

int esxmem_vm_balloon(struct esxmem_vm *vm, const u64 *gfns, unsigned int n,
		      bool release_frames, unsigned int *bad)
{
	struct balloon_frame *f;
	int err;

	*bad = 0;
	if (!n || n > ESXMEM_BALLOON_BATCH_MAX)
		return -EINVAL;
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return -ERANGE;
	mutex_lock(&vm->balloon_lock);
	err = translate(vm, gfns, n, &f, bad);
	if (err)
		goto unlock;
	/* Giving pages back is always safe; taking them is not, with DMA. */
	if (release_frames)
		release(vm, f, n);
	else if (esxmem_kvm_has_assigned_device(vm))
		err = -EOPNOTSUPP;
	else
		err = break_large_pages(vm, f, n, bad) ?: hold(vm, f, n, bad);
	kfree(f);
unlock:
	mutex_unlock(&vm->balloon_lock);
	return err;
}
