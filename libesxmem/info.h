/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the opaque objects of libesxmem.h hold. Only the library sees these
 * layouts, so they may grow with the protocol without changing its ABI.
 */
#ifndef LIBESXMEM_INFO_H
#define LIBESXMEM_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libesxmem.h"

struct esxmem_slot_info {
	uint32_t id;
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t offset;
};

struct esxmem_vm_info {
	uint32_t id;
	uint32_t fields;			/* the groups read: enum esxmem_vm_fields */
	char name[ESXMEM_VM_NAME_MAX];
	bool kvm_attached;
	uint64_t values[ESXMEM_VM_NR_VALUES];	/* by enum esxmem_vm_value */
	uint64_t state_pages[ESXMEM_PAGE_NR_STATES];
	size_t nr_slots;
	struct esxmem_slot_info *slots;		/* NULL when nr_slots is 0 */
};

struct esxmem_pool_info {
	uint64_t values[ESXMEM_POOL_NR_VALUES];	/* by enum esxmem_pool_value */
	int64_t free_pages;
};

struct esxmem_event {
	uint32_t type;
	uint32_t vm_id;
	uint32_t owner_pid;
	uint32_t state;
	int64_t free_pages;
};

/* Frees what @vm holds (its slots) and zeroes it; @vm itself stays. */
void esxmem_vm_info_clear(struct esxmem_vm_info *vm);

/*
 * Takes into @vm what @fresh, a reply of the groups @fields, holds of
 * them (its slots included, which @fresh gives up), keeping @vm's other
 * values.
 */
void esxmem_vm_info_take(struct esxmem_vm_info *vm, struct esxmem_vm_info *fresh,
			 uint32_t fields);

/* Records in @vm the values @s changed (after the kernel accepted them). */
void esxmem_vm_info_record(struct esxmem_vm_info *vm,
			   const struct esxmem_vm_settings *s);

#endif /* LIBESXMEM_INFO_H */
