// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim_migrate_guest: the nested guest (L2) of vfiosim_migrate.sh.  L1's
 * QEMU presents a vfiosim device (vfio-pci on an mdev) and live-migrates
 * this guest to a second QEMU with a second device of the same type.
 *
 *   vfiosim_migrate_guest BDF NONCE [WINDOW_S]
 *
 * L2 has no IOMMU (no intel-iommu, so that QEMU's vIOMMU blocker stays out
 * of the way) and Debian kernels have no VFIO no-IOMMU mode, so nothing in
 * L2 binds the function: this program drives it from user space through
 * sysfs.  BAR0 and BAR2 are mmapped from resourceN, the command register
 * (memory decode, bus master) and the MSI-X capability are written through
 * the config file.  DMA addresses are guest-physical: the buffers live in
 * one mlocked 2 MiB huge page (physically contiguous, so transfers may
 * cross 4 KiB pages), whose address comes from /proc/self/pagemap.  With no
 * kernel driver there is no interrupt handler either: the MSI-X table entry
 * of the completion vector gets the guest-physical address of a word in
 * that page as its message address, so QEMU, delivering the vector,
 * writes the message data there (a PCI MSI is a memory write; only
 * 0xfeexxxxx is the local APIC).  Each completion is thus seen three ways:
 * STATUS, IRQ_STATUS latching the vector, and the message in memory.
 *
 * Phases, driven by lines on the console (stdin) from vfiosim_migrate.sh:
 *  1. checks DMA copy, fill and checksum, with their MSI-X; writes the
 *     scratch registers, a BAR2 pattern and two DMA-written buffers; prints
 *     the "ready" marker;
 *  2. loops DMA transfers (fill and copy into 64 slots, each transfer
 *     checked) until "migrated" arrives or WINDOW_S (60) seconds after
 *     "start" (the script sends "start" to the source when it issues the
 *     migration), or "abort";
 *  3. on the destination: every scratch register, all of BAR2, the
 *     buffers of phase 1 and the last contents of every slot (pages the
 *     device wrote while RAM was being copied: if dirty tracking missed
 *     one, the destination has it stale), the engine's registers, and new
 *     transfers on the new device.
 * TAP on the kernel log (console), one line per check, the plan last.  Static, no libc
 * beyond what the initramfs has (none).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "linux/vfiosim.h"
#include "tap.h"

#define HUGE_SIZE	(2U << 20)
#define MSI_OFF		0x0		/* the MSI-X message lands here */
#define SRC_OFF		0x1000		/* CPU-written source, 64 KiB */
#define COPY_OFF	0x11000		/* phase 1 copy target */
#define FILL_OFF	0x21000		/* phase 1 fill target */
#define KEEP_FILL_OFF	0x31000		/* kept across migration: DMA fill */
#define KEEP_COPY_OFF	0x41000		/* kept across migration: DMA copy */
#define PHASE1_LEN	0x10000
#define SLOT_OFF	0x100000	/* phase 2: 64 slots of 16 KiB */
#define NSLOTS		64
#define SLOT_LEN	0x4000
#define VECTOR		1		/* the completion vector */
#define MSI_DATA	0x5a5a0000u	/* | the vector: what QEMU writes */
#define WAIT_S		30.0		/* nested TCG on a shared host */
#define LOOP_MAX_S	900.0
#define WINDOW_S	60.0		/* the loop after "start", by default */

static volatile uint32_t *bar0;
static volatile uint8_t *bar2;
static size_t bar2_size;
static uint8_t *buf;		/* the huge page */
static uint64_t gpa;		/* its guest-physical address */
static int cfg_fd = -1;
static uint64_t nonce;
static uint32_t dma_count;	/* transfers this guest saw end */
static uint32_t msi_lost;	/* completions without their message */
static double window_s = WINDOW_S;

static void pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static uint32_t rd(uint32_t off)
{
	return bar0[off / 4];
}

static void wr(uint32_t off, uint32_t val)
{
	bar0[off / 4] = val;
}

static bool cfg_write(uint32_t off, const void *val, size_t len)
{
	return pwrite(cfg_fd, val, len, off) == (ssize_t)len;
}

static bool cfg_read(uint32_t off, void *val, size_t len)
{
	return pread(cfg_fd, val, len, off) == (ssize_t)len;
}

/* splitmix64: the patterns, from the nonce and a position */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

static void *map_resource(const char *bdf, int bar, size_t *size)
{
	char path[128];
	void *p;
	off_t len;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return NULL;
	len = lseek(fd, 0, SEEK_END);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*size = len;
	return p;
}

/* The huge page, locked, and its guest-physical address. */
static bool setup_buffer(void)
{
	uint64_t ent, first = 0;
	size_t off;
	int fd;

	buf = mmap(NULL, HUGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		diag("mmap of a 2 MiB huge page: %s (hugepages= on the command line?)",
		     strerror(errno));
		return false;
	}
	if (mlock(buf, HUGE_SIZE)) {
		diag("mlock: %s", strerror(errno));
		return false;
	}
	memset(buf, 0, HUGE_SIZE);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return false;
	for (off = 0; off < HUGE_SIZE; off += 4096) {
		if (pread(fd, &ent, 8, ((uintptr_t)buf + off) / 4096 * 8) != 8 ||
		    !(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1))) {
			diag("pagemap: no PFN at +%#zx (entry %#" PRIx64 ")", off, ent);
			close(fd);
			return false;
		}
		ent = (ent & ((1ULL << 55) - 1)) * 4096;
		if (!off)
			first = ent;
		else if (ent != first + off) {
			diag("huge page not contiguous at +%#zx", off);
			close(fd);
			return false;
		}
	}
	close(fd);
	gpa = first;
	return true;
}

/* The MSI-X table entry of VECTOR aims at buf + MSI_OFF; MSI-X on. */
static bool setup_msix(void)
{
	volatile uint32_t *ent = bar0 + (VFIOSIM_MSIX_TABLE_OFFSET +
					 VECTOR * VFIOSIM_MSIX_ENTRY_SIZE) / 4;
	uint64_t addr = gpa + MSI_OFF;
	uint16_t ctl;

	ent[0] = (uint32_t)addr;
	ent[1] = (uint32_t)(addr >> 32);
	ent[2] = MSI_DATA | VECTOR;
	ent[3] = 0;		/* unmasked */
	if (!cfg_read(VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS, &ctl, 2))
		return false;
	ctl |= PCI_MSIX_FLAGS_ENABLE;
	ctl &= ~PCI_MSIX_FLAGS_MASKALL;
	return cfg_write(VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS, &ctl, 2) &&
	       cfg_read(VFIOSIM_CFG_MSIX_CAP + PCI_MSIX_FLAGS, &ctl, 2) &&
	       (ctl & PCI_MSIX_FLAGS_ENABLE);
}

static const char *status_name(uint32_t st)
{
	static const char *const names[] = {
		"IDLE", "BUSY", "DONE", "ERR_UNMAPPED", "ERR_PERM", "ERR_LEN",
		"ERR_OP", "ERR_ABORTED", "ERR_FAULT",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

struct xfer {
	uint32_t op;
	uint64_t src, dst;	/* offsets in buf */
	uint32_t len;
	uint64_t pattern;
};

/*
 * One transfer, waited for: STATUS, DONE_BYTES, COUNT, the vector latched
 * in IRQ_STATUS, the MSI-X message in memory.  Describes what is wrong in
 * why (empty when nothing is).  allow_lost_msi: a completion right at the
 * switchover may have its message delivered by the source QEMU after it
 * stopped copying RAM; that is counted, not failed, once.
 */
static bool run_xfer(const struct xfer *x, char *why, size_t whylen,
		     bool allow_lost_msi)
{
	volatile uint32_t *msi = (volatile uint32_t *)(buf + MSI_OFF);
	uint32_t st, done, count, irq;
	double t0;

	why[0] = 0;
	*msi = 0;
	wr(VFIOSIM_REG_IRQ_STATUS, 1u << VECTOR);
	wr(VFIOSIM_REG_DMA_SRC_LO, (uint32_t)(gpa + x->src));
	wr(VFIOSIM_REG_DMA_SRC_HI, (uint32_t)((gpa + x->src) >> 32));
	wr(VFIOSIM_REG_DMA_DST_LO, (uint32_t)(gpa + x->dst));
	wr(VFIOSIM_REG_DMA_DST_HI, (uint32_t)((gpa + x->dst) >> 32));
	wr(VFIOSIM_REG_DMA_LEN, x->len);
	wr(VFIOSIM_REG_DMA_OP, x->op);
	wr(VFIOSIM_REG_DMA_PATTERN_LO, (uint32_t)x->pattern);
	wr(VFIOSIM_REG_DMA_PATTERN_HI, (uint32_t)(x->pattern >> 32));
	wr(VFIOSIM_REG_DMA_VECTOR, VECTOR);
	wr(VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO);
	t0 = now_s();
	while ((st = rd(VFIOSIM_REG_DMA_STATUS)) == VFIOSIM_DMA_STATUS_BUSY &&
	       now_s() - t0 < WAIT_S)
		pause_us(200);
	done = rd(VFIOSIM_REG_DMA_DONE_BYTES);
	count = rd(VFIOSIM_REG_DMA_COUNT);
	if (st != VFIOSIM_DMA_STATUS_DONE) {
		snprintf(why, whylen, "status %u %s, expected DONE", st, status_name(st));
		return false;
	}
	dma_count++;
	if (done != x->len || count != dma_count) {
		snprintf(why, whylen, "DONE_BYTES %u (expected %u), COUNT %u (expected %u)",
			 done, x->len, count, dma_count);
		dma_count = count;
		return false;
	}
	irq = rd(VFIOSIM_REG_IRQ_STATUS);
	while (*msi != (MSI_DATA | VECTOR) && now_s() - t0 < WAIT_S)
		pause_us(500);
	if (!(irq & (1u << VECTOR))) {
		snprintf(why, whylen, "IRQ_STATUS %#x: vector %d not latched", irq, VECTOR);
		return false;
	}
	if (*msi != (MSI_DATA | VECTOR)) {
		if (allow_lost_msi && !msi_lost++) {
			diag("transfer %u: no MSI-X message after %.0f s (IRQ_STATUS %#x): counted as lost at the switchover",
			     dma_count, WAIT_S, irq);
			return true;
		}
		snprintf(why, whylen, "no MSI-X message within %.0f s (word %#x)", WAIT_S, *msi);
		return false;
	}
	return true;
}

/* Where buf[off, off+len) differs from what fill/copy should have left. */
static long check_fill(size_t off, size_t len, uint64_t pattern)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		if (memcmp(buf + off + i, &pattern, 8))
			return i;
	return -1;
}

static long check_copy(size_t dst, size_t src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[dst + i] != buf[src + i])
			return i;
	return -1;
}

static uint64_t bar2_word(size_t i)
{
	return mix(nonce ^ (0xb2ULL << 56) ^ i);
}

static uint32_t scratch_word(int i)
{
	return (uint32_t)mix(nonce ^ (0x5cULL << 56) ^ i) | 1;
}

static uint64_t keep_pattern(void)
{
	return mix(nonce ^ (0xf1ULL << 56));
}

/*
 * The message path alone, without DMA: DOORBELL raises the vector, QEMU
 * delivers the table entry's message, which lands in buf.
 */
static void doorbell_msix(void)
{
	volatile uint32_t *msi = (volatile uint32_t *)(buf + MSI_OFF);
	double t0 = now_s();
	uint32_t irq;

	*msi = 0;
	wr(VFIOSIM_REG_IRQ_STATUS, 1u << VECTOR);
	wr(VFIOSIM_REG_DOORBELL, VECTOR);
	while (*msi != (MSI_DATA | VECTOR) && now_s() - t0 < WAIT_S)
		pause_us(500);
	irq = rd(VFIOSIM_REG_IRQ_STATUS);
	tap(*msi == (MSI_DATA | VECTOR) && (irq & (1u << VECTOR)),
	    "MSI-X: a DOORBELL of vector %d arrives as its message %#x in memory after %.2f s (word %#x, IRQ_STATUS %#x)",
	    VECTOR, MSI_DATA | VECTOR, now_s() - t0, *msi, irq);
	wr(VFIOSIM_REG_IRQ_STATUS, 1u << VECTOR);
}

/* Phase 1 ---------------------------------------------------------------- */

static void phase1(void)
{
	struct xfer x;
	char why[160];
	uint32_t crc, result;
	size_t i;
	long bad;
	bool ok;

	for (i = 0; i < PHASE1_LEN / 8; i++)
		((uint64_t *)(buf + SRC_OFF))[i] = mix(nonce ^ i);

	/* a copy that starts and ends inside pages and crosses 16 of them */
	x = (struct xfer){ VFIOSIM_DMA_OP_COPY, SRC_OFF + 0x123, COPY_OFF + 0x321,
			   PHASE1_LEN - 0x800, 0 };
	ok = run_xfer(&x, why, sizeof(why), false);
	tap(ok, "DMA copy of %u bytes, guest-physical %#" PRIx64 " -> %#" PRIx64 ", done with MSI-X vector %d%s%s",
	    x.len, gpa + x.src, gpa + x.dst, VECTOR, ok ? "" : ": ", why);
	bad = ok ? check_copy(x.dst, x.src, x.len) : 0;
	tap(ok && bad < 0, "DMA copy: the destination holds the source, byte for byte (first difference %ld)",
	    bad);
	tap(buf[x.dst - 1] == 0 && buf[x.dst + x.len] == 0,
	    "DMA copy: the bytes just before and after the destination are untouched");

	x = (struct xfer){ VFIOSIM_DMA_OP_FILL, 0, FILL_OFF, PHASE1_LEN,
			   0x0123456789abcdefULL ^ nonce };
	ok = run_xfer(&x, why, sizeof(why), false);
	tap(ok, "DMA fill of %u bytes with %#" PRIx64 ", done with MSI-X%s%s", x.len,
	    x.pattern, ok ? "" : ": ", why);
	bad = ok ? check_fill(x.dst, x.len, x.pattern) : 0;
	tap(ok && bad < 0, "DMA fill: every 8 bytes hold the pattern, little endian (first difference %ld)",
	    bad);

	x = (struct xfer){ VFIOSIM_DMA_OP_CSUM, SRC_OFF, 0, PHASE1_LEN, 0 };
	ok = run_xfer(&x, why, sizeof(why), false);
	result = rd(VFIOSIM_REG_DMA_RESULT);
	crc = crc32c(buf + SRC_OFF, PHASE1_LEN);
	tap(ok && (result == crc || result == ~crc),
	    "DMA checksum: RESULT %#x, CRC32C computed by the CPU %#x%s%s", result, crc,
	    ok ? "" : ": ", why);

	/* State that must cross the migration. */
	for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++)
		wr(VFIOSIM_REG_SCRATCH(i), scratch_word(i));
	for (i = 0, ok = true; i < VFIOSIM_NUM_SCRATCH; i++)
		ok &= rd(VFIOSIM_REG_SCRATCH(i)) == scratch_word(i);
	tap(ok, "scratch registers 0-%d written and read back", VFIOSIM_NUM_SCRATCH - 1);

	for (i = 0; i < bar2_size / 8; i++)
		((volatile uint64_t *)bar2)[i] = bar2_word(i);
	for (i = 0, bad = -1; i < bar2_size / 8 && bad < 0; i++)
		if (((volatile uint64_t *)bar2)[i] != bar2_word(i))
			bad = i * 8;
	tap(bad < 0, "BAR2: a pattern over all %zu bytes, read back (first difference %ld)",
	    bar2_size, bad);

	x = (struct xfer){ VFIOSIM_DMA_OP_FILL, 0, KEEP_FILL_OFF, PHASE1_LEN, keep_pattern() };
	ok = run_xfer(&x, why, sizeof(why), false) && check_fill(x.dst, x.len, x.pattern) < 0;
	x = (struct xfer){ VFIOSIM_DMA_OP_COPY, SRC_OFF, KEEP_COPY_OFF, PHASE1_LEN, 0 };
	ok = ok && run_xfer(&x, why, sizeof(why), false) &&
	     check_copy(x.dst, x.src, x.len) < 0;
	tap(ok, "two buffers written by DMA (fill, copy) to keep across the migration%s%s",
	    ok ? "" : ": ", why);
}

/* Phase 2 ---------------------------------------------------------------- */

/* slot s last written by iteration iter: its expected contents */
static bool slot_ok(unsigned int s, uint32_t iter, long *bad)
{
	size_t dst = SLOT_OFF + s * SLOT_LEN;

	if (!iter)
		*bad = check_fill(dst, SLOT_LEN, 0);
	else if (iter & 1)
		*bad = check_fill(dst, SLOT_LEN, mix(nonce ^ iter));
	else
		*bad = check_copy(dst, SRC_OFF + (iter * 64) % (PHASE1_LEN - SLOT_LEN), SLOT_LEN);
	return *bad < 0;
}

static uint32_t slot_iter[NSLOTS];

static int read_command(char *line, size_t len)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 0) != 1)
		return 0;
	n = read(0, line, len - 1);
	if (n <= 0)
		return 0;
	line[n] = 0;
	return 1;
}

static bool phase2(void)
{
	uint32_t iter = 0, at_start = 0, bad_xfers = 0;
	bool started = false, dma_ok = true;
	char line[64], why[160];
	double t0 = now_s(), t_start = 0;
	long bad;

	for (;;) {
		if (read_command(line, sizeof(line))) {
			if (strstr(line, "start") && !started) {
				started = true;
				at_start = iter;
				t_start = now_s();
				diag("migration issued after %u transfers of the loop", iter);
			}
			if (strstr(line, "migrated")) {
				diag("told it runs on the destination, after %u transfers", iter);
				break;
			}
			if (strstr(line, "abort")) {
				tap(false, "the migration happened (L1 said abort after %u transfers)",
				    iter);
				return false;
			}
		}
		/*
		 * The destination's UART may take no input after the
		 * switchover: the loop also ends on its own, a window after
		 * "start" that the migration fits in (the script checks that
		 * what follows came out of the destination).
		 */
		if (started && now_s() - t_start > window_s) {
			diag("loop window of %.0f s since start over, after %u transfers",
			     window_s, iter);
			break;
		}
		if (now_s() - t0 > LOOP_MAX_S) {
			tap(false, "the migration happened (no word from L1 in %.0f s)",
			    LOOP_MAX_S);
			return false;
		}
		if (!dma_ok) {
			pause_us(100000);
			continue;
		}
		{
			unsigned int s = iter % NSLOTS;
			uint32_t it = iter + 1;
			struct xfer x = { 0, 0, SLOT_OFF + s * SLOT_LEN, SLOT_LEN, 0 };

			if (it & 1) {
				x.op = VFIOSIM_DMA_OP_FILL;
				x.pattern = mix(nonce ^ it);
			} else {
				x.op = VFIOSIM_DMA_OP_COPY;
				x.src = SRC_OFF + (it * 64) % (PHASE1_LEN - SLOT_LEN);
			}
			if (!run_xfer(&x, why, sizeof(why), started) || !slot_ok(s, it, &bad)) {
				if (!why[0])
					snprintf(why, sizeof(why), "slot %u differs at +%ld", s, bad);
				diag("loop transfer %u: %s", it, why);
				bad_xfers++;
				/* one report is enough: stop DMA, wait for the end */
				dma_ok = false;
			}
			slot_iter[s] = it;
			iter = it;
		}
	}
	tap(dma_ok, "DMA loop while migrating: %u transfers of %u bytes, each checked (%u failed, %u after the migration was issued)",
	    iter, SLOT_LEN, bad_xfers, iter - at_start);
	tap(started && iter - at_start > 0,
	    "DMA ran while the migration was in flight (%u transfers from its start to the end of the loop, on the destination)",
	    started ? iter - at_start : 0);
	return true;
}

/* Phase 3 ---------------------------------------------------------------- */

static void phase3(void)
{
	unsigned int s, stale = 0, first_stale = NSLOTS;
	uint32_t v, count;
	struct xfer x;
	char why[160];
	size_t i;
	long bad;
	bool ok;

	for (i = 0, ok = true; i < VFIOSIM_NUM_SCRATCH; i++) {
		v = rd(VFIOSIM_REG_SCRATCH(i));
		if (v != scratch_word(i)) {
			diag("SCRATCH%zu %#x, expected %#x", i, v, scratch_word(i));
			ok = false;
		}
	}
	tap(ok, "destination: scratch registers 0-%d hold what the source had",
	    VFIOSIM_NUM_SCRATCH - 1);
	tap(rd(VFIOSIM_REG_ID) == VFIOSIM_ID_MAGIC, "destination: ID reads %#x", rd(VFIOSIM_REG_ID));
	for (i = 0, bad = -1; i < bar2_size / 8 && bad < 0; i++)
		if (((volatile uint64_t *)bar2)[i] != bar2_word(i))
			bad = i * 8;
	tap(bad < 0, "destination: BAR2 holds the pattern, all %zu bytes (first difference %ld)",
	    bar2_size, bad);
	tap(check_fill(KEEP_FILL_OFF, PHASE1_LEN, keep_pattern()) < 0 &&
	    check_copy(KEEP_COPY_OFF, SRC_OFF, PHASE1_LEN) < 0,
	    "destination: the buffers DMA wrote before the migration are intact");
	for (s = 0; s < NSLOTS; s++) {
		if (!slot_ok(s, slot_iter[s], &bad)) {
			if (!stale++)
				first_stale = s;
		}
	}
	tap(!stale, "destination: all %d slots hold what the last DMA into them wrote (%u stale, first %u): device writes during the migration reached the destination",
	    NSLOTS, stale, first_stale);
	count = rd(VFIOSIM_REG_DMA_COUNT);
	tap(count == dma_count, "destination: DMA_COUNT %u, the %u transfers the source device ended",
	    count, dma_count);
	v = rd(VFIOSIM_REG_DMA_STATUS);
	tap(v == VFIOSIM_DMA_STATUS_DONE, "destination: DMA_STATUS %u %s (the last transfer's)",
	    v, status_name(v));

	memset(buf + COPY_OFF, 0, PHASE1_LEN);
	x = (struct xfer){ VFIOSIM_DMA_OP_COPY, SRC_OFF, COPY_OFF, PHASE1_LEN, 0 };
	ok = run_xfer(&x, why, sizeof(why), false);
	bad = ok ? check_copy(COPY_OFF, SRC_OFF, PHASE1_LEN) : 0;
	tap(ok && bad < 0, "destination: a new DMA copy on the new device, with its MSI-X (%s%ld)",
	    why[0] ? why : "first difference ", bad);
	x = (struct xfer){ VFIOSIM_DMA_OP_FILL, 0, FILL_OFF, PHASE1_LEN, ~keep_pattern() };
	ok = run_xfer(&x, why, sizeof(why), false);
	bad = ok ? check_fill(FILL_OFF, PHASE1_LEN, x.pattern) : 0;
	tap(ok && bad < 0, "destination: a new DMA fill, with its MSI-X (%s%ld)",
	    why[0] ? why : "first difference ", bad);
	tap(msi_lost <= 1, "MSI-X messages lost: %u (at most the one at the switchover)", msi_lost);
}

int main(int argc, char **argv)
{
	int kmsg;
	char path[128];
	size_t bar0_size;
	uint16_t cmd;

	if (argc < 3) {
		fprintf(stderr, "usage: %s BDF NONCE [WINDOW_S]\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		window_s = strtod(argv[3], NULL);
	/*
	 * Lines go to the kernel log, whose console output polls the UART:
	 * after the switchover the destination's UART interrupt may be gone
	 * (seen with QEMU 11.1: L2's tty then takes nothing in and gives
	 * nothing out), which would block a write to the tty.
	 */
	kmsg = open("/dev/kmsg", O_WRONLY);
	if (kmsg >= 0 && dup2(kmsg, 1) == 1)
		setvbuf(stdout, NULL, _IOLBF, 0);
	nonce = mix(strtoull(argv[2], NULL, 16));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", argv[1]);
	cfg_fd = open(path, O_RDWR);
	if (cfg_fd < 0)
		bail("open the config space in sysfs");
	if (!cfg_read(PCI_COMMAND, &cmd, 2))
		bail("read COMMAND");
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	tap(cfg_write(PCI_COMMAND, &cmd, 2) && cfg_read(PCI_COMMAND, &cmd, 2) &&
	    (cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) ==
	    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
	    "COMMAND: memory decode and bus master on (%#x)", cmd);
	bar0 = map_resource(argv[1], 0, &bar0_size);
	if (!bar0)
		bail("mmap resource0 (BAR0)");
	bar2 = map_resource(argv[1], 2, &bar2_size);
	if (!bar2)
		bail("mmap resource2 (BAR2)");
	tap(rd(VFIOSIM_REG_ID) == VFIOSIM_ID_MAGIC &&
	    (rd(VFIOSIM_REG_FEATURES) & VFIOSIM_FEAT_DMA),
	    "BAR0 (%zu bytes): ID %#x, FEATURES %#x has DMA; BAR2 %zu bytes",
	    bar0_size, rd(VFIOSIM_REG_ID), rd(VFIOSIM_REG_FEATURES), bar2_size);
	if (!setup_buffer())
		bail("a locked 2 MiB huge page and its guest-physical address");
	tap(true, "DMA buffer: 2 MiB huge page at guest-physical %#" PRIx64 ", mlocked", gpa);
	tap(setup_msix(), "MSI-X enabled through config space, vector %d aimed at guest-physical %#" PRIx64,
	    VECTOR, gpa + MSI_OFF);
	doorbell_msix();

	phase1();
	printf("=== vfiosim-migrate ready ===\n");
	fflush(stdout);
	if (phase2())
		phase3();
	return finish();
}
