// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * How long esxmemd's policy takes to compute every VM's target: 1,000 and
 * 10,000 VMs with random shares, bounds and active fractions in an
 * overcommitted pool, the median of many runs.
 *
 * Output: "bench: policy_<n>_vms <microseconds> us".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"

#define RUNS	201

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_us(size_t n)
{
	struct policy_vm *vms = calloc(n, sizeof(*vms));
	static double t[RUNS];
	uint64_t total = 0;
	size_t i;
	int r;

	if (!vms)
		exit(1);
	srand(1);
	for (i = 0; i < n; i++) {
		vms[i].shares = 1 + (uint64_t)rand() % 100000;
		vms[i].size_pages = 65536 + (uint64_t)rand() % 1048576;
		vms[i].min_pages = (uint64_t)rand() % 16384;
		vms[i].max_pages = rand() % 4 ? 0 : vms[i].size_pages / 2;
		vms[i].active = (double)(rand() % 1001) / 1000;
		total += vms[i].size_pages;
	}
	for (r = 0; r < RUNS; r++) {
		double t0 = now_us();

		policy_targets(vms, n, total / 2, 0.75);
		t[r] = now_us() - t0;
	}
	free(vms);
	qsort(t, RUNS, sizeof(t[0]), cmp);
	return t[RUNS / 2];
}

int main(void)
{
	printf("bench: policy_1000_vms %.1f us\n", median_us(1000));
	printf("bench: policy_10000_vms %.1f us\n", median_us(10000));
	return 0;
}
