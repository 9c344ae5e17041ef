// SPDX-License-Identifier: GPL-2.0
/*
 * Demo scenario "pressure": one guest's workload grows until the pool runs
 * short. Three Linux guests run with esxballoon: "grower" adds memory to
 * its workload every few seconds and touches all of it; "calm1" and
 * "calm2" filled some memory once and sleep. As free memory falls, the
 * pool's state moves from high to soft, where esxmemd inflates the
 * balloons of the guests above their targets (the idle ones: the idle
 * memory tax lowers their targets), and on to hard, where the module
 * compresses and swaps pages out. Balloons follow demand: none ever holds
 * more than its guest has used. Then calm2 stops: its memory goes back,
 * the pool goes high, and the grower's balloon deflates into the free
 * memory. Nothing may crash: every guest stays up, and no fault
 * waits forever.
 *
 * Runs in the test host (make demo): "pressure [SECONDS]" (default 240,
 * the longest it may take). Records pressure.csv (each guest's consumed
 * memory and the pool's free memory) and pressure-reclaim.csv (memory
 * ballooned, compressed and swapped), with a mark where the pool first
 * entered each state (pressure.events, pressure-reclaim.events). Passes
 * once the grower's workload is complete, the pool went through soft and
 * hard, balloons took memory, and so did compression and swap, no balloon
 * held more than its guest ever used, and the grower's balloon deflated in
 * the high state once a calm guest stopped; fails if that does not happen
 * in time or a guest dies.
 */
#include <signal.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "demo.h"

#define POOL_MIB	384
#define SAMPLE_SECS	2
#define DURATION_SECS	240
#define SETTLE_SECS	20	/* shown once everything has happened */
#define STATUS_EVERY	8	/* samples between esxmemctl status views */
#define DEFLATE_SECS	120	/* for the balloons to deflate in the high state */
#define BALLOON_SLACK	(16 * 256)	/* pages: what a guest's kernel moves meanwhile */

static const char conf[] =
	"{\"balance_period\": 2, \"tax\": 0.75,\n"
	" \"pool\": {\"size\": \"384M\"},\n"
	" \"sampling\": {\"period\": 5, \"pages\": 200},\n"
	" \"control_socket\": \"" DEMO_SOCKET "\"}\n";

enum { GROWER, CALM1, CALM2, GUESTS };

static struct demo_guest guests[GUESTS] = {
	[GROWER] = { .name = "grower", .mib = 384, .memwork = "grow,16,2,240" },
	[CALM1] = { .name = "calm1", .mib = 256, .memwork = "hold,64" },
	[CALM2] = { .name = "calm2", .mib = 256, .memwork = "hold,64" },
};

static const char *const state_names[ESXMEM_STATE_NR] = {
	[ESXMEM_STATE_HIGH] = "high", [ESXMEM_STATE_SOFT] = "soft",
	[ESXMEM_STATE_HARD] = "hard", [ESXMEM_STATE_LOW] = "low",
};

int main(int argc, char **argv)
{
	long duration = argc > 1 ? strtol(argv[1], NULL, 10) : DURATION_SECS;
	uint64_t ballooned, compressed, swapped, most_ballooned = 0, most_out = 0;
	struct esxmem_vm_info *vm[GUESTS] = { 0 };
	unsigned int state, last_state = ESXMEM_STATE_HIGH, worst = ESXMEM_STATE_HIGH, n = 0;
	bool seen[ESXMEM_STATE_NR] = { false };
	struct esxmem_pool_info *pool = NULL;
	double t0, t, done_at = 0;
	uint64_t peak_used[GUESTS] = { 0 }, over = 0, balloon_before = 0, balloon_after;
	struct esxmem *nl;
	int g, over_guest = 0;

	REQUIRE(duration >= 60 && duration <= 3600, "usage: pressure [SECONDS, 60..3600]");
	demo_begin(conf);
	REQUIRE_OK(esxmem_open(&nl));
	printf("demo: == pressure: a growing workload on a pool of %d MiB ==\n", POOL_MIB);
	printf("demo: \"grower\" adds 16 MiB to its workload every 2 s, up to 240 MiB, and\n"
	       "demo: touches all of it; calm1 and calm2 filled 64 MiB once and sleep. As the\n"
	       "demo: pool's free memory falls, its state goes high -> soft (balloons inflate\n"
	       "demo: in the guests above their targets) -> hard (the module compresses and\n"
	       "demo: swaps). Per guest: consumed/target and ballooned, compressed, swapped.\n");
	for (g = 0; g < GUESTS; g++)
		demo_start_guest(&guests[g]);
	demo_wait_consoles(guests, GUESTS, "GUEST-BALLOON-LOADED", 240);
	printf("data: pressure.csv time (s),grower: consumed (MiB),calm1: consumed (MiB),"
	       "calm2: consumed (MiB),pool: free (MiB)\n");
	printf("data: pressure-reclaim.csv time (s),all guests: ballooned (MiB),"
	       "all guests: compressed (MiB),all guests: swapped (MiB)\n");
	printf("demo: %6s %-5s %8s  %-26s %-26s %-26s\n", "TIME", "STATE", "FREE",
	       "grower: used/target b/c/s", "calm1", "calm2");
	t0 = esx_now();
	for (t = 0; t <= duration; t = esx_now() - t0, n++) {
		ballooned = compressed = swapped = 0;
		demo_read_vms(nl, guests, GUESTS, vm);
		esxmem_pool_info_free(pool);
		REQUIRE_OK(esxmem_pool_get(nl, &pool));
		state = esxmem_pool_value(pool, ESXMEM_POOL_STATE) < ESXMEM_STATE_NR ? esxmem_pool_value(pool, ESXMEM_POOL_STATE) : ESXMEM_STATE_LOW;
		for (g = 0; g < GUESTS; g++) {
			uint64_t used = esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES) + esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_COMPRESSED) +
					esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_SWAPPED);
			uint64_t b = esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_BALLOONED);

			ballooned += b;
			compressed += esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_COMPRESSED);
			swapped += esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_SWAPPED);
			/* A balloon follows demand: never more than the guest used. */
			peak_used[g] = used > peak_used[g] ? used : peak_used[g];
			if (b > peak_used[g] + BALLOON_SLACK && b - peak_used[g] > over) {
				over = b - peak_used[g];
				over_guest = g;
			}
		}
		if (state != ESXMEM_STATE_HIGH && !seen[state]) {
			/* The first time in each state: a mark on both plots. */
			printf("data: pressure.events %.0f,pool: %s\n", t, state_names[state]);
			printf("data: pressure-reclaim.events %.0f,pool: %s\n", t, state_names[state]);
		}
		seen[state] = true;
		worst = state > worst ? state : worst;
		if (n && state != last_state)
			printf("demo: -- the pool's state: %s -> %s --\n", state_names[last_state],
			       state_names[state]);
		last_state = state;
		most_ballooned = ballooned > most_ballooned ? ballooned : most_ballooned;
		most_out = compressed + swapped > most_out ? compressed + swapped : most_out;

		printf("data: pressure.csv %.0f,%.1f,%.1f,%.1f,%.1f\n", t,
		       demo_mib(esxmem_vm_value(vm[GROWER], ESXMEM_VM_CONSUMED_PAGES)), demo_mib(esxmem_vm_value(vm[CALM1], ESXMEM_VM_CONSUMED_PAGES)),
		       demo_mib(esxmem_vm_value(vm[CALM2], ESXMEM_VM_CONSUMED_PAGES)), esxmem_pool_free_pages(pool) / 256.0);
		printf("data: pressure-reclaim.csv %.0f,%.1f,%.1f,%.1f\n", t, demo_mib(ballooned),
		       demo_mib(compressed), demo_mib(swapped));
		printf("demo: %5.0fs %-5s %4.0f MiB", t, state_names[state], esxmem_pool_free_pages(pool) / 256.0);
		for (g = 0; g < GUESTS; g++)
			printf("  %3.0f/%3.0f %2.0f/%2.0f/%2.0f",
			       demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES)), demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_TARGET_PAGES)),
			       demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_BALLOONED)),
			       demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_COMPRESSED)),
			       demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_SWAPPED)));
		printf("\n");
		if (n % STATUS_EVERY == STATUS_EVERY - 1)
			demo_show_status();
		demo_check_guests(guests, GUESTS);
		if (!done_at && most_ballooned && most_out && seen[ESXMEM_STATE_SOFT] &&
		    worst >= ESXMEM_STATE_HARD &&
		    demo_console_has(&guests[GROWER], "MEMWORK: reached")) {
			done_at = t;
			printf("demo: -- the workload is complete, and balloons, compression and swap\n"
			       "demo:    have all taken memory; %d s more to watch --\n", SETTLE_SECS);
		}
		if (done_at && t >= done_at + SETTLE_SECS)
			break;
		usleep(SAMPLE_SECS * 1000000);
	}
	demo_show_status();
	printf("summary: pressure worst_state %s\n", state_names[worst]);
	printf("summary: pressure most_ballooned_mib %.1f\n", demo_mib(most_ballooned));
	printf("summary: pressure most_compressed_and_swapped_mib %.1f\n", demo_mib(most_out));
	printf("summary: pressure all_seen_after_s %.0f\n", done_at);
	REQUIRE(demo_console_has(&guests[GROWER], "MEMWORK: reached"),
		"the grower's workload did not complete in %ld s", duration);
	REQUIRE(seen[ESXMEM_STATE_SOFT], "the pool never was in the soft state");
	REQUIRE(worst >= ESXMEM_STATE_HARD, "the pool never reached the hard state");
	REQUIRE(most_ballooned, "no balloon took memory");
	REQUIRE(most_out, "nothing was compressed or swapped");
	REQUIRE(!over, "the balloon of %s held %.1f MiB more than its guest ever used",
		guests[over_guest].name, demo_mib(over));
	printf("demo: the pool went down to %s; balloons held up to %.1f MiB, compression and\n"
	       "demo: swap up to %.1f MiB; no balloon held more than its guest used.\n",
	       state_names[worst], demo_mib(most_ballooned), demo_mib(most_out));

	/*
	 * A calm guest stops: its memory goes back to the pool, the pool goes
	 * high, and the grower's balloon gives its memory back into the free
	 * memory above the high threshold. First a moment when the balloon
	 * holds some (it comes and goes with the grower's target).
	 */
	for (t0 = esx_now(), t = 0; t <= DEFLATE_SECS; t = esx_now() - t0) {
		demo_read_vms(nl, guests, GUESTS, vm);
		balloon_before = esxmem_vm_state_pages(vm[GROWER], ESXMEM_PAGE_BALLOONED);
		if (balloon_before >= 256)
			break;
		demo_check_guests(guests, GUESTS);
		usleep(SAMPLE_SECS * 1000000);
	}
	REQUIRE(balloon_before >= 256, "the grower's balloon held less than 1 MiB for %d s",
		DEFLATE_SECS);
	printf("demo: -- calm2 stops; the grower's balloon holds %.1f MiB --\n",
	       demo_mib(balloon_before));
	kill(guests[CALM2].pid, SIGKILL);
	waitpid(guests[CALM2].pid, NULL, 0);
	guests[CALM2].pid = 0;
	balloon_after = balloon_before;
	for (t0 = esx_now(), t = 0; t <= DEFLATE_SECS; t = esx_now() - t0) {
		demo_read_vms(nl, guests, GUESTS, vm);
		esxmem_pool_info_free(pool);
		REQUIRE_OK(esxmem_pool_get(nl, &pool));
		state = esxmem_pool_value(pool, ESXMEM_POOL_STATE) < ESXMEM_STATE_NR ? esxmem_pool_value(pool, ESXMEM_POOL_STATE) : ESXMEM_STATE_LOW;
		balloon_after = esxmem_vm_state_pages(vm[GROWER], ESXMEM_PAGE_BALLOONED);
		printf("demo: %5.0fs %-5s %4.0f MiB  grower %3.0f/%3.0f balloon %2.0f  calm1 %3.0f/%3.0f balloon %2.0f\n",
		       t, state_names[state], esxmem_pool_free_pages(pool) / 256.0,
		       demo_mib(esxmem_vm_value(vm[GROWER], ESXMEM_VM_CONSUMED_PAGES)), demo_mib(esxmem_vm_value(vm[GROWER], ESXMEM_VM_TARGET_PAGES)),
		       demo_mib(balloon_after), demo_mib(esxmem_vm_value(vm[CALM1], ESXMEM_VM_CONSUMED_PAGES)),
		       demo_mib(esxmem_vm_value(vm[CALM1], ESXMEM_VM_TARGET_PAGES)),
		       demo_mib(esxmem_vm_state_pages(vm[CALM1], ESXMEM_PAGE_BALLOONED)));
		demo_check_guests(guests, CALM1 + 1);
		if (state == ESXMEM_STATE_HIGH && balloon_after <= balloon_before / 4)
			break;
		usleep(SAMPLE_SECS * 1000000);
	}
	demo_show_status();
	printf("summary: pressure balloon_before_high_mib %.1f\n", demo_mib(balloon_before));
	printf("summary: pressure balloon_in_high_mib %.1f\n", demo_mib(balloon_after));
	printf("summary: pressure deflated_after_s %.0f\n", t);
	REQUIRE(state == ESXMEM_STATE_HIGH && balloon_after <= balloon_before / 4,
		"in the high state the grower's balloon did not deflate: %.1f MiB of %.1f left after %.0f s",
		demo_mib(balloon_after), demo_mib(balloon_before), t);
	printf("demo: the pool is high again and the grower's balloon deflated from %.1f to\n"
	       "demo: %.1f MiB in %.0f s; every guest left is up.\n", demo_mib(balloon_before),
	       demo_mib(balloon_after), t);
	return demo_done();
}
