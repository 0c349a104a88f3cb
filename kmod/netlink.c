// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the generic netlink transport.
 *
 * The "vfiosim" family lists devices, binds one to a netlink socket and
 * carries vfio-user messages to it (uapi/linux/vfiosim.h has the
 * contract).  Like vfio.c it only translates: device behaviour is core.c's.
 * A genl doit runs in the sender's task, so fd numbers in VFIOSIM_ATTR_FDS
 * are resolved in the sender's file table, and an mmap fd is installed
 * there.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <net/genetlink.h>

#include "compat.h"
#include "vfiosim.h"

#define VU_HDR_SIZE	sizeof(struct vfiosim_user_header)
/* The largest message: a region access header plus its data. */
#define VU_MAX_MSG	(VU_HDR_SIZE + sizeof(struct vfiosim_user_region_access) + \
			 VFIOSIM_USER_MAX_DATA_XFER)
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

static struct genl_family vfiosim_nl_family;

/* ---- sessions -------------------------------------------------------- */

static void vfiosim_dma_map_free(struct vfiosim_session *session,
				 struct vfiosim_dma_map *map)
{
	list_del(&map->node);
	if (map->file)
		fput(map->file);
	kfree(map);
	session->nr_dma_maps--;
}

/* Drop everything the netlink owner held.  Caller holds the devices lock. */
static void vfiosim_session_end(struct vfiosim_dev *sdev)
{
	struct vfiosim_session *session = sdev->session;
	struct vfiosim_dma_map *map, *tmp;

	lockdep_assert_held(&vfiosim_devices_lock);
	if (!session)
		return;
	list_for_each_entry_safe(map, tmp, &session->dma_maps, node)
		vfiosim_dma_map_free(session, map);
	vfiosim_release_irqs(sdev);
	vfiosim_unclaim(sdev);
	sdev->session = NULL;
	kfree(session);
	wake_up(&sdev->session_wq);
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_CLOSED);
}

/* Re-ask a netlink owner that ignores REQ this often, as VFIO does. */
#define VFIOSIM_REQ_INTERVAL	(10 * HZ)

/*
 * The device is going away.  As on the VFIO path, a netlink owner is asked
 * to let go (REQ) and waited for; the device keeps working meanwhile, but
 * nobody new may bind it.  Unlike VFIO, a remover that is killed does not
 * hang: the owner is unbound for it (it may be the owner itself).
 */
void vfiosim_netlink_remove(struct vfiosim_dev *sdev)
{
	unsigned int count = 0;

	mutex_lock(&vfiosim_devices_lock);
	sdev->removing = true;
	while (sdev->session) {
		if (fatal_signal_pending(current)) {
			vfiosim_session_end(sdev);
			break;
		}
		vfiosim_request(sdev, count++);
		mutex_unlock(&vfiosim_devices_lock);
		wait_event_killable_timeout(sdev->session_wq,
					    !READ_ONCE(sdev->session),
					    VFIOSIM_REQ_INTERVAL);
		mutex_lock(&vfiosim_devices_lock);
	}
	list_del_init(&sdev->node);
	mutex_unlock(&vfiosim_devices_lock);
}

static int vfiosim_nl_release(struct notifier_block *nb, unsigned long state,
			      void *data)
{
	struct netlink_notify *n = data;
	struct vfiosim_dev *sdev;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;

	mutex_lock(&vfiosim_devices_lock);
	list_for_each_entry(sdev, &vfiosim_devices, node)
		if (sdev->session && sdev->session->portid == n->portid &&
		    net_eq(sdev->session->net, n->net))
			vfiosim_session_end(sdev);
	mutex_unlock(&vfiosim_devices_lock);
	return NOTIFY_DONE;
}

static struct notifier_block vfiosim_nl_notifier = {
	.notifier_call = vfiosim_nl_release,
};

/* ---- device lookup and attributes ------------------------------------ */

/* The device named by VFIOSIM_ATTR_DEV_UUID; caller holds the devices lock. */
static struct vfiosim_dev *vfiosim_nl_lookup(struct genl_info *info)
{
	struct nlattr *attr = info->attrs[VFIOSIM_ATTR_DEV_UUID];
	char str[UUID_STRING_LEN + 1];
	struct vfiosim_dev *sdev;
	guid_t uuid;

	lockdep_assert_held(&vfiosim_devices_lock);
	if (!attr) {
		GENL_SET_ERR_MSG(info, "missing device UUID");
		return ERR_PTR(-EINVAL);
	}
	if (nla_strscpy(str, attr, sizeof(str)) < 0 || guid_parse(str, &uuid)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "malformed device UUID");
		return ERR_PTR(-EINVAL);
	}
	list_for_each_entry(sdev, &vfiosim_devices, node)
		if (guid_equal(&sdev->uuid, &uuid))
			return sdev;
	NL_SET_ERR_MSG_ATTR(info->extack, attr, "no vfiosim device with this UUID");
	return ERR_PTR(-ENODEV);
}

/* The device, if the sending socket owns it. */
static struct vfiosim_dev *vfiosim_nl_owned(struct genl_info *info)
{
	struct vfiosim_dev *sdev = vfiosim_nl_lookup(info);

	if (IS_ERR(sdev))
		return sdev;
	if (!sdev->session) {
		GENL_SET_ERR_MSG(info, "device is not open on netlink (DEV_OPEN first)");
		return ERR_PTR(-ENOTCONN);
	}
	if (sdev->session->portid != info->snd_portid ||
	    !net_eq(sdev->session->net, genl_info_net(info))) {
		GENL_SET_ERR_MSG(info, "device is bound to another netlink socket");
		return ERR_PTR(-EBUSY);
	}
	return sdev;
}

static int vfiosim_nl_put_dev(struct sk_buff *skb, struct vfiosim_dev *sdev)
{
	u64 stats[VFIOSIM_COUNTER_MAX + 1] = {};
	enum vfiosim_owner owner;
	struct nlattr *nest;
	char uuid[UUID_STRING_LEN + 1];
	u32 portid;
	int i;

	mutex_lock(&sdev->lock);
	owner = sdev->owner;
	portid = sdev->owner_portid;
	stats[VFIOSIM_COUNTER_REGION_READS] = sdev->stat_reads;
	stats[VFIOSIM_COUNTER_REGION_WRITES] = sdev->stat_writes;
	stats[VFIOSIM_COUNTER_IRQS] = sdev->stat_irqs;
	stats[VFIOSIM_COUNTER_RESETS] = sdev->stat_resets;
	mutex_unlock(&sdev->lock);

	snprintf(uuid, sizeof(uuid), "%pUl", &sdev->uuid);
	if (nla_put_string(skb, VFIOSIM_ATTR_DEV_UUID, uuid) ||
	    nla_put_string(skb, VFIOSIM_ATTR_DEV_TYPE,
			   sdev->type->mtype.pretty_name) ||
	    nla_put_u32(skb, VFIOSIM_ATTR_DEV_OWNER, owner))
		return -EMSGSIZE;
	if (owner == VFIOSIM_OWNER_NETLINK &&
	    nla_put_u32(skb, VFIOSIM_ATTR_DEV_OWNER_PORTID, portid))
		return -EMSGSIZE;

	nest = nla_nest_start(skb, VFIOSIM_ATTR_DEV_COUNTERS);
	if (!nest)
		return -EMSGSIZE;
	for (i = VFIOSIM_COUNTER_REGION_READS; i <= VFIOSIM_COUNTER_RESETS; i++)
		if (nla_put_u64_64bit(skb, i, stats[i], VFIOSIM_COUNTER_PAD))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* ---- events ---------------------------------------------------------- */

void vfiosim_netlink_event(struct vfiosim_dev *sdev, enum vfiosim_event event)
{
	char uuid[UUID_STRING_LEN + 1];
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &vfiosim_nl_family, 0, VFIOSIM_CMD_EVENT);
	if (!hdr)
		goto drop;
	snprintf(uuid, sizeof(uuid), "%pUl", &sdev->uuid);
	if (nla_put_u32(skb, VFIOSIM_ATTR_EVENT, event) ||
	    nla_put_string(skb, VFIOSIM_ATTR_DEV_UUID, uuid) ||
	    nla_put_string(skb, VFIOSIM_ATTR_DEV_TYPE,
			   sdev->type->mtype.pretty_name))
		goto drop;
	genlmsg_end(skb, hdr);
	/* No listener is not an error. */
	genlmsg_multicast(&vfiosim_nl_family, skb, 0, 0, GFP_KERNEL);
	return;
drop:
	nlmsg_free(skb);
}

/* ---- device commands ------------------------------------------------- */

static int vfiosim_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vfiosim_dev *sdev;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vfiosim_nl_family, 0,
				VFIOSIM_CMD_DEV_GET);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto err;
	}

	mutex_lock(&vfiosim_devices_lock);
	sdev = vfiosim_nl_lookup(info);
	ret = IS_ERR(sdev) ? PTR_ERR(sdev) : vfiosim_nl_put_dev(msg, sdev);
	mutex_unlock(&vfiosim_devices_lock);
	if (ret)
		goto err;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return ret;
}

static int vfiosim_nl_dev_get_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	struct vfiosim_dev *sdev;
	long skip = cb->args[0];
	long idx = 0;
	int ret = 0;

	mutex_lock(&vfiosim_devices_lock);
	list_for_each_entry(sdev, &vfiosim_devices, node) {
		void *hdr;

		if (idx < skip) {
			idx++;
			continue;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &vfiosim_nl_family,
				  NLM_F_MULTI, VFIOSIM_CMD_DEV_GET);
		if (!hdr) {
			ret = -EMSGSIZE;
			break;
		}
		ret = vfiosim_nl_put_dev(skb, sdev);
		if (ret) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		idx++;
	}
	mutex_unlock(&vfiosim_devices_lock);
	cb->args[0] = idx;
	/* A full skb ends this round; the dump continues in the next. */
	if (ret == -EMSGSIZE && idx > skip)
		ret = 0;
	return ret ?: skb->len;
}

static int vfiosim_nl_dev_open(struct sk_buff *skb, struct genl_info *info)
{
	struct vfiosim_session *session;
	struct vfiosim_dev *sdev;
	int ret;

	session = kzalloc(sizeof(*session), GFP_KERNEL);
	if (!session)
		return -ENOMEM;
	session->portid = info->snd_portid;
	session->net = genl_info_net(info);
	INIT_LIST_HEAD(&session->dma_maps);

	mutex_lock(&vfiosim_devices_lock);
	sdev = vfiosim_nl_lookup(info);
	if (IS_ERR(sdev)) {
		ret = PTR_ERR(sdev);
		goto out;
	}
	if (sdev->removing) {
		GENL_SET_ERR_MSG(info, "device is being removed");
		ret = -ENODEV;
		goto out;
	}
	ret = vfiosim_claim(sdev, VFIOSIM_OWNER_NETLINK, info->snd_portid);
	if (ret) {
		if (sdev->session)
			GENL_SET_ERR_MSG(info, "device is bound to a netlink socket");
		else
			GENL_SET_ERR_MSG(info, "device is open through VFIO");
		goto out;
	}
	sdev->session = session;
	session = NULL;
	vfiosim_netlink_event(sdev, VFIOSIM_EVENT_OPENED);
out:
	mutex_unlock(&vfiosim_devices_lock);
	kfree(session);
	return ret;
}

static int vfiosim_nl_dev_close(struct sk_buff *skb, struct genl_info *info)
{
	struct vfiosim_dev *sdev;
	int ret = 0;

	mutex_lock(&vfiosim_devices_lock);
	sdev = vfiosim_nl_owned(info);
	if (IS_ERR(sdev))
		ret = PTR_ERR(sdev);
	else
		vfiosim_session_end(sdev);
	mutex_unlock(&vfiosim_devices_lock);
	return ret;
}

static int vfiosim_nl_ping(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(0, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vfiosim_nl_family, 0,
				VFIOSIM_CMD_PING);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* ---- vfio-user commands ---------------------------------------------- */

/* Room for @len reply bytes, or NULL if the reply buffer is too small. */
static void *vu_reply(struct vfiosim_vu_req *req, u32 len)
{
	if (len > req->reply_cap)
		return NULL;
	req->reply_len = len;
	return req->reply;
}

/* A fixed-layout request begins with an argsz the reply must respect. */
static int vu_argsz(struct vfiosim_vu_req *req, u32 min_payload, u32 minsz,
		    u32 *argsz)
{
	if (req->len < min_payload)
		return -EINVAL;
	*argsz = *(const u32 *)req->payload;
	return *argsz < minsz ? -EINVAL : 0;
}

static int vu_version(struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_version *in = req->payload;
	struct vfiosim_user_version *out;
	char caps[192];
	int len;

	if (req->len < sizeof(*in))
		return -EINVAL;
	/* optional JSON, but if present it must be NUL-terminated */
	if (req->len > sizeof(*in) &&
	    !memchr(in->data, '\0', req->len - sizeof(*in)))
		return -EINVAL;
	if (in->major != VFIOSIM_USER_VERSION_MAJOR)
		return -EOPNOTSUPP;

	len = snprintf(caps, sizeof(caps),
		       "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u,\"max_dma_maps\":%u,\"pgsizes\":%u,\"write_multiple\":true}}",
		       VFIOSIM_USER_MAX_MSG_FDS, VFIOSIM_USER_MAX_DATA_XFER,
		       VFIOSIM_USER_MAX_DMA_MAPS, VFIOSIM_USER_PGSIZES);
	out = vu_reply(req, sizeof(*out) + len + 1);
	if (!out)
		return -ENOMEM;
	out->major = VFIOSIM_USER_VERSION_MAJOR;
	out->minor = min_t(u16, in->minor, VFIOSIM_USER_VERSION_MINOR);
	memcpy(out->data, caps, len + 1);
	return 0;
}

static int vu_device_info(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info *info;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, sizeof(u32), minsz, &argsz);
	if (ret)
		return ret;
	info = vu_reply(req, minsz);
	if (!info)
		return -ENOMEM;
	info->argsz = minsz;
	vfiosim_get_device_info(req->sdev, info);
	return 0;
}

static const struct file_operations vfiosim_region_fops;

static int vu_region_info(struct vfiosim_vu_req *req)
{
	u32 minsz = sizeof(struct vfio_region_info);
	struct vfio_info_cap caps = {};
	struct vfio_region_info info = {};
	void *out;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, offsetofend(struct vfio_region_info, index), minsz,
		       &argsz);
	if (ret)
		return ret;
	info.index = ((const struct vfio_region_info *)req->payload)->index;
	ret = vfiosim_get_region_info(req->sdev, &info, &caps);
	if (ret)
		goto out;

	/*
	 * FLAG_CAPS only with the chain in the reply: a client (QEMU) that
	 * asked with a small argsz sees argsz grow, and asks again.
	 */
	info.argsz = minsz + caps.size;
	info.cap_offset = 0;
	if (caps.size && argsz >= info.argsz) {
		vfio_info_cap_shift(&caps, minsz);
		info.cap_offset = minsz;
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	} else {
		caps.size = 0;		/* the caller learns the size it needs */
	}
	out = vu_reply(req, minsz + caps.size);
	if (!out) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(out, &info, minsz);
	if (caps.size)
		memcpy(out + minsz, caps.buf, caps.size);

	/* An mmappable region comes with an fd the caller can map. */
	if ((info.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
	    !(req->hdr->flags & VFIOSIM_USER_F_NO_REPLY)) {
		struct file *file;

		get_device(&req->sdev->vdev.device);
		file = anon_inode_getfile("[vfiosim-region]",
					  &vfiosim_region_fops, req->sdev,
					  O_RDWR);
		if (IS_ERR(file)) {
			put_device(&req->sdev->vdev.device);
			ret = PTR_ERR(file);
			goto out;
		}
		req->out_file = file;
	}
out:
	kfree(caps.buf);
	return ret;
}

static int vu_irq_info(struct vfiosim_vu_req *req)
{
	u32 minsz = sizeof(struct vfio_irq_info);
	struct vfio_irq_info *info;
	u32 argsz;
	int ret;

	ret = vu_argsz(req, offsetofend(struct vfio_irq_info, index), minsz,
		       &argsz);
	if (ret)
		return ret;
	info = vu_reply(req, minsz);
	if (!info)
		return -ENOMEM;
	info->index = ((const struct vfio_irq_info *)req->payload)->index;
	info->argsz = minsz;
	return vfiosim_get_irq_info(req->sdev, info);
}

/*
 * The eventfds of DATA_EVENTFD travel in VFIOSIM_ATTR_FDS, not in the
 * payload: exactly count of them, or none to de-assign the range.
 */
static int vu_set_irqs(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_irq_set, count);
	s32 none[VFIOSIM_MAX_VECTORS];
	struct vfio_irq_info irq = {};
	struct vfio_irq_set hdr;
	const void *data = NULL;
	size_t data_size;
	u32 i;
	int ret;

	if (req->len < minsz)
		return -EINVAL;
	memcpy(&hdr, req->payload, minsz);
	irq.index = hdr.index;
	if (vfiosim_get_irq_info(req->sdev, &irq))
		return -EINVAL;

	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (req->nfds && req->nfds != hdr.count)
			return -EINVAL;
		if (hdr.count > VFIOSIM_MAX_VECTORS)
			return -EINVAL;
		/* the fds are in the message meta-data, not in argsz */
		hdr.argsz = minsz + hdr.count * sizeof(s32);
		if (req->nfds) {
			data = req->fds;
		} else {
			for (i = 0; i < hdr.count; i++)
				none[i] = -1;
			data = none;
		}
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		data = req->payload + minsz;
		fallthrough;
	default:
		if (req->nfds)
			return -EINVAL;
		if (hdr.argsz > req->len)
			return -EINVAL;
		break;
	}

	ret = vfio_set_irqs_validate_and_prepare(&hdr, irq.count,
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	return vfiosim_set_irqs(req->sdev, &hdr, data);
}

/*
 * Payloads sit at 4-byte alignment in the attribute, so fixed headers with
 * u64 fields are copied out before use.
 */
static int vu_region_read(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_region_access in, *out;

	if (req->len != sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.count > VFIOSIM_USER_MAX_DATA_XFER)
		return -EINVAL;
	out = vu_reply(req, sizeof(*out) + in.count);
	if (!out)
		return -ENOMEM;
	*out = in;
	return vfiosim_region_rw(req->sdev, in.region, in.offset, out->data,
				 in.count, false);
}

static int vu_region_write(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_region_access in, *out;
	int ret;

	if (req->len < sizeof(in))
		return -EINVAL;
	memcpy(&in, req->payload, sizeof(in));
	if (in.count > VFIOSIM_USER_MAX_DATA_XFER ||
	    req->len != sizeof(in) + in.count)
		return -EINVAL;
	ret = vfiosim_region_rw(req->sdev, in.region, in.offset,
				(void *)req->payload + sizeof(in), in.count,
				true);
	if (ret)
		return ret;
	out = vu_reply(req, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*out = in;
	return 0;
}

static int vu_region_write_multi(struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_write_multi_entry *wrs;
	struct vfiosim_user_write_multi_entry wr;
	u64 wr_cnt, i, *out;
	int ret;

	if (req->len < sizeof(wr_cnt))
		return -EINVAL;
	memcpy(&wr_cnt, req->payload, sizeof(wr_cnt));
	if (!wr_cnt || wr_cnt > VFIOSIM_USER_WRITE_MULTI_MAX ||
	    req->len != sizeof(wr_cnt) + wr_cnt * sizeof(wr))
		return -EINVAL;
	wrs = req->payload + sizeof(wr_cnt);
	for (i = 0; i < wr_cnt; i++) {
		memcpy(&wr, &wrs[i], sizeof(wr));
		if (!wr.count || wr.count > sizeof(wr.data))
			return -EINVAL;
	}
	for (i = 0; i < wr_cnt; i++) {
		memcpy(&wr, &wrs[i], sizeof(wr));
		ret = vfiosim_region_rw(req->sdev, wr.region, wr.offset,
					wr.data, wr.count, true);
		if (ret)
			return ret;
	}
	out = vu_reply(req, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*out = wr_cnt;
	return 0;
}

static int vu_reset(struct vfiosim_vu_req *req)
{
	if (req->len)
		return -EINVAL;
	vfiosim_reset(req->sdev);
	vfiosim_netlink_event(req->sdev, VFIOSIM_EVENT_RESET);
	return 0;
}

/* The checks the VFIO core makes before a driver sees a feature. */
static int vu_device_feature(struct vfiosim_vu_req *req)
{
	u32 minsz = offsetofend(struct vfio_device_feature, flags);
	const struct vfio_device_feature *in = req->payload;

	if (req->len < minsz || in->argsz < minsz)
		return -EINVAL;
	if (in->flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	if (!(in->flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (in->flags & VFIO_DEVICE_FEATURE_SET) &&
	    (in->flags & VFIO_DEVICE_FEATURE_GET))
		return -EINVAL;
	return vfiosim_device_feature(req->sdev, in->flags);
}

static bool vfiosim_dma_overlaps(struct vfiosim_session *session, u64 iova,
				 u64 size)
{
	struct vfiosim_dma_map *map;

	list_for_each_entry(map, &session->dma_maps, node)
		if (iova < map->iova + map->size && map->iova < iova + size)
			return true;
	return false;
}

static int vu_dma_map(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_dma_map req_map, *in = &req_map;
	struct vfiosim_session *session = req->sdev->session;
	u32 rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	struct vfiosim_dma_map *map;
	struct file *file = NULL;
	u64 end;

	if (req->len != sizeof(*in))
		return -EINVAL;
	memcpy(in, req->payload, sizeof(*in));
	if (in->argsz < sizeof(*in) ||
	    (in->flags & ~rw) || req->nfds > 1)
		return -EINVAL;
	if (!in->size || !PAGE_ALIGNED(in->addr) || !PAGE_ALIGNED(in->size) ||
	    !PAGE_ALIGNED(in->offset) ||
	    check_add_overflow(in->addr, in->size, &end) ||
	    check_add_overflow(in->offset, in->size, &end))
		return -EINVAL;
	if (session->nr_dma_maps >= VFIOSIM_USER_MAX_DMA_MAPS)
		return -ENOSPC;
	if (vfiosim_dma_overlaps(session, in->addr, in->size))
		return -EEXIST;

	if (req->nfds) {
		file = fget(req->fds[0]);
		if (!file)
			return -EBADF;
		/* The device reads what READ maps and writes what WRITE maps. */
		if (((in->flags & VFIO_DMA_MAP_FLAG_READ) &&
		     !(file->f_mode & FMODE_READ)) ||
		    ((in->flags & VFIO_DMA_MAP_FLAG_WRITE) &&
		     !(file->f_mode & FMODE_WRITE))) {
			fput(file);
			return -EACCES;
		}
	}

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map) {
		if (file)
			fput(file);
		return -ENOMEM;
	}
	map->iova = in->addr;
	map->size = in->size;
	map->offset = in->offset;
	map->flags = in->flags;
	map->file = file;
	list_add_tail(&map->node, &session->dma_maps);
	session->nr_dma_maps++;
	return 0;
}

static int vu_dma_unmap(struct vfiosim_vu_req *req)
{
	struct vfiosim_user_dma_unmap req_unmap, *in = &req_unmap;
	struct vfiosim_session *session = req->sdev->session;
	struct vfiosim_dma_map *map, *tmp;
	void *out;
	u64 last;

	if (req->len != sizeof(*in))
		return -EINVAL;
	memcpy(in, req->payload, sizeof(*in));
	if (in->argsz < sizeof(*in) ||
	    (in->flags & ~VFIO_DMA_UNMAP_FLAG_ALL))
		return -EINVAL;

	if (in->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (in->addr || in->size)
			return -EINVAL;
		list_for_each_entry_safe(map, tmp, &session->dma_maps, node)
			vfiosim_dma_map_free(session, map);
		goto reply;
	}
	/*
	 * As the type1 IOMMU (v2) unmaps: every mapping inside the range goes,
	 * a range that splits a mapping is refused, and a range with nothing
	 * in it is no error.  QEMU unmaps whole vIOMMU windows this way, the
	 * top half ending at 2^64: hence inclusive ends.
	 */
	last = in->addr + in->size - 1;
	if (!in->size || last < in->addr)
		return -EINVAL;
	list_for_each_entry(map, &session->dma_maps, node) {
		u64 map_last = map->iova + map->size - 1;
		bool overlaps = map->iova <= last && map_last >= in->addr;
		bool inside = map->iova >= in->addr && map_last <= last;

		if (overlaps && !inside)
			return -EINVAL;
	}
	list_for_each_entry_safe(map, tmp, &session->dma_maps, node) {
		if (map->iova >= in->addr && map->iova + map->size - 1 <= last)
			vfiosim_dma_map_free(session, map);
	}
reply:
	out = vu_reply(req, sizeof(*in));
	if (!out)
		return -ENOMEM;
	memcpy(out, in, sizeof(*in));
	return 0;
}

static int vu_dispatch(struct vfiosim_vu_req *req)
{
	switch (req->hdr->command) {
	case VFIOSIM_USER_VERSION:
		return vu_version(req);
	case VFIOSIM_USER_DMA_MAP:
		return vu_dma_map(req);
	case VFIOSIM_USER_DMA_UNMAP:
		return vu_dma_unmap(req);
	case VFIOSIM_USER_DEVICE_GET_INFO:
		return vu_device_info(req);
	case VFIOSIM_USER_DEVICE_GET_REGION_INFO:
		return vu_region_info(req);
	case VFIOSIM_USER_DEVICE_GET_IRQ_INFO:
		return vu_irq_info(req);
	case VFIOSIM_USER_DEVICE_SET_IRQS:
		return vu_set_irqs(req);
	case VFIOSIM_USER_REGION_READ:
		return vu_region_read(req);
	case VFIOSIM_USER_REGION_WRITE:
		return vu_region_write(req);
	case VFIOSIM_USER_REGION_WRITE_MULTI:
		return vu_region_write_multi(req);
	case VFIOSIM_USER_DEVICE_RESET:
		return vu_reset(req);
	case VFIOSIM_USER_DEVICE_FEATURE:
		return vu_device_feature(req);
	default:
		/* IO fds, DMA_READ/WRITE upcalls, migration: not spoken here */
		return -EOPNOTSUPP;
	}
}

/* How much reply payload a command may need. */
static u32 vu_reply_size(const struct vfiosim_vu_req *req)
{
	const struct vfiosim_user_region_access *rd = req->payload;

	switch (req->hdr->command) {
	case VFIOSIM_USER_REGION_READ:
		if (req->len < sizeof(*rd))
			return 0;
		return sizeof(*rd) + min_t(u32, rd->count,
					   VFIOSIM_USER_MAX_DATA_XFER);
	case VFIOSIM_USER_DEVICE_GET_REGION_INFO:
	case VFIOSIM_USER_VERSION:
		return VU_INFO_REPLY;
	default:
		return 0;
	}
}

/* Send the vfio-user reply (and an fd to install) back to the sender. */
static int vfiosim_nl_vu_reply(struct genl_info *info,
			       const struct vfiosim_user_header *cmd,
			       struct vfiosim_vu_req *req, int err)
{
	struct vfiosim_user_header *rhdr;
	struct sk_buff *msg;
	struct nlattr *attr;
	u32 len = err ? 0 : req->reply_len;
	int fd = -1;
	void *hdr;
	int ret;

	msg = genlmsg_new(nla_total_size(VU_HDR_SIZE + len) +
			  nla_total_size(sizeof(s32)), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vfiosim_nl_family, 0,
				VFIOSIM_CMD_VFIO_USER);
	if (!hdr)
		goto nospace;
	attr = nla_reserve(msg, VFIOSIM_ATTR_MSG, VU_HDR_SIZE + len);
	if (!attr)
		goto nospace;
	rhdr = nla_data(attr);
	rhdr->msg_id = cmd->msg_id;
	rhdr->command = cmd->command;
	rhdr->msg_size = VU_HDR_SIZE + len;
	rhdr->flags = VFIOSIM_USER_F_TYPE_REPLY | (err ? VFIOSIM_USER_F_ERROR : 0);
	rhdr->error_no = -err;
	memcpy(rhdr + 1, req->reply, len);

	if (!err && req->out_file) {
		fd = get_unused_fd_flags(O_CLOEXEC);
		if (fd < 0) {
			nlmsg_free(msg);
			return fd;
		}
		if (nla_put_s32(msg, VFIOSIM_ATTR_FDS, fd)) {
			put_unused_fd(fd);
			goto nospace;
		}
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
	/*
	 * The sender is inside sendmsg() until we return, so installing the
	 * fd after the reply is queued is early enough, and an undelivered
	 * reply leaves no fd behind that nobody knows about.
	 */
	if (fd >= 0) {
		if (ret) {
			put_unused_fd(fd);
		} else {
			fd_install(fd, req->out_file);
			req->out_file = NULL;
		}
	}
	return ret;
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int vfiosim_nl_vfio_user(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *msg_attr = info->attrs[VFIOSIM_ATTR_MSG];
	struct nlattr *fds_attr = info->attrs[VFIOSIM_ATTR_FDS];
	const struct vfiosim_user_header *cmd;
	struct vfiosim_vu_req req = {};
	u8 small[VU_SMALL_REPLY] __aligned(8);
	void *big = NULL;
	u32 len;
	int err, ret;

	if (!msg_attr) {
		GENL_SET_ERR_MSG(info, "missing vfio-user message");
		return -EINVAL;
	}
	len = nla_len(msg_attr);
	if (len < VU_HDR_SIZE) {
		NL_SET_ERR_MSG_ATTR(info->extack, msg_attr,
				    "vfio-user message shorter than its header");
		return -EINVAL;
	}
	if (fds_attr && nla_len(fds_attr) % sizeof(s32)) {
		NL_SET_ERR_MSG_ATTR(info->extack, fds_attr,
				    "fds attribute is not an array of s32");
		return -EINVAL;
	}
	cmd = nla_data(msg_attr);

	req.info = info;
	req.hdr = cmd;
	req.payload = cmd + 1;
	req.len = len - VU_HDR_SIZE;
	req.fds = fds_attr ? nla_data(fds_attr) : NULL;
	req.nfds = fds_attr ? nla_len(fds_attr) / sizeof(s32) : 0;
	req.reply = small;
	req.reply_cap = sizeof(small);

	/* Only a few commands answer with more than a few words. */
	if (vu_reply_size(&req) > sizeof(small)) {
		req.reply_cap = vu_reply_size(&req);
		big = kvmalloc(req.reply_cap, GFP_KERNEL);
		if (!big)
			return -ENOMEM;
		req.reply = big;
	}

	mutex_lock(&vfiosim_devices_lock);
	req.sdev = vfiosim_nl_owned(info);
	if (IS_ERR(req.sdev)) {
		ret = PTR_ERR(req.sdev);
		goto unlock;
	}

	if (cmd->msg_size != len ||
	    (cmd->flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_COMMAND)
		err = -EINVAL;
	else
		err = vu_dispatch(&req);

	ret = 0;
	if (!(cmd->flags & VFIOSIM_USER_F_NO_REPLY))
		ret = vfiosim_nl_vu_reply(info, cmd, &req, err);
unlock:
	mutex_unlock(&vfiosim_devices_lock);
	if (req.out_file)
		fput(req.out_file);
	kvfree(big);
	return ret;
}

/* ---- the region mmap file -------------------------------------------- */

static int vfiosim_region_file_mmap(struct file *file,
				    struct vm_area_struct *vma)
{
	return vfiosim_mmap(file->private_data, vma);
}

static int vfiosim_region_file_release(struct inode *inode, struct file *file)
{
	struct vfiosim_dev *sdev = file->private_data;

	put_device(&sdev->vdev.device);
	return 0;
}

/* Offsets are those of the region info, as on a VFIO device fd. */
static const struct file_operations vfiosim_region_fops = {
	.owner = THIS_MODULE,
	.mmap = vfiosim_region_file_mmap,
	.release = vfiosim_region_file_release,
	.llseek = noop_llseek,
};

/* ---- the family ------------------------------------------------------ */

static const struct nla_policy vfiosim_nl_policy[VFIOSIM_ATTR_MAX + 1] = {
	[VFIOSIM_ATTR_DEV_UUID] = { .type = NLA_STRING, .len = UUID_STRING_LEN },
	[VFIOSIM_ATTR_MSG] = { .type = NLA_BINARY, .len = VU_MAX_MSG },
	[VFIOSIM_ATTR_FDS] = { .type = NLA_BINARY,
			       .len = VFIOSIM_USER_MAX_MSG_FDS * sizeof(s32) },
};

static const struct genl_ops vfiosim_nl_ops[] = {
	{
		.cmd = VFIOSIM_CMD_DEV_GET,
		.doit = vfiosim_nl_dev_get_doit,
		.dumpit = vfiosim_nl_dev_get_dumpit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_OPEN,
		.doit = vfiosim_nl_dev_open,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_CLOSE,
		.doit = vfiosim_nl_dev_close,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_VFIO_USER,
		.doit = vfiosim_nl_vfio_user,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_PING,
		.doit = vfiosim_nl_ping,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group vfiosim_nl_mcgrps[] = {
	{ .name = VFIOSIM_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family vfiosim_nl_family __ro_after_init = {
	.name = VFIOSIM_GENL_NAME,
	.version = VFIOSIM_GENL_VERSION,
	.maxattr = VFIOSIM_ATTR_MAX,
	.policy = vfiosim_nl_policy,
	.module = THIS_MODULE,
	.ops = vfiosim_nl_ops,
	.n_ops = ARRAY_SIZE(vfiosim_nl_ops),
	.resv_start_op = VFIOSIM_CMD_MAX + 1,
	.mcgrps = vfiosim_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vfiosim_nl_mcgrps),
};

int vfiosim_netlink_init(void)
{
	int ret;

	ret = genl_register_family(&vfiosim_nl_family);
	if (ret)
		return ret;
	ret = netlink_register_notifier(&vfiosim_nl_notifier);
	if (ret)
		genl_unregister_family(&vfiosim_nl_family);
	return ret;
}

void vfiosim_netlink_exit(void)
{
	netlink_unregister_notifier(&vfiosim_nl_notifier);
	genl_unregister_family(&vfiosim_nl_family);
}
