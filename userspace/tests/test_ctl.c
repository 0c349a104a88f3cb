// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Host tests of vfiosimctl: run the binary (argv[1]) against fake sysfs
 * trees and check its exit status, stdout and stderr.  JSON output is
 * checked by jansson's strict parser as well as by content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakesys.h"
#include <jansson.h>

#include "tap.h"

#define OUT_MAX	16384

struct run {
	int status;		/* exit status, or 128 + signal */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

/* Run ctl with args (NULL terminated) and VFIOSIM_SYSFS_ROOT=root. */
static int run(const char *ctl, const char *root, const char *tmp,
	       struct run *r, const char *const *args)
{
	char out_path[PATH_MAX], err_path[PATH_MAX];
	const char *argv[32];
	int st, i, fd_out, fd_err;
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "%s/stdout", tmp);
	snprintf(err_path, sizeof(err_path), "%s/stderr", tmp);
	argv[0] = ctl;
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd_out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		fd_err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd_out < 0 || fd_err < 0)
			_exit(126);
		dup2(fd_out, 1);
		dup2(fd_err, 2);
		if (root)
			setenv("VFIOSIM_SYSFS_ROOT", root, 1);
		else
			unsetenv("VFIOSIM_SYSFS_ROOT");
		execv(ctl, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fakesys_read(out_path, r->out, sizeof(r->out));
	fakesys_read(err_path, r->err, sizeof(r->err));
	return 0;
}

/* One strict JSON document (RFC 8259, no duplicate keys), as jansson reads it. */
static bool json_valid(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	json_decref(v);
	return v;
}

/* ---- the tests ---- */

struct env {
	const char *ctl;
	const char *tmp;
	struct fakesys full, empty, nomod;
};

#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })

static void check_run(struct tap *t, const struct env *e, const char *root,
		      const char *const *args, int want, struct run *r,
		      const char *name)
{
	if (run(e->ctl, root, e->tmp, r, args)) {
		tap_ok(t, false, "%s: could not run", name);
		return;
	}
	if (!tap_ok(t, r->status == want, "%s: exit %d", name, want))
		printf("#   got exit %d\n#   stdout: %s\n#   stderr: %s\n",
		       r->status, r->out, r->err);
}

static void test_help(struct tap *t, const struct env *e, struct run *r)
{
	const char *const *const cases[] = {
		ARGS("help"), ARGS("--help"), ARGS("-h"), ARGS("help", "dev"),
		ARGS("types", "help"), ARGS("dev", "help"),
		ARGS("dev", "--help"), ARGS("region", "help"),
		ARGS("irq", "--help"), ARGS("monitor", "help"),
		ARGS("help", "monitor"), ARGS("dma", "help"),
		ARGS("help", "dma"), ARGS("fault", "help"),
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "help: %s %s", cases[i][0],
			 cases[i][1] ? cases[i][1] : "");
		check_run(t, e, NULL, cases[i], 0, r, name);
		tap_ok(t, strstr(r->out, "SYNOPSIS") &&
		       strstr(r->out, "EXIT STATUS") &&
		       strstr(r->out, "EXAMPLES") && !r->err[0],
		       "%s: man-page sections on stdout", name);
	}
	check_run(t, e, NULL, ARGS("dev", "help"), 0, r, "help: dev text");
	tap_has(t, r->out, "dev add TYPE [UUID]", "help: dev lists add");
	check_run(t, e, NULL, ARGS("irq", "help"), 0, r, "help: irq text");
	tap_has(t, r->out, "--mode intx|msi|msix", "help: irq lists --mode");
	check_run(t, e, NULL, ARGS("fault", "--help"), 0, r, "help: fault text");
	tap_has(t, r->out, "fault --control PATH UUID [KNOB VALUE]",
		"help: fault lists --control");
	check_run(t, e, NULL, ARGS("help"), 0, r, "help: main text");
	tap_has(t, r->out, "-b, --backend vfio|netlink", "help: lists -b");
	tap_has(t, r->out, "monitor   print device events",
		"help: lists monitor");
	tap_has(t, r->out, "netlink:<uuid>", "help: names netlink:<uuid>");
	check_run(t, e, NULL, ARGS("-b", "netlink", "--help"), 0, r,
		  "help: after -b netlink");
	check_run(t, e, NULL, ARGS("monitor", "--help"), 0, r,
		  "help: monitor text");
	tap_has(t, r->out, "created 8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b vfiosim-full",
		"help: monitor shows an event line");
}

static void test_usage(struct tap *t, const struct env *e, struct run *r)
{
	const struct {
		const char *const *args;
		const char *msg;
	} cases[] = {
		{ ARGS("frob"), "unknown object 'frob'" },
		{ ARGS("-x", "types"), "unknown option '-x'" },
		{ ARGS("--frob"), "unknown option '--frob'" },
		{ ARGS("dev"), "dev: missing command" },
		{ ARGS("dev", "frob"), "dev: unknown command 'frob'" },
		{ ARGS("dev", "show"), "dev show: missing UUID" },
		{ ARGS("dev", "add"), "dev add: missing TYPE" },
		{ ARGS("dev", "del", "a", "b"), "dev del: too many arguments" },
		{ ARGS("types", "frob"), "types: unknown command 'frob'" },
		{ ARGS("region", "read", FAKE_UUID_FULL), "missing arguments" },
		{ ARGS("region", "read", FAKE_UUID_FULL, "bar9", "0"),
		  "unknown region 'bar9'" },
		{ ARGS("region", "read", FAKE_UUID_FULL, "bar0", "zz"),
		  "bad offset 'zz'" },
		{ ARGS("region", "read", FAKE_UUID_FULL, "bar0", "0", "3"),
		  "bad width '3'" },
		{ ARGS("region", "write", FAKE_UUID_FULL, "bar0", "0", "0x100",
		       "1"), "value 0x100 does not fit in 1 byte" },
		{ ARGS("region", "write", FAKE_UUID_FULL, "bar0", "0", "-1"),
		  "bad value '-1'" },
		{ ARGS("irq", FAKE_UUID_FULL, "--mode", "nmi"),
		  "bad mode 'nmi'" },
		{ ARGS("irq", FAKE_UUID_FULL, "--vector=32"),
		  "bad vector '32'" },
		{ ARGS("irq", FAKE_UUID_FULL, "--count", "0"), "bad count '0'" },
		{ ARGS("irq", FAKE_UUID_FULL, "--mode"),
		  "unknown argument '--mode'" },
		{ ARGS("irq"), "irq: missing DEV" },
		{ ARGS("dma"), "dma: missing DEV" },
		{ ARGS("dma", FAKE_UUID_FULL), "missing copy, fill or csum" },
		{ ARGS("dma", FAKE_UUID_FULL, "move"),
		  "unknown operation 'move'" },
		{ ARGS("dma", FAKE_UUID_FULL, "copy", "--len", "0"),
		  "bad length '0' (1..1048576)" },
		{ ARGS("dma", FAKE_UUID_FULL, "copy", "--len=1048577"),
		  "bad length '1048577'" },
		{ ARGS("dma", FAKE_UUID_FULL, "fill", "--pattern", "x"),
		  "bad pattern 'x'" },
		{ ARGS("dma", FAKE_UUID_FULL, "csum", "now"),
		  "dma: unknown argument 'now'" },
		{ ARGS("-b", "unix", "types"), "unknown backend 'unix'" },
		{ ARGS("--backend", "frob", "types"),
		  "unknown backend 'frob' (vfio or netlink)" },
		{ ARGS("--backend"), "--backend needs vfio or netlink" },
		{ ARGS("-b"), "-b needs vfio or netlink" },
		{ ARGS("monitor", "--count", "0"), "bad count '0'" },
		{ ARGS("monitor", "now"), "monitor: unknown argument 'now'" },
	};
	size_t i;

	check_run(t, e, e->full.root, ARGS("-j"), 2, r, "usage: no object");
	tap_has(t, r->err, "missing OBJECT", "usage: no object message");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[128];

		snprintf(name, sizeof(name), "usage: %s", cases[i].msg);
		check_run(t, e, e->full.root, cases[i].args, 2, r, name);
		tap_has(t, r->err, cases[i].msg, "usage: stderr names it");
		tap_has(t, r->err, "Try 'vfiosimctl", "usage: points at help");
	}
}

static void test_failures(struct tap *t, const struct env *e, struct run *r)
{
	check_run(t, e, e->nomod.root, ARGS("types"), 1, r, "fail: no module");
	tap_has(t, r->err, "vfiosimctl: types: vfiosim module not loaded: ",
		"fail: no module message");
	tap_str(t, r->out, "", "fail: nothing on stdout");
	check_run(t, e, e->nomod.root, ARGS("-j", "dev", "list"), 1, r,
		  "fail: no module, json");
	tap_str(t, r->out, "", "fail: no half-written JSON");
	check_run(t, e, e->full.root, ARGS("dev", "show", "nope"), 1, r,
		  "fail: bad uuid");
	tap_has(t, r->err, "dev show: invalid uuid 'nope'",
		"fail: bad uuid message");
	check_run(t, e, e->full.root, ARGS("dev", "show", FAKE_UUID_MTTY), 1,
		  r, "fail: not ours");
	tap_has(t, r->err, "is not a vfiosim device", "fail: not ours message");
	check_run(t, e, e->full.root, ARGS("dev", "add", "vfiosim-huge"), 1,
		  r, "fail: unknown type");
	tap_has(t, r->err, "no vfiosim type 'vfiosim-huge'",
		"fail: unknown type message");
	check_run(t, e, e->full.root,
		  ARGS("region", "read", "netlink:" FAKE_UUID_FULL, "bar0",
		       "0"), 1, r, "fail: netlink");
	tap_str(t, r->err,
		"vfiosimctl: region read: netlink:" FAKE_UUID_FULL
		": vfiosim netlink family not found (module not loaded?)\n",
		"fail: netlink message");
	check_run(t, e, e->full.root,
		  ARGS("-b", "netlink", "region", "read", FAKE_UUID_FULL,
		       "bar0", "0"), 1, r, "fail: -b netlink");
	tap_has(t, r->err, "netlink:" FAKE_UUID_FULL ": vfiosim netlink family",
		"fail: -b netlink opens netlink:<uuid>");
	check_run(t, e, e->full.root,
		  ARGS("--backend=netlink", "irq", FAKE_UUID_FULL), 1, r,
		  "fail: --backend=netlink");
	tap_has(t, r->err, "vfiosimctl: irq: netlink:" FAKE_UUID_FULL,
		"fail: --backend=netlink opens netlink:<uuid>");
	check_run(t, e, e->full.root,
		  ARGS("-jb", "netlink", "region", "read", FAKE_UUID_FULL,
		       "bar0", "0"), 1, r, "fail: -jb netlink");
	tap_has(t, r->err, "netlink:" FAKE_UUID_FULL ": vfiosim netlink family",
		"fail: -jb netlink takes the next word");
	tap_str(t, r->out, "", "fail: -jb netlink prints no JSON");
	check_run(t, e, e->full.root, ARGS("monitor"), 1, r,
		  "fail: monitor without the family");
	tap_str(t, r->err,
		"vfiosimctl: monitor: vfiosim netlink family not found (module not loaded?)\n",
		"fail: monitor message");
	tap_str(t, r->out, "", "fail: monitor prints nothing");
	/* dev list/show fall back to sysfs silently without the family. */
	check_run(t, e, e->full.root, ARGS("dev", "show", FAKE_UUID_FULL), 0,
		  r, "fail: dev show without the family");
	tap_str(t, r->err, "", "fail: dev show says nothing about netlink");
	/* Reaching /dev/vfio needs a host without that group. */
	if (!access("/dev/vfio/98765", F_OK)) {
		tap_skip(t, "fail: bare uuid opens vfio:", "/dev/vfio/98765 exists");
		return;
	}
	check_run(t, e, e->full.root,
		  ARGS("region", "read", FAKE_UUID_FULL, "bar0", "0"), 1, r,
		  "fail: bare uuid means vfio:, no /dev/vfio here");
	tap_has(t, r->err, "vfio:" FAKE_UUID_FULL ": open /dev/vfio/98765",
		"fail: open message names device and file");
	check_run(t, e, e->full.root, ARGS("irq", FAKE_UUID_FULL), 1, r,
		  "fail: irq without /dev/vfio");
	tap_has(t, r->err, "vfiosimctl: irq: vfio:" FAKE_UUID_FULL,
		"fail: irq message");
	check_run(t, e, e->full.root, ARGS("dma", FAKE_UUID_FULL, "copy"), 1,
		  r, "fail: dma without /dev/vfio");
	tap_has(t, r->err, "vfiosimctl: dma: vfio:" FAKE_UUID_FULL,
		"fail: dma message names the device");
}

static void test_json(struct tap *t, const struct env *e, struct run *r)
{
	char path[PATH_MAX], buf[128];

	check_run(t, e, e->full.root, ARGS("-j", "types"), 0, r, "json: types");
	tap_ok(t, json_valid(r->out), "json: types is valid JSON");
	tap_str(t, r->out,
		"{\"types\":[{\"id\":\"vfiosim-full\",\"name\":\"vfiosim full\","
		"\"device_api\":\"vfio-pci\",\"available_instances\":4,"
		"\"description\":\"16 MiB \\\"BAR2\\\"\\t\\\\ 32 vectors\\u0001 "
		"caf\xc3\xa9 \xef\xbf\xbd\"},"
		"{\"id\":\"vfiosim-small\",\"name\":\"vfiosim small\","
		"\"device_api\":\"vfio-pci\",\"available_instances\":16,"
		"\"description\":\"64 KiB BAR2, 4 vectors\"}]}\n",
		"json: types exact, with escapes");

	check_run(t, e, e->full.root, ARGS("-p", "types"), 0, r,
		  "json: pretty types");
	tap_ok(t, json_valid(r->out), "json: pretty is valid JSON");
	tap_has(t, r->out, "{\n  \"types\": [\n    {\n      \"id\": \"vfiosim-full\",",
		"json: pretty indents");
	check_run(t, e, e->full.root, ARGS("-jp", "types"), 0, r,
		  "json: -jp cluster");
	tap_has(t, r->out, "\n  \"types\": [", "json: -jp is pretty");

	check_run(t, e, e->full.root, ARGS("-j", "dev", "list"), 0, r,
		  "json: dev list");
	tap_ok(t, json_valid(r->out), "json: dev list is valid JSON");
	tap_str(t, r->out,
		"{\"devices\":[{\"uuid\":\"" FAKE_UUID_FULL "\","
		"\"type\":\"vfiosim-full\",\"iommu_group\":98765},"
		"{\"uuid\":\"" FAKE_UUID_SMALL "\",\"type\":\"vfiosim-small\","
		"\"iommu_group\":null}]}\n", "json: dev list exact");
	check_run(t, e, e->empty.root, ARGS("-p", "dev", "list"), 0, r,
		  "json: empty dev list");
	tap_str(t, r->out, "{\n  \"devices\": []\n}\n",
		"json: empty list is []");

	check_run(t, e, e->full.root, ARGS("--json", "dev", "show",
		  FAKE_UUID_FULL), 0, r, "json: dev show");
	tap_str(t, r->out, "{\"device\":{\"uuid\":\"" FAKE_UUID_FULL
		"\",\"type\":\"vfiosim-full\",\"iommu_group\":98765}}\n",
		"json: dev show exact");
	tap_ok(t, json_valid(r->out), "json: dev show is valid JSON");

	check_run(t, e, e->full.root, ARGS("-j", "dev", "add", "vfiosim-full",
		  "8D5E4B4E-6C1A-4C8E-9B1A-2F4E6D8C0A1B"), 0, r,
		  "json: dev add");
	tap_str(t, r->out,
		"{\"uuid\":\"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b\","
		"\"type\":\"vfiosim-full\"}\n", "json: dev add exact");
	fakesys_path(&e->full,
		     "class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full/create",
		     path, sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, "8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b",
		"json: dev add wrote create");
}

static void test_text(struct tap *t, const struct env *e, struct run *r)
{
	char path[PATH_MAX], buf[128], uuid[64];
	size_t len;

	check_run(t, e, e->full.root, ARGS("types"), 0, r, "text: types");
	tap_has(t, r->out,
		"vfiosim-small: name vfiosim small device_api vfio-pci available_instances 16\n"
		"    64 KiB BAR2, 4 vectors\n", "text: types lines");
	check_run(t, e, e->full.root, ARGS("dev", "list"), 0, r,
		  "text: dev list");
	tap_str(t, r->out,
		FAKE_UUID_FULL ": type vfiosim-full iommu_group 98765\n"
		FAKE_UUID_SMALL ": type vfiosim-small iommu_group none\n",
		"text: dev list lines");
	tap_lacks(t, r->out, FAKE_UUID_MTTY, "text: dev list leaves out mtty");
	check_run(t, e, e->full.root, ARGS("dev", "show", FAKE_UUID_FULL), 0,
		  r, "text: dev show");
	tap_str(t, r->out,
		FAKE_UUID_FULL ": type vfiosim-full iommu_group 98765\n",
		"text: dev show line");

	check_run(t, e, e->full.root, ARGS("dev", "add", "vfiosim-small"), 0,
		  r, "text: dev add, generated uuid");
	len = strlen(r->out);
	snprintf(uuid, sizeof(uuid), "%.*s", len ? (int)len - 1 : 0, r->out);
	tap_ok(t, len == 37 && r->out[36] == '\n' && uuid[14] == '4',
	       "text: dev add prints a v4 uuid");
	fakesys_path(&e->full,
		     "class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-small/create",
		     path, sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, uuid, "text: dev add wrote that uuid");

	check_run(t, e, e->full.root, ARGS("dev", "del", FAKE_UUID_SMALL), 0,
		  r, "text: dev del");
	tap_str(t, r->out, "", "text: dev del is quiet");
	fakesys_path(&e->full, "bus/mdev/devices/" FAKE_UUID_SMALL "/remove",
		     path, sizeof(path));
	fakesys_read(path, buf, sizeof(buf));
	tap_str(t, buf, "1", "text: dev del wrote remove");
}

/*
 * A one-shot stand-in for vfiosim-userd's --control socket: a child
 * accepts one connection, saves the request line to tmp/request and
 * answers with reply (verbatim; "" closes without a word).
 */
struct fake_ctl {
	char path[PATH_MAX];
	char req_path[PATH_MAX];
	pid_t pid;
};

static void fake_ctl_serve(int lfd, const char *req_path, const char *reply)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd, out;

	if (poll(&pfd, 1, 5000) != 1)
		_exit(3);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(4);
	while (len < sizeof(buf) && !memchr(buf, '\n', len)) {
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out = open(req_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, buf, len) != (ssize_t)len)
		_exit(5);
	close(out);
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
		_exit(6);
	close(fd);
	_exit(0);
}

static int fake_ctl_start(struct fake_ctl *fc, const char *tmp,
			  const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	snprintf(fc->path, sizeof(fc->path), "%s/ctl.sock", tmp);
	snprintf(fc->req_path, sizeof(fc->req_path), "%s/request", tmp);
	unlink(fc->path);
	unlink(fc->req_path);
	if (strlen(fc->path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, fc->path, strlen(fc->path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1))
		goto fail;
	fc->pid = fork();
	if (fc->pid < 0)
		goto fail;
	if (fc->pid == 0)
		fake_ctl_serve(lfd, fc->req_path, reply);
	close(lfd);
	return 0;
fail:
	if (lfd >= 0)
		close(lfd);
	return -1;
}

/* The server's exit status (0: it answered); the request it got in req. */
static int fake_ctl_end(struct fake_ctl *fc, char *req, size_t len)
{
	int st;

	req[0] = '\0';
	if (waitpid(fc->pid, &st, 0) < 0)
		return -1;
	fakesys_read(fc->req_path, req, len);
	unlink(fc->req_path);
	unlink(fc->path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define CTL_UUID	"8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b"
#define CTL_KNOBS							\
	"{\"device\":\"" CTL_UUID "\",\"knobs\":["			\
	"{\"name\":\"delay_reply_ms\",\"value\":6000,\"fired\":2},"	\
	"{\"name\":\"close_mid_message\",\"value\":0,\"fired\":0},"	\
	"{\"name\":\"wrong_msg_id\",\"value\":3,\"fired\":1}]}\n"

/*
 * Run ctl (args, "@" and "--control=@" filled in with the socket) against
 * a fake control socket that answers reply; the request it saw lands in req.
 */
static void ctl_case(struct tap *t, const struct env *e, struct run *r,
		     const char *const *args, const char *reply, int want,
		     char *req, size_t req_len, const char *name)
{
	struct fake_ctl fc;
	char eq[PATH_MAX + 16];
	const char *argv[16];
	int i, st;

	if (fake_ctl_start(&fc, e->tmp, reply)) {
		tap_ok(t, false, "%s: fake control socket: %s", name,
		       strerror(errno));
		return;
	}
	snprintf(eq, sizeof(eq), "--control=%s", fc.path);
	for (i = 0; args[i] && i < 14; i++)
		argv[i] = !strcmp(args[i], "@") ? fc.path :
			  !strcmp(args[i], "--control=@") ? eq : args[i];
	argv[i] = NULL;
	check_run(t, e, NULL, argv, want, r, name);
	st = fake_ctl_end(&fc, req, req_len);
	tap_int(t, st, 0, "fault --control: the fake server was asked once");
}

static void test_fault_control(struct tap *t, const struct env *e,
			       struct run *r)
{
	char req[4096], sock[PATH_MAX];
	json_t *v;
	json_int_t val, fired;
	const char *dev, *kname;
	size_t np = 99;

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID), CTL_KNOBS,
		 0, req, sizeof(req), "fault --control: list");
	tap_str(t, req, "{\"device\":\"" CTL_UUID "\"}\n",
		"fault --control: list request bytes");
	tap_str(t, r->out,
		"knob                     value       fired\n"
		"delay_reply_ms           6000        2\n"
		"close_mid_message        0           0\n"
		"wrong_msg_id             3           1\n",
		"fault --control: list text, the debugfs listing's columns");

	ctl_case(t, e, r, ARGS("-j", "fault", CTL_UUID, "--control=@"),
		 CTL_KNOBS, 0, req, sizeof(req), "fault --control: list -j");
	v = json_loads(r->out, JSON_REJECT_DUPLICATES, NULL);
	tap_ok(t, v && !json_unpack(v, "{s:s, s:[{s:s, s:I, s:I}, *], s:o}",
				     "device", &dev, "knobs", "name", &kname,
				     "value", &val, "fired", &fired, "params",
				     &(json_t *){ NULL }) &&
	       !strcmp(dev, CTL_UUID) && !strcmp(kname, "delay_reply_ms") &&
	       val == 6000 && fired == 2 &&
	       json_array_size(json_object_get(v, "knobs")) == 3 &&
	       json_is_array(json_object_get(v, "params")) &&
	       !(np = json_array_size(json_object_get(v, "params"))),
	       "fault --control: -j is {device, knobs: [{name, value, fired}], params: []}");
	if (np)
		printf("#   stdout: %s\n", r->out);
	json_decref(v);

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID,
			       "delay_reply_ms", "0x1770"), CTL_KNOBS, 0, req,
		 sizeof(req), "fault --control: set");
	tap_str(t, req, "{\"device\":\"" CTL_UUID
		"\",\"knob\":\"delay_reply_ms\",\"value\":6000}\n",
		"fault --control: set request bytes (0x1770 sent as 6000)");
	tap_has(t, r->out, "wrong_msg_id             3           1\n",
		"fault --control: set prints the knobs the daemon answered");

	ctl_case(t, e, r, ARGS("-p", "fault", "--control", "@", CTL_UUID,
			       "wrong_msg_id", "3"), CTL_KNOBS, 0, req,
		 sizeof(req), "fault --control: set -p");
	tap_str(t, req, "{\"device\":\"" CTL_UUID
		"\",\"knob\":\"wrong_msg_id\",\"value\":3}\n",
		"fault --control: set -p request bytes");
	v = json_loads(r->out, JSON_REJECT_DUPLICATES, NULL);
	tap_ok(t, v && json_array_size(json_object_get(v, "knobs")) == 3 &&
	       json_integer_value(json_object_get(json_array_get(
			json_object_get(v, "knobs"), 2), "value")) == 3 &&
	       strchr(r->out, '\n') != strrchr(r->out, '\n'),
	       "fault --control: set -p output is indented JSON");
	json_decref(v);

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID, "frob",
			       "1"),
		 "{\"error\":\"no knob 'frob' (delay_reply_ms, close_mid_message, wrong_msg_id)\",\"errno\":22}\n",
		 1, req, sizeof(req), "fault --control: unknown knob");
	snprintf(sock, sizeof(sock), "vfiosimctl: fault: control socket %s/ctl.sock: device "
		 CTL_UUID " knob frob: no knob 'frob' (delay_reply_ms, close_mid_message, wrong_msg_id) (Invalid argument)\n",
		 e->tmp);
	tap_str(t, r->err, sock,
		"fault --control: unknown knob: socket, device, knob, the daemon's text and errno");
	tap_str(t, r->out, "", "fault --control: unknown knob: no stdout");

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID,
			       "delay_reply_ms", "3600001"),
		 "{\"error\":\"knob delay_reply_ms: value out of range\",\"errno\":34}\n",
		 1, req, sizeof(req), "fault --control: daemon ERANGE");
	tap_has(t, r->err, "knob delay_reply_ms: value out of range (Numerical result out of range)",
		"fault --control: ERANGE reply: text and strerror");

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID),
		 "{\"error\":\"device " CTL_UUID " is not served here\",\"errno\":19}\n",
		 1, req, sizeof(req), "fault --control: daemon ENODEV");
	tap_has(t, r->err, "is not served here (No such device)",
		"fault --control: ENODEV reply named");

	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID),
		 "{\"device\":\"" CTL_UUID "\",\"knobs\":[{\"name\":\"x\"}]}\n",
		 1, req, sizeof(req), "fault --control: reply without counts");
	tap_has(t, r->err, "device " CTL_UUID ": bad reply '",
		"fault --control: a malformed reply is refused");
	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID),
		 "{\"device\":\"" FAKE_UUID_FULL "\",\"knobs\":[]}\n", 1, req,
		 sizeof(req), "fault --control: reply for another device");
	tap_has(t, r->err, ": bad reply '", "fault --control: wrong device refused");
	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID),
		 "knobs?\n", 1, req, sizeof(req), "fault --control: not JSON");
	tap_has(t, r->err, "/ctl.sock: reply is not JSON: ",
		"fault --control: not-JSON reply named");
	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID), "", 1,
		 req, sizeof(req), "fault --control: closed, no reply");
	tap_has(t, r->err, "/ctl.sock: closed without a reply",
		"fault --control: silent close named");
	ctl_case(t, e, r, ARGS("fault", "--control", "@", CTL_UUID),
		 "{\"device\":", 1, req, sizeof(req),
		 "fault --control: closed mid-reply");
	tap_has(t, r->err, "/ctl.sock: closed in the middle of its reply",
		"fault --control: cut reply named");

	snprintf(sock, sizeof(sock), "%s/none.sock", e->tmp);
	check_run(t, e, NULL, ARGS("fault", "--control", sock, CTL_UUID), 1, r,
		  "fault --control: nothing listening");
	tap_has(t, r->err, "none.sock: connect: No such file or directory (is vfiosim-userd running with --control ",
		"fault --control: connect failure names the socket");
	check_run(t, e, NULL, ARGS("fault", "--control", sock, CTL_UUID,
				   "wrong_msg_id", "many"), 2, r,
		  "fault --control: bad value, before any connect");
	tap_has(t, r->err, "device " CTL_UUID " knob wrong_msg_id: bad value 'many' (a number)",
		"fault --control: bad value names device and knob");
	check_run(t, e, NULL, ARGS("fault", "--control", sock, CTL_UUID,
				   "wrong_msg_id", "9223372036854775808"), 2,
		  r, "fault --control: value past int64");
	tap_has(t, r->err, "(at most 9223372036854775807)",
		"fault --control: value past int64 named");
	check_run(t, e, NULL, ARGS("fault", CTL_UUID, "--control"), 2, r,
		  "fault --control without PATH");
	tap_has(t, r->err, "--control needs a PATH", "fault: --control PATH message");
	check_run(t, e, NULL, ARGS("fault", "--control", sock, CTL_UUID,
				   "wrong_msg_id"), 2, r,
		  "fault --control: knob without value");
	tap_has(t, r->err, "missing VALUE for knob 'wrong_msg_id'",
		"fault --control: missing VALUE message");
	check_run(t, e, NULL, ARGS("fault", "--control", sock), 2, r,
		  "fault --control: no UUID");
	tap_has(t, r->err, "fault: missing UUID", "fault --control: missing UUID message");
}

int main(int argc, char **argv)
{
	struct env e = { 0 };
	struct tap t = { 0 };
	char tmp[] = "/tmp/vfiosimctl-test.XXXXXX";
	struct run *r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-VFIOSIMCTL\n", argv[0]);
		return 2;
	}
	/* A walker or loop that never ends must fail, not hang. */
	alarm(60);
	e.ctl = argv[1];
	r = calloc(1, sizeof(*r));
	if (!r || !mkdtemp(tmp) || fakesys_create(&e.full, FAKESYS_FULL) ||
	    fakesys_create(&e.empty, FAKESYS_NO_DEVICES) ||
	    fakesys_create(&e.nomod, FAKESYS_NO_MODULE)) {
		tap_ok(&t, false, "setup");
		goto out;
	}
	e.tmp = tmp;
	test_help(&t, &e, r);
	test_usage(&t, &e, r);
	test_failures(&t, &e, r);
	test_json(&t, &e, r);
	test_text(&t, &e, r);
	test_fault_control(&t, &e, r);
out:
	fakesys_destroy(&e.full);
	fakesys_destroy(&e.empty);
	fakesys_destroy(&e.nomod);
	if (e.tmp) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/stdout", tmp);
		unlink(p);
		snprintf(p, sizeof(p), "%s/stderr", tmp);
		unlink(p);
		rmdir(tmp);
	}
	free(r);
	return tap_done(&t);
}
