// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfio-user server side message handling for vfiosim-userd (pure: see
 * vu_server.h).  The JSON parser is a small recursive descent validator
 * with a depth bound; it looks only at {"capabilities":{...}} and ignores
 * every member it does not know, as the specification asks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* ---- JSON ---------------------------------------------------------- */

struct jcur {
	const char *s;
	size_t i, n;
};

enum jtype { J_NONE, J_OBJECT, J_ARRAY, J_STRING, J_NUMBER, J_BOOL, J_NULL };

struct jval {
	enum jtype type;
	bool is_uint;		/* J_NUMBER that is a plain unsigned integer */
	uint64_t u;
	bool b;
};

/* Called for each member of an object we care about. */
struct jmember_cb {
	int (*fn)(void *ctx, const char *key, size_t klen, struct jcur *c,
		  int depth);
	void *ctx;
};

static int j_value(struct jcur *c, int depth, struct jval *v,
		   const struct jmember_cb *cb);

static void j_ws(struct jcur *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
			       c->s[c->i] == '\n' || c->s[c->i] == '\r'))
		c->i++;
}

static bool j_lit(struct jcur *c, const char *lit)
{
	size_t l = strlen(lit);

	if (c->n - c->i < l || memcmp(c->s + c->i, lit, l))
		return false;
	c->i += l;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A string; *raw and *rlen give its body as written (escapes not decoded). */
static int j_string(struct jcur *c, const char **raw, size_t *rlen)
{
	size_t start;
	int k;

	if (c->i >= c->n || c->s[c->i] != '"')
		return -EINVAL;
	start = ++c->i;
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->s[c->i];

		if (ch == '"') {
			if (raw)
				*raw = c->s + start;
			if (rlen)
				*rlen = c->i - start;
			c->i++;
			return 0;
		}
		if (ch < 0x20)
			return -EINVAL;
		if (ch == '\\') {
			if (++c->i >= c->n)
				return -EINVAL;
			switch (c->s[c->i]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				break;
			case 'u':
				for (k = 0; k < 4; k++)
					if (++c->i >= c->n ||
					    hexval(c->s[c->i]) < 0)
						return -EINVAL;
				break;
			default:
				return -EINVAL;
			}
		}
		c->i++;
	}
	return -EINVAL;
}

static int j_number(struct jcur *c, struct jval *v)
{
	bool neg = false, frac = false, ovf = false;
	uint64_t u = 0;
	size_t digits = 0;

	if (c->i < c->n && c->s[c->i] == '-') {
		neg = true;
		c->i++;
	}
	if (c->i >= c->n)
		return -EINVAL;
	if (c->s[c->i] == '0') {
		c->i++;
		digits = 1;
	} else {
		while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
			unsigned int d = (unsigned int)(c->s[c->i] - '0');

			if (u > (UINT64_MAX - d) / 10)
				ovf = true;
			else
				u = u * 10 + d;
			c->i++;
			digits++;
		}
	}
	if (!digits)
		return -EINVAL;
	if (c->i < c->n && c->s[c->i] == '.') {
		frac = true;
		c->i++;
		digits = 0;
		while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
			c->i++;
			digits++;
		}
		if (!digits)
			return -EINVAL;
	}
	if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
		frac = true;
		c->i++;
		if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-'))
			c->i++;
		digits = 0;
		while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
			c->i++;
			digits++;
		}
		if (!digits)
			return -EINVAL;
	}
	v->type = J_NUMBER;
	v->is_uint = !neg && !frac && !ovf;
	v->u = u;
	return 0;
}

static int j_object(struct jcur *c, int depth, const struct jmember_cb *cb)
{
	const char *key;
	size_t klen;
	struct jval v;
	int ret;

	c->i++;			/* '{' */
	j_ws(c);
	if (c->i < c->n && c->s[c->i] == '}') {
		c->i++;
		return 0;
	}
	for (;;) {
		j_ws(c);
		ret = j_string(c, &key, &klen);
		if (ret)
			return ret;
		j_ws(c);
		if (c->i >= c->n || c->s[c->i] != ':')
			return -EINVAL;
		c->i++;
		j_ws(c);
		if (cb)
			ret = cb->fn(cb->ctx, key, klen, c, depth + 1);
		else
			ret = j_value(c, depth + 1, &v, NULL);
		if (ret)
			return ret;
		j_ws(c);
		if (c->i >= c->n)
			return -EINVAL;
		if (c->s[c->i] == '}') {
			c->i++;
			return 0;
		}
		if (c->s[c->i] != ',')
			return -EINVAL;
		c->i++;
	}
}

static int j_array(struct jcur *c, int depth)
{
	struct jval v;
	int ret;

	c->i++;			/* '[' */
	j_ws(c);
	if (c->i < c->n && c->s[c->i] == ']') {
		c->i++;
		return 0;
	}
	for (;;) {
		j_ws(c);
		ret = j_value(c, depth + 1, &v, NULL);
		if (ret)
			return ret;
		j_ws(c);
		if (c->i >= c->n)
			return -EINVAL;
		if (c->s[c->i] == ']') {
			c->i++;
			return 0;
		}
		if (c->s[c->i] != ',')
			return -EINVAL;
		c->i++;
	}
}

/* Any value; objects go through cb (when given) member by member. */
static int j_value(struct jcur *c, int depth, struct jval *v,
		   const struct jmember_cb *cb)
{
	memset(v, 0, sizeof(*v));
	if (depth > VUS_JSON_DEPTH)
		return -EINVAL;
	j_ws(c);
	if (c->i >= c->n)
		return -EINVAL;
	switch (c->s[c->i]) {
	case '{':
		v->type = J_OBJECT;
		return j_object(c, depth, cb);
	case '[':
		v->type = J_ARRAY;
		return j_array(c, depth);
	case '"':
		v->type = J_STRING;
		return j_string(c, NULL, NULL);
	case 't':
		v->type = J_BOOL;
		v->b = true;
		return j_lit(c, "true") ? 0 : -EINVAL;
	case 'f':
		v->type = J_BOOL;
		return j_lit(c, "false") ? 0 : -EINVAL;
	case 'n':
		v->type = J_NULL;
		return j_lit(c, "null") ? 0 : -EINVAL;
	default:
		return j_number(c, v);
	}
}

static int j_document(const char *s, size_t len, const struct jmember_cb *cb,
		      bool want_object)
{
	struct jcur c = { s, 0, len };
	struct jval v;
	int ret;

	j_ws(&c);
	if (want_object && (c.i >= c.n || c.s[c.i] != '{'))
		return -EINVAL;
	ret = j_value(&c, 0, &v, cb);
	if (ret)
		return ret;
	j_ws(&c);
	return c.i == c.n ? 0 : -EINVAL;
}

int vus_json_validate(const char *s, size_t len)
{
	return j_document(s, len, NULL, false);
}

static bool key_is(const char *key, size_t klen, const char *want)
{
	return strlen(want) == klen && !memcmp(key, want, klen);
}

/* A member of "capabilities". */
static int caps_member(void *ctx, const char *key, size_t klen,
		       struct jcur *c, int depth)
{
	struct vus_client_caps *caps = ctx;
	struct jval v;
	uint64_t *num = NULL;
	int ret;

	ret = j_value(c, depth, &v, NULL);
	if (ret)
		return ret;
	if (key_is(key, klen, "max_msg_fds"))
		num = &caps->max_msg_fds;
	else if (key_is(key, klen, "max_data_xfer_size"))
		num = &caps->max_data_xfer_size;
	else if (key_is(key, klen, "max_dma_maps"))
		num = &caps->max_dma_maps;
	else if (key_is(key, klen, "pgsizes"))
		num = &caps->pgsizes;
	else if (key_is(key, klen, "write_multiple")) {
		if (v.type != J_BOOL)
			return -EINVAL;
		caps->write_multiple = v.b;
		return 0;
	} else if (key_is(key, klen, "migration") ||
		   key_is(key, klen, "twin_socket")) {
		return v.type == J_OBJECT ? 0 : -EINVAL;
	}
	if (num) {
		if (v.type != J_NUMBER || !v.is_uint)
			return -EINVAL;
		*num = v.u;
	}
	return 0;		/* unknown: ignored */
}

/* A member of the top-level object. */
static int top_member(void *ctx, const char *key, size_t klen,
		      struct jcur *c, int depth)
{
	struct jmember_cb cb = { caps_member, ctx };
	struct jval v;

	if (!key_is(key, klen, "capabilities"))
		return j_value(c, depth, &v, NULL);
	if (c->i >= c->n || c->s[c->i] != '{')
		return -EINVAL;
	return j_value(c, depth, &v, &cb);
}

int vus_parse_version(const void *payload, size_t len,
		      struct vus_client_caps *caps)
{
	struct vfiosim_user_version ver;
	struct jmember_cb cb = { top_member, caps };
	const char *json, *nul;
	size_t jlen;

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
	return j_document(json, jlen, &cb, true);
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

size_t vus_version_reply(void *buf, size_t cap,
			 const struct vfiosim_user_header *req,
			 const struct vus_client_caps *caps)
{
	unsigned char p[sizeof(struct vfiosim_user_version) + 256];
	struct vfiosim_user_version ver = {
		.major = VFIOSIM_USER_VERSION_MAJOR,
		.minor = caps->minor < VFIOSIM_USER_VERSION_MINOR ?
			 caps->minor : VFIOSIM_USER_VERSION_MINOR,
	};
	int n;

	memcpy(p, &ver, sizeof(ver));
	n = snprintf((char *)p + sizeof(ver), sizeof(p) - sizeof(ver),
		     "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u,\"max_dma_maps\":%u,\"pgsizes\":%u,\"write_multiple\":true}}",
		     VUS_MAX_FDS, VFIOSIM_USER_MAX_DATA_XFER,
		     VFIOSIM_USER_MAX_DMA_MAPS, (unsigned int)sysconf(_SC_PAGESIZE));
	if (n < 0 || (size_t)n >= sizeof(p) - sizeof(ver))
		return 0;
	return vus_build_reply(buf, cap, req, 0, p, sizeof(ver) + (size_t)n + 1);
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
		*negotiated = true;
		*out_len = vus_version_reply(out, cap, &hdr, caps);
		return *out_len ? VUS_REPLY : VUS_REPLY_CLOSE;
	}
	if (!*negotiated) {
		/* VERSION must come first. */
		*out_len = vus_build_reply(out, cap, &hdr, EINVAL, NULL, 0);
		return VUS_REPLY_CLOSE;
	}
	return VUS_FORWARD;
}
