// SPDX-License-Identifier: GPL-2.0
/*
 * A program built against an older libesxmem.h: this file includes the
 * copy that tests/unit/Makefile.inc makes of libesxmem/libesxmem.h without
 * the newest VM and pool values and without the newest settings fields.
 * It reads objects the current library made, by the names it knows.
 */
#include <stdlib.h>
#include <string.h>

#include "libesxmem_older.h"
#include "older_program.h"

_Static_assert(ESXMEM_VM_NR_VALUES <= 64, "older_vm_view.values too small");

void older_read_vm(const struct esxmem_vm_info *vm, struct older_vm_view *out)
{
	const struct esxmem_slot_info *last;
	unsigned int what;

	memset(out, 0, sizeof(*out));
	out->nr_values = ESXMEM_VM_NR_VALUES;
	for (what = 1; what < ESXMEM_VM_NR_VALUES; what++)
		if (esxmem_vm_value_get(vm, what, &out->values[what]))
			out->get_errors++;
	out->id = esxmem_vm_id(vm);
	strncpy(out->name, esxmem_vm_name(vm), sizeof(out->name) - 1);
	out->consumed_pages = esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES);
	out->active_ppm = esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_PPM);
	out->ballooned_pages = esxmem_vm_state_pages(vm, ESXMEM_PAGE_BALLOONED);
	out->nr_slots = esxmem_vm_nr_slots(vm);
	last = esxmem_vm_slot(vm, out->nr_slots - 1);
	out->last_slot_npages = esxmem_slot_npages(last);
}

unsigned int older_read_pool(const struct esxmem_pool_info *pool, uint64_t *values)
{
	unsigned int what;

	for (what = 1; what < ESXMEM_POOL_NR_VALUES; what++)
		values[what] = esxmem_pool_value(pool, what);
	return ESXMEM_POOL_NR_VALUES;
}

void *older_vm_settings(size_t *size)
{
	struct esxmem_vm_settings *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	*s = (struct esxmem_vm_settings){
		.set = ESXMEM_VM_SET_ALL, .name = "older", .domain = 5,
		.shares = 3000, .flags = 0, .min_pages = 10, .max_pages = 20,
		.target_pages = 15,
	};
	*size = sizeof(*s);
	return s;
}

void *older_pool_settings(size_t *size)
{
	struct esxmem_pool_settings *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	*s = (struct esxmem_pool_settings){
		.set = ESXMEM_POOL_SET_ALL, .pages = 1000, .fault_wait_ms = 7,
		.high_permille = 60, .soft_permille = 40, .hard_permille = 20,
		.low_permille = 10,
	};
	*size = sizeof(*s);
	return s;
}
