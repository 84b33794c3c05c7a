/* SPDX-License-Identifier: Apache-2.0 */
/* Copy by sharing chunks between thin volumes of one pool: the EXTENDED
 * COPY offload of lun_thin.h (lun_thin_share_range).
 *
 * A share is, on disk, nothing new: one journal block of ordinary map
 * records, THIN_R_MAP (dst vchunk -> the physical chunk src maps) or
 * THIN_R_UNMAP (src has none), replayed like any other; refcounts are
 * derived from the maps at open, so the metadata format and version stay
 * as they are and kura-thin-check counts the extra sharer by itself. A
 * journal block is written whole or ignored as a torn tail, so each batch
 * of up to SHARE_BATCH chunks is atomic; a crash between batches leaves a
 * prefix shared (the EXTENDED COPY was not acknowledged; the host repeats
 * it).
 *
 * Each batch runs on the pool's service thread as a control operation
 * (thin_ctl_run): between journal blocks, so the ring position is ours and
 * the committed map values we read are exactly what the journal says. In
 * the lock it reads the source entries (their committed values: an
 * allocation, copy-on-write or unmap of a source chunk still in flight
 * commits after us, so the copy holds the data from before that write),
 * then fences the destination entries the same way the data path fences a
 * chunk it is allocating: THIN_PENDING in the map entry plus an owner in
 * the pending table, here a placeholder segment of a request that does no
 * I/O. Segments that touch a fenced chunk wait on it and are re-driven
 * once the mapping is applied; they then see refcount > 1 and copy on
 * write. Then, lock released, the journal block is written (blocking, as
 * snapshots do); then, in the lock, each record is applied through
 * thin_apply (the replay path: refcount + 1 on the shared chunk, - 1 on
 * what dst mapped before, which is released once unpinned) and the fence
 * lifted:
 *
 *   share (svc):  fence dst/7 ... journal block durable ... dst/7 -> p, ref[p]++, unfence
 *   worker:            write dst/7: PENDING -> wait ........ re-driven: ref[p] = 2 -> CoW
 *
 * A destination entry that is already PENDING (a write allocating or
 * copying it) cannot be waited for on the service thread, which has to
 * commit it: the batch stops there and the caller retries after a
 * millisecond, for at most SHARE_WAIT_MS; then what remains is left for
 * the caller to copy.
 *
 * Two callers: lun_thin_share_range (a control thread; it waits for each
 * batch) and the volume's LUN_OP_COPY with LUN_IO_COPY_SHARE
 * (thin_submit_copy, EXTENDED COPY on a worker): each batch is posted to
 * the service thread (thin_ctl_post), its end posted back to io->loop,
 * which posts the next batch or, when destination chunks are busy, waits a
 * millisecond on a kloop timer; no thread of its own, nothing blocks the
 * worker. A COPY without LUN_IO_COPY_SHARE is the generic data copy.
 *
 * Not for: copying data (the caller does the unaligned head and tail) or
 * SCSI semantics (target/scsi/scsi_xcopy.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/container.h"
#include "common/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARE_BATCH   4096u /* chunks per journal block (96 KiB of records) */
#define SHARE_WAIT_MS 2000u /* give up on busy destination chunks after this */

struct share_job {
	struct thin_open *src, *dst;
	uint64_t svc, dvc, n; /* src chunk svc + i -> dst chunk dvc + i, i < n */
	uint64_t done;        /* pairs shared so far */
	unsigned max;         /* pairs per batch */
	struct thin_rec *recs;
	struct thin_req *fence; /* placeholder owners of the fenced entries */
};

bool lun_thin_same_pool(struct lun_backend *a, struct lun_backend *b, uint32_t *chunk_size)
{
	struct thin_open *x = thin_open_of(a), *y = thin_open_of(b);
	if (!x || !y || x->pool != y->pool)
		return false;
	if (chunk_size)
		*chunk_size = x->pool->chunk_size;
	return true;
}

/* ---- one batch, service thread ---- */

/* Lock held: pairs from done on whose destination nothing is in flight. */
static unsigned batch_len(const struct share_job *j)
{
	uint64_t left = j->n - j->done;
	unsigned n = left < j->max ? (unsigned)left : j->max;
	for (unsigned i = 0; i < n; i++)
		if (thin_map_get(j->dst->vol, j->dvc + j->done + i) & THIN_PENDING)
			return i;
	return n;
}

/* Lock held: the records of the batch; pairs already equal need none. */
static unsigned batch_recs(struct share_job *j, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t dvc = j->dvc + j->done + i;
		uint32_t s = thin_map_get(j->src->vol, j->svc + j->done + i) & ~THIN_PENDING;
		if (s == (thin_map_get(j->dst->vol, dvc) & ~THIN_PENDING))
			continue;
		j->recs[k++] = (struct thin_rec){ .type = s ? THIN_R_MAP : THIN_R_UNMAP,
						  .vol = j->dst->vol->id,
						  .a = dvc,
						  .b = s ? s - 1 : 0 };
	}
	return k;
}

/* Lock held: mark the records' destination entries in flight, owned by
 * placeholder segments (what pend_insert in lun_thin_io.c does). */
static int fence(struct lun_thin_pool *pool, struct share_job *j, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		uint32_t *slot = thin_map_slot(j->dst->vol, j->recs[i].a, true);
		if (!slot) {
			j->recs[i].type = 0; /* unfence() stops here */
			return -ENOMEM;
		}
		*slot |= THIN_PENDING;
		struct thin_seg *s = &j->fence->seg[i];
		s->req = j->fence;
		s->vc = j->recs[i].a;
		s->waiters = NULL;
		struct thin_seg **head = thin_pend_head(pool, j->dst->vol, s->vc);
		s->hnext = *head;
		*head = s;
	}
	return 0;
}

/* Lock held: apply the journaled records (unless res), lift the fence and
 * collect the segments that waited on it. */
static struct thin_seg *unfence(struct lun_thin_pool *pool, struct share_job *j, unsigned k,
				int res)
{
	struct thin_seg *all = NULL;
	for (unsigned i = 0; i < k && j->recs[i].type; i++) {
		uint32_t *slot = thin_map_slot(j->dst->vol, j->recs[i].a, false);
		int e = res ? 0 : thin_apply(pool, &j->recs[i], true);
		if (e && !res) { /* durable but not applied: only a reopen repairs that */
			kerr("thin share: applying a journaled mapping failed (%s)", strerror(-e));
			pool->failed = true;
		}
		*slot &= ~THIN_PENDING;
		struct thin_seg *w = thin_seg_take_waiters(pool, &j->fence->seg[i]);
		while (w) {
			struct thin_seg *next = w->next;
			w->next = all;
			all = w;
			w = next;
		}
	}
	return all;
}

static int share_batch(struct lun_thin_pool *pool, void *arg)
{
	struct share_job *j = arg;
	pthread_mutex_lock(&pool->lock);
	if (pool->failed) {
		pthread_mutex_unlock(&pool->lock);
		return -EIO;
	}
	unsigned n = batch_len(j), k = n ? batch_recs(j, n) : 0;
	int r = fence(pool, j, k);
	pthread_mutex_unlock(&pool->lock);
	if (!n)
		return -EBUSY;
	if (!r && k && (r = thin_journal_append(pool, j->recs, k)))
		kerr("thin share: journal write failed (%s): allocation disabled until reopened",
		     strerror(-r));
	pthread_mutex_lock(&pool->lock);
	if (r && r != -ENOMEM)
		pool->failed = true;
	struct thin_seg *w = unfence(pool, j, k, r);
	pthread_mutex_unlock(&pool->lock);
	thin_seg_redrive(w);
	if (!r)
		j->done += n;
	return r;
}

/* ---- the call ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int run_job(struct lun_thin_pool *pool, struct share_job *j)
{
	uint64_t deadline = now_ms() + SHARE_WAIT_MS;
	while (j->done < j->n) {
		int r = thin_ctl_run(pool, share_batch, j);
		if (r == -EBUSY) {
			if (now_ms() > deadline) {
				kwarn("thin share: destination chunks stayed busy for %u ms; %llu of %llu chunks "
				      "shared, the rest is copied",
				      SHARE_WAIT_MS, (unsigned long long)j->done,
				      (unsigned long long)j->n);
				return 0;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			continue;
		}
		if (r)
			return r;
	}
	return 0;
}

/* ---- LUN_OP_COPY: the same job, one batch at a time, from io->loop ---- */

struct share_op {
	struct share_job j;
	struct lun_io *io;
	struct lun_thin_pool *pool;
	struct thin_ctl ctl;
	struct kloop_task back; /* service thread -> io->loop */
	struct kloop_timer retry;
	uint64_t head, deadline;
};

static void share_op_end(struct share_op *op, int r)
{
	struct lun_io *io = op->io;
	io->copy_skip = op->head;
	io->copy_bytes = op->j.done << op->pool->chunk_shift;
	free(op->j.recs);
	free(op->j.fence);
	free(op);
	io->result = r;
	io->done(io);
}

static void share_ctl_done(struct thin_ctl *c)
{
	struct share_op *op = container_of(c, struct share_op, ctl);
	kloop_post(op->io->loop, &op->back);
}

static void share_post(struct share_op *op)
{
	op->ctl = (struct thin_ctl){ .fn = share_batch, .arg = &op->j, .done_cb = share_ctl_done };
	thin_ctl_post(op->pool, &op->ctl);
}

static void share_retry(struct kloop_timer *t)
{
	struct share_op *op = container_of(t, struct share_op, retry);
	kloop_timer_stop(op->io->loop, t);
	share_post(op);
}

/* io->loop: a batch is over. */
static void share_back(struct kloop_task *t)
{
	struct share_op *op = container_of(t, struct share_op, back);
	int r = op->ctl.result;
	if (r == -EBUSY && kloop_now_ms(op->io->loop) > op->deadline) {
		kwarn("thin share: destination chunks stayed busy for %u ms; %llu of %llu chunks "
		      "shared, the rest is copied",
		      SHARE_WAIT_MS, (unsigned long long)op->j.done, (unsigned long long)op->j.n);
		return share_op_end(op, 0);
	}
	if (r == -EBUSY) {
		op->retry.fn = share_retry;
		return kloop_timer_start(op->io->loop, &op->retry, 1);
	}
	if (r || op->j.done == op->j.n)
		return share_op_end(op, r);
	share_post(op);
}

/* Which part of the range is made of whole chunks aligned on both sides. */
static void span(uint32_t cs, uint64_t src_off, uint64_t dst_off, uint64_t len, uint64_t *skip,
		 uint64_t *n)
{
	uint64_t head = (cs - (src_off & (cs - 1))) & (cs - 1);
	*skip = 0;
	*n = 0;
	if (((src_off ^ dst_off) & (cs - 1)) || head >= len)
		return;
	*skip = head;
	*n = (len - head) / cs;
}

static int share_check(struct thin_open *s, uint64_t src_off, struct thin_open *d, uint64_t dst_off,
		       uint64_t len)
{
	if (d->be.read_only)
		return -EROFS;
	if (src_off > s->be.size || len > s->be.size - src_off || dst_off > d->be.size ||
	    len > d->be.size - dst_off)
		return -EINVAL;
	if (s == d && dst_off > src_off && dst_off < src_off + len)
		return -EINVAL; /* forward sharing would read what it already overwrote */
	return 0;
}

/* The job of a share of len bytes (span, records, fence); 0 with j->n 0:
 * nothing to share. */
static int job_init(struct share_job *j, struct thin_open *s, uint64_t src_off, struct thin_open *d,
		    uint64_t dst_off, uint64_t len, uint64_t *head)
{
	struct lun_thin_pool *pool = s->pool;
	uint64_t n;
	int r = share_check(s, src_off, d, dst_off, len);
	span(pool->chunk_size, src_off, dst_off, len, head, &n);
	*j = (struct share_job){ .src = s, .dst = d };
	if (r || !n)
		return r;
	/* a journal block's two copies may take a quarter of the ring, in sectors */
	uint64_t maxrec = (pool->jsize / 8 / THIN_SECTOR * THIN_SECTOR - THIN_JHDR) / THIN_REC;
	j->svc = (src_off + *head) >> pool->chunk_shift;
	j->dvc = (dst_off + *head) >> pool->chunk_shift;
	j->n = n;
	j->max = (unsigned)(maxrec < SHARE_BATCH ? maxrec : SHARE_BATCH);
	j->recs = calloc(j->max, sizeof(*j->recs));
	j->fence = calloc(1, sizeof(*j->fence) + j->max * sizeof(struct thin_seg));
	if (!j->recs || !j->fence)
		return -ENOMEM;
	*j->fence = (struct thin_req){ .to = d, .pool = pool };
	return 0;
}

int lun_thin_share_range(struct lun_backend *src, uint64_t src_off, struct lun_backend *dst,
			 uint64_t dst_off, uint64_t len, uint64_t *skip, uint64_t *shared_bytes)
{
	struct thin_open *s = thin_open_of(src), *d = thin_open_of(dst);
	*skip = *shared_bytes = 0;
	if (!s || !d || s->pool != d->pool)
		return -EXDEV;
	struct share_job j;
	uint64_t head = 0;
	int r = job_init(&j, s, src_off, d, dst_off, len, &head);
	if (!r && j.n)
		r = run_job(s->pool, &j);
	free(j.recs);
	free(j.fence);
	*skip = head;
	*shared_bytes = j.done << s->pool->chunk_shift;
	return r;
}

/* LUN_OP_COPY of a thin volume (thin_ops): with LUN_IO_COPY_SHARE, share
 * what is whole chunks on both sides when the source is a volume of the
 * same pool; else the generic copy. */
void thin_submit_copy(struct lun_backend *be, struct lun_io *io)
{
	struct thin_open *d = thin_open_of(be), *s = thin_open_of(io->copy_src);
	if (!(io->flags & LUN_IO_COPY_SHARE) || !s || s->pool != d->pool)
		return lun_copy_generic(be, io);
	struct share_op *op = calloc(1, sizeof(*op));
	if (!op)
		return lun_complete_later(io, -ENOMEM);
	*op = (struct share_op){ .io = io, .pool = d->pool, .back.fn = share_back };
	int r = job_init(&op->j, s, io->copy_src_offset, d, io->offset, io->length, &op->head);
	if (r || !op->j.n) {
		free(op->j.recs);
		free(op->j.fence);
		free(op);
		return lun_complete_later(io, r);
	}
	op->deadline = kloop_now_ms(io->loop) + SHARE_WAIT_MS;
	share_post(op);
}
