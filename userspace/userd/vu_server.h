/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-user server side message handling for vfiosim-userd: header
 * validation, VERSION negotiation (with its JSON capabilities) and reply
 * building.  Pure functions over caller buffers: no I/O, no allocation,
 * so that the unit tests and the fuzzer can drive them directly.
 */
#ifndef VFIOSIM_VU_SERVER_H
#define VFIOSIM_VU_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfiosim.h>

#define VUS_HDR_SIZE		sizeof(struct vfiosim_user_header)
/*
 * The largest message a client may send: the kernel's limit for one
 * message (a REGION_WRITE of max_data_xfer_size bytes), so that what the
 * daemon takes the kernel takes too.
 */
#define VUS_MAX_MSG		VFIOSIM_USER_MAX_MSG
#define VUS_MAX_FDS		VFIOSIM_USER_MAX_MSG_FDS
/* Longest JSON we accept in a client's VERSION. */
#define VUS_MAX_JSON		4096
#define VUS_JSON_DEPTH		16

/* What a client's VERSION said. */
struct vus_client_caps {
	uint16_t major;
	uint16_t minor;
	bool has_json;
	uint64_t max_msg_fds;		/* default 1, as the spec says */
	uint64_t max_data_xfer_size;	/* default 1 MiB */
	uint64_t max_dma_maps;		/* 0: unspecified */
	uint64_t pgsizes;		/* default 4096 */
	bool write_multiple;
};

/*
 * Check a header that arrived on the socket (len >= VUS_HDR_SIZE bytes at
 * buf): 0, -EINVAL when msg_size is below the header, -E2BIG when it is
 * above VUS_MAX_MSG (the stream cannot be trusted after either).  *hdr
 * gets a copy.
 */
int vus_check_header(const void *buf, size_t len,
		     struct vfiosim_user_header *hdr);

/*
 * Parse a VERSION payload (len bytes after the header).  0, -EINVAL for a
 * short payload, JSON without its NUL, bad JSON or wrong capability types,
 * -ENOTSUP for a major we do not speak.
 */
int vus_parse_version(const void *payload, size_t len,
		      struct vus_client_caps *caps);

/* Validate a NUL-free JSON text of len bytes: 0 or -EINVAL. */
int vus_json_validate(const char *s, size_t len);

/*
 * Build a reply to req in buf (cap bytes): the header, then len payload
 * bytes (copied; payload may be NULL with len 0).  err > 0 makes it an
 * error reply with no payload.  Returns the reply size, or 0 when it
 * does not fit.
 */
size_t vus_build_reply(void *buf, size_t cap,
		       const struct vfiosim_user_header *req, int err,
		       const void *payload, size_t len);

/*
 * May a reply (reply: its header first) that names nfds fds go to a
 * client that takes caps->max_msg_fds?  A reply never goes with fewer fds
 * than it names, so with more than the client takes (or than
 * VUS_MAX_FDS) it becomes an EMSGSIZE error reply to the same request,
 * built in out (cap bytes; out may be reply), and its size is returned.
 * 0: it may go as it is.  The fds stay the caller's to pass or close.
 */
size_t vus_reply_fds_refuse(const void *reply, size_t nfds,
			    const struct vus_client_caps *caps, void *out,
			    size_t cap);

/*
 * What to do with one complete message before any forwarding.
 *  VUS_FORWARD:    pass it to the kernel (a good first VERSION too: the
 *                  kernel's reply carries the limits it honours)
 *  VUS_REPLY:      send the reply built in out (*out_len bytes)
 *  VUS_REPLY_CLOSE: send it, then drop the connection
 *  VUS_DROP:       nothing to send (a reply from the client: ignored)
 * *negotiated tracks whether VERSION has been done on this connection.
 */
enum vus_action {
	VUS_FORWARD,
	VUS_REPLY,
	VUS_REPLY_CLOSE,
	VUS_DROP,
};

enum vus_action vus_handle(const void *msg, size_t len, size_t nfds,
			   bool *negotiated, struct vus_client_caps *caps,
			   void *out, size_t cap, size_t *out_len);

#endif /* VFIOSIM_VU_SERVER_H */
