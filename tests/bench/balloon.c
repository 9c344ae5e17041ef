// SPDX-License-Identifier: GPL-2.0
/*
 * How fast esxballoon inflates and deflates without a rate limit: the
 * driver in the test host itself over vsock_loopback, with the reference
 * host side of tests/vm/balloon_host.h, 64k pages (256 MiB) each way; timed
 * from the first page to the last (the driver polls its target once a
 * second, which is not counted). The baseline is a process allocating and
 * touching as many pages (mmap + one write per page).
 *
 * Output: "bench: balloon_<figure> <value> <unit>".
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "esxtest.h"
#include "vmtest.h"
#include "balloon_host.h"

#define PORT		17801
#define KO		"/lib/modules/esxmem/esxballoon.ko"
#define HELD		"/sys/kernel/esxballoon/held_pages"
#define PAGES		65536ul

static struct bh_server srv;

static unsigned long held(void)
{
	char buf[32] = "";
	int fd = open(HELD, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return strtoul(buf, NULL, 10);
}

/* Seconds from the first change of the balloon to @pages held (host too). */
static double move_to(unsigned long pages)
{
	unsigned long from = held();
	double start, end = esx_now() + 120;

	bh_set_target(&srv, pages);
	while (held() == from && esx_now() < end)
		usleep(1000);
	start = esx_now();
	while ((held() != pages || bh_get(&srv).ballooned != pages) && esx_now() < end)
		usleep(1000);
	REQUIRE(held() == pages, "the balloon holds %lu pages, not %lu", held(), pages);
	return esx_now() - start;
}

int main(void)
{
	double t_in, t_out, t_alloc;
	char *p;
	size_t i;

	REQUIRE_OK(esx_load_vsock(true));
	bh_start(&srv, PORT);
	REQUIRE_OK(esx_load_module(KO, "host_cid=1 port=17801 inflate_rate=1048576"));
	REQUIRE(ESX_WAIT_FOR(bh_get(&srv).state == BH_READY, 15), "the driver did not connect");

	t_in = move_to(PAGES);
	t_out = move_to(0);

	t_alloc = esx_now();
	p = mmap(NULL, PAGES * ESX_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED, "mmap");
	for (i = 0; i < PAGES; i++)
		p[i * ESX_PAGE] = 1;
	t_alloc = esx_now() - t_alloc;
	munmap(p, PAGES * ESX_PAGE);

	printf("bench: balloon_inflate_rate %.0f pages/s\n", PAGES / t_in);
	printf("bench: balloon_deflate_rate %.0f pages/s\n", PAGES / t_out);
	printf("bench: balloon_anon_alloc_rate %.0f pages/s\n", PAGES / t_alloc);
	printf("bench: balloon_inflate_vs_anon_alloc %.2f ratio\n", t_alloc / t_in);
	REQUIRE(!syscall(SYS_delete_module, "esxballoon", O_NONBLOCK), "rmmod esxballoon");
	return 0;
}
