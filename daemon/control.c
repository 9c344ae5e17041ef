// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket (protocol in control.h): one request per connection,
 * served from the event loop without ever waiting on a client. Each
 * client's socket is non-blocking with buffers of its own: its request is
 * read as it arrives, answered once its line is complete, and its reply
 * sent as its socket takes it. A client has CONTROL_CLIENT_MS from its
 * connection to send its line and take its reply, or it is closed; at
 * most CONTROL_CLIENTS_MAX are connected at once, further ones are told
 * to try again. So a silent or stopped client (nc -U, a suspended
 * esxmemctl) costs a slot for a few seconds, never the daemon's loop.
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "esxmemd.h"
#include "log.h"

/* A connected client's state: its request as it arrives, then its reply. */
struct control_client {
	int fd;
	struct ucred peer;		/* who connected (SO_PEERCRED) */
	uint64_t deadline_ms;		/* CLOCK_MONOTONIC: closed then */
	char *in;			/* CONTROL_MSG_MAX + 1 bytes */
	size_t in_len;
	char *out;			/* the reply line, once there is one */
	size_t out_len;
	size_t out_done;
};

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
	d->control_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->control_timer_fd < 0) {
		err = -errno;
		log_err("cannot make the control clients' timer: %m");
		control_close(d);
		return err;
	}
	return 0;
}

static void drop(struct daemon *d, size_t slot);

void control_close(struct daemon *d)
{
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (d->control_clients[i])
			drop(d, i);
	if (d->control_timer_fd >= 0)
		close(d->control_timer_fd);
	d->control_timer_fd = -1;
	if (d->control_fd < 0)
		return;
	close(d->control_fd);
	unlink(socket_path(d));
	d->control_fd = -1;
}

/* The vSphere-style counters of README.md's table, added to @obj (a VM's). */
static json_t *with_vm_counters(json_t *obj, const struct esxmem_vm_info *vm)
{
	json_t *counters = json_pack("{s:I, s:I, s:I, s:I, s:I}",
		"granted_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_GRANTED_PAGES),
		"active_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_PAGES),
		"overhead_bytes", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_OVERHEAD_BYTES),
		"pmap_bytes", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_PMAP_BYTES),
		"frame_table_bytes", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_FRAME_TABLE_BYTES));

	if (obj && counters)
		json_object_update(obj, counters);
	json_decref(counters);
	return obj;
}

static json_t *vm_json(const struct daemon *d, size_t i)
{
	const struct esxmem_vm_info *vm = d->vms[i];
	double rho = d->rho ? d->rho[i] : 0;
	json_t *changes = override_settings(d, esxmem_vm_name(vm)), *j;
	const struct vm_cache *c = vm_cache_find(d, esxmem_vm_id(vm));

	j = with_vm_counters(json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:f, s:f, s:f, s:I, s:o}",
		"name", esxmem_vm_name(vm), "id", (json_int_t)esxmem_vm_id(vm),
		"pid", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID), "attached", esxmem_vm_kvm_attached(vm),
		"size_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES),
		"min_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES),
		"max_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES),
		"shares", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_SHARES),
		"target_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES),
		"consumed_pages", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES),
		"shared_pages", (json_int_t)esxmem_vm_state_pages(vm, ESXMEM_PAGE_SHARED),
		"zero_pages", (json_int_t)esxmem_vm_state_pages(vm, ESXMEM_PAGE_ZERO),
		"ballooned_pages", (json_int_t)esxmem_vm_state_pages(vm, ESXMEM_PAGE_BALLOONED),
		"balloon_target_pages", (json_int_t)balloon_target(d, vm),
		"swapped_pages", (json_int_t)esxmem_vm_state_pages(vm, ESXMEM_PAGE_SWAPPED),
		"compressed_pages", (json_int_t)esxmem_vm_state_pages(vm, ESXMEM_PAGE_COMPRESSED),
		"active", esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_PPM) / 1e6,
		/* +inf (no pages) is not JSON: null. */
		"rho", isfinite(rho) ? json_real(rho) : json_null(),
		"active_last", esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_LAST_PPM) / 1e6,
		"active_slow", esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_SLOW_PPM) / 1e6,
		"active_fast", esxmem_vm_value(vm, ESXMEM_VM_ACTIVE_FAST_PPM) / 1e6,
		"domain", (json_int_t)esxmem_vm_value(vm, ESXMEM_VM_DOMAIN),
		"runtime_changes", changes ? json_deep_copy(changes) : json_object()), vm);
	/* A libvirt domain's stock balloon: what it holds, as libvirt last said. */
	if (j && c && c->libvirt.is == LIBVIRT_DOMAIN)
		json_object_set_new(j, "virtio_balloon_pages", json_integer((json_int_t)c->libvirt.held));
	return j;
}

static json_t *status_json(const struct daemon *d)
{
	json_t *vms = json_array(), *reply;
	size_t i;

	for (i = 0; i < d->nr_vms; i++)
		json_array_append_new(vms, vm_json(d, i));
	reply = json_pack("{s:b, s:b, s:{s:I, s:I, s:I, s:I, s:s, s:{s:I, s:I, s:I, s:I}}, s:I, s:f, s:I, s:I, s:I, s:s, s:o}",
		"ok", 1, "module_loaded", d->module_loaded,
		"pool", "page_size", (json_int_t)sysconf(_SC_PAGESIZE),
		"pages", (json_int_t)esxmem_pool_value(d->pool, ESXMEM_POOL_PAGES),
		"used_pages", (json_int_t)esxmem_pool_value(d->pool, ESXMEM_POOL_USED_PAGES),
		"free_pages", (json_int_t)esxmem_pool_free_pages(d->pool),
		"state", state_name(esxmem_pool_value(d->pool, ESXMEM_POOL_STATE)),
		"thresholds_permille",
		"high", (json_int_t)esxmem_pool_permille(d->pool, ESXMEM_STATE_HIGH),
		"soft", (json_int_t)esxmem_pool_permille(d->pool, ESXMEM_STATE_SOFT),
		"hard", (json_int_t)esxmem_pool_permille(d->pool, ESXMEM_STATE_HARD),
		"low", (json_int_t)esxmem_pool_permille(d->pool, ESXMEM_STATE_LOW),
		"avail_pages", (json_int_t)d->avail_pages,
		"tax", d->conf.tax, "balance_secs", (json_int_t)d->conf.balance_secs,
		"sample_secs", (json_int_t)d->conf.sample_secs,
		"balances", (json_int_t)d->balances,
		"config", d->conf_path, "vms", vms);
	/* Scale: guests' balloon connections and the stock balloons driven over QMP. */
	json_object_set_new(reply, "balloon_connections",
			    json_pack("{s:I, s:I}", "open", (json_int_t)d->nr_balloon_conns,
				      "max", (json_int_t)balloon_conns_limit(d)));
	json_object_set_new(reply, "virtio_balloons",
			    json_integer((json_int_t)stock_balloons_tracked(d)));
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
		if (!strcmp(esxmem_vm_name(d->vms[i]), name))
			return (long)i;
	return -1;
}

static const char *const setting_keys[] = { "shares", "min", "max", "domain" };

/* Whether @keys is a non-empty array of setting names, each once. */
static bool keys_ok(json_t *keys)
{
	json_t *key, *seen = json_object();
	bool ok = json_is_array(keys) && json_array_size(keys) && seen;
	size_t i, k;

	json_array_foreach(keys, i, key) {
		for (k = 0; ok && k < 4; k++)
			if (json_is_string(key) && !strcmp(json_string_value(key), setting_keys[k]))
				break;
		ok = ok && k < 4 && !json_object_get(seen, json_string_value(key));
		if (ok)
			json_object_set(seen, json_string_value(key), key);
	}
	json_decref(seen);
	return ok;
}

/* The names of the keys of @settings, as an array. */
static json_t *keys_of(json_t *settings)
{
	json_t *keys = json_array(), *v;
	const char *key;

	json_object_foreach(settings, key, v)
		json_array_append_new(keys, json_string(key));
	return keys;
}

/* The reply to set and unset: where the change lives, what runs now. */
static json_t *change_json(const struct daemon *d, const char *name, bool persistent)
{
	json_t *changes = override_settings(d, name);
	long i = find_vm(d, name);

	return json_pack("{s:b, s:s, s:b, s:s, s:o, s:o}", "ok", 1, "name", name,
			 "persistent", persistent, "config", d->conf_path,
			 "runtime_changes", changes ? json_deep_copy(changes) : json_object(),
			 "vm", i < 0 ? json_null() : vm_json(d, (size_t)i));
}

/*
 * set: {"name", "settings", "config"}; with "config": true the settings go
 * into the configuration file (config_edit.c), else they are a runtime
 * change (overrides.c).
 */
/* "{"shares":8888} by uid 0 (process 42)": what changed, and who asked. */
static void log_change(const struct control_client *c, const char *vm, json_t *what,
		       const char *how)
{
	char *text = what ? json_dumps(what, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	log_info("VM %s: settings %s %s by uid %u (process %d)", vm, text ?: "(all)", how,
		 (unsigned int)c->peer.uid, (int)c->peer.pid);
	free(text);
}

static json_t *do_set(struct daemon *d, const struct control_client *cl, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *settings = json_object_get(req, "settings"), *keys;
	json_t *persist = json_object_get(req, "config");
	struct config fresh;
	struct config_vm c;
	char err[768];

	if (persist && !json_is_boolean(persist))
		return error_json("\"config\" must be true or false");
	if (!name || !*name)
		return error_json("\"name\" must name a VM");
	if (!json_is_object(settings) || !json_object_size(settings))
		return error_json("\"settings\" must be an object with shares, min, max or domain");
	if (!json_is_true(persist) && find_vm(d, name) < 0)
		return error_json("no VM named %s (esxmemctl status lists them; set --config also takes VMs that are not running)",
				  name);
	c = *vm_settings(d, name);
	if (settings_apply(settings, &c, err, sizeof(err)))
		return error_json("%s", err);
	if (!json_is_true(persist)) {
		if (override_set(d, name, settings, err, sizeof(err)))
			return error_json("%s", err);
		log_change(cl, name, settings, "set at run time (until reload)");
		if (balance(d) && d->module_loaded)
			return error_json("the change is kept but the balance failed: see the daemon's log");
		return change_json(d, name, false);
	}
	if (config_edit_vm(d->conf_path, name, settings, NULL, &fresh, err, sizeof(err)))
		return error_json("%s; nothing changed", err);
	log_change(cl, name, settings, "written to the configuration file");
	/* The file has these keys now: runtime changes of them go. */
	keys = keys_of(settings);
	override_unset(d, name, keys);
	json_decref(keys);
	use_config(d, &fresh, true);
	return change_json(d, name, true);
}

/*
 * unset: {"name", "keys", "config"}: takes back runtime changes of the VM
 * (all, or those keys); with "config": true also removes the keys from the
 * VM's entry in the configuration file.
 */
static json_t *do_unset(struct daemon *d, const struct control_client *cl, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *keys = json_object_get(req, "keys");
	json_t *persist = json_object_get(req, "config");
	struct config fresh;
	char err[768];

	if (persist && !json_is_boolean(persist))
		return error_json("\"config\" must be true or false");
	if (!name || !*name)
		return error_json("\"name\" must name a VM");
	if (keys && !keys_ok(keys))
		return error_json("\"keys\" must list shares, min, max or domain, each once");
	if (json_is_true(persist) && !keys)
		return error_json("unset --config needs the keys to remove from the file: shares, min, max or domain");
	if (!json_is_true(persist)) {
		if (!override_settings(d, name))
			return error_json("VM %s has no runtime changes to take back", name);
		override_unset(d, name, keys);
		log_change(cl, name, keys, "taken back at run time");
		balance(d);
		return change_json(d, name, false);
	}
	if (config_edit_vm(d->conf_path, name, NULL, keys, &fresh, err, sizeof(err)))
		return error_json("%s; nothing changed", err);
	log_change(cl, name, keys, "removed from the configuration file");
	override_unset(d, name, keys);
	use_config(d, &fresh, true);
	return change_json(d, name, true);
}

/*
 * The reply to one request line from client @c (whose peer credentials are
 * c->peer).
 */
static json_t *handle(struct daemon *d, const struct control_client *c, const char *line)
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
		reply = do_set(d, c, req);
	} else if (!strcmp(cmd, "unset")) {
		reply = do_unset(d, c, req);
	} else if (!strcmp(cmd, "reload")) {
		log_info("reload asked by uid %u (process %d)", (unsigned int)c->peer.uid,
			 (int)c->peer.pid);
		reply = reload_config(d, text, sizeof(text)) ?
			error_json("%s (the old configuration stays)", text) :
			json_pack("{s:b}", "ok", 1);
	} else {
		reply = error_json("unknown command \"%s\": status, vm, set, unset or reload", cmd);
	}
	json_decref(req);
	return reply;
}

/* CLOCK_MONOTONIC in milliseconds: the clients' deadlines. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Arms the deadline timer for the client whose time runs out first. */
static void arm_deadline(struct daemon *d)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (d->control_clients[i] &&
		    (!first || d->control_clients[i]->deadline_ms < first))
			first = d->control_clients[i]->deadline_ms;
	if (first) {
		its.it_value.tv_sec = (time_t)(first / 1000);
		/* Zero would disarm the timer: one nanosecond more. */
		its.it_value.tv_nsec = (long)(first % 1000) * 1000000 + 1;
	}
	timerfd_settime(d->control_timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void drop(struct daemon *d, size_t slot)
{
	struct control_client *c = d->control_clients[slot];

	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	d->control_clients[slot] = NULL;
}

/* Sends what is left of the reply; the client goes once it has it all. */
static void send_reply(struct daemon *d, size_t slot)
{
	struct control_client *c = d->control_clients[slot];
	ssize_t n;

	while (c->out_done < c->out_len) {
		n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* the rest when the socket has room */
		if (n < 0) {
			log_debug("control client went before its reply: %m");
			break;
		}
		c->out_done += (size_t)n;
	}
	drop(d, slot);
	arm_deadline(d);
}

/* Turns the client from reading to replying with @reply (consumed). */
static void reply_with(struct daemon *d, size_t slot, json_t *reply)
{
	struct control_client *c = d->control_clients[slot];
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u64 = EV_CONTROL_CLIENT + slot };
	char *out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	json_decref(reply);
	if (!out) {
		log_warn("control client: no memory for the reply");
		drop(d, slot);
		arm_deadline(d);
		return;
	}
	c->out_len = strlen(out);
	out[c->out_len++] = '\n';	/* in place of the terminating NUL */
	c->out = out;
	free(c->in);
	c->in = NULL;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	send_reply(d, slot);
}

static void read_request(struct daemon *d, size_t slot)
{
	struct control_client *c = d->control_clients[slot];
	ssize_t n;
	char *nl;

	for (;;) {
		n = recv(c->fd, c->in + c->in_len, CONTROL_MSG_MAX + 1 - c->in_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* the rest of the line later */
		if (n <= 0) {
			/* Gone before its line ended: nobody to answer. */
			drop(d, slot);
			arm_deadline(d);
			return;
		}
		nl = memchr(c->in + c->in_len, '\n', (size_t)n);
		c->in_len += (size_t)n;
		if (nl) {
			*nl = '\0';
			reply_with(d, slot, handle(d, c, c->in));
			return;
		}
		if (c->in_len > CONTROL_MSG_MAX) {
			reply_with(d, slot, error_json("request longer than %d bytes",
						       CONTROL_MSG_MAX));
			return;
		}
	}
}

void control_ready(struct daemon *d, size_t slot)
{
	if (slot >= CONTROL_CLIENTS_MAX || !d->control_clients[slot])
		return;
	if (d->control_clients[slot]->out)
		send_reply(d, slot);
	else
		read_request(d, slot);
}

void control_deadline(struct daemon *d)
{
	uint64_t ticks, now = now_ms();
	size_t i;

	if (read(d->control_timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("control deadline timer: %m");
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct control_client *c = d->control_clients[i];

		if (!c || c->deadline_ms > now)
			continue;
		log_info("control client (pid %d, uid %u) %s within %d s: connection closed",
			 (int)c->peer.pid, (unsigned int)c->peer.uid,
			 c->out ? "did not take its reply" : "sent no request",
			 CONTROL_CLIENT_MS / 1000);
		drop(d, i);
	}
	arm_deadline(d);
}

/* No room for another client: say so to it, as far as its socket takes it. */
static void refuse_busy(int fd)
{
	static uint64_t logged_ms;
	char line[160];
	int len;

	len = snprintf(line, sizeof(line),
		       "{\"ok\":false,\"error\":\"esxmemd serves %d control clients already: try again in a few seconds\"}\n",
		       CONTROL_CLIENTS_MAX);
	if (send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("control client refused before its error: %m");
	close(fd);
	if (!logged_ms || now_ms() - logged_ms > 60000) {
		logged_ms = now_ms();
		log_warn("control socket: %d clients connected and waiting: a new one was refused",
			 CONTROL_CLIENTS_MAX);
	}
}

void control_accept(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	socklen_t len;
	struct control_client *c;
	size_t slot;
	int fd;

	while ((fd = accept4(d->control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (slot = 0; slot < CONTROL_CLIENTS_MAX && d->control_clients[slot]; slot++)
			;
		if (slot == CONTROL_CLIENTS_MAX) {
			refuse_busy(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(CONTROL_MSG_MAX + 1);
		ev.data.u64 = EV_CONTROL_CLIENT + slot;
		if (!c || !c->in || epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			log_warn("control client refused: %s", c && c->in ? strerror(errno) :
				 "out of memory");
			if (c)
				free(c->in);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		len = sizeof(c->peer);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len))
			c->peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		c->deadline_ms = now_ms() + CONTROL_CLIENT_MS;
		d->control_clients[slot] = c;
		arm_deadline(d);
		/* Its request may be there already. */
		read_request(d, slot);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_warn("control socket: accept: %m");
}
