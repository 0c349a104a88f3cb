// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for vfiosim-userd's message parser (userd/vu_server.c):
 * every input is treated as one message off the socket, as the daemon
 * would frame it, and also as a bare VERSION payload and a JSON text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vu_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[VUS_MAX_MSG + 64];
	struct vfiosim_user_header hdr, rh;
	struct vus_client_caps caps;
	size_t out_len, nfds;
	enum vus_action act;
	bool negotiated;
	unsigned char *msg;

	/* The bytes exactly, in a buffer of their own size (ASan sees overreads). */
	msg = malloc(size ? size : 1);
	if (!msg)
		return 0;
	memcpy(msg, data, size);

	vus_parse_version(msg, size, &caps);
	vus_json_validate((const char *)msg, size);

	if (!vus_check_header(msg, size, &hdr) && hdr.msg_size <= size) {
		nfds = size ? data[size - 1] % (VUS_MAX_FDS + 3) : 0;
		for (int n = 0; n < 2; n++) {
			negotiated = n;
			act = vus_handle(msg, hdr.msg_size, nfds, &negotiated,
					 &caps, out, sizeof(out), &out_len);
			if (act == VUS_REPLY || act == VUS_REPLY_CLOSE) {
				/* Every reply is a well-formed reply. */
				if (out_len < sizeof(rh))
					abort();
				memcpy(&rh, out, sizeof(rh));
				if (rh.msg_size != out_len ||
				    rh.msg_id != hdr.msg_id ||
				    rh.command != hdr.command ||
				    (rh.flags & VFIOSIM_USER_F_TYPE_MASK) !=
				    VFIOSIM_USER_F_TYPE_REPLY)
					abort();
			} else if (out_len) {
				abort();
			}
		}
	}
	free(msg);
	return 0;
}
