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

#include <linux/rculist.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
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

/*
 * What one netlink socket holds: a session per device it opened.  Found
 * from the sending socket alone (genl per-socket state, or genl.c's own
 * table before 6.10), never through a global lock; freed when the socket
 * is released, after its sessions ended.
 */
struct vfiosim_nl_sock {
	spinlock_t lock;		/* writers of sessions; readers use RCU */
	struct list_head sessions;
#ifndef VFIOSIM_HAVE_GENL_SOCK_PRIV
	struct sock *sk;		/* held: the socket's identity */
	u32 portid;
	struct hlist_node node;		/* in genl.c's table, by portid */
	struct rcu_head rcu;
#endif
};

/*
 * What a netlink owner holds; dropped whole when it lets go.  The device
 * points to it (vfiosim_dev.session) while it lasts.  The DMA maps are
 * under the device's nl_lock; a message holds ref while it is served, so
 * an ended session is freed (after an RCU grace period) by its last user.
 */
struct vfiosim_session {
	struct vfiosim_dev *sdev;	/* held (vfiosim_dev_get()) */
	struct vfiosim_nl_sock *nsk;	/* the owning socket */
	struct list_head node;		/* in nsk->sessions (RCU) */
	refcount_t ref;			/* one for being open, one per user */
	struct rcu_head rcu;
	u32 portid;			/* the owner's, for DEV_GET */
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
