// SPDX-License-Identifier: GPL-2.0
/*
 * esxtest_pin: a long-term pin on one page, as a device's DMA holds one.
 *
 * Writing a user address to @addr pins the page there, in the writer's
 * address space, with FOLL_LONGTERM (read-only, as file mappings allow);
 * writing 0 unpins it. Only one page is pinned at a time. Unloading the
 * module unpins it.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(pin_lock);
static struct page *pinned;
static unsigned long addr;

static void unpin(void)
{
	if (pinned)
		unpin_user_page(pinned);
	pinned = NULL;
	addr = 0;
}

static int set_addr(const char *val, const struct kernel_param *kp)
{
	unsigned long want;
	struct page *page;
	int ret;

	ret = kstrtoul(val, 0, &want);
	if (ret)
		return ret;
	mutex_lock(&pin_lock);
	unpin();
	if (want) {
		ret = pin_user_pages_fast(want & PAGE_MASK, 1, FOLL_LONGTERM,
					  &page);
		if (ret == 1) {
			pinned = page;
			addr = want;
			ret = 0;
		} else if (ret >= 0) {
			ret = -EFAULT;
		}
	}
	mutex_unlock(&pin_lock);
	return ret;
}

static const struct kernel_param_ops addr_ops = {
	.set = set_addr,
	.get = param_get_ulong,
};
module_param_cb(addr, &addr_ops, &addr, 0644);

static int __init pin_init(void)
{
	return 0;
}

static void __exit pin_exit(void)
{
	mutex_lock(&pin_lock);
	unpin();
	mutex_unlock(&pin_lock);
}

module_init(pin_init);
module_exit(pin_exit);
MODULE_DESCRIPTION("esxmem test: a long-term pin on one user page");
MODULE_LICENSE("GPL");
