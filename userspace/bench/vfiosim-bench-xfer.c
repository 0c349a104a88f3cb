// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim-bench-xfer: what the device moves in bulk, per backend: DMA
 * engine copies of 4 KiB, 64 KiB and 1 MiB, as a bandwidth ratio to a
 * memcpy of the same size measured in the same run.
 *
 *   vfiosim-bench-xfer --dev SPEC [--dev SPEC]... [--iters N] [--json FILE]
 *
 * Each SPEC (vfio:<uuid>, netlink:<uuid>, unix:<path>) names its own
 * vfiosim device.  The source and destination are the two halves of one
 * memfd, mapped for DMA at XFER_IOVA, so that every backend can reach it
 * (VFIO through the process address, vfio-user through the file).  One
 * sample is one transfer: the GO write, the engine's work and the
 * completion MSI-X eventfd the bench blocks on.  The first transfer of
 * each size is checked byte for byte.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/vfiosim.h>

#include "vfiosim.h"

#define XFER_IOVA	0x100000000ULL
#define XFER_HALF	VFIOSIM_DMA_MAX_LEN
#define XFER_MAX_DEVS	4
#define XFER_TIMEOUT_MS	5000
#define DEF_ITERS	2000	/* 4 KiB transfers; fewer of the larger */
#define ACCEPT_1M_VFIO	0.5	/* DMA copy 1 MiB over VFIO / memcpy */

static const size_t sizes[] = { 4096, 65536, XFER_HALF };
#define NUM_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

struct stat_ns {
	double median, p99;
	bool ok;
	char note[160];
};

struct xfer_dev {
	const char *spec;
	struct vfiosim_dev *dev;
	int efd;
	struct stat_ns st[NUM_SIZES];
};

struct xfer {
	unsigned char *mem;	/* 2 * XFER_HALF, shared, from memfd */
	int memfd;
	unsigned int iters;
	double *samples;
	void *(*volatile copy)(void *, const void *, size_t);
	struct stat_ns memcpy_st[NUM_SIZES];
	struct xfer_dev devs[XFER_MAX_DEVS];
	unsigned int ndevs;
};

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void summarize(double *s, size_t n, struct stat_ns *st)
{
	size_t rank = (n * 99 + 99) / 100;

	qsort(s, n, sizeof(*s), cmp_double);
	st->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	st->p99 = s[rank ? rank - 1 : 0];
	st->ok = true;
}

/* 4 KiB: iters; 64 KiB: iters / 8; 1 MiB: iters / 40; at least 25. */
static unsigned int iters_for(const struct xfer *x, size_t size)
{
	unsigned int n = size <= 4096 ? x->iters : size <= 65536 ?
			 x->iters / 8 : x->iters / 40;

	return n < 25 ? 25 : n;
}

static void measure_memcpy(struct xfer *x)
{
	unsigned int s, i, n;
	double t0;

	for (s = 0; s < NUM_SIZES; s++) {
		n = iters_for(x, sizes[s]);
		for (i = 0; i < n / 10; i++)
			x->copy(x->mem + XFER_HALF, x->mem, sizes[s]);
		for (i = 0; i < n; i++) {
			t0 = now_ns();
			x->copy(x->mem + XFER_HALF, x->mem, sizes[s]);
			x->samples[i] = now_ns() - t0;
		}
		summarize(x->samples, n, &x->memcpy_st[s]);
	}
}

static int reg_write(struct xfer_dev *d, uint32_t off, uint32_t val)
{
	return vfiosim_write32(d->dev, VFIO_PCI_BAR0_REGION_INDEX, off, val);
}

static int program(struct xfer_dev *d, size_t size)
{
	static const struct { uint32_t off; uint64_t val; } regs[] = {
		{ VFIOSIM_REG_DMA_SRC_LO, XFER_IOVA & 0xffffffff },
		{ VFIOSIM_REG_DMA_SRC_HI, XFER_IOVA >> 32 },
		{ VFIOSIM_REG_DMA_DST_LO, (XFER_IOVA + XFER_HALF) & 0xffffffff },
		{ VFIOSIM_REG_DMA_DST_HI, (XFER_IOVA + XFER_HALF) >> 32 },
		{ VFIOSIM_REG_DMA_OP, VFIOSIM_DMA_OP_COPY },
		{ VFIOSIM_REG_DMA_VECTOR, 0 },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		ret = reg_write(d, regs[i].off, (uint32_t)regs[i].val);
		if (ret)
			return ret;
	}
	return reg_write(d, VFIOSIM_REG_DMA_LEN, (uint32_t)size);
}

/* GO, then the completion interrupt; 0 once STATUS says DONE. */
static int one_transfer(struct xfer_dev *d, uint32_t *status)
{
	struct pollfd pfd = { .fd = d->efd, .events = POLLIN };
	uint64_t v;
	int ret;

	ret = reg_write(d, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO);
	if (ret)
		return ret;
	ret = poll(&pfd, 1, XFER_TIMEOUT_MS);
	if (ret <= 0)
		return ret ? -errno : -ETIMEDOUT;
	if (read(d->efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	ret = vfiosim_read32(d->dev, VFIO_PCI_BAR0_REGION_INDEX,
			     VFIOSIM_REG_DMA_STATUS, status);
	if (ret)
		return ret;
	return *status == VFIOSIM_DMA_STATUS_DONE ? 0 : -EIO;
}

static void fail(struct stat_ns *st, const char *what, int err,
		 const struct xfer_dev *d)
{
	snprintf(st->note, sizeof(st->note), "failed: %s: %s (%s)", what,
		 strerror(-err), vfiosim_dev_error(d->dev));
}

static void measure_size(struct xfer *x, struct xfer_dev *d, unsigned int s)
{
	size_t size = sizes[s];
	unsigned int n = iters_for(x, size), i;
	struct stat_ns *st = &d->st[s];
	uint32_t status = 0;
	double t0;
	int ret;

	ret = program(d, size);
	if (ret) {
		fail(st, "programming the engine", ret, d);
		return;
	}
	for (i = 0; i < size; i++)
		x->mem[i] = (unsigned char)(i * 7 + s + 1);
	memset(x->mem + XFER_HALF, 0, size);
	ret = one_transfer(d, &status);
	if (ret) {
		snprintf(st->note, sizeof(st->note),
			 "failed: first %zu-byte copy: %s, DMA_STATUS %u",
			 size, strerror(-ret), status);
		return;
	}
	if (memcmp(x->mem, x->mem + XFER_HALF, size)) {
		snprintf(st->note, sizeof(st->note),
			 "failed: %zu-byte copy: destination differs", size);
		return;
	}
	for (i = 0; i < n / 10; i++)
		if (one_transfer(d, &status))
			break;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		ret = one_transfer(d, &status);
		if (ret) {
			snprintf(st->note, sizeof(st->note),
				 "failed: copy %u of %u: %s, DMA_STATUS %u",
				 i, n, strerror(-ret), status);
			return;
		}
		x->samples[i] = now_ns() - t0;
	}
	summarize(x->samples, n, st);
}

static int dev_setup(struct xfer *x, struct xfer_dev *d)
{
	struct vfiosim_dma_map map = {
		.iova = XFER_IOVA, .size = 2 * XFER_HALF, .vaddr = x->mem,
		.fd = x->memfd, .offset = 0,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	int ret;

	d->efd = -1;
	d->dev = vfiosim_dev_alloc();
	if (!d->dev)
		return -ENOMEM;
	ret = vfiosim_dev_open(d->dev, d->spec);
	if (!ret)
		ret = vfiosim_dma_map(d->dev, &map);
	if (ret)
		return ret;
	d->efd = eventfd(0, EFD_CLOEXEC);
	if (d->efd < 0)
		return -errno;
	return vfiosim_irq_set_eventfd(d->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0,
				       d->efd);
}

static void dev_teardown(struct xfer_dev *d)
{
	if (d->dev)
		vfiosim_dev_free(d->dev);	/* unmaps, drops the trigger */
	if (d->efd >= 0)
		close(d->efd);
}

static double bw_ratio(const struct stat_ns *dma, const struct stat_ns *cp)
{
	if (!dma->ok || !cp->ok || dma->median <= 0)
		return -1;
	return cp->median / dma->median;
}

static double mb_s(size_t size, const struct stat_ns *st)
{
	return st->ok && st->median > 0 ? size / st->median * 1e3 : -1;
}

static void print_table(const struct xfer *x)
{
	unsigned int i, s;

	printf("%-34s %11s %11s %10s %11s\n", "benchmark", "median us",
	       "p99 us", "MB/s", "x memcpy bw");
	for (s = 0; s < NUM_SIZES; s++)
		printf("%-34s %11.1f %11.1f %10.0f %11s\n",
		       (const char *[]){ "memcpy 4 KiB", "memcpy 64 KiB",
					 "memcpy 1 MiB" }[s],
		       x->memcpy_st[s].median / 1e3, x->memcpy_st[s].p99 / 1e3,
		       mb_s(sizes[s], &x->memcpy_st[s]), "1.00");
	for (i = 0; i < x->ndevs; i++) {
		const struct xfer_dev *d = &x->devs[i];

		for (s = 0; s < NUM_SIZES; s++) {
			char name[64];

			snprintf(name, sizeof(name), "DMA copy %zu KiB (%s)",
				 sizes[s] / 1024, vfiosim_dev_backend(d->dev));
			if (!d->st[s].ok) {
				printf("%-34s %s\n", name, d->st[s].note);
				continue;
			}
			printf("%-34s %11.1f %11.1f %10.0f %11.2f\n", name,
			       d->st[s].median / 1e3, d->st[s].p99 / 1e3,
			       mb_s(sizes[s], &d->st[s]),
			       bw_ratio(&d->st[s], &x->memcpy_st[s]));
		}
	}
}

/* The 1 MiB VFIO ratio, against ACCEPT_1M_VFIO; -1 if not measured. */
static double accept_value(const struct xfer *x)
{
	unsigned int i;

	for (i = 0; i < x->ndevs; i++)
		if (!strcmp(vfiosim_dev_backend(x->devs[i].dev), "vfio"))
			return bw_ratio(&x->devs[i].st[NUM_SIZES - 1],
					&x->memcpy_st[NUM_SIZES - 1]);
	return -1;
}

static json_t *stat_json(const char *name, const char *backend, size_t size,
			 const struct stat_ns *st, const struct stat_ns *cp)
{
	json_t *o = json_pack("{s:s, s:s?, s:I, s:s}", "name", name,
			      "backend", backend, "bytes", (json_int_t)size,
			      "status", st->ok ? "ok" : "failed");

	if (!o)
		return NULL;
	if (st->ok) {
		json_object_set_new(o, "median_ns", json_real(st->median));
		json_object_set_new(o, "p99_ns", json_real(st->p99));
		json_object_set_new(o, "mb_s", json_real(mb_s(size, st)));
		if (cp)
			json_object_set_new(o, "memcpy_bw_ratio",
					    json_real(bw_ratio(st, cp)));
	} else {
		json_object_set_new(o, "note", json_string(st->note));
	}
	return o;
}

static int write_json(const struct xfer *x, const char *path)
{
	json_t *root, *rows;
	double acc = accept_value(x);
	unsigned int i, s;
	char name[64];
	int ret;

	rows = json_array();
	for (s = 0; s < NUM_SIZES; s++) {
		snprintf(name, sizeof(name), "memcpy %zu KiB", sizes[s] / 1024);
		json_array_append_new(rows, stat_json(name, NULL, sizes[s],
						      &x->memcpy_st[s], NULL));
	}
	for (i = 0; i < x->ndevs; i++)
		for (s = 0; s < NUM_SIZES; s++) {
			const char *b = vfiosim_dev_backend(x->devs[i].dev);

			snprintf(name, sizeof(name), "DMA copy %zu KiB (%s)",
				 sizes[s] / 1024, b);
			json_array_append_new(rows,
				stat_json(name, b, sizes[s], &x->devs[i].st[s],
					  &x->memcpy_st[s]));
		}
	root = json_pack("{s:s, s:o, s:{s:s, s:o, s:f, s:o}}",
			 "tool", "vfiosim-bench-xfer", "results", rows,
			 "acceptance", "metric",
			 "DMA copy 1 MiB over VFIO bandwidth / memcpy",
			 "value", acc < 0 ? json_null() : json_real(acc),
			 "target_min", ACCEPT_1M_VFIO,
			 "pass", acc < 0 ? json_null() :
			 json_boolean(acc >= ACCEPT_1M_VFIO));
	if (!root) {
		fprintf(stderr, "vfiosim-bench-xfer: %s: out of memory\n",
			path);
		return -1;
	}
	ret = json_dump_file(root, path, JSON_INDENT(2));
	json_decref(root);
	if (ret)
		fprintf(stderr, "vfiosim-bench-xfer: %s: cannot write\n", path);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vfiosim-bench-xfer --dev SPEC [--dev SPEC]... [--iters N] [--json FILE]\n"
		"  --dev    a vfiosim device (vfio:<uuid>, netlink:<uuid>, unix:<path>), up to %d\n"
		"  --iters  4 KiB transfers timed (default %u; 64 KiB: /8, 1 MiB: /40)\n",
		XFER_MAX_DEVS, DEF_ITERS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "iters", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct xfer x = { .iters = DEF_ITERS, .memfd = -1 };
	const char *json = NULL;
	unsigned int i, s;
	int opt, failed = 0, ret;
	double acc;

	while ((opt = getopt_long(argc, argv, "d:n:j:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (x.ndevs == XFER_MAX_DEVS) {
				usage(stderr);
				return 2;
			}
			x.devs[x.ndevs++].spec = optarg;
			break;
		case 'n':
			x.iters = (unsigned int)strtoul(optarg, NULL, 0);
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
	if (!x.ndevs || optind != argc || !x.iters) {
		usage(stderr);
		return 2;
	}
	x.copy = memcpy;
	x.samples = calloc(x.iters < 25 ? 25 : x.iters, sizeof(double));
	x.memfd = memfd_create("vfiosim-bench-xfer", MFD_CLOEXEC);
	if (!x.samples || x.memfd < 0 || ftruncate(x.memfd, 2 * XFER_HALF)) {
		perror("vfiosim-bench-xfer: memfd");
		return 1;
	}
	x.mem = mmap(NULL, 2 * XFER_HALF, PROT_READ | PROT_WRITE, MAP_SHARED,
		     x.memfd, 0);
	if (x.mem == MAP_FAILED) {
		perror("vfiosim-bench-xfer: mmap of the memfd");
		return 1;
	}
	memset(x.mem, 0, 2 * XFER_HALF);	/* every page present */

	measure_memcpy(&x);
	for (i = 0; i < x.ndevs; i++) {
		struct xfer_dev *d = &x.devs[i];

		ret = dev_setup(&x, d);
		for (s = 0; s < NUM_SIZES; s++) {
			if (ret)
				fail(&d->st[s], d->spec, ret, d);
			else
				measure_size(&x, d, s);
			failed += !d->st[s].ok;
		}
	}

	printf("vfiosim-bench-xfer: DMA engine COPY, source and destination in one memfd at IOVA %#llx\n"
	       "  (one sample = GO write to completion MSI-X; x memcpy bw = memcpy median / DMA median)\n\n",
	       XFER_IOVA);
	print_table(&x);
	acc = accept_value(&x);
	if (acc >= 0)
		printf("\nDMA copy 1 MiB over VFIO bandwidth / memcpy = %.2f (target >= %.1f): %s\n",
		       acc, ACCEPT_1M_VFIO, acc >= ACCEPT_1M_VFIO ? "PASS" :
		       "FAIL");
	else
		printf("\nDMA copy 1 MiB over VFIO bandwidth / memcpy = n/a (target >= %.1f): not measured\n",
		       ACCEPT_1M_VFIO);
	if (json && write_json(&x, json))
		failed++;

	for (i = 0; i < x.ndevs; i++)
		dev_teardown(&x.devs[i]);
	munmap(x.mem, 2 * XFER_HALF);
	close(x.memfd);
	free(x.samples);
	return failed ? 1 : 0;
}
