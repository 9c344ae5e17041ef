/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QMP client (QEMU Machine Protocol) that never blocks the daemon for
 * long: every session has a deadline, and a peer that sends garbage,
 * closes early or does not answer in time ends it with an error.
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
 * Connects to @path, reads the greeting and negotiates capabilities, all
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
