// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO migration v2 of vfiosim devices, over every backend: the state
 * machine, the stream (uapi/linux/vfiosim.h) and PRE_COPY dirty tracking.
 *
 * The fixture's device is the source.  Destinations are new devices of
 * the same type opened over vfio and over netlink, so every variant
 * resumes both on its own kind of transport and across (a unix variant's
 * stream goes to vfio and netlink, as userd forwards to the kernel).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "vfiosim_test.h"

#define PAGE		4096u
#define HDR		VFIOSIM_MIG_HEADER_SIZE
#define REC		VFIOSIM_MIG_PAGE_RECORD_SIZE(PAGE)
#define NSTATES		8	/* VFIO_DEVICE_STATE_ERROR .. PRE_COPY_P2P */

/* A second device of the fixture's type (or another), for resuming. */
struct peer {
	struct vfiosim_dev *dev;
	char uuid[37];
	bool created;
};

static int peer_open(struct peer *p, const char *type, const char *backend)
{
	char err[256], spec[64];
	int ret;

	memset(p, 0, sizeof(*p));
	ret = vfiosim_uuid_generate(p->uuid);
	if (!ret)
		ret = vfiosim_mdev_create(type, p->uuid, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "# create %s: %s\n", type, err);
		return ret;
	}
	p->created = true;
	p->dev = vfiosim_dev_alloc();
	if (!p->dev)
		return -ENOMEM;
	snprintf(spec, sizeof(spec), "%s:%s", backend, p->uuid);
	ret = vfiosim_dev_open(p->dev, spec);
	if (ret)
		fprintf(stderr, "# open %s: %s\n", spec,
			vfiosim_dev_error(p->dev));
	return ret;
}

static void peer_close(struct peer *p)
{
	char err[256];

	if (p->dev)
		vfiosim_dev_free(p->dev);
	p->dev = NULL;
	if (p->created)
		vfiosim_mdev_remove(p->uuid, err, sizeof(err));
	p->created = false;
}

static bool kernel_has_pre_copy(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 2);
}

static uint32_t mig_state(struct vfiosim_dev *dev)
{
	uint32_t state = 0xdead;

	if (vfiosim_mig_get_state(dev, &state))
		return 0xdead;
	return state;
}

/* Everything the device shows: what a migration must carry over. */
struct devstate {
	uint8_t config[VFIOSIM_CONFIG_SIZE];
	uint32_t bar0[VFIOSIM_REG_END / 4];
	uint32_t msix[VFIOSIM_MAX_VECTORS * 4];
	uint32_t pba;
	uint32_t counter;
	uint8_t *bar2;
	uint64_t bar2_size;
};

static int bar2_read_all(struct vfiosim_dev *dev, uint8_t *buf, uint64_t size)
{
	uint64_t off;

	for (off = 0; off < size; off += 65536) {
		size_t n = size - off < 65536 ? size - off : 65536;

		if (vfiosim_region_read(dev, VFIO_PCI_BAR2_REGION_INDEX, off,
					buf + off, n) != (ssize_t)n)
			return -EIO;
	}
	return 0;
}

/* Read all of it; COUNTER last (a read increments it), once. */
static int snap(struct vfiosim_dev *dev, const struct vfiosim_model *m,
		struct devstate *s)
{
	uint32_t off;

	memset(s->bar0, 0, sizeof(s->bar0));
	memset(s->msix, 0, sizeof(s->msix));
	if (vfiosim_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, 0,
				s->config, sizeof(s->config)) !=
	    sizeof(s->config))
		return -EIO;
	for (off = 0; off < VFIOSIM_REG_END; off += 4)
		if (off != VFIOSIM_REG_COUNTER &&
		    bar0_read(dev, off, &s->bar0[off / 4]))
			return -EIO;
	for (off = 0; off < m->msix_vectors * 16; off += 4)
		if (bar0_read(dev, VFIOSIM_MSIX_TABLE_OFFSET + off,
			      &s->msix[off / 4]))
			return -EIO;
	if (bar0_read(dev, VFIOSIM_MSIX_PBA_OFFSET, &s->pba))
		return -EIO;
	s->bar2_size = m->bar2_size;
	if (!s->bar2)
		s->bar2 = malloc(m->bar2_size);
	if (!s->bar2 || bar2_read_all(dev, s->bar2, m->bar2_size))
		return -EIO;
	return bar0_read(dev, VFIOSIM_REG_COUNTER, &s->counter);
}

/* 0, or the first difference logged.  counter_delta: reads in between. */
static int snap_cmp(const struct devstate *a, const struct devstate *b,
		    uint32_t counter_delta)
{
	unsigned int i;

	for (i = 0; i < sizeof(a->config); i++)
		if (a->config[i] != b->config[i]) {
			fprintf(stderr, "# config 0x%x: 0x%02x vs 0x%02x\n", i,
				a->config[i], b->config[i]);
			return -1;
		}
	for (i = 0; i < VFIOSIM_REG_END / 4; i++)
		if (a->bar0[i] != b->bar0[i]) {
			fprintf(stderr, "# BAR0 0x%x: 0x%x vs 0x%x\n", i * 4,
				a->bar0[i], b->bar0[i]);
			return -1;
		}
	for (i = 0; i < VFIOSIM_MAX_VECTORS * 4; i++)
		if (a->msix[i] != b->msix[i]) {
			fprintf(stderr, "# MSI-X table dword %u: 0x%x vs 0x%x\n",
				i, a->msix[i], b->msix[i]);
			return -1;
		}
	if (a->pba != b->pba) {
		fprintf(stderr, "# PBA 0x%x vs 0x%x\n", a->pba, b->pba);
		return -1;
	}
	if (a->counter + counter_delta != b->counter) {
		fprintf(stderr, "# COUNTER %u (+%u) vs %u\n", a->counter,
			counter_delta, b->counter);
		return -1;
	}
	for (i = 0; i < a->bar2_size; i++)
		if (a->bar2[i] != b->bar2[i]) {
			fprintf(stderr, "# BAR2 0x%x: 0x%02x vs 0x%02x\n", i,
				a->bar2[i], b->bar2[i]);
			return -1;
		}
	return 0;
}

static uint32_t mix(uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 0x9e3779b9u + i * 0x85ebca6bu;

	x ^= x >> 15;
	return x * 0xc2b2ae35u;
}

/* A BAR2 page full of a pattern of (seed, page). */
static void page_pattern(uint8_t *buf, uint32_t seed, uint32_t page)
{
	unsigned int i;

	for (i = 0; i < PAGE; i += 4) {
		uint32_t v = mix(seed, page * PAGE + i);

		memcpy(buf + i, &v, 4);
	}
}

static int bar2_write_page(struct vfiosim_dev *dev, uint32_t seed,
			   uint32_t page)
{
	uint8_t buf[PAGE];

	page_pattern(buf, seed, page);
	return vfiosim_region_write(dev, VFIO_PCI_BAR2_REGION_INDEX,
				    (uint64_t)page * PAGE, buf, PAGE) == PAGE ?
	       0 : -EIO;
}

/*
 * Give the device a state of its own from seed: config writes a VMM
 * makes, registers, an MSI-X table, DMA registers (no GO), interrupt
 * state (MSI-X enabled, vectors held back by IRQ_MASK stay pending) and
 * BAR2 pages by region writes and, where it maps, through an mmap (the
 * last page before the trapped tail, and one in the middle).
 */
static int fill(struct vfiosim_dev *dev, const struct vfiosim_model *m,
		uint32_t seed, int *efds, unsigned int *npages)
{
	uint64_t mmap_off, mmap_size;
	uint32_t i, nvec = m->msix_vectors;
	void *map;
	int ret = 0;

	ret |= cfg_write(dev, 0x0c, 1, seed & 0xff);		/* cache line */
	ret |= cfg_write(dev, 0x3c, 1, (seed >> 8) & 0xff);	/* int line */
	ret |= cfg_write(dev, 0x04, 2, 0x0006);	/* MEMORY | MASTER */
	ret |= cfg_write(dev, 0x10, 4, 0xfe000000);		/* BAR0 */
	ret |= cfg_write(dev, 0x18, 4, 0xc0000000);		/* BAR2 */
	ret |= cfg_write(dev, VFIOSIM_CFG_MSI_CAP + 4, 4, mix(seed, 1) & ~3u);
	for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++)
		ret |= bar0_write(dev, VFIOSIM_REG_SCRATCH(i), mix(seed, i));
	ret |= bar0_write(dev, VFIOSIM_REG_COUNTER, seed * 3);
	for (i = 0; i < nvec * 4; i++)
		ret |= bar0_write(dev, VFIOSIM_MSIX_TABLE_OFFSET + 4 * i,
				  mix(seed, 100 + i));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_SRC_LO, mix(seed, 200));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_SRC_HI, mix(seed, 201));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_DST_LO, mix(seed, 202));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_LEN, 4096 + (seed & 0xff));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_OP, VFIOSIM_DMA_OP_FILL);
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_PATTERN_LO, mix(seed, 203));
	ret |= bar0_write(dev, VFIOSIM_REG_DMA_VECTOR, 1);
	if (ret)
		return -EIO;

	/* vectors 0 and 2 held back: pending; 1 delivered */
	ret = irq_enable_new(dev, VFIO_PCI_MSIX_IRQ_INDEX, efds, nvec);
	if (ret)
		return ret;
	ret |= bar0_write(dev, VFIOSIM_REG_IRQ_MASK, 0x5);
	ret |= ring_doorbell(dev, 0);
	ret |= ring_doorbell(dev, 1);
	ret |= ring_doorbell(dev, 2);
	ret |= ring_doorbell(dev, nvec + 1);	/* dropped */
	ret |= bar0_write(dev, VFIOSIM_REG_IRQ_STATUS, 0x2);	/* RW1C */
	if (ret)
		return -EIO;

	for (i = 0; i < 4; i++)
		if (bar2_write_page(dev, seed, i * 3))
			return -EIO;
	if (bar2_write_page(dev, seed, m->bar2_size / PAGE - 1))
		return -EIO;	/* the trapped tail */
	*npages = 5;
	if (bar2_sparse_area(dev, &mmap_off, &mmap_size))
		return 0;
	if (vfiosim_region_mmap(dev, VFIO_PCI_BAR2_REGION_INDEX, mmap_off,
				mmap_size, PROT_READ | PROT_WRITE, &map))
		return 0;	/* a backend without mmap: region writes only */
	page_pattern((uint8_t *)map + mmap_size - PAGE, seed ^ 0x55,
		     mmap_size / PAGE - 1);
	page_pattern((uint8_t *)map + mmap_size / PAGE / 2 * PAGE, seed ^ 0x66,
		     mmap_size / PAGE / 2);
	munmap(map, mmap_size);
	*npages = 7;
	return 0;
}

/* A STOP_COPY stream's exact size: header, pages, state, END. */
static size_t stream_size(const struct vfiosim_model *m, unsigned int npages)
{
	return HDR + npages * REC + 5 * VFIOSIM_MIG_RECORD_HEADER_SIZE +
	       VFIOSIM_CONFIG_SIZE + VFIOSIM_MIG_REGS_LEN(m->msix_vectors) +
	       VFIOSIM_MIG_IRQ_LEN + VFIOSIM_MIG_DMA_LEN + VFIOSIM_MIG_END_LEN;
}

/* The whole STOP_COPY stream of dev (RUNNING -> STOP_COPY -> STOP). */
static ssize_t save(struct vfiosim_dev *dev, uint8_t **out)
{
	void *buf;
	ssize_t n = vfiosim_mig_save(dev, &buf);

	if (n >= 0)
		*out = buf;
	return n;
}

/* RESUMING, the bytes, then STOP: that arc's errno (0: loaded). */
static int resume(struct vfiosim_dev *dev, const uint8_t *buf, size_t len)
{
	int ret = vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_RESUMING);

	if (ret)
		return 1000 + -ret;	/* not the errno a stream gets */
	if (len && vfiosim_mig_write(dev, buf, len) != (ssize_t)len)
		return 2000;
	return vfiosim_mig_set_state(dev, VFIO_DEVICE_STATE_STOP);
}

/* Offset of the first record with tag in a stream, or 0. */
static size_t find_record(const uint8_t *buf, size_t len, uint32_t tag)
{
	size_t off = HDR;

	while (off + 8 <= len) {
		uint32_t t, l;

		memcpy(&t, buf + off, 4);	/* little endian hosts only */
		memcpy(&l, buf + off + 4, 4);
		if (t == tag)
			return off;
		off += 8 + l;
	}
	return 0;
}

TEST_F(vfiosim, flags_and_initial_state)
{
	uint64_t flags = 0, want = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;

	if (kernel_has_pre_copy())
		want |= VFIO_MIGRATION_PRE_COPY;
	ASSERT_EQ(0, vfiosim_mig_flags(self->dev, &flags)) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(want, flags);
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_state(self->dev));
}

/*
 * Save on the fixture's device, resume on a fresh device of the same type
 * over vfio and over netlink: every register, config byte, MSI-X entry,
 * PBA bit and BAR2 byte comes out as it went in.  The destinations enable
 * MSI-X in RESUMING before the STOP arc, as QEMU loads config, and a
 * pending vector is delivered once the destination unmasks it.
 */
TEST_F(vfiosim, save_resume_every_transport)
{
	static const char *const dst_backends[] = { "vfio", "netlink" };
	int src_efds[VFIOSIM_MAX_VECTORS], dst_efds[VFIOSIM_MAX_VECTORS];
	struct devstate before = {}, after = {};
	uint8_t *stream = NULL;
	unsigned int b, npages = 0;
	uint32_t magic;
	ssize_t len;

	ASSERT_EQ(0, fill(self->dev, self->model, 0x1234, src_efds, &npages))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, snap(self->dev, self->model, &before)) TH_LOG("%s", DEV_ERR(self));
	EXPECT_EQ(0x5u, before.pba);	/* vectors 0 and 2 held back */
	len = save(self->dev, &stream);
	ASSERT_LT(0, len) TH_LOG("save: %s", DEV_ERR(self));
	memcpy(&magic, stream, 4);
	EXPECT_EQ(VFIOSIM_MIG_MAGIC, magic);
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_state(self->dev));
	/* touched pages only: 4, the tail and (mmap) 2, never all of BAR2 */
	EXPECT_EQ((ssize_t)stream_size(self->model, npages), len);

	for (b = 0; b < 2; b++) {
		struct peer p;
		uint64_t fired;

		ASSERT_EQ(0, peer_open(&p, self->model->type, dst_backends[b]));
		ASSERT_EQ(0, vfiosim_mig_set_state(p.dev,
						   VFIO_DEVICE_STATE_RESUMING));
		ASSERT_EQ(0, irq_enable_new(p.dev, VFIO_PCI_MSIX_IRQ_INDEX,
					    dst_efds, self->model->msix_vectors));
		ASSERT_EQ((ssize_t)len, vfiosim_mig_write(p.dev, stream, len))
			TH_LOG("%s", vfiosim_dev_error(p.dev));
		ASSERT_EQ(0, vfiosim_mig_set_state(p.dev, VFIO_DEVICE_STATE_RUNNING))
			TH_LOG("%s: %s", dst_backends[b], vfiosim_dev_error(p.dev));
		ASSERT_EQ(0, snap(p.dev, self->model, &after));
		/* the source's snap read COUNTER once before saving */
		EXPECT_EQ(0, snap_cmp(&before, &after, 1))
			TH_LOG("resumed over %s differs", dst_backends[b]);
		/* the held-back vector 0 reaches the destination's eventfd */
		EXPECT_EQ(0u, efd_wait(dst_efds[0], IRQ_QUIET_MS));
		EXPECT_EQ(0, bar0_write(p.dev, VFIOSIM_REG_IRQ_MASK, 0x4));
		fired = efd_wait(dst_efds[0], IRQ_FIRE_TIMEOUT_MS);
		EXPECT_EQ(1u, fired);
		EXPECT_EQ(1, msix_pending(p.dev, 2));
		efd_close_all(dst_efds, self->model->msix_vectors);
		peer_close(&p);
	}
	/* the source runs again as it was */
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_RUNNING));
	free(stream);
	free(before.bar2);
	free(after.bar2);
	efd_close_all(src_efds, self->model->msix_vectors);
}

/*
 * Streams that are wrong are refused on the RESUMING -> STOP arc with
 * the errno the uapi names, and the destination is left exactly as it
 * was (compared whole), still in RESUMING until it is reset.
 */
TEST_F(vfiosim, bad_streams_refused_device_unchanged)
{
	int efds[VFIOSIM_MAX_VECTORS], dfds[VFIOSIM_MAX_VECTORS];
	struct devstate before = {}, after = {};
	uint8_t *stream = NULL, *bad;
	size_t cfg;
	ssize_t len;
	struct peer p, other;
	const char *other_type;
	unsigned int i, npages;
	struct {
		const char *what;
		size_t flip;	/* byte to xor with 0xff, or SIZE_MAX */
		ssize_t cut;	/* length change */
		int err;
	} cases[] = {
		{ "bad magic", 0, 0, -EINVAL },
		{ "bad version", 4, 0, -EINVAL },
		{ "other device id", 8, 0, -EINVAL },
		{ "other BAR2 size", 13, 0, -EINVAL },
		{ "flipped config byte", 0 /* set below */, 0, -EBADMSG },
		{ "flipped END checksum", 0 /* set below */, 0, -EBADMSG },
		{ "truncated by one byte", SIZE_MAX, -1, -ENODATA },
		{ "truncated to half", SIZE_MAX, 0 /* set below */, -ENODATA },
		{ "header only", SIZE_MAX, 0 /* set below */, -ENODATA },
		{ "half a header", SIZE_MAX, 0 /* set below */, -ENODATA },
		{ "empty", SIZE_MAX, 0 /* set below */, -ENODATA },
		{ "one trailing byte", SIZE_MAX, 1, -EINVAL },
		{ "a second stream after", SIZE_MAX, 0 /* set below */, -EINVAL },
	};

	ASSERT_EQ(0, fill(self->dev, self->model, 0x77, efds, &npages));
	len = save(self->dev, &stream);
	ASSERT_LT(0, len) TH_LOG("save: %s", DEV_ERR(self));
	cfg = find_record(stream, len, VFIOSIM_MIG_TAG_CONFIG);
	ASSERT_NE(0u, cfg);
	cases[4].flip = cfg + 8 + 0x0c;
	cases[5].flip = len - 1;
	cases[7].cut = -(len / 2);
	cases[8].cut = HDR - len;
	cases[9].cut = HDR / 2 - len;
	cases[10].cut = -len;
	cases[12].cut = len;
	bad = malloc(2 * len);
	ASSERT_NE(NULL, bad);

	/* the destination has a state of its own, which must survive */
	ASSERT_EQ(0, peer_open(&p, self->model->type, "vfio"));
	ASSERT_EQ(0, fill(p.dev, self->model, 0x99, dfds, &npages));
	ASSERT_EQ(0, snap(p.dev, self->model, &before));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t blen = len + cases[i].cut;

		memcpy(bad, stream, len);
		if (cases[i].cut > 0)
			memcpy(bad + len, stream, cases[i].cut);
		if (cases[i].flip != SIZE_MAX)
			bad[cases[i].flip] ^= 0xff;
		EXPECT_EQ(cases[i].err, resume(p.dev, bad, blen))
			TH_LOG("%s: %s", cases[i].what, vfiosim_dev_error(p.dev));
		EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, mig_state(p.dev))
			TH_LOG("%s", cases[i].what);
		ASSERT_EQ(0, snap(p.dev, self->model, &after));
		EXPECT_EQ(0, snap_cmp(&before, &after, 1))
			TH_LOG("%s changed the device", cases[i].what);
		/* reset leaves RESUMING (and resets the registers) */
		ASSERT_EQ(0, vfiosim_reset(p.dev));
		EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_state(p.dev));
		efd_close_all(dfds, self->model->msix_vectors);
		ASSERT_EQ(0, irq_disable(p.dev, VFIO_PCI_MSIX_IRQ_INDEX));
		ASSERT_EQ(0, fill(p.dev, self->model, 0x99, dfds, &npages));
		ASSERT_EQ(0, snap(p.dev, self->model, &before));
	}
	/* the good stream still loads after all that */
	EXPECT_EQ(0, resume(p.dev, stream, len)) TH_LOG("%s", vfiosim_dev_error(p.dev));
	efd_close_all(dfds, self->model->msix_vectors);
	peer_close(&p);

	/* a device of the other type refuses it, unchanged */
	other_type = self->model == &vfiosim_small_model ?
		     vfiosim_full_model.type : vfiosim_small_model.type;
	ASSERT_EQ(0, peer_open(&other, other_type, "netlink"));
	EXPECT_EQ(-EINVAL, resume(other.dev, stream, len));
	EXPECT_EQ(0u, reg32(other.dev, VFIOSIM_REG_SCRATCH0));
	peer_close(&other);

	free(bad);
	free(stream);
	free(before.bar2);
	free(after.bar2);
	efd_close_all(efds, self->model->msix_vectors);
}

/* The VFIO FSM's answer for cur -> want on a device with flags. */
static bool arc_valid(uint32_t cur, uint32_t want, bool pre_copy)
{
	bool want_pre = want == VFIO_DEVICE_STATE_PRE_COPY ||
			want == VFIO_DEVICE_STATE_PRE_COPY_P2P;

	if (want == VFIO_DEVICE_STATE_ERROR || want >= NSTATES)
		return false;
	if (want_pre && !pre_copy)
		return false;
	/* saving cannot go back to PRE_COPY */
	return !(cur == VFIO_DEVICE_STATE_STOP_COPY && want_pre);
}

/*
 * Every arc from every state the device has: the ones the VFIO FSM has no
 * path for (to ERROR, to an unknown or unsupported state, STOP_COPY back
 * to PRE_COPY) are EINVAL with the state unchanged; every other arc
 * arrives, except out of RESUMING with no stream (ENODATA, stays).
 */
TEST_F(vfiosim, every_arc)
{
	static const uint32_t targets[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 100 };
	bool pre_copy = kernel_has_pre_copy();
	uint32_t cur, t;

	for (cur = VFIO_DEVICE_STATE_STOP; cur < NSTATES; cur++) {
		if (!pre_copy && cur >= VFIO_DEVICE_STATE_PRE_COPY)
			continue;
		for (t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
			uint32_t want = targets[t];
			int ret, expect = 0;

			ASSERT_EQ(0, vfiosim_reset(self->dev));
			ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_state(self->dev));
			ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, cur))
				TH_LOG("to %u: %s", cur, DEV_ERR(self));
			ASSERT_EQ(cur, mig_state(self->dev));
			if (!arc_valid(cur, want, pre_copy))
				expect = -EINVAL;
			else if (cur == VFIO_DEVICE_STATE_RESUMING &&
				 want != cur)
				expect = -ENODATA;
			ret = vfiosim_mig_set_state(self->dev, want);
			EXPECT_EQ(expect, ret)
				TH_LOG("%u -> %u: %s", cur, want, DEV_ERR(self));
			EXPECT_EQ(expect ? cur : want, mig_state(self->dev))
				TH_LOG("%u -> %u", cur, want);
		}
	}
	ASSERT_EQ(0, vfiosim_reset(self->dev));
}

/*
 * Reset and close end migration: a saving device that is reset (or
 * closed and opened again) is RUNNING, and the old session's data is
 * gone.
 */
TEST_F(vfiosim, reset_and_reopen_return_to_running)
{
	char spec[128];
	uint8_t buf[64];
	int i;

	ASSERT_EQ(0, bar2_write_page(self->dev, 5, 0));
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(0, vfiosim_reset(self->dev));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_state(self->dev));
	EXPECT_GT(0, vfiosim_mig_read(self->dev, buf, sizeof(buf)));
	/* the device works after */
	EXPECT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_SCRATCH0, 7));
	EXPECT_EQ(7u, reg32(self->dev, VFIOSIM_REG_SCRATCH0));

	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_RESUMING));
	if (self->sock[0])
		snprintf(spec, sizeof(spec), "unix:%s", self->sock);
	else
		snprintf(spec, sizeof(spec), "%s:%s",
			 vfiosim_dev_backend(self->dev), self->uuid);
	vfiosim_dev_free(self->dev);
	self->dev = vfiosim_dev_alloc();
	ASSERT_NE(NULL, self->dev);
	/* userd lets the device go, then takes the next client: retry */
	for (i = 0; i < 100; i++) {
		if (!vfiosim_dev_open(self->dev, spec))
			break;
		usleep(20000);
	}
	ASSERT_GT(100, i) TH_LOG("reopen %s: %s", spec, DEV_ERR(self));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_state(self->dev));
}

/*
 * PRE_COPY: the initial bytes are the header and the touched pages;
 * after they are read nothing is left (ENOMSG); pages written since
 * (region writes and writes through an mmap, to a page not mapped and to
 * one mapped read-only by a read, a page written twice counting once)
 * are the dirty bytes, one record each, sent again with
 * their new contents.  VFIO reports the counts with PRECOPY_INFO;
 * vfio-user has no such message, and the bytes read say the same.
 */
TEST_F(vfiosim, precopy_dirty_pages)
{
	uint64_t initial = 1, dirty = 1, mmap_off, mmap_size;
	bool info = !strcmp(vfiosim_dev_backend(self->dev), "vfio");
	struct devstate before = {}, after = {};
	uint8_t *stream;
	size_t len = 0, cap;
	volatile uint8_t *map = NULL;
	unsigned int ndirty = 2;
	struct peer p;
	ssize_t n;

	if (!kernel_has_pre_copy())
		SKIP(return, "PRE_COPY needs Linux 6.2");
	cap = 64 * REC + 64 * 1024;
	stream = malloc(cap);
	ASSERT_NE(NULL, stream);
	ASSERT_EQ(0, bar2_write_page(self->dev, 1, 0));
	ASSERT_EQ(0, bar2_write_page(self->dev, 1, 1));
	ASSERT_EQ(0, bar2_write_page(self->dev, 1, 4));
	if (!bar2_sparse_area(self->dev, &mmap_off, &mmap_size)) {
		void *m;

		if (!vfiosim_region_mmap(self->dev, VFIO_PCI_BAR2_REGION_INDEX,
					 mmap_off, mmap_size,
					 PROT_READ | PROT_WRITE, &m))
			map = m;
	}

	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_PRE_COPY));
	if (info) {
		ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
		EXPECT_EQ(HDR + 3 * REC, initial);
		EXPECT_EQ(0u, dirty);
	} else {
		EXPECT_EQ(-EOPNOTSUPP,
			  vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
	}
	/* a read of the middle of a record is fine: the stream goes on */
	n = vfiosim_mig_read(self->dev, stream, 100);
	ASSERT_EQ(100, n);
	len = 100;
	if (info) {
		ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
		EXPECT_EQ(HDR + 3 * REC - 100, initial);
	}
	n = vfiosim_mig_read(self->dev, stream + len, cap - len);
	ASSERT_EQ((ssize_t)(HDR + 3 * REC - 100), n) TH_LOG("%s", DEV_ERR(self));
	len += n;
	EXPECT_EQ(-ENOMSG, vfiosim_mig_read(self->dev, stream + len, cap - len));
	if (info) {
		ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
		EXPECT_EQ(0u, initial);
		EXPECT_EQ(0u, dirty);
	}

	/* dirty: page 1 twice, page 7 (new), and pages through the map */
	ASSERT_EQ(0, bar2_write_page(self->dev, 2, 1));
	ASSERT_EQ(0, bar2_write_page(self->dev, 3, 1));
	ASSERT_EQ(0, bar2_write_page(self->dev, 2, 7));
	if (map) {
		uint8_t seen = map[4 * PAGE + 5];	/* a read fault: read-only */

		map[0] = 0xa5;			/* page 0: sent, a write fault */
		map[PAGE + 17] = 0x5a;		/* page 1: dirty already */
		map[9 * PAGE + 3] = 0x3c;	/* page 9: untouched before */
		map[9 * PAGE + 4] = 0x3d;	/* the same page again */
		map[4 * PAGE + 5] = seen + 1;	/* page 4: pfn_mkwrite */
		ndirty += 3;
	}
	if (info) {
		ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial, &dirty));
		EXPECT_EQ(0u, initial);
		EXPECT_EQ(ndirty * REC, dirty);
	}
	n = vfiosim_mig_read(self->dev, stream + len, cap - len);
	EXPECT_EQ((ssize_t)(ndirty * REC), n) TH_LOG("%s", DEV_ERR(self));
	ASSERT_LT(0, n);
	len += n;
	EXPECT_EQ(-ENOMSG, vfiosim_mig_read(self->dev, stream + len, cap - len));
	/* after the read the mapping faults again: one more dirty page */
	if (map) {
		map[0] = 0xa6;
		if (info) {
			ASSERT_EQ(0, vfiosim_mig_precopy_info(self->dev, &initial,
							      &dirty));
			EXPECT_EQ(REC, dirty);
		}
	}

	/* STOP_COPY: the rest, then the state and END */
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP_COPY));
	if (info)
		EXPECT_EQ(-EINVAL, vfiosim_mig_precopy_info(self->dev, &initial,
							    &dirty));
	while ((n = vfiosim_mig_read(self->dev, stream + len, cap - len)) > 0)
		len += n;
	ASSERT_EQ(0, n) TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, snap(self->dev, self->model, &before));
	if (map)
		EXPECT_EQ(0xa6, before.bar2[0]);

	/* the destination has the latest contents of every page */
	ASSERT_EQ(0, peer_open(&p, self->model->type, "netlink"));
	ASSERT_EQ(0, resume(p.dev, stream, len)) TH_LOG("%s", vfiosim_dev_error(p.dev));
	ASSERT_EQ(0, snap(p.dev, self->model, &after));
	/* the source's snap came after the save: COUNTER +1 there too */
	EXPECT_EQ(0, snap_cmp(&before, &after, 0));
	peer_close(&p);
	if (map)
		munmap((void *)map, mmap_size);
	free(stream);
	free(before.bar2);
	free(after.bar2);
}

/* STATUS once it is neither IDLE nor BUSY, or after about 5 s. */
static uint32_t dma_wait(struct vfiosim_dev *dev)
{
	uint32_t status = 0;
	int i;

	for (i = 0; i < 500; i++) {
		status = reg32(dev, VFIOSIM_REG_DMA_STATUS);
		if (status != VFIOSIM_DMA_STATUS_BUSY &&
		    status != VFIOSIM_DMA_STATUS_IDLE)
			break;
		usleep(10000);
	}
	return status;
}

/* A copy of len bytes from iova to iova + VFIOSIM_DMA_MAX_LEN, no GO. */
static int dma_program_copy(struct vfiosim_dev *dev, uint64_t iova,
			    uint32_t len)
{
	return bar0_write(dev, VFIOSIM_REG_DMA_SRC_LO, iova) ||
	       bar0_write(dev, VFIOSIM_REG_DMA_DST_LO,
			  iova + VFIOSIM_DMA_MAX_LEN) ||
	       bar0_write(dev, VFIOSIM_REG_DMA_LEN, len) ||
	       bar0_write(dev, VFIOSIM_REG_DMA_OP, VFIOSIM_DMA_OP_COPY) ? -EIO : 0;
}

/*
 * 2 * VFIOSIM_DMA_MAX_LEN of memfd memory mapped for dev's DMA at m->iova,
 * the first half filled with fill, the second zero; then a 64-byte copy
 * tells whether this build has an engine.  0, 1 without an engine
 * (nothing left to undo), or -errno.
 */
static int dma_setup(struct vfiosim_dev *dev, struct vfiosim_dma_map *m,
		     uint8_t fill)
{
	size_t size = 2 * VFIOSIM_DMA_MAX_LEN;
	uint32_t status;
	int mfd;

	m->size = size;
	m->flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	mfd = memfd_create("vfiosim-mig-dma", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, size))
		return -errno;
	m->vaddr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m->vaddr == MAP_FAILED)
		return -errno;
	m->fd = mfd;
	memset(m->vaddr, fill, VFIOSIM_DMA_MAX_LEN);
	memset((uint8_t *)m->vaddr + VFIOSIM_DMA_MAX_LEN, 0,
	       VFIOSIM_DMA_MAX_LEN);
	if (vfiosim_dma_map(dev, m) || dma_program_copy(dev, m->iova, 64) ||
	    bar0_write(dev, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO))
		return -EIO;
	status = dma_wait(dev);
	if (status == VFIOSIM_DMA_STATUS_DONE)
		return 0;
	munmap(m->vaddr, size);
	close(mfd);
	return status == VFIOSIM_DMA_STATUS_IDLE ? 1 : -EIO;
}

static void dma_teardown(struct vfiosim_dma_map *m)
{
	munmap(m->vaddr, m->size);
	close(m->fd);
}

/*
 * A GO held back by a stopped device travels in the stream: the source
 * never runs it, the destination (the same memory mapped at the same
 * IOVA, as after a VMM's migration) runs it once RUNNING.
 */
TEST_F(vfiosim, dma_go_held_back_migrates)
{
	const size_t size = 2 * VFIOSIM_DMA_MAX_LEN;
	struct vfiosim_dma_map m = { .iova = 0x200000 };
	uint8_t *mem, *stream = NULL;
	struct peer p;
	ssize_t len;
	int ret, i;

	ret = dma_setup(self->dev, &m, 0x22);
	if (ret == 1)
		SKIP(return, "no DMA engine in this build (GO leaves STATUS IDLE): merge branch dma");
	ASSERT_EQ(0, ret) TH_LOG("%s", DEV_ERR(self));
	mem = m.vaddr;
	memset(mem + VFIOSIM_DMA_MAX_LEN, 0, VFIOSIM_DMA_MAX_LEN);
	ASSERT_EQ(0, dma_program_copy(self->dev, m.iova, VFIOSIM_DMA_MAX_LEN));

	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO));
	len = save(self->dev, &stream);
	ASSERT_LT(0, len) TH_LOG("%s", DEV_ERR(self));
	/* reset drops the held-back GO: the source never runs it */
	ASSERT_EQ(0, vfiosim_reset(self->dev));
	usleep(100000);
	EXPECT_EQ(0, mem[VFIOSIM_DMA_MAX_LEN]);
	EXPECT_EQ(0, mem[size - 1]);

	ASSERT_EQ(0, peer_open(&p, self->model->type, "netlink"));
	ASSERT_EQ(0, vfiosim_dma_map(p.dev, &m)) TH_LOG("%s", vfiosim_dev_error(p.dev));
	EXPECT_EQ(0, resume(p.dev, stream, len)) TH_LOG("%s", vfiosim_dev_error(p.dev));
	usleep(100000);
	EXPECT_EQ(0, mem[size - 1]);	/* stopped: not yet */
	/* the stream has the 64-byte probe's DONE: wait for this one's */
	EXPECT_EQ(64u, reg32(p.dev, VFIOSIM_REG_DMA_DONE_BYTES));
	ASSERT_EQ(0, vfiosim_mig_set_state(p.dev, VFIO_DEVICE_STATE_RUNNING));
	for (i = 0; i < 500; i++) {
		if (reg32(p.dev, VFIOSIM_REG_DMA_DONE_BYTES) ==
		    VFIOSIM_DMA_MAX_LEN)
			break;
		usleep(10000);
	}
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, dma_wait(p.dev));
	EXPECT_EQ((uint32_t)VFIOSIM_DMA_MAX_LEN,
		  reg32(p.dev, VFIOSIM_REG_DMA_DONE_BYTES));
	EXPECT_EQ(0x22, mem[VFIOSIM_DMA_MAX_LEN]);
	EXPECT_EQ(0x22, mem[size - 1]);
	peer_close(&p);
	free(stream);
	dma_teardown(&m);
}

/*
 * A DMA transfer in flight when the device stops: STOP waits for it, no
 * transfer runs while stopped (a GO then waits, and its stream carries
 * it), and RUNNING starts it.  Needs the DMA engine (kmod/dma.c).
 */
TEST_F(vfiosim, dma_in_flight_during_stop)
{
	struct vfiosim_dma_map m = { .iova = 0x100000 };
	uint32_t status;
	uint8_t *mem;
	int ret;

	ret = dma_setup(self->dev, &m, 0x11);
	if (ret == 1)
		SKIP(return, "no DMA engine in this build (GO leaves STATUS IDLE): merge branch dma");
	ASSERT_EQ(0, ret) TH_LOG("%s", DEV_ERR(self));
	mem = m.vaddr;

	/* 1 MiB in flight, then STOP: it has ended when STOP returns */
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_DMA_LEN, VFIOSIM_DMA_MAX_LEN));
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO));
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_STOP));
	status = reg32(self->dev, VFIOSIM_REG_DMA_STATUS);
	EXPECT_NE(VFIOSIM_DMA_STATUS_BUSY, status);
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, status);
	EXPECT_EQ(0x11, mem[VFIOSIM_DMA_MAX_LEN + VFIOSIM_DMA_MAX_LEN - 1]);

	/* a GO while stopped waits: nothing moves until RUNNING */
	memset(mem + VFIOSIM_DMA_MAX_LEN, 0, VFIOSIM_DMA_MAX_LEN);
	ASSERT_EQ(0, bar0_write(self->dev, VFIOSIM_REG_DMA_GO, VFIOSIM_DMA_GO));
	usleep(100000);
	EXPECT_EQ(0, mem[VFIOSIM_DMA_MAX_LEN]);
	EXPECT_EQ(0, mem[2 * VFIOSIM_DMA_MAX_LEN - 1]);
	ASSERT_EQ(0, vfiosim_mig_set_state(self->dev, VFIO_DEVICE_STATE_RUNNING));
	EXPECT_EQ(VFIOSIM_DMA_STATUS_DONE, dma_wait(self->dev));
	EXPECT_EQ(0x11, mem[2 * VFIOSIM_DMA_MAX_LEN - 1]);
	dma_teardown(&m);
}

TEST_HARNESS_MAIN
