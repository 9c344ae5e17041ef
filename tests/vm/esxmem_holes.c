// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_holes: holes punched into pages that are not in memory.
 *
 * A hole zeroes the partial pages at its ends in place and frees the whole
 * pages inside it. For pages that are compressed or swapped out, the bytes
 * in the hole must read zero afterwards just as for resident ones, and the
 * bytes around it must stay. Three holes: inside one page, across a page
 * boundary, and tail + whole page + head; on /dev/esxmem (ioctl) and on an
 * esxmemfs file (fallocate), with the pages compressed and with them
 * swapped. Module knobs are restored on exit.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

#define PAGES		16u
#define SWAPDIR		"/tmp/holes-swap"
#define FSDIR		"/tmp/holes-fs"
#define WAIT_SECS	120.0

static struct esxmem *nl;
static pid_t main_pid;

static const struct hole {
	off_t offset, len;
	const char *what;
} holes[] = {
	{ 1 * ESX_PAGE + 100, 200, "inside one page" },
	{ 5 * ESX_PAGE - 300, 600, "across a page boundary" },
	{ 10 * ESX_PAGE - 1000, ESX_PAGE + 2000, "tail, whole page and head" },
};

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	umount(FSDIR);
	umount(SWAPDIR);
}

/* Compressible bytes (a 64-byte period), different in every page. */
static unsigned char byte_at(size_t off)
{
	size_t page = off / ESX_PAGE;

	return (unsigned char)(0x41 + (off % 64) + page * 3);
}

static bool in_hole(size_t off)
{
	for (size_t h = 0; h < sizeof(holes) / sizeof(holes[0]); h++)
		if ((off_t)off >= holes[h].offset &&
		    (off_t)off < holes[h].offset + holes[h].len)
			return true;
	return false;
}

static uint64_t state(uint32_t id, enum esxmem_page_state s)
{
	struct esxmem_vm_info *vi;
	uint64_t n;

	REQUIRE_OK(esxmem_vm_get(nl, id, &vi));
	n = esxmem_vm_state_pages(vi, s);
	esxmem_vm_info_free(vi);
	return n;
}

static void set_reclaim(uint32_t id, uint64_t target, uint64_t compress_max)
{
	esx_set_reclaim(nl, id, target, compress_max);
}

static int punch(int fd, bool use_fallocate, off_t offset, off_t len)
{
	if (use_fallocate)
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
				 len) ? -errno : 0;
	return esx_punch(fd, offset, len);
}

/* Fills @fd's object, pages it all out as @out, punches, checks. */
static void run(int fd, bool use_fallocate, enum esxmem_page_state out, int swapfd,
		const char *name)
{
	unsigned char *map = esx_map(fd, PAGES, 0);
	uint32_t id;
	size_t off, bad = 0, first = 0;

	REQUIRE(map, "%s: mmap: %s", name, strerror(errno));
	id = esx_stats(fd).id;
	for (off = 0; off < PAGES * ESX_PAGE; off++)
		map[off] = byte_at(off);
	if (out == ESXMEM_PAGE_SWAPPED) {
		REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
		set_reclaim(id, 0, 0);
	} else {
		set_reclaim(id, 0, PAGES);
	}
	REQUIRE(ESX_WAIT_FOR(state(id, out) == PAGES, WAIT_SECS), "%s: %llu of %u pages out",
		name, (unsigned long long)state(id, out), PAGES);
	/* The pages stay where they are until they are touched. */
	set_reclaim(id, ESXMEM_NO_TARGET, PAGES);
	for (size_t h = 0; h < sizeof(holes) / sizeof(holes[0]); h++)
		CHECK_OK(punch(fd, use_fallocate, holes[h].offset, holes[h].len));
	for (off = 0; off < PAGES * ESX_PAGE; off++) {
		unsigned char want = in_hole(off) ? 0 : byte_at(off);

		if (map[off] != want && !bad++)
			first = off;
	}
	CHECK(bad == 0, "%s: %zu bytes wrong after the holes, the first at %zu (%s hole)",
	      name, bad, first, in_hole(first) ? "in a" : "outside every");
	printf("%s: %u pages %s, 3 holes punched, %zu bytes wrong\n", name, PAGES,
	       out == ESXMEM_PAGE_SWAPPED ? "swapped" : "compressed", bad);
	munmap(map, PAGES * ESX_PAGE);
	if (out == ESXMEM_PAGE_SWAPPED)
		REQUIRE_OK(esxmem_vm_set_swap(nl, id, -1));
}

static int fs_object(void)
{
	char path[] = FSDIR "/holes.XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0, "mkstemp on esxmemfs: %s", strerror(errno));
	REQUIRE(!ftruncate(fd, (off_t)(PAGES * ESX_PAGE)), "ftruncate: %s", strerror(errno));
	unlink(path);
	return fd;
}

static long used0;

int main(void)
{
	int swapfd, fd;

	main_pid = getpid();
	atexit(restore);
	esx_background_off();
	used0 = esx_pool_settled(60);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=4m"), "mount: %s", strerror(errno));
	REQUIRE(!mkdir(FSDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("esxmem", FSDIR, "esxmem", 0, NULL), "mount -t esxmem: %s",
		strerror(errno));
	swapfd = open(SWAPDIR "/swap", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	REQUIRE(swapfd >= 0 && !posix_fallocate(swapfd, 0, (off_t)(PAGES * ESX_PAGE)),
		"swap file: %s", strerror(errno));

	fd = esx_open();
	run(fd, false, ESXMEM_PAGE_COMPRESSED, swapfd, "/dev/esxmem compressed");
	close(fd);
	fd = esx_open();
	run(fd, false, ESXMEM_PAGE_SWAPPED, swapfd, "/dev/esxmem swapped");
	close(fd);
	fd = fs_object();
	run(fd, true, ESXMEM_PAGE_COMPRESSED, swapfd, "esxmemfs compressed");
	close(fd);
	fd = fs_object();
	run(fd, true, ESXMEM_PAGE_SWAPPED, swapfd, "esxmemfs swapped");
	close(fd);
	close(swapfd);
	esxmem_close(nl);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_holes");
}
