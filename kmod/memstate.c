// SPDX-License-Identifier: GPL-2.0
/*
 * Free-memory states, after ESX: a state is entered when free memory falls
 * below its threshold (soft 4%, hard 2%, low 1% of the pool by default), and
 * left upwards only when free memory regains the threshold of the state
 * above (hard, soft, and high at 6%). The gap of one level is the
 * hysteresis that keeps reclamation from flapping at a boundary.
 */
#include "memstate.h"

static const char *const state_names[ESXMEM_STATE_NR] = {
	[ESXMEM_STATE_HIGH] = "high",
	[ESXMEM_STATE_SOFT] = "soft",
	[ESXMEM_STATE_HARD] = "hard",
	[ESXMEM_STATE_LOW] = "low",
};

const char *esxmem_state_name(enum esxmem_mem_state s)
{
	return (unsigned int)s < ESXMEM_STATE_NR ? state_names[s] : "invalid";
}

bool esxmem_permille_valid(const struct esxmem_permille *p)
{
	return p->of[ESXMEM_STATE_HIGH] <= 1000 &&
	       p->of[ESXMEM_STATE_HIGH] > p->of[ESXMEM_STATE_SOFT] &&
	       p->of[ESXMEM_STATE_SOFT] > p->of[ESXMEM_STATE_HARD] &&
	       p->of[ESXMEM_STATE_HARD] > p->of[ESXMEM_STATE_LOW] &&
	       p->of[ESXMEM_STATE_LOW] > 0;
}

void esxmem_thresholds_compute(struct esxmem_thresholds *t,
			       const struct esxmem_permille *p,
			       unsigned long pool_pages)
{
	int s;

	/*
	 * At least one page apart, the low threshold at least one page: an
	 * exhausted pool is in the low state however small it is, where
	 * rounding down would leave it soft and reclaim idle.
	 */
	for (s = ESXMEM_STATE_NR - 1; s >= 0; s--) {
		unsigned long floor = s == ESXMEM_STATE_NR - 1 ? 1 :
				      t->of[s + 1] + 1;

		t->of[s] = (unsigned long)((u64)pool_pages * p->of[s] / 1000);
		if (t->of[s] < floor)
			t->of[s] = floor;
	}
}

enum esxmem_mem_state esxmem_state_next(enum esxmem_mem_state cur,
					long free_pages,
					const struct esxmem_thresholds *t)
{
	enum esxmem_mem_state fall = ESXMEM_STATE_HIGH;
	int s;

	if ((unsigned int)cur >= ESXMEM_STATE_NR)
		cur = ESXMEM_STATE_HIGH;

	/* The worst state whose entry threshold free memory is below. */
	for (s = ESXMEM_STATE_SOFT; s < ESXMEM_STATE_NR; s++)
		if (free_pages < (long)t->of[s])
			fall = s;
	if (fall > cur)
		return fall;

	while (cur > ESXMEM_STATE_HIGH && free_pages >= (long)t->of[cur - 1])
		cur--;
	return cur;
}
