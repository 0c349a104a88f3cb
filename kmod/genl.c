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
#include <linux/hashtable.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "compat.h"
#include "netlink.h"

static struct genl_family vfiosim_nl_family;

/*
 * Every command and the events group need CAP_SYS_ADMIN: a netlink owner
 * takes a device away from VFIO, whose device files root guards, so the
 * capability is the one that overrides file modes, not CAP_NET_ADMIN.
 */
static bool vfiosim_nl_capable(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	if (info)
		GENL_SET_ERR_MSG(info, "vfiosim needs CAP_SYS_ADMIN");
	return false;
}

/* ---- sessions -------------------------------------------------------- */

static void vfiosim_session_put(struct vfiosim_session *session)
{
	if (!refcount_dec_and_test(&session->ref))
		return;
	vfiosim_dev_put(session->sdev);
	/* a reader may still walk past it in nsk->sessions */
	kfree_rcu(session, rcu);
}

/*
 * Drop everything the netlink owner held, and the module with it.
 * Caller holds the device's nl_lock; session is its current one.
 */
static void vfiosim_session_end(struct vfiosim_session *session)
{
	struct vfiosim_dev *sdev = session->sdev;
	struct vfiosim_dma_map *map, *tmp;

	lockdep_assert_held(&sdev->nl_lock);
	/* the DMA engine lets go of the maps before their files go */
	vfiosim_dma_stop(sdev);
	list_for_each_entry_safe(map, tmp, &session->dma_maps, node)
		vfiosim_dma_map_free(session, map);
	vfiosim_release_irqs(sdev);
	WRITE_ONCE(sdev->session, NULL);
	vfiosim_unclaim(sdev);		/* and CLOSED */
	vfiosim_dma_resume(sdev, false);
	spin_lock(&session->nsk->lock);
	list_del_rcu(&session->node);
	spin_unlock(&session->nsk->lock);
	wake_up(&sdev->session_wq);
	vfiosim_session_put(session);
	/*
	 * The caller runs in a genl handler, the socket release or the
	 * device's removal, each of which module removal waits for.
	 */
	module_put(THIS_MODULE);
}

/* The socket is going away: end each of its sessions. */
static void vfiosim_nl_sock_release(struct vfiosim_nl_sock *nsk)
{
	struct vfiosim_session *session;
	struct vfiosim_dev *sdev;

	for (;;) {
		spin_lock(&nsk->lock);
		session = list_first_entry_or_null(&nsk->sessions,
						   struct vfiosim_session, node);
		if (session)
			refcount_inc(&session->ref);
		spin_unlock(&nsk->lock);
		if (!session)
			return;
		sdev = session->sdev;
		mutex_lock(&sdev->nl_lock);
		/* unless a killed remover ended it meanwhile */
		if (sdev->session == session)
			vfiosim_session_end(session);
		mutex_unlock(&sdev->nl_lock);
		vfiosim_session_put(session);
	}
}

static void vfiosim_nl_sock_init(struct vfiosim_nl_sock *nsk)
{
	spin_lock_init(&nsk->lock);
	INIT_LIST_HEAD(&nsk->sessions);
}

#ifdef VFIOSIM_HAVE_GENL_SOCK_PRIV
/* genl keeps a vfiosim_nl_sock per socket, and frees it at release. */
static void vfiosim_nl_sock_priv_init(void *priv)
{
	vfiosim_nl_sock_init(priv);
}

static void vfiosim_nl_sock_priv_destroy(void *priv)
{
	vfiosim_nl_sock_release(priv);
}

#define VFIOSIM_NL_SOCK_PRIV					\
	.sock_priv_size = sizeof(struct vfiosim_nl_sock),	\
	.sock_priv_init = vfiosim_nl_sock_priv_init,		\
	.sock_priv_destroy = vfiosim_nl_sock_priv_destroy,

/*
 * The sending socket's state; created on first use if create.  It lives
 * while the socket does: the sender is inside sendmsg() until the handler
 * returns.  genl_sk_priv_get() does this but is not exported to modules,
 * so this does the same on the family's table of per-socket state, whose
 * entries the genl core erases and frees (kfree) at the socket's release.
 */
static struct vfiosim_nl_sock *vfiosim_nl_sock(struct sk_buff *skb,
					       bool create)
{
	unsigned long key = (unsigned long)NETLINK_CB(skb).sk;
	struct xarray *privs = vfiosim_nl_family.sock_privs;
	struct vfiosim_nl_sock *nsk, *old;

	nsk = xa_load(privs, key);
	if (nsk || !create)
		return nsk ?: ERR_PTR(-ENOENT);
	nsk = kzalloc(sizeof(*nsk), GFP_KERNEL_ACCOUNT);
	if (!nsk)
		return ERR_PTR(-ENOMEM);
	vfiosim_nl_sock_init(nsk);
	old = xa_cmpxchg(privs, key, NULL, nsk, GFP_KERNEL_ACCOUNT);
	if (!old)
		return nsk;
	/* another thread of the same socket was first */
	kfree(nsk);
	return xa_is_err(old) ? ERR_PTR(xa_err(old)) : old;
}

static int vfiosim_nl_socks_init(void)
{
	return 0;
}

static void vfiosim_nl_socks_exit(void)
{
}
#else
/*
 * Before 6.10: the sockets that opened a device, by portid.  A socket is
 * found by its struct sock, held until the entry goes; the mutex is
 * taken to add an entry (DEV_OPEN) and at a socket's release only.
 */
static DEFINE_HASHTABLE(vfiosim_nl_socks, 6);
static DEFINE_MUTEX(vfiosim_nl_socks_lock);

static struct vfiosim_nl_sock *vfiosim_nl_sock_find(struct sock *sk,
						    u32 portid)
{
	struct vfiosim_nl_sock *nsk;

	hash_for_each_possible_rcu(vfiosim_nl_socks, nsk, node, portid)
		if (nsk->sk == sk)
			return nsk;
	return NULL;
}

/*
 * The entry of the sending socket, which lives while the socket does:
 * the socket is inside sendmsg() until the handler returns.
 */
static struct vfiosim_nl_sock *vfiosim_nl_sock(struct sk_buff *skb,
					       bool create)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	u32 portid = NETLINK_CB(skb).portid;
	struct vfiosim_nl_sock *nsk, *new;

	rcu_read_lock();
	nsk = vfiosim_nl_sock_find(sk, portid);
	rcu_read_unlock();
	if (nsk || !create)
		return nsk ?: ERR_PTR(-ENOENT);

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);
	vfiosim_nl_sock_init(new);
	new->portid = portid;
	mutex_lock(&vfiosim_nl_socks_lock);
	/* another thread of the same socket may have been first */
	rcu_read_lock();
	nsk = vfiosim_nl_sock_find(sk, portid);
	rcu_read_unlock();
	if (!nsk) {
		sock_hold(sk);
		new->sk = sk;
		hash_add_rcu(vfiosim_nl_socks, &new->node, portid);
		nsk = new;
		new = NULL;
	}
	mutex_unlock(&vfiosim_nl_socks_lock);
	kfree(new);
	return nsk;
}

/*
 * NETLINK_URELEASE comes after the socket gave up its portid, which a new
 * socket may already have taken: only an entry whose socket is dead (set
 * by the release before the notifier) is this socket's.
 */
static int vfiosim_nl_release(struct notifier_block *nb, unsigned long state,
			      void *data)
{
	struct netlink_notify *n = data;
	struct vfiosim_nl_sock *nsk, *found = NULL;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;

	mutex_lock(&vfiosim_nl_socks_lock);
	hash_for_each_possible(vfiosim_nl_socks, nsk, node, n->portid) {
		if (nsk->portid == n->portid &&
		    net_eq(sock_net(nsk->sk), n->net) &&
		    sock_flag(nsk->sk, SOCK_DEAD)) {
			hash_del_rcu(&nsk->node);
			found = nsk;
			break;
		}
	}
	mutex_unlock(&vfiosim_nl_socks_lock);
	if (found) {
		vfiosim_nl_sock_release(found);
		sock_put(found->sk);
		kfree_rcu(found, rcu);
	}
	return NOTIFY_DONE;
}

static struct notifier_block vfiosim_nl_notifier = {
	.notifier_call = vfiosim_nl_release,
};

#define VFIOSIM_NL_SOCK_PRIV

static int vfiosim_nl_socks_init(void)
{
	return netlink_register_notifier(&vfiosim_nl_notifier);
}

/* Sockets still open once every session ended (each holds the module). */
static void vfiosim_nl_socks_exit(void)
{
	struct vfiosim_nl_sock *nsk;
	struct hlist_node *tmp;
	unsigned int bkt;

	netlink_unregister_notifier(&vfiosim_nl_notifier);
	hash_for_each_safe(vfiosim_nl_socks, bkt, tmp, nsk, node) {
		hash_del_rcu(&nsk->node);
		sock_put(nsk->sk);
		kfree_rcu(nsk, rcu);
	}
}
#endif

/* Re-ask a netlink owner that ignores REQ this often, as VFIO does. */
#define VFIOSIM_REQ_INTERVAL	(10 * HZ)

/*
 * The device is going away.  It leaves the registry first, so nobody new
 * finds it; as on the VFIO path, a netlink owner is asked to let go (REQ)
 * and waited for, and the device keeps working for it meanwhile.  Unlike
 * VFIO, a remover that is killed does not hang: the owner is unbound for
 * it (it may be the owner itself).
 */
void vfiosim_netlink_remove(struct vfiosim_dev *sdev)
{
	unsigned int count = 0;
	bool had_session;

	xa_erase(&vfiosim_devices, sdev->id);
	atomic_inc(&vfiosim_devices_gen);

	mutex_lock(&sdev->nl_lock);
	sdev->removing = true;
	while (sdev->session) {
		if (fatal_signal_pending(current)) {
			vfiosim_session_end(sdev->session);
			break;
		}
		vfiosim_request(sdev, count++);
		mutex_unlock(&sdev->nl_lock);
		wait_event_killable_timeout(sdev->session_wq,
					    !READ_ONCE(sdev->session),
					    VFIOSIM_REQ_INTERVAL);
		mutex_lock(&sdev->nl_lock);
	}
	had_session = sdev->had_session;
	mutex_unlock(&sdev->nl_lock);
	/*
	 * A message may still be looking at an ended session under RCU
	 * (vfiosim_nl_session()), reading this device through it.  Only a
	 * session leads there: a device that never had one (most, and every
	 * VFIO-only one) need not wait a grace period to go.
	 */
	if (had_session)
		synchronize_rcu();
}

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

/* The UUID attribute, which every doit has checked is there. */
static int vfiosim_nl_uuid(struct genl_info *info, guid_t *uuid)
{
	struct nlattr *attr = info->attrs[VFIOSIM_ATTR_DEV_UUID];
	char str[UUID_STRING_LEN + 1];

	if (nla_strscpy(str, attr, sizeof(str)) < 0 || guid_parse(str, uuid)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "malformed device UUID");
		return -EINVAL;
	}
	return 0;
}

/*
 * The registered device named by VFIOSIM_ATTR_DEV_UUID, held: the caller
 * puts it with vfiosim_dev_put().  For the commands that name a device
 * nobody owns yet; an owner's messages go through vfiosim_nl_session().
 */
static struct vfiosim_dev *vfiosim_nl_lookup(struct genl_info *info)
{
	struct vfiosim_dev *sdev;
	unsigned long id;
	guid_t uuid;
	int ret;

	ret = vfiosim_nl_uuid(info, &uuid);
	if (ret)
		return ERR_PTR(ret);
	xa_lock(&vfiosim_devices);
	xa_for_each(&vfiosim_devices, id, sdev) {
		if (guid_equal(vfiosim_uuid(sdev), &uuid)) {
			vfiosim_dev_get(sdev);
			xa_unlock(&vfiosim_devices);
			return sdev;
		}
	}
	xa_unlock(&vfiosim_devices);
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[VFIOSIM_ATTR_DEV_UUID],
			    "no vfiosim device with this UUID");
	return ERR_PTR(-ENODEV);
}

/* Why the sender has no session on the device it named. */
static int vfiosim_nl_not_owner(struct genl_info *info)
{
	struct vfiosim_dev *sdev = vfiosim_nl_lookup(info);
	int ret = -ENOTCONN;

	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	if (READ_ONCE(sdev->session)) {
		GENL_SET_ERR_MSG(info, "device is bound to another netlink socket");
		ret = -EBUSY;
	} else {
		GENL_SET_ERR_MSG(info, "device is not open on netlink (DEV_OPEN first)");
	}
	vfiosim_dev_put(sdev);
	return ret;
}

/*
 * The sending socket's session on the device it names, held (put it with
 * vfiosim_session_put()).  No global lock and no scan of the devices:
 * only the socket's own sessions, under RCU.  The caller checks, under
 * the device's nl_lock, that the session has not ended since.
 */
static struct vfiosim_session *vfiosim_nl_session(struct sk_buff *skb,
						  struct genl_info *info)
{
	struct vfiosim_session *session, *found = NULL;
	struct vfiosim_nl_sock *nsk;
	guid_t uuid;
	int ret;

	ret = vfiosim_nl_uuid(info, &uuid);
	if (ret)
		return ERR_PTR(ret);
	nsk = vfiosim_nl_sock(skb, false);
	if (!IS_ERR(nsk)) {
		rcu_read_lock();
		list_for_each_entry_rcu(session, &nsk->sessions, node) {
			if (guid_equal(vfiosim_uuid(session->sdev), &uuid) &&
			    refcount_inc_not_zero(&session->ref)) {
				found = session;
				break;
			}
		}
		rcu_read_unlock();
	}
	return found ?: ERR_PTR(vfiosim_nl_not_owner(info));
}

static int vfiosim_nl_put_dev(struct sk_buff *skb, struct vfiosim_dev *sdev)
{
	u64 stats[VFIOSIM_COUNTER_MAX + 1] = {};
	char uuid[UUID_STRING_LEN + 1];
	enum vfiosim_owner owner;
	struct nlattr *nest;
	u32 portid = 0;
	int i;

	mutex_lock(&sdev->nl_lock);
	if (sdev->session)
		portid = sdev->session->portid;
	mutex_lock(&sdev->lock);
	owner = sdev->owner;
	stats[VFIOSIM_COUNTER_REGION_READS] = sdev->stat_reads;
	stats[VFIOSIM_COUNTER_REGION_WRITES] = sdev->stat_writes;
	stats[VFIOSIM_COUNTER_IRQS] = sdev->stat_irqs;
	stats[VFIOSIM_COUNTER_RESETS] = sdev->stat_resets;
	mutex_unlock(&sdev->lock);
	mutex_unlock(&sdev->nl_lock);

	snprintf(uuid, sizeof(uuid), "%pUl", vfiosim_uuid(sdev));
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

	if (!genl_has_listeners(&vfiosim_nl_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &vfiosim_nl_family, 0, VFIOSIM_CMD_EVENT);
	if (!hdr)
		goto drop;
	snprintf(uuid, sizeof(uuid), "%pUl", vfiosim_uuid(sdev));
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

	if (!vfiosim_nl_capable(skb, info))
		return -EPERM;
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

	sdev = vfiosim_nl_lookup(info);
	if (IS_ERR(sdev)) {
		ret = PTR_ERR(sdev);
		goto err;
	}
	ret = vfiosim_nl_put_dev(msg, sdev);
	vfiosim_dev_put(sdev);
	if (ret)
		goto err;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return ret;
}

static int vfiosim_nl_dev_get_start(struct netlink_callback *cb)
{
	return vfiosim_nl_capable(cb->skb, NULL) ? 0 : -EPERM;
}

/*
 * The devices in id order, cb->args[0] the next id.  Each is held while
 * its entry is filled; a device that comes or goes between two rounds
 * marks the dump interrupted (NLM_F_DUMP_INTR).
 */
static int vfiosim_nl_dev_get_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	unsigned long id = cb->args[0];
	struct vfiosim_dev *sdev;
	int ret = 0;
	bool any = false;

	cb->seq = atomic_read(&vfiosim_devices_gen);
	for (;; id++) {
		void *hdr;

		xa_lock(&vfiosim_devices);
		sdev = xa_find(&vfiosim_devices, &id, ULONG_MAX, XA_PRESENT);
		if (sdev)
			vfiosim_dev_get(sdev);
		xa_unlock(&vfiosim_devices);
		if (!sdev)
			break;

		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &vfiosim_nl_family,
				  NLM_F_MULTI, VFIOSIM_CMD_DEV_GET);
		if (hdr) {
			genl_dump_check_consistent(cb, hdr);
			ret = vfiosim_nl_put_dev(skb, sdev);
			if (ret)
				genlmsg_cancel(skb, hdr);
			else
				genlmsg_end(skb, hdr);
		} else {
			ret = -EMSGSIZE;
		}
		vfiosim_dev_put(sdev);
		if (ret)
			break;
		any = true;
	}
	cb->args[0] = id;
	/* A full skb ends this round; the dump continues in the next. */
	if (ret == -EMSGSIZE && any)
		ret = 0;
	return ret ?: skb->len;
}

static int vfiosim_nl_dev_open(struct sk_buff *skb, struct genl_info *info)
{
	struct vfiosim_session *session;
	struct vfiosim_nl_sock *nsk;
	struct vfiosim_dev *sdev;
	int ret;

	if (!vfiosim_nl_capable(skb, info))
		return -EPERM;
	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID))
		return -EINVAL;
	nsk = vfiosim_nl_sock(skb, true);
	if (IS_ERR(nsk))
		return PTR_ERR(nsk);
	sdev = vfiosim_nl_lookup(info);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	session = kzalloc(sizeof(*session), GFP_KERNEL_ACCOUNT);
	if (!session) {
		ret = -ENOMEM;
		goto put;
	}
	refcount_set(&session->ref, 1);
	session->sdev = sdev;
	session->nsk = nsk;
	session->portid = info->snd_portid;
	INIT_LIST_HEAD(&session->dma_maps);
	/* A session holds the module, as an open VFIO device file does. */
	if (!try_module_get(THIS_MODULE)) {
		ret = -ENODEV;
		goto free;
	}

	mutex_lock(&sdev->nl_lock);
	if (sdev->removing) {
		GENL_SET_ERR_MSG(info, "device is being removed");
		ret = -ENODEV;
		goto unlock;
	}
	ret = vfiosim_claim(sdev, VFIOSIM_OWNER_NETLINK);
	if (ret) {
		if (sdev->session)
			GENL_SET_ERR_MSG(info, "device is bound to a netlink socket");
		else
			GENL_SET_ERR_MSG(info, "device is open through VFIO");
		goto unlock;
	}
	spin_lock(&nsk->lock);
	list_add_tail_rcu(&session->node, &nsk->sessions);
	spin_unlock(&nsk->lock);
	WRITE_ONCE(sdev->session, session);
	sdev->had_session = true;
	mutex_unlock(&sdev->nl_lock);
	return 0;	/* the session keeps the lookup's reference */

unlock:
	mutex_unlock(&sdev->nl_lock);
	module_put(THIS_MODULE);
free:
	kfree(session);
put:
	vfiosim_dev_put(sdev);
	return ret;
}

static int vfiosim_nl_dev_close(struct sk_buff *skb, struct genl_info *info)
{
	struct vfiosim_session *session;
	struct vfiosim_dev *sdev;
	int ret = 0;

	if (!vfiosim_nl_capable(skb, info))
		return -EPERM;
	if (vfiosim_nl_missing(info, VFIOSIM_ATTR_DEV_UUID))
		return -EINVAL;
	session = vfiosim_nl_session(skb, info);
	if (IS_ERR(session))
		return PTR_ERR(session);
	sdev = session->sdev;
	mutex_lock(&sdev->nl_lock);
	if (sdev->session == session) {
		vfiosim_session_end(session);
	} else {
		GENL_SET_ERR_MSG(info, "the session already ended");
		ret = -ENOTCONN;
	}
	mutex_unlock(&sdev->nl_lock);
	vfiosim_session_put(session);
	return ret;
}

static int vfiosim_nl_ping(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	if (!vfiosim_nl_capable(skb, info))
		return -EPERM;
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

/* The netlink reply carrying the vfio-user reply, and fd unless negative. */
static struct sk_buff *vfiosim_nl_vu_build(struct genl_info *info,
					   const struct vfiosim_user_header *cmd,
					   const struct vfiosim_vu_req *req,
					   int err, int fd, gfp_t gfp)
{
	struct vfiosim_user_header *rhdr;
	u32 len = err ? 0 : req->reply_len;
	struct sk_buff *msg;
	struct nlattr *attr;
	void *hdr;

	msg = genlmsg_new(nla_total_size(VU_HDR_SIZE + len) +
			  nla_total_size(sizeof(s32)), gfp);
	if (!msg)
		return NULL;
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
	if (fd >= 0 && nla_put_s32(msg, VFIOSIM_ATTR_FDS, fd))
		goto nospace;
	genlmsg_end(msg, hdr);
	return msg;
nospace:
	nlmsg_free(msg);
	return NULL;
}

/*
 * Send the vfio-user reply back to the sender, with the region fd
 * (req->out_file) installed in its table.  The order is what makes this
 * safe with other threads reading the same socket:
 *
 *  1. reserve the fd number and build the whole reply around it, so that
 *     nothing is left that can fail for lack of memory;
 *  2. refuse (ENOBUFS, nothing installed) unless the receive queue is
 *     empty or has room for this reply: otherwise it could not be queued;
 *  3. install the file: from here the fd is the process's, and the kernel
 *     never touches that number again (another thread may close or
 *     replace it at any time);
 *  4. queue the reply.  Whoever reads it finds the fd valid.  Should the
 *     queue be congested anyway (it filled since step 1, or it overflowed
 *     before and was not drained since), wait for room rather than drop
 *     the only record of the fd: the sender is inside sendmsg(), another
 *     thread drains the queue.  A signal does not end the wait, as the
 *     reply would be lost with it; only a fatal one does, and the fd goes
 *     with the dying process's table.
 *
 * A reply that is not queued before step 3 installs nothing.  A thread
 * that let its own queue overflow must drain it before it asks for a
 * region fd: until then the request waits (killable).
 */
static int vfiosim_nl_vu_reply(struct sk_buff *skb, struct genl_info *info,
			       const struct vfiosim_user_header *cmd,
			       struct vfiosim_vu_req *req, int err)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	struct sk_buff *msg;
	int fd, rmem, ret;

	if (err || !req->out_file) {
		msg = vfiosim_nl_vu_build(info, cmd, req, err, -1, GFP_KERNEL);
		return msg ? genlmsg_reply(msg, info) : -ENOMEM;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	msg = vfiosim_nl_vu_build(info, cmd, req, err, fd, GFP_KERNEL);
	if (!msg) {
		put_unused_fd(fd);
		return -ENOMEM;
	}
	/* Room for it, by the stricter rule of the kernels that have two. */
	rmem = atomic_read(&sk->sk_rmem_alloc);
	if (rmem && rmem + msg->truesize > READ_ONCE(sk->sk_rcvbuf)) {
		nlmsg_free(msg);
		put_unused_fd(fd);
		GENL_SET_ERR_MSG(info, "receive queue full: no room for the region fd");
		return -ENOBUFS;
	}
	fd_install(fd, req->out_file);
	req->out_file = NULL;
	for (;;) {
		ret = netlink_unicast(genl_info_net(info)->genl_sock, msg,
				      info->snd_portid, 0);
		if (ret >= 0)
			return 0;
		/* interrupted: wait on, unless the process is dying */
		if ((ret != -EINTR && ret != -ERESTARTSYS) ||
		    fatal_signal_pending(current))
			return ret;
		schedule_timeout_killable(msecs_to_jiffies(10));
		/* a few hundred bytes */
		msg = vfiosim_nl_vu_build(info, cmd, req, err, fd,
					  GFP_KERNEL | __GFP_NOFAIL);
	}
}

static int vfiosim_nl_vfio_user(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *msg_attr = info->attrs[VFIOSIM_ATTR_MSG];
	struct nlattr *fds_attr = info->attrs[VFIOSIM_ATTR_FDS];
	const struct vfiosim_user_header *cmd;
	struct vfiosim_session *session;
	struct vfiosim_vu_req req = {};
	u8 small[VU_SMALL_REPLY] __aligned(8);
	void *big = NULL;
	u32 len;
	int err, ret;

	if (!vfiosim_nl_capable(skb, info))
		return -EPERM;
	/* The policy bounds the message: VU_HDR_SIZE..VFIOSIM_USER_MAX_MSG. */
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

	session = vfiosim_nl_session(skb, info);
	if (IS_ERR(session)) {
		ret = PTR_ERR(session);
		goto out;
	}
	req.sdev = session->sdev;

	/* The device's own lock, and only that, for the message. */
	mutex_lock(&req.sdev->nl_lock);
	if (req.sdev->session != session) {
		mutex_unlock(&req.sdev->nl_lock);
		GENL_SET_ERR_MSG(info, "the session ended");
		ret = -ENOTCONN;
		goto put;
	}
	if (cmd->msg_size != len ||
	    (cmd->flags & VFIOSIM_USER_F_TYPE_MASK) != VFIOSIM_USER_F_TYPE_COMMAND)
		err = -EINVAL;
	else
		err = vfiosim_vu_dispatch(&req);
	mutex_unlock(&req.sdev->nl_lock);

	ret = 0;
	if (!(cmd->flags & VFIOSIM_USER_F_NO_REPLY))
		ret = vfiosim_nl_vu_reply(skb, info, cmd, &req, err);
put:
	vfiosim_session_put(session);
out:
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
		.start = vfiosim_nl_dev_get_start,
		.dumpit = vfiosim_nl_dev_get_dumpit,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_OPEN,
		.doit = vfiosim_nl_dev_open,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
	},
	{
		.cmd = VFIOSIM_CMD_DEV_CLOSE,
		.doit = vfiosim_nl_dev_close,
		.policy = vfiosim_nl_dev_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_dev_policy) - 1,
	},
	{
		.cmd = VFIOSIM_CMD_VFIO_USER,
		.doit = vfiosim_nl_vfio_user,
		.policy = vfiosim_nl_vfio_user_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_vfio_user_policy) - 1,
	},
	{
		.cmd = VFIOSIM_CMD_PING,
		.doit = vfiosim_nl_ping,
		.policy = vfiosim_nl_ping_policy,
		.maxattr = ARRAY_SIZE(vfiosim_nl_ping_policy) - 1,
	},
};

static const struct genl_multicast_group vfiosim_nl_mcgrps[] = {
	{ .name = VFIOSIM_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};

/*
 * Not __ro_after_init: genl_register_family() allocates the family's
 * sock_privs xarray, and kmemleak does not scan a module's ro_after_init
 * data, so it reports that allocation as a leak for as long as we are
 * loaded.
 */
static struct genl_family vfiosim_nl_family = {
	.name = VFIOSIM_GENL_NAME,
	.version = VFIOSIM_GENL_VERSION,
	/* per-command policies (above); this only sizes CTRL_ATTR_MAXATTR */
	.maxattr = VFIOSIM_ATTR_MAX,
	.module = THIS_MODULE,
	.parallel_ops = true,
	VFIOSIM_NL_SOCK_PRIV
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
	ret = vfiosim_nl_socks_init();
	if (ret)
		genl_unregister_family(&vfiosim_nl_family);
	return ret;
}

void vfiosim_netlink_exit(void)
{
	vfiosim_nl_socks_exit();
	genl_unregister_family(&vfiosim_nl_family);
}

MODULE_ALIAS_GENL_FAMILY(VFIOSIM_GENL_NAME);
