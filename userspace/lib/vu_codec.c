// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfio-user messages: building requests and checking replies.
 *
 * Pure functions over caller-provided buffers, with no I/O, so that the
 * host unit tests can feed them crafted replies (wrong msg_id, truncated,
 * error flag, oversized).  The transport (backend_netlink.c,
 * backend_unix.c) decides where the bytes live; nothing here allocates.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/vfiosim.h>

#include "vfiosim_int.h"

const char *vfiosim_vu_command_name(uint16_t command)
{
	static const char *const names[] = {
		[VFIOSIM_USER_VERSION] = "VERSION",
		[VFIOSIM_USER_DMA_MAP] = "DMA_MAP",
		[VFIOSIM_USER_DMA_UNMAP] = "DMA_UNMAP",
		[VFIOSIM_USER_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
		[VFIOSIM_USER_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
		[VFIOSIM_USER_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
		[VFIOSIM_USER_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
		[VFIOSIM_USER_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
		[VFIOSIM_USER_REGION_READ] = "REGION_READ",
		[VFIOSIM_USER_REGION_WRITE] = "REGION_WRITE",
		[VFIOSIM_USER_DMA_READ] = "DMA_READ",
		[VFIOSIM_USER_DMA_WRITE] = "DMA_WRITE",
		[VFIOSIM_USER_DEVICE_RESET] = "DEVICE_RESET",
		[VFIOSIM_USER_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
		[VFIOSIM_USER_DEVICE_FEATURE] = "DEVICE_FEATURE",
		[VFIOSIM_USER_MIG_DATA_READ] = "MIG_DATA_READ",
		[VFIOSIM_USER_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
	};

	if (command < sizeof(names) / sizeof(names[0]) && names[command])
		return names[command];
	return "UNKNOWN";
}

size_t vfiosim_vu_request_init(void *msg, uint16_t msg_id, uint16_t command,
			       const void *payload, size_t len)
{
	struct vfiosim_user_header hdr = {
		.msg_id = msg_id,
		.command = command,
		.msg_size = (uint32_t)(sizeof(hdr) + len),
		.flags = VFIOSIM_USER_F_TYPE_COMMAND,
		.error_no = 0,
	};

	memcpy(msg, &hdr, sizeof(hdr));
	if (payload && len)
		memmove((unsigned char *)msg + sizeof(hdr), payload, len);
	return sizeof(hdr) + len;
}

ssize_t vfiosim_vu_reply_check(const void *msg, size_t len, uint16_t msg_id,
			       uint16_t command, char *err, size_t errlen)
{
	struct vfiosim_user_header hdr;

	if (!msg || len < sizeof(hdr))
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: %zu bytes, shorter than a vfio-user header",
					msg ? len : 0);
	memcpy(&hdr, msg, sizeof(hdr));
	if (hdr.msg_size < sizeof(hdr) || hdr.msg_size > len)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: msg_size %u, but %zu bytes arrived (truncated)",
					hdr.msg_size, len);
	if (hdr.msg_size < len)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: msg_size %u, but %zu bytes arrived (oversized)",
					hdr.msg_size, len);
	if ((hdr.flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_REPLY)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: type %u is not a reply",
					hdr.flags & VFIOSIM_USER_F_TYPE_MASK);
	if (hdr.msg_id != msg_id)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: msg_id %u answers no request (expected %u)",
					hdr.msg_id, msg_id);
	if (hdr.command != command)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: command %u (%s) answers %u (%s)",
					hdr.command,
					vfiosim_vu_command_name(hdr.command),
					command, vfiosim_vu_command_name(command));
	if (hdr.flags & VFIOSIM_USER_F_ERROR) {
		/* An errno the kernel could return, or the reply is bogus. */
		if (!hdr.error_no || hdr.error_no > 4095)
			return vfiosim_fail_buf(err, errlen, EPROTO,
						"malformed reply: error flag with error_no %u",
						hdr.error_no);
		return vfiosim_fail_buf(err, errlen, (int)hdr.error_no, "%s",
					strerror((int)hdr.error_no));
	}
	return (ssize_t)(hdr.msg_size - sizeof(hdr));
}

size_t vfiosim_vu_region_request(void *msg, uint16_t msg_id, bool write,
				 uint32_t region, uint64_t offset,
				 const void *data, uint32_t count)
{
	struct vfiosim_user_region_access acc = {
		.offset = offset,
		.region = region,
		.count = count,
	};
	unsigned char *p = (unsigned char *)msg +
			   sizeof(struct vfiosim_user_header);
	size_t len = sizeof(acc) + (write ? count : 0);

	memcpy(p, &acc, sizeof(acc));
	if (write && count)
		memcpy(p + sizeof(acc), data, count);
	return vfiosim_vu_request_init(msg, msg_id,
				       write ? VFIOSIM_USER_REGION_WRITE :
				       VFIOSIM_USER_REGION_READ, NULL, len);
}

ssize_t vfiosim_vu_region_reply(const void *payload, size_t len, bool write,
				uint32_t region, uint64_t offset, void *buf,
				uint32_t count, char *err, size_t errlen)
{
	struct vfiosim_user_region_access acc;

	if (len < sizeof(acc))
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: %zu byte payload, shorter than the access header",
					len);
	memcpy(&acc, payload, sizeof(acc));
	if (acc.region != region || acc.offset != offset)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: answers region %u offset 0x%llx",
					acc.region,
					(unsigned long long)acc.offset);
	if (acc.count > count)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: %u bytes for a %u byte access (oversized)",
					acc.count, count);
	if (len != sizeof(acc) + (write ? 0 : acc.count))
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: %zu byte payload for %u bytes of %s",
					len, acc.count,
					write ? "write" : "read data");
	if (!write && acc.count)
		memcpy(buf, (const unsigned char *)payload + sizeof(acc),
		       acc.count);
	return acc.count;
}

int vfiosim_vu_set_irqs_layout(const struct vfio_irq_set *set,
			       size_t *data_len, size_t *nfds, char *err,
			       size_t errlen)
{
	uint32_t type = set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint64_t elem = 0, need;

	*data_len = 0;
	*nfds = 0;
	if (type == VFIO_IRQ_SET_DATA_BOOL)
		elem = sizeof(uint8_t);
	else if (type == VFIO_IRQ_SET_DATA_EVENTFD)
		elem = sizeof(int32_t);
	need = sizeof(*set) + (uint64_t)set->count * elem;
	if (elem && set->argsz < need)
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"argsz %u too small for %u %s (needs %llu)",
					set->argsz, set->count,
					elem == 1 ? "bools" : "eventfds",
					(unsigned long long)need);
	if (type == VFIO_IRQ_SET_DATA_EVENTFD) {
		*nfds = set->count;
		return 0;
	}
	/*
	 * Everything else is the caller's argsz bytes, as the ioctl would
	 * read them: the bools, or nothing (the kernel judges argsz).
	 */
	if (set->argsz > sizeof(*set))
		*data_len = set->argsz - sizeof(*set);
	return 0;
}

size_t vfiosim_vu_write_multi_request(void *msg, uint16_t msg_id,
				      const struct vfiosim_write_op *ops,
				      size_t n)
{
	unsigned char *p = (unsigned char *)msg +
			   sizeof(struct vfiosim_user_header);
	uint64_t wr_cnt = n;
	size_t i;

	memcpy(p, &wr_cnt, sizeof(wr_cnt));
	p += sizeof(wr_cnt);
	for (i = 0; i < n; i++) {
		struct vfiosim_user_write_multi_entry e = {
			.offset = ops[i].offset,
			.region = ops[i].region,
			.count = ops[i].count,
		};
		uint64_t le = htole64(ops[i].data);

		memcpy(e.data, &le, sizeof(e.data));
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	return vfiosim_vu_request_init(msg, msg_id,
				       VFIOSIM_USER_REGION_WRITE_MULTI, NULL,
				       sizeof(wr_cnt) + n * sizeof(struct vfiosim_user_write_multi_entry));
}
