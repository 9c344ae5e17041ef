// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_share_teardown: a VM going away, or the frame table being resized
 * for it, never holds up another VM's copy-on-write faults.
 *
 * VM "big" has 256 GiB of guest RAM (sparse), so the sharing frame table
 * grows to half an entry per guest page: 32 Mi entries, 512 MiB. VM "busy"
 * has pairs of identical pages, merged. While one thread of "busy" writes
 * one page of each pair (each write breaks copy-on-write and lets go of a
 * shared frame), "big" is torn down: its hints are purged from the table
 * and the scanner shrinks the table again, each a walk of every entry.
 * No write may wait on that walk: the slowest write stays far below the
 * time the walks take (in the test host, about 95 ms for a 64 GiB VM's
 * table when writes waited on it, so about 0.4 s for this one). A write
 * that waited takes most of a walk; one the host merely preempted takes
 * what the host's load costs, and the walks slow down as much: the bound
 * is a quarter of the walks' time, and never below 100 ms. Sharing knobs
 * are restored on exit.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "esxtest.h"
#include "vmtest.h"

#define PAIRS		4096u
/* Room in its table for every frame once "big" is gone. */
#define BUSY_PAGES	(16 * PAIRS)
#define BIG_BYTES	(256ULL << 30)
#define WAIT_SECS	120.0
/* Writes are spread out, so that they span the teardown. */
#define WRITE_GAP_US	500
/* No write is called slow below this, whatever the walks take. */
#define SLOW_WRITE_SECS	0.100

static unsigned char *busy;
static atomic_uint written;
static atomic_bool stop;
static double slowest, slowest_at;

static long table_bytes(void)
{
	return esx_sysfs_long("share/metadata_bytes") -
	       esx_sysfs_long("share/guest_pages") * 8;
}

static void fill(unsigned char *p, unsigned int pair, unsigned char tag)
{
	memset(p, tag, ESX_PAGE);
	memcpy(p, &pair, sizeof(pair));
}

/* Breaks copy-on-write of one page of each pair, timing each write. */
static void *writer(void *arg)
{
	(void)arg;
	for (unsigned int p = 0; p < PAIRS && !atomic_load(&stop); p++) {
		double t;

		usleep(WRITE_GAP_US);
		t = esx_now();
		busy[(size_t)2 * p * ESX_PAGE + 100] = 0xee;
		t = esx_now() - t;
		if (t > slowest) {
			slowest = t;
			slowest_at = esx_now();
		}
		atomic_fetch_add(&written, 1);
	}
	return NULL;
}

static long used0;

int main(void)
{
	double t_close, t_closed, t_shrunk, slow;
	int busy_fd, big_fd;
	unsigned int p;
	long big_table;
	pthread_t tw;

	esx_background_off();
	used0 = esx_pool_settled(60);
	esx_share_rate("10000000");

	busy_fd = esx_open();
	busy = esx_map(busy_fd, BUSY_PAGES, 0);
	REQUIRE(busy, "mmap: %s", strerror(errno));
	for (p = 0; p < PAIRS; p++) {
		fill(busy + (size_t)2 * p * ESX_PAGE, p, 0x5a);
		fill(busy + (size_t)(2 * p + 1) * ESX_PAGE, p, 0x5a);
	}
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	/* Most pairs: the table, sized for few pages yet, holds hints for most. */
	REQUIRE(ESX_WAIT_FOR(esx_stats(busy_fd).state_pages[ESXMEM_PAGE_SHARED] >= PAIRS,
			     WAIT_SECS),
		"%llu of %u pages shared",
		(unsigned long long)esx_stats(busy_fd).state_pages[ESXMEM_PAGE_SHARED],
		2 * PAIRS);

	big_fd = esx_open();
	REQUIRE(!ioctl(big_fd, ESXMEM_IOC_SET_SIZE, &(uint64_t){ BIG_BYTES }), "256 GiB: %s",
		strerror(errno));
	big_table = (long)(BIG_BYTES / ESX_PAGE / 2 * 16);
	REQUIRE(ESX_WAIT_FOR(table_bytes() >= big_table, WAIT_SECS),
		"the frame table is %ld bytes, want %ld", table_bytes(), big_table);

	REQUIRE(!pthread_create(&tw, NULL, writer, NULL), "thread");
	REQUIRE(ESX_WAIT_FOR(atomic_load(&written) >= PAIRS / 16, WAIT_SECS), "no writes");
	t_close = esx_now();
	close(big_fd);
	t_closed = esx_now();
	CHECK(ESX_WAIT_FOR(table_bytes() < big_table / 64, WAIT_SECS),
	      "the frame table stays at %ld bytes", table_bytes());
	t_shrunk = esx_now();
	atomic_store(&stop, true);
	pthread_join(tw, NULL);

	printf("teardown %.3f s, table shrunk %.3f s after; %u writes (%llu copy-on-write), the slowest %.1f ms at +%.3f s\n",
	       t_closed - t_close, t_shrunk - t_closed, atomic_load(&written),
	       (unsigned long long)esx_stats(busy_fd).cow_breaks, slowest * 1e3,
	       slowest_at - t_close);
	CHECK(atomic_load(&written) < PAIRS, "the writes ended before the table shrank");
	slow = (t_shrunk - t_close) / 4;
	if (slow < SLOW_WRITE_SECS)
		slow = SLOW_WRITE_SECS;
	CHECK(slowest < slow,
	      "a copy-on-write fault took %.1f ms during the teardown, over %.1f ms: a quarter of the walks' time",
	      slowest * 1e3, slow * 1e3);
	munmap(busy, (size_t)BUSY_PAGES * ESX_PAGE);
	close(busy_fd);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_share_teardown");
}
