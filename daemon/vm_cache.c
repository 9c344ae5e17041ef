// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the daemon keeps of each VM from one balance to the next, found by
 * the VM's id through a hash table: the VM's place in this balance's list,
 * its identity as its VMM's command line gives it (guest CID, QMP socket),
 * read once per VMM process rather than every balance, the pace of its
 * KVM attachment retries, its stock balloon's state, and the frames its
 * guest's balloon holds that held no memory (balloon.c). With a thousand
 * VMs, a linear scan per lookup or a /proc read per VM and balance is what
 * a balance would spend its time on.
 *
 * The table follows each balance's list (vm_cache_update()): a VM seen for
 * the first time gets a record, a VM whose owner process changed gets its
 * identity read again, and the records of VMs that are gone are dropped,
 * along with their stock balloon's state and any QMP session in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esxmemd.h"
#include "log.h"
#include "libvirt.h"
#include "qmp.h"

/* Fibonacci hashing: ids are small and dense, the table a power of two. */
static size_t slot_of(uint32_t id, size_t cap)
{
	return (size_t)((id * UINT64_C(11400714819323198485)) >> 32) & (cap - 1);
}

struct vm_cache *vm_cache_find(const struct daemon *d, uint32_t id)
{
	size_t i;

	if (!d->vm_cache_cap)
		return NULL;
	for (i = slot_of(id, d->vm_cache_cap); d->vm_cache[i];
	     i = (i + 1) & (d->vm_cache_cap - 1))
		if (d->vm_cache[i]->id == id)
			return d->vm_cache[i];
	return NULL;
}

int vm_index(const struct daemon *d, uint32_t id)
{
	const struct vm_cache *c = vm_cache_find(d, id);

	return c && c->listed ? (int)c->index : -1;
}

static void insert(struct vm_cache **table, size_t cap, struct vm_cache *c)
{
	size_t i;

	for (i = slot_of(c->id, cap); table[i]; i = (i + 1) & (cap - 1))
		;
	table[i] = c;
}

/* The record's identity from its owner's command line, if it can be read now. */
static void read_identity(struct vm_cache *c)
{
	static char cmdline[65536];
	size_t len;

	if (read_cmdline((pid_t)c->pid, cmdline, sizeof(cmdline), &len))
		return;			/* gone or not readable: try next balance */
	c->cid_err = vm_cid_from_cmdline(cmdline, len, &c->cid);
	libvirt_identity(c, cmdline, len);
	c->qmp_path[0] = '\0';
	if (qmp_has_virtio_balloon(cmdline, len) &&
	    qmp_socket_path(cmdline, len, c->qmp_path, sizeof(c->qmp_path)))
		c->qmp_path[0] = '\0';
	c->identity_read = true;
}

static void reset(struct vm_cache *c, uint32_t pid)
{
	c->pid = pid;
	c->identity_read = false;
	c->cid_err = -ENOENT;
	c->qmp_path[0] = '\0';
	c->attach_at = 0;
	c->attach_gap = 0;
	memset(&c->libvirt, 0, sizeof(c->libvirt));
}

int vm_cache_update(struct daemon *d, struct esxmem_vm_info *const *vms, size_t n)
{
	size_t cap = 16, i;
	struct vm_cache **table, *c;

	while (cap < 2 * n)
		cap *= 2;
	table = calloc(cap, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (i = 0; i < d->vm_cache_cap; i++)
		if (d->vm_cache[i])
			d->vm_cache[i]->listed = false;
	for (i = 0; i < n; i++) {
		uint32_t id = esxmem_vm_id(vms[i]);
		uint32_t pid = (uint32_t)esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID);

		c = vm_cache_find(d, id);
		if (!c) {
			c = calloc(1, sizeof(*c));
			if (!c) {
				free(table);
				return -ENOMEM;
			}
			c->id = id;
			reset(c, pid);
			insert(table, cap, c);
		} else {
			if (c->pid != pid) {
				stock_balloon_forget(d, c);
				reset(c, pid);
			}
			c->in_new = true;
		}
		c->listed = true;
		c->index = i;
		if (!c->identity_read && c->pid)
			read_identity(c);
	}
	/* The records of VMs that are gone go, and what hangs on them. */
	for (i = 0; i < d->vm_cache_cap; i++) {
		c = d->vm_cache[i];
		if (!c)
			continue;
		if (c->in_new) {
			c->in_new = false;
			insert(table, cap, c);
			continue;
		}
		log_debug("VM %u is gone: its cached identity and stock balloon state go", c->id);
		stock_balloon_forget(d, c);
		free(c);
	}
	free(d->vm_cache);
	d->vm_cache = table;
	d->vm_cache_cap = cap;
	return 0;
}

void vm_cache_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->vm_cache_cap; i++)
		if (d->vm_cache[i]) {
			stock_balloon_forget(d, d->vm_cache[i]);
			free(d->vm_cache[i]);
		}
	free(d->vm_cache);
	d->vm_cache = NULL;
	d->vm_cache_cap = 0;
}
