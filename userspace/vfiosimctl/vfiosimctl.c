// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vfiosimctl: manage vfiosim devices and poke at them, in the style of
 * iproute2/devlink: vfiosimctl [OPTIONS] OBJECT COMMAND [ARGS].
 *
 * Exit status: 0 success, 1 the operation failed, 2 bad command line.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "vfiosim.h"
#include "jw.h"

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_TYPES	16
#define MAX_DEVS	256
#define MAX_RINGS	100000
#define IRQ_TIMEOUT_MS	1000

/* ------------------------------------------------------------------ */
/* Help.                                                               */

static const char help_main[] =
"NAME\n"
"    vfiosimctl - manage and exercise vfiosim synthetic VFIO devices\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [OPTIONS] OBJECT COMMAND [ARGS]\n"
"    vfiosimctl [OPTIONS] OBJECT help\n"
"\n"
"    OBJECT := { types | dev | region | irq | dma | mig | monitor | fault | trace | help }\n"
"    OPTIONS := { -j | --json } | { -p | --pretty } |\n"
"               { -b | --backend } { vfio | netlink } | { -h | --help }\n"
"\n"
"DESCRIPTION\n"
"    vfiosimctl creates and removes vfiosim mediated devices through the\n"
"    mdev sysfs interface and drives them through libvfiosim: it reads\n"
"    and writes device regions and measures interrupt latency.  The\n"
"    vfiosim module must be loaded.\n"
"\n"
"    A device string DEV is vfio:<uuid> (the VFIO uapi), netlink:<uuid>\n"
"    (vfio-user over the vfiosim generic netlink family), or a bare\n"
"    <uuid> meaning <backend>:<uuid> with the backend of -b (default\n"
"    vfio), or unix:<path> (vfio-user over a UNIX socket served by\n"
"    vfiosim-userd).\n"
"\n"
"OBJECTS\n"
"    types     the device types (personalities) the module offers\n"
"    dev       create, remove, list and show devices\n"
"    region    read and write device regions (BARs, config space)\n"
"    irq       ring the doorbell and time the interrupt\n"
"    dma       run one DMA engine transfer into this process's memory\n"
"    mig       save a device's state and resume it on another (migration)\n"
"    monitor   print device events (created, removed, opened, ...)\n"
"    fault     read and set a device's fault injection knobs (debugfs,\n"
"              or vfiosim-userd's with --control PATH)\n"
"    trace     stream a device's tracepoints (accesses, irqs, ...)\n"
"    Run 'vfiosimctl OBJECT help' for the commands of each.\n"
"\n"
"OPTIONS\n"
"    -j, --json     print JSON instead of text\n"
"    -p, --pretty   print indented JSON (implies -j)\n"
"    -b, --backend vfio|netlink\n"
"                   how a bare uuid DEV is opened (default vfio)\n"
"    -h, --help     print this help\n"
"\n"
"ENVIRONMENT\n"
"    VFIOSIM_SYSFS_ROOT   where sysfs is mounted (default /sys)\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl types\n"
"    vfiosimctl dev add vfiosim-full\n"
"    vfiosimctl -j dev list\n"
"    vfiosimctl region read 8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b bar0 0\n"
"    vfiosimctl irq vfio:8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b --mode msix\n"
"    vfiosimctl -b netlink region read 8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b bar0 0\n"
"    vfiosimctl -j monitor\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  the operation failed (device, sysfs or kernel error)\n"
"    2  the command line could not be understood\n";

static const char help_types[] =
"NAME\n"
"    vfiosimctl types - list the vfiosim device types\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] types [show]\n"
"\n"
"DESCRIPTION\n"
"    Lists each type under\n"
"    /sys/class/mdev_bus/vfiosim/mdev_supported_types: its id (what\n"
"    'dev add' takes), name, device API, how many more instances can be\n"
"    created, and description.\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl types\n"
"    vfiosimctl -p types\n"
"\n"
"EXIT STATUS\n"
"    0 success, 1 the module is not loaded or sysfs could not be read,\n"
"    2 bad command line.\n";

static const char help_dev[] =
"NAME\n"
"    vfiosimctl dev - create, remove, list and show vfiosim devices\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] dev list\n"
"    vfiosimctl [-j] [-p] dev show UUID\n"
"    vfiosimctl [-j] [-p] dev add TYPE [UUID]\n"
"    vfiosimctl dev del UUID\n"
"\n"
"DESCRIPTION\n"
"    Devices are mediated devices (mdevs) whose parent is vfiosim.\n"
"    list and show read sysfs and, when the vfiosim generic netlink\n"
"    family answers (module loaded, CAP_SYS_ADMIN), add its DEV_GET\n"
"    data: the owner (none, vfio or netlink, with the owning netlink\n"
"    port) and the counters (region reads and writes, interrupts\n"
"    signalled, resets) since the device was created.  Without it they\n"
"    show the sysfs data only.\n"
"\n"
"COMMANDS\n"
"    list            list every vfiosim device: uuid, type, IOMMU group\n"
"                    (devices of other mdev parents are left out)\n"
"    show UUID       show one device\n"
"    add TYPE [UUID] create a device of TYPE (see 'vfiosimctl types'),\n"
"                    with UUID or a fresh random one; prints the uuid\n"
"    del UUID        remove a device; it must not be in use\n"
"\n"
"EXAMPLES\n"
"    uuid=$(vfiosimctl dev add vfiosim-small)\n"
"    vfiosimctl dev show $uuid\n"
"    vfiosimctl dev del $uuid\n"
"\n"
"EXIT STATUS\n"
"    0 success, 1 the operation failed (no such device or type, bad\n"
"    uuid, module not loaded, kernel refused), 2 bad command line.\n";

static const char help_region[] =
"NAME\n"
"    vfiosimctl region - read and write vfiosim device regions\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] region read DEV REGION OFFSET [WIDTH]\n"
"    vfiosimctl region write DEV REGION OFFSET VALUE [WIDTH]\n"
"\n"
"DESCRIPTION\n"
"    Accesses a region through the device's VFIO file descriptor, as a\n"
"    VMM would, or with vfio-user messages over netlink (netlink:<uuid>\n"
"    or -b netlink).  The kernel checks bounds and alignment; its answer\n"
"    is reported as is.  Values are little endian, as on PCI.\n"
"\n"
"    DEV      vfio:<uuid>, netlink:<uuid> or a bare uuid (see -b)\n"
"    REGION   a VFIO region index, or bar0..bar5, rom, config, vga\n"
"    OFFSET   byte offset within the region (decimal, 0x hex, 0 octal)\n"
"    VALUE    the value to write; must fit in WIDTH bytes\n"
"    WIDTH    1, 2, 4 or 8 bytes; default 4\n"
"\n"
"COMMANDS\n"
"    read     print the value at OFFSET in hex\n"
"    write    write VALUE at OFFSET; prints nothing\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl region read $uuid bar0 0          # ID register\n"
"    vfiosimctl region write $uuid bar0 0x10 0xcafe\n"
"    vfiosimctl region read $uuid config 0 2      # vendor id\n"
"    vfiosimctl -b netlink region read $uuid bar0 0\n"
"\n"
"EXIT STATUS\n"
"    0 success, 1 the device could not be opened or the access failed,\n"
"    2 bad command line.\n";

static const char help_irq[] =
"NAME\n"
"    vfiosimctl irq - ring the doorbell and time the interrupt\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] irq DEV [--mode intx|msi|msix] [--vector N]\n"
"                                 [--count K]\n"
"\n"
"DESCRIPTION\n"
"    Sets an eventfd trigger on the vector, then K times writes N to the\n"
"    BAR0 DOORBELL register and waits (up to 1 s) for the eventfd.  Each\n"
"    latency, from before the doorbell write to the eventfd becoming\n"
"    readable, is printed in nanoseconds, followed by the median.  After\n"
"    each ring IRQ_STATUS bit N is cleared and, for INTx, the line is\n"
"    unmasked with VFIO_IRQ_SET_ACTION_UNMASK.  The trigger is removed\n"
"    on exit.  For INTx the trigger is the single INTx vector and N only\n"
"    picks the doorbell bit.\n"
"\n"
"OPTIONS\n"
"    --mode M     intx, msi (default) or msix\n"
"    --vector N   vector / doorbell bit, 0..31; default 0\n"
"    --count K    number of rings, 1..100000; default 1\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl irq $uuid\n"
"    vfiosimctl -j irq $uuid --mode msix --vector 3 --count 1000\n"
"    vfiosimctl irq netlink:$uuid --mode intx\n"
"\n"
"EXIT STATUS\n"
"    0 every ring was delivered, 1 the device failed or an interrupt\n"
"    did not arrive within 1 s, 2 bad command line.\n";

static const char help_mig[] =
"NAME\n"
"    vfiosimctl mig - save a device and resume it on another\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] mig SRC DST [--scratch VAL] [--text STR]\n"
"\n"
"DESCRIPTION\n"
"    Opens both devices (of one type; either backend), writes VAL to\n"
"    SRC's SCRATCH0 register and STR at the start of its BAR2, then\n"
"    migrates SRC as a VMM does with VFIO migration v2: STOP_COPY, reads\n"
"    the whole stream, STOP; DST goes to RESUMING, takes the stream, and\n"
"    to RUNNING.  Prints the stream's size and header, then what DST's\n"
"    SCRATCH0 and BAR2 hold.  Both devices are reset when the command\n"
"    closes them, as at every close.\n"
"\n"
"OPTIONS\n"
"    --scratch VAL  default 0xc0ffee00\n"
"    --text STR     at most 64 bytes; default \"hello from the source\"\n"
"\n"
"EXIT STATUS\n"
"    0 DST holds what SRC held, 1 migration failed or DST differs,\n"
"    2 bad command line.\n";

static const char help_monitor[] =
"NAME\n"
"    vfiosimctl monitor - print vfiosim device events as they happen\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] monitor [--count N]\n"
"\n"
"DESCRIPTION\n"
"    Joins the \"events\" multicast group of the vfiosim generic netlink\n"
"    family and prints one line per event until SIGINT or SIGTERM (or N\n"
"    events): the event (created, removed, opened, closed, reset), the\n"
"    device uuid and, when the kernel reports it, the device type, e.g.\n"
"\n"
"        created 8d5e4b4e-6c1a-4c8e-9b1a-2f4e6d8c0a1b vfiosim-full\n"
"\n"
"    With -j each line is one JSON object:\n"
"    {\"event\":\"created\",\"uuid\":\"...\",\"type\":\"vfiosim-full\"}.\n"
"    Output is flushed after every event.  If the kernel drops events\n"
"    because the reader is too slow, a warning goes to stderr and the\n"
"    monitor goes on.  Needs the module loaded and CAP_SYS_ADMIN.\n"
"\n"
"OPTIONS\n"
"    --count N    exit after N events (1..100000)\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl monitor\n"
"    vfiosimctl -j monitor --count 2 > events.json &\n"
"\n"
"EXIT STATUS\n"
"    0 stopped by a signal or after N events, 1 the family is missing\n"
"    or the socket failed, 2 bad command line.\n";

static const char help_dma[] =
"NAME\n"
"    vfiosimctl dma - run one transfer on the device's DMA engine\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] [-p] dma DEV copy|fill|csum [--len N] [--pattern P]\n"
"\n"
"DESCRIPTION\n"
"    Maps a buffer of this process (a memfd, so that every backend can\n"
"    reach it: VFIO by address, vfio-user by the file) for DMA at IOVA\n"
"    0x100000000, source in its first half and destination in its\n"
"    second, fills the source with a known pattern, programs the BAR0\n"
"    DMA registers and writes GO, then waits (up to 1 s) for the\n"
"    completion interrupt, MSI-X vector 0.  It prints the final DMA\n"
"    status, the bytes moved, the time from GO to the interrupt, and\n"
"    checks the result on the CPU: copy, the destination equals the\n"
"    source; fill, the destination holds the pattern; csum, DMA_RESULT\n"
"    equals the CRC32C of the source.\n"
"\n"
"OPTIONS\n"
"    --len N      bytes, 1..1048576; default 4096\n"
"    --pattern P  fill's 64-bit pattern; default 0x0123456789abcdef\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl dma $uuid copy --len 65536\n"
"    vfiosimctl -j dma netlink:$uuid csum\n"
"\n"
"EXIT STATUS\n"
"    0 the transfer ended DONE and the result checked, 1 it did not,\n"
"    2 bad command line.\n";

/* ------------------------------------------------------------------ */
/* Common plumbing.                                                    */

struct ctl {
	bool json;
	struct jw jw;
	const char *backend;	/* for a bare uuid DEV */
};

__attribute__((format(printf, 2, 3)))
static int fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vfiosimctl: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

__attribute__((format(printf, 3, 4)))
static int usage(const char *object, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vfiosimctl: %s%s", what ? what : "", what ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vfiosimctl %s%shelp'.\n", object ? object : "",
		object ? " " : "");
	return EXIT_USAGE;
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "-h") ||
	       !strcmp(arg, "--help");
}

static int print_help(const char *text)
{
	fputs(text, stdout);
	return EXIT_OK;
}

/* Whole-string unsigned number, decimal, 0x hex or 0 octal. */
static bool parse_u64(const char *s, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*val = v;
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* DEV as given, or <backend>:DEV when it names no backend. */
static void dev_spec(const struct ctl *ctl, const char *arg, char *spec,
		     size_t len)
{
	if (strchr(arg, ':'))
		snprintf(spec, len, "%s", arg);
	else
		snprintf(spec, len, "%s:%s", ctl->backend, arg);
}

static struct vfiosim_dev *open_dev(const struct ctl *ctl, const char *what,
				    const char *arg, int *ret)
{
	struct vfiosim_dev *dev;
	char spec[512];
	int err;

	dev_spec(ctl, arg, spec, sizeof(spec));
	dev = vfiosim_dev_alloc();
	if (!dev) {
		*ret = fail(what, "out of memory");
		return NULL;
	}
	err = vfiosim_dev_open(dev, spec);
	if (err) {
		*ret = fail(what, "%s", vfiosim_dev_error(dev));
		vfiosim_dev_free(dev);
		return NULL;
	}
	return dev;
}

/* ------------------------------------------------------------------ */
/* types                                                               */

static int cmd_types(struct ctl *ctl, int argc, char **argv)
{
	struct vfiosim_type_info types[MAX_TYPES];
	char err[512];
	size_t n, i;

	if (argc > 0 && is_help(argv[0]))
		return print_help(help_types);
	if (argc > 0 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))
		return usage("types", "types", "unknown command '%s'", argv[0]);
	if (argc > 1)
		return usage("types", "types", "unexpected argument '%s'",
			     argv[1]);
	if (vfiosim_types_list(types, ARRAY_SIZE(types), &n, err, sizeof(err)))
		return fail("types", "%s", err);

	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_arr_open(&ctl->jw, "types");
		for (i = 0; i < n; i++) {
			jw_obj_open(&ctl->jw, NULL);
			jw_str(&ctl->jw, "id", types[i].id);
			jw_str(&ctl->jw, "name", types[i].name);
			jw_str(&ctl->jw, "device_api", types[i].device_api);
			jw_u64(&ctl->jw, "available_instances",
			       types[i].available);
			jw_str(&ctl->jw, "description", types[i].description);
			jw_obj_close(&ctl->jw);
		}
		jw_arr_close(&ctl->jw);
		jw_obj_close(&ctl->jw);
		return EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		printf("%s: name %s device_api %s available_instances %u\n",
		       types[i].id, types[i].name[0] ? types[i].name : "-",
		       types[i].device_api, types[i].available);
		if (types[i].description[0])
			printf("    %s\n", types[i].description);
	}
	return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* dev                                                                 */

/* The netlink family's view of a device, when it answered. */
static void print_nl(struct ctl *ctl, const struct vfiosim_nl_dev_info *nl)
{
	if (ctl->json) {
		jw_str(&ctl->jw, "owner", vfiosim_nl_owner_name(nl->owner));
		if (nl->owner == VFIOSIM_OWNER_NETLINK)
			jw_u64(&ctl->jw, "owner_portid", nl->owner_portid);
		if (nl->has_counters) {
			jw_obj_open(&ctl->jw, "counters");
			jw_u64(&ctl->jw, "region_reads", nl->region_reads);
			jw_u64(&ctl->jw, "region_writes", nl->region_writes);
			jw_u64(&ctl->jw, "irqs", nl->irqs);
			jw_u64(&ctl->jw, "resets", nl->resets);
			jw_obj_close(&ctl->jw);
		}
		return;
	}
	printf(" owner %s", vfiosim_nl_owner_name(nl->owner));
	if (nl->owner == VFIOSIM_OWNER_NETLINK)
		printf(" portid %u", nl->owner_portid);
	if (nl->has_counters)
		printf(" reads %llu writes %llu irqs %llu resets %llu",
		       (unsigned long long)nl->region_reads,
		       (unsigned long long)nl->region_writes,
		       (unsigned long long)nl->irqs,
		       (unsigned long long)nl->resets);
}

/* One device; nl is NULL when the netlink family did not answer. */
static void print_mdev(struct ctl *ctl, const struct vfiosim_mdev_info *d,
		       const struct vfiosim_nl_dev_info *nl)
{
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "uuid", d->uuid);
		jw_str(&ctl->jw, "type", d->type);
		if (d->iommu_group >= 0)
			jw_u64(&ctl->jw, "iommu_group",
			       (uint64_t)d->iommu_group);
		else
			jw_null(&ctl->jw, "iommu_group");
		if (nl)
			print_nl(ctl, nl);
		jw_obj_close(&ctl->jw);
		return;
	}
	printf("%s: type %s iommu_group ", d->uuid, d->type);
	if (d->iommu_group >= 0)
		printf("%d", d->iommu_group);
	else
		printf("none");
	if (nl)
		print_nl(ctl, nl);
	putchar('\n');
}

/*
 * Netlink data is extra: without the family (module not loaded) there is
 * none, silently; any other failure (no CAP_SYS_ADMIN, ...) is said on
 * stderr and the sysfs data is shown anyway.
 */
static void nl_warn(const char *what, int ret, const char *err)
{
	if (ret != -ENOENT)
		fprintf(stderr, "vfiosimctl: %s: netlink: %s (showing sysfs data only)\n",
			what, err);
}

static const struct vfiosim_nl_dev_info *
nl_find(const struct vfiosim_nl_dev_info *nl, size_t n, const char *uuid)
{
	size_t i;

	for (i = 0; nl && i < n; i++)
		if (!strcmp(nl[i].uuid, uuid))
			return &nl[i];
	return NULL;
}

static int dev_list(struct ctl *ctl, int argc, char **argv)
{
	struct vfiosim_nl_dev_info *nl;
	struct vfiosim_mdev_info *devs;
	char err[512];
	size_t n, i, nn = 0;
	int ret = EXIT_OK, r;

	if (argc > 0)
		return usage("dev", "dev list", "unexpected argument '%s'",
			     argv[0]);
	devs = calloc(MAX_DEVS, sizeof(*devs));
	nl = calloc(MAX_DEVS, sizeof(*nl));
	if (!devs || !nl) {
		ret = fail("dev list", "out of memory");
		goto out;
	}
	if (vfiosim_mdev_list(devs, MAX_DEVS, &n, err, sizeof(err))) {
		ret = fail("dev list", "%s", err);
		goto out;
	}
	r = vfiosim_nl_dev_list(nl, MAX_DEVS, &nn, err, sizeof(err));
	if (r == -ENOSPC) {
		nn = MAX_DEVS;
	} else if (r) {
		nl_warn("dev list", r, err);
		nn = 0;
	}
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_arr_open(&ctl->jw, "devices");
	}
	for (i = 0; i < n; i++)
		print_mdev(ctl, &devs[i], nl_find(nl, nn, devs[i].uuid));
	if (ctl->json) {
		jw_arr_close(&ctl->jw);
		jw_obj_close(&ctl->jw);
	}
out:
	free(nl);
	free(devs);
	return ret;
}

static int dev_show(struct ctl *ctl, int argc, char **argv)
{
	struct vfiosim_nl_dev_info nl;
	struct vfiosim_mdev_info info;
	char err[512];
	int r;

	if (argc != 1)
		return usage("dev", "dev show", argc ? "too many arguments" :
			     "missing UUID");
	if (vfiosim_mdev_get(argv[0], &info, err, sizeof(err)))
		return fail("dev show", "%s", err);
	r = vfiosim_nl_dev_get(info.uuid, &nl, err, sizeof(err));
	if (r)
		nl_warn("dev show", r, err);
	if (ctl->json) {
		/* {"device": {...}}: one key, like list's "devices". */
		jw_obj_open(&ctl->jw, NULL);
		jw_obj_open(&ctl->jw, "device");
		jw_str(&ctl->jw, "uuid", info.uuid);
		jw_str(&ctl->jw, "type", info.type);
		if (info.iommu_group >= 0)
			jw_u64(&ctl->jw, "iommu_group",
			       (uint64_t)info.iommu_group);
		else
			jw_null(&ctl->jw, "iommu_group");
		if (!r)
			print_nl(ctl, &nl);
		jw_obj_close(&ctl->jw);
		jw_obj_close(&ctl->jw);
		return EXIT_OK;
	}
	print_mdev(ctl, &info, r ? NULL : &nl);
	return EXIT_OK;
}

static int dev_add(struct ctl *ctl, int argc, char **argv)
{
	char uuid[64], err[512];
	int ret;

	if (argc < 1 || argc > 2)
		return usage("dev", "dev add", argc ? "too many arguments" :
			     "missing TYPE");
	if (argc == 2) {
		snprintf(uuid, sizeof(uuid), "%s", argv[1]);
		lower(uuid);
	} else {
		ret = vfiosim_uuid_generate(uuid);
		if (ret)
			return fail("dev add", "generating a uuid: %s",
				    strerror(-ret));
	}
	if (vfiosim_mdev_create(argv[0], argc == 2 ? argv[1] : uuid, err,
				sizeof(err)))
		return fail("dev add", "%s", err);
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "uuid", uuid);
		jw_str(&ctl->jw, "type", argv[0]);
		jw_obj_close(&ctl->jw);
	} else {
		printf("%s\n", uuid);
	}
	return EXIT_OK;
}

static int dev_del(struct ctl *ctl, int argc, char **argv)
{
	char err[512];

	(void)ctl;
	if (argc != 1)
		return usage("dev", "dev del", argc ? "too many arguments" :
			     "missing UUID");
	if (vfiosim_mdev_remove(argv[0], err, sizeof(err)))
		return fail("dev del", "%s", err);
	return EXIT_OK;
}

static int cmd_dev(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 1)
		return usage("dev", "dev", "missing command");
	if (is_help(argv[0]))
		return print_help(help_dev);
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls"))
		return dev_list(ctl, argc - 1, argv + 1);
	if (!strcmp(argv[0], "show"))
		return dev_show(ctl, argc - 1, argv + 1);
	if (!strcmp(argv[0], "add"))
		return dev_add(ctl, argc - 1, argv + 1);
	if (!strcmp(argv[0], "del"))
		return dev_del(ctl, argc - 1, argv + 1);
	return usage("dev", "dev", "unknown command '%s'", argv[0]);
}

/* ------------------------------------------------------------------ */
/* region                                                              */

static const char *const region_names[] = {
	"bar0", "bar1", "bar2", "bar3", "bar4", "bar5", "rom", "config", "vga",
};

static bool parse_region(const char *s, uint32_t *index)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(region_names); i++) {
		if (!strcasecmp(s, region_names[i])) {
			*index = (uint32_t)i;
			return true;
		}
	}
	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*index = (uint32_t)v;
	return true;
}

static const char *region_label(uint32_t index)
{
	return index < ARRAY_SIZE(region_names) ? region_names[index] : "";
}

static bool parse_width(const char *s, size_t *width)
{
	uint64_t v;

	if (!parse_u64(s, &v) || (v != 1 && v != 2 && v != 4 && v != 8))
		return false;
	*width = (size_t)v;
	return true;
}

static int region_rw(struct ctl *ctl, bool write, int argc, char **argv)
{
	const char *what = write ? "region write" : "region read";
	int nargs = write ? 4 : 3;
	unsigned char buf[8];
	struct vfiosim_dev *dev;
	uint64_t offset, value = 0;
	uint32_t index;
	size_t width = 4, i;
	ssize_t n;
	int ret = EXIT_OK;

	if (argc < nargs || argc > nargs + 1)
		return usage("region", what, argc < nargs ?
			     "missing arguments" : "too many arguments");
	if (!parse_region(argv[1], &index))
		return usage("region", what,
			     "unknown region '%s' (an index, or bar0..bar5, rom, config, vga)",
			     argv[1]);
	if (!parse_u64(argv[2], &offset))
		return usage("region", what, "bad offset '%s'", argv[2]);
	if (argc > nargs && !parse_width(argv[nargs], &width))
		return usage("region", what, "bad width '%s' (1, 2, 4 or 8)",
			     argv[nargs]);
	if (write) {
		if (!parse_u64(argv[3], &value))
			return usage("region", what, "bad value '%s'", argv[3]);
		if (width < 8 && value >> (8 * width))
			return usage("region", what,
				     "value %s does not fit in %zu byte%s",
				     argv[3], width, width > 1 ? "s" : "");
	}

	dev = open_dev(ctl, what, argv[0], &ret);
	if (!dev)
		return ret;
	if (write) {
		for (i = 0; i < width; i++)
			buf[i] = (unsigned char)(value >> (8 * i));
		n = vfiosim_region_write(dev, index, offset, buf, width);
	} else {
		n = vfiosim_region_read(dev, index, offset, buf, width);
	}
	if (n < 0) {
		ret = fail(what, "%s", vfiosim_dev_error(dev));
		goto out;
	}
	if ((size_t)n != width) {
		ret = fail(what, "%s: region %u offset 0x%llx: short access, %zd of %zu bytes",
			   argv[0], index, (unsigned long long)offset, n,
			   width);
		goto out;
	}
	if (write)
		goto out;

	for (i = width; i > 0; i--)
		value = value << 8 | buf[i - 1];
	if (ctl->json) {
		char hex[24];

		snprintf(hex, sizeof(hex), "0x%0*llx", (int)(2 * width),
			 (unsigned long long)value);
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "dev", argv[0]);
		jw_u64(&ctl->jw, "region", index);
		jw_str(&ctl->jw, "region_name", region_label(index));
		jw_u64(&ctl->jw, "offset", offset);
		jw_u64(&ctl->jw, "width", width);
		jw_u64(&ctl->jw, "value", value);
		jw_str(&ctl->jw, "hex", hex);
		jw_obj_close(&ctl->jw);
	} else {
		printf("0x%0*llx\n", (int)(2 * width),
		       (unsigned long long)value);
	}
out:
	vfiosim_dev_free(dev);
	return ret;
}

static int cmd_region(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 1)
		return usage("region", "region", "missing command");
	if (is_help(argv[0]))
		return print_help(help_region);
	if (!strcmp(argv[0], "read"))
		return region_rw(ctl, false, argc - 1, argv + 1);
	if (!strcmp(argv[0], "write"))
		return region_rw(ctl, true, argc - 1, argv + 1);
	return usage("region", "region", "unknown command '%s'", argv[0]);
}

/* ------------------------------------------------------------------ */
/* irq                                                                 */

static const struct {
	const char *name;
	uint32_t index;
} irq_modes[] = {
	{ "intx", VFIO_PCI_INTX_IRQ_INDEX },
	{ "msi", VFIO_PCI_MSI_IRQ_INDEX },
	{ "msix", VFIO_PCI_MSIX_IRQ_INDEX },
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(const uint64_t *v, size_t n)
{
	uint64_t *s = malloc(n * sizeof(*s));
	uint64_t m;

	if (!s)
		return v[n / 2];
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	m = n % 2 ? s[n / 2] : s[n / 2 - 1] + (s[n / 2] - s[n / 2 - 1]) / 2;
	free(s);
	return m;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Option value from "--opt V" or "--opt=V". */
static const char *opt_value(const char *opt, int *i, int argc, char **argv)
{
	size_t len = strlen(opt);

	if (strncmp(argv[*i], opt, len))
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int irq_unmask_intx(struct vfiosim_dev *dev)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		.index = VFIO_PCI_INTX_IRQ_INDEX,
		.start = 0,
		.count = 1,
	};

	return vfiosim_set_irqs(dev, &set);
}

static void irq_disable(struct vfiosim_dev *dev, uint32_t index)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
		.start = 0,
		.count = 0,
	};

	vfiosim_set_irqs(dev, &set);
}

static void drain(int efd)
{
	uint64_t cnt;

	while (read(efd, &cnt, sizeof(cnt)) == sizeof(cnt))
		;
}

static int irq_ring(struct vfiosim_dev *dev, bool intx, uint32_t vector,
		    int efd, const char *mode, uint64_t *lat)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t t0, t1, cnt;
	int n;

	t0 = now_ns();
	if (vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			    VFIOSIM_REG_DOORBELL, vector))
		return fail("irq", "doorbell: %s", vfiosim_dev_error(dev));
	do {
		n = poll(&pfd, 1, IRQ_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	t1 = now_ns();
	if (n < 0)
		return fail("irq", "poll eventfd: %s", strerror(errno));
	if (n == 0)
		return fail("irq",
			    "%s vector %u: no interrupt within %d ms of the doorbell",
			    mode, vector, IRQ_TIMEOUT_MS);
	if (read(efd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return fail("irq", "read eventfd: %s", strerror(errno));
	*lat = t1 - t0;

	/* Deassert first: INTx unmask re-signals a still-asserted line. */
	if (vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			    VFIOSIM_REG_IRQ_STATUS, 1U << vector))
		return fail("irq", "clear IRQ_STATUS: %s",
			    vfiosim_dev_error(dev));
	if (intx && irq_unmask_intx(dev))
		return fail("irq", "INTx unmask: %s", vfiosim_dev_error(dev));
	return EXIT_OK;
}

static int cmd_irq(struct ctl *ctl, int argc, char **argv)
{
	struct vfio_irq_info info = { .argsz = sizeof(info) };
	const char *mode = "msi", *val;
	uint64_t vector = 0, count = 1, *lat = NULL;
	struct vfiosim_dev *dev;
	uint32_t index = VFIO_PCI_MSI_IRQ_INDEX;
	bool intx, found;
	size_t m;
	int i, efd = -1, ret = EXIT_OK;

	if (argc < 1)
		return usage("irq", "irq", "missing DEV");
	if (is_help(argv[0]))
		return print_help(help_irq);
	for (i = 1; i < argc; i++) {
		if ((val = opt_value("--mode", &i, argc, argv))) {
			found = false;
			for (m = 0; m < ARRAY_SIZE(irq_modes); m++) {
				if (!strcmp(val, irq_modes[m].name)) {
					mode = irq_modes[m].name;
					index = irq_modes[m].index;
					found = true;
				}
			}
			if (!found)
				return usage("irq", "irq",
					     "bad mode '%s' (intx, msi or msix)",
					     val);
		} else if ((val = opt_value("--vector", &i, argc, argv))) {
			if (!parse_u64(val, &vector) ||
			    vector >= VFIOSIM_MAX_VECTORS)
				return usage("irq", "irq",
					     "bad vector '%s' (0..%d)", val,
					     VFIOSIM_MAX_VECTORS - 1);
		} else if ((val = opt_value("--count", &i, argc, argv))) {
			if (!parse_u64(val, &count) || !count ||
			    count > MAX_RINGS)
				return usage("irq", "irq",
					     "bad count '%s' (1..%d)", val,
					     MAX_RINGS);
		} else {
			return usage("irq", "irq", "unknown argument '%s'",
				     argv[i]);
		}
	}
	intx = index == VFIO_PCI_INTX_IRQ_INDEX;

	lat = calloc(count, sizeof(*lat));
	if (!lat)
		return fail("irq", "out of memory");
	dev = open_dev(ctl, "irq", argv[0], &ret);
	if (!dev)
		goto out_free;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		ret = fail("irq", "eventfd: %s", strerror(errno));
		goto out_dev;
	}
	/* A vector the mode lacks would only show up as a timeout. */
	info.index = index;
	if (vfiosim_get_irq_info(dev, &info)) {
		ret = fail("irq", "%s", vfiosim_dev_error(dev));
		goto out_efd;
	}
	if (!intx && vector >= info.count) {
		ret = fail("irq", "%s: %s has %u vectors, no vector %llu",
			   argv[0], mode, info.count,
			   (unsigned long long)vector);
		goto out_efd;
	}
	/* INTx has one vector; the doorbell bit is what --vector picks. */
	if (vfiosim_irq_set_eventfd(dev, index, intx ? 0 : (uint32_t)vector,
				    efd)) {
		ret = fail("irq", "%s", vfiosim_dev_error(dev));
		goto out_efd;
	}
	/* Start clean: any status bit left set holds the INTx line up. */
	if (vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			    VFIOSIM_REG_IRQ_STATUS,
			    intx ? 0xffffffffU : 1U << vector) ||
	    (intx && irq_unmask_intx(dev))) {
		ret = fail("irq", "%s", vfiosim_dev_error(dev));
		goto out_irq;
	}
	drain(efd);

	for (m = 0; m < count; m++) {
		ret = irq_ring(dev, intx, (uint32_t)vector, efd, mode, &lat[m]);
		if (ret)
			goto out_irq;
		if (!ctl->json)
			printf("ring %zu: %llu ns\n", m + 1,
			       (unsigned long long)lat[m]);
	}
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "dev", argv[0]);
		jw_str(&ctl->jw, "mode", mode);
		jw_u64(&ctl->jw, "vector", vector);
		jw_u64(&ctl->jw, "count", count);
		jw_arr_open(&ctl->jw, "latency_ns");
		for (m = 0; m < count; m++)
			jw_u64(&ctl->jw, NULL, lat[m]);
		jw_arr_close(&ctl->jw);
		jw_u64(&ctl->jw, "median_ns", median(lat, count));
		jw_obj_close(&ctl->jw);
	} else {
		printf("median %llu ns (%llu ring%s, %s vector %llu)\n",
		       (unsigned long long)median(lat, count),
		       (unsigned long long)count, count > 1 ? "s" : "", mode,
		       (unsigned long long)vector);
	}
out_irq:
	irq_disable(dev, index);
out_efd:
	close(efd);
out_dev:
	vfiosim_dev_free(dev);
out_free:
	free(lat);
	return ret;
}

/* ------------------------------------------------------------------ */
/* monitor                                                             */

static void print_event(struct ctl *ctl, const struct vfiosim_dev_event *ev)
{
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "event", vfiosim_event_name(ev->event));
		if (ev->event > VFIOSIM_EVENT_RESET)
			jw_u64(&ctl->jw, "event_id", ev->event);
		jw_str(&ctl->jw, "uuid", ev->uuid);
		if (ev->type[0])
			jw_str(&ctl->jw, "type", ev->type);
		jw_obj_close(&ctl->jw);
	} else {
		printf("%s", vfiosim_event_name(ev->event));
		if (ev->event > VFIOSIM_EVENT_RESET)
			printf(" (%u)", ev->event);
		printf(" %s", ev->uuid[0] ? ev->uuid : "-");
		if (ev->type[0])
			printf(" %s", ev->type);
		putchar('\n');
	}
	fflush(stdout);
}

/*
 * SIGINT and SIGTERM are blocked and read from a signalfd, polled with
 * the netlink socket: no handler, no global flag.
 */
static int cmd_monitor(struct ctl *ctl, int argc, char **argv)
{
	struct vfiosim_monitor *mon = NULL;
	struct vfiosim_dev_event ev;
	struct pollfd pfd[2];
	uint64_t limit = 0, seen = 0;
	sigset_t mask, old;
	const char *val;
	char err[512];
	int i, sfd = -1, n, r, ret = EXIT_OK;

	if (argc > 0 && is_help(argv[0]))
		return print_help(help_monitor);
	for (i = 0; i < argc; i++) {
		if ((val = opt_value("--count", &i, argc, argv))) {
			if (!parse_u64(val, &limit) || !limit ||
			    limit > MAX_RINGS)
				return usage("monitor", "monitor",
					     "bad count '%s' (1..%d)", val,
					     MAX_RINGS);
		} else {
			return usage("monitor", "monitor",
				     "unknown argument '%s'", argv[i]);
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, &old))
		return fail("monitor", "sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		ret = fail("monitor", "signalfd: %s", strerror(errno));
		goto out;
	}
	r = vfiosim_monitor_open(&mon, err, sizeof(err));
	if (r) {
		ret = fail("monitor", "%s", err);
		goto out;
	}
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = vfiosim_monitor_fd(mon),
				  .events = POLLIN };
	while (!limit || seen < limit) {
		n = poll(pfd, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail("monitor", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		if (!pfd[1].revents)
			continue;
		r = vfiosim_monitor_read(mon, &ev, err, sizeof(err));
		if (r == -ENOBUFS) {
			fprintf(stderr, "vfiosimctl: monitor: %s\n", err);
			continue;
		}
		if (r == -EINTR)
			continue;
		if (r) {
			ret = fail("monitor", "%s", err);
			break;
		}
		print_event(ctl, &ev);
		seen++;
	}
out:
	vfiosim_monitor_close(mon);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* ------------------------------------------------------------------ */
/* dma                                                                 */

#define DMA_IOVA	0x100000000ULL
#define DMA_TIMEOUT_MS	1000

static const struct {
	const char *name;
	uint32_t op;
} dma_ops[] = {
	{ "copy", VFIOSIM_DMA_OP_COPY },
	{ "fill", VFIOSIM_DMA_OP_FILL },
	{ "csum", VFIOSIM_DMA_OP_CSUM },
};

static const char *const dma_status_names[] = {
	[VFIOSIM_DMA_STATUS_IDLE] = "idle",
	[VFIOSIM_DMA_STATUS_BUSY] = "busy",
	[VFIOSIM_DMA_STATUS_DONE] = "done",
	[VFIOSIM_DMA_STATUS_ERR_UNMAPPED] = "unmapped IOVA",
	[VFIOSIM_DMA_STATUS_ERR_PERM] = "no permission",
	[VFIOSIM_DMA_STATUS_ERR_LEN] = "bad length",
	[VFIOSIM_DMA_STATUS_ERR_OP] = "bad operation",
	[VFIOSIM_DMA_STATUS_ERR_ABORTED] = "aborted",
	[VFIOSIM_DMA_STATUS_ERR_FAULT] = "memory unreachable",
};

static const char *dma_status_name(uint32_t status)
{
	if (status < ARRAY_SIZE(dma_status_names) && dma_status_names[status])
		return dma_status_names[status];
	return "unknown";
}

struct dma_job {
	uint32_t op;
	uint64_t len, pattern;
	unsigned char *mem;	/* source, then destination, each half */
	size_t half;
	uint32_t status, done_bytes, result;
	uint64_t ns;
};

/* Program the registers, GO, wait for the interrupt, read the outcome. */
static int dma_run(struct vfiosim_dev *dev, const char *name,
		   struct dma_job *j, int efd)
{
	const struct { uint32_t off; uint32_t val; } regs[] = {
		{ VFIOSIM_REG_DMA_SRC_LO, (uint32_t)DMA_IOVA },
		{ VFIOSIM_REG_DMA_SRC_HI, (uint32_t)(DMA_IOVA >> 32) },
		{ VFIOSIM_REG_DMA_DST_LO, (uint32_t)(DMA_IOVA + j->half) },
		{ VFIOSIM_REG_DMA_DST_HI,
		  (uint32_t)((DMA_IOVA + j->half) >> 32) },
		{ VFIOSIM_REG_DMA_LEN, (uint32_t)j->len },
		{ VFIOSIM_REG_DMA_OP, j->op },
		{ VFIOSIM_REG_DMA_PATTERN_LO, (uint32_t)j->pattern },
		{ VFIOSIM_REG_DMA_PATTERN_HI, (uint32_t)(j->pattern >> 32) },
		{ VFIOSIM_REG_DMA_VECTOR, 0 },
	};
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t t0, cnt;
	size_t i;
	int n;

	for (i = 0; i < ARRAY_SIZE(regs); i++)
		if (vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
				    regs[i].off, regs[i].val))
			return fail("dma", "%s", vfiosim_dev_error(dev));
	t0 = now_ns();
	if (vfiosim_write32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			    VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO))
		return fail("dma", "%s", vfiosim_dev_error(dev));
	do {
		n = poll(&pfd, 1, DMA_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	j->ns = now_ns() - t0;
	if (n < 0)
		return fail("dma", "poll eventfd: %s", strerror(errno));
	if (n == 0)
		return fail("dma", "%s: no completion interrupt (MSI-X vector 0) within %d ms of GO",
			    name, DMA_TIMEOUT_MS);
	if (read(efd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return fail("dma", "read eventfd: %s", strerror(errno));
	if (vfiosim_read32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			   VFIOSIM_REG_DMA_STATUS, &j->status) ||
	    vfiosim_read32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			   VFIOSIM_REG_DMA_DONE_BYTES, &j->done_bytes) ||
	    vfiosim_read32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			   VFIOSIM_REG_DMA_RESULT, &j->result))
		return fail("dma", "%s", vfiosim_dev_error(dev));
	return EXIT_OK;
}

/* NULL when the CPU agrees with the device, else what differs. */
static const char *dma_check(const struct dma_job *j)
{
	const unsigned char *src = j->mem, *dst = j->mem + j->half;
	uint64_t i;

	switch (j->op) {
	case VFIOSIM_DMA_OP_COPY:
		return memcmp(src, dst, j->len) ?
		       "the destination differs from the source" : NULL;
	case VFIOSIM_DMA_OP_FILL:
		for (i = 0; i < j->len; i++)
			if (dst[i] != (unsigned char)(j->pattern >> (i % 8 * 8)))
				return "the destination does not hold the pattern";
		return NULL;
	default:
		return j->result == vfiosim_crc32c(src, j->len) ? NULL :
		       "DMA_RESULT differs from the CRC32C of the source";
	}
}

static int cmd_dma(struct ctl *ctl, int argc, char **argv)
{
	struct dma_job j = { .len = 4096, .pattern = 0x0123456789abcdefULL };
	struct vfiosim_dma_map map = {
		.iova = DMA_IOVA,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	const char *opname = NULL, *val, *bad;
	struct vfiosim_dev *dev;
	long page = sysconf(_SC_PAGESIZE);
	int i, memfd, efd = -1, ret = EXIT_OK;
	size_t m;

	if (argc < 1)
		return usage("dma", "dma", "missing DEV");
	if (is_help(argv[0]))
		return print_help(help_dma);
	if (argc < 2)
		return usage("dma", "dma", "missing copy, fill or csum");
	for (m = 0; m < ARRAY_SIZE(dma_ops); m++)
		if (!strcmp(argv[1], dma_ops[m].name)) {
			opname = dma_ops[m].name;
			j.op = dma_ops[m].op;
		}
	if (!opname)
		return usage("dma", "dma",
			     "unknown operation '%s' (copy, fill or csum)",
			     argv[1]);
	for (i = 2; i < argc; i++) {
		if ((val = opt_value("--len", &i, argc, argv))) {
			if (!parse_u64(val, &j.len) || !j.len ||
			    j.len > VFIOSIM_DMA_MAX_LEN)
				return usage("dma", "dma",
					     "bad length '%s' (1..%d)", val,
					     VFIOSIM_DMA_MAX_LEN);
		} else if ((val = opt_value("--pattern", &i, argc, argv))) {
			if (!parse_u64(val, &j.pattern))
				return usage("dma", "dma", "bad pattern '%s'",
					     val);
		} else {
			return usage("dma", "dma", "unknown argument '%s'",
				     argv[i]);
		}
	}
	j.half = (j.len + page - 1) / page * page;

	memfd = memfd_create("vfiosimctl-dma", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 2 * j.half)) {
		ret = fail("dma", "memfd of %zu bytes: %s", 2 * j.half,
			   strerror(errno));
		goto out_memfd;
	}
	j.mem = mmap(NULL, 2 * j.half, PROT_READ | PROT_WRITE, MAP_SHARED,
		     memfd, 0);
	if (j.mem == MAP_FAILED) {
		ret = fail("dma", "mmap of the memfd: %s", strerror(errno));
		goto out_memfd;
	}
	for (m = 0; m < j.half; m++)
		j.mem[m] = (unsigned char)(m * 7 + 1);
	memset(j.mem + j.half, 0, j.half);

	dev = open_dev(ctl, "dma", argv[0], &ret);
	if (!dev)
		goto out_mem;
	map.size = 2 * j.half;
	map.vaddr = j.mem;
	map.fd = memfd;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		ret = fail("dma", "eventfd: %s", strerror(errno));
		goto out_dev;
	}
	if (vfiosim_dma_map(dev, &map) ||
	    vfiosim_irq_set_eventfd(dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, efd)) {
		ret = fail("dma", "%s", vfiosim_dev_error(dev));
		goto out_dev;
	}
	ret = dma_run(dev, argv[0], &j, efd);
	irq_disable(dev, VFIO_PCI_MSIX_IRQ_INDEX);
	if (ret)
		goto out_dev;
	bad = j.status == VFIOSIM_DMA_STATUS_DONE ? dma_check(&j) :
	      "the transfer did not end DONE";
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "dev", argv[0]);
		jw_str(&ctl->jw, "op", opname);
		jw_u64(&ctl->jw, "len", j.len);
		jw_str(&ctl->jw, "status", dma_status_name(j.status));
		jw_u64(&ctl->jw, "done_bytes", j.done_bytes);
		if (j.op == VFIOSIM_DMA_OP_CSUM)
			jw_u64(&ctl->jw, "crc32c", j.result);
		jw_u64(&ctl->jw, "ns", j.ns);
		if (bad)
			jw_str(&ctl->jw, "error", bad);
		else
			jw_str(&ctl->jw, "check", "ok");
		jw_obj_close(&ctl->jw);
	} else {
		printf("%s %llu bytes: %s (status %u), %u bytes moved, %llu us from GO to MSI-X",
		       opname, (unsigned long long)j.len,
		       dma_status_name(j.status), j.status, j.done_bytes,
		       (unsigned long long)(j.ns / 1000));
		if (j.op == VFIOSIM_DMA_OP_CSUM)
			printf(", CRC32C %#010x", j.result);
		printf("\n%s\n", bad ? bad : "checked on the CPU: ok");
	}
	if (bad)
		ret = fail("dma", "%s: %s %llu bytes: %s", argv[0], opname,
			   (unsigned long long)j.len, bad);
out_dev:
	vfiosim_dev_free(dev);		/* unmaps */
out_mem:
	munmap(j.mem, 2 * j.half);
out_memfd:
	if (efd >= 0)
		close(efd);
	if (memfd >= 0)
		close(memfd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* mig                                                                 */

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int cmd_mig(struct ctl *ctl, int argc, char **argv)
{
	const char *text = "hello from the source";
	struct vfiosim_dev *src = NULL, *dst = NULL;
	uint64_t scratch = 0xc0ffee00;
	char got[65] = "";
	uint32_t val = 0;
	uint8_t *stream = NULL;
	ssize_t len = 0;
	int i, ret = EXIT_OK;
	void *buf;

	if (argc >= 1 && is_help(argv[0]))
		return print_help(help_mig);
	if (argc < 2)
		return usage("mig", "mig", "needs SRC and DST");
	for (i = 2; i < argc; i++) {
		const char *v;

		v = opt_value("--scratch", &i, argc, argv);
		if (v) {
			if (!parse_u64(v, &scratch) || scratch > UINT32_MAX)
				return usage("mig", "mig",
					     "--scratch '%s': not a 32-bit number",
					     v);
			continue;
		}
		v = opt_value("--text", &i, argc, argv);
		if (!v)
			return usage("mig", "mig", "unknown argument '%s'",
				     argv[i]);
		if (strlen(v) > 64)
			return usage("mig", "mig", "--text: at most 64 bytes");
		text = v;
	}
	src = open_dev(ctl, "mig", argv[0], &ret);
	if (src)
		dst = open_dev(ctl, "mig", argv[1], &ret);
	if (!src || !dst)
		goto out;
	if (vfiosim_write32(src, VFIO_PCI_BAR0_REGION_INDEX,
			    VFIOSIM_REG_SCRATCH0, (uint32_t)scratch) ||
	    vfiosim_region_write(src, VFIO_PCI_BAR2_REGION_INDEX, 0, text,
				 strlen(text) + 1) != (ssize_t)strlen(text) + 1) {
		ret = fail("mig", "%s", vfiosim_dev_error(src));
		goto out;
	}
	len = vfiosim_mig_save(src, &buf);
	if (len >= 0)
		stream = buf;
	if (len < VFIOSIM_MIG_HEADER_SIZE) {
		ret = fail("mig", "save: %s", len < 0 ?
			   vfiosim_dev_error(src) : "short stream");
		goto out;
	}
	if (vfiosim_mig_set_state(dst, VFIO_DEVICE_STATE_RESUMING) ||
	    vfiosim_mig_write(dst, stream, len) != len ||
	    vfiosim_mig_set_state(dst, VFIO_DEVICE_STATE_RUNNING)) {
		ret = fail("mig", "resume: %s", vfiosim_dev_error(dst));
		goto out;
	}
	if (vfiosim_read32(dst, VFIO_PCI_BAR0_REGION_INDEX,
			   VFIOSIM_REG_SCRATCH0, &val) ||
	    vfiosim_region_read(dst, VFIO_PCI_BAR2_REGION_INDEX, 0, got,
				sizeof(got) - 1) != sizeof(got) - 1) {
		ret = fail("mig", "%s", vfiosim_dev_error(dst));
		goto out;
	}
	if (val != scratch || strcmp(got, text))
		ret = fail("mig", "the destination differs");
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_u64(&ctl->jw, "stream_bytes", (uint64_t)len);
		jw_u64(&ctl->jw, "magic", le32_at(stream));
		jw_u64(&ctl->jw, "version", le32_at(stream + 4));
		jw_u64(&ctl->jw, "device_id", le32_at(stream + 8));
		jw_u64(&ctl->jw, "dst_scratch0", val);
		jw_str(&ctl->jw, "dst_bar2_text", got);
		jw_obj_close(&ctl->jw);
		fputc('\n', stdout);
	} else {
		printf("saved %zd bytes from %s: magic 0x%08x version %u device 0x%04x\n",
		       len, argv[0], le32_at(stream), le32_at(stream + 4),
		       le32_at(stream + 8));
		printf("resumed on %s: SCRATCH0 0x%08x, BAR2 \"%s\"\n", argv[1],
		       val, got);
	}
out:
	free(stream);
	if (src)
		vfiosim_dev_free(src);
	if (dst)
		vfiosim_dev_free(dst);
	return ret;
}

/* ------------------------------------------------------------------ */
/* fault: the module's per-device fault knobs, in debugfs               */

static const char help_fault[] =
"NAME\n"
"    vfiosimctl fault - read and set a device's fault injection knobs\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] fault UUID\n"
"    vfiosimctl fault UUID KNOB VALUE\n"
"    vfiosimctl [-j] fault --control PATH UUID [KNOB VALUE]\n"
"\n"
"DESCRIPTION\n"
"    The knobs are the files of /sys/kernel/debug/vfiosim/UUID/ (debugfs\n"
"    mounted, root).  The first form lists every knob with its value and\n"
"    how often it fired, then the parameters (KNOB_errno and so on).\n"
"    The second writes VALUE (a number, 0x hex too) to KNOB or to a\n"
"    parameter; 0 turns a knob off and resets its parameters.  See\n"
"    kmod/README.md for what each one does.\n"
"\n"
"    With --control PATH the knobs are vfiosim-userd's (delay_reply_ms,\n"
"    close_mid_message, wrong_msg_id), over the control socket the\n"
"    daemon was started with (--control PATH): without KNOB they are\n"
"    listed, with it KNOB is set and the knobs are listed as the daemon\n"
"    answered.  The listing has the debugfs one's shape; these knobs have\n"
"    no parameters.  See userspace/userd/README.md.\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl fault $UUID access_fail_errno 5\n"
"    vfiosimctl fault $UUID access_fail 3     # the next 3 accesses: EIO\n"
"    vfiosimctl fault $UUID                   # access_fail_fired: 3 later\n"
"    vfiosimctl fault --control /run/vfiosim-ctl.sock $UUID delay_reply_ms 6000\n"
"    vfiosimctl -j fault --control /run/vfiosim-ctl.sock $UUID\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 no such device or knob, a write refused, the control\n"
"    socket unreachable or the daemon's error reply; 2 bad command line.\n";

#define FAULT_DIR	"/sys/kernel/debug/vfiosim"

static int fault_path(char *buf, size_t len, const char *uuid,
		      const char *name)
{
	if (strchr(uuid, '/') || (name && strchr(name, '/')) ||
	    snprintf(buf, len, FAULT_DIR "/%s%s%s", uuid, name ? "/" : "",
		     name ? name : "") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* The number in a knob file, or -errno. */
static int fault_read(const char *uuid, const char *name, uint64_t *val)
{
	char path[512], text[32];
	ssize_t n;
	int fd;

	if (fault_path(path, sizeof(path), uuid, name))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	return parse_u64(text, val) ? 0 : -EPROTO;
}

static int fault_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool fault_is_fired(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, "_fired");
}

/* Is name a knob (it has a _fired file)? */
static bool fault_is_knob(const char *uuid, const char *name)
{
	char fired[256];
	uint64_t v;

	snprintf(fired, sizeof(fired), "%s_fired", name);
	return !fault_is_fired(name) && !fault_read(uuid, fired, &v);
}

/*
 * DEV must be a vfiosim device (its sysfs name, lower case, in uuid) with
 * a knob directory: EXIT_OK, or the error said.
 */
static int fault_dev(const char *dev, char uuid[37])
{
	struct vfiosim_mdev_info info;
	char err[256], path[512];

	if (vfiosim_mdev_get(dev, &info, err, sizeof(err)))
		return fail("fault", "%s", err);
	memcpy(uuid, info.uuid, sizeof(info.uuid));
	if (fault_path(path, sizeof(path), uuid, NULL))
		return fail("fault", "device %s: knob path too long", uuid);
	if (access(path, F_OK))
		return fail("fault", "device %s has no fault knobs (%s: %s): is debugfs mounted on /sys/kernel/debug?",
			    uuid, path, strerror(errno));
	return EXIT_OK;
}

/* The listing's section heading: the knobs, or the parameters. */
static void fault_header(struct ctl *ctl, bool params)
{
	if (ctl->json)
		jw_arr_open(&ctl->jw, params ? "params" : "knobs");
	else
		printf("%s\n", params ? "parameter                value" :
		       "knob                     value       fired");
}

/* One line of the listing: a knob has a fired count, a parameter none. */
static void fault_row(struct ctl *ctl, const char *name, uint64_t v,
		      const uint64_t *fired)
{
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "name", name);
		jw_u64(&ctl->jw, "value", v);
		if (fired)
			jw_u64(&ctl->jw, "fired", *fired);
		jw_obj_close(&ctl->jw);
	} else if (fired) {
		printf("%-24s %-11llu %llu\n", name, (unsigned long long)v,
		       (unsigned long long)*fired);
	} else {
		printf("%-24s %llu\n", name, (unsigned long long)v);
	}
}

static int fault_list(struct ctl *ctl, const char *dev)
{
	char path[512], **names = NULL, fired[256], uuid[37];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	uint64_t v, f;
	int pass, r, ret;
	DIR *d;

	ret = fault_dev(dev, uuid);
	if (ret)
		return ret;
	fault_path(path, sizeof(path), uuid, NULL);
	d = opendir(path);
	if (!d)
		return fail("fault", "device %s: %s: %s", uuid, path,
			    strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || fault_is_fired(de->d_name))
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? 2 * cap : 32) *
					   sizeof(*names));

			if (!p)
				break;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), fault_name_cmp);
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "device", uuid);
	}
	/* knobs first, then the parameters */
	for (pass = 0; pass < 2; pass++) {
		fault_header(ctl, !!pass);
		for (i = 0; i < n; i++) {
			bool knob = fault_is_knob(uuid, names[i]);

			if (knob == !!pass)
				continue;
			r = fault_read(uuid, names[i], &v);
			if (r) {
				ret = fail("fault", "device %s: read %s: %s",
					   uuid, names[i], strerror(-r));
				continue;
			}
			snprintf(fired, sizeof(fired), "%s_fired", names[i]);
			if (knob && fault_read(uuid, fired, &f))
				f = 0;
			fault_row(ctl, names[i], v, knob ? &f : NULL);
		}
		if (ctl->json)
			jw_arr_close(&ctl->jw);
	}
	if (ctl->json)
		jw_obj_close(&ctl->jw);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/* Write VALUE to a debugfs knob or parameter of the device DEV. */
static int fault_set(const char *dev, const char *knob, const char *value,
		     uint64_t val)
{
	char path[512], text[32], uuid[37];
	int fd, len, ret;

	ret = fault_dev(dev, uuid);
	if (ret)
		return ret;
	if (fault_path(path, sizeof(path), uuid, knob) || access(path, F_OK))
		return fail("fault", "device %s has no knob '%s' ('vfiosimctl fault %s' lists them)",
			    uuid, knob, uuid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("fault", "device %s knob %s: %s", uuid, knob,
			    strerror(errno));
	len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)val);
	if (write(fd, text, len) != len) {
		int err = errno;

		close(fd);
		return fail("fault", "device %s knob %s = %s: %s", uuid, knob,
			    value, strerror(err));
	}
	close(fd);
	return EXIT_OK;
}

/*
 * vfiosim-userd's knobs, over its --control socket: one JSON line out,
 * one back (userspace/userd/fault.c has the protocol).
 */
#define CTL_REPLY_MAX	4096
#define CTL_TIMEOUT_MS	5000

/* The reply line, NUL terminated in buf, or EXIT_FAIL after saying why. */
static int ctl_exchange(const char *path, const char *line, char *buf,
			size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	size_t len = 0, n = strlen(line);
	ssize_t r;
	int fd, err, ret = EXIT_FAIL;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail("fault", "control socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return fail("fault", "control socket %s: connect: %s (is vfiosim-userd running with --control %s?)",
			    path, strerror(err), path);
	}
	while (len < n) {
		r = send(fd, line + len, n - len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail("fault", "control socket %s: send: %s", path,
			     strerror(errno));
			goto out;
		}
		len += (size_t)r;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (len = 0; !memchr(buf, '\n', len);) {
		if (len == size - 1) {
			fail("fault", "control socket %s: reply longer than %zu bytes",
			     path, size - 1);
			goto out;
		}
		r = poll(&pfd, 1, CTL_TIMEOUT_MS);
		if (r == 0) {
			fail("fault", "control socket %s: no reply in %d ms",
			     path, CTL_TIMEOUT_MS);
			goto out;
		}
		if (r > 0)
			r = recv(fd, buf + len, size - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail("fault", "control socket %s: recv: %s", path,
			     strerror(errno));
			goto out;
		}
		if (r == 0) {
			fail("fault", "control socket %s: closed %s", path,
			     len ? "in the middle of its reply" :
			     "without a reply");
			goto out;
		}
		len += (size_t)r;
	}
	*(char *)memchr(buf, '\n', len) = '\0';
	ret = EXIT_OK;
out:
	close(fd);
	return ret;
}

/* Is knobs an array of {name, value, fired}, counts not negative? */
static bool ctl_knobs_valid(json_t *knobs)
{
	json_int_t v, f;
	const char *name;
	json_t *k;
	size_t i;

	if (!json_is_array(knobs))
		return false;
	json_array_foreach(knobs, i, k)
		if (json_unpack(k, "{s:s, s:I, s:I}", "name", &name, "value",
				&v, "fired", &f) || v < 0 || f < 0)
			return false;
	return true;
}

static int fault_control(struct ctl *ctl, const char *path, const char *uuid,
			 const char *knob, uint64_t val)
{
	char buf[CTL_REPLY_MAX + 1], *line = NULL, *req_line;
	json_t *req, *rep = NULL, *knobs, *k;
	const char *text, *dev, *name;
	json_int_t v, f;
	json_error_t jerr;
	int ret, err;
	size_t i, n;

	req = knob ? json_pack("{s:s, s:s, s:I}", "device", uuid, "knob", knob,
			       "value", (json_int_t)val) :
		     json_pack("{s:s}", "device", uuid);
	line = req ? json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(req);
	n = line ? strlen(line) : 0;
	req_line = line ? realloc(line, n + 2) : NULL;
	if (!req_line) {
		free(line);
		return fail("fault", "out of memory");
	}
	strcpy(req_line + n, "\n");
	ret = ctl_exchange(path, req_line, buf, sizeof(buf));
	free(req_line);
	if (ret)
		return ret;
	rep = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
	if (!rep)
		return fail("fault", "control socket %s: reply is not JSON: %s",
			    path, jerr.text);
	ret = EXIT_FAIL;
	if (!json_unpack(rep, "{s:s, s:i}", "error", &text, "errno", &err)) {
		fail("fault", "control socket %s: device %s%s%s: %s (%s)", path,
		     uuid, knob ? " knob " : "", knob ? knob : "", text,
		     strerror(err));
		goto out;
	}
	if (json_unpack(rep, "{s:s, s:o}", "device", &dev, "knobs", &knobs) ||
	    strcmp(dev, uuid) || !ctl_knobs_valid(knobs)) {
		fail("fault", "control socket %s: device %s: bad reply '%s'",
		     path, uuid, buf);
		goto out;
	}
	/* The debugfs listing's shape; userd's knobs have no parameters. */
	if (ctl->json) {
		jw_obj_open(&ctl->jw, NULL);
		jw_str(&ctl->jw, "device", uuid);
	}
	fault_header(ctl, false);
	json_array_foreach(knobs, i, k) {
		uint64_t fired;

		json_unpack(k, "{s:s, s:I, s:I}", "name", &name, "value", &v,
			    "fired", &f);
		fired = (uint64_t)f;
		fault_row(ctl, name, (uint64_t)v, &fired);
	}
	if (ctl->json) {
		jw_arr_close(&ctl->jw);
		jw_arr_open(&ctl->jw, "params");
		jw_arr_close(&ctl->jw);
		jw_obj_close(&ctl->jw);
	}
	ret = EXIT_OK;
out:
	json_decref(rep);
	return ret;
}

static int cmd_fault(struct ctl *ctl, int argc, char **argv)
{
	const char *control = NULL, *val, *pos[3] = { NULL };
	uint64_t value = 0;
	int i, n = 0;

	if (argc >= 1 && is_help(argv[0]))
		return print_help(help_fault);
	for (i = 0; i < argc; i++) {
		if ((val = opt_value("--control", &i, argc, argv))) {
			if (!*val)
				return usage("fault", "fault",
					     "--control needs a PATH");
			control = val;
		} else if (!strcmp(argv[i], "--control")) {
			return usage("fault", "fault", "--control needs a PATH");
		} else {
			if (n < 3)
				pos[n] = argv[i];
			n++;
		}
	}
	if (n < 1)
		return usage("fault", "fault", "missing UUID");
	if (n == 2 || n > 3)
		return usage("fault", "fault", n == 2 ?
			     "missing VALUE for knob '%s'" :
			     "too many arguments after '%s'", pos[1]);
	if (n == 3 && !control && fault_is_fired(pos[1]))
		return fail("fault", "device %s: %s is a count, read-only",
			    pos[0], pos[1]);
	if (n == 3 && !parse_u64(pos[2], &value))
		return usage("fault", "fault", "device %s knob %s: bad value '%s' (a number)",
			     pos[0], pos[1], pos[2]);
	if (control) {
		if (value > INT64_MAX)
			return usage("fault", "fault", "device %s knob %s: bad value '%s' (at most %lld)",
				     pos[0], pos[1], pos[2],
				     (long long)INT64_MAX);
		return fault_control(ctl, control, pos[0], pos[1], value);
	}
	if (n == 1)
		return fault_list(ctl, pos[0]);
	return fault_set(pos[0], pos[1], pos[2], value);
}

/* ------------------------------------------------------------------ */
/* trace                                                               */

static const char help_trace[] =
"NAME\n"
"    vfiosimctl trace - stream the vfiosim tracepoints of a device\n"
"\n"
"SYNOPSIS\n"
"    vfiosimctl [-j] trace [UUID] [--count N]\n"
"\n"
"DESCRIPTION\n"
"    Creates a private tracefs instance (instances/vfiosimctl-PID, so the\n"
"    system's own tracing state is left alone), enables the vfiosim\n"
"    events there, filtered to UUID's if given (dev == \"UUID\"), and\n"
"    prints one line per event until SIGINT or SIGTERM (or N events):\n"
"\n"
"        12.345678 vfiosim_region_access dev=UUID transport=vfio dir=write ...\n"
"\n"
"    With -j each line is one JSON object: {\"time\":..., \"event\":...,\n"
"    and every key=value field}.  The instance is removed on exit.\n"
"    Needs root and tracefs (/sys/kernel/tracing or\n"
"    /sys/kernel/debug/tracing).\n"
"\n"
"EXAMPLES\n"
"    vfiosimctl trace $uuid\n"
"    vfiosimctl -j trace $uuid --count 10\n";

static const char *tracefs_dir(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing" };
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/instances", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	return NULL;
}

static int write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* One trace_pipe line: "comm-pid [cpu] flags time: event: k=v k=v". */
static void trace_print(struct ctl *ctl, char *line)
{
	char *ev, *fields, *ts, *tok, *save = NULL, *eq;

	ev = strstr(line, ": vfiosim_");
	if (!ev)
		return;
	*ev = '\0';
	ev += 2;
	fields = strchr(ev, ':');
	if (!fields)
		return;
	*fields++ = '\0';
	while (*fields == ' ')
		fields++;
	ts = strrchr(line, ' ');
	ts = ts ? ts + 1 : line;
	if (!ctl->json) {
		printf("%s %s %s\n", ts, ev, fields);
		fflush(stdout);
		return;
	}
	jw_obj_open(&ctl->jw, NULL);
	jw_str(&ctl->jw, "time", ts);
	jw_str(&ctl->jw, "event", ev);
	for (tok = strtok_r(fields, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		uint64_t v;

		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (*eq != '-' && parse_u64(eq, &v) && v < (1ULL << 63))
			jw_u64(&ctl->jw, tok, v);
		else if (*eq == '-' && parse_u64(eq + 1, &v) && v < (1ULL << 63))
			jw_s64(&ctl->jw, tok, -(int64_t)v);
		else
			jw_str(&ctl->jw, tok, eq);
	}
	jw_obj_close(&ctl->jw);
	fflush(stdout);
}

static int cmd_trace(struct ctl *ctl, int argc, char **argv)
{
	const char *uuid = NULL, *val, *top;
	char inst[256], path[320], filter[96], buf[8192];
	uint64_t limit = 0, seen = 0;
	struct pollfd pfd[2];
	size_t have = 0;
	sigset_t mask, old;
	int i, fd = -1, sfd = -1, r, ret = EXIT_OK;

	if (argc > 0 && is_help(argv[0]))
		return print_help(help_trace);
	for (i = 0; i < argc; i++) {
		if ((val = opt_value("--count", &i, argc, argv))) {
			if (!parse_u64(val, &limit) || !limit ||
			    limit > MAX_RINGS)
				return usage("trace", "trace",
					     "bad count '%s' (1..%d)", val,
					     MAX_RINGS);
		} else if (!uuid && argv[i][0] != '-' &&
			   strlen(argv[i]) == 36) {
			uuid = argv[i];
		} else {
			return usage("trace", "trace",
				     "unknown argument '%s'", argv[i]);
		}
	}
	if (geteuid())
		return fail("trace", "tracefs needs root");
	top = tracefs_dir();
	if (!top)
		return fail("trace", "no tracefs at /sys/kernel/tracing or /sys/kernel/debug/tracing (mount -t tracefs nodev /sys/kernel/tracing)");
	snprintf(path, sizeof(path), "%s/events/vfiosim", top);
	if (access(path, F_OK))
		return fail("trace", "%s missing: is the vfiosim module loaded?",
			    path);
	snprintf(inst, sizeof(inst), "%s/instances/vfiosimctl-%d", top,
		 (int)getpid());
	if (mkdir(inst, 0700))
		return fail("trace", "mkdir %s: %s", inst, strerror(errno));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, &old)) {
		ret = fail("trace", "sigprocmask: %s", strerror(errno));
		goto out_rmdir;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		ret = fail("trace", "signalfd: %s", strerror(errno));
		goto out;
	}
	if (uuid) {
		snprintf(filter, sizeof(filter), "dev == \"%s\"", uuid);
		snprintf(path, sizeof(path), "%s/events/vfiosim/filter", inst);
		r = write_file(path, filter);
		if (r) {
			ret = fail("trace", "%s: %s", path, strerror(-r));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "%s/events/vfiosim/enable", inst);
	r = write_file(path, "1");
	if (r) {
		ret = fail("trace", "%s: %s", path, strerror(-r));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/trace_pipe", inst);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = fail("trace", "%s: %s", path, strerror(errno));
		goto out;
	}
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!limit || seen < limit) {
		char *nl, *line;
		ssize_t len;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = fail("trace", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		len = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (len <= 0) {
			ret = fail("trace", "%s: %s", path,
				   len ? strerror(errno) : "end of file");
			break;
		}
		have += (size_t)len;
		buf[have] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n')) && (!limit || seen < limit)) {
			*nl = '\0';
			trace_print(ctl, line);
			seen++;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line longer than the buffer: drop it */
	}
out:
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/events/vfiosim/enable", inst);
	write_file(path, "0");
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out_rmdir:
	if (rmdir(inst) && ret == EXIT_OK)
		ret = fail("trace", "rmdir %s: %s", inst, strerror(errno));
	return ret;
}

/* ------------------------------------------------------------------ */

static int cmd_help(int argc, char **argv)
{
	if (argc < 1)
		return print_help(help_main);
	if (!strcmp(argv[0], "types"))
		return print_help(help_types);
	if (!strcmp(argv[0], "dev"))
		return print_help(help_dev);
	if (!strcmp(argv[0], "region"))
		return print_help(help_region);
	if (!strcmp(argv[0], "irq"))
		return print_help(help_irq);
	if (!strcmp(argv[0], "dma"))
		return print_help(help_dma);
	if (!strcmp(argv[0], "monitor"))
		return print_help(help_monitor);
	if (!strcmp(argv[0], "mig"))
		return print_help(help_mig);
	if (!strcmp(argv[0], "fault"))
		return print_help(help_fault);
	if (!strcmp(argv[0], "trace"))
		return print_help(help_trace);
	return usage(NULL, "help", "unknown object '%s'", argv[0]);
}

static bool parse_backend(struct ctl *ctl, const char *name)
{
	static const char *const backends[] = { "vfio", "netlink" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(backends); i++) {
		if (!strcmp(name, backends[i])) {
			ctl->backend = backends[i];
			return true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .jw = { .f = stdout }, .backend = "vfio" };
	const char *obj, *c, *b;
	int i, ret;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--backend") || !strncmp(a, "--backend=", 10)) {
			b = a[9] == '=' ? a + 10 : i + 1 < argc ? argv[++i] : NULL;
			if (!b)
				return usage(NULL, "options",
					     "--backend needs vfio or netlink");
			if (!parse_backend(&ctl, b))
				return usage(NULL, "options",
					     "unknown backend '%s' (vfio or netlink)",
					     b);
		} else if (!strcmp(a, "--json")) {
			ctl.json = true;
		} else if (!strcmp(a, "--pretty")) {
			ctl.json = ctl.jw.pretty = true;
		} else if (!strcmp(a, "--help")) {
			return print_help(help_main);
		} else if (a[1] == '-') {
			return usage(NULL, "options", "unknown option '%s'", a);
		} else {
			/* Clusters like -jp. */
			for (c = a + 1; *c; c++) {
				if (*c == 'j')
					ctl.json = true;
				else if (*c == 'p')
					ctl.json = ctl.jw.pretty = true;
				else if (*c == 'h')
					return print_help(help_main);
				else if (*c == 'b') {
					/* -bnetlink, -b netlink, -jb netlink */
					b = c[1] ? c + 1 : i + 1 < argc ?
					    argv[++i] : NULL;
					if (!b)
						return usage(NULL, "options",
							     "-b needs vfio or netlink");
					if (!parse_backend(&ctl, b))
						return usage(NULL, "options",
							     "unknown backend '%s' (vfio or netlink)",
							     b);
					break;
				} else
					return usage(NULL, "options",
						     "unknown option '-%c'", *c);
			}
		}
	}
	if (i >= argc)
		return usage(NULL, NULL, "missing OBJECT");
	obj = argv[i++];
	argc -= i;
	argv += i;

	if (!strcmp(obj, "help"))
		ret = cmd_help(argc, argv);
	else if (!strcmp(obj, "types"))
		ret = cmd_types(&ctl, argc, argv);
	else if (!strcmp(obj, "dev"))
		ret = cmd_dev(&ctl, argc, argv);
	else if (!strcmp(obj, "region"))
		ret = cmd_region(&ctl, argc, argv);
	else if (!strcmp(obj, "irq"))
		ret = cmd_irq(&ctl, argc, argv);
	else if (!strcmp(obj, "dma"))
		ret = cmd_dma(&ctl, argc, argv);
	else if (!strcmp(obj, "monitor"))
		ret = cmd_monitor(&ctl, argc, argv);
	else if (!strcmp(obj, "mig"))
		ret = cmd_mig(&ctl, argc, argv);
	else if (!strcmp(obj, "fault"))
		ret = cmd_fault(&ctl, argc, argv);
	else if (!strcmp(obj, "trace"))
		ret = cmd_trace(&ctl, argc, argv);
	else
		return usage(NULL, NULL, "unknown object '%s'", obj);

	if (fflush(stdout) && ret == EXIT_OK)
		return fail("output", "%s", strerror(errno));
	return ret;
}
