// SPDX-License-Identifier: GPL-2.0
/*
 * Idle-memory sampling in the test host, with tiny-VMM guests on esxmem:
 *
 *  - one guest touching all of its memory all the time, one touching a
 *    fixed 5% of it, one idle: with 400 samples a period, their estimates
 *    land within 0.05 of 1, 0.05 and 0;
 *  - touches of sampled pages are counted as sampling faults;
 *  - sampling a quarter of the pages each period while the sharing
 *    scanner runs at full rate leaves every page's content as written;
 *  - the knobs refuse bad values (sysfs and netlink) and change nothing;
 *    the netlink pool settings round trip.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"
#include <libesxmem/libesxmem.h>

#define PAGES		4000u
#define HOT_PAGES	(PAGES / 20)	/* 5% */
#define RAM_GPA		0x100000u
#define CODE_GPA	0x1000u
#define SAMPLES		"400"
#define WAIT_SECS	60.0
#define TOLERANCE	0.05

struct guest {
	int fd;
	struct vmm *vm;
	uint8_t *host;
	uint32_t id;
	uint32_t touch_pages;	/* touched over and over by its thread */
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong rounds;
};

static struct esxmem *nl;

#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static void guest_new(struct guest *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = esx_open();
	REQUIRE_OK(vmm_create(&g->vm));
	REQUIRE_OK(vmm_add_slot(g->vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(g->vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(g->vm, 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, g->fd, 0));
	g->host = esx_map(g->fd, PAGES, 0);
	REQUIRE(g->host, "host mapping: %s", strerror(errno));
	g->id = esx_stats(g->fd).id;
}

static uint32_t run(struct guest *g, enum vmm_routine r, uint32_t first, uint32_t pages,
		    uint32_t arg)
{
	struct vmm_regs regs = { .ebx = RAM_GPA + first * ESX_PAGE, .ecx = pages,
				 .edx = arg };

	REQUIRE_OK(vmm_call(g->vm, r, &regs));
	return regs.eax;
}

/*
 * The guest reads its first touch_pages pages, again and again: many
 * times a period, yet leaving the CPUs room for the rest of the host.
 */
static void *toucher(void *arg)
{
	struct guest *g = arg;

	while (!atomic_load(&g->stop)) {
		run(g, VMM_TOUCH, 0, g->touch_pages, ESX_PAGE);
		atomic_fetch_add(&g->rounds, 1);
		usleep(50000);
	}
	return NULL;
}

static void touch_start(struct guest *g, uint32_t pages)
{
	g->touch_pages = pages;
	atomic_store(&g->stop, false);
	REQUIRE(pthread_create(&g->thread, NULL, toucher, g) == 0, "toucher thread");
	REQUIRE(WAIT_FOR(atomic_load(&g->rounds) > 0), "the guest touches its memory");
}

static void touch_stop(struct guest *g)
{
	atomic_store(&g->stop, true);
	pthread_join(g->thread, NULL);
}

static void guest_free(struct guest *g)
{
	struct esxmem_vm_info *info;

	vmm_destroy(g->vm);
	munmap(g->host, (size_t)PAGES * ESX_PAGE);
	close(g->fd);
	CHECK(WAIT_FOR(esxmem_vm_get(nl, g->id, &info) == -ENOENT), "VM %u goes away", g->id);
}

static struct esxmem_vm_info *info(struct guest *g)
{
	struct esxmem_vm_info *v;

	REQUIRE_OK(esxmem_vm_get(nl, g->id, &v));
	return v;
}

static double frac(uint32_t ppm)
{
	return ppm / 1e6;
}

/* Waits for @n more completed periods of @g. */
static bool periods(struct guest *g, uint64_t n)
{
	uint64_t goal = esxmem_vm_value(info(g), ESXMEM_VM_SAMPLE_PERIODS) + n;

	return WAIT_FOR(esxmem_vm_value(info(g), ESXMEM_VM_SAMPLE_PERIODS) >= goal);
}

static void accuracy(void)
{
	struct guest hot, warm, cold;
	struct esxmem_vm_info *h, *w, *c;

	/*
	 * Set up with sampling off: filling the memory touches all of it,
	 * which the slow average would remember for many periods.
	 */
	REQUIRE_OK(esx_sysfs_write("sample/enabled", "0"));
	guest_new(&hot);
	guest_new(&warm);
	guest_new(&cold);
	/* All of it written once, so that every page is backed. */
	run(&hot, VMM_FILL, 0, PAGES, 1);
	run(&warm, VMM_FILL, 0, PAGES, 2);
	run(&cold, VMM_FILL, 0, PAGES, 3);
	touch_start(&hot, PAGES);
	touch_start(&warm, HOT_PAGES);
	CHECK(esxmem_vm_value(info(&cold), ESXMEM_VM_ACTIVE_PPM) == 1000000 && esxmem_vm_value(info(&cold), ESXMEM_VM_SAMPLE_PERIODS) == 0,
	      "a VM is taken as active until a period ends");
	REQUIRE_OK(esx_sysfs_write("sample/enabled", "1"));
	CHECK(periods(&hot, 4) && periods(&warm, 4) && periods(&cold, 4),
	      "sampling periods pass");
	h = info(&hot);
	w = info(&warm);
	c = info(&cold);
	printf("sample: active estimate (last, slow, fast): all %.3f (%.3f %.3f %.3f), 5%% %.3f (%.3f %.3f %.3f), idle %.3f (%.3f %.3f %.3f) after %llu periods\n",
	       frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_PPM)), frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_LAST_PPM)), frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_SLOW_PPM)),
	       frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_FAST_PPM)), frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_PPM)), frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_LAST_PPM)),
	       frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_SLOW_PPM)), frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_FAST_PPM)), frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_PPM)),
	       frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_LAST_PPM)), frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_SLOW_PPM)), frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_FAST_PPM)),
	       (unsigned long long)esxmem_vm_value(h, ESXMEM_VM_SAMPLE_PERIODS));
	CHECK(fabs(frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_PPM)) - 1) <= TOLERANCE &&
	      fabs(frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_LAST_PPM)) - 1) <= TOLERANCE,
	      "busy guest: estimate %.3f, last %.3f", frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_PPM)),
	      frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_LAST_PPM)));
	CHECK(fabs(frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_PPM)) - 0.05) <= TOLERANCE &&
	      fabs(frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_LAST_PPM)) - 0.05) <= TOLERANCE,
	      "5%% guest: estimate %.3f, last %.3f", frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_PPM)),
	      frac(esxmem_vm_value(w, ESXMEM_VM_ACTIVE_LAST_PPM)));
	CHECK(frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_PPM)) <= TOLERANCE && esxmem_vm_value(c, ESXMEM_VM_ACTIVE_LAST_PPM) == 0,
	      "idle guest: estimate %.3f, last %.3f", frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_PPM)),
	      frac(esxmem_vm_value(c, ESXMEM_VM_ACTIVE_LAST_PPM)));
	CHECK(esxmem_vm_value(h, ESXMEM_VM_SAMPLE_FAULTS) >= 400 * 4 && esx_sysfs_long("sample/faults") >= 1600,
	      "touches of sampled pages counted: %llu", (unsigned long long)esxmem_vm_value(h, ESXMEM_VM_SAMPLE_FAULTS));
	CHECK(esxmem_vm_value(c, ESXMEM_VM_SAMPLE_FAULTS) == 0, "nothing counted for the idle guest: %llu",
	      (unsigned long long)esxmem_vm_value(c, ESXMEM_VM_SAMPLE_FAULTS));

	/* The busy guest goes idle: its estimate follows, slowly. */
	touch_stop(&hot);
	CHECK(periods(&hot, 2), "periods after the busy guest stopped");
	h = info(&hot);
	CHECK(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_LAST_PPM) == 0 && frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_PPM)) > 0.5,
	      "idle now (last %.3f) but believed slowly (estimate %.3f)",
	      frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_LAST_PPM)), frac(esxmem_vm_value(h, ESXMEM_VM_ACTIVE_PPM)));

	touch_stop(&warm);
	CHECK(run(&hot, VMM_CHECK, 0, PAGES, 1) == 0 && run(&warm, VMM_CHECK, 0, PAGES, 2) == 0 &&
	      run(&cold, VMM_CHECK, 0, PAGES, 3) == 0, "contents as written");
	guest_free(&hot);
	guest_free(&warm);
	guest_free(&cold);
}

/*
 * A quarter of every VM's pages sampled each period, the scanner at full
 * rate, writes racing. (All of them would do too, but each sample costs a
 * KVM page-table flush, slow under the test host's emulation.)
 */
static void contents_kept(void)
{
	struct guest a, b;
	uint32_t round;

	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = 7 };

	REQUIRE_OK(esx_sysfs_write("sample/pages", "1000"));
	guest_new(&a);
	guest_new(&b);
	/* Same content, same domain: the scanner shares them meanwhile. */
	REQUIRE_OK(esxmem_vm_set(nl, a.id, &s));
	REQUIRE_OK(esxmem_vm_set(nl, b.id, &s));
	for (round = 0; round < 4; round++) {
		run(&a, VMM_FILL, 0, PAGES, 10 + round);
		run(&b, VMM_FILL, 0, PAGES, 10 + round);
		memset(a.host + (round + 1) * 100 * ESX_PAGE, 0, 50 * ESX_PAGE);
		CHECK(periods(&a, 1), "a period with a quarter of the pages sampled");
		CHECK(run(&a, VMM_CHECK, 0, (round + 1) * 100, 10 + round) == 0 &&
		      esx_is_zero(a.host + (round + 1) * 100 * ESX_PAGE, 50 * ESX_PAGE) &&
		      run(&a, VMM_CHECK, (round + 1) * 100 + 50,
			  PAGES - (round + 1) * 100 - 50, 10 + round) == 0 &&
		      run(&b, VMM_CHECK, 0, PAGES, 10 + round) == 0,
		      "round %u: contents as written", round);
	}
	CHECK(esxmem_vm_state_pages(info(&a), ESXMEM_PAGE_SHARED) > 0, "the scanner shared pages meanwhile");
	REQUIRE_OK(esx_sysfs_write("sample/pages", SAMPLES));
	guest_free(&a);
	guest_free(&b);
}

static void knobs(void)
{
	struct esxmem_pool_settings s = {
		.set = ESXMEM_POOL_SET_SAMPLE_SECS | ESXMEM_POOL_SET_SAMPLE_PAGES,
		.sample_secs = 7, .sample_pages = 123,
	};
	struct esxmem_pool_info *pool;
	static const char *const bad_period[] = { "0", "3601", "abc", "-1", "1.5" };
	static const char *const bad_pages[] = { "0", "100001", "1e3" };
	size_t i;

	for (i = 0; i < sizeof(bad_period) / sizeof(bad_period[0]); i++)
		CHECK(esx_sysfs_write("sample/period_secs", bad_period[i]) == -EINVAL,
		      "period_secs \"%s\" refused", bad_period[i]);
	for (i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++)
		CHECK(esx_sysfs_write("sample/pages", bad_pages[i]) == -EINVAL,
		      "pages \"%s\" refused", bad_pages[i]);
	CHECK(esx_sysfs_write("sample/enabled", "2") == -EINVAL, "enabled 2 refused");
	CHECK(esx_sysfs_long("sample/period_secs") == 1 &&
	      esx_sysfs_long("sample/pages") == atol(SAMPLES) &&
	      esx_sysfs_long("sample/enabled") == 1, "refused writes changed nothing");

	CHECK_OK(esxmem_pool_set(nl, &s));
	CHECK_OK(esxmem_pool_get(nl, &pool));
	CHECK(esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_SECS) == 7 && esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_PAGES) == 123 &&
	      esx_sysfs_long("sample/period_secs") == 7 && esx_sysfs_long("sample/pages") == 123,
	      "netlink settings round trip: %u s, %u pages", (unsigned int)esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_SECS), (unsigned int)esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_PAGES));
	s.sample_secs = 3601;
	CHECK(esxmem_pool_set(nl, &s) == -ERANGE, "netlink period 3601 refused");
	s.sample_secs = 1;
	s.sample_pages = 0;
	CHECK(esxmem_pool_set(nl, &s) == -ERANGE, "netlink 0 pages refused");
	CHECK_OK(esxmem_pool_get(nl, &pool));
	CHECK(esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_SECS) == 7 && esxmem_pool_value(pool, ESXMEM_POOL_SAMPLE_PAGES) == 123, "refused settings changed nothing");
	REQUIRE_OK(esx_sysfs_write("sample/period_secs", "1"));
	REQUIRE_OK(esx_sysfs_write("sample/pages", SAMPLES));
}

int main(void)
{
	char period[16], pages[16];

	REQUIRE_OK(esxmem_open(&nl));
	/*
	 * The estimates below are checked to 4 KiB: with large pages the
	 * sampler traps a large page whole, and a working set of 5% that
	 * lies within one large page of the guest's eight reads as 1/8.
	 */
	esx_large_pages("never");
	esx_sysfs_string("sample/period_secs", period, sizeof(period));
	esx_sysfs_string("sample/pages", pages, sizeof(pages));
	REQUIRE(atol(period) == 30 && atol(pages) == 100, "defaults: %s s, %s pages", period,
		pages);
	REQUIRE_OK(esx_sysfs_write("sample/period_secs", "1"));
	REQUIRE_OK(esx_sysfs_write("sample/pages", SAMPLES));
	esx_share_rate("10000000");

	knobs();
	accuracy();
	contents_kept();

	printf("sample: %ld sampling faults, %ld periods, %ld us of sampler time\n",
	       esx_sysfs_long("sample/faults"), esx_sysfs_long("sample/periods"),
	       esx_sysfs_long("sample/cpu_us"));
	esx_sysfs_write("sample/period_secs", period);
	esx_sysfs_write("sample/pages", pages);
	esxmem_close(nl);
	return vmtest_done("esxmem_sample");
}
