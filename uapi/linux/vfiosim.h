/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vfiosim: the synthetic VFIO device model, as seen by userspace.
 *
 * This header is the single definition of the device shared by the kernel
 * module (kmod/), libvfiosim (userspace/) and the selftests.  Every number a
 * test asserts comes from here.
 */
#ifndef _UAPI_LINUX_VFIOSIM_H
#define _UAPI_LINUX_VFIOSIM_H

#include <linux/const.h>
#include <linux/types.h>

#define VFIOSIM_NAME			"vfiosim"

/*
 * PCI identity.  0x5653 ("VS") is not an ID assigned by the PCI-SIG to us;
 * it is a synthetic vendor for a simulator that never sits on a real bus.
 */
#define VFIOSIM_PCI_VENDOR_ID		0x5653
#define VFIOSIM_PCI_SUBSYS_VENDOR_ID	0x5653
#define VFIOSIM_PCI_CLASS		0xff0000	/* unassigned class */
#define VFIOSIM_PCI_REVISION		0x01

/* Device IDs, one per type (personality).  Subsystem ID equals device ID. */
#define VFIOSIM_PCI_DEVICE_SMALL	0x0001
#define VFIOSIM_PCI_DEVICE_FULL		0x0002

/*
 * Region file offsets, as reported by VFIO_DEVICE_GET_REGION_INFO: region
 * index N starts at N << VFIOSIM_REGION_SHIFT, like vfio-pci.
 */
#define VFIOSIM_REGION_SHIFT		40
#define VFIOSIM_REGION_OFFSET(index)	((__u64)(index) << VFIOSIM_REGION_SHIFT)

/* BAR sizes. BAR0 is the same for every type; BAR2 is per type. */
#define VFIOSIM_BAR0_SIZE		0x2000
#define VFIOSIM_BAR2_SIZE_SMALL		0x10000		/* 64 KiB */
#define VFIOSIM_BAR2_SIZE_FULL		0x1000000	/* 16 MiB */

/*
 * BAR2 is device memory.  Everything but its last page can be mmapped (the
 * sparse-mmap capability lists one area); the last page is always trapped.
 */
#define VFIOSIM_BAR2_TRAPPED_SIZE	0x1000

/* Interrupt vectors per type. */
#define VFIOSIM_MSI_VECTORS_SMALL	4
#define VFIOSIM_MSIX_VECTORS_SMALL	4
#define VFIOSIM_MSI_VECTORS_FULL	32
#define VFIOSIM_MSIX_VECTORS_FULL	32
#define VFIOSIM_MAX_VECTORS		32

/*
 * Config space (256 bytes, conventional PCI, header type 0).
 *  0x00 vendor/device, 0x2c subsystem vendor/ID: the IDs above.
 *  0x04 command: writable bits are MEMORY, MASTER, PARITY, SERR and
 *       INTX_DISABLE; reset value 0.
 *  0x06 status: CAP_LIST always set; INTERRUPT reflects the INTx line.
 *  0x08 revision, 0x09 class code; 0x0c cache line size is writable.
 *  0x10 BAR0: 32-bit non-prefetchable memory, VFIOSIM_BAR0_SIZE.
 *  0x18 BAR2: 64-bit prefetchable memory (upper half at 0x1c), per-type size.
 *  BAR1, BAR4, BAR5 and the expansion ROM are not implemented (read 0,
 *  ignore writes).  Writing all-ones to a BAR reads back its size mask.
 *  0x34 capability pointer -> MSI (0x50) -> MSI-X (0x70) -> end.
 *  0x3c interrupt line (writable), 0x3d interrupt pin INTA.
 * Read-only fields ignore writes.  Accesses of any length are split into
 * naturally aligned 4, 2 and 1 byte pieces.
 */
#define VFIOSIM_CONFIG_SIZE		0x100
#define VFIOSIM_CFG_MSI_CAP		0x50	/* 64-bit address, no per-vector mask */
#define VFIOSIM_CFG_MSIX_CAP		0x70
#define VFIOSIM_CFG_CAP_LIST		VFIOSIM_CFG_MSI_CAP

/* BAR0: a trapped register file.  All registers are 32 bits wide. */
#define VFIOSIM_REG_ID			0x000	/* RO: VFIOSIM_ID_MAGIC */
#define VFIOSIM_REG_VERSION		0x004	/* RO: VFIOSIM_MODEL_VERSION */
#define VFIOSIM_REG_FEATURES		0x008	/* RO: VFIOSIM_FEAT_* */
#define VFIOSIM_REG_VECTORS		0x00c	/* RO: MSI count << 16 | MSI-X count */
#define VFIOSIM_REG_SCRATCH0		0x010	/* RW, reset to 0 */
#define VFIOSIM_NUM_SCRATCH		8
#define VFIOSIM_REG_SCRATCH(n)		(VFIOSIM_REG_SCRATCH0 + 4 * (n))
#define VFIOSIM_REG_DOORBELL		0x040	/* WO: raise vector N; reads 0 */
#define VFIOSIM_REG_IRQ_STATUS		0x044	/* RW1C: bit N set by doorbell N */
#define VFIOSIM_REG_IRQ_MASK		0x048	/* RW: bit N holds vector N back */
#define VFIOSIM_REG_ERR_TRIGGER		0x04c	/* WO: any write signals ERR */
#define VFIOSIM_REG_COUNTER		0x050	/* RW: read returns value, then +1 */
#define VFIOSIM_REG_DOORBELL_COUNT	0x054	/* RO: doorbell writes since reset */
#define VFIOSIM_REG_DROPPED		0x058	/* RO: doorbells with no vector */
#define VFIOSIM_REG_END			0x05c

#define VFIOSIM_ID_MAGIC		0x5646534d	/* "VFSM" */
#define VFIOSIM_MODEL_VERSION		0x00010000	/* major << 16 | minor */

#define VFIOSIM_FEAT_INTX		_BITUL(0)
#define VFIOSIM_FEAT_MSI		_BITUL(1)
#define VFIOSIM_FEAT_MSIX		_BITUL(2)
#define VFIOSIM_FEAT_BAR2_MMAP		_BITUL(3)

/* MSI-X table and PBA, in BAR0 (BIR 0), where the MSI-X capability says. */
#define VFIOSIM_MSIX_TABLE_OFFSET	0x1000
#define VFIOSIM_MSIX_ENTRY_SIZE		16
#define VFIOSIM_MSIX_PBA_OFFSET		0x1800

/*
 * Registers past VFIOSIM_REG_END and below the MSI-X table read as 0 and
 * ignore writes.  Accesses are 1, 2, 4 or 8 bytes, naturally aligned; an
 * 8-byte access is two 4-byte accesses, low dword first.
 *
 * Interrupt model.  The interrupt mode is the VFIO IRQ index that has
 * triggers set (INTx, MSI or MSI-X; only one at a time, as in vfio-pci).
 * Writing N to DOORBELL sets IRQ_STATUS bit N and then:
 *  - INTx: the line is asserted while (IRQ_STATUS & ~IRQ_MASK) != 0 and the
 *    config command register's INTx-disable bit is clear.  An assertion
 *    signals the trigger and auto-masks; VFIO unmask signals again if the
 *    line is still asserted.  Clearing IRQ_STATUS deasserts the line.
 *  - MSI, MSI-X: vector N is signalled once, unless IRQ_MASK bit N is set or
 *    (MSI-X) the vector is masked with VFIO_IRQ_SET_ACTION_MASK; it is then
 *    pending (shown in the PBA for MSI-X) and signalled when the last mask
 *    goes away.
 * A doorbell for a vector the mode does not have (INTx has only vector 0),
 * or with no mode enabled, counts in DROPPED, latches nothing and signals
 * nothing.  IRQ_STATUS latches in every mode, so a bit 0 left set by an
 * MSI doorbell asserts INTx as soon as INTx is enabled.  The MSI-X table is plain storage:
 * under VFIO the VMM emulates it, so its vector-control bits do not mask.
 *
 * Reset (VFIO_DEVICE_RESET) returns config space and every register to its
 * default and clears pending interrupts and masks; eventfds stay registered
 * and BAR2 contents are kept, as device memory survives a function reset.
 * Closing the device drops its eventfds and interrupt state (mode, masks,
 * pending); register values stay until the next reset.
 */

#endif /* _UAPI_LINUX_VFIOSIM_H */
