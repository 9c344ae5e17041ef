// SPDX-License-Identifier: GPL-2.0
/*
 * Each VM's swap file, ESX's .vswp: a regular file the daemon opens (and
 * preallocates, sized max - min, so a swap-out never finds the filesystem
 * full) and hands over by fd. One page per slot; a bitmap of the slots in
 * use, under the VM's reclaim lock like the rest of its reclaim state.
 *
 * I/O goes through the file's read_iter/write_iter from the page itself,
 * so a file opened with O_DIRECT bypasses the page cache (swapped pages
 * would otherwise sit there, in host memory, until written back).
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "esxmem.h"

static int check_file(struct esxmem_vm *vm, struct file *file,
		      unsigned long *slots)
{
	struct inode *inode = file_inode(file);

	if (!S_ISREG(inode->i_mode) || inode->i_sb->s_magic == ESXMEM_MAGIC)
		return -EINVAL;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE) || (file->f_flags & O_APPEND))
		return -EBADF;
	if (!(file->f_mode & FMODE_CAN_READ) ||
	    !(file->f_mode & FMODE_CAN_WRITE))
		return -EINVAL;
	/* No slot beyond the VM's size could ever be used. */
	*slots = min_t(u64, i_size_read(inode) >> PAGE_SHIFT, vm->npages);
	return *slots ? 0 : -ENOSPC;
}

/*
 * Gives @vm the swap file open as @fd in the caller's table, or none when
 * @fd is negative. The old file goes only when no page is in it.
 */
int esxmem_swap_set_file(struct esxmem_vm *vm, int fd)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long slots = 0, *map = NULL;
	struct file *file = NULL;
	int err;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return -ENODATA;
	if (fd >= 0) {
		file = fget(fd);
		if (!file)
			return -EBADF;
		err = check_file(vm, file, &slots);
		if (err)
			goto out;
		map = esxmem_table_alloc(BITS_TO_LONGS(slots), sizeof(long));
		err = -ENOMEM;
		if (!map)
			goto out;
	}
	mutex_lock(&r->lock);
	err = -EBUSY;
	if (!r->swap_used) {
		swap(r->swap_file, file);
		swap(r->swap_map, map);
		r->swap_slots = slots;
		r->swap_next = 0;
		err = 0;
	}
	mutex_unlock(&r->lock);
out:
	/* The old file and map after a change, the new ones on error. */
	if (file)
		fput(file);
	kvfree(map);
	return err;
}

/* A free slot, or -ENOSPC. */
long esxmem_swap_slot_get(struct esxmem_vm_reclaim *r)
{
	unsigned long slot;

	lockdep_assert_held(&r->lock);
	if (!r->swap_file || r->swap_used >= r->swap_slots)
		return -ENOSPC;
	slot = find_next_zero_bit(r->swap_map, r->swap_slots, r->swap_next);
	if (slot >= r->swap_slots)
		slot = find_first_zero_bit(r->swap_map, r->swap_slots);
	return slot;
}

static int swap_io(struct file *file, struct page *page, unsigned long slot,
		   bool write)
{
	struct bio_vec bv = { .bv_page = page, .bv_len = PAGE_SIZE };
	loff_t pos = (loff_t)slot << PAGE_SHIFT;
	struct iov_iter it;
	ssize_t n;

	iov_iter_bvec(&it, write ? WRITE : READ, &bv, 1, PAGE_SIZE);
	n = write ? vfs_iter_write(file, &it, &pos, 0) :
		    vfs_iter_read(file, &it, &pos, 0);
	if (n == PAGE_SIZE)
		return 0;
	/* A short transfer: the file shrank, or its filesystem is full. */
	return n < 0 ? n : write ? -ENOSPC : -EIO;
}

/* Writes @page to a free slot; returns the slot or the error. */
long esxmem_swap_out(struct esxmem_vm_reclaim *r, struct page *page)
{
	long slot = esxmem_swap_slot_get(r);
	int err;

	if (slot < 0)
		return slot;
	err = swap_io(r->swap_file, page, slot, true);
	if (err)
		return err;
	__set_bit(slot, r->swap_map);
	r->swap_used++;
	r->swap_next = slot + 1;
	return slot;
}

int esxmem_swap_in(struct esxmem_vm_reclaim *r, struct page *page,
		   unsigned long slot)
{
	lockdep_assert_held(&r->lock);
	return swap_io(r->swap_file, page, slot, false);
}

void esxmem_swap_slot_put(struct esxmem_vm_reclaim *r, unsigned long slot)
{
	lockdep_assert_held(&r->lock);
	__clear_bit(slot, r->swap_map);
	r->swap_used--;
}

/* Called when @vm is torn down: nothing else can reach it any more. */
void esxmem_swap_forget_vm(struct esxmem_vm *vm)
{
	if (vm->reclaim.swap_file)
		fput(vm->reclaim.swap_file);
	kvfree(vm->reclaim.swap_map);
}
