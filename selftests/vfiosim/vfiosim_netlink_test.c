// SPDX-License-Identifier: GPL-2.0
/*
 * The "vfiosim" generic netlink family, spoken raw with libmnl: every
 * message is built here, byte by byte, so these tests hold the kernel to
 * the contract in uapi/linux/vfiosim.h (above VFIOSIM_GENL_NAME) without
 * going through libvfiosim's netlink backend.
 *
 *  - PING, DEV_GET (do and dump), unknown devices (errno + extack);
 *  - ownership: one netlink socket or one VFIO user at a time;
 *  - closing the owning socket (or DEV_CLOSE) releases eventfds and DMA
 *    mappings;
 *  - CAP_SYS_ADMIN on every command and the events group, CAP_NET_ADMIN
 *    is not enough;
 *  - sessions belong to sockets, not portids; events in order; the region
 *    fd of GET_REGION_INFO valid for any thread that reads the reply;
 *  - VERSION, DMA_MAP/DMA_UNMAP semantics, NO_REPLY;
 *  - a stream of 100000 malformed vfio-user messages: each one answered
 *    with an error, the device still working afterwards.
 *
 * Skipped when the module or the family is absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/magic.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"
#include "vfiosim_util.h"

#define NL_RECV_TIMEOUT_S	10
#define NL_BUF_SIZE		(1 << 17)
#define NL_MAX_SOCKS		8
#define VU_HDR_SIZE		sizeof(struct vfiosim_user_header)
#define PAGE			4096ULL

/* The family id and the events group, resolved once per test process. */
static uint16_t vfiosim_family;
static uint32_t vfiosim_events_group;

/* One netlink socket. */
struct nl {
	struct mnl_socket *sk;
	uint32_t portid;
	uint32_t seq;
	uint16_t msg_id;
};

/* Sockets still open, closed by the teardown before the device goes. */
static struct nl *open_socks[NL_MAX_SOCKS];

/* What came back for one request. */
struct nl_reply {
	int error;			/* 0, or -errno from NLMSG_ERROR/DONE */
	char extack[256];		/* NLMSGERR_ATTR_MSG */
	unsigned int genl_msgs;		/* genetlink messages received */
	/* DEV_GET; for a dump, the entry whose uuid is want_uuid */
	const char *want_uuid;
	unsigned int devs;		/* dump: entries */
	bool found;
	char uuid[64];
	char type[64];
	bool has_owner, has_portid, has_counters;
	uint32_t owner, owner_portid;
	/* VFIO_USER */
	uint8_t msg[NL_BUF_SIZE];
	size_t msg_len;			/* 0: no VFIOSIM_ATTR_MSG */
	int fds[VFIOSIM_USER_MAX_MSG_FDS];
	int nfds;
	char why[512];			/* what went wrong, for TH_LOG */
};

static void close_fds(struct nl_reply *r)
{
	int i;

	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
}

static struct nl_reply *reply_new(void)
{
	struct nl_reply *r = calloc(1, sizeof(*r));

	if (!r) {
		perror("calloc");
		abort();
	}
	return r;
}

static void reply_reset(struct nl_reply *r)
{
	const char *want = r->want_uuid;

	close_fds(r);
	memset(r, 0, offsetof(struct nl_reply, msg));
	r->want_uuid = want;
	r->msg_len = 0;
	r->nfds = 0;
	r->why[0] = '\0';
}

static int sock_setup(struct mnl_socket *sk)
{
	int one = 1, big = 8 << 20, fd = mnl_socket_get_fd(sk);
	struct timeval tv = { .tv_sec = NL_RECV_TIMEOUT_S };

	if (mnl_socket_setsockopt(sk, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    mnl_socket_setsockopt(sk, NETLINK_CAP_ACK, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	/* Room for a whole batch of replies (root only; best effort). */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	return 0;
}

/* Open a socket bound to portid (or MNL_SOCKET_AUTOPID); 0 or -errno. */
static int nl_open_portid(struct nl *nl, uint32_t portid)
{
	int i, ret;

	memset(nl, 0, sizeof(*nl));
	nl->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sk)
		return -errno;
	if (mnl_socket_bind(nl->sk, 0, portid)) {
		ret = -errno;
		goto fail;
	}
	ret = sock_setup(nl->sk);
	if (ret)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (uint32_t)time(NULL);
	for (i = 0; i < NL_MAX_SOCKS; i++) {
		if (!open_socks[i]) {
			open_socks[i] = nl;
			break;
		}
	}
	return 0;
fail:
	mnl_socket_close(nl->sk);
	nl->sk = NULL;
	return ret;
}

static int nl_open(struct nl *nl)
{
	return nl_open_portid(nl, MNL_SOCKET_AUTOPID);
}

/* Forget nl without closing it: another thread closes it. */
static void nl_forget(struct nl *nl)
{
	int i;

	for (i = 0; i < NL_MAX_SOCKS; i++)
		if (open_socks[i] == nl)
			open_socks[i] = NULL;
}

static void nl_close(struct nl *nl)
{
	int i;

	if (!nl->sk)
		return;
	for (i = 0; i < NL_MAX_SOCKS; i++)
		if (open_socks[i] == nl)
			open_socks[i] = NULL;
	mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

static void nl_close_all(void)
{
	int i;

	for (i = 0; i < NL_MAX_SOCKS; i++)
		if (open_socks[i])
			nl_close(open_socks[i]);
}

/* NLMSG_ERROR: the errno and the extack message. */
static void parse_error(const struct nlmsghdr *nlh, struct nl_reply *r)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	unsigned int off = sizeof(*e);

	r->error = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(attr, nlh, off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			snprintf(r->extack, sizeof(r->extack), "%s",
				 mnl_attr_get_str(attr));
	}
}

static void copy_str(char *dst, size_t len, const struct nlattr *attr)
{
	size_t n = mnl_attr_get_payload_len(attr);

	if (n >= len)
		n = len - 1;
	memcpy(dst, mnl_attr_get_payload(attr), n);
	dst[n] = '\0';
}

/* A genetlink message of our family. */
static void parse_genl(const struct nlmsghdr *nlh, struct nl_reply *r)
{
	const struct nlattr *attr;
	char uuid[64] = "", type[64] = "";
	bool owner = false, portid = false, counters = false;
	uint32_t owner_v = 0, portid_v = 0;

	r->genl_msgs++;
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		size_t len = mnl_attr_get_payload_len(attr);

		switch (mnl_attr_get_type(attr)) {
		case VFIOSIM_ATTR_DEV_UUID:
			copy_str(uuid, sizeof(uuid), attr);
			break;
		case VFIOSIM_ATTR_DEV_TYPE:
			copy_str(type, sizeof(type), attr);
			break;
		case VFIOSIM_ATTR_DEV_OWNER:
			owner = len == 4;
			owner_v = owner ? mnl_attr_get_u32(attr) : 0;
			break;
		case VFIOSIM_ATTR_DEV_OWNER_PORTID:
			portid = len == 4;
			portid_v = portid ? mnl_attr_get_u32(attr) : 0;
			break;
		case VFIOSIM_ATTR_DEV_COUNTERS:
			counters = true;
			break;
		case VFIOSIM_ATTR_MSG:
			if (len > sizeof(r->msg))
				len = sizeof(r->msg);
			memcpy(r->msg, mnl_attr_get_payload(attr), len);
			r->msg_len = len;
			break;
		case VFIOSIM_ATTR_FDS: {
			const int32_t *fds = mnl_attr_get_payload(attr);
			size_t i;

			for (i = 0; i < len / 4; i++) {
				if (r->nfds < VFIOSIM_USER_MAX_MSG_FDS)
					r->fds[r->nfds++] = fds[i];
				else
					close(fds[i]);
			}
			break;
		}
		}
	}
	if (uuid[0])
		r->devs++;
	if (r->want_uuid && strcasecmp(uuid, r->want_uuid))
		return;
	r->found = true;
	snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
	snprintf(r->type, sizeof(r->type), "%s", type);
	r->has_owner = owner;
	r->owner = owner_v;
	r->has_portid = portid;
	r->owner_portid = portid_v;
	r->has_counters = counters;
}

/*
 * Read until the answer to seq is complete: the ACK (or error) of a
 * request sent with NLM_F_ACK, or NLMSG_DONE of a dump.  Returns r->error,
 * or -errno if the socket failed (timeout: -EAGAIN).
 */
static int nl_recv(struct nl *nl, uint32_t seq, struct nl_reply *r,
		   bool (*extra)(const struct nlmsghdr *, void *), void *arg)
{
	static char buf[NL_BUF_SIZE];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const void *)buf;
		int len = (int)n;

		if (n < 0) {
			snprintf(r->why, sizeof(r->why), "recv: %s",
				 strerror(errno));
			return -errno;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq) {
				if (extra && extra(nlh, arg))
					continue;
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				parse_error(nlh, r);
				goto done;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
					r->error = *(int *)mnl_nlmsg_get_payload(nlh);
				goto done;
			}
			if (nlh->nlmsg_type == vfiosim_family)
				parse_genl(nlh, r);
		}
	}
done:
	if (r->error)
		snprintf(r->why, sizeof(r->why), "netlink error %d (%s), extack \"%s\"",
			 r->error, strerror(-r->error), r->extack);
	return r->error;
}

static struct nlmsghdr *put_genl(char *buf, struct nl *nl, uint16_t type,
				 uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int nl_send(struct nl *nl, const struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* The id of the events group in a CTRL_ATTR_MCAST_GROUPS nest. */
static void events_group(const struct nlattr *groups)
{
	const struct nlattr *grp, *attr;

	mnl_attr_for_each_nested(grp, groups) {
		const char *name = NULL;
		uint32_t id = 0;

		mnl_attr_for_each_nested(attr, grp) {
			if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_NAME)
				name = mnl_attr_get_str(attr);
			if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_ID)
				id = mnl_attr_get_u32(attr);
		}
		if (name && !strcmp(name, VFIOSIM_GENL_MCGRP_EVENTS))
			vfiosim_events_group = id;
	}
}

/* Resolve the family id; -ENOENT if it is not registered. */
static int family_resolve(void)
{
	static char buf[8192];
	struct nl_reply *r = reply_new();
	const struct nlmsghdr *rep;
	struct nlmsghdr *nlh;
	struct nl nl;
	ssize_t n;
	int ret;

	ret = nl_open(&nl);
	if (ret)
		goto out;
	nlh = put_genl(buf, &nl, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VFIOSIM_GENL_NAME);
	ret = nl_send(&nl, nlh);
	if (ret)
		goto out_close;
	ret = -EPROTO;
	for (;;) {
		int len;

		n = mnl_socket_recvfrom(nl.sk, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			break;
		}
		len = (int)n;
		for (rep = (void *)buf; mnl_nlmsg_ok(rep, len);
		     rep = mnl_nlmsg_next(rep, &len)) {
			const struct nlattr *attr;

			if (rep->nlmsg_type == NLMSG_ERROR) {
				parse_error(rep, r);
				if (r->error)
					ret = r->error;
				goto out_close;
			}
			mnl_attr_for_each(attr, rep, sizeof(struct genlmsghdr)) {
				if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID) {
					vfiosim_family = mnl_attr_get_u16(attr);
					ret = 0;
				}
				if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GROUPS)
					events_group(attr);
			}
		}
	}
out_close:
	nl_close(&nl);
out:
	free(r);
	return ret;
}

/* One family command with an optional uuid; waits for the ACK. */
static int nl_cmd(struct nl *nl, uint8_t cmd, const char *uuid,
		  struct nl_reply *r)
{
	static char buf[8192];
	struct nlmsghdr *nlh;
	int ret;

	reply_reset(r);
	nlh = put_genl(buf, nl, vfiosim_family, NLM_F_ACK, cmd,
		       VFIOSIM_GENL_VERSION);
	if (uuid)
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	ret = nl_send(nl, nlh);
	if (ret)
		return ret;
	return nl_recv(nl, nlh->nlmsg_seq, r, NULL, NULL);
}

/* DEV_GET dump; r->found and the fields say whether want was listed. */
static int nl_dump_devs(struct nl *nl, const char *want, struct nl_reply *r)
{
	static char buf[8192];
	struct nlmsghdr *nlh;
	int ret;

	reply_reset(r);
	r->want_uuid = want;
	nlh = put_genl(buf, nl, vfiosim_family, NLM_F_DUMP, VFIOSIM_CMD_DEV_GET,
		       VFIOSIM_GENL_VERSION);
	ret = nl_send(nl, nlh);
	if (ret)
		return ret;
	ret = nl_recv(nl, nlh->nlmsg_seq, r, NULL, NULL);
	r->want_uuid = NULL;
	return ret;
}

/* Put one VFIO_USER request for uuid into buf (room for len + 256). */
static struct nlmsghdr *put_vu(char *buf, struct nl *nl, uint16_t flags,
			       const char *uuid, const void *msg, size_t len,
			       const int32_t *fds, int nfds)
{
	struct nlmsghdr *nlh;

	nlh = put_genl(buf, nl, vfiosim_family, flags, VFIOSIM_CMD_VFIO_USER,
		       VFIOSIM_GENL_VERSION);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, len, msg);
	if (nfds)
		mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, nfds * sizeof(*fds), fds);
	return nlh;
}

/* One raw vfio-user message; netlink errno or 0 (r->msg: the reply). */
static int vu_raw(struct nl *nl, const char *uuid, const void *msg, size_t len,
		  const int32_t *fds, int nfds, struct nl_reply *r)
{
	static char buf[NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	int ret;

	reply_reset(r);
	nlh = put_vu(buf, nl, NLM_F_ACK, uuid, msg, len, fds, nfds);
	ret = nl_send(nl, nlh);
	if (ret)
		return ret;
	return nl_recv(nl, nlh->nlmsg_seq, r, NULL, NULL);
}

static const struct vfiosim_user_header *vu_hdr(const struct nl_reply *r)
{
	return (const void *)r->msg;
}

static const void *vu_payload(const struct nl_reply *r)
{
	return r->msg + VU_HDR_SIZE;
}

/*
 * A vfio-user command: header built here.  Returns 0 on success, -errno
 * for a netlink-level failure, the (positive) vfio-user errno of an error
 * reply, or -EBADMSG if the reply is not a well-formed reply to it.
 */
static int vu_cmd(struct nl *nl, const char *uuid, uint16_t command,
		  uint32_t flags, const void *payload, size_t plen,
		  const int32_t *fds, int nfds, struct nl_reply *r)
{
	static uint8_t msg[NL_BUF_SIZE];
	struct vfiosim_user_header *h = (void *)msg;
	const struct vfiosim_user_header *rh;
	int ret;

	memset(h, 0, sizeof(*h));
	h->msg_id = ++nl->msg_id;
	h->command = command;
	h->msg_size = VU_HDR_SIZE + plen;
	h->flags = flags;
	if (plen)
		memcpy(msg + VU_HDR_SIZE, payload, plen);
	ret = vu_raw(nl, uuid, msg, VU_HDR_SIZE + plen, fds, nfds, r);
	if (ret)
		return ret;
	rh = vu_hdr(r);
	if (r->msg_len < VU_HDR_SIZE || rh->msg_size != r->msg_len ||
	    rh->msg_id != h->msg_id || rh->command != command ||
	    (rh->flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_REPLY) {
		snprintf(r->why, sizeof(r->why),
			 "bad reply: %zu bytes, msg_size %u msg_id %u/%u command %u/%u flags %#x",
			 r->msg_len, r->msg_len >= VU_HDR_SIZE ? rh->msg_size : 0,
			 r->msg_len >= VU_HDR_SIZE ? rh->msg_id : 0, h->msg_id,
			 r->msg_len >= VU_HDR_SIZE ? rh->command : 0, command,
			 r->msg_len >= VU_HDR_SIZE ? rh->flags : 0);
		return -EBADMSG;
	}
	if (rh->flags & VFIOSIM_USER_F_ERROR) {
		snprintf(r->why, sizeof(r->why), "vfio-user error %u (%s)",
			 rh->error_no, strerror(rh->error_no));
		return rh->error_no ? (int)rh->error_no : EIO;
	}
	return 0;
}

/* Region access helpers over vfio-user. */
static int vu_read(struct nl *nl, const char *uuid, uint32_t region,
		   uint64_t offset, void *data, uint32_t count,
		   struct nl_reply *r)
{
	struct vfiosim_user_region_access a = {
		.offset = offset, .region = region, .count = count,
	};
	const struct vfiosim_user_region_access *ra;
	int ret;

	ret = vu_cmd(nl, uuid, VFIOSIM_USER_REGION_READ, 0, &a, sizeof(a),
		     NULL, 0, r);
	if (ret)
		return ret;
	ra = vu_payload(r);
	if (r->msg_len != VU_HDR_SIZE + sizeof(a) + count ||
	    ra->count != count || ra->offset != offset || ra->region != region) {
		snprintf(r->why, sizeof(r->why),
			 "REGION_READ reply of %zu bytes for %u", r->msg_len, count);
		return -EBADMSG;
	}
	memcpy(data, ra->data, count);
	return 0;
}

static int vu_read32(struct nl *nl, const char *uuid, uint32_t region,
		     uint64_t offset, uint32_t *val, struct nl_reply *r)
{
	return vu_read(nl, uuid, region, offset, val, 4, r);
}

static int vu_write(struct nl *nl, const char *uuid, uint32_t region,
		    uint64_t offset, const void *data, uint32_t count,
		    uint32_t flags, struct nl_reply *r)
{
	uint8_t p[sizeof(struct vfiosim_user_region_access) + 64];
	struct vfiosim_user_region_access *a = (void *)p;

	if (count > 64)
		return -EINVAL;
	a->offset = offset;
	a->region = region;
	a->count = count;
	memcpy(a->data, data, count);
	return vu_cmd(nl, uuid, VFIOSIM_USER_REGION_WRITE, flags, p,
		      sizeof(*a) + count, NULL, 0, r);
}

static int vu_write32(struct nl *nl, const char *uuid, uint32_t region,
		      uint64_t offset, uint32_t val, struct nl_reply *r)
{
	return vu_write(nl, uuid, region, offset, &val, 4, 0, r);
}

/* SET_IRQS with eventfds: fds[i] for vectors start.. (count = nfds). */
static int vu_set_irqs(struct nl *nl, const char *uuid, uint32_t index,
		       uint32_t flags, uint32_t start, uint32_t count,
		       const int32_t *fds, int nfds, struct nl_reply *r)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s), .flags = flags, .index = index,
		.start = start, .count = count,
	};

	return vu_cmd(nl, uuid, VFIOSIM_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s),
		      fds, nfds, r);
}

static int vu_dma_map(struct nl *nl, const char *uuid, uint64_t iova,
		      uint64_t size, int fd, uint64_t offset,
		      struct nl_reply *r)
{
	struct vfiosim_user_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.offset = offset, .addr = iova, .size = size,
	};
	int32_t fds[1] = { fd };

	return vu_cmd(nl, uuid, VFIOSIM_USER_DMA_MAP, 0, &m, sizeof(m), fds,
		      fd >= 0 ? 1 : 0, r);
}

static int vu_dma_unmap(struct nl *nl, const char *uuid, uint64_t iova,
			uint64_t size, uint32_t flags, struct nl_reply *r)
{
	struct vfiosim_user_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .addr = iova, .size = size,
	};

	return vu_cmd(nl, uuid, VFIOSIM_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL,
		      0, r);
}

/* DEV_OPEN, retrying a little while the previous owner is released. */
static int dev_open_retry(struct nl *nl, const char *uuid, struct nl_reply *r,
			  int *tries)
{
	int ret, i;

	for (i = 0; i < 100; i++) {
		ret = nl_cmd(nl, VFIOSIM_CMD_DEV_OPEN, uuid, r);
		if (ret != -EBUSY)
			break;
		usleep(10000);
	}
	*tries = i + 1;
	return ret;
}

static int memfd_new(size_t size)
{
	int fd = memfd_create("vfiosim-dma", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size)) {
		close(fd);
		return -errno;
	}
	return fd;
}

FIXTURE(nl) {
	char uuid[37];
	bool created;
	struct nl a;
	struct nl_reply *r;
	struct vfiosim_dev *vdev;	/* a VFIO user, freed by the teardown */
};

FIXTURE_SETUP(nl)
{
	char parent[256], err[256] = "";
	int ret;

	self->created = false;
	self->vdev = NULL;
	self->r = reply_new();
	self->a.sk = NULL;
	sysfs_path(parent, sizeof(parent), VFIOSIM_PARENT_SYSFS);
	if (access(parent, F_OK))
		SKIP(return, "vfiosim module not loaded (no %s)", parent);
	if (geteuid() != 0)
		SKIP(return, "creating mdev devices needs root");
	ret = family_resolve();
	if (ret == -ENOENT)
		SKIP(return, "generic netlink family \"%s\" not registered",
		     VFIOSIM_GENL_NAME);
	ASSERT_EQ(0, ret) TH_LOG("resolving family %s: %s", VFIOSIM_GENL_NAME,
				 strerror(-ret));
	ASSERT_EQ(0, vfiosim_uuid_generate(self->uuid));
	ret = vfiosim_mdev_create("vfiosim-small", self->uuid, err, sizeof(err));
	ASSERT_EQ(0, ret) TH_LOG("create vfiosim-small %s: %s", self->uuid, err);
	self->created = true;
	ret = nl_open(&self->a);
	ASSERT_EQ(0, ret) TH_LOG("netlink socket: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(nl)
{
	char err[256] = "";

	nl_close_all();
	if (self->vdev)
		vfiosim_dev_free(self->vdev);
	self->vdev = NULL;
	if (self->created)
		EXPECT_EQ(0, vfiosim_mdev_remove(self->uuid, err, sizeof(err)))
			TH_LOG("remove %s: %s", self->uuid, err);
	self->created = false;
	if (self->r)
		close_fds(self->r);
	free(self->r);
	self->r = NULL;
}

/* Log an error reply's explanation. */
#define WHY(self) ((self)->r->why)

TEST_F(nl, ping)
{
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_PING, NULL, self->r))
			TH_LOG("%s", WHY(self));
	}
}

TEST_F(nl, dev_get_do)
{
	struct nl_reply *r = self->r;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(1, r->genl_msgs);
	EXPECT_STREQ(self->uuid, r->uuid);
	EXPECT_STREQ("vfiosim-small", r->type);
	ASSERT_TRUE(r->has_owner);
	EXPECT_EQ(VFIOSIM_OWNER_NONE, r->owner);
	EXPECT_TRUE(r->has_counters);
}

TEST_F(nl, dev_get_dump)
{
	char uuid2[37], err[256] = "";
	struct nl_reply *r = self->r;
	int ret;

	/* a second device, of the other type: both are listed */
	ASSERT_EQ(0, vfiosim_uuid_generate(uuid2));
	ret = vfiosim_mdev_create("vfiosim-full", uuid2, err, sizeof(err));
	ASSERT_EQ(0, ret) TH_LOG("create: %s", err);

	ret = nl_dump_devs(&self->a, self->uuid, r);
	EXPECT_EQ(0, ret) TH_LOG("%s", WHY(self));
	EXPECT_TRUE(r->found);
	EXPECT_STREQ("vfiosim-small", r->type);
	EXPECT_TRUE(r->has_owner);
	EXPECT_EQ(VFIOSIM_OWNER_NONE, r->owner);
	EXPECT_LE(2, r->devs);

	ret = nl_dump_devs(&self->a, uuid2, r);
	EXPECT_EQ(0, ret) TH_LOG("%s", WHY(self));
	EXPECT_TRUE(r->found);
	EXPECT_STREQ("vfiosim-full", r->type);

	EXPECT_EQ(0, vfiosim_mdev_remove(uuid2, err, sizeof(err))) TH_LOG("%s", err);
	/* and once removed it is gone from the dump */
	ret = nl_dump_devs(&self->a, uuid2, r);
	EXPECT_EQ(0, ret) TH_LOG("%s", WHY(self));
	EXPECT_FALSE(r->found);
}

/* Netlink-level failures: an errno and an extack message. */
TEST_F(nl, unknown_device)
{
	struct nl_reply *r = self->r;
	char other[37];
	uint32_t v;
	int ret;

	ASSERT_EQ(0, vfiosim_uuid_generate(other));
	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, other, r);
	EXPECT_GT(0, ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("DEV_GET of an unknown uuid: %s", WHY(self));
	EXPECT_EQ(0, r->genl_msgs);

	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, other, r);
	EXPECT_GT(0, ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("DEV_OPEN of an unknown uuid: %s", WHY(self));

	ret = vu_read32(&self->a, other, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_ID, &v, r);
	EXPECT_GT(0, ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("VFIO_USER to an unknown uuid: %s", WHY(self));

	/* no uuid at all, and a malformed one */
	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, NULL, r);
	EXPECT_GT(0, ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("DEV_GET without a uuid: %s", WHY(self));
	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, "not-a-uuid", r);
	EXPECT_GT(0, ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("DEV_OPEN \"not-a-uuid\": %s", WHY(self));
}

/* The basic vfio-user path once the device is open. */
TEST_F(nl, vfio_user_basic)
{
	struct nl_reply *r = self->r;
	struct vfio_device_info info = { .argsz = 16 };
	const struct vfio_device_info *ri;
	uint32_t v;
	int ret;

	/* not the owner yet */
	ret = vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_ID, &v, r);
	EXPECT_GT(0, ret) TH_LOG("VFIO_USER before DEV_OPEN: %d", ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("VFIO_USER before DEV_OPEN: %s", WHY(self));

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));

	ret = vu_cmd(&self->a, self->uuid, VFIOSIM_USER_DEVICE_GET_INFO, 0,
		     &info, 16, NULL, 0, r);
	ASSERT_EQ(0, ret) TH_LOG("%s", WHY(self));
	ASSERT_LE(VU_HDR_SIZE + 16, r->msg_len);
	ri = vu_payload(r);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, ri->num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, ri->num_irqs);
	EXPECT_TRUE(ri->flags & VFIO_DEVICE_FLAGS_PCI);

	ret = vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_ID, &v, r);
	ASSERT_EQ(0, ret) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, v);

	ret = vu_write32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			 VFIOSIM_REG_SCRATCH(3), 0x12345678, r);
	ASSERT_EQ(0, ret) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VU_HDR_SIZE + sizeof(struct vfiosim_user_region_access),
		  r->msg_len);
	ASSERT_EQ(0, vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_SCRATCH(3), &v, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(0x12345678, v);

	/* config space: vendor ID */
	ASSERT_EQ(0, vu_read(&self->a, self->uuid, VFIO_PCI_CONFIG_REGION_INDEX,
			     0, &v, 4, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_PCI_VENDOR_ID | VFIOSIM_PCI_DEVICE_SMALL << 16, v);

	/* DEV_GET shows the counters moving */
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r));
	EXPECT_TRUE(r->has_counters);

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ret = vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_ID, &v, r);
	EXPECT_GT(0, ret) TH_LOG("VFIO_USER after DEV_CLOSE: %d", ret);
}

struct stray {
	uint32_t seq;
	unsigned int n;
};

static bool count_stray(const struct nlmsghdr *nlh, void *arg)
{
	struct stray *st = arg;

	if (nlh->nlmsg_seq == st->seq)
		st->n++;
	return true;
}

/* NO_REPLY: the command runs, no netlink message comes back. */
TEST_F(nl, no_reply)
{
	struct stray stray = { 0 };
	static char buf[NL_BUF_SIZE];
	struct nl_reply *r = self->r;
	uint8_t msg[VU_HDR_SIZE + sizeof(struct vfiosim_user_region_access) + 4];
	struct vfiosim_user_header *h = (void *)msg;
	struct vfiosim_user_region_access *a = (void *)(msg + VU_HDR_SIZE);
	uint32_t val = 0xa5a5f00d, v;
	struct nlmsghdr *nlh;
	uint32_t first_seq;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	memset(msg, 0, sizeof(msg));
	h->msg_id = 77;
	h->command = VFIOSIM_USER_REGION_WRITE;
	h->msg_size = sizeof(msg);
	h->flags = VFIOSIM_USER_F_TYPE_COMMAND | VFIOSIM_USER_F_NO_REPLY;
	a->region = VFIO_PCI_BAR0_REGION_INDEX;
	a->offset = VFIOSIM_REG_SCRATCH(5);
	a->count = 4;
	memcpy(a->data, &val, 4);
	/* no NLM_F_ACK: anything coming back for this seq is a reply */
	nlh = put_vu(buf, &self->a, 0, self->uuid, msg, sizeof(msg), NULL, 0);
	first_seq = nlh->nlmsg_seq;
	ASSERT_EQ(0, nl_send(&self->a, nlh));
	/* a PING with an ACK behind it: everything before it has been answered */
	reply_reset(r);
	nlh = put_genl(buf, &self->a, vfiosim_family, NLM_F_ACK, VFIOSIM_CMD_PING,
		       VFIOSIM_GENL_VERSION);
	ASSERT_EQ(0, nl_send(&self->a, nlh));
	stray.seq = first_seq;
	ASSERT_EQ(0, nl_recv(&self->a, nlh->nlmsg_seq, r, count_stray, &stray))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, stray.n) TH_LOG("a NO_REPLY command was answered");
	ASSERT_EQ(0, vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_SCRATCH(5), &v, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(val, v) TH_LOG("the NO_REPLY write did not happen");
}

TEST_F(nl, version)
{
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":32}}";
	uint8_t p[sizeof(struct vfiosim_user_version) + sizeof(json)];
	struct vfiosim_user_version *ver = (void *)p;
	const struct vfiosim_user_version *rv;
	struct nl_reply *r = self->r;
	const char *data, *nul;
	size_t dlen;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ver->major = VFIOSIM_USER_VERSION_MAJOR;
	ver->minor = VFIOSIM_USER_VERSION_MINOR;
	memcpy(ver->data, json, sizeof(json));
	ASSERT_EQ(0, vu_cmd(&self->a, self->uuid, VFIOSIM_USER_VERSION, 0, p,
			    sizeof(p), NULL, 0, r)) TH_LOG("%s", WHY(self));
	ASSERT_LT(VU_HDR_SIZE + sizeof(*rv), r->msg_len);
	rv = vu_payload(r);
	EXPECT_EQ(0, rv->major);
	EXPECT_GE(VFIOSIM_USER_VERSION_MINOR, rv->minor);
	data = rv->data;
	dlen = r->msg_len - VU_HDR_SIZE - sizeof(*rv);
	nul = memchr(data, '\0', dlen);
	ASSERT_NE(NULL, nul) TH_LOG("VERSION reply JSON is not NUL-terminated");
	EXPECT_EQ(dlen - 1, (size_t)(nul - data)) TH_LOG("bytes after the JSON's NUL");
	TH_LOG("VERSION %u.%u %s", rv->major, rv->minor, data);
	EXPECT_NE(NULL, strstr(data, "\"max_data_xfer_size\""));
	EXPECT_EQ('{', data[0]);
	/* QEMU fails a VERSION reply with more than 16 as malformed. */
	{
		const char *m = strstr(data, "\"max_msg_fds\":");
		unsigned long fds;

		ASSERT_NE(NULL, m);
		fds = strtoul(m + strlen("\"max_msg_fds\":"), NULL, 10);
		EXPECT_GE(16, fds);
		EXPECT_LE(1, fds);
		EXPECT_EQ(VFIOSIM_USER_MAX_MSG_FDS, fds);
	}
}

/* Netlink holds the device: nobody else gets it. */
TEST_F(nl, ownership_netlink_first)
{
	struct nl_reply *r = self->r;
	struct nl b;
	char spec[128];
	uint32_t v;
	int ret;

	ASSERT_EQ(0, nl_open(&b));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));

	ret = nl_cmd(&b, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("%s", WHY(self));
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("second DEV_OPEN: %s", WHY(self));

	ret = vu_read32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_ID, &v, r);
	EXPECT_GT(0, ret) TH_LOG("VFIO_USER from a non-owner: %d", ret);
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("VFIO_USER from a non-owner: %s", WHY(self));

	/* DEV_CLOSE from B does not unbind A's device */
	ret = nl_cmd(&b, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r);
	EXPECT_GT(0, ret) TH_LOG("DEV_CLOSE from a non-owner: %d", ret);
	TH_LOG("DEV_CLOSE from a non-owner: %s", WHY(self));

	self->vdev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->vdev);
	snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
	ret = vfiosim_dev_open(self->vdev, spec);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("%s", vfiosim_dev_error(self->vdev));
	vfiosim_dev_free(self->vdev);
	self->vdev = NULL;

	ASSERT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_GET, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_OWNER_NETLINK, r->owner);
	EXPECT_TRUE(r->has_portid);
	EXPECT_EQ(self->a.portid, r->owner_portid);

	/* A is undisturbed */
	ASSERT_EQ(0, vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_ID, &v, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, v);
	nl_close(&b);
}

/* VFIO holds the device: DEV_OPEN is refused until it lets go. */
TEST_F(nl, ownership_vfio_first)
{
	struct nl_reply *r = self->r;
	char spec[128];
	int ret;

	self->vdev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->vdev);
	snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
	ASSERT_EQ(0, vfiosim_dev_open(self->vdev, spec))
		TH_LOG("%s", vfiosim_dev_error(self->vdev));

	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("%s", WHY(self));
	EXPECT_NE(0, r->extack[0]);
	TH_LOG("DEV_OPEN while VFIO has it: %s", WHY(self));

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_OWNER_VFIO, r->owner);

	vfiosim_dev_free(self->vdev);
	self->vdev = NULL;
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("DEV_OPEN after the VFIO close: %s", WHY(self));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r));
	EXPECT_EQ(VFIOSIM_OWNER_NETLINK, r->owner);
	EXPECT_EQ(self->a.portid, r->owner_portid);
}

/*
 * Closing the owning socket releases everything: the eventfd it set is
 * never signalled again, its DMA mappings are gone, the device is free.
 */
TEST_F(nl, socket_close_releases)
{
	struct nl_reply *r = self->r;
	uint32_t dropped0, dropped1, v;
	int32_t fds[1];
	int efd, mfd, tries;
	struct nl b;

	efd = efd_new();
	ASSERT_LE(0, efd);
	mfd = memfd_new(0x10000);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	fds[0] = efd;
	ASSERT_EQ(0, vu_set_irqs(&self->a, self->uuid, VFIO_PCI_MSIX_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, fds, 1, r))
		TH_LOG("SET_IRQS: %s", WHY(self));
	ASSERT_EQ(0, vu_write32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
				VFIOSIM_REG_DOORBELL, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(1, efd_wait(efd, IRQ_FIRE_TIMEOUT_MS));
	ASSERT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000, mfd, 0, r))
		TH_LOG("DMA_MAP: %s", WHY(self));

	nl_close(&self->a);

	ASSERT_EQ(0, nl_open(&b));
	ASSERT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_GET, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_OWNER_NONE, r->owner)
		TH_LOG("owner %u (portid %u) after the owner's socket closed",
		       r->owner, r->owner_portid);

	ASSERT_EQ(0, dev_open_retry(&b, self->uuid, r, &tries))
		TH_LOG("DEV_OPEN on B: %s", WHY(self));
	EXPECT_EQ(1, tries) TH_LOG("DEV_OPEN was EBUSY %d times after the close",
				   tries - 1);

	/* no interrupt mode now: the doorbell is dropped, the old fd quiet */
	ASSERT_EQ(0, vu_read32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_DROPPED, &dropped0, r)) TH_LOG("%s", WHY(self));
	ASSERT_EQ(0, vu_write32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
				VFIOSIM_REG_DOORBELL, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, efd_wait(efd, 200)) TH_LOG("the closed session's eventfd fired");
	ASSERT_EQ(0, vu_read32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_DROPPED, &dropped1, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(dropped0 + 1, dropped1);

	/* the mapping went with the session: the same range maps again */
	EXPECT_EQ(0, vu_dma_map(&b, self->uuid, 0x100000, 0x10000, mfd, 0, r))
		TH_LOG("DMA_MAP of the closed session's range: %s", WHY(self));

	ASSERT_EQ(0, vu_read32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_ID, &v, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, v);

	/* and DEV_CLOSE does the same as closing the socket */
	fds[0] = efd;
	ASSERT_EQ(0, vu_set_irqs(&b, self->uuid, VFIO_PCI_MSIX_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, fds, 1, r))
		TH_LOG("SET_IRQS: %s", WHY(self));
	ASSERT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ASSERT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_GET, self->uuid, r));
	EXPECT_EQ(VFIOSIM_OWNER_NONE, r->owner);
	ASSERT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ASSERT_EQ(0, vu_write32(&b, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
				VFIOSIM_REG_DOORBELL, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, efd_wait(efd, 200)) TH_LOG("eventfd fired after DEV_CLOSE");
	EXPECT_EQ(0, vu_dma_map(&b, self->uuid, 0x100000, 0x10000, mfd, 0, r))
		TH_LOG("DMA_MAP after DEV_CLOSE: %s", WHY(self));

	nl_close(&b);
	close(efd);
	close(mfd);
}

/*
 * Removing a device bound to a socket does not wait for the socket: the
 * session ends, the owner's next command finds no device.
 */
/* 1 once child @pid has exited (status in *status), 0 after @ms. */
static int child_exited_within(pid_t pid, int *status, int ms)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i <= ms / 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/*
 * Removing a device a netlink socket holds waits for it to let go, as the
 * VFIO path does; meanwhile the device works but nobody new may bind it.
 */
TEST_F_TIMEOUT(nl, remove_while_owned, 90)
{
	struct nl_reply *r = self->r;
	char err[256] = "";
	int status, ret;
	struct nl b;
	uint32_t v;
	pid_t pid;

	ASSERT_EQ(0, nl_open(&b));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(vfiosim_mdev_remove(self->uuid, err, sizeof(err)) ? 1 : 0);
	self->created = false;

	/* the removal waits for the owner... */
	EXPECT_EQ(0, child_exited_within(pid, &status, 1000));
	/* ...which keeps a working device, */
	EXPECT_EQ(0, vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_ID, &v, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, v);
	/* while nobody else may take it. */
	ret = nl_cmd(&b, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
	EXPECT_EQ(-ENODEV, ret) TH_LOG("%s", WHY(self));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ASSERT_EQ(1, child_exited_within(pid, &status, 20000));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_FALSE(mdev_exists(self->uuid));

	ret = nl_cmd(&b, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
	EXPECT_EQ(-ENODEV, ret) TH_LOG("%s", WHY(self));
	EXPECT_EQ(-ENODEV, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r));
	/* and the sockets outlive it cleanly */
	EXPECT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_PING, NULL, r));
	nl_close(&b);
}

/*
 * An owner that removes its own device would wait for itself forever; when
 * it is killed, the removal unbinds it and completes instead of leaving an
 * unkillable task.
 */
TEST_F_TIMEOUT(nl, killed_self_remover_does_not_hang, 90)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nl_reply *r = reply_new();
		char err[256];
		struct nl c;

		if (!r || nl_open(&c) ||
		    nl_cmd(&c, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
			_exit(100);
		vfiosim_mdev_remove(self->uuid, err, sizeof(err));
		_exit(101);	/* not reached before the kill */
	}
	self->created = false;

	EXPECT_EQ(0, child_exited_within(pid, &status, 1000));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(1, child_exited_within(pid, &status, 20000));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_FALSE(mdev_exists(self->uuid));
}

/*
 * In a child that lacks the capability: every command and joining the
 * events group must be EPERM.  Returns how many were not.
 */
static int count_not_refused(const char *who, const char *uuid)
{
	struct nl_reply *r = reply_new();
	int bad = 0, ret, grp;
	uint32_t v;
	struct nl c;

	if (nl_open(&c))
		return 101;
#define EXPECT_EPERM(what, expr) do {					\
		ret = (expr);						\
		fprintf(stderr, "# %s: %s: %d (%s) extack \"%s\"\n",	\
			who, what, ret, strerror(-ret), r->extack);	\
		if (ret != -EPERM)					\
			bad++;						\
	} while (0)
	EXPECT_EPERM("PING", nl_cmd(&c, VFIOSIM_CMD_PING, NULL, r));
	EXPECT_EPERM("DEV_GET", nl_cmd(&c, VFIOSIM_CMD_DEV_GET, uuid, r));
	EXPECT_EPERM("DEV_GET dump", nl_dump_devs(&c, uuid, r));
	EXPECT_EPERM("DEV_OPEN", nl_cmd(&c, VFIOSIM_CMD_DEV_OPEN, uuid, r));
	EXPECT_EPERM("VFIO_USER", vu_read32(&c, uuid, 0, VFIOSIM_REG_ID, &v, r));
	EXPECT_EPERM("DEV_CLOSE", nl_cmd(&c, VFIOSIM_CMD_DEV_CLOSE, uuid, r));
	grp = (int)vfiosim_events_group;
	EXPECT_EPERM("join the events group",
		     mnl_socket_setsockopt(c.sk, NETLINK_ADD_MEMBERSHIP,
					   &grp, sizeof(grp)) ? -errno : 0);
#undef EXPECT_EPERM
	return bad;
}

/* Drop cap from the effective and permitted sets; 0 or -errno. */
static int cap_drop(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[cap / 32].effective &= ~(1U << (cap % 32));
	d[cap / 32].permitted &= ~(1U << (cap % 32));
	d[cap / 32].inheritable &= ~(1U << (cap % 32));
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

static bool cap_effective(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1U << (cap % 32));
}

/*
 * In a child, as nobody (no capability at all) or as root with
 * CAP_NET_ADMIN but without CAP_SYS_ADMIN: how many of the commands and
 * the events group were not refused with EPERM (0: all were).
 */
static int refused_in_child(const char *uuid, bool net_admin)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!net_admin &&
		    (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
			_exit(100);
		if (net_admin &&
		    (cap_drop(CAP_SYS_ADMIN) || cap_effective(CAP_SYS_ADMIN) ||
		     !cap_effective(CAP_NET_ADMIN)))
			_exit(100);
		_exit(count_not_refused(net_admin ? "CAP_NET_ADMIN only" :
					"as nobody", uuid));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Every command needs a capability (CAP_SYS_ADMIN): nobody has none. */
TEST_F(nl, unprivileged)
{
	EXPECT_EQ(0, refused_in_child(self->uuid, false));
	/* and the device was not taken */
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, self->r));
	EXPECT_EQ(VFIOSIM_OWNER_NONE, self->r->owner);
}

/*
 * The family asks for CAP_SYS_ADMIN, as taking a device from VFIO would:
 * a network administrator (CAP_NET_ADMIN alone) is refused every command
 * and the events group.
 */
TEST_F(nl, net_admin_is_not_enough)
{
	EXPECT_EQ(0, refused_in_child(self->uuid, true));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, self->r));
	EXPECT_EQ(VFIOSIM_OWNER_NONE, self->r->owner);
}

/*
 * A socket's end never ends another socket's session, even one that took
 * the dying socket's portid while it was being released (the portid is
 * free again before the release is over).
 */
static void *close_sock(void *sk)
{
	mnl_socket_close(sk);
	return NULL;
}

#define REUSE_ROUNDS	300

TEST_F_TIMEOUT(nl, portid_reuse_keeps_session, 600)
{
	unsigned int lost = 0, raced = 0, i;
	struct nl_reply *r = self->r;
	char other[37], err[256] = "";
	struct nl old, new;
	int ret, tries;
	pthread_t t;
	uint32_t v;

	ASSERT_EQ(0, vfiosim_uuid_generate(other));
	ASSERT_EQ(0, vfiosim_mdev_create("vfiosim-small", other, err, sizeof(err)))
		TH_LOG("create %s: %s", other, err);

	for (i = 0; i < REUSE_ROUNDS; i++) {
		uint32_t portid;

		ASSERT_EQ(0, nl_open(&old));
		portid = old.portid;
		ASSERT_EQ(0, dev_open_retry(&old, self->uuid, r, &tries))
			TH_LOG("round %u: DEV_OPEN of the old socket: %s", i, WHY(self));
		nl_forget(&old);
		ASSERT_EQ(0, pthread_create(&t, NULL, close_sock, old.sk));
		/* take the dying socket's portid as soon as it is free */
		for (tries = 0; tries < 1000000; tries++) {
			ret = nl_open_portid(&new, portid);
			if (ret != -EADDRINUSE)
				break;
		}
		ret = ret ?: nl_cmd(&new, VFIOSIM_CMD_DEV_OPEN, other, r);
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, ret) TH_LOG("round %u: new socket: %d %s", i, ret, WHY(self));
		if (tries)
			raced++;
		/* the old socket's release left the new session alone */
		ret = vu_read32(&new, other, VFIO_PCI_BAR0_REGION_INDEX,
				VFIOSIM_REG_ID, &v, r);
		if (ret || v != VFIOSIM_ID_MAGIC) {
			lost++;
			TH_LOG("round %u: portid %u: the new socket lost its device: %s",
			       i, portid, WHY(self));
		}
		nl_close(&new);
	}
	TH_LOG("%u rounds, %u took the portid while it was being released, %u lost",
	       REUSE_ROUNDS, raced, lost);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, vfiosim_mdev_remove(other, err, sizeof(err)))
		TH_LOG("remove %s: %s", other, err);
}


/* One owner after another over VFIO, while netlink owners come and go. */
struct vfio_churn {
	const char *uuid;
	unsigned int rounds;
	unsigned int opens;
	int error;
};

static void *vfio_churn(void *arg)
{
	struct vfio_churn *c = arg;
	char spec[128];
	unsigned int i;

	snprintf(spec, sizeof(spec), "vfio:%s", c->uuid);
	for (i = 0; i < c->rounds; i++) {
		struct vfiosim_dev *dev = vfiosim_dev_alloc();
		int ret, tries;

		if (!dev) {
			c->error = -ENOMEM;
			break;
		}
		for (tries = 0; tries < 100000; tries++) {
			ret = vfiosim_dev_open(dev, spec);
			if (ret != -EBUSY)
				break;
		}
		if (!ret)
			c->opens++;
		else
			c->error = ret;
		vfiosim_dev_free(dev);
		if (ret)
			break;
	}
	return NULL;
}

/* Keeps a CPU busy until *stop: the kernel paths get preempted. */
static void *cpu_hog(void *stop)
{
	while (!__atomic_load_n((bool *)stop, __ATOMIC_RELAXED))
		;
	return NULL;
}

#define ORDER_ROUNDS	300
#define ORDER_HOGS	2
#define ORDER_LISTENERS	16

/*
 * OPENED and CLOSED of one device alternate, however fast one owner
 * follows another: the events follow the order of the state changes.
 */
TEST_F_TIMEOUT(nl, events_in_order, 600)
{
	static char buf[NL_BUF_SIZE];
	struct vfio_churn churn = { .uuid = self->uuid, .rounds = ORDER_ROUNDS };
	struct mnl_socket *extra[ORDER_LISTENERS];
	pthread_t t, hog[ORDER_HOGS];
	bool stop = false;
	unsigned int nl_opens = 0, opened = 0, closed = 0, bad = 0, i;
	struct nl_reply *r = self->r;
	bool open = false;
	struct nl mon;
	int grp, ret;

	ASSERT_NE(0, vfiosim_events_group);
	ASSERT_EQ(0, nl_open(&mon));
	grp = (int)vfiosim_events_group;
	ASSERT_EQ(0, mnl_socket_setsockopt(mon.sk, NETLINK_ADD_MEMBERSHIP,
					   &grp, sizeof(grp)));
	/* more listeners: each event takes longer to go out */
	for (i = 0; i < ORDER_LISTENERS; i++) {
		extra[i] = mnl_socket_open(NETLINK_GENERIC);
		ASSERT_NE(NULL, extra[i]);
		ASSERT_EQ(0, mnl_socket_bind(extra[i], 0, MNL_SOCKET_AUTOPID));
		ASSERT_EQ(0, mnl_socket_setsockopt(extra[i], NETLINK_ADD_MEMBERSHIP,
						   &grp, sizeof(grp)));
	}

	for (i = 0; i < ORDER_HOGS; i++)
		ASSERT_EQ(0, pthread_create(&hog[i], NULL, cpu_hog, &stop));
	ASSERT_EQ(0, pthread_create(&t, NULL, vfio_churn, &churn));
	for (i = 0; i < ORDER_ROUNDS; i++) {
		int tries;

		for (tries = 0; tries < 100000; tries++) {
			ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
			if (ret != -EBUSY)
				break;
		}
		if (ret)
			break;
		nl_opens++;
		ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r);
		if (ret)
			break;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < ORDER_HOGS; i++)
		ASSERT_EQ(0, pthread_join(hog[i], NULL));
	ASSERT_EQ(0, ret) TH_LOG("netlink owner: %s", WHY(self));
	ASSERT_EQ(0, churn.error) TH_LOG("VFIO owner: %s", strerror(-churn.error));

	/* every event is queued by now; read them without waiting */
	for (;;) {
		const struct nlmsghdr *nlh = (const void *)buf;
		ssize_t n = recv(mnl_socket_get_fd(mon.sk), buf, sizeof(buf),
				 MSG_DONTWAIT);
		int len = (int)n;

		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno) TH_LOG("events: %s", strerror(errno));
			break;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *attr;
			uint32_t ev = 0;
			char uuid[64] = "";

			if (nlh->nlmsg_type != vfiosim_family)
				continue;
			mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
				if (mnl_attr_get_type(attr) == VFIOSIM_ATTR_EVENT)
					ev = mnl_attr_get_u32(attr);
				if (mnl_attr_get_type(attr) == VFIOSIM_ATTR_DEV_UUID)
					copy_str(uuid, sizeof(uuid), attr);
			}
			if (strcasecmp(uuid, self->uuid))
				continue;
			if (ev == VFIOSIM_EVENT_OPENED) {
				bad += open;
				if (open)
					TH_LOG("event %u: OPENED while open", opened + closed);
				opened++;
				open = true;
			} else if (ev == VFIOSIM_EVENT_CLOSED) {
				bad += !open;
				if (!open)
					TH_LOG("event %u: CLOSED while closed", opened + closed);
				closed++;
				open = false;
			}
		}
	}
	TH_LOG("%u netlink and %u VFIO owners: %u OPENED, %u CLOSED, %u out of order",
	       nl_opens, churn.opens, opened, closed, bad);
	EXPECT_EQ(nl_opens + churn.opens, opened);
	EXPECT_EQ(opened, closed);
	EXPECT_EQ(0, bad);
	nl_close(&mon);
	for (i = 0; i < ORDER_LISTENERS; i++)
		mnl_socket_close(extra[i]);
}

/* Reads the replies of one socket in a second thread of the process. */
struct fd_reader {
	struct mnl_socket *sk;
	unsigned int want;
	unsigned int replies;
	unsigned int fds;
	unsigned int bad_fds;	/* not (yet) valid when the reply was read */
	int error;
};

static void *fd_reader(void *arg)
{
	static char buf[NL_BUF_SIZE];
	struct fd_reader *rd = arg;

	while (rd->replies < rd->want) {
		const struct nlmsghdr *nlh = (const void *)buf;
		ssize_t n = mnl_socket_recvfrom(rd->sk, buf, sizeof(buf));
		int len = (int)n;

		if (n < 0) {
			rd->error = -errno;
			break;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *attr;

			if (nlh->nlmsg_type != vfiosim_family)
				continue;
			__atomic_add_fetch(&rd->replies, 1, __ATOMIC_RELEASE);
			mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
				const int32_t *fds = mnl_attr_get_payload(attr);
				size_t i;

				if (mnl_attr_get_type(attr) != VFIOSIM_ATTR_FDS)
					continue;
				for (i = 0; i < mnl_attr_get_payload_len(attr) / 4; i++) {
					rd->fds++;
					if (fcntl(fds[i], F_GETFD) < 0)
						rd->bad_fds++;
					else
						close(fds[i]);
				}
			}
		}
	}
	return NULL;
}

static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!access(path, F_OK))
			n++;
	}
	return n;
}

/* GET_REGION_INFO of BAR2 without an ACK: its reply carries an fd. */
static int send_bar2_info(struct nl *nl, const char *uuid)
{
	static char buf[8192];
	struct {
		struct vfiosim_user_header h;
		struct vfio_region_info info;
	} m = {
		.h = {
			.msg_id = ++nl->msg_id,
			.command = VFIOSIM_USER_DEVICE_GET_REGION_INFO,
			.msg_size = sizeof(m),
		},
		.info = {
			.argsz = sizeof(struct vfio_region_info),
			.index = VFIO_PCI_BAR2_REGION_INDEX,
		},
	};

	return nl_send(nl, put_vu(buf, nl, 0, uuid, &m, sizeof(m), NULL, 0));
}

#define FD_ROUNDS	300

/*
 * The region fd of a GET_REGION_INFO reply is in the table before anyone
 * can read the reply: another thread reading the socket always finds it
 * valid.  A reply that cannot be delivered leaves no fd behind.
 */
TEST_F_TIMEOUT(nl, region_fd_another_reader, 300)
{
	struct fd_reader rd = { .sk = self->a.sk, .want = FD_ROUNDS };
	struct nl_reply *r = self->r;
	int before, small = 1, i;
	struct timespec tick = { .tv_nsec = 1000 * 1000 };
	unsigned int got = 0;
	pthread_t t;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	before = count_fds();

	ASSERT_EQ(0, pthread_create(&t, NULL, fd_reader, &rd));
	for (i = 0; i < FD_ROUNDS; i++) {
		ASSERT_EQ(0, send_bar2_info(&self->a, self->uuid));
		/* one reply in flight: the reader waits in recv for it */
		while (!rd.error && __atomic_load_n(&rd.replies, __ATOMIC_ACQUIRE) <
		       (unsigned int)i + 1)
			nanosleep(&tick, NULL);
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rd.error) TH_LOG("reader: %s", strerror(-rd.error));
	TH_LOG("%u replies, %u fds, %u not valid when read", rd.replies, rd.fds,
	       rd.bad_fds);
	EXPECT_EQ(FD_ROUNDS, rd.fds);
	EXPECT_EQ(0, rd.bad_fds);
	EXPECT_EQ(before, count_fds());

	/* a full receive buffer: what is not delivered installs nothing */
	ASSERT_EQ(0, setsockopt(mnl_socket_get_fd(self->a.sk), SOL_SOCKET,
				SO_RCVBUF, &small, sizeof(small)));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, send_bar2_info(&self->a, self->uuid));
	for (;;) {
		static char buf[NL_BUF_SIZE];
		const struct nlmsghdr *nlh = (const void *)buf;
		ssize_t n = recv(mnl_socket_get_fd(self->a.sk), buf, sizeof(buf),
				 MSG_DONTWAIT);
		int len = (int)n;

		if (n < 0 && errno == ENOBUFS)
			continue;
		if (n < 0)
			break;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *attr;

			if (nlh->nlmsg_type != vfiosim_family)
				continue;
			mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
				const int32_t *fds = mnl_attr_get_payload(attr);

				if (mnl_attr_get_type(attr) != VFIOSIM_ATTR_FDS)
					continue;
				got++;
				close(fds[0]);
			}
		}
	}
	TH_LOG("full receive buffer: %u of 64 replies delivered", got);
	EXPECT_GT(64, got);
	EXPECT_EQ(before, count_fds());
}

/*
 * A DEV_GET dump on a fresh socket, read 8 KiB at a time so that it takes
 * several rounds: how often each of uuids[0..n) is listed, and whether
 * the kernel marked the dump interrupted (NLM_F_DUMP_INTR).
 */
static int dump_count(const char (*uuids)[37], int n, int *seen, bool *intr)
{
	static char buf[8192];
	struct nlmsghdr *nlh;
	uint32_t seq;
	struct nl nl;
	int ret;

	memset(seen, 0, n * sizeof(*seen));
	*intr = false;
	ret = nl_open(&nl);
	if (ret)
		return ret;
	nlh = put_genl(buf, &nl, vfiosim_family, NLM_F_DUMP, VFIOSIM_CMD_DEV_GET,
		       VFIOSIM_GENL_VERSION);
	seq = nlh->nlmsg_seq;
	ret = nl_send(&nl, nlh);
	while (!ret) {
		ssize_t len = recv(mnl_socket_get_fd(nl.sk), buf, sizeof(buf), 0);
		int left = (int)len;

		if (len < 0) {
			ret = -errno;
			break;
		}
		for (nlh = (void *)buf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlattr *attr;

			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				*intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				ret = e->error ?: -EPROTO;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				ret = 1;
				break;
			}
			if (nlh->nlmsg_type != vfiosim_family)
				continue;
			mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
				char uuid[64];
				int i;

				if (mnl_attr_get_type(attr) != VFIOSIM_ATTR_DEV_UUID)
					continue;
				copy_str(uuid, sizeof(uuid), attr);
				for (i = 0; i < n; i++)
					seen[i] += !strcasecmp(uuid, uuids[i]);
			}
		}
	}
	nl_close(&nl);
	return ret == 1 ? 0 : ret;
}

#define DUMP_STABLE	100
#define DUMP_CHURN	10
#define DUMP_ROUNDS	40

/* Devices listed before the stable ones, removed and created again. */
struct dev_churn {
	char uuids[DUMP_CHURN][37];
	bool stop;
	unsigned int changes;
	int error;
};

static void *dev_churn(void *arg)
{
	struct dev_churn *c = arg;
	char err[256];
	int i;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED) && !c->error) {
		for (i = 0; i < DUMP_CHURN && !c->error; i++) {
			c->error = vfiosim_mdev_remove(c->uuids[i], err, sizeof(err)) ?:
				   vfiosim_mdev_create("vfiosim-small", c->uuids[i],
						       err, sizeof(err));
			c->changes += 2;
		}
	}
	return NULL;
}

/*
 * A dump while devices come and go lists every device that stays exactly
 * once, or says it was interrupted.
 */
TEST_F_TIMEOUT(nl, dump_consistent, 600)
{
	static char stable[DUMP_STABLE][37];
	static struct dev_churn churn;
	int seen[DUMP_STABLE], i, d, bad = 0, intr_dumps = 0;
	char err[256] = "";
	bool intr;
	pthread_t t;

	memset(&churn, 0, sizeof(churn));
	for (i = 0; i < DUMP_CHURN; i++) {
		ASSERT_EQ(0, vfiosim_uuid_generate(churn.uuids[i]));
		ASSERT_EQ(0, vfiosim_mdev_create("vfiosim-small", churn.uuids[i],
						 err, sizeof(err))) TH_LOG("%s", err);
	}
	for (i = 0; i < DUMP_STABLE; i++) {
		ASSERT_EQ(0, vfiosim_uuid_generate(stable[i]));
		ASSERT_EQ(0, vfiosim_mdev_create("vfiosim-small", stable[i],
						 err, sizeof(err))) TH_LOG("%s", err);
	}
	/* quiet, the dump is whole */
	ASSERT_EQ(0, dump_count(stable, DUMP_STABLE, seen, &intr));
	for (i = 0; i < DUMP_STABLE; i++)
		EXPECT_EQ(1, seen[i]);

	ASSERT_EQ(0, pthread_create(&t, NULL, dev_churn, &churn));
	for (d = 0; d < DUMP_ROUNDS; d++) {
		ASSERT_EQ(0, dump_count(stable, DUMP_STABLE, seen, &intr));
		if (intr) {
			intr_dumps++;
			continue;
		}
		for (i = 0; i < DUMP_STABLE; i++) {
			if (seen[i] == 1)
				continue;
			bad++;
			TH_LOG("dump %d: %s listed %d times, not marked interrupted",
			       d, stable[i], seen[i]);
			break;
		}
	}
	__atomic_store_n(&churn.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%d dumps with %u device changes: %d interrupted, %d inconsistent",
	       DUMP_ROUNDS, churn.changes, intr_dumps, bad);
	EXPECT_EQ(0, churn.error);
	EXPECT_EQ(0, bad);
	for (i = 0; i < DUMP_CHURN; i++)
		vfiosim_mdev_remove(churn.uuids[i], err, sizeof(err));
	for (i = 0; i < DUMP_STABLE; i++)
		vfiosim_mdev_remove(stable[i], err, sizeof(err));
}

TEST_F(nl, dma_map_unmap)
{
	struct nl_reply *r = self->r;
	int mfd, ret, i;

	mfd = memfd_new(0x100000);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));

	ASSERT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000, mfd, 0, r))
		TH_LOG("DMA_MAP: %s", WHY(self));
	/* overlapping: start inside, end inside, covering */
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0x108000, 0x10000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0xf8000, 0x10000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0x0, 0x200000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	/* adjacent is fine */
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x110000, 0x1000, mfd,
				0x10000, r)) TH_LOG("%s", WHY(self));
	/* misaligned iova, size, offset */
	EXPECT_EQ(EINVAL, vu_dma_map(&self->a, self->uuid, 0x200800, 0x1000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_map(&self->a, self->uuid, 0x200000, 0x800,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_map(&self->a, self->uuid, 0x200000, 0x1000,
				     mfd, 0x10, r)) TH_LOG("%s", WHY(self));
	/* size 0, iova + size wrapping */
	EXPECT_EQ(EINVAL, vu_dma_map(&self->a, self->uuid, 0x200000, 0, mfd, 0, r))
		TH_LOG("%s", WHY(self));
	ret = vu_dma_map(&self->a, self->uuid, 0xfffffffffffff000ULL, 0x2000,
			 mfd, 0, r);
	EXPECT_LT(0, ret) TH_LOG("wrapping DMA_MAP: %d %s", ret, WHY(self));
	TH_LOG("DMA_MAP wrapping iova+size: %s", WHY(self));
	/* a map without an fd: message-based access */
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x400000, 0x4000, -1, 0, r))
		TH_LOG("fd-less DMA_MAP: %s", WHY(self));

	/*
	 * unmap as the type1 IOMMU does (QEMU's vfio-user client unmaps
	 * whole vIOMMU windows): a range that splits a mapping is EINVAL,
	 * and so are size 0 and a wrapping range; every mapping inside the
	 * range goes; a range with nothing mapped in it is no error.
	 */
	EXPECT_EQ(EINVAL, vu_dma_unmap(&self->a, self->uuid, 0x108000, 0x10000,
				       0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_unmap(&self->a, self->uuid, 0xf8000, 0x10000,
				       0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_unmap(&self->a, self->uuid, 0x104000, 0x1000,
				       0, r)) TH_LOG("inside one: %s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_unmap(&self->a, self->uuid, 0x100000, 0, 0, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(EINVAL, vu_dma_unmap(&self->a, self->uuid,
				       0xfffffffffffff000ULL, 0x2000, 0, r))
		TH_LOG("%s", WHY(self));
	/* refused unmaps removed nothing: the range is still taken */
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000,
				     mfd, 0, r)) TH_LOG("%s", WHY(self));
	/* one range over both adjacent mappings removes both */
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0x100000, 0x11000, 0, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0x100000, 0x11000, 0, r))
		TH_LOG("unmapping twice: %s", WHY(self));
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0x800000, 0x1000, 0, r))
		TH_LOG("DMA_UNMAP of nothing: %s", WHY(self));
	/* QEMU unmaps all of a vIOMMU's space in two halves; the top one ends at 2^64 */
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 1ULL << 63, 1ULL << 63,
				  0, r)) TH_LOG("top half: %s", WHY(self));
	/* the freed ranges map again */
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000, mfd, 0, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x110000, 0x1000, mfd,
				0x10000, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(EEXIST, vu_dma_map(&self->a, self->uuid, 0x400000, 0x4000,
				     -1, 0, r)) TH_LOG("untouched: %s", WHY(self));

	/* UNMAP ALL (addr and size 0) clears everything */
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0, 0,
				  VFIO_DMA_UNMAP_FLAG_ALL, r)) TH_LOG("%s", WHY(self));
	for (i = 0; i < 3; i++) {
		static const uint64_t iova[] = { 0x100000, 0x110000, 0x400000 };

		EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, iova[i], 0x1000,
					mfd, 0, r))
			TH_LOG("map %#" PRIx64 " after UNMAP_ALL: %s", iova[i], WHY(self));
	}
	close(mfd);
}

/* At most VFIOSIM_USER_MAX_DMA_MAPS mappings per session. */
TEST_F(nl, dma_map_limit)
{
	struct nl_reply *r = self->r;
	int mfd, ret, i;

	mfd = memfd_new(PAGE);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	for (i = 0; i < VFIOSIM_USER_MAX_DMA_MAPS; i++) {
		/* every other one message-only; gaps so nothing merges */
		ret = vu_dma_map(&self->a, self->uuid, 0x100000 + i * 2 * PAGE,
				 PAGE, i % 2 ? -1 : mfd, 0, r);
		ASSERT_EQ(0, ret) TH_LOG("map %d: %s", i, WHY(self));
	}
	ret = vu_dma_map(&self->a, self->uuid, 0x100000 + i * 2 * PAGE, PAGE,
			 mfd, 0, r);
	EXPECT_LT(0, ret) TH_LOG("map %d beyond the limit: %d %s", i, ret, WHY(self));
	TH_LOG("map %d beyond VFIOSIM_USER_MAX_DMA_MAPS: %s", i, WHY(self));
	ret = vu_dma_map(&self->a, self->uuid, 0x100000 + i * 2 * PAGE, PAGE,
			 -1, 0, r);
	EXPECT_LT(0, ret) TH_LOG("fd-less map beyond the limit: %d %s", ret, WHY(self));
	/* freeing one makes room for one */
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0x100000, PAGE, 0, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x100000 + i * 2 * PAGE,
				PAGE, mfd, 0, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, vu_dma_unmap(&self->a, self->uuid, 0, 0,
				  VFIO_DMA_UNMAP_FLAG_ALL, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x100000, PAGE, mfd, 0, r))
		TH_LOG("%s", WHY(self));
	close(mfd);
}

/* ---- the BAR2 region file ---------------------------------------------- */

/*
 * GET_REGION_INFO of BAR2: the region file it comes with (the caller
 * closes it), or -errno.
 */
static int region_file_get(struct nl *nl, const char *uuid,
			   struct nl_reply *r)
{
	struct vfio_region_info info = {
		.argsz = 256,
		.index = VFIO_PCI_BAR2_REGION_INDEX,
	};
	int ret, fd;

	ret = vu_cmd(nl, uuid, VFIOSIM_USER_DEVICE_GET_REGION_INFO, 0, &info,
		     sizeof(info), NULL, 0, r);
	if (ret)
		return ret > 0 ? -ret : ret;
	if (r->nfds != 1)
		return -ENOENT;
	fd = r->fds[0];
	r->nfds = 0;
	return fd;
}

/* Map BAR2's first page through region file fd. */
static volatile uint64_t *region_file_map(int fd)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd,
		       (off_t)VFIOSIM_REGION_OFFSET(VFIO_PCI_BAR2_REGION_INDEX));

	return p == MAP_FAILED ? NULL : p;
}

/* mmap of region file fd now: 0 or the errno it fails with. */
static int region_file_mmap_errno(int fd)
{
	volatile uint64_t *p = region_file_map(fd);

	if (!p)
		return errno;
	munmap((void *)p, sysconf(_SC_PAGESIZE));
	return 0;
}

/*
 * DEV_OPEN, then map BAR2's first page through the region file and write
 * it: 0 with *fd and *map set, or -errno.
 */
static int region_open_map(struct nl *nl, const char *uuid,
			   struct nl_reply *r, int *fd,
			   volatile uint64_t **map)
{
	int ret = nl_cmd(nl, VFIOSIM_CMD_DEV_OPEN, uuid, r);

	if (ret)
		return ret;
	*fd = region_file_get(nl, uuid, r);
	if (*fd < 0)
		return *fd;
	*map = region_file_map(*fd);
	if (!*map) {
		ret = -errno;
		close(*fd);
		return ret;
	}
	(*map)[0] = 0x1234;
	return 0;
}

/*
 * After DEV_CLOSE the session's region file is dead: its mapping SIGBUSes
 * and it maps no more (ENODEV), also once the socket owns the device again.
 */
TEST_F(nl, region_file_dead_after_dev_close)
{
	struct nl_reply *r = self->r;
	volatile uint64_t *map;
	int fd, ret;

	ret = region_open_map(&self->a, self->uuid, r, &fd, &map);
	ASSERT_EQ(0, ret) TH_LOG("%d: %s", ret, WHY(self));
	ASSERT_EQ(0, touch_in_child(map, true));

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(SIGBUS, touch_in_child(map, false));
	EXPECT_EQ(ENODEV, region_file_mmap_errno(fd));

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(SIGBUS, touch_in_child(map, true));
	EXPECT_EQ(ENODEV, region_file_mmap_errno(fd));
	munmap((void *)map, sysconf(_SC_PAGESIZE));
	close(fd);
}

/* The same when the owning socket closes instead. */
TEST_F(nl, region_file_dead_after_socket_close)
{
	struct nl_reply *r = self->r;
	volatile uint64_t *map;
	struct nl b;
	int fd, tries, ret;

	ASSERT_EQ(0, nl_open(&b));
	ret = region_open_map(&b, self->uuid, r, &fd, &map);
	ASSERT_EQ(0, ret) TH_LOG("%d: %s", ret, WHY(self));
	nl_close(&b);

	/* The device is free again once the release has run. */
	ASSERT_EQ(0, dev_open_retry(&self->a, self->uuid, r, &tries))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(SIGBUS, touch_in_child(map, false));
	EXPECT_EQ(ENODEV, region_file_mmap_errno(fd));
	munmap((void *)map, sysconf(_SC_PAGESIZE));
	close(fd);
}

/* Map, close, open over VFIO, touch the old mapping: SIGBUS. */
TEST_F(nl, region_mapping_dead_under_vfio)
{
	struct nl_reply *r = self->r;
	volatile uint64_t *map;
	uint64_t val = 0;
	char spec[128];
	int fd, ret;

	ret = region_open_map(&self->a, self->uuid, r, &fd, &map);
	ASSERT_EQ(0, ret) TH_LOG("%d: %s", ret, WHY(self));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));

	self->vdev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->vdev);
	snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
	ASSERT_EQ(0, vfiosim_dev_open(self->vdev, spec))
		TH_LOG("%s", vfiosim_dev_error(self->vdev));
	ASSERT_EQ(0, region_write_le(self->vdev, VFIO_PCI_BAR2_REGION_INDEX, 0,
				     8, 0x5678));

	EXPECT_EQ(SIGBUS, touch_in_child(map, false));
	EXPECT_EQ(SIGBUS, touch_in_child(map, true));
	EXPECT_EQ(ENODEV, region_file_mmap_errno(fd));
	ASSERT_EQ(0, region_read_le(self->vdev, VFIO_PCI_BAR2_REGION_INDEX, 0,
				    8, &val));
	EXPECT_EQ(0x5678, val);
	munmap((void *)map, sysconf(_SC_PAGESIZE));
	close(fd);
}

/*
 * A region file left open does not hold the device: it can be removed and
 * the same UUID created again; the old file stays dead.
 */
TEST_F(nl, region_file_does_not_pin_device)
{
	struct nl_reply *r = self->r;
	volatile uint64_t *map;
	char err[256] = "";
	int fd, ret;

	ret = region_open_map(&self->a, self->uuid, r, &fd, &map);
	ASSERT_EQ(0, ret) TH_LOG("%d: %s", ret, WHY(self));
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));

	ASSERT_EQ(0, vfiosim_mdev_remove(self->uuid, err, sizeof(err)))
		TH_LOG("remove: %s", err);
	self->created = false;
	EXPECT_EQ(SIGBUS, touch_in_child(map, false));
	EXPECT_EQ(ENODEV, region_file_mmap_errno(fd));

	EXPECT_EQ(0, vfiosim_mdev_create("vfiosim-small", self->uuid, err,
					 sizeof(err)))
		TH_LOG("re-create %s with a stale region file open: %s",
		       self->uuid, err);
	self->created = mdev_exists(self->uuid);
	EXPECT_EQ(SIGBUS, touch_in_child(map, true));
	munmap((void *)map, sysconf(_SC_PAGESIZE));
	close(fd);
}

/*
 * The malformed stream.  Messages are generated from a fixed seed, sent
 * FUZZ_BATCH per sendmsg() without NLM_F_ACK and followed by a PING with
 * NLM_F_ACK; everything up to that ACK is the batch's answers.  Each
 * message must get exactly one answer (a netlink error or a vfio-user
 * reply); a malformed one never a successful reply; silence only when the
 * message asked for NO_REPLY.
 */
#define FUZZ_MESSAGES		100000
#define FUZZ_BATCH		64
#define FUZZ_MSG_MAX		(VFIOSIM_USER_MAX_DATA_XFER + 1024)
#define FUZZ_SEND_BUF		(FUZZ_BATCH * 1024 + 2 * FUZZ_MSG_MAX)
#define FUZZ_SHOW		12

enum fuzz_expect { EXP_ERROR, EXP_ANY, EXP_SUCCESS };

enum fuzz_cat {
	CAT_TRUNCATED, CAT_SIZE_MISMATCH, CAT_HUGE_SIZE, CAT_TYPE_FLAGS,
	CAT_UNKNOWN_CMD, CAT_READ_TOO_BIG, CAT_WRITE_LIES, CAT_OVERFLOW,
	CAT_BAD_REGION, CAT_IRQ_FD_COUNT, CAT_BAD_FD, CAT_DMA_BAD,
	CAT_MULTI_LIES, CAT_RANDOM, CAT_VALID_READ, CAT_NR,
};

static const char *const cat_name[CAT_NR] = {
	"truncated header", "msg_size mismatch", "huge msg_size",
	"wrong type flags", "unknown command", "read count > max",
	"write count lies/too big", "offset+count overflow", "bad region",
	"SET_IRQS fds != count", "bad fd", "bad DMA_MAP", "WRITE_MULTI lies",
	"random bytes", "valid ID read",
};

struct fuzz_msg {
	uint8_t buf[FUZZ_MSG_MAX];
	size_t len;
	int32_t fds[4];
	int nfds;
	enum fuzz_cat cat;
	enum fuzz_expect expect;
	bool no_reply_ok;
	uint16_t msg_id;
	uint16_t command;
};

struct fuzz_slot {
	uint32_t seq;
	enum fuzz_cat cat;
	enum fuzz_expect expect;
	bool no_reply_ok;
	uint16_t msg_id, command;
	uint8_t head[32];
	size_t len;
	/* answers */
	unsigned int nl_err, vu_err, vu_ok, other;
	int err;
	bool reply_bad;		/* a reply that does not match the request */
	bool data_bad;		/* valid read: wrong data */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n--)
		*b++ = (uint8_t)rnd();
}

static struct vfiosim_user_header *fz_hdr(struct fuzz_msg *m, uint16_t cmd,
					  size_t plen)
{
	struct vfiosim_user_header *h = (void *)m->buf;

	memset(m->buf, 0, VU_HDR_SIZE + plen);
	h->msg_id = m->msg_id;
	h->command = cmd;
	h->msg_size = VU_HDR_SIZE + plen;
	h->flags = VFIOSIM_USER_F_TYPE_COMMAND;
	m->len = VU_HDR_SIZE + plen;
	m->command = cmd;
	return h;
}

static struct vfiosim_user_region_access *fz_access(struct fuzz_msg *m,
						    uint16_t cmd, uint32_t region,
						    uint64_t offset, uint32_t count,
						    size_t data)
{
	struct vfiosim_user_region_access *a;

	fz_hdr(m, cmd, sizeof(*a) + data);
	a = (void *)(m->buf + VU_HDR_SIZE);
	a->region = region;
	a->offset = offset;
	a->count = count;
	return a;
}

static void fuzz_gen(struct fuzz_msg *m, int efd, int mfd)
{
	struct vfiosim_user_header *h = (void *)m->buf;
	uint32_t pick = rnd_below(100);

	m->nfds = 0;
	m->expect = EXP_ERROR;
	m->no_reply_ok = false;
	/* about 7 % each, random bytes more, one valid read in 50 */
	if (pick < 2)
		m->cat = CAT_VALID_READ;
	else if (pick < 16)
		m->cat = CAT_RANDOM;
	else
		m->cat = (enum fuzz_cat)((pick - 16) % CAT_RANDOM);

	switch (m->cat) {
	case CAT_TRUNCATED:
		m->len = rnd_below(VU_HDR_SIZE);
		rnd_bytes(m->buf, m->len);
		m->command = 0;
		break;
	case CAT_SIZE_MISMATCH: {
		static const int delta[] = { -16, -8, -4, -1, 1, 4, 8, 100 };
		int d = delta[rnd_below(8)];

		fz_access(m, VFIOSIM_USER_REGION_READ, 0, VFIOSIM_REG_ID, 4, 0);
		if (rnd_below(4) == 0)
			h->msg_size = 0;
		else
			h->msg_size = (uint32_t)((int)m->len + d);
		break;
	}
	case CAT_HUGE_SIZE: {
		static const uint32_t sz[] = {
			0xffffffff, 0x80000000, 0x10010, 0x10000,
			VFIOSIM_USER_MAX_DATA_XFER + 0x100,
		};

		fz_access(m, rnd_below(2) ? VFIOSIM_USER_REGION_READ :
			  VFIOSIM_USER_DEVICE_GET_INFO, 0, VFIOSIM_REG_ID, 4, 0);
		h->msg_size = sz[rnd_below(5)];
		break;
	}
	case CAT_TYPE_FLAGS:
		fz_access(m, VFIOSIM_USER_REGION_READ, 0, VFIOSIM_REG_ID, 4, 0);
		h->flags = 1 + rnd_below(15);	/* reply, or types 2..15 */
		break;
	case CAT_UNKNOWN_CMD: {
		static const uint16_t cmds[] = { 0, 14, 19, 0xffff, 20, 0x100 };
		size_t plen = rnd_below(33);

		fz_hdr(m, cmds[rnd_below(6)], plen);
		rnd_bytes(m->buf + VU_HDR_SIZE, plen);
		break;
	}
	case CAT_READ_TOO_BIG: {
		static const uint32_t cnt[] = {
			VFIOSIM_USER_MAX_DATA_XFER + 1, 0x10000, 0xffffffff,
			0x80000000,
		};

		fz_access(m, VFIOSIM_USER_REGION_READ,
			  rnd_below(2) ? VFIO_PCI_BAR2_REGION_INDEX : 0, 0,
			  cnt[rnd_below(4)], 0);
		break;
	}
	case CAT_WRITE_LIES: {
		uint32_t kind = rnd_below(40);
		struct vfiosim_user_region_access *a;

		if (kind == 0) {
			/* honest, but more than one message may move */
			a = fz_access(m, VFIOSIM_USER_REGION_WRITE,
				      VFIO_PCI_BAR2_REGION_INDEX, 0,
				      VFIOSIM_USER_MAX_DATA_XFER + 8,
				      VFIOSIM_USER_MAX_DATA_XFER + 8);
		} else {
			static const uint32_t cnt[] = { 8, 5, 0xffffffff, 0x10000, 2 };

			/* 4 bytes of data, a count that says otherwise */
			a = fz_access(m, VFIOSIM_USER_REGION_WRITE, 0,
				      VFIOSIM_REG_SCRATCH(0), cnt[kind % 5], 4);
		}
		(void)a;
		break;
	}
	case CAT_OVERFLOW: {
		static const uint64_t off[] = {
			~0ULL - 1, ~0ULL - 3, ~0ULL, 1ULL << 63,
			VFIOSIM_BAR0_SIZE - 2, VFIOSIM_BAR0_SIZE,
			VFIOSIM_CONFIG_SIZE - 1,
		};
		uint32_t i = rnd_below(7);
		uint32_t region = i == 6 ? VFIO_PCI_CONFIG_REGION_INDEX : 0;

		if (rnd_below(2))
			fz_access(m, VFIOSIM_USER_REGION_READ, region, off[i], 4, 0);
		else
			fz_access(m, VFIOSIM_USER_REGION_WRITE, region, off[i], 4, 4);
		break;
	}
	case CAT_BAD_REGION: {
		static const uint32_t reg[] = {
			VFIO_PCI_NUM_REGIONS, VFIO_PCI_NUM_REGIONS + 1, 0xff,
			0xffffffff, 0x80000000, VFIO_PCI_BAR1_REGION_INDEX,
			VFIO_PCI_BAR5_REGION_INDEX,
		};

		if (rnd_below(2))
			fz_access(m, VFIOSIM_USER_REGION_READ, reg[rnd_below(7)], 0, 4, 0);
		else
			fz_access(m, VFIOSIM_USER_REGION_WRITE, reg[rnd_below(7)], 0, 4, 4);
		break;
	}
	case CAT_IRQ_FD_COUNT:
	case CAT_BAD_FD: {
		struct vfio_irq_set *s;

		fz_hdr(m, VFIOSIM_USER_DEVICE_SET_IRQS, sizeof(*s));
		s = (void *)(m->buf + VU_HDR_SIZE);
		s->argsz = sizeof(*s);
		s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		s->index = VFIO_PCI_MSIX_IRQ_INDEX;
		s->start = 0;
		if (m->cat == CAT_IRQ_FD_COUNT) {
			static const struct { uint32_t count; int nfds; } c[] = {
				{ 2, 1 }, { 1, 2 }, { 0, 1 }, { 4, 0 }, { 3, 2 },
			};
			uint32_t i = rnd_below(5), k;

			s->count = c[i].count;
			m->nfds = c[i].nfds;
			/* no fds at all de-assigns the range (kmod/vfio_user.c) */
			if (!m->nfds)
				m->expect = EXP_ANY;
			for (k = 0; k < (uint32_t)m->nfds; k++)
				m->fds[k] = efd;
		} else {
			static const int32_t bad[] = { 99999, -1, -2, 0x7fffffff };
			uint32_t i = rnd_below(5);

			s->count = 1;
			m->nfds = 1;
			/* i == 4: a memfd is no eventfd */
			m->fds[0] = i < 4 ? bad[i] : mfd;
			/* any negative fd means "no trigger", as in vfio-pci */
			if (m->fds[0] < 0)
				m->expect = EXP_ANY;
		}
		break;
	}
	case CAT_DMA_BAD: {
		static const struct { uint32_t argsz; uint64_t addr, size, off; } d[] = {
			{ 32, 0x1000800, 0x1000, 0 },		/* misaligned iova */
			{ 32, 0x1000000, 0x800, 0 },		/* misaligned size */
			{ 32, 0x1000000, 0, 0 },		/* zero size */
			{ 32, 0xfffffffffffff000ULL, 0x2000, 0 },	/* wraps */
			{ 32, 0x1000000, ~0ULL & ~0xfffULL, 0 },	/* wraps */
			{ 32, 0x1000000, 0x1000, 0x10 },	/* misaligned offset */
			{ 8, 0x1000000, 0x1000, 0 },		/* argsz too small */
		};
		struct vfiosim_user_dma_map *dm;
		uint32_t i = rnd_below(7);

		fz_hdr(m, VFIOSIM_USER_DMA_MAP, sizeof(*dm));
		dm = (void *)(m->buf + VU_HDR_SIZE);
		dm->argsz = d[i].argsz;
		dm->flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		dm->addr = d[i].addr;
		dm->size = d[i].size;
		dm->offset = d[i].off;
		/* the misaligned offset only means something with an fd */
		if (d[i].off || rnd_below(2)) {
			m->fds[0] = mfd;
			m->nfds = 1;
		}
		break;
	}
	case CAT_MULTI_LIES: {
		/* entries sent, wr_cnt claimed; the last: entry count lies */
		static const struct { uint32_t n; uint64_t wr_cnt; } lie[] = {
			{ 1, 3 }, { 2, 1 }, { 1, 1ULL << 63 },
			{ VFIOSIM_USER_WRITE_MULTI_MAX + 1, VFIOSIM_USER_WRITE_MULTI_MAX + 1 },
			{ 1, 0 }, { 1, 1 },
		};
		struct vfiosim_user_write_multi_entry *e;
		uint32_t kind = rnd_below(6), n = lie[kind].n, i;
		uint64_t wr_cnt = lie[kind].wr_cnt;

		fz_hdr(m, VFIOSIM_USER_REGION_WRITE_MULTI, 8 + n * sizeof(*e));
		memcpy(m->buf + VU_HDR_SIZE, &wr_cnt, 8);
		e = (void *)(m->buf + VU_HDR_SIZE + 8);
		for (i = 0; i < n; i++) {
			e[i].region = VFIO_PCI_BAR0_REGION_INDEX;
			e[i].offset = VFIOSIM_REG_SCRATCH(i % VFIOSIM_NUM_SCRATCH);
			e[i].count = kind == 5 ? (rnd_below(2) ? 0 : 9) : 4;
		}
		break;
	}
	case CAT_RANDOM: {
		size_t len = rnd_below(257);

		m->expect = EXP_ANY;
		rnd_bytes(m->buf, len);
		m->len = len;
		if (len >= VU_HDR_SIZE && rnd_below(2)) {
			/* plausible framing, so the payload parsers run */
			h->msg_size = len;
			h->command = rnd_below(21);
			h->flags &= ~VFIOSIM_USER_F_TYPE_MASK;
			/* never a real DMA_MAP: that could fill the table */
			if (h->command == VFIOSIM_USER_DMA_MAP)
				h->command = 0;
		}
		m->command = len >= 4 ? h->command : 0;
		if (len >= VU_HDR_SIZE && (h->flags & VFIOSIM_USER_F_NO_REPLY))
			m->no_reply_ok = true;
		break;
	}
	case CAT_VALID_READ:
	default:
		m->cat = CAT_VALID_READ;
		fz_access(m, VFIOSIM_USER_REGION_READ, 0, VFIOSIM_REG_ID, 4, 0);
		m->expect = EXP_SUCCESS;
		break;
	}
	if (m->len >= 2)
		memcpy(m->buf, &m->msg_id, 2);
}

struct fuzz_ctx {
	struct fuzz_slot *slots;
	unsigned int n;
	uint32_t first_seq;
	unsigned int stray;
};

/* Account one answer to the batch. */
static bool fuzz_answer(const struct nlmsghdr *nlh, void *arg)
{
	struct fuzz_ctx *c = arg;
	struct fuzz_slot *s;
	uint32_t i = nlh->nlmsg_seq - c->first_seq;

	if (i >= c->n) {
		c->stray++;
		return true;
	}
	s = &c->slots[i];
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (e->error) {
			s->nl_err++;
			s->err = e->error;
		} else {
			s->other++;	/* an ACK nobody asked for */
		}
		return true;
	}
	if (nlh->nlmsg_type == vfiosim_family) {
		static struct nl_reply r;
		const struct vfiosim_user_header *h = (const void *)r.msg;

		reply_reset(&r);
		parse_genl(nlh, &r);
		close_fds(&r);
		if (r.msg_len < VU_HDR_SIZE) {
			s->other++;
			return true;
		}
		if (h->msg_size != r.msg_len ||
		    (s->len >= 2 && h->msg_id != s->msg_id) ||
		    (s->len >= 4 && h->command != s->command) ||
		    (h->flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_REPLY)
			s->reply_bad = true;
		if (h->flags & VFIOSIM_USER_F_ERROR) {
			s->vu_err++;
			s->err = (int)h->error_no;
		} else {
			s->vu_ok++;
			if (s->cat == CAT_VALID_READ) {
				const struct vfiosim_user_region_access *a =
					(const void *)(r.msg + VU_HDR_SIZE);
				uint32_t v;

				memcpy(&v, a->data, 4);
				if (r.msg_len != VU_HDR_SIZE + sizeof(*a) + 4 ||
				    v != VFIOSIM_ID_MAGIC)
					s->data_bad = true;
			}
		}
		return true;
	}
	s->other++;
	return true;
}

static const char *fuzz_verdict(const struct fuzz_slot *s)
{
	unsigned int answers = s->nl_err + s->vu_err + s->vu_ok + s->other;

	if (answers > 1)
		return "answered more than once";
	if (s->other)
		return "unexpected answer";
	if (!answers)
		return s->no_reply_ok ? NULL : "no answer";
	if (s->reply_bad)
		return "reply does not match the request";
	if (s->expect == EXP_ERROR && s->vu_ok)
		return "malformed message succeeded";
	if (s->expect == EXP_SUCCESS && !s->vu_ok)
		return "valid read failed";
	if (s->data_bad)
		return "valid read returned wrong data";
	return NULL;
}

TEST_F_TIMEOUT(nl, malformed_stream, 300)
{
	struct fuzz_slot *slots = calloc(FUZZ_BATCH, sizeof(*slots));
	struct fuzz_msg *m = calloc(1, sizeof(*m));
	unsigned int outcome[CAT_NR][4] = { { 0 } };	/* nl_err vu_err ok silent */
	unsigned int bad = 0, shown = 0, sent = 0, i, k;
	char *sbuf = malloc(FUZZ_SEND_BUF);
	struct nl_reply *r = self->r;
	struct timespec t0, t1;
	const char *env;
	uint64_t seed = 0x5646534d2026ULL;
	uint32_t v;
	int efd, mfd;

	ASSERT_NE(NULL, slots);
	ASSERT_NE(NULL, m);
	ASSERT_NE(NULL, sbuf);
	env = getenv("VFIOSIM_FUZZ_SEED");
	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed ? seed : 1;
	TH_LOG("seed %#" PRIx64 " (VFIOSIM_FUZZ_SEED), %d messages, %d per batch",
	       seed, FUZZ_MESSAGES, FUZZ_BATCH);

	efd = efd_new();
	ASSERT_LE(0, efd);
	mfd = memfd_new(0x10000);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < FUZZ_MESSAGES) {
		struct fuzz_ctx ctx = { .slots = slots };
		struct nlmsghdr *nlh = NULL;
		size_t off = 0;
		int ret;

		for (i = 0; i < FUZZ_BATCH && sent < FUZZ_MESSAGES; i++, sent++) {
			struct fuzz_slot *s = &slots[i];

			m->msg_id = (uint16_t)sent;
			fuzz_gen(m, efd, mfd);
			if (off + m->len + 512 > FUZZ_SEND_BUF - 512)
				break;
			nlh = put_vu(sbuf + off, &self->a, 0, self->uuid, m->buf,
				     m->len, m->fds, m->nfds);
			if (!i)
				ctx.first_seq = nlh->nlmsg_seq;
			off += NLMSG_ALIGN(nlh->nlmsg_len);
			memset(s, 0, sizeof(*s));
			s->seq = nlh->nlmsg_seq;
			s->cat = m->cat;
			s->expect = m->expect;
			s->no_reply_ok = m->no_reply_ok;
			s->msg_id = m->msg_id;
			s->command = m->command;
			s->len = m->len;
			memcpy(s->head, m->buf, m->len < 32 ? m->len : 32);
		}
		ctx.n = i;
		/* the barrier */
		nlh = put_genl(sbuf + off, &self->a, vfiosim_family, NLM_F_ACK,
			       VFIOSIM_CMD_PING, VFIOSIM_GENL_VERSION);
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		ASSERT_EQ((ssize_t)off, mnl_socket_sendto(self->a.sk, sbuf, off))
			TH_LOG("sendmsg of %zu bytes: %s", off, strerror(errno));
		reply_reset(r);
		ret = nl_recv(&self->a, nlh->nlmsg_seq, r, fuzz_answer, &ctx);
		ASSERT_EQ(0, ret) TH_LOG("barrier PING after %u messages: %s",
					 sent, WHY(self));
		EXPECT_EQ(0, ctx.stray) TH_LOG("answers to nothing we sent");

		for (k = 0; k < ctx.n; k++) {
			const struct fuzz_slot *s = &slots[k];
			const char *why = fuzz_verdict(s);

			outcome[s->cat][s->nl_err ? 0 : s->vu_err ? 1 : s->vu_ok ? 2 : 3]++;
			if (!why)
				continue;
			bad++;
			if (shown++ < FUZZ_SHOW) {
				char hex[3 * 32 + 1] = "";
				size_t j;

				for (j = 0; j < s->len && j < 32; j++)
					sprintf(hex + 3 * j, "%02x ", s->head[j]);
				TH_LOG("msg %u (%s, %zu bytes): %s (netlink err %u, vfio-user err %u, ok %u, other %u, errno %d): %s",
				       sent - ctx.n + k, cat_name[s->cat], s->len, why,
				       s->nl_err, s->vu_err, s->vu_ok, s->other,
				       s->err, hex);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%u messages in %.1f s", sent,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (i = 0; i < CAT_NR; i++)
		TH_LOG("  %-26s netlink errors %6u, vfio-user errors %6u, ok %6u, silent %5u",
		       cat_name[i], outcome[i][0], outcome[i][1], outcome[i][2],
		       outcome[i][3]);
	EXPECT_EQ(0, bad) TH_LOG("%u messages answered wrongly", bad);

	/* the device and the session still work */
	ASSERT_EQ(0, vu_read32(&self->a, self->uuid, VFIO_PCI_BAR0_REGION_INDEX,
			       VFIOSIM_REG_ID, &v, r)) TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_ID_MAGIC, v);
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	/* and through VFIO too */
	self->vdev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->vdev);
	{
		char spec[128];

		snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
		ASSERT_EQ(0, vfiosim_dev_open(self->vdev, spec))
			TH_LOG("%s", vfiosim_dev_error(self->vdev));
	}
	EXPECT_EQ(VFIOSIM_ID_MAGIC, reg32(self->vdev, VFIOSIM_REG_ID));
	close(efd);
	close(mfd);
	free(slots);
	free(m);
	free(sbuf);
}

/*
 * ==== Message-level policy and DMA_MAP files (issue 8, "vuproto") ====
 *
 * Each command has its own attribute policy: required attributes are
 * named in the extack when missing, the msg attribute's length is bounded
 * by the policy, fds are refused where a command takes none.  DMA_MAP
 * takes memory files only.  These tests keep to this block.
 */

/* What an ACK or error said: errno, message, missing/bad attribute. */
struct pol_ack {
	int error;
	char msg[256];
	int miss_type;		/* NLMSGERR_ATTR_MISS_TYPE, or -1 */
	bool has_offs;		/* NLMSGERR_ATTR_OFFS: a bad attribute */
	bool has_policy;	/* NLMSGERR_ATTR_POLICY: refused by a policy */
	unsigned int genl_msgs;	/* replies of our family before it */
	struct vfiosim_user_header vu;	/* the last vfio-user reply header */
};

/* Send nlh and read until its ACK or error. 0 or -errno of the socket. */
static int pol_xfer(struct nl *nl, struct nlmsghdr *nlh, struct pol_ack *a)
{
	static char buf[NL_BUF_SIZE];
	uint32_t seq = nlh->nlmsg_seq;

	memset(a, 0, sizeof(*a));
	a->miss_type = -1;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (nl_send(nl, nlh))
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		const struct nlmsghdr *rep = (const void *)buf;
		int len = (int)n;

		if (n < 0)
			return -errno;
		for (; mnl_nlmsg_ok(rep, len); rep = mnl_nlmsg_next(rep, &len)) {
			const struct nlmsgerr *e;
			const struct nlattr *attr;
			unsigned int off;

			if (rep->nlmsg_seq != seq)
				continue;
			if (rep->nlmsg_type == vfiosim_family) {
				a->genl_msgs++;
				mnl_attr_for_each(attr, rep, sizeof(struct genlmsghdr)) {
					if (mnl_attr_get_type(attr) == VFIOSIM_ATTR_MSG &&
					    mnl_attr_get_payload_len(attr) >= sizeof(a->vu))
						memcpy(&a->vu, mnl_attr_get_payload(attr),
						       sizeof(a->vu));
					if (mnl_attr_get_type(attr) == VFIOSIM_ATTR_FDS) {
						const int32_t *fds = mnl_attr_get_payload(attr);
						size_t i;

						for (i = 0; i < mnl_attr_get_payload_len(attr) / 4; i++)
							close(fds[i]);
					}
				}
				continue;
			}
			if (rep->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(rep);
			a->error = e->error;
			if (!(rep->nlmsg_flags & NLM_F_ACK_TLVS))
				return 0;
			off = sizeof(*e);
			if (!(rep->nlmsg_flags & NLM_F_CAPPED))
				off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
			mnl_attr_for_each(attr, rep, off) {
				switch (mnl_attr_get_type(attr)) {
				case NLMSGERR_ATTR_MSG:
					if (!mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
						snprintf(a->msg, sizeof(a->msg), "%s",
							 mnl_attr_get_str(attr));
					break;
				case NLMSGERR_ATTR_MISS_TYPE:
					a->miss_type = (int)mnl_attr_get_u32(attr);
					break;
				case NLMSGERR_ATTR_OFFS:
					a->has_offs = true;
					break;
				case NLMSGERR_ATTR_POLICY:
					a->has_policy = true;
					break;
				}
			}
			return 0;
		}
	}
}

/* The ack, for TH_LOG. */
static const char *pol_str(const struct pol_ack *a)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "error %d (%s), extack \"%s\", missing attr %d%s%s",
		 a->error, strerror(-a->error), a->msg, a->miss_type,
		 a->has_offs ? ", bad attr" : "",
		 a->has_policy ? ", policy" : "");
	return buf;
}

/* A VFIO_USER request with a raw msg attribute of len bytes. */
static struct nlmsghdr *pol_vu(char *buf, struct nl *nl, const char *uuid,
			       uint16_t command, size_t len)
{
	static uint8_t msg[VFIOSIM_USER_MAX_MSG + 64];
	struct vfiosim_user_header *h = (void *)msg;
	struct nlmsghdr *nlh;

	memset(msg, 0, sizeof(msg));
	h->msg_id = ++nl->msg_id;
	h->command = command;
	h->msg_size = len;
	nlh = put_genl(buf, nl, vfiosim_family, 0, VFIOSIM_CMD_VFIO_USER,
		       VFIOSIM_GENL_VERSION);
	if (uuid)
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, len, msg);
	return nlh;
}

/* A missing required attribute is EINVAL, and the extack names it. */
TEST_F(nl, policy_missing_attribute_is_named)
{
	static const uint8_t cmds[] = {
		VFIOSIM_CMD_DEV_GET, VFIOSIM_CMD_DEV_OPEN, VFIOSIM_CMD_DEV_CLOSE,
	};
	static char buf[NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct pol_ack a;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		nlh = put_genl(buf, &self->a, vfiosim_family, 0, cmds[i],
			       VFIOSIM_GENL_VERSION);
		ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
		EXPECT_EQ(-EINVAL, a.error) TH_LOG("cmd %u: %s", cmds[i], pol_str(&a));
		EXPECT_EQ(VFIOSIM_ATTR_DEV_UUID, a.miss_type)
			TH_LOG("cmd %u without a uuid: %s", cmds[i], pol_str(&a));
	}

	/* VFIO_USER without a uuid, then without a message */
	nlh = pol_vu(buf, &self->a, NULL, VFIOSIM_USER_DEVICE_GET_INFO,
		     VU_HDR_SIZE + 4);
	ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
	EXPECT_EQ(-EINVAL, a.error) TH_LOG("%s", pol_str(&a));
	EXPECT_EQ(VFIOSIM_ATTR_DEV_UUID, a.miss_type) TH_LOG("%s", pol_str(&a));

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, self->r))
		TH_LOG("%s", WHY(self));
	nlh = put_genl(buf, &self->a, vfiosim_family, 0, VFIOSIM_CMD_VFIO_USER,
		       VFIOSIM_GENL_VERSION);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, self->uuid);
	ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
	EXPECT_EQ(-EINVAL, a.error) TH_LOG("%s", pol_str(&a));
	EXPECT_EQ(VFIOSIM_ATTR_MSG, a.miss_type)
		TH_LOG("VFIO_USER without msg: %s", pol_str(&a));
	EXPECT_EQ(0u, a.genl_msgs);
}

/*
 * The msg attribute holds one whole message: the policy refuses one
 * shorter than the vfio-user header (ERANGE) or longer than
 * VFIOSIM_USER_MAX_MSG (EINVAL) before the command sees it, with the
 * attribute and the policy in the extack; both bounds themselves pass.
 */
TEST_F(nl, policy_msg_length)
{
	static const size_t bad[] = {
		0, 1, VU_HDR_SIZE - 1, VFIOSIM_USER_MAX_MSG + 1,
		VFIOSIM_USER_MAX_MSG + 8,
	};
	static char buf[NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct pol_ack a;
	unsigned int i;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, self->r))
		TH_LOG("%s", WHY(self));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		nlh = pol_vu(buf, &self->a, self->uuid,
			     VFIOSIM_USER_DEVICE_GET_INFO, bad[i]);
		ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
		/* the policy's errno: ERANGE below its minimum, else EINVAL */
		EXPECT_TRUE(a.error == -EINVAL || a.error == -ERANGE)
			TH_LOG("msg of %zu bytes: %s", bad[i], pol_str(&a));
		EXPECT_TRUE(a.has_offs && a.has_policy)
			TH_LOG("msg of %zu bytes not refused by the policy: %s", bad[i], pol_str(&a));
		EXPECT_EQ(0u, a.genl_msgs) TH_LOG("msg of %zu bytes answered", bad[i]);
	}

	/* a bare header: past the policy, a vfio-user error reply */
	nlh = pol_vu(buf, &self->a, self->uuid, VFIOSIM_USER_DEVICE_GET_INFO,
		     VU_HDR_SIZE);
	ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
	EXPECT_EQ(0, a.error) TH_LOG("%s", pol_str(&a));
	EXPECT_EQ(1u, a.genl_msgs);
	EXPECT_TRUE(a.vu.flags & VFIOSIM_USER_F_ERROR);
	EXPECT_EQ((uint32_t)EINVAL, a.vu.error_no);

	/* the largest message: a REGION_WRITE of VFIOSIM_USER_MAX_DATA_XFER */
	{
		static uint8_t msg[VFIOSIM_USER_MAX_MSG];
		struct vfiosim_user_header *h = (void *)msg;
		struct vfiosim_user_region_access *w = (void *)(h + 1);

		memset(msg, 0xa5, sizeof(msg));
		memset(h, 0, sizeof(*h));
		h->msg_id = ++self->a.msg_id;
		h->command = VFIOSIM_USER_REGION_WRITE;
		h->msg_size = sizeof(msg);
		w->offset = 0;
		w->region = VFIO_PCI_BAR2_REGION_INDEX;
		w->count = VFIOSIM_USER_MAX_DATA_XFER;
		nlh = put_genl(buf, &self->a, vfiosim_family, 0,
			       VFIOSIM_CMD_VFIO_USER, VFIOSIM_GENL_VERSION);
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, self->uuid);
		mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, sizeof(msg), msg);
		ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
		EXPECT_EQ(0, a.error) TH_LOG("%s", pol_str(&a));
		EXPECT_EQ(1u, a.genl_msgs);
		EXPECT_FALSE(a.vu.flags & VFIOSIM_USER_F_ERROR)
			TH_LOG("REGION_WRITE of %u bytes: vfio-user error %u",
			       VFIOSIM_USER_MAX_DATA_XFER, a.vu.error_no);
	}
}

/* fds where a command takes none: EINVAL, and nothing done. */
TEST_F(nl, policy_fds_refused_where_none_are_taken)
{
	static const uint8_t cmds[] = {
		VFIOSIM_CMD_DEV_GET, VFIOSIM_CMD_DEV_OPEN, VFIOSIM_CMD_DEV_CLOSE,
		VFIOSIM_CMD_PING,
	};
	static char buf[NL_BUF_SIZE];
	struct vfiosim_user_region_access rd = {
		.offset = VFIOSIM_REG_ID, .region = VFIO_PCI_BAR0_REGION_INDEX,
		.count = 4,
	};
	struct nl_reply *r = self->r;
	struct nlmsghdr *nlh;
	struct pol_ack a;
	int32_t fds[1];
	unsigned int i;
	int efd, ret;

	efd = efd_new();
	ASSERT_LE(0, efd);
	fds[0] = efd;
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		nlh = put_genl(buf, &self->a, vfiosim_family, 0, cmds[i],
			       VFIOSIM_GENL_VERSION);
		if (cmds[i] != VFIOSIM_CMD_PING)
			mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, self->uuid);
		mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, sizeof(fds), fds);
		ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
		EXPECT_EQ(-EINVAL, a.error)
			TH_LOG("cmd %u with fds: %s", cmds[i], pol_str(&a));
		EXPECT_EQ(0u, a.genl_msgs) TH_LOG("cmd %u with fds answered", cmds[i]);
	}
	/* the dump too */
	nlh = put_genl(buf, &self->a, vfiosim_family, NLM_F_DUMP,
		       VFIOSIM_CMD_DEV_GET, VFIOSIM_GENL_VERSION);
	mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, sizeof(fds), fds);
	ASSERT_EQ(0, pol_xfer(&self->a, nlh, &a));
	EXPECT_EQ(-EINVAL, a.error) TH_LOG("DEV_GET dump with fds: %s", pol_str(&a));
	/* ...and the refused DEV_OPEN bound nothing */
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_GET, self->uuid, r))
		TH_LOG("%s", WHY(self));
	EXPECT_EQ(VFIOSIM_OWNER_NONE, r->owner);

	/* vfio-user commands that take no fds: an EINVAL error reply */
	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	ret = vu_cmd(&self->a, self->uuid, VFIOSIM_USER_REGION_READ, 0, &rd,
		     sizeof(rd), fds, 1, r);
	EXPECT_EQ(EINVAL, ret) TH_LOG("REGION_READ with an fd: %d %s", ret, WHY(self));
	ret = vu_cmd(&self->a, self->uuid, VFIOSIM_USER_DEVICE_RESET, 0, NULL,
		     0, fds, 1, r);
	EXPECT_EQ(EINVAL, ret) TH_LOG("DEVICE_RESET with an fd: %d %s", ret, WHY(self));
	/* and the same read without the fd works */
	ret = vu_cmd(&self->a, self->uuid, VFIOSIM_USER_REGION_READ, 0, &rd,
		     sizeof(rd), NULL, 0, r);
	EXPECT_EQ(0, ret) TH_LOG("%s", WHY(self));
	close(efd);
}

/* A regular file not on tmpfs (so not a memory file), or -errno. */
static int regular_file_new(char *path, size_t len)
{
	const char *dirs[] = { getenv("VFIOSIM_RESULTS"), "/var/tmp", "/root",
			       "/var/cache", "/" };
	struct statfs sfs;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i])
			continue;
		snprintf(path, len, "%s/vfiosim-dma-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		unlink(path);
		if (!fstatfs(fd, &sfs) && sfs.f_type != TMPFS_MAGIC &&
		    !ftruncate(fd, 0x10000))
			return fd;
		close(fd);
	}
	/* the test binary itself, read-only: still no memory file */
	snprintf(path, len, "/proc/self/exe");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * DMA_MAP takes memory files only.  The session's own socket, a pipe, a
 * file on disk are refused with EBADFD and not kept: afterwards the socket
 * closes for real, so someone else can open the device, and it can be
 * removed.
 */
TEST_F(nl, dma_map_refuses_non_memory_files)
{
	struct nl_reply *r = self->r;
	char path[512];
	int pipefd[2], file, mfd, hfd, tries, ret;
	struct {
		const char *what;
		int fd;
	} bad[4];
	unsigned int i;
	struct nl b;

	ASSERT_EQ(0, pipe(pipefd));
	file = regular_file_new(path, sizeof(path));
	ASSERT_LE(0, file) TH_LOG("no regular file: %s", strerror(-file));
	TH_LOG("regular file: %s", path);
	mfd = memfd_new(0x10000);
	ASSERT_LE(0, mfd);
	bad[0].what = "the session's own netlink socket";
	bad[0].fd = mnl_socket_get_fd(self->a.sk);
	bad[1].what = "a pipe (read end)";
	bad[1].fd = pipefd[0];
	bad[2].what = "a pipe (write end)";
	bad[2].fd = pipefd[1];
	bad[3].what = path;
	bad[3].fd = file;

	ASSERT_EQ(0, nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r))
		TH_LOG("%s", WHY(self));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = vu_dma_map(&self->a, self->uuid, 0x100000 + i * 0x10000,
				 0x10000, bad[i].fd, 0, r);
		EXPECT_EQ(EBADFD, ret)
			TH_LOG("DMA_MAP of %s: %d, %s", bad[i].what, ret, WHY(self));
	}
	/* a memfd maps, and so does a hugetlbfs memfd where there is one */
	EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x800000, 0x10000, mfd,
				0, r)) TH_LOG("DMA_MAP of a memfd: %s", WHY(self));
	hfd = memfd_create("vfiosim-dma-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (hfd >= 0 && !ftruncate(hfd, 2 << 20)) {
		EXPECT_EQ(0, vu_dma_map(&self->a, self->uuid, 0x1000000, 2 << 20,
					hfd, 0, r))
			TH_LOG("DMA_MAP of a hugetlbfs memfd: %s", WHY(self));
	} else {
		TH_LOG("no hugetlbfs memfd here (%s): not tried", strerror(errno));
	}
	if (hfd >= 0)
		close(hfd);

	/* the socket really closes: the next owner is not refused */
	nl_close(&self->a);
	ASSERT_EQ(0, nl_open(&b));
	ret = dev_open_retry(&b, self->uuid, r, &tries);
	EXPECT_EQ(0, ret) TH_LOG("DEV_OPEN after the owner closed: %s", WHY(self));
	EXPECT_EQ(1, tries) TH_LOG("DEV_OPEN was EBUSY %d times", tries - 1);
	EXPECT_EQ(0, nl_cmd(&b, VFIOSIM_CMD_DEV_CLOSE, self->uuid, r))
		TH_LOG("%s", WHY(self));
	nl_close(&b);
	close(pipefd[0]);
	close(pipefd[1]);
	close(file);
	close(mfd);
	/* the teardown removes the device and expects that to work */
}

/* The fd of another device's VFIO session, found in our fd table. */
static int vfio_device_fd_find(void)
{
	char link[64], target[256];
	ssize_t n;
	int fd;

	for (fd = 3; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "vfio-device") || strstr(target, "/dev/vfio/devices/"))
			return fd;
	}
	return -ENOENT;
}

/*
 * Nor is another device's VFIO fd taken: with it pinned by a session,
 * that device's removal would wait for the session forever.
 */
TEST_F_TIMEOUT(nl, dma_map_refuses_vfio_device_fd, 90)
{
	struct nl_reply *r = self->r;
	char uuid2[37], spec[64], err[256] = "";
	int vfd, ret, status;
	bool removed = false;
	pid_t pid;

	ASSERT_EQ(0, vfiosim_uuid_generate(uuid2));
	ASSERT_EQ(0, vfiosim_mdev_create("vfiosim-small", uuid2, err, sizeof(err)))
		TH_LOG("create %s: %s", uuid2, err);
	self->vdev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->vdev);
	snprintf(spec, sizeof(spec), "vfio:%s", uuid2);
	ret = vfiosim_dev_open(self->vdev, spec);
	if (ret)
		vfiosim_mdev_remove(uuid2, err, sizeof(err));
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", spec, vfiosim_dev_error(self->vdev));
	vfd = vfio_device_fd_find();
	EXPECT_LE(0, vfd) TH_LOG("no VFIO device fd in /proc/self/fd");

	ret = nl_cmd(&self->a, VFIOSIM_CMD_DEV_OPEN, self->uuid, r);
	EXPECT_EQ(0, ret) TH_LOG("%s", WHY(self));
	if (vfd >= 0 && !ret) {
		ret = vu_dma_map(&self->a, self->uuid, 0x100000, 0x10000, vfd,
				 0, r);
		EXPECT_EQ(EBADFD, ret)
			TH_LOG("DMA_MAP of a VFIO device fd: %d, %s", ret, WHY(self));
	}

	/* with the session still open, the other device goes away */
	vfiosim_dev_free(self->vdev);
	self->vdev = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(vfiosim_mdev_remove(uuid2, err, sizeof(err)) ? 1 : 0);
	removed = child_exited_within(pid, &status, 20000);
	EXPECT_TRUE(removed) TH_LOG("removing %s hangs while a session holds its fd",
				    uuid2);
	/* (unpin it, so that a failing run still cleans up) */
	nl_close(&self->a);
	if (!removed)
		waitpid(pid, &status, 0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_FALSE(mdev_exists(uuid2));
}

TEST_HARNESS_MAIN
