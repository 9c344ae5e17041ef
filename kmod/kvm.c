// SPDX-License-Identifier: GPL-2.0
/*
 * The link from a memory object to the KVM VM that runs on it.
 *
 * Guests speak guest frame numbers (balloon PFNs, sampling); the pmap is
 * indexed by object page. The link maps one onto the other by walking the
 * VM's memory slots and, for each, the VMM's mappings of this object at the
 * slot's host address. The map is rebuilt whenever KVM's memslot
 * generation moves or the object's mappings change. The generation is
 * KVM's own record of memslot changes: every change (a slot added, moved,
 * deleted, or its flags changed) moves it, deletions and moves twice (when
 * the slot turns invalid and when it goes). So no notifier is needed,
 * which is as well: KVM's page-track notifier, the only one exported, has
 * lost its slot-flush callback since 6.7 and accepts only the VMM itself
 * as a caller.
 *
 * Rebuilding reads the VMM's mappings under its mmap_lock, which a VMM
 * thread may hold for a while, so it happens only where nothing else
 * waits on the caller: never under esxmem_vms_lock or a lock the fault or
 * reclaim paths take. Reports read the last map under RCU, with no lock
 * at all; a request that needs the map current (ballooning, GET_VM)
 * refreshes it first, with only the VM's kvm_lock held.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "esxmem.h"

struct esxmem_kvm_link {
	struct kvm *kvm;
	pid_t pid;			/* the KVM VM's creator */
	/* Replaced under the VM's kvm_lock; read under RCU. */
	struct esxmem_slotmap __rcu *map;
	u64 generation;			/* of the memslots behind @map */
	int mappings_gen;		/* of the object's mappings, likewise */
};

static struct esxmem_kvm_link *link_of(struct esxmem_vm *vm)
{
	return rcu_dereference_protected(vm->kvm,
					 lockdep_is_held(&vm->kvm_lock));
}

static struct esxmem_slotmap *map_of(struct esxmem_vm *vm,
				     struct esxmem_kvm_link *link)
{
	return rcu_dereference_protected(link->map,
					 lockdep_is_held(&vm->kvm_lock));
}

/* Publishes @map; the old one goes once no report can be reading it. */
static void publish(struct esxmem_vm *vm, struct esxmem_kvm_link *link,
		    struct esxmem_slotmap *map)
{
	struct esxmem_slotmap *old = map_of(vm, link);

	rcu_assign_pointer(link->map, map);
	if (old) {
		synchronize_rcu();
		kvfree(old);
	}
}

/* Adds the pieces of [hva, hva + npages pages) that map @vm in @mm. */
static int walk_slot(struct esxmem_vm *vm, struct mm_struct *mm,
		     struct esxmem_slotmap *map, u32 id, u64 base_gfn,
		     unsigned long hva, u64 npages)
{
	unsigned long end = hva + (npages << PAGE_SHIFT), addr = hva;
	struct vm_area_struct *vma;
	int err = 0;

	while (addr < end) {
		unsigned long stop;

		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			break;
		addr = max(addr, vma->vm_start);
		stop = min(end, vma->vm_end);
		if (esxmem_vma_is_ours(vma) && vma->vm_file->private_data == vm) {
			struct esxmem_slot_piece p = {
				.id = id,
				.base_gfn = base_gfn + ((addr - hva) >> PAGE_SHIFT),
				.npages = (stop - addr) >> PAGE_SHIFT,
				.offset = vma->vm_pgoff +
					  ((addr - vma->vm_start) >> PAGE_SHIFT),
			};

			err = esxmem_slotmap_add(map, &p);
			if (err)
				break;
		}
		addr = stop;
	}
	return err;
}

/* Rebuilds the map from KVM's address space 0 (the guest's normal view). */
static int rewalk(struct esxmem_vm *vm, struct esxmem_kvm_link *link)
{
	struct kvm *kvm = link->kvm;
	struct esxmem_slotmap *map;
	struct kvm_memory_slot *slot;
	struct kvm_memslots *slots;
	int idx, bkt, err = 0;
	u64 generation;

	map = kvzalloc(struct_size(map, piece, ESXMEM_SLOTMAP_MAX), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	map->max = ESXMEM_SLOTMAP_MAX;

	lockdep_assert_held(&vm->kvm_lock);
	/* The VMM may be exiting; then there is nothing left to map. */
	if (!mmget_not_zero(kvm->mm))
		goto publish_empty;
	/* Killable: the VMM may hold its mmap_lock a while. */
	if (mmap_read_lock_killable(kvm->mm)) {
		mmput(kvm->mm);
		kvfree(map);
		return -EINTR;
	}
	link->mappings_gen = atomic_read(&vm->mappings_gen);
	idx = srcu_read_lock(&kvm->srcu);
	slots = __kvm_memslots(kvm, 0);
	generation = slots->generation;
	kvm_for_each_memslot(slot, bkt, slots) {
		/* On its way out: the generation moves again when it goes. */
		if (slot->flags & KVM_MEMSLOT_INVALID)
			continue;
		err = walk_slot(vm, kvm->mm, map, slot->id, slot->base_gfn,
				slot->userspace_addr, slot->npages);
		if (err)
			break;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	mmap_read_unlock(kvm->mm);
	mmput(kvm->mm);
	if (err) {
		kvfree(map);
		return err;
	}
	link->generation = generation;
	publish(vm, link, map);
	return 0;

publish_empty:
	link->mappings_gen = atomic_read(&vm->mappings_gen);
	link->generation = 0;
	publish(vm, link, map);
	return 0;
}

/* The current map of an attached VM; rebuilt first if KVM moved on. */
static int refresh(struct esxmem_vm *vm, struct esxmem_kvm_link *link)
{
	u64 generation;
	int idx;

	lockdep_assert_held(&vm->kvm_lock);
	idx = srcu_read_lock(&link->kvm->srcu);
	generation = __kvm_memslots(link->kvm, 0)->generation;
	srcu_read_unlock(&link->kvm->srcu, idx);
	if (map_of(vm, link) && generation == link->generation &&
	    link->mappings_gen == atomic_read(&vm->mappings_gen))
		return 0;
	return rewalk(vm, link);
}

int esxmem_kvm_attach(struct esxmem_vm *vm, int fd)
{
	struct esxmem_kvm_link *link;
	struct fd f = fdget(fd);
	struct kvm *kvm;
	int err;

	if (!fd_file(f))
		return -EBADF;
	/* KVM's own test: the file is a VM made by kvm.ko. */
	if (!file_is_kvm(fd_file(f))) {
		fdput(f);
		return -EINVAL;
	}
	kvm = fd_file(f)->private_data;

	mutex_lock(&vm->kvm_lock);
	if (link_of(vm)) {
		err = link_of(vm)->kvm == kvm ? 0 : -EBUSY;
		goto out_unlock;
	}
	link = kzalloc(sizeof(*link), GFP_KERNEL);
	if (!link) {
		err = -ENOMEM;
		goto out_unlock;
	}
	kvm_get_kvm(kvm);
	link->kvm = kvm;
	link->pid = kvm->userspace_pid;
	err = rewalk(vm, link);
	if (err)
		goto err_put;
	rcu_assign_pointer(vm->kvm, link);
	mutex_unlock(&vm->kvm_lock);
	fdput(f);
	return 0;

err_put:
	kvm_put_kvm(kvm);
	kvfree(rcu_dereference_protected(link->map, true));
	kfree(link);
out_unlock:
	mutex_unlock(&vm->kvm_lock);
	fdput(f);
	return err;
}

void esxmem_kvm_detach(struct esxmem_vm *vm)
{
	struct esxmem_kvm_link *link;

	mutex_lock(&vm->kvm_lock);
	link = link_of(vm);
	RCU_INIT_POINTER(vm->kvm, NULL);
	mutex_unlock(&vm->kvm_lock);
	if (!link)
		return;
	kvm_put_kvm(link->kvm);
	/* Reports may still be reading the link and its map. */
	synchronize_rcu();
	kvfree(rcu_dereference_protected(link->map, true));
	kfree(link);
}

/* Rebuilds the map if KVM or the VMM's mappings moved on; 0 if detached. */
int esxmem_kvm_refresh(struct esxmem_vm *vm)
{
	int err = 0;

	mutex_lock(&vm->kvm_lock);
	if (link_of(vm))
		err = refresh(vm, link_of(vm));
	mutex_unlock(&vm->kvm_lock);
	return err;
}

int esxmem_kvm_gfn_to_offset(struct esxmem_vm *vm, u64 gfn, u64 *offset)
{
	struct esxmem_kvm_link *link;
	int err = -ENOENT;

	mutex_lock(&vm->kvm_lock);
	link = link_of(vm);
	if (link) {
		err = refresh(vm, link);
		if (!err && !esxmem_slotmap_gfn_to_offset(map_of(vm, link), gfn,
							  offset))
			err = -ERANGE;
	}
	mutex_unlock(&vm->kvm_lock);
	return err;
}

/*
 * Whether the KVM VM has devices assigned (VFIO), which may DMA into any of
 * its pages. False when detached.
 */
bool esxmem_kvm_has_assigned_device(struct esxmem_vm *vm)
{
	bool assigned = false;

	mutex_lock(&vm->kvm_lock);
	if (link_of(vm))
		assigned = kvm_arch_has_assigned_device(link_of(vm)->kvm);
	mutex_unlock(&vm->kvm_lock);
	return assigned;
}

/*
 * Calls @report with the last map and the KVM VM's creator, or does
 * nothing when detached. Takes no lock but RCU's, so a reader never waits
 * on a VMM: the map is as of the last refresh. @report must not sleep.
 */
int esxmem_kvm_report(struct esxmem_vm *vm,
		      int (*report)(void *ctx, const struct esxmem_slotmap *map,
				    pid_t pid),
		      void *ctx)
{
	struct esxmem_kvm_link *link;
	struct esxmem_slotmap *map;
	int err = 0;

	rcu_read_lock();
	link = rcu_dereference(vm->kvm);
	map = link ? rcu_dereference(link->map) : NULL;
	if (map)
		err = report(ctx, map, link->pid);
	rcu_read_unlock();
	return err;
}
