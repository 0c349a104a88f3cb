// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: synthetic PCI devices for VFIO, in the spirit of netdevsim.
 *
 * This file registers the mdev parent "vfiosim" and its types.  Devices are
 * created and removed through the standard mdev sysfs:
 *   /sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-<type>/create
 */

#include <linux/device.h>
#include <linux/module.h>

#include "compat.h"
#include "vfiosim.h"

/*
 * Devices across all types (the mdev core's max_instances counts per
 * parent); each costs a few KiB until BAR2 is touched.
 */
#define VFIOSIM_MAX_DEVICES	4096

static struct vfiosim_type vfiosim_types[] = {
	{
		.mtype = { .sysfs_name = "small", .pretty_name = "vfiosim-small" },
		.description = "vfiosim small: 64 KiB BAR2, 4 MSI and 4 MSI-X vectors",
		.device_id = VFIOSIM_PCI_DEVICE_SMALL,
		.bar2_size = VFIOSIM_BAR2_SIZE_SMALL,
		.msi_vectors = VFIOSIM_MSI_VECTORS_SMALL,
		.msix_vectors = VFIOSIM_MSIX_VECTORS_SMALL,
	},
	{
		.mtype = { .sysfs_name = "full", .pretty_name = "vfiosim-full" },
		.description = "vfiosim full: 16 MiB BAR2, 32 MSI and 32 MSI-X vectors",
		.device_id = VFIOSIM_PCI_DEVICE_FULL,
		.bar2_size = VFIOSIM_BAR2_SIZE_FULL,
		.msi_vectors = VFIOSIM_MSI_VECTORS_FULL,
		.msix_vectors = VFIOSIM_MSIX_VECTORS_FULL,
	},
};

static struct mdev_type *vfiosim_mdev_types[ARRAY_SIZE(vfiosim_types)];

/* The registry netlink looks devices up in; see the lock order in vfiosim.h */
DEFINE_XARRAY_ALLOC(vfiosim_devices);
atomic_t vfiosim_devices_gen = ATOMIC_INIT(0);

static struct class *vfiosim_class;
static struct device vfiosim_parent_dev;
static struct mdev_parent vfiosim_parent;

static int vfiosim_probe(struct mdev_device *mdev)
{
	struct vfiosim_dev *sdev;
	int ret;

	sdev = vfio_alloc_device(vfiosim_dev, vdev, &mdev->dev,
				 &vfiosim_vfio_ops);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);

	ret = vfio_register_emulated_iommu_dev(&sdev->vdev);
	if (ret) {
		vfio_put_device(&sdev->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, sdev);

	ret = xa_alloc(&vfiosim_devices, &sdev->id, sdev, xa_limit_32b,
		       GFP_KERNEL);
	if (ret) {
		vfio_unregister_group_dev(&sdev->vdev);
		vfio_put_device(&sdev->vdev);
		return ret;
	}
	atomic_inc(&vfiosim_devices_gen);
	vfiosim_fault_add(sdev);
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_CREATED);
	return 0;
}

/*
 * Blocks until the device's user lets go: a netlink owner and a VFIO owner
 * alike are asked through REQ (vfiosim_request()) and waited for.
 */
static void vfiosim_remove(struct mdev_device *mdev)
{
	struct vfiosim_dev *sdev = dev_get_drvdata(&mdev->dev);

	vfiosim_netlink_remove(sdev);
	vfio_unregister_group_dev(&sdev->vdev);
	vfiosim_fault_del(sdev);	/* the knobs last: until the user let go */
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_REMOVED);
	vfio_put_device(&sdev->vdev);
}

static ssize_t vfiosim_show_description(struct mdev_type *mtype, char *buf)
{
	struct vfiosim_type *type = container_of(mtype, struct vfiosim_type,
						 mtype);

	return sysfs_emit(buf, "%s\n", type->description);
}

static struct mdev_driver vfiosim_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = VFIOSIM_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = vfiosim_probe,
	.remove = vfiosim_remove,
	/* available_instances and EUSERS at the limit are the mdev core's */
	.max_instances = VFIOSIM_MAX_DEVICES,
	.show_description = vfiosim_show_description,
};

static void vfiosim_parent_release(struct device *dev)
{
}

static int __init vfiosim_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(vfiosim_types); i++) {
		vfiosim_type_init(&vfiosim_types[i]);
		vfiosim_mdev_types[i] = &vfiosim_types[i].mtype;
	}

	ret = vfiosim_fault_module_init();
	if (ret)
		return ret;
	ret = vfiosim_netlink_init();
	if (ret)
		goto err_fault;
	ret = mdev_register_driver(&vfiosim_driver);
	if (ret)
		goto err_netlink;

	vfiosim_class = vfiosim_class_create(VFIOSIM_NAME);
	if (IS_ERR(vfiosim_class)) {
		ret = PTR_ERR(vfiosim_class);
		goto err_driver;
	}

	vfiosim_parent_dev.class = vfiosim_class;
	vfiosim_parent_dev.release = vfiosim_parent_release;
	device_initialize(&vfiosim_parent_dev);
	ret = dev_set_name(&vfiosim_parent_dev, VFIOSIM_NAME);
	if (ret)
		goto err_put;
	ret = device_add(&vfiosim_parent_dev);
	if (ret)
		goto err_put;

	ret = mdev_register_parent(&vfiosim_parent, &vfiosim_parent_dev,
				   &vfiosim_driver, vfiosim_mdev_types,
				   ARRAY_SIZE(vfiosim_mdev_types));
	if (ret)
		goto err_del;
	return 0;

err_del:
	device_del(&vfiosim_parent_dev);
err_put:
	put_device(&vfiosim_parent_dev);
	class_destroy(vfiosim_class);
err_driver:
	mdev_unregister_driver(&vfiosim_driver);
err_netlink:
	vfiosim_netlink_exit();
err_fault:
	vfiosim_fault_module_exit();
	return ret;
}

static void __exit vfiosim_exit(void)
{
	mdev_unregister_parent(&vfiosim_parent);
	device_unregister(&vfiosim_parent_dev);
	class_destroy(vfiosim_class);
	mdev_unregister_driver(&vfiosim_driver);
	vfiosim_netlink_exit();
	vfiosim_fault_module_exit();
}

module_init(vfiosim_init);
module_exit(vfiosim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Synthetic PCI devices for VFIO, reached through mdev");
