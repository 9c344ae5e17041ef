// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_unmerge: isolation that can be revoked, and shared frames that no
 * VM places.
 *
 * Two VMs of one sharing domain hold the same content and share it. Then:
 *  - the shared frames are pages of their own: none is the machine page
 *    either VM's data was in before (a VM must not choose where another
 *    VM's data lives);
 *  - moving one VM to another domain gives its pages copies of their own
 *    before the request returns;
 *  - so does share/isolate_vms=1 for every VM, and the flag
 *    ESXMEM_VM_F_NO_SHARING for its VM;
 *  - share/enabled=2 stops the scanner and unmerges everything;
 * each time every byte of both VMs stays as written, and they share again
 * once the rule is lifted. Sharing knobs are restored on exit.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>

#define PAGES		64u
#define WAIT_SECS	120.0

struct vm {
	int fd;
	uint32_t id;
	unsigned char *map;
};

static struct esxmem *nl;
static char saved_rate[32], saved_vm_rate[32], saved_isolate[8];

static void restore(void)
{
	esx_sysfs_write("share/pages_per_sec", saved_rate);
	esx_sysfs_write("share/vm_pages_per_sec", saved_vm_rate);
	esx_sysfs_write("share/isolate_vms", saved_isolate);
}

static void fill(unsigned char *p, unsigned int i)
{
	for (size_t b = 0; b < ESX_PAGE; b++)
		p[b] = (unsigned char)(i * 13 + b * 7 + (b >> 9));
}

static unsigned int wrong(const struct vm *v)
{
	static unsigned char want[ESX_PAGE];
	unsigned int bad = 0;

	for (unsigned int i = 0; i < PAGES; i++) {
		fill(want, i);
		bad += !!memcmp(v->map + (size_t)i * ESX_PAGE, want, ESX_PAGE);
	}
	return bad;
}

static uint64_t shared(const struct vm *v)
{
	return esx_stats(v->fd).state_pages[ESXMEM_PAGE_SHARED];
}

/* The machine page behind @p (root sees pfns), after a read maps it. */
static uint64_t pfn_of(const volatile unsigned char *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	(void)p[0];
	if (fd >= 0) {
		if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / ESX_PAGE * 8)) != sizeof(e))
			e = 0;
		close(fd);
	}
	return (e >> 63) ? (e & ((1ULL << 55) - 1)) : 0;
}

static void set_vm(const struct vm *v, uint32_t set, uint32_t domain, uint32_t flags)
{
	struct esxmem_vm_settings s = { .set = set, .domain = domain, .flags = flags };

	REQUIRE_OK(esxmem_vm_set(nl, v->id, &s));
}

static void vm_new(struct vm *v)
{
	v->fd = esx_open();
	v->map = esx_map(v->fd, PAGES, 0);
	REQUIRE(v->map, "mmap: %s", strerror(errno));
	v->id = esx_stats(v->fd).id;
	set_vm(v, ESXMEM_VM_SET_DOMAIN, 7, 0);
	for (unsigned int i = 0; i < PAGES; i++)
		fill(v->map + (size_t)i * ESX_PAGE, i);
}

static bool both_share(const struct vm *a, const struct vm *b)
{
	return ESX_WAIT_FOR(shared(a) == PAGES && shared(b) == PAGES, WAIT_SECS);
}

static long used0;

int main(void)
{
	uint64_t before_a[PAGES], before_b[PAGES];
	unsigned int i, reused = 0;
	struct vm a, b;

	esx_background_off();
	used0 = esx_pool_settled(60);
	esx_sysfs_string("share/pages_per_sec", saved_rate, sizeof(saved_rate));
	esx_sysfs_string("share/vm_pages_per_sec", saved_vm_rate, sizeof(saved_vm_rate));
	esx_sysfs_string("share/isolate_vms", saved_isolate, sizeof(saved_isolate));
	atexit(restore);
	REQUIRE_OK(esx_sysfs_write("share/pages_per_sec", "100000"));
	REQUIRE_OK(esx_sysfs_write("share/vm_pages_per_sec", "100000"));
	REQUIRE_OK(esx_sysfs_write("share/isolate_vms", "0"));
	REQUIRE_OK(esxmem_open(&nl));

	vm_new(&a);
	vm_new(&b);
	for (i = 0; i < PAGES; i++) {
		before_a[i] = pfn_of(a.map + (size_t)i * ESX_PAGE);
		before_b[i] = pfn_of(b.map + (size_t)i * ESX_PAGE);
	}
	REQUIRE(before_a[0] && before_b[0], "no pfns in /proc/self/pagemap");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE(both_share(&a, &b), "shared: %llu and %llu of %u",
		(unsigned long long)shared(&a), (unsigned long long)shared(&b), PAGES);
	for (i = 0; i < PAGES; i++) {
		uint64_t frame = pfn_of(a.map + (size_t)i * ESX_PAGE);

		CHECK(frame == pfn_of(b.map + (size_t)i * ESX_PAGE), "page %u: two frames", i);
		reused += frame == before_a[i] || frame == before_b[i];
	}
	CHECK(reused == 0, "%u of %u shared frames are a page a VM had written", reused,
	      PAGES);

	/* Another domain: B's pages are its own when the request returns. */
	set_vm(&b, ESXMEM_VM_SET_DOMAIN, 8, 0);
	CHECK(shared(&b) == 0, "after a domain change B still shares %llu pages",
	      (unsigned long long)shared(&b));
	CHECK(wrong(&a) == 0 && wrong(&b) == 0, "pages wrong after the domain change");
	set_vm(&b, ESXMEM_VM_SET_DOMAIN, 7, 0);
	CHECK(both_share(&a, &b), "not shared again after the domain came back");

	/* isolate_vms: every VM alone, at once. */
	REQUIRE_OK(esx_sysfs_write("share/isolate_vms", "1"));
	CHECK(shared(&a) == 0 && shared(&b) == 0, "isolate_vms left %llu and %llu shared",
	      (unsigned long long)shared(&a), (unsigned long long)shared(&b));
	CHECK(wrong(&a) == 0 && wrong(&b) == 0, "pages wrong after isolate_vms");
	REQUIRE_OK(esx_sysfs_write("share/isolate_vms", "0"));
	CHECK(both_share(&a, &b), "not shared again after isolate_vms=0");

	/* No sharing for one VM. */
	set_vm(&a, ESXMEM_VM_SET_FLAGS, 0, ESXMEM_VM_F_NO_SHARING);
	CHECK(shared(&a) == 0, "with NO_SHARING A still shares %llu pages",
	      (unsigned long long)shared(&a));
	CHECK(wrong(&a) == 0 && wrong(&b) == 0, "pages wrong after NO_SHARING");
	set_vm(&a, ESXMEM_VM_SET_FLAGS, 0, 0);
	CHECK(both_share(&a, &b), "not shared again after NO_SHARING went");

	/* enabled=2: stop and unmerge everything. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "2"));
	CHECK(shared(&a) == 0 && shared(&b) == 0 && esx_sysfs_long("share/pages_sharing") == 0,
	      "enabled=2 left %llu and %llu shared, %ld in all", (unsigned long long)shared(&a),
	      (unsigned long long)shared(&b), esx_sysfs_long("share/pages_sharing"));
	CHECK(esx_sysfs_long("share/enabled") == 0, "enabled=2 reads back %ld",
	      esx_sysfs_long("share/enabled"));
	CHECK(wrong(&a) == 0 && wrong(&b) == 0, "pages wrong after enabled=2");

	munmap(a.map, PAGES * ESX_PAGE);
	munmap(b.map, PAGES * ESX_PAGE);
	close(a.fd);
	close(b.fd);
	esxmem_close(nl);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_unmerge");
}
