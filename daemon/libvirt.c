// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The stock virtio-balloon of a libvirt domain, driven through libvirt.
 *
 * libvirt keeps each domain's QMP monitor to itself (it passes QEMU the
 * socket as an fd), so for its domains the daemon asks libvirt:
 * virDomainMemoryStats() for what the balloon leaves the guest ("actual"),
 * virDomainSetMemoryFlags(VIR_DOMAIN_AFFECT_LIVE) for a new size, and
 * virDomainSetMemoryStatsPeriod() once, so that libvirt (virsh dommemstat)
 * shows the guest's own figures too. What the balloon should hold is what
 * balloon_want() says, as for QEMU's balloon over QMP (virtio_balloon.c).
 *
 * Which VM is which domain: the VM's name (from "-name guest=NAME", which
 * libvirt writes) must be a running domain's, and that domain's UUID the
 * one on the VM's QEMU command line ("-uuid"); a VM that is not gets no
 * call. Only VMs with a virtio-balloon on their command line are asked
 * about.
 *
 * libvirt's API blocks: a call waits for libvirtd. So every call runs in a
 * thread of its own, which runs libvirt's event loop (for the
 * connection's keepalive) and takes requests from the daemon's loop over
 * a pipe; its answers come back over another pipe that the daemon's epoll
 * watches (EV_LIBVIRT). The daemon's loop never waits for libvirt: it
 * sends a request (or, with the pipe full, tries again next balance) and
 * goes on. The keepalive (LIBVIRT_KEEPALIVE_SECS, LIBVIRT_KEEPALIVE_COUNT)
 * bounds how long a libvirtd that stopped answering holds a call: the
 * connection is closed, the call fails, and the thread connects again
 * every LIBVIRT_RECONNECT_SECS. A libvirtd that is not there is said once
 * in the log, and the domains' stock balloons wait for it.
 *
 * The thread shares nothing with the daemon but the two pipes, and logs
 * nothing itself (the daemon's log is not made for two threads): it
 * reports what happened, and the daemon's loop logs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esxmemd.h"
#include "libvirt.h"
#include "log.h"

/* "-uuid U" on a NUL-separated command line, and a virtio-balloon device. */
void libvirt_identity(struct vm_cache *c, const char *cmdline, size_t len)
{
	const char *p = cmdline, *end = cmdline + len, *arg;
	struct libvirt_balloon *lb = &c->libvirt;

	lb->uuid[0] = '\0';
	lb->has_balloon = false;
	while (p < end) {
		arg = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
		if (p >= end)
			break;
		if (!strcmp(arg, "-uuid") && strnlen(p, (size_t)(end - p)) == 36)
			memcpy(lb->uuid, p, 37);
		/* libvirt's JSON form: {"driver":"virtio-balloon-pci",...}. */
		if (!strcmp(arg, "-device") && p[0] == '{' &&
		    strstr(p, "\"driver\":\"virtio-balloon"))
			lb->has_balloon = true;
	}
}

#ifndef ESXMEMD_LIBVIRT

void libvirt_open(struct daemon *d)
{
	if (d->conf.libvirt_uri[0])
		log_info("libvirt: this esxmemd was built without libvirt (libvirt-dev): the stock balloons of libvirt's domains are not driven (esxballoon is)");
}

#else

#include <pthread.h>
#include <sys/epoll.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define LIBVIRT_KEEPALIVE_SECS	5
#define LIBVIRT_KEEPALIVE_COUNT	3
#define LIBVIRT_RECONNECT_SECS	10
/* The guest's statistics, for virsh dommemstat: every this many seconds. */
#define LIBVIRT_STATS_PERIOD	5
#define LIBVIRT_RETRY_MAX	8	/* balances */
/* The share of its memory a balloon may hold, as esxballoon's default. */
#define BALLOON_CAP_PERCENT	65

/* A request of the daemon's loop, and the thread's answer: one pipe write each. */
struct libvirt_msg {
	/* LV_URI: requests only, the URI in @text; LV_LINK: answers only */
	enum { LV_QUERY, LV_SET, LV_URI, LV_LINK } op;
	uint32_t vm_id;
	uint32_t pid;			/* the VM's owner when asked */
	int err;			/* answers: 0 or -errno */
	bool set_period;		/* LV_QUERY: set the stats period first */
	bool is_domain;			/* LV_QUERY's answer */
	uint64_t kib;			/* LV_SET: the size; LV_QUERY's answer: actual */
	char name[ESXMEM_VM_NAME_MAX];
	char uuid[VIR_UUID_STRING_BUFLEN];
	char text[256];			/* answers: libvirt's own words; LV_URI: the URI */
};
_Static_assert(sizeof(struct libvirt_msg) <= PIPE_BUF, "a message is one atomic pipe write");

/* The daemon's end. */
struct libvirt_link {
	int req_fd;			/* requests: write end, non-blocking */
	int ans_fd;			/* answers: read end, non-blocking */
	char uri[sizeof(((struct config *)0)->libvirt_uri)];
	int link_err;			/* the connection's last reported state */
	bool link_known;
	bool uri_unsent;		/* @uri is still to go to the thread */
};

/* The thread's end: its own, freed when it ends. */
struct libvirt_thread {
	int req_fd, ans_fd;
	char uri[sizeof(((struct config *)0)->libvirt_uri)];	/* "": off */
	virConnectPtr conn;
	bool conn_closed;		/* libvirt said the connection is gone */
	int req_watch, timer;
	bool stop;
};

static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static void last_error(struct libvirt_msg *m)
{
	snprintf(m->text, sizeof(m->text), "%s", virGetLastErrorMessage());
}

/* One answer to the daemon: blocking, the daemon reads them as they come. */
static void answer(struct libvirt_thread *t, const struct libvirt_msg *m)
{
	ssize_t n;

	do
		n = write(t->ans_fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*m))
		t->stop = true;		/* the daemon closed its end */
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct libvirt_thread *t = opaque;

	(void)conn;
	(void)reason;
	t->conn_closed = true;
	virEventUpdateTimeout(t->timer, 0);
}

static void disconnect(struct libvirt_thread *t)
{
	if (!t->conn)
		return;
	virConnectUnregisterCloseCallback(t->conn, on_close);
	virConnectClose(t->conn);
	t->conn = NULL;
	t->conn_closed = false;
}

/* Connects, says how it went, and arms the retry if it did not. */
static void connect_now(struct libvirt_thread *t)
{
	struct libvirt_msg m = { .op = LV_LINK };

	t->conn = virConnectOpen(t->uri);
	if (t->conn && (virConnectSetKeepAlive(t->conn, LIBVIRT_KEEPALIVE_SECS,
					       LIBVIRT_KEEPALIVE_COUNT) < 0 ||
			virConnectRegisterCloseCallback(t->conn, on_close, t, NULL) < 0)) {
		last_error(&m);
		virConnectClose(t->conn);
		t->conn = NULL;
		m.err = -EIO;
	} else if (!t->conn) {
		last_error(&m);
		m.err = -ENOTCONN;
	}
	answer(t, &m);
	virEventUpdateTimeout(t->timer, t->conn ? -1 : LIBVIRT_RECONNECT_SECS * 1000);
}

static void on_timer(int timer, void *opaque)
{
	struct libvirt_thread *t = opaque;

	(void)timer;
	if (t->conn_closed) {
		struct libvirt_msg m = { .op = LV_LINK, .err = -ECONNRESET };

		disconnect(t);
		snprintf(m.text, sizeof(m.text), "the connection was closed");
		answer(t, &m);
	}
	if (!t->conn)
		connect_now(t);
}

/*
 * The running domain named @m->name whose UUID is @m->uuid, or NULL (with
 * @m->err set if libvirt failed, rather than said there is none).
 */
static virDomainPtr domain_of(struct libvirt_thread *t, struct libvirt_msg *m)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainPtr dom;

	if (!t->conn) {
		m->err = -ENOTCONN;
		snprintf(m->text, sizeof(m->text), "not connected");
		return NULL;
	}
	dom = virDomainLookupByName(t->conn, m->name);
	if (!dom) {
		if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
			m->err = -EIO;
			last_error(m);
		}
		return NULL;
	}
	if (virDomainGetUUIDString(dom, uuid) || strcmp(uuid, m->uuid) ||
	    virDomainIsActive(dom) != 1) {
		virDomainFree(dom);
		return NULL;
	}
	return dom;
}

static void query(struct libvirt_thread *t, struct libvirt_msg *m)
{
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
	virDomainPtr dom = domain_of(t, m);
	int n, i;

	if (!dom)
		return;
	m->is_domain = true;
	/* Not fatal: the balloon works without the guest's statistics. */
	if (m->set_period &&
	    virDomainSetMemoryStatsPeriod(dom, LIBVIRT_STATS_PERIOD, VIR_DOMAIN_AFFECT_LIVE) < 0)
		last_error(m);
	n = virDomainMemoryStats(dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	if (n < 0) {
		m->err = -EIO;
		last_error(m);
	} else {
		m->err = -ENODATA;
		for (i = 0; i < n; i++)
			if (st[i].tag == VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON) {
				m->kib = st[i].val;
				m->err = 0;
			}
		if (m->err)
			snprintf(m->text, sizeof(m->text), "no balloon size in its memory statistics");
	}
	virDomainFree(dom);
}

static void set(struct libvirt_thread *t, struct libvirt_msg *m)
{
	virDomainPtr dom = domain_of(t, m);

	if (!dom) {
		if (!m->err) {
			m->err = -ESRCH;
			snprintf(m->text, sizeof(m->text), "no longer a running domain of that UUID");
		}
		return;
	}
	if (virDomainSetMemoryFlags(dom, (unsigned long)m->kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		m->err = -EIO;
		last_error(m);
	}
	virDomainFree(dom);
}

static void on_request(int watch, int fd, int events, void *opaque)
{
	struct libvirt_thread *t = opaque;
	struct libvirt_msg m;
	ssize_t n;

	(void)watch;
	(void)events;
	while (!t->stop) {
		n = read(fd, &m, sizeof(m));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)sizeof(m)) {
			t->stop = true;		/* the daemon closed its end */
			return;
		}
		if (m.op == LV_URI) {
			disconnect(t);
			m.text[sizeof(m.text) - 1] = '\0';
			snprintf(t->uri, sizeof(t->uri), "%s", m.text);
			if (t->uri[0])
				connect_now(t);
			else
				virEventUpdateTimeout(t->timer, -1);
			continue;
		}
		m.err = 0;
		m.text[0] = '\0';
		if (m.op == LV_QUERY)
			query(t, &m);
		else
			set(t, &m);
		answer(t, &m);
	}
}

static void *thread_main(void *arg)
{
	struct libvirt_thread *t = arg;

	t->req_watch = virEventAddHandle(t->req_fd, VIR_EVENT_HANDLE_READABLE, on_request, t, NULL);
	t->timer = virEventAddTimeout(-1, on_timer, t, NULL);
	if (t->req_watch < 0 || t->timer < 0) {
		struct libvirt_msg m = { .op = LV_LINK, .err = -ENOMEM };

		last_error(&m);
		answer(t, &m);
		t->stop = true;
	} else {
		connect_now(t);
	}
	while (!t->stop && virEventRunDefaultImpl() == 0)
		;
	disconnect(t);
	if (t->req_watch >= 0)
		virEventRemoveHandle(t->req_watch);
	if (t->timer >= 0)
		virEventRemoveTimeout(t->timer);
	close(t->req_fd);
	close(t->ans_fd);
	free(t);
	return NULL;
}

void libvirt_open(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LIBVIRT };
	static bool event_loop_registered;
	struct libvirt_thread *t = NULL;
	struct libvirt_link *l = NULL;
	int req[2] = { -1, -1 }, ans[2] = { -1, -1 }, err = 0;
	pthread_attr_t attr;
	pthread_t tid;

	if (!d->conf.libvirt_uri[0]) {
		log_info("libvirt: off (libvirt_uri is \"\"): the stock balloons of libvirt's domains are not driven");
		return;
	}
	if (!event_loop_registered) {
		/* libvirt reports its errors to the caller, not to stderr. */
		virSetErrorFunc(NULL, quiet);
		if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
			log_warn("libvirt: cannot set up its library: %s; the stock balloons of libvirt's domains are not driven",
				 virGetLastErrorMessage());
			return;
		}
		event_loop_registered = true;
	}
	l = calloc(1, sizeof(*l));
	t = calloc(1, sizeof(*t));
	if (!l || !t || pipe2(req, O_CLOEXEC) || pipe2(ans, O_CLOEXEC) ||
	    fcntl(req[1], F_SETFL, O_NONBLOCK) || fcntl(req[0], F_SETFL, O_NONBLOCK) ||
	    fcntl(ans[0], F_SETFL, O_NONBLOCK) ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, ans[0], &ev))
		err = errno ? -errno : -ENOMEM;
	if (!err) {
		snprintf(l->uri, sizeof(l->uri), "%s", d->conf.libvirt_uri);
		/* One thread for the daemon's life: libvirt's event loop runs in one thread only. */
		snprintf(t->uri, sizeof(t->uri), "%s", d->conf.libvirt_uri);
		l->req_fd = req[1];
		l->ans_fd = ans[0];
		t->req_fd = req[0];
		t->ans_fd = ans[1];
		t->req_watch = t->timer = -1;
		/* Detached: a thread stuck in a call to a hung libvirtd never holds up the daemon. */
		err = -pthread_attr_init(&attr) ?: -pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) ?:
		      -pthread_create(&tid, &attr, thread_main, t);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		log_warn("libvirt: cannot start its thread: %s; the stock balloons of libvirt's domains are not driven",
			 strerror(-err));
		if (ans[0] >= 0)
			epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, ans[0], NULL);
		for (int i = 0; i < 2; i++) {
			if (req[i] >= 0)
				close(req[i]);
			if (ans[i] >= 0)
				close(ans[i]);
		}
		free(l);
		free(t);
		return;
	}
	d->libvirt = l;
}

/* Every VM is asked about afresh: which domain it is, and its balloon. */
static void forget_domains(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->vm_cache_cap; i++)
		if (d->vm_cache[i]) {
			struct libvirt_balloon *lb = &d->vm_cache[i]->libvirt;

			lb->pending = false;
			lb->is = LIBVIRT_UNKNOWN;
			lb->period_set = false;
			lb->sent_kib = 0;
			lb->settled = false;
		}
}

void libvirt_close(struct daemon *d)
{
	struct libvirt_link *l = d->libvirt;

	if (!l)
		return;
	/* The thread sees its pipes close and ends by itself. */
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, l->ans_fd, NULL);
	close(l->req_fd);
	close(l->ans_fd);
	free(l);
	d->libvirt = NULL;
	forget_domains(d);
}

/* The URI to the thread; 0, or -EAGAIN to try again next balance. */
static int send_uri(struct daemon *d)
{
	struct libvirt_msg m = { .op = LV_URI };
	struct libvirt_link *l = d->libvirt;

	snprintf(m.text, sizeof(m.text), "%s", l->uri);
	if (write(l->req_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return -EAGAIN;
	l->uri_unsent = false;
	return 0;
}

void libvirt_reconfigure(struct daemon *d)
{
	struct libvirt_link *l = d->libvirt;

	if (!l) {
		if (d->conf.libvirt_uri[0])
			libvirt_open(d);
		return;
	}
	if (!strcmp(l->uri, d->conf.libvirt_uri))
		return;
	snprintf(l->uri, sizeof(l->uri), "%s", d->conf.libvirt_uri);
	l->link_known = false;
	l->uri_unsent = true;
	if (!l->uri[0])
		log_info("libvirt: off (libvirt_uri is \"\"): the stock balloons of libvirt's domains are not driven");
	forget_domains(d);
	send_uri(d);
}

static int send_request(struct daemon *d, struct vm_cache *c, const struct esxmem_vm_info *vm,
			int op, uint64_t kib)
{
	struct libvirt_msg m = { .op = op, .vm_id = c->id, .pid = c->pid, .kib = kib };

	snprintf(m.name, sizeof(m.name), "%s", esxmem_vm_name(vm));
	memcpy(m.uuid, c->libvirt.uuid, sizeof(m.uuid));
	m.set_period = op == LV_QUERY && !c->libvirt.period_set;
	if (write(d->libvirt->req_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return -errno;		/* EAGAIN: a full pipe, next balance */
	c->libvirt.pending = true;
	if (m.set_period)
		c->libvirt.period_set = true;
	return 0;
}

/* A failure: logged when it changes; the next try after 1, 2, 4, then every 8 balances. */
static void failed(struct daemon *d, struct libvirt_balloon *lb, const char *name,
		   const struct libvirt_msg *m)
{
	if (m->err != lb->last_err && m->err != -ENOTCONN)
		log_warn("VM %s: libvirt: %s (%s); its virtio-balloon is not driven until libvirt answers",
			 name, m->text[0] ? m->text : strerror(-m->err), strerror(-m->err));
	lb->last_err = m->err;
	lb->settled = false;
	lb->retry_at = d->balances + (1u << (lb->failures < 3 ? lb->failures : 3));
	if (lb->retry_at > d->balances + LIBVIRT_RETRY_MAX)
		lb->retry_at = d->balances + LIBVIRT_RETRY_MAX;
	lb->failures++;
}

/* What the balloon holds (@m->kib is "actual"), and a new size if it should hold another. */
static void on_query(struct daemon *d, struct vm_cache *c, const struct esxmem_vm_info *vm,
		     const struct libvirt_msg *m)
{
	struct libvirt_balloon *lb = &c->libvirt;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t size = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES), ram = size * page;
	uint64_t actual = m->kib * 1024, want, kib;

	if (!m->is_domain) {
		if (lb->is != LIBVIRT_NOT_DOMAIN)
			log_info("VM %s: no running libvirt domain of that name with UUID %s: its virtio-balloon is left alone",
				 esxmem_vm_name(vm), lb->uuid);
		lb->is = LIBVIRT_NOT_DOMAIN;
		return;
	}
	if (m->set_period && m->text[0])
		log_info("VM %s: libvirt did not set the guest's memory statistics period: %s",
			 esxmem_vm_name(vm), m->text);
	if (lb->is != LIBVIRT_DOMAIN)
		log_info("VM %s is libvirt's domain %s: its virtio-balloon is driven through libvirt",
			 esxmem_vm_name(vm), lb->uuid);
	lb->is = LIBVIRT_DOMAIN;
	if (lb->last_err)
		log_info("VM %s: libvirt answers again", esxmem_vm_name(vm));
	lb->last_err = 0;
	lb->failures = 0;
	lb->held = actual < ram ? (ram - actual) / page : 0;
	want = balloon_want(d, vm, lb->held);
	if (want > size * BALLOON_CAP_PERCENT / 100)
		want = size * BALLOON_CAP_PERCENT / 100;
	lb->seen_size = size;
	lb->seen_target = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
	lb->seen_consumed = esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES);
	lb->seen_state = esxmem_pool_value(d->pool, ESXMEM_POOL_STATE);
	lb->seen_give = d->balloon_give;
	lb->settled = lb->held == want;
	kib = (ram - want * page) / 1024;
	if (kib == lb->sent_kib)
		return;			/* asked for already: the balloon is on its way */
	if (send_request(d, c, vm, LV_SET, kib) == 0)
		log_debug("VM %s: virtio-balloon through libvirt to %llu MiB (holds %llu pages, wants %llu)",
			  esxmem_vm_name(vm), (unsigned long long)(kib >> 10),
			  (unsigned long long)lb->held, (unsigned long long)want);
	else
		lb->settled = false;	/* asked for again next balance */
}

static void on_link(struct daemon *d, const struct libvirt_msg *m)
{
	struct libvirt_link *l = d->libvirt;

	if (l->link_known && m->err == l->link_err)
		return;
	if (!m->err)
		log_info("libvirt: connected to %s; the stock balloons of its domains are driven through it",
			 l->uri);
	else if (m->err == -ECONNRESET)
		log_warn("libvirt: lost the connection to %s (%s); connecting again every %d s",
			 l->uri, m->text, LIBVIRT_RECONNECT_SECS);
	else
		log_warn("libvirt: %s is not reachable (%s); the stock balloons of libvirt's domains are not driven until it is: start libvirtd, or set \"libvirt_uri\": \"\" to turn this off; trying again every %d s",
			 l->uri, m->text, LIBVIRT_RECONNECT_SECS);
	l->link_known = true;
	l->link_err = m->err;
}

void libvirt_ready(struct daemon *d)
{
	struct libvirt_msg m;
	struct vm_cache *c;
	ssize_t n;
	int v;

	while (d->libvirt) {
		n = read(d->libvirt->ans_fd, &m, sizeof(m));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)sizeof(m)) {
			log_warn("libvirt: its thread ended; the stock balloons of libvirt's domains are not driven");
			libvirt_close(d);
			return;
		}
		m.text[sizeof(m.text) - 1] = '\0';
		if (m.op == LV_LINK) {
			on_link(d, &m);
			continue;
		}
		c = vm_cache_find(d, m.vm_id);
		v = vm_index(d, m.vm_id);
		/* Gone, or another process's VM by now: the answer is stale. */
		if (!c || v < 0 || c->pid != m.pid)
			continue;
		c->libvirt.pending = false;
		if (m.err)
			failed(d, &c->libvirt, esxmem_vm_name(d->vms[v]), &m);
		else if (m.op == LV_QUERY)
			on_query(d, c, d->vms[v], &m);
		else
			c->libvirt.sent_kib = m.kib;
	}
}

/* Whether VM @vm's balloon may need a new size since the last query. */
static bool worth_asking(const struct daemon *d, const struct libvirt_balloon *lb,
			 const struct esxmem_vm_info *vm)
{
	if (lb->pending || lb->is == LIBVIRT_NOT_DOMAIN)
		return false;
	if (lb->last_err)
		return d->balances >= lb->retry_at;
	return lb->is == LIBVIRT_UNKNOWN || !lb->settled ||
	       lb->seen_size != esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) ||
	       lb->seen_target != esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES) ||
	       lb->seen_consumed != esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) ||
	       lb->seen_state != esxmem_pool_value(d->pool, ESXMEM_POOL_STATE) ||
	       lb->seen_give != d->balloon_give;
}

void libvirt_balloons(struct daemon *d)
{
	size_t i;

	if (!d->libvirt || (d->libvirt->uri_unsent && send_uri(d)) || !d->libvirt->uri[0])
		return;
	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = d->vms[i];
		struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(vm));

		if (!c || !c->libvirt.uuid[0] || !c->libvirt.has_balloon ||
		    !esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) ||
		    !vm_settings(d, esxmem_vm_name(vm))->reclaim.balloon || c->balloon_session ||
		    !worth_asking(d, &c->libvirt, vm))
			continue;
		if (send_request(d, c, vm, LV_QUERY, 0) == -EAGAIN)
			break;		/* the thread is busy: the rest next balance */
	}
}

#endif
