/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiosim tracepoints (events/vfiosim/ in tracefs): what a VMM did to a
 * device, in order.  Every event carries the device's name (its UUID) as
 * "dev", so one filter (dev == "<uuid>") selects a device's events.
 * Values are computed in TP_fast_assign only: with tracing off a call
 * site costs a static branch.  CREATE_TRACE_POINTS is in trace.c.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vfiosim

#if !defined(_VFIOSIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VFIOSIM_TRACE_H

#include <linux/tracepoint.h>
#include <linux/uuid.h>

#include "vfiosim.h"

#define VFIOSIM_TRACE_DEV_LEN	(UUID_STRING_LEN + 1)
#define VFIOSIM_TRACE_KNOB_LEN	32

TRACE_DEFINE_ENUM(VFIOSIM_OWNER_NONE);
TRACE_DEFINE_ENUM(VFIOSIM_OWNER_VFIO);
TRACE_DEFINE_ENUM(VFIOSIM_OWNER_NETLINK);
TRACE_DEFINE_ENUM(VFIO_PCI_BAR0_REGION_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_BAR2_REGION_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_CONFIG_REGION_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_INTX_IRQ_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_MSI_IRQ_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_MSIX_IRQ_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_ERR_IRQ_INDEX);
TRACE_DEFINE_ENUM(VFIO_PCI_REQ_IRQ_INDEX);

#define vfiosim_trace_owner(o)					\
	__print_symbolic(o, { VFIOSIM_OWNER_NONE, "none" },	\
			 { VFIOSIM_OWNER_VFIO, "vfio" },	\
			 { VFIOSIM_OWNER_NETLINK, "netlink" })

#define vfiosim_trace_region(r)						\
	__print_symbolic(r, { VFIO_PCI_BAR0_REGION_INDEX, "bar0" },	\
			 { VFIO_PCI_BAR2_REGION_INDEX, "bar2" },	\
			 { VFIO_PCI_CONFIG_REGION_INDEX, "config" })

#define vfiosim_trace_irq(i)						\
	__print_symbolic(i, { -1, "none" },				\
			 { VFIO_PCI_INTX_IRQ_INDEX, "intx" },		\
			 { VFIO_PCI_MSI_IRQ_INDEX, "msi" },		\
			 { VFIO_PCI_MSIX_IRQ_INDEX, "msix" },		\
			 { VFIO_PCI_ERR_IRQ_INDEX, "err" },		\
			 { VFIO_PCI_REQ_IRQ_INDEX, "req" })

/* uapi linux/vfio.h values; 6.1's header has no PRE_COPY names */
#define vfiosim_trace_mig(s)						\
	__print_symbolic(s, { 0, "error" }, { 1, "stop" },		\
			 { 2, "running" }, { 3, "stop_copy" },		\
			 { 4, "resuming" }, { 5, "running_p2p" },	\
			 { 6, "pre_copy" }, { 7, "pre_copy_p2p" })

/* what became of an interrupt: VFIOSIM_TRACE_IRQ_* in vfiosim.h */
#define vfiosim_trace_irq_fate(f)					\
	__print_symbolic(f, { VFIOSIM_TRACE_IRQ_DELIVERED, "delivered" },\
			 { VFIOSIM_TRACE_IRQ_NO_TRIGGER, "no_trigger" },\
			 { VFIOSIM_TRACE_IRQ_PENDING, "pending" },	\
			 { VFIOSIM_TRACE_IRQ_DROPPED, "dropped" },	\
			 { VFIOSIM_TRACE_IRQ_FAULT_DROPPED, "fault_dropped" },\
			 { VFIOSIM_TRACE_IRQ_FAULT_DELAYED, "fault_delayed" },\
			 { VFIOSIM_TRACE_IRQ_GONE, "gone" })

/* what moved the migration FSM */
#define VFIOSIM_TRACE_MIG_SET_STATE	0	/* a state the user set */
#define VFIOSIM_TRACE_MIG_RESET		1	/* reset, open or close */

#ifndef _VFIOSIM_TRACE_HELPERS
#define _VFIOSIM_TRACE_HELPERS
/* The data of a register-sized access (little endian, as the device). */
static inline u64 vfiosim_trace_value(const void *buf, u32 size, int ret)
{
	u64 v = 0;

	if (!ret && size <= sizeof(v) && is_power_of_2(size))
		memcpy(&v, buf, size);
	return le64_to_cpu((__force __le64)v);
}
#endif

#define vfiosim_trace_set_dev(entry, sdev)				\
	strscpy((entry)->dev, dev_name((sdev)->vdev.dev), VFIOSIM_TRACE_DEV_LEN)

/*
 * One region access as the core served it (a VFIO read or write of up to
 * 8 bytes, or each VFIOSIM_RW_CHUNK piece of a longer one; one vfio-user
 * REGION_READ/WRITE, or each entry of a WRITE_MULTI).  value is the
 * little-endian data of a successful access of 1, 2, 4 or 8 bytes, else 0.
 */
TRACE_EVENT(vfiosim_region_access,
	    TP_PROTO(struct vfiosim_dev *sdev, u32 region, u64 offset,
		     const void *buf, u32 size, bool write, int ret),
	    TP_ARGS(sdev, region, offset, buf, size, write, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
			     __field(u64, offset)
			     __field(u64, value)
			     __field(u32, region)
			     __field(u32, size)
			     __field(int, ret)
			     __field(u8, owner)
			     __field(bool, write)),
	    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
			   __entry->offset = offset;
			   __entry->value = vfiosim_trace_value(buf, size, ret);
			   __entry->region = region;
			   __entry->size = size;
			   __entry->ret = ret;
			   __entry->owner = READ_ONCE(sdev->owner);
			   __entry->write = write;),
	    TP_printk("dev=%s transport=%s dir=%s region=%s offset=0x%llx size=%u value=0x%llx ret=%d",
		      __entry->dev, vfiosim_trace_owner(__entry->owner),
		      __entry->write ? "write" : "read",
		      vfiosim_trace_region(__entry->region), __entry->offset,
		      __entry->size, __entry->value, __entry->ret)
);

TRACE_EVENT(vfiosim_set_irqs,
	    TP_PROTO(struct vfiosim_dev *sdev, const struct vfio_irq_set *hdr,
		     int ret),
	    TP_ARGS(sdev, hdr, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
			     __field(u32, index)
			     __field(u32, start)
			     __field(u32, count)
			     __field(u32, flags)
			     __field(int, ret)
			     __field(u8, owner)),
	    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
			   __entry->index = hdr->index;
			   __entry->start = hdr->start;
			   __entry->count = hdr->count;
			   __entry->flags = hdr->flags;
			   __entry->ret = ret;
			   __entry->owner = READ_ONCE(sdev->owner);),
	    TP_printk("dev=%s transport=%s index=%s start=%u count=%u flags=%s ret=%d",
		      __entry->dev, vfiosim_trace_owner(__entry->owner),
		      vfiosim_trace_irq(__entry->index), __entry->start,
		      __entry->count,
		      __print_flags(__entry->flags, "|",
				    { VFIO_IRQ_SET_DATA_NONE, "data_none" },
				    { VFIO_IRQ_SET_DATA_BOOL, "data_bool" },
				    { VFIO_IRQ_SET_DATA_EVENTFD, "data_eventfd" },
				    { VFIO_IRQ_SET_ACTION_MASK, "mask" },
				    { VFIO_IRQ_SET_ACTION_UNMASK, "unmask" },
				    { VFIO_IRQ_SET_ACTION_TRIGGER, "trigger" }),
		      __entry->ret)
);

/*
 * An interrupt the device raised: delivered, held back or lost, exactly
 * one event each (a delayed one is traced again when it is delivered; one
 * irq_twice doubles is delivered twice).
 */
TRACE_EVENT(vfiosim_irq,
	    TP_PROTO(struct vfiosim_dev *sdev, int mode, u32 vector, u8 fate),
	    TP_ARGS(sdev, mode, vector, fate),
	    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
			     __field(int, mode)
			     __field(u32, vector)
			     __field(u8, fate)),
	    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
			   __entry->mode = mode;
			   __entry->vector = vector;
			   __entry->fate = fate;),
	    TP_printk("dev=%s mode=%s vector=%u fate=%s", __entry->dev,
		      vfiosim_trace_irq(__entry->mode), __entry->vector,
		      vfiosim_trace_irq_fate(__entry->fate))
);

DECLARE_EVENT_CLASS(vfiosim_owner_class,
		    TP_PROTO(struct vfiosim_dev *sdev, u8 owner, int ret),
		    TP_ARGS(sdev, owner, ret),
		    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
				     __field(int, ret)
				     __field(u8, owner)),
		    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
				   __entry->ret = ret;
				   __entry->owner = owner;),
		    TP_printk("dev=%s owner=%s ret=%d", __entry->dev,
			      vfiosim_trace_owner(__entry->owner), __entry->ret)
);

/* A claim by a VFIO open or a netlink DEV_OPEN (EBUSY if taken). */
DEFINE_EVENT(vfiosim_owner_class, vfiosim_open,
	     TP_PROTO(struct vfiosim_dev *sdev, u8 owner, int ret),
	     TP_ARGS(sdev, owner, ret));

/* The owner let go (close, session end, removal). */
DEFINE_EVENT(vfiosim_owner_class, vfiosim_close,
	     TP_PROTO(struct vfiosim_dev *sdev, u8 owner, int ret),
	     TP_ARGS(sdev, owner, ret));

/* VFIO_DEVICE_RESET, vfio-user DEVICE_RESET or an FLR (ret: refused). */
DEFINE_EVENT(vfiosim_owner_class, vfiosim_reset,
	     TP_PROTO(struct vfiosim_dev *sdev, u8 owner, int ret),
	     TP_ARGS(sdev, owner, ret));

/*
 * The reset between two owners (at a claim: the new owner; at a close:
 * the one leaving), which no user asked for.
 */
DEFINE_EVENT(vfiosim_owner_class, vfiosim_owner_reset,
	     TP_PROTO(struct vfiosim_dev *sdev, u8 owner, int ret),
	     TP_ARGS(sdev, owner, ret));

/*
 * A transfer's registers: at start (status BUSY) and at its end, as
 * STATUS, DONE_BYTES and RESULT then read (uapi values).
 */
DECLARE_EVENT_CLASS(vfiosim_dma_class,
		    TP_PROTO(struct vfiosim_dev *sdev, const struct vfiosim_dma_regs *r),
		    TP_ARGS(sdev, r),
		    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
				     __field(u64, src)
				     __field(u64, dst)
				     __field(u32, len)
				     __field(u32, op)
				     __field(u32, status)
				     __field(u32, done_bytes)
				     __field(u32, result)),
		    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
				   __entry->src = r->src;
				   __entry->dst = r->dst;
				   __entry->len = r->len;
				   __entry->op = r->op;
				   __entry->status = r->status;
				   __entry->done_bytes = r->done_bytes;
				   __entry->result = r->result;),
		    TP_printk("dev=%s op=%u src=0x%llx dst=0x%llx len=%u status=%u done_bytes=%u result=0x%x",
			      __entry->dev, __entry->op, __entry->src, __entry->dst,
			      __entry->len, __entry->status, __entry->done_bytes,
			      __entry->result)
);

DEFINE_EVENT(vfiosim_dma_class, vfiosim_dma_start,
	     TP_PROTO(struct vfiosim_dev *sdev, const struct vfiosim_dma_regs *r),
	     TP_ARGS(sdev, r));

DEFINE_EVENT(vfiosim_dma_class, vfiosim_dma_done,
	     TP_PROTO(struct vfiosim_dev *sdev, const struct vfiosim_dma_regs *r),
	     TP_ARGS(sdev, r));

DEFINE_EVENT(vfiosim_dma_class, vfiosim_dma_error,
	     TP_PROTO(struct vfiosim_dev *sdev, const struct vfiosim_dma_regs *r),
	     TP_ARGS(sdev, r));

/*
 * One arc of the migration FSM toward a requested state; state is where
 * the device is after it (ERROR if the arc broke it, from if it failed).
 * cause=reset: a reset or an owner change put it back to RUNNING.
 */
TRACE_EVENT(vfiosim_mig_arc,
	    TP_PROTO(struct vfiosim_dev *sdev, u32 from, u32 to, u32 state,
		     int ret, u8 cause),
	    TP_ARGS(sdev, from, to, state, ret, cause),
	    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, state)
			     __field(int, ret)
			     __field(u8, cause)),
	    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
			   __entry->from = from;
			   __entry->to = to;
			   __entry->state = state;
			   __entry->ret = ret;
			   __entry->cause = cause;),
	    TP_printk("dev=%s from=%s to=%s state=%s ret=%d cause=%s",
		      __entry->dev, vfiosim_trace_mig(__entry->from),
		      vfiosim_trace_mig(__entry->to),
		      vfiosim_trace_mig(__entry->state), __entry->ret,
		      __print_symbolic(__entry->cause,
				       { VFIOSIM_TRACE_MIG_SET_STATE, "set_state" },
				       { VFIOSIM_TRACE_MIG_RESET, "reset" }))
);

/* A fault knob fired (fault.c, through vfiosim_trace_fault()). */
TRACE_EVENT(vfiosim_fault,
	    TP_PROTO(struct vfiosim_dev *sdev, const char *knob, u64 value),
	    TP_ARGS(sdev, knob, value),
	    TP_STRUCT__entry(__array(char, dev, VFIOSIM_TRACE_DEV_LEN)
			     __array(char, knob, VFIOSIM_TRACE_KNOB_LEN)
			     __field(u64, value)),
	    TP_fast_assign(vfiosim_trace_set_dev(__entry, sdev);
			   strscpy(__entry->knob, knob, VFIOSIM_TRACE_KNOB_LEN);
			   __entry->value = value;),
	    TP_printk("dev=%s knob=%s value=%llu", __entry->dev, __entry->knob,
		      __entry->value)
);

#endif /* _VFIOSIM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH kmod
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
