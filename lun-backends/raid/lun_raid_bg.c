/* SPDX-License-Identifier: Apache-2.0 */
/* RAID background work on the array's loop: rebuild onto a spare, resync of
 * dirty bitmap regions, scrub; plus lazy clearing of idle bitmap bits.
 *
 * A periodic timer (tick_ms) grants a budget of rate_bytes per tick; one
 * unit operation runs at a time (lun_raid_stripe.c) under its unit lock, so
 * foreground writes to the same stripe wait at most one unit. Priorities
 * when idle: resume an interrupted rebuild, start a rebuild if a role is
 * failed and a spare exists, then resync dirty regions. Scrub runs only when
 * asked (lun_raid_scrub_start).
 *
 * Rebuild walks the target's rows in order; rows below recovery_row are
 * readable on the target. Each tick records recovery_row in the superblocks,
 * so a restart resumes there. When done the role becomes ACTIVE (events + 1).
 *
 * Resync of a region recomputes parity (RAID-5/6) or copies the first
 * readable copy over the others (RAID-1/10) for every unit in it; the
 * region's bit stays pinned until it is done.
 *
 * Not for: foreground I/O.
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/log.h"
#include <stdlib.h>
#include <string.h>

static void bg_step(struct raid *r);

/* ---- choosing work ---- */

static int role_in(struct raid *r, int state)
{
	for (int i = 0; i < r->n; i++)
		if (atomic_load(&r->m[i].state) == state)
			return i;
	return -1;
}

/* Caller holds r->mu. Put spare 0 into failed role t. */
static void take_spare(struct raid *r, int t)
{
	struct raid_member *m = &r->m[t];
	if (m->be)
		r->retired[r->nretired++] = m->be;
	free(m->path);
	m->be = r->spare[0].be;
	m->path = r->spare[0].path;
	memcpy(m->dev_uuid, r->spare[0].dev_uuid, 16);
	m->fail_seq = 0;
	r->spare[0] = r->spare[--r->nspares];
	atomic_store(&r->recovery_row, 0);
	atomic_store(&m->state, LUN_RAID_M_REBUILDING);
	r->events++;
	raid_meta_request_locked(r);
	kinfo("raid: rebuilding role %d onto spare %s", t, m->path);
}

static void bg_choose(struct raid *r)
{
	if (atomic_load(&r->failed))
		return;
	pthread_mutex_lock(&r->mu);
	int t = role_in(r, LUN_RAID_M_REBUILDING);
	if (t < 0 && r->nspares > 0 && r->level != 0) {
		t = role_in(r, LUN_RAID_M_FAILED);
		if (t >= 0 && r->m[t].be &&
		    r->nretired >= (int)(sizeof(r->retired) / sizeof(r->retired[0])))
			t = -1; /* no room to keep the failed backend until close: wait for a restart */
		if (t >= 0)
			take_spare(r, t);
	}
	if (t >= 0) {
		r->bg = RAID_BG_REBUILD;
		r->bg_role = t;
	} else if (r->resync_i < r->resync_n) {
		r->bg = RAID_BG_RESYNC;
		r->bg_unit = UINT64_MAX;
	}
	pthread_mutex_unlock(&r->mu);
}

/* ---- units of a bitmap region ---- */

static void region_rows(const struct raid *r, uint32_t g, uint64_t *row0, uint64_t *row1)
{
	uint64_t rpr = r->region_size >> r->chunk_shift;
	*row0 = (uint64_t)g * rpr;
	*row1 = *row0 + rpr < r->rows ? *row0 + rpr : r->rows; /* exclusive */
}

static void region_units(const struct raid *r, uint32_t g, uint64_t *u0, uint64_t *u1)
{
	uint64_t row0, row1;
	region_rows(r, g, &row0, &row1);
	if (r->level == 10) {
		row0 = row0 * (uint64_t)r->n / 2;
		row1 = (row1 * (uint64_t)r->n + 1) / 2;
	}
	*u0 = row0;
	*u1 = row1 < r->units ? row1 : r->units;
}

/* ---- steps ---- */

static void bg_unit_done(struct raid *r, int res)
{
	r->bg_busy = false;
	if (res < 0) {
		kwarn("raid: background %s stopped: %d",
		      r->bg == RAID_BG_REBUILD  ? "rebuild"
		      : r->bg == RAID_BG_RESYNC ? "resync"
						: "scrub",
		      res);
		r->bg = RAID_BG_NONE;
		return;
	}
	if (r->bg == RAID_BG_REBUILD)
		atomic_fetch_add(&r->recovery_row, 1);
	else
		r->bg_unit++;
	if (r->bg_budget > 0 && !r->closing)
		bg_step(r);
}

static void rebuild_done(struct raid *r)
{
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->m[r->bg_role].state, LUN_RAID_M_ACTIVE);
	r->events++;
	raid_meta_request_locked(r);
	pthread_mutex_unlock(&r->mu);
	kinfo("raid: rebuild of role %d complete", r->bg_role);
	r->bg = RAID_BG_NONE;
}

static void run_unit(struct raid *r, enum raid_op_kind kind, uint64_t unit)
{
	r->bg_busy = true;
	r->bg_budget = r->bg_budget > r->chunk ? r->bg_budget - r->chunk : 0;
	raid_sop_start(r, r->loop, kind, unit, 0, r->chunk, NULL, 0, bg_unit_done);
}

/* false: nothing more to do now */
static bool rebuild_step(struct raid *r)
{
	if (atomic_load(&r->m[r->bg_role].state) != LUN_RAID_M_REBUILDING) {
		r->bg = RAID_BG_NONE; /* the target failed too */
		return false;
	}
	uint64_t row = atomic_load(&r->recovery_row), unit;
	if (row >= r->rows) {
		rebuild_done(r);
		return false;
	}
	if (!raid_unit_of(r, r->bg_role, row, &unit)) {
		atomic_fetch_add(&r->recovery_row, 1); /* RAID-10 tail slot: holds nothing */
		return true;
	}
	run_unit(r, RAID_K_REBUILD, unit);
	return false;
}

static void resync_region_done(struct raid *r)
{
	uint64_t row0, row1;
	region_rows(r, (uint32_t)r->resync_list[r->resync_i], &row0, &row1);
	raid_bm_exit(r, row0, row1 - 1);
	r->resync_i++;
	r->resync_done++;
	r->bg_unit = UINT64_MAX;
	if (r->resync_i == r->resync_n) {
		kinfo("raid: resync of %u dirty region(s) complete", r->resync_n);
		r->bg = RAID_BG_NONE;
	}
}

static bool resync_step(struct raid *r)
{
	uint64_t u0, u1;
	region_units(r, (uint32_t)r->resync_list[r->resync_i], &u0, &u1);
	if (r->bg_unit == UINT64_MAX)
		r->bg_unit = u0;
	if (r->bg_unit >= u1) {
		resync_region_done(r);
		return r->bg == RAID_BG_RESYNC;
	}
	run_unit(r, RAID_K_RESYNC, r->bg_unit);
	return false;
}

static bool scrub_step(struct raid *r)
{
	if (r->bg_unit >= r->units) {
		kinfo("raid: scrub done: %llu mismatches",
		      (unsigned long long)atomic_load(&r->scrub_mismatch));
		r->bg = RAID_BG_NONE;
		return false;
	}
	run_unit(r, RAID_K_SCRUB, r->bg_unit);
	return false;
}

static void bg_step(struct raid *r)
{
	bool more = true;
	while (more && !r->bg_busy && r->bg_budget > 0) {
		if (atomic_load(&r->failed))
			r->bg = RAID_BG_NONE;
		switch (r->bg) {
		case RAID_BG_REBUILD: more = rebuild_step(r); break;
		case RAID_BG_RESYNC: more = resync_step(r); break;
		case RAID_BG_SCRUB: more = scrub_step(r); break;
		default: more = false;
		}
	}
}

void raid_bg_tick(struct kloop_timer *t)
{
	struct raid *r = container_of(t, struct raid, timer);
	raid_bm_clear_idle(r);
	if (r->closing || r->bg_busy)
		return;
	if (r->bg == RAID_BG_REBUILD) { /* checkpoint progress once per tick */
		pthread_mutex_lock(&r->mu);
		raid_meta_request_locked(r);
		pthread_mutex_unlock(&r->mu);
	}
	if (r->bg == RAID_BG_NONE)
		bg_choose(r);
	r->bg_budget = r->rate_bytes;
	bg_step(r);
}
