// SPDX-License-Identifier: GPL-2.0
/*
 * What idle-memory sampling costs: the sampler thread's CPU time per VM
 * and period, for guests of 128 MiB running under KVM (so each sampled
 * page is unmapped from KVM's page tables too), at 100 and at 400 samples
 * a period.
 *
 * Output: "bench: sampling_cost_<n> <microseconds> us/VM/period".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#define GUESTS		2
#define PAGES		32768u		/* 128 MiB */
#define RAM_GPA		0x100000u
#define PERIODS		10

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cost_us(const char *samples)
{
	long cpu0, periods0;
	double end = now() + 120;

	esx_sysfs_write("sample/pages", samples);
	/* From a period boundary on. */
	periods0 = esx_sysfs_long("sample/periods") + GUESTS;
	while (esx_sysfs_long("sample/periods") < periods0 && now() < end)
		usleep(20000);
	cpu0 = esx_sysfs_long("sample/cpu_us");
	periods0 = esx_sysfs_long("sample/periods");
	while (esx_sysfs_long("sample/periods") < periods0 + GUESTS * PERIODS && now() < end)
		usleep(20000);
	return (double)(esx_sysfs_long("sample/cpu_us") - cpu0) /
	       (double)(esx_sysfs_long("sample/periods") - periods0);
}

int main(void)
{
	char period[16], pages[16];
	struct vmm *vm[GUESTS];
	int fd[GUESTS], g;

	esx_sysfs_string("sample/period_secs", period, sizeof(period));
	esx_sysfs_string("sample/pages", pages, sizeof(pages));
	for (g = 0; g < GUESTS; g++) {
		struct vmm_regs r = { .ebx = RAM_GPA, .ecx = PAGES, .edx = (uint32_t)g };

		fd[g] = esx_open();
		if (fd[g] < 0 || vmm_create(&vm[g]) ||
		    vmm_add_slot(vm[g], 0, 0, 0x10000, -1, 0) || vmm_load_guest(vm[g], 0x1000) ||
		    vmm_add_slot(vm[g], 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, fd[g], 0) ||
		    vmm_call(vm[g], VMM_FILL, &r)) {
			fprintf(stderr, "sampling: cannot set up guest %d\n", g);
			return 1;
		}
	}
	esx_sysfs_write("sample/period_secs", "1");
	printf("bench: sampling_cost_100 %.1f us/VM/period\n", cost_us("100"));
	printf("bench: sampling_cost_400 %.1f us/VM/period\n", cost_us("400"));
	esx_sysfs_write("sample/period_secs", period);
	esx_sysfs_write("sample/pages", pages);
	for (g = 0; g < GUESTS; g++) {
		vmm_destroy(vm[g]);
		close(fd[g]);
	}
	return 0;
}
