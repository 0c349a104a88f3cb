// SPDX-License-Identifier: GPL-2.0
/*
 * The interrupt model: doorbells to eventfds in each mode, the masks that
 * hold a vector back (INTx auto-mask, VFIO MASK, IRQ_MASK, INTx-disable),
 * ERR, the DATA_NONE/DATA_BOOL triggers, tearing modes down, and the
 * VFIO_DEVICE_SET_IRQS requests a device must refuse.
 */
#include <linux/pci_regs.h>

#include "vfiosim_test.h"

#define INTX	VFIO_PCI_INTX_IRQ_INDEX
#define MSI	VFIO_PCI_MSI_IRQ_INDEX
#define MSIX	VFIO_PCI_MSIX_IRQ_INDEX
#define ERR	VFIO_PCI_ERR_IRQ_INDEX
#define REQ	VFIO_PCI_REQ_IRQ_INDEX

#define BIT_ULL(n)	(1ULL << (n))
#define EVENTFD_TRIGGER_FLAGS	(VFIO_IRQ_SET_DATA_EVENTFD |		\
				 VFIO_IRQ_SET_ACTION_TRIGGER)

/* Register one fresh eventfd as the trigger of INTx. */
static int intx_enable(struct vfiosim_dev *dev)
{
	int fd = efd_new();

	if (fd < 0)
		return fd;
	if (vfiosim_irq_set_eventfd(dev, INTX, 0, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * For MSI and MSI-X alike: with every vector registered, ringing vector v
 * signals eventfd v once and no other.
 */
static void check_each_vector_fires_alone(struct __test_metadata *_metadata,
					  struct vfiosim_dev *dev,
					  uint32_t index, uint32_t n)
{
	uint64_t counts[VFIOSIM_MAX_VECTORS];
	int fds[VFIOSIM_MAX_VECTORS];
	uint32_t v;

	ASSERT_EQ(0, irq_enable_new(dev, index, fds, n))
		TH_LOG("%s", vfiosim_dev_error(dev));
	for (v = 0; v < n; v++) {
		ASSERT_EQ(0, ring_doorbell(dev, v));
		EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), counts))
			TH_LOG("index %u vector %u", index, v);
		EXPECT_EQ(1, counts[v]) TH_LOG("index %u vector %u", index, v);
	}
	/* Every doorbell was delivered, none dropped. */
	EXPECT_EQ(n, reg32(dev, VFIOSIM_REG_DOORBELL_COUNT));
	EXPECT_EQ(0, reg32(dev, VFIOSIM_REG_DROPPED));
	efd_close_all(fds, n);
}

/* ---- INTx -------------------------------------------------------------- */

TEST_F(vfiosim, intx_doorbell_signals)
{
	int fd = intx_enable(self->dev);

	ASSERT_LE(0, fd) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));
	close(fd);
}

TEST_F(vfiosim, intx_automask_and_unmask)
{
	int fd = intx_enable(self->dev);

	ASSERT_LE(0, fd) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));

	/* Auto-masked: a second doorbell is not signalled... */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	/* ...nor a fresh assertion after the line went down. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));

	/* The line is still up, so unmask signals (and masks) again. */
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_UNMASK,
				0, 1));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));

	/* Acknowledged (W1C) before the unmask: nothing to signal. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 1));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_UNMASK,
				0, 1));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));

	/* Unmasked and idle: the next doorbell is a new assertion. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	close(fd);
}

TEST_F(vfiosim, intx_status_bit_follows_line)
{
	int fd = intx_enable(self->dev);

	ASSERT_LE(0, fd) TH_LOG("%s", DEV_ERR(self));
	EXPECT_FALSE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_TRUE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 1));
	EXPECT_FALSE(cfg16(self->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	close(fd);
}

TEST_F(vfiosim, intx_vfio_mask_holds_back)
{
	int fd = intx_enable(self->dev);

	ASSERT_LE(0, fd) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_MASK, 0, 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	/* Unmask releases the asserted line, once. */
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_UNMASK,
				0, 1));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	close(fd);
}

TEST_F(vfiosim, intx_disable_bit_holds_back)
{
	int fd = intx_enable(self->dev);

	ASSERT_LE(0, fd) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2,
			       PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	/* Re-enabling asserts the line that IRQ_STATUS still holds up. */
	ASSERT_EQ(0, cfg_write(self->dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	close(fd);
}

/* ---- MSI and MSI-X ----------------------------------------------------- */

static bool status_interrupt(struct vfiosim_dev *dev)
{
	return cfg16(dev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

/*
 * PCI_STATUS.INTERRUPT is the device's INTx condition (IRQ_STATUS bit 0
 * not held by IRQ_MASK) in every mode, at once: no COMMAND write between
 * the change and the read.  It once moved only on a COMMAND write.
 */
static void check_status_follows_condition(struct __test_metadata *_metadata,
					   struct vfiosim_dev *dev,
					   uint32_t index, uint32_t n)
{
	int fds[VFIOSIM_MAX_VECTORS];

	ASSERT_EQ(0, irq_enable_new(dev, index, fds, n))
		TH_LOG("%s", vfiosim_dev_error(dev));
	EXPECT_FALSE(status_interrupt(dev));
	ASSERT_EQ(0, ring_doorbell(dev, 0));
	EXPECT_TRUE(status_interrupt(dev)) TH_LOG("index %u: after doorbell 0", index);
	ASSERT_EQ(0, bar0_write(dev, VFIOSIM_REG_IRQ_STATUS, 1));
	EXPECT_FALSE(status_interrupt(dev)) TH_LOG("index %u: after clearing", index);

	/* Another vector is not the INTx condition. */
	ASSERT_EQ(0, ring_doorbell(dev, 1));
	EXPECT_FALSE(status_interrupt(dev)) TH_LOG("index %u: doorbell 1", index);

	/* IRQ_MASK bit 0 holds the condition back, and gives it back. */
	ASSERT_EQ(0, ring_doorbell(dev, 0));
	ASSERT_EQ(0, bar0_write(dev, VFIOSIM_REG_IRQ_MASK, 1));
	EXPECT_FALSE(status_interrupt(dev)) TH_LOG("index %u: masked", index);
	ASSERT_EQ(0, bar0_write(dev, VFIOSIM_REG_IRQ_MASK, 0));
	EXPECT_TRUE(status_interrupt(dev)) TH_LOG("index %u: unmasked", index);

	/* INTX_DISABLE does not touch the status bit (PCI 3.0, 6.2.3). */
	ASSERT_EQ(0, cfg_write(dev, PCI_COMMAND, 2,
			       PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE));
	EXPECT_TRUE(status_interrupt(dev)) TH_LOG("index %u: INTx disabled", index);
	ASSERT_EQ(0, bar0_write(dev, VFIOSIM_REG_IRQ_STATUS, ~0U));
	EXPECT_FALSE(status_interrupt(dev)) TH_LOG("index %u: all cleared", index);
	efd_close_all(fds, n);
}

/* msi_NAME and msix_NAME: CHECK over each of the two message modes. */
#define TEST_MSI_AND_MSIX(name, check)					\
	TEST_F(vfiosim, msi_##name)					\
	{								\
		check(_metadata, self->dev, MSI, self->model->msi_vectors); \
	}								\
	TEST_F(vfiosim, msix_##name)					\
	{								\
		check(_metadata, self->dev, MSIX, self->model->msix_vectors); \
	}

TEST_MSI_AND_MSIX(status_bit_follows_condition, check_status_follows_condition)

/*
 * NORESIZE, as vfio-pci without dynamic MSI-X: the vectors a mode is
 * enabled with (start + count of the first SET_IRQS) are all it has until
 * it is disabled.  An eventfd past them is EINVAL, and the vectors of that
 * request up to the refused one are left without a trigger, as vfio-pci
 * leaves them; fd -1 past them is no error.  Over vfio-user a message
 * that starts right at the end continues a request split by max_msg_fds
 * (uapi), so there the vector past the end is one further.
 */
static void check_noresize(struct __test_metadata *_metadata,
			   struct vfiosim_dev *dev, uint32_t index,
			   const char *backend)
{
	uint32_t past = strcmp(backend, "vfio") ? 2 : 1;
	int fds[3], two[2];
	int32_t none = -1;

	ASSERT_EQ(0, irq_enable_new(dev, index, fds, 1))
		TH_LOG("%s", vfiosim_dev_error(dev));
	fds[1] = efd_new();
	fds[2] = efd_new();
	ASSERT_LE(0, fds[1]);
	ASSERT_LE(0, fds[2]);
	EXPECT_EQ(-EINVAL, vfiosim_irq_set_eventfd(dev, index, past, fds[1]))
		TH_LOG("index %u: vector %u past the enabled 1", index, past);
	EXPECT_EQ(0, irq_set(dev, index, EVENTFD_TRIGGER_FLAGS, past, 1, &none,
			     sizeof(none)))
		TH_LOG("index %u: %s", index, vfiosim_dev_error(dev));
	/* Vector 0 kept its trigger; vector 1 does not exist. */
	ASSERT_EQ(0, ring_doorbell(dev, 0));
	EXPECT_EQ(1, efd_wait(fds[0], IRQ_FIRE_TIMEOUT_MS)) TH_LOG("index %u", index);

	/* A request that extends: refused, vector 0 left with no trigger. */
	two[0] = fds[2];
	two[1] = fds[1];
	EXPECT_EQ(-EINVAL, irq_set(dev, index, EVENTFD_TRIGGER_FLAGS, 0, 2,
				   two, sizeof(two)));
	ASSERT_EQ(0, ring_doorbell(dev, 0));
	EXPECT_EQ(0, efd_wait_mask(fds, 3, 0, NULL)) TH_LOG("index %u", index);
	/* Still enabled with one vector: re-arm it. */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(dev, index, 0, fds[0]))
		TH_LOG("index %u: %s", index, vfiosim_dev_error(dev));
	ASSERT_EQ(0, ring_doorbell(dev, 0));
	EXPECT_EQ(1, efd_wait(fds[0], IRQ_FIRE_TIMEOUT_MS));

	/* Disabled and enabled again with two: both are there. */
	ASSERT_EQ(0, irq_disable(dev, index));
	ASSERT_EQ(0, irq_enable(dev, index, fds + 1, 2))
		TH_LOG("index %u: %s", index, vfiosim_dev_error(dev));
	ASSERT_EQ(0, ring_doorbell(dev, 1));
	EXPECT_EQ(BIT_ULL(2), efd_wait_mask(fds, 3, BIT_ULL(2), NULL));
	efd_close_all(fds, 3);
}

TEST_F(vfiosim, msi_noresize_enforced)
{
	check_noresize(_metadata, self->dev, MSI, variant->backend);
}

TEST_F(vfiosim, msix_noresize_enforced)
{
	check_noresize(_metadata, self->dev, MSIX, variant->backend);
}

/* One raw eventfd number, past libvfiosim's own checks. */
static int set_fd(struct vfiosim_dev *dev, uint32_t index, uint32_t vector,
		  int32_t fd)
{
	return irq_set(dev, index, EVENTFD_TRIGGER_FLAGS, vector, 1, &fd,
		       sizeof(fd));
}

/*
 * INTx with fd -1 is INTx with no trigger: the mode stays (or is entered)
 * and the line works, it just signals nobody; vfio-pci's handler still
 * auto-masks it, so a new trigger hears of it after an unmask.
 */
TEST_F(vfiosim, intx_fd_minus_one_keeps_intx)
{
	int msi_fds[VFIOSIM_MAX_VECTORS];
	int intx;

	/* From no mode: fd -1 enters INTx. */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, INTX, 0, -1))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(-EINVAL, irq_enable_new(self->dev, MSI, msi_fds,
					  self->model->msi_vectors));
	ASSERT_EQ(0, irq_disable(self->dev, INTX)) TH_LOG("%s", DEV_ERR(self));

	intx = intx_enable(self->dev);
	ASSERT_LE(0, intx) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, INTX, 0, -1));
	/* Still INTx: another mode is refused, the doorbell is not dropped. */
	EXPECT_EQ(-EINVAL, irq_enable_new(self->dev, MSI, msi_fds,
					  self->model->msi_vectors));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(intx, IRQ_QUIET_MS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));
	/* A new trigger: the assertion was auto-masked; unmask delivers it. */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, INTX, 0, intx));
	EXPECT_EQ(0, efd_wait(intx, IRQ_QUIET_MS));
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_UNMASK,
				0, 1));
	EXPECT_EQ(1, efd_wait(intx, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, irq_disable(self->dev, INTX));
	close(intx);
}

/*
 * A DATA_NONE/DATA_BOOL trigger is VFIO's loopback: vfio-pci signals the
 * eventfd itself, whatever the device's masks say.
 */
TEST_F(vfiosim, loopback_trigger_ignores_device_masks)
{
	int fd;

	/* One vector, held by IRQ_MASK, looped back. */
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, &fd, 1)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 1));
	ASSERT_EQ(0, irq_action(self->dev, MSI, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	/* Nothing was left pending for the mask to release. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 0));
	EXPECT_EQ(0, efd_wait(fd, IRQ_QUIET_MS));
	close(fd);
}

/*
 * ERR and REQ, as vfio_pci_set_ctx_trigger_single(): fd -1 de-assigns,
 * another negative fd is EINVAL (only where the transport carries the
 * number: a unix socket carries files, and -2 leaves the client as "no
 * fd"), and DATA_NONE with no eventfd set is EINVAL.
 */
TEST_F(vfiosim, err_req_trigger_rules)
{
	static const uint32_t indexes[] = { ERR, REQ };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(indexes); i++) {
		uint32_t index = indexes[i];
		int fd = efd_new();

		ASSERT_LE(0, fd);
		EXPECT_EQ(-EINVAL, irq_action(self->dev, index,
					      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1))
			TH_LOG("index %u: loopback with no eventfd", index);
		EXPECT_EQ(-EINVAL, irq_disable(self->dev, index))
			TH_LOG("index %u: disable with no eventfd", index);
		ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, index, 0, fd))
			TH_LOG("index %u: %s", index, DEV_ERR(self));
		if (strcmp(variant->backend, "unix")) {
			EXPECT_EQ(-EINVAL, set_fd(self->dev, index, 0, -2))
				TH_LOG("index %u: fd -2", index);
		}
		ASSERT_EQ(0, irq_action(self->dev, index,
					VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS))
			TH_LOG("index %u: the eventfd survived", index);
		ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, index, 0, -1));
		EXPECT_EQ(-EINVAL, irq_action(self->dev, index,
					      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		close(fd);
	}
}


TEST_F(vfiosim, msi_each_vector)
{
	check_each_vector_fires_alone(_metadata, self->dev, MSI,
				      self->model->msi_vectors);
}

TEST_F(vfiosim, msix_each_vector)
{
	check_each_vector_fires_alone(_metadata, self->dev, MSIX,
				      self->model->msix_vectors);
}

/*
 * MSI-X MASK and UNMASK: vfio-pci has none (ENOTTY, no MASKABLE), so the
 * VFIO transport has none; vfio-user has them (MASKABLE), as QEMU's
 * vfio-user client masks vectors on the server that keeps the PBA.
 */
static bool msix_maskable(const char *backend)
{
	return strcmp(backend, "vfio");
}

TEST_F(vfiosim, msix_mask_actions_follow_transport)
{
	uint32_t n = self->model->msix_vectors;
	int fds[VFIOSIM_MAX_VECTORS];
	int want = msix_maskable(variant->backend) ? 0 : -ENOTTY;

	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(want, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_MASK,
				   0, 1));
	EXPECT_EQ(want, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_UNMASK,
				   0, 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(BIT_ULL(0), efd_wait_mask(fds, n, BIT_ULL(0), NULL));
	efd_close_all(fds, n);
}

TEST_F(vfiosim, msix_vfio_mask_holds_back_and_sets_pba)
{
	uint32_t n = self->model->msix_vectors, v = n - 1, other = 0;
	uint64_t counts[VFIOSIM_MAX_VECTORS];
	int fds[VFIOSIM_MAX_VECTORS];

	if (!msix_maskable(variant->backend))
		SKIP(return, "MSI-X is not maskable on %s", variant->backend);
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_MASK, v, 1));
	EXPECT_EQ(0, msix_pending(self->dev, v));

	/* Rung twice while masked: pending is one bit, not a count. */
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	EXPECT_EQ(1, msix_pending(self->dev, v));

	/* Other vectors are not affected by the mask. */
	ASSERT_EQ(0, ring_doorbell(self->dev, other));
	EXPECT_EQ(BIT_ULL(other), efd_wait_mask(fds, n, BIT_ULL(other), NULL));
	EXPECT_EQ(0, msix_pending(self->dev, other));

	ASSERT_EQ(0, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_UNMASK,
				v, 1));
	EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), counts));
	EXPECT_EQ(1, counts[v]);
	EXPECT_EQ(0, msix_pending(self->dev, v));
	/* Released exactly once: a second unmask has nothing left. */
	ASSERT_EQ(0, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_UNMASK,
				v, 1));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	efd_close_all(fds, n);
}

TEST_F(vfiosim, msix_signals_when_last_mask_goes)
{
	uint32_t n = self->model->msix_vectors, v = n / 2;
	int fds[VFIOSIM_MAX_VECTORS];

	if (!msix_maskable(variant->backend))
		SKIP(return, "MSI-X is not maskable on %s", variant->backend);
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_MASK, v, 1));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 1U << v));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	EXPECT_EQ(1, msix_pending(self->dev, v));

	/* IRQ_MASK still holds it. */
	ASSERT_EQ(0, irq_action(self->dev, MSIX, VFIO_IRQ_SET_ACTION_UNMASK,
				v, 1));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	EXPECT_EQ(1, msix_pending(self->dev, v));

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 0));
	EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), NULL));
	EXPECT_EQ(0, msix_pending(self->dev, v));
	efd_close_all(fds, n);
}

TEST_F(vfiosim, msi_irq_mask_register_holds_back)
{
	uint32_t n = self->model->msi_vectors, v = n - 1;
	uint64_t counts[VFIOSIM_MAX_VECTORS];
	int fds[VFIOSIM_MAX_VECTORS];

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 1U << v));
	EXPECT_EQ(1U << v, reg32(self->dev, VFIOSIM_REG_IRQ_MASK));
	ASSERT_EQ(0, ring_doorbell(self->dev, v));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	/* Held back, not dropped. */
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_MASK, 0));
	EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), counts));
	EXPECT_EQ(1, counts[v]);
	efd_close_all(fds, n);
}

TEST_F(vfiosim, msi_irq_status_is_w1c)
{
	uint32_t n = self->model->msi_vectors;
	int fds[VFIOSIM_MAX_VECTORS];

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(0, ring_doorbell(self->dev, 1));
	EXPECT_EQ(0x3, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	/* Writing 0 clears nothing, writing a 1 clears that bit only. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 0));
	EXPECT_EQ(0x3, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 0x1));
	EXPECT_EQ(0x2, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(0x3, efd_wait_mask(fds, n, 0x3, NULL));
	efd_close_all(fds, n);
}

/*
 * More vectors than one vfio-user message carries fds (max_msg_fds, 16):
 * QEMU sends them in chunks with start > 0.  Here the chunks are the
 * caller's: two SET_IRQS, the second at start n/2 (n - n/2 vectors), and
 * every doorbell reaches its own eventfd.
 */
static void check_two_chunks(struct __test_metadata *_metadata,
			     struct vfiosim_dev *dev, uint32_t index,
			     uint32_t n)
{
	uint32_t half = n / 2, v;
	int fds[VFIOSIM_MAX_VECTORS];

	for (v = 0; v < n; v++) {
		fds[v] = efd_new();
		ASSERT_LE(0, fds[v]);
	}
	ASSERT_EQ(0, irq_set(dev, index, VFIO_IRQ_SET_DATA_EVENTFD |
			     VFIO_IRQ_SET_ACTION_TRIGGER, 0, half, fds,
			     half * sizeof(int))) TH_LOG("%s", vfiosim_dev_error(dev));
	ASSERT_EQ(0, irq_set(dev, index, VFIO_IRQ_SET_DATA_EVENTFD |
			     VFIO_IRQ_SET_ACTION_TRIGGER, half, n - half,
			     fds + half, (n - half) * sizeof(int)))
		TH_LOG("%s", vfiosim_dev_error(dev));
	for (v = 0; v < n; v++) {
		uint64_t counts[VFIOSIM_MAX_VECTORS];

		ASSERT_EQ(0, ring_doorbell(dev, v));
		EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), counts))
			TH_LOG("index %u vector %u", index, v);
	}
	EXPECT_EQ(0, reg32(dev, VFIOSIM_REG_DROPPED));
	/* A chunk of -1 past the start de-assigns those vectors only. */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(dev, index, n - 1, -1));
	ASSERT_EQ(0, ring_doorbell(dev, n - 1));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	ASSERT_EQ(0, ring_doorbell(dev, half));
	EXPECT_EQ(BIT_ULL(half), efd_wait_mask(fds, n, BIT_ULL(half), NULL));
	ASSERT_EQ(0, irq_disable(dev, index));
	efd_close_all(fds, n);
}

/*
 * The second chunk extends the enabled vectors: vfio-user only (uapi);
 * vfio-pci is NORESIZE there (msi_noresize_enforced).
 */
TEST_F(vfiosim, msix_eventfds_in_two_chunks)
{
	if (!strcmp(variant->backend, "vfio"))
		SKIP(return, "NORESIZE on vfio: the second chunk is EINVAL");
	check_two_chunks(_metadata, self->dev, MSIX, self->model->msix_vectors);
}

TEST_F(vfiosim, msi_eventfds_in_two_chunks)
{
	if (!strcmp(variant->backend, "vfio"))
		SKIP(return, "NORESIZE on vfio: the second chunk is EINVAL");
	check_two_chunks(_metadata, self->dev, MSI, self->model->msi_vectors);
}

/*
 * All 32 vectors of the full type in one SET_IRQS: more than a vfio-user
 * message carries, so libvfiosim splits it as QEMU does (chunks of at most
 * VFIOSIM_USER_MAX_MSG_FDS, increasing start); the device sees them all.
 */
TEST_F(vfiosim, msix_more_eventfds_than_one_message)
{
	uint32_t n = self->model->msix_vectors;

	if (n <= VFIOSIM_USER_MAX_MSG_FDS)
		SKIP(return, "%u vectors fit one message", n);
	check_each_vector_fires_alone(_metadata, self->dev, MSIX, n);
}

/* ---- INTx unmask eventfd (KVM's resample irqfd) -------------------------- */

#define UNMASK_EVENTFD	(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK)
/* The unmask runs from a workqueue: give it time before calling it quiet. */
#define UNMASK_QUIET_MS	200

static int intx_unmask_fd(struct vfiosim_dev *dev, int32_t fd)
{
	return irq_set(dev, INTX, UNMASK_EVENTFD, 0, 1, &fd, sizeof(fd));
}

static int efd_signal(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

TEST_F(vfiosim, intx_unmask_eventfd)
{
	int trig = intx_enable(self->dev), unmask = efd_new();

	ASSERT_LE(0, trig) TH_LOG("%s", DEV_ERR(self));
	ASSERT_LE(0, unmask);
	ASSERT_EQ(0, intx_unmask_fd(self->dev, unmask)) TH_LOG("%s", DEV_ERR(self));
	/* One at a time, as vfio-pci. */
	EXPECT_EQ(-EBUSY, intx_unmask_fd(self->dev, unmask));

	/* Doorbell: signalled and auto-masked; a second one is held back. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(trig, IRQ_QUIET_MS));

	/* The unmask eventfd unmasks: the line is still up, so again. */
	ASSERT_EQ(0, efd_signal(unmask));
	EXPECT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));
	/* ...and masked again by that signal. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(trig, IRQ_QUIET_MS));

	/* Acknowledged first: the unmask has nothing to signal... */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 1));
	ASSERT_EQ(0, efd_signal(unmask));
	EXPECT_EQ(0, efd_wait(trig, UNMASK_QUIET_MS));
	/* ...but it did unmask: the next doorbell is signalled. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));

	/* fd -1 disarms it: signals on it no longer unmask. */
	ASSERT_EQ(0, intx_unmask_fd(self->dev, -1)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, efd_signal(unmask));
	EXPECT_EQ(0, efd_wait(trig, UNMASK_QUIET_MS));
	/* The VFIO unmask still works, and a new one may be armed. */
	ASSERT_EQ(0, irq_action(self->dev, INTX, VFIO_IRQ_SET_ACTION_UNMASK,
				0, 1));
	EXPECT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));
	efd_wait(unmask, 0);
	EXPECT_EQ(0, intx_unmask_fd(self->dev, unmask)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, efd_signal(unmask));
	EXPECT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, intx_unmask_fd(self->dev, -1));
	close(unmask);
	close(trig);
}

TEST_F(vfiosim, intx_unmask_eventfd_goes_with_intx)
{
	int unmask = efd_new(), trig;

	ASSERT_LE(0, unmask);
	/* Only with INTx enabled, and only its one vector. */
	EXPECT_EQ(-EINVAL, intx_unmask_fd(self->dev, unmask));
	trig = intx_enable(self->dev);
	ASSERT_LE(0, trig) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(-EINVAL, irq_set(self->dev, INTX, UNMASK_EVENTFD, 1, 1,
				   &unmask, sizeof(unmask)));
	ASSERT_EQ(0, intx_unmask_fd(self->dev, unmask)) TH_LOG("%s", DEV_ERR(self));

	/* Tearing INTx down drops the unmask eventfd with it. */
	ASSERT_EQ(0, irq_disable(self->dev, INTX));
	close(trig);
	trig = intx_enable(self->dev);
	ASSERT_LE(0, trig) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(1, efd_wait(trig, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, efd_signal(unmask));
	EXPECT_EQ(0, efd_wait(trig, UNMASK_QUIET_MS));
	/* So a new one is not EBUSY. */
	efd_wait(unmask, 0);
	EXPECT_EQ(0, intx_unmask_fd(self->dev, unmask)) TH_LOG("%s", DEV_ERR(self));
	/* Closing the device with one armed releases it (no leak, no hang). */
	close(trig);
	close(unmask);
}

/* ---- ERR --------------------------------------------------------------- */

TEST_F(vfiosim, err_trigger_signals_err)
{
	int fd = efd_new();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, ERR, 0, fd))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_ERR_TRIGGER, 1));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	/* Any value, and it is not a doorbell. */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_ERR_TRIGGER, 0));
	EXPECT_EQ(1, efd_wait(fd, IRQ_FIRE_TIMEOUT_MS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	close(fd);
}

/* ---- DATA_NONE and DATA_BOOL triggers ---------------------------------- */

static void check_data_none_trigger(struct __test_metadata *_metadata,
				    struct vfiosim_dev *dev, uint32_t index,
				    uint32_t n)
{
	int fds[VFIOSIM_MAX_VECTORS];
	uint32_t v = n - 1;

	ASSERT_EQ(0, irq_enable_new(dev, index, fds, n))
		TH_LOG("%s", vfiosim_dev_error(dev));
	ASSERT_EQ(0, irq_action(dev, index, VFIO_IRQ_SET_ACTION_TRIGGER, v, 1))
		TH_LOG("%s", vfiosim_dev_error(dev));
	EXPECT_EQ(BIT_ULL(v), efd_wait_mask(fds, n, BIT_ULL(v), NULL))
		TH_LOG("index %u", index);
	/* A loopback from VFIO, not a doorbell. */
	EXPECT_EQ(0, reg32(dev, VFIOSIM_REG_DOORBELL_COUNT));
	efd_close_all(fds, n);
}

static void check_data_bool_trigger(struct __test_metadata *_metadata,
				    struct vfiosim_dev *dev, uint32_t index,
				    uint32_t n)
{
	uint8_t fire[VFIOSIM_MAX_VECTORS];
	int fds[VFIOSIM_MAX_VECTORS];
	uint64_t odd = 0;
	uint32_t v;

	for (v = 0; v < n; v++) {
		fire[v] = v & 1;
		if (fire[v])
			odd |= BIT_ULL(v);
	}
	ASSERT_EQ(0, irq_enable_new(dev, index, fds, n))
		TH_LOG("%s", vfiosim_dev_error(dev));
	ASSERT_EQ(0, irq_set(dev, index, VFIO_IRQ_SET_DATA_BOOL |
			     VFIO_IRQ_SET_ACTION_TRIGGER, 0, n, fire, n))
		TH_LOG("%s", vfiosim_dev_error(dev));
	EXPECT_EQ(odd, efd_wait_mask(fds, n, odd, NULL)) TH_LOG("index %u", index);
	efd_close_all(fds, n);
}

TEST_MSI_AND_MSIX(data_none_trigger, check_data_none_trigger)
TEST_MSI_AND_MSIX(data_bool_trigger, check_data_bool_trigger)

/* ---- tearing down and switching modes ---------------------------------- */

TEST_F(vfiosim, disable_by_count_zero)
{
	uint32_t n = self->model->msi_vectors;
	int fds[VFIOSIM_MAX_VECTORS];
	int intx;

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_disable(self->dev, MSI)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	/* No mode any more: the doorbell was dropped... */
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DROPPED));
	/* ...and another mode may now be chosen. */
	intx = intx_enable(self->dev);
	EXPECT_LE(0, intx) TH_LOG("%s", DEV_ERR(self));
	if (intx >= 0)
		close(intx);
	efd_close_all(fds, n);
}

TEST_F(vfiosim, disable_by_fd_minus_one)
{
	uint32_t n = self->model->msix_vectors;
	int fds[VFIOSIM_MAX_VECTORS];
	int intx;

	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	/*
	 * One vector's trigger goes; the others stay.  Any negative fd does
	 * it, as in vfio-pci (raw numbers: libvfiosim checks its own).
	 */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, MSIX, 1, -1));
	ASSERT_EQ(0, set_fd(self->dev, MSIX, 2, -2)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, set_fd(self->dev, MSIX, 3, INT32_MIN))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 1));
	ASSERT_EQ(0, ring_doorbell(self->dev, 2));
	ASSERT_EQ(0, ring_doorbell(self->dev, 3));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(BIT_ULL(0), efd_wait_mask(fds, n, BIT_ULL(0), NULL));
	ASSERT_EQ(0, irq_disable(self->dev, MSIX));
	efd_close_all(fds, n);

	/*
	 * INTx has one trigger: fd -1 removes it and leaves INTx on, as in
	 * vfio-pci; count 0 turns INTx off.  Clear the status latched by the
	 * MSI-X doorbell first, or INTx would (rightly) fire as soon as it is
	 * enabled.
	 */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, ~0U));
	intx = intx_enable(self->dev);
	ASSERT_LE(0, intx) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, INTX, 0, -1));
	ASSERT_EQ(0, set_fd(self->dev, INTX, 0, -7)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(0, efd_wait(intx, IRQ_QUIET_MS));
	EXPECT_EQ(-EINVAL, irq_enable_new(self->dev, MSI, fds,
					  self->model->msi_vectors));
	ASSERT_EQ(0, irq_disable(self->dev, INTX)) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0, irq_enable_new(self->dev, MSI, fds, self->model->msi_vectors))
		TH_LOG("%s", DEV_ERR(self));
	efd_close_all(fds, self->model->msi_vectors);
	close(intx);
}

TEST_F(vfiosim, one_mode_at_a_time)
{
	int msi_fds[VFIOSIM_MAX_VECTORS];
	int intx = intx_enable(self->dev);

	ASSERT_LE(0, intx) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(-EINVAL, irq_enable_new(self->dev, MSI, msi_fds,
					  self->model->msi_vectors));
	EXPECT_EQ(-EINVAL, irq_enable_new(self->dev, MSIX, msi_fds,
					  self->model->msix_vectors));
	/* The refused request left INTx as it was. */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, efd_wait(intx, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, irq_disable(self->dev, INTX));
	close(intx);

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, msi_fds,
				    self->model->msi_vectors));
	intx = efd_new();
	ASSERT_LE(0, intx);
	EXPECT_EQ(-EINVAL, vfiosim_irq_set_eventfd(self->dev, INTX, 0, intx));
	EXPECT_EQ(-EINVAL, vfiosim_irq_set_eventfd(self->dev, MSIX, 0, intx));
	close(intx);
	efd_close_all(msi_fds, self->model->msi_vectors);
}

/* ---- doorbells nobody receives ----------------------------------------- */

TEST_F(vfiosim, doorbell_without_mode_is_dropped)
{
	int err_fd = efd_new(), req_fd = efd_new();
	int fds[2] = { err_fd, req_fd };

	ASSERT_LE(0, err_fd);
	ASSERT_LE(0, req_fd);
	/* ERR and REQ triggers are not an interrupt mode. */
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, ERR, 0, err_fd));
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, REQ, 0, req_fd));
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	ASSERT_EQ(0, ring_doorbell(self->dev, 3));
	EXPECT_EQ(0, efd_wait_mask(fds, 2, 0, NULL));
	EXPECT_EQ(2, reg32(self->dev, VFIOSIM_REG_DROPPED));
	EXPECT_EQ(2, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	close(err_fd);
	close(req_fd);
}

TEST_F(vfiosim, doorbell_beyond_vectors_is_dropped)
{
	uint32_t n = self->model->msi_vectors;
	int fds[VFIOSIM_MAX_VECTORS];

	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, n))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, ring_doorbell(self->dev, n));
	EXPECT_EQ(0, efd_wait_mask(fds, n, 0, NULL));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DROPPED));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	efd_close_all(fds, n);
}

/* ---- requests the device must refuse ----------------------------------- */

#ifndef offsetofend
#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#endif

#define SET_MINSZ	offsetofend(struct vfio_irq_set, count)
#define EVENTFD_TRIGGER	(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_TRIGGER	(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)

struct bad_set_irqs {
	const char *why;
	uint32_t index;
	uint32_t flags;
	uint32_t start;
	uint32_t count;
	int argsz_delta;	/* added to the argsz the payload needs */
};

/* Send one hand-built VFIO_DEVICE_SET_IRQS; data is all -1 eventfds. */
static int send_set_irqs(struct vfiosim_dev *dev, const struct bad_set_irqs *b)
{
	union {
		struct vfio_irq_set set;
		uint8_t raw[sizeof(struct vfio_irq_set) +
			    (VFIOSIM_MAX_VECTORS + 2) * sizeof(int32_t)];
	} u;
	uint32_t payload = 0;

	memset(u.raw, 0xff, sizeof(u.raw));
	if (b->flags & VFIO_IRQ_SET_DATA_EVENTFD)
		payload = b->count * sizeof(int32_t);
	else if (b->flags & VFIO_IRQ_SET_DATA_BOOL)
		payload = b->count;
	/* Never claim more than the buffer holds. */
	if (payload > sizeof(u.raw) - sizeof(u.set))
		payload = sizeof(u.raw) - sizeof(u.set);
	u.set.argsz = sizeof(u.set) + payload + b->argsz_delta;
	u.set.flags = b->flags;
	u.set.index = b->index;
	u.set.start = b->start;
	u.set.count = b->count;
	return vfiosim_set_irqs(dev, &u.set);
}

TEST_F(vfiosim, set_irqs_rejects_bad_requests)
{
	uint32_t msi = self->model->msi_vectors;
	uint32_t msix = self->model->msix_vectors;
	const struct bad_set_irqs bad[] = {
		{ "argsz below the header", MSI, NONE_TRIGGER, 0, 0,
		  (int)SET_MINSZ - (int)sizeof(struct vfio_irq_set) - 1 },
		{ "argsz too small for the eventfds", MSI, EVENTFD_TRIGGER,
		  0, 2, -1 },
		{ "index past the last", VFIO_PCI_NUM_IRQS, NONE_TRIGGER, 0, 0, 0 },
		{ "index far out", UINT32_MAX, NONE_TRIGGER, 0, 0, 0 },
		{ "start past the vectors", MSI, EVENTFD_TRIGGER, msi, 1, 0 },
		{ "start + count past the vectors", MSI, EVENTFD_TRIGGER, 1, msi, 0 },
		{ "count past the vectors", MSIX, EVENTFD_TRIGGER, 0, msix + 1, 0 },
		{ "start + count wraps", MSI, NONE_TRIGGER, 1, UINT32_MAX, 0 },
		{ "INTx has one vector", INTX, EVENTFD_TRIGGER, 0, 2, 0 },
		{ "ERR has one vector", ERR, EVENTFD_TRIGGER, 1, 1, 0 },
		{ "two data types", MSI, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, 0 },
		{ "bool and eventfd", MSI, VFIO_IRQ_SET_DATA_BOOL |
		  VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, 0 },
		{ "unknown flag", MSI, NONE_TRIGGER | (1U << 31), 0, 1, 0 },
		{ "count 0 with eventfd", MSI, EVENTFD_TRIGGER, 0, 0, 0 },
		/* vfio-pci checks for INTx before it looks at the data type */
		{ "eventfd mask on INTx, INTx off", INTX,
		  VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0 },
	};

	/* Actions an index does not support: -ENOTTY, as vfio-pci says. */
	const struct bad_set_irqs unsupported[] = {
		{ "eventfd with unmask on MSI", MSI, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, 0 },
		{ "mask on MSI (not maskable)", MSI, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0 },
		{ "eventfd with mask on MSI-X", MSIX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0 },
		{ "mask on ERR", ERR, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0 },
	};
	int fds[VFIOSIM_MAX_VECTORS];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, send_set_irqs(self->dev, &bad[i]))
			TH_LOG("%s: %s", bad[i].why, DEV_ERR(self));
	}
	for (i = 0; i < ARRAY_SIZE(unsupported); i++) {
		EXPECT_EQ(-ENOTTY, send_set_irqs(self->dev, &unsupported[i]))
			TH_LOG("%s: %s", unsupported[i].why, DEV_ERR(self));
	}

	/* None of it changed anything: a doorbell is still dropped... */
	ASSERT_EQ(0, ring_doorbell(self->dev, 0));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DROPPED));
	/*
	 * ...except where libvfiosim sends more eventfds than one vfio-user
	 * message carries in several messages, of which the first ones of a
	 * refused request may have been applied (start + count past the
	 * vectors, on the full type): start the good request from no mode.
	 */
	irq_disable(self->dev, MSI);
	/* ...and a good request still works. */
	ASSERT_EQ(0, irq_enable_new(self->dev, MSI, fds, msi))
		TH_LOG("%s", DEV_ERR(self));
	efd_close_all(fds, msi);
}

TEST_HARNESS_MAIN
