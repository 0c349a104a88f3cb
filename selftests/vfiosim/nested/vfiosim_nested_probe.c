// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim_nested_probe: runs as PID 1's child in the nested guest (L2).
 * There the vfiosim device is an ordinary PCI function that a VMM in L1
 * (QEMU's vfio-pci or vfio-user-pci) presents, bound to L2's own vfio-pci.
 * This program drives it through the raw VFIO type1 container/group API
 * and prints TAP, one line per check, the plan last.
 *
 *   vfiosim_nested_probe BDF        e.g. 0000:00:03.0
 *   vfiosim_nested_probe --watch BDF NONCE SECONDS
 *
 * --watch is the fault phase of vfiosim_nested.sh: L1 holds the VMM's
 * replies past its message timeout, and this reads the ID register once a
 * second to show what such a read returns to the guest, and after how
 * long.  Its checks are unnumbered ("ok - ...") and it prints no plan, so
 * that they add to the probe's TAP rather than replace it.
 *
 * Statically linked (the L2 initramfs has no libc); no libvfiosim.  Every
 * expected value comes from uapi/linux/vfiosim.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "linux/vfiosim.h"
#include "tap.h"

#define IRQ_WAIT_MS	20000	/* an interrupt that must come (nested TCG) */
#define QUIET_MS	2000	/* an interrupt that must not come */
#define DMA_IOVA	0x10000000ULL
#define DMA_SIZE	(1U << 20)

struct model {
	uint16_t device_id;
	const char *type;
	uint64_t bar2_size;
	uint32_t msi, msix;
};

static const struct model models[] = {
	{ VFIOSIM_PCI_DEVICE_SMALL, "vfiosim-small", VFIOSIM_BAR2_SIZE_SMALL,
	  VFIOSIM_MSI_VECTORS_SMALL, VFIOSIM_MSIX_VECTORS_SMALL },
	{ VFIOSIM_PCI_DEVICE_FULL, "vfiosim-full", VFIOSIM_BAR2_SIZE_FULL,
	  VFIOSIM_MSI_VECTORS_FULL, VFIOSIM_MSIX_VECTORS_FULL },
};

static int devfd = -1;
static struct vfio_region_info cfg_info, bar0_info;
static bool io_error;

static bool region_info(uint32_t index, struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, info) == 0;
}

static uint32_t rd(const struct vfio_region_info *r, uint64_t off, int len)
{
	uint32_t v = 0;

	if (pread(devfd, &v, len, r->offset + off) != len) {
		diag("read of %d bytes at 0x%" PRIx64 " in region %u: %s",
		     len, off, r->index, strerror(errno));
		io_error = true;
		return 0xffffffff;
	}
	return v;
}

static void wr(const struct vfio_region_info *r, uint64_t off, uint32_t v,
	       int len)
{
	if (pwrite(devfd, &v, len, r->offset + off) != len) {
		diag("write of %d bytes at 0x%" PRIx64 " in region %u: %s",
		     len, off, r->index, strerror(errno));
		io_error = true;
	}
}

static uint32_t reg(uint32_t off)
{
	return rd(&bar0_info, off, 4);
}

static void reg_set(uint32_t off, uint32_t v)
{
	wr(&bar0_info, off, v, 4);
}

/* --- interrupts ---------------------------------------------------------- */

static bool set_irqs(uint32_t index, uint32_t flags, uint32_t start,
		     uint32_t count, const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + (fds ? count * sizeof(int) : 0);
	struct vfio_irq_set *set = calloc(1, sz);
	int ret;

	if (!set)
		return false;
	set->argsz = sz;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (fds)
		memcpy(set->data, fds, count * sizeof(int));
	ret = ioctl(devfd, VFIO_DEVICE_SET_IRQS, set);
	if (ret)
		diag("SET_IRQS index %u flags 0x%x count %u: %s", index, flags,
		     count, strerror(errno));
	free(set);
	return ret == 0;
}

static bool irq_disable(uint32_t index)
{
	return set_irqs(index, VFIO_IRQ_SET_DATA_NONE |
			VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL);
}

/* Wait up to ms for an eventfd; return its counter (0: nothing came). */
static uint64_t efd_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static uint64_t efd_drain(int fd)
{
	return efd_wait(fd, 0);
}

static uint32_t doorbells;	/* rung by this program */

static void doorbell(uint32_t v)
{
	reg_set(VFIOSIM_REG_DOORBELL, v);
	doorbells++;
}

static void status_clear(void)
{
	reg_set(VFIOSIM_REG_IRQ_STATUS, 0xffffffff);
}

static int efd_one(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		bail("eventfd");
	return fd;
}

static int *efds_new(unsigned int n)
{
	int *fds = calloc(n, sizeof(int));
	unsigned int i;

	if (!fds)
		bail("calloc");
	for (i = 0; i < n; i++)
		fds[i] = efd_one();
	return fds;
}

static void efds_free(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static uint32_t irq_count(uint32_t index)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(devfd, VFIO_DEVICE_GET_IRQ_INFO, &info)) {
		diag("GET_IRQ_INFO %u: %s", index, strerror(errno));
		return 0;
	}
	return info.count;
}

static void test_msix(const struct model *m)
{
	uint32_t n = irq_count(VFIO_PCI_MSIX_IRQ_INDEX), vecs[4], i, j;
	uint32_t nvec = 0;
	int *fds;

	tap(n == m->msix, "MSI-X: %u vectors (expected %u)", n, m->msix);
	if (n == 0 || n > VFIOSIM_MAX_VECTORS)
		return;
	fds = efds_new(n);
	status_clear();
	tap(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		     VFIO_IRQ_SET_ACTION_TRIGGER, 0, n, fds),
	    "MSI-X: enable %u vectors with eventfds", n);

	/* first, second, middle, last: distinct ones */
	for (i = 0; i < 4; i++) {
		uint32_t v = (uint32_t[]){ 0, 1, n / 2, n - 1 }[i];

		for (j = 0; j < nvec && vecs[j] != v; j++)
			;
		if (j == nvec && v < n)
			vecs[nvec++] = v;
	}
	for (i = 0; i < nvec; i++) {
		uint32_t v = vecs[i], st;
		double t0 = now_s();
		uint64_t got;
		bool quiet = true;

		doorbell(v);
		got = efd_wait(fds[v], IRQ_WAIT_MS);
		st = reg(VFIOSIM_REG_IRQ_STATUS);
		for (j = 0; j < n; j++) {
			if (j != v && efd_drain(fds[j])) {
				diag("vector %u fired too", j);
				quiet = false;
			}
		}
		diag("MSI-X vector %u: eventfd %" PRIu64 " after %.3f s, IRQ_STATUS 0x%08x",
		     v, got, now_s() - t0, st);
		tap(got == 1 && quiet && (st & (1U << v)),
		    "MSI-X vector %u: doorbell arrives as one interrupt on that vector only", v);
		status_clear();
	}

	/* IRQ_MASK holds a vector back; unmasking releases it. */
	if (n > 1) {
		uint32_t v = n - 1;

		reg_set(VFIOSIM_REG_IRQ_MASK, 1U << v);
		doorbell(v);
		tap(efd_wait(fds[v], QUIET_MS) == 0,
		    "MSI-X vector %u: no interrupt while IRQ_MASK holds it", v);
		reg_set(VFIOSIM_REG_IRQ_MASK, 0);
		tap(efd_wait(fds[v], IRQ_WAIT_MS) == 1,
		    "MSI-X vector %u: the pending interrupt arrives on IRQ_MASK clear", v);
		status_clear();
	}
	tap(irq_disable(VFIO_PCI_MSIX_IRQ_INDEX), "MSI-X: disable");
	efds_free(fds, n);
}

static void test_msi(const struct model *m)
{
	uint32_t n = irq_count(VFIO_PCI_MSI_IRQ_INDEX), i, got = 0;
	int fd;

	tap(n == m->msi, "MSI: %u vectors (expected %u)", n, m->msi);
	if (n == 0)
		return;
	fd = efd_one();
	status_clear();
	/*
	 * One vector: x86 gives a function several MSI vectors only with
	 * interrupt remapping, which L2's vIOMMU need not offer.
	 */
	tap(set_irqs(VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		     VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &fd),
	    "MSI: enable vector 0 with an eventfd");
	for (i = 0; i < 3; i++) {
		double t0 = now_s();
		uint64_t v;

		doorbell(0);
		v = efd_wait(fd, IRQ_WAIT_MS);
		diag("MSI doorbell %u: eventfd %" PRIu64 " after %.3f s", i, v,
		     now_s() - t0);
		got += v == 1;
		status_clear();
	}
	tap(got == 3, "MSI: 3 doorbells arrive as 3 interrupts (%u)", got);
	tap(irq_disable(VFIO_PCI_MSI_IRQ_INDEX), "MSI: disable");
	close(fd);
}

static bool intx_unmask(void)
{
	return set_irqs(VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
			VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, NULL);
}

static void test_intx(void)
{
	uint32_t n = irq_count(VFIO_PCI_INTX_IRQ_INDEX), i, got = 0;
	uint64_t v;
	int fd;

	tap(n == 1, "INTx: 1 vector (%u)", n);
	if (n != 1)
		return;
	fd = efd_one();
	status_clear();
	tap(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		     VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &fd),
	    "INTx: enable with an eventfd");
	/* A stale assertion from the enable would be a bug: none may come. */
	tap(efd_wait(fd, QUIET_MS) == 0, "INTx: no interrupt before a doorbell");

	doorbell(0);
	v = efd_wait(fd, IRQ_WAIT_MS);
	tap(v == 1, "INTx: doorbell arrives as an interrupt (%" PRIu64 ")", v);

	/* Auto-masked now: a second assertion must wait for the unmask. */
	status_clear();
	doorbell(0);
	tap(efd_wait(fd, QUIET_MS) == 0,
	    "INTx: auto-masked, no interrupt before the unmask");
	tap(intx_unmask(), "INTx: unmask");
	v = efd_wait(fd, IRQ_WAIT_MS);
	tap(v == 1, "INTx: the line still asserted signals again on unmask (%" PRIu64 ")", v);

	for (i = 0; i < 3; i++) {
		double t0 = now_s();

		status_clear();
		intx_unmask();
		doorbell(0);
		v = efd_wait(fd, IRQ_WAIT_MS);
		diag("INTx doorbell %u: eventfd %" PRIu64 " after %.3f s", i, v,
		     now_s() - t0);
		got += v == 1;
	}
	tap(got == 3, "INTx: clear, unmask, doorbell: 3 of 3 arrive (%u)", got);
	status_clear();
	intx_unmask();
	tap(irq_disable(VFIO_PCI_INTX_IRQ_INDEX), "INTx: disable");
	close(fd);
}

/* --- BAR0 ---------------------------------------------------------------- */

static void test_bar0(const struct model *m)
{
	uint32_t want_vec = m->msi << 16 | m->msix, feat, v, i, c;
	bool ok;

	ok = region_info(VFIO_PCI_BAR0_REGION_INDEX, &bar0_info);
	tap(ok && bar0_info.size == VFIOSIM_BAR0_SIZE,
	    "BAR0 region is %#llx bytes (expected %#x)",
	    (unsigned long long)bar0_info.size, VFIOSIM_BAR0_SIZE);
	v = reg(VFIOSIM_REG_ID);
	tap(v == VFIOSIM_ID_MAGIC, "BAR0 ID reads %#x (expected %#x)", v,
	    VFIOSIM_ID_MAGIC);
	v = reg(VFIOSIM_REG_VERSION);
	tap(v == VFIOSIM_MODEL_VERSION, "BAR0 VERSION reads %#x (expected %#x)",
	    v, VFIOSIM_MODEL_VERSION);
	feat = reg(VFIOSIM_REG_FEATURES);
	tap((feat & (VFIOSIM_FEAT_INTX | VFIOSIM_FEAT_MSI | VFIOSIM_FEAT_MSIX)) ==
	    (VFIOSIM_FEAT_INTX | VFIOSIM_FEAT_MSI | VFIOSIM_FEAT_MSIX),
	    "BAR0 FEATURES %#x has INTX, MSI and MSI-X", feat);
	v = reg(VFIOSIM_REG_VECTORS);
	tap(v == want_vec, "BAR0 VECTORS reads %#x (expected %#x)", v, want_vec);

	/* Distinct values in every scratch register, then their complements. */
	ok = true;
	for (c = 0; c < 2; c++) {
		for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++)
			reg_set(VFIOSIM_REG_SCRATCH(i),
				(0x5c0a7c00 + i) ^ (c ? 0xffffffff : 0));
		for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++) {
			uint32_t want = (0x5c0a7c00 + i) ^ (c ? 0xffffffff : 0);

			v = reg(VFIOSIM_REG_SCRATCH(i));
			if (v != want) {
				diag("SCRATCH%u: %#x, expected %#x", i, v, want);
				ok = false;
			}
		}
	}
	tap(ok && !io_error, "BAR0 SCRATCH0-%d keep two written patterns",
	    VFIOSIM_NUM_SCRATCH - 1);

	reg_set(VFIOSIM_REG_ID, 0x12345678);
	reg_set(VFIOSIM_REG_VECTORS, 0);
	tap(reg(VFIOSIM_REG_ID) == VFIOSIM_ID_MAGIC &&
	    reg(VFIOSIM_REG_VECTORS) == want_vec,
	    "BAR0 ID and VECTORS are read-only (writes ignored)");
	v = reg(VFIOSIM_REG_DOORBELL);
	tap(v == 0, "BAR0 DOORBELL reads 0 (%#x)", v);

	reg_set(VFIOSIM_REG_COUNTER, 1000);
	{
		uint32_t a = reg(VFIOSIM_REG_COUNTER);
		uint32_t b = reg(VFIOSIM_REG_COUNTER);
		uint32_t d = reg(VFIOSIM_REG_COUNTER);

		tap(a == 1000 && b == 1001 && d == 1002,
		    "BAR0 COUNTER: written 1000, reads %u %u %u (read returns, then +1)",
		    a, b, d);
	}
	v = reg(VFIOSIM_REG_END + 4);
	tap(v == 0, "BAR0 past REG_END reads 0 (%#x)", v);
	tap(!io_error, "BAR0: every access succeeded");
}

/* --- BAR2 ---------------------------------------------------------------- */

static inline uint64_t pattern(uint64_t off, uint64_t seed)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ seed;
}

struct bar2 {
	struct vfio_region_info info;
	uint8_t *map;		/* whole region mapped, or NULL */
	/* what mmap covers, from the sparse capability if any */
	uint64_t map_off[8], map_len[8];
	unsigned int nmaps;
};

static bool in_map(const struct bar2 *b, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < b->nmaps; i++)
		if (off >= b->map_off[i] && off < b->map_off[i] + b->map_len[i])
			return true;
	return false;
}

/* Region info with capabilities; sets up what can be mmapped. */
static bool bar2_setup(struct bar2 *b)
{
	struct vfio_region_info *ri;
	uint32_t sz = sizeof(*ri);

	memset(b, 0, sizeof(*b));
	for (;;) {
		ri = calloc(1, sz);
		if (!ri)
			return false;
		ri->argsz = sz;
		ri->index = VFIO_PCI_BAR2_REGION_INDEX;
		if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, ri)) {
			free(ri);
			return false;
		}
		if (ri->argsz <= sz)
			break;
		sz = ri->argsz;
		free(ri);
	}
	b->info = *ri;
	b->info.argsz = sizeof(b->info);
	if (ri->flags & VFIO_REGION_INFO_FLAG_MMAP) {
		b->map = mmap(NULL, ri->size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, devfd, ri->offset);
		if (b->map == MAP_FAILED) {
			diag("mmap of BAR2: %s; using pread/pwrite", strerror(errno));
			b->map = NULL;
		}
	}
	if (b->map) {
		struct vfio_info_cap_header *h = NULL;
		uint32_t next = (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) ?
				ri->cap_offset : 0;

		while (next && next + sizeof(*h) <= sz) {
			h = (void *)((char *)ri + next);
			if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP)
				break;
			next = h->next;
			h = NULL;
		}
		if (h) {
			struct vfio_region_info_cap_sparse_mmap *s = (void *)h;
			unsigned int i;

			for (i = 0; i < s->nr_areas && i < 8; i++) {
				b->map_off[i] = s->areas[i].offset;
				b->map_len[i] = s->areas[i].size;
				diag("BAR2 sparse mmap area %u: %#llx+%#llx", i,
				     (unsigned long long)s->areas[i].offset,
				     (unsigned long long)s->areas[i].size);
			}
			b->nmaps = i;
		} else {
			b->map_off[0] = 0;
			b->map_len[0] = ri->size;
			b->nmaps = 1;
		}
	}
	free(ri);
	return true;
}

#define CHUNK 65536

/* Write (check == false) or verify the pattern over the whole BAR. */
static uint64_t bar2_pass(struct bar2 *b, uint64_t seed, bool check)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t size = b->info.size, off, bad = 0, i;

	for (off = 0; off < size; off += CHUNK) {
		uint64_t len = size - off < CHUNK ? size - off : CHUNK;

		if (in_map(b, off) && in_map(b, off + len - 1)) {
			volatile uint64_t *p = (volatile uint64_t *)(b->map + off);

			for (i = 0; i < len / 8; i++) {
				uint64_t want = pattern(off + 8 * i, seed);

				if (!check) {
					p[i] = want;
				} else if (p[i] != want) {
					if (bad++ < 4)
						diag("BAR2 %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
						     off + 8 * i, p[i], want);
				}
			}
			continue;
		}
		/* Not mmappable here: a page at a time through the fd. */
		for (i = 0; i < len; i += 4096) {
			uint64_t n = len - i < 4096 ? len - i : 4096, k;
			uint64_t *q = buf + i / 8;
			uint64_t where = b->info.offset + off + i;

			if (!check) {
				for (k = 0; k < n / 8; k++)
					q[k] = pattern(off + i + 8 * k, seed);
				if (pwrite(devfd, q, n, where) != (ssize_t)n) {
					diag("pwrite BAR2 %#" PRIx64 ": %s", off + i,
					     strerror(errno));
					bad++;
				}
				continue;
			}
			if (pread(devfd, q, n, where) != (ssize_t)n) {
				diag("pread BAR2 %#" PRIx64 ": %s", off + i, strerror(errno));
				bad++;
				continue;
			}
			for (k = 0; k < n / 8; k++) {
				uint64_t want = pattern(off + i + 8 * k, seed);

				if (q[k] != want && bad++ < 4)
					diag("BAR2 %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
					     off + i + 8 * k, q[k], want);
			}
		}
	}
	return bad;
}

static void test_bar2(const struct model *m)
{
	static const uint64_t seeds[2] = { 0xa5a5a5a55a5a5a5aULL,
					   0x0123456789abcdefULL };
	struct bar2 b;
	unsigned int s;
	bool ok;

	ok = bar2_setup(&b);
	tap(ok && b.info.size == m->bar2_size &&
	    (b.info.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) ==
	    (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE),
	    "BAR2 region is %#llx bytes, read-write (expected %#llx)",
	    (unsigned long long)b.info.size, (unsigned long long)m->bar2_size);
	if (!ok || !b.info.size)
		return;
	diag("BAR2 flags %#x: %s", b.info.flags,
	     b.map ? "mmapped" : "pread/pwrite only");
	for (s = 0; s < 2; s++) {
		double t0 = now_s();
		uint64_t bad;

		bar2_pass(&b, seeds[s], false);
		bad = bar2_pass(&b, seeds[s], true);
		diag("BAR2 pattern %u: written and read back in %.1f s", s + 1,
		     now_s() - t0);
		tap(bad == 0, "BAR2 keeps pattern %u over all %#llx bytes (%s; %" PRIu64 " bad words)",
		    s + 1, (unsigned long long)b.info.size,
		    b.map ? "mmap" : "pread/pwrite", bad);
	}
	/* The fd path sees what mmap wrote: first, middle and last page. */
	{
		uint64_t offs[3] = { 0, b.info.size / 2, b.info.size - 8 }, v;
		unsigned int i, bad = 0;

		for (i = 0; i < 3; i++) {
			if (pread(devfd, &v, 8, b.info.offset + offs[i]) != 8 ||
			    v != pattern(offs[i], seeds[1])) {
				diag("pread BAR2 %#" PRIx64 ": %#" PRIx64, offs[i], v);
				bad++;
			}
		}
		tap(bad == 0, "BAR2 pread agrees at the first, middle and last word");
	}
	if (b.map)
		munmap(b.map, b.info.size);
}

/* --- DMA through the vIOMMU ---------------------------------------------- */

static void test_dma(int container)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	void *buf = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (buf == MAP_FAILED)
		bail("mmap DMA buffer");
	memset(buf, 0x5a, DMA_SIZE);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)buf;
	map.iova = DMA_IOVA;
	map.size = DMA_SIZE;
	ret = ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
	tap(ret == 0, "DMA map of 1 MiB at IOVA %#llx through the vIOMMU%s%s",
	    DMA_IOVA, ret ? ": " : "", ret ? strerror(errno) : "");
	unmap.iova = DMA_IOVA;
	unmap.size = DMA_SIZE;
	ret = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	tap(ret == 0 && unmap.size == DMA_SIZE, "DMA unmap of it%s%s",
	    ret ? ": " : "", ret ? strerror(errno) : "");
	munmap(buf, DMA_SIZE);
}

/* --- setup --------------------------------------------------------------- */

static int open_group(const char *bdf)
{
	char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX + 16];
	const char *name;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		bail("readlink iommu_group (no IOMMU in L2?)");
	target[n] = 0;
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	diag("%s is in IOMMU group %s", bdf, name);
	return open(path, O_RDWR);
}

/* The first line of a sysfs attribute of the function, or "". */
static void sysfs_attr(const char *bdf, const char *attr, char *buf,
		       size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * A guest can reset the function: L2's PCI core finds FLR in its PCI
 * Express capability, L2's vfio-pci offers VFIO_DEVICE_RESET, and a reset
 * through L2's sysfs (an FLR that crosses the VMM into vfiosim) brings a
 * register written before it back to its default.
 */
static void test_reset(const char *bdf)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	char methods[256];
	uint32_t v;
	FILE *f;
	bool ok;

	sysfs_attr(bdf, "reset_method", methods, sizeof(methods));
	tap(strstr(methods, "flr") != NULL, "L2 reset_method has flr (\"%s\")",
	    methods);
	ok = ioctl(devfd, VFIO_DEVICE_GET_INFO, &di) == 0;
	tap(ok && (di.flags & VFIO_DEVICE_FLAGS_RESET),
	    "L2 vfio-pci offers VFIO_DEVICE_RESET (flags %#x)", di.flags);

	reg_set(VFIOSIM_REG_SCRATCH(0), 0x5a5aa5a5);
	v = reg(VFIOSIM_REG_SCRATCH(0));
	tap(v == 0x5a5aa5a5 && !io_error, "SCRATCH0 written before the reset");

	snprintf(methods, sizeof(methods), "/sys/bus/pci/devices/%s/reset", bdf);
	f = fopen(methods, "w");
	ok = f && fputs("1\n", f) >= 0;
	if (f && fclose(f))
		ok = false;
	tap(ok, "reset through L2's sysfs %s", methods);
	v = reg(VFIOSIM_REG_SCRATCH(0));
	tap(v == 0 && !io_error, "SCRATCH0 is back to its default 0 (%#x)", v);
	v = rd(&cfg_info, VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL, 2);
	tap(!(v & PCI_EXP_DEVCTL_BCR_FLR), "DEVCTL %#06x: Initiate FLR reads 0", v);
}

/* Open BDF through a type1 container, sets devfd; bails out on failure. */
static void open_device(const char *bdf, int *container_out, int *group_out)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	int container, group, ret;

	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		bail("open /dev/vfio/vfio");
	ret = ioctl(container, VFIO_GET_API_VERSION);
	tap(ret == VFIO_API_VERSION, "VFIO API version %d", ret);
	tap(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1,
	    "container has VFIO_TYPE1_IOMMU");

	group = open_group(bdf);
	if (group < 0)
		bail("open the VFIO group");
	tap(ioctl(group, VFIO_GROUP_GET_STATUS, &gs) == 0 &&
	    (gs.flags & VFIO_GROUP_FLAGS_VIABLE), "group is viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		bail("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		bail("VFIO_SET_IOMMU type1");
	tap(true, "group in a type1 container");
	devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (devfd < 0)
		bail("VFIO_GROUP_GET_DEVICE_FD");
	*container_out = container;
	*group_out = group;
}

/* Milliseconds since T0 (now_s()). */
static long ms_since(double t0)
{
	return (long)((now_s() - t0) * 1000);
}

#define WATCH_SLOW_MS	1000	/* a register read this slow was held */

/*
 * The fault phase: once the device is open, say so with a marker L1 waits
 * for; then read ID once a second until a read is slow or wrong (L1's
 * fault), and once more afterwards, for at most SECONDS.
 */
static int watch(const char *bdf, const char *nonce, int seconds)
{
	int container, group, reads = 0;
	double start, t0;
	long ms, held_ms = -1;
	uint32_t v, held_v = 0;

	tap_unnumbered = true;
	open_device(bdf, &container, &group);
	if (!region_info(VFIO_PCI_BAR0_REGION_INDEX, &bar0_info))
		bail("BAR0 region info");
	printf("=== vfiosim-nested %s fault-ready ===\n", nonce);
	start = now_s();
	while (now_s() - start < seconds) {
		t0 = now_s();
		v = reg(VFIOSIM_REG_ID);
		ms = ms_since(t0);
		reads++;
		if (held_ms < 0 && (ms >= WATCH_SLOW_MS || v != VFIOSIM_ID_MAGIC)) {
			held_ms = ms;
			held_v = v;
			diag("read %d of ID: %#x after %ld ms", reads, v, ms);
			printf("=== vfiosim-nested %s fault-seen ===\n", nonce);
			sleep(2);
			t0 = now_s();
			v = reg(VFIOSIM_REG_ID);
			diag("the next read of ID: %#x after %ld ms", v,
			     ms_since(t0));
			break;
		}
		sleep(1);
	}
	tap(held_ms >= 0, "L2 fault: a read of ID was held by L1 (%d reads in %ld s)",
	    reads, ms_since(start) / 1000);
	if (held_ms >= 0)
		tap(true, "L2 fault: the held read returned to the guest after %ld ms, %#x (%s)",
		    held_ms, held_v,
		    held_v == VFIOSIM_ID_MAGIC ? "the real value" :
		    held_v == 0xffffffff ? "all ones: the VMM gave up" :
		    "neither the value nor all ones");
	close(devfd);
	close(group);
	close(container);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	const struct model *m = NULL;
	const char *bdf;
	int container, group, ret;
	uint32_t ids, cmd;
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "--watch"))
		return watch(argv[2], argv[3], atoi(argv[4]));
	if (argc != 2) {
		fprintf(stderr, "usage: %s BDF\n       %s --watch BDF NONCE SECONDS\n",
			argv[0], argv[0]);
		return 2;
	}
	bdf = argv[1];
	open_device(bdf, &container, &group);
	ret = ioctl(devfd, VFIO_DEVICE_GET_INFO, &di);
	tap(ret == 0 && (di.flags & VFIO_DEVICE_FLAGS_PCI) &&
	    di.num_regions > VFIO_PCI_CONFIG_REGION_INDEX &&
	    di.num_irqs > VFIO_PCI_MSIX_IRQ_INDEX,
	    "device fd: a PCI device, %u regions, %u IRQ indexes", di.num_regions,
	    di.num_irqs);

	/* Config space: our IDs, then memory decode and bus mastering. */
	if (!region_info(VFIO_PCI_CONFIG_REGION_INDEX, &cfg_info))
		bail("config region info");
	ids = rd(&cfg_info, PCI_VENDOR_ID, 4);
	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if ((ids & 0xffff) == VFIOSIM_PCI_VENDOR_ID &&
		    ids >> 16 == models[i].device_id)
			m = &models[i];
	tap(m != NULL, "config space IDs %04x:%04x are a vfiosim type (%s)",
	    ids & 0xffff, ids >> 16, m ? m->type : "none");
	if (!m) {
		printf("Bail out! not a vfiosim device\n");
		return finish();
	}
	ids = rd(&cfg_info, PCI_SUBSYSTEM_VENDOR_ID, 4);
	tap(ids == ((uint32_t)m->device_id << 16 | VFIOSIM_PCI_SUBSYS_VENDOR_ID),
	    "subsystem %04x:%04x", ids & 0xffff, ids >> 16);
	cmd = rd(&cfg_info, PCI_COMMAND, 2);
	wr(&cfg_info, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cmd = rd(&cfg_info, PCI_COMMAND, 2);
	tap((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) ==
	    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
	    "COMMAND %#06x: memory decode and bus master enabled", cmd);

	test_bar0(m);
	test_bar2(m);
	test_dma(container);
	test_msix(m);
	test_msi(m);
	test_intx();
	{
		uint32_t dbs = reg(VFIOSIM_REG_DOORBELL_COUNT);

		diag("DOORBELL_COUNT %u, DROPPED %u", dbs, reg(VFIOSIM_REG_DROPPED));
		tap(dbs == doorbells && !io_error,
		    "DOORBELL_COUNT is %u, the %u doorbells rung", dbs, doorbells);
	}
	test_reset(bdf);

	close(devfd);
	close(group);
	close(container);
	return finish();
}
