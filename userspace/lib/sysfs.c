// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device management through the mdev sysfs ABI:
 *   <root>/class/mdev_bus/vfiosim/mdev_supported_types/<type>/{create,...}
 *   <root>/bus/mdev/devices/<uuid>/{mdev_type,iommu_group,remove}
 * <root> is $VFIOSIM_SYSFS_ROOT or /sys, read at every call so that tests
 * can point it at a fake tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfiosim_int.h"

const char *vfiosim_sysfs_root(void)
{
	const char *root = getenv("VFIOSIM_SYSFS_ROOT");

	return root && *root ? root : "/sys";
}

/* Build a PATH_MAX path; too long is an error, never a cut path. */
__attribute__((format(printf, 2, 3)))
static int mkpath(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int too_long(char *err, size_t errlen)
{
	return vfiosim_fail_buf(err, errlen, ENAMETOOLONG,
				"sysfs path too long under %s",
				vfiosim_sysfs_root());
}

static int check_module(char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (mkpath(path, "%s/class/mdev_bus/vfiosim", vfiosim_sysfs_root()))
		return too_long(err, errlen);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return vfiosim_fail_buf(err, errlen, ENODEV,
					"vfiosim module not loaded: %s not found",
					path);
	return 0;
}

/* Read a small attribute, without its trailing newline. */
static int read_attr(const char *dir, const char *attr, char *buf,
		     size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (mkpath(path, "%s/%s", dir, attr))
		return too_long(err, errlen);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vfiosim_fail_buf(err, errlen, errno, "open %s: %s",
					path, strerror(errno));
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return vfiosim_fail_buf(err, errlen, e, "read %s: %s", path,
					strerror(e));
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int write_attr(const char *path, const char *val, char *err,
		      size_t errlen)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	/* No O_CREAT: never make files in a real sysfs. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return vfiosim_fail_buf(err, errlen, errno, "open %s: %s",
					path, strerror(errno));
	n = write(fd, val, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return vfiosim_fail_buf(err, errlen, e, "write '%s' to %s: %s",
					val, path, strerror(e));
	}
	if (close(fd))
		return vfiosim_fail_buf(err, errlen, errno,
					"write '%s' to %s: %s", val, path,
					strerror(errno));
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

/* Sorted entry names of a directory, dot files left out. */
static int dir_names(const char *path, char ***out, size_t *count, char *err,
		     size_t errlen)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(path);
	if (!d)
		return vfiosim_fail_buf(err, errlen, errno, "opendir %s: %s",
					path, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				goto nomem;
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return 0;
nomem:
	closedir(d);
	free_names(names, n);
	return vfiosim_fail_buf(err, errlen, ENOMEM, "listing %s: out of memory",
				path);
}

static int parse_uint(const char *s, unsigned long long *val)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*val = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int read_type(const char *types_dir, const char *id,
		     struct vfiosim_type_info *t, char *err, size_t errlen)
{
	char dir[PATH_MAX], buf[64];
	unsigned long long avail;
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	if (mkpath(dir, "%s/%s", types_dir, id))
		return too_long(err, errlen);
	/* name and description are optional in the mdev ABI. */
	if (read_attr(dir, "name", t->name, sizeof(t->name), NULL, 0))
		t->name[0] = '\0';
	if (read_attr(dir, "description", t->description,
		      sizeof(t->description), NULL, 0))
		t->description[0] = '\0';
	ret = read_attr(dir, "device_api", t->device_api,
			sizeof(t->device_api), err, errlen);
	if (ret)
		return ret;
	ret = read_attr(dir, "available_instances", buf, sizeof(buf), err,
			errlen);
	if (ret)
		return ret;
	if (parse_uint(buf, &avail) || avail > UINT_MAX)
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"%s/available_instances: not a count: '%s'",
					dir, buf);
	t->available = (unsigned int)avail;
	return 0;
}

int vfiosim_types_list(struct vfiosim_type_info *types, size_t max,
		       size_t *count, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char **names;
	size_t n, i;
	int ret;

	if (!count || (max && !types))
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"types list: NULL argument");
	*count = 0;
	ret = check_module(err, errlen);
	if (ret)
		return ret;
	if (mkpath(dir, "%s/class/mdev_bus/vfiosim/mdev_supported_types",
		   vfiosim_sysfs_root()))
		return too_long(err, errlen);
	ret = dir_names(dir, &names, &n, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < n && i < max; i++) {
		ret = read_type(dir, names[i], &types[i], err, errlen);
		if (ret)
			goto out;
	}
	*count = n;
	if (n > max)
		ret = vfiosim_fail_buf(err, errlen, ENOSPC,
				       "%zu types but room for %zu", n, max);
out:
	free_names(names, n);
	return ret;
}

int vfiosim_mdev_create(const char *type, const char *uuid, char *err,
			size_t errlen)
{
	char path[PATH_MAX], id[VFIOSIM_UUID_LEN + 1];
	struct stat st;
	int ret;

	if (!type || !*type || strchr(type, '/') || !strcmp(type, ".") ||
	    !strcmp(type, ".."))
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"invalid type '%s'", type ? type : "(null)");
	ret = vfiosim_uuid_check(uuid, id, err, errlen);
	if (ret)
		return ret;
	ret = check_module(err, errlen);
	if (ret)
		return ret;
	if (mkpath(path, "%s/class/mdev_bus/vfiosim/mdev_supported_types/%s",
		   vfiosim_sysfs_root(), type))
		return too_long(err, errlen);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return vfiosim_fail_buf(err, errlen, ENOENT,
					"no vfiosim type '%s': %s not found",
					type, path);
	if (mkpath(path, "%s/class/mdev_bus/vfiosim/mdev_supported_types/%s/create",
		   vfiosim_sysfs_root(), type))
		return too_long(err, errlen);
	ret = write_attr(path, id, err, errlen);
	if (ret) {
		char msg[VFIOSIM_ERR_LEN];

		snprintf(msg, sizeof(msg), "%s", err ? err : "");
		vfiosim_fail_buf(err, errlen, -ret, "create %s %s: %s", type,
				 id, msg);
	}
	return ret;
}

/*
 * The type of an mdev if its parent is vfiosim: <dev>/mdev_type resolves
 * to a directory inside vfiosim's mdev_supported_types.
 */
static int mdev_vfiosim_type(const char *uuid, char *type, size_t len,
			     char *err, size_t errlen)
{
	char link[PATH_MAX], types[PATH_MAX];
	char real_type[PATH_MAX], real_types[PATH_MAX];
	char *slash;
	const char *root = vfiosim_sysfs_root();
	struct stat st;

	if (mkpath(link, "%s/bus/mdev/devices/%s", root, uuid))
		return too_long(err, errlen);
	if (lstat(link, &st))
		return vfiosim_fail_buf(err, errlen, ENODEV,
					"no mdev device %s: %s not found",
					uuid, link);
	if (mkpath(link, "%s/bus/mdev/devices/%s/mdev_type", root, uuid))
		return too_long(err, errlen);
	if (mkpath(types, "%s/class/mdev_bus/vfiosim/mdev_supported_types",
		   root))
		return too_long(err, errlen);
	if (!realpath(link, real_type))
		return vfiosim_fail_buf(err, errlen, errno, "resolve %s: %s",
					link, strerror(errno));
	if (!realpath(types, real_types))
		return vfiosim_fail_buf(err, errlen, errno, "resolve %s: %s",
					types, strerror(errno));
	slash = strrchr(real_type, '/');
	if (!slash || (size_t)(slash - real_type) != strlen(real_types) ||
	    strncmp(real_type, real_types, strlen(real_types)))
		return vfiosim_fail_buf(err, errlen, ENODEV,
					"mdev %s is not a vfiosim device (type %s)",
					uuid, slash ? slash + 1 : real_type);
	if (strlen(slash + 1) >= len)
		return vfiosim_fail_buf(err, errlen, ENAMETOOLONG,
					"mdev %s: type name too long", uuid);
	strcpy(type, slash + 1);
	return 0;
}

static int mdev_iommu_group(const char *uuid)
{
	char link[PATH_MAX], target[PATH_MAX];
	unsigned long long group;
	const char *base;
	ssize_t n;

	if (mkpath(link, "%s/bus/mdev/devices/%s/iommu_group",
		   vfiosim_sysfs_root(), uuid))
		return -1;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (parse_uint(base, &group) || group > INT_MAX)
		return -1;
	return (int)group;
}

int vfiosim_mdev_get(const char *uuid, struct vfiosim_mdev_info *info,
		     char *err, size_t errlen)
{
	char id[VFIOSIM_UUID_LEN + 1];
	int ret;

	if (!info)
		return vfiosim_fail_buf(err, errlen, EINVAL, "info is NULL");
	ret = vfiosim_uuid_check(uuid, id, err, errlen);
	if (ret)
		return ret;
	ret = check_module(err, errlen);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	ret = mdev_vfiosim_type(id, info->type, sizeof(info->type), err,
				errlen);
	if (ret)
		return ret;
	memcpy(info->uuid, id, sizeof(info->uuid));
	info->iommu_group = mdev_iommu_group(id);
	return 0;
}

int vfiosim_mdev_remove(const char *uuid, char *err, size_t errlen)
{
	struct vfiosim_mdev_info info;
	char path[PATH_MAX];
	int ret;

	/* Only ever remove our own devices. */
	ret = vfiosim_mdev_get(uuid, &info, err, errlen);
	if (ret)
		return ret;
	if (mkpath(path, "%s/bus/mdev/devices/%s/remove",
		   vfiosim_sysfs_root(), info.uuid))
		return too_long(err, errlen);
	ret = write_attr(path, "1", err, errlen);
	if (ret) {
		char msg[VFIOSIM_ERR_LEN];

		snprintf(msg, sizeof(msg), "%s", err ? err : "");
		vfiosim_fail_buf(err, errlen, -ret, "remove %s: %s", info.uuid,
				 msg);
	}
	return ret;
}

int vfiosim_mdev_list(struct vfiosim_mdev_info *devs, size_t max,
		      size_t *count, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char **names;
	size_t n, i, found = 0;
	int ret;

	if (!count || (max && !devs))
		return vfiosim_fail_buf(err, errlen, EINVAL,
					"mdev list: NULL argument");
	*count = 0;
	ret = check_module(err, errlen);
	if (ret)
		return ret;
	if (mkpath(dir, "%s/bus/mdev/devices", vfiosim_sysfs_root()))
		return too_long(err, errlen);
	ret = dir_names(dir, &names, &n, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		struct vfiosim_mdev_info info;

		/* Other parents' devices are not an error, just not ours. */
		if (!vfiosim_uuid_valid(names[i]) ||
		    vfiosim_mdev_get(names[i], &info, NULL, 0))
			continue;
		if (found < max)
			devs[found] = info;
		found++;
	}
	free_names(names, n);
	*count = found;
	if (found > max)
		return vfiosim_fail_buf(err, errlen, ENOSPC,
					"%zu devices but room for %zu", found,
					max);
	return 0;
}

int vfiosim_uuid_generate(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	ssize_t n;

	if (!out)
		return -EINVAL;
	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4: random */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}
