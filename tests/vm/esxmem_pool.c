// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_pool: the machine-memory pool and its free-memory states.
 *
 *  - exhaustion: with the pool full, a write fault waits fault_wait_ms and
 *    then kills the writer with SIGBUS, after exactly the pages that fit;
 *    the wait and the timeout are counted, the host carries on and the
 *    dead writer's pages return to the pool;
 *  - a fault waiting for the pool is woken, and completes with its data
 *    intact and no timeout counted, when another object punches a hole,
 *    when the process holding the memory exits, and when pool_pages is
 *    raised;
 *  - the state file reads exactly high, soft, hard or low at the pool's
 *    thresholds (floor(pool_pages * permille / 1000) pages free) on the way
 *    down, with the one-level hysteresis on the way up; state_changes
 *    counts each change, and a threshold write takes effect at once;
 *  - bad writes to pool_pages, fault_wait_ms and the thresholds fail with
 *    EINVAL and change nothing; good ones take effect.
 *
 * Every knob is restored on exit, also when a check fails.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#define NR_PERMILLE	4
#define MAX_CHILDREN	8

static const char *const permille_file[NR_PERMILLE] = {
	"state_high_permille",
	"state_soft_permille",
	"state_hard_permille",
	"state_low_permille",
};

static const char *const state_name[NR_PERMILLE] = { "high", "soft", "hard", "low" };

/* Every knob a test may change; saved at start, restored at exit. */
struct knobs {
	long pool_pages;
	long fault_wait_ms;
	long permille[NR_PERMILLE];
};

static struct knobs saved;
static pid_t main_pid;
static pid_t children[MAX_CHILDREN];

static struct knobs knobs_read(void)
{
	struct knobs k;
	int i;

	k.pool_pages = esx_sysfs_long("pool_pages");
	k.fault_wait_ms = esx_sysfs_long("fault_wait_ms");
	for (i = 0; i < NR_PERMILLE; i++)
		k.permille[i] = esx_sysfs_long(permille_file[i]);
	return k;
}

static bool knobs_equal(const struct knobs *a, const struct knobs *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/*
 * Writes the thresholds one at a time; a write that would break their
 * order now succeeds in a later pass, once its neighbours have moved.
 */
static int permille_restore(const long *want)
{
	int pass, i, pending = 0;

	for (pass = 0; pass < NR_PERMILLE + 1; pass++) {
		pending = 0;
		for (i = 0; i < NR_PERMILLE; i++) {
			if (esx_sysfs_long(permille_file[i]) == want[i])
				continue;
			if (esx_sysfs_write_long(permille_file[i], want[i]))
				pending++;
		}
		if (!pending)
			return 0;
	}
	return -EINVAL;
}

static void track_child(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!children[i]) {
			children[i] = pid;
			return;
		}
	}
}

static void untrack_child(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* At exit of the test (not of its children): kill children, restore knobs. */
static void cleanup(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i]) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	if (esx_sysfs_write_long("pool_pages", saved.pool_pages))
		fprintf(stderr, "esxmem_pool: could not restore pool_pages\n");
	if (esx_sysfs_write_long("fault_wait_ms", saved.fault_wait_ms))
		fprintf(stderr, "esxmem_pool: could not restore fault_wait_ms\n");
	if (permille_restore(saved.permille))
		fprintf(stderr, "esxmem_pool: could not restore the thresholds\n");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void read_state(char *buf, size_t len)
{
	esx_sysfs_string("state", buf, len);
}

/* Shared with children: how many pages each has written so far. */
struct shared {
	volatile long progress;
};

static struct shared *shared_alloc(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	REQUIRE(s != MAP_FAILED, "mmap of shared memory: %s", strerror(errno));
	s->progress = 0;
	return s;
}

/* The 64-bit word @w of page @page of object number @obj. */
static uint64_t word_of(int obj, size_t page, size_t w)
{
	return ((uint64_t)obj << 56) ^ ((uint64_t)page << 20) ^ (w * 0x9e3779b97f4a7c15ULL) ^ 0x5a;
}

static void fill_page(uint64_t *p, int obj, size_t page)
{
	size_t w;

	for (w = 0; w < ESX_PAGE / 8; w++)
		p[w] = word_of(obj, page, w);
}

static bool page_ok(const uint64_t *p, int obj, size_t page)
{
	size_t w;

	for (w = 0; w < ESX_PAGE / 8; w++)
		if (p[w] != word_of(obj, page, w))
			return false;
	return true;
}

/*
 * Waits for the child to end, at most @secs seconds; then kills it. Returns
 * its wait status, or -1 when it had to be killed.
 */
static int reap(pid_t pid, double secs)
{
	double end = now() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			untrack_child(pid);
			return status;
		}
		if (r < 0) {
			untrack_child(pid);
			return -1;
		}
		if (now() > end)
			break;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	untrack_child(pid);
	return -1;
}

/* Polls a counter until it reaches @target; false after @secs seconds. */
static bool wait_counter(const char *name, long target, double secs)
{
	double end = now() + secs;

	while (esx_sysfs_long(name) < target) {
		if (now() > end)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* ---- exhaustion ---------------------------------------------------------- */

static void test_exhaustion(void)
{
	const long n = 2048, extra = 512, wait_ms = 1500;
	long used0 = esx_sysfs_long("used_pages");
	long waits0 = esx_sysfs_long("fault_waits");
	long timeouts0 = esx_sysfs_long("fault_wait_timeouts");
	long failures0 = esx_sysfs_long("alloc_failures");
	long tainted0;
	struct shared *sh = shared_alloc();
	double t0, secs;
	int status;
	pid_t pid;

	{
		FILE *f = fopen("/proc/sys/kernel/tainted", "r");

		REQUIRE(f && fscanf(f, "%ld", &tainted0) == 1, "read tainted");
		fclose(f);
	}

	REQUIRE_OK(esx_sysfs_write_long("pool_pages", used0 + n));
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", wait_ms));
	CHECK(esx_sysfs_long("free_pages") == n, "free_pages %ld, want %ld",
	      esx_sysfs_long("free_pages"), n);

	t0 = now();
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = esx_open();
		uint8_t *p = esx_map(fd, (size_t)(n + extra), 0);
		long i;

		if (!p)
			_exit(2);
		for (i = 0; i < n + extra; i++) {
			fill_page((uint64_t *)(p + i * ESX_PAGE), 0, (size_t)i);
			sh->progress = i + 1;
		}
		_exit(3);	/* every page fitted: the pool did not hold */
	}
	track_child(pid);
	status = reap(pid, 120);
	secs = now() - t0;

	CHECK(status != -1, "the writer did not end within 120 s");
	CHECK(status == -1 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS),
	      "the writer must die of SIGBUS; status 0x%x (exited %d, signal %d)", status,
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	CHECK(sh->progress == n, "%ld pages written before the pool ran out, want %ld",
	      sh->progress, n);
	CHECK(secs >= wait_ms / 1000.0 - 0.1, "SIGBUS after %.2f s, before the %ld ms wait",
	      secs, wait_ms);
	CHECK(secs < 60, "SIGBUS only after %.1f s", secs);
	CHECK(esx_sysfs_long("fault_waits") - waits0 == 1, "fault_waits rose by %ld, want 1",
	      esx_sysfs_long("fault_waits") - waits0);
	CHECK(esx_sysfs_long("fault_wait_timeouts") - timeouts0 == 1,
	      "fault_wait_timeouts rose by %ld, want 1",
	      esx_sysfs_long("fault_wait_timeouts") - timeouts0);
	CHECK(esx_sysfs_long("alloc_failures") == failures0, "alloc_failures rose by %ld",
	      esx_sysfs_long("alloc_failures") - failures0);
	CHECK(esx_sysfs_long("used_pages") == used0, "%ld pages still charged after the writer died",
	      esx_sysfs_long("used_pages") - used0);
	printf("exhaustion: %ld pages fitted, SIGBUS after %.2f s\n", sh->progress, secs);

	/* The host is fine: this process still gets and uses memory. */
	{
		size_t len = 64UL << 20, i;
		uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long tainted;
		FILE *f;

		CHECK(m != MAP_FAILED, "anonymous mmap after exhaustion: %s", strerror(errno));
		if (m != MAP_FAILED) {
			for (i = 0; i < len; i += ESX_PAGE)
				m[i] = (uint8_t)i | 1;
			for (i = 0; i < len; i += ESX_PAGE)
				if (m[i] != ((uint8_t)i | 1))
					break;
			CHECK(i == len, "anonymous memory corrupt at %zu", i);
			munmap(m, len);
		}
		f = fopen("/proc/sys/kernel/tainted", "r");
		REQUIRE(f && fscanf(f, "%ld", &tainted) == 1, "read tainted");
		fclose(f);
		CHECK(tainted == tainted0, "kernel tainted %ld -> %ld", tainted0, tainted);
	}

	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved.pool_pages));
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", saved.fault_wait_ms));
	munmap(sh, sizeof(*sh));
}

/* ---- waking waiters ------------------------------------------------------ */

/*
 * The holder: writes @pages pages of object 1, says 'r'; then obeys: 'p'
 * punches the first @punch pages and checks the object ('k' or 'f'); 'x'
 * (or a closed pipe) exits.
 */
static void holder(long pages, long punch, int cmd_fd, int reply_fd)
{
	int fd = esx_open();
	uint8_t *p = esx_map(fd, (size_t)pages, 0);
	long i;
	char c;

	if (!p)
		_exit(2);
	for (i = 0; i < pages; i++)
		fill_page((uint64_t *)(p + i * ESX_PAGE), 1, (size_t)i);
	if (write(reply_fd, "r", 1) != 1)
		_exit(3);
	while (read(cmd_fd, &c, 1) == 1 && c != 'x') {
		bool ok = true;

		if (c != 'p')
			_exit(4);
		if (esx_punch(fd, 0, punch * (off_t)ESX_PAGE))
			ok = false;
		for (i = 0; i < pages; i++) {
			const uint8_t *q = p + i * ESX_PAGE;

			if (i < punch ? !esx_is_zero(q, ESX_PAGE) : !page_ok((const uint64_t *)q, 1, (size_t)i))
				ok = false;
		}
		if (esx_stats(fd).consumed_pages != (uint64_t)(pages - punch))
			ok = false;
		if (write(reply_fd, ok ? "k" : "f", 1) != 1)
			_exit(5);
	}
	_exit(0);
}

/*
 * The waiter: writes @pages pages of object 2, reporting progress, then
 * checks them and its object's counters. Exit 0 when all is well.
 */
static void waiter(long pages, struct shared *sh)
{
	int fd = esx_open();
	uint8_t *p = esx_map(fd, (size_t)pages, 0);
	struct esxmem_vm_stats st;
	long i;

	if (!p)
		_exit(2);
	for (i = 0; i < pages; i++) {
		fill_page((uint64_t *)(p + i * ESX_PAGE), 2, (size_t)i);
		sh->progress = i + 1;
	}
	for (i = 0; i < pages; i++)
		if (!page_ok((const uint64_t *)(p + i * ESX_PAGE), 2, (size_t)i))
			_exit(3);
	st = esx_stats(fd);
	if (st.fault_waits < 1)
		_exit(4);
	if (st.fault_wait_timeouts)
		_exit(5);
	if (st.consumed_pages != (uint64_t)pages)
		_exit(6);
	_exit(0);
}

enum wake_by { WAKE_PUNCH, WAKE_EXIT, WAKE_RAISE };

static const char *const wake_name[] = { "punch", "exit", "raise" };

static void test_wake(enum wake_by how)
{
	const long n = 2048, m = 512;
	long used0 = esx_sysfs_long("used_pages");
	long waits0, timeouts0 = esx_sysfs_long("fault_wait_timeouts");
	struct shared *sh = shared_alloc();
	int cmd[2], reply[2], status;
	pid_t a, b;
	char c = 0;

	REQUIRE_OK(esx_sysfs_write_long("pool_pages", used0 + n));
	/* Long enough never to expire here, short enough to end a hang. */
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", 60000));
	REQUIRE(pipe(cmd) == 0 && pipe(reply) == 0, "pipe: %s", strerror(errno));

	a = fork();
	REQUIRE(a >= 0, "fork: %s", strerror(errno));
	if (a == 0) {
		close(cmd[1]);
		close(reply[0]);
		holder(n, m, cmd[0], reply[1]);
	}
	track_child(a);
	close(cmd[0]);
	close(reply[1]);
	REQUIRE(read(reply[0], &c, 1) == 1 && c == 'r', "%s: the holder did not fill its pages",
		wake_name[how]);
	CHECK(esx_sysfs_long("free_pages") == 0, "%s: pool not full: %ld pages free",
	      wake_name[how], esx_sysfs_long("free_pages"));

	waits0 = esx_sysfs_long("fault_waits");
	b = fork();
	REQUIRE(b >= 0, "fork: %s", strerror(errno));
	if (b == 0)
		waiter(m, sh);
	track_child(b);

	CHECK(wait_counter("fault_waits", waits0 + 1, 30),
	      "%s: no fault started waiting within 30 s", wake_name[how]);
	/* It is blocked, not done: nothing written, still alive. */
	sleep_ms(50);
	CHECK(sh->progress == 0, "%s: the waiter wrote %ld pages into a full pool",
	      wake_name[how], sh->progress);
	CHECK(waitpid(b, &status, WNOHANG) == 0, "%s: the waiter ended without memory",
	      wake_name[how]);

	switch (how) {
	case WAKE_PUNCH:
		REQUIRE(write(cmd[1], "p", 1) == 1, "command the holder");
		CHECK(read(reply[0], &c, 1) == 1 && c == 'k',
		      "punch: the holder's object is wrong after the punch ('%c')", c);
		break;
	case WAKE_EXIT:
		REQUIRE(write(cmd[1], "x", 1) == 1, "command the holder");
		break;
	case WAKE_RAISE:
		CHECK_OK(esx_sysfs_write_long("pool_pages", used0 + n + m));
		break;
	}

	status = reap(b, 90);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: the waiter failed: status 0x%x (exit %d: 3 data, 4 no wait counted, "
	      "5 timeout, 6 consumed); %ld of %ld pages written", wake_name[how], status,
	      status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, sh->progress, m);
	CHECK(esx_sysfs_long("fault_wait_timeouts") == timeouts0,
	      "%s: %ld fault waits timed out", wake_name[how],
	      esx_sysfs_long("fault_wait_timeouts") - timeouts0);
	printf("wake by %s: the waiter wrote %ld pages after %ld fault waits\n",
	       wake_name[how], sh->progress, esx_sysfs_long("fault_waits") - waits0);

	if (how != WAKE_EXIT)
		CHECK(write(cmd[1], "x", 1) == 1, "command the holder");
	status = reap(a, 60);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: the holder failed: status 0x%x", wake_name[how], status);
	close(cmd[1]);
	close(reply[0]);
	CHECK(esx_sysfs_long("used_pages") == used0, "%s: %ld pages left charged",
	      wake_name[how], esx_sysfs_long("used_pages") - used0);
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved.pool_pages));
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", saved.fault_wait_ms));
	munmap(sh, sizeof(*sh));
}

/* ---- free-memory states -------------------------------------------------- */

struct states {
	int fd;
	uint8_t *p;
	long pool;		/* pool_pages */
	long top;		/* pages [0, top) of the object are written */
	long t[NR_PERMILLE];	/* thresholds in pages */
	long changes0;		/* state_changes at the start */
	long changes;		/* changes expected since then */
};

/*
 * Writes or punches pages of the object until exactly @free pages are free.
 * With large pages (the default), the first write to an empty 2 MiB range
 * takes a large page for all of it while the pool stays in the high state,
 * and the writes after it in that range take nothing: free_pages is read
 * after each step. When a large page takes it below @free, a hole over a
 * page of it not written yet breaks it, and gives its zero pieces back:
 * the rest of that range then takes small pages, one at a time.
 */
static void set_free(struct states *s, long free)
{
	long cur = esx_sysfs_long("free_pages"), was;

	while (cur != free) {
		was = cur;
		if (cur > free) {
			s->p[s->top * ESX_PAGE] = 0xee;
			s->top++;
			cur = esx_sysfs_long("free_pages");
			if (cur >= free || was - cur == 1)
				continue;
			REQUIRE(s->top % 512, "a large page for page %ld, at the end of its range",
				s->top - 1);
			REQUIRE_OK(esx_punch(s->fd, s->top * (off_t)ESX_PAGE, ESX_PAGE));
		} else {
			REQUIRE_OK(esx_punch(s->fd, (s->top - 1) * (off_t)ESX_PAGE, ESX_PAGE));
			s->top--;
		}
		cur = esx_sysfs_long("free_pages");
	}
}

/* Moves to @free pages free; the state must be @want after @changes more changes. */
static void expect_state(struct states *s, long free, int want, int changes, const char *why)
{
	char state[32];
	long got;

	set_free(s, free);
	s->changes += changes;
	read_state(state, sizeof(state));
	got = esx_sysfs_long("state_changes") - s->changes0;
	CHECK(esx_sysfs_long("free_pages") == free, "%s: free_pages %ld, want %ld", why,
	      esx_sysfs_long("free_pages"), free);
	CHECK(!strcmp(state, state_name[want]), "%s: %ld pages free (%.2f%%): state %s, want %s",
	      why, free, 100.0 * free / s->pool, state, state_name[want]);
	CHECK(got == s->changes, "%s: %ld state changes, want %ld", why, got, s->changes);
}

static void test_states(void)
{
	enum { HIGH, SOFT, HARD, LOW };
	const long span = 10000;
	long used0 = esx_sysfs_long("used_pages");
	struct states s = { .pool = used0 + span };
	char state[32];
	long *t = s.t;
	int i;

	REQUIRE_OK(esx_sysfs_write_long("pool_pages", s.pool));
	for (i = 0; i < NR_PERMILLE; i++)
		t[i] = s.pool * esx_sysfs_long(permille_file[i]) / 1000;
	printf("states: pool %ld pages, thresholds high %ld soft %ld hard %ld low %ld\n",
	       s.pool, t[HIGH], t[SOFT], t[HARD], t[LOW]);
	REQUIRE(t[HIGH] > t[SOFT] + 1 && t[SOFT] > t[HARD] + 1 && t[HARD] > t[LOW] + 1 &&
		t[LOW] > 1 && t[HIGH] < span, "thresholds too close for this test");

	s.fd = esx_open();
	s.p = esx_map(s.fd, (size_t)span, 0);
	REQUIRE(s.p, "mmap: %s", strerror(errno));
	read_state(state, sizeof(state));
	REQUIRE(!strcmp(state, "high"), "state %s with %ld pages free", state,
		esx_sysfs_long("free_pages"));
	s.changes0 = esx_sysfs_long("state_changes");

	/* Down: each state is entered as soon as free falls below its threshold. */
	expect_state(&s, t[HIGH], HIGH, 0, "down");
	expect_state(&s, t[HIGH] - 1, HIGH, 0, "down");
	expect_state(&s, t[SOFT], HIGH, 0, "down");
	expect_state(&s, t[SOFT] - 1, SOFT, 1, "down");
	expect_state(&s, t[HARD], SOFT, 0, "down");
	expect_state(&s, t[HARD] - 1, HARD, 1, "down");
	expect_state(&s, t[LOW], HARD, 0, "down");
	expect_state(&s, t[LOW] - 1, LOW, 1, "down");
	expect_state(&s, 0, LOW, 0, "down");

	/* Up: a state is left only at the threshold of the state above. */
	expect_state(&s, t[LOW], LOW, 0, "up");
	expect_state(&s, t[HARD] - 1, LOW, 0, "up");
	expect_state(&s, t[HARD], HARD, 1, "up");
	expect_state(&s, t[SOFT] - 1, HARD, 0, "up");
	expect_state(&s, t[SOFT], SOFT, 1, "up");
	expect_state(&s, t[HIGH] - 1, SOFT, 0, "up");
	expect_state(&s, t[HIGH], HIGH, 1, "up");

	/* Down again from high: between soft and high it stays high. */
	expect_state(&s, (t[HIGH] + t[SOFT]) / 2, HIGH, 0, "down again");
	expect_state(&s, t[SOFT], HIGH, 0, "down again");

	/* A threshold write applies at once: soft above the free pages. */
	{
		long soft = saved.permille[SOFT] + 10;
		long t_soft;

		REQUIRE(soft < saved.permille[HIGH], "no room to raise the soft threshold");
		CHECK_OK(esx_sysfs_write_long(permille_file[SOFT], soft));
		CHECK(esx_sysfs_long(permille_file[SOFT]) == soft, "soft threshold reads %ld, want %ld",
		      esx_sysfs_long(permille_file[SOFT]), soft);
		t_soft = s.pool * soft / 1000;
		REQUIRE(t_soft > t[SOFT] && t_soft < t[HIGH], "raised soft threshold out of range");
		expect_state(&s, t[SOFT], SOFT, 1, "soft threshold raised");
		/* Back to the old threshold: still soft until free reaches high's. */
		CHECK_OK(esx_sysfs_write_long(permille_file[SOFT], saved.permille[SOFT]));
		expect_state(&s, t[SOFT], SOFT, 0, "soft threshold restored");
		expect_state(&s, t[HIGH] - 1, SOFT, 0, "soft threshold restored");
		expect_state(&s, t[HIGH], HIGH, 1, "soft threshold restored");
	}

	/* Down to low, then release everything at once. */
	expect_state(&s, 0, LOW, 3, "down to empty");
	munmap(s.p, (size_t)span * ESX_PAGE);
	close(s.fd);
	read_state(state, sizeof(state));
	CHECK(!strcmp(state, "high"), "state %s after the object was closed", state);
	CHECK(esx_sysfs_long("state_changes") > s.changes0 + s.changes,
	      "closing the object changed no state");
	CHECK(esx_sysfs_long("used_pages") == used0, "%ld pages left charged",
	      esx_sysfs_long("used_pages") - used0);
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved.pool_pages));
}

/* ---- sysfs writes -------------------------------------------------------- */

/* A write of @value to @file must fail with EINVAL and change no knob. */
static void expect_einval(const char *file, const char *value)
{
	struct knobs before = knobs_read(), after;
	char state0[32], state1[32];
	int ret;

	read_state(state0, sizeof(state0));
	ret = esx_sysfs_write(file, value);
	after = knobs_read();
	read_state(state1, sizeof(state1));
	CHECK(ret == -EINVAL, "write of \"%s\" to %s returned %d, want -EINVAL", value, file, ret);
	CHECK(knobs_equal(&before, &after) && !strcmp(state0, state1),
	      "write of \"%s\" to %s changed a knob or the state", value, file);
}

/* A write of @value to @file must succeed and read back as @want. */
static void expect_good(const char *file, long value, long want)
{
	int ret = esx_sysfs_write_long(file, value);

	CHECK(ret == 0, "write of %ld to %s returned %d", value, file, ret);
	CHECK(esx_sysfs_long(file) == want, "%s reads %ld after writing %ld", file,
	      esx_sysfs_long(file), value);
}

static long total_ram_pages(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	REQUIRE(f, "open /proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &kb) == 1)
			break;
	fclose(f);
	REQUIRE(kb > 0, "no MemTotal in /proc/meminfo");
	return kb / (long)(ESX_PAGE / 1024);
}

static void test_sysfs_writes(void)
{
	static const char *const junk[] = { "abc", "-1", "\n", " 5", "5x", "0x10", "1.5",
					     "18446744073709551616" };
	long ram = total_ram_pages();
	const long *pm = saved.permille;
	char buf[64];
	size_t i;

	/* pool_pages: positive, at most the host's RAM. */
	expect_einval("pool_pages", "0");
	snprintf(buf, sizeof(buf), "%ld", ram + 1);
	expect_einval("pool_pages", buf);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		expect_einval("pool_pages", junk[i]);
	expect_good("pool_pages", ram, ram);
	expect_good("pool_pages", saved.pool_pages - 1, saved.pool_pages - 1);
	CHECK(esx_sysfs_write("pool_pages", "12345\n") == 0 &&
	      esx_sysfs_long("pool_pages") == 12345, "pool_pages with a newline");
	expect_good("pool_pages", saved.pool_pages, saved.pool_pages);

	/* fault_wait_ms: at most ten minutes. */
	expect_einval("fault_wait_ms", "600001");
	expect_einval("fault_wait_ms", "4294967296");
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		expect_einval("fault_wait_ms", junk[i]);
	expect_good("fault_wait_ms", 600000, 600000);
	expect_good("fault_wait_ms", 0, 0);
	expect_good("fault_wait_ms", 1500, 1500);
	expect_good("fault_wait_ms", saved.fault_wait_ms, saved.fault_wait_ms);

	/* Thresholds: 1000 >= high > soft > hard > low > 0. */
	snprintf(buf, sizeof(buf), "%d", 1001);
	expect_einval("state_high_permille", buf);
	snprintf(buf, sizeof(buf), "%ld", pm[1]);
	expect_einval("state_high_permille", buf);	/* = soft */
	snprintf(buf, sizeof(buf), "%ld", pm[0]);
	expect_einval("state_soft_permille", buf);	/* = high */
	snprintf(buf, sizeof(buf), "%ld", pm[0] + 1);
	expect_einval("state_soft_permille", buf);	/* > high */
	snprintf(buf, sizeof(buf), "%ld", pm[2]);
	expect_einval("state_soft_permille", buf);	/* = hard */
	snprintf(buf, sizeof(buf), "%ld", pm[1]);
	expect_einval("state_hard_permille", buf);	/* = soft */
	snprintf(buf, sizeof(buf), "%ld", pm[3]);
	expect_einval("state_hard_permille", buf);	/* = low */
	snprintf(buf, sizeof(buf), "%ld", pm[2]);
	expect_einval("state_low_permille", buf);	/* = hard */
	expect_einval("state_low_permille", "0");
	for (i = 0; i < NR_PERMILLE; i++) {
		size_t j;

		for (j = 0; j < sizeof(junk) / sizeof(junk[0]); j++)
			expect_einval(permille_file[i], junk[j]);
	}
	expect_good("state_high_permille", 1000, 1000);
	expect_good("state_high_permille", pm[1] + 1, pm[1] + 1);
	expect_good("state_soft_permille", pm[2] + 1, pm[2] + 1);
	expect_good("state_hard_permille", pm[3] + 1, pm[3] + 1);
	expect_good("state_low_permille", 1, 1);
	CHECK_OK(permille_restore(saved.permille));

	/*
	 * An empty write never reaches the store method (sysfs answers 0
	 * bytes written); whatever it returns, it must change nothing.
	 */
	for (i = 0; i < NR_PERMILLE + 2; i++) {
		const char *file = i < NR_PERMILLE ? permille_file[i] :
				   i == NR_PERMILLE ? "pool_pages" : "fault_wait_ms";
		struct knobs before = knobs_read(), after;
		int ret = esx_sysfs_write(file, "");

		after = knobs_read();
		CHECK(ret == 0 || ret == -EINVAL, "empty write to %s returned %d", file, ret);
		CHECK(knobs_equal(&before, &after), "empty write to %s changed a knob", file);
	}

	{
		struct knobs now_k = knobs_read();

		CHECK(knobs_equal(&now_k, &saved), "knobs differ from the start after the sysfs tests");
	}
}

int main(void)
{
	main_pid = getpid();
	saved = knobs_read();
	atexit(cleanup);
	esx_background_off();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pool_pages %ld, used_pages %ld, fault_wait_ms %ld, thresholds %ld/%ld/%ld/%ld\n",
	       saved.pool_pages, esx_sysfs_long("used_pages"), saved.fault_wait_ms,
	       saved.permille[0], saved.permille[1], saved.permille[2], saved.permille[3]);

	test_sysfs_writes();
	test_exhaustion();
	test_wake(WAKE_PUNCH);
	test_wake(WAKE_EXIT);
	test_wake(WAKE_RAISE);
	test_states();

	{
		struct knobs end = knobs_read();

		CHECK(knobs_equal(&end, &saved), "a knob was not restored");
	}
	return vmtest_done("esxmem_pool");
}
