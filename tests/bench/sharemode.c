// SPDX-License-Identifier: GPL-2.0
/*
 * What share/mode gives and costs, with tiny-VMM KVM guests:
 *
 *  - saved: four identical guests of 16 MiB, each in a sharing domain of
 *    its own, fill their RAM alike; once the scanner has passed over them
 *    enough times for the safe mode's idle test, the pool pages they saved
 *    (4 x 4096 pages minus the pool's growth), in isolated, safe and open;
 *    and safe's savings as a share of open's;
 *  - cost: one guest reads its 16 MiB over and over for a few seconds
 *    while the scanner runs at vm_pages_per_sec (its default, 5000 pages a
 *    second: a pass every 0.8 s, far faster than the advisor's hour); its
 *    rounds a second in safe against isolated. A page the guest keeps
 *    touching never becomes a candidate: what it pays in safe is the idle
 *    test's trap, one minor fault per page and pass.
 *
 * Output: "bench: sharemode_saved_<mode> <pages> pages",
 * "bench: sharemode_safe_vs_open <percent> %", "bench: sharemode_rounds_<mode>
 * <rounds/s> rounds/s", "bench: sharemode_safe_slowdown <percent> %".
 */
#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#include <libesxmem/libesxmem.h>

#define GUESTS		4
#define PAGES		4096u		/* 16 MiB */
#define RAM_GPA		0x100000u
#define CODE_GPA	0x1000u
#define WORK_SECS	5.0
#define WAIT_SECS	300.0

struct guest {
	int fd;
	struct vmm *vm;
	uint32_t id;
};

static struct esxmem *nl;
static const char *const modes[] = { "isolated", "safe", "open" };
static char mode_saved[16];

static void mode_restore(void)
{
	if (esx_sysfs_write("share/mode", mode_saved))
		fprintf(stderr, "could not restore share/mode\n");
}

static void guest_new(struct guest *g, uint32_t domain)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = domain };

	g->fd = esx_open();
	REQUIRE_OK(vmm_create(&g->vm));
	REQUIRE_OK(vmm_add_slot(g->vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(g->vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(g->vm, 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, g->fd, 0));
	g->id = esx_stats(g->fd).id;
	REQUIRE_OK(esxmem_vm_set(nl, g->id, &s));
}

static void guest_free(struct guest *g)
{
	struct esxmem_vm_info *info;

	vmm_destroy(g->vm);
	close(g->fd);
	REQUIRE(ESX_WAIT_FOR(esxmem_vm_get(nl, g->id, &info) == -ENOENT, WAIT_SECS),
		"VM %u goes away", g->id);
}

static uint32_t run(struct guest *g, enum vmm_routine r, uint32_t seed)
{
	struct vmm_regs regs = { .ebx = RAM_GPA, .ecx = PAGES, .edx = seed };

	REQUIRE_OK(vmm_call(g->vm, r, &regs));
	return regs.eax;
}

/* Whether every guest has been scanned in full @n more times than @base. */
static bool passed(struct guest *g, const uint64_t *base, uint64_t n)
{
	int i;

	for (i = 0; i < GUESTS; i++)
		if (esx_stats(g[i].fd).full_scans < base[i] + n)
			return false;
	return true;
}

static long saved(const char *mode)
{
	uint64_t base[GUESTS];
	struct guest g[GUESTS];
	long used0, used;
	int i;

	/* First: leaving the safe mode gives its reserve back to the pool. */
	REQUIRE_OK(esx_sysfs_write("share/mode", mode));
	used0 = esx_pool_settled(30);
	for (i = 0; i < GUESTS; i++) {
		guest_new(&g[i], (uint32_t)i + 1);
		run(&g[i], VMM_FILL, 0x5eed);
	}
	for (i = 0; i < GUESTS; i++)
		base[i] = esx_stats(g[i].fd).full_scans;
	/* The safe mode's idle test, a pass to merge, one to spare. */
	REQUIRE(ESX_WAIT_FOR(passed(g, base, esx_sysfs_long("share/safe_idle_passes") + 4),
			     WAIT_SECS), "%s: the scanner passes over every guest", mode);
	used = esx_pool_settled(30) - used0;
	for (i = 0; i < GUESTS; i++) {
		CHECK(run(&g[i], VMM_CHECK, 0x5eed) == 0, "%s: guest %d keeps its content",
		      mode, i);
		guest_free(&g[i]);
	}
	return (long)GUESTS * PAGES - used;
}

static double rounds_per_sec(const char *mode)
{
	struct guest g;
	double t0, t;
	long rounds = 0;
	uint64_t base;

	REQUIRE_OK(esx_sysfs_write("share/mode", mode));
	guest_new(&g, 1);
	run(&g, VMM_FILL, 0x5eed);
	/* Past the first passes, when every page is trapped once. */
	base = esx_stats(g.fd).full_scans;
	REQUIRE(ESX_WAIT_FOR(esx_stats(g.fd).full_scans >= base + 2, WAIT_SECS),
		"%s: two passes", mode);
	t0 = esx_now();
	do {
		CHECK(run(&g, VMM_CHECK, 0x5eed) == 0, "%s: the guest reads what it wrote", mode);
		rounds++;
		t = esx_now() - t0;
	} while (t < WORK_SECS);
	guest_free(&g);
	return rounds / t;
}

int main(void)
{
	long s[3];
	double r[2];
	int held, m;

	REQUIRE_OK(esxmem_open(&nl));
	held = esx_hold_kvm_vm();
	REQUIRE(held >= 0, "KVM: %s", strerror(-held));
	esx_sysfs_choice("share/mode", mode_saved, sizeof(mode_saved));
	atexit(mode_restore);
	/* The pieces of large pages share nothing in the safe mode. */
	esx_large_pages("never");
	esx_share_rate("5000");

	for (m = 0; m < 3; m++) {
		s[m] = saved(modes[m]);
		printf("bench: sharemode_saved_%s %ld pages\n", modes[m], s[m]);
	}
	printf("bench: sharemode_safe_vs_open %.1f %%\n", s[2] ? 100.0 * s[1] / s[2] : 0.0);

	for (m = 0; m < 2; m++) {
		r[m] = rounds_per_sec(modes[m]);
		printf("bench: sharemode_rounds_%s %.2f rounds/s\n", modes[m], r[m]);
	}
	printf("bench: sharemode_safe_slowdown %.1f %%\n", 100.0 * (1 - r[1] / r[0]));

	esxmem_close(nl);
	return vmtest_failures ? 1 : 0;
}
