/* SPDX-License-Identifier: Apache-2.0 */
/* Thin volume data path: the lun_backend of an opened thin volume.
 *
 * A request is cut into one segment per virtual chunk it touches; each
 * segment looks up its chunk under the pool lock and then:
 *  - mapped, not shared: pins the physical chunk and reads/writes it in place
 *    (FUA passed through; no metadata at all);
 *  - unmapped: reads return zeros without touching the data device; the first
 *    write reserves a free chunk and writes the WHOLE chunk (zeros around the
 *    data), so the rest of the chunk reads as zeros without any per-block
 *    metadata (cost: a 64 KiB write for a 4 KiB first write at the default
 *    chunk size); then the mapping goes to the service thread for group
 *    commit and the write is acknowledged only once the data is written, the
 *    data device flushed and the mapping record durable;
 *  - shared (refcount > 1, i.e. with a snapshot or clone): copy-on-write:
 *    read the old chunk into a kbuf, lay the new data over it, write it to a
 *    fresh chunk, commit the new mapping (the old chunk's refcount drops);
 *  - UNMAP of a whole chunk commits an unmap record (the chunk is released
 *    once durable and unpinned); a partial chunk gets zeros written instead.
 * While an allocation, copy or unmap of a chunk is in flight its map entry
 * carries THIN_PENDING and every other segment touching that chunk waits on
 * the owner (found through the pool's pending hash) and restarts after the
 * commit; so two 4 KiB writes racing into one new chunk allocate it once.
 *
 * Completions of the data device arrive on the request's loop; commits are
 * posted back to it; the request completes through kloop_defer, never
 * inline. One allocation per request (segments + child iovecs); out of
 * memory retries through kbuf_wait.
 *
 * Not for: metadata encoding or commit (lun_thin_meta.c, lun_thin_pool.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/kbuf.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define THIN_BS_SCAN 65536u /* chunks block status looks at per call */

struct thin_retry {
	struct kloop_task t;
	struct lun_backend *be;
};
lun_priv_fits(struct thin_retry);

static struct thin_seg *seg_of_task(struct kloop_task *t)
{
	return container_of(t, struct thin_seg, t);
}

static struct thin_vol *seg_vol(const struct thin_seg *s)
{
	return s->req->to->vol;
}

/* ---- completion ---- */

static void req_finish(struct kloop_task *t)
{
	struct thin_req *q = container_of(t, struct thin_req, done_t);
	struct lun_io *io = q->io;
	for (int i = 0; i < q->nseg; i++)
		kbuf_free(q->seg[i].buf);
	io->result = q->result;
	free(q);
	io->done(io);
}

static void seg_done(struct thin_seg *s, int res)
{
	struct thin_req *q = s->req;
	if (res && !q->result)
		q->result = res;
	if (--q->left == 0) {
		q->done_t.fn = req_finish;
		kloop_defer(q->io->loop, &q->done_t);
	}
}

/* ---- pending table ---- */

static void pend_insert(struct lun_thin_pool *pool, struct thin_seg *s)
{
	struct thin_seg **head = thin_pend_head(pool, seg_vol(s), s->vc);
	s->hnext = *head;
	s->waiters = NULL;
	*head = s;
}

static void pend_wait(struct lun_thin_pool *pool, struct thin_seg *s)
{
	struct thin_seg *o = *thin_pend_head(pool, seg_vol(s), s->vc);
	while (o->vc != s->vc || seg_vol(o) != seg_vol(s))
		o = o->hnext; /* present: the entry is PENDING */
	s->next = o->waiters;
	o->waiters = s;
}

struct thin_seg *thin_seg_take_waiters(struct lun_thin_pool *pool, struct thin_seg *s)
{
	struct thin_seg **pp = thin_pend_head(pool, seg_vol(s), s->vc);
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	struct thin_seg *w = s->waiters;
	s->waiters = NULL;
	return w;
}

static void seg_start(struct thin_seg *s);

static void redrive_fn(struct kloop_task *t)
{
	seg_start(seg_of_task(t));
}

void thin_seg_redrive(struct thin_seg *w)
{
	for (struct thin_seg *next; w; w = next) {
		next = w->next;
		w->t.fn = redrive_fn;
		kloop_post(w->req->io->loop, &w->t);
	}
}

/* ---- commit hooks (service thread) ---- */

void thin_seg_rec(const struct thin_seg *s, struct thin_rec *r)
{
	*r = (struct thin_rec){ .type = s->st == THIN_ST_UNMAP ? THIN_R_UNMAP : THIN_R_MAP,
				.vol = seg_vol(s)->id,
				.a = s->vc,
				.b = s->newp };
}

void thin_seg_apply(struct lun_thin_pool *pool, struct thin_seg *s)
{
	uint32_t *slot = thin_map_slot(seg_vol(s), s->vc, false);
	uint32_t old = *slot & ~THIN_PENDING;
	*slot = s->st == THIN_ST_UNMAP ? 0 : s->newp + 1; /* the reservation becomes the mapping */
	if (old)
		thin_ref_dec(pool, old - 1);
}

void thin_seg_abort_locked(struct lun_thin_pool *pool, struct thin_seg *s)
{
	uint32_t *slot = thin_map_slot(seg_vol(s), s->vc, false);
	*slot &= ~THIN_PENDING;
	if (s->st != THIN_ST_UNMAP)
		thin_ref_dec(pool, s->newp); /* never published: free at once */
}

static void committed_fn(struct kloop_task *t)
{
	struct thin_seg *s = seg_of_task(t);
	seg_done(s, s->result);
}

void thin_seg_committed(struct thin_seg *s, int result)
{
	struct thin_seg *w = s->waiters;
	s->waiters = NULL;
	s->result = result;
	s->t.fn = committed_fn;
	kloop_post(s->req->io->loop, &s->t);
	thin_seg_redrive(w);
}

/* Worker: the data phase of an allocation failed. */
static void seg_abort(struct thin_seg *s, int res)
{
	struct lun_thin_pool *pool = s->req->pool;
	pthread_mutex_lock(&pool->lock);
	thin_seg_abort_locked(pool, s);
	struct thin_seg *w = thin_seg_take_waiters(pool, s);
	pthread_mutex_unlock(&pool->lock);
	thin_seg_redrive(w);
	seg_done(s, res);
}

/* ---- child I/O to the data device ---- */

static void add_iov(struct thin_seg *s, void *base, size_t len)
{
	if (len)
		s->iov[s->iovcnt++] = (struct iovec){ base, len };
}

/* The segment's source/destination bytes: the request's iovec window, or zeros. */
static void add_window(struct thin_seg *s)
{
	struct lun_io *io = s->req->io;
	if (s->zero_src)
		return add_iov(s, s->req->pool->zero, s->len);
	uint64_t skip = s->skip, left = s->len;
	for (int i = 0; i < io->iovcnt && left; i++) {
		if (skip >= io->iov[i].iov_len) {
			skip -= io->iov[i].iov_len;
			continue;
		}
		size_t n = io->iov[i].iov_len - skip;
		n = n > left ? left : n;
		add_iov(s, (char *)io->iov[i].iov_base + skip, n);
		left -= n;
		skip = 0;
	}
}

static void child_submit(struct thin_seg *s, enum lun_op op, uint64_t off, uint64_t len,
			 unsigned flags, void (*done)(struct lun_io *))
{
	s->child = (struct lun_io){ .op = op,
				    .flags = flags,
				    .offset = off,
				    .length = len,
				    .iov = s->iov,
				    .iovcnt = s->iovcnt,
				    .loop = s->req->io->loop,
				    .done = done,
				    .priv = s };
	lun_submit(s->req->pool->data, &s->child);
}

static uint64_t chunk_off(const struct thin_seg *s, uint32_t p)
{
	return ((uint64_t)p << s->req->pool->chunk_shift) + s->off;
}

static void unpin_seg(struct thin_seg *s)
{
	struct lun_thin_pool *pool = s->req->pool;
	pthread_mutex_lock(&pool->lock);
	thin_unpin(pool, s->p);
	pthread_mutex_unlock(&pool->lock);
	s->pinned = false;
}

static void inplace_done(struct lun_io *c)
{
	struct thin_seg *s = c->priv;
	unpin_seg(s);
	seg_done(s, c->result);
}

/* Mapped and not shared: read or write the chunk in place. */
static void do_inplace(struct thin_seg *s)
{
	struct lun_io *io = s->req->io;
	s->iovcnt = 0;
	add_window(s);
	enum lun_op op = s->kind == THIN_S_READ ? LUN_OP_READ : LUN_OP_WRITE;
	child_submit(s, op, chunk_off(s, s->p), s->len, io->flags & LUN_IO_FUA, inplace_done);
}

static void new_chunk_done(struct lun_io *c)
{
	struct thin_seg *s = c->priv;
	if (c->result)
		return seg_abort(s, c->result);
	thin_commit_post(s->req->pool, s); /* acknowledged when the mapping is durable */
}

/* First write to a chunk: the whole chunk, zeros around the data. */
static void do_alloc(struct thin_seg *s)
{
	struct lun_thin_pool *pool = s->req->pool;
	s->iovcnt = 0;
	add_iov(s, pool->zero, s->off);
	add_window(s);
	add_iov(s, pool->zero, pool->chunk_size - s->off - s->len);
	child_submit(s, LUN_OP_WRITE, (uint64_t)s->newp << pool->chunk_shift, pool->chunk_size, 0,
		     new_chunk_done);
}

static void cow_read_done(struct lun_io *c)
{
	struct thin_seg *s = c->priv;
	struct lun_thin_pool *pool = s->req->pool;
	unpin_seg(s);
	if (c->result)
		return seg_abort(s, c->result);
	struct lun_io *io = s->req->io;
	if (s->zero_src)
		memset((char *)s->buf + s->off, 0, s->len);
	else
		kiov_to_buf(io->iov, io->iovcnt, s->skip, (char *)s->buf + s->off, s->len);
	s->iov[0] = (struct iovec){ s->buf, pool->chunk_size };
	s->iovcnt = 1;
	child_submit(s, LUN_OP_WRITE, (uint64_t)s->newp << pool->chunk_shift, pool->chunk_size, 0,
		     new_chunk_done);
}

/* Shared chunk: copy it to the new chunk with the new data laid over. */
static void do_cow(struct thin_seg *s)
{
	struct lun_thin_pool *pool = s->req->pool;
	s->iov[0] = (struct iovec){ s->buf, pool->chunk_size };
	s->iovcnt = 1;
	child_submit(s, LUN_OP_READ, (uint64_t)s->p << pool->chunk_shift, pool->chunk_size, 0,
		     cow_read_done);
}

static void seg_flush_done(struct lun_io *c)
{
	seg_done(c->priv, c->result);
}

/* ---- planning (pool lock held) ---- */

enum thin_act {
	ACT_DONE,
	ACT_WAIT,
	ACT_ZERO,
	ACT_INPLACE,
	ACT_ALLOC,
	ACT_COW,
	ACT_COMMIT,
	ACT_NEEDBUF
};

static void pin_seg(struct lun_thin_pool *pool, struct thin_seg *s, uint32_t p)
{
	s->p = p;
	s->pinned = true;
	thin_pin(pool, p);
}

/* Reserve a chunk and mark the entry pending. */
static enum thin_act plan_new(struct lun_thin_pool *pool, struct thin_seg *s, uint32_t e, int *res)
{
	uint32_t *slot = thin_map_slot(seg_vol(s), s->vc, true);
	*res = slot ? thin_alloc(pool, &s->newp) : -ENOMEM;
	if (*res)
		return ACT_DONE;
	*slot |= THIN_PENDING;
	pend_insert(pool, s);
	if (!e) {
		s->st = THIN_ST_ALLOC;
		return ACT_ALLOC;
	}
	s->st = THIN_ST_COW;
	pin_seg(pool, s, e - 1);
	return ACT_COW;
}

static enum thin_act plan_write(struct lun_thin_pool *pool, struct thin_seg *s, uint32_t e,
				int *res)
{
	if (!e && s->keep_holes)
		return ACT_DONE;
	if (e && pool->ref[e - 1] == 1 && !(pool->pins[e - 1] & THIN_PIN_STALE)) {
		pin_seg(pool, s, e - 1);
		return ACT_INPLACE;
	}
	if (e && !s->buf)
		return ACT_NEEDBUF;
	return plan_new(pool, s, e, res);
}

static enum thin_act plan(struct lun_thin_pool *pool, struct thin_seg *s, int *res)
{
	uint32_t e = thin_map_get(seg_vol(s), s->vc);
	if (e & THIN_PENDING) {
		pend_wait(pool, s);
		return ACT_WAIT;
	}
	switch (s->kind) {
	case THIN_S_READ:
		if (!e)
			return ACT_ZERO;
		pin_seg(pool, s, e - 1);
		return ACT_INPLACE;
	case THIN_S_UNMAP:
		if (!e)
			return ACT_DONE;
		*thin_map_slot(seg_vol(s), s->vc, false) |= THIN_PENDING;
		s->st = THIN_ST_UNMAP;
		pend_insert(pool, s);
		return ACT_COMMIT;
	case THIN_S_WRITE: return plan_write(pool, s, e, res);
	case THIN_S_FLUSH: break;
	}
	return ACT_DONE;
}

static void buf_retry(struct kloop_task *t)
{
	seg_start(seg_of_task(t));
}

static void seg_start(struct thin_seg *s)
{
	struct lun_thin_pool *pool = s->req->pool;
	if (s->kind == THIN_S_FLUSH)
		return child_submit(s, LUN_OP_FLUSH, 0, 0, 0, seg_flush_done);
	int res = 0;
	pthread_mutex_lock(&pool->lock);
	enum thin_act a = plan(pool, s, &res);
	pthread_mutex_unlock(&pool->lock);
	switch (a) {
	case ACT_DONE: return seg_done(s, res);
	case ACT_WAIT: return;
	case ACT_ZERO:
		kiov_zero(s->req->io->iov, s->req->io->iovcnt, s->skip, s->len);
		return seg_done(s, 0);
	case ACT_INPLACE: return do_inplace(s);
	case ACT_ALLOC: return do_alloc(s);
	case ACT_COW: return do_cow(s);
	case ACT_COMMIT: return thin_commit_post(pool, s);
	case ACT_NEEDBUF:
		if ((s->buf = kbuf_alloc(pool->chunk_size)))
			return seg_start(s);
		s->t.fn = buf_retry; /* out of memory: wait, do not fail */
		return kbuf_wait(&s->t);
	}
}

/* ---- submission ---- */

static struct thin_open *to_of(struct lun_backend *be)
{
	return be->priv;
}

static void seg_init(struct thin_req *q, struct thin_seg *s, uint64_t off, uint64_t len,
		     uint64_t skip)
{
	struct lun_thin_pool *pool = q->pool;
	struct lun_io *io = q->io;
	s->req = q;
	s->vc = off >> pool->chunk_shift;
	s->off = (uint32_t)(off & (pool->chunk_size - 1));
	s->len = (uint32_t)len;
	s->skip = skip;
	bool whole = s->off == 0 && (len == pool->chunk_size || off + len >= q->to->be.size);
	switch (io->op) {
	case LUN_OP_READ: s->kind = THIN_S_READ; break;
	case LUN_OP_WRITE: s->kind = THIN_S_WRITE; break;
	case LUN_OP_UNMAP:
		s->kind = whole ? THIN_S_UNMAP : THIN_S_WRITE;
		s->zero_src = s->keep_holes = true;
		break;
	default: /* WRITE_ZEROES */
		s->kind = whole && (io->flags & LUN_IO_UNMAP) ? THIN_S_UNMAP : THIN_S_WRITE;
		s->zero_src = true;
		s->keep_holes = io->flags & LUN_IO_UNMAP;
		break;
	}
}

static struct thin_req *req_new(struct thin_open *to, struct lun_io *io, int nseg)
{
	int cap = (io->iovcnt > 0 ? io->iovcnt : 1) + 2;
	size_t sz = sizeof(struct thin_req) +
		    (size_t)nseg * (sizeof(struct thin_seg) + (size_t)cap * sizeof(struct iovec));
	struct thin_req *q = calloc(1, sz);
	if (!q)
		return NULL;
	*q = (struct thin_req){ .io = io, .to = to, .pool = to->pool, .nseg = nseg, .left = nseg };
	struct iovec *iov = (struct iovec *)(void *)&q->seg[nseg];
	for (int i = 0; i < nseg; i++) {
		q->seg[i].iov = iov + (size_t)i * (size_t)cap;
		q->seg[i].iovcap = cap;
	}
	return q;
}

static void thin_submit(struct lun_backend *be, struct lun_io *io);

static void submit_retry(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	thin_submit(lun_priv(io, struct thin_retry)->be, io);
}

static void thin_submit(struct lun_backend *be, struct lun_io *io)
{
	struct thin_open *to = to_of(be);
	uint32_t shift = to->pool->chunk_shift;
	int n = io->op == LUN_OP_FLUSH ? 1
				       : (int)(((io->offset + io->length - 1) >> shift) -
					       (io->offset >> shift) + 1);
	struct thin_req *q = req_new(to, io, n);
	if (!q) { /* out of memory: retry, do not fail */
		struct thin_retry *rt = lun_priv(io, struct thin_retry);
		rt->be = be;
		rt->t.fn = submit_retry;
		return kbuf_wait(&rt->t);
	}
	if (io->op == LUN_OP_FLUSH) {
		q->seg[0] =
			(struct thin_seg){ .req = q, .kind = THIN_S_FLUSH, .iov = q->seg[0].iov };
		return seg_start(&q->seg[0]);
	}
	uint64_t off = io->offset, end = io->offset + io->length;
	for (int i = 0; i < n; i++) {
		uint64_t next = ((off >> shift) + 1) << shift;
		uint64_t len = (next < end ? next : end) - off;
		seg_init(q, &q->seg[i], off, len, off - io->offset);
		off += len;
	}
	for (int i = 0; i < n; i++)
		seg_start(&q->seg[i]);
}

/* ---- block status ---- */

static bool mapped_at(const struct thin_vol *v, uint64_t vc)
{
	return (thin_map_get(v, vc) & ~THIN_PENDING) != 0;
}

static uint64_t extent_end(const struct thin_vol *v, uint64_t vc, bool mapped)
{
	uint64_t n = vc + 1, lim = vc + THIN_BS_SCAN;
	while (n < v->nvchunks && n < lim) {
		if (!mapped && !v->leaves[n >> THIN_LEAF_SHIFT] && (n & (THIN_LEAF_N - 1)) == 0) {
			n += THIN_LEAF_N; /* a missing leaf is a hole throughout */
			continue;
		}
		if (mapped_at(v, n) != mapped)
			break;
		n++;
	}
	return n;
}

static void thin_block_status(struct lun_backend *be, struct lun_io *io)
{
	struct thin_open *to = to_of(be);
	struct lun_thin_pool *pool = to->pool;
	uint64_t vc = io->offset >> pool->chunk_shift;
	pthread_mutex_lock(&pool->lock);
	bool mapped = mapped_at(to->vol, vc);
	uint64_t end = extent_end(to->vol, vc, mapped) << pool->chunk_shift;
	pthread_mutex_unlock(&pool->lock);
	if (end > be->size)
		end = be->size;
	uint64_t len = end - io->offset;
	len -= len % be->block_size;
	io->bs_mapped = mapped;
	io->bs_length = len ? len : be->block_size;
	lun_complete_later(io, 0);
}

/* ---- open / close ---- */

static void thin_close(struct lun_backend *be)
{
	struct thin_open *to = to_of(be);
	pthread_mutex_lock(&to->pool->lock);
	to->vol->opener = NULL;
	pthread_mutex_unlock(&to->pool->lock);
	free(to);
}

static const struct lun_backend_ops thin_ops = {
	.name = "thin",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_BLOCK_STATUS |
		LUN_CAP_COPY_SHARE,
	.submit_read = thin_submit,
	.submit_write = thin_submit,
	.submit_flush = thin_submit,
	.submit_unmap = thin_submit,
	.submit_write_zeroes = thin_submit,
	.submit_block_status = thin_block_status,
	.submit_copy = thin_submit_copy,
	.close = thin_close,
};

struct thin_open *thin_open_of(struct lun_backend *be)
{
	return be && be->ops == &thin_ops ? be->priv : NULL;
}

/* Service thread, lock held. */
int thin_open_backend(struct lun_thin_pool *pool, struct thin_vol *v, uint32_t block_size,
		      struct lun_backend **out)
{
	if (v->size % block_size)
		return -EINVAL;
	struct thin_open *to = calloc(1, sizeof(*to));
	if (!to)
		return -ENOMEM;
	to->pool = pool;
	to->vol = v;
	to->be = (struct lun_backend){
		.ops = &thin_ops,
		.size = v->size,
		.block_size = block_size,
		.optimal_io = pool->chunk_size,
		.unmap_granularity = pool->chunk_size,
		.read_only = v->flags & THIN_VOL_RO,
		.zeroes_after_unmap = true,
		.volatile_cache = pool->data->volatile_cache,
		.priv = to,
		.copy_domain = pool,
		.copy_granularity = pool->chunk_size,
	};
	v->opener = to;
	*out = &to->be;
	return 0;
}
