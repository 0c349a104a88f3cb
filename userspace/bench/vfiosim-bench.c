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
 * never both, and the pipelined rows bind their own socket (libvfiosim's
 * internal genl plumbing, struct pipe_nl) to the --nl-raw device.  --unix is the socket of a
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
 *
 *   vfiosim-bench --mig <src spec>,<dst spec> [--mig-reps N] [--json FILE]
 *
 * measures migration alone: the stream size and the time to save (STOP_COPY
 * read to its end, then STOP) on the source and to resume (RESUMING, the
 * writes, STOP) on the destination, two devices of one type, with BAR2
 * untouched and with every byte of it written.  Median of N runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "vfiosim.h"
#include "vfiosim_int.h"
#include "jw.h"

#define BULK		4096
/* DMA rows: COPY from the first to the second MiB of a memfd */
#define DMA_IOVA	0x10000000ULL
#define DMA_MEM		(2U << 20)
#define DMA_MAX_ITERS	(64U << 20)	/* bytes a DMA or big memcpy row moves */
#define DEF_ITERS	20000
#define DEF_BATCH	16
#define DEF_MIG_REPS	5	/* --mig runs per measurement */
#define ACCEPT_RATIO	1.2
#define ACCEPT_NL_PING	1.3	/* netlink 4-byte read / PING */
#define ACCEPT_MULTI	1.0	/* REGION_WRITE_MULTI per write / pwrite */
#define MAX_WRITES	VFIOSIM_USER_WRITE_MULTI_MAX
/* Batched rows: iters / K ops, but never fewer than this many samples. */
#define MIN_BATCH_OPS	400
#define PIPE_RX_SLOT	1024	/* one reply (or error with echo) */
/* Scaling section: threads, each on its own device and handle. */
#define SCALE_MAX_THREADS	8
#define SCALE_MAX_COUNTS	4
#define SCALE_MAX_REPS		9
#define DEF_SCALE_MS		500
#define DEF_SCALE_REPS		5
#define SCALE_WARMUP_OPS	200
#define ACCEPT_SCALE_2T		1.7	/* netlink read, 2 threads / 1 thread */

/*
 * Pipelined REGION_WRITEs on a netlink socket of our own (libvfiosim's
 * genl plumbing: socket, family, requests, parsing): K complete
 * VFIOSIM_CMD_VFIO_USER requests (distinct nlmsg_seq and msg_id) in one
 * sendto, then the K replies collected with recvmmsg, which is what the
 * library's one-request-one-reply vfiosim_nl_send/recv cannot do.  The
 * requests are built once; an op only stamps seq, msg_id and data.
 */
struct pipe_nl {
	struct vfiosim_nl nl;
	bool open;
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
	int sock_pp;			/* socket floor: our end, or -1 */
	pid_t sock_pp_pid;		/* its echo process */
	struct vfiosim_write_op wops[MAX_WRITES];
	unsigned int per;		/* writes per op of the row running */
	volatile uint32_t *bar2;	/* first page of BAR2, mmapped */
	int loop_efd;			/* eventfd floor */
	int irq_efd;			/* trigger of the vector under test */
	uint32_t val;
	/* Called through a volatile pointer so it stays a real call. */
	void *(*volatile copy)(void *, const void *, size_t);
	/* DMA rows: a memfd mapped at DMA_IOVA for the device of the row */
	struct vfiosim_dev *dma_dev;
	unsigned char *dma_mem;		/* DMA_MEM bytes, src then dst */
	int dma_fd;
	uint32_t dma_len;		/* the row's COPY length */
	int dma_row;			/* the row running */
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

/* memcpy of a DMA row's length, between the two halves of dma_mem */
static int op_memcpy_dma(struct ctx *c)
{
	c->copy(c->dma_mem + DMA_MEM / 2, c->dma_mem, c->dma_len);
	return 0;
}

/* One COPY: GO, then its completion on vector 0 (blocking poll). */
static int op_dma_copy(struct ctx *c)
{
	struct pollfd pfd = { .fd = c->irq_efd, .events = POLLIN };
	uint64_t v;
	int ret;

	ret = vfiosim_write32(c->dma_dev, VFIO_PCI_BAR0_REGION_INDEX,
			      VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO);
	if (ret)
		return ret;
	if (poll(&pfd, 1, 10000) != 1)
		return -ETIMEDOUT;
	if (read(c->irq_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
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

/*
 * The floor of any socket-based vfio-user server: a bare SOCK_STREAM
 * UNIX-socket ping-pong between two processes, with the sizes of a 4-byte
 * REGION_READ (request: header + region access; reply: the same + 4 data
 * bytes).  The other process does nothing but echo: what is left is the
 * two sends, two receives and two wakeups any server pays.
 */
#define SOCK_PP_REQ	(sizeof(struct vfiosim_user_header) + \
			 sizeof(struct vfiosim_user_region_access))
#define SOCK_PP_REPLY	(SOCK_PP_REQ + 4)

static void sock_pp_echo(int fd)
{
	unsigned char buf[SOCK_PP_REPLY] = { 0 };

	while (recv(fd, buf, SOCK_PP_REQ, MSG_WAITALL) == SOCK_PP_REQ)
		if (send(fd, buf, SOCK_PP_REPLY, MSG_NOSIGNAL) !=
		    SOCK_PP_REPLY)
			break;
	_exit(0);
}

static int setup_sock_pp(struct ctx *c)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (!pid) {
		close(sv[0]);
		sock_pp_echo(sv[1]);
	}
	close(sv[1]);
	c->sock_pp = sv[0];
	c->sock_pp_pid = pid;
	return 0;
}

static void teardown_sock_pp(struct ctx *c)
{
	if (c->sock_pp < 0)
		return;
	/* The echo process sees EOF and exits. */
	close(c->sock_pp);
	waitpid(c->sock_pp_pid, NULL, 0);
	c->sock_pp = -1;
}

static int op_sock_pp(struct ctx *c)
{
	unsigned char buf[SOCK_PP_REPLY] = { 0 };
	ssize_t n;

	memcpy(buf, &c->val, sizeof(c->val));
	n = send(c->sock_pp, buf, SOCK_PP_REQ, MSG_NOSIGNAL);
	if (n != SOCK_PP_REQ)
		return n < 0 ? -errno : -EIO;
	n = recv(c->sock_pp, buf, SOCK_PP_REPLY, MSG_WAITALL);
	if (n != SOCK_PP_REPLY)
		return n < 0 ? -errno : -EIO;
	return 0;
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

/* Send the request in buf and wait for its answer: 0 or -errno, err set. */
static int pipe_call(struct pipe_nl *p, struct nlmsghdr *nlh, char *err,
		     size_t len)
{
	struct vfiosim_nl_reply r;
	int ret;

	ret = vfiosim_nl_send(&p->nl, nlh, err, len);
	if (!ret)
		ret = vfiosim_nl_recv(&p->nl, p->nl.seq, &r, err, len);
	if (ret)
		return ret;
	if (r.is_error && r.error) {
		vfiosim_nl_error_text(&r, err, len);
		return -r.error;
	}
	if (!r.is_error)
		vfiosim_nl_close_fds(&r);
	return 0;
}

static void pipe_close(struct pipe_nl *p)
{
	/* Closing the socket unbinds the device. */
	if (p->open)
		vfiosim_nl_close(&p->nl);
	free(p->tx);
	free(p->rx);
	free(p->mm);
	free(p->iov);
	memset(p, 0, sizeof(*p));
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

	memset(p, 0, sizeof(*p));
	ret = vfiosim_nl_open(&p->nl, 8192, err, len);
	if (ret)
		return ret;
	p->open = true;
	/* 256 replies must all queue before we read the first. */
	if (setsockopt(p->nl.fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(p->nl.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));

	nlh = vfiosim_nl_request(&p->nl, buf, VFIOSIM_CMD_DEV_OPEN, NLM_F_ACK);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, uuid);
	ret = pipe_call(p, nlh, err, len);
	if (ret) {
		char why[VFIOSIM_ERR_LEN];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, len, "DEV_OPEN %s: %.200s", uuid, why);
		goto fail;
	}

	/* The size of one request fixes the stride. */
	nlh = vfiosim_nl_request(&p->nl, buf, VFIOSIM_CMD_VFIO_USER, 0);
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

		nlh = vfiosim_nl_request(&p->nl, p->tx + (size_t)i * p->stride,
					 VFIOSIM_CMD_VFIO_USER, 0);
		nlh->nlmsg_pid = p->nl.portid;
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
	const struct vfiosim_user_header *h;
	struct vfiosim_nl_reply r;
	char err[VFIOSIM_ERR_LEN];
	int ret;

	if (p->mm[i].msg_hdr.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (!vfiosim_nlmsg_ok(nlh, (int)p->mm[i].msg_len))
		return -EPROTO;
	/* Requests are handled in order, so replies come back in order. */
	ret = vfiosim_nl_parse(nlh, seq + i, p->nl.family, &r, err,
			       sizeof(err));
	if (ret <= 0)
		return ret < 0 ? ret : -EPROTO;
	if (r.is_error)
		return r.error ? -r.error : -EPROTO;
	h = r.msg;
	if (!h || r.msg_len < sizeof(*h) ||
	    h->msg_id != (uint16_t)(msg_id + i) ||
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
	unsigned char buf[64];
	struct vfiosim_nl_reply r;
	char err[VFIOSIM_ERR_LEN];
	int ret;

	ret = vfiosim_nl_send(&p->nl,
			      vfiosim_nl_request(&p->nl, buf,
						 VFIOSIM_CMD_UNSPEC, 0),
			      err, sizeof(err));
	if (!ret)
		ret = vfiosim_nl_recv(&p->nl, p->nl.seq, &r, err,
				      sizeof(err));
	if (ret)
		return ret;
	if (!r.is_error)
		return -EPROTO;
	return r.error == EOPNOTSUPP ? 0 : r.error ? -r.error : -EPROTO;
}

static int op_nl_pipe(struct ctx *c)
{
	struct pipe_nl *p = &c->pipe;
	uint32_t seq = p->nl.seq + 1;
	uint16_t id = (uint16_t)(p->msg_id + 1);
	unsigned int i, got = 0, k = c->per;
	int n, ret;

	for (i = 0; i < k; i++) {
		struct nlmsghdr *nlh = (void *)(p->tx + (size_t)i * p->stride);
		struct vfiosim_user_header *h =
			(void *)((unsigned char *)nlh + p->vu_off);
		struct vfiosim_user_region_access *ra = (void *)(h + 1);
		uint32_t v = ++c->val;

		nlh->nlmsg_seq = ++p->nl.seq;
		h->msg_id = ++p->msg_id;
		memcpy(ra->data, &v, 4);
	}
	if (mnl_socket_sendto(p->nl.sock, p->tx, (size_t)k * p->stride) < 0)
		return -errno;
	while (got < k) {
		/* Block for the first, take whatever else is queued. */
		n = recvmmsg(p->nl.fd, p->mm + got, k - got, MSG_WAITFORONE, NULL);
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

static int dma_len_of(int row);

/*
 * A DMA row: the memfd mapped (both halves, read and write) on the row's
 * device, MSI-X vector 0 on an eventfd, the registers programmed once.
 */
static int setup_dma(struct ctx *c, struct vfiosim_dev *dev, int row)
{
	struct vfiosim_dma_map m = {
		.iova = DMA_IOVA, .size = DMA_MEM, .vaddr = c->dma_mem,
		.fd = c->dma_fd, .offset = 0,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	const uint32_t regs[][2] = {
		{ VFIOSIM_REG_DMA_SRC_LO, (uint32_t)DMA_IOVA },
		{ VFIOSIM_REG_DMA_SRC_HI, 0 },
		{ VFIOSIM_REG_DMA_DST_LO, (uint32_t)DMA_IOVA + DMA_MEM / 2 },
		{ VFIOSIM_REG_DMA_DST_HI, 0 },
		{ VFIOSIM_REG_DMA_LEN, (uint32_t)dma_len_of(row) },
		{ VFIOSIM_REG_DMA_OP, VFIOSIM_DMA_OP_COPY },
		{ VFIOSIM_REG_DMA_VECTOR, 0 },
	};
	size_t i;
	int ret;

	if (!dev)
		return -ENODEV;
	c->dma_dev = dev;
	c->dma_len = dma_len_of(row);
	ret = vfiosim_dma_map(dev, &m);
	if (ret)
		return ret;
	c->irq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->irq_efd < 0)
		return -errno;
	ret = vfiosim_irq_set_eventfd(dev, VFIO_PCI_MSIX_IRQ_INDEX, 0,
				      c->irq_efd);
	for (i = 0; !ret && i < sizeof(regs) / sizeof(regs[0]); i++)
		ret = vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
				      regs[i][0], regs[i][1]);
	return ret;
}

/* The last COPY must have ended DONE with the bytes in place. */
static void teardown_dma(struct ctx *c)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
	};
	uint32_t status = 0;

	if (!c->dma_dev)
		return;
	vfiosim_read32(c->dma_dev, VFIO_PCI_BAR0_REGION_INDEX,
		       VFIOSIM_REG_DMA_STATUS, &status);
	if (status != VFIOSIM_DMA_STATUS_DONE ||
	    memcmp(c->dma_mem, c->dma_mem + DMA_MEM / 2, c->dma_len))
		fprintf(stderr, "vfiosim-bench: DMA COPY %u B on %s: status %u, %s\n",
			c->dma_len, vfiosim_dev_backend(c->dma_dev), status,
			memcmp(c->dma_mem, c->dma_mem + DMA_MEM / 2,
			       c->dma_len) ? "bytes differ" : "bytes match");
	vfiosim_set_irqs(c->dma_dev, &set);
	vfiosim_dma_unmap(c->dma_dev, DMA_IOVA, DMA_MEM, 0);
	if (c->irq_efd >= 0)
		close(c->irq_efd);
	c->irq_efd = -1;
	c->dma_dev = NULL;
}

#define DMA_SETUPS(name, dev)						\
	static int setup_dma_##name(struct ctx *c)			\
	{								\
		return setup_dma(c, dev, c->dma_row);			\
	}
DMA_SETUPS(vfio, c->dev)
DMA_SETUPS(nl, c->nl)
DMA_SETUPS(ux, c->ux)

static int setup_memcpy_dma(struct ctx *c)
{
	c->dma_len = dma_len_of(c->dma_row);
	return 0;
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
	R_SOCK_PP, R_UX_RD, R_UX_WR, R_UX_MULTI64,
	R_MEMCPY64K, R_MEMCPY1M,
	R_DMA_VFIO4K, R_DMA_VFIO64K, R_DMA_VFIO1M,
	R_DMA_NL4K, R_DMA_NL64K, R_DMA_NL1M,
	R_DMA_UX4K, R_DMA_UX64K, R_DMA_UX1M, R_NUM
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
	/*
	 * Run on every CPU the system has, whatever the bench was pinned
	 * to (the socket rows: their target is set unpinned).
	 */
	bool unpinned;
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
	[R_SOCK_PP] = { "UNIX socket ping-pong 32/36 B", op_sock_pp,
			setup_sock_pp, teardown_sock_pp, .floor = -1,
			.peer = -1, .ioctl = -1, .unpinned = true },
	[R_UX_RD] = { "unix BAR0 read 4 B", op_ux_read, .need = NEED_UNIX,
		      .floor = R_SOCK_PP, .peer = -1, .ioctl = R_BAR0_RD,
		      .netlink = R_NL_RD, .unpinned = true },
	[R_UX_WR] = { "unix BAR0 write 4 B", op_ux_write, .need = NEED_UNIX,
		      .floor = R_SOCK_PP, .peer = -1, .ioctl = R_BAR0_WR,
		      .netlink = R_NL_WR, .unpinned = true },
	[R_UX_MULTI64] = { "unix WRITE_MULTI x64 /write", op_ux_multi,
			   .need = NEED_UNIX, .floor = R_NL_PING, .peer = -1,
			   .ioctl = R_BAR0_WR, .netlink = R_NL_MULTI64,
			   .per = 64, .unpinned = true },
	/*
	 * DMA COPY, completion on an MSI-X eventfd, against memcpy of the
	 * same length between the same buffers: x floor is DMA time over
	 * memcpy time (its inverse, the bandwidth ratio, is printed too).
	 */
	[R_MEMCPY64K] = { "memcpy 64 KiB", op_memcpy_dma, setup_memcpy_dma,
			  .floor = -1, .peer = -1, .ioctl = -1 },
	[R_MEMCPY1M] = { "memcpy 1 MiB", op_memcpy_dma, setup_memcpy_dma,
			 .floor = -1, .peer = -1, .ioctl = -1 },
	[R_DMA_VFIO4K] = { "DMA COPY 4 KiB (vfio)", op_dma_copy,
			   setup_dma_vfio, teardown_dma, NEED_DEV,
			   .floor = R_MEMCPY4K, .peer = -1, .ioctl = -1 },
	[R_DMA_VFIO64K] = { "DMA COPY 64 KiB (vfio)", op_dma_copy,
			    setup_dma_vfio, teardown_dma, NEED_DEV,
			    .floor = R_MEMCPY64K, .peer = -1, .ioctl = -1 },
	[R_DMA_VFIO1M] = { "DMA COPY 1 MiB (vfio)", op_dma_copy,
			   setup_dma_vfio, teardown_dma, NEED_DEV,
			   .floor = R_MEMCPY1M, .peer = -1, .ioctl = -1 },
	[R_DMA_NL4K] = { "DMA COPY 4 KiB (netlink)", op_dma_copy,
			 setup_dma_nl, teardown_dma, NEED_NL,
			 .floor = R_MEMCPY4K, .peer = -1, .ioctl = R_DMA_VFIO4K },
	[R_DMA_NL64K] = { "DMA COPY 64 KiB (netlink)", op_dma_copy,
			  setup_dma_nl, teardown_dma, NEED_NL,
			  .floor = R_MEMCPY64K, .peer = -1,
			  .ioctl = R_DMA_VFIO64K },
	[R_DMA_NL1M] = { "DMA COPY 1 MiB (netlink)", op_dma_copy,
			 setup_dma_nl, teardown_dma, NEED_NL,
			 .floor = R_MEMCPY1M, .peer = -1, .ioctl = R_DMA_VFIO1M },
	[R_DMA_UX4K] = { "DMA COPY 4 KiB (unix)", op_dma_copy,
			 setup_dma_ux, teardown_dma, NEED_UNIX,
			 .floor = R_MEMCPY4K, .peer = -1, .ioctl = R_DMA_VFIO4K,
			 .netlink = R_DMA_NL4K },
	[R_DMA_UX64K] = { "DMA COPY 64 KiB (unix)", op_dma_copy,
			  setup_dma_ux, teardown_dma, NEED_UNIX,
			  .floor = R_MEMCPY64K, .peer = -1,
			  .ioctl = R_DMA_VFIO64K, .netlink = R_DMA_NL64K },
	[R_DMA_UX1M] = { "DMA COPY 1 MiB (unix)", op_dma_copy,
			 setup_dma_ux, teardown_dma, NEED_UNIX,
			 .floor = R_MEMCPY1M, .peer = -1, .ioctl = R_DMA_VFIO1M,
			 .netlink = R_DMA_NL1M },
};

/* The COPY length of a DMA or big memcpy row. */
static int dma_len_of(int row)
{
	switch (row) {
	case R_DMA_VFIO4K:
	case R_DMA_NL4K:
	case R_DMA_UX4K:
		return BULK;
	case R_MEMCPY64K:
	case R_DMA_VFIO64K:
	case R_DMA_NL64K:
	case R_DMA_UX64K:
		return 64 * 1024;
	default:
		return VFIOSIM_DMA_MAX_LEN;
	}
}

/* Rows that move many bytes per op run fewer of them. */
static unsigned int row_iters(int row, unsigned int iters)
{
	unsigned int max;

	if (row < R_MEMCPY64K)
		return iters;
	max = DMA_MAX_ITERS / dma_len_of(row);
	return iters < max ? iters : max;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double ts_ns(const struct timespec *t)
{
	return (double)t->tv_sec * 1e9 + (double)t->tv_nsec;
}

/* Sorts s; its median. */
static double sort_median(double *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Median and p99 (nearest rank) of n samples, sorted on return. */
static void summarize(double *s, size_t n, double *median, double *p99)
{
	size_t rank = (n * 99 + 99) / 100;

	*median = sort_median(s, n);
	*p99 = s[rank ? rank - 1 : 0];
}

/* One batch of r, timed: ns per op into *sample. */
static int batch_time(struct ctx *c, struct row *r, unsigned int batch,
		      double *sample)
{
	struct timespec t0, t1;
	unsigned int j;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (j = 0; j < batch; j++) {
		ret = r->op(c);
		if (ret)
			return ret;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*sample = (ts_ns(&t1) - ts_ns(&t0)) / batch;
	return 0;
}

static int measure(struct ctx *c, struct row *r, unsigned int iters,
		   unsigned int batch, double *samples)
{
	unsigned int nbatch = iters / batch, warm = iters / 10, i;
	double per = r->per ? r->per : 1;
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
		ret = batch_time(c, r, batch, &samples[i]);
		if (ret)
			return ret;
		samples[i] /= per;
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

/* DMA COPY bandwidth over memcpy's, per backend and size; -1 if not run. */
static double dma_bw_ratio(int row)
{
	double t = ratio(row, rows[row].floor);

	return t > 0 ? 1 / t : -1;
}

static void print_dma(FILE *f)
{
	static const int dma[3][3] = {
		{ R_DMA_VFIO4K, R_DMA_VFIO64K, R_DMA_VFIO1M },
		{ R_DMA_NL4K, R_DMA_NL64K, R_DMA_NL1M },
		{ R_DMA_UX4K, R_DMA_UX64K, R_DMA_UX1M },
	};
	static const char *const name[3] = { "vfio", "netlink", "unix" };
	double v = dma_bw_ratio(R_DMA_VFIO1M);
	int b;

	fprintf(f, "DMA COPY bandwidth / memcpy bandwidth (4 KiB, 64 KiB, 1 MiB):\n");
	for (b = 0; b < 3; b++)
		fprintf(f, "  %-8s %6.2f %6.2f %6.2f\n", name[b],
			dma_bw_ratio(dma[b][0]), dma_bw_ratio(dma[b][1]),
			dma_bw_ratio(dma[b][2]));
	if (v >= 0)
		fprintf(f, "DMA COPY 1 MiB over VFIO / memcpy = %.2f (target >= 0.5): %s\n",
			v, v >= 0.5 ? "PASS" : "FAIL");
}

/* The socket path's target: unix read over the bare socket ping-pong. */
#define ACCEPT_UX_FLOOR	2.0

/* The two rows of that target, measured interleaved (measure_pair). */
static struct {
	bool done;
	unsigned int rounds;
	double median, p99;	/* of the per-round ratios */
} pair;

static double p99_ratio(int num, int den)
{
	if (rows[num].state != ST_OK || rows[den].state != ST_OK ||
	    rows[den].p99 <= 0)
		return -1;
	return rows[num].p99 / rows[den].p99;
}

static void print_accept(FILE *f)
{
	double v = ratio(R_UX_RD, R_SOCK_PP);
	unsigned int i;

	if (v >= 0)
		fprintf(f, "unix 4-byte read / UNIX socket ping-pong = %.2f median, %.2f p99 (target <= %.1f, unpinned): %s\n",
			v, p99_ratio(R_UX_RD, R_SOCK_PP), ACCEPT_UX_FLOOR,
			v <= ACCEPT_UX_FLOOR ? "PASS" : "FAIL");
	else
		fprintf(f, "unix 4-byte read / UNIX socket ping-pong = n/a (target <= %.1f): not measured\n",
			ACCEPT_UX_FLOOR);
	if (v >= 0 && pair.done)
		fprintf(f, "  interleaved, %u rounds: per-round ratio %.2f median, %.2f p99\n",
			pair.rounds, pair.median, pair.p99);

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

/* A ratio or time, or null where it was not measured (< 0). */
static void jw_num(struct jw *w, const char *key, double v)
{
	if (v < 0)
		jw_null(w, key);
	else
		jw_real(w, key, v);
}

/* "pass": null where value was not measured (< 0), else pass. */
static void jw_pass(struct jw *w, double value, bool pass)
{
	if (value < 0)
		jw_null(w, "pass");
	else
		jw_bool(w, "pass", pass);
}

/* A row's name, or null for no row. */
static void jw_row(struct jw *w, const char *key, int row)
{
	if (row >= 0)
		jw_str(w, key, rows[row].name);
	else
		jw_null(w, key);
}

/* A results file: opened, "{", tool and kernel; -1 (said) if not. */
static int json_begin(struct jw *w, const char *path)
{
	struct utsname u;

	memset(w, 0, sizeof(*w));
	w->pretty = true;
	w->f = fopen(path, "w");
	if (!w->f) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	jw_obj_open(w, NULL);
	jw_str(w, "tool", "vfiosim-bench");
	jw_str(w, "kernel", u.release);
	return 0;
}

/* Write and close what json_begin opened: 0, or -1 said on stderr. */
static int json_end(struct jw *w, const char *path)
{
	jw_obj_close(w);
	if (fclose(w->f)) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The scaling section, further down, appends itself once it has run. */
struct scale_report;
static bool scale_has_run(const struct scale_report *rep);
static void scale_json(struct jw *w, const struct scale_report *rep);

static int write_json(const char *path, const char *dev, const char *peer,
		      const char *peer_path, unsigned int iters,
		      unsigned int batch, const struct scale_report *scale)
{
	static const char * const states[] = {
		[ST_NOTRUN] = "not run", [ST_OK] = "ok",
		[ST_FAILED] = "failed", [ST_SKIPPED] = "skipped",
	};
	double acc = ratio(R_BAR0_RD, R_MTTY_CFG), v;
	struct jw w;
	int i;

	if (json_begin(&w, path))
		return -1;
	jw_str(&w, "dev", dev);
	if (peer)
		jw_str(&w, "peer", peer);
	else
		jw_null(&w, "peer");
	jw_str(&w, "peer_path", peer_path);
	jw_obj_open(&w, "timing");
	jw_str(&w, "clock", "CLOCK_MONOTONIC");
	jw_u64(&w, "iterations", iters);
	jw_u64(&w, "batch", batch);
	jw_u64(&w, "samples", iters / batch);
	jw_u64(&w, "warmup", iters / 10);
	jw_str(&w, "unit", "ns/op");
	jw_obj_close(&w);
	jw_arr_open(&w, "results");
	for (i = 0; i < R_NUM; i++) {
		const struct row *r = &rows[i];
		bool ok = r->state == ST_OK;

		jw_obj_open(&w, NULL);
		jw_str(&w, "name", r->name);
		jw_str(&w, "status", states[r->state]);
		jw_num(&w, "median_ns", ok ? r->median : -1);
		jw_num(&w, "p99_ns", ok ? r->p99 : -1);
		jw_row(&w, "floor", r->floor);
		jw_num(&w, "floor_ratio", ratio(i, r->floor));
		jw_num(&w, "floor_p99_ratio",
		       r->floor >= 0 ? p99_ratio(i, r->floor) : -1);
		jw_num(&w, "mtty_ratio", ratio(i, r->peer));
		jw_row(&w, "ioctl", r->ioctl);
		jw_num(&w, "ioctl_ratio", ratio(i, r->ioctl));
		jw_row(&w, "netlink", r->netlink ? r->netlink : -1);
		jw_num(&w, "netlink_ratio",
		       ratio(i, r->netlink ? r->netlink : -1));
		jw_u64(&w, "writes_per_op", r->per ? r->per : 1);
		jw_u64(&w, "ops", ok ? r->ops : 0);
		jw_bool(&w, "unpinned", r->unpinned);
		if (r->note[0])
			jw_str(&w, "note", r->note);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_open(&w, "acceptance");
	jw_str(&w, "metric", "ioctl BAR0 read median / mtty pread median");
	jw_num(&w, "value", acc);
	jw_num(&w, "bare_pread_value", ratio(R_RAW_BAR0_RD, R_MTTY_CFG));
	jw_real(&w, "target_max", ACCEPT_RATIO);
	jw_pass(&w, acc, acc <= ACCEPT_RATIO);
	jw_obj_close(&w);
	v = ratio(R_UX_RD, R_SOCK_PP);
	jw_obj_open(&w, "socket_acceptance");
	jw_str(&w, "metric", "unix BAR0 read 4 B / UNIX socket ping-pong, unpinned");
	jw_num(&w, "value", v);
	jw_num(&w, "p99_value", p99_ratio(R_UX_RD, R_SOCK_PP));
	jw_bool(&w, "interleaved", pair.done);
	jw_u64(&w, "rounds", pair.done ? pair.rounds : 0);
	jw_num(&w, "round_ratio_median", pair.done ? pair.median : -1);
	jw_num(&w, "round_ratio_p99", pair.done ? pair.p99 : -1);
	jw_real(&w, "target_max", ACCEPT_UX_FLOOR);
	jw_pass(&w, v, v <= ACCEPT_UX_FLOOR);
	jw_obj_close(&w);
	jw_arr_open(&w, "netlink_acceptance");
	for (i = 0; i < (int)NUM_NL_ACCEPT; i++) {
		const struct accept *a = &nl_accept[i];

		v = ratio(a->num, a->den);
		jw_obj_open(&w, NULL);
		jw_str(&w, "metric", a->metric);
		jw_str(&w, "num", rows[a->num].name);
		jw_str(&w, "den", rows[a->den].name);
		jw_num(&w, "value", v);
		jw_real(&w, "target_max", a->max);
		jw_pass(&w, v, v <= a->max);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	if (scale && scale_has_run(scale))
		scale_json(&w, scale);
	return json_end(&w, path);
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
		"usage: vfiosim-bench [--dev vfio:<uuid>] [--peer vfio:<mtty uuid>]\n"
		"                     [--nl netlink:<uuid>] [--nl-raw <uuid>]\n"
		"                     [--unix unix:<path>]\n"
		"                     [--iters N] [--batch N] [--json FILE] [--only A,B]\n"
		"                     [--scale-vfio vfio:<uuid>,...] [--scale-nl netlink:<uuid>,...]\n"
		"                     [--scale-threads 1,2,4] [--scale-ms MS] [--scale-reps N]\n"
		"       vfiosim-bench --mig <src spec>,<dst spec> [--mig-reps N] [--json FILE]\n"
		"  --dev       the vfiosim device of the single-thread rows (without it, and\n"
		"              with --scale-*, only the scaling section runs)\n"
		"  --nl        a second vfiosim device, opened with libvfiosim's netlink backend\n"
		"  --nl-raw    a third one, bound to the bench's own socket (pipelined rows)\n"
		"  --unix      the socket of a vfiosim-userd serving a fourth one\n"
		"  --iters N   timed ops per benchmark (default %u; +10%% warm-up)\n"
		"  --batch N   ops per clock_gettime pair (default %u; 1 = per op)\n"
		"  --only A,B  run only the rows whose name contains A or B, any case (the others are\n"
		"              reported skipped)\n"
		"  --scale-vfio, --scale-nl  one device per thread (as many as the largest\n"
		"              thread count), each opened once with its own handle\n"
		"  --scale-threads  thread counts (default 1,2,4; at most %d, up to %d counts)\n"
		"  --scale-ms  duration of one run (default %u)\n"
		"  --scale-reps  runs per cell, the median is reported (default %u, max %d)\n"
		"  --mig       migration only: save on src, resume on dst (same type), BAR2\n"
		"              empty then full; --mig-reps runs each (default %u)\n",
		DEF_ITERS, DEF_BATCH, SCALE_MAX_THREADS, SCALE_MAX_COUNTS,
		DEF_SCALE_MS, DEF_SCALE_REPS, SCALE_MAX_REPS, DEF_MIG_REPS);
}

/* Does name contain one of the comma-separated words of only (any case)? */
static bool row_selected(const char *name, const char *only)
{
	char word[64];
	size_t n;

	while (*only) {
		n = strcspn(only, ",");
		if (n && n < sizeof(word)) {
			memcpy(word, only, n);
			word[n] = 0;
			if (strcasestr(name, word))
				return true;
		}
		only += n + (only[n] == ',');
	}
	return false;
}

/* Allow every CPU (an unpinned row); the old mask into *saved. */
static int unpin(cpu_set_t *saved)
{
	cpu_set_t all;
	int cpu;

	if (sched_getaffinity(0, sizeof(*saved), saved))
		return -errno;
	CPU_ZERO(&all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &all);
	/* The kernel keeps the CPUs that exist and this cpuset allows. */
	return sched_setaffinity(0, sizeof(all), &all) ? -errno : 0;
}

/* Selected and with what it needs?  If not, the row is marked skipped. */
static bool row_runnable(struct ctx *c, struct row *r, const char *only)
{
	if (only && !row_selected(r->name, only)) {
		r->state = ST_SKIPPED;
		snprintf(r->note, sizeof(r->note),
			 "skipped: not selected by --only");
		return false;
	}
	if ((r->need == NEED_PEER && !c->peer && c->raw_peer.device < 0) ||
	    (r->need == NEED_RAW && c->raw_dev.device < 0) ||
	    (r->need == NEED_NL && !c->nl) ||
	    (r->need == NEED_PIPE && !c->pipe.open) ||
	    (r->need == NEED_UNIX && !c->ux)) {
		r->state = ST_SKIPPED;
		if (!r->note[0])
			snprintf(r->note, sizeof(r->note),
				 "skipped: no %s given",
				 r->need == NEED_NL ? "--nl" :
				 r->need == NEED_PIPE ? "--nl-raw" :
				 r->need == NEED_UNIX ? "--unix" : "--peer");
		return false;
	}
	return true;
}

static void row_failed(struct ctx *c, struct row *r, int ret)
{
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

/*
 * The socket target's two rows, the floor (a) and the unix read (b),
 * measured interleaved: rounds of one batch of each, the order swapped
 * every round, so that both see the same host load (under TCG it moves
 * the figures tenfold within a run).  Besides each row's median and p99,
 * each round gives a ratio b / a of two batches timed next to each
 * other; their median and p99 go into pair.
 */
static int measure_pair(struct ctx *c, struct row *a, struct row *b,
			unsigned int iters, unsigned int batch, double *sa,
			double *sb, struct row **failed)
{
	unsigned int n = iters / batch, warm = iters / 10, i;
	double *ratios = sb + n;	/* sb has room for 2 n */
	int ret;

	c->per = 1;
	a->ops = b->ops = n * batch;
	for (i = 0; i < warm; i++) {
		*failed = a;
		ret = a->op(c);
		if (!ret) {
			*failed = b;
			ret = b->op(c);
		}
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++) {
		*failed = i % 2 ? b : a;
		ret = batch_time(c, *failed, batch, i % 2 ? &sb[i] : &sa[i]);
		if (!ret) {
			*failed = i % 2 ? a : b;
			ret = batch_time(c, *failed, batch,
					 i % 2 ? &sa[i] : &sb[i]);
		}
		if (ret)
			return ret;
		ratios[i] = sa[i] > 0 ? sb[i] / sa[i] : 0;
	}
	summarize(sa, n, &a->median, &a->p99);
	summarize(sb, n, &b->median, &b->p99);
	summarize(ratios, n, &pair.median, &pair.p99);
	pair.rounds = n;
	pair.done = true;
	return 0;
}

/* Both rows, interleaved; false when they cannot be (run_row them). */
static bool run_pair(struct ctx *c, struct row *a, struct row *b,
		     unsigned int iters, unsigned int batch, double *sa,
		     double *sb, const char *only)
{
	struct row *failed = a;
	cpu_set_t saved;
	bool pinned_back = false;
	int ret;

	if (!row_runnable(c, a, only) || !row_runnable(c, b, only))
		return false;
	if (iters < batch)
		batch = 1;
	ret = unpin(&saved);
	pinned_back = !ret;
	if (!ret)
		ret = a->setup(c);
	if (!ret)
		ret = measure_pair(c, a, b, iters, batch, sa, sb, &failed);
	a->teardown(c);
	if (pinned_back)
		sched_setaffinity(0, sizeof(saved), &saved);
	if (ret) {
		row_failed(c, failed, ret);
		return true;
	}
	a->state = b->state = ST_OK;
	snprintf(a->note, sizeof(a->note), "interleaved with %s", b->name);
	snprintf(b->note, sizeof(b->note), "interleaved with %s", a->name);
	return true;
}

static void run_row(struct ctx *c, struct row *r, unsigned int iters,
		    unsigned int batch, double *samples, const char *only)
{
	cpu_set_t saved;
	bool pinned_back = false;
	int ret = 0;

	if (r->state != ST_NOTRUN || !row_runnable(c, r, only))
		return;
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
	c->dma_row = (int)(r - rows);
	iters = row_iters(c->dma_row, iters);
	if (iters < batch)
		batch = 1;
	if (r->unpinned) {
		ret = unpin(&saved);
		pinned_back = !ret;
	}
	if (!ret && r->setup)
		ret = r->setup(c);
	if (!ret)
		ret = measure(c, r, iters, batch, samples);
	if (r->teardown)
		r->teardown(c);
	if (pinned_back)
		sched_setaffinity(0, sizeof(saved), &saved);
	if (!ret) {
		r->state = ST_OK;
		return;
	}
	row_failed(c, r, ret);
}

/* ---- scaling: N threads, each on its own device and handle ----------- */

/*
 * Each thread owns one handle (its own netlink socket, or its own VFIO
 * container/group/device fds) on its own device.  It pins itself, runs a
 * warm-up, and counts in at a start gate (mutex and condvar); the main
 * thread opens the gate once all have, sleeps --scale-ms, and raises the
 * stop flag.  Until then each thread runs its op back to back.  A thread's
 * rate is its op count over its own window (gate to the op that saw the
 * flag); a run's ops/s is the sum over its threads, and a cell reports
 * the median of --scale-reps runs.  Thread i is pinned to the (i mod n)-th
 * CPU the process may run on, so 2 threads on 2 vCPUs never share one and
 * 4 share them by pairs.  The getppid rows are the floor: how far this
 * machine lets independent syscalls scale at all.
 */

enum scale_need { SCALE_NEED_NONE, SCALE_NEED_VFIO, SCALE_NEED_NL };

struct scale_run;

struct scale_worker {
	struct scale_run *run;
	struct vfiosim_dev *dev;	/* own handle; NULL for the floor */
	int cpu;			/* pinned to */
	int ran_on;			/* sched_getcpu() after the window */
	uint32_t val;
	uint64_t ops;
	double window_ns;
	double rate;			/* ops / window, in ops/s */
	int error;
	char note[120];
	pthread_t tid;
};

struct scale_kind {
	const char *name;
	int (*op)(struct scale_worker *w);
	enum scale_need need;
};

struct scale_run {
	const struct scale_kind *kind;
	/* Start gate: threads count in as ready, then wait for go. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int ready;
	bool go;
	atomic_bool stop;
	struct scale_worker workers[SCALE_MAX_THREADS];
};

static int scale_op_getppid(struct scale_worker *w)
{
	w->val += (uint32_t)syscall(SYS_getppid);
	return 0;
}

static int scale_op_read(struct scale_worker *w)
{
	return err_io(vfiosim_region_read(w->dev, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_SCRATCH0, &w->val, 4), 4);
}

static int scale_op_ping(struct scale_worker *w)
{
	return vfiosim_netlink_ping(w->dev);
}

enum scale_kind_id {
	SK_GETPPID, SK_VFIO_RD, SK_NL_PING, SK_NL_RD, SK_NUM
};

static const struct scale_kind scale_kinds[SK_NUM] = {
	[SK_GETPPID] = { "getppid syscall", scale_op_getppid,
			 SCALE_NEED_NONE },
	[SK_VFIO_RD] = { "vfio BAR0 read 4 B", scale_op_read,
			 SCALE_NEED_VFIO },
	[SK_NL_PING] = { "netlink PING round trip", scale_op_ping,
			 SCALE_NEED_NL },
	[SK_NL_RD] = { "netlink BAR0 read 4 B", scale_op_read,
		       SCALE_NEED_NL },
};

/*
 * One (kind, thread count): the sum of thread rates, per run.  Ratios are
 * taken run by run against the 1-thread run of the same kind in the same
 * repetition (seconds apart, so slow drift in host load cancels), then
 * the median; -1 where there is none.
 */
struct scale_cell {
	enum state state;
	double ops_s[SCALE_MAX_REPS];
	double median;		/* ops/s */
	double speedup, speedup_min, speedup_max;	/* x 1 thread */
	double vs_floor;	/* speedup / the getppid floor's, same run */
	double slowest_share;	/* least thread ops / fair share, worst rep */
	unsigned int cpus_seen;	/* bit per CPU a thread ended on */
	char note[160];
};

struct scale_report {
	unsigned int counts[SCALE_MAX_COUNTS], ncounts;
	unsigned int reps, duration_ms, ncpus;
	int cpus[SCALE_MAX_THREADS];	/* CPUs threads are pinned to */
	const char *vfio_specs[SCALE_MAX_THREADS];
	const char *nl_specs[SCALE_MAX_THREADS];
	unsigned int nvfio, nnl;
	struct vfiosim_dev *vfio[SCALE_MAX_THREADS];
	struct vfiosim_dev *nl[SCALE_MAX_THREADS];
	struct scale_cell cells[SK_NUM][SCALE_MAX_COUNTS];
	bool ran;
};

/* Count in as ready, then wait for go; false if told to give up. */
static bool scale_gate_wait(struct scale_run *run)
{
	bool go;

	pthread_mutex_lock(&run->lock);
	run->ready++;
	pthread_cond_broadcast(&run->cond);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	go = !atomic_load(&run->stop);
	pthread_mutex_unlock(&run->lock);
	return go;
}

/* Open the gate once n threads are ready (or at once, to abort). */
static void scale_gate_open(struct scale_run *run, unsigned int n, bool abort)
{
	pthread_mutex_lock(&run->lock);
	if (abort)
		atomic_store(&run->stop, true);
	while (!abort && run->ready < n)
		pthread_cond_wait(&run->cond, &run->lock);
	run->go = true;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
}

static void *scale_thread(void *arg)
{
	struct scale_worker *w = arg;
	struct scale_run *run = w->run;
	struct timespec t0, t1;
	cpu_set_t set;
	unsigned int i;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret) {
		w->error = -ret;
		snprintf(w->note, sizeof(w->note), "pin to CPU %d: %s",
			 w->cpu, strerror(ret));
	}
	for (i = 0; i < SCALE_WARMUP_OPS && !w->error; i++)
		w->error = run->kind->op(w);
	/* Meet the others at the gate even after an error: no one waits. */
	if (!scale_gate_wait(run) || w->error) {
		atomic_store(&run->stop, true);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		ret = run->kind->op(w);
		if (ret) {
			w->error = ret;
			atomic_store(&run->stop, true);
			break;
		}
		w->ops++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	w->window_ns = ts_ns(&t1) - ts_ns(&t0);
	w->ran_on = sched_getcpu();
	return NULL;
}

/* Why thread i of a run failed, into the cell's note. */
static void scale_note_failure(struct scale_cell *cell, unsigned int i,
			       const struct scale_worker *w)
{
	if (w->note[0])
		snprintf(cell->note, sizeof(cell->note),
			 "failed: thread %u: %s", i, w->note);
	else if (w->dev)
		snprintf(cell->note, sizeof(cell->note),
			 "failed: thread %u: %s (%.100s)", i,
			 strerror(-w->error), vfiosim_dev_error(w->dev));
	else
		snprintf(cell->note, sizeof(cell->note),
			 "failed: thread %u: %s", i, strerror(-w->error));
}

/* Run kind with n threads once: total ops/s into *ops_s, or -errno. */
static int scale_once(struct scale_report *rep, enum scale_kind_id k,
		      unsigned int n, struct scale_cell *cell, double *ops_s)
{
	const struct scale_kind *kind = &scale_kinds[k];
	struct timespec dur = {
		.tv_sec = rep->duration_ms / 1000,
		.tv_nsec = (long)(rep->duration_ms % 1000) * 1000000L,
	};
	struct scale_run *run;
	unsigned int i, started;
	double total = 0, least = -1;
	int ret = 0;

	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->kind = kind;
	atomic_init(&run->stop, false);
	pthread_mutex_init(&run->lock, NULL);
	pthread_cond_init(&run->cond, NULL);
	for (started = 0; started < n; started++) {
		struct scale_worker *w = &run->workers[started];

		w->run = run;
		w->cpu = rep->cpus[started % rep->ncpus];
		w->ran_on = -1;
		w->dev = kind->need == SCALE_NEED_VFIO ? rep->vfio[started] :
			 kind->need == SCALE_NEED_NL ? rep->nl[started] : NULL;
		ret = -pthread_create(&w->tid, NULL, scale_thread, w);
		if (ret) {
			snprintf(cell->note, sizeof(cell->note),
				 "failed: pthread_create: %s", strerror(-ret));
			break;
		}
	}
	scale_gate_open(run, n, ret != 0);
	if (!ret)
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &dur, &dur) == EINTR)
			;
	atomic_store(&run->stop, true);
	for (i = 0; i < started; i++)
		pthread_join(run->workers[i].tid, NULL);
	pthread_cond_destroy(&run->cond);
	pthread_mutex_destroy(&run->lock);

	for (i = 0; i < n && !ret; i++)
		if (run->workers[i].error) {
			scale_note_failure(cell, i, &run->workers[i]);
			ret = run->workers[i].error;
		}
	/*
	 * A thread starved for the whole window (a busy host) ran no op:
	 * that is a rate of 0, and min thr shows it, not an error.
	 */
	for (i = 0; i < n && !ret; i++) {
		struct scale_worker *w = &run->workers[i];

		w->rate = w->window_ns > 0 ? (double)w->ops * 1e9 / w->window_ns :
			  0;
		total += w->rate;
		if (w->ran_on >= 0 && w->ran_on < 32)
			cell->cpus_seen |= 1u << w->ran_on;
	}
	/* Fairness: the slowest thread against an even split of the total. */
	for (i = 0; i < n && !ret && total > 0; i++)
		if (least < 0 || run->workers[i].rate / (total / n) < least)
			least = run->workers[i].rate / (total / n);
	if (!ret && total <= 0) {
		snprintf(cell->note, sizeof(cell->note),
			 "failed: no thread ran an op in %u ms", rep->duration_ms);
		ret = -EIO;
	}
	if (!ret) {
		if (cell->slowest_share <= 0 || least < cell->slowest_share)
			cell->slowest_share = least;
		*ops_s = total;
	}
	free(run);
	return ret;
}

static bool scale_kind_possible(const struct scale_report *rep,
				enum scale_kind_id k, unsigned int n,
				char *note, size_t len)
{
	const struct scale_kind *kind = &scale_kinds[k];

	if (kind->need == SCALE_NEED_VFIO && rep->nvfio < n) {
		snprintf(note, len, "skipped: %u vfio: devices for %u threads (--scale-vfio)",
			 rep->nvfio, n);
		return false;
	}
	if (kind->need == SCALE_NEED_NL && rep->nnl < n) {
		snprintf(note, len, "skipped: %u netlink: devices for %u threads (--scale-nl)",
			 rep->nnl, n);
		return false;
	}
	return true;
}

/* Index of thread count n in the report, or -1. */
static int scale_count_index(const struct scale_report *rep, unsigned int n)
{
	unsigned int c;

	for (c = 0; c < rep->ncounts; c++)
		if (rep->counts[c] == n)
			return (int)c;
	return -1;
}

/* Speedup of cell (k, c) and against the floor, run by run, then medians. */
static void scale_ratios(struct scale_report *rep, enum scale_kind_id k,
			 unsigned int c)
{
	struct scale_cell *cell = &rep->cells[k][c];
	const struct scale_cell *one, *floor_n, *floor_one;
	double s[SCALE_MAX_REPS], f[SCALE_MAX_REPS];
	int o = scale_count_index(rep, 1);
	unsigned int r;
	bool floor_ok;

	cell->speedup = cell->speedup_min = cell->speedup_max = -1;
	cell->vs_floor = -1;
	if (o < 0 || cell->state != ST_OK || rep->cells[k][o].state != ST_OK)
		return;
	one = &rep->cells[k][o];
	floor_n = &rep->cells[SK_GETPPID][c];
	floor_one = &rep->cells[SK_GETPPID][o];
	floor_ok = k != SK_GETPPID && floor_n->state == ST_OK &&
		   floor_one->state == ST_OK;
	for (r = 0; r < rep->reps; r++) {
		s[r] = cell->ops_s[r] / one->ops_s[r];
		if (floor_ok)
			f[r] = s[r] / (floor_n->ops_s[r] / floor_one->ops_s[r]);
	}
	cell->speedup = sort_median(s, rep->reps);
	cell->speedup_min = s[0];
	cell->speedup_max = s[rep->reps - 1];
	if (floor_ok)
		cell->vs_floor = sort_median(f, rep->reps);
}

/*
 * Repetition-major: every cell once, then every cell again, so a change
 * in host load over the run spreads over all cells rather than one.
 */
static int scale_run_all(struct scale_report *rep)
{
	unsigned int r, c, j;
	int k, failed = 0;
	double v[SCALE_MAX_REPS];

	for (k = 0; k < SK_NUM; k++)
		for (c = 0; c < rep->ncounts; c++) {
			struct scale_cell *cell = &rep->cells[k][c];

			cell->state = scale_kind_possible(rep, k,
							  rep->counts[c],
							  cell->note,
							  sizeof(cell->note)) ?
				      ST_NOTRUN : ST_SKIPPED;
		}
	for (r = 0; r < rep->reps; r++)
		for (k = 0; k < SK_NUM; k++)
			for (c = 0; c < rep->ncounts; c++) {
				struct scale_cell *cell = &rep->cells[k][c];

				if (cell->state != ST_NOTRUN)
					continue;
				if (scale_once(rep, k, rep->counts[c], cell,
					       &cell->ops_s[r]))
					cell->state = ST_FAILED;
			}
	for (k = 0; k < SK_NUM; k++)
		for (c = 0; c < rep->ncounts; c++) {
			struct scale_cell *cell = &rep->cells[k][c];

			if (cell->state == ST_FAILED)
				failed++;
			if (cell->state != ST_NOTRUN)
				continue;
			for (j = 0; j < rep->reps; j++)
				v[j] = cell->ops_s[j];
			cell->median = sort_median(v, rep->reps);
			cell->state = ST_OK;
		}
	for (k = 0; k < SK_NUM; k++)
		for (c = 0; c < rep->ncounts; c++)
			scale_ratios(rep, k, c);
	rep->ran = true;
	return failed;
}

static bool scale_has_run(const struct scale_report *rep)
{
	return rep->ran;
}

/* "0,1" from a bit per CPU. */
static void scale_cpu_list(char *buf, size_t len, unsigned int mask)
{
	size_t used = 0;
	int cpu;

	buf[0] = 0;
	for (cpu = 0; cpu < 32 && used < len; cpu++)
		if (mask & (1u << cpu))
			used += (size_t)snprintf(buf + used, len - used, "%s%d",
						 used ? "," : "", cpu);
}

static void scale_print(FILE *f, const struct scale_report *rep)
{
	unsigned int c, i;
	int k, two = scale_count_index(rep, 2);
	double nl2, floor2;

	fprintf(f, "scaling: thread i on device i through its own handle, pinned to CPU");
	for (i = 0; i < rep->ncpus; i++)
		fprintf(f, "%s%d", i ? "," : " ", rep->cpus[i]);
	fprintf(f, " (i mod %u);\n  %u ms per run after %u warm-up ops a thread, start gate, median of %u runs\n\n",
		rep->ncpus, rep->duration_ms, SCALE_WARMUP_OPS, rep->reps);
	fprintf(f, "%-25s %7s %11s %8s %11s %8s %11s %7s %5s\n", "scaling",
		"threads", "ops/s", "x 1 thr", "range", "x floor",
		"ns/op/thr", "min thr", "CPUs");
	for (k = 0; k < SK_NUM; k++)
		for (c = 0; c < rep->ncounts; c++) {
			const struct scale_cell *cell = &rep->cells[k][c];
			double s = cell->speedup;
			char sbuf[16] = "-", fbuf[16] = "-", range[32] = "-";
			char cpus[40];

			if (cell->state != ST_OK) {
				fprintf(f, "%-25s %7u %s\n", scale_kinds[k].name,
					rep->counts[c], cell->note[0] ?
					cell->note : "not run");
				continue;
			}
			if (s >= 0)
				snprintf(sbuf, sizeof(sbuf), "%.2f", s);
			if (s >= 0 && rep->reps > 1)
				snprintf(range, sizeof(range), "%.2f-%.2f",
					 cell->speedup_min, cell->speedup_max);
			if (cell->vs_floor >= 0)
				snprintf(fbuf, sizeof(fbuf), "%.2f",
					 cell->vs_floor);
			scale_cpu_list(cpus, sizeof(cpus), cell->cpus_seen);
			fprintf(f, "%-25s %7u %11.0f %8s %11s %8s %11.0f %7.2f %5s\n",
				scale_kinds[k].name, rep->counts[c],
				cell->median, sbuf, range, fbuf,
				1e9 * rep->counts[c] / cell->median,
				cell->slowest_share, cpus);
		}
	fprintf(f, "\n(ops/s: median over runs of the sum over threads of each thread's ops\n"
		" over its own window; x 1 thr: median over runs of ops/s / ops/s of the\n"
		" same row with 1 thread in the same repetition, range = lowest-highest run;\n"
		" x floor: the same, over the getppid floor's x 1 thr in that repetition,\n"
		" i.e. the share of what this VM scales at all; ns/op/thr = threads / ops/s;\n"
		" min thr = slowest thread / an even share, worst run; CPUs = where the\n"
		" threads were at the end)\n\n");
	nl2 = two < 0 ? -1 : rep->cells[SK_NL_RD][two].speedup;
	floor2 = two < 0 ? -1 : rep->cells[SK_GETPPID][two].speedup;
	if (nl2 >= 0)
		fprintf(f, "netlink read, 2 threads / 1 thread = %.2f (target >= %.1f): %s\n",
			nl2, ACCEPT_SCALE_2T,
			nl2 >= ACCEPT_SCALE_2T ? "PASS" : "FAIL");
	else
		fprintf(f, "netlink read, 2 threads / 1 thread = n/a (target >= %.1f): not measured\n",
			ACCEPT_SCALE_2T);
	if (floor2 >= 0)
		fprintf(f, "  (getppid floor, 2 threads / 1: %.2f, what this VM allows; vfio read: %.2f; netlink PING: %.2f)\n",
			floor2,
			rep->cells[SK_VFIO_RD][two].speedup,
			rep->cells[SK_NL_PING][two].speedup);
	if (floor2 >= 0 && floor2 < ACCEPT_SCALE_2T)
		fprintf(f, "  the floor itself is below %.1f: the host did not give this guest two\n"
			"  cores' worth of time (other VMs?), so the target cannot be judged here\n",
			ACCEPT_SCALE_2T);
}

/* The "scaling" member of the open results object. */
static void scale_json(struct jw *w, const struct scale_report *rep)
{
	int k, two = scale_count_index(rep, 2);
	unsigned int c, j;
	double nl2;

	jw_obj_open(w, "scaling");
	jw_u64(w, "duration_ms", rep->duration_ms);
	jw_u64(w, "repetitions", rep->reps);
	jw_u64(w, "warmup_ops", SCALE_WARMUP_OPS);
	jw_arr_open(w, "cpus");
	for (j = 0; j < rep->ncpus; j++)
		jw_u64(w, NULL, (uint64_t)rep->cpus[j]);
	jw_arr_close(w);
	jw_str(w, "pinning", "thread i on cpus[i mod ncpus]");
	jw_str(w, "unit", "ops/s summed over threads");
	jw_arr_open(w, "results");
	for (k = 0; k < SK_NUM; k++)
		for (c = 0; c < rep->ncounts; c++) {
			const struct scale_cell *cell = &rep->cells[k][c];
			bool ok = cell->state == ST_OK;

			jw_obj_open(w, NULL);
			jw_str(w, "name", scale_kinds[k].name);
			jw_u64(w, "threads", rep->counts[c]);
			jw_str(w, "status", ok ? "ok" :
			       cell->state == ST_SKIPPED ? "skipped" :
			       "failed");
			jw_num(w, "ops_per_s", ok ? cell->median : -1);
			jw_arr_open(w, "runs_ops_per_s");
			for (j = 0; ok && j < rep->reps; j++)
				jw_real(w, NULL, cell->ops_s[j]);
			jw_arr_close(w);
			jw_num(w, "ratio_to_1_thread", cell->speedup);
			jw_num(w, "ratio_to_1_thread_min", cell->speedup_min);
			jw_num(w, "ratio_to_1_thread_max", cell->speedup_max);
			jw_num(w, "ratio_to_floor_scaling", cell->vs_floor);
			jw_num(w, "slowest_thread_share",
			       ok ? cell->slowest_share : -1);
			jw_u64(w, "cpus_seen_mask", cell->cpus_seen);
			if (cell->note[0])
				jw_str(w, "note", cell->note);
			jw_obj_close(w);
		}
	jw_arr_close(w);
	nl2 = two < 0 ? -1 : rep->cells[SK_NL_RD][two].speedup;
	jw_obj_open(w, "acceptance");
	jw_str(w, "metric", "netlink BAR0 read 4 B, 2 threads / 1 thread");
	jw_num(w, "value", nl2);
	jw_num(w, "floor_value",
	       two < 0 ? -1 : rep->cells[SK_GETPPID][two].speedup);
	jw_real(w, "target_min", ACCEPT_SCALE_2T);
	jw_pass(w, nl2, nl2 >= ACCEPT_SCALE_2T);
	jw_obj_close(w);
	jw_obj_close(w);
}

/* "a,b,c" -> up to SCALE_MAX_THREADS specs, pointing into list. */
static int scale_parse_specs(char *list, const char **specs, unsigned int *n)
{
	char *save = NULL, *tok;

	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == SCALE_MAX_THREADS)
			return -E2BIG;
		specs[(*n)++] = tok;
	}
	return *n ? 0 : -EINVAL;
}

/* "1,2,4" -> thread counts, each 1..SCALE_MAX_THREADS. */
static int scale_parse_counts(const char *list, struct scale_report *rep)
{
	const char *p = list;
	unsigned long v;
	char *end;

	rep->ncounts = 0;
	while (*p) {
		v = strtoul(p, &end, 10);
		if (end == p || !v || v > SCALE_MAX_THREADS ||
		    rep->ncounts == SCALE_MAX_COUNTS || (*end && *end != ','))
			return -EINVAL;
		rep->counts[rep->ncounts++] = (unsigned int)v;
		p = *end ? end + 1 : end;
	}
	return rep->ncounts ? 0 : -EINVAL;
}

static void scale_close(struct scale_report *rep)
{
	unsigned int i;

	for (i = 0; i < SCALE_MAX_THREADS; i++) {
		if (rep->vfio[i])
			vfiosim_dev_free(rep->vfio[i]);
		if (rep->nl[i])
			vfiosim_dev_free(rep->nl[i]);
		rep->vfio[i] = rep->nl[i] = NULL;
	}
}

/* One handle per device, each reset; the CPUs threads will be pinned to. */
static int scale_open(struct scale_report *rep)
{
	cpu_set_t allowed;
	unsigned int i;
	int cpu;

	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		perror("vfiosim-bench: sched_getaffinity");
		return -1;
	}
	rep->ncpus = 0;
	for (cpu = 0; cpu < CPU_SETSIZE && rep->ncpus < SCALE_MAX_THREADS;
	     cpu++)
		if (CPU_ISSET(cpu, &allowed))
			rep->cpus[rep->ncpus++] = cpu;
	for (i = 0; i < rep->nvfio + rep->nnl; i++) {
		bool vfio = i < rep->nvfio;
		unsigned int j = vfio ? i : i - rep->nvfio;
		const char *spec = vfio ? rep->vfio_specs[j] : rep->nl_specs[j];
		struct vfiosim_dev *d = open_dev(spec, false);

		if (!d) {
			scale_close(rep);
			return -1;
		}
		*(vfio ? &rep->vfio[j] : &rep->nl[j]) = d;
		if (vfiosim_reset(d))
			fprintf(stderr, "vfiosim-bench: reset %s: %s (continuing)\n",
				spec, vfiosim_dev_error(d));
	}
	return 0;
}

static int write_scale_json(const char *path, const struct scale_report *rep)
{
	struct jw w;

	if (json_begin(&w, path))
		return -1;
	scale_json(&w, rep);
	return json_end(&w, path);
}

/* No --dev: only the scaling section. */
/* ---- migration (--mig) --------------------------------------------- */

#define MIG_MAX_REPS	64

struct mig_result {
	const char *bar2;		/* "empty" or "full" */
	double bytes;
	double save_ms;
	double resume_ms;
};

static double mig_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int mig_fail(struct vfiosim_dev *dev, const char *what)
{
	fprintf(stderr, "vfiosim-bench: --mig: %s: %s\n", what,
		vfiosim_dev_error(dev));
	return -1;
}

/* One save on src and resume on dst; *len the stream's size. */
static int mig_once(struct vfiosim_dev *src, struct vfiosim_dev *dst,
		    uint8_t **buf, size_t *cap, size_t *len, double *save_ms,
		    double *resume_ms)
{
	double t0 = mig_now_ms();
	ssize_t n = 0;

	*len = 0;
	if (vfiosim_mig_set_state(src, VFIO_DEVICE_STATE_STOP_COPY))
		return mig_fail(src, "to STOP_COPY");
	do {
		if (*cap - *len < 1 << 20) {
			uint8_t *nb = realloc(*buf, *cap * 2);

			if (!nb)
				return -1;
			*buf = nb;
			*cap *= 2;
		}
		n = vfiosim_mig_read(src, *buf + *len, 1 << 20);
		if (n > 0)
			*len += n;
	} while (n > 0);
	if (n < 0)
		return mig_fail(src, "read");
	if (vfiosim_mig_set_state(src, VFIO_DEVICE_STATE_STOP))
		return mig_fail(src, "to STOP");
	*save_ms = mig_now_ms() - t0;

	t0 = mig_now_ms();
	if (vfiosim_mig_set_state(dst, VFIO_DEVICE_STATE_RESUMING))
		return mig_fail(dst, "to RESUMING");
	if (vfiosim_mig_write(dst, *buf, *len) != (ssize_t)*len)
		return mig_fail(dst, "write");
	if (vfiosim_mig_set_state(dst, VFIO_DEVICE_STATE_STOP))
		return mig_fail(dst, "to STOP (load)");
	*resume_ms = mig_now_ms() - t0;
	if (vfiosim_mig_set_state(src, VFIO_DEVICE_STATE_RUNNING) ||
	    vfiosim_mig_set_state(dst, VFIO_DEVICE_STATE_RUNNING))
		return mig_fail(src, "back to RUNNING");
	return 0;
}

/* Write every byte of BAR2 (a pattern), 64 KiB at a time. */
static int mig_fill_bar2(struct vfiosim_dev *dev, uint64_t size)
{
	static uint8_t chunk[65536];
	uint64_t off;
	size_t i;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 13 + 1);
	for (off = 0; off < size; off += sizeof(chunk)) {
		size_t n = size - off < sizeof(chunk) ? size - off : sizeof(chunk);

		if (vfiosim_region_write(dev, VFIO_PCI_BAR2_REGION_INDEX, off,
					 chunk, n) != (ssize_t)n)
			return mig_fail(dev, "BAR2 write");
	}
	return 0;
}

static int mig_measure(struct vfiosim_dev *src, struct vfiosim_dev *dst,
		       unsigned int reps, struct mig_result *r)
{
	double save[MIG_MAX_REPS], resume[MIG_MAX_REPS];
	size_t cap = 1 << 21, len = 0;
	uint8_t *buf = malloc(cap);
	unsigned int i;
	int ret = 0;

	if (!buf)
		return -1;
	for (i = 0; i < reps && !ret; i++)
		ret = mig_once(src, dst, &buf, &cap, &len, &save[i],
			       &resume[i]);
	free(buf);
	if (ret)
		return ret;
	r->bytes = (double)len;
	r->save_ms = sort_median(save, reps);
	r->resume_ms = sort_median(resume, reps);
	return 0;
}

static int mig_only(const char *specs, unsigned int reps, const char *json)
{
	struct vfio_region_info bar2 = {
		.argsz = sizeof(bar2),
		.index = VFIO_PCI_BAR2_REGION_INDEX,
	};
	struct mig_result res[2] = { { .bar2 = "empty" }, { .bar2 = "full" } };
	struct vfiosim_dev *src = vfiosim_dev_alloc(), *dst = vfiosim_dev_alloc();
	char src_spec[256], *comma;
	int ret = -1, i;
	struct jw w;

	snprintf(src_spec, sizeof(src_spec), "%s", specs);
	comma = strchr(src_spec, ',');
	if (!comma || !src || !dst || reps < 1 || reps > MIG_MAX_REPS) {
		fprintf(stderr, "vfiosim-bench: --mig <src>,<dst>, --mig-reps 1..%d\n",
			MIG_MAX_REPS);
		goto out;
	}
	*comma = '\0';
	if (vfiosim_dev_open(src, src_spec)) {
		mig_fail(src, "open");
		goto out;
	}
	if (vfiosim_dev_open(dst, comma + 1)) {
		mig_fail(dst, "open");
		goto out;
	}
	if (vfiosim_get_region_info(src, &bar2)) {
		mig_fail(src, "BAR2 region info");
		goto out;
	}
	/* BAR2 is empty after open; then all of it is written */
	if (mig_measure(src, dst, reps, &res[0]) ||
	    mig_fill_bar2(src, bar2.size) ||
	    mig_measure(src, dst, reps, &res[1]))
		goto out;
	ret = 0;
	printf("migration %s -> %s (BAR2 %llu KiB), median of %u:\n",
	       src_spec, comma + 1, (unsigned long long)bar2.size / 1024, reps);
	printf("  %-6s %12s %10s %10s %10s\n", "BAR2", "bytes", "save ms",
	       "resume ms", "MB/s save");
	for (i = 0; i < 2; i++)
		printf("  %-6s %12.0f %10.2f %10.2f %10.1f\n", res[i].bar2,
		       res[i].bytes, res[i].save_ms, res[i].resume_ms,
		       res[i].bytes / 1e3 / res[i].save_ms);
	if (!json)
		goto out;
	memset(&w, 0, sizeof(w));
	w.f = fopen(json, "w");
	if (!w.f) {
		perror(json);
		ret = -1;
		goto out;
	}
	jw_obj_open(&w, NULL);
	jw_str(&w, "src", src_spec);
	jw_str(&w, "dst", comma + 1);
	jw_u64(&w, "bar2_size", bar2.size);
	jw_u64(&w, "reps", reps);
	jw_arr_open(&w, "runs");
	for (i = 0; i < 2; i++) {
		jw_obj_open(&w, NULL);
		jw_str(&w, "bar2", res[i].bar2);
		jw_real(&w, "bytes", res[i].bytes);
		jw_real(&w, "save_ms", res[i].save_ms);
		jw_real(&w, "resume_ms", res[i].resume_ms);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	if (fclose(w.f))
		ret = -1;
out:
	vfiosim_dev_free(src);
	vfiosim_dev_free(dst);
	return ret ? 1 : 0;
}

static int scale_only(struct scale_report *scale, const char *json)
{
	int failed;

	printf("vfiosim-bench: scaling only (no --dev)\n  vfio: %u devices, netlink: %u devices\n\n",
	       scale->nvfio, scale->nnl);
	if (scale_open(scale)) {
		free(scale);
		return 1;
	}
	failed = scale_run_all(scale);
	scale_close(scale);
	scale_print(stdout, scale);
	if (json && write_scale_json(json, scale))
		failed++;
	free(scale);
	return failed ? 1 : 0;
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
		{ "scale-vfio", required_argument, NULL, 'V' },
		{ "scale-nl", required_argument, NULL, 'L' },
		{ "scale-threads", required_argument, NULL, 'T' },
		{ "scale-ms", required_argument, NULL, 'M' },
		{ "scale-reps", required_argument, NULL, 'P' },
		{ "mig", required_argument, NULL, 'G' },
		{ "mig-reps", required_argument, NULL, 'g' },
		{ "only", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *mig_specs = NULL;
	unsigned int mig_reps = DEF_MIG_REPS;
	const char *dev_spec = NULL, *peer_spec = NULL, *json = NULL;
	const char *peer_path = "none", *nl_spec = NULL, *raw_uuid = NULL;
	const char *ux_spec = NULL, *only = NULL;
	unsigned int iters = DEF_ITERS, batch = DEF_BATCH;
	char err[256];
	struct ctx *c;
	struct scale_report *scale;
	double *samples, *pair_samples, acc;
	void *map = NULL;
	int opt, i, failed = 0;

	scale = calloc(1, sizeof(*scale));
	if (!scale) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return 1;
	}
	scale->duration_ms = DEF_SCALE_MS;
	scale->reps = DEF_SCALE_REPS;
	scale_parse_counts("1,2,4", scale);
	while ((opt = getopt_long(argc, argv, "d:p:n:b:j:N:R:U:V:L:T:M:P:G:g:O:h",
				  opts, NULL)) != -1) {
		switch (opt) {
		case 'G':
			mig_specs = optarg;
			break;
		case 'g':
			mig_reps = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'V':
		case 'L':
			if (scale_parse_specs(optarg, opt == 'V' ?
					      scale->vfio_specs : scale->nl_specs,
					      opt == 'V' ? &scale->nvfio :
					      &scale->nnl)) {
				fprintf(stderr, "vfiosim-bench: --scale-%s: 1 to %d comma-separated specs\n",
					opt == 'V' ? "vfio" : "nl",
					SCALE_MAX_THREADS);
				return 2;
			}
			break;
		case 'T':
			if (scale_parse_counts(optarg, scale)) {
				fprintf(stderr, "vfiosim-bench: --scale-threads: up to %d counts of 1..%d, e.g. 1,2,4\n",
					SCALE_MAX_COUNTS, SCALE_MAX_THREADS);
				return 2;
			}
			break;
		case 'M':
			scale->duration_ms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'P':
			scale->reps = (unsigned int)strtoul(optarg, NULL, 0);
			break;
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
		case 'O':
			only = optarg;
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
	if (mig_specs) {
		free(scale);
		return mig_only(mig_specs, mig_reps, json);
	}
	if ((!dev_spec && !scale->nvfio && !scale->nnl) || optind != argc ||
	    !batch || iters < batch || !scale->duration_ms || !scale->reps ||
	    scale->reps > SCALE_MAX_REPS) {
		usage(stderr);
		return 2;
	}
	if (!dev_spec)
		return scale_only(scale, json);

	c = aligned_alloc(64, sizeof(*c));
	/* Batched rows run up to max(iters, MIN_BATCH_OPS) ops of batch 1. */
	samples = calloc(iters + MIN_BATCH_OPS, sizeof(*samples));
	/* The interleaved pair: one row's samples, then the ratios. */
	pair_samples = calloc(2 * (size_t)iters, sizeof(*pair_samples));
	if (!c || !samples || !pair_samples) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return 1;
	}
	memset(c, 0, sizeof(*c));
	c->copy = memcpy;
	c->irq_efd = -1;
	c->raw_peer.device = c->raw_peer.group = c->raw_peer.container = -1;
	c->raw_dev.device = c->raw_dev.group = c->raw_dev.container = -1;
	c->sock_pp = -1;
	wops_fill(c);
	c->loop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->loop_efd < 0) {
		perror("vfiosim-bench: eventfd");
		return 1;
	}
	c->dma_fd = memfd_create("vfiosim-bench-dma", MFD_CLOEXEC);
	if (c->dma_fd < 0 || ftruncate(c->dma_fd, DMA_MEM)) {
		perror("vfiosim-bench: memfd");
		return 1;
	}
	c->dma_mem = mmap(NULL, DMA_MEM, PROT_READ | PROT_WRITE, MAP_SHARED,
			  c->dma_fd, 0);
	if (c->dma_mem == MAP_FAILED) {
		perror("vfiosim-bench: mmap memfd");
		return 1;
	}
	for (i = 0; i < (int)(DMA_MEM / 2); i++)
		c->dma_mem[i] = (unsigned char)(i * 7 + 1);

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
	for (i = 0; i < R_NUM; i++) {
		if (i == R_SOCK_PP &&
		    run_pair(c, &rows[R_SOCK_PP], &rows[R_UX_RD], iters, batch,
			     samples, pair_samples, only))
			continue;
		if (rows[i].need != NEED_RAW)
			run_row(c, &rows[i], iters, batch, samples, only);
	}

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
			run_row(c, &rows[i], iters, batch, samples, only);

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
	print_dma(stdout);

	if (scale->nvfio || scale->nnl) {
		if (scale_open(scale))
			return 1;
		failed += scale_run_all(scale);
		scale_close(scale);
		printf("\n");
		scale_print(stdout, scale);
	}

	if (json && write_json(json, dev_spec, peer_spec, peer_path, iters,
			       batch, scale))
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
	free(pair_samples);
	free(c);
	free(scale);
	return failed ? 1 : 0;
}
