/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt.c: the stock balloons of libvirt's domains, driven through
 * libvirt's API. Built when libvirt-dev is there (ESXMEMD_LIBVIRT); else
 * these do nothing, and libvirt's domains balloon with esxballoon only.
 */
#ifndef ESXMEMD_LIBVIRT_H
#define ESXMEMD_LIBVIRT_H

#include <stddef.h>

struct daemon;
struct vm_cache;

/*
 * libvirt's identity of a VM, from its QEMU's command line: "-uuid" and
 * whether it has a virtio-balloon (in libvirt's JSON "-device" form).
 */
void libvirt_identity(struct vm_cache *c, const char *cmdline, size_t len);

#ifdef ESXMEMD_LIBVIRT
/* Starts talking to conf.libvirt_uri, unless it is "": never fails the daemon. */
void libvirt_open(struct daemon *d);
void libvirt_close(struct daemon *d);
/* A new configuration: a changed URI starts over with the new one. */
void libvirt_reconfigure(struct daemon *d);
/* libvirt's thread has answered (EV_LIBVIRT). */
void libvirt_ready(struct daemon *d);
/* After a balance: the domains' balloons that may want a new size. */
void libvirt_balloons(struct daemon *d);
#else
void libvirt_open(struct daemon *d);
static inline void libvirt_close(struct daemon *d) { (void)d; }
static inline void libvirt_reconfigure(struct daemon *d) { (void)d; }
static inline void libvirt_ready(struct daemon *d) { (void)d; }
static inline void libvirt_balloons(struct daemon *d) { (void)d; }
#endif

#endif
