/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vfiosim selftests.  Nothing here includes the
 * kselftest harness: helpers return values or -errno and the test bodies
 * assert on them, so every failure is reported at the line that checks it.
 *
 * Everything goes through libvfiosim, never a backend directly, so that a
 * test body runs unchanged over every backend.
 */
#ifndef VFIOSIM_UTIL_H
#define VFIOSIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>
#include <linux/vfiosim.h>

#include "vfiosim.h"

/*
 * Where the module's mdev parent appears once it is loaded, and where mdev
 * devices live, relative to the sysfs root.  The root is /sys unless
 * VFIOSIM_SYSFS_ROOT says otherwise, as for libvfiosim.
 */
#define VFIOSIM_PARENT_SYSFS	"class/mdev_bus/" VFIOSIM_NAME
#define MDEV_DEVICES_SYSFS	"bus/mdev/devices"

/* "<sysfs root>/<rel>" into buf. */
const char *sysfs_path(char *buf, size_t len, const char *rel);

/*
 * How long an interrupt that must fire may take to arrive, and how long an
 * eventfd that must stay quiet is watched.  VFIO signals from within the
 * ioctl/write that causes it; other backends may deliver a little later.
 */
#define IRQ_FIRE_TIMEOUT_MS	2000
#define IRQ_QUIET_MS		20

/* What one mdev type must look like, all from uapi/linux/vfiosim.h. */
struct vfiosim_model {
	const char *type;		/* mdev type id */
	uint16_t device_id;		/* also the subsystem ID */
	uint64_t bar2_size;
	uint32_t msi_vectors;
	uint32_t msix_vectors;
};

extern const struct vfiosim_model vfiosim_small_model;
extern const struct vfiosim_model vfiosim_full_model;

/* Vectors of a VFIO IRQ index for this model (INTx, ERR, REQ: 1). */
uint32_t model_irq_count(const struct vfiosim_model *model, uint32_t index);

/* "/sys/bus/mdev/devices/<uuid>" exists. */
bool mdev_exists(const char *uuid);

/* Non-blocking eventfd, or -errno. */
int efd_new(void);
void efd_close_all(int *fds, unsigned int n);
/*
 * Wait up to timeout_ms for fd to be signalled; consume and return its
 * counter (how many signals were folded into it), 0 if none came.
 */
uint64_t efd_wait(int fd, int timeout_ms);
/*
 * Wait until every eventfd in expect_mask fired (or IRQ_FIRE_TIMEOUT_MS),
 * then keep watching all of them for IRQ_QUIET_MS so that a stray signal is
 * caught too.  Returns the mask of eventfds that fired; counts[i] (if
 * counts is not NULL) gets the number of signals fd i received.
 */
uint64_t efd_wait_mask(const int *fds, unsigned int n, uint64_t expect_mask,
		       uint64_t *counts);

/* VFIO_DEVICE_SET_IRQS with data of data_len bytes after the header. */
int irq_set(struct vfiosim_dev *dev, uint32_t index, uint32_t flags,
	    uint32_t start, uint32_t count, const void *data,
	    size_t data_len);
/* Register fds[0..n) as triggers of vectors 0..n) of index. */
int irq_enable(struct vfiosim_dev *dev, uint32_t index, const int *fds,
	       uint32_t n);
/* DATA_NONE with one action (MASK, UNMASK, TRIGGER) on a vector range. */
int irq_action(struct vfiosim_dev *dev, uint32_t index, uint32_t action,
	       uint32_t start, uint32_t count);
/* DATA_NONE | ACTION_TRIGGER with count 0: tear the index down. */
int irq_disable(struct vfiosim_dev *dev, uint32_t index);
/*
 * Create n eventfds into fds[] and register them for vectors 0..n) of
 * index.  On failure nothing stays open.
 */
int irq_enable_new(struct vfiosim_dev *dev, uint32_t index, int *fds,
		   uint32_t n);

/* BAR0 register access. */
int bar0_read(struct vfiosim_dev *dev, uint32_t reg, uint32_t *val);
int bar0_write(struct vfiosim_dev *dev, uint32_t reg, uint32_t val);
int ring_doorbell(struct vfiosim_dev *dev, uint32_t vector);
/* The MSI-X PBA bit of vector, read from BAR0: 0, 1 or -errno. */
int msix_pending(struct vfiosim_dev *dev, uint32_t vector);

/*
 * A little-endian access of size (1..8) bytes to any region; 0 or -errno
 * (-EIO if the op moved fewer bytes than asked).
 */
int region_read_le(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		   unsigned int size, uint64_t *val);
int region_write_le(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		    unsigned int size, uint64_t val);

/*
 * Value-returning reads for assertions.  A failed read returns a poison
 * value (0xdeadbeef, truncated to the size) no check expects.
 */
uint32_t reg32(struct vfiosim_dev *dev, uint32_t reg);
uint32_t cfg8(struct vfiosim_dev *dev, uint32_t off);
uint32_t cfg16(struct vfiosim_dev *dev, uint32_t off);
uint32_t cfg32(struct vfiosim_dev *dev, uint32_t off);

/* Config space access of 1, 2 or 4 bytes. */
int cfg_read(struct vfiosim_dev *dev, uint32_t off, unsigned int size,
	     uint32_t *val);
int cfg_write(struct vfiosim_dev *dev, uint32_t off, unsigned int size,
	      uint32_t val);

/*
 * VFIO_DEVICE_GET_REGION_INFO with room for the capability chain: asks
 * once, grows the buffer to the argsz the device asks for, asks again.
 * *info is malloc()ed; free() it.
 */
int region_info_get(struct vfiosim_dev *dev, uint32_t index,
		    struct vfio_region_info **info);
/* Region size from region info, or -errno. */
int64_t region_size(struct vfiosim_dev *dev, uint32_t index);

/*
 * BAR2's trapped tail on this host: VFIOSIM_BAR2_TRAPPED_SIZE, or a page
 * where pages are bigger.  Tests derive sizes from this and the region
 * info, never from the constant alone.
 */
uint64_t bar2_trapped_size(void);
/* BAR2's one sparse-mmap area (offset, size) from its region info. */
int bar2_sparse_area(struct vfiosim_dev *dev, uint64_t *offset,
		     uint64_t *size);

/*
 * Touch *addr (read, or write if write) in a child process: the signal
 * that killed it (SIGBUS for a revoked mapping), 0 if the access worked,
 * -1 if the child could not be run.
 */
int touch_in_child(volatile uint64_t *addr, bool write);

/* VFIO_DEVICE_FEATURE with no payload. */
int device_feature(struct vfiosim_dev *dev, uint32_t flags, uint32_t argsz);

/*
 * DMA test memory: a memfd of size bytes mapped shared, so that VFIO
 * (which maps its address) and vfio-user (which maps its fd) reach the
 * same pages the test checks.  dma_mem_free() is safe after any failure
 * of dma_mem_new().
 */
struct dma_mem {
	int fd;
	uint8_t *va;
	size_t size;
};

int dma_mem_new(struct dma_mem *m, size_t size);
void dma_mem_free(struct dma_mem *m);
/* DMA_MAP [off, off + size) of the memfd at iova (VFIO_DMA_MAP_FLAG_*). */
int dma_mem_map(struct vfiosim_dev *dev, const struct dma_mem *m,
		uint64_t iova, uint64_t off, uint64_t size, uint32_t flags);
/* Write the DMA registers (SRC, DST, LEN, OP, PATTERN, VECTOR). */
int dma_program(struct vfiosim_dev *dev, uint64_t src, uint64_t dst,
		uint32_t len, uint32_t op, uint64_t pattern, uint32_t vector);
/* dma_program(), then GO. */
int dma_go(struct vfiosim_dev *dev, uint64_t src, uint64_t dst, uint32_t len,
	   uint32_t op, uint64_t pattern, uint32_t vector);
/*
 * DMA_STATUS once it is not BUSY, polled every millisecond for up to
 * timeout_ms: VFIOSIM_DMA_STATUS_BUSY if it still was.
 */
uint32_t dma_status_wait(struct vfiosim_dev *dev, int timeout_ms);

#endif /* VFIOSIM_UTIL_H */
