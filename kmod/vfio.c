// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the VFIO transport.
 *
 * Translates the VFIO device uapi (ioctls, read/write at region offsets,
 * mmap) into core calls.  Argument checking uses the VFIO core's helpers;
 * device behaviour is core.c's.
 */

#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "vfiosim.h"

/* Region offsets carry the region index in their top bits. */
#define VFIOSIM_OFFSET_MASK	(VFIOSIM_REGION_OFFSET(1) - 1)

/* Bounce buffer for one chunk of a region access. */
#define VFIOSIM_RW_CHUNK	PAGE_SIZE

#ifdef VFIOSIM_HAVE_VFIO_DMA_LOGGING
static const struct vfio_log_ops vfiosim_vfio_log_ops;
#endif

static int vfiosim_vfio_init(struct vfio_device *vdev)
{
	struct vfiosim_dev *sdev = vdev_to_sdev(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	int ret;

	ret = vfiosim_dev_init(sdev, container_of(mdev->type,
						  struct vfiosim_type, mtype));
	if (ret)
		return ret;
	ret = vfiosim_mig_init(sdev);	/* mig_ops, before registration */
	if (ret) {
		vfiosim_dev_destroy(sdev);
		return ret;
	}
	mutex_init(&sdev->nl_lock);
	init_waitqueue_head(&sdev->session_wq);
	mutex_init(&sdev->dmabufs_lock);
	INIT_LIST_HEAD(&sdev->dmabufs);
#ifdef VFIOSIM_HAVE_VFIO_DMA_LOGGING
	vdev->log_ops = &vfiosim_vfio_log_ops;
#endif
	return 0;
}

static void vfiosim_vfio_release(struct vfio_device *vdev)
{
	mutex_destroy(&vdev_to_sdev(vdev)->dmabufs_lock);
	mutex_destroy(&vdev_to_sdev(vdev)->nl_lock);
	vfiosim_mig_destroy(vdev_to_sdev(vdev));
	vfiosim_dev_destroy(vdev_to_sdev(vdev));
	vfiosim_vfio_release_done(vdev);
}

/* A device held by a netlink socket answers EBUSY here; OPENED is sent. */
static int vfiosim_open_device(struct vfio_device *vdev)
{
	return vfiosim_claim(vdev_to_sdev(vdev), VFIOSIM_OWNER_VFIO);
}

/*
 * No eventfd or dma-buf outlives the user that set it, and the device is
 * reset for the next one (in vfiosim_unclaim), as vfio-pci resets the
 * function at close.
 */
static void vfiosim_close_device(struct vfio_device *vdev)
{
	struct vfiosim_dev *sdev = vdev_to_sdev(vdev);

	vfiosim_dmabuf_cleanup(sdev);
	vfiosim_release_irqs(sdev);
	vfiosim_unclaim(sdev);		/* and CLOSED */
}

static ssize_t vfiosim_rw(struct vfiosim_dev *sdev, char __user *ubuf,
			  size_t count, loff_t *ppos, bool write)
{
	u32 index = *ppos >> VFIOSIM_REGION_SHIFT;
	u64 offset = *ppos & VFIOSIM_OFFSET_MASK;
	size_t done = 0;
	u64 small;
	void *buf;
	int ret;

	if (!count)
		return 0;

	/* The hot path, a register access: one call, no allocation. */
	if (count <= sizeof(small)) {
		buf = &small;
		if (write && copy_from_user(buf, ubuf, count))
			return -EFAULT;
		ret = vfiosim_region_rw(sdev, index, offset, buf, count, write);
		if (ret)
			return ret;
		if (!write && copy_to_user(ubuf, buf, count))
			return -EFAULT;
		*ppos += count;
		return count;
	}

	/* Refuse an access that does not fit before touching anything. */
	ret = vfiosim_region_check(sdev, index, offset, count);
	if (ret)
		return ret;
	buf = kmalloc(min_t(size_t, count, VFIOSIM_RW_CHUNK), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	while (done < count) {
		size_t len = min_t(size_t, count - done, VFIOSIM_RW_CHUNK);

		if (write && copy_from_user(buf, ubuf + done, len)) {
			ret = -EFAULT;
			break;
		}
		ret = vfiosim_region_rw(sdev, index, offset + done, buf, len,
					write);
		if (ret)
			break;
		if (!write && copy_to_user(ubuf + done, buf, len)) {
			ret = -EFAULT;
			break;
		}
		done += len;
	}
	kfree(buf);
	if (ret && !done)
		return ret;
	*ppos += done;
	return done;
}

static ssize_t vfiosim_read(struct vfio_device *vdev, char __user *buf,
			    size_t count, loff_t *ppos)
{
	return vfiosim_rw(vdev_to_sdev(vdev), buf, count, ppos, false);
}

static ssize_t vfiosim_write(struct vfio_device *vdev, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	return vfiosim_rw(vdev_to_sdev(vdev), (char __user *)buf, count, ppos,
			  true);
}

static long vfiosim_ioctl_device_info(struct vfiosim_dev *sdev,
				      void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	vfiosim_get_device_info(sdev, &info);
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/* The region info and its capability chain, for the VFIO core (6.19+). */
static int __maybe_unused
vfiosim_vfio_region_info_caps(struct vfio_device *vdev,
			      struct vfio_region_info *info,
			      struct vfio_info_cap *caps)
{
	return vfiosim_get_region_info(vdev_to_sdev(vdev), info, caps);
}

/*
 * Before 6.19 the ioctl is ours, and answers as vfio-pci and the later
 * VFIO core do: FLAG_CAPS whenever there are capabilities, and when they
 * do not fit, argsz grown to what they need with cap_offset 0.
 */
static long vfiosim_ioctl_region_info(struct vfiosim_dev *sdev,
				      void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_info_cap caps = {};
	struct vfio_region_info info = {};
	int ret;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	ret = vfiosim_region_info_chain(sdev, &info, &caps, true);
	if (ret)
		goto out;
	if (caps.size &&
	    copy_to_user(arg + sizeof(info), caps.buf, caps.size)) {
		ret = -EFAULT;
		goto out;
	}
	if (copy_to_user(arg, &info, minsz))
		ret = -EFAULT;
out:
	kfree(caps.buf);
	return ret;
}

static long vfiosim_ioctl_irq_info(struct vfiosim_dev *sdev, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;
	int ret;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	ret = vfiosim_get_irq_info(sdev, &info);
	if (ret)
		return ret;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long vfiosim_ioctl_set_irqs(struct vfiosim_dev *sdev, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_info irq = {};
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	void *data = NULL;
	int ret;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;

	irq.index = hdr.index;
	if (vfiosim_get_irq_info(sdev, &irq))
		return vfiosim_trace_set_irqs_refused(sdev, &hdr, -EINVAL);
	ret = vfio_set_irqs_validate_and_prepare(&hdr, irq.count,
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return vfiosim_trace_set_irqs_refused(sdev, &hdr, ret);

	if (data_size) {
		data = memdup_user(arg + minsz, data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}
	ret = vfiosim_set_irqs(sdev, &hdr, data);
	kfree(data);
	return ret;
}

static long vfiosim_ioctl(struct vfio_device *vdev, unsigned int cmd,
			  unsigned long arg)
{
	struct vfiosim_dev *sdev = vdev_to_sdev(vdev);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vfiosim_ioctl_device_info(sdev, uarg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return vfiosim_ioctl_region_info(sdev, uarg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return vfiosim_ioctl_irq_info(sdev, uarg);
	case VFIO_DEVICE_SET_IRQS:
		return vfiosim_ioctl_set_irqs(sdev, uarg);
	case VFIO_DEVICE_RESET:
		return vfiosim_user_reset(sdev);
	}
	return -ENOTTY;
}

static int vfiosim_vfio_device_feature(struct vfio_device *vdev, u32 flags,
				       void __user *arg, size_t argsz)
{
	struct vfiosim_dev *sdev = vdev_to_sdev(vdev);
	int ret;

	/* the features the VFIO core serves itself never get here */
	ret = vfiosim_fault_op(sdev, VFIOSIM_FAULT_FEATURE);
	if (ret)
		return ret;
	/* BAR2 dma-bufs are VFIO's own; any other feature is the device's. */
	ret = vfiosim_dmabuf_feature(sdev, flags, arg, argsz);
	if (ret != -ENOTTY)
		return ret;
	return vfiosim_device_feature(sdev, flags);
}

#ifdef VFIOSIM_HAVE_VFIO_DMA_LOGGING
/* The core checked the ranges (aligned, not overlapping, at most 256). */
static int vfiosim_vfio_log_start(struct vfio_device *vdev,
				  struct rb_root_cached *ranges, u32 nnodes,
				  u64 *page_size)
{
	struct vfio_device_feature_dma_logging_range *r;
	struct interval_tree_node *node;
	u32 i = 0;
	int ret;

	r = kcalloc(nnodes, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX);
	     node && i < nnodes; node = interval_tree_iter_next(node, 0,
								 ULONG_MAX)) {
		r[i].iova = node->start;
		r[i].length = node->last - node->start + 1;
		i++;
	}
	ret = vfiosim_dma_log_start(vdev_to_sdev(vdev), r, i, *page_size);
	kfree(r);
	return ret;
}

static int vfiosim_vfio_log_stop(struct vfio_device *vdev)
{
	return vfiosim_dma_log_stop(vdev_to_sdev(vdev));
}

static void vfiosim_vfio_log_set(void *opaque, u64 iova, u64 len)
{
	iova_bitmap_set(opaque, iova, len);
}

static int vfiosim_vfio_log_read_and_clear(struct vfio_device *vdev,
					   unsigned long iova,
					   unsigned long length,
					   struct iova_bitmap *dirty)
{
	return vfiosim_dma_log_report(vdev_to_sdev(vdev), iova, length,
				      vfiosim_vfio_log_set, dirty);
}

static const struct vfio_log_ops vfiosim_vfio_log_ops = {
	.log_start = vfiosim_vfio_log_start,
	.log_stop = vfiosim_vfio_log_stop,
	.log_read_and_clear = vfiosim_vfio_log_read_and_clear,
};
#endif

static int vfiosim_vfio_mmap(struct vfio_device *vdev,
			     struct vm_area_struct *vma)
{
	return vfiosim_mmap(vdev_to_sdev(vdev), vma);
}

static void vfiosim_vfio_request(struct vfio_device *vdev, unsigned int count)
{
	vfiosim_request(vdev_to_sdev(vdev), count);
}

const struct vfio_device_ops vfiosim_vfio_ops = {
	.name = VFIOSIM_NAME,
	.init = vfiosim_vfio_init,
	.release = vfiosim_vfio_release,
	.open_device = vfiosim_open_device,
	.close_device = vfiosim_close_device,
	.read = vfiosim_read,
	.write = vfiosim_write,
	.ioctl = vfiosim_ioctl,
	VFIOSIM_REGION_INFO_CAPS_OPS
	.mmap = vfiosim_vfio_mmap,
	.request = vfiosim_vfio_request,
	.device_feature = vfiosim_vfio_device_feature,
	VFIOSIM_IOMMUFD_EMULATED_OPS
};

#ifdef VFIOSIM_IOVA_BITMAP_NS
MODULE_IMPORT_NS(VFIOSIM_IOVA_BITMAP_NS);
#endif
