// SPDX-License-Identifier: GPL-2.0
/*
 * The pool's free-memory state machine (kmod/memstate.c), compiled from the
 * kernel source through the shim headers: thresholds, entry on the way
 * down, hysteresis on the way up, and degenerate inputs.
 */
#include "unit.h"
#include "memstate.h"

#define HIGH ESXMEM_STATE_HIGH
#define SOFT ESXMEM_STATE_SOFT
#define HARD ESXMEM_STATE_HARD
#define LOW  ESXMEM_STATE_LOW

static struct esxmem_thresholds pool10k(void)
{
	struct esxmem_permille p = ESXMEM_PERMILLE_DEFAULT;
	struct esxmem_thresholds t;

	esxmem_thresholds_compute(&t, &p, 10000);
	return t;
}

START_TEST(default_thresholds_are_esx_percentages)
{
	struct esxmem_thresholds t = pool10k();

	ck_assert_uint_eq(t.of[HIGH], 600);
	ck_assert_uint_eq(t.of[SOFT], 400);
	ck_assert_uint_eq(t.of[HARD], 200);
	ck_assert_uint_eq(t.of[LOW], 100);
}
END_TEST

START_TEST(thresholds_round_down_and_do_not_overflow)
{
	struct esxmem_permille p = ESXMEM_PERMILLE_DEFAULT;
	struct esxmem_thresholds t;

	esxmem_thresholds_compute(&t, &p, 12345);
	ck_assert_uint_eq(t.of[HIGH], 740);	/* 740.7 */
	ck_assert_uint_eq(t.of[LOW], 123);	/* 123.45 */
	/* 4 PiB of pages: pages * permille must not wrap. */
	esxmem_thresholds_compute(&t, &p, 1UL << 40);
	ck_assert_uint_eq(t.of[HIGH], (1UL << 40) / 1000 * 60 + (1UL << 40) % 1000 * 60 / 1000);
}
END_TEST

START_TEST(an_exhausted_small_pool_is_low)
{
	struct esxmem_permille p = ESXMEM_PERMILLE_DEFAULT;
	struct esxmem_thresholds t;

	/* 2% of 32 pages rounds to 0: hard and low would never be entered. */
	esxmem_thresholds_compute(&t, &p, 32);
	ck_assert_uint_eq(t.of[LOW], 1);
	ck_assert_uint_eq(t.of[HARD], 2);
	ck_assert_uint_eq(t.of[SOFT], 3);
	ck_assert_uint_eq(t.of[HIGH], 4);
	ck_assert_int_eq(esxmem_state_next(HIGH, 0, &t), LOW);
	ck_assert_int_eq(esxmem_state_next(HIGH, 4, &t), HIGH);
}
END_TEST

START_TEST(permille_validation)
{
	struct esxmem_permille ok = ESXMEM_PERMILLE_DEFAULT;
	struct esxmem_permille p;

	ck_assert(esxmem_permille_valid(&ok));
	p = ok; p.of[HIGH] = 1001;
	ck_assert(!esxmem_permille_valid(&p));
	p = ok; p.of[HIGH] = 1000;
	ck_assert(esxmem_permille_valid(&p));
	p = ok; p.of[SOFT] = p.of[HIGH];
	ck_assert(!esxmem_permille_valid(&p));
	p = ok; p.of[HARD] = p.of[SOFT] + 1;
	ck_assert(!esxmem_permille_valid(&p));
	p = ok; p.of[LOW] = p.of[HARD];
	ck_assert(!esxmem_permille_valid(&p));
	p = ok; p.of[LOW] = 0;
	ck_assert(!esxmem_permille_valid(&p));
}
END_TEST

START_TEST(falling_enters_each_state_below_its_threshold)
{
	struct esxmem_thresholds t = pool10k();

	ck_assert_int_eq(esxmem_state_next(HIGH, 10000, &t), HIGH);
	ck_assert_int_eq(esxmem_state_next(HIGH, 400, &t), HIGH);
	ck_assert_int_eq(esxmem_state_next(HIGH, 399, &t), SOFT);
	ck_assert_int_eq(esxmem_state_next(SOFT, 199, &t), HARD);
	ck_assert_int_eq(esxmem_state_next(HARD, 99, &t), LOW);
	/* A sudden drop skips the states in between. */
	ck_assert_int_eq(esxmem_state_next(HIGH, 50, &t), LOW);
	ck_assert_int_eq(esxmem_state_next(HIGH, 0, &t), LOW);
}
END_TEST

START_TEST(rising_needs_the_threshold_above)
{
	struct esxmem_thresholds t = pool10k();

	/* Soft is left for high only at 6%, not at 4%. */
	ck_assert_int_eq(esxmem_state_next(SOFT, 400, &t), SOFT);
	ck_assert_int_eq(esxmem_state_next(SOFT, 599, &t), SOFT);
	ck_assert_int_eq(esxmem_state_next(SOFT, 600, &t), HIGH);
	ck_assert_int_eq(esxmem_state_next(HARD, 399, &t), HARD);
	ck_assert_int_eq(esxmem_state_next(HARD, 400, &t), SOFT);
	ck_assert_int_eq(esxmem_state_next(LOW, 199, &t), LOW);
	ck_assert_int_eq(esxmem_state_next(LOW, 200, &t), HARD);
	/* A large recovery climbs several states at once. */
	ck_assert_int_eq(esxmem_state_next(LOW, 5000, &t), HIGH);
	ck_assert_int_eq(esxmem_state_next(LOW, 450, &t), SOFT);
}
END_TEST

START_TEST(a_full_cycle_has_no_flapping)
{
	struct esxmem_thresholds t = pool10k();
	enum esxmem_mem_state s = HIGH;
	int changes = 0;
	long free;

	/* Oscillate around the soft threshold: one change in, none after. */
	for (int i = 0; i < 100; i++) {
		enum esxmem_mem_state n;

		free = (i % 2) ? 390 : 410;
		n = esxmem_state_next(s, free, &t);
		changes += n != s;
		s = n;
	}
	ck_assert_int_eq(s, SOFT);
	ck_assert_int_eq(changes, 1);
}
END_TEST

START_TEST(degenerate_inputs)
{
	struct esxmem_thresholds t = pool10k();

	/* The pool shrunk below what is in use. */
	ck_assert_int_eq(esxmem_state_next(HIGH, -5, &t), LOW);
	/* An out-of-range current state counts as high. */
	ck_assert_int_eq(esxmem_state_next((enum esxmem_mem_state)42, 10000, &t), HIGH);
	ck_assert_int_eq(esxmem_state_next((enum esxmem_mem_state)-1, 399, &t), SOFT);
	ck_assert_str_eq(esxmem_state_name(HARD), "hard");
	ck_assert_str_eq(esxmem_state_name((enum esxmem_mem_state)9), "invalid");
}
END_TEST

Suite *memstate_suite(void)
{
	Suite *s = suite_create("memstate");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, default_thresholds_are_esx_percentages);
	tcase_add_test(tc, thresholds_round_down_and_do_not_overflow);
	tcase_add_test(tc, an_exhausted_small_pool_is_low);
	tcase_add_test(tc, permille_validation);
	tcase_add_test(tc, falling_enters_each_state_below_its_threshold);
	tcase_add_test(tc, rising_needs_the_threshold_above);
	tcase_add_test(tc, a_full_cycle_has_no_flapping);
	tcase_add_test(tc, degenerate_inputs);
	suite_add_tcase(s, tc);
	return s;
}
