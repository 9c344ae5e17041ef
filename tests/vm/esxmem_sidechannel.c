// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_sidechannel: the copy-on-write timing channel across VMs, as an
 * attacker would use it, against share/mode "open" and "safe".
 *
 * A victim VM holds pages of random content. An attacker VM of another
 * sharing domain holds copies of some of them ("matching" pages) and as
 * many pages that match nothing ("control" pages), in a random layout. Once
 * the scanner has passed over every page enough times, the attacker times
 * the first write to half of the pages of each kind and the first read to
 * the other half, in one random interleaved order, so that drift hits both
 * kinds alike. For writes, then for reads, the best threshold classifier
 * (time above or below a threshold means "matching") is chosen on half of
 * the samples and scored on the other half:
 *
 *  - open: matching pages were merged, and their first write breaks
 *    copy-on-write while a control page's does not even fault; the
 *    classifier must be right 90% of the time or more for writes, which
 *    shows the test sees the leak;
 *  - safe: every candidate page, merged or not, faults on its first access
 *    and gets a private copy; the classifier must be right at most 55% of
 *    the time for writes and for reads. The merges must have happened (or
 *    there would be nothing to see), and every page keeps its content;
 *  - safe, then isolated before the timed accesses: the switch unshares
 *    the merged candidates without their being accessed, and they must
 *    stay candidates, so that the same holds as in safe.
 *
 * Accuracies are printed; no p-value decides anything. The objects use
 * 4 KiB pages: the pieces of a large page are never candidates nor merged,
 * and a large page broken by the scanner would leave matching and control
 * pages with different page-table histories.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>
#include <sys/random.h>

#define KIND_PAGES	2000u		/* timed pages of each kind */
#define ATTACK_PAGES	(2 * KIND_PAGES)
/*
 * Each object is mapped this many times larger than the pages it fills: the
 * frame table is sized by guest RAM (half an entry a page), and must hold
 * every victim and attacker page's hint or frame at once.
 */
#define SPARSE		4u
#define WAIT_SECS	60.0
#define IDLE_PASSES	1u

enum kind { MATCHING, CONTROL };
enum op { WRITE, READ };

struct sample {
	double t;
	int matching;
};

struct access {
	uint32_t page;		/* of the attacker */
	enum op op;
};

static struct esxmem *nl;
static char mode_saved[16], passes_saved[16];

static void knobs_restore(void)
{
	if (esx_sysfs_write("share/mode", mode_saved) ||
	    esx_sysfs_write("share/safe_idle_passes", passes_saved))
		fprintf(stderr, "could not restore share/mode and share/safe_idle_passes\n");
}

/* A random number below @n (n small). */
static uint32_t below(uint32_t n)
{
	uint32_t r;

	REQUIRE(getrandom(&r, sizeof(r), 0) == sizeof(r), "getrandom: %s", strerror(errno));
	return r % n;
}

static void shuffle(void *base, size_t n, size_t size)
{
	char tmp[64], *a = base;
	size_t i, j;

	for (i = n - 1; i > 0; i--) {
		j = below((uint32_t)i + 1);
		memcpy(tmp, a + i * size, size);
		memcpy(a + i * size, a + j * size, size);
		memcpy(a + j * size, tmp, size);
	}
}

static void random_fill(void *p, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = getrandom((char *)p + done, len - done, 0);
		REQUIRE(n > 0, "getrandom: %s", strerror(errno));
		done += (size_t)n;
	}
}

static int by_time(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->t, y = ((const struct sample *)b)->t;

	return (x > y) - (x < y);
}

/*
 * The best threshold classifier on @train (n samples, sorted here): the
 * threshold and direction right most often. Its accuracy on @test.
 */
static double classify(struct sample *train, size_t n, const struct sample *test,
		       size_t m)
{
	size_t i, below_matching = 0, total_matching = 0, right, best = 0;
	double thr = 0;
	int above_is_matching = 1;

	qsort(train, n, sizeof(*train), by_time);
	for (i = 0; i < n; i++)
		total_matching += train[i].matching;
	/* Cut before sample i: [0, i) below, [i, n) above. */
	for (i = 0; i <= n; i++) {
		if (i && train[i - 1].matching)
			below_matching++;
		if (i && i < n && train[i].t == train[i - 1].t)
			continue;
		/* Above means matching: matching above, control below. */
		right = (total_matching - below_matching) + (i - below_matching);
		if (right > best || n - right > best) {
			above_is_matching = right > n - right;
			best = above_is_matching ? right : n - right;
			thr = i == 0 ? train[0].t - 1 :
			      i == n ? train[n - 1].t + 1 :
			      (train[i - 1].t + train[i].t) / 2;
		}
	}
	right = 0;
	for (i = 0; i < m; i++)
		right += ((test[i].t > thr) == above_is_matching) == test[i].matching;
	return (double)right / m;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints the median time of each kind, for whoever reads the log. */
static void median_of(const struct sample *s, size_t n, const char *mode, const char *op)
{
	double *t[2];
	size_t k[2] = { 0, 0 }, i;

	t[0] = calloc(n, sizeof(double));
	t[1] = calloc(n, sizeof(double));
	REQUIRE(t[0] && t[1], "calloc");
	for (i = 0; i < n; i++)
		t[s[i].matching][k[s[i].matching]++] = s[i].t;
	qsort(t[0], k[0], sizeof(double), by_double);
	qsort(t[1], k[1], sizeof(double), by_double);
	printf("%s: first %s, median %.0f ns matching, %.0f ns control\n", mode, op,
	       k[1] ? t[1][k[1] / 2] : 0.0, k[0] ? t[0][k[0] / 2] : 0.0);
	free(t[0]);
	free(t[1]);
}

/* Splits @s (n samples) at random into halves and classifies. */
static double accuracy(struct sample *s, size_t n)
{
	shuffle(s, n, sizeof(*s));
	return classify(s, n / 2, s + n / 2, n - n / 2);
}

static uint64_t shared(int fd)
{
	return esx_stats(fd).state_pages[ESXMEM_PAGE_SHARED];
}

static uint64_t full_scans(int fd)
{
	return esx_stats(fd).full_scans;
}

static int object(uint32_t pages, uint32_t domain, uint8_t **map, uint32_t *id)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = domain };
	int fd = esx_open();

	*map = esx_map(fd, pages, 0);
	REQUIRE(*map, "mapping %u pages: %s", pages, strerror(errno));
	*id = esx_stats(fd).id;
	REQUIRE_OK(esxmem_vm_set(nl, *id, &s));
	return fd;
}

static void object_free(int fd, uint8_t *map, uint32_t pages, uint32_t id)
{
	struct esxmem_vm_info *info;

	munmap(map, (size_t)pages * ESX_PAGE);
	close(fd);
	CHECK(ESX_WAIT_FOR(esxmem_vm_get(nl, id, &info) == -ENOENT, WAIT_SECS),
	      "VM %u goes away", id);
}

static double ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e9 + (b->tv_nsec - a->tv_nsec);
}

/*
 * One attack under share/mode @mode, switched to @then (if not NULL) once
 * the scanner has passed: the write and read accuracies.
 */
static void attack(const char *mode, const char *then, double *write_acc,
		   double *read_acc)
{
	uint8_t *victim, *attacker, *expect;
	uint32_t vid, aid, i, n_write = 0, n_read = 0, bad = 0;
	enum kind *kind = calloc(ATTACK_PAGES, sizeof(*kind));
	struct access *acc = calloc(ATTACK_PAGES, sizeof(*acc));
	struct sample *ws = calloc(ATTACK_PAGES, sizeof(*ws));
	struct sample *rs = calloc(ATTACK_PAGES, sizeof(*rs));
	uint32_t *of_kind[2], n_kind[2] = { 0, 0 }, copy_of[KIND_PAGES];
	uint64_t goal_v, goal_a;
	long copies0, copies;
	int vfd, afd;
	bool merged;
	char label[32];

	REQUIRE(kind && acc && ws && rs, "calloc");
	snprintf(label, sizeof(label), "%s%s%s", mode, then ? " then " : "", then ?: "");
	REQUIRE_OK(esx_sysfs_write("share/mode", mode));
	expect = malloc((size_t)ATTACK_PAGES * ESX_PAGE);
	of_kind[MATCHING] = calloc(KIND_PAGES, sizeof(uint32_t));
	of_kind[CONTROL] = calloc(KIND_PAGES, sizeof(uint32_t));
	REQUIRE(expect && of_kind[MATCHING] && of_kind[CONTROL], "malloc");

	vfd = object(SPARSE * KIND_PAGES, 1, &victim, &vid);
	afd = object(SPARSE * ATTACK_PAGES, 2, &attacker, &aid);
	random_fill(victim, (size_t)KIND_PAGES * ESX_PAGE);

	/* A random layout: which attacker page is of which kind. */
	for (i = 0; i < ATTACK_PAGES; i++)
		kind[i] = i < KIND_PAGES ? MATCHING : CONTROL;
	shuffle(kind, ATTACK_PAGES, sizeof(*kind));
	for (i = 0; i < ATTACK_PAGES; i++) {
		uint8_t *p = expect + (size_t)i * ESX_PAGE;

		if (kind[i] == MATCHING) {
			copy_of[n_kind[MATCHING]] = i;
			memcpy(p, victim + (size_t)n_kind[MATCHING] * ESX_PAGE, ESX_PAGE);
		} else
			random_fill(p, ESX_PAGE);
		of_kind[kind[i]][n_kind[kind[i]]++] = i;
		memcpy(attacker + (size_t)i * ESX_PAGE, p, ESX_PAGE);
	}

	/*
	 * Every matching page merged, then two more passes over both VMs: a
	 * control page is visited as often as a matching one, so it is a
	 * candidate too in the safe mode.
	 */
	merged = ESX_WAIT_FOR(shared(afd) == KIND_PAGES, WAIT_SECS);
	CHECK(merged, "%s: %llu of %u matching pages merged", label,
	      (unsigned long long)shared(afd), KIND_PAGES);
	goal_v = full_scans(vfd) + 2;
	goal_a = full_scans(afd) + 2;
	CHECK(ESX_WAIT_FOR(full_scans(vfd) >= goal_v && full_scans(afd) >= goal_a, WAIT_SECS),
	      "%s: two more passes over both VMs", mode);
	printf("%s: %llu matching pages shared, %ld candidates\n", label,
	       (unsigned long long)shared(afd), esx_sysfs_long("share/candidates"));
	if (then) {
		/* Unshares every merged page before it returns. */
		REQUIRE_OK(esx_sysfs_write("share/mode", then));
		CHECK(shared(afd) == 0, "%s: %llu pages still shared", label,
		      (unsigned long long)shared(afd));
	}

	/* Half of each kind written, the other half read, all interleaved. */
	for (i = 0; i < 2; i++) {
		uint32_t k;

		shuffle(of_kind[i], KIND_PAGES, sizeof(uint32_t));
		for (k = 0; k < KIND_PAGES; k++) {
			acc[i * KIND_PAGES + k].page = of_kind[i][k];
			acc[i * KIND_PAGES + k].op = k < KIND_PAGES / 2 ? WRITE : READ;
		}
	}
	shuffle(acc, ATTACK_PAGES, sizeof(*acc));

	copies0 = esx_sysfs_long("share/access_copies");
	for (i = 0; i < ATTACK_PAGES; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(attacker +
							    (size_t)acc[i].page * ESX_PAGE);
		struct timespec t0, t1;
		uint64_t v = 0;

		/* The same byte that was there: the content stays checkable. */
		if (acc[i].op == WRITE)
			v = ((uint64_t *)(expect + (size_t)acc[i].page * ESX_PAGE))[0];
		clock_gettime(CLOCK_MONOTONIC_RAW, &t0);
		if (acc[i].op == WRITE)
			*p = v;
		else
			v = *p;
		clock_gettime(CLOCK_MONOTONIC_RAW, &t1);
		(void)v;
		if (acc[i].op == WRITE)
			ws[n_write++] = (struct sample){ ns(&t0, &t1), kind[acc[i].page] == MATCHING };
		else
			rs[n_read++] = (struct sample){ ns(&t0, &t1), kind[acc[i].page] == MATCHING };
	}
	/* A count of the whole host: any other candidate touched counts too. */
	copies = esx_sysfs_long("share/access_copies") - copies0;
	if (!strcmp(mode, "safe"))
		CHECK(copies >= ATTACK_PAGES, "%s: %ld first accesses of %u took a copy",
		      label, copies, ATTACK_PAGES);

	for (i = 0; i < ATTACK_PAGES; i++)
		bad += !!memcmp(attacker + (size_t)i * ESX_PAGE, expect + (size_t)i * ESX_PAGE,
				ESX_PAGE);
	CHECK(bad == 0, "%s: %u attacker pages lost their content", label, bad);
	for (i = 0, bad = 0; i < KIND_PAGES; i++)
		bad += !!memcmp(victim + (size_t)i * ESX_PAGE,
				expect + (size_t)copy_of[i] * ESX_PAGE, ESX_PAGE);
	CHECK(bad == 0, "%s: %u victim pages lost their content", label, bad);

	median_of(ws, n_write, label, "write");
	median_of(rs, n_read, label, "read");
	*write_acc = accuracy(ws, n_write);
	*read_acc = accuracy(rs, n_read);
	printf("%s: classifier accuracy, first write %.1f%%, first read %.1f%% (%u and %u samples)\n",
	       label, 100 * *write_acc, 100 * *read_acc, n_write, n_read);

	object_free(afd, attacker, SPARSE * ATTACK_PAGES, aid);
	object_free(vfd, victim, SPARSE * KIND_PAGES, vid);
	free(of_kind[MATCHING]);
	free(of_kind[CONTROL]);
	free(expect);
	free(kind);
	free(acc);
	free(ws);
	free(rs);
}

int main(void)
{
	double w, r;

	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_choice("share/mode", mode_saved, sizeof(mode_saved));
	esx_sysfs_string("share/safe_idle_passes", passes_saved, sizeof(passes_saved));
	atexit(knobs_restore);
	esx_large_pages("never");
	esx_share_rate("10000000");
	REQUIRE_OK(esx_sysfs_write_long("share/safe_idle_passes", IDLE_PASSES));

	attack("open", NULL, &w, &r);
	CHECK(w >= 0.90, "open: the first write tells matching pages apart only %.1f%% of the time",
	      100 * w);

	attack("safe", NULL, &w, &r);
	CHECK(w <= 0.55 && r <= 0.55,
	      "safe: the first write tells matching pages apart %.1f%% of the time, the first read %.1f%%",
	      100 * w, 100 * r);

	attack("safe", "isolated", &w, &r);
	CHECK(w <= 0.55 && r <= 0.55,
	      "safe then isolated: the first write tells matching pages apart %.1f%% of the time, the first read %.1f%%",
	      100 * w, 100 * r);

	esxmem_close(nl);
	return vmtest_done("esxmem_sidechannel");
}
