// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfio-user server side message handling for vfiosim-userd (pure: see
 * vu_server.h).  JSON is jansson's, strict and with duplicate keys
 * refused, plus our depth bound; we look only at {"capabilities":{...}}
 * and ignore every member we do not know, as the specification asks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vu_server.h"

int vus_check_header(const void *buf, size_t len,
		     struct vfiosim_user_header *hdr)
{
	if (len < VUS_HDR_SIZE)
		return -EINVAL;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->msg_size < VUS_HDR_SIZE)
		return -EINVAL;
	return hdr->msg_size > VUS_MAX_MSG ? -E2BIG : 0;
}

/* ---- JSON (jansson) ----------------------------------------------- */

/* Strict RFC 8259, duplicate keys refused, one value and nothing after. */
#define VUS_JSON_FLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Deeper than max levels of arrays and objects? */
static bool too_deep(json_t *v, int max)
{
	const char *key;
	json_t *child;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return false;
	if (max <= 0)
		return true;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if (too_deep(child, max - 1))
				return true;
	} else {
		json_array_foreach(v, i, child)
			if (too_deep(child, max - 1))
				return true;
	}
	return false;
}

/* A parsed document within the nesting bound, or NULL. */
static json_t *load(const char *s, size_t len)
{
	json_error_t err;
	json_t *root = json_loadb(s, len, VUS_JSON_FLAGS, &err);

	if (root && too_deep(root, VUS_JSON_DEPTH)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int vus_json_validate(const char *s, size_t len)
{
	json_t *root = load(s, len);

	json_decref(root);
	return root ? 0 : -EINVAL;
}

/* A capability that must be an unsigned integer, if present. */
static int cap_uint(json_t *caps, const char *key, uint64_t *val)
{
	json_t *v = json_object_get(caps, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*val = (uint64_t)json_integer_value(v);
	return 0;
}

/* Known capabilities must have their types; unknown ones are ignored. */
static int parse_caps(json_t *caps, struct vus_client_caps *out)
{
	json_t *v;

	if (cap_uint(caps, "max_msg_fds", &out->max_msg_fds) ||
	    cap_uint(caps, "max_data_xfer_size", &out->max_data_xfer_size) ||
	    cap_uint(caps, "max_dma_maps", &out->max_dma_maps) ||
	    cap_uint(caps, "pgsizes", &out->pgsizes))
		return -EINVAL;
	v = json_object_get(caps, "write_multiple");
	if (v) {
		if (!json_is_boolean(v))
			return -EINVAL;
		out->write_multiple = json_is_true(v);
	}
	v = json_object_get(caps, "migration");
	if (v && !json_is_object(v))
		return -EINVAL;
	v = json_object_get(caps, "twin_socket");
	if (v && !json_is_object(v))
		return -EINVAL;
	return 0;
}

int vus_parse_version(const void *payload, size_t len,
		      struct vus_client_caps *caps)
{
	struct vfiosim_user_version ver;
	const char *json, *nul;
	json_t *root, *c;
	size_t jlen;
	int ret;

	memset(caps, 0, sizeof(*caps));
	caps->max_msg_fds = 1;
	caps->max_data_xfer_size = 1024 * 1024;
	caps->pgsizes = 4096;
	if (len < sizeof(ver))
		return -EINVAL;
	memcpy(&ver, payload, sizeof(ver));
	caps->major = ver.major;
	caps->minor = ver.minor;
	if (ver.major != VFIOSIM_USER_VERSION_MAJOR)
		return -ENOTSUP;
	if (len == sizeof(ver))
		return 0;	/* no JSON: every capability at its default */
	json = (const char *)payload + sizeof(ver);
	jlen = len - sizeof(ver);
	nul = memchr(json, '\0', jlen);
	if (!nul)
		return -EINVAL;
	/* Anything after the NUL is not JSON: reject rather than guess. */
	if ((size_t)(nul - json) != jlen - 1)
		return -EINVAL;
	jlen = (size_t)(nul - json);
	if (jlen > VUS_MAX_JSON)
		return -EINVAL;
	caps->has_json = true;
	root = load(json, jlen);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	c = json_object_get(root, "capabilities");
	ret = !c ? 0 : json_is_object(c) ? parse_caps(c, caps) : -EINVAL;
	json_decref(root);
	return ret;
}

/* ---- replies ------------------------------------------------------- */

size_t vus_build_reply(void *buf, size_t cap,
		       const struct vfiosim_user_header *req, int err,
		       const void *payload, size_t len)
{
	struct vfiosim_user_header hdr = {
		.msg_id = req->msg_id,
		.command = req->command,
		.flags = VFIOSIM_USER_F_TYPE_REPLY,
	};

	if (err > 0) {
		hdr.flags |= VFIOSIM_USER_F_ERROR;
		hdr.error_no = (uint32_t)err;
		len = 0;
	}
	if (len > cap || cap - len < sizeof(hdr))
		return 0;
	hdr.msg_size = (uint32_t)(sizeof(hdr) + len);
	memcpy(buf, &hdr, sizeof(hdr));
	if (len)
		memcpy((unsigned char *)buf + sizeof(hdr), payload, len);
	return sizeof(hdr) + len;
}

size_t vus_reply_fds_refuse(const void *reply, size_t nfds,
			    const struct vus_client_caps *caps, void *out,
			    size_t cap)
{
	struct vfiosim_user_header req;

	if (nfds <= VUS_MAX_FDS && nfds <= caps->max_msg_fds)
		return 0;
	/* The reply's header names the request it answers. */
	memcpy(&req, reply, sizeof(req));
	req.flags = VFIOSIM_USER_F_TYPE_COMMAND;
	return vus_build_reply(out, cap, &req, EMSGSIZE, NULL, 0);
}

enum vus_action vus_handle(const void *msg, size_t len, size_t nfds,
			   bool *negotiated, struct vus_client_caps *caps,
			   void *out, size_t cap, size_t *out_len)
{
	struct vfiosim_user_header hdr;
	const unsigned char *payload = (const unsigned char *)msg + VUS_HDR_SIZE;
	int ret;

	*out_len = 0;
	if (vus_check_header(msg, len, &hdr) || hdr.msg_size != len)
		return VUS_DROP;	/* the caller frames messages */
	if ((hdr.flags & VFIOSIM_USER_F_TYPE_MASK) !=
	    VFIOSIM_USER_F_TYPE_COMMAND)
		return VUS_DROP;	/* we never asked anything */
	if (nfds > VUS_MAX_FDS) {
		*out_len = vus_build_reply(out, cap, &hdr, EINVAL, NULL, 0);
		return *negotiated ? VUS_REPLY : VUS_REPLY_CLOSE;
	}
	if (hdr.command == VFIOSIM_USER_VERSION) {
		if (*negotiated) {
			*out_len = vus_build_reply(out, cap, &hdr, EINVAL,
						   NULL, 0);
			return VUS_REPLY;
		}
		ret = nfds ? -EINVAL :
		      vus_parse_version(payload, len - VUS_HDR_SIZE, caps);
		if (ret) {
			*out_len = vus_build_reply(out, cap, &hdr, -ret,
						   NULL, 0);
			return VUS_REPLY_CLOSE;
		}
		/* The kernel answers it: its limits, not ours. */
		*negotiated = true;
		return VUS_FORWARD;
	}
	if (!*negotiated) {
		/* VERSION must come first. */
		*out_len = vus_build_reply(out, cap, &hdr, EINVAL, NULL, 0);
		return VUS_REPLY_CLOSE;
	}
	return VUS_FORWARD;
}
