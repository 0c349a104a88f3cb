// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for vfiosim-userd's control socket (userd/fault.c):
 * every input is sent as the bytes a client writes to a control
 * connection, through the real framing (conn_read/conn_answer, via
 * uf_ctl_service on a socketpair), then handed to uf_ctl_handle() as one
 * request line, and its answer must be one JSON object: an error with an
 * errno, or the device's knobs with values in range.  The knobs it set
 * are then applied to the input as a reply (uf_apply).
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "fault.h"

#define UUID	"2f4c1c7e-0b8a-4c43-9a3e-0d5b1c2e3f40"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct userd_faults *lookup(const char *uuid, void *arg)
{
	return strcmp(uuid, UUID) ? NULL : arg;
}

/* An answer must be a JSON object: {"error", "errno"} or the knobs. */
static void check_answer(const char *s, size_t len)
{
	json_t *j, *k;
	size_t i;

	j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j))
		abort();
	if (json_object_get(j, "error")) {
		if (json_integer_value(json_object_get(j, "errno")) <= 0)
			abort();
	} else {
		if (!json_is_string(json_object_get(j, "device")) ||
		    strcmp(json_string_value(json_object_get(j, "device")),
			   UUID))
			abort();	/* knobs of a device not asked for */
		json_array_foreach(json_object_get(j, "knobs"), i, k)
			if (json_integer_value(json_object_get(k, "value")) < 0 ||
			    (!strcmp(json_string_value(json_object_get(k, "name")),
				     "delay_reply_ms") &&
			     json_integer_value(json_object_get(k, "value")) >
			     3600000))
				abort();	/* a value it must refuse */
	}
	json_decref(j);
}

/* The bytes through a control connection, as the daemon reads them. */
static void via_socket(struct uf_ctl *ctl, const uint8_t *data, size_t size)
{
	struct pollfd pfd[UF_CTL_POLLFDS];
	char reply[4096];
	ssize_t n;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return;
	if (size > UF_CTL_LINE * 2)
		size = UF_CTL_LINE * 2;
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	ctl->conns[0].fd = sv[0];
	ctl->conns[0].len = 0;
	ctl->conns[0].deadline = UINT64_MAX;
	/* Each round reads what is there; it ends answered or dropped. */
	for (i = 0; ctl->conns[0].fd >= 0 && i < 8; i++) {
		uf_ctl_pollfds(ctl, pfd);
		pfd[0].revents = 0;
		pfd[1].revents = POLLIN;
		uf_ctl_service(ctl, pfd, 0);
	}
	if (ctl->conns[0].fd >= 0)
		abort();	/* a connection at EOF left open */
	n = read(sv[1], reply, sizeof(reply));
	if (n > 0) {
		if (reply[n - 1] != '\n' || memchr(reply, '\n', (size_t)n - 1))
			abort();	/* not one line */
		check_answer(reply, (size_t)n - 1);
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct userd_faults faults = { 0 };
	struct uf_ctl ctl = {
		.path = "fuzz",	/* uf_ctl_service serves only with a path */
		.fd = -1,
		.lookup = lookup,
		.arg = &faults,
	};
	struct uf_action act;
	unsigned char *msg;
	char *line, *s;
	int i;

	for (i = 0; i < UF_CTL_CONNS; i++)
		ctl.conns[i].fd = -1;
	via_socket(&ctl, data, size);

	/* The same bytes as one line, straight to the parser. */
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	s = uf_ctl_handle(&ctl, line);
	if (s) {
		check_answer(s, strlen(s));
		free(s);
	}
	free(line);

	/* What the knobs now say, applied to the input as a reply. */
	msg = malloc(size ? size : 1);
	if (!msg)
		return 0;
	memcpy(msg, data, size);
	uf_apply(&faults, msg, size, &act);
	if (act.cut_len > size && size >= sizeof(struct vfiosim_user_header))
		abort();	/* cut beyond the reply */
	free(msg);
	return 0;
}
