/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libesxmem internals shared by its files: the export marker, error
 * translation (error.c) and the request/response machinery (handle.c).
 */
#ifndef LIBESXMEM_INTERNAL_H
#define LIBESXMEM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/netlink.h>

#include "libesxmem.h"

/* Everything is hidden (-fvisibility=hidden) unless marked for export. */
#define ESXMEM_EXPORT __attribute__((visibility("default")))

#define ESXMEM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * libnl's error code (NLE_*, either sign) as a negative errno value:
 * NLE_SUCCESS is 0, an unknown code -EIO.
 */
int esxmem_nl_errno(int nlerr);

/*
 * Opens a bound NETLINK_GENERIC socket (close-on-exec, extended acks on)
 * wrapped in a libnl socket, and resolves @family_name: stores the socket in
 * *sk and the family id in *family. -ENOENT when the family is missing.
 */
int esxmem_nl_connect(const char *family_name, struct nl_sock **sk,
		      int *family);

/*
 * Called for each data message of the reply to a request (never for acks,
 * errors or the end of a dump). Returns 0, or a negative errno value that
 * fails the request; the rest of the reply is then read and dropped.
 */
typedef int (*esxmem_reply_fn)(const struct nlmsghdr *nlh, void *arg);

/*
 * Opens a handle on the generic netlink family @family_name; esxmem_open()
 * is esxmem_open_family(ESXMEM_GENL_NAME, out). Other families are for
 * tests only.
 */
int esxmem_open_family(const char *family_name, struct esxmem **out);

/* The family id that esxmem_open_family() resolved. */
int esxmem_family(const struct esxmem *h);

/*
 * Sends @msg (built by msg.c, or any request to the handle's socket) and
 * reads the whole reply: every data message goes to @fn (may be NULL: then
 * data messages are ignored), up to the ack, the error or the end of the
 * dump. Does not free @msg.
 * Returns 0, the kernel's error, the first error of @fn, -EAGAIN when a
 * dump was interrupted (NLM_F_DUMP_INTR), or a socket error. The kernel's
 * extended-ack message is kept for esxmem_errmsg().
 */
int esxmem_request(struct esxmem *h, struct nl_msg *msg, esxmem_reply_fn fn,
		   void *arg);

/*
 * Subscribes to multicast group @group of family @family_name;
 * esxmem_events_open() is esxmem_events_open_family(ESXMEM_GENL_NAME,
 * ESXMEM_GENL_MCGRP_EVENTS, out). Other families are for tests only.
 * -ENOENT when the family or the group is missing.
 */
int esxmem_events_open_family(const char *family_name, const char *group,
			      struct esxmem_events **out);

#endif /* LIBESXMEM_INTERNAL_H */
