// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_stress: data integrity of guest RAM under stress.
 *
 * Four worker processes each own a 256 MiB VM memory object (1 GiB in all)
 * and write and verify random content in it; two of them drive a tiny-VMM
 * KVM guest whose RAM is the object, filling and checking it from inside
 * the guest as well as from the host mapping, the other two work from the
 * CPU through the mapping. Meanwhile:
 *
 *  - the pool holds 700 MiB for the 1 GiB of demand, so faults must wait
 *    for memory (fault_wait_ms is raised so that no wait times out);
 *  - a puncher thread in every worker punches random page ranges of its
 *    object, whenever the pool runs dry and now and then besides, which
 *    is what lets the waiting faults go on.
 *
 * Each worker keeps a model of its object, per page the seed of the
 * pattern last written there or "zero" after a punch, under a lock per
 * chunk of 64 pages, so every check is exact: a page must hold its pattern
 * or read zero. A worker first writes every page of its object, then
 * fills and checks random ranges until the run time is up, then stops its
 * puncher and checks everything, through the guest and the host mapping
 * for the KVM workers; the object's private and shared pages must then
 * equal the pages that hold data.
 *
 * Passes when no page is corrupt, faults did wait, no wait timed out, no
 * worker failed and every page returns to the pool. Prints
 *   stress: <written> pages written, <verified> verified, <corrupted>
 *   corrupted, <waits> fault waits, <punches> punches, <seconds>s
 * The reclaim thread is stopped (this is the test of an exhausted pool);
 * pool_pages, fault_wait_ms and reclaim/enabled are restored on exit.
 */
#include "esxtest.h"
#include "pagemodel.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#define NR_WORKERS	4
#define NR_GUESTS	2		/* workers [0, NR_GUESTS) drive a guest */
#define OBJ_PAGES	65536UL		/* 256 MiB per worker */
#define CHUNK_PAGES	64UL
#define NR_CHUNKS	(OBJ_PAGES / CHUNK_PAGES)
#define POOL_MIB	700UL		/* the pool above what is in use */
#define WAIT_MS		120000L		/* fault_wait_ms during the run */
#define RUN_SECS	40.0		/* random fills and checks until then */
#define MIN_RANDOM_SECS	10.0		/* ... but for at least this long */
#define STALL_SECS	30.0		/* no progress for so long: show why */
#define END_SECS	400.0		/* a worker still running then is hung */
#define MAX_REPORTS	5		/* corrupt pages described per worker */

#define CODE_GPA	0x0UL
#define CODE_SIZE	0x10000UL
#define RAM_GPA		0x10000000UL	/* guest RAM: the object */

/* What a worker reports to the parent, in memory shared with it. */
struct result {
	uint64_t written;	/* pages filled with a pattern */
	uint64_t verified;	/* pages checked */
	uint64_t corrupted;	/* pages found wrong */
	uint64_t punches;	/* PUNCH_HOLE calls */
	uint64_t guest_ops;	/* fills and checks run inside the guest */
	uint64_t fault_waits;	/* the object's counters at the end */
	uint64_t fault_wait_timeouts;
	double fill_secs;	/* time of the first full write */
	double secs;
	int done;
	int failed;
	char why[256];
};

struct chunk {
	pthread_mutex_t lock;
	uint32_t seed[CHUNK_PAGES];	/* per page; 0: reads zero */
};

struct worker {
	int id;
	int fd;
	int free_fd;			/* sysfs free_pages, for the puncher */
	uint8_t *ram;			/* host view of the object */
	struct vmm *vm;			/* NULL for CPU workers */
	struct chunk *chunks;
	struct result *res;
	uint64_t rng;
	atomic_bool stop;
	atomic_ullong punches;
	atomic_int punch_err;
	int reports;
};

static struct result *results;
static pid_t main_pid;
static pid_t pids[NR_WORKERS];
static long saved_pool = -1, saved_wait = -1;

static uint64_t page_gpa(uint64_t page)
{
	return RAM_GPA + page * ESX_PAGE;
}

__attribute__((format(printf, 2, 3)))
static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->res->failed) {
		va_start(ap, fmt);
		vsnprintf(w->res->why, sizeof(w->res->why), fmt, ap);
		va_end(ap);
	}
	w->res->failed = 1;
}

/* ---- the puncher ------------------------------------------------------- */

/* The pool's free pages; a large number if sysfs cannot be read. */
static long pool_free(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return LONG_MAX;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* Whether chunk @c holds data anywhere; under its lock. */
static bool chunk_has_data(const struct chunk *c)
{
	size_t i;

	for (i = 0; i < CHUNK_PAGES; i++)
		if (c->seed[i])
			return true;
	return false;
}

/*
 * Punches a random range of a random chunk that is not being filled or
 * checked, preferring chunks that hold data. Never allocates or maps
 * memory: the writer may wait in a fault with the mmap lock held.
 */
static void punch_one(struct worker *w, uint64_t *rng)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		size_t ci = pm_rnd_below(rng, NR_CHUNKS), a, b, i;
		struct chunk *c = &w->chunks[ci];
		int err;

		if (pthread_mutex_trylock(&c->lock))
			continue;
		if (tries < 15 && !chunk_has_data(c)) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		if (pm_rnd_below(rng, 2)) {
			a = 0;
			b = CHUNK_PAGES;
		} else {
			a = pm_rnd_below(rng, CHUNK_PAGES);
			b = a + 1 + pm_rnd_below(rng, CHUNK_PAGES - a);
		}
		err = esx_punch(w->fd, (off_t)((ci * CHUNK_PAGES + a) * ESX_PAGE),
				(off_t)((b - a) * ESX_PAGE));
		if (err)
			atomic_store(&w->punch_err, err);
		for (i = a; i < b; i++)
			c->seed[i] = 0;
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add(&w->punches, 1);
		return;
	}
}

static void *puncher(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->rng ^ 0x9e3779b97f4a7c15ULL;

	while (!atomic_load(&w->stop)) {
		/* Dry: a writer is waiting or about to. */
		bool dry = pool_free(w->free_fd) < (long)CHUNK_PAGES;

		if (dry || pm_rnd_below(&rng, 32) == 0)
			punch_one(w, &rng);
		usleep(dry ? 500 : 1000);
	}
	return NULL;
}

/* ---- filling and checking ---------------------------------------------- */

static int guest_call(struct worker *w, enum vmm_routine r, struct vmm_regs *regs)
{
	int ret = vmm_call(w->vm, r, regs);

	if (ret)
		fail(w, "worker %d: guest routine %d failed: %d (%s)", w->id, r, ret,
		     vmm_last_error(w->vm));
	w->res->guest_ops++;
	return ret;
}

/* Fills pages [a, b) of chunk @ci with a fresh pattern; under its lock. */
static int fill(struct worker *w, size_t ci, size_t a, size_t b, bool by_guest)
{
	struct chunk *c = &w->chunks[ci];
	uint64_t page = ci * CHUNK_PAGES + a;
	uint32_t seed = pm_fresh_seed(&w->rng);
	size_t i;

	if (by_guest) {
		struct vmm_regs r;

		if (guest_call(w, pm_guest_fill(&r, page_gpa(page), b - a, seed), &r))
			return -1;
	} else {
		vmm_pattern_fill(w->ram + page * ESX_PAGE, page_gpa(page),
				 (b - a) * ESX_PAGE, seed);
	}
	for (i = a; i < b; i++)
		c->seed[i] = seed;
	w->res->written += b - a;
	return 0;
}

/* Describes corrupt page @page as the host sees it. */
static void report(struct worker *w, uint64_t page, uint32_t seed, const char *who)
{
	const uint32_t *p = (const uint32_t *)(w->ram + page * ESX_PAGE);
	uint64_t gpa = page_gpa(page);
	size_t first, bad;

	if (w->reports++ >= MAX_REPORTS)
		return;
	bad = pm_wrong_dwords(p, gpa, seed, &first);
	fprintf(stderr, "worker %d: page %" PRIu64 " (offset 0x%" PRIx64 ") corrupt, found by the %s: "
		"expected %s (seed 0x%08" PRIx32 "); the host sees %zu wrong dwords",
		w->id, page, page * ESX_PAGE, who, seed ? "the pattern" : "zeros", seed, bad);
	if (bad)
		fprintf(stderr, ", first at +0x%zx: 0x%08" PRIx32 " instead of 0x%08" PRIx32,
			4 * first, p[first], seed ? vmm_pattern(gpa + 4 * first, seed) : 0);
	fputc('\n', stderr);
}

static bool host_page_ok(struct worker *w, uint64_t page, uint32_t seed)
{
	return pm_page_ok(w->ram + page * ESX_PAGE, page_gpa(page), seed);
}

/*
 * The guest's view of pages [page, page + n): for a pattern the number of
 * wrong dwords, for zeros the XOR of all dwords (zero when they are).
 * -1 when the guest could not run.
 */
static int64_t guest_look(void *ctx, uint64_t page, uint64_t n, uint32_t seed)
{
	struct worker *w = ctx;
	struct vmm_regs r;

	if (guest_call(w, pm_guest_look(&r, page_gpa(page), n, seed), &r))
		return -1;
	return r.eax;
}

/*
 * Checks every page of chunk @ci against the model, through the guest
 * and/or the host mapping; under the chunk's lock. Returns -1 when the
 * guest failed.
 */
static int verify(struct worker *w, size_t ci, bool by_guest, bool by_host)
{
	struct chunk *c = &w->chunks[ci];
	uint64_t base = ci * CHUNK_PAGES;
	size_t a, b, i;

	for (a = 0; a < CHUNK_PAGES; a = b) {
		uint32_t seed = c->seed[a];
		bool guest_bad[CHUNK_PAGES] = { false };

		for (b = a + 1; b < CHUNK_PAGES && c->seed[b] == seed; b++)
			;
		if (by_guest && pm_guest_find_wrong(guest_look, w, base + a, b - a, seed,
						    guest_bad + a))
			return -1;
		for (i = a; i < b; i++) {
			bool host_bad = by_host && !host_page_ok(w, base + i, seed);

			if (guest_bad[i] || host_bad) {
				w->res->corrupted++;
				report(w, base + i, seed, guest_bad[i] ? "guest" : "host");
			}
		}
		w->res->verified += b - a;
	}
	return 0;
}

/* A random range of a chunk: the whole chunk half of the time. */
static void random_range(uint64_t *rng, size_t *a, size_t *b)
{
	if (pm_rnd_below(rng, 2)) {
		*a = 0;
		*b = CHUNK_PAGES;
		return;
	}
	*a = pm_rnd_below(rng, CHUNK_PAGES);
	*b = *a + 1 + pm_rnd_below(rng, CHUNK_PAGES - *a);
}

/* ---- a worker ----------------------------------------------------------- */

static int setup(struct worker *w)
{
	uint64_t size = OBJ_PAGES * ESX_PAGE;
	size_t i;
	int ret;

	w->fd = esx_open();
	if (ioctl(w->fd, ESXMEM_IOC_SET_SIZE, &size)) {
		fail(w, "worker %d: SET_SIZE: %s", w->id, strerror(errno));
		return -1;
	}
	w->free_fd = open(ESX_SYSFS "free_pages", O_RDONLY | O_CLOEXEC);
	if (w->free_fd < 0) {
		fail(w, "worker %d: open free_pages: %s", w->id, strerror(errno));
		return -1;
	}
	w->chunks = calloc(NR_CHUNKS, sizeof(*w->chunks));
	if (!w->chunks) {
		fail(w, "worker %d: out of memory", w->id);
		return -1;
	}
	for (i = 0; i < NR_CHUNKS; i++)
		pthread_mutex_init(&w->chunks[i].lock, NULL);

	if (w->id < NR_GUESTS) {
		ret = vmm_create(&w->vm);
		if (!ret)
			ret = vmm_add_slot(w->vm, 0, CODE_GPA, CODE_SIZE, -1, 0);
		if (!ret)
			ret = vmm_add_slot(w->vm, 1, RAM_GPA, size, w->fd, 0);
		if (!ret)
			ret = vmm_load_guest(w->vm, CODE_GPA);
		if (ret) {
			fail(w, "worker %d: setting up the guest: %d", w->id, ret);
			return -1;
		}
		w->ram = vmm_gpa_range(w->vm, RAM_GPA, size);
	} else {
		w->ram = esx_map(w->fd, OBJ_PAGES, 0);
	}
	if (!w->ram) {
		fail(w, "worker %d: no mapping of the object: %s", w->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int worker_run(struct worker *w, double start)
{
	size_t order[NR_CHUNKS], i, ci, a, b;
	double random_end;
	bool guest = w->vm != NULL;

	/* 1: every page once, chunks in random order, with some checks. */
	for (i = 0; i < NR_CHUNKS; i++)
		order[i] = i;
	for (i = NR_CHUNKS - 1; i > 0; i--) {
		size_t j = pm_rnd_below(&w->rng, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < NR_CHUNKS && !w->res->failed; i++) {
		ci = order[i];
		pthread_mutex_lock(&w->chunks[ci].lock);
		if (fill(w, ci, 0, CHUNK_PAGES, guest && pm_rnd_below(&w->rng, 2)))
			return -1;
		pthread_mutex_unlock(&w->chunks[ci].lock);
		if (pm_rnd_below(&w->rng, 4) == 0) {
			bool g = guest && pm_rnd_below(&w->rng, 2);

			ci = order[pm_rnd_below(&w->rng, i + 1)];
			pthread_mutex_lock(&w->chunks[ci].lock);
			if (verify(w, ci, g, !g))
				return -1;
			pthread_mutex_unlock(&w->chunks[ci].lock);
		}
	}
	w->res->fill_secs = esx_now() - start;

	/* 2: random fills and checks, while the puncher goes on. */
	random_end = start + RUN_SECS;
	if (random_end < esx_now() + MIN_RANDOM_SECS)
		random_end = esx_now() + MIN_RANDOM_SECS;
	while (esx_now() < random_end && !w->res->failed) {
		bool g = guest && pm_rnd_below(&w->rng, 2);
		int err;

		ci = pm_rnd_below(&w->rng, NR_CHUNKS);
		pthread_mutex_lock(&w->chunks[ci].lock);
		if (pm_rnd_below(&w->rng, 2)) {
			random_range(&w->rng, &a, &b);
			err = fill(w, ci, a, b, g);
		} else {
			err = verify(w, ci, g, !g);
		}
		pthread_mutex_unlock(&w->chunks[ci].lock);
		if (err)
			return -1;
	}
	return 0;
}

/* 3: with the puncher stopped, every page through every view. */
static int worker_final(struct worker *w)
{
	struct esxmem_vm_stats st;
	uint64_t data = 0;
	size_t ci, i;

	for (ci = 0; ci < NR_CHUNKS; ci++) {
		if (verify(w, ci, w->vm != NULL, true))
			return -1;
		for (i = 0; i < CHUNK_PAGES; i++)
			data += w->chunks[ci].seed[i] != 0;
	}
	st = esx_stats(w->fd);
	w->res->fault_waits = st.fault_waits;
	w->res->fault_wait_timeouts = st.fault_wait_timeouts;
	/* Pages that hold data are private, or shared with equal pages. */
	if (st.state_pages[ESXMEM_PAGE_PRIVATE] + st.state_pages[ESXMEM_PAGE_SHARED] != data)
		fail(w, "worker %d: the object backs %llu + %llu shared pages, %" PRIu64
		     " hold data", w->id,
		     (unsigned long long)st.state_pages[ESXMEM_PAGE_PRIVATE],
		     (unsigned long long)st.state_pages[ESXMEM_PAGE_SHARED], data);
	if (st.fault_wait_timeouts)
		fail(w, "worker %d: %llu fault waits timed out", w->id,
		     (unsigned long long)st.fault_wait_timeouts);
	return 0;
}

static int worker_main(int id, struct result *res, double start)
{
	struct worker w = { .id = id, .res = res, .fd = -1, .free_fd = -1 };
	pthread_t thread;
	bool running = false;
	int err;

	w.rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(esx_now() * 1e9) ^ ((uint64_t)id << 56);
	w.rng |= 1;
	atomic_init(&w.stop, false);
	atomic_init(&w.punches, 0);
	atomic_init(&w.punch_err, 0);

	if (setup(&w) == 0) {
		err = pthread_create(&thread, NULL, puncher, &w);
		if (err)
			fail(&w, "worker %d: pthread_create: %s", id, strerror(err));
		else
			running = true;
	}
	if (running) {
		if (worker_run(&w, start) == 0) {
			atomic_store(&w.stop, true);
			pthread_join(thread, NULL);
			running = false;
			worker_final(&w);
		}
	}
	if (running) {
		/* Failed with a chunk lock held: leave the puncher running. */
		atomic_store(&w.stop, true);
	}
	res->punches = atomic_load(&w.punches);
	if (atomic_load(&w.punch_err))
		fail(&w, "worker %d: PUNCH_HOLE failed: %s", id, strerror(-atomic_load(&w.punch_err)));
	res->secs = esx_now() - start;
	res->done = 1;
	if (running)
		return 1;	/* exit; the kernel frees the rest */
	vmm_destroy(w.vm);
	if (!w.vm && w.ram)
		munmap(w.ram, OBJ_PAGES * ESX_PAGE);
	if (w.fd >= 0)
		close(w.fd);
	return res->failed ? 1 : 0;
}

/* ---- the parent --------------------------------------------------------- */

/* Prints one line of text file @path after @what, or nothing. */
static void show_file(const char *what, const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	fprintf(stderr, "  %s: %s%s", what, buf, buf[n - 1] == '\n' ? "" : "\n");
}

/* What a worker that stopped making progress is doing, for the log. */
static void show_stalled(int i, pid_t pid, double secs)
{
	static const char *const counters[] = { "used_pages", "free_pages", "faults",
						"fault_waits", "fault_wait_timeouts" };
	char path[320];
	struct dirent *e;
	size_t k;
	DIR *d;

	fprintf(stderr, "worker %d (pid %d) made no progress for %.0f s:\n", i, (int)pid, secs);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fprintf(stderr, " thread %s\n", e->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		show_file("stat", path);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)pid, e->d_name);
		show_file("wchan", path);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", (int)pid, e->d_name);
		show_file("stack", path);
	}
	if (d)
		closedir(d);
	for (k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
		snprintf(path, sizeof(path), ESX_SYSFS "%s", counters[k]);
		show_file(counters[k], path);
	}
}

static void cleanup(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < NR_WORKERS; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
	if (saved_pool > 0 && esx_sysfs_write_long("pool_pages", saved_pool))
		fprintf(stderr, "esxmem_stress: could not restore pool_pages\n");
	if (saved_wait >= 0 && esx_sysfs_write_long("fault_wait_ms", saved_wait))
		fprintf(stderr, "esxmem_stress: could not restore fault_wait_ms\n");
	if (esx_sysfs_write("reclaim/enabled", "1"))
		fprintf(stderr, "esxmem_stress: could not restore reclaim/enabled\n");
}

int main(void)
{
	uint64_t written = 0, verified = 0, corrupted = 0, punches = 0, waits_obj = 0;
	uint64_t progress[NR_WORKERS] = { 0 };
	double last_change[NR_WORKERS];
	bool stall_shown[NR_WORKERS] = { false };
	long used0, waits0, timeouts0, waits, pool, orig_pool;
	int i, status, running;
	double start, secs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	saved_pool = esx_sysfs_long("pool_pages");
	saved_wait = esx_sysfs_long("fault_wait_ms");
	atexit(cleanup);
	/* This is the test of an exhausted pool: reclamation would refill it. */
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "0"));

	results = mmap(NULL, NR_WORKERS * sizeof(*results), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(results != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(results, 0, NR_WORKERS * sizeof(*results));

	used0 = esx_pool_settled(60);
	pool = used0 + (long)(POOL_MIB << 20) / (long)ESX_PAGE;
	REQUIRE(pool <= saved_pool, "the pool (%ld pages) is smaller than this test needs (%ld)",
		saved_pool, pool);
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", pool));
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", WAIT_MS));
	waits0 = esx_sysfs_long("fault_waits");
	timeouts0 = esx_sysfs_long("fault_wait_timeouts");
	printf("stress: %d workers (%d with a KVM guest) of %lu MiB each, pool of %lu MiB\n",
	       NR_WORKERS, NR_GUESTS, OBJ_PAGES * ESX_PAGE >> 20, POOL_MIB);

	start = esx_now();
	for (i = 0; i < NR_WORKERS; i++) {
		pids[i] = fork();
		REQUIRE(pids[i] >= 0, "fork: %s", strerror(errno));
		if (pids[i] == 0)
			_exit(worker_main(i, &results[i], start));
	}

	for (i = 0; i < NR_WORKERS; i++)
		last_change[i] = start;
	for (running = NR_WORKERS; running > 0;) {
		for (i = 0; i < NR_WORKERS; i++) {
			struct result *r = &results[i];
			uint64_t p = r->written + r->verified + r->guest_ops;

			if (pids[i] <= 0 || r->done)
				continue;
			if (p != progress[i]) {
				progress[i] = p;
				last_change[i] = esx_now();
			} else if (esx_now() - last_change[i] > STALL_SECS && !stall_shown[i]) {
				show_stalled(i, pids[i], esx_now() - last_change[i]);
				stall_shown[i] = true;
			}
		}
		for (i = 0; i < NR_WORKERS; i++) {
			if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			running--;
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "worker %d failed (status 0x%x): %s", i, status,
			      results[i].why[0] ? results[i].why :
			      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
		}
		if (running && esx_now() - start > END_SECS) {
			CHECK(0, "%d workers still running after %.0f s", running, END_SECS);
			break;
		}
		usleep(100000);
	}
	cleanup();	/* kills what is left, restores the knobs */
	orig_pool = saved_pool;
	saved_pool = saved_wait = -1;
	secs = esx_now() - start;

	waits = esx_sysfs_long("fault_waits") - waits0;
	for (i = 0; i < NR_WORKERS; i++) {
		struct result *r = &results[i];

		printf("worker %d (%s): %" PRIu64 " written, %" PRIu64 " verified, %" PRIu64
		       " corrupted, %" PRIu64 " punches, %" PRIu64 " fault waits, %" PRIu64
		       " guest runs, first write %.1f s, %.1f s\n",
		       i, i < NR_GUESTS ? "guest" : "cpu", r->written, r->verified, r->corrupted,
		       r->punches, r->fault_waits, r->guest_ops, r->fill_secs, r->secs);
		CHECK(r->done, "worker %d did not finish", i);
		written += r->written;
		verified += r->verified;
		corrupted += r->corrupted;
		punches += r->punches;
		waits_obj += r->fault_waits;
	}
	printf("stress: %" PRIu64 " pages written, %" PRIu64 " verified, %" PRIu64
	       " corrupted, %ld fault waits, %" PRIu64 " punches, %.0fs\n",
	       written, verified, corrupted, waits, punches, secs);

	CHECK(corrupted == 0, "%" PRIu64 " corrupted pages", corrupted);
	CHECK(waits > 0, "no fault waited for the pool: the test did not exhaust it");
	CHECK((uint64_t)waits >= waits_obj, "global fault_waits (%ld) below the objects' (%" PRIu64 ")",
	      waits, waits_obj);
	CHECK(esx_sysfs_long("fault_wait_timeouts") == timeouts0, "%ld fault waits timed out",
	      esx_sysfs_long("fault_wait_timeouts") - timeouts0);
	CHECK(written >= NR_WORKERS * OBJ_PAGES, "only %" PRIu64 " pages written", written);
	CHECK(esx_sysfs_long("used_pages") == used0, "%ld pages left charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	CHECK(esx_sysfs_long("pool_pages") == orig_pool, "pool_pages not restored");
	return vmtest_done("esxmem_stress");
}
