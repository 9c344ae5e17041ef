// SPDX-License-Identifier: GPL-2.0
/*
 * VM memory objects: each open() of /dev/esxmem is the machine memory
 * behind one VM's guest RAM, with a pmap entry for every guest page.
 */
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "esxmem.h"

static DEFINE_XARRAY_ALLOC1(esxmem_vms);
DEFINE_MUTEX(esxmem_vms_lock);
u64 esxmem_vms_generation;
static unsigned long esxmem_nr_vms;
static u32 esxmem_next_id;
/* Guest pages of every object with a size: what the frame table scales to. */
static atomic_long_t esxmem_total_pages;

struct esxmem_vm *esxmem_vm_lookup(u32 id)
{
	lockdep_assert_held(&esxmem_vms_lock);
	return xa_load(&esxmem_vms, id);
}

struct esxmem_vm *esxmem_vm_lookup_rcu(u32 id)
{
	return xa_load(&esxmem_vms, id);
}

unsigned long esxmem_vm_total_pages(void)
{
	return atomic_long_read(&esxmem_total_pages);
}

/*
 * The part of the sharing frame table a VM of @npages guest pages stands
 * for: the table is sized by the guest pages of every object with a size
 * (share.c), so each VM's part is in proportion to its own.
 */
u64 esxmem_vm_frame_table_bytes(u64 npages)
{
	u64 total = esxmem_vm_total_pages();

	if (!total || !npages)
		return 0;
	return mul_u64_u64_div_u64(READ_ONCE(esxmem_share.table_bytes),
				   min(npages, total), total);
}

/* Pages in state @state over every VM. */
unsigned long esxmem_vm_sum_state(enum esxmem_page_state state)
{
	unsigned long id = 0, sum = 0;
	struct esxmem_vm *vm;

	mutex_lock(&esxmem_vms_lock);
	xa_for_each(&esxmem_vms, id, vm)
		sum += READ_ONCE(vm->state_pages[state]);
	mutex_unlock(&esxmem_vms_lock);
	return sum;
}

/* The VM with the lowest id >= *id, for walking the registry in order. */
struct esxmem_vm *esxmem_vm_next(u32 *id)
{
	unsigned long index = *id;
	struct esxmem_vm *vm;

	lockdep_assert_held(&esxmem_vms_lock);
	vm = xa_find(&esxmem_vms, &index, U32_MAX, XA_PRESENT);
	if (vm)
		*id = index;
	return vm;
}

/* esxmem_vm_next() under rcu_read_lock(); the VM may be on its way out. */
struct esxmem_vm *esxmem_vm_next_rcu(u32 *id)
{
	unsigned long index = *id;
	struct esxmem_vm *vm;

	vm = xa_find(&esxmem_vms, &index, U32_MAX, XA_PRESENT);
	if (vm)
		*id = index;
	return vm;
}

/*
 * The VM with the lowest id >= *id that is not on its way out, held
 * (esxmem_vm_put() when done), or NULL: for walking every VM without
 * holding esxmem_vms_lock across the work on each.
 */
struct esxmem_vm *esxmem_vm_next_held(u32 *id)
{
	struct esxmem_vm *vm;

	mutex_lock(&esxmem_vms_lock);
	while ((vm = esxmem_vm_next(id)) && !esxmem_vm_grab(vm)) {
		/* Going away: the next one, not the end of the walk. */
		if (*id == U32_MAX) {
			vm = NULL;
			break;
		}
		(*id)++;
	}
	mutex_unlock(&esxmem_vms_lock);
	return vm;
}

unsigned long esxmem_vm_count(void)
{
	return READ_ONCE(esxmem_nr_vms);
}

void esxmem_vm_set_pte(struct esxmem_vm *vm, pgoff_t index, esxmem_pte_t e)
{
	lockdep_assert_held(&vm->lock);
	vm->state_pages[esxmem_pte_state(vm->pmap[index])]--;
	vm->state_pages[esxmem_pte_state(e)]++;
	if (vm->pmap[index] & ESXMEM_PTE_HELD)
		vm->held_pages--;
	if (e & ESXMEM_PTE_HELD)
		vm->held_pages++;
	vm->pmap[index] = e;
}

/* The private page at @index, referenced, or NULL. */
struct page *esxmem_vm_get_private(struct esxmem_vm *vm, pgoff_t index)
{
	struct page *page = NULL;
	esxmem_pte_t e;

	spin_lock(&vm->lock);
	e = vm->pmap[index];
	if (esxmem_pte_state(e) == ESXMEM_PAGE_PRIVATE) {
		page = pfn_to_page(esxmem_pte_payload(e));
		get_page(page);
	}
	spin_unlock(&vm->lock);
	return page;
}

void esxmem_vm_release(esxmem_pte_t e)
{
	struct page *page = pfn_to_page(esxmem_pte_payload(e));

	if (esxmem_pte_state(e) == ESXMEM_PAGE_SHARED)
		esxmem_share_put(page);
	else
		esxmem_vm_free_page(page);
}

/*
 * A zeroed table of @n entries of @size bytes, for the tables that grow
 * with guest RAM: pmaps, the frame table, reclaim slots. Objects up to
 * ESXMEM_MAX_OBJECT_BYTES make them larger than kvmalloc() accepts (it
 * refuses more than INT_MAX bytes with a WARN), so beyond what kmalloc()
 * can serve they come from vmalloc directly, with the huge mappings
 * kvmalloc() would use. Charged to the caller's memory cgroup. A table
 * larger than the memory available fails at once, and one that cannot be
 * had fails quietly, without calling in the OOM killer: the caller answers
 * -ENOMEM. Free with kvfree().
 */
void *esxmem_table_alloc(size_t n, size_t size)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN;
	size_t bytes;

	if (check_mul_overflow(n, size, &bytes))
		return NULL;
	if (bytes <= KMALLOC_MAX_SIZE)
		return kvmalloc(bytes, gfp);
	if (bytes >> PAGE_SHIFT > (unsigned long)si_mem_available())
		return NULL;
	return vmalloc_huge(bytes, gfp | __GFP_RETRY_MAYFAIL);
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
	pmap = esxmem_table_alloc(npages, sizeof(*pmap));
	if (!pmap) {
		err = -ENOMEM;
		goto out;
	}
	spin_lock(&vm->lock);
	vm->npages = npages;
	vm->state_pages[ESXMEM_PAGE_UNBACKED] = npages;
	i_size_write(vm->inode, (loff_t)npages << PAGE_SHIFT);
	atomic_long_add(npages, &esxmem_total_pages);
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

		if (esxmem_pte_state(e) == ESXMEM_PAGE_SHARED) {
			esxmem_share_put(pfn_to_page(esxmem_pte_payload(e)));
		} else if (esxmem_pte_has_pfn(e)) {
			struct page *page = pfn_to_page(esxmem_pte_payload(e));
			unsigned long pages = 1;

			/* A large page once, whole: its first piece is first. */
			if (esxmem_page_is_large(page)) {
				pages = ESXMEM_LARGE_PAGES;
				i += ESXMEM_LARGE_PAGES - 1;
				atomic_long_dec(&esxmem_large.in_use);
			}
			/* One still held stays charged until it is let go. */
			if (esxmem_held_put(page))
				freed += pages;
		}
		if (!(i % 4096))
			cond_resched();
	}
	esxmem_pool_uncharge(freed);
	atomic_long_sub(vm->npages, &esxmem_total_pages);
	kvfree(vm->pmap);
}

/* The memory object behind @inode, an inode of an esxmem superblock. */
struct esxmem_vm *esxmem_vm_create(struct inode *inode)
{
	struct esxmem_vm *vm;
	int err;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return NULL;
	vm->inode = inode;
	vm->mapping = inode->i_mapping;
	mutex_init(&vm->size_lock);
	spin_lock_init(&vm->lock);
	init_rwsem(&vm->zero_sem);
	mutex_init(&vm->kvm_lock);
	mutex_init(&vm->balloon_lock);
	esxmem_reclaim_init_vm(vm);
	esxmem_numa_init(&vm->numa);
	/* Nothing owed (fault.c): long enough ago whatever jiffies is. */
	vm->sigbus_owed_last = jiffies - 2 * HZ;
	vm->owner_pid = task_tgid_nr(current);
	get_task_comm(vm->owner_comm, current);
	vm->shares = ESXMEM_DEFAULT_SHARES;
	vm->max_pages = U64_MAX;

	mutex_lock(&esxmem_vms_lock);
	/* Cyclic, so an id names one VM for a long time; below 2^31 for the
	 * frame table's hints.
	 */
	err = xa_alloc_cyclic(&esxmem_vms, &vm->id, vm, xa_limit_31b,
			      &esxmem_next_id, GFP_KERNEL);
	if (err >= 0) {
		err = 0;
		esxmem_nr_vms++;
		esxmem_vms_generation++;
	}
	mutex_unlock(&esxmem_vms_lock);
	if (err) {
		kfree(vm);
		return NULL;
	}
	esxmem_netlink_vm_event(ESXMEM_CMD_EVENT_VM_NEW, vm->id, vm->owner_pid);
	return vm;
}

/* Called when the inode goes: no file and no mapping is left. */
void esxmem_vm_destroy(struct esxmem_vm *vm)
{
	mutex_lock(&esxmem_vms_lock);
	xa_erase(&esxmem_vms, vm->id);
	esxmem_nr_vms--;
	esxmem_vms_generation++;
	mutex_unlock(&esxmem_vms_lock);

	esxmem_netlink_vm_event(ESXMEM_CMD_EVENT_VM_DEL, vm->id, vm->owner_pid);
	esxmem_kvm_detach(vm);
	esxmem_share_forget_vm(vm);
	esxmem_sample_forget_vm(vm);
	esxmem_reclaim_forget_vm(vm);
	esxmem_vm_free_all(vm);
	esxmem_numa_destroy(&vm->numa);
	/* The frame table's counters may still look it up under RCU. */
	kfree_rcu(vm, rcu);
}

void esxmem_vm_get_stats(struct esxmem_vm *vm,
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
	st->pages_scanned = atomic_long_read(&vm->scan.pages_scanned);
	st->full_scans = atomic_long_read(&vm->scan.full_scans);
	st->hints = atomic_long_read(&vm->scan.hints);
	st->scan_ns = atomic64_read(&vm->scan.scan_ns);
	st->active_ppm = esxmem_sample_estimate_ppm(vm);
	st->active_partial_ppm = esxmem_sample_partial_ppm(vm);
	st->sample_faults = atomic64_read(&vm->sample.faults);
	st->sample_periods = READ_ONCE(vm->sample.periods);
	st->id = vm->id;
}

/*
 * The ioctls of an object's file, /dev/esxmem's or esxmemfs's. Those that
 * change the object need the file open for writing, as ftruncate() and
 * fallocate() do: a read-only fd of someone else's VM must not free or
 * size its memory.
 */
long esxmem_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct esxmem_vm *vm = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct esxmem_vm_stats st;
	struct esxmem_range range;
	u64 bytes;

	switch (cmd) {
	case ESXMEM_IOC_SET_SIZE:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		if (copy_from_user(&bytes, uarg, sizeof(bytes)))
			return -EFAULT;
		if (!bytes || !PAGE_ALIGNED(bytes))
			return -EINVAL;
		return esxmem_vm_fix_size(vm, bytes >> PAGE_SHIFT, true);
	case ESXMEM_IOC_GET_STATS:
		esxmem_vm_get_stats(vm, &st);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	case ESXMEM_IOC_PUNCH_HOLE:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		if (copy_from_user(&range, uarg, sizeof(range)))
			return -EFAULT;
		if (range.offset > LLONG_MAX || range.length > LLONG_MAX)
			return -EINVAL;
		return esxmem_vm_punch_hole(vm, range.offset, range.length);
	default:
		return -ENOTTY;
	}
}
