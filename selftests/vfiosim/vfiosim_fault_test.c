// SPDX-License-Identifier: GPL-2.0
/*
 * The fault injection knobs (kmod/fault.c), over every backend: each
 * test turns a knob on in /sys/kernel/debug/vfiosim/<uuid>/, provokes
 * the failure, checks what the caller saw and the knob's _fired count,
 * and checks that the device works again once the knob is off.
 */
#include <poll.h>
#include <sys/mman.h>

#include "vfiosim_test.h"

#define MSI		VFIO_PCI_MSI_IRQ_INDEX
#define REQ		VFIO_PCI_REQ_IRQ_INDEX
#define CONFIG		VFIO_PCI_CONFIG_REGION_INDEX
#define BAR0		VFIO_PCI_BAR0_REGION_INDEX
#define BAR2		VFIO_PCI_BAR2_REGION_INDEX
#define SCRATCH		VFIOSIM_REG_SCRATCH(0)
#define PAGE		4096UL
#define DMA_TIMEOUT_MS	10000
#define IOVA		0x10000000ULL

/* "<debugfs>/vfiosim/<uuid>/<knob>" */
static void knob_path(char *buf, size_t len, const char *uuid,
		      const char *knob)
{
	snprintf(buf, len, "/sys/kernel/debug/vfiosim/%s/%s", uuid, knob);
}

/* Write "<val>\n" to a knob file: 0 or -errno. */
static int knob_set(const char *uuid, const char *knob, long long val)
{
	char path[256], text[32];
	int fd, n, ret = 0;

	knob_path(path, sizeof(path), uuid, knob);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = snprintf(text, sizeof(text), "%lld\n", val);
	if (write(fd, text, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* A knob file's value, or a negative errno. */
static long long knob_get(const char *uuid, const char *knob)
{
	char path[256], text[32];
	ssize_t n;
	int fd;

	knob_path(path, sizeof(path), uuid, knob);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = '\0';
	return strtoll(text, NULL, 0);
}

static long long fired(const char *uuid, const char *knob)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_fired", knob);
	return knob_get(uuid, name);
}

/* Every test needs the device's knob directory. */
#define NEED_KNOBS(self)						\
	do {								\
		char p_[256];						\
		knob_path(p_, sizeof(p_), (self)->uuid, "");		\
		if (access(p_, F_OK))					\
			SKIP(return, "no %s: debugfs not mounted", p_);	\
	} while (0)

/* ---- region accesses --------------------------------------------------- */

TEST_F(vfiosim, access_fail_next_n)
{
	uint64_t val;

	NEED_KNOBS(self);
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail_errno", ENXIO));
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail", 2));
	EXPECT_EQ(-ENXIO, region_read_le(self->dev, BAR0, SCRATCH, 4, &val));
	EXPECT_EQ(-ENXIO, region_write_le(self->dev, BAR0, SCRATCH, 4, 7));
	EXPECT_EQ(0, knob_get(self->uuid, "access_fail"));
	EXPECT_EQ(2, fired(self->uuid, "access_fail"));
	/* used up: the device answers again, and the failed write did nothing */
	ASSERT_EQ(0, region_read_le(self->dev, BAR0, SCRATCH, 4, &val))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, val);
	EXPECT_EQ(0, bar0_write(self->dev, SCRATCH, 7));
	EXPECT_EQ(7, reg32(self->dev, SCRATCH));
	EXPECT_EQ(2, fired(self->uuid, "access_fail"));
}

TEST_F(vfiosim, access_fail_writes_of_one_region)
{
	uint64_t val;

	NEED_KNOBS(self);
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail_dir", 2));	/* writes */
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail_regions", 1 << BAR0));
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail", 1));
	/* reads, and writes elsewhere, go through and leave the knob armed */
	EXPECT_EQ(0, region_read_le(self->dev, BAR0, SCRATCH, 4, &val));
	EXPECT_EQ(0, region_write_le(self->dev, BAR2, 0, 4, 0x55aa));
	EXPECT_EQ(0, region_read_le(self->dev, CONFIG, 0, 4, &val));
	EXPECT_EQ(1, knob_get(self->uuid, "access_fail"));
	EXPECT_EQ(-EIO, region_write_le(self->dev, BAR0, SCRATCH, 4, 3));
	EXPECT_EQ(1, fired(self->uuid, "access_fail"));
	EXPECT_EQ(0, bar0_write(self->dev, SCRATCH, 3));
	EXPECT_EQ(3, reg32(self->dev, SCRATCH));
}

TEST_F(vfiosim, access_fail_zero_resets)
{
	uint64_t val;

	NEED_KNOBS(self);
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail_errno", EBUSY));
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail_dir", 1));
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail", 100));
	ASSERT_EQ(0, knob_set(self->uuid, "access_fail", 0));
	EXPECT_EQ(0, region_read_le(self->dev, BAR0, SCRATCH, 4, &val));
	EXPECT_EQ(0, fired(self->uuid, "access_fail"));
	/* the parameters went back to their defaults with it */
	EXPECT_EQ(EIO, knob_get(self->uuid, "access_fail_errno"));
	EXPECT_EQ(0, knob_get(self->uuid, "access_fail_dir"));
}

/* ---- ioctls and their vfio-user messages ------------------------------- */

/* Fail the next one of a kind with EBUSY, then see it work. */
static void check_op_fails_once(struct __test_metadata *_metadata,
				FIXTURE_DATA(vfiosim) *self, const char *knob,
				int (*op)(struct vfiosim_dev *dev),
				int ok_ret)
{
	char name[96];

	snprintf(name, sizeof(name), "%s_errno", knob);
	ASSERT_EQ(0, knob_set(self->uuid, name, EBUSY));
	ASSERT_EQ(0, knob_set(self->uuid, knob, 1));
	EXPECT_EQ(-EBUSY, op(self->dev)) TH_LOG("%s: %s", knob, DEV_ERR(self));
	EXPECT_EQ(1, fired(self->uuid, knob));
	EXPECT_EQ(ok_ret, op(self->dev)) TH_LOG("%s: %s", knob, DEV_ERR(self));
	EXPECT_EQ(1, fired(self->uuid, knob));
}

static int op_set_irqs(struct vfiosim_dev *dev)
{
	int fd = efd_new(), ret;

	if (fd < 0)
		return fd;
	ret = vfiosim_irq_set_eventfd(dev, MSI, 0, fd);
	if (!ret)
		irq_disable(dev, MSI);
	close(fd);
	return ret;
}

static int op_region_info(struct vfiosim_dev *dev)
{
	struct vfio_region_info *info = NULL;
	int ret = region_info_get(dev, BAR2, &info);

	free(info);
	return ret;
}

static int op_reset(struct vfiosim_dev *dev)
{
	return vfiosim_reset(dev);
}

/* A feature no one serves: the driver sees it, and answers ENOTTY. */
static int op_feature(struct vfiosim_dev *dev)
{
	return device_feature(dev, VFIO_DEVICE_FEATURE_PROBE |
			      VFIO_DEVICE_FEATURE_GET | 0x7ff,
			      sizeof(struct vfio_device_feature));
}

TEST_F(vfiosim, set_irqs_fail)
{
	NEED_KNOBS(self);
	check_op_fails_once(_metadata, self, "set_irqs_fail", op_set_irqs, 0);
}

TEST_F(vfiosim, region_info_fail)
{
	NEED_KNOBS(self);
	check_op_fails_once(_metadata, self, "region_info_fail",
			    op_region_info, 0);
}

TEST_F(vfiosim, reset_fail)
{
	NEED_KNOBS(self);
	ASSERT_EQ(0, bar0_write(self->dev, SCRATCH, 9));
	check_op_fails_once(_metadata, self, "reset_fail", op_reset, 0);
	/* the refused reset left the registers alone; the next one did not */
	EXPECT_EQ(0, reg32(self->dev, SCRATCH));
}

TEST_F(vfiosim, feature_fail)
{
	NEED_KNOBS(self);
	check_op_fails_once(_metadata, self, "feature_fail", op_feature,
			    -ENOTTY);
}

/* ---- interrupts -------------------------------------------------------- */

TEST_F(vfiosim, irq_drop_next_n)
{
	int fd;

	NEED_KNOBS(self);
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &fd, 1)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_drop", 2));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	EXPECT_EQ(2, fired(self->uuid, "irq_drop"));
	/* lost on the way, not held: nothing pending, nothing counted dropped */
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	close(fd);
}

TEST_F(vfiosim, irq_twice)
{
	int fd;

	NEED_KNOBS(self);
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &fd, 1)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_twice", 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(2, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(1, fired(self->uuid, "irq_twice"));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_twice", 0));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(1, fired(self->uuid, "irq_twice"));
	close(fd);
}

/* CLOCK_MONOTONIC in µs: ms would round a 300 ms delay down to 299. */
static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

TEST_F(vfiosim, irq_delay)
{
	long long t0;
	int fd;

	NEED_KNOBS(self);
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &fd, 1)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_delay_us", 300000));
	t0 = now_us();
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_LE(300000, now_us() - t0);
	EXPECT_EQ(1, fired(self->uuid, "irq_delay_us"));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_delay_us", 0));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(1, fired(self->uuid, "irq_delay_us"));
	close(fd);
}

TEST_F(vfiosim, irq_spurious)
{
	uint64_t counts[2];
	int fds[2];

	NEED_KNOBS(self);
	/* no interrupt mode: nothing to raise it on */
	EXPECT_EQ(-ENXIO, knob_set(self->uuid, "irq_spurious", 1));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, 2)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_spurious_vector", 1));
	ASSERT_EQ(0, knob_set(self->uuid, "irq_spurious", 1));
	EXPECT_EQ(2, efd_wait_mask(fds, 2, 2, counts));
	EXPECT_EQ(1, counts[1]);
	EXPECT_EQ(1, fired(self->uuid, "irq_spurious"));
	/* the device raised nothing: no status bit, no doorbell */
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait_mask(fds, 2, 1, counts));
	efd_close_all(fds, 2);
}

/* ---- REQ --------------------------------------------------------------- */

TEST_F(vfiosim, req_now)
{
	int fd = efd_new();

	NEED_KNOBS(self);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, fd));
	ASSERT_EQ(0, knob_set(self->uuid, "req", 1));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(1, fired(self->uuid, "req"));
	/* the device stays, and works */
	EXPECT_EQ(0, bar0_write(self->dev, SCRATCH, 5));
	EXPECT_EQ(5, reg32(self->dev, SCRATCH));
	close(fd);
}

/* ---- DMA --------------------------------------------------------------- */

#define RW	(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define FILL_PATTERN	0xa5a5a5a5a5a5a5a5ULL

/* Four pages of memory, mapped RW at IOVA. */
static int dma_setup(struct vfiosim_dev *dev, struct dma_mem *m)
{
	int ret = dma_mem_new(m, 4 * PAGE);

	return ret ? ret : dma_mem_map(dev, m, IOVA, 0, m->size, RW);
}

/* A FILL of len bytes at IOVA (no vector); its status once not BUSY. */
static int dma_fill(struct vfiosim_dev *dev, uint32_t len, int timeout_ms,
		    uint32_t *status)
{
	int ret = dma_go(dev, 0, IOVA, len, VFIOSIM_DMA_OP_FILL, FILL_PATTERN,
			 VFIOSIM_DMA_NO_VECTOR);

	if (ret)
		return ret;
	*status = dma_status_wait(dev, timeout_ms);
	return *status == VFIOSIM_DMA_STATUS_BUSY ? -ETIMEDOUT : 0;
}

TEST_F(vfiosim, dma_fail)
{
	struct dma_mem m = { .fd = -1 };
	uint32_t status;

	NEED_KNOBS(self);
	ASSERT_EQ(0, dma_setup(self->dev, &m)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_fail_status",
			      VFIOSIM_DMA_STATUS_ERR_PERM));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_fail", 1));
	ASSERT_EQ(0, dma_fill(self->dev, PAGE, DMA_TIMEOUT_MS, &status));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_PERM, status);
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0, m.va[0]);		/* nothing moved */
	EXPECT_EQ(1, fired(self->uuid, "dma_fail"));
	ASSERT_EQ(0, dma_fill(self->dev, PAGE, DMA_TIMEOUT_MS, &status));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, status);
	EXPECT_EQ(0xa5, m.va[PAGE - 1]);
	dma_mem_free(&m);
}

TEST_F(vfiosim, dma_short)
{
	struct dma_mem m = { .fd = -1 };
	uint32_t status;

	NEED_KNOBS(self);
	ASSERT_EQ(0, dma_setup(self->dev, &m)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_short", 1));
	ASSERT_EQ(0, dma_fill(self->dev, 2 * PAGE, DMA_TIMEOUT_MS, &status));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, status);
	EXPECT_EQ(PAGE, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0xa5, m.va[PAGE - 1]);
	EXPECT_EQ(0, m.va[PAGE]);	/* the second half never moved */
	EXPECT_EQ(1, fired(self->uuid, "dma_short"));
	ASSERT_EQ(0, dma_fill(self->dev, 2 * PAGE, DMA_TIMEOUT_MS, &status));
	EXPECT_EQ(2 * PAGE, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0xa5, m.va[2 * PAGE - 1]);
	dma_mem_free(&m);
}

TEST_F(vfiosim, dma_stall_until_released)
{
	struct dma_mem m = { .fd = -1 };
	uint32_t status;

	NEED_KNOBS(self);
	ASSERT_EQ(0, dma_setup(self->dev, &m)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_stall", 1));
	EXPECT_EQ(-ETIMEDOUT, dma_fill(self->dev, PAGE, 200, &status));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_BUSY, reg32(self->dev,
						  VFIOSIM_REG_DMA_STATUS));
	EXPECT_EQ(0, m.va[0]);
	EXPECT_EQ(1, fired(self->uuid, "dma_stall"));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_stall", 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_status_wait(self->dev, DMA_TIMEOUT_MS));
	EXPECT_EQ(0xa5, m.va[0]);
	dma_mem_free(&m);
}

/* A reset ends a stalled transfer: the stall does not outlast its owner. */
TEST_F(vfiosim, dma_stall_reset_aborts)
{
	struct dma_mem m = { .fd = -1 };
	uint32_t status;

	NEED_KNOBS(self);
	ASSERT_EQ(0, dma_setup(self->dev, &m)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_stall", 1));
	EXPECT_EQ(-ETIMEDOUT, dma_fill(self->dev, PAGE, 100, &status));
	EXPECT_EQ(0, vfiosim_reset(self->dev)) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, m.va[0]);
	EXPECT_EQ(0, knob_set(self->uuid, "dma_stall", 0));
	dma_mem_free(&m);
}

/* ---- migration --------------------------------------------------------- */

TEST_F(vfiosim, mig_refuse_arc)
{
	uint32_t state;

	NEED_KNOBS(self);
	ASSERT_EQ(0, knob_set(self->uuid, "mig_refuse_arc", 1));
	EXPECT_EQ(-EIO, vfiosim_mig_set_state(self->dev,
					      VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, vfiosim_mig_get_state(self->dev, &state));
	EXPECT_EQ(VFIO_DEVICE_STATE_ERROR, state);
	EXPECT_EQ(1, fired(self->uuid, "mig_refuse_arc"));
	/* ERROR refuses everything until a reset, which brings RUNNING */
	EXPECT_NE(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, vfiosim_reset(self->dev));
	ASSERT_EQ(0, vfiosim_mig_get_state(self->dev, &state));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, state);
	EXPECT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	EXPECT_EQ(1, fired(self->uuid, "mig_refuse_arc"));
}

TEST_F(vfiosim, mig_read_short)
{
	uint8_t buf[256];

	NEED_KNOBS(self);
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev,
					   VFIO_DEVICE_STATE_STOP_COPY))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "mig_read_short", 1));
	EXPECT_EQ(sizeof(buf) / 2, vfiosim_mig_read(self->dev, buf,
						    sizeof(buf)));
	EXPECT_EQ(1, fired(self->uuid, "mig_read_short"));
	EXPECT_EQ(sizeof(buf), vfiosim_mig_read(self->dev, buf, sizeof(buf)));
}

TEST_F(vfiosim, mig_truncate)
{
	uint8_t buf[256];
	void *whole = NULL;

	NEED_KNOBS(self);
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev,
					   VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(0, knob_set(self->uuid, "mig_truncate", 1));
	/* the stream ends before its header */
	EXPECT_EQ(0, vfiosim_mig_read(self->dev, buf, sizeof(buf)));
	EXPECT_EQ(0, vfiosim_mig_read(self->dev, buf, sizeof(buf)));
	EXPECT_EQ(1, fired(self->uuid, "mig_truncate"));
	/* a new saving session is whole again */
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	EXPECT_LT(sizeof(buf), vfiosim_mig_save(self->dev, &whole))
		TH_LOG("%s", DEV_ERR(self));
	free(whole);
}

TEST_F(vfiosim, mig_corrupt)
{
	void *good = NULL, *bad = NULL;
	ssize_t n_good, n_bad, i, diff = 0;
	uint32_t state;

	NEED_KNOBS(self);
	n_good = vfiosim_mig_save(self->dev, &good);
	ASSERT_LT(0, n_good) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "mig_corrupt", 1));
	n_bad = vfiosim_mig_save(self->dev, &bad);
	ASSERT_EQ(n_good, n_bad) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(1, fired(self->uuid, "mig_corrupt"));
	for (i = 0; i < n_good; i++)
		if (((uint8_t *)good)[i] != ((uint8_t *)bad)[i]) {
			diff++;
			EXPECT_EQ(0x5a, ((uint8_t *)good)[i] ^
					((uint8_t *)bad)[i]);
		}
	EXPECT_EQ(1, diff);
	/* the device refuses the corrupted stream, and takes the good one */
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev,
					   VFIO_DEVICE_STATE_RESUMING));
	EXPECT_EQ(n_bad, vfiosim_mig_write(self->dev, bad, n_bad));
	EXPECT_NE(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	/* a refused stream leaves RESUMING; a reset drops it */
	ASSERT_EQ(0, vfiosim_mig_get_state(self->dev, &state));
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, state);
	ASSERT_EQ(0, vfiosim_reset(self->dev));
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev,
					   VFIO_DEVICE_STATE_RESUMING));
	EXPECT_EQ(n_good, vfiosim_mig_write(self->dev, good, n_good));
	EXPECT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP))
		TH_LOG("%s", DEV_ERR(self));
	free(good);
	free(bad);
}

TEST_F(vfiosim, mig_garbage_precopy)
{
	uint64_t initial, dirty;
	uint64_t flags = 0;
	int ret;

	NEED_KNOBS(self);
	ASSERT_EQ(0, vfiosim_mig_flags(self->dev, &flags));
	if (!(flags & VFIO_MIGRATION_PRE_COPY))
		SKIP(return, "no PRE_COPY on this kernel");
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev,
					   VFIO_DEVICE_STATE_PRE_COPY));
	ret = vfiosim_mig_precopy_info(self->dev, &initial, &dirty);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s: vfio-user has no PRE_COPY info message",
		     vfiosim_dev_backend(self->dev));
	ASSERT_EQ(0, ret);
	EXPECT_GT(0xfffffffffffff000ULL, initial);
	ASSERT_EQ(0, knob_set(self->uuid, "mig_garbage_precopy", 1));
	ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
	EXPECT_EQ(0xfffffffffffff000ULL, initial);
	EXPECT_EQ(0xfffffffffffff000ULL, dirty);
	EXPECT_EQ(1, fired(self->uuid, "mig_garbage_precopy"));
	ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
	EXPECT_GT(0xfffffffffffff000ULL, initial);
}

/* ---- surprise removal -------------------------------------------------- */

/*
 * REQ at once; after the grace the device answers all-ones, drops
 * writes and raises nothing, and its driver is unbound once the user
 * closes it (the teardown does, then removes the mdev).
 */
TEST_F(vfiosim, remove_after_grace)
{
	int req = efd_new(), msi;
	uint64_t val;
	int i;

	NEED_KNOBS(self);
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, req));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &msi, 1));
	ASSERT_EQ(0, bar0_write(self->dev, SCRATCH, 1));
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 100));
	EXPECT_LE(1, efd_wait(req, IRQ_FIRE_TIMEOUT_MS));
	for (i = 0; i < 100 && fired(self->uuid, "remove_after_ms") < 1; i++)
		poll(NULL, 0, 20);
	EXPECT_EQ(1, fired(self->uuid, "remove_after_ms"));
	EXPECT_EQ(0, region_read_le(self->dev, BAR0, SCRATCH, 4, &val));
	EXPECT_EQ(0xffffffff, val);
	EXPECT_EQ(0, region_read_le(self->dev, CONFIG, 0, 4, &val));
	EXPECT_EQ(0xffffffff, val);
	EXPECT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_DOORBELL, 0));
	EXPECT_EQ(0, efd_wait(msi, IRQ_QUIET_MS));
	/* no second removal of a removed device */
	EXPECT_EQ(-ENODEV, knob_set(self->uuid, "remove_after_ms", 100));
	close(req);
	close(msi);
}

TEST_F(vfiosim, remove_called_off)
{
	int req = efd_new();

	NEED_KNOBS(self);
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, req));
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 300));
	EXPECT_LE(1, efd_wait(req, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 0));
	poll(NULL, 0, 500);
	EXPECT_EQ(0, fired(self->uuid, "remove_after_ms"));
	EXPECT_EQ(0, bar0_write(self->dev, SCRATCH, 4));
	EXPECT_EQ(4, reg32(self->dev, SCRATCH));
	close(req);
}

TEST_HARNESS_MAIN
