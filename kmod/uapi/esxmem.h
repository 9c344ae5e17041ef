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
 *            maps the shared zero frame.
 * ftruncate() (esxmemfs): fixes the size like ESXMEM_IOC_SET_SIZE, once.
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) (esxmemfs) and
 * ESXMEM_IOC_PUNCH_HOLE (both): free the pages of a range (partial pages at
 *            either end are zeroed in place); the next touch reads zeros.
 *            Other fallocate() modes fail with EOPNOTSUPP. (The VFS refuses
 *            fallocate() on character devices, hence the ioctl.)
 * close():   when the last reference (fd, mapping or, for esxmemfs, a link)
 *            goes, every page returns to the machine-memory pool.
 *
 * When the pool is exhausted, a fault waits (killably, for at most
 * /sys/kernel/mm/esxmem/fault_wait_ms) for memory to be freed; if none is
 * freed in time the faulting task gets SIGBUS. The host never goes out of
 * memory on esxmem's account.
 *
 * ioctls on an object fd (either kind):
 *
 * ESXMEM_IOC_SET_SIZE (__u64 bytes, in)
 *     Fixes the object's size before the first mmap. The size must be a
 *     non-zero multiple of the page size, at most ESXMEM_MAX_OBJECT_BYTES.
 *     Errors: EINVAL (bad size), EBUSY (size already fixed to another
 *     value), ENOMEM.
 *
 * ESXMEM_IOC_GET_STATS (struct esxmem_vm_stats, out)
 *     The object's counters, all in pages unless named otherwise.
 *
 * ESXMEM_IOC_PUNCH_HOLE (struct esxmem_range, in)
 *     Frees the pages of [offset, offset + length), clamped to the size.
 *     Errors: EINVAL (negative or overflowing range).
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
	ESXMEM_PAGE_ZERO,		/* backed by the shared zero frame */
	ESXMEM_PAGE_BALLOONED,		/* given up by the guest's balloon */
	ESXMEM_PAGE_SWAPPED,		/* in the VM's swap file */
	ESXMEM_PAGE_COMPRESSED,		/* in the VM's compression cache */
	ESXMEM_PAGE_NR_STATES,
};

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
	__u64 reserved[8];		/* zero */
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
