/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scripted guest side of the balloon protocol (guest-balloon/uapi/
 * esxballoon.h), for tests that talk to esxmemd's balloon server as
 * esxballoon.ko does, over vsock_loopback (the test host is its own guest,
 * CID 1). balloon_host.h is the other side, a reference host.
 *
 *	fd = bg_connect(10);			-1 while nothing listens
 *	bg_greet(fd, guest_pages, &target);	HELLO, RESET: RESET's reply
 *	bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target);
 *	bg_frames(fd, ESXBALLOON_MSG_LOCK, first_gfn, n, &target);
 */
#ifndef ESXMEM_TESTS_BALLOON_GUEST_H
#define ESXMEM_TESTS_BALLOON_GUEST_H

#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../guest-balloon/uapi/esxballoon.h"

static uint32_t bg_seq;

/*
 * A connection to the daemon's balloon port, whose replies are waited for
 * at most @timeout_secs, or -1 while nothing listens there.
 */
static inline int bg_connect(unsigned int timeout_secs)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL,
				    .svm_port = ESXBALLOON_VSOCK_PORT };
	struct timeval tv = { .tv_sec = timeout_secs };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * Sends one message (@len bytes of payload, a little beyond the protocol's
 * most, for tests of oversized messages); whether it all went.
 */
static inline bool bg_send(int fd, uint16_t type, const void *payload, uint32_t len)
{
	struct esxballoon_hdr h = { .magic = ESXBALLOON_MAGIC, .version = ESXBALLOON_VERSION,
				    .type = type, .length = len, .seq = ++bg_seq };
	uint8_t buf[sizeof(h) + ESXBALLOON_MAX_PAYLOAD + 64];

	if (len > sizeof(buf) - sizeof(h))
		return false;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	return send(fd, buf, sizeof(h) + len, MSG_NOSIGNAL) == (ssize_t)(sizeof(h) + len);
}

/* The next reply's type (TARGET or ERROR) with its value, or 0 on EOF or timeout. */
static inline int bg_recv(int fd, uint64_t *value)
{
	uint8_t buf[sizeof(struct esxballoon_hdr) + 8];
	size_t have = 0;
	ssize_t n;

	while (have < sizeof(buf)) {
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0)
			return 0;
		have += (size_t)n;
	}
	memcpy(value, buf + sizeof(struct esxballoon_hdr), 8);
	return ((struct esxballoon_hdr *)buf)->type;
}

/* One request and its reply: the reply's type, or 0 when none came. */
static inline int bg_request(int fd, uint16_t type, const void *payload, uint32_t len,
			     uint64_t *value)
{
	return bg_send(fd, type, payload, len) ? bg_recv(fd, value) : 0;
}

/* LOCK or UNLOCK of the @n frames from @first. */
static inline int bg_frames(int fd, uint16_t type, uint64_t first, uint32_t n, uint64_t *value)
{
	struct {
		struct esxballoon_gfns g;
		uint64_t gfn[ESXBALLOON_MAX_GFNS];
	} m = { .g = { .count = n } };
	uint32_t i;

	for (i = 0; i < n && i < ESXBALLOON_MAX_GFNS; i++)
		m.gfn[i] = first + i;
	return bg_request(fd, type, &m, (uint32_t)ESXBALLOON_GFNS_LEN(n), value);
}

/*
 * HELLO for a guest of @guest_pages pages, then RESET, as every connection
 * of esxballoon starts: RESET's reply type, or 0 (-1 when HELLO got no TARGET).
 */
static inline int bg_greet(int fd, uint64_t guest_pages, uint64_t *value)
{
	struct esxballoon_hello hello = { .page_size = 4096, .guest_pages = guest_pages };

	if (bg_request(fd, ESXBALLOON_MSG_HELLO, &hello, sizeof(hello), value) !=
	    ESXBALLOON_MSG_TARGET)
		return -1;
	return bg_request(fd, ESXBALLOON_MSG_RESET, NULL, 0, value);
}

#endif
