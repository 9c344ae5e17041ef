// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_autoload: looking up the generic netlink family "esxmem" loads the
 * module (MODULE_ALIAS_GENL_FAMILY), as it does for a daemon started
 * before anyone ran modprobe; and the module's alias reaches modules.alias.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>
#include <sys/utsname.h>

int main(void)
{
	struct esxmem_pool_info *pool;
	struct esxmem *h;
	struct utsname u;
	char cmd[512];

	REQUIRE(uname(&u) == 0, "uname");
	/* A module tree with our module and the KVM modules it needs. */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p /lib/modules/%s/extra && "
		 "cp /lib/modules/host/*.ko /lib/modules/esxmem/esxmem.ko /lib/modules/%s/extra/ && "
		 "depmod && grep -q 'net-pf-16-proto-16-family-esxmem' /lib/modules/%s/modules.alias",
		 u.release, u.release, u.release);
	REQUIRE(system(cmd) == 0, "depmod did not record the family alias");
	REQUIRE(system("echo /bin/modprobe > /proc/sys/kernel/modprobe") == 0, "modprobe path");

	REQUIRE(system("rmmod esxmem") == 0, "rmmod esxmem");
	REQUIRE(access("/sys/kernel/mm/esxmem", F_OK) != 0, "module still there");

	CHECK_OK(esxmem_open(&h));
	CHECK(access("/sys/kernel/mm/esxmem/state", R_OK) == 0, "the lookup loaded the module");
	if (h) {
		CHECK_OK(esxmem_pool_get(h, &pool));
		CHECK(esxmem_pool_value(pool, ESXMEM_POOL_STATE) == ESXMEM_STATE_HIGH, "fresh module state");
		esxmem_close(h);
	}
	return vmtest_done("esxmem_autoload");
}
