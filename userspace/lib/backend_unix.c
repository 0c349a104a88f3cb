// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The "unix" backend: a vfio-user client (QEMU's docs/interop/vfio-user.rst)
 * over a UNIX stream socket, e.g. to vfiosim-userd.
 *
 * The messages are the ones the netlink backend sends (vu_codec.c builds
 * and checks them); only the transport differs: the message goes on the
 * stream as is, and file descriptors travel as SCM_RIGHTS ancillary data
 * (the eventfds of DEVICE_SET_IRQS, the memory file of DMA_MAP; a region's
 * mmap fd comes back with DEVICE_GET_REGION_INFO).
 *
 * open: connect, then VERSION (0.1, with our capabilities as JSON).  The
 * reply must keep major 0 and a minor <= 1; from its capabilities we use
 * max_data_xfer_size (default 1 MiB), max_msg_fds (default 1) and
 * write_multiple.  Then DEVICE_GET_INFO and DEVICE_GET_REGION_INFO of
 * every region, as the netlink backend does, to cache offsets, sizes and
 * mmap fds.
 *
 * Every op is one request and its reply, under a per-device mutex (one
 * request in flight per socket).  A message is read whole (its msg_size
 * says how long it is), so the stream stays in step: while we wait, a
 * reply to another msg_id is stale and dropped, and a command from the
 * server (DMA_READ/DMA_WRITE) is answered ENOTSUP; a reply longer than we
 * can hold is drained and refused.  A reply with our msg_id to another
 * command leaves the real one unaccounted for: the connection is broken.  A
 * reply that does not come within the device's timeout (30 s unless
 * vfiosim_dev_set_timeout() said otherwise) is
 * -ETIMEDOUT; since it may still come later, the connection is not used
 * again after that, nor after the server closed it or broke framing.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "scm_fds.h"
#include "vfiosim_int.h"

#define UX_HDR			sizeof(struct vfiosim_user_header)
#define UX_WHY_LEN		VFIOSIM_ERR_LEN
/* The most data per REGION_READ/WRITE we ever ask for, whatever is offered. */
#define UX_XFER_CAP		(1024 * 1024)
#define UX_XFER_DEFAULT		(1024 * 1024)
/* What we can receive in one message (one mmap fd is all we expect). */
#define UX_MAX_FDS		VFIOSIM_USER_MAX_MSG_FDS
/* Room beyond the largest region access for the VERSION reply et al. */
#define UX_SLACK		8192
/* How long close waits for the server to hang up. */
#define UX_CLOSE_WAIT_MS	2000
/* Payload room we always have: a whole REGION_WRITE_MULTI batch fits. */
#define UX_MIN_PAYLOAD		(sizeof(uint64_t) + VFIOSIM_USER_WRITE_MULTI_MAX * \
				 sizeof(struct vfiosim_user_write_multi_entry))

struct ux_priv {
	struct vu_client vc;	/* first: the ops find it at dev->priv */
	int fd;
	bool broken;		/* stream out of step: refuse further use */
	char broken_why[128];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/*
	 * Negotiated in VERSION: minor here; max_data_xfer_size (capped),
	 * max_msg_fds and write_multiple in vc.
	 */
	uint16_t minor;
	unsigned int timeout_ms;	/* per reply, from the device at open */
	unsigned char *tx;	/* request: header + payload */
	unsigned char *rx;	/* reply */
	size_t buf_size;	/* of tx and rx */
};

static struct ux_priv *priv(struct vfiosim_dev *dev)
{
	return dev->priv;
}

static size_t ux_payload_max(const struct ux_priv *p)
{
	return p->buf_size - UX_HDR;
}

static void *ux_payload(struct ux_priv *p)
{
	return p->tx + UX_HDR;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events until the deadline: 0, or -ETIMEDOUT / -errno. */
static int ux_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int ux_break(struct ux_priv *p, int err, const char *what)
{
	p->broken = true;
	snprintf(p->broken_why, sizeof(p->broken_why), "%s", what);
	return err;
}

/* Send len bytes at buf, with nfds fds on the first byte. */
static int ux_send(struct ux_priv *p, const void *buf, size_t len,
		   const void *fds, size_t nfds, long long deadline, char *why)
{
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		n = vfiosim_scm_send(p->fd, (const unsigned char *)buf + done,
				     len - done, done ? NULL : fds,
				     done ? 0 : nfds, UX_MAX_FDS, MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		ret = n < 0 ? (int)n : -EIO;
		if (ret == -EAGAIN || ret == -EWOULDBLOCK) {
			ret = ux_wait(p->fd, POLLOUT, deadline);
			if (!ret)
				continue;
		}
		if (ret == -EMSGSIZE && !done)
			snprintf(why, UX_WHY_LEN,
				 "send to %s: %zu fds, more than one message carries (%u)",
				 p->path, nfds, UX_MAX_FDS);
		else
			snprintf(why, UX_WHY_LEN, "send to %s: %s%s", p->path,
				 ret == -ETIMEDOUT ?
				 "server not reading: " : "",
				 strerror(-ret));
		/* Part of a message went out: the stream is out of step. */
		if (done || ret == -ETIMEDOUT)
			ux_break(p, 0, "an earlier send failed half way");
		return ret;
	}
	return 0;
}

/*
 * Receive exactly len bytes into buf (NULL: discard them), collecting
 * SCM_RIGHTS fds into rx (closing what does not fit).  0 or -errno with
 * why; -ECONNRESET when the server closed the connection.
 */
static int ux_recv(struct ux_priv *p, void *buf, size_t len,
		   struct vfiosim_scm_fds *rx, long long deadline,
		   const char *what, char *why)
{
	unsigned char sink[4096];
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		if (buf)
			n = vfiosim_scm_recv(p->fd, (unsigned char *)buf + done,
					     len - done, rx, MSG_DONTWAIT);
		else
			n = vfiosim_scm_recv(p->fd, sink,
					     len - done < sizeof(sink) ?
					     len - done : sizeof(sink), rx,
					     MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			ret = ux_wait(p->fd, POLLIN, deadline);
			if (!ret)
				continue;
			if (ret == -ETIMEDOUT)
				snprintf(why, UX_WHY_LEN,
					 "no reply from %s within %u ms",
					 p->path, p->timeout_ms);
			else
				snprintf(why, UX_WHY_LEN,
					 "waiting for a reply from %s: %s",
					 p->path, strerror(-ret));
			return ux_break(p, ret, "an earlier reply timed out");
		}
		if (n < 0) {
			ret = (int)n;
			snprintf(why, UX_WHY_LEN, "receive from %s: %s",
				 p->path, strerror(-ret));
			return ux_break(p, ret, "an earlier receive failed");
		}
		if (n == 0) {
			if (done)
				snprintf(why, UX_WHY_LEN,
					 "malformed reply: %s closed the connection after %zu of %zu bytes of %s (truncated)",
					 p->path, done, len, what);
			else
				snprintf(why, UX_WHY_LEN,
					 "%s closed the connection", p->path);
			return ux_break(p, done ? -EPROTO : -ECONNRESET,
					"the server closed the connection");
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * One whole message from the server into p->rx (its header also in
 * *hdr), with its fds in rx; an oversized one is drained (to stay in
 * step) and refused, and so is one with more fds than we take.  0 or
 * -errno with why.
 */
static int ux_recv_msg(struct ux_priv *p, struct vfiosim_user_header *hdr,
		       struct vfiosim_scm_fds *rx, long long deadline,
		       char *why)
{
	int ret;

	ret = ux_recv(p, hdr, sizeof(*hdr), rx, deadline, "a header", why);
	if (ret)
		return ret;
	if (hdr->msg_size < sizeof(*hdr)) {
		snprintf(why, UX_WHY_LEN,
			 "malformed reply: msg_size %u, shorter than a vfio-user header (truncated)",
			 hdr->msg_size);
		return ux_break(p, -EPROTO, "an earlier reply broke framing");
	}
	if (hdr->msg_size > p->buf_size) {
		ret = ux_recv(p, NULL, hdr->msg_size - sizeof(*hdr), rx,
			      deadline, "an oversized reply", why);
		if (ret)
			return ret;
		snprintf(why, UX_WHY_LEN,
			 "malformed reply: msg_size %u, more than the %zu bytes a reply may have (oversized)",
			 hdr->msg_size, p->buf_size);
		return -EPROTO;
	}
	memcpy(p->rx, hdr, sizeof(*hdr));
	ret = ux_recv(p, p->rx + sizeof(*hdr), hdr->msg_size - sizeof(*hdr),
		      rx, deadline, "the reply", why);
	if (ret)
		return ret;
	if (vfiosim_scm_fds_lost(rx)) {
		snprintf(why, UX_WHY_LEN,
			 "malformed reply: more file descriptors than we take (%u)",
			 UX_MAX_FDS);
		return -EPROTO;
	}
	return 0;
}

/* Answer a command from the server with ENOTSUP (unless NO_REPLY). */
static int ux_refuse(struct ux_priv *p, const struct vfiosim_user_header *cmd,
		     long long deadline, char *why)
{
	struct vfiosim_user_header reply = {
		.msg_id = cmd->msg_id,
		.command = cmd->command,
		.msg_size = sizeof(reply),
		.flags = VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR,
		.error_no = ENOTSUP,
	};

	if (cmd->flags & VFIOSIM_USER_F_NO_REPLY)
		return 0;
	return ux_send(p, &reply, sizeof(reply), NULL, 0, deadline, why);
}

/*
 * Send the message of len bytes at p->tx with nfds fds and wait for its
 * reply (msg_id, command).  Returns the reply's payload length and
 * *payload (in p->rx), or -errno with the reason in why.  With fd_out,
 * *fd_out gets the first fd the reply carried (or -1); every other fd is
 * closed.
 */
static ssize_t ux_call(struct vu_client *c, uint16_t command,
		       uint16_t msg_id, size_t len, const void *fds,
		       size_t nfds, const void **payload, int *fd_out,
		       char *why)
{
	struct ux_priv *p = (struct ux_priv *)c;
	struct vfiosim_user_header hdr;
	int rfds[UX_MAX_FDS];
	struct vfiosim_scm_fds rx;
	long long deadline;
	ssize_t n;
	int ret;

	if (fd_out)
		*fd_out = -1;
	if (p->broken) {
		snprintf(why, UX_WHY_LEN, "connection to %s unusable: %s",
			 p->path, p->broken_why);
		return -ENOTCONN;
	}
	vfiosim_scm_fds_init(&rx, rfds, UX_MAX_FDS);
	deadline = now_ms() + p->timeout_ms;
	ret = ux_send(p, p->tx, len, fds, nfds, deadline, why);
	if (ret)
		return ret;
	/*
	 * Until our reply comes: a reply to another msg_id is stale (its
	 * request gave up on it) and is dropped; a command from the server
	 * (DMA_READ/DMA_WRITE, legal after a DMA_MAP without an fd) is
	 * refused with ENOTSUP, since this client serves no memory by message.
	 */
	for (;;) {
		ret = ux_recv_msg(p, &hdr, &rx, deadline, why);
		if (ret)
			goto fail;
		if ((hdr.flags & VFIOSIM_USER_F_TYPE_MASK) ==
		    VFIOSIM_USER_F_TYPE_COMMAND) {
			vfiosim_scm_fds_close(&rx);
			ret = ux_refuse(p, &hdr, deadline, why);
			if (ret)
				return ret;
			continue;
		}
		if (hdr.msg_id == msg_id)
			break;
		vfiosim_scm_fds_close(&rx);
	}
	if (hdr.command != command) {
		/* Ours, but not an answer to it: the real one may never come. */
		n = vfiosim_vu_reply_check(p->rx, hdr.msg_size, msg_id,
					   command, why, UX_WHY_LEN);
		ret = ux_break(p, (int)n, "a reply answered another command");
		goto fail;
	}
	n = vfiosim_vu_reply_check(p->rx, hdr.msg_size, msg_id, command, why,
				   UX_WHY_LEN);
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	if (fd_out && rx.n) {
		*fd_out = rfds[0];
		rfds[0] = -1;
	}
	vfiosim_scm_fds_close(&rx);
	*payload = p->rx + sizeof(hdr);
	return n;

fail:
	vfiosim_scm_fds_close(&rx);
	return ret;
}

/*
 * Send a NO_REPLY message at p->tx: a conforming server sends nothing
 * back, and a reply one sends anyway has a msg_id no later call waits
 * for, so ux_call drops it as stale.
 */
static int ux_post(struct vu_client *c, size_t len, char *why)
{
	struct ux_priv *p = (struct ux_priv *)c;

	if (p->broken) {
		snprintf(why, UX_WHY_LEN, "connection to %s unusable: %s",
			 p->path, p->broken_why);
		return -ENOTCONN;
	}
	return ux_send(p, p->tx, len, NULL, 0, now_ms() + p->timeout_ms, why);
}

/* ---- VERSION ------------------------------------------------------- */

struct ux_caps {
	unsigned long long max_xfer;
	unsigned long long max_fds;
	bool write_multiple;
};

/*
 * A capability that must be an unsigned integer, if present: true, or
 * false with its name in *bad.
 */
static bool ux_cap_uint(json_t *caps, const char *key, unsigned long long *val,
			const char **bad)
{
	json_t *v = json_object_get(caps, key);

	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*bad = key;
		return false;
	}
	*val = (unsigned long long)json_integer_value(v);
	return true;
}

/*
 * Parse a VERSION reply payload (len bytes) into caps.  0, or -EPROTO
 * with why.
 */
int vfiosim_unix_parse_version(const void *payload, size_t len,
			       uint16_t *minor, uint32_t *max_xfer,
			       uint32_t *max_fds, bool *write_multiple,
			       char *why, size_t whylen)
{
	struct vfiosim_user_version v;
	struct ux_caps caps = {
		.max_xfer = UX_XFER_DEFAULT,
		.max_fds = 1,		/* the spec's default */
	};
	const char *data = (const char *)payload + sizeof(v);
	size_t dlen = len - sizeof(v);

	if (len < sizeof(v))
		return vfiosim_fail_buf(why, whylen, EPROTO,
					"malformed VERSION reply: %zu byte payload, shorter than major and minor",
					len);
	memcpy(&v, payload, sizeof(v));
	if (v.major != VFIOSIM_USER_VERSION_MAJOR)
		return vfiosim_fail_buf(why, whylen, EPROTO,
					"server speaks vfio-user %u.%u, we speak %u.x",
					v.major, v.minor,
					VFIOSIM_USER_VERSION_MAJOR);
	if (v.minor > VFIOSIM_USER_VERSION_MINOR)
		return vfiosim_fail_buf(why, whylen, EPROTO,
					"server answered minor version %u to our %u.%u (must not be higher)",
					v.minor, VFIOSIM_USER_VERSION_MAJOR,
					VFIOSIM_USER_VERSION_MINOR);
	if (dlen) {
		const char *nul = memchr(data, '\0', dlen), *bad = NULL;
		json_error_t jerr;
		json_t *root, *c;

		if (!nul)
			return vfiosim_fail_buf(why, whylen, EPROTO,
						"malformed VERSION reply: capabilities JSON not NUL-terminated");
		/* Strict, duplicate keys refused: as the server parses ours. */
		root = json_loadb(data, (size_t)(nul - data),
				  JSON_REJECT_DUPLICATES, &jerr);
		if (!root)
			return vfiosim_fail_buf(why, whylen, EPROTO,
						"malformed VERSION reply: bad JSON at byte %d: %s: %.*s",
						jerr.position, jerr.text,
						(int)(nul - data > 200 ? 200 : nul - data),
						data);
		c = json_object_get(root, "capabilities");
		if (c && !json_is_object(c))
			bad = "capabilities";
		else if (c && (!ux_cap_uint(c, "max_data_xfer_size",
					    &caps.max_xfer, &bad) ||
			       !ux_cap_uint(c, "max_msg_fds", &caps.max_fds,
					    &bad)))
			;
		else if (c && json_object_get(c, "write_multiple") &&
			 !json_is_boolean(json_object_get(c, "write_multiple")))
			bad = "write_multiple";
		else if (c)
			caps.write_multiple =
				json_is_true(json_object_get(c, "write_multiple"));
		json_decref(root);
		if (bad)
			return vfiosim_fail_buf(why, whylen, EPROTO,
						"malformed VERSION reply: bad JSON in %s: %.*s",
						bad,
						(int)(nul - data > 200 ? 200 : nul - data),
						data);
	}
	if (!caps.max_xfer)
		return vfiosim_fail_buf(why, whylen, EPROTO,
					"malformed VERSION reply: max_data_xfer_size 0");
	*minor = v.minor;
	*max_xfer = caps.max_xfer > UX_XFER_CAP ? UX_XFER_CAP :
		    (uint32_t)caps.max_xfer;
	*max_fds = caps.max_fds > UINT32_MAX ? UINT32_MAX :
		   (uint32_t)caps.max_fds;
	*write_multiple = caps.write_multiple;
	return 0;
}

static int ux_alloc_bufs(struct ux_priv *p, size_t payload)
{
	unsigned char *tx, *rx;

	if (payload < UX_MIN_PAYLOAD)
		payload = UX_MIN_PAYLOAD;
	tx = realloc(p->tx, UX_HDR + payload);
	if (!tx)
		return -ENOMEM;
	p->tx = tx;
	p->vc.msg = p->tx;
	rx = realloc(p->rx, UX_HDR + payload);
	if (!rx)
		return -ENOMEM;
	p->rx = rx;
	p->buf_size = UX_HDR + payload;
	p->vc.payload_max = ux_payload_max(p);
	return 0;
}

static int ux_version(struct vfiosim_dev *dev)
{
	struct ux_priv *p = priv(dev);
	struct vfiosim_user_version v = {
		.major = VFIOSIM_USER_VERSION_MAJOR,
		.minor = VFIOSIM_USER_VERSION_MINOR,
	};
	char why[UX_WHY_LEN];
	const void *payload;
	json_t *caps;
	size_t len;
	ssize_t n;
	int ret;

	caps = json_pack("{s:{s:i, s:i, s:b}}", "capabilities",
			 "max_msg_fds", UX_MAX_FDS,
			 "max_data_xfer_size", UX_XFER_CAP, "write_multiple", 1);
	if (!caps)
		return vfiosim_fail(dev, ENOMEM, "VERSION: out of memory");
	memcpy(ux_payload(p), &v, sizeof(v));
	len = json_dumpb(caps, (char *)ux_payload(p) + sizeof(v),
			 ux_payload_max(p) - sizeof(v) - 1,
			 JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(caps);
	if (!len || len >= ux_payload_max(p) - sizeof(v) - 1)
		return vfiosim_fail(dev, ENOBUFS,
				    "VERSION: capabilities do not fit");
	((char *)ux_payload(p))[sizeof(v) + len] = '\0';
	len += sizeof(v) + 1;
	n = vu_client_simple(&p->vc, VFIOSIM_USER_VERSION, len, NULL, 0,
			     &payload, NULL, why);
	if (n < 0)
		return vfiosim_fail(dev, (int)-n, "VERSION: %s", why);
	ret = vfiosim_unix_parse_version(payload, (size_t)n, &p->minor,
					 &p->vc.max_xfer, &p->vc.max_fds,
					 &p->vc.write_multiple, why,
					 sizeof(why));
	if (ret)
		return vfiosim_fail(dev, -ret, "VERSION: %s", why);
	ret = ux_alloc_bufs(p, sizeof(struct vfiosim_user_region_access) +
			    p->vc.max_xfer);
	if (ret)
		return vfiosim_fail(dev, -ret, "buffers for %u byte transfers: %s",
				    p->vc.max_xfer, strerror(-ret));
	return 0;
}

/* ---- open and close ------------------------------------------------ */

/* Read and drop what the server still sends (fds too) until it hangs up. */
static void ux_drain_until_eof(int fd, long long deadline)
{
	struct vfiosim_scm_fds none;
	char sink[256];
	ssize_t n;

	vfiosim_scm_fds_init(&none, NULL, 0);
	for (;;) {
		n = vfiosim_scm_recv(fd, sink, sizeof(sink), &none,
				     MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			if (ux_wait(fd, POLLIN, deadline))
				return;
			continue;
		}
		if (n <= 0)
			return;
	}
}

static void ux_close(struct vfiosim_dev *dev)
{
	struct ux_priv *p = priv(dev);

	if (!p)
		return;
	vu_client_forget_regions(&p->vc);
	/*
	 * The server releases the session when the connection goes.  Say
	 * we are done and wait (briefly) for it to hang up, so that the
	 * device is free when close returns, as after netlink's DEV_CLOSE.
	 */
	if (p->fd >= 0) {
		if (!p->broken && !shutdown(p->fd, SHUT_WR))
			ux_drain_until_eof(p->fd, now_ms() + UX_CLOSE_WAIT_MS);
		close(p->fd);
	}
	free(p->tx);
	free(p->rx);
	pthread_mutex_destroy(&p->vc.lock);
	free(p);
	dev->priv = NULL;
}

static int ux_open(struct vfiosim_dev *dev, const char *target)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ux_priv *p;
	int ret;

	if (strlen(target) >= sizeof(sa.sun_path))
		return vfiosim_fail(dev, ENAMETOOLONG,
				    "socket path is %zu bytes, more than a UNIX socket address holds (%zu)",
				    strlen(target), sizeof(sa.sun_path) - 1);
	p = calloc(1, sizeof(*p));
	if (!p)
		return vfiosim_fail(dev, ENOMEM, "out of memory");
	snprintf(p->path, sizeof(p->path), "%s", target);
	memcpy(sa.sun_path, target, strlen(target));
	vu_client_init(&p->vc);
	p->vc.call = ux_call;
	p->vc.post = ux_post;
	/* SCM_RIGHTS carries open files only: -1 goes as runs of no fds. */
	p->vc.split_irq_runs = true;
	/* vfio-pci has 9 (plus device specific ones); refuse nonsense. */
	p->vc.max_regions = 64;
	p->vc.peer = "server";
	p->fd = -1;
	p->timeout_ms = dev->timeout_ms;
	dev->priv = p;

	/* Room for VERSION; sized for real transfers once negotiated. */
	ret = ux_alloc_bufs(p, UX_SLACK);
	if (ret) {
		vfiosim_fail(dev, ENOMEM, "out of memory");
		goto fail;
	}
	p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		ret = vfiosim_fail(dev, errno, "socket(AF_UNIX): %s",
				   strerror(errno));
		goto fail;
	}
	while ((ret = connect(p->fd, (struct sockaddr *)&sa, sizeof(sa))) &&
	       errno == EINTR)
		;
	if (ret) {
		ret = vfiosim_fail(dev, errno, "connect to %s: %s", p->path,
				   strerror(errno));
		goto fail;
	}
	ret = ux_version(dev);
	if (ret)
		goto fail;
	ret = vu_client_cache_regions(dev);
	if (ret)
		goto fail;
	return 0;

fail:
	ux_close(dev);
	return ret;
}

/* ping is a netlink round trip: left NULL, the core answers -EOPNOTSUPP. */
const struct vfiosim_io_ops vfiosim_unix_ops = {
	.name = "unix",
	.open = ux_open,
	.close = ux_close,
	VU_CLIENT_OPS,
};
