// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One balance: read the pool and every VM, bring new VMs in (discover.c),
 * admit their mins, compute targets by min-funding revocation with the
 * idle tax (policy.c) and set those that changed by more than the
 * deadband.
 *
 * Targets bound what a VM consumes: its private pages. What they hand out
 * is the pool less the frames behind shared pages and the compression
 * cache's pages (charged to no VM) and less the free memory of the high
 * state, so that VMs at their targets leave the pool in the high state and
 * reclamation stops there. Sharing still pays: a VM whose pages are shared
 * consumes that much less of its target.
 *
 * Demand: a VM's target is at most what it uses (its private pages) plus
 * headroom, headroom_percent of its RAM, so that memory a VM does not use
 * goes to VMs that need it, and a VM that uses more gains that much more
 * each balance while memory lasts. Its min holds regardless. Pages
 * reclaimed from it count only once it faults them back (refault
 * feedback, below): those it leaves compressed or swapped it does not use.
 *
 * Refault feedback: pages reclaimed from a VM that it faulted back since
 * the last balance were part of its working set: they count as active
 * (policy.h) and add to its demand, decaying by half each balance once
 * they stop coming back.
 *
 * Admission: VMs' mins must fit in what targets hand out at most (the
 * pool less the high state's free memory). VMs are admitted oldest first;
 * a VM whose min does not fit next to those admitted before it runs with
 * no min, and the daemon says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esxmemd.h"
#include "libvirt.h"
#include "log.h"
#include "policy.h"

#define LIST_TRIES	10
/* Naming and attaching VMs answers guests' balloons every this many VMs. */
#define SERVE_EVERY	64
static uint64_t high_reserve(const struct esxmem_pool_info *pool)
{
	return esxmem_pool_value(pool, ESXMEM_POOL_PAGES) *
	       esxmem_pool_value(pool, ESXMEM_POOL_HIGH_PERMILLE) / 1000;
}

static uint64_t pages_to_hand_out(const struct esxmem_pool_info *pool)
{
	return policy_hand_out(esxmem_pool_value(pool, ESXMEM_POOL_PAGES), high_reserve(pool),
			       module_sysfs_u64("share/pages_shared"),
			       module_sysfs_u64("reclaim/zpool_pages"));
}

static uint64_t demand_pages(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	uint64_t headroom = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) *
			    d->conf.headroom_percent / 100;

	return esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) + (headroom ? headroom : 1);
}

/*
 * Refault feedback: the pages reclaimed from VM @vms[i] (compressed or
 * swapped) that it faulted back since the last balance, and half of what
 * it had then, whichever is more, so that a working set found too small
 * stays larger for a few periods rather than flapping. The lists of this
 * balance and the last are both in id order (the module's): *@last walks
 * the old one along.
 */
static uint64_t swapped_back(const struct esxmem_vm_info *vm)
{
	return esxmem_vm_value(vm, ESXMEM_VM_SWAP_INS) +
	       esxmem_vm_value(vm, ESXMEM_VM_COMPRESS_INS);
}

static uint64_t refaults(const struct daemon *d, const struct esxmem_vm_info *vm,
			 size_t *last)
{
	uint64_t ins = swapped_back(vm), back;
	uint32_t id = esxmem_vm_id(vm);

	while (*last < d->nr_vms && esxmem_vm_id(d->vms[*last]) < id)
		(*last)++;
	if (*last >= d->nr_vms || esxmem_vm_id(d->vms[*last]) != id || !d->refaults)
		return 0;
	back = ins - swapped_back(d->vms[*last]);
	if (ins < swapped_back(d->vms[*last]))
		back = 0;
	return back > d->refaults[*last] / 2 ? back : d->refaults[*last] / 2;
}

static bool has_id(const uint32_t *ids, size_t n, uint32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * Admission control: oldest first (the module lists VMs by id), each VM's
 * configured min joins those admitted if it fits; a VM refused before
 * stays refused until the configuration or the VMs change so that it
 * fits. Refused VMs get a min of 0 in the module; each is logged once.
 */
static void admit(struct daemon *d, struct esxmem_vm_info **vms, size_t n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t avail = esxmem_pool_value(d->pool, ESXMEM_POOL_PAGES) - high_reserve(d->pool);
	uint64_t admitted = 0;
	uint32_t *refused = n ? calloc(n, sizeof(*refused)) : NULL;
	size_t i, nr = 0;

	if (n && !refused)
		return;			/* as before: the next balance tries again */
	for (i = 0; i < n; i++) {
		const struct config_vm *c = vm_settings(d, esxmem_vm_name(vms[i]));
		uint64_t min = c->min_bytes / page, max = c->max_bytes / page;
		uint64_t size = esxmem_vm_value(vms[i], ESXMEM_VM_SIZE_PAGES);
		struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_MIN_PAGES };

		if (!max || max > size)
			max = size;
		if (min > max)
			min = max;
		if (policy_admit(&admitted, min, avail))
			continue;
		refused[nr++] = esxmem_vm_id(vms[i]);
		if (!vm_min_refused(d, esxmem_vm_id(vms[i])))
			log_err("VM %s: its min of %llu MiB is refused: with the mins of the VMs started before it, %llu MiB, it exceeds the %llu MiB the pool can guarantee; it runs with no min (lower its min, e.g. \"esxmemctl set %s min=0\", or grow the pool)",
				esxmem_vm_name(vms[i]), (unsigned long long)(min * page >> 20),
				(unsigned long long)(admitted * page >> 20),
				(unsigned long long)(avail * page >> 20), esxmem_vm_name(vms[i]));
		else if (!esxmem_vm_value(vms[i], ESXMEM_VM_MIN_PAGES))
			continue;
		if (esxmem_vm_value(vms[i], ESXMEM_VM_MIN_PAGES))
			esxmem_vm_update(d->h, vms[i], &s);
	}
	for (i = 0; i < d->nr_min_refused; i++)
		if (!has_id(refused, nr, d->min_refused[i]))
			log_info("VM %u: its min is admitted now", d->min_refused[i]);
	free(d->min_refused);
	d->min_refused = refused;
	d->nr_min_refused = nr;
}

/*
 * What a balance reads of every VM, and what the daemon shows of it: the
 * module leaves out the other counters and the slot maps (which only a
 * new balloon connection needs, and reads for its VM alone), the cheapest
 * read of a thousand VMs. A module older than that refuses to choose
 * (EINVAL): then everything is read.
 */
#define BALANCE_FIELDS	(ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE)

/* With metrics on, the counters they show (fault waits, cow breaks) too. */
static uint32_t balance_fields(const struct daemon *d)
{
	return d->conf.metrics.listen[0] || d->conf.metrics.textfile[0] ?
	       BALANCE_FIELDS | ESXMEM_VM_FIELDS_COUNTERS : BALANCE_FIELDS;
}

static int list_vms(struct daemon *d, struct esxmem_vm_info ***vms, size_t *n)
{
	int err, tries = 0;

	do {
		err = esxmem_vm_list_fields(d->h, balance_fields(d), vms, n);
		if (err == -EINVAL)
			err = esxmem_vm_list(d->h, vms, n);
	} while (err == -EAGAIN && ++tries < LIST_TRIES);
	return err;
}

static void set_target(struct daemon *d, struct esxmem_vm_info *vm,
		       const struct policy_vm *p)
{
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_TARGET_PAGES, .target_pages = p->target_pages,
	};
	uint64_t current = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
	int err;

	log_debug("VM %s: S %llu, size %llu, min %llu, max %llu, demand %llu, f %.3f, refaulted %llu, rho %.3g: target %llu -> %llu pages%s",
		  esxmem_vm_name(vm), (unsigned long long)p->shares,
		  (unsigned long long)p->size_pages, (unsigned long long)p->min_pages,
		  (unsigned long long)p->max_pages, (unsigned long long)p->demand_pages,
		  p->active, (unsigned long long)p->refault_pages, p->rho, (unsigned long long)current,
		  (unsigned long long)p->target_pages,
		  p->target_pages == policy_lo_pages(p) ? " (at min)" :
		  p->target_pages == p->demand_pages ? " (at demand)" :
		  p->target_pages == policy_hi_pages(p) ? " (at max)" : "");
	if (p->target_pages == current)
		return;
	err = esxmem_vm_update(d->h, vm, &s);
	if (err && err != -ENOENT)	/* a VM gone meanwhile is fine */
		log_warn("VM %s: cannot set its target: %s %s", esxmem_vm_name(vm),
			 esxmem_strerror(err), esxmem_errmsg(d->h));
}

/*
 * In the high state balloons give back memory into the free memory above
 * the high threshold: each the same part of what it holds beyond its
 * VM's target, all of it when there is room for all.
 */
static double balloon_give(const struct daemon *d)
{
	uint64_t reserve = high_reserve(d->pool), held = 0, taken, has, target;
	int64_t free_pages = esxmem_pool_free_pages(d->pool);
	size_t i;

	if (esxmem_pool_value(d->pool, ESXMEM_POOL_STATE) != ESXMEM_STATE_HIGH ||
	    free_pages <= (int64_t)reserve)
		return 0;
	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = d->vms[i];

		taken = esxmem_vm_state_pages(vm, ESXMEM_PAGE_BALLOONED) - balloon_empty_pages(d, vm);
		has = esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) + taken;
		target = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
		if (has > target)
			held += has - target < taken ? has - target : taken;
	}
	if (!held)
		return 0;
	if ((uint64_t)free_pages - reserve >= held)
		return 1;
	return (double)((uint64_t)free_pages - reserve) / (double)held;
}

int balance(struct daemon *d)
{
	struct esxmem_vm_info **vms = NULL;
	struct esxmem_pool_info *pool = NULL;
	struct policy_vm *p = NULL;
	double *rho = NULL;
	uint64_t *refault = NULL;
	size_t n = 0, i, last = 0;
	int err;

	if (!d->module_loaded) {
		metrics_publish(d);	/* that the module is away */
		return -ENODEV;		/* nothing to balance until it is back */
	}
	err = esxmem_pool_get(d->h, &pool);
	if (!err)
		err = list_vms(d, &vms, &n);
	if (err) {
		esxmem_pool_info_free(pool);
		log_err("cannot read the module's state: %s", esxmem_strerror(err));
		return err;
	}
	/* Before the VMs' records follow the new list: they still index d->vms. */
	serve_balloons(d);
	esxmem_pool_info_free(d->pool);
	d->pool = pool;
	pool_follow_vmms(d, vms, n);
	if (n) {
		p = calloc(n, sizeof(*p));
		rho = calloc(n, sizeof(*rho));
		refault = calloc(n, sizeof(*refault));
		if (!p || !rho || !refault) {
			free(p);
			free(rho);
			free(refault);
			esxmem_vm_list_free(vms, n);
			return -ENOMEM;
		}
	}
	/* Each VM's record, found by id from here on, follows the new list. */
	err = vm_cache_update(d, vms, n);
	if (err) {
		free(p);
		free(rho);
		free(refault);
		esxmem_vm_list_free(vms, n);
		return err;
	}
	for (i = 0; i < n; i++)
		refault[i] = refaults(d, vms[i], &last);
	/*
	 * The new list is the daemon's view from here on, as the records
	 * are: guests' balloons can be answered between VMs. The last
	 * balance's rho, by the old list's index, goes until this one's.
	 */
	esxmem_vm_list_free(d->vms, d->nr_vms);
	free(d->rho);
	free(d->refaults);
	d->vms = vms;
	d->nr_vms = n;
	d->rho = NULL;
	d->refaults = refault;
	for (i = 0; i < n; i++) {
		discover_vm(d, vms[i], vms, n, vm_cache_find(d, esxmem_vm_id(vms[i])));
		if (i % SERVE_EVERY == SERVE_EVERY - 1)
			serve_balloons(d);
	}
	admit(d, vms, n);
	for (i = 0; i < n; i++) {
		const struct esxmem_vm_info *vm = vms[i];

		p[i] = (struct policy_vm){
			.shares = esxmem_vm_value(vm, ESXMEM_VM_SHARES),
			.min_pages = esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES),
			.max_pages = esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES),
			.size_pages = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES),
			.demand_pages = demand_pages(d, vm) + refault[i],
			.current_pages = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES),
			.active = esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_PPM) / 1e6,
			.refault_pages = refault[i],
		};
	}
	d->avail_pages = pages_to_hand_out(d->pool);
	policy_targets(p, n, d->avail_pages, d->conf.tax);
	policy_deadband(p, n, d->avail_pages, d->conf.tax);
	log_debug("balance: %zu VMs, %llu pages to hand out (pool %llu), tax %.2f",
		  n, (unsigned long long)d->avail_pages,
		  (unsigned long long)esxmem_pool_value(d->pool, ESXMEM_POOL_PAGES),
		  d->conf.tax);
	for (i = 0; i < n; i++) {
		set_target(d, vms[i], &p[i]);
		reclaim_apply(d, vms[i]);
		rho[i] = p[i].rho;
	}
	free(p);
	d->rho = rho;
	d->balances++;
	d->balloon_give = balloon_give(d);
	balloon_listen_resume(d);
	stock_balloons(d);
	libvirt_balloons(d);
	metrics_publish(d);
	return 0;
}

int apply_pool_settings(struct daemon *d)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * page;
	struct esxmem_pool_settings s = {
		.set = ESXMEM_POOL_SET_PAGES | ESXMEM_POOL_SET_SAMPLE_SECS |
		       ESXMEM_POOL_SET_SAMPLE_PAGES | ESXMEM_POOL_SET_HIGH_PERMILLE |
		       ESXMEM_POOL_SET_SOFT_PERMILLE | ESXMEM_POOL_SET_HARD_PERMILLE |
		       ESXMEM_POOL_SET_LOW_PERMILLE,
		.sample_secs = d->conf.sample_secs,
		.sample_pages = d->conf.sample_pages,
		.high_permille = d->conf.state_permille[ESXMEM_STATE_HIGH],
		.soft_permille = d->conf.state_permille[ESXMEM_STATE_SOFT],
		.hard_permille = d->conf.state_permille[ESXMEM_STATE_HARD],
		.low_permille = d->conf.state_permille[ESXMEM_STATE_LOW],
	};
	int err;

	s.pages = pool_pages_for(&d->conf, ram, vmm_overhead_bytes(d->vms, d->nr_vms), page);
	err = esxmem_pool_set(d->h, &s);
	if (err) {
		log_err("cannot configure the pool (%llu pages): %s %s",
			(unsigned long long)s.pages, esxmem_strerror(err),
			esxmem_errmsg(d->h));
		return err;
	}
	d->pool_pages_set = s.pages;
	log_info("pool: %llu pages of %llu bytes; sampling %u pages every %u s",
		 (unsigned long long)s.pages, (unsigned long long)page,
		 s.sample_pages, s.sample_secs);
	return 0;
}
