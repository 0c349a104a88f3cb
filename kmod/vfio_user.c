// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the vfio-user protocol of the netlink transport.
 *
 * One vfio-user command (already taken out of its netlink message by
 * genl.c, with the device it addresses) is checked and served here, and
 * its reply payload built.  Device behaviour is core.c's.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>

#include "compat.h"
#include "netlink.h"

/*
 * The DMA engine stops using the map (taken out of its view, and a
 * transfer touching it fenced) before its file goes.
 */
void vfiosim_dma_map_free(struct vfiosim_session *session,
			  struct vfiosim_dma_map *map)
{
	vfiosim_dma_maps_lock(session->sdev);
	list_del(&map->node);
	vfiosim_dma_maps_unlock(session->sdev);
	vfiosim_dma_fence(session->sdev, map->iova, map->size);
	if (map->file)
		fput(map->file);
	kfree(map);
	session->nr_dma_maps--;
}

/* ---- vfio-user commands ---------------------------------------------- */

/* Room for @len reply bytes, or NULL if the reply buffer is too small. */
static void *vu_reply(struct vfiosim_vu_req *req, u32 len)
{
	if (len > req->reply_cap)
		return NULL;
	req->reply_len = len;
	return req->reply;
}

/* A fixed-layout request begins with an argsz the reply must respect. */
static int vu_argsz(struct vfiosim_vu_req *req, u32 min_payload, u32 minsz,
		    u32 *argsz)
{
	if (req->len < min_payload)
		return -EINVAL;
	*argsz = *(const u32 *)req->payload;
	return *argsz < minsz ? -EINVAL : 0;
}

static int vu_version(struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_version *in = req->payload;
	struct vfiosim_user_version *out;
	char caps[192];
	int len;

	if (req->len < sizeof(*in))
		return -EINVAL;
	/* optional JSON, but if present it must be NUL-terminated */
	if (req->len > sizeof(*in) &&
	    !memchr(in->data, '\0', req->len - sizeof(*in)))
		return -EINVAL;
	if (in->major != VFIOSIM_USER_VERSION_MAJOR)
		return -EOPNOTSUPP;

	len = snprintf(caps, sizeof(caps),
		       "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u,\"max_dma_maps\":%u,\"pgsizes\":%u,\"write_multiple\":true}}",
		       VFIOSIM_USER_MAX_MSG_FDS, VFIOSIM_USER_MAX_DATA_XFER,
		       VFIOSIM_USER_MAX_DMA_MAPS, (u32)PAGE_SIZE);
	out = vu_reply(req, sizeof(*out) + len + 1);
	if (!out)
		return -ENOMEM;
	out->major = VFIOSIM_USER_VERSION_MAJOR;
	out->minor = min_t(u16, in->minor, VFIOSIM_USER_VERSION_MINOR);
	memcpy(out->data, caps, len + 1);
	return 0;
}

static int vu_device_info(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info *info;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, sizeof(u32), minsz, &argsz);
	if (ret)
		return ret;
	info = vu_reply(req, minsz);
	if (!info)
		return -ENOMEM;
	info->argsz = minsz;
	vfiosim_get_device_info(req->sdev, info);
	return 0;
}

static int vu_region_info(struct vfiosim_vu_req *req)
{
	u32 minsz = sizeof(struct vfio_region_info);
	struct vfio_info_cap caps = {};
	struct vfio_region_info info = {};
	void *out;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, offsetofend(struct vfio_region_info, index), minsz,
		       &argsz);
	if (ret)
		return ret;
	info.index = ((const struct vfio_region_info *)req->payload)->index;
	info.argsz = argsz;
	/*
	 * FLAG_CAPS only with the chain in the reply: a client (QEMU) that
	 * asked with a small argsz sees argsz grow, and asks again.
	 */
	ret = vfiosim_region_info_chain(req->sdev, &info, &caps, false);
	if (ret)
		goto out;
	/* argsz: what the whole answer needs, no more than the reply holds */
	if (info.argsz <= argsz)
		info.argsz = minsz + caps.size;
	out = vu_reply(req, minsz + caps.size);
	if (!out) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(out, &info, minsz);
	if (caps.size)
		memcpy(out + minsz, caps.buf, caps.size);

	/*
	 * An mmappable region comes with an fd the caller can map, valid
	 * for this session only (mmap.c).
	 */
	if ((info.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
	    !(req->hdr->flags & VFIOSIM_USER_F_NO_REPLY)) {
		struct file *file = vfiosim_region_file(req->sdev);

		if (IS_ERR(file)) {
			ret = PTR_ERR(file);
			goto out;
		}
		req->out_file = file;
	}
out:
	kfree(caps.buf);
	return ret;
}

static int vu_irq_info(struct vfiosim_vu_req *req)
{
	u32 minsz = sizeof(struct vfio_irq_info);
	struct vfio_irq_info *info;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, offsetofend(struct vfio_irq_info, index), minsz,
		       &argsz);
	if (ret)
		return ret;
	info = vu_reply(req, minsz);
	if (!info)
		return -ENOMEM;
	info->index = ((const struct vfio_irq_info *)req->payload)->index;
	info->argsz = minsz;
	return vfiosim_get_irq_info(req->sdev, info);
}

/*
 * The eventfds of DATA_EVENTFD travel in VFIOSIM_ATTR_FDS, not in the
 * payload: exactly count of them, or none to de-assign the range.
 */
static int vu_set_irqs(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_irq_set, count);
	s32 none[VFIOSIM_MAX_VECTORS];
	struct vfio_irq_info irq = {};
	struct vfio_irq_set hdr;
	const void *data = NULL;
	size_t data_size;
	u32 i;
	int ret;

	if (req->len < minsz)
		return -EINVAL;
	memcpy(&hdr, req->payload, minsz);
	irq.index = hdr.index;
	if (vfiosim_get_irq_info(req->sdev, &irq))
		goto refused;

	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (req->nfds && req->nfds != hdr.count)
			goto refused;
		if (hdr.count > VFIOSIM_MAX_VECTORS)
			goto refused;
		/* the fds are in the message meta-data, not in argsz */
		hdr.argsz = minsz + hdr.count * sizeof(s32);
		if (req->nfds) {
			data = req->fds;
		} else {
			for (i = 0; i < hdr.count; i++)
				none[i] = -1;
			data = none;
		}
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		data = req->payload + minsz;
		fallthrough;
	default:
		if (req->nfds)
			goto refused;
		if (hdr.argsz > req->len)
			goto refused;
		break;
	}

	ret = vfio_set_irqs_validate_and_prepare(&hdr, irq.count,
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return vfiosim_trace_set_irqs_refused(req->sdev, &hdr, ret);
	return vfiosim_set_irqs(req->sdev, &hdr, data);

refused:
	return vfiosim_trace_set_irqs_refused(req->sdev, &hdr, -EINVAL);
}

/*
 * Payloads sit at 4-byte alignment in the attribute, so fixed headers with
 * u64 fields are copied out before use.
 */
static int vu_region_read(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_region_access in, *out;

	if (req->len != sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.count > VFIOSIM_USER_MAX_DATA_XFER)
		return -EINVAL;
	out = vu_reply(req, sizeof(*out) + in.count);
	if (!out)
		return -ENOMEM;
	*out = in;
	return vfiosim_region_rw(req->sdev, in.region, in.offset, out->data,
				 in.count, false);
}

static int vu_region_write(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_region_access in, *out;
	int ret;

	if (req->len < sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.count > VFIOSIM_USER_MAX_DATA_XFER ||
	    req->len != sizeof(in) + in.count)
		return -EINVAL;
	ret = vfiosim_region_rw(req->sdev, in.region, in.offset,
				(void *)req->payload + sizeof(in), in.count,
				true);
	if (ret)
		return ret;
	out = vu_reply(req, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*out = in;
	return 0;
}

static int vu_region_write_multi(struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_write_multi_entry *wrs;
	struct vfiosim_user_write_multi_entry wr;
	u64 wr_cnt, i, *out;
	int ret;

	if (req->len < sizeof(wr_cnt))
		return -EINVAL;
	memcpy(&wr_cnt, req->payload, sizeof(wr_cnt));
	if (!wr_cnt || wr_cnt > VFIOSIM_USER_WRITE_MULTI_MAX ||
	    req->len != sizeof(wr_cnt) + wr_cnt * sizeof(wr))
		return -EINVAL;
	wrs = req->payload + sizeof(wr_cnt);
	/*
	 * The whole batch is checked before any of it is applied: an entry
	 * with a bad region, offset or count fails the message with nothing
	 * written.
	 */
	for (i = 0; i < wr_cnt; i++) {
		memcpy(&wr, &wrs[i], sizeof(wr));
		if (!wr.count || wr.count > sizeof(wr.data) ||
		    vfiosim_region_check(req->sdev, wr.region, wr.offset,
					 wr.count))
			return -EINVAL;
	}
	for (i = 0; i < wr_cnt; i++) {
		memcpy(&wr, &wrs[i], sizeof(wr));
		ret = vfiosim_region_rw(req->sdev, wr.region, wr.offset,
					wr.data, wr.count, true);
		if (ret)
			return ret;
	}
	out = vu_reply(req, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*out = wr_cnt;
	return 0;
}

static int vu_reset(struct vfiosim_vu_req *req)
{
	if (req->len)
		return -EINVAL;
	return vfiosim_user_reset(req->sdev);
}

/*
 * A GET's reply: the request's header, argsz grown by @len as the spec
 * says, and then @len data bytes, returned for the caller to fill.
 * (PROBE and SET echo the request: vu_feature_echo().)
 */
static void *vu_feature_reply(struct vfiosim_vu_req *req, u32 len)
{
	u32 minsz = offsetofend(struct vfio_device_feature, flags);
	struct vfio_device_feature *out;

	out = vu_reply(req, minsz + len);
	if (!out)
		return NULL;
	memcpy(out, req->payload, minsz);
	out->argsz = minsz + len;
	return out->data;
}

/* ---- DMA dirty logging (DEVICE_FEATURE DMA_LOGGING_*) ------------------ */

#define VU_FEATURE_HDR	offsetofend(struct vfio_device_feature, flags)
/* START's data before the ranges: page_size, num_ranges, reserved */
#define VU_LOG_CONTROL	16
/* REPORT's data before the bitmap: iova, length, page_size */
#define VU_LOG_REPORT	24

/*
 * As the VFIO core's vfio_check_feature(): 1 to go on, 0 for a PROBE that
 * succeeds, or -errno.
 */
static int vu_check_feature(u32 flags, u32 datasz, u32 supported, u32 minsz)
{
	if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) &
	    ~supported)
		return -EINVAL;
	if (flags & VFIO_DEVICE_FEATURE_PROBE)
		return 0;
	if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)))
		return -EINVAL;
	if (datasz < minsz)
		return -EINVAL;
	return 1;
}

/* SET and PROBE answer with the request itself. */
static int vu_feature_echo(struct vfiosim_vu_req *req)
{
	void *out = vu_reply(req, req->len);

	if (!out)
		return -ENOMEM;
	memcpy(out, req->payload, req->len);
	return 0;
}

/* VFIO_DEVICE_FEATURE_MIGRATION: GET only, u64 flags. */
static int vu_feature_migration(struct vfiosim_vu_req *req, u32 flags,
				u32 argsz)
{
	struct vfio_device_feature_migration *mig;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(*mig));
	if (ret != 1)
		return ret ?: vu_feature_echo(req);
	mig = vu_feature_reply(req, sizeof(*mig));
	if (!mig)
		return -ENOMEM;
	mig->flags = req->sdev->vdev.migration_flags;
	return 0;
}

/*
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: GET and SET, as the VFIO core's
 * ioctl with the same FSM (migration.c); data_fd is -1, the data moves
 * in MIG_DATA_READ/WRITE.
 */
static int vu_feature_mig_state(struct vfiosim_vu_req *req, u32 flags,
				u32 argsz)
{
	u32 minsz = offsetofend(struct vfio_device_feature, flags);
	struct vfio_device_feature_mig_state in, *out;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET |
				 VFIO_DEVICE_FEATURE_SET, sizeof(in));
	if (ret != 1)
		return ret ?: vu_feature_echo(req);
	if (flags & VFIO_DEVICE_FEATURE_GET) {
		out = vu_feature_reply(req, sizeof(*out));
		if (!out)
			return -ENOMEM;
		out->device_state = vfiosim_mig_get_state(req->sdev);
		out->data_fd = -1;
		return 0;
	}
	if (req->len < minsz + sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload + minsz, sizeof(in));
	ret = vfiosim_mig_set_state(req->sdev, in.device_state);
	if (ret)
		return ret;
	return vu_feature_echo(req);
}

/*
 * START with the ranges inline (the spec's layout), checked as the VFIO
 * core checks them: none is EINVAL (the spec's "log everything" is not
 * offered), over 256 E2BIG, unaligned to page_size EINVAL, past the
 * address space EOVERFLOW, overlapping EINVAL.
 */
static int vu_dma_log_start(struct vfiosim_vu_req *req, const u8 *data,
			    u32 datasz)
{
	struct vfio_device_feature_dma_logging_range *r;
	u64 page_size, end;
	u32 nr, i, j;
	int ret;

	memcpy(&page_size, data, sizeof(page_size));
	memcpy(&nr, data + 8, sizeof(nr));
	if (!nr)
		return -EINVAL;
	if (nr > PAGE_SIZE / sizeof(*r))
		return -E2BIG;
	if (datasz < VU_LOG_CONTROL + nr * sizeof(*r))
		return -EINVAL;
	r = kmemdup(data + VU_LOG_CONTROL, nr * sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	ret = -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!page_size || !IS_ALIGNED(r[i].iova, page_size) ||
		    !IS_ALIGNED(r[i].length, page_size))
			goto out;
		if (check_add_overflow(r[i].iova, r[i].length, &end) ||
		    end > ULONG_MAX) {
			ret = -EOVERFLOW;
			goto out;
		}
		for (j = 0; j < i; j++)
			if (r[i].iova < r[j].iova + r[j].length &&
			    r[j].iova < r[i].iova + r[i].length)
				goto out;
	}
	ret = vfiosim_dma_log_start(req->sdev, r, nr, page_size);
	if (!ret)
		ret = vu_feature_echo(req);
out:
	kfree(r);
	return ret;
}

struct vu_log_bitmap {
	u8 *bits;		/* little endian u64s, as VFIO's */
	u64 iova;
	u64 page_size;
	u64 nbits;
};

/* A dirty log page [iova, iova + len): every report page it touches. */
static void vu_log_set(void *opaque, u64 iova, u64 len)
{
	struct vu_log_bitmap *b = opaque;
	u64 first, last, bit;

	if (iova + len <= b->iova)
		return;
	first = iova > b->iova ? (iova - b->iova) / b->page_size : 0;
	last = (iova + len - 1 - b->iova) / b->page_size;
	for (bit = first; bit <= last && bit < b->nbits; bit++)
		b->bits[bit / 8] |= 1 << (bit % 8);
}

/* REPORT: the bitmap comes inline after the request's data. */
static int vu_dma_log_report(struct vfiosim_vu_req *req, const u8 *data,
			     u32 argsz)
{
	struct vu_log_bitmap b;
	u64 length, end, bytes;
	u8 *out;
	int ret;

	memcpy(&b.iova, data, sizeof(b.iova));
	memcpy(&length, data + 8, sizeof(length));
	memcpy(&b.page_size, data + 16, sizeof(b.page_size));
	if (b.page_size < SZ_4K || !is_power_of_2(b.page_size))
		return -EINVAL;
	if (check_add_overflow(b.iova, length, &end) || end > ULONG_MAX)
		return -EOVERFLOW;
	b.nbits = DIV_ROUND_UP(length, b.page_size);
	bytes = DIV_ROUND_UP(b.nbits, 64) * sizeof(u64);
	if (bytes > VFIOSIM_USER_MAX_DATA_XFER)
		return -E2BIG;
	if (argsz < VU_FEATURE_HDR + VU_LOG_REPORT + bytes)
		return -EINVAL;
	out = vu_reply(req, VU_FEATURE_HDR + VU_LOG_REPORT + bytes);
	if (!out)
		return -ENOMEM;
	memcpy(out, req->payload, VU_FEATURE_HDR + VU_LOG_REPORT);
	*(u32 *)out = VU_FEATURE_HDR + VU_LOG_REPORT + bytes;	/* argsz */
	b.bits = out + VU_FEATURE_HDR + VU_LOG_REPORT;
	memset(b.bits, 0, bytes);
	ret = vfiosim_dma_log_report(req->sdev, b.iova, length, vu_log_set,
				     &b);
	if (ret)
		req->reply_len = 0;
	return ret;
}

/* DMA_LOGGING_START/STOP/REPORT, or -ENOTTY for another feature. */
static int vu_dma_logging(struct vfiosim_vu_req *req,
			  const struct vfio_device_feature *in)
{
	const u8 *data = (const u8 *)req->payload + VU_FEATURE_HDR;
	u32 datasz = req->len - VU_FEATURE_HDR;
	int ret;

	switch (in->flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		ret = vu_check_feature(in->flags, datasz,
				       VFIO_DEVICE_FEATURE_SET, VU_LOG_CONTROL);
		if (ret != 1)
			return ret ? ret : vu_feature_echo(req);
		return vu_dma_log_start(req, data, datasz);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		ret = vu_check_feature(in->flags, datasz,
				       VFIO_DEVICE_FEATURE_SET, 0);
		if (ret == 1)
			ret = vfiosim_dma_log_stop(req->sdev);
		return ret ? ret : vu_feature_echo(req);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		ret = vu_check_feature(in->flags, datasz,
				       VFIO_DEVICE_FEATURE_GET, VU_LOG_REPORT);
		if (ret != 1)
			return ret ? ret : vu_feature_echo(req);
		return vu_dma_log_report(req, data, in->argsz);
	default:
		return -ENOTTY;
	}
}

/* What a DMA logging reply may need: REPORT's bitmap, START's ranges. */
static u32 vu_dma_logging_reply_size(const struct vfiosim_vu_req *req)
{
	const struct vfio_device_feature *in = req->payload;

	if (req->len < VU_FEATURE_HDR)
		return 0;
	switch (in->flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		return min_t(u32, req->len, VU_MAX_MSG);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return VU_FEATURE_HDR + VU_LOG_REPORT +
		       VFIOSIM_USER_MAX_DATA_XFER;
	default:
		return 0;
	}
}

/*
 * The checks the VFIO core makes before a driver sees a feature, then
 * the feature's own function.
 */
static int vu_device_feature(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_device_feature, flags);
	const struct vfio_device_feature *in = req->payload;
	u32 argsz;
	int ret;

	if (req->len < minsz || in->argsz < minsz)
		return -EINVAL;
	if (in->flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	if (!(in->flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (in->flags & VFIO_DEVICE_FEATURE_SET) &&
	    (in->flags & VFIO_DEVICE_FEATURE_GET))
		return -EINVAL;
	ret = vfiosim_fault_op(req->sdev, VFIOSIM_FAULT_FEATURE);
	if (ret)
		return ret;
	argsz = in->argsz - minsz;
	switch (in->flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		return vu_feature_migration(req, in->flags, argsz);
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return vu_feature_mig_state(req, in->flags, argsz);
	}
	ret = vu_dma_logging(req, in);
	if (ret != -ENOTTY)
		return ret;
	return vfiosim_device_feature(req->sdev, in->flags);
}

/* MIG_DATA_READ: up to size bytes of the saving stream. */
static int vu_mig_data_read(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_mig_data in, *out;
	ssize_t n;

	if (req->len != sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.size > VFIOSIM_USER_MAX_DATA_XFER ||
	    in.argsz < sizeof(in) + in.size)
		return -EINVAL;
	out = vu_reply(req, sizeof(*out) + in.size);
	if (!out)
		return -ENOMEM;
	n = vfiosim_mig_data_read(req->sdev, out->data, in.size);
	if (n < 0)
		return n;
	out->argsz = sizeof(*out) + n;
	out->size = n;
	req->reply_len = sizeof(*out) + n;
	return 0;
}

/* MIG_DATA_WRITE: size bytes more of the resuming stream. */
static int vu_mig_data_write(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_mig_data in;
	ssize_t n;

	if (req->len < sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.size > VFIOSIM_USER_MAX_DATA_XFER ||
	    req->len != sizeof(in) + in.size)
		return -EINVAL;
	n = vfiosim_mig_data_write(req->sdev, req->payload + sizeof(in),
				   in.size);
	if (n < 0)
		return n;
	return n == in.size ? 0 : -EIO;
}

static bool vfiosim_dma_overlaps(struct vfiosim_session *session, u64 iova,
				 u64 size)
{
	struct vfiosim_dma_map *map;

	list_for_each_entry(map, &session->dma_maps, node)
		if (iova < map->iova + map->size && map->iova < iova + size)
			return true;
	return false;
}

/* memfd, shmem (tmpfs) or hugetlbfs: what memfd_pin_folios() takes. */
static bool vfiosim_dma_file_ok(struct file *file)
{
	return shmem_file(file) ||
	       file_inode(file)->i_sb->s_magic == HUGETLBFS_MAGIC;
}

static int vu_dma_map(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_dma_map req_map, *in = &req_map;
	struct vfiosim_session *session = req->sdev->session;
	u32 rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	struct vfiosim_dma_map *map;
	struct file *file = NULL;
	u64 end;

	if (req->len != sizeof(*in))
		return -EINVAL;
	memcpy(in, req->payload, sizeof(*in));
	if (in->argsz < sizeof(*in) ||
	    (in->flags & ~rw) || req->nfds > 1)
		return -EINVAL;
	if (!in->size || !PAGE_ALIGNED(in->addr) || !PAGE_ALIGNED(in->size) ||
	    !PAGE_ALIGNED(in->offset) ||
	    check_add_overflow(in->addr, in->size, &end) ||
	    check_add_overflow(in->offset, in->size, &end))
		return -EINVAL;
	if (session->nr_dma_maps >= VFIOSIM_USER_MAX_DMA_MAPS)
		return -ENOSPC;
	if (vfiosim_dma_overlaps(session, in->addr, in->size))
		return -EEXIST;

	if (req->nfds) {
		file = fget(req->fds[0]);
		if (!file)
			return -EBADF;
		/*
		 * Memory files only, as iommufd maps files: anything else
		 * (this socket, a VFIO device, a pipe) would be pinned by a
		 * session it may itself keep alive.
		 */
		if (!vfiosim_dma_file_ok(file)) {
			fput(file);
			return -EBADFD;
		}
		/* The device reads what READ maps and writes what WRITE maps. */
		if (((in->flags & VFIO_DMA_MAP_FLAG_READ) &&
		     !(file->f_mode & FMODE_READ)) ||
		    ((in->flags & VFIO_DMA_MAP_FLAG_WRITE) &&
		     !(file->f_mode & FMODE_WRITE))) {
			fput(file);
			return -EACCES;
		}
	}

	map = kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map) {
		if (file)
			fput(file);
		return -ENOMEM;
	}
	map->iova = in->addr;
	map->size = in->size;
	map->offset = in->offset;
	map->flags = in->flags;
	map->file = file;
	vfiosim_dma_maps_lock(req->sdev);
	list_add_tail(&map->node, &session->dma_maps);
	vfiosim_dma_maps_unlock(req->sdev);
	session->nr_dma_maps++;
	return 0;
}

static int vu_dma_unmap(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_dma_unmap req_unmap, *in = &req_unmap;
	struct vfiosim_session *session = req->sdev->session;
	struct vfiosim_dma_map *map, *tmp;
	void *out;
	u64 last;

	if (req->len != sizeof(*in))
		return -EINVAL;
	memcpy(in, req->payload, sizeof(*in));
	if (in->argsz < sizeof(*in) ||
	    (in->flags & ~VFIO_DMA_UNMAP_FLAG_ALL))
		return -EINVAL;

	if (in->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (in->addr || in->size)
			return -EINVAL;
		list_for_each_entry_safe(map, tmp, &session->dma_maps, node)
			vfiosim_dma_map_free(session, map);
		goto reply;
	}
	/*
	 * As the type1 IOMMU (v2) unmaps: every mapping inside the range goes,
	 * a range that splits a mapping is refused, and a range with nothing
	 * in it is no error.  QEMU unmaps whole vIOMMU windows this way, the
	 * top half ending at 2^64: hence inclusive ends.
	 */
	last = in->addr + in->size - 1;
	if (!in->size || last < in->addr)
		return -EINVAL;
	list_for_each_entry(map, &session->dma_maps, node) {
		u64 map_last = map->iova + map->size - 1;
		bool overlaps = map->iova <= last && map_last >= in->addr;
		bool inside = map->iova >= in->addr && map_last <= last;

		if (overlaps && !inside)
			return -EINVAL;
	}
	list_for_each_entry_safe(map, tmp, &session->dma_maps, node) {
		if (map->iova >= in->addr && map->iova + map->size - 1 <= last)
			vfiosim_dma_map_free(session, map);
	}
reply:
	out = vu_reply(req, sizeof(*in));
	if (!out)
		return -ENOMEM;
	memcpy(out, in, sizeof(*in));
	return 0;
}

int vfiosim_vu_dispatch(struct vfiosim_vu_req *req)
{
	/* fds belong to SET_IRQS (eventfds) and DMA_MAP (a memory file). */
	if (req->nfds && req->hdr->command != VFIOSIM_USER_DEVICE_SET_IRQS &&
	    req->hdr->command != VFIOSIM_USER_DMA_MAP)
		return -EINVAL;
	switch (req->hdr->command) {
	case VFIOSIM_USER_VERSION:
		return vu_version(req);
	case VFIOSIM_USER_DMA_MAP:
		return vu_dma_map(req);
	case VFIOSIM_USER_DMA_UNMAP:
		return vu_dma_unmap(req);
	case VFIOSIM_USER_DEVICE_GET_INFO:
		return vu_device_info(req);
	case VFIOSIM_USER_DEVICE_GET_REGION_INFO:
		return vu_region_info(req);
	case VFIOSIM_USER_DEVICE_GET_IRQ_INFO:
		return vu_irq_info(req);
	case VFIOSIM_USER_DEVICE_SET_IRQS:
		return vu_set_irqs(req);
	case VFIOSIM_USER_REGION_READ:
		return vu_region_read(req);
	case VFIOSIM_USER_REGION_WRITE:
		return vu_region_write(req);
	case VFIOSIM_USER_REGION_WRITE_MULTI:
		return vu_region_write_multi(req);
	case VFIOSIM_USER_DEVICE_RESET:
		return vu_reset(req);
	case VFIOSIM_USER_DEVICE_FEATURE:
		return vu_device_feature(req);
	case VFIOSIM_USER_MIG_DATA_READ:
		return vu_mig_data_read(req);
	case VFIOSIM_USER_MIG_DATA_WRITE:
		return vu_mig_data_write(req);
	default:
		/* IO fds, DMA_READ/WRITE upcalls: not spoken here */
		return -EOPNOTSUPP;
	}
}

/* How much reply payload a command may need. */
u32 vfiosim_vu_reply_size(const struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_region_access *rd = req->payload;
	const struct vfiosim_user_mig_data *mig = req->payload;

	switch (req->hdr->command) {
	case VFIOSIM_USER_MIG_DATA_READ:
		if (req->len < sizeof(*mig))
			return 0;
		return sizeof(*mig) + min_t(u32, mig->size,
					    VFIOSIM_USER_MAX_DATA_XFER);
	case VFIOSIM_USER_REGION_READ:
		if (req->len < sizeof(*rd))
			return 0;
		return sizeof(*rd) + min_t(u32, rd->count,
					   VFIOSIM_USER_MAX_DATA_XFER);
	case VFIOSIM_USER_DEVICE_GET_REGION_INFO:
	case VFIOSIM_USER_VERSION:
		return VU_INFO_REPLY;
	case VFIOSIM_USER_DEVICE_FEATURE:
		return vu_dma_logging_reply_size(req);
	default:
		return 0;
	}
}
