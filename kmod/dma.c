// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the DMA engine and DMA dirty logging.
 *
 * One transfer at a time per device, run by a work item (system_highpri_wq)
 * with a snapshot of the registers taken at GO.  The memory it reaches is
 * the owner's: over VFIO the container's IOVAs, pinned with
 * vfio_pin_pages() and kept pinned until the container unmaps them (the
 * dma_unmap callback), reset or close, and copied page to page; over
 * vfio-user the session's DMA maps, each page looked up in its memory file.
 *
 * Locks (see vfiosim.h): GO, completion, abort and quiesce state are under
 * vfiosim_dev.lock; the worker takes it only to post the completion and
 * never holds it while it touches memory.  Whoever must stop the engine
 * (reset, close, unmap, session end, removal) marks it under
 * vfiosim_dev.lock and waits for the work item with no vfiosim lock the
 * worker takes: reset and close call vfiosim_dma_stop() before they take
 * vfiosim_dev.lock, vfio-user unmaps wait under nl_lock (which the worker
 * never takes), and the VFIO core calls dma_unmap with only its own
 * locks, none of them taken by vfio_pin_pages() then.
 * vfiosim_dma_engine.maps_lock guards the worker's lookups in the
 * vfio-user map list against DMA_MAP and DMA_UNMAP (nl_lock ->
 * maps_lock); log_lock guards the dirty log.
 */

#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/interval_tree.h>
#include <linux/iommu.h>
#include <linux/once.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "netlink.h"
#include "trace.h"

/* How long a transfer into a range the container just unmapped waits. */
#define VFIOSIM_DMA_UNMAP_HOLD	msecs_to_jiffies(VFIOSIM_DMA_UNMAP_HOLD_MS)

/* Bytes one step of a transfer moves: pinned, copied, unpinned. */
#define VFIOSIM_DMA_CHUNK	(256 * 1024)
#define VFIOSIM_DMA_CHUNK_PAGES	(VFIOSIM_DMA_CHUNK / PAGE_SIZE + 1)

/* As the VFIO core limits DMA_LOGGING_START (LOG_MAX_RANGES). */
#define VFIOSIM_DMA_LOG_MAX_RANGES \
	(PAGE_SIZE / sizeof(struct vfio_device_feature_dma_logging_range))
/* At most this many bits of dirty bitmap per device (2 MiB of memory). */
#define VFIOSIM_DMA_LOG_MAX_BITS	(16UL << 20)

/* What GO took from the registers. */
struct vfiosim_dma_xfer {
	u64 src;
	u64 dst;
	u64 pattern;
	u32 len;
	u32 op;
	bool vfio;		/* the VFIO container, else vfio-user maps */
};

struct vfiosim_dma_log_range {
	u64 iova;
	u64 length;
	unsigned long *bits;	/* one per page_size page */
};

struct vfiosim_dma_log {
	u64 page_size;
	u32 nr;
	struct vfiosim_dma_log_range r[] __counted_by(nr);
};

struct vfiosim_dma_engine {
	struct vfiosim_dev *sdev;
	struct delayed_work work;	/* delayed only by an unmap hold */

	/* under vfiosim_dev.lock */
	bool busy;		/* queued or running */
	bool quiesced;		/* migration: GO is held in go_pending */
	unsigned int stopping;	/* a stop is waiting: GO ends ERR_ABORTED */
	struct vfiosim_dma_xfer cur;
	/* set under vfiosim_dev.lock, read by the worker between steps */
	bool abort;
	/*
	 * The last range the container unmapped: a VFIO transfer into it
	 * waits (a delayed start) while dma_unmap runs and until
	 * @unmapped_until (jiffies).  type1 calls dma_unmap without its
	 * lock, looks for pins again once it returns, and BUG()s if it keeps
	 * finding them, so a GO racing the unmap must not pin the range
	 * meanwhile; once type1 is done, the transfer finds the range
	 * mapped again or gone (ERR_UNMAPPED).
	 */
	bool unmapping;		/* dma_unmap is running */
	bool unmapped;
	u64 unmapped_first;
	u64 unmapped_last;
	unsigned long unmapped_until;

	struct mutex maps_lock;	/* the vfio-user maps the worker looks up */

	/*
	 * VFIO: pages pinned with vfio_pin_pages() for reading ([0]) and
	 * writing ([1]), by IOVA page number, kept until the container unmaps
	 * them (dma_unmap), reset or close: a pin per page per transfer
	 * would cost more than the copy.
	 */
	struct mutex pins_lock;
	struct xarray pins[2];

	struct mutex log_lock;		/* the dirty log, *log */
	struct vfiosim_dma_log *log;	/* NULL: not logging */

	/* the worker's, one step's pages */
	struct page *src_pages[VFIOSIM_DMA_CHUNK_PAGES];
	struct page *dst_pages[VFIOSIM_DMA_CHUNK_PAGES];
};

/* ---- CRC32C (Castagnoli, reflected 0x82f63b78) ------------------------ */

static u32 vfiosim_crc32c_table[256];

static void vfiosim_crc32c_fill(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1) ? 0x82f63b78 : 0);
		vfiosim_crc32c_table[i] = c;
	}
}

/* The running register (no inversions): ~0 in, ~result out. */
static u32 vfiosim_crc32c(u32 crc, const u8 *p, size_t len)
{
	while (len--)
		crc = vfiosim_crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- dirty logging ---------------------------------------------------- */

static void vfiosim_dma_log_free(struct vfiosim_dma_log *log)
{
	u32 i;

	if (!log)
		return;
	for (i = 0; i < log->nr; i++)
		bitmap_free(log->r[i].bits);
	kfree(log);
}

/* The engine is about to write [iova, iova + len): mark its pages. */
static void vfiosim_dma_log_mark(struct vfiosim_dma_engine *eng, u64 iova,
				 u64 len)
{
	struct vfiosim_dma_log *log;
	u64 last = iova + len - 1;
	u32 i;

	mutex_lock(&eng->log_lock);
	log = eng->log;
	for (i = 0; log && i < log->nr; i++) {
		struct vfiosim_dma_log_range *r = &log->r[i];
		u64 r_last = r->iova + r->length - 1;
		u64 first, end;

		if (iova > r_last || last < r->iova)
			continue;
		first = (max(iova, r->iova) - r->iova) / log->page_size;
		end = (min(last, r_last) - r->iova) / log->page_size + 1;
		bitmap_set(r->bits, first, end - first);
	}
	mutex_unlock(&eng->log_lock);
}

/*
 * Start logging the writes of the engine to @ranges (@nr of them, sorted
 * or not, already checked not to overlap and to be @page_size aligned).
 */
int vfiosim_dma_log_start(struct vfiosim_dev *sdev,
			  const struct vfio_device_feature_dma_logging_range *ranges, u32 nr,
			  u64 page_size)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	struct vfiosim_dma_log *log;
	unsigned long total = 0;
	u32 i;
	int ret;

	if (!nr || !page_size || !is_power_of_2(page_size) ||
	    page_size < SZ_4K)
		return -EINVAL;
	if (nr > VFIOSIM_DMA_LOG_MAX_RANGES)
		return -E2BIG;
	for (i = 0; i < nr; i++) {
		u64 pages = ranges[i].length / page_size;

		if (!ranges[i].length ||
		    !IS_ALIGNED(ranges[i].iova | ranges[i].length, page_size))
			return -EINVAL;
		if (pages > VFIOSIM_DMA_LOG_MAX_BITS - total)
			return -E2BIG;
		total += pages;
	}

	log = kzalloc(struct_size(log, r, nr), GFP_KERNEL_ACCOUNT);
	if (!log)
		return -ENOMEM;
	log->nr = nr;
	log->page_size = page_size;
	for (i = 0; i < nr; i++) {
		log->r[i].iova = ranges[i].iova;
		log->r[i].length = ranges[i].length;
		log->r[i].bits = bitmap_zalloc(ranges[i].length / page_size,
					       GFP_KERNEL_ACCOUNT);
		if (!log->r[i].bits) {
			vfiosim_dma_log_free(log);
			return -ENOMEM;
		}
	}

	mutex_lock(&eng->log_lock);
	if (eng->log) {
		ret = -EBUSY;
	} else {
		eng->log = log;
		log = NULL;
		ret = 0;
	}
	mutex_unlock(&eng->log_lock);
	vfiosim_dma_log_free(log);
	return ret;
}

/* As vfio-pci drivers: stopping a log that is not running is no error. */
int vfiosim_dma_log_stop(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	struct vfiosim_dma_log *log;

	mutex_lock(&eng->log_lock);
	log = eng->log;
	eng->log = NULL;
	mutex_unlock(&eng->log_lock);
	vfiosim_dma_log_free(log);
	return 0;
}

/*
 * Report and clear the dirty pages of [iova, iova + length): @set is
 * called for each dirty log page, in order.  Every byte of the request
 * must be in a logged range: EINVAL otherwise, or when not logging.
 */
int vfiosim_dma_log_report(struct vfiosim_dev *sdev, u64 iova, u64 length,
			   void (*set)(void *opaque, u64 iova, u64 len),
			   void *opaque)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	struct vfiosim_dma_log *log;
	u64 pos = iova, end;
	int ret = 0;
	u32 i;

	if (!length || check_add_overflow(iova, length, &end))
		return -EINVAL;
	mutex_lock(&eng->log_lock);
	log = eng->log;
	if (!log) {
		ret = -EINVAL;
		goto out;
	}
	/* the request must be covered: walk it range by range first */
	while (pos < end) {
		for (i = 0; i < log->nr; i++)
			if (pos >= log->r[i].iova &&
			    pos - log->r[i].iova < log->r[i].length)
				break;
		if (i == log->nr) {
			ret = -EINVAL;
			goto out;
		}
		pos = log->r[i].iova + log->r[i].length;
	}
	for (i = 0; i < log->nr; i++) {
		struct vfiosim_dma_log_range *r = &log->r[i];
		u64 lo = max(iova, r->iova);
		u64 hi = min(end, r->iova + r->length);
		unsigned long bit, first, last;

		if (lo >= hi)
			continue;
		first = (lo - r->iova) / log->page_size;
		last = DIV_ROUND_UP(hi - r->iova, log->page_size);
		for_each_set_bit_from(first, r->bits, last) {
			bit = first;
			set(opaque, r->iova + (u64)bit * log->page_size,
			    log->page_size);
			clear_bit(bit, r->bits);
		}
	}
out:
	mutex_unlock(&eng->log_lock);
	return ret;
}

/* ---- memory ----------------------------------------------------------- */

static u32 vfiosim_dma_errno_status(int err)
{
	switch (err) {
	case -EINVAL:		/* type1: no vfio_dma at the IOVA */
	case -ENOENT:		/* iommufd: no area */
		return VFIOSIM_DMA_STATUS_ERR_UNMAPPED;
	case -EPERM:		/* type1: mapped without the permission */
	case -EACCES:
		return VFIOSIM_DMA_STATUS_ERR_PERM;
	default:		/* EFAULT, ENOMEM: mapped, nothing behind */
		return VFIOSIM_DMA_STATUS_ERR_FAULT;
	}
}

/*
 * The vfio-user map holding @iova and its page there, referenced; under
 * maps_lock, so a concurrent DMA_UNMAP either finds the page referenced
 * (and waits for the transfer: vfiosim_dma_fence()) or took the map away.
 */
static u32 vfiosim_dma_vu_page(struct vfiosim_dma_engine *eng, u64 iova,
			       bool write, struct page **page)
{
	u32 need = write ? VFIO_DMA_MAP_FLAG_WRITE : VFIO_DMA_MAP_FLAG_READ;
	struct vfiosim_session *session;
	struct vfiosim_dma_map *map;
	u32 status = VFIOSIM_DMA_STATUS_ERR_UNMAPPED;
	pgoff_t index;

	mutex_lock(&eng->maps_lock);
	session = READ_ONCE(eng->sdev->session);
	if (!session)
		goto out;
	list_for_each_entry(map, &session->dma_maps, node) {
		if (iova < map->iova || iova - map->iova >= map->size)
			continue;
		if (!(map->flags & need)) {
			status = VFIOSIM_DMA_STATUS_ERR_PERM;
			goto out;
		}
		/* no file: only DMA_READ/WRITE messages could reach it */
		status = VFIOSIM_DMA_STATUS_ERR_FAULT;
		if (!map->file || !shmem_file(map->file))
			goto out;
		index = (map->offset + (iova - map->iova)) >> PAGE_SHIFT;
		*page = shmem_read_mapping_page(map->file->f_mapping, index);
		if (IS_ERR(*page))
			goto out;
		status = VFIOSIM_DMA_STATUS_DONE;
		goto out;
	}
out:
	mutex_unlock(&eng->maps_lock);
	return status;
}

/* The transfer was aborted (fence, reset, close): pin nothing more. */
static bool vfiosim_dma_aborted(struct vfiosim_dma_engine *eng)
{
	bool aborted;

	mutex_lock(&eng->sdev->lock);
	aborted = eng->abort;
	mutex_unlock(&eng->sdev->lock);
	return aborted;
}

/*
 * VFIO: the @npages pages from page-aligned @iova, from the pins kept or
 * pinned now (runs of missing pages in one call) and kept.
 */
static u32 vfiosim_dma_vfio_get(struct vfiosim_dma_engine *eng, u64 iova,
				int npages, bool write, struct page **pages)
{
	struct xarray *xa = &eng->pins[write];
	unsigned long pfn = iova >> PAGE_SHIFT;
	u32 status = VFIOSIM_DMA_STATUS_DONE;
	int i = 0, n, k, ret;
	bool aborted;

	mutex_lock(&eng->pins_lock);
	while (i < npages) {
		pages[i] = xa_load(xa, pfn + i);
		if (pages[i]) {
			i++;
			continue;
		}
		for (n = 1; i + n < npages && !xa_load(xa, pfn + i + n); n++)
			;
		/*
		 * Pin with no lock of ours held (vfio_pin_pages() takes the
		 * container's iommu->lock, which the dma_unmap callback runs
		 * without, but after its device_list_lock).
		 */
		mutex_unlock(&eng->pins_lock);
		if (vfiosim_dma_aborted(eng))
			return VFIOSIM_DMA_STATUS_ERR_ABORTED;
		ret = vfio_pin_pages(&eng->sdev->vdev,
				     (u64)(pfn + i) << PAGE_SHIFT, n,
				     write ? IOMMU_WRITE : IOMMU_READ,
				     pages + i);
		aborted = vfiosim_dma_aborted(eng);
		mutex_lock(&eng->pins_lock);
		if (ret != n) {
			if (ret > 0) {
				vfio_unpin_pages(&eng->sdev->vdev,
						 (u64)(pfn + i) << PAGE_SHIFT,
						 ret);
				ret = -EFAULT;
			}
			status = vfiosim_dma_errno_status(ret);
			break;
		}
		for (k = 0; k < n; k++) {
			if (!xa_err(xa_store(xa, pfn + i + k, pages[i + k],
					     GFP_KERNEL)))
				continue;
			vfio_unpin_pages(&eng->sdev->vdev,
					 (u64)(pfn + i + k) << PAGE_SHIFT,
					 n - k);
			status = VFIOSIM_DMA_STATUS_ERR_FAULT;
			goto out;
		}
		/* kept, so that the unmap that aborted us drops them */
		if (aborted) {
			status = VFIOSIM_DMA_STATUS_ERR_ABORTED;
			break;
		}
		i += n;
	}
out:
	mutex_unlock(&eng->pins_lock);
	return status;
}

/* Drop the pins kept in IOVA pages [first, last]. */
static void vfiosim_dma_unpin(struct vfiosim_dma_engine *eng,
			      unsigned long first, unsigned long last)
{
	unsigned long idx;
	struct page *page;
	int w;

	mutex_lock(&eng->pins_lock);
	for (w = 0; w < 2; w++) {
		xa_for_each_range(&eng->pins[w], idx, page, first, last) {
			vfio_unpin_pages(&eng->sdev->vdev,
					 (u64)idx << PAGE_SHIFT, 1);
			xa_erase(&eng->pins[w], idx);
		}
	}
	mutex_unlock(&eng->pins_lock);
}

/*
 * The @npages pages from page-aligned @iova, referenced or pinned; on an
 * error none is held (but pins kept) and the status says why.
 */
static u32 vfiosim_dma_get(struct vfiosim_dma_engine *eng,
			   const struct vfiosim_dma_xfer *x, u64 iova,
			   int npages, bool write, struct page **pages)
{
	u32 status;
	int i;

	if (x->vfio)
		return vfiosim_dma_vfio_get(eng, iova, npages, write, pages);
	for (i = 0; i < npages; i++) {
		status = vfiosim_dma_vu_page(eng, iova + (u64)i * PAGE_SIZE,
					     write, &pages[i]);
		if (status != VFIOSIM_DMA_STATUS_DONE) {
			while (i--)
				put_page(pages[i]);
			return status;
		}
	}
	return VFIOSIM_DMA_STATUS_DONE;
}

static void vfiosim_dma_put(struct vfiosim_dma_engine *eng,
			    const struct vfiosim_dma_xfer *x, u64 iova,
			    int npages, bool written, struct page **pages)
{
	int i;

	if (x->vfio)
		return;		/* the pins stay */
	for (i = 0; i < npages; i++) {
		if (written)
			set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
}

/* ---- the transfer ----------------------------------------------------- */

static int vfiosim_dma_span(u64 iova, u32 len)
{
	return (offset_in_page(iova) + len + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

/*
 * Move @len bytes of one step, @done bytes into the transfer, whose
 * source and destination start in the first page of @sp and @dp.  COPY
 * reads sp and writes dp, FILL writes dp, CSUM reads sp.
 */
static void vfiosim_dma_step(const struct vfiosim_dma_xfer *x, u32 done,
			     struct page **sp, struct page **dp, u32 len,
			     u32 *crc)
{
	size_t soff = offset_in_page(x->src + done);
	size_t doff = offset_in_page(x->dst + done);
	__le64 rot;

	while (len) {
		size_t n = len;
		u8 *s = NULL, *d = NULL;
		size_t i;

		if (x->op != VFIOSIM_DMA_OP_FILL)
			n = min_t(size_t, n, PAGE_SIZE - soff);
		if (x->op != VFIOSIM_DMA_OP_CSUM)
			n = min_t(size_t, n, PAGE_SIZE - doff);

		if (x->op != VFIOSIM_DMA_OP_FILL)
			s = kmap_local_page(*sp);
		if (x->op != VFIOSIM_DMA_OP_CSUM)
			d = kmap_local_page(*dp);
		switch (x->op) {
		case VFIOSIM_DMA_OP_COPY:
			memcpy(d + doff, s + soff, n);
			break;
		case VFIOSIM_DMA_OP_FILL:
			/* byte j of DST is byte j % 8 of PATTERN */
			rot = cpu_to_le64(ror64(x->pattern, 8 * (done & 7)));
			for (i = 0; i + 8 <= n; i += 8)
				memcpy(d + doff + i, &rot, 8);
			memcpy(d + doff + i, &rot, n - i);
			break;
		case VFIOSIM_DMA_OP_CSUM:
			*crc = vfiosim_crc32c(*crc, s + soff, n);
			break;
		}
		if (d)
			kunmap_local(d);
		if (s)
			kunmap_local(s);

		done += n;
		len -= n;
		if (x->op != VFIOSIM_DMA_OP_FILL) {
			soff += n;
			if (soff == PAGE_SIZE) {
				soff = 0;
				sp++;
			}
		}
		if (x->op != VFIOSIM_DMA_OP_CSUM) {
			doff += n;
			if (doff == PAGE_SIZE) {
				doff = 0;
				dp++;
			}
		}
	}
}

/*
 * Run @x; the status it ends in, with *@done the bytes moved before it
 * ended.  Steps are chunks; after a step fails to get its pages the
 * transfer goes on page by page, so that it stops exactly at the first
 * byte it cannot reach, with everything before that moved.
 */
static u32 vfiosim_dma_run(struct vfiosim_dma_engine *eng,
			   const struct vfiosim_dma_xfer *x, u32 *done,
			   u32 *crc)
{
	bool reads = x->op != VFIOSIM_DMA_OP_FILL;
	bool writes = x->op != VFIOSIM_DMA_OP_CSUM;
	bool exact = false;
	u32 status;

	*done = 0;
	while (*done < x->len) {
		u64 src = x->src + *done, dst = x->dst + *done;
		u32 len = min_t(u32, x->len - *done, VFIOSIM_DMA_CHUNK);
		int sn = 0, dn = 0;

		if (READ_ONCE(eng->abort))
			return VFIOSIM_DMA_STATUS_ERR_ABORTED;
		if (exact) {
			if (reads)
				len = min_t(u32, len,
					    PAGE_SIZE - offset_in_page(src));
			if (writes)
				len = min_t(u32, len,
					    PAGE_SIZE - offset_in_page(dst));
		}
		if (reads) {
			sn = vfiosim_dma_span(src, len);
			status = vfiosim_dma_get(eng, x, src & PAGE_MASK, sn,
						 false, eng->src_pages);
			if (status != VFIOSIM_DMA_STATUS_DONE)
				goto failed;
		}
		if (writes) {
			dn = vfiosim_dma_span(dst, len);
			status = vfiosim_dma_get(eng, x, dst & PAGE_MASK, dn,
						 true, eng->dst_pages);
			if (status != VFIOSIM_DMA_STATUS_DONE) {
				if (reads)
					vfiosim_dma_put(eng, x, src & PAGE_MASK,
							sn, false,
							eng->src_pages);
				goto failed;
			}
			vfiosim_dma_log_mark(eng, dst, len);
		}
		vfiosim_dma_step(x, *done, eng->src_pages, eng->dst_pages, len,
				 crc);
		if (reads)
			vfiosim_dma_put(eng, x, src & PAGE_MASK, sn, false,
					eng->src_pages);
		if (writes)
			vfiosim_dma_put(eng, x, dst & PAGE_MASK, dn, true,
					eng->dst_pages);
		*done += len;
		cond_resched();
		continue;
failed:
		if (exact || (sn <= 1 && dn <= 1))
			return status;
		exact = true;
	}
	return VFIOSIM_DMA_STATUS_DONE;
}

/* The end of a transfer, under vfiosim_dev.lock: registers, interrupt. */
static void vfiosim_dma_complete(struct vfiosim_dev *sdev, u32 status,
				 u32 done, u32 result)
{
	struct vfiosim_dma_regs *r = &sdev->dma;

	lockdep_assert_held(&sdev->lock);
	r->status = status;
	r->done_bytes = done;
	r->result = result;
	r->count++;
	if (status == VFIOSIM_DMA_STATUS_DONE)
		trace_vfiosim_dma_done(sdev, r);
	else
		trace_vfiosim_dma_error(sdev, r);
	/* a transfer that reset or close ended raises nothing: no one hears */
	if (r->vector != VFIOSIM_DMA_NO_VECTOR && !sdev->dma_engine->stopping)
		vfiosim_doorbell(sdev, r->vector);
}

/* Does [iova, iova + len) meet the range the container just unmapped? */
static bool vfiosim_dma_unmapped_touch(const struct vfiosim_dma_engine *eng,
				       u64 iova, u32 len)
{
	return iova <= eng->unmapped_last &&
	       eng->unmapped_first <= iova + len - 1;
}

/* Must a VFIO transfer wait for an unmap to end?  Under vfiosim_dev.lock. */
static bool vfiosim_dma_held(const struct vfiosim_dma_engine *eng,
			     const struct vfiosim_dma_xfer *x)
{
	return x->vfio && eng->unmapped &&
	       (eng->unmapping || time_before(jiffies, eng->unmapped_until)) &&
	       (vfiosim_dma_unmapped_touch(eng, x->src, x->len) ||
		vfiosim_dma_unmapped_touch(eng, x->dst, x->len));
}

/* For a stalled worker (fault.c): has a stop or unmap asked it to end? */
static bool vfiosim_dma_abort_asked(struct vfiosim_dev *sdev)
{
	return READ_ONCE(sdev->dma_engine->abort);
}

static void vfiosim_dma_work(struct work_struct *work)
{
	struct vfiosim_dma_engine *eng =
		container_of(to_delayed_work(work), struct vfiosim_dma_engine,
			     work);
	struct vfiosim_dev *sdev = eng->sdev;
	struct vfiosim_dma_xfer x = eng->cur;	/* stable while busy */
	u32 crc = ~0U, done, status;

	/* Still inside an unmap's hold (its dma_unmap ran long): wait on. */
	mutex_lock(&sdev->lock);
	if (!eng->abort && vfiosim_dma_held(eng, &x)) {
		queue_delayed_work(system_highpri_wq, &eng->work,
				   VFIOSIM_DMA_UNMAP_HOLD);
		mutex_unlock(&sdev->lock);
		return;
	}
	mutex_unlock(&sdev->lock);

	if (vfiosim_fault_dma_stall(sdev))
		vfiosim_fault_dma_stall_wait(sdev, vfiosim_dma_abort_asked);
	status = vfiosim_fault_dma(sdev, &x.len);
	if (status)
		done = 0;
	else
		status = vfiosim_dma_run(eng, &x, &done, &crc);

	mutex_lock(&sdev->lock);
	vfiosim_dma_complete(sdev, status, done,
			     x.op == VFIOSIM_DMA_OP_CSUM &&
			     status == VFIOSIM_DMA_STATUS_DONE ? ~crc : 0);
	eng->busy = false;
	mutex_unlock(&sdev->lock);
}

/* Take the registers and start; under vfiosim_dev.lock. */
static void vfiosim_dma_start(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	struct vfiosim_dma_regs *r = &sdev->dma;
	unsigned long delay = 0;

	lockdep_assert_held(&sdev->lock);
	r->go_pending = false;
	if (eng->stopping) {
		vfiosim_dma_complete(sdev, VFIOSIM_DMA_STATUS_ERR_ABORTED, 0, 0);
		return;
	}
	eng->cur.src = r->src;
	eng->cur.dst = r->dst;
	eng->cur.pattern = r->pattern;
	eng->cur.len = r->len;
	eng->cur.op = r->op;
	eng->cur.vfio = sdev->owner == VFIOSIM_OWNER_VFIO;
	if (vfiosim_dma_held(eng, &eng->cur))
		delay = VFIOSIM_DMA_UNMAP_HOLD;
	eng->abort = false;
	eng->busy = true;
	r->status = VFIOSIM_DMA_STATUS_BUSY;
	trace_vfiosim_dma_start(sdev, r);
	/*
	 * On this CPU, ahead of normal work: it runs as soon as the writer
	 * of GO sleeps, with no wakeup of another CPU in between.
	 */
	queue_delayed_work(system_highpri_wq, &eng->work, delay);
}

/*
 * GO: a bad OP or LEN ends at once; with a transfer in flight or held
 * back, GO is ignored; a quiesced engine holds it back (STATUS BUSY).
 */
static void vfiosim_dma_go(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	struct vfiosim_dma_regs *r = &sdev->dma;

	if (eng->busy || r->go_pending)
		return;
	if (r->op < VFIOSIM_DMA_OP_COPY || r->op > VFIOSIM_DMA_OP_CSUM) {
		vfiosim_dma_complete(sdev, VFIOSIM_DMA_STATUS_ERR_OP, 0, 0);
		return;
	}
	if (!r->len || r->len > VFIOSIM_DMA_MAX_LEN) {
		vfiosim_dma_complete(sdev, VFIOSIM_DMA_STATUS_ERR_LEN, 0, 0);
		return;
	}
	if (eng->quiesced) {
		r->go_pending = true;
		r->status = VFIOSIM_DMA_STATUS_BUSY;
		return;
	}
	vfiosim_dma_start(sdev);
}

/* ---- stop, fence, quiesce --------------------------------------------- */

/*
 * Abort the transfer in flight and wait for it; until vfiosim_dma_resume()
 * a GO ends at once in ERR_ABORTED.  Called with no vfiosim lock held but
 * nl_lock (reset, close, session end), never under vfiosim_dev.lock.
 */
void vfiosim_dma_stop(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;

	mutex_lock(&sdev->lock);
	eng->stopping++;
	eng->abort = true;
	mutex_unlock(&sdev->lock);
	flush_delayed_work(&eng->work);
	vfiosim_dma_unpin(eng, 0, ULONG_MAX);
}

/* The stop is over; @owner_change: a new owner starts unquiesced. */
void vfiosim_dma_resume(struct vfiosim_dev *sdev, bool owner_change)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;

	mutex_lock(&sdev->lock);
	eng->stopping--;
	if (owner_change)
		eng->quiesced = false;
	mutex_unlock(&sdev->lock);
}

/*
 * [iova, iova + size) is being unmapped: a transfer in flight that may
 * touch it is aborted, and waited for, so that nothing reaches the range
 * after this returns (and no pin of it is left).  Never under
 * vfiosim_dev.lock or maps_lock.
 */
void vfiosim_dma_fence(struct vfiosim_dev *sdev, u64 iova, u64 size)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	const struct vfiosim_dma_xfer *x = &eng->cur;
	bool wait = false;
	u64 last = iova + size - 1;

	mutex_lock(&sdev->lock);
	if (eng->busy) {
		bool src = x->op != VFIOSIM_DMA_OP_FILL &&
			   x->src <= last && iova <= x->src + x->len - 1;
		bool dst = x->op != VFIOSIM_DMA_OP_CSUM &&
			   x->dst <= last && iova <= x->dst + x->len - 1;

		if (src || dst) {
			eng->abort = true;
			wait = true;
		}
	}
	mutex_unlock(&sdev->lock);
	if (wait)
		flush_delayed_work(&eng->work);
	if (size)
		vfiosim_dma_unpin(eng, iova >> PAGE_SHIFT,
				  (iova + size - 1) >> PAGE_SHIFT);
}

/*
 * The VFIO container unmaps [iova, iova + size): fence it, and let a
 * transfer into it started meanwhile, or just after, wait until type1
 * has seen the pins gone and finished the unmap.  Without that a user
 * issuing GO into the range while unmapping it could make type1 find new
 * pins eleven times over, which is a BUG() there.
 */
void vfiosim_dma_vfio_unmap(struct vfiosim_dev *sdev, u64 iova, u64 size)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;

	if (!size)
		return;
	mutex_lock(&sdev->lock);
	eng->unmapping = true;
	eng->unmapped = true;
	eng->unmapped_first = iova;
	eng->unmapped_last = iova + size - 1;
	mutex_unlock(&sdev->lock);
	vfiosim_dma_fence(sdev, iova, size);
	mutex_lock(&sdev->lock);
	eng->unmapping = false;
	eng->unmapped_until = jiffies + VFIOSIM_DMA_UNMAP_HOLD;
	mutex_unlock(&sdev->lock);
}

/* The vfio-user map list changes under this, after nl_lock. */
void vfiosim_dma_maps_lock(struct vfiosim_dev *sdev)
{
	mutex_lock(&sdev->dma_engine->maps_lock);
}

void vfiosim_dma_maps_unlock(struct vfiosim_dev *sdev)
{
	mutex_unlock(&sdev->dma_engine->maps_lock);
}

/*
 * Migration's STOP arcs: the transfer in flight completes normally (it is
 * waited for) and a later GO is held in dma.go_pending.  Idempotent: a
 * quiesced engine stays so.  Not under vfiosim_dev.lock.
 */
void vfiosim_dma_quiesce(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;
	bool busy;

	mutex_lock(&sdev->lock);
	eng->quiesced = true;
	mutex_unlock(&sdev->lock);
	/*
	 * A transfer inside an unmap's hold queues itself again when the
	 * flush runs it early, and flush_delayed_work() waits for that run
	 * only: wait out the hold until the transfer has really run.
	 */
	for (;;) {
		flush_delayed_work(&eng->work);
		mutex_lock(&sdev->lock);
		busy = eng->busy;
		mutex_unlock(&sdev->lock);
		if (!busy)
			break;
		msleep(VFIOSIM_DMA_UNMAP_HOLD_MS);
	}
}

/*
 * RUNNING again: a held-back GO starts (also one that came with a
 * migration stream).  Idempotent.  Not under vfiosim_dev.lock.
 */
void vfiosim_dma_unquiesce(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;

	mutex_lock(&sdev->lock);
	eng->quiesced = false;
	if (sdev->dma.go_pending && !eng->busy)
		vfiosim_dma_start(sdev);
	mutex_unlock(&sdev->lock);
}

/* ---- registers -------------------------------------------------------- */

u32 vfiosim_dma_reg_read(struct vfiosim_dev *sdev, u32 off)
{
	const struct vfiosim_dma_regs *r = &sdev->dma;

	lockdep_assert_held(&sdev->lock);
	switch (off) {
	case VFIOSIM_REG_DMA_SRC_LO:
		return lower_32_bits(r->src);
	case VFIOSIM_REG_DMA_SRC_HI:
		return upper_32_bits(r->src);
	case VFIOSIM_REG_DMA_DST_LO:
		return lower_32_bits(r->dst);
	case VFIOSIM_REG_DMA_DST_HI:
		return upper_32_bits(r->dst);
	case VFIOSIM_REG_DMA_LEN:
		return r->len;
	case VFIOSIM_REG_DMA_OP:
		return r->op;
	case VFIOSIM_REG_DMA_PATTERN_LO:
		return lower_32_bits(r->pattern);
	case VFIOSIM_REG_DMA_PATTERN_HI:
		return upper_32_bits(r->pattern);
	case VFIOSIM_REG_DMA_VECTOR:
		return r->vector;
	case VFIOSIM_REG_DMA_STATUS:
		return r->status;
	case VFIOSIM_REG_DMA_RESULT:
		return r->result;
	case VFIOSIM_REG_DMA_DONE_BYTES:
		return r->done_bytes;
	case VFIOSIM_REG_DMA_COUNT:
		return r->count;
	}
	return 0;
}

static void vfiosim_dma_put64(u64 *reg, bool high, u32 val, u32 mask)
{
	u32 half = high ? upper_32_bits(*reg) : lower_32_bits(*reg);

	half = (half & ~mask) | (val & mask);
	if (high)
		*reg = (u64)half << 32 | lower_32_bits(*reg);
	else
		*reg = (*reg & GENMASK_ULL(63, 32)) | half;
}

void vfiosim_dma_reg_write(struct vfiosim_dev *sdev, u32 off, u32 val,
			   u32 mask)
{
	struct vfiosim_dma_regs *r = &sdev->dma;

	lockdep_assert_held(&sdev->lock);
	switch (off) {
	case VFIOSIM_REG_DMA_SRC_LO:
	case VFIOSIM_REG_DMA_SRC_HI:
		vfiosim_dma_put64(&r->src, off == VFIOSIM_REG_DMA_SRC_HI, val,
				  mask);
		break;
	case VFIOSIM_REG_DMA_DST_LO:
	case VFIOSIM_REG_DMA_DST_HI:
		vfiosim_dma_put64(&r->dst, off == VFIOSIM_REG_DMA_DST_HI, val,
				  mask);
		break;
	case VFIOSIM_REG_DMA_PATTERN_LO:
	case VFIOSIM_REG_DMA_PATTERN_HI:
		vfiosim_dma_put64(&r->pattern,
				  off == VFIOSIM_REG_DMA_PATTERN_HI, val, mask);
		break;
	case VFIOSIM_REG_DMA_LEN:
		r->len = (r->len & ~mask) | (val & mask);
		break;
	case VFIOSIM_REG_DMA_OP:
		r->op = (r->op & ~mask) | (val & mask);
		break;
	case VFIOSIM_REG_DMA_VECTOR:
		r->vector = (r->vector & ~mask) | (val & mask);
		break;
	case VFIOSIM_REG_DMA_GO:
		/* any other value is no GO */
		if ((val & mask) == VFIOSIM_DMA_GO)
			vfiosim_dma_go(sdev);
		break;
	}
}

/* ---- lifetime --------------------------------------------------------- */

int vfiosim_dma_init(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng;

	DO_ONCE(vfiosim_crc32c_fill);
	eng = kzalloc(sizeof(*eng), GFP_KERNEL);
	if (!eng)
		return -ENOMEM;
	eng->sdev = sdev;
	INIT_DELAYED_WORK(&eng->work, vfiosim_dma_work);
	mutex_init(&eng->maps_lock);
	mutex_init(&eng->pins_lock);
	xa_init(&eng->pins[0]);
	xa_init(&eng->pins[1]);
	mutex_init(&eng->log_lock);
	sdev->dma_engine = eng;
	return 0;
}

/* After the last owner: nothing runs, only the work item may linger. */
void vfiosim_dma_destroy(struct vfiosim_dev *sdev)
{
	struct vfiosim_dma_engine *eng = sdev->dma_engine;

	if (!eng)
		return;
	flush_delayed_work(&eng->work);
	/* the last close dropped every pin */
	WARN_ON(!xa_empty(&eng->pins[0]) || !xa_empty(&eng->pins[1]));
	xa_destroy(&eng->pins[0]);
	xa_destroy(&eng->pins[1]);
	mutex_destroy(&eng->pins_lock);
	vfiosim_dma_log_free(eng->log);
	mutex_destroy(&eng->log_lock);
	mutex_destroy(&eng->maps_lock);
	kfree(eng);
	sdev->dma_engine = NULL;
}
