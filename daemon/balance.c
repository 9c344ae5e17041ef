// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One balance: read the pool and every VM, bring new VMs in (discover.c),
 * compute targets by min-funding revocation with the idle tax (policy.c)
 * and set those that changed.
 *
 * Targets bound what a VM consumes: its private pages. What they hand out
 * is the pool less the frames behind shared pages (charged to no VM) and
 * less the free memory of the high state, so that VMs at their targets
 * leave the pool in the high state and reclamation stops there. Sharing
 * still pays: a VM whose pages are shared consumes that much less of its
 * target.
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

static uint64_t shared_frames(void)
{
	unsigned long long v = 0;
	FILE *f = fopen(SHARE_FRAMES, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static uint64_t pages_to_hand_out(const struct esxmem_pool_info *pool)
{
	uint64_t reserve = pool->pages * pool->permille[ESXMEM_STATE_HIGH] / 1000;
	uint64_t held = reserve + shared_frames();

	return pool->pages > held ? pool->pages - held : 0;
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

	log_debug("VM %s: S %llu, size %llu, min %llu, max %llu, f %.3f, rho %.3g: target %llu -> %llu pages%s",
		  vm->name, (unsigned long long)p->shares,
		  (unsigned long long)p->size_pages, (unsigned long long)p->min_pages,
		  (unsigned long long)p->max_pages, p->active, p->rho,
		  (unsigned long long)vm->target_pages,
		  (unsigned long long)p->target_pages,
		  p->target_pages == p->min_pages ? " (at min)" :
		  p->target_pages == (p->max_pages ?: p->size_pages) ? " (at max)" : "");
	if (p->target_pages == vm->target_pages)
		return;
	err = esxmem_vm_set(d->h, vm->id, &s);
	if (err && err != -ENOENT)	/* a VM gone meanwhile is fine */
		log_warn("VM %s: cannot set its target: %s %s", vm->name,
			 esxmem_strerror(err), esxmem_errmsg(d->h));
	else if (!err)
		vm->target_pages = p->target_pages;
}

int balance(struct daemon *d)
{
	struct esxmem_vm_info *vms = NULL;
	struct policy_vm *p = NULL;
	double *rho = NULL;
	size_t n = 0, i;
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
		if (!p || !rho) {
			free(p);
			free(rho);
			esxmem_vm_list_free(vms, n);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		discover_vm(d, &vms[i], vms, n);
		p[i] = (struct policy_vm){
			.shares = vms[i].shares, .min_pages = vms[i].min_pages,
			.max_pages = vms[i].max_pages, .size_pages = vms[i].size_pages,
			.active = vms[i].active_ppm / 1e6,
		};
	}
	d->avail_pages = pages_to_hand_out(&d->pool);
	policy_targets(p, n, d->avail_pages, d->conf.tax);
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
	d->vms = vms;
	d->nr_vms = n;
	d->rho = rho;
	d->balances++;
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
