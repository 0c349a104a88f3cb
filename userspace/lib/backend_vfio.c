// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The "vfio" backend: the VFIO uapi through a group and a type1v2
 * container, as a VMM does it.
 *
 * Region offsets and sizes are read once at open so that a region access
 * costs exactly one pread/pwrite.  Everything else (bounds, argsz, flags)
 * goes to the kernel unchanged: the point is to see its answer.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfiosim.h>

#include "vfiosim_int.h"

_Static_assert(sizeof(off_t) == 8, "region offsets need a 64-bit off_t");

struct vfio_region_cache {
	uint64_t offset;	/* in the device fd */
	uint64_t size;
};

struct vfio_priv {
	int container_fd;
	int group_fd;
	int device_fd;
	int group;
	char group_path[32];
	uint32_t num_regions;
	struct vfio_region_cache *regions;
	int mig_fd;		/* the migration data fd, or -1 */
};

static struct vfio_priv *priv(struct vfiosim_dev *dev)
{
	return dev->priv;
}

static void vfio_close(struct vfiosim_dev *dev)
{
	struct vfio_priv *p = priv(dev);

	if (!p)
		return;
	if (p->mig_fd >= 0)
		close(p->mig_fd);
	/* Device first: the group can only leave the container after. */
	if (p->device_fd >= 0)
		close(p->device_fd);
	if (p->group_fd >= 0)
		close(p->group_fd);
	if (p->container_fd >= 0)
		close(p->container_fd);
	free(p->regions);
	free(p);
	dev->priv = NULL;
}

static int vfio_cache_regions(struct vfiosim_dev *dev)
{
	struct vfio_priv *p = priv(dev);
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	uint32_t i;

	if (ioctl(p->device_fd, VFIO_DEVICE_GET_INFO, &dinfo))
		return vfiosim_fail(dev, errno, "VFIO_DEVICE_GET_INFO: %s",
				    strerror(errno));
	p->num_regions = dinfo.num_regions;
	p->regions = calloc(dinfo.num_regions ? dinfo.num_regions : 1,
			    sizeof(*p->regions));
	if (!p->regions)
		return vfiosim_fail(dev, ENOMEM, "%u regions: out of memory",
				    dinfo.num_regions);
	for (i = 0; i < dinfo.num_regions; i++) {
		struct vfio_region_info rinfo = {
			.argsz = sizeof(rinfo),
			.index = i,
		};

		if (ioctl(p->device_fd, VFIO_DEVICE_GET_REGION_INFO, &rinfo))
			return vfiosim_fail(dev, errno,
					    "VFIO_DEVICE_GET_REGION_INFO region %u (%s): %s",
					    i, vfiosim_region_name(i),
					    strerror(errno));
		p->regions[i].offset = rinfo.offset;
		p->regions[i].size = rinfo.size;
	}
	return 0;
}

static int vfio_open(struct vfiosim_dev *dev, const char *target)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfiosim_mdev_info mdev;
	char uuid[VFIOSIM_UUID_LEN + 1];
	char err[VFIOSIM_ERR_LEN];
	struct vfio_priv *p;
	int ret, version;

	ret = vfiosim_uuid_check(target, uuid, err, sizeof(err));
	if (ret)
		return vfiosim_fail(dev, -ret, "%s", err);
	/* sysfs names the device in lower case; so must our messages. */
	snprintf(dev->name, sizeof(dev->name), "vfio:%s", uuid);

	ret = vfiosim_mdev_get(uuid, &mdev, err, sizeof(err));
	if (ret)
		return vfiosim_fail(dev, -ret, "%s", err);
	if (mdev.iommu_group < 0)
		return vfiosim_fail(dev, ENODEV,
				    "no iommu_group link under %s/bus/mdev/devices/%s",
				    vfiosim_sysfs_root(), uuid);

	p = calloc(1, sizeof(*p));
	if (!p)
		return vfiosim_fail(dev, ENOMEM, "out of memory");
	p->container_fd = p->group_fd = p->device_fd = p->mig_fd = -1;
	p->group = mdev.iommu_group;
	snprintf(p->group_path, sizeof(p->group_path), "/dev/vfio/%d",
		 p->group);
	dev->priv = p;

	p->group_fd = open(p->group_path, O_RDWR | O_CLOEXEC);
	if (p->group_fd < 0) {
		ret = vfiosim_fail(dev, errno, "open %s: %s", p->group_path,
				   strerror(errno));
		goto fail;
	}
	if (ioctl(p->group_fd, VFIO_GROUP_GET_STATUS, &status)) {
		ret = vfiosim_fail(dev, errno,
				   "VFIO_GROUP_GET_STATUS on %s: %s",
				   p->group_path, strerror(errno));
		goto fail;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = vfiosim_fail(dev, EPERM,
				   "group %s is not viable (a device in it is not bound to a VFIO driver)",
				   p->group_path);
		goto fail;
	}

	p->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (p->container_fd < 0) {
		ret = vfiosim_fail(dev, errno, "open /dev/vfio/vfio: %s",
				   strerror(errno));
		goto fail;
	}
	version = ioctl(p->container_fd, VFIO_GET_API_VERSION);
	if (version != VFIO_API_VERSION) {
		ret = vfiosim_fail(dev, version < 0 ? errno : EPROTO,
				   "VFIO_GET_API_VERSION on /dev/vfio/vfio: %d, expected %d",
				   version, VFIO_API_VERSION);
		goto fail;
	}
	if (ioctl(p->container_fd, VFIO_CHECK_EXTENSION,
		  VFIO_TYPE1v2_IOMMU) <= 0) {
		ret = vfiosim_fail(dev, EOPNOTSUPP,
				   "VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU) on /dev/vfio/vfio: not supported");
		goto fail;
	}
	/* SET_CONTAINER takes a pointer to the fd; SET_IOMMU a value. */
	if (ioctl(p->group_fd, VFIO_GROUP_SET_CONTAINER, &p->container_fd)) {
		ret = vfiosim_fail(dev, errno,
				   "VFIO_GROUP_SET_CONTAINER on %s: %s",
				   p->group_path, strerror(errno));
		goto fail;
	}
	if (ioctl(p->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		ret = vfiosim_fail(dev, errno,
				   "VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) on /dev/vfio/vfio: %s",
				   strerror(errno));
		goto fail;
	}
	p->device_fd = ioctl(p->group_fd, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (p->device_fd < 0) {
		ret = vfiosim_fail(dev, errno,
				   "VFIO_GROUP_GET_DEVICE_FD on %s: %s",
				   p->group_path, strerror(errno));
		p->device_fd = -1;
		goto fail;
	}
	ret = vfio_cache_regions(dev);
	if (ret)
		goto fail;
	return 0;

fail:
	vfio_close(dev);
	return ret;
}

/* The info ops hand the caller's struct, argsz and all, to the kernel. */
static int vfio_device_ioctl(struct vfiosim_dev *dev, unsigned long req,
			     const char *reqname, void *arg, const char *what)
{
	if (ioctl(priv(dev)->device_fd, req, arg))
		return vfiosim_fail(dev, errno, "%s%s: %s", reqname, what,
				    strerror(errno));
	return 0;
}

static int vfio_get_device_info(struct vfiosim_dev *dev,
				struct vfio_device_info *info)
{
	return vfio_device_ioctl(dev, VFIO_DEVICE_GET_INFO,
				 "VFIO_DEVICE_GET_INFO", info, "");
}

static int vfio_get_region_info(struct vfiosim_dev *dev,
				struct vfio_region_info *info)
{
	char what[64];

	snprintf(what, sizeof(what), " region %u (%s)", info->index,
		 vfiosim_region_name(info->index));
	return vfio_device_ioctl(dev, VFIO_DEVICE_GET_REGION_INFO,
				 "VFIO_DEVICE_GET_REGION_INFO", info, what);
}

static int vfio_get_irq_info(struct vfiosim_dev *dev,
			     struct vfio_irq_info *info)
{
	char what[32];

	snprintf(what, sizeof(what), " irq index %u", info->index);
	return vfio_device_ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO,
				 "VFIO_DEVICE_GET_IRQ_INFO", info, what);
}

static int vfio_set_irqs(struct vfiosim_dev *dev, struct vfio_irq_set *set)
{
	char what[96];

	snprintf(what, sizeof(what),
		 " irq index %u start %u count %u flags 0x%x", set->index,
		 set->start, set->count, set->flags);
	return vfio_device_ioctl(dev, VFIO_DEVICE_SET_IRQS,
				 "VFIO_DEVICE_SET_IRQS", set, what);
}

static int vfio_device_feature(struct vfiosim_dev *dev,
			       struct vfio_device_feature *feature)
{
	char what[32];

	snprintf(what, sizeof(what), " flags 0x%x", feature->flags);
	return vfio_device_ioctl(dev, VFIO_DEVICE_FEATURE,
				 "VFIO_DEVICE_FEATURE", feature, what);
}

static int vfio_reset(struct vfiosim_dev *dev)
{
	return vfio_device_ioctl(dev, VFIO_DEVICE_RESET, "VFIO_DEVICE_RESET",
				 NULL, "");
}

/*
 * Where region index/offset lives in the device fd.  Regions the device
 * did not report still go to the kernel at their vfio-pci style offset, so
 * that it is the kernel which refuses them.  An offset that would spill
 * into the next region's window is refused here: the kernel could not tell.
 */
static int vfio_region_pos(struct vfiosim_dev *dev, const char *what,
			   uint32_t index, uint64_t offset, uint64_t *pos,
			   uint64_t *size)
{
	const struct vfio_priv *p = priv(dev);
	uint64_t base;

	if (index < p->num_regions) {
		base = p->regions[index].offset;
		*size = p->regions[index].size;
	} else if (index < (1U << (63 - VFIOSIM_REGION_SHIFT))) {
		base = VFIOSIM_REGION_OFFSET(index);
		*size = 0;
	} else {
		return vfiosim_fail(dev, EINVAL,
				    "%s region %u: no such region (device has %u)",
				    what, index, p->num_regions);
	}
	if (offset >= VFIOSIM_REGION_OFFSET(1))
		return vfiosim_fail(dev, EINVAL,
				    "%s region %u (%s): offset 0x%llx beyond the region window",
				    what, index, vfiosim_region_name(index),
				    (unsigned long long)offset);
	*pos = base + offset;
	return 0;
}

static int vfio_region_fail(struct vfiosim_dev *dev, const char *what,
			    uint32_t index, uint64_t offset, size_t count,
			    uint64_t size, int err)
{
	char msg[VFIOSIM_ERR_LEN];

	if (index >= priv(dev)->num_regions)
		return vfiosim_fail(dev, err,
				    "%s region %u: no such region (device has %u): %s",
				    what, index, priv(dev)->num_regions,
				    strerror(err));
	vfiosim_format_region_err(msg, sizeof(msg), what, index, offset,
				  count, size, err);
	return vfiosim_fail(dev, err, "%s", msg);
}

static ssize_t vfio_region_read(struct vfiosim_dev *dev, uint32_t index,
				uint64_t offset, void *buf, size_t count)
{
	uint64_t pos = 0, size = 0;
	ssize_t n;
	int ret;

	ret = vfio_region_pos(dev, "read", index, offset, &pos, &size);
	if (ret)
		return ret;
	n = pread(priv(dev)->device_fd, buf, count, (off_t)pos);
	if (n < 0)
		return vfio_region_fail(dev, "read", index, offset, count,
					size, errno);
	return n;
}

static ssize_t vfio_region_write(struct vfiosim_dev *dev, uint32_t index,
				 uint64_t offset, const void *buf,
				 size_t count)
{
	uint64_t pos = 0, size = 0;
	ssize_t n;
	int ret;

	ret = vfio_region_pos(dev, "write", index, offset, &pos, &size);
	if (ret)
		return ret;
	n = pwrite(priv(dev)->device_fd, buf, count, (off_t)pos);
	if (n < 0)
		return vfio_region_fail(dev, "write", index, offset, count,
					size, errno);
	return n;
}

static uint64_t vfio_region_size(struct vfiosim_dev *dev, uint32_t index)
{
	const struct vfio_priv *p = priv(dev);

	return index < p->num_regions ? p->regions[index].size : 0;
}

/*
 * VFIO has no posted writes: a plain pwrite, whose error (unlike
 * vfio-user's) is known at once; a short one is -EIO.
 */
static int vfio_region_write_posted(struct vfiosim_dev *dev, uint32_t index,
				    uint64_t offset, const void *buf,
				    size_t count)
{
	uint64_t size = vfio_region_size(dev, index);
	ssize_t n;

	if (index < priv(dev)->num_regions &&
	    (count > size || offset > size - count))
		return vfio_region_fail(dev, "posted write", index, offset,
					count, size, EINVAL);
	n = vfio_region_write(dev, index, offset, buf, count);
	if (n >= 0 && (size_t)n != count)
		return vfiosim_fail(dev, EIO,
				    "posted write region %u (%s) offset 0x%llx: %zd of %zu bytes written",
				    index, vfiosim_region_name(index),
				    (unsigned long long)offset, n, count);
	return n < 0 ? (int)n : 0;
}

/*
 * The VFIO uapi has no batch: one pwrite each, in order, once every write
 * is known to fit its region, so a bad one fails the batch unwritten.
 */
static int vfio_region_write_multi(struct vfiosim_dev *dev,
				   const struct vfiosim_write_op *ops,
				   size_t n)
{
	size_t i;
	ssize_t ret;

	ret = vfiosim_write_ops_check(dev, ops, n, vfio_region_size);
	if (ret)
		return (int)ret;
	for (i = 0; i < n; i++) {
		uint64_t le = htole64(ops[i].data);

		ret = vfio_region_write(dev, ops[i].region, ops[i].offset, &le,
					ops[i].count);
		if (ret < 0)
			return (int)ret;
		if ((size_t)ret != ops[i].count)
			return vfiosim_fail(dev, EIO,
					    "write region %u (%s) offset 0x%llx: short write (%zd of %u bytes)",
					    ops[i].region,
					    vfiosim_region_name(ops[i].region),
					    (unsigned long long)ops[i].offset,
					    ret, ops[i].count);
	}
	return 0;
}

static int vfio_region_mmap(struct vfiosim_dev *dev, uint32_t index,
			    uint64_t offset, size_t len, int prot,
			    void **addr)
{
	uint64_t pos = 0, size = 0;
	void *map;
	int ret;

	ret = vfio_region_pos(dev, "mmap", index, offset, &pos, &size);
	if (ret)
		return ret;
	map = mmap(NULL, len, prot, MAP_SHARED, priv(dev)->device_fd,
		   (off_t)pos);
	if (map == MAP_FAILED)
		return vfio_region_fail(dev, "mmap", index, offset, len, size,
					errno);
	*addr = map;
	return 0;
}

static int vfio_dma_map(struct vfiosim_dev *dev,
			const struct vfiosim_dma_map *map)
{
	struct vfio_iommu_type1_dma_map dma = {
		.argsz = sizeof(dma),
		.flags = map->flags,
		.vaddr = (uint64_t)(uintptr_t)map->vaddr,
		.iova = map->iova,
		.size = map->size,
	};

	if (ioctl(priv(dev)->container_fd, VFIO_IOMMU_MAP_DMA, &dma))
		return vfiosim_fail(dev, errno,
				    "VFIO_IOMMU_MAP_DMA iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)map->iova,
				    (unsigned long long)map->size,
				    strerror(errno));
	return 0;
}

static int vfio_dma_unmap(struct vfiosim_dev *dev, uint64_t iova,
			  uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap dma = {
		.argsz = sizeof(dma),
		.flags = flags,
		.iova = iova,
		.size = size,
	};

	if (ioctl(priv(dev)->container_fd, VFIO_IOMMU_UNMAP_DMA, &dma))
		return vfiosim_fail(dev, errno,
				    "VFIO_IOMMU_UNMAP_DMA iova 0x%llx size 0x%llx: %s",
				    (unsigned long long)iova,
				    (unsigned long long)size, strerror(errno));
	return 0;
}

/*
 * The data fd of a saving or resuming state is kept until a state that
 * has none: STOP_COPY after PRE_COPY goes on with the same fd.
 */
static int vfio_mig_set_state(struct vfiosim_dev *dev, uint32_t state)
{
	struct vfio_priv *p = priv(dev);
	struct vfiosim_mig_state_set f;

	vfiosim_mig_state_set_init(&f, state);
	if (ioctl(p->device_fd, VFIO_DEVICE_FEATURE, &f))
		return vfiosim_fail(dev, errno,
				    "VFIO_DEVICE_FEATURE MIG_DEVICE_STATE to %u: %s",
				    state, strerror(errno));
	/* PRE_COPY -> STOP_COPY (or a state to itself) goes on with it */
	if (f.mig.data_fd >= 0 ||
	    (state != VFIO_DEVICE_STATE_STOP_COPY &&
	     state != VFIO_DEVICE_STATE_PRE_COPY &&
	     state != VFIO_DEVICE_STATE_PRE_COPY_P2P &&
	     state != VFIO_DEVICE_STATE_RESUMING)) {
		if (p->mig_fd >= 0)
			close(p->mig_fd);
		p->mig_fd = f.mig.data_fd;
	}
	return 0;
}

static int vfio_mig_fd(struct vfiosim_dev *dev, const char *what)
{
	if (priv(dev)->mig_fd < 0)
		return vfiosim_fail(dev, EINVAL,
				    "%s: no migration data fd (not in a saving or resuming state)",
				    what);
	return priv(dev)->mig_fd;
}

static ssize_t vfio_mig_read(struct vfiosim_dev *dev, void *buf, size_t len)
{
	int fd = vfio_mig_fd(dev, "migration read");
	ssize_t n;

	if (fd < 0)
		return fd;
	n = read(fd, buf, len);
	if (n < 0)
		return vfiosim_fail(dev, errno, "migration read of %zu bytes: %s",
				    len, strerror(errno));
	return n;
}

static ssize_t vfio_mig_write(struct vfiosim_dev *dev, const void *buf,
			      size_t len)
{
	int fd = vfio_mig_fd(dev, "migration write");
	size_t done = 0;

	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vfiosim_fail(dev, n ? errno : EIO,
					    "migration write of %zu bytes at %zu: %s",
					    len, done,
					    n ? strerror(errno) : "wrote nothing");
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int vfio_mig_precopy_info(struct vfiosim_dev *dev, uint64_t *initial,
				 uint64_t *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int fd = vfio_mig_fd(dev, "VFIO_MIG_GET_PRECOPY_INFO");

	if (fd < 0)
		return fd;
	if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return vfiosim_fail(dev, errno, "VFIO_MIG_GET_PRECOPY_INFO: %s",
				    strerror(errno));
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

const struct vfiosim_io_ops vfiosim_vfio_ops = {
	.name = "vfio",
	.open = vfio_open,
	.close = vfio_close,
	.get_device_info = vfio_get_device_info,
	.get_region_info = vfio_get_region_info,
	.get_irq_info = vfio_get_irq_info,
	.set_irqs = vfio_set_irqs,
	.region_read = vfio_region_read,
	.region_write = vfio_region_write,
	.region_mmap = vfio_region_mmap,
	.device_feature = vfio_device_feature,
	.reset = vfio_reset,
	.dma_map = vfio_dma_map,
	.dma_unmap = vfio_dma_unmap,
	.region_write_multi = vfio_region_write_multi,
	.region_write_posted = vfio_region_write_posted,
	.mig_set_state = vfio_mig_set_state,
	.mig_read = vfio_mig_read,
	.mig_write = vfio_mig_write,
	.mig_precopy_info = vfio_mig_precopy_info,
};
