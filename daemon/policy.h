/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * esxmemd's allocation policy (Waldspurger, OSDI 2002, §5 and §6): pure
 * functions, no I/O, no allocation, no global state, so that the unit
 * tests reach every case and the bench can time them alone.
 *
 * Shares per page with the idle memory tax:
 *
 *	rho = S / (P * (f + k * (1 - f))),   k = 1 / (1 - tau)
 *
 * S the VM's shares, P the pages it is allocated, f the fraction of them
 * that is active, tau the tax rate. Min-funding revocation takes memory
 * from the VM with the lowest rho first, so in the end every VM that is
 * not at its min or max has the same rho.
 */
#ifndef ESXMEMD_POLICY_H
#define ESXMEMD_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* The tax rate is clamped to [0, POLICY_TAX_MAX]: tau = 1 makes k infinite. */
#define POLICY_TAX_MAX		0.99
#define POLICY_TAX_DEFAULT	0.75

/* One VM as the policy sees it. */
struct policy_vm {
	/* in */
	uint64_t shares;	/* S; 0 allowed: such a VM gets its min */
	uint64_t min_pages;	/* never allocated less ... */
	uint64_t max_pages;	/* ... nor more; clamped to size_pages */
	uint64_t size_pages;	/* the guest's RAM: the most it can use */
	double active;		/* f; NaN or outside [0, 1] is clamped,
				 * NaN counts as 1 (fully active) */
	/* out */
	uint64_t target_pages;	/* min <= target <= max */
	double rho;		/* shares per page at the target */
};

/* k = 1 / (1 - tau), with tau clamped as above. */
double policy_idle_cost(double tax);

/* rho for these inputs; +infinity when @pages is 0 (nothing to revoke). */
double policy_rho(uint64_t shares, uint64_t pages, double active, double tax);

/*
 * Sets every VM's target_pages and rho so that the targets add up to
 * @avail_pages when that is possible: every VM gets max when the maxes fit,
 * every VM its min when even the mins do not fit (overcommitted beyond the
 * mins; reclamation cannot help), else min-funding revocation with the
 * idle tax. Returns the sum of the targets.
 */
uint64_t policy_targets(struct policy_vm *vms, size_t n, uint64_t avail_pages,
			double tax);

#endif
