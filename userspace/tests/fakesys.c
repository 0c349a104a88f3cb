// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"

void fakesys_path(const struct fakesys *fs, const char *rel, char *out,
		  size_t len)
{
	snprintf(out, len, "%s/%s", fs->root, rel);
}

static int mkdirs(const struct fakesys *fs, const char *rel)
{
	char path[PATH_MAX], *p;

	fakesys_path(fs, rel, path, sizeof(path));
	for (p = path + strlen(fs->root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

static int put(const struct fakesys *fs, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	fakesys_path(fs, rel, path, sizeof(path));
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int link_to(const struct fakesys *fs, const char *target,
		   const char *rel)
{
	char path[PATH_MAX];

	fakesys_path(fs, rel, path, sizeof(path));
	return symlink(target, path);
}

static int add_type(const struct fakesys *fs, const char *parent,
		    const char *id, const char *name, const char *desc,
		    const char *avail)
{
	char dir[PATH_MAX], rel[PATH_MAX + 32];

	snprintf(dir, sizeof(dir),
		 "devices/virtual/%s/%s/mdev_supported_types/%s", parent,
		 parent, id);
	if (mkdirs(fs, dir))
		return -1;
#define ATTR(attr, val)							\
	do {								\
		snprintf(rel, sizeof(rel), "%s/" attr, dir);		\
		if (put(fs, rel, val))					\
			return -1;					\
	} while (0)
	ATTR("name", name);
	ATTR("description", desc);
	ATTR("device_api", "vfio-pci\n");
	ATTR("available_instances", avail);
	ATTR("create", "");
#undef ATTR
	return 0;
}

/* An mdev of parent/type, linked from bus/mdev/devices like the kernel. */
static int add_mdev(const struct fakesys *fs, const char *parent,
		    const char *type, const char *uuid, int group)
{
	char dir[PATH_MAX], rel[PATH_MAX + 64], target[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "devices/virtual/%s/%s/%s", parent, parent,
		 uuid);
	if (mkdirs(fs, dir))
		return -1;
	snprintf(rel, sizeof(rel), "%s/remove", dir);
	if (put(fs, rel, ""))
		return -1;
	snprintf(rel, sizeof(rel), "%s/mdev_type", dir);
	snprintf(target, sizeof(target), "../mdev_supported_types/%s", type);
	if (link_to(fs, target, rel))
		return -1;
	if (group >= 0) {
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d", group);
		if (mkdirs(fs, rel))
			return -1;
		snprintf(rel, sizeof(rel), "%s/iommu_group", dir);
		snprintf(target, sizeof(target),
			 "../../../../../kernel/iommu_groups/%d", group);
		if (link_to(fs, target, rel))
			return -1;
	}
	snprintf(rel, sizeof(rel), "bus/mdev/devices/%s", uuid);
	snprintf(target, sizeof(target), "../../../%s", dir);
	return link_to(fs, target, rel);
}

static int add_parent(const struct fakesys *fs, const char *parent)
{
	char rel[PATH_MAX], target[PATH_MAX];

	snprintf(rel, sizeof(rel), "class/mdev_bus/%s", parent);
	snprintf(target, sizeof(target), "../../devices/virtual/%s/%s", parent,
		 parent);
	return link_to(fs, target, rel);
}

static int populate(const struct fakesys *fs, enum fakesys_kind kind)
{
	if (mkdirs(fs, "class/mdev_bus") || mkdirs(fs, "bus/mdev/devices") ||
	    mkdirs(fs, "devices/virtual"))
		return -1;
	if (kind == FAKESYS_NO_MODULE)
		return 0;
	if (add_type(fs, "vfiosim", "vfiosim-small", "vfiosim small\n",
		     "64 KiB BAR2, 4 vectors\n", "16\n") ||
	    add_type(fs, "vfiosim", "vfiosim-full", "vfiosim full\n",
		     FAKE_DESC_FULL "\n", "4\n") ||
	    add_parent(fs, "vfiosim"))
		return -1;
	if (kind == FAKESYS_NO_DEVICES)
		return 0;
	if (add_type(fs, "mtty", "mtty-1", "Single port serial\n", "",
		     "24\n") ||
	    add_parent(fs, "mtty") ||
	    add_mdev(fs, "vfiosim", "vfiosim-full", FAKE_UUID_FULL,
		     FAKE_GROUP) ||
	    add_mdev(fs, "vfiosim", "vfiosim-small", FAKE_UUID_SMALL, -1) ||
	    add_mdev(fs, "mtty", "mtty-1", FAKE_UUID_MTTY, 11))
		return -1;
	return 0;
}

int fakesys_create(struct fakesys *fs, enum fakesys_kind kind)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fs->root, sizeof(fs->root), "%s/vfiosim-sysfs.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fs->root))
		return -1;
	if (populate(fs, kind)) {
		perror("fakesys");
		fakesys_destroy(fs);
		return -1;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void fakesys_destroy(struct fakesys *fs)
{
	if (fs->root[0])
		nftw(fs->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fs->root[0] = '\0';
}

long fakesys_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (long)got;
}
