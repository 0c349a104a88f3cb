// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim-bench: what one vfiosim access costs, next to what it cannot be
 * cheaper than (a syscall, an eventfd round trip, a memcpy) and next to the
 * kernel's own sample mdev driver, mtty, reached through the same library.
 *
 *   vfiosim-bench --dev vfio:<uuid> [--peer vfio:<mtty uuid>]
 *                 [--nl netlink:<uuid>] [--nl-raw <uuid>]
 *                 [--unix unix:<path>]
 *                 [--iters N] [--batch N] [--json FILE]
 *
 * --nl and --nl-raw name two more vfiosim devices, each distinct from
 * --dev: a device is open through VFIO or bound to one netlink socket,
 * never both, and the pipelined rows bind their own socket (libmnl, in
 * this file) to the --nl-raw device.  --unix is the socket of a
 * vfiosim-userd serving a fourth device (userd holds its netlink binding).
 *
 * Timing: ops run back to back in batches of --batch (16) between two
 * CLOCK_MONOTONIC reads; one sample is the batch time divided by the batch
 * size.  Under TCG a clock read costs about as much as a syscall, so timing
 * single ops would mostly measure the clock.  Median and p99 are over those
 * samples (so p99 is the p99 of 16-op means, not of single ops).  Batched
 * rows (K writes per op) are timed one op per clock pair and reported per
 * write: sample = op time / K.  Every op,
 * floors included, is reached through the same indirect call, so ratios
 * compare like with like.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "vfiosim.h"

#define BULK		4096
#define DEF_ITERS	20000
#define DEF_BATCH	16
#define ACCEPT_RATIO	1.2
#define ACCEPT_NL_PING	1.3	/* netlink 4-byte read / PING */
#define ACCEPT_MULTI	1.0	/* REGION_WRITE_MULTI per write / pwrite */
#define MAX_WRITES	VFIOSIM_USER_WRITE_MULTI_MAX
/* Batched rows: iters / K ops, but never fewer than this many samples. */
#define MIN_BATCH_OPS	400
#define PIPE_RX_SLOT	1024	/* one reply (or error with echo) */

/*
 * Pipelined REGION_WRITEs on a netlink socket of our own: K complete
 * VFIOSIM_CMD_VFIO_USER requests (distinct nlmsg_seq and msg_id) in one
 * sendto, then the K replies collected with recvmmsg.  The requests are
 * built once; an op only stamps seq, msg_id and data.
 */
struct pipe_nl {
	struct mnl_socket *nl;
	int fd;
	uint16_t family;
	uint32_t seq;
	uint16_t msg_id;
	size_t stride;		/* bytes per request, aligned */
	size_t vu_off;		/* vfio-user header within a request */
	unsigned char *tx;	/* MAX_WRITES requests */
	unsigned char *rx;	/* MAX_WRITES slots of PIPE_RX_SLOT */
	struct mmsghdr *mm;
	struct iovec *iov;
};

/*
 * A device opened with the bare VFIO uapi.  libvfiosim only opens vfiosim
 * mdevs, so mtty is reached this way; one access is one pread, exactly
 * what libvfiosim's vfio backend does underneath.
 */
struct raw_dev {
	int container, group, device;
	uint64_t offset[VFIO_PCI_NUM_REGIONS];
};

struct ctx {
	struct vfiosim_dev *dev;
	struct vfiosim_dev *peer;	/* mtty through libvfiosim, or NULL */
	struct raw_dev raw_peer;	/* mtty through bare VFIO, or fds -1 */
	struct raw_dev raw_dev;		/* vfiosim through bare VFIO */
	struct vfiosim_dev *nl;		/* --nl: libvfiosim netlink backend */
	struct pipe_nl pipe;		/* --nl-raw: our own socket */
	struct vfiosim_dev *ux;		/* --unix: vfio-user via vfiosim-userd */
	struct vfiosim_write_op wops[MAX_WRITES];
	unsigned int per;		/* writes per op of the row running */
	volatile uint32_t *bar2;	/* first page of BAR2, mmapped */
	int loop_efd;			/* eventfd floor */
	int irq_efd;			/* trigger of the vector under test */
	uint32_t val;
	/* Called through a volatile pointer so it stays a real call. */
	void *(*volatile copy)(void *, const void *, size_t);
	_Alignas(64) unsigned char src[BULK];
	_Alignas(64) unsigned char dst[BULK];
};

static int err_io(ssize_t n, size_t want)
{
	if (n < 0)
		return (int)n;
	return (size_t)n == want ? 0 : -EIO;
}

static int op_clock(struct ctx *c)
{
	struct timespec ts;

	(void)c;
	return clock_gettime(CLOCK_MONOTONIC, &ts) ? -errno : 0;
}

static int op_getppid(struct ctx *c)
{
	/* Raw syscall: glibc may not cache getppid, but make sure. */
	c->val += (uint32_t)syscall(SYS_getppid);
	return 0;
}

static int op_eventfd(struct ctx *c)
{
	uint64_t v = 1;

	if (write(c->loop_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	if (read(c->loop_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int op_memcpy4(struct ctx *c)
{
	c->copy(c->dst, c->src, 4);
	return 0;
}

static int op_memcpy4k(struct ctx *c)
{
	c->copy(c->dst, c->src, BULK);
	return 0;
}

static int op_bar0_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

static int op_bar0_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					   VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

static int op_cfg_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_CONFIG_REGION_INDEX,
					  0, &c->val, 4), 4);
}

static int op_bar2_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					  0, &c->val, 4), 4);
}

static int op_bar2_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					   0, &c->val, 4), 4);
}

static int op_bar2_read4k(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					  0, c->dst, BULK), BULK);
}

static int op_mmap_read(struct ctx *c)
{
	c->val += c->bar2[0];
	return 0;
}

static int op_mmap_write(struct ctx *c)
{
	c->bar2[1] = ++c->val;
	return 0;
}

/*
 * The doorbell signals the eventfd synchronously inside the write, so a
 * non-blocking read right after must find it; EAGAIN means it was lost.
 */
static int op_doorbell(struct ctx *c)
{
	uint64_t v;
	int ret;

	ret = err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_DOORBELL, &(uint32_t){ 0 },
					  4), 4);
	if (ret)
		return ret;
	if (read(c->irq_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int raw_read(struct raw_dev *r, uint32_t index, uint64_t off,
		    void *buf, size_t count)
{
	ssize_t n = pread(r->device, buf, count, (off_t)(r->offset[index] + off));

	return err_io(n < 0 ? -errno : n, count);
}

static int op_mtty_cfg_read(struct ctx *c)
{
	if (c->peer)
		return err_io(vfiosim_region_read(c->peer,
						  VFIO_PCI_CONFIG_REGION_INDEX,
						  0, &c->val, 4), 4);
	return raw_read(&c->raw_peer, VFIO_PCI_CONFIG_REGION_INDEX, 0,
			&c->val, 4);
}

static int op_raw_bar0_read(struct ctx *c)
{
	return raw_read(&c->raw_dev, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_SCRATCH0, &c->val, 4);
}

/* ---- netlink rows ---------------------------------------------------- */

static int op_nl_ping(struct ctx *c)
{
	return vfiosim_netlink_ping(c->nl);
}

static int op_nl_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->nl, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_SCRATCH0, &c->val, 4),
		      4);
}

static int op_nl_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->nl, VFIO_PCI_BAR0_REGION_INDEX,
					   VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

/* ---- unix (vfio-user to vfiosim-userd) rows ------------------------- */

static int op_ux_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->ux, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_SCRATCH0, &c->val, 4),
		      4);
}

static int op_ux_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->ux, VFIO_PCI_BAR0_REGION_INDEX,
					   VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

/* K 4-byte writes over the eight scratch registers. */
static void wops_fill(struct ctx *c)
{
	unsigned int i;

	for (i = 0; i < MAX_WRITES; i++) {
		c->wops[i].region = VFIO_PCI_BAR0_REGION_INDEX;
		c->wops[i].count = 4;
		c->wops[i].offset =
			VFIOSIM_REG_SCRATCH(i % VFIOSIM_NUM_SCRATCH);
		c->wops[i].data = i;
	}
}

static int op_nl_multi(struct ctx *c)
{
	c->wops[0].data = ++c->val;
	return vfiosim_region_write_multi(c->nl, c->wops, c->per);
}

static int op_ux_multi(struct ctx *c)
{
	c->wops[0].data = ++c->val;
	return vfiosim_region_write_multi(c->ux, c->wops, c->per);
}

static int op_vfio_multi(struct ctx *c)
{
	c->wops[0].data = ++c->val;
	return vfiosim_region_write_multi(c->dev, c->wops, c->per);
}

/* One netlink request into buf: genl header, then attrs by the caller. */
static struct nlmsghdr *pipe_request(struct pipe_nl *p, void *buf,
				     uint16_t type, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++p->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = type == GENL_ID_CTRL ? 1 : VFIOSIM_GENL_VERSION;
	return nlh;
}

/* Receive one message for seq; 0 (ack or data) or -errno, text in err. */
static int pipe_recv_one(struct pipe_nl *p, uint32_t seq, uint16_t *family,
			 char *err, size_t len)
{
	unsigned char buf[8192];
	struct nlmsghdr *nlh;
	int n;

	for (;;) {
		n = (int)mnl_socket_recvfrom(p->nl, buf, sizeof(buf));
		if (n < 0) {
			snprintf(err, len, "recv: %s", strerror(errno));
			return -errno;
		}
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e =
					mnl_nlmsg_get_payload(nlh);

				if (e->error)
					snprintf(err, len, "%s",
						 strerror(-e->error));
				return e->error;
			}
			if (family) {
				struct nlattr *a;

				mnl_attr_for_each(a, nlh,
						  sizeof(struct genlmsghdr))
					if (mnl_attr_get_type(a) ==
					    CTRL_ATTR_FAMILY_ID)
						*family = mnl_attr_get_u16(a);
			}
			return 0;
		}
	}
}

static void pipe_close(struct pipe_nl *p)
{
	/* Closing the socket unbinds the device. */
	if (p->nl)
		mnl_socket_close(p->nl);
	free(p->tx);
	free(p->rx);
	free(p->mm);
	free(p->iov);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

/*
 * Socket, family id, DEV_OPEN of uuid (acked), then MAX_WRITES prebuilt
 * REGION_WRITE requests of 4 bytes to the scratch registers.
 */
static int pipe_open(struct pipe_nl *p, const char *uuid, char *err,
		     size_t len)
{
	static const unsigned char zero[sizeof(struct vfiosim_user_header) +
					 sizeof(struct vfiosim_user_region_access) +
					 4];
	unsigned char buf[512];
	struct nlmsghdr *nlh;
	int sz = 8 << 20, ret, i;

	p->fd = -1;
	p->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!p->nl || mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID)) {
		snprintf(err, len, "netlink socket: %s", strerror(errno));
		ret = -errno;
		goto fail;
	}
	p->fd = mnl_socket_get_fd(p->nl);
	/* 256 replies must all queue before we read the first. */
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* Extended acks with capped echoes: short error replies. */
	mnl_socket_setsockopt(p->nl, NETLINK_CAP_ACK, &(int){ 1 },
			      sizeof(int));

	nlh = pipe_request(p, buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VFIOSIM_GENL_NAME);
	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, len, "GETFAMILY: %s", strerror(errno));
		ret = -errno;
		goto fail;
	}
	ret = pipe_recv_one(p, p->seq, &p->family, err, len);
	if (ret || !p->family) {
		snprintf(err, len, "family %s not found", VFIOSIM_GENL_NAME);
		ret = -ENOENT;
		goto fail;
	}

	nlh = pipe_request(p, buf, p->family, VFIOSIM_CMD_DEV_OPEN, NLM_F_ACK);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, len, "DEV_OPEN: %s", strerror(errno));
		ret = -errno;
		goto fail;
	}
	ret = pipe_recv_one(p, p->seq, NULL, err, len);
	if (ret) {
		snprintf(err, len, "DEV_OPEN %s: %s", uuid, strerror(-ret));
		goto fail;
	}

	/* The size of one request fixes the stride. */
	nlh = pipe_request(p, buf, p->family, VFIOSIM_CMD_VFIO_USER, 0);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	p->vu_off = nlh->nlmsg_len + MNL_ATTR_HDRLEN;
	mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, sizeof(zero), zero);
	p->stride = nlh->nlmsg_len;
	p->tx = calloc(MAX_WRITES, p->stride);
	p->rx = malloc((size_t)MAX_WRITES * PIPE_RX_SLOT);
	p->mm = calloc(MAX_WRITES, sizeof(*p->mm));
	p->iov = calloc(MAX_WRITES, sizeof(*p->iov));
	if (!p->tx || !p->rx || !p->mm || !p->iov) {
		snprintf(err, len, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < MAX_WRITES; i++) {
		struct vfiosim_user_header *h;
		struct vfiosim_user_region_access *ra;
		uint32_t msg_size = sizeof(zero);

		nlh = pipe_request(p, p->tx + (size_t)i * p->stride, p->family,
				   VFIOSIM_CMD_VFIO_USER, 0);
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
		mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, msg_size, zero);
		h = (void *)((unsigned char *)nlh + p->vu_off);
		h->command = VFIOSIM_USER_REGION_WRITE;
		h->msg_size = msg_size;
		h->flags = VFIOSIM_USER_F_TYPE_COMMAND;
		ra = (void *)(h + 1);
		ra->offset = VFIOSIM_REG_SCRATCH(i % VFIOSIM_NUM_SCRATCH);
		ra->region = VFIO_PCI_BAR0_REGION_INDEX;
		ra->count = 4;
		p->iov[i].iov_base = p->rx + (size_t)i * PIPE_RX_SLOT;
		p->iov[i].iov_len = PIPE_RX_SLOT;
		p->mm[i].msg_hdr.msg_iov = &p->iov[i];
		p->mm[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;

fail:
	pipe_close(p);
	return ret ? ret : -EIO;
}

/* Check reply i of a batch whose first request had seq and msg_id. */
static int pipe_check(struct pipe_nl *p, unsigned int i, uint32_t seq,
		      uint16_t msg_id)
{
	const struct nlmsghdr *nlh = p->iov[i].iov_base;
	const struct vfiosim_user_header *h = NULL;
	const struct nlattr *a;
	unsigned int n = p->mm[i].msg_len;

	if (p->mm[i].msg_hdr.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (!mnl_nlmsg_ok(nlh, (int)n))
		return -EPROTO;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		return e->error ? e->error : -EPROTO;
	}
	/* Requests are handled in order, so replies come back in order. */
	if (nlh->nlmsg_type != p->family || nlh->nlmsg_seq != seq + i)
		return -EPROTO;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == VFIOSIM_ATTR_MSG &&
		    mnl_attr_get_payload_len(a) >= sizeof(*h))
			h = mnl_attr_get_payload(a);
	if (!h || h->msg_id != (uint16_t)(msg_id + i) ||
	    (h->flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_REPLY)
		return -EPROTO;
	if (h->flags & VFIOSIM_USER_F_ERROR)
		return h->error_no ? -(int)h->error_no : -EIO;
	return 0;
}

/*
 * Diagnostic: a vfiosim-family request with no handler (cmd UNSPEC), on
 * the pipelined socket.  genetlink answers -EOPNOTSUPP itself, so this is
 * the netlink + genetlink round trip with none of vfiosim's code in it.
 */
static int op_genl_nop(struct ctx *c)
{
	struct pipe_nl *p = &c->pipe;
	unsigned char buf[64], rx[512];
	struct nlmsghdr *nlh;
	const struct nlmsgerr *e;
	ssize_t n;

	nlh = pipe_request(p, buf, p->family, VFIOSIM_CMD_UNSPEC, 0);
	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(p->nl, rx, sizeof(rx));
	if (n < 0)
		return -errno;
	nlh = (struct nlmsghdr *)rx;
	if (!mnl_nlmsg_ok(nlh, (int)n) || nlh->nlmsg_type != NLMSG_ERROR ||
	    nlh->nlmsg_seq != p->seq)
		return -EPROTO;
	e = mnl_nlmsg_get_payload(nlh);
	return e->error == -EOPNOTSUPP ? 0 : e->error ? e->error : -EPROTO;
}

static int op_nl_pipe(struct ctx *c)
{
	struct pipe_nl *p = &c->pipe;
	uint32_t seq = p->seq + 1;
	uint16_t id = (uint16_t)(p->msg_id + 1);
	unsigned int i, got = 0, k = c->per;
	int n, ret;

	for (i = 0; i < k; i++) {
		struct nlmsghdr *nlh = (void *)(p->tx + (size_t)i * p->stride);
		struct vfiosim_user_header *h =
			(void *)((unsigned char *)nlh + p->vu_off);
		struct vfiosim_user_region_access *ra = (void *)(h + 1);
		uint32_t v = ++c->val;

		nlh->nlmsg_seq = ++p->seq;
		h->msg_id = ++p->msg_id;
		memcpy(ra->data, &v, 4);
	}
	if (mnl_socket_sendto(p->nl, p->tx, (size_t)k * p->stride) < 0)
		return -errno;
	while (got < k) {
		/* Block for the first, take whatever else is queued. */
		n = recvmmsg(p->fd, p->mm + got, k - got, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = got; i < got + (unsigned int)n; i++) {
			ret = pipe_check(p, i, seq, id);
			if (ret)
				return ret;
		}
		got += (unsigned int)n;
	}
	return 0;
}

static void raw_close(struct raw_dev *r)
{
	/* Device, then group, then container, as VFIO wants. */
	if (r->device >= 0)
		close(r->device);
	if (r->group >= 0)
		close(r->group);
	if (r->container >= 0)
		close(r->container);
	r->device = r->group = r->container = -1;
}

static int raw_fail(struct raw_dev *r, char *err, size_t len, const char *what)
{
	int ret = -errno;

	snprintf(err, len, "%s: %s", what, strerror(errno));
	raw_close(r);
	return ret ? ret : -EIO;
}

/* "vfio:<uuid>" -> group from sysfs, type1v2 container, device fd. */
static int raw_open(struct raw_dev *r, const char *spec, char *err,
		    size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *uuid, *slash;
	uint32_t i;
	ssize_t n;

	r->device = r->group = r->container = -1;
	if (strncmp(spec, "vfio:", 5)) {
		snprintf(err, len, "%s: only vfio:<uuid> can be opened raw",
			 spec);
		return -EINVAL;
	}
	uuid = spec + 5;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return raw_fail(r, err, len, path);
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%.32s", slash ? slash + 1 : link);
	r->group = open(path, O_RDWR | O_CLOEXEC);
	if (r->group < 0)
		return raw_fail(r, err, len, path);
	r->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (r->container < 0)
		return raw_fail(r, err, len, "/dev/vfio/vfio");
	if (ioctl(r->group, VFIO_GROUP_SET_CONTAINER, &r->container))
		return raw_fail(r, err, len, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(r->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return raw_fail(r, err, len, "VFIO_SET_IOMMU");
	r->device = ioctl(r->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (r->device < 0)
		return raw_fail(r, err, len, "VFIO_GROUP_GET_DEVICE_FD");
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info ri = {
			.argsz = sizeof(ri), .index = i,
		};

		/* Regions a device lacks stay at offset 0: never used. */
		if (!ioctl(r->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
			r->offset[i] = ri.offset;
	}
	return 0;
}

static int irq_enable(struct ctx *c, uint32_t index)
{
	c->irq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->irq_efd < 0)
		return -errno;
	return vfiosim_irq_set_eventfd(c->dev, index, 0, c->irq_efd);
}

/* DATA_NONE with count 0 turns the whole index off, as a VMM does. */
static void irq_disable(struct ctx *c, uint32_t index)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
	};

	vfiosim_set_irqs(c->dev, &set);
	if (c->irq_efd >= 0)
		close(c->irq_efd);
	c->irq_efd = -1;
}

static int setup_msix(struct ctx *c)
{
	return irq_enable(c, VFIO_PCI_MSIX_IRQ_INDEX);
}

static void teardown_msix(struct ctx *c)
{
	irq_disable(c, VFIO_PCI_MSIX_IRQ_INDEX);
}

static int setup_msi(struct ctx *c)
{
	return irq_enable(c, VFIO_PCI_MSI_IRQ_INDEX);
}

static void teardown_msi(struct ctx *c)
{
	irq_disable(c, VFIO_PCI_MSI_IRQ_INDEX);
}

/* NEED_RAW rows run last, once libvfiosim has let go of the group. */
enum need { NEED_NONE, NEED_DEV, NEED_MMAP, NEED_PEER, NEED_RAW, NEED_NL,
	     NEED_PIPE, NEED_UNIX };

enum row_id {
	R_CLOCK, R_GETPPID, R_EVENTFD, R_MEMCPY4, R_MEMCPY4K,
	R_BAR0_RD, R_RAW_BAR0_RD, R_BAR0_WR, R_CFG_RD, R_BAR2_RD, R_BAR2_WR,
	R_MMAP_RD, R_MMAP_WR, R_BAR2_RD4K, R_IRQ_MSIX, R_IRQ_MSI,
	R_MTTY_CFG, R_NL_PING, R_GENL_NOP, R_NL_RD, R_NL_WR, R_NL_MULTI64, R_NL_MULTI256,
	R_NL_PIPE64, R_NL_PIPE256, R_VFIO_MULTI64, R_VFIO_MULTI256,
	R_UX_RD, R_UX_WR, R_UX_MULTI64, R_NUM
};

enum state { ST_NOTRUN, ST_OK, ST_FAILED, ST_SKIPPED };

struct row {
	const char *name;	/* table and JSON */
	int (*op)(struct ctx *c);
	int (*setup)(struct ctx *c);
	void (*teardown)(struct ctx *c);
	enum need need;
	int floor;		/* row it is compared with, or -1 */
	int peer;		/* mtty row it is compared with, or -1 */
	int ioctl;		/* vfio-backend row compared with, or -1 */
	/*
	 * netlink-backend row compared with; 0 (R_CLOCK, never one) = none,
	 * so only the unix rows need to set it.
	 */
	int netlink;
	unsigned int per;	/* writes per op (reported per write), 0 = 1 */
	unsigned int ops;	/* timed ops actually run */
	enum state state;
	double median, p99;
	char note[160];
};

static struct row rows[R_NUM] = {
	[R_CLOCK] = { "clock_gettime", op_clock, .floor = -1, .peer = -1,
		      .ioctl = -1 },
	[R_GETPPID] = { "getppid syscall", op_getppid, .floor = -1,
			.peer = -1, .ioctl = -1 },
	[R_EVENTFD] = { "eventfd write+read", op_eventfd, .floor = -1,
			.peer = -1, .ioctl = -1 },
	[R_MEMCPY4] = { "memcpy 4 B", op_memcpy4, .floor = -1, .peer = -1,
			.ioctl = -1 },
	[R_MEMCPY4K] = { "memcpy 4 KiB", op_memcpy4k, .floor = -1,
			 .peer = -1, .ioctl = -1 },
	[R_BAR0_RD] = { "BAR0 read 4 B", op_bar0_read, .need = NEED_DEV,
			.floor = R_GETPPID, .peer = R_MTTY_CFG, .ioctl = -1 },
	[R_RAW_BAR0_RD] = { "BAR0 read 4 B (bare pread)", op_raw_bar0_read,
			    .need = NEED_RAW, .floor = R_GETPPID,
			    .peer = R_MTTY_CFG, .ioctl = -1 },
	[R_BAR0_WR] = { "BAR0 write 4 B", op_bar0_write, .need = NEED_DEV,
			.floor = R_GETPPID, .peer = R_MTTY_CFG, .ioctl = -1 },
	[R_CFG_RD] = { "config read 4 B", op_cfg_read, .need = NEED_DEV,
		       .floor = R_GETPPID, .peer = R_MTTY_CFG, .ioctl = -1 },
	[R_BAR2_RD] = { "BAR2 read 4 B (region op)", op_bar2_read,
			.need = NEED_DEV, .floor = R_GETPPID, .peer = -1,
			.ioctl = -1 },
	[R_BAR2_WR] = { "BAR2 write 4 B (region op)", op_bar2_write,
			.need = NEED_DEV, .floor = R_GETPPID, .peer = -1,
			.ioctl = -1 },
	[R_MMAP_RD] = { "BAR2 read 4 B (mmap)", op_mmap_read,
			.need = NEED_MMAP, .floor = R_MEMCPY4, .peer = -1,
			.ioctl = -1 },
	[R_MMAP_WR] = { "BAR2 write 4 B (mmap)", op_mmap_write,
			.need = NEED_MMAP, .floor = R_MEMCPY4, .peer = -1,
			.ioctl = -1 },
	[R_BAR2_RD4K] = { "BAR2 read 4 KiB (region op)", op_bar2_read4k,
			  .need = NEED_DEV, .floor = R_MEMCPY4K, .peer = -1,
			  .ioctl = -1 },
	[R_IRQ_MSIX] = { "doorbell -> MSI-X eventfd", op_doorbell,
			 setup_msix, teardown_msix, NEED_DEV,
			 .floor = R_EVENTFD, .peer = -1, .ioctl = -1 },
	[R_IRQ_MSI] = { "doorbell -> MSI eventfd", op_doorbell,
			setup_msi, teardown_msi, NEED_DEV,
			.floor = R_EVENTFD, .peer = -1, .ioctl = -1 },
	[R_MTTY_CFG] = { "mtty config pread 4 B", op_mtty_cfg_read,
			 .need = NEED_PEER, .floor = R_GETPPID, .peer = -1,
			 .ioctl = -1 },
	[R_NL_PING] = { "netlink PING round trip", op_nl_ping,
			.need = NEED_NL, .floor = R_GETPPID, .peer = -1,
			.ioctl = -1 },
	[R_GENL_NOP] = { "genl no-handler error ack", op_genl_nop,
			 .need = NEED_PIPE, .floor = R_NL_PING, .peer = -1,
			 .ioctl = -1 },
	[R_NL_RD] = { "netlink BAR0 read 4 B", op_nl_read, .need = NEED_NL,
		      .floor = R_NL_PING, .peer = -1, .ioctl = R_BAR0_RD },
	[R_NL_WR] = { "netlink BAR0 write 4 B", op_nl_write, .need = NEED_NL,
		      .floor = R_NL_PING, .peer = -1, .ioctl = R_BAR0_WR },
	[R_NL_MULTI64] = { "netlink WRITE_MULTI x64 /write", op_nl_multi,
			   .need = NEED_NL, .floor = R_NL_PING, .peer = -1,
			   .ioctl = R_BAR0_WR, .per = 64 },
	[R_NL_MULTI256] = { "netlink WRITE_MULTI x256 /write", op_nl_multi,
			    .need = NEED_NL, .floor = R_NL_PING, .peer = -1,
			    .ioctl = R_BAR0_WR, .per = 256 },
	[R_NL_PIPE64] = { "netlink pipelined x64 /write", op_nl_pipe,
			  .need = NEED_PIPE, .floor = R_NL_PING, .peer = -1,
			  .ioctl = R_BAR0_WR, .per = 64 },
	[R_NL_PIPE256] = { "netlink pipelined x256 /write", op_nl_pipe,
			   .need = NEED_PIPE, .floor = R_NL_PING, .peer = -1,
			   .ioctl = R_BAR0_WR, .per = 256 },
	[R_VFIO_MULTI64] = { "vfio write_multi x64 /write", op_vfio_multi,
			     .need = NEED_DEV, .floor = R_GETPPID, .peer = -1,
			     .ioctl = R_BAR0_WR, .per = 64 },
	[R_VFIO_MULTI256] = { "vfio write_multi x256 /write", op_vfio_multi,
			      .need = NEED_DEV, .floor = R_GETPPID, .peer = -1,
			      .ioctl = R_BAR0_WR, .per = 256 },
	[R_UX_RD] = { "unix BAR0 read 4 B", op_ux_read, .need = NEED_UNIX,
		      .floor = R_NL_PING, .peer = -1, .ioctl = R_BAR0_RD,
		      .netlink = R_NL_RD },
	[R_UX_WR] = { "unix BAR0 write 4 B", op_ux_write, .need = NEED_UNIX,
		      .floor = R_NL_PING, .peer = -1, .ioctl = R_BAR0_WR,
		      .netlink = R_NL_WR },
	[R_UX_MULTI64] = { "unix WRITE_MULTI x64 /write", op_ux_multi,
			   .need = NEED_UNIX, .floor = R_NL_PING, .peer = -1,
			   .ioctl = R_BAR0_WR, .netlink = R_NL_MULTI64,
			   .per = 64 },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double ts_ns(const struct timespec *t)
{
	return (double)t->tv_sec * 1e9 + (double)t->tv_nsec;
}

/* Median and p99 (nearest rank) of n sorted samples. */
static void summarize(double *s, size_t n, double *median, double *p99)
{
	size_t rank = (n * 99 + 99) / 100;

	qsort(s, n, sizeof(*s), cmp_double);
	*median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	*p99 = s[rank ? rank - 1 : 0];
}

static int measure(struct ctx *c, struct row *r, unsigned int iters,
		   unsigned int batch, double *samples)
{
	unsigned int nbatch = iters / batch, warm = iters / 10, i, j;
	double per = r->per ? r->per : 1;
	struct timespec t0, t1;
	int ret;

	c->per = r->per ? r->per : 1;
	r->ops = nbatch * batch;

	/* Warm-up: fault in mmaps and BAR2 pages, settle caches. */
	for (i = 0; i < warm; i++) {
		ret = r->op(c);
		if (ret)
			return ret;
	}
	for (i = 0; i < nbatch; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (j = 0; j < batch; j++) {
			ret = r->op(c);
			if (ret)
				return ret;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		samples[i] = (ts_ns(&t1) - ts_ns(&t0)) / batch / per;
	}
	summarize(samples, nbatch, &r->median, &r->p99);
	return 0;
}

static double ratio(int num, int den)
{
	if (den < 0 || rows[num].state != ST_OK || rows[den].state != ST_OK ||
	    rows[den].median <= 0)
		return -1;
	return rows[num].median / rows[den].median;
}

static void print_table(FILE *f)
{
	int i;

	fprintf(f, "%-31s %10s %10s  %-23s %7s %7s %7s %7s\n", "benchmark",
		"median ns", "p99 ns", "floor", "x floor", "x mtty", "x ioctl",
		"x nl");
	for (i = 0; i < R_NUM; i++) {
		const struct row *r = &rows[i];
		double fr = ratio(i, r->floor), pr = ratio(i, r->peer);
		double ir = ratio(i, r->ioctl);
		double nr = ratio(i, r->netlink ? r->netlink : -1);
		char fbuf[16] = "-", pbuf[16] = "-", ibuf[16] = "-";
		char nbuf[16] = "-";

		if (r->state != ST_OK) {
			fprintf(f, "%-31s %s\n", r->name,
				r->state == ST_SKIPPED ? r->note : r->note[0] ?
				r->note : "not run");
			continue;
		}
		if (fr >= 0)
			snprintf(fbuf, sizeof(fbuf), "%.2f", fr);
		if (pr >= 0)
			snprintf(pbuf, sizeof(pbuf), "%.2f", pr);
		if (ir >= 0)
			snprintf(ibuf, sizeof(ibuf), "%.2f", ir);
		if (nr >= 0)
			snprintf(nbuf, sizeof(nbuf), "%.2f", nr);
		fprintf(f, "%-31s %10.0f %10.0f  %-23s %7s %7s %7s %7s\n",
			r->name, r->median, r->p99,
			r->floor >= 0 ? rows[r->floor].name : "-", fbuf, pbuf,
			ibuf, nbuf);
	}
}

/* The netlink acceptance lines, printed and in the JSON. */
struct accept {
	const char *metric;
	int num, den;
	double max;
};

static const struct accept nl_accept[] = {
	{ "netlink 4-byte read median / ping median", R_NL_RD, R_NL_PING,
	  ACCEPT_NL_PING },
	{ "REGION_WRITE_MULTI per write / ioctl pwrite", R_NL_MULTI64,
	  R_BAR0_WR, ACCEPT_MULTI },
};

#define NUM_NL_ACCEPT	(sizeof(nl_accept) / sizeof(nl_accept[0]))

static void print_accept(FILE *f)
{
	unsigned int i;

	for (i = 0; i < NUM_NL_ACCEPT; i++) {
		const struct accept *a = &nl_accept[i];
		double v = ratio(a->num, a->den);

		if (v >= 0)
			fprintf(f, "%s = %.2f (target <= %.1f): %s\n",
				a->metric, v, a->max,
				v <= a->max ? "PASS" : "FAIL");
		else
			fprintf(f, "%s = n/a (target <= %.1f): not measured\n",
				a->metric, a->max);
		if (a->num == R_NL_MULTI64)
			fprintf(f, "  (%s; x256 per call: %.2f; pipelined x64: %.2f, x256: %.2f; vfio pwrite loop x64: %.2f)\n",
				rows[a->num].name,
				ratio(R_NL_MULTI256, R_BAR0_WR),
				ratio(R_NL_PIPE64, R_BAR0_WR),
				ratio(R_NL_PIPE256, R_BAR0_WR),
				ratio(R_VFIO_MULTI64, R_BAR0_WR));
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (v < 0)
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

static int write_json(const char *path, const char *dev, const char *peer,
		      const char *peer_path, unsigned int iters,
		      unsigned int batch)
{
	static const char * const states[] = {
		[ST_NOTRUN] = "not run", [ST_OK] = "ok",
		[ST_FAILED] = "failed", [ST_SKIPPED] = "skipped",
	};
	double acc = ratio(R_BAR0_RD, R_MTTY_CFG);
	struct utsname u;
	FILE *f;
	int i;

	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	fputs("{\n  \"tool\": \"vfiosim-bench\",\n  \"kernel\": ", f);
	json_str(f, u.release);
	fputs(",\n  \"dev\": ", f);
	json_str(f, dev);
	fputs(",\n  \"peer\": ", f);
	if (peer)
		json_str(f, peer);
	else
		fputs("null", f);
	fputs(",\n  \"peer_path\": ", f);
	json_str(f, peer_path);
	fprintf(f, ",\n  \"timing\": { \"clock\": \"CLOCK_MONOTONIC\", "
		"\"iterations\": %u, \"batch\": %u, \"samples\": %u, "
		"\"warmup\": %u, \"unit\": \"ns/op\" },\n", iters, batch,
		iters / batch, iters / 10);
	fputs("  \"results\": [\n", f);
	for (i = 0; i < R_NUM; i++) {
		const struct row *r = &rows[i];
		bool ok = r->state == ST_OK;

		fputs("    { \"name\": ", f);
		json_str(f, r->name);
		fputs(", \"status\": ", f);
		json_str(f, states[r->state]);
		fputs(", \"median_ns\": ", f);
		json_num(f, ok ? r->median : -1);
		fputs(", \"p99_ns\": ", f);
		json_num(f, ok ? r->p99 : -1);
		fputs(", \"floor\": ", f);
		if (r->floor >= 0)
			json_str(f, rows[r->floor].name);
		else
			fputs("null", f);
		fputs(", \"floor_ratio\": ", f);
		json_num(f, ratio(i, r->floor));
		fputs(", \"mtty_ratio\": ", f);
		json_num(f, ratio(i, r->peer));
		fputs(", \"ioctl\": ", f);
		if (r->ioctl >= 0)
			json_str(f, rows[r->ioctl].name);
		else
			fputs("null", f);
		fputs(", \"ioctl_ratio\": ", f);
		json_num(f, ratio(i, r->ioctl));
		fputs(", \"netlink\": ", f);
		if (r->netlink)
			json_str(f, rows[r->netlink].name);
		else
			fputs("null", f);
		fputs(", \"netlink_ratio\": ", f);
		json_num(f, ratio(i, r->netlink ? r->netlink : -1));
		fprintf(f, ", \"writes_per_op\": %u, \"ops\": %u",
			r->per ? r->per : 1, ok ? r->ops : 0);
		if (r->note[0]) {
			fputs(", \"note\": ", f);
			json_str(f, r->note);
		}
		fprintf(f, " }%s\n", i + 1 < R_NUM ? "," : "");
	}
	fputs("  ],\n  \"acceptance\": { \"metric\": \"ioctl BAR0 read median "
	      "/ mtty pread median\", \"value\": ", f);
	json_num(f, acc);
	fputs(", \"bare_pread_value\": ", f);
	json_num(f, ratio(R_RAW_BAR0_RD, R_MTTY_CFG));
	fprintf(f, ", \"target_max\": %.1f, \"pass\": %s },\n",
		ACCEPT_RATIO, acc < 0 ? "null" :
		acc <= ACCEPT_RATIO ? "true" : "false");
	fputs("  \"netlink_acceptance\": [\n", f);
	for (i = 0; i < (int)NUM_NL_ACCEPT; i++) {
		const struct accept *a = &nl_accept[i];
		double v = ratio(a->num, a->den);

		fputs("    { \"metric\": ", f);
		json_str(f, a->metric);
		fputs(", \"num\": ", f);
		json_str(f, rows[a->num].name);
		fputs(", \"den\": ", f);
		json_str(f, rows[a->den].name);
		fputs(", \"value\": ", f);
		json_num(f, v);
		fprintf(f, ", \"target_max\": %.1f, \"pass\": %s }%s\n",
			a->max, v < 0 ? "null" : v <= a->max ? "true" : "false",
			i + 1 < (int)NUM_NL_ACCEPT ? "," : "");
	}
	fputs("  ]\n}\n", f);
	if (fclose(f)) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static struct vfiosim_dev *open_dev(const char *spec, bool quiet)
{
	struct vfiosim_dev *d = vfiosim_dev_alloc();
	int ret;

	if (!d) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return NULL;
	}
	ret = vfiosim_dev_open(d, spec);
	if (ret) {
		if (!quiet)
			fprintf(stderr, "vfiosim-bench: open %s: %s\n", spec,
				vfiosim_dev_error(d));
		else
			printf("vfiosim-bench: libvfiosim cannot open the peer (%s);\n"
			       "  using bare VFIO for it: the same single pread per access\n",
			       vfiosim_dev_error(d));
		vfiosim_dev_free(d);
		return NULL;
	}
	return d;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfiosim-bench --dev vfio:<uuid> [--peer vfio:<mtty uuid>]\n"
		"                     [--nl netlink:<uuid>] [--nl-raw <uuid>]\n"
		"                     [--unix unix:<path>]\n"
		"                     [--iters N] [--batch N] [--json FILE]\n"
		"  --nl        a second vfiosim device, opened with libvfiosim's netlink backend\n"
		"  --nl-raw    a third one, bound to the bench's own socket (pipelined rows)\n"
		"  --unix      the socket of a vfiosim-userd serving a fourth one\n"
		"  --iters N   timed ops per benchmark (default %u; +10%% warm-up)\n"
		"  --batch N   ops per clock_gettime pair (default %u; 1 = per op)\n",
		DEF_ITERS, DEF_BATCH);
}

static void run_row(struct ctx *c, struct row *r, unsigned int iters,
		    unsigned int batch, double *samples)
{
	int ret = 0;

	if ((r->need == NEED_PEER && !c->peer && c->raw_peer.device < 0) ||
	    (r->need == NEED_RAW && c->raw_dev.device < 0) ||
	    (r->need == NEED_NL && !c->nl) ||
	    (r->need == NEED_PIPE && !c->pipe.nl) ||
	    (r->need == NEED_UNIX && !c->ux)) {
		r->state = ST_SKIPPED;
		if (!r->note[0])
			snprintf(r->note, sizeof(r->note),
				 "skipped: no %s given",
				 r->need == NEED_NL ? "--nl" :
				 r->need == NEED_PIPE ? "--nl-raw" :
				 r->need == NEED_UNIX ? "--unix" : "--peer");
		return;
	}
	/*
	 * A batched op is already K writes: time each one on its own, and
	 * run iters / K of them (at least MIN_BATCH_OPS) for about as many
	 * writes as a single-op row does accesses.
	 */
	if (r->per) {
		batch = 1;
		iters = iters / r->per > MIN_BATCH_OPS ? iters / r->per :
			MIN_BATCH_OPS;
	}
	if (r->need == NEED_MMAP && !c->bar2) {
		r->state = ST_FAILED;
		snprintf(r->note, sizeof(r->note),
			 "failed: BAR2 mmap unavailable");
		return;
	}
	if (r->setup)
		ret = r->setup(c);
	if (!ret)
		ret = measure(c, r, iters, batch, samples);
	if (r->teardown)
		r->teardown(c);
	if (!ret) {
		r->state = ST_OK;
		return;
	}
	r->state = ST_FAILED;
	if ((r->need == NEED_DEV || r->need == NEED_MMAP) && c->dev)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->dev));
	else if (r->need == NEED_NL && c->nl)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->nl));
	else if (r->need == NEED_UNIX && c->ux)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->ux));
	else if (r->need == NEED_PEER && c->peer)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->peer));
	else
		snprintf(r->note, sizeof(r->note), "failed: %s",
			 strerror(-ret));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'p' },
		{ "iters", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "json", required_argument, NULL, 'j' },
		{ "nl", required_argument, NULL, 'N' },
		{ "nl-raw", required_argument, NULL, 'R' },
		{ "unix", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dev_spec = NULL, *peer_spec = NULL, *json = NULL;
	const char *peer_path = "none", *nl_spec = NULL, *raw_uuid = NULL;
	const char *ux_spec = NULL;
	unsigned int iters = DEF_ITERS, batch = DEF_BATCH;
	char err[256];
	struct ctx *c;
	double *samples, acc;
	void *map = NULL;
	int opt, i, failed = 0;

	while ((opt = getopt_long(argc, argv, "d:p:n:b:j:N:R:U:h", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'N':
			nl_spec = optarg;
			break;
		case 'R':
			raw_uuid = optarg;
			if (!strncmp(raw_uuid, "netlink:", 8))
				raw_uuid += 8;
			break;
		case 'U':
			ux_spec = optarg;
			break;
		case 'd':
			dev_spec = optarg;
			break;
		case 'p':
			peer_spec = optarg;
			break;
		case 'n':
			iters = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			batch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dev_spec || optind != argc || !batch || iters < batch) {
		usage(stderr);
		return 2;
	}

	c = aligned_alloc(64, sizeof(*c));
	/* Batched rows run up to max(iters, MIN_BATCH_OPS) ops of batch 1. */
	samples = calloc(iters + MIN_BATCH_OPS, sizeof(*samples));
	if (!c || !samples) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return 1;
	}
	memset(c, 0, sizeof(*c));
	c->copy = memcpy;
	c->irq_efd = -1;
	c->raw_peer.device = c->raw_peer.group = c->raw_peer.container = -1;
	c->raw_dev.device = c->raw_dev.group = c->raw_dev.container = -1;
	c->pipe.fd = -1;
	wops_fill(c);
	c->loop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->loop_efd < 0) {
		perror("vfiosim-bench: eventfd");
		return 1;
	}

	c->dev = open_dev(dev_spec, false);
	if (!c->dev)
		return 1;
	/* A known state: no interrupt mode, no masks, registers at reset. */
	if (vfiosim_reset(c->dev))
		fprintf(stderr, "vfiosim-bench: reset %s: %s (continuing)\n",
			dev_spec, vfiosim_dev_error(c->dev));
	if (vfiosim_region_mmap(c->dev, VFIO_PCI_BAR2_REGION_INDEX, 0, BULK,
				PROT_READ | PROT_WRITE, &map)) {
		fprintf(stderr, "vfiosim-bench: %s\n", vfiosim_dev_error(c->dev));
		map = NULL;
	}
	c->bar2 = map;
	if (peer_spec) {
		c->peer = open_dev(peer_spec, true);
		peer_path = "libvfiosim";
		if (!c->peer) {
			if (raw_open(&c->raw_peer, peer_spec, err, sizeof(err))) {
				fprintf(stderr, "vfiosim-bench: open %s: %s\n",
					peer_spec, err);
				return 1;
			}
			peer_path = "bare VFIO";
		}
	}

	if (nl_spec) {
		c->nl = open_dev(nl_spec, false);
		if (!c->nl)
			return 1;
		if (vfiosim_reset(c->nl))
			fprintf(stderr, "vfiosim-bench: reset %s: %s (continuing)\n",
				nl_spec, vfiosim_dev_error(c->nl));
	}
	if (ux_spec) {
		c->ux = open_dev(ux_spec, false);
		if (!c->ux)
			return 1;
		if (vfiosim_reset(c->ux))
			fprintf(stderr, "vfiosim-bench: reset %s: %s (continuing)\n",
				ux_spec, vfiosim_dev_error(c->ux));
	}
	if (raw_uuid && pipe_open(&c->pipe, raw_uuid, err, sizeof(err))) {
		fprintf(stderr, "vfiosim-bench: --nl-raw %s: %s\n", raw_uuid,
			err);
		return 1;
	}

	/*
	 * Nothing is printed while measuring: under TCG, console output
	 * drained by the other vCPU slows this one down.
	 */
	for (i = 0; i < R_NUM; i++)
		if (rows[i].need != NEED_RAW)
			run_row(c, &rows[i], iters, batch, samples);

	/* Let go of the group so the bare-VFIO rows can open it. */
	if (map)
		munmap(map, BULK);
	vfiosim_dev_free(c->dev);
	c->dev = NULL;
	if (raw_open(&c->raw_dev, dev_spec, err, sizeof(err)))
		snprintf(rows[R_RAW_BAR0_RD].note,
			 sizeof(rows[R_RAW_BAR0_RD].note),
			 "skipped: bare VFIO open failed: %.120s", err);
	for (i = 0; i < R_NUM; i++)
		if (rows[i].need == NEED_RAW)
			run_row(c, &rows[i], iters, batch, samples);

	for (i = 0; i < R_NUM; i++)
		failed += rows[i].state == ST_FAILED;

	printf("vfiosim-bench: dev %s, peer %s (%s)\n"
	       "  netlink %s, pipelined netlink %s\n"
	       "  unix %s\n"
	       "  %u ops per benchmark, timed in batches of %u, after %u warm-up ops;\n"
	       "  xK rows: max(%u / K, %u) ops of K writes, each timed, ns per write\n\n",
	       dev_spec, peer_spec ? peer_spec : "none: mtty rows skipped",
	       peer_path, nl_spec ? nl_spec : "none (rows skipped)",
	       raw_uuid ? raw_uuid : "none (rows skipped)",
	       ux_spec ? ux_spec : "none (rows skipped)", iters, batch,
	       iters / 10, iters, MIN_BATCH_OPS);
	print_table(stdout);
	printf("\n(ns/op, ns/write for /write rows; x floor = median / median of the floor row;\n"
	       " x mtty = median / mtty config pread median; x ioctl = median / the same\n"
	       " access through the vfio backend, BAR0 read or write 4 B;\n"
	       " x nl = median / the same access through the netlink backend)\n\n");
	acc = ratio(R_BAR0_RD, R_MTTY_CFG);
	if (acc >= 0)
		printf("ioctl BAR0 read median / mtty pread median = %.2f (target <= %.1f): %s\n",
		       acc, ACCEPT_RATIO, acc <= ACCEPT_RATIO ? "PASS" : "FAIL");
	else
		printf("ioctl BAR0 read median / mtty pread median = n/a (target <= %.1f): no mtty peer measured\n",
		       ACCEPT_RATIO);
	if (ratio(R_RAW_BAR0_RD, R_MTTY_CFG) >= 0)
		printf("  same path on both sides (bare pread / mtty %s pread) = %.2f\n",
		       peer_path, ratio(R_RAW_BAR0_RD, R_MTTY_CFG));
	print_accept(stdout);

	if (json && write_json(json, dev_spec, peer_spec, peer_path, iters,
			       batch))
		failed++;

	raw_close(&c->raw_dev);
	raw_close(&c->raw_peer);
	pipe_close(&c->pipe);
	if (c->ux)
		vfiosim_dev_free(c->ux);
	if (c->nl)
		vfiosim_dev_free(c->nl);
	if (c->peer)
		vfiosim_dev_free(c->peer);
	close(c->loop_efd);
	free(samples);
	free(c);
	return failed ? 1 : 0;
}
