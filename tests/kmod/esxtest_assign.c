// SPDX-License-Identifier: GPL-2.0
/*
 * esxtest_assign: a test double for device assignment (esxtest_assign.h).
 * KVM learns that a VM has a device assigned from the kvm-vfio device,
 * which calls kvm_arch_start_assignment() when a VFIO group is added; this
 * module makes the same call for a KVM VM fd it is given, and the matching
 * kvm_arch_end_assignment() when its file is closed. esxmem sees exactly
 * what it would see with a real device.
 */
#include <linux/atomic.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "esxtest_assign.h"
#include "../../kmod/compat.h"

static int assign_open(struct inode *inode, struct file *file)
{
	/* misc_open() left the miscdevice here: no VM yet. */
	file->private_data = NULL;
	return 0;
}

static long assign_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kvm *kvm;
	struct fd f;
	int kvm_fd;

	if (cmd != ESXTEST_ASSIGN)
		return -ENOTTY;
	if (get_user(kvm_fd, (int __user *)arg))
		return -EFAULT;
	f = fdget(kvm_fd);
	if (!fd_file(f))
		return -EBADF;
	if (!file_is_kvm(fd_file(f))) {
		fdput(f);
		return -EINVAL;
	}
	kvm = fd_file(f)->private_data;
	kvm_get_kvm(kvm);
	fdput(f);
	kvm_arch_start_assignment(kvm);
	/* One VM a file. */
	if (cmpxchg(&file->private_data, NULL, kvm)) {
		kvm_arch_end_assignment(kvm);
		kvm_put_kvm(kvm);
		return -EBUSY;
	}
	return 0;
}

static int assign_release(struct inode *inode, struct file *file)
{
	struct kvm *kvm = file->private_data;

	if (kvm) {
		kvm_arch_end_assignment(kvm);
		kvm_put_kvm(kvm);
	}
	return 0;
}

static const struct file_operations assign_fops = {
	.owner = THIS_MODULE,
	.open = assign_open,
	.release = assign_release,
	.unlocked_ioctl = assign_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice assign_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "esxtest_assign",
	.fops = &assign_fops,
	.mode = 0600,
};

module_misc_device(assign_misc);
MODULE_DESCRIPTION("esxmem test double: a KVM VM with a device assigned");
MODULE_LICENSE("GPL");
