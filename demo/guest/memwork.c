// SPDX-License-Identifier: GPL-2.0
/*
 * memwork: the memory workloads the demo's guests run (static, in the
 * guest's initramfs as /bin/memwork).
 *
 *   memwork hold MIB             fill MIB, then leave it alone (an idle VM
 *                                that once did work)
 *   memwork active MIB           fill MIB, then touch every page of it
 *                                every second (a busy VM)
 *   memwork grow STEP SECS MAX   add STEP MiB every SECS seconds up to MAX
 *                                MiB, touching all of it every second
 *   memwork verify MIB           fill MIB with a pattern each page's number
 *                                and version determine, then for ever:
 *                                rewrite the next 1/16 of it with a new
 *                                version and check every page of it (a
 *                                guest whose memory must survive a live
 *                                migration intact)
 *
 * Every page is unique, so sharing cannot take it: half of them hold a
 * pattern that compresses well, half random bytes that do not, as real
 * memory mixes both. Progress goes to the console as "MEMWORK: ..." lines;
 * "MEMWORK: reached N MiB" once the whole size is filled. verify prints
 * "MEMWORK: verified round N" after each full check and, on the first
 * page that is not what it wrote, "MEMWORK: CORRUPT ..." and exits 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define PAGES_PER_MIB	256UL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_page(uint64_t *page, size_t index)
{
	size_t i;

	if (index & 1) {
		for (i = 0; i < PAGE / 8; i++)
			page[i] = next_random();
	} else {
		for (i = 0; i < PAGE / 8; i++)
			page[i] = i & 7;
	}
	page[0] = index;			/* unique: never shared */
	page[1] = (uint64_t)getpid();
}

/* One write per page keeps the page active (and dirty) for the sampler. */
static void touch(uint64_t *mem, size_t pages, uint64_t round)
{
	size_t i;

	for (i = 0; i < pages; i++)
		mem[i * (PAGE / 8) + 2] = round;
}

static void *reserve(size_t mib)
{
	void *p = mmap(NULL, mib * PAGES_PER_MIB * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		printf("MEMWORK: cannot reserve %zu MiB: %s\n", mib, strerror(errno));
		exit(1);
	}
	return p;
}

static void fill(uint64_t *mem, size_t from_page, size_t to_page)
{
	size_t i;

	for (i = from_page; i < to_page; i++)
		fill_page(mem + i * (PAGE / 8), i);
}

static unsigned long arg(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 1 << 20) {
		printf("MEMWORK: bad %s \"%s\": a positive whole number\n", what, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	printf("usage: memwork hold MIB | active MIB | grow STEP_MIB SECS MAX_MIB | verify MIB\n");
	exit(2);
}

/*
 * verify's pattern: word w of page p at version v. Never zero and unique to
 * the page, so neither a zero page nor a page shared with another would
 * pass for it; cheap enough to check every page every round.
 */
static uint64_t pattern_word(size_t page, uint32_t version, size_t word)
{
	uint64_t x = ((uint64_t)page << 32 | version) * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	return (x + word * 0xbf58476d1ce4e5b9ULL) | 1;
}

static void write_pattern(uint64_t *page, size_t index, uint32_t version)
{
	size_t w;

	for (w = 0; w < PAGE / 8; w++)
		page[w] = pattern_word(index, version, w);
}

static void verify(unsigned long mib)
{
	size_t pages = mib * PAGES_PER_MIB, slice = pages / 16, next = 0, i, w;
	uint32_t *version = calloc(pages, sizeof(*version));
	uint64_t *mem = reserve(mib), round;

	if (!version) {
		printf("MEMWORK: cannot allocate the page versions\n");
		exit(1);
	}
	for (i = 0; i < pages; i++)
		write_pattern(mem + i * (PAGE / 8), i, 0);
	printf("MEMWORK: reached %lu MiB, rewriting 1/16 of it and checking all of it each round\n",
	       mib);
	for (round = 1;; round++) {
		for (i = 0; i < slice; i++, next = (next + 1) % pages)
			write_pattern(mem + next * (PAGE / 8), next, ++version[next]);
		for (i = 0; i < pages; i++) {
			const uint64_t *page = mem + i * (PAGE / 8);

			for (w = 0; w < PAGE / 8; w++) {
				uint64_t want = pattern_word(i, version[i], w);

				if (page[w] != want) {
					printf("MEMWORK: CORRUPT page %zu word %zu in round %llu: 0x%016llx, want 0x%016llx\n",
					       i, w, (unsigned long long)round,
					       (unsigned long long)page[w], (unsigned long long)want);
					exit(1);
				}
			}
		}
		printf("MEMWORK: verified round %llu, %lu MiB\n", (unsigned long long)round, mib);
	}
}

int main(int argc, char **argv)
{
	unsigned long step, secs, max, size;
	uint64_t *mem, round = 0;
	time_t last_grow;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "hold")) {
		size = arg(argv[2], "size");
		mem = reserve(size);
		fill(mem, 0, size * PAGES_PER_MIB);
		printf("MEMWORK: reached %lu MiB, now idle\n", size);
		for (;;)
			pause();
	}
	if (argc == 3 && !strcmp(argv[1], "active")) {
		size = arg(argv[2], "size");
		mem = reserve(size);
		fill(mem, 0, size * PAGES_PER_MIB);
		printf("MEMWORK: reached %lu MiB, touching it every second\n", size);
		for (;; sleep(1))
			touch(mem, size * PAGES_PER_MIB, ++round);
	}
	if (argc == 3 && !strcmp(argv[1], "verify"))
		verify(arg(argv[2], "size"));
	if (argc != 5 || strcmp(argv[1], "grow"))
		usage();
	step = arg(argv[2], "step");
	secs = arg(argv[3], "period");
	max = arg(argv[4], "maximum");
	mem = reserve(max);
	size = 0;
	last_grow = time(NULL) - (time_t)secs;
	for (;; sleep(1)) {
		if (size < max && time(NULL) - last_grow >= (time_t)secs) {
			unsigned long to = size + step < max ? size + step : max;

			fill(mem, size * PAGES_PER_MIB, to * PAGES_PER_MIB);
			size = to;
			last_grow = time(NULL);
			if (size == max)
				printf("MEMWORK: reached %lu MiB, touching it every second\n", size);
			else
				printf("MEMWORK: %lu MiB\n", size);
		}
		touch(mem, size * PAGES_PER_MIB, ++round);
	}
}
