// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host side of the balloon protocol (guest-balloon/uapi/esxballoon.h):
 * esxballoon in each guest connects over vsock, and its peer address (the
 * guest's CID, from its VMM's vsock device: QEMU's "-device
 * vhost-vsock-pci,guest-cid=N" or libvirt's JSON form) says which VM it
 * is; a CID that two VMs claim belongs to neither. Frames the balloon
 * holds go to the module (esxmem_vm_balloon()); the daemon keeps one bit
 * per guest frame for the session, so whatever a guest sends, its memory
 * here is bounded by the guest's configured size.
 *
 * A malformed message gets ERROR and the end of the connection. A guest
 * is served at most ESXBALLOON_HOST_FRAMES_PER_SEC frames and
 * ESXBALLOON_HOST_REQUESTS_PER_SEC requests a second: beyond that its
 * connection leaves the loop until the next second (pause_conn(),
 * balloon_pace()) and is never closed for its rate, so a guest that locks
 * a large balloon again after a reconnection only waits.
 *
 * When a connection ends, the guest sends RESET or the daemon stops, the
 * session's records go but the module keeps the frames ballooned: the
 * guest keeps its pages and locks them again in its next session (the
 * module takes a frame ballooned already as it is), and a frame it frees
 * instead is backed by a fresh page at its next touch. So neither a
 * reconnection, a RESET nor a daemon restart hands memory back only to
 * take it again; a daemon that starts finds the balloons in each VM's
 * BALLOONED pages, and its targets count them.
 *
 * Frames whose pages the host still uses (pinned for DMA, under I/O) are
 * not the guest's fault: the LOCK goes through and they stay backed
 * (lock_frames()).
 *
 * The target: a VM's balloon should hold what the VM has beyond its
 * target, where what it has is its private pages (what targets bound)
 * plus the private pages its balloon took from it: never the balloon's
 * own size. A frame that was not private when it was locked (never
 * touched, the zero page, shared, compressed or swapped) takes nothing the
 * target counts, so it does not count: a guest handing such frames to its
 * balloon does not make the target grow (balloon_empty).
 * In the high state no balloon grows, and balloons shrink into the free
 * memory above the high threshold (balance.c sets d->balloon_give).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "esxballoon.h"
#include "esxmemd.h"
#include "log.h"

#define HDR		sizeof(struct esxballoon_hdr)

struct balloon_conn {
	int fd;
	uint32_t cid;
	uint32_t vm_id;
	enum { B_CONNECTED, B_GREETED, B_READY } state;
	uint8_t buf[HDR + ESXBALLOON_MAX_PAYLOAD];
	size_t have;
	uint64_t *held;			/* a bit per guest frame */
	uint64_t nr_frames;
	uint64_t nr_held;
	/* Pacing: what the guest had served in the second @second. */
	uint64_t second;
	uint64_t frames_served;
	unsigned int requests_served;
	bool paused;			/* out of the epoll set until the next second */
	/* Held frames the module kept backed, for the logs: see lock_frames(). */
	uint64_t nr_kept;
	time_t kept_logged;
	bool no_balloon;		/* the VM cannot balloon: devices assigned */
	/*
	 * The VM's page counts when the guest last heard that its balloon
	 * should grow, or at its last LOCK: the start of the window in which
	 * it allocates the pages it locks next (see count_empty()).
	 */
	uint64_t mark[ESXMEM_PAGE_NR_STATES];
	bool marked;
};

static uint64_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static int find_vm(const struct daemon *d, uint32_t id)
{
	return vm_index(d, id);
}

/*
 * The frames @vm's balloon holds that held no memory when locked, kept
 * with the VM's record (vm_cache.c), which goes with the VM: found by
 * id, for each VM of a balance and each guest's request.
 */
uint64_t balloon_empty_pages(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	const struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(vm));
	uint64_t ballooned = esxmem_vm_state_pages(vm, ESXMEM_PAGE_BALLOONED);

	return !c ? 0 : c->balloon_empty < ballooned ? c->balloon_empty : ballooned;
}

static void add_empty(struct daemon *d, uint32_t vm_id, int64_t pages)
{
	struct vm_cache *c = vm_cache_find(d, vm_id);

	if (!c)
		return;		/* gone: its record went with it */
	c->balloon_empty = pages < 0 && (uint64_t)-pages > c->balloon_empty ? 0 :
			   c->balloon_empty + (uint64_t)pages;
}

/*
 * What a balloon of @vm that took @taken pages of memory from it should
 * hold: what the VM has beyond its target. In the high state it may only
 * shrink, and shrinks by its part of the free memory above the high
 * threshold.
 */
uint64_t balloon_want(const struct daemon *d, const struct esxmem_vm_info *vm, uint64_t taken)
{
	uint64_t has = esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) + taken;
	uint64_t target = esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES);
	uint64_t over = has > target ? has - target : 0;

	if (!vm_settings(d, esxmem_vm_name(vm))->reclaim.balloon)
		return 0;
	if (esxmem_pool_value(d->pool, ESXMEM_POOL_STATE) == ESXMEM_STATE_HIGH) {
		if (over > taken)
			over = taken;
		over -= (uint64_t)((double)over * d->balloon_give);
	}
	return over;
}

/*
 * What @vm's balloons have taken from it: esxballoon's frames less those it
 * never had, plus what a stock virtio balloon held when last seen, through
 * libvirt or over QMP (its pages are holes in the module, not frames).
 */
uint64_t balloon_taken(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	const struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(vm));
	uint64_t taken = esxmem_vm_state_pages(vm, ESXMEM_PAGE_BALLOONED) -
			 balloon_empty_pages(d, vm);

	if (c && c->libvirt.is == LIBVIRT_DOMAIN && c->libvirt.has_balloon)
		taken += c->libvirt.held;
	else if (c && c->stock.tracked)
		taken += c->stock.seen_held;
	return taken;
}

uint64_t balloon_target(const struct daemon *d, const struct esxmem_vm_info *vm)
{
	return balloon_want(d, vm, balloon_taken(d, vm));
}

bool balloon_has_session(const struct daemon *d, uint32_t vm_id)
{
	const struct vm_cache *c = vm_cache_find(d, vm_id);

	return c && c->balloon_session;
}

/*
 * The VM whose VMM gave the guest @cid (its vsock device on the command
 * line, vm_cid_from_cmdline(), as the VM's cached identity has it); -1
 * when none, -2 when two VMs claim it: neither is trusted with the
 * connection.
 */
static int vm_of_cid(const struct daemon *d, uint32_t cid)
{
	int found = -1;
	size_t v;

	for (v = 0; v < d->nr_vms; v++) {
		const struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(d->vms[v]));
		pid_t pid = (pid_t)esxmem_vm_value(d->vms[v], ESXMEM_VM_OWNER_PID);

		if (!pid || !c || c->cid_err || c->cid != cid)
			continue;
		if (found >= 0) {
			log_warn("balloon connection from CID %u refused: VMs %s (process %u) and %s (process %u) both claim that guest CID; give each VM a CID of its own",
				 cid, esxmem_vm_name(d->vms[found]),
				 (unsigned int)esxmem_vm_value(d->vms[found], ESXMEM_VM_OWNER_PID),
				 esxmem_vm_name(d->vms[v]), (unsigned int)pid);
			return -2;
		}
		found = (int)v;
	}
	return found;
}

/*
 * Reads VM @vm_id's page counts afresh into the daemon's view of it, so
 * that a target answered between balances counts what a LOCK or UNLOCK
 * just changed; false if the module cannot say. Its page counts alone:
 * a whole read would have the module bring the VM's KVM slot map up to
 * date too, for each LOCK and UNLOCK of an inflating balloon.
 */
static bool refresh_vm(struct daemon *d, uint32_t vm_id, uint64_t *states)
{
	struct esxmem_vm_info *fresh = NULL;
	int v = find_vm(d, vm_id), state, err;

	if (v >= 0) {
		err = esxmem_vm_refresh_fields(d->h, d->vms[v], ESXMEM_VM_FIELDS_USAGE);
		if (err == -EINVAL)	/* a module older than ESXMEM_VM_A_FIELDS */
			err = esxmem_vm_refresh(d->h, d->vms[v]);
	} else {
		err = esxmem_vm_get(d->h, vm_id, &fresh);
	}
	if (err)
		return false;
	for (state = 0; state < ESXMEM_PAGE_NR_STATES; state++)
		states[state] = esxmem_vm_state_pages(v >= 0 ? d->vms[v] : fresh, state);
	esxmem_vm_info_free(fresh);
	return true;
}

/* Ends the connection in @slot; the module keeps what the balloon holds. */
static void forget(struct daemon *d, size_t slot)
{
	struct balloon_conn *c = d->balloons[slot];
	struct vm_cache *vc = vm_cache_find(d, c->vm_id);

	if (!c->paused)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (vc)
		vc->balloon_session = false;
	free(c->held);
	free(c);
	d->balloons[slot] = NULL;
	d->nr_balloon_conns--;
	balloon_listen_resume(d);
}

static void drop(struct daemon *d, size_t slot, const char *why)
{
	struct balloon_conn *c = d->balloons[slot];

	if (why)
		log_warn("balloon of VM %u (CID %u): %s; connection closed", c->vm_id, c->cid, why);
	/* The frames stay ballooned: see the top of this file. */
	forget(d, slot);
}

/*
 * Whether the guest may have one more request of @frames frames served in
 * this second (ESXBALLOON_HOST_*_PER_SEC); if so, it is counted.
 */
static bool within_rate(struct balloon_conn *c, uint32_t frames)
{
	uint64_t now = now_sec();

	if (c->second != now) {
		c->second = now;
		c->frames_served = 0;
		c->requests_served = 0;
	}
	if (c->requests_served + 1 > ESXBALLOON_HOST_REQUESTS_PER_SEC ||
	    c->frames_served + frames > ESXBALLOON_HOST_FRAMES_PER_SEC)
		return false;
	c->requests_served++;
	c->frames_served += frames;
	return true;
}

/* Takes the connection out of the loop until the next second (balloon_pace()). */
static void pause_conn(struct daemon *d, struct balloon_conn *c)
{
	struct itimerspec next = { .it_value = { .tv_sec = (time_t)now_sec() + 1 } };

	if (c->paused)
		return;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	c->paused = true;
	if (timerfd_settime(d->balloon_pace_fd, TFD_TIMER_ABSTIME, &next, NULL))
		log_warn("cannot arm the balloon pacing timer: %m");
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int reply(struct balloon_conn *c, uint16_t type, uint32_t seq, uint64_t value)
{
	uint8_t msg[HDR + 8] = { 0 };

	put_le32(msg, ESXBALLOON_MAGIC);
	msg[4] = ESXBALLOON_VERSION;
	msg[6] = (uint8_t)type;
	put_le32(msg + 8, 8);
	put_le32(msg + 12, seq);
	put_le32(msg + 16, (uint32_t)value);
	put_le32(msg + 20, (uint32_t)(value >> 32));
	return send(c->fd, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(msg) ?
	       0 : -EIO;
}

/* The payload length @type must have, or -1 if a guest may not send it. */
static long payload_len(uint16_t type, const uint8_t *payload, size_t have)
{
	switch (type) {
	case ESXBALLOON_MSG_HELLO:
		return sizeof(struct esxballoon_hello);
	case ESXBALLOON_MSG_RESET:
	case ESXBALLOON_MSG_GET_TARGET:
		return 0;
	case ESXBALLOON_MSG_LOCK:
	case ESXBALLOON_MSG_UNLOCK:
		/* The count is read once it is there; up to the most allowed. */
		if (have < 4)
			return ESXBALLOON_GFNS_LEN(0);
		if (!le32(payload) || le32(payload) > ESXBALLOON_MAX_GFNS)
			return -1;
		return (long)ESXBALLOON_GFNS_LEN(le32(payload));
	}
	return -1;
}

/*
 * Balloons @gfns[0..n), which the guest's balloon now holds. A frame whose
 * page the host still uses (pinned for DMA, in a pipe, under I/O) cannot
 * go, and the module then refuses the whole batch (EBUSY): the batch is
 * halved until such frames stand alone. They stay in the guest's balloon,
 * recorded like the others since the protocol cannot hand single frames
 * back, but the module does not count them as ballooned: like frames
 * that held no memory, they take nothing and do not make the target
 * grow. A VM with devices assigned (EOPNOTSUPP) cannot
 * balloon at all: its frames stay likewise and its session's target drops
 * to zero, so the guest gives them back. *@kept counts the frames kept
 * backed. 0, or the module's error for a frame it refuses outright.
 */
static int lock_frames(struct daemon *d, struct balloon_conn *c, const uint64_t *gfns,
		       uint32_t n, uint64_t *kept)
{
	int err = c->no_balloon ? -EOPNOTSUPP :
		  esxmem_vm_balloon(d->h, c->vm_id, gfns, n, false);

	if (err == -EOPNOTSUPP) {
		if (!c->no_balloon)
			log_warn("balloon of VM %u: the VM has devices assigned (VFIO), whose DMA may reach any of its pages: no ballooning, target 0",
				 c->vm_id);
		c->no_balloon = true;
		*kept += n;
		return 0;
	}
	if (err != -EBUSY)
		return err;
	if (n == 1) {
		(*kept)++;
		return 0;
	}
	err = lock_frames(d, c, gfns, n / 2, kept);
	return err ? err : lock_frames(d, c, gfns + n / 2, n - n / 2, kept);
}

/*
 * Keeps the count of frames in @vm_id's balloon that held no memory, from
 * its page counts @before and @after a LOCK or UNLOCK: frames newly
 * ballooned that were not private took nothing its target counts: never
 * touched, the zero page, shared (the frame stays with its other sharers)
 * or already compressed or swapped; frames given back take their share of
 * those with them (which ones were empty is not known). For a LOCK, @before is
 * taken when the guest learnt it should inflate (or at its LOCK before),
 * not at the LOCK itself: a guest that zeroes the pages it allocates
 * (init_on_alloc) touches never-touched frames just before it locks them,
 * and they must count as the empty frames they were. Pages the guest or
 * the sharing scanner changed meanwhile blur the count by as many, mostly
 * towards empty: a balloon that reclaims less, not one that grows.
 */
static void count_empty(struct daemon *d, uint32_t vm_id, const uint64_t *before,
			const uint64_t *after)
{
	uint64_t b0 = before[ESXMEM_PAGE_BALLOONED], b1 = after[ESXMEM_PAGE_BALLOONED];
	const struct vm_cache *c = vm_cache_find(d, vm_id);
	int64_t empty;

	if (b1 > b0) {
		empty = (int64_t)(before[ESXMEM_PAGE_UNBACKED] - after[ESXMEM_PAGE_UNBACKED]) +
			(int64_t)(before[ESXMEM_PAGE_ZERO] - after[ESXMEM_PAGE_ZERO]) +
			(int64_t)(before[ESXMEM_PAGE_SHARED] - after[ESXMEM_PAGE_SHARED]) +
			(int64_t)(before[ESXMEM_PAGE_SWAPPED] - after[ESXMEM_PAGE_SWAPPED]) +
			(int64_t)(before[ESXMEM_PAGE_COMPRESSED] - after[ESXMEM_PAGE_COMPRESSED]);
		if (empty > (int64_t)(b1 - b0))
			empty = (int64_t)(b1 - b0);
		if (empty > 0)
			add_empty(d, vm_id, empty);
	} else if (b1 < b0 && c && c->balloon_empty) {
		add_empty(d, vm_id, -(int64_t)((double)c->balloon_empty * (double)(b0 - b1) /
					      (double)b0 + 0.5));
	}
}

/* Carries out LOCK or UNLOCK; an error text, or NULL. */
static const char *frames(struct daemon *d, struct balloon_conn *c, const uint8_t *p,
			  bool lock)
{
	uint32_t n = le32(p), i;
	uint64_t gfns[ESXBALLOON_MAX_GFNS] = { 0 }, kept = 0;
	uint64_t before[ESXMEM_PAGE_NR_STATES], after[ESXMEM_PAGE_NR_STATES];
	bool counted;
	int err;

	if (le32(p + 4))
		return "reserved field set";
	for (i = 0; i < n; i++) {
		uint64_t gfn = le64(p + 8 + 8 * i);
		bool held = gfn < c->nr_frames && (c->held[gfn / 64] & (1ULL << (gfn % 64)));

		if (gfn >= c->nr_frames)
			return "a frame outside the guest's RAM";
		if (held == lock)
			return lock ? "a frame locked twice" : "a frame not locked";
		gfns[i] = gfn;
		c->held[gfn / 64] ^= 1ULL << (gfn % 64);	/* for duplicates */
	}
	/* Checked: undo the marks, then apply for real. */
	for (i = 0; i < n; i++)
		c->held[gfns[i] / 64] ^= 1ULL << (gfns[i] % 64);
	if (lock && c->marked)
		memcpy(before, c->mark, sizeof(before));
	counted = !c->no_balloon && ((lock && c->marked) || refresh_vm(d, c->vm_id, before));
	c->marked = false;
	if (lock)
		err = lock_frames(d, c, gfns, n, &kept);
	else
		err = esxmem_vm_balloon(d->h, c->vm_id, gfns, n, true);
	if (!err && counted && refresh_vm(d, c->vm_id, after)) {
		count_empty(d, c->vm_id, before, after);
		if (lock) {
			memcpy(c->mark, after, sizeof(after));
			c->marked = true;
		}
	}
	/* On unlock, frames the guest touched are its own already. */
	if (err && !(err == -ENOENT && !lock)) {
		log_debug("balloon of VM %u: module refused: %s %s", c->vm_id,
			  esxmem_strerror(err), esxmem_errmsg(d->h));
		/* All or nothing: what a half of the batch took goes back. */
		if (lock)
			esxmem_vm_balloon(d->h, c->vm_id, gfns, n, true);
		return "frames the module refused (not in the guest's RAM)";
	}
	for (i = 0; i < n; i++)
		c->held[gfns[i] / 64] ^= 1ULL << (gfns[i] % 64);
	c->nr_held = lock ? c->nr_held + n : c->nr_held - n;
	c->nr_kept += kept;
	/* At most once a minute: a guest may hit such pages in every LOCK. */
	if (kept && !c->no_balloon &&
	    (c->nr_kept == kept || (time_t)now_sec() - c->kept_logged >= 60)) {
		c->kept_logged = (time_t)now_sec();
		log_info("balloon of VM %u: frames in use on the host (pinned or under I/O) stay backed: %llu in this LOCK, %llu in the session",
			 c->vm_id, (unsigned long long)kept, (unsigned long long)c->nr_kept);
	}
	return NULL;
}

/* One complete message in c->buf; an error text, or NULL. */
static const char *handle(struct daemon *d, struct balloon_conn *c, uint16_t type,
			  uint32_t seq)
{
	const uint8_t *p = c->buf + HDR;
	const char *err = NULL;
	uint64_t target;
	int v;

	switch (type) {
	case ESXBALLOON_MSG_HELLO:
		if (c->state != B_CONNECTED)
			return "HELLO out of turn";
		if (le32(p) != ESXBALLOON_PAGE_SIZE || le32(p + 4) || !le64(p + 8))
			return "bad HELLO";
		c->state = B_GREETED;
		log_info("balloon of VM %u (CID %u) connected, guest of %llu pages", c->vm_id,
			 c->cid, (unsigned long long)le64(p + 8));
		break;
	case ESXBALLOON_MSG_RESET:
		if (c->state == B_CONNECTED)
			return "RESET before HELLO";
		/* Forgotten here, still ballooned in the module. */
		memset(c->held, 0, (c->nr_frames / 64 + 1) * sizeof(uint64_t));
		c->nr_held = 0;
		c->marked = false;
		c->state = B_READY;
		break;
	default:
		if (c->state != B_READY)
			return "request before HELLO and RESET";
		if (type == ESXBALLOON_MSG_LOCK || type == ESXBALLOON_MSG_UNLOCK)
			err = frames(d, c, p, type == ESXBALLOON_MSG_LOCK);
		break;
	}
	if (err)
		return err;
	v = find_vm(d, c->vm_id);
	target = v < 0 || c->no_balloon ? 0 : balloon_target(d, d->vms[v]);
	/* The guest will allocate pages to lock: where its window starts. */
	if (type == ESXBALLOON_MSG_GET_TARGET && target > c->nr_held)
		c->marked = refresh_vm(d, c->vm_id, c->mark);
	if (reply(c, ESXBALLOON_MSG_TARGET, seq, target))
		return "the guest does not take replies";
	return NULL;
}

/* Serves the complete messages in c->buf, as the rate allows. */
static void serve(struct daemon *d, size_t slot)
{
	struct balloon_conn *c = d->balloons[slot];
	const char *why = NULL;

	while (!why && c->have >= HDR) {
		uint16_t type = c->buf[6] | c->buf[7] << 8;
		uint32_t len = le32(c->buf + 8), seq = le32(c->buf + 12);
		long want;

		if (le32(c->buf) != ESXBALLOON_MAGIC ||
		    (c->buf[4] | c->buf[5] << 8) != ESXBALLOON_VERSION) {
			why = "bad magic or version";
			break;
		}
		want = payload_len(type, c->buf + HDR, c->have - HDR);
		if (want < 0 || len != (uint32_t)want) {
			/* A LOCK's length is known once its count is in. */
			if (!(want >= 0 && (type == ESXBALLOON_MSG_LOCK ||
					    type == ESXBALLOON_MSG_UNLOCK) &&
			      c->have < HDR + 4 && len <= ESXBALLOON_MAX_PAYLOAD))
				why = "bad type or length";
			break;
		}
		if (c->have < HDR + len)
			break;
		if (!within_rate(c, type == ESXBALLOON_MSG_LOCK || type == ESXBALLOON_MSG_UNLOCK ?
				 le32(c->buf + HDR) : 0)) {
			pause_conn(d, c);
			break;
		}
		why = handle(d, c, type, seq);
		memmove(c->buf, c->buf + HDR + len, c->have - HDR - len);
		c->have -= HDR + len;
	}
	if (why) {
		/* ERROR carries a code and a zero reserved field: as a u64. */
		reply(c, ESXBALLOON_MSG_ERROR, le32(c->buf + 12), EPROTO);
		drop(d, slot, why);
	}
}

void balloon_readable(struct daemon *d, size_t slot)
{
	struct balloon_conn *c = d->balloons[slot];
	ssize_t n;

	if (c->paused)
		return;
	n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		log_info("balloon of VM %u (CID %u) disconnected", c->vm_id, c->cid);
		drop(d, slot, NULL);
		return;
	}
	if (n < 0)
		return;
	c->have += (size_t)n;
	serve(d, slot);
}

/* A new second: paused connections are served again. */
void balloon_pace(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t ticks;
	size_t i;

	if (read(d->balloon_pace_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("balloon pacing timer: %m");
	for (i = 0; i < d->nr_balloon_slots; i++) {
		struct balloon_conn *c = d->balloons[i];

		if (!c || !c->paused)
			continue;
		ev.data.u64 = EV_BALLOON_CONN + i;
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev)) {
			log_warn("balloon of VM %u: cannot serve it again (%m); connection closed",
				 c->vm_id);
			drop(d, i, NULL);	/* paused: not in the set */
			continue;
		}
		c->paused = false;
		serve(d, i);
	}
}

/* How many connections the daemon takes at once: see balloon_open(). */
size_t balloon_conns_limit(const struct daemon *d)
{
	return d->conf.balloon_conns_max ? d->conf.balloon_conns_max : d->balloon_conns_max;
}

/* A free slot for a new connection, the table grown if need be; -1 when full. */
static long free_slot(struct daemon *d)
{
	struct balloon_conn **more;
	size_t slot, cap;

	if (d->nr_balloon_conns >= balloon_conns_limit(d))
		return -1;
	for (slot = 0; slot < d->nr_balloon_slots && d->balloons[slot]; slot++)
		;
	if (slot < d->nr_balloon_slots)
		return (long)slot;
	cap = d->nr_balloon_slots ? 2 * d->nr_balloon_slots : 64;
	more = realloc(d->balloons, cap * sizeof(*more));
	if (!more)
		return -1;
	memset(more + d->nr_balloon_slots, 0, (cap - d->nr_balloon_slots) * sizeof(*more));
	d->balloons = more;
	d->nr_balloon_slots = cap;
	return (long)slot;
}

/*
 * Out of file descriptors: the pending connection cannot be taken, and the
 * listening socket would wake the loop for it again and again. It leaves
 * the loop until a connection closes or the next balance.
 */
static void pause_listen(struct daemon *d, int err)
{
	struct epoll_event ev = { .events = 0, .data.u64 = EV_BALLOON_LISTEN };

	if (d->balloon_listen_paused)
		return;
	log_err("balloon connections wait: the daemon is out of file descriptors (%s) with %zu balloon connections open; raise its file limit (LimitNOFILE= in esxmemd.service) or lower balloon_connections_max",
		strerror(-err), d->nr_balloon_conns);
	if (!epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, d->balloon_fd, &ev))
		d->balloon_listen_paused = true;
}

void balloon_listen_resume(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_BALLOON_LISTEN };

	if (d->balloon_listen_paused && d->balloon_fd >= 0 &&
	    !epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, d->balloon_fd, &ev))
		d->balloon_listen_paused = false;
}

void balloon_accept(struct daemon *d)
{
	struct sockaddr_vm peer;
	socklen_t len = sizeof(peer);
	struct epoll_event ev = { .events = EPOLLIN };
	struct balloon_conn *c;
	struct vm_cache *vc;
	long slot;
	size_t i;
	int fd, v;

	while ((fd = accept4(d->balloon_fd, (struct sockaddr *)&peer, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		len = sizeof(peer);
		v = vm_of_cid(d, peer.svm_cid);
		vc = v >= 0 ? vm_cache_find(d, esxmem_vm_id(d->vms[v])) : NULL;
		if (v >= 0 && (!vc || vc->balloon_session))
			v = -3;
		slot = v >= 0 ? free_slot(d) : -1;
		if (v >= 0 && slot < 0) {
			log_warn("balloon connection from CID %u refused: %zu balloon connections are open, the most the daemon takes (balloon_connections_max %zu); raise balloon_connections_max in %s, or the daemon's file limit (LimitNOFILE= in esxmemd.service) when it is not set",
				 peer.svm_cid, d->nr_balloon_conns, balloon_conns_limit(d),
				 d->conf_path);
			close(fd);
			continue;
		}
		c = v >= 0 ? calloc(1, sizeof(*c)) : NULL;
		if (c) {
			uint64_t top = 0;

			/*
			 * Balances read no slot maps: this VM's, now. If it
			 * fails, the VM has gone and the next balance drops
			 * the session.
			 */
			esxmem_vm_refresh(d->h, d->vms[v]);
			for (i = 0; i < esxmem_vm_nr_slots(d->vms[v]); i++) {
				const struct esxmem_slot_info *s = esxmem_vm_slot(d->vms[v], i);

				if (esxmem_slot_base_gfn(s) + esxmem_slot_npages(s) > top)
					top = esxmem_slot_base_gfn(s) + esxmem_slot_npages(s);
			}
			c->nr_frames = top;
			c->held = calloc(top / 64 + 1, sizeof(uint64_t));
		}
		if (!c || !c->held) {
			if (v != -2)
				log_warn("balloon connection from CID %u refused: %s", peer.svm_cid,
					 v == -1 ? "no VM has that guest CID" :
					 v == -3 ? "its VM has a balloon connection already" :
					 "out of memory");
			if (c)
				free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->cid = peer.svm_cid;
		c->vm_id = esxmem_vm_id(d->vms[v]);
		ev.data.u64 = EV_BALLOON_CONN + (uint64_t)slot;
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c->held);
			free(c);
			close(fd);
			continue;
		}
		d->balloons[slot] = c;
		d->nr_balloon_conns++;
		vc->balloon_session = true;
	}
	if (errno == EMFILE || errno == ENFILE)
		pause_listen(d, -errno);
}

int balloon_open(struct daemon *d)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = ESXBALLOON_VSOCK_PORT,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_BALLOON_LISTEN };
	struct epoll_event pace = { .events = EPOLLIN, .data.u64 = EV_BALLOON_PACE };
	struct rlimit files;
	int fd;

	/*
	 * A connection per guest: take all the file descriptors the daemon
	 * may have (systemd's soft limit is 1024, its hard one far more).
	 */
	if (!getrlimit(RLIMIT_NOFILE, &files) && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &files))
			getrlimit(RLIMIT_NOFILE, &files);
	}
	if (files.rlim_cur == RLIM_INFINITY || files.rlim_cur > 1000000 + BALLOON_CONNS_FD_RESERVE)
		files.rlim_cur = 1000000 + BALLOON_CONNS_FD_RESERVE;
	d->balloon_conns_max = files.rlim_cur > BALLOON_CONNS_FD_RESERVE + 16 ?
			       (size_t)files.rlim_cur - BALLOON_CONNS_FD_RESERVE : 16;
	d->balloon_fd = -1;
	d->balloon_pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->balloon_pace_fd < 0 ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->balloon_pace_fd, &pace)) {
		int err = -errno;

		log_err("cannot make the balloon pacing timer: %s", strerror(-err));
		return err;
	}
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("no vsock (%m): guests' balloons cannot reach the daemon (modprobe vhost_vsock)");
		return 0;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 16) ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		log_warn("cannot listen on vsock port %u (%m): no ballooning",
			 ESXBALLOON_VSOCK_PORT);
		close(fd);
		return 0;
	}
	d->balloon_fd = fd;
	return 0;
}

/*
 * The daemon stops: balloons stay inflated in the module, so that a
 * restart does not hand every guest back its balloon at once; the guests
 * keep their pages and lock them again with the next daemon.
 */
void balloon_close(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nr_balloon_slots; i++)
		if (d->balloons[i]) {
			log_info("balloon of VM %u (CID %u): %llu pages stay ballooned while the daemon is away",
				 d->balloons[i]->vm_id, d->balloons[i]->cid,
				 (unsigned long long)d->balloons[i]->nr_held);
			forget(d, i);
		}
	if (d->balloon_fd >= 0)
		close(d->balloon_fd);
	d->balloon_fd = -1;
	if (d->balloon_pace_fd >= 0)
		close(d->balloon_pace_fd);
	d->balloon_pace_fd = -1;
	free(d->balloons);
	d->balloons = NULL;
	d->nr_balloon_slots = 0;
}
