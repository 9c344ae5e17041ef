// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What esxmemd exposes to Prometheus: the figures of the last balance,
 * the module's own (libesxmem) and the daemon's (targets, balloon
 * targets), rendered once per balance and published to the HTTP endpoint
 * (metrics_http.c) and the node_exporter textfile (metrics_textfile.c).
 * Every scrape between two balances gets the same text, so the figures
 * of one scrape are from one moment and agree with each other and with
 * "esxmemctl status" (which shows the same balance). Names and units
 * follow Prometheus's conventions: _bytes, _ratio for fractions 0..1,
 * _total for counters, _seconds_total for CPU time. README.md's table of
 * per-VM counters defines the figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"
#include "metrics_text.h"

/* A figure of a VM, in pages unless its unit says otherwise. */
enum vm_unit { PAGES, BYTES, COUNT, RATIO_PPM };

struct vm_metric {
	const char *name;
	const char *type;
	const char *help;
	enum vm_unit unit;
	unsigned int value;		/* enum esxmem_vm_value, or 0: see below */
	int state;			/* enum esxmem_page_state, or -1 */
};

#define VM_VALUE(n, t, u, v, h)	{ "esxmem_vm_" n, t, h, u, v, -1 }
#define VM_STATE(n, s, h)	{ "esxmem_vm_" n, "gauge", h, PAGES, 0, s }

/* In README.md's order; the balloon target, the daemon's, follows. */
static const struct vm_metric vm_metrics[] = {
	VM_VALUE("size_bytes", "gauge", PAGES, ESXMEM_VM_SIZE_PAGES,
		 "Guest RAM: the size of the VM's memory object."),
	VM_VALUE("min_bytes", "gauge", PAGES, ESXMEM_VM_MIN_PAGES,
		 "The VM's min: what its target never goes below."),
	VM_VALUE("max_bytes", "gauge", PAGES, ESXMEM_VM_MAX_PAGES,
		 "The VM's max: what its target never goes above."),
	VM_VALUE("shares", "gauge", COUNT, ESXMEM_VM_SHARES,
		 "The VM's shares: its claim on memory against other VMs'."),
	VM_VALUE("target_bytes", "gauge", PAGES, ESXMEM_VM_TARGET_PAGES,
		 "The VM's target: the most memory it should consume, set by esxmemd each balance."),
	VM_VALUE("granted_bytes", "gauge", PAGES, ESXMEM_VM_GRANTED_PAGES,
		 "Guest memory backed by host memory: private, shared and zero pages."),
	VM_VALUE("consumed_bytes", "gauge", PAGES, ESXMEM_VM_CONSUMED_PAGES,
		 "Host memory charged to the VM: its private pages."),
	VM_VALUE("active_bytes", "gauge", PAGES, ESXMEM_VM_ACTIVE_PAGES,
		 "Guest memory the VM uses, as idle sampling estimates it: active_ratio of its size."),
	VM_VALUE("active_ratio", "gauge", RATIO_PPM, ESXMEM_VM_ACTIVE_PPM,
		 "The fraction of sampled pages the VM touched (the estimate: the largest of the slow and fast averages and the current period)."),
	VM_STATE("shared_bytes", ESXMEM_PAGE_SHARED,
		 "Guest memory on frames shared copy-on-write with other pages (zero pages not included)."),
	VM_STATE("zero_bytes", ESXMEM_PAGE_ZERO,
		 "Guest memory that reads as zeros and maps the zero frame."),
	VM_STATE("ballooned_bytes", ESXMEM_PAGE_BALLOONED,
		 "Guest memory the guest's balloon holds."),
	VM_STATE("compressed_bytes", ESXMEM_PAGE_COMPRESSED,
		 "Guest memory in the VM's compression cache (its pages before compression)."),
	VM_STATE("swapped_bytes", ESXMEM_PAGE_SWAPPED,
		 "Guest memory in the VM's swap file."),
	VM_VALUE("overhead_bytes", "gauge", BYTES, ESXMEM_VM_OVERHEAD_BYTES,
		 "Host memory the module spends on the VM besides its pages: pmap_bytes plus frame_table_bytes."),
	VM_VALUE("pmap_bytes", "gauge", BYTES, ESXMEM_VM_PMAP_BYTES,
		 "The VM's pmap: one entry per guest page."),
	VM_VALUE("frame_table_bytes", "gauge", BYTES, ESXMEM_VM_FRAME_TABLE_BYTES,
		 "The VM's part of the sharing frame table, in proportion to its guest pages."),
	VM_VALUE("fault_waits_total", "counter", COUNT, ESXMEM_VM_FAULT_WAITS,
		 "Faults that waited for free memory in the pool."),
	VM_VALUE("swap_ins_total", "counter", COUNT, ESXMEM_VM_SWAP_INS,
		 "Pages read back from the VM's swap file."),
	VM_VALUE("decompressions_total", "counter", COUNT, ESXMEM_VM_COMPRESS_INS,
		 "Pages taken back out of the VM's compression cache."),
	VM_VALUE("cow_breaks_total", "counter", COUNT, ESXMEM_VM_COW_BREAKS,
		 "Writes to shared pages that got a private copy."),
};

static void vm_samples(struct prom *p, const struct daemon *d, const struct vm_metric *m,
		       char (*labels)[160], uint64_t page)
{
	size_t i;

	prom_family(p, m->name, m->type, m->help);
	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = d->vms[i];
		uint64_t v = m->state >= 0 ? esxmem_vm_state_pages(vm, (unsigned int)m->state) :
					     esxmem_vm_value(vm, m->value);

		if (m->unit == PAGES)
			prom_bytes(p, m->name, labels[i], v, page);
		else if (m->unit == RATIO_PPM)
			prom_double(p, m->name, labels[i], v / 1e6);
		else
			prom_u64(p, m->name, labels[i], v);
	}
}

static void vm_families(struct prom *p, const struct daemon *d, uint64_t page)
{
	char (*labels)[160] = d->nr_vms ? calloc(d->nr_vms, sizeof(*labels)) : NULL;
	char id[16];
	size_t i;

	if (d->nr_vms && !labels) {
		p->failed = true;
		return;
	}
	for (i = 0; i < d->nr_vms; i++) {
		snprintf(id, sizeof(id), "%u", esxmem_vm_id(d->vms[i]));
		/* A name fits: 63 bytes, each escaped to at most 2. */
		prom_labels(labels[i], sizeof(labels[i]), "name", esxmem_vm_name(d->vms[i]),
			    "id", id, NULL);
	}
	for (i = 0; i < sizeof(vm_metrics) / sizeof(vm_metrics[0]); i++) {
		vm_samples(p, d, &vm_metrics[i], labels, page);
		if (vm_metrics[i].state == ESXMEM_PAGE_BALLOONED) {
			size_t v;

			prom_family(p, "esxmem_vm_balloon_target_bytes", "gauge",
				    "What esxmemd asks the VM's balloon to hold.");
			for (v = 0; v < d->nr_vms; v++)
				prom_bytes(p, "esxmem_vm_balloon_target_bytes", labels[v],
					   balloon_target(d, d->vms[v]), page);
		}
	}
	free(labels);
}

static void pool_families(struct prom *p, const struct daemon *d, uint64_t page)
{
	uint64_t pool_pages = esxmem_pool_value(d->pool, ESXMEM_POOL_PAGES);
	uint64_t state = esxmem_pool_value(d->pool, ESXMEM_POOL_STATE);
	uint64_t frames = module_sysfs_u64("share/pages_shared"), on_frames = 0;
	int64_t free_pages = esxmem_pool_free_pages(d->pool);
	char labels[32];
	unsigned int s;
	size_t i;

	prom_family(p, "esxmem_pool_size_bytes", "gauge",
		    "The pool: host memory for guest RAM.");
	prom_bytes(p, "esxmem_pool_size_bytes", NULL, pool_pages, page);
	prom_family(p, "esxmem_pool_used_bytes", "gauge", "Pool memory in use.");
	prom_bytes(p, "esxmem_pool_used_bytes", NULL,
		   esxmem_pool_value(d->pool, ESXMEM_POOL_USED_PAGES), page);
	prom_family(p, "esxmem_pool_free_bytes", "gauge",
		    "Free pool memory; negative when the pool is overdrawn.");
	if (free_pages < 0)
		prom_double(p, "esxmem_pool_free_bytes", NULL, (double)free_pages * (double)page);
	else
		prom_bytes(p, "esxmem_pool_free_bytes", NULL, (uint64_t)free_pages, page);
	prom_family(p, "esxmem_pool_state", "gauge",
		    "The pool's free-memory state: 1 for the current one (high: share only, soft: balloon, hard: compress and swap, low: also hold VMs back).");
	for (s = 0; s < ESXMEM_STATE_NR; s++) {
		prom_labels(labels, sizeof(labels), "state", state_name(s), NULL);
		prom_u64(p, "esxmem_pool_state", labels, s == state);
	}
	prom_family(p, "esxmem_pool_free_threshold_bytes", "gauge",
		    "The free memory below which the pool enters each state.");
	for (s = 0; s < ESXMEM_STATE_NR; s++) {
		prom_labels(labels, sizeof(labels), "state", state_name(s), NULL);
		prom_bytes(p, "esxmem_pool_free_threshold_bytes", labels,
			   pool_pages * esxmem_pool_permille(d->pool, s) / 1000, page);
	}
	/* The sharing scanner. */
	for (i = 0; i < d->nr_vms; i++)
		on_frames += esxmem_vm_state_pages(d->vms[i], ESXMEM_PAGE_SHARED) +
			     esxmem_vm_state_pages(d->vms[i], ESXMEM_PAGE_ZERO);
	prom_family(p, "esxmem_sharing_frames_bytes", "gauge",
		    "The shared frames behind the VMs' shared pages (zero pages map the zero frame, not counted).");
	prom_bytes(p, "esxmem_sharing_frames_bytes", NULL, frames, page);
	prom_family(p, "esxmem_sharing_saved_bytes", "gauge",
		    "Memory that sharing saves: the VMs' shared and zero pages less the shared frames behind them.");
	prom_bytes(p, "esxmem_sharing_saved_bytes", NULL, on_frames > frames ? on_frames - frames : 0,
		   page);
	prom_family(p, "esxmem_sharing_scanner_cpu_seconds_total", "counter",
		    "CPU time the sharing scanner has spent.");
	prom_double(p, "esxmem_sharing_scanner_cpu_seconds_total", NULL,
		    module_sysfs_u64("share/scan_cpu_us") / 1e6);
}

char *metrics_render(const struct daemon *d, size_t *len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	bool have = d->module_loaded && d->pool;
	struct prom p;

	prom_init(&p);
	prom_family(&p, "esxmem_module_loaded", "gauge",
		    "1 while esxmem.ko is loaded; without it no VM or pool figure is shown.");
	prom_u64(&p, "esxmem_module_loaded", NULL, d->module_loaded);
	prom_family(&p, "esxmem_balances_total", "counter",
		    "Balances esxmemd has run: the figures are those of the last.");
	prom_u64(&p, "esxmem_balances_total", NULL, d->balances);
	prom_family(&p, "esxmem_idle_tax_ratio", "gauge",
		    "The idle memory tax: an idle page costs 1/(1-tax) active ones.");
	prom_double(&p, "esxmem_idle_tax_ratio", NULL, d->conf.tax);
	if (have) {
		prom_family(&p, "esxmem_vms", "gauge", "VMs on esxmem.");
		prom_u64(&p, "esxmem_vms", NULL, d->nr_vms);
		pool_families(&p, d, page);
		vm_families(&p, d, page);
	}
	return prom_take(&p, len);
}

void metrics_publish(struct daemon *d)
{
	size_t len;
	char *text;

	if (!d->conf.metrics.listen[0] && !d->conf.metrics.textfile[0])
		return;
	text = metrics_render(d, &len);
	if (!text) {
		log_warn("metrics: out of memory: the last figures stay published");
		return;
	}
	metrics_textfile_write(d, text, len);
	metrics_http_serve(d, text, len);	/* takes it */
}
