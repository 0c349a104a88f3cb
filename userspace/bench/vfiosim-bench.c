// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim-bench: what one vfiosim access costs, next to what it cannot be
 * cheaper than (a syscall, an eventfd round trip, a memcpy) and next to the
 * kernel's own sample mdev driver, mtty, reached through the same library.
 *
 *   vfiosim-bench --dev vfio:<uuid> [--peer vfio:<mtty uuid>]
 *                 [--iters N] [--batch N] [--json FILE]
 *
 * Timing: ops run back to back in batches of --batch (16) between two
 * CLOCK_MONOTONIC reads; one sample is the batch time divided by the batch
 * size.  Under TCG a clock read costs about as much as a syscall, so timing
 * single ops would mostly measure the clock.  Median and p99 are over those
 * samples (so p99 is the p99 of 16-op means, not of single ops).  Every op,
 * floors included, is reached through the same indirect call, so ratios
 * compare like with like.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfiosim.h>

#include "vfiosim.h"

#define BULK		4096
#define DEF_ITERS	20000
#define DEF_BATCH	16
#define ACCEPT_RATIO	1.2

/*
 * A device opened with the bare VFIO uapi.  libvfiosim only opens vfiosim
 * mdevs, so mtty is reached this way; one access is one pread, exactly
 * what libvfiosim's vfio backend does underneath.
 */
struct raw_dev {
	int container, group, device;
	uint64_t offset[VFIO_PCI_NUM_REGIONS];
};

struct ctx {
	struct vfiosim_dev *dev;
	struct vfiosim_dev *peer;	/* mtty through libvfiosim, or NULL */
	struct raw_dev raw_peer;	/* mtty through bare VFIO, or fds -1 */
	struct raw_dev raw_dev;		/* vfiosim through bare VFIO */
	volatile uint32_t *bar2;	/* first page of BAR2, mmapped */
	int loop_efd;			/* eventfd floor */
	int irq_efd;			/* trigger of the vector under test */
	uint32_t val;
	/* Called through a volatile pointer so it stays a real call. */
	void *(*volatile copy)(void *, const void *, size_t);
	_Alignas(64) unsigned char src[BULK];
	_Alignas(64) unsigned char dst[BULK];
};

static int err_io(ssize_t n, size_t want)
{
	if (n < 0)
		return (int)n;
	return (size_t)n == want ? 0 : -EIO;
}

static int op_clock(struct ctx *c)
{
	struct timespec ts;

	(void)c;
	return clock_gettime(CLOCK_MONOTONIC, &ts) ? -errno : 0;
}

static int op_getppid(struct ctx *c)
{
	/* Raw syscall: glibc may not cache getppid, but make sure. */
	c->val += (uint32_t)syscall(SYS_getppid);
	return 0;
}

static int op_eventfd(struct ctx *c)
{
	uint64_t v = 1;

	if (write(c->loop_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	if (read(c->loop_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int op_memcpy4(struct ctx *c)
{
	c->copy(c->dst, c->src, 4);
	return 0;
}

static int op_memcpy4k(struct ctx *c)
{
	c->copy(c->dst, c->src, BULK);
	return 0;
}

static int op_bar0_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

static int op_bar0_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					   VFIOSIM_REG_SCRATCH0, &c->val, 4), 4);
}

static int op_cfg_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_CONFIG_REGION_INDEX,
					  0, &c->val, 4), 4);
}

static int op_bar2_read(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					  0, &c->val, 4), 4);
}

static int op_bar2_write(struct ctx *c)
{
	c->val++;
	return err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					   0, &c->val, 4), 4);
}

static int op_bar2_read4k(struct ctx *c)
{
	return err_io(vfiosim_region_read(c->dev, VFIO_PCI_BAR2_REGION_INDEX,
					  0, c->dst, BULK), BULK);
}

static int op_mmap_read(struct ctx *c)
{
	c->val += c->bar2[0];
	return 0;
}

static int op_mmap_write(struct ctx *c)
{
	c->bar2[1] = ++c->val;
	return 0;
}

/*
 * The doorbell signals the eventfd synchronously inside the write, so a
 * non-blocking read right after must find it; EAGAIN means it was lost.
 */
static int op_doorbell(struct ctx *c)
{
	uint64_t v;
	int ret;

	ret = err_io(vfiosim_region_write(c->dev, VFIO_PCI_BAR0_REGION_INDEX,
					  VFIOSIM_REG_DOORBELL, &(uint32_t){ 0 },
					  4), 4);
	if (ret)
		return ret;
	if (read(c->irq_efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return 0;
}

static int raw_read(struct raw_dev *r, uint32_t index, uint64_t off,
		    void *buf, size_t count)
{
	ssize_t n = pread(r->device, buf, count, (off_t)(r->offset[index] + off));

	return err_io(n < 0 ? -errno : n, count);
}

static int op_mtty_cfg_read(struct ctx *c)
{
	if (c->peer)
		return err_io(vfiosim_region_read(c->peer,
						  VFIO_PCI_CONFIG_REGION_INDEX,
						  0, &c->val, 4), 4);
	return raw_read(&c->raw_peer, VFIO_PCI_CONFIG_REGION_INDEX, 0,
			&c->val, 4);
}

static int op_raw_bar0_read(struct ctx *c)
{
	return raw_read(&c->raw_dev, VFIO_PCI_BAR0_REGION_INDEX,
			VFIOSIM_REG_SCRATCH0, &c->val, 4);
}

static void raw_close(struct raw_dev *r)
{
	/* Device, then group, then container, as VFIO wants. */
	if (r->device >= 0)
		close(r->device);
	if (r->group >= 0)
		close(r->group);
	if (r->container >= 0)
		close(r->container);
	r->device = r->group = r->container = -1;
}

static int raw_fail(struct raw_dev *r, char *err, size_t len, const char *what)
{
	int ret = -errno;

	snprintf(err, len, "%s: %s", what, strerror(errno));
	raw_close(r);
	return ret ? ret : -EIO;
}

/* "vfio:<uuid>" -> group from sysfs, type1v2 container, device fd. */
static int raw_open(struct raw_dev *r, const char *spec, char *err,
		    size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *uuid, *slash;
	uint32_t i;
	ssize_t n;

	r->device = r->group = r->container = -1;
	if (strncmp(spec, "vfio:", 5)) {
		snprintf(err, len, "%s: only vfio:<uuid> can be opened raw",
			 spec);
		return -EINVAL;
	}
	uuid = spec + 5;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return raw_fail(r, err, len, path);
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%.32s", slash ? slash + 1 : link);
	r->group = open(path, O_RDWR | O_CLOEXEC);
	if (r->group < 0)
		return raw_fail(r, err, len, path);
	r->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (r->container < 0)
		return raw_fail(r, err, len, "/dev/vfio/vfio");
	if (ioctl(r->group, VFIO_GROUP_SET_CONTAINER, &r->container))
		return raw_fail(r, err, len, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(r->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return raw_fail(r, err, len, "VFIO_SET_IOMMU");
	r->device = ioctl(r->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (r->device < 0)
		return raw_fail(r, err, len, "VFIO_GROUP_GET_DEVICE_FD");
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info ri = {
			.argsz = sizeof(ri), .index = i,
		};

		/* Regions a device lacks stay at offset 0: never used. */
		if (!ioctl(r->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
			r->offset[i] = ri.offset;
	}
	return 0;
}

static int irq_enable(struct ctx *c, uint32_t index)
{
	c->irq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->irq_efd < 0)
		return -errno;
	return vfiosim_irq_set_eventfd(c->dev, index, 0, c->irq_efd);
}

/* DATA_NONE with count 0 turns the whole index off, as a VMM does. */
static void irq_disable(struct ctx *c, uint32_t index)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
	};

	vfiosim_set_irqs(c->dev, &set);
	if (c->irq_efd >= 0)
		close(c->irq_efd);
	c->irq_efd = -1;
}

static int setup_msix(struct ctx *c)
{
	return irq_enable(c, VFIO_PCI_MSIX_IRQ_INDEX);
}

static void teardown_msix(struct ctx *c)
{
	irq_disable(c, VFIO_PCI_MSIX_IRQ_INDEX);
}

static int setup_msi(struct ctx *c)
{
	return irq_enable(c, VFIO_PCI_MSI_IRQ_INDEX);
}

static void teardown_msi(struct ctx *c)
{
	irq_disable(c, VFIO_PCI_MSI_IRQ_INDEX);
}

/* NEED_RAW rows run last, once libvfiosim has let go of the group. */
enum need { NEED_NONE, NEED_DEV, NEED_MMAP, NEED_PEER, NEED_RAW };

enum row_id {
	R_CLOCK, R_GETPPID, R_EVENTFD, R_MEMCPY4, R_MEMCPY4K,
	R_BAR0_RD, R_RAW_BAR0_RD, R_BAR0_WR, R_CFG_RD, R_BAR2_RD, R_BAR2_WR,
	R_MMAP_RD, R_MMAP_WR, R_BAR2_RD4K, R_IRQ_MSIX, R_IRQ_MSI,
	R_MTTY_CFG, R_NUM
};

enum state { ST_NOTRUN, ST_OK, ST_FAILED, ST_SKIPPED };

struct row {
	const char *name;	/* table and JSON */
	int (*op)(struct ctx *c);
	int (*setup)(struct ctx *c);
	void (*teardown)(struct ctx *c);
	enum need need;
	int floor;		/* row it is compared with, or -1 */
	int peer;		/* mtty row it is compared with, or -1 */
	enum state state;
	double median, p99;
	char note[160];
};

static struct row rows[R_NUM] = {
	[R_CLOCK] = { "clock_gettime", op_clock, .floor = -1, .peer = -1 },
	[R_GETPPID] = { "getppid syscall", op_getppid, .floor = -1, .peer = -1 },
	[R_EVENTFD] = { "eventfd write+read", op_eventfd, .floor = -1,
			.peer = -1 },
	[R_MEMCPY4] = { "memcpy 4 B", op_memcpy4, .floor = -1, .peer = -1 },
	[R_MEMCPY4K] = { "memcpy 4 KiB", op_memcpy4k, .floor = -1,
			 .peer = -1 },
	[R_BAR0_RD] = { "BAR0 read 4 B", op_bar0_read, .need = NEED_DEV,
			.floor = R_GETPPID, .peer = R_MTTY_CFG },
	[R_RAW_BAR0_RD] = { "BAR0 read 4 B (bare pread)", op_raw_bar0_read,
			    .need = NEED_RAW, .floor = R_GETPPID,
			    .peer = R_MTTY_CFG },
	[R_BAR0_WR] = { "BAR0 write 4 B", op_bar0_write, .need = NEED_DEV,
			.floor = R_GETPPID, .peer = R_MTTY_CFG },
	[R_CFG_RD] = { "config read 4 B", op_cfg_read, .need = NEED_DEV,
		       .floor = R_GETPPID, .peer = R_MTTY_CFG },
	[R_BAR2_RD] = { "BAR2 read 4 B (region op)", op_bar2_read,
			.need = NEED_DEV, .floor = R_GETPPID, .peer = -1 },
	[R_BAR2_WR] = { "BAR2 write 4 B (region op)", op_bar2_write,
			.need = NEED_DEV, .floor = R_GETPPID, .peer = -1 },
	[R_MMAP_RD] = { "BAR2 read 4 B (mmap)", op_mmap_read,
			.need = NEED_MMAP, .floor = R_MEMCPY4, .peer = -1 },
	[R_MMAP_WR] = { "BAR2 write 4 B (mmap)", op_mmap_write,
			.need = NEED_MMAP, .floor = R_MEMCPY4, .peer = -1 },
	[R_BAR2_RD4K] = { "BAR2 read 4 KiB (region op)", op_bar2_read4k,
			  .need = NEED_DEV, .floor = R_MEMCPY4K, .peer = -1 },
	[R_IRQ_MSIX] = { "doorbell -> MSI-X eventfd", op_doorbell,
			 setup_msix, teardown_msix, NEED_DEV,
			 .floor = R_EVENTFD, .peer = -1 },
	[R_IRQ_MSI] = { "doorbell -> MSI eventfd", op_doorbell,
			setup_msi, teardown_msi, NEED_DEV,
			.floor = R_EVENTFD, .peer = -1 },
	[R_MTTY_CFG] = { "mtty config pread 4 B", op_mtty_cfg_read,
			 .need = NEED_PEER, .floor = R_GETPPID, .peer = -1 },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double ts_ns(const struct timespec *t)
{
	return (double)t->tv_sec * 1e9 + (double)t->tv_nsec;
}

/* Median and p99 (nearest rank) of n sorted samples. */
static void summarize(double *s, size_t n, double *median, double *p99)
{
	size_t rank = (n * 99 + 99) / 100;

	qsort(s, n, sizeof(*s), cmp_double);
	*median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	*p99 = s[rank ? rank - 1 : 0];
}

static int measure(struct ctx *c, struct row *r, unsigned int iters,
		   unsigned int batch, double *samples)
{
	unsigned int nbatch = iters / batch, warm = iters / 10, i, j;
	struct timespec t0, t1;
	int ret;

	/* Warm-up: fault in mmaps and BAR2 pages, settle caches. */
	for (i = 0; i < warm; i++) {
		ret = r->op(c);
		if (ret)
			return ret;
	}
	for (i = 0; i < nbatch; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (j = 0; j < batch; j++) {
			ret = r->op(c);
			if (ret)
				return ret;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		samples[i] = (ts_ns(&t1) - ts_ns(&t0)) / batch;
	}
	summarize(samples, nbatch, &r->median, &r->p99);
	return 0;
}

static double ratio(int num, int den)
{
	if (den < 0 || rows[num].state != ST_OK || rows[den].state != ST_OK ||
	    rows[den].median <= 0)
		return -1;
	return rows[num].median / rows[den].median;
}

static void print_table(FILE *f)
{
	int i;

	fprintf(f, "%-28s %10s %10s  %-20s %8s %8s\n", "benchmark",
		"median ns", "p99 ns", "floor", "x floor", "x mtty");
	for (i = 0; i < R_NUM; i++) {
		const struct row *r = &rows[i];
		double fr = ratio(i, r->floor), pr = ratio(i, r->peer);
		char fbuf[16] = "-", pbuf[16] = "-";

		if (r->state != ST_OK) {
			fprintf(f, "%-28s %s\n", r->name,
				r->state == ST_SKIPPED ? r->note : r->note[0] ?
				r->note : "not run");
			continue;
		}
		if (fr >= 0)
			snprintf(fbuf, sizeof(fbuf), "%.2f", fr);
		if (pr >= 0)
			snprintf(pbuf, sizeof(pbuf), "%.2f", pr);
		fprintf(f, "%-28s %10.0f %10.0f  %-20s %8s %8s\n", r->name,
			r->median, r->p99,
			r->floor >= 0 ? rows[r->floor].name : "-", fbuf, pbuf);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (v < 0)
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

static int write_json(const char *path, const char *dev, const char *peer,
		      const char *peer_path, unsigned int iters,
		      unsigned int batch)
{
	static const char * const states[] = {
		[ST_NOTRUN] = "not run", [ST_OK] = "ok",
		[ST_FAILED] = "failed", [ST_SKIPPED] = "skipped",
	};
	double acc = ratio(R_BAR0_RD, R_MTTY_CFG);
	struct utsname u;
	FILE *f;
	int i;

	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	fputs("{\n  \"tool\": \"vfiosim-bench\",\n  \"kernel\": ", f);
	json_str(f, u.release);
	fputs(",\n  \"dev\": ", f);
	json_str(f, dev);
	fputs(",\n  \"peer\": ", f);
	if (peer)
		json_str(f, peer);
	else
		fputs("null", f);
	fputs(",\n  \"peer_path\": ", f);
	json_str(f, peer_path);
	fprintf(f, ",\n  \"timing\": { \"clock\": \"CLOCK_MONOTONIC\", "
		"\"iterations\": %u, \"batch\": %u, \"samples\": %u, "
		"\"warmup\": %u, \"unit\": \"ns/op\" },\n", iters, batch,
		iters / batch, iters / 10);
	fputs("  \"results\": [\n", f);
	for (i = 0; i < R_NUM; i++) {
		const struct row *r = &rows[i];
		bool ok = r->state == ST_OK;

		fputs("    { \"name\": ", f);
		json_str(f, r->name);
		fputs(", \"status\": ", f);
		json_str(f, states[r->state]);
		fputs(", \"median_ns\": ", f);
		json_num(f, ok ? r->median : -1);
		fputs(", \"p99_ns\": ", f);
		json_num(f, ok ? r->p99 : -1);
		fputs(", \"floor\": ", f);
		if (r->floor >= 0)
			json_str(f, rows[r->floor].name);
		else
			fputs("null", f);
		fputs(", \"floor_ratio\": ", f);
		json_num(f, ratio(i, r->floor));
		fputs(", \"mtty_ratio\": ", f);
		json_num(f, ratio(i, r->peer));
		if (r->note[0]) {
			fputs(", \"note\": ", f);
			json_str(f, r->note);
		}
		fprintf(f, " }%s\n", i + 1 < R_NUM ? "," : "");
	}
	fputs("  ],\n  \"acceptance\": { \"metric\": \"ioctl BAR0 read median "
	      "/ mtty pread median\", \"value\": ", f);
	json_num(f, acc);
	fputs(", \"bare_pread_value\": ", f);
	json_num(f, ratio(R_RAW_BAR0_RD, R_MTTY_CFG));
	fprintf(f, ", \"target_max\": %.1f, \"pass\": %s }\n}\n",
		ACCEPT_RATIO, acc < 0 ? "null" :
		acc <= ACCEPT_RATIO ? "true" : "false");
	if (fclose(f)) {
		fprintf(stderr, "vfiosim-bench: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static struct vfiosim_dev *open_dev(const char *spec, bool quiet)
{
	struct vfiosim_dev *d = vfiosim_dev_alloc();
	int ret;

	if (!d) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return NULL;
	}
	ret = vfiosim_dev_open(d, spec);
	if (ret) {
		if (!quiet)
			fprintf(stderr, "vfiosim-bench: open %s: %s\n", spec,
				vfiosim_dev_error(d));
		else
			printf("vfiosim-bench: libvfiosim cannot open the peer (%s);\n"
			       "  using bare VFIO for it: the same single pread per access\n",
			       vfiosim_dev_error(d));
		vfiosim_dev_free(d);
		return NULL;
	}
	return d;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfiosim-bench --dev vfio:<uuid> [--peer vfio:<mtty uuid>]\n"
		"                     [--iters N] [--batch N] [--json FILE]\n"
		"  --iters N   timed ops per benchmark (default %u; +10%% warm-up)\n"
		"  --batch N   ops per clock_gettime pair (default %u; 1 = per op)\n",
		DEF_ITERS, DEF_BATCH);
}

static void run_row(struct ctx *c, struct row *r, unsigned int iters,
		    unsigned int batch, double *samples)
{
	int ret = 0;

	if ((r->need == NEED_PEER && !c->peer && c->raw_peer.device < 0) ||
	    (r->need == NEED_RAW && c->raw_dev.device < 0)) {
		r->state = ST_SKIPPED;
		if (!r->note[0])
			snprintf(r->note, sizeof(r->note),
				 "skipped: no --peer given");
		return;
	}
	if (r->need == NEED_MMAP && !c->bar2) {
		r->state = ST_FAILED;
		snprintf(r->note, sizeof(r->note),
			 "failed: BAR2 mmap unavailable");
		return;
	}
	if (r->setup)
		ret = r->setup(c);
	if (!ret)
		ret = measure(c, r, iters, batch, samples);
	if (r->teardown)
		r->teardown(c);
	if (!ret) {
		r->state = ST_OK;
		return;
	}
	r->state = ST_FAILED;
	if ((r->need == NEED_DEV || r->need == NEED_MMAP) && c->dev)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->dev));
	else if (r->need == NEED_PEER && c->peer)
		snprintf(r->note, sizeof(r->note), "failed: %s (%s)",
			 strerror(-ret), vfiosim_dev_error(c->peer));
	else
		snprintf(r->note, sizeof(r->note), "failed: %s",
			 strerror(-ret));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'p' },
		{ "iters", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *dev_spec = NULL, *peer_spec = NULL, *json = NULL;
	const char *peer_path = "none";
	unsigned int iters = DEF_ITERS, batch = DEF_BATCH;
	char err[256];
	struct ctx *c;
	double *samples, acc;
	void *map = NULL;
	int opt, i, failed = 0;

	while ((opt = getopt_long(argc, argv, "d:p:n:b:j:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dev_spec = optarg;
			break;
		case 'p':
			peer_spec = optarg;
			break;
		case 'n':
			iters = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			batch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dev_spec || optind != argc || !batch || iters < batch) {
		usage(stderr);
		return 2;
	}

	c = aligned_alloc(64, sizeof(*c));
	samples = calloc(iters / batch, sizeof(*samples));
	if (!c || !samples) {
		fprintf(stderr, "vfiosim-bench: out of memory\n");
		return 1;
	}
	memset(c, 0, sizeof(*c));
	c->copy = memcpy;
	c->irq_efd = -1;
	c->raw_peer.device = c->raw_peer.group = c->raw_peer.container = -1;
	c->raw_dev.device = c->raw_dev.group = c->raw_dev.container = -1;
	c->loop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->loop_efd < 0) {
		perror("vfiosim-bench: eventfd");
		return 1;
	}

	c->dev = open_dev(dev_spec, false);
	if (!c->dev)
		return 1;
	/* A known state: no interrupt mode, no masks, registers at reset. */
	if (vfiosim_reset(c->dev))
		fprintf(stderr, "vfiosim-bench: reset %s: %s (continuing)\n",
			dev_spec, vfiosim_dev_error(c->dev));
	if (vfiosim_region_mmap(c->dev, VFIO_PCI_BAR2_REGION_INDEX, 0, BULK,
				PROT_READ | PROT_WRITE, &map)) {
		fprintf(stderr, "vfiosim-bench: %s\n", vfiosim_dev_error(c->dev));
		map = NULL;
	}
	c->bar2 = map;
	if (peer_spec) {
		c->peer = open_dev(peer_spec, true);
		peer_path = "libvfiosim";
		if (!c->peer) {
			if (raw_open(&c->raw_peer, peer_spec, err, sizeof(err))) {
				fprintf(stderr, "vfiosim-bench: open %s: %s\n",
					peer_spec, err);
				return 1;
			}
			peer_path = "bare VFIO";
		}
	}

	/*
	 * Nothing is printed while measuring: under TCG, console output
	 * drained by the other vCPU slows this one down.
	 */
	for (i = 0; i < R_NUM; i++)
		if (rows[i].need != NEED_RAW)
			run_row(c, &rows[i], iters, batch, samples);

	/* Let go of the group so the bare-VFIO rows can open it. */
	if (map)
		munmap(map, BULK);
	vfiosim_dev_free(c->dev);
	c->dev = NULL;
	if (raw_open(&c->raw_dev, dev_spec, err, sizeof(err)))
		snprintf(rows[R_RAW_BAR0_RD].note,
			 sizeof(rows[R_RAW_BAR0_RD].note),
			 "skipped: bare VFIO open failed: %.120s", err);
	for (i = 0; i < R_NUM; i++)
		if (rows[i].need == NEED_RAW)
			run_row(c, &rows[i], iters, batch, samples);

	for (i = 0; i < R_NUM; i++)
		failed += rows[i].state == ST_FAILED;

	printf("vfiosim-bench: dev %s, peer %s (%s)\n"
	       "  %u ops per benchmark, timed in batches of %u, after %u warm-up ops\n\n",
	       dev_spec, peer_spec ? peer_spec : "none: mtty rows skipped",
	       peer_path, iters, batch, iters / 10);
	print_table(stdout);
	printf("\n(ns/op; x floor = median / median of the floor row; x mtty = median / mtty config pread median)\n\n");
	acc = ratio(R_BAR0_RD, R_MTTY_CFG);
	if (acc >= 0)
		printf("ioctl BAR0 read median / mtty pread median = %.2f (target <= %.1f): %s\n",
		       acc, ACCEPT_RATIO, acc <= ACCEPT_RATIO ? "PASS" : "FAIL");
	else
		printf("ioctl BAR0 read median / mtty pread median = n/a (target <= %.1f): no mtty peer measured\n",
		       ACCEPT_RATIO);
	if (ratio(R_RAW_BAR0_RD, R_MTTY_CFG) >= 0)
		printf("  same path on both sides (bare pread / mtty %s pread) = %.2f\n",
		       peer_path, ratio(R_RAW_BAR0_RD, R_MTTY_CFG));

	if (json && write_json(json, dev_spec, peer_spec, peer_path, iters,
			       batch))
		failed++;

	raw_close(&c->raw_dev);
	raw_close(&c->raw_peer);
	if (c->peer)
		vfiosim_dev_free(c->peer);
	close(c->loop_efd);
	free(samples);
	free(c);
	return failed ? 1 : 0;
}
