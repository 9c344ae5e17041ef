// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Events: a socket subscribed to the family's multicast group "events".
 * The library reads it itself, one datagram at a time into a buffer that
 * grows to the largest datagram seen, and hands out one event per call;
 * reading with recv() directly keeps ENOBUFS (events lost) distinct.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/socket.h>

#include "internal.h"
#include "msg.h"

struct esxmem_events {
	struct nl_sock *sk;
	int family;
	void *buf;
	size_t size;		/* of buf */
	size_t len;		/* of the datagram in buf */
	size_t pos;		/* of its next message */
	struct esxmem_event event;	/* the last one read */
};

#define EVENTS_BUF_MIN	4096

int esxmem_events_open_family(const char *family_name, const char *group,
			      struct esxmem_events **out)
{
	struct esxmem_events *ev;
	int err, grp;

	if (!out)
		return -EINVAL;
	*out = NULL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->size = EVENTS_BUF_MIN;
	ev->buf = malloc(ev->size);
	if (!ev->buf) {
		err = -ENOMEM;
		goto fail;
	}
	err = esxmem_nl_connect(family_name, &ev->sk, &ev->family);
	if (err)
		goto fail;
	grp = genl_ctrl_resolve_grp(ev->sk, family_name, group);
	if (grp < 0) {
		err = esxmem_nl_errno(grp);
		goto fail;
	}
	err = nl_socket_add_membership(ev->sk, grp);
	if (!err)
		err = nl_socket_set_nonblocking(ev->sk);
	if (err < 0) {
		err = esxmem_nl_errno(err);
		goto fail;
	}
	*out = ev;
	return 0;

fail:
	esxmem_events_close(ev);
	return err;
}

ESXMEM_EXPORT int esxmem_events_open(struct esxmem_events **out)
{
	return esxmem_events_open_family(ESXMEM_GENL_NAME,
					 ESXMEM_GENL_MCGRP_EVENTS, out);
}

ESXMEM_EXPORT int esxmem_events_fd(const struct esxmem_events *ev)
{
	return ev ? nl_socket_get_fd(ev->sk) : -EINVAL;
}

/* Reads the next datagram from the kernel into ev->buf, without blocking. */
static int fill(struct esxmem_events *ev)
{
	int fd = nl_socket_get_fd(ev->sk);
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t n;
	void *buf;

	for (;;) {
		/* MSG_TRUNC: the datagram's whole length, however long. */
		n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;	/* -EAGAIN, -ENOBUFS, ... */
		if ((size_t)n > ev->size) {
			buf = realloc(ev->buf, n);
			if (!buf)
				return -ENOMEM;
			ev->buf = buf;
			ev->size = n;
		}
		fromlen = sizeof(from);
		n = recvfrom(fd, ev->buf, ev->size, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/* Events come from the kernel, port 0; drop anything else. */
		if (fromlen != sizeof(from) || from.nl_family != AF_NETLINK ||
		    from.nl_pid != 0)
			continue;
		ev->len = n;
		ev->pos = 0;
		return 0;
	}
}

ESXMEM_EXPORT int esxmem_events_read(struct esxmem_events *ev,
				     const struct esxmem_event **out)
{
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!ev)
		return -EINVAL;
	for (;;) {
		if (ev->pos >= ev->len) {
			err = fill(ev);
			if (err)
				return err;
		}
		err = esxmem_msg_next_event(ev->buf, ev->len, &ev->pos,
					    ev->family, &ev->event);
		if (!err)
			*out = &ev->event;
		if (err != -ENOMSG)
			return err;
	}
}

ESXMEM_EXPORT void esxmem_events_close(struct esxmem_events *ev)
{
	if (!ev)
		return;
	nl_socket_free(ev->sk);
	free(ev->buf);
	free(ev);
}
