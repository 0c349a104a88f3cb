/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiosim-userd's fault knobs: a bridge that misbehaves on purpose, so that
 * a vfio-user client's timeout and resync paths can be driven on cue.
 *
 * Knobs are per device (per --socket) and act on the replies the daemon
 * sends.  They are set over the --control socket, one JSON request per
 * line, answered with one JSON line (see README.md, "Fault knobs").
 */
#ifndef VFIOSIM_USERD_FAULT_H
#define VFIOSIM_USERD_FAULT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum userd_knob {
	UF_DELAY_REPLY_MS,	/* hold every reply this long (0: off) */
	UF_CLOSE_MID_MESSAGE,	/* the next N replies: half sent, then hang up */
	UF_WRONG_MSG_ID,	/* the next N replies: msg_id + 1 */
	UF_NR_KNOBS,
};

struct userd_faults {
	unsigned long value[UF_NR_KNOBS];
	unsigned long fired[UF_NR_KNOBS];
};

/* What to do with one reply, after the knobs had their say. */
struct uf_action {
	uint64_t delay_ms;	/* 0: send now */
	size_t cut_len;		/* 0: send it whole; else this many bytes, then close */
	bool wrong_id;		/* its msg_id was changed */
};

/*
 * Apply the knobs to a reply of len bytes (a vfio-user header first) about
 * to be sent; may rewrite its msg_id in place.  Counts what fired.
 */
void uf_apply(struct userd_faults *f, unsigned char *msg, size_t len,
	      struct uf_action *act);

const char *uf_knob_name(enum userd_knob k);

/* The control socket: a listener and a few connections, all in poll(). */
#define UF_CTL_CONNS	4
#define UF_CTL_LINE	1024
#define UF_CTL_MS	1000	/* a request must arrive whole within this */

struct uf_ctl_conn {
	int fd;			/* -1: free */
	char buf[UF_CTL_LINE];
	size_t len;
	uint64_t deadline;	/* ms */
};

typedef struct userd_faults *(*uf_lookup_fn)(const char *uuid, void *arg);

struct uf_ctl {
	const char *path;	/* NULL: no control socket */
	int fd;
	dev_t dev;		/* the socket file we made */
	ino_t ino;
	struct uf_ctl_conn conns[UF_CTL_CONNS];
	uf_lookup_fn lookup;
	void *arg;
};

#define UF_CTL_POLLFDS	(1 + UF_CTL_CONNS)

/* Bind and listen on ctl->path (mode); 0 or -errno, said on stderr. */
int uf_ctl_listen(struct uf_ctl *ctl, mode_t mode);
/* Fill UF_CTL_POLLFDS entries (fd -1 where unused). */
void uf_ctl_pollfds(const struct uf_ctl *ctl, struct pollfd *pfd);
/* Serve what poll() reported in the entries uf_ctl_pollfds() filled. */
void uf_ctl_service(struct uf_ctl *ctl, const struct pollfd *pfd,
		    uint64_t now);
/* The soonest control deadline, or UINT64_MAX. */
uint64_t uf_ctl_deadline(const struct uf_ctl *ctl);
/* Close everything; unlink the socket if it is still ours. */
void uf_ctl_close(struct uf_ctl *ctl);

/*
 * One request line in, one reply line out (no newline), for the control
 * socket and its tests: returns a malloc'ed string.
 */
char *uf_ctl_handle(struct uf_ctl *ctl, const char *line);

#endif
