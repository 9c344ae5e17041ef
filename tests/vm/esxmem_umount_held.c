// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_umount_held: an esxmemfs mount that goes while the module holds
 * one of its VMs waits for the hold to end; the superblock is never shut
 * down with a VM's inode still held.
 *
 * A VM on esxmemfs has a swap file whose writes cannot complete: the swap
 * file is on ext2 on a loop device, and the loop device's backing file is
 * on a frozen filesystem (ext2 on a RAM disk). Reclaim starts swapping the
 * VM out and its thread blocks in the write, holding the VM. Then the
 * mount is detached (umount -l) and the last file closed:
 *  - the close waits (the superblock's shutdown waits for the hold) and
 *    the kernel never reports "Busy inodes after unmount";
 *  - once the backing filesystem is thawed, the close completes, the VM
 *    is gone, and the swap file holds what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/loop.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

#define PAGES		64u
#define RAMDISK		"/dev/ram0"
#define OUTER		"/tmp/umount-held-outer"
#define INNER		"/tmp/umount-held-inner"
#define FSDIR		"/tmp/umount-held-fs"
#define FIFREEZE	_IOWR('X', 119, int)
#define FITHAW		_IOWR('X', 120, int)

static struct esxmem *nl;
static pid_t main_pid;
static int outer_fd = -1, loop_fd = -1;
static bool frozen;

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	if (frozen)
		ioctl(outer_fd, FITHAW, 0);
	umount2(FSDIR, MNT_DETACH);
	umount(INNER);
	if (loop_fd >= 0)
		ioctl(loop_fd, LOOP_CLR_FD, 0);
	umount(OUTER);
	esx_sysfs_write("reclaim/enabled", "0");
}

static void load_modules(void)
{
	static const char *const mods[][2] = {
		{ "brd", "rd_nr=1 rd_size=32768" }, { "crc16", "" },
		{ "crc32c_generic", "" }, { "mbcache", "" }, { "jbd2", "" }, { "ext4", "" },
		{ "loop", "" },
	};
	char path[128];

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/lib/modules/host/%s.ko", mods[i][0]);
		REQUIRE_OK(esx_load_module(path, mods[i][1]));
	}
	REQUIRE(ESX_WAIT_FOR(!access(RAMDISK, F_OK) && !access("/dev/loop-control", F_OK), 10),
		"%s or /dev/loop-control did not appear", RAMDISK);
}

/* ext2 on the RAM disk (OUTER), a file there as a loop device, ext2 on it (INNER). */
static void mount_stack(void)
{
	char loopdev[32];
	int ctl, n, backing;

	REQUIRE(!system("mke2fs -F " RAMDISK " > /dev/null 2>&1"), "mke2fs " RAMDISK);
	REQUIRE(!mkdir(OUTER, 0700) || errno == EEXIST, "mkdir " OUTER);
	REQUIRE(!mount(RAMDISK, OUTER, "ext2", 0, NULL), "mount outer ext2: %s", strerror(errno));
	outer_fd = open(OUTER, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(outer_fd >= 0, "open " OUTER);

	backing = open(OUTER "/disk", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(backing >= 0, "create the loop device's backing file");
	REQUIRE(!ftruncate(backing, 8 << 20), "size the backing file");
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	REQUIRE(ctl >= 0, "open /dev/loop-control: %s", strerror(errno));
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	REQUIRE(n >= 0, "LOOP_CTL_GET_FREE: %s", strerror(errno));
	close(ctl);
	snprintf(loopdev, sizeof(loopdev), "/dev/loop%d", n);
	REQUIRE(ESX_WAIT_FOR(!access(loopdev, F_OK), 10), "%s did not appear", loopdev);
	loop_fd = open(loopdev, O_RDWR | O_CLOEXEC);
	REQUIRE(loop_fd >= 0, "open %s: %s", loopdev, strerror(errno));
	REQUIRE(!ioctl(loop_fd, LOOP_SET_FD, backing), "LOOP_SET_FD: %s", strerror(errno));
	close(backing);

	char cmd[96];

	snprintf(cmd, sizeof(cmd), "mke2fs -F %s > /dev/null 2>&1", loopdev);
	REQUIRE(!system(cmd), "mke2fs %s", loopdev);
	REQUIRE(!mkdir(INNER, 0700) || errno == EEXIST, "mkdir " INNER);
	REQUIRE(!mount(loopdev, INNER, "ext2", 0, NULL), "mount inner ext2: %s", strerror(errno));
}

/* A swap file for every page, its blocks allocated, opened for direct I/O. */
static int make_swap_file(void)
{
	static char zero[ESX_PAGE];
	int fd = open(INNER "/swap", O_RDWR | O_CREAT | O_CLOEXEC, 0600), dfd;

	REQUIRE(fd >= 0, "create the swap file");
	for (unsigned int i = 0; i < PAGES; i++)
		REQUIRE(write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero), "write");
	REQUIRE(!fsync(fd), "fsync");
	close(fd);
	dfd = open(INNER "/swap", O_RDWR | O_DIRECT | O_CLOEXEC);
	REQUIRE(dfd >= 0, "open the swap file with O_DIRECT: %s", strerror(errno));
	sync();
	return dfd;
}

/* The state letter of @pid ('D': waiting uninterruptibly), '?' if gone. */
static char task_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] ? p[2] : '?';
}

static pid_t find_thread(const char *comm)
{
	char path[300], name[64];
	struct dirent *de;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	while (d && !found && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, comm, strlen(comm)) &&
		    name[strlen(comm)] == '\n')
			found = atoi(de->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static bool kernel_log_has(const char *text)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	bool found;

	if (len <= 0)
		return false;
	buf = calloc(1, (size_t)len + 1);
	REQUIRE(buf, "calloc");
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	found = len > 0 && strstr(buf, text);
	free(buf);
	return found;
}

static bool vm_gone(uint32_t id)
{
	struct esxmem_vm_info *vi;
	int err = esxmem_vm_get(nl, id, &vi);

	if (!err)
		esxmem_vm_info_free(vi);
	return err == -ENOENT;
}

int main(void)
{
	long objects = esx_sysfs_long("objects");
	pid_t reclaimer, closer;
	int fd, swapfd, status, go[2];
	bool closed_early;
	uint32_t id, i;
	char *map;

	main_pid = getpid();
	atexit(restore);
	esx_background_off();
	REQUIRE_OK(esxmem_open(&nl));
	load_modules();
	mount_stack();
	swapfd = make_swap_file();

	REQUIRE(!mkdir(FSDIR, 0700) || errno == EEXIST, "mkdir " FSDIR);
	REQUIRE(!mount("esxmem", FSDIR, "esxmem", 0, NULL), "mount esxmemfs: %s", strerror(errno));
	fd = open(FSDIR "/vm", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "create a VM on esxmemfs: %s", strerror(errno));
	REQUIRE(!ftruncate(fd, PAGES * ESX_PAGE), "size the VM");
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap");
	for (i = 0; i < PAGES; i++)
		memset(map + (size_t)i * ESX_PAGE, (int)(i + 1), ESX_PAGE);
	munmap(map, PAGES * ESX_PAGE);
	id = esx_stats(fd).id;
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	close(swapfd);

	/* Writes to the loop device wait for the thaw from here on. */
	REQUIRE(!syncfs(outer_fd), "syncfs");
	REQUIRE(!ioctl(outer_fd, FIFREEZE, 0), "FIFREEZE: %s", strerror(errno));
	frozen = true;
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	esx_set_reclaim(nl, id, 0, 0);
	reclaimer = find_thread("esxmem_reclaim");
	REQUIRE(reclaimer > 0, "no esxmem_reclaim thread");
	REQUIRE(ESX_WAIT_FOR(task_state(reclaimer) == 'D', 60),
		"reclaim never blocked in the swap write (state %c)", task_state(reclaimer));

	/* The last file of a detached mount: its close shuts the superblock down. */
	REQUIRE(!umount2(FSDIR, MNT_DETACH), "umount -l: %s", strerror(errno));
	REQUIRE(!pipe(go), "pipe");
	closer = fork();
	REQUIRE(closer >= 0, "fork");
	if (closer == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		close(fd);
		_exit(0);
	}
	/* Not the last: the child closes the last one. */
	close(fd);
	close(go[0]);
	REQUIRE(write(go[1], "c", 1) == 1, "write");
	close(go[1]);
	ESX_WAIT_FOR(waitpid(closer, &status, WNOHANG) == closer ||
		     task_state(closer) == 'D', 30);
	closed_early = task_state(closer) != 'D';
	CHECK(!closed_early, "the last close of the mount did not wait for the VM's hold");
	CHECK(!kernel_log_has("Busy inodes"),
	      "the superblock was shut down with the VM's inode held");

	REQUIRE(!ioctl(outer_fd, FITHAW, 0), "FITHAW: %s", strerror(errno));
	frozen = false;
	if (!closed_early)
		CHECK(ESX_WAIT_FOR(waitpid(closer, &status, WNOHANG) == closer, 60),
		      "the close still waits after the thaw");
	CHECK(ESX_WAIT_FOR(vm_gone(id), 30), "VM %u outlives its filesystem", id);
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("objects") == objects, 30),
	      "%ld objects, want %ld", esx_sysfs_long("objects"), objects);
	CHECK(!kernel_log_has("Busy inodes"), "busy inodes after the unmount");
	printf("umount while held: the last close waited for reclaim's hold, then the VM went\n");
	return vmtest_done("esxmem_umount_held");
}
