// SPDX-License-Identifier: GPL-2.0
/*
 * The sharing frame table (kmod/frames.c), compiled from the kernel
 * source: insertion and lookup, a hint turned into a shared frame, a key
 * collision between different contents, removal with clusters that wrap
 * around the end, hint eviction at the load limits, purging a VM, and a
 * random workload checked against a plain model.
 */
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "frames.h"

#define CAP 1024UL

static struct esxmem_frames table(void)
{
	struct esxmem_frames t;
	struct esxmem_frame *slot = calloc(CAP, sizeof(*slot));

	ck_assert_ptr_nonnull(slot);
	esxmem_frames_init(&t, slot, CAP);
	return t;
}

static int insert(struct esxmem_frames *t, u64 key, u64 val)
{
	u64 evicted;
	int err = esxmem_frames_insert(t, key, val, &evicted);

	ck_assert_uint_eq(evicted, 0);
	return err;
}

START_TEST(insert_find)
{
	struct esxmem_frames t = table();
	long pos;

	ck_assert_int_eq(esxmem_frames_find(&t, 42), -1);
	ck_assert_int_eq(insert(&t, 42, esxmem_frame_hint_val(3, 7)), 0);
	pos = esxmem_frames_find(&t, 42);
	ck_assert_int_ge(pos, 0);
	ck_assert(!esxmem_frame_is_shared(t.slot[pos].val));
	ck_assert_uint_eq(esxmem_frame_hint_vm(t.slot[pos].val), 3);
	ck_assert_uint_eq(esxmem_frame_hint_index(t.slot[pos].val), 7);
	/* Key 0 is a key like any other. */
	ck_assert_int_eq(insert(&t, 0, esxmem_frame_shared_val(99)), 0);
	pos = esxmem_frames_find(&t, 0);
	ck_assert(esxmem_frame_is_shared(t.slot[pos].val));
	ck_assert_uint_eq(esxmem_frame_pfn(t.slot[pos].val), 99);
	ck_assert_uint_eq(t.shared, 1);
	ck_assert_uint_eq(t.hints, 1);
	free(t.slot);
}
END_TEST

START_TEST(hint_promotion)
{
	struct esxmem_frames t = table();
	long pos;

	ck_assert_int_eq(insert(&t, 5, esxmem_frame_hint_val(1, 100)), 0);
	pos = esxmem_frames_find(&t, 5);
	esxmem_frames_replace(&t, pos, esxmem_frame_shared_val(1234));
	ck_assert_int_eq(esxmem_frames_find(&t, 5), pos);
	ck_assert_uint_eq(esxmem_frame_pfn(t.slot[pos].val), 1234);
	ck_assert_uint_eq(t.shared, 1);
	ck_assert_uint_eq(t.hints, 0);
	free(t.slot);
}
END_TEST

START_TEST(collision_same_home)
{
	struct esxmem_frames t = table();

	/* Different contents whose keys share a home slot stay apart. */
	ck_assert_int_eq(insert(&t, 7, esxmem_frame_hint_val(1, 1)), 0);
	ck_assert_int_eq(insert(&t, 7 + CAP, esxmem_frame_hint_val(2, 2)), 0);
	ck_assert_int_eq(insert(&t, 7 + 2 * CAP, esxmem_frame_shared_val(3)), 0);
	ck_assert_uint_eq(esxmem_frame_hint_vm(t.slot[esxmem_frames_find(&t, 7)].val), 1);
	ck_assert_uint_eq(esxmem_frame_hint_vm(t.slot[esxmem_frames_find(&t, 7 + CAP)].val), 2);
	ck_assert_uint_eq(esxmem_frame_pfn(t.slot[esxmem_frames_find(&t, 7 + 2 * CAP)].val), 3);
	/* Removing the first keeps the others reachable. */
	esxmem_frames_delete(&t, esxmem_frames_find(&t, 7));
	ck_assert_int_eq(esxmem_frames_find(&t, 7), -1);
	ck_assert_int_ge(esxmem_frames_find(&t, 7 + CAP), 0);
	ck_assert_int_ge(esxmem_frames_find(&t, 7 + 2 * CAP), 0);
	free(t.slot);
}
END_TEST

START_TEST(delete_wraps)
{
	struct esxmem_frames t = table();
	u64 k;

	/* A cluster from the last slots into the first ones. */
	for (k = 0; k < 6; k++)
		ck_assert_int_eq(insert(&t, CAP - 2 + k * CAP, esxmem_frame_hint_val(1, k)), 0);
	ck_assert_int_eq(insert(&t, 1, esxmem_frame_hint_val(2, 0)), 0);
	esxmem_frames_delete(&t, esxmem_frames_find(&t, CAP - 2));
	for (k = 1; k < 6; k++)
		ck_assert_int_ge(esxmem_frames_find(&t, CAP - 2 + k * CAP), 0);
	ck_assert_int_ge(esxmem_frames_find(&t, 1), 0);
	ck_assert_uint_eq(t.hints, 6);
	free(t.slot);
}
END_TEST

START_TEST(load_limits)
{
	struct esxmem_frames t = table();
	unsigned long i, hints = ESXMEM_FRAMES_HINT_LOAD(CAP), evictions = 0;
	u64 evicted;

	unsigned long grown = 0;

	for (i = 0; i < hints; i++)
		ck_assert_int_eq(insert(&t, i * 0x9e3779b97f4a7c15ULL, esxmem_frame_hint_val(1, i)), 0);
	/*
	 * Past the hint load a new hint takes the place of the hint nearest
	 * its home, or an empty slot before it, up to the maximum load.
	 */
	for (i = 0; i < CAP; i++) {
		unsigned long before = t.hints;
		u64 key = 12345 + i * 0x51ed27ULL;

		if (esxmem_frames_insert(&t, key, esxmem_frame_hint_val(2, i), &evicted)) {
			/* Only once full, and with no hint near home. */
			ck_assert_uint_eq(t.hints, ESXMEM_FRAMES_MAX_LOAD(CAP));
			continue;
		}
		ck_assert_int_ge(esxmem_frames_find(&t, key), 0);
		if (evicted) {
			ck_assert_uint_eq(t.hints, before);
			evictions++;
		} else {
			ck_assert_uint_eq(t.hints, before + 1);
			grown++;
		}
		ck_assert_uint_le(t.hints, ESXMEM_FRAMES_MAX_LOAD(CAP));
	}
	ck_assert_uint_gt(evictions, 0);
	ck_assert_uint_gt(grown, 0);
	ck_assert_uint_eq(t.hints, ESXMEM_FRAMES_MAX_LOAD(CAP));
	/* Hints are at the maximum: shared frames can only evict them now. */
	evictions = 0;
	for (i = 0; i < CAP; i++) {
		if (esxmem_frames_insert(&t, ~i, esxmem_frame_shared_val(i), &evicted))
			break;
		ck_assert(evicted && !esxmem_frame_is_shared(evicted));
		evictions++;
	}
	ck_assert_uint_gt(evictions, 0);
	ck_assert_uint_le(t.shared + t.hints, ESXMEM_FRAMES_MAX_LOAD(CAP));
	free(t.slot);
}
END_TEST

START_TEST(purge_vm)
{
	struct esxmem_frames t = table();
	unsigned long i;

	for (i = 0; i < 600; i++)
		ck_assert_int_eq(insert(&t, i * 7919, esxmem_frame_hint_val(1 + i % 3, i)), 0);
	ck_assert_int_eq(insert(&t, 1, esxmem_frame_shared_val(5)), 0);
	ck_assert_uint_eq(esxmem_frames_purge_vm(&t, 2), 200);
	ck_assert_uint_eq(t.hints, 400);
	ck_assert_uint_eq(t.shared, 1);
	for (i = 0; i < 600; i++)
		ck_assert_int_eq(esxmem_frames_find(&t, i * 7919) >= 0, i % 3 != 1);
	free(t.slot);
}
END_TEST

/* Random inserts, replacements and deletions against a list of keys. */
START_TEST(random_model)
{
	enum { N = 700 };
	struct esxmem_frames t = table();
	u64 keys[N], vals[N], rng = 88172645463325252ULL;
	int n = 0, round, i;

	for (round = 0; round < 50000; round++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		if (n < N && (rng & 3) != 0) {
			u64 key = rng % 5000 * CAP / 3;	/* many share a home */

			if (esxmem_frames_find(&t, key) >= 0)
				continue;
			keys[n] = key;
			vals[n] = esxmem_frame_shared_val(rng >> 40);
			ck_assert_int_eq(insert(&t, keys[n], vals[n]), 0);
			n++;
		} else if (n) {
			i = (int)(rng >> 33) % n;
			esxmem_frames_delete(&t, esxmem_frames_find(&t, keys[i]));
			keys[i] = keys[--n];
			vals[i] = vals[n];
		}
		if (round % 997 == 0)
			for (i = 0; i < n; i++)
				ck_assert_uint_eq(t.slot[esxmem_frames_find(&t, keys[i])].val, vals[i]);
	}
	ck_assert_uint_eq(t.shared, (unsigned long)n);
	free(t.slot);
}
END_TEST

Suite *frames_suite(void)
{
	Suite *s = suite_create("frames");
	TCase *tc = tcase_create("core");

	/* Under ASan on a loaded machine. */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, insert_find);
	tcase_add_test(tc, hint_promotion);
	tcase_add_test(tc, collision_same_home);
	tcase_add_test(tc, delete_wraps);
	tcase_add_test(tc, load_limits);
	tcase_add_test(tc, purge_vm);
	tcase_add_test(tc, random_model);
	suite_add_tcase(s, tc);
	return s;
}
