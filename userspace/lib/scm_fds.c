// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SCM_RIGHTS send and receive, shared by everything in userspace/ that
 * passes fds over a UNIX socket; see scm_fds.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scm_fds.h"

/* Room for every fd a send may carry, and one to see a surplus by. */
union scm_ctl {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * (VFIOSIM_SCM_MAX_FDS + 1))];
};

ssize_t vfiosim_scm_send(int sock, const void *buf, size_t len,
			 const int *fds, size_t nfds, size_t max_fds,
			 int flags)
{
	union scm_ctl ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > max_fds || nfds > VFIOSIM_SCM_MAX_FDS)
		return -EMSGSIZE;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

void vfiosim_scm_fds_init(struct vfiosim_scm_fds *s, int *fds, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->fds = fds;
	s->max = fds ? max : 0;
}

/* Keep what s has room for, close the rest. */
static void scm_take(struct vfiosim_scm_fds *s, struct msghdr *mh)
{
	struct cmsghdr *c;
	size_t i, k;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (s->n < s->max) {
				s->fds[s->n++] = fd;
			} else {
				close(fd);
				s->dropped++;
			}
		}
	}
}

ssize_t vfiosim_scm_recv(int sock, void *buf, size_t len,
			 struct vfiosim_scm_fds *s, int flags)
{
	union scm_ctl ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t room = s->max - s->n;
	ssize_t n;

	/* Only what is still wanted, plus one: a surplus is seen, not cut. */
	if (room > VFIOSIM_SCM_MAX_FDS)
		room = VFIOSIM_SCM_MAX_FDS;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (room + 1));
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	scm_take(s, &mh);
	if (mh.msg_flags & MSG_CTRUNC)
		s->ctrunc = true;
	return n;
}

int vfiosim_scm_fds_lost(const struct vfiosim_scm_fds *s)
{
	return s->dropped || s->ctrunc ? -EMSGSIZE : 0;
}

void vfiosim_scm_fds_close(struct vfiosim_scm_fds *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	s->n = 0;
	s->dropped = 0;
	s->ctrunc = false;
}
