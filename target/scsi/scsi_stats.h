/* SPDX-License-Identifier: Apache-2.0 */
/* Per-LU command counters and latency histograms (issue 14), as the admin
 * socket's `metrics` request reads them.
 *
 * Cost on the data path: each thread that completes commands owns one slot
 * of counters per LU (allocated on its first command to that LU); it adds
 * with a plain load and store, never a locked instruction, so no cache line
 * is shared between workers. A reader sums the slots with relaxed loads: a
 * figure may lag by the commands completing while it reads, never tear.
 *
 * Not for: per-session or per-portal figures (the transport keeps those).
 */
#ifndef KURA_SCSI_STATS_H
#define KURA_SCSI_STATS_H
#include <stdint.h>

struct scsi_lu;

/* Commands are counted in three classes: READ(6/10/12/16), the commands
 * that modify the medium (WRITE*, WRITE SAME, UNMAP, COMPARE AND WRITE, ...)
 * and every other command. */
enum scsi_stats_class { SCSI_STATS_READ, SCSI_STATS_WRITE, SCSI_STATS_OTHER, SCSI_STATS_NCLASS };

/* Latency histogram: bucket i counts commands that took at most
 * scsi_stats_bucket_us[i] microseconds (and more than the previous bound);
 * the last bucket is +Inf. */
#define SCSI_STATS_NBUCKETS 16
extern const uint32_t scsi_stats_bucket_us[SCSI_STATS_NBUCKETS - 1];

/* Every field is a uint64_t: the reader sums slots word by word. */
struct scsi_lu_stats {
	uint64_t cmds[SCSI_STATS_NCLASS];
	uint64_t bytes[SCSI_STATS_NCLASS]; /* Data-In of reads, Data-Out of writes */
	uint64_t lat_ns[SCSI_STATS_NCLASS];
	uint64_t lat_bucket[SCSI_STATS_NCLASS][SCSI_STATS_NBUCKETS]; /* not cumulative */
	uint64_t sense_key[16];  /* CHECK CONDITION, by sense key */
	uint64_t resv_conflicts; /* RESERVATION CONFLICT */
	uint64_t busy;           /* BUSY or TASK SET FULL */
};

/* The sum of every thread's counters of lu. */
void scsi_lu_stats_read(const struct scsi_lu *lu, struct scsi_lu_stats *out);
#endif
