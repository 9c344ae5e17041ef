// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_numa: guest pages are allocated on the NUMA node that the memory
 * policy of the object's range asks for, set with mbind() on a mapping (as
 * QEMU does for a memory backend's host-nodes and policy).
 *
 * testhost: numa
 *
 * The test host has two nodes, CPU 0 on node 0 and CPU 1 on node 1. The
 * test runs on one CPU and binds memory to the other CPU's node, so that
 * pages placed by the faulting CPU alone land on the wrong node. Where each
 * page went is asked of move_pages(2) in query mode.
 *  - bind: every page of an object bound to node 1 is on node 1, whether
 *    first written or first read (the zero mapping) then written; and the
 *    same with node 0 from CPU 1;
 *  - another mapping of the object, never given a policy itself, places
 *    the object's pages by the object's policy;
 *  - interleave over both nodes: page i of the object on node i % 2;
 *  - ranges: a policy set inside another splits it, MPOL_DEFAULT removes
 *    one (the task's own, local, placement again);
 *  - copy-on-write: frames the scanner shares and the copies a write
 *    breaks off them stay on the bound node;
 *  - pages coming back from the compression cache and from swap stay on
 *    the bound node;
 *  - QEMU with host-nodes=1,policy=bind on its memory backend, its vCPU on
 *    node 0's CPU: the guest's RAM is on node 1 (asked of move_pages(2)
 *    for QEMU's mapping).
 */
#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"

#define PAGES		256u
#define WORDS		(ESX_PAGE / 8)
#define WAIT_SECS	120
#define SWAPDIR		"/tmp/numa-swap"

static struct esxmem *nl;
static pid_t main_pid;

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	umount(SWAPDIR);
}

/*
 * Page @i of object @obj: a repeated 16 bytes (compressible) naming both,
 * so that no two pages anywhere are alike and the scanner shares none.
 */
static void fill(char *page, uint32_t obj, uint32_t i)
{
	uint64_t *w = (uint64_t *)page, seed = esx_mix(((uint64_t)obj << 32) | i);
	size_t k;

	for (k = 0; k < WORDS; k++)
		w[k] = k & 1 ? seed : ((uint64_t)obj << 32 | i);
}

static bool filled(const char *page, uint32_t obj, uint32_t i)
{
	static char want[ESX_PAGE];

	fill(want, obj, i);
	return !memcmp(page, want, ESX_PAGE);
}

static void on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	REQUIRE(!sched_setaffinity(0, sizeof(set), &set), "pin to CPU %d: %s", cpu,
		strerror(errno));
}

static void set_policy(char *map, size_t first, size_t n, int mode, unsigned long nodes)
{
	REQUIRE(!syscall(SYS_mbind, map + first * ESX_PAGE, n * ESX_PAGE, mode,
			 mode == MPOL_DEFAULT ? NULL : &nodes, 8 * sizeof(nodes), 0),
		"mbind pages %zu+%zu mode %d nodes %#lx: %s", first, n, mode, nodes,
		strerror(errno));
}

/*
 * The node of each of pages [first, first + n) of @map into @node. A page
 * that is not mapped at the moment is read, which maps it, and asked again.
 */
static void nodes_of(char *map, size_t first, size_t n, int *node)
{
	void *addr[PAGES * 2];
	int tries;
	size_t i;

	REQUIRE(n <= PAGES * 2, "too many pages");
	for (i = 0; i < n; i++)
		addr[i] = map + (first + i) * ESX_PAGE;
	for (tries = 0; tries < 10; tries++) {
		bool again = false;

		REQUIRE(!syscall(SYS_move_pages, 0, n, addr, NULL, node, 0),
			"move_pages: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (node[i] != -ENOENT)
				continue;
			(void)*(volatile char *)addr[i];
			again = true;
		}
		if (!again)
			return;
	}
}

/* How many of pages [first, first + n) are not on @want. */
static size_t off_node(char *map, size_t first, size_t n, int want, const char *what)
{
	int node[PAGES * 2];
	size_t i, bad = 0;

	nodes_of(map, first, n, node);
	for (i = 0; i < n; i++) {
		if (node[i] == want)
			continue;
		if (!bad)
			fprintf(stderr, "%s: page %zu on node %d, want %d\n", what, first + i,
				node[i], want);
		bad++;
	}
	return bad;
}

static void write_pages(char *map, uint32_t obj, size_t first, size_t n)
{
	size_t i;

	for (i = first; i < first + n; i++)
		fill(map + i * ESX_PAGE, obj, i);
}

static size_t bad_pages(char *map, uint32_t obj, size_t first, size_t n)
{
	size_t i, bad = 0;

	for (i = first; i < first + n; i++)
		bad += !filled(map + i * ESX_PAGE, obj, i);
	return bad;
}

/* Bound to the node of the other CPU; first written, or read then written. */
static void bound(int cpu, int node, uint32_t obj)
{
	int fd = esx_open();
	char *map = esx_map(fd, PAGES, 0);
	size_t i, bad;

	REQUIRE(map, "mmap");
	on_cpu(cpu);
	set_policy(map, 0, PAGES, MPOL_BIND, 1ul << node);
	for (i = 0; i < PAGES / 2; i++)
		(void)*(volatile char *)(map + i * ESX_PAGE);
	write_pages(map, obj, 0, PAGES);
	bad = off_node(map, 0, PAGES, node, "bound");
	CHECK(bad == 0, "from CPU %d, %zu of %u pages bound to node %d are elsewhere", cpu,
	      bad, PAGES, node);
	CHECK(bad_pages(map, obj, 0, PAGES) == 0, "pages read back as written");
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
}

/* A second mapping with no policy of its own follows the object's. */
static void other_mapping(void)
{
	int fd = esx_open();
	char *a = esx_map(fd, PAGES * 2, 0), *b = esx_map(fd, PAGES, PAGES);
	size_t bad;

	REQUIRE(a && b, "mmap");
	on_cpu(0);
	set_policy(a, 0, PAGES * 2, MPOL_BIND, 1ul << 1);
	write_pages(b, 2, 0, PAGES);
	bad = off_node(b, 0, PAGES, 1, "other mapping");
	CHECK(bad == 0, "%zu of %u pages written through another mapping off node 1", bad,
	      PAGES);
	CHECK(off_node(a, PAGES, PAGES, 1, "other mapping, seen from the first") == 0,
	      "the bound mapping sees the same pages on node 1");
	munmap(a, PAGES * 2 * ESX_PAGE);
	munmap(b, PAGES * ESX_PAGE);
	close(fd);
}

static void interleaved(void)
{
	int fd = esx_open(), node[PAGES];
	char *map = esx_map(fd, PAGES, 0);
	size_t i, on[2] = { 0, 0 }, bad = 0;

	REQUIRE(map, "mmap");
	on_cpu(0);
	set_policy(map, 0, PAGES, MPOL_INTERLEAVE, 3);
	write_pages(map, 3, 0, PAGES);
	nodes_of(map, 0, PAGES, node);
	for (i = 0; i < PAGES; i++) {
		if (node[i] == 0 || node[i] == 1)
			on[node[i]]++;
		bad += node[i] != (int)(i % 2);
	}
	CHECK(bad == 0, "interleaved: %zu of %u pages not on node (offset %% 2)", bad, PAGES);
	printf("interleave: %zu pages on node 0, %zu on node 1\n", on[0], on[1]);
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
}

/*
 * [0, 96) bound to node 1, then [32, 64) to node 0 (splitting it), then
 * MPOL_DEFAULT on [64, 80): those follow the task, pinned to node 0's CPU.
 */
static void ranges(void)
{
	int fd = esx_open();
	char *map = esx_map(fd, 96, 0);

	REQUIRE(map, "mmap");
	on_cpu(0);
	set_policy(map, 0, 96, MPOL_BIND, 1ul << 1);
	set_policy(map, 32, 32, MPOL_BIND, 1ul << 0);
	set_policy(map, 64, 16, MPOL_DEFAULT, 0);
	write_pages(map, 4, 0, 96);
	CHECK(off_node(map, 0, 32, 1, "ranges [0, 32)") == 0, "[0, 32) on node 1");
	CHECK(off_node(map, 32, 32, 0, "ranges [32, 64)") == 0, "[32, 64) on node 0");
	CHECK(off_node(map, 64, 16, 0, "ranges [64, 80)") == 0, "[64, 80) local: node 0");
	CHECK(off_node(map, 80, 16, 1, "ranges [80, 96)") == 0, "[80, 96) on node 1");
	munmap(map, 96 * ESX_PAGE);
	close(fd);
}

/*
 * Pairs of like pages in an object bound to node 1 are shared by the
 * scanner; the frames and, after writes, the copies stay on node 1.
 */
static void copy_on_write(void)
{
	int fd = esx_open();
	char *map = esx_map(fd, PAGES, 0);
	size_t i, bad;

	REQUIRE(map, "mmap");
	on_cpu(0);
	set_policy(map, 0, PAGES, MPOL_BIND, 1ul << 1);
	for (i = 0; i < PAGES; i++)
		fill(map + i * ESX_PAGE, 5, i / 2);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	CHECK(ESX_WAIT_FOR(esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED] == PAGES, WAIT_SECS),
	      "%llu of %u pages shared",
	      (unsigned long long)esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED], PAGES);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	bad = off_node(map, 0, PAGES, 1, "shared");
	CHECK(bad == 0, "%zu of %u shared pages off node 1", bad, PAGES);
	write_pages(map, 6, 0, PAGES);
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED] == 0, "every page copied on write");
	bad = off_node(map, 0, PAGES, 1, "copied on write");
	CHECK(bad == 0, "%zu of %u copies off node 1", bad, PAGES);
	CHECK(bad_pages(map, 6, 0, PAGES) == 0, "copies read back as written");
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
}

/* Pages of an object bound to node 1 come back to node 1 from reclaim. */
static void paged_in(void)
{
	int fd = esx_open(), swapfd;
	char *map = esx_map(fd, PAGES, 0);
	uint32_t id = esx_stats(fd).id;
	size_t bad;

	REQUIRE(map, "mmap");
	on_cpu(0);
	set_policy(map, 0, PAGES, MPOL_BIND, 1ul << 1);
	write_pages(map, 7, 0, PAGES);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));

	esx_set_reclaim(nl, id, 0, PAGES);
	CHECK(ESX_WAIT_FOR(esx_vm_state_pages(nl, id, ESXMEM_PAGE_COMPRESSED) == PAGES,
			   WAIT_SECS),
	      "%llu of %u pages compressed",
	      (unsigned long long)esx_vm_state_pages(nl, id, ESXMEM_PAGE_COMPRESSED), PAGES);
	esx_set_reclaim(nl, id, ESXMEM_NO_TARGET, PAGES);
	CHECK(bad_pages(map, 7, 0, PAGES) == 0, "pages read back after decompression");
	bad = off_node(map, 0, PAGES, 1, "decompressed");
	CHECK(bad == 0, "%zu of %u decompressed pages off node 1", bad, PAGES);

	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir %s", SWAPDIR);
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=8m"), "mount: %s", strerror(errno));
	swapfd = open(SWAPDIR "/swap", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	REQUIRE(swapfd >= 0 && !posix_fallocate(swapfd, 0, PAGES * ESX_PAGE),
		"swap file: %s", strerror(errno));
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));
	esx_set_reclaim(nl, id, 0, 0);
	CHECK(ESX_WAIT_FOR(esx_vm_state_pages(nl, id, ESXMEM_PAGE_SWAPPED) == PAGES,
			   WAIT_SECS),
	      "%llu of %u pages swapped",
	      (unsigned long long)esx_vm_state_pages(nl, id, ESXMEM_PAGE_SWAPPED), PAGES);
	esx_set_reclaim(nl, id, ESXMEM_NO_TARGET, 0);
	CHECK(bad_pages(map, 7, 0, PAGES) == 0, "pages read back after swap-in");
	bad = off_node(map, 0, PAGES, 1, "swapped in");
	CHECK(bad == 0, "%zu of %u swapped-in pages off node 1", bad, PAGES);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "0"));

	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	close(swapfd);
}

static bool qemu_running(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/* The frame that page @addr maps, 0 if none, from a pagemap fd. */
static uint64_t frame_of(int pagemap, uintptr_t addr)
{
	uint64_t e = 0;

	REQUIRE(pread(pagemap, &e, sizeof(e), (off_t)(addr / ESX_PAGE * sizeof(e))) ==
		sizeof(e), "read pagemap: %s", strerror(errno));
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

static int open_pagemap(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/*
 * What a read of a never-written page maps: the kernel's zero page, or
 * since 6.10 esxmem's own zero frame. One page for the whole host, wherever
 * it is, and no guest data: not counted as guest RAM below.
 */
static uint64_t zero_frame(void)
{
	int fd = esx_open();
	char *map = esx_map(fd, 1, 0);
	int pagemap = open_pagemap(getpid());
	uint64_t pfn;

	REQUIRE(map, "mmap");
	(void)*(volatile char *)map;
	pfn = frame_of(pagemap, (uintptr_t)map);
	close(pagemap);
	munmap(map, ESX_PAGE);
	close(fd);
	return pfn;
}

/*
 * The pages of guest data in QEMU's mapping of /dev/esxmem, which
 * numa_maps shows with policy @policy, by node into @on; false if there is
 * no such mapping.
 */
static bool qemu_nodes(pid_t pid, const char *policy, unsigned long on[2])
{
	uint64_t zero = zero_frame();
	uintptr_t start = 0, end = 0, a;
	char path[64], line[1024];
	int pagemap;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)pid);
	f = fopen(path, "r");
	REQUIRE(f, "open %s: %s", path, strerror(errno));
	while (!start && fgets(line, sizeof(line), f))
		if (strstr(line, "file=" ESXMEM_DEVICE_PATH) && strstr(line, policy))
			start = strtoull(line, NULL, 16);
	fclose(f);
	if (!start)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	REQUIRE(f, "open %s: %s", path, strerror(errno));
	while (!end && fgets(line, sizeof(line), f)) {
		char *dash;

		if (strtoull(line, &dash, 16) == start && *dash == '-')
			end = strtoull(dash + 1, NULL, 16);
	}
	fclose(f);
	REQUIRE(end > start, "no end of QEMU's mapping at %#lx", (unsigned long)start);

	pagemap = open_pagemap(pid);
	for (a = start; a < end; a += ESX_PAGE) {
		void *addr = (void *)a;
		int node = -1;
		uint64_t pfn = frame_of(pagemap, a);

		if (!pfn || pfn == zero)
			continue;
		REQUIRE(!syscall(SYS_move_pages, pid, 1, &addr, NULL, &node, 0),
			"move_pages: %s", strerror(errno));
		if (node == 0 || node == 1)
			on[node]++;
	}
	close(pagemap);
	return true;
}

/*
 * A Linux guest under QEMU whose memory backend has host-nodes=1 and
 * policy=bind, its vCPU on node 0's CPU: guest RAM is on node 1.
 */
static void qemu_backend(void)
{
	static const char *const extra[] = {
		"-object",
		"memory-backend-file,id=ram0,size=256M,mem-path=" ESXMEM_DEVICE_PATH
		",share=on,host-nodes=1,policy=bind",
		"-machine", "memory-backend=ram0", NULL,
	};
	const char *console = "/tmp/numa-guest.log";
	unsigned long on[2] = { 0, 0 };
	pid_t pid;

	on_cpu(0);
	pid = esx_start_guest(256, "guest.work=memtest-hold", NULL, console, extra);
	REQUIRE(pid > 0, "fork: %s", strerror(errno));
	if (!ESX_WAIT_FOR(esx_file_has(console, "GUEST-HOLD") ||
			  esx_file_has(console, "GUEST-MEMTEST-FAIL") || !qemu_running(pid),
			  300) ||
	    !esx_file_has(console, "GUEST-HOLD")) {
		esx_show_tail(console, "the guest's console", 2000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		REQUIRE(false, "the guest did not finish its memory test");
	}
	CHECK(qemu_nodes(pid, "bind:1", on), "QEMU has no mapping of %s bound to node 1",
	      ESXMEM_DEVICE_PATH);
	printf("qemu: host-nodes=1,policy=bind: %lu guest pages on node 0, %lu on node 1\n",
	       on[0], on[1]);
	CHECK(on[0] == 0 && on[1] >= 64 * 256,
	      "guest RAM of a backend bound to node 1: %lu pages on node 0, %lu on node 1",
	      on[0], on[1]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	char online[32];
	FILE *f;

	f = fopen("/sys/devices/system/node/online", "r");
	REQUIRE(f && fgets(online, sizeof(online), f), "no NUMA node list");
	fclose(f);
	online[strcspn(online, "\n")] = 0;
	REQUIRE(!strcmp(online, "0-1") &&
		!access("/sys/devices/system/cpu/cpu0/node0", F_OK) &&
		!access("/sys/devices/system/cpu/cpu1/node1", F_OK),
		"nodes %s: this test needs the two-node test host (a line \"testhost: numa\" in its source)",
		online);

	main_pid = getpid();
	atexit(restore);
	/* Pages stay mapped and private unless a step asks otherwise. */
	esx_background_off();
	esx_share_rate("10000000");
	REQUIRE_OK(esxmem_open(&nl));

	bound(0, 1, 0);
	bound(1, 0, 1);
	other_mapping();
	interleaved();
	ranges();
	copy_on_write();
	paged_in();
	qemu_backend();

	esxmem_close(nl);
	return vmtest_done("esxmem_numa");
}
