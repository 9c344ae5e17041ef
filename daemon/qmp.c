// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal QMP client: one JSON object per line each way; the greeting,
 * "qmp_capabilities", then commands, with asynchronous events interleaved
 * in the replies (skipped). See QEMU's docs/interop/qmp-spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The next argument after @arg in the NUL-separated @cmdline, or NULL. */
static const char *next_arg(const char *cmdline, size_t len, const char *arg)
{
	const char *end = cmdline + len;

	arg += strnlen(arg, (size_t)(end - arg)) + 1;
	return arg < end ? arg : NULL;
}

/* Copies the value of option @key ("path=") from a QEMU option string. */
static int option(const char *opts, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), n;
	const char *p = opts;

	while (p && *p) {
		if (!strncmp(p, key, klen)) {
			p += klen;
			n = strcspn(p, ",");
			if (!n)
				return -ENOENT;
			if (n >= size)
				return -ENAMETOOLONG;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return -ENOENT;
}

static bool is_option(const char *arg, const char *name)
{
	/* QEMU takes "-name" and "--name" alike. */
	if (arg[0] == '-' && arg[1] == '-')
		arg++;
	return !strcmp(arg, name);
}

int qmp_socket_path(const char *cmdline, size_t len, char *path, size_t size)
{
	const char *arg, *val, *end = cmdline + len;
	char id[128], want[128], chardev[128];

	/* A direct "-qmp unix:PATH" wins. */
	for (arg = len ? cmdline : NULL; arg; arg = next_arg(cmdline, len, arg)) {
		if (!is_option(arg, "-qmp"))
			continue;
		val = next_arg(cmdline, len, arg);
		if (val && !strncmp(val, "unix:", 5)) {
			size_t n = strnlen(val + 5, (size_t)(end - val - 5));

			n = n < strcspn(val + 5, ",") ? n : strcspn(val + 5, ",");
			if (!n)
				continue;
			if (n >= size)
				return -ENAMETOOLONG;
			memcpy(path, val + 5, n);
			path[n] = '\0';
			return 0;
		}
	}
	/* "-mon chardev=ID,mode=control" and the chardev socket named ID. */
	for (arg = len ? cmdline : NULL; arg; arg = next_arg(cmdline, len, arg)) {
		if (!is_option(arg, "-mon"))
			continue;
		val = next_arg(cmdline, len, arg);
		if (!val || !strstr(val, "mode=control") ||
		    option(val, "chardev=", want, sizeof(want)))
			continue;
		for (const char *c = cmdline; c; c = next_arg(cmdline, len, c)) {
			if (!is_option(c, "-chardev"))
				continue;
			val = next_arg(cmdline, len, c);
			if (!val || strncmp(val, "socket,", 7) ||
			    option(val, "id=", id, sizeof(id)) || strcmp(id, want))
				continue;
			if (option(val, "path=", chardev, sizeof(chardev)))
				continue;	/* an fd from libvirt: not ours to use */
			if (strlen(chardev) >= size)
				return -ENAMETOOLONG;
			strcpy(path, chardev);
			return 0;
		}
	}
	return -ENOENT;
}

bool qmp_has_virtio_balloon(const char *cmdline, size_t len)
{
	const char *arg, *val;

	for (arg = len ? cmdline : NULL; arg; arg = next_arg(cmdline, len, arg)) {
		if (!is_option(arg, "-device"))
			continue;
		val = next_arg(cmdline, len, arg);
		if (val && !strncmp(val, "virtio-balloon", 14))
			return true;
	}
	return false;
}

/* Waits for @events on q->fd until the deadline. */
static int wait_fd(struct qmp *q, short events)
{
	struct pollfd p = { .fd = q->fd, .events = events };
	double left = q->deadline - now();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)(left * 1000) + 1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

int qmp_take_message(struct qmp *q, json_t **out)
{
	json_error_t jerr;
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(q->buf, '\n', q->have);
		if (nl) {
			size_t line = (size_t)(nl - q->buf) + 1;

			*out = json_loadb(q->buf, line, 0, &jerr);
			memmove(q->buf, q->buf + line, q->have - line);
			q->have -= line;
			return *out && json_is_object(*out) ? 0 : (json_decref(*out), -EPROTO);
		}
		if (q->have == sizeof(q->buf))
			return -EPROTO;		/* a line longer than any reply */
		n = recv(q->fd, q->buf + q->have, sizeof(q->buf) - q->have, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		q->have += (size_t)n;
	}
}

/* The next line from QEMU as JSON (a new reference) in *@out. */
static int read_message(struct qmp *q, json_t **out)
{
	int err;

	while ((err = qmp_take_message(q, out)) == -EAGAIN) {
		err = wait_fd(q, POLLIN);
		if (err)
			return err;
	}
	return err;
}

static int send_all(struct qmp *q, const char *s, size_t len)
{
	ssize_t n;
	int err;

	while (len) {
		n = send(q->fd, s, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n < 0) {
			err = wait_fd(q, POLLOUT);
			if (err)
				return err;
			continue;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

char *qmp_command(const char *execute, json_t *args)
{
	json_t *cmd;
	char *text, *line;
	size_t len;

	cmd = args ? json_pack("{s:s, s:o}", "execute", execute, "arguments", args) :
		     json_pack("{s:s}", "execute", execute);
	if (!cmd)
		return NULL;
	text = json_dumps(cmd, JSON_COMPACT);
	json_decref(cmd);
	if (!text)
		return NULL;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	memcpy(line + len, "\n", 2);
	return line;
}

int qmp_reply(json_t *msg, json_t **ret)
{
	if (json_object_get(msg, "return")) {
		if (ret)
			*ret = json_incref(json_object_get(msg, "return"));
		return 0;
	}
	if (json_object_get(msg, "error"))
		return -EREMOTEIO;
	return json_object_get(msg, "event") ? -EAGAIN : -EPROTO;
}

int qmp_call(struct qmp *q, const char *execute, json_t *args, json_t **ret)
{
	json_t *msg = NULL;
	char *text = qmp_command(execute, args);
	int err;

	if (!text)
		return -ENOMEM;
	err = send_all(q, text, strlen(text));
	free(text);
	while (!err) {
		err = read_message(q, &msg);
		if (err)
			break;
		err = qmp_reply(msg, ret);
		json_decref(msg);
		if (err == -EAGAIN)
			err = 0;	/* an event on the way */
		else
			return err;
	}
	return err;
}

int qmp_connect(struct qmp *q, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int err;

	q->have = 0;
	q->fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return -errno;
	/* A unix socket connects at once, or fails (EAGAIN: its backlog is full). */
	if (connect(q->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		qmp_close(q);
		return err;
	}
	return 0;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
	json_t *greeting = NULL;
	int err;

	q->deadline = now() + timeout_ms / 1000.0;
	err = qmp_connect(q, path);
	if (err)
		return err;
	err = read_message(q, &greeting);
	if (!err && !json_object_get(greeting, "QMP"))
		err = -EPROTO;
	json_decref(greeting);
	if (!err)
		err = qmp_call(q, "qmp_capabilities", NULL, NULL);
	if (err)
		qmp_close(q);
	return err;
}

int qmp_peer(const struct qmp *q, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	*uid = cred.uid;
	*pid = cred.pid;
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

int qmp_balloon_actual_of(json_t *ret, uint64_t *bytes)
{
	json_t *actual = json_object_get(ret, "actual");

	if (!json_is_integer(actual) || json_integer_value(actual) <= 0)
		return -EPROTO;
	*bytes = (uint64_t)json_integer_value(actual);
	return 0;
}

int qmp_balloon_actual(struct qmp *q, uint64_t *bytes)
{
	json_t *ret = NULL;
	int err = qmp_call(q, "query-balloon", NULL, &ret);

	if (!err)
		err = qmp_balloon_actual_of(ret, bytes);
	json_decref(ret);
	return err;
}

int qmp_balloon_set(struct qmp *q, uint64_t bytes)
{
	json_t *args = json_pack("{s:I}", "value", (json_int_t)bytes);

	return args ? qmp_call(q, "balloon", args, NULL) : -ENOMEM;
}
