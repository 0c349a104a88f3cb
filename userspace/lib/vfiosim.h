/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim: drive a vfiosim device through one IO ops vector.
 *
 * A device is opened from one string that names the backend and the device:
 *   vfio:<uuid>     the VFIO uapi (group + container, type1v2)
 *   netlink:<uuid>  vfio-user over the "vfiosim" generic netlink family
 *   unix:<path>     vfio-user over a UNIX socket (vfiosim-userd)
 * Callers never see which backend they use; every op has the same meaning
 * and the same errors on each.
 *
 * Errors, one convention for the whole API (audited: no function returns
 * -1 with errno, and errno is not part of the API):
 *  - a function returning int returns 0 (vfiosim_monitor_fd: the fd) on
 *    success and a negative errno on failure;
 *  - one returning ssize_t returns the byte count or a negative errno;
 *  - vfiosim_dev_alloc returns NULL when out of memory; the functions
 *    returning strings and void never fail;
 *  - the reason: for a device, vfiosim_dev_error() (below); for the
 *    management calls, which have no device, the caller's err/errlen.
 * On failure vfiosim_dev_error(), called from the same thread,
 * returns a message naming the device, region or register involved: each
 * thread sees its own last error on that device ("" if it had none),
 * however many threads fail on it.  The string stays valid until that
 * thread's next failing call on the device or vfiosim_dev_free(); the
 * memory for it (about 0.5 KiB a failing thread) is kept until then, and
 * a new thread given an exited one's pthread_t inherits its message.
 * The library has no global state; a struct vfiosim_dev may be
 * used by one thread at a time, except that region reads and writes may
 * come from several threads at once (as a VMM's vCPUs do).
 *
 * Checked locally, the same on every backend: a NULL dev is -EINVAL, an op
 * on a device that is not open -EBADF, a NULL buffer -EFAULT, a malformed
 * spec or uuid -EINVAL, a backend not built yet -EPROTONOSUPPORT.  All
 * else (region bounds, argsz, flags) is the kernel's (or server's) answer.
 */
#ifndef VFIOSIM_LIB_H
#define VFIOSIM_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/vfio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What this header declares is the library's ABI (libvfiosim.so.0,
 * symbol version LIBVFIOSIM_0); the library is built with
 * -fvisibility=hidden, so nothing else is exported.
 */
#pragma GCC visibility push(default)

struct vfiosim_dev;

/*
 * PRE_COPY came to the VFIO uapi in Linux 6.2; older system headers (a
 * Debian 12 build host) lack it.  The values are the uapi's.
 */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY		(1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY	6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P	7
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO	_IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

/* One DMA mapping, as both VFIO (vaddr) and vfio-user (fd + offset) need. */
struct vfiosim_dma_map {
	uint64_t iova;
	uint64_t size;
	void *vaddr;	/* process address of the memory (VFIO) */
	int fd;		/* file backing vaddr, or -1 (vfio-user) */
	uint64_t offset;	/* offset of vaddr within fd */
	uint32_t flags;	/* VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE */
};

/*
 * One register write of a batch (vfiosim_region_write_multi): the count
 * low-order bytes of data, little endian as on PCI, at offset in region.
 */
struct vfiosim_write_op {
	uint32_t region;
	uint32_t count;		/* 1..8 */
	uint64_t offset;
	uint64_t data;
};


/* Lifecycle. */
struct vfiosim_dev *vfiosim_dev_alloc(void);
int vfiosim_dev_open(struct vfiosim_dev *dev, const char *spec);
/*
 * Close the device (every mapping, eventfd and DMA map it held goes with
 * it); the handle can be opened again.  A no-op when not open.
 */
void vfiosim_dev_close(struct vfiosim_dev *dev);
void vfiosim_dev_free(struct vfiosim_dev *dev);	/* closes if open */
const char *vfiosim_dev_error(const struct vfiosim_dev *dev);
/*
 * How long the unix backend waits for one reply before the op fails with
 * -ETIMEDOUT (the connection is then not used again): 1 ms to one hour,
 * VFIOSIM_DEFAULT_TIMEOUT_MS unless set; -EINVAL otherwise.  Takes effect
 * at the next vfiosim_dev_open().  The vfio and netlink backends make
 * system calls that do not time out.
 */
#define VFIOSIM_DEFAULT_TIMEOUT_MS	30000
#define VFIOSIM_MAX_TIMEOUT_MS		3600000
int vfiosim_dev_set_timeout(struct vfiosim_dev *dev, unsigned int ms);
/* "vfio", ... or "none" while not open. */
const char *vfiosim_dev_backend(const struct vfiosim_dev *dev);

/* The ops, through the backend the device was opened with. */
int vfiosim_get_device_info(struct vfiosim_dev *dev,
			    struct vfio_device_info *info);
int vfiosim_get_region_info(struct vfiosim_dev *dev,
			    struct vfio_region_info *info);
int vfiosim_get_irq_info(struct vfiosim_dev *dev, struct vfio_irq_info *info);
int vfiosim_set_irqs(struct vfiosim_dev *dev, struct vfio_irq_set *set);
ssize_t vfiosim_region_read(struct vfiosim_dev *dev, uint32_t index,
			    uint64_t offset, void *buf, size_t count);
ssize_t vfiosim_region_write(struct vfiosim_dev *dev, uint32_t index,
			     uint64_t offset, const void *buf, size_t count);
int vfiosim_region_mmap(struct vfiosim_dev *dev, uint32_t index,
			uint64_t offset, size_t len, int prot, void **addr);
int vfiosim_device_feature(struct vfiosim_dev *dev,
			   struct vfio_device_feature *feature);
int vfiosim_reset(struct vfiosim_dev *dev);
int vfiosim_dma_map(struct vfiosim_dev *dev, const struct vfiosim_dma_map *map);
int vfiosim_dma_unmap(struct vfiosim_dev *dev, uint64_t iova, uint64_t size,
		      uint32_t flags);
/*
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT in the layout of the
 * backend (VFIO by address, vfio-user inline); 0 or -errno.  REPORT sets
 * the bits of the dirty pages in bitmap (one per page_size page from
 * iova, as VFIO's) and clears nothing: zero it before.
 */
int vfiosim_dma_logging_start(struct vfiosim_dev *dev, uint64_t page_size,
			      const struct vfio_device_feature_dma_logging_range *ranges,
			      uint32_t n);
int vfiosim_dma_logging_stop(struct vfiosim_dev *dev);
int vfiosim_dma_logging_report(struct vfiosim_dev *dev, uint64_t iova,
			       uint64_t length, uint64_t page_size,
			       uint64_t *bitmap);

/*
 * Write a batch of registers in order; 0 or -errno.  Every op must have a
 * count of 1..8 and fit its region (-EINVAL otherwise, nothing written).
 * vfio: one pwrite each, after checking all of them; netlink and unix:
 * one REGION_WRITE_MULTI message per VFIOSIM_USER_WRITE_MULTI_MAX writes,
 * each applied whole or not at all.  A failure the checks cannot foresee
 * (vfio: a pwrite that fails; a later message) leaves the writes before
 * it done.
 */
int vfiosim_region_write_multi(struct vfiosim_dev *dev,
			       const struct vfiosim_write_op *ops, size_t n);
/*
 * A posted write (vfio-user's NO_REPLY, PCI's posted MMIO write): 0 once
 * the write is on its way, or -errno.  The same on every backend:
 *  - the whole range is checked against the region's size first
 *    (-EINVAL, nothing sent), as vfiosim_region_write's kernel would;
 *  - it is ordered with the device's other ops: a later op (from the same
 *    thread, or one synchronised with it) sees its effect;
 *  - an error the device would report is lost, as vfio-user says of
 *    NO_REPLY messages (nothing comes back, not even an error).  Only
 *    vfio reports it, since its pwrite is synchronous;
 *  - a transport failure (the connection or socket broke) is returned
 *    here, or by the next call.
 * netlink and unix: one REGION_WRITE with NO_REPLY per max_data_xfer_size
 * bytes, no reply awaited; vfio: one pwrite (short is -EIO).
 */
int vfiosim_region_write_posted(struct vfiosim_dev *dev, uint32_t index,
				uint64_t offset, const void *buf, size_t count);
/* One VFIOSIM_CMD_PING round trip; -EOPNOTSUPP unless netlink. */
int vfiosim_netlink_ping(struct vfiosim_dev *dev);

/*
 * The CRC32C (Castagnoli; initial value and final xor ~0, as iSCSI and
 * ext4 use it) of len bytes: what the DMA engine's CSUM operation puts
 * in DMA_RESULT.  crc32c("123456789") is 0xe3069283.
 */
uint32_t vfiosim_crc32c(const void *buf, size_t len);

/*
 * Migration (VFIO migration v2; the device's stream and its errnos are in
 * uapi/linux/vfiosim.h).  The same meaning on every backend:
 *  - mig_flags: VFIO_DEVICE_FEATURE_MIGRATION's VFIO_MIGRATION_* flags;
 *  - mig_get_state / mig_set_state: enum vfio_device_mig_state.  An arc
 *    the device refuses is -EINVAL (the state stays); a refused stream
 *    fails RESUMING -> STOP with the stream's errno.  On vfio the data fd
 *    a saving or resuming state returns is kept inside the device handle
 *    and closed when the state ends; on vfio-user there is none;
 *  - mig_read: up to len bytes of the saving stream (STOP_COPY or
 *    PRE_COPY); 0 at its end, -ENOMSG when PRE_COPY has nothing new yet,
 *    -EINVAL outside a saving state.  A short count is what there was;
 *  - mig_write: all len bytes into the resuming stream (RESUMING), or
 *    -EINVAL outside it.  A bad stream is reported by the STOP arc;
 *  - mig_precopy_info: VFIO_MIG_GET_PRECOPY_INFO's initial and dirty
 *    bytes, in PRE_COPY (-EINVAL in other states).  vfio-user has no such
 *    message: -EOPNOTSUPP on netlink and unix.
 */
int vfiosim_mig_flags(struct vfiosim_dev *dev, uint64_t *flags);
int vfiosim_mig_get_state(struct vfiosim_dev *dev, uint32_t *state);
int vfiosim_mig_set_state(struct vfiosim_dev *dev, uint32_t state);
ssize_t vfiosim_mig_read(struct vfiosim_dev *dev, void *buf, size_t len);
ssize_t vfiosim_mig_write(struct vfiosim_dev *dev, const void *buf,
			  size_t len);
int vfiosim_mig_precopy_info(struct vfiosim_dev *dev, uint64_t *initial,
			     uint64_t *dirty);
/*
 * The whole save, as a VMM stopping the device does it: STOP_COPY, the
 * stream up to its end into *buf (malloc()ed, the caller frees it), STOP.
 * Its length, or -errno (nothing to free).
 */
ssize_t vfiosim_mig_save(struct vfiosim_dev *dev, void **buf);

/* Conveniences built on the ops. */
int vfiosim_read32(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		   uint32_t *val);
int vfiosim_write32(struct vfiosim_dev *dev, uint32_t index, uint64_t offset,
		    uint32_t val);
/* Set (fd >= 0) or clear (fd == -1) the trigger of one vector. */
int vfiosim_irq_set_eventfd(struct vfiosim_dev *dev, uint32_t index,
			    uint32_t vector, int fd);
/*
 * Walk the capability chain of a region info returned by get_region_info.
 * Everything is bounds-checked against info->argsz (which must describe
 * the caller's buffer): offsets must lie past the fixed part, be aligned
 * and strictly increase (so a looping chain ends).  For the sparse-mmap
 * and type capabilities the whole body, areas[] included, is checked to
 * fit; for other ids only the header.  NULL when absent or malformed.
 */
const struct vfio_info_cap_header *
vfiosim_region_info_cap(const struct vfio_region_info *info, uint16_t id);

/*
 * Device management through the mdev sysfs (needs the module loaded).
 * The sysfs root is $VFIOSIM_SYSFS_ROOT, read at each call, or "/sys";
 * tests point it at a fake tree.  err/errlen (err may be NULL) receive a
 * message on failure, e.g. "vfiosim module not loaded: /sys/class/
 * mdev_bus/vfiosim not found" (-ENODEV).  UUIDs are accepted in either
 * case and reported in lower case, as sysfs names devices.
 *
 * The list functions return entries sorted by name, fill at most max and
 * set *count to the number that exist; if that exceeds max they return
 * -ENOSPC.  mdev_list only reports devices whose parent is vfiosim.
 */
struct vfiosim_type_info {
	char id[64];		/* e.g. "vfiosim-full" */
	char name[64];
	char description[256];
	char device_api[32];
	unsigned int available;
};

struct vfiosim_mdev_info {
	char uuid[37];
	char type[64];
	int iommu_group;	/* -1 when unknown */
};

int vfiosim_types_list(struct vfiosim_type_info *types, size_t max,
		       size_t *count, char *err, size_t errlen);
int vfiosim_mdev_create(const char *type, const char *uuid, char *err,
			size_t errlen);
int vfiosim_mdev_remove(const char *uuid, char *err, size_t errlen);
int vfiosim_mdev_list(struct vfiosim_mdev_info *devs, size_t max,
		      size_t *count, char *err, size_t errlen);
int vfiosim_mdev_get(const char *uuid, struct vfiosim_mdev_info *info,
		     char *err, size_t errlen);
/* Writes a fresh random (version 4) UUID string into out[37]. */
int vfiosim_uuid_generate(char out[37]);

/*
 * The "vfiosim" generic netlink family, for management (no device is
 * opened).  Every call needs the module loaded (-ENOENT, "vfiosim netlink
 * family not found (module not loaded?)") and CAP_SYS_ADMIN (-EPERM).
 */
struct vfiosim_nl_dev_info {
	char uuid[37];
	char type[64];			/* "" when not reported */
	uint32_t owner;			/* enum vfiosim_owner */
	uint32_t owner_portid;
	bool has_counters;
	uint64_t region_reads;
	uint64_t region_writes;
	uint64_t irqs;
	uint64_t resets;
};

/* DEV_GET dump, sorted by uuid; max/count/-ENOSPC as vfiosim_mdev_list. */
int vfiosim_nl_dev_list(struct vfiosim_nl_dev_info *devs, size_t max,
			size_t *count, char *err, size_t errlen);
/* DEV_GET of one device (uuid in either case). */
int vfiosim_nl_dev_get(const char *uuid, struct vfiosim_nl_dev_info *info,
		       char *err, size_t errlen);
/* "none", "vfio", "netlink" or "unknown". */
const char *vfiosim_nl_owner_name(uint32_t owner);

/*
 * Lifecycle events from the "events" multicast group.  read blocks until
 * an event arrives (use the fd with poll() to wait for several things);
 * it returns 0 with *ev filled, or -errno: -EINTR when a signal
 * interrupted it, -ENOBUFS when the kernel dropped events because we
 * were too slow (the monitor stays usable).
 */
struct vfiosim_monitor;

struct vfiosim_dev_event {
	uint32_t event;			/* enum vfiosim_event */
	char uuid[37];			/* "" when not reported */
	char type[64];			/* "" when not reported */
};

int vfiosim_monitor_open(struct vfiosim_monitor **mon, char *err,
			 size_t errlen);
int vfiosim_monitor_fd(const struct vfiosim_monitor *mon);
int vfiosim_monitor_read(struct vfiosim_monitor *mon,
			 struct vfiosim_dev_event *ev, char *err, size_t errlen);
void vfiosim_monitor_close(struct vfiosim_monitor *mon);
/* "created", "removed", "opened", "closed", "reset" or "unknown". */
const char *vfiosim_event_name(uint32_t event);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* VFIOSIM_LIB_H */
