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
#define MSIX		VFIO_PCI_MSIX_IRQ_INDEX
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

/*
 * A parameter refuses what its knob could not use, and keeps its value:
 * errnos outside 1..4094, a direction other than the two bits, a DMA
 * status that is not an error.
 */
TEST_F(vfiosim, param_rejects_bad_values)
{
	static const struct {
		const char *name;
		long long bad;
	} cases[] = {
		{ "access_fail_errno", 0 },
		{ "access_fail_errno", 4095 },
		{ "reset_fail_errno", 0 },
		{ "access_fail_dir", 4 },
		{ "dma_fail_status", VFIOSIM_DMA_STATUS_IDLE },
		{ "dma_fail_status", VFIOSIM_DMA_STATUS_BUSY },
		{ "dma_fail_status", VFIOSIM_DMA_STATUS_DONE },
		{ "dma_fail_status", VFIOSIM_DMA_STATUS_ERR_FAULT + 1 },
		{ "access_fail_regions", 1LL << 32 },
	};
	unsigned int i;
	long long before;

	NEED_KNOBS(self);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		before = knob_get(self->uuid, cases[i].name);
		EXPECT_EQ(-EINVAL, knob_set(self->uuid, cases[i].name,
					    cases[i].bad))
			TH_LOG("%s = %lld", cases[i].name, cases[i].bad);
		EXPECT_EQ(before, knob_get(self->uuid, cases[i].name))
			TH_LOG("%s kept its value", cases[i].name);
	}
	/* the bounds themselves are taken */
	EXPECT_EQ(0, knob_set(self->uuid, "access_fail_errno", 4094));
	EXPECT_EQ(0, knob_set(self->uuid, "access_fail_dir", 3));
	EXPECT_EQ(0, knob_set(self->uuid, "dma_fail_status",
			      VFIOSIM_DMA_STATUS_ERR_UNMAPPED));
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
 * Wait (2 s at most) until the device has gone: BAR0's ID reads
 * all-ones.  The removal sets that and zaps BAR2's mappings in one
 * section under the device lock; a DEV_GET, which takes that lock, then
 * orders us after the zap (its answer does not matter: the unbind may
 * have taken the device out of the list already).
 */
static bool wait_gone(FIXTURE_DATA(vfiosim) *self)
{
	struct vfiosim_nl_dev_info info;
	uint64_t val = 0;
	char err[256];
	int i;

	for (i = 0; i < 200; i++) {
		if (!region_read_le(self->dev, BAR0, VFIOSIM_REG_ID, 4, &val) &&
		    val == 0xffffffff)
			break;
		poll(NULL, 0, 10);
	}
	vfiosim_nl_dev_get(self->uuid, &info, err, sizeof(err));
	return val == 0xffffffff;
}

/*
 * After a forced removal: close the device (unix: vfiosim-userd, which
 * holds it, exits), wait for the unbind to complete, remove the mdev,
 * create it again with the same UUID and open it through the same
 * backend.  0 or -errno with err set; the teardown cleans up either way.
 */
static int recreate(FIXTURE_DATA(vfiosim) *self,
		    const FIXTURE_VARIANT(vfiosim) *variant, char *err,
		    size_t errlen)
{
	char rel[128], driver[256], spec[128], userd[PATH_MAX];
	int i, ret;

	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	if (vfiosim_userd_stop(&self->userd, self->alias)) {
		snprintf(err, errlen, "vfiosim-userd did not exit 0 after the removal");
		return -ECHILD;
	}
	snprintf(rel, sizeof(rel), MDEV_DEVICES_SYSFS "/%s/driver", self->uuid);
	sysfs_path(driver, sizeof(driver), rel);
	for (i = 0; i < 500 && !access(driver, F_OK); i++)
		poll(NULL, 0, 10);
	if (!access(driver, F_OK)) {
		snprintf(err, errlen, "%.200s: still bound 5 s after the close",
			 driver);
		return -EBUSY;
	}
	ret = vfiosim_mdev_remove(self->uuid, err, errlen);
	if (ret)
		return ret;
	self->created = false;
	/*
	 * The mdev core frees a UUID at the device's last reference, which
	 * may still be on its way (EEXIST meanwhile).
	 */
	for (i = 0; i < 500; i++) {
		ret = vfiosim_mdev_create(variant->model->type, self->uuid,
					  err, errlen);
		if (ret != -EEXIST)
			break;
		poll(NULL, 0, 10);
	}
	if (ret)
		return ret;
	self->created = true;
	self->dev = vfiosim_dev_alloc();
	if (!self->dev)
		return -ENOMEM;
	if (!strcmp(variant->backend, "unix")) {
		if (!vfiosim_userd_path(userd, sizeof(userd))) {
			snprintf(err, errlen, "no vfiosim-userd");
			return -ENOENT;
		}
		ret = vfiosim_userd_start(self->uuid, userd, self->sock,
					  sizeof(self->sock), self->alias,
					  sizeof(self->alias), &self->userd,
					  err, errlen);
		if (ret)
			return ret;
		snprintf(spec, sizeof(spec), "unix:%s", self->sock);
	} else {
		snprintf(spec, sizeof(spec), "%s:%s", variant->backend,
			 self->uuid);
	}
	ret = vfiosim_dev_open(self->dev, spec);
	if (ret)
		snprintf(err, errlen, "open %s: %s", spec,
			 vfiosim_dev_error(self->dev));
	return ret;
}

/*
 * Once registers read all-ones, how a transfer ended, and what became of
 * an interrupt, is seen only in the tracepoints: a tracefs instance of
 * its own with the DMA and irq events of this device.  0, -ENOENT
 * without tracefs, or -errno.
 */
static const char *const dma_events[] = {
	"vfiosim_dma_start", "vfiosim_dma_done", "vfiosim_dma_error",
	"vfiosim_irq",
};

static int write_text(const char *path, const char *text)
{
	ssize_t len = strlen(text);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static int trace_dma_on(char *inst, size_t len, const char *uuid)
{
	static const char *const roots[] = { "/sys/kernel/tracing",
					     "/sys/kernel/debug/tracing" };
	char path[PATH_MAX + 64], filter[64];
	size_t i;
	int ret;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/vfiosim", roots[i]);
		if (!access(path, F_OK))
			break;
	}
	if (i == 2)
		return -ENOENT;
	snprintf(inst, len, "%s/instances/vfiosim-fault-%d", roots[i],
		 (int)getpid());
	if (mkdir(inst, 0700) && errno != EEXIST)
		return -errno;
	snprintf(filter, sizeof(filter), "dev == \"%s\"", uuid);
	for (i = 0; i < sizeof(dma_events) / sizeof(dma_events[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/vfiosim/%s/filter",
			 inst, dma_events[i]);
		ret = write_text(path, filter);
		if (!ret) {
			snprintf(path, sizeof(path),
				 "%s/events/vfiosim/%s/enable", inst,
				 dma_events[i]);
			ret = write_text(path, "1");
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void trace_off(const char *inst)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(dma_events) / sizeof(dma_events[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/vfiosim/%s/enable",
			 inst, dma_events[i]);
		write_text(path, "0");
	}
	rmdir(inst);
}

/*
 * How many of @event (with @text in it, if not NULL) the instance holds;
 * the last one's line in last.
 */
static int trace_count(const char *inst, const char *event, const char *text,
		       char *last, size_t len)
{
	char path[PATH_MAX + 16], line[1024], tag[64];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", inst);
	snprintf(tag, sizeof(tag), " %s:", event);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strstr(line, tag) ||
		    (text && !strstr(line, text)))
			continue;
		n++;
		if (last)
			snprintf(last, len, "%s", line);
	}
	fclose(f);
	return n;
}

TEST_F(vfiosim, remove_after_grace)
{
	int req = efd_new(), msi;
	uint64_t val;

	NEED_KNOBS(self);
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, req));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &msi, 1));
	ASSERT_EQ(0, bar0_write(self->dev, SCRATCH, 1));
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 100));
	EXPECT_LE(1, efd_wait(req, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_TRUE(wait_gone(self));
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
	/* a grace a loaded (emulated) guest's REQ round trip fits in */
	const long long grace_ms = 2000;
	int req = efd_new();
	long long t0, left_ms;

	NEED_KNOBS(self);
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, req));
	t0 = now_us();
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", grace_ms));
	EXPECT_LE(1, efd_wait(req, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 0));
	left_ms = grace_ms - (now_us() - t0) / 1000;
	ASSERT_LT(0, left_ms) TH_LOG("called off only after the grace");
	/* past the grace it was called off in */
	poll(NULL, 0, left_ms + 300);
	EXPECT_EQ(0, fired(self->uuid, "remove_after_ms"));
	EXPECT_EQ(0, bar0_write(self->dev, SCRATCH, 4));
	EXPECT_EQ(4, reg32(self->dev, SCRATCH));
	close(req);
}

/*
 * A BAR2 mapping taken before the removal, its pages faulted in, SIGBUSes
 * once the grace is over (as a pulled device's BAR); a new mapping is
 * refused.  Once the user closed it, the same UUID makes a new device
 * that maps and works.
 */
TEST_F(vfiosim, remove_zaps_existing_mapping)
{
	volatile uint64_t *map;
	uint64_t off, size, val;
	char err[256] = "";
	void *addr;
	int ret;

	NEED_KNOBS(self);
	ASSERT_EQ(0, bar2_sparse_area(self->dev, &off, &size))
		TH_LOG("%s", DEV_ERR(self));
	ret = vfiosim_region_mmap(self->dev, BAR2, off, size,
				  PROT_READ | PROT_WRITE, &addr);
	if (ret == -EOPNOTSUPP || ret == -ENOTTY)
		SKIP(return, "%s: no BAR2 mmap (%s)",
		     vfiosim_dev_backend(self->dev), DEV_ERR(self));
	ASSERT_EQ(0, ret) TH_LOG("%s", DEV_ERR(self));
	map = addr;
	map[0] = 0x1122334455667788ULL;		/* faulted in: a PTE to zap */
	ASSERT_EQ(0, touch_in_child(&map[0], false));

	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 50));
	ASSERT_TRUE(wait_gone(self));
	EXPECT_EQ(SIGBUS, touch_in_child(&map[0], false));
	EXPECT_EQ(SIGBUS, touch_in_child(&map[0], true));
	/* a page never touched before faults, and is refused */
	EXPECT_EQ(SIGBUS, touch_in_child(&map[size / 8 - 1], false));
	EXPECT_EQ(-ENODEV, vfiosim_region_mmap(self->dev, BAR2, off, size,
					       PROT_READ, &addr));
	munmap((void *)map, size);	/* a VFIO mapping holds the device */

	ASSERT_EQ(0, recreate(self, variant, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(0, fired(self->uuid, "remove_after_ms"));
	ASSERT_EQ(0, vfiosim_region_mmap(self->dev, BAR2, off, size,
					 PROT_READ | PROT_WRITE, &addr))
		TH_LOG("%s", DEV_ERR(self));
	map = addr;
	EXPECT_EQ(0, map[0]);		/* a new device: BAR2 is zeroes */
	map[0] = 0x99;
	ASSERT_EQ(0, region_read_le(self->dev, BAR2, 0, 8, &val));
	EXPECT_EQ(0x99, val);
	munmap((void *)map, size);
}

/*
 * A transfer held by dma_stall when the grace ends is aborted: its
 * tracepoint says ERR_ABORTED with nothing done (STATUS itself reads
 * all-ones by then), no completion interrupt comes, and letting the
 * stall go moves nothing; a GO after the removal is a dropped write.
 * An interrupt asked for after the removal (SET_IRQS' loopback trigger,
 * which the core still takes) is not signalled: one vfiosim_irq event,
 * fate "gone".  Then a new device of the same UUID runs the same
 * transfer.
 */
TEST_F(vfiosim, remove_aborts_stalled_dma)
{
	struct vfio_irq_set loopback = {
		.argsz = sizeof(loopback),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = MSIX, .start = 0, .count = 1,
	};
	char inst[PATH_MAX], line[1024] = "", err[256] = "";
	unsigned int status = 0, done = ~0U;
	struct dma_mem m = { .fd = -1 };
	uint32_t st;
	size_t i;
	int msix, ret;

	NEED_KNOBS(self);
	ret = trace_dma_on(inst, sizeof(inst), self->uuid);
	if (ret == -ENOENT)
		SKIP(return, "no tracefs events/vfiosim: once the device reads all-ones, only vfiosim_dma_error tells how the transfer ended");
	ASSERT_EQ(0, ret) TH_LOG("tracefs instance %s: %s", inst,
				 strerror(-ret));
	ASSERT_EQ(0, dma_setup(self->dev, &m)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, &msix, 1))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, knob_set(self->uuid, "dma_stall", 1));
	ASSERT_EQ(0, dma_go(self->dev, 0, IOVA, 2 * PAGE, VFIOSIM_DMA_OP_FILL,
			    FILL_PATTERN, 0));
	for (i = 0; i < 200 && fired(self->uuid, "dma_stall") < 1; i++)
		poll(NULL, 0, 10);
	ASSERT_EQ(1, fired(self->uuid, "dma_stall"));	/* in the stall */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_BUSY,
		  reg32(self->dev, VFIOSIM_REG_DMA_STATUS));

	ASSERT_EQ(0, knob_set(self->uuid, "remove_after_ms", 50));
	ASSERT_TRUE(wait_gone(self));
	for (i = 0; i < 200 &&
	     trace_count(inst, "vfiosim_dma_error", NULL, NULL, 0) < 1; i++)
		poll(NULL, 0, 10);
	ASSERT_EQ(1, trace_count(inst, "vfiosim_dma_error", NULL, line,
				 sizeof(line)));
	ASSERT_NE(NULL, strstr(line, "status="));
	EXPECT_EQ(2, sscanf(strstr(line, "status="), "status=%u done_bytes=%u",
			    &status, &done)) TH_LOG("%s", line);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_ABORTED, status) TH_LOG("%s", line);
	EXPECT_EQ(0, done) TH_LOG("%s", line);
	EXPECT_EQ(0xffffffff, reg32(self->dev, VFIOSIM_REG_DMA_STATUS));
	EXPECT_EQ(0xffffffff, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));

	/* nothing more: the stall let go, a GO dropped */
	ASSERT_EQ(0, knob_set(self->uuid, "dma_stall", 0));
	EXPECT_EQ(0, dma_go(self->dev, 0, IOVA, PAGE, VFIOSIM_DMA_OP_FILL,
			    FILL_PATTERN, 0));
	EXPECT_EQ(0, efd_wait(msix, 200));
	for (i = 0; i < m.size && !m.va[i]; i++)
		;
	EXPECT_EQ(m.size, i) TH_LOG("written after the removal at %zu", i);
	EXPECT_EQ(1, trace_count(inst, "vfiosim_dma_start", NULL, NULL, 0));
	EXPECT_EQ(0, trace_count(inst, "vfiosim_dma_done", NULL, NULL, 0));
	EXPECT_EQ(1, trace_count(inst, "vfiosim_dma_error", NULL, NULL, 0));
	EXPECT_EQ(0, trace_count(inst, "vfiosim_irq", " mode=msix ", NULL, 0));
	/* an interrupt asked for now goes nowhere */
	EXPECT_EQ(0, vfiosim_set_irqs(self->dev, &loopback))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, efd_wait(msix, 200));
	EXPECT_EQ(1, trace_count(inst, "vfiosim_irq", " mode=msix ", line,
				 sizeof(line)));
	EXPECT_NE(NULL, strstr(line, " mode=msix vector=0 fate=gone"))
		TH_LOG("%s", line);
	trace_off(inst);
	close(msix);

	ASSERT_EQ(0, recreate(self, variant, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, dma_mem_map(self->dev, &m, IOVA, 0, m.size, RW))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, dma_fill(self->dev, 2 * PAGE, DMA_TIMEOUT_MS, &st));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, st);
	EXPECT_EQ(0xa5, m.va[0]);
	EXPECT_EQ(0xa5, m.va[2 * PAGE - 1]);
	EXPECT_EQ(0, m.va[2 * PAGE]);
	dma_mem_free(&m);
}

TEST_HARNESS_MAIN
