// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfiosim-userd's fault knobs and the control socket that sets them.
 *
 * The control protocol is one JSON object per line each way:
 *   {"device": UUID}                              -> the device's knobs
 *   {"device": UUID, "knob": NAME, "value": N}    -> set one, then the knobs
 * answered with
 *   {"device": UUID, "knobs": [{"name", "value", "fired"}...]}
 * or {"error": TEXT, "errno": N}.  Writing 0 turns a knob off; fired
 * counts stay until the daemon exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "fault.h"

static const char *const knob_names[UF_NR_KNOBS] = {
	[UF_DELAY_REPLY_MS] = "delay_reply_ms",
	[UF_CLOSE_MID_MESSAGE] = "close_mid_message",
	[UF_WRONG_MSG_ID] = "wrong_msg_id",
};

/* Above an hour a delay is a typo, not a test. */
#define UF_MAX_DELAY_MS	3600000UL

const char *uf_knob_name(enum userd_knob k)
{
	return k < UF_NR_KNOBS ? knob_names[k] : "?";
}

/* A counted knob: fires while it has a count left. */
static bool take(struct userd_faults *f, enum userd_knob k)
{
	if (!f->value[k])
		return false;
	f->value[k]--;
	f->fired[k]++;
	return true;
}

void uf_apply(struct userd_faults *f, unsigned char *msg, size_t len,
	      struct uf_action *act)
{
	struct vfiosim_user_header h;

	memset(act, 0, sizeof(*act));
	if (len < sizeof(h))
		return;
	if (f->value[UF_DELAY_REPLY_MS]) {
		act->delay_ms = f->value[UF_DELAY_REPLY_MS];
		f->fired[UF_DELAY_REPLY_MS]++;
	}
	if (take(f, UF_WRONG_MSG_ID)) {
		memcpy(&h, msg, sizeof(h));
		h.msg_id++;
		memcpy(msg, &h, sizeof(h));
		act->wrong_id = true;
	}
	/* The whole header and half the payload, or half the header. */
	if (take(f, UF_CLOSE_MID_MESSAGE))
		act->cut_len = len > sizeof(h) ?
			       sizeof(h) + (len - sizeof(h)) / 2 :
			       sizeof(h) / 2;
}

static json_t *knobs_json(const struct userd_faults *f)
{
	json_t *arr = json_array();
	int k;

	for (k = 0; arr && k < UF_NR_KNOBS; k++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}",
			"name", knob_names[k],
			"value", (json_int_t)f->value[k],
			"fired", (json_int_t)f->fired[k]));
	return arr;
}

static char *error_reply(int err, const char *fmt, const char *arg)
{
	char text[256];
	json_t *o;
	char *s;

	snprintf(text, sizeof(text), fmt, arg);
	o = json_pack("{s:s, s:i}", "error", text, "errno", err);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

char *uf_ctl_handle(struct uf_ctl *ctl, const char *line)
{
	const char *uuid, *name = NULL;
	struct userd_faults *f;
	json_t *req, *val = NULL, *o;
	json_error_t jerr;
	json_int_t v;
	char *s;
	int k;

	req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return error_reply(EINVAL, "request is not JSON: %s",
				   jerr.text);
	if (json_unpack_ex(req, &jerr, JSON_STRICT, "{s:s, s?s, s?o}",
			   "device", &uuid, "knob", &name, "value", &val)) {
		s = error_reply(EINVAL, "bad request: %s", jerr.text);
		goto out;
	}
	f = ctl->lookup(uuid, ctl->arg);
	if (!f) {
		s = error_reply(ENODEV, "device %s is not served here", uuid);
		goto out;
	}
	if (!name != !val) {
		s = error_reply(EINVAL, "%s", "\"knob\" and \"value\" go together");
		goto out;
	}
	if (name) {
		for (k = 0; k < UF_NR_KNOBS; k++)
			if (!strcmp(name, knob_names[k]))
				break;
		if (k == UF_NR_KNOBS) {
			s = error_reply(EINVAL, "no knob '%s' (delay_reply_ms, close_mid_message, wrong_msg_id)",
					name);
			goto out;
		}
		v = json_is_integer(val) ? json_integer_value(val) : -1;
		if (v < 0 || (k == UF_DELAY_REPLY_MS &&
			      (unsigned long long)v > UF_MAX_DELAY_MS)) {
			s = error_reply(ERANGE, "knob %s: value out of range",
					name);
			goto out;
		}
		f->value[k] = (unsigned long)v;
		fprintf(stderr, "vfiosim-userd: device %s: fault knob %s = %lu\n",
			uuid, name, f->value[k]);
	}
	o = json_pack("{s:s, s:o}", "device", uuid, "knobs", knobs_json(f));
	s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
out:
	json_decref(req);
	return s;
}

int uf_ctl_listen(struct uf_ctl *ctl, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int i, err;

	for (i = 0; i < UF_CTL_CONNS; i++)
		ctl->conns[i].fd = -1;
	ctl->fd = -1;
	if (strlen(ctl->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vfiosim-userd: control socket %s: path too long\n",
			ctl->path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, ctl->path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0);
	if (ctl->fd < 0)
		goto fail;
	/* Only a stale socket may be replaced; anything else is refused. */
	if (!lstat(ctl->path, &st)) {
		if (!S_ISSOCK(st.st_mode) ||
		    connect(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
		    errno != ECONNREFUSED) {
			errno = EADDRINUSE;
			goto fail;
		}
		unlink(ctl->path);
	}
	if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(ctl->path, mode) || listen(ctl->fd, 8) ||
	    stat(ctl->path, &st))
		goto fail;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	fprintf(stderr, "vfiosim-userd: control socket %s\n", ctl->path);
	return 0;
fail:
	err = errno;
	fprintf(stderr, "vfiosim-userd: control socket %s: %s\n", ctl->path,
		strerror(err));
	if (ctl->fd >= 0)
		close(ctl->fd);
	ctl->fd = -1;
	return -err;
}

void uf_ctl_pollfds(const struct uf_ctl *ctl, struct pollfd *pfd)
{
	int i;

	pfd[0] = (struct pollfd){ .fd = ctl->path ? ctl->fd : -1,
				  .events = POLLIN };
	for (i = 0; i < UF_CTL_CONNS; i++)
		pfd[1 + i] = (struct pollfd){
			.fd = ctl->path ? ctl->conns[i].fd : -1,
			.events = POLLIN,
		};
}

static void conn_drop(struct uf_ctl_conn *cc)
{
	close(cc->fd);
	cc->fd = -1;
	cc->len = 0;
}

/* A whole line is in: answer it (best effort, the reply is small). */
static void conn_answer(struct uf_ctl *ctl, struct uf_ctl_conn *cc)
{
	char *nl = memchr(cc->buf, '\n', cc->len);
	char *reply;

	/*
	 * conn_read found the newline with memchr: a NUL before it would
	 * hide it from the string functions (and cut the request short).
	 */
	*nl = '\0';
	if (memchr(cc->buf, '\0', (size_t)(nl - cc->buf)))
		reply = error_reply(EINVAL, "%s",
				    "request has a NUL byte before its newline");
	else
		reply = uf_ctl_handle(ctl, cc->buf);
	if (reply) {
		size_t n = strlen(reply);

		reply[n] = '\n';	/* json_dumps left room: its NUL */
		if (send(cc->fd, reply, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			fprintf(stderr, "vfiosim-userd: control socket: send: %s\n",
				strerror(errno));
		free(reply);
	}
	conn_drop(cc);
}

static void conn_read(struct uf_ctl *ctl, struct uf_ctl_conn *cc)
{
	ssize_t n;

	n = recv(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - 1 - cc->len,
		 MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_drop(cc);
		return;
	}
	cc->len += (size_t)n;
	if (memchr(cc->buf, '\n', cc->len)) {
		conn_answer(ctl, cc);
	} else if (cc->len == sizeof(cc->buf) - 1) {
		fprintf(stderr, "vfiosim-userd: control socket: request longer than %d bytes, dropped\n",
			UF_CTL_LINE - 1);
		conn_drop(cc);
	}
}

void uf_ctl_service(struct uf_ctl *ctl, const struct pollfd *pfd,
		    uint64_t now)
{
	int i, fd;

	if (!ctl->path)
		return;
	for (i = 0; i < UF_CTL_CONNS; i++) {
		struct uf_ctl_conn *cc = &ctl->conns[i];

		if (cc->fd >= 0 && pfd[1 + i].fd == cc->fd &&
		    pfd[1 + i].revents)
			conn_read(ctl, cc);
		if (cc->fd >= 0 && cc->deadline <= now)
			conn_drop(cc);
	}
	if (!(pfd[0].revents & POLLIN))
		return;
	for (i = 0; i < UF_CTL_CONNS; i++) {
		struct uf_ctl_conn *cc = &ctl->conns[i];

		if (cc->fd >= 0)
			continue;
		fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		cc->fd = fd;
		cc->len = 0;
		cc->deadline = now + UF_CTL_MS;
	}
	/* All slots busy: the rest wait in the backlog. */
}

uint64_t uf_ctl_deadline(const struct uf_ctl *ctl)
{
	uint64_t soonest = UINT64_MAX;
	int i;

	for (i = 0; ctl->path && i < UF_CTL_CONNS; i++)
		if (ctl->conns[i].fd >= 0 && ctl->conns[i].deadline < soonest)
			soonest = ctl->conns[i].deadline;
	return soonest;
}

void uf_ctl_close(struct uf_ctl *ctl)
{
	struct stat st;
	int i;

	if (!ctl->path || ctl->fd < 0)
		return;
	for (i = 0; i < UF_CTL_CONNS; i++)
		if (ctl->conns[i].fd >= 0)
			conn_drop(&ctl->conns[i]);
	close(ctl->fd);
	ctl->fd = -1;
	if (!stat(ctl->path, &st) && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
}
