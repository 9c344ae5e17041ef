// SPDX-License-Identifier: GPL-2.0
/*
 * What reclamation in the module costs and saves, on real guest memory: the
 * non-zero pages of an idle Linux guest's RAM just after boot (kernel,
 * page cache, slab; zero pages are sharing's business, not compression's),
 * copied into an esxmem object of the same size:
 *
 *  - the compression cache: the share of pages that compress to 2 KiB or
 *    less, their compression ratio (pages in over zsmalloc pages used),
 *    the rate at which the reclaim thread compresses, and the time a touch
 *    takes to bring a compressed page back;
 *  - the swap file (on tmpfs, so the figures are the module's cost, not a
 *    disk's): swap-out and swap-in rates and the time a touch takes;
 *  - as the baseline, the time to read a page that is in memory; the
 *    fault-in times are also given as ratios to it.
 *
 * Output: "bench: reclaim_<figure> <value> <unit>".
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define GUEST_PAGES	65536u		/* 256 MiB */
#define GUEST_RAM	"/tmp/bench-guest.ram"
#define CONSOLE		"/tmp/bench-guest.console"
#define SWAPDIR		"/tmp/bench-swap"

static struct esxmem *nl;
static uint32_t id;
static size_t pages;	/* the guest's non-zero pages */

static struct esxmem_vm_info *info(void)
{
	struct esxmem_vm_info *vi;

	if (esxmem_vm_get(nl, id, &vi))
		exit(1);
	return vi;
}

static void set_reclaim(uint64_t target, uint64_t compress_max)
{
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_SWAP_TARGET_PAGES | ESXMEM_VM_SET_COMPRESS_MAX_PAGES,
		.swap_target_pages = target, .compress_max_pages = compress_max,
	};

	REQUIRE_OK(esxmem_vm_set(nl, id, &s));
}

/* Seconds to read every page of @map once (one word per 64 bytes). */
static double read_all(const char *map)
{
	volatile uint64_t sum = 0;
	double t = esx_now();
	size_t i;

	for (i = 0; i < pages * ESX_PAGE; i += 64)
		sum += *(const uint64_t *)(map + i);
	(void)sum;
	return esx_now() - t;
}

/* Waits until the reclaim thread has done all it will: outs stop moving. */
static double settle(uint64_t (*outs)(void))
{
	double t0 = esx_now(), last = t0;
	uint64_t n = outs(), m;

	while (esx_now() - last < 1.0 && esx_now() - t0 < 300) {
		usleep(20000);
		m = outs();
		if (m != n) {
			n = m;
			last = esx_now();
		}
	}
	return last - t0;
}

static uint64_t compressed(void)
{
	return esxmem_vm_value(info(), ESXMEM_VM_COMPRESS_OUTS);
}

static uint64_t swapped(void)
{
	return esxmem_vm_value(info(), ESXMEM_VM_SWAP_OUTS);
}

/*
 * Boots an idle Linux guest with its RAM in a tmpfs file, and copies the
 * guest's non-zero pages into @map once it has settled; how many there are.
 */
static size_t copy_guest_memory(char *map)
{
	static const char zero[ESX_PAGE];
	const char *ram;
	size_t i, n = 0;
	pid_t pid;
	int fd;

	pid = esx_start_guest(GUEST_PAGES / 256, "guest.work=hold", GUEST_RAM, CONSOLE, NULL);
	REQUIRE(pid >= 0, "fork");
	REQUIRE(ESX_WAIT_FOR(esx_file_has(CONSOLE, "GUEST-HOLD"), 180), "the guest did not boot");
	fd = open(GUEST_RAM, O_RDONLY);
	REQUIRE(fd >= 0, "open " GUEST_RAM);
	ram = mmap(NULL, (size_t)GUEST_PAGES * ESX_PAGE, PROT_READ, MAP_SHARED, fd, 0);
	REQUIRE(ram != MAP_FAILED, "mmap " GUEST_RAM);
	for (i = 0; i < GUEST_PAGES; i++)
		if (memcmp(ram + i * ESX_PAGE, zero, ESX_PAGE))
			memcpy(map + n++ * ESX_PAGE, ram + i * ESX_PAGE, ESX_PAGE);
	munmap((void *)ram, (size_t)GUEST_PAGES * ESX_PAGE);
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(GUEST_RAM);
	return n;
}

int main(void)
{
	double t_read, t_out, t_in;
	uint64_t ncomp, nswap, zpages;
	struct esxmem_vm_info *vi;
	int fd, swapfd;
	char *map;

	esx_background_off();
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	fd = esx_open();
	map = esx_map(fd, GUEST_PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	pages = copy_guest_memory(map);
	REQUIRE(pages >= 1024, "the guest has only %zu non-zero pages", pages);
	printf("bench: reclaim_guest_pages %zu pages\n", pages);
	read_all(map);
	t_read = read_all(map);

	/* The compression cache alone. */
	set_reclaim(0, GUEST_PAGES);
	t_out = settle(compressed);
	vi = info();
	ncomp = esxmem_vm_state_pages(vi, ESXMEM_PAGE_COMPRESSED);
	zpages = (uint64_t)esx_sysfs_long("reclaim/zpool_pages");
	set_reclaim(ESXMEM_NO_TARGET, GUEST_PAGES);
	/* Only compressed pages fault; the others cost a read, counted out. */
	t_in = read_all(map) - t_read * (double)(pages - ncomp) / (double)pages;
	REQUIRE(ncomp > 0, "nothing was compressed");
	printf("bench: reclaim_compressible %.1f %% of pages\n", 100.0 * ncomp / pages);
	printf("bench: reclaim_compression_ratio %.2f pages/zsmalloc page\n",
	       zpages ? (double)ncomp / zpages : 0);
	printf("bench: reclaim_compress_rate %.0f pages/s\n", ncomp / t_out);
	printf("bench: reclaim_decompress_fault %.2f us/page\n", t_in * 1e6 / ncomp);
	printf("bench: reclaim_decompress_fault_vs_read %.1f ratio\n",
	       (t_in / ncomp) / (t_read / pages));

	/* The swap file alone. */
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=300m"), "mount");
	swapfd = open(SWAPDIR, O_TMPFILE | O_RDWR, 0600);
	REQUIRE(swapfd >= 0 && !posix_fallocate(swapfd, 0, (off_t)pages * ESX_PAGE), "swap file");
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	set_reclaim(0, 0);
	t_out = settle(swapped);
	nswap = esxmem_vm_state_pages(info(), ESXMEM_PAGE_SWAPPED);
	set_reclaim(ESXMEM_NO_TARGET, 0);
	t_in = read_all(map) - t_read * (double)(pages - nswap) / (double)pages;
	REQUIRE(nswap > 0, "nothing was swapped");
	printf("bench: reclaim_swap_out_rate %.0f pages/s\n", nswap / t_out);
	printf("bench: reclaim_swap_in_rate %.0f pages/s\n", nswap / t_in);
	printf("bench: reclaim_swap_fault %.2f us/page\n", t_in * 1e6 / nswap);
	printf("bench: reclaim_memory_read %.3f us/page\n", t_read * 1e6 / pages);
	printf("bench: reclaim_swap_fault_vs_read %.1f ratio\n", (t_in / nswap) / (t_read / pages));
	printf("bench: reclaim_thread_cpu %ld ms\n", esx_sysfs_long("reclaim/cpu_us") / 1000);
	munmap(map, (size_t)GUEST_PAGES * ESX_PAGE);
	close(fd);
	close(swapfd);
	umount(SWAPDIR);
	return 0;
}
