/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo's scenarios share: the setting (esxmemfs, vhost-vsock,
 * esxmemd with a scenario's configuration, and everything put back as it
 * was at exit; esxmemd's log shown if the scenario failed), real Linux guests under QEMU with esxballoon, and the live
 * view.
 *
 * A scenario prints "demo: " lines for the viewer, "data: FILE.csv ROW"
 * lines for the report's raw data (the first ROW its header, labels for
 * people that the plots show as written: the time's, then one per line,
 * such as "grower: consumed (MiB)"; "data: FILE.events SECONDS,LABEL" a
 * mark on FILE's plot) and "summary: SCENARIO FIGURE VALUE"
 * lines for its summary table (tests/host/run.sh --demo sorts them), and
 * fails (REQUIRE, exit 1) when its own sanity checks fail.
 */
#ifndef ESXMEM_DEMO_H
#define ESXMEM_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libesxmem/libesxmem.h>

#define DEMO_RAMDIR	"/tmp/esxmem-demo"
#define DEMO_CONF	"/tmp/esxmemd-demo.json"
#define DEMO_LOG	"/tmp/esxmemd-demo.log"
#define DEMO_SOCKET	"/tmp/esxmemd-demo.sock"

struct demo_guest {
	const char *name;
	unsigned int mib;	/* its RAM */
	const char *memwork;	/* guest.memwork (see demo/guest/memwork.c), or NULL */
	/* Set by demo_start_guest(). */
	unsigned int cid;	/* vsock CID, for esxballoon */
	pid_t pid;
	char console[64];
};

/*
 * Mounts esxmemfs, loads vhost-vsock, writes @conf (JSON) and starts
 * esxmemd on it; at exit stops guests and daemon and puts the module's
 * settings back.
 */
void demo_begin(const char *conf);
/* Replaces the configuration and has esxmemd reload it (esxmemctl reload). */
void demo_reload(const char *conf);
/* Boots @g on esxmem with esxballoon loaded; returns at once. */
void demo_start_guest(struct demo_guest *g);
/* Fails the scenario if a guest died, panicked or ran out of memory. */
void demo_check_guests(struct demo_guest *g, size_t n);
/* Whether @g's console shows @text. */
bool demo_console_has(const struct demo_guest *g, const char *text);
/* Waits (checking the guests) until every guest's console shows @text. */
void demo_wait_consoles(struct demo_guest *g, size_t n, const char *text, double secs);
/*
 * The module's figures of guests @g[0..n) into @out[0..n), by name, from
 * one list of the VMs; NULL (which reads as zeros) for a guest the module
 * does not have (yet). Frees what @out held before: start with NULLs.
 */
void demo_read_vms(struct esxmem *nl, const struct demo_guest *g, size_t n,
		   struct esxmem_vm_info **out);
/* esxmemctl status, as the viewer's lines. */
void demo_show_status(void);
/* From main, when the scenario passed: return demo_done(); (0) */
int demo_done(void);
/* Seconds since demo_begin(). */
double demo_clock(void);

static inline double demo_mib(uint64_t pages)
{
	return pages / 256.0;
}

#endif
