/* SPDX-License-Identifier: GPL-2.0-or-later */
/* esxmemctl's side of the control socket (daemon/control.h). */
#ifndef ESXMEMCTL_CLIENT_H
#define ESXMEMCTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/*
 * Sends @request to the daemon at @path and reads its reply into *@reply.
 * 0, or -errno with a message in @err: connecting failed (the daemon is not
 * running, or not at @path), or the reply is too large or not JSON.
 */
int ctl_request(const char *path, json_t *request, json_t **reply, char *err,
		size_t errlen);

#endif
