// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_reclaim: compression and swapping in the module.
 *
 *  - compression: with a swap target of 0 and no swap file, exactly the
 *    pages that compress to 2 KiB or less go to the compression cache, the
 *    others are counted as rejected and stay; the pool gets back the pages
 *    less what zsmalloc holds; every page reads back bit-exact, each
 *    decompressed once;
 *  - swap: with compression off, every page goes to the swap file and
 *    back, bit-exact, and the pool gets back every page;
 *  - a stress: a writer keeps changing and checking random pages (each
 *    holds its index and a version) while reclaim holds the VM at a
 *    quarter of its size through the cache and the swap file; no version
 *    is ever lost;
 *  - a page someone else holds (spliced into a pipe) is skipped, and goes
 *    once it is let go;
 *  - a swap file on a full filesystem: the pages that do not fit stay in
 *    memory, the errors are counted, nothing is lost;
 *  - the emergency path with no daemon: a VM writes twice the pool; the
 *    hard and low states page it out, a VM above its target waits in the
 *    low state, and all its data reads back;
 *  - bad swap files are refused with the documented error and change
 *    nothing; a swap file in use cannot be replaced;
 *  - swapping 1,024 pages of a VM in large pages breaks at most three of
 *    them;
 *  - the compression store grows only as far as the pool allows: with the
 *    pool exhausted, pages that each need a zspage of their own take the
 *    pool at most 16 pages beyond its size, and every page reads back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

#define PAGES		4096u
#define WORDS		(ESX_PAGE / 8)
#define SWAPDIR		"/tmp/reclaim-swap"
#define FULLDIR		"/tmp/reclaim-full"

static struct esxmem *nl;
static long saved_pool, saved_percent;
static pid_t main_pid;

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	esx_sysfs_write_long("pool_pages", saved_pool);
	esx_sysfs_write_long("reclaim/compress_percent", saved_percent);
	esx_sysfs_write("reclaim/enabled", "1");
	umount(SWAPDIR);
	umount(FULLDIR);
}

/*
 * Page @i, version @v: even pages compress well (a repeated 16 bytes), odd
 * ones not at all (a random stream). Either way the first words name the
 * page and version. No page is all zeros (esx_mix(0) is 0): breaking a large
 * page puts such a page in the zero state instead of the cache.
 */
static void fill(uint64_t *p, uint32_t i, uint32_t v)
{
	uint64_t seed = esx_mix(((uint64_t)i << 32) | v) | 1;
	size_t w;

	for (w = 0; w < WORDS; w++)
		p[w] = (i & 1) ? (seed = esx_mix(seed + w)) : (w & 1 ? seed : i);
	p[0] = i;
	p[1] = v;
}

static bool same(const uint64_t *p, uint32_t i, uint32_t v)
{
	static uint64_t want[WORDS];

	fill(want, i, v);
	return !memcmp(p, want, ESX_PAGE);
}

/* How many of the pages of @map differ from version @ver[i]. */
static unsigned int verify(char *map, const uint32_t *ver)
{
	unsigned int i, bad = 0;

	for (i = 0; i < PAGES; i++)
		if (!same((uint64_t *)(map + (size_t)i * ESX_PAGE), i, ver ? ver[i] : 0))
			bad++;
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

static int swap_file(const char *dir, const char *name, uint64_t pages, bool prealloc,
		     int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_TRUNC | O_CLOEXEC | flags, 0600);
	REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
	if (prealloc)
		REQUIRE(!posix_fallocate(fd, 0, (off_t)(pages * ESX_PAGE)), "fallocate %s", path);
	else
		REQUIRE(!ftruncate(fd, (off_t)(pages * ESX_PAGE)), "ftruncate %s", path);
	return fd;
}

static uint64_t state(uint32_t id, enum esxmem_page_state s)
{
	return esxmem_vm_state_pages(info(id), s);
}

static void test_compression(int fd, uint32_t id, char *map)
{
	long used = esx_sysfs_long("used_pages"), zpool;
	struct esxmem_vm_info *vi;

	set_reclaim(id, 0, PAGES);
	CHECK(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_COMPRESSED) == PAGES / 2 &&
			   esxmem_vm_value(info(id), ESXMEM_VM_COMPRESS_REJECTS) >= PAGES / 2, 60),
	      "compressed %llu of %u, rejected %llu",
	      (unsigned long long)state(id, ESXMEM_PAGE_COMPRESSED), PAGES / 2,
	      (unsigned long long)esxmem_vm_value(info(id), ESXMEM_VM_COMPRESS_REJECTS));
	vi = info(id);
	CHECK(esxmem_vm_state_pages(vi, ESXMEM_PAGE_PRIVATE) == PAGES / 2,
	      "%llu private pages, want the %u incompressible ones",
	      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_PRIVATE), PAGES / 2);
	zpool = esx_sysfs_long("reclaim/zpool_pages");
	CHECK(zpool > 0 && zpool < (long)PAGES / 8, "zsmalloc holds %ld pages", zpool);
	CHECK(esx_sysfs_long("used_pages") == used - (long)PAGES / 2 + zpool,
	      "pool used %ld, want %ld - %u + %ld", esx_sysfs_long("used_pages"), used,
	      PAGES / 2, zpool);
	printf("compression: %u pages in %ld zsmalloc pages (%.1f:1), %ld bytes\n",
	       PAGES / 2, zpool, (double)(PAGES / 2) / zpool,
	       esx_sysfs_long("reclaim/compressed_bytes"));

	set_reclaim(id, ESXMEM_NO_TARGET, PAGES);
	CHECK(verify(map, NULL) == 0, "pages differ after decompression");
	vi = info(id);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS) == PAGES / 2 && esxmem_vm_state_pages(vi, ESXMEM_PAGE_COMPRESSED) == 0,
	      "%llu decompressed, %llu still compressed",
	      (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS),
	      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_COMPRESSED));
	CHECK(esx_sysfs_long("reclaim/zpool_pages") == 0 && esx_sysfs_long("used_pages") == used,
	      "zsmalloc %ld pages, pool used %ld (was %ld)",
	      esx_sysfs_long("reclaim/zpool_pages"), esx_sysfs_long("used_pages"), used);
	(void)fd;
}

static void test_swap(uint32_t id, char *map)
{
	long used = esx_sysfs_long("used_pages");
	struct esxmem_vm_info *vi;
	double t;

	set_reclaim(id, 0, 0);
	t = esx_now();
	CHECK(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_SWAPPED) == PAGES, 120),
	      "%llu of %u pages swapped", (unsigned long long)state(id, ESXMEM_PAGE_SWAPPED),
	      PAGES);
	t = esx_now() - t;
	CHECK(esx_sysfs_long("used_pages") == used - (long)PAGES,
	      "pool used %ld, want %ld", esx_sysfs_long("used_pages"), used - (long)PAGES);
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, NULL) == 0, "pages differ after swap-in");
	vi = info(id);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS) == PAGES && esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) >= PAGES && esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS) == 0,
	      "swap: %llu in, %llu out, %llu errors", (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS),
	      (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS), (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS));
	printf("swap: %u pages out in %.2f s\n", PAGES, t);
}

static void test_stress(uint32_t id, char *map)
{
	static uint32_t ver[PAGES];
	struct esxmem_vm_info *before = info(id), *vi;
	unsigned long ops = 0, bad = 0;
	double end;

	set_reclaim(id, PAGES / 4, PAGES / 8);
	end = esx_now() + 10;
	while (esx_now() < end) {
		uint32_t i = (uint32_t)(esx_mix(ops) % PAGES);
		uint64_t *p = (uint64_t *)(map + (size_t)i * ESX_PAGE);

		if (!same(p, i, ver[i]))
			bad++;
		if (ops & 1)
			fill(p, i, ++ver[i]);
		ops++;
	}
	vi = info(id);
	CHECK(bad == 0, "%lu of %lu checks found a wrong page", bad, ops);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) > esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS) && esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS) > esxmem_vm_value(before, ESXMEM_VM_SWAP_INS) &&
	      esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS) > esxmem_vm_value(before, ESXMEM_VM_COMPRESS_OUTS) && esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS) > esxmem_vm_value(before, ESXMEM_VM_COMPRESS_INS),
	      "stress used swap (%llu out, %llu in) and compression (%llu out, %llu in)",
	      (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS)),
	      (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_INS)),
	      (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS) - esxmem_vm_value(before, ESXMEM_VM_COMPRESS_OUTS)),
	      (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS) - esxmem_vm_value(before, ESXMEM_VM_COMPRESS_INS)));
	printf("stress: %lu accesses; %llu swap-outs, %llu swap-ins, %llu compressed, %llu decompressed\n",
	       ops, (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_OUTS)),
	       (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS) - esxmem_vm_value(before, ESXMEM_VM_SWAP_INS)),
	       (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS) - esxmem_vm_value(before, ESXMEM_VM_COMPRESS_OUTS)),
	       (unsigned long long)(esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS) - esxmem_vm_value(before, ESXMEM_VM_COMPRESS_INS)));
	set_reclaim(id, ESXMEM_NO_TARGET, PAGES / 8);
	CHECK(verify(map, ver) == 0, "pages differ after the stress");
	/* Back to version 0 for the tests that follow. */
	for (uint32_t i = 0; i < PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i, 0);
}

static void test_pinned(int fd, uint32_t id, char *map)
{
	struct iovec iov = { .iov_base = map + 7 * ESX_PAGE, .iov_len = ESX_PAGE };
	uint64_t skipped = esxmem_vm_value(info(id), ESXMEM_VM_RECLAIM_SKIPPED);
	int pipefd[2];

	REQUIRE(!pipe(pipefd), "pipe");
	/* The pipe holds a reference to the page until it is read or closed. */
	REQUIRE(vmsplice(pipefd[1], &iov, 1, 0) == (ssize_t)ESX_PAGE, "vmsplice: %s",
		strerror(errno));
	set_reclaim(id, 0, 0);
	CHECK(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_SWAPPED) == PAGES - 1 &&
			   esxmem_vm_value(info(id), ESXMEM_VM_RECLAIM_SKIPPED) > skipped, 120),
	      "%llu swapped, %llu skipped", (unsigned long long)state(id, ESXMEM_PAGE_SWAPPED),
	      (unsigned long long)(esxmem_vm_value(info(id), ESXMEM_VM_RECLAIM_SKIPPED) - skipped));
	CHECK(state(id, ESXMEM_PAGE_PRIVATE) == 1, "the spliced page went");
	close(pipefd[0]);
	close(pipefd[1]);
	CHECK(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_SWAPPED) == PAGES, 30),
	      "the page let go of was not swapped");
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, NULL) == 0, "pages differ");
	(void)fd;
}

static void test_bad_files(int fd, uint32_t id, int swapfd)
{
	uint64_t slots = esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS);
	int ro, dir, pipefd[2], empty, other;

	CHECK(esxmem_vm_set_swap(nl, id, 1000) == -EBADF, "a closed fd was taken");
	ro = open(SWAPDIR "/swap", O_RDONLY | O_CLOEXEC);
	CHECK(esxmem_vm_set_swap(nl, id, ro) == -EBADF, "a read-only file was taken");
	close(ro);
	dir = open(SWAPDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(esxmem_vm_set_swap(nl, id, dir) == -EINVAL, "a directory was taken");
	close(dir);
	REQUIRE(!pipe(pipefd), "pipe");
	CHECK(esxmem_vm_set_swap(nl, id, pipefd[1]) == -EBADF ||
	      esxmem_vm_set_swap(nl, id, pipefd[1]) == -EINVAL, "a pipe was taken");
	close(pipefd[0]);
	close(pipefd[1]);
	empty = swap_file(SWAPDIR, "empty", 0, false, O_RDWR);
	CHECK(esxmem_vm_set_swap(nl, id, empty) == -ENOSPC, "an empty file was taken");
	close(empty);
	CHECK(esxmem_vm_set_swap(nl, id, fd) == -EINVAL, "an esxmem object was taken");
	other = esx_open();
	CHECK(esxmem_vm_set_swap(nl, esx_stats(other).id, swapfd) == -ENODATA,
	      "a VM without a size took a swap file");
	close(other);
	CHECK(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS) == slots, "a refused file changed the swap file");
}

static void test_full_fs(uint32_t id, char *map, int swapfd)
{
	struct esxmem_vm_info *vi;
	int full;

	REQUIRE(!mkdir(FULLDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", FULLDIR, "tmpfs", 0, "size=256k"), "mount: %s",
		strerror(errno));
	/* Sparse: the filesystem fills up long before the file. */
	full = swap_file(FULLDIR, "swap", PAGES, false, O_RDWR);
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	/* Swapped pages in the current file: it cannot go. */
	set_reclaim(id, PAGES - 8, 0);
	REQUIRE(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_SWAPPED) >= 8, 30), "nothing swapped");
	CHECK(esxmem_vm_set_swap(nl, id, full) == -EBUSY, "a swap file in use was replaced");
	CHECK(esxmem_vm_set_swap(nl, id, -1) == -EBUSY, "a swap file in use was dropped");
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, NULL) == 0, "pages differ");
	CHECK(state(id, ESXMEM_PAGE_SWAPPED) == 0, "pages still swapped");

	REQUIRE_OK(esxmem_vm_set_swap(nl, id, full));
	CHECK(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS) == PAGES, "swap slots %llu",
	      (unsigned long long)esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS));
	set_reclaim(id, 0, 0);
	CHECK(ESX_WAIT_FOR(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_ERRORS) > 0, 60), "no swap error counted");
	vi = info(id);
	CHECK(esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED) > 0 &&
	      esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED) <= 64,
	      "%llu pages in a 64-page filesystem",
	      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED));
	CHECK(esxmem_vm_state_pages(vi, ESXMEM_PAGE_PRIVATE) + esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED) == PAGES,
	      "pages lost: %llu private + %llu swapped",
	      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_PRIVATE),
	      (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED));
	printf("full filesystem: %llu pages swapped, %llu errors, the rest in memory\n",
	       (unsigned long long)esxmem_vm_state_pages(vi, ESXMEM_PAGE_SWAPPED),
	       (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS));
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, NULL) == 0, "pages differ after the full filesystem");
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	close(full);
}

/* A second VM writes twice the pool; no daemon; the module pages it out. */
static void test_emergency(int swapfd)
{
	int fd = esx_open();
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_TARGET_PAGES, .target_pages = 256 };
	uint64_t emergency = (uint64_t)esx_sysfs_long("reclaim/emergency_pages");
	uint32_t id, i;
	char *map;
	long pool;

	REQUIRE(!ioctl(fd, ESXMEM_IOC_SET_SIZE, &(uint64_t){ (uint64_t)PAGES * ESX_PAGE }),
		"set size");
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	REQUIRE_OK(esxmem_vm_set(nl, id, &s));
	set_reclaim(id, ESXMEM_NO_TARGET, PAGES / 10);
	pool = esx_sysfs_long("used_pages") + PAGES / 2;
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", pool));
	for (i = 0; i < PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i, 0);
	CHECK(verify(map, NULL) == 0, "pages differ after the emergency");
	struct esxmem_vm_info *vi = info(id);

	CHECK((uint64_t)esx_sysfs_long("reclaim/emergency_pages") - emergency >= PAGES / 2,
	      "emergency paged out %llu", (unsigned long long)
	      ((uint64_t)esx_sysfs_long("reclaim/emergency_pages") - emergency));
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_LOW_WAITS) > 0, "no new page waited in the low state");
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_FAULT_WAIT_TIMEOUTS) == 0, "%llu faults timed out",
	      (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_FAULT_WAIT_TIMEOUTS));
	printf("emergency: %u pages written to a pool of %u: %llu swapped, %llu compressed, %llu waits in low\n",
	       PAGES, PAGES / 2, (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS),
	       (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS), (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_LOW_WAITS));
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved_pool));
	/* Leaving the VM freed its swap and its cache. */
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("reclaim/zpool_pages") == 0, 10),
	      "zsmalloc keeps %ld pages", esx_sysfs_long("reclaim/zpool_pages"));
}

/*
 * Reclaim of part of a VM in large pages breaks only as many large pages as
 * it takes: its batches are smaller than a large page, and the pieces of the
 * one broken last go first, in the next batches too.
 */
#define BREAK_PAGES	(2 * PAGES)
#define BREAK_TAKE	1024u

static void test_breaks(int swapfd)
{
	int fd = esx_open();
	long large0 = esx_sysfs_long("large_pages_in_use"), large, breaks0, breaks;
	uint32_t id, i;
	char *map;

	REQUIRE(!ioctl(fd, ESXMEM_IOC_SET_SIZE, &(uint64_t){ (uint64_t)BREAK_PAGES * ESX_PAGE }),
		"set size");
	map = esx_map(fd, BREAK_PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	for (i = 0; i < BREAK_PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i, 0);
	large = esx_sysfs_long("large_pages_in_use") - large0;
	CHECK(large >= 8, "only %ld large pages to reclaim from", large);
	breaks0 = esx_sysfs_long("large_page_breaks");
	set_reclaim(id, BREAK_PAGES - BREAK_TAKE, 0);
	CHECK(ESX_WAIT_FOR(state(id, ESXMEM_PAGE_SWAPPED) >= BREAK_TAKE, 120),
	      "%llu of %u pages swapped", (unsigned long long)state(id, ESXMEM_PAGE_SWAPPED),
	      BREAK_TAKE);
	breaks = esx_sysfs_long("large_page_breaks") - breaks0;
	CHECK(breaks <= (long)(BREAK_TAKE + 511) / 512 + 1,
	      "%ld large pages broken to swap %u pages", breaks, BREAK_TAKE);
	printf("breaks: %u pages swapped from %ld large pages broke %ld\n", BREAK_TAKE, large,
	       breaks);
	set_reclaim(id, ESXMEM_NO_TARGET, 0);
	CHECK(verify(map, NULL) == 0, "pages differ after the partial swap");
	munmap(map, BREAK_PAGES * ESX_PAGE);
	close(fd);
}

/*
 * Page @i of the store test compresses to about 40 + 16 i bytes: random
 * bytes, then zeros. So each page lands in a zsmalloc size class of its
 * own, and each needs a new zspage of 1 to 4 pages.
 */
#define STORE_CLASSES	120u
#define STORE_PAGES	(2 * STORE_CLASSES)

static void fill_sized(uint64_t *p, uint32_t i)
{
	size_t words = i < STORE_CLASSES ? (40 + 16 * i) / 8 : WORDS, w;
	uint64_t seed = esx_mix(0x5eed0000u + i);

	memset(p, 0, ESX_PAGE);
	for (w = 0; w < words; w++)
		p[w] = seed = esx_mix(seed + w);
}

static void test_store_beyond(void)
{
	static uint64_t want[WORDS];
	int fd = esx_open();
	long used, beyond, most = 0;
	uint32_t id, i, bad = 0;
	uint64_t compressed;
	char *map;

	REQUIRE(!ioctl(fd, ESXMEM_IOC_SET_SIZE,
		       &(uint64_t){ (uint64_t)STORE_PAGES * ESX_PAGE }), "set size");
	map = esx_map(fd, STORE_PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	for (i = 0; i < STORE_PAGES; i++)
		fill_sized((uint64_t *)(map + (size_t)i * ESX_PAGE), i);
	used = esx_pool_settled(10);
	REQUIRE(esx_sysfs_long("reclaim/zpool_pages") == 0, "the store is not empty");
	/* Exhausted: every page the store takes must come from beyond. */
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", used));
	set_reclaim(id, 0, STORE_PAGES);
	/*
	 * Either every page that compresses went in, or the store stopped at
	 * the edge: the next page would need more than the 3 pages left.
	 */
	CHECK(ESX_WAIT_FOR((beyond = esx_sysfs_long("used_pages") - used,
			    most = beyond > most ? beyond : most,
			    state(id, ESXMEM_PAGE_COMPRESSED) == STORE_CLASSES ||
			    beyond > 16 - 4), 60),
	      "compressed %llu of %u, %ld pages beyond the pool",
	      (unsigned long long)state(id, ESXMEM_PAGE_COMPRESSED), STORE_CLASSES, beyond);
	compressed = state(id, ESXMEM_PAGE_COMPRESSED);
	beyond = esx_sysfs_long("used_pages") - used;
	most = beyond > most ? beyond : most;
	CHECK(most <= 16, "the store took the pool %ld pages beyond its size (%llu pages compressed in %ld zsmalloc pages)",
	      most, (unsigned long long)compressed, esx_sysfs_long("reclaim/zpool_pages"));
	CHECK(compressed > 0, "nothing compressed");
	printf("store beyond the pool: %llu pages of %u classes compressed in %ld zsmalloc pages, %ld pages beyond\n",
	       (unsigned long long)compressed, STORE_CLASSES,
	       esx_sysfs_long("reclaim/zpool_pages"), most);

	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved_pool));
	set_reclaim(id, ESXMEM_NO_TARGET, STORE_PAGES);
	for (i = 0; i < STORE_PAGES; i++) {
		fill_sized(want, i);
		bad += !!memcmp(map + (size_t)i * ESX_PAGE, want, ESX_PAGE);
	}
	CHECK(bad == 0, "%u pages differ after the store test", bad);
	munmap(map, STORE_PAGES * ESX_PAGE);
	close(fd);
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("reclaim/zpool_pages") == 0, 10),
	      "zsmalloc keeps %ld pages", esx_sysfs_long("reclaim/zpool_pages"));
}

int main(void)
{
	int fd, swapfd;
	uint32_t id, i;
	char *map;

	main_pid = getpid();
	saved_pool = esx_sysfs_long("pool_pages");
	saved_percent = esx_sysfs_long("reclaim/compress_percent");
	atexit(restore);
	esx_background_off();
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=64m"), "mount: %s", strerror(errno));
	swapfd = swap_file(SWAPDIR, "swap", PAGES, true, O_RDWR);

	fd = esx_open();
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	CHECK(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_TARGET_PAGES) == ESXMEM_NO_TARGET &&
	      esxmem_vm_value(info(id), ESXMEM_VM_COMPRESS_MAX_PAGES) == ESXMEM_NO_TARGET && esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS) == 0,
	      "defaults: no target, default cache, no swap file");
	for (i = 0; i < PAGES; i++)
		fill((uint64_t *)(map + (size_t)i * ESX_PAGE), i, 0);

	test_compression(fd, id, map);
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	CHECK(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS) == PAGES, "swap slots");
	test_swap(id, map);
	test_stress(id, map);
	test_pinned(fd, id, map);
	test_bad_files(fd, id, swapfd);
	test_full_fs(id, map, swapfd);

	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	test_emergency(swapfd);
	test_breaks(swapfd);
	test_store_beyond();
	CHECK(esx_sysfs_long("reclaim/swapped_pages") == 0 &&
	      esx_sysfs_long("reclaim/compressed_pages") == 0,
	      "pages left in reclaim after every VM went");
	return vmtest_done("esxmem_reclaim");
}
