// SPDX-License-Identifier: GPL-2.0
/*
 * Guest pages that someone beyond esxmem holds. A pipe filled by vmsplice()
 * (without SPLICE_F_GIFT) holds page references as a GUP pin for DMA does,
 * and stays unread for as long as the test likes.
 *
 *  - a hole punched over held pages: the range reads zero at once and a
 *    write there gets a new page, but the held pages stay charged to the
 *    pool (held_pages counts them) and the pipe delivers their old
 *    contents; once the pipe is read and closed, the pool's count falls;
 *  - the same when the object itself goes away under the pipe;
 *  - ballooning, with a tiny KVM VMM attached: a batch with one held frame
 *    is refused with EBUSY and nothing in it changes; the batch without
 *    that frame goes through; once the pipe lets go, that frame can go too;
 *  - ballooning a VM with a device assigned (esxtest_assign does what VFIO
 *    does to KVM) is refused with EOPNOTSUPP and a message, and changes
 *    nothing; giving ballooned pages back still works; once the device
 *    goes, ballooning works again;
 *  - esxmem.ko unloads while a pipe holds freed pages, which the pipe
 *    still delivers and which go back to the host when it lets go;
 *  - at the end the pool's count and the host's free memory are back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"
#include "kmod/esxtest_assign.h"
#include <libesxmem/libesxmem.h>

#define HOLE_PAGES	8192u
#define REWRITTEN	16u		/* of them written again after the hole */
#define GONE_PAGES	64u
#define UNLOAD_PAGES	1024u		/* 4 MiB: above free memory's noise */
#define FREE_SLACK_KIB	2048		/* that noise: slabs, page tables */
#define MODULE		"/lib/modules/esxmem/esxmem.ko"
#define WAIT_SECS	10.0

#define PAGES		1024u		/* the tiny VMM's RAM */
#define FILLED		1000u		/* of it written by the guest */
#define RAM_GPA		0x100000u
#define RAM_GFN		(RAM_GPA / 4096)
#define CODE_GPA	0x1000u
#define SEED		0x77
#define HELD		10u		/* the page the pipe holds */
#define BATCH		32u		/* frames 0..31, and two unbacked */

static struct esxmem *nl;

/* held_pages, or -1 where the module has no such file. */
static long held_pages(void)
{
	char buf[32] = "";
	FILE *f = fopen(ESX_SYSFS "held_pages", "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static long used_pages(void)
{
	return esx_sysfs_long("used_pages");
}

/*
 * The host's free memory: MemFree, and the pages on the per-CPU free lists
 * that MemFree leaves out (they hold megabytes after a burst of frees).
 */
static long memfree_kib(void)
{
	long kib = -1, pages = 0, n;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	f = fopen("/proc/zoneinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	if (f)
		fclose(f);
	return kib < 0 ? -1 : kib + pages * 4;
}

/* Whether the kernel's log has @text. */
static bool kernel_log_has(const char *text)
{
	static char buf[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* The byte written to every byte of page @i: never zero. */
static int fill(size_t i)
{
	return (int)(i & 0xff) | 1;
}

/* A new pipe holding @pages pages at @p by reference, unread. */
static void pipe_hold(int pfd[2], void *p, size_t pages)
{
	struct iovec iov = { .iov_base = p, .iov_len = pages * ESX_PAGE };
	ssize_t n;

	REQUIRE(!pipe2(pfd, O_CLOEXEC), "pipe: %s", strerror(errno));
	REQUIRE(fcntl(pfd[1], F_SETPIPE_SZ, (int)(pages * ESX_PAGE)) >= (int)(pages * ESX_PAGE),
		"a pipe of %zu pages: %s", pages, strerror(errno));
	while (iov.iov_len) {
		n = vmsplice(pfd[1], &iov, 1, 0);
		REQUIRE(n > 0, "vmsplice: %s", strerror(errno));
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
	}
}

/* Reads @len bytes from @fd into @buf. */
static bool read_all(int fd, void *buf, size_t len)
{
	size_t have = 0;
	ssize_t n;

	while (have < len) {
		n = read(fd, (char *)buf + have, len - have);
		if (n <= 0)
			return false;
		have += (size_t)n;
	}
	return true;
}

/* Whether the pipe delivers @pages pages as fill() wrote them; closes it. */
static bool pipe_delivers(int pfd[2], size_t pages)
{
	static unsigned char page[ESX_PAGE];
	bool ok = true;
	size_t i, b;

	close(pfd[1]);
	for (i = 0; ok && i < pages; i++) {
		ok = read_all(pfd[0], page, ESX_PAGE);
		for (b = 0; ok && b < ESX_PAGE; b++)
			ok = page[b] == fill(i);
	}
	close(pfd[0]);
	return ok;
}

static void test_hole(void)
{
	long used0 = used_pages(), used;
	int fd = esx_open(), pfd[2];
	unsigned char *p;
	size_t i;

	p = esx_map(fd, HOLE_PAGES, 0);
	REQUIRE(p, "map %u pages: %s", HOLE_PAGES, strerror(errno));
	for (i = 0; i < HOLE_PAGES; i++)
		memset(p + i * ESX_PAGE, fill(i), ESX_PAGE);
	used = used_pages();
	CHECK(used - used0 == HOLE_PAGES, "written: %ld pages used", used - used0);
	pipe_hold(pfd, p, HOLE_PAGES);

	CHECK_OK(esx_punch(fd, 0, (off_t)HOLE_PAGES * ESX_PAGE));
	CHECK(esx_stats(fd).state_pages[ESXMEM_PAGE_PRIVATE] == 0, "the hole holds no page");
	CHECK(used_pages() == used,
	      "held pages stay charged while the pipe holds them: %ld of %u fell",
	      used - used_pages(), HOLE_PAGES);
	CHECK(held_pages() == HOLE_PAGES, "held_pages: %ld", held_pages());
	CHECK(esx_is_zero(p, (size_t)HOLE_PAGES * ESX_PAGE), "the hole reads zero");
	for (i = 0; i < REWRITTEN; i++)
		memset(p + i * ESX_PAGE, 0xee, ESX_PAGE);
	CHECK(used_pages() == used + REWRITTEN,
	      "a write in the hole gets new pages: %ld used", used_pages() - used0);

	CHECK(pipe_delivers(pfd, HOLE_PAGES), "the pipe delivers the old contents");
	CHECK(p[0] == 0xee && esx_is_zero(p + REWRITTEN * ESX_PAGE, ESX_PAGE),
	      "the mapping keeps its own pages");
	CHECK(ESX_WAIT_FOR(used_pages() == used0 + REWRITTEN && held_pages() == 0, WAIT_SECS),
	      "the pipe let go, the pool's count falls: %ld used, %ld held",
	      used_pages() - used0, held_pages());

	munmap(p, (size_t)HOLE_PAGES * ESX_PAGE);
	close(fd);
	CHECK(ESX_WAIT_FOR(used_pages() == used0, WAIT_SECS), "object closed: %ld used",
	      used_pages() - used0);
}

/* The object goes away while a pipe holds some of its pages. */
static void test_object_gone(void)
{
	long used0 = used_pages(), objects0 = esx_sysfs_long("objects");
	int fd = esx_open(), pfd[2];
	unsigned char *p;
	size_t i;

	p = esx_map(fd, GONE_PAGES, 0);
	REQUIRE(p, "map: %s", strerror(errno));
	for (i = 0; i < GONE_PAGES; i++)
		memset(p + i * ESX_PAGE, fill(i), ESX_PAGE);
	pipe_hold(pfd, p, GONE_PAGES);
	munmap(p, (size_t)GONE_PAGES * ESX_PAGE);
	close(fd);
	REQUIRE(ESX_WAIT_FOR(esx_sysfs_long("objects") == objects0, WAIT_SECS), "object gone");
	CHECK(used_pages() - used0 == GONE_PAGES && held_pages() == GONE_PAGES,
	      "the object is gone, its held pages stay charged: %ld used, %ld held",
	      used_pages() - used0, held_pages());
	CHECK(pipe_delivers(pfd, GONE_PAGES), "the pipe delivers the old contents");
	CHECK(ESX_WAIT_FOR(used_pages() == used0 && held_pages() == 0, WAIT_SECS),
	      "the pipe let go, the pool's count falls: %ld used, %ld held",
	      used_pages() - used0, held_pages());
}

/*
 * The module goes while a pipe holds freed pages: the pool goes with it,
 * and the pages go back to the host once the pipe lets go. The module is
 * loaded again afterwards.
 */
static void test_unload(void)
{
	long objects0 = esx_sysfs_long("objects");
	int fd = esx_open(), pfd[2], err;
	unsigned char *p;
	char said[64];
	size_t i;

	p = esx_map(fd, UNLOAD_PAGES, 0);
	REQUIRE(p, "map: %s", strerror(errno));
	for (i = 0; i < UNLOAD_PAGES; i++)
		memset(p + i * ESX_PAGE, fill(i), ESX_PAGE);
	pipe_hold(pfd, p, UNLOAD_PAGES);
	munmap(p, (size_t)UNLOAD_PAGES * ESX_PAGE);
	close(fd);
	REQUIRE(ESX_WAIT_FOR(esx_sysfs_long("objects") == objects0, WAIT_SECS), "object gone");
	CHECK(held_pages() == UNLOAD_PAGES, "held_pages: %ld", held_pages());
	err = syscall(SYS_delete_module, "esxmem", O_NONBLOCK) ? -errno : 0;
	CHECK(!err, "rmmod esxmem with pages held: %s", strerror(-err));
	snprintf(said, sizeof(said), "%u pages still held at unload", UNLOAD_PAGES);
	CHECK(err || kernel_log_has(said), "the unload says so");
	CHECK(pipe_delivers(pfd, UNLOAD_PAGES), "the pipe delivers the old contents");
	if (!err)
		REQUIRE_OK(esx_load_module(MODULE, ""));
}

static void vm_states(uint32_t id, uint64_t *st)
{
	struct esxmem_vm_info *info;

	int state;

	REQUIRE_OK(esxmem_vm_get(nl, id, &info));
	for (state = 0; state < ESXMEM_PAGE_NR_STATES; state++)
		st[state] = esxmem_vm_state_pages(info, state);
	esxmem_vm_info_free(info);
}

static uint32_t guest_check(struct vmm *vm, uint32_t first, uint32_t pages)
{
	struct vmm_regs r = { .ebx = RAM_GPA + first * 4096, .ecx = pages, .edx = SEED };

	REQUIRE_OK(vmm_call(vm, VMM_CHECK, &r));
	return r.eax;
}

/* A VM with a device assigned: a device may DMA into any of its pages. */
static void test_assigned(struct vmm *vm, uint32_t id)
{
	uint64_t st0[ESXMEM_PAGE_NR_STATES], st[ESXMEM_PAGE_NR_STATES];
	uint64_t gfn = RAM_GFN + BATCH, back = RAM_GFN + HELD;
	long used = used_pages();
	int kvm_fd = vmm_vm_fd(vm), afd;

	REQUIRE_OK(esx_load_module("/lib/modules/esxmem/esxtest_assign.ko", ""));
	afd = open("/dev/esxtest_assign", O_RDWR | O_CLOEXEC);
	REQUIRE(afd >= 0, "open /dev/esxtest_assign: %s", strerror(errno));
	REQUIRE(!ioctl(afd, ESXTEST_ASSIGN, &kvm_fd), "assign: %s", strerror(errno));
	vm_states(id, st0);
	CHECK(esxmem_vm_balloon(nl, id, &gfn, 1, false) == -EOPNOTSUPP &&
	      strstr(esxmem_errmsg(nl), "assigned devices"),
	      "ballooning a VM with a device assigned is refused: %s", esxmem_errmsg(nl));
	vm_states(id, st);
	CHECK(!memcmp(st, st0, sizeof(st)) && used_pages() == used,
	      "the refused request changed nothing: %llu ballooned, %ld fewer used",
	      (unsigned long long)st[ESXMEM_PAGE_BALLOONED], used - used_pages());
	CHECK(guest_check(vm, BATCH, 1) == 0, "the frame asked for is as written");
	/* Giving a ballooned page back is safe with DMA. */
	CHECK_OK(esxmem_vm_balloon(nl, id, &back, 1, true));
	vm_states(id, st);
	CHECK(st[ESXMEM_PAGE_BALLOONED] == st0[ESXMEM_PAGE_BALLOONED] - 1,
	      "a ballooned page went back: %llu ballooned", (unsigned long long)st[ESXMEM_PAGE_BALLOONED]);
	close(afd);
	CHECK_OK(esxmem_vm_balloon(nl, id, &gfn, 1, false));
	vm_states(id, st);
	CHECK(st[ESXMEM_PAGE_BALLOONED] == st0[ESXMEM_PAGE_BALLOONED] &&
	      used - used_pages() == 1,
	      "with the device gone it balloons: %llu ballooned, %ld fewer used",
	      (unsigned long long)st[ESXMEM_PAGE_BALLOONED], used - used_pages());
}

static void test_balloon(void)
{
	uint64_t gfns[BATCH + 2], without[BATCH + 1], st0[ESXMEM_PAGE_NR_STATES],
		 st[ESXMEM_PAGE_NR_STATES];
	struct vmm_regs r = { .ebx = RAM_GPA, .ecx = FILLED, .edx = SEED };
	static unsigned char page[ESX_PAGE];
	long used0 = used_pages(), used;
	unsigned int i, n = 0;
	struct vmm *vm;
	uint8_t *host;
	int fd, pfd[2];
	uint32_t id;

	fd = esx_open();
	id = esx_stats(fd).id;
	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(vm, 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, fd, 0));
	host = esx_map(fd, PAGES, 0);
	REQUIRE(host, "host mapping");
	REQUIRE_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(esx_is_zero(host + FILLED * ESX_PAGE, ESX_PAGE), "a zero page");
	REQUIRE_OK(esxmem_kvm_attach(nl, id, vmm_vm_fd(vm)));

	/* Frames BATCH-1 .. 0, then a zero page and an unbacked one. */
	for (i = 0; i < BATCH; i++)
		gfns[i] = RAM_GFN + BATCH - 1 - i;
	gfns[BATCH] = RAM_GFN + FILLED;
	gfns[BATCH + 1] = RAM_GFN + FILLED + 1;
	for (i = 0; i < BATCH + 2; i++)
		if (gfns[i] != RAM_GFN + HELD)
			without[n++] = gfns[i];

	pipe_hold(pfd, host + HELD * ESX_PAGE, 1);
	vm_states(id, st0);
	used = used_pages();
	CHECK(esxmem_vm_balloon(nl, id, gfns, BATCH + 2, false) == -EBUSY &&
	      strstr(esxmem_errmsg(nl), "held"),
	      "a batch with a held frame is refused with EBUSY: %s", esxmem_errmsg(nl));
	vm_states(id, st);
	CHECK(!memcmp(st, st0, sizeof(st)) && used_pages() == used,
	      "nothing in the refused batch changed: %llu ballooned, %llu private, %ld fewer used",
	      (unsigned long long)st[ESXMEM_PAGE_BALLOONED],
	      (unsigned long long)st[ESXMEM_PAGE_PRIVATE], used - used_pages());
	CHECK(guest_check(vm, 0, FILLED) == 0, "the guest's memory is as written");

	CHECK_OK(esxmem_vm_balloon(nl, id, without, n, false));
	vm_states(id, st);
	CHECK(st[ESXMEM_PAGE_BALLOONED] == BATCH + 1 &&
	      st[ESXMEM_PAGE_PRIVATE] == st0[ESXMEM_PAGE_PRIVATE] - (BATCH - 1) &&
	      used - used_pages() == BATCH - 1,
	      "the batch without it goes through: %llu ballooned, %ld fewer used",
	      (unsigned long long)st[ESXMEM_PAGE_BALLOONED], used - used_pages());
	CHECK(guest_check(vm, HELD, 1) == 0 && guest_check(vm, BATCH, FILLED - BATCH) == 0,
	      "the held frame and the rest are as written");

	/* The pipe has the held page's contents; then it lets go. */
	close(pfd[1]);
	CHECK(read_all(pfd[0], page, ESX_PAGE) &&
	      vmm_pattern_check(page, RAM_GPA + HELD * 4096, ESX_PAGE, SEED, NULL) == 0,
	      "the pipe delivers the held page");
	close(pfd[0]);
	gfns[0] = RAM_GFN + HELD;
	CHECK_OK(esxmem_vm_balloon(nl, id, gfns, 1, false));
	vm_states(id, st);
	CHECK(st[ESXMEM_PAGE_BALLOONED] == BATCH + 2 && used - used_pages() == BATCH,
	      "let go, it balloons: %llu ballooned", (unsigned long long)st[ESXMEM_PAGE_BALLOONED]);

	test_assigned(vm, id);
	vmm_destroy(vm);
	munmap(host, (size_t)PAGES * ESX_PAGE);
	close(fd);
	CHECK(ESX_WAIT_FOR(used_pages() == used0 && held_pages() == 0, WAIT_SECS),
	      "the VM's memory comes back: %ld used, %ld held", used_pages() - used0,
	      held_pages());
}

int main(void)
{
	long used0, free0;

	REQUIRE_OK(esxmem_open(&nl));
	esx_background_off();
	/*
	 * Held 4 KiB pages and their neighbours: a held piece holds its whole
	 * large page, which esxmem_hugepage tests.
	 */
	esx_large_pages("never");
	used0 = used_pages();
	free0 = memfree_kib();

	test_hole();
	test_object_gone();
	test_balloon();

	CHECK(ESX_WAIT_FOR(used_pages() == used0 && held_pages() == 0, WAIT_SECS),
	      "the pool's count is back: %ld, %ld held", used_pages() - used0, held_pages());
	esxmem_close(nl);
	test_unload();
	CHECK(ESX_WAIT_FOR(memfree_kib() >= free0 - FREE_SLACK_KIB, WAIT_SECS),
	      "the host's free memory is back: %ld KiB less", free0 - memfree_kib());
	return vmtest_done("esxmem_held");
}
