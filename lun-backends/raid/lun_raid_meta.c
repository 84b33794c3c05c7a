/* SPDX-License-Identifier: Apache-2.0 */
/* RAID control state: unit locks, metadata writes, the write-intent bitmap
 * and member failure.
 *
 * Unit locks serialize every operation that touches a stripe (RAID-5/6) or a
 * logical chunk (RAID-1/10) while it writes, and background steps against
 * them. They never block: a waiter is queued behind the holder and resumed
 * on its own loop when the lock passes to it (FIFO).
 *
 * Metadata (superblock + bitmap) is written only from the background loop,
 * one write at a time, to every writable member and spare, with FUA.
 * Requests are numbered (seq); a requester that needs its change on disk
 * parks a raid_wait until meta_done >= its seq. A write that only clears
 * bitmap bits first flushes the members, so no data still sitting in a
 * volatile cache loses its dirty bit:
 *
 *   worker: bit set (mem) -> request seq 7 -> park
 *   bg:     encode (snapshot under mu) -> write all, FUA -> meta_done = 7
 *   worker: woken -> data / parity writes -> bm_exit (region idle)
 *   bg tick: region idle >= idle_ms -> bit clear (mem) -> request 8 ->
 *            flush all members -> write all, FUA
 *
 * A member failure bumps the events counter and requests a write; writes
 * that skipped the failed member wait for that write before completing, so
 * an acknowledged write never depends on a member the superblocks still
 * call active.
 *
 * Not for: data-path stripe logic (lun_raid_stripe.c, lun_raid_mirror.c).
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/kbuf.h"
#include "common/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- waking ---- */

void raid_wake(struct raid_wait *w)
{
	if (kloop_current() == w->loop)
		kloop_defer(w->loop, &w->t);
	else
		kloop_post(w->loop, &w->t);
}

static void wake_list(struct raid_wait *w)
{
	while (w) {
		struct raid_wait *next = w->next;
		raid_wake(w);
		w = next;
	}
}

/* ---- unit locks ---- */

static struct raid_wait **lock_bucket(struct raid *r, uint64_t unit)
{
	return &r->locks[(unit * 0x9E3779B97F4A7C15ull) >> 56];
}

bool raid_lock_unit(struct raid *r, struct raid_wait *w)
{
	struct raid_wait **b = lock_bucket(r, w->key);
	pthread_mutex_lock(&r->mu);
	struct raid_wait *h = *b;
	while (h && h->key != w->key)
		h = h->next;
	w->next = NULL;
	if (h) {
		if (h->qtail)
			h->qtail->next = w;
		else
			h->qhead = w;
		h->qtail = w;
	} else {
		w->qhead = w->qtail = NULL;
		w->next = *b;
		*b = w;
	}
	pthread_mutex_unlock(&r->mu);
	return !h;
}

void raid_unlock_unit(struct raid *r, struct raid_wait *w)
{
	struct raid_wait **p = lock_bucket(r, w->key);
	pthread_mutex_lock(&r->mu);
	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
	struct raid_wait *n = w->qhead;
	if (n) {
		n->qhead = n->next;
		n->qtail = n->next ? w->qtail : NULL;
		n->next = *p;
		*p = n;
	}
	pthread_mutex_unlock(&r->mu);
	if (n)
		raid_wake(n);
}

/* Write gathering (lun_raid_stripe.c): detach the waiters queued on holder
 * h, from the head, for as long as take() accepts them; the lock then
 * covers them too. Returns them oldest first, linked by next. take() runs
 * under r->mu and must only read fields fixed before the waiter queued. */
struct raid_wait *raid_lock_take_waiters(struct raid *r, struct raid_wait *h,
					 bool (*take)(struct raid_wait *w, void *ctx), void *ctx)
{
	pthread_mutex_lock(&r->mu);
	struct raid_wait *first = h->qhead, *last = NULL, *w = first;
	while (w && take(w, ctx)) {
		last = w;
		w = w->next;
	}
	if (last) {
		last->next = NULL;
		h->qhead = w;
		if (!w)
			h->qtail = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	return last ? first : NULL;
}

/* ---- superblock contents ---- */

static uint32_t state_flags(struct raid *r)
{
	uint32_t f = 0;
	for (uint32_t i = 0; i < (r->nregions + 7) / 8; i++)
		if (r->bm[i])
			f |= RAID_SB_DIRTY;
	for (int i = 0; i < r->n; i++)
		if (atomic_load(&r->m[i].state) != LUN_RAID_M_ACTIVE)
			f |= RAID_SB_DEGRADED;
	return f;
}

/* Caller holds r->mu. role: the member's role, or RAID_ROLE_SPARE. */
void raid_fill_sb(struct raid *r, struct raid_sb *sb, const struct raid_member *me, int role)
{
	memcpy(sb->uuid, r->uuid, 16);
	memcpy(sb->dev_uuid, me->dev_uuid, 16);
	sb->level = (uint32_t)r->level;
	sb->chunk = r->chunk;
	sb->nmembers = (uint32_t)r->n;
	sb->role = (uint32_t)role;
	sb->block_size = r->be.block_size;
	sb->state_flags = state_flags(r);
	sb->events = r->events;
	sb->seq = r->meta_seq;
	sb->data_offset = r->data_offset;
	sb->data_size = r->rows << r->chunk_shift;
	sb->region_size = r->region_size;
	sb->nregions = r->nregions;
	memset(sb->m, 0, sizeof(sb->m));
	for (int i = 0; i < r->n; i++) {
		sb->m[i].state = (uint32_t)atomic_load(&r->m[i].state);
		if (sb->m[i].state == LUN_RAID_M_REBUILDING)
			sb->m[i].recovery_row = atomic_load(&r->recovery_row);
		memcpy(sb->m[i].dev_uuid, r->m[i].dev_uuid, 16);
	}
	memcpy(sb->bitmap, r->bm, (r->nregions + 7) / 8);
}

/* ---- metadata writes ---- */

static void meta_kick_fn(struct kloop_task *t);

uint64_t raid_meta_request_locked(struct raid *r)
{
	uint64_t seq = ++r->meta_want;
	if (!r->meta_busy && !r->meta_kicked) {
		r->meta_kicked = true;
		r->meta_kick.fn = meta_kick_fn;
		if (kloop_current() == r->loop)
			kloop_defer(r->loop, &r->meta_kick);
		else
			kloop_post(r->loop, &r->meta_kick);
	}
	return seq;
}

bool raid_meta_wait(struct raid *r, uint64_t seq, struct raid_wait *w)
{
	pthread_mutex_lock(&r->mu);
	bool now = r->meta_done >= seq;
	if (!now) {
		w->key = seq;
		w->next = r->meta_waiters;
		r->meta_waiters = w;
	}
	pthread_mutex_unlock(&r->mu);
	w->result = atomic_load(&r->failed) ? -ENODEV : 0;
	return now;
}

/* Destinations: writable members and spares. Caller holds r->mu. */
static int meta_targets(struct raid *r)
{
	int c = 0;
	for (int i = 0; i < r->n; i++)
		if (r->m[i].be && raid_writable(r, i)) {
			r->meta_role[c] = i;
			r->meta_be[c++] = r->m[i].be;
		}
	for (int i = 0; i < r->nspares; i++) {
		r->meta_role[c] = -1;
		r->meta_be[c++] = r->spare[i].be;
	}
	return c;
}

static void meta_encode_all(struct raid *r, int cnt, struct raid_sb *sb)
{
	size_t len = raid_sb_len(r->nregions);
	for (int i = 0; i < cnt; i++) {
		int role = r->meta_role[i];
		const struct raid_member *me = &r->m[role < 0 ? 0 : role];
		for (int s = 0; role < 0 && s < r->nspares; s++)
			if (r->spare[s].be == r->meta_be[i])
				me = &r->spare[s];
		raid_fill_sb(r, sb, me, role < 0 ? (int)RAID_ROLE_SPARE : role);
		raid_sb_encode(sb, r->meta_buf + (size_t)i * len);
		r->meta_iov[i] = (struct iovec){ r->meta_buf + (size_t)i * len, len };
	}
}

static void meta_io_done(struct lun_io *io);

static void meta_issue(struct raid *r, int cnt)
{
	size_t len = raid_sb_len(r->nregions);
	r->meta_pending = cnt;
	for (int i = 0; i < cnt; i++) {
		struct lun_io *io = &r->meta_io[i];
		bool wr = r->meta_phase == 1;
		*io = (struct lun_io){ .op = wr ? LUN_OP_WRITE : LUN_OP_FLUSH,
				       .flags = wr ? LUN_IO_FUA : 0,
				       .offset = wr ? (r->meta_seq & 1) * RAID_SB_SLOT : 0,
				       .length = wr ? len : 0,
				       .iov = wr ? &r->meta_iov[i] : NULL,
				       .iovcnt = wr,
				       .loop = r->loop,
				       .done = meta_io_done,
				       .priv = r };
		lun_submit(r->meta_be[i], io);
	}
}

static void meta_drop_spare(struct raid *r, struct lun_backend *be)
{
	pthread_mutex_lock(&r->mu);
	for (int s = 0; s < r->nspares; s++)
		if (r->spare[s].be == be) {
			kwarn("raid: spare %s failed a metadata write; dropped", r->spare[s].path);
			r->retired[r->nretired++] = be;
			free(r->spare[s].path);
			r->spare[s] = r->spare[--r->nspares];
			break;
		}
	pthread_mutex_unlock(&r->mu);
}

static void meta_member_error(struct raid *r, int i)
{
	int role = r->meta_role[i];
	if (role < 0)
		return meta_drop_spare(r, r->meta_be[i]);
	if (r->m[role].be == r->meta_be[i])
		raid_member_failed(r, role);
}

static void meta_finish(struct raid *r)
{
	pthread_mutex_lock(&r->mu);
	r->meta_done = r->meta_seq;
	r->meta_busy = false;
	struct raid_wait **p = &r->meta_waiters, *ready = NULL;
	while (*p) {
		struct raid_wait *w = *p;
		if (w->key <= r->meta_done) {
			*p = w->next;
			w->result = r->meta_ok && !atomic_load(&r->failed) ? 0 : -ENODEV;
			w->next = ready;
			ready = w;
		} else {
			p = &w->next;
		}
	}
	if (r->meta_want > r->meta_done && !r->meta_kicked) {
		r->meta_kicked = true;
		kloop_defer(r->loop, &r->meta_kick);
	}
	pthread_mutex_unlock(&r->mu);
	wake_list(ready);
}

static void meta_io_done(struct lun_io *io)
{
	struct raid *r = io->priv;
	int i = (int)(io - r->meta_io);
	if (io->result < 0)
		meta_member_error(r, i);
	else if (r->meta_phase == 1)
		r->meta_ok++;
	if (--r->meta_pending)
		return;
	if (r->meta_phase == 0) {
		r->meta_phase = 1;
		return meta_issue(r, r->meta_npending_targets);
	}
	meta_finish(r);
}

static void meta_kick_fn(struct kloop_task *t)
{
	struct raid *r = container_of(t, struct raid, meta_kick);
	struct raid_sb *sb = malloc(sizeof(*sb));
	pthread_mutex_lock(&r->mu);
	r->meta_kicked = false;
	if (r->meta_busy || r->meta_want <= r->meta_done || !sb) {
		pthread_mutex_unlock(&r->mu);
		free(sb);
		return;
	}
	r->meta_busy = true;
	r->meta_seq = r->meta_want;
	r->meta_phase = r->meta_clearing ? 0 : 1;
	r->meta_clearing = false;
	r->meta_ok = 0;
	int cnt = meta_targets(r);
	meta_encode_all(r, cnt, sb);
	r->meta_npending_targets = cnt;
	pthread_mutex_unlock(&r->mu);
	free(sb);
	if (cnt == 0)
		return meta_finish(r);
	meta_issue(r, cnt);
}

/* ---- write-intent bitmap ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t region_of(const struct raid *r, uint64_t row)
{
	return (uint32_t)((row << r->chunk_shift) / r->region_size);
}

static bool bit_get(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] & (1u << (i % 8));
}
static void bit_put(uint8_t *bm, uint32_t i, bool v)
{
	if (v)
		bm[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bm[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

bool raid_bm_enter(struct raid *r, uint64_t row0, uint64_t row1, struct raid_wait *w)
{
	uint64_t now = mono_ms();
	pthread_mutex_lock(&r->mu);
	bool set = false;
	for (uint32_t g = region_of(r, row0); g <= region_of(r, row1); g++) {
		r->bm_inflight[g]++;
		r->bm_last_ms[g] = now;
		if (!bit_get(r->bm, g)) {
			bit_put(r->bm, g, true);
			set = true;
		}
	}
	if (set)
		r->bm_seq = raid_meta_request_locked(r);
	pthread_mutex_unlock(&r->mu);
	return raid_meta_wait(r, r->bm_seq, w);
}

void raid_bm_exit(struct raid *r, uint64_t row0, uint64_t row1)
{
	uint64_t now = mono_ms();
	pthread_mutex_lock(&r->mu);
	for (uint32_t g = region_of(r, row0); g <= region_of(r, row1); g++) {
		r->bm_inflight[g]--;
		r->bm_last_ms[g] = now;
	}
	pthread_mutex_unlock(&r->mu);
}

void raid_bm_clear_idle(struct raid *r)
{
	uint64_t now = mono_ms();
	bool any = false;
	pthread_mutex_lock(&r->mu);
	for (uint32_t g = 0; g < r->nregions; g++)
		if (bit_get(r->bm, g) && !r->bm_inflight[g] &&
		    now - r->bm_last_ms[g] >= r->idle_ms) {
			bit_put(r->bm, g, false);
			any = true;
		}
	if (any) {
		r->meta_clearing = true;
		raid_meta_request_locked(r);
	}
	pthread_mutex_unlock(&r->mu);
}

/* ---- member failure ---- */

void raid_member_failed(struct raid *r, int role)
{
	pthread_mutex_lock(&r->mu);
	int st = atomic_load(&r->m[role].state);
	if (st != LUN_RAID_M_ACTIVE && st != LUN_RAID_M_REBUILDING) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	atomic_store(&r->m[role].state, LUN_RAID_M_FAILED);
	r->events++;
	r->m[role].fail_seq = raid_meta_request_locked(r);
	bool alive = raid_survives(r);
	if (!alive)
		atomic_store(&r->failed, true);
	pthread_mutex_unlock(&r->mu);
	kerr("raid: member %d (%s) failed%s", role, r->m[role].path ? r->m[role].path : "?",
	     alive ? "; continuing degraded" : "; array FAILED (no longer enough members)");
}
