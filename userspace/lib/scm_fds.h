/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File descriptors over a UNIX stream socket (SCM_RIGHTS), once: the
 * unix backend, vfiosim-userd, its conformance client and the host tests
 * all pass fds through these.  Internal (built hidden, not in vfiosim.h).
 *
 * Each call is one sendmsg or one recvmsg; framing, polling and deadlines
 * stay with the caller.  On a stream the fds travel with the first byte
 * of the send that carried them, so a caller that sends a message in
 * pieces passes the fds with the first piece only.
 */
#ifndef VFIOSIM_SCM_FDS_H
#define VFIOSIM_SCM_FDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The most fds one send may carry (the kernel's own limit is 253). */
#define VFIOSIM_SCM_MAX_FDS	64

/*
 * One sendmsg(flags | MSG_NOSIGNAL) of len bytes at buf, with nfds fds
 * (none when 0) attached.  Returns the bytes sent, the fds with them, or
 * -errno (EINTR is retried, EAGAIN returned).  More fds than max_fds (what
 * the peer said it takes) or than VFIOSIM_SCM_MAX_FDS: -EMSGSIZE and
 * nothing is sent, since a message must never arrive with fewer fds than
 * it names.  The fds stay the caller's to close.
 */
ssize_t vfiosim_scm_send(int sock, const void *buf, size_t len,
			 const int *fds, size_t nfds, size_t max_fds,
			 int flags);

/*
 * The fds received for one message, over however many recvmsg calls it
 * takes: the caller's array fds, room for max, n of them held.
 */
struct vfiosim_scm_fds {
	int *fds;
	size_t max;		/* what the caller accepts (0: none) */
	size_t n;		/* held in fds[0..n) */
	size_t dropped;		/* arrived beyond max: closed at once */
	bool ctrunc;		/* the kernel cut the control data */
};

/* Start collecting into fds (room for max; NULL when max is 0). */
void vfiosim_scm_fds_init(struct vfiosim_scm_fds *s, int *fds, size_t max);

/*
 * One recvmsg(flags | MSG_CMSG_CLOEXEC) of up to len bytes into buf.
 * Every SCM_RIGHTS fd is appended to s while it has room; each beyond
 * that is closed and counted in s->dropped, and MSG_CTRUNC (more than
 * even that arrived: the kernel closed the rest) sets s->ctrunc, so no fd
 * is ever leaked or silently lost.  Returns the bytes received (0: the
 * peer closed), which count even when fds were lost (the stream moved
 * on), or -errno (EINTR retried, EAGAIN returned).
 */
ssize_t vfiosim_scm_recv(int sock, void *buf, size_t len,
			 struct vfiosim_scm_fds *s, int flags);

/*
 * Were fds lost (beyond max, or cut by the kernel) since init or the last
 * vfiosim_scm_fds_close?  -EMSGSIZE, else 0: a message that came with
 * more fds than the receiver takes is an error, never a shorter list.
 */
int vfiosim_scm_fds_lost(const struct vfiosim_scm_fds *s);

/* Close the held fds (-1 entries skipped) and start over. */
void vfiosim_scm_fds_close(struct vfiosim_scm_fds *s);

#endif /* VFIOSIM_SCM_FDS_H */
