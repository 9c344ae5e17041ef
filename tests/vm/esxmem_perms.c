// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_perms: who may change a VM's memory, read its state and give it a
 * swap file.
 *
 *  - user nobody, holding a read-only fd of a root-owned 0644 esxmemfs
 *    file, can neither punch a hole (ESXMEM_IOC_PUNCH_HOLE, fallocate)
 *    nor size an object (ESXMEM_IOC_SET_SIZE, ftruncate, truncate): EBADF
 *    from the ioctls, and the data stays; a read-only fd of /dev/esxmem
 *    likewise, even root's;
 *  - user nobody gets EPERM for GET_VM, the VM dump and SET_SWAP and
 *    cannot join the events group; GET_POOL still answers; esxmemctl
 *    tells nobody to run it as root;
 *  - root without CAP_SYS_ADMIN (but with CAP_NET_ADMIN) reads VMs and
 *    joins the events group, but cannot give a VM a swap file;
 *  - SET_SWAP refuses a directory, a read-only fd, an O_APPEND fd, a file
 *    on esxmemfs, another VM's swap file (the same fd, another open of it
 *    and a hard link), an immutable and an append-only file and the
 *    kernel's own swap file, each with its errno and a message; nothing
 *    changes;
 *  - a swap file on a frozen filesystem (ext2 on a RAM disk, FIFREEZE):
 *    nothing is written to it and nothing waits for it (faults on swapped
 *    pages and GET_VM complete meanwhile, no swap error is counted); the
 *    pages go out once it is thawed (FITHAW), and all read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

/* From <linux/fs.h>, which does not mix with <sys/mount.h>. */
#define FIFREEZE		_IOWR('X', 119, int)
#define FITHAW			_IOWR('X', 120, int)
#define FS_IOC_GETFLAGS		_IOR('f', 1, long)
#define FS_IOC_SETFLAGS		_IOW('f', 2, long)
#define FS_IMMUTABLE_FL		0x00000010
#define FS_APPEND_FL		0x00000020

#define NOBODY		65534
#define FSDIR		"/tmp/perms-esxmemfs"
#define SWAPDIR		"/tmp/perms-swap"
#define EXTDIR		"/tmp/perms-ext2"
#define CTLDIR		"/tmp/perms-ctl"
#define RAMDISK		"/dev/ram0"
#define FILE_PAGES	16u		/* the esxmemfs file: 64 KiB */
#define VM_PAGES	64u
#define FREEZE_PAGES	1024u
#define WORDS		(ESX_PAGE / 8)

static struct esxmem *nl;
static pid_t main_pid;
static int frozen_fd = -1;
/* The files made on esxmemfs, and their objects' ids. */
static const char *const fs_files[] = { FSDIR "/vm", FSDIR "/unsized", FSDIR "/swap" };
static uint32_t fs_ids[3];

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	/* A failed check must not leave the filesystem frozen. */
	if (frozen_fd >= 0)
		ioctl(frozen_fd, FITHAW, 0);
	for (size_t i = 0; i < sizeof(fs_files) / sizeof(fs_files[0]); i++)
		unlink(fs_files[i]);
	umount(FSDIR);
	umount(SWAPDIR);
	umount(EXTDIR);
}

/* Page @i: a random stream (it does not compress) that names the page. */
static void fill(uint64_t *p, uint32_t i)
{
	uint64_t seed = esx_mix(i + 1);

	for (size_t w = 0; w < WORDS; w++)
		p[w] = seed = esx_mix(seed + w);
	p[0] = i;
}

static unsigned int verify(const char *map, unsigned int pages)
{
	static uint64_t want[WORDS];
	unsigned int bad = 0;

	for (uint32_t i = 0; i < pages; i++) {
		fill(want, i);
		if (memcmp(map + (size_t)i * ESX_PAGE, want, ESX_PAGE))
			bad++;
	}
	return bad;
}

static struct esxmem_vm_info *info(uint32_t id)
{
	return esx_vm_info(nl, id);
}

static void set_reclaim(uint32_t id, uint64_t target, uint64_t compress_max)
{
	esx_set_reclaim(nl, id, target, compress_max);
}

static int set_size(int fd, uint64_t bytes)
{
	return ioctl(fd, ESXMEM_IOC_SET_SIZE, &bytes) ? -errno : 0;
}

/* A new /dev/esxmem object of @pages pages. */
static int new_vm(unsigned int pages, uint32_t *id)
{
	int fd = esx_open();

	REQUIRE_OK(set_size(fd, (uint64_t)pages * ESX_PAGE));
	*id = esx_stats(fd).id;
	return fd;
}

/* A file of @pages zeroed pages at @path, open with @flags. */
static int make_file(const char *path, unsigned int pages, int flags)
{
	static const char zeros[ESX_PAGE];
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

	REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
	for (unsigned int i = 0; i < pages; i++)
		REQUIRE(write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros),
			"write %s: %s", path, strerror(errno));
	REQUIRE(!fsync(fd), "fsync %s", path);
	if (flags == O_RDWR)
		return fd;
	close(fd);
	fd = open(path, flags | O_CLOEXEC);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/*
 * Runs @fn in a child: as user nobody, with no capabilities left, when
 * @nobody; else as root without CAP_SYS_ADMIN. Whether it passed.
 */
static bool run_child(int (*fn)(void *), void *arg, bool nobody)
{
	int status;
	pid_t pid;

	/* The child may exit(): nothing buffered is to be written twice. */
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		/* The child counts its own failures. */
		vmtest_failures = 0;
		if (nobody) {
			if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
				_exit(2);
		} else {
			struct __user_cap_header_struct hdr = {
				.version = _LINUX_CAPABILITY_VERSION_3,
			};
			struct __user_cap_data_struct data[2];
			uint32_t bit = 1u << CAP_SYS_ADMIN;

			/* From the bounding set too, so it cannot come back. */
			if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) ||
			    syscall(SYS_capget, &hdr, data))
				_exit(2);
			data[0].effective &= ~bit;
			data[0].permitted &= ~bit;
			data[0].inheritable &= ~bit;
			if (syscall(SYS_capset, &hdr, data))
				_exit(2);
		}
		_exit(fn(arg) ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- read-only fds of memory objects ------------------------------------ */

struct ro_case {
	const char *path;	/* the sized file */
	const char *unsized;	/* a file not sized yet */
};

/* As nobody: a read-only fd may read, but neither free nor size. */
static int nobody_ro_fd(void *arg)
{
	const struct ro_case *c = arg;
	struct esxmem_vm_stats st;
	int ro, fd;

	ro = open(c->path, O_RDONLY | O_CLOEXEC);
	REQUIRE(ro >= 0, "nobody cannot open the 0644 file read-only: %s", strerror(errno));
	fd = open(c->path, O_RDWR | O_CLOEXEC);
	CHECK(fd < 0 && errno == EACCES, "nobody opened the file read-write");
	CHECK(esx_punch(ro, 0, FILE_PAGES * ESX_PAGE) == -EBADF,
	      "PUNCH_HOLE on a read-only fd: want EBADF");
	CHECK(set_size(ro, FILE_PAGES * ESX_PAGE) == -EBADF,
	      "SET_SIZE on a read-only fd: want EBADF");
	CHECK(set_size(ro, 2 * FILE_PAGES * ESX_PAGE) == -EBADF,
	      "SET_SIZE to another size on a read-only fd: want EBADF");
	CHECK(fallocate(ro, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			FILE_PAGES * ESX_PAGE) && errno == EBADF,
	      "fallocate on a read-only fd: want EBADF");
	CHECK(ftruncate(ro, 2 * FILE_PAGES * ESX_PAGE) && errno == EINVAL,
	      "ftruncate on a read-only fd: want EINVAL");
	CHECK(truncate(c->path, 2 * FILE_PAGES * ESX_PAGE) && errno == EACCES,
	      "truncate of root's 0644 file: want EACCES");
	CHECK(!ioctl(ro, ESXMEM_IOC_GET_STATS, &st) && st.size_pages == FILE_PAGES,
	      "GET_STATS on a read-only fd must work");
	close(ro);

	ro = open(c->unsized, O_RDONLY | O_CLOEXEC);
	REQUIRE(ro >= 0, "open the unsized file: %s", strerror(errno));
	CHECK(set_size(ro, ESX_PAGE) == -EBADF,
	      "SET_SIZE of an unsized object on a read-only fd: want EBADF");
	close(ro);
	return vmtest_failures;
}

static void test_readonly_fds(void)
{
	struct ro_case c = { fs_files[0], fs_files[1] };
	struct esxmem_vm_stats st;
	int fd, unsized, ro;
	char *map;

	REQUIRE(!mkdir(FSDIR, 0755) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("esxmem", FSDIR, "esxmem", 0, NULL), "mount esxmemfs: %s",
		strerror(errno));
	REQUIRE(!chmod(FSDIR, 0755), "chmod");
	fd = open(c.path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s: %s", c.path, strerror(errno));
	REQUIRE(!fchmod(fd, 0644), "fchmod");
	REQUIRE(!ftruncate(fd, FILE_PAGES * ESX_PAGE), "ftruncate: %s", strerror(errno));
	map = esx_map(fd, FILE_PAGES, 0);
	REQUIRE(map, "mmap");
	for (uint32_t i = 0; i < FILE_PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i);
	unsized = open(c.unsized, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	REQUIRE(unsized >= 0, "create %s: %s", c.unsized, strerror(errno));
	REQUIRE(!fchmod(unsized, 0644), "fchmod");
	fs_ids[0] = esx_stats(fd).id;
	fs_ids[1] = esx_stats(unsized).id;

	CHECK(run_child(nobody_ro_fd, &c, true), "nobody changed the object through a read-only fd");
	CHECK(verify(map, FILE_PAGES) == 0, "the data changed");
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_PRIVATE] == FILE_PAGES,
	      "%llu private pages, want %u", (unsigned long long)st.state_pages[ESXMEM_PAGE_PRIVATE],
	      FILE_PAGES);
	CHECK(esx_stats(unsized).size_pages == 0, "a read-only fd sized the object");
	CHECK_OK(set_size(unsized, ESX_PAGE));

	/* Root's own read-only fd is no different: the fd's mode counts. */
	ro = open(c.path, O_RDONLY | O_CLOEXEC);
	REQUIRE(ro >= 0, "open read-only");
	CHECK(esx_punch(ro, 0, FILE_PAGES * ESX_PAGE) == -EBADF, "root's read-only fd punched");
	close(ro);
	CHECK(verify(map, FILE_PAGES) == 0, "the data changed");
	/* The writable fd still can. */
	CHECK_OK(esx_punch(fd, 0, ESX_PAGE));
	CHECK(esx_is_zero(map, ESX_PAGE), "the hole through a writable fd reads zeros");

	/* /dev/esxmem can be opened read-only; that object is just as fixed. */
	ro = open(ESXMEM_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	REQUIRE(ro >= 0, "open %s read-only: %s", ESXMEM_DEVICE_PATH, strerror(errno));
	CHECK(set_size(ro, VM_PAGES * ESX_PAGE) == -EBADF, "SET_SIZE on a read-only device fd");
	CHECK(esx_punch(ro, 0, ESX_PAGE) == -EBADF, "PUNCH_HOLE on a read-only device fd");
	CHECK(esx_stats(ro).size_pages == 0, "the read-only device object got a size");
	close(ro);

	munmap(map, FILE_PAGES * ESX_PAGE);
	close(unsized);
	close(fd);
}

/* ---- the netlink family ---------------------------------------------- */

struct nl_case {
	uint32_t id;		/* a VM */
	int swapfd;		/* a good swap file, open read-write */
};

/* As nobody: nothing about VMs, no events, no swap file; the pool is open. */
static int nobody_netlink(void *arg)
{
	const struct nl_case *c = arg;
	struct esxmem_vm_info *vi, **vms = NULL;
	struct esxmem_pool_info *pool;
	struct esxmem_events *ev = NULL;
	struct esxmem *h;
	size_t n = 0;

	REQUIRE_OK(esxmem_open(&h));
	CHECK(esxmem_vm_get(h, c->id, &vi) == -EPERM, "GET_VM as nobody: want EPERM");
	CHECK(esxmem_vm_list(h, &vms, &n) == -EPERM, "the VM dump as nobody: want EPERM");
	CHECK(esxmem_vm_set_swap(h, c->id, c->swapfd) == -EPERM,
	      "SET_SWAP as nobody: want EPERM");
	CHECK(esxmem_events_open(&ev) == -EPERM, "nobody joined the events group");
	CHECK_OK(esxmem_pool_get(h, &pool));
	CHECK(strstr(esxmem_strerror(-EPERM), "root") != NULL,
	      "the EPERM text says to run as root: %s", esxmem_strerror(-EPERM));
	esxmem_events_close(ev);
	esxmem_close(h);
	return vmtest_failures;
}

/* As root without CAP_SYS_ADMIN: reading is fine, a swap file is not. */
static int netadmin_netlink(void *arg)
{
	const struct nl_case *c = arg;
	struct esxmem_events *ev = NULL;
	struct esxmem_vm_info *vi;
	struct esxmem *h;

	REQUIRE_OK(esxmem_open(&h));
	CHECK_OK(esxmem_vm_get(h, c->id, &vi));
	esxmem_vm_info_free(vi);
	CHECK_OK(esxmem_events_open(&ev));
	CHECK(esxmem_vm_set_swap(h, c->id, c->swapfd) == -EPERM,
	      "SET_SWAP without CAP_SYS_ADMIN: want EPERM");
	CHECK(strstr(esxmem_errmsg(h), "CAP_SYS_ADMIN") != NULL,
	      "the refusal names CAP_SYS_ADMIN: \"%s\"", esxmem_errmsg(h));
	esxmem_events_close(ev);
	esxmem_close(h);
	return vmtest_failures;
}

/* As nobody: esxmemctl cannot reach root's socket and says why. */
static int nobody_esxmemctl(void *arg)
{
	const char *out = arg;
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int status;
	pid_t pid;

	REQUIRE(fd >= 0, "open %s", out);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fd, 2);
		execl("/usr/bin/esxmemctl", "esxmemctl", "-s", CTLDIR "/control", "status",
		      (char *)NULL);
		_exit(127);
	}
	close(fd);
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4,
	      "esxmemctl as nobody: exit %d, want 4 (permission denied)", WEXITSTATUS(status));
	CHECK(esx_file_has(out, "run esxmemctl as root"), "esxmemctl does not say to run as root");
	if (vmtest_failures)
		esx_show_tail(out, "esxmemctl", 512);
	return vmtest_failures;
}

static void test_netlink(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct nl_case c;
	int vm, ctl;
	mode_t old;

	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=16m"), "mount: %s", strerror(errno));
	vm = new_vm(VM_PAGES, &c.id);
	c.swapfd = make_file(SWAPDIR "/nl", VM_PAGES, O_RDWR);

	CHECK(run_child(nobody_netlink, &c, true), "nobody read VMs, joined events or set swap");
	CHECK(run_child(netadmin_netlink, &c, false),
	      "CAP_NET_ADMIN alone: reading failed, or a swap file was taken");
	CHECK(esxmem_vm_value(info(c.id), ESXMEM_VM_SWAP_SLOTS) == 0, "a refused caller gave the VM a swap file");
	/* Root may. */
	CHECK_OK(esxmem_vm_set_swap(nl, c.id, c.swapfd));
	CHECK(esxmem_vm_value(info(c.id), ESXMEM_VM_SWAP_SLOTS) == VM_PAGES, "root's swap file was not taken");

	/* The daemon's control socket, as esxmemd makes it: root's. */
	REQUIRE(!mkdir(CTLDIR, 0750) || errno == EEXIST, "mkdir");
	strcpy(addr.sun_path, CTLDIR "/control");
	unlink(addr.sun_path);
	ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	old = umask(0117);
	REQUIRE(ctl >= 0 && !bind(ctl, (struct sockaddr *)&addr, sizeof(addr)) && !listen(ctl, 1),
		"control socket: %s", strerror(errno));
	umask(old);
	CHECK(run_child(nobody_esxmemctl, "/tmp/perms-esxmemctl.err", true),
	      "esxmemctl as nobody");
	close(ctl);

	close(c.swapfd);
	close(vm);
}

/* ---- swap files the module must not write --------------------------------- */

/* SET_SWAP of @fd to VM @id fails with @want and says why. */
static void refused(uint32_t id, int fd, int want, const char *what)
{
	int err = esxmem_vm_set_swap(nl, id, fd);

	CHECK(err == want, "%s: %d (%s), want %d (%s)", what, err, strerror(-err), want,
	      strerror(-want));
	CHECK(err >= 0 || esxmem_errmsg(nl)[0], "%s: refused without a message", what);
	if (err < 0)
		printf("refused %s: %s\n", what, esxmem_errmsg(nl));
}

/* Sets (@on) or clears inode flags @flags of the file open as @fd. */
static int chattr(int fd, int flags, bool on)
{
	int cur;

	if (ioctl(fd, FS_IOC_GETFLAGS, &cur))
		return -errno;
	cur = on ? cur | flags : cur & ~flags;
	return ioctl(fd, FS_IOC_SETFLAGS, &cur) ? -errno : 0;
}

static void test_bad_swap_files(void)
{
	uint32_t a, b;
	int vma = new_vm(VM_PAGES, &a), vmb = new_vm(VM_PAGES, &b);
	int good, fd, obj;

	good = make_file(SWAPDIR "/a", VM_PAGES, O_RDWR);

	fd = open(SWAPDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	refused(a, fd, -EINVAL, "a directory");
	close(fd);
	fd = make_file(SWAPDIR "/ro", VM_PAGES, O_RDONLY);
	refused(a, fd, -EBADF, "a read-only fd");
	close(fd);
	fd = make_file(SWAPDIR "/append", VM_PAGES, O_RDWR | O_APPEND);
	refused(a, fd, -EBADF, "an O_APPEND fd");
	close(fd);
	obj = open(fs_files[2], O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	REQUIRE(obj >= 0 && !ftruncate(obj, VM_PAGES * ESX_PAGE), "esxmemfs file");
	fs_ids[2] = esx_stats(obj).id;
	refused(a, obj, -EINVAL, "a file on esxmemfs");
	close(obj);
	CHECK(esxmem_vm_value(info(a), ESXMEM_VM_SWAP_SLOTS) == 0, "a refused file was taken");

	/* One file, two VMs: however it is reached, the second is refused. */
	CHECK_OK(esxmem_vm_set_swap(nl, a, good));
	refused(b, good, -EBUSY, "VM a's swap file, the same fd");
	fd = open(SWAPDIR "/a", O_RDWR | O_CLOEXEC);
	REQUIRE(fd >= 0, "reopen");
	refused(b, fd, -EBUSY, "VM a's swap file, opened again");
	close(fd);
	REQUIRE(!link(SWAPDIR "/a", SWAPDIR "/a-link"), "link: %s", strerror(errno));
	fd = open(SWAPDIR "/a-link", O_RDWR | O_CLOEXEC);
	REQUIRE(fd >= 0, "open the link");
	refused(b, fd, -EBUSY, "VM a's swap file, through a hard link");
	close(fd);
	CHECK(esxmem_vm_value(info(b), ESXMEM_VM_SWAP_SLOTS) == 0, "VM b took VM a's swap file");
	/* The VM itself may be given its own file again. */
	CHECK_OK(esxmem_vm_set_swap(nl, a, good));
	/* Once VM a lets it go, VM b may have it. */
	CHECK_OK(esxmem_vm_set_swap(nl, a, -1));
	CHECK_OK(esxmem_vm_set_swap(nl, b, good));
	CHECK_OK(esxmem_vm_set_swap(nl, b, -1));

	/* Inode flags, on ext2 (chattr): opened read-write first, then set. */
	fd = make_file(EXTDIR "/immutable", VM_PAGES, O_RDWR);
	REQUIRE_OK(chattr(fd, FS_IMMUTABLE_FL, true));
	refused(a, fd, -EPERM, "an immutable file");
	CHECK_OK(chattr(fd, FS_IMMUTABLE_FL, false));
	close(fd);
	unlink(EXTDIR "/immutable");
	fd = make_file(EXTDIR "/append-only", VM_PAGES, O_RDWR);
	REQUIRE_OK(chattr(fd, FS_APPEND_FL, true));
	refused(a, fd, -EPERM, "an append-only file");
	CHECK_OK(chattr(fd, FS_APPEND_FL, false));
	close(fd);
	unlink(EXTDIR "/append-only");

	/* The kernel's own swap file. */
	fd = make_file(EXTDIR "/kswap", 256, O_RDWR);
	REQUIRE(!system("mkswap " EXTDIR "/kswap > /dev/null"), "mkswap");
	REQUIRE(!swapon(EXTDIR "/kswap", 0), "swapon: %s", strerror(errno));
	refused(a, fd, -ETXTBSY, "the kernel's swap file");
	CHECK(!swapoff(EXTDIR "/kswap"), "swapoff: %s", strerror(errno));
	close(fd);
	unlink(EXTDIR "/kswap");

	CHECK(esxmem_vm_value(info(a), ESXMEM_VM_SWAP_SLOTS) == 0 && esxmem_vm_value(info(b), ESXMEM_VM_SWAP_SLOTS) == 0,
	      "a refused file was taken: %llu, %llu slots",
	      (unsigned long long)esxmem_vm_value(info(a), ESXMEM_VM_SWAP_SLOTS), (unsigned long long)esxmem_vm_value(info(b), ESXMEM_VM_SWAP_SLOTS));
	close(good);
	close(vma);
	close(vmb);
}

/* ---- a frozen filesystem ------------------------------------------------ */

/* Whether the kernel log, from where @fd stands, has a line with @text. */
static bool kmsg_has(int fd, const char *text)
{
	char rec[1024];
	ssize_t n;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;	/* records were overwritten: read on */
		rec[n] = '\0';
		if (strstr(rec, text))
			return true;
	}
	return false;
}

/* Reads every page of the VM back in a child; its exit status says how it went. */
static pid_t read_back(const char *map, unsigned int pages)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();

	if (pid == 0)
		_exit(verify(map, pages) ? 1 : 0);
	return pid;
}

static bool reaped(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

static void test_frozen_fs(void)
{
	struct esxmem_vm_info *before, *vi;
	int vm, swapfd, kmsg, status = -1;
	uint64_t swapped;
	uint32_t id;
	char *map;
	pid_t pid;
	bool done;

	vm = new_vm(FREEZE_PAGES, &id);
	map = esx_map(vm, FREEZE_PAGES, 0);
	REQUIRE(map, "mmap");
	for (uint32_t i = 0; i < FREEZE_PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i);
	swapfd = make_file(EXTDIR "/swap", FREEZE_PAGES, O_RDWR);
	/* No compression: every page that goes, goes to the file. */
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	set_reclaim(id, FREEZE_PAGES - FREEZE_PAGES / 4, 0);
	REQUIRE(ESX_WAIT_FOR(esxmem_vm_state_pages(info(id), ESXMEM_PAGE_SWAPPED) >= FREEZE_PAGES / 4, 60),
		"%llu pages swapped before the freeze, want %u",
		(unsigned long long)esxmem_vm_state_pages(info(id), ESXMEM_PAGE_SWAPPED), FREEZE_PAGES / 4);

	frozen_fd = open(EXTDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(frozen_fd >= 0, "open %s", EXTDIR);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	REQUIRE(kmsg >= 0 && lseek(kmsg, 0, SEEK_END) >= 0, "/dev/kmsg: %s", strerror(errno));
	REQUIRE(!ioctl(frozen_fd, FIFREEZE, 0), "FIFREEZE: %s", strerror(errno));
	before = info(id);
	set_reclaim(id, 0, 0);
	CHECK(ESX_WAIT_FOR(kmsg_has(kmsg, "swap file's filesystem is frozen"), 30),
	      "the reclaim thread never met the frozen filesystem");
	close(kmsg);

	/*
	 * Meanwhile every fault on a swapped page (each takes the VM's
	 * reclaim lock) and GET_VM complete.
	 */
	pid = read_back(map, FREEZE_PAGES);
	REQUIRE(pid > 0, "fork");
	done = ESX_WAIT_FOR(reaped(pid, &status), 30);
	CHECK(done, "reading swapped pages back hangs while the filesystem is frozen");
	vi = info(id);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) == esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS), "%llu pages written to a frozen filesystem",
	      (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS)));
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS) == 0, "a frozen filesystem counted %llu swap errors",
	      (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS));
	if (done) {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "pages read back while frozen differ");
		CHECK(esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED) == 0,
		      "%llu pages still swapped after all were read",
		      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED));
	}

	REQUIRE(!ioctl(frozen_fd, FITHAW, 0), "FITHAW: %s", strerror(errno));
	close(frozen_fd);
	frozen_fd = -1;
	if (!done)
		waitpid(pid, &status, 0);
	CHECK(ESX_WAIT_FOR(esxmem_vm_state_pages(info(id), ESXMEM_PAGE_SWAPPED) == FREEZE_PAGES, 120),
	      "after the thaw %llu of %u pages swapped",
	      (unsigned long long)esxmem_vm_state_pages(info(id), ESXMEM_PAGE_SWAPPED), FREEZE_PAGES);
	swapped = esxmem_vm_value(info(id), ESXMEM_VM_SWAP_OUTS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS);
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, FREEZE_PAGES) == 0, "pages differ after the thaw");
	vi = info(id);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS) == 0, "%llu swap errors", (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS));
	printf("frozen filesystem: nothing written while frozen; %llu pages out after the thaw\n",
	       (unsigned long long)swapped);
	CHECK_OK(esxmem_vm_set_swap(nl, id, -1));
	munmap(map, FREEZE_PAGES * ESX_PAGE);
	close(swapfd);
	close(vm);
}

static bool vm_gone(uint32_t id)
{
	struct esxmem_vm_info *vi;
	int err = esxmem_vm_get(nl, id, &vi);

	if (!err)
		esxmem_vm_info_free(vi);
	return err == -ENOENT;
}

/*
 * Unmounts esxmemfs once its objects are gone: the module's threads hold
 * objects' inodes for a moment now and then, and an unmount must not find
 * one held.
 */
static void unmount_esxmemfs(void)
{
	for (size_t i = 0; i < sizeof(fs_files) / sizeof(fs_files[0]); i++) {
		CHECK(!unlink(fs_files[i]), "unlink %s: %s", fs_files[i], strerror(errno));
		CHECK(ESX_WAIT_FOR(vm_gone(fs_ids[i]), 10), "VM %u outlives its file", fs_ids[i]);
	}
	CHECK(!umount(FSDIR), "umount %s: %s", FSDIR, strerror(errno));
}

/* ext2 on a RAM disk: a filesystem with inode flags that can be frozen. */
static void mount_ext2(void)
{
	static const char *const mods[][2] = {
		{ "brd", "rd_nr=1 rd_size=32768" }, { "crc16", "" },
		{ "crc32c_generic", "" }, { "mbcache", "" }, { "jbd2", "" }, { "ext4", "" },
	};
	char path[128];

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/lib/modules/host/%s.ko", mods[i][0]);
		REQUIRE_OK(esx_load_module(path, mods[i][1]));
	}
	REQUIRE(ESX_WAIT_FOR(!access(RAMDISK, F_OK), 10), "%s did not appear", RAMDISK);
	REQUIRE(!system("mke2fs -F " RAMDISK " > /dev/null 2>&1"), "mke2fs " RAMDISK);
	REQUIRE(!mkdir(EXTDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount(RAMDISK, EXTDIR, "ext2", 0, NULL), "mount ext2: %s", strerror(errno));
}

int main(void)
{
	main_pid = getpid();
	atexit(restore);
	esx_background_off();
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	mount_ext2();

	test_readonly_fds();
	test_netlink();
	test_bad_swap_files();
	test_frozen_fs();
	unmount_esxmemfs();

	esxmem_close(nl);
	return vmtest_done("esxmem_perms");
}
