// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfiosim-userd-conformance SOCKET: a raw vfio-user client (written from
 * QEMU's docs/interop/vfio-user.rst, no libvfiosim but for its SCM_RIGHTS
 * helper, lib/scm_fds.c) that checks a vfio-user server backed by a
 * vfiosim device.  TAP on stdout, last line "N passed, N failed".  Exit 0
 * when everything passed.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/vfiosim.h>

#include "scm_fds.h"
#include "tap.h"

#define HDR	sizeof(struct vfiosim_user_header)
#define BUFSZ	(HDR + 16 + VFIOSIM_USER_MAX_DATA_XFER + 4096)
#define TIMEOUT_MS 5000

static const char *sock_path;
static unsigned char rbuf[BUFSZ];
static int rfds[8];
static int nrfds;
static uint16_t next_id = 100;

/* The one TAP producer of the host tests (tests/tap.h). */
static struct tap tap;
#define ok(...)	tap_ok(&tap, __VA_ARGS__)

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int connect_sock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_raw(int fd, const void *buf, size_t len, const int *fds,
		    size_t nfds)
{
	const unsigned char *p = buf;
	size_t done = 0;
	ssize_t n;

	/* The fds go with the first piece, the rest without. */
	while (done < len) {
		n = vfiosim_scm_send(fd, p + done, len - done,
				     done ? NULL : fds, done ? 0 : nfds,
				     VFIOSIM_SCM_MAX_FDS, 0);
		if (n < 0)
			return (int)n;
		done += (size_t)n;
	}
	return 0;
}

static size_t build(void *buf, uint16_t id, uint16_t cmd, uint32_t flags,
		    const void *payload, size_t len)
{
	struct vfiosim_user_header h = {
		.msg_id = id, .command = cmd,
		.msg_size = (uint32_t)(HDR + len), .flags = flags,
	};

	memcpy(buf, &h, HDR);
	if (len)
		memcpy((unsigned char *)buf + HDR, payload, len);
	return HDR + len;
}

static void close_rfds(void)
{
	for (int i = 0; i < nrfds; i++)
		close(rfds[i]);
	nrfds = 0;
}

/*
 * Read exactly len bytes, keeping up to 8 fds in rfds; 1 ok, 0 EOF, -1
 * timeout/error, or more fds than a client taking 8 accepts.
 */
static int read_exact(int fd, unsigned char *p, size_t len, int timeout_ms)
{
	struct vfiosim_scm_fds rx;
	size_t got = 0;
	int lost;

	vfiosim_scm_fds_init(&rx, rfds, 8);
	rx.n = (size_t)nrfds;
	while (got < len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = vfiosim_scm_recv(fd, p + got, len - got, &rx, 0);
		nrfds = (int)rx.n;
		lost = vfiosim_scm_fds_lost(&rx);
		if (lost) {
			diag("a message came with more fds than the 8 we take (%zu dropped%s)",
			     rx.dropped, rx.ctrunc ? ", more cut" : "");
			return -1;
		}
		if (n < 0)
			return n == -ECONNRESET ? 0 : -1;
		if (n == 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

/* One message into rbuf; its size, 0 on EOF, -1 on timeout/garbage. */
static ssize_t recv_msg(int fd, int timeout_ms)
{
	struct vfiosim_user_header h;
	int r;

	close_rfds();
	r = read_exact(fd, rbuf, HDR, timeout_ms);
	if (r <= 0)
		return r;
	memcpy(&h, rbuf, HDR);
	if (h.msg_size < HDR || h.msg_size > BUFSZ)
		return -1;
	r = read_exact(fd, rbuf + HDR, h.msg_size - HDR, timeout_ms);
	if (r <= 0)
		return r ? r : -1;
	return h.msg_size;
}

static struct vfiosim_user_header rhdr(void)
{
	struct vfiosim_user_header h;

	memcpy(&h, rbuf, HDR);
	return h;
}

/* Does the server close the connection (EOF) within the timeout? */
static bool closed_by_peer(int fd)
{
	unsigned char b[64];
	struct pollfd pfd = { fd, POLLIN, 0 };

	for (;;) {
		if (poll(&pfd, 1, TIMEOUT_MS) <= 0)
			return false;
		ssize_t n = recv(fd, b, sizeof(b), 0);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

/* A call: send, wait for the reply; payload length, or -errno of an
 * error reply, or -1000 for no/malformed reply. */
static ssize_t call(int fd, uint16_t cmd, const void *p, size_t len,
		    const int *fds, size_t nfds)
{
	static unsigned char sbuf[BUFSZ];
	uint16_t id = next_id++;
	struct vfiosim_user_header h;
	ssize_t n;

	if (send_raw(fd, sbuf, build(sbuf, id, cmd, 0, p, len), fds, nfds))
		return -1000;
	n = recv_msg(fd, TIMEOUT_MS);
	if (n <= 0)
		return -1000;
	h = rhdr();
	if (h.msg_id != id || h.command != cmd ||
	    (h.flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_REPLY) {
		diag("reply id %u cmd %u flags 0x%x to id %u cmd %u", h.msg_id,
		     h.command, h.flags, id, cmd);
		return -1000;
	}
	if (h.flags & VFIOSIM_USER_F_ERROR)
		return h.error_no ? -(ssize_t)h.error_no : -1000;
	return n - (ssize_t)HDR;
}

static ssize_t version_call(int fd, uint16_t major, uint16_t minor,
			    const void *json, size_t jlen)
{
	unsigned char p[1024];
	struct vfiosim_user_version v = { major, minor };

	memcpy(p, &v, sizeof(v));
	memcpy(p + sizeof(v), json, jlen);
	return call(fd, VFIOSIM_USER_VERSION, p, sizeof(v) + jlen, NULL, 0);
}

#define STD_JSON "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}"

/* Connect and negotiate (retrying while the last client is released). */
static int session(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int fd = connect_sock();

		if (fd >= 0 &&
		    version_call(fd, 0, 1, STD_JSON, sizeof(STD_JSON)) > 0)
			return fd;
		if (fd >= 0)
			close(fd);
		usleep(100 * 1000);
	}
	return -1;
}

static ssize_t region_rw(int fd, bool write, uint32_t region, uint64_t off,
			 void *data, uint32_t count)
{
	unsigned char p[HDR + 16 + 64];
	struct vfiosim_user_region_access a = { off, region, count };
	ssize_t n;

	memcpy(p, &a, sizeof(a));
	if (write)
		memcpy(p + sizeof(a), data, count);
	n = call(fd, write ? VFIOSIM_USER_REGION_WRITE :
		 VFIOSIM_USER_REGION_READ, p, sizeof(a) + (write ? count : 0),
		 NULL, 0);
	if (n >= 0 && !write) {
		if ((size_t)n != sizeof(a) + count)
			return -1000;
		memcpy(data, rbuf + HDR + sizeof(a), count);
	}
	return n;
}

static uint32_t rd32(int fd, uint64_t off, ssize_t *ret)
{
	uint32_t v = 0xdeadbeef;

	*ret = region_rw(fd, false, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4);
	return v;
}

static void t_version(void)
{
	const char bad_json[] = "{\"capabilities\":{\"max_msg_fds\":}";
	const char nonul[] = "{\"capabilities\":{}}";
	const char unknown[] = "{\"capabilities\":{\"frobnicate\":[1,{\"x\":null}],\"max_msg_fds\":4},\"vendor\":\"x\"}";
	struct vfiosim_user_version v;
	unsigned char buf[64];
	ssize_t n;
	int fd;

	fd = session();
	ok(fd >= 0, "version: connect and negotiate");
	if (fd >= 0)
		close(fd);

	fd = session();
	close(fd);
	fd = connect_sock();
	n = version_call(fd, 1, 0, "{}", 3);
	ok(n == -ENOTSUP, "version: major 1 gets an error reply (%zd)", n);
	ok(closed_by_peer(fd), "version: ... and the connection is closed");
	close(fd);

	fd = connect_sock();
	n = version_call(fd, 0, 1, bad_json, sizeof(bad_json));
	ok(n == -EINVAL, "version: bad JSON gets EINVAL (%zd)", n);
	ok(closed_by_peer(fd), "version: ... and the connection is closed");
	close(fd);

	fd = connect_sock();
	n = version_call(fd, 0, 1, nonul, strlen(nonul));
	ok(n == -EINVAL, "version: JSON without NUL gets EINVAL (%zd)", n);
	ok(closed_by_peer(fd), "version: ... and the connection is closed");
	close(fd);

	fd = connect_sock();
	n = version_call(fd, 0, 1, unknown, sizeof(unknown));
	ok(n > 0, "version: unknown capabilities are ignored (%zd)", n);
	close(fd);

	fd = connect_sock();
	n = version_call(fd, 0, 42, STD_JSON, sizeof(STD_JSON));
	memcpy(&v, rbuf + HDR, sizeof(v));
	ok(n > (ssize_t)sizeof(v) && v.major == 0 && v.minor == 1,
	   "version: client minor 42 gets our 0.1 (%u.%u)", v.major, v.minor);
	{
		const char *j = (const char *)rbuf + HDR + sizeof(v);
		size_t jl = (size_t)n - sizeof(v);
		char pgsizes[32];

		ok(n > 0 && j[jl - 1] == '\0' && strlen(j) == jl - 1,
		   "version: reply JSON is NUL-terminated");
		snprintf(pgsizes, sizeof(pgsizes), "\"pgsizes\":%ld",
			 sysconf(_SC_PAGESIZE));
		ok(n > 0 && strstr(j, "\"max_data_xfer_size\":32768") &&
		   strstr(j, "\"max_msg_fds\":16") &&
		   strstr(j, pgsizes) &&
		   strstr(j, "\"write_multiple\":true"),
		   "version: reply capabilities (%s)", n > 0 ? j : "");
	}
	n = version_call(fd, 0, 1, STD_JSON, sizeof(STD_JSON));
	ok(n == -EINVAL, "version: a second VERSION gets EINVAL (%zd)", n);
	close(fd);

	fd = connect_sock();
	n = version_call(fd, 0, 0, "", 0);
	ok(n >= (ssize_t)sizeof(v), "version: no JSON at all is accepted");
	close(fd);

	fd = connect_sock();
	n = call(fd, VFIOSIM_USER_DEVICE_GET_INFO, buf, 4, NULL, 0);
	ok(n == -EINVAL, "version: a command before VERSION gets EINVAL (%zd)",
	   n);
	ok(closed_by_peer(fd), "version: ... and the connection is closed");
	close(fd);
}

static void t_sizes(int fd)
{
	unsigned char p[256] = { 0 };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	ssize_t n;

	n = call(fd, VFIOSIM_USER_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0);
	memcpy(&di, rbuf + HDR, sizeof(di));
	ok(n >= 16 && n <= (ssize_t)sizeof(di) &&
	   di.num_regions >= VFIO_PCI_NUM_REGIONS &&
	   di.num_irqs >= VFIO_PCI_NUM_IRQS,
	   "get_info: %u regions, %u irqs", di.num_regions, di.num_irqs);
	n = call(fd, VFIOSIM_USER_DEVICE_GET_INFO, p, 2, NULL, 0);
	ok(n == -EINVAL, "get_info: 2-byte payload gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DEVICE_GET_REGION_INFO, &ri, 8, NULL, 0);
	ok(n == -EINVAL, "region_info: 8-byte payload gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DEVICE_GET_IRQ_INFO, &ii, 4, NULL, 0);
	ok(n == -EINVAL, "irq_info: 4-byte payload gets EINVAL (%zd)", n);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	n = call(fd, VFIOSIM_USER_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii), NULL, 0);
	memcpy(&ii, rbuf + HDR, sizeof(ii));
	ok(n == sizeof(ii) && ii.count >= 4, "irq_info: MSI-X has %u vectors",
	   ii.count);
	n = call(fd, VFIOSIM_USER_REGION_READ, p, 8, NULL, 0);
	ok(n == -EINVAL, "region_read: 8-byte payload gets EINVAL (%zd)", n);
	{
		struct vfiosim_user_region_access a = { VFIOSIM_REG_SCRATCH(0),
			VFIO_PCI_BAR0_REGION_INDEX, 4 };

		memcpy(p, &a, sizeof(a));
		n = call(fd, VFIOSIM_USER_REGION_WRITE, p, sizeof(a) + 2,
			 NULL, 0);
		ok(n == -EINVAL,
		   "region_write: 2 data bytes for count 4 gets EINVAL (%zd)",
		   n);
	}
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, 12, NULL, 0);
	ok(n == -EINVAL, "set_irqs: 12-byte payload gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_MAP, p, 16, NULL, 0);
	ok(n == -EINVAL, "dma_map: 16-byte payload gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_UNMAP, p, 8, NULL, 0);
	ok(n == -EINVAL, "dma_unmap: 8-byte payload gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DEVICE_RESET, p, 4, NULL, 0);
	ok(n == -EINVAL, "reset: a payload gets EINVAL (%zd)", n);
	n = call(fd, 200, NULL, 0, NULL, 0);
	ok(n < 0 && n != -1000, "unknown command 200 gets an error reply (%zd)",
	   n);
}

static void t_region(int fd)
{
	ssize_t n, n2;
	uint32_t v = 0;
	struct vfiosim_user_region_access a = { 0, VFIO_PCI_BAR2_REGION_INDEX,
		VFIOSIM_USER_MAX_DATA_XFER + 1 };

	v = rd32(fd, VFIOSIM_REG_ID, &n);
	ok(n == 20 && v == VFIOSIM_ID_MAGIC, "region_read: BAR0 ID 0x%x", v);
	v = 0x12345678;
	n = region_rw(fd, true, VFIO_PCI_BAR0_REGION_INDEX,
		      VFIOSIM_REG_SCRATCH(1), &v, 4);
	v = rd32(fd, VFIOSIM_REG_SCRATCH(1), &n2);
	ok(n == 16 && n2 == 20 && v == 0x12345678,
	   "region_write then read back SCRATCH1 (0x%x)", v);
	n = call(fd, VFIOSIM_USER_REGION_READ, &a, sizeof(a), NULL, 0);
	ok(n == -EINVAL, "region_read: %u bytes > max_data_xfer_size gets EINVAL (%zd)",
	   a.count, n);
	a.count = VFIOSIM_USER_MAX_DATA_XFER;
	n = call(fd, VFIOSIM_USER_REGION_READ, &a, sizeof(a), NULL, 0);
	ok(n == (ssize_t)(sizeof(a) + a.count),
	   "region_read: exactly max_data_xfer_size of BAR2 (%zd)", n);
}

static void t_no_reply(int fd)
{
	unsigned char m[HDR + 32];
	struct vfiosim_user_region_access a = { VFIOSIM_REG_SCRATCH(2),
		VFIO_PCI_BAR0_REGION_INDEX, 4 };
	uint32_t v = 0xa5a55a5a;
	size_t len;
	ssize_t n;

	memcpy(m + HDR, &a, sizeof(a));
	memcpy(m + HDR + sizeof(a), &v, 4);
	memcpy(m, m + HDR, 0);
	len = build(m, next_id++, VFIOSIM_USER_REGION_WRITE,
		    VFIOSIM_USER_F_NO_REPLY, m + HDR, sizeof(a) + 4);
	send_raw(fd, m, len, NULL, 0);
	n = recv_msg(fd, 300);
	ok(n == -1, "no_reply: REGION_WRITE with NO_REPLY gets no reply");
	v = rd32(fd, VFIOSIM_REG_SCRATCH(2), &n);
	ok(n == 20 && v == 0xa5a55a5a,
	   "no_reply: its effect is visible (0x%x)", v);
}

static void t_pipeline(int fd)
{
	static unsigned char m[8 * (HDR + 16)];
	struct vfiosim_user_region_access a = { 0, VFIO_PCI_BAR0_REGION_INDEX,
		4 };
	size_t len = 0;
	bool order = true;
	int i;

	for (i = 0; i < 8; i++) {
		uint32_t v = 0x1000 + (uint32_t)i;
		ssize_t n;

		n = region_rw(fd, true, VFIO_PCI_BAR0_REGION_INDEX,
			      VFIOSIM_REG_SCRATCH(i), &v, 4);
		if (n != 16)
			order = false;
	}
	for (i = 0; i < 8; i++) {
		a.offset = VFIOSIM_REG_SCRATCH(i);
		len += build(m + len, (uint16_t)(5000 + i),
			     VFIOSIM_USER_REGION_READ, 0, &a, sizeof(a));
	}
	send_raw(fd, m, len, NULL, 0);
	for (i = 0; i < 8; i++) {
		ssize_t n = recv_msg(fd, TIMEOUT_MS);
		uint32_t v;

		memcpy(&v, rbuf + HDR + 16, 4);
		if (n != HDR + 20 || rhdr().msg_id != 5000 + i ||
		    v != 0x1000u + (uint32_t)i) {
			diag("reply %d: size %zd id %u value 0x%x", i, n,
			     rhdr().msg_id, v);
			order = false;
		}
	}
	ok(order, "pipeline: 8 reads in one write answered in order");
}

static void t_irqs(int fd)
{
	unsigned char p[64];
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 2,
	};
	int efd[40], i;
	uint32_t db = 1;
	uint64_t cnt = 0;
	ssize_t n;
	struct pollfd pfd;

	for (i = 0; i < 40; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memcpy(p, &s, sizeof(s));
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd, 1);
	ok(n == -EINVAL, "set_irqs: count 2 with 1 fd gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd, 3);
	ok(n == -EINVAL, "set_irqs: count 2 with 3 fds gets EINVAL (%zd)", n);
	/* QEMU takes at most 16 (VFIO_USER_MAX_MAX_FDS), so we offer 16. */
	s.count = VFIOSIM_USER_MAX_MSG_FDS + 1;
	memcpy(p, &s, sizeof(s));
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd,
		 VFIOSIM_USER_MAX_MSG_FDS + 1);
	ok(n == -EINVAL, "set_irqs: 17 fds (> max_msg_fds) get EINVAL (%zd)",
	   n);
	s.count = 2;
	memcpy(p, &s, sizeof(s));
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd, 2);
	ok(n == 0, "set_irqs: MSI-X vectors 0-1 with 2 eventfds (%zd)", n);
	n = region_rw(fd, true, VFIO_PCI_BAR0_REGION_INDEX,
		      VFIOSIM_REG_DOORBELL, &db, 4);
	pfd = (struct pollfd){ efd[1], POLLIN, 0 };
	ok(n == 16 && poll(&pfd, 1, TIMEOUT_MS) == 1 &&
	   read(efd[1], &cnt, 8) == 8 && cnt == 1,
	   "set_irqs: doorbell 1 signals the second eventfd");
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), NULL, 0);
	ok(n == 0, "set_irqs: no fds de-assigns the range (%zd)", n);
	/* As QEMU sends more vectors than max_msg_fds: a chunk at start 2. */
	s.start = 2;
	memcpy(p, &s, sizeof(s));
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd + 2, 2);
	db = 3;
	region_rw(fd, true, VFIO_PCI_BAR0_REGION_INDEX, VFIOSIM_REG_DOORBELL,
		  &db, 4);
	pfd = (struct pollfd){ efd[3], POLLIN, 0 };
	ok(n == 0 && poll(&pfd, 1, TIMEOUT_MS) == 1 &&
	   read(efd[3], &cnt, 8) == 8 && cnt == 1,
	   "set_irqs: a chunk at start 2; doorbell 3 signals its second fd (%zd)",
	   n);
	s.start = 0;
	s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	s.count = 0;
	memcpy(p, &s, sizeof(s));
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), efd, 1);
	ok(n == -EINVAL, "set_irqs: an fd with DATA_NONE gets EINVAL (%zd)", n);
	n = call(fd, VFIOSIM_USER_DEVICE_SET_IRQS, p, sizeof(s), NULL, 0);
	ok(n == 0, "set_irqs: DATA_NONE count 0 disables MSI-X (%zd)", n);
	for (i = 0; i < 40; i++)
		close(efd[i]);
}

static void t_dma(int fd)
{
	struct vfiosim_user_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ |
					     VFIO_DMA_MAP_FLAG_WRITE,
		.offset = 0, .addr = 0x100000, .size = 0x10000,
	};
	struct vfiosim_user_dma_unmap u = {
		.argsz = sizeof(u), .addr = 0x100000, .size = 0x10000,
	};
	int mfd = memfd_create("conformance-dma", MFD_CLOEXEC);
	ssize_t n;

	ok(mfd >= 0 && !ftruncate(mfd, 0x10000), "dma: memfd of 64 KiB");
	n = call(fd, VFIOSIM_USER_DMA_MAP, &m, sizeof(m), &mfd, 1);
	ok(n >= 0, "dma_map: memfd at IOVA 0x100000 (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_MAP, &m, sizeof(m), &mfd, 1);
	ok(n < 0 && n != -1000, "dma_map: the same range again fails (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	ok(n >= 0, "dma_unmap: the mapping (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	/* as the type1 IOMMU: a range with nothing in it is no error */
	ok(n >= 0, "dma_unmap: again succeeds, as type1 (%zd)", n);
	n = call(fd, VFIOSIM_USER_DMA_MAP, &m, sizeof(m), &mfd, 1);
	ok(n >= 0, "dma_map: again, left for the disconnect to release (%zd)",
	   n);
	close(mfd);
}

static void t_mmap(int fd)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri),
				       .index = VFIO_PCI_BAR2_REGION_INDEX };
	uint32_t need;
	ssize_t n;
	int mfd;
	void *p;
	uint32_t v = 0;

	/*
	 * QEMU asks with argsz 32 first, refuses FLAG_CAPS with a cap_offset
	 * outside the reply, and asks again when argsz grew.
	 */
	n = call(fd, VFIOSIM_USER_DEVICE_GET_REGION_INFO, &ri, sizeof(ri),
		 NULL, 0);
	memcpy(&ri, rbuf + HDR, sizeof(ri));
	close_rfds();
	need = ri.argsz;
	ok(n == (ssize_t)sizeof(ri) && need > sizeof(ri) &&
	   !(ri.flags & VFIO_REGION_INFO_FLAG_CAPS) && !ri.cap_offset,
	   "region_info: argsz 32 gets argsz %u, no FLAG_CAPS, cap_offset 0 (flags 0x%x, %zd bytes)",
	   need, ri.flags, n);
	ri = (struct vfio_region_info){ .argsz = need,
					.index = VFIO_PCI_BAR2_REGION_INDEX };
	n = call(fd, VFIOSIM_USER_DEVICE_GET_REGION_INFO, &ri, sizeof(ri),
		 NULL, 0);
	memcpy(&ri, rbuf + HDR, sizeof(ri));
	mfd = nrfds ? rfds[0] : -1;
	nrfds = 0;
	ok(n == (ssize_t)need && (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) &&
	   ri.cap_offset >= sizeof(ri) && ri.cap_offset < need,
	   "region_info: argsz %u gets the caps, cap_offset %u (%zd bytes)",
	   need, ri.cap_offset, n);
	ok(n >= (ssize_t)sizeof(ri) && (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
	   mfd >= 0, "region_info: BAR2 is mmappable and came with an fd");
	if (mfd < 0)
		return;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		 (off_t)ri.offset);
	ok(p != MAP_FAILED, "region fd: mmap of BAR2's first page");
	if (p != MAP_FAILED) {
		*(volatile uint32_t *)p = 0xfeedf00d;
		n = region_rw(fd, false, VFIO_PCI_BAR2_REGION_INDEX, 0, &v, 4);
		ok(n == 20 && v == 0xfeedf00d,
		   "region fd: a store is seen by REGION_READ (0x%x)", v);
		munmap(p, 4096);
	}
	close(mfd);
}

static void t_robust(void)
{
	unsigned char m[HDR + 64];
	struct vfiosim_user_header h = { .msg_id = 1, .command = 9,
					 .msg_size = 0xffffffff };
	ssize_t n;
	int fd, fd2;

	/* a lie about msg_size */
	fd = session();
	memcpy(m, &h, HDR);
	send_raw(fd, m, HDR, NULL, 0);
	n = recv_msg(fd, TIMEOUT_MS);
	ok(n == HDR && (rhdr().flags & VFIOSIM_USER_F_ERROR) &&
	   rhdr().error_no == E2BIG,
	   "robust: msg_size 0xffffffff gets E2BIG");
	ok(closed_by_peer(fd), "robust: ... and the connection is closed");
	close(fd);

	fd = session();
	h.msg_size = 8;
	memcpy(m, &h, HDR);
	send_raw(fd, m, HDR, NULL, 0);
	n = recv_msg(fd, TIMEOUT_MS);
	ok(n == HDR && rhdr().error_no == EINVAL,
	   "robust: msg_size 8 gets EINVAL");
	ok(closed_by_peer(fd), "robust: ... and the connection is closed");
	close(fd);

	/* a second client while one is connected */
	fd = session();
	fd2 = connect_sock();
	ok(fd >= 0 && fd2 >= 0 && closed_by_peer(fd2),
	   "robust: a second client is turned away");
	close(fd2);
	{
		ssize_t r;
		uint32_t v = rd32(fd, VFIOSIM_REG_ID, &r);

		ok(r == 20 && v == VFIOSIM_ID_MAGIC,
		   "robust: the first client is unaffected");
	}

	/* disconnect mid-message, with an fd in flight */
	h.msg_size = HDR + 16 + 4;
	h.command = VFIOSIM_USER_REGION_WRITE;
	memcpy(m, &h, HDR);
	{
		int e = eventfd(0, EFD_CLOEXEC);

		send_raw(fd, m, HDR + 6, &e, 1);
		close(e);
	}
	close(fd);
	fd = session();
	{
		ssize_t r;
		uint32_t v = fd >= 0 ? rd32(fd, VFIOSIM_REG_ID, &r) : 0;

		ok(fd >= 0 && r == 20 && v == VFIOSIM_ID_MAGIC,
		   "robust: after a disconnect mid-message a new client works");
	}
	close(fd);

	/* garbage */
	fd = session();
	memset(m, 0xff, sizeof(m));
	send_raw(fd, m, sizeof(m), NULL, 0);
	n = recv_msg(fd, TIMEOUT_MS);
	ok(n == HDR && rhdr().error_no == E2BIG && closed_by_peer(fd),
	   "robust: garbage (msg_size 0xffffffff) gets E2BIG and a close");
	close(fd);

	/* a flood of NO_REPLY writes, then a read */
	fd = session();
	{
		static unsigned char f[1000 * (HDR + 20)];
		struct vfiosim_user_region_access a = { VFIOSIM_REG_SCRATCH(3),
			VFIO_PCI_BAR0_REGION_INDEX, 4 };
		unsigned char pl[20];
		size_t len = 0;
		uint32_t v;
		ssize_t r;

		for (int i = 0; i < 1000; i++) {
			v = (uint32_t)i;
			memcpy(pl, &a, 16);
			memcpy(pl + 16, &v, 4);
			len += build(f + len, (uint16_t)i,
				     VFIOSIM_USER_REGION_WRITE,
				     VFIOSIM_USER_F_NO_REPLY, pl, 20);
		}
		send_raw(fd, f, len, NULL, 0);
		v = rd32(fd, VFIOSIM_REG_SCRATCH(3), &r);
		ok(r == 20 && v == 999,
		   "robust: 1000 NO_REPLY writes then a read sees the last (%u)",
		   v);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: vfiosim-userd-conformance SOCKET\n");
		return 2;
	}
	sock_path = argv[1];
	t_version();
	fd = session();
	if (!ok(fd >= 0, "session for the command tests"))
		return tap_done(&tap) | 1;
	t_sizes(fd);
	t_region(fd);
	t_no_reply(fd);
	t_pipeline(fd);
	t_irqs(fd);
	t_dma(fd);
	t_mmap(fd);
	close(fd);
	t_robust();
	close_rfds();
	return tap_done(&tap);
}
