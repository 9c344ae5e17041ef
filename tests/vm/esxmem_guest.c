// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_guest: a KVM guest runs on /dev/esxmem memory.
 *
 *  - the guest writes a pattern over 256 pages; the host reads every byte
 *    back through a second, separate mapping of the object;
 *  - the host writes a new pattern through that mapping; the guest checks
 *    it with no mismatch (and finds exactly one after the host flips one
 *    dword);
 *  - guest reads of untouched memory cost no machine page (zero frame),
 *    and its later writes break copy-on-write correctly;
 *  - a hole punched under the running guest reads as zeros in the guest.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#define PAGES 256
#define RAM_GPA 0x100000u

static uint32_t guest(struct vmm *vm, enum vmm_routine r, uint32_t first_page,
		      uint32_t pages, uint32_t seed)
{
	struct vmm_regs regs = { .ebx = RAM_GPA + first_page * ESX_PAGE, .ecx = pages,
				 .edx = seed };

	REQUIRE_OK(vmm_call(vm, r, &regs));
	return regs.eax;
}

int main(void)
{
	int fd = esx_open();
	uint8_t *host;
	struct vmm *vm;
	uint64_t bad;

	esx_background_off();
	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(vm, 0x1000));
	REQUIRE_OK(vmm_add_slot(vm, 1, RAM_GPA, PAGES * ESX_PAGE, fd, 0));
	host = esx_map(fd, PAGES, 0);
	REQUIRE(host, "second mapping: %s", strerror(errno));

	/* Guest reads of fresh memory: all zero, nothing consumed. */
	CHECK(guest(vm, VMM_CHECK, 0, PAGES, 0) != 0, "fresh memory is not the pattern");
	guest(vm, VMM_TOUCH, 0, PAGES, 0);
	CHECK(esx_stats(fd).consumed_pages == 0, "guest reads consumed %llu pages",
	      (unsigned long long)esx_stats(fd).consumed_pages);

	/* Guest writes, host reads. */
	guest(vm, VMM_FILL, 0, PAGES, 0x1234);
	bad = vmm_pattern_check(host, RAM_GPA, PAGES * ESX_PAGE, 0x1234, NULL);
	CHECK(bad == 0, "host sees %llu wrong dwords of the guest's pattern",
	      (unsigned long long)bad);
	CHECK(esx_stats(fd).consumed_pages == PAGES, "guest writes consumed %llu pages",
	      (unsigned long long)esx_stats(fd).consumed_pages);
	CHECK(esx_stats(fd).cow_breaks >= PAGES, "zero-frame copy-on-write breaks");

	/* Host writes, guest reads. */
	vmm_pattern_fill(host, RAM_GPA, PAGES * ESX_PAGE, 0xbeef);
	CHECK(guest(vm, VMM_CHECK, 0, PAGES, 0xbeef) == 0, "guest sees the host's pattern");
	((uint32_t *)host)[PAGES * ESX_PAGE / 8] ^= 1;
	CHECK(guest(vm, VMM_CHECK, 0, PAGES, 0xbeef) == 1, "guest sees the one flipped dword");

	/* A hole punched under the running guest. */
	CHECK_OK(esx_punch(fd, 16 * ESX_PAGE, 16 * ESX_PAGE));
	CHECK(guest(vm, VMM_CHECK, 0, 16, 0xbeef) == 0, "pages before the hole intact");
	CHECK(guest(vm, VMM_CHECK, 16, 16, 0xbeef) == 16 * 1024, "the hole is not the pattern");
	CHECK(esx_is_zero(host + 16 * ESX_PAGE, 16 * ESX_PAGE), "the hole reads zero");
	guest(vm, VMM_FILL, 16, 16, 0x77);
	CHECK(vmm_pattern_check(host + 16 * ESX_PAGE, RAM_GPA + 16 * ESX_PAGE, 16 * ESX_PAGE,
				0x77, NULL) == 0, "guest refills the hole");

	vmm_destroy(vm);
	munmap(host, PAGES * ESX_PAGE);
	close(fd);
	return vmtest_done("esxmem_guest");
}
