// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim: the DMA engine.
 *
 * Skeleton only: the registers hold their values and GO starts nothing
 * yet (STATUS stays IDLE).  The engine itself is the DMA issue's work.
 */

#include "vfiosim.h"

int vfiosim_dma_init(struct vfiosim_dev *sdev)
{
	return 0;
}

void vfiosim_dma_destroy(struct vfiosim_dev *sdev)
{
}

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
	}
}

void vfiosim_dma_quiesce(struct vfiosim_dev *sdev)
{
}

void vfiosim_dma_unquiesce(struct vfiosim_dev *sdev)
{
}
