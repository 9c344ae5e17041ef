// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket (protocol in control.h): one request per connection,
 * served at once from the event loop. A client gets a second to send its
 * line and take the reply, so a stuck one cannot hold the daemon up long.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "esxmemd.h"
#include "log.h"

#define CLIENT_TIMEOUT_MS	1000

/* Who sent the request being served (SO_PEERCRED), for the log of changes. */
static struct ucred client = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };

static const char *socket_path(const struct daemon *d)
{
	return d->socket_path[0] ? d->socket_path : d->conf.control_socket;
}

int control_open(struct daemon *d)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = socket_path(d);
	char dir[sizeof(addr.sun_path)];
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_err("control socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	strcpy(dir, path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST)
		log_warn("cannot create the directory of %s: %m", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket left by a daemon that died: nobody answers there. */
	unlink(path);
	old = umask(0117);
	err = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	umask(old);
	if (!err && listen(fd, 16))
		err = -errno;
	if (err) {
		log_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	d->control_fd = fd;
	return 0;
}

void control_close(struct daemon *d)
{
	if (d->control_fd < 0)
		return;
	close(d->control_fd);
	unlink(socket_path(d));
	d->control_fd = -1;
}

static json_t *vm_json(const struct daemon *d, size_t i)
{
	const struct esxmem_vm_info *vm = &d->vms[i];
	double rho = d->rho ? d->rho[i] : 0;

	return json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:f, s:f, s:f, s:I}",
		"name", vm->name, "id", (json_int_t)vm->id,
		"pid", (json_int_t)vm->owner_pid, "attached", vm->kvm_attached,
		"size_pages", (json_int_t)vm->size_pages,
		"min_pages", (json_int_t)vm->min_pages,
		"max_pages", (json_int_t)vm->max_pages,
		"shares", (json_int_t)vm->shares,
		"target_pages", (json_int_t)vm->target_pages,
		"consumed_pages", (json_int_t)vm->consumed_pages,
		"shared_pages", (json_int_t)vm->state_pages[ESXMEM_PAGE_SHARED],
		"zero_pages", (json_int_t)vm->state_pages[ESXMEM_PAGE_ZERO],
		"ballooned_pages", (json_int_t)vm->state_pages[ESXMEM_PAGE_BALLOONED],
		"balloon_target_pages", (json_int_t)balloon_target(d, vm),
		"swapped_pages", (json_int_t)vm->state_pages[ESXMEM_PAGE_SWAPPED],
		"compressed_pages", (json_int_t)vm->state_pages[ESXMEM_PAGE_COMPRESSED],
		"active", vm->active_ppm / 1e6,
		/* +inf (no pages) is not JSON: null. */
		"rho", isfinite(rho) ? json_real(rho) : json_null(),
		"active_last", vm->active_last_ppm / 1e6,
		"active_slow", vm->active_slow_ppm / 1e6,
		"active_fast", vm->active_fast_ppm / 1e6,
		"domain", (json_int_t)vm->domain);
}

static json_t *status_json(const struct daemon *d)
{
	json_t *vms = json_array(), *reply;
	size_t i;

	for (i = 0; i < d->nr_vms; i++)
		json_array_append_new(vms, vm_json(d, i));
	reply = json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:s}, s:I, s:f, s:I, s:I, s:s, s:o}",
		"ok", 1,
		"pool", "page_size", (json_int_t)sysconf(_SC_PAGESIZE),
		"pages", (json_int_t)d->pool.pages,
		"used_pages", (json_int_t)d->pool.used_pages,
		"free_pages", (json_int_t)d->pool.free_pages,
		"state", state_name(d->pool.state),
		"avail_pages", (json_int_t)d->avail_pages,
		"tax", d->conf.tax, "balance_secs", (json_int_t)d->conf.balance_secs,
		"sample_secs", (json_int_t)d->conf.sample_secs,
		"config", d->conf_path, "vms", vms);
	return reply;
}

static json_t *error_json(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static json_t *error_json(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", text);
}

static long find_vm(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nr_vms; i++)
		if (!strcmp(d->vms[i].name, name))
			return (long)i;
	return -1;
}

static int size_of(json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	return json_is_string(v) ? config_parse_size(json_string_value(v), out) : -EINVAL;
}

/* Applies "settings" to a copy of @c; an error reply, or NULL. */
static json_t *apply_settings(json_t *settings, struct config_vm *c)
{
	const char *key;
	json_t *v;

	if (!json_is_object(settings) || !json_object_size(settings))
		return error_json("\"settings\" must be an object with shares, min, max or domain");
	json_object_foreach(settings, key, v) {
		if (!strcmp(key, "shares")) {
			static const char *const levels[] = { "low", "normal", "high" };
			size_t l;

			if (json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= ESXMEM_SHARES_MAX) {
				c->shares_level = CONFIG_SHARES_ABSOLUTE;
				c->shares = (uint32_t)json_integer_value(v);
				continue;
			}
			for (l = 0; l < 3; l++)
				if (json_is_string(v) && !strcmp(json_string_value(v), levels[l]))
					break;
			if (l == 3)
				return error_json("shares must be 1..%d or low, normal or high",
						  ESXMEM_SHARES_MAX);
			c->shares_level = CONFIG_SHARES_LOW + (int)l;
		} else if (!strcmp(key, "min")) {
			if (size_of(v, &c->min_bytes))
				return error_json("min must be a size such as 512M or 2G");
		} else if (!strcmp(key, "max")) {
			if (size_of(v, &c->max_bytes))
				return error_json("max must be a size such as 512M or 2G (0: the VM's RAM)");
		} else if (!strcmp(key, "domain")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > ESXMEM_DOMAIN_MAX)
				return error_json("domain must be 0..%d", ESXMEM_DOMAIN_MAX);
			c->domain = (uint32_t)json_integer_value(v);
		} else {
			return error_json("unknown setting \"%s\": shares, min, max or domain", key);
		}
	}
	if (c->max_bytes && c->min_bytes > c->max_bytes)
		return error_json("min is above max");
	return NULL;
}

static json_t *do_set(struct daemon *d, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct vm_override *o = NULL, *grown;
	struct config_vm c;
	json_t *err;
	size_t i;

	if (!name || find_vm(d, name) < 0)
		return error_json("no VM named %s (esxmemctl status lists them)", name ?: "\"\"");
	c = *vm_settings(d, name);
	err = apply_settings(json_object_get(req, "settings"), &c);
	if (err)
		return err;
	for (i = 0; i < d->nr_overrides; i++)
		if (!strcmp(d->overrides[i].name, name))
			o = &d->overrides[i];
	if (!o) {
		grown = realloc(d->overrides, (d->nr_overrides + 1) * sizeof(*grown));
		if (!grown)
			return error_json("out of memory");
		d->overrides = grown;
		o = &d->overrides[d->nr_overrides++];
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	o->vm = c;
	{
		char *what = json_dumps(json_object_get(req, "settings"), JSON_COMPACT | JSON_SORT_KEYS);

		log_info("VM %s: settings %s set at run time (until reload) by uid %u (process %d)",
			 name, what ?: "?", (unsigned int)client.uid, (int)client.pid);
		free(what);
	}
	if (balance(d))
		return error_json("the change is kept but the balance failed: see the daemon's log");
	return json_pack("{s:b}", "ok", 1);
}

static json_t *handle(struct daemon *d, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr), *reply;
	const char *cmd;
	char text[512];
	long i;

	if (!json_is_object(req)) {
		json_decref(req);
		return error_json("request is not a JSON object: %s", jerr.text);
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd) {
		reply = error_json("request has no \"cmd\"");
	} else if (!strcmp(cmd, "status")) {
		reply = status_json(d);
	} else if (!strcmp(cmd, "vm")) {
		const char *name = json_string_value(json_object_get(req, "name"));

		i = name ? find_vm(d, name) : -1;
		reply = i < 0 ? error_json("no VM named %s (esxmemctl status lists them)",
					  name ?: "\"\"") :
				json_pack("{s:b, s:o}", "ok", 1, "vm", vm_json(d, (size_t)i));
	} else if (!strcmp(cmd, "set")) {
		reply = do_set(d, req);
	} else if (!strcmp(cmd, "reload")) {
		log_info("reload asked by uid %u (process %d)", (unsigned int)client.uid,
			 (int)client.pid);
		reply = reload_config(d, text, sizeof(text)) ?
			error_json("%s (the old configuration stays)", text) :
			json_pack("{s:b}", "ok", 1);
	} else {
		reply = error_json("unknown command \"%s\": status, vm, set or reload", cmd);
	}
	json_decref(req);
	return reply;
}

static int read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			return n ? -errno : -EPIPE;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			return 0;
	}
	return -EMSGSIZE;
}

void control_accept(struct daemon *d)
{
	struct timeval tv = { .tv_usec = CLIENT_TIMEOUT_MS * 1000 };
	static char line[CONTROL_MSG_MAX + 1];
	json_t *reply;
	char *out;
	int fd, err;

	while ((fd = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		socklen_t len = sizeof(client);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &client, &len))
			client = (struct ucred){ .uid = (uid_t)-1, .gid = (gid_t)-1 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		err = read_line(fd, line, sizeof(line));
		if (err == -EMSGSIZE)
			reply = error_json("request longer than %d bytes", CONTROL_MSG_MAX);
		else if (err)
			reply = NULL;	/* the client went or stalled */
		else
			reply = handle(d, line);
		out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
		if (out) {
			size_t len = strlen(out);

			out[len] = '\n';
			if (write(fd, out, len + 1) < 0)
				log_debug("control client went: %m");
			free(out);
		}
		json_decref(reply);
		close(fd);
	}
}
