// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF: dma-bufs of BAR2, answered as vfio-pci
 * answers it for a BAR (drivers/vfio/pci/vfio_pci_dmabuf.c, Linux 6.19+).
 *
 * VFIO only: the feature hands out a file descriptor, which neither
 * vfio-user nor the netlink family can carry, so only the vfio: backend
 * is tested.  libvfiosim's ops return 0 or -errno, and this ioctl returns
 * the new fd, so the tests issue it on the device fd themselves.
 *
 * On a kernel whose VFIO uapi lacks the feature (6.1, 6.12) it is ENOTTY,
 * as in vfio-pci there, and every test SKIPs saying so; on 6.19 or later
 * ENOTTY is a failure.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "vfiosim_test.h"

#define BAR2		VFIO_PCI_BAR2_REGION_INDEX
#define PG		0x1000ULL	/* x86: the page and the trapped page */
#define REMOVE_TIMEOUT_MS	20000
#define REQUEST_TIMEOUT_MS	5000

/* The uapi of 6.19, for headers that predate it. */
#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11
struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
#endif

#define MAX_RANGES	4

struct dmabuf_req {
	uint32_t region;
	uint32_t open_flags;
	uint32_t flags;
	uint32_t nr;
	struct vfio_region_dma_range r[MAX_RANGES];
};

/*
 * VFIO_DEVICE_FEATURE(@flags | DMA_BUF) with @req as payload.  @argsz 0
 * means the right size (header, payload and ranges); the buffer always
 * holds every range, so a short argsz is never a fault.  The fd, or -errno.
 */
static int dmabuf_feature(int devfd, uint32_t flags, uint32_t argsz,
			  const struct dmabuf_req *req)
{
	union {
		struct vfio_device_feature feature;
		uint8_t raw[sizeof(struct vfio_device_feature) +
			    sizeof(struct vfio_device_feature_dma_buf) +
			    MAX_RANGES * sizeof(struct vfio_region_dma_range)];
	} u;
	struct vfio_device_feature_dma_buf *p = (void *)u.feature.data;
	int ret;

	memset(&u, 0, sizeof(u));
	u.feature.argsz = argsz ? argsz : sizeof(u.feature) + sizeof(*p) +
				  req->nr * sizeof(p->dma_ranges[0]);
	u.feature.flags = flags | VFIO_DEVICE_FEATURE_DMA_BUF;
	p->region_index = req->region;
	p->open_flags = req->open_flags;
	p->flags = req->flags;
	p->nr_ranges = req->nr;
	memcpy(p->dma_ranges, req->r, sizeof(req->r));
	ret = ioctl(devfd, VFIO_DEVICE_FEATURE, &u);
	return ret < 0 ? -errno : ret;
}

static int dmabuf_get(int devfd, const struct dmabuf_req *req)
{
	return dmabuf_feature(devfd, VFIO_DEVICE_FEATURE_GET, 0, req);
}

/* The VFIO device fd libvfiosim opened: an "[vfio-device]" anon inode. */
static int find_device_fd(void)
{
	char path[PATH_MAX], link[64];
	struct dirent *de;
	int fd = -1;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:[vfio-device]")) {
			fd = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	return fd >= 0 ? fd : -ENOENT;
}

/* The kernel is 6.19 or later, whose VFIO uapi has the feature. */
static bool kernel_has_feature(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 19);
}

/* A dma-buf fd: its link names a dmabuf, its fdinfo the exporter and size. */
static bool is_vfiosim_dmabuf(int fd, uint64_t size, char *why, size_t len)
{
	char path[64], link[128], line[256], want[64];
	bool name = false, sz = false;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		snprintf(why, len, "readlink %s: %s", path, strerror(errno));
		return false;
	}
	link[n] = '\0';
	if (strncmp(link, "/dmabuf:", 8) && strncmp(link, "anon_inode:dmabuf", 17)) {
		snprintf(why, len, "fd %d is %s, not a dma-buf", fd, link);
		return false;
	}
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		snprintf(why, len, "open %s: %s", path, strerror(errno));
		return false;
	}
	snprintf(want, sizeof(want), "size:\t%llu\n", (unsigned long long)size);
	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "exp_name:\t" VFIOSIM_NAME "\n"))
			name = true;
		if (!strcmp(line, want))
			sz = true;
	}
	fclose(f);
	if (!name || !sz) {
		snprintf(why, len, "%s: exp_name %s, size %llu %s", path,
			 name ? "ok" : "missing", (unsigned long long)size,
			 sz ? "ok" : "missing");
		return false;
	}
	return true;
}

/* Remove @uuid from a child that keeps no fd; its pid. */
static pid_t start_remover(const char *uuid)
{
	char err[256];
	pid_t pid;
	int ret;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	if (close_range(3, ~0U, 0)) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	ret = vfiosim_mdev_remove(uuid, err, sizeof(err));
	if (ret)
		fprintf(stderr, "# remover: %s\n", err);
	_exit(ret ? (-ret & 0x7f) : 0);
}

/* The child exited 0 within timeout_ms. */
static bool remover_done(pid_t pid, int timeout_ms)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int status;
	bool done;

	if (pidfd < 0)
		return false;
	done = poll(&pfd, 1, timeout_ms) > 0;
	close(pidfd);
	if (!done)
		return false;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

FIXTURE(dmabuf) {
	struct vfiosim_dev *dev;
	int devfd;
	uint64_t mmap_size;	/* BAR2 but its trapped last page */
	char uuid[37];
	bool created;
	pid_t remover;
};

FIXTURE_VARIANT(dmabuf) {
	const struct vfiosim_model *model;
};

FIXTURE_VARIANT_ADD(dmabuf, vfio_small) {
	.model = &vfiosim_small_model,
};

FIXTURE_VARIANT_ADD(dmabuf, vfio_full) {
	.model = &vfiosim_full_model,
};

FIXTURE_SETUP(dmabuf)
{
	char parent[256], spec[128], err[256] = "";
	int ret;

	self->dev = NULL;
	self->devfd = -1;
	self->created = false;
	self->remover = 0;
	self->mmap_size = variant->model->bar2_size - bar2_trapped_size();

	sysfs_path(parent, sizeof(parent), VFIOSIM_PARENT_SYSFS);
	if (access(parent, F_OK))
		SKIP(return, "vfiosim module not loaded (no %s)", parent);
	if (geteuid() != 0)
		SKIP(return, "creating mdev devices needs root");
	if (sysconf(_SC_PAGESIZE) != PG)
		SKIP(return, "BAR2's trapped page is 4 KiB; pages here are %ld",
		     sysconf(_SC_PAGESIZE));

	ASSERT_EQ(0, vfiosim_uuid_generate(self->uuid));
	ret = vfiosim_mdev_create(variant->model->type, self->uuid, err,
				  sizeof(err));
	ASSERT_EQ(0, ret) TH_LOG("create %s: %s", self->uuid, err);
	self->created = true;

	self->dev = vfiosim_dev_alloc();
	snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
	ret = self->dev ? vfiosim_dev_open(self->dev, spec) : -ENOMEM;
	if (!ret)
		self->devfd = find_device_fd();
	if (!ret && self->devfd < 0)
		ret = self->devfd;
	if (!ret) {
		ret = dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE |
				     VFIO_DEVICE_FEATURE_GET, 0,
				     &(struct dmabuf_req){ 0 });
		if (ret == -ENOTTY && !kernel_has_feature()) {
			vfiosim_dev_free(self->dev);
			self->dev = NULL;
			vfiosim_mdev_remove(self->uuid, err, sizeof(err));
			self->created = false;
			SKIP(return, "VFIO_DEVICE_FEATURE_DMA_BUF is in the VFIO uapi of 6.19+ only; this kernel answers ENOTTY, as vfio-pci does here");
		}
		if (ret)
			TH_LOG("PROBE | GET of DMA_BUF: %s", strerror(-ret));
	}
	if (ret) {
		vfiosim_dev_free(self->dev);
		self->dev = NULL;
		vfiosim_mdev_remove(self->uuid, err, sizeof(err));
		self->created = false;
	}
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(dmabuf)
{
	char err[256] = "";

	if (self->dev)
		vfiosim_dev_free(self->dev);
	self->dev = NULL;
	if (self->remover > 0)
		waitpid(self->remover, NULL, 0);
	if (self->created)
		EXPECT_EQ(0, vfiosim_mdev_remove(self->uuid, err, sizeof(err)))
			TH_LOG("remove %s: %s", self->uuid, err);
	self->created = false;
}

static struct dmabuf_req whole(uint64_t mmap_size)
{
	return (struct dmabuf_req){
		.region = BAR2,
		.open_flags = O_RDWR | O_CLOEXEC,
		.nr = 1,
		.r = { { 0, mmap_size } },
	};
}

/* PROBE answers as vfio_check_feature() does for a GET-only feature. */
TEST_F(dmabuf, probe)
{
	struct dmabuf_req none = { 0 };
	struct vfio_device_feature f = {
		.argsz = sizeof(f) - 1,
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_DMA_BUF,
	};

	EXPECT_EQ(0, dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE |
				    VFIO_DEVICE_FEATURE_GET, 0, &none));
	EXPECT_EQ(0, dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE,
				    0, &none));
	EXPECT_EQ(-EINVAL, dmabuf_feature(self->devfd,
					  VFIO_DEVICE_FEATURE_PROBE |
					  VFIO_DEVICE_FEATURE_SET, 0, &none));
	EXPECT_EQ(-EINVAL, dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_SET,
					  0, &none));
	/* neither GET nor SET, without PROBE */
	EXPECT_EQ(-EINVAL, dmabuf_feature(self->devfd, 0, 0, &none));
	/* the VFIO core's own header check */
	EXPECT_EQ(-1, ioctl(self->devfd, VFIO_DEVICE_FEATURE, &f));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dmabuf, get_returns_a_dmabuf)
{
	struct dmabuf_req req = whole(self->mmap_size);
	char why[256] = "";
	void *p;
	int fd;

	fd = dmabuf_get(self->devfd, &req);
	ASSERT_LE(0, fd) TH_LOG("GET: %s", strerror(-fd));
	EXPECT_TRUE(is_vfiosim_dmabuf(fd, self->mmap_size, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_EQ((off_t)self->mmap_size, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	/* no dma-buf mmap, as in vfio-pci: BAR2 is mmapped on the device */
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, close(fd));
}

/* Ranges are concatenated, may overlap, and open_flags go to the file. */
TEST_F(dmabuf, ranges_and_open_flags)
{
	struct dmabuf_req req = {
		.region = BAR2,
		.open_flags = O_RDONLY | O_NONBLOCK,
		.nr = 3,
		.r = { { PG, PG }, { 0, 2 * PG }, { self->mmap_size - PG, PG } },
	};
	char why[256] = "";
	int fd;

	fd = dmabuf_get(self->devfd, &req);
	ASSERT_LE(0, fd) TH_LOG("GET: %s", strerror(-fd));
	EXPECT_TRUE(is_vfiosim_dmabuf(fd, 4 * PG, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, close(fd));

	/* the ranges are read from the payload, as vfio-pci reads them */
	req = whole(self->mmap_size);
	fd = dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_GET,
			    sizeof(struct vfio_device_feature) +
			    sizeof(struct vfio_device_feature_dma_buf), &req);
	ASSERT_LE(0, fd) TH_LOG("GET, argsz of the header: %s", strerror(-fd));
	EXPECT_EQ(0, close(fd));
}

/* Every bad request gets vfio-pci's errno, and leaves no fd behind. */
TEST_F(dmabuf, bad_requests)
{
	const uint64_t m = self->mmap_size, bar = variant->model->bar2_size;
	const uint64_t top = 1ULL << 63;
	const struct {
		const char *what;
		int err;
		uint32_t argsz;
		struct dmabuf_req req;
	} cases[] = {
		{ "offset unaligned", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0x800, PG } } } },
		{ "length unaligned", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0, PG + 1 } } } },
		{ "length 0", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0, 0 } } } },
		{ "second range unaligned", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 2, { { 0, PG }, { PG, 0x10 } } } },
		{ "past the BAR", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { bar, PG } } } },
		{ "the trapped last page", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { m, PG } } } },
		{ "the whole BAR, trapped page and all", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0, bar } } } },
		{ "overlapping the end", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { m - PG, 2 * PG } } } },
		{ "a good range, then one past the end", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 2, { { 0, PG }, { m, PG } } } },
		{ "offset + length wraps", EOVERFLOW, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0ULL - PG, PG } } } },
		{ "total length wraps", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 2, { { 0, top }, { 0, top } } } },
		{ "total length of 2^63", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 1, { { 0, top } } } },
		{ "flags not 0", EINVAL, 0,
		  { BAR2, O_RDWR, 1, 1, { { 0, PG } } } },
		{ "nr_ranges 0", EINVAL, 0,
		  { BAR2, O_RDWR, 0, 0, { { 0, PG } } } },
		{ "BAR0, which cannot be mapped", EINVAL, 0,
		  { VFIO_PCI_BAR0_REGION_INDEX, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "BAR1, not implemented", ENODEV, 0,
		  { VFIO_PCI_BAR1_REGION_INDEX, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "BAR4, not implemented", ENODEV, 0,
		  { VFIO_PCI_BAR4_REGION_INDEX, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "the ROM", ENODEV, 0,
		  { VFIO_PCI_ROM_REGION_INDEX, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "config space", ENODEV, 0,
		  { VFIO_PCI_CONFIG_REGION_INDEX, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "region 1000", ENODEV, 0,
		  { 1000, O_RDWR, 0, 1, { { 0, PG } } } },
		{ "argsz short of the header", EINVAL,
		  sizeof(struct vfio_device_feature) + 8,
		  { BAR2, O_RDWR, 0, 1, { { 0, PG } } } },
	};
	struct dmabuf_req good = whole(self->mmap_size);
	size_t i;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = dmabuf_feature(self->devfd, VFIO_DEVICE_FEATURE_GET,
					 cases[i].argsz, &cases[i].req);

		EXPECT_EQ(-cases[i].err, ret)
			TH_LOG("%s: got %s, want %s", cases[i].what,
			       ret < 0 ? strerror(-ret) : "an fd",
			       strerror(cases[i].err));
		if (ret >= 0)
			close(ret);
	}
	/* and the device still exports */
	fd = dmabuf_get(self->devfd, &good);

	EXPECT_LE(0, fd) TH_LOG("GET: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
}

/*
 * Closing the device revokes its dma-bufs: their fds stay valid and
 * harmless, and hold the device no longer, so it can be removed at once.
 */
TEST_F_TIMEOUT(dmabuf, survives_close_and_removal, 120)
{
	struct dmabuf_req req = whole(self->mmap_size);
	char why[256] = "";
	int fds[8], i;
	pid_t pid;

	for (i = 0; i < 8; i++) {
		req.r[0].length = (i + 1) * PG;
		fds[i] = dmabuf_get(self->devfd, &req);
		ASSERT_LE(0, fds[i]) TH_LOG("GET %d: %s", i, strerror(-fds[i]));
	}
	/* one released before the close, by its own release */
	EXPECT_EQ(0, close(fds[0]));

	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	self->devfd = -1;

	for (i = 1; i < 8; i++) {
		EXPECT_TRUE(is_vfiosim_dmabuf(fds[i], (i + 1) * PG, why,
					      sizeof(why)))
			TH_LOG("after close: %s", why);
		EXPECT_EQ(MAP_FAILED, mmap(NULL, PG, PROT_READ, MAP_SHARED,
					   fds[i], 0));
	}
	/* one released between close and removal */
	EXPECT_EQ(0, close(fds[1]));

	pid = start_remover(self->uuid);
	ASSERT_LT(0, pid);
	self->remover = pid;
	self->created = false;
	EXPECT_TRUE(remover_done(pid, REMOVE_TIMEOUT_MS))
		TH_LOG("removal with dma-bufs open did not finish");
	self->remover = 0;
	EXPECT_FALSE(mdev_exists(self->uuid));

	/* the rest released after the device is gone */
	for (i = 2; i < 8; i++) {
		EXPECT_TRUE(is_vfiosim_dmabuf(fds[i], (i + 1) * PG, why,
					      sizeof(why)))
			TH_LOG("after removal: %s", why);
		EXPECT_EQ(0, close(fds[i]));
	}
}

/*
 * Removal of an open device asks its user to let go (REQ); once the user
 * closes the device, removal finishes although a dma-buf is still open.
 */
TEST_F_TIMEOUT(dmabuf, removal_while_open_with_dmabuf, 120)
{
	struct dmabuf_req req = whole(self->mmap_size);
	char why[256] = "";
	int fd, efd;
	pid_t pid;

	efd = efd_new();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, VFIO_PCI_REQ_IRQ_INDEX,
					     0, efd))
		TH_LOG("%s", vfiosim_dev_error(self->dev));
	fd = dmabuf_get(self->devfd, &req);
	ASSERT_LE(0, fd) TH_LOG("GET: %s", strerror(-fd));

	pid = start_remover(self->uuid);
	ASSERT_LT(0, pid);
	self->remover = pid;
	self->created = false;
	EXPECT_LE(1, efd_wait(efd, REQUEST_TIMEOUT_MS));

	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	self->devfd = -1;
	EXPECT_TRUE(remover_done(pid, REMOVE_TIMEOUT_MS))
		TH_LOG("removal did not finish after the device closed");
	self->remover = 0;
	EXPECT_FALSE(mdev_exists(self->uuid));

	EXPECT_TRUE(is_vfiosim_dmabuf(fd, self->mmap_size, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_EQ(0, close(fd));
	close(efd);
}

/* A reopened device exports again: the close left nothing behind. */
TEST_F(dmabuf, reopen_exports_again)
{
	struct dmabuf_req req = whole(self->mmap_size);
	char spec[128];
	int fd, fd2;

	fd = dmabuf_get(self->devfd, &req);
	ASSERT_LE(0, fd) TH_LOG("GET: %s", strerror(-fd));
	vfiosim_dev_free(self->dev);

	self->dev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->dev);
	snprintf(spec, sizeof(spec), "vfio:%s", self->uuid);
	ASSERT_EQ(0, vfiosim_dev_open(self->dev, spec))
		TH_LOG("%s", vfiosim_dev_error(self->dev));
	self->devfd = find_device_fd();
	ASSERT_LE(0, self->devfd);
	fd2 = dmabuf_get(self->devfd, &req);
	EXPECT_LE(0, fd2) TH_LOG("GET after reopen: %s", strerror(-fd2));
	if (fd2 >= 0)
		close(fd2);
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
