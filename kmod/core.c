// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the device model.
 *
 * Everything a vfiosim device does lives here: config space, the BAR0
 * register file with its MSI-X table and PBA, BAR2 device memory and the
 * interrupt logic.  Callers pass kernel buffers and already-validated
 * uapi headers; which transport they serve is not our business.
 */

#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>

#include "compat.h"
#include "vfiosim.h"
#include "trace.h"

/* Command register bits a driver may change. */
#define VFIOSIM_CMD_WRITABLE							\
	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |	\
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

#define VFIOSIM_MSIX_TABLE_END(t)					\
	(VFIOSIM_MSIX_TABLE_OFFSET + (t)->msix_vectors * VFIOSIM_MSIX_ENTRY_SIZE)

/* ---- config space ---------------------------------------------------- */

static void cfg_put8(u8 *cfg, unsigned int off, u8 val)
{
	cfg[off] = val;
}

static void cfg_put16(u8 *cfg, unsigned int off, u16 val)
{
	put_unaligned_le16(val, cfg + off);
}

static void cfg_put32(u8 *cfg, unsigned int off, u32 val)
{
	put_unaligned_le32(val, cfg + off);
}

static u16 cfg_get16(const u8 *cfg, unsigned int off)
{
	return get_unaligned_le16(cfg + off);
}

/*
 * Build the reset value (or, with wmask set, the per-byte writable mask)
 * of the config space.  One function for both keeps the two in step.
 */
static void vfiosim_config_layout(const struct vfiosim_type *type, u8 *cfg,
				  bool wmask)
{
	unsigned int msi_log2 = ilog2(type->msi_vectors);

	memset(cfg, 0, VFIOSIM_CONFIG_SIZE);
	if (wmask) {
		cfg_put16(cfg, PCI_COMMAND, VFIOSIM_CMD_WRITABLE);
		cfg_put8(cfg, PCI_CACHE_LINE_SIZE, 0xff);
		cfg_put32(cfg, PCI_BASE_ADDRESS_0, ~(VFIOSIM_BAR0_SIZE - 1));
		cfg_put32(cfg, PCI_BASE_ADDRESS_2, ~(type->bar2_size - 1));
		cfg_put32(cfg, PCI_BASE_ADDRESS_3, 0xffffffff);
		cfg_put8(cfg, PCI_INTERRUPT_LINE, 0xff);
		/* MSI: enable and multiple message enable */
		cfg_put16(cfg, VFIOSIM_CFG_MSI_CAP + PCI_MSI_FLAGS,
			  PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
		cfg_put32(cfg, VFIOSIM_CFG_MSI_CAP + PCI_MSI_ADDRESS_LO,
			  0xfffffffc);
		cfg_put32(cfg, VFIOSIM_CFG_MSI_CAP + PCI_MSI_ADDRESS_HI,
			  0xffffffff);
		cfg_put16(cfg, VFIOSIM_CFG_MSI_CAP + PCI_MSI_DATA_64, 0xffff);
		/* MSI-X: enable and function mask */
		cfg_put16(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS,
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
		/* PCIe DEVCTL: the controls; Initiate FLR is never stored */
		cfg_put16(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL,
			  (u16)~PCI_EXP_DEVCTL_BCR_FLR);
		return;
	}

	cfg_put16(cfg, PCI_VENDOR_ID, VFIOSIM_PCI_VENDOR_ID);
	/* Decoding, as vfio-pci shows a device it enabled at open. */
	cfg_put16(cfg, PCI_COMMAND, PCI_COMMAND_MEMORY);
	cfg_put16(cfg, PCI_DEVICE_ID, type->device_id);
	cfg_put16(cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg_put8(cfg, PCI_REVISION_ID, VFIOSIM_PCI_REVISION);
	cfg_put8(cfg, PCI_CLASS_PROG, VFIOSIM_PCI_CLASS & 0xff);
	cfg_put16(cfg, PCI_CLASS_DEVICE, VFIOSIM_PCI_CLASS >> 8);
	cfg_put32(cfg, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_MEMORY |
		  PCI_BASE_ADDRESS_MEM_TYPE_32);
	cfg_put32(cfg, PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_SPACE_MEMORY |
		  PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	cfg_put16(cfg, PCI_SUBSYSTEM_VENDOR_ID, VFIOSIM_PCI_SUBSYS_VENDOR_ID);
	cfg_put16(cfg, PCI_SUBSYSTEM_ID, type->device_id);
	cfg_put8(cfg, PCI_CAPABILITY_LIST, VFIOSIM_CFG_CAP_LIST);
	cfg_put8(cfg, PCI_INTERRUPT_PIN, 1);

	cfg_put8(cfg, VFIOSIM_CFG_MSI_CAP + PCI_CAP_LIST_ID, PCI_CAP_ID_MSI);
	cfg_put8(cfg, VFIOSIM_CFG_MSI_CAP + PCI_CAP_LIST_NEXT,
		 VFIOSIM_CFG_MSIX_CAP);
	cfg_put16(cfg, VFIOSIM_CFG_MSI_CAP + PCI_MSI_FLAGS,
		  PCI_MSI_FLAGS_64BIT | (msi_log2 << 1));

	cfg_put8(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_CAP_LIST_ID, PCI_CAP_ID_MSIX);
	cfg_put8(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_CAP_LIST_NEXT,
		 VFIOSIM_CFG_EXP_CAP);
	cfg_put16(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS,
		  type->msix_vectors - 1);
	cfg_put32(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_TABLE,
		  VFIOSIM_MSIX_TABLE_OFFSET);
	cfg_put32(cfg, VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_PBA,
		  VFIOSIM_MSIX_PBA_OFFSET);

	/* PCI Express v2 endpoint, x1 at 2.5 GT/s; FLR is its reset. */
	cfg_put8(cfg, VFIOSIM_CFG_EXP_CAP + PCI_CAP_LIST_ID, PCI_CAP_ID_EXP);
	cfg_put8(cfg, VFIOSIM_CFG_EXP_CAP + PCI_CAP_LIST_NEXT, 0);
	cfg_put16(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_FLAGS,
		  2 | PCI_EXP_TYPE_ENDPOINT << 4);
	cfg_put32(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR);
	cfg_put16(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL,
		  VFIOSIM_EXP_DEVCTL_DEFAULT);
	cfg_put32(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_LNKCAP,
		  PCI_EXP_LNKCAP_SLS_2_5GB | 1 << 4);
	cfg_put16(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_LNKSTA,
		  PCI_EXP_LNKSTA_CLS_2_5GB | 1 << 4);
	cfg_put32(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_LNKCAP2,
		  PCI_EXP_LNKCAP2_SLS_2_5GB);
	cfg_put16(cfg, VFIOSIM_CFG_EXP_CAP + PCI_EXP_LNKCTL2,
		  PCI_EXP_LNKCTL2_TLS_2_5GT);
}

/* ---- interrupts ------------------------------------------------------ */

static u32 vfiosim_mode_vectors(const struct vfiosim_dev *sdev, int index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	case VFIO_PCI_MSI_IRQ_INDEX:
		return sdev->type->msi_vectors;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return sdev->type->msix_vectors;
	default:
		return 0;
	}
}

/* Signal a trigger as it is, without fault knobs (fault.c uses it too). */
bool vfiosim_irq_raw_signal(struct vfiosim_dev *sdev, int index, u32 vector)
{
	struct eventfd_ctx *ctx;

	lockdep_assert_held(&sdev->lock);
	if (index < 0 || index >= VFIO_PCI_NUM_IRQS ||
	    vector >= VFIOSIM_MAX_VECTORS)
		return false;
	ctx = sdev->trigger[index][vector];
	if (!ctx) {
		trace_vfiosim_irq(sdev, index, vector,
				  VFIOSIM_TRACE_IRQ_NO_TRIGGER);
		return false;
	}
	vfiosim_eventfd_signal(ctx);
	sdev->stat_irqs++;
	trace_vfiosim_irq(sdev, index, vector, VFIOSIM_TRACE_IRQ_DELIVERED);
	return true;
}

/*
 * A dropped or delayed one (fault.c) was sent, as far as the device knows.
 * Each call is one vfiosim_irq event (raw_signal's, or its fate here).
 */
static bool vfiosim_signal(struct vfiosim_dev *sdev, int index, u32 vector)
{
	u8 fate = VFIOSIM_TRACE_IRQ_DELIVERED;
	unsigned int n;

	lockdep_assert_held(&sdev->lock);
	if (!sdev->trigger[index][vector]) {
		trace_vfiosim_irq(sdev, index, vector,
				  VFIOSIM_TRACE_IRQ_NO_TRIGGER);
		return false;
	}
	n = vfiosim_fault_irq(sdev, index, vector, &fate);
	if (!n)
		trace_vfiosim_irq(sdev, index, vector, fate);
	while (n--)
		vfiosim_irq_raw_signal(sdev, index, vector);
	return true;
}

/*
 * The device's INTx condition, (IRQ_STATUS & ~IRQ_MASK) bit 0, is what
 * PCI_STATUS.INTERRUPT shows in every mode, whatever INTX_DISABLE says.
 * In INTx mode the line is that condition with INTX_DISABLE clear; it is
 * level triggered: an assertion that VFIO has unmasked auto-masks, as
 * vfio-pci's handler does, and signals the trigger if there is one.
 * Called after anything that can change IRQ_STATUS, IRQ_MASK, COMMAND
 * or the VFIO mask, in any mode.  True if the line was signalled (as
 * far as the fault knobs let it).
 */
static bool vfiosim_intx_update(struct vfiosim_dev *sdev)
{
	u16 cmd = cfg_get16(sdev->config, PCI_COMMAND);
	u16 status = cfg_get16(sdev->config, PCI_STATUS);
	bool asserted = sdev->irq_status & ~sdev->irq_mask & BIT(0);

	lockdep_assert_held(&sdev->lock);

	if (asserted)
		status |= PCI_STATUS_INTERRUPT;
	else
		status &= ~PCI_STATUS_INTERRUPT;
	cfg_put16(sdev->config, PCI_STATUS, status);

	if (sdev->irq_mode != VFIO_PCI_INTX_IRQ_INDEX || !asserted ||
	    (cmd & PCI_COMMAND_INTX_DISABLE) || sdev->intx_masked)
		return false;
	sdev->intx_masked = true;
	vfiosim_signal(sdev, VFIO_PCI_INTX_IRQ_INDEX, 0);
	return true;
}

static bool vfiosim_vector_held(const struct vfiosim_dev *sdev, u32 vector)
{
	if (sdev->irq_mask & BIT(vector))
		return true;
	return sdev->irq_mode == VFIO_PCI_MSIX_IRQ_INDEX &&
	       (sdev->msix_masked & BIT(vector));
}

/* Deliver a message-signalled vector now, or keep it pending. */
static void vfiosim_msi_deliver(struct vfiosim_dev *sdev, u32 vector)
{
	if (vfiosim_vector_held(sdev, vector)) {
		sdev->pending |= BIT(vector);
		trace_vfiosim_irq(sdev, sdev->irq_mode, vector,
				  VFIOSIM_TRACE_IRQ_PENDING);
		return;
	}
	sdev->pending &= ~BIT(vector);
	if (!vfiosim_signal(sdev, sdev->irq_mode, vector))
		sdev->dropped++;
}

/* A mask went away: release whatever it held back. */
static void vfiosim_irq_unmasked(struct vfiosim_dev *sdev)
{
	unsigned long pending = sdev->pending;
	unsigned int vector;

	vfiosim_intx_update(sdev);
	if (sdev->irq_mode != VFIO_PCI_MSI_IRQ_INDEX &&
	    sdev->irq_mode != VFIO_PCI_MSIX_IRQ_INDEX)
		return;
	for_each_set_bit(vector, &pending, VFIOSIM_MAX_VECTORS)
		if (!vfiosim_vector_held(sdev, vector))
			vfiosim_msi_deliver(sdev, vector);
}

/*
 * Interrupt state was loaded (migration): INTx and PCI_STATUS follow it,
 * and a pending vector no mask holds any more is delivered.
 */
void vfiosim_irq_refresh_locked(struct vfiosim_dev *sdev)
{
	lockdep_assert_held(&sdev->lock);
	vfiosim_irq_unmasked(sdev);
}

/*
 * A DOORBELL write of @vector: the DMA engine's completion raises its
 * vector through here too.
 */
void vfiosim_doorbell(struct vfiosim_dev *sdev, u32 vector)
{
	lockdep_assert_held(&sdev->lock);
	sdev->doorbell_count++;
	if (sdev->irq_mode == VFIOSIM_IRQ_MODE_NONE ||
	    vector >= vfiosim_mode_vectors(sdev, sdev->irq_mode)) {
		sdev->dropped++;
		trace_vfiosim_irq(sdev, sdev->irq_mode, vector,
				  VFIOSIM_TRACE_IRQ_DROPPED);
		return;
	}
	sdev->irq_status |= BIT(vector);
	/* INTx held by IRQ_MASK, INTX_DISABLE or the VFIO mask: pending */
	if (!vfiosim_intx_update(sdev) &&
	    sdev->irq_mode == VFIO_PCI_INTX_IRQ_INDEX)
		trace_vfiosim_irq(sdev, sdev->irq_mode, vector,
				  VFIOSIM_TRACE_IRQ_PENDING);
	if (sdev->irq_mode != VFIO_PCI_INTX_IRQ_INDEX)
		vfiosim_msi_deliver(sdev, vector);
}

static void vfiosim_put_trigger(struct vfiosim_dev *sdev, int index,
				u32 vector)
{
	struct eventfd_ctx **slot = &sdev->trigger[index][vector];

	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = NULL;
}

static void vfiosim_put_triggers(struct vfiosim_dev *sdev, int index)
{
	unsigned int v;

	for (v = 0; v < VFIOSIM_MAX_VECTORS; v++)
		vfiosim_put_trigger(sdev, index, v);
}

static void vfiosim_disable_mode(struct vfiosim_dev *sdev)
{
	if (sdev->irq_mode != VFIOSIM_IRQ_MODE_NONE)
		vfiosim_put_triggers(sdev, sdev->irq_mode);
	sdev->irq_mode = VFIOSIM_IRQ_MODE_NONE;
	sdev->irq_nvec = 0;
	sdev->intx_masked = false;
	sdev->pending = 0;
}

/*
 * The transport in use is vfio-user (the netlink owner).  Where vfio-pci
 * and a vfio-user client part ways, the client wins, and core.c asks this.
 */
static bool vfiosim_over_vfio_user(const struct vfiosim_dev *sdev)
{
	return READ_ONCE(sdev->owner) == VFIOSIM_OWNER_NETLINK;
}

/*
 * Eventfds for a block of MSI or MSI-X vectors, as vfio-pci sets them:
 * vector by vector, any negative fd de-assigns.  The first SET_IRQS
 * enables the mode with start + count vectors and, NORESIZE, that is all
 * it has until it is disabled: an fd past them is EINVAL.  On a failure
 * the vectors of the block up to the failing one are left with no
 * trigger, and a mode this block enabled is disabled again.
 *
 * A vfio-user message carries at most max_msg_fds eventfds, so a client
 * (QEMU's vfio_user_set_irqs()) sends one request in messages of
 * increasing start: there a block that starts where the enabled vectors
 * end continues the request and extends them.
 */
static int vfiosim_set_msi_block(struct vfiosim_dev *sdev, int index,
				 u32 start, u32 count, const s32 *fds)
{
	bool enable = sdev->irq_mode == VFIOSIM_IRQ_MODE_NONE;
	u32 nvec = sdev->irq_nvec;
	int ret = 0;
	u32 i;

	/* vfio-pci: a no-op in the mode, an allocation error outside it */
	if (!count)
		return -EINVAL;
	if (enable) {
		sdev->irq_mode = index;
		sdev->irq_nvec = start + count;
	} else if (start == nvec && vfiosim_over_vfio_user(sdev)) {
		sdev->irq_nvec = start + count;
	}
	for (i = 0; i < count; i++) {
		u32 vector = start + i;
		struct eventfd_ctx *ctx;

		vfiosim_put_trigger(sdev, index, vector);
		if (fds[i] < 0)
			continue;
		if (vector >= sdev->irq_nvec) {
			ret = -EINVAL;
			break;
		}
		ctx = eventfd_ctx_fdget(fds[i]);
		if (IS_ERR(ctx)) {
			ret = PTR_ERR(ctx);
			break;
		}
		sdev->trigger[index][vector] = ctx;
	}
	if (!ret)
		return 0;
	while (i--)
		vfiosim_put_trigger(sdev, index, start + i);
	sdev->irq_nvec = nvec;
	if (enable)
		vfiosim_disable_mode(sdev);
	return ret;
}

/*
 * The INTx trigger, as vfio-pci: a negative fd is "no trigger", not
 * "disable".  Either way INTx is (or stays) the mode; only count 0 with
 * DATA_NONE turns it off.  A new trigger does not hear of an assertion
 * that came before it: that one auto-masked already.
 */
static int vfiosim_set_intx_trigger(struct vfiosim_dev *sdev, s32 fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	vfiosim_put_trigger(sdev, VFIO_PCI_INTX_IRQ_INDEX, 0);
	sdev->trigger[VFIO_PCI_INTX_IRQ_INDEX][0] = ctx;
	if (sdev->irq_mode == VFIOSIM_IRQ_MODE_NONE) {
		sdev->irq_mode = VFIO_PCI_INTX_IRQ_INDEX;
		sdev->intx_masked = false;
		vfiosim_intx_update(sdev);
	}
	return 0;
}

static bool vfiosim_data_bit(u32 flags, const void *data, u32 i)
{
	if ((flags & VFIO_IRQ_SET_DATA_TYPE_MASK) == VFIO_IRQ_SET_DATA_BOOL)
		return ((const u8 *)data)[i];
	return true;
}

/*
 * Interrupts of the mode lines (INTx, MSI, MSI-X): only one at a time.
 * The order of the checks, and so the errno of a bad request, is
 * vfio-pci's.
 */
static int vfiosim_set_mode_trigger(struct vfiosim_dev *sdev,
				    const struct vfio_irq_set *hdr,
				    const void *data)
{
	u32 data_type = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	int index = hdr->index;
	bool intx = index == VFIO_PCI_INTX_IRQ_INDEX;
	u16 cmd = cfg_get16(sdev->config, PCI_COMMAND);
	u32 i;

	if (data_type == VFIO_IRQ_SET_DATA_NONE && !hdr->count &&
	    sdev->irq_mode == index) {
		vfiosim_disable_mode(sdev);
		return 0;
	}
	if (sdev->irq_mode != VFIOSIM_IRQ_MODE_NONE && sdev->irq_mode != index)
		return -EINVAL;
	if (intx && (hdr->start || hdr->count != 1))
		return -EINVAL;

	if (data_type == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (intx)
			return vfiosim_set_intx_trigger(sdev, *(const s32 *)data);
		return vfiosim_set_msi_block(sdev, index, hdr->start,
					     hdr->count, data);
	}

	/*
	 * DATA_NONE / DATA_BOOL: VFIO's loopback.  vfio-pci signals the
	 * eventfds itself, past any mask of the device (INTx only while the
	 * guest has not disabled it in COMMAND); nothing is left pending.
	 */
	if (sdev->irq_mode != index)
		return -EINVAL;
	if (intx && (cmd & PCI_COMMAND_INTX_DISABLE))
		return 0;
	for (i = 0; i < hdr->count; i++)
		if (vfiosim_data_bit(hdr->flags, data, i))
			vfiosim_signal(sdev, index, hdr->start + i);
	return 0;
}

/*
 * MSI-X MASK and UNMASK are the vfio-user transport's: vfio-pci has
 * none (ENOTTY, and no MASKABLE in the IRQ info), and QEMU's vfio-user
 * client masks vectors on the server, which keeps the PBA, when MASKABLE
 * is there.
 */
static bool vfiosim_msix_maskable(const struct vfiosim_dev *sdev)
{
	return vfiosim_over_vfio_user(sdev);
}

static int vfiosim_set_mask(struct vfiosim_dev *sdev,
			    const struct vfio_irq_set *hdr, const void *data)
{
	bool mask = (hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) ==
		    VFIO_IRQ_SET_ACTION_MASK;
	bool intx = hdr->index == VFIO_PCI_INTX_IRQ_INDEX;
	u32 bits = 0;
	u32 i;

	if (!intx && !vfiosim_msix_maskable(sdev))
		return -ENOTTY;
	/* vfio-pci: INTx must be enabled, before the data type counts */
	if (intx && (sdev->irq_mode != VFIO_PCI_INTX_IRQ_INDEX ||
		     hdr->start || hdr->count != 1))
		return -EINVAL;
	if ((hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) ==
	    VFIO_IRQ_SET_DATA_EVENTFD)
		return -ENOTTY;	/* only INTx unmask takes an eventfd */
	if (!hdr->count)
		return -EINVAL;
	for (i = 0; i < hdr->count; i++)
		if (vfiosim_data_bit(hdr->flags, data, i))
			bits |= BIT(hdr->start + i);

	if (intx) {
		if (!bits)
			return 0;
		sdev->intx_masked = mask;
	} else {
		if (mask)
			sdev->msix_masked |= bits;
		else
			sdev->msix_masked &= ~bits;
	}
	if (!mask)
		vfiosim_irq_unmasked(sdev);
	return 0;
}

/*
 * ERR and REQ: one vector each, trigger only, independent of the mode;
 * as vfio_pci_set_ctx_trigger_single(): DATA_NONE needs an eventfd set,
 * fd -1 de-assigns and any other negative fd is EINVAL.
 */
static int vfiosim_set_single_trigger(struct vfiosim_dev *sdev,
				      const struct vfio_irq_set *hdr,
				      const void *data)
{
	u32 data_type = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	int index = hdr->index;
	struct eventfd_ctx *ctx;
	s32 fd;

	if (data_type == VFIO_IRQ_SET_DATA_NONE) {
		if (!sdev->trigger[index][0])
			return -EINVAL;
		if (hdr->count)
			vfiosim_signal(sdev, index, 0);
		else
			vfiosim_put_trigger(sdev, index, 0);
		return 0;
	}
	if (!hdr->count)
		return -EINVAL;
	if (data_type == VFIO_IRQ_SET_DATA_BOOL) {
		if (vfiosim_data_bit(hdr->flags, data, 0))
			vfiosim_signal(sdev, index, 0);
		return 0;
	}
	fd = *(const s32 *)data;
	if (fd == -1) {
		vfiosim_put_trigger(sdev, index, 0);
		return 0;
	}
	if (fd < 0)
		return -EINVAL;
	ctx = eventfd_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	vfiosim_put_trigger(sdev, index, 0);
	sdev->trigger[index][0] = ctx;
	return 0;
}

/*
 * The INTx unmask eventfd (KVM's resample irqfd): a signal on it unmasks
 * INTx as VFIO_IRQ_SET_ACTION_UNMASK does.  The virqfd calls this from a
 * workqueue, never with a lock of ours held.
 */
static void vfiosim_intx_unmask_thread(void *opaque, void *data)
{
	struct vfiosim_dev *sdev = opaque;

	mutex_lock(&sdev->lock);
	if (sdev->irq_mode == VFIO_PCI_INTX_IRQ_INDEX) {
		sdev->intx_masked = false;
		vfiosim_intx_update(sdev);
	}
	mutex_unlock(&sdev->lock);
}

/* Drop the unmask eventfd.  Caller holds igate and not lock. */
static void vfiosim_intx_unmask_off(struct vfiosim_dev *sdev)
{
	lockdep_assert_held(&sdev->igate);
	if (!sdev->intx_unmask_on)
		return;
	/* Waits for a running unmask_thread, which takes lock. */
	vfiosim_virqfd_disable(&sdev->intx_unmask);
	sdev->intx_unmask_on = false;
}

/*
 * ACTION_UNMASK | DATA_EVENTFD on INTx, as vfio-pci: an fd arms the unmask
 * eventfd (EBUSY if one is armed), -1 disarms it.  INTx must be enabled.
 */
static int vfiosim_set_intx_unmask_fd(struct vfiosim_dev *sdev,
				      const struct vfio_irq_set *hdr,
				      const s32 *fds)
{
	bool intx;
	int ret;

	lockdep_assert_held(&sdev->igate);
	if (hdr->start || hdr->count != 1)
		return -EINVAL;
	mutex_lock(&sdev->lock);
	intx = sdev->irq_mode == VFIO_PCI_INTX_IRQ_INDEX;
	mutex_unlock(&sdev->lock);
	if (!intx)
		return -EINVAL;
	if (fds[0] < 0) {
		vfiosim_intx_unmask_off(sdev);
		return 0;
	}
	if (READ_ONCE(sdev->intx_unmask))
		return -EBUSY;
	/* It went away by itself (its eventfd was closed): pair the enable. */
	vfiosim_intx_unmask_off(sdev);
	ret = vfiosim_virqfd_enable(sdev, vfiosim_intx_unmask_thread,
				    &sdev->intx_unmask, fds[0]);
	if (!ret)
		sdev->intx_unmask_on = true;
	return ret;
}

/*
 * @hdr has passed vfio_set_irqs_validate_and_prepare(); @data holds
 * hdr->count elements of the data type it names.
 */
int vfiosim_set_irqs(struct vfiosim_dev *sdev, const struct vfio_irq_set *hdr,
		     const void *data)
{
	u32 action = hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	u32 data_type = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	u32 nvec = vfiosim_mode_vectors(sdev, hdr->index);
	bool intx_gone;
	int ret = -ENOTTY;

	if (hdr->count > nvec || hdr->start > nvec - hdr->count) {
		trace_vfiosim_set_irqs(sdev, hdr, -EINVAL);
		return -EINVAL;
	}
	ret = vfiosim_fault_op(sdev, VFIOSIM_FAULT_SET_IRQS);
	if (ret) {
		trace_vfiosim_set_irqs(sdev, hdr, ret);
		return ret;
	}
	ret = -ENOTTY;

	mutex_lock(&sdev->igate);
	if (hdr->index == VFIO_PCI_INTX_IRQ_INDEX &&
	    action == VFIO_IRQ_SET_ACTION_UNMASK &&
	    data_type == VFIO_IRQ_SET_DATA_EVENTFD) {
		ret = vfiosim_set_intx_unmask_fd(sdev, hdr, data);
		goto out;
	}

	mutex_lock(&sdev->lock);
	switch (hdr->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_MASK ||
		    action == VFIO_IRQ_SET_ACTION_UNMASK) {
			ret = vfiosim_set_mask(sdev, hdr, data);
			break;
		}
		fallthrough;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			ret = vfiosim_set_mode_trigger(sdev, hdr, data);
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			ret = vfiosim_set_single_trigger(sdev, hdr, data);
		break;
	}
	intx_gone = sdev->irq_mode != VFIO_PCI_INTX_IRQ_INDEX;
	mutex_unlock(&sdev->lock);
	/* As vfio-pci: the unmask eventfd goes with INTx. */
	if (intx_gone)
		vfiosim_intx_unmask_off(sdev);
out:
	mutex_unlock(&sdev->igate);
	trace_vfiosim_set_irqs(sdev, hdr, ret);
	return ret;
}

int vfiosim_get_irq_info(struct vfiosim_dev *sdev, struct vfio_irq_info *info)
{
	if (info->index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;

	info->count = vfiosim_mode_vectors(sdev, info->index);
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	switch (info->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_MASKABLE |
			       VFIO_IRQ_INFO_AUTOMASKED;
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
		if (vfiosim_msix_maskable(sdev))
			info->flags |= VFIO_IRQ_INFO_MASKABLE;
		break;
	}
	return 0;
}

/* Called while the device is being removed and someone still holds it. */
void vfiosim_request(struct vfiosim_dev *sdev, unsigned int count)
{
	mutex_lock(&sdev->lock);
	if (!vfiosim_signal(sdev, VFIO_PCI_REQ_IRQ_INDEX, 0) && !count)
		dev_notice(sdev->vdev.dev,
			   "no REQ eventfd: removal waits for the user to close the device\n");
	mutex_unlock(&sdev->lock);
}

void vfiosim_release_irqs(struct vfiosim_dev *sdev)
{
	mutex_lock(&sdev->igate);
	vfiosim_intx_unmask_off(sdev);
	mutex_lock(&sdev->lock);
	vfiosim_disable_mode(sdev);
	sdev->msix_masked = 0;
	vfiosim_put_triggers(sdev, VFIO_PCI_ERR_IRQ_INDEX);
	vfiosim_put_triggers(sdev, VFIO_PCI_REQ_IRQ_INDEX);
	mutex_unlock(&sdev->lock);
	mutex_unlock(&sdev->igate);
}

/* ---- region access --------------------------------------------------- */

static u64 vfiosim_region_size(const struct vfiosim_dev *sdev, u32 index)
{
	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return VFIOSIM_CONFIG_SIZE;
	case VFIO_PCI_BAR0_REGION_INDEX:
		return VFIOSIM_BAR0_SIZE;
	case VFIO_PCI_BAR2_REGION_INDEX:
		return sdev->type->bar2_size;
	default:
		return 0;
	}
}

/*
 * BAR2's trapped tail: VFIOSIM_BAR2_TRAPPED_SIZE, or one page where pages
 * are larger, so that the mmappable part ends on a page boundary.
 */
static u64 vfiosim_bar2_trapped_size(void)
{
	return max_t(u64, VFIOSIM_BAR2_TRAPPED_SIZE, PAGE_SIZE);
}

/* 0 where BAR2 is no bigger than its trapped tail: nothing to mmap. */
u64 vfiosim_bar2_mmap_size(const struct vfiosim_dev *sdev)
{
	u64 size = sdev->type->bar2_size;

	return size > vfiosim_bar2_trapped_size() ?
	       size - vfiosim_bar2_trapped_size() : 0;
}

/* Memory decode: BAR0 and BAR2 answer only with COMMAND.MEMORY set. */
static bool vfiosim_memory_enabled(const struct vfiosim_dev *sdev)
{
	lockdep_assert_held(&sdev->lock);
	return cfg_get16(sdev->config, PCI_COMMAND) & PCI_COMMAND_MEMORY;
}

/* The byte of DEVCTL that holds Initiate FLR. */
#define VFIOSIM_CFG_FLR_BYTE	(VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL + 1)

/* True if the write initiates FLR, which the caller does once unlocked. */
static bool vfiosim_config_write(struct vfiosim_dev *sdev, unsigned int off,
				 const u8 *val, unsigned int len)
{
	const u8 *wmask = sdev->type->config_wmask;
	unsigned int i;

	for (i = 0; i < len; i++)
		sdev->config[off + i] = (sdev->config[off + i] & ~wmask[off + i]) |
					(val[i] & wmask[off + i]);
	/* INTX_DISABLE may have changed */
	if (off <= PCI_COMMAND + 1 && off + len > PCI_COMMAND)
		vfiosim_intx_update(sdev);
	return off <= VFIOSIM_CFG_FLR_BYTE && off + len > VFIOSIM_CFG_FLR_BYTE &&
	       (val[VFIOSIM_CFG_FLR_BYTE - off] & (PCI_EXP_DEVCTL_BCR_FLR >> 8));
}

static u32 vfiosim_bar0_read32(struct vfiosim_dev *sdev, u32 off)
{
	const struct vfiosim_type *type = sdev->type;

	if (off >= VFIOSIM_REG_SCRATCH0 &&
	    off < VFIOSIM_REG_SCRATCH(VFIOSIM_NUM_SCRATCH))
		return sdev->scratch[(off - VFIOSIM_REG_SCRATCH0) / 4];
	if (off >= VFIOSIM_MSIX_TABLE_OFFSET && off < VFIOSIM_MSIX_TABLE_END(type))
		return sdev->msix_table[(off - VFIOSIM_MSIX_TABLE_OFFSET) / 4];
	if (off >= VFIOSIM_REG_DMA_SRC_LO && off < VFIOSIM_REG_END)
		return vfiosim_dma_reg_read(sdev, off);

	switch (off) {
	case VFIOSIM_REG_ID:
		return VFIOSIM_ID_MAGIC;
	case VFIOSIM_REG_VERSION:
		return VFIOSIM_MODEL_VERSION;
	case VFIOSIM_REG_FEATURES:
		return VFIOSIM_FEAT_INTX | VFIOSIM_FEAT_MSI | VFIOSIM_FEAT_MSIX |
		       VFIOSIM_FEAT_BAR2_MMAP | VFIOSIM_FEAT_DMA;
	case VFIOSIM_REG_VECTORS:
		return type->msi_vectors << 16 | type->msix_vectors;
	case VFIOSIM_REG_IRQ_STATUS:
		return sdev->irq_status;
	case VFIOSIM_REG_IRQ_MASK:
		return sdev->irq_mask;
	case VFIOSIM_REG_COUNTER:
		return sdev->counter++;
	case VFIOSIM_REG_DOORBELL_COUNT:
		return sdev->doorbell_count;
	case VFIOSIM_REG_DROPPED:
		return sdev->dropped;
	case VFIOSIM_MSIX_PBA_OFFSET:
		return sdev->irq_mode == VFIO_PCI_MSIX_IRQ_INDEX ?
		       sdev->pending : 0;
	default:
		return 0;
	}
}

/* @mask selects the bytes of the dword that the access wrote. */
static void vfiosim_bar0_write32(struct vfiosim_dev *sdev, u32 off, u32 val,
				 u32 mask)
{
	const struct vfiosim_type *type = sdev->type;
	u32 *reg = NULL;

	if (off >= VFIOSIM_REG_SCRATCH0 &&
	    off < VFIOSIM_REG_SCRATCH(VFIOSIM_NUM_SCRATCH))
		reg = &sdev->scratch[(off - VFIOSIM_REG_SCRATCH0) / 4];
	else if (off >= VFIOSIM_MSIX_TABLE_OFFSET &&
		 off < VFIOSIM_MSIX_TABLE_END(type))
		reg = &sdev->msix_table[(off - VFIOSIM_MSIX_TABLE_OFFSET) / 4];
	else if (off == VFIOSIM_REG_COUNTER)
		reg = &sdev->counter;

	if (reg) {
		*reg = (*reg & ~mask) | (val & mask);
		return;
	}
	if (off >= VFIOSIM_REG_DMA_SRC_LO && off < VFIOSIM_REG_END) {
		vfiosim_dma_reg_write(sdev, off, val, mask);
		return;
	}

	switch (off) {
	case VFIOSIM_REG_DOORBELL:
		vfiosim_doorbell(sdev, val & mask);
		break;
	case VFIOSIM_REG_IRQ_STATUS:
		sdev->irq_status &= ~(val & mask);
		vfiosim_intx_update(sdev);
		break;
	case VFIOSIM_REG_IRQ_MASK:
		sdev->irq_mask = (sdev->irq_mask & ~mask) | (val & mask);
		vfiosim_irq_unmasked(sdev);	/* and the status bit */
		break;
	case VFIOSIM_REG_ERR_TRIGGER:
		vfiosim_signal(sdev, VFIO_PCI_ERR_IRQ_INDEX, 0);
		break;
	}
}

/* One naturally aligned access of exactly 1, 2 or 4 bytes. */
static void vfiosim_bar0_access(struct vfiosim_dev *sdev, u32 off, u8 *buf,
				unsigned int len, bool write)
{
	unsigned int shift = (off & 3) * 8;
	u32 mask = len == 4 ? ~0U : (BIT(len * 8) - 1) << shift;
	u32 val;

	if (write) {
		if (len == 4)
			val = get_unaligned_le32(buf);
		else if (len == 2)
			val = get_unaligned_le16(buf);
		else
			val = *buf;
		vfiosim_bar0_write32(sdev, off & ~3, val << shift, mask);
		return;
	}
	val = vfiosim_bar0_read32(sdev, off & ~3) >> shift;
	if (len == 4)
		put_unaligned_le32(val, buf);
	else if (len == 2)
		put_unaligned_le16(val, buf);
	else
		*buf = val;
}

/* BAR2 page @pgoff, allocated if @alloc and untouched; under lock. */
struct page *vfiosim_bar2_lookup(struct vfiosim_dev *sdev, pgoff_t pgoff,
				 bool alloc)
{
	struct page *page = xa_load(&sdev->bar2_pages, pgoff);
	int ret;

	lockdep_assert_held(&sdev->lock);
	if (page || !alloc)
		return page;

	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return NULL;
	ret = xa_err(xa_store(&sdev->bar2_pages, pgoff, page, GFP_KERNEL));
	if (ret) {
		__free_page(page);
		return NULL;
	}
	return page;
}

/*
 * A reference on each of the @nr BAR2 pages from @pgoff, allocated as a
 * fault would allocate them (for dma-bufs); all or none.
 */
int vfiosim_bar2_get_pages(struct vfiosim_dev *sdev, pgoff_t pgoff,
			   unsigned long nr, struct page **pages)
{
	unsigned long i;

	mutex_lock(&sdev->lock);
	for (i = 0; i < nr; i++) {
		pages[i] = vfiosim_bar2_lookup(sdev, pgoff + i, true);
		if (!pages[i])
			break;
		get_page(pages[i]);
	}
	mutex_unlock(&sdev->lock);
	if (i == nr)
		return 0;
	while (i--)
		put_page(pages[i]);
	return -ENOMEM;
}

/* Region offsets carry the region index in their top bits. */
#define VFIOSIM_PGOFF_SHIFT	(VFIOSIM_REGION_SHIFT - PAGE_SHIFT)
#define VFIOSIM_PGOFF_MASK	((1UL << VFIOSIM_PGOFF_SHIFT) - 1)

/* The generation of the device's current owner (or of its absence). */
u64 vfiosim_open_gen(struct vfiosim_dev *sdev)
{
	u64 gen;

	mutex_lock(&sdev->lock);
	gen = sdev->open_gen;
	mutex_unlock(&sdev->lock);
	return gen;
}

/*
 * Can @vma map part of a region for the owner of generation @gen?
 * @vma->vm_pgoff is a region offset as reported in the region info.  Only
 * BAR2's sparse area can be mapped: its tail stays trapped.  ENODEV once
 * that owner has closed the device.
 */
int vfiosim_bar2_mmap_check(struct vfiosim_dev *sdev, u64 gen,
			    struct vm_area_struct *vma)
{
	u64 index = vma->vm_pgoff >> VFIOSIM_PGOFF_SHIFT;
	u64 pgoff = vma->vm_pgoff & VFIOSIM_PGOFF_MASK;

	if (vfiosim_open_gen(sdev) != gen || vfiosim_fault_gone(sdev))
		return -ENODEV;
	if (index != VFIO_PCI_BAR2_REGION_INDEX)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (pgoff + vma_pages(vma) > vfiosim_bar2_mmap_size(sdev) >> PAGE_SHIFT)
		return -EINVAL;
	return 0;
}

/*
 * A BAR2 fault for the owner of generation @gen: the page's PFN goes in
 * under lock, so that whatever takes the mapping away (close, memory
 * decode off, reset) under lock and then zaps leaves no PTE behind.
 * Migration dirty tracking: a read fault maps the page read-only (the
 * VMA has pfn_mkwrite, so its vm_page_prot is), and the first write
 * comes to vfiosim_bar2_mkwrite(); a write fault marks the page dirty
 * and maps it writable at once.
 */
vm_fault_t vfiosim_bar2_fault(struct vfiosim_dev *sdev, u64 gen,
			      struct vm_fault *vmf)
{
	pgoff_t pgoff = vmf->pgoff & VFIOSIM_PGOFF_MASK;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct page *page;

	mutex_lock(&sdev->lock);
	if (sdev->open_gen != gen || !vfiosim_memory_enabled(sdev) ||
	    vfiosim_fault_gone(sdev) ||
	    pgoff >= vfiosim_bar2_mmap_size(sdev) >> PAGE_SHIFT)
		goto out;
	page = vfiosim_bar2_lookup(sdev, pgoff, true);
	if (!page) {
		ret = VM_FAULT_OOM;
	} else if (vmf->flags & FAULT_FLAG_WRITE) {
		vfiosim_mig_bar2_dirty(sdev, pgoff);
		ret = vmf_insert_pfn_prot(vmf->vma, vmf->address,
					  page_to_pfn(page),
					  vm_get_page_prot(vmf->vma->vm_flags));
	} else {
		ret = vmf_insert_pfn(vmf->vma, vmf->address, page_to_pfn(page));
	}
out:
	mutex_unlock(&sdev->lock);
	return ret;
}

/* The first write to a BAR2 page mapped read-only: it is dirty now. */
vm_fault_t vfiosim_bar2_mkwrite(struct vfiosim_dev *sdev, u64 gen,
				struct vm_fault *vmf)
{
	pgoff_t pgoff = vmf->pgoff & VFIOSIM_PGOFF_MASK;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	mutex_lock(&sdev->lock);
	if (sdev->open_gen == gen && vfiosim_memory_enabled(sdev)) {
		vfiosim_mig_bar2_dirty(sdev, pgoff);
		ret = 0;
	}
	mutex_unlock(&sdev->lock);
	return ret;
}

/*
 * Forget BAR2's contents: zap every mapping first, so that no PTE points
 * at a page when it goes (a dma-buf may still hold one; put_page).
 */
static void vfiosim_bar2_free_pages(struct vfiosim_dev *sdev)
{
	struct page *page;
	unsigned long index;

	xa_for_each(&sdev->bar2_pages, index, page)
		put_page(page);
	xa_destroy(&sdev->bar2_pages);
}

static void vfiosim_bar2_clear_locked(struct vfiosim_dev *sdev)
{
	lockdep_assert_held(&sdev->lock);
	vfiosim_mmap_zap(sdev);
	vfiosim_bar2_free_pages(sdev);
}

static int vfiosim_bar2_rw(struct vfiosim_dev *sdev, u64 offset, u8 *buf,
			   size_t count, bool write)
{
	while (count) {
		size_t in_page = offset_in_page(offset);
		size_t len = min_t(size_t, count, PAGE_SIZE - in_page);
		/* untouched pages read as zeroes without being allocated */
		struct page *page = vfiosim_bar2_lookup(sdev,
							offset >> PAGE_SHIFT,
							write);

		if (write && !page)
			return -ENOMEM;
		if (write)
			vfiosim_mig_bar2_dirty(sdev, offset >> PAGE_SHIFT);
		if (!page)
			memset(buf, 0, len);
		else if (write)
			memcpy_to_page(page, in_page, buf, len);
		else
			memcpy_from_page(buf, page, in_page, len);
		buf += len;
		offset += len;
		count -= len;
	}
	return 0;
}

/* The whole access must lie inside an implemented region. */
int vfiosim_region_check(struct vfiosim_dev *sdev, u32 index, u64 offset,
			 u64 count)
{
	u64 size = vfiosim_region_size(sdev, index);
	u64 end;

	if (!size || check_add_overflow(offset, count, &end) || end > size)
		return -EINVAL;
	return 0;
}

/*
 * Read or write @count bytes at @offset of region @index; nothing is served
 * past the region's end.  Config and BAR0 accesses of any offset and length
 * are split into naturally aligned pieces of 4, 2 or 1 bytes, each served
 * for exactly its bytes.  A config write that initiates FLR resets the
 * device once the access is done.  With memory decode off, BAR0 and BAR2
 * fail with EIO, as vfio-pci's do; turning it off zaps BAR2's mappings,
 * which then SIGBUS until it is back on.
 */
int vfiosim_region_rw(struct vfiosim_dev *sdev, u32 index, u64 offset,
		      void *buf, size_t count, bool write)
{
	u64 start = offset;
	size_t size = count;
	bool decode;
	bool flr = false;
	u8 *p = buf;
	int ret;

	ret = vfiosim_region_check(sdev, index, offset, count);
	if (ret) {
		trace_vfiosim_region_access(sdev, index, start, buf, size,
					    write, ret);
		return ret;
	}
	ret = vfiosim_fault_access(sdev, index, write, buf, count);
	if (ret) {
		ret = ret < 0 ? ret : 0;
		trace_vfiosim_region_access(sdev, index, start, buf, size,
					    write, ret);
		return ret;
	}

	mutex_lock(&sdev->lock);
	if (write)
		sdev->stat_writes++;
	else
		sdev->stat_reads++;
	decode = vfiosim_memory_enabled(sdev);
	if (index != VFIO_PCI_CONFIG_REGION_INDEX && !decode) {
		ret = -EIO;
		goto out;
	}
	if (index == VFIO_PCI_BAR2_REGION_INDEX) {
		ret = vfiosim_bar2_rw(sdev, offset, p, count, write);
		goto out;
	}
	while (count) {
		unsigned int len = 4;

		/* the largest naturally aligned piece that fits: 4, 2 or 1 */
		while (len > count || (offset & (len - 1)))
			len >>= 1;
		if (index == VFIO_PCI_BAR0_REGION_INDEX)
			vfiosim_bar0_access(sdev, offset, p, len, write);
		else if (write)
			flr |= vfiosim_config_write(sdev, offset, p, len);
		else
			memcpy(p, sdev->config + offset, len);
		p += len;
		offset += len;
		count -= len;
	}
	if (decode && !vfiosim_memory_enabled(sdev))
		vfiosim_mmap_zap(sdev);
out:
	mutex_unlock(&sdev->lock);
	trace_vfiosim_region_access(sdev, index, start, buf, size, write, ret);
	if (flr) {
		vfiosim_reset(sdev);
		vfiosim_netlink_event(sdev, VFIOSIM_EVENT_RESET);
	}
	return ret;
}

/* ---- info, reset, lifetime ------------------------------------------- */

void vfiosim_get_device_info(struct vfiosim_dev *sdev,
			     struct vfio_device_info *info)
{
	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = VFIO_PCI_NUM_REGIONS;
	info->num_irqs = VFIO_PCI_NUM_IRQS;
}

int vfiosim_get_region_info(struct vfiosim_dev *sdev,
			    struct vfio_region_info *info,
			    struct vfio_info_cap *caps)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	size_t sparse_size = struct_size(sparse, areas, 1);
	int ret;

	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	ret = vfiosim_fault_op(sdev, VFIOSIM_FAULT_REGION_INFO);
	if (ret)
		return ret;

	info->offset = VFIOSIM_REGION_OFFSET(info->index);
	info->size = vfiosim_region_size(sdev, info->index);
	info->flags = 0;
	info->cap_offset = 0;
	if (!info->size)
		return 0;
	info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	if (info->index != VFIO_PCI_BAR2_REGION_INDEX ||
	    !vfiosim_bar2_mmap_size(sdev))
		return 0;

	sparse = kzalloc(sparse_size, GFP_KERNEL);
	if (!sparse)
		return -ENOMEM;
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	sparse->nr_areas = 1;
	sparse->areas[0].offset = 0;
	sparse->areas[0].size = vfiosim_bar2_mmap_size(sdev);
	ret = vfio_info_add_capability(caps, &sparse->header, sparse_size);
	kfree(sparse);
	if (ret)
		return ret;
	/* FLAG_CAPS is the transport's: it says where the chain landed. */
	info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
	return 0;
}

/*
 * The region info ioctl's answer for a caller with room for info->argsz
 * bytes, shared by the VFIO ioctl (before 6.19; then the VFIO core does
 * this) and vfio-user: the chain goes right after the info when it fits
 * (cap_offset and FLAG_CAPS say so, @caps shifted to that place);
 * otherwise argsz grows to what it needs, cap_offset is 0 and caps->size
 * 0, and FLAG_CAPS is set only if @flag_unplaced (VFIO does so, as
 * vfio-pci; QEMU's vfio-user client refuses a FLAG_CAPS whose chain is
 * not in the reply).  The caller kfree()s caps->buf.
 */
int vfiosim_region_info_chain(struct vfiosim_dev *sdev,
			      struct vfio_region_info *info,
			      struct vfio_info_cap *caps, bool flag_unplaced)
{
	u32 argsz = info->argsz;
	int ret;

	ret = vfiosim_get_region_info(sdev, info, caps);
	if (ret || !caps->size)
		return ret;
	if (argsz >= sizeof(*info) + caps->size) {
		vfio_info_cap_shift(caps, sizeof(*info));
		info->cap_offset = sizeof(*info);
		info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		return 0;
	}
	/* Tell the caller how much room the chain needs. */
	info->argsz = sizeof(*info) + caps->size;
	caps->size = 0;
	if (flag_unplaced)
		info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
	return 0;
}

static void vfiosim_reset_locked(struct vfiosim_dev *sdev)
{
	unsigned int v;

	memcpy(sdev->config, sdev->type->config_reset, VFIOSIM_CONFIG_SIZE);
	memset(sdev->scratch, 0, sizeof(sdev->scratch));
	sdev->irq_status = 0;
	sdev->irq_mask = 0;
	sdev->counter = 0;
	sdev->doorbell_count = 0;
	sdev->dropped = 0;
	memset(sdev->msix_table, 0, sizeof(sdev->msix_table));
	for (v = 0; v < sdev->type->msix_vectors; v++)
		sdev->msix_table[v * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	sdev->intx_masked = false;
	sdev->msix_masked = 0;
	sdev->pending = 0;
	memset(&sdev->dma, 0, sizeof(sdev->dma));
	sdev->dma.vector = VFIOSIM_DMA_NO_VECTOR;
}

/* The DMA engine stops (and is waited for) before the registers go. */
void vfiosim_reset(struct vfiosim_dev *sdev)
{
	vfiosim_dma_stop(sdev);
	vfiosim_mig_reset(sdev);	/* back to RUNNING, as vfio-pci drivers */
	mutex_lock(&sdev->lock);
	vfiosim_reset_locked(sdev);
	sdev->stat_resets++;
	trace_vfiosim_reset(sdev, sdev->owner, 0);
	mutex_unlock(&sdev->lock);
	vfiosim_dma_resume(sdev, false);
}

/* A reset the user asked for (ioctl or message), which a knob can fail. */
int vfiosim_user_reset(struct vfiosim_dev *sdev)
{
	int ret = vfiosim_fault_op(sdev, VFIOSIM_FAULT_RESET);

	if (ret) {
		trace_vfiosim_reset(sdev, READ_ONCE(sdev->owner), ret);
		return ret;
	}
	vfiosim_reset(sdev);
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_RESET);
	return 0;
}

/* No device-specific features yet: whatever is asked, PROBE says so. */
int vfiosim_device_feature(struct vfiosim_dev *sdev, u32 flags)
{
	return -ENOTTY;
}

/*
 * Between two owners, as vfio-pci resets the function at open and at
 * close: registers, config space and BAR2's contents go back to their
 * defaults, and whatever the last owner mapped stops working (a new
 * generation; its map files see it and their mappings are zapped).
 * Interrupt triggers are the transport's to release before.  @owner is
 * the one coming (claim) or leaving (close), for the tracepoint.
 */
static void vfiosim_owner_change_locked(struct vfiosim_dev *sdev, u8 owner)
{
	lockdep_assert_held(&sdev->lock);
	trace_vfiosim_owner_reset(sdev, owner, 0);
	sdev->open_gen++;
	vfiosim_reset_locked(sdev);
	vfiosim_bar2_clear_locked(sdev);
}

/*
 * One user at a time: a VFIO file or one netlink socket.  OPENED and
 * CLOSED go out under the lock that changes the owner, so listeners see
 * them in the order of the changes, whichever transports take turns.
 */
int vfiosim_claim(struct vfiosim_dev *sdev, enum vfiosim_owner owner)
{
	int ret = 0;

	mutex_lock(&sdev->lock);
	if (sdev->owner != VFIOSIM_OWNER_NONE) {
		ret = -EBUSY;
	} else {
		sdev->owner = owner;
		vfiosim_owner_change_locked(sdev, owner);
		vfiosim_netlink_event(sdev, VFIOSIM_EVENT_OPENED);
	}
	trace_vfiosim_open(sdev, owner, ret);
	mutex_unlock(&sdev->lock);
	return ret;
}

/* Nothing the DMA engine does reaches memory after this returns. */
void vfiosim_unclaim(struct vfiosim_dev *sdev)
{
	u8 owner;

	vfiosim_dma_stop(sdev);
	vfiosim_mig_reset(sdev);	/* no data session outlives its owner */
	mutex_lock(&sdev->lock);
	trace_vfiosim_close(sdev, sdev->owner, 0);
	owner = sdev->owner;
	sdev->owner = VFIOSIM_OWNER_NONE;
	vfiosim_owner_change_locked(sdev, owner);
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_CLOSED);
	mutex_unlock(&sdev->lock);
	vfiosim_dma_resume(sdev, true);
}

/* Precompute a type's config space images once, at module load. */
void vfiosim_type_init(struct vfiosim_type *type)
{
	vfiosim_config_layout(type, type->config_reset, false);
	vfiosim_config_layout(type, type->config_wmask, true);
}

int vfiosim_dev_init(struct vfiosim_dev *sdev, const struct vfiosim_type *type)
{
	int ret;

	ret = vfiosim_dma_init(sdev);
	if (ret)
		return ret;
	ret = vfiosim_mmap_init(sdev);
	if (ret) {
		vfiosim_dma_destroy(sdev);
		return ret;
	}
	sdev->type = type;
	vfiosim_fault_init(sdev);
	mutex_init(&sdev->igate);
	mutex_init(&sdev->lock);
	xa_init(&sdev->bar2_pages);
	sdev->irq_mode = VFIOSIM_IRQ_MODE_NONE;
	vfiosim_reset_locked(sdev);
	return 0;
}

void vfiosim_dev_destroy(struct vfiosim_dev *sdev)
{
	/* Map files outlive the device: they stop and are zapped first. */
	vfiosim_mmap_destroy(sdev);
	vfiosim_dma_destroy(sdev);
	vfiosim_bar2_free_pages(sdev);
	mutex_destroy(&sdev->lock);
	mutex_destroy(&sdev->igate);
}
