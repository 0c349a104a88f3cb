// SPDX-License-Identifier: GPL-2.0
/*
 * BAR2 mappings behave like a BAR's, over every backend: no GUP on them,
 * memory decode gates BAR accesses and mappings, and the device is reset
 * between two users, whose mappings do not outlive their session.
 */
#include <sys/mman.h>
#include <sys/uio.h>
#include <linux/pci_regs.h>

#include "vfiosim_test.h"

#define BAR0	VFIO_PCI_BAR0_REGION_INDEX
#define BAR2	VFIO_PCI_BAR2_REGION_INDEX

/* Map BAR2's whole sparse area, as the region info gives it. */
static int bar2_map(FIXTURE_DATA(vfiosim) *self, volatile uint64_t **map,
		    size_t *len)
{
	uint64_t off, size;
	void *addr;
	int ret;

	ret = bar2_sparse_area(self->dev, &off, &size);
	if (ret)
		return ret;
	*len = size;
	ret = vfiosim_region_mmap(self->dev, BAR2, off, size,
				  PROT_READ | PROT_WRITE, &addr);
	if (!ret)
		*map = addr;
	return ret;
}

static int set_command(struct vfiosim_dev *dev, uint16_t cmd)
{
	return cfg_write(dev, PCI_COMMAND, 2, cmd);
}

/* The device string the fixture opened, to open it again. */
static void fixture_spec(FIXTURE_DATA(vfiosim) *self,
			 const FIXTURE_VARIANT(vfiosim) *variant,
			 char *spec, size_t len)
{
	if (!strcmp(variant->backend, "unix"))
		snprintf(spec, len, "unix:%s", self->sock);
	else
		snprintf(spec, len, "%s:%s", variant->backend, self->uuid);
}

/*
 * Close the fixture's device and open it again through the same backend
 * (userd may take a moment to notice the last client went).
 */
static int reopen(FIXTURE_DATA(vfiosim) *self,
		  const FIXTURE_VARIANT(vfiosim) *variant, char *err,
		  size_t errlen)
{
	char spec[128];
	int ret = -ENOMEM, i;

	fixture_spec(self, variant, spec, sizeof(spec));
	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	for (i = 0; i < 100; i++) {
		self->dev = vfiosim_dev_alloc();
		if (!self->dev)
			return -ENOMEM;
		ret = vfiosim_dev_open(self->dev, spec);
		if (!ret)
			return 0;
		snprintf(err, errlen, "%s", vfiosim_dev_error(self->dev));
		vfiosim_dev_free(self->dev);
		self->dev = NULL;
		usleep(20000);
	}
	return ret;
}

/* ---- BAR2 is a BAR: no struct-page access through its mapping ---------- */

TEST_F(vfiosim, bar2_mmap_refuses_gup)
{
	volatile uint64_t *map;
	uint64_t buf = 0;
	struct iovec local = { &buf, sizeof(buf) };
	struct iovec remote;
	ssize_t n;
	size_t len;

	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	map[0] = 0x1122334455667788ULL;
	ASSERT_EQ(0x1122334455667788ULL, map[0]);

	/* process_vm_readv pins the remote pages: a BAR has none. */
	remote.iov_base = (void *)map;
	remote.iov_len = sizeof(buf);
	errno = 0;
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	EXPECT_EQ(-1, n) TH_LOG("process_vm_readv of BAR2 moved %zd bytes (0x%llx)",
				n, (unsigned long long)buf);
	EXPECT_EQ(EFAULT, errno);
	munmap((void *)map, len);
}

/* ---- memory decode ----------------------------------------------------- */

TEST_F(vfiosim, command_memory_set_at_open)
{
	EXPECT_EQ(PCI_COMMAND_MEMORY, cfg16(self->dev, PCI_COMMAND));
}

TEST_F(vfiosim, memory_decode_off_fails_bar_access)
{
	uint64_t trapped = self->model->bar2_size - bar2_trapped_size();
	uint64_t val;
	uint32_t v;

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH0, 0xcafe))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, 0, 8, 0xabcdULL));
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, trapped, 8, 0xef01ULL));

	ASSERT_EQ(0, set_command(self->dev, 0)) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(-EIO, bar0_read(self->dev, VFIOSIM_REG_ID, &v));
	EXPECT_EQ(-EIO, bar0_write(self->dev, VFIOSIM_REG_SCRATCH0, 1));
	EXPECT_EQ(-EIO, region_read_le(self->dev, BAR2, 0, 8, &val));
	EXPECT_EQ(-EIO, region_write_le(self->dev, BAR2, trapped, 8, 2));
	/* Config space still answers. */
	EXPECT_EQ(0, cfg16(self->dev, PCI_COMMAND));

	ASSERT_EQ(0, set_command(self->dev, PCI_COMMAND_MEMORY));
	EXPECT_EQ(0xcafe, reg32(self->dev, VFIOSIM_REG_SCRATCH0));
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, 0, 8, &val));
	EXPECT_EQ(0xabcdULL, val);
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, trapped, 8, &val));
	EXPECT_EQ(0xef01ULL, val);
}

TEST_F(vfiosim, memory_decode_off_zaps_bar2_mmap)
{
	volatile uint64_t *map;
	long page = sysconf(_SC_PAGESIZE);
	size_t len;

	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	map[0] = 0x0123456789abcdefULL;
	map[len / 8 - 1] = 0xfedcba9876543210ULL;

	ASSERT_EQ(0, set_command(self->dev, PCI_COMMAND_MASTER));
	EXPECT_EQ(SIGBUS, touch_in_child(&map[0], false));
	EXPECT_EQ(SIGBUS, touch_in_child(&map[page / 8], true));

	/* Back on: the mapping faults in again, contents kept. */
	ASSERT_EQ(0, set_command(self->dev, PCI_COMMAND_MEMORY));
	EXPECT_EQ(0, touch_in_child(&map[0], false));
	EXPECT_EQ(0x0123456789abcdefULL, map[0]);
	EXPECT_EQ(0xfedcba9876543210ULL, map[len / 8 - 1]);
	munmap((void *)map, len);
}

/* ---- reset between users ----------------------------------------------- */

TEST_F(vfiosim, close_resets_registers_and_bar2)
{
	uint64_t trapped = self->model->bar2_size - bar2_trapped_size();
	volatile uint64_t *map;
	char err[256] = "";
	uint64_t val;
	size_t len;

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH(2), 0x5a5a))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_INTERRUPT_LINE, 1, 0x0b));
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, trapped, 8, 0x77ULL));
	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	map[1] = 0x66ULL;
	munmap((void *)map, len);

	ASSERT_EQ(0, reopen(self, variant, err, sizeof(err))) TH_LOG("%s", err);

	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_SCRATCH(2)));
	EXPECT_EQ(0, cfg8(self->dev, PCI_INTERRUPT_LINE));
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, trapped, 8, &val));
	EXPECT_EQ(0, val);
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, 8, 8, &val));
	EXPECT_EQ(0, val);
}

/*
 * The mapping of a user that has gone is dead, even once the next user
 * has the device.  A VFIO mapping holds the device fd (as vfio-pci's
 * does), so its user cannot go while it is mapped.
 */
TEST_F(vfiosim, stale_mapping_sigbus_after_close)
{
	volatile uint64_t *map;
	char err[256] = "";
	uint64_t val;
	size_t len;

	if (!strcmp(variant->backend, "vfio"))
		SKIP(return, "a VFIO mapping keeps its device open");
	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	map[0] = 0x4242ULL;

	ASSERT_EQ(0, reopen(self, variant, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, region_write_le(self->dev, BAR2, 0, 8, 0x9999ULL));

	EXPECT_EQ(SIGBUS, touch_in_child(&map[0], false));
	EXPECT_EQ(SIGBUS, touch_in_child(&map[0], true));
	munmap((void *)map, len);
	/* The new user's BAR2 was not written through the old mapping. */
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, 0, 8, &val));
	EXPECT_EQ(0x9999ULL, val);
}

/* ---- the trapped tail is a whole host page ----------------------------- */

TEST_F(vfiosim, bar2_sparse_area_fits_page_size)
{
	uint64_t page = sysconf(_SC_PAGESIZE);
	volatile uint64_t *map;
	uint64_t off, size;
	void *addr;
	size_t len;

	ASSERT_EQ(0, bar2_sparse_area(self->dev, &off, &size))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, off % page);
	EXPECT_EQ(0, size % page);
	EXPECT_EQ(self->model->bar2_size - bar2_trapped_size(), size);
	EXPECT_LE(page, self->model->bar2_size - (off + size));

	/* All of it maps, and not one page more. */
	ASSERT_EQ(0, bar2_map(self, &map, &len)) TH_LOG("%s", DEV_ERR(self));
	map[len / 8 - 1] = 1;
	munmap((void *)map, len);
	EXPECT_EQ(-EINVAL, vfiosim_region_mmap(self->dev, BAR2, off + size,
					       page, PROT_READ, &addr));
}

TEST_HARNESS_MAIN
