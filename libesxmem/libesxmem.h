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
 *   with this library; values the module does not report read as 0.
 * - On failure, output arguments hold nothing that needs freeing.
 * - What the library reads from the module comes in opaque objects that
 *   it allocates and frees, read through getters; numbers are read by ids
 *   (enum esxmem_vm_value, enum esxmem_pool_value) that are only ever
 *   appended to. Settings structs are read only as far as the bits in
 *   their "set" field say. So a new counter or setting changes no struct
 *   a program allocates, and programs built against an older header keep
 *   working with a newer library of the same soname. Getters take NULL
 *   and then return 0 ("" for a name).
 * - A handle (struct esxmem, struct esxmem_events) may be used by one
 *   thread at a time; different handles are independent. The sockets are
 *   close-on-exec.
 *
 * Typical use:
 *
 *	struct esxmem *h;
 *	struct esxmem_vm_info **vms;
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
 *			printf("%u %s %llu\n", esxmem_vm_id(vms[i]),
 *			       esxmem_vm_name(vms[i]),
 *			       (unsigned long long)esxmem_vm_value(vms[i],
 *					ESXMEM_VM_CONSUMED_PAGES));
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
 * A VM as read from the module: one memory object, its settings and its
 * counters. Opaque: the library allocates it (esxmem_vm_get(),
 * esxmem_vm_list()) and frees it (esxmem_vm_info_free(),
 * esxmem_vm_list_free()); read it with the getters below. Counts are in
 * pages (of the host's page size) unless named otherwise.
 */
struct esxmem_vm_info;

/*
 * The numbers a VM reports, for esxmem_vm_value(). The ids are fixed: new
 * ones are only appended, so a program built against this header reads the
 * same ids from a newer library, and one built against a newer header gets
 * -ERANGE from esxmem_vm_value_get() for ids this library does not know.
 */
enum esxmem_vm_value {
	ESXMEM_VM_OWNER_PID = 1,	/* the process that created the object */
	ESXMEM_VM_DOMAIN,		/* sharing domain */
	ESXMEM_VM_SHARES,		/* 1..ESXMEM_SHARES_MAX */
	ESXMEM_VM_FLAGS,		/* enum esxmem_vm_flag */
	ESXMEM_VM_MAPPINGS,		/* VMAs mapping the object */
	ESXMEM_VM_KVM_PID,		/* the attached KVM VM's creator, or 0 */
	ESXMEM_VM_MIN_PAGES,
	ESXMEM_VM_MAX_PAGES,
	ESXMEM_VM_TARGET_PAGES,
	ESXMEM_VM_SIZE_PAGES,		/* the object's fixed size */
	ESXMEM_VM_CONSUMED_PAGES,	/* machine pages charged to the VM */
	ESXMEM_VM_FAULTS,
	ESXMEM_VM_COW_BREAKS,
	ESXMEM_VM_FAULT_WAITS,
	ESXMEM_VM_FAULT_WAIT_TIMEOUTS,
	ESXMEM_VM_PAGES_SCANNED,	/* visits of the sharing scanner */
	ESXMEM_VM_FULL_SCANS,		/* its passes over every page */
	ESXMEM_VM_HINTS,		/* hint frames naming its pages */
	ESXMEM_VM_SCAN_NS,		/* scanner time spent on it */
	/*
	 * Idle-memory sampling: the fraction of sampled pages the VM touched,
	 * in parts per million. ACTIVE_PPM is the estimate to use (the
	 * largest of slow, fast and partial; 1000000 until SAMPLE_PERIODS is
	 * at least 1).
	 */
	ESXMEM_VM_ACTIVE_LAST_PPM,	/* in the last full period */
	ESXMEM_VM_ACTIVE_SLOW_PPM,	/* slow moving average */
	ESXMEM_VM_ACTIVE_FAST_PPM,	/* fast moving average */
	ESXMEM_VM_ACTIVE_PARTIAL_PPM,	/* the current period so far */
	ESXMEM_VM_ACTIVE_PPM,		/* the estimate */
	ESXMEM_VM_SAMPLE_FAULTS,	/* touches of sampled pages */
	ESXMEM_VM_SAMPLE_PERIODS,	/* sampling periods completed */
	/*
	 * Reclamation: compression and the swap file. ESXMEM_NO_TARGET in
	 * SWAP_TARGET_PAGES and COMPRESS_MAX_PAGES means none set.
	 */
	ESXMEM_VM_SWAP_SLOTS,		/* pages its swap file holds; 0: none */
	ESXMEM_VM_SWAP_TARGET_PAGES,
	ESXMEM_VM_COMPRESS_MAX_PAGES,
	ESXMEM_VM_SWAP_OUTS,
	ESXMEM_VM_SWAP_INS,
	ESXMEM_VM_SWAP_ERRORS,
	ESXMEM_VM_COMPRESS_OUTS,
	ESXMEM_VM_COMPRESS_INS,
	ESXMEM_VM_COMPRESS_REJECTS,	/* pages that did not shrink enough */
	ESXMEM_VM_RECLAIM_SKIPPED,	/* victims someone else held */
	ESXMEM_VM_LOW_WAITS,		/* new pages held back in the low state */
	/*
	 * vSphere-style figures (README.md, "Per-VM counters", defines each).
	 * The host memory the module spends on the VM beyond guest pages:
	 * its pmap and its part of the sharing frame table, in bytes.
	 */
	ESXMEM_VM_PMAP_BYTES,
	ESXMEM_VM_FRAME_TABLE_BYTES,
	ESXMEM_VM_OVERHEAD_BYTES,	/* PMAP_BYTES + FRAME_TABLE_BYTES */
	/* Guest pages backed by memory: private, shared and zero pages. */
	ESXMEM_VM_GRANTED_PAGES,
	/* The pages idle sampling finds in use: ACTIVE_PPM of SIZE_PAGES. */
	ESXMEM_VM_ACTIVE_PAGES,
	/* new ids go here */
	ESXMEM_VM_NR_VALUES		/* one past the last id this header knows */
};

/* The VM's id. */
uint32_t esxmem_vm_id(const struct esxmem_vm_info *vm);

/* Its name: NUL-terminated, "" when unnamed. Valid as long as @vm. */
const char *esxmem_vm_name(const struct esxmem_vm_info *vm);

/* Whether it is attached to a KVM VM (then ESXMEM_VM_KVM_PID says whose). */
bool esxmem_vm_kvm_attached(const struct esxmem_vm_info *vm);

/*
 * Value @what (an enum esxmem_vm_value) of @vm; 0 when @vm is NULL, when
 * the module did not report it, when @vm was read without its group
 * (esxmem_vm_list_fields()), or when this library does not know @what.
 */
uint64_t esxmem_vm_value(const struct esxmem_vm_info *vm, unsigned int what);

/*
 * Value @what of @vm into *value. Errors: -EINVAL @vm or @value is NULL;
 * -ERANGE this library does not know @what (the program was built against
 * a newer header than the library's); -ENODATA @vm was read without the
 * group of values @what belongs to (esxmem_vm_list_fields()).
 */
int esxmem_vm_value_get(const struct esxmem_vm_info *vm, unsigned int what,
			uint64_t *value);

/*
 * The VM's pages in state @state (an enum esxmem_page_state); 0 for a state
 * this library does not know.
 */
uint64_t esxmem_vm_state_pages(const struct esxmem_vm_info *vm,
			       unsigned int state);

/*
 * One piece of a KVM memory slot that lies in the VM's memory object: guest
 * frames [base_gfn, base_gfn + npages) are object pages [offset, offset +
 * npages). Opaque; part of its VM.
 */
struct esxmem_slot_info;

/* The number of slot pieces of @vm, 0 until it is attached to KVM. */
size_t esxmem_vm_nr_slots(const struct esxmem_vm_info *vm);

/*
 * Slot piece @i of @vm, by base_gfn; NULL when @i >= esxmem_vm_nr_slots().
 * Valid as long as @vm.
 */
const struct esxmem_slot_info *esxmem_vm_slot(const struct esxmem_vm_info *vm,
					      size_t i);

uint32_t esxmem_slot_id(const struct esxmem_slot_info *slot); /* as << 16 | slot */
uint64_t esxmem_slot_base_gfn(const struct esxmem_slot_info *slot);
uint64_t esxmem_slot_npages(const struct esxmem_slot_info *slot);
uint64_t esxmem_slot_offset(const struct esxmem_slot_info *slot); /* in pages */

/*
 * (admin) Reads VM @id into a new object stored in *out. Release it with
 * esxmem_vm_info_free(). Errors: -ENOENT no such VM.
 */
int esxmem_vm_get(struct esxmem *h, uint32_t id, struct esxmem_vm_info **out);

/*
 * (admin) Reads @vm's VM again into @vm, replacing what it held (pointers
 * from esxmem_vm_name() and esxmem_vm_slot() included); on failure @vm is
 * unchanged. Errors: -ENOENT the VM is gone.
 */
int esxmem_vm_refresh(struct esxmem *h, struct esxmem_vm_info *vm);

/*
 * (admin) esxmem_vm_refresh() of only the groups of values in @fields
 * (ESXMEM_VM_FIELDS_*, as esxmem_vm_list_fields() takes them): @vm keeps
 * its other values as they were. The cheap way to follow one group of a
 * VM often, e.g. its page counts (ESXMEM_VM_FIELDS_USAGE): without
 * ESXMEM_VM_FIELDS_SLOTS the module does not bring the VM's KVM slot map
 * up to date first (which may wait for the VMM). Errors: those of
 * esxmem_vm_refresh(), and -EINVAL a bit beyond ESXMEM_VM_FIELDS_ALL, or
 * a module older than ESXMEM_VM_A_FIELDS, which refuses it; on failure
 * @vm is unchanged. Since LIBESXMEM_0.3.
 */
int esxmem_vm_refresh_fields(struct esxmem *h, struct esxmem_vm_info *vm,
			     uint32_t fields);

/*
 * (admin) Reads every VM into a new array of *n objects stored in *vms
 * (NULL when there are none), by id. Release it with esxmem_vm_list_free().
 * Errors: -EAGAIN VMs came or went while the list was read, so it may be
 * torn (the dump had NLM_F_DUMP_INTR set): call again.
 */
int esxmem_vm_list(struct esxmem *h, struct esxmem_vm_info ***vms, size_t *n);

/*
 * (admin) esxmem_vm_list() reading only the groups of values in @fields,
 * ESXMEM_VM_FIELDS_* of <linux/esxmem.h> (their comment says which value
 * is in which group; the id is always read): the way to read every VM
 * often. The module's reply is that much smaller, and without
 * ESXMEM_VM_FIELDS_SLOTS it reads every VM as it stands, without first
 * bringing its KVM slot map up to date (which may wait for the VMM). Of a
 * group not read, esxmem_vm_value() gives 0 and
 * esxmem_vm_value_get() -ENODATA; without ESXMEM_VM_FIELDS_CONFIG the name
 * is "" and esxmem_vm_kvm_attached() false, without
 * ESXMEM_VM_FIELDS_USAGE every state counts 0 pages, without
 * ESXMEM_VM_FIELDS_SLOTS the VM has no slots. esxmem_vm_refresh() of such
 * an object reads all of it. Errors: those of esxmem_vm_list(), and
 * -EINVAL a bit beyond ESXMEM_VM_FIELDS_ALL, or a module older than
 * ESXMEM_VM_A_FIELDS, which refuses it (esxmem_errmsg() names it). Since
 * LIBESXMEM_0.2.
 */
int esxmem_vm_list_fields(struct esxmem *h, uint32_t fields,
			  struct esxmem_vm_info ***vms, size_t *n);

/* Frees an object from esxmem_vm_get(). NULL is allowed. */
void esxmem_vm_info_free(struct esxmem_vm_info *vm);

/*
 * Frees an array from esxmem_vm_list() and its objects. NULL is allowed. To
 * keep one of the objects, take it out and set its entry to NULL; free it
 * later with esxmem_vm_info_free().
 */
void esxmem_vm_list_free(struct esxmem_vm_info **vms, size_t n);

/*
 * Bits of esxmem_vm_settings.set: which fields to change. New bits and the
 * fields they gate are only appended, and the library reads a field only
 * when its bit is set: a program built against an older header passes a
 * smaller struct safely. A bit this library does not know is -EINVAL.
 */
#define ESXMEM_VM_SET_NAME		(1u << 0)
#define ESXMEM_VM_SET_DOMAIN		(1u << 1)
#define ESXMEM_VM_SET_SHARES		(1u << 2)
#define ESXMEM_VM_SET_FLAGS		(1u << 3)
#define ESXMEM_VM_SET_MIN_PAGES		(1u << 4)
#define ESXMEM_VM_SET_MAX_PAGES		(1u << 5)
#define ESXMEM_VM_SET_TARGET_PAGES	(1u << 6)
#define ESXMEM_VM_SET_SWAP_TARGET_PAGES	(1u << 7)
#define ESXMEM_VM_SET_COMPRESS_MAX_PAGES (1u << 8)
#define ESXMEM_VM_SET_ALL		((1u << 9) - 1)	/* those of this header */

/* New values for a VM; only the fields whose bit is in @set are read. */
struct esxmem_vm_settings {
	uint32_t set;			/* ESXMEM_VM_SET_* */
	const char *name;		/* below ESXMEM_VM_NAME_MAX bytes */
	uint32_t domain;
	uint32_t shares;		/* 1..ESXMEM_SHARES_MAX */
	uint32_t flags;			/* enum esxmem_vm_flag */
	uint64_t min_pages;
	uint64_t max_pages;
	uint64_t target_pages;
	uint64_t swap_target_pages;	/* ESXMEM_NO_TARGET: none */
	uint64_t compress_max_pages;	/* ESXMEM_NO_TARGET: the default */
	/* new fields go here */
};

/*
 * (admin) Changes VM @id, all or nothing. The kernel checks the values.
 * Errors: -EINVAL @s is NULL, @s->set is 0 or has unknown bits, the name is
 * NULL or ESXMEM_VM_NAME_MAX bytes or longer, or the kernel refused a value
 * (unknown flag bits, min_pages > max_pages: see esxmem_errmsg()); -ERANGE
 * shares outside 1..ESXMEM_SHARES_MAX; -ENOENT no such VM.
 */
int esxmem_vm_set(struct esxmem *h, uint32_t id,
		  const struct esxmem_vm_settings *s);

/*
 * (admin) esxmem_vm_set() on @vm's VM; on success @vm reads the new values
 * too, without reading the VM again. On failure @vm is unchanged.
 */
int esxmem_vm_update(struct esxmem *h, struct esxmem_vm_info *vm,
		     const struct esxmem_vm_settings *s);

/* ---- the machine-memory pool -------------------------------------------- */

/*
 * The pool as read from the module. Opaque, like struct esxmem_vm_info:
 * esxmem_pool_get() allocates it, esxmem_pool_info_free() frees it.
 */
struct esxmem_pool_info;

/* The numbers the pool reports, for esxmem_pool_value(); fixed ids, as above. */
enum esxmem_pool_value {
	ESXMEM_POOL_PAGES = 1,
	ESXMEM_POOL_USED_PAGES,
	ESXMEM_POOL_STATE,		/* enum esxmem_mem_state */
	ESXMEM_POOL_HIGH_PERMILLE,	/* the free-memory state thresholds */
	ESXMEM_POOL_SOFT_PERMILLE,
	ESXMEM_POOL_HARD_PERMILLE,
	ESXMEM_POOL_LOW_PERMILLE,
	ESXMEM_POOL_FAULT_WAIT_MS,
	ESXMEM_POOL_OBJECTS,		/* VM memory objects */
	ESXMEM_POOL_SAMPLE_SECS,	/* idle sampling period */
	ESXMEM_POOL_SAMPLE_PAGES,	/* pages sampled per VM */
	/* new ids go here */
	ESXMEM_POOL_NR_VALUES		/* one past the last id this header knows */
};

/* Value @what (an enum esxmem_pool_value) of @pool, as esxmem_vm_value(). */
uint64_t esxmem_pool_value(const struct esxmem_pool_info *pool,
			   unsigned int what);

/* Value @what of @pool into *value, with the errors of esxmem_vm_value_get(). */
int esxmem_pool_value_get(const struct esxmem_pool_info *pool,
			  unsigned int what, uint64_t *value);

/* The pool's free pages: negative when it is overdrawn; 0 for NULL. */
int64_t esxmem_pool_free_pages(const struct esxmem_pool_info *pool);

/*
 * The threshold of free-memory state @state (an enum esxmem_mem_state), in
 * permille of the pool; 0 for a state this library does not know.
 */
uint32_t esxmem_pool_permille(const struct esxmem_pool_info *pool,
			      unsigned int state);

/* Reads the pool into a new object stored in *out; free it with esxmem_pool_info_free(). */
int esxmem_pool_get(struct esxmem *h, struct esxmem_pool_info **out);

/* Frees an object from esxmem_pool_get(). NULL is allowed. */
void esxmem_pool_info_free(struct esxmem_pool_info *pool);

/* Bits of esxmem_pool_settings.set, with the rules of ESXMEM_VM_SET_*. */
#define ESXMEM_POOL_SET_PAGES		(1u << 0)
#define ESXMEM_POOL_SET_FAULT_WAIT_MS	(1u << 1)
#define ESXMEM_POOL_SET_HIGH_PERMILLE	(1u << 2)
#define ESXMEM_POOL_SET_SOFT_PERMILLE	(1u << 3)
#define ESXMEM_POOL_SET_HARD_PERMILLE	(1u << 4)
#define ESXMEM_POOL_SET_LOW_PERMILLE	(1u << 5)
#define ESXMEM_POOL_SET_SAMPLE_SECS	(1u << 6)
#define ESXMEM_POOL_SET_SAMPLE_PAGES	(1u << 7)
#define ESXMEM_POOL_SET_ALL		((1u << 8) - 1)	/* those of this header */

/* New values for the pool; only the fields whose bit is in @set are read. */
struct esxmem_pool_settings {
	uint32_t set;				/* ESXMEM_POOL_SET_* */
	uint64_t pages;
	uint32_t fault_wait_ms;			/* 0..600000 */
	uint32_t high_permille;			/* the state thresholds */
	uint32_t soft_permille;
	uint32_t hard_permille;
	uint32_t low_permille;
	uint32_t sample_secs;			/* 1..ESXMEM_SAMPLE_PERIOD_MAX */
	uint32_t sample_pages;			/* 1..ESXMEM_SAMPLE_PAGES_MAX */
	/* new fields go here */
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
 * One event. Opaque: it lives in its subscription until the next
 * esxmem_events_read() or esxmem_events_close(). The getters of the
 * fields its type does not carry return 0.
 *   ESXMEM_CMD_EVENT_STATE   the pool's free-memory state changed:
 *                            state, free_pages
 *   ESXMEM_CMD_EVENT_VM_NEW  a VM (memory object) appeared: vm_id, owner_pid
 *   ESXMEM_CMD_EVENT_VM_DEL  a VM went away: vm_id (and owner_pid, if the
 *                            module sends it)
 */
struct esxmem_event;

uint32_t esxmem_event_type(const struct esxmem_event *e); /* ESXMEM_CMD_EVENT_* */
uint32_t esxmem_event_vm_id(const struct esxmem_event *e);
uint32_t esxmem_event_owner_pid(const struct esxmem_event *e);
uint32_t esxmem_event_state(const struct esxmem_event *e); /* enum esxmem_mem_state */
int64_t esxmem_event_free_pages(const struct esxmem_event *e);

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
 * Takes the next pending event without blocking and stores it in *out
 * (valid until the next call on @ev). When the fd is readable, call it
 * until it returns -EAGAIN (also with edge-triggered epoll). Events the
 * library does not know (from a newer module) are skipped.
 * Returns 0 with one event, or:
 *   -EAGAIN   no event pending;
 *   -ENOBUFS  events came faster than they were read and some were lost:
 *             re-read the state (esxmem_vm_list(), esxmem_pool_get()),
 *             then keep reading;
 *   -EBADMSG, -EPROTO  a malformed event was dropped; keep reading.
 */
int esxmem_events_read(struct esxmem_events *ev,
		       const struct esxmem_event **out);

/* Unsubscribes and frees @ev. NULL is allowed. */
void esxmem_events_close(struct esxmem_events *ev);

#ifdef __cplusplus
}
#endif

#endif /* LIBESXMEM_H */
