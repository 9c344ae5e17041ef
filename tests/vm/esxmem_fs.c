// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_fs: VM memory objects as files of an esxmem mount, the way QEMU
 * uses a memory-backend-file directory (as with hugetlbfs):
 *
 *  - create, unlink at once, ftruncate, mmap: QEMU's sequence works, and
 *    ftruncate fixes the size once (EBUSY for another size, EINVAL for an
 *    unaligned one); fstat reports it;
 *  - fallocate(PUNCH_HOLE | KEEP_SIZE) frees pages and the next touch reads
 *    zeros; other fallocate modes are refused;
 *  - two opens of one file share one object; an unlinked file lives while
 *    it is open or mapped and returns every page when it goes;
 *  - directories (libvirt keeps a domain's files in one): files in them are
 *    objects too; rmdir refuses a directory that is not empty;
 *  - the module cannot be removed while the filesystem is mounted.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MNT "/tmp/esxfs"
#define PAGES 64

static int punch(int fd, off_t off, off_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) ? -errno : 0;
}

static void test_qemu_sequence(void)
{
	long used0 = esx_sysfs_long("used_pages"), objects0 = esx_sysfs_long("objects");
	char path[] = MNT "/qemu_back_mem.XXXXXX";
	struct stat st;
	uint8_t *p;
	int fd;

	fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp in an esxmem mount: %s", strerror(errno));
	CHECK(esx_sysfs_long("objects") == objects0 + 1, "a new file is a new object");
	CHECK(unlink(path) == 0, "unlink: %s", strerror(errno));
	CHECK(ftruncate(fd, 12345) && errno == EINVAL, "unaligned size must fail with EINVAL");
	CHECK(ftruncate(fd, PAGES * ESX_PAGE) == 0, "ftruncate: %s", strerror(errno));
	CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)(PAGES * ESX_PAGE),
	      "fstat size %lld", (long long)st.st_size);
	CHECK(S_ISREG(st.st_mode), "a regular file");
	CHECK(ftruncate(fd, PAGES * ESX_PAGE) == 0, "the same size again is fine");
	CHECK(ftruncate(fd, 2 * PAGES * ESX_PAGE) && errno == EBUSY,
	      "another size must fail with EBUSY");
	CHECK(esx_map(fd, PAGES + 1, 0) == NULL, "mapping beyond the size must fail");

	p = esx_map(fd, PAGES, 0);
	REQUIRE(p, "mmap: %s", strerror(errno));
	memset(p, 0xab, PAGES * ESX_PAGE);
	CHECK(esx_stats(fd).consumed_pages == PAGES, "stats through the file");
	CHECK(esx_sysfs_long("used_pages") == used0 + PAGES, "pool charged");

	CHECK(fallocate(fd, 0, 0, ESX_PAGE) && errno == EOPNOTSUPP,
	      "plain fallocate must fail with EOPNOTSUPP");
	CHECK(punch(fd, 8 * ESX_PAGE, 16 * ESX_PAGE) == 0, "punch: %s", strerror(errno));
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_UNBACKED] == 16, "16 pages unbacked");
	CHECK(esx_sysfs_long("used_pages") == used0 + PAGES - 16, "punch freed 16 pages");
	CHECK(esx_is_zero(p + 8 * ESX_PAGE, 16 * ESX_PAGE), "punched pages read zero");
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_ZERO] == 16, "... through the zero frame");
	CHECK(p[8 * ESX_PAGE - 1] == 0xab && p[24 * ESX_PAGE] == 0xab, "neighbours intact");

	close(fd);
	/* The mapping keeps the unlinked object alive. */
	CHECK(esx_sysfs_long("objects") == objects0 + 1, "object alive while mapped");
	CHECK(p[0] == 0xab, "data alive while mapped");
	munmap(p, PAGES * ESX_PAGE);
	CHECK(esx_sysfs_long("objects") == objects0, "object gone after munmap");
	CHECK(esx_sysfs_long("used_pages") == used0, "every page returned");
}

static void test_shared_file(void)
{
	long used0 = esx_sysfs_long("used_pages");
	uint8_t *a, *b;
	int fa, fb;

	fa = open(MNT "/vm1", O_CREAT | O_RDWR | O_EXCL, 0600);
	REQUIRE(fa >= 0, "create: %s", strerror(errno));
	fb = open(MNT "/vm1", O_RDWR);
	REQUIRE(fb >= 0, "reopen: %s", strerror(errno));
	a = esx_map(fa, PAGES, 0);
	b = esx_map(fb, PAGES, 0);
	REQUIRE(a && b, "mmap: %s", strerror(errno));
	a[5 * ESX_PAGE + 1] = 42;
	CHECK(b[5 * ESX_PAGE + 1] == 42, "two opens of one file share the object");
	CHECK(esx_stats(fb).mappings == 2, "two mappings");
	munmap(a, PAGES * ESX_PAGE);
	munmap(b, PAGES * ESX_PAGE);
	close(fa);
	close(fb);
	/* A linked file keeps its memory, as on tmpfs. */
	CHECK(esx_sysfs_long("used_pages") == used0 + 1, "linked file keeps its page");
	CHECK(unlink(MNT "/vm1") == 0, "unlink");
	CHECK(esx_sysfs_long("used_pages") == used0, "unlink freed it");
}

static void test_directories(void)
{
	long objects0 = esx_sysfs_long("objects");
	struct stat st;
	uint8_t *p;
	int fd;

	CHECK(mkdir(MNT "/libvirt", 0755) == 0 && mkdir(MNT "/libvirt/qemu", 0700) == 0,
	      "mkdir: %s", strerror(errno));
	CHECK(stat(MNT "/libvirt/qemu", &st) == 0 && S_ISDIR(st.st_mode) &&
	      (st.st_mode & 0777) == 0700, "a directory, mode 0700");
	CHECK(mkdir(MNT "/libvirt", 0755) && errno == EEXIST, "mkdir twice: EEXIST");
	fd = open(MNT "/libvirt/qemu/ram", O_CREAT | O_RDWR | O_EXCL, 0600);
	REQUIRE(fd >= 0, "create in a directory: %s", strerror(errno));
	CHECK(esx_sysfs_long("objects") == objects0 + 1, "a file in a directory is an object");
	CHECK(ftruncate(fd, PAGES * ESX_PAGE) == 0, "ftruncate: %s", strerror(errno));
	p = esx_map(fd, PAGES, 0);
	REQUIRE(p, "mmap: %s", strerror(errno));
	p[3 * ESX_PAGE] = 7;
	CHECK(esx_stats(fd).consumed_pages == 1, "its page is an esxmem page");
	munmap(p, PAGES * ESX_PAGE);
	close(fd);
	CHECK(rmdir(MNT "/libvirt/qemu") && errno == ENOTEMPTY, "rmdir of a full directory: ENOTEMPTY");
	CHECK(unlink(MNT "/libvirt/qemu/ram") == 0, "unlink: %s", strerror(errno));
	CHECK(esx_sysfs_long("objects") == objects0, "the object goes with its file");
	CHECK(rmdir(MNT "/libvirt/qemu") == 0 && rmdir(MNT "/libvirt") == 0, "rmdir: %s",
	      strerror(errno));
	CHECK(stat(MNT "/libvirt", &st) && errno == ENOENT, "gone");
}

int main(void)
{
	int status;

	esx_background_off();
	mkdir(MNT, 0755);
	REQUIRE(mount("esxmem", MNT, "esxmem", 0, NULL) == 0, "mount -t esxmem: %s", strerror(errno));
	test_qemu_sequence();
	test_shared_file();
	test_directories();

	status = system("rmmod esxmem 2>/dev/null");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0, "rmmod must fail while mounted");
	CHECK(access("/sys/kernel/mm/esxmem/state", R_OK) == 0, "module still loaded");
	CHECK(umount(MNT) == 0, "umount: %s", strerror(errno));
	return vmtest_done("esxmem_fs");
}
