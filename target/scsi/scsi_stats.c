/* SPDX-License-Identifier: Apache-2.0 */
/* Per-LU counters (scsi_stats.h): one slot per completing thread, so the
 * data path adds to cache lines no other worker writes.
 *
 * A thread takes a slot number the first time it completes a command (one
 * atomic increment per thread, not per command). Threads past the first
 * SCSI_STATS_SLOTS - 1 share the last slot and add to it atomically: a
 * daemon has fewer workers than that, so this path only keeps the count
 * right should it ever happen.
 *
 * Not for: formatting the figures (target/admin/admin_metrics.c).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "target/scsi/scsi_internal.h"

const uint32_t scsi_stats_bucket_us[SCSI_STATS_NBUCKETS - 1] = {
	10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

static atomic_int stats_next_slot;
static _Thread_local int stats_slot = -1;

uint64_t scsi_stats_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int stats_my_slot(void)
{
	if (stats_slot < 0) {
		int n = atomic_fetch_add(&stats_next_slot, 1);
		stats_slot = n < SCSI_STATS_SLOTS - 1 ? n : SCSI_STATS_SLOTS - 1;
	}
	return stats_slot;
}

/* The calling thread's counters of lu, allocated on first use; NULL when
 * out of memory (the command is then not counted). */
static struct scsi_lu_stats *stats_slot_of(struct scsi_lu *lu, int i)
{
	struct scsi_lu_stats *s = atomic_load_explicit(&lu->stats[i], memory_order_acquire);
	if (s)
		return s;
	struct scsi_lu_stats *n = aligned_alloc(64, (sizeof(*n) + 63) & ~(size_t)63);
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	if (!atomic_compare_exchange_strong(&lu->stats[i], &s, n)) {
		free(n); /* the shared slot: another thread was first */
		return s;
	}
	return n;
}

static inline void stats_add(uint64_t *p, uint64_t v, bool shared)
{
	if (shared)
		__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
	else
		__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static enum scsi_stats_class stats_class_of(const struct scsi_task *t, bool writes)
{
	switch (t->cdb[0]) {
	case 0x08: /* READ(6) */
	case 0x28: /* READ(10) */
	case 0xa8: /* READ(12) */
	case 0x88: /* READ(16) */ return SCSI_STATS_READ;
	}
	return writes ? SCSI_STATS_WRITE : SCSI_STATS_OTHER;
}

static unsigned stats_bucket_of(uint64_t ns)
{
	unsigned b = 0;
	while (b < SCSI_STATS_NBUCKETS - 1 && ns > (uint64_t)scsi_stats_bucket_us[b] * 1000u)
		b++;
	return b;
}

/* The sense key of fixed (70h/71h) or descriptor (72h/73h) sense data. */
static unsigned stats_sense_key(const struct scsi_task *t)
{
	if (t->sense_len < 3)
		return 0;
	return (t->sense[0] & 0x7f) >= 0x72 ? t->sense[1] & 0x0f : t->sense[2] & 0x0f;
}

static void stats_count_status(struct scsi_lu_stats *s, const struct scsi_task *t, bool sh)
{
	if (t->status == SAM_STAT_CHECK_CONDITION)
		stats_add(&s->sense_key[stats_sense_key(t)], 1, sh);
	else if (t->status == SAM_STAT_RESERVATION_CONFLICT)
		stats_add(&s->resv_conflicts, 1, sh);
	else if (t->status == SAM_STAT_BUSY || t->status == SAM_STAT_TASK_SET_FULL)
		stats_add(&s->busy, 1, sh);
}

void scsi_stats_done(struct scsi_task *t, bool writes)
{
	if (!t->lu || !t->cdb_len)
		return;
	int i = stats_my_slot();
	bool sh = i == SCSI_STATS_SLOTS - 1;
	struct scsi_lu_stats *s = stats_slot_of(t->lu, i);
	if (!s)
		return;
	enum scsi_stats_class k = stats_class_of(t, writes);
	uint64_t ns = scsi_stats_now_ns() - t->st.t0_ns;
	uint64_t bytes = k == SCSI_STATS_READ ? t->in_len : k == SCSI_STATS_WRITE ? t->out_len : 0;
	stats_add(&s->cmds[k], 1, sh);
	stats_add(&s->bytes[k], bytes, sh);
	stats_add(&s->lat_ns[k], ns, sh);
	stats_add(&s->lat_bucket[k][stats_bucket_of(ns)], 1, sh);
	if (t->status != SAM_STAT_GOOD && t->status != SAM_STAT_CONDITION_MET)
		stats_count_status(s, t, sh);
}

void scsi_lu_stats_read(const struct scsi_lu *lu, struct scsi_lu_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *sum = (uint64_t *)out;
	for (int i = 0; i < SCSI_STATS_SLOTS; i++) {
		struct scsi_lu_stats *s = atomic_load_explicit(&((struct scsi_lu *)lu)->stats[i],
							       memory_order_acquire);
		const uint64_t *w = (const uint64_t *)s;
		for (size_t k = 0; s && k < sizeof(*s) / sizeof(uint64_t); k++)
			sum[k] += __atomic_load_n(&w[k], __ATOMIC_RELAXED);
	}
}

void scsi_stats_free(struct scsi_lu *lu)
{
	for (int i = 0; i < SCSI_STATS_SLOTS; i++)
		free(atomic_load(&lu->stats[i]));
}
