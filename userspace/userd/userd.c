// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfiosim-userd: serve vfiosim devices as vfio-user servers on UNIX
 * sockets, by forwarding every message to the kernel over the "vfiosim"
 * generic netlink family.
 *
 * One process, one poll() loop, no threads.  Each --socket/--device pair
 * is a listener with at most one client.  A client gets its own netlink
 * socket, bound to the device with DEV_OPEN; closing that socket when the
 * client goes away makes the kernel release the device and everything
 * the session held (eventfds, DMA mappings).
 *
 * Messages are framed exactly (header, then msg_size - 16 bytes), so fds
 * passed with a message are never confused with the next one's.  The
 * next message is not read until the previous reply has been sent:
 * messages are answered in order, and a client that does not read its
 * replies only stalls itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "vfiosim_int.h"
#include "vu_server.h"

#define MAX_DEVS	64
#define NL_TX_SIZE	(1024 + VUS_MAX_MSG + VUS_MAX_FDS * 4)
#define NL_RX_SIZE	(VUS_MAX_MSG + 8192)
/* Room for more fds than we take, so that "too many" is seen, not lost. */
#define CMSG_FDS	(2 * VUS_MAX_FDS)

struct conn {
	int fd;				/* -1: no client */
	struct vfiosim_nl nl;
	bool nl_open;
	unsigned long id;
	/* the message being received */
	unsigned char *rx;
	size_t rx_len;			/* bytes so far */
	size_t rx_want;			/* 16, then msg_size */
	int fds[CMSG_FDS];
	size_t nfds;
	bool fds_overflow;
	/* the reply being sent */
	unsigned char *tx;
	size_t tx_len, tx_off;
	int tx_fds[VUS_MAX_FDS];
	size_t tx_nfds;
	bool close_after_tx;
	/* protocol state */
	bool negotiated;
	struct vus_client_caps caps;
};

struct listener {
	const char *path;
	const char *uuid;
	int fd;
	struct conn c;
};

static struct listener devs[MAX_DEVS];
static size_t ndevs;
static unsigned long next_conn_id = 1;
static unsigned char *nl_tx;

__attribute__((format(printf, 2, 3)))
static void ulog(const struct listener *l, const char *fmt, ...)
{
	va_list ap;

	if (l)
		fprintf(stderr, "vfiosim-userd: %s (device %s): ", l->path,
			l->uuid);
	else
		fprintf(stderr, "vfiosim-userd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void close_fds(int *fds, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*n = 0;
}

static void conn_reset_rx(struct conn *c)
{
	close_fds(c->fds, &c->nfds);
	c->fds_overflow = false;
	c->rx_len = 0;
	c->rx_want = VUS_HDR_SIZE;
}

static void conn_close(struct listener *l, const char *why)
{
	struct conn *c = &l->c;

	if (c->fd < 0)
		return;
	ulog(l, "client %lu disconnected (%s)", c->id, why);
	/* Release the device first: a client that sees EOF may reopen it. */
	if (c->nl_open)
		vfiosim_nl_close(&c->nl);	/* the kernel releases the device */
	c->nl_open = false;
	close(c->fd);
	c->fd = -1;
	conn_reset_rx(c);
	close_fds(c->tx_fds, &c->tx_nfds);
	c->tx_len = c->tx_off = 0;
	free(c->rx);
	free(c->tx);
	c->rx = c->tx = NULL;
}

/* DEV_OPEN on the connection's own netlink socket. */
static int dev_open(struct listener *l, char *why, size_t whylen)
{
	struct conn *c = &l->c;
	struct vfiosim_nl_reply r;
	char buf[256];
	struct nlmsghdr *nlh;
	uint32_t seq;
	int ret;

	ret = vfiosim_nl_open(&c->nl, NL_RX_SIZE, why, whylen);
	if (ret)
		return ret;
	c->nl_open = true;
	nlh = vfiosim_nl_request(&c->nl, buf, VFIOSIM_CMD_DEV_OPEN, NLM_F_ACK);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, l->uuid);
	ret = vfiosim_nl_send(&c->nl, nlh, why, whylen);
	if (ret)
		return ret;
	seq = c->nl.seq;
	for (;;) {
		ret = vfiosim_nl_recv(&c->nl, seq, &r, why, whylen);
		if (ret)
			return ret;
		if (!r.is_error) {
			vfiosim_nl_close_fds(&r);
			continue;
		}
		if (!r.error)
			return 0;
		vfiosim_nl_error_text(&r, why, whylen);
		return -r.error;
	}
}

/*
 * Turn a client away with an answer it can act on: its VERSION (always the
 * first message) gets an error reply carrying @err, then we hang up.  The
 * client sends VERSION as soon as it connects, so a short wait is enough.
 */
static void refuse_client(int fd, int err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct vfiosim_user_header hdr, reply = { 0 };

	if (poll(&pfd, 1, 500) <= 0 ||
	    recv(fd, &hdr, sizeof(hdr), MSG_DONTWAIT) != sizeof(hdr))
		return;
	reply.msg_id = hdr.msg_id;
	reply.command = hdr.command;
	reply.msg_size = sizeof(reply);
	reply.flags = VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR;
	reply.error_no = err;
	if (send(fd, &reply, sizeof(reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;	/* the client is gone already: nothing to tell */
}

static void do_accept(struct listener *l)
{
	struct conn *c = &l->c;
	char why[VFIOSIM_ERR_LEN];
	int fd, ret;

	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			ulog(l, "accept: %s", strerror(errno));
		return;
	}
	if (c->fd >= 0) {
		ulog(l, "refused a second client: client %lu is connected",
		     c->id);
		refuse_client(fd, EBUSY);
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->id = next_conn_id++;
	c->rx = malloc(VUS_MAX_MSG);
	c->tx = malloc(VUS_MAX_MSG + 64);
	if (!c->rx || !c->tx) {
		conn_close(l, "out of memory");
		return;
	}
	conn_reset_rx(c);
	ret = dev_open(l, why, sizeof(why));
	if (ret) {
		ulog(l, "client %lu: DEV_OPEN failed: %s", c->id, why);
		refuse_client(c->fd, -ret);
		conn_close(l, "device not available");
		return;
	}
	ulog(l, "client %lu connected", c->id);
}

/* Queue reply bytes (and fds to pass with them) for the client. */
static void queue_reply(struct conn *c, const void *msg, size_t len,
			const int32_t *fds, size_t nfds)
{
	size_t i;

	if (msg != c->tx)
		memcpy(c->tx, msg, len);
	c->tx_len = len;
	c->tx_off = 0;
	for (i = 0; i < nfds && c->tx_nfds < VUS_MAX_FDS; i++)
		c->tx_fds[c->tx_nfds++] = fds[i];
	for (; i < nfds; i++)
		close(fds[i]);
}

/* Try to send what is queued; false when the connection must go. */
static bool flush_tx(struct listener *l)
{
	struct conn *c = &l->c;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUS_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	while (c->tx_off < c->tx_len) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = c->tx + c->tx_off;
		iov.iov_len = c->tx_len - c->tx_off;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (c->tx_nfds) {
			struct cmsghdr *cm;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * c->tx_nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * c->tx_nfds);
			memcpy(CMSG_DATA(cm), c->tx_fds,
			       sizeof(int) * c->tx_nfds);
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			ulog(l, "client %lu: send: %s", c->id,
			     strerror(errno));
			return false;
		}
		/* The fds went with the first byte. */
		close_fds(c->tx_fds, &c->tx_nfds);
		c->tx_off += (size_t)n;
	}
	c->tx_len = c->tx_off = 0;
	return !c->close_after_tx;
}

/* Forward one message to the kernel; queue the reply, if any. */
static void forward(struct listener *l, const struct vfiosim_user_header *hdr)
{
	struct conn *c = &l->c;
	bool no_reply = hdr->flags & VFIOSIM_USER_F_NO_REPLY;
	char why[VFIOSIM_ERR_LEN];
	struct vfiosim_nl_reply r;
	struct vfiosim_user_header rh;
	struct nlmsghdr *nlh;
	int32_t fds[CMSG_FDS];
	size_t i, len;
	int ret, err = 0;

	/* NO_REPLY: the kernel sends nothing, so ask for the ack instead. */
	nlh = vfiosim_nl_request(&c->nl, nl_tx, VFIOSIM_CMD_VFIO_USER,
				 no_reply ? NLM_F_ACK : 0);
	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, l->uuid);
	mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, hdr->msg_size, c->rx);
	if (c->nfds) {
		for (i = 0; i < c->nfds; i++)
			fds[i] = c->fds[i];
		mnl_attr_put(nlh, VFIOSIM_ATTR_FDS, c->nfds * sizeof(int32_t),
			     fds);
	}
	ret = vfiosim_nl_send(&c->nl, nlh, why, sizeof(why));
	if (!ret)
		ret = vfiosim_nl_recv(&c->nl, c->nl.seq, &r, why, sizeof(why));
	/* The kernel has taken its own references by now. */
	close_fds(c->fds, &c->nfds);
	if (ret) {
		ulog(l, "client %lu: %s: %s", c->id,
		     vfiosim_vu_command_name(hdr->command), why);
		err = -ret;
	} else if (r.is_error) {
		if (no_reply && !r.error)
			return;			/* the ack: done */
		if (!r.error) {
			err = EPROTO;
		} else {
			vfiosim_nl_error_text(&r, why, sizeof(why));
			ulog(l, "client %lu: %s: netlink: %s", c->id,
			     vfiosim_vu_command_name(hdr->command), why);
			err = r.error;
		}
	} else {
		/* A data reply; with NO_REPLY the ack follows it. */
		if (!r.msg || r.msg_len < VUS_HDR_SIZE ||
		    r.msg_len > VUS_MAX_MSG + 64) {
			vfiosim_nl_close_fds(&r);
			err = EPROTO;
		} else {
			memcpy(&rh, r.msg, sizeof(rh));
			if (rh.msg_size != r.msg_len) {
				vfiosim_nl_close_fds(&r);
				err = EPROTO;
			}
		}
		if (!err && !no_reply) {
			queue_reply(c, r.msg, r.msg_len, r.fds, r.nfds);
			return;
		}
		if (!err)
			vfiosim_nl_close_fds(&r);
		if (no_reply) {
			/* drain the ack */
			ret = vfiosim_nl_recv(&c->nl, c->nl.seq, &r, why,
					      sizeof(why));
			if (!ret && !r.is_error)
				vfiosim_nl_close_fds(&r);
			return;
		}
	}
	if (no_reply) {
		ulog(l, "client %lu: %s (no reply requested): %s", c->id,
		     vfiosim_vu_command_name(hdr->command), strerror(err));
		return;
	}
	len = vus_build_reply(c->tx, VUS_MAX_MSG, hdr, err, NULL, 0);
	queue_reply(c, c->tx, len, NULL, 0);
}

/* A whole message is in c->rx (and its fds in c->fds). */
static void handle_message(struct listener *l)
{
	struct conn *c = &l->c;
	struct vfiosim_user_header hdr;
	bool was_negotiated = c->negotiated;
	enum vus_action act;
	size_t out_len;

	memcpy(&hdr, c->rx, sizeof(hdr));
	act = vus_handle(c->rx, c->rx_len,
			 c->fds_overflow ? VUS_MAX_FDS + 1 : c->nfds,
			 &c->negotiated, &c->caps, c->tx, VUS_MAX_MSG,
			 &out_len);
	switch (act) {
	case VUS_FORWARD:
		forward(l, &hdr);
		break;
	case VUS_REPLY_CLOSE:
		c->close_after_tx = true;
		ulog(l, "client %lu: %s rejected (%s), closing", c->id,
		     vfiosim_vu_command_name(hdr.command),
		     hdr.command == VFIOSIM_USER_VERSION ?
		     "bad VERSION" : "VERSION must come first");
		/* fallthrough */
	case VUS_REPLY:
		if (hdr.command == VFIOSIM_USER_VERSION && act == VUS_REPLY &&
		    !was_negotiated)
			ulog(l, "client %lu: negotiated version %u.%u", c->id,
			     VFIOSIM_USER_VERSION_MAJOR,
			     c->caps.minor < VFIOSIM_USER_VERSION_MINOR ?
			     c->caps.minor : VFIOSIM_USER_VERSION_MINOR);
		queue_reply(c, c->tx, out_len, NULL, 0);
		break;
	case VUS_DROP:
		ulog(l, "client %lu: ignored a message that is not a command",
		     c->id);
		break;
	}
	conn_reset_rx(c);
}

/* Read what the client has; false when the connection must go. */
static bool read_client(struct listener *l, unsigned int *budget)
{
	struct conn *c = &l->c;
	union {
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS)];
		struct cmsghdr align;
	} u;
	struct vfiosim_user_header hdr;
	struct cmsghdr *cm;
	struct iovec iov;
	struct msghdr mh;
	size_t i, n_in;
	ssize_t n;

	/* Only until the reply to the last message is out. */
	while (!c->tx_len) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = c->rx + c->rx_len;
		iov.iov_len = c->rx_want - c->rx_len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			ulog(l, "client %lu: receive: %s", c->id,
			     strerror(errno));
			return false;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			n_in = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < n_in; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(fd));
				if (c->nfds < CMSG_FDS)
					c->fds[c->nfds++] = fd;
				else
					close(fd);
				if (c->nfds > VUS_MAX_FDS)
					c->fds_overflow = true;
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			c->fds_overflow = true;
		if (n == 0) {
			if (c->rx_len)
				ulog(l, "client %lu: disconnected mid-message (%zu of %zu bytes)",
				     c->id, c->rx_len, c->rx_want);
			return false;
		}
		c->rx_len += (size_t)n;
		if (c->rx_len < c->rx_want)
			continue;
		if (c->rx_want == VUS_HDR_SIZE) {
			if (vus_check_header(c->rx, c->rx_len, &hdr)) {
				ulog(l, "client %lu: bad msg_size %u, closing",
				     c->id, hdr.msg_size);
				queue_reply(c, c->tx,
					    vus_build_reply(c->tx, VUS_MAX_MSG,
							    &hdr, EINVAL, NULL,
							    0), NULL, 0);
				c->close_after_tx = true;
				return true;
			}
			c->rx_want = hdr.msg_size;
			if (c->rx_len < c->rx_want)
				continue;
		}
		handle_message(l);
		/* Let the other clients have a turn now and then. */
		if (++*budget >= 64)
			return true;
	}
	return true;
}

/* Send what is pending, read what can be read, until one of them stalls. */
static void service(struct listener *l)
{
	struct conn *c = &l->c;
	unsigned int budget = 0;

	while (c->fd >= 0) {
		if (c->tx_len) {
			if (!flush_tx(l)) {
				conn_close(l, c->close_after_tx ?
					   "protocol error" : "send failed");
				return;
			}
			if (c->tx_len)
				return;		/* wait for POLLOUT */
		}
		if (budget >= 64)
			return;
		if (!read_client(l, &budget)) {
			conn_close(l, "client closed the connection");
			return;
		}
		if (!c->tx_len)
			return;			/* wait for POLLIN */
	}
}

/* Is something listening on path?  1 yes, 0 no (stale), -errno. */
static int socket_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (!ret)
		ret = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		ret = 0;
	else
		ret = -errno;
	close(fd);
	return ret;
}

static int listen_on(struct listener *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (strlen(l->path) >= sizeof(sa.sun_path)) {
		ulog(l, "socket path too long");
		return -1;
	}
	/*
	 * Bind a temporary name and rename it into place once listening, so
	 * that a client which sees the path never gets ECONNREFUSED.
	 */
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d.tmp", l->path,
		     (int)getpid()) >= (int)sizeof(sa.sun_path)) {
		ulog(l, "socket path too long");
		return -1;
	}
	unlink(sa.sun_path);
	if (!lstat(l->path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			ulog(l, "exists and is not a socket; refusing to start");
			return -1;
		}
		ret = socket_live(l->path);
		if (ret) {
			ulog(l, "%s; refusing to start",
			     ret > 0 ? "a server is already listening there" :
			     strerror(-ret));
			return -1;
		}
		ulog(l, "removing stale socket");
		if (unlink(l->path) && errno != ENOENT) {
			ulog(l, "unlink: %s", strerror(errno));
			return -1;
		}
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0) {
		ulog(l, "socket: %s", strerror(errno));
		return -1;
	}
	/* 0600 whatever the umask: before bind (no window) and after. */
	if (fchmod(l->fd, 0600) ||
	    bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(sa.sun_path, 0600) || listen(l->fd, 4) ||
	    rename(sa.sun_path, l->path)) {
		ulog(l, "bind/listen: %s", strerror(errno));
		unlink(sa.sun_path);
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	fprintf(stderr, "vfiosim-userd: listening on %s (device %s)\n",
		l->path, l->uuid);
	return 0;
}

static void cleanup(void)
{
	size_t i;

	for (i = 0; i < ndevs; i++) {
		conn_close(&devs[i], "shutting down");
		if (devs[i].fd >= 0) {
			close(devs[i].fd);
			unlink(devs[i].path);
			devs[i].fd = -1;
		}
	}
	free(nl_tx);
	nl_tx = NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfiosim-userd --socket PATH --device UUID [--socket PATH --device UUID]...\n"
		"Serve each vfiosim device as a vfio-user server on its UNIX socket.\n");
}

static bool uuid_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pollfd pfd[1 + 2 * MAX_DEVS];
	size_t nsock = 0, ndev = 0, i, np;
	struct signalfd_siginfo si;
	sigset_t mask;
	int opt, sfd, status = 0;

	while ((opt = getopt_long(argc, argv, "s:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (nsock >= MAX_DEVS || nsock != ndev) {
				usage(stderr);
				return 2;
			}
			devs[nsock++].path = optarg;
			break;
		case 'd':
			if (ndev >= MAX_DEVS || ndev + 1 != nsock) {
				usage(stderr);
				return 2;
			}
			if (!uuid_ok(optarg)) {
				fprintf(stderr, "vfiosim-userd: bad UUID '%s'\n",
					optarg);
				return 2;
			}
			devs[ndev++].uuid = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !nsock || nsock != ndev) {
		usage(stderr);
		return 2;
	}
	ndevs = nsock;
	for (i = 0; i < ndevs; i++) {
		devs[i].fd = -1;
		devs[i].c.fd = -1;
		for (np = 0; np < i; np++)
			if (!strcmp(devs[np].path, devs[i].path)) {
				fprintf(stderr, "vfiosim-userd: %s given twice\n",
					devs[i].path);
				return 2;
			}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		perror("vfiosim-userd: sigprocmask");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("vfiosim-userd: signalfd");
		return 1;
	}
	nl_tx = malloc(NL_TX_SIZE);
	if (!nl_tx) {
		close(sfd);
		return 1;
	}
	for (i = 0; i < ndevs; i++) {
		if (listen_on(&devs[i])) {
			cleanup();
			close(sfd);
			return 1;
		}
	}

	for (;;) {
		np = 0;
		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (i = 0; i < ndevs; i++) {
			struct conn *c = &devs[i].c;

			pfd[np++] = (struct pollfd){ .fd = devs[i].fd,
						     .events = POLLIN };
			pfd[np++] = (struct pollfd){
				.fd = c->fd,	/* -1 is ignored */
				.events = c->tx_len ? POLLOUT : POLLIN,
			};
		}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("vfiosim-userd: poll");
			status = 1;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				ulog(NULL, "%s, shutting down",
				     strsignal((int)si.ssi_signo));
				break;
			}
		}
		for (i = 0; i < ndevs; i++) {
			struct pollfd *lp = &pfd[1 + 2 * i];
			struct pollfd *cp = lp + 1;

			if (cp->fd >= 0 && cp->fd == devs[i].c.fd &&
			    cp->revents)
				service(&devs[i]);
			if (lp->revents & POLLIN)
				do_accept(&devs[i]);
		}
	}
	cleanup();
	close(sfd);
	return status;
}
