// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guests without esxballoon: QEMU's own virtio-balloon, driven over QMP.
 * QEMU frees what the guest's driver gives up with fallocate(PUNCH_HOLE)
 * on the guest's RAM file, which esxmem turns into free machine pages.
 *
 * The balloon holds what the guest's memory size lacks ("actual" of
 * query-balloon); it should hold what balloon_want() says, as esxballoon's
 * would, asked for as the guest memory size to have. One short QMP session
 * per VM and balance, bounded by QMP_TIMEOUT_MS: the daemon has one
 * thread, and a QEMU that hangs must not stop it.
 *
 * The socket a command line names is only trusted if whoever made it
 * (SO_PEERCRED) runs as the same user as the QEMU that names it: a QEMU
 * of one user pointing -qmp at another user's VM's monitor would have the
 * daemon resize that VM's balloon with its own targets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"
#include "qmp.h"

#define QMP_TIMEOUT_MS	1000
/* The share of its memory a balloon may hold, as esxballoon's default. */
#define BALLOON_CAP_PERCENT 65

static struct stock_balloon *stock_of(struct daemon *d, uint32_t id)
{
	struct stock_balloon *more;
	size_t i;

	for (i = 0; i < d->nr_stock; i++)
		if (d->stock[i].vm_id == id)
			return &d->stock[i];
	more = realloc(d->stock, (d->nr_stock + 1) * sizeof(*more));
	if (!more)
		return NULL;
	d->stock = more;
	d->stock[d->nr_stock] = (struct stock_balloon){ .vm_id = id };
	return &d->stock[d->nr_stock++];
}

/* The effective uid of process @pid, from /proc/PID/status. */
static int process_uid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	unsigned long real, effective;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu %lu", &real, &effective) == 2) {
			*uid = (uid_t)effective;
			err = 0;
			break;
		}
	fclose(f);
	return err;
}

/* -EPERM when the QMP socket was made by another user than the VM's QEMU. */
static int check_owner(const struct esxmem_vm_info *vm, const struct qmp *q,
		       const char *path, bool say)
{
	uid_t qemu_uid = (uid_t)-1, peer_uid = (uid_t)-2;
	pid_t peer_pid = 0;
	int err = process_uid((pid_t)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID), &qemu_uid) ?:
		  qmp_peer(q, &peer_uid, &peer_pid);

	if (err)
		return err;
	if (peer_uid == qemu_uid)
		return 0;
	if (say)
		log_warn("VM %s: the QMP socket %s on its command line belongs to uid %u (process %d), not to its QEMU's uid %u (process %u): refused, its virtio-balloon is not driven",
			 esxmem_vm_name(vm), path, (unsigned int)peer_uid, (int)peer_pid,
			 (unsigned int)qemu_uid, (unsigned int)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID));
	return -EPERM;
}

static void drive(struct daemon *d, const struct esxmem_vm_info *vm, const char *path)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ram = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * page, actual = 0, held, want, value;
	struct stock_balloon *sb = stock_of(d, esxmem_vm_id(vm));
	static struct qmp q;
	int err;

	if (!sb)
		return;
	err = qmp_open(&q, path, QMP_TIMEOUT_MS);
	if (!err) {
		err = check_owner(vm, &q, path, sb->last_err != -EPERM);
		if (err)
			qmp_close(&q);
	}
	if (!err)
		err = qmp_balloon_actual(&q, &actual);
	if (!err) {
		held = actual < ram ? (ram - actual) / page : 0;
		want = balloon_want(d, vm, held);
		if (want > esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * BALLOON_CAP_PERCENT / 100)
			want = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * BALLOON_CAP_PERCENT / 100;
		value = ram - want * page;
		if (value != sb->sent) {
			err = qmp_balloon_set(&q, value);
			if (!err) {
				log_debug("VM %s: virtio-balloon to %llu MiB (holds %llu pages, wants %llu)",
					  esxmem_vm_name(vm), (unsigned long long)(value >> 20),
					  (unsigned long long)held, (unsigned long long)want);
				sb->sent = value;
			}
		}
		qmp_close(&q);
	}
	if (err && err != sb->last_err && err != -EPERM)
		log_warn("VM %s: QMP at %s: %s; its virtio-balloon is not driven (check QEMU's -qmp socket)",
			 esxmem_vm_name(vm), path, strerror(-err));
	else if (!err && sb->last_err)
		log_info("VM %s: QMP at %s answers again", esxmem_vm_name(vm), path);
	sb->last_err = err;
}

void stock_balloons(struct daemon *d)
{
	char cmdline[8192], path[108];
	size_t i, len;

	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = d->vms[i];

		if (!esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID) || !vm_settings(d, esxmem_vm_name(vm))->reclaim.balloon ||
		    balloon_has_session(d, esxmem_vm_id(vm)))
			continue;
		if (read_cmdline((pid_t)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID), cmdline, sizeof(cmdline), &len) ||
		    !qmp_has_virtio_balloon(cmdline, len) ||
		    qmp_socket_path(cmdline, len, path, sizeof(path)))
			continue;
		drive(d, vm, path);
	}
}

void stock_balloons_free(struct daemon *d)
{
	free(d->stock);
	d->stock = NULL;
	d->nr_stock = 0;
}
