// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_object: the VM memory object behind /dev/esxmem.
 *
 *  - mapping rules: MAP_SHARED only, size fixed by the first mmap or the
 *    SET_SIZE ioctl, mappings beyond it refused;
 *  - reads of untouched memory map the zero frame and cost no page; writes
 *    allocate, and counters and the pool follow exactly;
 *  - two mappings of one object see the same pages; two objects are apart;
 *  - punching a hole frees pages (counters and pool drop, next touch reads zero),
 *    partial pages are zeroed in place, other modes are refused;
 *  - a VMM killed with SIGKILL returns every page to the pool;
 *  - an unprivileged user cannot open the device.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <signal.h>
#include <sys/wait.h>

#define PAGES 256

/* The byte written to every byte of page @i: never zero. */
static int fill(size_t i)
{
	return (int)(i & 0xff) | 1;
}

static void test_mapping_rules(void)
{
	int fd = esx_open();
	uint64_t size;
	void *p;

	p = mmap(NULL, PAGES * ESX_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE must fail with EINVAL");

	size = 12345;
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) && errno == EINVAL,
	      "unaligned size must fail with EINVAL");
	size = 0;
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) && errno == EINVAL,
	      "zero size must fail with EINVAL");
	size = ESXMEM_MAX_OBJECT_BYTES + ESX_PAGE;
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) && errno == EINVAL,
	      "size above the maximum must fail with EINVAL");
	size = PAGES * ESX_PAGE;
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) == 0, "SET_SIZE: %s", strerror(errno));
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) == 0, "same size again must succeed");
	size *= 2;
	CHECK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) && errno == EBUSY,
	      "another size must fail with EBUSY");
	CHECK(ioctl(fd, _IO(ESXMEM_IOC_MAGIC, 0x7f)) && errno == ENOTTY,
	      "unknown ioctl must fail with ENOTTY");

	p = esx_map(fd, PAGES + 1, 0);
	CHECK(p == NULL && errno == EINVAL, "mapping beyond the size must fail");
	p = esx_map(fd, 1, PAGES);
	CHECK(p == NULL && errno == EINVAL, "mapping past the end must fail");
	p = esx_map(fd, PAGES / 2, PAGES / 2);
	CHECK(p != NULL, "mapping the second half: %s", strerror(errno));
	CHECK(esx_stats(fd).mappings == 1, "one mapping expected");
	if (p)
		munmap(p, PAGES / 2 * ESX_PAGE);
	CHECK(esx_stats(fd).mappings == 0, "no mapping expected after munmap");
	CHECK(esx_punch(fd, 0, ESX_PAGE) == 0, "punch of an empty object");
	CHECK(esx_punch(fd, -1, 1) == -EINVAL, "negative offset must fail with EINVAL");
	CHECK(esx_punch(fd, 0, 0) == -EINVAL, "empty range must fail with EINVAL");
	CHECK(esx_punch(fd, 1, INT64_MAX) == -EINVAL, "overflowing range must fail with EINVAL");
	close(fd);

	/* Without SET_SIZE the first mapping fixes the size. */
	fd = esx_open();
	p = esx_map(fd, 8, 0);
	REQUIRE(p != NULL, "mmap: %s", strerror(errno));
	CHECK(esx_stats(fd).size_pages == 8, "size fixed by the first mmap");
	CHECK(esx_map(fd, 9, 0) == NULL, "a larger second mapping must fail");
	munmap(p, 8 * ESX_PAGE);
	close(fd);
}

static void test_touch_and_counters(void)
{
	long used0 = esx_sysfs_long("used_pages");
	struct esxmem_vm_stats st;
	int fd = esx_open();
	uint8_t *a, *b;
	size_t i;

	a = esx_map(fd, PAGES, 0);
	b = esx_map(fd, PAGES, 0);
	REQUIRE(a && b, "mmap: %s", strerror(errno));
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_UNBACKED] == PAGES, "all unbacked at first");
	CHECK(st.mappings == 2, "two mappings, got %llu", (unsigned long long)st.mappings);

	/* Reads map the zero frame: no machine memory. */
	for (i = 0; i < PAGES; i++)
		CHECK(a[i * ESX_PAGE + 7] == 0, "fresh page %zu not zero", i);
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_ZERO] == PAGES, "zero pages after reads: %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_ZERO]);
	CHECK(st.consumed_pages == 0, "reads consumed %llu pages",
	      (unsigned long long)st.consumed_pages);
	CHECK(esx_sysfs_long("used_pages") == used0, "reads must not charge the pool");

	/* Writes through one mapping show through the other. */
	for (i = 0; i < PAGES; i++)
		memset(a + i * ESX_PAGE, fill(i), ESX_PAGE);
	for (i = 0; i < PAGES; i++)
		CHECK(b[i * ESX_PAGE + 100] == fill(i), "page %zu differs in 2nd mapping", i);
	st = esx_stats(fd);
	CHECK(st.state_pages[ESXMEM_PAGE_PRIVATE] == PAGES, "private pages %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_PRIVATE]);
	CHECK(st.consumed_pages == PAGES, "consumed %llu", (unsigned long long)st.consumed_pages);
	CHECK(st.cow_breaks == PAGES, "each zero-frame page broke copy-on-write once: %llu",
	      (unsigned long long)st.cow_breaks);
	CHECK(esx_sysfs_long("used_pages") == used0 + PAGES, "pool charged %ld, want %d",
	      esx_sysfs_long("used_pages") - used0, PAGES);
	CHECK(st.pmap_bytes / st.size_pages == 8, "pmap bytes per page: %llu",
	      (unsigned long long)(st.pmap_bytes / st.size_pages));
	printf("pmap bytes per page: %llu\n", (unsigned long long)(st.pmap_bytes / st.size_pages));

	/* A second object is separate. */
	{
		int fd2 = esx_open();
		uint8_t *c = esx_map(fd2, PAGES, 0);

		REQUIRE(c, "mmap: %s", strerror(errno));
		CHECK(esx_is_zero(c, PAGES * ESX_PAGE), "a new object must read zero");
		munmap(c, PAGES * ESX_PAGE);
		close(fd2);
	}

	/* Punch pages 16..47: freed, counted, read back as zeros. */
	CHECK(esx_punch(fd, 16 * ESX_PAGE, 32 * ESX_PAGE) == 0, "punch: %s", strerror(errno));
	st = esx_stats(fd);
	CHECK(st.consumed_pages == PAGES - 32, "consumed after punch %llu",
	      (unsigned long long)st.consumed_pages);
	CHECK(st.state_pages[ESXMEM_PAGE_UNBACKED] == 32, "unbacked after punch %llu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_UNBACKED]);
	CHECK(esx_sysfs_long("used_pages") == used0 + PAGES - 32, "pool after punch");
	CHECK(esx_is_zero(a + 16 * ESX_PAGE, 32 * ESX_PAGE), "punched range must read zero");
	CHECK(esx_is_zero(b + 16 * ESX_PAGE, 32 * ESX_PAGE), "... in both mappings");
	CHECK(a[15 * ESX_PAGE] == fill(15) && a[48 * ESX_PAGE + 4095] == fill(48),
	      "neighbours of the hole must be intact");

	/* Partial pages: zeroed in place, not freed. */
	CHECK(esx_punch(fd, 60 * ESX_PAGE + 100, 200) == 0, "partial punch");
	CHECK(a[60 * ESX_PAGE + 99] == fill(60) && a[60 * ESX_PAGE + 100] == 0 &&
	      a[60 * ESX_PAGE + 299] == 0 && a[60 * ESX_PAGE + 300] == fill(60),
	      "partial punch inside one page");
	CHECK(esx_punch(fd, 70 * ESX_PAGE + 2048, ESX_PAGE * 2) == 0, "straddling punch");
	CHECK(a[70 * ESX_PAGE + 2047] == fill(70) && a[70 * ESX_PAGE + 2048] == 0 &&
	      esx_is_zero(a + 71 * ESX_PAGE, ESX_PAGE) &&
	      a[72 * ESX_PAGE + 2047] == 0 && a[72 * ESX_PAGE + 2048] == fill(72),
	      "punch straddling three pages");
	st = esx_stats(fd);
	CHECK(st.consumed_pages == PAGES - 33, "only the whole page freed: %llu",
	      (unsigned long long)st.consumed_pages);
	/* Beyond the end: clamped, nothing else changes. */
	CHECK(esx_punch(fd, (PAGES - 1) * ESX_PAGE, 100 * ESX_PAGE) == 0, "punch past end");
	CHECK(esx_stats(fd).consumed_pages == PAGES - 34, "last page freed");

	/* A write after the punch allocates again. */
	a[20 * ESX_PAGE] = 0x5a;
	CHECK(b[20 * ESX_PAGE] == 0x5a, "re-touched page visible in both");
	CHECK(esx_stats(fd).consumed_pages == PAGES - 33, "re-touch charged one page");

	munmap(a, PAGES * ESX_PAGE);
	munmap(b, PAGES * ESX_PAGE);
	close(fd);
	CHECK(esx_sysfs_long("used_pages") == used0, "close must return every page: %ld left",
	      esx_sysfs_long("used_pages") - used0);
}

static void test_sigkill_returns_pages(void)
{
	long used0 = esx_sysfs_long("used_pages");
	const size_t pages = 8192;	/* 32 MiB */
	int pipefd[2], status;
	pid_t pid;
	char c;

	REQUIRE(pipe(pipefd) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int fd = esx_open();
		uint8_t *p = esx_map(fd, pages, 0);
		size_t i;

		if (!p)
			_exit(2);
		for (i = 0; i < pages; i++)
			p[i * ESX_PAGE] = 1;
		(void)!write(pipefd[1], "x", 1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	REQUIRE(read(pipefd[0], &c, 1) == 1, "child did not touch its memory");
	CHECK(esx_sysfs_long("used_pages") == used0 + (long)pages, "child's pages charged");
	CHECK(esx_sysfs_long("objects") >= 1, "object counted");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child killed");
	CHECK(esx_sysfs_long("used_pages") == used0, "SIGKILL left %ld pages charged",
	      esx_sysfs_long("used_pages") - used0);
	close(pipefd[0]);
}

static void test_unprivileged(void)
{
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (open(ESXMEM_DEVICE_PATH, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "unprivileged open: child exit %d (3: it succeeded)", WEXITSTATUS(status));
}

int main(void)
{
	esx_background_off();
	test_mapping_rules();
	test_touch_and_counters();
	test_sigkill_returns_pages();
	test_unprivileged();
	return vmtest_done("esxmem_object");
}
