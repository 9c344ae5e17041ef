/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A program built against an older libesxmem.h, one that knows fewer VM
 * and pool values and a smaller struct esxmem_vm_settings (older.c, built
 * against the copy tests/unit/Makefile.inc makes), as test_libesxmem_abi.c
 * drives it. Only plain types cross this interface: the two sides see
 * different versions of the library's header.
 */
#ifndef ESXMEM_TESTS_UNIT_OLDER_PROGRAM_H
#define ESXMEM_TESTS_UNIT_OLDER_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

struct esxmem_vm_info;
struct esxmem_pool_info;

/* What the older program read from a VM object, by its own names. */
struct older_vm_view {
	unsigned int nr_values;		/* its ESXMEM_VM_NR_VALUES */
	uint64_t values[64];		/* by its ids, [1, nr_values) */
	int get_errors;			/* esxmem_vm_value_get() failures */
	uint32_t id;
	char name[64];
	uint64_t consumed_pages;	/* by name: ESXMEM_VM_CONSUMED_PAGES */
	uint64_t active_ppm;		/* by name: ESXMEM_VM_ACTIVE_PPM */
	uint64_t ballooned_pages;	/* esxmem_vm_state_pages() */
	size_t nr_slots;
	uint64_t last_slot_npages;
};

void older_read_vm(const struct esxmem_vm_info *vm, struct older_vm_view *out);

/* Its pool values, by its ids; returns its ESXMEM_POOL_NR_VALUES. */
unsigned int older_read_pool(const struct esxmem_pool_info *pool, uint64_t *values);

/*
 * Settings as the older program passes them: a struct esxmem_vm_settings
 * of its size, alone in a block of exactly that size (so that ASan sees a
 * read past it), with every bit it knows set. Free with free().
 */
void *older_vm_settings(size_t *size);

/* The same for struct esxmem_pool_settings. */
void *older_pool_settings(size_t *size);

#endif
