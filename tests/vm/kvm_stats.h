/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's per-VM statistics in debugfs, /sys/kernel/debug/kvm/PID-FD/NAME
 * (the test host mounts debugfs): for benches that ask how KVM maps guest
 * RAM (pages_4k, pages_2m, pages_1g: the NPT/EPT entries of each size).
 */
#ifndef ESXMEM_TESTS_KVM_STATS_H
#define ESXMEM_TESTS_KVM_STATS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define KVM_DEBUGFS "/sys/kernel/debug/kvm"

/*
 * Statistic @name of the VM that process @pid created as fd @vm_fd (any
 * of its VMs if @vm_fd < 0: QEMU has one), or -1 if there is none such
 * (debugfs not mounted, no such VM, no such statistic).
 */
static inline long kvm_vm_stat(pid_t pid, int vm_fd, const char *name)
{
	char dir[300] = "", path[700], prefix[32], buf[32];
	struct dirent *e;
	long v = -1;
	DIR *d;
	FILE *f;

	if (vm_fd >= 0) {
		snprintf(dir, sizeof(dir), "%d-%d", (int)pid, vm_fd);
	} else {
		snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
		d = opendir(KVM_DEBUGFS);
		while (d && (e = readdir(d)))
			if (!strncmp(e->d_name, prefix, strlen(prefix))) {
				snprintf(dir, sizeof(dir), "%s", e->d_name);
				break;
			}
		if (d)
			closedir(d);
		if (!dir[0])
			return -1;
	}
	snprintf(path, sizeof(path), KVM_DEBUGFS "/%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Percent of @ram_bytes of guest RAM that the VM maps with 2 MiB entries,
 * and in *@p2m and *@p4k the counts it is made from; -1 if KVM has no
 * statistics for the VM.
 */
static inline double kvm_2m_percent(pid_t pid, int vm_fd, double ram_bytes,
				    long *p2m, long *p4k)
{
	*p2m = kvm_vm_stat(pid, vm_fd, "pages_2m");
	*p4k = kvm_vm_stat(pid, vm_fd, "pages_4k");
	if (*p2m < 0 || *p4k < 0)
		return -1;
	return 100.0 * (double)*p2m * (2 << 20) / ram_bytes;
}

#endif
