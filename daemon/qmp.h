/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QMP client (QEMU Machine Protocol). The daemon drives its sessions
 * from its event loop with the non-blocking calls (qmp_connect(),
 * qmp_command(), qmp_take_message(), qmp_reply()), so that a QEMU that
 * does not answer holds up nothing else; the blocking ones (qmp_open(),
 * qmp_call()) bound every session by a deadline, for tools and tests.
 */
#ifndef ESXMEMD_QMP_H
#define ESXMEMD_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define QMP_LINE_MAX	65536

struct qmp {
	int fd;
	double deadline;		/* CLOCK_MONOTONIC seconds */
	size_t have;
	char buf[QMP_LINE_MAX];
};

/*
 * The path of the QMP unix socket on QEMU's command line @cmdline (@len
 * bytes, NUL-separated arguments): "-qmp unix:PATH[,...]", or a
 * "-chardev socket,id=ID,path=PATH,..." with "-mon chardev=ID,mode=control".
 * 0, or -ENOENT when there is none, -ENAMETOOLONG when it does not fit.
 */
int qmp_socket_path(const char *cmdline, size_t len, char *path, size_t size);

/* Whether QEMU's command line has a virtio-balloon device. */
bool qmp_has_virtio_balloon(const char *cmdline, size_t len);

/*
 * Non-blocking: connects to @path (a unix socket connects at once or
 * fails: -EAGAIN when its backlog is full, as with a QEMU that never
 * accepts). The greeting is the first message to take.
 */
int qmp_connect(struct qmp *q, const char *path);

/* The command line to send for @execute with @args (its reference is taken); free() it. */
char *qmp_command(const char *execute, json_t *args);

/*
 * Non-blocking: the next message QEMU sent, as a JSON object (a new
 * reference) in *@out: 0, -EAGAIN when no whole line is there yet,
 * -ECONNRESET when QEMU closed, -EPROTO when it is not QMP.
 */
int qmp_take_message(struct qmp *q, json_t **out);

/*
 * What message @msg says about the command sent: 0 with its "return"
 * value in *@ret (a new reference, when @ret is not NULL), -EREMOTEIO for
 * an error, -EAGAIN for an event (a reply is still to come), -EPROTO.
 */
int qmp_reply(json_t *msg, json_t **ret);

/* The "actual" size in a reply to query-balloon. 0 or -EPROTO. */
int qmp_balloon_actual_of(json_t *ret, uint64_t *bytes);

/*
 * Blocking: connects to @path, reads the greeting and negotiates capabilities, all
 * within @timeout_ms (which also bounds the calls that follow).
 * 0 or -errno: -ETIMEDOUT, -EPROTO (not QMP), -ECONNRESET (closed).
 */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);

/*
 * Runs @execute with @args (may be NULL; its reference is taken) and
 * stores the "return" value in *@ret (a new reference) when @ret is not
 * NULL. Events on the way are skipped. 0, -EREMOTEIO when QEMU answered
 * with an error, or as qmp_open().
 */
int qmp_call(struct qmp *q, const char *execute, json_t *args, json_t **ret);

void qmp_close(struct qmp *q);

/*
 * Who listens at the other end of an open session (SO_PEERCRED): the
 * effective uid and the pid of the process that made the QMP socket.
 */
int qmp_peer(const struct qmp *q, uid_t *uid, pid_t *pid);

/* query-balloon: the guest's memory size as the balloon leaves it. */
int qmp_balloon_actual(struct qmp *q, uint64_t *bytes);

/* balloon: asks the guest to have @bytes of memory. */
int qmp_balloon_set(struct qmp *q, uint64_t bytes);

#endif
