// SPDX-License-Identifier: GPL-2.0
/*
 * esxtest_copypark: holds open the moment right after a page was copied.
 *
 * A kprobe on copy_page() sends the copies that process @pid makes of the
 * machine page @pfn through parked_copy_page(). That copies, and then, if
 * nobody held the page's lock during the copy and the copier may sleep
 * there, sleeps until @release is set (or a minute has passed). A test can
 * so change the source page's state between an unlocked copy and whatever
 * the copier does next, every time instead of by luck. @parks counts the
 * copies parked, @locked_copies the copies of @pfn made with the page
 * locked (never parked).
 *
 * Parameters (in /sys/module/esxtest_copypark/parameters): pfn and pid arm
 * it (pfn 0 disarms), release ends a park, parks and locked_copies are
 * read-only. Unload it only once no copier is parked.
 */
#include <linux/delay.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page-flags.h>
#include <linux/sched.h>
#include <linux/string.h>

#define PARK_LIMIT_MS	60000

static unsigned long pfn;
module_param(pfn, ulong, 0644);
MODULE_PARM_DESC(pfn, "the page whose copies park (0: none)");
static int pid;
module_param(pid, int, 0644);
MODULE_PARM_DESC(pid, "the process whose copies park");
static bool release;
module_param(release, bool, 0644);
MODULE_PARM_DESC(release, "set to end a park");
static unsigned int parks;
module_param(parks, uint, 0444);
MODULE_PARM_DESC(parks, "copies parked so far");
static unsigned int locked_copies;
module_param(locked_copies, uint, 0444);
MODULE_PARM_DESC(locked_copies, "copies of pfn made with the page locked");

/* In place of copy_page(), for the copies the probe picks. */
static void parked_copy_page(void *to, void *from)
{
	bool locked = PageLocked(virt_to_page(from));
	unsigned int ms;

	memcpy(to, from, PAGE_SIZE);
	if (locked) {
		WRITE_ONCE(locked_copies, locked_copies + 1);
		return;
	}
	/* Under a spinlock there is no sleeping: such a copy goes on. */
	if (!preemptible())
		return;
	WRITE_ONCE(parks, parks + 1);
	for (ms = 0; ms < PARK_LIMIT_MS && !READ_ONCE(release); ms += 10)
		msleep(10);
}

static int copy_page_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long from = regs_get_kernel_argument(regs, 1), want = READ_ONCE(pfn);

	if (!want || current->tgid != READ_ONCE(pid) ||
	    !virt_addr_valid((void *)from) ||
	    page_to_pfn(virt_to_page((void *)from)) != want)
		return 0;
	/* Changing the ip and returning 1 skips the probed instruction. */
	regs->ip = (unsigned long)parked_copy_page;
	return 1;
}

/* A kprobe with a post handler is never optimised: only then is ip honoured. */
static void copy_page_post(struct kprobe *p, struct pt_regs *regs,
			   unsigned long flags)
{
}

static struct kprobe copy_page_probe = {
	.symbol_name = "copy_page",
	.pre_handler = copy_page_pre,
	.post_handler = copy_page_post,
};

static int __init copypark_init(void)
{
	return register_kprobe(&copy_page_probe);
}

static void __exit copypark_exit(void)
{
	unregister_kprobe(&copy_page_probe);
}

module_init(copypark_init);
module_exit(copypark_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("esxmem tests: park a copy of a chosen page");
