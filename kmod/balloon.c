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
 * lie in the guest's RAM as KVM's memory slots map it, and appear once.
 * Both ways are idempotent: a frame ballooned already stays so, and one
 * the guest has touched since (it is the guest's again) is left alone;
 * the daemon keeps the strict account of each balloon session.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "esxmem.h"

static int cmp_index(const void *a, const void *b)
{
	pgoff_t x = *(const pgoff_t *)a, y = *(const pgoff_t *)b;

	return (x > y) - (x < y);
}

/* Object pages of @gfns, sorted, in *@out; *@bad the first refused. */
static int translate(struct esxmem_vm *vm, const u64 *gfns, unsigned int n,
		     pgoff_t **out, unsigned int *bad)
{
	pgoff_t *index = kmalloc_array(n, sizeof(*index), GFP_KERNEL);
	unsigned int i;
	u64 offset;
	int err;

	if (!index)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = esxmem_kvm_gfn_to_offset(vm, gfns[i], &offset);
		if (err == -ENOENT)	/* no KVM VM to translate with */
			err = -ENOTCONN;
		if (!err && offset >= vm->npages)
			err = -ERANGE;
		if (err) {
			*bad = i;
			kfree(index);
			return err;
		}
		index[i] = offset;
	}
	sort(index, n, sizeof(*index), cmp_index, NULL);
	for (i = 1; i < n; i++)
		if (index[i] == index[i - 1]) {
			*bad = i;
			kfree(index);
			return -EEXIST;
		}
	*out = index;
	return 0;
}

int esxmem_vm_balloon(struct esxmem_vm *vm, const u64 *gfns, unsigned int n,
		      bool release, unsigned int *bad)
{
	pgoff_t *index;
	unsigned int i;
	int err;

	*bad = 0;
	if (!n || n > ESXMEM_BALLOON_BATCH_MAX)
		return -EINVAL;
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return -ERANGE;
	mutex_lock(&vm->balloon_lock);
	err = translate(vm, gfns, n, &index, bad);
	if (err)
		goto unlock;
	for (i = 0; i < n; i++) {
		if (!release &&
		    esxmem_pte_state(READ_ONCE(vm->pmap[index[i]])) != ESXMEM_PAGE_BALLOONED)
			esxmem_vm_free_range(vm, index[i], index[i] + 1);
		spin_lock(&vm->lock);
		/* A page the guest touched meanwhile stays as it is. */
		if (esxmem_pte_state(vm->pmap[index[i]]) ==
		    (release ? ESXMEM_PAGE_BALLOONED : ESXMEM_PAGE_UNBACKED))
			esxmem_vm_set_pte(vm, index[i], esxmem_pte_make(release ?
					  ESXMEM_PAGE_UNBACKED : ESXMEM_PAGE_BALLOONED, 0, 0));
		spin_unlock(&vm->lock);
	}
	kfree(index);
unlock:
	mutex_unlock(&vm->balloon_lock);
	return err;
}
