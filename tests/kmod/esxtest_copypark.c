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
 * read-only. Unloading it releases a parked copier and waits for it.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page-flags.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/sysfs.h>

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
static atomic_t parks_count = ATOMIC_INIT(0);
static atomic_t locked_count = ATOMIC_INIT(0);
/* Copiers sent to parked_copy_page() and not out of it yet: module text. */
static atomic_t inside = ATOMIC_INIT(0);

static int get_count(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(kp->arg));
}

static const struct kernel_param_ops count_ops = { .get = get_count };
module_param_cb(parks, &count_ops, &parks_count, 0444);
MODULE_PARM_DESC(parks, "copies parked so far");
module_param_cb(locked_copies, &count_ops, &locked_count, 0444);
MODULE_PARM_DESC(locked_copies, "copies of pfn made with the page locked");

/*
 * Whether the copier may sleep here: not under a spinlock or with
 * interrupts off, and not inside an RCU read-side section either, which
 * preemptible RCU (Debian's kernels) does not show in preempt_count.
 */
static bool may_park(void)
{
	return in_task() && current->mm && preemptible() && !rcu_preempt_depth();
}

/* In place of copy_page(), for the copies the probe picks. */
static void parked_copy_page(void *to, void *from)
{
	/* Someone holds the page's lock: the copier, in esxmem's paths. */
	bool locked = PageLocked(virt_to_page(from));
	unsigned long until = jiffies + msecs_to_jiffies(PARK_LIMIT_MS);

	memcpy(to, from, PAGE_SIZE);
	if (locked) {
		atomic_inc(&locked_count);
	} else if (may_park()) {
		atomic_inc(&parks_count);
		while (!READ_ONCE(release) && time_before(jiffies, until))
			msleep(10);
	}
	atomic_dec(&inside);
}

static int copy_page_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long from = regs_get_kernel_argument(regs, 1), want = READ_ONCE(pfn);

	if (!want || current->tgid != READ_ONCE(pid) ||
	    !virt_addr_valid((void *)from) ||
	    page_to_pfn(virt_to_page((void *)from)) != want)
		return 0;
	/* Changing the ip and returning 1 skips the probed instruction. */
	atomic_inc(&inside);
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
	WRITE_ONCE(release, true);
	unregister_kprobe(&copy_page_probe);
	/* No copier may still run this module's text once it is freed. */
	while (atomic_read(&inside))
		msleep(10);
}

module_init(copypark_init);
module_exit(copypark_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("esxmem tests: park a copy of a chosen page");
