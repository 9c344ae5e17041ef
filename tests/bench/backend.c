// SPDX-License-Identifier: GPL-2.0
/*
 * backend: what guest RAM on /dev/esxmem costs against anonymous memory.
 *
 * Measured side by side in one run, over regions of the same size: a
 * /dev/esxmem object (MAP_SHARED) with large pages (large_pages=always, its
 * default) and with 4 KiB pages only (large_pages=never, "esxmem_4k"),
 * anonymous memory with 4 KiB pages (MADV_NOHUGEPAGE, the fair comparison
 * for esxmem_4k) and anonymous memory with transparent huge pages
 * (MADV_HUGEPAGE, the one for esxmem's large pages).
 *
 *  first_touch_write   one byte written per page of a fresh region (ns/page)
 *  first_touch_read    one byte read per page of a fresh region: esxmem maps
 *                      its zero frame, anonymous memory the zero page
 *  write_after_read    then one byte written per page: copy-on-write break
 *                      of the zero frame or zero page (ns/page)
 *  release             munmap (and for esxmem close) of the written region
 *  seq_read, seq_write steady-state sequential bandwidth over the written
 *                      region (MB/s, best of SEQ_REPS passes)
 *  guest_*             the same from inside a KVM guest (tests/vmm): its
 *                      first write, first read and write after read of
 *                      each RAM page, and a steady-state fill of the RAM
 *                      once it is mapped
 *
 * The backends run in alternating order, ROUNDS times; each figure is the
 * median of its rounds. Ratios are esxmem / anonymous 4 KiB: for times the
 * goal is at most 1.3, for bandwidths 1.0.
 *
 * Then the large-page figures:
 *  first_touch_gib_*   one byte written per 4 KiB of a fresh GiB (or the
 *                      largest region the test host's free memory and pool
 *                      hold, first_touch_gib_size), per backend: seconds
 *                      per GiB and page faults (ru_minflt) per GiB, the
 *                      median of GIB_ROUNDS alternating rounds; the goal
 *                      for esxmem against anonymous THP is at most 1.0
 *  kvm_2m_tinyvmm_*    the share of a tinyvmm guest's RAM (at a 2 MiB-
 *                      aligned guest address) that KVM maps with 2 MiB
 *                      NPT/EPT entries once the guest has written every
 *                      page, from KVM's per-VM pages_2m in debugfs, on
 *                      esxmem and on anonymous THP memory; the goal is at
 *                      least 95% and no less than anonymous THP's
 *
 * Output: "bench: <name> <value> <unit>" lines (and notes without the
 * prefix). Exit status 1 if a measurement could not be made.
 */
#include "esxtest.h"
#include "kvm_stats.h"
#include "vmm/vmm.h"

#include <linux/kvm.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <time.h>

#define MIB		(1024UL * 1024)
#define REGION		(128 * MIB)
#define REGION_PAGES	(REGION / ESX_PAGE)
#define THP_SIZE	(2 * MIB)
#define ROUNDS		7
#define SEQ_REPS	3

/* The tiny VMM's guest: code and a write table in one slot, RAM in another. */
#define G_CODE_SLOT	0u
#define G_CODE_GPA	0x0u
#define G_CODE_SIZE	0x100000u
#define G_TABLE_GPA	0x10000u
#define G_RAM_SLOT	1u
#define G_RAM_GPA	0x100000u
#define G_RAM		(32 * MIB)
#define G_RAM_PAGES	(G_RAM / ESX_PAGE)
/* The guest for KVM's 2 MiB mappings: RAM at a 2 MiB-aligned address. */
#define G2M_RAM_GPA	0x200000u
#define G2M_RAM		(64 * MIB)

#define GIB		(1024 * MIB)
#define GIB_ROUNDS	3

enum backend { ESX, ANON, THP, ESX4K, NR_BACKENDS };

static const char *const backend_name[NR_BACKENDS] = {
	"esxmem", "anon", "anon_thp", "esxmem_4k",
};

enum metric {
	TOUCH_WRITE, TOUCH_READ, WRITE_AFTER_READ, RELEASE, SEQ_READ, SEQ_WRITE,
	G_TOUCH_WRITE, G_TOUCH_READ, G_WRITE_AFTER_READ, G_FILL,
	NR_METRICS
};

static const struct {
	const char *name, *unit;
	bool guest;	/* not measured for THP */
} metric_info[NR_METRICS] = {
	[TOUCH_WRITE]		= { "first_touch",		"ns/page", false },
	[TOUCH_READ]		= { "read_first_touch",		"ns/page", false },
	[WRITE_AFTER_READ]	= { "write_after_read",		"ns/page", false },
	[RELEASE]		= { "release",			"ns/page", false },
	[SEQ_READ]		= { "seq_read",			"MB/s",    false },
	[SEQ_WRITE]		= { "seq_write",		"MB/s",    false },
	[G_TOUCH_WRITE]		= { "guest_first_touch",	"ns/page", true },
	[G_TOUCH_READ]		= { "guest_read_first_touch",	"ns/page", true },
	[G_WRITE_AFTER_READ]	= { "guest_write_after_read",	"ns/page", true },
	[G_FILL]		= { "guest_fill_steady",	"MB/s",    true },
};

static double results[NR_METRICS][NR_BACKENDS][ROUNDS];
/* Minor page faults per page taken by the host passes (last round). */
static double faults_per_page[NR_METRICS][NR_BACKENDS];

/* Keeps every read the loops make. */
static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "backend: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct region {
	enum backend b;
	int fd;
	void *map;		/* what to munmap */
	size_t map_len;
	uint8_t *p;		/* REGION bytes */
};

static char large_pages_saved[16];

static void large_pages_restore(void)
{
	if (large_pages_saved[0] && esx_sysfs_write("large_pages", large_pages_saved))
		fprintf(stderr, "backend: could not restore large_pages to %s\n",
			large_pages_saved);
}

/* esxmem's large_pages as backend @b wants it, for the memory it touches next. */
static void large_pages_for(enum backend b)
{
	if (b != ESX && b != ESX4K)
		return;
	if (!large_pages_saved[0]) {
		char cur[64];

		/* "never [always]": the word in brackets. */
		esx_sysfs_string("large_pages", cur, sizeof(cur));
		sscanf(strchr(cur, '[') ? strchr(cur, '[') + 1 : cur, "%15[a-z]",
		       large_pages_saved);
		atexit(large_pages_restore);
	}
	if (esx_sysfs_write("large_pages", b == ESX ? "always" : "never"))
		die("write large_pages");
}

static struct region region_get_len(enum backend b, size_t len)
{
	struct region r = { .b = b, .fd = -1 };

	if (b == ESX || b == ESX4K) {
		large_pages_for(b);
		r.fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (r.fd < 0)
			die("open " ESXMEM_DEVICE_PATH);
		r.map_len = len;
		r.map = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
		if (r.map == MAP_FAILED)
			die("mmap esxmem");
		r.p = r.map;
		return r;
	}
	/* Room to align to a huge page, so that THP can back all of it. */
	r.map_len = len + THP_SIZE;
	r.map = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.map == MAP_FAILED)
		die("mmap anonymous");
	r.p = (uint8_t *)(((uintptr_t)r.map + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (madvise(r.map, r.map_len, b == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	return r;
}

static struct region region_get(enum backend b)
{
	return region_get_len(b, REGION);
}

/* Seconds taken to release the region. */
static double region_put(struct region *r)
{
	double t = now();

	if (munmap(r->map, r->map_len))
		die("munmap");
	if (r->fd >= 0)
		close(r->fd);
	return now() - t;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static double touch_write(uint8_t *p, uint8_t v)
{
	volatile uint8_t *q = p;
	double t = now();
	size_t i;

	for (i = 0; i < REGION_PAGES; i++)
		q[i * ESX_PAGE] = v;
	return now() - t;
}

static double touch_read(const uint8_t *p)
{
	const volatile uint8_t *q = p;
	uint64_t sum = 0;
	double t = now();
	size_t i;

	for (i = 0; i < REGION_PAGES; i++)
		sum += q[i * ESX_PAGE];
	t = now() - t;
	sink += sum;
	return t;
}

static double seq_read(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t a = 0, b = 0, c = 0, d = 0;
	double t = now();
	size_t i;

	for (i = 0; i < REGION / 8; i += 4) {
		a += w[i];
		b ^= w[i + 1];
		c += w[i + 2];
		d ^= w[i + 3];
	}
	t = now() - t;
	sink += a + b + c + d;
	return t;
}

static double seq_write(uint8_t *p, int v)
{
	double t = now();

	memset(p, v, REGION);
	t = now() - t;
	/* The stores are visible to later reads; keep one. */
	sink += p[REGION / 2];
	return t;
}

static double mbps(double secs)
{
	return (double)REGION / MIB / secs;
}

static double per_page(double secs, size_t pages)
{
	return secs * 1e9 / (double)pages;
}

static void host_round(enum backend b, int round)
{
	double best_r = 0, best_w = 0;
	struct region r;
	long f;
	int i;

	/* Write first touch, then the steady state over that memory. */
	r = region_get(b);
	f = minflt();
	results[TOUCH_WRITE][b][round] = per_page(touch_write(r.p, (uint8_t)(round + 1)),
						  REGION_PAGES);
	faults_per_page[TOUCH_WRITE][b] = (double)(minflt() - f) / REGION_PAGES;
	for (i = 0; i < SEQ_REPS; i++) {
		double rd = mbps(seq_read(r.p));
		double wr = mbps(seq_write(r.p, i + 1));

		if (rd > best_r)
			best_r = rd;
		if (wr > best_w)
			best_w = wr;
	}
	results[SEQ_READ][b][round] = best_r;
	results[SEQ_WRITE][b][round] = best_w;
	results[RELEASE][b][round] = per_page(region_put(&r), REGION_PAGES);

	/* Read first touch, then the writes that break copy-on-write. */
	r = region_get(b);
	f = minflt();
	results[TOUCH_READ][b][round] = per_page(touch_read(r.p), REGION_PAGES);
	faults_per_page[TOUCH_READ][b] = (double)(minflt() - f) / REGION_PAGES;
	f = minflt();
	results[WRITE_AFTER_READ][b][round] = per_page(touch_write(r.p, 0x5a), REGION_PAGES);
	faults_per_page[WRITE_AFTER_READ][b] = (double)(minflt() - f) / REGION_PAGES;
	region_put(&r);
}

/*
 * A guest with @ram bytes of RAM at @gpa on @b, fresh, and a write table
 * for one dword of each of its pages. NULL if KVM is not usable.
 */
static struct vmm *guest_get_at(enum backend b, uint32_t gpa, size_t ram)
{
	size_t pages = ram / ESX_PAGE;
	struct vmm_write *table;
	struct vmm *vm;
	int fd = -1;
	size_t i;

	if (vmm_create(&vm))
		return NULL;
	if (vmm_add_slot(vm, G_CODE_SLOT, G_CODE_GPA, G_CODE_SIZE, -1, 0) ||
	    vmm_load_guest(vm, G_CODE_GPA))
		goto fail;
	if (b == ESX || b == ESX4K) {
		large_pages_for(b);
		fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die("open " ESXMEM_DEVICE_PATH);
	}
	if (vmm_add_slot(vm, G_RAM_SLOT, gpa, ram, fd, 0))
		goto fail;
	if (fd >= 0)
		close(fd);
	if (fd < 0 && madvise(vmm_gpa(vm, gpa), ram,
			      b == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise guest RAM");
	/* For VMM_WRITE_LIST: one dword in each page of the RAM. */
	table = vmm_gpa_range(vm, G_TABLE_GPA, pages * sizeof(*table));
	if (!table || vmm_guest_size() > G_TABLE_GPA - G_CODE_GPA) {
		fprintf(stderr, "backend: guest code and write table do not fit\n");
		exit(1);
	}
	for (i = 0; i < pages; i++)
		table[i] = (struct vmm_write){ gpa + i * ESX_PAGE + 8, (uint32_t)i };
	return vm;
fail:
	if (fd >= 0)
		close(fd);
	vmm_destroy(vm);
	return NULL;
}

static struct vmm *guest_get(enum backend b)
{
	return guest_get_at(b, G_RAM_GPA, G_RAM);
}

static double guest_call(struct vmm *vm, enum vmm_routine rt, struct vmm_regs *regs)
{
	double t = now();

	if (vmm_call(vm, rt, regs)) {
		fprintf(stderr, "backend: guest routine %d failed: %s\n", (int)rt,
			vmm_last_error(vm));
		exit(1);
	}
	return now() - t;
}

static int guest_round(enum backend b, int round)
{
	struct vmm_regs regs;
	struct vmm *vm;
	int i;

	/* First write of each page: one guest store per page. */
	vm = guest_get(b);
	if (!vm)
		return -1;
	regs = (struct vmm_regs){ .ebx = G_TABLE_GPA, .ecx = G_RAM_PAGES };
	results[G_TOUCH_WRITE][b][round] =
		per_page(guest_call(vm, VMM_WRITE_LIST, &regs), G_RAM_PAGES);
	/* The RAM is mapped now: fill all of it, best of two. */
	for (i = 0; i < 2; i++) {
		double mb;

		regs = (struct vmm_regs){ .ebx = G_RAM_GPA, .ecx = G_RAM_PAGES,
					  .edx = (uint32_t)(round * 2 + i) };
		mb = (double)G_RAM / MIB / guest_call(vm, VMM_FILL, &regs);
		if (mb > results[G_FILL][b][round])
			results[G_FILL][b][round] = mb;
	}
	vmm_destroy(vm);

	/* First read of each page, then a write to each. */
	vm = guest_get(b);
	if (!vm)
		return -1;
	regs = (struct vmm_regs){ .ebx = G_RAM_GPA, .ecx = G_RAM_PAGES, .edx = ESX_PAGE };
	results[G_TOUCH_READ][b][round] =
		per_page(guest_call(vm, VMM_TOUCH, &regs), G_RAM_PAGES);
	sink += regs.eax;
	regs = (struct vmm_regs){ .ebx = G_TABLE_GPA, .ecx = G_RAM_PAGES };
	results[G_WRITE_AFTER_READ][b][round] =
		per_page(guest_call(vm, VMM_WRITE_LIST, &regs), G_RAM_PAGES);
	vmm_destroy(vm);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @v's ROUNDS values; *lo and *hi get the extremes. */
static double median(const double *v, double *lo, double *hi)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(s[0]), cmp_double);
	*lo = s[0];
	*hi = s[ROUNDS - 1];
	return ROUNDS % 2 ? s[ROUNDS / 2] : (s[ROUNDS / 2 - 1] + s[ROUNDS / 2]) / 2;
}

static void note_thp(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("backend: region %lu MiB, guest RAM %lu MiB, %d rounds, THP %s\n",
	       REGION / MIB, G_RAM / MIB, ROUNDS, buf[0] ? buf : "unknown");
}

/* ---- first touch of a GiB ---------------------------------------------- */

/* Free memory in bytes, from /proc/meminfo's MemAvailable; 0 if unknown. */
static size_t mem_available(void)
{
	char line[128];
	long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (size_t)kb * 1024;
}

/*
 * 1 GiB, or the largest multiple of 128 MiB that leaves a quarter of the
 * free memory and of esxmem's free pool untouched, if that is less.
 */
static size_t gib_region(void)
{
	size_t avail = mem_available();
	long pool_free = esx_sysfs_long("free_pages");
	size_t fits = avail;

	if (pool_free > 0 && (size_t)pool_free * ESX_PAGE < fits)
		fits = (size_t)pool_free * ESX_PAGE;
	fits = fits / 4 * 3 / (128 * MIB) * (128 * MIB);
	return fits < GIB ? fits : GIB;
}

static double gib_secs[NR_BACKENDS][GIB_ROUNDS];
static double gib_faults[NR_BACKENDS][GIB_ROUNDS];

static void gib_round(enum backend b, int round, size_t len)
{
	struct region r = region_get_len(b, len);
	volatile uint8_t *q = r.p;
	long f = minflt();
	double t = now();
	size_t i;

	for (i = 0; i < len; i += ESX_PAGE)
		q[i] = (uint8_t)(round + 1);
	t = now() - t;
	gib_secs[b][round] = t * GIB / len;
	gib_faults[b][round] = (double)(minflt() - f) * GIB / len;
	region_put(&r);
}

static double median_of(const double *v, int n)
{
	double s[16];

	memcpy(s, v, n * sizeof(s[0]));
	qsort(s, n, sizeof(s[0]), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void first_touch_gib(void)
{
	static const enum backend order[2][NR_BACKENDS] = {
		{ ESX, THP, ESX4K, ANON }, { ANON, ESX4K, THP, ESX },
	};
	size_t len = gib_region();
	long allocs0 = esx_sysfs_long("large_page_allocs");
	long fallbacks0 = esx_sysfs_long("large_page_fallbacks");
	double t0 = now(), v[NR_BACKENDS];
	int round, k, b;

	if (len < 128 * MIB) {
		printf("backend: no room for the first touch of a GiB: %zu MiB free\n",
		       mem_available() / MIB);
		return;
	}
	if (len < GIB)
		printf("backend: first touch over %zu MiB, not 1 GiB: the test host's free memory or pool holds no more\n",
		       len / MIB);
	for (round = 0; round < GIB_ROUNDS; round++)
		for (k = 0; k < NR_BACKENDS; k++)
			gib_round(order[round % 2][k], round, len);
	printf("bench: first_touch_gib_size %zu MiB\n", len / MIB);
	for (b = 0; b < NR_BACKENDS; b++) {
		v[b] = median_of(gib_secs[b], GIB_ROUNDS);
		printf("bench: first_touch_gib_%s %.3f s/GiB\n", backend_name[b], v[b]);
		printf("bench: first_touch_gib_%s_faults %.0f faults/GiB\n", backend_name[b],
		       median_of(gib_faults[b], GIB_ROUNDS));
	}
	printf("bench: first_touch_gib_ratio_esxmem_vs_anon_thp %.3f ratio\n", v[ESX] / v[THP]);
	printf("bench: first_touch_gib_ratio_esxmem_4k_vs_anon %.3f ratio\n", v[ESX4K] / v[ANON]);
	printf("backend: first touch of a GiB: esxmem took %ld large pages and fell back %ld times in %d rounds of %zu MiB; %.1f s\n",
	       esx_sysfs_long("large_page_allocs") - allocs0,
	       esx_sysfs_long("large_page_fallbacks") - fallbacks0, GIB_ROUNDS, len / MIB,
	       now() - t0);
}

/* ---- KVM's 2 MiB mappings ---------------------------------------------- */

/*
 * The percent of a tinyvmm guest's RAM on @b that KVM maps with 2 MiB
 * entries once the guest has written each page; -1 without KVM or its
 * statistics.
 */
static double guest_2m_percent(enum backend b)
{
	struct vmm_regs regs = { .ebx = G_TABLE_GPA, .ecx = G2M_RAM / ESX_PAGE };
	struct vmm *vm = guest_get_at(b, G2M_RAM_GPA, G2M_RAM);
	long p2m, p4k;
	double pc;

	if (!vm)
		return -1;
	guest_call(vm, VMM_WRITE_LIST, &regs);
	pc = kvm_2m_percent(getpid(), vmm_vm_fd(vm), G2M_RAM, &p2m, &p4k);
	printf("backend: tinyvmm guest of %lu MiB on %s: KVM maps %ld 2 MiB and %ld 4 KiB pages\n",
	       G2M_RAM / MIB, backend_name[b], p2m, p4k);
	vmm_destroy(vm);
	return pc;
}

static void kvm_2m_tinyvmm(void)
{
	double esx = guest_2m_percent(ESX), thp = guest_2m_percent(THP);

	if (esx < 0 || thp < 0) {
		printf("backend: no KVM statistics in " KVM_DEBUGFS ", no 2 MiB mapping figures\n");
		return;
	}
	printf("bench: kvm_2m_tinyvmm_esxmem %.1f %%\n", esx);
	printf("bench: kvm_2m_tinyvmm_anon_thp %.1f %%\n", thp);
	printf("bench: kvm_2m_tinyvmm_ratio_esxmem_vs_anon_thp %.3f ratio\n",
	       thp > 0 ? esx / thp : 0);
}

int main(void)
{
	static const enum backend order[2][NR_BACKENDS] = {
		{ ESX, ANON, THP, ESX4K }, { ESX4K, THP, ANON, ESX },
	};
	static const enum backend guest_order[2][3] = {
		{ ESX, ANON, ESX4K }, { ESX4K, ANON, ESX },
	};
	bool guest_ok = true;
	double t0 = now(), t;
	int round, k, m, kvm_vm;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm_vm = esx_hold_kvm_vm();
	note_thp();
	for (round = 0; round < ROUNDS; round++) {
		for (k = 0; k < NR_BACKENDS; k++)
			host_round(order[round % 2][k], round);
		/* The guest: esxmem, esxmem_4k and 4 KiB anonymous, alternating. */
		for (k = 0; guest_ok && k < 3; k++) {
			if (guest_round(guest_order[round % 2][k], round)) {
				printf("backend: KVM guest not available, no guest figures\n");
				guest_ok = false;
			}
		}
	}

	for (m = 0; m < NR_METRICS; m++) {
		double v[NR_BACKENDS], lo[NR_BACKENDS], hi[NR_BACKENDS];
		bool guest = metric_info[m].guest;
		int b;

		if (guest && !guest_ok)
			continue;
		for (b = 0; b < NR_BACKENDS; b++) {
			if (guest && b == THP)
				continue;
			v[b] = median(results[m][b], &lo[b], &hi[b]);
			printf("bench: %s_%s %.*f %s\n", metric_info[m].name, backend_name[b],
			       v[b] < 100 ? 2 : 0, v[b], metric_info[m].unit);
		}
		printf("bench: %s_ratio_esxmem_vs_anon %.3f ratio\n", metric_info[m].name,
		       v[ESX] / v[ANON]);
		printf("bench: %s_ratio_esxmem_4k_vs_anon %.3f ratio\n", metric_info[m].name,
		       v[ESX4K] / v[ANON]);
		/* The spread, to judge the noise. */
		printf("backend: %s range over rounds: esxmem %.0f..%.0f, esxmem_4k %.0f..%.0f, anon %.0f..%.0f %s\n",
		       metric_info[m].name, lo[ESX], hi[ESX], lo[ESX4K], hi[ESX4K],
		       lo[ANON], hi[ANON], metric_info[m].unit);
	}
	for (m = TOUCH_WRITE; m <= WRITE_AFTER_READ; m++)
		printf("backend: %s page faults per page: esxmem %.3f, esxmem_4k %.2f, anon %.2f, anon_thp %.3f\n",
		       metric_info[m].name, faults_per_page[m][ESX], faults_per_page[m][ESX4K],
		       faults_per_page[m][ANON], faults_per_page[m][THP]);
	printf("backend: %.1f s for the figures above\n", now() - t0);

	first_touch_gib();
	t = now();
	if (guest_ok)
		kvm_2m_tinyvmm();
	printf("backend: %.1f s for KVM's 2 MiB mappings\n", now() - t);
	large_pages_restore();
	printf("backend: %.1f s in all\n", now() - t0);
	if (kvm_vm >= 0)
		close(kvm_vm);
	return 0;
}
