// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmem.ko going and coming back under a running daemon. "rmmod esxmem"
 * and "modprobe esxmem" give the module's generic netlink family a new id,
 * so handles opened before fail every request with ENOENT, and the module
 * comes back with its default pool. The daemon listens to the generic
 * netlink controller's notifications (family "nlctrl", group "notify"):
 *
 *  - when the esxmem family goes, so did every VM (the module cannot be
 *    removed while one exists): the daemon forgets them, their balloon
 *    sessions and what it knew of their stock balloons and swap files,
 *    and waits, logging that nothing is managed until the module is back;
 *  - when it comes back, the daemon opens new handles, configures the pool
 *    again from its configuration and balances: new VMs are found, named
 *    and given their settings as on start. Runtime changes (esxmemctl set)
 *    are by VM name and stay.
 *
 * The notifications can be lost (the socket overflows) and a reload can
 * happen between two reads: a request failing with ENOENT on the pool,
 * and every balance period while the module is away, check again.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "esxmemd.h"
#include "log.h"

#define NOTIFY_BUF	(64 * 1024)

int module_watch_open(struct daemon *d)
{
	struct nl_sock *sk = nl_socket_alloc();
	int grp, err;

	if (!sk)
		return -ENOMEM;
	nl_socket_disable_seq_check(sk);
	err = genl_connect(sk);
	if (!err) {
		grp = genl_ctrl_resolve_grp(sk, "nlctrl", "notify");
		err = grp < 0 ? grp : nl_socket_add_membership(sk, grp);
	}
	if (!err)
		err = nl_socket_set_nonblocking(sk);
	if (err) {
		log_err("cannot follow esxmem.ko's netlink family: %s", nl_geterror(err));
		nl_socket_free(sk);
		return -EIO;
	}
	d->module_watch = sk;
	return 0;
}

void module_watch_close(struct daemon *d)
{
	nl_socket_free(d->module_watch);
	d->module_watch = NULL;
}

int module_watch_fd(const struct daemon *d)
{
	return nl_socket_get_fd(d->module_watch);
}

/* Everything the daemon knew of VMs of a module that is gone. */
static void forget_vms(struct daemon *d)
{
	esxmem_vm_list_free(d->vms, d->nr_vms);
	d->vms = NULL;
	d->nr_vms = 0;
	free(d->rho);
	d->rho = NULL;
	d->avail_pages = 0;
	esxmem_pool_info_free(d->pool);
	d->pool = NULL;
	stock_balloons_free(d);
	reclaim_forget_failures(d);
	/* Sessions name VMs by id, which a new module gives out again. */
	balloon_close(d);
	balloon_open(d);
}

static void module_gone(struct daemon *d)
{
	if (!d->module_loaded)
		return;
	log_warn("esxmem.ko was unloaded: nothing is managed until it is loaded again (modprobe esxmem)");
	d->module_loaded = false;
	/* Its socket leaves the epoll set as it closes. */
	esxmem_events_close(d->events);
	d->events = NULL;
	forget_vms(d);
}

/* Opens handles on the module if it is there (it was gone); 0, or -errno. */
static int module_back(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_EVENTS };
	struct esxmem_events *events;
	struct esxmem *h;
	int err;

	err = esxmem_open(&h);
	if (err)
		return err;
	err = esxmem_events_open(&events);
	if (err) {
		esxmem_close(h);
		return err;
	}
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, esxmem_events_fd(events), &ev)) {
		err = -errno;
		esxmem_events_close(events);
		esxmem_close(h);
		return err;
	}
	/* The old handle kept answering ENOENT meanwhile: nothing used a NULL. */
	esxmem_close(d->h);
	d->h = h;
	d->events = events;
	d->module_loaded = true;
	err = apply_pool_settings(d);
	log_info("esxmem.ko is loaded again: %s", err ? "the pool could not be configured (see above)" :
		 "pool configured, taking over its VMs");
	balance(d);
	return 0;
}

void module_check(struct daemon *d)
{
	struct esxmem_pool_info *pool;
	int err;

	if (d->module_loaded) {
		err = esxmem_pool_get(d->h, &pool);
		esxmem_pool_info_free(pool);
		if (err != -ENOENT)
			return;
		module_gone(d);
	}
	err = module_back(d);
	if (err && err != -ENOENT)
		log_warn("esxmem.ko: cannot open it again: %s", esxmem_strerror(err));
}

/* The family a controller notification is about, its command in *@cmd. */
static const char *notified_family(struct nlmsghdr *nlh, uint8_t *cmd)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1];

	if (nlh->nlmsg_type != GENL_ID_CTRL || !genlmsg_valid_hdr(nlh, 0) ||
	    genlmsg_parse(nlh, 0, tb, CTRL_ATTR_MAX, NULL) < 0 || !tb[CTRL_ATTR_FAMILY_NAME])
		return NULL;
	*cmd = ((struct genlmsghdr *)nlmsg_data(nlh))->cmd;
	return nla_get_string(tb[CTRL_ATTR_FAMILY_NAME]);
}

void module_watch_readable(struct daemon *d)
{
	static char buf[NOTIFY_BUF];
	struct nlmsghdr *nlh;
	bool check = false;
	const char *name;
	uint8_t cmd;
	ssize_t n;
	int len;

	for (;;) {
		n = recv(module_watch_fd(d), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			check = true;	/* notifications lost: look */
			continue;
		}
		if (n <= 0)
			break;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len); nlh = nlmsg_next(nlh, &len)) {
			name = notified_family(nlh, &cmd);
			if (!name || strcmp(name, ESXMEM_GENL_NAME))
				continue;
			/* A new family is a new module, whatever its id. */
			if (cmd == CTRL_CMD_DELFAMILY || cmd == CTRL_CMD_NEWFAMILY)
				module_gone(d);
			if (cmd == CTRL_CMD_NEWFAMILY)
				check = true;
		}
	}
	if (check)
		module_check(d);
}

uint64_t module_sysfs_u64(const char *name)
{
	unsigned long long v = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/esxmem/%s", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}
