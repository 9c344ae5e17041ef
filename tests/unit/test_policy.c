// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's policy math (daemon/policy.c) against hand-worked cases and
 * random inputs whose invariants must always hold.
 */
#include <math.h>
#include <stdlib.h>

#include "policy.h"
#include "unit.h"

static struct policy_vm vm(uint64_t shares, uint64_t size, double active)
{
	return (struct policy_vm){ .shares = shares, .size_pages = size,
				   .active = active };
}

START_TEST(idle_cost_and_rho)
{
	ck_assert_double_eq_tol(policy_idle_cost(0), 1, 1e-12);
	ck_assert_double_eq_tol(policy_idle_cost(0.75), 4, 1e-12);
	/* Out of range: clamped, never infinite or negative. */
	ck_assert_double_eq_tol(policy_idle_cost(1), 100, 1e-9);
	ck_assert_double_eq_tol(policy_idle_cost(7), 100, 1e-9);
	ck_assert_double_eq_tol(policy_idle_cost(-3), 1, 1e-12);
	ck_assert_double_eq_tol(policy_idle_cost(NAN), 1, 1e-12);
	/* S = 1000, P = 100, f = 0.5, k = 4: 1000 / (100 * 2.5). */
	ck_assert_double_eq_tol(policy_rho(1000, 100, 0.5, 0.75), 4, 1e-12);
	/* Active pages are not taxed; f outside [0, 1] is clamped. */
	ck_assert_double_eq_tol(policy_rho(1000, 100, 1, 0.75), 10, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, 5, 0.75), 10, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, -1, 0.75), 2.5, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, NAN, 0.75), 10, 1e-12);
	ck_assert(isinf(policy_rho(1000, 0, 0.5, 0.75)));
}
END_TEST

START_TEST(no_tax_splits_evenly)
{
	struct policy_vm v[2] = { vm(1000, 1000, 1), vm(1000, 1000, 0.05) };

	ck_assert_uint_eq(policy_targets(v, 2, 1000, 0), 1000);
	ck_assert_uint_eq(v[0].target_pages, 500);
	ck_assert_uint_eq(v[1].target_pages, 500);
	ck_assert_double_eq_tol(v[0].rho, v[1].rho, 1e-9);
}
END_TEST

/*
 * The paper's two-VM experiment in numbers: equal shares, one VM active
 * (f = 1, c = 1), one idle (f = 0.1, c = 0.1 + 4 * 0.9 = 3.7) at tau =
 * 0.75. Equal rho means P_active = 3.7 * P_idle, and with 1000 pages
 * P_idle = 1000 / 4.7 = 212.77: 787 and 213.
 */
START_TEST(tax_moves_memory_to_active)
{
	struct policy_vm v[2] = { vm(1000, 1000, 1), vm(1000, 1000, 0.1) };

	ck_assert_uint_eq(policy_targets(v, 2, 1000, 0.75), 1000);
	ck_assert_uint_eq(v[0].target_pages, 787);
	ck_assert_uint_eq(v[1].target_pages, 213);
	ck_assert_double_eq_tol(v[0].rho, v[1].rho, v[0].rho * 0.01);
	/* With no tax the same VMs split evenly again. */
	policy_targets(v, 2, 1000, 0);
	ck_assert_uint_eq(v[0].target_pages, 500);
}
END_TEST

START_TEST(share_ratio_under_overcommit)
{
	struct policy_vm v[3] = { vm(2000, 1000, 0.5), vm(1000, 1000, 0.5),
				  vm(1000, 1000, 0.5) };

	/* 2:1:1 of 1200 pages. */
	ck_assert_uint_eq(policy_targets(v, 3, 1200, 0.75), 1200);
	ck_assert_uint_eq(v[0].target_pages, 600);
	ck_assert_uint_eq(v[1].target_pages, 300);
	ck_assert_uint_eq(v[2].target_pages, 300);
}
END_TEST

START_TEST(bounds_hold)
{
	struct policy_vm v[2] = { vm(1000, 1000, 1), vm(1000, 1000, 0.1) };

	/* The idle VM's min holds what the tax would take. */
	v[1].min_pages = 400;
	policy_targets(v, 2, 1000, 0.75);
	ck_assert_uint_eq(v[0].target_pages, 600);
	ck_assert_uint_eq(v[1].target_pages, 400);
	/* The active VM's max caps what it would win. */
	v[1].min_pages = 0;
	v[0].max_pages = 700;
	policy_targets(v, 2, 1000, 0.75);
	ck_assert_uint_eq(v[0].target_pages, 700);
	ck_assert_uint_eq(v[1].target_pages, 300);
	/* Plenty: everyone at max (the size where max is 0). */
	ck_assert_uint_eq(policy_targets(v, 2, 5000, 0.75), 1700);
	ck_assert_uint_eq(v[0].target_pages, 700);
	ck_assert_uint_eq(v[1].target_pages, 1000);
	/* Not even the mins fit: everyone at min. */
	v[0].min_pages = 300;
	v[1].min_pages = 300;
	ck_assert_uint_eq(policy_targets(v, 2, 100, 0.75), 600);
	ck_assert_uint_eq(v[0].target_pages, 300);
	ck_assert_uint_eq(v[1].target_pages, 300);
}
END_TEST

START_TEST(degenerate_inputs)
{
	struct policy_vm v[4] = { vm(0, 1000, 1), vm(1000, 0, 1),
				  vm(1000, 1000, NAN), vm(1000, 1000, -2) };
	struct policy_vm big[2];

	ck_assert_uint_eq(policy_targets(NULL, 0, 1000, 0.75), 0);
	/* Zero shares: min only; zero size: nothing; NaN f: active. */
	v[0].min_pages = 10;
	ck_assert_uint_eq(policy_targets(v, 4, 1000, 0.75), 1000);
	ck_assert_uint_eq(v[0].target_pages, 10);
	ck_assert_uint_eq(v[1].target_pages, 0);
	ck_assert(isinf(v[1].rho));
	/* NaN counts as f = 1 (c = 1), -2 as f = 0 (c = 4): 4:1. */
	ck_assert_uint_eq(v[2].target_pages, 792);
	ck_assert_uint_eq(v[3].target_pages, 198);
	/* A min above the max is held to the max. */
	v[2].min_pages = 900;
	v[2].max_pages = 100;
	policy_targets(v, 4, 1000, 0.75);
	ck_assert_uint_eq(v[2].target_pages, 100);
	/* A tax beyond 0.99 acts as 0.99, not as infinity. */
	policy_targets(v, 4, 1000, 1.0);
	ck_assert_uint_eq(v[2].target_pages, 100);
	ck_assert_uint_eq(v[3].target_pages, 890);
	/* Huge values do not overflow. */
	big[0] = vm(1000000, 1ULL << 40, 1);
	big[1] = big[0];
	ck_assert_uint_eq(policy_targets(big, 2, 1ULL << 40, 0.75), 1ULL << 40);
	ck_assert_uint_le(llabs((long long)big[0].target_pages - (1LL << 39)), 1);
}
END_TEST

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random VMs: bounds always hold, the targets add up to what is
 * available (within the mins and maxes), and VMs away from their bounds
 * end with equal shares per page, give or take a page of rounding.
 */
START_TEST(random_invariants)
{
	static const double odd_f[] = { NAN, -1, 2, 0, 1 };
	struct policy_vm v[40];
	uint64_t seed = 0x1234567890abcdefULL;
	int round;

	for (round = 0; round < 3000; round++) {
		size_t n = 1 + rnd(&seed) % 40, i, j;
		uint64_t lo = 0, hi = 0, avail, sum;
		double tax = (double)(rnd(&seed) % 100) / 100;

		for (i = 0; i < n; i++) {
			v[i] = vm(rnd(&seed) % 8 ? 1 + rnd(&seed) % 100000 : 0,
				  rnd(&seed) % 16 ? 1 + rnd(&seed) % 1000000 : 0,
				  (double)(rnd(&seed) % 1001) / 1000);
			if (rnd(&seed) % 10 == 0)
				v[i].active = odd_f[rnd(&seed) % 5];
			v[i].min_pages = rnd(&seed) % 3 ? rnd(&seed) % 200000 : 0;
			v[i].max_pages = rnd(&seed) % 3 ? rnd(&seed) % 1200000 : 0;
		}
		for (i = 0; i < n; i++) {
			uint64_t h = v[i].max_pages && v[i].max_pages < v[i].size_pages ?
				     v[i].max_pages : v[i].size_pages;

			lo += v[i].min_pages < h ? v[i].min_pages : h;
			hi += h;
		}
		avail = rnd(&seed) % (hi + hi / 4 + 1);
		sum = policy_targets(v, n, avail, tax);
		ck_assert_uint_eq(sum, avail < lo ? lo : avail > hi ? hi : avail);
		for (i = 0, sum = 0; i < n; i++) {
			uint64_t h = v[i].max_pages && v[i].max_pages < v[i].size_pages ?
				     v[i].max_pages : v[i].size_pages;
			uint64_t l = v[i].min_pages < h ? v[i].min_pages : h;

			ck_assert_uint_ge(v[i].target_pages, l);
			ck_assert_uint_le(v[i].target_pages, h);
			sum += v[i].target_pages;
		}
		ck_assert_uint_eq(sum, avail < lo ? lo : avail > hi ? hi : avail);
		if (avail <= lo || avail >= hi)
			continue;
		/* Revocation takes from the lowest rho: none lower than a free one. */
		for (i = 0; i < n; i++) {
			uint64_t hi_i = v[i].max_pages && v[i].max_pages < v[i].size_pages ?
					v[i].max_pages : v[i].size_pages;

			/* A page of rounding off a bound is still at it. */
			if (!v[i].shares || v[i].target_pages < 1000 ||
			    v[i].target_pages + 1 >= hi_i)
				continue;
			for (j = 0; j < n; j++) {
				uint64_t lo_j = v[j].min_pages;

				if (j == i || !v[j].shares || v[j].target_pages <= lo_j + 1 ||
				    v[j].target_pages < 1000)
					continue;
				/*
				 * j could give to i, so revocation took from
				 * j no further than to i's rho.
				 */
				ck_assert_double_le(v[i].rho, v[j].rho * 1.01);
			}
		}
	}
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, idle_cost_and_rho);
	tcase_add_test(tc, no_tax_splits_evenly);
	tcase_add_test(tc, tax_moves_memory_to_active);
	tcase_add_test(tc, share_ratio_under_overcommit);
	tcase_add_test(tc, bounds_hold);
	tcase_add_test(tc, degenerate_inputs);
	tcase_add_test(tc, random_invariants);
	suite_add_tcase(s, tc);
	return s;
}
