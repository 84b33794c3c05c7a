/* SPDX-License-Identifier: Apache-2.0 */
/* The storage control thread's tick: <data_dir>/storage.status (array and
 * pool state, rebuild / scrub progress; format in docs/storage.md),
 * rebuild throughput, and scrub requests dropped as
 * <data_dir>/raid-NAME.scrub.
 *
 * Not for: opening or closing storage, admin requests (storage.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/container.h"
#include "common/log.h"
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"
#include "target/model/storage_internal.h"

static const char *const raid_state_names[] = { "clean", "dirty", "degraded", "failed" };

/* Bytes one member holds of the array's data (what a rebuild writes). */
static uint64_t member_bytes(const struct lun_raid_status *st)
{
	int n = st->nmembers;
	int k = st->level == 5    ? n - 1
		: st->level == 6  ? n - 2
		: st->level == 10 ? n / 2
		: st->level == 1  ? 1
				  : n;
	return k > 0 ? st->size / (uint64_t)k : 0;
}

/* Rebuild start / end (or a switch to the next role) as seen by the tick;
 * logs the throughput of each role. */
static void rebuild_track(const struct lun_raid_conf *rc, struct lun_raid_run *rr,
			  const struct lun_raid_status *st, uint64_t now)
{
	if (rr->rebuild_t0_ms && (!st->rebuilding || st->rebuild_role != rr->rebuild_role)) {
		double s = (double)(now - rr->rebuild_t0_ms) / 1000.0;
		double mib = (double)member_bytes(st) / 1048576.0;
		rr->last_rebuild_s = s;
		rr->last_rebuild_mib_s = s > 0 ? mib / s : 0;
		rr->rebuild_t0_ms = 0;
		kinfo("raid %s: rebuild of role %d done: %.0f MiB in %.2f s (%.1f MiB/s)", rc->name,
		      rr->rebuild_role, mib, s, rr->last_rebuild_mib_s);
	}
	if (st->rebuilding && !rr->rebuild_t0_ms) {
		rr->rebuild_t0_ms = now ? now : 1;
		rr->rebuild_role = st->rebuild_role;
		kinfo("raid %s: rebuilding role %d", rc->name, st->rebuild_role);
	}
}

/* <data_dir>/raid-NAME.scrub holding "repair" (or anything else: check). */
static void scrub_request(const struct tgt_model *m, const struct lun_raid_conf *rc,
			  struct lun_raid_run *rr)
{
	char path[PATH_MAX], word[16] = "";
	if (snprintf(path, sizeof(path), "%s/raid-%s.scrub", m->conf->data_dir, rc->name) >=
	    (int)sizeof(path))
		return;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(word, sizeof(word), f))
		word[0] = '\0';
	fclose(f);
	bool repair = strncmp(word, "repair", 6) == 0;
	int r = lun_raid_scrub_start(rr->be, repair);
	if (r == -EBUSY)
		return; /* a resync / rebuild / scrub runs: try again next tick */
	unlink(path);
	if (r < 0)
		kwarn("raid %s: scrub not started: %s", rc->name, strerror(-r));
	else
		kinfo("raid %s: scrub (%s) started", rc->name, repair ? "repair" : "check");
}

static void status_raid(FILE *f, const struct lun_raid_conf *rc, struct lun_raid_run *rr,
			uint64_t now)
{
	struct lun_raid_status st;
	if (rr->failed || lun_raid_status(rr->be, &st) < 0) {
		fprintf(f, "raid %s state=failed reason=\"%s\"\n", rc->name, rr->why);
		return;
	}
	rebuild_track(rc, rr, &st, now);
	int active = 0, failed = 0;
	for (int i = 0; i < st.nmembers; i++) {
		active += st.member[i].state == LUN_RAID_M_ACTIVE;
		failed += st.member[i].state == LUN_RAID_M_FAILED;
	}
	fprintf(f,
		"raid %s state=%s level=%d members=%d active=%d failed=%d spares=%d rebuilding=%d "
		"rebuild_role=%d rebuild_pct=%u resyncing=%d resync_pct=%u scrubbing=%d scrub_pct=%u "
		"scrub_units=%llu scrub_mismatches=%llu scrub_repaired=%llu dirty_regions=%llu "
		"last_rebuild_s=%.2f last_rebuild_mib_s=%.1f\n",
		rc->name, raid_state_names[st.state], st.level, st.nmembers, active, failed,
		st.nspares, st.rebuilding, st.rebuild_role, st.rebuild_pct, st.resyncing,
		st.resync_pct, st.scrubbing, st.scrub_pct, (unsigned long long)st.scrub_units,
		(unsigned long long)st.scrub_mismatches, (unsigned long long)st.scrub_repaired,
		(unsigned long long)st.dirty_regions, rr->last_rebuild_s, rr->last_rebuild_mib_s);
}

static void status_pool(FILE *f, const struct lun_pool_conf *pc, const struct lun_pool_run *pr)
{
	struct lun_thin_pool_status st;
	if (pr->failed || !pr->pool) {
		fprintf(f, "pool %s state=failed reason=\"%s\"\n", pc->name, pr->why);
		return;
	}
	lun_thin_pool_status(pr->pool, &st);
	fprintf(f,
		"pool %s state=%s chunk_size=%u chunks_total=%llu chunks_used=%llu chunks_free=%llu "
		"volumes=%u virtual_bytes=%llu low_water=%llu low_water_events=%llu\n",
		pc->name, st.failed ? "failed" : "ok", st.chunk_size,
		(unsigned long long)st.chunks_total, (unsigned long long)st.chunks_used,
		(unsigned long long)st.chunks_free, st.volumes,
		(unsigned long long)st.virtual_bytes, (unsigned long long)st.low_water,
		(unsigned long long)st.low_water_events);
}

/* Written to a temporary file and renamed: readers never see half a file. */
void tgt_storage_status_tick(struct kloop_timer *t)
{
	struct tgt_storage_rt *rt = container_of(t, struct tgt_storage_rt, tick);
	struct tgt_model *m = rt->m;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	uint64_t now = kloop_now_ms(rt->loop);
	if (snprintf(path, sizeof(path), "%s/storage.status", m->conf->data_dir) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	for (int i = 0; i < m->stack.n_raids; i++)
		if (!rt->stack.raids[i].failed)
			scrub_request(m, &m->stack.raids[i], &rt->stack.raids[i]);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "time_ms=%llu\n", (unsigned long long)now);
	for (int i = 0; i < m->stack.n_raids; i++)
		status_raid(f, &m->stack.raids[i], &rt->stack.raids[i], now);
	for (int i = 0; i < m->stack.n_pools; i++)
		status_pool(f, &m->stack.pools[i], &rt->stack.pools[i]);
	if (fclose(f) == 0)
		rename(tmp, path);
}
