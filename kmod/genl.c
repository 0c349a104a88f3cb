// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the generic netlink transport.
 *
 * The "vfiosim" family lists devices, binds one to a netlink socket and
 * carries vfio-user messages to it (uapi/linux/vfiosim.h has the
 * contract; vfio_user.c serves the messages).  Like vfio.c it only
 * translates: device behaviour is core.c's.  A genl doit runs in the
 * sender's task, so fd numbers in VFIOSIM_ATTR_FDS are resolved in the
 * sender's file table, and an mmap fd is installed there.
 */

#include <linux/file.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <net/genetlink.h>

#include "compat.h"
#include "netlink.h"

static struct genl_family vfiosim_nl_family;

/* ---- sessions -------------------------------------------------------- */

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

/*
 * A required attribute missing: true, with the extack naming it (type and
 * message).  Every doit checks its own before anything else.
 */
static bool vfiosim_nl_missing(struct genl_info *info, int attr)
{
	if (!GENL_REQ_ATTR_CHECK(info, attr))
		return false;
	if (attr == VFIOSIM_ATTR_MSG)
		GENL_SET_ERR_MSG(info, "missing vfio-user message");
	else
		GENL_SET_ERR_MSG(info, "missing device UUID");
	return true;
}

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

	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID))
		return -EINVAL;
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

	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID))
		return -EINVAL;
	session = kzalloc(sizeof(*session), GFP_KERNEL_ACCOUNT);
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

	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID))
		return -EINVAL;
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

/* ---- the vfio-user command ------------------------------------------- */

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

	/* The policy bounds the message: VU_HDR_SIZE..VU_MAX_MSG bytes. */
	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID) ||
	    vfiosim_nl_missing(info, VFIOSIM_ATTR_MSG))
		return -EINVAL;
	len = nla_len(msg_attr);
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
	if (vfiosim_vu_reply_size(&req) > sizeof(small)) {
		req.reply_cap = vfiosim_vu_reply_size(&req);
		big = kvmalloc(req.reply_cap, GFP_KERNEL_ACCOUNT);
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
		err = vfiosim_vu_dispatch(&req);

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

/* ---- the family ------------------------------------------------------ */

/*
 * One policy per command, each what uapi/netlink/vfiosim.yaml gives the
 * command's request (scripts/ynl-check.sh compares them with the policies
 * ynl-gen-c makes of the spec).  maxattr is the highest attribute the
 * command takes; with strict validation any other attribute (fds on a
 * command that takes none, say) is refused with EINVAL before a doit runs.
 */
static const struct nla_policy vfiosim_nl_dev_policy[VFIOSIM_ATTR_DEV_UUID + 1] = {
	[VFIOSIM_ATTR_DEV_UUID] = { .type = NLA_NUL_STRING, .len = UUID_STRING_LEN },
};

static const struct nla_policy vfiosim_nl_vfio_user_policy[VFIOSIM_ATTR_FDS + 1] = {
	[VFIOSIM_ATTR_DEV_UUID] = { .type = NLA_NUL_STRING, .len = UUID_STRING_LEN },
	/*
	 * A whole message: at least its header, at most the largest one.
	 * Not NLA_POLICY_RANGE: its bounds are s16, and the largest message
	 * is longer than S16_MAX.
	 */
	[VFIOSIM_ATTR_MSG] = { .type = NLA_BINARY, .len = VFIOSIM_USER_MAX_MSG,
			       .validation_type = NLA_VALIDATE_MIN,
			       .min = sizeof(struct vfiosim_user_header) },
	[VFIOSIM_ATTR_FDS] = { .type = NLA_BINARY,
			       .len = VFIOSIM_USER_MAX_MSG_FDS * sizeof(s32) },
};

/* PING takes no attributes at all. */
static const struct nla_policy vfiosim_nl_ping_policy[VFIOSIM_ATTR_DEV_UUID + 1] = {
	[VFIOSIM_ATTR_DEV_UUID] = { .type = NLA_REJECT },
};

static const struct genl_ops vfiosim_nl_ops[] = {
	{
		.cmd = VFIOSIM_CMD_DEV_GET,
		.doit = vfiosim_nl_dev_get_doit,
		.dumpit = vfiosim_nl_dev_get_dumpit,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_OPEN,
		.doit = vfiosim_nl_dev_open,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_CLOSE,
		.doit = vfiosim_nl_dev_close,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_VFIO_USER,
		.doit = vfiosim_nl_vfio_user,
		.policy = vfiosim_nl_vfio_user_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_vfio_user_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = VFIOSIM_CMD_PING,
		.doit = vfiosim_nl_ping,
		.policy = vfiosim_nl_ping_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_ping_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group vfiosim_nl_mcgrps[] = {
	{ .name = VFIOSIM_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family vfiosim_nl_family __ro_after_init = {
	.name = VFIOSIM_GENL_NAME,
	.version = VFIOSIM_GENL_VERSION,
	/* per-command policies (above); this only sizes CTRL_ATTR_MAXATTR */
	.maxattr = VFIOSIM_ATTR_MAX,
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
