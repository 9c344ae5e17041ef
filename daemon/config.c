// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's configuration file: see config.h and daemon/README.md.
 *
 * jansson reports where a syntax error is but not where a value is, so for
 * a value that parses but is wrong the position comes from a second look
 * at the text: the key path of the value, found key by key in file order.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define MAX_DEPTH	4
#define SHARES_PER_MIB_LOW	5
#define SHARES_PER_MIB_NORMAL	10
#define SHARES_PER_MIB_HIGH	20

struct parser {
	const char *file;
	char *text;			/* the whole file */
	size_t len;
	char *err;
	size_t errlen;
	const char *keys[MAX_DEPTH];	/* path of the value being read */
	int depth;
};

void config_defaults(struct config *c)
{
	static const unsigned int permille[ESXMEM_STATE_NR] = { 60, 40, 20, 10 };

	memset(c, 0, sizeof(*c));
	c->host_reserve_percent = CONFIG_HOST_RESERVE_PERCENT;
	c->tax = 0.75;
	c->headroom_percent = 5;
	c->balance_secs = 15;
	c->sample_secs = 30;
	c->sample_pages = 100;
	memcpy(c->state_permille, permille, sizeof(permille));
	c->vm_default.shares_level = CONFIG_SHARES_NORMAL;
	c->vm_default.reclaim.balloon = true;
	c->vm_default.reclaim.compress = true;
	c->vm_default.reclaim.swap = true;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s",
		 CONFIG_SOCKET_DEFAULT);
	snprintf(c->libvirt_uri, sizeof(c->libvirt_uri), "%s", CONFIG_LIBVIRT_URI_DEFAULT);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->vms);
	c->vms = NULL;
	c->nr_vms = 0;
}

const struct config_vm *config_vm_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nr_vms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return &c->vm_default;
}

uint32_t config_vm_shares(const struct config_vm *vm, uint64_t size_bytes)
{
	static const unsigned int per_mib[] = {
		[CONFIG_SHARES_LOW] = SHARES_PER_MIB_LOW,
		[CONFIG_SHARES_NORMAL] = SHARES_PER_MIB_NORMAL,
		[CONFIG_SHARES_HIGH] = SHARES_PER_MIB_HIGH,
	};
	uint64_t shares;

	if (vm->shares_level == CONFIG_SHARES_ABSOLUTE)
		shares = vm->shares;
	else
		shares = (size_bytes >> 20) * per_mib[vm->shares_level];
	if (shares < 1)
		return 1;
	return shares > ESXMEM_SHARES_MAX ? ESXMEM_SHARES_MAX : (uint32_t)shares;
}

uint64_t config_pool_bytes(const struct config *c, uint64_t ram_bytes)
{
	uint64_t reserve = config_host_reserve(c, ram_bytes);

	if (c->pool_bytes)
		return c->pool_bytes;
	/* A reserve as large as RAM is a mistake: half of it, as ever. */
	return ram_bytes > reserve ? ram_bytes - reserve : ram_bytes / 2;
}

uint64_t config_avail_bytes(const struct config *c, uint64_t ram_bytes)
{
	uint64_t pool = config_pool_bytes(c, ram_bytes);

	return pool - pool / 1000 * c->state_permille[ESXMEM_STATE_HIGH] -
	       pool % 1000 * c->state_permille[ESXMEM_STATE_HIGH] / 1000;
}

int config_check_mins(const struct config *c, uint64_t ram_bytes, const char *file,
		      char *err, size_t errlen)
{
	uint64_t avail = config_avail_bytes(c, ram_bytes), sum = 0;
	size_t i;

	for (i = 0; i < c->nr_vms; i++) {
		uint64_t min = c->vms[i].min_bytes;

		if (c->vms[i].max_bytes && min > c->vms[i].max_bytes)
			min = c->vms[i].max_bytes;
		sum = sum + min < sum ? UINT64_MAX : sum + min;
	}
	if (sum <= avail)
		return 0;
	snprintf(err, errlen,
		 "%s: vms: the mins add up to %llu MiB, more than the %llu MiB the pool can guarantee (pool %llu MiB less the high state's %u per mille free): lower some min, or grow pool.size",
		 file, (unsigned long long)(sum >> 20), (unsigned long long)(avail >> 20),
		 (unsigned long long)(config_pool_bytes(c, ram_bytes) >> 20),
		 c->state_permille[ESXMEM_STATE_HIGH]);
	return -EINVAL;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	long double v, mult = 1;
	const char *u;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtold(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -EINVAL;
		mult = powl(1024, (long double)(u - units + 1));
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	v *= mult;
	if (v >= 18446744073709551616.0L)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

/* ---- positions and errors ------------------------------------------------ */

/* Line and column (from 1) of the key path @p->keys[0 .. @p->depth). */
static void key_position(const struct parser *p, int *line, int *col)
{
	size_t i = 0, start;
	int k = 0, l = 1, c = 1, kl = 0, kc = 0;

	*line = *col = 0;
	while (i < p->len && k < p->depth) {
		char ch = p->text[i];

		if (ch != '"') {
			if (ch == '\n') {
				l++;
				c = 1;
			} else {
				c++;
			}
			i++;
			continue;
		}
		start = ++i;
		kl = l;
		kc = c;
		c++;
		while (i < p->len && p->text[i] != '"') {
			if (p->text[i] == '\\' && i + 1 < p->len) {
				i++;
				c++;
			}
			i++;
			c++;
		}
		if (i >= p->len)
			break;
		/* A key is a string followed by a colon. */
		{
			size_t j = i + 1;

			while (j < p->len && isspace((unsigned char)p->text[j]))
				j++;
			if (j < p->len && p->text[j] == ':' &&
			    strlen(p->keys[k]) == i - start &&
			    !memcmp(p->text + start, p->keys[k], i - start))
				k++;
		}
		i++;
		c++;
	}
	if (k == p->depth) {
		*line = kl;
		*col = kc;
	}
}

static int fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	char what[384], path[192] = "";
	int line, col, i;
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	for (i = 0; i < p->depth && n < sizeof(path); i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s",
				      i ? "." : "", p->keys[i]);
	key_position(p, &line, &col);
	if (line)
		snprintf(p->err, p->errlen, "%s:%d:%d: %s: %s", p->file, line, col,
			 path, what);
	else
		snprintf(p->err, p->errlen, "%s: %s%s%s", p->file, path,
			 p->depth ? ": " : "", what);
	return -EINVAL;
}

static void enter(struct parser *p, const char *key)
{
	p->keys[p->depth++] = key;
}

static void leave(struct parser *p)
{
	p->depth--;
}

/* ---- values ---------------------------------------------------------------- */

static int get_uint(struct parser *p, json_t *v, uint64_t min, uint64_t max,
		    const char *unit, unsigned int *out)
{
	if (!json_is_integer(v))
		return fail(p, "must be a whole number of %s", unit);
	if (json_integer_value(v) < (json_int_t)min ||
	    (uint64_t)json_integer_value(v) > max)
		return fail(p, "%lld is out of range %llu..%llu %s",
			    (long long)json_integer_value(v), (unsigned long long)min,
			    (unsigned long long)max, unit);
	*out = (unsigned int)json_integer_value(v);
	return 0;
}

static int get_size(struct parser *p, json_t *v, uint64_t *out)
{
	int err;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return fail(p, "a size cannot be negative");
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return fail(p, "must be a size: bytes, or a string such as \"512M\" or \"2G\"");
	err = config_parse_size(json_string_value(v), out);
	if (err == -ERANGE)
		return fail(p, "\"%s\" is too large", json_string_value(v));
	if (err)
		return fail(p, "\"%s\" is not a size: use bytes or K, M, G, T (e.g. \"1.5G\")",
			    json_string_value(v));
	return 0;
}

/* pool.host_reserve: a size, or "N%" of RAM. */
static int get_reserve(struct parser *p, json_t *v, struct config *c)
{
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;
	unsigned long pct;
	char *end;
	int err;

	if (len && s[len - 1] == '%') {
		errno = 0;
		pct = strtoul(s, &end, 10);
		if (end != s + len - 1 || errno || !isdigit((unsigned char)s[0]) || pct < 1 ||
		    pct > CONFIG_HOST_RESERVE_PERCENT_MAX)
			return fail(p, "\"%s\": a percentage of RAM must be 1%%..%d%%", s,
				    CONFIG_HOST_RESERVE_PERCENT_MAX);
		c->host_reserve_percent = (unsigned int)pct;
		c->host_reserve_bytes = 0;
		return 0;
	}
	err = get_size(p, v, &c->host_reserve_bytes);
	if (!err)
		c->host_reserve_percent = 0;
	return err;
}

static int get_bool(struct parser *p, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return fail(p, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

typedef int (*member_fn)(struct parser *p, const char *key, json_t *v,
			 void *out);

/* Reads every member of object @obj with @fn; @allowed lists the keys. */
static int members(struct parser *p, json_t *obj, const char *allowed,
		   member_fn fn, void *out)
{
	const char *key;
	json_t *v;
	int err;

	if (!json_is_object(obj))
		return fail(p, "must be an object { ... }");
	json_object_foreach(obj, key, v) {
		enter(p, key);
		err = fn(p, key, v, out);
		if (err == -ENOENT)
			err = fail(p, "unknown key; allowed here: %s", allowed);
		leave(p);
		if (err)
			return err;
	}
	return 0;
}

static int reclaim_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config_reclaim *r = out;

	if (!strcmp(key, "balloon"))
		return get_bool(p, v, &r->balloon);
	if (!strcmp(key, "compress"))
		return get_bool(p, v, &r->compress);
	if (!strcmp(key, "swap"))
		return get_bool(p, v, &r->swap);
	if (!strcmp(key, "compress_max"))
		return get_size(p, v, &r->compress_max_bytes);
	if (!strcmp(key, "swap_dir")) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(r->swap_dir) ||
		    (json_string_length(v) && json_string_value(v)[0] != '/'))
			return fail(p, "must be an absolute directory path (at most %zu bytes)",
				    sizeof(r->swap_dir) - 1);
		strcpy(r->swap_dir, json_string_value(v));
		return 0;
	}
	return -ENOENT;
}

static int vm_member(struct parser *p, const char *key, json_t *v, void *out)
{
	static const char *const levels[] = { "low", "normal", "high" };
	struct config_vm *vm = out;
	unsigned int u;
	size_t i;
	int err;

	if (!strcmp(key, "shares")) {
		if (json_is_string(v)) {
			for (i = 0; i < 3; i++)
				if (!strcmp(json_string_value(v), levels[i])) {
					vm->shares_level = CONFIG_SHARES_LOW + (int)i;
					return 0;
				}
			return fail(p, "\"%s\" is not a level: low, normal or high",
				    json_string_value(v));
		}
		err = get_uint(p, v, 1, ESXMEM_SHARES_MAX, "shares", &u);
		if (!err) {
			vm->shares_level = CONFIG_SHARES_ABSOLUTE;
			vm->shares = u;
		}
		return err;
	}
	if (!strcmp(key, "min"))
		return get_size(p, v, &vm->min_bytes);
	if (!strcmp(key, "max"))
		return get_size(p, v, &vm->max_bytes);
	if (!strcmp(key, "domain")) {
		err = get_uint(p, v, 0, ESXMEM_DOMAIN_MAX, "(a domain)", &u);
		vm->domain = u;
		return err;
	}
	if (!strcmp(key, "reclaim"))
		return members(p, v, "balloon, compress, swap, compress_max, swap_dir",
			       reclaim_member, &vm->reclaim);
	return -ENOENT;
}

#define VM_KEYS "shares, min, max, domain, reclaim"

static int check_vm(struct parser *p, const struct config_vm *vm)
{
	if (vm->max_bytes && vm->min_bytes > vm->max_bytes)
		return fail(p, "min (%llu bytes) is above max (%llu bytes)",
			    (unsigned long long)vm->min_bytes,
			    (unsigned long long)vm->max_bytes);
	return 0;
}

static int vms_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config *c = out;
	struct config_vm *vm;
	size_t i, len = strlen(key);
	int err;

	if (!len || len >= ESXMEM_VM_NAME_MAX)
		return fail(p, "a VM name must be 1..%d bytes", ESXMEM_VM_NAME_MAX - 1);
	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return fail(p, "a VM name cannot hold control characters");
	vm = &c->vms[c->nr_vms];
	*vm = c->vm_default;
	strcpy(vm->name, key);
	err = members(p, v, VM_KEYS, vm_member, vm);
	if (!err)
		err = check_vm(p, vm);
	if (!err)
		c->nr_vms++;
	return err;
}

static int pool_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config *c = out;

	if (!strcmp(key, "size"))
		return get_size(p, v, &c->pool_bytes);
	if (!strcmp(key, "host_reserve"))
		return get_reserve(p, v, c);
	return -ENOENT;
}

uint64_t config_host_reserve(const struct config *c, uint64_t ram_bytes)
{
	uint64_t share;

	if (!c->host_reserve_percent)
		return c->host_reserve_bytes;
	share = ram_bytes / 100 * c->host_reserve_percent;
	return share > CONFIG_HOST_RESERVE_FLOOR ? share : CONFIG_HOST_RESERVE_FLOOR;
}

static int sampling_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config *c = out;

	if (!strcmp(key, "period"))
		return get_uint(p, v, 1, ESXMEM_SAMPLE_PERIOD_MAX, "seconds", &c->sample_secs);
	if (!strcmp(key, "pages"))
		return get_uint(p, v, 1, ESXMEM_SAMPLE_PAGES_MAX, "pages", &c->sample_pages);
	return -ENOENT;
}

const char *state_name(unsigned int state)
{
	static const char *const names[ESXMEM_STATE_NR] = { "high", "soft", "hard", "low" };

	return state < ESXMEM_STATE_NR ? names[state] : "unknown";
}

static int thresholds_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config *c = out;
	int s;

	for (s = 0; s < ESXMEM_STATE_NR; s++)
		if (!strcmp(key, state_name(s)))
			return get_uint(p, v, 1, 1000, "per mille", &c->state_permille[s]);
	return -ENOENT;
}

int config_parse_listen(const char *s, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss = { 0 };
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	unsigned long n;
	size_t hlen;
	char *end;

	if (isdigit((unsigned char)s[0]) && strspn(s, "0123456789") == strlen(s)) {
		/* A port alone: this host only. */
		strcpy(host, "127.0.0.1");
		hlen = strlen(host);
		port = s;
	} else if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (!isdigit((unsigned char)*port))
		return -EINVAL;
	errno = 0;
	n = strtoul(port, &end, 10);
	if (errno || *end || n < 1 || n > 65535)
		return -EINVAL;
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)n);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)n);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
	}
	*out = ss;
	return 0;
}

static int metrics_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config_metrics *m = out;
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;

	if (!strcmp(key, "listen")) {
		if (!s || len >= sizeof(m->listen) ||
		    (len && config_parse_listen(s, &m->addr)))
			return fail(p, "must be \"ADDRESS:PORT\" with a numeric address, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\", or a port alone for 127.0.0.1; the port 1..65535; or \"\" for none");
		strcpy(m->listen, s);
		return 0;
	}
	if (!strcmp(key, "textfile")) {
		if (!s || len >= sizeof(m->textfile) ||
		    (len && (s[0] != '/' || len < 6 || strcmp(s + len - 5, ".prom") ||
			     s[len - 6] == '/')))
			return fail(p, "must be an absolute path ending in \".prom\" (node_exporter reads only those), at most %zu bytes, or \"\" for none",
				    sizeof(m->textfile) - 1);
		strcpy(m->textfile, s);
		return 0;
	}
	return -ENOENT;
}

static int top_member(struct parser *p, const char *key, json_t *v, void *out)
{
	struct config *c = out;
	int err, s;

	if (!strcmp(key, "pool"))
		return members(p, v, "size, host_reserve", pool_member, c);
	if (!strcmp(key, "tax")) {
		if (!json_is_number(v))
			return fail(p, "must be a number in [0, 0.99]");
		c->tax = json_number_value(v);
		if (!(c->tax >= 0 && c->tax <= 0.99))
			return fail(p, "%g is out of range 0..0.99", c->tax);
		return 0;
	}
	if (!strcmp(key, "headroom"))
		return get_uint(p, v, 1, 100, "percent", &c->headroom_percent);
	if (!strcmp(key, "balance_period"))
		return get_uint(p, v, 1, 3600, "seconds", &c->balance_secs);
	if (!strcmp(key, "sampling"))
		return members(p, v, "period, pages", sampling_member, c);
	if (!strcmp(key, "balloon_connections_max"))
		return get_uint(p, v, 0, 1000000, "connections", &c->balloon_conns_max);
	if (!strcmp(key, "thresholds")) {
		err = members(p, v, "high, soft, hard, low", thresholds_member, c);
		for (s = 1; !err && s < ESXMEM_STATE_NR; s++)
			if (c->state_permille[s] >= c->state_permille[s - 1])
				err = fail(p, "must fall strictly: high > soft > hard > low (got %u, %u, %u, %u)",
					   c->state_permille[0], c->state_permille[1],
					   c->state_permille[2], c->state_permille[3]);
		return err;
	}
	if (!strcmp(key, "control_socket")) {
		if (!json_is_string(v) || !json_string_length(v) ||
		    json_string_length(v) >= sizeof(c->control_socket) ||
		    json_string_value(v)[0] != '/')
			return fail(p, "must be an absolute path of at most %zu bytes",
				    sizeof(c->control_socket) - 1);
		strcpy(c->control_socket, json_string_value(v));
		return 0;
	}
	if (!strcmp(key, "metrics"))
		return members(p, v, "listen, textfile", metrics_member, &c->metrics);
	if (!strcmp(key, "libvirt_uri")) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(c->libvirt_uri))
			return fail(p, "must be a libvirt URI such as \"qemu:///system\" of at most %zu bytes, or \"\" for none",
				    sizeof(c->libvirt_uri) - 1);
		strcpy(c->libvirt_uri, json_string_value(v));
		return 0;
	}
	if (!strcmp(key, "vm_defaults")) {
		err = members(p, v, VM_KEYS, vm_member, &c->vm_default);
		return err ?: check_vm(p, &c->vm_default);
	}
	if (!strcmp(key, "vms"))
		return 0;	/* after everything else: they start from the defaults */
	return -ENOENT;
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n;
	char *buf = NULL, *grown;

	if (!f)
		return -errno;
	*len = 0;
	do {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = grown;
		}
		n = fread(buf + *len, 1, 4096, f);
		*len += n;
	} while (n == 4096);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[*len] = '\0';
	*text = buf;
	return 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	struct parser p = { .file = path, .err = err, .errlen = errlen };
	struct config c;
	json_error_t jerr;
	json_t *root, *vms;
	int ret;

	ret = read_file(path, &p.text, &p.len);
	if (ret) {
		snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(-ret));
		return ret;
	}
	root = json_loadb(p.text, p.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
			 jerr.text);
		free(p.text);
		return -EINVAL;
	}
	config_defaults(&c);
	ret = members(&p, root, "pool, tax, headroom, balance_period, sampling, thresholds, control_socket, balloon_connections_max, metrics, libvirt_uri, vm_defaults, vms",
		      top_member, &c);
	vms = json_object_get(root, "vms");
	if (!ret && vms) {
		enter(&p, "vms");
		if (!json_is_object(vms)) {
			ret = fail(&p, "must be an object of VMs by name");
		} else if (json_object_size(vms)) {
			c.vms = calloc(json_object_size(vms), sizeof(*c.vms));
			ret = c.vms ? members(&p, vms, VM_KEYS, vms_member, &c) : -ENOMEM;
			if (ret == -ENOMEM)
				snprintf(err, errlen, "%s: out of memory", path);
		}
		leave(&p);
	}
	json_decref(root);
	free(p.text);
	if (!ret)
		ret = config_check_mins(&c, (uint64_t)sysconf(_SC_PHYS_PAGES) *
					    (uint64_t)sysconf(_SC_PAGESIZE), path, err, errlen);
	if (ret) {
		config_free(&c);
		return ret;
	}
	*out = c;
	return 0;
}
