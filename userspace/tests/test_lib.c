// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host unit tests of libvfiosim: everything that does not need the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakesys.h"
#include "tap.h"
#include "vfiosim_int.h"

#define UUID_OK		"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b"

static void test_spec(struct tap *t)
{
	const struct vfiosim_io_ops *ops = NULL;
	const char *target = NULL;
	char err[256];
	int ret;

	ret = vfiosim_spec_parse("vfio:" UUID_OK, &ops, &target, err,
				 sizeof(err));
	tap_int(t, ret, 0, "spec: vfio:<uuid> parses");
	tap_ok(t, ops == &vfiosim_vfio_ops, "spec: vfio: selects the vfio ops");
	tap_str(t, target, UUID_OK, "spec: target is the uuid");

	ret = vfiosim_spec_parse("netlink:" UUID_OK, &ops, &target, err,
				 sizeof(err));
	tap_int(t, ret, 0, "spec: netlink:<uuid> parses");
	tap_ok(t, ops == &vfiosim_netlink_ops,
	       "spec: netlink: selects the netlink ops");
	tap_str(t, target, UUID_OK, "spec: netlink target is the uuid");
	ret = vfiosim_spec_parse("unix:/run/vfiosim.sock", &ops, &target, err,
				 sizeof(err));
	tap_int(t, ret, 0, "spec: unix:<path> parses");
	tap_ok(t, ops == &vfiosim_unix_ops, "spec: unix: selects the unix ops");
	tap_str(t, target, "/run/vfiosim.sock", "spec: unix target is the path");

	ret = vfiosim_spec_parse(NULL, &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: NULL");
	ret = vfiosim_spec_parse("", &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: empty");
	tap_has(t, err, "empty device spec", "spec: empty message");
	ret = vfiosim_spec_parse(UUID_OK, &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: bare uuid has no prefix");
	tap_has(t, err, "has no backend prefix", "spec: no prefix message");
	ret = vfiosim_spec_parse("vfio:", &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: vfio: with no device");
	tap_has(t, err, "names no device", "spec: no device message");
	ret = vfiosim_spec_parse("pci:0000:00:01.0", &ops, &target, err,
				 sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: unknown backend");
	tap_has(t, err, "unknown backend 'pci'", "spec: unknown message");
	ret = vfiosim_spec_parse("vfi:x", &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: prefix of a prefix is not a match");
	ret = vfiosim_spec_parse("vfioo:x", &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: longer prefix is not a match");
	ret = vfiosim_spec_parse(":x", &ops, &target, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "spec: empty prefix");
}

static void test_uuid(struct tap *t)
{
	static const char *const bad[] = {
		"", "8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1",
		"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1bb",
		"8d5e4b4e6-c1a-4c8e-9b1a-2f4e6d8c0a1b",
		"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1g",
		"8d5e4b4e 6c1a-4c8e-9b1a-2f4e6d8c0a1b",
		"{8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1}",
	};
	char uuids[64][37], norm[37];
	bool all_ok = true, distinct = true;
	size_t i, j;

	tap_ok(t, vfiosim_uuid_valid(UUID_OK), "uuid: lower case is valid");
	tap_ok(t, vfiosim_uuid_valid("8D5E4B4E-6C1A-4C8E-9B1A-2F4E6D8C0A1B"),
	       "uuid: upper case is valid");
	tap_ok(t, !vfiosim_uuid_valid(NULL), "uuid: NULL is invalid");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(t, !vfiosim_uuid_valid(bad[i]), "uuid: '%s' is invalid",
		       bad[i]);
	vfiosim_uuid_normalize("8D5E4B4E-6C1A-4C8E-9B1A-2F4E6D8C0A1B", norm);
	tap_str(t, norm, UUID_OK, "uuid: normalize lowers the case");

	for (i = 0; i < 64; i++) {
		if (vfiosim_uuid_generate(uuids[i]) ||
		    !vfiosim_uuid_valid(uuids[i]) || uuids[i][14] != '4' ||
		    !strchr("89ab", uuids[i][19]) ||
		    strpbrk(uuids[i], "ABCDEF"))
			all_ok = false;
		for (j = 0; j < i; j++)
			if (!strcmp(uuids[i], uuids[j]))
				distinct = false;
	}
	tap_ok(t, all_ok, "uuid: generated are lower-case v4, RFC variant");
	tap_ok(t, distinct, "uuid: 64 generated are distinct");
	tap_int(t, vfiosim_uuid_generate(NULL), -EINVAL, "uuid: generate(NULL)");
}

/* A region info buffer with a capability chain. */
union capbuf {
	struct vfio_region_info info;
	uint64_t align;
	unsigned char raw[256];
};

#define CAP_SPARSE_AT	32	/* header + nr_areas + 2 areas = 48 bytes */
#define CAP_TYPE_AT	80	/* 16 bytes */

static struct vfio_info_cap_header *cap_at(union capbuf *b, uint32_t off)
{
	return (struct vfio_info_cap_header *)(b->raw + off);
}

static void capbuf_init(union capbuf *b)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_region_info_cap_type *type;

	memset(b, 0, sizeof(*b));
	b->info.argsz = CAP_TYPE_AT + sizeof(*type);
	b->info.flags = VFIO_REGION_INFO_FLAG_CAPS;
	b->info.cap_offset = CAP_SPARSE_AT;
	sparse = (void *)cap_at(b, CAP_SPARSE_AT);
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	sparse->header.next = CAP_TYPE_AT;
	sparse->nr_areas = 2;
	sparse->areas[0].size = 0x1000;
	sparse->areas[1].offset = 0x2000;
	type = (void *)cap_at(b, CAP_TYPE_AT);
	type->header.id = VFIO_REGION_INFO_CAP_TYPE;
	type->header.version = 1;
	type->type = 0x1234;
	type->subtype = 5;
}

static void test_caps(struct tap *t)
{
	const struct vfio_info_cap_header *hdr;
	union capbuf b;

	capbuf_init(&b);
	hdr = vfiosim_region_info_cap(&b.info, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	tap_ok(t, hdr == cap_at(&b, CAP_SPARSE_AT), "caps: finds the first cap");
	hdr = vfiosim_region_info_cap(&b.info, VFIO_REGION_INFO_CAP_TYPE);
	tap_ok(t, hdr == cap_at(&b, CAP_TYPE_AT), "caps: follows next");
	tap_int(t, hdr ? ((const struct vfio_region_info_cap_type *)hdr)->type : 0,
		0x1234, "caps: type cap contents");
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 3),
	       "caps: absent id gives NULL");
	tap_ok(t, !vfiosim_region_info_cap(NULL, 1), "caps: NULL info");

	capbuf_init(&b);
	b.info.flags = 0;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: no FLAG_CAPS, no walk");
	capbuf_init(&b);
	b.info.cap_offset = 0;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: cap_offset 0 (buffer was too small) gives NULL");
	capbuf_init(&b);
	b.info.argsz = sizeof(b.info) - 1;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: argsz below the fixed part");

	capbuf_init(&b);
	b.info.argsz = CAP_TYPE_AT + 12;
	tap_ok(t, vfiosim_region_info_cap(&b.info, 1) != NULL,
	       "caps: short argsz still reaches the first cap");
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: type cap body past argsz");
	b.info.argsz = CAP_TYPE_AT + 4;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: cap header past argsz");
	b.info.argsz = CAP_SPARSE_AT + 40;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: sparse areas past argsz");

	capbuf_init(&b);
	cap_at(&b, CAP_TYPE_AT)->next = CAP_SPARSE_AT;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 3),
	       "caps: backward next (loop) ends the walk");
	capbuf_init(&b);
	cap_at(&b, CAP_SPARSE_AT)->next = CAP_SPARSE_AT;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: self loop ends the walk");
	capbuf_init(&b);
	cap_at(&b, CAP_SPARSE_AT)->next = 1000;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: next beyond argsz");
	capbuf_init(&b);
	cap_at(&b, CAP_SPARSE_AT)->next = 0xfffffffc;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: next near UINT32_MAX does not wrap");
	capbuf_init(&b);
	b.info.cap_offset = 8;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: cap inside the fixed part");
	capbuf_init(&b);
	cap_at(&b, CAP_SPARSE_AT)->next = CAP_TYPE_AT + 2;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 2),
	       "caps: misaligned next");
	capbuf_init(&b);
	((struct vfio_region_info_cap_sparse_mmap *)cap_at(&b, CAP_SPARSE_AT))
		->nr_areas = 0x10000000;
	tap_ok(t, !vfiosim_region_info_cap(&b.info, 1),
	       "caps: huge nr_areas is refused");
	tap_ok(t, vfiosim_region_info_cap(&b.info, 2) != NULL,
	       "caps: but the chain past it still walks");

	capbuf_init(&b);
	cap_at(&b, CAP_TYPE_AT)->id = 99;
	b.info.argsz = CAP_TYPE_AT + 8;
	tap_ok(t, vfiosim_region_info_cap(&b.info, 99) ==
	       cap_at(&b, CAP_TYPE_AT),
	       "caps: unknown id needs only its header");
}

static void test_regions(struct tap *t)
{
	char msg[256];

	tap_str(t, vfiosim_region_name(0), "BAR0", "region: name of 0");
	tap_str(t, vfiosim_region_name(2), "BAR2", "region: name of 2");
	tap_str(t, vfiosim_region_name(7), "config", "region: name of 7");
	tap_str(t, vfiosim_region_name(42), "region", "region: name of 42");

	vfiosim_format_region_err(msg, sizeof(msg), "read", 2, 0x10000, 4,
				  0x10000, EINVAL);
	tap_str(t, msg,
		"read region 2 (BAR2): offset 0x10000+4 past end 0x10000: Invalid argument",
		"region: past-end message");
	vfiosim_format_region_err(msg, sizeof(msg), "write", 0, 0x40, 4,
				  0x2000, EIO);
	tap_str(t, msg,
		"write region 0 (BAR0) offset 0x40+4: Input/output error",
		"region: in-bounds failure message");
	vfiosim_format_region_err(msg, sizeof(msg), "read", 0, UINT64_MAX, 4,
				  0x2000, EINVAL);
	tap_has(t, msg, "past end 0x2000",
		"region: offset+count overflow is past end");
}

static void test_dev(struct tap *t, const struct fakesys *full,
		     const struct fakesys *nomod)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	char want[PATH_MAX + 128], buf[4];
	uint32_t val;
	int ret;

	if (!tap_ok(t, dev != NULL, "dev: alloc"))
		return;
	tap_str(t, vfiosim_dev_backend(dev), "none", "dev: closed backend");
	tap_int(t, vfiosim_dev_open(NULL, "vfio:" UUID_OK), -EINVAL,
		"dev: open(NULL dev)");
	tap_int(t, vfiosim_region_read(NULL, 0, 0, buf, 4), -EINVAL,
		"dev: read on NULL dev");
	tap_int(t, vfiosim_reset(dev), -EBADF, "dev: reset when closed");
	tap_has(t, vfiosim_dev_error(dev), "reset: device not open",
		"dev: closed message");
	tap_int(t, vfiosim_read32(dev, 0, 0, &val), -EBADF,
		"dev: read32 when closed");
	tap_ok(t, vfiosim_dev_error(NULL) != NULL, "dev: error(NULL)");

	tap_int(t, vfiosim_dev_open(dev, "vfio:not-a-uuid"), -EINVAL,
		"dev: bad uuid");
	tap_str(t, vfiosim_dev_error(dev),
		"vfio:not-a-uuid: invalid uuid 'not-a-uuid' (expected 8-4-4-4-12 hex digits)",
		"dev: bad uuid message");
	tap_int(t, vfiosim_dev_open(dev, "vfio:" UUID_OK "0"), -EINVAL,
		"dev: uuid with trailing junk");
	/* The host never has the module: no "vfiosim" family. */
	tap_int(t, vfiosim_dev_open(dev, "netlink:" UUID_OK), -ENOENT,
		"dev: netlink backend, no family");
	tap_has(t, vfiosim_dev_error(dev),
		"vfiosim netlink family not found (module not loaded?)",
		"dev: netlink message");
	tap_str(t, vfiosim_dev_backend(dev), "none",
		"dev: still closed after failed open");
	tap_int(t, vfiosim_dev_open(dev, ""), -EINVAL, "dev: empty spec");

	setenv("VFIOSIM_SYSFS_ROOT", nomod->root, 1);
	tap_int(t, vfiosim_dev_open(dev, "vfio:" UUID_OK), -ENODEV,
		"dev: module not loaded");
	snprintf(want, sizeof(want),
		 "vfio:" UUID_OK ": vfiosim module not loaded: %s/class/mdev_bus/vfiosim not found",
		 nomod->root);
	tap_str(t, vfiosim_dev_error(dev), want, "dev: not loaded message");

	setenv("VFIOSIM_SYSFS_ROOT", full->root, 1);
	tap_int(t, vfiosim_dev_open(dev, "vfio:" UUID_OK), -ENODEV,
		"dev: no such mdev");
	tap_has(t, vfiosim_dev_error(dev), "no mdev device " UUID_OK,
		"dev: no such mdev message");
	tap_int(t, vfiosim_dev_open(dev, "vfio:" FAKE_UUID_MTTY), -ENODEV,
		"dev: another parent's mdev");
	tap_has(t, vfiosim_dev_error(dev), "is not a vfiosim device (type mtty-1)",
		"dev: another parent's message");
	tap_int(t, vfiosim_dev_open(dev, "vfio:" FAKE_UUID_SMALL), -ENODEV,
		"dev: mdev without iommu_group");
	tap_has(t, vfiosim_dev_error(dev), "no iommu_group link",
		"dev: no group message");

	/* Upper case in, lower case in the name: as sysfs spells it. */
	if (access("/dev/vfio/98765", F_OK)) {
		ret = vfiosim_dev_open(dev,
				       "vfio:0B7A6C1E-51F2-4C52-9A0E-3D1F2E4A5B6C");
		tap_int(t, ret, -ENOENT, "dev: group found, /dev/vfio absent");
		tap_str(t, vfiosim_dev_error(dev),
			"vfio:" FAKE_UUID_FULL ": open /dev/vfio/98765: No such file or directory",
			"dev: group open message names the file");
	} else {
		tap_skip(t, "dev: group found, /dev/vfio absent",
			 "/dev/vfio/98765 exists");
		tap_skip(t, "dev: group open message names the file",
			 "/dev/vfio/98765 exists");
	}
	unsetenv("VFIOSIM_SYSFS_ROOT");
	vfiosim_dev_free(dev);
	vfiosim_dev_free(NULL);
}

static void test_sysfs_root(struct tap *t)
{
	unsetenv("VFIOSIM_SYSFS_ROOT");
	tap_str(t, vfiosim_sysfs_root(), "/sys", "sysfs: default root");
	setenv("VFIOSIM_SYSFS_ROOT", "", 1);
	tap_str(t, vfiosim_sysfs_root(), "/sys", "sysfs: empty env is default");
	setenv("VFIOSIM_SYSFS_ROOT", "/x/y", 1);
	tap_str(t, vfiosim_sysfs_root(), "/x/y", "sysfs: env read at call time");
	unsetenv("VFIOSIM_SYSFS_ROOT");
}

static void test_sysfs(struct tap *t, const struct fakesys *fs)
{
	struct vfiosim_type_info types[4];
	struct vfiosim_mdev_info devs[4], info;
	char err[512], path[PATH_MAX], buf[128];
	size_t n = 99;
	int ret;

	setenv("VFIOSIM_SYSFS_ROOT", fs->root, 1);

	ret = vfiosim_types_list(types, 4, &n, err, sizeof(err));
	tap_int(t, ret, 0, "types: list");
	tap_int(t, (long long)n, 2, "types: two types");
	tap_str(t, types[0].id, "vfiosim-full", "types: sorted, full first");
	tap_str(t, types[1].id, "vfiosim-small", "types: small second");
	tap_str(t, types[0].name, "vfiosim full", "types: name, no newline");
	tap_str(t, types[0].description, FAKE_DESC_FULL,
		"types: description as is");
	tap_str(t, types[1].device_api, "vfio-pci", "types: device_api");
	tap_int(t, types[0].available, 4, "types: full available");
	tap_int(t, types[1].available, 16, "types: small available");
	ret = vfiosim_types_list(types, 1, &n, err, sizeof(err));
	tap_int(t, ret, -ENOSPC, "types: too small an array");
	tap_int(t, (long long)n, 2, "types: count says how many there are");
	tap_int(t, vfiosim_types_list(NULL, 1, &n, err, sizeof(err)), -EINVAL,
		"types: NULL array");

	ret = vfiosim_mdev_create("vfiosim-small",
				  "8D5E4B4E-6C1A-4C8E-9B1A-2F4E6D8C0A1B", err,
				  sizeof(err));
	tap_int(t, ret, 0, "create: writes create");
	fakesys_path(fs,
		     "devices/virtual/vfiosim/vfiosim/mdev_supported_types/vfiosim-small/create",
		     path, sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, UUID_OK, "create: wrote the lower-case uuid, nothing else");
	ret = vfiosim_mdev_create("nope", UUID_OK, err, sizeof(err));
	tap_int(t, ret, -ENOENT, "create: unknown type");
	tap_has(t, err, "no vfiosim type 'nope'", "create: unknown type message");
	ret = vfiosim_mdev_create("../../mtty/mtty/mdev_supported_types/mtty-1",
				  UUID_OK, err, sizeof(err));
	tap_int(t, ret, -EINVAL, "create: type with a slash");
	ret = vfiosim_mdev_create("vfiosim-full", "1234", err, sizeof(err));
	tap_int(t, ret, -EINVAL, "create: bad uuid");
	tap_has(t, err, "invalid uuid '1234'", "create: bad uuid message");
	tap_int(t, vfiosim_mdev_create("vfiosim-full", NULL, err, sizeof(err)),
		-EINVAL, "create: NULL uuid");

	ret = vfiosim_mdev_list(devs, 4, &n, err, sizeof(err));
	tap_int(t, ret, 0, "list: ok");
	tap_int(t, (long long)n, 2, "list: only vfiosim devices");
	tap_str(t, devs[0].uuid, FAKE_UUID_FULL, "list: sorted, first");
	tap_str(t, devs[0].type, "vfiosim-full", "list: first type");
	tap_int(t, devs[0].iommu_group, FAKE_GROUP, "list: first group");
	tap_str(t, devs[1].uuid, FAKE_UUID_SMALL, "list: second");
	tap_int(t, devs[1].iommu_group, -1, "list: no group is -1");
	ret = vfiosim_mdev_list(devs, 1, &n, err, sizeof(err));
	tap_int(t, ret, -ENOSPC, "list: too small an array");
	tap_int(t, (long long)n, 2, "list: count says how many there are");

	ret = vfiosim_mdev_get(FAKE_UUID_FULL, &info, err, sizeof(err));
	tap_int(t, ret, 0, "get: ok");
	tap_str(t, info.type, "vfiosim-full", "get: type");
	tap_int(t, info.iommu_group, FAKE_GROUP, "get: group");
	ret = vfiosim_mdev_get(FAKE_UUID_MTTY, &info, err, sizeof(err));
	tap_int(t, ret, -ENODEV, "get: another parent's device");
	tap_has(t, err, "not a vfiosim device", "get: another parent's message");
	ret = vfiosim_mdev_get(UUID_OK, &info, err, sizeof(err));
	tap_int(t, ret, -ENODEV, "get: missing device");
	tap_int(t, vfiosim_mdev_get("zz", &info, err, sizeof(err)), -EINVAL,
		"get: bad uuid");

	ret = vfiosim_mdev_remove(FAKE_UUID_FULL, err, sizeof(err));
	tap_int(t, ret, 0, "remove: ok");
	fakesys_path(fs, "bus/mdev/devices/" FAKE_UUID_FULL "/remove", path,
		     sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, "1", "remove: wrote 1");
	ret = vfiosim_mdev_remove(FAKE_UUID_MTTY, err, sizeof(err));
	tap_int(t, ret, -ENODEV, "remove: refuses another parent's device");
	fakesys_path(fs, "bus/mdev/devices/" FAKE_UUID_MTTY "/remove", path,
		     sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, "", "remove: left the other device alone");
	ret = vfiosim_mdev_remove(UUID_OK, err, sizeof(err));
	tap_int(t, ret, -ENODEV, "remove: missing device");
	tap_has(t, err, "no mdev device " UUID_OK, "remove: missing message");

	unsetenv("VFIOSIM_SYSFS_ROOT");
}

static void test_sysfs_empty(struct tap *t, const struct fakesys *fs)
{
	struct vfiosim_mdev_info devs[2];
	char err[256];
	size_t n = 99;

	setenv("VFIOSIM_SYSFS_ROOT", fs->root, 1);
	tap_int(t, vfiosim_mdev_list(devs, 2, &n, err, sizeof(err)), 0,
		"list: no devices is fine");
	tap_int(t, (long long)n, 0, "list: zero devices");
	unsetenv("VFIOSIM_SYSFS_ROOT");
}

static void test_no_module(struct tap *t, const struct fakesys *fs)
{
	struct vfiosim_type_info types[2];
	struct vfiosim_mdev_info devs[2];
	char err[512], want[PATH_MAX + 64];
	size_t n;

	setenv("VFIOSIM_SYSFS_ROOT", fs->root, 1);
	snprintf(want, sizeof(want),
		 "vfiosim module not loaded: %s/class/mdev_bus/vfiosim not found",
		 fs->root);
	tap_int(t, vfiosim_types_list(types, 2, &n, err, sizeof(err)), -ENODEV,
		"no module: types");
	tap_str(t, err, want, "no module: types message");
	tap_int(t, vfiosim_mdev_create("vfiosim-full", UUID_OK, err,
				       sizeof(err)), -ENODEV,
		"no module: create");
	tap_str(t, err, want, "no module: create message");
	tap_int(t, vfiosim_mdev_remove(UUID_OK, err, sizeof(err)), -ENODEV,
		"no module: remove");
	tap_int(t, vfiosim_mdev_list(devs, 2, &n, err, sizeof(err)), -ENODEV,
		"no module: list");
	tap_str(t, err, want, "no module: list message");
	tap_int(t, vfiosim_mdev_get(UUID_OK, &devs[0], err, sizeof(err)),
		-ENODEV, "no module: get");
	/* A NULL error buffer is allowed. */
	tap_int(t, vfiosim_mdev_get(UUID_OK, &devs[0], NULL, 0), -ENODEV,
		"no module: NULL err buffer");
	unsetenv("VFIOSIM_SYSFS_ROOT");
}

/* Descriptors open now; the library must not leak any. */
static int count_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Published check values of CRC32C (RFC 3720, B.4, and "123456789"). */
static void test_crc32c(struct tap *t)
{
	unsigned char buf[32];

	tap_int(t, vfiosim_crc32c("123456789", 9), 0xe3069283,
		"crc32c of \"123456789\"");
	memset(buf, 0, sizeof(buf));
	tap_int(t, vfiosim_crc32c(buf, sizeof(buf)), 0x8a9136aa,
		"crc32c of 32 zero bytes");
	memset(buf, 0xff, sizeof(buf));
	tap_int(t, vfiosim_crc32c(buf, sizeof(buf)), 0x62a8ab43,
		"crc32c of 32 0xff bytes");
	tap_int(t, vfiosim_crc32c(buf, 0), 0, "crc32c of nothing is 0");
}

int main(void)
{
	struct fakesys full = { "" }, empty = { "" }, nomod = { "" };
	struct tap t = { 0 };
	int fds = count_fds();

	/* A walker or loop that never ends must fail, not hang. */
	alarm(60);
	if (fakesys_create(&full, FAKESYS_FULL) ||
	    fakesys_create(&empty, FAKESYS_NO_DEVICES) ||
	    fakesys_create(&nomod, FAKESYS_NO_MODULE)) {
		tap_ok(&t, false, "fake sysfs trees");
		goto out;
	}
	test_spec(&t);
	test_uuid(&t);
	test_caps(&t);
	test_regions(&t);
	test_crc32c(&t);
	test_sysfs_root(&t);
	test_dev(&t, &full, &nomod);
	test_sysfs(&t, &full);
	test_sysfs_empty(&t, &empty);
	test_no_module(&t, &nomod);
	tap_int(&t, count_fds(), fds, "no file descriptor leaked");
out:
	fakesys_destroy(&full);
	fakesys_destroy(&empty);
	fakesys_destroy(&nomod);
	return tap_done(&t);
}
