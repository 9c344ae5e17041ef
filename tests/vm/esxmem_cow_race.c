// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_cow_race: a copy-on-write break whose copy is held open while the
 * frame it copied is claimed, written and offered for sharing again.
 *
 * Pages X and Y of one VM hold the same content and are merged onto one
 * frame F. A child process writes one word into X: copy-on-write. The test
 * module esxtest_copypark parks the child right after it copied F, if it
 * copied F with nobody holding F's lock (a copy taken under the lock goes
 * on). Meanwhile X is punched, so Y is F's last sharer; Y is written with
 * new content C1 (taking F over), becomes the scanner's hint, X is written
 * with C1 as well and the scanner is let loose on both. Then the child
 * goes on. X must read C1 (with or without the child's word, by when that
 * write lands), never its content before the hole: a copy taken before
 * the frame's state was checked must not be installed.
 *
 * While the child holds F (the fault holds a reference to the page it
 * writes), F cannot be shared again: a page is merged only with no
 * reference beyond the pmap's and the scanner's. The test prints whether
 * the child parked and whether X and Y merged meanwhile.
 */
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"

#define PAGES		2u
#define WAIT_SECS	120.0
#define MERGE_SECS	20.0
#define PARK_NAME	"esxtest_copypark"
#define PARK_MODULE	"/lib/modules/esxmem/" PARK_NAME ".ko"
#define PARK_PARAM	"/sys/module/" PARK_NAME "/parameters/"
#define WORD		0x5757575757575757ULL

static pid_t child;
static bool reaped;
static int go[2] = { -1, -1 };

static int park_write(const char *name, unsigned long value)
{
	char path[128], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), PARK_PARAM "%s", name);
	len = snprintf(buf, sizeof(buf), "%lu", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static long park_read(const char *name)
{
	char path[128], buf[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARK_PARAM "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/*
 * Lets a parked child go and unloads the module, whose probe would slow
 * every page copy of the tests after this one. A parked child runs module
 * code: it must be gone first.
 */
static void park_off(void)
{
	if (child > 0) {
		/* A child still waiting to be told to write ends at EOF. */
		close(go[1]);
		park_write("release", 1);
		park_write("pfn", 0);
		if (!reaped)
			waitpid(child, NULL, 0);
	}
	if (syscall(SYS_delete_module, PARK_NAME, O_NONBLOCK))
		fprintf(stderr, "unload %s: %s\n", PARK_NAME, strerror(errno));
}

static void fill(unsigned char *p, unsigned char tag)
{
	for (size_t i = 0; i < ESX_PAGE; i++)
		p[i] = (unsigned char)(tag ^ (i * 7 + (i >> 8)));
}

/* Whether @p holds what fill(@tag) wrote, from byte @from on. */
static bool same_from(const unsigned char *p, unsigned char tag, size_t from)
{
	unsigned char want[ESX_PAGE];

	fill(want, tag);
	return !memcmp(p + from, want + from, ESX_PAGE - from);
}

/* The machine page mapped at @p, read from /proc/self/pagemap; 0 if none. */
static uint64_t pfn_of(const volatile unsigned char *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	(void)*p;	/* mapped now */
	REQUIRE(fd >= 0, "open pagemap: %s", strerror(errno));
	REQUIRE(pread(fd, &e, 8, (uintptr_t)p / ESX_PAGE * 8) == 8, "read pagemap: %s",
		strerror(errno));
	close(fd);
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

static bool child_done(int *status)
{
	if (!reaped)
		reaped = waitpid(child, status, WNOHANG) == child;
	return reaped;
}

int main(void)
{
	unsigned char *map, *x, *y;
	int fd, status = 0;
	long merges0, hints0;
	bool parked, merged;
	uint64_t frame;

	esx_background_off();
	esx_share_rate("100000");
	REQUIRE_OK(esx_load_module(PARK_MODULE, ""));
	atexit(park_off);

	fd = esx_open();
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap: %s", strerror(errno));
	x = map;
	y = map + ESX_PAGE;
	fill(x, 0);
	fill(y, 0);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE(ESX_WAIT_FOR(esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED] == PAGES, WAIT_SECS),
		"X and Y were not merged");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	frame = pfn_of(x);
	REQUIRE(frame && frame == pfn_of(y), "X and Y map pfns %#llx and %#llx, not one frame",
		(unsigned long long)frame, (unsigned long long)pfn_of(y));

	/* The child writes X once told to; its copies of F may park. */
	REQUIRE(!pipe(go), "pipe: %s", strerror(errno));
	child = fork();
	REQUIRE(child >= 0, "fork: %s", strerror(errno));
	if (!child) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		*(volatile uint64_t *)x = WORD;
		_exit(0);
	}
	REQUIRE_OK(park_write("release", 0));
	REQUIRE_OK(park_write("pid", (unsigned long)child));
	REQUIRE_OK(park_write("pfn", frame));
	REQUIRE(write(go[1], "g", 1) == 1, "write to the child: %s", strerror(errno));
	REQUIRE(ESX_WAIT_FOR(park_read("parks") > 0 || child_done(&status), WAIT_SECS),
		"the child neither parked nor finished its write to X");
	parked = park_read("parks") > 0;
	printf("the child %s; it copied F with F locked %ld times\n",
	       parked ? "parked after copying F unlocked" : "wrote X without parking",
	       park_read("locked_copies"));

	/* X leaves F: Y is its last sharer, takes it over and writes it. */
	REQUIRE_OK(esx_punch(fd, 0, ESX_PAGE));
	fill(y, 'C');
	/* Y becomes the scanner's hint: F is the page that X would merge with. */
	hints0 = esx_sysfs_long("share/hints");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE(ESX_WAIT_FOR(esx_sysfs_long("share/hints") > hints0, WAIT_SECS),
		"Y did not become the scanner's hint");
	merges0 = esx_sysfs_long("share/merges");
	fill(x, 'C');
	merged = ESX_WAIT_FOR(esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED] == PAGES,
			      MERGE_SECS);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	printf("while the child %s: X and Y %s (%ld merges; X at %#llx, Y at %#llx, F %#llx)\n",
	       parked ? "was parked" : "was done", merged ? "merged" : "not merged",
	       esx_sysfs_long("share/merges") - merges0, (unsigned long long)pfn_of(x),
	       (unsigned long long)pfn_of(y), (unsigned long long)frame);

	REQUIRE_OK(park_write("release", 1));
	REQUIRE(ESX_WAIT_FOR(child_done(&status), WAIT_SECS),
		"the child did not finish its write to X");
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "the child ended with status %#x",
	      status);

	CHECK(same_from(x, 'C', sizeof(uint64_t)), "X reads %s, not what was written to it last",
	      same_from(x, 0, sizeof(uint64_t)) ? "its content before the hole" : "other bytes");
	CHECK(*(uint64_t *)x == WORD || same_from(x, 'C', 0),
	      "X's first word is %#llx: neither the child's word nor what was written last",
	      (unsigned long long)*(uint64_t *)x);
	CHECK(same_from(y, 'C', 0), "Y does not read what was written to it");
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	return vmtest_done("esxmem_cow_race");
}
