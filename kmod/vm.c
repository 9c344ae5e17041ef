// SPDX-License-Identifier: GPL-2.0
/*
 * VM memory objects: each open() of /dev/esxmem is the machine memory
 * behind one VM's guest RAM, with a pmap entry for every guest page.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/ioctl.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "esxmem.h"

struct page *esxmem_zero_frame;

static struct vfsmount *esxmem_mnt;
static LIST_HEAD(esxmem_vms);
static DEFINE_MUTEX(esxmem_vms_lock);
static unsigned long esxmem_nr_vms;

unsigned long esxmem_vm_count(void)
{
	return READ_ONCE(esxmem_nr_vms);
}

void esxmem_vm_set_pte(struct esxmem_vm *vm, pgoff_t index, esxmem_pte_t e)
{
	lockdep_assert_held(&vm->lock);
	vm->state_pages[esxmem_pte_state(vm->pmap[index])]--;
	vm->state_pages[esxmem_pte_state(e)]++;
	vm->pmap[index] = e;
}

/*
 * Fixes the object's size. With @exact, the size must be unset or already
 * @npages; otherwise (a mapping) it must be unset or at least @npages.
 */
int esxmem_vm_fix_size(struct esxmem_vm *vm, unsigned long npages, bool exact)
{
	esxmem_pte_t *pmap;
	int err = 0;

	if (!npages || npages > (ESXMEM_MAX_OBJECT_BYTES >> PAGE_SHIFT))
		return -EINVAL;

	mutex_lock(&vm->size_lock);
	if (vm->pmap) {
		if (exact ? npages != vm->npages : npages > vm->npages)
			err = exact ? -EBUSY : -EINVAL;
		goto out;
	}
	pmap = kvcalloc(npages, sizeof(*pmap), GFP_KERNEL_ACCOUNT);
	if (!pmap) {
		err = -ENOMEM;
		goto out;
	}
	spin_lock(&vm->lock);
	vm->npages = npages;
	vm->state_pages[ESXMEM_PAGE_UNBACKED] = npages;
	/* Faults read pmap without size_lock: publish it after npages. */
	smp_store_release(&vm->pmap, pmap);
	spin_unlock(&vm->lock);
out:
	mutex_unlock(&vm->size_lock);
	return err;
}

static void esxmem_vm_free_all(struct esxmem_vm *vm)
{
	unsigned long i, freed = 0;

	if (!vm->pmap)
		return;
	/* No mapping is left (each holds the file), so no fault can race. */
	for (i = 0; i < vm->npages; i++) {
		esxmem_pte_t e = vm->pmap[i];

		if (esxmem_pte_has_pfn(e)) {
			put_page(pfn_to_page(esxmem_pte_payload(e)));
			freed++;
		}
		if (!(i % 4096))
			cond_resched();
	}
	esxmem_pool_uncharge(freed);
	kvfree(vm->pmap);
}

static int esxmem_open(struct inode *inode, struct file *file)
{
	struct esxmem_vm *vm;
	int err;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	vm->inode = alloc_anon_inode(esxmem_mnt->mnt_sb);
	if (IS_ERR(vm->inode)) {
		err = PTR_ERR(vm->inode);
		kfree(vm);
		return err;
	}
	vm->mapping = vm->inode->i_mapping;
	mutex_init(&vm->size_lock);
	spin_lock_init(&vm->lock);
	vm->owner_pid = task_tgid_nr(current);
	get_task_comm(vm->owner_comm, current);

	mutex_lock(&esxmem_vms_lock);
	list_add_tail(&vm->node, &esxmem_vms);
	esxmem_nr_vms++;
	mutex_unlock(&esxmem_vms_lock);

	file->private_data = vm;
	file->f_mapping = vm->mapping;
	return 0;
}

static int esxmem_release(struct inode *inode, struct file *file)
{
	struct esxmem_vm *vm = file->private_data;

	mutex_lock(&esxmem_vms_lock);
	list_del(&vm->node);
	esxmem_nr_vms--;
	mutex_unlock(&esxmem_vms_lock);

	esxmem_vm_free_all(vm);
	iput(vm->inode);
	kfree(vm);
	return 0;
}

static void esxmem_vm_get_stats(struct esxmem_vm *vm,
				struct esxmem_vm_stats *st)
{
	int s;

	memset(st, 0, sizeof(*st));
	spin_lock(&vm->lock);
	st->size_pages = vm->npages;
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		st->state_pages[s] = vm->state_pages[s];
	spin_unlock(&vm->lock);
	st->consumed_pages = st->state_pages[ESXMEM_PAGE_PRIVATE];
	st->mappings = atomic_read(&vm->mappings);
	st->faults = atomic_long_read(&vm->faults);
	st->cow_breaks = atomic_long_read(&vm->cow_breaks);
	st->fault_waits = atomic_long_read(&vm->fault_waits);
	st->fault_wait_timeouts = atomic_long_read(&vm->fault_wait_timeouts);
	st->pmap_bytes = st->size_pages * sizeof(esxmem_pte_t);
}

static long esxmem_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct esxmem_vm *vm = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct esxmem_vm_stats st;
	struct esxmem_range range;
	u64 bytes;

	switch (cmd) {
	case ESXMEM_IOC_SET_SIZE:
		if (copy_from_user(&bytes, uarg, sizeof(bytes)))
			return -EFAULT;
		if (!bytes || !PAGE_ALIGNED(bytes))
			return -EINVAL;
		return esxmem_vm_fix_size(vm, bytes >> PAGE_SHIFT, true);
	case ESXMEM_IOC_GET_STATS:
		esxmem_vm_get_stats(vm, &st);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	case ESXMEM_IOC_PUNCH_HOLE:
		if (copy_from_user(&range, uarg, sizeof(range)))
			return -EFAULT;
		if (range.offset > LLONG_MAX || range.length > LLONG_MAX)
			return -EINVAL;
		return esxmem_vm_punch_hole(vm, range.offset, range.length);
	default:
		return -ENOTTY;
	}
}

const struct file_operations esxmem_fops = {
	.owner = THIS_MODULE,
	.open = esxmem_open,
	.release = esxmem_release,
	.mmap = esxmem_mmap,
	.fallocate = esxmem_fallocate,
	.unlocked_ioctl = esxmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static int esxmem_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ESXMEM_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type esxmem_fs_type = {
	.name = "esxmem",
	.init_fs_context = esxmem_init_fs_context,
	.kill_sb = kill_anon_super,
};

int esxmem_vm_init(void)
{
	esxmem_zero_frame = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!esxmem_zero_frame)
		return -ENOMEM;
	esxmem_mnt = kern_mount(&esxmem_fs_type);
	if (IS_ERR(esxmem_mnt)) {
		__free_page(esxmem_zero_frame);
		return PTR_ERR(esxmem_mnt);
	}
	return 0;
}

void esxmem_vm_exit(void)
{
	kern_unmount(esxmem_mnt);
	/* Mappings of the zero frame may outlive us in GUP pins: drop ours. */
	put_page(esxmem_zero_frame);
}
