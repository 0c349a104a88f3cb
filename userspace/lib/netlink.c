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

struct nl_region {
	uint64_t offset;	/* as GET_REGION_INFO reported it */
	uint64_t size;
	int mmap_fd;		/* from GET_REGION_INFO, or -1 */
};

struct nl_priv {
	/*
	 * One request in flight per socket: ops from several threads (vCPUs
	 * sharing a device, as pread allows on VFIO) take turns.
	 */
	pthread_mutex_t lock;
	struct vfiosim_nl nl;
	char uuid[VFIOSIM_UUID_LEN + 1];
	uint16_t msg_id;
	uint32_t num_regions;
	struct nl_region *regions;
	unsigned char *tx;	/* VFIO_USER request, prefix prebuilt */
	size_t prefix_len;
};

static struct nl_priv *priv(struct vfiosim_dev *dev)
{
	return dev->priv;
}

/* Where the vfio-user message of the next request goes. */
static void *vu_msg(struct nl_priv *p)
{
	return p->tx + p->prefix_len + MNL_ATTR_HDRLEN;
}

/*
 * Send the vfio-user message of len bytes at vu_msg() with nfds fds and
 * wait for its reply.  Returns the reply's payload length and *payload,
 * or -errno with the reason in why (nothing formatted on success).  With
 * fd_out, *fd_out gets the first fd the reply carried (or -1); every
 * other fd is closed.
 */
static ssize_t vu_call(struct nl_priv *p, uint16_t command, uint16_t msg_id,
		       size_t len, const void *fds, size_t nfds,
		       const void **payload, int *fd_out, char *why)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)p->tx;
	struct nlattr *a = (struct nlattr *)(p->tx + p->prefix_len);
	struct vfiosim_nl_reply r;
	size_t i, skip = 0;
	ssize_t n;
	int ret;

	if (fd_out)
		*fd_out = -1;
	a->nla_type = VFIOSIM_ATTR_MSG;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + len);
	memset((unsigned char *)a + a->nla_len, 0,
	       MNL_ALIGN(a->nla_len) - a->nla_len);
	nlh->nlmsg_len = (uint32_t)(p->prefix_len + MNL_ALIGN(a->nla_len));
	if (nfds)
		mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, nfds * sizeof(int32_t),
			     fds);
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

/* A request whose payload the caller has put at vu_msg() + header. */
static ssize_t vu_simple(struct nl_priv *p, uint16_t command, size_t len,
			 const void *fds, size_t nfds, const void **payload,
			 int *fd_out, char *why)
{
	uint16_t id = ++p->msg_id;

	vfiosim_vu_request_init(vu_msg(p), id, command, NULL, len);
	return vu_call(p, command, id,
		       sizeof(struct vfiosim_user_header) + len, fds, nfds,
		       payload, fd_out, why);
}

static void *vu_payload(struct nl_priv *p)
{
	return (unsigned char *)vu_msg(p) + sizeof(struct vfiosim_user_header);
}

/*
 * A control command.  DEV_OPEN and DEV_CLOSE (uuid) ask for NLM_F_ACK and
 * wait for it, skipping a data reply should one come first; PING is
 * answered by a reply, which is all it waits for.  0 or -errno, why.
 */
static int nl_control(struct nl_priv *p, uint8_t cmd, bool uuid, char *why)
{
	char buf[256];
	struct vfiosim_nl_reply r;
	struct nlmsghdr *nlh;
	uint32_t seq;
	int ret;

	nlh = vfiosim_nl_request(&p->nl, buf, cmd, uuid ? NLM_F_ACK : 0);
	if (uuid)
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, p->uuid);
	ret = vfiosim_nl_send(&p->nl, nlh, why, NL_WHY_LEN);
	if (ret)
		return ret;
	seq = p->nl.seq;
	for (;;) {
		ret = vfiosim_nl_recv(&p->nl, seq, &r, why, NL_WHY_LEN);
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
		vfiosim_nl_error_text(&r, why, NL_WHY_LEN);
		return -r.error;
	}
}

static void nl_forget_fd(struct nl_region *reg)
{
	if (reg->mmap_fd >= 0)
		close(reg->mmap_fd);
	reg->mmap_fd = -1;
}

static void nl_close(struct vfiosim_dev *dev)
{
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];
	uint32_t i;

	if (!p)
		return;
	/* Closing the socket unbinds too; the command says it politely. */
	if (p->nl.sock && p->uuid[0])
		nl_control(p, VFIOSIM_CMD_DEV_CLOSE, true, why);
	for (i = 0; p->regions && i < p->num_regions; i++)
		nl_forget_fd(&p->regions[i]);
	vfiosim_nl_close(&p->nl);
	free(p->regions);
	free(p->tx);
	pthread_mutex_destroy(&p->lock);
	free(p);
	dev->priv = NULL;
}

/*
 * GET_REGION_INFO into info (argsz bytes at most), remembering the
 * region's offset, size and mmap fd.  0 or -errno with why.
 */
static int nl_region_info(struct nl_priv *p, struct vfio_region_info *info,
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

	memcpy(vu_payload(p), &req, sizeof(req));
	n = vu_simple(p, VFIOSIM_USER_DEVICE_GET_REGION_INFO, sizeof(req),
		      NULL, 0, &payload, &fd, why);
	if (n < 0)
		return (int)n;
	memcpy(info, payload, (size_t)n < req.argsz ? (size_t)n : req.argsz);
	if (req.index < p->num_regions && (size_t)n >= sizeof(got)) {
		struct nl_region *reg = &p->regions[req.index];

		memcpy(&got, payload, sizeof(got));
		reg->offset = got.offset;
		reg->size = got.size;
		if (fd >= 0) {
			nl_forget_fd(reg);
			reg->mmap_fd = fd;
		}
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
}

static int nl_cache_regions(struct vfiosim_dev *dev)
{
	struct nl_priv *p = priv(dev);
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	char why[NL_WHY_LEN];
	const void *payload;
	uint32_t i, num;
	ssize_t n;
	int ret;

	memcpy(vu_payload(p), &dinfo, sizeof(dinfo));
	n = vu_simple(p, VFIOSIM_USER_DEVICE_GET_INFO, sizeof(dinfo), NULL, 0,
		      &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "DEVICE_GET_INFO: %s", why);
	if ((size_t)n < offsetof(struct vfio_device_info, cap_offset))
		return vfiosim_fail(dev, EPROTO,
				    "DEVICE_GET_INFO: malformed reply: %zd bytes",
				    n);
	memcpy(&dinfo, payload, (size_t)n < sizeof(dinfo) ? (size_t)n :
	       sizeof(dinfo));
	num = dinfo.num_regions;
	p->regions = calloc(num ? num : 1, sizeof(*p->regions));
	if (!p->regions)
		return vfiosim_fail(dev, ENOMEM, "%u regions: out of memory",
				    num);
	for (i = 0; i < num; i++)
		p->regions[i].mmap_fd = -1;
	p->num_regions = num;
	for (i = 0; i < num; i++) {
		struct vfio_region_info rinfo = {
			.argsz = sizeof(rinfo),
			.index = i,
		};

		ret = nl_region_info(p, &rinfo, why);
		if (ret)
			return vfiosim_fail(dev, -ret,
					    "DEVICE_GET_REGION_INFO region %u (%s): %s",
					    i, vfiosim_region_name(i), why);
	}
	return 0;
}

/* The fixed start of every VFIO_USER request, built once. */
static void nl_build_prefix(struct nl_priv *p)
{
	struct nlmsghdr *nlh;

	nlh = vfiosim_nl_request(&p->nl, p->tx, VFIOSIM_CMD_VFIO_USER, 0);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, p->uuid);
	p->prefix_len = nlh->nlmsg_len;
}

static int nl_open(struct vfiosim_dev *dev, const char *target)
{
	char why[NL_WHY_LEN];
	struct nl_priv *p;
	int ret;

	if (!vfiosim_uuid_valid(target))
		return vfiosim_fail(dev, EINVAL,
				    "invalid uuid '%s' (expected 8-4-4-4-12 hex digits)",
				    target);
	p = calloc(1, sizeof(*p));
	if (!p)
		return vfiosim_fail(dev, ENOMEM, "out of memory");
	vfiosim_uuid_normalize(target, p->uuid);
	/* The kernel names devices in lower case; so must our messages. */
	snprintf(dev->name, sizeof(dev->name), "netlink:%s", p->uuid);
	p->nl.fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	dev->priv = p;

	p->tx = malloc(NL_TX_SIZE);
	if (!p->tx) {
		ret = vfiosim_fail(dev, ENOMEM, "out of memory");
		goto fail_free;
	}
	ret = vfiosim_nl_open(&p->nl, NL_RX_SIZE, why, sizeof(why));
	if (ret) {
		vfiosim_fail(dev, -ret, "%s", why);
		goto fail_free;
	}
	ret = nl_control(p, VFIOSIM_CMD_DEV_OPEN, true, why);
	if (ret) {
		vfiosim_fail(dev, -ret, "DEV_OPEN: %s", why);
		goto fail_free;
	}
	nl_build_prefix(p);
	ret = nl_cache_regions(dev);
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

/* ---- the info ops -------------------------------------------------- */

/*
 * Send len bytes of the caller's struct, copy the reply back bounded by
 * its argsz.
 */
static int nl_info_op(struct vfiosim_dev *dev, uint16_t command, void *arg,
		      size_t len, uint32_t argsz, const char *what)
{
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];
	const void *payload;
	ssize_t n;

	if (len > NL_VU_PAYLOAD_MAX)
		return vfiosim_fail(dev, EINVAL,
				    "%s%s: argsz %u does not fit one vfio-user message (%zu bytes)",
				    vfiosim_vu_command_name(command), what,
				    argsz, (size_t)NL_VU_PAYLOAD_MAX);
	memcpy(vu_payload(p), arg, len);
	n = vu_simple(p, command, len, NULL, 0, &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "%s%s: %s",
				    vfiosim_vu_command_name(command), what,
				    why);
	memcpy(arg, payload, (size_t)n < argsz ? (size_t)n : argsz);
	return 0;
}

static int nl_get_device_info_locked(struct vfiosim_dev *dev,
			      struct vfio_device_info *info)
{
	return nl_info_op(dev, VFIOSIM_USER_DEVICE_GET_INFO, info,
			  sizeof(*info), info->argsz, "");
}

static int nl_get_region_info_locked(struct vfiosim_dev *dev,
			      struct vfio_region_info *info)
{
	char why[NL_WHY_LEN];
	int ret;

	ret = nl_region_info(priv(dev), info, why);
	if (ret)
		return vfiosim_fail(dev, -ret,
				    "DEVICE_GET_REGION_INFO region %u (%s): %s",
				    info->index,
				    vfiosim_region_name(info->index), why);
	return 0;
}

static int nl_get_irq_info_locked(struct vfiosim_dev *dev,
				   struct vfio_irq_info *info)
{
	char what[32];

	snprintf(what, sizeof(what), " irq index %u", info->index);
	return nl_info_op(dev, VFIOSIM_USER_DEVICE_GET_IRQ_INFO, info,
			  sizeof(*info), info->argsz, what);
}

static int nl_device_feature_locked(struct vfiosim_dev *dev,
			     struct vfio_device_feature *feature)
{
	size_t len = feature->argsz;
	char what[32];

	/* The header is always there to read; the kernel judges argsz. */
	if (len < sizeof(*feature))
		len = sizeof(*feature);
	snprintf(what, sizeof(what), " flags 0x%x", feature->flags);
	return nl_info_op(dev, VFIOSIM_USER_DEVICE_FEATURE, feature, len,
			  feature->argsz, what);
}

static int nl_set_irqs_locked(struct vfiosim_dev *dev,
			      struct vfio_irq_set *set)
{
	struct nl_priv *p = priv(dev);
	const unsigned char *data = (const unsigned char *)set + sizeof(*set);
	char why[NL_WHY_LEN];
	const void *payload;
	size_t data_len, nfds;
	ssize_t n;
	int ret;

	ret = vfiosim_vu_set_irqs_layout(set, &data_len, &nfds, why,
					 sizeof(why));
	/* vfio-user's max_msg_fds; no device has more vectors either. */
	if (!ret && nfds > NL_MAX_FDS)
		ret = vfiosim_fail_buf(why, sizeof(why), EINVAL,
				       "%zu eventfds, more than one message carries (%u)",
				       nfds, NL_MAX_FDS);
	if (!ret && data_len > NL_VU_PAYLOAD_MAX - sizeof(*set))
		ret = vfiosim_fail_buf(why, sizeof(why), EINVAL,
				       "argsz %u does not fit one vfio-user message (%zu bytes)",
				       set->argsz, (size_t)NL_VU_PAYLOAD_MAX);
	if (!ret) {
		memcpy(vu_payload(p), set, sizeof(*set));
		memcpy((unsigned char *)vu_payload(p) + sizeof(*set), data,
		       data_len);
		n = vu_simple(p, VFIOSIM_USER_DEVICE_SET_IRQS,
			      sizeof(*set) + data_len, nfds ? data : NULL,
			      nfds, &payload, NULL, why);
		ret = n < 0 ? (int)n : 0;
	}
	if (ret)
		return vfiosim_fail(dev, -ret,
				    "DEVICE_SET_IRQS irq index %u start %u count %u flags 0x%x: %s",
				    set->index, set->start, set->count,
				    set->flags, why);
	return 0;
}

static int nl_reset_locked(struct vfiosim_dev *dev)
{
	char why[NL_WHY_LEN];
	const void *payload;
	ssize_t n;

	n = vu_simple(priv(dev), VFIOSIM_USER_DEVICE_RESET, 0, NULL, 0,
		      &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "DEVICE_RESET: %s", why);
	return 0;
}

/* ---- regions ------------------------------------------------------- */

/* As the vfio backend words it, plus the transport's reason if any. */
static int nl_region_fail(struct vfiosim_dev *dev, const char *what,
			  uint32_t index, uint64_t offset, size_t count,
			  int err, const char *why)
{
	struct nl_priv *p = priv(dev);
	char msg[VFIOSIM_ERR_LEN];

	if (index >= p->num_regions)
		return vfiosim_fail(dev, err,
				    "%s region %u: no such region (device has %u): %s",
				    what, index, p->num_regions, why);
	if (strcmp(why, strerror(err)))
		return vfiosim_fail(dev, err,
				    "%s region %u (%s) offset 0x%llx+%zu: %s",
				    what, index, vfiosim_region_name(index),
				    (unsigned long long)offset, count, why);
	vfiosim_format_region_err(msg, sizeof(msg), what, index, offset,
				  count, p->regions[index].size, err);
	return vfiosim_fail(dev, err, "%s", msg);
}

/* One REGION_READ/WRITE message: bytes done or -errno with why. */
static ssize_t nl_region_one(struct nl_priv *p, bool write, uint32_t index,
			     uint64_t offset, void *buf, uint32_t count,
			     char *why)
{
	uint16_t id = ++p->msg_id;
	const void *payload;
	size_t len;
	ssize_t n;

	len = vfiosim_vu_region_request(vu_msg(p), id, write, index, offset,
					buf, count);
	n = vu_call(p, write ? VFIOSIM_USER_REGION_WRITE :
		    VFIOSIM_USER_REGION_READ, id, len, NULL, 0, &payload, NULL,
		    why);
	if (n < 0)
		return n;
	return vfiosim_vu_region_reply(payload, (size_t)n, write, index,
				       offset, buf, count, why, NL_WHY_LEN);
}

static ssize_t nl_region_rw(struct vfiosim_dev *dev, bool write,
			    uint32_t index, uint64_t offset, void *buf,
			    size_t count)
{
	const char *what = write ? "write" : "read";
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];
	size_t done = 0;
	uint64_t size;
	ssize_t n;

	if (!count)
		return 0;
	if (count <= VFIOSIM_USER_MAX_DATA_XFER) {
		n = nl_region_one(p, write, index, offset, buf,
				  (uint32_t)count, why);
		if (n < 0)
			return nl_region_fail(dev, what, index, offset, count,
					      (int)-n, why);
		return n;
	}
	/* Split: refuse what does not fit before touching anything. */
	size = index < p->num_regions ? p->regions[index].size : 0;
	if (count > size || offset > size - count)
		return nl_region_fail(dev, what, index, offset, count, EINVAL,
				      strerror(EINVAL));
	while (done < count) {
		size_t len = count - done;

		if (len > VFIOSIM_USER_MAX_DATA_XFER)
			len = VFIOSIM_USER_MAX_DATA_XFER;
		n = nl_region_one(p, write, index, offset + done,
				  (unsigned char *)buf + done, (uint32_t)len,
				  why);
		if (n < 0) {
			if (done)
				break;
			return nl_region_fail(dev, what, index, offset, count,
					      (int)-n, why);
		}
		done += (size_t)n;
		if ((size_t)n < len)
			break;
	}
	return (ssize_t)done;
}

static ssize_t nl_region_read_locked(struct vfiosim_dev *dev, uint32_t index,
			      uint64_t offset, void *buf, size_t count)
{
	return nl_region_rw(dev, false, index, offset, buf, count);
}

static ssize_t nl_region_write_locked(struct vfiosim_dev *dev, uint32_t index,
			       uint64_t offset, const void *buf, size_t count)
{
	/* A write only reads buf: nl_region_one copies it into the request. */
	return nl_region_rw(dev, true, index, offset, (void *)buf, count);
}

static int nl_region_write_multi_locked(struct vfiosim_dev *dev,
				 const struct vfiosim_write_op *ops, size_t n)
{
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];
	const void *payload;
	size_t i, chunk, len;
	uint16_t id;
	ssize_t ret;

	for (i = 0; i < n; i += chunk) {
		chunk = n - i;
		if (chunk > VFIOSIM_USER_WRITE_MULTI_MAX)
			chunk = VFIOSIM_USER_WRITE_MULTI_MAX;
		id = ++p->msg_id;
		len = vfiosim_vu_write_multi_request(vu_msg(p), id, ops + i,
						     chunk);
		ret = vu_call(p, VFIOSIM_USER_REGION_WRITE_MULTI, id, len,
			      NULL, 0, &payload, NULL, why);
		if (ret < 0)
			return vfiosim_fail(dev, (int)-ret,
					    "REGION_WRITE_MULTI writes %zu..%zu of %zu: %s",
					    i, i + chunk - 1, n, why);
	}
	return 0;
}

static int nl_region_mmap_locked(struct vfiosim_dev *dev, uint32_t index,
			  uint64_t offset, size_t len, int prot, void **addr)
{
	struct nl_priv *p = priv(dev);
	char why[NL_WHY_LEN];
	void *map;
	int ret;

	if (index >= p->num_regions)
		return nl_region_fail(dev, "mmap", index, offset, len, EINVAL,
				      strerror(EINVAL));
	if (p->regions[index].mmap_fd < 0) {
		struct vfio_region_info info = {
			.argsz = sizeof(info),
			.index = index,
		};

		ret = nl_region_info(p, &info, why);
		if (ret)
			return vfiosim_fail(dev, -ret,
					    "mmap region %u (%s): DEVICE_GET_REGION_INFO: %s",
					    index, vfiosim_region_name(index),
					    why);
	}
	if (p->regions[index].mmap_fd < 0)
		return vfiosim_fail(dev, EINVAL,
				    "mmap region %u (%s): not mmappable (the kernel gave no mmap fd): %s",
				    index, vfiosim_region_name(index),
				    strerror(EINVAL));
	if (offset >= VFIOSIM_REGION_OFFSET(1))
		return vfiosim_fail(dev, EINVAL,
				    "mmap region %u (%s): offset 0x%llx beyond the region window",
				    index, vfiosim_region_name(index),
				    (unsigned long long)offset);
	map = mmap(NULL, len, prot, MAP_SHARED, p->regions[index].mmap_fd,
		   (off_t)(p->regions[index].offset + offset));
	if (map == MAP_FAILED)
		return nl_region_fail(dev, "mmap", index, offset, len, errno,
				      strerror(errno));
	*addr = map;
	return 0;
}

/* ---- DMA ----------------------------------------------------------- */

static int nl_dma_map_locked(struct vfiosim_dev *dev,
		      const struct vfiosim_dma_map *map)
{
	struct nl_priv *p = priv(dev);
	struct vfiosim_user_dma_map req = {
		.argsz = sizeof(req),
		.flags = map->flags,
		.offset = map->offset,
		.addr = map->iova,
		.size = map->size,
	};
	int32_t fd = map->fd;
	char why[NL_WHY_LEN];
	const void *payload;
	ssize_t n;

	memcpy(vu_payload(p), &req, sizeof(req));
	n = vu_simple(p, VFIOSIM_USER_DMA_MAP, sizeof(req),
		      fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &payload, NULL,
		      why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n,
				    "DMA_MAP iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)map->iova,
				    (unsigned long long)map->size, why);
	return 0;
}

static int nl_dma_unmap_locked(struct vfiosim_dev *dev, uint64_t iova,
			uint64_t size, uint32_t flags)
{
	struct nl_priv *p = priv(dev);
	struct vfiosim_user_dma_unmap req = {
		.argsz = sizeof(req),
		.flags = flags,
		.addr = iova,
		.size = size,
	};
	char why[NL_WHY_LEN];
	const void *payload;
	ssize_t n;

	memcpy(vu_payload(p), &req, sizeof(req));
	n = vu_simple(p, VFIOSIM_USER_DMA_UNMAP, sizeof(req), NULL, 0,
		      &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n,
				    "DMA_UNMAP iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)iova,
				    (unsigned long long)size, why);
	return 0;
}

static int nl_ping_locked(struct vfiosim_dev *dev)
{
	char why[NL_WHY_LEN];
	int ret;

	ret = nl_control(priv(dev), VFIOSIM_CMD_PING, false, why);
	if (ret)
		return vfiosim_fail(dev, -ret, "PING: %s", why);
	return 0;
}

/* Every op takes the device's lock for its whole round trip. */
#define NL_LOCKED(ret_t, name, params, args)				\
static ret_t nl_##name params					\
{									\
	struct nl_priv *p = priv(dev);					\
	ret_t ret;							\
									\
	pthread_mutex_lock(&p->lock);					\
	ret = nl_##name##_locked args;					\
	pthread_mutex_unlock(&p->lock);					\
	return ret;							\
}

NL_LOCKED(int, get_device_info,
	  (struct vfiosim_dev *dev, struct vfio_device_info *info),
	  (dev, info))
NL_LOCKED(int, get_region_info,
	  (struct vfiosim_dev *dev, struct vfio_region_info *info),
	  (dev, info))
NL_LOCKED(int, get_irq_info,
	  (struct vfiosim_dev *dev, struct vfio_irq_info *info),
	  (dev, info))
NL_LOCKED(int, device_feature,
	  (struct vfiosim_dev *dev, struct vfio_device_feature *feature),
	  (dev, feature))
NL_LOCKED(int, set_irqs,
	  (struct vfiosim_dev *dev, struct vfio_irq_set *set),
	  (dev, set))
NL_LOCKED(int, reset, (struct vfiosim_dev *dev), (dev))
NL_LOCKED(ssize_t, region_read,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   void *buf, size_t count),
	  (dev, index, offset, buf, count))
NL_LOCKED(ssize_t, region_write,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   const void *buf, size_t count),
	  (dev, index, offset, buf, count))
NL_LOCKED(int, region_write_multi,
	  (struct vfiosim_dev *dev, const struct vfiosim_write_op *ops,
	   size_t n),
	  (dev, ops, n))
NL_LOCKED(int, region_mmap,
	  (struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
	   size_t len, int prot, void **addr),
	  (dev, index, offset, len, prot, addr))
NL_LOCKED(int, dma_map,
	  (struct vfiosim_dev *dev, const struct vfiosim_dma_map *map),
	  (dev, map))
NL_LOCKED(int, dma_unmap,
	  (struct vfiosim_dev *dev, uint64_t iova, uint64_t size,
	   uint32_t flags),
	  (dev, iova, size, flags))
NL_LOCKED(int, ping, (struct vfiosim_dev *dev), (dev))

const struct vfiosim_io_ops vfiosim_netlink_ops = {
	.name = "netlink",
	.open = nl_open,
	.close = nl_close,
	.get_device_info = nl_get_device_info,
	.get_region_info = nl_get_region_info,
	.get_irq_info = nl_get_irq_info,
	.set_irqs = nl_set_irqs,
	.region_read = nl_region_read,
	.region_write = nl_region_write,
	.region_mmap = nl_region_mmap,
	.device_feature = nl_device_feature,
	.reset = nl_reset,
	.dma_map = nl_dma_map,
	.dma_unmap = nl_dma_unmap,
	.region_write_multi = nl_region_write_multi,
	.ping = nl_ping,
};
