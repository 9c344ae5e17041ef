// SPDX-License-Identifier: GPL-2.0
/*
 * The link from a memory object to the KVM VM that runs on it.
 *
 * Guests speak guest frame numbers (balloon PFNs, sampling); the pmap is
 * indexed by object page. The link maps one onto the other by walking the
 * VM's memory slots and, for each, the VMM's mappings of this object at the
 * slot's host address. The map is rebuilt whenever KVM's memslot
 * generation moves (slots added, moved, deleted) or the object's mappings
 * change, and KVM's page-track notifier marks it stale as soon as a slot
 * is flushed.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <asm/kvm_page_track.h>

#include "esxmem.h"

struct esxmem_kvm_link {
	struct kvm *kvm;
	struct kvm_page_track_notifier_node track;
	struct esxmem_slotmap *map;	/* NULL until walked */
	u64 generation;			/* of the memslots behind @map */
	int mappings_gen;		/* of the object's mappings, likewise */
	atomic_t stale;
};

static void esxmem_kvm_flush_slot(struct kvm *kvm, struct kvm_memory_slot *slot,
				  struct kvm_page_track_notifier_node *node)
{
	struct esxmem_kvm_link *link = container_of(node, struct esxmem_kvm_link,
						    track);

	/* Called with KVM's slots_lock held: only note it. */
	atomic_set(&link->stale, 1);
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

	/* The VMM may be exiting; then there is nothing left to map. */
	if (!mmget_not_zero(kvm->mm))
		goto publish_empty;
	atomic_set(&link->stale, 0);
	link->mappings_gen = atomic_read(&vm->mappings_gen);
	idx = srcu_read_lock(&kvm->srcu);
	slots = __kvm_memslots(kvm, 0);
	generation = slots->generation;
	mmap_read_lock(kvm->mm);
	kvm_for_each_memslot(slot, bkt, slots) {
		err = walk_slot(vm, kvm->mm, map, slot->id, slot->base_gfn,
				slot->userspace_addr, slot->npages);
		if (err)
			break;
	}
	mmap_read_unlock(kvm->mm);
	srcu_read_unlock(&kvm->srcu, idx);
	mmput(kvm->mm);
	if (err) {
		kvfree(map);
		return err;
	}
	kvfree(link->map);
	link->map = map;
	link->generation = generation;
	return 0;

publish_empty:
	link->mappings_gen = atomic_read(&vm->mappings_gen);
	kvfree(link->map);
	link->map = map;
	link->generation = 0;
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
	if (link->map && generation == link->generation &&
	    link->mappings_gen == atomic_read(&vm->mappings_gen) &&
	    !atomic_read(&link->stale))
		return 0;
	return rewalk(vm, link);
}

int esxmem_kvm_attach(struct esxmem_vm *vm, int fd)
{
	struct esxmem_kvm_link *link;
	struct fd f = fdget(fd);
	struct kvm *kvm;
	int err;

	if (!f.file)
		return -EBADF;
	/* KVM's own test: the file is a VM made by kvm.ko. */
	if (!file_is_kvm(f.file)) {
		fdput(f);
		return -EINVAL;
	}
	kvm = f.file->private_data;

	mutex_lock(&vm->kvm_lock);
	if (vm->kvm) {
		err = vm->kvm->kvm == kvm ? 0 : -EBUSY;
		goto out_unlock;
	}
	link = kzalloc(sizeof(*link), GFP_KERNEL);
	if (!link) {
		err = -ENOMEM;
		goto out_unlock;
	}
	kvm_get_kvm(kvm);
	link->kvm = kvm;
	link->track.track_flush_slot = esxmem_kvm_flush_slot;
	kvm_page_track_register_notifier(kvm, &link->track);
	err = rewalk(vm, link);
	if (err)
		goto err_unregister;
	vm->kvm = link;
	mutex_unlock(&vm->kvm_lock);
	fdput(f);
	return 0;

err_unregister:
	kvm_page_track_unregister_notifier(kvm, &link->track);
	kvm_put_kvm(kvm);
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
	link = vm->kvm;
	vm->kvm = NULL;
	mutex_unlock(&vm->kvm_lock);
	if (!link)
		return;
	kvm_page_track_unregister_notifier(link->kvm, &link->track);
	kvm_put_kvm(link->kvm);
	kvfree(link->map);
	kfree(link);
}

int esxmem_kvm_gfn_to_offset(struct esxmem_vm *vm, u64 gfn, u64 *offset)
{
	int err = -ENOENT;

	mutex_lock(&vm->kvm_lock);
	if (vm->kvm) {
		err = refresh(vm, vm->kvm);
		if (!err && !esxmem_slotmap_gfn_to_offset(vm->kvm->map, gfn, offset))
			err = -ERANGE;
	}
	mutex_unlock(&vm->kvm_lock);
	return err;
}

int esxmem_kvm_offset_to_gfn(struct esxmem_vm *vm, u64 offset, u64 *gfn)
{
	int err = -ENOENT;

	mutex_lock(&vm->kvm_lock);
	if (vm->kvm) {
		err = refresh(vm, vm->kvm);
		if (!err && !esxmem_slotmap_offset_to_gfn(vm->kvm->map, offset, gfn))
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
	if (vm->kvm)
		assigned = kvm_arch_has_assigned_device(vm->kvm->kvm);
	mutex_unlock(&vm->kvm_lock);
	return assigned;
}

/*
 * A current copy of the map for reporting, or NULL when detached (*err 0)
 * or on failure (*err < 0); *pid is the KVM VM's creator. Free with kvfree.
 */
struct esxmem_slotmap *esxmem_kvm_slotmap(struct esxmem_vm *vm, pid_t *pid,
					  int *err)
{
	struct esxmem_slotmap *copy = NULL;

	*err = 0;
	mutex_lock(&vm->kvm_lock);
	if (vm->kvm) {
		*err = refresh(vm, vm->kvm);
		if (!*err) {
			size_t size = struct_size(copy, piece, vm->kvm->map->nr);

			copy = kvmalloc(size, GFP_KERNEL);
			if (copy) {
				memcpy(copy, vm->kvm->map, size);
				copy->max = copy->nr;
			} else {
				*err = -ENOMEM;
			}
		}
		*pid = vm->kvm->kvm->userspace_pid;
	}
	mutex_unlock(&vm->kvm_lock);
	return copy;
}
