// SPDX-License-Identifier: GPL-2.0-or-later
/* esxmemctl: one request, one reply, over the daemon's unix socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "control.h"

#define REPLY_TIMEOUT_SECS	10

void ctl_connect_error(const char *path, int err, char *buf, size_t len)
{
	if (err == -EACCES || err == -EPERM)
		/* The socket is root's, mode 0660, in a 0750 directory. */
		snprintf(buf, len,
			 "permission denied on esxmemd's socket %s: it is root's: run esxmemctl as root (sudo esxmemctl ...)",
			 path);
	else if (err == -ENOENT || err == -ECONNREFUSED)
		snprintf(buf, len,
			 "cannot reach esxmemd at %s: %s (is it running? systemctl status esxmemd)",
			 path, strerror(-err));
	else
		snprintf(buf, len, "cannot reach esxmemd at %s: %s", path, strerror(-err));
}

int ctl_request(const char *path, json_t *request, json_t **reply, char *err,
		size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_SECS };
	size_t len = 0, cap = 0;
	char *line, *buf = NULL, *grown;
	json_error_t jerr;
	ssize_t n;
	int fd, ret = 0;

	*reply = NULL;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		ctl_connect_error(path, ret, err, errlen);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	line = json_dumps(request, JSON_COMPACT);
	if (!line) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	len = strlen(line);
	line[len] = '\n';
	if (write(fd, line, len + 1) != (ssize_t)(len + 1))
		ret = -EPIPE;
	free(line);
	len = 0;
	while (!ret) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			if (cap > CONTROL_REPLY_MAX) {
				ret = -EMSGSIZE;
				break;
			}
			grown = realloc(buf, cap);
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			buf = grown;
		}
		n = read(fd, buf + len, 65536);
		if (n < 0)
			ret = -errno;
		else if (!n)
			break;
		else
			len += (size_t)n;
	}
	close(fd);
	if (!ret && !len)
		ret = -ECONNRESET;
	if (ret) {
		snprintf(err, errlen, "no reply from esxmemd at %s: %s", path, strerror(-ret));
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*reply = json_loads(buf, 0, &jerr);
	free(buf);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		snprintf(err, errlen, "esxmemd's reply is not a JSON object: %s", jerr.text);
		return -EPROTO;
	}
	return 0;
}
