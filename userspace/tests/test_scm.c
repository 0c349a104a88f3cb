// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of the SCM_RIGHTS helper (lib/scm_fds.c) on a
 * socketpair: what the receiver accepts it holds (close-on-exec), every
 * fd beyond that is closed (counted in /proc/self/fd), MSG_CTRUNC is
 * reported, and a send with more fds than the peer takes sends nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scm_fds.h"
#include "tap.h"

/* Open fds of this process, as /proc/self/fd lists them. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* not the directory's own */
}

static void make_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
}

static void close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* Does the received fd reach the same eventfd as the sent one? */
static bool same_file(int sent, int got)
{
	uint64_t v = 7, r = 0;

	return write(sent, &v, sizeof(v)) == sizeof(v) &&
	       read(got, &r, sizeof(r)) == sizeof(r) && r == 7;
}

/*
 * Send n fds with "x", receive with a receiver taking max; the fds sent
 * are closed again, so what stays open is what the receiver holds.
 */
static ssize_t pass(int sp[2], size_t n, size_t max, int *got,
		    struct vfiosim_scm_fds *rx)
{
	int sent[VFIOSIM_SCM_MAX_FDS];
	char c;
	ssize_t r;

	make_fds(sent, n);
	r = vfiosim_scm_send(sp[0], "x", 1, sent, n, VFIOSIM_SCM_MAX_FDS, 0);
	close_all(sent, n);
	if (r != 1)
		return r < 0 ? r : -EIO;
	vfiosim_scm_fds_init(rx, got, max);
	return vfiosim_scm_recv(sp[1], &c, 1, rx, 0);
}

int main(void)
{
	struct tap t = { 0 };
	struct vfiosim_scm_fds rx;
	int sp[2], sent[VFIOSIM_SCM_MAX_FDS + 1], got[4];
	int base, flags;
	char buf[8];
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		perror("socketpair");
		return 1;
	}
	base = open_fds();
	tap_ok(&t, base > 0, "/proc/self/fd lists %d fds", base);

	/* What the receiver takes it holds, close-on-exec, the same files. */
	make_fds(sent, 2);
	r = vfiosim_scm_send(sp[0], "ab", 2, sent, 2, 2, 0);
	tap_int(&t, r, 2, "send: 2 bytes with 2 fds");
	vfiosim_scm_fds_init(&rx, got, 2);
	r = vfiosim_scm_recv(sp[1], buf, sizeof(buf), &rx, 0);
	tap_int(&t, r, 2, "recv: the 2 bytes");
	tap_int(&t, (long long)rx.n, 2, "recv: both fds held");
	tap_int(&t, vfiosim_scm_fds_lost(&rx), 0, "recv: nothing lost");
	flags = rx.n == 2 ? fcntl(got[1], F_GETFD) : -1;
	tap_ok(&t, flags >= 0 && (flags & FD_CLOEXEC),
	       "recv: the fds are close-on-exec (MSG_CMSG_CLOEXEC)");
	tap_ok(&t, rx.n == 2 && same_file(sent[0], got[0]) &&
	       same_file(sent[1], got[1]),
	       "recv: they are the files sent, in order");
	close_all(sent, 2);
	vfiosim_scm_fds_close(&rx);
	tap_int(&t, open_fds(), base, "fds_close closes what was held");

	/* One beyond what the receiver takes: closed, and an error. */
	r = pass(sp, 2, 1, got, &rx);
	tap_int(&t, r, 1, "2 fds to a receiver taking 1: the byte arrives");
	tap_int(&t, (long long)rx.n, 1, "... 1 fd held");
	tap_int(&t, (long long)rx.dropped, 1, "... 1 dropped");
	tap_int(&t, vfiosim_scm_fds_lost(&rx), -EMSGSIZE,
		"... which is an error (EMSGSIZE)");
	tap_int(&t, open_fds(), base + 1, "... and only the held one is open");
	vfiosim_scm_fds_close(&rx);
	tap_int(&t, vfiosim_scm_fds_lost(&rx), 0, "fds_close starts over");

	/* Far more than that: the kernel cuts them (MSG_CTRUNC). */
	r = pass(sp, VFIOSIM_SCM_MAX_FDS, 1, got, &rx);
	tap_int(&t, r, 1, "64 fds to a receiver taking 1: the byte arrives");
	tap_int(&t, (long long)rx.n, 1, "... 1 fd held");
	tap_ok(&t, rx.ctrunc, "... MSG_CTRUNC reported (%zu dropped by us)",
	       rx.dropped);
	tap_int(&t, vfiosim_scm_fds_lost(&rx), -EMSGSIZE,
		"... as an error (EMSGSIZE)");
	tap_int(&t, open_fds(), base + 1, "... and none of the 63 is open");
	vfiosim_scm_fds_close(&rx);

	/* A receiver that takes none. */
	r = pass(sp, 3, 0, NULL, &rx);
	tap_int(&t, r, 1, "3 fds to a receiver taking none: the byte arrives");
	tap_int(&t, vfiosim_scm_fds_lost(&rx), -EMSGSIZE, "... EMSGSIZE");
	tap_int(&t, open_fds(), base, "... and no fd is left open");

	/* One message's fds over two reads: the limit is for them all. */
	make_fds(sent, 2);
	vfiosim_scm_send(sp[0], "h", 1, sent, 1, 1, 0);
	vfiosim_scm_send(sp[0], "b", 1, sent + 1, 1, 1, 0);
	close_all(sent, 2);
	vfiosim_scm_fds_init(&rx, got, 1);
	r = vfiosim_scm_recv(sp[1], buf, 1, &rx, 0);
	tap_ok(&t, r == 1 && rx.n == 1 && !vfiosim_scm_fds_lost(&rx),
	       "a header with 1 fd to a receiver taking 1: held");
	r = vfiosim_scm_recv(sp[1], buf, 1, &rx, 0);
	tap_ok(&t, r == 1 && rx.n == 1 && rx.dropped == 1,
	       "its body with 1 more: that one is dropped");
	tap_int(&t, vfiosim_scm_fds_lost(&rx), -EMSGSIZE,
		"... and the message has lost fds (EMSGSIZE)");
	vfiosim_scm_fds_close(&rx);
	tap_int(&t, open_fds(), base, "... and no fd is left open");

	/* A send with more fds than the peer takes sends nothing. */
	make_fds(sent, VFIOSIM_SCM_MAX_FDS + 1);
	r = vfiosim_scm_send(sp[0], "y", 1, sent, 2, 1, 0);
	tap_int(&t, r, -EMSGSIZE, "send: 2 fds to a peer taking 1: EMSGSIZE");
	r = vfiosim_scm_send(sp[0], "y", 1, sent, VFIOSIM_SCM_MAX_FDS + 1,
			     SIZE_MAX, 0);
	tap_int(&t, r, -EMSGSIZE, "send: 65 fds: EMSGSIZE");
	close_all(sent, VFIOSIM_SCM_MAX_FDS + 1);
	vfiosim_scm_fds_init(&rx, got, 4);
	r = vfiosim_scm_recv(sp[1], buf, 1, &rx, MSG_DONTWAIT);
	tap_int(&t, r, -EAGAIN, "... and nothing was sent (recv: EAGAIN)");

	/* EOF, with fds held from before: they stay the caller's. */
	make_fds(sent, 1);
	vfiosim_scm_send(sp[0], "z", 1, sent, 1, 1, 0);
	close_all(sent, 1);
	vfiosim_scm_recv(sp[1], buf, 1, &rx, 0);
	close(sp[0]);
	r = vfiosim_scm_recv(sp[1], buf, 1, &rx, 0);
	tap_int(&t, r, 0, "the peer closed: 0");
	tap_int(&t, (long long)rx.n, 1, "... the fd held before is still held");
	vfiosim_scm_fds_close(&rx);
	close(sp[1]);
	tap_int(&t, open_fds(), base - 2,
		"at the end only the socketpair is gone");

	return tap_done(&t);
}
