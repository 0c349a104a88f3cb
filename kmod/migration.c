// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: VFIO migration v2, and its stream, for every transport.
 *
 * The migration state machine is the VFIO core's: a requested state is
 * reached arc by arc through vfio_mig_get_next_state(), as vfio-pci
 * variant drivers do.  The device runs in RUNNING and PRE_COPY and is
 * quiesced (the DMA engine holds back any GO) in every other state.
 *
 * A data session is a struct vfiosim_mig_data: a saving stream generated
 * as it is read, or a resuming stream parsed as it is written and applied
 * on the RESUMING -> STOP arc once all of it checked out.  Over VFIO the
 * session is behind an anon-inode file (the data fd); over vfio-user the
 * device keeps it and MIG_DATA_READ/WRITE reach it.  A session holds the
 * device only while it is the current one: leaving its state, reset and
 * close disable it (its sdev becomes NULL) before the device can go.
 *
 * The stream format and the errnos of a refused one are in
 * uapi/linux/vfiosim.h.
 */

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "vfiosim.h"
#include "trace.h"

#define MIG_PAGE_REC	VFIOSIM_MIG_PAGE_RECORD_SIZE(PAGE_SIZE)
#define MIG_REC_HDR	VFIOSIM_MIG_RECORD_HEADER_SIZE
/* The largest record payload: a page with its number, or config space. */
#define MIG_REC_MAX	(8 + max_t(size_t, PAGE_SIZE, VFIOSIM_CONFIG_SIZE))
/* What one step of the saving stream produces at most: the state. */
#define MIG_CHUNK_MAX	(4 * MIG_REC_HDR + VFIOSIM_CONFIG_SIZE +		\
			 VFIOSIM_MIG_REGS_LEN(VFIOSIM_MAX_VECTORS) +	\
			 VFIOSIM_MIG_IRQ_LEN + VFIOSIM_MIG_DMA_LEN +	\
			 MIG_REC_HDR + VFIOSIM_MIG_END_LEN)

/* Everything but BAR2 that a stream carries. */
struct vfiosim_mig_state {
	u8 config[VFIOSIM_CONFIG_SIZE];
	u32 scratch[VFIOSIM_NUM_SCRATCH];
	u32 irq_status;
	u32 irq_mask;
	u32 counter;
	u32 doorbell_count;
	u32 dropped;
	u32 msix_table[VFIOSIM_MAX_VECTORS * 4];
	u32 msix_masked;
	u32 pending;
	struct vfiosim_dma_regs dma;
};

/* State records a resuming stream has had, as bits of their tags. */
#define MIG_HAVE_ALL	(BIT(VFIOSIM_MIG_TAG_CONFIG) | BIT(VFIOSIM_MIG_TAG_REGS) | \
			 BIT(VFIOSIM_MIG_TAG_IRQ) | BIT(VFIOSIM_MIG_TAG_DMA))

struct vfiosim_mig_data {
	struct kref kref;
	struct mutex lock;		/* all below; -> vfiosim_dev.lock */
	struct vfiosim_dev *sdev;	/* NULL once disabled */
	bool saving;

	/* saving: what is generated and not read yet is chunk[pos, len) */
	bool stop_copy;			/* the device is stopped */
	bool sent_header;
	bool sent_state;		/* and END: the stream is complete */
	bool chunk_initial;		/* chunk belongs to initial_bytes */
	bool truncated;			/* fault.c ended the stream early */
	u8 *chunk;
	size_t len;
	size_t pos;

	/* resuming: the record being gathered in rec[0, len) */
	u8 *rec;
	bool got_header;
	bool ended;
	int err;			/* the first thing found wrong */
	u32 have;			/* MIG_HAVE_* state records seen */
	struct vfiosim_mig_state *st;
	struct xarray pages;		/* staged BAR2 pages, last one wins */

	u32 crc;			/* of every stream byte so far */
};

struct vfiosim_mig {
	struct mutex lock;		/* all below */
	u32 state;			/* enum vfio_device_mig_state */
	bool quiesced;			/* vfiosim_dma_quiesce()d */
	bool broken;			/* a load failed half-way: ERROR */
	struct vfiosim_mig_data *save;	/* current sessions, or NULL */
	struct vfiosim_mig_data *resume;
};

static size_t mig_bar2_pages(const struct vfiosim_dev *sdev)
{
	return sdev->type->bar2_size >> PAGE_SHIFT;
}

static size_t mig_state_size(const struct vfiosim_dev *sdev)
{
	return 5 * MIG_REC_HDR + VFIOSIM_CONFIG_SIZE +
	       VFIOSIM_MIG_REGS_LEN(sdev->type->msix_vectors) +
	       VFIOSIM_MIG_IRQ_LEN + VFIOSIM_MIG_DMA_LEN + VFIOSIM_MIG_END_LEN;
}

/* ---- little-endian serialization ------------------------------------- */

struct mig_out {
	u8 *p;
};

static void out32(struct mig_out *o, u32 v)
{
	put_unaligned_le32(v, o->p);
	o->p += 4;
}

static void out64(struct mig_out *o, u64 v)
{
	put_unaligned_le64(v, o->p);
	o->p += 8;
}

static void out_rec(struct mig_out *o, u32 tag, u32 len)
{
	out32(o, tag);
	out32(o, len);
}

static u32 in32(const u8 **p)
{
	u32 v = get_unaligned_le32(*p);

	*p += 4;
	return v;
}

static u64 in64(const u8 **p)
{
	u64 v = get_unaligned_le64(*p);

	*p += 8;
	return v;
}

static u32 mig_crc(u32 crc, const void *p, size_t len)
{
	return crc32_le(crc, p, len);
}

/* ---- dirty tracking -------------------------------------------------- */

/* A BAR2 page was written (region write, mmap fault or mkwrite). */
void vfiosim_mig_bar2_dirty(struct vfiosim_dev *sdev, pgoff_t pgoff)
{
	lockdep_assert_held(&sdev->lock);
	if (!sdev->mig_dirty || pgoff >= mig_bar2_pages(sdev))
		return;
	/* still to be sent as initial data: it will go as it is then */
	if (!test_bit(pgoff, sdev->mig_initial))
		set_bit(pgoff, sdev->mig_dirty);
}

/*
 * Begin tracking: every touched page is initial data.  In PRE_COPY the
 * device runs, so every mapping is zapped: the pages come back read-only
 * and their next write is seen.
 */
static int mig_track_start(struct vfiosim_dev *sdev, bool zap)
{
	unsigned long *initial, *dirty;
	unsigned long index;
	struct page *page;

	initial = bitmap_zalloc(mig_bar2_pages(sdev), GFP_KERNEL_ACCOUNT);
	dirty = bitmap_zalloc(mig_bar2_pages(sdev), GFP_KERNEL_ACCOUNT);
	if (!initial || !dirty) {
		bitmap_free(initial);
		bitmap_free(dirty);
		return -ENOMEM;
	}
	mutex_lock(&sdev->lock);
	xa_for_each(&sdev->bar2_pages, index, page)
		if (index < mig_bar2_pages(sdev))
			set_bit(index, initial);
	sdev->mig_initial = initial;
	sdev->mig_dirty = dirty;
	sdev->mig_zap = zap;
	if (zap)
		vfiosim_mmap_zap(sdev);
	mutex_unlock(&sdev->lock);
	return 0;
}

static void mig_track_stop(struct vfiosim_dev *sdev)
{
	unsigned long *initial, *dirty;

	mutex_lock(&sdev->lock);
	initial = sdev->mig_initial;
	dirty = sdev->mig_dirty;
	sdev->mig_initial = NULL;
	sdev->mig_dirty = NULL;
	sdev->mig_zap = false;
	mutex_unlock(&sdev->lock);
	bitmap_free(initial);
	bitmap_free(dirty);
}

/* ---- data sessions --------------------------------------------------- */

static void mig_data_free(struct kref *kref)
{
	struct vfiosim_mig_data *d = container_of(kref, struct vfiosim_mig_data,
						  kref);
	unsigned long index;
	struct page *page;

	xa_for_each(&d->pages, index, page)
		put_page(page);
	xa_destroy(&d->pages);
	kfree(d->st);
	kfree(d->rec);
	kfree(d->chunk);
	mutex_destroy(&d->lock);
	kfree(d);
}

static void mig_data_put(struct vfiosim_mig_data *d)
{
	kref_put(&d->kref, mig_data_free);
}

static struct vfiosim_mig_data *mig_data_new(struct vfiosim_dev *sdev,
					     bool saving)
{
	struct vfiosim_mig_data *d;

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return NULL;
	kref_init(&d->kref);
	mutex_init(&d->lock);
	xa_init(&d->pages);
	d->sdev = sdev;
	d->saving = saving;
	d->crc = ~0U;
	if (saving)
		d->chunk = kmalloc(MIG_CHUNK_MAX, GFP_KERNEL_ACCOUNT);
	else
		d->rec = kmalloc(MIG_REC_HDR + MIG_REC_MAX, GFP_KERNEL_ACCOUNT);
	d->st = kzalloc(sizeof(*d->st), GFP_KERNEL_ACCOUNT);
	if ((saving && !d->chunk) || (!saving && !d->rec) || !d->st) {
		mig_data_put(d);
		return NULL;
	}
	return d;
}

/* The session is no longer the device's: reads and writes get ENODEV. */
static void mig_data_disable(struct vfiosim_mig_data *d)
{
	mutex_lock(&d->lock);
	d->sdev = NULL;
	mutex_unlock(&d->lock);
}

/* ---- saving ---------------------------------------------------------- */

static void mig_cp(void *dev_field, void *st_field, size_t len, bool load)
{
	if (load)
		memcpy(dev_field, st_field, len);
	else
		memcpy(st_field, dev_field, len);
}

/* Copy the device's state into @st (save) or out of it (@load). */
static void mig_state_copy_locked(struct vfiosim_dev *sdev,
				  struct vfiosim_mig_state *st, bool load)
{
	lockdep_assert_held(&sdev->lock);
	mig_cp(sdev->config, st->config, sizeof(st->config), load);
	mig_cp(sdev->scratch, st->scratch, sizeof(st->scratch), load);
	mig_cp(&sdev->irq_status, &st->irq_status, 4, load);
	mig_cp(&sdev->irq_mask, &st->irq_mask, 4, load);
	mig_cp(&sdev->counter, &st->counter, 4, load);
	mig_cp(&sdev->doorbell_count, &st->doorbell_count, 4, load);
	mig_cp(&sdev->dropped, &st->dropped, 4, load);
	mig_cp(sdev->msix_table, st->msix_table, sizeof(st->msix_table), load);
	mig_cp(&sdev->msix_masked, &st->msix_masked, 4, load);
	mig_cp(&sdev->pending, &st->pending, 4, load);
	mig_cp(&sdev->dma, &st->dma, sizeof(st->dma), load);
}

static void mig_put_header(struct vfiosim_dev *sdev, struct mig_out *o)
{
	out32(o, VFIOSIM_MIG_MAGIC);
	out32(o, VFIOSIM_MIG_VERSION);
	out32(o, sdev->type->device_id);
	out32(o, sdev->type->bar2_size);
	out32(o, PAGE_SIZE);
	out32(o, sdev->type->msix_vectors);
}

static void mig_put_state(struct vfiosim_dev *sdev,
			  const struct vfiosim_mig_state *st, struct mig_out *o)
{
	u32 nmsix = sdev->type->msix_vectors;
	unsigned int i;

	out_rec(o, VFIOSIM_MIG_TAG_CONFIG, VFIOSIM_CONFIG_SIZE);
	memcpy(o->p, st->config, VFIOSIM_CONFIG_SIZE);
	o->p += VFIOSIM_CONFIG_SIZE;

	out_rec(o, VFIOSIM_MIG_TAG_REGS, VFIOSIM_MIG_REGS_LEN(nmsix));
	for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++)
		out32(o, st->scratch[i]);
	out32(o, st->irq_status);
	out32(o, st->irq_mask);
	out32(o, st->counter);
	out32(o, st->doorbell_count);
	out32(o, st->dropped);
	for (i = 0; i < nmsix * 4; i++)
		out32(o, st->msix_table[i]);

	out_rec(o, VFIOSIM_MIG_TAG_IRQ, VFIOSIM_MIG_IRQ_LEN);
	out32(o, st->msix_masked);
	out32(o, st->pending);

	out_rec(o, VFIOSIM_MIG_TAG_DMA, VFIOSIM_MIG_DMA_LEN);
	out64(o, st->dma.src);
	out64(o, st->dma.dst);
	out64(o, st->dma.pattern);
	out32(o, st->dma.len);
	out32(o, st->dma.op);
	out32(o, st->dma.vector);
	out32(o, st->dma.status);
	out32(o, st->dma.result);
	out32(o, st->dma.done_bytes);
	out32(o, st->dma.count);
	out32(o, st->dma.go_pending);
}

/*
 * The next BAR2 page to send: one still in the initial set first, then
 * one dirtied since it was sent.  Its bit is cleared and, in PRE_COPY,
 * its mappings zapped before it is copied, so a later write dirties it
 * again.  False if none is left.
 */
static bool mig_next_page(struct vfiosim_dev *sdev, struct mig_out *o,
			  bool *initial)
{
	size_t npages = mig_bar2_pages(sdev);
	unsigned long pgoff;
	struct page *page;

	lockdep_assert_held(&sdev->lock);
	pgoff = find_first_bit(sdev->mig_initial, npages);
	*initial = pgoff < npages;
	if (!*initial) {
		pgoff = find_first_bit(sdev->mig_dirty, npages);
		if (pgoff >= npages)
			return false;
	}
	clear_bit(pgoff, sdev->mig_initial);
	clear_bit(pgoff, sdev->mig_dirty);
	if (sdev->mig_zap)
		vfiosim_mmap_zap_page(sdev, pgoff);

	out_rec(o, VFIOSIM_MIG_TAG_PAGE, 8 + PAGE_SIZE);
	out64(o, pgoff);
	page = vfiosim_bar2_lookup(sdev, pgoff, false);
	if (page)
		memcpy_from_page(o->p, page, 0, PAGE_SIZE);
	else
		memset(o->p, 0, PAGE_SIZE);
	o->p += PAGE_SIZE;
	return true;
}

/*
 * Generate the next piece of the saving stream into d->chunk: 0 with
 * some, 1 at the end of the stream, -ENOMSG when PRE_COPY has nothing
 * new, -ENODEV once the session is disabled.
 */
static int mig_save_fill(struct vfiosim_mig_data *d)
{
	struct vfiosim_dev *sdev = d->sdev;
	struct mig_out o = { .p = d->chunk };
	bool initial = true;

	lockdep_assert_held(&d->lock);
	if (!sdev)
		return -ENODEV;
	if (d->sent_state)
		return 1;

	mutex_lock(&sdev->lock);
	if (!d->sent_header) {
		mig_put_header(sdev, &o);
		d->sent_header = true;
	} else if (!mig_next_page(sdev, &o, &initial)) {
		if (!d->stop_copy) {
			mutex_unlock(&sdev->lock);
			return -ENOMSG;
		}
		mig_state_copy_locked(sdev, d->st, false);
		mig_put_state(sdev, d->st, &o);
		d->sent_state = true;
		initial = false;
	}
	mutex_unlock(&sdev->lock);

	if (d->sent_state) {
		out_rec(&o, VFIOSIM_MIG_TAG_END, VFIOSIM_MIG_END_LEN);
		d->crc = mig_crc(d->crc, d->chunk, o.p - d->chunk);
		out32(&o, ~d->crc);
	} else {
		d->crc = mig_crc(d->crc, d->chunk, o.p - d->chunk);
	}
	d->chunk_initial = initial;
	d->pos = 0;
	d->len = o.p - d->chunk;
	return 0;
}

/*
 * Read up to @len bytes of the saving stream into @ubuf (user memory) or
 * @kbuf.  A short count is the end of what there is; 0 the end of the
 * stream.  Copies to user memory happen with only d->lock held.
 */
static ssize_t mig_save_read(struct vfiosim_mig_data *d, char __user *ubuf,
			     void *kbuf, size_t len)
{
	size_t done = 0;
	int ret = 0;

	mutex_lock(&d->lock);
	if (!d->sdev) {
		ret = -ENODEV;
		goto out;
	}
	if (len > 1 && vfiosim_fault_mig(d->sdev, VFIOSIM_FAULT_MIG_READ_SHORT))
		len /= 2;
	while (done < len) {
		size_t n;

		if (d->pos == d->len) {
			if (d->truncated ||
			    vfiosim_fault_mig(d->sdev, VFIOSIM_FAULT_MIG_TRUNCATE)) {
				d->truncated = true;
				ret = 1;	/* the end, too early */
				break;
			}
			ret = mig_save_fill(d);
			if (ret)
				break;
			/* one byte of the new chunk flipped: END's CRC is wrong */
			if (vfiosim_fault_mig(d->sdev, VFIOSIM_FAULT_MIG_CORRUPT))
				d->chunk[d->pos + (d->len - d->pos) / 2] ^= 0x5a;
		}
		n = min(len - done, d->len - d->pos);
		if (ubuf) {
			if (copy_to_user(ubuf + done, d->chunk + d->pos, n)) {
				ret = -EFAULT;
				break;
			}
		} else {
			memcpy(kbuf + done, d->chunk + d->pos, n);
		}
		d->pos += n;
		done += n;
	}
out:
	mutex_unlock(&d->lock);
	if (done)
		return done;
	return ret == 1 ? 0 : ret;
}

#ifdef VFIOSIM_HAVE_MIG_PRE_COPY
/* What PRE_COPY has left to send: see uapi/linux/vfiosim.h. */
static int mig_precopy_info(struct vfiosim_mig_data *d,
			    struct vfio_precopy_info *info)
{
	struct vfiosim_dev *sdev;
	size_t npages;
	int ret = 0;

	mutex_lock(&d->lock);
	sdev = d->sdev;
	if (!sdev || d->stop_copy) {
		ret = -EINVAL;
		goto out;
	}
	npages = mig_bar2_pages(sdev);
	info->initial_bytes = d->sent_header ? 0 : VFIOSIM_MIG_HEADER_SIZE;
	info->dirty_bytes = 0;
	if (d->chunk_initial)
		info->initial_bytes += d->len - d->pos;
	else
		info->dirty_bytes += d->len - d->pos;
	mutex_lock(&sdev->lock);
	info->initial_bytes += (u64)bitmap_weight(sdev->mig_initial, npages) *
			       MIG_PAGE_REC;
	info->dirty_bytes += (u64)bitmap_weight(sdev->mig_dirty, npages) *
			     MIG_PAGE_REC;
	mutex_unlock(&sdev->lock);
	if (vfiosim_fault_mig(sdev, VFIOSIM_FAULT_MIG_GARBAGE)) {
		info->initial_bytes = VFIOSIM_FAULT_GARBAGE_BYTES;
		info->dirty_bytes = VFIOSIM_FAULT_GARBAGE_BYTES;
	}
out:
	mutex_unlock(&d->lock);
	return ret;
}
#endif

/* ---- resuming -------------------------------------------------------- */

static int mig_check_header(struct vfiosim_dev *sdev, const u8 *p)
{
	if (in32(&p) != VFIOSIM_MIG_MAGIC || in32(&p) != VFIOSIM_MIG_VERSION ||
	    in32(&p) != sdev->type->device_id ||
	    in32(&p) != sdev->type->bar2_size || in32(&p) != PAGE_SIZE ||
	    in32(&p) != sdev->type->msix_vectors)
		return -EINVAL;
	return 0;
}

/* The payload length each tag must have; 0 for an unknown tag. */
static u32 mig_rec_len(struct vfiosim_dev *sdev, u32 tag)
{
	switch (tag) {
	case VFIOSIM_MIG_TAG_PAGE:
		return 8 + PAGE_SIZE;
	case VFIOSIM_MIG_TAG_CONFIG:
		return VFIOSIM_CONFIG_SIZE;
	case VFIOSIM_MIG_TAG_REGS:
		return VFIOSIM_MIG_REGS_LEN(sdev->type->msix_vectors);
	case VFIOSIM_MIG_TAG_IRQ:
		return VFIOSIM_MIG_IRQ_LEN;
	case VFIOSIM_MIG_TAG_DMA:
		return VFIOSIM_MIG_DMA_LEN;
	case VFIOSIM_MIG_TAG_END:
		return VFIOSIM_MIG_END_LEN;
	}
	return 0;
}

static int mig_stage_page(struct vfiosim_mig_data *d, const u8 *p)
{
	u64 pgoff = in64(&p);
	struct page *page, *old;

	if (pgoff >= mig_bar2_pages(d->sdev))
		return -EINVAL;
	page = xa_load(&d->pages, pgoff);
	if (!page) {
		page = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!page)
			return -ENOMEM;
		old = xa_store(&d->pages, pgoff, page, GFP_KERNEL_ACCOUNT);
		if (xa_is_err(old)) {
			__free_page(page);
			return xa_err(old);
		}
	}
	memcpy_to_page(page, 0, p, PAGE_SIZE);
	return 0;
}

static int mig_stage_state(struct vfiosim_mig_data *d, u32 tag, const u8 *p)
{
	const struct vfiosim_type *type = d->sdev->type;
	struct vfiosim_mig_state *st = d->st;
	u32 vectors = max(type->msi_vectors, type->msix_vectors);
	u32 valid = vectors >= 32 ? ~0U : BIT(vectors) - 1;
	unsigned int i;
	u32 go;

	if (d->have & BIT(tag))
		return -EINVAL;
	d->have |= BIT(tag);
	switch (tag) {
	case VFIOSIM_MIG_TAG_CONFIG:
		memcpy(st->config, p, VFIOSIM_CONFIG_SIZE);
		/* the identity is the type's; the rest is the VMM's */
		if (memcmp(st->config, type->config_reset, PCI_COMMAND))
			return -EINVAL;
		break;
	case VFIOSIM_MIG_TAG_REGS:
		for (i = 0; i < VFIOSIM_NUM_SCRATCH; i++)
			st->scratch[i] = in32(&p);
		st->irq_status = in32(&p);
		st->irq_mask = in32(&p);
		st->counter = in32(&p);
		st->doorbell_count = in32(&p);
		st->dropped = in32(&p);
		memset(st->msix_table, 0, sizeof(st->msix_table));
		for (i = 0; i < type->msix_vectors * 4; i++)
			st->msix_table[i] = in32(&p);
		if (st->irq_status & ~valid)
			return -EINVAL;
		break;
	case VFIOSIM_MIG_TAG_IRQ:
		st->msix_masked = in32(&p);
		st->pending = in32(&p);
		if ((st->msix_masked | st->pending) & ~valid)
			return -EINVAL;
		break;
	case VFIOSIM_MIG_TAG_DMA:
		st->dma.src = in64(&p);
		st->dma.dst = in64(&p);
		st->dma.pattern = in64(&p);
		st->dma.len = in32(&p);
		st->dma.op = in32(&p);
		st->dma.vector = in32(&p);
		st->dma.status = in32(&p);
		st->dma.result = in32(&p);
		st->dma.done_bytes = in32(&p);
		st->dma.count = in32(&p);
		go = in32(&p);
		if (go > 1 || st->dma.status > VFIOSIM_DMA_STATUS_ERR_FAULT)
			return -EINVAL;
		st->dma.go_pending = go;
		break;
	}
	return 0;
}

/* One whole record is in d->rec. */
static int mig_stage_record(struct vfiosim_mig_data *d)
{
	const u8 *p = d->rec;
	u32 tag = in32(&p);

	in32(&p);
	switch (tag) {
	case VFIOSIM_MIG_TAG_PAGE:
		return mig_stage_page(d, p);
	case VFIOSIM_MIG_TAG_END:
		/* the CRC covers END's header, which is in d->crc already */
		if (get_unaligned_le32(p) != ~d->crc)
			return -EBADMSG;
		d->ended = true;
		return 0;
	default:
		return mig_stage_state(d, tag, p);
	}
}

/*
 * Take @n more bytes of a resuming stream.  They are parsed as they come
 * and the first fault is remembered for the RESUMING -> STOP arc, which
 * reports it; the device is not touched here.
 */
static void mig_resume_consume(struct vfiosim_mig_data *d, const u8 *buf,
			       size_t n)
{
	struct vfiosim_dev *sdev = d->sdev;

	lockdep_assert_held(&d->lock);
	while (n && !d->err) {
		size_t want, take;

		if (d->ended) {
			d->err = -EINVAL;	/* trailing bytes */
			break;
		}
		if (!d->got_header) {
			want = VFIOSIM_MIG_HEADER_SIZE;
		} else if (d->len < MIG_REC_HDR) {
			want = MIG_REC_HDR;
		} else {
			u32 tag = get_unaligned_le32(d->rec);
			u32 len = get_unaligned_le32(d->rec + 4);

			if (!mig_rec_len(sdev, tag) ||
			    len != mig_rec_len(sdev, tag)) {
				d->err = -EINVAL;
				break;
			}
			want = MIG_REC_HDR + len;
		}
		take = min(n, want - d->len);
		memcpy(d->rec + d->len, buf, take);
		/* END's checksum is not part of what it checks */
		if (!d->got_header || d->len < MIG_REC_HDR ||
		    get_unaligned_le32(d->rec) != VFIOSIM_MIG_TAG_END)
			d->crc = mig_crc(d->crc, buf, take);
		d->len += take;
		buf += take;
		n -= take;
		if (d->len < want || want == MIG_REC_HDR)
			continue;
		if (!d->got_header) {
			d->err = mig_check_header(sdev, d->rec);
			d->got_header = true;
		} else {
			d->err = mig_stage_record(d);
		}
		d->len = 0;
	}
}

static ssize_t mig_resume_write(struct vfiosim_mig_data *d,
				const char __user *ubuf, const void *kbuf,
				size_t len)
{
	size_t done = 0;
	u8 *bounce = NULL;
	int ret = 0;

	if (ubuf) {
		bounce = kmalloc(min_t(size_t, len, PAGE_SIZE), GFP_KERNEL);
		if (!bounce)
			return -ENOMEM;
	}
	mutex_lock(&d->lock);
	while (done < len) {
		size_t n = min_t(size_t, len - done, PAGE_SIZE);
		const u8 *p = kbuf + done;

		if (!d->sdev) {
			ret = -ENODEV;
			break;
		}
		if (ubuf) {
			if (copy_from_user(bounce, ubuf + done, n)) {
				ret = -EFAULT;
				break;
			}
			p = bounce;
		}
		mig_resume_consume(d, p, n);
		done += n;
	}
	mutex_unlock(&d->lock);
	kfree(bounce);
	return done ? done : ret;
}

/*
 * RESUMING -> STOP: check that the stream was whole, then load it.  BAR2
 * slots are reserved first, so that once the device changes nothing can
 * fail; an error before leaves the device as it was.  Should a store
 * fail all the same, the load goes on and *broken says the device is
 * neither what it was nor what the stream said (ERROR).
 */
static int mig_resume_apply(struct vfiosim_mig_data *d, bool *broken)
{
	struct vfiosim_dev *sdev = d->sdev;
	struct vfiosim_mig_state *st = d->st;
	unsigned long index;
	struct page *page;
	int ret = 0;

	mutex_lock(&d->lock);
	if (d->err) {
		ret = d->err;
		goto out;
	}
	if (!d->got_header || d->len || !d->ended ||
	    d->have != MIG_HAVE_ALL) {
		ret = -ENODATA;
		goto out;
	}
	xa_for_each(&d->pages, index, page) {
		ret = xa_reserve(&sdev->bar2_pages, index, GFP_KERNEL_ACCOUNT);
		if (ret)
			goto release;
	}

	mutex_lock(&sdev->lock);
	vfiosim_mmap_zap(sdev);
	xa_for_each(&sdev->bar2_pages, index, page) {
		if (!xa_load(&d->pages, index)) {
			xa_erase(&sdev->bar2_pages, index);
			put_page(page);
		}
	}
	xa_for_each(&d->pages, index, page) {
		struct page *old = xa_store(&sdev->bar2_pages, index, page,
					    GFP_NOWAIT);

		/* a reserved or occupied slot needs no memory */
		if (WARN_ON_ONCE(xa_is_err(old))) {
			*broken = true;
			ret = xa_err(old);
			continue;
		}
		xa_erase(&d->pages, index);
		if (old)
			put_page(old);
	}
	mig_state_copy_locked(sdev, st, true);
	vfiosim_irq_refresh_locked(sdev);
	mutex_unlock(&sdev->lock);
	goto out;

release:
	xa_for_each(&d->pages, index, page)
		xa_release(&sdev->bar2_pages, index);
out:
	mutex_unlock(&d->lock);
	return ret;
}

/* ---- the data fd (VFIO) ---------------------------------------------- */

static ssize_t vfiosim_mig_fd_read(struct file *file, char __user *buf,
				   size_t len, loff_t *pos)
{
	struct vfiosim_mig_data *d = file->private_data;

	if (pos)
		return -ESPIPE;
	return mig_save_read(d, buf, NULL, len);
}

static ssize_t vfiosim_mig_fd_write(struct file *file, const char __user *buf,
				    size_t len, loff_t *pos)
{
	struct vfiosim_mig_data *d = file->private_data;

	if (pos)
		return -ESPIPE;
	return mig_resume_write(d, buf, NULL, len);
}

static long vfiosim_mig_fd_ioctl(struct file *file, unsigned int cmd,
				 unsigned long arg)
{
#ifdef VFIOSIM_HAVE_MIG_PRE_COPY
	struct vfiosim_mig_data *d = file->private_data;
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	struct vfio_device *vdev;
	int ret;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	mutex_lock(&d->lock);
	vdev = d->sdev ? &d->sdev->vdev : NULL;
	if (vdev)
		vfiosim_precopy_flags(vdev, &info);
	mutex_unlock(&d->lock);
	ret = mig_precopy_info(d, &info);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
#else
	return -ENOTTY;
#endif
}

static int vfiosim_mig_fd_release(struct inode *inode, struct file *file)
{
	mig_data_put(file->private_data);
	return 0;
}

static const struct file_operations vfiosim_mig_save_fops = {
	.owner = THIS_MODULE,
	.read = vfiosim_mig_fd_read,
	.unlocked_ioctl = vfiosim_mig_fd_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = vfiosim_mig_fd_release,
};

static const struct file_operations vfiosim_mig_resume_fops = {
	.owner = THIS_MODULE,
	.write = vfiosim_mig_fd_write,
	.release = vfiosim_mig_fd_release,
};

static struct file *mig_data_file(struct vfiosim_mig_data *d)
{
	struct file *file;

	file = anon_inode_getfile("[vfiosim-mig]",
				  d->saving ? &vfiosim_mig_save_fops :
					      &vfiosim_mig_resume_fops,
				  d, d->saving ? O_RDONLY : O_WRONLY);
	if (IS_ERR(file))
		return file;
	kref_get(&d->kref);	/* the file's; mig_data_file's caller keeps its own */
	stream_open(file_inode(file), file);
	return file;
}

/* ---- the state machine ----------------------------------------------- */

static void mig_end_save(struct vfiosim_dev *sdev, struct vfiosim_mig *m)
{
	if (!m->save)
		return;
	mig_data_disable(m->save);
	mig_data_put(m->save);
	m->save = NULL;
	mig_track_stop(sdev);
}

static void mig_end_resume(struct vfiosim_mig *m)
{
	if (!m->resume)
		return;
	mig_data_disable(m->resume);
	mig_data_put(m->resume);
	m->resume = NULL;
}

static int mig_begin(struct vfiosim_dev *sdev, struct vfiosim_mig *m,
		     bool saving, bool stop_copy)
{
	struct vfiosim_mig_data *d = mig_data_new(sdev, saving);
	int ret;

	if (!d)
		return -ENOMEM;
	if (saving) {
		ret = mig_track_start(sdev, !stop_copy);
		if (ret) {
			mig_data_put(d);
			return ret;
		}
		d->stop_copy = stop_copy;
		m->save = d;
	} else {
		m->resume = d;
	}
	return 0;
}

/*
 * One arc of the VFIO FSM (uapi linux/vfio.h), from m->state to @next.
 * Running states are RUNNING and PRE_COPY; entering any other quiesces
 * the DMA engine and coming back lets it go.  A new data session is
 * returned in *newd.
 */
static int mig_step(struct vfiosim_dev *sdev, struct vfiosim_mig *m, u32 next,
		    struct vfiosim_mig_data **newd)
{
	u32 cur = m->state;
	bool was_running = vfiosim_mig_state_running(cur);
	bool running = vfiosim_mig_state_running(next);
	int ret = 0;

	*newd = NULL;
	/* first, so that no transfer runs once STOP_COPY may snapshot */
	if (was_running && !running && !m->quiesced) {
		vfiosim_dma_quiesce(sdev);
		m->quiesced = true;
	}
	if (next == VFIO_DEVICE_STATE_STOP_COPY && m->save) {
		/* PRE_COPY(_P2P) -> STOP_COPY: the same stream goes on */
		mutex_lock(&m->save->lock);
		m->save->stop_copy = true;
		mutex_unlock(&m->save->lock);
	} else if (next == VFIO_DEVICE_STATE_STOP_COPY ||
		   vfiosim_mig_state_pre_copy(next)) {
		if (!m->save) {
			ret = mig_begin(sdev, m, true,
					next == VFIO_DEVICE_STATE_STOP_COPY);
			if (ret)
				return ret;
			*newd = m->save;
		}
	} else if (next == VFIO_DEVICE_STATE_RESUMING) {
		ret = mig_begin(sdev, m, false, false);
		if (ret)
			return ret;
		*newd = m->resume;
	} else if (cur == VFIO_DEVICE_STATE_RESUMING) {
		ret = mig_resume_apply(m->resume, &m->broken);
		if (ret)
			return ret;
		mig_end_resume(m);
	} else if (cur == VFIO_DEVICE_STATE_STOP_COPY ||
		   vfiosim_mig_state_pre_copy(cur)) {
		mig_end_save(sdev, m);
	}

	/* no arc that fails lets the engine go */
	if (!was_running && running && m->quiesced) {
		vfiosim_dma_unquiesce(sdev);
		m->quiesced = false;
	}
	return 0;
}

/*
 * Go to @new arc by arc.  An arc that fails leaves the state where it
 * was (a refused stream: RESUMING, the device untouched).  Only a device
 * in ERROR refuses everything but reset.  *file gets the data fd of a
 * saving or resuming state reached, if @want_file (VFIO).
 */
static int mig_set_state(struct vfiosim_dev *sdev, u32 new, bool want_file,
			 struct file **file)
{
	struct vfiosim_mig *m = sdev->mig;
	struct vfiosim_mig_data *d = NULL;
	int ret = 0;

	*file = NULL;
	mutex_lock(&m->lock);
	if (m->state == VFIO_DEVICE_STATE_ERROR) {
		ret = -EINVAL;
		trace_vfiosim_mig_arc(sdev, m->state, new, m->state, ret,
				      VFIOSIM_TRACE_MIG_SET_STATE);
		goto out;
	}
	while (m->state != new) {
		u32 from = m->state;
		u32 next;

		ret = vfio_mig_get_next_state(&sdev->vdev, m->state, new,
					      &next);
		if (ret) {
			trace_vfiosim_mig_arc(sdev, from, new, from, ret,
					      VFIOSIM_TRACE_MIG_SET_STATE);
			break;
		}
		/* a refused arc breaks the device, as vfio-pci drivers do */
		if (vfiosim_fault_mig(sdev, VFIOSIM_FAULT_MIG_REFUSE)) {
			m->state = VFIO_DEVICE_STATE_ERROR;
			ret = -EIO;
			trace_vfiosim_mig_arc(sdev, from, next, m->state, ret,
					      VFIOSIM_TRACE_MIG_SET_STATE);
			break;
		}
		ret = mig_step(sdev, m, next, &d);
		if (m->broken)
			m->state = VFIO_DEVICE_STATE_ERROR;
		if (!ret)
			m->state = next;
		trace_vfiosim_mig_arc(sdev, from, next, m->state, ret,
				      VFIOSIM_TRACE_MIG_SET_STATE);
		if (ret)
			break;
		/* a data session starts only in the state asked for */
		if (WARN_ON_ONCE(d && next != new)) {
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && d && want_file) {
		*file = mig_data_file(d);
		if (IS_ERR(*file)) {
			ret = PTR_ERR(*file);
			*file = NULL;
		}
	}
out:
	mutex_unlock(&m->lock);
	return ret;
}

/* ---- VFIO mig_ops ---------------------------------------------------- */

static struct file *vfiosim_mig_set_state_op(struct vfio_device *vdev,
					     enum vfio_device_mig_state new)
{
	struct file *file;
	int ret;

	ret = mig_set_state(vdev_to_sdev(vdev), new, true, &file);
	return ret ? ERR_PTR(ret) : file;
}

static int vfiosim_mig_get_state_op(struct vfio_device *vdev,
				    enum vfio_device_mig_state *state)
{
	*state = vfiosim_mig_get_state(vdev_to_sdev(vdev));
	return 0;
}

/* The STOP_COPY size if saving began now: the state and touched pages. */
static int __maybe_unused vfiosim_mig_get_data_size(struct vfio_device *vdev,
						    unsigned long *len)
{
	struct vfiosim_dev *sdev = vdev_to_sdev(vdev);
	unsigned long index, n = 0;
	struct page *page;

	mutex_lock(&sdev->lock);
	xa_for_each(&sdev->bar2_pages, index, page)
		n++;
	mutex_unlock(&sdev->lock);
	*len = VFIOSIM_MIG_HEADER_SIZE + mig_state_size(sdev) +
	       n * MIG_PAGE_REC;
	return 0;
}

static const struct vfio_migration_ops vfiosim_mig_ops = {
	.migration_set_state = vfiosim_mig_set_state_op,
	.migration_get_state = vfiosim_mig_get_state_op,
	VFIOSIM_MIG_DATA_SIZE_OPS
};

/* ---- what core.c, vfio.c and vfio_user.c call ----------------------- */

int vfiosim_mig_init(struct vfiosim_dev *sdev)
{
	struct vfiosim_mig *m = kzalloc(sizeof(*m), GFP_KERNEL);

	if (!m)
		return -ENOMEM;
	mutex_init(&m->lock);
	m->state = VFIO_DEVICE_STATE_RUNNING;
	sdev->mig = m;
	sdev->vdev.migration_flags = VFIOSIM_MIG_FLAGS;
	sdev->vdev.mig_ops = &vfiosim_mig_ops;
	return 0;
}

void vfiosim_mig_destroy(struct vfiosim_dev *sdev)
{
	struct vfiosim_mig *m = sdev->mig;

	if (!m)
		return;
	vfiosim_mig_reset(sdev);
	mutex_destroy(&m->lock);
	kfree(m);
	sdev->mig = NULL;
}

/*
 * Reset and owner changes: every data session ends, the engine may run
 * again, and the state is RUNNING (ERROR included), as vfio-pci drivers
 * do on VFIO_DEVICE_RESET.
 */
void vfiosim_mig_reset(struct vfiosim_dev *sdev)
{
	struct vfiosim_mig *m = sdev->mig;

	if (!m)
		return;
	mutex_lock(&m->lock);
	mig_end_save(sdev, m);
	mig_end_resume(m);
	if (m->quiesced) {
		/* a GO held back is reset away, not started now */
		mutex_lock(&sdev->lock);
		sdev->dma.go_pending = false;
		mutex_unlock(&sdev->lock);
		vfiosim_dma_unquiesce(sdev);
		m->quiesced = false;
	}
	m->broken = false;
	if (m->state != VFIO_DEVICE_STATE_RUNNING)
		trace_vfiosim_mig_arc(sdev, m->state, VFIO_DEVICE_STATE_RUNNING,
				      VFIO_DEVICE_STATE_RUNNING, 0,
				      VFIOSIM_TRACE_MIG_RESET);
	m->state = VFIO_DEVICE_STATE_RUNNING;
	mutex_unlock(&m->lock);
}

/* vfio-user: the same FSM, no data fd (MIG_DATA_READ/WRITE instead). */
int vfiosim_mig_set_state(struct vfiosim_dev *sdev, u32 state)
{
	struct file *file;

	return mig_set_state(sdev, state, false, &file);
}

u32 vfiosim_mig_get_state(struct vfiosim_dev *sdev)
{
	u32 state;

	mutex_lock(&sdev->mig->lock);
	state = sdev->mig->state;
	mutex_unlock(&sdev->mig->lock);
	return state;
}

/* The current session of a kind, held; NULL outside its states. */
static struct vfiosim_mig_data *mig_session(struct vfiosim_dev *sdev,
					    bool saving)
{
	struct vfiosim_mig *m = sdev->mig;
	struct vfiosim_mig_data *d;

	mutex_lock(&m->lock);
	d = saving ? m->save : m->resume;
	if (d)
		kref_get(&d->kref);
	mutex_unlock(&m->lock);
	return d;
}

/* MIG_DATA_READ: EINVAL outside the saving states. */
ssize_t vfiosim_mig_data_read(struct vfiosim_dev *sdev, void *buf, size_t len)
{
	struct vfiosim_mig_data *d = mig_session(sdev, true);
	ssize_t ret;

	if (!d)
		return -EINVAL;
	ret = mig_save_read(d, NULL, buf, len);
	mig_data_put(d);
	return ret;
}

/* MIG_DATA_WRITE: EINVAL outside RESUMING. */
ssize_t vfiosim_mig_data_write(struct vfiosim_dev *sdev, const void *buf,
			       size_t len)
{
	struct vfiosim_mig_data *d = mig_session(sdev, false);
	ssize_t ret;

	if (!d)
		return -EINVAL;
	ret = mig_resume_write(d, NULL, buf, len);
	mig_data_put(d);
	return ret;
}
