// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: fault injection, as netdevsim does it.
 *
 * Every device has a debugfs directory, /sys/kernel/debug/vfiosim/<uuid>/,
 * of plain files a test writes and reads: one file per knob (writing 0
 * turns it off and resets its parameters), <knob>_fired (how often it
 * fired, read-only) and a few parameter files (<knob>_errno and so on).
 * Knob state is read on hot paths without a lock: the knobs are atomics
 * and the parameters u32s read once (READ_ONCE).  Every firing goes
 * through vfiosim_fault_fired(), which counts it and traces it
 * (vfiosim:vfiosim_fault).  See kmod/README.md for the table.
 */

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "vfiosim.h"

static struct dentry *vfiosim_fault_root;
/* Forced removals block until the user lets go: their own queue. */
static struct workqueue_struct *vfiosim_fault_wq;

static const char *const vfiosim_fault_names[VFIOSIM_FAULT_NR] = {
	[VFIOSIM_FAULT_ACCESS]		= "access_fail",
	[VFIOSIM_FAULT_SET_IRQS]	= "set_irqs_fail",
	[VFIOSIM_FAULT_REGION_INFO]	= "region_info_fail",
	[VFIOSIM_FAULT_RESET]		= "reset_fail",
	[VFIOSIM_FAULT_FEATURE]		= "feature_fail",
	[VFIOSIM_FAULT_IRQ_DROP]	= "irq_drop",
	[VFIOSIM_FAULT_IRQ_TWICE]	= "irq_twice",
	[VFIOSIM_FAULT_IRQ_DELAY]	= "irq_delay_us",
	[VFIOSIM_FAULT_IRQ_SPURIOUS]	= "irq_spurious",
	[VFIOSIM_FAULT_DMA_FAIL]	= "dma_fail",
	[VFIOSIM_FAULT_DMA_SHORT]	= "dma_short",
	[VFIOSIM_FAULT_DMA_STALL]	= "dma_stall",
	[VFIOSIM_FAULT_MIG_REFUSE]	= "mig_refuse_arc",
	[VFIOSIM_FAULT_MIG_GARBAGE]	= "mig_garbage_precopy",
	[VFIOSIM_FAULT_MIG_CORRUPT]	= "mig_corrupt",
	[VFIOSIM_FAULT_MIG_TRUNCATE]	= "mig_truncate",
	[VFIOSIM_FAULT_MIG_READ_SHORT]	= "mig_read_short",
	[VFIOSIM_FAULT_REQ]		= "req",
	[VFIOSIM_FAULT_REMOVE]		= "remove_after_ms",
};

/* The one place a fault fires: its count and its tracepoint. */
void vfiosim_fault_fired(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k)
{
	atomic_inc(&sdev->fault.knob[k].fired);
	/* the value left: a count knob's remaining count */
	vfiosim_trace_fault(sdev, vfiosim_fault_names[k],
			    atomic_read(&sdev->fault.knob[k].value));
}

/* A count knob: true (and fired) if it had one left to consume. */
static bool vfiosim_fault_take(struct vfiosim_dev *sdev,
			       enum vfiosim_fault_knob k)
{
	if (likely(!atomic_read(&sdev->fault.knob[k].value)))
		return false;
	if (atomic_dec_if_positive(&sdev->fault.knob[k].value) < 0)
		return false;
	vfiosim_fault_fired(sdev, k);
	return true;
}

static int vfiosim_fault_errno(u32 e)
{
	return e && e < MAX_ERRNO ? -(int)e : -EIO;
}

bool vfiosim_fault_gone(struct vfiosim_dev *sdev)
{
	return READ_ONCE(sdev->fault.gone);
}

/*
 * A region access: < 0 fails it, 1 served it as a removed device would
 * (reads all-ones, writes dropped), 0 lets it through.
 */
int vfiosim_fault_access(struct vfiosim_dev *sdev, u32 index, bool write,
			 void *buf, size_t count)
{
	struct vfiosim_fault *f = &sdev->fault;
	u32 dir = READ_ONCE(f->access_dir);
	u32 regions = READ_ONCE(f->access_regions);

	if (unlikely(vfiosim_fault_gone(sdev))) {
		if (!write)
			memset(buf, 0xff, count);
		return 1;
	}
	if (likely(!atomic_read(&f->knob[VFIOSIM_FAULT_ACCESS].value)))
		return 0;
	if (dir && !(dir & (write ? VFIOSIM_FAULT_DIR_WRITE :
				    VFIOSIM_FAULT_DIR_READ)))
		return 0;
	if (regions && (index >= 32 || !(regions & BIT(index))))
		return 0;
	if (!vfiosim_fault_take(sdev, VFIOSIM_FAULT_ACCESS))
		return 0;
	return vfiosim_fault_errno(READ_ONCE(f->access_errno));
}

/* An ioctl or its vfio-user message: 0, or the errno it fails with. */
int vfiosim_fault_op(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k)
{
	if (WARN_ON_ONCE(k < VFIOSIM_FAULT_SET_IRQS || k > VFIOSIM_FAULT_FEATURE))
		return 0;
	if (!vfiosim_fault_take(sdev, k))
		return 0;
	return vfiosim_fault_errno(READ_ONCE(sdev->fault.op_errno[k -
						VFIOSIM_FAULT_SET_IRQS]));
}

/*
 * A device interrupt (INTx, MSI or MSI-X vector @vector of @index) is
 * about to be signalled, under vfiosim_dev.lock: how many times to signal
 * it now (0 drops or delays it, 2 doubles it).  With 0, *@fate says
 * which (a VFIOSIM_TRACE_IRQ_*).
 */
unsigned int vfiosim_fault_irq(struct vfiosim_dev *sdev, int index,
			       u32 vector, u8 *fate)
{
	struct vfiosim_fault *f = &sdev->fault;
	u32 delay_us;

	lockdep_assert_held(&sdev->lock);
	if (index == VFIO_PCI_ERR_IRQ_INDEX || index == VFIO_PCI_REQ_IRQ_INDEX)
		return 1;
	if (unlikely(vfiosim_fault_gone(sdev))) {
		*fate = VFIOSIM_TRACE_IRQ_GONE;
		return 0;
	}
	if (vfiosim_fault_take(sdev, VFIOSIM_FAULT_IRQ_DROP)) {
		*fate = VFIOSIM_TRACE_IRQ_FAULT_DROPPED;
		return 0;
	}
	delay_us = atomic_read(&f->knob[VFIOSIM_FAULT_IRQ_DELAY].value);
	if (delay_us) {
		if (f->irq_delayed_index != index)
			bitmap_zero(f->irq_delayed, VFIOSIM_MAX_VECTORS);
		f->irq_delayed_index = index;
		set_bit(vector, f->irq_delayed);
		vfiosim_fault_fired(sdev, VFIOSIM_FAULT_IRQ_DELAY);
		/*
		 * Held ones join the first: they go at its deadline.  A
		 * timer of N jiffies can fire up to a jiffy less than N
		 * jiffies after it was armed (the current one has begun):
		 * one more keeps the delay at least delay_us.
		 */
		queue_delayed_work(system_wq, &f->irq_delay_work,
				   usecs_to_jiffies(delay_us) + 1);
		*fate = VFIOSIM_TRACE_IRQ_FAULT_DELAYED;
		return 0;
	}
	if (atomic_read(&f->knob[VFIOSIM_FAULT_IRQ_TWICE].value)) {
		vfiosim_fault_fired(sdev, VFIOSIM_FAULT_IRQ_TWICE);
		return 2;
	}
	return 1;
}

/* The delay is over: signal what was held, if its mode still is. */
static void vfiosim_fault_irq_delay_work(struct work_struct *work)
{
	struct vfiosim_fault *f = container_of(to_delayed_work(work),
					       struct vfiosim_fault,
					       irq_delay_work);
	struct vfiosim_dev *sdev = container_of(f, struct vfiosim_dev, fault);
	unsigned int v;

	mutex_lock(&sdev->lock);
	if (sdev->irq_mode == f->irq_delayed_index)
		for_each_set_bit(v, f->irq_delayed, VFIOSIM_MAX_VECTORS)
			vfiosim_irq_raw_signal(sdev, f->irq_delayed_index, v);
	bitmap_zero(f->irq_delayed, VFIOSIM_MAX_VECTORS);
	mutex_unlock(&sdev->lock);
}

/* A spurious interrupt: the trigger signalled, no device state changed. */
static int vfiosim_fault_irq_spurious(struct vfiosim_dev *sdev, u64 n)
{
	u32 vector = READ_ONCE(sdev->fault.irq_spurious_vector);
	int ret = -ENXIO;

	mutex_lock(&sdev->lock);
	while (n--) {
		if (sdev->irq_mode == VFIOSIM_IRQ_MODE_NONE ||
		    !vfiosim_irq_raw_signal(sdev, sdev->irq_mode, vector))
			break;
		vfiosim_fault_fired(sdev, VFIOSIM_FAULT_IRQ_SPURIOUS);
		ret = 0;
	}
	mutex_unlock(&sdev->lock);
	return ret;
}

/*
 * The DMA worker, before it runs a transfer of @len bytes: a status to
 * end it in at once (0: run it), and *len shortened for a short count.
 */
u32 vfiosim_fault_dma(struct vfiosim_dev *sdev, u32 *len)
{
	struct vfiosim_fault *f = &sdev->fault;

	if (unlikely(vfiosim_fault_gone(sdev)))
		return VFIOSIM_DMA_STATUS_ERR_ABORTED;
	if (vfiosim_fault_take(sdev, VFIOSIM_FAULT_DMA_FAIL))
		return READ_ONCE(f->dma_fail_status) ?:
		       VFIOSIM_DMA_STATUS_ERR_FAULT;
	if (*len > 1 && vfiosim_fault_take(sdev, VFIOSIM_FAULT_DMA_SHORT))
		*len /= 2;
	return 0;
}

/* Is the DMA worker to stall?  Fired once per stalled transfer. */
bool vfiosim_fault_dma_stall(struct vfiosim_dev *sdev)
{
	if (likely(!atomic_read(&sdev->fault.knob[VFIOSIM_FAULT_DMA_STALL].value)))
		return false;
	vfiosim_fault_fired(sdev, VFIOSIM_FAULT_DMA_STALL);
	return true;
}

/*
 * Wait while the stall knob is set or until @aborted(): polled every
 * 10 ms as well, since an abort does not know of this wait.
 */
void vfiosim_fault_dma_stall_wait(struct vfiosim_dev *sdev,
				  bool (*aborted)(struct vfiosim_dev *sdev))
{
	atomic_t *stall = &sdev->fault.knob[VFIOSIM_FAULT_DMA_STALL].value;

	while (atomic_read(stall) && !aborted(sdev))
		wait_event_timeout(sdev->fault.dma_stall_wq,
				   !atomic_read(stall) || aborted(sdev),
				   msecs_to_jiffies(10));
}

bool vfiosim_fault_mig(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k)
{
	if (WARN_ON_ONCE(k < VFIOSIM_FAULT_MIG_REFUSE ||
			 k > VFIOSIM_FAULT_MIG_READ_SHORT))
		return false;
	return vfiosim_fault_take(sdev, k);
}

/* ---- surprise removal -------------------------------------------------- */

struct vfiosim_fault_unbind {
	struct work_struct work;
	struct device *dev;
};

/*
 * As a PCI hot-unplug: the driver is unbound, and its remove waits (REQ
 * again every 10 s) for the user to close the device.
 */
static void vfiosim_fault_unbind_work(struct work_struct *work)
{
	struct vfiosim_fault_unbind *u =
		container_of(work, struct vfiosim_fault_unbind, work);

	device_release_driver(u->dev);
	put_device(u->dev);
	kfree(u);
}

/*
 * The grace is over: the device stops answering (accesses all-ones or
 * dropped, no interrupts, mappings zapped and faulting SIGBUS, DMA
 * aborted), then its removal is kicked off.
 */
static void vfiosim_fault_remove_work(struct work_struct *work)
{
	struct vfiosim_fault *f = container_of(to_delayed_work(work),
					       struct vfiosim_fault,
					       remove_work);
	struct vfiosim_dev *sdev = container_of(f, struct vfiosim_dev, fault);
	struct vfiosim_fault_unbind *u;

	vfiosim_fault_fired(sdev, VFIOSIM_FAULT_REMOVE);
	mutex_lock(&sdev->lock);
	WRITE_ONCE(f->gone, true);
	vfiosim_mmap_zap(sdev);
	mutex_unlock(&sdev->lock);
	vfiosim_dma_stop(sdev);		/* the transfer in flight ends */
	vfiosim_dma_resume(sdev, false);	/* later GOs abort: gone */
	dev_warn(sdev->vdev.dev, "fault: surprise removal\n");

	u = kzalloc(sizeof(*u), GFP_KERNEL);
	if (!u)
		return;
	INIT_WORK(&u->work, vfiosim_fault_unbind_work);
	u->dev = sdev->vdev.dev;
	get_device(u->dev);
	queue_work(vfiosim_fault_wq, &u->work);
}

/* ---- debugfs ----------------------------------------------------------- */

/* Off: the knob and its parameters back to their defaults. */
static void vfiosim_fault_reset_knob(struct vfiosim_dev *sdev,
				     enum vfiosim_fault_knob k)
{
	struct vfiosim_fault *f = &sdev->fault;

	atomic_set(&f->knob[k].value, 0);
	switch (k) {
	case VFIOSIM_FAULT_ACCESS:
		WRITE_ONCE(f->access_errno, EIO);
		WRITE_ONCE(f->access_dir, 0);
		WRITE_ONCE(f->access_regions, 0);
		break;
	case VFIOSIM_FAULT_SET_IRQS ... VFIOSIM_FAULT_FEATURE:
		WRITE_ONCE(f->op_errno[k - VFIOSIM_FAULT_SET_IRQS], EIO);
		break;
	case VFIOSIM_FAULT_IRQ_SPURIOUS:
		WRITE_ONCE(f->irq_spurious_vector, 0);
		break;
	case VFIOSIM_FAULT_DMA_FAIL:
		WRITE_ONCE(f->dma_fail_status, VFIOSIM_DMA_STATUS_ERR_FAULT);
		break;
	case VFIOSIM_FAULT_DMA_STALL:
		wake_up_all(&f->dma_stall_wq);
		break;
	case VFIOSIM_FAULT_REMOVE:
		/* a forced removal not yet begun is called off */
		cancel_delayed_work(&f->remove_work);
		break;
	default:
		break;
	}
}

static int vfiosim_fault_get(void *data, u64 *val)
{
	struct vfiosim_fault_knob_state *ks = data;

	*val = atomic_read(&ks->value);
	return 0;
}

static int vfiosim_fault_set(void *data, u64 val)
{
	struct vfiosim_fault_knob_state *ks = data;
	struct vfiosim_dev *sdev = ks->sdev;
	enum vfiosim_fault_knob k = ks->id;

	if (!val) {
		vfiosim_fault_reset_knob(sdev, k);
		return 0;
	}
	if (val > INT_MAX)
		return -EINVAL;
	switch (k) {
	case VFIOSIM_FAULT_IRQ_SPURIOUS:
		return vfiosim_fault_irq_spurious(sdev, val);
	case VFIOSIM_FAULT_REQ:
		vfiosim_fault_fired(sdev, k);
		vfiosim_request(sdev, 1);
		return 0;
	case VFIOSIM_FAULT_REMOVE:
		if (vfiosim_fault_gone(sdev))
			return -ENODEV;
		atomic_set(&ks->value, val);
		vfiosim_request(sdev, 1);
		mod_delayed_work(system_wq, &sdev->fault.remove_work,
				 msecs_to_jiffies(val));
		return 0;
	case VFIOSIM_FAULT_IRQ_TWICE:
	case VFIOSIM_FAULT_DMA_STALL:
		val = 1;
		break;
	default:
		break;
	}
	atomic_set(&ks->value, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_fops, vfiosim_fault_get,
			 vfiosim_fault_set, "%llu\n");

static int vfiosim_fault_fired_get(void *data, u64 *val)
{
	struct vfiosim_fault_knob_state *ks = data;

	*val = atomic_read(&ks->fired);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_fired_fops, vfiosim_fault_fired_get,
			 NULL, "%llu\n");

/*
 * Parameters refuse, with EINVAL, what their knob could not use: an errno
 * outside 1..MAX_ERRNO-1, a direction other than the two bits, a DMA
 * status that is not an error.
 */
static int vfiosim_fault_param_get(void *data, u64 *val)
{
	*val = READ_ONCE(*(u32 *)data);
	return 0;
}

static int vfiosim_fault_param_store(void *data, u64 val, u64 min, u64 max)
{
	if (val < min || val > max)
		return -EINVAL;
	WRITE_ONCE(*(u32 *)data, val);
	return 0;
}

static int vfiosim_fault_errno_set(void *data, u64 val)
{
	return vfiosim_fault_param_store(data, val, 1, MAX_ERRNO - 1);
}

static int vfiosim_fault_dir_set(void *data, u64 val)
{
	return vfiosim_fault_param_store(data, val, 0, VFIOSIM_FAULT_DIR_READ |
					 VFIOSIM_FAULT_DIR_WRITE);
}

static int vfiosim_fault_status_set(void *data, u64 val)
{
	return vfiosim_fault_param_store(data, val,
					 VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
					 VFIOSIM_DMA_STATUS_ERR_FAULT);
}

static int vfiosim_fault_u32_set(void *data, u64 val)
{
	return vfiosim_fault_param_store(data, val, 0, U32_MAX);
}

DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_errno_fops, vfiosim_fault_param_get,
			 vfiosim_fault_errno_set, "%llu\n");
DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_dir_fops, vfiosim_fault_param_get,
			 vfiosim_fault_dir_set, "%llu\n");
DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_status_fops, vfiosim_fault_param_get,
			 vfiosim_fault_status_set, "%llu\n");
DEFINE_DEBUGFS_ATTRIBUTE(vfiosim_fault_u32_fops, vfiosim_fault_param_get,
			 vfiosim_fault_u32_set, "%llu\n");

static void vfiosim_fault_param(struct dentry *dir, const char *name,
				u32 *val, const struct file_operations *fops)
{
	debugfs_create_file_unsafe(name, 0600, dir, val, fops);
}

void vfiosim_fault_init(struct vfiosim_dev *sdev)
{
	struct vfiosim_fault *f = &sdev->fault;
	unsigned int k;

	init_waitqueue_head(&f->dma_stall_wq);
	INIT_DELAYED_WORK(&f->irq_delay_work, vfiosim_fault_irq_delay_work);
	INIT_DELAYED_WORK(&f->remove_work, vfiosim_fault_remove_work);
	for (k = 0; k < VFIOSIM_FAULT_NR; k++) {
		f->knob[k].sdev = sdev;
		f->knob[k].id = k;
		vfiosim_fault_reset_knob(sdev, k);
	}
}

/* At device creation (the UUID names the directory); errors ignored. */
void vfiosim_fault_add(struct vfiosim_dev *sdev)
{
	struct vfiosim_fault *f = &sdev->fault;
	char name[UUID_STRING_LEN + 1];
	char fired[32];
	unsigned int k;

	snprintf(name, sizeof(name), "%pUl", vfiosim_uuid(sdev));
	f->dir = debugfs_create_dir(name, vfiosim_fault_root);
	for (k = 0; k < VFIOSIM_FAULT_NR; k++) {
		debugfs_create_file_unsafe(vfiosim_fault_names[k], 0600, f->dir,
					   &f->knob[k], &vfiosim_fault_fops);
		snprintf(fired, sizeof(fired), "%s_fired",
			 vfiosim_fault_names[k]);
		debugfs_create_file_unsafe(fired, 0400, f->dir, &f->knob[k],
					   &vfiosim_fault_fired_fops);
	}
	vfiosim_fault_param(f->dir, "access_fail_errno", &f->access_errno,
			    &vfiosim_fault_errno_fops);
	vfiosim_fault_param(f->dir, "access_fail_dir", &f->access_dir,
			    &vfiosim_fault_dir_fops);
	vfiosim_fault_param(f->dir, "access_fail_regions", &f->access_regions,
			    &vfiosim_fault_u32_fops);
	vfiosim_fault_param(f->dir, "set_irqs_fail_errno", &f->op_errno[0],
			    &vfiosim_fault_errno_fops);
	vfiosim_fault_param(f->dir, "region_info_fail_errno", &f->op_errno[1],
			    &vfiosim_fault_errno_fops);
	vfiosim_fault_param(f->dir, "reset_fail_errno", &f->op_errno[2],
			    &vfiosim_fault_errno_fops);
	vfiosim_fault_param(f->dir, "feature_fail_errno", &f->op_errno[3],
			    &vfiosim_fault_errno_fops);
	vfiosim_fault_param(f->dir, "irq_spurious_vector",
			    &f->irq_spurious_vector, &vfiosim_fault_u32_fops);
	vfiosim_fault_param(f->dir, "dma_fail_status", &f->dma_fail_status,
			    &vfiosim_fault_status_fops);
}

/*
 * At device removal, before the device goes: no debugfs writer is left
 * when the directory is gone, then the work items are waited for (none
 * takes the device lock that a remover holds).
 */
void vfiosim_fault_del(struct vfiosim_dev *sdev)
{
	struct vfiosim_fault *f = &sdev->fault;

	debugfs_remove_recursive(f->dir);
	f->dir = NULL;
	cancel_delayed_work_sync(&f->remove_work);
	cancel_delayed_work_sync(&f->irq_delay_work);
	atomic_set(&f->knob[VFIOSIM_FAULT_DMA_STALL].value, 0);
	wake_up_all(&f->dma_stall_wq);
}

int vfiosim_fault_module_init(void)
{
	vfiosim_fault_wq = alloc_workqueue("vfiosim_fault", WQ_UNBOUND, 0);
	if (!vfiosim_fault_wq)
		return -ENOMEM;
	vfiosim_fault_root = debugfs_create_dir(VFIOSIM_NAME, NULL);
	return 0;
}

void vfiosim_fault_module_exit(void)
{
	debugfs_remove_recursive(vfiosim_fault_root);
	destroy_workqueue(vfiosim_fault_wq);
}
