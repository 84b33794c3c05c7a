/* SPDX-License-Identifier: Apache-2.0 */
/* RAID-0/1/10 foreground I/O and FLUSH for every level.
 *
 * A request is split at chunk boundaries; each piece goes straight to the
 * members with a slice of the caller's iovec (no copy):
 *  - READ: one copy (chosen by chunk number, so sequential reads of a
 *    RAID-1 spread over its members); an error fails that member and the
 *    next readable copy is tried; none left -> -ENODEV (never stale data:
 *    a rebuilding copy is read only below its recovery point).
 *  - WRITE / WRITE ZEROES / UNMAP: every writable copy, under the chunk's
 *    unit lock (RAID-1/10) so copies cannot diverge under concurrent
 *    overlapping writes or race a rebuild; an error fails the member.
 *    UNMAP and WRITE ZEROES exist only when every member provides them.
 * FLUSH goes to every writable member.
 *
 * Not for: parity levels (lun_raid_stripe.c).
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include <errno.h>
#include <stdlib.h>

struct mpiece {
	struct raid_wait w; /* unit lock, w.key = logical chunk */
	struct raid_req *q;
	uint32_t inner, len;
	uint64_t pos; /* in the request's iov */
	int ncopy, pending, ok;
	uint32_t tried;
	int role[RAID_SLOT_MAX];
	uint64_t row[RAID_SLOT_MAX];
	struct iovec *iov;
	int iovcnt;
	struct lun_io sub[RAID_SLOT_MAX];
};

/* Slice [pos, pos + len) of iov into a fresh array. */
static struct iovec *iov_slice(const struct iovec *iov, int cnt, uint64_t pos, uint64_t len,
			       int *out)
{
	int first = 0;
	while (first < cnt && pos >= iov[first].iov_len)
		pos -= iov[first++].iov_len;
	struct iovec *s = malloc(sizeof(*s) * (size_t)(cnt - first));
	int n = 0;
	for (int i = first; s && len && i < cnt; i++, pos = 0) {
		uint64_t take = iov[i].iov_len - pos < len ? iov[i].iov_len - pos : len;
		s[n++] = (struct iovec){ (char *)iov[i].iov_base + pos, take };
		len -= take;
	}
	*out = n;
	return s;
}

static void mp_finish(struct mpiece *p, int res)
{
	struct raid_req *q = p->q;
	if (p->w.t.fn)
		raid_unlock_unit(q->r, &p->w);
	free(p->iov);
	free(p);
	raid_req_piece_done(q, res);
}

static void mp_submit(struct mpiece *p, int i, void (*done)(struct lun_io *))
{
	struct lun_io *io = p->q->io;
	struct raid *r = p->q->r;
	bool data = io->op == LUN_OP_READ || io->op == LUN_OP_WRITE;
	p->sub[i] = (struct lun_io){ .op = io->op,
				     .flags = io->flags,
				     .offset = raid_member_off(r, p->row[i], p->inner),
				     .length = p->len,
				     .iov = data ? p->iov : NULL,
				     .iovcnt = data ? p->iovcnt : 0,
				     .loop = io->loop,
				     .done = done,
				     .priv = p };
	p->pending++;
	lun_submit(r->m[p->role[i]].be, &p->sub[i]);
}

/* ---- reads ---- */

static void mp_read_done(struct lun_io *sub);

static void mp_read_next(struct mpiece *p)
{
	struct raid *r = p->q->r;
	uint64_t start = (uint64_t)p->w.key;
	for (int j = 0; j < p->ncopy; j++) {
		int i = (int)((start + (uint64_t)j) % (uint64_t)p->ncopy);
		if (!(p->tried & (1u << i)) && raid_readable(r, p->role[i], p->row[i])) {
			p->tried |= 1u << i;
			return mp_submit(p, i, mp_read_done);
		}
	}
	mp_finish(p, -ENODEV);
}

static void mp_read_done(struct lun_io *sub)
{
	struct mpiece *p = sub->priv;
	p->pending--;
	if (sub->result == 0)
		return mp_finish(p, 0);
	raid_member_failed(p->q->r, p->role[sub - p->sub]);
	mp_read_next(p);
}

/* ---- writes ---- */

static void mp_write_done(struct lun_io *sub)
{
	struct mpiece *p = sub->priv;
	int role = p->role[sub - p->sub];
	if (sub->result < 0) {
		raid_member_failed(p->q->r, role);
		raid_req_note_skip(p->q, role);
	} else {
		p->ok++;
	}
	if (--p->pending == 0)
		mp_finish(p, p->ok && !atomic_load(&p->q->r->failed) ? 0 : -ENODEV);
}

static void mp_write_all(struct mpiece *p)
{
	struct raid *r = p->q->r;
	for (int i = 0; i < p->ncopy; i++)
		if (raid_writable(r, p->role[i]))
			mp_submit(p, i, mp_write_done);
		else
			raid_req_note_skip(p->q, p->role[i]);
	if (!p->pending)
		mp_finish(p, -ENODEV);
}

static void mp_locked(struct kloop_task *t)
{
	mp_write_all((struct mpiece *)(void *)t);
}

/* ---- splitting ---- */

static void mp_start(struct raid_req *q, uint64_t c, uint32_t inner, uint32_t len, uint64_t pos)
{
	struct raid *r = q->r;
	struct lun_io *io = q->io;
	struct mpiece *p = calloc(1, sizeof(*p));
	q->pending++;
	if (!p)
		return raid_req_piece_done(q, -ENOMEM);
	*p = (struct mpiece){ .w.key = c,
			      .w.loop = io->loop,
			      .q = q,
			      .inner = inner,
			      .len = len,
			      .pos = pos };
	p->ncopy = raid_chunk_map(r, c, p->role, p->row);
	if (io->op == LUN_OP_READ || io->op == LUN_OP_WRITE) {
		p->iov = iov_slice(io->iov, io->iovcnt, pos, len, &p->iovcnt);
		if (!p->iov)
			return mp_finish(p, -ENOMEM);
	}
	if (io->op == LUN_OP_READ)
		return mp_read_next(p);
	if (r->level == 0)
		return mp_write_all(p);
	p->w.t.fn = mp_locked;
	if (raid_lock_unit(r, &p->w))
		mp_write_all(p);
}

static void mirror_issue(struct raid_req *q)
{
	struct raid *r = q->r;
	struct lun_io *io = q->io;
	for (uint64_t pos = 0; pos < io->length;) {
		uint64_t at = io->offset + pos, c = at >> r->chunk_shift;
		uint32_t inner = (uint32_t)(at & (r->chunk - 1));
		uint64_t n = r->chunk - inner < io->length - pos ? r->chunk - inner
								 : io->length - pos;
		mp_start(q, c, inner, (uint32_t)n, pos);
		pos += n;
	}
	raid_req_piece_done(q, 0);
}

static void mirror_bm_ready(struct kloop_task *t)
{
	struct raid_req *q = container_of(t, struct raid_req, w);
	if (q->w.result) {
		q->err = q->w.result;
		return raid_req_piece_done(q, 0);
	}
	mirror_issue(q);
}

void raid_submit_mirror(struct lun_backend *be, struct lun_io *io)
{
	struct raid *r = raid_of(be);
	if (atomic_load(&r->failed))
		return lun_complete_later(io, -ENODEV);
	struct raid_req *q = raid_req_new(r, io);
	if (!q)
		return lun_complete_later(io, -ENOMEM);
	q->pending++;
	if (io->op == LUN_OP_READ || r->level == 0) {
		mirror_issue(q);
		return raid_req_defer_release(q);
	}
	uint64_t c0 = io->offset >> r->chunk_shift,
		 c1 = (io->offset + io->length - 1) >> r->chunk_shift;
	uint64_t n = (uint64_t)r->n;
	uint64_t row0 = r->level == 1 ? c0 : 2 * c0 / n,
		 row1 = r->level == 1 ? c1 : (2 * c1 + 1) / n;
	raid_req_bm_then(q, row0, row1, mirror_bm_ready);
	raid_req_defer_release(q);
}

/* ---- flush ---- */

struct mflush {
	struct raid_req *q;
	int role;
	struct lun_io sub;
};

static void flush_done(struct lun_io *sub)
{
	struct mflush *f = sub->priv;
	struct raid_req *q = f->q;
	if (sub->result < 0)
		raid_member_failed(q->r, f->role);
	free(f);
	raid_req_piece_done(q, atomic_load(&q->r->failed) ? -ENODEV : 0);
}

void raid_submit_flush(struct lun_backend *be, struct lun_io *io)
{
	struct raid *r = raid_of(be);
	struct raid_req *q = atomic_load(&r->failed) ? NULL : raid_req_new(r, io);
	if (!q)
		return lun_complete_later(io, atomic_load(&r->failed) ? -ENODEV : -ENOMEM);
	for (int i = 0; i < r->n; i++) {
		bool can = raid_writable(r, i) && (lun_backend_caps(r->m[i].be) & LUN_CAP_FLUSH);
		struct mflush *f = can ? calloc(1, sizeof(*f)) : NULL;
		if (!f)
			continue;
		*f = (struct mflush){ .q = q,
				      .role = i,
				      .sub = { .op = LUN_OP_FLUSH,
					       .loop = io->loop,
					       .done = flush_done,
					       .priv = f } };
		f->sub.priv = f;
		q->pending++;
		lun_submit(r->m[i].be, &f->sub);
	}
	raid_req_defer_release(q);
}
