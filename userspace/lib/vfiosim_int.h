/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim internals: shared by the core, the backends and the host unit
 * tests.  Nothing here is part of the public API.
 */
#ifndef VFIOSIM_INT_H
#define VFIOSIM_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include "vfiosim.h"

#define VFIOSIM_UUID_LEN	36
#define VFIOSIM_ERR_LEN		512
#define VFIOSIM_NAME_LEN	256

/*
 * The IO ops vector, in the spirit of QEMU's VFIODeviceIOOps.  Buffers for
 * get_region_info/get_irq_info/set_irqs/device_feature are the VFIO uapi
 * structures with argsz set by the caller, exactly as for the ioctls, so a
 * test can send the same bad argsz down every backend.
 */
struct vfiosim_io_ops {
	const char *name;	/* "vfio", "netlink", "unix" */
	int (*open)(struct vfiosim_dev *dev, const char *target);
	void (*close)(struct vfiosim_dev *dev);
	int (*get_device_info)(struct vfiosim_dev *dev,
			       struct vfio_device_info *info);
	int (*get_region_info)(struct vfiosim_dev *dev,
			       struct vfio_region_info *info);
	int (*get_irq_info)(struct vfiosim_dev *dev, struct vfio_irq_info *info);
	int (*set_irqs)(struct vfiosim_dev *dev, struct vfio_irq_set *set);
	ssize_t (*region_read)(struct vfiosim_dev *dev, uint32_t index,
			       uint64_t offset, void *buf, size_t count);
	ssize_t (*region_write)(struct vfiosim_dev *dev, uint32_t index,
				uint64_t offset, const void *buf, size_t count);
	int (*region_mmap)(struct vfiosim_dev *dev, uint32_t index,
			   uint64_t offset, size_t len, int prot, void **addr);
	int (*device_feature)(struct vfiosim_dev *dev,
			      struct vfio_device_feature *feature);
	int (*reset)(struct vfiosim_dev *dev);
	int (*dma_map)(struct vfiosim_dev *dev,
		       const struct vfiosim_dma_map *map);
	int (*dma_unmap)(struct vfiosim_dev *dev, uint64_t iova, uint64_t size,
			 uint32_t flags);
	/* n >= 1 writes, each checked by the core (count 1..8). */
	int (*region_write_multi)(struct vfiosim_dev *dev,
				  const struct vfiosim_write_op *ops, size_t n);
	/*
	 * A posted write (vfio-user NO_REPLY): checked against the region's
	 * size, then sent without waiting; see vfiosim_region_write_posted.
	 */
	int (*region_write_posted)(struct vfiosim_dev *dev, uint32_t index,
				   uint64_t offset, const void *buf,
				   size_t count);
	/* A transport round trip that touches no device (netlink only). */
	int (*ping)(struct vfiosim_dev *dev);
	/* Migration: see vfiosim_mig_set_state() and what follows it. */
	int (*mig_set_state)(struct vfiosim_dev *dev, uint32_t state);
	ssize_t (*mig_read)(struct vfiosim_dev *dev, void *buf, size_t len);
	ssize_t (*mig_write)(struct vfiosim_dev *dev, const void *buf,
			     size_t len);
	int (*mig_precopy_info)(struct vfiosim_dev *dev, uint64_t *initial,
				uint64_t *dirty);
};

struct vfiosim_dev {
	const struct vfiosim_io_ops *ops;	/* NULL while closed */
	void *priv;				/* owned by ops */
	char name[VFIOSIM_NAME_LEN];		/* "vfio:<uuid>", for messages */
	unsigned int timeout_ms;		/* unix: per reply */
	/*
	 * The last error of each thread that failed on the device: a
	 * thread never reads another's message.  One slot per thread,
	 * allocated on its first failure and kept until vfiosim_dev_free(),
	 * so a pointer vfiosim_dev_error() returned stays valid however
	 * many threads fail (only its own thread rewrites a slot).  The
	 * list and err_lost are under err_lock; err_lost says a slot could
	 * not be allocated.
	 */
	pthread_mutex_t err_lock;
	uint64_t err_clock;		/* failures recorded so far */
	bool err_lost;
	struct vfiosim_err_slot {
		struct vfiosim_err_slot *next;
		pthread_t thread;
		char msg[VFIOSIM_ERR_LEN];
	} *err;
};

/* Record "<dev name>: <message>" as the last error and return -err. */
int vfiosim_fail(struct vfiosim_dev *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same for the err/errlen buffers of the sysfs functions. */
int vfiosim_fail_buf(char *buf, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Split "<backend>:<target>".  On success *ops is the backend's ops and
 * *target points into spec.  A known but unbuilt backend returns
 * -EPROTONOSUPPORT.
 */
int vfiosim_spec_parse(const char *spec, const struct vfiosim_io_ops **ops,
		       const char **target, char *err, size_t errlen);

/* 8-4-4-4-12 hex digits, either case. */
bool vfiosim_uuid_valid(const char *s);
/* Copy a valid uuid into out[37] in lower case, as sysfs names devices. */
void vfiosim_uuid_normalize(const char *in, char out[37]);
/*
 * The one uuid check of the library and vfiosim-userd: a valid uuid is
 * copied into out[37] in lower case and 0 returned; else -EINVAL with
 * "invalid uuid '...' (expected 8-4-4-4-12 hex digits)" in err.
 */
int vfiosim_uuid_check(const char *uuid, char out[37], char *err,
		       size_t errlen);

/* "BAR0".."BAR5", "ROM", "config", "VGA" or "region" for others. */
const char *vfiosim_region_name(uint32_t index);

/*
 * Message for a failed region access.  Names the region and, when the
 * access runs past the region's end, says so with the numbers.
 */
void vfiosim_format_region_err(char *buf, size_t len, const char *what,
			       uint32_t index, uint64_t offset, size_t count,
			       uint64_t size, int err);

/*
 * For a backend that serves a write batch one write at a time: check every
 * write against its region's size (size(dev, index), 0 for none) before
 * any is made, so that a bad one fails the whole batch with nothing
 * written.  0, or -EINVAL with the error recorded.
 */
int vfiosim_write_ops_check(struct vfiosim_dev *dev,
			    const struct vfiosim_write_op *ops, size_t n,
			    uint64_t (*size)(struct vfiosim_dev *dev,
					     uint32_t index));

/* A VFIO_DEVICE_FEATURE SET of MIG_DEVICE_STATE to state, data_fd -1. */
struct vfiosim_mig_state_set {
	struct vfio_device_feature hdr;
	struct vfio_device_feature_mig_state mig;
};

void vfiosim_mig_state_set_init(struct vfiosim_mig_state_set *f,
				uint32_t state);

/* VFIOSIM_SYSFS_ROOT, or "/sys".  Read at each call. */
const char *vfiosim_sysfs_root(void);

/* The backends. */
extern const struct vfiosim_io_ops vfiosim_vfio_ops;
extern const struct vfiosim_io_ops vfiosim_netlink_ops;
extern const struct vfiosim_io_ops vfiosim_unix_ops;

/*
 * The unix backend (backend_unix.c): its VERSION reply parser: major must be ours, minor no
 * higher than ours; max_data_xfer_size (default 1 MiB, capped there),
 * max_msg_fds (default 1), write_multiple.  0 or -EPROTO with why.
 */
int vfiosim_unix_parse_version(const void *payload, size_t len,
			       uint16_t *minor, uint32_t *max_xfer,
			       uint32_t *max_fds, bool *write_multiple,
			       char *why, size_t whylen);

/*
 * vfio-user messages (vu_codec.c): pure functions over caller buffers.
 * A message buffer must hold the header and the payload.
 */
struct vfiosim_user_header;

/* "REGION_READ", ... or "UNKNOWN". */
const char *vfiosim_vu_command_name(uint16_t command);
/*
 * Write a command header at msg followed by len payload bytes (copied
 * from payload unless it is NULL: then they are already in place).
 * Returns the message size.
 */
size_t vfiosim_vu_request_init(void *msg, uint16_t msg_id, uint16_t command,
			       const void *payload, size_t len);
/*
 * Check that msg (len bytes) is the reply to (msg_id, command): a whole
 * header, msg_size == len, REPLY type.  Returns the payload length, or
 * -errno with err set: -EPROTO for a malformed reply ("malformed reply:
 * ..."), -error_no (err = strerror) for an F_ERROR reply.
 */
ssize_t vfiosim_vu_reply_check(const void *msg, size_t len, uint16_t msg_id,
			       uint16_t command, char *err, size_t errlen);
/* REGION_READ/WRITE request (write copies count data bytes); its size. */
size_t vfiosim_vu_region_request(void *msg, uint16_t msg_id, bool write,
				 uint32_t region, uint64_t offset,
				 const void *data, uint32_t count);
/*
 * Check a REGION_READ/WRITE reply payload against the request; a read
 * copies the data into buf.  Returns the byte count done (<= count) or
 * -EPROTO.
 */
ssize_t vfiosim_vu_region_reply(const void *payload, size_t len, bool write,
				uint32_t region, uint64_t offset, void *buf,
				uint32_t count, char *err, size_t errlen);
/*
 * What follows the header of an ioctl-format vfio_irq_set: *nfds eventfds
 * for DATA_EVENTFD (they travel as fds, not payload), else *data_len
 * payload bytes: the rest of argsz (the bools of DATA_BOOL).  -EINVAL if
 * argsz cannot hold the bools or eventfds, so that only argsz bytes are
 * ever read.  Bad flags are for the kernel to judge.
 */
int vfiosim_vu_set_irqs_layout(const struct vfio_irq_set *set,
			       size_t *data_len, size_t *nfds, char *err,
			       size_t errlen);
/* REGION_WRITE_MULTI request of n (<= VFIOSIM_USER_WRITE_MULTI_MAX) ops. */
size_t vfiosim_vu_write_multi_request(void *msg, uint16_t msg_id,
				      const struct vfiosim_write_op *ops,
				      size_t n);

/*
 * The vfio-user client (vu_client.c): the ops of the netlink and unix
 * backends, once.  A backend's priv starts with a struct vu_client; the
 * backend only moves messages (call) and opens and closes its transport.
 */
struct vu_client;

/*
 * Send the vfio-user message of len bytes at c->msg with nfds fds (int32s)
 * and wait for its reply to (msg_id, command).  Returns the reply's
 * payload length and *payload, or -errno with the reason in why.  With
 * fd_out, *fd_out gets the first fd the reply carried (or -1); every
 * other fd is closed.
 */
/*
 * Send the message of len bytes at c->msg (NO_REPLY set) and return
 * without waiting: 0 or -errno with the reason in why.
 */
typedef int (*vu_post_fn)(struct vu_client *c, size_t len, char *why);

typedef ssize_t (*vu_call_fn)(struct vu_client *c, uint16_t command,
			      uint16_t msg_id, size_t len, const void *fds,
			      size_t nfds, const void **payload, int *fd_out,
			      char *why);

struct vu_region {
	uint64_t offset;	/* as GET_REGION_INFO reported it */
	uint64_t size;
	int mmap_fd;		/* from GET_REGION_INFO, or -1 */
};

struct vu_client {
	/*
	 * One request in flight per connection: ops from several threads
	 * (vCPUs sharing a device, as pread allows on VFIO) take turns.
	 */
	pthread_mutex_t lock;
	vu_call_fn call;
	vu_post_fn post;
	unsigned char *msg;	/* where the next vfio-user message goes */
	size_t payload_max;	/* payload bytes one message may have */
	uint32_t max_xfer;	/* data bytes per REGION_READ/WRITE */
	uint32_t max_fds;	/* fds per message the peer takes */
	uint32_t max_regions;	/* refused above this; 0: no limit */
	bool write_multiple;	/* REGION_WRITE_MULTI, else REGION_WRITEs */
	bool split_irq_runs;	/* SET_IRQS eventfds in runs, -1 as no fds */
	const char *peer;	/* "kernel", "server": for messages */
	uint16_t msg_id;
	uint32_t num_regions;
	struct vu_region *regions;
};

void vu_client_init(struct vu_client *c);
/* Close the cached mmap fds and free the region cache. */
void vu_client_forget_regions(struct vu_client *c);
/* A request whose payload the caller has put at c->msg + header. */
ssize_t vu_client_simple(struct vu_client *c, uint16_t command, size_t len,
			 const void *fds, size_t nfds, const void **payload,
			 int *fd_out, char *why);
/* At open: DEVICE_GET_INFO, then GET_REGION_INFO of every region. */
int vu_client_cache_regions(struct vfiosim_dev *dev);

/* The ops, for dev->priv starting with a struct vu_client. */
int vu_client_get_device_info(struct vfiosim_dev *dev,
			      struct vfio_device_info *info);
int vu_client_get_region_info(struct vfiosim_dev *dev,
			      struct vfio_region_info *info);
int vu_client_get_irq_info(struct vfiosim_dev *dev,
			   struct vfio_irq_info *info);
int vu_client_device_feature(struct vfiosim_dev *dev,
			     struct vfio_device_feature *feature);
int vu_client_set_irqs(struct vfiosim_dev *dev, struct vfio_irq_set *set);
int vu_client_reset(struct vfiosim_dev *dev);
ssize_t vu_client_region_read(struct vfiosim_dev *dev, uint32_t index,
			      uint64_t offset, void *buf, size_t count);
ssize_t vu_client_region_write(struct vfiosim_dev *dev, uint32_t index,
			       uint64_t offset, const void *buf,
			       size_t count);
int vu_client_region_write_posted(struct vfiosim_dev *dev, uint32_t index,
				  uint64_t offset, const void *buf,
				  size_t count);
int vu_client_region_write_multi(struct vfiosim_dev *dev,
				 const struct vfiosim_write_op *ops,
				 size_t n);
int vu_client_region_mmap(struct vfiosim_dev *dev, uint32_t index,
			  uint64_t offset, size_t len, int prot, void **addr);
int vu_client_dma_map(struct vfiosim_dev *dev,
		      const struct vfiosim_dma_map *map);
int vu_client_dma_unmap(struct vfiosim_dev *dev, uint64_t iova,
			uint64_t size, uint32_t flags);
int vu_client_mig_set_state(struct vfiosim_dev *dev, uint32_t state);
ssize_t vu_client_mig_read(struct vfiosim_dev *dev, void *buf, size_t len);
ssize_t vu_client_mig_write(struct vfiosim_dev *dev, const void *buf,
			    size_t len);

/* The members of a struct vfiosim_io_ops that are the client's. */
#define VU_CLIENT_OPS							\
	.get_device_info = vu_client_get_device_info,			\
	.get_region_info = vu_client_get_region_info,			\
	.get_irq_info = vu_client_get_irq_info,				\
	.set_irqs = vu_client_set_irqs,					\
	.region_read = vu_client_region_read,				\
	.region_write = vu_client_region_write,				\
	.region_mmap = vu_client_region_mmap,				\
	.device_feature = vu_client_device_feature,			\
	.reset = vu_client_reset,					\
	.dma_map = vu_client_dma_map,					\
	.dma_unmap = vu_client_dma_unmap,				\
	.region_write_multi = vu_client_region_write_multi,		\
	.region_write_posted = vu_client_region_write_posted,		\
	.mig_set_state = vu_client_mig_set_state,			\
	.mig_read = vu_client_mig_read,					\
	.mig_write = vu_client_mig_write
	/* no mig_precopy_info: vfio-user has no message for it */

/*
 * Generic netlink plumbing (genl.c), shared by the netlink backend and the
 * management calls.
 */
struct nlmsghdr;

struct vfiosim_nl {
	struct mnl_socket *sock;
	int fd;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	uint32_t events_group;		/* 0 when the family has none */
	unsigned char *rx;
	size_t rx_size;
};

/* What one message from the kernel said. */
struct vfiosim_nl_reply {
	bool is_error;			/* NLMSG_ERROR (error 0: an ack) */
	bool done;			/* NLMSG_DONE */
	int error;			/* positive errno, 0 for success */
	char extack[256];		/* NLMSGERR_ATTR_MSG, or "" */
	uint8_t cmd;			/* genl command of a data message */
	const void *msg;		/* VFIOSIM_ATTR_MSG, or NULL */
	size_t msg_len;
	const void *fds;		/* VFIOSIM_ATTR_FDS (__s32s), or NULL */
	size_t nfds;
	const struct nlmsghdr *nlh;	/* the message itself */
};

/*
 * Parse one message (nlh, whose length the caller has checked with
 * mnl_nlmsg_ok) as an answer to request seq of family.  Returns 1 when it
 * answers seq, 0 when it is about something else (stale seq, NOOP,
 * OVERRUN), -EPROTO (err set) when it is malformed.  r->fds is set as
 * soon as it is found, so a caller can close fds a rejected reply carried.
 */
/* A whole netlink message within the len bytes left at nlh? */
bool vfiosim_nlmsg_ok(const struct nlmsghdr *nlh, int len);
int vfiosim_nl_parse(const struct nlmsghdr *nlh, uint32_t seq,
		     uint16_t family, struct vfiosim_nl_reply *r, char *err,
		     size_t errlen);
/* Close every fd of a reply's VFIOSIM_ATTR_FDS. */
void vfiosim_nl_close_fds(const struct vfiosim_nl_reply *r);

/*
 * Open a NETLINK_GENERIC socket (close-on-exec, extended acks, capped
 * acks), bind it and resolve the "vfiosim" family.  rx_size is the
 * receive buffer to allocate.
 */
int vfiosim_nl_open(struct vfiosim_nl *nl, size_t rx_size, char *err,
		    size_t errlen);
void vfiosim_nl_close(struct vfiosim_nl *nl);
/* Start a vfiosim request with cmd in buf (size len); returns nlh. */
struct nlmsghdr *vfiosim_nl_request(const struct vfiosim_nl *nl, void *buf,
				    uint8_t cmd, uint16_t flags);
/* Number nlh with a fresh seq and send it. */
int vfiosim_nl_send(struct vfiosim_nl *nl, struct nlmsghdr *nlh, char *err,
		    size_t errlen);
/*
 * Receive until the answer to seq arrives; r points into nl->rx.  Fds
 * carried by anything else are closed.  Returns 0 or -errno (err set) for
 * a socket error or a malformed answer; a netlink error is not a failure
 * here but r->error.
 */
int vfiosim_nl_recv(struct vfiosim_nl *nl, uint32_t seq,
		    struct vfiosim_nl_reply *r, char *err, size_t errlen);
/*
 * A control command on nl: with a uuid (DEV_OPEN, DEV_CLOSE) it asks for
 * NLM_F_ACK and waits for the ack, skipping a data reply should one come
 * first; without (PING) the reply is the answer.  0, or -errno with the
 * kernel's text (extack) in err.
 */
int vfiosim_nl_control(struct vfiosim_nl *nl, uint8_t cmd, const char *uuid,
		       char *err, size_t errlen);
/*
 * What every netlink session (the netlink backend, vfiosim-userd's
 * clients) starts with: check uuid (vfiosim_uuid_check), open nl
 * (vfiosim_nl_open, rx_size) and bind the device to it with DEV_OPEN.
 * 0, or -errno with err set ("DEV_OPEN: ..." when the kernel refused);
 * on failure nl is closed.
 */
int vfiosim_nl_dev_open(struct vfiosim_nl *nl, size_t rx_size,
			const char *uuid, char *err, size_t errlen);
/* "<extack>: <strerror>" or "<strerror>" for a netlink error. */
void vfiosim_nl_error_text(const struct vfiosim_nl_reply *r, char *buf,
			   size_t len);

#endif /* VFIOSIM_INT_H */
