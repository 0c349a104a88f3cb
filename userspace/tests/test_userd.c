// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests for vfiosim-userd's message parser (userd/vu_server.c):
 * header checks, VERSION negotiation and its JSON, reply building.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vu_server.h"

static unsigned char msg[VUS_MAX_MSG + 64];
static unsigned char out[VUS_MAX_MSG + 64];

static size_t mk(uint16_t id, uint16_t cmd, uint32_t flags, const void *p,
		 size_t len)
{
	struct vfiosim_user_header h = {
		.msg_id = id, .command = cmd,
		.msg_size = (uint32_t)(sizeof(h) + len), .flags = flags,
	};

	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), p, len);
	return sizeof(h) + len;
}

static size_t mk_version(uint16_t major, uint16_t minor, const char *json,
			 size_t jlen)
{
	unsigned char p[8192];
	struct vfiosim_user_version v = { major, minor };

	memcpy(p, &v, sizeof(v));
	if (jlen)
		memcpy(p + sizeof(v), json, jlen);
	return mk(7, VFIOSIM_USER_VERSION, 0, p, sizeof(v) + jlen);
}

static struct vfiosim_user_header rhdr(void)
{
	struct vfiosim_user_header h;

	memcpy(&h, out, sizeof(h));
	return h;
}

static int parse_json(const char *json)
{
	unsigned char p[8192];
	struct vfiosim_user_version v = { 0, 1 };
	struct vus_client_caps caps;
	size_t l = strlen(json) + 1;

	memcpy(p, &v, sizeof(v));
	memcpy(p + sizeof(v), json, l);
	return vus_parse_version(p, sizeof(v) + l, &caps);
}

int main(void)
{
	struct tap t = { 0 };
	struct vfiosim_user_header h;
	struct vus_client_caps caps;
	bool neg;
	size_t len, olen;
	enum vus_action a;
	char deep[128];
	int i;

	/* headers */
	len = mk(1, 9, 0, NULL, 0);
	tap_int(&t, vus_check_header(msg, len, &h), 0, "header: 16 bytes ok");
	tap_int(&t, vus_check_header(msg, 15, &h), -EINVAL, "header: short");
	((struct vfiosim_user_header *)msg)->msg_size = 15;
	tap_int(&t, vus_check_header(msg, 16, &h), -EINVAL,
		"header: msg_size below the header");
	((struct vfiosim_user_header *)msg)->msg_size = VUS_MAX_MSG + 1;
	tap_int(&t, vus_check_header(msg, 16, &h), -E2BIG,
		"header: msg_size above the limit is E2BIG");
	tap_int(&t, VUS_MAX_MSG, VFIOSIM_USER_MAX_MSG,
		"header: the limit is the kernel's (VFIOSIM_USER_MAX_MSG)");
	((struct vfiosim_user_header *)msg)->msg_size = VUS_MAX_MSG;
	tap_int(&t, vus_check_header(msg, 16, &h), 0,
		"header: msg_size at the limit");

	/* VERSION first */
	neg = false;
	len = mk(1, VFIOSIM_USER_REGION_READ, 0, "0123456789abcdef", 16);
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	h = rhdr();
	tap_ok(&t, a == VUS_REPLY_CLOSE && h.error_no == EINVAL &&
	       (h.flags & VFIOSIM_USER_F_ERROR) && !neg,
	       "a command before VERSION: EINVAL and close");

	const char *good = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":1},\"future\":{\"a\":[1,-2,3.5e-1,true,false,null,\"\\u00e9\\n\"]}},\"other\":1}";
	len = mk_version(0, 1, good, strlen(good) + 1);
	neg = false;
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_FORWARD && neg && olen == 0,
	       "VERSION 0.1 with capabilities: forwarded (the kernel answers)");
	tap_int(&t, (long long)caps.max_msg_fds, 8, "caps: max_msg_fds parsed");
	tap_int(&t, (long long)caps.max_data_xfer_size, 65536,
		"caps: max_data_xfer_size parsed");

	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY && rhdr().error_no == EINVAL,
	       "a second VERSION: EINVAL, connection kept");
	len = mk(2, VFIOSIM_USER_REGION_READ, 0, "0123456789abcdef", 16);
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_FORWARD && olen == 0, "after VERSION: forwarded");
	a = vus_handle(msg, len, VUS_MAX_FDS + 1, &neg, &caps, out,
		       sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY && rhdr().error_no == EINVAL,
	       "too many fds: EINVAL");
	len = mk(2, VFIOSIM_USER_REGION_READ, VFIOSIM_USER_F_TYPE_REPLY,
		 NULL, 0);
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_DROP, "a reply from the client: dropped");

	/* minor higher than ours, no JSON */
	len = mk_version(0, 9, NULL, 0);
	neg = false;
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_FORWARD && neg && caps.minor == 9 &&
	       caps.max_msg_fds == 1,
	       "VERSION 0.9 without JSON: forwarded, the spec's defaults");
	len = mk_version(1, 0, "{}", 3);
	neg = false;
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY_CLOSE && rhdr().error_no == ENOTSUP && !neg,
	       "VERSION 1.0: ENOTSUP and close");
	len = mk_version(0, 1, "{}", 2);
	neg = false;
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY_CLOSE && rhdr().error_no == EINVAL,
	       "VERSION JSON without NUL: EINVAL and close");
	len = mk(7, VFIOSIM_USER_VERSION, 0, "\0", 1);
	neg = false;
	a = vus_handle(msg, len, 0, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY_CLOSE && rhdr().error_no == EINVAL,
	       "VERSION with a 1-byte payload: EINVAL");
	len = mk_version(0, 1, NULL, 0);
	neg = false;
	a = vus_handle(msg, len, 1, &neg, &caps, out, sizeof(out), &olen);
	tap_ok(&t, a == VUS_REPLY_CLOSE, "VERSION with an fd: rejected");

	/* JSON */
	tap_int(&t, parse_json("{}"), 0, "json: {}");
	tap_int(&t, parse_json(" { \"capabilities\" : { } } "), 0,
		"json: whitespace");
	tap_int(&t, parse_json(""), -EINVAL, "json: empty");
	tap_int(&t, parse_json("[]"), -EINVAL, "json: not an object");
	tap_int(&t, parse_json("{\"capabilities\":{}"), -EINVAL,
		"json: unterminated");
	tap_int(&t, parse_json("{\"capabilities\":{}}x"), -EINVAL,
		"json: trailing garbage");
	tap_int(&t, parse_json("{\"capabilities\":[]}"), -EINVAL,
		"json: capabilities not an object");
	tap_int(&t, parse_json("{\"capabilities\":{\"max_msg_fds\":\"8\"}}"),
		-EINVAL, "json: max_msg_fds a string");
	tap_int(&t, parse_json("{\"capabilities\":{\"max_msg_fds\":-1}}"),
		-EINVAL, "json: max_msg_fds negative");
	tap_int(&t, parse_json("{\"capabilities\":{\"pgsizes\":99999999999999999999999}}"),
		-EINVAL, "json: pgsizes overflows");
	tap_int(&t, parse_json("{\"capabilities\":{\"unknown\":\"8\",\"x\":[{}]}}"),
		0, "json: unknown capabilities ignored");
	tap_int(&t, parse_json("{\"a\":01}"), -EINVAL, "json: leading zero");
	tap_int(&t, parse_json("{\"a\":1-2}"), -EINVAL, "json: 1-2 is no number");
	tap_int(&t, parse_json("{\"a\":\"\\q\"}"), -EINVAL, "json: \\q escape");
	tap_int(&t, parse_json("{\"capabilities\":{\"max_msg_fds\":1,\"max_msg_fds\":2}}"),
		-EINVAL, "json: a duplicate key is refused");
	tap_int(&t, parse_json("{\"a\":1,\"a\":1}"), -EINVAL,
		"json: a duplicate key is refused at the top too");
	tap_int(&t, parse_json("{\"a\":\"\\u0000\"}"), -EINVAL,
		"json: an escaped NUL is refused");
	tap_int(&t, parse_json("{\"a\":\"\\x\"}"), -EINVAL, "json: bad escape");
	tap_int(&t, parse_json("{\"a\":\"\\u12g4\"}"), -EINVAL,
		"json: bad \\u escape");
	tap_int(&t, parse_json("{\"a\":tru}"), -EINVAL, "json: bad literal");
	tap_int(&t, parse_json("{\"a\":1,}"), -EINVAL, "json: trailing comma");
	tap_int(&t, parse_json("{\"a\":\"\t\"}"), -EINVAL,
		"json: raw control character");
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 40; i < 80; i++)
		deep[i] = ']';
	tap_int(&t, vus_json_validate(deep, 80), -EINVAL,
		"json: nesting deeper than the bound");
	tap_int(&t, vus_json_validate(deep + 30, 20), 0,
		"json: nesting within the bound");
	{
		char *big = malloc(VUS_MAX_JSON + 32);
		unsigned char *p = malloc(VUS_MAX_JSON + 64);
		struct vfiosim_user_version v = { 0, 1 };

		memset(big, ' ', VUS_MAX_JSON + 8);
		memcpy(big, "{}", 2);
		memcpy(p, &v, sizeof(v));
		memcpy(p + sizeof(v), big, VUS_MAX_JSON + 8);
		p[sizeof(v) + VUS_MAX_JSON + 8] = 0;
		tap_int(&t, vus_parse_version(p, sizeof(v) + VUS_MAX_JSON + 9,
					      &caps), -EINVAL,
			"json: longer than VUS_MAX_JSON");
		p[sizeof(v) + 2] = 0;
		tap_int(&t, vus_parse_version(p, sizeof(v) + 3 + 1, &caps),
			-EINVAL, "json: bytes after the NUL");
		free(big);
		free(p);
	}

	/* replies */
	h = (struct vfiosim_user_header){ .msg_id = 3, .command = 9 };
	tap_int(&t, vus_build_reply(out, 15, &h, EIO, NULL, 0), 0,
		"reply: does not fit");
	tap_int(&t, vus_build_reply(out, 20, &h, 0, "abcdef", 5), 0,
		"reply: payload does not fit");
	olen = vus_build_reply(out, 64, &h, EIO, "abc", 3);
	tap_ok(&t, olen == 16 && rhdr().error_no == EIO &&
	       rhdr().flags == (VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR),
	       "reply: an error reply has no payload");

	/* A reply never goes with fewer fds than it names. */
	caps = (struct vus_client_caps){ .max_msg_fds = 1 };
	h = (struct vfiosim_user_header){
		.msg_id = 41, .command = VFIOSIM_USER_DEVICE_GET_REGION_INFO,
		.msg_size = 48, .flags = VFIOSIM_USER_F_TYPE_REPLY,
	};
	memcpy(msg, &h, sizeof(h));
	tap_int(&t, vus_reply_fds_refuse(msg, 1, &caps, out, sizeof(out)), 0,
		"reply fds: 1 to a client taking 1 goes as it is");
	tap_int(&t, vus_reply_fds_refuse(msg, 0, &caps, out, sizeof(out)), 0,
		"reply fds: none goes as it is");
	olen = vus_reply_fds_refuse(msg, 2, &caps, out, sizeof(out));
	tap_ok(&t, olen == 16 && rhdr().msg_id == 41 &&
	       rhdr().command == VFIOSIM_USER_DEVICE_GET_REGION_INFO &&
	       rhdr().error_no == EMSGSIZE && rhdr().msg_size == 16 &&
	       rhdr().flags == (VFIOSIM_USER_F_TYPE_REPLY | VFIOSIM_USER_F_ERROR),
	       "reply fds: 2 to a client taking 1 become an EMSGSIZE reply to the same request");
	caps.max_msg_fds = 0;
	tap_int(&t, vus_reply_fds_refuse(msg, 1, &caps, out, sizeof(out)), 16,
		"reply fds: 1 to a client taking none: EMSGSIZE");
	caps.max_msg_fds = 1000;
	tap_int(&t, vus_reply_fds_refuse(msg, VUS_MAX_FDS, &caps, out,
					 sizeof(out)), 0,
		"reply fds: VUS_MAX_FDS to a client taking 1000 goes");
	tap_int(&t, vus_reply_fds_refuse(msg, VUS_MAX_FDS + 1, &caps, out,
					 sizeof(out)), 16,
		"reply fds: more than VUS_MAX_FDS never goes, whatever the client takes");
	memcpy(out, &h, sizeof(h));
	tap_int(&t, vus_reply_fds_refuse(out, VUS_MAX_FDS + 1, &caps, out,
					 sizeof(out)) &&
		rhdr().msg_id == 41 && rhdr().error_no == EMSGSIZE, 1,
		"reply fds: refusing in place (out is the reply) keeps the request's id");
	return tap_done(&t);
}
