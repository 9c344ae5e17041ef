// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's allocation policy: see policy.h.
 *
 * Min-funding revocation ends where every VM that is not held at a bound
 * has the same shares per page rho = lambda, so a VM's allocation is
 *
 *	P_i(lambda) = clamp(S_i / (c_i * lambda), min_i, max_i),
 *	c_i = f_i + k * (1 - f_i),
 *
 * which only shrinks as lambda grows. The targets are P_i at the lambda
 * where they add up to the pages available, found by bisection, then
 * rounded so that the sum is exact and every bound still holds.
 */
#include <math.h>

#include "policy.h"

#define BISECT_STEPS	200

double policy_idle_cost(double tax)
{
	if (!(tax > 0))			/* also NaN */
		tax = 0;
	if (tax > POLICY_TAX_MAX)
		tax = POLICY_TAX_MAX;
	return 1 / (1 - tax);
}

/* f within [0, 1]; unknown counts as fully active, which costs no tax. */
static double clamp_active(double f)
{
	if (isnan(f) || f > 1)
		return 1;
	return f < 0 ? 0 : f;
}

/* Pages of memory cost per allocated page: 1 if active, k if idle. */
static double page_cost(double active, double k)
{
	double f = clamp_active(active);

	return f + k * (1 - f);
}

double policy_rho(uint64_t shares, uint64_t pages, double active, double tax)
{
	if (!pages)
		return INFINITY;
	return (double)shares /
	       ((double)pages * page_cost(active, policy_idle_cost(tax)));
}

static uint64_t hi_pages(const struct policy_vm *vm)
{
	if (!vm->max_pages || vm->max_pages > vm->size_pages)
		return vm->size_pages;
	return vm->max_pages;
}

/* A min above the max (or the size) is held to it: the max wins. */
static uint64_t lo_pages(const struct policy_vm *vm)
{
	uint64_t hi = hi_pages(vm);

	return vm->min_pages < hi ? vm->min_pages : hi;
}

static double alloc_at(const struct policy_vm *vm, double lambda, double k)
{
	double lo = (double)lo_pages(vm), hi = (double)hi_pages(vm), p;

	if (!vm->shares)
		return lo;
	p = (double)vm->shares / (page_cost(vm->active, k) * lambda);
	return p < lo ? lo : p > hi ? hi : p;
}

static double total_at(const struct policy_vm *vms, size_t n, double lambda,
		       double k)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += alloc_at(&vms[i], lambda, k);
	return sum;
}

/* The lambda at which the allocations add up to @avail. */
static double solve_lambda(const struct policy_vm *vms, size_t n,
			   double avail, double k)
{
	double lo = INFINITY, hi = 0, mid;
	size_t i;
	int step;

	/* Between them lie the points where a VM leaves a bound. */
	for (i = 0; i < n; i++) {
		double s = (double)vms[i].shares, c = page_cost(vms[i].active, k);
		double top = (double)hi_pages(&vms[i]);
		double bottom = (double)lo_pages(&vms[i]);

		if (!s || !top)
			continue;
		if (s / (c * top) < lo)
			lo = s / (c * top);
		if (s / (c * (bottom > 1 ? bottom : 1)) > hi)
			hi = s / (c * (bottom > 1 ? bottom : 1));
	}
	if (lo > hi)			/* no VM can move */
		return 1;
	/* Widen until the answer lies between (fractions of a page). */
	for (step = 0; step < 64 && total_at(vms, n, lo, k) < avail; step++)
		lo /= 1024;
	for (step = 0; step < 64 && total_at(vms, n, hi, k) > avail; step++)
		hi *= 1024;
	/* In log space: lambda spans many orders of magnitude. */
	for (step = 0; step < BISECT_STEPS && hi / lo > 1 + 1e-12; step++) {
		mid = sqrt(lo * hi);
		if (total_at(vms, n, mid, k) > avail)
			lo = mid;
		else
			hi = mid;
	}
	return sqrt(lo * hi);
}

static void set_target(struct policy_vm *vm, uint64_t pages, double tax)
{
	vm->target_pages = pages;
	vm->rho = policy_rho(vm->shares, pages, vm->active, tax);
}

uint64_t policy_targets(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			double tax)
{
	double k = policy_idle_cost(tax), lambda, cum = 0;
	uint64_t sum_lo = 0, sum_hi = 0, sum = 0, prev = 0, cur, want;
	size_t i;

	for (i = 0; i < n; i++) {
		sum_lo += lo_pages(&vms[i]);
		sum_hi += hi_pages(&vms[i]);
	}
	if (sum_hi <= avail_pages || sum_lo >= avail_pages) {
		for (i = 0; i < n; i++) {
			want = sum_hi <= avail_pages ? hi_pages(&vms[i]) :
						       lo_pages(&vms[i]);
			set_target(&vms[i], want, tax);
			sum += want;
		}
		return sum;
	}

	lambda = solve_lambda(vms, n, (double)avail_pages, k);
	/*
	 * Round the running total, not each VM: every target is then the
	 * floor or the ceiling of its exact share, so the bounds (whole
	 * numbers) hold, and the rounding errors do not add up.
	 */
	for (i = 0; i < n; i++) {
		cum += alloc_at(&vms[i], lambda, k);
		cur = (uint64_t)floor(cum + 1e-6);
		want = cur - prev;
		if (want < lo_pages(&vms[i]))
			want = lo_pages(&vms[i]);
		if (want > hi_pages(&vms[i]))
			want = hi_pages(&vms[i]);
		set_target(&vms[i], want, tax);
		sum += want;
		prev = cur;
	}
	/* The bisection is exact to about a page: settle what is left. */
	for (i = 0; i < n && sum != avail_pages; i++) {
		struct policy_vm *vm = &vms[i];

		if (sum < avail_pages && vm->target_pages < hi_pages(vm)) {
			want = hi_pages(vm) - vm->target_pages;
			if (want > avail_pages - sum)
				want = avail_pages - sum;
			set_target(vm, vm->target_pages + want, tax);
			sum += want;
		} else if (sum > avail_pages && vm->target_pages > lo_pages(vm)) {
			want = vm->target_pages - lo_pages(vm);
			if (want > sum - avail_pages)
				want = sum - avail_pages;
			set_target(vm, vm->target_pages - want, tax);
			sum -= want;
		}
	}
	return sum;
}
