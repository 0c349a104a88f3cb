// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The vfio-user client ops, shared by the netlink and unix backends.
 *
 * The messages are built and checked by vu_codec.c; how they travel is
 * the backend's (struct vu_client's call).  What the ops keep is here:
 * the msg_id, the region cache (offsets, sizes, mmap fds, read at open),
 * the negotiated limits.  A region access over max_xfer bytes is split
 * into several messages after checking the whole range against the
 * region size, as the VFIO path refuses it before touching anything; if
 * a later piece fails, the bytes done so far are returned, like pread.
 *
 * Every op holds the client's mutex around its round trip(s).
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfiosim.h>

#include "vfiosim_int.h"

#define VU_HDR		sizeof(struct vfiosim_user_header)
#define VU_WHY_LEN	VFIOSIM_ERR_LEN
#define VU_MAX_FDS	VFIOSIM_USER_MAX_MSG_FDS

static struct vu_client *vc(struct vfiosim_dev *dev)
{
	return dev->priv;
}

static void *vu_payload(struct vu_client *c)
{
	return c->msg + VU_HDR;
}

void vu_client_init(struct vu_client *c)
{
	pthread_mutex_init(&c->lock, NULL);
}

static void vu_forget_fd(struct vu_region *reg)
{
	if (reg->mmap_fd >= 0)
		close(reg->mmap_fd);
	reg->mmap_fd = -1;
}

void vu_client_forget_regions(struct vu_client *c)
{
	uint32_t i;

	for (i = 0; c->regions && i < c->num_regions; i++)
		vu_forget_fd(&c->regions[i]);
	free(c->regions);
	c->regions = NULL;
	c->num_regions = 0;
}

ssize_t vu_client_simple(struct vu_client *c, uint16_t command, size_t len,
			 const void *fds, size_t nfds, const void **payload,
			 int *fd_out, char *why)
{
	uint16_t id = ++c->msg_id;

	vfiosim_vu_request_init(c->msg, id, command, NULL, len);
	return c->call(c, command, id, VU_HDR + len, fds, nfds, payload,
		       fd_out, why);
}

/*
 * GET_REGION_INFO into info (argsz bytes at most), remembering the
 * region's offset, size and mmap fd.  0 or -errno with why.
 */
static int vu_region_info(struct vu_client *c, struct vfio_region_info *info,
			  char *why)
{
	struct vfio_region_info req = {
		.argsz = info->argsz,
		.index = info->index,
	};
	struct vfio_region_info got;
	const void *payload;
	ssize_t n;
	int fd;

	memcpy(vu_payload(c), &req, sizeof(req));
	n = vu_client_simple(c, VFIOSIM_USER_DEVICE_GET_REGION_INFO,
			     sizeof(req), NULL, 0, &payload, &fd, why);
	if (n < 0)
		return (int)n;
	memcpy(info, payload, (size_t)n < req.argsz ? (size_t)n : req.argsz);
	/*
	 * An argsz beyond the caller's buffer says the capabilities did not
	 * fit: like the kernel, leave no chain to walk, or
	 * vfiosim_region_info_cap() would follow it past the buffer.
	 */
	if (info->argsz > req.argsz && req.argsz >= sizeof(*info))
		info->cap_offset = 0;
	if (req.index < c->num_regions && (size_t)n >= sizeof(got)) {
		struct vu_region *reg = &c->regions[req.index];

		memcpy(&got, payload, sizeof(got));
		reg->offset = got.offset;
		reg->size = got.size;
		if (fd >= 0) {
			vu_forget_fd(reg);
			reg->mmap_fd = fd;
		}
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
}

int vu_client_cache_regions(struct vfiosim_dev *dev)
{
	struct vu_client *c = vc(dev);
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	char why[VU_WHY_LEN];
	const void *payload;
	uint32_t i, num;
	ssize_t n;
	int ret;

	memcpy(vu_payload(c), &dinfo, sizeof(dinfo));
	n = vu_client_simple(c, VFIOSIM_USER_DEVICE_GET_INFO, sizeof(dinfo),
			     NULL, 0, &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "DEVICE_GET_INFO: %s", why);
	if ((size_t)n < offsetof(struct vfio_device_info, cap_offset))
		return vfiosim_fail(dev, EPROTO,
				    "DEVICE_GET_INFO: malformed reply: %zd bytes",
				    n);
	memcpy(&dinfo, payload, (size_t)n < sizeof(dinfo) ? (size_t)n :
	       sizeof(dinfo));
	num = dinfo.num_regions;
	if (c->max_regions && num > c->max_regions)
		return vfiosim_fail(dev, EPROTO,
				    "DEVICE_GET_INFO: malformed reply: %u regions",
				    num);
	c->regions = calloc(num ? num : 1, sizeof(*c->regions));
	if (!c->regions)
		return vfiosim_fail(dev, ENOMEM, "%u regions: out of memory",
				    num);
	for (i = 0; i < num; i++)
		c->regions[i].mmap_fd = -1;
	c->num_regions = num;
	for (i = 0; i < num; i++) {
		struct vfio_region_info rinfo = {
			.argsz = sizeof(rinfo),
			.index = i,
		};

		ret = vu_region_info(c, &rinfo, why);
		if (ret)
			return vfiosim_fail(dev, -ret,
					    "DEVICE_GET_REGION_INFO region %u (%s): %s",
					    i, vfiosim_region_name(i), why);
	}
	return 0;
}

/* ---- the info ops -------------------------------------------------- */

/*
 * Send len bytes of the caller's struct, copy the reply back bounded by
 * its argsz.
 */
static int vu_info_op(struct vfiosim_dev *dev, uint16_t command, void *arg,
		      size_t len, uint32_t argsz, const char *what)
{
	struct vu_client *c = vc(dev);
	char why[VU_WHY_LEN];
	const void *payload;
	ssize_t n;

	if (len > c->payload_max)
		return vfiosim_fail(dev, EINVAL,
				    "%s%s: argsz %u does not fit one vfio-user message (%zu bytes)",
				    vfiosim_vu_command_name(command), what,
				    argsz, c->payload_max);
	memcpy(vu_payload(c), arg, len);
	n = vu_client_simple(c, command, len, NULL, 0, &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "%s%s: %s",
				    vfiosim_vu_command_name(command), what,
				    why);
	memcpy(arg, payload, (size_t)n < argsz ? (size_t)n : argsz);
	return 0;
}

static int vu_get_device_info_locked(struct vfiosim_dev *dev,
				     struct vfio_device_info *info)
{
	return vu_info_op(dev, VFIOSIM_USER_DEVICE_GET_INFO, info,
			  sizeof(*info), info->argsz, "");
}

static int vu_get_region_info_locked(struct vfiosim_dev *dev,
				     struct vfio_region_info *info)
{
	char why[VU_WHY_LEN];
	int ret;

	ret = vu_region_info(vc(dev), info, why);
	if (ret)
		return vfiosim_fail(dev, -ret,
				    "DEVICE_GET_REGION_INFO region %u (%s): %s",
				    info->index,
				    vfiosim_region_name(info->index), why);
	return 0;
}

static int vu_get_irq_info_locked(struct vfiosim_dev *dev,
				  struct vfio_irq_info *info)
{
	char what[32];

	snprintf(what, sizeof(what), " irq index %u", info->index);
	return vu_info_op(dev, VFIOSIM_USER_DEVICE_GET_IRQ_INFO, info,
			  sizeof(*info), info->argsz, what);
}

static int vu_device_feature_locked(struct vfiosim_dev *dev,
				    struct vfio_device_feature *feature)
{
	size_t len = feature->argsz;
	char what[32];

	/* The header is always there to read; the peer judges argsz. */
	if (len < sizeof(*feature))
		len = sizeof(*feature);
	snprintf(what, sizeof(what), " flags 0x%x", feature->flags);
	return vu_info_op(dev, VFIOSIM_USER_DEVICE_FEATURE, feature, len,
			  feature->argsz, what);
}

/*
 * DEVICE_SET_IRQS with eventfds in several messages, as QEMU's vfio-user
 * client sends them: no message carries more fds than the peer takes
 * (max_fds), and each says where its vectors start.  With split (a
 * transport that carries open files only, SCM_RIGHTS) the vectors also go
 * in runs: a run of eventfds travels as fds, a run of -1 (de-assign) as a
 * message with count vectors and no fds at all.  Without split, -1 travels
 * as a number like the fds.  Messages before a failing one are done (a
 * request that is refused as a whole on VFIO, say vectors past the end,
 * may have set the vectors of its first chunks here).
 */
static int vu_set_irqs_runs(struct vu_client *c, struct vfio_irq_set *set,
			    size_t nfds, uint32_t max_fds, bool split,
			    char *why)
{
	const unsigned char *data = (const unsigned char *)set + sizeof(*set);
	struct vfio_irq_set msg = *set;
	int fds[VU_MAX_FDS];
	const void *payload;
	size_t i = 0, run;
	ssize_t n;

	msg.argsz = sizeof(msg);
	do {
		bool valid = false;

		for (run = 0; i + run < nfds && run < max_fds; run++) {
			int32_t fd;

			memcpy(&fd, data + (i + run) * sizeof(fd), sizeof(fd));
			if (!run)
				valid = fd >= 0;
			else if (split && (fd >= 0) != valid)
				break;
			fds[run] = fd;
		}
		msg.start = set->start + (uint32_t)i;
		msg.count = (uint32_t)run;
		memcpy(vu_payload(c), &msg, sizeof(msg));
		n = vu_client_simple(c, VFIOSIM_USER_DEVICE_SET_IRQS,
				     sizeof(msg), fds,
				     split && !valid ? 0 : run, &payload, NULL,
				     why);
		if (n < 0)
			return (int)n;
		i += run;
	} while (i < nfds);
	return 0;
}

static int vu_set_irqs_locked(struct vfiosim_dev *dev,
			      struct vfio_irq_set *set)
{
	struct vu_client *c = vc(dev);
	const unsigned char *data = (const unsigned char *)set + sizeof(*set);
	char why[VU_WHY_LEN];
	const void *payload;
	size_t data_len, nfds;
	uint32_t max_fds;
	bool eventfds;
	ssize_t n;
	int ret;

	/* What the peer takes per message (at least 1). */
	max_fds = c->max_fds < VU_MAX_FDS ? c->max_fds : VU_MAX_FDS;
	if (!max_fds)
		max_fds = 1;
	eventfds = (set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) ==
		   VFIO_IRQ_SET_DATA_EVENTFD;
	ret = vfiosim_vu_set_irqs_layout(set, &data_len, &nfds, why,
					 sizeof(why));
	if (!ret && data_len > c->payload_max - sizeof(*set))
		ret = vfiosim_fail_buf(why, sizeof(why), EINVAL,
				       "argsz %u does not fit one vfio-user message (%zu bytes)",
				       set->argsz, c->payload_max);
	/* No device has more vectors: refused whole, not after a chunk. */
	if (!ret && nfds > VFIOSIM_MAX_VECTORS)
		ret = vfiosim_fail_buf(why, sizeof(why), EINVAL,
				       "%zu eventfds, more than any device has vectors (%u)",
				       nfds, VFIOSIM_MAX_VECTORS);
	if (!ret && eventfds && (c->split_irq_runs || nfds > max_fds)) {
		ret = vu_set_irqs_runs(c, set, nfds, max_fds,
				       c->split_irq_runs, why);
	} else if (!ret) {
		/* Eventfds all in one message, -1 included (no runs). */
		memcpy(vu_payload(c), set, sizeof(*set));
		memcpy((unsigned char *)vu_payload(c) + sizeof(*set), data,
		       data_len);
		n = vu_client_simple(c, VFIOSIM_USER_DEVICE_SET_IRQS,
				     sizeof(*set) + data_len,
				     nfds ? data : NULL, nfds, &payload, NULL,
				     why);
		ret = n < 0 ? (int)n : 0;
	}
	if (ret)
		return vfiosim_fail(dev, -ret,
				    "DEVICE_SET_IRQS irq index %u start %u count %u flags 0x%x: %s",
				    set->index, set->start, set->count,
				    set->flags, why);
	return 0;
}

static int vu_reset_locked(struct vfiosim_dev *dev)
{
	char why[VU_WHY_LEN];
	const void *payload;
	ssize_t n;

	n = vu_client_simple(vc(dev), VFIOSIM_USER_DEVICE_RESET, 0, NULL, 0,
			     &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "DEVICE_RESET: %s", why);
	return 0;
}

/* ---- regions ------------------------------------------------------- */

/* As the vfio backend words it, plus the transport's reason if any. */
static int vu_region_fail(struct vfiosim_dev *dev, const char *what,
			  uint32_t index, uint64_t offset, size_t count,
			  int err, const char *why)
{
	struct vu_client *c = vc(dev);
	char msg[VFIOSIM_ERR_LEN];

	if (index >= c->num_regions)
		return vfiosim_fail(dev, err,
				    "%s region %u: no such region (device has %u): %s",
				    what, index, c->num_regions, why);
	if (strcmp(why, strerror(err)))
		return vfiosim_fail(dev, err,
				    "%s region %u (%s) offset 0x%llx+%zu: %s",
				    what, index, vfiosim_region_name(index),
				    (unsigned long long)offset, count, why);
	vfiosim_format_region_err(msg, sizeof(msg), what, index, offset,
				  count, c->regions[index].size, err);
	return vfiosim_fail(dev, err, "%s", msg);
}

/* One REGION_READ/WRITE message: bytes done or -errno with why. */
static ssize_t vu_region_one(struct vu_client *c, bool write, uint32_t index,
			     uint64_t offset, void *buf, uint32_t count,
			     char *why)
{
	uint16_t id = ++c->msg_id;
	const void *payload;
	size_t len;
	ssize_t n;

	len = vfiosim_vu_region_request(c->msg, id, write, index, offset,
					buf, count);
	n = c->call(c, write ? VFIOSIM_USER_REGION_WRITE :
		    VFIOSIM_USER_REGION_READ, id, len, NULL, 0, &payload, NULL,
		    why);
	if (n < 0)
		return n;
	return vfiosim_vu_region_reply(payload, (size_t)n, write, index,
				       offset, buf, count, why, VU_WHY_LEN);
}

static ssize_t vu_region_rw(struct vfiosim_dev *dev, bool write,
			    uint32_t index, uint64_t offset, void *buf,
			    size_t count)
{
	const char *what = write ? "write" : "read";
	struct vu_client *c = vc(dev);
	char why[VU_WHY_LEN];
	size_t done = 0;
	uint64_t size;
	ssize_t n;

	if (!count)
		return 0;
	if (count <= c->max_xfer) {
		n = vu_region_one(c, write, index, offset, buf,
				  (uint32_t)count, why);
		if (n < 0)
			return vu_region_fail(dev, what, index, offset, count,
					      (int)-n, why);
		return n;
	}
	/* Split: refuse what does not fit before touching anything. */
	size = index < c->num_regions ? c->regions[index].size : 0;
	if (count > size || offset > size - count)
		return vu_region_fail(dev, what, index, offset, count, EINVAL,
				      strerror(EINVAL));
	while (done < count) {
		size_t len = count - done;

		if (len > c->max_xfer)
			len = c->max_xfer;
		n = vu_region_one(c, write, index, offset + done,
				  (unsigned char *)buf + done, (uint32_t)len,
				  why);
		if (n < 0) {
			if (done)
				break;
			return vu_region_fail(dev, what, index, offset, count,
					      (int)-n, why);
		}
		done += (size_t)n;
		if ((size_t)n < len)
			break;
	}
	return (ssize_t)done;
}

static ssize_t vu_region_read_locked(struct vfiosim_dev *dev, uint32_t index,
				     uint64_t offset, void *buf, size_t count)
{
	return vu_region_rw(dev, false, index, offset, buf, count);
}

static ssize_t vu_region_write_locked(struct vfiosim_dev *dev,
				      uint32_t index, uint64_t offset,
				      const void *buf, size_t count)
{
	/* A write only reads buf: vu_region_one copies it into the request. */
	return vu_region_rw(dev, true, index, offset, (void *)buf, count);
}

static uint64_t vu_region_size(struct vfiosim_dev *dev, uint32_t index)
{
	const struct vu_client *c = vc(dev);

	return index < c->num_regions ? c->regions[index].size : 0;
}

/*
 * REGION_WRITEs with NO_REPLY, max_xfer bytes each, after the whole range
 * is checked against the cached region size: the peer sends nothing back,
 * not even an error, so what it would refuse is refused here.
 */
static int vu_region_write_posted_locked(struct vfiosim_dev *dev,
					 uint32_t index, uint64_t offset,
					 const void *buf, size_t count)
{
	struct vu_client *c = vc(dev);
	uint64_t size = vu_region_size(dev, index);
	char why[VU_WHY_LEN];
	size_t done = 0;
	int ret;

	if (count > size || offset > size - count)
		return vu_region_fail(dev, "posted write", index, offset,
				      count, EINVAL, strerror(EINVAL));
	while (done < count) {
		struct vfiosim_user_header h;
		size_t piece = count - done, len;

		if (piece > c->max_xfer)
			piece = c->max_xfer;
		len = vfiosim_vu_region_request(c->msg, ++c->msg_id, true,
						index, offset + done,
						(const unsigned char *)buf + done,
						(uint32_t)piece);
		memcpy(&h, c->msg, sizeof(h));
		h.flags |= VFIOSIM_USER_F_NO_REPLY;
		memcpy(c->msg, &h, sizeof(h));
		ret = c->post(c, len, why);
		if (ret)
			return vu_region_fail(dev, "posted write", index,
					      offset, count, -ret, why);
		done += piece;
	}
	return 0;
}

static int vu_region_write_multi_locked(struct vfiosim_dev *dev,
					const struct vfiosim_write_op *ops,
					size_t n)
{
	struct vu_client *c = vc(dev);
	char why[VU_WHY_LEN];
	const void *payload;
	size_t i, chunk, len;
	uint16_t id;
	ssize_t ret;

	if (!c->write_multiple) {
		/* The peer did not offer it: one REGION_WRITE each. */
		ret = vfiosim_write_ops_check(dev, ops, n, vu_region_size);
		if (ret)
			return (int)ret;
		for (i = 0; i < n; i++) {
			uint64_t le = htole64(ops[i].data);

			ret = vu_region_one(c, true, ops[i].region,
					    ops[i].offset, &le, ops[i].count,
					    why);
			if (ret >= 0 && ret != ops[i].count)
				ret = vfiosim_fail_buf(why, sizeof(why), EIO,
						       "short write (%zd of %u bytes)",
						       ret, ops[i].count);
			if (ret < 0)
				return vfiosim_fail(dev, (int)-ret,
						    "region_write_multi write %zu of %zu (REGION_WRITE region %u offset 0x%llx+%u): %s",
						    i, n, ops[i].region,
						    (unsigned long long)ops[i].offset,
						    ops[i].count, why);
		}
		return 0;
	}
	for (i = 0; i < n; i += chunk) {
		chunk = n - i;
		if (chunk > VFIOSIM_USER_WRITE_MULTI_MAX)
			chunk = VFIOSIM_USER_WRITE_MULTI_MAX;
		id = ++c->msg_id;
		len = vfiosim_vu_write_multi_request(c->msg, id, ops + i,
						     chunk);
		ret = c->call(c, VFIOSIM_USER_REGION_WRITE_MULTI, id, len,
			      NULL, 0, &payload, NULL, why);
		if (ret < 0)
			return vfiosim_fail(dev, (int)-ret,
					    "REGION_WRITE_MULTI writes %zu..%zu of %zu: %s",
					    i, i + chunk - 1, n, why);
	}
	return 0;
}

static int vu_region_mmap_locked(struct vfiosim_dev *dev, uint32_t index,
				 uint64_t offset, size_t len, int prot,
				 void **addr)
{
	struct vu_client *c = vc(dev);
	char why[VU_WHY_LEN];
	void *map;
	int ret;

	if (index >= c->num_regions)
		return vu_region_fail(dev, "mmap", index, offset, len, EINVAL,
				      strerror(EINVAL));
	if (c->regions[index].mmap_fd < 0) {
		struct vfio_region_info info = {
			.argsz = sizeof(info),
			.index = index,
		};

		ret = vu_region_info(c, &info, why);
		if (ret)
			return vfiosim_fail(dev, -ret,
					    "mmap region %u (%s): DEVICE_GET_REGION_INFO: %s",
					    index, vfiosim_region_name(index),
					    why);
	}
	if (c->regions[index].mmap_fd < 0)
		return vfiosim_fail(dev, EINVAL,
				    "mmap region %u (%s): not mmappable (the %s gave no mmap fd): %s",
				    index, vfiosim_region_name(index), c->peer,
				    strerror(EINVAL));
	if (offset >= VFIOSIM_REGION_OFFSET(1))
		return vfiosim_fail(dev, EINVAL,
				    "mmap region %u (%s): offset 0x%llx beyond the region window",
				    index, vfiosim_region_name(index),
				    (unsigned long long)offset);
	map = mmap(NULL, len, prot, MAP_SHARED, c->regions[index].mmap_fd,
		   (off_t)(c->regions[index].offset + offset));
	if (map == MAP_FAILED)
		return vu_region_fail(dev, "mmap", index, offset, len, errno,
				      strerror(errno));
	*addr = map;
	return 0;
}

/* ---- DMA ----------------------------------------------------------- */

static int vu_dma_map_locked(struct vfiosim_dev *dev,
			     const struct vfiosim_dma_map *map)
{
	struct vu_client *c = vc(dev);
	struct vfiosim_user_dma_map req = {
		.argsz = sizeof(req),
		.flags = map->flags,
		.offset = map->offset,
		.addr = map->iova,
		.size = map->size,
	};
	int32_t fd = map->fd;
	char why[VU_WHY_LEN];
	const void *payload;
	ssize_t n;

	memcpy(vu_payload(c), &req, sizeof(req));
	n = vu_client_simple(c, VFIOSIM_USER_DMA_MAP, sizeof(req),
			     fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &payload,
			     NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n,
				    "DMA_MAP iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)map->iova,
				    (unsigned long long)map->size, why);
	return 0;
}

static int vu_dma_unmap_locked(struct vfiosim_dev *dev, uint64_t iova,
			       uint64_t size, uint32_t flags)
{
	struct vu_client *c = vc(dev);
	struct vfiosim_user_dma_unmap req = {
		.argsz = sizeof(req),
		.flags = flags,
		.addr = iova,
		.size = size,
	};
	char why[VU_WHY_LEN];
	const void *payload;
	ssize_t n;

	memcpy(vu_payload(c), &req, sizeof(req));
	n = vu_client_simple(c, VFIOSIM_USER_DMA_UNMAP, sizeof(req), NULL, 0,
			     &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n,
				    "DMA_UNMAP iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)iova,
				    (unsigned long long)size, why);
	return 0;
}

/* ---- migration ------------------------------------------------------ */

/* DEVICE_FEATURE SET MIG_DEVICE_STATE; data_fd -1, data goes in messages. */
static int vu_mig_set_state_locked(struct vfiosim_dev *dev, uint32_t state)
{
	struct vfiosim_mig_state_set f;
	char why[VU_WHY_LEN];
	const void *payload;
	ssize_t n;

	vfiosim_mig_state_set_init(&f, state);
	memcpy(vu_payload(vc(dev)), &f, sizeof(f));
	n = vu_client_simple(vc(dev), VFIOSIM_USER_DEVICE_FEATURE, sizeof(f),
			     NULL, 0, &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n,
				    "DEVICE_FEATURE MIG_DEVICE_STATE to %u: %s",
				    state, why);
	return 0;
}

/* Data bytes one MIG_DATA_READ/WRITE moves: as a region access. */
static size_t vu_mig_chunk(const struct vu_client *c)
{
	size_t max = c->payload_max - sizeof(struct vfiosim_user_mig_data);

	return c->max_xfer < max ? c->max_xfer : max;
}

static ssize_t vu_mig_read_locked(struct vfiosim_dev *dev, void *buf,
				  size_t len)
{
	struct vu_client *c = vc(dev);
	struct vfiosim_user_mig_data req, got;
	char why[VU_WHY_LEN];
	const void *payload;
	size_t done = 0;
	ssize_t n;

	do {
		size_t want = len - done < vu_mig_chunk(c) ?
			      len - done : vu_mig_chunk(c);

		req.size = (uint32_t)want;
		req.argsz = (uint32_t)(sizeof(req) + want);
		memcpy(vu_payload(c), &req, sizeof(req));
		n = vu_client_simple(c, VFIOSIM_USER_MIG_DATA_READ, sizeof(req),
				     NULL, 0, &payload, NULL, why);
		if (n < 0) {
			if (done)	/* what came before is the answer */
				break;
			return vfiosim_fail(dev, (int)-n,
					    "MIG_DATA_READ of %zu bytes: %s",
					    want, why);
		}
		if ((size_t)n < sizeof(got))
			return vfiosim_fail(dev, EPROTO,
					    "MIG_DATA_READ: malformed reply: %zd bytes",
					    n);
		memcpy(&got, payload, sizeof(got));
		if (got.size > want || (size_t)n != sizeof(got) + got.size)
			return vfiosim_fail(dev, EPROTO,
					    "MIG_DATA_READ: malformed reply: size %u for %zu asked, %zd bytes",
					    got.size, want, n);
		memcpy((char *)buf + done,
		       (const unsigned char *)payload + sizeof(got), got.size);
		done += got.size;
		if (got.size < want)
			break;
	} while (done < len);
	return (ssize_t)done;
}

static ssize_t vu_mig_write_locked(struct vfiosim_dev *dev, const void *buf,
				   size_t len)
{
	struct vu_client *c = vc(dev);
	struct vfiosim_user_mig_data req;
	char why[VU_WHY_LEN];
	const void *payload;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		size_t want = len - done < vu_mig_chunk(c) ?
			      len - done : vu_mig_chunk(c);

		req.size = (uint32_t)want;
		req.argsz = sizeof(req);
		memcpy(vu_payload(c), &req, sizeof(req));
		memcpy((unsigned char *)vu_payload(c) + sizeof(req),
		       (const char *)buf + done, want);
		n = vu_client_simple(c, VFIOSIM_USER_MIG_DATA_WRITE,
				     sizeof(req) + want, NULL, 0, &payload,
				     NULL, why);
		if (n < 0)
			return vfiosim_fail(dev, (int)-n,
					    "MIG_DATA_WRITE of %zu bytes at %zu: %s",
					    want, done, why);
		done += want;
	}
	return (ssize_t)done;
}

/* Every op takes the client's lock for its whole round trip. */
#define VU_LOCKED(ret_t, name, params, args)				\
ret_t vu_client_##name params						\
{									\
	struct vu_client *c = vc(dev);					\
	ret_t ret;							\
									\
	pthread_mutex_lock(&c->lock);					\
	ret = vu_##name##_locked args;					\
	pthread_mutex_unlock(&c->lock);					\
	return ret;							\
}

VU_LOCKED(int, get_device_info,
	  (struct vfiosim_dev *dev, struct vfio_device_info *info),
	  (dev, info))
VU_LOCKED(int, get_region_info,
	  (struct vfiosim_dev *dev, struct vfio_region_info *info),
	  (dev, info))
VU_LOCKED(int, get_irq_info,
	  (struct vfiosim_dev *dev, struct vfio_irq_info *info),
	  (dev, info))
VU_LOCKED(int, device_feature,
	  (struct vfiosim_dev *dev, struct vfio_device_feature *feature),
	  (dev, feature))
VU_LOCKED(int, set_irqs,
	  (struct vfiosim_dev *dev, struct vfio_irq_set *set),
	  (dev, set))
VU_LOCKED(int, reset, (struct vfiosim_dev *dev), (dev))
VU_LOCKED(ssize_t, region_read,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   void *buf, size_t count),
	  (dev, index, offset, buf, count))
VU_LOCKED(ssize_t, region_write,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   const void *buf, size_t count),
	  (dev, index, offset, buf, count))
VU_LOCKED(int, region_write_posted,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   const void *buf, size_t count),
	  (dev, index, offset, buf, count))
VU_LOCKED(int, region_write_multi,
	  (struct vfiosim_dev *dev, const struct vfiosim_write_op *ops,
	   size_t n),
	  (dev, ops, n))
VU_LOCKED(int, region_mmap,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   size_t len, int prot, void **addr),
	  (dev, index, offset, len, prot, addr))
VU_LOCKED(int, dma_map,
	  (struct vfiosim_dev *dev, const struct vfiosim_dma_map *map),
	  (dev, map))
VU_LOCKED(int, mig_set_state, (struct vfiosim_dev *dev, uint32_t state),
	  (dev, state))
VU_LOCKED(ssize_t, mig_read,
	  (struct vfiosim_dev *dev, void *buf, size_t len), (dev, buf, len))
VU_LOCKED(ssize_t, mig_write,
	  (struct vfiosim_dev *dev, const void *buf, size_t len),
	  (dev, buf, len))
VU_LOCKED(int, dma_unmap,
	  (struct vfiosim_dev *dev, uint64_t iova, uint64_t size,
	   uint32_t flags),
	  (dev, iova, size, flags))
