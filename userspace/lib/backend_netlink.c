// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The "netlink" backend: vfio-user messages to the module over the
 * "vfiosim" generic netlink family (see uapi/linux/vfiosim.h).
 *
 * One netlink socket per device: DEV_OPEN binds the device to it, and
 * closing it unbinds.  Every op is one VFIOSIM_CMD_VFIO_USER request with
 * a whole vfio-user message in VFIOSIM_ATTR_MSG and no NLM_F_ACK: the
 * reply, or a netlink error, is the answer.  File descriptors travel as
 * numbers in VFIOSIM_ATTR_FDS.
 *
 * Hot path: the request prefix (netlink and genl headers, the uuid) is
 * built once at open in a per-device buffer, and each op writes only its
 * vfio-user message after it: one sendto and one recvfrom, no allocation.
 * A region access over VFIOSIM_USER_MAX_DATA_XFER bytes is split into
 * several messages after checking the whole range against the region
 * size read at open, as the VFIO path refuses it before touching
 * anything; if a later piece fails, the bytes done so far are returned,
 * like pread.
 *
 * A device may be used by several threads for region accesses, as with
 * VFIO's pread/pwrite: each op holds a per-device mutex around its round
 * trip(s), since replies come back on the one socket the device is bound
 * to.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "vfiosim_int.h"

/*
 * The largest vfio-user message the kernel takes: a region access with
 * VFIOSIM_USER_MAX_DATA_XFER bytes; and the fds one message may carry.
 */
#define NL_VU_MSG_MAX		(sizeof(struct vfiosim_user_header) + \
				 sizeof(struct vfiosim_user_region_access) + \
				 VFIOSIM_USER_MAX_DATA_XFER)
#define NL_VU_PAYLOAD_MAX	(NL_VU_MSG_MAX - sizeof(struct vfiosim_user_header))
#define NL_MAX_FDS		VFIOSIM_USER_MAX_MSG_FDS
#define NL_TX_SIZE		(512 + NL_VU_MSG_MAX + NL_MAX_FDS * 4 + 64)
#define NL_RX_SIZE		(NL_VU_MSG_MAX + 8192)
#define NL_WHY_LEN		VFIOSIM_ERR_LEN

_Static_assert(VFIOSIM_USER_MAX_DATA_XFER +
	       sizeof(struct vfiosim_user_region_access) <= NL_VU_PAYLOAD_MAX,
	       "a full region access must fit one message");
_Static_assert(sizeof(uint64_t) + VFIOSIM_USER_WRITE_MULTI_MAX *
	       sizeof(struct vfiosim_user_write_multi_entry) <=
	       NL_VU_PAYLOAD_MAX, "a full write batch must fit one message");

struct nl_priv {
	struct vu_client vc;	/* first: the ops find it at dev->priv */
	struct vfiosim_nl nl;
	char uuid[VFIOSIM_UUID_LEN + 1];
	unsigned char *tx;	/* VFIO_USER request, prefix prebuilt */
	size_t prefix_len;
};

static struct nl_priv *priv(struct vfiosim_dev *dev)
{
	return dev->priv;
}

/* Where the vfio-user message of the next request goes. */
static void *nl_msg(struct nl_priv *p)
{
	return p->tx + p->prefix_len + MNL_ATTR_HDRLEN;
}

/* Put the vfio-user message of len bytes (and nfds fds) into the request. */
static struct nlmsghdr *nl_request(struct nl_priv *p, size_t len,
				   const void *fds, size_t nfds)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)p->tx;
	struct nlattr *a = (struct nlattr *)(p->tx + p->prefix_len);

	a->nla_type = VFIOSIM_ATTR_MSG;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + len);
	memset((unsigned char *)a + a->nla_len, 0,
	       MNL_ALIGN(a->nla_len) - a->nla_len);
	nlh->nlmsg_len = (uint32_t)(p->prefix_len + MNL_ALIGN(a->nla_len));
	if (nfds)
		mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, nfds * sizeof(int32_t),
			     fds);
	return nlh;
}

/*
 * A NO_REPLY message: the kernel sends nothing back on success nor for a
 * vfio-user error (genl.c); a netlink-level error (the session ended)
 * comes as an NLMSG_ERROR for this seq, which the next call's receive
 * drops as stale.
 */
static int nl_post(struct vu_client *c, size_t len, char *why)
{
	struct nl_priv *p = (struct nl_priv *)c;

	return vfiosim_nl_send(&p->nl, nl_request(p, len, NULL, 0), why,
			       NL_WHY_LEN);
}

/*
 * Send the vfio-user message of len bytes at nl_msg() with nfds fds and
 * wait for its reply.  Returns the reply's payload length and *payload,
 * or -errno with the reason in why (nothing formatted on success).  With
 * fd_out, *fd_out gets the first fd the reply carried (or -1); every
 * other fd is closed.
 */
static ssize_t nl_call(struct vu_client *c, uint16_t command,
		       uint16_t msg_id, size_t len, const void *fds,
		       size_t nfds, const void **payload, int *fd_out,
		       char *why)
{
	struct nl_priv *p = (struct nl_priv *)c;
	struct nlmsghdr *nlh;
	struct vfiosim_nl_reply r;
	size_t i, skip = 0;
	ssize_t n;
	int ret;

	if (fd_out)
		*fd_out = -1;
	nlh = nl_request(p, len, fds, nfds);
	ret = vfiosim_nl_send(&p->nl, nlh, why, NL_WHY_LEN);
	if (!ret)
		ret = vfiosim_nl_recv(&p->nl, p->nl.seq, &r, why, NL_WHY_LEN);
	if (ret)
		return ret;
	if (r.is_error) {
		if (!r.error) {
			snprintf(why, NL_WHY_LEN,
				 "malformed reply: an ack instead of a vfio-user reply");
			return -EPROTO;
		}
		vfiosim_nl_error_text(&r, why, NL_WHY_LEN);
		return -r.error;
	}
	if (!r.msg) {
		vfiosim_nl_close_fds(&r);
		snprintf(why, NL_WHY_LEN,
			 "malformed reply: no vfio-user message in it");
		return -EPROTO;
	}
	n = vfiosim_vu_reply_check(r.msg, r.msg_len, msg_id, command, why,
				   NL_WHY_LEN);
	if (n < 0) {
		vfiosim_nl_close_fds(&r);
		return n;
	}
	if (fd_out && r.nfds) {
		int32_t fd;

		memcpy(&fd, r.fds, sizeof(fd));
		*fd_out = fd;
		skip = 1;
	}
	for (i = skip; i < r.nfds; i++) {
		int32_t fd;

		memcpy(&fd, (const unsigned char *)r.fds + i * sizeof(fd),
		       sizeof(fd));
		if (fd >= 0)
			close(fd);
	}
	*payload = (const unsigned char *)r.msg +
		   sizeof(struct vfiosim_user_header);
	return n;
}

static void nl_close(struct vfiosim_dev *dev)
{
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];

	if (!p)
		return;
	/* Closing the socket unbinds too; the command says it politely. */
	if (p->nl.sock && p->uuid[0])
		vfiosim_nl_control(&p->nl, VFIOSIM_CMD_DEV_CLOSE, p->uuid, why,
				   sizeof(why));
	vu_client_forget_regions(&p->vc);
	vfiosim_nl_close(&p->nl);
	free(p->tx);
	pthread_mutex_destroy(&p->vc.lock);
	free(p);
	dev->priv = NULL;
}

/* The fixed start of every VFIO_USER request, built once. */
static void nl_build_prefix(struct nl_priv *p)
{
	struct nlmsghdr *nlh;

	nlh = vfiosim_nl_request(&p->nl, p->tx, VFIOSIM_CMD_VFIO_USER, 0);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, p->uuid);
	p->prefix_len = nlh->nlmsg_len;
	p->vc.msg = nl_msg(p);
}

static int nl_open(struct vfiosim_dev *dev, const char *target)
{
	char why[NL_WHY_LEN];
	struct nl_priv *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return vfiosim_fail(dev, ENOMEM, "out of memory");
	ret = vfiosim_uuid_check(target, p->uuid, why, sizeof(why));
	if (ret) {
		free(p);
		return vfiosim_fail(dev, -ret, "%s", why);
	}
	/* The kernel names devices in lower case; so must our messages. */
	snprintf(dev->name, sizeof(dev->name), "netlink:%s", p->uuid);
	p->nl.fd = -1;
	vu_client_init(&p->vc);
	p->vc.call = nl_call;
	p->vc.post = nl_post;
	p->vc.payload_max = NL_VU_PAYLOAD_MAX;
	p->vc.max_xfer = VFIOSIM_USER_MAX_DATA_XFER;
	p->vc.max_fds = NL_MAX_FDS;
	/* The kernel takes fds as numbers: -1 travels as it is. */
	p->vc.split_irq_runs = false;
	p->vc.write_multiple = true;
	p->vc.peer = "kernel";
	dev->priv = p;

	p->tx = malloc(NL_TX_SIZE);
	if (!p->tx) {
		ret = vfiosim_fail(dev, ENOMEM, "out of memory");
		goto fail_free;
	}
	ret = vfiosim_nl_dev_open(&p->nl, NL_RX_SIZE, p->uuid, why,
				  sizeof(why));
	if (ret) {
		vfiosim_fail(dev, -ret, "%s", why);
		goto fail_free;
	}
	nl_build_prefix(p);
	ret = vu_client_cache_regions(dev);
	if (ret)
		goto fail;
	return 0;

fail_free:
	/* Not bound: nothing to DEV_CLOSE. */
	p->uuid[0] = '\0';
fail:
	nl_close(dev);
	return ret;
}

static int nl_ping_locked(struct vfiosim_dev *dev)
{
	char why[NL_WHY_LEN];
	int ret;

	ret = vfiosim_nl_control(&priv(dev)->nl, VFIOSIM_CMD_PING, NULL, why,
				 sizeof(why));
	if (ret)
		return vfiosim_fail(dev, -ret, "PING: %s", why);
	return 0;
}

static int nl_ping(struct vfiosim_dev *dev)
{
	struct nl_priv *p = priv(dev);
	int ret;

	pthread_mutex_lock(&p->vc.lock);
	ret = nl_ping_locked(dev);
	pthread_mutex_unlock(&p->vc.lock);
	return ret;
}

const struct vfiosim_io_ops vfiosim_netlink_ops = {
	.name = "netlink",
	.open = nl_open,
	.close = nl_close,
	VU_CLIENT_OPS,
	.ping = nl_ping,
};
