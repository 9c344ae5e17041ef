// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_large: objects up to ESXMEM_MAX_OBJECT_BYTES (4 TiB) in a test host
 * of 4 GiB, whose per-page tables outgrow what kvmalloc() accepts (INT_MAX
 * bytes, beyond which it WARNs, and the test host panics on a WARN).
 *
 *  - SET_SIZE of 1 TiB, 2 TiB and the maximum (pmaps of 2, 4 and 8 GiB)
 *    each succeeds or fails with ENOMEM; one page more than the maximum
 *    fails with EINVAL;
 *  - a 256 GiB object (512 MiB of pmap) works: a window mapped near its end
 *    is written, read back and punched, and close returns every page;
 *  - with sharing on, the frame table grows to half an entry per guest page
 *    for 256 GiB (512 MiB), and shrinks back when the object goes;
 *  - 256 GiB objects up to 1 TiB in all: the scanner's resize to a frame
 *    table of 2 GiB succeeds or fails, quietly, and the table shrinks back
 *    when they go;
 *  - memory comes back after close: the pool's used pages, and MemFree
 *    within 64 MiB.
 */
#include "esxtest.h"
#include "vmtest.h"

#define GiB		(1ULL << 30)
#define TiB		(1ULL << 40)
#define BIG		(256 * GiB)
#define WINDOW		16u		/* pages mapped near the end */
#define WAIT_SECS	300.0
#define MARGIN_KIB	(64L << 10)

static long meminfo_kib(const char *key)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	REQUIRE(f, "open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	REQUIRE(v >= 0, "no %s in /proc/meminfo", key);
	return v;
}

/* SET_SIZE of @bytes on a new object: 0 or -errno; the object in *fd. */
static int sized(uint64_t bytes, int *fd)
{
	*fd = esx_open();
	return ioctl(*fd, ESXMEM_IOC_SET_SIZE, &bytes) ? -errno : 0;
}

/* The frame table's bytes: what share/metadata_bytes adds to the pmaps. */
static long table_bytes(void)
{
	return esx_sysfs_long("share/metadata_bytes") - esx_sysfs_long("share/guest_pages") * 8;
}

/* The frame table the scanner sizes for the guest pages there are now. */
static long table_bytes_wanted(void)
{
	unsigned long half = (unsigned long)esx_sysfs_long("share/guest_pages") / 2, cap = 1;

	while (cap * 2 <= half)
		cap *= 2;
	return (long)(cap < 1024 ? 1024 : cap) * 16;
}

/*
 * Waits until the scanner has begun a turn after this call: its turns
 * begin with the frame table's resize, and each turn that scans adds to
 * pages_scanned. The turn that adds after the second reading began after
 * the first one had added.
 */
static bool scanner_turned(void)
{
	long p0 = esx_sysfs_long("share/pages_scanned"), p1;

	if (!ESX_WAIT_FOR(esx_sysfs_long("share/pages_scanned") > p0, WAIT_SECS))
		return false;
	p1 = esx_sysfs_long("share/pages_scanned");
	return ESX_WAIT_FOR(esx_sysfs_long("share/pages_scanned") > p1, WAIT_SECS);
}

static void test_limits(void)
{
	static const uint64_t sizes[] = { 1 * TiB, 2 * TiB, ESXMEM_MAX_OBJECT_BYTES };
	long used0 = esx_sysfs_long("used_pages");
	uint64_t over = ESXMEM_MAX_OBJECT_BYTES + ESX_PAGE;
	size_t i;
	int fd, err;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double t0 = esx_now();

		err = sized(sizes[i], &fd);
		printf("SET_SIZE %llu GiB: %s in %.2fs, MemFree %ld MiB\n",
		       (unsigned long long)(sizes[i] / GiB), err ? strerror(-err) : "ok",
		       esx_now() - t0, meminfo_kib("MemFree") >> 10);
		CHECK(err == 0 || err == -ENOMEM, "SET_SIZE of %llu GiB: %s",
		      (unsigned long long)(sizes[i] / GiB), strerror(-err));
		if (!err)
			CHECK(esx_stats(fd).size_pages == sizes[i] / ESX_PAGE, "size %llu pages",
			      (unsigned long long)esx_stats(fd).size_pages);
		else
			CHECK(esx_stats(fd).size_pages == 0, "a failed SET_SIZE leaves no size");
		close(fd);
	}
	CHECK(sized(over, &fd) == -EINVAL, "one page over the maximum must fail with EINVAL");
	close(fd);
	CHECK(esx_sysfs_long("used_pages") == used0, "sizes alone charge the pool nothing");
}

static void test_big_object(void)
{
	long used0 = esx_sysfs_long("used_pages");
	const uint64_t pages = BIG / ESX_PAGE;
	const off_t where = (off_t)(pages - WINDOW - 3);
	struct esxmem_vm_stats st;
	double t0 = esx_now();
	uint8_t *p;
	size_t i;
	int fd, err;

	err = sized(BIG, &fd);
	printf("SET_SIZE 256 GiB: %s in %.2fs\n", err ? strerror(-err) : "ok", esx_now() - t0);
	REQUIRE(err == 0, "SET_SIZE of 256 GiB (a pmap of 512 MiB): %s", strerror(-err));
	st = esx_stats(fd);
	CHECK(st.size_pages == pages && st.pmap_bytes == pages * 8 &&
	      st.state_pages[ESXMEM_PAGE_UNBACKED] == pages, "size %llu pages, pmap %llu bytes",
	      (unsigned long long)st.size_pages, (unsigned long long)st.pmap_bytes);

	p = esx_map(fd, WINDOW, where);
	REQUIRE(p, "mmap at page %lld: %s", (long long)where, strerror(errno));
	CHECK(esx_is_zero(p, WINDOW * ESX_PAGE), "the window reads zero");
	for (i = 0; i < WINDOW; i++)
		memset(p + i * ESX_PAGE, (int)i + 1, ESX_PAGE);
	for (i = 0; i < WINDOW; i++)
		if (p[i * ESX_PAGE] != (uint8_t)(i + 1) || p[i * ESX_PAGE + 4095] != (uint8_t)(i + 1))
			CHECK(0, "page %zu of the window reads %#x", i, p[i * ESX_PAGE]);
	CHECK(esx_stats(fd).consumed_pages == WINDOW, "consumed %llu pages",
	      (unsigned long long)esx_stats(fd).consumed_pages);
	CHECK(esx_sysfs_long("used_pages") == used0 + WINDOW, "pool charged");

	CHECK(esx_punch(fd, (where + 4) * (off_t)ESX_PAGE, 8 * ESX_PAGE) == 0, "punch");
	CHECK(esx_is_zero(p + 4 * ESX_PAGE, 8 * ESX_PAGE), "punched pages read zero");
	CHECK(p[3 * ESX_PAGE] == 4 && p[12 * ESX_PAGE] == 13, "neighbours intact");
	CHECK(esx_stats(fd).consumed_pages == WINDOW - 8, "consumed %llu after the punch",
	      (unsigned long long)esx_stats(fd).consumed_pages);
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_UNBACKED] == pages - WINDOW, "unbacked");

	munmap(p, WINDOW * ESX_PAGE);
	t0 = esx_now();
	close(fd);
	printf("close of 256 GiB: %.2fs\n", esx_now() - t0);
	CHECK(esx_sysfs_long("used_pages") == used0, "close left %ld pages charged",
	      esx_sysfs_long("used_pages") - used0);
}

static void test_frame_table(void)
{
	int fds[4], n = 0, i, err = 0;
	long base;

	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE(ESX_WAIT_FOR(table_bytes() == table_bytes_wanted(), WAIT_SECS),
		"frame table %ld bytes, want %ld", table_bytes(), table_bytes_wanted());
	base = table_bytes();

	/* One 256 GiB object: a table of 512 MiB, and back after close. */
	REQUIRE_OK(sized(BIG, &fds[0]));
	CHECK(ESX_WAIT_FOR(table_bytes() == table_bytes_wanted(), WAIT_SECS),
	      "frame table %ld bytes, want %ld", table_bytes(), table_bytes_wanted());
	printf("frame table for %ld guest pages: %ld MiB\n", esx_sysfs_long("share/guest_pages"),
	       table_bytes() >> 20);
	CHECK(ESX_WAIT_FOR(esx_stats(fds[0]).pages_scanned > 0, WAIT_SECS),
	      "the scanner visits the object");
	close(fds[0]);
	CHECK(ESX_WAIT_FOR(table_bytes() == base, WAIT_SECS),
	      "frame table %ld bytes after close, %ld before", table_bytes(), base);

	/*
	 * 1 TiB in all wants a table of 2 GiB, beyond INT_MAX. The scanner
	 * rests meanwhile, so that no table for less is in the way.
	 */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	while (n < 4 && !(err = sized(BIG, &fds[n])))
		n++;
	if (err) {
		CHECK(err == -ENOMEM, "SET_SIZE of another 256 GiB: %s", strerror(-err));
		close(fds[n]);
	}
	printf("%d objects of 256 GiB, MemFree %ld MiB\n", n, meminfo_kib("MemFree") >> 10);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	CHECK(scanner_turned(), "the scanner goes on");
	printf("frame table for %ld guest pages: %ld MiB (%ld MiB wanted)\n",
	       esx_sysfs_long("share/guest_pages"), table_bytes() >> 20,
	       table_bytes_wanted() >> 20);

	for (i = 0; i < n; i++)
		close(fds[i]);
	CHECK(ESX_WAIT_FOR(table_bytes() == base, WAIT_SECS),
	      "frame table %ld bytes after close, %ld before", table_bytes(), base);
}

int main(void)
{
	long used0, free0;

	esx_background_off();
	used0 = esx_sysfs_long("used_pages");
	free0 = meminfo_kib("MemFree");
	printf("MemTotal %ld MiB, MemFree %ld MiB\n", meminfo_kib("MemTotal") >> 10, free0 >> 10);

	test_limits();
	test_big_object();
	test_frame_table();

	CHECK(esx_sysfs_long("used_pages") == used0, "%ld pages left charged",
	      esx_sysfs_long("used_pages") - used0);
	CHECK(ESX_WAIT_FOR(meminfo_kib("MemFree") > free0 - MARGIN_KIB, 60),
	      "MemFree %ld MiB after close, %ld MiB before", meminfo_kib("MemFree") >> 10,
	      free0 >> 10);
	return vmtest_done("esxmem_large");
}
