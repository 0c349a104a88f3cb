// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for libvfiosim's parsers of what a server or the
 * kernel sends: every input is a VERSION reply payload (its JSON
 * capabilities, lib/backend_unix.c), a buffer of netlink messages as
 * recv() would return them (lib/genl.c), a whole vfio-user reply
 * (vfiosim_vu_reply_check) and a REGION_READ/WRITE reply payload
 * (vfiosim_vu_region_reply, lib/vu_codec.c), and the payload a server
 * answers DEVICE_GET_INFO and DEVICE_GET_REGION_INFO with, fed to the
 * client (lib/vu_client.c) through a fake transport, whose region info's
 * capability chain is then walked (vfiosim_region_info_cap).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/vfiosim.h>

#include "vfiosim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VU_HDR		sizeof(struct vfiosim_user_header)
#define PAYLOAD_MAX	65536

/* A vfio-user connection whose server answers everything with the input. */
struct fake_peer {
	struct vu_client c;	/* first: the transport gets &c */
	const unsigned char *reply;
	size_t len;
};

static ssize_t fake_call(struct vu_client *c, uint16_t command,
			 uint16_t msg_id, size_t len, const void *fds,
			 size_t nfds, const void **payload, int *fd_out,
			 char *why)
{
	const struct fake_peer *p = (const struct fake_peer *)c;

	(void)command, (void)msg_id, (void)len, (void)fds, (void)nfds;
	if (fd_out)
		*fd_out = -1;
	if (p->len > c->payload_max) {	/* as the real transport refuses */
		snprintf(why, VFIOSIM_ERR_LEN, "oversized");
		return -EPROTO;
	}
	*payload = p->reply;
	return (ssize_t)p->len;
}

/* A capability found must lie inside the caller's argsz bytes. */
static void check_caps(const struct vfio_region_info *info, size_t bufsz)
{
	const unsigned char *base = (const unsigned char *)info;
	const struct vfio_info_cap_header *hdr;
	uint16_t id;

	for (id = 0; id <= 5; id++) {
		hdr = vfiosim_region_info_cap(info, id);
		if (!hdr)
			continue;
		if ((const unsigned char *)hdr < base + sizeof(*info) ||
		    (const unsigned char *)(hdr + 1) > base + bufsz ||
		    hdr->id != id)
			abort();	/* a capability outside the buffer */
		if (id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			const struct vfio_region_info_cap_sparse_mmap *sp =
				(const void *)hdr;
			volatile uint64_t sum = 0;
			uint32_t i;

			/* Every area, as a caller reads them: ASan sees an overread. */
			for (i = 0; i < sp->nr_areas; i++)
				sum += sp->areas[i].offset + sp->areas[i].size;
		}
	}
}

/* GET_INFO and GET_REGION_INFO as a server answering with reply. */
static void fuzz_region_info(const unsigned char *reply, size_t len)
{
	struct fake_peer p = { .reply = reply, .len = len };
	struct vfio_region_info *info;
	struct vfiosim_dev *dev;
	uint32_t argsz;

	dev = vfiosim_dev_alloc();
	if (!dev)
		return;
	vu_client_init(&p.c);
	p.c.call = fake_call;
	p.c.payload_max = PAYLOAD_MAX;
	p.c.max_regions = 16;
	p.c.peer = "server";
	p.c.msg = malloc(VU_HDR + PAYLOAD_MAX);
	if (!p.c.msg)
		goto out;
	dev->priv = &p.c;

	/* At open: the device info, then every region's (up to 16). */
	vu_client_cache_regions(dev);

	/* A caller's buffer of exactly argsz bytes, which the input picks. */
	argsz = sizeof(*info) + (len ? reply[len - 1] : 0) * 4;
	info = calloc(1, argsz);
	if (info) {
		info->argsz = argsz;
		info->index = len > 1 ? reply[len - 2] % 20 : 0;
		if (!vu_client_get_region_info(dev, info))
			check_caps(info, argsz);
		free(info);
	}
	vu_client_forget_regions(&p.c);
out:
	dev->priv = NULL;
	pthread_mutex_destroy(&p.c.lock);
	free(p.c.msg);
	vfiosim_dev_free(dev);
}

/* The reply codec: a whole reply, and a region access reply payload. */
static void fuzz_codec(const unsigned char *buf, size_t size)
{
	struct vfiosim_user_header h = { 0 };
	struct vfiosim_user_region_access acc = { 0 };
	unsigned char *data;
	uint32_t count;
	ssize_t n;
	char why[256];

	/* Answering the request its own header names, to get past the ids. */
	if (size >= sizeof(h))
		memcpy(&h, buf, sizeof(h));
	n = vfiosim_vu_reply_check(buf, size, h.msg_id, h.command, why,
				   sizeof(why));
	if (n >= 0 && (size_t)n != size - sizeof(h))
		abort();	/* a payload not what arrived */

	/* An access of the size and place the reply claims, or less. */
	if (size >= sizeof(acc))
		memcpy(&acc, buf, sizeof(acc));
	count = size > sizeof(acc) ? (uint32_t)(size - sizeof(acc)) : 0;
	if (size & 1)
		count /= 2;
	data = malloc(count ? count : 1);
	if (!data)
		return;
	n = vfiosim_vu_region_reply(buf, size, size & 2, acc.region,
				    acc.offset, data, count, why, sizeof(why));
	if (n > (ssize_t)count)
		abort();	/* more bytes than asked for */
	free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh;
	struct vfiosim_nl_reply r;
	uint32_t xfer, fds;
	uint16_t minor;
	char why[256];
	unsigned char *buf;
	bool wm;
	int len;

	/* The bytes exactly, in a buffer of their own size (ASan sees overreads). */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	if (!vfiosim_unix_parse_version(buf, size, &minor, &xfer, &fds, &wm,
					why, sizeof(why)) &&
	    (!xfer || minor > VFIOSIM_USER_VERSION_MINOR))
		abort();	/* accepted what it must refuse */

	len = size > INT32_MAX ? INT32_MAX : (int)size;
	for (nlh = (const struct nlmsghdr *)buf;
	     size >= sizeof(*nlh) && vfiosim_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len)) {
		if (vfiosim_nl_parse(nlh, 1, GENL_ID_CTRL + 1, &r, why,
				     sizeof(why)) > 0 && r.msg &&
		    ((const unsigned char *)r.msg < buf ||
		     (const unsigned char *)r.msg + r.msg_len > buf + size))
			abort();	/* a message outside the buffer */
	}
	fuzz_codec(buf, size);
	fuzz_region_info(buf, size);
	free(buf);
	return 0;
}
