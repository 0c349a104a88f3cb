// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvfiosim core: device lifecycle, spec parsing and dispatch of each op
 * to the backend the device was opened with.  Arguments that are cheap to
 * check (NULL pointers, closed device) are checked here, once, so every
 * backend answers them the same way.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfiosim_int.h"

/*
 * Known backends.  A backend that is not built yet has ops == NULL; adding
 * one means filling in its ops here and nothing else changes for callers.
 */
static const struct {
	const char *prefix;
	const struct vfiosim_io_ops *ops;
} vfiosim_backends[] = {
	{ "vfio",	&vfiosim_vfio_ops },
	{ "netlink",	&vfiosim_netlink_ops },
	{ "unix",	&vfiosim_unix_ops },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

int vfiosim_fail_buf(char *buf, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return -err;
}

/* The calling thread's slot, or NULL; under err_lock. */
static struct vfiosim_err_slot *err_slot(const struct vfiosim_dev *dev)
{
	struct vfiosim_err_slot *s;
	pthread_t self = pthread_self();

	for (s = dev->err; s; s = s->next)
		if (pthread_equal(s->thread, self))
			return s;
	return NULL;
}

/*
 * Keep msg as the calling thread's last error on dev, in its own slot
 * (added on its first failure).  Only this thread writes that slot, and
 * only here, so what it read from it stays put until it fails again.
 */
static void err_store(struct vfiosim_dev *dev, const char *msg)
{
	struct vfiosim_err_slot *slot;

	pthread_mutex_lock(&dev->err_lock);
	dev->err_clock++;
	slot = err_slot(dev);
	if (!slot) {
		slot = malloc(sizeof(*slot));
		if (!slot) {
			dev->err_lost = true;
			pthread_mutex_unlock(&dev->err_lock);
			return;
		}
		slot->thread = pthread_self();
		slot->next = dev->err;
		dev->err = slot;
	}
	snprintf(slot->msg, sizeof(slot->msg), "%s", msg);
	pthread_mutex_unlock(&dev->err_lock);
}

int vfiosim_fail(struct vfiosim_dev *dev, int err, const char *fmt, ...)
{
	char msg[VFIOSIM_ERR_LEN];
	va_list ap;
	int n;

	/* Messages may be cut at VFIOSIM_ERR_LEN; they never overflow. */
	n = snprintf(msg, sizeof(msg), "%.*s: ", VFIOSIM_NAME_LEN,
		     dev->name[0] ? dev->name : "vfiosim");
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -err;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	err_store(dev, msg);
	return -err;
}

bool vfiosim_uuid_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < VFIOSIM_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return s[VFIOSIM_UUID_LEN] == '\0';
}

void vfiosim_uuid_normalize(const char *in, char out[37])
{
	size_t i;

	for (i = 0; i < VFIOSIM_UUID_LEN; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[VFIOSIM_UUID_LEN] = '\0';
}

int vfiosim_uuid_check(const char *uuid, char out[37], char *err,
		       size_t errlen)
{
	if (!uuid)
		return vfiosim_fail_buf(err, errlen, EINVAL, "uuid is NULL");
	if (!vfiosim_uuid_valid(uuid))
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"invalid uuid '%s' (expected 8-4-4-4-12 hex digits)",
					uuid);
	vfiosim_uuid_normalize(uuid, out);
	return 0;
}

int vfiosim_spec_parse(const char *spec, const struct vfiosim_io_ops **ops,
		       const char **target, char *err, size_t errlen)
{
	const char *colon;
	size_t plen, i;

	if (!spec || !*spec)
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"empty device spec (expected vfio:<uuid>, netlink:<uuid> or unix:<path>)");
	colon = strchr(spec, ':');
	if (!colon)
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"device spec '%s' has no backend prefix (expected vfio:<uuid>, netlink:<uuid> or unix:<path>)",
					spec);
	plen = (size_t)(colon - spec);
	for (i = 0; i < ARRAY_SIZE(vfiosim_backends); i++) {
		const char *p = vfiosim_backends[i].prefix;

		if (strlen(p) != plen || strncmp(p, spec, plen))
			continue;
		if (!vfiosim_backends[i].ops)
			return vfiosim_fail_buf(err, errlen, EPROTONOSUPPORT,
						"%s: backend '%s' is not built yet",
						spec, p);
		if (!colon[1])
			return vfiosim_fail_buf(err, errlen, EINVAL,
						"device spec '%s' names no device",
						spec);
		*ops = vfiosim_backends[i].ops;
		*target = colon + 1;
		return 0;
	}
	return vfiosim_fail_buf(err, errlen, EINVAL,
				"unknown backend '%.*s' in device spec '%s' (expected vfio, netlink or unix)",
				(int)plen, spec, spec);
}

const char *vfiosim_region_name(uint32_t index)
{
	static const char *const names[] = {
		"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5",
		"ROM", "config", "VGA",
	};

	return index < ARRAY_SIZE(names) ? names[index] : "region";
}

void vfiosim_format_region_err(char *buf, size_t len, const char *what,
			       uint32_t index, uint64_t offset, size_t count,
			       uint64_t size, int err)
{
	/* Overflow-safe "offset + count > size". */
	if (count > size || offset > size - count)
		snprintf(buf, len,
			 "%s region %u (%s): offset 0x%llx+%zu past end 0x%llx: %s",
			 what, index, vfiosim_region_name(index),
			 (unsigned long long)offset, count,
			 (unsigned long long)size, strerror(err));
	else
		snprintf(buf, len,
			 "%s region %u (%s) offset 0x%llx+%zu: %s",
			 what, index, vfiosim_region_name(index),
			 (unsigned long long)offset, count, strerror(err));
}

struct vfiosim_dev *vfiosim_dev_alloc(void)
{
	struct vfiosim_dev *dev = calloc(1, sizeof(struct vfiosim_dev));

	if (!dev)
		return NULL;
	dev->timeout_ms = VFIOSIM_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&dev->err_lock, NULL);
	return dev;
}

int vfiosim_dev_set_timeout(struct vfiosim_dev *dev, unsigned int ms)
{
	if (!dev || !ms || ms > VFIOSIM_MAX_TIMEOUT_MS)
		return -EINVAL;
	dev->timeout_ms = ms;
	return 0;
}

int vfiosim_dev_open(struct vfiosim_dev *dev, const char *spec)
{
	const struct vfiosim_io_ops *ops;
	char msg[VFIOSIM_ERR_LEN];
	const char *target;
	uint64_t before;
	int ret;

	if (!dev)
		return -EINVAL;
	if (dev->ops)
		return vfiosim_fail(dev, EBUSY, "already open; close it first");
	dev->name[0] = '\0';
	ret = vfiosim_spec_parse(spec, &ops, &target, msg, sizeof(msg));
	if (ret) {
		err_store(dev, msg);
		return ret;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", spec);
	pthread_mutex_lock(&dev->err_lock);
	before = dev->err_clock;
	pthread_mutex_unlock(&dev->err_lock);
	ret = ops->open(dev, target);
	if (ret) {
		pthread_mutex_lock(&dev->err_lock);
		msg[0] = dev->err_clock == before;	/* nothing said */
		pthread_mutex_unlock(&dev->err_lock);
		if (msg[0])
			vfiosim_fail(dev, -ret, "open: %s", strerror(-ret));
		return ret;
	}
	dev->ops = ops;
	return 0;
}

void vfiosim_dev_close(struct vfiosim_dev *dev)
{
	if (!dev || !dev->ops)
		return;
	dev->ops->close(dev);
	dev->ops = NULL;
	dev->priv = NULL;
}

void vfiosim_dev_free(struct vfiosim_dev *dev)
{
	if (!dev)
		return;
	vfiosim_dev_close(dev);
	while (dev->err) {
		struct vfiosim_err_slot *next = dev->err->next;

		free(dev->err);
		dev->err = next;
	}
	pthread_mutex_destroy(&dev->err_lock);
	free(dev);
}

const char *vfiosim_dev_error(const struct vfiosim_dev *dev)
{
	const struct vfiosim_err_slot *s;
	bool lost;

	if (!dev)
		return "no device (NULL)";
	pthread_mutex_lock((pthread_mutex_t *)&dev->err_lock);
	s = err_slot(dev);
	lost = dev->err_lost;
	pthread_mutex_unlock((pthread_mutex_t *)&dev->err_lock);
	if (s)
		return s->msg;	/* only this thread writes it */
	return lost ? "(error message lost: out of memory)" : "";
}

const char *vfiosim_dev_backend(const struct vfiosim_dev *dev)
{
	return dev && dev->ops ? dev->ops->name : "none";
}

/* Common checks before an op: a device, opened, with the op implemented. */
#define VFIOSIM_CHECK(dev, op)						\
	do {								\
		if (!(dev))						\
			return -EINVAL;					\
		if (!(dev)->ops)					\
			return vfiosim_fail(dev, EBADF, "%s: device not open", #op); \
		if (!(dev)->ops->op)					\
			return vfiosim_fail(dev, EOPNOTSUPP,		\
					    "%s: not supported by backend '%s'", \
					    #op, (dev)->ops->name);	\
	} while (0)

#define VFIOSIM_CHECK_PTR(dev, op, ptr)					\
	do {								\
		if (!(ptr))						\
			return vfiosim_fail(dev, EFAULT, "%s: %s is NULL", \
					    #op, #ptr);			\
	} while (0)

int vfiosim_get_device_info(struct vfiosim_dev *dev,
			    struct vfio_device_info *info)
{
	VFIOSIM_CHECK(dev, get_device_info);
	VFIOSIM_CHECK_PTR(dev, get_device_info, info);
	return dev->ops->get_device_info(dev, info);
}

int vfiosim_get_region_info(struct vfiosim_dev *dev,
			    struct vfio_region_info *info)
{
	VFIOSIM_CHECK(dev, get_region_info);
	VFIOSIM_CHECK_PTR(dev, get_region_info, info);
	return dev->ops->get_region_info(dev, info);
}

int vfiosim_get_irq_info(struct vfiosim_dev *dev, struct vfio_irq_info *info)
{
	VFIOSIM_CHECK(dev, get_irq_info);
	VFIOSIM_CHECK_PTR(dev, get_irq_info, info);
	return dev->ops->get_irq_info(dev, info);
}

int vfiosim_set_irqs(struct vfiosim_dev *dev, struct vfio_irq_set *set)
{
	VFIOSIM_CHECK(dev, set_irqs);
	VFIOSIM_CHECK_PTR(dev, set_irqs, set);
	return dev->ops->set_irqs(dev, set);
}

ssize_t vfiosim_region_read(struct vfiosim_dev *dev, uint32_t index,
			    uint64_t offset, void *buf, size_t count)
{
	VFIOSIM_CHECK(dev, region_read);
	if (count)
		VFIOSIM_CHECK_PTR(dev, region_read, buf);
	return dev->ops->region_read(dev, index, offset, buf, count);
}

ssize_t vfiosim_region_write(struct vfiosim_dev *dev, uint32_t index,
			     uint64_t offset, const void *buf, size_t count)
{
	VFIOSIM_CHECK(dev, region_write);
	if (count)
		VFIOSIM_CHECK_PTR(dev, region_write, buf);
	return dev->ops->region_write(dev, index, offset, buf, count);
}

int vfiosim_region_write_posted(struct vfiosim_dev *dev, uint32_t index,
				uint64_t offset, const void *buf, size_t count)
{
	VFIOSIM_CHECK(dev, region_write_posted);
	if (count)
		VFIOSIM_CHECK_PTR(dev, region_write_posted, buf);
	return dev->ops->region_write_posted(dev, index, offset, buf, count);
}

int vfiosim_region_mmap(struct vfiosim_dev *dev, uint32_t index,
			uint64_t offset, size_t len, int prot, void **addr)
{
	VFIOSIM_CHECK(dev, region_mmap);
	VFIOSIM_CHECK_PTR(dev, region_mmap, addr);
	return dev->ops->region_mmap(dev, index, offset, len, prot, addr);
}

int vfiosim_device_feature(struct vfiosim_dev *dev,
			   struct vfio_device_feature *feature)
{
	VFIOSIM_CHECK(dev, device_feature);
	VFIOSIM_CHECK_PTR(dev, device_feature, feature);
	return dev->ops->device_feature(dev, feature);
}

/* The feature header and its data, as VFIO_DEVICE_FEATURE takes them. */
struct vfiosim_mig_feature {
	struct vfio_device_feature hdr;
	union {
		struct vfio_device_feature_migration mig;
		struct vfio_device_feature_mig_state state;
	} u;
};

/* GET of a migration feature, whose data is size bytes, into f. */
static int vfiosim_mig_feature_get(struct vfiosim_dev *dev, uint32_t feature,
				   size_t size, struct vfiosim_mig_feature *f)
{
	memset(f, 0, sizeof(*f));
	f->hdr.argsz = (uint32_t)(sizeof(f->hdr) + size);
	f->hdr.flags = VFIO_DEVICE_FEATURE_GET | feature;
	return dev->ops->device_feature(dev, &f->hdr);
}

int vfiosim_mig_flags(struct vfiosim_dev *dev, uint64_t *flags)
{
	struct vfiosim_mig_feature f;
	int ret;

	VFIOSIM_CHECK(dev, device_feature);
	VFIOSIM_CHECK_PTR(dev, mig_flags, flags);
	ret = vfiosim_mig_feature_get(dev, VFIO_DEVICE_FEATURE_MIGRATION,
				      sizeof(f.u.mig), &f);
	if (!ret)
		*flags = f.u.mig.flags;
	return ret;
}

int vfiosim_mig_get_state(struct vfiosim_dev *dev, uint32_t *state)
{
	struct vfiosim_mig_feature f;
	int ret;

	VFIOSIM_CHECK(dev, device_feature);
	VFIOSIM_CHECK_PTR(dev, mig_get_state, state);
	ret = vfiosim_mig_feature_get(dev, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				      sizeof(f.u.state), &f);
	if (!ret)
		*state = f.u.state.device_state;
	return ret;
}

void vfiosim_mig_state_set_init(struct vfiosim_mig_state_set *f,
				uint32_t state)
{
	memset(f, 0, sizeof(*f));
	f->hdr.argsz = sizeof(*f);
	f->hdr.flags = VFIO_DEVICE_FEATURE_SET |
		       VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	f->mig.device_state = state;
	f->mig.data_fd = -1;
}

int vfiosim_mig_set_state(struct vfiosim_dev *dev, uint32_t state)
{
	VFIOSIM_CHECK(dev, mig_set_state);
	return dev->ops->mig_set_state(dev, state);
}

ssize_t vfiosim_mig_read(struct vfiosim_dev *dev, void *buf, size_t len)
{
	VFIOSIM_CHECK(dev, mig_read);
	VFIOSIM_CHECK_PTR(dev, mig_read, buf);
	return dev->ops->mig_read(dev, buf, len);
}

ssize_t vfiosim_mig_write(struct vfiosim_dev *dev, const void *buf,
			  size_t len)
{
	VFIOSIM_CHECK(dev, mig_write);
	VFIOSIM_CHECK_PTR(dev, mig_write, buf);
	return dev->ops->mig_write(dev, buf, len);
}

int vfiosim_mig_precopy_info(struct vfiosim_dev *dev, uint64_t *initial,
			     uint64_t *dirty)
{
	VFIOSIM_CHECK(dev, mig_precopy_info);
	VFIOSIM_CHECK_PTR(dev, mig_precopy_info, initial);
	VFIOSIM_CHECK_PTR(dev, mig_precopy_info, dirty);
	return dev->ops->mig_precopy_info(dev, initial, dirty);
}

ssize_t vfiosim_mig_save(struct vfiosim_dev *dev, void **buf)
{
	size_t len = 0, cap = 1 << 16;
	unsigned char *b, *nb;
	ssize_t n;

	VFIOSIM_CHECK(dev, mig_read);
	VFIOSIM_CHECK_PTR(dev, mig_save, buf);
	b = malloc(cap);
	if (!b)
		return vfiosim_fail(dev, ENOMEM, "mig_save: out of memory");
	n = vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_STOP_COPY);
	while (!n) {
		if (cap - len < cap / 4) {
			nb = realloc(b, cap * 2);
			if (!nb) {
				n = vfiosim_fail(dev, ENOMEM,
						 "mig_save: %zu bytes: out of memory",
						 cap * 2);
				break;
			}
			b = nb;
			cap *= 2;
		}
		n = vfiosim_mig_read(dev, b + len, cap - len);
		if (n > 0) {
			len += (size_t)n;
			n = 0;
		} else if (!n) {
			break;
		}
	}
	if (!n)
		n = vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_STOP);
	if (n < 0) {
		free(b);
		return n;
	}
	*buf = b;
	return (ssize_t)len;
}

int vfiosim_reset(struct vfiosim_dev *dev)
{
	VFIOSIM_CHECK(dev, reset);
	return dev->ops->reset(dev);
}

int vfiosim_dma_map(struct vfiosim_dev *dev, const struct vfiosim_dma_map *map)
{
	VFIOSIM_CHECK(dev, dma_map);
	VFIOSIM_CHECK_PTR(dev, dma_map, map);
	return dev->ops->dma_map(dev, map);
}

int vfiosim_dma_unmap(struct vfiosim_dev *dev, uint64_t iova, uint64_t size,
		      uint32_t flags)
{
	VFIOSIM_CHECK(dev, dma_unmap);
	return dev->ops->dma_unmap(dev, iova, size, flags);
}

/*
 * DMA logging: VFIO passes the ranges and the bitmap by address; vfio-user
 * carries them inline (ranges after the control, the bitmap after the
 * report in the reply).
 */
static bool vfiosim_feature_by_address(const struct vfiosim_dev *dev)
{
	return !strcmp(vfiosim_dev_backend(dev), "vfio");
}

int vfiosim_dma_logging_start(struct vfiosim_dev *dev, uint64_t page_size,
			      const struct vfio_device_feature_dma_logging_range *ranges,
			      uint32_t n)
{
	struct vfio_device_feature_dma_logging_control *ctl;
	struct vfio_device_feature *f;
	size_t len = sizeof(*f) + sizeof(*ctl);
	int ret;

	/* vfio-user: page_size, num_ranges, reserved, then the ranges */
	if (!vfiosim_feature_by_address(dev))
		len = sizeof(*f) + 16 + (size_t)n * sizeof(*ranges);
	f = calloc(1, len < sizeof(*f) + sizeof(*ctl) ?
		   sizeof(*f) + sizeof(*ctl) : len);
	if (!f)
		return -ENOMEM;
	f->argsz = len;
	f->flags = VFIO_DEVICE_FEATURE_SET |
		   VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
	ctl = (void *)f->data;
	ctl->page_size = page_size;
	ctl->num_ranges = n;
	if (vfiosim_feature_by_address(dev))
		ctl->ranges = (uintptr_t)ranges;
	else if (n)
		memcpy(f->data + 16, ranges, (size_t)n * sizeof(*ranges));
	ret = vfiosim_device_feature(dev, f);
	free(f);
	return ret;
}

int vfiosim_dma_logging_stop(struct vfiosim_dev *dev)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
	};

	return vfiosim_device_feature(dev, &f);
}

int vfiosim_dma_logging_report(struct vfiosim_dev *dev, uint64_t iova,
			       uint64_t length, uint64_t page_size,
			       uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report *rep;
	struct vfio_device_feature *f;
	size_t bytes = 0, len, i;
	uint64_t *bits;
	int ret;

	if (!page_size)
		return -EINVAL;
	if (!vfiosim_feature_by_address(dev))
		bytes = (length / page_size + 63) / 64 * 8;
	len = sizeof(*f) + sizeof(*rep) + bytes;
	f = calloc(1, len);
	if (!f)
		return -ENOMEM;
	f->argsz = len;
	f->flags = VFIO_DEVICE_FEATURE_GET |
		   VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
	rep = (void *)f->data;
	rep->iova = iova;
	rep->length = length;
	rep->page_size = page_size;
	if (vfiosim_feature_by_address(dev))
		rep->bitmap = (uintptr_t)bitmap;
	ret = vfiosim_device_feature(dev, f);
	/* vfio-user: the bitmap follows iova, length and page_size */
	bits = (uint64_t *)(f->data + 24);
	for (i = 0; !ret && i < bytes / 8; i++)
		bitmap[i] |= le64toh(bits[i]);
	free(f);
	return ret;
}

int vfiosim_region_write_multi(struct vfiosim_dev *dev,
			       const struct vfiosim_write_op *ops, size_t n)
{
	size_t i;

	VFIOSIM_CHECK(dev, region_write_multi);
	if (!n)
		return 0;
	VFIOSIM_CHECK_PTR(dev, region_write_multi, ops);
	for (i = 0; i < n; i++) {
		if (ops[i].count < 1 || ops[i].count > 8)
			return vfiosim_fail(dev, EINVAL,
					    "region_write_multi: write %zu (region %u offset 0x%llx): count %u, not 1..8",
					    i, ops[i].region,
					    (unsigned long long)ops[i].offset,
					    ops[i].count);
	}
	return dev->ops->region_write_multi(dev, ops, n);
}

int vfiosim_write_ops_check(struct vfiosim_dev *dev,
			    const struct vfiosim_write_op *ops, size_t n,
			    uint64_t (*size)(struct vfiosim_dev *dev,
					     uint32_t index))
{
	char msg[VFIOSIM_ERR_LEN];
	uint64_t region_size;
	size_t i;

	for (i = 0; i < n; i++) {
		region_size = size(dev, ops[i].region);
		if (region_size && ops[i].offset <= region_size &&
		    ops[i].count <= region_size - ops[i].offset)
			continue;
		vfiosim_format_region_err(msg, sizeof(msg), "write",
					  ops[i].region, ops[i].offset,
					  ops[i].count, region_size, EINVAL);
		return vfiosim_fail(dev, EINVAL,
				    "region_write_multi write %zu of %zu, nothing written: %s",
				    i, n, msg);
	}
	return 0;
}

int vfiosim_netlink_ping(struct vfiosim_dev *dev)
{
	VFIOSIM_CHECK(dev, ping);
	return dev->ops->ping(dev);
}

/* Registers are little endian, as on PCI. */
int vfiosim_read32(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		   uint32_t *val)
{
	uint32_t le;
	ssize_t n;

	if (dev && !val)
		return vfiosim_fail(dev, EFAULT, "read32: val is NULL");
	n = vfiosim_region_read(dev, index, offset, &le, sizeof(le));
	if (n < 0)
		return (int)n;
	if (n != sizeof(le))
		return vfiosim_fail(dev, EIO,
				    "read32 region %u (%s) offset 0x%llx: short read (%zd of 4 bytes)",
				    index, vfiosim_region_name(index),
				    (unsigned long long)offset, n);
	*val = le32toh(le);
	return 0;
}

int vfiosim_write32(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		    uint32_t val)
{
	uint32_t le = htole32(val);
	ssize_t n;

	n = vfiosim_region_write(dev, index, offset, &le, sizeof(le));
	if (n < 0)
		return (int)n;
	if (n != sizeof(le))
		return vfiosim_fail(dev, EIO,
				    "write32 region %u (%s) offset 0x%llx: short write (%zd of 4 bytes)",
				    index, vfiosim_region_name(index),
				    (unsigned long long)offset, n);
	return 0;
}

int vfiosim_irq_set_eventfd(struct vfiosim_dev *dev, uint32_t index,
			    uint32_t vector, int fd)
{
	/* vfio_irq_set followed by one __s32, suitably aligned. */
	union {
		struct vfio_irq_set set;
		unsigned char raw[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	} u;
	int32_t efd = fd;

	if (dev && fd < -1)
		return vfiosim_fail(dev, EBADF,
				    "irq index %u vector %u: bad eventfd %d",
				    index, vector, fd);
	memset(&u, 0, sizeof(u));
	u.set.argsz = sizeof(u.raw);
	u.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	u.set.index = index;
	u.set.start = vector;
	u.set.count = 1;
	memcpy(u.raw + sizeof(struct vfio_irq_set), &efd, sizeof(efd));
	return vfiosim_set_irqs(dev, &u.set);
}

/*
 * Bytes a capability with this id needs beyond its header, when the id has
 * a fixed layout we know; 0 otherwise.  Returns false if the body cannot
 * fit in avail bytes.
 */
static bool cap_body_fits(const struct vfio_info_cap_header *hdr,
			  uint32_t avail)
{
	const struct vfio_region_info_cap_sparse_mmap *sparse;
	uint64_t need;

	switch (hdr->id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		if (avail < sizeof(*sparse))
			return false;
		sparse = (const void *)hdr;
		need = sizeof(*sparse) + (uint64_t)sparse->nr_areas *
			sizeof(struct vfio_region_sparse_mmap_area);
		return need <= avail;
	case VFIO_REGION_INFO_CAP_TYPE:
		return sizeof(struct vfio_region_info_cap_type) <= avail;
	default:
		return sizeof(*hdr) <= avail;
	}
}

const struct vfio_info_cap_header *
vfiosim_region_info_cap(const struct vfio_region_info *info, uint16_t id)
{
	const unsigned char *base = (const unsigned char *)info;
	const struct vfio_info_cap_header *hdr;
	uint32_t off, end;

	if (!info || info->argsz < sizeof(*info) ||
	    !(info->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	end = info->argsz;
	/*
	 * Offsets must grow strictly: the kernel appends capabilities, and
	 * it is what makes a looping chain end.  They must also leave the
	 * fixed part alone, sit on an 8-byte boundary (where the kernel's
	 * vfio_info_cap_add() puts every one, and what a sparse-mmap cap's
	 * u64 areas need) and fit in argsz.
	 */
	for (off = info->cap_offset; off; off = hdr->next) {
		if (off < sizeof(*info) || off % sizeof(uint64_t) ||
		    off > end || end - off < sizeof(*hdr))
			return NULL;
		hdr = (const void *)(base + off);
		if (hdr->id == id)
			return cap_body_fits(hdr, end - off) ? hdr : NULL;
		if (hdr->next && hdr->next <= off)
			return NULL;
	}
	return NULL;
}
