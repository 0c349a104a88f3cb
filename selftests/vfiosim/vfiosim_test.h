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
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vfiosim_util.h"

/*
 * The unix backend talks to vfiosim-userd: $VFIOSIM_USERD, else the one
 * built next to these tests (<repo>/userspace/build/asan/vfiosim-userd, as
 * the suite builds it, then <repo>/userspace/build/vfiosim-userd).  True
 * if path names an executable.
 */
static inline bool vfiosim_userd_path(char *path, size_t len)
{
	const char *env = getenv("VFIOSIM_USERD");
	static const char *const builds[] = { "build/asan", "build" };
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int up;
	size_t i;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return !access(path, X_OK);
	}
	/* <repo>/selftests/vfiosim/build/<test>: four levels up. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(path, len, "/proc/self/exe unreadable");
		return false;
	}
	exe[n] = '\0';
	for (up = 0; up < 4; up++) {
		slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	for (i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		if (snprintf(path, len, "%s/userspace/%s/vfiosim-userd", exe,
			     builds[i]) >= (int)len)
			continue;
		if (!access(path, X_OK))
			return true;
	}
	return false;
}

/*
 * Start "userd --socket /tmp/vfiosim-<uuid>.sock --device <uuid>" and wait
 * (10 s at most) for its socket.  Also links /tmp/<uuid> to the socket, so
 * that a test body that reopens "<backend>:<uuid>" (the harness runs tests
 * in /tmp) reaches the same server.  0 or -errno with err set.
 */
static inline int vfiosim_userd_start(const char *uuid, const char *userd,
				      char *sock, size_t socklen,
				      char *alias, size_t aliaslen,
				      pid_t *pid, char *err, size_t errlen)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct stat st;
	int i, status;

	snprintf(sock, socklen, "/tmp/vfiosim-%s.sock", uuid);
	unlink(sock);
	fflush(stdout);
	fflush(stderr);
	*pid = fork();
	if (*pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (!*pid) {
		execl(userd, userd, "--socket", sock, "--device", uuid,
		      (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", userd, strerror(errno));
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		if (!stat(sock, &st) && S_ISSOCK(st.st_mode))
			break;
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			snprintf(err, errlen, "exited (status 0x%x) before its socket %s appeared",
				 status, sock);
			return -ECHILD;
		}
		nanosleep(&tick, NULL);
	}
	if (i == 1000) {
		snprintf(err, errlen, "no socket %s after 10 s", sock);
		return -ETIMEDOUT;
	}
	snprintf(alias, aliaslen, "/tmp/%s", uuid);
	unlink(alias);
	if (symlink(sock, alias) || chdir("/tmp")) {
		snprintf(err, errlen, "link %s to %s: %s", alias, sock,
			 strerror(errno));
		alias[0] = '\0';
		return -errno;
	}
	return 0;
}

/* SIGTERM userd and reap it: its exit status (0 expected), or -1. */
static inline int vfiosim_userd_stop(pid_t *pid, char *alias)
{
	int status, ret = 0;

	if (alias[0])
		unlink(alias);
	alias[0] = '\0';
	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	if (waitpid(*pid, &status, 0) != *pid)
		ret = -1;
	else if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else
		ret = -1;
	if (ret)
		fprintf(stderr, "# vfiosim-userd (pid %d): status 0x%x\n",
			(int)*pid, status);
	*pid = 0;
	return ret;
}

FIXTURE(vfiosim) {
	struct vfiosim_dev *dev;
	const struct vfiosim_model *model;
	char sock[64];		/* unix: vfiosim-userd's socket */
	char alias[64];		/* unix: /tmp/<uuid>, a link to sock */
	char uuid[37];
	bool created;		/* teardown removes the device */
	pid_t remover;		/* or a child process is removing it */
	pid_t userd;		/* unix: the vfiosim-userd serving it */
};

FIXTURE_VARIANT(vfiosim) {
	const char *backend;		/* device-string prefix */
	const struct vfiosim_model *model;
};

FIXTURE_SETUP(vfiosim)
{
	char spec[128], parent[256], userd[PATH_MAX];
	char err[256] = "";
	int ret;

	self->dev = NULL;
	self->created = false;
	self->remover = 0;
	self->userd = 0;
	self->sock[0] = '\0';
	self->alias[0] = '\0';
	self->model = variant->model;

	sysfs_path(parent, sizeof(parent), VFIOSIM_PARENT_SYSFS);
	if (access(parent, F_OK))
		SKIP(return, "vfiosim module not loaded (no %s)", parent);
	if (geteuid() != 0)
		SKIP(return, "creating mdev devices needs root");
	if (!strcmp(variant->backend, "unix") &&
	    !vfiosim_userd_path(userd, sizeof(userd)))
		SKIP(return, "no vfiosim-userd (%.300s): build it with make -C userspace, or set VFIOSIM_USERD",
		     userd);

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
	ret = self->dev ? 0 : -ENOMEM;
	if (!ret && !strcmp(variant->backend, "unix")) {
		ret = vfiosim_userd_start(self->uuid, userd, self->sock,
					  sizeof(self->sock), self->alias,
					  sizeof(self->alias), &self->userd,
					  err, sizeof(err));
		if (ret)
			TH_LOG("start %s: %s", userd, err);
		snprintf(spec, sizeof(spec), "unix:%s", self->sock);
	} else {
		snprintf(spec, sizeof(spec), "%s:%s", variant->backend,
			 self->uuid);
	}
	if (!ret) {
		ret = vfiosim_dev_open(self->dev, spec);
		if (ret)
			TH_LOG("open %s: %s", spec,
			       vfiosim_dev_error(self->dev));
	}
	if (ret) {
		vfiosim_dev_free(self->dev);
		self->dev = NULL;
		vfiosim_userd_stop(&self->userd, self->alias);
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
	/* userd holds the device while it runs: stop it, expect exit 0. */
	if (self->userd > 0)
		EXPECT_EQ(0, vfiosim_userd_stop(&self->userd, self->alias))
			TH_LOG("vfiosim-userd for %s did not exit cleanly",
			       self->uuid);
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
/* vfio-user over a UNIX socket to vfiosim-userd, opened as "unix:<path>" */
VFIOSIM_BACKEND(unix);

/* Log libvfiosim's message for the last failed op on the device. */
#define DEV_ERR(self) vfiosim_dev_error((self)->dev)

#endif /* VFIOSIM_TEST_H */
