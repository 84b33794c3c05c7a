/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool: in-memory state and the metadata service thread (the control
 * API of lun_thin.h that calls into it is lun_thin_ctl.c).
 *
 * State: per volume a two-level map (virtual chunk -> physical chunk), per
 * physical chunk a refcount (number of volumes mapping it, +1 while an
 * allocation is in flight), a pin count (data I/Os in flight on it) and a bit
 * in the free bitmap. Snapshots and clones copy the origin's map and bump the
 * refcounts (sharing); a write to a chunk with refcount > 1 copies it first
 * (lun_thin_io.c). Lookups are O(1); allocation is a next-fit bitmap search
 * from a cursor (amortised O(1) while the pool is not nearly full).
 *
 * The service thread owns the metadata file. It runs its own kloop and
 * receives two kinds of work by kloop_post:
 *  - segments whose data is written and whose map update must become
 *    durable: they are batched (group commit) in a two-stage pipeline:
 *    data device FLUSH (so that a mapping never points at data still in a
 *    volatile cache), then one journal block written with RWF_DSYNC; then
 *    the updates are applied in memory and the segments are posted back to
 *    their loops, which acknowledge the I/O. Batch N+1 flushes while batch
 *    N's journal block is being written;
 *  - control operations (volume create/delete/resize, snapshot, clone,
 *    grow, checkpoint, check, open, stop), each journaled alone, run
 *    between batches, while their caller waits on a condition variable
 *    (thin_ctl_call) or, posted with thin_ctl_post, on its own loop.
 * A chunk whose refcount drops to 0 is released only while applying a
 * durable record, and only once no data I/O pins it, so it is never handed
 * to another volume before its free record is durable or while a stale read
 * or write is still in flight on it:
 *
 *   worker A: read vol1 chunk 7 -> p (pin p) ...... read done (unpin p)
 *   service:        UNMAP vol1/7 durable: ref[p]=0, pinned: defer  \-> free p
 *   worker B:                                          alloc gets p only now
 *
 * Not for: on-disk encoding (lun_thin_meta.c) or the data path (lun_thin_io.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THIN_BATCH_MAX 4096u

/* ---- maps ---- */

struct thin_vol *thin_vol_find(struct lun_thin_pool *pool, uint32_t id)
{
	for (uint32_t i = 0; i < pool->nvols; i++) /* control plane and replay only */
		if (pool->vols[i]->id == id)
			return pool->vols[i];
	return NULL;
}

uint32_t *thin_map_slot(struct thin_vol *v, uint64_t vc, bool create)
{
	uint64_t li = vc >> THIN_LEAF_SHIFT;
	if (!v->leaves[li]) {
		if (!create)
			return NULL;
		v->leaves[li] = calloc(THIN_LEAF_N, sizeof(uint32_t));
		if (!v->leaves[li])
			return NULL;
	}
	return &v->leaves[li][vc & (THIN_LEAF_N - 1)];
}

uint32_t thin_map_get(const struct thin_vol *v, uint64_t vc)
{
	const uint32_t *leaf = v->leaves[vc >> THIN_LEAF_SHIFT];
	return leaf ? leaf[vc & (THIN_LEAF_N - 1)] : 0;
}

void thin_vol_free(struct thin_vol *v)
{
	if (!v)
		return;
	for (uint64_t i = 0; i < v->nleaves; i++)
		free(v->leaves[i]);
	free(v->leaves);
	free(v);
}

static uint64_t vchunks_of(const struct lun_thin_pool *pool, uint64_t size)
{
	return (size + pool->chunk_size - 1) >> pool->chunk_shift;
}

static struct thin_vol *vol_new(struct lun_thin_pool *pool, uint32_t id, uint32_t flags,
				uint64_t size)
{
	struct thin_vol *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	*v = (struct thin_vol){ .id = id,
				.flags = flags & THIN_VOL_RO,
				.size = size,
				.nvchunks = vchunks_of(pool, size) };
	v->nleaves = (v->nvchunks + THIN_LEAF_N - 1) >> THIN_LEAF_SHIFT;
	v->leaves = calloc(v->nleaves ? v->nleaves : 1, sizeof(*v->leaves));
	if (!v->leaves) {
		free(v);
		return NULL;
	}
	return v;
}

static int vol_insert(struct lun_thin_pool *pool, struct thin_vol *v)
{
	if (pool->nvols == pool->capvols) {
		uint32_t cap = pool->capvols ? pool->capvols * 2 : 16;
		struct thin_vol **n = realloc(pool->vols, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		pool->vols = n;
		pool->capvols = cap;
	}
	pool->vols[pool->nvols++] = v;
	return 0;
}

static void vol_remove(struct lun_thin_pool *pool, struct thin_vol *v)
{
	for (uint32_t i = 0; i < pool->nvols; i++)
		if (pool->vols[i] == v) {
			pool->vols[i] = pool->vols[--pool->nvols];
			return;
		}
}

/* Calls fn on every mapped entry of v at or beyond virtual chunk from. */
static void vol_each(struct thin_vol *v, uint64_t from, void (*fn)(void *, uint32_t *), void *arg)
{
	for (uint64_t li = from >> THIN_LEAF_SHIFT; li < v->nleaves; li++) {
		uint32_t *leaf = v->leaves[li];
		uint64_t i = li == from >> THIN_LEAF_SHIFT ? from & (THIN_LEAF_N - 1) : 0;
		for (; leaf && i < THIN_LEAF_N; i++)
			if (leaf[i] & ~THIN_PENDING)
				fn(arg, &leaf[i]);
	}
}

/* ---- chunk state ---- */

static bool free_test(const struct lun_thin_pool *pool, uint64_t p)
{
	return pool->freemap[p / 64] >> (p % 64) & 1;
}

static void free_set(struct lun_thin_pool *pool, uint64_t p)
{
	pool->freemap[p / 64] |= 1ull << (p % 64);
	pool->nfree++;
	if (pool->lw_below && pool->nfree >= pool->lw)
		pool->lw_below = false;
}

void thin_low_water_check(struct lun_thin_pool *pool)
{
	if (pool->lw && pool->nfree < pool->lw && !pool->lw_below) {
		pool->lw_below = true;
		pool->lw_gen++;
		kwarn("thin pool: free chunks (%llu) below the low-water mark (%llu)",
		      (unsigned long long)pool->nfree, (unsigned long long)pool->lw);
		if (pool->lw_cb)
			pool->lw_cb(pool->lw_arg, pool->lw_gen);
	}
}

int thin_chunks_resize(struct lun_thin_pool *pool, uint64_t n)
{
	uint64_t old = pool->nr_chunks, ow = (old + 63) / 64, nw = (n + 63) / 64;
	uint32_t *ref = realloc(pool->ref, (n ? n : 1) * sizeof(*ref));
	if (ref)
		pool->ref = ref;
	uint16_t *pins = realloc(pool->pins, (n ? n : 1) * sizeof(*pins));
	if (pins)
		pool->pins = pins;
	uint64_t *fm = realloc(pool->freemap, (nw ? nw : 1) * sizeof(*fm));
	if (fm)
		pool->freemap = fm;
	if (!ref || !pins || !fm || n < old)
		return -ENOMEM;
	memset(ref + old, 0, (n - old) * sizeof(*ref));
	memset(pins + old, 0, (n - old) * sizeof(*pins));
	memset(fm + ow, 0, (nw - ow) * sizeof(*fm));
	pool->nr_chunks = n;
	for (uint64_t p = old; p < n; p++)
		free_set(pool, p);
	return 0;
}

static void ref_inc(struct lun_thin_pool *pool, uint32_t p)
{
	pool->ref[p]++;
}

/* Lock held, the record dropping this reference is durable. A chunk that
 * loses a sharer while pinned may still be read by the volume that just
 * stopped mapping it, so the remaining owner must not overwrite it in place
 * until those I/Os drain (STALE: its next write copies instead):
 *
 *   vol A: read v -> p (pin) .................................. done (unpin)
 *   vol A: write v: CoW p -> q, commit: ref[p] 2->1, pinned -> STALE
 *   clone C: write v -> p: STALE -> CoW too, not in place over A's read */
void thin_ref_dec(struct lun_thin_pool *pool, uint32_t p)
{
	bool pinned = pool->pins[p] & THIN_PIN_COUNT;
	if (--pool->ref[p])
		pool->pins[p] |= pinned ? THIN_PIN_STALE : 0;
	else if (pinned)
		pool->pins[p] |= THIN_PIN_FREE;
	else
		free_set(pool, p);
}

void thin_pin(struct lun_thin_pool *pool, uint32_t p)
{
	pool->pins[p]++;
}

void thin_unpin(struct lun_thin_pool *pool, uint32_t p)
{
	if (--pool->pins[p] & THIN_PIN_COUNT)
		return;
	bool release = pool->pins[p] & THIN_PIN_FREE;
	pool->pins[p] = 0;
	if (release)
		free_set(pool, p);
}

static int64_t free_find(const struct lun_thin_pool *pool)
{
	uint64_t nw = (pool->nr_chunks + 63) / 64, w = pool->cursor / 64;
	for (uint64_t i = 0; i <= nw; i++, w = (w + 1) % nw) {
		uint64_t bits = pool->freemap[w];
		if (i == 0)
			bits &= ~0ull << (pool->cursor % 64);
		if (bits)
			return (int64_t)(w * 64 + (uint64_t)__builtin_ctzll(bits));
	}
	return -1;
}

/* Lock held: reserve a free chunk (refcount 1, not yet mapped). */
int thin_alloc(struct lun_thin_pool *pool, uint32_t *out)
{
	if (pool->failed)
		return -EIO;
	int64_t p = pool->nfree ? free_find(pool) : -1;
	if (p < 0)
		return -ENOSPC;
	pool->freemap[p / 64] &= ~(1ull << (p % 64));
	pool->nfree--;
	pool->ref[p] = 1;
	pool->cursor = ((uint64_t)p + 1) % pool->nr_chunks;
	thin_low_water_check(pool);
	*out = (uint32_t)p;
	return 0;
}

struct thin_seg **thin_pend_head(struct lun_thin_pool *pool, const struct thin_vol *v, uint64_t vc)
{
	uint64_t h = (vc * 0x9e3779b97f4a7c15ull) ^ ((uintptr_t)v >> 4);
	return &pool->pend[(h ^ (h >> 29)) % THIN_PEND_BUCKETS];
}

static void unref_entry(void *arg, uint32_t *e)
{
	thin_ref_dec(arg, (*e & ~THIN_PENDING) - 1);
	*e = 0;
}

static void ref_entry(void *arg, uint32_t *e)
{
	ref_inc(arg, (*e & ~THIN_PENDING) - 1);
}

static void clear_entry(void *arg, uint32_t *e)
{
	*e = 0;
}

static void count_entry(void *arg, uint32_t *e);

/* O(leaves + mapped chunks), not O(virtual size): a 4 PiB overcommitted
 * volume opens as fast as a small one (it took hours chunk by chunk). */
int thin_rebuild_refs(struct lun_thin_pool *pool)
{
	memset(pool->ref, 0, pool->nr_chunks * sizeof(*pool->ref));
	memset(pool->freemap, 0, (pool->nr_chunks + 63) / 64 * sizeof(*pool->freemap));
	pool->nfree = 0;
	struct lun_thin_check_report rep = { 0 };
	void *arg[4] = { pool, pool->ref, &rep, NULL };
	for (uint32_t i = 0; i < pool->nvols; i++)
		vol_each(pool->vols[i], 0, count_entry, arg);
	if (rep.bad_mappings)
		return -EUCLEAN;
	for (uint64_t p = 0; p < pool->nr_chunks; p++)
		if (!pool->ref[p])
			free_set(pool, p);
	return 0;
}

/* ---- records: validation and application (replay and live) ---- */

static bool size_ok(const struct lun_thin_pool *pool, uint64_t size)
{
	return size && size % 4096 == 0 && vchunks_of(pool, size) < ((uint64_t)1 << 40);
}

static int check_map(struct lun_thin_pool *pool, const struct thin_rec *r, struct thin_vol *v)
{
	if (!v)
		return -ENOENT;
	if (r->a >= v->nvchunks || (r->type == THIN_R_MAP && r->b >= pool->nr_chunks))
		return -ERANGE;
	return 0;
}

static int rec_check(struct lun_thin_pool *pool, const struct thin_rec *r)
{
	struct thin_vol *v = thin_vol_find(pool, r->vol);
	switch (r->type) {
	case THIN_R_MAP:
	case THIN_R_UNMAP: return check_map(pool, r, v);
	case THIN_R_VOL_CREATE: return v ? -EEXIST : size_ok(pool, r->a) ? 0 : -EINVAL;
	case THIN_R_VOL_DELETE: return !v ? -ENOENT : v->opener ? -EBUSY : 0;
	case THIN_R_VOL_RESIZE:
		if (!v)
			return -ENOENT;
		return !size_ok(pool, r->a) ? -EINVAL : r->a < v->size && v->opener ? -EBUSY : 0;
	case THIN_R_CLONE: return v ? -EEXIST : thin_vol_find(pool, (uint32_t)r->a) ? 0 : -ENOENT;
	case THIN_R_GROW: return r->a > pool->nr_chunks && r->a <= THIN_MAX_CHUNKS ? 0 : -EINVAL;
	}
	return -EINVAL;
}

static int apply_map(struct lun_thin_pool *pool, const struct thin_rec *r, bool live)
{
	struct thin_vol *v = thin_vol_find(pool, r->vol);
	uint32_t *slot = thin_map_slot(v, r->a, true);
	if (!slot)
		return -ENOMEM;
	uint32_t old = *slot & ~THIN_PENDING;
	*slot = (*slot & THIN_PENDING) | (r->type == THIN_R_MAP ? (uint32_t)r->b + 1 : 0);
	if (live && r->type == THIN_R_MAP)
		ref_inc(pool, (uint32_t)r->b);
	if (live && old)
		thin_ref_dec(pool, old - 1);
	return 0;
}

static int apply_create(struct lun_thin_pool *pool, const struct thin_rec *r)
{
	struct thin_vol *v = vol_new(pool, r->vol, r->flags, r->a);
	if (!v || vol_insert(pool, v)) {
		thin_vol_free(v);
		return -ENOMEM;
	}
	return 0;
}

static void apply_delete(struct lun_thin_pool *pool, const struct thin_rec *r, bool live)
{
	struct thin_vol *v = thin_vol_find(pool, r->vol);
	vol_remove(pool, v);
	if (live)
		vol_each(v, 0, unref_entry, pool);
	thin_vol_free(v);
}

static int apply_resize(struct lun_thin_pool *pool, const struct thin_rec *r, bool live)
{
	struct thin_vol *v = thin_vol_find(pool, r->vol);
	uint64_t nv = vchunks_of(pool, r->a), nl = (nv + THIN_LEAF_N - 1) >> THIN_LEAF_SHIFT;
	vol_each(v, nv, live ? unref_entry : clear_entry, pool);
	for (uint64_t li = nl; li < v->nleaves; li++) {
		free(v->leaves[li]);
		v->leaves[li] = NULL;
	}
	if (nl > v->nleaves) {
		uint32_t **l = realloc(v->leaves, nl * sizeof(*l));
		if (!l)
			return -ENOMEM;
		memset(l + v->nleaves, 0, (nl - v->nleaves) * sizeof(*l));
		v->leaves = l;
	}
	v->nleaves = nl;
	v->nvchunks = nv;
	v->size = r->a;
	if (v->opener)
		v->opener->be.size = r->a;
	return 0;
}

static int apply_clone(struct lun_thin_pool *pool, const struct thin_rec *r, bool live)
{
	struct thin_vol *o = thin_vol_find(pool, (uint32_t)r->a);
	struct thin_vol *v = vol_new(pool, r->vol, r->flags, o->size);
	if (!v || vol_insert(pool, v)) {
		thin_vol_free(v);
		return -ENOMEM;
	}
	for (uint64_t li = 0; li < o->nleaves; li++) {
		if (!o->leaves[li])
			continue;
		if (!(v->leaves[li] = malloc(THIN_LEAF_N * sizeof(uint32_t))))
			return -ENOMEM;
		for (uint32_t i = 0; i < THIN_LEAF_N; i++)
			v->leaves[li][i] = o->leaves[li][i] & ~THIN_PENDING;
	}
	if (live)
		vol_each(v, 0, ref_entry, pool);
	return 0;
}

/* Lock held (live) or single-threaded (replay). Validates, then applies. */
int thin_apply(struct lun_thin_pool *pool, const struct thin_rec *r, bool live)
{
	int e = rec_check(pool, r);
	if (e)
		return e;
	switch (r->type) {
	case THIN_R_MAP:
	case THIN_R_UNMAP: return apply_map(pool, r, live);
	case THIN_R_VOL_CREATE: return apply_create(pool, r);
	case THIN_R_VOL_DELETE: apply_delete(pool, r, live); return 0;
	case THIN_R_VOL_RESIZE: return apply_resize(pool, r, live);
	case THIN_R_CLONE: return apply_clone(pool, r, live);
	case THIN_R_GROW: return thin_chunks_resize(pool, r->a);
	}
	return -EINVAL;
}

/* ---- service thread: group commit ---- */

static void svc_kick(struct lun_thin_pool *pool);

static void pool_fail(struct lun_thin_pool *pool, int r, const char *what)
{
	kerr("thin pool: %s failed (%s): allocation disabled until reopened", what, strerror(-r));
	pthread_mutex_lock(&pool->lock);
	pool->failed = true;
	pthread_mutex_unlock(&pool->lock);
}

static void maybe_checkpoint(struct lun_thin_pool *pool)
{
	if (pool->jused > pool->jsize / 4 && !pool->failed) {
		int r = thin_checkpoint(pool);
		if (r)
			pool_fail(pool, r, "checkpoint");
	}
}

/* Apply (or on failure undo) a journaled batch and hand it back. */
static void batch_finish(struct lun_thin_pool *pool, struct thin_seg *list, int res)
{
	if (res)
		pool_fail(pool, res, "journal commit");
	pthread_mutex_lock(&pool->lock);
	for (struct thin_seg *s = list; s; s = s->next) {
		if (res)
			thin_seg_abort_locked(pool, s);
		else
			thin_seg_apply(pool, s);
		s->waiters = thin_seg_take_waiters(pool, s);
	}
	pthread_mutex_unlock(&pool->lock);
	for (struct thin_seg *s = list, *next; s; s = next) {
		next = s->next;
		thin_seg_committed(s, res);
	}
}

static int batch_prepare(struct lun_thin_pool *pool, struct thin_seg *list)
{
	unsigned n = 0;
	for (struct thin_seg *s = list; s; s = s->next)
		n++;
	struct thin_rec *recs = calloc(n, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	n = 0;
	for (struct thin_seg *s = list; s; s = s->next)
		thin_seg_rec(s, &recs[n++]);
	int r = thin_journal_prepare(pool, recs, n, &pool->jb);
	free(recs);
	return r;
}

static void journal_done(struct kloop_completion *c, int res, uint32_t flags)
{
	struct lun_thin_pool *pool = container_of(c, struct lun_thin_pool, jc);
	struct thin_seg *list = pool->journaling;
	pool->journaling = NULL;
	if (res >= 0 && (uint64_t)res == pool->jb.len) {
		thin_journal_advance(pool, &pool->jb);
		res = 0;
	} else {
		free(pool->jb.buf);
		pool->jb.buf = NULL;
		res = res < 0 ? res : -EIO;
	}
	batch_finish(pool, list, res);
	maybe_checkpoint(pool);
	svc_kick(pool);
}

/* Stage 2: one journal block for the flushed batch, written with RWF_DSYNC
 * through the service loop's ring (so the next batch's flush overlaps it). */
static void journal_start(struct lun_thin_pool *pool)
{
	struct thin_seg *list = pool->ready;
	pool->ready = NULL;
	int r = pool->failed ? -EIO : batch_prepare(pool, list);
	struct io_uring_sqe *sqe = r ? NULL : kloop_sqe(pool->svc);
	if (!sqe) {
		free(pool->jb.buf);
		pool->jb.buf = NULL;
		return batch_finish(pool, list, r ? r : -EIO);
	}
	pool->journaling = list;
	io_uring_prep_write(sqe, pool->fd, pool->jb.buf, (unsigned)pool->jb.len,
			    THIN_JOURNAL_OFF + pool->jb.pos);
	sqe->rw_flags = RWF_DSYNC;
	pool->jc.fn = journal_done;
	kloop_sqe_done(pool->svc, sqe, &pool->jc);
}

static void commit_flush_done(struct lun_io *io)
{
	struct lun_thin_pool *pool = io->priv;
	struct thin_seg *list = pool->flushing;
	pool->flushing = NULL;
	if (io->result)
		batch_finish(pool, list, io->result);
	else
		pool->ready = list;
	svc_kick(pool);
}

/* Stage 1: take a batch and flush the data device under it, so that no
 * mapping can become durable before the data it points at. */
static void flush_start(struct lun_thin_pool *pool)
{
	struct thin_seg **tail = &pool->batch;
	bool need_flush = false;
	/* one block's two copies fit a quarter of the ring once rounded up to
	 * whole sectors (thin_journal_prepare's limit): count sectors, not bytes */
	uint64_t max = ((pool->jsize / 8) / THIN_SECTOR * THIN_SECTOR - THIN_JHDR) / THIN_REC;
	for (unsigned n = 0; *tail && n < THIN_BATCH_MAX && n < max; n++) {
		need_flush |= (*tail)->st != THIN_ST_UNMAP;
		tail = &(*tail)->next;
	}
	struct thin_seg *list = pool->batch;
	pool->batch = *tail;
	*tail = NULL;
	if (!pool->batch)
		pool->batch_tail = &pool->batch;
	if (!need_flush || !pool->data->volatile_cache) {
		pool->ready = list;
		return;
	}
	pool->flushing = list;
	pool->flush_io = (struct lun_io){ .op = LUN_OP_FLUSH,
					  .loop = pool->svc,
					  .done = commit_flush_done,
					  .priv = pool };
	lun_submit(pool->data, &pool->flush_io);
}

static void seg_arrive(struct kloop_task *t)
{
	struct thin_seg *s = container_of(t, struct thin_seg, t);
	struct lun_thin_pool *pool = s->req->pool;
	s->next = NULL;
	*pool->batch_tail = s;
	pool->batch_tail = &s->next;
	svc_kick(pool);
}

/* Any thread: queue s (data written) for the next group commit. */
void thin_commit_post(struct lun_thin_pool *pool, struct thin_seg *s)
{
	s->t.fn = seg_arrive;
	kloop_post(pool->svc, &s->t);
}

/* ---- service thread: control operations ---- */

static int check_run(struct lun_thin_pool *pool, bool repair, struct lun_thin_check_report *rep);

static int ctl_rec(struct lun_thin_pool *pool, const struct thin_rec *r)
{
	pthread_mutex_lock(&pool->lock);
	int e = pool->failed ? -EIO : rec_check(pool, r);
	pthread_mutex_unlock(&pool->lock);
	if (e)
		return e;
	e = thin_journal_append(pool, r, 1);
	if (e) {
		pool_fail(pool, e, "journal write");
		return e;
	}
	pthread_mutex_lock(&pool->lock);
	e = thin_apply(pool, r, true);
	pthread_mutex_unlock(&pool->lock);
	if (e) /* durable but not applied (out of memory): only a reopen repairs that */
		pool_fail(pool, e, "applying a journaled record");
	maybe_checkpoint(pool);
	return e;
}

static int ctl_open(struct lun_thin_pool *pool, struct thin_ctl *c)
{
	pthread_mutex_lock(&pool->lock);
	struct thin_vol *v = thin_vol_find(pool, c->rec.vol);
	int r = !v          ? -ENOENT
		: v->opener ? -EBUSY
			    : thin_open_backend(pool, v, c->block_size, c->out);
	pthread_mutex_unlock(&pool->lock);
	return r;
}

static int ctl_exec(struct lun_thin_pool *pool, struct thin_ctl *c)
{
	switch (c->op) {
	case CTL_REC: return ctl_rec(pool, &c->rec);
	case CTL_OPEN: return ctl_open(pool, c);
	case CTL_CHECKPOINT: return pool->failed ? -EIO : thin_checkpoint(pool);
	case CTL_CHECK: return check_run(pool, c->flag, c->rep);
	case CTL_STOP:
		kloop_stop(pool->svc);
		return c->flag && !pool->failed ? thin_checkpoint(pool) : 0;
	case CTL_FN: {
		int r = c->fn(pool, c->arg);
		maybe_checkpoint(pool);
		return r;
	}
	}
	return -EINVAL;
}

/* Control operations write the journal themselves (blocking), so they run
 * only between journal blocks; batches pipeline: while one batch's journal
 * block is written, the next one's data flush runs. */
static void svc_kick(struct lun_thin_pool *pool)
{
	while (!pool->journaling && !pool->ready && pool->ctlq) {
		struct thin_ctl *c = pool->ctlq;
		pool->ctlq = c->next;
		if (!pool->ctlq)
			pool->ctlq_tail = &pool->ctlq;
		int r = ctl_exec(pool, c);
		if (c->done_cb) { /* thin_ctl_post: the caller does not wait */
			c->result = r;
			c->done_cb(c);
			continue;
		}
		pthread_mutex_lock(&pool->ctl_mu);
		c->result = r;
		c->done = true;
		pthread_cond_broadcast(&pool->ctl_cv);
		pthread_mutex_unlock(&pool->ctl_mu);
	}
	/* journal_start may fail a batch at once (pool failed, block refused):
	 * then nothing is in flight to kick us again, so go on with the next */
	do {
		if (!pool->flushing && !pool->ready && pool->batch)
			flush_start(pool);
		if (!pool->journaling && pool->ready)
			journal_start(pool);
	} while (!pool->flushing && !pool->journaling && !pool->ready && pool->batch);
}

static void ctl_arrive(struct kloop_task *t)
{
	struct thin_ctl *c = (struct thin_ctl *)t;
	struct lun_thin_pool *pool = c->pool;
	c->next = NULL;
	*pool->ctlq_tail = c;
	pool->ctlq_tail = &c->next;
	svc_kick(pool);
}

/* Control thread: run c on the service thread and wait for its result. */
int thin_ctl_call(struct lun_thin_pool *pool, struct thin_ctl *c)
{
	c->pool = pool;
	c->t.fn = ctl_arrive;
	c->done = false;
	kloop_post(pool->svc, &c->t);
	pthread_mutex_lock(&pool->ctl_mu);
	while (!c->done)
		pthread_cond_wait(&pool->ctl_cv, &pool->ctl_mu);
	pthread_mutex_unlock(&pool->ctl_mu);
	return c->result;
}

int thin_ctl_run(struct lun_thin_pool *pool, int (*fn)(struct lun_thin_pool *, void *), void *arg)
{
	struct thin_ctl c = { .op = CTL_FN, .fn = fn, .arg = arg };
	return thin_ctl_call(pool, &c);
}

void thin_ctl_post(struct lun_thin_pool *pool, struct thin_ctl *c)
{
	c->pool = pool;
	c->op = CTL_FN;
	c->t.fn = ctl_arrive;
	c->done = false;
	kloop_post(pool->svc, &c->t);
}

int thin_ctl_record(struct lun_thin_pool *pool, struct thin_rec r)
{
	struct thin_ctl c = { .op = CTL_REC, .rec = r };
	return thin_ctl_call(pool, &c);
}

/* ---- check ---- */

static void count_entry(void *arg, uint32_t *e)
{
	void **a = arg;
	struct lun_thin_pool *pool = a[0];
	uint32_t *exp = a[1];
	struct lun_thin_check_report *rep = a[2];
	uint32_t p = (*e & ~THIN_PENDING) - 1;
	if (p < pool->nr_chunks) {
		exp[p]++;
		return;
	}
	rep->bad_mappings++;
	if (a[3])
		*e = 0;
}

static void check_chunk(struct lun_thin_pool *pool, uint64_t p, uint32_t exp, bool repair,
			struct lun_thin_check_report *rep)
{
	bool fr = free_test(pool, p);
	if (pool->ref[p] != exp) {
		rep->bad_refcounts++;
		if (repair)
			pool->ref[p] = exp;
	}
	if (exp && fr) {
		rep->free_and_mapped++;
		if (repair) {
			pool->freemap[p / 64] &= ~(1ull << (p % 64));
			pool->nfree--;
		}
	} else if (!exp && !fr && !(pool->pins[p] & THIN_PIN_COUNT)) {
		rep->leaked++;
		if (repair)
			free_set(pool, p);
	}
}

static int check_run(struct lun_thin_pool *pool, bool repair, struct lun_thin_check_report *rep)
{
	*rep = (struct lun_thin_check_report){ 0 };
	uint32_t *exp = calloc(pool->nr_chunks ? pool->nr_chunks : 1, sizeof(*exp));
	if (!exp)
		return -ENOMEM;
	void *arg[4] = { pool, exp, rep, repair ? pool : NULL };
	pthread_mutex_lock(&pool->lock);
	for (uint32_t i = 0; i < pool->nvols; i++)
		vol_each(pool->vols[i], 0, count_entry, arg);
	for (uint64_t p = 0; p < pool->nr_chunks; p++)
		check_chunk(pool, p, exp[p], repair, rep);
	pthread_mutex_unlock(&pool->lock);
	free(exp);
	bool bad = rep->bad_mappings || rep->bad_refcounts || rep->free_and_mapped || rep->leaked;
	if (!bad)
		return 0;
	kwarn("thin check: %llu bad mappings, %llu bad refcounts, %llu free-and-mapped, %llu leaked%s",
	      (unsigned long long)rep->bad_mappings, (unsigned long long)rep->bad_refcounts,
	      (unsigned long long)rep->free_and_mapped, (unsigned long long)rep->leaked,
	      repair ? " (repairing)" : "");
	if (!repair)
		return -EUCLEAN;
	rep->repaired = true;
	return thin_checkpoint(pool);
}

/* ---- pool lifetime ---- */

static struct lun_thin_pool *pool_alloc(struct lun_backend *data)
{
	struct lun_thin_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_mutex_init(&pool->ctl_mu, NULL);
	pthread_cond_init(&pool->ctl_cv, NULL);
	pool->data = data;
	pool->fd = -1;
	pool->ck_slot = 1;
	pool->batch_tail = &pool->batch;
	pool->ctlq_tail = &pool->ctlq;
	return pool;
}

static void pool_free(struct lun_thin_pool *pool)
{
	if (pool->thr_started)
		pthread_join(pool->thr, NULL);
	kloop_free(pool->svc);
	for (uint32_t i = 0; i < pool->nvols; i++)
		thin_vol_free(pool->vols[i]);
	free(pool->vols);
	free(pool->ref);
	free(pool->pins);
	free(pool->freemap);
	free(pool->zero);
	if (pool->fd >= 0)
		close(pool->fd);
	pthread_mutex_destroy(&pool->lock);
	pthread_mutex_destroy(&pool->ctl_mu);
	pthread_cond_destroy(&pool->ctl_cv);
	free(pool);
}

static void *svc_main(void *arg)
{
	struct lun_thin_pool *pool = arg;
	kloop_run(pool->svc);
	return NULL;
}

static int pool_start(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	if (posix_memalign(&pool->zero, 4096, pool->chunk_size)) {
		pool->zero = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(pool->zero, 0, pool->chunk_size);
	pool->svc = kloop_new(64);
	int r = pool->svc ? pthread_create(&pool->thr, NULL, svc_main, pool) : errno;
	if (r) {
		snprintf(err, errlen, "cannot start the thin metadata thread: %s", strerror(r));
		return -r;
	}
	pool->thr_started = true;
	return 0;
}

/* Stop the service thread; with checkpoint, write a final checkpoint first.
 * Without, the pool is dropped as if the process had crashed (tests). */
void thin_pool_shutdown(struct lun_thin_pool *pool, bool checkpoint, int *result)
{
	struct thin_ctl c = { .op = CTL_STOP, .flag = checkpoint };
	int r = pool->thr_started ? thin_ctl_call(pool, &c) : 0;
	if (result)
		*result = r;
	pool_free(pool);
}

static int create_params(const struct lun_thin_pool_params *p, uint32_t *cs, uint64_t *chunks,
			 uint64_t *js, char *err, size_t errlen)
{
	*cs = p->chunk_size ? p->chunk_size : LUN_THIN_CHUNK_DEFAULT;
	*js = p->journal_bytes ? p->journal_bytes : THIN_JOURNAL_DEFAULT;
	uint64_t bytes = p->data_bytes ? p->data_bytes : p->data ? p->data->size : 0;
	if (!p->meta_path || !p->data || bytes > p->data->size) {
		snprintf(
			err, errlen,
			"thin pool needs a metadata path and a data backend of at least data_bytes");
		return -EINVAL;
	}
	if (*cs < LUN_THIN_CHUNK_MIN || *cs > LUN_THIN_CHUNK_MAX || (*cs & (*cs - 1))) {
		snprintf(err, errlen, "chunk size %u: must be a power of two from 64 KiB to 1 MiB",
			 *cs);
		return -EINVAL;
	}
	if (*js < THIN_JOURNAL_MIN || *js % THIN_SECTOR) {
		snprintf(err, errlen,
			 "journal size must be a multiple of 4 KiB and at least 64 KiB");
		return -EINVAL;
	}
	*chunks = bytes / *cs;
	if (*chunks == 0 || *chunks > THIN_MAX_CHUNKS) {
		snprintf(err, errlen, "data device holds %llu chunks (1..%u allowed)",
			 (unsigned long long)*chunks, THIN_MAX_CHUNKS);
		return -EINVAL;
	}
	return 0;
}

static int create_format(struct lun_thin_pool *pool, uint64_t chunks, char *err, size_t errlen)
{
	int r = thin_chunks_resize(pool, chunks);
	pool->jseq = 1;
	if (!r)
		r = thin_sb_write(pool);
	for (int i = 0; !r && i < 2; i++) /* both slots valid from the start */
		r = thin_checkpoint(pool);
	if (r)
		snprintf(err, errlen, "cannot write the metadata file: %s", strerror(-r));
	return r;
}

int lun_thin_pool_create(const struct lun_thin_pool_params *p, struct lun_thin_pool **out,
			 char *err, size_t errlen)
{
	uint32_t cs;
	uint64_t chunks, js;
	*out = NULL;
	int r = create_params(p, &cs, &chunks, &js, err, errlen);
	if (r)
		return r;
	struct lun_thin_pool *pool = pool_alloc(p->data);
	if (!pool)
		return -ENOMEM;
	pool->chunk_size = cs;
	pool->chunk_shift = (uint32_t)__builtin_ctz(cs);
	pool->jsize = js;
	r = thin_meta_create(pool, p, err, errlen); /* lun_thin_format.c */
	if (r < 0) {
		pool_free(pool);
		return r;
	}
	r = create_format(pool, chunks, err, errlen);
	if (!r)
		r = pool_start(pool, err, errlen);
	if (r) {
		unlink(p->meta_path);
		pool_free(pool);
		return r;
	}
	*out = pool;
	return 0;
}

static int open_load(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	int r = thin_sb_read(pool, err, errlen);
	if (!r)
		r = thin_load(pool, err, errlen);
	if (!r && (pool->nr_chunks << pool->chunk_shift) > pool->data->size) {
		snprintf(err, errlen,
			 "data device (%llu bytes) is smaller than the pool (%llu chunks)",
			 (unsigned long long)pool->data->size, (unsigned long long)pool->nr_chunks);
		r = -EINVAL;
	}
	if (!r && (r = thin_checkpoint(pool)))
		snprintf(err, errlen, "cannot write a checkpoint: %s", strerror(-r));
	return r;
}

int lun_thin_pool_open(const struct lun_thin_pool_params *p, struct lun_thin_pool **out, char *err,
		       size_t errlen)
{
	*out = NULL;
	if (!p->meta_path || !p->data) {
		snprintf(err, errlen, "thin pool needs a metadata path and a data backend");
		return -EINVAL;
	}
	struct lun_thin_pool *pool = pool_alloc(p->data);
	if (!pool)
		return -ENOMEM;
	pool->fd = thin_meta_open(pool, p); /* lun_thin_format.c */
	int r = pool->fd < 0 ? -errno : 0;
	if (r)
		snprintf(err, errlen, "cannot open %s: %s", p->meta_path, strerror(-r));
	if (!r && (r = open_load(pool, err, errlen)))
		kerr("thin pool %s: %s", p->meta_path, err);
	if (!r)
		r = pool_start(pool, err, errlen);
	if (r) {
		pool_free(pool);
		return r;
	}
	*out = pool;
	return 0;
}

int lun_thin_pool_close(struct lun_thin_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	bool busy = false;
	for (uint32_t i = 0; i < pool->nvols; i++)
		busy |= pool->vols[i]->opener != NULL;
	pthread_mutex_unlock(&pool->lock);
	if (busy)
		return -EBUSY;
	int r;
	thin_pool_shutdown(pool, true, &r);
	return r;
}
