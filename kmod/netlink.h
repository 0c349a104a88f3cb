/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiosim: what the netlink transport's two halves share.
 *
 * genl.c       the "vfiosim" genl family: devices, sessions, events, and
 *              the VFIO_USER command that carries one message
 * vfio_user.c  the vfio-user protocol: one message in, one reply out
 */
#ifndef _VFIOSIM_NETLINK_H
#define _VFIOSIM_NETLINK_H

#include <net/genetlink.h>

#include "vfiosim.h"

#define VU_HDR_SIZE	sizeof(struct vfiosim_user_header)
/* The largest message: a region access header plus its data. */
#define VU_MAX_MSG	VFIOSIM_USER_MAX_MSG
static_assert(VU_HDR_SIZE + sizeof(struct vfiosim_user_region_access) +
	      VFIOSIM_USER_MAX_DATA_XFER == VU_MAX_MSG);
/* Replies up to this size are built on the stack. */
#define VU_SMALL_REPLY	64
/* Enough for a region info with its caps, or the VERSION reply. */
#define VU_INFO_REPLY	512

/* One DMA mapping of a netlink session. */
struct vfiosim_dma_map {
	struct list_head node;
	u64 iova;
	u64 size;
	u64 offset;
	u32 flags;
	struct file *file;	/* NULL: message-only, no fd was sent */
};

/* What a netlink owner holds; dropped whole when it lets go. */
struct vfiosim_session {
	u32 portid;
	struct net *net;	/* compared, never dereferenced */
	struct list_head dma_maps;
	unsigned int nr_dma_maps;
};

/* One vfio-user command being served. */
struct vfiosim_vu_req {
	struct vfiosim_dev *sdev;
	struct genl_info *info;
	const struct vfiosim_user_header *hdr;
	const void *payload;
	u32 len;			/* payload length */
	const s32 *fds;
	u32 nfds;
	void *reply;			/* reply payload buffer */
	u32 reply_len;
	u32 reply_cap;
	struct file *out_file;		/* to install in the sender's table */
};

/* vfio_user.c */
void vfiosim_dma_map_free(struct vfiosim_session *session,
			  struct vfiosim_dma_map *map);
int vfiosim_vu_dispatch(struct vfiosim_vu_req *req);
u32 vfiosim_vu_reply_size(const struct vfiosim_vu_req *req);

#endif /* _VFIOSIM_NETLINK_H */
