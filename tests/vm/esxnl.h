/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for in-VM tests that talk to esxmem.ko over netlink through
 * libesxmem. Include after vmtest.h: failures end the test (REQUIRE).
 */
#ifndef ESXMEM_TESTS_ESXNL_H
#define ESXMEM_TESTS_ESXNL_H

#include <stdint.h>

#include <libesxmem/libesxmem.h>

#include "vmtest.h"

/*
 * VM @id as the module reports it now. The test keeps it (in-VM test
 * programs are short-lived) or frees it with esxmem_vm_info_free().
 */
static inline struct esxmem_vm_info *esx_vm_info(struct esxmem *nl, uint32_t id)
{
	struct esxmem_vm_info *vi;

	REQUIRE_OK(esxmem_vm_get(nl, id, &vi));
	return vi;
}

/* How many of VM @id's pages are in @state now. */
static inline uint64_t esx_vm_state_pages(struct esxmem *nl, uint32_t id,
					  enum esxmem_page_state state)
{
	struct esxmem_vm_info *vi = esx_vm_info(nl, id);
	uint64_t n = esxmem_vm_state_pages(vi, state);

	esxmem_vm_info_free(vi);
	return n;
}

/* VM @id's swap target and compression cache limit. */
static inline void esx_set_reclaim(struct esxmem *nl, uint32_t id, uint64_t target,
				   uint64_t compress_max)
{
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_SWAP_TARGET_PAGES | ESXMEM_VM_SET_COMPRESS_MAX_PAGES,
		.swap_target_pages = target, .compress_max_pages = compress_max,
	};

	REQUIRE_OK(esxmem_vm_set(nl, id, &s));
}

#endif /* ESXMEM_TESTS_ESXNL_H */
