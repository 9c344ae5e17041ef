/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol between esxmemd and esxmemctl: a unix stream socket
 * (CONFIG_SOCKET_DEFAULT, mode 0660, owned by root), one request per
 * connection, each a JSON object on one line, answered by one JSON object
 * on one line; then the daemon closes the connection.
 *
 * Requests:
 *   {"cmd": "status"}
 *   {"cmd": "vm", "name": "NAME"}
 *   {"cmd": "set", "name": "NAME", "settings": {"shares": 2000,
 *        "min": "512M", "max": "2G", "domain": 3}}   any subset; sizes as
 *        in the configuration file; shares also "low"/"normal"/"high".
 *        Takes effect at once (a balance runs), lasts until the daemon
 *        restarts or the configuration is reloaded. With "config": true
 *        the settings are written into the configuration file instead
 *        (vms.NAME; NAME need not run) and the daemon runs on the file:
 *        they last. A change the configuration would refuse changes
 *        nothing.
 *   {"cmd": "unset", "name": "NAME", "keys": ["min", ...]}   takes back
 *        runtime changes of NAME: those keys, or all without "keys". With
 *        "config": true ("keys" then required) also removes the keys from
 *        vms.NAME in the configuration file.
 *   {"cmd": "reload"}    same as SIGHUP; the reply says whether it worked;
 *        runtime changes are dropped
 *
 * Replies: {"ok": true, ...} or {"ok": false, "error": "TEXT"}, TEXT
 * saying what to do next. "status" adds:
 *   "module_loaded": true (false while esxmem.ko is unloaded: no VMs then),
 *   "pool": {"page_size": 4096, "pages": N, "used_pages": N,
 *            "free_pages": N, "state": "high|soft|hard|low",
 *            "thresholds_permille": {"high": 60, "soft": 40, "hard": 20,
 *                                    "low": 10}},
 *   "avail_pages": N (the pages the targets share out: the pool less
 *                     shared frames and the high state's free memory),
 *   "tax": 0.75, "balance_secs": 15, "sample_secs": 30,
 *   "balances": N (balances run since the daemon started),
 *   "balloon_connections": {"open": N, "max": N} (guests' balloon
 *        connections, and the most the daemon takes at once),
 *   "virtio_balloons": N (VMs with a stock virtio-balloon and a QMP
 *        socket the daemon knows of; VMs that are gone are forgotten),
 *   "config": "/etc/esxmem/esxmemd.json",
 *   "vms": [VM, ...]
 * and "vm" adds "vm": VM, where VM is
 *   {"name": "NAME", "id": N, "pid": N, "attached": true,
 *    "size_pages": N, "min_pages": N, "max_pages": N, "shares": N,
 *    "target_pages": N, "consumed_pages": N, "shared_pages": N,
 *    "zero_pages": N, "ballooned_pages": N, "balloon_target_pages": N,
 *    "swapped_pages": N,
 *    "compressed_pages": N, "active": 0.42, "rho": 1.5e-3,
 *    "active_last": F, "active_slow": F, "active_fast": F,
 *    "domain": N, "runtime_changes": {"min": "1G", ...},
 *    "granted_pages": N, "active_pages": N, "overhead_bytes": N,
 *    "pmap_bytes": N, "frame_table_bytes": N}
 *   (README.md's table of per-VM counters defines each)
 * "set" and "unset" add "name": "NAME", "persistent": true when the file
 * was changed, "config": "/etc/esxmem/esxmemd.json", "runtime_changes"
 * (NAME's, left), and "vm": VM, or null when NAME does not run.
 * Requests larger than CONTROL_MSG_MAX or not ending in a newline are
 * refused.
 *
 * A client has CONTROL_CLIENT_MS (esxmemd.h) from its connection to send
 * its line and read the reply, or the daemon closes the connection; at most
 * CONTROL_CLIENTS_MAX clients are connected at once, and one more is
 * answered {"ok": false, "error": "... try again ..."} at once.
 */
#ifndef ESXMEMD_CONTROL_H
#define ESXMEMD_CONTROL_H

#define CONTROL_MSG_MAX		(64 * 1024)
/* Replies can list many VMs. */
#define CONTROL_REPLY_MAX	(16 * 1024 * 1024)

#endif
