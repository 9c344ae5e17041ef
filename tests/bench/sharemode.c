// SPDX-License-Identifier: GPL-2.0
/*
 * What share/mode gives and costs, with tiny-VMM KVM guests:
 *
 *  - saved: four identical guests of 16 MiB, each in a sharing domain of
 *    its own, fill their RAM alike; once the scanner has passed over them
 *    enough times for the safe mode's idle test, the pool pages they saved
 *    (4 x 4096 pages minus the pool's growth), in isolated, safe and open;
 *    and safe's savings as a share of open's;
 *  - cost: one guest reads its 16 MiB over and over while the scanner
 *    runs; its rounds a second in safe against isolated. A page the guest
 *    keeps touching never becomes a candidate: what it pays in safe is the
 *    idle test's trap, one minor fault per page and pass. Measured twice:
 *     - paced: a pass every PAGES / PACED_RATE s (about 14 s), over
 *       PACED_SECS of work per mode, in rounds that alternate isolated and
 *       safe on the same guest so that drift of the host falls on both;
 *     - fast, the worst case: vm_pages_per_sec 5000, a pass every 0.8 s
 *       or as fast as the scanner gets through the guest.
 *    From each, the cost of one trap fault (the extra time a round takes
 *    over its extra faults), and what it implies at the advisor's pace, a pass per share/scan_time_secs: P / scan_time_secs
 *    faults a second for a VM of P pages.
 *
 * Output: "bench: sharemode_saved_<mode> <pages> pages",
 * "bench: sharemode_safe_vs_open <percent> %",
 * "bench: sharemode_paced_pass_secs <s> s",
 * "bench: sharemode_rounds_paced_<mode> <rounds/s> rounds/s",
 * "bench: sharemode_safe_slowdown_paced <percent> %",
 * "bench: sharemode_fast_pass_secs <s> s",
 * "bench: sharemode_rounds_fast_<mode> <rounds/s> rounds/s",
 * "bench: sharemode_safe_slowdown_fast <percent> %",
 * "bench: sharemode_scan_time_secs <s> s",
 * "bench: sharemode_trap_fault_us_<pace> <us> us" and
 * "bench: sharemode_safe_slowdown_scan_time_<pace> <percent> %" (for this
 * 16 MiB guest; it grows with the guest's pages).
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
#define FAST_RATE	"5000"
#define PACED_RATE	"300"		/* a pass every 13.7 s */
#define PACED_ROUNDS	4		/* isolated, safe, isolated, safe */
#define PACED_SECS	50.0		/* of work per mode, in all */
#define SETTLE_SECS	2.0		/* of work after a mode change, untimed */
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

/* The guest's work over a window, and what the scanner did to it meanwhile. */
struct load {
	long rounds;
	double secs;
	uint64_t faults;
	uint64_t scanned;
};

static void load_add(struct load *sum, const struct load *l)
{
	sum->rounds += l->rounds;
	sum->secs += l->secs;
	sum->faults += l->faults;
	sum->scanned += l->scanned;
}

static double load_rate(const struct load *l)
{
	return l->secs > 0 ? l->rounds / l->secs : 0;
}

/* Has @g read its RAM over and over for @secs. */
static struct load work(struct guest *g, const char *mode, double secs)
{
	struct esxmem_vm_stats st0 = esx_stats(g->fd), st;
	struct load l = { 0 };
	double t0 = esx_now();

	do {
		CHECK(run(g, VMM_CHECK, 0x5eed) == 0, "%s: the guest reads what it wrote", mode);
		l.rounds++;
		l.secs = esx_now() - t0;
	} while (l.secs < secs);
	st = esx_stats(g->fd);
	l.faults = st.faults - st0.faults;
	l.scanned = st.pages_scanned - st0.pages_scanned;
	return l;
}

static struct load fast(const char *mode)
{
	struct guest g;
	struct load l;
	uint64_t base;

	REQUIRE_OK(esx_sysfs_write("share/mode", mode));
	guest_new(&g, 1);
	run(&g, VMM_FILL, 0x5eed);
	/* Past the first passes, when every page is trapped once. */
	base = esx_stats(g.fd).full_scans;
	REQUIRE(ESX_WAIT_FOR(esx_stats(g.fd).full_scans >= base + 2, WAIT_SECS),
		"%s: two passes", mode);
	l = work(&g, mode, WORK_SECS);
	guest_free(&g);
	return l;
}

/*
 * One guest, the mode switched between rounds: a fresh guest would need a
 * pass (14 s) before its pages are trapped as a guest's that ran for long.
 * It has nothing shared, so a switch copies nothing; what a switch leaves
 * behind (safe's last traps, in isolated) is gone after SETTLE_SECS.
 */
static void paced(struct load sum[2])
{
	struct guest g;
	struct load l;
	int round, m;

	esx_share_rate(PACED_RATE);
	REQUIRE_OK(esx_sysfs_write("share/mode", modes[0]));
	guest_new(&g, 1);
	run(&g, VMM_FILL, 0x5eed);
	for (round = 0; round < PACED_ROUNDS; round++) {
		m = round % 2;
		REQUIRE_OK(esx_sysfs_write("share/mode", modes[m]));
		work(&g, modes[m], SETTLE_SECS);
		l = work(&g, modes[m], PACED_SECS / (PACED_ROUNDS / 2));
		load_add(&sum[m], &l);
	}
	guest_free(&g);
}

/* Seconds a pass took over @l, at the pace the scanner went. */
static double pass_secs(const struct load *l)
{
	return l->scanned ? l->secs * PAGES / l->scanned : 0;
}

/*
 * A trap fault's cost in microseconds, from a round's extra time in safe
 * (@l[1]) over isolated (@l[0]) and its extra faults; 0 if there were none.
 * Whatever the scanner's trapping costs the guest besides the fault (its
 * unmapping, the CPU it takes) counts in too.
 */
static double fault_us(const struct load l[2])
{
	double extra_faults;

	if (!l[0].rounds || !l[1].rounds)
		return 0;
	extra_faults = (double)l[1].faults / l[1].rounds - (double)l[0].faults / l[0].rounds;
	if (extra_faults <= 0)
		return 0;
	return 1e6 * (l[1].secs / l[1].rounds - l[0].secs / l[0].rounds) / extra_faults;
}

/* What a trap fault of @us implies for this guest at the advisor's pace. */
static void print_scan_time(const char *pace, double us, long scan_time)
{
	printf("bench: sharemode_trap_fault_us_%s %.1f us\n", pace, us);
	if (scan_time > 0)
		printf("bench: sharemode_safe_slowdown_scan_time_%s %.4f %%\n", pace,
		       100.0 * us * 1e-6 * PAGES / scan_time);
}

int main(void)
{
	struct load p[2] = { 0 }, f[2];
	long s[3], scan_time;
	int held, m;

	REQUIRE_OK(esxmem_open(&nl));
	held = esx_hold_kvm_vm();
	REQUIRE(held >= 0, "KVM: %s", strerror(-held));
	esx_sysfs_choice("share/mode", mode_saved, sizeof(mode_saved));
	atexit(mode_restore);
	/* The pieces of large pages share nothing in the safe mode. */
	esx_large_pages("never");
	esx_share_rate(FAST_RATE);

	for (m = 0; m < 3; m++) {
		s[m] = saved(modes[m]);
		printf("bench: sharemode_saved_%s %ld pages\n", modes[m], s[m]);
	}
	printf("bench: sharemode_safe_vs_open %.1f %%\n", s[2] ? 100.0 * s[1] / s[2] : 0.0);

	paced(p);
	printf("bench: sharemode_paced_pass_secs %.1f s\n", pass_secs(&p[1]));
	for (m = 0; m < 2; m++)
		printf("bench: sharemode_rounds_paced_%s %.3f rounds/s (%.0f s, %llu faults)\n",
		       modes[m], load_rate(&p[m]), p[m].secs, (unsigned long long)p[m].faults);
	printf("bench: sharemode_safe_slowdown_paced %.2f %%\n",
	       100.0 * (1 - load_rate(&p[1]) / load_rate(&p[0])));

	esx_share_rate(FAST_RATE);
	for (m = 0; m < 2; m++)
		f[m] = fast(modes[m]);
	printf("bench: sharemode_fast_pass_secs %.2f s\n", pass_secs(&f[1]));
	for (m = 0; m < 2; m++)
		printf("bench: sharemode_rounds_fast_%s %.2f rounds/s (%.0f s, %llu faults)\n",
		       modes[m], load_rate(&f[m]), f[m].secs, (unsigned long long)f[m].faults);
	printf("bench: sharemode_safe_slowdown_fast %.1f %%\n",
	       100.0 * (1 - load_rate(&f[1]) / load_rate(&f[0])));

	scan_time = esx_sysfs_long("share/scan_time_secs");
	printf("bench: sharemode_scan_time_secs %ld s\n", scan_time);
	print_scan_time("paced", fault_us(p), scan_time);
	print_scan_time("fast", fault_us(f), scan_time);

	esxmem_close(nl);
	return vmtest_failures ? 1 : 0;
}
