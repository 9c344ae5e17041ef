// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runtime changes ("esxmemctl set" without --config): by VM name, key by
 * key, on top of the configuration. Each override keeps the keys it
 * changed (so that "esxmemctl unset" can take back one of them) and the
 * VM's settings with them applied, which vm_settings() hands out. They
 * last until the configuration is reloaded or the daemon restarts.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esxmemd.h"
#include "log.h"

static int size_of(json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	return json_is_string(v) ? config_parse_size(json_string_value(v), out) : -EINVAL;
}

int settings_apply(json_t *settings, struct config_vm *c, char *err, size_t errlen)
{
	static const char *const levels[] = { "low", "normal", "high" };
	const char *key;
	json_t *v;
	size_t l;

	if (!json_is_object(settings)) {
		snprintf(err, errlen, "\"settings\" must be an object with shares, min, max or domain");
		return -EINVAL;
	}
	json_object_foreach(settings, key, v) {
		if (!strcmp(key, "shares")) {
			if (json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= ESXMEM_SHARES_MAX) {
				c->shares_level = CONFIG_SHARES_ABSOLUTE;
				c->shares = (uint32_t)json_integer_value(v);
				continue;
			}
			for (l = 0; l < 3; l++)
				if (json_is_string(v) && !strcmp(json_string_value(v), levels[l]))
					break;
			if (l == 3) {
				snprintf(err, errlen, "shares must be 1..%d or low, normal or high",
					 ESXMEM_SHARES_MAX);
				return -EINVAL;
			}
			c->shares_level = CONFIG_SHARES_LOW + (int)l;
		} else if (!strcmp(key, "min")) {
			if (size_of(v, &c->min_bytes)) {
				snprintf(err, errlen, "min must be a size such as 512M or 2G");
				return -EINVAL;
			}
		} else if (!strcmp(key, "max")) {
			if (size_of(v, &c->max_bytes)) {
				snprintf(err, errlen,
					 "max must be a size such as 512M or 2G (0: the VM's RAM)");
				return -EINVAL;
			}
		} else if (!strcmp(key, "domain")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > ESXMEM_DOMAIN_MAX) {
				snprintf(err, errlen, "domain must be 0..%d", ESXMEM_DOMAIN_MAX);
				return -EINVAL;
			}
			c->domain = (uint32_t)json_integer_value(v);
		} else {
			snprintf(err, errlen, "unknown setting \"%s\": shares, min, max or domain", key);
			return -EINVAL;
		}
	}
	if (c->max_bytes && c->min_bytes > c->max_bytes) {
		snprintf(err, errlen, "min is above max");
		return -EINVAL;
	}
	return 0;
}

static struct vm_override *find(struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nr_overrides; i++)
		if (!strcmp(d->overrides[i].name, name))
			return &d->overrides[i];
	return NULL;
}

static void remove_at(struct daemon *d, struct vm_override *o)
{
	json_decref(o->settings);
	*o = d->overrides[--d->nr_overrides];
}

int override_set(struct daemon *d, const char *name, json_t *settings, char *err,
		 size_t errlen)
{
	struct vm_override *o = find(d, name), *grown;
	struct config_vm c = *config_vm_find(&d->conf, name);
	json_t *merged = o ? json_deep_copy(o->settings) : json_object();
	int ret;

	if (!merged || json_object_update(merged, settings)) {
		json_decref(merged);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = settings_apply(merged, &c, err, errlen);
	if (ret) {
		json_decref(merged);
		return ret;
	}
	if (!o) {
		grown = realloc(d->overrides, (d->nr_overrides + 1) * sizeof(*grown));
		if (!grown) {
			json_decref(merged);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		d->overrides = grown;
		o = &d->overrides[d->nr_overrides++];
		snprintf(o->name, sizeof(o->name), "%s", name);
		o->settings = NULL;
	}
	json_decref(o->settings);
	o->settings = merged;
	o->vm = c;
	return 0;
}

/* The VM's override again from the configuration; dropped if it is empty
 * or no longer fits it (say, a min above the file's new max). */
static void rebase(struct daemon *d, struct vm_override *o)
{
	struct config_vm c = *config_vm_find(&d->conf, o->name);
	char err[256];

	if (!json_object_size(o->settings)) {
		remove_at(d, o);
		return;
	}
	if (settings_apply(o->settings, &c, err, sizeof(err))) {
		log_warn("VM %s: runtime change dropped: %s with the configuration", o->name, err);
		remove_at(d, o);
		return;
	}
	o->vm = c;
}

void override_unset(struct daemon *d, const char *name, json_t *keys)
{
	struct vm_override *o = find(d, name);
	json_t *key;
	size_t i;

	if (!o)
		return;
	if (!keys)
		json_object_clear(o->settings);
	json_array_foreach(keys, i, key)
		json_object_del(o->settings, json_string_value(key));
	rebase(d, o);
}

json_t *override_settings(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nr_overrides; i++)
		if (!strcmp(d->overrides[i].name, name))
			return d->overrides[i].settings;
	return NULL;
}

void overrides_rebase(struct daemon *d)
{
	size_t i = d->nr_overrides;

	/* Backwards: remove_at() moves the last one into a hole. */
	while (i--)
		rebase(d, &d->overrides[i]);
}

void overrides_clear(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nr_overrides; i++)
		json_decref(d->overrides[i].settings);
	free(d->overrides);
	d->overrides = NULL;
	d->nr_overrides = 0;
}
