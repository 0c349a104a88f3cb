/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiosim: what the module's files share.
 *
 * main.c     module init/exit, the mdev parent, types and device registry
 * core.c     the device model: config space, BAR0, BAR2, interrupts, reset
 * vfio.c     vfio_device_ops: translates the VFIO uapi into core calls
 * genl.c     the "vfiosim" genl family: devices, sessions, events
 * vfio_user.c  vfio-user messages from genl.c into core calls (netlink.h)
 * dmabuf.c   VFIO_DEVICE_FEATURE_DMA_BUF: dma-bufs of BAR2 (VFIO only)
 * dma.c      the DMA engine and DMA dirty logging
 * migration.c  VFIO migration v2 and its stream, for every transport
 * fault.c    fault injection knobs in debugfs, per device
 *
 * Transports translate and never decide: every device behaviour lives in
 * core.c so that each way in (VFIO today, vfio-user over netlink next) sees
 * the same device.
 */
#ifndef _VFIOSIM_H
#define _VFIOSIM_H

#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/vfio.h>
#include <linux/xarray.h>
#include <uapi/linux/vfiosim.h>

#include "compat.h"

/* A personality: a row of data, not a fork of the code. */
struct vfiosim_type {
	struct mdev_type mtype;
	const char *description;
	u16 device_id;
	u32 bar2_size;
	u32 msi_vectors;
	u32 msix_vectors;
	/* filled by vfiosim_type_init() */
	u8 config_reset[VFIOSIM_CONFIG_SIZE];
	u8 config_wmask[VFIOSIM_CONFIG_SIZE];
};

/* No interrupt index has triggers set. */
#define VFIOSIM_IRQ_MODE_NONE	(-1)

struct vfiosim_session;
struct vfiosim_map_ref;
struct vfiosim_dma_engine;
struct vfiosim_mig;

/*
 * The DMA engine's registers (uapi DMA_*), under vfiosim_dev.lock: what
 * reset clears and what a migration stream carries.  go_pending is a GO
 * that a quiesced engine (migration STOP) has not started yet.
 */
struct vfiosim_dma_regs {
	u64 src;
	u64 dst;
	u64 pattern;
	u32 len;
	u32 op;
	u32 vector;
	u32 status;
	u32 result;
	u32 done_bytes;
	u32 count;
	bool go_pending;
};

/* fault.c's knobs: the debugfs file names are in fault.c and the README. */
enum vfiosim_fault_knob {
	VFIOSIM_FAULT_ACCESS,
	VFIOSIM_FAULT_SET_IRQS,		/* the four ioctl kinds, in this order */
	VFIOSIM_FAULT_REGION_INFO,
	VFIOSIM_FAULT_RESET,
	VFIOSIM_FAULT_FEATURE,
	VFIOSIM_FAULT_IRQ_DROP,
	VFIOSIM_FAULT_IRQ_TWICE,
	VFIOSIM_FAULT_IRQ_DELAY,
	VFIOSIM_FAULT_IRQ_SPURIOUS,
	VFIOSIM_FAULT_DMA_FAIL,
	VFIOSIM_FAULT_DMA_SHORT,
	VFIOSIM_FAULT_DMA_STALL,
	VFIOSIM_FAULT_MIG_REFUSE,
	VFIOSIM_FAULT_MIG_GARBAGE,
	VFIOSIM_FAULT_MIG_CORRUPT,
	VFIOSIM_FAULT_MIG_TRUNCATE,
	VFIOSIM_FAULT_MIG_READ_SHORT,
	VFIOSIM_FAULT_REQ,
	VFIOSIM_FAULT_REMOVE,
	VFIOSIM_FAULT_NR
};

/* mig_garbage_precopy's answer: no stream is this long */
#define VFIOSIM_FAULT_GARBAGE_BYTES	0xfffffffffffff000ULL

#define VFIOSIM_FAULT_DIR_READ	BIT(0)	/* access_fail_dir */
#define VFIOSIM_FAULT_DIR_WRITE	BIT(1)

struct vfiosim_fault_knob_state {
	struct vfiosim_dev *sdev;
	enum vfiosim_fault_knob id;
	atomic_t value;			/* what the knob file shows */
	atomic_t fired;
};

/*
 * Per-device fault state.  No lock of its own: knobs are atomics and
 * parameters u32s read with READ_ONCE, on hot paths.  irq_delayed and
 * irq_delayed_index are under vfiosim_dev.lock.  Its work items take
 * vfiosim_dev.lock (irq_delay_work) or nothing before the DMA stop
 * (remove_work), and never the device_lock a remover holds, so removal
 * cancels them synchronously.
 */
struct vfiosim_fault {
	struct dentry *dir;
	struct vfiosim_fault_knob_state knob[VFIOSIM_FAULT_NR];
	u32 access_errno;
	u32 access_dir;			/* VFIOSIM_FAULT_DIR_*, 0: both */
	u32 access_regions;		/* bit per region index, 0: all */
	u32 op_errno[4];		/* SET_IRQS .. FEATURE */
	u32 irq_spurious_vector;
	u32 dma_fail_status;
	DECLARE_BITMAP(irq_delayed, VFIOSIM_MAX_VECTORS);
	int irq_delayed_index;
	struct delayed_work irq_delay_work;
	wait_queue_head_t dma_stall_wq;
	struct delayed_work remove_work;
	bool gone;			/* surprise-removed: stops answering */
};

/*
 * Lock order:
 *   vfiosim_dev.nl_lock -> vfiosim_dev.igate -> vfiosim_dev.lock
 *   vfiosim_dev.nl_lock -> vfiosim_nl_sock.lock (a spinlock, innermost)
 *   mmap_lock (BAR2 faults, mmap) -> vfiosim_map_ref.sem -> vfiosim_dev.lock
 *   vfiosim_dev.lock -> i_mmap_rwsem of the device's inode (zaps)
 *   vfiosim_dev.dmabufs_lock -> the dma_resv lock of each of its dma-bufs
 *   vfiosim_dev.nl_lock -> vfiosim_dma_engine.maps_lock (dma.c)
 *   vfiosim_dma_engine.maps_lock -> the memory file's page cache locks
 *   the DMA worker -> vfiosim_dev.lock (to post a completion only)
 *   vfiosim_dma_engine.log_lock: taken alone (the worker, log ops)
 * The DMA worker holds no vfiosim lock while it touches memory, and never
 * takes nl_lock; whoever waits for it (flush_work: reset, close, unmap
 * fences, quiesce, session end) does so without vfiosim_dev.lock and
 * maps_lock, so reset and owner changes stop the engine before they take
 * vfiosim_dev.lock (vfiosim_dma_stop()), and a GO meanwhile ends at once
 * in ERR_ABORTED.
 * dmabufs_lock is taken with no other vfiosim lock held, and the BAR2
 * pages of a dma-buf are gathered under vfiosim_dev.lock before it.
 * Nothing that can fault on user memory runs under vfiosim_dev.lock, so
 * copies to and from userspace happen outside it.  A BAR2 PFN is inserted
 * under vfiosim_dev.lock and every state change that takes mappings away
 * (owner change, memory decode off, BAR2 pages freed) zaps under it, so
 * no PTE outlives its permission or its page.  vfiosim_map_ref.sem (write)
 * is taken only at device removal, with no other vfiosim lock held.
 * Lifecycle events go out under vfiosim_dev.lock, from the state change
 * they report.
 *
 * No lock is global.  The registry, vfiosim_devices, is an xarray keyed
 * by vfiosim_dev.id (its own xa_lock, taken only to add, remove and find
 * a device by UUID, and the device is then held); vfiosim_devices_gen
 * changes with its membership, for consistent dumps.  A netlink message
 * for an open device reaches it through the sending socket's sessions
 * (RCU), then takes the device's nl_lock only.
 */
extern struct xarray vfiosim_devices;
extern atomic_t vfiosim_devices_gen;

struct vfiosim_dev {
	struct vfio_device vdev;
	const struct vfiosim_type *type;
	u32 id;					/* in vfiosim_devices */

	/*
	 * nl_lock serializes every netlink operation on the device: the
	 * session pointer and all of the session, open and close included.
	 */
	struct mutex nl_lock;
	struct vfiosim_session *session;	/* netlink owner's state */
	bool removing;				/* no new netlink owner */
	bool had_session;	/* removal waits out the RCU readers then */
	wait_queue_head_t session_wq;		/* session ended */

	/*
	 * igate serializes SET_IRQS and the INTx unmask eventfd (a virqfd,
	 * whose disable waits for a handler that takes lock).
	 */
	struct mutex igate;
	struct virqfd *intx_unmask;
	bool intx_unmask_on;		/* enabled, not yet disabled */

	/* dmabuf.c's exported dma-bufs, revoked at close */
	struct mutex dmabufs_lock;
	struct list_head dmabufs;

	/* lock protects every field below. */
	struct mutex lock;

	enum vfiosim_owner owner;
	u64 stat_reads;
	u64 stat_writes;
	u64 stat_irqs;
	u64 stat_resets;

	u8 config[VFIOSIM_CONFIG_SIZE];

	u32 scratch[VFIOSIM_NUM_SCRATCH];
	u32 irq_status;
	u32 irq_mask;
	u32 counter;
	u32 doorbell_count;
	u32 dropped;
	u32 msix_table[VFIOSIM_MAX_VECTORS * 4];
	struct vfiosim_dma_regs dma;

	int irq_mode;			/* VFIO_PCI_*_IRQ_INDEX or NONE */
	u32 irq_nvec;			/* MSI/MSI-X vectors enabled (NORESIZE) */
	bool intx_masked;		/* VFIO-level INTx mask */
	u32 msix_masked;		/* VFIO-level MSI-X masks */
	u32 pending;			/* MSI/MSI-X vectors held back */
	struct eventfd_ctx *trigger[VFIO_PCI_NUM_IRQS][VFIOSIM_MAX_VECTORS];

	/* BAR2 pages, allocated on first touch; index is page number. */
	struct xarray bar2_pages;
	/* Changes at every claim and unclaim: a map file's owner is gone. */
	u64 open_gen;

	/*
	 * migration.c: while a saving stream is open, the BAR2 pages it has
	 * still to send, from when it began (mig_initial) and written since
	 * (mig_dirty); NULL otherwise.
	 */
	unsigned long *mig_initial;
	unsigned long *mig_dirty;
	bool mig_zap;		/* sent pages are zapped (PRE_COPY) */

	/* migration.c: the migration state, under its own lock */
	struct vfiosim_mig *mig;

	/* dma.c: the transfer worker and the owner's address space */
	struct vfiosim_dma_engine *dma_engine;

	/* fault.c: the knobs */
	struct vfiosim_fault fault;

	/* mmap.c: set at init, gone at destroy */
	struct inode *inode;			/* every BAR2 mapping's */
	struct vfiosim_map_ref *map_ref;	/* what map files hold */
};

static inline struct vfiosim_dev *vdev_to_sdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfiosim_dev, vdev);
}

/* The mdev's UUID: the device's name on netlink. */
static inline const guid_t *vfiosim_uuid(const struct vfiosim_dev *sdev)
{
	return &to_mdev_device(sdev->vdev.dev)->uuid;
}

/*
 * Hold the device (the vfio_device and its mdev, whose UUID names it)
 * beyond its removal; for a lookup or a session.
 */
static inline void vfiosim_dev_get(struct vfiosim_dev *sdev)
{
	get_device(&sdev->vdev.device);
	get_device(sdev->vdev.dev);
}

static inline void vfiosim_dev_put(struct vfiosim_dev *sdev)
{
	struct device *mdev = sdev->vdev.dev;

	put_device(&sdev->vdev.device);
	put_device(mdev);
}

/* core.c */
void vfiosim_type_init(struct vfiosim_type *type);
int vfiosim_dev_init(struct vfiosim_dev *sdev,
		     const struct vfiosim_type *type);
void vfiosim_dev_destroy(struct vfiosim_dev *sdev);
void vfiosim_get_device_info(struct vfiosim_dev *sdev,
			     struct vfio_device_info *info);
int vfiosim_get_region_info(struct vfiosim_dev *sdev,
			    struct vfio_region_info *info,
			    struct vfio_info_cap *caps);
int vfiosim_region_info_chain(struct vfiosim_dev *sdev,
			      struct vfio_region_info *info,
			      struct vfio_info_cap *caps, bool flag_unplaced);
int vfiosim_get_irq_info(struct vfiosim_dev *sdev, struct vfio_irq_info *info);
int vfiosim_set_irqs(struct vfiosim_dev *sdev, const struct vfio_irq_set *hdr,
		     const void *data);
int vfiosim_region_check(struct vfiosim_dev *sdev, u32 index, u64 offset,
			 u64 count);
int vfiosim_region_rw(struct vfiosim_dev *sdev, u32 index, u64 offset,
		      void *buf, size_t count, bool write);
void vfiosim_reset(struct vfiosim_dev *sdev);
int vfiosim_user_reset(struct vfiosim_dev *sdev);
void vfiosim_release_irqs(struct vfiosim_dev *sdev);
void vfiosim_doorbell(struct vfiosim_dev *sdev, u32 vector);
void vfiosim_request(struct vfiosim_dev *sdev, unsigned int count);
u64 vfiosim_bar2_mmap_size(const struct vfiosim_dev *sdev);
u64 vfiosim_open_gen(struct vfiosim_dev *sdev);
int vfiosim_bar2_mmap_check(struct vfiosim_dev *sdev, u64 gen,
			    struct vm_area_struct *vma);
vm_fault_t vfiosim_bar2_fault(struct vfiosim_dev *sdev, u64 gen,
			      struct vm_fault *vmf);
int vfiosim_bar2_get_pages(struct vfiosim_dev *sdev, pgoff_t pgoff,
			   unsigned long nr, struct page **pages);
int vfiosim_device_feature(struct vfiosim_dev *sdev, u32 flags);
int vfiosim_claim(struct vfiosim_dev *sdev, enum vfiosim_owner owner);
void vfiosim_unclaim(struct vfiosim_dev *sdev);

struct page *vfiosim_bar2_lookup(struct vfiosim_dev *sdev, pgoff_t pgoff,
				 bool alloc);
void vfiosim_irq_refresh_locked(struct vfiosim_dev *sdev);
vm_fault_t vfiosim_bar2_mkwrite(struct vfiosim_dev *sdev, u64 gen,
				struct vm_fault *vmf);

/*
 * mmap.c: every BAR2 mapping is on the device's own inode, so one zap
 * takes them all; map files (the netlink region file, and the file that
 * VFIO fd mmaps are moved to) work only for the owner they were made for.
 */
int vfiosim_mmap_init(struct vfiosim_dev *sdev);
void vfiosim_mmap_destroy(struct vfiosim_dev *sdev);
void vfiosim_mmap_zap(struct vfiosim_dev *sdev);
int vfiosim_mmap(struct vfiosim_dev *sdev, struct vm_area_struct *vma);
struct file *vfiosim_region_file(struct vfiosim_dev *sdev);
void vfiosim_mmap_zap_page(struct vfiosim_dev *sdev, pgoff_t pgoff);

/*
 * migration.c: VFIO migration v2 (mig_ops) and the same state machine
 * for vfio-user, whose data moves in MIG_DATA_READ/WRITE.  Lock order:
 * vfiosim_dev.nl_lock -> vfiosim_mig.lock -> a data session's lock ->
 * vfiosim_dev.lock; the DMA engine is quiesced with vfiosim_mig.lock
 * held (and no other).  vfiosim_mig_reset() (reset, open, close) takes
 * vfiosim_mig.lock: callers hold none of the later locks.
 */
int vfiosim_mig_init(struct vfiosim_dev *sdev);
void vfiosim_mig_destroy(struct vfiosim_dev *sdev);
void vfiosim_mig_reset(struct vfiosim_dev *sdev);
void vfiosim_mig_bar2_dirty(struct vfiosim_dev *sdev, pgoff_t pgoff);
int vfiosim_mig_set_state(struct vfiosim_dev *sdev, u32 state);
u32 vfiosim_mig_get_state(struct vfiosim_dev *sdev);
ssize_t vfiosim_mig_data_read(struct vfiosim_dev *sdev, void *buf, size_t len);
ssize_t vfiosim_mig_data_write(struct vfiosim_dev *sdev, const void *buf,
			       size_t len);

/*
 * dma.c: the DMA engine.  Register accesses come from core.c under
 * vfiosim_dev.lock.  quiesce waits for the transfer in flight (if any)
 * to end and holds back a later GO (dma.go_pending) until unquiesce,
 * which starts it: migration's STOP and RUNNING arcs.  Reset, close and
 * removal stop the engine and wait for it; nothing touches memory after.
 */
int vfiosim_dma_init(struct vfiosim_dev *sdev);
void vfiosim_dma_destroy(struct vfiosim_dev *sdev);
u32 vfiosim_dma_reg_read(struct vfiosim_dev *sdev, u32 off);
void vfiosim_dma_reg_write(struct vfiosim_dev *sdev, u32 off, u32 val,
			   u32 mask);
void vfiosim_dma_quiesce(struct vfiosim_dev *sdev);
void vfiosim_dma_unquiesce(struct vfiosim_dev *sdev);
/*
 * Abort and wait (not under vfiosim_dev.lock); until resume, GO ends in
 * ERR_ABORTED.  Reset and owner changes bracket their locked part so.
 */
void vfiosim_dma_stop(struct vfiosim_dev *sdev);
void vfiosim_dma_resume(struct vfiosim_dev *sdev, bool owner_change);
/* An unmap of [iova, iova + size): abort and wait for what touches it. */
void vfiosim_dma_fence(struct vfiosim_dev *sdev, u64 iova, u64 size);
/* vfio-user map lists change under this (nl_lock -> maps_lock) */
void vfiosim_dma_maps_lock(struct vfiosim_dev *sdev);
void vfiosim_dma_maps_unlock(struct vfiosim_dev *sdev);
/* DMA dirty logging of the engine's writes, for every transport */
int vfiosim_dma_log_start(struct vfiosim_dev *sdev,
			  const struct vfio_device_feature_dma_logging_range *ranges,
			  u32 nr, u64 page_size);
int vfiosim_dma_log_stop(struct vfiosim_dev *sdev);
int vfiosim_dma_log_report(struct vfiosim_dev *sdev, u64 iova, u64 length,
			   void (*set)(void *opaque, u64 iova, u64 len),
			   void *opaque);

/* fault.c: each hook returns what the caller is to do; see there */
int vfiosim_fault_module_init(void);
void vfiosim_fault_module_exit(void);
void vfiosim_fault_init(struct vfiosim_dev *sdev);
void vfiosim_fault_add(struct vfiosim_dev *sdev);
void vfiosim_fault_del(struct vfiosim_dev *sdev);
void vfiosim_fault_fired(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k);
bool vfiosim_fault_gone(struct vfiosim_dev *sdev);
int vfiosim_fault_access(struct vfiosim_dev *sdev, u32 index, bool write,
			 void *buf, size_t count);
int vfiosim_fault_op(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k);

/* what became of an interrupt (the vfiosim_irq tracepoint's fate) */
#define VFIOSIM_TRACE_IRQ_DELIVERED	0	/* its eventfd was signalled */
#define VFIOSIM_TRACE_IRQ_NO_TRIGGER	1	/* lost: no eventfd set */
#define VFIOSIM_TRACE_IRQ_PENDING	2	/* held back by a mask */
#define VFIOSIM_TRACE_IRQ_DROPPED	3	/* no mode, or vector past it */
#define VFIOSIM_TRACE_IRQ_FAULT_DROPPED	4	/* lost to irq_drop */
#define VFIOSIM_TRACE_IRQ_FAULT_DELAYED	5	/* held by irq_delay_us */
#define VFIOSIM_TRACE_IRQ_GONE		6	/* after a forced removal */
unsigned int vfiosim_fault_irq(struct vfiosim_dev *sdev, int index,
			       u32 vector, u8 *fate);
u32 vfiosim_fault_dma(struct vfiosim_dev *sdev, u32 *len);
bool vfiosim_fault_dma_stall(struct vfiosim_dev *sdev);
void vfiosim_fault_dma_stall_wait(struct vfiosim_dev *sdev,
				  bool (*aborted)(struct vfiosim_dev *sdev));
bool vfiosim_fault_mig(struct vfiosim_dev *sdev, enum vfiosim_fault_knob k);
bool vfiosim_irq_raw_signal(struct vfiosim_dev *sdev, int index, u32 vector);

/* vfio.c */
extern const struct vfio_device_ops vfiosim_vfio_ops;

/* dmabuf.c; before 6.19 the feature is ENOTTY, as in vfio-pci there */
#ifdef VFIOSIM_HAVE_DMA_BUF
int vfiosim_dmabuf_feature(struct vfiosim_dev *sdev, u32 flags,
			   void __user *arg, size_t argsz);
void vfiosim_dmabuf_cleanup(struct vfiosim_dev *sdev);
#else
static inline int vfiosim_dmabuf_feature(struct vfiosim_dev *sdev, u32 flags,
					 void __user *arg, size_t argsz)
{
	return -ENOTTY;
}

static inline void vfiosim_dmabuf_cleanup(struct vfiosim_dev *sdev)
{
}
#endif

/* trace.c: a fault knob fired (the vfiosim_fault tracepoint) */
void vfiosim_trace_fault(struct vfiosim_dev *sdev, const char *knob, u64 value);
/* trace.c: a SET_IRQS refused before vfiosim_set_irqs() (vfio, vfio-user) */
int vfiosim_trace_set_irqs_refused(struct vfiosim_dev *sdev,
				   const struct vfio_irq_set *hdr, int ret);

/* genl.c */
int vfiosim_netlink_init(void);
void vfiosim_netlink_exit(void);
void vfiosim_netlink_event(struct vfiosim_dev *sdev, enum vfiosim_event event);
void vfiosim_netlink_remove(struct vfiosim_dev *sdev);

#endif /* _VFIOSIM_H */
