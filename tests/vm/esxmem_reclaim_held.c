// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_reclaim_held: emergency reclaim when the largest VM's pages are
 * all held by someone else.
 *
 * VM "held" is the largest; every one of its pages is spliced into a pipe
 * that is not read, as a device or O_DIRECT would hold them. VM "spare" is
 * smaller and has a swap file. The pool is then made tight and VM
 * "writer" writes new pages. With no daemon, the module's emergency path
 * must take memory from "spare" (the victim choice moves on from a VM that
 * cannot give) so that the writer completes without SIGBUS; the held pages
 * are never unmapped, paged out or changed, and the pipes deliver them
 * intact. Module knobs are restored on exit.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

#define HELD_PAGES	3072u
#define SPARE_PAGES	2048u
#define WRITER_PAGES	1024u
#define POOL_SLACK	256
#define SWAPDIR		"/tmp/reclaim-held-swap"
#define PIPE_MAX	"/proc/sys/fs/pipe-max-size"
#define WAIT_SECS	180.0

static struct esxmem *nl;
static long saved_pool, saved_wait;
static char saved_pipe_max[32];
static pid_t main_pid;

static void write_file(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(value, f);
		fclose(f);
	}
}

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	esx_sysfs_write_long("pool_pages", saved_pool);
	esx_sysfs_write_long("fault_wait_ms", saved_wait);
	if (saved_pipe_max[0])
		write_file(PIPE_MAX, saved_pipe_max);
	umount(SWAPDIR);
}

static uint64_t page_word(uint32_t vm, uint32_t i, uint32_t w)
{
	uint64_t x = ((uint64_t)vm << 48) ^ ((uint64_t)i << 16) ^ w;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	return x ^ (x >> 29);
}

static void fill(uint64_t *p, uint32_t vm, uint32_t i)
{
	for (uint32_t w = 0; w < ESX_PAGE / 8; w++)
		p[w] = page_word(vm, i, w);
}

static bool same(const uint64_t *p, uint32_t vm, uint32_t i)
{
	for (uint32_t w = 0; w < ESX_PAGE / 8; w++)
		if (p[w] != page_word(vm, i, w))
			return false;
	return true;
}

static struct esxmem_vm_info *info(uint32_t id)
{
	return esx_vm_info(nl, id);
}

/* A VM of @pages pages, its cache off; filled with its own content. */
static char *new_vm(uint32_t tag, uint32_t pages, bool fill_it, int *fdp, uint32_t *idp)
{
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_SWAP_TARGET_PAGES | ESXMEM_VM_SET_COMPRESS_MAX_PAGES,
		.swap_target_pages = ESXMEM_NO_TARGET, .compress_max_pages = 0,
	};
	int fd = esx_open();
	char *map = esx_map(fd, pages, 0);

	REQUIRE(map, "mmap: %s", strerror(errno));
	*idp = esx_stats(fd).id;
	REQUIRE_OK(esxmem_vm_set(nl, *idp, &s));
	if (fill_it)
		for (uint32_t i = 0; i < pages; i++)
			fill((uint64_t *)(map + (size_t)i * ESX_PAGE), tag, i);
	*fdp = fd;
	return map;
}

static long used0;

int main(void)
{
	int held_fd, spare_fd, writer_fd, swapfd, pipefd[2], status = -1;
	uint32_t held_id, spare_id, writer_id, i, bad = 0;
	char *held, *spare, *writer, *page;
	struct esxmem_vm_info *vh, *vs, *vw;
	size_t spliced = 0;
	pid_t child;
	double t;

	main_pid = getpid();
	saved_pool = esx_sysfs_long("pool_pages");
	saved_wait = esx_sysfs_long("fault_wait_ms");
	atexit(restore);
	esx_background_off();
	used0 = esx_pool_settled(60);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=16m"), "mount: %s", strerror(errno));
	swapfd = open(SWAPDIR "/swap", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	REQUIRE(swapfd >= 0 && !posix_fallocate(swapfd, 0, (off_t)SPARE_PAGES * ESX_PAGE),
		"swap file: %s", strerror(errno));

	held = new_vm(1, HELD_PAGES, true, &held_fd, &held_id);
	spare = new_vm(2, SPARE_PAGES, true, &spare_fd, &spare_id);
	writer = new_vm(3, WRITER_PAGES, false, &writer_fd, &writer_id);
	REQUIRE_OK(esxmem_vm_set_swap(nl, spare_id, swapfd));

	/* One pipe large enough to hold every page of "held". */
	{
		FILE *f = fopen(PIPE_MAX, "r");

		REQUIRE(f && fgets(saved_pipe_max, sizeof(saved_pipe_max), f), "read %s",
			PIPE_MAX);
		fclose(f);
	}
	write_file(PIPE_MAX, "16777216");
	REQUIRE(!pipe(pipefd), "pipe");
	REQUIRE(fcntl(pipefd[1], F_SETPIPE_SZ, 16 << 20) >= (int)(HELD_PAGES * ESX_PAGE),
		"F_SETPIPE_SZ: %s", strerror(errno));
	while (spliced < HELD_PAGES * ESX_PAGE) {
		struct iovec iov = { .iov_base = held + spliced,
				     .iov_len = HELD_PAGES * ESX_PAGE - spliced };
		ssize_t n = vmsplice(pipefd[1], &iov, 1, 0);

		REQUIRE(n > 0, "vmsplice: %s", strerror(errno));
		spliced += (size_t)n;
	}

	/* Room for a quarter of the writer: the rest must come from "spare". */
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", 20000));
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", esx_sysfs_long("used_pages") + POOL_SLACK));
	t = esx_now();
	child = fork();
	REQUIRE(child >= 0, "fork");
	if (child == 0) {
		for (i = 0; i < WRITER_PAGES; i++)
			fill((uint64_t *)(writer + (size_t)i * ESX_PAGE), 3, i);
		_exit(0);
	}
	CHECK(ESX_WAIT_FOR(waitpid(child, &status, WNOHANG) == child, WAIT_SECS),
	      "the writer did not finish");
	t = esx_now() - t;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the writer died (%s) while \"spare\" had reclaimable pages",
	      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
	vh = info(held_id);
	vs = info(spare_id);
	vw = info(writer_id);
	CHECK(esxmem_vm_value(vw, ESXMEM_VM_FAULT_WAIT_TIMEOUTS) == 0, "%llu writer faults timed out",
	      (unsigned long long)esxmem_vm_value(vw, ESXMEM_VM_FAULT_WAIT_TIMEOUTS));
	CHECK(esxmem_vm_value(vs, ESXMEM_VM_SWAP_OUTS) > 0, "nothing was taken from \"spare\"");
	CHECK(esxmem_vm_state_pages(vh, ESXMEM_PAGE_PRIVATE) == HELD_PAGES,
	      "%llu of the %u held pages stayed in memory",
	      (unsigned long long)esxmem_vm_state_pages(vh, ESXMEM_PAGE_PRIVATE), HELD_PAGES);
	printf("writer: %u pages in %.1f s, %llu fault waits; spare: %llu swapped out; held: %llu skipped\n",
	       WRITER_PAGES, t, (unsigned long long)esxmem_vm_value(vw, ESXMEM_VM_FAULT_WAITS),
	       (unsigned long long)esxmem_vm_value(vs, ESXMEM_VM_SWAP_OUTS), (unsigned long long)esxmem_vm_value(vh, ESXMEM_VM_RECLAIM_SKIPPED));

	/* Every page where it belongs: the pipe's, the writer's, the spare's. */
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved_pool));
	page = malloc(ESX_PAGE);
	REQUIRE(page, "malloc");
	for (i = 0; i < HELD_PAGES; i++) {
		size_t got = 0;

		while (got < ESX_PAGE) {
			ssize_t n = read(pipefd[0], page + got, ESX_PAGE - got);

			REQUIRE(n > 0, "read the pipe: %s", strerror(errno));
			got += (size_t)n;
		}
		if (!same((uint64_t *)page, 1, i))
			bad++;
	}
	CHECK(bad == 0, "the pipe delivered %u of %u held pages changed", bad, HELD_PAGES);
	for (i = 0, bad = 0; i < HELD_PAGES; i++)
		bad += !same((uint64_t *)(held + (size_t)i * ESX_PAGE), 1, i);
	for (i = 0; i < SPARE_PAGES; i++)
		bad += !same((uint64_t *)(spare + (size_t)i * ESX_PAGE), 2, i);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		for (i = 0; i < WRITER_PAGES; i++)
			bad += !same((uint64_t *)(writer + (size_t)i * ESX_PAGE), 3, i);
	CHECK(bad == 0, "%u pages read back wrong", bad);
	free(page);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(held, HELD_PAGES * ESX_PAGE);
	munmap(spare, SPARE_PAGES * ESX_PAGE);
	munmap(writer, WRITER_PAGES * ESX_PAGE);
	close(held_fd);
	close(spare_fd);
	close(writer_fd);
	close(swapfd);
	esxmem_close(nl);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_reclaim_held");
}
