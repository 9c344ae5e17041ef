// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus endpoint: GET /metrics over HTTP, served by libmicrohttpd
 * from esxmemd's own event loop. libmicrohttpd runs without a thread of its
 * own (MHD_USE_EPOLL, no internal polling thread): its epoll fd sits in
 * the daemon's epoll set and MHD_run() is called when it is readable or
 * when the timeout it asks for (a timerfd) is up. Its sockets are
 * non-blocking, so a peer that sends nothing, or reads nothing, costs a
 * connection slot until libmicrohttpd's connection timeout closes it,
 * never the loop. So the daemon stays one thread with no locks: the
 * metrics text is rendered once per balance (metrics.c) into one
 * reference-counted response that every request until the next balance
 * is given; a response still being sent when the next balance publishes
 * its own stays alive until that send is done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "esxmemd.h"
#include "log.h"

/* Scrapers at once, and how long one may take to ask and be answered. */
#define METRICS_CONNECTIONS_MAX	16
#define METRICS_CONNECTION_SECS	10
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *mhd;
	int timer_fd;			/* libmicrohttpd's next timeout */
	char listen[sizeof(((struct config_metrics *)0)->listen)];
	struct MHD_Response *current;	/* the last balance's, or NULL */
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];

	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	text[strcspn(text, "\n")] = '\0';
	log_warn("metrics: %s", text);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct metrics_http *m = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "esxmemd: the metrics are at /metrics\n");
	if (!m->current)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "esxmemd: no balance has run yet\n");
	return MHD_queue_response(conn, MHD_HTTP_OK, m->current);
}

/* Arms the timer for libmicrohttpd's next timeout, if it has one. */
static void arm(struct metrics_http *m)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = { 0 };

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
		if (!ms)
			its.it_value.tv_nsec = 1;	/* at once: 0 would disarm */
	}
	timerfd_settime(m->timer_fd, 0, &its, NULL);
}

static void stop(struct daemon *d, struct metrics_http *m)
{
	if (!m)
		return;
	if (m->mhd) {
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);

		if (info)
			epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, info->epoll_fd, NULL);
		MHD_stop_daemon(m->mhd);
	}
	if (m->timer_fd >= 0) {
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, m->timer_fd, NULL);
		close(m->timer_fd);
	}
	if (m->current)
		MHD_destroy_response(m->current);
	free(m);
}

/* A server listening as @c says, in the daemon's loop; NULL, logged, if it cannot. */
static struct metrics_http *start(struct daemon *d, const struct config_metrics *c)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct epoll_event ev = { .events = EPOLLIN };
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	uint16_t port;
	int err;

	if (!m) {
		log_err("metrics: out of memory");
		return NULL;
	}
	m->timer_fd = -1;
	snprintf(m->listen, sizeof(m->listen), "%s", c->listen);
	if (c->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The address has the port; this one is only for libmicrohttpd's messages. */
	port = ntohs(c->addr.ss_family == AF_INET6 ?
		     ((const struct sockaddr_in6 *)&c->addr)->sin6_port :
		     ((const struct sockaddr_in *)&c->addr)->sin_port);
	m->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, m,
				  /* First, so that every message of libmicrohttpd's is ours. */
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&c->addr,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNECTIONS_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONNECTION_SECS,
				  MHD_OPTION_END);
	if (!m->mhd) {
		/* libmicrohttpd logged why (e.g. the address is in use). */
		log_err("metrics: cannot serve on %s: is the address this host's, and the port free? (config: metrics.listen)",
			c->listen);
		free(m);
		return NULL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	err = !info || m->timer_fd < 0 ? -EINVAL : 0;
	ev.data.u64 = EV_METRICS;
	if (!err && epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, info->epoll_fd, &ev))
		err = -errno;
	ev.data.u64 = EV_METRICS_TIMER;
	if (!err && epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, m->timer_fd, &ev))
		err = -errno;
	if (err) {
		log_err("metrics: cannot add the HTTP server to the event loop: %s",
			strerror(-err));
		stop(d, m);
		return NULL;
	}
	arm(m);
	log_info("metrics: serving http://%s/metrics", c->listen);
	return m;
}

int metrics_http_open(struct daemon *d)
{
	if (!d->conf.metrics.listen[0])
		return 0;
	d->metrics_http = start(d, &d->conf.metrics);
	return d->metrics_http ? 0 : -EADDRNOTAVAIL;
}

void metrics_http_close(struct daemon *d)
{
	stop(d, d->metrics_http);
	d->metrics_http = NULL;
}

/*
 * A new configuration @fresh, before it is taken: a new address gets a new
 * server, which must start before the old one stops; if it cannot, the old
 * one goes on (-EADDRNOTAVAIL, logged). The figures stay.
 */
int metrics_http_reconfigure(struct daemon *d, const struct config *fresh)
{
	struct metrics_http *old = d->metrics_http, *m = NULL;

	if (!strcmp(old ? old->listen : "", fresh->metrics.listen))
		return 0;
	if (fresh->metrics.listen[0]) {
		m = start(d, &fresh->metrics);
		if (!m) {
			if (old)
				log_err("metrics: still serving on %s", old->listen);
			return -EADDRNOTAVAIL;
		}
		if (old && old->current) {
			m->current = old->current;
			old->current = NULL;
		}
	} else if (old) {
		log_info("metrics: no longer served over HTTP");
	}
	stop(d, old);
	d->metrics_http = m;
	return 0;
}

void metrics_http_ready(struct daemon *d)
{
	struct metrics_http *m = d->metrics_http;
	uint64_t ticks;

	if (!m)
		return;
	if (read(m->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn("metrics: timer: %m");
	MHD_run(m->mhd);
	arm(m);
}

void metrics_http_serve(struct daemon *d, char *text, size_t len)
{
	struct metrics_http *m = d->metrics_http;
	struct MHD_Response *r;

	if (!m) {
		free(text);
		return;
	}
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		log_warn("metrics: out of memory: the last figures stay published");
		return;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	if (m->current)
		MHD_destroy_response(m->current);
	m->current = r;
}
