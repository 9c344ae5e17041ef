// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem: ESX-style memory resource management for KVM guests.
 *
 * The module owns the machine pages behind guest RAM: a VMM maps guest RAM
 * from /dev/esxmem, and esxmem backs, shares and reclaims those pages.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <net/genetlink.h>

#include "esxmem.h"

static unsigned long pool_pages;
module_param(pool_pages, ulong, 0444);
MODULE_PARM_DESC(pool_pages,
		 "Machine pages esxmem may back in total (default: RAM less max(1/8 of RAM, 256 MiB))");

static unsigned long default_pool_pages(void)
{
	unsigned long ram = totalram_pages();
	unsigned long reserve = max(ram / 8, 256UL << (20 - PAGE_SHIFT));

	return ram > 2 * reserve ? ram - reserve : ram / 2;
}

static int __init esxmem_init(void)
{
	int err;

	if (pool_pages > totalram_pages()) {
		pr_err("esxmem: pool_pages=%lu exceeds RAM (%lu pages)\n",
		       pool_pages, totalram_pages());
		return -EINVAL;
	}
	esxmem_pool_init(pool_pages ?: default_pool_pages());

	err = esxmem_share_init();
	if (err)
		return err;
	err = esxmem_sample_init();
	if (err)
		goto err_share;
	err = esxmem_reclaim_init();
	if (err)
		goto err_sample;
	err = esxmem_sysfs_init();
	if (err)
		goto err_reclaim;
	err = esxmem_fs_init();
	if (err)
		goto err_sysfs;
	err = esxmem_device_init();
	if (err)
		goto err_fs;
	/* Last: from here on the control plane answers. */
	err = esxmem_netlink_init();
	if (err)
		goto err_device;
	pr_info("esxmem: pool of %lu pages\n", esxmem_pool.pages);
	return 0;

err_device:
	esxmem_device_exit();
err_fs:
	esxmem_fs_exit();
err_sysfs:
	esxmem_sysfs_exit();
err_reclaim:
	esxmem_reclaim_exit();
err_sample:
	esxmem_sample_exit();
err_share:
	esxmem_share_exit();
	return err;
}

static void __exit esxmem_exit(void)
{
	esxmem_netlink_exit();
	esxmem_device_exit();
	esxmem_fs_exit();
	esxmem_sysfs_exit();
	esxmem_reclaim_exit();
	esxmem_sample_exit();
	esxmem_share_exit();
	esxmem_held_exit();
	esxmem_zero_exit();
}

module_init(esxmem_init);
module_exit(esxmem_exit);
/* The compression cache: zsmalloc and LZ4 are modules in distribution kernels. */
MODULE_SOFTDEP("pre: zsmalloc lz4_compress");
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ESX-style memory resource management for KVM guests");
MODULE_ALIAS_FS("esxmem");
MODULE_ALIAS_GENL_FAMILY(ESXMEM_GENL_NAME);
