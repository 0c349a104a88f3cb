/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake sysfs tree shaped like the real mdev ABI, in a temp dir, for
 * VFIOSIM_SYSFS_ROOT.
 */
#ifndef VFIOSIM_FAKESYS_H
#define VFIOSIM_FAKESYS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Devices in the full tree. */
#define FAKE_UUID_FULL	"0b7a6c1e-51f2-4c52-9a0e-3d1f2e4a5b6c"	/* group 98765 */
#define FAKE_UUID_SMALL	"1c8b7d2f-62a3-4d63-8b1f-4e2a3f5b6c7d"	/* no group */
#define FAKE_UUID_MTTY	"2d9c8e3a-73b4-4e74-9c2a-5f3b4a6c7d8e"	/* not ours */
#define FAKE_GROUP	98765
/* Has quotes, a backslash, a tab, a control byte, UTF-8 and a bad byte. */
#define FAKE_DESC_FULL	"16 MiB \"BAR2\"\t\\ 32 vectors\x01 caf\xc3\xa9 \xff"

struct fakesys {
	char root[PATH_MAX];
};

enum fakesys_kind {
	FAKESYS_FULL,		/* vfiosim + mtty parents, three devices */
	FAKESYS_NO_DEVICES,	/* vfiosim loaded, no mdevs at all */
	FAKESYS_NO_MODULE,	/* sysfs without vfiosim */
};

int fakesys_create(struct fakesys *fs, enum fakesys_kind kind);
void fakesys_destroy(struct fakesys *fs);
/* Path under the root, in a static-free caller buffer. */
void fakesys_path(const struct fakesys *fs, const char *rel, char *out,
		  size_t len);
/* Whole file into buf (NUL-terminated); -1 on error. */
long fakesys_read(const char *path, char *buf, size_t len);

#endif /* VFIOSIM_FAKESYS_H */
