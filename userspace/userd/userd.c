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
 *
 * Nothing a client does blocks the loop.  The device is claimed (DEV_OPEN)
 * only once the client's VERSION is good, and a client that has not
 * finished its VERSION, or a message it started, within --timeout-ms is
 * dropped.  A connection that finds the socket busy waits in the poll set,
 * with a deadline, for its VERSION to be answered with EBUSY.  Per
 * connection, log lines a client can provoke are rate limited.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/vfiosim.h>

#include "fault.h"
#include "scm_fds.h"
#include "vfiosim_int.h"
#include "vu_server.h"

#define MAX_DEVS	64
#define NL_TX_SIZE	(1024 + VUS_MAX_MSG + VUS_MAX_FDS * 4)
#define NL_RX_SIZE	(VUS_MAX_MSG + 8192)
/* A message's fds (the scm helper keeps VUS_MAX_FDS, counts the rest). */
#define CMSG_FDS	(2 * VUS_MAX_FDS)
/* Connections being turned away at once, per socket; more are closed. */
#define REFUSE_MAX	8
/* How long a turned-away connection has to send its VERSION. */
#define REFUSE_MS	500
#define DEF_TIMEOUT_MS	5000
/* After accept() ran out of fds: that socket waits this long. */
#define ACCEPT_BACKOFF_MS 100
/* Log lines a connection (or a socket's accept errors) may cause a second. */
#define LOG_BURST	10
#define LISTEN_BACKLOG	64
/*
 * Before sleeping in poll(), how long to keep retrying the sockets of the
 * connected clients (non-blocking receives): a client that sends its next
 * message within that time finds us awake, and neither side pays a
 * wakeup.  --spin-us.  Off by default: under TCG, where make bench
 * measures, it gained nothing (see userspace/bench/README.md); natively
 * it cuts the p99 of a round trip.
 */
#ifndef DEF_SPIN_US
#define DEF_SPIN_US	0
#endif
#define MAX_SPIN_US	10000
/* systemd socket activation: the first passed fd. */
#define SD_LISTEN_FDS_START 3

/* At most LOG_BURST lines a second; the rest are counted, then said. */
struct ratelimit {
	uint64_t start;		/* ms, of the current second */
	unsigned int lines;
	unsigned long dropped;
};

/* A connection that found the socket busy, waiting for its VERSION. */
struct refusal {
	int fd;
	int err;
	uint64_t deadline;	/* ms */
};

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
	bool fault_cut;			/* close_after_tx for a fault knob */
	uint64_t tx_not_before;		/* ms: a fault knob holds the reply */
	/* protocol state */
	bool negotiated;
	struct vus_client_caps caps;
	/* VERSION, or the message begun, must be done by then (ms); 0: none */
	uint64_t deadline;
	struct ratelimit rl;
};

struct listener {
	const char *path;
	const char *uuid;
	int fd;
	bool activated;			/* fd from systemd (LISTEN_FDS) */
	int lock_fd;			/* flock on PATH.lock, held */
	dev_t sock_dev;			/* the socket file we made */
	ino_t sock_ino;
	uint64_t backoff_until;		/* ms: accept() ran out of fds */
	/*
	 * Clients coming and going (connect, VERSION, disconnect, refusals,
	 * accept errors): one budget per socket, so that reconnecting in a
	 * loop cannot flood the log either.
	 */
	struct ratelimit conn_rl;
	struct refusal refusals[REFUSE_MAX];
	size_t nrefusals;
	struct conn c;
	struct userd_faults faults;
};

static struct listener devs[MAX_DEVS];
static size_t ndevs;
static unsigned long next_conn_id = 1;
static unsigned char *nl_tx;
static unsigned int timeout_ms = DEF_TIMEOUT_MS;
static unsigned int spin_us = DEF_SPIN_US;
static mode_t sock_mode = 0600;
static gid_t sock_gid = (gid_t)-1;
static struct uf_ctl ctl = { .fd = -1 };

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* One line on stderr, in one write, naming the socket and the device. */
__attribute__((format(printf, 2, 3)))
static void ulog(const struct listener *l, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = 0;

	if (l)
		n = snprintf(line, sizeof(line), "vfiosim-userd: %s (device %s): ",
			     l->path, l->uuid);
	else
		n = snprintf(line, sizeof(line), "vfiosim-userd: ");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

/*
 * May a line be logged now?  When a new second starts after lines were
 * dropped, *dropped says how many (the caller reports them).
 */
static bool rl_allow(struct ratelimit *rl, unsigned long *dropped)
{
	uint64_t now = now_ms();

	*dropped = 0;
	if (now - rl->start >= 1000) {
		*dropped = rl->dropped;
		rl->start = now;
		rl->lines = 0;
		rl->dropped = 0;
	}
	if (rl->lines < LOG_BURST) {
		rl->lines++;
		return true;
	}
	rl->dropped++;
	return false;
}

/*
 * A line someone else can provoke at will: at most LOG_BURST a second.
 * False if this one was dropped.
 */
__attribute__((format(printf, 3, 4)))
static bool rl_log(struct listener *l, struct ratelimit *rl,
		   const char *fmt, ...)
{
	unsigned long dropped;
	char line[512];
	va_list ap;

	if (!rl_allow(rl, &dropped))
		return false;
	if (dropped)
		ulog(l, "(%lu similar lines suppressed)", dropped);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ulog(l, "%s", line);
	return true;
}

/* What a connected client provokes, limited per connection. */
#define clog(l, fmt, ...) \
	rl_log((l), &(l)->c.rl, "client %lu: " fmt, (l)->c.id, ##__VA_ARGS__)
/* A connection's coming and going, limited per socket. */
#define slog(l, fmt, ...) rl_log((l), &(l)->conn_rl, fmt, ##__VA_ARGS__)

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
	if (c->rl.dropped) {
		/* Dropped too: the socket's next note counts its lines. */
		if (!slog(l, "client %lu disconnected (%s; %lu of its lines suppressed)",
			  c->id, why, c->rl.dropped))
			l->conn_rl.dropped += c->rl.dropped;
	} else {
		slog(l, "client %lu disconnected (%s)", c->id, why);
	}
	/* Release the device first: a client that sees EOF may reopen it. */
	if (c->nl_open)
		vfiosim_nl_close(&c->nl);	/* the kernel releases the device */
	c->nl_open = false;
	close(c->fd);
	c->fd = -1;
	conn_reset_rx(c);
	close_fds(c->tx_fds, &c->tx_nfds);
	c->tx_len = c->tx_off = 0;
	c->tx_not_before = 0;
	c->close_after_tx = c->fault_cut = false;
	free(c->rx);
	free(c->tx);
	c->rx = c->tx = NULL;
}

/* DEV_OPEN on the connection's own netlink socket, as the library does. */
static int dev_open(struct listener *l, char *why, size_t whylen)
{
	struct conn *c = &l->c;
	int ret;

	ret = vfiosim_nl_dev_open(&c->nl, NL_RX_SIZE, l->uuid, why, whylen);
	c->nl_open = !ret;
	return ret;
}

/*
 * Turn a client away with an answer it can act on: its VERSION (always the
 * first message) gets an error reply carrying the errno, then we hang up.
 * The connection waits for that in the poll set, never in a blocking call.
 */
static void refusal_add(struct listener *l, int fd, int err)
{
	struct refusal *r;

	if (l->nrefusals == REFUSE_MAX) {
		close(fd);		/* EOF is all a flood gets */
		return;
	}
	r = &l->refusals[l->nrefusals++];
	r->fd = fd;
	r->err = err;
	r->deadline = now_ms() + REFUSE_MS;
}

static void refusal_drop(struct listener *l, size_t i)
{
	close(l->refusals[i].fd);
	l->refusals[i] = l->refusals[--l->nrefusals];
}

/* Its VERSION header has come (or it hung up): answer it, close it. */
static void refusal_answer(struct listener *l, size_t i)
{
	struct refusal *r = &l->refusals[i];
	struct vfiosim_user_header hdr, reply = { 0 };
	char rest[512];

	if (recv(r->fd, &hdr, sizeof(hdr), MSG_DONTWAIT) == sizeof(hdr)) {
		/* Unread data would turn our close into ECONNRESET. */
		(void)!recv(r->fd, rest, sizeof(rest), MSG_DONTWAIT);
		reply.msg_id = hdr.msg_id;
		reply.command = hdr.command;
		reply.msg_size = sizeof(reply);
		reply.flags = VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR;
		reply.error_no = (uint32_t)r->err;
		/* A client already gone needs no answer. */
		(void)!send(r->fd, &reply, sizeof(reply),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	refusal_drop(l, i);
}

/* Out of fds or memory: stop polling that socket for a while. */
static void accept_error(struct listener *l, int err)
{
	bool backoff = err == EMFILE || err == ENFILE || err == ENOBUFS ||
		       err == ENOMEM;

	if (backoff)
		l->backoff_until = now_ms() + ACCEPT_BACKOFF_MS;
	rl_log(l, &l->conn_rl, "accept: %s%s", strerror(err),
	       backoff ? " (not accepting for 100 ms)" : "");
}

static void do_accept(struct listener *l)
{
	struct conn *c = &l->c;
	int fd;

	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			accept_error(l, errno);
		return;
	}
	if (c->fd >= 0) {
		rl_log(l, &l->conn_rl,
		       "refused a second client: client %lu is connected",
		       c->id);
		refusal_add(l, fd, EBUSY);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->id = next_conn_id++;
	c->deadline = now_ms() + timeout_ms;	/* for its VERSION */
	c->rx = malloc(VUS_MAX_MSG);
	c->tx = malloc(VUS_MAX_MSG + 64);
	if (!c->rx || !c->tx) {
		conn_close(l, "out of memory");
		return;
	}
	conn_reset_rx(c);
	slog(l, "client %lu connected", c->id);
}

/* The device's fault knobs, on the reply just queued. */
static void apply_faults(struct listener *l)
{
	struct conn *c = &l->c;
	struct uf_action act;

	uf_apply(&l->faults, c->tx, c->tx_len, &act);
	if (act.delay_ms) {
		c->tx_not_before = now_ms() + act.delay_ms;
		clog(l, "fault: reply held %llu ms",
		     (unsigned long long)act.delay_ms);
	}
	if (act.wrong_id)
		clog(l, "fault: reply sent with a wrong msg_id");
	if (act.cut_len) {
		clog(l, "fault: reply cut after %zu of %zu bytes, closing",
		     act.cut_len, c->tx_len);
		c->tx_len = act.cut_len;
		c->close_after_tx = c->fault_cut = true;
	}
}

/* Is the queued reply held back by a fault knob? */
static bool tx_held(const struct conn *c, uint64_t now)
{
	return c->tx_len && c->tx_not_before > now;
}

/*
 * Queue reply bytes (and fds to pass with them) for the client.  A reply
 * is never sent with fewer fds than it names: with more than the client
 * takes (its max_msg_fds) it becomes an EMSGSIZE error reply.
 */
static void queue_reply(struct listener *l, const void *msg, size_t len,
			const int32_t *fds, size_t nfds)
{
	struct conn *c = &l->c;
	struct vfiosim_user_header rh;
	size_t i, refused;

	memcpy(&rh, msg, sizeof(rh));
	refused = vus_reply_fds_refuse(msg, nfds, &c->caps, c->tx,
				       VUS_MAX_MSG);
	if (refused) {
		clog(l, "%s reply has %zu fds, the client takes %llu: EMSGSIZE",
		     vfiosim_vu_command_name(rh.command), nfds,
		     (unsigned long long)c->caps.max_msg_fds);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		len = refused;
		msg = c->tx;
		nfds = 0;
	}
	if (msg != c->tx)
		memcpy(c->tx, msg, len);
	c->tx_len = len;
	c->tx_off = 0;
	for (i = 0; i < nfds; i++)
		c->tx_fds[c->tx_nfds++] = fds[i];
	apply_faults(l);
}

/* Try to send what is queued; false when the connection must go. */
static bool flush_tx(struct listener *l)
{
	struct conn *c = &l->c;
	ssize_t n;

	while (c->tx_off < c->tx_len) {
		/* queue_reply made sure the client takes them all. */
		n = vfiosim_scm_send(c->fd, c->tx + c->tx_off,
				     c->tx_len - c->tx_off, c->tx_fds,
				     c->tx_nfds, c->caps.max_msg_fds,
				     MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return true;
		if (n < 0) {
			slog(l, "client %lu: send: %s", c->id,
			     strerror((int)-n));
			return false;
		}
		/* The fds went with the first byte. */
		close_fds(c->tx_fds, &c->tx_nfds);
		c->tx_off += (size_t)n;
	}
	c->tx_len = c->tx_off = 0;
	c->tx_not_before = 0;
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
		clog(l, "%s: %s", vfiosim_vu_command_name(hdr->command), why);
		err = -ret;
	} else if (r.is_error) {
		if (no_reply && !r.error)
			return;			/* the ack: done */
		if (!r.error) {
			err = EPROTO;
		} else {
			vfiosim_nl_error_text(&r, why, sizeof(why));
			clog(l, "%s: netlink: %s",
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
			queue_reply(l, r.msg, r.msg_len, r.fds, r.nfds);
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
		clog(l, "%s (no reply requested): %s",
		     vfiosim_vu_command_name(hdr->command), strerror(err));
		return;
	}
	len = vus_build_reply(c->tx, VUS_MAX_MSG, hdr, err, NULL, 0);
	queue_reply(l, c->tx, len, NULL, 0);
}

/*
 * The client's first good VERSION: claim the device now, not at accept,
 * so that a connection that never speaks holds nothing, then let the
 * kernel answer it, so that the limits the client learns are those of
 * the module it talks to.  If the device cannot be had, the VERSION gets
 * that error and we hang up.
 */
static void claim_device(struct listener *l,
			 const struct vfiosim_user_header *hdr)
{
	struct conn *c = &l->c;
	char why[VFIOSIM_ERR_LEN];
	int ret;

	ret = dev_open(l, why, sizeof(why));
	if (!ret) {
		slog(l, "client %lu: VERSION %u.%u, device open", c->id,
		     c->caps.major, c->caps.minor);
		forward(l, hdr);
		return;
	}
	slog(l, "client %lu: cannot open the device: %s", c->id, why);
	if (c->nl_open)
		vfiosim_nl_close(&c->nl);
	c->nl_open = false;
	c->negotiated = false;
	c->close_after_tx = true;
	queue_reply(l, c->tx, vus_build_reply(c->tx, VUS_MAX_MSG, hdr, -ret,
					      NULL, 0), NULL, 0);
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
		if (!was_negotiated)
			claim_device(l, &hdr);
		else
			forward(l, &hdr);
		break;
	case VUS_REPLY_CLOSE:
		c->close_after_tx = true;
		slog(l, "client %lu: %s rejected (%s), closing", c->id,
		     vfiosim_vu_command_name(hdr.command),
		     hdr.command == VFIOSIM_USER_VERSION ?
		     "bad VERSION" : "VERSION must come first");
		/* fallthrough */
	case VUS_REPLY:
		queue_reply(l, c->tx, out_len, NULL, 0);
		break;
	case VUS_DROP:
		clog(l, "ignored a message that is not a command");
		break;
	}
	conn_reset_rx(c);
	c->deadline = c->negotiated ? 0 : c->deadline;
}

/* Read what the client has; false when the connection must go. */
static bool read_client(struct listener *l, unsigned int *budget)
{
	struct conn *c = &l->c;
	struct vfiosim_user_header hdr;
	struct vfiosim_scm_fds rx;
	ssize_t n;

	/* Only until the reply to the last message is out. */
	while (!c->tx_len) {
		/* This message's fds so far; beyond VUS_MAX_FDS: refused. */
		vfiosim_scm_fds_init(&rx, c->fds, VUS_MAX_FDS);
		rx.n = c->nfds;
		n = vfiosim_scm_recv(c->fd, c->rx + c->rx_len,
				     c->rx_want - c->rx_len, &rx, MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return true;
		if (n < 0) {
			slog(l, "client %lu: receive: %s", c->id,
			     strerror((int)-n));
			return false;
		}
		c->nfds = rx.n;
		if (vfiosim_scm_fds_lost(&rx))
			c->fds_overflow = true;
		if (n == 0) {
			if (c->rx_len)
				slog(l, "client %lu: disconnected mid-message (%zu of %zu bytes)",
				     c->id, c->rx_len, c->rx_want);
			return false;
		}
		/* A message begun must be finished in time, VERSION or not. */
		if (!c->rx_len && !c->deadline)
			c->deadline = now_ms() + timeout_ms;
		c->rx_len += (size_t)n;
		if (c->rx_len < c->rx_want)
			continue;
		if (c->rx_want == VUS_HDR_SIZE) {
			int err = -vus_check_header(c->rx, c->rx_len, &hdr);

			if (err) {
				if (err == E2BIG)
					slog(l, "client %lu: msg_size %u over the limit of %zu: E2BIG, closing",
					     c->id, hdr.msg_size,
					     (size_t)VUS_MAX_MSG);
				else
					slog(l, "client %lu: msg_size %u below the header: EINVAL, closing",
					     c->id, hdr.msg_size);
				queue_reply(l, c->tx,
					    vus_build_reply(c->tx, VUS_MAX_MSG,
							    &hdr, err, NULL,
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

/*
 * Send what is pending, read what can be read, until one of them stalls.
 * True when anything happened (a message handled, bytes read, the
 * connection closed), false when the client had nothing for us.
 */
static bool service(struct listener *l)
{
	struct conn *c = &l->c;
	unsigned int budget = 0;
	size_t rx_len = c->rx_len;
	bool sent = false;

	while (c->fd >= 0) {
		if (tx_held(c, now_ms()))
			return true;		/* expire() sends it */
		if (c->tx_len) {
			sent = true;
			if (!flush_tx(l)) {
				conn_close(l, c->fault_cut ?
					   "fault knob close_mid_message" :
					   c->close_after_tx ?
					   "protocol error" : "send failed");
				return true;
			}
			if (c->tx_len)
				return true;	/* wait for POLLOUT */
		}
		if (budget >= 64)
			return true;
		if (!read_client(l, &budget)) {
			conn_close(l, "client closed the connection");
			return true;
		}
		if (!c->tx_len)			/* wait for POLLIN */
			return sent || budget || c->rx_len != rx_len;
	}
	return true;
}

/* A client we are waiting on for bytes, with nothing of ours pending. */
static bool conn_waiting(const struct conn *c)
{
	return c->fd >= 0 && !c->tx_len;
}

/*
 * The bounded spin before poll(): retry every waiting client's socket,
 * without blocking, for up to spin_us.  True as soon as one had
 * something (it has been served); the caller then polls without
 * sleeping, so the other sockets, the signals and the control socket
 * still get their turn after every message.
 */
static bool spin(void)
{
	uint64_t end = 0;
	size_t i;
	bool any;

	if (!spin_us)
		return false;
	do {
		any = false;
		for (i = 0; i < ndevs; i++) {
			struct listener *l = &devs[i];

			if (!conn_waiting(&l->c))
				continue;
			any = true;
			if (service(l))
				return true;
		}
		if (!any)
			return false;
		if (!end)
			end = now_us() + spin_us;
		/*
		 * A client on this CPU, woken by our reply, gets it: spinning
		 * must not hold up the very process we wait for.
		 */
		sched_yield();
	} while (now_us() < end);
	return false;
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

/*
 * PATH.lock, held with flock() for as long as we serve PATH: a second
 * instance started at the same moment cannot race the stale check, the
 * unlink and the rename.
 */
static int lock_path(struct listener *l)
{
	char lock[PATH_MAX];

	snprintf(lock, sizeof(lock), "%s.lock", l->path);
	l->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->lock_fd < 0) {
		ulog(l, "%s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB)) {
		ulog(l, "%s: %s; refusing to start", lock,
		     errno == EWOULDBLOCK ?
		     "another vfiosim-userd serves this socket" :
		     strerror(errno));
		close(l->lock_fd);
		l->lock_fd = -1;
		return -1;
	}
	return 0;
}

/* Mode and group of the socket file, from --mode and --group. */
static int set_perms(struct listener *l, const char *file)
{
	if (chmod(file, sock_mode) ||
	    (sock_gid != (gid_t)-1 && chown(file, (uid_t)-1, sock_gid))) {
		ulog(l, "%s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
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
	if (lock_path(l))
		return -1;
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
	/* Private until bound (no window), then --mode/--group. */
	if (fchmod(l->fd, 0600) ||
	    bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    set_perms(l, sa.sun_path) || listen(l->fd, LISTEN_BACKLOG) ||
	    lstat(sa.sun_path, &st) || rename(sa.sun_path, l->path)) {
		ulog(l, "bind/listen: %s", strerror(errno));
		unlink(sa.sun_path);
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	l->sock_dev = st.st_dev;
	l->sock_ino = st.st_ino;
	fprintf(stderr, "vfiosim-userd: listening on %s (device %s)\n",
		l->path, l->uuid);
	return 0;
}

/*
 * systemd socket activation: LISTEN_FDS sockets from fd 3, one per
 * --socket in order, each a listening AF_UNIX stream socket bound to its
 * PATH.  0: not activated; 1: activated; -1: a mismatch (said).
 */
static int take_activated(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t len;
	size_t i;
	int type;

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	if (strtoul(fds, NULL, 10) != ndevs) {
		ulog(NULL, "LISTEN_FDS=%s, but %zu --socket given", fds, ndevs);
		return -1;
	}
	for (i = 0; i < ndevs; i++) {
		struct listener *l = &devs[i];
		int fd = SD_LISTEN_FDS_START + (int)i;

		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) ||
		    type != SOCK_STREAM) {
			ulog(l, "passed fd %d is not a stream socket", fd);
			return -1;
		}
		len = sizeof(sa);
		if (getsockname(fd, (struct sockaddr *)&sa, &len) ||
		    sa.sun_family != AF_UNIX ||
		    strncmp(sa.sun_path, l->path, sizeof(sa.sun_path))) {
			ulog(l, "passed fd %d is not bound to this path", fd);
			return -1;
		}
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
			ulog(l, "fd %d: %s", fd, strerror(errno));
			return -1;
		}
		l->fd = fd;
		l->activated = true;
		fprintf(stderr, "vfiosim-userd: listening on %s (device %s, socket from systemd)\n",
			l->path, l->uuid);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 1;
}

/* Remove our socket file, unless a successor has put its own there. */
static void unlink_ours(const struct listener *l)
{
	struct stat st;

	if (!lstat(l->path, &st) && st.st_dev == l->sock_dev &&
	    st.st_ino == l->sock_ino)
		unlink(l->path);
}

static void cleanup(void)
{
	size_t i;

	for (i = 0; i < ndevs; i++) {
		struct listener *l = &devs[i];

		conn_close(l, "shutting down");
		if (l->conn_rl.dropped)
			ulog(l, "(%lu similar lines suppressed)",
			     l->conn_rl.dropped);
		while (l->nrefusals)
			refusal_drop(l, 0);
		if (l->fd >= 0) {
			close(l->fd);
			if (!l->activated)
				unlink_ours(l);
			l->fd = -1;
		}
		if (l->lock_fd >= 0) {
			close(l->lock_fd);
			l->lock_fd = -1;
		}
	}
	uf_ctl_close(&ctl);
	free(nl_tx);
	nl_tx = NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfiosim-userd [--timeout-ms MS] [--mode MODE] [--group GROUP]\n"
		"                     [--control PATH] [--spin-us US]\n"
		"                     --socket PATH --device UUID [--socket PATH --device UUID]...\n"
		"Serve each vfiosim device as a vfio-user server on its UNIX socket.\n"
		"  --timeout-ms  a client must finish its VERSION, and each message it\n"
		"                starts, within MS (default %u)\n"
		"  --mode        octal mode of the socket files (default 0600)\n"
		"  --group       group of the socket files (a name or a number)\n"
		"  --control     fault knobs: a control socket at PATH (see README.md)\n"
		"  --spin-us     before sleeping, retry the clients' sockets for US\n"
		"                microseconds (default %u, 0: off, at most %u)\n"
		"Socket activation: with LISTEN_FDS (systemd), the passed sockets are\n"
		"used, in the order of --socket.\n", DEF_TIMEOUT_MS, DEF_SPIN_US,
		MAX_SPIN_US);
}

/* Whole-string unsigned number in base, at most max. */
static bool parse_uint(const char *s, int base, unsigned long max,
		       unsigned long *val)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*val = strtoul(s, &end, base);
	return !errno && !*end && *val <= max;
}

static bool parse_group(const char *s, gid_t *gid)
{
	struct group *gr;
	unsigned long v;

	if (parse_uint(s, 10, (gid_t)-2, &v)) {
		*gid = (gid_t)v;
		return true;
	}
	gr = getgrnam(s);
	if (!gr)
		return false;
	*gid = gr->gr_gid;
	return true;
}

/* Clients and refusals need fds: use all the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			ulog(NULL, "setrlimit(RLIMIT_NOFILE): %s",
			     strerror(errno));
	}
}

/* The soonest deadline of any connection, refusal or back-off, or -1. */
static int poll_timeout(void)
{
	uint64_t now = now_ms(), soonest = UINT64_MAX;
	size_t i, j;

	for (i = 0; i < ndevs; i++) {
		const struct listener *l = &devs[i];

		if (l->c.fd >= 0 && l->c.deadline && l->c.deadline < soonest)
			soonest = l->c.deadline;
		if (l->c.fd >= 0 && tx_held(&l->c, 0) &&
		    l->c.tx_not_before < soonest)
			soonest = l->c.tx_not_before;
		for (j = 0; j < l->nrefusals; j++)
			if (l->refusals[j].deadline < soonest)
				soonest = l->refusals[j].deadline;
		if (l->backoff_until && l->backoff_until < soonest)
			soonest = l->backoff_until;
	}
	if (uf_ctl_deadline(&ctl) < soonest)
		soonest = uf_ctl_deadline(&ctl);
	if (soonest == UINT64_MAX)
		return -1;
	return soonest <= now ? 0 : (int)(soonest - now);
}

/* Drop what ran out of time; end back-offs that are over. */
static void expire(struct listener *l)
{
	uint64_t now = now_ms();
	size_t j;

	if (l->c.fd >= 0 && l->c.deadline && l->c.deadline <= now) {
		slog(l, "client %lu: %s within %u ms, dropping it", l->c.id,
		     l->c.negotiated ? "message not finished" :
		     "no VERSION", timeout_ms);
		conn_close(l, "timed out");
	}
	/* A reply a fault knob held is due. */
	if (l->c.fd >= 0 && l->c.tx_not_before && !tx_held(&l->c, now))
		service(l);
	for (j = l->nrefusals; j-- > 0;)
		if (l->refusals[j].deadline <= now)
			refusal_drop(l, j);
	if (l->backoff_until && l->backoff_until <= now)
		l->backoff_until = 0;
}

/* The control socket names devices by UUID. */
static struct userd_faults *faults_of(const char *uuid, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < ndevs; i++)
		if (!strcasecmp(devs[i].uuid, uuid))
			return &devs[i].faults;
	return NULL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "control", required_argument, NULL, 'c' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char uuid[VFIOSIM_UUID_LEN + 1], why[VFIOSIM_ERR_LEN];
	size_t nsock = 0, ndev = 0, i, j;
	unsigned long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:d:t:m:g:c:S:h", opts,
				  NULL)) != -1) {
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
			if (vfiosim_uuid_check(optarg, uuid, why,
					       sizeof(why))) {
				fprintf(stderr, "vfiosim-userd: --device: %s\n",
					why);
				return 2;
			}
			devs[ndev++].uuid = optarg;
			break;
		case 't':
			if (!parse_uint(optarg, 10, 3600000, &v) || !v) {
				fprintf(stderr, "vfiosim-userd: bad --timeout-ms '%s' (1..3600000)\n",
					optarg);
				return 2;
			}
			timeout_ms = (unsigned int)v;
			break;
		case 'm':
			if (!parse_uint(optarg, 8, 0777, &v)) {
				fprintf(stderr, "vfiosim-userd: bad --mode '%s' (octal, e.g. 0660)\n",
					optarg);
				return 2;
			}
			sock_mode = (mode_t)v;
			break;
		case 'g':
			if (!parse_group(optarg, &sock_gid)) {
				fprintf(stderr, "vfiosim-userd: unknown --group '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			ctl.path = optarg;
			break;
		case 'S':
			if (!parse_uint(optarg, 10, MAX_SPIN_US, &v)) {
				fprintf(stderr, "vfiosim-userd: bad --spin-us '%s' (0..%u)\n",
					optarg, MAX_SPIN_US);
				return 2;
			}
			spin_us = (unsigned int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
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
		devs[i].lock_fd = -1;
		devs[i].c.fd = -1;
		for (j = 0; j < i; j++)
			if (!strcmp(devs[j].path, devs[i].path)) {
				fprintf(stderr, "vfiosim-userd: %s given twice\n",
					devs[i].path);
				return 2;
			}
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* signalfd, per device: listener, client, refusals; control */
	struct pollfd pfd[1 + (2 + REFUSE_MAX) * MAX_DEVS + UF_CTL_POLLFDS];
	struct signalfd_siginfo si;
	size_t i, j, np;
	sigset_t mask;
	int sfd, status, activated;
	bool busy;

	status = parse_args(argc, argv);
	if (status)
		return status;
	raise_fd_limit();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
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
	activated = take_activated();
	for (i = 0; !activated && i < ndevs; i++)
		if (listen_on(&devs[i]))
			activated = -1;
	ctl.lookup = faults_of;
	if (activated >= 0 && ctl.path && uf_ctl_listen(&ctl, sock_mode))
		activated = -1;
	if (activated < 0) {
		cleanup();
		close(sfd);
		return 1;
	}

	for (;;) {
		/* A client served while spinning: look at the rest, no sleep. */
		busy = spin();
		np = 0;
		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (i = 0; i < ndevs; i++) {
			struct listener *l = &devs[i];
			struct conn *c = &l->c;

			/* -1 is ignored: a socket backing off, no client */
			pfd[np++] = (struct pollfd){
				.fd = l->backoff_until ? -1 : l->fd,
				.events = POLLIN,
			};
			/* -1 too while a fault knob holds its reply */
			pfd[np++] = (struct pollfd){
				.fd = tx_held(c, now_ms()) ? -1 : c->fd,
				.events = c->tx_len ? POLLOUT : POLLIN,
			};
			for (j = 0; j < REFUSE_MAX; j++)
				pfd[np++] = (struct pollfd){
					.fd = j < l->nrefusals ?
					      l->refusals[j].fd : -1,
					.events = POLLIN,
				};
		}
		/* poll() refuses more entries than RLIMIT_NOFILE: add only when used */
		if (ctl.path) {
			uf_ctl_pollfds(&ctl, &pfd[np]);
			np += UF_CTL_POLLFDS;
		}
		if (poll(pfd, np, busy ? 0 : poll_timeout()) < 0) {
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
			struct listener *l = &devs[i];
			struct pollfd *lp = &pfd[1 + (2 + REFUSE_MAX) * i];
			struct pollfd *cp = lp + 1, *rp = lp + 2;

			if (cp->fd >= 0 && cp->fd == l->c.fd && cp->revents)
				service(l);
			/* Backwards: answering one moves the last into it. */
			for (j = REFUSE_MAX; j-- > 0;)
				if (rp[j].fd >= 0 && j < l->nrefusals &&
				    rp[j].fd == l->refusals[j].fd &&
				    rp[j].revents)
					refusal_answer(l, j);
			if (lp->fd >= 0 && (lp->revents & POLLIN))
				do_accept(l);
			expire(l);
		}
		if (ctl.path)
			uf_ctl_service(&ctl, &pfd[np - UF_CTL_POLLFDS],
				       now_ms());
	}
	cleanup();
	close(sfd);
	return status;
}
