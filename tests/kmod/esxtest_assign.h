/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /dev/esxtest_assign: tells KVM that a VM has a device assigned, as VFIO
 * does, for tests in a test host that has no IOMMU nor a device to assign.
 *
 *	fd = open("/dev/esxtest_assign", O_RDWR);
 *	ioctl(fd, ESXTEST_ASSIGN, &kvm_vm_fd);	the VM has a device now
 *	close(fd);				and no longer
 */
#ifndef ESXTEST_ASSIGN_H
#define ESXTEST_ASSIGN_H

#include <linux/ioctl.h>

#define ESXTEST_ASSIGN	_IOW('E', 0xa0, int)

#endif
