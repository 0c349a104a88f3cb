// SPDX-License-Identifier: GPL-2.0
/*
 * Device lifetime against its user: removing an mdev that is still open
 * must ask the user to let go (the REQ interrupt) and wait until it does.
 */
#include <grp.h>
#include <poll.h>
#include <sys/syscall.h>

#include "vfiosim_test.h"

#define REQUEST_TIMEOUT_MS	5000	/* VFIO asks at once, then every 10 s */
#define REMOVE_TIMEOUT_MS	10000

/*
 * Remove the device from a child process rather than a thread: a thread
 * would share our file table, so if this test died while the removal
 * waited for the device fd to close, exit would wait for the thread and
 * the thread for the close - an unkillable pair.  The child keeps no fd.
 */
static pid_t start_remover(const char *uuid)
{
	char err[256];
	pid_t pid;
	int ret;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	if (close_range(3, ~0U, 0)) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	ret = vfiosim_mdev_remove(uuid, err, sizeof(err));
	if (ret)
		fprintf(stderr, "# remover: %s\n", err);
	_exit(ret ? (-ret & 0x7f) : 0);
}

/* 1 once the process behind pidfd has exited, 0 if still running. */
static int exited_within(int pidfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) > 0;
}

TEST_F_TIMEOUT(vfiosim, remove_while_open_requests_release, 90)
{
	int req, pidfd, status;
	pid_t pid;

	req = efd_new();
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfiosim_irq_set_eventfd(self->dev, VFIO_PCI_REQ_IRQ_INDEX,
					     0, req))
		TH_LOG("%s", DEV_ERR(self));

	pid = start_remover(self->uuid);
	ASSERT_LT(0, pid);
	/* From here the child owns the removal, even if we fail. */
	self->remover = pid;
	self->created = false;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);

	/* The device asks its user to release it... */
	EXPECT_LE(1, efd_wait(req, REQUEST_TIMEOUT_MS));
	/* ...and the removal waits for that, */
	EXPECT_EQ(0, exited_within(pidfd, 0));
	/* while the open device keeps working. */
	EXPECT_EQ(VFIOSIM_ID_MAGIC, reg32(self->dev, VFIOSIM_REG_ID));

	vfiosim_dev_free(self->dev);
	self->dev = NULL;

	ASSERT_EQ(1, exited_within(pidfd, REMOVE_TIMEOUT_MS));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->remover = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_FALSE(mdev_exists(self->uuid));
	close(pidfd);
	close(req);
}

TEST_F(vfiosim, remove_after_close)
{
	char err[256] = "";

	EXPECT_TRUE(mdev_exists(self->uuid));
	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	ASSERT_EQ(0, vfiosim_mdev_remove(self->uuid, err, sizeof(err)))
		TH_LOG("%s", err);
	self->created = false;
	EXPECT_FALSE(mdev_exists(self->uuid));
}

/* A device has one user at a time; a second open is refused, not shared. */
TEST_F(vfiosim, second_open_is_busy)
{
	struct vfiosim_dev *other = vfiosim_dev_alloc();
	char spec[128];

	ASSERT_NE(NULL, other);
	snprintf(spec, sizeof(spec), "%s:%s", variant->backend, self->uuid);
	EXPECT_EQ(-EBUSY, vfiosim_dev_open(other, spec))
		TH_LOG("%s", vfiosim_dev_error(other));
	vfiosim_dev_free(other);
	/* and the first user is undisturbed */
	EXPECT_EQ(VFIOSIM_ID_MAGIC, reg32(self->dev, VFIOSIM_REG_ID));
}

/* An unprivileged caller reaches nothing: open fails with EACCES/EPERM. */
TEST_F(vfiosim, unprivileged_open_refused)
{
	char spec[128];
	int status;
	pid_t pid;

	/* release the device so that only privilege stands in the way */
	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	snprintf(spec, sizeof(spec), "%s:%s", variant->backend, self->uuid);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vfiosim_dev *dev;
		int ret;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(100);
		dev = vfiosim_dev_alloc();
		ret = dev ? vfiosim_dev_open(dev, spec) : -ENOMEM;
		if (ret)
			fprintf(stderr, "# as nobody: %s\n",
				vfiosim_dev_error(dev));
		vfiosim_dev_free(dev);
		_exit(ret == -EACCES || ret == -EPERM ? 0 : 101);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
