/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * esxmem: ESX-style memory resource management for KVM guests.
 *
 * This header is the userspace interface of esxmem.ko. It may be included
 * unchanged by userspace programs.
 *
 * == VM memory objects: /dev/esxmem and esxmemfs ==
 *
 * A VM memory object is the machine memory behind one VM's guest RAM. A VMM
 * maps it instead of anonymous memory. There are two ways to get one:
 *
 * /dev/esxmem: every open() creates a new object, freed on the last close.
 *
 *   qemu-system-x86_64 -object memory-backend-file,id=ram0,size=2G,\
 *       mem-path=/dev/esxmem,share=on -machine memory-backend=ram0 ...
 *
 * esxmemfs (mount -t esxmem esxmem /run/esxmem): every regular file is an
 * object; QEMU given the directory as mem-path creates and unlinks a file
 * there, sizes it with ftruncate() and maps it. Only files support
 * fallocate(), which VMMs use to discard guest RAM (virtio-balloon,
 * virtio-mem, free page reporting), so this is the recommended way.
 *
 * mmap():    MAP_SHARED only (MAP_PRIVATE fails with EINVAL). The first
 *            mapping fixes the object's size to the end of the mapping unless
 *            ESXMEM_IOC_SET_SIZE or ftruncate() did so before; a later
 *            mapping that reaches beyond the size fails with EINVAL. Pages
 *            are allocated on first write; a read of a never-written page
 *            maps the kernel's zero page.
 * ftruncate() (esxmemfs): fixes the size like ESXMEM_IOC_SET_SIZE, once.
 *            The VFS's rules apply: ftruncate() needs an fd open for
 *            writing (EINVAL otherwise), truncate() write permission on the
 *            file (EACCES).
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) (esxmemfs) and
 * ESXMEM_IOC_PUNCH_HOLE (both): free the pages of a range (partial pages at
 *            either end are zeroed in place); the next touch reads zeros.
 *            Other fallocate() modes fail with EOPNOTSUPP. (The VFS refuses
 *            fallocate() on character devices, hence the ioctl.) Both need
 *            an fd open for writing (EBADF otherwise). A range over part of
 *            a 2 MiB large page breaks it into 4 KiB pages first; when it
 *            cannot (someone holds it: a pipe, O_DIRECT, a pin), that part
 *            stays as it was, the rest of the range is freed, and the call
 *            fails with EBUSY: try again once the holder is done.
 * close():   when the last reference (fd, mapping or, for esxmemfs, a link)
 *            goes, every page returns to the machine-memory pool.
 * mbind():   sets the NUMA memory policy of the object's pages that the
 *            range maps, for every mapping of the object (QEMU's host-nodes
 *            and policy on a memory backend do this). Every page allocated
 *            for those offsets afterwards, by a fault through any mapping,
 *            a copy-on-write copy, a shared frame the scanner makes from
 *            them, or a page coming back from the compression cache or
 *            swap, goes where the policy says: MPOL_BIND to its nodes,
 *            nearest first; MPOL_PREFERRED and MPOL_PREFERRED_MANY to its
 *            nodes first; MPOL_INTERLEAVE round-robin by page offset in the
 *            object (so all mappings agree; MPOL_WEIGHTED_INTERLEAVE is
 *            treated the same); MPOL_LOCAL to the allocating CPU's node;
 *            MPOL_DEFAULT removes the range's policy. The last mbind() of
 *            a range wins, with the kernel's own exceptions: mbind() skips
 *            a mapping that already has an equal policy (so repeating,
 *            through mapping A, a policy that mapping B has changed since
 *            changes nothing; set another one first), and a mapping merged
 *            with a neighbour of the same policy passes on the policy for
 *            the whole merged range. An object holds at most 64 policy
 *            ranges; mbind() beyond that fails with ENOSPC and changes
 *            nothing. A node set that no longer meets the VMM's cpuset
 *            (a cpuset changed since the mbind()) is ignored, as the
 *            kernel ignores such a policy, rather than failing every
 *            allocation. Pages already allocated stay where they are:
 *            esxmem's pages are off the LRU, and MPOL_MF_MOVE moves none
 *            of them. A frame shared by pages of objects with different
 *            policies follows the policy of one of them; the zero page
 *            that reads of never-written pages map is one page for the
 *            whole host, wherever it is. Offsets without a policy follow
 *            the allocating task's policy (numactl --membind on the VMM),
 *            or the local node for the module's own threads.
 *            get_mempolicy(MPOL_F_ADDR) and /proc/PID/numa_maps show the
 *            policy set through the mapping they look at, not the
 *            object's.
 *
 * When the pool is exhausted, a fault waits (killably, for at most
 * /sys/kernel/mm/esxmem/fault_wait_ms) for memory to be freed; if none is
 * freed in time the faulting task gets SIGBUS. The host never goes out of
 * memory on esxmem's account.
 *
 * ioctls on an object fd (either kind). Those that change the object need
 * the fd open for writing, like ftruncate() and fallocate(), and fail with
 * EBADF on a read-only one (an O_RDONLY open of a file of esxmemfs needs
 * only read permission, which must not be enough to free or size a VM's
 * memory):
 *
 * ESXMEM_IOC_SET_SIZE (__u64 bytes, in; fd open for writing)
 *     Fixes the object's size before the first mmap. The size must be a
 *     non-zero multiple of the page size, at most ESXMEM_MAX_OBJECT_BYTES.
 *     Errors: EBADF (fd not open for writing), EINVAL (bad size), EBUSY
 *     (size already fixed to another value), ENOMEM.
 *
 * ESXMEM_IOC_GET_STATS (struct esxmem_vm_stats, out; any fd)
 *     The object's counters, all in pages unless named otherwise.
 *
 * ESXMEM_IOC_PUNCH_HOLE (struct esxmem_range, in; fd open for writing)
 *     Frees the pages of [offset, offset + length), clamped to the size.
 *     Errors: EBADF (fd not open for writing), EINVAL (negative or
 *     overflowing range), EBUSY (part of a large page someone holds, as
 *     for fallocate() above).
 *
 * == Generic netlink family "esxmem" ==
 *
 * The control plane: list and configure VMs, the pool, attach VMs to KVM,
 * and subscribe to events. The family exists only in the initial network
 * namespace.
 *
 * Permissions. Each capability is checked in the initial user namespace,
 * for a command both of the process that opened the netlink socket and of
 * the one sending the request; a request without it fails with EPERM
 * before the module looks at it or takes any lock:
 *
 *   ESXMEM_CMD_GET_VM (doit, dump)  CAP_NET_ADMIN: VM names, owner PIDs,
 *                                   memory slot layouts and activity are
 *                                   not for everyone
 *   ESXMEM_CMD_SET_VM               CAP_NET_ADMIN
 *   ESXMEM_CMD_GET_POOL             none: the pool's size, thresholds,
 *                                   state and number of objects, nothing
 *                                   about any one VM
 *   ESXMEM_CMD_SET_POOL             CAP_NET_ADMIN
 *   ESXMEM_CMD_ATTACH_KVM           CAP_NET_ADMIN
 *   ESXMEM_CMD_DETACH_KVM           CAP_NET_ADMIN
 *   ESXMEM_CMD_BALLOON              CAP_NET_ADMIN
 *   ESXMEM_CMD_SET_SWAP             CAP_NET_ADMIN and CAP_SYS_ADMIN: the
 *                                   module writes guest memory into the
 *                                   file it is given
 *   multicast group "events"        CAP_NET_ADMIN of the process joining
 *                                   it: setsockopt(NETLINK_ADD_MEMBERSHIP)
 *                                   fails with EPERM
 *
 * Below, (admin) marks the commands that need a capability, as listed
 * above. Every message carries one top-level nest, ESXMEM_A_VM or
 * ESXMEM_A_POOL. Unknown attributes, output-only attributes, wrong lengths
 * and unknown flag bits fail with EINVAL, values outside an attribute's
 * range with ERANGE, each with an extack message naming the attribute;
 * nothing is changed then.
 *
 * ESXMEM_CMD_GET_VM (admin)
 *     doit:   in  ESXMEM_A_VM { ID, FIELDS }
 *             out ESXMEM_A_VM { every VM attribute below, marked out }
 *             ENOENT if there is no such VM.
 *     dumpit: in  ESXMEM_A_VM { FIELDS } (the nest may be left out)
 *             every VM, one message each. The dump carries the VM list's
 *             generation: when VMs come or go during it, a message has
 *             NLM_F_DUMP_INTR set and the caller should list again.
 *     FIELDS (u32, enum esxmem_vm_fields) picks the groups of attributes
 *     the reply carries; ID always comes. Without FIELDS, every group.
 *     A caller that reads every VM often (a policy daemon each balance
 *     period) asks for what it reads: the reply is smaller, and a dump
 *     without ESXMEM_VM_FIELDS_SLOTS reads each VM as it stands, without
 *     first bringing its slot map up to date with its KVM VM (which may
 *     wait for the VMM's memory map): the cheapest way to read them all.
 * ESXMEM_CMD_SET_VM (admin)
 *     in ESXMEM_A_VM { ID, and any of NAME, DOMAIN, SHARES, MIN_PAGES,
 *     MAX_PAGES, TARGET_PAGES, FLAGS, SWAP_TARGET_PAGES,
 *     COMPRESS_MAX_PAGES }. Applied all or nothing: EINVAL if the result
 *     would have MIN_PAGES > MAX_PAGES. A new DOMAIN, or FLAGS gaining
 *     ESXMEM_VM_F_NO_SHARING, holds for what the VM shares already: before
 *     the reply, each of its pages on a frame of another domain (every
 *     shared page, with NO_SHARING) gets a private copy. ENOMEM when the
 *     pool had no page for a copy: the settings are applied, the copies
 *     made so far stay, and the request may be sent again.
 * ESXMEM_CMD_GET_POOL
 *     out ESXMEM_A_POOL { every pool attribute }
 * ESXMEM_CMD_SET_POOL (admin)
 *     in ESXMEM_A_POOL { any of PAGES, *_PERMILLE, FAULT_WAIT_MS,
 *     SAMPLE_SECS, SAMPLE_PAGES }; all or nothing, with the same rules as
 *     the sysfs files.
 * ESXMEM_CMD_ATTACH_KVM (admin)
 *     in ESXMEM_A_VM { ID, KVM_FD }: attaches the memory object to the KVM
 *     VM whose fd (an "anon_inode:kvm-vm" file, e.g. taken from the VMM with
 *     pidfd_getfd()) is KVM_FD in the caller's fd table. esxmem then maps
 *     the VM's guest frame numbers to object offsets through KVM's memory
 *     slots and follows their changes. EBADF: no such fd; EINVAL: not a KVM
 *     VM; EBUSY: attached to another KVM VM already; ENOENT: no such VM.
 * ESXMEM_CMD_DETACH_KVM (admin)
 *     in ESXMEM_A_VM { ID }.
 * ESXMEM_CMD_BALLOON (admin)
 *     in ESXMEM_A_VM { ID, BALLOON_GFNS, and BALLOON_RELEASE to release }:
 *     the guest's balloon holds these guest frames (or gives them back).
 *     Held frames' machine pages return to the pool and their pages become
 *     BALLOONED; a later touch gets a zero page. Frames ballooned already
 *     (hold) or not ballooned (release) are left as they are. All or
 *     nothing: ENOTCONN the VM is not attached to KVM; ERANGE a frame
 *     outside its RAM; EEXIST a frame twice; EINVAL an empty batch or one
 *     over ESXMEM_BALLOON_BATCH_MAX; (hold only) EBUSY the page of a frame
 *     is held beyond esxmem (a GUP pin for DMA, a pipe, I/O in flight, a
 *     fault in progress), so freeing it would leave it in use outside the
 *     pool: the frames that are not held may be ballooned in a batch of
 *     their own; EOPNOTSUPP the KVM VM has devices assigned (VFIO), which
 *     may DMA into any guest page (releasing still works). The extack says
 *     which rule a frame broke.
 * ESXMEM_CMD_SET_SWAP (admin: CAP_NET_ADMIN and CAP_SYS_ADMIN)
 *     in ESXMEM_A_VM { ID, SWAP_FD }: gives the VM the swap file open as
 *     SWAP_FD in the caller's fd table (-1: none). The module writes the
 *     VM's memory into it with its own rights, so the file must be one
 *     the caller can write and nothing else writes: a regular file, open
 *     for reading and writing without O_APPEND, not on esxmem itself, not
 *     immutable or append-only, not in use as the kernel's swap (swapon),
 *     and not another VM's swap file (these are checked when it is
 *     given). Its size in pages (up to the VM's) is how many pages it can
 *     hold. Preallocate it (fallocate) so that swapping never meets a full
 *     filesystem, and open it with O_DIRECT where the filesystem allows,
 *     so that swapped pages do not stay in the host's page cache. While
 *     its filesystem is frozen (FIFREEZE, e.g. for a snapshot) nothing is
 *     written to it and nothing waits for the thaw: pages stay in memory
 *     (or are compressed), no swap error is counted, and swapping goes on
 *     once it is thawed.
 *     Errors, each with an extack message: EPERM: the caller lacks
 *     CAP_SYS_ADMIN, or the file is immutable or append-only; EBADF: no
 *     such fd, or not open for reading and writing, or open with
 *     O_APPEND; EINVAL: not a regular file, on esxmem, or its filesystem
 *     cannot read and write it at an offset; ETXTBSY: it is the kernel's
 *     swap; EBUSY: it is another VM's swap file, or pages are in the VM's
 *     current swap file; ENOSPC: smaller than a page; ENODATA: the VM has
 *     no size yet.
 *
 * Reclamation: the module compresses (LZ4; pages that shrink to 2 KiB or
 * less) and swaps out random private pages of a VM while it consumes more
 * than its SWAP_TARGET_PAGES, and, in the hard and low free-memory states
 * whether or not a daemon sets targets, of the VM furthest above its
 * TARGET_PAGES (or MIN_PAGES) until free memory regains the soft
 * threshold. Pages are never taken below MIN_PAGES by a target, and pages
 * someone else holds (GUP pins) are skipped. In the low state, a VM whose
 * TARGET_PAGES is set and reached waits up to FAULT_WAIT_MS at each new
 * page. A touch reads the page back; a page that cannot be read back (its
 * swap file failed) gives the access SIGBUS and stays where it is.
 *
 * Events (multicast group "events"; joining it needs CAP_NET_ADMIN):
 * ESXMEM_CMD_EVENT_STATE  ESXMEM_A_POOL { STATE, FREE_PAGES }: the pool's
 *                         free-memory state changed.
 * ESXMEM_CMD_EVENT_VM_NEW ESXMEM_A_VM { ID, OWNER_PID }: an object appeared.
 * ESXMEM_CMD_EVENT_VM_DEL ESXMEM_A_VM { ID }: an object went away.
 *
 * == sysfs ==
 *
 * /sys/kernel/mm/esxmem/: the pool and global counters, one value per file;
 * see doc/ABI/sysfs-kernel-mm-esxmem in the source tree.
 */
#ifndef _UAPI_LINUX_ESXMEM_H
#define _UAPI_LINUX_ESXMEM_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define ESXMEM_DEVICE_PATH		"/dev/esxmem"
#define ESXMEM_MAX_OBJECT_BYTES		(1ULL << 42)	/* 4 TiB */

/* The state of one guest page in its VM's pmap. */
enum esxmem_page_state {
	ESXMEM_PAGE_UNBACKED = 0,	/* never touched, or freed */
	ESXMEM_PAGE_PRIVATE,		/* backed by a machine page of its own */
	ESXMEM_PAGE_SHARED,		/* backed by a copy-on-write shared frame */
	ESXMEM_PAGE_ZERO,		/* read as zeros: the kernel's zero page */
	ESXMEM_PAGE_BALLOONED,		/* given up by the guest's balloon */
	ESXMEM_PAGE_SWAPPED,		/* in the VM's swap file */
	ESXMEM_PAGE_COMPRESSED,		/* in the VM's compression cache */
	ESXMEM_PAGE_NR_STATES,
};

/* Padding inside ESXMEM_VM_A_STATE_PAGES (whose types are state + 1). */
#define ESXMEM_STATE_PAGES_A_PAD	(ESXMEM_PAGE_NR_STATES + 1)

/*
 * The free-memory states of the machine-memory pool (Waldspurger, OSDI
 * 2002, section 6): each selects which reclamation techniques may run.
 */
enum esxmem_mem_state {
	ESXMEM_STATE_HIGH = 0,	/* enough free memory: share only */
	ESXMEM_STATE_SOFT,	/* reclaim by ballooning */
	ESXMEM_STATE_HARD,	/* reclaim by compression and swapping */
	ESXMEM_STATE_LOW,	/* also hold back VMs above their target */
	ESXMEM_STATE_NR,
};

/* Generic netlink. */
#define ESXMEM_GENL_NAME		"esxmem"
#define ESXMEM_GENL_VERSION		1
#define ESXMEM_GENL_MCGRP_EVENTS	"events"

#define ESXMEM_VM_NAME_MAX		64	/* with the terminating NUL */
#define ESXMEM_SHARES_MAX		1000000000	/* 10 per MiB up to 95 TiB */
#define ESXMEM_SAMPLE_PERIOD_MAX	3600	/* seconds */
#define ESXMEM_BALLOON_BATCH_MAX	512	/* frames per BALLOON request */
#define ESXMEM_SAMPLE_PAGES_MAX		100000
#define ESXMEM_NO_TARGET		(~0ULL)	/* SWAP_TARGET, COMPRESS_MAX */
/*
 * Sharing domains: VMs share pages only with VMs of the same domain. Domain
 * 0, every VM's default, is a domain of one: the VM shares only within
 * itself, the safe choice against cross-VM side channels (VMware's
 * salting). VMs given the same domain 1..ESXMEM_DOMAIN_MAX share with each
 * other, unless /sys/kernel/mm/esxmem/share/isolate_vms is 1, which makes
 * every VM a domain of its own. Zero pages are shared across domains: the
 * zero page holds no secret to leak.
 */
#define ESXMEM_DOMAIN_MAX		0x7fffffff

enum esxmem_cmd {
	ESXMEM_CMD_UNSPEC,
	ESXMEM_CMD_GET_VM,
	ESXMEM_CMD_SET_VM,
	ESXMEM_CMD_GET_POOL,
	ESXMEM_CMD_SET_POOL,
	ESXMEM_CMD_ATTACH_KVM,
	ESXMEM_CMD_DETACH_KVM,
	ESXMEM_CMD_EVENT_STATE,
	ESXMEM_CMD_EVENT_VM_NEW,
	ESXMEM_CMD_EVENT_VM_DEL,
	ESXMEM_CMD_BALLOON,
	ESXMEM_CMD_SET_SWAP,
	__ESXMEM_CMD_MAX
};
#define ESXMEM_CMD_MAX (__ESXMEM_CMD_MAX - 1)

enum esxmem_attr {
	ESXMEM_A_UNSPEC,
	ESXMEM_A_VM,			/* nest: enum esxmem_vm_attr */
	ESXMEM_A_POOL,			/* nest: enum esxmem_pool_attr */
	__ESXMEM_A_MAX
};
#define ESXMEM_A_MAX (__ESXMEM_A_MAX - 1)

/* VM flags (ESXMEM_VM_A_FLAGS). */
enum esxmem_vm_flag {
	ESXMEM_VM_F_NO_SHARING = 1U << 0,	/* never share its pages */
	ESXMEM_VM_F_ALL = ESXMEM_VM_F_NO_SHARING,
};

/*
 * Groups of VM attributes, for ESXMEM_VM_A_FIELDS: what a GET_VM reply
 * carries besides ID.
 */
enum esxmem_vm_fields {
	/* What the VM is and how it is set: NAME, OWNER_PID, DOMAIN, SHARES,
	 * FLAGS, MIN_PAGES, MAX_PAGES, TARGET_PAGES, SIZE_PAGES, KVM_PID,
	 * SWAP_SLOTS, SWAP_TARGET_PAGES, COMPRESS_MAX_PAGES.
	 */
	ESXMEM_VM_FIELDS_CONFIG		= 1U << 0,
	/* What it uses, as the allocation policy reads it: CONSUMED_PAGES,
	 * STATE_PAGES, ACTIVE, ACTIVE_LAST, ACTIVE_SLOW, ACTIVE_FAST,
	 * ACTIVE_PARTIAL, SWAP_INS, COMPRESS_INS, PMAP_BYTES,
	 * FRAME_TABLE_BYTES.
	 */
	ESXMEM_VM_FIELDS_USAGE		= 1U << 1,
	/* SLOTS, the slot map brought up to date first (and KVM_PID). */
	ESXMEM_VM_FIELDS_SLOTS		= 1U << 2,
	/* Every other counter: MAPPINGS, FAULTS, COW_BREAKS, FAULT_WAITS,
	 * FAULT_WAIT_TIMEOUTS, PAGES_SCANNED, FULL_SCANS, HINTS, SCAN_NS,
	 * SAMPLE_FAULTS, SAMPLE_PERIODS, SWAP_OUTS, SWAP_ERRORS,
	 * COMPRESS_OUTS, COMPRESS_REJECTS, RECLAIM_SKIPPED, LOW_WAITS.
	 */
	ESXMEM_VM_FIELDS_COUNTERS	= 1U << 3,
	ESXMEM_VM_FIELDS_ALL		= (1U << 4) - 1,
};

enum esxmem_vm_attr {
	ESXMEM_VM_A_UNSPEC,
	ESXMEM_VM_A_ID,			/* u32, in/out */
	ESXMEM_VM_A_NAME,		/* string, in/out */
	ESXMEM_VM_A_OWNER_PID,		/* u32, out: the process that made it */
	ESXMEM_VM_A_DOMAIN,		/* u32, in/out: sharing domain,
					 * 0..ESXMEM_DOMAIN_MAX */
	ESXMEM_VM_A_SHARES,		/* u32, in/out: 1..ESXMEM_SHARES_MAX */
	ESXMEM_VM_A_MIN_PAGES,		/* u64, in/out */
	ESXMEM_VM_A_MAX_PAGES,		/* u64, in/out */
	ESXMEM_VM_A_TARGET_PAGES,	/* u64, in/out */
	ESXMEM_VM_A_FLAGS,		/* u32, in/out: enum esxmem_vm_flag */
	ESXMEM_VM_A_SIZE_PAGES,		/* u64, out */
	ESXMEM_VM_A_CONSUMED_PAGES,	/* u64, out */
	ESXMEM_VM_A_STATE_PAGES,	/* nest, out: u64 per page state, with
					 * attribute type = state + 1 */
	ESXMEM_VM_A_MAPPINGS,		/* u32, out */
	ESXMEM_VM_A_FAULTS,		/* u64, out */
	ESXMEM_VM_A_COW_BREAKS,		/* u64, out */
	ESXMEM_VM_A_FAULT_WAITS,	/* u64, out */
	ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS,/* u64, out */
	ESXMEM_VM_A_KVM_FD,		/* s32, in: ATTACH_KVM */
	ESXMEM_VM_A_KVM_PID,		/* u32, out: the attached KVM VM's
					 * creator; absent when detached */
	ESXMEM_VM_A_SLOTS,		/* nest, out: ESXMEM_VM_A_SLOT each */
	ESXMEM_VM_A_PAD,
	ESXMEM_VM_A_PAGES_SCANNED,	/* u64, out: sharing scanner visits */
	ESXMEM_VM_A_FULL_SCANS,		/* u64, out: passes over every page */
	ESXMEM_VM_A_HINTS,		/* u64, out: hint frames of its pages */
	ESXMEM_VM_A_SCAN_NS,		/* u64, out: scanner time spent on it */
	/*
	 * Idle-memory sampling: fractions of the sampled pages the VM
	 * touched, in parts per million: in the last full period, the slow
	 * and fast moving averages, the current period so far, and the
	 * estimate (the largest of the three; 1000000 until a period ends).
	 */
	ESXMEM_VM_A_ACTIVE_LAST,	/* u32, out */
	ESXMEM_VM_A_ACTIVE_SLOW,	/* u32, out */
	ESXMEM_VM_A_ACTIVE_FAST,	/* u32, out */
	ESXMEM_VM_A_ACTIVE_PARTIAL,	/* u32, out */
	ESXMEM_VM_A_ACTIVE,		/* u32, out: the estimate */
	ESXMEM_VM_A_SAMPLE_FAULTS,	/* u64, out: touches of sampled pages */
	ESXMEM_VM_A_SAMPLE_PERIODS,	/* u64, out: periods completed */
	ESXMEM_VM_A_BALLOON_GFNS,	/* binary, in: u64 guest frame numbers,
					 * 1..ESXMEM_BALLOON_BATCH_MAX */
	ESXMEM_VM_A_BALLOON_RELEASE,	/* flag, in: give the frames back */
	ESXMEM_VM_A_SWAP_FD,		/* s32, in: SET_SWAP */
	ESXMEM_VM_A_SWAP_SLOTS,		/* u64, out: pages the swap file can
					 * hold; 0 without one */
	ESXMEM_VM_A_SWAP_TARGET_PAGES,	/* u64, in/out: page out while the VM
					 * consumes more; ESXMEM_NO_TARGET
					 * (the default): never for a target */
	ESXMEM_VM_A_COMPRESS_MAX_PAGES,	/* u64, in/out: pages its compression
					 * cache may hold; ESXMEM_NO_TARGET
					 * (the default): reclaim/
					 * compress_percent of its size */
	ESXMEM_VM_A_SWAP_OUTS,		/* u64, out: pages written to swap */
	ESXMEM_VM_A_SWAP_INS,		/* u64, out: ... and read back */
	ESXMEM_VM_A_SWAP_ERRORS,	/* u64, out: failed swap reads/writes */
	ESXMEM_VM_A_COMPRESS_OUTS,	/* u64, out: pages compressed */
	ESXMEM_VM_A_COMPRESS_INS,	/* u64, out: ... and decompressed */
	ESXMEM_VM_A_COMPRESS_REJECTS,	/* u64, out: did not shrink enough */
	ESXMEM_VM_A_RECLAIM_SKIPPED,	/* u64, out: victims held elsewhere */
	ESXMEM_VM_A_LOW_WAITS,		/* u64, out: pages held back in low */
	/*
	 * The host memory the module spends on the VM beyond its guest
	 * pages: its pmap (one entry per guest page, SIZE_PAGES entries
	 * allocated when the size is fixed) and its part of the sharing
	 * frame table, which is sized by the guest pages of every VM and
	 * is apportioned by them: table bytes * SIZE_PAGES / the guest
	 * pages of all objects with a size (rounded down).
	 */
	ESXMEM_VM_A_PMAP_BYTES,		/* u64, out */
	ESXMEM_VM_A_FRAME_TABLE_BYTES,	/* u64, out */
	ESXMEM_VM_A_FIELDS,		/* u32, in: GET_VM: the groups of
					 * attributes to send back, enum
					 * esxmem_vm_fields; default all */
	__ESXMEM_VM_A_MAX
};
#define ESXMEM_VM_A_MAX (__ESXMEM_VM_A_MAX - 1)

/* Inside ESXMEM_VM_A_SLOTS: one nest of type ESXMEM_SLOT per slot piece
 * that lies in this object, sorted by guest frame number.
 */
#define ESXMEM_SLOT 1
enum esxmem_slot_attr {
	ESXMEM_SLOT_A_UNSPEC,
	ESXMEM_SLOT_A_ID,		/* u32: address space << 16 | slot id */
	ESXMEM_SLOT_A_BASE_GFN,		/* u64 */
	ESXMEM_SLOT_A_NPAGES,		/* u64 */
	ESXMEM_SLOT_A_OFFSET,		/* u64: object page of BASE_GFN */
	ESXMEM_SLOT_A_PAD,
	__ESXMEM_SLOT_A_MAX
};
#define ESXMEM_SLOT_A_MAX (__ESXMEM_SLOT_A_MAX - 1)

enum esxmem_pool_attr {
	ESXMEM_POOL_A_UNSPEC,
	ESXMEM_POOL_A_PAGES,		/* u64, in/out */
	ESXMEM_POOL_A_USED_PAGES,	/* u64, out */
	ESXMEM_POOL_A_FREE_PAGES,	/* s64, out: negative when overdrawn */
	ESXMEM_POOL_A_STATE,		/* u32, out: enum esxmem_mem_state */
	ESXMEM_POOL_A_HIGH_PERMILLE,	/* u32, in/out */
	ESXMEM_POOL_A_SOFT_PERMILLE,	/* u32, in/out */
	ESXMEM_POOL_A_HARD_PERMILLE,	/* u32, in/out */
	ESXMEM_POOL_A_LOW_PERMILLE,	/* u32, in/out */
	ESXMEM_POOL_A_FAULT_WAIT_MS,	/* u32, in/out: 0..600000 */
	ESXMEM_POOL_A_OBJECTS,		/* u32, out */
	ESXMEM_POOL_A_PAD,
	ESXMEM_POOL_A_SAMPLE_SECS,	/* u32, in/out: sampling period,
					 * 1..ESXMEM_SAMPLE_PERIOD_MAX */
	ESXMEM_POOL_A_SAMPLE_PAGES,	/* u32, in/out: pages sampled per VM
					 * and period, 1..ESXMEM_SAMPLE_PAGES_MAX */
	__ESXMEM_POOL_A_MAX
};
#define ESXMEM_POOL_A_MAX (__ESXMEM_POOL_A_MAX - 1)

struct esxmem_vm_stats {
	__u64 size_pages;		/* fixed size of the object */
	__u64 mappings;			/* VMAs currently mapping it */
	__u64 consumed_pages;		/* machine pages charged to it */
	__u64 state_pages[8];		/* by enum esxmem_page_state */
	__u64 faults;			/* page faults served */
	__u64 cow_breaks;		/* copy-on-write breaks */
	__u64 fault_waits;		/* faults that waited for the pool */
	__u64 fault_wait_timeouts;	/* ... and gave up with SIGBUS */
	__u64 pmap_bytes;		/* memory used by the pmap */
	__u32 id;			/* ESXMEM_VM_A_ID in netlink */
	__u32 reserved0;		/* zero */
	__u64 pages_scanned;		/* visits of the sharing scanner */
	__u64 full_scans;		/* passes over every page */
	__u64 hints;			/* hint frames naming its pages */
	__u64 scan_ns;			/* scanner time spent on it */
	__u32 active_ppm;		/* idle sampling's estimate */
	__u32 active_partial_ppm;	/* ... of the current period so far */
	__u64 sample_faults;		/* touches of sampled pages */
	__u64 sample_periods;		/* sampling periods completed */
};

struct esxmem_range {
	__u64 offset;			/* bytes */
	__u64 length;			/* bytes */
};

#define ESXMEM_IOC_MAGIC	0xE5
#define ESXMEM_IOC_SET_SIZE	_IOW(ESXMEM_IOC_MAGIC, 0x00, __u64)
#define ESXMEM_IOC_GET_STATS	_IOR(ESXMEM_IOC_MAGIC, 0x01, struct esxmem_vm_stats)
#define ESXMEM_IOC_PUNCH_HOLE	_IOW(ESXMEM_IOC_MAGIC, 0x02, struct esxmem_range)

#endif /* _UAPI_LINUX_ESXMEM_H */
