// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_hugepage: guest RAM in 2 MiB large pages (kmod/large.c).
 *
 *  - with large_pages "always", a mapping that mmap() aligned is written
 *    whole: every 2 MiB is one large page, mapped with one PMD
 *    (FilePmdMapped in smaps covers the mapping), the pool and the states
 *    count 4 KiB pages as before, and every byte reads back;
 *  - a mapping placed off 2 MiB from its file offset, and an object
 *    written with large_pages "never", take small pages (no PMD, no large
 *    page) and read back as well;
 *  - reads of memory that holds no data map a large zero frame with one
 *    PMD and charge nothing; a write there then gets a large page for its
 *    2 MiB, and every other page still reads zero;
 *  - a hole over part of a large page breaks it: the hole reads zero, the
 *    rest keeps its bytes, all-zero pieces take no page, and the pool gets
 *    back what the hole and the zero pieces held; a hole over a whole
 *    large page frees it whole;
 *  - a large page held by a pipe is never broken: a hole over part of it
 *    fails with EBUSY and changes nothing, and goes through once the pipe
 *    lets go; a hole over all of it frees it, charged until let go;
 *  - the sharing scanner, in the high state with share/break_large
 *    "pressure", breaks large pages with more than large_max_zero_pieces
 *    (256 by default, 0 to 512) all-zero pieces and no others: their zero
 *    pieces go to the zero state and the pool gets them back, every byte
 *    reads back, and with 512 none is broken;
 *  - a mostly-zero large page pinned long-term (esxtest_pin) is neither
 *    unmapped nor broken by the scanner, and no failed break is counted;
 *  - sharing with share/break_large "always" breaks large pages to merge
 *    their pieces with another VM's identical pages, and every byte reads
 *    back in both; with "never" nothing is broken or merged;
 *  - closing returns every page.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>
#include <fcntl.h>
#include <sys/uio.h>

#define LARGE		512UL			/* pages in a large page */
#define OBJ_PAGES	(16 * LARGE)		/* 32 MiB */
#define WAIT_SECS	120.0

static char saved_large[32], saved_break[32], saved_sharing[8], saved_zero[8];

static void restore(void)
{
	/* "[always] never" as shown: the word in brackets. */
	char *open = strchr(saved_large, '['), *end;

	if (open && (end = strchr(open, ']'))) {
		*end = 0;
		esx_sysfs_write("large_pages", open + 1);
	}
	open = strchr(saved_break, '[');
	if (open && (end = strchr(open, ']'))) {
		*end = 0;
		esx_sysfs_write("share/break_large", open + 1);
	}
	esx_sysfs_write("share/enabled", saved_sharing);
	esx_sysfs_write("large_max_zero_pieces", saved_zero);
}

/* The kB of FilePmdMapped of the mapping that holds @addr (smaps). */
static long pmd_mapped_kib(const void *addr)
{
	unsigned long lo, hi, a = (unsigned long)addr;
	char line[256];
	bool in = false;
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	REQUIRE(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "FilePmdMapped:", 14))
			kib = strtol(line + 14, NULL, 10);
	}
	fclose(f);
	REQUIRE(kib >= 0, "no FilePmdMapped for %p in smaps", addr);
	return kib;
}

static uint64_t word(int obj, size_t page)
{
	return ((uint64_t)obj << 40) ^ (page * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a;
}

/* Writes page @i of @p (object page @first + i) as @obj's page. */
static void fill(uint8_t *p, size_t pages, size_t first, int obj)
{
	for (size_t i = 0; i < pages; i++)
		for (size_t w = 0; w < ESX_PAGE / 8; w += 64)
			((uint64_t *)(p + i * ESX_PAGE))[w] = word(obj, first + i) + w;
}

static size_t bad_pages(const uint8_t *p, size_t pages, size_t first, int obj)
{
	size_t bad = 0;

	for (size_t i = 0; i < pages; i++)
		for (size_t w = 0; w < ESX_PAGE / 8; w += 64)
			if (((const uint64_t *)(p + i * ESX_PAGE))[w] != word(obj, first + i) + w) {
				bad++;
				break;
			}
	return bad;
}

static void *map_at(int fd, size_t pages, size_t offset_pages)
{
	void *p = esx_map(fd, pages, offset_pages);

	REQUIRE(p, "mmap %zu pages at page %zu: %s", pages, offset_pages, strerror(errno));
	return p;
}

static void test_backing(void)
{
	long used0 = esx_sysfs_long("used_pages");
	long in_use0 = esx_sysfs_long("large_pages_in_use");
	int fd = esx_open();
	uint8_t *p = map_at(fd, OBJ_PAGES, 0);
	struct esxmem_vm_stats st;

	CHECK(((uintptr_t)p & (LARGE * ESX_PAGE - 1)) == 0, "mmap() aligned the mapping to 2 MiB: %p", p);
	fill(p, OBJ_PAGES, 0, 1);
	CHECK(esx_sysfs_long("large_pages_in_use") - in_use0 == (long)(OBJ_PAGES / LARGE),
	      "one large page per 2 MiB: %ld", esx_sysfs_long("large_pages_in_use") - in_use0);
	CHECK(pmd_mapped_kib(p) == (long)(OBJ_PAGES * 4),
	      "every 2 MiB mapped with a PMD: FilePmdMapped %ld kB of %lu", pmd_mapped_kib(p), OBJ_PAGES * 4);
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_PRIVATE] == OBJ_PAGES,
	      "the states count 4 KiB pages: %llu private", (unsigned long long)st.state_pages[ESXMEM_PAGE_PRIVATE]);
	CHECK(esx_sysfs_long("used_pages") - used0 == (long)OBJ_PAGES,
	      "the pool counts 4 KiB pages: %ld", esx_sysfs_long("used_pages") - used0);
	CHECK(bad_pages(p, OBJ_PAGES, 0, 1) == 0, "every byte reads back");

	/* A hole over part of one large page breaks it. */
	long breaks0 = esx_sysfs_long("large_page_breaks"), used1 = esx_sysfs_long("used_pages");
	size_t hole = 3 * LARGE + 100;

	memset(p + (3 * LARGE + 200) * ESX_PAGE, 0, 50 * ESX_PAGE);	/* 50 zero pieces */
	CHECK_OK(esx_punch(fd, hole * ESX_PAGE, 10 * ESX_PAGE));
	/* Before the reads below, which put the hole in the zero state. */
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_ZERO] == 50 && st.state_pages[ESXMEM_PAGE_UNBACKED] == 10,
	      "zero pieces are in the zero state, the hole unbacked: %llu, %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_ZERO],
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_UNBACKED]);
	CHECK(esx_sysfs_long("large_page_breaks") - breaks0 == 1, "the hole broke one large page");
	CHECK(esx_is_zero(p + hole * ESX_PAGE, 10 * ESX_PAGE), "the hole reads zero");
	CHECK(esx_is_zero(p + (3 * LARGE + 200) * ESX_PAGE, 50 * ESX_PAGE), "the zeroed pieces read zero");
	CHECK(bad_pages(p + 3 * LARGE * ESX_PAGE, 100, 3 * LARGE, 1) == 0 &&
	      bad_pages(p + (hole + 10) * ESX_PAGE, 90, hole + 10, 1) == 0 &&
	      bad_pages(p + (3 * LARGE + 250) * ESX_PAGE, LARGE - 250, 3 * LARGE + 250, 1) == 0,
	      "the rest of the broken page keeps its bytes");
	CHECK(used1 - esx_sysfs_long("used_pages") == 60,
	      "the hole's 10 pages and the 50 zero pieces went back: %ld", used1 - esx_sysfs_long("used_pages"));
	CHECK(bad_pages(p, 3 * LARGE, 0, 1) == 0 && bad_pages(p + 4 * LARGE * ESX_PAGE, OBJ_PAGES - 4 * LARGE, 4 * LARGE, 1) == 0,
	      "the other large pages keep their bytes");

	/* A hole over a whole large page frees it whole, unbroken. */
	long in_use1 = esx_sysfs_long("large_pages_in_use");

	used1 = esx_sysfs_long("used_pages");
	CHECK_OK(esx_punch(fd, 6 * LARGE * ESX_PAGE, LARGE * ESX_PAGE));
	CHECK(esx_sysfs_long("large_page_breaks") - breaks0 == 1, "a whole large page goes unbroken");
	CHECK(in_use1 - esx_sysfs_long("large_pages_in_use") == 1, "the large page went");
	CHECK(used1 - esx_sysfs_long("used_pages") == (long)LARGE, "its 512 pages went back");
	CHECK(esx_is_zero(p + 6 * LARGE * ESX_PAGE, LARGE * ESX_PAGE), "the hole reads zero");

	munmap(p, OBJ_PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page: %ld left",
	      esx_sysfs_long("used_pages") - used0);
	CHECK(esx_sysfs_long("large_pages_in_use") == in_use0, "and every large page");
}

static void test_fallback(void)
{
	long in_use0 = esx_sysfs_long("large_pages_in_use");
	int fd = esx_open();
	uint64_t size = OBJ_PAGES * ESX_PAGE;
	uint8_t *p;

	/*
	 * Placed one page past a 2 MiB boundary with MAP_FIXED, as a VMM that
	 * chooses its own addresses may: no 2 MiB of the object falls on a
	 * 2 MiB of the mapping.
	 */
	REQUIRE(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) == 0, "SET_SIZE: %s", strerror(errno));
	uint8_t *area = mmap(NULL, (OBJ_PAGES + 2 * LARGE) * ESX_PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(area != MAP_FAILED, "reserve: %s", strerror(errno));
	p = (uint8_t *)(((uintptr_t)area + LARGE * ESX_PAGE) & ~(LARGE * ESX_PAGE - 1)) + ESX_PAGE;
	REQUIRE(mmap(p, OBJ_PAGES * ESX_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == p,
		"mmap at %p: %s", p, strerror(errno));
	fill(p, OBJ_PAGES, 0, 2);
	CHECK(esx_sysfs_long("large_pages_in_use") == in_use0, "a misaligned mapping gets small pages");
	CHECK(pmd_mapped_kib(p) == 0, "and no PMD: %ld kB", pmd_mapped_kib(p));
	CHECK(bad_pages(p, OBJ_PAGES, 0, 2) == 0, "every byte reads back");
	munmap(area, (OBJ_PAGES + 2 * LARGE) * ESX_PAGE);
	close(fd);

	REQUIRE_OK(esx_sysfs_write("large_pages", "never"));
	fd = esx_open();
	p = map_at(fd, OBJ_PAGES, 0);
	fill(p, OBJ_PAGES, 0, 3);
	CHECK(esx_sysfs_long("large_pages_in_use") == in_use0, "large_pages never: small pages");
	CHECK(pmd_mapped_kib(p) == 0, "and no PMD: %ld kB", pmd_mapped_kib(p));
	CHECK(bad_pages(p, OBJ_PAGES, 0, 3) == 0, "every byte reads back");
	munmap(p, OBJ_PAGES * ESX_PAGE);
	close(fd);
	REQUIRE_OK(esx_sysfs_write("large_pages", "always"));
}

static void test_zero(void)
{
	long used0 = esx_sysfs_long("used_pages"), in_use0 = esx_sysfs_long("large_pages_in_use");
	int fd = esx_open();
	uint8_t *p = map_at(fd, OBJ_PAGES, 0);
	volatile uint8_t sum = 0;
	struct esxmem_vm_stats st;

	for (size_t i = 0; i < OBJ_PAGES; i++)
		sum += p[i * ESX_PAGE];
	CHECK(sum == 0, "unbacked memory reads zero");
	CHECK(pmd_mapped_kib(p) == (long)(OBJ_PAGES * 4),
	      "reads map the large zero frame with PMDs: FilePmdMapped %ld kB", pmd_mapped_kib(p));
	CHECK(esx_sysfs_long("used_pages") == used0, "reads charge nothing");
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_ZERO] == OBJ_PAGES, "every page is in the zero state: %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_ZERO]);

	p[5 * LARGE * ESX_PAGE + 7] = 42;
	CHECK(esx_sysfs_long("large_pages_in_use") - in_use0 == 1, "a write gets a large page for its 2 MiB");
	CHECK(p[5 * LARGE * ESX_PAGE + 7] == 42, "the write reads back");
	p[5 * LARGE * ESX_PAGE + 7] = 0;
	CHECK(esx_is_zero(p, OBJ_PAGES * ESX_PAGE), "every other page still reads zero");
	CHECK(esx_sysfs_long("used_pages") - used0 == (long)LARGE, "one large page charged");
	munmap(p, OBJ_PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page");
}

/* A pipe holding page @p (vmsplice() without SPLICE_F_GIFT), as a pin does. */
static void pipe_hold(int pfd[2], void *p)
{
	struct iovec iov = { .iov_base = p, .iov_len = ESX_PAGE };

	REQUIRE(!pipe2(pfd, O_CLOEXEC), "pipe: %s", strerror(errno));
	REQUIRE(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)ESX_PAGE, "vmsplice: %s", strerror(errno));
}

/* Whether the pipe delivers @want; closes it. */
static bool pipe_delivers(int pfd[2], const uint8_t *want)
{
	static uint8_t page[ESX_PAGE];
	size_t have = 0;
	ssize_t n;

	close(pfd[1]);
	while (have < ESX_PAGE && (n = read(pfd[0], page + have, ESX_PAGE - have)) > 0)
		have += (size_t)n;
	close(pfd[0]);
	return have == ESX_PAGE && !memcmp(page, want, ESX_PAGE);
}

/*
 * A large page that someone holds (a pipe here, a pin for DMA alike) may be
 * written by them at any moment: it is never broken, copied from or zeroed.
 */
static void test_held(void)
{
	long used0 = esx_sysfs_long("used_pages"), failures0 = esx_sysfs_long("large_page_break_failures");
	int fd = esx_open(), pfd[2];
	uint8_t *p = map_at(fd, 4 * LARGE, 0), old[ESX_PAGE];
	long in_use, used;

	fill(p, 4 * LARGE, 0, 6);
	in_use = esx_sysfs_long("large_pages_in_use");
	memcpy(old, p + 5 * ESX_PAGE, ESX_PAGE);
	pipe_hold(pfd, p + 5 * ESX_PAGE);
	CHECK(esx_punch(fd, 100 * ESX_PAGE, 10 * ESX_PAGE) == -EBUSY,
	      "a hole over part of a held large page fails with EBUSY");
	CHECK(esx_sysfs_long("large_pages_in_use") == in_use &&
	      esx_sysfs_long("large_page_break_failures") > failures0, "and the page is not broken");
	CHECK(bad_pages(p, 4 * LARGE, 0, 6) == 0, "nothing in it changed");
	CHECK(pipe_delivers(pfd, old), "the pipe delivers its page");
	CHECK_OK(esx_punch(fd, 100 * ESX_PAGE, 10 * ESX_PAGE));
	CHECK(esx_is_zero(p + 100 * ESX_PAGE, 10 * ESX_PAGE), "let go, the hole goes through");

	/* A hole over a whole held large page: freed, charged until let go. */
	memcpy(old, p + (LARGE + 7) * ESX_PAGE, ESX_PAGE);
	pipe_hold(pfd, p + (LARGE + 7) * ESX_PAGE);
	used = esx_sysfs_long("used_pages");
	CHECK_OK(esx_punch(fd, LARGE * ESX_PAGE, LARGE * ESX_PAGE));
	CHECK(esx_is_zero(p + LARGE * ESX_PAGE, LARGE * ESX_PAGE), "the whole hole reads zero");
	CHECK(esx_sysfs_long("used_pages") == used && esx_sysfs_long("held_pages") >= (long)LARGE,
	      "the held large page stays charged: %ld held", esx_sysfs_long("held_pages"));
	CHECK(pipe_delivers(pfd, old), "the pipe delivers the old contents");
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("used_pages") == used - (long)LARGE, WAIT_SECS),
	      "let go, its 512 pages go back: %ld", used - esx_sysfs_long("used_pages"));
	munmap(p, 4 * LARGE * ESX_PAGE);
	close(fd);
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page");
}

/* Puts the object of @fd in sharing domain @domain. */
static void set_domain(struct esxmem *nl, int fd, uint32_t domain)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = domain };

	REQUIRE_OK(esxmem_vm_set(nl, esx_stats(fd).id, &s));
}

/* Two VMs with the same data in their first 2 MiB: shared once broken. */
static void test_share(void)
{
	long used0 = esx_sysfs_long("used_pages"), breaks0 = esx_sysfs_long("large_page_breaks");
	long merges0 = esx_sysfs_long("share/merges");
	int a = esx_open(), b = esx_open();
	uint8_t *pa = map_at(a, 2 * LARGE, 0), *pb = map_at(b, 2 * LARGE, 0);
	struct esxmem *nl;

	REQUIRE_OK(esxmem_open(&nl));
	set_domain(nl, a, 77);
	set_domain(nl, b, 77);

	fill(pa, 2 * LARGE, 0, 4);
	fill(pb, LARGE, 0, 4);		/* the same as a's */
	fill(pb + LARGE * ESX_PAGE, LARGE, LARGE, 5);
	REQUIRE(esx_sysfs_long("large_pages_in_use") >= 4, "both are in large pages");

	/* The rate first: it sets break_large "always" for other tests. */
	esx_share_rate("20000");
	REQUIRE_OK(esx_sysfs_write("share/break_large", "never"));
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	long scans0 = esx_sysfs_long("share/full_scans");

	CHECK(ESX_WAIT_FOR(esx_sysfs_long("share/full_scans") >= scans0 + 4, WAIT_SECS),
	      "the scanner passes over both VMs");
	CHECK(esx_sysfs_long("large_page_breaks") == breaks0 && esx_sysfs_long("share/merges") == merges0,
	      "break_large never: nothing broken, nothing merged");

	REQUIRE_OK(esx_sysfs_write("share/break_large", "always"));
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("share/merges") - merges0 >= (long)LARGE / 2, WAIT_SECS),
	      "break_large always: the identical pieces merge: %ld", esx_sysfs_long("share/merges") - merges0);
	CHECK(esx_sysfs_long("large_page_breaks") - breaks0 >= 2, "after breaking their large pages");
	CHECK(bad_pages(pa, 2 * LARGE, 0, 4) == 0, "a's bytes read back");
	CHECK(bad_pages(pb, LARGE, 0, 4) == 0 && bad_pages(pb + LARGE * ESX_PAGE, LARGE, LARGE, 5) == 0,
	      "b's bytes read back");
	/* A write to a shared piece copies it, and only for the writer. */
	pb[3] = 0x77;
	CHECK(pa[3] == (uint8_t)(word(4, 0) >> 24) && pb[3] == 0x77, "copy-on-write keeps a's byte");

	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	esxmem_close(nl);
	munmap(pa, 2 * LARGE * ESX_PAGE);
	munmap(pb, 2 * LARGE * ESX_PAGE);
	close(a);
	close(b);
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page");
}

/*
 * Large pages mostly zero are broken by the scanner's pass in the high
 * state, with share/break_large "pressure": more than large_max_zero_pieces
 * all-zero pieces, and their zero pieces take no page any more.
 */
static void test_underused(void)
{
	long used0 = esx_sysfs_long("used_pages"), breaks0 = esx_sysfs_long("large_page_underused_breaks");
	long in_use0 = esx_sysfs_long("large_pages_in_use");
	int fd = esx_open();
	uint8_t *p = map_at(fd, 3 * LARGE, 0);
	size_t i, bad = 0;
	unsigned long long scans0;
	char now[32];

	esx_sysfs_string("large_max_zero_pieces", now, sizeof(now));
	CHECK(!strcmp(now, "256"), "large_max_zero_pieces is 256 by default: %s", now);
	CHECK(esx_sysfs_write("large_max_zero_pieces", "513") == -EINVAL &&
	      esx_sysfs_write("large_max_zero_pieces", "half") == -EINVAL &&
	      esx_sysfs_long("large_max_zero_pieces") == 256, "bad values are refused and change nothing");

	/* Sparse: 8 pieces of data in 512. */
	for (i = 0; i < LARGE; i += LARGE / 8)
		fill(p + i * ESX_PAGE, 1, i, 6);
	/* Dense enough: 200 zero pieces, at most 256 allowed. */
	fill(p + LARGE * ESX_PAGE, LARGE - 200, LARGE, 6);
	/* Sparse again, with its data at the end. */
	fill(p + (3 * LARGE - 8) * ESX_PAGE, 8, 3 * LARGE - 8, 6);
	REQUIRE(esx_sysfs_long("large_pages_in_use") - in_use0 == 3, "three large pages: %ld",
		esx_sysfs_long("large_pages_in_use") - in_use0);
	REQUIRE(esx_sysfs_long("used_pages") - used0 == 3 * (long)LARGE, "charged whole");

	esx_share_rate("20000");
	REQUIRE_OK(esx_sysfs_write("share/break_large", "pressure"));
	esx_sysfs_string("state", now, sizeof(now));
	REQUIRE(!strcmp(now, "high"), "the state is high: %s", now);

	/* 512: none is broken, however empty. */
	REQUIRE_OK(esx_sysfs_write("large_max_zero_pieces", "512"));
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	scans0 = esx_stats(fd).full_scans;
	CHECK(ESX_WAIT_FOR(esx_stats(fd).full_scans >= scans0 + 2, WAIT_SECS), "the scanner passes");
	CHECK(esx_sysfs_long("large_page_underused_breaks") == breaks0 &&
	      esx_sysfs_long("large_pages_in_use") - in_use0 == 3,
	      "large_max_zero_pieces 512: nothing broken");

	/* 256: the two sparse ones go, the dense one stays. */
	REQUIRE_OK(esx_sysfs_write("large_max_zero_pieces", "256"));
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("large_page_underused_breaks") - breaks0 >= 2, WAIT_SECS),
	      "the sparse large pages are broken: %ld", esx_sysfs_long("large_page_underused_breaks") - breaks0);
	scans0 = esx_stats(fd).full_scans;
	CHECK(ESX_WAIT_FOR(esx_stats(fd).full_scans >= scans0 + 2, WAIT_SECS), "the scanner passes");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	CHECK(esx_sysfs_long("large_page_underused_breaks") - breaks0 == 2 &&
	      esx_sysfs_long("large_pages_in_use") - in_use0 == 1,
	      "only the sparse ones: %ld broken, %ld large pages left",
	      esx_sysfs_long("large_page_underused_breaks") - breaks0,
	      esx_sysfs_long("large_pages_in_use") - in_use0);
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_ZERO] == 2 * (LARGE - 8),
	      "their zero pieces are in the zero state: %llu",
	      (unsigned long long)esx_stats(fd).state_pages[ESXMEM_PAGE_ZERO]);
	CHECK(esx_sysfs_long("used_pages") - used0 == (long)LARGE + 16,
	      "the pool charges the dense one and 16 pages: %ld", esx_sysfs_long("used_pages") - used0);
	for (i = 0; i < 3 * LARGE; i++) {
		bool data = (i < LARGE && !(i % (LARGE / 8))) || (i >= LARGE && i < 2 * LARGE - 200) ||
			    i >= 3 * LARGE - 8;
		uint8_t *q = p + i * ESX_PAGE;

		if (data ? bad_pages(q, 1, i, 6) != 0 : q[0] || memcmp(q, q + 1, ESX_PAGE - 1))
			bad++;
	}
	CHECK(!bad, "every byte reads back: %zu pages wrong", bad);
	munmap(p, 3 * LARGE * ESX_PAGE);
	close(fd);
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page");
}

#define PIN_NAME	"esxtest_pin"
#define PIN_ADDR	"/sys/module/" PIN_NAME "/parameters/addr"

/* Pins the page at @addr with esxtest_pin (NULL: unpins it). */
static int pin_page(const void *addr)
{
	char buf[32];
	int fd = open(PIN_ADDR, O_WRONLY | O_CLOEXEC), len, err = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lu", (unsigned long)(uintptr_t)addr);
	if (write(fd, buf, (size_t)len) != len)
		err = -errno;
	close(fd);
	return err;
}

/*
 * A mostly-zero large page that a device holds pinned is left to it by the
 * sharing scanner: not unmapped, not broken and no failure counted, pass
 * after pass.
 */
static void test_pinned_sparse(void)
{
	long used0 = esx_sysfs_long("used_pages"), in_use0 = esx_sysfs_long("large_pages_in_use");
	long failures0 = esx_sysfs_long("large_page_break_failures");
	long breaks0 = esx_sysfs_long("large_page_underused_breaks");
	int fd = esx_open();
	uint8_t *p = map_at(fd, LARGE, 0);
	unsigned long long scans0;

	REQUIRE_OK(esx_load_module("/lib/modules/esxmem/" PIN_NAME ".ko", ""));
	fill(p, 8, 0, 7);
	REQUIRE(esx_sysfs_long("large_pages_in_use") - in_use0 == 1 && pmd_mapped_kib(p) == 2048,
		"one large page, mapped with a PMD: %ld kB", pmd_mapped_kib(p));
	REQUIRE_OK(pin_page(p));
	REQUIRE_OK(esx_sysfs_write("large_max_zero_pieces", "256"));
	esx_share_rate("20000");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	scans0 = esx_stats(fd).full_scans;
	CHECK(ESX_WAIT_FOR(esx_stats(fd).full_scans >= scans0 + 3, WAIT_SECS), "the scanner passes");
	CHECK(esx_sysfs_long("large_page_break_failures") == failures0 &&
	      esx_sysfs_long("large_page_underused_breaks") == breaks0 &&
	      esx_sysfs_long("large_pages_in_use") - in_use0 == 1,
	      "the pinned large page is left alone: %ld failed breaks, %ld broken",
	      esx_sysfs_long("large_page_break_failures") - failures0,
	      esx_sysfs_long("large_page_underused_breaks") - breaks0);
	CHECK(pmd_mapped_kib(p) == 2048, "and stays mapped with its PMD: %ld kB", pmd_mapped_kib(p));
	CHECK_OK(pin_page(NULL));
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	CHECK(bad_pages(p, 8, 0, 7) == 0 && esx_is_zero(p + 8 * ESX_PAGE, (LARGE - 8) * ESX_PAGE),
	      "every byte reads back");
	munmap(p, LARGE * ESX_PAGE);
	close(fd);
	if (syscall(SYS_delete_module, PIN_NAME, O_NONBLOCK))
		fprintf(stderr, "unload %s: %s\n", PIN_NAME, strerror(errno));
	CHECK(esx_pool_back(used0, WAIT_SECS), "closing returns every page");
}

int main(void)
{
	esx_sysfs_string("large_pages", saved_large, sizeof(saved_large));
	esx_sysfs_string("share/break_large", saved_break, sizeof(saved_break));
	esx_sysfs_string("share/enabled", saved_sharing, sizeof(saved_sharing));
	esx_sysfs_string("large_max_zero_pieces", saved_zero, sizeof(saved_zero));
	atexit(restore);
	/* Counts must not move under the checks; test_share starts sharing. */
	esx_background_off();
	REQUIRE(strstr(saved_large, "[always]"), "large_pages is always by default: %s", saved_large);
	REQUIRE(strstr(saved_break, "[pressure]"), "share/break_large is pressure by default: %s", saved_break);
	REQUIRE_OK(esx_sysfs_write("large_pages", "always"));
	CHECK(esx_sysfs_write("large_pages", "sometimes") == -EINVAL, "a bad value is refused");
	{
		char now[32];

		esx_sysfs_string("large_pages", now, sizeof(now));
		CHECK(!strcmp(now, "never [always]"), "and changes nothing: %s", now);
	}

	test_backing();
	test_fallback();
	test_zero();
	test_held();
	test_underused();
	test_pinned_sparse();
	test_share();
	return vmtest_done("esxmem_hugepage");
}
