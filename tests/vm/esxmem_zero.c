// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_zero: pages that hold no data read as the kernel's zero page,
 * mapped without a reference or a mapcount, so that no number of zero
 * mappings can overflow a count. Since Linux 6.10 the kernel refuses its
 * zero page in shared writable mappings; there they read as one of
 * esxmem's zero frames (kmod/zero.c), which counts one reference and one
 * mapcount per mapping, up to a bound, and never changes. Below, "the
 * zero page" is whichever of the two the kernel allows.
 *
 *  - every page of a 1 GiB object, read twice through each of two mappings
 *    and by a forked child, maps the kernel's zero page (/proc/self/pagemap,
 *    /proc/kpageflags), and its mapcount (/proc/kpagecount) does not grow
 *    with the mappings; reads charge the pool nothing;
 *  - writes by the parent, by the child and through process_vm_writev() (a
 *    GUP write) copy-on-write from the zero page: each reads back in every
 *    mapping, untouched pages still read zero from the zero page, which
 *    stays all zeros; the pool is charged one page per page written;
 *  - a KVM guest (tiny VMM) reads zeros from unbacked pages, which its VMM
 *    then maps as the zero page; its writes copy-on-write from there and
 *    read back on both sides;
 *  - holes punched again and again while another thread's reads map the
 *    zero page leave no zero mapping behind: a write afterwards shows in
 *    every mapping; with large pages (the default) over two 2 MiB ranges
 *    too, where the reads map a large zero frame and the writes get large
 *    pages; the rest runs with 4 KiB pages (large_pages never);
 *  - closing returns every page.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#include <pthread.h>
#include <sys/utsname.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define OBJ_PAGES	(1UL << 18)	/* 1 GiB */
#define WRITE_STRIDE	509		/* pages written: every 509th */
#define KVM_PAGES	64u
#define RAM_GPA		0x100000u
#define CODE_GPA	0x1000u
#define RACE_PAGES	256u
#define RACE_LARGE_PAGES 1024u		/* two large pages */
#define RACE_ROUNDS	200u
#define RACE_PUNCHES	50u

#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)
#define KPF_ZERO_PAGE	24

static uint64_t zero_pfn;
/* Whether the zero state maps the kernel's zero page (before 6.10). */
static bool kernel_zero_page;

static bool kernel_before(unsigned int major, unsigned int minor)
{
	struct utsname u;
	unsigned int ma = 0, mi = 0;

	REQUIRE(!uname(&u) && sscanf(u.release, "%u.%u", &ma, &mi) == 2, "uname");
	return ma < major || (ma == major && mi < minor);
}

static int fill(size_t i)
{
	return (int)(i * 7 & 0xff) | 1;
}

/* The pagemap entries of @pages pages from @p, into @out. */
static void pagemap(const void *p, size_t pages, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)p / ESX_PAGE * sizeof(uint64_t));
	size_t len = pages * sizeof(uint64_t);

	REQUIRE(fd >= 0, "open pagemap: %s", strerror(errno));
	REQUIRE(pread(fd, out, len, off) == (ssize_t)len, "read pagemap: %s", strerror(errno));
	close(fd);
}

static uint64_t pfn_of(const void *p)
{
	uint64_t e;

	pagemap(p, 1, &e);
	return e & PM_PRESENT ? e & PM_PFN_MASK : 0;
}

/* /proc/kpagecount (the page's mapcount) or /proc/kpageflags of @pfn. */
static uint64_t kpage(const char *file, uint64_t pfn)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	uint64_t v = 0;

	REQUIRE(fd >= 0, "open %s: %s", file, strerror(errno));
	REQUIRE(pread(fd, &v, sizeof(v), (off_t)(pfn * sizeof(v))) == sizeof(v),
		"read %s: %s", file, strerror(errno));
	close(fd);
	return v;
}

/* How many of @pages pages from @p are not mapped as the zero page. */
static size_t not_zero_page(const void *p, size_t pages, size_t *first)
{
	uint64_t *pm = malloc(pages * sizeof(*pm));
	size_t i, n = 0;

	REQUIRE(pm, "malloc");
	pagemap(p, pages, pm);
	*first = SIZE_MAX;
	for (i = 0; i < pages; i++) {
		if ((pm[i] & PM_PRESENT) && (pm[i] & PM_PFN_MASK) == zero_pfn)
			continue;
		if (!n++)
			*first = i;
	}
	free(pm);
	return n;
}

/* Reads every page of @p: whether all of it is zeros. */
static bool read_all(const uint8_t *p, size_t pages)
{
	return esx_is_zero(p, pages * ESX_PAGE);
}

/* The kernel's zero page: what a read of untouched anonymous memory maps. */
static const uint8_t *find_zero_page(void)
{
	const uint8_t *z = mmap(NULL, ESX_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(z != MAP_FAILED, "mmap: %s", strerror(errno));
	REQUIRE(*(volatile const uint8_t *)z == 0, "anonymous memory reads zero");
	zero_pfn = pfn_of(z);
	REQUIRE(zero_pfn, "no pfn in pagemap (not root?)");
	REQUIRE(kpage("/proc/kpageflags", zero_pfn) & (1ULL << KPF_ZERO_PAGE),
		"pfn %#llx of anonymous zero memory is not the zero page",
		(unsigned long long)zero_pfn);
	return z;
}

/* The forked child: reads both mappings, checks them, writes one page. */
static int child(uint8_t *a, uint8_t *b, uint64_t count_parent)
{
	size_t first;
	int bad = 0;

	if (!read_all(a, OBJ_PAGES) || !read_all(b, OBJ_PAGES)) {
		fprintf(stderr, "child: the object does not read zero\n");
		bad |= 1;
	}
	if (not_zero_page(a, OBJ_PAGES, &first) || not_zero_page(b, OBJ_PAGES, &first)) {
		fprintf(stderr, "child: page %zu is not mapped as the zero page\n", first);
		bad |= 2;
	}
	/* The fork copied 2 * OBJ_PAGES page table entries. */
	if (kernel_zero_page &&
	    kpage("/proc/kpagecount", zero_pfn) >= count_parent + OBJ_PAGES / 2) {
		fprintf(stderr, "child: zero page mapcount %llu, %llu before the fork\n",
			(unsigned long long)kpage("/proc/kpagecount", zero_pfn),
			(unsigned long long)count_parent);
		bad |= 4;
	}
	memset(a + 1 * ESX_PAGE, 0xc5, ESX_PAGE);
	return bad;
}

static void test_object(const uint8_t *zero)
{
	uint64_t size = OBJ_PAGES * ESX_PAGE, count0, count1, count2;
	long used0 = esx_sysfs_long("used_pages");
	size_t i, first, written = 0;
	struct esxmem_vm_stats st;
	uint8_t *a, *b, buf[ESX_PAGE];
	uint64_t *pm_a, *pm_b;
	struct iovec local, remote;
	int fd = esx_open(), status;
	pid_t pid;

	REQUIRE(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) == 0, "SET_SIZE 1 GiB: %s", strerror(errno));
	a = esx_map(fd, OBJ_PAGES, 0);
	b = esx_map(fd, OBJ_PAGES, 0);
	REQUIRE(a && b, "mmap: %s", strerror(errno));

	/* One mapping, read twice. */
	count0 = kpage("/proc/kpagecount", zero_pfn);
	CHECK(read_all(a, OBJ_PAGES) && read_all(a, OBJ_PAGES), "the object must read zero");
	if (!kernel_zero_page) {
		/* An esxmem zero frame: what page 0 maps now. */
		zero_pfn = pfn_of(a);
		CHECK(zero_pfn && !(kpage("/proc/kpageflags", zero_pfn) & (1ULL << KPF_ZERO_PAGE)),
		      "page 0 maps pfn %#llx, which should be an esxmem zero frame",
		      (unsigned long long)zero_pfn);
		count0 = 0;
	}
	CHECK(pfn_of(a) == zero_pfn, "page 0 maps pfn %#llx, the zero page is %#llx",
	      (unsigned long long)pfn_of(a), (unsigned long long)zero_pfn);
	CHECK(not_zero_page(a, OBJ_PAGES, &first) == 0,
	      "%zu pages not mapped as the zero page, first %zu",
	      not_zero_page(a, OBJ_PAGES, &first), first);
	/* What page 0 maps, zero page or not, must not count its mappings. */
	count1 = kpage("/proc/kpagecount", pfn_of(a));
	CHECK(read_all(b, OBJ_PAGES) && read_all(b, OBJ_PAGES), "the second mapping must read zero");
	CHECK(not_zero_page(b, OBJ_PAGES, &first) == 0,
	      "%zu pages of the second mapping not mapped as the zero page, first %zu",
	      not_zero_page(b, OBJ_PAGES, &first), first);
	count2 = kpage("/proc/kpagecount", pfn_of(a));
	printf("mapcount of the page behind the zero state: %llu before, %llu with one mapping, %llu with two (%lu pages each)\n",
	       (unsigned long long)count0, (unsigned long long)count1,
	       (unsigned long long)count2, OBJ_PAGES);
	if (kernel_zero_page) {
		CHECK(count2 < count1 + OBJ_PAGES / 2,
		      "mapcount grew from %llu to %llu with the second mapping",
		      (unsigned long long)count1, (unsigned long long)count2);
		CHECK(kpage("/proc/kpagecount", zero_pfn) < count0 + OBJ_PAGES / 2,
		      "zero page mapcount grew from %llu to %llu",
		      (unsigned long long)count0,
		      (unsigned long long)kpage("/proc/kpagecount", zero_pfn));
	} else {
		/* A zero frame counts each mapping, as any page does. */
		CHECK(count1 == OBJ_PAGES && count2 == 2 * OBJ_PAGES,
		      "zero frame mapcount %llu with one mapping, %llu with two",
		      (unsigned long long)count1, (unsigned long long)count2);
	}

	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_ZERO] == OBJ_PAGES, "zero pages after reads: %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_ZERO]);
	CHECK(st.consumed_pages == 0, "reads consumed %llu pages",
	      (unsigned long long)st.consumed_pages);
	CHECK(esx_sysfs_long("used_pages") == used0, "reads charged the pool %ld pages",
	      esx_sysfs_long("used_pages") - used0);

	/* A child inherits the zero mappings, reads them, writes page 1. */
	count1 = kpage("/proc/kpagecount", zero_pfn);
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (!pid)
		_exit(child(a, b, count1));
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %#x", status);
	written++;
	CHECK(a[ESX_PAGE] == 0xc5 && b[2 * ESX_PAGE - 1] == 0xc5,
	      "the child's write must show in the parent's mappings");
	CHECK(pfn_of(a + ESX_PAGE) != zero_pfn && pfn_of(a + ESX_PAGE) == pfn_of(b + ESX_PAGE),
	      "page 1 must be one private page in both mappings");

	/* Writes through one mapping read back through the other. */
	for (i = 2; i < OBJ_PAGES; i += WRITE_STRIDE, written++)
		memset(a + i * ESX_PAGE, fill(i), ESX_PAGE);
	/* A GUP write (FOLL_WRITE) into a zero mapping. */
	memset(buf, 0x3c, sizeof(buf));
	local = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	remote = (struct iovec){ .iov_base = b + 3 * ESX_PAGE, .iov_len = ESX_PAGE };
	CHECK(process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == ESX_PAGE,
	      "process_vm_writev: %s", strerror(errno));
	written++;
	CHECK(a[3 * ESX_PAGE] == 0x3c && a[4 * ESX_PAGE - 1] == 0x3c,
	      "the GUP write must show in the other mapping");
	/* And a GUP read of one. */
	memset(buf, 0xff, sizeof(buf));
	remote.iov_base = a + 5 * ESX_PAGE;
	CHECK(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == ESX_PAGE &&
	      esx_is_zero(buf, sizeof(buf)), "process_vm_readv of a zero page");

	for (i = 2; i < OBJ_PAGES; i += WRITE_STRIDE) {
		if (b[i * ESX_PAGE] != fill(i) || b[i * ESX_PAGE + ESX_PAGE - 1] != fill(i) ||
		    pfn_of(a + i * ESX_PAGE) == zero_pfn) {
			CHECK(0, "page %zu: %#x in the other mapping, want %#x", i,
			      b[i * ESX_PAGE], fill(i));
			break;
		}
	}
	pm_a = malloc(OBJ_PAGES * sizeof(*pm_a));
	pm_b = malloc(OBJ_PAGES * sizeof(*pm_b));
	REQUIRE(pm_a && pm_b, "malloc");
	pagemap(a, OBJ_PAGES, pm_a);
	pagemap(b, OBJ_PAGES, pm_b);
	for (i = 0; i < OBJ_PAGES; i++) {
		bool touched = i == 1 || i == 3 || (i >= 2 && (i - 2) % WRITE_STRIDE == 0);

		if (touched)
			continue;
		if (!esx_is_zero(b + i * ESX_PAGE, ESX_PAGE) ||
		    (pm_a[i] & PM_PFN_MASK) != zero_pfn || (pm_b[i] & PM_PFN_MASK) != zero_pfn) {
			CHECK(0, "untouched page %zu must read zero from the zero page", i);
			break;
		}
	}
	free(pm_a);
	free(pm_b);
	CHECK(esx_is_zero(zero, ESX_PAGE), "the kernel's zero page must stay zero");

	st = esx_stats(fd);
	CHECK(st.consumed_pages == written, "consumed %llu pages, %zu written",
	      (unsigned long long)st.consumed_pages, written);
	CHECK(st.state_pages[ESXMEM_PAGE_ZERO] == OBJ_PAGES - written, "zero pages %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_ZERO]);
	CHECK(esx_sysfs_long("used_pages") == used0 + (long)written,
	      "pool charged %ld pages for %zu written", esx_sysfs_long("used_pages") - used0,
	      written);

	munmap(a, OBJ_PAGES * ESX_PAGE);
	munmap(b, OBJ_PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_sysfs_long("used_pages") == used0, "close left %ld pages charged",
	      esx_sysfs_long("used_pages") - used0);
}

static void test_kvm(const uint8_t *zero)
{
	long used0 = esx_sysfs_long("used_pages");
	const uint32_t seed = 0x5eed0f0e;
	struct vmm_regs r;
	uint8_t *ram, *host;
	struct vmm *vm;
	size_t first;
	uint32_t i;
	int fd = esx_open();

	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(vm, 1, RAM_GPA, KVM_PAGES * ESX_PAGE, fd, 0));
	ram = vmm_gpa(vm, RAM_GPA);
	host = esx_map(fd, KVM_PAGES, 0);
	REQUIRE(ram && host, "host mappings: %s", strerror(errno));

	/* Guest reads of unbacked pages: zeros, through the zero page. */
	for (i = 0; i < ESX_PAGE; i += 4 * 97) {
		r = (struct vmm_regs){ .ebx = RAM_GPA + i, .ecx = KVM_PAGES, .edx = ESX_PAGE };
		REQUIRE_OK(vmm_call(vm, VMM_TOUCH, &r));
		CHECK(r.eax == 0, "guest read %#x at offset %u of unbacked pages", r.eax, i);
	}
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_ZERO] == KVM_PAGES,
	      "guest reads leave %llu pages in the zero state",
	      (unsigned long long)esx_stats(fd).state_pages[ESXMEM_PAGE_ZERO]);
	CHECK(esx_stats(fd).consumed_pages == 0, "guest reads consumed pages");
	CHECK(not_zero_page(ram, KVM_PAGES, &first) == 0,
	      "KVM's reads must map the zero page in the VMM: page %zu does not", first);

	/* Guest writes: copy-on-write from the zero page, through KVM. */
	r = (struct vmm_regs){ .ebx = RAM_GPA, .ecx = KVM_PAGES, .edx = seed };
	REQUIRE_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(vmm_pattern_check(host, RAM_GPA, KVM_PAGES * ESX_PAGE, seed, NULL) == 0,
	      "the guest's writes must show in another host mapping");
	r = (struct vmm_regs){ .ebx = RAM_GPA, .ecx = KVM_PAGES, .edx = seed };
	REQUIRE_OK(vmm_call(vm, VMM_CHECK, &r));
	CHECK(r.eax == 0, "the guest reads back %u wrong dwords", r.eax);
	CHECK(esx_stats(fd).consumed_pages == KVM_PAGES, "guest writes consumed %llu pages",
	      (unsigned long long)esx_stats(fd).consumed_pages);
	CHECK(not_zero_page(ram, KVM_PAGES, &first) == KVM_PAGES,
	      "written pages must not map the zero page");
	CHECK(esx_is_zero(zero, ESX_PAGE), "the kernel's zero page must stay zero");

	vmm_destroy(vm);
	munmap(host, KVM_PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_sysfs_long("used_pages") == used0, "close left %ld pages charged",
	      esx_sysfs_long("used_pages") - used0);
}

struct racer {
	const volatile uint8_t *p;
	size_t pages;
	volatile bool stop;
};

static void *race_reader(void *arg)
{
	struct racer *r = arg;
	size_t i;

	while (!r->stop)
		for (i = 0; i < r->pages; i++)
			(void)r->p[i * ESX_PAGE];
	return NULL;
}

/*
 * Holes punched while another thread's reads map the zero page: a write
 * afterwards must show in every mapping, so no zero mapping may survive
 * the entry's leaving the zero state, not even one inserted just after
 * the hole's unmap. Over @pages pages, in the large_pages mode of the
 * moment: with large pages, of 2 MiB ranges, reads map a large zero frame
 * with a PMD and writes get a large page.
 */
static void test_punch_race(size_t pages)
{
	long used0 = esx_sysfs_long("used_pages");
	unsigned int round, k, stale = 0, bad_round = 0;
	struct racer r = { .pages = pages };
	uint8_t *m1, *m2;
	pthread_t t;
	size_t i;
	int fd = esx_open();

	m1 = esx_map(fd, pages, 0);
	m2 = esx_map(fd, pages, 0);
	REQUIRE(m1 && m2, "mmap: %s", strerror(errno));
	for (round = 1; round <= RACE_ROUNDS && !stale; round++) {
		r.p = m1;
		r.stop = false;
		REQUIRE(pthread_create(&t, NULL, race_reader, &r) == 0, "pthread_create");
		for (k = 0; k < RACE_PUNCHES; k++)
			CHECK_OK(esx_punch(fd, 0, pages * ESX_PAGE));
		r.stop = true;
		pthread_join(t, NULL);
		for (i = 0; i < pages; i++)
			m2[i * ESX_PAGE] = (uint8_t)round | 1;
		for (i = 0; i < pages; i++)
			if (m1[i * ESX_PAGE] != ((uint8_t)round | 1)) {
				stale++;
				bad_round = round;
			}
		CHECK_OK(esx_punch(fd, 0, pages * ESX_PAGE));
	}
	printf("punch race over %zu pages: %u rounds, %u stale zero mappings\n", pages,
	       round - 1, stale);
	CHECK(!stale, "%u pages of round %u still read the zero page after a write", stale,
	      bad_round);
	munmap(m1, pages * ESX_PAGE);
	munmap(m2, pages * ESX_PAGE);
	close(fd);
	CHECK(esx_sysfs_long("used_pages") == used0, "close left %ld pages charged",
	      esx_sysfs_long("used_pages") - used0);
}

int main(void)
{
	const uint8_t *zero;

	esx_background_off();
	/* The race with large pages (the default) too: two 2 MiB ranges. */
	test_punch_race(RACE_LARGE_PAGES);
	/*
	 * The 4 KiB zero mapping, page by page: esxmem_hugepage tests the
	 * large zero frames that reads of empty 2 MiB ranges map instead.
	 */
	esx_large_pages("never");
	zero = find_zero_page();
	kernel_zero_page = kernel_before(6, 10);
	test_object(zero);
	test_kvm(zero);
	test_punch_race(RACE_PAGES);
	return vmtest_done("esxmem_zero");
}
