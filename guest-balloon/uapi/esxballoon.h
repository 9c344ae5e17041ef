/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * esxballoon: the balloon protocol between a guest's balloon driver
 * (esxballoon.ko) and the host (esxmemd).
 *
 * This header may be included unchanged by the kernel driver and by
 * userspace programs.
 *
 * == Transport ==
 *
 * The guest connects to the host (VMADDR_CID_HOST, 2) on vsock port
 * ESXBALLOON_VSOCK_PORT over SOCK_STREAM.
 * Every message is a struct esxballoon_hdr followed by exactly hdr.length
 * bytes of payload. Every field is little-endian; structures have no
 * implicit padding.
 *
 * The guest drives the connection: it sends one request and waits for the one
 * reply to it before it sends the next. The host never speaks first. Every
 * request is answered either by ESXBALLOON_MSG_TARGET, which acknowledges
 * that the request has been carried out and carries the current target, or
 * by ESXBALLOON_MSG_ERROR, after which the host closes the connection. The
 * reply's hdr.seq echoes the request's.
 *
 * == Requests (guest to host) ==
 *
 * HELLO       struct esxballoon_hello. The first request of a connection; the
 *             protocol version is hdr.version.
 * RESET       no payload. "I hold no page you know of": the host forgets
 *             every frame recorded as ballooned for this guest (the guest may
 *             use those frames again: a touch gets a fresh zero page, so the
 *             host may leave their memory reclaimed, and esxmemd does, for
 *             the guest to lock them again). The second request of every
 *             connection, and
 *             allowed later (a guest that lost track of what it told the
 *             host resets and locks its pages again).
 * GET_TARGET  no payload. The guest polls its target once a second.
 * LOCK        struct esxballoon_gfns. The guest now holds these frames and
 *             will not touch them: the host may reclaim the memory behind
 *             them. Each frame must lie in the guest's RAM and not be
 *             recorded as ballooned already (neither earlier nor twice in
 *             the batch).
 * UNLOCK      struct esxballoon_gfns. The guest wants these frames back.
 *             Each must be recorded as ballooned. The host hands the memory
 *             back (or arranges for the next touch to get a zero page)
 *             before it replies; the guest frees the pages only after the
 *             reply. The one exception is the guest's out-of-memory path:
 *             there the guest frees first and sends the UNLOCK in its next
 *             exchange. The host backs a ballooned frame that the guest
 *             touches with a fresh zero page, exactly as it would back a
 *             frame the guest never touched, so freeing first is safe; the
 *             UNLOCK only brings the host's records up to date.
 *
 * == Replies (host to guest) ==
 *
 * TARGET      struct esxballoon_target: the number of pages the guest's
 *             balloon should hold. The guest caps it (esxballoon.ko: at 65%
 *             of its RAM by default).
 * ERROR       struct esxballoon_error, then the host closes.
 *
 * == State machine (per connection) ==
 *
 *   CONNECTED --HELLO--> GREETED --RESET--> READY
 *   READY --GET_TARGET | LOCK | UNLOCK | RESET--> READY
 *
 * Anything else (HELLO in GREETED or READY, a request other than HELLO in
 * CONNECTED or other than RESET in GREETED, a reply type from the guest) is
 * malformed.
 *
 * == Sizes on the wire ==
 *
 *   header                 16 bytes
 *   HELLO payload          16
 *   RESET, GET_TARGET       0
 *   LOCK, UNLOCK            8 + 8 * count, at most 4104 (512 frames)
 *   TARGET, ERROR           8
 *
 * == Validation and malformed input ==
 *
 * Both sides read the 16-byte header first and check, before reading any
 * payload: magic == ESXBALLOON_MAGIC, version == ESXBALLOON_VERSION, a type
 * that the sender may send, and length equal to what that type allows
 * (ESXBALLOON_MAX_PAYLOAD at most, so a receiver needs one fixed buffer of
 * sizeof(struct esxballoon_hdr) + ESXBALLOON_MAX_PAYLOAD bytes). Then it
 * reads the payload and checks it: reserved fields zero, for LOCK and
 * UNLOCK 1 <= count <= ESXBALLOON_MAX_GFNS and length == 8 + 8 * count,
 * every frame valid as described above, for HELLO page_size == 4096 and
 * guest_pages != 0.
 *
 * On malformed input the host sends ERROR (best effort) and closes the
 * connection. A request is carried out all or nothing: a LOCK or UNLOCK with
 * one bad frame changes nothing. A guest that receives a malformed reply
 * closes the connection and connects again.
 *
 * == End of a connection ==
 *
 * When the guest's connection closes (the guest went, or broke the
 * protocol), the host forgets the guest's ballooned frames as on RESET: a guest may then free its pages
 * without UNLOCK (esxballoon.ko does so when it is unloaded) or keep them
 * and LOCK them again in its next connection (it does so across host
 * restarts). A frame the host reclaimed and the guest touches again is
 * backed by a fresh zero page.
 *
 * Bounded host memory: the host never trusts the sizes the guest reports.
 * It validates frames against the guest RAM it configured itself and keeps
 * at most one record per such frame (one bit, or a page state in esxmem's
 * pmap), so its memory for a guest is bounded by that guest's configured
 * size whatever the guest sends; a message needs at most one fixed buffer.
 *
 * == Rate ==
 *
 * The host serves a guest at most ESXBALLOON_HOST_FRAMES_PER_SEC frames of
 * LOCK and UNLOCK (1 GiB of 4 KiB frames) and ESXBALLOON_HOST_REQUESTS_PER_SEC
 * requests a second. It does not close a connection for its rate: it
 * answers what goes beyond in the next second. A guest that locks again
 * every frame it holds after a reconnection (as esxballoon.ko does) only
 * waits, a second per GiB; its reply timeout must exceed a second.
 *
 * == Host restarts ==
 *
 * A host that stops (esxmemd restarted) leaves ballooned what its guests'
 * balloons held: the memory behind them stays reclaimed, and the host that
 * starts counts it in the targets it sends, so guests need not deflate.
 * The frames a guest locks again in its next connection are taken as they
 * are; one it frees instead (it may: the RESET made it pending) stays
 * ballooned on the host until the guest touches it, which backs it with a
 * fresh zero page like any ballooned frame the guest touches.
 */
#ifndef _UAPI_LINUX_ESXBALLOON_H
#define _UAPI_LINUX_ESXBALLOON_H

#include <linux/types.h>

#define ESXBALLOON_VSOCK_PORT	17747		/* default vsock port */
#define ESXBALLOON_MAGIC	0x6c6c6142	/* "Ball" on the wire */
#define ESXBALLOON_VERSION	1
#define ESXBALLOON_PAGE_SIZE	4096
#define ESXBALLOON_MAX_GFNS	512		/* frames per LOCK or UNLOCK */
/* What a host serves a guest a second at most; see "Rate" above. */
#define ESXBALLOON_HOST_FRAMES_PER_SEC	262144
#define ESXBALLOON_HOST_REQUESTS_PER_SEC 1024

enum esxballoon_msg_type {
	/* guest to host */
	ESXBALLOON_MSG_HELLO = 1,
	ESXBALLOON_MSG_RESET = 2,
	ESXBALLOON_MSG_GET_TARGET = 3,
	ESXBALLOON_MSG_LOCK = 4,
	ESXBALLOON_MSG_UNLOCK = 5,
	/* host to guest */
	ESXBALLOON_MSG_TARGET = 16,
	ESXBALLOON_MSG_ERROR = 17,
};

struct esxballoon_hdr {
	__le32 magic;			/* ESXBALLOON_MAGIC */
	__le16 version;			/* ESXBALLOON_VERSION */
	__le16 type;			/* enum esxballoon_msg_type */
	__le32 length;			/* payload bytes that follow */
	__le32 seq;			/* set by the guest, echoed in the reply */
};

struct esxballoon_hello {
	__le32 page_size;		/* ESXBALLOON_PAGE_SIZE */
	__le32 reserved;		/* zero */
	/* RAM the guest manages, for the host's logs: never trusted. */
	__le64 guest_pages;
};

struct esxballoon_gfns {
	__le32 count;			/* 1..ESXBALLOON_MAX_GFNS */
	__le32 reserved;		/* zero */
	__le64 gfn[];			/* guest frame numbers */
};

struct esxballoon_target {
	__le64 target_pages;		/* pages the balloon should hold */
};

/*
 * Why the host closed the connection, a positive errno value: EPROTO malformed,
 * EINVAL a bad frame, EPROTONOSUPPORT the version, EBUSY the guest is served
 * by another connection.
 */
struct esxballoon_error {
	__le32 code;
	__le32 reserved;		/* zero */
};

#define ESXBALLOON_GFNS_LEN(count) \
	(sizeof(struct esxballoon_gfns) + (count) * sizeof(__le64))
#define ESXBALLOON_MAX_PAYLOAD	ESXBALLOON_GFNS_LEN(ESXBALLOON_MAX_GFNS)

#endif /* _UAPI_LINUX_ESXBALLOON_H */
