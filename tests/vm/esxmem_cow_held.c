// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_cow_held: copy-on-write of a shared frame that someone else holds.
 *
 * Pairs of identical pages X and Y of one VM are merged onto one frame.
 * Then X's page is spliced into a pipe that is not read yet, which holds
 * the frame the way the kernel's get_user_pages users hold pages for I/O,
 * and X and Y are written, in both orders. The pipe must deliver X's old
 * content every time: the last sharer of a frame that someone else holds
 * gets a copy instead of taking the frame over and writing it in place
 * (across VMs of one domain that would leak one VM's data to another).
 * Sharing knobs are restored on exit.
 */
#include <sys/uio.h>

#include "esxtest.h"
#include "vmtest.h"

#define PAIRS		16u
#define PAGES		(2 * PAIRS)
#define WAIT_SECS	120.0

/* Fills a page with bytes that name pair @pair and @tag. */
static void fill(unsigned char *p, unsigned int pair, unsigned char tag)
{
	for (size_t i = 0; i < ESX_PAGE; i++)
		p[i] = (unsigned char)(tag ^ (pair * 31 + i * 7 + (i >> 8)));
}

static bool same(const unsigned char *p, unsigned int pair, unsigned char tag)
{
	static unsigned char want[ESX_PAGE];

	fill(want, pair, tag);
	return !memcmp(p, want, ESX_PAGE);
}

static long used0;

int main(void)
{
	unsigned char buf[ESX_PAGE], *map;
	int pipes[PAIRS][2], fd;
	unsigned int p, stale = 0, leaked = 0;

	esx_background_off();
	used0 = esx_pool_settled(60);
	esx_share_rate("100000");

	fd = esx_open();
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap: %s", strerror(errno));
	for (p = 0; p < PAIRS; p++) {
		fill(map + (2 * p) * ESX_PAGE, p, 0);
		fill(map + (2 * p + 1) * ESX_PAGE, p, 0);
	}
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE(ESX_WAIT_FOR(esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED] == PAGES,
			     WAIT_SECS),
		"%llu of %u pages shared",
		(unsigned long long)esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED], PAGES);
	/* Nothing may merge anew while the pages are written. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));

	for (p = 0; p < PAIRS; p++) {
		unsigned char *x = map + (2 * p) * ESX_PAGE, *y = x + ESX_PAGE;
		struct iovec iov = { .iov_base = x, .iov_len = ESX_PAGE };

		REQUIRE(!pipe(pipes[p]), "pipe: %s", strerror(errno));
		/* The pipe holds a reference to X's frame until it is read. */
		REQUIRE(vmsplice(pipes[p][1], &iov, 1, 0) == (ssize_t)ESX_PAGE,
			"vmsplice: %s", strerror(errno));
		if (p & 1) {
			fill(y, p, 'Y');
			fill(x, p, 'X');
		} else {
			fill(x, p, 'X');
			fill(y, p, 'Y');
		}
	}
	for (p = 0; p < PAIRS; p++) {
		unsigned char *x = map + (2 * p) * ESX_PAGE, *y = x + ESX_PAGE;

		REQUIRE(read(pipes[p][0], buf, ESX_PAGE) == (ssize_t)ESX_PAGE,
			"read the pipe: %s", strerror(errno));
		if (same(buf, p, 'Y'))
			leaked++;
		else if (!same(buf, p, 0))
			stale++;
		CHECK(same(x, p, 'X') && same(y, p, 'Y'), "pair %u reads back wrong", p);
		close(pipes[p][0]);
		close(pipes[p][1]);
	}
	CHECK(leaked == 0, "%u of %u pipes delivered the other page's new content", leaked,
	      PAIRS);
	CHECK(stale == 0, "%u of %u pipes delivered neither the old content nor the other's",
	      stale, PAIRS);
	printf("%u pairs: %u leaks, %u other contents; %llu copy-on-write breaks\n", PAIRS,
	       leaked, stale, (unsigned long long)esx_stats(fd).cow_breaks);
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_cow_held");
}
