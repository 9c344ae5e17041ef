// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's policy math (daemon/policy.c) against hand-worked cases and
 * random inputs whose invariants must always hold.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
	/* S = 1000, P = size = 100, f = 0.5, k = 4: 1000 / (50 + 4 * 50). */
	ck_assert_double_eq_tol(policy_rho(1000, 100, 100, 0.5, 0.75), 4, 1e-12);
	/* Active pages are not taxed; f outside [0, 1] is clamped. */
	ck_assert_double_eq_tol(policy_rho(1000, 100, 100, 1, 0.75), 10, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, 100, 5, 0.75), 10, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, 100, -1, 0.75), 2.5, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 100, 100, NAN, 0.75), 10, 1e-12);
	ck_assert(isinf(policy_rho(1000, 0, 100, 0.5, 0.75)));
	/* A = f * size = 50 of a VM of 100 pages allocated 40: all active. */
	ck_assert_double_eq_tol(policy_cost(40, 100, 0.5, 0.75), 40, 1e-12);
	ck_assert_double_eq_tol(policy_cost(60, 100, 0.5, 0.75), 50 + 4 * 10, 1e-12);
	ck_assert_double_eq_tol(policy_rho(1000, 40, 100, 0.5, 0.75), 25, 1e-12);
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
 * (f = 1), one idle (f = 0.1) at tau = 0.75 (k = 4), both of 1000 pages.
 * The idle VM's first A = 100 pages cost 1 each, the rest 4: equal rho
 * means P_active = 100 + 4 * (P_idle - 100), and with 1000 pages
 * P_idle = 1300 / 5 = 260: 740 and 260.
 */
START_TEST(tax_moves_memory_to_active)
{
	struct policy_vm v[2] = { vm(1000, 1000, 1), vm(1000, 1000, 0.1) };

	ck_assert_uint_eq(policy_targets(v, 2, 1000, 0.75), 1000);
	ck_assert_uint_eq(v[0].target_pages, 740);
	ck_assert_uint_eq(v[1].target_pages, 260);
	ck_assert_double_eq_tol(v[0].rho, v[1].rho, v[0].rho * 0.01);
	/* With no tax the same VMs split evenly again. */
	policy_targets(v, 2, 1000, 0);
	ck_assert_uint_eq(v[0].target_pages, 500);
}
END_TEST

/*
 * f is sampled over all of guest RAM: a 16 GiB guest (4 Mi pages) with a
 * 2 GiB working set, all of it hot, has f = 0.125. Its active pages are
 * f * size = 2 GiB, so an allocation of 2 GiB is all active and untaxed:
 * against a 16 GiB guest that is fully active, with equal shares and
 * 4 GiB to hand out, both get 2 GiB. Taxing f of its allocation (the
 * paper's f * P, as if f were sampled over allocated pages) counted it
 * 88% idle: 1 Mi / 4.625 = 221 Ki pages.
 */
START_TEST(hot_working_set_is_not_taxed)
{
	struct policy_vm v[2] = { vm(1000, 4ULL << 20, 0.125), vm(1000, 4ULL << 20, 1) };

	ck_assert_uint_eq(policy_targets(v, 2, 1ULL << 20, 0.75), 1ULL << 20);
	ck_assert_uint_eq(v[0].target_pages, 512ULL << 10);
	ck_assert_uint_eq(v[1].target_pages, 512ULL << 10);
	/*
	 * Beyond its active pages it pays the tax: of 8 GiB, equal rho at
	 * P1 = A + 4 (P0 - A), P0 + P1 = 2 Mi: P0 = 0.7 Mi.
	 */
	ck_assert_uint_eq(policy_targets(v, 2, 2ULL << 20, 0.75), 2ULL << 20);
	ck_assert_uint_le(llabs((long long)v[0].target_pages - 734003), 1);
}
END_TEST

START_TEST(share_ratio_under_overcommit)
{
	struct policy_vm v[3] = { vm(2000, 1000, 1), vm(1000, 1000, 1),
				  vm(1000, 1000, 1) };

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
	/* The active VM's max caps what it would win (740). */
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

/* The bounds, worked out here apart from policy.c's. */
static uint64_t bound_max(const struct policy_vm *v)
{
	return v->max_pages && v->max_pages < v->size_pages ? v->max_pages : v->size_pages;
}

static uint64_t bound_lo(const struct policy_vm *v)
{
	return v->min_pages < bound_max(v) ? v->min_pages : bound_max(v);
}

static uint64_t bound_hi(const struct policy_vm *v)
{
	uint64_t h = bound_max(v);

	if (v->demand_pages && v->demand_pages < h)
		h = v->demand_pages > bound_lo(v) ? v->demand_pages : bound_lo(v);
	return h;
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
			v[i].demand_pages = rnd(&seed) % 3 ? 0 : rnd(&seed) % 1200000;
		}
		for (i = 0; i < n; i++) {
			lo += bound_lo(&v[i]);
			hi += bound_hi(&v[i]);
		}
		avail = rnd(&seed) % (hi + hi / 4 + 1);
		sum = policy_targets(v, n, avail, tax);
		ck_assert_uint_eq(sum, avail < lo ? lo : avail > hi ? hi : avail);
		for (i = 0, sum = 0; i < n; i++) {
			ck_assert_uint_ge(v[i].target_pages, bound_lo(&v[i]));
			ck_assert_uint_le(v[i].target_pages, bound_hi(&v[i]));
			sum += v[i].target_pages;
		}
		ck_assert_uint_eq(sum, avail < lo ? lo : avail > hi ? hi : avail);
		if (avail <= lo || avail >= hi)
			continue;
		/* Revocation takes from the lowest rho: none lower than a free one. */
		for (i = 0; i < n; i++) {
			uint64_t hi_i = bound_hi(&v[i]);

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

/*
 * Demand: what a VM uses plus headroom bounds its target below its max,
 * and what it does not take goes to the VMs that want more. Today's
 * example: an 8 GiB VM using 2 GiB no longer holds 6 GiB out of reach of
 * a VM that is being ballooned.
 */
START_TEST(demand_caps_targets)
{
	struct policy_vm v[2] = { vm(1000, 2ULL << 20, 1), vm(1000, 2ULL << 20, 1) };

	/* 2 GiB in use plus 5% headroom, in 4 KiB pages. */
	v[0].demand_pages = (512ULL << 10) + (2ULL << 20) / 20;
	ck_assert_uint_eq(policy_targets(v, 2, 2ULL << 20, 0.75), 2ULL << 20);
	ck_assert_uint_eq(v[0].target_pages, v[0].demand_pages);
	ck_assert_uint_eq(v[1].target_pages, (2ULL << 20) - v[0].demand_pages);
	/* Plenty: each gets its demand (or max), the rest stays free. */
	v[1].demand_pages = 1000;
	ck_assert_uint_eq(policy_targets(v, 2, 3ULL << 20, 0.75), v[0].demand_pages + 1000);
	ck_assert_uint_eq(v[1].target_pages, 1000);
	/* A min holds whatever the demand. */
	v[1].min_pages = 5000;
	policy_targets(v, 2, 3ULL << 20, 0.75);
	ck_assert_uint_eq(v[1].target_pages, 5000);
	ck_assert_uint_eq(policy_hi_pages(&v[1]), 5000);
	/* A demand above the max: the max. */
	v[1].demand_pages = 3ULL << 20;
	ck_assert_uint_eq(policy_hi_pages(&v[1]), 2ULL << 20);
}
END_TEST

/* The pool less the high state's reserve, shared frames and the zpool. */
START_TEST(hand_out)
{
	ck_assert_uint_eq(policy_hand_out(100000, 6000, 3000, 2000), 89000);
	ck_assert_uint_eq(policy_hand_out(100000, 6000, 0, 0), 94000);
	ck_assert_uint_eq(policy_hand_out(1000, 600, 300, 200), 0);
}
END_TEST

/* Targets move only by more than the deadband, within the bounds. */
START_TEST(deadband)
{
	struct policy_vm v[2] = { vm(1000, 64000, 1), vm(1000, 64000, 1) };

	/* 1/64 of 64000 pages: 1000. */
	ck_assert_uint_eq(policy_deadband_pages(&v[0]), 1000);
	ck_assert_uint_eq(policy_deadband_pages(&(struct policy_vm){ .size_pages = 100 }),
			  POLICY_DEADBAND_MIN_PAGES);
	v[0].current_pages = 40500;
	v[1].current_pages = 39500;
	policy_targets(v, 2, 80000, 0.75);
	ck_assert_uint_eq(v[0].target_pages, 40000);
	/* 500 is not worth it: both stay, and still add up to 80000. */
	ck_assert_uint_eq(policy_deadband(v, 2, 80000, 0.75), 80000);
	ck_assert_uint_eq(v[0].target_pages, 40500);
	ck_assert_uint_eq(v[1].target_pages, 39500);
	/* 1500 is. */
	v[0].current_pages = 41500;
	v[1].current_pages = 38500;
	policy_targets(v, 2, 80000, 0.75);
	policy_deadband(v, 2, 80000, 0.75);
	ck_assert_uint_eq(v[0].target_pages, 40000);
	ck_assert_uint_eq(v[1].target_pages, 40000);
	/* Staying higher must not hand out more than there is. */
	v[0].current_pages = 40500;
	v[1].current_pages = 41500;	/* moves: outside the band */
	policy_targets(v, 2, 80000, 0.75);
	ck_assert_uint_eq(policy_deadband(v, 2, 80000, 0.75), 80000);
	ck_assert_uint_eq(v[0].target_pages, 40000);
	ck_assert_uint_eq(v[1].target_pages, 40000);
	/* A current target outside the bounds moves, however little. */
	v[0].max_pages = 39900;
	v[0].current_pages = 40000;
	v[1].current_pages = 40000;
	policy_targets(v, 2, 80000, 0.75);
	policy_deadband(v, 2, 80000, 0.75);
	ck_assert_uint_eq(v[0].target_pages, 39900);
	ck_assert_uint_eq(v[1].target_pages, 40000);
	ck_assert_double_eq_tol(v[1].rho, 1000.0 / 40000, 1e-12);
}
END_TEST

/* Random deadbands: bounds hold, nothing over avail, moves are worth it. */
START_TEST(deadband_random)
{
	struct policy_vm v[20], fresh[20];
	uint64_t seed = 0xfeedfacecafebeefULL;
	int round;

	for (round = 0; round < 2000; round++) {
		size_t n = 1 + rnd(&seed) % 20, i;
		uint64_t avail = rnd(&seed) % 400000, sum = 0, limit = 0;

		for (i = 0; i < n; i++) {
			v[i] = vm(1 + rnd(&seed) % 1000, 1 + rnd(&seed) % 40000,
				  (double)(rnd(&seed) % 1001) / 1000);
			v[i].min_pages = rnd(&seed) % 4 ? 0 : rnd(&seed) % 10000;
			v[i].demand_pages = rnd(&seed) % 2 ? 0 : rnd(&seed) % 40000;
			v[i].current_pages = rnd(&seed) % 40000;
		}
		policy_targets(v, n, avail, 0.75);
		memcpy(fresh, v, sizeof(v));
		for (i = 0; i < n; i++)
			limit += v[i].target_pages;
		if (limit < avail)
			limit = avail;
		policy_deadband(v, n, avail, 0.75);
		for (i = 0; i < n; i++) {
			ck_assert_uint_ge(v[i].target_pages, bound_lo(&v[i]));
			ck_assert_uint_le(v[i].target_pages, bound_hi(&v[i]));
			ck_assert(v[i].target_pages == fresh[i].target_pages ||
				  v[i].target_pages == v[i].current_pages);
			if (v[i].target_pages != fresh[i].target_pages)
				ck_assert_uint_lt(llabs((long long)v[i].current_pages -
							(long long)fresh[i].target_pages),
						  policy_deadband_pages(&v[i]));
			sum += v[i].target_pages;
		}
		ck_assert_uint_le(sum, limit);
	}
}
END_TEST

/*
 * Refault feedback: pages reclaimed from a VM that came back count as
 * active. Two equal VMs, 20% active by sampling (A = 200); one faulted
 * 200 of its reclaimed pages back (A = 400). At equal rho, 4 P0 - 600 =
 * 4 P1 - 1200 and P0 + P1 = 1000: 425 and 575. Active pages never exceed
 * the VM's size.
 */
START_TEST(refaults_raise_the_target)
{
	struct policy_vm v[2] = { vm(1000, 1000, 0.2), vm(1000, 1000, 0.2) };

	ck_assert_uint_eq(policy_targets(v, 2, 1000, 0.75), 1000);
	ck_assert_uint_eq(v[1].target_pages, 500);
	v[1].refault_pages = 200;
	ck_assert_double_eq_tol(policy_active_pages(&v[1]), 400, 1e-9);
	ck_assert_uint_eq(policy_targets(v, 2, 1000, 0.75), 1000);
	ck_assert_uint_eq(v[0].target_pages, 425);
	ck_assert_uint_eq(v[1].target_pages, 575);
	ck_assert_double_eq_tol(v[0].rho, v[1].rho, v[0].rho * 0.01);
	v[1].refault_pages = 5000;
	ck_assert_double_eq_tol(policy_active_pages(&v[1]), 1000, 1e-9);
}
END_TEST

/* Admission: mins that do not fit are refused, oldest first. */
START_TEST(admission)
{
	uint64_t admitted = 0;

	ck_assert(policy_admit(&admitted, 600, 1000));
	ck_assert(policy_admit(&admitted, 400, 1000));
	ck_assert_uint_eq(admitted, 1000);
	ck_assert(!policy_admit(&admitted, 1, 1000));
	ck_assert(policy_admit(&admitted, 0, 1000));
	ck_assert_uint_eq(admitted, 1000);
	admitted = 10;
	ck_assert(!policy_admit(&admitted, UINT64_MAX - 5, UINT64_MAX));
	ck_assert_uint_eq(admitted, 10);
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
	tcase_add_test(tc, hot_working_set_is_not_taxed);
	tcase_add_test(tc, demand_caps_targets);
	tcase_add_test(tc, hand_out);
	tcase_add_test(tc, deadband);
	tcase_add_test(tc, deadband_random);
	tcase_add_test(tc, admission);
	tcase_add_test(tc, refaults_raise_the_target);
	suite_add_tcase(s, tc);
	return s;
}
