// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: VFIO_DEVICE_FEATURE_DMA_BUF, dma-bufs of BAR2.
 *
 * Answered as vfio-pci answers it for a BAR: same checks, same errnos, the
 * ioctl returns the new fd, and the buffer is revoked when the device is
 * closed.  Only BAR2's mmappable part can be exported (its trapped last
 * page cannot), and the buffer is made of BAR2's own pages, allocated
 * here if no one touched them yet.  Like vfio-pci, importers must be
 * peer-to-peer capable and revocable, and there is no dma-buf mmap: BAR2
 * is mmapped through the device fd.
 *
 * Lifetime: a dma-buf holds a registration of the vfio_device from its
 * export until the device is closed (vfiosim_dmabuf_cleanup(), which
 * revokes it) or until it is released, whichever comes first; device
 * removal cannot finish before the device is closed.  Afterwards the
 * dma-buf holds only its page references, and the module through
 * exp_info.owner, so a late release touches no device.
 *
 * Compiled on kernels whose VFIO uapi has the feature (see compat.h);
 * vfiosim.h has the stubs for the others.
 */

#include "compat.h"
#include "vfiosim.h"

#ifdef VFIOSIM_HAVE_DMA_BUF

#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>

MODULE_IMPORT_NS("DMA_BUF");

struct vfiosim_dmabuf {
	struct dma_buf *dmabuf;
	/* registered device, NULL once vfiosim_dmabuf_cleanup() let go */
	struct vfiosim_dev *sdev;
	struct list_head node;		/* on sdev->dmabufs */
	unsigned long nr_pages;
	struct page **pages;		/* each referenced */
	atomic_t nr_maps;		/* live sg_tables */
	wait_queue_head_t unmap_wq;
	bool revoked;			/* under dmabuf->resv */
};

static int vfiosim_dmabuf_attach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct vfiosim_dmabuf *priv = dmabuf->priv;

	if (!attach->peer2peer)
		return -EOPNOTSUPP;
	if (READ_ONCE(priv->revoked))
		return -ENODEV;
	/* a revoke must reach every importer, and be acted on */
	if (!vfiosim_dma_buf_attach_revocable(attach))
		return -EOPNOTSUPP;
	return 0;
}

static struct sg_table *
vfiosim_dmabuf_map(struct dma_buf_attachment *attach,
		   enum dma_data_direction dir)
{
	struct vfiosim_dmabuf *priv = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (priv->revoked)
		return ERR_PTR(-ENODEV);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, priv->pages, priv->nr_pages, 0,
					priv->nr_pages << PAGE_SHIFT,
					GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	atomic_inc(&priv->nr_maps);
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void vfiosim_dmabuf_unmap(struct dma_buf_attachment *attach,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	struct vfiosim_dmabuf *priv = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
	if (atomic_dec_and_test(&priv->nr_maps))
		wake_up(&priv->unmap_wq);
}

static void vfiosim_dmabuf_free(struct vfiosim_dmabuf *priv)
{
	unsigned long i;

	for (i = 0; i < priv->nr_pages; i++)
		put_page(priv->pages[i]);
	kvfree(priv->pages);
	kfree(priv);
}

/*
 * The last reference is gone.  vfiosim_dmabuf_cleanup() only changes
 * @priv->sdev while it holds a file reference, so it cannot be at work on
 * this dma-buf: either it let go already, or it skipped it and the
 * registration it held is still ours to drop.
 */
static void vfiosim_dmabuf_release(struct dma_buf *dmabuf)
{
	struct vfiosim_dmabuf *priv = dmabuf->priv;
	struct vfiosim_dev *sdev = priv->sdev;

	if (sdev) {
		mutex_lock(&sdev->dmabufs_lock);
		list_del_init(&priv->node);
		mutex_unlock(&sdev->dmabufs_lock);
		vfio_device_put_registration(&sdev->vdev);
	}
	vfiosim_dmabuf_free(priv);
}

/* No .mmap, as in vfio-pci: mmap(2) of the fd fails with EINVAL. */
static const struct dma_buf_ops vfiosim_dmabuf_ops = {
	.attach = vfiosim_dmabuf_attach,
	.map_dma_buf = vfiosim_dmabuf_map,
	.unmap_dma_buf = vfiosim_dmabuf_unmap,
	.release = vfiosim_dmabuf_release,
};

/*
 * vfio-pci's answer for a BAR: past the BARs ENODEV, a BAR that is not
 * implemented ENODEV, one that cannot be mapped (here BAR0, all trapped)
 * EINVAL.
 */
static int vfiosim_dmabuf_check_region(struct vfiosim_dev *sdev, u32 index)
{
	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return -ENODEV;
	if (vfiosim_region_check(sdev, index, 0, 1))
		return -ENODEV;
	if (index != VFIO_PCI_BAR2_REGION_INDEX)
		return -EINVAL;
	return 0;
}

/*
 * In vfio-pci's order: the ranges' shape and total first (EINVAL), then
 * each range against the mmappable part of BAR2 (EOVERFLOW when its end
 * wraps, EINVAL past the end).  Ranges may overlap, as there.
 */
static int vfiosim_dmabuf_check_ranges(struct vfiosim_dev *sdev,
				       const struct vfio_region_dma_range *r,
				       u32 nr, u64 *total)
{
	u64 limit = vfiosim_bar2_mmap_size(sdev);
	u64 length = 0;
	u64 end;
	u32 i;

	for (i = 0; i < nr; i++) {
		if (!r[i].length || !PAGE_ALIGNED(r[i].offset) ||
		    !PAGE_ALIGNED(r[i].length))
			return -EINVAL;
		if (check_add_overflow(length, r[i].length, &length))
			return -EINVAL;
	}
	/* vfio-pci refuses what its IOVA allocator would choke on */
	if (length & DMA_IOVA_USE_SWIOTLB)
		return -EINVAL;

	for (i = 0; i < nr; i++) {
		if (check_add_overflow(r[i].offset, r[i].length, &end))
			return -EOVERFLOW;
		if (end > limit)
			return -EINVAL;
	}
	*total = length;
	return 0;
}

/* BAR2's pages for the ranges, in order, each with a reference. */
static int vfiosim_dmabuf_get_pages(struct vfiosim_dev *sdev,
				    struct vfiosim_dmabuf *priv,
				    const struct vfio_region_dma_range *r,
				    u32 nr)
{
	unsigned long done = 0;
	u32 i;
	int ret;

	priv->pages = kvmalloc_array(priv->nr_pages, sizeof(*priv->pages),
				     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!priv->pages)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		unsigned long n = r[i].length >> PAGE_SHIFT;

		ret = vfiosim_bar2_get_pages(sdev, r[i].offset >> PAGE_SHIFT,
					     n, priv->pages + done);
		if (ret)
			goto err;
		done += n;
		cond_resched();
	}
	return 0;

err:
	while (done--)
		put_page(priv->pages[done]);
	kvfree(priv->pages);
	priv->pages = NULL;
	priv->nr_pages = 0;
	return ret;
}

static int vfiosim_dmabuf_get(struct vfiosim_dev *sdev,
			      struct vfio_device_feature_dma_buf __user *arg)
{
	struct vfio_device_feature_dma_buf hdr;
	struct vfio_region_dma_range *ranges;
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfiosim_dmabuf *priv;
	u64 length;
	int ret;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (!hdr.nr_ranges || hdr.flags)
		return -EINVAL;
	ret = vfiosim_dmabuf_check_region(sdev, hdr.region_index);
	if (ret)
		return ret;

	/* n * size cannot wrap; a huge count is ENOMEM, without a warning */
	ranges = memdup_array_user(&arg->dma_ranges, hdr.nr_ranges,
				   sizeof(*ranges));
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);
	ret = vfiosim_dmabuf_check_ranges(sdev, ranges, hdr.nr_ranges, &length);
	if (ret)
		goto err_ranges;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL_ACCOUNT);
	if (!priv) {
		ret = -ENOMEM;
		goto err_ranges;
	}
	INIT_LIST_HEAD(&priv->node);
	atomic_set(&priv->nr_maps, 0);
	init_waitqueue_head(&priv->unmap_wq);
	priv->nr_pages = length >> PAGE_SHIFT;
	ret = vfiosim_dmabuf_get_pages(sdev, priv, ranges, hdr.nr_ranges);
	if (ret)
		goto err_priv;
	kfree(ranges);
	ranges = NULL;

	if (!vfio_device_try_get_registration(&sdev->vdev)) {
		ret = -ENODEV;
		goto err_priv;
	}
	priv->sdev = sdev;

	exp_info.ops = &vfiosim_dmabuf_ops;
	exp_info.size = length;
	exp_info.flags = hdr.open_flags;
	exp_info.priv = priv;
	priv->dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(priv->dmabuf)) {
		ret = PTR_ERR(priv->dmabuf);
		goto err_registration;
	}

	/* From here dma_buf_put() frees priv, through the release op. */
	mutex_lock(&sdev->dmabufs_lock);
	list_add_tail(&priv->node, &sdev->dmabufs);
	mutex_unlock(&sdev->dmabufs_lock);

	/* Flags as vfio-pci passes them: the fd takes O_CLOEXEC from them. */
	ret = dma_buf_fd(priv->dmabuf, hdr.open_flags);
	if (ret < 0)
		dma_buf_put(priv->dmabuf);
	return ret;

err_registration:
	vfio_device_put_registration(&sdev->vdev);
err_priv:
	vfiosim_dmabuf_free(priv);
err_ranges:
	kfree(ranges);
	return ret;
}

/* VFIO_DEVICE_FEATURE_DMA_BUF; any other feature is not ours here. */
int vfiosim_dmabuf_feature(struct vfiosim_dev *sdev, u32 flags,
			   void __user *arg, size_t argsz)
{
	int ret;

	if ((flags & VFIO_DEVICE_FEATURE_MASK) != VFIO_DEVICE_FEATURE_DMA_BUF)
		return -ENOTTY;
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(struct vfio_device_feature_dma_buf));
	if (ret != 1)
		return ret;
	return vfiosim_dmabuf_get(sdev, arg);
}

/*
 * Revoke: no new attachment or mapping, importers told to unmap, their
 * fences waited for, then their unmaps.  Revocable importers unmap in
 * bounded time; no other kind can attach.
 */
static void vfiosim_dmabuf_revoke(struct vfiosim_dmabuf *priv)
{
	struct dma_buf *dmabuf = priv->dmabuf;

	dma_resv_lock(dmabuf->resv, NULL);
	WRITE_ONCE(priv->revoked, true);
	vfiosim_dma_buf_invalidate(dmabuf);
	dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP, false,
			      MAX_SCHEDULE_TIMEOUT);
	dma_resv_unlock(dmabuf->resv);
	wait_event(priv->unmap_wq, !atomic_read(&priv->nr_maps));
}

/*
 * The device is being closed: revoke its dma-bufs and let go of the
 * device.  One whose file is already dying is left to its release, which
 * still holds the registration and takes it off the list.
 */
void vfiosim_dmabuf_cleanup(struct vfiosim_dev *sdev)
{
	struct vfiosim_dmabuf *priv, *tmp;

	mutex_lock(&sdev->dmabufs_lock);
	list_for_each_entry_safe(priv, tmp, &sdev->dmabufs, node) {
		if (!get_file_active(&priv->dmabuf->file))
			continue;
		vfiosim_dmabuf_revoke(priv);
		list_del_init(&priv->node);
		priv->sdev = NULL;
		vfio_device_put_registration(&sdev->vdev);
		/* a last reference is dropped later, never in this call */
		fput(priv->dmabuf->file);
	}
	mutex_unlock(&sdev->dmabufs_lock);
}

#endif /* VFIOSIM_HAVE_DMA_BUF */
