// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of the netlink backend's pure parts: vfio-user message
 * building and reply checking (vu_codec.c), parsing what the kernel
 * sends (genl.c, on crafted netlink messages), the core's checks of the new
 * ops, and what happens without the module (no "vfiosim" family).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "tap.h"
#include "vfiosim_int.h"

#define UUID_OK		"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b"
#define HDR		sizeof(struct vfiosim_user_header)
#define ACC		sizeof(struct vfiosim_user_region_access)
#define FAMILY		0x1234

/* A reply header as the kernel would write it. */
static size_t put_reply(void *buf, uint16_t msg_id, uint16_t command,
			uint32_t flags, uint32_t error_no, const void *payload,
			size_t len)
{
	struct vfiosim_user_header h = {
		.msg_id = msg_id,
		.command = command,
		.msg_size = (uint32_t)(HDR + len),
		.flags = flags,
		.error_no = error_no,
	};

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy((unsigned char *)buf + HDR, payload, len);
	return HDR + len;
}

static void test_request(struct tap *t)
{
	struct vfiosim_user_header h;
	unsigned char msg[128];
	uint32_t payload = 0xdeadbeef, got;
	size_t n;

	n = vfiosim_vu_request_init(msg, 7, VFIOSIM_USER_DEVICE_RESET, NULL, 0);
	memcpy(&h, msg, sizeof(h));
	tap_int(t, (long long)n, HDR, "request: header-only size");
	tap_ok(t, h.msg_id == 7 && h.command == VFIOSIM_USER_DEVICE_RESET &&
	       h.msg_size == HDR && h.flags == VFIOSIM_USER_F_TYPE_COMMAND &&
	       h.error_no == 0, "request: header fields");
	n = vfiosim_vu_request_init(msg, 8, VFIOSIM_USER_DEVICE_GET_INFO,
				    &payload, sizeof(payload));
	memcpy(&h, msg, sizeof(h));
	memcpy(&got, msg + HDR, sizeof(got));
	tap_ok(t, n == HDR + 4 && h.msg_size == n && got == payload,
	       "request: payload copied after the header");
	tap_str(t, vfiosim_vu_command_name(VFIOSIM_USER_REGION_WRITE_MULTI),
		"REGION_WRITE_MULTI", "request: command name");
	tap_str(t, vfiosim_vu_command_name(14), "UNKNOWN",
		"request: gap in the command numbers");
	tap_str(t, vfiosim_vu_command_name(0xffff), "UNKNOWN",
		"request: command name out of range");
}

static void test_reply_check(struct tap *t)
{
	unsigned char msg[128];
	uint32_t payload = 42;
	char err[256];
	size_t n;
	ssize_t ret;

	n = put_reply(msg, 5, VFIOSIM_USER_DEVICE_GET_INFO,
		      VFIOSIM_USER_F_TYPE_REPLY, 0, &payload, 4);
	ret = vfiosim_vu_reply_check(msg, n, 5, VFIOSIM_USER_DEVICE_GET_INFO,
				     err, sizeof(err));
	tap_int(t, ret, 4, "reply: good reply gives its payload length");

	ret = vfiosim_vu_reply_check(msg, HDR - 1, 5,
				     VFIOSIM_USER_DEVICE_GET_INFO, err,
				     sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: shorter than a header");
	tap_has(t, err, "shorter than a vfio-user header",
		"reply: short message");
	ret = vfiosim_vu_reply_check(NULL, 0, 5, 4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: NULL");

	ret = vfiosim_vu_reply_check(msg, n - 1, 5,
				     VFIOSIM_USER_DEVICE_GET_INFO, err,
				     sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: truncated");
	tap_has(t, err, "(truncated)", "reply: truncated message");
	ret = vfiosim_vu_reply_check(msg, n + 4, 5,
				     VFIOSIM_USER_DEVICE_GET_INFO, err,
				     sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: oversized");
	tap_has(t, err, "msg_size 20, but 24 bytes arrived (oversized)",
		"reply: oversized message");

	ret = vfiosim_vu_reply_check(msg, n, 6, VFIOSIM_USER_DEVICE_GET_INFO,
				     err, sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: wrong msg_id");
	tap_str(t, err, "malformed reply: msg_id 5 answers no request (expected 6)",
		"reply: wrong msg_id message");
	ret = vfiosim_vu_reply_check(msg, n, 5,
				     VFIOSIM_USER_DEVICE_GET_IRQ_INFO, err,
				     sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: wrong command");
	tap_has(t, err, "command 4 (DEVICE_GET_INFO) answers 7 (DEVICE_GET_IRQ_INFO)",
		"reply: wrong command message");

	n = put_reply(msg, 5, VFIOSIM_USER_DEVICE_GET_INFO,
		      VFIOSIM_USER_F_TYPE_COMMAND, 0, NULL, 0);
	ret = vfiosim_vu_reply_check(msg, n, 5,
				     VFIOSIM_USER_DEVICE_GET_INFO, err,
				     sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: a command is not a reply");
	tap_has(t, err, "type 0 is not a reply", "reply: type message");

	n = put_reply(msg, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
		      VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR, EINVAL,
		      NULL, 0);
	ret = vfiosim_vu_reply_check(msg, n, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
				     err, sizeof(err));
	tap_int(t, ret, -EINVAL, "reply: error flag gives -error_no");
	tap_str(t, err, strerror(EINVAL), "reply: error text is strerror");
	n = put_reply(msg, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
		      VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR, 0,
		      NULL, 0);
	ret = vfiosim_vu_reply_check(msg, n, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
				     err, sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: error flag without an errno");
	n = put_reply(msg, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
		      VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR, 70000,
		      NULL, 0);
	ret = vfiosim_vu_reply_check(msg, n, 9, VFIOSIM_USER_DEVICE_SET_IRQS,
				     err, sizeof(err));
	tap_int(t, ret, -EPROTO, "reply: error_no out of range");
	tap_has(t, err, "error_no 70000", "reply: error_no message");
}

static void test_region(struct tap *t)
{
	struct vfiosim_user_region_access acc;
	struct vfiosim_user_header h;
	unsigned char msg[256], payload[64], buf[8];
	const unsigned char data[4] = { 1, 2, 3, 4 };
	char err[256];
	size_t n;
	ssize_t ret;

	n = vfiosim_vu_region_request(msg, 3, false, 2, 0x1000, NULL, 8);
	memcpy(&h, msg, sizeof(h));
	memcpy(&acc, msg + HDR, sizeof(acc));
	tap_ok(t, n == HDR + ACC && h.msg_size == n &&
	       h.command == VFIOSIM_USER_REGION_READ && h.msg_id == 3 &&
	       acc.region == 2 && acc.offset == 0x1000 && acc.count == 8,
	       "region: read request carries no data");
	n = vfiosim_vu_region_request(msg, 4, true, 0, 0x10, data, 4);
	memcpy(&h, msg, sizeof(h));
	memcpy(&acc, msg + HDR, sizeof(acc));
	tap_ok(t, n == HDR + ACC + 4 && h.msg_size == n &&
	       h.command == VFIOSIM_USER_REGION_WRITE && acc.count == 4 &&
	       !memcmp(msg + HDR + ACC, data, 4),
	       "region: write request carries the data");

	/* A read reply: the access header, then count bytes. */
	acc = (struct vfiosim_user_region_access){ 0x10, 0, 4 };
	memcpy(payload, &acc, ACC);
	memcpy(payload + ACC, data, 4);
	memset(buf, 0, sizeof(buf));
	ret = vfiosim_vu_region_reply(payload, ACC + 4, false, 0, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, 4, "region: read reply count");
	tap_ok(t, !memcmp(buf, data, 4), "region: read reply data copied");
	ret = vfiosim_vu_region_reply(payload, ACC + 3, false, 0, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: read reply with data cut short");
	ret = vfiosim_vu_region_reply(payload, ACC - 1, false, 0, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: reply shorter than its header");
	ret = vfiosim_vu_region_reply(payload, ACC + 4, false, 0, 0x14, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: reply for another offset");
	tap_has(t, err, "answers region 0 offset 0x10",
		"region: another offset message");
	ret = vfiosim_vu_region_reply(payload, ACC + 4, false, 1, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: reply for another region");

	/* More than asked for must not reach the caller's buffer. */
	acc.count = 8;
	memcpy(payload, &acc, ACC);
	memset(buf, 0xee, sizeof(buf));
	ret = vfiosim_vu_region_reply(payload, ACC + 8, false, 0, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: oversized read reply");
	tap_has(t, err, "8 bytes for a 4 byte access (oversized)",
		"region: oversized message");
	tap_int(t, buf[0], 0xee, "region: oversized reply copied nothing");

	/* A short read is passed on, as pread would. */
	acc.count = 2;
	memcpy(payload, &acc, ACC);
	ret = vfiosim_vu_region_reply(payload, ACC + 2, false, 0, 0x10, buf,
				      4, err, sizeof(err));
	tap_int(t, ret, 2, "region: short read reply");

	/* A write reply has no data. */
	acc.count = 4;
	memcpy(payload, &acc, ACC);
	ret = vfiosim_vu_region_reply(payload, ACC, true, 0, 0x10, NULL, 4,
				      err, sizeof(err));
	tap_int(t, ret, 4, "region: write reply count");
	ret = vfiosim_vu_region_reply(payload, ACC + 4, true, 0, 0x10, NULL,
				      4, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "region: write reply with data");
}

static void test_set_irqs(struct tap *t)
{
	struct vfio_irq_set set = { 0 };
	size_t data, nfds;
	char err[256];
	int ret;

	set.argsz = sizeof(set) + 2 * 4 - 1;
	set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.count = 2;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "set_irqs: argsz too small for eventfds");
	tap_str(t, err, "argsz 27 too small for 2 eventfds (needs 28)",
		"set_irqs: eventfd message");
	set.argsz++;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && nfds == 2 && data == 0,
	       "set_irqs: eventfds travel as fds, not payload");

	set.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.count = 3;
	set.argsz = sizeof(set) + 2;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "set_irqs: argsz too small for bools");
	tap_has(t, err, "for 3 bools (needs 23)", "set_irqs: bool message");
	set.argsz = sizeof(set) + 3;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && data == 3 && nfds == 0,
	       "set_irqs: bools are payload");

	set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.count = UINT32_MAX;
	set.argsz = sizeof(set);
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && data == 0 && nfds == 0, "set_irqs: DATA_NONE");
	set.argsz = sizeof(set) - 1;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && data == 0,
	       "set_irqs: argsz below the header is the kernel's to refuse");
	set.argsz = sizeof(set) + 8;
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && data == 8, "set_irqs: the rest of argsz is sent");
	set.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
	set.count = 1;
	set.argsz = sizeof(set);
	ret = vfiosim_vu_set_irqs_layout(&set, &data, &nfds, err, sizeof(err));
	tap_ok(t, !ret && nfds == 0,
	       "set_irqs: two data types are the kernel's to refuse");
}

static void test_write_multi(struct tap *t)
{
	const struct vfiosim_write_op ops[2] = {
		{ .region = 0, .count = 4, .offset = 0x10, .data = 0x11223344 },
		{ .region = 2, .count = 8, .offset = 0x1000,
		  .data = 0x0102030405060708ULL },
	};
	struct vfiosim_user_write_multi_entry e;
	struct vfiosim_user_header h;
	unsigned char msg[256];
	uint64_t cnt, le;
	size_t n;

	n = vfiosim_vu_write_multi_request(msg, 11, ops, 2);
	memcpy(&h, msg, sizeof(h));
	memcpy(&cnt, msg + HDR, sizeof(cnt));
	tap_ok(t, n == HDR + 8 + 2 * sizeof(e) && h.msg_size == n &&
	       h.command == VFIOSIM_USER_REGION_WRITE_MULTI && cnt == 2,
	       "write_multi: size, command and wr_cnt");
	memcpy(&e, msg + HDR + 8 + sizeof(e), sizeof(e));
	memcpy(&le, e.data, sizeof(le));
	tap_ok(t, e.region == 2 && e.count == 8 && e.offset == 0x1000 &&
	       le64toh(le) == 0x0102030405060708ULL && e.data[0] == 0x08,
	       "write_multi: entry, data little endian");
}

/* ---- netlink messages ---------------------------------------------- */

static struct nlmsghdr *nl_error(void *buf, uint32_t seq, int error,
				 const char *extack, bool capped)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr);
	e->msg.nlmsg_seq = seq;
	if (!capped) {
		/* The request echoed: its header and 8 bytes of payload. */
		e->msg.nlmsg_len += 8;
		memset(mnl_nlmsg_put_extra_header(nlh, 8), 0xab, 8);
	} else {
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	}
	if (extack) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, extack);
	}
	return nlh;
}

static struct nlmsghdr *nl_data(void *buf, uint32_t seq, uint16_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = VFIOSIM_CMD_VFIO_USER;
	genl->version = VFIOSIM_GENL_VERSION;
	return nlh;
}

static void test_nl_parse(struct tap *t)
{
	unsigned char buf[1024] __attribute__((aligned(8)));
	struct vfiosim_nl_reply r;
	struct nlmsghdr *nlh;
	unsigned char vu[64];
	int32_t fds[2] = { -1, -1 };
	char err[256], text[320];
	int ret;

	nlh = nl_error(buf, 5, -EBUSY, "device is open through VFIO", true);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, 1, "nl: error answers its seq");
	tap_ok(t, r.is_error && r.error == EBUSY, "nl: error errno");
	tap_str(t, r.extack, "device is open through VFIO", "nl: extack");
	vfiosim_nl_error_text(&r, text, sizeof(text));
	tap_str(t, text, "device is open through VFIO: Device or resource busy",
		"nl: error text");

	nlh = nl_error(buf, 5, -ENODEV, "no vfiosim device with this UUID",
		       false);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 1 && r.error == ENODEV &&
	       !strcmp(r.extack, "no vfiosim device with this UUID"),
	       "nl: extack after an echoed request");

	nlh = nl_error(buf, 5, -EPERM, NULL, true);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	vfiosim_nl_error_text(&r, text, sizeof(text));
	tap_ok(t, ret == 1 && r.error == EPERM && !r.extack[0],
	       "nl: error without extack");
	tap_str(t, text, "Operation not permitted", "nl: plain error text");

	nlh = nl_error(buf, 5, 0, NULL, true);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 1 && r.is_error && r.error == 0, "nl: ack");
	ret = vfiosim_nl_parse(nlh, 6, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, 0, "nl: stale ack is skipped");
	nlh = nl_error(buf, 5, 3, NULL, true);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "nl: positive error is malformed");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = 5;
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "nl: error message without its body");

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = 5;
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 1 && r.done, "nl: done");
	nlh->nlmsg_type = NLMSG_NOOP;
	tap_int(t, vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err)), 0,
		"nl: noop is skipped");

	/* A data reply with a vfio-user message and an fd. */
	put_reply(vu, 1, VFIOSIM_USER_DEVICE_GET_REGION_INFO,
		  VFIOSIM_USER_F_TYPE_REPLY, 0, NULL, 0);
	nlh = nl_data(buf, 5, FAMILY);
	mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, HDR, vu);
	mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, sizeof(fds[0]), fds);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 1 && !r.is_error && r.msg && r.msg_len == HDR &&
	       !memcmp(r.msg, vu, HDR) && r.nfds == 1 &&
	       r.cmd == VFIOSIM_CMD_VFIO_USER, "nl: data reply, msg and fds");
	ret = vfiosim_nl_parse(nlh, 4, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 0 && r.nfds == 1,
	       "nl: stale data reply is skipped, its fds still reported");
	ret = vfiosim_nl_parse(nlh, 5, FAMILY + 1, &r, err, sizeof(err));
	tap_int(t, ret, 0, "nl: another family is skipped");

	nlh = nl_data(buf, 5, FAMILY);
	mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, 6, fds);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "nl: fd array of odd length");
	tap_has(t, err, "fd array of 6 bytes", "nl: fd array message");

	nlh = nl_data(buf, 5, FAMILY);
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_ok(t, ret == 1 && !r.msg, "nl: reply without a message");
	nlh->nlmsg_len = sizeof(*nlh) + 2;
	ret = vfiosim_nl_parse(nlh, 5, FAMILY, &r, err, sizeof(err));
	tap_int(t, ret, -EPROTO, "nl: reply without a genl header");
}

/* ---- core checks, through a fake backend --------------------------- */

struct fake_priv {
	size_t calls;
	size_t n;
};

static int fake_write_multi(struct vfiosim_dev *dev,
			    const struct vfiosim_write_op *ops, size_t n)
{
	struct fake_priv *p = dev->priv;

	(void)ops;
	p->calls++;
	p->n = n;
	return 0;
}

static const struct vfiosim_io_ops fake_ops = {
	.name = "fake",
	.region_write_multi = fake_write_multi,
};

/* A length the signed compare of mnl_nlmsg_ok() lets through. */
static void test_nlmsg_ok(struct tap *t)
{
	struct nlmsghdr h[2] = { { .nlmsg_len = sizeof(h[0]) } };

	tap_ok(t, vfiosim_nlmsg_ok(h, sizeof(h)), "nlmsg_ok: a whole message");
	h[0].nlmsg_len = sizeof(h) + 1;
	tap_ok(t, !vfiosim_nlmsg_ok(h, sizeof(h)),
	       "nlmsg_ok: one byte past the buffer");
	h[0].nlmsg_len = 0xffffffff;
	tap_ok(t, !vfiosim_nlmsg_ok(h, sizeof(h)),
	       "nlmsg_ok: nlmsg_len 0xffffffff (mnl_nlmsg_ok takes it)");
	h[0].nlmsg_len = 0x80000000;
	tap_ok(t, !vfiosim_nlmsg_ok(h, sizeof(h)), "nlmsg_ok: nlmsg_len 2^31");
	h[0].nlmsg_len = sizeof(h) - 2;
	tap_ok(t, !vfiosim_nlmsg_ok(h, sizeof(h) - 2),
	       "nlmsg_ok: a message whose padding is past the buffer");
	tap_ok(t, vfiosim_nlmsg_ok(h, sizeof(h)),
	       "nlmsg_ok: ... and with it inside");
}

static void test_core(struct tap *t)
{
	struct vfiosim_write_op ops[3] = {
		{ .region = 0, .count = 4, .offset = 0x10 },
		{ .region = 0, .count = 8, .offset = 0x18 },
		{ .region = 0, .count = 1, .offset = 0x20 },
	};
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct fake_priv p = { 0 };
	const struct vfiosim_io_ops *ops_out = NULL;
	const char *target = NULL;
	char err[256];

	if (!tap_ok(t, dev != NULL, "core: alloc"))
		return;
	tap_int(t, vfiosim_spec_parse("netlink:" UUID_OK, &ops_out, &target,
				      err, sizeof(err)), 0,
		"core: netlink:<uuid> parses");
	tap_ok(t, ops_out == &vfiosim_netlink_ops,
	       "core: netlink: selects the netlink ops");
	tap_int(t, vfiosim_region_write_multi(NULL, ops, 1), -EINVAL,
		"core: write_multi on NULL dev");
	tap_int(t, vfiosim_region_write_multi(dev, ops, 1), -EBADF,
		"core: write_multi when closed");
	tap_int(t, vfiosim_netlink_ping(dev), -EBADF, "core: ping when closed");

	/* Pretend to be open on a backend with only write_multi. */
	dev->ops = &fake_ops;
	dev->priv = &p;
	snprintf(dev->name, sizeof(dev->name), "fake:x");
	tap_int(t, vfiosim_region_write_multi(dev, ops, 3), 0,
		"core: write_multi reaches the backend");
	tap_ok(t, p.calls == 1 && p.n == 3, "core: with every op");
	tap_int(t, vfiosim_region_write_multi(dev, ops, 0), 0,
		"core: empty batch");
	tap_int(t, vfiosim_region_write_multi(dev, NULL, 2), -EFAULT,
		"core: NULL batch");
	ops[1].count = 9;
	tap_int(t, vfiosim_region_write_multi(dev, ops, 3), -EINVAL,
		"core: count 9 refused");
	tap_str(t, vfiosim_dev_error(dev),
		"fake:x: region_write_multi: write 1 (region 0 offset 0x18): count 9, not 1..8",
		"core: count message");
	ops[1].count = 0;
	tap_int(t, vfiosim_region_write_multi(dev, ops, 3), -EINVAL,
		"core: count 0 refused");
	tap_ok(t, p.calls == 1, "core: refused batches wrote nothing");
	tap_int(t, vfiosim_netlink_ping(dev), -EOPNOTSUPP,
		"core: ping on another backend");
	tap_has(t, vfiosim_dev_error(dev), "ping: not supported by backend 'fake'",
		"core: ping message");
	tap_int(t, vfiosim_reset(dev), -EOPNOTSUPP,
		"core: missing op is EOPNOTSUPP");
	dev->ops = NULL;
	dev->priv = NULL;
	vfiosim_dev_free(dev);
}

/* ---- without the module -------------------------------------------- */

static void test_no_family(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct vfiosim_nl_dev_info info, list[4];
	struct vfiosim_monitor *mon = (void *)1;
	char err[256];
	size_t count = 99;
	int ret;

	if (!tap_ok(t, dev != NULL, "no family: alloc"))
		return;
	tap_int(t, vfiosim_dev_open(dev, "netlink:not-a-uuid"), -EINVAL,
		"no family: bad uuid");
	tap_str(t, vfiosim_dev_error(dev),
		"netlink:not-a-uuid: invalid uuid 'not-a-uuid' (expected 8-4-4-4-12 hex digits)",
		"no family: bad uuid message");

	ret = vfiosim_dev_open(dev, "netlink:8D5E4B4E-6C1A-4C8E-9B1A-2F4E6D8C0A1B");
	if (ret != -ENOENT) {
		/* Only a host with the module loaded gets further. */
		tap_skip(t, "no family: open is ENOENT", "family present");
		tap_skip(t, "no family: open message", "family present");
		vfiosim_dev_free(dev);
		return;
	}
	tap_int(t, ret, -ENOENT, "no family: open is ENOENT");
	tap_str(t, vfiosim_dev_error(dev),
		"netlink:" UUID_OK ": vfiosim netlink family not found (module not loaded?)",
		"no family: open message (lower case name)");
	tap_str(t, vfiosim_dev_backend(dev), "none",
		"no family: still closed");

	ret = vfiosim_nl_dev_list(list, 4, &count, err, sizeof(err));
	tap_int(t, ret, -ENOENT, "no family: dev list");
	tap_str(t, err, "vfiosim netlink family not found (module not loaded?)",
		"no family: dev list message");
	tap_int(t, (long long)count, 0, "no family: dev list count");
	tap_int(t, vfiosim_nl_dev_get(UUID_OK, &info, err, sizeof(err)),
		-ENOENT, "no family: dev get");
	tap_int(t, vfiosim_nl_dev_get("nope", &info, err, sizeof(err)),
		-EINVAL, "no family: dev get bad uuid");
	tap_int(t, vfiosim_monitor_open(&mon, err, sizeof(err)), -ENOENT,
		"no family: monitor");
	tap_ok(t, mon == NULL, "no family: no monitor handed out");
	vfiosim_monitor_close(NULL);
	tap_str(t, vfiosim_event_name(VFIOSIM_EVENT_CREATED), "created",
		"names: created");
	tap_str(t, vfiosim_event_name(VFIOSIM_EVENT_RESET), "reset",
		"names: reset");
	tap_str(t, vfiosim_event_name(99), "unknown", "names: unknown event");
	tap_str(t, vfiosim_nl_owner_name(VFIOSIM_OWNER_NETLINK), "netlink",
		"names: netlink owner");
	tap_str(t, vfiosim_nl_owner_name(7), "unknown", "names: unknown owner");
	vfiosim_dev_free(dev);
}

static int count_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

int main(void)
{
	struct tap t = { 0 };
	int fds = count_fds();

	alarm(60);
	test_request(&t);
	test_nlmsg_ok(&t);
	test_reply_check(&t);
	test_region(&t);
	test_set_irqs(&t);
	test_write_multi(&t);
	test_nl_parse(&t);
	test_core(&t);
	test_no_family(&t);
	tap_int(&t, count_fds(), fds, "no file descriptor leaked");
	return tap_done(&t);
}
