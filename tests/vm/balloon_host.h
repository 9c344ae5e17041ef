/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A reference host side of the balloon protocol (guest-balloon/uapi/
 * esxballoon.h), for tests: a vsock server that serves one guest connection at
 * a time on a thread of its own, validates every message strictly, records
 * the frames the guest holds in a bitmap sized from the RAM it was told
 * about (never from what the guest says), and closes the connection on the
 * first violation, which it keeps in .violation for the test to fail on.
 *
 *	struct bh_server srv;
 *	bh_start(&srv, port);          RAM from /proc/iomem; exits on failure
 *	bh_start_vm(&srv, port, pages) a VM's RAM: frames [0, pages)
 *	bh_set_target(&srv, pages);
 *	bh_get(&srv).ballooned ...     a consistent snapshot of the counters
 *	bh_close_connection(&srv);     the host drops the connection
 *	bh_corrupt_next_reply(&srv, BH_BAD_MAGIC);  the next reply is wrong
 */
#ifndef ESXMEM_TESTS_BALLOON_HOST_H
#define ESXMEM_TESTS_BALLOON_HOST_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <endian.h>
#include <linux/vm_sockets.h>

#include "guest-balloon/uapi/esxballoon.h"

#define BH_MAX_RANGES 64

enum bh_state { BH_IDLE, BH_CONNECTED, BH_GREETED, BH_READY };

/* How the host answers the next request wrongly, to test the guest. */
enum bh_corruption {
	BH_HONEST,
	BH_BAD_MAGIC,
	BH_BAD_VERSION,
	BH_BAD_SEQ,
	BH_HUGE_LENGTH,		/* a length the guest must not try to read */
	BH_REQUEST_TYPE,	/* a type only guests send */
	BH_ERROR,		/* a well-formed ERROR, then close */
	BH_SILENCE,		/* no reply at all: the guest must time out */
	BH_NR_CORRUPTIONS,
};

/* What the test reads: copied out under the lock by bh_get(). */
struct bh_stats {
	enum bh_state state;
	uint64_t target;
	uint64_t ballooned;		/* frames recorded as held */
	uint64_t guest_pages;		/* from the last HELLO */
	unsigned int connections;
	unsigned int hellos, resets, get_targets, locks, unlocks;
	uint64_t locked_frames, unlocked_frames;
	char violation[256];		/* the guest's first violation */
};

struct bh_server {
	pthread_mutex_t lock;
	pthread_t thread;
	int listen_fd;
	struct { uint64_t start, end; } ram[BH_MAX_RANGES];	/* frames */
	int nr_ram;
	uint64_t max_gfn;
	uint8_t *bitmap;		/* max_gfn bits: frame ballooned */
	bool close_requested;
	enum bh_corruption corrupt_next;
	struct bh_stats st;
	unsigned char buf[sizeof(struct esxballoon_hdr) + ESXBALLOON_MAX_PAYLOAD];
};

static inline void bh_die(const char *what)
{
	fprintf(stderr, "balloon host: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The frames of "System RAM" in /proc/iomem: what the guest may balloon. */
static inline void bh_load_ram(struct bh_server *s)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];

	if (!f)
		bh_die("open /proc/iomem");
	while (fgets(line, sizeof(line), f) && s->nr_ram < BH_MAX_RANGES) {
		unsigned long long a, b;

		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%llx-%llx", &a, &b) != 2)
			continue;
		/* Whole frames only. */
		s->ram[s->nr_ram].start = (a + 4095) / 4096;
		s->ram[s->nr_ram].end = (b + 1) / 4096;
		if (s->ram[s->nr_ram].end > s->max_gfn)
			s->max_gfn = s->ram[s->nr_ram].end;
		s->nr_ram++;
	}
	fclose(f);
	if (!s->nr_ram || s->ram[0].end == 0) {
		fprintf(stderr, "balloon host: no System RAM in /proc/iomem (run as root)\n");
		exit(1);
	}
}

static inline bool bh_is_ram(const struct bh_server *s, uint64_t gfn)
{
	for (int i = 0; i < s->nr_ram; i++)
		if (gfn >= s->ram[i].start && gfn < s->ram[i].end)
			return true;
	return false;
}

static inline bool bh_test(const struct bh_server *s, uint64_t gfn)
{
	return s->bitmap[gfn / 8] & (1u << (gfn % 8));
}

static inline void bh_flip(struct bh_server *s, uint64_t gfn)
{
	s->bitmap[gfn / 8] ^= (uint8_t)(1u << (gfn % 8));
}

static inline void bh_forget_all(struct bh_server *s)
{
	memset(s->bitmap, 0, (s->max_gfn + 7) / 8);
	s->st.ballooned = 0;
}

static inline int bh_read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static inline int bh_send(struct bh_server *s, int fd, uint16_t type, uint32_t seq,
			  const void *payload, uint32_t len)
{
	struct esxballoon_hdr h = {
		.magic = htole32(ESXBALLOON_MAGIC),
		.version = htole16(ESXBALLOON_VERSION),
		.type = htole16(type),
		.length = htole32(len),
		.seq = htole32(seq),
	};
	unsigned char out[sizeof(h) + 8];

	switch (s->corrupt_next) {
	case BH_BAD_MAGIC:
		h.magic = htole32(ESXBALLOON_MAGIC ^ 1);
		break;
	case BH_BAD_VERSION:
		h.version = htole16(ESXBALLOON_VERSION + 1);
		break;
	case BH_BAD_SEQ:
		h.seq = htole32(seq + 1);
		break;
	case BH_HUGE_LENGTH:
		h.length = htole32(UINT32_MAX);
		break;
	case BH_REQUEST_TYPE:
		h.type = htole16(ESXBALLOON_MSG_LOCK);
		break;
	default:
		break;
	}
	s->corrupt_next = BH_HONEST;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), payload, len);
	return send(fd, out, sizeof(h) + len, MSG_NOSIGNAL) == (ssize_t)(sizeof(h) + len) ? 0 : -1;
}

/* Records the guest's violation (the first one), under s->lock. */
static inline void bh_violation(struct bh_server *s, const char *fmt, uint64_t v)
{
	if (!s->st.violation[0])
		snprintf(s->st.violation, sizeof(s->st.violation), fmt, v);
}

/*
 * Checks and carries out one request, all or nothing: 0, or -EPROTO/-EINVAL
 * after recording the violation. Under s->lock.
 */
static inline int bh_handle(struct bh_server *s, uint16_t type, uint32_t len)
{
	const struct esxballoon_hdr *h = (const void *)s->buf;
	const void *p = s->buf + sizeof(*h);
	const struct esxballoon_gfns *g = p;
	uint32_t count;

	switch (type) {
	case ESXBALLOON_MSG_HELLO: {
		const struct esxballoon_hello *hello = p;

		if (s->st.state != BH_CONNECTED)
			return bh_violation(s, "HELLO in state %" PRIu64, s->st.state), -EPROTO;
		if (le32toh(hello->page_size) != ESXBALLOON_PAGE_SIZE || hello->reserved ||
		    !hello->guest_pages)
			return bh_violation(s, "bad HELLO (page size %" PRIu64 ")",
					    le32toh(hello->page_size)), -EPROTO;
		s->st.guest_pages = le64toh(hello->guest_pages);
		s->st.hellos++;
		s->st.state = BH_GREETED;
		return 0;
	}
	case ESXBALLOON_MSG_RESET:
		if (s->st.state != BH_GREETED && s->st.state != BH_READY)
			return bh_violation(s, "RESET in state %" PRIu64, s->st.state), -EPROTO;
		bh_forget_all(s);
		s->st.resets++;
		s->st.state = BH_READY;
		return 0;
	case ESXBALLOON_MSG_GET_TARGET:
		if (s->st.state != BH_READY)
			return bh_violation(s, "GET_TARGET in state %" PRIu64, s->st.state), -EPROTO;
		s->st.get_targets++;
		return 0;
	case ESXBALLOON_MSG_LOCK:
	case ESXBALLOON_MSG_UNLOCK:
		if (s->st.state != BH_READY)
			return bh_violation(s, "LOCK/UNLOCK in state %" PRIu64, s->st.state), -EPROTO;
		count = le32toh(g->count);
		if (!count || count > ESXBALLOON_MAX_GFNS || g->reserved ||
		    len != ESXBALLOON_GFNS_LEN(count))
			return bh_violation(s, "bad frame count %" PRIu64, count), -EPROTO;
		/* All or nothing: check every frame, flipping, then undo on error. */
		for (uint32_t i = 0; i < count; i++) {
			uint64_t gfn = le64toh(g->gfn[i]);
			bool want_locked = type == ESXBALLOON_MSG_UNLOCK;

			if (gfn >= s->max_gfn || !bh_is_ram(s, gfn) ||
			    bh_test(s, gfn) != want_locked) {
				bh_violation(s, type == ESXBALLOON_MSG_LOCK ?
					     "LOCK of frame %#" PRIx64 " (not RAM, or held already)" :
					     "UNLOCK of frame %#" PRIx64 " (not held)", gfn);
				while (i--)
					bh_flip(s, le64toh(g->gfn[i]));
				return -EINVAL;
			}
			bh_flip(s, gfn);
		}
		if (type == ESXBALLOON_MSG_LOCK) {
			s->st.ballooned += count;
			s->st.locks++;
			s->st.locked_frames += count;
		} else {
			s->st.ballooned -= count;
			s->st.unlocks++;
			s->st.unlocked_frames += count;
		}
		return 0;
	}
	return bh_violation(s, "request of type %" PRIu64, type), -EPROTO;
}

/* The payload length a request type must have, or -1 for a variable one. */
static inline long bh_request_len(uint16_t type)
{
	switch (type) {
	case ESXBALLOON_MSG_HELLO:
		return sizeof(struct esxballoon_hello);
	case ESXBALLOON_MSG_RESET:
	case ESXBALLOON_MSG_GET_TARGET:
		return 0;
	case ESXBALLOON_MSG_LOCK:
	case ESXBALLOON_MSG_UNLOCK:
		return -1;
	}
	return -2;
}

/* Serves one connection until either side closes it. */
static inline void bh_serve(struct bh_server *s, int fd)
{
	const struct esxballoon_hdr *h = (const void *)s->buf;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint32_t len, seq;
		uint16_t type;
		long want;
		int err;

		pthread_mutex_lock(&s->lock);
		if (s->close_requested) {
			s->close_requested = false;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		pthread_mutex_unlock(&s->lock);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (bh_read_all(fd, s->buf, sizeof(*h)))
			return;		/* the guest closed */

		pthread_mutex_lock(&s->lock);
		type = le16toh(h->type);
		len = le32toh(h->length);
		seq = le32toh(h->seq);
		want = bh_request_len(type);
		err = -EPROTO;
		if (le32toh(h->magic) != ESXBALLOON_MAGIC)
			bh_violation(s, "bad magic %#" PRIx64, le32toh(h->magic));
		else if (le16toh(h->version) != ESXBALLOON_VERSION)
			bh_violation(s, "version %" PRIu64, le16toh(h->version));
		else if (want == -2)
			bh_violation(s, "type %" PRIu64 " is no request", type);
		else if (want >= 0 && len != (uint32_t)want)
			bh_violation(s, "length %" PRIu64, len);
		else if (want == -1 && (len < ESXBALLOON_GFNS_LEN(1) || len > ESXBALLOON_MAX_PAYLOAD))
			bh_violation(s, "LOCK/UNLOCK length %" PRIu64, len);
		else
			err = 0;
		/* The length is checked: the payload fits s->buf. */
		if (!err && bh_read_all(fd, s->buf + sizeof(*h), len)) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		if (!err)
			err = bh_handle(s, type, len);
		if (!err && s->corrupt_next == BH_SILENCE) {
			/* Hold the connection open without answering. */
			s->corrupt_next = BH_HONEST;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		if (!err && s->corrupt_next == BH_ERROR) {
			struct esxballoon_error e = { .code = htole32(EBUSY) };

			s->corrupt_next = BH_HONEST;
			bh_send(s, fd, ESXBALLOON_MSG_ERROR, seq, &e, sizeof(e));
			pthread_mutex_unlock(&s->lock);
			return;
		}
		if (err) {
			struct esxballoon_error e = { .code = htole32(-err) };

			bh_send(s, fd, ESXBALLOON_MSG_ERROR, seq, &e, sizeof(e));
			pthread_mutex_unlock(&s->lock);
			return;
		} else {
			struct esxballoon_target t = { .target_pages = htole64(s->st.target) };

			err = bh_send(s, fd, ESXBALLOON_MSG_TARGET, seq, &t, sizeof(t));
		}
		pthread_mutex_unlock(&s->lock);
		if (err)
			return;
	}
}

static inline void *bh_thread(void *arg)
{
	struct bh_server *s = arg;

	for (;;) {
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bh_die("accept");
		}
		pthread_mutex_lock(&s->lock);
		s->st.connections++;
		s->st.state = BH_CONNECTED;
		s->close_requested = false;
		pthread_mutex_unlock(&s->lock);
		bh_serve(s, fd);
		close(fd);
		/* A connection's end forgets the guest's frames (see the header). */
		pthread_mutex_lock(&s->lock);
		s->st.state = BH_IDLE;
		bh_forget_all(s);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static inline void bh_listen(struct bh_server *s, unsigned int port)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};

	s->bitmap = calloc((s->max_gfn + 7) / 8, 1);
	if (!s->bitmap)
		bh_die("bitmap");
	s->listen_fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		bh_die("socket(AF_VSOCK): is vsock.ko loaded?");
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(s->listen_fd, 4))
		bh_die("bind/listen");
	if (pthread_create(&s->thread, NULL, bh_thread, s))
		bh_die("pthread_create");
}

/* Serves the kernel it runs on (vsock_loopback): RAM from /proc/iomem. */
static inline void bh_start(struct bh_server *s, unsigned int port)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	bh_load_ram(s);
	bh_listen(s, port);
}

/* Serves a VM whose RAM is the frames [0, @ram_pages). */
static inline void bh_start_vm(struct bh_server *s, unsigned int port, uint64_t ram_pages)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->ram[0].start = 0;
	s->ram[0].end = ram_pages;
	s->nr_ram = 1;
	s->max_gfn = ram_pages;
	bh_listen(s, port);
}

static inline struct bh_stats bh_get(struct bh_server *s)
{
	struct bh_stats st;

	pthread_mutex_lock(&s->lock);
	st = s->st;
	pthread_mutex_unlock(&s->lock);
	return st;
}

static inline void bh_set_target(struct bh_server *s, uint64_t pages)
{
	pthread_mutex_lock(&s->lock);
	s->st.target = pages;
	pthread_mutex_unlock(&s->lock);
}

static inline void bh_close_connection(struct bh_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->close_requested = true;
	pthread_mutex_unlock(&s->lock);
}

static inline void bh_corrupt_next_reply(struct bh_server *s, enum bh_corruption how)
{
	pthread_mutex_lock(&s->lock);
	s->corrupt_next = how;
	pthread_mutex_unlock(&s->lock);
}

/* Calls @fn(@arg, gfn) for every frame recorded as held; under the lock. */
static inline void bh_for_each(struct bh_server *s, void (*fn)(void *, uint64_t), void *arg)
{
	pthread_mutex_lock(&s->lock);
	for (uint64_t gfn = 0; gfn < s->max_gfn; gfn++)
		if (bh_test(s, gfn))
			fn(arg, gfn);
	pthread_mutex_unlock(&s->lock);
}

#endif /* ESXMEM_TESTS_BALLOON_HOST_H */
