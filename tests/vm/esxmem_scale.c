// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_scale: the sharing scanner's scan-time advisor, and 1,000 VMs.
 *
 *  - knobs: share/scan_time_secs and share/max_cpu_percent take their
 *    ranges and refuse the rest; share/pages_per_sec 0 hands the rates to
 *    the advisor;
 *  - rate: one VM of 64 MiB of distinct data, scan_time_secs RATE_SECS:
 *    over a window its pages_scanned grow at its size / RATE_SECS within
 *    RATE_TOLERANCE, and the scanner's CPU (share/scan_cpu_us) stays under
 *    max_cpu_percent;
 *  - cap: the same VM, with a full scan asked for every second (far more
 *    than CAP_PERCENT of a CPU can do): the scanner's CPU stays within
 *    CAP_PERCENT, the cap is seen to hold it (share/cpu_capped_us), and
 *    the VM is still scanned;
 *  - nap: at max_cpu_percent 1, a VM of NAP_VM_PAGES makes the scanner
 *    grow its frame table, CPU that leaves it in debt (about half a
 *    second); the nap that pays for it ends when share/max_cpu_percent
 *    is raised to 100, and scanning resumes within NAP_LIMIT_SECS (paid
 *    off at 1%, the debt would take a hundred times as long);
 *  - 1,000 VMs of 64 MiB in one sharing domain, each with COMMON pages
 *    that every VM holds alike and UNIQUE pages of its own, scanned with a
 *    target of SCALE_SECS: every VM makes two passes and gets all its
 *    COMMON pages shared (a page becomes a hint at the second visit of
 *    the same content) within SCALE_LIMIT_SECS, large pages (the
 *    default) included: each written page takes a large page for its
 *    2 MiB while the state is high, and the scanner breaks those, mostly
 *    zero, so that every VM ends up charged its UNIQUE pages; each gets an
 *    active-fraction estimate from the sampler; and closing them all
 *    returns the pool, frames included, to where it was.
 *
 * At fixed global rates (pages_per_sec non-zero, as before the advisor)
 * 1,000 such VMs take 16.4 million visits a pass: at the former default
 * of 20,000 pages a second, 14 minutes each.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>
#include <sys/resource.h>

#define VM_PAGES		16384u		/* 64 MiB */
#define RATE_SECS		40		/* 410 pages a second */
#define RATE_WINDOW		15.0
#define RATE_TOLERANCE		0.2
#define CAP_PERCENT		2
#define CAP_WINDOW		10.0
#define NAP_VM_PAGES		(32u << 20)	/* 128 GiB: a 256 MiB frame table */
#define NAP_LIMIT_SECS		5.0
#define VMS			1000
#define COMMON			8
#define UNIQUE			8
#define SCALE_SECS		15
#define SCALE_CPU_PERCENT	50
#define SCALE_LIMIT_SECS	240.0
#define SAMPLE_PAGES		"16"
#define DOMAIN			77

static struct esxmem *nl;
static long objects_start;		/* objects before the first check */

static const char *const knobs[] = {
	"share/enabled", "share/scan_time_secs", "share/max_cpu_percent",
	"share/pages_per_sec", "sample/period_secs", "sample/pages",
};
static char saved[sizeof(knobs) / sizeof(knobs[0])][32];
static pid_t saved_pid;

static void restore_knobs(void)
{
	size_t i;

	if (getpid() != saved_pid)
		return;
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		esx_sysfs_write(knobs[i], saved[i]);
}

static void save_knobs(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		esx_sysfs_string(knobs[i], saved[i], sizeof(saved[i]));
	saved_pid = getpid();
	atexit(restore_knobs);
}

/* The scanner's CPU time, in seconds. */
static double scan_cpu(void)
{
	return esx_sysfs_long("share/scan_cpu_us") / 1e6;
}

static void knobs_checked(void)
{
	CHECK(esx_sysfs_long("share/scan_time_secs") == 3600 &&
	      esx_sysfs_long("share/max_cpu_percent") == 10,
	      "defaults: scan_time_secs %ld, max_cpu_percent %ld",
	      esx_sysfs_long("share/scan_time_secs"), esx_sysfs_long("share/max_cpu_percent"));
	CHECK(esx_sysfs_write("share/scan_time_secs", "0") == -EINVAL &&
	      esx_sysfs_write("share/scan_time_secs", "86401") == -EINVAL &&
	      esx_sysfs_write("share/max_cpu_percent", "0") == -EINVAL &&
	      esx_sysfs_write("share/max_cpu_percent", "101") == -EINVAL &&
	      esx_sysfs_write("share/pages_per_sec", "10000001") == -EINVAL,
	      "out-of-range knob writes refused");
	CHECK(esx_sysfs_long("share/scan_time_secs") == 3600 &&
	      esx_sysfs_long("share/max_cpu_percent") == 10, "refused writes changed nothing");
	CHECK_OK(esx_sysfs_write("share/scan_time_secs", "86400"));
	CHECK_OK(esx_sysfs_write("share/max_cpu_percent", "100"));
	CHECK_OK(esx_sysfs_write("share/scan_time_secs", "1"));
	CHECK_OK(esx_sysfs_write("share/max_cpu_percent", "1"));
}

/* An object of VM_PAGES pages, every one of distinct data. */
static int distinct_vm(void)
{
	int fd = esx_open();
	uint8_t *p = esx_map(fd, VM_PAGES, 0);
	size_t i;

	REQUIRE(p, "mmap of %u pages: %s", VM_PAGES, strerror(errno));
	for (i = 0; i < VM_PAGES; i++) {
		memset(p + i * ESX_PAGE, 0x5a, ESX_PAGE);
		memcpy(p + i * ESX_PAGE, &i, sizeof(i));
	}
	munmap(p, VM_PAGES * ESX_PAGE);
	return fd;
}

/* Pages scanned of @fd a second over @secs, and the scanner's CPU share. */
static double measure(int fd, double secs, double *cpu_share, long *capped_us)
{
	uint64_t p0 = esx_stats(fd).pages_scanned, p1;
	double c0 = scan_cpu(), t0 = esx_now(), t1;
	long k0 = esx_sysfs_long("share/cpu_capped_us");

	while (esx_now() - t0 < secs)
		usleep(200000);
	p1 = esx_stats(fd).pages_scanned;
	t1 = esx_now();
	*cpu_share = (scan_cpu() - c0) / (t1 - t0);
	*capped_us = esx_sysfs_long("share/cpu_capped_us") - k0;
	return (double)(p1 - p0) / (t1 - t0);
}

static void rate_and_cap(void)
{
	double want = (double)VM_PAGES / RATE_SECS, rate, cpu;
	long capped;
	int fd;

	REQUIRE_OK(esx_sysfs_write_long("share/scan_time_secs", RATE_SECS));
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "10"));
	fd = distinct_vm();
	/* Past the first turns, whose bucket starts full. */
	REQUIRE(ESX_WAIT_FOR(esx_stats(fd).pages_scanned >= 2 * 64, 60),
		"the scanner visits the VM: %llu pages scanned",
		(unsigned long long)esx_stats(fd).pages_scanned);
	rate = measure(fd, RATE_WINDOW, &cpu, &capped);
	printf("scale: rate: %.0f pages/s for %.0f wanted (%u pages in %d s), scanner CPU %.2f%%\n",
	       rate, want, VM_PAGES, RATE_SECS, cpu * 100);
	CHECK(rate > want * (1 - RATE_TOLERANCE) && rate < want * (1 + RATE_TOLERANCE),
	      "%.0f pages/s scanned, %.0f wanted", rate, want);
	CHECK(cpu < 0.10, "scanner CPU %.2f%%, over the 10%% cap", cpu * 100);

	/* A full scan a second: more than CAP_PERCENT of a CPU can do. */
	REQUIRE_OK(esx_sysfs_write_long("share/max_cpu_percent", CAP_PERCENT));
	REQUIRE_OK(esx_sysfs_write("share/scan_time_secs", "1"));
	rate = measure(fd, 2.0, &cpu, &capped);	/* settles */
	rate = measure(fd, CAP_WINDOW, &cpu, &capped);
	printf("scale: cap: %.0f pages/s for %u wanted, scanner CPU %.2f%% (cap %d%%), held back %.1f s\n",
	       rate, VM_PAGES, cpu * 100, CAP_PERCENT, capped / 1e6);
	/* The thread's runtime is counted by ticks: a little slack. */
	CHECK(cpu < CAP_PERCENT / 100.0 * 1.25 + 0.005, "scanner CPU %.2f%%, cap %d%%",
	      cpu * 100, CAP_PERCENT);
	CHECK(capped > CAP_WINDOW * 1e6 / 2, "the cap held the scanner back only %.1f s of %.0f",
	      capped / 1e6, CAP_WINDOW);
	CHECK(rate > 0 && rate < VM_PAGES, "%.0f pages/s under the cap", rate);
	close(fd);
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "10"));
}

/* The sharing frame table's size: the metadata less the VMs' page maps. */
static long frame_table_bytes(void)
{
	return esx_sysfs_long("share/metadata_bytes") -
	       esx_sysfs_long("share/guest_pages") * (long)sizeof(uint64_t);
}

static void knob_ends_nap(void)
{
	uint64_t bytes = (uint64_t)NAP_VM_PAGES * ESX_PAGE, scanned;
	long table0, capped0;
	double cpu0, debt, t0, resumed = -1;
	int fd, big;

	REQUIRE_OK(esx_sysfs_write("share/scan_time_secs", "1"));
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "1"));
	fd = distinct_vm();
	REQUIRE(ESX_WAIT_FOR(esx_stats(fd).pages_scanned >= 2 * 64, 60),
		"the scanner visits the VM at 1%%: %llu pages scanned",
		(unsigned long long)esx_stats(fd).pages_scanned);

	table0 = frame_table_bytes();
	capped0 = esx_sysfs_long("share/cpu_capped_us");
	cpu0 = scan_cpu();
	big = esx_open();
	REQUIRE(!ioctl(big, ESXMEM_IOC_SET_SIZE, &bytes), "a VM of %u pages: %s",
		NAP_VM_PAGES, strerror(errno));
	/* The table is grown by the scanner, which naps for it right after. */
	REQUIRE(ESX_WAIT_FOR(frame_table_bytes() != table0, 60),
		"the frame table stays at %ld bytes for a VM of %u pages", table0, NAP_VM_PAGES);
	scanned = esx_stats(fd).pages_scanned;
	debt = scan_cpu() - cpu0;
	t0 = esx_now();
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "100"));
	if (ESX_WAIT_FOR(esx_stats(fd).pages_scanned != scanned, 3 * NAP_LIMIT_SECS))
		resumed = esx_now() - t0;
	printf("scale: nap: frame table %ld -> %ld bytes for %.2f s of scanner CPU, "
	       "held back %.1f s at 1%%; scanning resumed %.2f s after max_cpu_percent 100 "
	       "(-1: not in %.0f s)\n", table0, frame_table_bytes(), debt,
	       (esx_sysfs_long("share/cpu_capped_us") - capped0) / 1e6, resumed,
	       3 * NAP_LIMIT_SECS);
	/* Under 50 ms of debt, even a nap at 1% would end within the limit. */
	CHECK(debt > NAP_LIMIT_SECS / 100,
	      "the table grew for only %.3f s of scanner CPU: no long nap to end; make "
	      "NAP_VM_PAGES larger", debt);
	CHECK(resumed >= 0 && resumed < NAP_LIMIT_SECS,
	      "scanning resumed %.2f s after max_cpu_percent went from 1 to 100, limit %.0f s "
	      "(-1: not in %.0f s): a nap outlived the knob change", resumed, NAP_LIMIT_SECS,
	      3 * NAP_LIMIT_SECS);
	close(big);
	close(fd);
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "10"));
}

static uint64_t page_word(int vm, unsigned int page)
{
	/* Common pages alike in every VM, unique ones of their VM alone. */
	return page < COMMON ? 0xc0ffee00u + page : ((uint64_t)vm << 32 | page) + 1;
}

/* Where page @page of the written ones lies in the object. */
static off_t page_index(unsigned int page)
{
	return (off_t)page * (VM_PAGES / (COMMON + UNIQUE)) + page;
}

static int scale_vm(int vm)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = DOMAIN };
	int fd = esx_open();
	uint8_t *p = esx_map(fd, VM_PAGES, 0);
	unsigned int i;

	REQUIRE(p, "VM %d: mmap: %s", vm, strerror(errno));
	REQUIRE_OK(esxmem_vm_set(nl, esx_stats(fd).id, &s));
	for (i = 0; i < COMMON + UNIQUE; i++) {
		uint64_t w = page_word(vm, i);
		uint8_t *q = p + page_index(i) * ESX_PAGE;

		memset(q, 0x33, ESX_PAGE);
		memcpy(q, &w, sizeof(w));
	}
	munmap(p, VM_PAGES * ESX_PAGE);
	return fd;
}

/* VMs short of two passes, or of their common pages shared. */
static int scale_pending(const int *fd, int *scans_short, int *merge_short)
{
	int vm;

	*scans_short = *merge_short = 0;
	for (vm = 0; vm < VMS; vm++) {
		struct esxmem_vm_stats st = esx_stats(fd[vm]);

		*scans_short += st.full_scans < 2;
		*merge_short += st.state_pages[ESXMEM_PAGE_SHARED] != COMMON ||
				st.consumed_pages != UNIQUE;
	}
	return *scans_short + *merge_short;
}

static void thousand_vms(void)
{
	struct rlimit rl = { VMS + 64, VMS + 64 };
	int fd[VMS], vm, scans_short = 0, merge_short = 0, unsampled, sampled_high;
	double t0, t_created, t_merged = -1, c0, t1;
	long used0, frames0, scanned0, objects0;
	long large0 = esx_sysfs_long("large_page_allocs");
	long underused0 = esx_sysfs_long("large_page_underused_breaks");
	uint64_t max_ppm = 0;

	REQUIRE(!setrlimit(RLIMIT_NOFILE, &rl), "RLIMIT_NOFILE %d: %s", VMS + 64,
		strerror(errno));
	/* A closed object goes once the threads that hold it let go. */
	REQUIRE(ESX_WAIT_FOR(esx_sysfs_long("objects") <= objects_start, 60),
		"%ld objects of the checks before are still there",
		esx_sysfs_long("objects") - objects_start);
	objects0 = esx_sysfs_long("objects");
	REQUIRE_OK(esx_sysfs_write("sample/period_secs", "1"));
	REQUIRE_OK(esx_sysfs_write("sample/pages", SAMPLE_PAGES));
	REQUIRE_OK(esx_sysfs_write_long("share/scan_time_secs", SCALE_SECS));
	REQUIRE_OK(esx_sysfs_write_long("share/max_cpu_percent", SCALE_CPU_PERCENT));
	used0 = esx_pool_settled(30);
	frames0 = esx_sysfs_long("share/pages_shared");
	scanned0 = esx_sysfs_long("share/pages_scanned");
	c0 = scan_cpu();

	t0 = esx_now();
	for (vm = 0; vm < VMS; vm++)
		fd[vm] = scale_vm(vm);
	t_created = esx_now() - t0;
	printf("scale: %d VMs of %u MiB created and written in %.1f s: %ld pages charged, "
	       "%ld large pages\n", VMS, VM_PAGES / 256, t_created,
	       esx_sysfs_long("used_pages") - used0, esx_sysfs_long("large_page_allocs") - large0);

	while (esx_now() - t0 < SCALE_LIMIT_SECS && scale_pending(fd, &scans_short, &merge_short))
		usleep(500000);
	if (!scans_short && !merge_short)
		t_merged = esx_now() - t0;
	t1 = esx_now();
	printf("scale: every VM scanned twice and merged %.1f s after the first was made "
	       "(target %d s a pass); %.1f M pages scanned, scanner CPU %.1f s (%.1f%%)\n",
	       t_merged, SCALE_SECS, (esx_sysfs_long("share/pages_scanned") - scanned0) / 1e6,
	       scan_cpu() - c0, (scan_cpu() - c0) / (t1 - t0) * 100);
	CHECK(!scans_short, "%d of %d VMs not scanned twice in %.0f s", scans_short, VMS,
	      SCALE_LIMIT_SECS);
	CHECK(!merge_short, "%d of %d VMs without their %d common pages shared in %.0f s",
	      merge_short, VMS, COMMON, SCALE_LIMIT_SECS);
	CHECK(esx_sysfs_long("share/pages_shared") - frames0 == COMMON, "%ld frames for %d contents",
	      esx_sysfs_long("share/pages_shared") - frames0, COMMON);
	printf("scale: %ld large pages broken for being mostly zero\n",
	       esx_sysfs_long("large_page_underused_breaks") - underused0);
	CHECK(esx_sysfs_long("used_pages") - used0 == (long)VMS * UNIQUE + COMMON,
	      "pool charged %ld pages, want %d", esx_sysfs_long("used_pages") - used0,
	      VMS * UNIQUE + COMMON);

	/* Every VM's first period ends within a few; 16 writes of 16 samples at most. */
	CHECK(ESX_WAIT_FOR(({
		unsigned int _n = 0;
		for (vm = 0; vm < VMS; vm++)
			_n += esx_stats(fd[vm]).sample_periods < 1;
		unsampled = (int)_n;
		_n == 0;
	}), 60), "%d VMs without a sampling period", unsampled);
	sampled_high = 0;
	for (vm = 0; vm < VMS; vm++) {
		uint64_t ppm = esx_stats(fd[vm]).active_ppm;

		max_ppm = ppm > max_ppm ? ppm : max_ppm;
		sampled_high += ppm >= 1000000;
	}
	printf("scale: every VM sampled %.1f s after the first was made, highest estimate %.2f\n",
	       esx_now() - t0, max_ppm / 1e6);
	CHECK(!sampled_high, "%d idle VMs estimated fully active", sampled_high);

	t1 = esx_now();
	for (vm = 0; vm < VMS; vm++)
		close(fd[vm]);
	printf("scale: %d VMs closed in %.1f s\n", VMS, esx_now() - t1);
	CHECK(esx_pool_back(used0, 60), "pool at %ld pages after close, %ld before",
	      esx_sysfs_long("used_pages"), used0);
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("share/pages_shared") == frames0, 60),
	      "%ld frames after close, %ld before", esx_sysfs_long("share/pages_shared"), frames0);
	CHECK(esx_sysfs_long("objects") == objects0, "%ld objects after close, %ld before",
	      esx_sysfs_long("objects"), objects0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	save_knobs();
	objects_start = esx_sysfs_long("objects");
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE_OK(esx_sysfs_write("share/pages_per_sec", "0"));
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));

	knobs_checked();
	rate_and_cap();
	knob_ends_nap();
	thousand_vms();

	esxmem_close(nl);
	return vmtest_done("esxmem_scale");
}
