/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmemd's Prometheus metrics endpoint as a scraper sees it, for the test
 * host's programs: bring up loopback, GET /metrics over HTTP/1.0, and parse
 * the text exposition format into samples with their name, id and state
 * labels, CHECKing its form as it goes (vmtest.h).
 */
#ifndef ESXMEM_TESTS_PROMETHEUS_H
#define ESXMEM_TESTS_PROMETHEUS_H

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "vmtest.h"

/* The test host's init leaves the loopback interface down. */
static inline void prom_loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0, "socket");
	strcpy(ifr.ifr_name, "lo");
	REQUIRE(!ioctl(fd, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	REQUIRE(!ioctl(fd, SIOCSIFFLAGS, &ifr), "bring lo up: %s", strerror(errno));
	close(fd);
}

/* ---- HTTP ----------------------------------------------------------------- */

/* A TCP connection to 127.0.0.1:@port, with 20 s limits on sending and receiving; -1 if none. */
static inline int prom_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 20 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One HTTP/1.0 request to 127.0.0.1:@port (the server closes after the
 * reply): the status code, or -1; the body, malloc'ed, in *@body.
 */
static inline int prom_http(int port, const char *method, const char *path, char **body)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap), *end, req[256];
	int fd = prom_connect(port), code = -1;
	ssize_t n;

	*body = NULL;
	REQUIRE(buf, "malloc");
	if (fd < 0) {
		free(buf);
		return -1;
	}
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req))
		while (len < cap - 1 && (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
			len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	end = strstr(buf, "\r\n\r\n");
	if (end && sscanf(buf, "HTTP/1.%*d %d", &code) == 1) {
		*body = strdup(end + 4);
		REQUIRE(*body, "strdup");
	}
	free(buf);
	return end ? code : -1;
}

/* GET /metrics from 127.0.0.1:@port: the text, malloc'ed, or NULL. */
static inline char *prom_scrape(int port)
{
	char *body;
	int code = prom_http(port, "GET", "/metrics", &body);

	if (code != 200) {
		free(body);
		return NULL;
	}
	return body;
}

/* ---- the exposition format ---------------------------------------------------- */

struct prom_sample {
	char name[64];
	char vm[128];			/* the label values, unescaped */
	char id[16];
	char state[16];
	double value;
};

struct prom_exposition {
	struct prom_sample *s;
	size_t n;
	char families[64][64];		/* with HELP and TYPE, in order */
	char types[64][16];
	size_t nr_families;
};

/* A label value from @p (after the opening quote) into @out; past the closing quote. */
static inline const char *prom_label_value(const char *p, char *out, size_t size, bool *bad)
{
	size_t n = 0;

	for (; *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\n') {
			*bad = true;	/* a raw newline would end the line */
			return p;
		}
		if (c == '\\') {
			p++;
			c = *p == 'n' ? '\n' : *p == '\\' ? '\\' : *p == '"' ? '"' : 0;
			if (!c) {
				*bad = true;
				return p;
			}
		}
		if (n + 1 < size)
			out[n++] = c;
	}
	out[n] = '\0';
	if (*p != '"')
		*bad = true;
	return *p ? p + 1 : p;
}

/* Parses @text, CHECKing its form; false when a line does not parse. */
static inline bool prom_parse(const char *text, struct prom_exposition *e)
{
	const char *line = text, *nl;
	char help_of[64] = "";
	size_t cap = 0;

	memset(e, 0, sizeof(*e));
	for (; *line; line = nl + 1) {
		char name[64], rest[64], *end;
		struct prom_sample *s;
		const char *p;
		bool bad = false;
		size_t k;

		nl = strchr(line, '\n');
		if (!nl) {
			CHECK(false, "the text ends without a newline");
			return false;
		}
		if (!strncmp(line, "# HELP ", 7)) {
			CHECK(sscanf(line + 7, "%63s", help_of) == 1, "a HELP line without a name");
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			if (sscanf(line + 7, "%63s %15s", name, rest) != 2 || strcmp(name, help_of) ||
			    (strcmp(rest, "gauge") && strcmp(rest, "counter")) ||
			    e->nr_families == 64) {
				CHECK(false, "TYPE line %.*s: not after its HELP, or an odd type",
				      (int)(nl - line), line);
				return false;
			}
			for (k = 0; k < e->nr_families; k++)
				CHECK(strcmp(e->families[k], name), "family %s twice", name);
			strcpy(e->families[e->nr_families], name);
			strcpy(e->types[e->nr_families++], rest);
			continue;
		}
		if (e->n == cap) {
			cap = cap ? 2 * cap : 256;
			e->s = realloc(e->s, cap * sizeof(*e->s));
			REQUIRE(e->s, "realloc");
		}
		s = &e->s[e->n];
		memset(s, 0, sizeof(*s));
		k = strcspn(line, "{ ");
		if (k == 0 || k >= sizeof(s->name)) {
			CHECK(false, "a sample without a name: %.*s", (int)(nl - line), line);
			return false;
		}
		memcpy(s->name, line, k);
		p = line + k;
		if (*p == '{') {
			p++;
			while (*p != '}' && !bad) {
				char key[16], *to;
				size_t kl = strcspn(p, "=");

				if (kl == 0 || kl >= sizeof(key) || p[kl + 1] != '"') {
					bad = true;
					break;
				}
				memcpy(key, p, kl);
				key[kl] = '\0';
				to = !strcmp(key, "name") ? s->vm : !strcmp(key, "id") ? s->id :
				     !strcmp(key, "state") ? s->state : NULL;
				if (!to) {
					bad = true;
					break;
				}
				p = prom_label_value(p + kl + 2, to,
						to == s->vm ? sizeof(s->vm) :
						to == s->id ? sizeof(s->id) : sizeof(s->state), &bad);
				if (*p == ',')
					p++;
			}
			if (bad || *p != '}') {
				CHECK(false, "labels do not parse: %.*s", (int)(nl - line), line);
				return false;
			}
			p++;
		}
		if (*p != ' ') {
			CHECK(false, "no value: %.*s", (int)(nl - line), line);
			return false;
		}
		s->value = strtod(p + 1, &end);
		if (end != nl || end == p + 1) {
			CHECK(false, "the value does not parse: %.*s", (int)(nl - line), line);
			return false;
		}
		/* A sample belongs to the family whose HELP and TYPE came last. */
		CHECK(e->nr_families && !strcmp(s->name, e->families[e->nr_families - 1]),
		      "sample %s is not under its family's HELP and TYPE", s->name);
		e->n++;
	}
	return true;
}

static inline void prom_free(struct prom_exposition *e)
{
	free(e->s);
	e->s = NULL;
}

/* The sample of family @name for VM @id ("" for none) and state @state (""). */
static inline const struct prom_sample *prom_find(const struct prom_exposition *e,
						  const char *name, const char *id,
						  const char *state)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->s[i].name, name) && !strcmp(e->s[i].id, id) &&
		    !strcmp(e->s[i].state, state))
			return &e->s[i];
	return NULL;
}

#endif
