// SPDX-License-Identifier: GPL-2.0
/*
 * Region access: BAR0 registers, config space, BAR2 memory and its mmap,
 * the bounds every region enforces, and what VFIO_DEVICE_RESET restores.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include <linux/pci_regs.h>

#include "vfiosim_test.h"

#define BAR0	VFIO_PCI_BAR0_REGION_INDEX
#define BAR2	VFIO_PCI_BAR2_REGION_INDEX
#define CONFIG	VFIO_PCI_CONFIG_REGION_INDEX
#define MSI	VFIO_PCI_MSI_IRQ_INDEX

/* Command bits the header lists as writable. */
#define CMD_WRITABLE	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |	\
			 PCI_COMMAND_PARITY | PCI_COMMAND_SERR |	\
			 PCI_COMMAND_INTX_DISABLE)

#define BAR0_FLAGS	(PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_32)
#define BAR2_FLAGS	(PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64 | \
			 PCI_BASE_ADDRESS_MEM_PREFETCH)

static const uint32_t unimplemented_regions[] = {
	VFIO_PCI_BAR1_REGION_INDEX, VFIO_PCI_BAR3_REGION_INDEX,
	VFIO_PCI_BAR4_REGION_INDEX, VFIO_PCI_BAR5_REGION_INDEX,
	VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
};

/* One access of count bytes: bytes moved or -errno. */
static ssize_t region_access(struct vfiosim_dev *dev, uint32_t index,
			     uint64_t offset, size_t count, bool write)
{
	uint8_t buf[16] = { 0 };

	if (count > sizeof(buf))
		return -E2BIG;
	if (write)
		return vfiosim_region_write(dev, index, offset, buf, count);
	return vfiosim_region_read(dev, index, offset, buf, count);
}

/* ---- BAR0 registers ---------------------------------------------------- */

TEST_F(vfiosim, bar0_identity)
{
	const struct vfiosim_model *m = self->model;
	uint32_t val;

	ASSERT_EQ(0, bar0_read(self->dev, VFIOSIM_REG_ID, &val))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, val);
	EXPECT_EQ(VFIOSIM_MODEL_VERSION, reg32(self->dev, VFIOSIM_REG_VERSION));
	EXPECT_EQ(VFIOSIM_FEAT_INTX | VFIOSIM_FEAT_MSI | VFIOSIM_FEAT_MSIX |
		  VFIOSIM_FEAT_BAR2_MMAP | VFIOSIM_FEAT_DMA,
		  reg32(self->dev, VFIOSIM_REG_FEATURES));
	EXPECT_EQ(m->msi_vectors << 16 | m->msix_vectors,
		  reg32(self->dev, VFIOSIM_REG_VECTORS));
}

TEST_F(vfiosim, bar0_readonly_registers_ignore_writes)
{
	static const uint32_t readonly[] = {
		VFIOSIM_REG_ID, VFIOSIM_REG_VERSION, VFIOSIM_REG_FEATURES,
		VFIOSIM_REG_VECTORS, VFIOSIM_REG_DOORBELL_COUNT,
		VFIOSIM_REG_DROPPED,
	};
	unsigned int i;

	/* No interrupt mode: this doorbell counts and is dropped. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	ASSERT_EQ(1, reg32(self->dev, VFIOSIM_REG_DROPPED));

	for (i = 0; i < ARRAY_SIZE(readonly); i++) {
		uint32_t before = reg32(self->dev, readonly[i]);

		/* Accepted (a write is not an error), without effect. */
		EXPECT_EQ(0, bar0_write(self->dev, readonly[i], ~before))
			TH_LOG("reg 0x%x: %s", readonly[i], DEV_ERR(self));
		EXPECT_EQ(before, reg32(self->dev, readonly[i]))
			TH_LOG("reg 0x%x", readonly[i]);
	}
	/* None of those writes was a doorbell. */
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DOORBELL));
}

TEST_F(vfiosim, bar0_scratch_registers_are_rw)
{
	unsigned int n;

	for (n = 0; n < VFIOSIM_NUM_SCRATCH; n++) {
		EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(n)));
	}
	for (n = 0; n < VFIOSIM_NUM_SCRATCH; n++) {
		ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(n),
					0xa5000000 | n << 8 | n));
	}
	/* Read all back only after writing all: catches aliasing. */
	for (n = 0; n < VFIOSIM_NUM_SCRATCH; n++) {
		EXPECT_EQ(0xa5000000 | n << 8 | n,
			  reg32(self->dev, VFIOSIM_REG_SCRATCH(n)));
	}
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(3), 0));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(3)));
}

TEST_F(vfiosim, bar0_access_sizes)
{
	uint64_t val;

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(0), 0x11223344));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(1), 0x55667788));

	/* 8 bytes: two dwords, low first. */
	ASSERT_EQ(0, region_read_le(self->dev, BAR0, VFIOSIM_REG_SCRATCH(0), 8,
				    &val));
	EXPECT_EQ(0x5566778811223344ULL, val);
	ASSERT_EQ(0, region_write_le(self->dev, BAR0, VFIOSIM_REG_SCRATCH(2), 8,
				     0xaabbccdd00112233ULL));
	EXPECT_EQ(0x00112233, reg32(self->dev, VFIOSIM_REG_SCRATCH(2)));
	EXPECT_EQ(0xaabbccdd, reg32(self->dev, VFIOSIM_REG_SCRATCH(3)));

	/* 1 and 2 bytes: their own lanes of the register. */
	ASSERT_EQ(0, region_read_le(self->dev, BAR0, VFIOSIM_REG_ID + 1, 1, &val));
	EXPECT_EQ((VFIOSIM_ID_MAGIC >> 8) & 0xff, val);
	ASSERT_EQ(0, region_read_le(self->dev, BAR0, VFIOSIM_REG_ID + 2, 2, &val));
	EXPECT_EQ(VFIOSIM_ID_MAGIC >> 16, val);
	ASSERT_EQ(0, region_write_le(self->dev, BAR0, VFIOSIM_REG_SCRATCH(4) + 2,
				     1, 0x5a));
	EXPECT_EQ(0x005a0000, reg32(self->dev, VFIOSIM_REG_SCRATCH(4)));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(5), 0x11111111));
	ASSERT_EQ(0, region_write_le(self->dev, BAR0, VFIOSIM_REG_SCRATCH(5) + 2,
				     2, 0xbeef));
	EXPECT_EQ(0xbeef1111, reg32(self->dev, VFIOSIM_REG_SCRATCH(5)));
}

/*
 * Any offset and size: every byte of the access is served, and only those
 * bytes (uapi: split into naturally aligned 4, 2 and 1 byte pieces).  The
 * 3-byte access at offset 1 once leaked two bytes on reads and stored
 * zeros on writes.
 */
TEST_F(vfiosim, bar0_unaligned_access_serves_every_byte)
{
	static const uint8_t pattern[8] = {
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	};
	const uint32_t reg = VFIOSIM_REG_SCRATCH(2);
	unsigned int off, size, i;

	for (off = 0; off < 8; off++) {
		for (size = 1; off + size <= 8; size++) {
			uint8_t buf[8], want[8];
			ssize_t n;

			ASSERT_EQ(0, bar0_write(self->dev, reg, 0x44332211));
			ASSERT_EQ(0, bar0_write(self->dev, reg + 4, 0x88776655));
			memset(buf, 0xee, sizeof(buf));
			n = vfiosim_region_read(self->dev, BAR0, reg + off,
						buf, size);
			ASSERT_EQ((ssize_t)size, n) TH_LOG("read %u at +%u: %s",
							  size, off, DEV_ERR(self));
			EXPECT_EQ(0, memcmp(buf, pattern + off, size))
				TH_LOG("read %u at +%u: %02x %02x %02x", size,
				       off, buf[0], buf[1], buf[2]);

			memcpy(want, pattern, sizeof(want));
			for (i = 0; i < size; i++)
				buf[i] = want[off + i] = 0xa0 + i;
			n = vfiosim_region_write(self->dev, BAR0, reg + off,
						 buf, size);
			ASSERT_EQ((ssize_t)size, n) TH_LOG("write %u at +%u: %s",
							  size, off, DEV_ERR(self));
			EXPECT_EQ((uint32_t)want[0] | want[1] << 8 |
				  want[2] << 16 | (uint32_t)want[3] << 24,
				  reg32(self->dev, reg))
				TH_LOG("write %u at +%u", size, off);
			EXPECT_EQ((uint32_t)want[4] | want[5] << 8 |
				  want[6] << 16 | (uint32_t)want[7] << 24,
				  reg32(self->dev, reg + 4))
				TH_LOG("write %u at +%u", size, off);
		}
	}
}

TEST_F(vfiosim, bar0_counter_increments_on_read)
{
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_COUNTER));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_COUNTER));
	EXPECT_EQ(2, reg32(self->dev, VFIOSIM_REG_COUNTER));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_COUNTER, 1000));
	EXPECT_EQ(1000, reg32(self->dev, VFIOSIM_REG_COUNTER));
	EXPECT_EQ(1001, reg32(self->dev, VFIOSIM_REG_COUNTER));
	/* Wraps like the 32-bit register it is. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_COUNTER, UINT32_MAX));
	EXPECT_EQ(UINT32_MAX, reg32(self->dev, VFIOSIM_REG_COUNTER));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_COUNTER));
}

TEST_F(vfiosim, bar0_unused_space_reads_zero)
{
	static const uint32_t unused[] = {
		VFIOSIM_REG_END, 0x100, VFIOSIM_MSIX_TABLE_OFFSET - 4,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(unused); i++) {
		EXPECT_EQ(0, bar0_write(self->dev, unused[i], 0xffffffff))
			TH_LOG("0x%x: %s", unused[i], DEV_ERR(self));
		EXPECT_EQ(0, reg32(self->dev, unused[i]))
			TH_LOG("0x%x", unused[i]);
	}
}

TEST_F(vfiosim, bar0_msix_table_is_storage)
{
	uint32_t last = self->model->msix_vectors - 1;
	uint32_t entry = VFIOSIM_MSIX_TABLE_OFFSET +
			 last * VFIOSIM_MSIX_ENTRY_SIZE;

	/* Message address low/high and data: what a VMM would program. */
	ASSERT_EQ(0, bar0_write(self->dev, entry + PCI_MSIX_ENTRY_LOWER_ADDR,
				0xfee01000));
	ASSERT_EQ(0, bar0_write(self->dev, entry + PCI_MSIX_ENTRY_UPPER_ADDR,
				0x1));
	ASSERT_EQ(0, bar0_write(self->dev, entry + PCI_MSIX_ENTRY_DATA,
				0x4021));
	EXPECT_EQ(0xfee01000, reg32(self->dev, entry + PCI_MSIX_ENTRY_LOWER_ADDR));
	EXPECT_EQ(0x1, reg32(self->dev, entry + PCI_MSIX_ENTRY_UPPER_ADDR));
	EXPECT_EQ(0x4021, reg32(self->dev, entry + PCI_MSIX_ENTRY_DATA));
	/* Nothing pending on a device that never rang. */
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_MSIX_PBA_OFFSET));
}

/* ---- bounds ------------------------------------------------------------ */

TEST_F(vfiosim, region_out_of_range_fails)
{
	static const uint32_t implemented[] = { BAR0, BAR2, CONFIG };
	unsigned int i, j, rw;

	for (i = 0; i < ARRAY_SIZE(implemented); i++) {
		uint32_t index = implemented[i];
		int64_t size = region_size(self->dev, index);
		const struct {
			uint64_t offset;
			size_t count;
		} bad[] = {
			{ size, 1 },			/* at the end */
			{ size, 4 },
			{ size + 0x1000, 4 },		/* well past it */
			{ size - 2, 4 },		/* straddles the end */
			{ size - 4, 8 },
			{ size - 1, 2 },
			{ VFIOSIM_REGION_OFFSET(1) - 2, 4 }, /* into the next window */
			{ UINT64_MAX - 1, 4 },		/* offset + count wraps */
		};

		ASSERT_GT(size, 0) TH_LOG("region %u", index);
		for (j = 0; j < ARRAY_SIZE(bad); j++) {
			for (rw = 0; rw < 2; rw++) {
				/* -EINVAL, never a short count. */
				EXPECT_EQ(-EINVAL,
					  region_access(self->dev, index,
							bad[j].offset,
							bad[j].count, rw))
					TH_LOG("region %u %s offset 0x%llx count %zu",
					       index, rw ? "write" : "read",
					       (unsigned long long)bad[j].offset,
					       bad[j].count);
			}
		}
		/* The last bytes themselves are served. */
		EXPECT_EQ(4, region_access(self->dev, index, size - 4, 4, false))
			TH_LOG("region %u: %s", index, DEV_ERR(self));
	}
}

TEST_F(vfiosim, unimplemented_regions_fail)
{
	unsigned int i, rw;

	for (i = 0; i < ARRAY_SIZE(unimplemented_regions); i++) {
		for (rw = 0; rw < 2; rw++) {
			EXPECT_EQ(-EINVAL,
				  region_access(self->dev,
						unimplemented_regions[i], 0, 4,
						rw))
				TH_LOG("region %u %s", unimplemented_regions[i],
				       rw ? "write" : "read");
		}
	}
}

/* ---- config space ------------------------------------------------------ */

TEST_F(vfiosim, config_identity)
{
	uint32_t dev_id = self->model->device_id;

	EXPECT_EQ(VFIOSIM_PCI_VENDOR_ID, cfg16(self->dev, PCI_VENDOR_ID));
	EXPECT_EQ(dev_id, cfg16(self->dev, PCI_DEVICE_ID));
	EXPECT_EQ(VFIOSIM_PCI_VENDOR_ID | dev_id << 16,
		  cfg32(self->dev, PCI_VENDOR_ID));
	EXPECT_EQ(VFIOSIM_PCI_SUBSYS_VENDOR_ID,
		  cfg16(self->dev, PCI_SUBSYSTEM_VENDOR_ID));
	EXPECT_EQ(dev_id, cfg16(self->dev, PCI_SUBSYSTEM_ID));
	EXPECT_EQ(VFIOSIM_PCI_REVISION, cfg8(self->dev, PCI_REVISION_ID));
	EXPECT_EQ((uint32_t)VFIOSIM_PCI_CLASS << 8 | VFIOSIM_PCI_REVISION,
		  cfg32(self->dev, PCI_CLASS_REVISION));
	EXPECT_EQ(PCI_HEADER_TYPE_NORMAL, cfg8(self->dev, PCI_HEADER_TYPE));
	EXPECT_EQ(1, cfg8(self->dev, PCI_INTERRUPT_PIN));	/* INTA */
	/* Decoding at open, as vfio-pci shows a device it enabled. */
	EXPECT_EQ(PCI_COMMAND_MEMORY, cfg16(self->dev, PCI_COMMAND));
	EXPECT_TRUE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
}

TEST_F(vfiosim, config_unaligned_access_is_split)
{
	uint32_t dev_id = self->model->device_id;
	uint64_t val;

	/* Bytes 1..2 and 1..3: vendor high byte, then the device ID. */
	ASSERT_EQ(0, region_read_le(self->dev, CONFIG, 1, 2, &val))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ((VFIOSIM_PCI_VENDOR_ID >> 8) | (dev_id & 0xff) << 8, val);
	ASSERT_EQ(0, region_read_le(self->dev, CONFIG, 1, 3, &val))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ((VFIOSIM_PCI_VENDOR_ID >> 8) | dev_id << 8, val);
	/* Six bytes from 0x2a: BAR5's top half, subsystem vendor and ID. */
	ASSERT_EQ(0, region_read_le(self->dev, CONFIG, PCI_SUBSYSTEM_VENDOR_ID - 2,
				    6, &val));
	EXPECT_EQ((uint64_t)dev_id << 32 |
		  (uint64_t)VFIOSIM_PCI_SUBSYS_VENDOR_ID << 16, val);
}

/* The same rule in config space: 3 bytes at 0x0d, 0x0c..0x0f writes. */
TEST_F(vfiosim, config_unaligned_write_serves_every_byte)
{
	uint64_t val;

	/* Cache line size (RW), latency timer, header type, BIST (RO 0). */
	ASSERT_EQ(0, region_write_le(self->dev, CONFIG, PCI_CACHE_LINE_SIZE - 1,
				     3, 0x005a00))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0x5a, cfg8(self->dev, PCI_CACHE_LINE_SIZE));
	ASSERT_EQ(0, region_read_le(self->dev, CONFIG, PCI_CACHE_LINE_SIZE - 1,
				    3, &val));
	EXPECT_EQ((uint64_t)0x5a << 8 | VFIOSIM_PCI_CLASS >> 16, val);
	ASSERT_EQ(0, region_read_le(self->dev, CONFIG, PCI_CACHE_LINE_SIZE + 1,
				    3, &val));
	EXPECT_EQ(PCI_HEADER_TYPE_NORMAL << 8, val);
}

TEST_F(vfiosim, config_command_writable_bits)
{
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2, 0xffff));
	EXPECT_EQ(CMD_WRITABLE, cfg16(self->dev, PCI_COMMAND));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
	EXPECT_EQ(PCI_COMMAND_MEMORY, cfg16(self->dev, PCI_COMMAND));
	/* The IO bit is not writable: there is no IO BAR. */
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2, PCI_COMMAND_IO));
	EXPECT_EQ(0, cfg16(self->dev, PCI_COMMAND));
}

TEST_F(vfiosim, config_readonly_fields_ignore_writes)
{
	static const struct {
		uint32_t off;
		unsigned int size;
	} readonly[] = {
		{ PCI_VENDOR_ID, 4 }, { PCI_CLASS_REVISION, 4 },
		{ PCI_HEADER_TYPE, 1 }, { PCI_SUBSYSTEM_VENDOR_ID, 4 },
		{ PCI_CAPABILITY_LIST, 1 }, { PCI_INTERRUPT_PIN, 1 },
		{ VFIOSIM_CFG_MSI_CAP, 2 }, { VFIOSIM_CFG_MSIX_CAP, 2 },
		{ VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_TABLE, 4 },
		{ VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_PBA, 4 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(readonly); i++) {
		uint32_t before, after;

		ASSERT_EQ(0, cfg_read(self->dev, readonly[i].off,
				      readonly[i].size, &before));
		EXPECT_EQ(0, cfg_write(self->dev, readonly[i].off,
				       readonly[i].size, ~before))
			TH_LOG("0x%x: %s", readonly[i].off, DEV_ERR(self));
		ASSERT_EQ(0, cfg_read(self->dev, readonly[i].off,
				      readonly[i].size, &after));
		EXPECT_EQ(before, after) TH_LOG("config 0x%x", readonly[i].off);
	}
	/* Status stays "has a capability list" whatever is written. */
	ASSERT_EQ(0, cfg_write(self->dev, PCI_STATUS, 2, 0xffff));
	EXPECT_TRUE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	ASSERT_EQ(0, cfg_write(self->dev, PCI_STATUS, 2, 0));
	EXPECT_TRUE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
}

TEST_F(vfiosim, config_writable_fields)
{
	ASSERT_EQ(0, cfg_write(self->dev, PCI_CACHE_LINE_SIZE, 1, 0x10));
	EXPECT_EQ(0x10, cfg8(self->dev, PCI_CACHE_LINE_SIZE));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_INTERRUPT_LINE, 1, 0x0b));
	EXPECT_EQ(0x0b, cfg8(self->dev, PCI_INTERRUPT_LINE));
	/* Their neighbours are read-only. */
	EXPECT_EQ(1, cfg8(self->dev, PCI_INTERRUPT_PIN));
	EXPECT_EQ(PCI_HEADER_TYPE_NORMAL, cfg8(self->dev, PCI_HEADER_TYPE));
}

TEST_F(vfiosim, config_bar_sizing)
{
	uint64_t bar2_mask = ~(self->model->bar2_size - 1);
	static const uint32_t absent[] = {
		PCI_BASE_ADDRESS_1, PCI_BASE_ADDRESS_4, PCI_BASE_ADDRESS_5,
		PCI_ROM_ADDRESS,
	};
	unsigned int i;

	/* Flag bits are there before any sizing. */
	EXPECT_EQ(BAR0_FLAGS, cfg32(self->dev, PCI_BASE_ADDRESS_0) & 0xf);
	EXPECT_EQ(BAR2_FLAGS, cfg32(self->dev, PCI_BASE_ADDRESS_2) & 0xf);

	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_0, 4, 0xffffffff));
	EXPECT_EQ((uint32_t)~(VFIOSIM_BAR0_SIZE - 1) | BAR0_FLAGS,
		  cfg32(self->dev, PCI_BASE_ADDRESS_0));

	/* A 64-bit BAR is sized through both halves. */
	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_2, 4, 0xffffffff));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_3, 4, 0xffffffff));
	EXPECT_EQ((uint32_t)bar2_mask | BAR2_FLAGS,
		  cfg32(self->dev, PCI_BASE_ADDRESS_2));
	EXPECT_EQ((uint32_t)(bar2_mask >> 32),
		  cfg32(self->dev, PCI_BASE_ADDRESS_3));

	for (i = 0; i < ARRAY_SIZE(absent); i++) {
		ASSERT_EQ(0, cfg_write(self->dev, absent[i], 4, 0xffffffff));
		EXPECT_EQ(0, cfg32(self->dev, absent[i]))
			TH_LOG("config 0x%x", absent[i]);
	}
}

TEST_F(vfiosim, config_bar_address_kept)
{
	uint64_t bar2_mask = ~(self->model->bar2_size - 1);

	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_0, 4, 0xfeb00000));
	EXPECT_EQ(0xfeb00000 | BAR0_FLAGS, cfg32(self->dev, PCI_BASE_ADDRESS_0));
	/* Bits below the size are not address bits. */
	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_0, 4, 0x12345678));
	EXPECT_EQ((0x12345678 & (uint32_t)~(VFIOSIM_BAR0_SIZE - 1)) | BAR0_FLAGS,
		  cfg32(self->dev, PCI_BASE_ADDRESS_0));

	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_2, 4, 0xfe012345));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_BASE_ADDRESS_3, 4, 0x1));
	EXPECT_EQ((0xfe012345 & (uint32_t)bar2_mask) | BAR2_FLAGS,
		  cfg32(self->dev, PCI_BASE_ADDRESS_2));
	EXPECT_EQ(0x1, cfg32(self->dev, PCI_BASE_ADDRESS_3));
}

TEST_F(vfiosim, config_capability_chain)
{
	uint32_t msi_n = self->model->msi_vectors;
	uint32_t msix_n = self->model->msix_vectors;
	uint32_t msi_flags, msix_flags;

	EXPECT_TRUE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	ASSERT_EQ(VFIOSIM_CFG_CAP_LIST, cfg8(self->dev, PCI_CAPABILITY_LIST));
	ASSERT_EQ(0x50, VFIOSIM_CFG_MSI_CAP);
	ASSERT_EQ(PCI_CAP_ID_MSI, cfg8(self->dev, VFIOSIM_CFG_MSI_CAP));
	ASSERT_EQ(VFIOSIM_CFG_MSIX_CAP,
		  cfg8(self->dev, VFIOSIM_CFG_MSI_CAP + PCI_CAP_LIST_NEXT));
	ASSERT_EQ(PCI_CAP_ID_MSIX, cfg8(self->dev, VFIOSIM_CFG_MSIX_CAP));
	ASSERT_EQ(VFIOSIM_CFG_EXP_CAP,
		  cfg8(self->dev, VFIOSIM_CFG_MSIX_CAP + PCI_CAP_LIST_NEXT));
	ASSERT_EQ(PCI_CAP_ID_EXP, cfg8(self->dev, VFIOSIM_CFG_EXP_CAP));
	EXPECT_EQ(0, cfg8(self->dev, VFIOSIM_CFG_EXP_CAP + PCI_CAP_LIST_NEXT));
	/* No extended capabilities: the list at 0x100 is empty. */
	EXPECT_EQ(0, cfg32(self->dev, 0x100));

	/* MSI: 64-bit, no per-vector mask, log2(vectors) capable, off. */
	ASSERT_EQ(0, msi_n & (msi_n - 1));	/* MSI counts are powers of 2 */
	msi_flags = cfg16(self->dev, VFIOSIM_CFG_MSI_CAP + PCI_MSI_FLAGS);
	EXPECT_TRUE(msi_flags & PCI_MSI_FLAGS_64BIT);
	EXPECT_FALSE(msi_flags & PCI_MSI_FLAGS_MASKBIT);
	EXPECT_EQ(__builtin_ctz(msi_n), (msi_flags & PCI_MSI_FLAGS_QMASK) >> 1);
	EXPECT_EQ(0, msi_flags & PCI_MSI_FLAGS_QSIZE);
	EXPECT_EQ(0, msi_flags & PCI_MSI_FLAGS_ENABLE);

	/* MSI-X: table size N-1, table and PBA in BAR0 where the header says. */
	msix_flags = cfg16(self->dev, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS);
	EXPECT_EQ(msix_n - 1, msix_flags & PCI_MSIX_FLAGS_QSIZE);
	EXPECT_EQ(0, msix_flags & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
	EXPECT_EQ(VFIOSIM_MSIX_TABLE_OFFSET | 0 /* BIR */,
		  cfg32(self->dev, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_TABLE));
	EXPECT_EQ(VFIOSIM_MSIX_PBA_OFFSET | 0 /* BIR */,
		  cfg32(self->dev, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_PBA));
	/* The table and PBA fit in BAR0 for the largest vector count. */
	EXPECT_LE(VFIOSIM_MSIX_TABLE_OFFSET + msix_n * VFIOSIM_MSIX_ENTRY_SIZE,
		  VFIOSIM_MSIX_PBA_OFFSET);
	EXPECT_LE(VFIOSIM_MSIX_PBA_OFFSET + 4 * ((msix_n + 31) / 32),
		  VFIOSIM_BAR0_SIZE);
}

/* A PCI Express v2 endpoint whose one reset method is FLR. */
TEST_F(vfiosim, config_pcie_capability)
{
	const uint32_t exp = VFIOSIM_CFG_EXP_CAP;
	uint32_t flags = cfg16(self->dev, exp + PCI_EXP_FLAGS);

	EXPECT_EQ(0x1000, VFIOSIM_CONFIG_SIZE);
	EXPECT_EQ(2, flags & PCI_EXP_FLAGS_VERS);
	EXPECT_EQ(PCI_EXP_TYPE_ENDPOINT, (flags & PCI_EXP_FLAGS_TYPE) >> 4);
	EXPECT_TRUE(cfg32(self->dev, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
	EXPECT_EQ(VFIOSIM_EXP_DEVCTL_DEFAULT,
		  cfg16(self->dev, exp + PCI_EXP_DEVCTL));
	/* Nothing pending: pci_wait_for_pending_transaction() returns. */
	EXPECT_EQ(0, cfg16(self->dev, exp + PCI_EXP_DEVSTA));
	/* Link x1 at 2.5 GT/s, trained. */
	EXPECT_EQ(PCI_EXP_LNKSTA_CLS_2_5GB | 1 << 4,
		  cfg16(self->dev, exp + PCI_EXP_LNKSTA) &
		  (PCI_EXP_LNKSTA_CLS | PCI_EXP_LNKSTA_NLW));
	/* The DEVCTL controls are storage; the FLR bit reads 0. */
	ASSERT_EQ(0, cfg_write(self->dev, exp + PCI_EXP_DEVCTL, 2, 0x7fff));
	EXPECT_EQ(0x7fff, cfg16(self->dev, exp + PCI_EXP_DEVCTL));
	/* Read-only: the capability words, DEVCAP, the link registers. */
	ASSERT_EQ(0, cfg_write(self->dev, exp, 4, 0));
	EXPECT_EQ(flags, cfg16(self->dev, exp + PCI_EXP_FLAGS));
	ASSERT_EQ(0, cfg_write(self->dev, exp + PCI_EXP_DEVCAP, 4, 0));
	EXPECT_TRUE(cfg32(self->dev, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
}

/*
 * Initiate FLR (DEVCTL.BCR_FLR) resets the device as VFIO_DEVICE_RESET
 * does: what a guest's pci_reset_function() does through its VMM.
 */
TEST_F(vfiosim, flr_resets_device)
{
	const uint32_t devctl = VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL;
	int fds[VFIOSIM_MAX_VECTORS];
	uint32_t n = self->model->msi_vectors;

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(0), 0x12345678));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 0x2));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2,
			       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	ASSERT_EQ(0, cfg_write(self->dev, devctl, 2, 0));
	/* Other DEVCTL writes are no reset. */
	EXPECT_EQ(0x12345678, reg32(self->dev, VFIOSIM_REG_SCRATCH(0)));
	EXPECT_EQ(0, cfg16(self->dev, devctl));

	ASSERT_EQ(0, cfg_write(self->dev, devctl, 2, PCI_EXP_DEVCTL_BCR_FLR))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(VFIOSIM_EXP_DEVCTL_DEFAULT, cfg16(self->dev, devctl));
	/* COMMAND's default: MEMORY (see the uapi header) */
	EXPECT_EQ(PCI_COMMAND_MEMORY, cfg16(self->dev, PCI_COMMAND));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(0)));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_MASK));
	/* The eventfds stay, as with VFIO_DEVICE_RESET. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 1));
	EXPECT_EQ(1ULL << 1, efd_wait_mask(fds, n, 1ULL << 1, NULL));

	/* A byte write of the top half of DEVCTL initiates it too. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(1), 1));
	ASSERT_EQ(0, cfg_write(self->dev, devctl + 1, 1,
			       PCI_EXP_DEVCTL_BCR_FLR >> 8));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(1)));
	efd_close_all(fds, n);
}

TEST_F(vfiosim, config_whole_space_read)
{
	uint8_t cfg[VFIOSIM_CONFIG_SIZE];
	unsigned int off;

	/* QEMU reads all of config space in one go at realize. */
	memset(cfg, 0xa5, sizeof(cfg));
	ASSERT_EQ(VFIOSIM_CONFIG_SIZE,
		  vfiosim_region_read(self->dev, CONFIG, 0, cfg, sizeof(cfg)))
		TH_LOG("%s", DEV_ERR(self));
	for (off = 0; off < sizeof(cfg); off += 4) {
		uint32_t dword = cfg[off] | cfg[off + 1] << 8 |
				 cfg[off + 2] << 16 | (uint32_t)cfg[off + 3] << 24;

		EXPECT_EQ(cfg32(self->dev, off), dword)
			TH_LOG("config 0x%x", off);
	}
}

/* ---- BAR2 -------------------------------------------------------------- */

/* Map all of BAR2 that can be mapped. */
static int bar2_map(FIXTURE_DATA(vfiosim) *self, volatile uint64_t **map,
		    size_t *len)
{
	void *addr;
	int ret;

	*len = self->model->bar2_size - bar2_trapped_size();
	ret = vfiosim_region_mmap(self->dev, BAR2, 0, *len,
				  PROT_READ | PROT_WRITE, &addr);
	if (!ret)
		*map = addr;
	return ret;
}

/* Offsets that probe both ends, a page boundary and the middle. */
static void bar2_probe_offsets(size_t len, uint64_t offsets[4])
{
	offsets[0] = 0;
	offsets[1] = 0x1000 - 8;
	offsets[2] = len / 2 + 8;
	offsets[3] = len - 8;
}

TEST_F(vfiosim, bar2_region_writes_show_in_mmap)
{
	volatile uint64_t *map;
	uint64_t offsets[4];
	unsigned int i;
	size_t len;

	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	bar2_probe_offsets(len, offsets);
	for (i = 0; i < 4; i++) {
		uint64_t pattern = 0x0123456789abcdefULL ^ offsets[i];

		ASSERT_EQ(0, region_write_le(self->dev, BAR2, offsets[i], 8,
					     pattern));
		EXPECT_EQ(pattern, map[offsets[i] / 8])
			TH_LOG("BAR2 offset 0x%llx",
			       (unsigned long long)offsets[i]);
	}
	munmap((void *)map, len);
}

TEST_F(vfiosim, bar2_mmap_writes_show_in_region)
{
	volatile uint64_t *map;
	uint64_t offsets[4], val;
	unsigned int i;
	size_t len;

	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	bar2_probe_offsets(len, offsets);
	for (i = 0; i < 4; i++) {
		uint64_t pattern = 0xfedcba9876543210ULL ^ offsets[i];

		map[offsets[i] / 8] = pattern;
		ASSERT_EQ(0, region_read_le(self->dev, BAR2, offsets[i], 8,
					    &val));
		EXPECT_EQ(pattern, val) TH_LOG("BAR2 offset 0x%llx",
					       (unsigned long long)offsets[i]);
		/* And as two dwords, low first. */
		ASSERT_EQ(0, region_read_le(self->dev, BAR2, offsets[i] + 4, 4,
					    &val));
		EXPECT_EQ(pattern >> 32, val);
	}
	munmap((void *)map, len);
}

TEST_F(vfiosim, bar2_mmap_of_trapped_page_fails)
{
	uint64_t size = self->model->bar2_size;
	uint64_t trapped = size - bar2_trapped_size();
	uint64_t page = sysconf(_SC_PAGESIZE);
	void *addr = NULL;

	EXPECT_EQ(-EINVAL, vfiosim_region_mmap(self->dev, BAR2, trapped,
					       bar2_trapped_size(),
					       PROT_READ | PROT_WRITE, &addr));
	/* Nor may a mapping reach into it from below. */
	EXPECT_EQ(-EINVAL, vfiosim_region_mmap(self->dev, BAR2, 0, size,
					       PROT_READ, &addr));
	EXPECT_EQ(-EINVAL, vfiosim_region_mmap(self->dev, BAR2,
					       trapped - page, 2 * page,
					       PROT_READ, &addr));
	/* BAR0 is trapped as a whole. */
	EXPECT_EQ(-EINVAL, vfiosim_region_mmap(self->dev, BAR0, 0, 0x1000,
					       PROT_READ, &addr));
}

TEST_F(vfiosim, bar2_trapped_page_rw)
{
	uint64_t trapped = self->model->bar2_size - bar2_trapped_size();
	uint64_t offsets[] = {
		trapped, trapped + 0x800, self->model->bar2_size - 8,
	};
	uint64_t val;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		ASSERT_EQ(0, region_write_le(self->dev, BAR2, offsets[i], 8,
					     0x1111111111111111ULL * (i + 1)))
			TH_LOG("%s", DEV_ERR(self));
	}
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		ASSERT_EQ(0, region_read_le(self->dev, BAR2, offsets[i], 8, &val));
		EXPECT_EQ(0x1111111111111111ULL * (i + 1), val)
			TH_LOG("BAR2 offset 0x%llx", (unsigned long long)offsets[i]);
	}
	ASSERT_EQ(0, vfiosim_write32(self->dev, BAR2, trapped + 4, 0xcafef00d));
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, trapped, 8, &val));
	EXPECT_EQ(0xcafef00d11111111ULL, val);
	/* The page below is still its own memory. */
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, trapped - 8, 8, &val));
	EXPECT_EQ(0, val);
}

/* ---- reset ------------------------------------------------------------- */

/* Put a non-default value in everything the guest can change. */
static int dirty_device(struct vfiosim_dev *dev, int *msi_fds, uint32_t msi_n)
{
	unsigned int n;
	int ret = 0;

	for (n = 0; n < VFIOSIM_NUM_SCRATCH && !ret; n++)
		ret = bar0_write(dev, VFIOSIM_REG_SCRATCH(n), 0x5a5a0000 | n);
	ret = ret ?: bar0_write(dev, VFIOSIM_REG_IRQ_MASK, 0x4);
	ret = ret ?: bar0_write(dev, VFIOSIM_REG_COUNTER, 1234);
	/* A doorbell with no mode: DOORBELL_COUNT and DROPPED. */
	ret = ret ?: ring_doorbell(dev, 0);
	/* A delivered one: IRQ_STATUS. */
	ret = ret ?: irq_enable_new(dev, VFIO_PCI_MSI_IRQ_INDEX, msi_fds, msi_n);
	ret = ret ?: ring_doorbell(dev, 1);
	ret = ret ?: bar0_write(dev, VFIOSIM_MSIX_TABLE_OFFSET + PCI_MSIX_ENTRY_DATA,
				0x4321);
	ret = ret ?: cfg_write(dev, PCI_COMMAND, 2, CMD_WRITABLE);
	ret = ret ?: cfg_write(dev, PCI_CACHE_LINE_SIZE, 1, 0x10);
	ret = ret ?: cfg_write(dev, PCI_INTERRUPT_LINE, 1, 0x0b);
	ret = ret ?: cfg_write(dev, PCI_BASE_ADDRESS_0, 4, 0xfe000000);
	ret = ret ?: cfg_write(dev, PCI_BASE_ADDRESS_2, 4, 0xf0000000);
	ret = ret ?: cfg_write(dev, PCI_BASE_ADDRESS_3, 4, 0x2);
	return ret;
}

TEST_F(vfiosim, reset_restores_defaults)
{
	uint32_t table_dwords = self->model->msix_vectors *
				VFIOSIM_MSIX_ENTRY_SIZE / 4;
	uint64_t bar2_trapped = self->model->bar2_size - bar2_trapped_size();
	uint8_t cfg_fresh[VFIOSIM_CONFIG_SIZE], cfg_now[VFIOSIM_CONFIG_SIZE];
	uint32_t table_fresh[VFIOSIM_MAX_VECTORS * 4];
	int msi_fds[VFIOSIM_MAX_VECTORS];
	unsigned int n, i;
	uint64_t val;

	/* A fresh device is in its default state: remember it. */
	ASSERT_EQ(VFIOSIM_CONFIG_SIZE,
		  vfiosim_region_read(self->dev, CONFIG, 0, cfg_fresh,
				      sizeof(cfg_fresh)));
	for (i = 0; i < table_dwords; i++)
		table_fresh[i] = reg32(self->dev, VFIOSIM_MSIX_TABLE_OFFSET + 4 * i);

	ASSERT_EQ(0, dirty_device(self->dev, msi_fds, self->model->msi_vectors))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, 0, 8, 0x0102030405060708ULL));
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, bar2_trapped, 8,
				     0x1112131415161718ULL));
	/* Check the dirtying took, so that the reset has work to do. */
	ASSERT_EQ(CMD_WRITABLE, cfg16(self->dev, PCI_COMMAND));
	ASSERT_EQ(0x4, reg32(self->dev, VFIOSIM_REG_IRQ_MASK));
	ASSERT_EQ(0x2, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS) & 0x2);
	ASSERT_EQ(2, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	ASSERT_EQ(1, efd_wait(msi_fds[1], IRQ_FIRE_TIMEOUT_MS));

	ASSERT_EQ(0, vfiosim_reset(self->dev)) TH_LOG("%s", DEV_ERR(self));

	ASSERT_EQ(VFIOSIM_CONFIG_SIZE,
		  vfiosim_region_read(self->dev, CONFIG, 0, cfg_now,
				      sizeof(cfg_now)));
	for (i = 0; i < VFIOSIM_CONFIG_SIZE; i++) {
		EXPECT_EQ(cfg_fresh[i], cfg_now[i]) TH_LOG("config 0x%x", i);
	}
	EXPECT_EQ(PCI_COMMAND_MEMORY, cfg16(self->dev, PCI_COMMAND));
	for (i = 0; i < table_dwords; i++) {
		EXPECT_EQ(table_fresh[i],
			  reg32(self->dev, VFIOSIM_MSIX_TABLE_OFFSET + 4 * i))
			TH_LOG("MSI-X table dword %u", i);
	}
	for (n = 0; n < VFIOSIM_NUM_SCRATCH; n++) {
		EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(n)));
	}
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_MASK));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_COUNTER));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_MSIX_PBA_OFFSET));
	/* Device memory survives a function reset. */
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, 0, 8, &val));
	EXPECT_EQ(0x0102030405060708ULL, val);
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, bar2_trapped, 8, &val));
	EXPECT_EQ(0x1112131415161718ULL, val);
	/* The reset itself signals nothing. */
	EXPECT_EQ(0, efd_wait_mask(msi_fds, self->model->msi_vectors, 0, NULL));
	efd_close_all(msi_fds, self->model->msi_vectors);
}

TEST_F(vfiosim, reset_clears_msix_pending_and_masks)
{
	uint32_t n = self->model->msix_vectors, v = n - 1;
	int fds[VFIOSIM_MAX_VECTORS];
	uint64_t counts[VFIOSIM_MAX_VECTORS];

	/* MSI-X masking is vfio-user's (uapi): vfio-pci has none. */
	if (!strcmp(variant->backend, "vfio"))
		SKIP(return, "MSI-X is not maskable on vfio");
	ASSERT_EQ(0, irq_enable_new(self->dev, VFIO_PCI_MSIX_IRQ_INDEX, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_action(self->dev, VFIO_PCI_MSIX_IRQ_INDEX,
				VFIO_IRQ_SET_ACTION_MASK, v, 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	ASSERT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	ASSERT_EQ(1, msix_pending(self->dev, v));

	ASSERT_EQ(0, vfiosim_reset(self->dev));
	/* Pending dropped, not delivered; the mask is gone too. */
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	EXPECT_EQ(0, msix_pending(self->dev, v));
	/* Eventfds stay registered across the reset. */
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	EXPECT_EQ(1ULL << v, efd_wait_mask(fds, n, 1ULL << v, counts));
	EXPECT_EQ(1, counts[v]);
	efd_close_all(fds, n);
}

TEST_F(vfiosim, reset_clears_irq_mask_pending)
{
	uint32_t n = self->model->msi_vectors, v = 1;
	int fds[VFIOSIM_MAX_VECTORS];

	ASSERT_EQ(0, irq_enable_new(self->dev, VFIO_PCI_MSI_IRQ_INDEX, fds, n));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 1U << v));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	ASSERT_EQ(0, efd_wait_mask(fds, n, 0, NULL));

	ASSERT_EQ(0, vfiosim_reset(self->dev));
	/* IRQ_MASK went to 0 but what it held back was dropped. */
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_MASK));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	EXPECT_EQ(1ULL << v, efd_wait_mask(fds, n, 1ULL << v, NULL));
	efd_close_all(fds, n);
}

TEST_F(vfiosim, reset_clears_intx_automask)
{
	int fd = efd_new();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
					     0, fd));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	/* Now auto-masked with the line up; the reset drops both. */
	ASSERT_EQ(0, vfiosim_reset(self->dev));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	EXPECT_FALSE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	close(fd);
}

/* ---- REGION_WRITE_MULTI: a batch applies whole or not at all -------- */

/*
 * Entry 0 is good, entry 1 is not: the call fails with EINVAL and entry
 * 0's register keeps its value, whatever is wrong with entry 1.  Then a
 * good batch applies every entry.
 */
TEST_F(vfiosim, region_write_multi_all_or_none)
{
	int64_t bar0 = region_size(self->dev, BAR0);
	int64_t bar2 = region_size(self->dev, BAR2);
	const struct {
		uint32_t region;
		uint64_t offset;
		uint32_t count;
		const char *what;
	} bad[] = {
		{ BAR0, bar0, 4, "BAR0 at its end" },
		{ BAR0, bar0 - 2, 4, "BAR0 straddling its end" },
		{ BAR0, UINT64_MAX - 1, 4, "offset + count wraps" },
		{ BAR2, bar2, 8, "BAR2 at its end" },
		{ CONFIG, VFIOSIM_CONFIG_SIZE - 1, 2, "config straddling its end" },
		{ VFIO_PCI_BAR1_REGION_INDEX, 0, 4, "unimplemented BAR1" },
		{ 99, 0, 4, "no such region" },
	};
	struct vfiosim_write_op ops[2];
	unsigned int i;
	uint32_t before;

	ASSERT_GT(bar0, 0);
	ASSERT_GT(bar2, 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		before = 0x5a5a0000 | i;
		ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(0), before))
			TH_LOG("%s", DEV_ERR(self));
		ops[0] = (struct vfiosim_write_op){
			.region = BAR0, .count = 4,
			.offset = VFIOSIM_REG_SCRATCH(0), .data = 0x1234,
		};
		ops[1] = (struct vfiosim_write_op){
			.region = bad[i].region, .count = bad[i].count,
			.offset = bad[i].offset, .data = 0xffffffff,
		};
		EXPECT_EQ(-EINVAL, vfiosim_region_write_multi(self->dev, ops, 2))
			TH_LOG("entry 1: %s: %s", bad[i].what, DEV_ERR(self));
		EXPECT_EQ(before, reg32(self->dev, VFIOSIM_REG_SCRATCH(0)))
			TH_LOG("entry 0 was applied although entry 1 (%s) failed",
			       bad[i].what);
	}

	ops[1] = (struct vfiosim_write_op){
		.region = BAR0, .count = 4,
		.offset = VFIOSIM_REG_SCRATCH(1), .data = 0x5678,
	};
	ASSERT_EQ(0, vfiosim_region_write_multi(self->dev, ops, 2))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0x1234, reg32(self->dev, VFIOSIM_REG_SCRATCH(0)));
	EXPECT_EQ(0x5678, reg32(self->dev, VFIOSIM_REG_SCRATCH(1)));
}

/*
 * vfio-user DMA_MAP (netlink, unix through vfiosim-userd) takes memory
 * files only: a pipe or a file on disk is refused with EBADFD, a memfd
 * maps.  VFIO maps process memory by address and sends no file.
 */
TEST_F(vfiosim, dma_map_takes_memory_files_only)
{
	struct vfiosim_dma_map m = {
		.iova = 0x100000, .size = 0x10000, .offset = 0,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	int pipefd[2], exe, mfd;
	const struct {
		const char *what;
		int *fd;
	} bad[] = {
		{ "a pipe (read end)", &pipefd[0] },
		{ "a pipe (write end)", &pipefd[1] },
		{ "a file on disk (/proc/self/exe)", &exe },
	};
	unsigned int i;
	void *mem;

	if (!strcmp(variant->backend, "vfio"))
		SKIP(return, "VFIO maps process memory by address, not a file");
	ASSERT_EQ(0, pipe(pipefd));
	exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, exe);
	mfd = memfd_create("vfiosim-dma", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, m.size));
	mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	m.vaddr = mem;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		m.fd = *bad[i].fd;
		EXPECT_EQ(-EBADFD, vfiosim_dma_map(self->dev, &m))
			TH_LOG("DMA_MAP of %s: %s", bad[i].what, DEV_ERR(self));
	}
	m.fd = mfd;
	EXPECT_EQ(0, vfiosim_dma_map(self->dev, &m))
		TH_LOG("DMA_MAP of a memfd: %s", DEV_ERR(self));
	EXPECT_EQ(0, vfiosim_dma_unmap(self->dev, m.iova, m.size, 0))
		TH_LOG("%s", DEV_ERR(self));
	munmap(mem, m.size);
	close(mfd);
	close(exe);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_HARNESS_MAIN

/*
 * Posted writes (vfio-user NO_REPLY; a plain pwrite on VFIO): a later
 * synchronous op sees every one in order, a read-only register ignores
 * one as it ignores a plain write, a range past the region's end is
 * -EINVAL before anything is sent, and the device stays in step (on
 * netlink and unix no reply is waited for, and none may be left over).
 */
TEST_F(vfiosim, posted_writes_in_order_and_in_step)
{
	int64_t bar0 = region_size(self->dev, BAR0);
	int64_t bar2 = region_size(self->dev, BAR2);
	uint8_t big[40000], back[40000];
	uint32_t i, v;
	int ret;

	ASSERT_GT(bar0, 0);
	ASSERT_GT(bar2, (int64_t)sizeof(big));
	for (i = 0; i < 100; i++) {
		v = 0xc0de0000 | i;
		ASSERT_EQ(0, vfiosim_region_write_posted(self->dev, BAR0,
							 VFIOSIM_REG_SCRATCH(i % 4),
							 &v, sizeof(v)))
			TH_LOG("posted write %u: %s", i, DEV_ERR(self));
	}
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0xc0de0000 | (96 + i),
			  reg32(self->dev, VFIOSIM_REG_SCRATCH(i)));

	v = 0;
	EXPECT_EQ(0, vfiosim_region_write_posted(self->dev, BAR0,
						 VFIOSIM_REG_ID, &v, sizeof(v)))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, reg32(self->dev, VFIOSIM_REG_ID));

	/* More than one vfio-user message (32 KiB): split, all arrive. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	ASSERT_EQ(0, vfiosim_region_write_posted(self->dev, BAR2, 0x100, big,
						 sizeof(big)))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ((ssize_t)sizeof(back),
		  vfiosim_region_read(self->dev, BAR2, 0x100, back,
				      sizeof(back)))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, memcmp(big, back, sizeof(big)));

	v = 0xffffffff;
	EXPECT_EQ(-EINVAL, vfiosim_region_write_posted(self->dev, BAR0, bar0,
						       &v, sizeof(v)));
	EXPECT_EQ(-EINVAL, vfiosim_region_write_posted(self->dev, BAR0,
						       bar0 - 2, &v, sizeof(v)));
	EXPECT_EQ(-EINVAL, vfiosim_region_write_posted(self->dev, BAR0,
						       UINT64_MAX - 1, &v,
						       sizeof(v)));
	ret = vfiosim_region_write_posted(self->dev,
					  VFIO_PCI_BAR1_REGION_INDEX, 0, &v,
					  sizeof(v));
	EXPECT_EQ(-EINVAL, ret);
	/* In step: the next synchronous read answers itself. */
	EXPECT_EQ(VFIOSIM_ID_MAGIC, reg32(self->dev, VFIOSIM_REG_ID));
	EXPECT_EQ(0xc0de0000 | 99, reg32(self->dev, VFIOSIM_REG_SCRATCH(3)));
}
