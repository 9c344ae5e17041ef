// SPDX-License-Identifier: GPL-2.0
/*
 * Demo scenario "idletax": the idle memory tax of Waldspurger's paper
 * (OSDI 2002, section 5.3), in miniature. Two Linux guests with equal
 * shares and the same size run on a pool too small for both. "active"
 * keeps touching its memory; "idle" filled as much once and then sleeps.
 * With no tax (tau = 0) shares alone decide and the pool is split evenly,
 * so the active guest is held to half of it although the idle one does
 * not use what it holds. Then esxmemd reloads its configuration with
 * tau = 0.75: an idle page now costs four times an active one, the idle
 * guest's target drops, reclamation (its balloon, then compression and
 * swap) takes memory from it, and the active guest gets it.
 *
 * Runs in the test host (make demo): "idletax [PHASE_SECONDS]" (default
 * 50; each tax runs so long once both workloads are in place). Records
 * idletax.csv (each guest's consumed memory and target over time) and
 * idletax.events (when the tax changed, a mark on the plot). The
 * figure is each guest's memory averaged over the last third of each
 * phase. Exits non-zero unless the active guest gains at least 10% and
 * 16 MiB under tau = 0.75, or if a guest died.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "demo.h"

#define GUEST_MIB	256
#define WORK_MIB	"160"
#define POOL_MIB	256
#define SAMPLE_SECS	2
#define PHASE_SECS	50
#define STATUS_EVERY	10	/* samples between esxmemctl status views */

#define CONF(tax)							\
	"{\"balance_period\": 2, \"tax\": " tax ",\n"			\
	" \"pool\": {\"size\": \"256M\"},\n"				\
	" \"sampling\": {\"period\": 5, \"pages\": 200},\n"		\
	" \"control_socket\": \"" DEMO_SOCKET "\"}\n"

enum { ACTIVE, IDLE, GUESTS };

static struct demo_guest guests[GUESTS] = {
	[ACTIVE] = { .name = "active", .mib = GUEST_MIB, .memwork = "active," WORK_MIB },
	[IDLE] = { .name = "idle", .mib = GUEST_MIB, .memwork = "hold," WORK_MIB },
};

struct phase {
	double tax;
	double sum[GUESTS];	/* consumed MiB, summed over the last third */
	unsigned int samples;
};

static struct esxmem *nl;

static void run_phase(struct phase *p, long secs, double start)
{
	struct esxmem_vm_info *vm[GUESTS] = { 0 };
	char state[16];
	double t0 = esx_now(), t;
	unsigned int n = 0;
	int g;

	for (t = 0; t <= secs; t = esx_now() - t0, n++) {
		demo_read_vms(nl, guests, GUESTS, vm);
		esx_sysfs_string("state", state, sizeof(state));
		printf("data: idletax.csv %.0f,%.1f,%.1f,%.1f,%.1f\n", esx_now() - start,
		       demo_mib(esxmem_vm_value(vm[ACTIVE], ESXMEM_VM_CONSUMED_PAGES)), demo_mib(esxmem_vm_value(vm[IDLE], ESXMEM_VM_CONSUMED_PAGES)),
		       demo_mib(esxmem_vm_value(vm[ACTIVE], ESXMEM_VM_TARGET_PAGES)), demo_mib(esxmem_vm_value(vm[IDLE], ESXMEM_VM_TARGET_PAGES)));
		printf("demo: %5.0fs %4.2f %-5s", esx_now() - start, p->tax, state);
		for (g = 0; g < GUESTS; g++)
			printf("  %6.1f/%6.1f MiB f=%4.2f", demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES)),
			       demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_TARGET_PAGES)), esxmem_vm_value(vm[g], ESXMEM_VM_ACTIVE_PPM) / 1e6);
		printf("\n");
		if (t >= secs * 2.0 / 3) {
			for (g = 0; g < GUESTS; g++)
				p->sum[g] += demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES));
			p->samples++;
		}
		if (n % STATUS_EVERY == STATUS_EVERY - 1)
			demo_show_status();
		demo_check_guests(guests, GUESTS);
		usleep(SAMPLE_SECS * 1000000);
	}
}

static double average(const struct phase *p, int g)
{
	return p->samples ? p->sum[g] / p->samples : 0;
}

int main(int argc, char **argv)
{
	long secs = argc > 1 ? strtol(argv[1], NULL, 10) : PHASE_SECS;
	struct phase none = { .tax = 0 }, taxed = { .tax = 0.75 };
	double start, gain;
	int g;

	REQUIRE(secs >= 30 && secs <= 1800, "usage: idletax [PHASE_SECONDS, 30..1800]");
	demo_begin(CONF("0"));
	REQUIRE_OK(esxmem_open(&nl));
	printf("demo: == idletax: the idle memory tax, two guests of %d MiB on a pool of %d MiB ==\n",
	       GUEST_MIB, POOL_MIB);
	printf("demo: Equal shares. \"active\" touches %s MiB every second; \"idle\" filled %s MiB\n"
	       "demo: once and sleeps. First no tax (tau = 0): shares alone split the pool.\n"
	       "demo: Then tau = 0.75: idle memory costs 4 times as much, so it flows to\n"
	       "demo: the guest that uses it. Columns: consumed/target and the sampled\n"
	       "demo: active fraction f of each guest.\n", WORK_MIB, WORK_MIB);
	for (g = 0; g < GUESTS; g++)
		demo_start_guest(&guests[g]);
	demo_wait_consoles(guests, GUESTS, "MEMWORK: reached", 240);
	printf("demo: both workloads in place after %.0f s\n", demo_clock());
	printf("data: idletax.csv time (s),active: consumed (MiB),idle: consumed (MiB),"
	       "active: target (MiB),idle: target (MiB)\n");
	printf("demo: %6s %4s %-5s  %-30s  %-30s\n", "TIME", "TAU", "STATE",
	       "active: consumed/target", "idle: consumed/target");
	start = esx_now();
	run_phase(&none, secs, start);
	printf("demo: -- esxmemd reloads its configuration with tau = 0.75 --\n");
	printf("data: idletax.events %.0f,tau = 0.75\n", esx_now() - start);
	demo_reload(CONF("0.75"));
	run_phase(&taxed, secs, start);

	for (g = 0; g < GUESTS; g++) {
		printf("summary: idletax %s_mib_tau_0 %.1f\n", guests[g].name, average(&none, g));
		printf("summary: idletax %s_mib_tau_0.75 %.1f\n", guests[g].name, average(&taxed, g));
	}
	gain = average(&taxed, ACTIVE) - average(&none, ACTIVE);
	printf("summary: idletax active_gain_mib %.1f\n", gain);
	printf("demo: the active guest held %.1f MiB with no tax and %.1f MiB with tau = 0.75;\n"
	       "demo: the idle one %.1f MiB and %.1f MiB.\n", average(&none, ACTIVE),
	       average(&taxed, ACTIVE), average(&none, IDLE), average(&taxed, IDLE));
	REQUIRE(gain >= 16 && gain >= average(&none, ACTIVE) / 10,
		"the active guest gained only %.1f MiB under tau = 0.75", gain);
	return demo_done();
}
