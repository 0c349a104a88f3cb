/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiosim: every kernel-version difference, and nothing else.
 * Supported: Debian 12's 6.1 and 6.12 kernels (and what lies between), and
 * Debian 13's backported 7.3.
 */
#ifndef _VFIOSIM_COMPAT_H
#define _VFIOSIM_COMPAT_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/version.h>
#include <linux/vfio.h>

/* 6.12 moved the unaligned accessors out of asm/. */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* 6.8 dropped eventfd_signal()'s count argument. */
static inline void vfiosim_eventfd_signal(struct eventfd_ctx *ctx)
{
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.4 dropped class_create()'s owner argument. */
static inline struct class *vfiosim_class_create(const char *name)
{
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
	return class_create(name);
#else
	return class_create(THIS_MODULE, name);
#endif
}

/* 6.3 made vma->vm_flags read-only behind vm_flags_set(). */
static inline void vfiosim_vm_flags_set(struct vm_area_struct *vma,
					unsigned long flags)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Before 6.2 the driver's release op had to free the vfio_device itself;
 * later the core does it after release returns.
 */
static inline void vfiosim_vfio_release_done(struct vfio_device *vdev)
{
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
	vfio_free_device(vdev);
#endif
}

/* The iommufd ops of an emulated-IOMMU device appeared in 6.2. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_IOMMUFD_EMULATED_OPS				\
	.bind_iommufd = vfio_iommufd_emulated_bind,		\
	.unbind_iommufd = vfio_iommufd_emulated_unbind,		\
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,	\
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
#else
#define VFIOSIM_IOMMUFD_EMULATED_OPS
#endif

/*
 * 6.19 moved VFIO_DEVICE_GET_REGION_INFO into the VFIO core, which asks the
 * driver's get_region_info_caps op and never passes the ioctl on; before,
 * the driver's ioctl op answered it.  Used in vfio.c's ops table, where
 * vfiosim_vfio_region_info_caps() is.
 */
#if KERNEL_VERSION(6, 19, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_REGION_INFO_CAPS_OPS				\
	.get_region_info_caps = vfiosim_vfio_region_info_caps,
#else
#define VFIOSIM_REGION_INFO_CAPS_OPS
#endif

/*
 * The virqfd helpers have the same signatures on 6.1, 6.12 and 7.3, but
 * before 6.2 they live in their own module, vfio_virqfd, which nothing
 * loads for an mdev driver.  There they are taken with symbol_request()
 * (which loads the module), and the module is held from a successful
 * enable until the matching disable.  The caller pairs the two.
 */
static inline int vfiosim_virqfd_enable(void *opaque,
					void (*thread)(void *, void *),
					struct virqfd **pvirqfd, int fd)
{
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
	int (*enable)(void *opaque, int (*handler)(void *, void *),
		      void (*thread)(void *, void *), void *data,
		      struct virqfd **pvirqfd, int fd);
	int ret;

	enable = symbol_request(vfio_virqfd_enable);
	if (!enable)
		return -ENODEV;
	ret = enable(opaque, NULL, thread, NULL, pvirqfd, fd);
	if (ret)
		symbol_put(vfio_virqfd_enable);
	return ret;
#else
	return vfio_virqfd_enable(opaque, NULL, thread, NULL, pvirqfd, fd);
#endif
}

static inline void vfiosim_virqfd_disable(struct virqfd **pvirqfd)
{
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
	void (*disable)(struct virqfd **pvirqfd);

	/* The module is held since the enable, so this cannot fail. */
	disable = symbol_get(vfio_virqfd_disable);
	if (disable) {
		disable(pvirqfd);
		symbol_put(vfio_virqfd_disable);
	}
	symbol_put(vfio_virqfd_enable);
#else
	vfio_virqfd_disable(pvirqfd);
#endif
}

/*
 * 6.10 gave genl families per-socket private state (sock_priv_size and
 * friends, genl_sk_priv_get()), destroyed when the socket is released.
 * genl.c keeps a socket's sessions there.  Before 6.10 it keeps them in a
 * table of its own, finds them by the sending struct sock (held, never
 * its portid alone), and ends them from the NETLINK_URELEASE notifier.
 * That notifier runs after the portid is free again, so it tells the
 * dying socket (SOCK_DEAD) from a new one that took the same portid.
 */
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_HAVE_GENL_SOCK_PRIV
#endif

/* 6.19 added VFIO_DEVICE_FEATURE_DMA_BUF (dmabuf.c) to the VFIO uapi. */
#if KERNEL_VERSION(6, 19, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_HAVE_DMA_BUF
#include <linux/dma-buf.h>

/*
 * 7.0 renamed dma_buf_move_notify() and the importer's move_notify op to
 * invalidate_mappings.  (The 6.19 side is not in the build matrix.)
 */
static inline void vfiosim_dma_buf_invalidate(struct dma_buf *dmabuf)
{
#if KERNEL_VERSION(7, 0, 0) <= LINUX_VERSION_CODE
	dma_buf_invalidate_mappings(dmabuf);
#else
	dma_buf_move_notify(dmabuf);
#endif
}

/* The importer is told of a revoke, and so unmaps in bounded time. */
static inline bool
vfiosim_dma_buf_attach_revocable(struct dma_buf_attachment *attach)
{
#if KERNEL_VERSION(7, 0, 0) <= LINUX_VERSION_CODE
	return attach->importer_ops && attach->importer_ops->invalidate_mappings;
#else
	return attach->importer_ops && attach->importer_ops->move_notify;
#endif
}
#endif

/*
 * Migration (migration.c).  PRE_COPY and its states came with 6.2; 6.3
 * added the migration_get_data_size op, which the VFIO core then calls
 * unconditionally for VFIO_DEVICE_FEATURE_MIG_DATA_SIZE.
 */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_HAVE_MIG_PRE_COPY
#define VFIOSIM_MIG_FLAGS						\
	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY)
#else
#define VFIOSIM_MIG_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P)
#endif

#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_MIG_DATA_SIZE_OPS					\
	.migration_get_data_size = vfiosim_mig_get_data_size,
#else
#define VFIOSIM_MIG_DATA_SIZE_OPS
#endif

/*
 * Is @state one of the PRE_COPY states?  Never before 6.2.  With
 * VFIO_PRECOPY_INFO_REINIT (the v2 precopy info, opted into by
 * VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2) flags become an output, which
 * vfiosim never sets; v1 leaves the caller's flags as they were.
 */
static inline bool vfiosim_mig_state_pre_copy(u32 state)
{
#ifdef VFIOSIM_HAVE_MIG_PRE_COPY
	return state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
#else
	return false;
#endif
}

/* The device runs (its DMA engine too) in RUNNING and PRE_COPY only. */
static inline bool vfiosim_mig_state_running(u32 state)
{
#ifdef VFIOSIM_HAVE_MIG_PRE_COPY
	if (state == VFIO_DEVICE_STATE_PRE_COPY)
		return true;
#endif
	return state == VFIO_DEVICE_STATE_RUNNING;
}

#ifdef VFIOSIM_HAVE_MIG_PRE_COPY
static inline void vfiosim_precopy_flags(struct vfio_device *vdev,
					 struct vfio_precopy_info *info)
{
#ifdef VFIO_PRECOPY_INFO_REINIT
	if (vdev->precopy_info_v2)
		info->flags = 0;
#endif
}
#endif

/*
 * The VFIO core's DMA logging (vfio_log_ops) reports through iova_bitmap.
 * Before 6.7 that is part of vfio.ko; since, it is iommufd's, built only
 * with CONFIG_IOMMUFD_DRIVER (exported in the IOMMUFD namespace, a string
 * since 6.13) and a stub that fails every REPORT without it, as in
 * Debian's 6.12 and 7.3.  There the device has no log_ops, so the core
 * answers ENOTTY and a VMM (QEMU) uses container dirty tracking instead
 * of a device log that could never report.  vfio-user's DMA logging is
 * the module's own and exists everywhere.
 */
#if KERNEL_VERSION(6, 7, 0) > LINUX_VERSION_CODE
#define VFIOSIM_HAVE_VFIO_DMA_LOGGING
#elif IS_ENABLED(CONFIG_IOMMUFD_DRIVER)
#define VFIOSIM_HAVE_VFIO_DMA_LOGGING
#if KERNEL_VERSION(6, 13, 0) <= LINUX_VERSION_CODE
#define VFIOSIM_IOVA_BITMAP_NS	"IOMMUFD"
#else
#define VFIOSIM_IOVA_BITMAP_NS	IOMMUFD
#endif
#endif

#endif /* _VFIOSIM_COMPAT_H */
