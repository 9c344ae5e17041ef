// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The module's own reclamation, driven per VM: a swap file for each VM
 * that may swap, the size of its compression cache, and its swap target.
 *
 * The free-memory state chooses the technique (Waldspurger, OSDI 2002,
 * section 6): in high, nothing; in soft, balloons (balloon.c, qmp.c); in
 * hard and low, also compression and swapping down to the VM's target.
 * The module moves between the states with hysteresis and has an
 * emergency path of its own for the hard and low states, so a daemon that
 * is late or gone never leaves the host without reclamation.
 *
 * Swap files are anonymous (O_TMPFILE) in the VM's swap_dir: the module
 * holds the only reference, so a file goes with its VM and nothing is left
 * behind after a crash. They are preallocated to max - min (ESX's .vswp
 * size), so swapping never meets a full filesystem, and opened with
 * O_DIRECT where the filesystem allows, so swapped pages leave host memory.
 * Preallocation takes only what the filesystem has free beyond a reserve
 * (swap_fs_reserve()), so that ten large VMs do not fill /var: a VM whose
 * file is cut short swaps only that much, and the log says what was not
 * allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"

#define SWAP_DIR_DEFAULT	"/var/lib/esxmem/swap"
/* Below this, a swap file is not worth having. */
#define SWAP_MIN_BYTES		(16ULL << 20)

/*
 * What swap files leave free on a filesystem of @size bytes: 5% of it, at
 * least 1 GiB, but never more than half of it.
 */
static uint64_t swap_fs_reserve(uint64_t size)
{
	uint64_t reserve = size / 20;

	if (reserve < (1ULL << 30))
		reserve = 1ULL << 30;
	return reserve < size / 2 ? reserve : size / 2;
}

/* The bytes of @dir's filesystem a swap file may take now, in *@room. */
static int swap_room(const char *dir, uint64_t *room, uint64_t *reserve)
{
	struct statvfs st;
	uint64_t avail;

	if (statvfs(dir, &st))
		return -errno;
	if (!st.f_blocks) {	/* no size to go by (ramfs): as before */
		*room = UINT64_MAX;
		*reserve = 0;
		return 0;
	}
	avail = (uint64_t)st.f_bavail * st.f_frsize;
	*reserve = swap_fs_reserve((uint64_t)st.f_blocks * st.f_frsize);
	*room = avail > *reserve ? avail - *reserve : 0;
	return 0;
}

/* mkdir -p: a fresh host has no /var/lib/esxmem yet. */
static int make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_swap_file(const char *dir, uint64_t bytes)
{
	int fd, err;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | O_DIRECT, 0600);
	if (fd < 0 && errno == EINVAL)	/* no direct I/O here (tmpfs) */
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = posix_fallocate(fd, 0, (off_t)bytes);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

static bool swap_failed_before(struct daemon *d, uint32_t id)
{
	size_t i;

	for (i = 0; i < d->nr_swap_failed; i++)
		if (d->swap_failed[i] == id)
			return true;
	return false;
}

static void remember_swap_failure(struct daemon *d, uint32_t id)
{
	uint32_t *more = realloc(d->swap_failed,
				 (d->nr_swap_failed + 1) * sizeof(*more));

	if (more) {
		d->swap_failed = more;
		d->swap_failed[d->nr_swap_failed++] = id;
	}
}

static void give_swap_file(struct daemon *d, const struct esxmem_vm_info *vm,
			   const struct config_vm *c)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t max = esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES);
	uint64_t size = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES);
	uint64_t min = esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES);
	uint64_t pages;
	const char *dir = c->reclaim.swap_dir[0] ? c->reclaim.swap_dir : SWAP_DIR_DEFAULT;
	uint64_t room = 0, reserve = 0, want;
	int fd, err;

	if (max > size)
		max = size;
	pages = max > min ? max - min : 0;
	want = pages * page;
	if (!pages || swap_failed_before(d, esxmem_vm_id(vm)))
		return;
	fd = make_dirs(dir, 0700);
	if (!fd)
		fd = swap_room(dir, &room, &reserve);
	if (!fd && room < want) {
		if (room < SWAP_MIN_BYTES) {
			log_warn("VM %s: no swap file: it would need %llu MiB (max - min) and %s has %llu MiB free beyond the %llu MiB kept free; it will not swap (free space there, or set reclaim.swap_dir)",
				 esxmem_vm_name(vm), (unsigned long long)(want >> 20), dir,
				 (unsigned long long)(room >> 20), (unsigned long long)(reserve >> 20));
			remember_swap_failure(d, esxmem_vm_id(vm));
			return;
		}
		pages = room / page;
		log_warn("VM %s: swap file of %llu MiB, %llu MiB short of its max - min: %s keeps %llu MiB free; it swaps no more than that (free space there, or set reclaim.swap_dir)",
			 esxmem_vm_name(vm), (unsigned long long)(pages * page >> 20),
			 (unsigned long long)((want - pages * page) >> 20), dir,
			 (unsigned long long)(reserve >> 20));
	}
	if (!fd)
		fd = open_swap_file(dir, pages * page);
	if (fd < 0) {
		log_warn("VM %s: no swap file of %llu MiB in %s: %s; it will not swap (free space there, or set reclaim.swap_dir)",
			 esxmem_vm_name(vm), (unsigned long long)(pages * page >> 20), dir, strerror(-fd));
		remember_swap_failure(d, esxmem_vm_id(vm));
		return;
	}
	err = esxmem_vm_set_swap(d->h, esxmem_vm_id(vm), fd);
	close(fd);
	if (err) {
		log_warn("VM %s: the module refused its swap file: %s %s", esxmem_vm_name(vm),
			 esxmem_strerror(err), esxmem_errmsg(d->h));
		remember_swap_failure(d, esxmem_vm_id(vm));
		return;
	}
	log_info("VM %s: swap file of %llu MiB in %s", esxmem_vm_name(vm),
		 (unsigned long long)(pages * page >> 20), dir);
}

/* The hard and low states compress and swap down to the target. */
uint64_t reclaim_swap_target(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	const struct config_vm *c = vm_settings(d, esxmem_vm_name(vm));

	if (esxmem_pool_value(d->pool, ESXMEM_POOL_STATE) < ESXMEM_STATE_HARD ||
	    (!c->reclaim.compress && !c->reclaim.swap))
		return ESXMEM_NO_TARGET;
	return esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
}

void reclaim_apply(struct daemon *d, struct esxmem_vm_info *vm)
{
	const struct config_vm *c = vm_settings(d, esxmem_vm_name(vm));
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct esxmem_vm_settings s = { 0 };
	int err;

	s.compress_max_pages = !c->reclaim.compress ? 0 :
			       c->reclaim.compress_max_bytes ?
			       c->reclaim.compress_max_bytes / page : ESXMEM_NO_TARGET;
	s.swap_target_pages = reclaim_swap_target(d, vm);
	if (s.compress_max_pages != esxmem_vm_value(vm, ESXMEM_VM_COMPRESS_MAX_PAGES))
		s.set |= ESXMEM_VM_SET_COMPRESS_MAX_PAGES;
	if (s.swap_target_pages != esxmem_vm_value(vm, ESXMEM_VM_SWAP_TARGET_PAGES))
		s.set |= ESXMEM_VM_SET_SWAP_TARGET_PAGES;
	if (s.set) {
		err = esxmem_vm_update(d->h, vm, &s);
		if (err && err != -ENOENT)
			log_warn("VM %s: cannot set its reclamation: %s %s", esxmem_vm_name(vm),
				 esxmem_strerror(err), esxmem_errmsg(d->h));
		else if (!err)
			log_debug("VM %s: swap target %lld, compression cache %lld pages",
				  esxmem_vm_name(vm), s.swap_target_pages == ESXMEM_NO_TARGET ? -1LL :
				  (long long)s.swap_target_pages,
				  s.compress_max_pages == ESXMEM_NO_TARGET ? -1LL :
				  (long long)s.compress_max_pages);
	}
	if (c->reclaim.swap && !esxmem_vm_value(vm, ESXMEM_VM_SWAP_SLOTS) &&
	    esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES))
		give_swap_file(d, vm, c);
}

/* After a reload: VMs whose swap file failed get another chance. */
void reclaim_forget_failures(struct daemon *d)
{
	free(d->swap_failed);
	d->swap_failed = NULL;
	d->nr_swap_failed = 0;
}
