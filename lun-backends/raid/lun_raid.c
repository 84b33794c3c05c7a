/* SPDX-License-Identifier: Apache-2.0 */
/* The RAID backend's life cycle: create, assemble, status, failing members,
 * spares, scrub requests and close (the public API of lun_raid.h).
 *
 * Assembly trusts the newest superblock of the array (highest events, then
 * seq) for the role table. A member is accepted for role i only if that
 * table says role i is active (or rebuilding) on a device with the member's
 * device UUID; otherwise it is stale (failed while the array ran on, or
 * replaced by a spare) and refused. A member whose own events are behind
 * but that the table still calls active only missed the last update (a
 * crash during a metadata write) and is accepted. Missing roles count as
 * failed; more than the level tolerates refuses the array with -ENODEV.
 *
 * Close writes a final superblock with the idle bitmap bits cleared, so a
 * clean restart resyncs nothing; a crash leaves the bits of regions written
 * recently set, and the next assembly resyncs exactly those.
 *
 * Not for: data path (lun_raid_stripe.c, lun_raid_mirror.c), background work
 * (lun_raid_bg.c), on-disk format (lun_raid_sb.c).
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct open_ctx {
	bool direct, create;
	uint64_t size;
};

static int open_file_member(void *ctx, const char *path, struct lun_backend **out, char *err,
			    size_t errlen)
{
	const struct open_ctx *c = ctx;
	struct lun_backend_params p = { .type = "file",
					.path = path,
					.direct = c->direct,
					.create = c->create,
					.size = c->size };
	return lun_file_open(&p, out, err, errlen);
}

static int open_member(const struct lun_raid_params *p, struct open_ctx *c, const char *path,
		       struct lun_backend **out, char *err, size_t errlen)
{
	if (p->open_member)
		return p->open_member(p->open_ctx, path, out, err, errlen);
	return open_file_member(c, path, out, err, errlen);
}

static void new_uuid(uint8_t *u)
{
	if (getrandom(u, 16, 0) != 16)
		for (int i = 0; i < 16; i++)
			u[i] = (uint8_t)random();
}

static bool level_ok(int level, int n, char *err, size_t errlen)
{
	int min = level == 0 || level == 1 || level == 10 ? 2
		  : level == 5                            ? 3
		  : level == 6                            ? 4
							  : -1;
	if (min < 0) {
		snprintf(err, errlen, "raid level %d not supported (0, 1, 5, 6, 10)", level);
		return false;
	}
	if (n < min || n > LUN_RAID_MAX_MEMBERS) {
		snprintf(err, errlen, "raid%d needs %d..%d members, got %d", level, min,
			 LUN_RAID_MAX_MEMBERS, n);
		return false;
	}
	return true;
}

/* ---- teardown ---- */

static void raid_teardown(struct raid *r)
{
	for (int i = 0; i < r->n; i++) {
		lun_backend_close(r->m[i].be);
		free(r->m[i].path);
	}
	for (int i = 0; i < r->nspares; i++) {
		lun_backend_close(r->spare[i].be);
		free(r->spare[i].path);
	}
	for (int i = 0; i < r->nretired; i++)
		lun_backend_close(r->retired[i]);
	pthread_mutex_destroy(&r->mu);
	free(r->bm);
	free(r->bm_inflight);
	free(r->bm_last_ms);
	free(r->resync_list);
	free(r->meta_buf);
	free(r);
}

/* Write the current superblock synchronously to every writable member and spare. */
static int write_all_sync(struct raid *r, bool flush_first)
{
	struct raid_sb *sb = malloc(sizeof(*sb));
	int ok = 0;
	if (!sb)
		return -ENOMEM;
	r->meta_seq = r->meta_want = r->meta_done = r->meta_done + 1;
	for (int i = 0; i < r->n + r->nspares; i++) {
		bool spare = i >= r->n;
		struct raid_member *m = spare ? &r->spare[i - r->n] : &r->m[i];
		if (!m->be || (!spare && !raid_writable(r, i)))
			continue;
		if (flush_first && (lun_backend_caps(m->be) & LUN_CAP_FLUSH))
			raid_sync_io(m->be, LUN_OP_FLUSH, 0, 0, NULL, 0);
		raid_fill_sb(r, sb, m, spare ? (int)RAID_ROLE_SPARE : i);
		ok += raid_sb_write_sync(m->be, sb) == 0;
	}
	free(sb);
	return ok ? 0 : -EIO;
}

static void raid_close(struct lun_backend *be)
{
	struct raid *r = raid_of(be);
	r->closing = true;
	kloop_timer_stop(r->loop, &r->timer);
	if (r->level == 5 || r->level == 6)
		kinfo("raid: stripe writes: %llu full stripe (no reads), %llu reconstruct-write, %llu read-modify-write; %llu writes gathered into others",
		      (unsigned long long)atomic_load(&r->stat_full),
		      (unsigned long long)atomic_load(&r->stat_rcw),
		      (unsigned long long)atomic_load(&r->stat_rmw),
		      (unsigned long long)atomic_load(&r->stat_gathered));
	if (!r->bg_busy && !r->meta_busy && !atomic_load(&r->failed)) {
		for (uint32_t g = 0; g < r->nregions; g++)
			if (!r->bm_inflight[g])
				r->bm[g / 8] &= (uint8_t) ~(1u << (g % 8));
		write_all_sync(r, true);
	}
	raid_teardown(r);
}

/* ---- building the in-memory array ---- */

static int raid_alloc_maps(struct raid *r)
{
	r->bm = calloc((r->nregions + 7) / 8, 1);
	r->bm_inflight = calloc(r->nregions, sizeof(*r->bm_inflight));
	r->bm_last_ms = calloc(r->nregions, sizeof(*r->bm_last_ms));
	r->resync_list = calloc(r->nregions, sizeof(*r->resync_list));
	size_t len = raid_sb_len(r->nregions);
	r->meta_buf = aligned_alloc(4096, len * (LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES));
	return r->bm && r->bm_inflight && r->bm_last_ms && r->resync_list && r->meta_buf ? 0
											 : -ENOMEM;
}

static struct raid *raid_from_sb(const struct raid_sb *sb, const struct lun_raid_params *p)
{
	struct raid *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->level = (int)sb->level;
	r->n = (int)sb->nmembers;
	r->np = r->level == 5 ? 1 : r->level == 6 ? 2 : 0;
	r->k = r->np ? r->n - r->np : 1;
	r->chunk = sb->chunk;
	r->chunk_shift = (uint32_t)__builtin_ctz(sb->chunk);
	r->data_offset = sb->data_offset;
	r->rows = sb->data_size >> r->chunk_shift;
	r->units = raid_units(r);
	memcpy(r->uuid, sb->uuid, 16);
	r->events = sb->events;
	r->region_size = sb->region_size;
	r->nregions = sb->nregions;
	r->loop = p->loop;
	r->rate_bytes = (p->rebuild_mib_per_tick ? p->rebuild_mib_per_tick : 16) << 20;
	r->tick_ms = p->tick_ms ? p->tick_ms : 100;
	r->idle_ms = p->bitmap_idle_ms ? p->bitmap_idle_ms : 2000;
	r->hold_us = RAID_HOLD_US;
	r->open_member = p->open_member;
	r->open_ctx = p->open_ctx;
	r->direct = p->direct;
	r->be.block_size = sb->block_size;
	for (int i = 0; i < r->n; i++)
		atomic_store(&r->m[i].state, LUN_RAID_M_FAILED);
	return r;
}

/* Every member declares cap (a capability of the array needs all of them). */
static bool all_have(const struct raid *r, unsigned cap)
{
	for (int i = 0; i < r->n; i++)
		if (r->m[i].be && !(lun_backend_caps(r->m[i].be) & cap))
			return false;
	return true;
}

static void raid_setup_be(struct raid *r)
{
	bool parity = r->level == 5 || r->level == 6;
	r->ops = (struct lun_backend_ops){ .name = "raid",
					   .close = raid_close,
					   .submit_flush = raid_submit_flush,
					   .caps = LUN_CAP_FLUSH };
	r->ops.submit_read = r->ops.submit_write = parity ? raid_submit_parity : raid_submit_mirror;
	if (parity)
		r->ops.submit_write_zeroes =
			raid_submit_parity; /* zeros written as data; no UNMAP */
	if (!parity && all_have(r, LUN_CAP_UNMAP))
		r->ops.submit_unmap = raid_submit_mirror;
	if (!parity && all_have(r, LUN_CAP_WRITE_ZEROES))
		r->ops.submit_write_zeroes = raid_submit_mirror;
	r->ops.caps |= r->ops.submit_unmap ? LUN_CAP_UNMAP : 0;
	r->ops.caps |= r->ops.submit_write_zeroes ? LUN_CAP_WRITE_ZEROES : 0;
	r->be.ops = &r->ops;
	r->be.priv = r;
	r->be.size = raid_array_size(r);
	r->be.optimal_io = r->chunk * (uint32_t)(parity ? r->k : r->level == 0 ? r->n : 1);
	r->be.unmap_granularity = parity ? 0 : r->chunk;
	r->be.zeroes_after_unmap = !parity;
	for (int i = 0; i < r->n; i++)
		if (r->m[i].be) {
			r->be.volatile_cache |= r->m[i].be->volatile_cache;
			r->be.zeroes_after_unmap &= r->m[i].be->zeroes_after_unmap;
		}
}

/* ---- assembly ---- */

struct found {
	struct lun_backend *be;
	const char *path;
	struct raid_sb *sb;
};

static void found_free(struct found *f, int n)
{
	for (int i = 0; i < n; i++) {
		lun_backend_close(f[i].be);
		free(f[i].sb);
	}
	free(f);
}

/* Open every path and read its superblock; unreadable ones stay NULL. */
static void scan_members(const struct lun_raid_params *p, struct found *f)
{
	struct open_ctx oc = { .direct = p->direct };
	char e[256];
	for (int i = 0; i < p->npaths; i++) {
		f[i].path = p->paths[i];
		if (open_member(p, &oc, p->paths[i], &f[i].be, e, sizeof(e)) < 0) {
			kwarn("raid: %s: %s (treated as missing)", p->paths[i], e);
			continue;
		}
		f[i].sb = malloc(sizeof(*f[i].sb));
		int r = f[i].sb ? raid_sb_read(f[i].be, f[i].sb) : -ENOMEM;
		if (r < 0) {
			kwarn("raid: %s: no valid raid superblock (%d)", p->paths[i], r);
			free(f[i].sb);
			f[i].sb = NULL;
		}
	}
}

/* Index of the newest superblock of the largest UUID group, or -1. */
static int pick_reference(const struct found *f, int n)
{
	int best = -1, best_cnt = 0;
	for (int i = 0; i < n; i++) {
		if (!f[i].sb)
			continue;
		int cnt = 0, ref = i;
		for (int j = 0; j < n; j++) {
			if (!f[j].sb || memcmp(f[j].sb->uuid, f[i].sb->uuid, 16))
				continue;
			cnt++;
			const struct raid_sb *a = f[j].sb, *b = f[ref].sb;
			if (a->events > b->events || (a->events == b->events && a->seq > b->seq))
				ref = j;
		}
		if (cnt > best_cnt) {
			best_cnt = cnt;
			best = ref;
		}
	}
	return best;
}

static bool add_spare_member(struct raid *r, struct found *f)
{
	if (r->nspares >= LUN_RAID_MAX_SPARES)
		return false;
	struct raid_member *s = &r->spare[r->nspares++];
	s->be = f->be;
	s->path = strdup(f->path);
	memcpy(s->dev_uuid, f->sb->dev_uuid, 16);
	f->be = NULL;
	return true;
}

static int rebuilding_role(struct raid *r)
{
	for (int i = 0; i < r->n; i++)
		if (atomic_load(&r->m[i].state) == LUN_RAID_M_REBUILDING)
			return i;
	return -1;
}

/* Accept f for its role if the reference table agrees; false = stale. */
static bool accept_member(struct raid *r, const struct raid_sb *ref, struct found *f)
{
	uint32_t role = f->sb->role;
	const struct raid_sb_member *t = &ref->m[role];
	bool live = t->state == LUN_RAID_M_ACTIVE || t->state == LUN_RAID_M_REBUILDING;
	if (!live || memcmp(t->dev_uuid, f->sb->dev_uuid, 16) || r->m[role].be)
		return false;
	if (f->be->size < r->data_offset + (r->rows << r->chunk_shift) ||
	    f->be->block_size > r->be.block_size)
		return false;
	struct raid_member *m = &r->m[role];
	if (t->state == LUN_RAID_M_REBUILDING && rebuilding_role(r) >= 0)
		return add_spare_member(r, f); /* one rebuild at a time: start it again later */
	m->be = f->be;
	m->path = strdup(f->path);
	memcpy(m->dev_uuid, f->sb->dev_uuid, 16);
	atomic_store(&m->state, (int)t->state);
	if (t->state == LUN_RAID_M_REBUILDING)
		atomic_store(&r->recovery_row, t->recovery_row);
	f->be = NULL;
	return true;
}

static void merge_bitmap(struct raid *r, const struct raid_sb *sb)
{
	for (uint32_t i = 0; i < (r->nregions + 7) / 8; i++)
		r->bm[i] |= sb->bitmap[i];
}

static void place_members(struct raid *r, const struct raid_sb *ref, struct found *f, int n)
{
	for (int i = 0; i < n; i++) {
		if (!f[i].sb || memcmp(f[i].sb->uuid, ref->uuid, 16))
			continue;
		if (f[i].sb->role == RAID_ROLE_SPARE) {
			if (f[i].sb->events < ref->events) /* removed (or missed the last update) */
				kwarn("raid: %s: stale spare (events %llu, array at %llu): refused",
				      f[i].path, (unsigned long long)f[i].sb->events,
				      (unsigned long long)ref->events);
			else if (!add_spare_member(r, &f[i]))
				kwarn("raid: %s: too many spares, ignored", f[i].path);
			continue;
		}
		merge_bitmap(r, f[i].sb);
		if (!accept_member(r, ref, &f[i]))
			kwarn("raid: %s: stale member of role %u (events %llu, array at %llu): refused",
			      f[i].path, f[i].sb->role, (unsigned long long)f[i].sb->events,
			      (unsigned long long)ref->events);
	}
}

/* Pin dirty regions for resync. */
static void plan_resync(struct raid *r)
{
	if (r->level == 0)
		memset(r->bm, 0, (r->nregions + 7) / 8);
	for (uint32_t g = 0; g < r->nregions; g++)
		if (r->bm[g / 8] & (1u << (g % 8))) {
			r->bm_inflight[g] = 1;
			r->resync_list[r->resync_n++] = g;
		}
	if (r->resync_n)
		kinfo("raid: %u dirty region(s) to resync", r->resync_n);
}

static int describe_missing(struct raid *r, char *err, size_t errlen)
{
	int lost = 0;
	for (int i = 0; i < r->n; i++)
		lost += atomic_load(&r->m[i].state) != LUN_RAID_M_ACTIVE;
	snprintf(err, errlen,
		 "raid%d: %d of %d members missing, stale or failed; the level tolerates %d",
		 r->level, lost, r->n, raid_tolerance(r->level, r->n));
	return -ENODEV;
}

static uint64_t max_seq(const struct found *f, int n, const uint8_t *uuid)
{
	uint64_t s = 0;
	for (int i = 0; i < n; i++)
		if (f[i].sb && !memcmp(f[i].sb->uuid, uuid, 16) && f[i].sb->seq > s)
			s = f[i].sb->seq;
	return s;
}

static int assemble_from(const struct lun_raid_params *p, struct found *f, int ref,
			 struct raid **out, char *err, size_t errlen)
{
	const struct raid_sb *sb = f[ref].sb;
	struct raid *r = raid_from_sb(sb, p);
	if (!r || raid_alloc_maps(r) < 0) {
		if (r)
			raid_teardown(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	place_members(r, sb, f, p->npaths);
	r->meta_done = max_seq(f, p->npaths, sb->uuid);
	if (!raid_survives(r)) {
		int e = describe_missing(r, err, errlen);
		raid_teardown(r);
		return e;
	}
	for (int i = 0; i < r->n; i++)
		if ((uint32_t)atomic_load(&r->m[i].state) != sb->m[i].state)
			r->events++; /* membership changed since the reference was written */
	*out = r;
	return 0;
}

static void raid_start(struct raid *r)
{
	raid_setup_be(r);
	plan_resync(r);
	write_all_sync(r, false);
	r->timer.fn = raid_bg_tick;
	kloop_timer_start(r->loop, &r->timer, r->tick_ms);
}

int lun_raid_assemble(const struct lun_raid_params *p, struct lun_backend **out, char *err,
		      size_t errlen)
{
	*out = NULL;
	if (!p->loop || p->npaths <= 0 || p->npaths > LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES) {
		snprintf(err, errlen, "raid: need a loop and 1..%d member paths",
			 LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES);
		return -EINVAL;
	}
	struct found *f = calloc((size_t)p->npaths, sizeof(*f));
	if (!f)
		return -ENOMEM;
	scan_members(p, f);
	int ref = pick_reference(f, p->npaths);
	struct raid *r = NULL;
	int e = ref < 0 ? -ENODEV : assemble_from(p, f, ref, &r, err, errlen);
	if (ref < 0)
		snprintf(err, errlen, "raid: no member with a valid superblock");
	found_free(f, p->npaths);
	if (e < 0)
		return e;
	raid_start(r);
	*out = &r->be;
	return 0;
}

/* ---- create ---- */

static int create_check(const struct lun_raid_params *p, uint32_t chunk, uint32_t bs, char *err,
			size_t errlen)
{
	if (!p->loop) {
		snprintf(err, errlen, "raid: need a loop");
		return -EINVAL;
	}
	if (!level_ok(p->level, p->npaths, err, errlen))
		return -EINVAL;
	if (chunk < 4096 || (chunk & (chunk - 1)) || chunk > (4u << 20)) {
		snprintf(err, errlen, "raid chunk %u must be a power of two in 4 KiB..4 MiB",
			 chunk);
		return -EINVAL;
	}
	if (bs != 512 && bs != 4096) {
		snprintf(err, errlen, "block size %u not supported (512 or 4096)", bs);
		return -EINVAL;
	}
	return 0;
}

static int open_all(const struct lun_raid_params *p, struct lun_backend **be, uint64_t *min,
		    char *err, size_t errlen)
{
	struct open_ctx oc = { .direct = p->direct,
			       .create = p->member_size > 0,
			       .size = p->member_size };
	*min = UINT64_MAX;
	for (int i = 0; i < p->npaths; i++) {
		int e = open_member(p, &oc, p->paths[i], &be[i], err, errlen);
		if (e < 0)
			return e;
		if (be[i]->size < *min)
			*min = be[i]->size;
	}
	return 0;
}

static void create_sb(const struct lun_raid_params *p, struct raid_sb *sb, uint32_t chunk,
		      uint32_t bs, uint64_t rows)
{
	memset(sb, 0, sizeof(*sb));
	new_uuid(sb->uuid);
	sb->level = (uint32_t)p->level;
	sb->chunk = chunk;
	sb->nmembers = (uint32_t)p->npaths;
	sb->block_size = bs;
	sb->events = 1;
	sb->data_offset = LUN_RAID_DATA_OFFSET;
	sb->data_size = rows * chunk;
	uint64_t reg = (uint64_t)(p->region_mib ? p->region_mib : 64) << 20;
	sb->region_size = reg < chunk ? chunk : reg;
	sb->nregions = (uint32_t)((sb->data_size + sb->region_size - 1) / sb->region_size);
	for (int i = 0; i < p->npaths; i++) {
		sb->m[i].state = LUN_RAID_M_ACTIVE;
		new_uuid(sb->m[i].dev_uuid);
	}
	for (uint32_t g = 0; !p->assume_clean && p->level != 0 && g < sb->nregions; g++)
		sb->bitmap[g / 8] |= (uint8_t)(1u << (g % 8));
}

/* Both copies are written (seq 0 and 1) so no older array's record survives. */
static int write_fresh(struct lun_backend **be, int n, struct raid_sb *sb)
{
	for (int i = 0; i < n; i++) {
		sb->role = (uint32_t)i;
		memcpy(sb->dev_uuid, sb->m[i].dev_uuid, 16);
		for (sb->seq = 0; sb->seq < 2; sb->seq++) {
			int e = raid_sb_write_sync(be[i], sb);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

int lun_raid_create(const struct lun_raid_params *p, struct lun_backend **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	uint32_t chunk = p->chunk ? p->chunk : 64u << 10, bs = p->block_size ? p->block_size : 512;
	int e = create_check(p, chunk, bs, err, errlen);
	if (e < 0)
		return e;
	struct lun_backend *be[LUN_RAID_MAX_MEMBERS] = { 0 };
	struct raid_sb *sb = malloc(sizeof(*sb));
	uint64_t min = 0;
	e = sb ? open_all(p, be, &min, err, errlen) : -ENOMEM;
	uint64_t rows = e == 0 && min > LUN_RAID_DATA_OFFSET ? (min - LUN_RAID_DATA_OFFSET) / chunk
							     : 0;
	if (e == 0 && rows == 0) {
		snprintf(err, errlen, "raid members too small (%llu bytes)",
			 (unsigned long long)min);
		e = -EINVAL;
	}
	if (e == 0) {
		create_sb(p, sb, chunk, bs, rows);
		if (raid_sb_len(sb->nregions) > RAID_SB_SLOT) {
			snprintf(err, errlen, "raid: too many bitmap regions; raise region_mib");
			e = -EINVAL;
		}
	}
	if (e == 0 && (e = write_fresh(be, p->npaths, sb)) < 0)
		snprintf(err, errlen, "raid: writing superblocks: %s", strerror(-e));
	for (int i = 0; i < p->npaths; i++)
		lun_backend_close(be[i]);
	free(sb);
	return e < 0 ? e : lun_raid_assemble(p, out, err, errlen);
}

/* ---- runtime control ---- */

static bool is_raid(struct lun_backend *be)
{
	return be && be->ops && be->ops->close == raid_close;
}

int lun_raid_fail_member(struct lun_backend *be, int role)
{
	if (!is_raid(be) || role < 0 || role >= raid_of(be)->n)
		return -EINVAL;
	struct raid *r = raid_of(be);
	if (atomic_load(&r->m[role].state) == LUN_RAID_M_FAILED)
		return -EALREADY;
	raid_member_failed(r, role);
	return 0;
}

int lun_raid_add_spare(struct lun_backend *be, const char *path, char *err, size_t errlen)
{
	if (!is_raid(be))
		return -EINVAL;
	struct raid *r = raid_of(be);
	struct lun_raid_params p = { .open_member = r->open_member,
				     .open_ctx = r->open_ctx,
				     .direct = r->direct };
	struct open_ctx oc = { .direct = r->direct };
	struct lun_backend *m;
	int e = open_member(&p, &oc, path, &m, err, errlen);
	if (e < 0)
		return e;
	if (m->size < r->data_offset + (r->rows << r->chunk_shift) ||
	    m->block_size > r->be.block_size) {
		snprintf(err, errlen, "spare %s is too small or has larger blocks", path);
		lun_backend_close(m);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->mu);
	if (r->nspares >= LUN_RAID_MAX_SPARES) {
		pthread_mutex_unlock(&r->mu);
		lun_backend_close(m);
		snprintf(err, errlen, "too many spares");
		return -ENOSPC;
	}
	struct raid_member *s = &r->spare[r->nspares++];
	*s = (struct raid_member){ .be = m, .path = strdup(path) };
	new_uuid(s->dev_uuid);
	raid_meta_request_locked(r);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int lun_raid_scrub_start(struct lun_backend *be, bool repair)
{
	if (!is_raid(be))
		return -EINVAL;
	struct raid *r = raid_of(be);
	if (r->level == 0)
		return -EOPNOTSUPP;
	if (atomic_load(&r->failed))
		return -ENODEV;
	if (r->bg != RAID_BG_NONE || r->bg_busy)
		return -EBUSY;
	atomic_store(&r->scrub_units, 0);
	atomic_store(&r->scrub_mismatch, 0);
	atomic_store(&r->scrub_repaired, 0);
	r->scrub_ran = true;
	r->scrub_stopped = false;
	r->bg_repair = repair;
	r->bg_unit = 0;
	r->bg = RAID_BG_SCRUB;
	return 0;
}

/* The unit in flight (bg_busy) completes in bg_unit_done, which then finds
 * bg == NONE and starts nothing further. */
int lun_raid_scrub_stop(struct lun_backend *be, struct lun_raid_status *st)
{
	if (!is_raid(be))
		return -EINVAL;
	struct raid *r = raid_of(be);
	if (r->bg != RAID_BG_SCRUB)
		return -ESRCH;
	r->bg = RAID_BG_NONE;
	r->scrub_stopped = true;
	r->scrub_stop_unit = r->bg_unit;
	kinfo("raid: scrub stopped at unit %llu of %llu: %llu mismatches so far",
	      (unsigned long long)r->bg_unit, (unsigned long long)r->units,
	      (unsigned long long)atomic_load(&r->scrub_mismatch));
	return st ? lun_raid_status(be, st) : 0;
}

int lun_raid_role_of(struct lun_backend *be, const char *path)
{
	if (!is_raid(be))
		return -1;
	struct raid *r = raid_of(be);
	int role = -1;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n && role < 0; i++)
		if (r->m[i].path && strcmp(r->m[i].path, path) == 0)
			role = i;
	pthread_mutex_unlock(&r->mu);
	return role;
}

/* Caller holds r->mu. A worker may have read the member's state just before
 * it failed and still submit to it, so the backend is closed with the
 * array, as a replaced one is. -ENOSPC when the table of those is full. */
static int retire_locked(struct raid *r, struct raid_member *m)
{
	if (m->be && r->nretired >= (int)(sizeof(r->retired) / sizeof(r->retired[0])))
		return -ENOSPC;
	if (m->be)
		r->retired[r->nretired++] = m->be;
	m->be = NULL;
	free(m->path);
	m->path = NULL;
	return 0;
}

int lun_raid_remove_member(struct lun_backend *be, int role)
{
	if (!is_raid(be) || role < 0 || role >= raid_of(be)->n)
		return -EINVAL;
	struct raid *r = raid_of(be);
	pthread_mutex_lock(&r->mu);
	struct raid_member *m = &r->m[role];
	int st = atomic_load(&m->state), e = 0;
	if (st != LUN_RAID_M_FAILED)
		e = -EBUSY;
	else if (!m->be && !m->path)
		e = -ENOENT;
	char *path = e == 0 && m->path ? strdup(m->path) : NULL;
	if (e == 0 && (e = retire_locked(r, m)) == 0) {
		kinfo("raid: role %d (%s) removed", role, path ? path : "?");
		memset(m->dev_uuid, 0, 16); /* no device holds the role any more */
		r->events++;
		raid_meta_request_locked(r);
	}
	pthread_mutex_unlock(&r->mu);
	free(path);
	return e;
}

int lun_raid_remove_spare(struct lun_backend *be, const char *path)
{
	if (!is_raid(be))
		return -EINVAL;
	struct raid *r = raid_of(be);
	int e = -ENOENT;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->nspares && e; i++) {
		if (!r->spare[i].path || strcmp(r->spare[i].path, path))
			continue;
		if ((e = retire_locked(r, &r->spare[i])) < 0)
			break;
		kinfo("raid: spare %s removed", path);
		r->spare[i] = r->spare[--r->nspares];
		memset(&r->spare[r->nspares], 0, sizeof(r->spare[0]));
		r->events++;
		raid_meta_request_locked(r);
		e = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return e;
}

static unsigned pct(uint64_t a, uint64_t b)
{
	return b ? (unsigned)(a * 100 / b) : 100;
}

static enum lun_raid_state array_state(struct raid *r)
{
	if (atomic_load(&r->failed))
		return LUN_RAID_FAILED;
	for (int i = 0; i < r->n; i++)
		if (atomic_load(&r->m[i].state) != LUN_RAID_M_ACTIVE)
			return LUN_RAID_DEGRADED;
	for (uint32_t i = 0; i < (r->nregions + 7) / 8; i++)
		if (r->bm[i])
			return LUN_RAID_DIRTY;
	return LUN_RAID_CLEAN;
}

static void status_bg(struct raid *r, struct lun_raid_status *st)
{
	st->rebuilding = r->bg == RAID_BG_REBUILD;
	st->rebuild_role = st->rebuilding ? r->bg_role : -1;
	st->rebuild_pct = st->rebuilding ? pct(atomic_load(&r->recovery_row), r->rows) : 0;
	st->resyncing = r->bg == RAID_BG_RESYNC || r->resync_i < r->resync_n;
	st->resync_pct = pct(r->resync_done, r->resync_n);
	st->scrubbing = r->bg == RAID_BG_SCRUB;
	st->scrub_stopped = r->scrub_stopped;
	st->scrub_pct = st->scrubbing      ? pct(r->bg_unit, r->units)
			: r->scrub_stopped ? pct(r->scrub_stop_unit, r->units)
			: r->scrub_ran     ? 100
					   : 0;
	st->scrub_units = atomic_load(&r->scrub_units);
	st->scrub_mismatches = atomic_load(&r->scrub_mismatch);
	st->scrub_repaired = atomic_load(&r->scrub_repaired);
}

int lun_raid_status(struct lun_backend *be, struct lun_raid_status *st)
{
	if (!is_raid(be))
		return -EINVAL;
	struct raid *r = raid_of(be);
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&r->mu);
	*st = (struct lun_raid_status){ .level = r->level,
					.chunk = r->chunk,
					.nmembers = r->n,
					.state = array_state(r),
					.events = r->events,
					.size = r->be.size,
					.nspares = r->nspares };
	for (int i = 0; i < r->n; i++) {
		st->member[i].state = (enum lun_raid_mstate)atomic_load(&r->m[i].state);
		st->member[i].present = r->m[i].be != NULL;
		snprintf(st->member[i].path, sizeof(st->member[i].path), "%s",
			 r->m[i].path ? r->m[i].path : "");
	}
	for (uint32_t g = 0; g < r->nregions; g++)
		st->dirty_regions += (r->bm[g / 8] >> (g % 8)) & 1;
	status_bg(r, st);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

bool lun_raid_has_path(struct lun_backend *be, const char *path)
{
	if (!is_raid(be))
		return false;
	struct raid *r = raid_of(be);
	bool found = false;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n && !found; i++)
		found = r->m[i].path && strcmp(r->m[i].path, path) == 0;
	for (int i = 0; i < r->nspares && !found; i++)
		found = r->spare[i].path && strcmp(r->spare[i].path, path) == 0;
	pthread_mutex_unlock(&r->mu);
	return found;
}

bool lun_raid_quiesce(struct lun_backend *be)
{
	if (!is_raid(be))
		return true;
	struct raid *r = raid_of(be);
	r->closing = true;
	return !r->bg_busy && !r->meta_busy;
}
