// SPDX-License-Identifier: GPL-2.0
/*
 * Guest frame <-> object page translation (kmod/slotmap.c), compiled from
 * the kernel source: x86's usual layout with the PCI hole, aliases,
 * overlaps and overflows refused, and the boundaries of every piece.
 */
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "slotmap.h"

static struct esxmem_slotmap *map_new(unsigned int max)
{
	struct esxmem_slotmap *m = calloc(1, sizeof(*m) + max * sizeof(m->piece[0]));

	ck_assert_ptr_nonnull(m);
	m->max = max;
	return m;
}

static int add(struct esxmem_slotmap *m, u64 gfn, u64 npages, u64 offset)
{
	struct esxmem_slot_piece p = { .id = 0, .base_gfn = gfn, .npages = npages,
				       .offset = offset };

	return esxmem_slotmap_add(m, &p);
}

/* 3 GiB below the PCI hole, the rest of a 4 GiB object above 4 GiB. */
static struct esxmem_slotmap *pc_layout(void)
{
	struct esxmem_slotmap *m = map_new(8);

	/* Added out of order, as KVM's hash walk may give them. */
	ck_assert_int_eq(add(m, 0x100000, 0x40000, 0xc0000), 0);
	ck_assert_int_eq(add(m, 0, 0xc0000, 0), 0);
	return m;
}

START_TEST(gfn_to_offset_across_the_pci_hole)
{
	struct esxmem_slotmap *m = pc_layout();
	u64 off = 0;

	ck_assert_uint_eq(m->piece[0].base_gfn, 0);	/* sorted */
	ck_assert(esxmem_slotmap_gfn_to_offset(m, 0, &off));
	ck_assert_uint_eq(off, 0);
	ck_assert(esxmem_slotmap_gfn_to_offset(m, 0xbffff, &off));
	ck_assert_uint_eq(off, 0xbffff);
	ck_assert(!esxmem_slotmap_gfn_to_offset(m, 0xc0000, &off));	/* hole */
	ck_assert(!esxmem_slotmap_gfn_to_offset(m, 0xfffff, &off));
	ck_assert(esxmem_slotmap_gfn_to_offset(m, 0x100000, &off));
	ck_assert_uint_eq(off, 0xc0000);
	ck_assert(esxmem_slotmap_gfn_to_offset(m, 0x13ffff, &off));
	ck_assert_uint_eq(off, 0xfffff);
	ck_assert(!esxmem_slotmap_gfn_to_offset(m, 0x140000, &off));
	ck_assert(!esxmem_slotmap_gfn_to_offset(m, ~0ULL, &off));
	free(m);
}
END_TEST

START_TEST(offset_to_gfn_and_back)
{
	struct esxmem_slotmap *m = pc_layout();
	u64 gfn, off;

	for (u64 o = 0; o < 0x100000; o += 0x1001) {
		ck_assert(esxmem_slotmap_offset_to_gfn(m, o, &gfn));
		ck_assert(esxmem_slotmap_gfn_to_offset(m, gfn, &off));
		ck_assert_uint_eq(off, o);
	}
	ck_assert(!esxmem_slotmap_offset_to_gfn(m, 0x100000, &gfn));
	free(m);
}
END_TEST

START_TEST(aliases_resolve_to_the_lowest_gfn)
{
	struct esxmem_slotmap *m = map_new(4);
	u64 gfn;

	ck_assert_int_eq(add(m, 0x1000, 16, 0), 0);
	ck_assert_int_eq(add(m, 0x10, 16, 0), 0);	/* same pages again */
	ck_assert(esxmem_slotmap_offset_to_gfn(m, 5, &gfn));
	ck_assert_uint_eq(gfn, 0x15);
	free(m);
}
END_TEST

START_TEST(bad_pieces_are_refused)
{
	struct esxmem_slotmap *m = map_new(3);

	ck_assert_int_eq(add(m, 100, 10, 0), 0);
	ck_assert_int_eq(add(m, 105, 10, 50), -EINVAL);	/* overlaps the end */
	ck_assert_int_eq(add(m, 95, 6, 50), -EINVAL);	/* overlaps the start */
	ck_assert_int_eq(add(m, 0, 0, 0), -EINVAL);	/* empty */
	ck_assert_int_eq(add(m, ~0ULL - 2, 10, 0), -EINVAL);	/* wraps */
	ck_assert_int_eq(add(m, 0, 10, ~0ULL - 2), -EINVAL);
	ck_assert_int_eq(add(m, 110, 1, 20), 0);	/* touching is fine */
	ck_assert_int_eq(add(m, 0, 1, 30), 0);
	ck_assert_int_eq(add(m, 200, 1, 40), -ENOSPC);
	ck_assert_uint_eq(m->nr, 3);
	ck_assert_uint_eq(m->piece[0].base_gfn, 0);
	ck_assert_uint_eq(m->piece[1].base_gfn, 100);
	ck_assert_uint_eq(m->piece[2].base_gfn, 110);
	free(m);
}
END_TEST

START_TEST(empty_map_translates_nothing)
{
	struct esxmem_slotmap *m = map_new(1);
	u64 x;

	ck_assert(!esxmem_slotmap_gfn_to_offset(m, 0, &x));
	ck_assert(!esxmem_slotmap_offset_to_gfn(m, 0, &x));
	free(m);
}
END_TEST

Suite *slotmap_suite(void)
{
	Suite *s = suite_create("slotmap");
	TCase *tc = tcase_create("translate");

	tcase_add_test(tc, gfn_to_offset_across_the_pci_hole);
	tcase_add_test(tc, offset_to_gfn_and_back);
	tcase_add_test(tc, aliases_resolve_to_the_lowest_gfn);
	tcase_add_test(tc, bad_pieces_are_refused);
	tcase_add_test(tc, empty_map_translates_nothing);
	suite_add_tcase(s, tc);
	return s;
}
