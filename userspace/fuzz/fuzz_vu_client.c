// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for libvfiosim's parsers of what a server or the
 * kernel sends: every input is a VERSION reply payload (its JSON
 * capabilities, lib/backend_unix.c) and a buffer of netlink messages as
 * recv() would return them (lib/genl.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/vfiosim.h>

#include "vfiosim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh;
	struct vfiosim_nl_reply r;
	uint32_t xfer, fds;
	uint16_t minor;
	char why[256];
	unsigned char *buf;
	bool wm;
	int len;

	/* The bytes exactly, in a buffer of their own size (ASan sees overreads). */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	if (!vfiosim_unix_parse_version(buf, size, &minor, &xfer, &fds, &wm,
					why, sizeof(why)) &&
	    (!xfer || minor > VFIOSIM_USER_VERSION_MINOR))
		abort();	/* accepted what it must refuse */

	len = size > INT32_MAX ? INT32_MAX : (int)size;
	for (nlh = (const struct nlmsghdr *)buf;
	     size >= sizeof(*nlh) && vfiosim_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len)) {
		if (vfiosim_nl_parse(nlh, 1, GENL_ID_CTRL + 1, &r, why,
				     sizeof(why)) > 0 && r.msg &&
		    ((const unsigned char *)r.msg < buf ||
		     (const unsigned char *)r.msg + r.msg_len > buf + size))
			abort();	/* a message outside the buffer */
	}
	free(buf);
	return 0;
}
