// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemfs: VM memory objects as regular files.
 *
 * VMMs discard guest RAM with fallocate(PUNCH_HOLE) on the file behind it
 * (QEMU's virtio-balloon, virtio-mem and free page reporting all do), and
 * the VFS allows fallocate() only on regular files. So besides /dev/esxmem
 * esxmem offers a filesystem, used like hugetlbfs:
 *
 *   mount -t esxmem esxmem /run/esxmem
 *   qemu-system-x86_64 -object memory-backend-file,...,mem-path=/run/esxmem,share=on
 *
 * QEMU creates a file there, unlinks it, sizes it with ftruncate() and maps
 * it. Every regular file is one VM memory object, freed when its inode goes;
 * directories only group files (libvirt makes one per domain).
 * /dev/esxmem creates its objects as unlinked files of an internal mount.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/huge_mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/falloc.h>
#include <linux/mm.h>

#include "esxmem.h"

static struct vfsmount *esxmem_internal_mnt;

/*
 * Module threads and netlink requests hold a VM by its inode while they
 * work on it. A superblock must not be shut down with an inode held (the
 * VFS would leave it behind, "Busy inodes after unmount", and the holder's
 * iput() would touch a freed superblock), and an esxmemfs mount can go
 * while a VM is held: umount -l, then the last file closed. So holds are
 * counted per superblock, and its shutdown refuses new ones and waits for
 * the last to go; holds last a batch of work, not longer.
 */
struct esxmemfs_info {
	atomic_t holds;
	bool dying;
	struct rcu_head rcu;	/* esxmem_vm_grab() may find it under RCU */
};

/*
 * Holds @vm by its inode, or returns false when the VM or its filesystem
 * is on its way out. Called under esxmem_vms_lock or RCU, which keep the
 * inode, its superblock and their esxmemfs_info in memory; never sleeps.
 */
bool esxmem_vm_grab(struct esxmem_vm *vm)
{
	struct esxmemfs_info *fsi = vm->inode->i_sb->s_fs_info;

	atomic_inc(&fsi->holds);
	/* Pairs with the barrier in esxmemfs_kill_sb(). */
	smp_mb__after_atomic();
	if (!READ_ONCE(fsi->dying) && igrab(vm->inode))
		return true;
	if (atomic_dec_and_test(&fsi->holds))
		wake_up_var(&fsi->holds);
	return false;
}

/* Lets go of a VM that esxmem_vm_grab() held; may free it. May sleep. */
void esxmem_vm_put(struct esxmem_vm *vm)
{
	struct esxmemfs_info *fsi = vm->inode->i_sb->s_fs_info;

	iput(vm->inode);
	/* wake_up_var() does not touch @fsi, which may be freed by now. */
	if (atomic_dec_and_test(&fsi->holds))
		wake_up_var(&fsi->holds);
}

static int esxmemfs_open(struct inode *inode, struct file *file)
{
	file->private_data = inode->i_private;
	return 0;
}

static const struct file_operations esxmemfs_file_fops = {
	.owner = THIS_MODULE,
	.open = esxmemfs_open,
	.mmap = esxmem_mmap,
	/* Aligned for large pages: see large.c. */
	.get_unmapped_area = thp_get_unmapped_area,
	.fallocate = esxmem_fallocate,
	.unlocked_ioctl = esxmem_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = generic_file_llseek,
};

/* ftruncate() fixes the size once, as SET_SIZE does; it never changes. */
static int esxmemfs_setattr(struct esxmem_idmap *idmap,
			    struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if (attr->ia_valid & ATTR_SIZE) {
		if (!attr->ia_size || !PAGE_ALIGNED(attr->ia_size))
			return -EINVAL;
		err = esxmem_vm_fix_size(inode->i_private,
					 attr->ia_size >> PAGE_SHIFT, true);
		if (err)
			return err;
	}
	setattr_copy(idmap, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

static const struct inode_operations esxmemfs_file_iops = {
	.setattr = esxmemfs_setattr,
	.getattr = simple_getattr,
};

static const struct inode_operations esxmemfs_dir_iops;

static struct inode *esxmemfs_new_inode(struct super_block *sb,
					const struct inode *dir, umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;
	inode->i_ino = get_next_ino();
	inode_init_owner(ESXMEM_NOP_IDMAP, inode, dir, mode);
	esxmem_inode_times_now(inode);
	if (S_ISDIR(mode)) {
		inode->i_op = &esxmemfs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);
		return inode;
	}
	inode->i_private = esxmem_vm_create(inode);
	if (!inode->i_private) {
		/* evict_inode sees no object and frees nothing. */
		iput(inode);
		return NULL;
	}
	inode->i_op = &esxmemfs_file_iops;
	inode->i_fop = &esxmemfs_file_fops;
	return inode;
}

/* A new file (a VM memory object) or directory, as ramfs makes them. */
static int esxmemfs_mknod(struct inode *dir, struct dentry *dentry, umode_t mode)
{
	struct inode *inode = esxmemfs_new_inode(dir->i_sb, dir, mode);

	if (!inode)
		return -ENOMEM;
	d_instantiate(dentry, inode);
	dget(dentry);	/* pinned until unlink or rmdir */
	if (S_ISDIR(mode))
		inc_nlink(dir);
	esxmem_inode_changed_now(dir);
	return 0;
}

static int esxmemfs_create(struct esxmem_idmap *idmap, struct inode *dir,
			   struct dentry *dentry, umode_t mode, bool excl)
{
	return esxmemfs_mknod(dir, dentry, (mode & ~S_IFMT) | S_IFREG);
}

/* libvirt's memory_backing_dir keeps each domain's files in directories. */
static int esxmemfs_mkdir(struct esxmem_idmap *idmap, struct inode *dir,
			  struct dentry *dentry, umode_t mode)
{
	return esxmemfs_mknod(dir, dentry, (mode & ~S_IFMT) | S_IFDIR);
}

static const struct inode_operations esxmemfs_dir_iops = {
	.lookup = simple_lookup,
	.create = esxmemfs_create,
	.unlink = simple_unlink,
	.mkdir = esxmemfs_mkdir,
	.rmdir = simple_rmdir,
};

static void esxmemfs_evict_inode(struct inode *inode)
{
	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (S_ISREG(inode->i_mode) && inode->i_private)
		esxmem_vm_destroy(inode->i_private);
}

static const struct super_operations esxmemfs_sops = {
	.statfs = simple_statfs,
	.drop_inode = generic_delete_inode,
	.evict_inode = esxmemfs_evict_inode,
};

static int esxmemfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct inode *root;

	sb->s_fs_info = kzalloc(sizeof(struct esxmemfs_info), GFP_KERNEL);
	if (!sb->s_fs_info)
		return -ENOMEM;
	sb->s_maxbytes = ESXMEM_MAX_OBJECT_BYTES;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = ESXMEM_MAGIC;
	sb->s_op = &esxmemfs_sops;
	sb->s_time_gran = 1;
	root = esxmemfs_new_inode(sb, NULL, S_IFDIR | 0755);
	sb->s_root = d_make_root(root);
	return sb->s_root ? 0 : -ENOMEM;
}

static int esxmemfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, esxmemfs_fill_super);
}

static void esxmemfs_kill_sb(struct super_block *sb)
{
	struct esxmemfs_info *fsi = sb->s_fs_info;

	if (fsi) {
		WRITE_ONCE(fsi->dying, true);
		/* Pairs with the barrier in esxmem_vm_grab(). */
		smp_mb();
		wait_var_event(&fsi->holds, !atomic_read(&fsi->holds));
	}
	kill_litter_super(sb);
	/* A VM found under RCU just before it went may still be grabbed. */
	if (fsi)
		kfree_rcu(fsi, rcu);
}

static const struct fs_context_operations esxmemfs_context_ops = {
	.get_tree = esxmemfs_get_tree,
};

static int esxmemfs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &esxmemfs_context_ops;
	return 0;
}

/* What users mount; a mount holds the module. */
static struct file_system_type esxmemfs_type = {
	.owner = THIS_MODULE,
	.name = "esxmem",
	.init_fs_context = esxmemfs_init_fs_context,
	.kill_sb = esxmemfs_kill_sb,
};

/* The internal instance behind /dev/esxmem: unregistered and ownerless,
 * so that it does not pin the module.
 */
static struct file_system_type esxmemfs_internal_type = {
	.name = "esxmem-internal",
	.init_fs_context = esxmemfs_init_fs_context,
	.kill_sb = esxmemfs_kill_sb,
};

struct inode *esxmem_fs_new_object(void)
{
	return esxmemfs_new_inode(esxmem_internal_mnt->mnt_sb, NULL,
				  S_IFREG | 0600);
}

int esxmem_fs_init(void)
{
	int err;

	esxmem_internal_mnt = kern_mount(&esxmemfs_internal_type);
	if (IS_ERR(esxmem_internal_mnt))
		return PTR_ERR(esxmem_internal_mnt);
	err = register_filesystem(&esxmemfs_type);
	if (err)
		kern_unmount(esxmem_internal_mnt);
	return err;
}

void esxmem_fs_exit(void)
{
	unregister_filesystem(&esxmemfs_type);
	kern_unmount(esxmem_internal_mnt);
}
