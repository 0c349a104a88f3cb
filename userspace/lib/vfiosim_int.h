/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim internals: shared by the core, the backends and the host unit
 * tests.  Nothing here is part of the public API.
 */
#ifndef VFIOSIM_INT_H
#define VFIOSIM_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include "vfiosim.h"

#define VFIOSIM_UUID_LEN	36
#define VFIOSIM_ERR_LEN		512
#define VFIOSIM_NAME_LEN	256

struct vfiosim_dev {
	const struct vfiosim_io_ops *ops;	/* NULL while closed */
	void *priv;				/* owned by ops */
	char name[VFIOSIM_NAME_LEN];		/* "vfio:<uuid>", for messages */
	char err[VFIOSIM_ERR_LEN];
};

/* Record "<dev name>: <message>" as the last error and return -err. */
int vfiosim_fail(struct vfiosim_dev *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same for the err/errlen buffers of the sysfs functions. */
int vfiosim_fail_buf(char *buf, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Split "<backend>:<target>".  On success *ops is the backend's ops and
 * *target points into spec.  A known but unbuilt backend returns
 * -EPROTONOSUPPORT.
 */
int vfiosim_spec_parse(const char *spec, const struct vfiosim_io_ops **ops,
		       const char **target, char *err, size_t errlen);

/* 8-4-4-4-12 hex digits, either case. */
bool vfiosim_uuid_valid(const char *s);
/* Copy a valid uuid into out[37] in lower case, as sysfs names devices. */
void vfiosim_uuid_normalize(const char *in, char out[37]);

/* "BAR0".."BAR5", "ROM", "config", "VGA" or "region" for others. */
const char *vfiosim_region_name(uint32_t index);

/*
 * Message for a failed region access.  Names the region and, when the
 * access runs past the region's end, says so with the numbers.
 */
void vfiosim_format_region_err(char *buf, size_t len, const char *what,
			       uint32_t index, uint64_t offset, size_t count,
			       uint64_t size, int err);

/* VFIOSIM_SYSFS_ROOT, or "/sys".  Read at each call. */
const char *vfiosim_sysfs_root(void);

/* The backends. */
extern const struct vfiosim_io_ops vfiosim_vfio_ops;

#endif /* VFIOSIM_INT_H */
