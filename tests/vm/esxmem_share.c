// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_share: content-based page sharing with tiny-VMM KVM guests.
 *
 *  - two VMs of one sharing domain whose guests write the same content end
 *    up sharing every page, and the pool holds one copy;
 *  - a guest write after sharing breaks copy-on-write: the writer sees its
 *    data, the other VM its old content; so do a host write and a hole
 *    punched inside a shared page;
 *  - a VM of another domain with that same content never shares, nor do
 *    two VMs of one domain while isolate_vms is 1 (and they do once it is
 *    0 again); a VM of domain 0 shares only within itself;
 *  - pages written to zeros become zero pages and free their memory;
 *  - a page that changes between its hint and the match is not shared;
 *  - 10,000 random guest writes racing the scanner at full rate, into two
 *    VMs whose pages keep becoming identical, leave every byte of both
 *    exactly as written.
 * Sharing knobs are restored on exit.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#include <libesxmem/libesxmem.h>
#include <time.h>

#define PAGES		512u
#define RAM_GPA		0x100000u
#define CODE_GPA	0x1000u
#define WAIT_SECS	120.0
#define RACE_PAGES	1024u
#define RACE_WRITES	10000u
#define RACE_BATCH	50u

struct guest {
	int fd;
	struct vmm *vm;
	uint8_t *host;
	uint32_t id;
	uint32_t pages;
};

static struct esxmem *nl;

#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static void guest_new(struct guest *g, uint32_t pages, uint32_t domain)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = domain };

	g->pages = pages;
	g->fd = esx_open();
	REQUIRE_OK(vmm_create(&g->vm));
	REQUIRE_OK(vmm_add_slot(g->vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(g->vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(g->vm, 1, RAM_GPA, (uint64_t)pages * ESX_PAGE, g->fd, 0));
	g->host = esx_map(g->fd, pages, 0);
	REQUIRE(g->host, "host mapping: %s", strerror(errno));
	g->id = esx_stats(g->fd).id;
	REQUIRE_OK(esxmem_vm_set(nl, g->id, &s));
}

/* Frees @g and waits until it is gone: the scanner may hold it a while. */
static void guest_free(struct guest *g)
{
	struct esxmem_vm_info *info;

	vmm_destroy(g->vm);
	munmap(g->host, (size_t)g->pages * ESX_PAGE);
	close(g->fd);
	CHECK(WAIT_FOR(esxmem_vm_get(nl, g->id, &info) == -ENOENT), "VM %u goes away", g->id);
}

static uint32_t run(struct guest *g, enum vmm_routine r, uint32_t first, uint32_t pages,
		    uint32_t seed)
{
	struct vmm_regs regs = { .ebx = RAM_GPA + first * ESX_PAGE, .ecx = pages,
				 .edx = seed };

	REQUIRE_OK(vmm_call(g->vm, r, &regs));
	return regs.eax;
}

static uint64_t shared(struct guest *g)
{
	return esx_stats(g->fd).state_pages[ESXMEM_PAGE_SHARED];
}

static uint64_t full_scans(struct guest *g)
{
	return esx_stats(g->fd).full_scans;
}

/* Waits until @g has been scanned in full @n more times. */
static bool scanned(struct guest *g, uint64_t n)
{
	uint64_t goal = full_scans(g) + n;

	return WAIT_FOR(full_scans(g) >= goal);
}

static void same_domain_shares(void)
{
	/* Frames the part before left are reaped by the scanner a moment later. */
	long used0 = esx_pool_settled(10);
	struct guest a, b;
	uint8_t *before;

	guest_new(&a, PAGES, 5);
	guest_new(&b, PAGES, 5);
	run(&a, VMM_FILL, 0, PAGES, 0x51);
	run(&b, VMM_FILL, 0, PAGES, 0x51);
	CHECK(WAIT_FOR(shared(&a) == PAGES && shared(&b) == PAGES),
	      "same domain: %llu and %llu of %u pages shared",
	      (unsigned long long)shared(&a), (unsigned long long)shared(&b), PAGES);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") - used0 == PAGES),
	      "the pool holds %ld pages for two identical VMs of %u",
	      esx_sysfs_long("used_pages") - used0, PAGES);
	CHECK(run(&a, VMM_CHECK, 0, PAGES, 0x51) == 0 && run(&b, VMM_CHECK, 0, PAGES, 0x51) == 0,
	      "shared pages keep their content");

	/* Guest write: copy-on-write, the other VM unchanged. */
	run(&a, VMM_FILL, 3, 1, 0x99);
	CHECK(run(&a, VMM_CHECK, 3, 1, 0x99) == 0, "the writer sees its write");
	CHECK(run(&b, VMM_CHECK, 0, PAGES, 0x51) == 0, "the other VM is unchanged");
	CHECK(esx_stats(a.fd).cow_breaks >= 1 && shared(&a) == PAGES - 1,
	      "copy-on-write break: %llu, shared %llu",
	      (unsigned long long)esx_stats(a.fd).cow_breaks, (unsigned long long)shared(&a));

	/* Host write through the mapping: same. */
	before = malloc(ESX_PAGE);
	REQUIRE(before, "malloc");
	memcpy(before, a.host + 4 * ESX_PAGE, ESX_PAGE);
	memset(b.host + 4 * ESX_PAGE, 0xa5, 100);
	CHECK(!memcmp(before, a.host + 4 * ESX_PAGE, ESX_PAGE), "host write stays in its VM");
	CHECK(b.host[4 * ESX_PAGE + 99] == 0xa5 && run(&b, VMM_CHECK, 4, 1, 0x51) == 25,
	      "the host's write is in the writer's VM");
	free(before);

	/* A hole inside a shared page: zeros there, in that VM only. */
	CHECK_OK(esx_punch(b.fd, 5 * ESX_PAGE + 100, 200));
	CHECK(esx_is_zero(b.host + 5 * ESX_PAGE + 100, 200) &&
	      run(&b, VMM_CHECK, 5, 1, 0x51) == 50, "the partial hole reads zero");
	CHECK(run(&a, VMM_CHECK, 5, 1, 0x51) == 0, "the other VM keeps the page");

	guest_free(&a);
	guest_free(&b);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == used0), "every page back to the pool");
}

static void domains_separate(void)
{
	struct guest a, b, c;

	guest_new(&a, PAGES, 5);
	guest_new(&b, PAGES, 6);
	run(&a, VMM_FILL, 0, PAGES, 0x52);
	run(&b, VMM_FILL, 0, PAGES, 0x52);
	CHECK(scanned(&a, 2) && scanned(&b, 2), "scans of two domains");
	CHECK(shared(&a) == 0 && shared(&b) == 0, "different domains: %llu and %llu shared",
	      (unsigned long long)shared(&a), (unsigned long long)shared(&b));
	CHECK(esx_stats(a.fd).hints > 0 && esx_stats(b.fd).hints > 0, "unshared pages are hints");

	/* isolate_vms: even one domain does not share. */
	REQUIRE_OK(esx_sysfs_write("share/isolate_vms", "1"));
	guest_new(&c, PAGES, 5);
	run(&c, VMM_FILL, 0, PAGES, 0x52);
	CHECK(scanned(&a, 2) && scanned(&c, 2), "scans while isolated");
	CHECK(shared(&a) == 0 && shared(&c) == 0, "isolate_vms: %llu and %llu shared",
	      (unsigned long long)shared(&a), (unsigned long long)shared(&c));
	REQUIRE_OK(esx_sysfs_write("share/isolate_vms", "0"));
	CHECK(WAIT_FOR(shared(&a) == PAGES && shared(&c) == PAGES),
	      "not isolated: %llu and %llu shared (hints %llu %llu %llu, table full %ld, evicted %ld, dropped %ld, collisions %ld, hints %ld, frames %ld)", (unsigned long long)shared(&a),
	      (unsigned long long)shared(&c), (unsigned long long)esx_stats(a.fd).hints,
	      (unsigned long long)esx_stats(b.fd).hints, (unsigned long long)esx_stats(c.fd).hints,
	      esx_sysfs_long("share/table_full"), esx_sysfs_long("share/hints_evicted"),
	      esx_sysfs_long("share/hints_dropped"), esx_sysfs_long("share/collisions"),
	      esx_sysfs_long("share/hints"), esx_sysfs_long("share/pages_shared"));
	CHECK(shared(&b) == 0, "domain 6 still shares nothing");
	guest_free(&a);
	guest_free(&b);
	guest_free(&c);

	/* Domain 0: sharing within the VM only. */
	guest_new(&a, 64, 0);
	guest_new(&b, 64, 0);
	for (int i = 0; i < 64; i++) {
		memset(a.host + i * ESX_PAGE, 0x3c, ESX_PAGE);
		memset(b.host + i * ESX_PAGE, 0x3c, ESX_PAGE);
	}
	CHECK(WAIT_FOR(shared(&a) == 64 && shared(&b) == 64), "domain 0 shares within a VM");
	CHECK(esx_stats(a.fd).consumed_pages == 0 && esx_sysfs_long("share/pages_shared") >= 2,
	      "one frame per VM: %ld frames", esx_sysfs_long("share/pages_shared"));
	guest_free(&a);
	guest_free(&b);
}

static void zero_pages(void)
{
	/* Frames the part before left are reaped by the scanner a moment later. */
	long used0 = esx_pool_settled(10);
	struct guest a;

	guest_new(&a, PAGES, 0);
	run(&a, VMM_FILL, 0, PAGES, 0x53);
	memset(a.host, 0, (PAGES / 2) * ESX_PAGE);
	CHECK(WAIT_FOR(esx_stats(a.fd).state_pages[ESXMEM_PAGE_ZERO] == PAGES / 2),
	      "zero pages found: %llu",
	      (unsigned long long)esx_stats(a.fd).state_pages[ESXMEM_PAGE_ZERO]);
	/* The scanner frees a page just after its entry changes. */
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") - used0 == PAGES / 2),
	      "zero pages freed their memory: %ld pages used",
	      esx_sysfs_long("used_pages") - used0);
	CHECK(esx_is_zero(a.host, (PAGES / 2) * ESX_PAGE) &&
	      run(&a, VMM_CHECK, PAGES / 2, PAGES / 2, 0x53) == 0, "contents kept");
	run(&a, VMM_FILL, 0, 1, 0x54);
	CHECK(run(&a, VMM_CHECK, 0, 1, 0x54) == 0 && esx_is_zero(a.host + ESX_PAGE, ESX_PAGE),
	      "a write to a zero page");
	guest_free(&a);
}

static void changed_hint_not_shared(void)
{
	long stale0 = esx_sysfs_long("share/stale_hints") +
		      esx_sysfs_long("share/hints_dropped");
	struct guest a, b;

	guest_new(&a, 64, 9);
	run(&a, VMM_FILL, 0, 64, 0x71);
	/* A page hashed while the guest was writing it may have two. */
	CHECK(WAIT_FOR(esx_stats(a.fd).hints >= 64), "hints for a VM's pages: %llu",
	      (unsigned long long)esx_stats(a.fd).hints);
	/* The hinted pages change; a VM with their old content comes. */
	run(&a, VMM_FILL, 0, 64, 0x72);
	guest_new(&b, 64, 9);
	run(&b, VMM_FILL, 0, 64, 0x71);
	CHECK(scanned(&b, 2) && scanned(&a, 1), "scans");
	CHECK(shared(&a) == 0 && shared(&b) == 0, "changed pages shared: %llu, %llu",
	      (unsigned long long)shared(&a), (unsigned long long)shared(&b));
	CHECK(esx_sysfs_long("share/stale_hints") + esx_sysfs_long("share/hints_dropped") >
	      stale0, "the changed pages' hints found stale or dropped");
	CHECK(run(&a, VMM_CHECK, 0, 64, 0x72) == 0 && run(&b, VMM_CHECK, 0, 64, 0x71) == 0,
	      "contents as written");
	guest_free(&a);
	guest_free(&b);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void race(void)
{
	const size_t bytes = (size_t)RACE_PAGES * ESX_PAGE;
	struct vmm_write *table;
	struct guest g[2];
	uint8_t *model[2];
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	unsigned int done, i, k;

	for (k = 0; k < 2; k++) {
		guest_new(&g[k], RACE_PAGES, 11);
		run(&g[k], VMM_FILL, 0, RACE_PAGES, 0x81);
		model[k] = malloc(bytes);
		REQUIRE(model[k], "malloc");
		memcpy(model[k], g[k].host, bytes);
	}
	CHECK(WAIT_FOR(shared(&g[0]) > RACE_PAGES / 2), "sharing before the race");
	/* The table lives in the code slot, above the guest code. */
	table = vmm_gpa_range(g[0].vm, 0x8000, RACE_BATCH * sizeof(*table));
	REQUIRE(table && vmm_gpa_range(g[1].vm, 0x8000, 1), "write table");

	for (done = 0; done < RACE_WRITES; done += RACE_BATCH) {
		k = done / RACE_BATCH % 2;
		table = vmm_gpa_range(g[k].vm, 0x8000, RACE_BATCH * sizeof(*table));
		for (i = 0; i < RACE_BATCH; i++) {
			uint32_t off = (uint32_t)(rng_next(&rng) % (bytes / 4)) * 4;
			uint32_t gpa = RAM_GPA + off;
			/* Half the writes restore the original: pages merge again. */
			uint32_t v = rng_next(&rng) & 1 ? vmm_pattern(gpa, 0x81) :
							  (uint32_t)rng_next(&rng);

			table[i].gpa = gpa;
			table[i].value = v;
			memcpy(model[k] + off, &v, 4);
		}
		struct vmm_regs r = { .ebx = 0x8000, .ecx = RACE_BATCH };

		REQUIRE_OK(vmm_call(g[k].vm, VMM_WRITE_LIST, &r));
	}
	CHECK(scanned(&g[0], 1) && scanned(&g[1], 1), "scans after the race");
	for (k = 0; k < 2; k++) {
		size_t bad = 0;

		for (i = 0; i < RACE_PAGES; i++)
			bad += memcmp(g[k].host + (size_t)i * ESX_PAGE,
				      model[k] + (size_t)i * ESX_PAGE, ESX_PAGE) != 0;
		CHECK(bad == 0, "VM %u: %zu of %u pages differ from what was written", k, bad,
		      RACE_PAGES);
		free(model[k]);
	}
	printf("share: race: %u writes, %llu and %llu pages shared at the end, %llu + %llu cow breaks\n",
	       RACE_WRITES, (unsigned long long)shared(&g[0]), (unsigned long long)shared(&g[1]),
	       (unsigned long long)esx_stats(g[0].fd).cow_breaks,
	       (unsigned long long)esx_stats(g[1].fd).cow_breaks);
	guest_free(&g[0]);
	guest_free(&g[1]);
}

int main(void)
{
	char rate[32], vm_rate[32];

	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("share/pages_per_sec", rate, sizeof(rate));
	esx_sysfs_string("share/vm_pages_per_sec", vm_rate, sizeof(vm_rate));
	/* Also breaks large pages for sharing in the high state, till exit. */
	esx_share_rate("10000000");
	CHECK(esx_sysfs_write("share/pages_per_sec", "10000001") == -EINVAL &&
	      esx_sysfs_write("share/isolate_vms", "2") == -EINVAL &&
	      esx_sysfs_write("share/enabled", "x") == -EINVAL &&
	      esx_sysfs_long("share/pages_per_sec") == 10000000, "bad knob writes refused");

	same_domain_shares();
	domains_separate();
	zero_pages();
	changed_hint_not_shared();
	race();

	printf("share: %ld pages scanned, %ld full scans, %ld merges (%ld zero), %ld stale hints, scanner %ld us, metadata %ld bytes for %ld guest pages\n",
	       esx_sysfs_long("share/pages_scanned"), esx_sysfs_long("share/full_scans"),
	       esx_sysfs_long("share/merges"), esx_sysfs_long("share/zero_merges"),
	       esx_sysfs_long("share/stale_hints"), esx_sysfs_long("share/scan_cpu_us"),
	       esx_sysfs_long("share/metadata_bytes"), esx_sysfs_long("share/guest_pages"));
	esx_sysfs_write("share/pages_per_sec", rate);
	esx_sysfs_write("share/vm_pages_per_sec", vm_rate);
	esxmem_close(nl);
	return vmtest_done("esxmem_share");
}
