// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the DMA engine and DMA dirty logging.
 *
 * One transfer at a time per device, run by a work item (system_highpri_wq)
 * with a snapshot of the registers taken at GO.  The memory it reaches is
 * the owner's: over VFIO the container's IOVAs, through vfio_dma_rw() and a
 * bounce buffer, one step at a time; over vfio-user the session's DMA maps,
 * each page looked up in its memory file.
 *
 * Over VFIO nothing is pinned.  type1 calls dma_unmap with its
 * device_list_lock held and expects the driver to unpin there, and
 * vfio_unpin_pages() takes iommu->lock, which type1 takes before
 * device_list_lock when it registers a device or starts notifying: an ABBA
 * (lockdep reports it; two unmaps on one container could deadlock).
 * vfio_dma_rw() holds iommu->lock for the whole copy instead, so an unmap
 * waits for the step in flight, and the next step finds the range gone.
 *
 * Locks (see vfiosim.h): GO, completion, abort and quiesce state are under
 * vfiosim_dev.lock; the worker takes it only to post the completion and
 * never holds it while it touches memory.  Whoever must stop the engine
 * (reset, close, a vfio-user unmap, session end, removal) marks it under
 * vfiosim_dev.lock and waits for the work item with no vfiosim lock the
 * worker takes: reset and close call vfiosim_dma_stop() before they take
 * vfiosim_dev.lock, and vfio-user unmaps wait under nl_lock (which the
 * worker never takes).
 * vfiosim_dma_engine.maps_lock guards the worker's lookups in the
 * vfio-user map list against DMA_MAP and DMA_UNMAP (nl_lock ->
 * maps_lock); log_lock guards the dirty log.
 */

#include <linux/highmem.h>
#include <linux/once.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "netlink.h"
#include "trace.h"

/* Bytes one step of a transfer moves (and the VFIO bounce buffer's size). */
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
	struct work_struct work;

	/* under vfiosim_dev.lock */
	bool busy;		/* queued or running */
	bool quiesced;		/* migration: GO is held in go_pending */
	unsigned int stopping;	/* a stop is waiting: GO ends ERR_ABORTED */
	struct vfiosim_dma_xfer cur;
	/* set under vfiosim_dev.lock, read by the worker between steps */
	bool abort;
	struct mutex maps_lock;	/* the vfio-user maps the worker looks up */

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

/*
 * vfio-user: the @npages pages from page-aligned @iova, referenced; on an
 * error none is held and the status says why.
 */
static u32 vfiosim_dma_get(struct vfiosim_dma_engine *eng, u64 iova,
			   int npages, bool write, struct page **pages)
{
	u32 status;
	int i;

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

static void vfiosim_dma_put(int npages, bool written, struct page **pages)
{
	int i;

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

/* FILL's @n bytes at @d, @done bytes into the transfer. */
static void vfiosim_dma_fill(u8 *d, size_t n, u64 pattern, u32 done)
{
	/* byte j of DST is byte j % 8 of PATTERN */
	__le64 rot = cpu_to_le64(ror64(pattern, 8 * (done & 7)));
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		memcpy(d + i, &rot, 8);
	memcpy(d + i, &rot, n - i);
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

	while (len) {
		size_t n = len;
		u8 *s = NULL, *d = NULL;

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
			vfiosim_dma_fill(d + doff, n, x->pattern, done);
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
 * VFIO: one step of @len bytes, @done bytes into the transfer, through
 * the container with the bounce buffer @buf.  A failed write may have
 * written part of the step: the exact retry writes it again.
 */
static u32 vfiosim_dma_vfio_step(struct vfiosim_dma_engine *eng,
				 const struct vfiosim_dma_xfer *x, u32 done,
				 u32 len, u8 *buf, u32 *crc)
{
	struct vfio_device *vdev = &eng->sdev->vdev;
	int ret;

	if (x->op != VFIOSIM_DMA_OP_FILL) {
		ret = vfio_dma_rw(vdev, x->src + done, buf, len, false);
		if (ret)
			return vfiosim_dma_errno_status(ret);
	}
	if (x->op == VFIOSIM_DMA_OP_CSUM) {
		*crc = vfiosim_crc32c(*crc, buf, len);
		return VFIOSIM_DMA_STATUS_DONE;
	}
	if (x->op == VFIOSIM_DMA_OP_FILL)
		vfiosim_dma_fill(buf, len, x->pattern, done);
	ret = vfio_dma_rw(vdev, x->dst + done, buf, len, true);
	return ret ? vfiosim_dma_errno_status(ret) : VFIOSIM_DMA_STATUS_DONE;
}

/* vfio-user: one step of @len bytes, @done bytes into the transfer. */
static u32 vfiosim_dma_vu_step(struct vfiosim_dma_engine *eng,
			       const struct vfiosim_dma_xfer *x, u32 done,
			       u32 len, u32 *crc)
{
	u64 src = x->src + done, dst = x->dst + done;
	int sn = 0, dn = 0;
	u32 status;

	if (x->op != VFIOSIM_DMA_OP_FILL) {
		sn = vfiosim_dma_span(src, len);
		status = vfiosim_dma_get(eng, src & PAGE_MASK, sn, false,
					 eng->src_pages);
		if (status != VFIOSIM_DMA_STATUS_DONE)
			return status;
	}
	if (x->op != VFIOSIM_DMA_OP_CSUM) {
		dn = vfiosim_dma_span(dst, len);
		status = vfiosim_dma_get(eng, dst & PAGE_MASK, dn, true,
					 eng->dst_pages);
		if (status != VFIOSIM_DMA_STATUS_DONE) {
			vfiosim_dma_put(sn, false, eng->src_pages);
			return status;
		}
	}
	vfiosim_dma_step(x, done, eng->src_pages, eng->dst_pages, len, crc);
	vfiosim_dma_put(sn, false, eng->src_pages);
	vfiosim_dma_put(dn, true, eng->dst_pages);
	return VFIOSIM_DMA_STATUS_DONE;
}

/*
 * Run @x; the status it ends in, with *@done the bytes moved before it
 * ended.  Steps are chunks; after a step fails the transfer goes on page
 * by page, so that it stops exactly at the first byte it cannot reach,
 * with everything before that moved.
 */
static u32 vfiosim_dma_run(struct vfiosim_dma_engine *eng,
			   const struct vfiosim_dma_xfer *x, u32 *done,
			   u32 *crc)
{
	bool reads = x->op != VFIOSIM_DMA_OP_FILL;
	bool writes = x->op != VFIOSIM_DMA_OP_CSUM;
	u32 status = VFIOSIM_DMA_STATUS_DONE;
	bool exact = false;
	u8 *buf = NULL;

	if (x->vfio) {
		buf = kvmalloc(min_t(u32, x->len, VFIOSIM_DMA_CHUNK),
			       GFP_KERNEL);
		if (!buf)
			return VFIOSIM_DMA_STATUS_ERR_FAULT;
	}
	*done = 0;
	while (*done < x->len) {
		u64 src = x->src + *done, dst = x->dst + *done;
		u32 len = min_t(u32, x->len - *done, VFIOSIM_DMA_CHUNK);

		if (READ_ONCE(eng->abort)) {
			status = VFIOSIM_DMA_STATUS_ERR_ABORTED;
			break;
		}
		if (exact) {
			if (reads)
				len = min_t(u32, len,
					    PAGE_SIZE - offset_in_page(src));
			if (writes)
				len = min_t(u32, len,
					    PAGE_SIZE - offset_in_page(dst));
		}
		if (writes)
			vfiosim_dma_log_mark(eng, dst, len);
		if (x->vfio)
			status = vfiosim_dma_vfio_step(eng, x, *done, len, buf,
						       crc);
		else
			status = vfiosim_dma_vu_step(eng, x, *done, len, crc);
		if (status == VFIOSIM_DMA_STATUS_DONE) {
			*done += len;
			cond_resched();
			continue;
		}
		if (exact ||
		    ((!reads || vfiosim_dma_span(src, len) <= 1) &&
		     (!writes || vfiosim_dma_span(dst, len) <= 1)))
			break;
		exact = true;
		status = VFIOSIM_DMA_STATUS_DONE;
	}
	kvfree(buf);
	return status;
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

/* For a stalled worker (fault.c): has a stop or unmap asked it to end? */
static bool vfiosim_dma_abort_asked(struct vfiosim_dev *sdev)
{
	return READ_ONCE(sdev->dma_engine->abort);
}

static void vfiosim_dma_work(struct work_struct *work)
{
	struct vfiosim_dma_engine *eng =
		container_of(work, struct vfiosim_dma_engine, work);
	struct vfiosim_dev *sdev = eng->sdev;
	struct vfiosim_dma_xfer x = eng->cur;	/* stable while busy */
	u32 crc = ~0U, done, status;

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
	eng->abort = false;
	eng->busy = true;
	r->status = VFIOSIM_DMA_STATUS_BUSY;
	trace_vfiosim_dma_start(sdev, r);
	/*
	 * On this CPU, ahead of normal work: it runs as soon as the writer
	 * of GO sleeps, with no wakeup of another CPU in between.
	 */
	queue_work(system_highpri_wq, &eng->work);
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
	flush_work(&eng->work);
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
 * vfio-user: [iova, iova + size) is being unmapped: a transfer in flight
 * that may touch it is aborted, and waited for, so that nothing reaches
 * the range after this returns.  Never under vfiosim_dev.lock or
 * maps_lock.
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
		flush_work(&eng->work);
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

	mutex_lock(&sdev->lock);
	eng->quiesced = true;
	mutex_unlock(&sdev->lock);
	flush_work(&eng->work);
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
	INIT_WORK(&eng->work, vfiosim_dma_work);
	mutex_init(&eng->maps_lock);
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
	flush_work(&eng->work);
	vfiosim_dma_log_free(eng->log);
	mutex_destroy(&eng->log_lock);
	mutex_destroy(&eng->maps_lock);
	kfree(eng);
	sdev->dma_engine = NULL;
}
