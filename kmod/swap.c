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
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "esxmem.h"

/*
 * Serializes changes of every VM's swap file, so that the check that a file
 * is no other VM's holds until it is installed.
 */
static DEFINE_MUTEX(swap_files_lock);

/*
 * Whether a file can be @vm's swap file. The module writes guest memory
 * into it with its own rights, so only what the caller may write anyway,
 * and nothing that something else writes as well. Its flags are checked
 * now only: an inode made immutable or append-only later just fails the
 * writes (swap errors).
 */
static int check_file(struct esxmem_vm *vm, struct file *file,
		      unsigned long *slots, struct netlink_ext_ack *extack)
{
	struct inode *inode = file_inode(file);

	if (!S_ISREG(inode->i_mode)) {
		NL_SET_ERR_MSG(extack, "the swap file must be a regular file");
		return -EINVAL;
	}
	if (inode->i_sb->s_magic == ESXMEM_MAGIC) {
		NL_SET_ERR_MSG(extack,
			       "the swap file must not be on esxmem itself: use a disk-backed filesystem");
		return -EINVAL;
	}
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE)) {
		NL_SET_ERR_MSG(extack, "open the swap file for reading and writing (O_RDWR)");
		return -EBADF;
	}
	if (file->f_flags & O_APPEND) {
		NL_SET_ERR_MSG(extack, "open the swap file without O_APPEND");
		return -EBADF;
	}
	if (!(file->f_mode & FMODE_CAN_READ) ||
	    !(file->f_mode & FMODE_CAN_WRITE)) {
		NL_SET_ERR_MSG(extack,
			       "the swap file's filesystem cannot read and write it at an offset");
		return -EINVAL;
	}
	if (IS_IMMUTABLE(inode)) {
		NL_SET_ERR_MSG(extack, "the swap file is immutable: chattr -i it first");
		return -EPERM;
	}
	if (IS_APPEND(inode)) {
		NL_SET_ERR_MSG(extack, "the swap file is append-only: chattr -a it first");
		return -EPERM;
	}
	if (IS_SWAPFILE(inode)) {
		NL_SET_ERR_MSG(extack,
			       "the file is the kernel's swap (swapon): swapoff it or use another file");
		return -ETXTBSY;
	}
	/* No slot beyond the VM's size could ever be used. */
	*slots = min_t(u64, i_size_read(inode) >> PAGE_SHIFT, vm->npages);
	if (!*slots) {
		NL_SET_ERR_MSG(extack, "the swap file is smaller than a page: size it first");
		return -ENOSPC;
	}
	return 0;
}

/* Whether @inode is the swap file of a VM other than @vm. */
static bool swap_file_taken(struct esxmem_vm *vm, struct inode *inode)
{
	struct esxmem_vm *other;
	struct file *file;
	bool taken = false;
	u32 id = 0;

	lockdep_assert_held(&swap_files_lock);
	mutex_lock(&esxmem_vms_lock);
	while (!taken && (other = esxmem_vm_next(&id))) {
		/*
		 * Stable: it changes only under swap_files_lock, and is put
		 * only once the VM has left the registry.
		 */
		file = other->reclaim.swap_file;
		taken = other != vm && file && file_inode(file) == inode;
		id++;
	}
	mutex_unlock(&esxmem_vms_lock);
	return taken;
}

/*
 * Gives @vm the swap file open as @fd in the caller's table, or none when
 * @fd is negative. The old file goes only when no page is in it.
 */
int esxmem_swap_set_file(struct esxmem_vm *vm, int fd,
			 struct netlink_ext_ack *extack)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	unsigned long slots = 0, *map = NULL;
	struct file *file = NULL;
	int err;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap)) {
		NL_SET_ERR_MSG(extack, "the VM's memory has no size yet");
		return -ENODATA;
	}
	if (fd >= 0) {
		file = fget(fd);
		if (!file) {
			NL_SET_ERR_MSG(extack, "ESXMEM_VM_A_SWAP_FD is no open fd of the caller");
			return -EBADF;
		}
		err = check_file(vm, file, &slots, extack);
		if (err)
			goto out;
		map = esxmem_table_alloc(BITS_TO_LONGS(slots), sizeof(long));
		err = -ENOMEM;
		if (!map)
			goto out;
	}
	mutex_lock(&swap_files_lock);
	if (file && swap_file_taken(vm, file_inode(file))) {
		NL_SET_ERR_MSG(extack,
			       "the file is another VM's swap file: give each VM its own");
		err = -EBUSY;
		goto unlock;
	}
	mutex_lock(&r->lock);
	err = -EBUSY;
	if (!r->swap_used) {
		swap(r->swap_file, file);
		swap(r->swap_map, map);
		r->swap_slots = slots;
		r->swap_next = 0;
		err = 0;
	} else {
		NL_SET_ERR_MSG(extack,
			       "pages are in the current swap file: it can go once they are all read back");
	}
	mutex_unlock(&r->lock);
unlock:
	mutex_unlock(&swap_files_lock);
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

/*
 * Reads or writes one slot. -EAGAIN when a write finds the filesystem
 * frozen: writes take its freeze protection, as write(2) does, but do not
 * wait for a thaw, which may be long (a snapshot) while page-outs hold the
 * VM's reclaim lock that faults on its swapped pages need.
 */
static int swap_io(struct file *file, struct page *page, unsigned long slot,
		   bool write)
{
	struct bio_vec bv = { .bv_page = page, .bv_len = PAGE_SIZE };
	loff_t pos = (loff_t)slot << PAGE_SHIFT;
	struct iov_iter it;
	ssize_t n;

	iov_iter_bvec(&it, write ? WRITE : READ, &bv, 1, PAGE_SIZE);
	if (write) {
		if (!file_start_write_trylock(file))
			return -EAGAIN;
		n = vfs_iter_write(file, &it, &pos, 0);
		file_end_write(file);
	} else {
		n = vfs_iter_read(file, &it, &pos, 0);
	}
	if (n == PAGE_SIZE)
		return 0;
	/* A short transfer: the file shrank, or its filesystem is full. */
	return n < 0 ? n : write ? -ENOSPC : -EIO;
}

/*
 * Writes @page to a free slot; returns the slot, or -ENOSPC (no free slot),
 * -EAGAIN (the filesystem is frozen: try again later) or the write's error.
 */
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
