// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pool's size when the configuration leaves it to the daemon
 * (pool.size 0): RAM less the host's reserve (config_host_reserve(): 5% of
 * RAM by default, at least 1 GiB) and less what the VMMs use of their own
 * beyond guest RAM: QEMU's heap, device and translation buffers, page
 * tables (RssAnon and VmPTE of /proc/PID/status). Guest RAM on esxmem is a
 * shared mapping of the module's pages and is in neither. That memory
 * comes from the host as guest RAM does, so the pool that guests are
 * given must leave it room, or the host swaps while the pool looks fine.
 *
 * VMMs start, grow and end: each balance sets the pool again when what
 * it should be moved by more than a deadband, as long as the pool is the
 * one the daemon set. A pool changed by hand (sysfs) is left alone until
 * the next reload.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"

/* Moves of the pool smaller than this are not worth making. */
#define DEADBAND_BYTES	(16ULL << 20)

/* RssAnon + VmPTE of process @pid, in bytes; 0 if it is gone. */
static uint64_t vmm_own_bytes(uint32_t pid)
{
	unsigned long long kb, total = 0;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1 ||
		    sscanf(line, "VmPTE: %llu kB", &kb) == 1)
			total += kb;
	fclose(f);
	return total << 10;
}

uint64_t vmm_overhead_bytes(struct esxmem_vm_info *const *vms, size_t n)
{
	uint64_t total = 0;
	size_t i, j;

	for (i = 0; i < n; i++) {
		uint64_t pid = esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID);

		if (!pid)
			continue;
		/* A process with several VMs counts once. */
		for (j = 0; j < i && esxmem_vm_value(vms[j], ESXMEM_VM_OWNER_PID) != pid; j++)
			;
		if (j == i)
			total += vmm_own_bytes((pid_t)pid);
	}
	return total;
}

uint64_t pool_pages_for(const struct config *c, uint64_t ram, uint64_t overhead,
			uint64_t page)
{
	uint64_t base = config_pool_bytes(c, ram);

	if (c->pool_bytes)
		return c->pool_bytes / page;
	/* The VMMs' own memory, up to half of what is left. */
	return (base - (overhead < base / 2 ? overhead : base / 2)) / page;
}

void pool_follow_vmms(struct daemon *d, struct esxmem_vm_info *const *vms, size_t n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * page;
	struct esxmem_pool_settings s = { .set = ESXMEM_POOL_SET_PAGES };
	struct esxmem_pool_info *pool;
	uint64_t overhead, set = d->pool_pages_set, band;
	int err;

	if (d->conf.pool_bytes || !set || esxmem_pool_value(d->pool, ESXMEM_POOL_PAGES) != set)
		return;
	overhead = vmm_overhead_bytes(vms, n);
	s.pages = pool_pages_for(&d->conf, ram, overhead, page);
	band = set / 100 > DEADBAND_BYTES / page ? set / 100 : DEADBAND_BYTES / page;
	if ((s.pages > set ? s.pages - set : set - s.pages) < band)
		return;
	err = esxmem_pool_set(d->h, &s);
	if (err) {
		log_warn("cannot resize the pool to %llu pages for the VMMs' own memory: %s %s",
			 (unsigned long long)s.pages, esxmem_strerror(err), esxmem_errmsg(d->h));
		return;
	}
	log_info("pool: %llu pages: RAM less the host's reserve of %llu MiB and the VMMs' own %llu MiB",
		 (unsigned long long)s.pages,
		 (unsigned long long)(config_host_reserve(&d->conf, ram) >> 20),
		 (unsigned long long)(overhead >> 20));
	d->pool_pages_set = s.pages;
	/* This balance hands out the new pool: read it again. */
	if (!esxmem_pool_get(d->h, &pool)) {
		esxmem_pool_info_free(d->pool);
		d->pool = pool;
	}
}
