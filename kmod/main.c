// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>

static const struct file_operations esxmem_fops = {
	.owner = THIS_MODULE,
};

static struct miscdevice esxmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "esxmem",
	.fops = &esxmem_fops,
	.mode = 0600,
};

static int __init esxmem_init(void)
{
	return misc_register(&esxmem_misc);
}

static void __exit esxmem_exit(void)
{
	misc_deregister(&esxmem_misc);
}

module_init(esxmem_init);
module_exit(esxmem_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ESX-style memory resource management for KVM guests");
