/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * esxmemd's allocation policy (Waldspurger, OSDI 2002, §5 and §6): pure
 * functions, no I/O, no allocation, no global state, so that the unit
 * tests reach every case and the bench can time them alone.
 *
 * Shares per page with the idle memory tax:
 *
 *	rho = S / cost(P),   cost(P) = min(A, P) + k * max(0, P - A),
 *	A = f * size,        k = 1 / (1 - tau)
 *
 * S the VM's shares, P the pages it is allocated, tau the tax rate, f the
 * fraction of sampled pages the VM touched and size its RAM. The paper
 * writes rho = S / (P * (f + k * (1 - f))), with f the active fraction of
 * the VM's allocated pages; its sampler draws from those pages. esxmem's
 * sampler draws from all of guest RAM, pages the guest never touched
 * included, so f * size is the number of active pages A, and the paper's
 * f * P would count a VM whose whole working set is hot (P = A) as mostly
 * idle whenever P is small against its RAM (a 16 GiB guest with a 2 GiB
 * hot working set: f = 0.125, 88% taxed as idle). Here the first A pages
 * of an allocation cost 1 each and every page beyond them costs k: the
 * same as the paper's when P = size, and no tax on a working set that is
 * fully used.
 *
 * Min-funding revocation takes memory from the VM with the lowest rho
 * first, so in the end every VM that is not at a bound has the same rho.
 * The bounds are the VM's min and its max, and, below the max, its
 * demand: what it uses plus headroom (balance.c), so memory a VM does not
 * use goes to VMs that need it.
 *
 * Refault feedback: pages reclaimed from a VM (compressed or swapped)
 * that it faulted back within the last balance period were part of its
 * working set, which sampling underestimated: they count as active pages,
 * A = min(size, f * size + refaulted), so they are not taxed, and
 * balance.c adds them to the VM's demand. A VM whose reclaimed pages come
 * back quickly gets its target raised by as much.
 */
#ifndef ESXMEMD_POLICY_H
#define ESXMEMD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tax rate is clamped to [0, POLICY_TAX_MAX]: tau = 1 makes k infinite. */
#define POLICY_TAX_MAX		0.99
#define POLICY_TAX_DEFAULT	0.75

/*
 * The deadband: a target moves only when it changes by more than 1/64 of
 * the VM's RAM (1.6%), and at least POLICY_DEADBAND_MIN_PAGES, since every
 * change makes balloons and the module's reclamation move pages.
 */
#define POLICY_DEADBAND_SHIFT		6
#define POLICY_DEADBAND_MIN_PAGES	64

/* One VM as the policy sees it. */
struct policy_vm {
	/* in */
	uint64_t shares;	/* S; 0 allowed: such a VM gets its min */
	uint64_t min_pages;	/* never allocated less ... */
	uint64_t max_pages;	/* ... nor more; clamped to size_pages */
	uint64_t size_pages;	/* the guest's RAM: the most it can use */
	uint64_t demand_pages;	/* what it uses plus headroom: no more
				 * than this above its min; 0: unknown,
				 * no limit */
	uint64_t current_pages;	/* its target now, for the deadband */
	double active;		/* f of all its RAM; NaN or outside [0, 1]
				 * is clamped, NaN counts as 1 */
	uint64_t refault_pages;	/* reclaimed pages it faulted back in the
				 * last period: active too */
	/* out */
	uint64_t target_pages;	/* min <= target <= max */
	double rho;		/* shares per page at the target */
};

/* k = 1 / (1 - tau), with tau clamped as above. */
double policy_idle_cost(double tax);

/*
 * The memory cost of @pages allocated to a VM of @size_pages RAM with
 * active fraction @active: min(A, P) + k * max(0, P - A), A = f * size.
 */
double policy_cost(uint64_t pages, uint64_t size_pages, double active, double tax);

/* A VM's active pages: f * size and what it faulted back, at most its size. */
double policy_active_pages(const struct policy_vm *vm);

/* rho for these inputs; +infinity when @pages is 0 (nothing to revoke). */
double policy_rho(uint64_t shares, uint64_t pages, uint64_t size_pages,
		  double active, double tax);

/*
 * What targets hand out of a pool of @pool_pages: less @reserve_pages
 * (the free memory of the high state) and the pages charged to no VM,
 * @shared_frames behind shared pages and @zpool_pages of the compression
 * cache, so that VMs at their targets leave the pool in the high state.
 */
uint64_t policy_hand_out(uint64_t pool_pages, uint64_t reserve_pages,
			 uint64_t shared_frames, uint64_t zpool_pages);

/* The most a VM may be allocated: its max (or size), and its demand. */
uint64_t policy_hi_pages(const struct policy_vm *vm);
/* The least: its min, held to the max (the max wins). */
uint64_t policy_lo_pages(const struct policy_vm *vm);

/*
 * Sets every VM's target_pages and rho so that the targets add up to
 * @avail_pages when that is possible: every VM gets its upper bound (max
 * or demand) when they all fit, and the rest stays free; every VM its min
 * when even the mins do not fit (overcommitted beyond the mins:
 * reclamation cannot help, and admission control should have refused
 * it); else min-funding revocation with the idle tax. Returns the sum of
 * the targets.
 */
uint64_t policy_targets(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			double tax);

/* The deadband of a VM: the least change of its target worth making. */
uint64_t policy_deadband_pages(const struct policy_vm *vm);

/*
 * After policy_targets(): a VM whose current target lies within its
 * bounds and differs from its new one by less than its deadband keeps
 * the current one, as long as the targets still add up to no more than
 * @avail_pages (or than policy_targets() gave, if that was more): where
 * they would not, targets that would have stayed higher move after all.
 * Returns the sum of the targets.
 */
uint64_t policy_deadband(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			 double tax);

/*
 * Admission control: whether a VM asking for @min_pages fits next to
 * mins that add up to @admitted_pages already, within @avail_pages (what
 * targets may hand out at most). Adds it to *@admitted_pages if so.
 */
bool policy_admit(uint64_t *admitted_pages, uint64_t min_pages, uint64_t avail_pages);

#endif
