/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture every vfiosim C test uses: one fresh device per test, opened
 * through one backend.  Include this once per test program (it pulls in
 * the kselftest harness, which defines functions).
 *
 * Variants are backend x mdev type.  Adding a backend is one line at the
 * bottom: VFIOSIM_BACKEND(<device-string prefix>).
 */
#ifndef VFIOSIM_TEST_H
#define VFIOSIM_TEST_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vfiosim_util.h"

FIXTURE(vfiosim) {
	struct vfiosim_dev *dev;
	const struct vfiosim_model *model;
	char uuid[37];
	bool created;		/* teardown removes the device */
	pid_t remover;		/* or a child process is removing it */
};

FIXTURE_VARIANT(vfiosim) {
	const char *backend;		/* device-string prefix */
	const struct vfiosim_model *model;
};

FIXTURE_SETUP(vfiosim)
{
	char spec[128], parent[256];
	char err[256] = "";
	int ret;

	self->dev = NULL;
	self->created = false;
	self->remover = 0;
	self->model = variant->model;

	sysfs_path(parent, sizeof(parent), VFIOSIM_PARENT_SYSFS);
	if (access(parent, F_OK))
		SKIP(return, "vfiosim module not loaded (no %s)", parent);
	if (geteuid() != 0)
		SKIP(return, "creating mdev devices needs root");

	ASSERT_EQ(0, vfiosim_uuid_generate(self->uuid));
	ret = vfiosim_mdev_create(variant->model->type, self->uuid, err,
				  sizeof(err));
	ASSERT_EQ(0, ret) TH_LOG("create %s %s: %s", variant->model->type,
				 self->uuid, err);
	self->created = true;

	/*
	 * The teardown only runs once setup has completed, so a failure
	 * from here on must undo the create itself.
	 */
	self->dev = vfiosim_dev_alloc();
	snprintf(spec, sizeof(spec), "%s:%s", variant->backend, self->uuid);
	ret = self->dev ? vfiosim_dev_open(self->dev, spec) : -ENOMEM;
	if (ret) {
		TH_LOG("open %s: %s", spec,
		       self->dev ? vfiosim_dev_error(self->dev) : "no memory");
		vfiosim_dev_free(self->dev);
		self->dev = NULL;
		vfiosim_mdev_remove(self->uuid, err, sizeof(err));
		self->created = false;
	}
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(vfiosim)
{
	char err[256] = "";

	if (self->dev)
		vfiosim_dev_free(self->dev);
	self->dev = NULL;
	/* A remover child finishes once the device is closed. */
	if (self->remover > 0)
		waitpid(self->remover, NULL, 0);
	self->remover = 0;
	if (self->created) {
		EXPECT_EQ(0, vfiosim_mdev_remove(self->uuid, err, sizeof(err)))
			TH_LOG("remove %s: %s", self->uuid, err);
	}
	self->created = false;
}

/*
 * One line per backend: a variant for each mdev type, opened as
 * "<prefix>:<uuid>".  The argument is only stringified and pasted, so even
 * a name that is a predefined macro (unix) is safe here.
 */
#define VFIOSIM_BACKEND(prefix)						\
	FIXTURE_VARIANT_ADD(vfiosim, prefix##_small) {			\
		.backend = #prefix,					\
		.model = &vfiosim_small_model,				\
	};								\
	FIXTURE_VARIANT_ADD(vfiosim, prefix##_full) {			\
		.backend = #prefix,					\
		.model = &vfiosim_full_model,				\
	}

VFIOSIM_BACKEND(vfio);
VFIOSIM_BACKEND(netlink);

/* Log libvfiosim's message for the last failed op on the device. */
#define DEV_ERR(self) vfiosim_dev_error((self)->dev)

#endif /* VFIOSIM_TEST_H */
