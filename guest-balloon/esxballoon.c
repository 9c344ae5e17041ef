// SPDX-License-Identifier: GPL-2.0
/*
 * esxballoon: an ESX-style balloon driver for Linux guests.
 *
 * A kernel thread talks to the host over vsock (the protocol is specified in
 * uapi/esxballoon.h). Once a second it polls its target; it inflates towards
 * it with allocations that give up at once rather than push the guest into
 * reclaim, at most inflate_rate pages a second, and tells the host the frames
 * it holds; it gives pages back when the target drops, and when the guest
 * runs out of memory.
 *
 * Every page the balloon holds is on one of three lists:
 *   pending   the host does not know of it (allocated but not yet locked, or
 *             carried over into a new connection, whose RESET made the host
 *             forget it): it may be freed without telling the host;
 *   locked    the host acknowledged a LOCK of it: it is freed only after the
 *             host acknowledged an UNLOCK, except on out-of-memory;
 *   inflight  in a LOCK or UNLOCK the worker is exchanging right now.
 * pending and locked are shared with the out-of-memory notifier under
 * eb.lock; inflight belongs to the worker alone.
 *
 * Out of memory: the notifier frees a batch at once, pending pages first,
 * then locked ones, whose frames it queues for an UNLOCK in the worker's next
 * exchange. The guest thus frees before the host knows: safe, because a
 * ballooned frame that the guest touches is backed by a fresh zero page on
 * the host. If more frames are freed than the queue holds, the worker
 * resynchronises with RESET and locks what it still holds again.
 *
 * Reconnection: the balloon keeps its pages while the host is away (a host
 * restart should not hand the guest memory that the host reclaimed). Every
 * connection starts with HELLO and RESET; the pages held then are pending and
 * are locked again before the balloon grows further, or freed first if the
 * target dropped meanwhile.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/freezer.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uio.h>
#include <linux/vm_sockets.h>
#include <linux/wait.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "uapi/esxballoon.h"

#define EB_RATE_MAX		(1U << 20)	/* pages a second: 4 GiB/s */
#define EB_CAP_PERCENT_MAX	90
#define EB_IO_TIMEOUT		(5 * HZ)
#define EB_BACKOFF_MAX		(60 * HZ)
/* No inflation for this long after an out-of-memory deflation. */
#define EB_OOM_QUIET		(10 * HZ)
/* Frames freed on out-of-memory and not yet unlocked: 32 KiB. */
#define EB_OOM_QUEUE		(8 * ESXBALLOON_MAX_GFNS)
#define EB_GFP	(GFP_HIGHUSER | __GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC)

static unsigned int host_cid = VMADDR_CID_HOST;
module_param(host_cid, uint, 0444);
MODULE_PARM_DESC(host_cid, "vsock CID of the host (default 2)");

static unsigned int port = ESXBALLOON_VSOCK_PORT;
module_param(port, uint, 0444);
MODULE_PARM_DESC(port, "vsock port of the host's balloon service (default 17747)");

static unsigned int inflate_rate = 4096;
module_param(inflate_rate, uint, 0444);
MODULE_PARM_DESC(inflate_rate, "initial inflation limit, pages per second (default 4096)");

static unsigned int cap_percent = 65;
module_param(cap_percent, uint, 0444);
MODULE_PARM_DESC(cap_percent, "initial cap of the balloon, percent of guest RAM (default 65)");

struct eb_msg {
	struct esxballoon_hdr hdr;
	union {
		struct esxballoon_hello hello;
		struct esxballoon_target target;
		struct esxballoon_error error;
		struct esxballoon_gfns gfns;
		u8 raw[ESXBALLOON_MAX_PAYLOAD];
	};
} __packed __aligned(8);

static struct esxballoon {
	spinlock_t lock;		/* the lists below, counts, oom queue */
	struct list_head pending;
	struct list_head locked;
	unsigned long nr_pending;
	unsigned long nr_locked;
	unsigned long nr_inflight;
	__le64 *oom_gfns;		/* frames to UNLOCK, EB_OOM_QUEUE */
	unsigned int nr_oom_gfns;
	bool resync;			/* oom queue overflowed: RESET */
	unsigned long oom_until;	/* jiffies: no inflation before */

	/* The worker's own. */
	struct task_struct *worker;
	wait_queue_head_t wq;
	struct list_head inflight;
	struct eb_msg tx;
	struct eb_msg rx;
	u32 seq;
	unsigned long connections;

	/* The socket, shut down by module exit to end blocking I/O. */
	struct mutex sock_lock;
	struct socket *sock;
	bool stopping;

	/* Shown in sysfs. */
	u64 target;
	bool connected;
	unsigned int inflate_rate;
	unsigned int cap_percent;
	atomic_long_t alloc_failures;
	atomic_long_t oom_deflations;
	atomic_long_t oom_pages;
	atomic_long_t reconnects;
	atomic_long_t protocol_errors;
} eb;

static unsigned long eb_held(void)
{
	unsigned long held;

	spin_lock(&eb.lock);
	held = eb.nr_pending + eb.nr_locked + eb.nr_inflight;
	spin_unlock(&eb.lock);
	return held;
}

static unsigned long eb_cap_pages(void)
{
	return totalram_pages() / 100 * READ_ONCE(eb.cap_percent);
}

/* --- the connection --------------------------------------------------- */

static int eb_recv_all(struct socket *sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct kvec iov = { .iov_base = buf + done, .iov_len = len - done };
		struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
		int ret;

		ret = kernel_recvmsg(sock, &msg, &iov, 1, len - done, MSG_WAITALL);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ECONNRESET;
		done += ret;
	}
	return 0;
}

/*
 * Sends eb.tx as a request of @type with @len bytes of payload and waits for
 * the host's reply: 0 once the host acknowledged it (eb.target is then the
 * host's current target), or -errno, after which the connection is over.
 */
static int eb_request(u16 type, u32 len)
{
	struct esxballoon_hdr *h = &eb.rx.hdr;
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec iov = { .iov_base = &eb.tx, .iov_len = sizeof(eb.tx.hdr) + len };
	u32 seq = ++eb.seq;
	u32 rlen;
	int ret;

	eb.tx.hdr.magic = cpu_to_le32(ESXBALLOON_MAGIC);
	eb.tx.hdr.version = cpu_to_le16(ESXBALLOON_VERSION);
	eb.tx.hdr.type = cpu_to_le16(type);
	eb.tx.hdr.length = cpu_to_le32(len);
	eb.tx.hdr.seq = cpu_to_le32(seq);
	ret = kernel_sendmsg(eb.sock, &msg, &iov, 1, iov.iov_len);
	if (ret < 0)
		return ret;
	if (ret != iov.iov_len)
		return -EIO;

	ret = eb_recv_all(eb.sock, h, sizeof(*h));
	if (ret)
		return ret;
	rlen = le32_to_cpu(h->length);
	if (le32_to_cpu(h->magic) != ESXBALLOON_MAGIC ||
	    le16_to_cpu(h->version) != ESXBALLOON_VERSION ||
	    le32_to_cpu(h->seq) != seq)
		goto malformed;
	switch (le16_to_cpu(h->type)) {
	case ESXBALLOON_MSG_TARGET:
		if (rlen != sizeof(eb.rx.target))
			goto malformed;
		ret = eb_recv_all(eb.sock, &eb.rx.target, rlen);
		if (ret)
			return ret;
		WRITE_ONCE(eb.target, le64_to_cpu(eb.rx.target.target_pages));
		return 0;
	case ESXBALLOON_MSG_ERROR:
		if (rlen != sizeof(eb.rx.error))
			goto malformed;
		ret = eb_recv_all(eb.sock, &eb.rx.error, rlen);
		if (ret)
			return ret;
		pr_warn("host refused request %u: error %u\n", type,
			le32_to_cpu(eb.rx.error.code));
		return -ECONNREFUSED;
	}
malformed:
	atomic_long_inc(&eb.protocol_errors);
	pr_warn_ratelimited("malformed reply from the host (type %u, length %u): reconnecting\n",
			    le16_to_cpu(h->type), rlen);
	return -EPROTO;
}

/* The host forgot every frame: what the balloon holds is pending now. */
static int eb_reset(void)
{
	int err = eb_request(ESXBALLOON_MSG_RESET, 0);

	if (err)
		return err;
	spin_lock(&eb.lock);
	list_splice_tail_init(&eb.locked, &eb.pending);
	eb.nr_pending += eb.nr_locked;
	eb.nr_locked = 0;
	eb.nr_oom_gfns = 0;
	eb.resync = false;
	spin_unlock(&eb.lock);
	return 0;
}

static void eb_disconnect(void)
{
	struct socket *sock;

	mutex_lock(&eb.sock_lock);
	sock = eb.sock;
	eb.sock = NULL;
	mutex_unlock(&eb.sock_lock);
	if (sock) {
		kernel_sock_shutdown(sock, SHUT_RDWR);
		sock_release(sock);
	}
	WRITE_ONCE(eb.connected, false);
}

static int eb_connect(void)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = host_cid,
		.svm_port = port,
	};
	struct socket *sock;
	int err;

	err = sock_create_kern(&init_net, AF_VSOCK, SOCK_STREAM, 0, &sock);
	if (err)
		return err;
	sock->sk->sk_sndtimeo = EB_IO_TIMEOUT;
	sock->sk->sk_rcvtimeo = EB_IO_TIMEOUT;
	err = kernel_connect(sock, (struct sockaddr *)&addr, sizeof(addr), 0);
	if (err) {
		sock_release(sock);
		return err;
	}
	mutex_lock(&eb.sock_lock);
	if (eb.stopping)
		err = -ESHUTDOWN;
	else
		eb.sock = sock;
	mutex_unlock(&eb.sock_lock);
	if (err) {
		sock_release(sock);
		return err;
	}

	eb.tx.hello.page_size = cpu_to_le32(PAGE_SIZE);
	eb.tx.hello.reserved = 0;
	eb.tx.hello.guest_pages = cpu_to_le64(totalram_pages());
	err = eb_request(ESXBALLOON_MSG_HELLO, sizeof(eb.tx.hello));
	if (!err)
		err = eb_reset();
	if (err)
		return err;
	if (eb.connections++)
		atomic_long_inc(&eb.reconnects);
	WRITE_ONCE(eb.connected, true);
	pr_info("connected to the host (cid %u port %u), holding %lu pages\n",
		host_cid, port, eb_held());
	return 0;
}

/* --- inflating and deflating ------------------------------------------ */

/* Moves up to ESXBALLOON_MAX_GFNS pages from @from to eb.inflight. */
static unsigned int eb_take_batch(struct list_head *from, unsigned long *nr_from,
				  unsigned long max)
{
	unsigned int n = 0;

	max = min_t(unsigned long, max, ESXBALLOON_MAX_GFNS);
	spin_lock(&eb.lock);
	while (n < max && !list_empty(from)) {
		list_move_tail(from->next, &eb.inflight);
		n++;
	}
	*nr_from -= n;
	eb.nr_inflight += n;
	spin_unlock(&eb.lock);
	return n;
}

static void eb_put_batch(struct list_head *to, unsigned long *nr_to)
{
	spin_lock(&eb.lock);
	*nr_to += eb.nr_inflight;
	eb.nr_inflight = 0;
	list_splice_tail_init(&eb.inflight, to);
	spin_unlock(&eb.lock);
}

static u32 eb_fill_gfns(void)
{
	struct page *page;
	u32 n = 0;

	list_for_each_entry(page, &eb.inflight, lru)
		eb.tx.gfns.gfn[n++] = cpu_to_le64(page_to_pfn(page));
	eb.tx.gfns.count = cpu_to_le32(n);
	eb.tx.gfns.reserved = 0;
	return ESXBALLOON_GFNS_LEN(n);
}

/* Tells the host of the frames freed on out-of-memory. */
static int eb_flush_oom(void)
{
	for (;;) {
		unsigned int n;

		spin_lock(&eb.lock);
		if (eb.resync) {
			spin_unlock(&eb.lock);
			return eb_reset();
		}
		n = min_t(unsigned int, eb.nr_oom_gfns, ESXBALLOON_MAX_GFNS);
		eb.nr_oom_gfns -= n;
		memcpy(eb.tx.gfns.gfn, eb.oom_gfns + eb.nr_oom_gfns, n * sizeof(__le64));
		spin_unlock(&eb.lock);
		if (!n)
			return 0;
		eb.tx.gfns.count = cpu_to_le32(n);
		eb.tx.gfns.reserved = 0;
		/* On failure the next connection's RESET covers these frames. */
		if (eb_request(ESXBALLOON_MSG_UNLOCK, ESXBALLOON_GFNS_LEN(n)))
			return -EIO;
	}
}

/* Locks every pending page, a batch at a time. */
static int eb_lock_pending(void)
{
	int err;

	while (!kthread_should_stop()) {
		/* Allocated pages may be frames just freed on OOM: UNLOCK first. */
		err = eb_flush_oom();
		if (err)
			return err;
		if (!eb_take_batch(&eb.pending, &eb.nr_pending, ULONG_MAX))
			return 0;
		err = eb_request(ESXBALLOON_MSG_LOCK, eb_fill_gfns());
		/* The host may or may not have seen a failed LOCK: after it the
		 * connection ends, and the next one's RESET makes them pending.
		 */
		eb_put_batch(err ? &eb.pending : &eb.locked,
			     err ? &eb.nr_pending : &eb.nr_locked);
		if (err)
			return err;
	}
	return 0;
}

/* Allocates up to @nr pages onto the pending list: how many it got. */
static unsigned long eb_alloc(unsigned long nr)
{
	unsigned long n;

	for (n = 0; n < nr; n++) {
		struct page *page = alloc_page(EB_GFP);

		if (!page) {
			atomic_long_inc(&eb.alloc_failures);
			break;
		}
		spin_lock(&eb.lock);
		list_add_tail(&page->lru, &eb.pending);
		eb.nr_pending++;
		spin_unlock(&eb.lock);
	}
	return n;
}

static void eb_free_list(struct list_head *list)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, list, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/* Gives back @nr pages: pending ones at once, locked ones after UNLOCK. */
static int eb_deflate(unsigned long nr)
{
	unsigned int n;
	int err;

	while (nr && !kthread_should_stop()) {
		n = eb_take_batch(&eb.pending, &eb.nr_pending, nr);
		if (!n) {
			n = eb_take_batch(&eb.locked, &eb.nr_locked, nr);
			if (!n)
				return 0;
			err = eb_request(ESXBALLOON_MSG_UNLOCK, eb_fill_gfns());
			if (err) {
				eb_put_batch(&eb.locked, &eb.nr_locked);
				return err;
			}
		}
		spin_lock(&eb.lock);
		eb.nr_inflight = 0;
		spin_unlock(&eb.lock);
		eb_free_list(&eb.inflight);
		nr -= n;
	}
	return 0;
}

/* One exchange with the host a second: poll the target, move towards it. */
static int eb_tick(void)
{
	unsigned long goal, held, n;
	int err;

	err = eb_flush_oom();
	if (err)
		return err;
	err = eb_request(ESXBALLOON_MSG_GET_TARGET, 0);
	if (err)
		return err;
	goal = min_t(u64, READ_ONCE(eb.target), eb_cap_pages());
	held = eb_held();
	if (held > goal)
		return eb_deflate(held - goal);
	/* Pages carried over from the last connection first. */
	err = eb_lock_pending();
	if (err || held == goal || time_before(jiffies, READ_ONCE(eb.oom_until)))
		return err;
	n = min_t(unsigned long, goal - held, READ_ONCE(eb.inflate_rate));
	while (n && !kthread_should_stop()) {
		unsigned long want = min_t(unsigned long, n, ESXBALLOON_MAX_GFNS);
		unsigned long got = eb_alloc(want);

		err = eb_lock_pending();
		if (err || got < want)
			return err;
		n -= got;
	}
	return 0;
}

static int eb_worker(void *unused)
{
	unsigned long backoff = HZ;
	bool said_unreachable = false;

	set_freezable();
	while (!kthread_should_stop()) {
		unsigned long next = jiffies + HZ;
		int err = 0;

		if (!eb.sock) {
			err = eb_connect();
			if (err) {
				eb_disconnect();
				if (!said_unreachable)
					pr_info("cannot reach the host at cid %u port %u (error %d): is vsock to the host set up? Retrying\n",
						host_cid, port, err);
				said_unreachable = true;
				next = jiffies + backoff;
				backoff = min_t(unsigned long, backoff * 2, EB_BACKOFF_MAX);
			} else {
				said_unreachable = false;
				backoff = HZ;
			}
		}
		if (!err) {
			err = eb_tick();
			if (err) {
				pr_info("connection ended (error %d): reconnecting\n", err);
				eb_disconnect();
			}
		}
		wait_event_freezable_timeout(eb.wq, kthread_should_stop(),
					     time_after(next, jiffies) ? next - jiffies : 0);
	}
	eb_disconnect();
	return 0;
}

/*
 * Out of memory: free a batch at once and let the host know afterwards (see
 * the top of this file); no inflation for EB_OOM_QUIET.
 */
static int eb_oom_notify(struct notifier_block *nb, unsigned long unused, void *arg)
{
	unsigned long *freed = arg;
	LIST_HEAD(victims);
	struct page *page;
	unsigned int n = 0;

	spin_lock(&eb.lock);
	while (n < ESXBALLOON_MAX_GFNS && !list_empty(&eb.pending)) {
		list_move(eb.pending.next, &victims);
		eb.nr_pending--;
		n++;
	}
	while (n < ESXBALLOON_MAX_GFNS && !list_empty(&eb.locked)) {
		page = list_first_entry(&eb.locked, struct page, lru);
		list_move(&page->lru, &victims);
		eb.nr_locked--;
		n++;
		if (eb.nr_oom_gfns < EB_OOM_QUEUE)
			eb.oom_gfns[eb.nr_oom_gfns++] = cpu_to_le64(page_to_pfn(page));
		else
			eb.resync = true;
	}
	if (n)
		WRITE_ONCE(eb.oom_until, jiffies + EB_OOM_QUIET);
	spin_unlock(&eb.lock);
	if (!n)
		return NOTIFY_DONE;
	eb_free_list(&victims);
	*freed += n;
	atomic_long_inc(&eb.oom_deflations);
	atomic_long_add(n, &eb.oom_pages);
	return NOTIFY_OK;
}

static struct notifier_block eb_oom_nb = {
	.notifier_call = eb_oom_notify,
};

/* --- sysfs: /sys/kernel/esxballoon/ ------------------------------------ */

#define EB_RO_ATTR(_name, _fmt, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, _fmt "\n", _expr);			\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

EB_RO_ATTR(target_pages, "%llu", (unsigned long long)READ_ONCE(eb.target));
EB_RO_ATTR(held_pages, "%lu", eb_held());
EB_RO_ATTR(cap_pages, "%lu", eb_cap_pages());
EB_RO_ATTR(connected, "%d", READ_ONCE(eb.connected));
EB_RO_ATTR(alloc_failures, "%ld", atomic_long_read(&eb.alloc_failures));
EB_RO_ATTR(oom_deflations, "%ld", atomic_long_read(&eb.oom_deflations));
EB_RO_ATTR(oom_pages, "%ld", atomic_long_read(&eb.oom_pages));
EB_RO_ATTR(reconnects, "%ld", atomic_long_read(&eb.reconnects));
EB_RO_ATTR(protocol_errors, "%ld", atomic_long_read(&eb.protocol_errors));

static ssize_t eb_store_uint(unsigned int *knob, unsigned int max,
			     const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || v < 1 || v > max)
		return -EINVAL;
	WRITE_ONCE(*knob, v);
	return count;
}

static ssize_t inflate_rate_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(eb.inflate_rate));
}

static ssize_t inflate_rate_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	return eb_store_uint(&eb.inflate_rate, EB_RATE_MAX, buf, count);
}
static struct kobj_attribute inflate_rate_attr = __ATTR_RW(inflate_rate);

static ssize_t cap_percent_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(eb.cap_percent));
}

static ssize_t cap_percent_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	return eb_store_uint(&eb.cap_percent, EB_CAP_PERCENT_MAX, buf, count);
}
static struct kobj_attribute cap_percent_attr = __ATTR_RW(cap_percent);

static struct attribute *eb_attrs[] = {
	&target_pages_attr.attr,
	&held_pages_attr.attr,
	&cap_pages_attr.attr,
	&connected_attr.attr,
	&inflate_rate_attr.attr,
	&cap_percent_attr.attr,
	&alloc_failures_attr.attr,
	&oom_deflations_attr.attr,
	&oom_pages_attr.attr,
	&reconnects_attr.attr,
	&protocol_errors_attr.attr,
	NULL,
};

static const struct attribute_group eb_attr_group = {
	.attrs = eb_attrs,
};

static struct kobject *eb_kobj;

/* --- module ------------------------------------------------------------ */

static int __init esxballoon_init(void)
{
	int err;

	if (!cap_percent || cap_percent > EB_CAP_PERCENT_MAX) {
		pr_err("cap_percent=%u: give 1..%u\n", cap_percent, EB_CAP_PERCENT_MAX);
		return -EINVAL;
	}
	if (!inflate_rate || inflate_rate > EB_RATE_MAX) {
		pr_err("inflate_rate=%u: give 1..%u pages a second\n", inflate_rate, EB_RATE_MAX);
		return -EINVAL;
	}
	if (host_cid == VMADDR_CID_ANY) {
		pr_err("host_cid=%u: give the host's CID (2 under a hypervisor)\n", host_cid);
		return -EINVAL;
	}

	spin_lock_init(&eb.lock);
	INIT_LIST_HEAD(&eb.pending);
	INIT_LIST_HEAD(&eb.locked);
	INIT_LIST_HEAD(&eb.inflight);
	init_waitqueue_head(&eb.wq);
	mutex_init(&eb.sock_lock);
	eb.inflate_rate = inflate_rate;
	eb.cap_percent = cap_percent;
	eb.oom_until = jiffies;

	eb.oom_gfns = kvmalloc_array(EB_OOM_QUEUE, sizeof(*eb.oom_gfns), GFP_KERNEL);
	if (!eb.oom_gfns)
		return -ENOMEM;
	eb_kobj = kobject_create_and_add("esxballoon", kernel_kobj);
	if (!eb_kobj) {
		err = -ENOMEM;
		goto free_queue;
	}
	err = sysfs_create_group(eb_kobj, &eb_attr_group);
	if (err)
		goto put_kobj;
	err = register_oom_notifier(&eb_oom_nb);
	if (err)
		goto put_kobj;
	eb.worker = kthread_run(eb_worker, NULL, "esxballoon");
	if (IS_ERR(eb.worker)) {
		err = PTR_ERR(eb.worker);
		goto unregister;
	}
	return 0;

unregister:
	unregister_oom_notifier(&eb_oom_nb);
put_kobj:
	kobject_put(eb_kobj);
free_queue:
	kvfree(eb.oom_gfns);
	return err;
}

static void __exit esxballoon_exit(void)
{
	unsigned long held;

	/* End any blocking I/O now rather than after EB_IO_TIMEOUT. */
	mutex_lock(&eb.sock_lock);
	eb.stopping = true;
	if (eb.sock)
		kernel_sock_shutdown(eb.sock, SHUT_RDWR);
	mutex_unlock(&eb.sock_lock);
	kthread_stop(eb.worker);

	unregister_oom_notifier(&eb_oom_nb);
	kobject_put(eb_kobj);
	/* The connection is closed: the host forgets our frames (see the header). */
	held = eb.nr_pending + eb.nr_locked;
	eb_free_list(&eb.pending);
	eb_free_list(&eb.locked);
	kvfree(eb.oom_gfns);
	pr_info("unloaded, %lu pages given back\n", held);
}

module_init(esxballoon_init);
module_exit(esxballoon_exit);
MODULE_DESCRIPTION("ESX-style balloon driver over vsock");
MODULE_LICENSE("GPL");
