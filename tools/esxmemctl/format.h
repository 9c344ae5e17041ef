/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * esxmemctl's pure parts: building requests from the command line and
 * rendering the daemon's replies (daemon/control.h). No I/O but the FILE
 * they print to, so the unit tests check them line by line.
 */
#ifndef ESXMEMCTL_FORMAT_H
#define ESXMEMCTL_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "1.5G", "512M", "4.0K", "0": binary units, at most one decimal. */
void ctl_format_size(uint64_t bytes, char *buf, size_t len);

/*
 * The "set" request for VM @name from "key=value" words: shares (1..1000000
 * or low, normal, high), min and max (sizes), domain (0..2147483647). NULL
 * with a message in @err when a word is wrong; nothing is sent then.
 */
json_t *ctl_set_request(const char *name, int argc, char **argv, char *err,
			size_t errlen);

/*
 * The "unset" request for VM @name from key words (shares, min, max,
 * domain; none: every runtime change). NULL with a message in @err when a
 * word is wrong.
 */
json_t *ctl_unset_request(const char *name, int argc, char **argv, char *err,
			  size_t errlen);

/*
 * Says what a "set" or "unset" request @req did, from the daemon's @reply:
 * for how long a change holds (until reload or restart, or written to the
 * configuration file) and how to take it back. -EPROTO as below.
 */
int ctl_print_change(FILE *f, json_t *req, json_t *reply, char *err, size_t errlen);

/*
 * Prints a "status" reply as a summary (the pool, its free-memory
 * thresholds, what balloons, compression and swap hold) and a table of
 * VMs, sizes in bytes units, or in pages with @pages. -EPROTO with a
 * message in @err when the reply lacks what it must have.
 */
int ctl_print_status(FILE *f, json_t *reply, bool pages, char *err,
		     size_t errlen);

/* Prints one VM of a "vm" reply, a field a line. -EPROTO as above. */
int ctl_print_vm(FILE *f, json_t *reply, bool pages, char *err, size_t errlen);

#endif
