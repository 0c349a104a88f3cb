// SPDX-License-Identifier: GPL-2.0
/*
 * Several threads driving one device at once, as the vCPU threads of a VMM
 * do.  Each thread owns a scratch register and an MSI vector, and all of
 * them share COUNTER and DOORBELL; afterwards every value must add up.
 *
 * The threads share the fixture's device handle: this exercises the
 * device, not the library.  It relies on libvfiosim's region read/write
 * being safe to call concurrently on one device (one pread/pwrite on the
 * vfio backend), as QEMU's region accesses from several vCPUs are.
 */
#include <pthread.h>
#include <stdlib.h>

#include "vfiosim_test.h"

#define STRESS_THREADS		4
#define STRESS_OPS		8000	/* per thread */
#define OPS_PER_ROUND		4	/* write, read back, COUNTER, doorbell */
#define STRESS_ROUNDS		(STRESS_OPS / OPS_PER_ROUND)

struct stress_worker {
	pthread_t thread;
	struct vfiosim_dev *dev;
	pthread_barrier_t *start;
	unsigned int id;		/* owns SCRATCH(id) and vector id */
	uint32_t counter_values[STRESS_ROUNDS];
	unsigned int rounds_done;
	unsigned int scratch_mismatches;
	int error;			/* first failed op, -errno */
};

static void *stress_worker_run(void *arg)
{
	struct stress_worker *w = arg;
	uint32_t reg = VFIOSIM_REG_SCRATCH(w->id);
	unsigned int round;

	/* Line up so that the threads really overlap. */
	pthread_barrier_wait(w->start);
	for (round = 0; round < STRESS_ROUNDS; round++) {
		uint32_t mine = w->id << 24 | round, seen;
		int ret;

		ret = bar0_write(w->dev, reg, mine);
		ret = ret ?: bar0_read(w->dev, reg, &seen);
		if (!ret && seen != mine)
			w->scratch_mismatches++;
		ret = ret ?: bar0_read(w->dev, VFIOSIM_REG_COUNTER,
				       &w->counter_values[round]);
		ret = ret ?: ring_doorbell(w->dev, w->id);
		if (ret) {
			w->error = ret;
			break;
		}
		w->rounds_done++;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Keep reading an eventfd until it adds up to want or time runs out. */
static uint64_t efd_collect(int fd, uint64_t want)
{
	uint64_t total = 0, got;

	while (total < want && (got = efd_wait(fd, IRQ_FIRE_TIMEOUT_MS)))
		total += got;
	/* Anything more would be a signal too many. */
	return total + efd_wait(fd, IRQ_QUIET_MS);
}

TEST_F_TIMEOUT(vfiosim, concurrent_registers_counter_doorbells, 300)
{
	const unsigned int total_rounds = STRESS_THREADS * STRESS_ROUNDS;
	struct stress_worker *workers;
	pthread_barrier_t start;
	uint32_t *all_values, first, last, val;
	int fds[VFIOSIM_MAX_VECTORS];
	unsigned int i, r, n = 0;

	ASSERT_GE(self->model->msi_vectors, STRESS_THREADS);
	ASSERT_EQ(0, irq_enable_new(self->dev, VFIO_PCI_MSI_IRQ_INDEX, fds,
				    STRESS_THREADS))
		TH_LOG("%s", DEV_ERR(self));
	ASSERT_EQ(0, bar0_read(self->dev, VFIOSIM_REG_COUNTER, &first));
	first++;	/* that read counted too */

	workers = calloc(STRESS_THREADS, sizeof(*workers));
	all_values = calloc(total_rounds, sizeof(*all_values));
	ASSERT_NE(NULL, workers);
	ASSERT_NE(NULL, all_values);
	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, STRESS_THREADS));
	for (i = 0; i < STRESS_THREADS; i++) {
		workers[i].dev = self->dev;
		workers[i].start = &start;
		workers[i].id = i;
		ASSERT_EQ(0, pthread_create(&workers[i].thread, NULL,
					    stress_worker_run, &workers[i]));
	}
	for (i = 0; i < STRESS_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(workers[i].thread, NULL));
	}
	pthread_barrier_destroy(&start);

	/* Every op worked and every thread saw only its own scratch value. */
	for (i = 0; i < STRESS_THREADS; i++) {
		EXPECT_EQ(0, workers[i].error) TH_LOG("thread %u", i);
		EXPECT_EQ(STRESS_ROUNDS, workers[i].rounds_done)
			TH_LOG("thread %u", i);
		EXPECT_EQ(0, workers[i].scratch_mismatches)
			TH_LOG("thread %u", i);
		ASSERT_EQ(0, bar0_read(self->dev, VFIOSIM_REG_SCRATCH(i), &val));
		EXPECT_EQ(i << 24 | (STRESS_ROUNDS - 1), val);
		for (r = 0; r < workers[i].rounds_done; r++)
			all_values[n++] = workers[i].counter_values[r];
	}
	ASSERT_EQ(total_rounds, n);

	/* COUNTER handed out first..first+n-1, each value exactly once. */
	qsort(all_values, n, sizeof(*all_values), cmp_u32);
	for (r = 0; r < n; r++) {
		if (all_values[r] != first + r) {
			EXPECT_EQ(first + r, all_values[r])
				TH_LOG("COUNTER read #%u (duplicate or lost)", r);
			break;
		}
	}
	ASSERT_EQ(0, bar0_read(self->dev, VFIOSIM_REG_COUNTER, &last));
	EXPECT_EQ(first + total_rounds, last);

	/* Every doorbell counted, delivered to its own vector, none lost. */
	EXPECT_EQ(total_rounds, reg32(self->dev, VFIOSIM_REG_DOORBELL_COUNT));
	EXPECT_EQ(0, reg32(self->dev, VFIOSIM_REG_DROPPED));
	for (i = 0; i < STRESS_THREADS; i++) {
		EXPECT_EQ(STRESS_ROUNDS, efd_collect(fds[i], STRESS_ROUNDS))
			TH_LOG("vector %u", i);
	}

	efd_close_all(fds, STRESS_THREADS);
	free(all_values);
	free(workers);
}

TEST_HARNESS_MAIN
