/* SPDX-License-Identifier: GPL-2.0-or-later */
/* esxmemctl's side of the control socket (daemon/control.h). */
#ifndef ESXMEMCTL_CLIENT_H
#define ESXMEMCTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/*
 * The message for a failed connection to @path with -errno @err: a
 * permission error says that the socket is root's, a missing daemon asks
 * whether it runs.
 */
void ctl_connect_error(const char *path, int err, char *buf, size_t len);

/*
 * Sends @request to the daemon at @path and reads its reply into *@reply.
 * 0, or -errno with a message in @err: connecting failed (the daemon is not
 * running, or not at @path: -ENOENT, -ECONNREFUSED; the caller may not use
 * the socket: -EACCES, -EPERM), or the reply is too large or not JSON.
 */
int ctl_request(const char *path, json_t *request, json_t **reply, char *err,
		size_t errlen);

#endif
