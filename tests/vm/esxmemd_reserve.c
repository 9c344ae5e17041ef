// SPDX-License-Identifier: GPL-2.0
/*
 * What esxmemd keeps for the host.
 *
 *  - Swap files against a small filesystem: a VM of 256 MiB (min 0, so its
 *    swap file should be 256 MiB) whose swap_dir is a 64 MiB tmpfs. The
 *    daemon gives it a swap file cut to what the filesystem has beyond its
 *    reserve (half of it, for so small a filesystem), says what it did not
 *    allocate, and leaves the reserve free.
 *  - The pool, left to the daemon (no pool.size): a VMM that uses 256 MiB
 *    of its own beyond guest RAM (as QEMU's heap and buffers) takes that
 *    much out of the pool while it runs; when it ends, the pool comes back.
 */
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemd-reserve.json"
#define LOG		"/tmp/esxmemd-reserve.log"
#define LOG2		"/tmp/esxmemd-reserve2.log"
#define SWAPDIR		"/tmp/esxswap-small"
#define FS_BYTES	(64ULL << 20)
#define WAIT_SECS	60.0

static uint64_t swap_slots(struct esxmem *nl, pid_t owner)
{
	struct esxmem_vm_info **vms;
	uint64_t slots = 0;
	size_t n, i;

	if (esxmem_vm_list(nl, &vms, &n))
		return 0;
	for (i = 0; i < n; i++)
		if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)owner)
			slots = esxmem_vm_value(vms[i], ESXMEM_VM_SWAP_SLOTS);
	esxmem_vm_list_free(vms, n);
	return slots;
}

int main(void)
{
	struct esxmem *nl;
	struct statvfs st;
	char pool0[32];
	uint64_t slots, left;
	pid_t guest, d;
	FILE *f;

	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	mkdir(SWAPDIR, 0700);
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=64m"), "mount a 64 MiB tmpfs");
	f = fopen(CONF, "w");
	REQUIRE(f, "create " CONF);
	fputs("{\"pool\": {\"size\": \"16M\"}, \"balance_period\": 1,\n"
	      " \"control_socket\": \"/tmp/esxmemd-reserve.sock\",\n"
	      " \"vm_defaults\": {\"reclaim\": {\"swap_dir\": \"" SWAPDIR "\"}}}\n", f);
	fclose(f);
	guest = esx_start_tinyvmm(-1, "--pages", "65536", "--touch", "0", "--name", "guest=s1",
				  NULL);
	REQUIRE(guest > 0, "start tinyvmm");
	d = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(d > 0, "fork");
	CHECK(ESX_WAIT_FOR(swap_slots(nl, guest) > 0, WAIT_SECS),
	      "the VM gets a swap file although its 256 MiB do not fit");
	slots = swap_slots(nl, guest);
	CHECK(slots <= FS_BYTES / 2 / ESX_PAGE, "cut to what leaves half the filesystem: %llu pages",
	      (unsigned long long)slots);
	REQUIRE(!statvfs(SWAPDIR, &st), "statvfs");
	left = (uint64_t)st.f_bavail * st.f_frsize;
	CHECK(left >= FS_BYTES / 2 - (1 << 20), "%llu MiB left free on the filesystem",
	      (unsigned long long)(left >> 20));
	CHECK(ESX_WAIT_FOR(esx_file_has(LOG, "short of its max - min"), WAIT_SECS),
	      "the daemon says what it did not allocate");

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	kill(guest, SIGKILL);
	waitpid(guest, NULL, 0);
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("used_pages") == 0, WAIT_SECS), "the VM's memory comes back");
	CHECK(ESX_WAIT_FOR(!umount(SWAPDIR), WAIT_SECS), "the swap file goes with its VM");

	/* The VMMs' own memory comes out of the pool. */
	{
		long before, during;

		f = fopen(CONF, "w");
		REQUIRE(f, "create " CONF);
		fputs("{\"pool\": {\"host_reserve\": \"1G\"}, \"balance_period\": 1,\n"
		      " \"control_socket\": \"/tmp/esxmemd-reserve.sock\",\n"
		      " \"vm_defaults\": {\"reclaim\": {\"swap\": false}}}\n", f);
		fclose(f);
		d = esx_start_esxmemd(CONF, LOG2, false);
		REQUIRE(d > 0, "fork");
		REQUIRE(ESX_WAIT_FOR(esx_file_has(LOG2, "running:"), WAIT_SECS), "the daemon runs");
		before = esx_sysfs_long("pool_pages");
		guest = esx_start_tinyvmm(-1, "--pages", "256", "--overhead", "256", "--touch", "0",
					  "--name", "guest=o1", NULL);
		REQUIRE(guest > 0, "start tinyvmm");
		CHECK(ESX_WAIT_FOR(before - esx_sysfs_long("pool_pages") >= (240 << 20) / (long)ESX_PAGE,
				   WAIT_SECS),
		      "a VMM's own 256 MiB come out of the pool: %ld pages before, %ld now", before,
		      esx_sysfs_long("pool_pages"));
		during = esx_sysfs_long("pool_pages");
		CHECK(before - during <= (272 << 20) / (long)ESX_PAGE,
		      "no more than that: %ld pages before, %ld now", before, during);
		/* It logs once the pool has moved: a moment after the sysfs figure. */
		CHECK(ESX_WAIT_FOR(esx_file_has(LOG2, "the VMMs' own"), WAIT_SECS),
		      "the daemon says why the pool moved");
		kill(guest, SIGKILL);
		waitpid(guest, NULL, 0);
		CHECK(ESX_WAIT_FOR(esx_sysfs_long("pool_pages") - before > -(16 << 20) / (long)ESX_PAGE,
				   WAIT_SECS),
		      "the pool comes back when the VMM ends: %ld pages, %ld before",
		      esx_sysfs_long("pool_pages"), before);
		kill(d, SIGTERM);
		waitpid(d, NULL, 0);
	}
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_reserve");
}
