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
#include "log.h"
#include "policy.h"

#define LIST_TRIES	10
#define SHARE_FRAMES	"/sys/kernel/mm/esxmem/share/pages_shared"
#define ZPOOL_PAGES	"/sys/kernel/mm/esxmem/reclaim/zpool_pages"

static uint64_t sysfs_u64(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static uint64_t high_reserve(const struct esxmem_pool_info *pool)
{
	return pool->pages * pool->permille[ESXMEM_STATE_HIGH] / 1000;
}

static uint64_t pages_to_hand_out(const struct esxmem_pool_info *pool)
{
	return policy_hand_out(pool->pages, high_reserve(pool), sysfs_u64(SHARE_FRAMES),
			       sysfs_u64(ZPOOL_PAGES));
}

static uint64_t demand_pages(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	uint64_t headroom = vm->size_pages * d->conf.headroom_percent / 100;

	return vm->consumed_pages + (headroom ? headroom : 1);
}

/*
 * Refault feedback: the pages reclaimed from VM @vms[i] (compressed or
 * swapped) that it faulted back since the last balance, and half of what
 * it had then, whichever is more, so that a working set found too small
 * stays larger for a few periods rather than flapping. The lists of this
 * balance and the last are both in id order (the module's): *@last walks
 * the old one along.
 */
static uint64_t refaults(const struct daemon *d, const struct esxmem_vm_info *vm,
			 size_t *last)
{
	uint64_t ins = vm->swap_ins + vm->compress_ins, back;
	const struct esxmem_vm_info *old;

	while (*last < d->nr_vms && d->vms[*last].id < vm->id)
		(*last)++;
	if (*last >= d->nr_vms || d->vms[*last].id != vm->id || !d->refaults)
		return 0;
	old = &d->vms[*last];
	back = ins - (old->swap_ins + old->compress_ins);
	if (ins < old->swap_ins + old->compress_ins)
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
static void admit(struct daemon *d, struct esxmem_vm_info *vms, size_t n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t avail = d->pool.pages - high_reserve(&d->pool), admitted = 0;
	uint32_t *refused = n ? calloc(n, sizeof(*refused)) : NULL;
	size_t i, nr = 0;

	if (n && !refused)
		return;			/* as before: the next balance tries again */
	for (i = 0; i < n; i++) {
		const struct config_vm *c = vm_settings(d, vms[i].name);
		uint64_t min = c->min_bytes / page, max = c->max_bytes / page;
		struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_MIN_PAGES };

		if (!max || max > vms[i].size_pages)
			max = vms[i].size_pages;
		if (min > max)
			min = max;
		if (policy_admit(&admitted, min, avail))
			continue;
		refused[nr++] = vms[i].id;
		if (!vm_min_refused(d, vms[i].id))
			log_err("VM %s: its min of %llu MiB is refused: with the mins of the VMs started before it, %llu MiB, it exceeds the %llu MiB the pool can guarantee; it runs with no min (lower its min, e.g. \"esxmemctl set %s min=0\", or grow the pool)",
				vms[i].name, (unsigned long long)(min * page >> 20),
				(unsigned long long)(admitted * page >> 20),
				(unsigned long long)(avail * page >> 20), vms[i].name);
		else if (!vms[i].min_pages)
			continue;
		if (vms[i].min_pages && !esxmem_vm_set(d->h, vms[i].id, &s))
			vms[i].min_pages = 0;
	}
	for (i = 0; i < d->nr_min_refused; i++)
		if (!has_id(refused, nr, d->min_refused[i]))
			log_info("VM %u: its min is admitted now", d->min_refused[i]);
	free(d->min_refused);
	d->min_refused = refused;
	d->nr_min_refused = nr;
}

static int list_vms(struct daemon *d, struct esxmem_vm_info **vms, size_t *n)
{
	int err, tries = 0;

	do
		err = esxmem_vm_list(d->h, vms, n);
	while (err == -EAGAIN && ++tries < LIST_TRIES);
	return err;
}

static void set_target(struct daemon *d, struct esxmem_vm_info *vm,
		       const struct policy_vm *p)
{
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_TARGET_PAGES, .target_pages = p->target_pages,
	};
	int err;

	log_debug("VM %s: S %llu, size %llu, min %llu, max %llu, demand %llu, f %.3f, refaulted %llu, rho %.3g: target %llu -> %llu pages%s",
		  vm->name, (unsigned long long)p->shares,
		  (unsigned long long)p->size_pages, (unsigned long long)p->min_pages,
		  (unsigned long long)p->max_pages, (unsigned long long)p->demand_pages,
		  p->active, (unsigned long long)p->refault_pages, p->rho, (unsigned long long)vm->target_pages,
		  (unsigned long long)p->target_pages,
		  p->target_pages == policy_lo_pages(p) ? " (at min)" :
		  p->target_pages == p->demand_pages ? " (at demand)" :
		  p->target_pages == policy_hi_pages(p) ? " (at max)" : "");
	if (p->target_pages == vm->target_pages)
		return;
	err = esxmem_vm_set(d->h, vm->id, &s);
	if (err && err != -ENOENT)	/* a VM gone meanwhile is fine */
		log_warn("VM %s: cannot set its target: %s %s", vm->name,
			 esxmem_strerror(err), esxmem_errmsg(d->h));
	else if (!err)
		vm->target_pages = p->target_pages;
}

/*
 * In the high state balloons give back memory into the free memory above
 * the high threshold: each the same part of what it holds beyond its
 * VM's target, all of it when there is room for all.
 */
static double balloon_give(const struct daemon *d)
{
	uint64_t reserve = high_reserve(&d->pool), held = 0, taken, has;
	size_t i;

	if (d->pool.state != ESXMEM_STATE_HIGH || d->pool.free_pages <= (int64_t)reserve)
		return 0;
	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = &d->vms[i];

		taken = vm->state_pages[ESXMEM_PAGE_BALLOONED] - balloon_empty_pages(d, vm);
		has = vm->consumed_pages + taken;
		if (has > vm->target_pages)
			held += has - vm->target_pages < taken ? has - vm->target_pages : taken;
	}
	if (!held)
		return 0;
	if ((uint64_t)d->pool.free_pages - reserve >= held)
		return 1;
	return (double)((uint64_t)d->pool.free_pages - reserve) / (double)held;
}

int balance(struct daemon *d)
{
	struct esxmem_vm_info *vms = NULL;
	struct policy_vm *p = NULL;
	double *rho = NULL;
	uint64_t *refault = NULL;
	size_t n = 0, i, last = 0;
	int err;

	if (!d->module_loaded)
		return -ENODEV;		/* nothing to balance until it is back */
	err = esxmem_pool_get(d->h, &d->pool);
	if (!err)
		err = list_vms(d, &vms, &n);
	if (err) {
		log_err("cannot read the module's state: %s", esxmem_strerror(err));
		return err;
	}
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
		discover_vm(d, &vms[i], vms, n, vm_cache_find(d, vms[i].id));
	admit(d, vms, n);
	for (i = 0; i < n; i++) {
		refault[i] = refaults(d, &vms[i], &last);
		p[i] = (struct policy_vm){
			.shares = vms[i].shares, .min_pages = vms[i].min_pages,
			.max_pages = vms[i].max_pages, .size_pages = vms[i].size_pages,
			.demand_pages = demand_pages(d, &vms[i]) + refault[i],
			.current_pages = vms[i].target_pages,
			.active = vms[i].active_ppm / 1e6, .refault_pages = refault[i],
		};
	}
	d->avail_pages = pages_to_hand_out(&d->pool);
	policy_targets(p, n, d->avail_pages, d->conf.tax);
	policy_deadband(p, n, d->avail_pages, d->conf.tax);
	log_debug("balance: %zu VMs, %llu pages to hand out (pool %llu), tax %.2f",
		  n, (unsigned long long)d->avail_pages,
		  (unsigned long long)d->pool.pages, d->conf.tax);
	for (i = 0; i < n; i++) {
		set_target(d, &vms[i], &p[i]);
		reclaim_apply(d, &vms[i]);
		rho[i] = p[i].rho;
	}
	free(p);
	esxmem_vm_list_free(d->vms, d->nr_vms);
	free(d->rho);
	free(d->refaults);
	d->vms = vms;
	d->nr_vms = n;
	d->rho = rho;
	d->refaults = refault;
	d->balances++;
	balloon_forget_gone(d);
	d->balloon_give = balloon_give(d);
	balloon_listen_resume(d);
	stock_balloons(d);
	return 0;
}

int apply_pool_settings(struct daemon *d)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * page;
	struct esxmem_pool_settings s = {
		.set = ESXMEM_POOL_SET_PAGES | ESXMEM_POOL_SET_SAMPLE_SECS |
		       ESXMEM_POOL_SET_SAMPLE_PAGES,
		.sample_secs = d->conf.sample_secs,
		.sample_pages = d->conf.sample_pages,
	};
	int state, err;

	s.pages = pool_pages_for(&d->conf, ram, vmm_overhead_bytes(d->vms, d->nr_vms), page);
	for (state = 0; state < ESXMEM_STATE_NR; state++) {
		s.set |= ESXMEM_POOL_SET_PERMILLE(state);
		s.permille[state] = d->conf.state_permille[state];
	}
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
