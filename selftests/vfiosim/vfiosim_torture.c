// SPDX-License-Identifier: GPL-2.0
/*
 * vfiosim_torture: random interleavings of every lifecycle path, from
 * several processes at once, for a bounded time.  make torture runs it in
 * a guest of the debug kernel (scripts/torture.sh), whose checkers
 * (KASAN, lockdep, kmemleak, UBSAN, debug objects) judge what the kernel
 * did; this program judges what userspace saw:
 *  - no worker dies of a signal nobody sent it, and none stops making
 *    progress for --hang-s seconds (its kernel stack is printed);
 *  - what the device promises holds under the races: a scratch register
 *    reads back what its owner wrote, ID reads VFIOSIM_ID_MAGIC, a
 *    netlink session's BAR2 mapping raises SIGBUS once the session
 *    ended, rmmod is refused while a device is open;
 *  - at the end every worker holds the file descriptors it started with,
 *    every device can be removed and none is left.
 * Races make many ops fail (a device removed under its user, owned by
 * another, a killed owner): those are counted per errno, not judged.
 *
 * Roles, one process each (--workers scales the user roles):
 *   lifecycle   create and remove the slot devices
 *   vfio, netlink  open a slot over that backend, random ops, close
 *               (or leave everything set up and close)
 *   killer      forks owners that run ops, SIGKILLs them at random points
 *   nl-close    a netlink owner whose socket is closed while its other
 *               thread sends requests
 *   rmmod       holds a device open over VFIO and tries to unload
 *   genl-fuzz   random commands, flags and attributes on the family
 *   vu-fuzz     mutated vfio-user messages to an owned device
 *
 * Prints "# ..." progress and a table of ops/s per kind, errnos seen and
 * what fired, then "torture: PASS" or "torture: FAIL (n)"; exit status 0
 * or 1.  The module must be loaded; the slot devices must not exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/pci_regs.h>

#include "vfiosim_util.h"

#define MAX_SLOTS	16
#define MAX_WORKERS	32
#define MAX_FAILS	16
#define DMA_IOVA	0x200000ULL
#define DMA_SIZE	0x10000
#define MIG_BUF		4096
#define TORTURE_UUID	"%08x-5654-4000-8000-%012x"
#define TORTURE_TAG	0x746f7274	/* "tort" */

enum kind {
	K_CREATE, K_REMOVE, K_OPEN_VFIO, K_OPEN_NETLINK, K_INFO, K_REGION,
	K_MMAP, K_SET_IRQS, K_DOORBELL, K_DMA, K_MIG, K_RESET, K_CLOSE,
	K_KILL, K_NL_CLOSE, K_RMMOD, K_GENL_FUZZ, K_VU_FUZZ, K_NR
};

static const char *const kind_name[K_NR] = {
	"create", "remove", "open vfio", "open netlink", "info", "region",
	"mmap touch", "set_irqs", "doorbell", "dma", "migration arc",
	"reset", "close", "sigkill owner", "nl close in flight",
	"rmmod while open", "genl fuzz", "vfio-user fuzz",
};

enum fired {
	F_SIGBUS, F_REQ, F_IRQ_SIGNALS, F_DMA_DONE, F_DMA_ERROR, F_MIG_BYTES,
	F_KILLED_LIVE, F_RMMOD_REFUSED, F_ABANDONED, F_FUZZ_NL_ERR,
	F_FUZZ_VU_ERR, F_FUZZ_VU_OK, F_FUZZ_FDS, F_REMOVE_WAITED, F_NR
};

static const char *const fired_name[F_NR] = {
	"SIGBUS on a mapping", "REQ (removal asked the owner to close)",
	"eventfd signals", "DMA transfers done", "DMA transfers failed",
	"migration stream bytes", "owners killed while running",
	"rmmod refused", "sessions closed with everything set up",
	"fuzz: netlink errors", "fuzz: vfio-user error replies",
	"fuzz: vfio-user success replies", "fuzz: fds received and closed",
	"removals that waited > 1 s for the owner",
};

struct kind_stats {
	uint64_t ops;
	uint64_t fails;
	uint64_t errnos;	/* bit e: errno e (< 64) was seen */
};

/* Shared by every process (MAP_SHARED): counters, heartbeats, failures. */
struct shared {
	volatile int stop;
	struct kind_stats k[K_NR];
	uint64_t fired[F_NR];
	uint64_t beat[MAX_WORKERS];
	int nfail;
	char fail[MAX_FAILS][256];
};

enum role {
	R_LIFECYCLE, R_VFIO, R_NETLINK, R_KILLER, R_NL_CLOSE, R_RMMOD,
	R_GENL_FUZZ, R_VU_FUZZ,
};

static const char *const role_name[] = {
	"lifecycle", "vfio", "netlink", "killer", "nl-close", "rmmod",
	"genl-fuzz", "vu-fuzz",
};

struct torture {
	unsigned int seconds;
	unsigned int hang_s;
	uint64_t seed;
	unsigned int workers;	/* per user role */
	unsigned int nslots;
	bool no_vfio_dma;	/* --no-vfio-dma: DMA only over netlink */
	char uuid[MAX_SLOTS][37];
	const char *type[MAX_SLOTS];
	struct shared *sh;
	/* This process. */
	int id;
	enum role role;
	uint64_t rng;
};

/* ---- small helpers ---- */

static uint64_t rnd(struct torture *t)
{
	/* xorshift64*: good enough to pick ops, and repeatable by seed. */
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int pick(struct torture *t, unsigned int n)
{
	return n ? (unsigned int)(rnd(t) % n) : 0;
}

static void add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static void fired(struct torture *t, enum fired f, uint64_t v)
{
	add(&t->sh->fired[f], v);
}

/* Account one op of kind k whose result is ret (0 or more ok, -errno). */
static long count(struct torture *t, enum kind k, long ret)
{
	struct kind_stats *s = &t->sh->k[k];

	add(&s->ops, 1);
	if (ret < 0) {
		add(&s->fails, 1);
		if (-ret < 64)
			__atomic_or_fetch(&s->errnos, 1ULL << -ret,
					  __ATOMIC_RELAXED);
	}
	if (t->id >= 0)
		add(&t->sh->beat[t->id], 1);
	return ret;
}

static void tfail(struct torture *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tfail(struct torture *t, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = __atomic_fetch_add(&t->sh->nfail, 1, __ATOMIC_RELAXED);
	if (n < MAX_FAILS)
		snprintf(t->sh->fail[n], sizeof(t->sh->fail[n]), "%s[%d]: %s",
			 t->id >= 0 ? role_name[t->role] : "main", t->id, msg);
	fprintf(stderr, "# FAIL %s[%d]: %s\n",
		t->id >= 0 ? role_name[t->role] : "main", t->id, msg);
}

static bool stopping(struct torture *t)
{
	return __atomic_load_n(&t->sh->stop, __ATOMIC_RELAXED);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Open file descriptors of this process, from /proc/self/fd. */
static int fd_count(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static void fd_list(FILE *out)
{
	char path[300], target[256];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	ssize_t n;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(out, "#   fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

/* ---- guarded touches of a mapping ---- */

static sigjmp_buf touch_env;
static volatile sig_atomic_t touching;

static void on_sigbus(int sig)
{
	if (!touching) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(touch_env, 1);
}

/* 0 if the access worked, SIGBUS if it faulted. */
static int touch(volatile uint64_t *addr, bool write)
{
	int ret = 0;

	touching = 1;
	if (sigsetjmp(touch_env, 1))
		ret = SIGBUS;
	else if (write)
		*addr = 0x5654000000000000ULL | (uintptr_t)addr;
	else
		(void)*addr;
	touching = 0;
	return ret;
}

/* ---- one owner's session on a device ---- */

struct session {
	struct vfiosim_dev *dev;
	bool netlink;
	uint32_t msi, msix;	/* vectors of this model */
	int irq_index;		/* enabled index, or -1 */
	int efd[VFIOSIM_MAX_VECTORS];
	uint32_t nefd;
	int req_fd;		/* REQ trigger, or -1 */
	void *map;		/* BAR2 sparse area */
	size_t map_len;
	struct dma_mem mem;
	bool dma_mapped;
	uint8_t *mig;		/* a saved stream, to resume from */
	size_t mig_len;
};

static void session_irqs_off(struct session *s)
{
	if (s->irq_index >= 0 && s->dev)
		irq_disable(s->dev, (uint32_t)s->irq_index);
	s->irq_index = -1;
	efd_close_all(s->efd, s->nefd);
	s->nefd = 0;
}

static int session_open(struct torture *t, struct session *s, bool netlink,
			unsigned int slot)
{
	char spec[64];
	uint32_t vectors;
	int ret;

	memset(s, 0, sizeof(*s));
	s->irq_index = -1;
	s->req_fd = -1;
	s->mem.fd = -1;
	s->netlink = netlink;
	s->dev = vfiosim_dev_alloc();
	if (!s->dev)
		return -ENOMEM;
	snprintf(spec, sizeof(spec), "%s:%s", netlink ? "netlink" : "vfio",
		 t->uuid[slot]);
	ret = vfiosim_dev_open(s->dev, spec);
	count(t, netlink ? K_OPEN_NETLINK : K_OPEN_VFIO, ret);
	if (ret) {
		vfiosim_dev_free(s->dev);
		s->dev = NULL;
		return ret;
	}
	if (bar0_read(s->dev, VFIOSIM_REG_VECTORS, &vectors) == 0) {
		s->msi = vectors >> 16;
		s->msix = vectors & 0xffff;
	}
	if (s->msi > VFIOSIM_MAX_VECTORS)
		s->msi = VFIOSIM_MAX_VECTORS;
	if (s->msix > VFIOSIM_MAX_VECTORS)
		s->msix = VFIOSIM_MAX_VECTORS;
	/* A VMM's REQ handler: removal asks, the owner closes. */
	s->req_fd = efd_new();
	if (s->req_fd >= 0 &&
	    irq_enable(s->dev, VFIO_PCI_REQ_IRQ_INDEX, &s->req_fd, 1)) {
		close(s->req_fd);
		s->req_fd = -1;
	}
	return 0;
}

/* REQ fired: the device is being removed, close now. */
static bool session_asked_to_close(struct torture *t, struct session *s)
{
	uint64_t v;

	if (s->req_fd < 0 || read(s->req_fd, &v, sizeof(v)) != sizeof(v))
		return false;
	fired(t, F_REQ, 1);
	return true;
}

/*
 * End the session.  tidy: tear down in order, as a careful VMM does;
 * otherwise close with IRQs, DMA and the mapping still set up, and unmap
 * afterwards (VFIO: the mapping holds the device until then).
 */
static void session_close(struct torture *t, struct session *s, bool tidy)
{
	if (!s->dev)
		return;
	if (tidy) {
		session_irqs_off(s);
		if (s->dma_mapped)
			vfiosim_dma_unmap(s->dev, DMA_IOVA, DMA_SIZE, 0);
		if (s->map)
			munmap(s->map, s->map_len);
		s->map = NULL;
	} else {
		fired(t, F_ABANDONED, 1);
	}
	vfiosim_dev_close(s->dev);
	count(t, K_CLOSE, 0);
	if (s->map) {
		/* A netlink session's mapping dies with the session. */
		if (s->netlink) {
			if (touch(s->map, false) != SIGBUS)
				tfail(t, "netlink BAR2 mapping still works after the session was closed");
			else
				fired(t, F_SIGBUS, 1);
		}
		munmap(s->map, s->map_len);
		s->map = NULL;
	}
	s->irq_index = -1;	/* the close tore them down */
	session_irqs_off(s);
	if (s->req_fd >= 0)
		close(s->req_fd);
	s->req_fd = -1;
	dma_mem_free(&s->mem);
	free(s->mig);
	s->mig = NULL;
	vfiosim_dev_free(s->dev);
	s->dev = NULL;
}

static void op_info(struct torture *t, struct session *s)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	struct vfio_region_info *ri;
	int ret;

	switch (pick(t, 3)) {
	case 0:
		count(t, K_INFO, vfiosim_get_device_info(s->dev, &di));
		break;
	case 1:
		ret = region_info_get(s->dev, pick(t, VFIO_PCI_NUM_REGIONS + 1),
				      &ri);
		if (!ret)
			free(ri);
		count(t, K_INFO, ret);
		break;
	default:
		ii.index = pick(t, VFIO_PCI_NUM_IRQS + 1);
		count(t, K_INFO, vfiosim_get_irq_info(s->dev, &ii));
		break;
	}
}

static void op_region(struct torture *t, struct session *s)
{
	uint32_t reg, mine, seen;
	uint64_t v;
	int ret;

	switch (pick(t, 5)) {
	case 0:	/* scratch: only the owner writes it, so it reads back */
		reg = VFIOSIM_REG_SCRATCH(pick(t, 8));
		mine = (uint32_t)rnd(t);
		ret = bar0_write(s->dev, reg, mine);
		if (!ret) {
			ret = bar0_read(s->dev, reg, &seen);
			if (!ret && seen != mine)
				tfail(t, "%s: SCRATCH %#x read %#x after writing %#x",
				      vfiosim_dev_backend(s->dev), reg, seen,
				      mine);
		}
		count(t, K_REGION, ret);
		break;
	case 1:
		ret = bar0_read(s->dev, VFIOSIM_REG_ID, &seen);
		if (!ret && seen != VFIOSIM_ID_MAGIC)
			tfail(t, "%s: ID read %#x", vfiosim_dev_backend(s->dev),
			      seen);
		count(t, K_REGION, ret);
		break;
	case 2:	/* any offset and size of config space */
		count(t, K_REGION,
		      region_read_le(s->dev, VFIO_PCI_CONFIG_REGION_INDEX,
				     pick(t, VFIOSIM_CONFIG_SIZE - 8),
				     1 + pick(t, 8), &v));
		break;
	case 3:	/* BAR0 anywhere, or past its end */
		count(t, K_REGION,
		      region_read_le(s->dev, VFIO_PCI_BAR0_REGION_INDEX,
				     pick(t, VFIOSIM_BAR0_SIZE + 16),
				     1 + pick(t, 8), &v));
		break;
	default: /* memory decode off, then on: mappings zap and come back */
		ret = cfg_write(s->dev, PCI_COMMAND, 2, 0);
		if (!ret && s->map && touch(s->map, false) == SIGBUS)
			fired(t, F_SIGBUS, 1);
		ret = ret ?: cfg_write(s->dev, PCI_COMMAND, 2,
				       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		count(t, K_REGION, ret);
		break;
	}
}

static void op_mmap(struct torture *t, struct session *s)
{
	uint64_t off, size;
	int ret, sig;

	if (!s->map) {
		ret = bar2_sparse_area(s->dev, &off, &size);
		if (!ret)
			ret = vfiosim_region_mmap(s->dev,
						  VFIO_PCI_BAR2_REGION_INDEX,
						  off, size,
						  PROT_READ | PROT_WRITE,
						  &s->map);
		if (ret) {
			s->map = NULL;
			count(t, K_MMAP, ret);
			return;
		}
		s->map_len = size;
	}
	if (pick(t, 8) == 0) {
		munmap(s->map, s->map_len);
		s->map = NULL;
		count(t, K_MMAP, 0);
		return;
	}
	sig = touch((volatile uint64_t *)((uint8_t *)s->map +
		    (pick(t, (unsigned int)(s->map_len / 8)) * 8)),
		    pick(t, 2));
	if (sig)
		fired(t, F_SIGBUS, 1);
	count(t, K_MMAP, sig ? -EFAULT : 0);
}

static void op_set_irqs(struct torture *t, struct session *s)
{
	static const uint32_t idx[] = {
		VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
		VFIO_PCI_MSIX_IRQ_INDEX,
	};
	uint32_t index = idx[pick(t, 3)], n;
	int ret;

	switch (pick(t, 4)) {
	case 0:
		session_irqs_off(s);
		count(t, K_SET_IRQS, 0);
		return;
	case 1:	/* mask or unmask a vector range */
		if (s->irq_index < 0)
			return;
		count(t, K_SET_IRQS,
		      irq_action(s->dev, (uint32_t)s->irq_index,
				 pick(t, 2) ? VFIO_IRQ_SET_ACTION_MASK :
				 VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
		return;
	default:
		break;
	}
	session_irqs_off(s);
	n = index == VFIO_PCI_INTX_IRQ_INDEX ? 1 :
	    1 + pick(t, index == VFIO_PCI_MSI_IRQ_INDEX ? s->msi : s->msix);
	if (n > VFIOSIM_MAX_VECTORS)
		n = VFIOSIM_MAX_VECTORS;
	ret = irq_enable_new(s->dev, index, s->efd, n);
	if (!ret) {
		s->irq_index = (int)index;
		s->nefd = n;
	}
	count(t, K_SET_IRQS, ret);
}

static void op_doorbell(struct torture *t, struct session *s)
{
	uint32_t i, n = 1 + pick(t, 8);
	uint64_t v;
	int ret = 0;

	for (i = 0; i < n && !ret; i++)
		ret = ring_doorbell(s->dev, pick(t, s->nefd ? s->nefd : 4));
	if (s->irq_index == VFIO_PCI_INTX_IRQ_INDEX && pick(t, 2))
		bar0_write(s->dev, VFIOSIM_REG_IRQ_STATUS, ~0u);
	for (i = 0; i < s->nefd; i++)
		if (read(s->efd[i], &v, sizeof(v)) == sizeof(v))
			fired(t, F_IRQ_SIGNALS, v);
	if (s->irq_index == VFIO_PCI_INTX_IRQ_INDEX)
		irq_action(s->dev, VFIO_PCI_INTX_IRQ_INDEX,
			   VFIO_IRQ_SET_ACTION_UNMASK, 0, 1);
	count(t, K_DOORBELL, ret);
}

static void op_dma(struct torture *t, struct session *s)
{
	uint32_t status, len;
	int ret;

	if (!s->dma_mapped) {
		if (s->mem.fd < 0) {
			ret = dma_mem_new(&s->mem, DMA_SIZE);
			if (ret) {
				dma_mem_free(&s->mem);
				count(t, K_DMA, ret);
				return;
			}
		}
		ret = dma_mem_map(s->dev, &s->mem, DMA_IOVA, 0, DMA_SIZE,
				  VFIO_DMA_MAP_FLAG_READ |
				  VFIO_DMA_MAP_FLAG_WRITE);
		count(t, K_DMA, ret);
		if (ret)
			return;
		s->dma_mapped = true;
	}
	len = 1 + pick(t, DMA_SIZE / 2);
	ret = dma_go(s->dev, DMA_IOVA + pick(t, DMA_SIZE / 2),
		     DMA_IOVA + pick(t, DMA_SIZE / 2), len,
		     VFIOSIM_DMA_OP_COPY + pick(t, 3), rnd(t),
		     pick(t, s->nefd ? s->nefd : 1));
	if (ret) {
		count(t, K_DMA, ret);
		return;
	}
	switch (pick(t, 4)) {
	case 0:	/* unmap under the running engine: it must abort cleanly */
		ret = vfiosim_dma_unmap(s->dev, DMA_IOVA, DMA_SIZE, 0);
		if (!ret)
			s->dma_mapped = false;
		break;
	case 1:	/* reset under it */
		ret = vfiosim_reset(s->dev);
		break;
	default:
		status = dma_status_wait(s->dev, 200);
		if (status == VFIOSIM_DMA_STATUS_DONE)
			fired(t, F_DMA_DONE, 1);
		else if (status != VFIOSIM_DMA_STATUS_BUSY)
			fired(t, F_DMA_ERROR, 1);
		break;
	}
	count(t, K_DMA, ret);
}

static void op_mig(struct torture *t, struct session *s)
{
	static const uint32_t states[] = {
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_RUNNING_P2P,
		VFIO_DEVICE_STATE_ERROR,
	};
	uint32_t state = 0;
	uint8_t *buf;
	ssize_t n;
	int ret;

	ret = vfiosim_mig_set_state(s->dev, states[pick(t, 7)]);
	if (ret || vfiosim_mig_get_state(s->dev, &state)) {
		count(t, K_MIG, ret ?: -EIO);
		return;
	}
	if (state == VFIO_DEVICE_STATE_STOP_COPY ||
	    state == VFIO_DEVICE_STATE_PRE_COPY) {
		buf = realloc(s->mig, MIG_BUF);
		if (!buf) {
			count(t, K_MIG, -ENOMEM);
			return;
		}
		s->mig = buf;
		n = vfiosim_mig_read(s->dev, s->mig, MIG_BUF);
		s->mig_len = n > 0 ? (size_t)n : 0;
		if (n > 0)
			fired(t, F_MIG_BYTES, (uint64_t)n);
		ret = n < 0 ? (int)n : 0;
	} else if (state == VFIO_DEVICE_STATE_RESUMING && s->mig_len) {
		/* A partial stream, maybe damaged: STOP must refuse it. */
		if (pick(t, 2))
			s->mig[pick(t, (unsigned int)s->mig_len)] ^= 0xff;
		n = vfiosim_mig_write(s->dev, s->mig, s->mig_len);
		ret = n < 0 ? (int)n : 0;
		if (n > 0)
			fired(t, F_MIG_BYTES, (uint64_t)n);
	}
	count(t, K_MIG, ret);
}

static void op_reset(struct torture *t, struct session *s)
{
	if (pick(t, 2))
		count(t, K_RESET, vfiosim_reset(s->dev));
	else	/* Function Level Reset through the PCIe capability */
		count(t, K_RESET,
		      cfg_write(s->dev, VFIOSIM_CFG_EXP_CAP + PCI_EXP_DEVCTL,
				2, PCI_EXP_DEVCTL_BCR_FLR));
}

/* Up to nops random ops; false if the owner was asked to close. */
static bool session_run(struct torture *t, struct session *s,
			unsigned int nops)
{
	unsigned int i;

	for (i = 0; i < nops && !stopping(t); i++) {
		if (session_asked_to_close(t, s))
			return false;
		switch (pick(t, 16)) {
		case 0:
			op_info(t, s);
			break;
		case 1: case 2: case 3: case 4:
			op_region(t, s);
			break;
		case 5: case 6:
			op_mmap(t, s);
			break;
		case 7: case 8:
			op_set_irqs(t, s);
			break;
		case 9: case 10:
			op_doorbell(t, s);
			break;
		case 11: case 12:
			if (!s->netlink && t->no_vfio_dma)
				break;
			op_dma(t, s);
			break;
		case 13: case 14:
			op_mig(t, s);
			break;
		default:
			op_reset(t, s);
			break;
		}
	}
	return true;
}

/* ---- raw generic netlink, for the fuzzers and nl-close ---- */

struct gnl {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t seq;
};

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static void gnl_close(struct gnl *g)
{
	if (g->nl)
		mnl_socket_close(g->nl);
	g->nl = NULL;
}

static int gnl_open(struct gnl *g)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct genlmsghdr *gh;
	struct nlmsghdr *nlh;
	ssize_t n;
	int ret;

	g->family = 0;
	g->nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!g->nl)
		return -errno;
	if (mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++g->seq;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = CTRL_CMD_GETFAMILY;
	gh->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VFIOSIM_GENL_NAME);
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		goto err;
	n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
	if (n < 0)
		goto err;
	ret = mnl_cb_run(buf, (size_t)n, g->seq,
			 mnl_socket_get_portid(g->nl), family_cb, &g->family);
	if (ret < 0 || !g->family) {
		errno = ENOENT;
		goto err;
	}
	return 0;
err:
	ret = -errno;
	gnl_close(g);
	return ret;
}

/* A request header for family command cmd into buf. */
static struct nlmsghdr *gnl_msg(struct gnl *g, void *buf, uint8_t cmd,
				uint16_t flags, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *gh;

	nlh->nlmsg_type = g->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++g->seq;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = version;
	return nlh;
}

/*
 * Read every answer queued on the socket without blocking: count them,
 * and close every fd a reply installed (a region fd), as a client must.
 */
static void gnl_drain(struct torture *t, struct gnl *g)
{
	static uint8_t buf[65536];
	const struct nlmsghdr *nlh;
	const struct nlattr *a;
	const int32_t *fds;
	ssize_t n;
	size_t i;
	int len;

	for (;;) {
		n = recv(mnl_socket_get_fd(g->nl), buf, sizeof(buf),
			 MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS)
			continue;	/* overflowed: what is left still counts */
		if (n <= 0)
			return;
		len = (int)n;
		for (nlh = (void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e =
					mnl_nlmsg_get_payload(nlh);

				if (e->error)
					fired(t, F_FUZZ_NL_ERR, 1);
				continue;
			}
			if (nlh->nlmsg_type != g->family)
				continue;
			mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
				if (mnl_attr_get_type(a) == VFIOSIM_ATTR_MSG &&
				    mnl_attr_get_payload_len(a) >=
				    sizeof(struct vfiosim_user_header)) {
					const struct vfiosim_user_header *h =
						mnl_attr_get_payload(a);

					fired(t, h->flags & VFIOSIM_USER_F_ERROR ?
					      F_FUZZ_VU_ERR : F_FUZZ_VU_OK, 1);
				}
				if (mnl_attr_get_type(a) != VFIOSIM_ATTR_FDS)
					continue;
				fds = mnl_attr_get_payload(a);
				for (i = 0; i < mnl_attr_get_payload_len(a) / 4;
				     i++) {
					if (fds[i] > 2)
						close(fds[i]);
					fired(t, F_FUZZ_FDS, 1);
				}
			}
		}
	}
}

static int gnl_send(struct gnl *g, struct nlmsghdr *nlh)
{
	return mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* DEV_OPEN of a slot on g's socket; 0 or -errno (from the ACK). */
static int gnl_dev_open(struct torture *t, struct gnl *g, unsigned int slot)
{
	char buf[512];
	struct nlmsghdr *nlh = gnl_msg(g, buf, VFIOSIM_CMD_DEV_OPEN,
				       NLM_F_ACK, VFIOSIM_GENL_VERSION);
	ssize_t n;

	mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, t->uuid[slot]);
	if (gnl_send(g, nlh))
		return -errno;
	n = mnl_socket_recvfrom(g->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, 0, 0, NULL, NULL) < 0 ? -errno : 0;
}

/*
 * A vfio-user command for the fuzzer into m (room for max bytes): a
 * plausible payload for a random command, then (often) damaged.  Returns
 * its length; *want_fds says what FDS the command takes.
 */
static size_t vu_fuzz_msg(struct torture *t, uint8_t *m, size_t max,
			  uint16_t id, int *want_fds)
{
	struct vfiosim_user_header *h = (void *)m;
	struct vfiosim_user_region_access *ra = (void *)(h + 1);
	uint32_t *w = (uint32_t *)(h + 1);
	size_t len = sizeof(*h), i, body;
	uint16_t cmd = 1 + pick(t, VFIOSIM_USER_MIG_DATA_WRITE + 1);

	memset(m, 0, max);
	*want_fds = 0;
	body = pick(t, 4) ? 8 * (1 + pick(t, 8)) : pick(t, 600);
	if (sizeof(*h) + body > max)
		body = max - sizeof(*h);
	for (i = 0; i < body / 4; i++)	/* small numbers: argsz, index... */
		w[i] = pick(t, 4) ? pick(t, 64) : (uint32_t)rnd(t);
	if (cmd == VFIOSIM_USER_REGION_READ || cmd == VFIOSIM_USER_REGION_WRITE) {
		ra->region = pick(t, VFIO_PCI_NUM_REGIONS + 1);
		ra->offset = pick(t, 2) ? pick(t, 0x100) : rnd(t);
		ra->count = 1 + pick(t, 8);
		if (body < sizeof(*ra) + ra->count)
			body = sizeof(*ra) + ra->count;
	} else if (cmd == VFIOSIM_USER_DEVICE_GET_REGION_INFO && body >= 32) {
		/* Often well formed: BAR2's reply carries its mmap fd. */
		w[0] = 32 + pick(t, 64);
		w[2] = pick(t, VFIO_PCI_NUM_REGIONS);
	} else if (cmd == VFIOSIM_USER_DEVICE_SET_IRQS) {
		*want_fds = pick(t, 3);
	} else if (cmd == VFIOSIM_USER_DMA_MAP) {
		*want_fds = pick(t, 2);
	}
	len += body;
	h->msg_id = id;
	h->command = cmd;
	h->msg_size = (uint32_t)len;
	h->flags = pick(t, 16) ? VFIOSIM_USER_F_TYPE_COMMAND : (uint32_t)rnd(t);
	/* Damage: a flipped byte, a lying size, or neither. */
	switch (pick(t, 4)) {
	case 0:
		m[pick(t, (unsigned int)len)] ^= (uint8_t)(1 + pick(t, 255));
		break;
	case 1:
		h->msg_size = pick(t, 2) ? (uint32_t)rnd(t) :
			      (uint32_t)len + pick(t, 16) - 8;
		break;
	default:
		break;
	}
	return len;
}

/* ---- roles ---- */

static void role_lifecycle(struct torture *t)
{
	char err[256];
	unsigned int slot;
	double t0;
	int ret;

	while (!stopping(t)) {
		slot = pick(t, t->nslots);
		if (pick(t, 2)) {
			ret = vfiosim_mdev_create(t->type[slot], t->uuid[slot],
						  err, sizeof(err));
			count(t, K_CREATE, ret);
		} else {
			t0 = now_s();
			ret = vfiosim_mdev_remove(t->uuid[slot], err,
						  sizeof(err));
			count(t, K_REMOVE, ret);
			if (now_s() - t0 > 1)
				fired(t, F_REMOVE_WAITED, 1);
		}
		sleep_ms(pick(t, 20));
	}
}

static void role_user(struct torture *t, bool netlink)
{
	struct session s;
	bool asked;

	while (!stopping(t)) {
		if (session_open(t, &s, netlink, pick(t, t->nslots))) {
			sleep_ms(pick(t, 5));
			continue;
		}
		asked = !session_run(t, &s, 1 + pick(t, 60));
		session_close(t, &s, asked || pick(t, 4));
	}
}

/* A killer's child: an owner of either backend, never tidy. */
static void __attribute__((noreturn)) doomed_owner(struct torture *t)
{
	struct session s;
	char err[256];

	for (;;) {
		if (pick(t, 10) == 0) {	/* maybe our own device */
			vfiosim_mdev_remove(t->uuid[pick(t, t->nslots)], err,
					    sizeof(err));
			continue;
		}
		if (session_open(t, &s, pick(t, 2), pick(t, t->nslots))) {
			sleep_ms(1);
			continue;
		}
		session_run(t, &s, 1000);
		session_close(t, &s, false);
	}
}

static void role_killer(struct torture *t)
{
	int status;
	pid_t pid;

	while (!stopping(t)) {
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			count(t, K_KILL, -errno);
			sleep_ms(100);
			continue;
		}
		if (!pid) {
			t->rng ^= (uint64_t)getpid() << 32;
			t->id = -1;	/* no heartbeat of its own */
			doomed_owner(t);
		}
		sleep_ms(pick(t, 300));
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid) {
			count(t, K_KILL, -errno);
			continue;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			fired(t, F_KILLED_LIVE, 1);
		else
			tfail(t, "owner %d ended with status %#x before SIGKILL",
			      (int)pid, status);
		count(t, K_KILL, 0);
	}
}

struct nl_sender {
	struct gnl *g;
	const char *uuid;
	int fd;
};

/* Requests, as fast as they go, until the socket is gone under us. */
static void *nl_sender_run(void *arg)
{
	struct nl_sender *ns = arg;
	char buf[512];
	struct vfiosim_user_header h = {
		.command = VFIOSIM_USER_REGION_READ,
		.msg_size = sizeof(h) + sizeof(struct vfiosim_user_region_access),
	};
	struct vfiosim_user_region_access ra = {
		.region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4,
	};
	uint8_t msg[sizeof(h) + sizeof(ra)];
	struct nlmsghdr *nlh;
	unsigned int i;

	for (i = 0; i < 10000; i++) {
		h.msg_id = (uint16_t)i;
		memcpy(msg, &h, sizeof(h));
		memcpy(msg + sizeof(h), &ra, sizeof(ra));
		nlh = gnl_msg(ns->g, buf, VFIOSIM_CMD_VFIO_USER, 0,
			      VFIOSIM_GENL_VERSION);
		mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID, ns->uuid);
		mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, sizeof(msg), msg);
		if (send(ns->fd, nlh, nlh->nlmsg_len, 0) < 0)
			break;
	}
	return NULL;
}

static void role_nl_close(struct torture *t)
{
	struct nl_sender ns = { 0 };
	struct gnl g = { 0 };
	pthread_t th;
	unsigned int slot;
	int ret;

	while (!stopping(t)) {
		ret = gnl_open(&g);
		if (ret) {
			count(t, K_NL_CLOSE, ret);
			sleep_ms(100);
			continue;
		}
		slot = pick(t, t->nslots);
		ret = gnl_dev_open(t, &g, slot);
		if (ret) {
			count(t, K_NL_CLOSE, ret);
			gnl_close(&g);
			sleep_ms(pick(t, 10));
			continue;
		}
		ns.g = &g;
		ns.uuid = t->uuid[slot];
		ns.fd = mnl_socket_get_fd(g.nl);
		if (pthread_create(&th, NULL, nl_sender_run, &ns)) {
			count(t, K_NL_CLOSE, -EAGAIN);
			gnl_close(&g);
			continue;
		}
		sleep_ms(pick(t, 30));
		/*
		 * Closed while the sender is inside sendmsg: the socket is
		 * released (the session with it) as that request returns,
		 * and the sender's next send fails with EBADF.
		 */
		gnl_close(&g);
		pthread_join(th, NULL);
		count(t, K_NL_CLOSE, 0);
	}
}

static void role_rmmod(struct torture *t)
{
	struct session s;
	unsigned int slot;
	int ret;

	while (!stopping(t)) {
		slot = pick(t, t->nslots);
		if (session_open(t, &s, false, slot)) {
			sleep_ms(5);
			continue;
		}
		ret = syscall(SYS_delete_module, VFIOSIM_NAME, O_NONBLOCK) ?
		      -errno : 0;
		if (!ret) {
			tfail(t, "rmmod %s succeeded while vfio:%s was open",
			      VFIOSIM_NAME, t->uuid[slot]);
			t->sh->stop = 1;
		} else if (ret == -EWOULDBLOCK || ret == -EBUSY) {
			fired(t, F_RMMOD_REFUSED, 1);
			ret = 0;
		}
		count(t, K_RMMOD, ret);
		session_run(t, &s, pick(t, 4));
		session_close(t, &s, true);
		sleep_ms(pick(t, 50));
	}
}

/* Random fds for an FDS attribute: ours, another kind, or no fd at all. */
static unsigned int fuzz_fds(struct torture *t, int32_t *out,
			     const int *pool, unsigned int npool)
{
	unsigned int i, n = 1 + pick(t, 4);

	for (i = 0; i < n; i++) {
		switch (pick(t, 6)) {
		case 0:
			out[i] = -1;
			break;
		case 1:
			out[i] = (int32_t)(1000 + pick(t, 1000));
			break;
		default:
			out[i] = pool[pick(t, npool)];
			break;
		}
	}
	return n;
}

static void role_fuzz(struct torture *t, bool vu)
{
	static uint8_t buf[VFIOSIM_USER_MAX_MSG + 4096];
	uint8_t msg[2048];
	struct gnl g = { 0 };
	struct nlmsghdr *nlh;
	int32_t fds[8];
	int pool[4], want, ret;
	unsigned int i, k, n, slot = 0;
	uint16_t id = 0;
	size_t len, j;

	pool[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pool[1] = memfd_create("vfiosim-fuzz", MFD_CLOEXEC);
	if (pool[1] >= 0 && ftruncate(pool[1], DMA_SIZE))
		tfail(t, "memfd: %s", strerror(errno));
	pool[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
	pool[3] = eventfd(0, EFD_CLOEXEC);

	while (!stopping(t)) {
		if (!g.nl) {
			ret = gnl_open(&g);
			if (ret) {
				count(t, vu ? K_VU_FUZZ : K_GENL_FUZZ, ret);
				sleep_ms(100);
				continue;
			}
			slot = pick(t, t->nslots);
			if (vu)
				count(t, K_VU_FUZZ, gnl_dev_open(t, &g, slot));
		}
		for (k = 0; k < 50 && !stopping(t); k++) {
			if (vu) {
				nlh = gnl_msg(&g, buf, VFIOSIM_CMD_VFIO_USER,
					      0, VFIOSIM_GENL_VERSION);
				mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID,
						  t->uuid[slot]);
				len = vu_fuzz_msg(t, msg, sizeof(msg), id++,
						  &want);
				mnl_attr_put(nlh, VFIOSIM_ATTR_MSG, len, msg);
				if (want) {
					n = fuzz_fds(t, fds, pool, 4);
					mnl_attr_put(nlh, VFIOSIM_ATTR_FDS,
						     n * 4, fds);
				}
			} else {
				nlh = gnl_msg(&g, buf,
					      (uint8_t)pick(t, VFIOSIM_CMD_MAX + 3),
					      (pick(t, 2) ? NLM_F_ACK : 0) |
					      (pick(t, 6) ? 0 : NLM_F_DUMP),
					      (uint8_t)pick(t, 3));
				n = pick(t, 5);
				for (i = 0; i < n; i++) {
					uint16_t type = (uint16_t)pick(t, VFIOSIM_ATTR_MAX + 3);

					if (pick(t, 3) == 0)
						mnl_attr_put_strz(nlh, VFIOSIM_ATTR_DEV_UUID,
								  t->uuid[pick(t, t->nslots)]);
					else if (type == VFIOSIM_ATTR_FDS)
						mnl_attr_put(nlh, type,
							     4 * fuzz_fds(t, fds, pool, 4),
							     fds);
					else if (type == VFIOSIM_ATTR_MSG)
						mnl_attr_put(nlh, type,
							     vu_fuzz_msg(t, msg, sizeof(msg),
									 id++, &want),
							     msg);
					else {
						len = pick(t, 48);
						for (j = 0; j < len; j++)
							msg[j] = (uint8_t)rnd(t);
						mnl_attr_put(nlh, type | (pick(t, 8) ? 0 : NLA_F_NESTED),
							     len, msg);
					}
				}
			}
			count(t, vu ? K_VU_FUZZ : K_GENL_FUZZ, gnl_send(&g, nlh));
			gnl_drain(t, &g);
		}
		/* Sometimes hang up with the session (and its fds) set up. */
		if (pick(t, 4) == 0)
			gnl_close(&g);
	}
	gnl_close(&g);
	for (i = 0; i < 4; i++)
		if (pool[i] >= 0)
			close(pool[i]);
}

static void __attribute__((noreturn)) worker(struct torture *t)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	int fds0, fds1;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	t->rng = t->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(t->id + 1));
	if (!t->rng)
		t->rng = 1;
	fds0 = fd_count();
	switch (t->role) {
	case R_LIFECYCLE:
		role_lifecycle(t);
		break;
	case R_VFIO:
		role_user(t, false);
		break;
	case R_NETLINK:
		role_user(t, true);
		break;
	case R_KILLER:
		role_killer(t);
		break;
	case R_NL_CLOSE:
		role_nl_close(t);
		break;
	case R_RMMOD:
		role_rmmod(t);
		break;
	case R_GENL_FUZZ:
		role_fuzz(t, false);
		break;
	case R_VU_FUZZ:
		role_fuzz(t, true);
		break;
	}
	fds1 = fd_count();
	if (fds1 != fds0) {
		tfail(t, "holds %d file descriptors, started with %d", fds1,
		      fds0);
		fd_list(stderr);
	}
	fflush(NULL);
	_exit(fds1 == fds0 ? 0 : 1);
}

/* ---- the run ---- */

static void print_kernel_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "#   %s", line);
	fclose(f);
}

static void report(const struct torture *t, double secs)
{
	const struct shared *sh = t->sh;
	unsigned int k, e;
	char errs[256];
	size_t off;

	printf("# %-22s %10s %9s %9s  errnos seen\n", "kind", "ops", "ops/s",
	       "failed");
	for (k = 0; k < K_NR; k++) {
		off = 0;
		errs[0] = '\0';
		for (e = 1; e < 64; e++)
			if (sh->k[k].errnos & (1ULL << e) && off < sizeof(errs) - 16)
				off += (size_t)snprintf(errs + off,
							sizeof(errs) - off, "%s%s",
							off ? " " : "",
							strerrorname_np((int)e) ?: "?");
		printf("# %-22s %10" PRIu64 " %9.1f %9" PRIu64 "  %s\n",
		       kind_name[k], sh->k[k].ops, sh->k[k].ops / secs,
		       sh->k[k].fails, errs);
	}
	printf("# what fired:\n");
	for (k = 0; k < F_NR; k++)
		printf("#   %-44s %" PRIu64 "\n", fired_name[k], sh->fired[k]);
}

static void remove_all(struct torture *t)
{
	struct vfiosim_mdev_info devs[MAX_SLOTS * 2];
	char err[256];
	unsigned int i;
	size_t n = 0;
	int ret;

	for (i = 0; i < t->nslots; i++) {
		if (!mdev_exists(t->uuid[i]))
			continue;
		ret = vfiosim_mdev_remove(t->uuid[i], err, sizeof(err));
		if (ret && ret != -ENODEV && ret != -ENOENT) {
			tfail(t, "removing %s at the end: %s", t->uuid[i], err);
		}
	}
	ret = vfiosim_mdev_list(devs, MAX_SLOTS * 2, &n, err, sizeof(err));
	if (ret) {
		tfail(t, "listing devices at the end: %s", err);
	} else if (n) {
		tfail(t, "%zu vfiosim devices left after removing them all (first %s)",
		      n, devs[0].uuid);
	}
}

/*
 * Allocate and free mb MiB of slab objects (unix datagrams of 3000
 * bytes: kmalloc-4k data and an skb head each).  Under KASAN a freed
 * object waits in a quarantine of up to 1/32 of memory before the slab
 * gets it back: churning more than that before each reading fills the
 * quarantine with these objects both times, so the Slab the readings
 * compare is the same quarantine plus what really changed.
 */
static int churn(unsigned int mb)
{
	static char buf[3000];
	unsigned long i, n = (unsigned long)mb * 1024 * 1024 / sizeof(buf);
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv)) {
		perror("torture: socketpair");
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (send(sv[0], buf, sizeof(buf), 0) != sizeof(buf) ||
		    recv(sv[1], buf, sizeof(buf), 0) != sizeof(buf)) {
			perror("torture: churn");
			return 1;
		}
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seconds S] [--seed N] [--workers N] [--slots N] [--hang-s S]\n"
		"       %s --churn-mb MB\n"
		"  --seconds  how long the workers run (default $TORTURE_S or 180)\n"
		"  --seed     random seed (default: from the clock, printed)\n"
		"  --workers  processes per user role, vfio and netlink (default 2)\n"
		"  --slots    device UUIDs the workers share (default 6, max %d)\n"
		"  --hang-s   a worker silent this long is hung (default 120)\n"
		"  --no-vfio-dma  no DMA transfers over VFIO (to tell whether a\n"
		"             report comes from that path: lockdep stops at its first)\n"
		"  --churn-mb only allocate and free MB MiB of slab objects (to\n"
		"             cycle KASAN's quarantine before a Slab reading)\n",
		prog, prog, MAX_SLOTS);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'w' },
		{ "slots", required_argument, NULL, 'n' },
		{ "hang-s", required_argument, NULL, 'h' },
		{ "churn-mb", required_argument, NULL, 'c' },
		{ "no-vfio-dma", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct torture t = { .seconds = 180, .hang_s = 120, .workers = 2,
			     .nslots = 6, .id = -1 };
	pid_t pids[MAX_WORKERS];
	enum role roles[MAX_WORKERS];
	uint64_t last_beat[MAX_WORKERS] = { 0 };
	double last_change[MAX_WORKERS], t0, t1, last_print, stop_at = 0;
	bool stuck = false;
	unsigned int i, nw = 0, alive;
	const char *env = getenv("TORTURE_S");
	char err[256];
	int c, status, fds0, fds1;

	if (env && *env)
		t.seconds = (unsigned int)strtoul(env, NULL, 0);
	t.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			t.seconds = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			t.seed = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			t.workers = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			t.nslots = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'h':
			t.hang_s = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			return churn((unsigned int)strtoul(optarg, NULL, 0));
		case 'd':
			t.no_vfio_dma = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || !t.seconds || !t.workers || t.workers > 8 ||
	    t.nslots < 1 || t.nslots > MAX_SLOTS || !t.hang_s)
		usage(argv[0]);

	t.sh = mmap(NULL, sizeof(*t.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t.sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < t.nslots; i++) {
		snprintf(t.uuid[i], sizeof(t.uuid[i]), TORTURE_UUID,
			 TORTURE_TAG, i);
		/* Both models: BAR2 sizes and vector counts differ. */
		t.type[i] = i % 2 ? "vfiosim-full" : "vfiosim-small";
		if (mdev_exists(t.uuid[i])) {
			fprintf(stderr, "torture: device %s exists already; remove it first\n",
				t.uuid[i]);
			return 1;
		}
	}
	for (i = 0; i < t.nslots; i += 2)
		if (vfiosim_mdev_create(t.type[i], t.uuid[i], err, sizeof(err))) {
			fprintf(stderr, "torture: creating %s: %s\n", t.uuid[i],
				err);
			return 1;
		}

	roles[nw++] = R_LIFECYCLE;
	roles[nw++] = R_LIFECYCLE;
	for (i = 0; i < t.workers; i++) {
		roles[nw++] = R_VFIO;
		roles[nw++] = R_NETLINK;
	}
	roles[nw++] = R_KILLER;
	roles[nw++] = R_NL_CLOSE;
	roles[nw++] = R_RMMOD;
	roles[nw++] = R_GENL_FUZZ;
	roles[nw++] = R_VU_FUZZ;

	printf("# torture: %u s, seed %#" PRIx64 ", %u processes, %u device slots%s\n",
	       t.seconds, t.seed, nw, t.nslots,
	       t.no_vfio_dma ? ", no DMA over VFIO" : "");
	fflush(NULL);
	fds0 = fd_count();
	t0 = now_s();
	for (i = 0; i < nw; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			t.sh->stop = 1;
			nw = i;
			break;
		}
		if (!pids[i]) {
			t.id = (int)i;
			t.role = roles[i];
			worker(&t);
		}
		last_change[i] = t0;
	}

	/*
	 * Watch: progress every 30 s, a worker silent for hang_s is hung.
	 * One that SIGKILL does not end within hang_s more is stuck in the
	 * kernel: reported, and the devices are then left alone (removing
	 * one it holds would hang too).
	 */
	last_print = t0;
	for (alive = nw; alive;) {
		t1 = now_s();
		if (t1 - t0 >= t.seconds && !t.sh->stop) {
			t.sh->stop = 1;
			printf("# torture: time is up, stopping the workers\n");
			fflush(stdout);
		}
		if (t.sh->stop && !stop_at)
			stop_at = t1;
		if (stop_at && t1 - stop_at > 2.0 * t.hang_s) {
			for (i = 0; i < nw; i++) {
				if (!pids[i])
					continue;
				tfail(&t, "worker %u (%s, pid %d) did not end after SIGKILL; its kernel stack:",
				      i, role_name[roles[i]], (int)pids[i]);
				print_kernel_stack(pids[i]);
			}
			stuck = true;
			break;
		}
		for (i = 0; i < nw; i++) {
			if (!pids[i])
				continue;
			if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				if (!WIFEXITED(status))
					tfail(&t, "worker %u (%s) died: status %#x",
					      i, role_name[roles[i]], status);
				else if (WEXITSTATUS(status))
					tfail(&t, "worker %u (%s) exited %d",
					      i, role_name[roles[i]],
					      WEXITSTATUS(status));
				if (!t.sh->stop)
					tfail(&t, "worker %u (%s) ended early",
					      i, role_name[roles[i]]);
				pids[i] = 0;
				alive--;
				continue;
			}
			if (t.sh->beat[i] != last_beat[i]) {
				last_beat[i] = t.sh->beat[i];
				last_change[i] = t1;
			} else if (t1 - last_change[i] > t.hang_s ||
				   (stop_at && t1 - stop_at > t.hang_s)) {
				tfail(&t, "worker %u (%s, pid %d) made no progress for %u s (or did not stop); its kernel stack:",
				      i, role_name[roles[i]], (int)pids[i],
				      t.hang_s);
				print_kernel_stack(pids[i]);
				kill(pids[i], SIGKILL);
				last_change[i] = t1 + 1e9;	/* reported once */
				t.sh->stop = 1;
			}
		}
		if (t1 - last_print >= 30 && !t.sh->stop) {
			uint64_t ops = 0;

			for (c = 0; c < K_NR; c++)
				ops += t.sh->k[c].ops;
			printf("# torture: %.0f/%u s, %" PRIu64 " ops\n",
			       t1 - t0, t.seconds, ops);
			fflush(stdout);
			last_print = t1;
		}
		sleep_ms(100);
	}
	t1 = now_s();
	report(&t, t1 - t0);

	if (!stuck)
		remove_all(&t);
	fds1 = fd_count();
	if (fds1 != fds0) {
		tfail(&t, "main holds %d file descriptors, started with %d",
		      fds1, fds0);
		fd_list(stderr);
	}
	if (t.sh->nfail) {
		printf("torture: FAIL (%d)\n", t.sh->nfail);
		for (c = 0; c < t.sh->nfail && c < MAX_FAILS; c++)
			printf("#   %s\n", t.sh->fail[c]);
		return 1;
	}
	printf("torture: PASS (%.0f s, every device removed, no fd leaked)\n",
	       t1 - t0);
	return 0;
}
