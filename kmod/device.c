// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/esxmem: every open() is a new VM memory object, an unlinked file of
 * esxmem's internal mount whose address space the open file adopts, so that
 * unmapping pages of one VM never walks another's mappings.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/miscdevice.h>

#include "esxmem.h"

static int esxmem_dev_open(struct inode *devnode, struct file *file)
{
	struct inode *inode = esxmem_fs_new_object();

	if (!inode)
		return -ENOMEM;
	file->private_data = inode->i_private;
	file->f_mapping = inode->i_mapping;
	return 0;
}

static int esxmem_dev_release(struct inode *devnode, struct file *file)
{
	struct esxmem_vm *vm = file->private_data;

	/* Mappings hold the file, so this is the last user: free it all. */
	iput(vm->inode);
	return 0;
}

static const struct file_operations esxmem_dev_fops = {
	.owner = THIS_MODULE,
	.open = esxmem_dev_open,
	.release = esxmem_dev_release,
	.mmap = esxmem_mmap,
	/* Aligned for large pages: see large.c. */
	.get_unmapped_area = thp_get_unmapped_area,
	.unlocked_ioctl = esxmem_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice esxmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "esxmem",
	.fops = &esxmem_dev_fops,
	/* Root only; tools/udev/60-esxmem.rules grants group kvm. */
	.mode = 0600,
};

int esxmem_device_init(void)
{
	return misc_register(&esxmem_misc);
}

void esxmem_device_exit(void)
{
	misc_deregister(&esxmem_misc);
}
