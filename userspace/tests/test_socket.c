// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of the unix backend (lib/backend_unix.c) against a fake
 * vfio-user server: a thread on a UNIX socket in a temporary directory
 * that answers with scripted replies.  No module, no vfiosim-userd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vfiosim.h>

#include "scm_fds.h"
#include "tap.h"
#include "vfiosim_int.h"

#define HDR		sizeof(struct vfiosim_user_header)
#define ACC		sizeof(struct vfiosim_user_region_access)
#define NREGIONS	3
#define BAR2_SIZE	0x4000

static char sock_path[108];
static char spec[128];

/* ---- the fake server ---------------------------------------------- */

struct msg {
	struct vfiosim_user_header h;
	unsigned char p[65536];
	int fds[64];
	size_t nfds;
};

struct server {
	int lfd;
	pthread_t thread;
	void (*script)(int fd, struct server *s);
	const char *version_json;	/* NULL: no capabilities */
	uint16_t major, minor;
	int memfd;			/* region 2's mmap fd */
	/* what the script saw, for the main thread to check */
	int count_write;
	int count_posted;		/* REGION_WRITEs with NO_REPLY */
	uint32_t posted_bytes;
	uint64_t posted_last;		/* offset of the last one */
	int count_write_multi;
	int count_set_irqs;
	uint16_t last_id;
	bool ids_increase;
	uint64_t efd_sum;		/* eventfds it signalled */
	char dma_seen[16];
	struct vfiosim_user_header dma_read_answer;	/* the client's */
	uint32_t irq_runs[8][3];	/* start, count, nfds */
	int nruns;
	/* migration: what the client asked and sent */
	int count_mig_read;
	int count_mig_write;
	size_t mig_pos;			/* bytes of MIG_STREAM read */
	size_t mig_written;
	bool mig_write_ok;		/* each piece was MIG_STREAM's */
	uint32_t mig_state;
	uint32_t mig_feature_flags;
	int32_t mig_data_fd;
};

/* Read one whole message; false at EOF, or with more fds than m holds. */
static bool srv_recv(int fd, struct msg *m)
{
	struct vfiosim_scm_fds rx;
	size_t got = 0, want = HDR;
	unsigned char *buf = (unsigned char *)&m->h;

	vfiosim_scm_fds_init(&rx, m->fds, sizeof(m->fds) / sizeof(m->fds[0]));
	while (got < want) {
		ssize_t n = vfiosim_scm_recv(fd, buf + got, want - got, &rx, 0);

		m->nfds = rx.n;
		if (n <= 0 || vfiosim_scm_fds_lost(&rx))
			return false;
		got += (size_t)n;
		if (got == HDR && want == HDR) {
			want = m->h.msg_size;
			if (want > sizeof(*m) - sizeof(m->fds) - sizeof(m->nfds))
				return false;
		}
	}
	return true;
}

static void srv_close_fds(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

static void srv_send(int fd, const void *buf, size_t len, int sendfd)
{
	ssize_t n = vfiosim_scm_send(fd, buf, len, &sendfd, sendfd >= 0,
				     1, 0);

	if (n < 0)
		fprintf(stderr, "fake server: send: %s\n", strerror((int)-n));
}

static void srv_reply(int fd, const struct msg *req, uint32_t flags,
		      uint32_t err, const void *payload, size_t len,
		      int sendfd)
{
	static unsigned char out[70000];
	struct vfiosim_user_header h = {
		.msg_id = req->h.msg_id,
		.command = req->h.command,
		.msg_size = (uint32_t)(HDR + len),
		.flags = VFIOSIM_USER_F_TYPE_REPLY | flags,
		.error_no = err,
	};

	memcpy(out, &h, HDR);
	if (len)
		memcpy(out + HDR, payload, len);
	srv_send(fd, out, HDR + len, sendfd);
}

/*
 * Region 1 has a sparse-mmap capability (one area, 0x1000 at 0x800),
 * sent whatever argsz the client gave: the client must not let
 * vfiosim_region_info_cap() walk past its buffer.
 */
#define SPARSE_LEN	(sizeof(struct vfio_region_info_cap_sparse_mmap) + \
			 sizeof(struct vfio_region_sparse_mmap_area))

static void srv_region_info(int fd, struct server *s, const struct msg *m)
{
	struct vfio_region_info ri;
	struct vfio_region_info_cap_sparse_mmap sp = {
		.header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
			    .version = 1 },
		.nr_areas = 1,
	};
	struct vfio_region_sparse_mmap_area area = { 0x800, 0x1000 };
	unsigned char out[sizeof(ri) + SPARSE_LEN];

	memcpy(&ri, m->p, sizeof(ri));
	if (ri.index == 1) {
		ri.argsz = sizeof(out);
		ri.cap_offset = sizeof(ri);
		ri.size = 0x2000;
		ri.offset = 0;
		ri.flags = VFIO_REGION_INFO_FLAG_READ |
			   VFIO_REGION_INFO_FLAG_WRITE |
			   VFIO_REGION_INFO_FLAG_CAPS;
		memcpy(out, &ri, sizeof(ri));
		memcpy(out + sizeof(ri), &sp, sizeof(sp));
		memcpy(out + sizeof(ri) + sizeof(sp), &area, sizeof(area));
		srv_reply(fd, m, 0, 0, out, sizeof(out), -1);
		return;
	}
	ri.argsz = sizeof(ri);
	ri.size = ri.index == 2 ? BAR2_SIZE : 0x2000;
	/* An offset in the memfd, which cannot be 2 << 40 big. */
	ri.offset = ri.index == 2 ? 0x1000 : 0;
	ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		   (ri.index == 2 ? VFIO_REGION_INFO_FLAG_MMAP : 0);
	srv_reply(fd, m, 0, 0, &ri, sizeof(ri),
		  ri.index == 2 ? s->memfd : -1);
}

/* Region 1's capability, into a buffer too small and one that fits. */
static void test_region_caps(struct tap *t, struct vfiosim_dev *dev)
{
	struct vfio_region_info small = { .argsz = sizeof(small), .index = 1 };
	struct {
		struct vfio_region_info ri;
		unsigned char caps[SPARSE_LEN];
	} big = { .ri = { .argsz = sizeof(big), .index = 1 } };
	const struct vfio_region_info_cap_sparse_mmap *sp;
	int ret;

	ret = vfiosim_get_region_info(dev, &small);
	tap_ok(t, !ret && small.argsz == sizeof(big) && !small.cap_offset &&
	       !vfiosim_region_info_cap(&small,
					VFIO_REGION_INFO_CAP_SPARSE_MMAP),
	       "caps: too small a buffer: argsz says what fits, no chain to walk");
	ret = vfiosim_get_region_info(dev, &big.ri);
	sp = (const void *)vfiosim_region_info_cap(&big.ri,
						    VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	tap_ok(t, !ret && sp && sp->nr_areas == 1 &&
	       sp->areas[0].offset == 0x800 && sp->areas[0].size == 0x1000,
	       "caps: in a buffer that fits, the sparse-mmap area is found");
}

/* A command the script does not serve. */
static void srv_enotty(int fd, const struct msg *m)
{
	srv_reply(fd, m, VFIOSIM_USER_F_ERROR, ENOTTY, NULL, 0, -1);
}

/* VERSION, DEVICE_GET_INFO and each GET_REGION_INFO, as at open. */
static bool srv_handshake(int fd, struct server *s, struct msg *m)
{
	unsigned char p[512];
	struct vfiosim_user_version v = { s->major, s->minor };
	size_t len = sizeof(v);
	uint32_t i;

	if (!srv_recv(fd, m) || m->h.command != VFIOSIM_USER_VERSION)
		return false;
	memcpy(p, &v, sizeof(v));
	if (s->version_json) {
		strcpy((char *)p + sizeof(v), s->version_json);
		len += strlen(s->version_json) + 1;
	}
	srv_reply(fd, m, 0, 0, p, len, -1);
	if (s->major != 0)
		return false;
	if (!srv_recv(fd, m) || m->h.command != VFIOSIM_USER_DEVICE_GET_INFO)
		return false;
	{
		struct vfio_device_info di = {
			.argsz = sizeof(di),
			.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
			.num_regions = NREGIONS,
			.num_irqs = 5,
		};

		srv_reply(fd, m, 0, 0, &di, sizeof(di), -1);
	}
	for (i = 0; i < NREGIONS; i++) {
		if (!srv_recv(fd, m) ||
		    m->h.command != VFIOSIM_USER_DEVICE_GET_REGION_INFO)
			return false;
		srv_region_info(fd, s, m);
	}
	return true;
}

static void *srv_main(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	s->script(fd, s);
	close(fd);
	return NULL;
}

static void srv_start(struct server *s, void (*script)(int, struct server *),
		      const char *json)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->version_json = json;
	s->memfd = -1;
	s->ids_increase = true;
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s->lfd, 4)) {
		perror("fake server");
		exit(1);
	}
	pthread_create(&s->thread, NULL, srv_main, s);
}

static void srv_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	if (s->memfd >= 0)
		close(s->memfd);
	unlink(sock_path);
}

/* ---- scripts ------------------------------------------------------- */

#define CAPS_GOOD "{\"capabilities\":{\"max_msg_fds\":2,\"max_data_xfer_size\":4096,\"twin_socket\":{\"supported\":false},\"pgsizes\":4096,\"migration\":{\"pgsize\":4096,\"x\":[1,2.5e3,\"s\\\"q\"]}},\"extra\":null}"

static void script_good(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (!srv_handshake(fd, s, m))
		goto out;
	s->last_id = m->h.msg_id;
	while (srv_recv(fd, m)) {
		struct vfiosim_user_region_access acc;
		unsigned char buf[8192];
		size_t i;

		if (m->h.msg_id <= s->last_id)
			s->ids_increase = false;
		s->last_id = m->h.msg_id;
		switch (m->h.command) {
		case VFIOSIM_USER_REGION_READ:
			memcpy(&acc, m->p, ACC);
			memcpy(buf, &acc, ACC);
			for (i = 0; i < acc.count; i++)
				buf[ACC + i] = (unsigned char)(acc.offset + i);
			srv_reply(fd, m, 0, 0, buf, ACC + acc.count, -1);
			break;
		case VFIOSIM_USER_REGION_WRITE:
			memcpy(&acc, m->p, ACC);
			if (m->h.flags & VFIOSIM_USER_F_NO_REPLY) {
				s->count_posted++;
				s->posted_bytes += acc.count;
				s->posted_last = acc.offset;
				/*
				 * "region 1 refuses", and this server
				 * answers even a NO_REPLY with its error:
				 * the client must drop that as stale.
				 */
				if (acc.region == 1)
					srv_reply(fd, m, VFIOSIM_USER_F_ERROR,
						  EINVAL, NULL, 0, -1);
				break;
			}
			s->count_write++;
			if (acc.region == 1) {	/* "region 1 refuses" */
				srv_reply(fd, m, VFIOSIM_USER_F_ERROR, EINVAL,
					  NULL, 0, -1);
				break;
			}
			srv_reply(fd, m, 0, 0, &acc, ACC, -1);
			break;
		case VFIOSIM_USER_DEVICE_GET_REGION_INFO:
			srv_region_info(fd, s, m);
			break;
		case VFIOSIM_USER_REGION_WRITE_MULTI:
			s->count_write_multi++;
			srv_reply(fd, m, 0, 0, NULL, 0, -1);
			break;
		case VFIOSIM_USER_DEVICE_SET_IRQS: {
			struct vfio_irq_set set;

			memcpy(&set, m->p, sizeof(set));
			if (s->nruns < 8) {
				s->irq_runs[s->nruns][0] = set.start;
				s->irq_runs[s->nruns][1] = set.count;
				s->irq_runs[s->nruns][2] = (uint32_t)m->nfds;
				s->nruns++;
			}
			for (i = 0; i < m->nfds; i++) {
				uint64_t one = set.start + i + 1;

				if (write(m->fds[i], &one, sizeof(one)) ==
				    sizeof(one))
					s->efd_sum += one;
			}
			srv_close_fds(m);
			srv_reply(fd, m, 0, 0, NULL, 0, -1);
			break;
		}
		case VFIOSIM_USER_DMA_MAP: {
			struct vfiosim_user_dma_map dm;

			memcpy(&dm, m->p, sizeof(dm));
			if (m->nfds == 1 &&
			    pread(m->fds[0], s->dma_seen, sizeof(s->dma_seen) - 1,
				  (off_t)dm.offset) < 0)
				s->dma_seen[0] = '!';
			srv_close_fds(m);
			srv_reply(fd, m, 0, 0, NULL, 0, -1);
			break;
		}
		case VFIOSIM_USER_DEVICE_RESET: {
			/*
			 * A stale reply (another msg_id), then a DMA_READ of
			 * our own, whose answer we read, then the real reply.
			 */
			struct msg other = *m;
			struct vfiosim_user_header dr = {
				.msg_id = 0x4242,
				.command = VFIOSIM_USER_DMA_READ,
				.msg_size = HDR + 16,
				.flags = VFIOSIM_USER_F_TYPE_COMMAND,
			};
			unsigned char drmsg[HDR + 16] = { 0 };

			other.h.msg_id = (uint16_t)(m->h.msg_id + 7);
			srv_reply(fd, &other, 0, 0, NULL, 0, -1);
			memcpy(drmsg, &dr, HDR);
			srv_send(fd, drmsg, sizeof(drmsg), -1);
			other.h = m->h;
			if (srv_recv(fd, m))
				s->dma_read_answer = m->h;
			m->h = other.h;
			srv_reply(fd, m, 0, 0, NULL, 0, -1);
			break;
		}

		case VFIOSIM_USER_DEVICE_GET_IRQ_INFO: {
			/* the header says 8 bytes: framing is lost */
			struct vfiosim_user_header h = m->h;

			h.flags = VFIOSIM_USER_F_TYPE_REPLY;
			h.msg_size = 8;
			srv_send(fd, &h, sizeof(h), -1);
			break;
		}
		default:
			srv_enotty(fd, m);
		}
		srv_close_fds(m);
	}
out:
	srv_close_fds(m);
	free(m);
}

/* The saving stream the migration script serves: 10000 bytes. */
#define MIG_STREAM_LEN	10000
static unsigned char mig_byte(size_t i)
{
	return (unsigned char)(i * 7 + 3);
}

/*
 * Migration over vfio-user, as the spec has it: DEVICE_FEATURE SET of
 * MIG_DEVICE_STATE (state 4, RESUMING, is refused with EBUSY), then
 * MIG_DATA_READ of at most what is left of a 10000-byte stream and
 * MIG_DATA_WRITE of pieces of the same stream.
 */
static void script_migration(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));
	static unsigned char out[8 + 65536];

	s->mig_write_ok = true;
	if (!srv_handshake(fd, s, m))
		goto out;
	while (srv_recv(fd, m)) {
		struct vfiosim_user_mig_data md;
		struct vfio_device_feature f;
		struct vfio_device_feature_mig_state st;
		size_t i, n;

		switch (m->h.command) {
		case VFIOSIM_USER_DEVICE_FEATURE:
			memcpy(&f, m->p, sizeof(f));
			memcpy(&st, m->p + sizeof(f), sizeof(st));
			s->mig_feature_flags = f.flags;
			s->mig_state = st.device_state;
			s->mig_data_fd = st.data_fd;
			if (st.device_state == VFIO_DEVICE_STATE_RESUMING)
				srv_reply(fd, m, VFIOSIM_USER_F_ERROR, EBUSY,
					  NULL, 0, -1);
			else
				srv_reply(fd, m, 0, 0, m->p,
					  sizeof(f) + sizeof(st), -1);
			break;
		case VFIOSIM_USER_MIG_DATA_READ:
			s->count_mig_read++;
			memcpy(&md, m->p, sizeof(md));
			n = MIG_STREAM_LEN - s->mig_pos;
			if (n > md.size)
				n = md.size;
			md.size = (uint32_t)n;
			md.argsz = (uint32_t)(sizeof(md) + n);
			memcpy(out, &md, sizeof(md));
			for (i = 0; i < n; i++)
				out[sizeof(md) + i] = mig_byte(s->mig_pos + i);
			s->mig_pos += n;
			srv_reply(fd, m, 0, 0, out, sizeof(md) + n, -1);
			break;
		case VFIOSIM_USER_MIG_DATA_WRITE:
			s->count_mig_write++;
			memcpy(&md, m->p, sizeof(md));
			if (m->h.msg_size != HDR + sizeof(md) + md.size)
				s->mig_write_ok = false;
			for (i = 0; i < md.size; i++)
				if (m->p[sizeof(md) + i] !=
				    mig_byte(s->mig_written + i))
					s->mig_write_ok = false;
			s->mig_written += md.size;
			srv_reply(fd, m, 0, 0, NULL, 0, -1);
			break;
		default:
			srv_enotty(fd, m);
		}
		srv_close_fds(m);
	}
out:
	srv_close_fds(m);
	free(m);
}

static void test_migration(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	static unsigned char buf[MIG_STREAM_LEN + 100];
	uint64_t initial, dirty;
	struct server s;
	bool ok = true;
	ssize_t n;
	size_t i;
	int ret;

	srv_start(&s, script_migration, CAPS_GOOD);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, 0, "migration: open");
	if (ret) {
		printf("# %s\n", vfiosim_dev_error(dev));
		vfiosim_dev_free(dev);
		close(s.lfd);
		return;
	}
	ret = vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_STOP_COPY);
	tap_int(t, ret, 0, "migration: set state");
	tap_int(t, s.mig_feature_flags, VFIO_DEVICE_FEATURE_SET |
		VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		"migration: ... is DEVICE_FEATURE SET MIG_DEVICE_STATE");
	tap_int(t, s.mig_state, VFIO_DEVICE_STATE_STOP_COPY,
		"migration: ... with the state asked");
	tap_int(t, s.mig_data_fd, -1, "migration: ... and data_fd -1");
	ret = vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_RESUMING);
	tap_int(t, ret, -EBUSY, "migration: a refused state is -error_no");
	tap_has(t, vfiosim_dev_error(dev), "MIG_DEVICE_STATE to 4",
		"migration: ... and the message says which state");
	tap_has(t, vfiosim_dev_error(dev), "unix:",
		"migration: ... and names the device");

	/* max_data_xfer_size 4096: 10000 bytes in 3 reads, then a short one */
	n = vfiosim_mig_read(dev, buf, sizeof(buf));
	tap_int(t, n, MIG_STREAM_LEN, "migration: read all of the stream");
	tap_int(t, s.count_mig_read, 3,
		"migration: ... in max_data_xfer_size pieces, the last short");
	for (i = 0; ok && i < MIG_STREAM_LEN; i++)
		ok = buf[i] == mig_byte(i);
	tap_ok(t, ok, "migration: ... the bytes as the server sent them");
	n = vfiosim_mig_read(dev, buf, sizeof(buf));
	tap_int(t, n, 0, "migration: then the end of the stream (0)");

	for (i = 0; i < MIG_STREAM_LEN; i++)
		buf[i] = mig_byte(i);
	n = vfiosim_mig_write(dev, buf, MIG_STREAM_LEN);
	tap_int(t, n, MIG_STREAM_LEN, "migration: write all of a stream");
	tap_int(t, s.count_mig_write, 3,
		"migration: ... in max_data_xfer_size pieces");
	tap_ok(t, s.mig_write_ok && s.mig_written == MIG_STREAM_LEN,
	       "migration: ... each whole, in order");

	ret = vfiosim_mig_precopy_info(dev, &initial, &dirty);
	tap_int(t, ret, -EOPNOTSUPP,
		"migration: no PRECOPY_INFO over vfio-user");
	tap_has(t, vfiosim_dev_error(dev), "mig_precopy_info",
		"migration: ... and the message says what");
	vfiosim_dev_free(dev);
	srv_stop(&s);
}

static void script_version_only(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));

	srv_handshake(fd, s, m);
	srv_close_fds(m);
	/* wait for the client to hang up */
	while (srv_recv(fd, m))
		srv_close_fds(m);
	free(m);
}

static void script_version_error(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));

	(void)s;
	if (srv_recv(fd, m))
		srv_reply(fd, m, VFIOSIM_USER_F_ERROR, EBUSY, NULL, 0, -1);
	free(m);
}

static void script_truncated(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));

	(void)s;
	if (srv_recv(fd, m)) {
		struct vfiosim_user_header h = m->h;

		/* 40 bytes promised, 20 sent, then hang up */
		h.flags = VFIOSIM_USER_F_TYPE_REPLY;
		h.msg_size = 40;
		memset(m->p, 0, 4);
		memcpy(m->p, &h, sizeof(h));
		srv_send(fd, m->p, 20, -1);
	}
	free(m);
}

static void script_oversized(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));
	static unsigned char big[HDR + 20000];

	(void)s;
	if (srv_recv(fd, m)) {
		struct vfiosim_user_header h = m->h;

		h.flags = VFIOSIM_USER_F_TYPE_REPLY;
		h.msg_size = sizeof(big);
		memcpy(big, &h, sizeof(h));
		srv_send(fd, big, sizeof(big), -1);
		/* then stays to hear the client hang up */
		while (srv_recv(fd, m))
			srv_close_fds(m);
	}
	free(m);
}

static void script_silent(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));

	(void)s;
	/* reads VERSION and never answers; waits for the hang-up */
	while (srv_recv(fd, m))
		srv_close_fds(m);
	free(m);
}

/*
 * The VERSION reply with 17 fds, more than the client takes (16): 9 with
 * the header, 8 with the rest, so that no one read sees too many.
 */
static void script_many_fds(int fd, struct server *s)
{
	struct msg *m = calloc(1, sizeof(*m));
	struct vfiosim_user_version v = { 0, 1 };
	struct vfiosim_user_header h;
	unsigned char out[HDR + sizeof(v)];
	int efd[17];
	size_t i;

	(void)s;
	if (srv_recv(fd, m)) {
		srv_close_fds(m);
		h = m->h;
		h.flags = VFIOSIM_USER_F_TYPE_REPLY;
		h.msg_size = sizeof(out);
		memcpy(out, &h, HDR);
		memcpy(out + HDR, &v, sizeof(v));
		for (i = 0; i < 17; i++)
			efd[i] = eventfd(0, EFD_CLOEXEC);
		vfiosim_scm_send(fd, out, HDR, efd, 9, 17, 0);
		vfiosim_scm_send(fd, out + HDR, sizeof(v), efd + 9, 8, 17, 0);
		for (i = 0; i < 17; i++)
			close(efd[i]);
		while (srv_recv(fd, m))
			srv_close_fds(m);
	}
	free(m);
}

static int count_fds(void);

/* ---- tests --------------------------------------------------------- */

static void test_parse_version(struct tap *t)
{
	unsigned char p[256];
	struct vfiosim_user_version v = { 0, 1 };
	uint32_t xfer, fds;
	uint16_t minor;
	bool wm;
	char why[256];
	int ret;

	memcpy(p, &v, sizeof(v));
	ret = vfiosim_unix_parse_version(p, sizeof(v), &minor, &xfer, &fds,
					 &wm, why, sizeof(why));
	tap_ok(t, !ret && xfer == 1024 * 1024 && fds == 1 && !wm &&
	       minor == 1, "version: no JSON gives the spec's defaults");
	strcpy((char *)p + sizeof(v),
	       "{\"capabilities\":{\"max_data_xfer_size\":99999999,\"write_multiple\":true}}");
	ret = vfiosim_unix_parse_version(p, sizeof(v) + strlen((char *)p + 4) + 1,
					 &minor, &xfer, &fds, &wm, why,
					 sizeof(why));
	tap_ok(t, !ret && xfer == 1024 * 1024 && wm,
	       "version: a huge max_data_xfer_size is capped at 1 MiB");
	strcpy((char *)p + sizeof(v), "{\"capabilities\":{\"max_msg_fds\":\"x\"}}");
	ret = vfiosim_unix_parse_version(p, sizeof(v) + strlen((char *)p + 4) + 1,
					 &minor, &xfer, &fds, &wm, why,
					 sizeof(why));
	tap_int(t, ret, -EPROTO, "version: a string max_msg_fds");
	tap_has(t, why, "max_msg_fds", "version: the message names it");
	strcpy((char *)p + sizeof(v), "{\"capabilities\":{}");
	ret = vfiosim_unix_parse_version(p, sizeof(v) + strlen((char *)p + 4) + 1,
					 &minor, &xfer, &fds, &wm, why,
					 sizeof(why));
	tap_int(t, ret, -EPROTO, "version: unterminated JSON object");
	{
		static const char *const bad[] = {
			"{\"a\":01}", "{\"a\":1-2}", "{\"a\":\"\\q\"}",
			"{\"a\":\"\x01\"}", "",
			"{\"capabilities\":{\"max_msg_fds\":1,\"max_msg_fds\":8}}",
		};
		static const char *const what[] = {
			"a leading zero", "1-2 as a number", "a \\q escape",
			"a raw control character", "empty JSON",
			"a duplicate key",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char name[64];

			strcpy((char *)p + sizeof(v), bad[i]);
			ret = vfiosim_unix_parse_version(p, sizeof(v) +
							 strlen(bad[i]) + 1,
							 &minor, &xfer, &fds,
							 &wm, why, sizeof(why));
			snprintf(name, sizeof(name), "version: %s is refused",
				 what[i]);
			tap_int(t, ret, -EPROTO, name);
		}
	}
	memcpy(p + sizeof(v), "{}", 2);
	ret = vfiosim_unix_parse_version(p, sizeof(v) + 2, &minor, &xfer,
					 &fds, &wm, why, sizeof(why));
	tap_int(t, ret, -EPROTO, "version: JSON without its NUL");
	v.minor = 2;
	memcpy(p, &v, sizeof(v));
	ret = vfiosim_unix_parse_version(p, sizeof(v), &minor, &xfer, &fds,
					 &wm, why, sizeof(why));
	tap_int(t, ret, -EPROTO, "version: a higher minor than proposed");
	ret = vfiosim_unix_parse_version(p, 2, &minor, &xfer, &fds, &wm, why,
					 sizeof(why));
	tap_int(t, ret, -EPROTO, "version: 2 byte payload");
}

static void test_good(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct vfiosim_write_op ops[3] = {
		{ .region = 0, .count = 4, .offset = 0x10, .data = 1 },
		{ .region = 0, .count = 2, .offset = 0x14, .data = 2 },
		{ .region = 0, .count = 8, .offset = 0x18, .data = 3 },
	};
	unsigned char buf[10000];
	struct server s;
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 2 };
	union {
		struct vfio_irq_set set;
		unsigned char raw[sizeof(struct vfio_irq_set) + 5 * 4];
	} u;
	int32_t efds[5];
	struct vfiosim_dma_map dm = { 0 };
	uint64_t sum = 0, val;
	void *map = NULL;
	ssize_t n;
	int ret, i, memfd;
	bool ok;

	srv_start(&s, script_good, CAPS_GOOD);
	memfd = memfd_create("bar2", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 0x1000 + BAR2_SIZE) ||
	    pwrite(memfd, "BAR2 data", 9, 0x1000 + 0x100) != 9)
		tap_ok(t, false, "memfd for region 2");
	s.memfd = memfd;
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, 0, "good: open negotiates and caches regions");
	if (ret) {
		printf("# %s\n", vfiosim_dev_error(dev));
		vfiosim_dev_free(dev);
		close(s.lfd);
		return;
	}
	tap_str(t, vfiosim_dev_backend(dev), "unix", "good: backend name");

	n = vfiosim_region_read(dev, 0, 0x20, buf, 8);
	ok = n == 8;
	for (i = 0; ok && i < 8; i++)
		ok = buf[i] == (unsigned char)(0x20 + i);
	tap_ok(t, ok, "good: region read returns the server's data");
	/* 10000 bytes at max_data_xfer_size 4096: three messages */
	n = vfiosim_region_write(dev, 2, 0, buf, 10000);
	tap_int(t, n, 10000, "good: a large write is split");
	tap_int(t, s.count_write, 3, "good: in max_data_xfer_size pieces");
	n = vfiosim_region_write(dev, 2, 0x1000, buf, BAR2_SIZE);
	tap_int(t, n, -EINVAL, "good: a split write past the end is refused");
	tap_has(t, vfiosim_dev_error(dev), "past end",
		"good: ... before anything moves, as on VFIO");
	n = vfiosim_region_write(dev, 1, 0, buf, 4);
	tap_int(t, n, -EINVAL, "good: an error reply gives -error_no");
	tap_has(t, vfiosim_dev_error(dev), "write region 1 (BAR1)",
		"good: the message names the access");
	tap_has(t, vfiosim_dev_error(dev), sock_path,
		"good: and the device (socket path)");

	/* no write_multiple: one REGION_WRITE each */
	s.count_write = 0;
	ret = vfiosim_region_write_multi(dev, ops, 3);
	tap_int(t, ret, 0, "good: write_multi without write_multiple");
	tap_ok(t, s.count_write == 3 && s.count_write_multi == 0,
	       "good: ... is a loop of REGION_WRITE (%d, %d)", s.count_write,
	       s.count_write_multi);

	/* eventfds: 2 valid, one -1, 2 valid with max_msg_fds 2 */
	for (i = 0; i < 5; i++)
		efds[i] = i == 2 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memset(&u, 0, sizeof(u));
	u.set.argsz = sizeof(u.raw);
	u.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	u.set.index = VFIO_PCI_MSIX_IRQ_INDEX;
	u.set.start = 0;
	u.set.count = 5;
	memcpy(u.raw + sizeof(u.set), efds, sizeof(efds));
	ret = vfiosim_set_irqs(dev, &u.set);
	tap_int(t, ret, 0, "good: SET_IRQS with eventfds and a -1");
	tap_ok(t, s.nruns == 3 &&
	       s.irq_runs[0][0] == 0 && s.irq_runs[0][1] == 2 && s.irq_runs[0][2] == 2 &&
	       s.irq_runs[1][0] == 2 && s.irq_runs[1][1] == 1 && s.irq_runs[1][2] == 0 &&
	       s.irq_runs[2][0] == 3 && s.irq_runs[2][1] == 2 && s.irq_runs[2][2] == 2,
	       "good: ... sent as runs: 0+2 (2 fds), 2+1 (none), 3+2 (2 fds)");
	for (i = 0; i < 5; i++) {
		if (efds[i] < 0)
			continue;
		if (read(efds[i], &val, sizeof(val)) == sizeof(val))
			sum += val;
		close(efds[i]);
	}
	tap_ok(t, sum == 1 + 2 + 4 + 5 && s.efd_sum == sum,
	       "good: the server signalled our very eventfds (%llu)",
	       (unsigned long long)sum);

	/* DMA_MAP passes the memory file */
	dm.fd = memfd_create("dma", MFD_CLOEXEC);
	if (dm.fd < 0 || pwrite(dm.fd, "guest RAM", 9, 4096) != 9)
		tap_ok(t, false, "memfd for DMA");
	dm.offset = 4096;
	dm.iova = 0x100000;
	dm.size = 4096;
	dm.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	ret = vfiosim_dma_map(dev, &dm);
	tap_int(t, ret, 0, "good: DMA_MAP with a memfd");
	tap_str(t, s.dma_seen, "guest RAM",
		"good: the server reads our memory through the fd");
	close(dm.fd);

	/* the mmap fd from GET_REGION_INFO */
	ret = vfiosim_get_region_info(dev, &ri);
	tap_ok(t, !ret && ri.size == BAR2_SIZE && ri.offset == 0x1000,
	       "good: region info 2");
	ret = vfiosim_region_mmap(dev, 2, 0, BAR2_SIZE, PROT_READ, &map);
	tap_int(t, ret, 0, "good: mmap region 2");
	tap_ok(t, !ret && !memcmp((char *)map + 0x100, "BAR2 data", 9),
	       "good: ... maps the server's memfd at the region offset");
	if (!ret)
		munmap(map, BAR2_SIZE);
	ret = vfiosim_region_mmap(dev, 0, 0, 4096, PROT_READ, &map);
	tap_int(t, ret, -EINVAL, "good: mmap of a region without an fd");

	test_region_caps(t, dev);

	ret = vfiosim_netlink_ping(dev);
	tap_int(t, ret, -EOPNOTSUPP, "good: ping is not a unix thing");

	ret = vfiosim_reset(dev);
	tap_int(t, ret, 0,
		"good: a stale reply and a server's DMA_READ before the reply");
	tap_ok(t, s.dma_read_answer.msg_id == 0x4242 &&
	       s.dma_read_answer.command == VFIOSIM_USER_DMA_READ &&
	       (s.dma_read_answer.flags & VFIOSIM_USER_F_TYPE_MASK) ==
	       VFIOSIM_USER_F_TYPE_REPLY &&
	       (s.dma_read_answer.flags & VFIOSIM_USER_F_ERROR) &&
	       s.dma_read_answer.error_no == ENOTSUP,
	       "good: the DMA_READ got an ENOTSUP reply (id %#x, error %u)",
	       s.dma_read_answer.msg_id, s.dma_read_answer.error_no);
	n = vfiosim_region_read(dev, 0, 0, buf, 4);
	tap_int(t, n, 4, "good: the stream is still in step after them");
	n = vfiosim_region_read(dev, 0, 0, buf, 4);
	tap_int(t, n, 4, "good: ... and the real reset reply was not left over");

	{
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = 0 };

		ret = vfiosim_get_irq_info(dev, &ii);
		tap_int(t, ret, -EPROTO, "good: msg_size shorter than a header");
		tap_has(t, vfiosim_dev_error(dev), "truncated",
			"good: ... is truncated");
	}
	n = vfiosim_region_read(dev, 0, 0, buf, 4);
	tap_int(t, n, -ENOTCONN, "good: no use of a stream out of step");
	tap_has(t, vfiosim_dev_error(dev), "unusable",
		"good: ... and it says why");
	tap_ok(t, s.ids_increase, "good: msg_id increases");

	vfiosim_dev_free(dev);
	srv_stop(&s);
}

static void test_open_failures(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct server s;
	char bad[160];
	int ret, nfds;

	srv_start(&s, script_version_only, CAPS_GOOD);
	s.major = 1;
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EPROTO, "bad major: refused");
	tap_has(t, vfiosim_dev_error(dev), "VERSION: server speaks vfio-user 1.",
		"bad major: message");
	srv_stop(&s);

	srv_start(&s, script_version_only, "{\"capabilities\":{\"max_msg_fds\":-1}}");
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EPROTO, "bad capabilities: refused");
	srv_stop(&s);

	srv_start(&s, script_version_error, NULL);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EBUSY, "VERSION error reply: -error_no");
	tap_has(t, vfiosim_dev_error(dev), "VERSION: Device or resource busy",
		"VERSION error reply: message");
	srv_stop(&s);

	srv_start(&s, script_truncated, NULL);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EPROTO, "truncated reply (hang-up mid-message)");
	tap_has(t, vfiosim_dev_error(dev), "after 4 of 24 bytes",
		"truncated reply: message");
	srv_stop(&s);

	srv_start(&s, script_oversized, NULL);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EPROTO, "oversized reply");
	tap_has(t, vfiosim_dev_error(dev), "(oversized)",
		"oversized reply: message");
	srv_stop(&s);

	nfds = count_fds();
	srv_start(&s, script_many_fds, NULL);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -EPROTO, "a reply with 17 fds (9 + 8): refused");
	tap_has(t, vfiosim_dev_error(dev),
		"VERSION: malformed reply: more file descriptors than we take (16)",
		"a reply with 17 fds: message");
	srv_stop(&s);
	tap_int(t, count_fds(), nfds,
		"a reply with 17 fds: none of them left open");

	srv_start(&s, script_silent, NULL);
	tap_int(t, vfiosim_dev_set_timeout(dev, 0), -EINVAL, "timeout 0: EINVAL");
	tap_int(t, vfiosim_dev_set_timeout(dev, VFIOSIM_MAX_TIMEOUT_MS + 1),
		-EINVAL, "timeout over an hour: EINVAL");
	tap_int(t, vfiosim_dev_set_timeout(dev, 200), 0, "timeout 200 ms");
	ret = vfiosim_dev_open(dev, spec);
	vfiosim_dev_set_timeout(dev, VFIOSIM_DEFAULT_TIMEOUT_MS);
	tap_int(t, ret, -ETIMEDOUT, "no reply: -ETIMEDOUT");
	tap_has(t, vfiosim_dev_error(dev), "VERSION: no reply from",
		"no reply: message");
	srv_stop(&s);

	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, -ENOENT, "no server: -ENOENT");
	tap_has(t, vfiosim_dev_error(dev), "connect to ",
		"no server: message names the socket");
	memset(bad, 'x', sizeof(bad) - 1);
	memcpy(bad, "unix:", 5);
	bad[sizeof(bad) - 1] = '\0';
	ret = vfiosim_dev_open(dev, bad);
	tap_int(t, ret, -ENAMETOOLONG, "path too long for sun_path");
	tap_str(t, vfiosim_dev_backend(dev), "none", "failed opens leave it closed");
	vfiosim_dev_free(dev);
}

static void test_write_multiple(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct vfiosim_write_op ops[300];
	struct server s;
	size_t i;
	int ret;

	for (i = 0; i < 300; i++)
		ops[i] = (struct vfiosim_write_op){ .region = 0, .count = 4,
						    .offset = 4 * i };
	srv_start(&s, script_good,
		  "{\"capabilities\":{\"max_msg_fds\":32,\"write_multiple\":true}}");
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, 0, "write_multiple: open");
	ret = vfiosim_region_write_multi(dev, ops, 300);
	tap_int(t, ret, 0, "write_multiple: 300 writes");
	tap_ok(t, s.count_write_multi == 2 && s.count_write == 0,
	       "write_multiple: two REGION_WRITE_MULTI messages (%d, %d)",
	       s.count_write_multi, s.count_write);
	vfiosim_dev_free(dev);
	srv_stop(&s);
}

/*
 * Posted writes: NO_REPLY on the wire, nothing awaited, split at
 * max_data_xfer_size, bounds checked before anything is sent, and an
 * answer the server sends anyway does not put the client out of step.
 */
static void test_posted(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	unsigned char buf[10000] = { 0 };
	struct server s;
	uint32_t v;
	int ret;

	srv_start(&s, script_good, CAPS_GOOD);
	ret = vfiosim_dev_open(dev, spec);
	tap_int(t, ret, 0, "posted: open");
	ret = vfiosim_region_write_posted(dev, 0, 0x40, buf, 4);
	tap_int(t, ret, 0, "posted: a 4-byte posted write");
	ret = vfiosim_region_write_posted(dev, 2, 0, buf, sizeof(buf));
	tap_int(t, ret, 0, "posted: a 10000-byte posted write");
	ret = vfiosim_region_write_posted(dev, 2, 0x10, buf, BAR2_SIZE);
	tap_int(t, ret, -EINVAL, "posted: past the region's end is -EINVAL");
	tap_has(t, vfiosim_dev_error(dev), "posted write region 2 (BAR2)",
		"posted: ... naming the region");
	ret = vfiosim_region_write_posted(dev, 1, 0, buf, 4);
	tap_int(t, ret, 0, "posted: an error the server reports is lost");
	/* A synchronous op after them: in step, and they all arrived. */
	ret = vfiosim_read32(dev, 0, 0x20, &v);
	tap_int(t, ret, 0, "posted: a read after them gets its own reply");
	tap_int(t, v, 0x23222120, "posted: ... with its own data");
	tap_int(t, s.count_posted, 1 + 3 + 1,
		"posted: one NO_REPLY message each, 10000 bytes in three");
	tap_int(t, s.posted_bytes, 4 + 10000 + 4, "posted: every byte sent");
	tap_int(t, s.posted_last, 0, "posted: the last one was region 1's");
	tap_int(t, s.count_write, 0, "posted: no plain REGION_WRITE");
	ret = vfiosim_region_write(dev, 0, 0x40, buf, 4);
	tap_int(t, ret, 4, "posted: a plain write then still works");
	vfiosim_dev_free(dev);
	srv_stop(&s);
}

static int count_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/*
 * Threads failing on one device at once each read back their own
 * message: the fake server refuses writes to region 1, and the message
 * names the offset, which each thread makes its own.  More threads than
 * a VMM has vCPUs in common configurations (the library once kept only
 * 16 threads' messages and let a 17th overwrite one still being read).
 * Each round is free-running (ThreadSanitizer sees any overwrite of a
 * message another thread reads), then fenced: every thread fails once,
 * all wait, and each checks that the pointer vfiosim_dev_error() gave it
 * before the others failed still holds its own message, as the header
 * promises until that thread's next failing call.
 */
#define ERR_THREADS	32
#define ERR_ROUNDS	50
#define ERR_FENCED	4

struct err_thread {
	struct vfiosim_dev *dev;
	pthread_barrier_t *fence;
	unsigned int id;
	int wrong;		/* messages naming another offset */
	int stale;		/* kept pointers overwritten by another thread */
};

/* Fail one write at a thread-specific offset; 0 if the message says so. */
static int err_fail_own(struct err_thread *e, int i, const char **msg)
{
	uint64_t off = 0x100ULL * e->id + 4 * (uint64_t)i;	/* < 0x2000 */
	char want[32];
	uint32_t v = 0;

	snprintf(want, sizeof(want), "offset 0x%llx+4",
		 (unsigned long long)off);
	if (vfiosim_region_write(e->dev, 1, off, &v, 4) != -EINVAL)
		return -1;
	*msg = vfiosim_dev_error(e->dev);
	return strstr(*msg, want) ? 0 : -1;
}

static void *err_thread_fn(void *arg)
{
	struct err_thread *e = arg;
	const char *msg;
	char copy[512];
	int i;

	for (i = 0; i < ERR_ROUNDS; i++)
		if (err_fail_own(e, i, &msg))
			e->wrong++;
	for (i = 0; i < ERR_FENCED; i++) {
		if (err_fail_own(e, ERR_ROUNDS + i, &msg))
			e->wrong++;
		snprintf(copy, sizeof(copy), "%s", msg);
		pthread_barrier_wait(e->fence);	/* all have failed */
		if (strcmp(msg, copy) ||
		    strcmp(vfiosim_dev_error(e->dev), copy))
			e->stale++;
		pthread_barrier_wait(e->fence);	/* all have checked */
	}
	return NULL;
}

static void test_thread_errors(struct tap *t)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	struct err_thread e[ERR_THREADS];
	pthread_t tid[ERR_THREADS];
	pthread_barrier_t fence;
	int i, wrong = 0, stale = 0;
	char name[96];
	struct server s;

	pthread_barrier_init(&fence, NULL, ERR_THREADS);
	srv_start(&s, script_good, CAPS_GOOD);
	if (vfiosim_dev_open(dev, spec)) {
		tap_ok(t, false, "threads: open (%s)", vfiosim_dev_error(dev));
		goto out;
	}
	tap_str(t, vfiosim_dev_error(dev), "", "threads: no error yet: \"\"");
	for (i = 0; i < ERR_THREADS; i++) {
		e[i] = (struct err_thread){ .dev = dev, .fence = &fence,
					    .id = (unsigned int)i };
		pthread_create(&tid[i], NULL, err_thread_fn, &e[i]);
	}
	for (i = 0; i < ERR_THREADS; i++) {
		pthread_join(tid[i], NULL);
		wrong += e[i].wrong;
		stale += e[i].stale;
	}
	snprintf(name, sizeof(name),
		 "threads: %d x %d failing writes, each thread reads its own error",
		 ERR_THREADS, ERR_ROUNDS + ERR_FENCED);
	tap_int(t, wrong, 0, name);
	snprintf(name, sizeof(name),
		 "threads: %d x %d fenced rounds, no kept message changes under its thread",
		 ERR_THREADS, ERR_FENCED);
	tap_int(t, stale, 0, name);
	tap_str(t, vfiosim_dev_error(dev), "",
		"threads: the main thread, which failed nothing, sees none");
	vfiosim_dev_close(dev);
	tap_str(t, vfiosim_dev_backend(dev), "none", "close: the handle is closed");
	tap_int(t, vfiosim_region_read(dev, 0, 0, &i, 4), -EBADF,
		"close: an op after it is -EBADF");
	vfiosim_dev_close(dev);
	tap_ok(t, true, "close: a second close is a no-op");
out:
	vfiosim_dev_free(dev);
	srv_stop(&s);
	pthread_barrier_destroy(&fence);
}

int main(void)
{
	struct tap t = { 0 };
	char dir[] = "/tmp/vfiosim-test-XXXXXX";
	int fds;

	alarm(60);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s", sock_path);
	fds = count_fds();
	test_parse_version(&t);
	test_good(&t);
	test_write_multiple(&t);
	test_posted(&t);
	test_migration(&t);
	test_thread_errors(&t);
	test_open_failures(&t);
	tap_int(&t, count_fds(), fds, "no file descriptor leaked");
	rmdir(dir);
	return tap_done(&t);
}
