/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libesxmem: the userspace API to esxmem.ko.
 *
 * The library speaks the module's generic netlink family "esxmem" (the
 * protocol is specified in esxmem.h): it lists and configures VMs and the
 * machine-memory pool, attaches VMs to KVM, and delivers the module's
 * events. Link with `pkg-config --libs libesxmem`; include as
 *
 *	#include <esxmem/libesxmem.h>
 *
 * Conventions:
 *
 * - Every function that can fail returns 0 on success and a negative errno
 *   value on failure; it never sets errno and never prints anything.
 *   esxmem_strerror() turns such a value into text.
 * - Errors any request can return:
 *     -ENOMEM   out of memory (in the library or in the kernel);
 *     -EINVAL   a bad argument, or a value the kernel refused;
 *     -ERANGE   a value outside its attribute's range; for this and the
 *               kernel's -EINVAL, esxmem_errmsg() usually says which
 *               attribute and why;
 *     -EPERM    the command needs CAP_NET_ADMIN (commands marked "admin";
 *               esxmem_vm_set_swap() also CAP_SYS_ADMIN): run as root;
 *     -EBADMSG  the kernel's reply is not well-formed netlink;
 *     -EPROTO   the kernel's reply breaks the esxmem protocol (a missing
 *               or misplaced attribute: library and module do not match);
 *     other     errors of the netlink socket, e.g. -ENOBUFS.
 *   Attributes a newer module adds are ignored, so a newer module works
 *   with this library; fields the module does not report read as 0.
 * - On failure, output arguments hold nothing that needs freeing.
 * - A handle (struct esxmem, struct esxmem_events) may be used by one
 *   thread at a time; different handles are independent. The sockets are
 *   close-on-exec.
 *
 * Typical use:
 *
 *	struct esxmem *h;
 *	struct esxmem_vm_info *vms;
 *	size_t n, i;
 *	int err;
 *
 *	err = esxmem_open(&h);			// -ENOENT: modprobe esxmem
 *	if (err < 0)
 *		return err;
 *	do
 *		err = esxmem_vm_list(h, &vms, &n);
 *	while (err == -EAGAIN);			// VMs came or went: list again
 *	if (err == 0) {
 *		for (i = 0; i < n; i++)
 *			printf("%u %s %llu\n", vms[i].id, vms[i].name,
 *			       (unsigned long long)vms[i].consumed_pages);
 *		esxmem_vm_list_free(vms, n);
 *	}
 *	esxmem_close(h);
 */
#ifndef LIBESXMEM_H
#define LIBESXMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esxmem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the handle ------------------------------------------------------- */

/* A connection to the "esxmem" generic netlink family. Opaque. */
struct esxmem;

/*
 * Opens a netlink socket and looks up the "esxmem" family. On success
 * stores the new handle in *out and returns 0.
 * Errors: -ENOENT the family is not registered: esxmem.ko is not loaded
 * (run "modprobe esxmem"), or the caller is in a network namespace other
 * than the initial one, which alone has the family; -EAFNOSUPPORT or
 * -EPROTONOSUPPORT the kernel has no generic netlink; -EMFILE, -ENFILE too
 * many open files; -ENOMEM.
 */
int esxmem_open(struct esxmem **out);

/* Closes the handle and its socket. NULL is allowed. */
void esxmem_close(struct esxmem *h);

/*
 * The kernel's explanation of why the last request on @h failed (its
 * netlink extended acknowledgement), e.g. "min_pages above max_pages";
 * "" when the last request succeeded or the kernel gave none. Never NULL;
 * valid until the next request on @h or esxmem_close().
 */
const char *esxmem_errmsg(const struct esxmem *h);

/*
 * Text for a negative errno value returned by this library, worded for
 * esxmem where the generic text would mislead (-EPERM: "run as root, or
 * with CAP_NET_ADMIN"; -ENOENT: "no such VM, or esxmem.ko is not
 * loaded (modprobe esxmem)"), else strerror()'s text. The sign of @err is
 * ignored. Never NULL; the string is static and thread-safe.
 */
const char *esxmem_strerror(int err);

/* ---- VMs -------------------------------------------------------------- */

/*
 * One piece of a KVM memory slot that lies in the VM's memory object: guest
 * frames [base_gfn, base_gfn + npages) are object pages [offset, offset +
 * npages).
 */
struct esxmem_slot_info {
	uint32_t id;			/* address space << 16 | slot id */
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t offset;		/* in pages */
};

/*
 * A VM: one memory object and its counters. Counts are in pages (of the
 * host's page size) unless named otherwise. Filled by esxmem_vm_get() and
 * esxmem_vm_list(); release with esxmem_vm_info_free().
 */
struct esxmem_vm_info {
	uint32_t id;
	char name[ESXMEM_VM_NAME_MAX];	/* NUL-terminated, "" when unnamed */
	uint32_t owner_pid;		/* the process that created the object */
	uint32_t domain;		/* sharing domain */
	uint32_t shares;		/* 1..ESXMEM_SHARES_MAX */
	uint32_t flags;			/* enum esxmem_vm_flag */
	uint32_t mappings;		/* VMAs mapping the object */
	uint32_t kvm_pid;		/* the attached KVM VM's creator, or 0 */
	bool kvm_attached;
	uint64_t min_pages;
	uint64_t max_pages;
	uint64_t target_pages;
	uint64_t size_pages;		/* the object's fixed size */
	uint64_t consumed_pages;	/* machine pages charged to the VM */
	uint64_t state_pages[ESXMEM_PAGE_NR_STATES]; /* by esxmem_page_state */
	uint64_t faults;
	uint64_t cow_breaks;
	uint64_t fault_waits;
	uint64_t fault_wait_timeouts;
	uint64_t pages_scanned;		/* visits of the sharing scanner */
	uint64_t full_scans;		/* its passes over every page */
	uint64_t hints;			/* hint frames naming its pages */
	uint64_t scan_ns;		/* scanner time spent on it */
	/*
	 * Idle-memory sampling: the fraction of sampled pages the VM touched,
	 * in parts per million. active_ppm is the estimate to use (the
	 * largest of slow, fast and partial; 1000000 until sample_periods
	 * is at least 1).
	 */
	uint32_t active_last_ppm;	/* in the last full period */
	uint32_t active_slow_ppm;	/* slow moving average */
	uint32_t active_fast_ppm;	/* fast moving average */
	uint32_t active_partial_ppm;	/* the current period so far */
	uint32_t active_ppm;		/* the estimate */
	uint64_t sample_faults;		/* touches of sampled pages */
	uint64_t sample_periods;	/* sampling periods completed */
	/*
	 * Reclamation: compression and the swap file. ESXMEM_NO_TARGET in
	 * swap_target_pages and compress_max_pages means none set.
	 */
	uint64_t swap_slots;		/* pages its swap file holds; 0: none */
	uint64_t swap_target_pages;
	uint64_t compress_max_pages;
	uint64_t swap_outs;
	uint64_t swap_ins;
	uint64_t swap_errors;
	uint64_t compress_outs;
	uint64_t compress_ins;
	uint64_t compress_rejects;	/* pages that did not shrink enough */
	uint64_t reclaim_skipped;	/* victims someone else held */
	uint64_t low_waits;		/* new pages held back in the low state */
	size_t nr_slots;		/* entries in slots[], by base_gfn */
	struct esxmem_slot_info *slots;	/* NULL when nr_slots is 0 */
};

/*
 * (admin) Reads VM @id into *out. Release it with esxmem_vm_info_free().
 * Errors: -ENOENT no such VM.
 */
int esxmem_vm_get(struct esxmem *h, uint32_t id, struct esxmem_vm_info *out);

/*
 * (admin) Reads every VM into a new array of *n entries stored in *vms
 * (NULL when there are none). Release it with esxmem_vm_list_free().
 * Errors: -EAGAIN VMs came or went while the list was read, so it may be
 * torn (the dump had NLM_F_DUMP_INTR set): call again.
 */
int esxmem_vm_list(struct esxmem *h, struct esxmem_vm_info **vms, size_t *n);

/*
 * Frees what esxmem_vm_get() allocated inside *vm (its slots) and clears
 * *vm; it does not free vm itself. NULL is allowed.
 */
void esxmem_vm_info_free(struct esxmem_vm_info *vm);

/* Frees an array from esxmem_vm_list(). NULL is allowed. */
void esxmem_vm_list_free(struct esxmem_vm_info *vms, size_t n);

/* Bits of esxmem_vm_settings.set: which fields to change. */
#define ESXMEM_VM_SET_NAME		(1u << 0)
#define ESXMEM_VM_SET_DOMAIN		(1u << 1)
#define ESXMEM_VM_SET_SHARES		(1u << 2)
#define ESXMEM_VM_SET_FLAGS		(1u << 3)
#define ESXMEM_VM_SET_MIN_PAGES		(1u << 4)
#define ESXMEM_VM_SET_MAX_PAGES		(1u << 5)
#define ESXMEM_VM_SET_TARGET_PAGES	(1u << 6)
#define ESXMEM_VM_SET_SWAP_TARGET_PAGES	(1u << 7)
#define ESXMEM_VM_SET_COMPRESS_MAX_PAGES (1u << 8)
#define ESXMEM_VM_SET_ALL		((1u << 9) - 1)

/* New values for a VM; only the fields whose bit is in @set are sent. */
struct esxmem_vm_settings {
	uint32_t set;			/* ESXMEM_VM_SET_* */
	char name[ESXMEM_VM_NAME_MAX];	/* NUL-terminated */
	uint32_t domain;
	uint32_t shares;		/* 1..ESXMEM_SHARES_MAX */
	uint32_t flags;			/* enum esxmem_vm_flag */
	uint64_t min_pages;
	uint64_t max_pages;
	uint64_t target_pages;
	uint64_t swap_target_pages;	/* ESXMEM_NO_TARGET: none */
	uint64_t compress_max_pages;	/* ESXMEM_NO_TARGET: the default */
};

/*
 * (admin) Changes VM @id, all or nothing. The kernel checks the values.
 * Errors: -EINVAL @s is NULL, @s->set is 0 or has unknown bits, the name is
 * not NUL-terminated, or the kernel refused a value (unknown flag bits,
 * min_pages > max_pages: see esxmem_errmsg()); -ERANGE shares outside
 * 1..ESXMEM_SHARES_MAX; -ENOENT no such VM.
 */
int esxmem_vm_set(struct esxmem *h, uint32_t id,
		  const struct esxmem_vm_settings *s);

/* ---- the machine-memory pool -------------------------------------------- */

/* The pool; free_pages is negative when the pool is overdrawn. */
struct esxmem_pool_info {
	uint64_t pages;
	uint64_t used_pages;
	int64_t free_pages;
	uint32_t state;				/* enum esxmem_mem_state */
	uint32_t permille[ESXMEM_STATE_NR];	/* state thresholds, by state */
	uint32_t fault_wait_ms;
	uint32_t objects;			/* VM memory objects */
	uint32_t sample_secs;			/* idle sampling period */
	uint32_t sample_pages;			/* pages sampled per VM */
};

/* Reads the pool into *out. */
int esxmem_pool_get(struct esxmem *h, struct esxmem_pool_info *out);

/* Bits of esxmem_pool_settings.set. */
#define ESXMEM_POOL_SET_PAGES		(1u << 0)
#define ESXMEM_POOL_SET_FAULT_WAIT_MS	(1u << 1)
/* permille[state], for state an enum esxmem_mem_state */
#define ESXMEM_POOL_SET_PERMILLE(state)	(1u << (2 + (state)))
#define ESXMEM_POOL_SET_SAMPLE_SECS	(1u << (2 + ESXMEM_STATE_NR))
#define ESXMEM_POOL_SET_SAMPLE_PAGES	(1u << (3 + ESXMEM_STATE_NR))
#define ESXMEM_POOL_SET_ALL		((1u << (4 + ESXMEM_STATE_NR)) - 1)

/* New values for the pool; only the fields whose bit is in @set are sent. */
struct esxmem_pool_settings {
	uint32_t set;				/* ESXMEM_POOL_SET_* */
	uint64_t pages;
	uint32_t permille[ESXMEM_STATE_NR];	/* by enum esxmem_mem_state */
	uint32_t fault_wait_ms;			/* 0..600000 */
	uint32_t sample_secs;			/* 1..ESXMEM_SAMPLE_PERIOD_MAX */
	uint32_t sample_pages;			/* 1..ESXMEM_SAMPLE_PAGES_MAX */
};

/*
 * (admin) Changes the pool, all or nothing, with the rules of its sysfs
 * files (doc/ABI/sysfs-kernel-mm-esxmem).
 * Errors: -EINVAL @s is NULL, @s->set is 0 or has unknown bits, or the
 * kernel refused the result (pages beyond RAM, thresholds out of order:
 * see esxmem_errmsg()); -ERANGE a permille above 1000 or fault_wait_ms
 * above 600000.
 */
int esxmem_pool_set(struct esxmem *h, const struct esxmem_pool_settings *s);

/* ---- KVM -------------------------------------------------------------- */

/*
 * (admin) Attaches VM @vm_id's memory object to the KVM VM open as @kvm_fd
 * (an "anon_inode:kvm-vm" file) in the caller's fd table; esxmem then maps
 * the KVM VM's guest frames to object pages through its memory slots. To
 * attach another process's KVM VM, get its fd with pidfd_getfd() first.
 * Errors: -EBADF @kvm_fd is not an open fd; -EINVAL it is not a KVM VM;
 * -EBUSY the object is attached to another KVM VM; -ENOENT no such VM.
 */
int esxmem_kvm_attach(struct esxmem *h, uint32_t vm_id, int kvm_fd);

/* (admin) Detaches VM @vm_id from its KVM VM. Errors: -ENOENT no such VM. */
int esxmem_kvm_detach(struct esxmem *h, uint32_t vm_id);

/* ---- ballooning ---------------------------------------------------------- */

/*
 * (admin) The guest's balloon now holds guest frames @gfns[0..n) of VM
 * @vm_id (its driver reported them): their memory goes back to the pool.
 * With @release, the balloon gives them back instead: call it before the
 * guest reuses them. All or nothing; the VM must be attached to KVM, which
 * maps guest frames to its memory.
 * Frames ballooned already (hold) or not ballooned (release) are left as
 * they are: the caller keeps the account of what each balloon holds.
 * Errors: -EINVAL n is 0 or above ESXMEM_BALLOON_BATCH_MAX; -ENOTCONN not
 * attached; -ERANGE a frame outside the guest's RAM; -EEXIST a frame
 * twice; -ENOENT no such VM; (hold only) -EBUSY the page of a frame is held
 * on the host (pinned for DMA, in a pipe, under I/O): the others may go in
 * a batch of their own; -EOPNOTSUPP the VM has devices assigned (VFIO).
 */
int esxmem_vm_balloon(struct esxmem *h, uint32_t vm_id, const uint64_t *gfns,
		      size_t n, bool release);

/*
 * (admin, and CAP_SYS_ADMIN too) Gives VM @vm_id the swap file open as @fd
 * (see ESXMEM_CMD_SET_SWAP in <linux/esxmem.h>), or none when @fd is -1.
 * The module keeps its own reference: the caller may close @fd afterwards.
 * Errors: -EPERM no CAP_SYS_ADMIN, or the file is immutable or
 * append-only; -EBADF no such fd, not open read-write, or open with
 * O_APPEND; -EINVAL not a regular file, or on esxmem; -ETXTBSY the file is
 * the kernel's swap; -EBUSY it is another VM's swap file, or pages are in
 * the VM's current swap file; -ENOSPC smaller than a page; -ENODATA the VM
 * has no size yet; -ENOENT no such VM. esxmem_errmsg() says which.
 */
int esxmem_vm_set_swap(struct esxmem *h, uint32_t vm_id, int fd);

/* ---- events ------------------------------------------------------------ */

/*
 * A subscription to the module's events (multicast group "events"; joining
 * it needs CAP_NET_ADMIN). Opaque.
 */
struct esxmem_events;

/*
 * One event. The fields its type does not carry are 0.
 *   ESXMEM_CMD_EVENT_STATE   the pool's free-memory state changed:
 *                            state, free_pages
 *   ESXMEM_CMD_EVENT_VM_NEW  a VM (memory object) appeared: vm_id, owner_pid
 *   ESXMEM_CMD_EVENT_VM_DEL  a VM went away: vm_id (and owner_pid, if the
 *                            module sends it)
 */
struct esxmem_event {
	uint32_t type;			/* ESXMEM_CMD_EVENT_* */
	uint32_t vm_id;
	uint32_t owner_pid;
	uint32_t state;			/* enum esxmem_mem_state */
	int64_t free_pages;
};

/*
 * Subscribes to the events. On success stores the new subscription in *out
 * and returns 0. Errors: as esxmem_open(), and -EPERM the caller lacks
 * CAP_NET_ADMIN.
 */
int esxmem_events_open(struct esxmem_events **out);

/*
 * The subscription's file descriptor, non-blocking, for poll() or epoll
 * (readable when events are pending). Do not read it or close it yourself.
 */
int esxmem_events_fd(const struct esxmem_events *ev);

/*
 * Takes the next pending event into *out without blocking. When the fd is
 * readable, call it until it returns -EAGAIN (also with edge-triggered
 * epoll). Events the library does not know (from a newer module) are
 * skipped.
 * Returns 0 with one event, or:
 *   -EAGAIN   no event pending;
 *   -ENOBUFS  events came faster than they were read and some were lost:
 *             re-read the state (esxmem_vm_list(), esxmem_pool_get()),
 *             then keep reading;
 *   -EBADMSG, -EPROTO  a malformed event was dropped; keep reading.
 */
int esxmem_events_read(struct esxmem_events *ev, struct esxmem_event *out);

/* Unsubscribes and frees @ev. NULL is allowed. */
void esxmem_events_close(struct esxmem_events *ev);

#ifdef __cplusplus
}
#endif

#endif /* LIBESXMEM_H */
