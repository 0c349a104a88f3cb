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
 * BAR2 is device memory.  Everything but its tail can be mmapped (the
 * sparse-mmap capability lists one area); the tail is always trapped.  The
 * tail is VFIOSIM_BAR2_TRAPPED_SIZE, or one host page where pages are
 * larger: take the sizes from the region info, not from this constant.
 * A mapping is a BAR's (VM_IO | VM_PFNMAP): GUP, pinning and O_DIRECT on
 * it fail.  It works while memory decode is on (config command MEMORY)
 * and its owner has the device: otherwise an access raises SIGBUS.
 */
#define VFIOSIM_BAR2_TRAPPED_SIZE	0x1000

/* Interrupt vectors per type. */
#define VFIOSIM_MSI_VECTORS_SMALL	4
#define VFIOSIM_MSIX_VECTORS_SMALL	4
#define VFIOSIM_MSI_VECTORS_FULL	32
#define VFIOSIM_MSIX_VECTORS_FULL	32
#define VFIOSIM_MAX_VECTORS		32

/*
 * Config space: a PCI Express endpoint, 4 KiB, header type 0.
 *  0x00 vendor/device, 0x2c subsystem vendor/ID: the IDs above.
 *  0x04 command: writable bits are MEMORY, MASTER, PARITY, SERR and
 *       INTX_DISABLE; reset value MEMORY, which is what vfio-pci shows at
 *       open (the host enabled the device).  With MEMORY clear, BAR0 and
 *       BAR2 accesses fail with EIO and BAR2 mappings SIGBUS (they are
 *       zapped) until MEMORY is set again; config space always answers.
 *  0x06 status: CAP_LIST always set; INTERRUPT is the device's INTx
 *       condition, (IRQ_STATUS & ~IRQ_MASK) bit 0, at every moment and in
 *       every interrupt mode; INTX_DISABLE does not change it (PCI 3.0).
 *  0x08 revision, 0x09 class code; 0x0c cache line size is writable.
 *  0x10 BAR0: 32-bit non-prefetchable memory, VFIOSIM_BAR0_SIZE.
 *  0x18 BAR2: 64-bit prefetchable memory (upper half at 0x1c), per-type size.
 *  BAR1, BAR4, BAR5 and the expansion ROM are not implemented (read 0,
 *  ignore writes).  Writing all-ones to a BAR reads back its size mask.
 *  0x34 capability pointer -> MSI (0x50) -> MSI-X (0x70) -> PCI Express
 *       (0x80) -> end.
 *  0x3c interrupt line (writable), 0x3d interrupt pin INTA.
 *  0x80 PCI Express capability, version 2, endpoint: DEVCAP has FLR
 *       (and 128-byte payloads); DEVCTL is storage for bits 0-14, reset
 *       to VFIOSIM_EXP_DEVCTL_DEFAULT, and writing 1 to its Initiate FLR
 *       bit (15, reads 0) resets the device as VFIO_DEVICE_RESET does;
 *       DEVSTA 0; link x1 at 2.5 GT/s; every other field reads 0.
 *  0x100-0xfff extended config space: no extended capabilities (the
 *       header at 0x100 is 0); reads 0, ignores writes.
 * Read-only fields ignore writes.  Accesses of any offset and length in
 * the region are split into naturally aligned 4, 2 and 1 byte pieces, and
 * each piece reads or writes exactly its bytes.
 */
#define VFIOSIM_CONFIG_SIZE		0x1000
#define VFIOSIM_CFG_MSI_CAP		0x50	/* 64-bit address, no per-vector mask */
#define VFIOSIM_CFG_MSIX_CAP		0x70
#define VFIOSIM_CFG_EXP_CAP		0x80	/* PCI Express v2, endpoint */
#define VFIOSIM_CFG_EXP_SIZE		0x3c	/* PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 */
#define VFIOSIM_CFG_CAP_LIST		VFIOSIM_CFG_MSI_CAP
/* Relaxed ordering and no-snoop enabled, 512-byte max read request. */
#define VFIOSIM_EXP_DEVCTL_DEFAULT	0x2810

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

/*
 * The DMA engine (kmod/dma.c): one transfer at a time, between IOVAs the
 * owner mapped (VFIO_IOMMU_MAP_DMA on the container, or vfio-user
 * DMA_MAP).  Program SRC, DST, LEN, OP (and PATTERN for FILL), then write
 * VFIOSIM_DMA_GO to DMA_GO; STATUS reads BUSY until the transfer ends in
 * DONE or an error status, and the completion raises DMA_VECTOR as a
 * DOORBELL write of that vector would (VFIOSIM_DMA_NO_VECTOR: none).
 *
 * The registers (all 32-bit, little endian; byte writes merge):
 *   SRC, DST     64-bit IOVAs, any alignment.  CSUM reads SRC only and
 *                ignores DST; FILL writes DST only and ignores SRC.
 *   LEN          bytes, 1..VFIOSIM_DMA_MAX_LEN.
 *   OP           VFIOSIM_DMA_OP_*.  COPY of overlapping ranges: the
 *                contents of DST are then undefined (as memcpy).
 *   PATTERN      FILL writes byte i of DST with byte i % 8 of PATTERN
 *                in little endian order (PATTERN_LO's low byte first).
 *   VECTOR       the vector the completion raises (MSI/MSI-X vector, or
 *                INTx with 0), exactly as DOORBELL: IRQ_STATUS bit,
 *                DOORBELL_COUNT, masks, DROPPED.  Reset value NO_VECTOR.
 *   GO           a write whose value is VFIOSIM_DMA_GO starts a transfer
 *                with the registers as they are then (later register
 *                writes do not change it).  A GO while a transfer is
 *                BUSY is ignored.  A bad OP ends it at once in ERR_OP,
 *                then a bad LEN in ERR_LEN (checked in that order), with
 *                the completion interrupt.  Reads 0.
 *   STATUS       IDLE after reset; BUSY; then DONE or ERR_*.
 *   RESULT       CSUM's CRC32C: Castagnoli (reflected 0x82f63b78), init
 *                ~0, final xor ~0: the standard crc32c of the bytes
 *                ("123456789" gives 0xe3069283).  0 for other ops.
 *   DONE_BYTES   the bytes the last transfer moved: LEN when DONE; on an
 *                error, every byte before the first one it could not
 *                reach was moved and nothing after (a transfer that runs
 *                off the end of a map writes up to the end and ends
 *                ERR_UNMAPPED); 0 for ERR_OP and ERR_LEN.
 *   COUNT        transfers ended (any status) since reset.
 * Nothing is accessed in a range once its unmap has returned.  Over
 * vfio-user the unmap of a range a transfer touches aborts it
 * (ERR_ABORTED) and waits for it; over VFIO nothing is pinned and each
 * step of a transfer goes through the container, which the unmap waits
 * for, so the transfer ends ERR_UNMAPPED at the first byte it can no
 * longer reach (DONE if it got there first).  Reset and close abort a
 * transfer too.  Over VFIO every IOVA the engine touches must be mapped
 * READ, a destination READ | WRITE: the VFIO core's vfio_dma_rw() refuses
 * a write-only map (ERR_PERM).
 * Reset and close wait for the transfer, raise no completion interrupt,
 * and leave the registers at their reset values; after close (and
 * device removal) the engine touches no memory.  A
 * migration STOP lets the transfer in flight complete and holds a later
 * GO (STATUS BUSY) until RUNNING.  Over vfio-user, DMA goes through the
 * memory file of the DMA_MAP (memfd or shmem); a map without a file, or
 * with a hugetlbfs file, ends the transfer in ERR_FAULT (no DMA_READ or
 * DMA_WRITE messages are sent to the client).
 */
#define VFIOSIM_REG_DMA_SRC_LO		0x060	/* RW: source IOVA */
#define VFIOSIM_REG_DMA_SRC_HI		0x064
#define VFIOSIM_REG_DMA_DST_LO		0x068	/* RW: destination IOVA */
#define VFIOSIM_REG_DMA_DST_HI		0x06c
#define VFIOSIM_REG_DMA_LEN		0x070	/* RW: bytes, 1..VFIOSIM_DMA_MAX_LEN */
#define VFIOSIM_REG_DMA_OP		0x074	/* RW: VFIOSIM_DMA_OP_* */
#define VFIOSIM_REG_DMA_PATTERN_LO	0x078	/* RW: FILL's 64-bit pattern */
#define VFIOSIM_REG_DMA_PATTERN_HI	0x07c
#define VFIOSIM_REG_DMA_VECTOR		0x080	/* RW: completion vector */
#define VFIOSIM_REG_DMA_GO		0x084	/* WO: VFIOSIM_DMA_GO starts; reads 0 */
#define VFIOSIM_REG_DMA_STATUS		0x088	/* RO: VFIOSIM_DMA_STATUS_* */
#define VFIOSIM_REG_DMA_RESULT		0x08c	/* RO: CSUM's CRC32C */
#define VFIOSIM_REG_DMA_DONE_BYTES	0x090	/* RO: bytes the last transfer moved */
#define VFIOSIM_REG_DMA_COUNT		0x094	/* RO: transfers ended since reset */
#define VFIOSIM_REG_END			0x098

#define VFIOSIM_DMA_GO			1
#define VFIOSIM_DMA_NO_VECTOR		0xffffffff
#define VFIOSIM_DMA_MAX_LEN		0x100000	/* 1 MiB */

enum vfiosim_dma_op {
	VFIOSIM_DMA_OP_COPY = 1,	/* LEN bytes from SRC to DST */
	VFIOSIM_DMA_OP_FILL = 2,	/* DST with PATTERN, little endian */
	VFIOSIM_DMA_OP_CSUM = 3,	/* CRC32C of SRC into RESULT */
};

enum vfiosim_dma_status {
	VFIOSIM_DMA_STATUS_IDLE = 0,
	VFIOSIM_DMA_STATUS_BUSY = 1,
	VFIOSIM_DMA_STATUS_DONE = 2,
	VFIOSIM_DMA_STATUS_ERR_UNMAPPED = 3,	/* an IOVA is not mapped */
	VFIOSIM_DMA_STATUS_ERR_PERM = 4,	/* mapped without READ/WRITE */
	VFIOSIM_DMA_STATUS_ERR_LEN = 5,		/* 0 or over VFIOSIM_DMA_MAX_LEN */
	VFIOSIM_DMA_STATUS_ERR_OP = 6,		/* not a VFIOSIM_DMA_OP_* */
	VFIOSIM_DMA_STATUS_ERR_ABORTED = 7,	/* by reset, unmap or close */
	VFIOSIM_DMA_STATUS_ERR_FAULT = 8,	/* mapped, but not reachable */
};

#define VFIOSIM_ID_MAGIC		0x5646534d	/* "VFSM" */
#define VFIOSIM_MODEL_VERSION		0x00010001	/* major << 16 | minor */

#define VFIOSIM_FEAT_INTX		_BITUL(0)
#define VFIOSIM_FEAT_MSI		_BITUL(1)
#define VFIOSIM_FEAT_MSIX		_BITUL(2)
#define VFIOSIM_FEAT_BAR2_MMAP		_BITUL(3)
#define VFIOSIM_FEAT_DMA		_BITUL(4)	/* the DMA engine */

/* MSI-X table and PBA, in BAR0 (BIR 0), where the MSI-X capability says. */
#define VFIOSIM_MSIX_TABLE_OFFSET	0x1000
#define VFIOSIM_MSIX_ENTRY_SIZE		16
#define VFIOSIM_MSIX_PBA_OFFSET		0x1800

/*
 * Registers past VFIOSIM_REG_END and below the MSI-X table read as 0 and
 * ignore writes.  An access may have any offset and length inside BAR0,
 * as on vfio-pci: it is split into naturally aligned 4, 2 and 1 byte
 * pieces, in address order, each one access to its register's bytes (an
 * 8-byte access is two 4-byte accesses, low dword first; 3 bytes at
 * offset 1 are a 1-byte then a 2-byte access).  A piece reads exactly the
 * register bytes it covers and writes exactly those, leaving the rest.
 *
 * Interrupt model.  The interrupt mode is the VFIO IRQ index that was
 * enabled by SET_IRQS (INTx, MSI or MSI-X; only one at a time, as in
 * vfio-pci).  The device's INTx condition is (IRQ_STATUS & ~IRQ_MASK)
 * bit 0, in every mode; PCI_STATUS.INTERRUPT shows it at all times.
 * Writing N to DOORBELL sets IRQ_STATUS bit N and then:
 *  - INTx: the line is asserted while the INTx condition holds and the
 *    config command register's INTx-disable bit is clear.  An assertion
 *    auto-masks and signals the trigger, if one is set; VFIO unmask
 *    signals again if the line is still asserted.  Clearing IRQ_STATUS
 *    deasserts the line.
 *  - MSI, MSI-X: vector N is signalled once, unless IRQ_MASK bit N is set or
 *    (MSI-X, vfio-user only) the vector is masked with
 *    VFIO_IRQ_SET_ACTION_MASK; it is then pending (shown in the PBA for
 *    MSI-X) and signalled when the last mask goes away.
 *
 * VFIO_DEVICE_SET_IRQS answers as vfio-pci (vfio_pci_intrs.c) does:
 *  - MSI and MSI-X are NORESIZE: the first eventfd request enables the mode
 *    with start + count vectors, and an eventfd for a vector past them is
 *    EINVAL until the mode is disabled (count 0, DATA_NONE).  When a block
 *    fails, its vectors up to the failing one are left with no trigger,
 *    and a mode that block enabled is disabled again.
 *  - A negative fd de-assigns an INTx, MSI or MSI-X trigger.  INTx with no
 *    trigger stays the mode (or becomes it): the line still works and
 *    auto-masks, it signals nobody; only count 0 disables INTx.
 *  - ERR and REQ: fd -1 de-assigns, another negative fd is EINVAL; DATA_NONE
 *    (loopback, or count 0 to de-assign) is EINVAL with no eventfd set.
 *  - DATA_NONE and DATA_BOOL triggers are loopback: the eventfds named are
 *    signalled past every device mask (INTx: unless INTx-disable is set)
 *    and nothing is left pending.
 *  - MASK and UNMASK exist for INTx (INTx must be enabled, else EINVAL)
 *    and, on the vfio-user (netlink) transport only, for MSI-X.  Through
 *    VFIO, MSI-X is not MASKABLE and MASK/UNMASK on it is ENOTTY, as on
 *    vfio-pci; over vfio-user VFIO_IRQ_INFO_MASKABLE is reported for MSI-X,
 *    because QEMU's vfio-user client (10.1+) then masks vectors on the
 *    server, which keeps the PBA it reads.
 *  - ERR has one vector: the device is PCI Express, for which vfio-pci
 *    offers ERR.
 * A doorbell for a vector the mode does not have (INTx has only vector 0),
 * or with no mode enabled, counts in DROPPED, latches nothing and signals
 * nothing.  IRQ_STATUS latches in every mode, so a bit 0 left set by an
 * MSI doorbell asserts INTx as soon as INTx is enabled.  The MSI-X table is plain storage:
 * under VFIO the VMM emulates it, so its vector-control bits do not mask.
 *
 * Reset (VFIO_DEVICE_RESET, vfio-user DEVICE_RESET, or Initiate FLR in the
 * PCI Express capability, once that config write is done) returns config
 * space and every register to its default and clears pending interrupts
 * and masks; eventfds stay registered, and BAR2 contents and mappings are
 * kept, as device memory survives a function reset.
 * Open and close, over any transport, are more: as vfio-pci resets the
 * function at open and at close, the device drops its eventfds and
 * interrupt state, resets every register and config space, and forgets
 * BAR2's contents (they read as zero), so that the next user never sees
 * the last one's.  The last user's BAR2 mappings are zapped at close and
 * raise SIGBUS from then on.  These resets do not count in
 * VFIOSIM_COUNTER_RESETS, which counts requested ones.
 */

/*
 * Migration (VFIO migration v2, kmod/migration.c).  VFIO_DEVICE_FEATURE_
 * MIGRATION reports VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P, plus
 * VFIO_MIGRATION_PRE_COPY on kernels whose VFIO core has it (6.2+), the
 * same over VFIO and vfio-user.  STOP and the P2P states quiesce the DMA
 * engine (a GO written then waits in go_pending for RUNNING).  Reset
 * (VFIO_DEVICE_RESET, vfio-user DEVICE_RESET, FLR) and close return the
 * migration state to RUNNING and end any data session.
 *
 * The stream, every field little endian, no padding:
 *   header (VFIOSIM_MIG_HEADER_SIZE): u32 magic VFIOSIM_MIG_MAGIC,
 *     u32 version VFIOSIM_MIG_VERSION, u32 device id, u32 BAR2 size,
 *     u32 page size (the host's), u32 MSI-X vectors of the type;
 *   then records: u32 tag (enum vfiosim_mig_tag), u32 length of the
 *     payload, the payload:
 *     PAGE    u64 BAR2 page number, then one page of BAR2 contents;
 *     CONFIG  all VFIOSIM_CONFIG_SIZE bytes of config space;
 *     REGS    u32 SCRATCH0..7, IRQ_STATUS, IRQ_MASK, COUNTER,
 *             DOORBELL_COUNT, DROPPED, then the MSI-X table (4 u32 per
 *             vector of the type);
 *     IRQ     u32 MSI-X vectors masked (vfio-user MASK), u32 vectors
 *             pending; the interrupt mode and eventfds are the
 *             destination VMM's (SET_IRQS) and are not in the stream;
 *     DMA     u64 SRC, DST, PATTERN, u32 LEN, OP, VECTOR, STATUS,
 *             RESULT, DONE_BYTES, COUNT, go_pending (0 or 1);
 *     END     u32 CRC-32 (IEEE 802.3, as zlib's crc32()) of every byte
 *             of the stream before this payload, END's tag and length
 *             included.  Nothing may follow.
 * PAGE records carry touched pages only (never-written pages read as
 * zero on both sides) and may come several times for one page (PRE_COPY
 * sends a page again once it is dirtied): the last one counts.  CONFIG,
 * REGS, IRQ and DMA come once each, after the PRE_COPY pages.
 *
 * The destination takes the stream in RESUMING and checks all of it on
 * the RESUMING -> STOP arc before it changes anything.  Refused, with the
 * device left exactly as it was and the state RESUMING:
 *   EINVAL   wrong magic, version, device id, BAR2 size, page size or
 *            vector count; an unknown tag, a wrong record length, a page
 *            past BAR2, a state record twice, bad field values; bytes
 *            after END (trailing);
 *   ENODATA  truncation: the stream ends inside the header or a record,
 *            or before END, or a state record is missing;
 *   EBADMSG  the END checksum does not match (a flipped byte).
 * Resuming replaces BAR2's contents: pages absent from the stream read as
 * zero afterwards.
 *
 * PRE_COPY: VFIO_MIG_GET_PRECOPY_INFO on the saving fd reports as
 * initial_bytes the bytes of the header and of the pages touched when
 * PRE_COPY began that are not read yet, and as dirty_bytes
 * VFIOSIM_MIG_PAGE_RECORD_SIZE for each BAR2 page written (region write
 * or mmap) since it was last read.  With both at zero a read fails with
 * ENOMSG.  BAR2 writes by an importer of a BAR2 dma-buf are not tracked.
 */
#define VFIOSIM_MIG_MAGIC		0x474d5356	/* "VSMG" */
#define VFIOSIM_MIG_VERSION		1
#define VFIOSIM_MIG_HEADER_SIZE		24
#define VFIOSIM_MIG_RECORD_HEADER_SIZE	8

enum vfiosim_mig_tag {
	VFIOSIM_MIG_TAG_PAGE = 1,
	VFIOSIM_MIG_TAG_CONFIG = 2,
	VFIOSIM_MIG_TAG_REGS = 3,
	VFIOSIM_MIG_TAG_IRQ = 4,
	VFIOSIM_MIG_TAG_DMA = 5,
	VFIOSIM_MIG_TAG_END = 0xffff,
};

/* Whole records, headers included. */
#define VFIOSIM_MIG_PAGE_RECORD_SIZE(page_size)	(8 + 8 + (page_size))
#define VFIOSIM_MIG_REGS_LEN(msix_vectors)	(13 * 4 + (msix_vectors) * 16)
#define VFIOSIM_MIG_IRQ_LEN		8
#define VFIOSIM_MIG_DMA_LEN		56
#define VFIOSIM_MIG_END_LEN		4

/*
 * Generic netlink family "vfiosim": vfio-user messages to the same devices.
 *
 * Every command, and joining the "events" group, needs CAP_SYS_ADMIN in
 * the initial user namespace, in the socket's opener and in the sender;
 * anyone else, a CAP_NET_ADMIN-only network daemon included, gets EPERM.
 * A netlink owner takes a device that VFIO hands out by file modes, so
 * the capability is the one that overrides them.
 *
 * Netlink-level failures (bad attributes, unknown device, not the owner)
 * are errnos with an extack message; failures of a vfio-user command are
 * vfio-user error replies inside a successful netlink reply.
 *
 * DEV_OPEN binds a device to the sending socket itself (not to its portid:
 * a new socket that takes the portid of a closed one owns nothing);
 * DEV_CLOSE or closing that socket unbinds it and releases every eventfd,
 * DMA mapping and reference the session held.  A device open through VFIO
 * answers DEV_OPEN with EBUSY and vice versa.  While a socket has a device
 * open the module is in use (rmmod fails with EBUSY at once), as with an
 * open VFIO device file.  OPENED and CLOSED events come in the order of
 * the owner changes, whichever transports the owners use.
 *
 * VFIO_USER carries one complete vfio-user message (header and payload, as
 * on a socket) in VFIOSIM_ATTR_MSG.  File descriptors travel as numbers in
 * the sender's file table in VFIOSIM_ATTR_FDS (an array of __s32): the
 * eventfds of DEVICE_SET_IRQS (exactly count of them; none de-assigns
 * the range, and a negative number one vector, with the rules of
 * VFIO_DEVICE_SET_IRQS above), the memory file of DMA_MAP
 * (none: a message-only mapping).  The reply
 * carries the vfio-user reply in VFIOSIM_ATTR_MSG, and an mmappable
 * region's fd, newly installed in the caller's table, in VFIOSIM_ATTR_FDS.
 * That region fd is mmap(2)ped at the region info's offsets and belongs
 * to the session that asked: once the session ends (DEV_CLOSE, socket
 * close, device removal) its mappings raise SIGBUS and a new mmap fails
 * with ENODEV, whoever owns the device next (it has no read or write:
 * EINVAL; data goes through REGION_READ/WRITE).  It does not keep the device:
 * the device can be removed and its UUID created again while it is open.
 * The fd is installed before the reply is queued, so any thread that reads
 * the reply finds it valid, and it is installed only once the reply is
 * sure to be queued: without room for it in the receive queue the
 * command fails with ENOBUFS and installs nothing, and if the queue is congested
 * (overflowed earlier and not drained yet) the command waits for room;
 * only a fatal signal ends that wait (the fd then goes with the dying
 * process).  A thread that let its queue overflow drains it before asking
 * for a region fd.
 * A command with VFIOSIM_USER_F_NO_REPLY gets no netlink reply at all.
 *
 * Each command has its own attribute policy (uapi/netlink/vfiosim.yaml):
 * a missing VFIOSIM_ATTR_DEV_UUID (or VFIOSIM_ATTR_MSG on VFIO_USER) is
 * EINVAL with the missing attribute named in the extack
 * (NLMSGERR_ATTR_MISS_TYPE); the policy refuses a VFIOSIM_ATTR_MSG
 * shorter than the vfio-user header (ERANGE) or longer than
 * VFIOSIM_USER_MAX_MSG (EINVAL), and VFIOSIM_ATTR_FDS or any other
 * attribute on a command that does not take it (EINVAL).  Inside
 * VFIO_USER, fds on a vfio-user command other than DEVICE_SET_IRQS and
 * DMA_MAP are an EINVAL error reply.
 *
 * The file of a DMA_MAP must be a memory file: a memfd, or a shmem (tmpfs)
 * or hugetlbfs file, as iommufd requires of the files it maps.  Any other
 * file (a socket, a VFIO device, a pipe, a file on disk) is refused with
 * an EBADFD error reply and is not kept.  REGION_WRITE_MULTI checks every
 * entry (region, offset, count) before it writes any: a batch with a bad
 * entry is an EINVAL error reply with nothing written.
 */
#define VFIOSIM_GENL_NAME		"vfiosim"
#define VFIOSIM_GENL_VERSION		1
#define VFIOSIM_GENL_MCGRP_EVENTS	"events"

enum vfiosim_cmd {
	VFIOSIM_CMD_UNSPEC,
	VFIOSIM_CMD_DEV_GET,	/* doit: one device by UUID; dumpit: all */
	VFIOSIM_CMD_DEV_OPEN,	/* bind the device to the sending socket */
	VFIOSIM_CMD_DEV_CLOSE,	/* unbind it */
	VFIOSIM_CMD_VFIO_USER,	/* one vfio-user message, answered by one */
	VFIOSIM_CMD_PING,	/* empty round trip: the floor of this path */
	VFIOSIM_CMD_EVENT,	/* multicast: a device lifecycle event */

	__VFIOSIM_CMD_MAX,
	VFIOSIM_CMD_MAX = __VFIOSIM_CMD_MAX - 1
};

enum vfiosim_attr {
	VFIOSIM_ATTR_UNSPEC,
	VFIOSIM_ATTR_DEV_UUID,		/* string, 36 characters */
	VFIOSIM_ATTR_DEV_TYPE,		/* string, e.g. "vfiosim-full" */
	VFIOSIM_ATTR_DEV_OWNER,		/* u32: enum vfiosim_owner */
	VFIOSIM_ATTR_DEV_OWNER_PORTID,	/* u32: netlink port of the owner */
	VFIOSIM_ATTR_DEV_COUNTERS,	/* nest: enum vfiosim_counter */
	VFIOSIM_ATTR_MSG,		/* binary: a whole vfio-user message */
	VFIOSIM_ATTR_FDS,		/* binary: __s32 fd numbers */
	VFIOSIM_ATTR_EVENT,		/* u32: enum vfiosim_event */
	VFIOSIM_ATTR_PAD,

	__VFIOSIM_ATTR_MAX,
	VFIOSIM_ATTR_MAX = __VFIOSIM_ATTR_MAX - 1
};

enum vfiosim_owner {
	VFIOSIM_OWNER_NONE,
	VFIOSIM_OWNER_VFIO,		/* a VFIO device fd is open */
	VFIOSIM_OWNER_NETLINK,		/* bound to a netlink socket */
};

/* Nested in VFIOSIM_ATTR_DEV_COUNTERS, each a u64 since creation. */
enum vfiosim_counter {
	VFIOSIM_COUNTER_UNSPEC,
	VFIOSIM_COUNTER_REGION_READS,
	VFIOSIM_COUNTER_REGION_WRITES,
	VFIOSIM_COUNTER_IRQS,		/* eventfd signals sent */
	VFIOSIM_COUNTER_RESETS,
	VFIOSIM_COUNTER_PAD,

	__VFIOSIM_COUNTER_MAX,
	VFIOSIM_COUNTER_MAX = __VFIOSIM_COUNTER_MAX - 1
};

enum vfiosim_event {
	VFIOSIM_EVENT_UNSPEC,
	VFIOSIM_EVENT_CREATED,
	VFIOSIM_EVENT_REMOVED,
	VFIOSIM_EVENT_OPENED,
	VFIOSIM_EVENT_CLOSED,
	VFIOSIM_EVENT_RESET,
};

/*
 * vfio-user, as the public specification defines it (QEMU's
 * docs/interop/vfio-user.rst), host endian.  Only what vfiosim speaks.
 */
struct vfiosim_user_header {
	__u16 msg_id;
	__u16 command;
	__u32 msg_size;		/* header included */
	__u32 flags;
	__u32 error_no;
};

#define VFIOSIM_USER_F_TYPE_MASK	0xf
#define VFIOSIM_USER_F_TYPE_COMMAND	0x0
#define VFIOSIM_USER_F_TYPE_REPLY	0x1
#define VFIOSIM_USER_F_NO_REPLY		0x10
#define VFIOSIM_USER_F_ERROR		0x20

enum vfiosim_user_command {
	VFIOSIM_USER_VERSION = 1,
	VFIOSIM_USER_DMA_MAP = 2,
	VFIOSIM_USER_DMA_UNMAP = 3,
	VFIOSIM_USER_DEVICE_GET_INFO = 4,
	VFIOSIM_USER_DEVICE_GET_REGION_INFO = 5,
	VFIOSIM_USER_DEVICE_GET_REGION_IO_FDS = 6,
	VFIOSIM_USER_DEVICE_GET_IRQ_INFO = 7,
	VFIOSIM_USER_DEVICE_SET_IRQS = 8,
	VFIOSIM_USER_REGION_READ = 9,
	VFIOSIM_USER_REGION_WRITE = 10,
	VFIOSIM_USER_DMA_READ = 11,
	VFIOSIM_USER_DMA_WRITE = 12,
	VFIOSIM_USER_DEVICE_RESET = 13,
	VFIOSIM_USER_REGION_WRITE_MULTI = 15,
	VFIOSIM_USER_DEVICE_FEATURE = 16,
	VFIOSIM_USER_MIG_DATA_READ = 17,
	VFIOSIM_USER_MIG_DATA_WRITE = 18,
};

/* VERSION payload: then NUL-terminated JSON {"capabilities":{...}}. */
struct vfiosim_user_version {
	__u16 major;
	__u16 minor;
	char data[];
};

/* REGION_READ/REGION_WRITE request and reply. */
struct vfiosim_user_region_access {
	__u64 offset;
	__u32 region;
	__u32 count;
	__u8 data[];
};

/* REGION_WRITE_MULTI: __u64 wr_cnt, then wr_cnt of these. */
struct vfiosim_user_write_multi_entry {
	__u64 offset;
	__u32 region;
	__u32 count;		/* 1..8 */
	__u8 data[8];
};

#define VFIOSIM_USER_WRITE_MULTI_MAX	256

struct vfiosim_user_dma_map {
	__u32 argsz;
	__u32 flags;		/* VFIO_DMA_MAP_FLAG_READ | _WRITE */
	__u64 offset;		/* in the fd */
	__u64 addr;		/* IOVA */
	__u64 size;
};

struct vfiosim_user_dma_unmap {
	__u32 argsz;
	__u32 flags;		/* VFIO_DMA_UNMAP_FLAG_ALL or 0 */
	__u64 addr;
	__u64 size;
};

/*
 * MIG_DATA_READ request {argsz, size} and reply {argsz, size, data};
 * MIG_DATA_WRITE request {argsz, size, data}, empty reply.  size is at
 * most VFIOSIM_USER_MAX_DATA_XFER.  DEVICE_FEATURE payloads are struct
 * vfio_device_feature with the feature's data; MIG_DEVICE_STATE's
 * data_fd is -1 (data moves with these messages instead).
 */
struct vfiosim_user_mig_data {
	__u32 argsz;
	__u32 size;
	__u8 data[];
};

/*
 * What the kernel side honours.  A netlink attribute holds at most 64 KiB,
 * so one message moves at most VFIOSIM_USER_MAX_DATA_XFER bytes of data.
 */
#define VFIOSIM_USER_VERSION_MAJOR	0
#define VFIOSIM_USER_VERSION_MINOR	1
#define VFIOSIM_USER_MAX_DATA_XFER	32768
/*
 * The largest message the kernel takes in VFIOSIM_ATTR_MSG: a REGION_WRITE
 * of VFIOSIM_USER_MAX_DATA_XFER bytes (16-byte header, 16-byte access).
 */
#define VFIOSIM_USER_MAX_MSG		32800
/*
 * max_msg_fds, for the kernel and vfiosim-userd alike: 16 is the most
 * QEMU's client accepts (VFIO_USER_MAX_MAX_FDS).  SET_IRQS of more vectors
 * comes in several messages with increasing start.
 */
#define VFIOSIM_USER_MAX_MSG_FDS	16
#define VFIOSIM_USER_MAX_DMA_MAPS	1024
/*
 * pgsizes: the host's page size (DMA_MAP addresses, offsets and sizes are
 * multiples of it); this is its value on 4 KiB-page hosts.
 */
#define VFIOSIM_USER_PGSIZES		4096

#endif /* _UAPI_LINUX_VFIOSIM_H */
