// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfiosim-userd's fault knobs (userd/fault.c): what each does to a reply,
 * that a count runs out and 0 turns a knob off, the fired counts, and the
 * control protocol's answers to good and bad requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "fault.h"
#include "tap.h"

#define UUID "2f4c1c7e-0b8a-4c43-9a3e-0d5b1c2e3f40"

static struct userd_faults faults;

static struct userd_faults *lookup(const char *uuid, void *arg)
{
	(void)arg;
	return strcmp(uuid, UUID) ? NULL : &faults;
}

/* A 4-byte REGION_READ reply: 16 header + 16 + 4 bytes. */
static size_t reply(unsigned char *buf, uint16_t id)
{
	struct vfiosim_user_header h = {
		.msg_id = id, .command = VFIOSIM_USER_REGION_READ,
		.msg_size = 36, .flags = VFIOSIM_USER_F_TYPE_REPLY,
	};

	memset(buf, 0xab, 36);
	memcpy(buf, &h, sizeof(h));
	return 36;
}

static uint16_t id_of(const unsigned char *buf)
{
	struct vfiosim_user_header h;

	memcpy(&h, buf, sizeof(h));
	return h.msg_id;
}

/* Send line to the control handler; the reply parsed, or NULL. */
static json_t *ask(struct uf_ctl *ctl, const char *line)
{
	char *s = uf_ctl_handle(ctl, line);
	json_t *j = s ? json_loads(s, JSON_REJECT_DUPLICATES, NULL) : NULL;

	free(s);
	return j;
}

static long long knob_field(json_t *j, const char *knob, const char *field)
{
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(j, "knobs"), i, k)
		if (!strcmp(json_string_value(json_object_get(k, "name")),
			    knob))
			return json_integer_value(json_object_get(k, field));
	return -1;
}

static int err_of(json_t *j)
{
	return (int)json_integer_value(json_object_get(j, "errno"));
}

#define REQ(rest) "{\"device\": \"" UUID "\"" rest "}"
#define NOBODY "00000000-0000-0000-0000-000000000000"

static const struct {
	const char *req;
	int err;
	const char *what;
	const char *named;	/* the error text must name it */
} bad[] = {
	{ "not json", EINVAL, "a request that is not JSON: EINVAL", NULL },
	{ REQ(", \"device\": \"" UUID "\""), EINVAL, "a duplicate key: EINVAL", NULL },
	{ REQ(", \"extra\": 1"), EINVAL, "an unknown key: EINVAL", NULL },
	{ "{\"device\": \"" NOBODY "\"}", ENODEV,
	  "a device not served: ENODEV", NOBODY },
	{ REQ(", \"knob\": \"nope\", \"value\": 1"), EINVAL,
	  "an unknown knob: EINVAL", "nope" },
	{ REQ(", \"knob\": \"wrong_msg_id\""), EINVAL,
	  "a knob without a value: EINVAL", NULL },
	{ REQ(", \"knob\": \"wrong_msg_id\", \"value\": -1"), ERANGE,
	  "a negative value: ERANGE", NULL },
	{ REQ(", \"knob\": \"wrong_msg_id\", \"value\": \"1\""), ERANGE,
	  "a value that is a string: ERANGE", NULL },
	{ REQ(", \"knob\": \"delay_reply_ms\", \"value\": 3600001"), ERANGE,
	  "a delay above an hour: ERANGE", NULL },
};

/*
 * Send req (len bytes) on a control connection, through the daemon's
 * framing (uf_ctl_service on a socketpair); the answer, or NULL.
 */
static json_t *ask_socket(struct uf_ctl *ctl, const char *req, size_t len)
{
	struct pollfd pfd[UF_CTL_POLLFDS];
	char reply[1024];
	json_t *j = NULL;
	ssize_t n;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return NULL;
	for (i = 0; i < UF_CTL_CONNS; i++)
		ctl->conns[i].fd = -1;
	ctl->conns[0] = (struct uf_ctl_conn){ .fd = sv[0], .deadline = 1000 };
	if (write(sv[1], req, len) == (ssize_t)len) {
		uf_ctl_pollfds(ctl, pfd);
		pfd[0].revents = 0;
		pfd[1].revents = POLLIN;
		uf_ctl_service(ctl, pfd, 0);
		n = read(sv[1], reply, sizeof(reply));
		if (n > 0)
			j = json_loadb(reply, (size_t)n, JSON_DISABLE_EOF_CHECK,
				       NULL);
	}
	if (ctl->conns[0].fd >= 0)
		close(ctl->conns[0].fd);
	close(sv[1]);
	return j;
}

static void test_socket_framing(struct tap *t)
{
	static const char nul[] = "{\"device\": \"" UUID "\"}\0\n";
	static const char good[] = "{\"device\": \"" UUID "\"}\n";
	struct uf_ctl ctl = { .path = "test", .fd = -1, .lookup = lookup };
	json_t *j;

	j = ask_socket(&ctl, good, sizeof(good) - 1);
	tap_int(t, json_array_size(json_object_get(j, "knobs")), 3,
		"socket: a request line is answered with the knobs");
	json_decref(j);
	/* Once a NULL store in conn_answer: the daemon died. */
	j = ask_socket(&ctl, nul, sizeof(nul) - 1);
	tap_int(t, err_of(j), EINVAL,
		"socket: a NUL before the newline is refused: EINVAL");
	tap_has(t, json_string_value(json_object_get(j, "error")), "NUL",
		"... and the error says why");
	json_decref(j);
}

int main(void)
{
	struct uf_ctl ctl = { .lookup = lookup };
	struct tap t = { 0 };
	struct uf_action act;
	unsigned char buf[64];
	size_t len, i;
	json_t *j;

	len = reply(buf, 7);
	uf_apply(&faults, buf, len, &act);
	tap_ok(&t, !act.delay_ms && !act.cut_len && !act.wrong_id &&
	       id_of(buf) == 7, "all knobs off: the reply goes as it is");

	j = ask(&ctl, "{\"device\": \"" UUID "\"}");
	tap_int(&t, json_array_size(json_object_get(j, "knobs")), 3,
		"a listing names the three knobs");
	tap_int(&t, knob_field(j, "wrong_msg_id", "value"), 0,
		"... all off at start");
	json_decref(j);

	j = ask(&ctl, "{\"device\": \"" UUID "\", \"knob\": \"wrong_msg_id\", \"value\": 2}");
	tap_int(&t, knob_field(j, "wrong_msg_id", "value"), 2,
		"wrong_msg_id set to 2, and the answer says so");
	json_decref(j);
	uf_apply(&faults, buf, reply(buf, 7), &act);
	tap_ok(&t, act.wrong_id && id_of(buf) == 8,
	       "wrong_msg_id: the reply to msg 7 says 8");
	uf_apply(&faults, buf, reply(buf, 0xffff), &act);
	tap_ok(&t, act.wrong_id && id_of(buf) == 0,
	       "... and to 0xffff says 0 (16 bits wrap)");
	uf_apply(&faults, buf, reply(buf, 7), &act);
	tap_ok(&t, !act.wrong_id && id_of(buf) == 7,
	       "... the count ran out after 2: the third is right");

	faults.value[UF_DELAY_REPLY_MS] = 3000;
	uf_apply(&faults, buf, reply(buf, 1), &act);
	tap_int(&t, (long long)act.delay_ms, 3000,
		"delay_reply_ms 3000: the reply is held 3000 ms");
	uf_apply(&faults, buf, reply(buf, 2), &act);
	tap_int(&t, (long long)act.delay_ms, 3000,
		"... and so is every one while it is set");
	j = ask(&ctl, "{\"device\": \"" UUID "\", \"knob\": \"delay_reply_ms\", \"value\": 0}");
	uf_apply(&faults, buf, reply(buf, 3), &act);
	tap_int(&t, (long long)act.delay_ms, 0, "writing 0 turns it off");
	tap_int(&t, knob_field(j, "delay_reply_ms", "fired"), 2,
		"... and it fired twice");
	tap_int(&t, knob_field(j, "wrong_msg_id", "fired"), 2,
		"wrong_msg_id fired twice");
	json_decref(j);

	faults.value[UF_CLOSE_MID_MESSAGE] = 1;
	uf_apply(&faults, buf, reply(buf, 4), &act);
	tap_int(&t, (long long)act.cut_len, 16 + 10,
		"close_mid_message: the header and half of 20 bytes go");
	uf_apply(&faults, buf, 16, &act);
	tap_int(&t, (long long)act.cut_len, 0, "... once");
	faults.value[UF_CLOSE_MID_MESSAGE] = 1;
	uf_apply(&faults, buf, 16, &act);
	tap_int(&t, (long long)act.cut_len, 8,
		"a header-only reply is cut inside the header");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = ask(&ctl, bad[i].req);
		tap_int(&t, err_of(j), bad[i].err, bad[i].what);
		if (bad[i].named)
			tap_has(&t, json_string_value(json_object_get(j, "error")),
				bad[i].named, "... and the error names it");
		json_decref(j);
	}
	tap_int(&t, (long long)faults.value[UF_DELAY_REPLY_MS], 0,
		"... and a refused request changed nothing");
	test_socket_framing(&t);

	printf("%d passed, %d failed\n", t.passed, t.failed);
	return t.failed ? 1 : 0;
}
