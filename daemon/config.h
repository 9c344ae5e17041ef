/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * esxmemd's configuration: a JSON file (by default
 * /etc/esxmem/esxmemd.json), parsed with jansson. See
 * daemon/esxmemd.json.example for every key with its default.
 *
 * Sizes are JSON integers in bytes or strings with a binary unit, "512M",
 * "2G", "1.5G", "64K", "1T" (K, M, G, T, optionally followed by "iB" or
 * "B"). Periods are integers in seconds. Unknown keys, duplicate keys, two
 * VMs of the same name, wrong types and values out of range are errors,
 * reported as "FILE:LINE:COLUMN: what is wrong" (the position jansson
 * gives for syntax errors; for the others, the position of the offending
 * value as far as jansson tells it, else the file alone).
 */
#ifndef ESXMEMD_CONFIG_H
#define ESXMEMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "esxmem.h"		/* the uapi header */

#define CONFIG_PATH_DEFAULT	"/etc/esxmem/esxmemd.json"
#define CONFIG_SOCKET_DEFAULT	"/run/esxmemd/control"
#define CONFIG_LIBVIRT_URI_DEFAULT	"qemu:///system"
/* host_reserve: a share of RAM, at least the floor; see config_host_reserve(). */
#define CONFIG_HOST_RESERVE_PERCENT	5
#define CONFIG_HOST_RESERVE_PERCENT_MAX	50
#define CONFIG_HOST_RESERVE_FLOOR	(1ULL << 30)

/*
 * Shares given as a level are that many per MiB of the VM's RAM (ESX's);
 * ESXMEM_SHARES_MAX lets "high" reach 47 TiB, "normal" 95 TiB.
 */
enum config_shares_level {
	CONFIG_SHARES_ABSOLUTE = 0,	/* "shares": 1234 */
	CONFIG_SHARES_LOW,		/* "low":     5 per MiB */
	CONFIG_SHARES_NORMAL,		/* "normal": 10 per MiB (the default) */
	CONFIG_SHARES_HIGH,		/* "high":   20 per MiB */
};

/* How a VM may be reclaimed from (issue of the reclamation work). */
struct config_reclaim {
	bool balloon;			/* default true */
	bool compress;			/* default true */
	bool swap;			/* default true */
	uint64_t compress_max_bytes;	/* 0: 10% of the VM's RAM */
	char swap_dir[256];		/* "" = /var/lib/esxmem/swap */
};

/*
 * Prometheus metrics (daemon/metrics*.c): served over HTTP at "listen", an
 * address and port, "IPV4:PORT" or "[IPV6]:PORT" (numbers: no name is
 * looked up), or a port alone for 127.0.0.1; and written each balance to "textfile", for node_exporter's
 * textfile collector. Each is off while empty (the default).
 */
struct config_metrics {
	char listen[64];		/* as written: "127.0.0.1:9464" */
	struct sockaddr_storage addr;	/* parsed from @listen */
	char textfile[256];		/* an absolute path ending in ".prom" */
};

/* Per VM, matched by name (QEMU's -name guest=NAME). */
struct config_vm {
	char name[ESXMEM_VM_NAME_MAX];
	enum config_shares_level shares_level;
	uint32_t shares;		/* when ABSOLUTE: 1..ESXMEM_SHARES_MAX */
	uint64_t min_bytes;		/* default 0 */
	uint64_t max_bytes;		/* default 0: the VM's RAM size */
	uint32_t domain;		/* 0..ESXMEM_DOMAIN_MAX, default 0 */
	struct config_reclaim reclaim;
};

struct config {
	/* the pool: machine memory for guest RAM */
	uint64_t pool_bytes;		/* 0 (default): RAM - host_reserve */
	/* RAM kept for the host: a size, or a percentage of RAM (1..50,
	 * default 5) with a floor of CONFIG_HOST_RESERVE_FLOOR */
	uint64_t host_reserve_bytes;	/* 0 when a percentage */
	unsigned int host_reserve_percent; /* 0 when a size */
	/* policy */
	double tax;			/* [0, 0.99], default 0.75 */
	/* a VM's target is at most what it uses plus this much of its RAM */
	unsigned int headroom_percent;	/* 1..100, default 5 */
	unsigned int balance_secs;	/* 1..3600, default 15 */
	unsigned int sample_secs;	/* 1..3600, default 30 */
	unsigned int sample_pages;	/* 1..100000, default 100 */
	/* free-memory thresholds, per mille of the pool, by
	 * enum esxmem_mem_state: high, soft, hard, low; default 60 40 20 10;
	 * strictly decreasing, each <= 1000 */
	unsigned int state_permille[ESXMEM_STATE_NR];
	/* defaults for VMs the file does not name */
	struct config_vm vm_default;	/* name "" */
	char control_socket[108];	/* default CONFIG_SOCKET_DEFAULT */
	/* guests' balloon connections at once; 0 (default): as many as the
	 * daemon's file limit allows, less what it keeps for itself */
	unsigned int balloon_conns_max;
	struct config_metrics metrics;
	/* libvirt, for the stock balloons of its domains: its URI, default
	 * CONFIG_LIBVIRT_URI_DEFAULT; "" turns it off (libvirt.c) */
	char libvirt_uri[256];
	size_t nr_vms;
	struct config_vm *vms;
};

/* Sets every field to its default; no VMs. */
void config_defaults(struct config *c);

/*
 * Reads @path into *@out. On error returns -EINVAL (or -errno of opening
 * or reading the file), writes one line without a newline naming file,
 * line and column into @err (at most @errlen bytes, always terminated) and
 * leaves *@out untouched, so a bad reload keeps the old configuration.
 */
int config_load(const char *path, struct config *out, char *err, size_t errlen);

/* Frees what config_load() allocated inside @c. NULL is allowed. */
void config_free(struct config *c);

/* The settings for VM @name: its own entry or vm_default. Never NULL. */
const struct config_vm *config_vm_find(const struct config *c, const char *name);

/* Shares of @vm for a VM of @size_bytes RAM: levels resolved, clamped to
 * 1..ESXMEM_SHARES_MAX. */
uint32_t config_vm_shares(const struct config_vm *vm, uint64_t size_bytes);

/* The pool's size on a host of @ram_bytes: pool.size, or RAM less the reserve. */
uint64_t config_pool_bytes(const struct config *c, uint64_t ram_bytes);

/*
 * What targets may hand out at most on a host of @ram_bytes: the pool less
 * the free memory of the high state. VMs' mins must fit in it.
 */
uint64_t config_avail_bytes(const struct config *c, uint64_t ram_bytes);

/*
 * Admission control at configuration: -EINVAL, with the reason in @err,
 * when the mins of the VMs the file names add up to more than
 * config_avail_bytes(); 0 otherwise. config_load() checks it with the
 * host's RAM.
 */
int config_check_mins(const struct config *c, uint64_t ram_bytes, const char *file,
		      char *err, size_t errlen);

/*
 * Parses a metrics listen address, "IPV4:PORT", "[IPV6]:PORT" or "PORT"
 * (127.0.0.1), with a port 1..65535, into *@out; 0 or -EINVAL.
 */
int config_parse_listen(const char *s, struct sockaddr_storage *out);

/* Parses a size ("2G", 1073741824); 0 or -EINVAL/-ERANGE. */
int config_parse_size(const char *s, uint64_t *out);

/*
 * A free-memory state's name ("high", "soft", "hard", "low"), as the
 * configuration's thresholds and the module's sysfs spell it.
 */
const char *state_name(unsigned int state);

/* The bytes of @ram_bytes of RAM the configuration keeps for the host. */
uint64_t config_host_reserve(const struct config *c, uint64_t ram_bytes);

#endif
