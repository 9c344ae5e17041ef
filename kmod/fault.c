// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM as seen by the VMM and, through its page tables, by KVM.
 *
 * Every page is mapped read-only first: because .page_mkwrite exists the
 * kernel write-protects shared mappings, so esxmem sees the first write to
 * each page. That is where copy-on-write of shared frames breaks and where
 * pages become dirty.
 *
 * A page's pmap entry changes only with the machine page locked (or, for
 * the zero state, with the change followed by an unmap). Faults lock the
 * page and then check the entry, so a fault never installs a page table
 * entry for a page that was freed or replaced meanwhile.
 *
 * A page in the zero state (read, never written) is mapped as the zero
 * mapping (zero.c): the kernel's zero page, inserted as a special PTE the
 * way DAX maps holes, or on kernels that refuse that, one of esxmem's zero
 * frames. Such a PTE is read-only like every other; a write to it reaches
 * .pfn_mkwrite for the kernel's zero page (there is no struct page the
 * kernel will hand us), .page_mkwrite for a zero frame; either gives the
 * page a private zeroed page and faults again, and never returns 0, which
 * would make the zero page writable. The zero state's invariant: a
 * zero mapping is never left installed after the entry leaves the zero
 * state. map_zero() checks the state and inserts the PTE with
 * esxmem_vm.zero_sem read-held; a write that takes an entry out of the
 * zero state holds it for writing and unmaps the page before letting go.
 * Freeing a page (esxmem_vm_free_range()) clears the entry without it and
 * unmaps afterwards, so map_zero() checks the state again once its PTE is
 * in and unmaps it if the entry left the zero state meanwhile.
 */
#include <linux/types.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "esxmem.h"

static struct esxmem_vm *vma_to_vm(struct vm_area_struct *vma)
{
	return vma->vm_file->private_data;
}

void esxmem_vm_unmap_page(struct esxmem_vm *vm, pgoff_t index)
{
	unmap_mapping_range(vm->mapping, (loff_t)index << PAGE_SHIFT,
			    PAGE_SIZE, 0);
}

/*
 * Makes the locked private @page at @index unwritable: unmapped everywhere
 * and held by nobody but the pmap and the caller. False when something
 * else holds it (a GUP pin, or a fault waiting for the lock).
 */
bool esxmem_vm_isolate_page(struct esxmem_vm *vm, pgoff_t index,
			    struct page *page)
{
	/* A piece of a large page is never freed or shared alone (large.c). */
	if (esxmem_page_is_large(page))
		return false;
	esxmem_vm_unmap_page(vm, index);
	return !page_mapped(page) && page_count(page) == 2;
}

static bool is_free_state(enum esxmem_page_state s)
{
	return s == ESXMEM_PAGE_UNBACKED || s == ESXMEM_PAGE_BALLOONED ||
	       s == ESXMEM_PAGE_ZERO;
}

/*
 * A read of a 2 MiB range that holds no data anywhere, which the VMA can
 * map whole: a large zero frame over it, its piece returned locked in
 * vmf->page. The frame is locked before the entries are looked at: see
 * zero.c. 0 when that does not apply.
 */
static vm_fault_t map_zero_large(struct vm_fault *vmf, struct esxmem_vm *vm)
{
	pgoff_t base = esxmem_large_base(vmf->pgoff);
	struct page *page;
	bool empty = true;
	unsigned long i;

	if (!esxmem_large_fits(vmf, vm) || !pmd_none(*vmf->pmd))
		return 0;
	page = esxmem_zero_large_page(vmf->pgoff - base);
	if (!page)
		return 0;
	lock_page(page);
	spin_lock(&vm->lock);
	for (i = 0; i < ESXMEM_LARGE_PAGES && empty; i++) {
		enum esxmem_page_state s = esxmem_pte_state(vm->pmap[base + i]);

		empty = s == ESXMEM_PAGE_UNBACKED || s == ESXMEM_PAGE_ZERO;
	}
	for (i = 0; i < ESXMEM_LARGE_PAGES && empty; i++)
		if (esxmem_pte_state(vm->pmap[base + i]) != ESXMEM_PAGE_ZERO)
			esxmem_vm_set_pte(vm, base + i,
				esxmem_pte_make(ESXMEM_PAGE_ZERO, 0,
						vm->pmap[base + i] &
						ESXMEM_PTE_SAMPLED));
	spin_unlock(&vm->lock);
	if (!empty) {
		unlock_page(page);
		put_page(page);
		return 0;
	}
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/* A read of memory that holds no data maps the kernel's zero page. */
static vm_fault_t map_zero(struct vm_fault *vmf, struct esxmem_vm *vm,
			   pgoff_t index)
{
	vm_fault_t ret = VM_FAULT_NOPAGE;
	bool left;

	ret = map_zero_large(vmf, vm);
	if (ret)
		return ret;
	ret = VM_FAULT_NOPAGE;
	down_read(&vm->zero_sem);
	spin_lock(&vm->lock);
	if (is_free_state(esxmem_pte_state(vm->pmap[index]))) {
		if (esxmem_pte_state(vm->pmap[index]) != ESXMEM_PAGE_ZERO)
			esxmem_vm_set_pte(vm, index,
				esxmem_pte_make(ESXMEM_PAGE_ZERO, 0, 0));
		spin_unlock(&vm->lock);
		ret = esxmem_zero_insert(vmf, esxmem_large_fits(vmf, vm));
		/*
		 * Freeing (a hole, a balloon) takes the entry out of the zero
		 * state without zero_sem and unmaps it afterwards: a mapping
		 * inserted after that unmap must not stay behind.
		 */
		spin_lock(&vm->lock);
		left = esxmem_pte_state(vm->pmap[index]) != ESXMEM_PAGE_ZERO;
		spin_unlock(&vm->lock);
		if (left && (ret & VM_FAULT_LOCKED)) {
			/* A frame to map, not mapped yet: map nothing. */
			unlock_page(vmf->page);
			put_page(vmf->page);
			vmf->page = NULL;
			ret = VM_FAULT_NOPAGE;
		} else if (left) {
			esxmem_vm_unmap_page(vm, index);
		}
	} else {
		/* Backed meanwhile: the access faults again and finds it. */
		spin_unlock(&vm->lock);
	}
	up_read(&vm->zero_sem);
	return ret;
}

/*
 * A fault that must sleep (for the pool, a page lock, a page-in) lets go
 * of the VMM's mmap_lock first where the fault allows it, as filemap does,
 * so that the VMM's other threads, its mmap() calls and the daemon's
 * requests go on meanwhile; the fault is then retried.
 *  - FAULT_FLAG_RETRY_NOWAIT (KVM's async page faults, FOLL_NOWAIT): no
 *    sleep at all; VM_FAULT_RETRY at once, with mmap_lock still held.
 *  - FAULT_FLAG_ALLOW_RETRY, on the first try: mmap_lock goes, the file
 *    is pinned, the work is done (the page installed in the pmap, not
 *    mapped) and the fault returns VM_FAULT_RETRY; the retry finds the
 *    page. As filemap does, only the first try lets go, so that a fault
 *    is retried once, not for as long as its page keeps going away.
 *  - otherwise: the fault sleeps with mmap_lock held.
 * The .page_mkwrite and .pfn_mkwrite paths may not retry: they never
 * sleep for memory or a page lock, but unmap the page so that the access
 * comes back through .fault.
 */
enum fault_sleep { SLEEP_HOLDING, SLEEP_DROPPED, SLEEP_NOWAIT };

static enum fault_sleep fault_may_sleep(struct vm_fault *vmf,
					struct file **fpin)
{
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return SLEEP_NOWAIT;
	if (!*fpin && !fault_flag_allow_retry_first(vmf->flags))
		return SLEEP_HOLDING;
	if (!*fpin) {
		*fpin = get_file(vmf->vma->vm_file);
		release_fault_lock(vmf);
	}
	return SLEEP_DROPPED;
}

/*
 * A fault that failed after dropping mmap_lock can only return
 * VM_FAULT_RETRY; its task is owed a SIGBUS, which the retry, coming
 * straight back with mmap_lock held, collects here.
 */
#define SIGBUS_OWED_TTL	HZ

static void owe_sigbus(struct esxmem_vm *vm, pgoff_t index)
{
	struct esxmem_sigbus_owed *o;

	spin_lock(&vm->lock);
	o = &vm->sigbus_owed[vm->sigbus_owed_next++ % ESXMEM_SIGBUS_OWED];
	o->tid = task_pid_nr(current);
	o->index = index;
	o->when = jiffies;
	WRITE_ONCE(vm->sigbus_owed_last, o->when);
	spin_unlock(&vm->lock);
}

static bool collect_sigbus(struct esxmem_vm *vm, pgoff_t index)
{
	pid_t tid = task_pid_nr(current);
	bool owed = false;
	int i;

	/* Almost always nothing is owed: no lock taken then. */
	if (time_after(jiffies, READ_ONCE(vm->sigbus_owed_last) +
		       SIGBUS_OWED_TTL))
		return false;
	spin_lock(&vm->lock);
	for (i = 0; i < ESXMEM_SIGBUS_OWED; i++) {
		struct esxmem_sigbus_owed *o = &vm->sigbus_owed[i];

		if (o->tid == tid && o->index == index &&
		    time_before(jiffies, o->when + SIGBUS_OWED_TTL)) {
			o->tid = 0;
			owed = true;
		}
	}
	spin_unlock(&vm->lock);
	return owed;
}

/*
 * A zeroed page of the pool for @vm in *@page: without sleeping if it can,
 * else as fault_may_sleep() allows. 0, VM_FAULT_RETRY (retry without it)
 * or VM_FAULT_SIGBUS (timed out or killed: a killed task never sees it);
 * *@page stays NULL then.
 */
static vm_fault_t fault_alloc(struct vm_fault *vmf, struct esxmem_vm *vm,
			      struct file **fpin, struct page **page)
{
	struct page *p = esxmem_vm_alloc_page_nowait(vm, vmf->pgoff, true);

	if (IS_ERR(p) && PTR_ERR(p) == -EAGAIN) {
		if (fault_may_sleep(vmf, fpin) == SLEEP_NOWAIT)
			return VM_FAULT_RETRY;
		p = esxmem_vm_alloc_page(vm, vmf->pgoff, true);
	}
	if (IS_ERR(p))
		return VM_FAULT_SIGBUS;
	*page = p;
	return 0;
}

/* Locks @page, or -EAGAIN when the fault must be retried instead. */
static int fault_lock_page(struct vm_fault *vmf, struct page *page,
			   struct file **fpin)
{
	if (trylock_page(page))
		return 0;
	switch (fault_may_sleep(vmf, fpin)) {
	case SLEEP_HOLDING:
		lock_page(page);
		return 0;
	case SLEEP_DROPPED:
		/* Only wait: the retry takes the lock for itself. */
		folio_wait_locked_killable(page_folio(page));
		return -EAGAIN;
	default:
		return -EAGAIN;
	}
}

static vm_fault_t cow_break(struct esxmem_vm *vm, pgoff_t index,
			    struct page *old, struct page *copy);
static int fault_lock_page(struct vm_fault *vmf, struct page *page,
			   struct file **fpin);

/*
 * The first access, read or write, to a candidate of the safe sharing mode
 * (share.c), merged or not: the page at @index gets @copy, a copy of
 * locked @old, which this unlocks, and @old loses the entry's reference.
 * A merged page and an unmerged one take the same steps, so that a guest
 * cannot tell them apart by the time its access takes nor by what it sees
 * after: for both a fault, a new page, a copy, the old reference queued
 * to be dropped (share.c), and the same fault then looks at the entry
 * again (goto again in esxmem_fault()) and maps the copy. @copy is
 * consumed: freed if the entry changed meanwhile.
 */
static void copy_on_access(struct esxmem_vm *vm, pgoff_t index,
			   struct page *old, struct page *copy)
{
	esxmem_pte_t e;

	VM_WARN_ON_ONCE_PAGE(!PageLocked(old), old);
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if ((e & ESXMEM_PTE_CANDIDATE) && esxmem_pte_maps(e, old)) {
		copy_highpage(copy, old);
		esxmem_vm_set_pte(vm, index,
				  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
						  page_to_pfn(copy),
						  e & ESXMEM_PTE_SAMPLED));
		copy = NULL;
	}
	spin_unlock(&vm->lock);
	/* A candidate is mapped nowhere; the unmap makes sure of it. */
	esxmem_vm_unmap_page(vm, index);
	unlock_page(old);
	if (copy) {
		/* Someone else changed the entry first; theirs stands. */
		esxmem_vm_free_page(copy);
		return;
	}
	atomic_long_inc(&esxmem_share.access_copies);
	/* A shared frame loses a sharer, a private page its only user. */
	esxmem_share_release_later(e);
}

/*
 * The last sharer of a frame takes it over without a copy, unless someone
 * else still holds the frame (a pipe, a GUP pin taken while another VM
 * shared it): what they hold must never change under them, so the writer
 * gets a copy. @frame is locked, with one reference held by the caller.
 */
static bool claim_frame(struct esxmem_vm *vm, pgoff_t index,
			struct page *frame)
{
	if (esxmem_page_held(frame, 1) || !esxmem_share_claim(frame))
		return false;
	spin_lock(&vm->lock);
	esxmem_vm_set_pte(vm, index,
			  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
					  page_to_pfn(frame), ESXMEM_PTE_DIRTY));
	spin_unlock(&vm->lock);
	atomic_long_inc(&vm->cow_breaks);
	atomic_long_inc(&esxmem_pool.cow_breaks);
	return true;
}

static vm_fault_t esxmem_fault(struct vm_fault *vmf)
{
	struct esxmem_vm *vm = vma_to_vm(vmf->vma);
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	pgoff_t index = vmf->pgoff;
	struct page *page, *fresh = NULL;
	struct file *fpin = NULL;
	bool zero_locked = false;
	vm_fault_t ret;
	esxmem_pte_t e;
	int err;

	if (index >= vm->npages)
		return VM_FAULT_SIGBUS;
	if (unlikely(collect_sigbus(vm, index)))
		return VM_FAULT_SIGBUS;
	atomic_long_inc(&vm->faults);
	atomic_long_inc(&esxmem_pool.faults);

again:
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (unlikely(e & ESXMEM_PTE_SAMPLED)) {
		/* The idle sampler's trap: this touch counts once. */
		e &= ~ESXMEM_PTE_SAMPLED;
		vm->pmap[index] = e;
		esxmem_sample_touched(vm);
	}
	if (unlikely(e & ESXMEM_PTE_TRAPPED)) {
		/* The sharing scanner's idle trap (share.c): touched. */
		e &= ~ESXMEM_PTE_TRAPPED;
		vm->pmap[index] = e;
	}
	if (esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE &&
	    esxmem_page_is_large(pfn_to_page(esxmem_pte_payload(e))))
		esxmem_large_touched(vm, esxmem_large_base(index));
	switch (esxmem_pte_state(e)) {
	case ESXMEM_PAGE_PRIVATE:
	case ESXMEM_PAGE_SHARED:
		page = pfn_to_page(esxmem_pte_payload(e));
		get_page(page);
		spin_unlock(&vm->lock);
		if (fault_lock_page(vmf, page, &fpin)) {
			put_page(page);
			ret = VM_FAULT_RETRY;
			break;
		}
		spin_lock(&vm->lock);
		e = vm->pmap[index];
		if (unlikely(!esxmem_pte_maps(e, page))) {
			spin_unlock(&vm->lock);
			unlock_page(page);
			put_page(page);
			goto again;
		}
		spin_unlock(&vm->lock);
		/*
		 * A candidate of the safe sharing mode gets its copy on any
		 * access; a shared frame on a write, unless this is its last
		 * sharer. Copy-on-write happens here, where the fault may
		 * sleep for the copy: the write would otherwise come back to
		 * .page_mkwrite, which may not.
		 */
		if (unlikely(e & ESXMEM_PTE_CANDIDATE) ||
		    (write && esxmem_pte_state(e) == ESXMEM_PAGE_SHARED &&
		     !claim_frame(vm, index, page))) {
			if (!fresh) {
				/* Not holding the page while it may sleep. */
				unlock_page(page);
				ret = fault_alloc(vmf, vm, &fpin, &fresh);
				put_page(page);
				if (ret)
					break;
				goto again;
			}
			if (e & ESXMEM_PTE_CANDIDATE)
				copy_on_access(vm, index, page, fresh);
			else
				cow_break(vm, index, page, fresh);
			fresh = NULL;
			put_page(page);
			goto again;
		}
		vmf->page = page;
		ret = VM_FAULT_LOCKED;
		break;

	case ESXMEM_PAGE_UNBACKED:
	case ESXMEM_PAGE_BALLOONED:
	case ESXMEM_PAGE_ZERO:
		if (!write) {
			spin_unlock(&vm->lock);
			/* Nothing may be mapped without mmap_lock. */
			ret = fpin ? VM_FAULT_RETRY : map_zero(vmf, vm, index);
			break;
		}
		if (!fresh) {
			spin_unlock(&vm->lock);
			if (!zero_locked && !fpin) {
				ret = esxmem_large_fault_write(vmf, vm);
				if (ret)
					break;
			}
			ret = fault_alloc(vmf, vm, &fpin, &fresh);
			if (ret)
				break;
			goto again;
		}
		if (esxmem_pte_state(e) == ESXMEM_PAGE_ZERO && !zero_locked) {
			/* Leaving the zero state: see esxmem_vm.zero_sem. */
			spin_unlock(&vm->lock);
			down_write(&vm->zero_sem);
			zero_locked = true;
			goto again;
		}
		/* Unpublished until now, so nobody else holds its lock. */
		__SetPageLocked(fresh);
		esxmem_vm_set_pte(vm, index,
				  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
						  page_to_pfn(fresh), 0));
		spin_unlock(&vm->lock);
		/* Other mappings may still show the zero page here. */
		if (esxmem_pte_state(e) == ESXMEM_PAGE_ZERO)
			esxmem_zero_left(vm, index, 1);
		get_page(fresh);
		vmf->page = fresh;
		fresh = NULL;
		ret = VM_FAULT_LOCKED;
		break;

	case ESXMEM_PAGE_SWAPPED:
	case ESXMEM_PAGE_COMPRESSED:
		spin_unlock(&vm->lock);
		/*
		 * The page first: waiting for the pool holds no lock. Zeroed,
		 * as the entry may be freed meanwhile and the page serve a
		 * never-written one on the next round.
		 */
		if (!fresh) {
			ret = fault_alloc(vmf, vm, &fpin, &fresh);
			if (ret)
				break;
		}
		/* Decompression does not sleep; swap I/O and a busy VM do. */
		err = esxmem_page_in(vm, index, e, fresh, !fpin);
		if (err == -EWOULDBLOCK) {
			if (fault_may_sleep(vmf, &fpin) == SLEEP_NOWAIT) {
				ret = VM_FAULT_RETRY;
				break;
			}
			err = esxmem_page_in(vm, index, e, fresh, false);
		}
		if (err == -EAGAIN)
			goto again;
		if (err) {
			ret = VM_FAULT_SIGBUS;
			break;
		}
		get_page(fresh);
		vmf->page = fresh;
		fresh = NULL;
		ret = VM_FAULT_LOCKED;
		break;

	default:
		spin_unlock(&vm->lock);
		ret = VM_FAULT_SIGBUS;
		break;
	}
	if (zero_locked)
		up_write(&vm->zero_sem);
	if (fresh)
		esxmem_vm_free_page(fresh);
	if (fpin) {
		/* mmap_lock is gone: the page is in the pmap, the retry maps it. */
		if (ret & VM_FAULT_LOCKED) {
			unlock_page(vmf->page);
			put_page(vmf->page);
			vmf->page = NULL;
		}
		/* A fatal signal is seen by the caller; other errors are owed. */
		if ((ret & VM_FAULT_SIGBUS) && !fatal_signal_pending(current))
			owe_sigbus(vm, index);
		ret = VM_FAULT_RETRY;
		fput(fpin);
	}
	return ret;
}

/*
 * Gives the page at @index the private page @copy: a copy of shared frame
 * @old, or with @old NULL a zeroed page in place of the zero page; and
 * unmaps the old one there; the access then faults again and finds the
 * copy. @copy is consumed: freed if the entry changed meanwhile. The
 * caller holds @old locked (or, for the zero page, zero_sem for writing),
 * which this lets go of: the switch happens under it, so that no fault
 * maps the old one there afterwards, and the caller chooses how to wait
 * for it.
 */
static vm_fault_t cow_break(struct esxmem_vm *vm, pgoff_t index,
			    struct page *old, struct page *copy)
{
	bool from_zero = !old;
	enum esxmem_page_state state;
	esxmem_pte_t e;

	state = from_zero ? ESXMEM_PAGE_ZERO : ESXMEM_PAGE_SHARED;
	if (from_zero)
		lockdep_assert_held_write(&vm->zero_sem);
	else
		VM_WARN_ON_ONCE_PAGE(!PageLocked(old), old);
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	/*
	 * A claimed frame is private now, though still at the same pfn. The
	 * copy is taken only once the entry is known to still share @old,
	 * under its lock: before that, @old may have been claimed, written
	 * and shared again at this index with other content.
	 */
	if (esxmem_pte_state(e) == state &&
	    (from_zero || esxmem_pte_maps(e, old))) {
		if (from_zero)
			clear_highpage(copy);
		else
			copy_highpage(copy, old);
		/*
		 * A candidate of the safe mode (share.c) stays one: unshared
		 * here for a mode change, a domain change or a punched hole,
		 * not by its own access (faults copy a candidate before they
		 * could get here), its next access must still take a copy, as
		 * an unmerged candidate's does; else the guest could tell
		 * which of its candidates had been merged.
		 */
		esxmem_vm_set_pte(vm, index,
				  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
						  page_to_pfn(copy),
						  ESXMEM_PTE_DIRTY |
						  (e & ESXMEM_PTE_CANDIDATE)));
		copy = NULL;
	}
	spin_unlock(&vm->lock);
	if (from_zero) {
		esxmem_zero_left(vm, index, 1);
		up_write(&vm->zero_sem);
	} else {
		esxmem_vm_unmap_page(vm, index);
		unlock_page(old);
	}

	if (copy) {
		/* Someone else changed the entry first; theirs stands. */
		esxmem_vm_free_page(copy);
		return VM_FAULT_NOPAGE;
	}
	atomic_long_inc(&vm->cow_breaks);
	atomic_long_inc(&esxmem_pool.cow_breaks);
	if (!from_zero)
		esxmem_share_put(old);
	return VM_FAULT_NOPAGE;
}

/*
 * Gives the page at @index, if it still shares @frame (referenced by the
 * caller), a private copy of its own, waiting for the pool if need be.
 * 0, or the error when no page could be had.
 */
int esxmem_vm_unshare_page(struct esxmem_vm *vm, pgoff_t index,
			   struct page *frame)
{
	struct page *copy = esxmem_vm_alloc_page(vm, index, false);

	if (IS_ERR(copy))
		return PTR_ERR(copy);
	lock_page(frame);
	cow_break(vm, index, frame, copy);
	return 0;
}

/*
 * Moves the unmerged candidate of the safe mode at @index, private @page,
 * onto a fresh copy, as esxmem_vm_unshare_page() does a merged one: when
 * merged candidates are unshared, the unmerged ones are moved alongside,
 * so that both kinds sit on pages written at the same moment and the
 * first access cannot tell them apart by how warm the page it copies is.
 * Consumes the caller's reference to @page. 0, or the error when no page
 * could be had.
 */
int esxmem_vm_move_candidate(struct esxmem_vm *vm, pgoff_t index,
			     struct page *page)
{
	struct page *copy = esxmem_vm_alloc_page(vm, index, false);
	esxmem_pte_t e;

	if (IS_ERR(copy)) {
		put_page(page);
		return PTR_ERR(copy);
	}
	lock_page(page);
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	/* A candidate is mapped nowhere; a page someone holds stays put. */
	if (esxmem_pte_private(e, page) && (e & ESXMEM_PTE_CANDIDATE) &&
	    !esxmem_page_is_large(page) && !esxmem_page_held(page, 1)) {
		copy_highpage(copy, page);
		esxmem_vm_set_pte(vm, index,
				  esxmem_pte_make(ESXMEM_PAGE_PRIVATE,
						  page_to_pfn(copy), e));
		copy = NULL;
	}
	spin_unlock(&vm->lock);
	unlock_page(page);
	put_page(page);
	if (copy) {
		esxmem_vm_free_page(copy);
		return 0;
	}
	/* The pmap's reference: nothing can take a new one now. */
	esxmem_vm_free_page(page);
	return 0;
}

/*
 * A write that .page_mkwrite cannot serve without sleeping: the page goes
 * from the VMM's page tables, and the access comes back through .fault.
 */
static vm_fault_t mkwrite_via_fault(struct esxmem_vm *vm, pgoff_t index)
{
	esxmem_vm_unmap_page(vm, index);
	return VM_FAULT_NOPAGE;
}

/*
 * A write to a page mapped as the zero mapping: the page gets a private
 * zeroed page of its own. Returns VM_FAULT_NOPAGE or an error, never 0: on
 * 0 the kernel would make the read-only PTE writable, and with it the
 * zero page.
 */
static vm_fault_t zero_mkwrite(struct vm_fault *vmf, struct esxmem_vm *vm)
{
	struct page *copy = esxmem_vm_alloc_page_nowait(vm, vmf->pgoff, false);

	if (IS_ERR(copy))
		return mkwrite_via_fault(vm, vmf->pgoff);
	if (!down_write_trylock(&vm->zero_sem)) {
		esxmem_vm_free_page(copy);
		return mkwrite_via_fault(vm, vmf->pgoff);
	}
	return cow_break(vm, vmf->pgoff, NULL, copy);
}

static vm_fault_t esxmem_page_mkwrite(struct vm_fault *vmf)
{
	struct esxmem_vm *vm = vma_to_vm(vmf->vma);
	struct page *page = vmf->page, *copy;
	pgoff_t index = vmf->pgoff;
	esxmem_pte_t e;

	if (index >= vm->npages)
		return VM_FAULT_SIGBUS;
	if (esxmem_zero_is_frame(page))
		return zero_mkwrite(vmf, vm);

	if (!trylock_page(page))
		return mkwrite_via_fault(vm, index);
	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (unlikely(!esxmem_pte_maps(e, page))) {
		/* Freed or replaced since it was mapped: fault afresh. */
		spin_unlock(&vm->lock);
		unlock_page(page);
		esxmem_vm_unmap_page(vm, index);
		return VM_FAULT_NOPAGE;
	}
	if (unlikely(e & ESXMEM_PTE_CANDIDATE)) {
		/* Mapped before it became one: its copy waits in .fault. */
		spin_unlock(&vm->lock);
		unlock_page(page);
		return mkwrite_via_fault(vm, index);
	}
	if (esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE) {
		vm->pmap[index] = e | ESXMEM_PTE_DIRTY;
		spin_unlock(&vm->lock);
		/* Locked, as the kernel expects of a page with no ->mapping. */
		return VM_FAULT_LOCKED;
	}
	spin_unlock(&vm->lock);
	if (claim_frame(vm, index, page))
		return VM_FAULT_LOCKED;
	copy = esxmem_vm_alloc_page_nowait(vm, index, false);
	if (IS_ERR(copy)) {
		unlock_page(page);
		return mkwrite_via_fault(vm, index);
	}
	return cow_break(vm, index, page, copy);
}

/* A write to the kernel's zero page, the only special PTE esxmem installs. */
static vm_fault_t esxmem_pfn_mkwrite(struct vm_fault *vmf)
{
	struct esxmem_vm *vm = vma_to_vm(vmf->vma);

	if (vmf->pgoff >= vm->npages ||
	    WARN_ON_ONCE(!is_zero_pfn(pte_pfn(vmf->orig_pte))))
		return VM_FAULT_SIGBUS;
	return zero_mkwrite(vmf, vm);
}

/*
 * A write to a large page or a large zero frame that a PMD maps read-only
 * (every first mapping is): the PMD goes, and the write comes back through
 * .fault and .page_mkwrite, which mark the pages or give the range a
 * large page of its own, and map it again, writable. Without this the
 * kernel would split the PMD and map 4 KiB pages from then on.
 */
static vm_fault_t esxmem_huge_fault(struct vm_fault *vmf,
				    ESXMEM_HUGE_FAULT_ARG)
{
	struct esxmem_vm *vm = vma_to_vm(vmf->vma);

	if (!ESXMEM_HUGE_FAULT_IS_PMD || !(vmf->flags & FAULT_FLAG_WRITE) ||
	    pmd_none(*vmf->pmd))
		return VM_FAULT_FALLBACK;
	unmap_mapping_range(vm->mapping,
			    (loff_t)esxmem_large_base(vmf->pgoff) << PAGE_SHIFT,
			    PMD_SIZE, 0);
	return VM_FAULT_NOPAGE;
}

/* The KVM link's slot map depends on the VMM's mappings: see kvm.c. */
static void esxmem_vma_open(struct vm_area_struct *vma)
{
	atomic_inc(&vma_to_vm(vma)->mappings);
	atomic_inc(&vma_to_vm(vma)->mappings_gen);
}

static void esxmem_vma_close(struct vm_area_struct *vma)
{
	atomic_dec(&vma_to_vm(vma)->mappings);
	atomic_inc(&vma_to_vm(vma)->mappings_gen);
}

#ifdef CONFIG_NUMA
/*
 * mbind() on a mapping: the policy goes to the object, for the pages the
 * VMA maps (mbind() has split the VMA to the range), where every mapping
 * and every path that allocates for the object finds it (numa.c). There is
 * no .get_policy: the kernel's get_vma_policy() would drop the references
 * of what it returned with the kernel's own mpol_put(), into the kernel's
 * policy cache, which a module cannot allocate from. get_mempolicy() and
 * numa_maps show the policy set through the mapping they look at.
 */
static int esxmem_set_policy(struct vm_area_struct *vma, struct mempolicy *pol)
{
	return esxmem_numa_set(&vma_to_vm(vma)->numa, vma->vm_pgoff,
			       vma->vm_pgoff + vma_pages(vma), pol);
}
#endif

static const struct vm_operations_struct esxmem_vm_ops = {
	.open = esxmem_vma_open,
	.close = esxmem_vma_close,
	.fault = esxmem_fault,
	.huge_fault = esxmem_huge_fault,
	.page_mkwrite = esxmem_page_mkwrite,
	.pfn_mkwrite = esxmem_pfn_mkwrite,
#ifdef CONFIG_NUMA
	.set_policy = esxmem_set_policy,
#endif
};

bool esxmem_vma_is_ours(const struct vm_area_struct *vma)
{
	return vma->vm_ops == &esxmem_vm_ops;
}

int esxmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct esxmem_vm *vm = file->private_data;
	unsigned long end;
	int err;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (check_add_overflow(vma->vm_pgoff, vma_pages(vma), &end))
		return -EINVAL;
	err = esxmem_vm_fix_size(vm, end, false);
	if (err)
		return err;
	/*
	 * Not VM_MIXEDMAP: the kernel would take the PMDs of large pages for
	 * special ones, which hold no reference (vma_is_special_huge()).
	 */
	vm_flags_set(vma, VM_DONTEXPAND);
	vma->vm_ops = &esxmem_vm_ops;
	esxmem_vma_open(vma);
	return 0;
}

/*
 * Brings the page at @index back into memory if it is swapped or
 * compressed. 0 when it is resident (or never was: zero, unbacked and
 * ballooned pages need nothing), or the error.
 */
static int make_resident(struct esxmem_vm *vm, pgoff_t index)
{
	struct page *fresh = NULL;
	esxmem_pte_t e;
	int err;

	for (;;) {
		e = READ_ONCE(vm->pmap[index]);
		if (esxmem_pte_state(e) != ESXMEM_PAGE_SWAPPED &&
		    esxmem_pte_state(e) != ESXMEM_PAGE_COMPRESSED) {
			err = 0;
			break;
		}
		if (!fresh) {
			fresh = esxmem_vm_alloc_page(vm, index, true);
			if (IS_ERR(fresh))
				return PTR_ERR(fresh);
		}
		err = esxmem_page_in(vm, index, e, fresh, false);
		if (err == -EAGAIN)
			continue;
		if (!err) {
			/* The pmap holds it now; it came back locked. */
			unlock_page(fresh);
			fresh = NULL;
		}
		break;
	}
	if (fresh)
		esxmem_vm_free_page(fresh);
	return err;
}

/*
 * Zeroes [from, to) of the page at @index, which must stay as it is. A
 * shared page gets its private copy first: the other sharers keep theirs;
 * a swapped or compressed one comes back into memory first.
 */
static int zero_partial(struct esxmem_vm *vm, pgoff_t index,
			unsigned int from, unsigned int to)
{
	struct page *page;
	esxmem_pte_t e;
	int err;

	for (;;) {
		err = make_resident(vm, index);
		if (err)
			return err;
		spin_lock(&vm->lock);
		e = vm->pmap[index];
		switch (esxmem_pte_state(e)) {
		case ESXMEM_PAGE_SHARED:
			page = pfn_to_page(esxmem_pte_payload(e));
			get_page(page);
			spin_unlock(&vm->lock);
			err = esxmem_vm_unshare_page(vm, index, page);
			put_page(page);
			if (err)
				return err;
			continue;
		case ESXMEM_PAGE_PRIVATE:
			/* Our reference keeps reclaim and sharing off it. */
			page = pfn_to_page(esxmem_pte_payload(e));
			get_page(page);
			spin_unlock(&vm->lock);
			break;
		case ESXMEM_PAGE_SWAPPED:
		case ESXMEM_PAGE_COMPRESSED:
			/* Paged out again since: once more. */
			spin_unlock(&vm->lock);
			continue;
		default:
			/* Zero, unbacked and ballooned pages read as zeros. */
			spin_unlock(&vm->lock);
			return 0;
		}
		lock_page(page);
		spin_lock(&vm->lock);
		/* Private still: the page must not be a shared frame now. */
		err = esxmem_pte_private(vm->pmap[index], page) ? 0 : -EAGAIN;
		if (!err)
			zero_user_segment(page, from, to);
		spin_unlock(&vm->lock);
		unlock_page(page);
		put_page(page);
		if (!err)
			return 0;
		cond_resched();
	}
}

#define FREE_BATCH 32

/*
 * A hole over part of the large page at @base, up to @end: it is broken
 * first, so that the rest stays. Where the caller goes on from: @start
 * once broken. When no small pages can be had, the pieces in the hole are
 * zeroed in place instead: the hole reads as zeros all the same, and frees
 * nothing. When someone holds the large page (a pin, I/O in flight, which
 * may write any piece), no piece is copied away from them nor zeroed under
 * them: it stays as it was, *@err is -EBUSY, and the caller goes on past.
 */
static pgoff_t free_part_of_large(struct esxmem_vm *vm, pgoff_t base,
				  pgoff_t start, pgoff_t end, int *err)
{
	pgoff_t i, stop = min_t(pgoff_t, end, base + ESXMEM_LARGE_PAGES);
	struct page *page;
	int tries, ret = 0;

	/* The scanner or a fault may hold it for a moment. */
	for (tries = 0; tries < 3; tries++) {
		ret = esxmem_large_break(vm, start);
		if (!ret)
			return start;
		if (ret != -EBUSY)
			break;
		schedule_timeout_uninterruptible(1);
	}
	if (ret == -EBUSY) {
		*err = ret;
		return base + ESXMEM_LARGE_PAGES;
	}
	page = esxmem_vm_get_private(vm, start);
	if (!page)
		return start;
	lock_page(page);
	spin_lock(&vm->lock);
	/* Broken or freed meanwhile: look again. */
	if (!esxmem_pte_private(vm->pmap[start], page) ||
	    !esxmem_page_is_large(page))
		stop = start;
	spin_unlock(&vm->lock);
	/* The pieces' entries change only with the large page locked. */
	for (i = start; i < stop; i++)
		clear_highpage(nth_page(page, i - start));
	unlock_page(page);
	put_page(page);
	return stop;
}

/*
 * Frees the pages [start, end). Machine pages are taken from the pmap in
 * batches, locked in index order, unmapped together and then released. A
 * large page goes alone and whole, or is broken first when the range
 * covers only part of it. 0, or the error of a large page that could not
 * be broken (free_part_of_large()): the rest of the range is freed.
 */
int esxmem_vm_free_range(struct esxmem_vm *vm, pgoff_t start, pgoff_t end)
{
	int err = 0;

	esxmem_pte_t old[FREE_BATCH], gone[FREE_BATCH];
	struct page *pages[FREE_BATCH];
	pgoff_t where[FREE_BATCH];
	pgoff_t i, next, large_part;
	unsigned long freed, span;
	int n, k, ngone;
	bool again, had_zero;

	/* Swapped and compressed entries change only under it. */
	mutex_lock(&vm->reclaim.lock);
	for (; start < end; start = next) {
		n = 0;
		ngone = 0;
		span = 1;
		large_part = ULONG_MAX;
		had_zero = false;
		spin_lock(&vm->lock);
		for (i = start; i < end && n < FREE_BATCH && ngone < FREE_BATCH;
		     i++) {
			esxmem_pte_t e = vm->pmap[i];

			if (esxmem_pte_has_pfn(e) &&
			    esxmem_page_is_large(pfn_to_page(esxmem_pte_payload(e)))) {
				pgoff_t base = esxmem_large_base(i);

				if (n || ngone)
					break;
				if (i != base ||
				    base + ESXMEM_LARGE_PAGES > end) {
					large_part = base;
					break;
				}
				pages[n] = pfn_to_page(esxmem_pte_payload(e));
				get_page(pages[n]);
				where[n++] = i;
				span = ESXMEM_LARGE_PAGES;
				i += ESXMEM_LARGE_PAGES;
				break;
			}
			/*
			 * A shared frame goes alone: other VMs lock frames
			 * in their own index order, and it may sit at several
			 * indexes of this one.
			 */
			if (esxmem_pte_state(e) == ESXMEM_PAGE_SHARED && n) {
				break;
			} else if (esxmem_pte_state(e) == ESXMEM_PAGE_SHARED) {
				pages[n] = pfn_to_page(esxmem_pte_payload(e));
				get_page(pages[n]);
				where[n++] = i++;
				break;
			} else if (esxmem_pte_has_pfn(e)) {
				pages[n] = pfn_to_page(esxmem_pte_payload(e));
				get_page(pages[n]);
				where[n++] = i;
			} else if (esxmem_pte_state(e) == ESXMEM_PAGE_SWAPPED ||
				   esxmem_pte_state(e) == ESXMEM_PAGE_COMPRESSED) {
				gone[ngone++] = e;
				esxmem_vm_set_pte(vm, i, 0);
			} else if (esxmem_pte_state(e) != ESXMEM_PAGE_UNBACKED) {
				if (esxmem_pte_state(e) == ESXMEM_PAGE_ZERO)
					had_zero = true;
				esxmem_vm_set_pte(vm, i, 0);
			}
		}
		next = i;
		spin_unlock(&vm->lock);
		/* Before the unmap below: see zero.c. */
		if (had_zero)
			esxmem_zero_barrier();
		for (k = 0; k < ngone; k++)
			esxmem_reclaim_drop(vm, gone[k]);

		for (k = 0; k < n; k++)
			lock_page(pages[k]);
		freed = 0;
		again = false;
		spin_lock(&vm->lock);
		for (k = 0; k < n; k++) {
			old[k] = vm->pmap[where[k]];
			if (esxmem_pte_maps(old[k], pages[k])) {
				for (i = 0; i < span; i++)
					esxmem_vm_set_pte(vm, where[k] + i, 0);
				/* Drop the pmap's reference below. */
				freed |= 1UL << k;
			} else if (esxmem_pte_has_pfn(old[k]) || span > 1) {
				/*
				 * Merged onto a shared frame, or replaced, or a
				 * large page broken, while we waited for the
				 * page lock: the hole holds for what the entries
				 * are now. This batch once more.
				 */
				again = true;
			}
		}
		spin_unlock(&vm->lock);

		/* A length of 0 would unmap to the end of the file. */
		if (next > start)
			unmap_mapping_range(vm->mapping,
					    (loff_t)start << PAGE_SHIFT,
					    (loff_t)(next - start) << PAGE_SHIFT,
					    0);
		for (k = 0; k < n; k++) {
			unlock_page(pages[k]);
			put_page(pages[k]);
			if (!(freed & (1UL << k)))
				continue;
			esxmem_vm_release(old[k]);
			if (span > 1)
				atomic_long_dec(&esxmem_large.in_use);
		}
		if (again)
			next = start;
		else if (large_part != ULONG_MAX)
			next = free_part_of_large(vm, large_part, next, end,
						  &err);
		cond_resched();
	}
	mutex_unlock(&vm->reclaim.lock);
	return err;
}

/* Frees [offset, offset + len) of @vm, zeroing partial pages in place. */
int esxmem_vm_punch_hole(struct esxmem_vm *vm, loff_t offset, loff_t len)
{
	loff_t size, end;
	pgoff_t first, last;
	int err = 0;

	if (offset < 0 || len <= 0 || check_add_overflow(offset, len, &end))
		return -EINVAL;
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return 0;
	size = (loff_t)vm->npages << PAGE_SHIFT;
	end = min(end, size);
	if (offset >= end)
		return 0;

	first = DIV_ROUND_UP(offset, PAGE_SIZE);
	last = end >> PAGE_SHIFT;
	if (first > last) {
		/* Inside one page. */
		return zero_partial(vm, last, offset_in_page(offset),
				    offset_in_page(end));
	}
	if (offset_in_page(offset))
		err = zero_partial(vm, first - 1, offset_in_page(offset),
				   PAGE_SIZE);
	if (!err && offset_in_page(end))
		err = zero_partial(vm, last, 0, offset_in_page(end));
	if (err)
		return err;
	return esxmem_vm_free_range(vm, first, last);
}

long esxmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	return esxmem_vm_punch_hole(file->private_data, offset, len);
}
