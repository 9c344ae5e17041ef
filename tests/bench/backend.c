// SPDX-License-Identifier: GPL-2.0
/*
 * backend: what guest RAM on /dev/esxmem costs against anonymous memory.
 *
 * Measured side by side in one run, over regions of the same size: a
 * /dev/esxmem object (MAP_SHARED), anonymous memory with 4 KiB pages
 * (MADV_NOHUGEPAGE, the fair comparison) and, as a reference only,
 * anonymous memory with transparent huge pages (MADV_HUGEPAGE).
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
 * Output: "bench: <name> <value> <unit>" lines (and notes without the
 * prefix). Exit status 1 if a measurement could not be made.
 */
#include "esxtest.h"
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

enum backend { ESX, ANON, THP, NR_BACKENDS };

static const char *const backend_name[NR_BACKENDS] = { "esxmem", "anon", "anon_thp" };

enum metric {
	TOUCH_WRITE, TOUCH_READ, WRITE_AFTER_READ, RELEASE, SEQ_READ, SEQ_WRITE,
	G_TOUCH_WRITE, G_TOUCH_READ, G_WRITE_AFTER_READ, G_FILL,
	NR_METRICS
};

static const struct {
	const char *name, *unit;
	bool guest;	/* measured for ESX and ANON only */
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

static struct region region_get(enum backend b)
{
	struct region r = { .b = b, .fd = -1 };

	if (b == ESX) {
		r.fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (r.fd < 0)
			die("open " ESXMEM_DEVICE_PATH);
		r.map_len = REGION;
		r.map = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
		if (r.map == MAP_FAILED)
			die("mmap esxmem");
		r.p = r.map;
		return r;
	}
	/* Room to align to a huge page, so that THP can back all of it. */
	r.map_len = REGION + THP_SIZE;
	r.map = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.map == MAP_FAILED)
		die("mmap anonymous");
	r.p = (uint8_t *)(((uintptr_t)r.map + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (madvise(r.map, r.map_len, b == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	return r;
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

/* The guest's RAM on @b, fresh. NULL if KVM is not usable. */
static struct vmm *guest_get(enum backend b)
{
	struct vmm_write *table;
	struct vmm *vm;
	int fd = -1;
	size_t i;

	if (vmm_create(&vm))
		return NULL;
	if (vmm_add_slot(vm, G_CODE_SLOT, G_CODE_GPA, G_CODE_SIZE, -1, 0) ||
	    vmm_load_guest(vm, G_CODE_GPA))
		goto fail;
	if (b == ESX) {
		fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die("open " ESXMEM_DEVICE_PATH);
	}
	if (vmm_add_slot(vm, G_RAM_SLOT, G_RAM_GPA, G_RAM, fd, 0))
		goto fail;
	if (fd >= 0)
		close(fd);
	if (b != ESX && madvise(vmm_gpa(vm, G_RAM_GPA), G_RAM,
				b == THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise guest RAM");
	/* For VMM_WRITE_LIST: one dword in each page of the RAM. */
	table = vmm_gpa_range(vm, G_TABLE_GPA, G_RAM_PAGES * sizeof(*table));
	if (!table || vmm_guest_size() > G_TABLE_GPA - G_CODE_GPA) {
		fprintf(stderr, "backend: guest code and write table do not fit\n");
		exit(1);
	}
	for (i = 0; i < G_RAM_PAGES; i++)
		table[i] = (struct vmm_write){ G_RAM_GPA + i * ESX_PAGE + 8, (uint32_t)i };
	return vm;
fail:
	if (fd >= 0)
		close(fd);
	vmm_destroy(vm);
	return NULL;
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

int main(void)
{
	static const enum backend order[2][NR_BACKENDS] = {
		{ ESX, ANON, THP }, { THP, ANON, ESX },
	};
	bool guest_ok = true;
	double t0 = now();
	int round, k, m, kvm_vm;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm_vm = esx_hold_kvm_vm();
	note_thp();
	for (round = 0; round < ROUNDS; round++) {
		for (k = 0; k < NR_BACKENDS; k++)
			host_round(order[round % 2][k], round);
		/* The guest: esxmem and 4 KiB anonymous, alternating. */
		for (k = 0; guest_ok && k < 2; k++) {
			enum backend b = (round + k) % 2 ? ANON : ESX;

			if (guest_round(b, round)) {
				printf("backend: KVM guest not available, no guest figures\n");
				guest_ok = false;
			}
		}
	}

	for (m = 0; m < NR_METRICS; m++) {
		double v[NR_BACKENDS], lo[NR_BACKENDS], hi[NR_BACKENDS];
		bool guest = metric_info[m].guest;
		int nb = guest ? THP : NR_BACKENDS;
		int b;

		if (guest && !guest_ok)
			continue;
		for (b = 0; b < nb; b++) {
			v[b] = median(results[m][b], &lo[b], &hi[b]);
			printf("bench: %s_%s %.*f %s\n", metric_info[m].name, backend_name[b],
			       v[b] < 100 ? 2 : 0, v[b], metric_info[m].unit);
		}
		printf("bench: %s_ratio_esxmem_vs_anon %.3f ratio\n", metric_info[m].name,
		       v[ESX] / v[ANON]);
		/* The spread, to judge the noise. */
		printf("backend: %s range over rounds: esxmem %.0f..%.0f, anon %.0f..%.0f %s\n",
		       metric_info[m].name, lo[ESX], hi[ESX], lo[ANON], hi[ANON],
		       metric_info[m].unit);
	}
	for (m = TOUCH_WRITE; m <= WRITE_AFTER_READ; m++)
		printf("backend: %s page faults per page: esxmem %.2f, anon %.2f, anon_thp %.3f\n",
		       metric_info[m].name, faults_per_page[m][ESX], faults_per_page[m][ANON],
		       faults_per_page[m][THP]);
	printf("backend: %.1f s in all\n", now() - t0);
	if (kvm_vm >= 0)
		close(kvm_vm);
	return 0;
}
