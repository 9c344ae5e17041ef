// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemctl: requests from the command line, replies to text. See format.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "format.h"

void ctl_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else if (v < 10 && v != (double)(uint64_t)v)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}

static json_t *refuse(char *err, size_t errlen, json_t *req, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static json_t *refuse(char *err, size_t errlen, json_t *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	json_decref(req);
	return NULL;
}

static bool whole(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end && *out <= max;
}

json_t *ctl_set_request(const char *name, int argc, char **argv, char *err,
			size_t errlen)
{
	json_t *settings = json_object(), *req;
	uint64_t v;
	int i;

	req = json_pack("{s:s, s:s, s:o}", "cmd", "set", "name", name, "settings", settings);
	if (!req)
		return refuse(err, errlen, NULL, "out of memory");
	if (!argc)
		return refuse(err, errlen, req, "nothing to set: give key=value (shares, min, max, domain)");
	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *key = argv[i], *val;
		size_t klen;

		if (!eq || eq == argv[i])
			return refuse(err, errlen, req, "\"%s\": want key=value", argv[i]);
		klen = (size_t)(eq - argv[i]);
		val = eq + 1;
		if (json_object_getn(settings, key, klen))
			return refuse(err, errlen, req, "%.*s given twice", (int)klen, key);
		if (klen == 6 && !strncmp(key, "shares", 6)) {
			if (!strcmp(val, "low") || !strcmp(val, "normal") || !strcmp(val, "high"))
				json_object_setn_new(settings, key, klen, json_string(val));
			else if (whole(val, ESXMEM_SHARES_MAX, &v) && v >= 1)
				json_object_setn_new(settings, key, klen, json_integer((json_int_t)v));
			else
				return refuse(err, errlen, req,
					      "shares=%s: want 1..%d, low, normal or high", val,
					      ESXMEM_SHARES_MAX);
		} else if ((klen == 3 && !strncmp(key, "min", 3)) ||
			   (klen == 3 && !strncmp(key, "max", 3))) {
			if (config_parse_size(val, &v))
				return refuse(err, errlen, req,
					      "%.3s=%s: want a size such as 512M, 2G or bytes",
					      key, val);
			json_object_setn_new(settings, key, klen, json_string(val));
		} else if (klen == 6 && !strncmp(key, "domain", 6)) {
			if (!whole(val, ESXMEM_DOMAIN_MAX, &v))
				return refuse(err, errlen, req, "domain=%s: want 0..%d", val,
					      ESXMEM_DOMAIN_MAX);
			json_object_setn_new(settings, key, klen, json_integer((json_int_t)v));
		} else {
			return refuse(err, errlen, req,
				      "unknown key \"%.*s\": shares, min, max or domain",
				      (int)klen, key);
		}
	}
	return req;
}

static int protocol_error(char *err, size_t errlen, const char *what);

json_t *ctl_unset_request(const char *name, int argc, char **argv, char *err,
			  size_t errlen)
{
	static const char *const known[] = { "shares", "min", "max", "domain" };
	json_t *keys = json_array(), *req, *key;
	size_t i, k;
	int a;

	req = json_pack("{s:s, s:s}", "cmd", "unset", "name", name);
	if (!req || !keys) {
		json_decref(keys);
		return refuse(err, errlen, req, "out of memory");
	}
	for (a = 0; a < argc; a++) {
		for (k = 0; k < 4 && strcmp(argv[a], known[k]); k++)
			;
		if (k == 4) {
			json_decref(keys);
			return refuse(err, errlen, req, "unknown key \"%s\": shares, min, max or domain",
				      argv[a]);
		}
		json_array_foreach(keys, i, key)
			if (!strcmp(json_string_value(key), argv[a])) {
				json_decref(keys);
				return refuse(err, errlen, req, "%s given twice", argv[a]);
			}
		json_array_append_new(keys, json_string(argv[a]));
	}
	if (argc)
		json_object_set_new(req, "keys", keys);
	else
		json_decref(keys);
	return req;
}

/* "shares=high min=1G" from a set request's settings, "min max" from keys. */
static void words(json_t *req, char *buf, size_t len)
{
	json_t *settings = json_object_get(req, "settings"), *v;
	const char *key;
	size_t at = 0, i;

	buf[0] = '\0';
	json_object_foreach(settings, key, v) {
		if (json_is_string(v))
			at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s=%s",
					       at ? " " : "", key, json_string_value(v));
		else
			at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s=%lld",
					       at ? " " : "", key,
					       (long long)json_integer_value(v));
	}
	json_array_foreach(json_object_get(req, "keys"), i, v)
		at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s", at ? " " : "",
				       json_string_value(v));
}

int ctl_print_change(FILE *f, json_t *req, json_t *reply, char *err, size_t errlen)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *name = json_string_value(json_object_get(req, "name"));
	const char *config = json_string_value(json_object_get(reply, "config"));
	bool persistent = json_is_true(json_object_get(reply, "persistent"));
	char what[512];

	if (!cmd || !name || !config || !json_is_boolean(json_object_get(reply, "persistent")))
		return protocol_error(err, errlen, "where the change was made");
	words(req, what, sizeof(what));
	if (!strcmp(cmd, "set") && persistent)
		fprintf(f, "VM %s: %s written to %s, and in effect\n", name, what, config);
	else if (!strcmp(cmd, "set"))
		fprintf(f, "VM %s: %s in effect until esxmemd reloads or restarts\n"
			"(esxmemctl unset %s takes it back; set --config writes it to %s)\n",
			name, what, name, config);
	else if (persistent)
		fprintf(f, "VM %s: %s removed from %s: the VM has vm_defaults' values for them\n",
			name, what, config);
	else
		fprintf(f, "VM %s: runtime changes%s%s taken back: the VM has %s's settings\n",
			name, *what ? " of " : "", what, config);
	return 0;
}

/* An integer field of @obj, or -1 (and *@bad set) when it is missing. */
static long long field(json_t *obj, const char *key, bool *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v)) {
		*bad = true;
		return -1;
	}
	return json_integer_value(v);
}

static void amount(char *buf, size_t len, long long n, long long page, bool pages)
{
	if (pages || n < 0)
		snprintf(buf, len, "%lld", n);
	else
		ctl_format_size((uint64_t)n * (uint64_t)page, buf, len);
}

static int protocol_error(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "the daemon's reply lacks %s: esxmemd and esxmemctl do not match?",
		 what);
	return -EPROTO;
}

/* "high 6% (61M), soft 4% (41M), ...": the free memory each state begins below. */
static int print_thresholds(FILE *f, json_t *pool, long long pages, long long page,
			    bool in_pages)
{
	static const char *const states[] = { "high", "soft", "hard", "low" };
	json_t *t = json_object_get(pool, "thresholds_permille");
	char amount_text[24];
	bool bad = false;
	size_t s;

	if (!json_is_object(t))
		return -EPROTO;
	fputs("thresholds (free memory):", f);
	for (s = 0; s < 4; s++) {
		long long permille = field(t, states[s], &bad);

		amount(amount_text, sizeof(amount_text), pages * permille / 1000, page, in_pages);
		fprintf(f, "%s %s %.1f%% (%s)", s ? "," : "", states[s], permille / 10.0,
			amount_text);
	}
	fputc('\n', f);
	return bad ? -EPROTO : 0;
}

int ctl_print_status(FILE *f, json_t *reply, bool pages, char *err, size_t errlen)
{
	json_t *pool = json_object_get(reply, "pool"), *vms = json_object_get(reply, "vms");
	long long page, ballooned = 0, balloon_target = 0, compressed = 0, swapped = 0;
	json_t *vm, *rho;
	char c[14][24];
	bool bad = false;
	size_t i;

	if (!json_is_object(pool) || !json_is_array(vms))
		return protocol_error(err, errlen, "pool or vms");
	if (json_is_false(json_object_get(reply, "module_loaded")))
		fputs("esxmem.ko is not loaded: nothing is managed until it is (modprobe esxmem)\n", f);
	page = field(pool, "page_size", &bad);
	amount(c[0], sizeof(c[0]), field(pool, "pages", &bad), page, pages);
	amount(c[1], sizeof(c[1]), field(pool, "used_pages", &bad), page, pages);
	amount(c[2], sizeof(c[2]), field(pool, "free_pages", &bad), page, pages);
	if (bad || page <= 0 || !json_is_string(json_object_get(pool, "state")))
		return protocol_error(err, errlen, "the pool's fields");
	fprintf(f, "pool: %s, %s used, %s free, state %s; tax %.2f, balance every %llds\n",
		c[0], c[1], c[2], json_string_value(json_object_get(pool, "state")),
		json_real_value(json_object_get(reply, "tax")),
		(long long)json_integer_value(json_object_get(reply, "balance_secs")));
	if (print_thresholds(f, pool, field(pool, "pages", &bad), page, pages))
		return protocol_error(err, errlen, "the pool's thresholds");
	json_array_foreach(vms, i, vm) {
		ballooned += field(vm, "ballooned_pages", &bad);
		balloon_target += field(vm, "balloon_target_pages", &bad);
		compressed += field(vm, "compressed_pages", &bad);
		swapped += field(vm, "swapped_pages", &bad);
	}
	if (bad)
		return protocol_error(err, errlen, "a VM's fields");
	amount(c[0], sizeof(c[0]), ballooned, page, pages);
	amount(c[1], sizeof(c[1]), balloon_target, page, pages);
	amount(c[2], sizeof(c[2]), compressed, page, pages);
	amount(c[3], sizeof(c[3]), swapped, page, pages);
	fprintf(f, "reclaimed: %s in balloons (%s asked), %s compressed, %s swapped\n",
		c[0], c[1], c[2], c[3]);
	fprintf(f, "%-16s %7s %7s %7s %7s %7s %8s %7s %5s %9s %7s %7s %7s %7s\n", "NAME", "SIZE",
		"MIN", "MAX", "SHARES", "TARGET", "CONSUMED", "SHARED", "f", "RHO",
		"BALLOON", "BTARGET", "COMPR", "SWAP");
	json_array_foreach(vms, i, vm) {
		static const char *const keys[] = {
			"size_pages", "min_pages", "max_pages", NULL, "target_pages",
			"consumed_pages", "shared_pages", NULL, NULL, "ballooned_pages",
			"balloon_target_pages", "compressed_pages", "swapped_pages",
		};
		const char *name = json_string_value(json_object_get(vm, "name"));
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (keys[k])
				amount(c[k], sizeof(c[k]), field(vm, keys[k], &bad), page, pages);
		snprintf(c[3], sizeof(c[3]), "%lld", field(vm, "shares", &bad));
		rho = json_object_get(vm, "rho");
		if (json_is_number(rho))
			snprintf(c[8], sizeof(c[8]), "%.3g", json_number_value(rho));
		else
			snprintf(c[8], sizeof(c[8]), "-");
		if (bad || !name || !json_is_number(json_object_get(vm, "active")))
			return protocol_error(err, errlen, "a VM's fields");
		fprintf(f, "%-16s %7s %7s %7s %7s %7s %8s %7s %5.2f %9s %7s %7s %7s %7s\n", name,
			c[0], c[1], c[2], c[3], c[4], c[5], c[6],
			json_number_value(json_object_get(vm, "active")), c[8], c[9], c[10],
			c[11], c[12]);
	}
	return 0;
}

int ctl_print_vm(FILE *f, json_t *reply, bool pages, char *err, size_t errlen)
{
	json_t *vm = json_object_get(reply, "vm"), *v;
	const char *key;

	if (!json_is_object(vm) || !json_is_string(json_object_get(vm, "name")))
		return protocol_error(err, errlen, "the VM");
	json_object_foreach(vm, key, v) {
		size_t klen = strlen(key);
		char buf[32];

		if (json_is_integer(v) && klen > 6 && !strcmp(key + klen - 6, "_pages") && !pages) {
			ctl_format_size((uint64_t)json_integer_value(v) *
					(uint64_t)sysconf(_SC_PAGESIZE), buf, sizeof(buf));
			fprintf(f, "%-18s %s\n", key, buf);
		} else if (json_is_integer(v) && klen > 6 && !strcmp(key + klen - 6, "_bytes") &&
			   !pages) {
			ctl_format_size((uint64_t)json_integer_value(v), buf, sizeof(buf));
			fprintf(f, "%-18s %s\n", key, buf);
		} else if (json_is_integer(v)) {
			fprintf(f, "%-18s %lld\n", key, (long long)json_integer_value(v));
		} else if (json_is_real(v)) {
			fprintf(f, "%-18s %.3g\n", key, json_real_value(v));
		} else if (json_is_string(v)) {
			fprintf(f, "%-18s %s\n", key, json_string_value(v));
		} else if (json_is_boolean(v)) {
			fprintf(f, "%-18s %s\n", key, json_is_true(v) ? "yes" : "no");
		} else if (json_is_object(v)) {
			char *text = json_dumps(v, JSON_COMPACT);

			fprintf(f, "%-18s %s\n", key, text ?: "-");
			free(text);
		} else {
			fprintf(f, "%-18s -\n", key);
		}
	}
	return 0;
}
