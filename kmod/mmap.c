// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: BAR2 mappings, and taking them back.
 *
 * Every device has an inode of its own on a small pseudo filesystem, and
 * every mapping of its BAR2 is a mapping of a file on that inode (a "map
 * file"), whichever way it was made:
 *  - a netlink GET_REGION_INFO hands out a map file (vfiosim_region_file);
 *  - an mmap of the VFIO device fd swaps the VMA's file for a new map file
 *    that holds the VFIO file (vfiosim_mmap), so that the device cannot
 *    close under a mapping, as with vfio-pci.
 * One unmap_mapping_range() on the inode's address space therefore zaps
 * every mapping of the device, on every kernel (vfiosim_mmap_zap).  The
 * VFIO core's own per-device inode (6.10+) is not used: 6.1 has none, and
 * one mechanism everywhere is one thing to test.
 *
 * A map file holds no reference on the device.  It holds a small
 * refcounted handle (struct vfiosim_map_ref) that the device clears when
 * it goes away, and the open generation of the owner it was made for: a
 * map file works only while that owner has the device.  Once the owner
 * closes (or the device is removed) its mappings are zapped, faults
 * SIGBUS and a new mmap() fails with ENODEV, whoever owns the device next.
 * BAR2 is mapped VM_IO | VM_PFNMAP and its pages inserted at fault time,
 * so GUP, pinning and O_DIRECT fail on it as on a real BAR.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/slab.h>

#include "compat.h"
#include "vfiosim.h"

#define VFIOSIM_FS_MAGIC	0x7666736d	/* "vfsm" */

/* What a map file holds instead of the device. */
struct vfiosim_map_ref {
	struct kref kref;
	struct rw_semaphore sem;
	struct vfiosim_dev *sdev;	/* under sem; NULL once it is gone */
};

struct vfiosim_map_file {
	struct vfiosim_map_ref *ref;
	u64 gen;			/* the owner it was made for */
	struct file *vfio_file;		/* VFIO mmaps: the device fd */
};

/* The pseudo filesystem, mounted while any device exists. */
static struct vfsmount *vfiosim_mnt;
static int vfiosim_mnt_count;

static int vfiosim_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, VFIOSIM_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type vfiosim_fs_type = {
	.name = "vfiosim",
	.owner = THIS_MODULE,
	.init_fs_context = vfiosim_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

static void vfiosim_map_ref_free(struct kref *kref)
{
	kfree(container_of(kref, struct vfiosim_map_ref, kref));
}

static vm_fault_t vfiosim_map_fault(struct vm_fault *vmf)
{
	struct vfiosim_map_file *mf = vmf->vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	down_read(&mf->ref->sem);
	if (mf->ref->sdev)
		ret = vfiosim_bar2_fault(mf->ref->sdev, mf->gen, vmf);
	up_read(&mf->ref->sem);
	return ret;
}

/*
 * A write to a page mapped read-only.  Having this op makes the VMA's
 * vm_page_prot read-only (write notify), so that migration learns of the
 * first write to each page after a read fault or a zap (core.c).
 */
static vm_fault_t vfiosim_map_pfn_mkwrite(struct vm_fault *vmf)
{
	struct vfiosim_map_file *mf = vmf->vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	down_read(&mf->ref->sem);
	if (mf->ref->sdev)
		ret = vfiosim_bar2_mkwrite(mf->ref->sdev, mf->gen, vmf);
	up_read(&mf->ref->sem);
	return ret;
}

static const struct vm_operations_struct vfiosim_map_vm_ops = {
	.fault = vfiosim_map_fault,
	.pfn_mkwrite = vfiosim_map_pfn_mkwrite,
};

/* The device is there: mf->ref->sem is held, or its VFIO file is open. */
static int vfiosim_map_setup(struct vfiosim_map_file *mf,
			     struct vm_area_struct *vma)
{
	int ret = vfiosim_bar2_mmap_check(mf->ref->sdev, mf->gen, vma);

	if (ret)
		return ret;
	vfiosim_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND |
			     VM_DONTDUMP);
	vma->vm_ops = &vfiosim_map_vm_ops;
	vma->vm_private_data = mf;
	return 0;
}

static int vfiosim_map_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vfiosim_map_file *mf = file->private_data;
	int ret = -ENODEV;

	down_read(&mf->ref->sem);
	if (mf->ref->sdev)
		ret = vfiosim_map_setup(mf, vma);
	up_read(&mf->ref->sem);
	return ret;
}

static int vfiosim_map_file_release(struct inode *inode, struct file *file)
{
	struct vfiosim_map_file *mf = file->private_data;

	if (mf->vfio_file)
		fput(mf->vfio_file);
	kref_put(&mf->ref->kref, vfiosim_map_ref_free);
	kfree(mf);
	return 0;
}

/* Offsets are those of the region info, as on a VFIO device fd. */
static const struct file_operations vfiosim_map_fops = {
	.owner = THIS_MODULE,
	.mmap = vfiosim_map_file_mmap,
	.release = vfiosim_map_file_release,
	.llseek = noop_llseek,
};

/* A new map file of @sdev for the owner of generation @gen. */
static struct file *vfiosim_map_file_new(struct vfiosim_dev *sdev, u64 gen)
{
	struct vfiosim_map_file *mf;
	struct file *file;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return ERR_PTR(-ENOMEM);
	mf->ref = sdev->map_ref;
	mf->gen = gen;

	/* The file's dentry takes an inode reference, its release ours. */
	ihold(sdev->inode);
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(sdev->inode, vfiosim_mnt, "[vfiosim-bar2]",
				 O_RDWR, &vfiosim_map_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(sdev->inode);
		kfree(mf);
		return file;
	}
	kref_get(&mf->ref->kref);
	file->private_data = mf;
	return file;
}

/*
 * The netlink transport's BAR2 file: valid while the current owner (the
 * session asking) has the device.
 */
struct file *vfiosim_region_file(struct vfiosim_dev *sdev)
{
	return vfiosim_map_file_new(sdev, vfiosim_open_gen(sdev));
}

/*
 * mmap of the VFIO device fd.  The VFIO file of an mdev shares the one
 * anon inode of the system on 6.1, so the VMA is moved to a map file on
 * our inode; that file holds the VFIO file for as long as it lives.
 */
int vfiosim_mmap(struct vfiosim_dev *sdev, struct vm_area_struct *vma)
{
	struct vfiosim_map_file *mf;
	struct file *file;
	int ret;

	file = vfiosim_map_file_new(sdev, vfiosim_open_gen(sdev));
	if (IS_ERR(file))
		return PTR_ERR(file);
	mf = file->private_data;
	/* The VFIO file is open, so the device is there. */
	ret = vfiosim_map_setup(mf, vma);
	if (!ret) {
		mf->vfio_file = get_file(vma->vm_file);
		vma_set_file(vma, file);
	}
	fput(file);
	return ret;
}

/* Zap every mapping of @sdev's BAR2; they fault again when touched. */
void vfiosim_mmap_zap(struct vfiosim_dev *sdev)
{
	unmap_mapping_range(sdev->inode->i_mapping, 0, 0, true);
}

/*
 * Zap the mappings of BAR2 page @pgoff only (migration sent it: the next
 * write faults and dirties it again).  Under vfiosim_dev.lock.
 */
void vfiosim_mmap_zap_page(struct vfiosim_dev *sdev, pgoff_t pgoff)
{
	loff_t start = VFIOSIM_REGION_OFFSET(VFIO_PCI_BAR2_REGION_INDEX) +
		       ((loff_t)pgoff << PAGE_SHIFT);

	unmap_mapping_range(sdev->inode->i_mapping, start, PAGE_SIZE, true);
}

int vfiosim_mmap_init(struct vfiosim_dev *sdev)
{
	struct vfiosim_map_ref *ref;
	struct inode *inode;
	int ret;

	ref = kzalloc(sizeof(*ref), GFP_KERNEL);
	if (!ref)
		return -ENOMEM;
	kref_init(&ref->kref);
	init_rwsem(&ref->sem);
	ref->sdev = sdev;

	ret = simple_pin_fs(&vfiosim_fs_type, &vfiosim_mnt, &vfiosim_mnt_count);
	if (ret)
		goto err_ref;
	inode = alloc_anon_inode(vfiosim_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_fs;
	}
	sdev->inode = inode;
	sdev->map_ref = ref;
	return 0;

err_fs:
	simple_release_fs(&vfiosim_mnt, &vfiosim_mnt_count);
err_ref:
	kfree(ref);
	return ret;
}

/*
 * The device is going away: its map files stop working, and their
 * mappings are gone before the caller frees BAR2's pages.
 */
void vfiosim_mmap_destroy(struct vfiosim_dev *sdev)
{
	struct vfiosim_map_ref *ref = sdev->map_ref;

	down_write(&ref->sem);
	ref->sdev = NULL;
	up_write(&ref->sem);
	vfiosim_mmap_zap(sdev);
	kref_put(&ref->kref, vfiosim_map_ref_free);
	/* Map files still open hold the inode, and the module the mount. */
	iput(sdev->inode);
	simple_release_fs(&vfiosim_mnt, &vfiosim_mnt_count);
}
