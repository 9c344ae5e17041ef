// SPDX-License-Identifier: GPL-2.0
/*
 * Demo scenario "sharing": three identical idle Linux guests, 256 MiB each,
 * boot on esxmem (RAM on esxmemfs) with esxmemd running, on a pool smaller
 * than their combined size. Every two seconds it shows, and records, what
 * each guest consumes and what page sharing has saved: pages mapped to the
 * zero frame and pages backed by a frame shared with identical pages
 * elsewhere. ESX found most of an idle guest's memory shareable; so should
 * this.
 *
 * Runs in the test host (make demo): "sharing [SECONDS]" (default 90).
 * Records sharing.csv (the savings, zero and non-zero pages apart) and
 * sharing-vms.csv (each guest's consumed and zero pages). Exits non-zero
 * if sharing saved less than a quarter of a guest, found no zero or no
 * non-zero pages to share, its savings fell, or a guest died.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "demo.h"

#define GUESTS		3
#define GUEST_MIB	256
#define POOL_MIB	(GUESTS * GUEST_MIB * 3 / 4)	/* 576 MiB for 768 */
#define SAMPLE_SECS	2
#define DURATION_SECS	90		/* the guests boot in ~30 s, sharing takes ~30 s */
/* On a slow or busy host, the scenario goes on past its time to its goal. */
#define LIMIT_SECS	420
#define GOAL_PAGES	(GUEST_MIB * 256 / 4)	/* a quarter of one guest */

static const char conf[] =
	"{\"balance_period\": 1, \"pool\": {\"size\": \"576M\"},\n"
	" \"control_socket\": \"" DEMO_SOCKET "\"}\n";

static struct demo_guest guests[GUESTS] = {
	{ .name = "idle1", .mib = GUEST_MIB },
	{ .name = "idle2", .mib = GUEST_MIB },
	{ .name = "idle3", .mib = GUEST_MIB },
};

/* What the scenario shows: both kinds of pages shared, and enough of them. */
static bool goal_met(uint64_t zero, uint64_t nonzero)
{
	return zero && nonzero && zero + nonzero > GOAL_PAGES;
}

int main(int argc, char **argv)
{
	long duration = argc > 1 ? strtol(argv[1], NULL, 10) : DURATION_SECS;
	uint64_t consumed = 0, zero = 0, shared, frames, saved = 0, first_saved = 0, nonzero = 0;
	struct esxmem_vm_info *vm[GUESTS] = { 0 };
	struct esxmem *nl;
	char row[256], line[256];
	double t0, t;
	int g, len, rlen;

	REQUIRE(duration >= 30 && duration <= 3600, "usage: sharing [SECONDS, 30..3600]");
	demo_begin(conf);
	REQUIRE_OK(esxmem_open(&nl));
	printf("demo: == sharing: %d identical idle Linux guests of %d MiB on a pool of %d MiB ==\n",
	       GUESTS, GUEST_MIB, POOL_MIB);
	printf("demo: The guests boot the same kernel and initramfs, so much of their memory\n"
	       "demo: is the same: esxmem finds identical pages by content and backs them by\n"
	       "demo: one copy-on-write frame, and pages of zeros by the zero frame.\n"
	       "demo: Per guest: memory consumed, pages on the zero frame, pages on shared\n"
	       "demo: frames. SAVED is what sharing spares the pool. Watch it grow.\n");
	for (g = 0; g < GUESTS; g++)
		demo_start_guest(&guests[g]);
	printf("data: sharing.csv time (s),all guests: consumed (MiB),saved: zero pages (MiB),"
	       "saved: shared non-zero pages (MiB),saved: in all (MiB)\n");
	printf("data: sharing-vms.csv time (s),idle1: consumed (MiB),idle2: consumed (MiB),"
	       "idle3: consumed (MiB),idle1: zero pages (MiB),idle2: zero pages (MiB),"
	       "idle3: zero pages (MiB)\n");
	len = snprintf(line, sizeof(line), "demo: %6s", "TIME");
	for (g = 0; g < GUESTS; g++)
		len += snprintf(line + len, sizeof(line) - len, " %5s:used/zero/shared", guests[g].name);
	printf("%s %9s\n", line, "SAVED");
	t0 = esx_now();
	/*
	 * Until the time asked for is up and the goal is met, whichever comes
	 * last: how long the guests take to boot and the scanner to pass
	 * depends on the host, and a busy one takes minutes more.
	 */
	for (t = 0; t <= duration || (t <= LIMIT_SECS && !goal_met(zero, nonzero));
	     t = esx_now() - t0) {
		consumed = zero = shared = 0;
		len = snprintf(line, sizeof(line), "demo: %5.0fs", t);
		rlen = snprintf(row, sizeof(row), "%.0f", t);
		demo_read_vms(nl, guests, GUESTS, vm);
		for (g = 0; g < GUESTS; g++) {
			consumed += esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES);
			zero += esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_ZERO);
			shared += esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_SHARED);
			len += snprintf(line + len, sizeof(line) - len, " %6.1f/%5.1f/%5.1f MiB",
					demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES)),
					demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_ZERO)),
					demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_SHARED)));
			rlen += snprintf(row + rlen, sizeof(row) - rlen, ",%.1f",
					 demo_mib(esxmem_vm_value(vm[g], ESXMEM_VM_CONSUMED_PAGES)));
		}
		for (g = 0; g < GUESTS; g++)
			rlen += snprintf(row + rlen, sizeof(row) - rlen, ",%.1f",
					 demo_mib(esxmem_vm_state_pages(vm[g], ESXMEM_PAGE_ZERO)));
		/* Pages mapped to a shared frame, less the frames themselves. */
		frames = (uint64_t)esx_sysfs_long("share/pages_shared");
		nonzero = shared > frames ? shared - frames : 0;
		saved = zero + nonzero;
		if (!first_saved && t >= 20)
			first_saved = saved;
		printf("data: sharing.csv %.0f,%.1f,%.1f,%.1f,%.1f\n", t, demo_mib(consumed),
		       demo_mib(zero), demo_mib(nonzero), demo_mib(saved));
		printf("data: sharing-vms.csv %s\n", row);
		printf("%s %6.1f MiB\n", line, demo_mib(saved));
		demo_check_guests(guests, GUESTS);
		usleep(SAMPLE_SECS * 1000000);
	}
	demo_show_status();
	printf("summary: sharing saved_mib %.1f\n", demo_mib(saved));
	printf("summary: sharing zero_saved_mib %.1f\n", demo_mib(zero));
	printf("summary: sharing nonzero_saved_mib %.1f\n", demo_mib(nonzero));
	/* Of what the guests would consume without sharing. */
	printf("summary: sharing saved_percent %.1f\n",
	       consumed + saved ? 100.0 * saved / (consumed + saved) : 0);
	REQUIRE(saved > GOAL_PAGES, "sharing saved only %.1f MiB in %.0f s", demo_mib(saved), t);
	REQUIRE(zero && nonzero, "sharing found no %s pages", zero ? "non-zero" : "zero");
	REQUIRE(saved >= first_saved, "savings fell: %.1f MiB after 20 s, %.1f MiB at the end",
		demo_mib(first_saved), demo_mib(saved));
	printf("demo: sharing saved %.1f MiB (%.1f MiB of zero pages, %.1f MiB of other pages):\n"
	       "demo: the guests consume %.1f MiB instead of %.1f MiB.\n",
	       demo_mib(saved), demo_mib(zero), demo_mib(nonzero), demo_mib(consumed),
	       demo_mib(consumed + saved));
	return demo_done();
}
