/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's per-LUN history of the last hour (history.c) and the
 * thread that feeds it from the daemon's counters (sampler.c).
 *
 * Not for: anything but console/ and its unit test.
 */
#ifndef KURA_CONSOLE_HISTORY_H
#define KURA_CONSOLE_HISTORY_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_LUNS     256 /* LUNs kept; more are not charted (logged) */
#define HIST_NAME_MAX 224 /* an IQN is at most 223 bytes */

/* The counters of one LUN in one scrape: reads plus writes. */
struct hist_counters {
	double ops, bytes, lat_sum, lat_count;
};

/* One interval's rates; t is the end of the interval (Unix seconds).
 * lat_ms is NaN when no command completed in the interval. */
struct hist_point {
	uint32_t t;
	float iops, mibs, lat_ms;
};

/* One parsed line of the exposition that the history uses. */
struct hist_sample_line {
	int family; /* 0 commands, 1 bytes, 2 latency _sum, 3 latency _count */
	char target[HIST_NAME_MAX], lun[16], op[16];
	double value;
};

struct hist;
/* A history sampled every interval_s seconds (rings of an hour). */
struct hist *hist_new(unsigned interval_s);
void hist_free(struct hist *h);
/* The rates between counters a (at a_ms) and b (at b_ms, both on a
 * monotonic clock) into out (t untouched). False when b_ms <= a_ms or any
 * counter went down (the daemon restarted: b is a new baseline). */
bool hist_rate(const struct hist_counters *a, int64_t a_ms, const struct hist_counters *b,
	       int64_t b_ms, struct hist_point *out);
/* One line of the exposition: 0 when it is a read / write sample of one of
 * the four families, -ENOENT for another line, -EINVAL when malformed. */
int hist_parse_line(const char *line, struct hist_sample_line *s);
/* Feed one scrape taken at wall_ms (Unix ms) / mono_ms (monotonic ms).
 * 0, or -ENOSPC when LUNs past HIST_LUNS were left out. */
int hist_sample(struct hist *h, const char *text, int64_t wall_ms, int64_t mono_ms);
/* A scrape failed: every LUN starts a new baseline at the next one. */
void hist_gap(struct hist *h);
/* {"interval_s":N,"now":T,"luns":[{"target","lun","t":[...],"iops":[...],
 * "mibs":[...],"lat_ms":[...]}]}: the points of the last hour newer than
 * since (Unix seconds; 0 for all), latency null where NaN. */
void hist_json(const struct hist *h, FILE *f, int64_t wall_ms, uint32_t since);

/* ---- sampler.c ---- */
/* Start the thread scraping "metrics" from the admin socket every
 * interval_s seconds into a new history; NULL on failure. */
struct hist_sampler *hist_sampler_start(const char *socket, unsigned interval_s);
void hist_sampler_stop(struct hist_sampler *s);
/* hist_json of the sampler's history, under its lock. */
void hist_sampler_json(struct hist_sampler *s, FILE *f, uint32_t since);
#endif
