// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Generic netlink plumbing for the "vfiosim" family, on libmnl: the
 * socket, family resolution, parsing what the kernel answers, and the
 * management calls (DEV_GET, the "events" multicast group).
 *
 * Every socket sets NETLINK_EXT_ACK, so errors carry the kernel's text,
 * and NETLINK_CAP_ACK, so an error does not echo a 32 KiB request back.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "vfiosim_int.h"

#define NL_CTRL_RX_SIZE		16384
/* A kernel that never answers must not hang a test forever. */
#define NL_REPLY_TIMEOUT_S	30
#define NL_MGMT_RX_SIZE		32768

/* ---- parsing ------------------------------------------------------- */

struct attr_tb {
	const struct nlattr **tb;
	uint16_t max;
};

/* Keep the last attribute of each known type; ignore unknown ones. */
static int attr_collect(const struct nlattr *attr, void *data)
{
	struct attr_tb *t = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void nl_parse_extack(const struct nlmsghdr *nlh,
			    const struct nlmsgerr *e, struct vfiosim_nl_reply *r)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	struct attr_tb t = { tb, NLMSGERR_ATTR_MAX };
	unsigned int off = sizeof(*e);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Without NLM_F_CAPPED the whole request is echoed first. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return;
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	if (MNL_ALIGN(off) > mnl_nlmsg_get_payload_len(nlh))
		return;
	if (mnl_attr_parse(nlh, MNL_ALIGN(off), attr_collect, &t) < 0)
		return;
	a = tb[NLMSGERR_ATTR_MSG];
	if (a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(r->extack, sizeof(r->extack), "%s",
			 mnl_attr_get_str(a));
}

/*
 * mnl_nlmsg_ok(), without its signed compare (an nlmsg_len of 2^31 or
 * more passes that, and then mnl_nlmsg_next() never moves on), and with
 * the message's padding inside the buffer too: libmnl's attribute walk
 * reads up to the aligned end.  The kernel always sends the padding.
 */
bool vfiosim_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (unsigned int)len &&
	       MNL_ALIGN(nlh->nlmsg_len) <= (unsigned int)len;
}

int vfiosim_nl_parse(const struct nlmsghdr *nlh, uint32_t seq,
		     uint16_t family, struct vfiosim_nl_reply *r, char *err,
		     size_t errlen)
{
	const struct nlattr *tb[VFIOSIM_ATTR_MAX + 1] = { NULL };
	struct attr_tb t = { tb, VFIOSIM_ATTR_MAX };
	const struct genlmsghdr *genl;
	const struct nlmsgerr *e;

	memset(r, 0, sizeof(*r));
	r->nlh = nlh;
	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
	case NLMSG_OVERRUN:
		return 0;
	case NLMSG_DONE:
		if (nlh->nlmsg_seq != seq)
			return 0;
		r->done = true;
		return 1;
	case NLMSG_ERROR:
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
			return vfiosim_fail_buf(err, errlen, EPROTO,
						"malformed netlink error: %u bytes",
						nlh->nlmsg_len);
		e = mnl_nlmsg_get_payload(nlh);
		if (nlh->nlmsg_seq != seq)
			return 0;
		if (e->error > 0 || e->error < -4095)
			return vfiosim_fail_buf(err, errlen, EPROTO,
						"malformed netlink error: error %d",
						e->error);
		r->is_error = true;
		r->error = -e->error;
		nl_parse_extack(nlh, e, r);
		return 1;
	default:
		break;
	}
	if (nlh->nlmsg_type != family)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: %u bytes, no genl header",
					nlh->nlmsg_len);
	genl = mnl_nlmsg_get_payload(nlh);
	r->cmd = genl->cmd;
	if (mnl_attr_parse(nlh, GENL_HDRLEN, attr_collect, &t) < 0)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: bad attributes");
	/* Fds first: they are in our table whatever else is wrong. */
	if (tb[VFIOSIM_ATTR_FDS]) {
		r->fds = mnl_attr_get_payload(tb[VFIOSIM_ATTR_FDS]);
		r->nfds = mnl_attr_get_payload_len(tb[VFIOSIM_ATTR_FDS]) /
			  sizeof(int32_t);
	}
	if (nlh->nlmsg_seq != seq)
		return 0;
	if (tb[VFIOSIM_ATTR_FDS] &&
	    mnl_attr_get_payload_len(tb[VFIOSIM_ATTR_FDS]) % sizeof(int32_t))
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"malformed reply: fd array of %u bytes",
					mnl_attr_get_payload_len(tb[VFIOSIM_ATTR_FDS]));
	if (tb[VFIOSIM_ATTR_MSG]) {
		r->msg = mnl_attr_get_payload(tb[VFIOSIM_ATTR_MSG]);
		r->msg_len = mnl_attr_get_payload_len(tb[VFIOSIM_ATTR_MSG]);
	}
	return 1;
}

void vfiosim_nl_close_fds(const struct vfiosim_nl_reply *r)
{
	size_t i;
	int32_t fd;

	for (i = 0; r->fds && i < r->nfds; i++) {
		memcpy(&fd, (const unsigned char *)r->fds + i * sizeof(fd),
		       sizeof(fd));
		if (fd >= 0)
			close(fd);
	}
}

void vfiosim_nl_error_text(const struct vfiosim_nl_reply *r, char *buf,
			   size_t len)
{
	if (r->extack[0])
		snprintf(buf, len, "%s: %s", r->extack, strerror(r->error));
	else
		snprintf(buf, len, "%s", strerror(r->error));
}

/* ---- the socket ---------------------------------------------------- */

struct nlmsghdr *vfiosim_nl_request(const struct vfiosim_nl *nl, void *buf,
				    uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = VFIOSIM_GENL_VERSION;
	return nlh;
}

int vfiosim_nl_send(struct vfiosim_nl *nl, struct nlmsghdr *nlh, char *err,
		    size_t errlen)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_pid = nl->portid;
	do {
		n = sendto(nl->fd, nlh, nlh->nlmsg_len, 0,
			   (const struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vfiosim_fail_buf(err, errlen, errno, "netlink send: %s",
					strerror(errno));
	if ((size_t)n != nlh->nlmsg_len)
		return vfiosim_fail_buf(err, errlen, EIO,
					"netlink send: %zd of %u bytes", n,
					nlh->nlmsg_len);
	return 0;
}

/* One datagram from the kernel into nl->rx; its length or -errno. */
static ssize_t nl_recv_datagram(struct vfiosim_nl *nl, char *err,
				size_t errlen)
{
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t n;

	for (;;) {
		fromlen = sizeof(from);
		n = recvfrom(nl->fd, nl->rx, nl->rx_size, MSG_TRUNC,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return vfiosim_fail_buf(err, errlen, ETIMEDOUT,
						"netlink receive: no answer from the kernel within %d s",
						NL_REPLY_TIMEOUT_S);
		if (n < 0)
			return vfiosim_fail_buf(err, errlen, errno,
						"netlink receive: %s",
						strerror(errno));
		/* Only the kernel speaks for the family. */
		if (fromlen != sizeof(from) || from.nl_pid != 0)
			continue;
		if ((size_t)n > nl->rx_size)
			return vfiosim_fail_buf(err, errlen, EMSGSIZE,
						"netlink receive: %zd byte message truncated to %zu",
						n, nl->rx_size);
		return n;
	}
}

int vfiosim_nl_recv(struct vfiosim_nl *nl, uint32_t seq,
		    struct vfiosim_nl_reply *r, char *err, size_t errlen)
{
	const struct nlmsghdr *nlh;
	ssize_t n;
	int len, ret;

	for (;;) {
		n = nl_recv_datagram(nl, err, errlen);
		if (n < 0)
			return (int)n;
		len = (int)n;
		for (nlh = (const void *)nl->rx; vfiosim_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			ret = vfiosim_nl_parse(nlh, seq, nl->family, r, err,
					       errlen);
			if (ret == 1)
				return 0;
			vfiosim_nl_close_fds(r);
			if (ret < 0)
				return ret;
		}
	}
}

/* CTRL_CMD_GETFAMILY: the family id and the "events" group. */
struct family_info {
	uint16_t id;
	uint32_t events_group;
};

static void family_groups(const struct nlattr *nest, struct family_info *fi)
{
	const struct nlattr *grp, *a;

	mnl_attr_for_each_nested(grp, nest) {
		const char *name = NULL;
		uint32_t id = 0;

		mnl_attr_for_each_nested(a, grp) {
			if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
				name = mnl_attr_get_str(a);
			else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
				 mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				id = mnl_attr_get_u32(a);
		}
		if (name && !strcmp(name, VFIOSIM_GENL_MCGRP_EVENTS))
			fi->events_group = id;
	}
}

static int nl_resolve(struct vfiosim_nl *nl, char *err, size_t errlen)
{
	char buf[256], text[320];
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { NULL };
	struct attr_tb t = { tb, CTRL_ATTR_MAX };
	struct family_info fi = { 0, 0 };
	struct vfiosim_nl_reply r;
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VFIOSIM_GENL_NAME);
	ret = vfiosim_nl_send(nl, nlh, err, errlen);
	if (ret)
		return ret;
	nl->family = GENL_ID_CTRL;
	ret = vfiosim_nl_recv(nl, nl->seq, &r, err, errlen);
	nl->family = 0;
	if (ret)
		return ret;
	if (r.is_error && r.error == ENOENT)
		return vfiosim_fail_buf(err, errlen, ENOENT,
					"vfiosim netlink family not found (module not loaded?)");
	if (r.is_error) {
		vfiosim_nl_error_text(&r, text, sizeof(text));
		return vfiosim_fail_buf(err, errlen, r.error ? r.error : EPROTO,
					"CTRL_CMD_GETFAMILY %s: %s",
					VFIOSIM_GENL_NAME, text);
	}
	if (mnl_attr_parse(r.nlh, GENL_HDRLEN, attr_collect, &t) < 0 ||
	    !tb[CTRL_ATTR_FAMILY_ID] ||
	    mnl_attr_validate(tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) < 0)
		return vfiosim_fail_buf(err, errlen, EPROTO,
					"CTRL_CMD_GETFAMILY %s: reply without a family id",
					VFIOSIM_GENL_NAME);
	fi.id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (tb[CTRL_ATTR_MCAST_GROUPS])
		family_groups(tb[CTRL_ATTR_MCAST_GROUPS], &fi);
	nl->family = fi.id;
	nl->events_group = fi.events_group;
	return 0;
}

void vfiosim_nl_close(struct vfiosim_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
	nl->fd = -1;
	free(nl->rx);
	nl->rx = NULL;
}

int vfiosim_nl_open(struct vfiosim_nl *nl, size_t rx_size, char *err,
		    size_t errlen)
{
	struct timeval tv = { .tv_sec = NL_REPLY_TIMEOUT_S };
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->fd = -1;
	nl->rx_size = rx_size;
	nl->rx = malloc(rx_size);
	if (!nl->rx)
		return vfiosim_fail_buf(err, errlen, ENOMEM, "out of memory");
	nl->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl->sock) {
		ret = vfiosim_fail_buf(err, errlen, errno,
				       "netlink socket: %s", strerror(errno));
		goto fail;
	}
	nl->fd = mnl_socket_get_fd(nl->sock);
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = vfiosim_fail_buf(err, errlen, errno, "netlink bind: %s",
				       strerror(errno));
		goto fail;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Both are best effort: old kernels lack them, nothing breaks. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		ret = vfiosim_fail_buf(err, errlen, errno,
				       "netlink SO_RCVTIMEO: %s",
				       strerror(errno));
		goto fail;
	}
	ret = nl_resolve(nl, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	vfiosim_nl_close(nl);
	return ret;
}

/* ---- binding a device: DEV_OPEN, DEV_CLOSE; PING ------------------- */

int vfiosim_nl_control(struct vfiosim_nl *nl, uint8_t cmd, const char *uuid,
		       char *err, size_t errlen)
{
	char buf[256];
	struct vfiosim_nl_reply r;
	struct nlmsghdr *nlh;
	uint32_t seq;
	int ret;

	nlh = vfiosim_nl_request(nl, buf, cmd, uuid ? NLM_F_ACK : 0);
	if (uuid)
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	ret = vfiosim_nl_send(nl, nlh, err, errlen);
	if (ret)
		return ret;
	seq = nl->seq;
	for (;;) {
		ret = vfiosim_nl_recv(nl, seq, &r, err, errlen);
		if (ret)
			return ret;
		if (!r.is_error) {
			vfiosim_nl_close_fds(&r);
			if (!uuid)
				return 0;
			continue;
		}
		if (!r.error)
			return 0;
		vfiosim_nl_error_text(&r, err, errlen);
		return -r.error;
	}
}

int vfiosim_nl_dev_open(struct vfiosim_nl *nl, size_t rx_size,
			const char *uuid, char *err, size_t errlen)
{
	char id[VFIOSIM_UUID_LEN + 1], text[VFIOSIM_ERR_LEN];
	int ret;

	ret = vfiosim_uuid_check(uuid, id, err, errlen);
	if (ret)
		return ret;
	ret = vfiosim_nl_open(nl, rx_size, err, errlen);
	if (ret)
		return ret;
	ret = vfiosim_nl_control(nl, VFIOSIM_CMD_DEV_OPEN, id, text,
				 sizeof(text));
	if (ret) {
		vfiosim_fail_buf(err, errlen, -ret, "DEV_OPEN: %s", text);
		vfiosim_nl_close(nl);
	}
	return ret;
}

/* ---- management: DEV_GET ------------------------------------------- */

const char *vfiosim_nl_owner_name(uint32_t owner)
{
	switch (owner) {
	case VFIOSIM_OWNER_NONE:	return "none";
	case VFIOSIM_OWNER_VFIO:	return "vfio";
	case VFIOSIM_OWNER_NETLINK:	return "netlink";
	default:			return "unknown";
	}
}

static void copy_str_attr(const struct nlattr *a, char *out, size_t len)
{
	if (a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(out, len, "%s", mnl_attr_get_str(a));
}

static uint32_t u32_attr(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) >= 0 ?
	       mnl_attr_get_u32(a) : 0;
}

static uint64_t u64_attr(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U64) >= 0 ?
	       mnl_attr_get_u64(a) : 0;
}

/* One DEV_GET message into info; false when it names no device. */
static bool dev_info_parse(const struct nlmsghdr *nlh,
			   struct vfiosim_nl_dev_info *info)
{
	const struct nlattr *tb[VFIOSIM_ATTR_MAX + 1] = { NULL };
	const struct nlattr *ctb[VFIOSIM_COUNTER_MAX + 1] = { NULL };
	struct attr_tb t = { tb, VFIOSIM_ATTR_MAX };
	struct attr_tb ct = { ctb, VFIOSIM_COUNTER_MAX };
	char uuid[64] = "";

	memset(info, 0, sizeof(*info));
	if (mnl_attr_parse(nlh, GENL_HDRLEN, attr_collect, &t) < 0)
		return false;
	copy_str_attr(tb[VFIOSIM_ATTR_DEV_UUID], uuid, sizeof(uuid));
	if (!vfiosim_uuid_valid(uuid))
		return false;
	vfiosim_uuid_normalize(uuid, info->uuid);
	copy_str_attr(tb[VFIOSIM_ATTR_DEV_TYPE], info->type,
		      sizeof(info->type));
	info->owner = u32_attr(tb[VFIOSIM_ATTR_DEV_OWNER]);
	info->owner_portid = u32_attr(tb[VFIOSIM_ATTR_DEV_OWNER_PORTID]);
	if (tb[VFIOSIM_ATTR_DEV_COUNTERS] &&
	    mnl_attr_parse_nested(tb[VFIOSIM_ATTR_DEV_COUNTERS], attr_collect,
				  &ct) >= 0) {
		info->has_counters = true;
		info->region_reads = u64_attr(ctb[VFIOSIM_COUNTER_REGION_READS]);
		info->region_writes =
			u64_attr(ctb[VFIOSIM_COUNTER_REGION_WRITES]);
		info->irqs = u64_attr(ctb[VFIOSIM_COUNTER_IRQS]);
		info->resets = u64_attr(ctb[VFIOSIM_COUNTER_RESETS]);
	}
	return true;
}

int vfiosim_nl_dev_get(const char *uuid, struct vfiosim_nl_dev_info *info,
		       char *err, size_t errlen)
{
	char buf[256], id[VFIOSIM_UUID_LEN + 1], text[320];
	struct vfiosim_nl_reply r;
	struct vfiosim_nl nl;
	struct nlmsghdr *nlh;
	int ret;

	ret = vfiosim_uuid_check(uuid, id, err, errlen);
	if (ret)
		return ret;
	if (!info)
		return vfiosim_fail_buf(err, errlen, EFAULT, "info is NULL");
	ret = vfiosim_nl_open(&nl, NL_CTRL_RX_SIZE, err, errlen);
	if (ret)
		return ret;
	nlh = vfiosim_nl_request(&nl, buf, VFIOSIM_CMD_DEV_GET, 0);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, id);
	ret = vfiosim_nl_send(&nl, nlh, err, errlen);
	if (!ret)
		ret = vfiosim_nl_recv(&nl, nl.seq, &r, err, errlen);
	if (ret)
		goto out;
	vfiosim_nl_close_fds(&r);
	if (r.is_error) {
		vfiosim_nl_error_text(&r, text, sizeof(text));
		ret = vfiosim_fail_buf(err, errlen, r.error ? r.error : EPROTO,
				       "DEV_GET %s: %s", id, text);
	} else if (r.done || !dev_info_parse(r.nlh, info)) {
		ret = vfiosim_fail_buf(err, errlen, EPROTO,
				       "DEV_GET %s: reply names no device", id);
	}
out:
	vfiosim_nl_close(&nl);
	return ret;
}

static int cmp_dev_info(const void *a, const void *b)
{
	return strcmp(((const struct vfiosim_nl_dev_info *)a)->uuid,
		      ((const struct vfiosim_nl_dev_info *)b)->uuid);
}

int vfiosim_nl_dev_list(struct vfiosim_nl_dev_info *devs, size_t max,
			size_t *count, char *err, size_t errlen)
{
	struct vfiosim_nl_dev_info info;
	const struct nlmsghdr *nlh;
	struct vfiosim_nl_reply r;
	char buf[256], text[320];
	struct vfiosim_nl nl;
	size_t n = 0;
	ssize_t got;
	int len, ret;

	if (!count || (max && !devs))
		return vfiosim_fail_buf(err, errlen, EFAULT,
					"devs or count is NULL");
	*count = 0;
	ret = vfiosim_nl_open(&nl, NL_MGMT_RX_SIZE, err, errlen);
	if (ret)
		return ret;
	ret = vfiosim_nl_send(&nl, vfiosim_nl_request(&nl, buf,
						      VFIOSIM_CMD_DEV_GET,
						      NLM_F_DUMP),
			      err, errlen);
	while (!ret) {
		got = nl_recv_datagram(&nl, err, errlen);
		if (got < 0) {
			ret = (int)got;
			break;
		}
		len = (int)got;
		for (nlh = (const void *)nl.rx; vfiosim_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			ret = vfiosim_nl_parse(nlh, nl.seq, nl.family, &r, err,
					       errlen);
			vfiosim_nl_close_fds(&r);
			if (ret <= 0) {
				if (ret < 0)
					goto out;
				continue;
			}
			ret = 0;
			if (r.done)
				goto done;
			if (r.is_error) {
				vfiosim_nl_error_text(&r, text, sizeof(text));
				ret = vfiosim_fail_buf(err, errlen,
						       r.error ? r.error : EPROTO,
						       "DEV_GET dump: %s", text);
				goto out;
			}
			if (!dev_info_parse(nlh, &info))
				continue;
			if (n < max)
				devs[n] = info;
			n++;
		}
	}
	goto out;
done:
	qsort(devs, n < max ? n : max, sizeof(*devs), cmp_dev_info);
	*count = n;
	if (n > max)
		ret = vfiosim_fail_buf(err, errlen, ENOSPC,
				       "%zu devices, room for %zu", n, max);
out:
	vfiosim_nl_close(&nl);
	return ret;
}

/* ---- management: the events group ---------------------------------- */

struct vfiosim_monitor {
	struct vfiosim_nl nl;
	int len;			/* bytes left in nl.rx from next */
	const struct nlmsghdr *next;
};

const char *vfiosim_event_name(uint32_t event)
{
	switch (event) {
	case VFIOSIM_EVENT_CREATED:	return "created";
	case VFIOSIM_EVENT_REMOVED:	return "removed";
	case VFIOSIM_EVENT_OPENED:	return "opened";
	case VFIOSIM_EVENT_CLOSED:	return "closed";
	case VFIOSIM_EVENT_RESET:	return "reset";
	default:			return "unknown";
	}
}

int vfiosim_monitor_open(struct vfiosim_monitor **mon, char *err,
			 size_t errlen)
{
	struct timeval tv = { .tv_sec = 0 };
	struct vfiosim_monitor *m;
	int ret, group;

	if (!mon)
		return vfiosim_fail_buf(err, errlen, EFAULT, "mon is NULL");
	*mon = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return vfiosim_fail_buf(err, errlen, ENOMEM, "out of memory");
	ret = vfiosim_nl_open(&m->nl, NL_MGMT_RX_SIZE, err, errlen);
	if (ret) {
		free(m);
		return ret;
	}
	if (!m->nl.events_group) {
		ret = vfiosim_fail_buf(err, errlen, ENOENT,
				       "vfiosim netlink family has no '%s' multicast group",
				       VFIOSIM_GENL_MCGRP_EVENTS);
		goto fail;
	}
	/* Events come when they come: wait for them without a timeout. */
	if (setsockopt(m->nl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		ret = vfiosim_fail_buf(err, errlen, errno,
				       "netlink SO_RCVTIMEO: %s",
				       strerror(errno));
		goto fail;
	}
	group = (int)m->nl.events_group;
	if (mnl_socket_setsockopt(m->nl.sock, NETLINK_ADD_MEMBERSHIP, &group,
				  sizeof(group)) < 0) {
		ret = vfiosim_fail_buf(err, errlen, errno,
				       "join multicast group '%s' (%d): %s",
				       VFIOSIM_GENL_MCGRP_EVENTS, group,
				       strerror(errno));
		goto fail;
	}
	*mon = m;
	return 0;
fail:
	vfiosim_nl_close(&m->nl);
	free(m);
	return ret;
}

int vfiosim_monitor_fd(const struct vfiosim_monitor *mon)
{
	return mon ? mon->nl.fd : -EINVAL;
}

/* The next event in the datagram at hand, or false when it is used up. */
static bool monitor_next(struct vfiosim_monitor *m, struct vfiosim_dev_event *ev)
{
	const struct nlattr *tb[VFIOSIM_ATTR_MAX + 1];
	struct attr_tb t = { tb, VFIOSIM_ATTR_MAX };
	const struct genlmsghdr *genl;
	const struct nlmsghdr *nlh;
	char uuid[64];

	while (m->next && vfiosim_nlmsg_ok(m->next, m->len)) {
		nlh = m->next;
		m->next = mnl_nlmsg_next(nlh, &m->len);
		if (nlh->nlmsg_type != m->nl.family ||
		    mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN)
			continue;
		genl = mnl_nlmsg_get_payload(nlh);
		memset(tb, 0, sizeof(tb));
		if (genl->cmd != VFIOSIM_CMD_EVENT ||
		    mnl_attr_parse(nlh, GENL_HDRLEN, attr_collect, &t) < 0)
			continue;
		memset(ev, 0, sizeof(*ev));
		ev->event = u32_attr(tb[VFIOSIM_ATTR_EVENT]);
		uuid[0] = '\0';
		copy_str_attr(tb[VFIOSIM_ATTR_DEV_UUID], uuid, sizeof(uuid));
		if (vfiosim_uuid_valid(uuid))
			vfiosim_uuid_normalize(uuid, ev->uuid);
		copy_str_attr(tb[VFIOSIM_ATTR_DEV_TYPE], ev->type,
			      sizeof(ev->type));
		return true;
	}
	m->next = NULL;
	return false;
}

int vfiosim_monitor_read(struct vfiosim_monitor *mon,
			 struct vfiosim_dev_event *ev, char *err, size_t errlen)
{
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t n;

	if (!mon || !ev)
		return vfiosim_fail_buf(err, errlen, EFAULT,
					"mon or ev is NULL");
	for (;;) {
		if (monitor_next(mon, ev))
			return 0;
		fromlen = sizeof(from);
		/* No EINTR retry: a signal is how a caller stops waiting. */
		n = recvfrom(mon->nl.fd, mon->nl.rx, mon->nl.rx_size,
			     MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == ENOBUFS)
			return vfiosim_fail_buf(err, errlen, ENOBUFS,
						"events were lost (receive buffer overrun)");
		if (n < 0)
			return vfiosim_fail_buf(err, errlen, errno,
						"netlink receive: %s",
						strerror(errno));
		if (from.nl_pid != 0 || (size_t)n > mon->nl.rx_size)
			continue;
		mon->next = (const void *)mon->nl.rx;
		mon->len = (int)n;
	}
}

void vfiosim_monitor_close(struct vfiosim_monitor *mon)
{
	if (!mon)
		return;
	vfiosim_nl_close(&mon->nl);
	free(mon);
}
