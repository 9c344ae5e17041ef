// SPDX-License-Identifier: GPL-2.0
/*
 * esxballoon.ko in the test host itself, over vsock_loopback (CID 1), with
 * the reference host side of tests/vm/balloon_host.h: the balloon inflates
 * to its target at the bounded rate, the frames it reports are distinct RAM
 * pages that it really holds, it deflates when the target drops, comes back
 * after the host drops the connection or sends garbage, respects its cap,
 * refuses bad sysfs writes, gives memory back on out-of-memory without
 * anything being killed, and rmmod returns every page.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "esxtest.h"
#include "vmtest.h"
#include "balloon_host.h"

#define PORT		17800		/* not the default: the parameter works */
#define SYSFS		"/sys/kernel/esxballoon/"
#define KO		"/lib/modules/esxmem/esxballoon.ko"
#define PAGE		4096UL

static struct bh_server srv;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long sysfs_long(const char *name)
{
	char path[256], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	f = fopen(path, "r");
	REQUIRE(f && fgets(buf, sizeof(buf), f), "read %s: %s", path, strerror(errno));
	fclose(f);
	return strtol(buf, NULL, 10);
}

/* 0 or -errno of writing @value to a file of /sys/kernel/esxballoon/. */
static int sysfs_write(const char *name, const char *value)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static long meminfo_kib(const char *key)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	REQUIRE(f, "open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	REQUIRE(v >= 0, "no %s in /proc/meminfo", key);
	return v;
}

/*
 * MemFree once it holds still: what earlier tests' processes and guests
 * leave to be freed goes on being freed for a while, and would hide part
 * of what the balloon takes. Steady: within 256 KiB over half a second.
 */
static long steady_memfree_kib(void)
{
	long prev = meminfo_kib("MemFree"), cur;
	double end = now() + 30;

	for (;;) {
		usleep(500000);
		cur = meminfo_kib("MemFree");
		if (labs(cur - prev) <= 256 || now() > end)
			return cur;
		prev = cur;
	}
}

static long vmstat(const char *key)
{
	char name[64];
	long v;
	FILE *f = fopen("/proc/vmstat", "r");

	REQUIRE(f, "open /proc/vmstat");
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key)) {
			fclose(f);
			return v;
		}
	fclose(f);
	REQUIRE(0, "no %s in /proc/vmstat", key);
	return -1;
}

/*
 * Waits up to @secs for the balloon to hold @pages by its own count and by
 * the host's, connected and at rest (nothing pending): true when it does.
 */
static bool wait_held(unsigned long pages, double secs)
{
	double end = now() + secs;

	do {
		struct bh_stats st = bh_get(&srv);

		if (st.state == BH_READY && st.ballooned == pages &&
		    (unsigned long)sysfs_long("held_pages") == pages &&
		    sysfs_long("connected") == 1)
			return true;
		usleep(20000);
	} while (now() < end);
	return false;
}

/* Waits up to @secs for the host to have seen @n connections in all. */
static bool wait_connections(unsigned int n, double secs)
{
	double end = now() + secs;

	while (bh_get(&srv).connections < n && now() < end)
		usleep(20000);
	return bh_get(&srv).connections >= n;
}

/* Waits up to @secs for the driver to poll its target @n more times. */
static bool wait_polls(unsigned int n, double secs)
{
	unsigned int start = bh_get(&srv).get_targets;
	double end = now() + secs;

	while (bh_get(&srv).get_targets < start + n && now() < end)
		usleep(20000);
	return bh_get(&srv).get_targets >= start + n;
}

static void report_stuck(const char *what)
{
	struct bh_stats st = bh_get(&srv);

	fprintf(stderr, "%s: held_pages %ld, host records %" PRIu64 ", target %" PRIu64
		", state %d, connections %u, violation '%s'\n", what, sysfs_long("held_pages"),
		st.ballooned, st.target, st.state, st.connections, st.violation);
}

/* /proc/kpageflags bits. */
#define KPF_BUDDY	10
#define KPF_NOPAGE	20

struct frame_check {
	int fd;
	unsigned long frames, bad;
};

/*
 * A ballooned frame is a page of RAM that is not the head of a free block
 * (kpageflags marks only a free block's first page) and not a hole.
 */
static void check_frame(void *arg, uint64_t gfn)
{
	struct frame_check *c = arg;
	uint64_t flags;

	c->frames++;
	if (pread(c->fd, &flags, sizeof(flags), (off_t)(gfn * 8)) != sizeof(flags) ||
	    (flags & ((1ULL << KPF_BUDDY) | (1ULL << KPF_NOPAGE)))) {
		if (c->bad++ < 5)
			fprintf(stderr, "frame %#" PRIx64 " flags %#" PRIx64 "\n", gfn, flags);
	}
}

static void check_frames_held(unsigned long expect)
{
	struct frame_check c = { .fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC) };

	REQUIRE(c.fd >= 0, "open /proc/kpageflags: %s", strerror(errno));
	bh_for_each(&srv, check_frame, &c);
	close(c.fd);
	CHECK(c.frames == expect, "%lu frames recorded, expected %lu", c.frames, expect);
	CHECK(c.bad == 0, "%lu ballooned frames are free blocks or holes", c.bad);
}

static void test_inflate_deflate(void)
{
	const unsigned long rate = 8192, target = 4 * rate, low = rate;
	long free_before = steady_memfree_kib();
	struct bh_stats st;
	double t0, secs;

	REQUIRE_OK(sysfs_write("inflate_rate", "8192"));
	t0 = now();
	bh_set_target(&srv, target);
	if (!wait_held(target, 30))
		report_stuck("inflate");
	secs = now() - t0;
	REQUIRE(sysfs_long("held_pages") == (long)target, "did not inflate to %lu", target);
	CHECK(sysfs_long("target_pages") == (long)target, "target_pages %ld",
	      sysfs_long("target_pages"));
	/* Four one-second steps of at most 8192 pages: at least three seconds. */
	CHECK(secs >= 2.9, "inflated %lu pages in %.2f s: faster than %lu pages/s",
	      target, secs, rate);
	printf("inflation: %lu pages in %.2f s, %.0f pages/s (limit %lu)\n", target, secs,
	       target / secs, rate);
	CHECK(free_before - meminfo_kib("MemFree") >= (long)(target * 4 * 9 / 10),
	      "MemFree fell by %ld KiB only", free_before - meminfo_kib("MemFree"));
	check_frames_held(target);

	bh_set_target(&srv, low);
	if (!wait_held(low, 15))
		report_stuck("deflate");
	REQUIRE(sysfs_long("held_pages") == (long)low, "did not deflate to %lu", low);
	st = bh_get(&srv);
	CHECK(st.unlocked_frames == target - low, "%" PRIu64 " frames unlocked, expected %lu",
	      st.unlocked_frames, target - low);
	check_frames_held(low);
}

static void test_reconnect(void)
{
	const unsigned long held = (unsigned long)sysfs_long("held_pages");
	struct bh_stats st;

	bh_close_connection(&srv);
	if (!(wait_connections(2, 20) && wait_held(held, 20)))
		report_stuck("reconnect");
	st = bh_get(&srv);
	CHECK(st.connections == 2 && st.hellos == 2 && st.resets == 2,
	      "connections %u hellos %u resets %u", st.connections, st.hellos, st.resets);
	CHECK(st.ballooned == held, "host records %" PRIu64 " frames after the new connection, "
	      "expected %lu locked again", st.ballooned, held);
	CHECK(sysfs_long("reconnects") == 1, "reconnects %ld", sysfs_long("reconnects"));

	/*
	 * A wrong reply, an ERROR or none at all ends the connection from the
	 * guest's side; it comes back with everything locked again.
	 */
	for (int how = BH_BAD_MAGIC; how < BH_NR_CORRUPTIONS; how++) {
		unsigned int connections = bh_get(&srv).connections;
		long errors = sysfs_long("protocol_errors");
		bool malformed = how != BH_ERROR && how != BH_SILENCE;

		bh_corrupt_next_reply(&srv, how);
		if (!(wait_connections(connections + 1, 20) && wait_held(held, 20)))
			report_stuck("reconnect after a bad reply");
		CHECK(bh_get(&srv).connections == connections + 1,
		      "no new connection after corruption %d", how);
		CHECK(sysfs_long("protocol_errors") == errors + malformed,
		      "corruption %d: protocol_errors %ld, was %ld", how,
		      sysfs_long("protocol_errors"), errors);
		CHECK(sysfs_long("reconnects") == (long)connections, "reconnects %ld after %u connections",
		      sysfs_long("reconnects"), connections + 1);
		CHECK(bh_get(&srv).ballooned == held, "frames not locked again");
	}
}

static void test_sysfs_validation(void)
{
	static const char *const bad_cap[] = { "0", "91", "-5", "abc", "\n", "65x", "4294967361" };
	static const char *const bad_rate[] = { "0", "1048577", "x", "-1" };

	REQUIRE_OK(sysfs_write("cap_percent", "50"));
	for (size_t i = 0; i < sizeof(bad_cap) / sizeof(bad_cap[0]); i++)
		CHECK(sysfs_write("cap_percent", bad_cap[i]) == -EINVAL,
		      "cap_percent '%s' not refused", bad_cap[i]);
	CHECK(sysfs_long("cap_percent") == 50, "cap_percent changed to %ld by bad writes",
	      sysfs_long("cap_percent"));
	REQUIRE_OK(sysfs_write("inflate_rate", "1000"));
	for (size_t i = 0; i < sizeof(bad_rate) / sizeof(bad_rate[0]); i++)
		CHECK(sysfs_write("inflate_rate", bad_rate[i]) == -EINVAL,
		      "inflate_rate '%s' not refused", bad_rate[i]);
	CHECK(sysfs_long("inflate_rate") == 1000, "inflate_rate changed to %ld by bad writes",
	      sysfs_long("inflate_rate"));
	CHECK(sysfs_write("held_pages", "0") == -EACCES, "held_pages writable");
	CHECK(sysfs_write("target_pages", "0") == -EACCES, "target_pages writable");
	REQUIRE_OK(sysfs_write("cap_percent", "65"));
}

static void test_cap(void)
{
	unsigned long total = (unsigned long)meminfo_kib("MemTotal") / 4, cap, low_cap;
	double t0;

	REQUIRE_OK(sysfs_write("inflate_rate", "65536"));
	REQUIRE_OK(sysfs_write("cap_percent", "5"));
	cap = (unsigned long)sysfs_long("cap_pages");
	CHECK(cap == total / 100 * 5, "cap_pages %lu, expected %lu", cap, total / 100 * 5);
	bh_set_target(&srv, total);
	t0 = now();
	if (!wait_held(cap, 30))
		report_stuck("cap");
	printf("inflation: %lu pages in %.2f s with a limit of 65536 pages/s\n", cap, now() - t0);
	REQUIRE(sysfs_long("held_pages") == (long)cap, "did not inflate to the cap %lu", cap);
	/* Two more polls of the target change nothing. */
	CHECK(wait_polls(2, 10), "the driver stopped polling its target");
	CHECK(sysfs_long("held_pages") == (long)cap, "grew beyond the cap: %ld > %lu",
	      sysfs_long("held_pages"), cap);
	CHECK(bh_get(&srv).ballooned == cap, "host records beyond the cap");

	REQUIRE_OK(sysfs_write("cap_percent", "2"));
	low_cap = (unsigned long)sysfs_long("cap_pages");
	if (!wait_held(low_cap, 15))
		report_stuck("lower cap");
	CHECK(sysfs_long("held_pages") == (long)low_cap, "did not deflate to the lower cap");
}

/*
 * Fills memory beyond what is available while the balloon holds plenty: the
 * balloon must give pages back through its out-of-memory notifier, so that
 * the filler gets its memory and nothing is killed.
 */
static void test_oom(void)
{
	unsigned long cap;
	long kills = vmstat("oom_kill"), deflations = sysfs_long("oom_deflations");
	long avail_kib, fill_kib;
	double t0;
	int to_parent[2], to_child[2], status;
	char c;
	pid_t pid;

	/* Unlimited: how fast the driver can allocate and lock. */
	REQUIRE_OK(sysfs_write("inflate_rate", "1048576"));
	REQUIRE_OK(sysfs_write("cap_percent", "40"));
	cap = (unsigned long)sysfs_long("cap_pages");
	t0 = now();
	if (!wait_held(cap, 60))
		report_stuck("oom: inflate");
	REQUIRE(sysfs_long("held_pages") == (long)cap, "did not inflate to the cap %lu", cap);
	printf("inflation: %lu pages in %.2f s without a limit (including up to 1 s to the next poll)\n",
	       cap, now() - t0);

	avail_kib = meminfo_kib("MemAvailable");
	fill_kib = avail_kib + 256 * 1024;
	REQUIRE(fill_kib < avail_kib + (long)cap * 4 / 2, "balloon too small for the test");
	REQUIRE(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		size_t len = (size_t)fill_kib * 1024;
		int fd = open("/proc/self/oom_score_adj", O_WRONLY);
		char *p;

		close(to_parent[0]);
		close(to_child[1]);
		/* If the OOM killer runs after all, it takes this filler. */
		if (fd < 0 || write(fd, "1000", 4) != 4)
			_exit(2);
		close(fd);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		for (size_t off = 0; off < len; off += PAGE)
			p[off] = 1;
		if (write(to_parent[1], "f", 1) != 1 || read(to_child[0], &c, 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	CHECK(read(to_parent[0], &c, 1) == 1, "the filler did not finish (killed?)");
	printf("oom: filled %ld MiB with %ld MiB available; %ld deflations, %ld pages\n",
	       fill_kib / 1024, avail_kib / 1024, sysfs_long("oom_deflations") - deflations,
	       sysfs_long("oom_pages"));
	CHECK(sysfs_long("oom_deflations") > deflations, "no out-of-memory deflation");
	CHECK((unsigned long)sysfs_long("held_pages") < cap - 256 * 256,
	      "held %ld pages: the balloon did not give the filler's memory", sysfs_long("held_pages"));
	CHECK(vmstat("oom_kill") == kills, "the OOM killer killed %ld processes",
	      vmstat("oom_kill") - kills);
	close(to_child[1]);
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "filler ended with status %#x", status);
	close(to_parent[0]);

	/* The host learns of the frames freed under pressure in the next exchange. */
	{
		double end = now() + 15;
		bool agree = false;

		while (!agree && now() < end) {
			agree = bh_get(&srv).ballooned == (uint64_t)sysfs_long("held_pages");
			if (!agree)
				usleep(20000);
		}
		CHECK(agree, "host records %" PRIu64 " frames, the guest holds %ld",
		      bh_get(&srv).ballooned, sysfs_long("held_pages"));
	}
	CHECK(!bh_get(&srv).violation[0], "violation '%s'", bh_get(&srv).violation);
}

static void test_unload(void)
{
	const unsigned long held = 65536;
	long free_before, free_after;
	double end;

	REQUIRE_OK(sysfs_write("cap_percent", "65"));
	bh_set_target(&srv, held);
	if (!wait_held(held, 60))
		report_stuck("before unload");
	REQUIRE(sysfs_long("held_pages") == (long)held, "did not settle at %lu", held);
	free_before = meminfo_kib("MemFree");
	REQUIRE(!syscall(SYS_delete_module, "esxballoon", O_NONBLOCK), "rmmod: %s",
		strerror(errno));
	free_after = meminfo_kib("MemFree");
	CHECK(free_after - free_before >= (long)(held * 4 * 9 / 10),
	      "MemFree rose by %ld KiB only after rmmod with %lu pages held",
	      free_after - free_before, held);
	CHECK(access(SYSFS, F_OK) != 0, "%s still there after rmmod", SYSFS);
	end = now() + 10;
	while (bh_get(&srv).state != BH_IDLE && now() < end)
		usleep(20000);
	CHECK(bh_get(&srv).state == BH_IDLE && bh_get(&srv).ballooned == 0,
	      "the host did not see the connection end");
}

int main(void)
{
	struct bh_stats st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	REQUIRE_OK(esx_load_vsock(true));
	bh_start(&srv, PORT);

	/* Bad parameters are refused. */
	CHECK(esx_load_module(KO, "cap_percent=0") == -EINVAL, "cap_percent=0 accepted");
	CHECK(esx_load_module(KO, "cap_percent=91") == -EINVAL, "cap_percent=91 accepted");
	CHECK(esx_load_module(KO, "inflate_rate=0") == -EINVAL, "inflate_rate=0 accepted");

	REQUIRE_OK(esx_load_module(KO, "host_cid=1 port=17800 inflate_rate=8192"));
	if (!wait_held(0, 15))
		report_stuck("connect");
	st = bh_get(&srv);
	REQUIRE(st.state == BH_READY && sysfs_long("connected") == 1, "no connection");
	CHECK(st.connections == 1 && st.hellos == 1 && st.resets == 1,
	      "connections %u hellos %u resets %u", st.connections, st.hellos, st.resets);
	CHECK(st.guest_pages == (uint64_t)meminfo_kib("MemTotal") / 4,
	      "HELLO said %" PRIu64 " pages, MemTotal is %ld", st.guest_pages,
	      meminfo_kib("MemTotal") / 4);
	CHECK(sysfs_long("reconnects") == 0, "reconnects %ld", sysfs_long("reconnects"));

	test_inflate_deflate();
	test_reconnect();
	test_sysfs_validation();
	test_cap();
	test_oom();
	test_unload();

	st = bh_get(&srv);
	CHECK(!st.violation[0], "the driver broke the protocol: %s", st.violation);
	return vmtest_done("esxballoon_loopback");
}
