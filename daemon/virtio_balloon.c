// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guests without esxballoon: QEMU's own virtio-balloon, driven over QMP.
 * QEMU frees what the guest's driver gives up with fallocate(PUNCH_HOLE)
 * on the guest's RAM file, which esxmem turns into free machine pages.
 *
 * The balloon holds what the guest's memory size lacks ("actual" of
 * query-balloon); it should hold what balloon_want() says, as esxballoon's
 * would, asked for as the guest memory size to have.
 *
 * Sessions run in the daemon's event loop: after a balance, each VM with
 * a virtio-balloon and a QMP socket (from its cached identity) gets a
 * short session, connect, greeting, qmp_capabilities, query-balloon and,
 * when the size to ask for changed, balloon; each step waits for QEMU
 * without blocking, under a deadline (QMP_TIMEOUT_MS from the session's
 * start or QEMU's last message, and what QEMU sent while the daemon was
 * busy counts), so a QEMU that hangs holds up nothing but its own balloon. A VM gets a
 * session only when something its balloon depends on changed since the
 * last one that went through (its size, target, what it consumes, the
 * free-memory state) or its balloon was not yet where it was asked to
 * be. A balloon that is not there and did not move since the last
 * session, which had nothing new to ask (its guest is slow to give pages,
 * or has no driver), is looked at again after 2, 4, then every
 * QMP_RECHECK_MAX balances, unless what it depends on changes: with a
 * thousand VMs, sessions every balance with QEMUs whose balloons do not
 * move were most of what the daemon did. A VM whose QEMU failed is tried
 * again after 1, 2, 4, then every QMP_RETRY_MAX balances. At most
 * QMP_SESSIONS_MAX sessions run at once; the other VMs wait in a queue.
 *
 * The socket a command line names is only trusted if whoever made it
 * (SO_PEERCRED) runs as the same user as the QEMU that names it: a QEMU
 * of one user pointing -qmp at another user's VM's monitor would have the
 * daemon resize that VM's balloon with its own targets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"
#include "qmp.h"

#define QMP_TIMEOUT_MS		1000
#define QMP_SESSIONS_MAX	64
#define QMP_RETRY_MAX		8	/* balances */
#define QMP_RECHECK_MAX		8	/* balances */
/* The share of its memory a balloon may hold, as esxballoon's default. */
#define BALLOON_CAP_PERCENT 65

struct qmp_session {
	struct qmp q;
	uint32_t vm_id;
	size_t slot;
	enum { QS_GREETING, QS_CAPABILITIES, QS_QUERY, QS_SET } step;
	char *out;			/* the command line still to send */
	size_t out_len, out_off;
	uint64_t value;			/* the size asked for by QS_SET */
	uint64_t held, want;
	/* What the VM looked like when it was queried. */
	uint64_t size, target, consumed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The effective uid of process @pid, from /proc/PID/status. */
static int process_uid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	unsigned long real, effective;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu %lu", &real, &effective) == 2) {
			*uid = (uid_t)effective;
			err = 0;
			break;
		}
	fclose(f);
	return err;
}

/* -EPERM when the QMP socket was made by another user than the VM's QEMU. */
static int check_owner(const struct esxmem_vm_info *vm, const struct qmp *q,
		       const char *path, bool say)
{
	uid_t qemu_uid = (uid_t)-1, peer_uid = (uid_t)-2;
	pid_t peer_pid = 0;
	int err = process_uid((pid_t)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID), &qemu_uid) ?:
		  qmp_peer(q, &peer_uid, &peer_pid);

	if (err)
		return err;
	if (peer_uid == qemu_uid)
		return 0;
	if (say)
		log_warn("VM %s: the QMP socket %s on its command line belongs to uid %u (process %d), not to its QEMU's uid %u (process %u): refused, its virtio-balloon is not driven",
			 esxmem_vm_name(vm), path, (unsigned int)peer_uid, (int)peer_pid,
			 (unsigned int)qemu_uid, (unsigned int)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID));
	return -EPERM;
}

/* The earliest deadline of the sessions in flight, or none. */
static void arm_deadline(struct daemon *d)
{
	struct itimerspec its = { 0 };
	double first = 0;
	size_t i;

	for (i = 0; i < d->nr_qmp_slots; i++)
		if (d->qmp_sessions[i] && (!first || d->qmp_sessions[i]->q.deadline < first))
			first = d->qmp_sessions[i]->q.deadline;
	if (first) {
		its.it_value.tv_sec = (time_t)first;
		its.it_value.tv_nsec = (long)((first - (double)(time_t)first) * 1e9);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(d->qmp_timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		log_warn("cannot arm the QMP deadline timer: %m");
}

/* How the session of the VM of record @c went: @err, 0 when it went through. */
static void session_result(struct daemon *d, struct vm_cache *c, int err)
{
	struct stock_balloon *sb = &c->stock;
	const char *name = c->listed ? esxmem_vm_name(d->vms[c->index]) : "?";

	if (err && err != sb->last_err && err != -EPERM)
		log_warn("VM %s: QMP at %s: %s; its virtio-balloon is not driven (check QEMU's -qmp socket)",
			 name, c->qmp_path, strerror(-err));
	else if (!err && sb->last_err)
		log_info("VM %s: QMP at %s answers again", name, c->qmp_path);
	sb->last_err = err;
	if (!err) {
		sb->failures = 0;
		sb->retry_at = 0;
		return;
	}
	sb->settled = false;
	sb->retry_at = d->balances + (1u << (sb->failures < 3 ? sb->failures : 3));
	if (sb->retry_at > d->balances + QMP_RETRY_MAX)
		sb->retry_at = d->balances + QMP_RETRY_MAX;
	sb->failures++;
}

/*
 * Ends @s with @err (0: it went through); its VM's record learns how it
 * went. The caller starts the next sessions (start_next()).
 */
static void end_session(struct daemon *d, struct qmp_session *s, int err)
{
	struct vm_cache *c = vm_cache_find(d, s->vm_id);
	bool asked = s->step == QS_SET;

	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, s->q.fd, NULL);
	qmp_close(&s->q);
	d->qmp_sessions[s->slot] = NULL;
	d->nr_qmp_sessions--;
	if (c && c->stock.session == s) {
		struct stock_balloon *sb = &c->stock;

		sb->session = NULL;
		session_result(d, c, err);
		if (!err) {
			sb->seen_size = s->size;
			sb->seen_target = s->target;
			sb->seen_consumed = s->consumed;
			sb->seen_state = esxmem_pool_value(d->pool, ESXMEM_POOL_STATE);
			sb->seen_give = d->balloon_give;
			sb->settled = s->held == s->want;
			/* Not there and not moving: 2, 4, 8 balances to the next look. */
			if (sb->settled || asked || s->held != sb->seen_held)
				sb->still = 0;
			else if ((1u << sb->still) < QMP_RECHECK_MAX)
				sb->still++;
			sb->recheck_at = sb->still ? d->balances + (1u << sb->still) : 0;
			sb->seen_held = s->held;
		}
	}
	free(s->out);
	free(s);
	arm_deadline(d);
}

/* Queues @execute for sending; the loop sends it as the socket takes it. */
static int send_command(struct daemon *d, struct qmp_session *s, const char *execute,
			json_t *args)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
				  .data.u64 = EV_QMP_SESSION + s->slot };
	ssize_t n;

	free(s->out);
	s->out = qmp_command(execute, args);
	if (!s->out)
		return -ENOMEM;
	s->out_len = strlen(s->out);
	s->out_off = 0;
	n = send(s->q.fd, s->out, s->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	if (n > 0)
		s->out_off = (size_t)n;
	if (s->out_off == s->out_len)
		return 0;
	/* The rest when QEMU reads: rare, a command is a short line. */
	return epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, s->q.fd, &ev) ? -errno : 0;
}

/* The rest of a command the socket did not take at once. */
static int send_rest(struct daemon *d, struct qmp_session *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_QMP_SESSION + s->slot };
	ssize_t n;

	if (!s->out || s->out_off == s->out_len)
		return 0;
	n = send(s->q.fd, s->out + s->out_off, s->out_len - s->out_off,
		 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	s->out_off += (size_t)n;
	if (s->out_off < s->out_len)
		return 0;
	return epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, s->q.fd, &ev) ? -errno : 0;
}

/* query-balloon answered: what the balloon should hold, asked for if it changed. */
static int on_actual(struct daemon *d, struct qmp_session *s, json_t *ret)
{
	struct vm_cache *c = vm_cache_find(d, s->vm_id);
	int v = vm_index(d, s->vm_id), err;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), actual = 0, ram;
	const struct esxmem_vm_info *vm;

	if (v < 0 || !c)
		return -ENOENT;		/* gone meanwhile */
	vm = d->vms[v];
	err = qmp_balloon_actual_of(ret, &actual);
	if (err)
		return err;
	ram = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * page;
	s->size = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES);
	s->target = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
	s->consumed = esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES);
	s->held = actual < ram ? (ram - actual) / page : 0;
	s->want = balloon_want(d, vm, s->held);
	if (s->want > esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * BALLOON_CAP_PERCENT / 100)
		s->want = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) * BALLOON_CAP_PERCENT / 100;
	s->value = ram - s->want * page;
	if (s->value == c->stock.sent)
		return 1;		/* nothing to ask */
	s->step = QS_SET;
	return send_command(d, s, "balloon", json_pack("{s:I}", "value", (json_int_t)s->value));
}

/* One message from QEMU: the session's next step; 1 when it is done. */
static int step(struct daemon *d, struct qmp_session *s, json_t *msg)
{
	struct vm_cache *c;
	json_t *ret = NULL;
	int err, v;

	if (s->step == QS_GREETING) {
		if (!json_object_get(msg, "QMP"))
			return -EPROTO;
		s->step = QS_CAPABILITIES;
		return send_command(d, s, "qmp_capabilities", NULL);
	}
	err = qmp_reply(msg, &ret);
	if (err == -EAGAIN)
		return 0;		/* an event: the reply is still to come */
	if (!err) {
		switch (s->step) {
		case QS_CAPABILITIES:
			s->step = QS_QUERY;
			err = send_command(d, s, "query-balloon", NULL);
			break;
		case QS_QUERY:
			err = on_actual(d, s, ret);
			break;
		default:
			c = vm_cache_find(d, s->vm_id);
			v = vm_index(d, s->vm_id);
			if (c)
				c->stock.sent = s->value;
			if (v >= 0)
				log_debug("VM %s: virtio-balloon to %llu MiB (holds %llu pages, wants %llu)",
					  esxmem_vm_name(d->vms[v]), (unsigned long long)(s->value >> 20),
					  (unsigned long long)s->held, (unsigned long long)s->want);
			err = 1;
			break;
		}
	}
	json_decref(ret);
	return err;
}

static void start_next(struct daemon *d);

void stock_balloon_ready(struct daemon *d, size_t slot, uint32_t events)
{
	struct qmp_session *s = slot < d->nr_qmp_slots ? d->qmp_sessions[slot] : NULL;
	json_t *msg;
	int err = 0;

	if (!s)
		return;
	if (events & EPOLLOUT)
		err = send_rest(d, s);
	while (!err && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		err = qmp_take_message(&s->q, &msg);
		if (err == -EAGAIN) {
			err = 0;
			break;
		}
		if (!err) {
			/* QEMU answers: its deadline counts from its last word. */
			s->q.deadline = now() + QMP_TIMEOUT_MS / 1000.0;
			err = step(d, s, msg);
			json_decref(msg);
		}
	}
	if (err) {
		end_session(d, s, err > 0 ? 0 : err);
		start_next(d);
	}
}

void stock_balloon_deadline(struct daemon *d)
{
	double t = now();
	uint64_t ticks;
	size_t i;

	if (read(d->qmp_timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("QMP deadline timer: %m");
	for (i = 0; i < d->nr_qmp_slots; i++) {
		if (!d->qmp_sessions[i] || d->qmp_sessions[i]->q.deadline > t)
			continue;
		/*
		 * What QEMU sent while the daemon was busy (a long balance)
		 * counts: only a QEMU that said nothing in time is given up.
		 */
		stock_balloon_ready(d, i, EPOLLIN);
		if (d->qmp_sessions[i] && d->qmp_sessions[i]->q.deadline <= t)
			end_session(d, d->qmp_sessions[i], -ETIMEDOUT);
	}
	arm_deadline(d);
	start_next(d);
}

/* A session for the VM of record @c, in a free slot; 0 or -errno (its error). */
static int start(struct daemon *d, struct vm_cache *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	const struct esxmem_vm_info *vm = d->vms[c->index];
	struct qmp_session *s, **more;
	size_t slot;
	int err;

	for (slot = 0; slot < d->nr_qmp_slots && d->qmp_sessions[slot]; slot++)
		;
	if (slot == d->nr_qmp_slots) {
		more = realloc(d->qmp_sessions, (slot + 8) * sizeof(*more));
		if (!more)
			return -ENOMEM;
		memset(more + slot, 0, 8 * sizeof(*more));
		d->qmp_sessions = more;
		d->nr_qmp_slots = slot + 8;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vm_id = c->id;
	s->slot = slot;
	s->q.deadline = now() + QMP_TIMEOUT_MS / 1000.0;
	err = qmp_connect(&s->q, c->qmp_path);
	if (!err) {
		err = check_owner(vm, &s->q, c->qmp_path, c->stock.last_err != -EPERM);
		ev.data.u64 = EV_QMP_SESSION + slot;
		if (!err && epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, s->q.fd, &ev))
			err = -errno;
	}
	if (err) {
		qmp_close(&s->q);
		free(s);
		return err;
	}
	d->qmp_sessions[slot] = s;
	d->nr_qmp_sessions++;
	c->stock.session = s;
	return 0;
}

/* Starts sessions for the VMs in the queue while there is room. */
static void start_next(struct daemon *d)
{
	bool started = false;

	while (d->nr_qmp_sessions < QMP_SESSIONS_MAX && d->qmp_queue_head < d->qmp_queue_len) {
		struct vm_cache *c = vm_cache_find(d, d->qmp_queue[d->qmp_queue_head++]);
		int err;

		if (!c || !c->listed || c->stock.session || !c->qmp_path[0])
			continue;
		err = start(d, c);
		if (err)	/* at once: no socket, a full backlog, another user's */
			session_result(d, c, err);
		else
			started = true;
	}
	if (d->qmp_queue_head == d->qmp_queue_len)
		d->qmp_queue_head = d->qmp_queue_len = 0;
	if (started)
		arm_deadline(d);
}

/* Whether VM @vm's balloon may need a new size since the last session. */
static bool worth_asking(const struct daemon *d, const struct vm_cache *c,
			 const struct esxmem_vm_info *vm)
{
	const struct stock_balloon *sb = &c->stock;

	if (sb->session)
		return false;			/* still at it */
	if (sb->last_err)
		return d->balances >= sb->retry_at;
	return (!sb->settled && d->balances >= sb->recheck_at) ||
	       sb->seen_size != esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) ||
	       sb->seen_target != esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES) ||
	       sb->seen_consumed != esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) ||
	       sb->seen_state != esxmem_pool_value(d->pool, ESXMEM_POOL_STATE) ||
	       sb->seen_give != d->balloon_give;
}

void stock_balloons(struct daemon *d)
{
	uint32_t *more;
	size_t i;

	for (i = 0; i < d->nr_vms; i++) {
		const struct esxmem_vm_info *vm = d->vms[i];
		struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(vm));

		/* A VM whose RAM has no size yet has no balloon to size. */
		if (!c || !c->qmp_path[0] || !esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID) || !esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES))
			continue;
		c->stock.tracked = true;
		if (!vm_settings(d, esxmem_vm_name(vm))->reclaim.balloon || c->balloon_session ||
		    !worth_asking(d, c, vm))
			continue;
		if (d->qmp_queue_len == d->qmp_queue_cap) {
			size_t cap = d->qmp_queue_cap ? 2 * d->qmp_queue_cap : 64;

			more = realloc(d->qmp_queue, cap * sizeof(*more));
			if (!more)
				break;		/* the rest next balance */
			d->qmp_queue = more;
			d->qmp_queue_cap = cap;
		}
		d->qmp_queue[d->qmp_queue_len++] = esxmem_vm_id(vm);
	}
	start_next(d);
}

void stock_balloon_forget(struct daemon *d, struct vm_cache *c)
{
	struct qmp_session *s = c->stock.session;

	if (s) {
		c->stock.session = NULL;
		end_session(d, s, -ENOENT);
	}
	memset(&c->stock, 0, sizeof(c->stock));
}

size_t stock_balloons_tracked(const struct daemon *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->vm_cache_cap; i++)
		if (d->vm_cache[i] && d->vm_cache[i]->stock.tracked)
			n++;
	return n;
}

int stock_balloons_open(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_QMP_TIMER };

	d->qmp_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->qmp_timer_fd < 0 || epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->qmp_timer_fd, &ev)) {
		int err = -errno;

		log_err("cannot make the QMP deadline timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

void stock_balloons_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nr_qmp_slots; i++)
		if (d->qmp_sessions[i]) {
			qmp_close(&d->qmp_sessions[i]->q);
			free(d->qmp_sessions[i]->out);
			free(d->qmp_sessions[i]);
		}
	free(d->qmp_sessions);
	d->qmp_sessions = NULL;
	d->nr_qmp_slots = d->nr_qmp_sessions = 0;
	free(d->qmp_queue);
	d->qmp_queue = NULL;
	d->qmp_queue_len = d->qmp_queue_head = d->qmp_queue_cap = 0;
	if (d->qmp_timer_fd >= 0)
		close(d->qmp_timer_fd);
	d->qmp_timer_fd = -1;
}
