/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels esxmem.ko builds for, Linux 6.1 and
 * 6.12, in one place: the rest of the code is written against the newer
 * interfaces, and this header provides them on the older kernel.
 */
#ifndef _ESXMEM_COMPAT_H
#define _ESXMEM_COMPAT_H

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/version.h>

/* 6.3: inode operations take the mount's idmap, not its user namespace. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define esxmem_idmap		mnt_idmap
#define ESXMEM_NOP_IDMAP	(&nop_mnt_idmap)
#else
#define esxmem_idmap		user_namespace
#define ESXMEM_NOP_IDMAP	(&init_user_ns)
#endif

/* 6.3: vm_flags may change only through these. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/* 6.7: inode times are reached through accessors. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline void esxmem_inode_times_now(struct inode *inode)
{
	simple_inode_init_ts(inode);
}

static inline void esxmem_inode_changed_now(struct inode *inode)
{
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
}
#else
static inline void esxmem_inode_times_now(struct inode *inode)
{
	inode->i_atime = inode->i_mtime = inode->i_ctime = current_time(inode);
}

static inline void esxmem_inode_changed_now(struct inode *inode)
{
	inode->i_mtime = inode->i_ctime = current_time(inode);
}
#endif

/* 6.6: a dump's request attributes moved into a struct genl_info. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define esxmem_genl_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#else
#define esxmem_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/*
 * 6.10: the kernel's zero page may no longer be mapped in a shared mapping
 * that may be written; zero.c maps frames of its own there instead.
 */
#define ESXMEM_KERNEL_ZERO_PAGE_SHARED \
	(LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0))

/* 6.5: a fault may hold the VMA's lock instead of mmap_lock. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
static inline void release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

/*
 * How many page tables map @page, a small page. 6.1 exports no
 * folio_mapcount(), 6.12 no longer has page_mapcount().
 */
static inline int esxmem_page_mapcount(struct page *page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	return folio_mapcount(page_folio(page));
#else
	return page_mapcount(page);
#endif
}

/* 6.6: ->huge_fault() takes the mapping's order, not its size's name. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define ESXMEM_HUGE_FAULT_ARG		unsigned int order
#define ESXMEM_HUGE_FAULT_IS_PMD	(order == PMD_SHIFT - PAGE_SHIFT)
#else
#define ESXMEM_HUGE_FAULT_ARG		enum page_entry_size pe_size
#define ESXMEM_HUGE_FAULT_IS_PMD	(pe_size == PE_SIZE_PMD)
#endif

/* 6.12: struct fd is one word, its file read with fd_file(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#define fd_file(f)	((f).file)
#endif

/* 6.9: MPOL_WEIGHTED_INTERLEAVE, interleaving with node weights. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#define ESXMEM_HAVE_MPOL_WEIGHTED_INTERLEAVE
#endif

#endif
