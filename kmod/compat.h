/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiosim: every kernel-version difference, and nothing else.
 * Supported: Debian 12's 6.1 and 6.12 kernels (and what lies between).
 */
#ifndef _VFIOSIM_COMPAT_H
#define _VFIOSIM_COMPAT_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/mm.h>
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

#endif /* _VFIOSIM_COMPAT_H */
