// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_soak: every mechanism of esxmem.ko at once, for minutes, with
 * every page read checked against a model. Run by "make soak" in the test
 * host (not part of "make check"); the run time is $SOAK_SECS (default 300).
 *
 * Built on tests/vm/esxmem_stress.c: the same per-page model (per page the
 * seed of the vmm_pattern() written there, or 0 for "reads zero"), kept
 * per chunk of 64 pages under a lock, so every check is exact. Meanwhile:
 *
 *  - sharing: the scanner at a high rate, every VM in one sharing domain,
 *    and half of all fills use one of a few common seeds, so equal pages
 *    meet in different VMs (merges) and are written again (copy-on-write
 *    breaks); the first SHARED_CHUNKS chunks of each VM hold the same
 *    content in every VM and are written rarely, so that they stay equal
 *    long enough to be merged; holes and balloons make zero pages;
 *  - idle sampling: a one-second period and many pages per period;
 *  - compression and swap: each VM has a swap file on a tmpfs, and the
 *    parent moves every VM's swap target below its consumption, and back,
 *    every second;
 *  - ballooning: the two guest workers' objects are attached to their
 *    tiny KVM guests, and a thread balloons and releases guest frames
 *    (a ballooned page reads zero: the model says so);
 *  - holes: ESXMEM_IOC_PUNCH_HOLE on /dev/esxmem objects, fallocate() on
 *    esxmemfs files, whole ranges and partial pages (checked at once:
 *    zeros inside the hole, the pattern around it, then written again);
 *  - page holders: vmsplice() of guest pages into a pipe, read back after
 *    a while (the pages are not written while held, so the pipe must
 *    deliver their content; a balloon of such a page is tried meanwhile
 *    and must be refused with EBUSY unless the page is not the VM's own);
 *    O_DIRECT reads and writes between guest memory and a file on ext2
 *    on a RAM disk (plain pread/pwrite if O_DIRECT is refused);
 *  - VM churn: a worker creates objects, alternately on /dev/esxmem and
 *    on esxmemfs (now and then on a mount of its own, unmounted once its
 *    object is gone), fills, checks, punches and destroys them.
 *
 * Workers 0 and 1 drive a KVM guest each (fills and checks from inside
 * the guest and through the host mapping), workers 2 and 3 work from the
 * CPU on esxmemfs files; worker 4 is the churn. Prints
 *   soak: <verified> pages verified, <wrong> wrong, <warnings> kernel warnings, <secs> s
 *   soak: mechanisms: merges N, cow breaks N, ...
 * and fails if a page is wrong, a worker failed, fewer than 10^7 pages
 * per 300 s were verified, a mechanism never ran, or the kernel warned.
 */
#include "esxtest.h"
#include "pagemodel.h"
#include "vmtest.h"
#include "vmm/vmm.h"
#include <libesxmem/libesxmem.h>

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define NR_GUESTS	2		/* workers [0, NR_GUESTS) drive a guest */
#define NR_WORKERS	4		/* ... then CPU workers on esxmemfs */
#define CHURN		NR_WORKERS	/* the churn worker's index */
#define NR_PROCS	(NR_WORKERS + 1)
#define OBJ_PAGES	32768UL		/* 128 MiB per worker */
#define CHURN_PAGES	4096UL		/* 16 MiB per churned VM */
#define CHUNK_PAGES	64UL
#define MAX_PAGES	OBJ_PAGES
#define DOMAIN		7		/* the sharing domain of every VM */
#define NR_COMMON	4		/* common seeds, for equal pages */
#define SHARED_CHUNKS	64		/* read-mostly chunks, equal in all VMs */
#define HOLD_PAGES	16UL		/* pages per pipe hold or O_DIRECT I/O */
#define DIO_SLOTS	64UL		/* O_DIRECT file: slots of HOLD_PAGES */
#define BALLOON_RING	64
#define MAX_REPORTS	5
#define FLOOR_PER_300S	10000000.0	/* pages verified per 300 s at least */

#define CODE_GPA	0x0UL
#define CODE_SIZE	0x10000UL
#define RAM_GPA		0x10000000UL

#define SWAPDIR		"/tmp/soak-swap"
#define FSDIR		"/tmp/soak-fs"
#define CHURNFS		"/tmp/soak-churnfs"
#define EXTDIR		"/tmp/soak-ext"
#define RAMDISK		"/dev/ram0"

static const uint32_t common_seeds[NR_COMMON] = {
	0x5eed0001, 0x5eed0002, 0x5eed0003, 0x5eed0004
};

/* What a worker reports to the parent, in memory shared with it. */
struct result {
	uint32_t vm_id;			/* for the swap-target controller */
	uint64_t vm_pages;
	int ready;
	uint64_t written, verified, wrong;
	uint64_t holes, partial_holes, guest_ops;
	uint64_t balloon_pages, balloon_releases, balloon_busy, held_balloons;
	uint64_t pipe_holds, pipe_pages, dio_ios, vms_created;
	/* Counters of the worker's VMs, read before they went. */
	uint64_t swap_outs, swap_ins, compress_outs, compress_ins, sample_faults;
	double secs;
	int done, failed;
	char why[256];
};

struct chunk {
	pthread_mutex_t lock;
	uint32_t seed[CHUNK_PAGES];	/* per page; 0: reads zero */
};

struct dio_slot {
	bool used;
	uint64_t first;			/* object page it came from */
	unsigned int n;
	uint32_t seed[HOLD_PAGES];
};

struct worker {
	int id;
	int fd;				/* the object */
	bool on_fs;			/* an esxmemfs file: fallocate() */
	char path[128];			/* its name there, or "" */
	uint64_t pages, nr_chunks;
	uint8_t *ram;			/* host view of the object */
	struct vmm *vm;			/* NULL for CPU workers */
	struct chunk *chunks;
	struct result *res;
	uint64_t rng;
	double end;			/* random fills and checks until then */
	atomic_bool stop;
	pthread_mutex_t res_lock;	/* counters in res, across threads */
	int reports;
	int swap_fd;
	int dio_fd;
	bool dio_direct;
	struct dio_slot dio[DIO_SLOTS];
};

static struct result *results;
static pid_t main_pid;
static pid_t pids[NR_PROCS];
static double run_secs = 300;
static bool dio_ok;			/* O_DIRECT works on EXTDIR */
static char saved[16][16];
static const char *const knobs[][2] = {
	{ "share/enabled", "1" },
	{ "share/isolate_vms", "0" },
	{ "share/pages_per_sec", "100000" },
	{ "share/vm_pages_per_sec", "50000" },
	{ "sample/enabled", "1" },
	{ "sample/period_secs", "1" },
	{ "sample/pages", "5000" },
	{ "reclaim/enabled", "1" },
	{ "reclaim/compress_percent", "30" },
};
#define NR_KNOBS (sizeof(knobs) / sizeof(knobs[0]))

/* A fresh seed, or half of the time a common one (equal pages). */
static uint32_t new_seed(uint64_t *s)
{
	if (pm_rnd_below(s, 2))
		return common_seeds[pm_rnd_below(s, NR_COMMON)];
	return pm_fresh_seed(s);
}

/*
 * The seed of a fill of chunk @ci: in the first SHARED_CHUNKS, the same in
 * every VM, so that these pages stay equal long enough to be merged.
 */
static uint32_t chunk_seed(size_t ci, uint64_t *s)
{
	return ci < SHARED_CHUNKS ? common_seeds[ci % NR_COMMON] : new_seed(s);
}

static uint64_t page_gpa(uint64_t page)
{
	return RAM_GPA + page * ESX_PAGE;
}

__attribute__((format(printf, 2, 3)))
static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->res_lock);
	if (!w->res->failed) {
		va_start(ap, fmt);
		vsnprintf(w->res->why, sizeof(w->res->why), fmt, ap);
		va_end(ap);
		fprintf(stderr, "worker %d: %s\n", w->id, w->res->why);
	}
	w->res->failed = 1;
	pthread_mutex_unlock(&w->res_lock);
}

static void count(struct worker *w, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&w->res_lock);
	*field += n;
	pthread_mutex_unlock(&w->res_lock);
}

static void rand_range(uint64_t *rng, uint64_t max, size_t *a, size_t *b)
{
	if (max == CHUNK_PAGES && pm_rnd_below(rng, 2)) {
		*a = 0;
		*b = CHUNK_PAGES;
		return;
	}
	*a = pm_rnd_below(rng, CHUNK_PAGES);
	*b = *a + 1 + pm_rnd_below(rng, (CHUNK_PAGES - *a < max ? CHUNK_PAGES - *a : max));
}

/* ---- filling and checking ---------------------------------------------- */

static int guest_call(struct worker *w, enum vmm_routine r, struct vmm_regs *regs)
{
	int ret = vmm_call(w->vm, r, regs);

	if (ret)
		fail(w, "guest routine %d failed: %d (%s)", r, ret, vmm_last_error(w->vm));
	count(w, &w->res->guest_ops, 1);
	return ret;
}

/* Fills pages [a, b) of chunk @ci with a fresh pattern; under its lock. */
static int fill(struct worker *w, size_t ci, size_t a, size_t b, bool by_guest)
{
	struct chunk *c = &w->chunks[ci];
	uint64_t page = ci * CHUNK_PAGES + a;
	uint32_t seed = chunk_seed(ci, &w->rng);
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
	count(w, &w->res->written, b - a);
	return 0;
}

/* Counts and describes a wrong page whose content is at @p. */
static void wrong(struct worker *w, uint64_t page, uint32_t seed, const void *p,
		  const char *who)
{
	const uint32_t *q = p;
	size_t first, bad;

	count(w, &w->res->wrong, 1);
	if (w->reports++ >= MAX_REPORTS)
		return;
	bad = pm_wrong_dwords(p, page_gpa(page), seed, &first);
	fprintf(stderr, "worker %d: page %" PRIu64 " wrong, found by the %s: expected %s "
		"(seed 0x%08" PRIx32 "), %zu wrong dwords, first at +0x%zx: 0x%08" PRIx32 "\n",
		w->id, page, who, seed ? "the pattern" : "zeros", seed, bad, 4 * first,
		q[first]);
}

static bool content_ok(const void *p, uint64_t page, uint32_t seed)
{
	return pm_page_ok(p, page_gpa(page), seed);
}

static int64_t guest_look(void *ctx, uint64_t page, uint64_t n, uint32_t seed)
{
	struct worker *w = ctx;
	struct vmm_regs r;

	if (guest_call(w, pm_guest_look(&r, page_gpa(page), n, seed), &r))
		return -1;
	return r.eax;
}

/* Checks pages [a, b) of chunk @ci against the model; under its lock. */
static int verify_range(struct worker *w, size_t ci, size_t a0, size_t b0, bool by_guest,
			bool by_host)
{
	struct chunk *c = &w->chunks[ci];
	uint64_t base = ci * CHUNK_PAGES;
	size_t a, b, i;

	for (a = a0; a < b0; a = b) {
		uint32_t seed = c->seed[a];
		bool guest_bad[CHUNK_PAGES] = { false };

		for (b = a + 1; b < b0 && c->seed[b] == seed; b++)
			;
		if (by_guest && pm_guest_find_wrong(guest_look, w, base + a, b - a, seed,
						    guest_bad + a))
			return -1;
		for (i = a; i < b; i++) {
			const uint8_t *p = w->ram + (base + i) * ESX_PAGE;

			if (guest_bad[i] || (by_host && !content_ok(p, base + i, seed)))
				wrong(w, base + i, seed, p, guest_bad[i] ? "guest" : "host");
		}
		count(w, &w->res->verified, b - a);
	}
	return 0;
}

static int verify(struct worker *w, size_t ci, bool by_guest, bool by_host)
{
	return verify_range(w, ci, 0, CHUNK_PAGES, by_guest, by_host);
}

/* ---- holes --------------------------------------------------------------- */

static int punch(struct worker *w, uint64_t offset, uint64_t len)
{
	if (w->on_fs)
		return fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (off_t)offset, (off_t)len) ? -errno : 0;
	return esx_punch(w->fd, (off_t)offset, (off_t)len);
}

/*
 * A hole in one page of chunk @ci, from byte @x to @y: zeros there, the
 * pattern around; checked at once, then the page is written again.
 */
static void punch_partial(struct worker *w, size_t ci, size_t i, uint64_t *rng)
{
	struct chunk *c = &w->chunks[ci];
	uint64_t page = ci * CHUNK_PAGES + i;
	size_t x = 1 + pm_rnd_below(rng, ESX_PAGE - 1), y = x + 1 + pm_rnd_below(rng, ESX_PAGE - x);
	const uint32_t *p = (const uint32_t *)(w->ram + page * ESX_PAGE);
	uint32_t seed = c->seed[i];
	size_t k;
	bool bad = false;
	int err;

	x &= ~3UL;
	y = (y + 3) & ~3UL;
	if (x == y)
		y = x + 4;
	if (y > ESX_PAGE) {
		y = ESX_PAGE;
		x = y - 4;
	}
	err = punch(w, page * ESX_PAGE + x, y - x);
	if (err) {
		fail(w, "partial hole at page %" PRIu64 ": %s", page, strerror(-err));
		return;
	}
	for (k = 0; k < ESX_PAGE / 4; k++) {
		uint32_t want = (k * 4 >= x && k * 4 < y) || !seed ? 0 :
				vmm_pattern(page_gpa(page) + 4 * k, seed);

		bad |= p[k] != want;
	}
	if (bad) {
		fprintf(stderr, "worker %d: partial hole [0x%zx, 0x%zx) in page %" PRIu64 ":\n",
			w->id, x, y, page);
		wrong(w, page, seed, p, "partial hole check");
	}
	count(w, &w->res->verified, 1);
	count(w, &w->res->partial_holes, 1);
	seed = chunk_seed(ci, rng);
	vmm_pattern_fill(w->ram + page * ESX_PAGE, page_gpa(page), ESX_PAGE, seed);
	c->seed[i] = seed;
}

static void *puncher(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->rng ^ 0x9e3779b97f4a7c15ULL;

	while (!atomic_load(&w->stop) && !w->res->failed) {
		size_t ci = pm_rnd_below(&rng, w->nr_chunks), a, b, i;
		struct chunk *c = &w->chunks[ci];
		int err;

		usleep(2000);
		if (pthread_mutex_trylock(&c->lock))
			continue;
		if (pm_rnd_below(&rng, 4) == 0) {
			punch_partial(w, ci, pm_rnd_below(&rng, CHUNK_PAGES), &rng);
		} else {
			rand_range(&rng, CHUNK_PAGES, &a, &b);
			err = punch(w, (ci * CHUNK_PAGES + a) * ESX_PAGE, (b - a) * ESX_PAGE);
			if (err)
				fail(w, "hole: %s", strerror(-err));
			for (i = a; i < b; i++)
				c->seed[i] = 0;
			count(w, &w->res->holes, 1);
		}
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/* ---- ballooning (guest workers) ------------------------------------------ */

static uint64_t gfn_of(uint64_t page)
{
	return (RAM_GPA / ESX_PAGE) + page;
}

static void *ballooner(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->rng ^ 0x6a09e667f3bcc908ULL;
	struct { size_t ci, a, b; } ring[BALLOON_RING];
	size_t head = 0, tail = 0;
	uint64_t gfns[CHUNK_PAGES];
	struct esxmem *nl;
	int err;

	err = esxmem_open(&nl);
	if (err) {
		fail(w, "esxmem_open: %s", esxmem_strerror(err));
		return NULL;
	}
	while (!atomic_load(&w->stop) && !w->res->failed) {
		size_t ci, a, b, i;
		bool release = head != tail && (head - tail == BALLOON_RING || pm_rnd_below(&rng, 2));

		usleep(3000);
		if (release) {
			ci = ring[tail % BALLOON_RING].ci;
			a = ring[tail % BALLOON_RING].a;
			b = ring[tail % BALLOON_RING].b;
		} else {
			ci = pm_rnd_below(&rng, w->nr_chunks);
			rand_range(&rng, CHUNK_PAGES, &a, &b);
		}
		if (pthread_mutex_trylock(&w->chunks[ci].lock))
			continue;
		for (i = a; i < b; i++)
			gfns[i - a] = gfn_of(ci * CHUNK_PAGES + i);
		err = esxmem_vm_balloon(nl, w->res->vm_id, gfns, b - a, release);
		if (release) {
			if (err)
				fail(w, "balloon release: %s", esxmem_strerror(err));
			tail++;
			count(w, &w->res->balloon_releases, b - a);
		} else if (!err) {
			/* The guest's balloon has them: they read zero. */
			for (i = a; i < b; i++)
				w->chunks[ci].seed[i] = 0;
			ring[head % BALLOON_RING].ci = ci;
			ring[head % BALLOON_RING].a = a;
			ring[head % BALLOON_RING].b = b;
			head++;
			count(w, &w->res->balloon_pages, b - a);
		} else if (err == -EBUSY) {
			/* Someone holds a page for a moment (a fault, reclaim). */
			count(w, &w->res->balloon_busy, 1);
		} else {
			fail(w, "balloon: %s", esxmem_strerror(err));
		}
		pthread_mutex_unlock(&w->chunks[ci].lock);
	}
	esxmem_close(nl);
	return NULL;
}

/* ---- page holders: pipes ---------------------------------------------------- */

static void *holder(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->rng ^ 0xbb67ae8584caa73bULL;
	uint8_t *buf = malloc(HOLD_PAGES * ESX_PAGE);
	struct esxmem *nl = NULL;
	int p[2], err;

	if (!buf || pipe2(p, O_CLOEXEC) || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		fail(w, "pipe: %s", strerror(errno));
		free(buf);
		return NULL;
	}
	if (w->vm && (err = esxmem_open(&nl))) {
		fail(w, "esxmem_open: %s", esxmem_strerror(err));
		nl = NULL;
	}
	while (!atomic_load(&w->stop) && !w->res->failed) {
		size_t ci = pm_rnd_below(&rng, w->nr_chunks), a, b, i, got;
		struct chunk *c = &w->chunks[ci];
		uint32_t seeds[HOLD_PAGES];
		uint64_t page;
		struct iovec iov;
		ssize_t n;

		usleep(5000);
		if (pthread_mutex_trylock(&c->lock))
			continue;
		rand_range(&rng, HOLD_PAGES, &a, &b);
		page = ci * CHUNK_PAGES + a;
		memcpy(seeds, &c->seed[a], (b - a) * sizeof(seeds[0]));
		iov = (struct iovec){ w->ram + page * ESX_PAGE, (b - a) * ESX_PAGE };
		n = vmsplice(p[1], &iov, 1, 0);
		if (n != (ssize_t)((b - a) * ESX_PAGE)) {
			fail(w, "vmsplice of %zu pages: %zd (%s)", b - a, n, strerror(errno));
			pthread_mutex_unlock(&c->lock);
			break;
		}
		/*
		 * While the pipe holds them, a balloon of one must be refused,
		 * unless its page is not the VM's own (the zero page, a shared
		 * frame): then it goes and reads zero, and the pipe keeps the
		 * old content all the same.
		 */
		if (nl) {
			i = a + pm_rnd_below(&rng, b - a);
			uint64_t gfn = gfn_of(ci * CHUNK_PAGES + i);

			err = esxmem_vm_balloon(nl, w->res->vm_id, &gfn, 1, false);
			if (!err) {
				c->seed[i] = 0;
				count(w, &w->res->balloon_pages, 1);
				err = esxmem_vm_balloon(nl, w->res->vm_id, &gfn, 1, true);
				if (err)
					fail(w, "balloon release: %s", esxmem_strerror(err));
			} else if (err == -EBUSY) {
				count(w, &w->res->held_balloons, 1);
			} else {
				fail(w, "balloon of a held page: %s", esxmem_strerror(err));
			}
		}
		/* Held while sharing, sampling and reclaim go on. */
		usleep(10000 + (long)pm_rnd_below(&rng, 40000));
		for (got = 0; got < (b - a) * ESX_PAGE; got += (size_t)n) {
			n = read(p[0], buf + got, (b - a) * ESX_PAGE - got);
			if (n <= 0) {
				fail(w, "read from the pipe: %s", n ? strerror(errno) : "EOF");
				break;
			}
		}
		for (i = 0; got == (b - a) * ESX_PAGE && i < b - a; i++)
			if (!content_ok(buf + i * ESX_PAGE, page + i, seeds[i]))
				wrong(w, page + i, seeds[i], buf + i * ESX_PAGE, "pipe");
		count(w, &w->res->verified, b - a);
		count(w, &w->res->pipe_holds, 1);
		count(w, &w->res->pipe_pages, b - a);
		verify_range(w, ci, a, b, false, true);
		pthread_mutex_unlock(&c->lock);
	}
	if (nl)
		esxmem_close(nl);
	close(p[0]);
	close(p[1]);
	free(buf);
	return NULL;
}

/* ---- page holders: O_DIRECT ---------------------------------------------------- */

static void *dio(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->rng ^ 0x3c6ef372fe94f82bULL;
	uint8_t *buf = NULL;

	if (posix_memalign((void **)&buf, ESX_PAGE, HOLD_PAGES * ESX_PAGE)) {
		fail(w, "out of memory");
		return NULL;
	}
	while (!atomic_load(&w->stop) && !w->res->failed) {
		size_t s = pm_rnd_below(&rng, DIO_SLOTS), ci, a, b, i, len;
		struct dio_slot *d = &w->dio[s];
		off_t off = (off_t)(s * HOLD_PAGES * ESX_PAGE);
		int op = (int)pm_rnd_below(&rng, 3);
		uint64_t page;
		ssize_t n;

		usleep(3000);
		if (!d->used)
			op = 0;
		if (op == 2) {
			/* The file's content, into a buffer of our own. */
			len = d->n * ESX_PAGE;
			n = pread(w->dio_fd, buf, len, off);
			if (n != (ssize_t)len) {
				fail(w, "O_DIRECT read: %zd (%s)", n, strerror(errno));
				break;
			}
			for (i = 0; i < d->n; i++)
				if (!content_ok(buf + i * ESX_PAGE, d->first + i, d->seed[i]))
					wrong(w, d->first + i, d->seed[i], buf + i * ESX_PAGE,
					      "O_DIRECT file check");
			count(w, &w->res->verified, d->n);
			count(w, &w->res->dio_ios, 1);
			continue;
		}
		if (op == 0) {
			ci = pm_rnd_below(&rng, w->nr_chunks);
			rand_range(&rng, HOLD_PAGES, &a, &b);
		} else {
			ci = d->first / CHUNK_PAGES;
			a = d->first % CHUNK_PAGES;
			b = a + d->n;
		}
		if (pthread_mutex_trylock(&w->chunks[ci].lock))
			continue;
		page = ci * CHUNK_PAGES + a;
		len = (b - a) * ESX_PAGE;
		if (op == 0) {
			/* Guest memory out to the file. */
			n = pwrite(w->dio_fd, w->ram + page * ESX_PAGE, len, off);
			if (n == (ssize_t)len) {
				d->used = true;
				d->first = page;
				d->n = (unsigned int)(b - a);
				memcpy(d->seed, &w->chunks[ci].seed[a], (b - a) * sizeof(d->seed[0]));
			}
		} else {
			/* Back into the pages it came from. */
			n = pread(w->dio_fd, w->ram + page * ESX_PAGE, len, off);
			if (n == (ssize_t)len) {
				memcpy(&w->chunks[ci].seed[a], d->seed, (b - a) * sizeof(d->seed[0]));
				verify_range(w, ci, a, b, false, true);
			}
		}
		pthread_mutex_unlock(&w->chunks[ci].lock);
		if (n != (ssize_t)len) {
			fail(w, "O_DIRECT %s of %zu pages: %zd (%s)", op ? "read" : "write",
			     b - a, n, strerror(errno));
			break;
		}
		count(w, &w->res->dio_ios, 1);
	}
	free(buf);
	return NULL;
}

/* ---- setting a VM up ---------------------------------------------------------- */

/* A preallocated swap file of @pages on SWAPDIR, given to VM @id. */
static int give_swap(struct worker *w, struct esxmem *nl, const char *name, uint64_t pages)
{
	char path[160];
	int fd, err;

	snprintf(path, sizeof(path), SWAPDIR "/%s", name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fallocate(fd, 0, 0, (off_t)(pages * ESX_PAGE))) {
		fail(w, "swap file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	unlink(path);		/* the module keeps its own reference */
	err = esxmem_vm_set_swap(nl, w->res->vm_id, fd);
	close(fd);
	if (err) {
		fail(w, "esxmem_vm_set_swap: %s (%s)", esxmem_strerror(err), esxmem_errmsg(nl));
		return -1;
	}
	return 0;
}

static int set_domain(struct worker *w, struct esxmem *nl, uint32_t id)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = DOMAIN };
	int err = esxmem_vm_set(nl, id, &s);

	if (err)
		fail(w, "esxmem_vm_set domain: %s", esxmem_strerror(err));
	return err;
}

/* The object: /dev/esxmem or a file on @fsdir; its size fixed; mapped. */
static int make_object(struct worker *w, const char *fsdir, bool guest, struct esxmem *nl)
{
	uint64_t size = w->pages * ESX_PAGE;

	w->on_fs = fsdir != NULL;
	if (fsdir) {
		snprintf(w->path, sizeof(w->path), "%s/vm%d-%" PRIu64, fsdir, w->id,
			 w->res->vms_created);
		w->fd = open(w->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd < 0 || ftruncate(w->fd, (off_t)size)) {
			fail(w, "esxmemfs file %s: %s", w->path, strerror(errno));
			return -1;
		}
	} else {
		w->path[0] = 0;
		w->fd = esx_open();
		if (ioctl(w->fd, ESXMEM_IOC_SET_SIZE, &size)) {
			fail(w, "SET_SIZE: %s", strerror(errno));
			return -1;
		}
	}
	w->res->vm_id = esx_stats(w->fd).id;
	w->res->vm_pages = w->pages;
	count(w, &w->res->vms_created, 1);
	if (set_domain(w, nl, w->res->vm_id))
		return -1;
	if (guest) {
		int ret = vmm_create(&w->vm);

		if (!ret)
			ret = vmm_add_slot(w->vm, 0, CODE_GPA, CODE_SIZE, -1, 0);
		if (!ret)
			ret = vmm_add_slot(w->vm, 1, RAM_GPA, size, w->fd, 0);
		if (!ret)
			ret = vmm_load_guest(w->vm, CODE_GPA);
		if (ret) {
			fail(w, "setting up the guest: %d", ret);
			return -1;
		}
		w->ram = vmm_gpa_range(w->vm, RAM_GPA, size);
		ret = esxmem_kvm_attach(nl, w->res->vm_id, vmm_vm_fd(w->vm));
		if (ret) {
			fail(w, "esxmem_kvm_attach: %s", esxmem_strerror(ret));
			return -1;
		}
	} else {
		w->ram = esx_map(w->fd, w->pages, 0);
	}
	if (!w->ram) {
		fail(w, "no mapping of the object: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Adds the VM's counters to the worker's, before it goes. */
static void collect(struct worker *w, struct esxmem *nl)
{
	struct esxmem_vm_info *vi;
	struct esxmem_vm_stats st = esx_stats(w->fd);
	int err = esxmem_vm_get(nl, w->res->vm_id, &vi);

	if (err) {
		fail(w, "esxmem_vm_get: %s", esxmem_strerror(err));
		return;
	}
	pthread_mutex_lock(&w->res_lock);
	w->res->swap_outs += esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS);
	w->res->swap_ins += esxmem_vm_value(vi, ESXMEM_VM_SWAP_INS);
	w->res->compress_outs += esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS);
	w->res->compress_ins += esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_INS);
	w->res->sample_faults += st.sample_faults;
	if (esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS))
		fprintf(stderr, "worker %d: %" PRIu64 " swap errors\n", w->id, esxmem_vm_value(vi, ESXMEM_VM_SWAP_ERRORS));
	pthread_mutex_unlock(&w->res_lock);
	esxmem_vm_info_free(vi);
}

static void destroy_object(struct worker *w)
{
	if (w->vm) {
		vmm_destroy(w->vm);
		w->vm = NULL;
	} else if (w->ram) {
		munmap(w->ram, w->pages * ESX_PAGE);
	}
	w->ram = NULL;
	if (w->path[0] && unlink(w->path))
		fail(w, "unlink %s: %s", w->path, strerror(errno));
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

static bool vm_gone(struct esxmem *nl, uint32_t id)
{
	struct esxmem_vm_info *vi;
	int err = esxmem_vm_get(nl, id, &vi);

	if (!err)
		esxmem_vm_info_free(vi);
	return err == -ENOENT;
}

static int alloc_chunks(struct worker *w)
{
	size_t i;

	w->nr_chunks = w->pages / CHUNK_PAGES;
	w->chunks = calloc(w->nr_chunks, sizeof(*w->chunks));
	if (!w->chunks) {
		fail(w, "out of memory");
		return -1;
	}
	for (i = 0; i < w->nr_chunks; i++)
		pthread_mutex_init(&w->chunks[i].lock, NULL);
	return 0;
}

/* ---- a long-lived worker ------------------------------------------------------ */

static void fill_all(struct worker *w)
{
	bool guest = w->vm != NULL;
	size_t i;

	for (i = 0; i < w->nr_chunks && !w->res->failed; i++) {
		pthread_mutex_lock(&w->chunks[i].lock);
		fill(w, i, 0, CHUNK_PAGES, guest && pm_rnd_below(&w->rng, 2));
		pthread_mutex_unlock(&w->chunks[i].lock);
	}
}

static void random_work(struct worker *w)
{
	bool guest = w->vm != NULL;

	while (esx_now() < w->end && !w->res->failed) {
		/* The guest is slow (nested, under TCG): a quarter of the work. */
		bool g = guest && pm_rnd_below(&w->rng, 4) == 0;
		size_t ci = pm_rnd_below(&w->rng, w->nr_chunks), a, b;

		pthread_mutex_lock(&w->chunks[ci].lock);
		/* Mostly checks; the shared chunks are rarely written. */
		if (pm_rnd_below(&w->rng, 5) == 0 &&
		    (ci >= SHARED_CHUNKS || pm_rnd_below(&w->rng, 16) == 0)) {
			rand_range(&w->rng, CHUNK_PAGES, &a, &b);
			fill(w, ci, a, b, g);
		} else {
			verify(w, ci, g, !g);
		}
		pthread_mutex_unlock(&w->chunks[ci].lock);
	}
}

static void final_check(struct worker *w)
{
	size_t ci;

	for (ci = 0; ci < w->nr_chunks && !w->res->failed; ci++) {
		pthread_mutex_lock(&w->chunks[ci].lock);
		verify(w, ci, w->vm != NULL, true);
		pthread_mutex_unlock(&w->chunks[ci].lock);
	}
}

static int worker_main(struct worker *w)
{
	pthread_t th[4];
	void *(*fn[4])(void *) = { puncher, holder, dio, ballooner };
	bool guest = w->id < NR_GUESTS;
	int nth = guest ? 4 : 3, started = 0, i, err;
	struct esxmem *nl;
	char name[32];

	err = esxmem_open(&nl);
	if (err) {
		fail(w, "esxmem_open: %s", esxmem_strerror(err));
		return 1;
	}
	w->pages = OBJ_PAGES;
	if (alloc_chunks(w) || make_object(w, guest ? NULL : FSDIR, guest, nl))
		return 1;
	snprintf(name, sizeof(name), "worker%d", w->id);
	if (give_swap(w, nl, name, w->pages))
		return 1;
	if (dio_ok) {
		char path[64];

		snprintf(path, sizeof(path), EXTDIR "/dio%d", w->id);
		w->dio_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
		if (w->dio_fd < 0 || ftruncate(w->dio_fd, (off_t)(DIO_SLOTS * HOLD_PAGES * ESX_PAGE))) {
			fail(w, "O_DIRECT file %s: %s", path, strerror(errno));
			return 1;
		}
	} else {
		w->dio_fd = open(SWAPDIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (w->dio_fd < 0) {
			fail(w, "a file for pread/pwrite: %s", strerror(errno));
			return 1;
		}
	}

	fill_all(w);
	w->res->ready = 1;	/* the controller may set swap targets now */
	for (i = 0; i < nth; i++) {
		err = pthread_create(&th[i], NULL, fn[i], w);
		if (err) {
			fail(w, "pthread_create: %s", strerror(err));
			break;
		}
		started++;
	}
	random_work(w);
	atomic_store(&w->stop, true);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	w->res->ready = 0;
	if (w->res->failed)
		return 1;	/* exit; the kernel frees the rest */
	final_check(w);
	collect(w, nl);
	destroy_object(w);
	close(w->dio_fd);
	esxmem_close(nl);
	return w->res->failed ? 1 : 0;
}

/* ---- the churn worker ------------------------------------------------------------ */

static int churn_one(struct worker *w, struct esxmem *nl, int cycle)
{
	const char *fsdir = NULL;
	bool own_mount = false, guest = cycle % 3 == 2;
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_SWAP_TARGET_PAGES };
	double until = esx_now() + 2 + (double)pm_rnd_below(&w->rng, 3);
	uint32_t id;
	char name[32];
	size_t ci, a, b, i;
	int ret = -1;

	if (cycle % 2) {
		fsdir = FSDIR;
		if (cycle % 4 == 3) {
			/* A mount of its own, gone with its one object. */
			if (mount("esxmem", CHURNFS, "esxmem", 0, NULL)) {
				fail(w, "mount esxmemfs: %s", strerror(errno));
				return -1;
			}
			fsdir = CHURNFS;
			own_mount = true;
		}
	}
	if (make_object(w, fsdir, guest, nl))
		goto out;
	id = w->res->vm_id;
	snprintf(name, sizeof(name), "churn%d", cycle);
	if (give_swap(w, nl, name, w->pages))
		goto out;
	s.swap_target_pages = w->pages / 4 + pm_rnd_below(&w->rng, w->pages / 2);
	if ((ret = esxmem_vm_set(nl, id, &s))) {
		fail(w, "swap target: %s", esxmem_strerror(ret));
		goto out;
	}
	ret = -1;
	for (ci = 0; ci < w->nr_chunks; ci++)
		fill(w, ci, 0, CHUNK_PAGES, guest && pm_rnd_below(&w->rng, 2));
	while (esx_now() < until && !w->res->failed) {
		ci = pm_rnd_below(&w->rng, w->nr_chunks);
		switch (pm_rnd_below(&w->rng, 4)) {
		case 0:
			rand_range(&w->rng, CHUNK_PAGES, &a, &b);
			fill(w, ci, a, b, guest && pm_rnd_below(&w->rng, 2));
			break;
		case 1:
			rand_range(&w->rng, CHUNK_PAGES, &a, &b);
			if ((ret = punch(w, (ci * CHUNK_PAGES + a) * ESX_PAGE, (b - a) * ESX_PAGE))) {
				fail(w, "hole: %s", strerror(-ret));
				goto out;
			}
			for (i = a; i < b; i++)
				w->chunks[ci].seed[i] = 0;
			count(w, &w->res->holes, 1);
			ret = -1;
			break;
		case 2:
			punch_partial(w, ci, pm_rnd_below(&w->rng, CHUNK_PAGES), &w->rng);
			break;
		default:
			verify(w, ci, guest && pm_rnd_below(&w->rng, 2), true);
		}
	}
	for (ci = 0; ci < w->nr_chunks; ci++)
		verify(w, ci, guest, true);
	collect(w, nl);
	ret = 0;
out:
	destroy_object(w);
	if (!ESX_WAIT_FOR(vm_gone(nl, w->res->vm_id), 60)) {
		fail(w, "VM %u outlives its last reference", w->res->vm_id);
		ret = -1;
		own_mount = false;	/* never unmount under a live object */
	}
	if (own_mount && umount(CHURNFS)) {
		fail(w, "umount %s: %s", CHURNFS, strerror(errno));
		ret = -1;
	}
	return ret;
}

static int churn_main(struct worker *w)
{
	struct esxmem *nl;
	int err, cycle;

	err = esxmem_open(&nl);
	if (err) {
		fail(w, "esxmem_open: %s", esxmem_strerror(err));
		return 1;
	}
	w->pages = CHURN_PAGES;
	if (alloc_chunks(w))
		return 1;
	for (cycle = 0; esx_now() < w->end && !w->res->failed; cycle++) {
		for (size_t i = 0; i < w->nr_chunks; i++)
			memset(w->chunks[i].seed, 0, sizeof(w->chunks[i].seed));
		if (churn_one(w, nl, cycle))
			break;
	}
	esxmem_close(nl);
	return w->res->failed ? 1 : 0;
}

static int proc_main(int id, double start)
{
	static struct worker w;

	w.id = id;
	w.res = &results[id];
	w.fd = -1;
	w.dio_fd = -1;
	w.end = start + run_secs;
	w.rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(esx_now() * 1e9) ^ ((uint64_t)id << 56);
	w.rng |= 1;
	pthread_mutex_init(&w.res_lock, NULL);
	atomic_init(&w.stop, false);
	/*
	 * The sharing scanner runs at the lowest priority (nice 19): the
	 * workers' threads take it too, or they would starve it.
	 */
	errno = 0;
	if (nice(19) == -1 && errno)
		fprintf(stderr, "worker %d: nice: %s\n", id, strerror(errno));
	if (id == CHURN)
		churn_main(&w);
	else
		worker_main(&w);
	w.res->done = 1;
	w.res->secs = esx_now() - start;
	return w.res->failed ? 1 : 0;
}

/* ---- the parent ------------------------------------------------------------------ */

static void restore(void)
{
	size_t i;
	int k;

	if (getpid() != main_pid)
		return;
	for (k = 0; k < NR_PROCS; k++) {
		if (pids[k] > 0) {
			kill(pids[k], SIGKILL);
			waitpid(pids[k], NULL, 0);
			pids[k] = 0;
		}
	}
	for (i = 0; i < NR_KNOBS; i++)
		if (saved[i][0] && esx_sysfs_write(knobs[i][0], saved[i]))
			fprintf(stderr, "could not restore %s\n", knobs[i][0]);
	umount(CHURNFS);
	umount(EXTDIR);
}

/* O_DIRECT wants a filesystem on a block device: ext2 on a RAM disk. */
static bool setup_ext(void)
{
	static const char *const mods[][2] = {
		{ "brd", "rd_nr=1 rd_size=65536" }, { "crc16", "" },
		{ "crc32c_generic", "" }, { "mbcache", "" }, { "jbd2", "" }, { "ext4", "" },
	};
	char path[128];
	int fd;

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/lib/modules/host/%s.ko", mods[i][0]);
		if (esx_load_module(path, mods[i][1]))
			return false;
	}
	if (!ESX_WAIT_FOR(!access(RAMDISK, F_OK), 10) ||
	    system("mke2fs -F " RAMDISK " > /dev/null 2>&1") ||
	    (mkdir(EXTDIR, 0700) && errno != EEXIST) ||
	    mount(RAMDISK, EXTDIR, "ext2", 0, NULL))
		return false;
	fd = open(EXTDIR "/probe", O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	unlink(EXTDIR "/probe");
	return true;
}

/* Kernel warnings so far: WARNING lines in the kernel log. */
static long kernel_warnings(void)
{
	FILE *f = popen("dmesg | grep -c 'WARNING:'", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static long tainted(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	long t = -1;

	if (f) {
		if (fscanf(f, "%ld", &t) != 1)
			t = -1;
		fclose(f);
	}
	return t;
}

/* Every second: each VM's swap target somewhere below its size, or none. */
static void move_swap_targets(struct esxmem *nl, uint64_t *rng)
{
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		struct result *r = &results[i];
		struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_SWAP_TARGET_PAGES };
		int err;

		if (!r->ready)
			continue;
		s.swap_target_pages = pm_rnd_below(rng, 6) == 0 ? ESXMEM_NO_TARGET :
				      r->vm_pages * 3 / 10 + pm_rnd_below(rng, r->vm_pages * 3 / 5);
		err = esxmem_vm_set(nl, r->vm_id, &s);
		CHECK(!err || err == -ENOENT, "swap target of VM %u: %s", r->vm_id,
		      esxmem_strerror(err));
	}
}

int main(void)
{
	const char *env = getenv("SOAK_SECS");
	struct result sum = { 0 };
	long merges0, zmerges0, scanned0, cows0, sfaults0, warn0, warnings, t;
	uint64_t rng = (uint64_t)(esx_now() * 1e9) | 1;
	double start, secs, floor;
	struct esxmem *nl;
	int i, status, running;
	size_t k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env && *env)
		run_secs = strtod(env, NULL);
	REQUIRE(run_secs >= 10, "SOAK_SECS=%s: at least 10", env);
	main_pid = getpid();
	atexit(restore);
	for (k = 0; k < NR_KNOBS; k++) {
		esx_sysfs_string(knobs[k][0], saved[k], sizeof(saved[k]));
		REQUIRE_OK(esx_sysfs_write(knobs[k][0], knobs[k][1]));
	}
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir: %s", strerror(errno));
	REQUIRE(!mkdir(FSDIR, 0700) || errno == EEXIST, "mkdir: %s", strerror(errno));
	REQUIRE(!mkdir(CHURNFS, 0700) || errno == EEXIST, "mkdir: %s", strerror(errno));
	REQUIRE(!mount("esxmem", FSDIR, "esxmem", 0, NULL), "mount esxmemfs: %s", strerror(errno));
	dio_ok = setup_ext();
	if (!dio_ok)
		printf("soak: no O_DIRECT filesystem (%s): plain pread/pwrite into guest memory\n",
		       EXTDIR);

	results = mmap(NULL, NR_PROCS * sizeof(*results), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(results != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(results, 0, NR_PROCS * sizeof(*results));

	merges0 = esx_sysfs_long("share/merges");
	zmerges0 = esx_sysfs_long("share/zero_merges");
	scanned0 = esx_sysfs_long("share/pages_scanned");
	cows0 = esx_sysfs_long("cow_breaks");
	sfaults0 = esx_sysfs_long("sample/faults");
	warn0 = kernel_warnings();
	printf("soak: %.0f s; %d workers of %lu MiB (%d with a KVM guest), VM churn of %lu MiB, "
	       "%s\n", run_secs, NR_WORKERS, OBJ_PAGES * ESX_PAGE >> 20, NR_GUESTS,
	       CHURN_PAGES * ESX_PAGE >> 20, dio_ok ? "O_DIRECT on ext2" : "no O_DIRECT");

	start = esx_now();
	for (i = 0; i < NR_PROCS; i++) {
		pids[i] = fork();
		REQUIRE(pids[i] >= 0, "fork: %s", strerror(errno));
		if (pids[i] == 0)
			_exit(proc_main(i, start));
	}
	for (running = NR_PROCS; running > 0;) {
		move_swap_targets(nl, &rng);
		for (i = 0; i < NR_PROCS; i++) {
			if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			running--;
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "worker %d failed (status 0x%x): %s", i, status,
			      results[i].why[0] ? results[i].why :
			      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
		}
		if (running && esx_now() - start > run_secs + 300 + run_secs / 2) {
			CHECK(0, "%d workers still running after %.0f s", running, esx_now() - start);
			break;
		}
		usleep(1000000);
	}
	restore();
	secs = esx_now() - start;
	CHECK(!umount(FSDIR), "umount %s: %s", FSDIR, strerror(errno));
	esxmem_close(nl);

	for (i = 0; i < NR_PROCS; i++) {
		struct result *r = &results[i];

		printf("soak: worker %d (%s): %" PRIu64 " written, %" PRIu64 " verified, %" PRIu64
		       " wrong, %" PRIu64 " holes + %" PRIu64 " partial, %" PRIu64 " ballooned (%"
		       PRIu64 " busy, %" PRIu64 " held refused), %" PRIu64 " pipe holds, %" PRIu64
		       " O_DIRECT, %" PRIu64 " VMs, %.0f s\n", i,
		       i == CHURN ? "churn" : i < NR_GUESTS ? "guest" : "cpu", r->written,
		       r->verified, r->wrong, r->holes, r->partial_holes, r->balloon_pages,
		       r->balloon_busy, r->held_balloons, r->pipe_holds, r->dio_ios,
		       r->vms_created, r->secs);
		CHECK(r->done, "worker %d did not finish", i);
		sum.verified += r->verified;
		sum.wrong += r->wrong;
		sum.holes += r->holes + r->partial_holes;
		sum.balloon_pages += r->balloon_pages;
		sum.pipe_holds += r->pipe_holds;
		sum.dio_ios += r->dio_ios;
		sum.vms_created += r->vms_created;
		sum.swap_outs += r->swap_outs;
		sum.swap_ins += r->swap_ins;
		sum.compress_outs += r->compress_outs;
		sum.compress_ins += r->compress_ins;
		sum.sample_faults += r->sample_faults;
	}
	warnings = kernel_warnings();
	warnings = warnings < 0 || warn0 < 0 ? -1 : warnings - warn0;
	t = tainted();
	printf("soak: %" PRIu64 " pages verified, %" PRIu64 " wrong, %ld kernel warnings, %.0f s\n",
	       sum.verified, sum.wrong, warnings, secs);
	printf("soak: mechanisms: pages scanned %ld, merges %ld (zero %ld), cow breaks %ld, sample faults %ld, "
	       "compress outs %" PRIu64 " ins %" PRIu64 ", swap outs %" PRIu64 " ins %" PRIu64
	       ", balloon pages %" PRIu64 ", holes %" PRIu64 ", VMs created %" PRIu64
	       ", pipe holds %" PRIu64 ", %s I/Os %" PRIu64 "\n",
	       esx_sysfs_long("share/pages_scanned") - scanned0,
	       esx_sysfs_long("share/merges") - merges0,
	       esx_sysfs_long("share/zero_merges") - zmerges0,
	       esx_sysfs_long("cow_breaks") - cows0, esx_sysfs_long("sample/faults") - sfaults0,
	       sum.compress_outs, sum.compress_ins, sum.swap_outs, sum.swap_ins,
	       sum.balloon_pages, sum.holes, sum.vms_created, sum.pipe_holds,
	       dio_ok ? "O_DIRECT" : "pread/pwrite", sum.dio_ios);

	floor = FLOOR_PER_300S * run_secs / 300;
	CHECK(sum.wrong == 0, "%" PRIu64 " wrong pages", sum.wrong);
	CHECK((double)sum.verified >= floor, "%" PRIu64 " pages verified, below the floor of %.0f",
	      sum.verified, floor);
	CHECK(warnings == 0, "%ld kernel warnings", warnings);
	CHECK(t >= 0 && !(t & (1 << 9)), "the kernel is tainted with a warning (%ld)", t);
	CHECK(esx_sysfs_long("share/merges") > merges0, "no merges");
	CHECK(esx_sysfs_long("cow_breaks") > cows0, "no copy-on-write breaks");
	CHECK(esx_sysfs_long("sample/faults") > sfaults0, "no sample faults");
	CHECK(sum.compress_outs && sum.swap_outs && sum.swap_ins,
	      "reclamation did not run both ways");
	CHECK(sum.balloon_pages && sum.holes && sum.pipe_holds && sum.dio_ios &&
	      sum.vms_created > NR_WORKERS, "a mechanism never ran");
	return vmtest_done("esxmem_soak");
}
