// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's QMP client (daemon/qmp.c): finding QEMU's QMP socket and its
 * virtio-balloon on command lines, including malformed ones; and sessions
 * with a scripted QEMU on a unix socket: the happy path with an event in
 * the way, and peers that send garbage, close, answer with an error, send
 * an endless line or never answer, each ended with an error in bounded
 * time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "unit.h"

/* A command line as /proc/PID/cmdline has it: NUL after every argument. */
#define CMDLINE(s) (s), sizeof(s) - 1

START_TEST(socket_from_qmp_option)
{
	char path[108];

	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-m\0""1G\0-qmp\0unix:/run/q.sock,server=on,wait=off\0"),
					 path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/run/q.sock");
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0--qmp\0unix:/a\0"), path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/a");
}
END_TEST

START_TEST(socket_from_chardev_and_mon)
{
	char path[108];

	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-chardev\0socket,id=other,path=/x,server=on\0"
						 "-chardev\0socket,id=mon0,path=/run/m.sock,server=on,wait=off\0"
						 "-mon\0chardev=mon0,mode=control\0"), path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/run/m.sock");
}
END_TEST

START_TEST(no_socket)
{
	char path[108], small[4];

	/* None, a human monitor, a libvirt fd, a TCP QMP, cut short, empty. */
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-m\0""1G\0"), path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-chardev\0socket,id=m,path=/h\0"
						 "-mon\0chardev=m,mode=readline\0"), path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-chardev\0socket,id=m,fd=23\0"
						 "-mon\0chardev=m,mode=control\0"), path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-qmp\0tcp:localhost:4444\0"), path, sizeof(path)),
			 -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-qmp\0"), path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-qmp\0unix:,server\0"), path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-mon\0chardev=,mode=control\0"), path, sizeof(path)),
			 -ENOENT);
	ck_assert_int_eq(qmp_socket_path("", 0, path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(qmp_socket_path(CMDLINE("qemu\0-qmp\0unix:/long/path\0"), small, sizeof(small)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(balloon_device)
{
	ck_assert(qmp_has_virtio_balloon(CMDLINE("qemu\0-device\0virtio-balloon-pci,id=b0\0")));
	ck_assert(qmp_has_virtio_balloon(CMDLINE("qemu\0--device\0virtio-balloon\0")));
	ck_assert(!qmp_has_virtio_balloon(CMDLINE("qemu\0-device\0virtio-net-pci\0")));
	ck_assert(!qmp_has_virtio_balloon(CMDLINE("qemu\0-name\0virtio-balloon\0")));
	ck_assert(!qmp_has_virtio_balloon(CMDLINE("qemu\0-device\0")));
	ck_assert(!qmp_has_virtio_balloon("", 0));
}
END_TEST

/* ---- sessions with a scripted QEMU ---------------------------------------- */

enum script { GOOD, GARBAGE, CLOSE, SILENT, ERROR, ENDLESS };

struct fake {
	char path[108];
	int listen_fd;
	enum script script;
	char got[4096];			/* what the client sent */
	size_t got_len;
	pthread_t thread;
};

static void say(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads one line from the client into f->got; false at its end. */
static bool hear(struct fake *f, int fd)
{
	char c;

	while (read(fd, &c, 1) == 1) {
		if (f->got_len < sizeof(f->got) - 1)
			f->got[f->got_len++] = c;
		if (c == '\n')
			return true;
	}
	return false;
}

static void *serve(void *arg)
{
	struct fake *f = arg;
	static char big[QMP_LINE_MAX + 16];
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	switch (f->script) {
	case GOOD:
		say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
		hear(f, fd);
		say(fd, "{\"return\": {}}\r\n");
		hear(f, fd);
		say(fd, "{\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 1}}\r\n");
		say(fd, "{\"return\": {\"actual\": 268435456}}\r\n");
		hear(f, fd);
		say(fd, "{\"return\": {}}\r\n");
		break;
	case GARBAGE:
		say(fd, "this is not JSON\r\n");
		break;
	case CLOSE:
		break;
	case SILENT:
		hear(f, fd);	/* until the client gives up */
		break;
	case ERROR:
		say(fd, "{\"QMP\": {}}\n");
		hear(f, fd);
		say(fd, "{\"return\": {}}\n");
		hear(f, fd);
		say(fd, "{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No balloon device\"}}\n");
		break;
	case ENDLESS:
		memset(big, '{', sizeof(big));
		ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
		hear(f, fd);
		break;
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, enum script script)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/esxmem-qmp-%d-%d.sock", (int)getpid(), (int)script);
	unlink(f->path);
	strcpy(addr.sun_path, f->path);
	f->script = script;
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(f->listen_fd, 0);
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(f->listen_fd, 1), 0);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(session_good)
{
	struct fake f;
	struct qmp q;
	uint64_t actual = 0;

	fake_start(&f, GOOD);
	ck_assert_int_eq(qmp_open(&q, f.path, 2000), 0);
	ck_assert_int_eq(qmp_balloon_actual(&q, &actual), 0);
	ck_assert_uint_eq(actual, 268435456);
	ck_assert_int_eq(qmp_balloon_set(&q, 134217728), 0);
	qmp_close(&q);
	fake_stop(&f);
	f.got[f.got_len] = '\0';
	ck_assert_str_eq(f.got, "{\"execute\":\"qmp_capabilities\"}\n"
			 "{\"execute\":\"query-balloon\"}\n"
			 "{\"execute\":\"balloon\",\"arguments\":{\"value\":134217728}}\n");
}
END_TEST

START_TEST(session_hostile)
{
	static const struct { enum script script; int err; } cases[] = {
		{ GARBAGE, -EPROTO }, { CLOSE, -ECONNRESET }, { SILENT, -ETIMEDOUT },
		{ ENDLESS, -EPROTO },
	};
	struct fake f;
	struct qmp q;
	size_t i;
	double t;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&f, cases[i].script);
		t = seconds();
		ck_assert_int_eq(qmp_open(&q, f.path, 300), cases[i].err);
		ck_assert_msg(seconds() - t < 2.0, "case %zu took %.1f s", i, seconds() - t);
		ck_assert_int_eq(q.fd, -1);
		fake_stop(&f);
	}
	/* Nobody listening. */
	ck_assert_int_lt(qmp_open(&q, "/tmp/esxmem-qmp-nobody.sock", 300), 0);
}
END_TEST

START_TEST(session_error_reply)
{
	struct fake f;
	struct qmp q;
	uint64_t actual = 0;

	fake_start(&f, ERROR);
	ck_assert_int_eq(qmp_open(&q, f.path, 2000), 0);
	ck_assert_int_eq(qmp_balloon_actual(&q, &actual), -EREMOTEIO);
	ck_assert_uint_eq(actual, 0);
	qmp_close(&q);
	fake_stop(&f);
}
END_TEST

/* The non-blocking steps: a line in pieces, an event before the reply, an error. */
START_TEST(nonblocking_steps)
{
	int sv[2];
	struct qmp q = { .fd = -1 };
	json_t *msg = NULL, *ret = NULL;
	uint64_t actual = 0;
	char *line;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	q.fd = sv[0];
	ck_assert_int_eq(qmp_take_message(&q, &msg), -EAGAIN);
	ck_assert_int_eq(write(sv[1], "{\"event\": \"BALLOON_CHANGE\"}\n{\"return\": {\"act", 44), 44);
	ck_assert_int_eq(qmp_take_message(&q, &msg), 0);
	ck_assert_int_eq(qmp_reply(msg, &ret), -EAGAIN);
	json_decref(msg);
	ck_assert_int_eq(qmp_take_message(&q, &msg), -EAGAIN);
	ck_assert_int_eq(write(sv[1], "ual\": 4096}}\n{\"error\": {}}\n", 27), 27);
	ck_assert_int_eq(qmp_take_message(&q, &msg), 0);
	ck_assert_int_eq(qmp_reply(msg, &ret), 0);
	ck_assert_int_eq(qmp_balloon_actual_of(ret, &actual), 0);
	ck_assert_uint_eq(actual, 4096);
	json_decref(ret);
	json_decref(msg);
	ck_assert_int_eq(qmp_take_message(&q, &msg), 0);
	ck_assert_int_eq(qmp_reply(msg, NULL), -EREMOTEIO);
	json_decref(msg);
	line = qmp_command("balloon", json_pack("{s:I}", "value", (json_int_t)8192));
	ck_assert_str_eq(line, "{\"execute\":\"balloon\",\"arguments\":{\"value\":8192}}\n");
	free(line);
	close(sv[1]);
	ck_assert_int_eq(qmp_take_message(&q, &msg), -ECONNRESET);
	qmp_close(&q);
}
END_TEST

Suite *qmp_suite(void)
{
	Suite *s = suite_create("qmp");
	TCase *tc = tcase_create("qmp");

	tcase_add_test(tc, socket_from_qmp_option);
	tcase_add_test(tc, socket_from_chardev_and_mon);
	tcase_add_test(tc, no_socket);
	tcase_add_test(tc, balloon_device);
	tcase_add_test(tc, session_good);
	tcase_add_test(tc, session_hostile);
	tcase_add_test(tc, session_error_reply);
	tcase_add_test(tc, nonblocking_steps);
	suite_add_tcase(s, tc);
	return s;
}
