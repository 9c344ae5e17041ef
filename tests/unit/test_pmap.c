// SPDX-License-Identifier: GPL-2.0
/* The pmap entry format (kmod/pmap.h): states, flags and payloads. */
#include "unit.h"
#include "pmap.h"

START_TEST(roundtrip_every_state)
{
	for (int s = 0; s < ESXMEM_PAGE_NR_STATES; s++) {
		esxmem_pte_t e = esxmem_pte_make(s, 0x123456789ULL, ESXMEM_PTE_DIRTY);

		ck_assert_int_eq(esxmem_pte_state(e), s);
		ck_assert_uint_eq(esxmem_pte_payload(e), 0x123456789ULL);
		ck_assert(e & ESXMEM_PTE_DIRTY);
		ck_assert(!(e & (ESXMEM_PTE_SAMPLED | ESXMEM_PTE_HELD)));
	}
}
END_TEST

START_TEST(largest_payload_fits)
{
	/* 56 bits of page frame number: far beyond any machine. */
	u64 max = (1ULL << (64 - ESXMEM_PTE_PAYLOAD_SHIFT)) - 1;
	esxmem_pte_t e = esxmem_pte_make(ESXMEM_PAGE_SHARED, max, ESXMEM_PTE_FLAGS);

	ck_assert_uint_eq(esxmem_pte_payload(e), max);
	ck_assert_int_eq(esxmem_pte_state(e), ESXMEM_PAGE_SHARED);
	ck_assert_uint_eq(e & ESXMEM_PTE_FLAGS, ESXMEM_PTE_FLAGS);
}
END_TEST

START_TEST(flags_cannot_corrupt_state)
{
	/* Bits outside the flag mask are dropped, not mixed into the state. */
	esxmem_pte_t e = esxmem_pte_make(ESXMEM_PAGE_ZERO, 0, ~0ULL);

	ck_assert_int_eq(esxmem_pte_state(e), ESXMEM_PAGE_ZERO);
	ck_assert_uint_eq(esxmem_pte_payload(e), 0);
}
END_TEST

START_TEST(only_private_and_shared_have_pages)
{
	for (int s = 0; s < ESXMEM_PAGE_NR_STATES; s++) {
		bool want = s == ESXMEM_PAGE_PRIVATE || s == ESXMEM_PAGE_SHARED;

		ck_assert(esxmem_pte_has_pfn(esxmem_pte_make(s, 1, 0)) == want);
	}
	/* The zero entry is an unbacked page. */
	ck_assert_int_eq(esxmem_pte_state(0), ESXMEM_PAGE_UNBACKED);
	ck_assert_uint_eq(sizeof(esxmem_pte_t), 8);
}
END_TEST

Suite *pmap_suite(void)
{
	Suite *s = suite_create("pmap");
	TCase *tc = tcase_create("entry");

	tcase_add_test(tc, roundtrip_every_state);
	tcase_add_test(tc, largest_payload_fits);
	tcase_add_test(tc, flags_cannot_corrupt_state);
	tcase_add_test(tc, only_private_and_shared_have_pages);
	suite_add_tcase(s, tc);
	return s;
}
