// SPDX-License-Identifier: GPL-2.0
/*
 * What a vfiosim device says about itself: device, region and IRQ info and
 * VFIO_DEVICE_FEATURE.  Every expected value comes from
 * uapi/linux/vfiosim.h or from the VFIO uapi's documented semantics.
 */
#include <stdlib.h>

#include "vfiosim_test.h"

#define REGION_RW	(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)

/* Regions vfiosim does not implement: BAR1 (BAR0 is 32-bit), BAR3 (upper
 * half of 64-bit BAR2), BAR4, BAR5, the expansion ROM and VGA. */
static const uint32_t unimplemented_regions[] = {
	VFIO_PCI_BAR1_REGION_INDEX, VFIO_PCI_BAR3_REGION_INDEX,
	VFIO_PCI_BAR4_REGION_INDEX, VFIO_PCI_BAR5_REGION_INDEX,
	VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
};

TEST_F(vfiosim, backend_is_the_variant)
{
	ASSERT_STREQ(variant->backend, vfiosim_dev_backend(self->dev));
}

TEST_F(vfiosim, device_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, vfiosim_get_device_info(self->dev, &info))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, info.flags);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(9, info.num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, info.num_irqs);
	EXPECT_EQ(5, info.num_irqs);
}

TEST_F(vfiosim, device_info_argsz_too_small)
{
	struct vfio_device_info info = {
		.argsz = offsetof(struct vfio_device_info, num_irqs),
	};

	EXPECT_EQ(-EINVAL, vfiosim_get_device_info(self->dev, &info));
}

TEST_F(vfiosim, region_info_offsets)
{
	uint32_t index;

	for (index = 0; index < VFIO_PCI_NUM_REGIONS; index++) {
		struct vfio_region_info *info;

		ASSERT_EQ(0, region_info_get(self->dev, index, &info))
			TH_LOG("region %u: %s", index, DEV_ERR(self));
		EXPECT_EQ(index, info->index);
		EXPECT_EQ(VFIOSIM_REGION_OFFSET(index), info->offset)
			TH_LOG("region %u", index);
		EXPECT_EQ((uint64_t)index << 40, info->offset);
		free(info);
	}
}

TEST_F(vfiosim, region_info_bar0)
{
	struct vfio_region_info *info;

	ASSERT_EQ(0, region_info_get(self->dev, VFIO_PCI_BAR0_REGION_INDEX,
				     &info));
	/* Trapped registers: readable and writable, never mmappable. */
	EXPECT_EQ(REGION_RW, info->flags);
	EXPECT_EQ(VFIOSIM_BAR0_SIZE, info->size);
	free(info);
}

TEST_F(vfiosim, region_info_bar2_sparse_mmap)
{
	const struct vfio_region_info_cap_sparse_mmap *sparse;
	const struct vfio_info_cap_header *cap;
	struct vfio_region_info *info;

	ASSERT_EQ(0, region_info_get(self->dev, VFIO_PCI_BAR2_REGION_INDEX,
				     &info));
	EXPECT_EQ(REGION_RW | VFIO_REGION_INFO_FLAG_MMAP |
		  VFIO_REGION_INFO_FLAG_CAPS, info->flags);
	EXPECT_EQ(self->model->bar2_size, info->size);
	EXPECT_NE(0, info->cap_offset);

	cap = vfiosim_region_info_cap(info, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	ASSERT_NE(NULL, cap);
	sparse = (const void *)cap;
	/* One area: all of BAR2 but its trapped last page. */
	ASSERT_EQ(1, sparse->nr_areas);
	EXPECT_EQ(0, sparse->areas[0].offset);
	EXPECT_EQ(self->model->bar2_size - bar2_trapped_size(),
		  sparse->areas[0].size);
	free(info);
}

/*
 * Too small for the chain: the device says how much it needs, with
 * cap_offset 0.  On VFIO, FLAG_CAPS stays set, as vfio-pci (and the VFIO
 * core since 6.19) answer.  On vfio-user (netlink, unix) FLAG_CAPS is set
 * only when the chain is in the reply: QEMU's client refuses FLAG_CAPS
 * with a cap_offset outside the reply, and asks again when argsz grew.
 */
TEST_F(vfiosim, region_info_bar2_short_argsz_reports_needed_size)
{
	const uint32_t need = sizeof(struct vfio_region_info) +
			      sizeof(struct vfio_region_info_cap_sparse_mmap) +
			      sizeof(struct vfio_region_sparse_mmap_area);
	bool vfio = !strcmp(variant->backend, "vfio");
	union {
		struct vfio_region_info info;
		uint8_t raw[256];
	} u;

	memset(&u, 0, sizeof(u));
	u.info.argsz = sizeof(u.info);
	u.info.index = VFIO_PCI_BAR2_REGION_INDEX;
	ASSERT_EQ(0, vfiosim_get_region_info(self->dev, &u.info))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(need, u.info.argsz);
	EXPECT_EQ(vfio, !!(u.info.flags & VFIO_REGION_INFO_FLAG_CAPS))
		TH_LOG("flags 0x%x", u.info.flags);
	EXPECT_TRUE(u.info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	EXPECT_EQ(0, u.info.cap_offset);
	EXPECT_EQ(self->model->bar2_size, u.info.size);

	/* One byte short is still too small. */
	memset(&u, 0, sizeof(u));
	u.info.argsz = need - 1;
	u.info.index = VFIO_PCI_BAR2_REGION_INDEX;
	ASSERT_EQ(0, vfiosim_get_region_info(self->dev, &u.info));
	EXPECT_EQ(need, u.info.argsz);
	EXPECT_EQ(vfio, !!(u.info.flags & VFIO_REGION_INFO_FLAG_CAPS));
	EXPECT_EQ(0, u.info.cap_offset);

	/* The retry with what it asked for gets the chain, in the reply. */
	memset(&u, 0, sizeof(u));
	u.info.argsz = need;
	u.info.index = VFIO_PCI_BAR2_REGION_INDEX;
	ASSERT_EQ(0, vfiosim_get_region_info(self->dev, &u.info));
	EXPECT_EQ(need, u.info.argsz);
	EXPECT_TRUE(u.info.flags & VFIO_REGION_INFO_FLAG_CAPS);
	EXPECT_EQ(sizeof(u.info), u.info.cap_offset);
	EXPECT_NE(NULL, vfiosim_region_info_cap(&u.info,
						VFIO_REGION_INFO_CAP_SPARSE_MMAP));

	/* Below the struct itself: refused on every path. */
	memset(&u, 0, sizeof(u));
	u.info.argsz = sizeof(u.info) - 1;
	u.info.index = VFIO_PCI_BAR2_REGION_INDEX;
	EXPECT_EQ(-EINVAL, vfiosim_get_region_info(self->dev, &u.info));
}

/* A region without capabilities never says FLAG_CAPS, whatever argsz. */
TEST_F(vfiosim, region_info_no_caps_no_flag)
{
	uint32_t index;

	for (index = 0; index < VFIO_PCI_NUM_REGIONS; index++) {
		struct vfio_region_info info = {
			.argsz = sizeof(info),
			.index = index,
			.cap_offset = 0x5a5a,	/* must come back 0 */
		};

		if (index == VFIO_PCI_BAR2_REGION_INDEX)
			continue;
		ASSERT_EQ(0, vfiosim_get_region_info(self->dev, &info))
			TH_LOG("region %u: %s", index, DEV_ERR(self));
		EXPECT_FALSE(info.flags & VFIO_REGION_INFO_FLAG_CAPS)
			TH_LOG("region %u", index);
		EXPECT_EQ(0, info.cap_offset) TH_LOG("region %u", index);
		EXPECT_EQ(sizeof(info), info.argsz) TH_LOG("region %u", index);
	}
}

TEST_F(vfiosim, region_info_config)
{
	struct vfio_region_info *info;

	ASSERT_EQ(0, region_info_get(self->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				     &info));
	EXPECT_EQ(REGION_RW, info->flags);
	EXPECT_EQ(VFIOSIM_CONFIG_SIZE, info->size);
	EXPECT_EQ(4096, info->size);	/* PCI Express */
	free(info);
}

TEST_F(vfiosim, region_info_unimplemented)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(unimplemented_regions); i++) {
		uint32_t index = unimplemented_regions[i];
		struct vfio_region_info *info;

		ASSERT_EQ(0, region_info_get(self->dev, index, &info))
			TH_LOG("region %u: %s", index, DEV_ERR(self));
		EXPECT_EQ(0, info->size) TH_LOG("region %u", index);
		/* As vfio-pci reports a BAR that is not there. */
		EXPECT_EQ(0, info->flags) TH_LOG("region %u", index);
		free(info);
	}
}

TEST_F(vfiosim, region_info_bad_index)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_NUM_REGIONS,
	};

	EXPECT_EQ(-EINVAL, vfiosim_get_region_info(self->dev, &info));
	info.index = UINT32_MAX;
	EXPECT_EQ(-EINVAL, vfiosim_get_region_info(self->dev, &info));
}

TEST_F(vfiosim, region_info_argsz_too_small)
{
	struct vfio_region_info info = {
		.argsz = offsetof(struct vfio_region_info, offset),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};

	EXPECT_EQ(-EINVAL, vfiosim_get_region_info(self->dev, &info));
}

/* IRQ info of one index: count and flags. */
static int irq_info(struct vfiosim_dev *dev, uint32_t index,
		    struct vfio_irq_info *info)
{
	*info = (struct vfio_irq_info){ .argsz = sizeof(*info), .index = index };
	return vfiosim_get_irq_info(dev, info);
}

TEST_F(vfiosim, irq_info_intx)
{
	struct vfio_irq_info info;

	ASSERT_EQ(0, irq_info(self->dev, VFIO_PCI_INTX_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_PCI_INTX_IRQ_INDEX, info.index);
	EXPECT_EQ(1, info.count);
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
		  VFIO_IRQ_INFO_AUTOMASKED, info.flags);
}

TEST_F(vfiosim, irq_info_msi)
{
	struct vfio_irq_info info;

	ASSERT_EQ(0, irq_info(self->dev, VFIO_PCI_MSI_IRQ_INDEX, &info));
	EXPECT_EQ(self->model->msi_vectors, info.count);
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
}

TEST_F(vfiosim, irq_info_msix)
{
	struct vfio_irq_info info;

	ASSERT_EQ(0, irq_info(self->dev, VFIO_PCI_MSIX_IRQ_INDEX, &info));
	EXPECT_EQ(self->model->msix_vectors, info.count);
	/*
	 * vfio-pci: NORESIZE, never MASKABLE.  vfio-user: MASKABLE too, as
	 * QEMU's vfio-user client masks MSI-X vectors on the server.
	 */
	if (!strcmp(variant->backend, "vfio")) {
		EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
			  info.flags);
	} else {
		EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
			  VFIO_IRQ_INFO_NORESIZE, info.flags);
	}
}

TEST_F(vfiosim, irq_info_err_and_req)
{
	static const uint32_t indexes[] = {
		VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(indexes); i++) {
		struct vfio_irq_info info;

		ASSERT_EQ(0, irq_info(self->dev, indexes[i], &info));
		EXPECT_EQ(1, info.count) TH_LOG("index %u", indexes[i]);
		EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD, info.flags)
			TH_LOG("index %u", indexes[i]);
	}
}

TEST_F(vfiosim, irq_info_bad_index)
{
	struct vfio_irq_info info;

	EXPECT_EQ(-EINVAL, irq_info(self->dev, VFIO_PCI_NUM_IRQS, &info));
	EXPECT_EQ(-EINVAL, irq_info(self->dev, UINT32_MAX, &info));
}

TEST_F(vfiosim, irq_info_argsz_too_small)
{
	struct vfio_irq_info info = {
		.argsz = offsetof(struct vfio_irq_info, count),
		.index = VFIO_PCI_INTX_IRQ_INDEX,
	};

	EXPECT_EQ(-EINVAL, vfiosim_get_irq_info(self->dev, &info));
}

/*
 * VFIO_DEVICE_FEATURE.  The VFIO core checks argsz and flags before any
 * driver sees them, and answers -ENOTTY for features nobody implements.
 */
#define FEATURE_ARGSZ		sizeof(struct vfio_device_feature)
#define FEATURE_UNKNOWN		0xfff0	/* no such feature in VFIO */

/* The device migrates (vfiosim_migration_test has the rest). */
TEST_F(vfiosim, feature_probe_migration)
{
	EXPECT_EQ(0, device_feature(self->dev,
				    VFIO_DEVICE_FEATURE_PROBE |
				    VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIGRATION,
				    FEATURE_ARGSZ));
	EXPECT_EQ(0, device_feature(self->dev,
				    VFIO_DEVICE_FEATURE_PROBE |
				    VFIO_DEVICE_FEATURE_MIGRATION,
				    FEATURE_ARGSZ));
}

TEST_F(vfiosim, feature_unknown)
{
	EXPECT_EQ(-ENOTTY, device_feature(self->dev,
					  VFIO_DEVICE_FEATURE_PROBE |
					  FEATURE_UNKNOWN, FEATURE_ARGSZ));
	EXPECT_EQ(-ENOTTY, device_feature(self->dev,
					  VFIO_DEVICE_FEATURE_GET |
					  FEATURE_UNKNOWN, FEATURE_ARGSZ + 8));
}

TEST_F(vfiosim, feature_argsz_too_small)
{
	EXPECT_EQ(-EINVAL, device_feature(self->dev,
					  VFIO_DEVICE_FEATURE_PROBE |
					  VFIO_DEVICE_FEATURE_MIGRATION,
					  FEATURE_ARGSZ - 1));
	EXPECT_EQ(-EINVAL, device_feature(self->dev,
					  VFIO_DEVICE_FEATURE_PROBE |
					  VFIO_DEVICE_FEATURE_MIGRATION, 0));
}

TEST_F(vfiosim, feature_bad_flags)
{
	/* A flag outside MASK | GET | SET | PROBE. */
	EXPECT_EQ(-EINVAL, device_feature(self->dev,
					  (1U << 19) |
					  VFIO_DEVICE_FEATURE_PROBE |
					  VFIO_DEVICE_FEATURE_MIGRATION,
					  FEATURE_ARGSZ));
	/* GET and SET together only make sense with PROBE. */
	EXPECT_EQ(-EINVAL, device_feature(self->dev,
					  VFIO_DEVICE_FEATURE_GET |
					  VFIO_DEVICE_FEATURE_SET |
					  VFIO_DEVICE_FEATURE_MIGRATION,
					  FEATURE_ARGSZ));
}

TEST_HARNESS_MAIN
