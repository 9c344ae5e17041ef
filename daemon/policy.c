// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's allocation policy: see policy.h.
 *
 * Min-funding revocation ends where every VM that is not held at a bound
 * has the same shares per page rho = lambda, so a VM's allocation is the
 * P at which cost(P) = S / lambda, clamped to its bounds:
 *
 *	P_i(lambda) = clamp(cost_i^-1(S_i / lambda), lo_i, hi_i),
 *	cost_i^-1(c) = c                   when c <= A_i,
 *	               A_i + (c - A_i) / k otherwise,
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

/* A: the VM's active pages, f of all its RAM. */
static double active_pages(uint64_t size_pages, double active)
{
	return clamp_active(active) * (double)size_pages;
}

/* min(A, P) + k * max(0, P - A), in doubles. */
static double cost_of(double pages, double active, double k)
{
	return pages <= active ? pages : active + k * (pages - active);
}

/* The pages whose cost is @cost: cost_of()'s inverse. */
static double pages_of(double cost, double active, double k)
{
	return cost <= active ? cost : active + (cost - active) / k;
}

double policy_active_pages(const struct policy_vm *vm)
{
	double a = active_pages(vm->size_pages, vm->active) + (double)vm->refault_pages;

	return a < (double)vm->size_pages ? a : (double)vm->size_pages;
}

double policy_cost(uint64_t pages, uint64_t size_pages, double active, double tax)
{
	return cost_of((double)pages, active_pages(size_pages, active),
		       policy_idle_cost(tax));
}

double policy_rho(uint64_t shares, uint64_t pages, uint64_t size_pages,
		  double active, double tax)
{
	if (!pages)
		return INFINITY;
	return (double)shares / policy_cost(pages, size_pages, active, tax);
}

uint64_t policy_hand_out(uint64_t pool_pages, uint64_t reserve_pages,
			 uint64_t shared_frames, uint64_t zpool_pages)
{
	uint64_t held = reserve_pages + shared_frames + zpool_pages;

	return pool_pages > held ? pool_pages - held : 0;
}

/* The max, or the size where the max is 0 or above it. */
static uint64_t max_pages(const struct policy_vm *vm)
{
	if (!vm->max_pages || vm->max_pages > vm->size_pages)
		return vm->size_pages;
	return vm->max_pages;
}

uint64_t policy_lo_pages(const struct policy_vm *vm)
{
	uint64_t hi = max_pages(vm);

	return vm->min_pages < hi ? vm->min_pages : hi;
}

/* Demand limits what a VM gets beyond its min, never its min. */
uint64_t policy_hi_pages(const struct policy_vm *vm)
{
	uint64_t hi = max_pages(vm), lo = policy_lo_pages(vm);

	if (vm->demand_pages && vm->demand_pages < hi)
		hi = vm->demand_pages > lo ? vm->demand_pages : lo;
	return hi;
}

static double alloc_at(const struct policy_vm *vm, double lambda, double k)
{
	double lo = (double)policy_lo_pages(vm), hi = (double)policy_hi_pages(vm), p;

	if (!vm->shares)
		return lo;
	p = pages_of((double)vm->shares / lambda, policy_active_pages(vm), k);
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
		double s = (double)vms[i].shares;
		double a = policy_active_pages(&vms[i]);
		double top = (double)policy_hi_pages(&vms[i]);
		double bottom = (double)policy_lo_pages(&vms[i]);

		if (!s || !top)
			continue;
		if (bottom < 1)
			bottom = 1;
		if (s / cost_of(top, a, k) < lo)
			lo = s / cost_of(top, a, k);
		if (s / cost_of(bottom, a, k) > hi)
			hi = s / cost_of(bottom, a, k);
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
	vm->rho = pages ? (double)vm->shares / cost_of((double)pages, policy_active_pages(vm),
						      policy_idle_cost(tax)) : INFINITY;
}

uint64_t policy_targets(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			double tax)
{
	double k = policy_idle_cost(tax), lambda, cum = 0;
	uint64_t sum_lo = 0, sum_hi = 0, sum = 0, prev = 0, cur, want, lo, hi;
	size_t i;

	for (i = 0; i < n; i++) {
		sum_lo += policy_lo_pages(&vms[i]);
		sum_hi += policy_hi_pages(&vms[i]);
	}
	if (sum_hi <= avail_pages || sum_lo >= avail_pages) {
		for (i = 0; i < n; i++) {
			want = sum_hi <= avail_pages ? policy_hi_pages(&vms[i]) :
						       policy_lo_pages(&vms[i]);
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
		lo = policy_lo_pages(&vms[i]);
		hi = policy_hi_pages(&vms[i]);
		cum += alloc_at(&vms[i], lambda, k);
		cur = (uint64_t)floor(cum + 1e-6);
		want = cur - prev;
		if (want < lo)
			want = lo;
		if (want > hi)
			want = hi;
		set_target(&vms[i], want, tax);
		sum += want;
		prev = cur;
	}
	/* The bisection is exact to about a page: settle what is left. */
	for (i = 0; i < n && sum != avail_pages; i++) {
		struct policy_vm *vm = &vms[i];

		lo = policy_lo_pages(vm);
		hi = policy_hi_pages(vm);
		if (sum < avail_pages && vm->target_pages < hi) {
			want = hi - vm->target_pages;
			if (want > avail_pages - sum)
				want = avail_pages - sum;
			set_target(vm, vm->target_pages + want, tax);
			sum += want;
		} else if (sum > avail_pages && vm->target_pages > lo) {
			want = vm->target_pages - lo;
			if (want > sum - avail_pages)
				want = sum - avail_pages;
			set_target(vm, vm->target_pages - want, tax);
			sum -= want;
		}
	}
	return sum;
}

uint64_t policy_deadband_pages(const struct policy_vm *vm)
{
	uint64_t band = vm->size_pages >> POLICY_DEADBAND_SHIFT;

	return band > POLICY_DEADBAND_MIN_PAGES ? band : POLICY_DEADBAND_MIN_PAGES;
}

/* Whether @vm's current target may stay instead of its new one. */
static bool may_stay(const struct policy_vm *vm)
{
	uint64_t cur = vm->current_pages, now = vm->target_pages;
	uint64_t diff = cur > now ? cur - now : now - cur;

	return diff && diff < policy_deadband_pages(vm) &&
	       cur >= policy_lo_pages(vm) && cur <= policy_hi_pages(vm);
}

uint64_t policy_deadband(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			 double tax)
{
	uint64_t sum = 0, limit, sum_new = 0, moved;
	size_t i;

	for (i = 0; i < n; i++)
		sum_new += vms[i].target_pages;
	limit = sum_new > avail_pages ? sum_new : avail_pages;
	/* Those that would stay lower first: they make room for the others. */
	for (i = 0; i < n; i++) {
		if (may_stay(&vms[i]) && vms[i].current_pages < vms[i].target_pages)
			set_target(&vms[i], vms[i].current_pages, tax);
		sum += vms[i].target_pages;
	}
	for (i = 0; i < n; i++) {
		if (!may_stay(&vms[i]) || vms[i].current_pages <= vms[i].target_pages)
			continue;
		moved = vms[i].current_pages - vms[i].target_pages;
		if (sum + moved > limit)
			continue;	/* no room: this one moves after all */
		set_target(&vms[i], vms[i].current_pages, tax);
		sum += moved;
	}
	return sum;
}

bool policy_admit(uint64_t *admitted_pages, uint64_t min_pages, uint64_t avail_pages)
{
	if (min_pages > avail_pages || *admitted_pages > avail_pages - min_pages)
		return false;
	*admitted_pages += min_pages;
	return true;
}
