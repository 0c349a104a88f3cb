// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the tracepoints' one instantiation (trace.h), and the call
 * for files that fire events without including trace.h.
 */

#include "vfiosim.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* fault.c: @knob (a debugfs knob's name) fired with @value. */
void vfiosim_trace_fault(struct vfiosim_dev *sdev, const char *knob, u64 value)
{
	trace_vfiosim_fault(sdev, knob, value);
}

/* Returns @ret, which refused @hdr. */
int vfiosim_trace_set_irqs_refused(struct vfiosim_dev *sdev,
				   const struct vfio_irq_set *hdr, int ret)
{
	trace_vfiosim_set_irqs(sdev, hdr, ret);
	return ret;
}
