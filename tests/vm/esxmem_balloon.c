// SPDX-License-Identifier: GPL-2.0
/*
 * Ballooning in the module (ESXMEM_CMD_BALLOON) with a tiny-VMM guest on
 * esxmem, attached to KVM:
 *
 *  - frames the balloon holds give their machine pages back to the pool
 *    and become BALLOONED; the rest of the guest's memory is untouched;
 *  - a guest that touches a ballooned frame anyway reads zeros and can
 *    write it (a fresh page), and nothing else changes;
 *  - released frames are no longer ballooned;
 *  - holding a held frame or releasing a free one changes nothing;
 *  - bad requests change nothing: frames outside the guest's RAM, twice in
 *    a batch, an empty or oversized batch, a VM not attached to KVM, no
 *    such VM, no privilege.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"
#include <libesxmem/libesxmem.h>

#define PAGES		1024u
#define RAM_GPA		0x100000u
#define RAM_GFN		(RAM_GPA / 4096)
#define CODE_GPA	0x1000u
#define SEED		0x77

static struct esxmem *nl;

static uint64_t state(uint32_t id, enum esxmem_page_state s)
{
	struct esxmem_vm_info *info;
	uint64_t n;

	REQUIRE_OK(esxmem_vm_get(nl, id, &info));
	n = esxmem_vm_state_pages(info, s);
	esxmem_vm_info_free(info);
	return n;
}

static uint32_t check(struct vmm *vm, uint32_t first, uint32_t pages)
{
	struct vmm_regs r = { .ebx = RAM_GPA + first * 4096, .ecx = pages, .edx = SEED };

	REQUIRE_OK(vmm_call(vm, VMM_CHECK, &r));
	return r.eax;
}

int main(void)
{
	uint64_t gfns[ESXMEM_BALLOON_BATCH_MAX + 1], bad[2];
	struct vmm_regs r = { .ebx = RAM_GPA, .ecx = PAGES, .edx = SEED };
	long used0, used;
	struct vmm *vm;
	uint32_t id, i;
	uint8_t *host;
	int fd, other;

	REQUIRE_OK(esxmem_open(&nl));
	esx_background_off();
	fd = esx_open();
	id = esx_stats(fd).id;
	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(vm, 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, fd, 0));
	host = esx_map(fd, PAGES, 0);
	REQUIRE(host, "host mapping");
	REQUIRE_OK(vmm_call(vm, VMM_FILL, &r));

	/* Not attached yet: the module cannot read guest frames. */
	gfns[0] = RAM_GFN;
	CHECK(esxmem_vm_balloon(nl, id, gfns, 1, false) == -ENOTCONN,
	      "not attached to KVM: ENOTCONN");
	REQUIRE_OK(esxmem_kvm_attach(nl, id, vmm_vm_fd(vm)));

	/* A full batch: the first 512 pages of RAM, in reverse order. */
	for (i = 0; i < ESXMEM_BALLOON_BATCH_MAX; i++)
		gfns[i] = RAM_GFN + ESXMEM_BALLOON_BATCH_MAX - 1 - i;
	used0 = esx_sysfs_long("used_pages");
	CHECK_OK(esxmem_vm_balloon(nl, id, gfns, ESXMEM_BALLOON_BATCH_MAX, false));
	used = esx_sysfs_long("used_pages");
	CHECK(used0 - used == ESXMEM_BALLOON_BATCH_MAX,
	      "ballooned pages go back to the pool: %ld fewer", used0 - used);
	CHECK(state(id, ESXMEM_PAGE_BALLOONED) == ESXMEM_BALLOON_BATCH_MAX &&
	      state(id, ESXMEM_PAGE_PRIVATE) == PAGES - ESXMEM_BALLOON_BATCH_MAX,
	      "pages ballooned: %llu", (unsigned long long)state(id, ESXMEM_PAGE_BALLOONED));
	CHECK(check(vm, ESXMEM_BALLOON_BATCH_MAX, PAGES - ESXMEM_BALLOON_BATCH_MAX) == 0,
	      "the rest of the guest's memory is as written");

	/* Bad requests change nothing. */
	bad[0] = RAM_GFN + 600;
	bad[1] = RAM_GFN + PAGES;	/* past the RAM slot */
	CHECK(esxmem_vm_balloon(nl, id, bad, 2, false) == -ERANGE &&
	      strstr(esxmem_errmsg(nl), "not in the guest's RAM"), "a frame outside RAM: ERANGE");
	bad[1] = 0x10;			/* the code slot: anonymous memory */
	CHECK(esxmem_vm_balloon(nl, id, bad, 2, false) == -ERANGE, "a frame not on esxmem: ERANGE");
	bad[1] = bad[0];
	CHECK(esxmem_vm_balloon(nl, id, bad, 2, false) == -EEXIST, "a frame twice: EEXIST");
	bad[1] = RAM_GFN;
	CHECK_OK(esxmem_vm_balloon(nl, id, bad + 1, 1, false));	/* ballooned already */
	CHECK_OK(esxmem_vm_balloon(nl, id, bad, 1, true));	/* not ballooned */
	CHECK(esxmem_vm_balloon(nl, id, gfns, 0, false) == -EINVAL &&
	      esxmem_vm_balloon(nl, id, gfns, ESXMEM_BALLOON_BATCH_MAX + 1, false) == -EINVAL,
	      "empty and oversized batches refused");
	CHECK(esxmem_vm_balloon(nl, 0x7ffffff0, bad, 1, false) == -ENOENT, "no such VM");
	CHECK(esx_sysfs_long("used_pages") == used &&
	      state(id, ESXMEM_PAGE_BALLOONED) == ESXMEM_BALLOON_BATCH_MAX &&
	      check(vm, 600, 1) == 0, "refused requests changed nothing");

	/* The guest touches a ballooned page anyway: zeros, then its write. */
	CHECK(esx_is_zero(host + 5 * ESX_PAGE, ESX_PAGE), "a ballooned page reads zero");
	r = (struct vmm_regs){ .ebx = RAM_GPA + 7 * 4096, .ecx = 1, .edx = SEED };
	REQUIRE_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(check(vm, 7, 1) == 0 && state(id, ESXMEM_PAGE_PRIVATE) ==
	      PAGES - ESXMEM_BALLOON_BATCH_MAX + 1, "a written ballooned page is the guest's again");

	/*
	 * Release: pages 5 (read) and 7 (written) were touched, so they are
	 * no longer ballooned and stay the guest's; the rest go.
	 */
	CHECK(state(id, ESXMEM_PAGE_BALLOONED) == ESXMEM_BALLOON_BATCH_MAX - 2,
	      "touched pages leave the balloon: %llu left",
	      (unsigned long long)state(id, ESXMEM_PAGE_BALLOONED));
	for (i = 0; i < ESXMEM_BALLOON_BATCH_MAX; i++)
		gfns[i] = RAM_GFN + i;
	CHECK_OK(esxmem_vm_balloon(nl, id, gfns, ESXMEM_BALLOON_BATCH_MAX, true));
	CHECK(state(id, ESXMEM_PAGE_BALLOONED) == 0, "released: %llu still ballooned",
	      (unsigned long long)state(id, ESXMEM_PAGE_BALLOONED));

	/* Mutating commands need CAP_NET_ADMIN. */
	other = fork();
	if (other == 0) {
		if (setuid(65534))
			_exit(2);
		_exit(esxmem_vm_balloon(nl, id, gfns, 1, false) == -EPERM ? 0 : 1);
	}
	{
		int status;

		REQUIRE(waitpid(other, &status, 0) == other, "wait");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody: EPERM");
	}

	vmm_destroy(vm);
	munmap(host, (size_t)PAGES * ESX_PAGE);
	close(fd);
	esxmem_close(nl);
	return vmtest_done("esxmem_balloon");
}
