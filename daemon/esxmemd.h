/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * esxmemd: the state its parts share. One thread; every part runs from the
 * event loop in esxmemd.c.
 */
#ifndef ESXMEMD_H
#define ESXMEMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "libesxmem.h"
#include "config.h"

/* epoll tags: fixed sources, then one per balloon connection. */
enum { EV_TIMER, EV_SIGNAL, EV_EVENTS, EV_CONTROL, EV_BALLOON_LISTEN,
       EV_BALLOON_PACE, EV_CONTROL_TIMER, EV_MODULE, EV_QMP_TIMER,
       EV_METRICS, EV_METRICS_TIMER, EV_LIBVIRT, EV_BALLOON_CONN = 1000 };
/* Control clients' tags, then QMP sessions': above any balloon connection's. */
#define EV_CONTROL_CLIENT	(UINT64_C(1) << 32)
#define EV_QMP_SESSION		(UINT64_C(2) << 32)
/* File descriptors kept for everything but balloon connections. */
#define BALLOON_CONNS_FD_RESERVE	256

/* Control clients connected at once; a client's time to ask and take the reply. */
#define CONTROL_CLIENTS_MAX	16
#define CONTROL_CLIENT_MS	10000

struct balloon_conn;
struct control_client;
struct metrics_http;
struct libvirt_link;
struct nl_sock;
struct qmp_session;

/*
 * virtio_balloon.c: a VM's stock virtio-balloon, driven over QMP, for
 * guests without esxballoon.
 */
struct stock_balloon {
	bool tracked;			/* seen with a QMP socket: counted in status */
	uint64_t sent;			/* the last value asked for, bytes */
	int last_err;			/* logged once until it changes */
	struct qmp_session *session;	/* in flight, or NULL */
	/* What the last session that went through saw: no change, no session. */
	bool settled;			/* the balloon was where it was asked to be */
	uint64_t seen_held;		/* what the balloon held, pages */
	/* Not there and not moving: sessions in a row, and the next one's balance. */
	unsigned int still;
	uint64_t recheck_at;
	uint64_t seen_size, seen_target, seen_consumed;
	unsigned int seen_state;
	double seen_give;
	/* After failures, the balance of the next try, further each time. */
	uint64_t retry_at;
	unsigned int failures;
};

/*
 * libvirt.c: the stock virtio-balloon of a libvirt domain, driven through
 * libvirt (which keeps the domain's QMP monitor to itself).
 */
struct libvirt_balloon {
	char uuid[37];			/* "-uuid" of the command line, or "" */
	bool has_balloon;		/* a virtio-balloon on the command line */
	enum { LIBVIRT_UNKNOWN, LIBVIRT_DOMAIN, LIBVIRT_NOT_DOMAIN } is;
	bool pending;			/* libvirt's thread has a request of ours */
	bool period_set;		/* its stats period was asked for */
	uint64_t held;			/* pages the balloon holds, as last seen */
	uint64_t sent_kib;		/* the last size asked for, KiB */
	/* What the last query saw: no change, no query. */
	bool settled;
	uint64_t seen_size, seen_target, seen_consumed;
	unsigned int seen_state;
	double seen_give;
	int last_err;			/* logged once until it changes */
	uint64_t retry_at;		/* after failures, the balance of the next try */
	unsigned int failures;
};

/* vm_cache.c: what the daemon keeps of each VM between balances, by id. */
struct vm_cache {
	uint32_t id;
	uint32_t pid;			/* the owner process the identity is from */
	size_t index;			/* in d->vms, when listed */
	bool listed;			/* in the last balance's list */
	bool in_new;			/* vm_cache_update()'s own mark */
	/* From the owner's command line, read once per owner process. */
	bool identity_read;
	int cid_err;			/* 0: @cid is the guest's CID */
	uint32_t cid;
	char qmp_path[108];		/* "" unless a virtio-balloon and a QMP socket */
	/* KVM attachment: the balance of the next try, and the gap to the one after. */
	uint64_t attach_at;
	unsigned int attach_gap;
	bool balloon_session;		/* esxballoon is connected (balloon.c) */
	uint64_t balloon_empty;		/* its ballooned frames that held no memory */
	struct stock_balloon stock;
	struct libvirt_balloon libvirt;
};

/* Runtime changes from "esxmemctl set", until reload or restart. */
struct vm_override {
	char name[ESXMEM_VM_NAME_MAX];
	json_t *settings;		/* the keys changed: {"min": "1G", ...} */
	struct config_vm vm;		/* the VM's settings with the changes */
};

struct daemon {
	struct config conf;
	char conf_path[4096];
	char socket_path[108];		/* from the command line, or "" */
	struct esxmem *h;
	struct esxmem_events *events;	/* NULL while the module is away */
	bool module_loaded;		/* else h fails with ENOENT: module.c */
	struct nl_sock *module_watch;	/* the family coming and going */
	int epoll_fd;
	int timer_fd;
	int signal_fd;
	int control_fd;
	int control_timer_fd;		/* the first control client's deadline */
	struct control_client *control_clients[CONTROL_CLIENTS_MAX];
	/* What the last balance saw and decided. */
	struct esxmem_pool_info *pool;	/* NULL until the first balance */
	uint64_t pool_pages_set;	/* the pool size the daemon last set; 0: none */
	struct esxmem_vm_info **vms;
	size_t nr_vms;
	double *rho;			/* by vms[] index */
	uint64_t *refaults;		/* by vms[] index: see balance.c */
	uint64_t avail_pages;
	uint64_t balances;
	struct vm_override *overrides;
	size_t nr_overrides;
	struct vm_cache **vm_cache;	/* a hash table by id (vm_cache.c) */
	size_t vm_cache_cap;
	/* QMP sessions in flight, and the VMs waiting for one (virtio_balloon.c). */
	struct qmp_session **qmp_sessions;
	size_t nr_qmp_slots;
	size_t nr_qmp_sessions;
	uint32_t *qmp_queue;
	size_t qmp_queue_len, qmp_queue_head, qmp_queue_cap;
	int qmp_timer_fd;		/* the earliest session's deadline */
	struct libvirt_link *libvirt;	/* libvirt's thread, or NULL (libvirt.c) */
	uint32_t *swap_failed;		/* VMs whose swap file failed */
	size_t nr_swap_failed;
	uint32_t *min_refused;		/* VMs whose min admission refused */
	size_t nr_min_refused;
	int balloon_fd;
	int balloon_pace_fd;		/* a timerfd: paused connections resume */
	struct balloon_conn **balloons;	/* by slot; grows up to balloon_conns_max */
	size_t nr_balloon_slots;
	size_t nr_balloon_conns;
	size_t balloon_conns_max;	/* configured, or from the file limit */
	bool balloon_listen_paused;	/* out of file descriptors: see balloon.c */
	/* In the high state, the part of what balloons should hold that they
	 * give back: the free memory above the high threshold over that sum,
	 * at most 1 (balance.c). */
	double balloon_give;
	struct metrics_http *metrics_http;	/* NULL unless metrics.listen */
	int metrics_textfile_err;	/* the last write's, logged once */
	bool stop;
};

/* discover.c: names VMs, applies their settings, attaches them to KVM. */
const struct config_vm *vm_settings(const struct daemon *d, const char *name);
int discover_vm(struct daemon *d, struct esxmem_vm_info *vm,
		struct esxmem_vm_info *const *all, size_t n, struct vm_cache *c);
int vm_name_from_cmdline(const char *cmdline, size_t len, char *name,
			 size_t size);
int vm_cid_from_cmdline(const char *cmdline, size_t len, uint32_t *cid);
int read_cmdline(pid_t pid, char *buf, size_t size, size_t *len);

/* balance.c: targets by min-funding revocation with the idle tax. */
int balance(struct daemon *d);

/* Whether admission control refused VM @id's min (balance.c): it runs with none. */
static inline bool vm_min_refused(const struct daemon *d, uint32_t id)
{
	size_t i;

	for (i = 0; i < d->nr_min_refused; i++)
		if (d->min_refused[i] == id)
			return true;
	return false;
}
int apply_pool_settings(struct daemon *d);

/* host_reserve.c: the pool that RAM, the host's reserve and the VMMs leave. */
uint64_t vmm_overhead_bytes(struct esxmem_vm_info *const *vms, size_t n);
uint64_t pool_pages_for(const struct config *c, uint64_t ram, uint64_t overhead,
			uint64_t page);
void pool_follow_vmms(struct daemon *d, struct esxmem_vm_info *const *vms, size_t n);

/* balloon.c: the host side of the guests' balloons (esxballoon.h). */
int balloon_open(struct daemon *d);
void balloon_close(struct daemon *d);
void balloon_accept(struct daemon *d);
void balloon_readable(struct daemon *d, size_t slot);
void balloon_pace(struct daemon *d);
uint64_t balloon_taken(const struct daemon *d, const struct esxmem_vm_info *vm);
uint64_t balloon_target(const struct daemon *d, const struct esxmem_vm_info *vm);
uint64_t balloon_want(const struct daemon *d, const struct esxmem_vm_info *vm, uint64_t taken);
uint64_t balloon_empty_pages(const struct daemon *d, const struct esxmem_vm_info *vm);
bool balloon_has_session(const struct daemon *d, uint32_t vm_id);
size_t balloon_conns_limit(const struct daemon *d);
void balloon_listen_resume(struct daemon *d);

/* virtio_balloon.c: QEMU's stock balloon over QMP, for guests without esxballoon. */
int stock_balloons_open(struct daemon *d);
void stock_balloons(struct daemon *d);
void stock_balloon_ready(struct daemon *d, size_t slot, uint32_t events);
void stock_balloon_deadline(struct daemon *d);
void stock_balloon_forget(struct daemon *d, struct vm_cache *c);
size_t stock_balloons_tracked(const struct daemon *d);
void stock_balloons_free(struct daemon *d);

/* vm_cache.c */
int vm_cache_update(struct daemon *d, struct esxmem_vm_info *const *vms, size_t n);
struct vm_cache *vm_cache_find(const struct daemon *d, uint32_t id);
int vm_index(const struct daemon *d, uint32_t id);
void vm_cache_free(struct daemon *d);

/* reclaim.c: the module's compression and swapping, per VM and state. */
void reclaim_apply(struct daemon *d, struct esxmem_vm_info *vm);
uint64_t reclaim_swap_target(const struct daemon *d, const struct esxmem_vm_info *vm);
void reclaim_forget_failures(struct daemon *d);

/* module.c: esxmem.ko unloaded and loaded again under the daemon. */
int module_watch_open(struct daemon *d);
void module_watch_close(struct daemon *d);
int module_watch_fd(const struct daemon *d);
void module_watch_readable(struct daemon *d);
void module_check(struct daemon *d);
/* A counter in /sys/kernel/mm/esxmem/ (@name: "share/pages_shared"); 0 when it cannot be read. */
uint64_t module_sysfs_u64(const char *name);

/* overrides.c: runtime changes, key by key, over the configuration. */
int settings_apply(json_t *settings, struct config_vm *c, char *err, size_t errlen);
int override_set(struct daemon *d, const char *name, json_t *settings, char *err,
		 size_t errlen);
void override_unset(struct daemon *d, const char *name, json_t *keys);
json_t *override_settings(const struct daemon *d, const char *name);
void overrides_rebase(struct daemon *d);
void overrides_clear(struct daemon *d);

/* config_edit.c: a VM's settings written into the configuration file. */
int config_edit_vm(const char *path, const char *name, json_t *set, json_t *unset,
		   struct config *fresh, char *err, size_t errlen);

/* control.c: the control socket (control.h). */
int control_open(struct daemon *d);
void control_close(struct daemon *d);
void control_accept(struct daemon *d);
void control_ready(struct daemon *d, size_t slot);
void control_deadline(struct daemon *d);

/* metrics.c: the figures for Prometheus, rendered and published each balance. */
char *metrics_render(const struct daemon *d, size_t *len);
void metrics_publish(struct daemon *d);

/* metrics_http.c: served over HTTP (libmicrohttpd) from the event loop. */
int metrics_http_open(struct daemon *d);
void metrics_http_close(struct daemon *d);
int metrics_http_reconfigure(struct daemon *d, const struct config *fresh);
void metrics_http_ready(struct daemon *d);
void metrics_http_serve(struct daemon *d, char *text, size_t len);

/* metrics_textfile.c: written for node_exporter's textfile collector. */
void metrics_textfile_write(struct daemon *d, const char *text, size_t len);

/* esxmemd.c */
int reload_config(struct daemon *d, char *err, size_t errlen);
void serve_balloons(struct daemon *d);
void use_config(struct daemon *d, struct config *fresh, bool keep_changes);

#endif
