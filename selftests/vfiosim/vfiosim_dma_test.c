// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine, over every backend: copy, fill and checksum checked by
 * the CPU, the completion interrupt, every error status, transfers that
 * cross pages and the end of a map, and that nothing reaches memory after
 * an unmap, a reset or a close has returned.  Then DMA dirty logging.
 *
 * Memory is a memfd mapped shared: VFIO maps its address, vfio-user its
 * file, so both see the same pages the test checks.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>

#include "vfiosim_test.h"

#define MSIX		VFIO_PCI_MSIX_IRQ_INDEX
#define PAGE		4096UL
#define MEM_SIZE	(4UL << 20)
#define IOVA		0x10000000ULL	/* the memfd's offset 0 */
#define DMA_TIMEOUT_MS	10000

/* Map [off, off + size) of the memfd at IOVA + off. */
static int map(struct vfiosim_dev *dev, struct dma_mem *m, uint64_t off,
	       uint64_t size, uint32_t flags)
{
	return dma_mem_map(dev, m, IOVA + off, off, size, flags);
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/*
 * The status once the transfer ended: the completion eventfd if there is
 * one, else STATUS polled (with poll() timeouts) until it is not BUSY.
 */
static uint32_t dma_wait(struct vfiosim_dev *dev, int efd)
{
	if (efd >= 0 && !efd_wait(efd, DMA_TIMEOUT_MS))
		return 0xdead;
	return dma_status_wait(dev, DMA_TIMEOUT_MS);
}

/* One transfer, waited for through vector 0's eventfd. */
static uint32_t dma_run(struct vfiosim_dev *dev, int efd, uint64_t src,
			uint64_t dst, uint32_t len, uint32_t op,
			uint64_t pattern)
{
	if (dma_go(dev, src, dst, len, op, pattern, 0))
		return 0xbad;
	return dma_wait(dev, efd);
}

static void fill_random(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000ULL + t.tv_nsec / 1000;
}

/* Burn about us microseconds of CPU. */
static void spin_us(unsigned int us)
{
	uint64_t start = mono_us();

	while (mono_us() - start < us)
		;
}

/* The first index in [0, len) where p differs from c, or -1. */
static long first_not(const uint8_t *p, uint8_t c, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return i;
	return -1;
}

/* The whole memfd mapped RW at IOVA, and MSI-X vector 0 (and 1) on. */
#define DMA_SETUP(self, m, fds)						\
	do {								\
		ASSERT_EQ(0, dma_mem_new(&(m), MEM_SIZE));		\
		ASSERT_EQ(0, map((self)->dev, &(m), 0, MEM_SIZE, RW))	\
			TH_LOG("%s", DEV_ERR(self));			\
		ASSERT_EQ(0, irq_enable_new((self)->dev, MSIX, fds, 2))	\
			TH_LOG("%s", DEV_ERR(self));			\
	} while (0)

/* ---- operations ------------------------------------------------------- */

/*
 * COPY of 1 MiB between unaligned addresses (every page crossed at a
 * different offset on each side), FILL of an odd length, CSUM: the CPU
 * checks the bytes, and nothing around the destination changed.
 */
TEST_F(vfiosim, copy_fill_csum)
{
	const uint32_t len = VFIOSIM_DMA_MAX_LEN;
	const uint64_t soff = 0x123, doff = (2UL << 20) + 0x5678;
	const uint64_t pattern = 0x0123456789abcdefULL;
	struct dma_mem m;
	int fds[2];
	size_t i;

	DMA_SETUP(self, m, fds);
	fill_random(m.va, MEM_SIZE, 1);
	memset(m.va + doff - 64, 0x5a, len + 128);

	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + soff, IOVA + doff, len,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(0, memcmp(m.va + doff, m.va + soff, len));
	EXPECT_EQ(-1, first_not(m.va + doff - 64, 0x5a, 64));
	EXPECT_EQ(-1, first_not(m.va + doff + len, 0x5a, 64));
	EXPECT_EQ(len, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DMA_COUNT));

	/* FILL: byte i of DST is byte i % 8 of PATTERN, little endian */
	memset(m.va + doff - 64, 0x5a, 10003 + 128);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, IOVA + doff, 10003,
			  VFIOSIM_DMA_OP_FILL, pattern));
	for (i = 0; i < 10003; i++)
		if (m.va[doff + i] != (uint8_t)(pattern >> (8 * (i % 8))))
			break;
	EXPECT_EQ(10003, i);
	EXPECT_EQ(-1, first_not(m.va + doff - 64, 0x5a, 64));
	EXPECT_EQ(-1, first_not(m.va + doff + 10003, 0x5a, 64));
	EXPECT_EQ(10003, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));

	/* CSUM: the standard CRC32C of the bytes, in RESULT */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + soff + 7, 0, 777777,
			  VFIOSIM_DMA_OP_CSUM, 0));
	EXPECT_EQ(vfiosim_crc32c(m.va + soff + 7, 777777),
		  reg32(self->dev, VFIOSIM_REG_DMA_RESULT));
	/* the check value of the standard: "123456789" -> 0xe3069283 */
	memcpy(m.va + 3 * PAGE - 4, "123456789", 9);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + 3 * PAGE - 4, 0, 9,
			  VFIOSIM_DMA_OP_CSUM, 0));
	EXPECT_EQ(0xe3069283, reg32(self->dev, VFIOSIM_REG_DMA_RESULT));
	EXPECT_EQ(4, reg32(self->dev, VFIOSIM_REG_DMA_COUNT));

	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/*
 * Completion raises DMA_VECTOR as a DOORBELL would: that vector's eventfd
 * fires, its IRQ_STATUS bit is set, DOORBELL_COUNT counts it.  With
 * NO_VECTOR, nothing is raised.
 */
TEST_F(vfiosim, completion_interrupt)
{
	struct dma_mem m;
	int fds[2];

	DMA_SETUP(self, m, fds);
	ASSERT_EQ(0, dma_go(self->dev, IOVA, IOVA + PAGE, 100,
			    VFIOSIM_DMA_OP_COPY, 0, 1));
	EXPECT_EQ(2, efd_wait_mask(fds, 2, 2, NULL));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  reg32(self->dev, VFIOSIM_REG_DMA_STATUS));
	EXPECT_EQ(2, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));

	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_IRQ_STATUS, 2));
	ASSERT_EQ(0, dma_go(self->dev, IOVA, IOVA + PAGE, 100,
			    VFIOSIM_DMA_OP_COPY, 0, VFIOSIM_DMA_NO_VECTOR));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, dma_wait(self->dev, -1));
	EXPECT_EQ(0, efd_wait_mask(fds, 2, 0, NULL));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_IRQ_STATUS));
	EXPECT_EQ(1, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	EXPECT_EQ(2, reg32(self->dev, VFIOSIM_REG_DMA_COUNT));

	/* an error completion raises it too, and GO reads as 0 */
	ASSERT_EQ(0, dma_go(self->dev, IOVA, IOVA + PAGE, 0,
			    VFIOSIM_DMA_OP_COPY, 0, 0));
	EXPECT_EQ(1, efd_wait_mask(fds, 2, 1, NULL));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_LEN,
		  reg32(self->dev, VFIOSIM_REG_DMA_STATUS));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DMA_GO));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/* ---- errors ----------------------------------------------------------- */

TEST_F(vfiosim, error_statuses)
{
	const uint64_t ro = 1UL << 20, wo = 2UL << 20, hole = 3UL << 20;
	bool vfio = !strcmp(vfiosim_dev_backend(self->dev), "vfio");
	struct dma_mem m;
	int fds[2];

	ASSERT_EQ(0, dma_mem_new(&m, MEM_SIZE));
	ASSERT_EQ(0, map(self->dev, &m, 0, ro, RW)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, map(self->dev, &m, ro, 1UL << 20,
			 VFIO_DMA_MAP_FLAG_READ)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, map(self->dev, &m, wo, 1UL << 20,
			 VFIO_DMA_MAP_FLAG_WRITE)) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, 2));
	memset(m.va, 0x11, MEM_SIZE);

	/* at GO: the op, then the length; nothing moves */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_OP,
		  dma_run(self->dev, fds[0], IOVA, IOVA + PAGE, 16, 0, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_OP,
		  dma_run(self->dev, fds[0], IOVA, IOVA + PAGE, 16, 4, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_OP,
		  dma_run(self->dev, fds[0], IOVA, IOVA + PAGE, 0, 99, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_LEN,
		  dma_run(self->dev, fds[0], IOVA, IOVA + PAGE, 0,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_LEN,
		  dma_run(self->dev, fds[0], IOVA, IOVA + PAGE,
			  VFIOSIM_DMA_MAX_LEN + 1, VFIOSIM_DMA_OP_FILL, 0));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));

	/* unmapped source, unmapped destination */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
		  dma_run(self->dev, fds[0], IOVA + hole, IOVA, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
		  dma_run(self->dev, fds[0], IOVA, IOVA + hole, 64,
			  VFIOSIM_DMA_OP_FILL, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
		  dma_run(self->dev, fds[0], 0, 0, 64, VFIOSIM_DMA_OP_CSUM,
			  0));
	/* a source without READ, a destination without WRITE */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_PERM,
		  dma_run(self->dev, fds[0], IOVA + wo, IOVA, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_PERM,
		  dma_run(self->dev, fds[0], IOVA + wo, 0, 64,
			  VFIOSIM_DMA_OP_CSUM, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_PERM,
		  dma_run(self->dev, fds[0], IOVA, IOVA + ro, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_PERM,
		  dma_run(self->dev, fds[0], 0, IOVA + ro, 64,
			  VFIOSIM_DMA_OP_FILL, 0));
	/*
	 * The permitted directions work.  Over VFIO a destination must be
	 * readable too: the core's vfio_dma_rw() refuses an IOVA mapped
	 * without READ, so a write-only destination is ERR_PERM there.
	 */
	EXPECT_EQ(vfio ? VFIOSIM_DMA_STATUS_ERR_PERM : VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + ro, IOVA + wo, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + ro, IOVA + PAGE, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(-1, first_not(m.va + ro, 0x11, 1UL << 20));
	EXPECT_EQ(-1, first_not(m.va, 0x11, ro));
	EXPECT_EQ(14, reg32(self->dev, VFIOSIM_REG_DMA_COUNT));

	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/*
 * Mapped, but nothing the device can reach behind it: over VFIO an IOVA
 * whose process memory is gone (munmap after MAP_DMA), over vfio-user a
 * map that came without a file (only DMA_READ/WRITE could serve it).
 */
TEST_F(vfiosim, error_fault)
{
	struct dma_mem m;
	int fds[2];
	void *gone;

	ASSERT_EQ(0, dma_mem_new(&m, MEM_SIZE));
	ASSERT_EQ(0, map(self->dev, &m, 0, 1UL << 20, RW));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, 2));
	gone = mmap(NULL, 1UL << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	{
		struct vfiosim_dma_map dm = {
			.iova = IOVA + (2UL << 20),
			.size = 1UL << 20,
			.vaddr = gone,
			.fd = -1,
			.flags = RW,
		};

		ASSERT_EQ(0, vfiosim_dma_map(self->dev, &dm))
			TH_LOG("%s", DEV_ERR(self));
	}
	ASSERT_EQ(0, munmap(gone, 1UL << 20));
	memset(m.va, 0x22, 1UL << 20);

	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_FAULT,
		  dma_run(self->dev, fds[0], IOVA + (2UL << 20), IOVA, 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_FAULT,
		  dma_run(self->dev, fds[0], IOVA, IOVA + (2UL << 20), 64,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(-1, first_not(m.va, 0x22, 1UL << 20));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/*
 * A transfer that runs off the end of a map moves everything up to the
 * end (DONE_BYTES says how much) and ends in ERR_UNMAPPED; the memory
 * past the map is not written.  Source side and destination side.
 */
TEST_F(vfiosim, partial_map)
{
	const uint64_t msize = 64 * 1024, gap = 1UL << 20;
	const uint32_t len = 3 * PAGE + 100;
	struct dma_mem m;
	int fds[2];
	uint64_t dst = msize - 2 * PAGE + 0x80;	/* 2 pages - 0x80 left */
	uint64_t in_map = msize - dst;

	ASSERT_EQ(0, dma_mem_new(&m, MEM_SIZE));
	ASSERT_EQ(0, map(self->dev, &m, 0, msize, RW));
	ASSERT_EQ(0, map(self->dev, &m, gap, msize, RW));
	ASSERT_EQ(0, irq_enable_new(self->dev, MSIX, fds, 2));
	fill_random(m.va + gap, msize, 2);
	memset(m.va, 0x33, gap);

	/* destination crosses the end of the first map */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
		  dma_run(self->dev, fds[0], IOVA + gap, IOVA + dst, len,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(in_map, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0, memcmp(m.va + dst, m.va + gap, in_map));
	EXPECT_EQ(-1, first_not(m.va + msize, 0x33, gap - msize));
	EXPECT_EQ(-1, first_not(m.va, 0x33, dst));

	/* source crosses the end of the second map */
	memset(m.va, 0x33, msize);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_ERR_UNMAPPED,
		  dma_run(self->dev, fds[0], IOVA + gap + msize - 1000, IOVA,
			  5000, VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(1000, reg32(self->dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0, memcmp(m.va, m.va + gap + msize - 1000, 1000));
	EXPECT_EQ(-1, first_not(m.va + 1000, 0x33, msize - 1000));

	/* two adjacent maps are one range to the engine */
	ASSERT_EQ(0, map(self->dev, &m, msize, msize, RW));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], IOVA + gap, IOVA + dst, len,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(0, memcmp(m.va + dst, m.va + gap, len));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/* ---- stopping ---------------------------------------------------------- */

/*
 * Unmap the destination while 1 MiB FILLs run: each ends DONE (it won),
 * ERR_ABORTED (vfio-user: fenced) or ERR_UNMAPPED (VFIO: the step after
 * the unmap; or the unmap came first), and once the unmap has returned
 * nothing writes there: a canary the CPU writes then survives the end of
 * the transfer.  Then, as it is mapped again, a GO into it runs.
 */
TEST_F(vfiosim, unmap_during_transfer)
{
	const uint64_t dst = 2UL << 20;
	unsigned int seen[16] = { 0 };
	struct dma_mem m;
	int fds[2], round;

	DMA_SETUP(self, m, fds);
	ASSERT_EQ(0, vfiosim_dma_unmap(self->dev, IOVA, MEM_SIZE, 0));
	ASSERT_EQ(0, map(self->dev, &m, 0, dst, RW));
	for (round = 0; round < 16; round++) {
		uint32_t status;

		ASSERT_EQ(0, map(self->dev, &m, dst, VFIOSIM_DMA_MAX_LEN, RW))
			TH_LOG("%s", DEV_ERR(self));
		ASSERT_EQ(0, dma_go(self->dev, 0, IOVA + dst,
				    VFIOSIM_DMA_MAX_LEN, VFIOSIM_DMA_OP_FILL,
				    0x1111111111111111ULL, 0));
		/* not a wait for anything: land the unmap at other points */
		spin_us(round * 150);
		ASSERT_EQ(0, vfiosim_dma_unmap(self->dev, IOVA + dst,
					       VFIOSIM_DMA_MAX_LEN, 0))
			TH_LOG("%s", DEV_ERR(self));
		memset(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN);
		status = dma_wait(self->dev, fds[0]);
		EXPECT_TRUE(status == VFIOSIM_DMA_STATUS_DONE ||
			    status == VFIOSIM_DMA_STATUS_ERR_ABORTED ||
			    status == VFIOSIM_DMA_STATUS_ERR_UNMAPPED)
			TH_LOG("round %d: status %u", round, status);
		seen[status & 15]++;
		EXPECT_EQ(-1, first_not(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN))
			TH_LOG("round %d: written after the unmap (status %u)",
			       round, status);
	}
	TH_LOG("done %u, aborted %u, unmapped %u",
	       seen[VFIOSIM_DMA_STATUS_DONE],
	       seen[VFIOSIM_DMA_STATUS_ERR_ABORTED],
	       seen[VFIOSIM_DMA_STATUS_ERR_UNMAPPED]);

	/* mapped again: a transfer there runs at once, and whole */
	ASSERT_EQ(0, map(self->dev, &m, dst, VFIOSIM_DMA_MAX_LEN, RW));
	memset(m.va + dst, 0, 4096);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, IOVA + dst, 4096,
			  VFIOSIM_DMA_OP_FILL, 0x5a5a5a5a5a5a5a5aULL));
	EXPECT_EQ(-1, first_not(m.va + dst, 0x5a, 4096));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/*
 * Reset while a transfer runs: once the reset returns the registers are
 * back to their reset values (STATUS IDLE, COUNT 0) and nothing writes
 * the memory any more.
 */
TEST_F(vfiosim, reset_during_transfer)
{
	const uint64_t dst = 2UL << 20;
	struct dma_mem m;
	int fds[2], round;

	DMA_SETUP(self, m, fds);
	for (round = 0; round < 4; round++) {
		ASSERT_EQ(0, dma_go(self->dev, 0, IOVA + dst,
				    VFIOSIM_DMA_MAX_LEN, VFIOSIM_DMA_OP_FILL,
				    0x2222222222222222ULL, 0));
		ASSERT_EQ(0, vfiosim_reset(self->dev));
		memset(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN);
		EXPECT_EQ(VFIOSIM_DMA_STATUS_IDLE,
			  reg32(self->dev, VFIOSIM_REG_DMA_STATUS));
		EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DMA_COUNT));
		EXPECT_EQ(VFIOSIM_DMA_NO_VECTOR,
			  reg32(self->dev, VFIOSIM_REG_DMA_VECTOR));
		/*
		 * A completion before the reset (the transfer won) has
		 * signalled by now: drain it.  A late one would come next.
		 */
		efd_wait(fds[0], 0);
		EXPECT_EQ(0, efd_wait(fds[0], 100));
		EXPECT_EQ(-1, first_not(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN))
			TH_LOG("round %d: written after the reset", round);
	}
	/* and the engine works after a reset */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, IOVA + dst, 4096,
			  VFIOSIM_DMA_OP_FILL, 0x3333333333333333ULL));
	EXPECT_EQ(-1, first_not(m.va + dst, 0x33, 4096));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/*
 * Close while busy: once the device is closed (for vfio-user over the
 * socket: once the kernel session has ended, which vfiosim-userd does
 * after the client went), the memory is never written again.
 */
TEST_F(vfiosim, no_access_after_close)
{
	const uint64_t dst = 2UL << 20;
	struct vfiosim_nl_dev_info info;
	char err[256] = "";
	struct dma_mem m;
	int fds[2], i;

	DMA_SETUP(self, m, fds);
	ASSERT_EQ(0, dma_go(self->dev, 0, IOVA + dst, VFIOSIM_DMA_MAX_LEN,
			    VFIOSIM_DMA_OP_FILL, 0x4444444444444444ULL, 0));
	vfiosim_dev_free(self->dev);
	self->dev = NULL;
	for (i = 0; i < 5000; i++) {
		ASSERT_EQ(0, vfiosim_nl_dev_get(self->uuid, &info, err,
						sizeof(err)))
			TH_LOG("%s", err);
		if (info.owner == VFIOSIM_OWNER_NONE)
			break;
		poll(NULL, 0, 1);
	}
	ASSERT_EQ(VFIOSIM_OWNER_NONE, info.owner);
	memset(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN);
	efd_wait(fds[0], 0);	/* a completion before the close */
	EXPECT_EQ(0, efd_wait(fds[0], 200));
	EXPECT_EQ(-1, first_not(m.va + dst, 0xcc, VFIOSIM_DMA_MAX_LEN));
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/* ---- DMA dirty logging ------------------------------------------------- */

static bool over_vfio(FIXTURE_DATA(vfiosim) *self)
{
	return !strcmp(vfiosim_dev_backend(self->dev), "vfio");
}

/* The set bits of bitmap[0..nbits) as a list "a b c", for messages. */
static const char *bits_str(const uint64_t *bitmap, size_t nbits, char *buf,
			    size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < nbits && off + 12 < len; i++)
		if (bitmap[i / 64] & (1ULL << (i % 64)))
			off += snprintf(buf + off, len - off, "%zu ", i);
	return buf;
}

/* bitmap[0..nbits) has exactly the bits [first, last] set. */
static bool bits_exactly(const uint64_t *bitmap, size_t nbits, size_t first,
			 size_t last)
{
	size_t i;

	for (i = 0; i < nbits; i++) {
		bool set = bitmap[i / 64] & (1ULL << (i % 64));

		if (set != (i >= first && i <= last))
			return false;
	}
	return true;
}

#define R0	IOVA				/* 1 MiB logged */
#define R1	(IOVA + (2UL << 20))		/* 1 MiB logged */
#define LOG_BITS	256			/* 1 MiB of 4 KiB pages */

/*
 * The log holds exactly the pages the engine wrote (the destinations of
 * COPY and FILL, not what CSUM or COPY read), at the page size asked,
 * and REPORT clears what it reported.
 */
TEST_F(vfiosim, dirty_logging)
{
	struct vfio_device_feature_dma_logging_range r[2] = {
		{ .iova = R0, .length = 1UL << 20 },
		{ .iova = R1, .length = 1UL << 20 },
	};
	uint64_t bm[LOG_BITS / 64];
	char buf[512];
	struct dma_mem m;
	int fds[2], ret;

	DMA_SETUP(self, m, fds);
	ret = vfiosim_dma_logging_start(self->dev, PAGE, r, 2);
	if (ret == -ENOTTY && over_vfio(self))
		SKIP(goto out, "this kernel's VFIO core cannot report a device's DMA log (no iova_bitmap without CONFIG_IOMMUFD_DRIVER)");
	ASSERT_EQ(0, ret) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(-EBUSY, vfiosim_dma_logging_start(self->dev, PAGE, r, 2));

	/* FILL [R1 + 0x1800, +3 pages): pages 1..4 of R1 */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, R1 + 0x1800, 3 * PAGE,
			  VFIOSIM_DMA_OP_FILL, 7));
	/* COPY from R1 into page 16 of R0; CSUM of R0 writes nothing */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], R1, R0 + 16 * PAGE + 8, 100,
			  VFIOSIM_DMA_OP_COPY, 0));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], R0 + 100 * PAGE, 0, 3 * PAGE,
			  VFIOSIM_DMA_OP_CSUM, 0));
	/* a write outside both ranges is not logged */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, IOVA + (1UL << 20), PAGE,
			  VFIOSIM_DMA_OP_FILL, 7));

	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, vfiosim_dma_logging_report(self->dev, R0, 1UL << 20,
						PAGE, bm))
		TH_LOG("%s", DEV_ERR(self));
	EXPECT_TRUE(bits_exactly(bm, LOG_BITS, 16, 16))
		TH_LOG("R0: %s", bits_str(bm, LOG_BITS, buf, sizeof(buf)));
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, vfiosim_dma_logging_report(self->dev, R1, 1UL << 20,
						PAGE, bm));
	EXPECT_TRUE(bits_exactly(bm, LOG_BITS, 1, 4))
		TH_LOG("R1: %s", bits_str(bm, LOG_BITS, buf, sizeof(buf)));
	/* reported is cleared */
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, vfiosim_dma_logging_report(self->dev, R1, 1UL << 20,
						PAGE, bm));
	EXPECT_TRUE(bits_exactly(bm, LOG_BITS, 1, 0))
		TH_LOG("R1 again: %s", bits_str(bm, LOG_BITS, buf, sizeof(buf)));

	/* a coarser report page: pages 17..20 of R1 are 64 KiB page 1 */
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, R1 + 17 * PAGE, 4 * PAGE,
			  VFIOSIM_DMA_OP_FILL, 7));
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, vfiosim_dma_logging_report(self->dev, R1, 1UL << 20,
						16 * PAGE, bm));
	EXPECT_TRUE(bits_exactly(bm, 16, 1, 1))
		TH_LOG("R1 by 64 KiB: %s", bits_str(bm, 16, buf, sizeof(buf)));

	/* REPORT outside a logged range, or running past its end */
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_report(self->dev,
						      IOVA + (1UL << 20),
						      PAGE, PAGE, bm));
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_report(self->dev,
						      R0 + (1UL << 19),
						      1UL << 20, PAGE, bm));
	EXPECT_EQ(0, vfiosim_dma_logging_stop(self->dev));
	/* not logging: REPORT fails, STOP is no error */
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_report(self->dev, R0,
						      1UL << 20, PAGE, bm));
	EXPECT_EQ(0, vfiosim_dma_logging_stop(self->dev));

	/* logging at 64 KiB pages: a 4 KiB write dirties its 64 KiB page */
	ASSERT_EQ(0, vfiosim_dma_logging_start(self->dev, 16 * PAGE, r, 1));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE,
		  dma_run(self->dev, fds[0], 0, R0 + 40 * PAGE, 100,
			  VFIOSIM_DMA_OP_FILL, 7));
	memset(bm, 0, sizeof(bm));
	ASSERT_EQ(0, vfiosim_dma_logging_report(self->dev, R0, 1UL << 20,
						PAGE, bm));
	EXPECT_TRUE(bits_exactly(bm, LOG_BITS, 32, 47))
		TH_LOG("R0 logged by 64 KiB: %s",
		       bits_str(bm, LOG_BITS, buf, sizeof(buf)));
	EXPECT_EQ(0, vfiosim_dma_logging_stop(self->dev));
out:
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

/* START refused as the VFIO core refuses it; nothing is left logging. */
TEST_F(vfiosim, dirty_logging_bad_start)
{
	struct vfio_device_feature_dma_logging_range r[257];
	uint64_t bm[LOG_BITS / 64];
	unsigned int i;
	int ret;

	for (i = 0; i < 257; i++) {
		r[i].iova = IOVA + i * 2 * PAGE;
		r[i].length = PAGE;
	}
	ret = vfiosim_dma_logging_start(self->dev, PAGE, r, 1);
	if (ret == -ENOTTY && over_vfio(self))
		SKIP(return, "no device DMA logging through this kernel's VFIO core");
	ASSERT_EQ(0, ret) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, vfiosim_dma_logging_stop(self->dev));

	EXPECT_EQ(-E2BIG, vfiosim_dma_logging_start(self->dev, PAGE, r, 257));
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, PAGE, r, 0));
	/* 256 ranges are fine */
	EXPECT_EQ(0, vfiosim_dma_logging_start(self->dev, PAGE, r, 256));
	EXPECT_EQ(0, vfiosim_dma_logging_stop(self->dev));

	/* overlapping: the same range twice, and one inside another */
	r[1] = r[0];
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, PAGE, r, 2));
	r[1].iova = IOVA;
	r[1].length = 4 * PAGE;
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, PAGE, r, 2));
	/* page sizes: not a power of two, zero; ranges not aligned to it */
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, 3000, r, 1));
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, 0, r, 1));
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_start(self->dev, 8 * PAGE,
						     r, 1));
	/* none of these started a log */
	EXPECT_EQ(-EINVAL, vfiosim_dma_logging_report(self->dev, IOVA, PAGE,
						      PAGE, bm));
}

/* ---- bandwidth --------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BW_REPS	64

/*
 * COPY bandwidth of 4 KiB, 64 KiB and 1 MiB transfers next to memcpy() of
 * the same bytes in the same run, logged (a number, not a verdict: the
 * guest is emulated and shares its CPUs).  DMA and memcpy alternate, one
 * of each per round, and the medians are compared, so both see the same
 * load.  Each COPY is checked.
 */
TEST_F(vfiosim, copy_bandwidth)
{
	static const uint32_t sizes[] = { 4096, 65536, VFIOSIM_DMA_MAX_LEN };
	const uint64_t dst = 2UL << 20;
	double dma_t[BW_REPS], cpu_t[BW_REPS], t0, start;
	struct dma_mem m;
	int fds[2], r, n;
	size_t i;

	DMA_SETUP(self, m, fds);
	fill_random(m.va, 1UL << 20, 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* a warm-up round, then at most 3 s a size (the harness: 30 s) */
		ASSERT_EQ(VFIOSIM_DMA_STATUS_DONE,
			  dma_run(self->dev, fds[0], IOVA, IOVA + dst, sizes[i],
				  VFIOSIM_DMA_OP_COPY, 0));
		start = now_s();
		for (n = 0; n < BW_REPS && now_s() - start < 3; n++) {
			t0 = now_s();
			ASSERT_EQ(VFIOSIM_DMA_STATUS_DONE,
				  dma_run(self->dev, fds[0], IOVA, IOVA + dst,
					  sizes[i], VFIOSIM_DMA_OP_COPY, 0));
			dma_t[n] = now_s() - t0;
			t0 = now_s();
			memcpy(m.va + dst + (n & 1) * 64, m.va, sizes[i]);
			__asm__ volatile("" : : "r"(m.va) : "memory");
			cpu_t[n] = now_s() - t0;
		}
		ASSERT_EQ(VFIOSIM_DMA_STATUS_DONE,
			  dma_run(self->dev, fds[0], IOVA, IOVA + dst, sizes[i],
				  VFIOSIM_DMA_OP_COPY, 0));
		ASSERT_EQ(0, memcmp(m.va, m.va + dst, sizes[i]));
		qsort(dma_t, n, sizeof(double), cmp_double);
		qsort(cpu_t, n, sizeof(double), cmp_double);
		r = n / 2;
		TH_LOG("%s COPY %7u B: %8.1f MB/s, memcpy %8.1f MB/s, ratio %.2f (medians of %d)",
		       vfiosim_dev_backend(self->dev), sizes[i],
		       sizes[i] / dma_t[r] / 1e6, sizes[i] / cpu_t[r] / 1e6,
		       cpu_t[r] / dma_t[r], n);
	}
	efd_close_all(fds, 2);
	dma_mem_free(&m);
}

TEST_HARNESS_MAIN
