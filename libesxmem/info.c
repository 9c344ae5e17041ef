// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The getters of the objects the library hands out: VMs, their slots, the
 * pool and events. Ids a program knows and this library does not (the
 * program was built against a newer header) read as 0, or -ERANGE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "info.h"
#include "internal.h"
#include "msg.h"

ESXMEM_EXPORT uint32_t esxmem_vm_id(const struct esxmem_vm_info *vm)
{
	return vm ? vm->id : 0;
}

ESXMEM_EXPORT const char *esxmem_vm_name(const struct esxmem_vm_info *vm)
{
	return vm ? vm->name : "";
}

ESXMEM_EXPORT bool esxmem_vm_kvm_attached(const struct esxmem_vm_info *vm)
{
	return vm && vm->kvm_attached;
}

/* The group of attributes (ESXMEM_VM_A_FIELDS) that carries each value. */
static const uint8_t vm_value_fields[ESXMEM_VM_NR_VALUES] = {
	[ESXMEM_VM_OWNER_PID]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_DOMAIN]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_SHARES]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_FLAGS]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_MAPPINGS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_KVM_PID]		= ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_SLOTS,
	[ESXMEM_VM_MIN_PAGES]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_MAX_PAGES]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_TARGET_PAGES]	= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_SIZE_PAGES]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_CONSUMED_PAGES]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_FAULTS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_COW_BREAKS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_FAULT_WAITS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_FAULT_WAIT_TIMEOUTS]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_PAGES_SCANNED]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_FULL_SCANS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_HINTS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_SCAN_NS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_ACTIVE_LAST_PPM]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_ACTIVE_SLOW_PPM]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_ACTIVE_FAST_PPM]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_ACTIVE_PARTIAL_PPM]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_ACTIVE_PPM]		= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_SAMPLE_FAULTS]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_SAMPLE_PERIODS]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_SWAP_SLOTS]		= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_SWAP_TARGET_PAGES]	= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_COMPRESS_MAX_PAGES]	= ESXMEM_VM_FIELDS_CONFIG,
	[ESXMEM_VM_SWAP_OUTS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_SWAP_INS]		= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_SWAP_ERRORS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_COMPRESS_OUTS]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_COMPRESS_INS]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_COMPRESS_REJECTS]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_RECLAIM_SKIPPED]	= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_LOW_WAITS]		= ESXMEM_VM_FIELDS_COUNTERS,
	[ESXMEM_VM_PMAP_BYTES]		= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_FRAME_TABLE_BYTES]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_OVERHEAD_BYTES]	= ESXMEM_VM_FIELDS_USAGE,
	/* From the states (USAGE); ACTIVE_PAGES with the size (CONFIG) too. */
	[ESXMEM_VM_GRANTED_PAGES]	= ESXMEM_VM_FIELDS_USAGE,
	[ESXMEM_VM_ACTIVE_PAGES]	= ESXMEM_VM_FIELDS_USAGE,
};
_Static_assert(ESXMEM_VM_NR_VALUES == ESXMEM_VM_ACTIVE_PAGES + 1,
	       "a VM value without its group of attributes");

ESXMEM_EXPORT int esxmem_vm_value_get(const struct esxmem_vm_info *vm,
				      unsigned int what, uint64_t *value)
{
	if (!vm || !value)
		return -EINVAL;
	if (what == 0 || what >= ESXMEM_VM_NR_VALUES)
		return -ERANGE;
	if (!(vm->fields & vm_value_fields[what]))
		return -ENODATA;
	*value = vm->values[what];
	return 0;
}

ESXMEM_EXPORT uint64_t esxmem_vm_value(const struct esxmem_vm_info *vm,
				       unsigned int what)
{
	uint64_t value;

	return esxmem_vm_value_get(vm, what, &value) ? 0 : value;
}

ESXMEM_EXPORT uint64_t esxmem_vm_state_pages(const struct esxmem_vm_info *vm,
					     unsigned int state)
{
	return vm && state < ESXMEM_PAGE_NR_STATES ? vm->state_pages[state] : 0;
}

ESXMEM_EXPORT size_t esxmem_vm_nr_slots(const struct esxmem_vm_info *vm)
{
	return vm ? vm->nr_slots : 0;
}

ESXMEM_EXPORT const struct esxmem_slot_info *esxmem_vm_slot(const struct esxmem_vm_info *vm,
							     size_t i)
{
	return vm && i < vm->nr_slots ? &vm->slots[i] : NULL;
}

ESXMEM_EXPORT uint32_t esxmem_slot_id(const struct esxmem_slot_info *slot)
{
	return slot ? slot->id : 0;
}

ESXMEM_EXPORT uint64_t esxmem_slot_base_gfn(const struct esxmem_slot_info *slot)
{
	return slot ? slot->base_gfn : 0;
}

ESXMEM_EXPORT uint64_t esxmem_slot_npages(const struct esxmem_slot_info *slot)
{
	return slot ? slot->npages : 0;
}

ESXMEM_EXPORT uint64_t esxmem_slot_offset(const struct esxmem_slot_info *slot)
{
	return slot ? slot->offset : 0;
}

void esxmem_vm_info_clear(struct esxmem_vm_info *vm)
{
	free(vm->slots);
	memset(vm, 0, sizeof(*vm));
}

ESXMEM_EXPORT void esxmem_vm_info_free(struct esxmem_vm_info *vm)
{
	if (!vm)
		return;
	free(vm->slots);
	free(vm);
}

ESXMEM_EXPORT void esxmem_vm_list_free(struct esxmem_vm_info **vms, size_t n)
{
	size_t i;

	if (!vms)
		return;
	for (i = 0; i < n; i++)
		esxmem_vm_info_free(vms[i]);
	free(vms);
}

void esxmem_vm_info_take(struct esxmem_vm_info *vm, struct esxmem_vm_info *fresh,
			 uint32_t fields)
{
	unsigned int what;

	for (what = 1; what < ESXMEM_VM_NR_VALUES; what++)
		if (vm_value_fields[what] & fields)
			vm->values[what] = fresh->values[what];
	if (fields & ESXMEM_VM_FIELDS_CONFIG)
		memcpy(vm->name, fresh->name, sizeof(vm->name));
	/* The module tells the VM attached with either group: KVM_PID. */
	if (fields & (ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_SLOTS))
		vm->kvm_attached = fresh->kvm_attached;
	if (fields & ESXMEM_VM_FIELDS_USAGE)
		memcpy(vm->state_pages, fresh->state_pages, sizeof(vm->state_pages));
	if (fields & ESXMEM_VM_FIELDS_SLOTS) {
		free(vm->slots);
		vm->slots = fresh->slots;
		vm->nr_slots = fresh->nr_slots;
		fresh->slots = NULL;
		fresh->nr_slots = 0;
	}
	vm->fields |= fields;
	esxmem_vm_derive_values(vm);
}

void esxmem_vm_info_record(struct esxmem_vm_info *vm,
			   const struct esxmem_vm_settings *s)
{
	uint64_t *v = vm->values;

	if (s->set & ESXMEM_VM_SET_NAME)	/* it fits: checked when sent */
		snprintf(vm->name, sizeof(vm->name), "%s", s->name);
	if (s->set & ESXMEM_VM_SET_DOMAIN)
		v[ESXMEM_VM_DOMAIN] = s->domain;
	if (s->set & ESXMEM_VM_SET_SHARES)
		v[ESXMEM_VM_SHARES] = s->shares;
	if (s->set & ESXMEM_VM_SET_FLAGS)
		v[ESXMEM_VM_FLAGS] = s->flags;
	if (s->set & ESXMEM_VM_SET_MIN_PAGES)
		v[ESXMEM_VM_MIN_PAGES] = s->min_pages;
	if (s->set & ESXMEM_VM_SET_MAX_PAGES)
		v[ESXMEM_VM_MAX_PAGES] = s->max_pages;
	if (s->set & ESXMEM_VM_SET_TARGET_PAGES)
		v[ESXMEM_VM_TARGET_PAGES] = s->target_pages;
	if (s->set & ESXMEM_VM_SET_SWAP_TARGET_PAGES)
		v[ESXMEM_VM_SWAP_TARGET_PAGES] = s->swap_target_pages;
	if (s->set & ESXMEM_VM_SET_COMPRESS_MAX_PAGES)
		v[ESXMEM_VM_COMPRESS_MAX_PAGES] = s->compress_max_pages;
}

/* The pool value of each free-memory state's threshold. */
static const enum esxmem_pool_value permille_value[ESXMEM_STATE_NR] = {
	[ESXMEM_STATE_HIGH]	= ESXMEM_POOL_HIGH_PERMILLE,
	[ESXMEM_STATE_SOFT]	= ESXMEM_POOL_SOFT_PERMILLE,
	[ESXMEM_STATE_HARD]	= ESXMEM_POOL_HARD_PERMILLE,
	[ESXMEM_STATE_LOW]	= ESXMEM_POOL_LOW_PERMILLE,
};
_Static_assert(ESXMEM_STATE_NR == 4, "a free-memory state without a threshold");

ESXMEM_EXPORT int esxmem_pool_value_get(const struct esxmem_pool_info *pool,
					unsigned int what, uint64_t *value)
{
	if (!pool || !value)
		return -EINVAL;
	if (what == 0 || what >= ESXMEM_POOL_NR_VALUES)
		return -ERANGE;
	*value = pool->values[what];
	return 0;
}

ESXMEM_EXPORT uint64_t esxmem_pool_value(const struct esxmem_pool_info *pool,
					 unsigned int what)
{
	uint64_t value;

	return esxmem_pool_value_get(pool, what, &value) ? 0 : value;
}

ESXMEM_EXPORT int64_t esxmem_pool_free_pages(const struct esxmem_pool_info *pool)
{
	return pool ? pool->free_pages : 0;
}

ESXMEM_EXPORT uint32_t esxmem_pool_permille(const struct esxmem_pool_info *pool,
					    unsigned int state)
{
	if (state >= ESXMEM_STATE_NR)
		return 0;
	return (uint32_t)esxmem_pool_value(pool, permille_value[state]);
}

ESXMEM_EXPORT void esxmem_pool_info_free(struct esxmem_pool_info *pool)
{
	free(pool);
}

ESXMEM_EXPORT uint32_t esxmem_event_type(const struct esxmem_event *e)
{
	return e ? e->type : 0;
}

ESXMEM_EXPORT uint32_t esxmem_event_vm_id(const struct esxmem_event *e)
{
	return e ? e->vm_id : 0;
}

ESXMEM_EXPORT uint32_t esxmem_event_owner_pid(const struct esxmem_event *e)
{
	return e ? e->owner_pid : 0;
}

ESXMEM_EXPORT uint32_t esxmem_event_state(const struct esxmem_event *e)
{
	return e ? e->state : 0;
}

ESXMEM_EXPORT int64_t esxmem_event_free_pages(const struct esxmem_event *e)
{
	return e ? e->free_pages : 0;
}
