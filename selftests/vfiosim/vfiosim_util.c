// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the vfiosim selftests; see vfiosim_util.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vfiosim_util.h"

const struct vfiosim_model vfiosim_small_model = {
	.type = "vfiosim-small",
	.device_id = VFIOSIM_PCI_DEVICE_SMALL,
	.bar2_size = VFIOSIM_BAR2_SIZE_SMALL,
	.msi_vectors = VFIOSIM_MSI_VECTORS_SMALL,
	.msix_vectors = VFIOSIM_MSIX_VECTORS_SMALL,
};

const struct vfiosim_model vfiosim_full_model = {
	.type = "vfiosim-full",
	.device_id = VFIOSIM_PCI_DEVICE_FULL,
	.bar2_size = VFIOSIM_BAR2_SIZE_FULL,
	.msi_vectors = VFIOSIM_MSI_VECTORS_FULL,
	.msix_vectors = VFIOSIM_MSIX_VECTORS_FULL,
};

uint32_t model_irq_count(const struct vfiosim_model *model, uint32_t index)
{
	switch (index) {
	case VFIO_PCI_MSI_IRQ_INDEX:
		return model->msi_vectors;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return model->msix_vectors;
	case VFIO_PCI_INTX_IRQ_INDEX:
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

const char *sysfs_path(char *buf, size_t len, const char *rel)
{
	const char *root = getenv("VFIOSIM_SYSFS_ROOT");

	snprintf(buf, len, "%s/%s", root && *root ? root : "/sys", rel);
	return buf;
}

bool mdev_exists(const char *uuid)
{
	char rel[128], path[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s", MDEV_DEVICES_SYSFS, uuid);
	return access(sysfs_path(path, sizeof(path), rel), F_OK) == 0;
}

int efd_new(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void efd_close_all(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read (and so reset) a non-blocking eventfd's counter; 0 if unsignalled. */
static uint64_t efd_consume(int fd)
{
	uint64_t val;

	if (read(fd, &val, sizeof(val)) != sizeof(val))
		return 0;
	return val;
}

uint64_t efd_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = now_ms() + timeout_ms;
	int64_t left = timeout_ms;

	for (;;) {
		int ret = poll(&pfd, 1, (int)left);

		if (ret > 0)
			return efd_consume(fd);
		if (ret < 0 && errno != EINTR)
			return 0;
		left = end - now_ms();
		if (ret == 0 || left <= 0)
			return 0;
	}
}

#define EFD_WAIT_MAX	64

uint64_t efd_wait_mask(const int *fds, unsigned int n, uint64_t expect_mask,
		       uint64_t *counts)
{
	struct pollfd pfd[EFD_WAIT_MAX];
	bool settling = expect_mask == 0;
	int64_t end = now_ms() + (settling ? IRQ_QUIET_MS : IRQ_FIRE_TIMEOUT_MS);
	uint64_t fired = 0;
	unsigned int i;

	if (n > EFD_WAIT_MAX)
		return UINT64_MAX;	/* a caller bug: make any check fail */
	if (counts)
		memset(counts, 0, n * sizeof(*counts));

	for (;;) {
		int64_t left = end - now_ms();
		int ret;

		if (left <= 0) {
			if (settling)
				break;
			/* The expected ones never came: report what did. */
			settling = true;
			end = now_ms() + IRQ_QUIET_MS;
			continue;
		}
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		ret = poll(pfd, n, (int)left);
		if (ret < 0 && errno != EINTR)
			return UINT64_MAX;
		for (i = 0; ret > 0 && i < n; i++) {
			uint64_t val;

			if (!(pfd[i].revents & POLLIN))
				continue;
			val = efd_consume(fds[i]);
			if (!val)
				continue;
			fired |= 1ULL << i;
			if (counts)
				counts[i] += val;
		}
		if (!settling && (fired & expect_mask) == expect_mask) {
			settling = true;
			end = now_ms() + IRQ_QUIET_MS;
		}
	}
	return fired;
}

int irq_set(struct vfiosim_dev *dev, uint32_t index, uint32_t flags,
	    uint32_t start, uint32_t count, const void *data,
	    size_t data_len)
{
	struct vfio_irq_set *set;
	int ret;

	set = calloc(1, sizeof(*set) + data_len);
	if (!set)
		return -ENOMEM;
	set->argsz = sizeof(*set) + data_len;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (data_len)
		memcpy(set->data, data, data_len);
	ret = vfiosim_set_irqs(dev, set);
	free(set);
	return ret;
}

int irq_enable(struct vfiosim_dev *dev, uint32_t index, const int *fds,
	       uint32_t n)
{
	int32_t data[VFIOSIM_MAX_VECTORS] = { 0 };
	uint32_t i;

	if (n > VFIOSIM_MAX_VECTORS)
		return -E2BIG;
	for (i = 0; i < n; i++)
		data[i] = fds[i];
	return irq_set(dev, index,
		       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		       0, n, data, n * sizeof(data[0]));
}

int irq_action(struct vfiosim_dev *dev, uint32_t index, uint32_t action,
	       uint32_t start, uint32_t count)
{
	return irq_set(dev, index, VFIO_IRQ_SET_DATA_NONE | action, start,
		       count, NULL, 0);
}

int irq_disable(struct vfiosim_dev *dev, uint32_t index)
{
	return irq_action(dev, index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0);
}

int irq_enable_new(struct vfiosim_dev *dev, uint32_t index, int *fds,
		   uint32_t n)
{
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++)
		fds[i] = -1;
	for (i = 0; i < n; i++) {
		ret = efd_new();
		if (ret < 0)
			goto fail;
		fds[i] = ret;
	}
	ret = irq_enable(dev, index, fds, n);
	if (!ret)
		return 0;
fail:
	efd_close_all(fds, n);
	return ret;
}

int bar0_read(struct vfiosim_dev *dev, uint32_t reg, uint32_t *val)
{
	return vfiosim_read32(dev, VFIO_PCI_BAR0_REGION_INDEX, reg, val);
}

int bar0_write(struct vfiosim_dev *dev, uint32_t reg, uint32_t val)
{
	return vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, reg, val);
}

int ring_doorbell(struct vfiosim_dev *dev, uint32_t vector)
{
	return bar0_write(dev, VFIOSIM_REG_DOORBELL, vector);
}

int msix_pending(struct vfiosim_dev *dev, uint32_t vector)
{
	uint32_t pba;
	int ret;

	ret = bar0_read(dev, VFIOSIM_MSIX_PBA_OFFSET + 4 * (vector / 32), &pba);
	if (ret)
		return ret;
	return (pba >> (vector % 32)) & 1;
}

int region_read_le(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		   unsigned int size, uint64_t *val)
{
	uint8_t buf[8] = { 0 };
	unsigned int i;
	ssize_t n;

	if (!size || size > sizeof(buf))
		return -EINVAL;
	n = vfiosim_region_read(dev, index, offset, buf, size);
	if (n < 0)
		return (int)n;
	if ((size_t)n != size)
		return -EIO;
	/* PCI is little-endian, whatever the host is. */
	*val = 0;
	for (i = 0; i < size; i++)
		*val |= (uint64_t)buf[i] << (8 * i);
	return 0;
}

int region_write_le(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		    unsigned int size, uint64_t val)
{
	uint8_t buf[8];
	unsigned int i;
	ssize_t n;

	if (!size || size > sizeof(buf))
		return -EINVAL;
	for (i = 0; i < size; i++)
		buf[i] = val >> (8 * i);
	n = vfiosim_region_write(dev, index, offset, buf, size);
	if (n < 0)
		return (int)n;
	return (size_t)n == size ? 0 : -EIO;
}

int cfg_read(struct vfiosim_dev *dev, uint32_t off, unsigned int size,
	     uint32_t *val)
{
	uint64_t v = 0;
	int ret;

	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	ret = region_read_le(dev, VFIO_PCI_CONFIG_REGION_INDEX, off, size, &v);
	if (!ret)
		*val = (uint32_t)v;
	return ret;
}

int cfg_write(struct vfiosim_dev *dev, uint32_t off, unsigned int size,
	      uint32_t val)
{
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	return region_write_le(dev, VFIO_PCI_CONFIG_REGION_INDEX, off, size,
			       val);
}

#define READ_POISON	0xdeadbeef

uint32_t reg32(struct vfiosim_dev *dev, uint32_t reg)
{
	uint32_t val = 0;

	return bar0_read(dev, reg, &val) ? READ_POISON : val;
}

static uint32_t cfg_peek(struct vfiosim_dev *dev, uint32_t off,
			 unsigned int size)
{
	uint32_t val = 0;

	if (cfg_read(dev, off, size, &val))
		return READ_POISON & (size == 4 ? 0xffffffff : (1U << 8 * size) - 1);
	return val;
}

uint32_t cfg8(struct vfiosim_dev *dev, uint32_t off)
{
	return cfg_peek(dev, off, 1);
}

uint32_t cfg16(struct vfiosim_dev *dev, uint32_t off)
{
	return cfg_peek(dev, off, 2);
}

uint32_t cfg32(struct vfiosim_dev *dev, uint32_t off)
{
	return cfg_peek(dev, off, 4);
}

int region_info_get(struct vfiosim_dev *dev, uint32_t index,
		    struct vfio_region_info **out)
{
	uint32_t argsz = sizeof(struct vfio_region_info);
	int tries;

	/* The chain cannot grow between calls; a third ask means a bug. */
	for (tries = 0; tries < 3; tries++) {
		struct vfio_region_info *info = calloc(1, argsz);
		int ret;

		if (!info)
			return -ENOMEM;
		info->argsz = argsz;
		info->index = index;
		ret = vfiosim_get_region_info(dev, info);
		if (ret) {
			free(info);
			return ret;
		}
		if (info->argsz <= argsz) {
			*out = info;
			return 0;
		}
		argsz = info->argsz;
		free(info);
	}
	return -EMSGSIZE;
}

int64_t region_size(struct vfiosim_dev *dev, uint32_t index)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = index,
	};
	int ret;

	ret = vfiosim_get_region_info(dev, &info);
	if (ret)
		return ret;
	if (info.size > INT64_MAX)
		return -ERANGE;
	return (int64_t)info.size;
}

int device_feature(struct vfiosim_dev *dev, uint32_t flags, uint32_t argsz)
{
	/* Room for a payload, so that a large argsz is never a lie. */
	union {
		struct vfio_device_feature feature;
		uint8_t raw[sizeof(struct vfio_device_feature) + 64];
	} u;

	memset(&u, 0, sizeof(u));
	if (argsz > sizeof(u))
		return -E2BIG;
	u.feature.argsz = argsz;
	u.feature.flags = flags;
	return vfiosim_device_feature(dev, &u.feature);
}

uint64_t bar2_trapped_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > VFIOSIM_BAR2_TRAPPED_SIZE ? (uint64_t)page :
						  VFIOSIM_BAR2_TRAPPED_SIZE;
}

int bar2_sparse_area(struct vfiosim_dev *dev, uint64_t *offset,
		     uint64_t *size)
{
	const struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_region_info *info;
	int ret;

	ret = region_info_get(dev, VFIO_PCI_BAR2_REGION_INDEX, &info);
	if (ret)
		return ret;
	sparse = (const void *)vfiosim_region_info_cap(info,
				VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (!sparse || sparse->nr_areas != 1) {
		ret = -ENOENT;
	} else {
		*offset = sparse->areas[0].offset;
		*size = sparse->areas[0].size;
	}
	free(info);
	return ret;
}

int touch_in_child(volatile uint64_t *addr, bool write)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		/* The default action, not a sanitizer's report. */
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		if (write)
			*addr = 0x5555aaaa5555aaaaULL;
		else
			(void)*addr;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

int dma_mem_new(struct dma_mem *m, size_t size)
{
	m->size = size;
	m->va = NULL;
	m->fd = memfd_create("vfiosim-dma", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, size))
		return -errno;
	m->va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->va == MAP_FAILED) {
		m->va = NULL;
		return -errno;
	}
	return 0;
}

void dma_mem_free(struct dma_mem *m)
{
	if (m->va)
		munmap(m->va, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->va = NULL;
	m->fd = -1;
}

int dma_mem_map(struct vfiosim_dev *dev, const struct dma_mem *m,
		uint64_t iova, uint64_t off, uint64_t size, uint32_t flags)
{
	struct vfiosim_dma_map dm = {
		.iova = iova,
		.size = size,
		.vaddr = m->va + off,
		.fd = m->fd,
		.offset = off,
		.flags = flags,
	};

	return vfiosim_dma_map(dev, &dm);
}

int dma_program(struct vfiosim_dev *dev, uint64_t src, uint64_t dst,
		uint32_t len, uint32_t op, uint64_t pattern, uint32_t vector)
{
	static const uint32_t regs[] = {
		VFIOSIM_REG_DMA_SRC_LO, VFIOSIM_REG_DMA_SRC_HI,
		VFIOSIM_REG_DMA_DST_LO, VFIOSIM_REG_DMA_DST_HI,
		VFIOSIM_REG_DMA_LEN, VFIOSIM_REG_DMA_OP,
		VFIOSIM_REG_DMA_PATTERN_LO, VFIOSIM_REG_DMA_PATTERN_HI,
		VFIOSIM_REG_DMA_VECTOR,
	};
	const uint32_t vals[] = {
		(uint32_t)src, (uint32_t)(src >> 32),
		(uint32_t)dst, (uint32_t)(dst >> 32),
		len, op, (uint32_t)pattern, (uint32_t)(pattern >> 32),
		vector,
	};
	size_t i;
	int ret;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		ret = bar0_write(dev, regs[i], vals[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int dma_go(struct vfiosim_dev *dev, uint64_t src, uint64_t dst, uint32_t len,
	   uint32_t op, uint64_t pattern, uint32_t vector)
{
	int ret = dma_program(dev, src, dst, len, op, pattern, vector);

	return ret ? ret : bar0_write(dev, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO);
}

uint32_t dma_status_wait(struct vfiosim_dev *dev, int timeout_ms)
{
	uint32_t status = VFIOSIM_DMA_STATUS_BUSY;
	int i;

	for (i = 0; i <= timeout_ms; i++) {
		status = reg32(dev, VFIOSIM_REG_DMA_STATUS);
		if (status != VFIOSIM_DMA_STATUS_BUSY)
			break;
		poll(NULL, 0, 1);
	}
	return status;
}
