/* SPDX-License-Identifier: Apache-2.0 */
/* RAID unit operations: one stripe (RAID-5/6) or one logical chunk's copies
 * (RAID-1/10, background only) read, computed and written under its unit
 * lock, plus the parent request that splits a RAID-5/6 lun_io into stripes.
 *
 * A unit operation (sop) works on a window [w0, w0 + wlen) of the chunk, the
 * same bytes in every slot, in a buffer of one window per slot plus spares
 * for recomputed parity:
 *
 *   lock unit -> read what is needed from readable members -> (a member
 *   fails: mark it, re-plan) -> reconstruct lost data from parity ->
 *   merge / check -> write data and parity to writable members -> unlock
 *
 * Writes pick the cheaper of two plans by member reads (both need every
 * member involved to be readable; otherwise reconstruct-write):
 *  - reconstruct-write: read the rest of the window's data (or rebuild it
 *    from parity when degraded), recompute P/Q from all data. A full-stripe
 *    write reads nothing; it also repairs any inconsistency in its window.
 *  - read-modify-write: read the old bytes being replaced plus P (and Q),
 *    take the old data out of the parity and put the new data in. Wins on
 *    wide arrays (RAID-5 of 6: 2 reads instead of 4 for one chunk).
 * Ties go to reconstruct-write.
 *
 * Write gathering: a partial-stripe write that gets its stripe's lock
 * first waits one loop iteration, and then takes over the foreground
 * writes queued right behind it on the same stripe (same loop); one
 * read/compute/write pass serves them all, and when together they cover
 * the stripe it reads nothing. A sequential stream's write whose stripe is
 * still incomplete may be held a little longer (sop_hold: at most hold_us,
 * and only while the rest can still come). The members are
 * written with FUA when any gathered write asked for it; each gathered
 * request keeps its own bitmap rows dirty until the stripe write is done,
 * so a crash mid-way is resynced as before. A 128 KiB write through a
 * 64 KiB thin chunk on a 256 KiB stripe went from reading 3 chunks per
 * chunk written to, mostly, full-stripe writes (docs/performance.md).
 * A data slot that one write covers alone is not copied: parity is made
 * from, and the member written from, the caller's buffer (fg_borrow).
 *
 * Not for: RAID-0/1/10 foreground I/O (lun_raid_mirror.c) or scheduling of
 * background work (lun_raid_bg.c).
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/kbuf.h"
#include <errno.h>
#include <isa-l/erasure_code.h>
#include <isa-l/raid.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RAID_GATHER_MAX 32 /* writes one stripe write may carry */

struct raid_sop {
	struct raid_wait w; /* unit lock; w.key = unit */
	struct raid *r;
	enum raid_op_kind kind;
	struct raid_unit u;
	uint32_t w0, wlen;
	uint64_t a, b; /* parity foreground: stripe-relative byte range */
	struct raid_req *req;
	uint64_t req_pos; /* offset in req->io's iov of stripe byte a */
	void (*bg_done)(struct raid *r, int res);
	struct raid_sop *more; /* writes gathered into this one, oldest first */
	int nparts;            /* this one + gathered */
	int held;              /* parts counted in r->wr_held while holding */
	uint64_t hold_until;   /* CLOCK_MONOTONIC us; 0: not holding yet */
	uint8_t *buf;
	uint8_t *slot[RAID_SLOT_MAX + 3]; /* slots, expected parity (np), scratch */
	uint32_t need, got;
	int pending, err, tries;
	bool retry, direct, rmw, fua, counted;
	struct lun_io io[RAID_SLOT_MAX];
	struct iovec iov[RAID_SLOT_MAX];
};

static bool parity_level(const struct raid *r)
{
	return r->level == 5 || r->level == 6;
}
static uint32_t full_mask(int n)
{
	return n >= 32 ? ~0u : (1u << n) - 1;
}

/* Bytes of data slot d inside one part's [a, b), in chunk coordinates. */
static bool part_range(const struct raid_sop *p, int d, uint32_t *lo, uint32_t *hi)
{
	uint64_t c0 = (uint64_t)d * p->r->chunk, c1 = c0 + p->r->chunk;
	uint64_t l = p->a > c0 ? p->a : c0, h = p->b < c1 ? p->b : c1;
	if (l >= h)
		return false;
	*lo = (uint32_t)(l - c0);
	*hi = (uint32_t)(h - c0);
	return true;
}

/* The hull of what the sop and the writes gathered into it touch in data
 * slot d. Gaps inside the hull are read before they are written back. */
static bool slot_range(const struct raid_sop *s, int d, uint32_t *lo, uint32_t *hi)
{
	uint32_t l, h;
	bool any = false;
	for (const struct raid_sop *p = s; p; p = p->more) {
		if (!part_range(p, d, &l, &h))
			continue;
		*lo = !any || l < *lo ? l : *lo;
		*hi = !any || h > *hi ? h : *hi;
		any = true;
	}
	return any;
}

/* Do the parts together cover [from, to) of data slot d? */
static bool parts_cover(const struct raid_sop *s, int d, uint32_t from, uint32_t to)
{
	uint32_t lo, hi;
	for (bool grew = true; from < to && grew;) {
		grew = false;
		for (const struct raid_sop *p = s; p; p = p->more)
			if (part_range(p, d, &lo, &hi) && lo <= from && hi > from) {
				from = hi;
				grew = true;
			}
	}
	return from >= to;
}

static uint32_t touched_mask(const struct raid_sop *s)
{
	uint32_t m = 0, lo, hi;
	for (int d = 0; d < s->r->k; d++)
		if (slot_range(s, d, &lo, &hi))
			m |= 1u << d;
	return m;
}

static uint32_t covered_mask(const struct raid_sop *s)
{
	uint32_t m = 0;
	for (int d = 0; d < s->r->k; d++)
		if (parts_cover(s, d, s->w0, s->w0 + s->wlen))
			m |= 1u << d;
	return m;
}

static uint32_t readable_mask(const struct raid_sop *s)
{
	uint32_t m = 0;
	for (int i = 0; i < s->u.nslots; i++)
		if (raid_readable(s->r, s->u.role[i], s->u.row[i]))
			m |= 1u << i;
	return m;
}

/* ---- finishing ---- */

static void sop_finish(struct raid_sop *s, int res)
{
	struct raid *r = s->r;
	raid_unlock_unit(r, &s->w);
	kbuf_free(s->buf);
	if (!s->req) {
		void (*bg_done)(struct raid *, int) = s->bg_done;
		free(s);
		return bg_done(r, res);
	}
	/* each part's request is a different one (a request has one piece per stripe) */
	for (struct raid_sop *p = s, *next; p; p = next) {
		next = p->more;
		struct raid_req *req = p->req;
		free(p);
		raid_req_piece_done(req, res);
	}
}

/* A member write of a stripe write was skipped or failed: every request
 * carried waits for the metadata write that records the member's failure. */
static void note_skip(struct raid_sop *s, int role)
{
	for (struct raid_sop *p = s; p && p->req; p = p->more)
		raid_req_note_skip(p->req, role);
}

/* ---- member I/O ---- */

static void sop_io_done(struct lun_io *io);

static void sop_issue(struct raid_sop *s, int i, enum lun_op op, uint32_t lo, uint32_t hi,
		      uint8_t *src)
{
	unsigned fua = !s->req || s->fua ? LUN_IO_FUA : 0;
	s->iov[i] = (struct iovec){ src, hi - lo };
	s->io[i] = (struct lun_io){ .op = op,
				    .flags = op == LUN_OP_WRITE ? fua : 0,
				    .offset = raid_member_off(s->r, s->u.row[i], lo),
				    .length = hi - lo,
				    .iov = &s->iov[i],
				    .iovcnt = 1,
				    .loop = s->w.loop,
				    .done = sop_io_done,
				    .priv = s };
	s->pending++;
	lun_submit(s->r->m[s->u.role[i]].be, &s->io[i]);
}

/* Write slot i's window bytes [lo, hi) from src, or note that it is skipped. */
static void sop_write(struct raid_sop *s, int i, uint32_t lo, uint32_t hi, uint8_t *src)
{
	if (raid_writable(s->r, s->u.role[i]))
		sop_issue(s, i, LUN_OP_WRITE, lo, hi, src + (lo - s->w0));
	else
		note_skip(s, s->u.role[i]);
}

static void sop_after_reads(struct raid_sop *s);

static void sop_io_done(struct lun_io *io)
{
	struct raid_sop *s = io->priv;
	int i = (int)(io - s->io);
	bool rd = io->op == LUN_OP_READ;
	if (io->result < 0) {
		raid_member_failed(s->r, s->u.role[i]);
		if (rd)
			s->retry = true;
		else
			note_skip(s, s->u.role[i]);
	} else if (rd) {
		s->got |= 1u << i;
	}
	if (--s->pending)
		return;
	if (rd)
		return sop_after_reads(s);
	sop_finish(s, atomic_load(&s->r->failed) ? -ENODEV : s->err);
}

/* ---- planning reads ---- */

static void sop_plan(struct raid_sop *s, uint32_t *want)
{
	uint32_t rd = readable_mask(s);
	s->direct = false;
	if (s->kind == RAID_K_READ) {
		s->need = touched_mask(s);
		s->direct = (s->need & ~rd) == 0;
	} else if (s->kind == RAID_K_WRITE || s->kind == RAID_K_ZERO) {
		uint32_t rcw = full_mask(s->r->k) & ~covered_mask(s);
		uint32_t rmw = touched_mask(s) | (full_mask(s->u.nslots) & ~full_mask(s->r->k));
		s->rmw = (rmw & ~rd) == 0 && __builtin_popcount(rmw) < __builtin_popcount(rcw);
		s->need = s->rmw ? rmw : rcw;
		s->direct = s->rmw; /* old data: only the bytes being replaced */
	} else {
		s->need = full_mask(s->u.nslots);
	}
	*want = (s->need & ~rd) == 0 ? s->need : rd;
}

static void sop_window(struct raid_sop *s);
static int sop_alloc_buf(struct raid_sop *s);
static void sop_locked(struct kloop_task *t);

static bool is_write(const struct raid_sop *s)
{
	return s->req && (s->kind == RAID_K_WRITE || s->kind == RAID_K_ZERO);
}

/* Under r->mu: may queued waiter w ride along with stripe write ctx? Only
 * foreground writes of the same loop (their requests' counters belong to
 * that loop), and no more than RAID_GATHER_MAX. */
static bool gather_take(struct raid_wait *w, void *ctx)
{
	struct raid_sop *s = ctx, *o = (struct raid_sop *)(void *)w;
	if (w->t.fn != sop_locked || w->loop != s->w.loop || !is_write(o) ||
	    s->nparts >= RAID_GATHER_MAX)
		return false;
	s->nparts++;
	return true;
}

/* A stripe write takes over the writes queued right behind it on the same
 * stripe (write gathering): one read/compute/write pass for all of them,
 * and no reads at all once together they cover the stripe. Only writes at
 * the head of the queue are taken, so a write never overtakes a queued
 * read or background step. */
static void sop_gather(struct raid_sop *s)
{
	struct raid_wait *w = raid_lock_take_waiters(s->r, &s->w, gather_take, s);
	struct raid_sop **tail = &s->more;
	while (*tail) /* gathered on an earlier iteration of a hold */
		tail = &(*tail)->more;
	for (; w; w = w->next) {
		struct raid_sop *o = (struct raid_sop *)(void *)w;
		*tail = o;
		tail = &o->more;
		s->fua |= (o->req->io->flags & LUN_IO_FUA) != 0;
		atomic_fetch_add(&s->r->stat_gathered, 1);
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void hold_end(struct raid_sop *s)
{
	atomic_fetch_sub(&s->r->wr_held, s->held);
	s->held = 0;
}

/* Should a partial stripe write wait (another loop iteration) for the rest
 * of its stripe? Only a sequential stream's write (it starts where the
 * previous write submitted to the array ended) whose parts stop short of
 * the stripe's end, i.e. whose continuation lands in this stripe; only
 * while some write in flight is not itself held (its completion will let
 * the host send the next one: holds cannot wait on each other) or, when
 * the host keeps at least a stripe's worth of writes in flight (wr_depth:
 * its queue can fill one), a write completed less than RAID_GRACE_US ago
 * (the host's next command is on its way); at most r->hold_us. Random
 * small writes never wait, nor do streams too shallow to fill a stripe. */
static bool sop_hold(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint64_t end = 0, sbytes = (uint64_t)r->k << r->chunk_shift;
	bool seq = false;
	for (const struct raid_sop *p = s; p; p = p->more) {
		end = p->b > end ? p->b : end;
		seq |= p->req->seq;
	}
	if (!seq || end >= sbytes || !r->hold_us || s->nparts >= RAID_GATHER_MAX)
		return false;
	uint64_t now = mono_us();
	if (!s->hold_until)
		s->hold_until = now + r->hold_us;
	atomic_fetch_add(&r->wr_held, s->nparts - s->held);
	s->held = s->nparts;
	bool others = atomic_load(&r->wr_inflight) > atomic_load(&r->wr_held);
	bool grace = atomic_load(&r->wr_depth) >= sbytes &&
		     now - atomic_load(&r->last_done_us) < RAID_GRACE_US;
	bool hold = now < s->hold_until && (others || grace);
	if (!hold && (others || grace) && s->counted)
		atomic_fetch_add(&r->stat_hold_expired, 1);
	if (hold && !s->counted) {
		s->counted = true;
		atomic_fetch_add(&r->stat_held, 1);
	}
	return hold;
}

/* Under the lock, before the first read: gather (and perhaps hold), size
 * the window, get the buffer. 1: held (run again next iteration). */
static int sop_prepare(struct raid_sop *s)
{
	if (is_write(s)) {
		sop_gather(s);
		if (sop_hold(s)) {
			kloop_defer(s->w.loop, &s->w.t);
			return 1;
		}
		hold_end(s);
	}
	if (s->req)
		sop_window(s);
	return sop_alloc_buf(s);
}

static void sop_run(struct raid_sop *s)
{
	uint32_t want, lo, hi;
	if (atomic_load(&s->r->failed)) {
		hold_end(s);
		return sop_finish(s, -ENODEV);
	}
	if (!s->buf) {
		int e = sop_prepare(s);
		if (e > 0)
			return;
		if (e < 0)
			return sop_finish(s, e);
	}
	sop_plan(s, &want);
	s->got = 0;
	for (int i = 0; i < s->u.nslots; i++) {
		if (!(want & (1u << i)))
			continue;
		if (!s->direct || !slot_range(s, i, &lo, &hi)) {
			lo = s->w0;
			hi = s->w0 + s->wlen;
		}
		sop_issue(s, i, LUN_OP_READ, lo, hi, s->slot[i] + (lo - s->w0));
	}
	if (!s->pending)
		sop_after_reads(s);
}

static void sop_locked(struct kloop_task *t)
{
	sop_run((struct raid_sop *)(void *)t);
}

/* ---- computing ---- */

/* Reconstruct the needed data slots that were not read; 0 or -ENODEV. */
static int sop_fill_missing(struct raid_sop *s)
{
	struct raid *r = s->r;
	if (!(s->need & ~s->got))
		return 0;
	uint32_t missing = full_mask(r->k + r->np) & ~s->got;
	if (__builtin_popcount(missing) > r->np)
		return -ENODEV;
	return raid_reconstruct(r->k, r->np, s->wlen, s->slot, missing);
}

/* Move part p's bytes of data slot d between its request's iov and the
 * sop's slot buffer (out: to the iov). */
static void fg_copy(struct raid_sop *s, const struct raid_sop *p, int d, bool out)
{
	uint32_t lo, hi;
	struct lun_io *io = p->req->io;
	if (!part_range(p, d, &lo, &hi))
		return;
	uint64_t pos = p->req_pos + (uint64_t)d * s->r->chunk + lo - p->a;
	uint8_t *b = s->slot[d] + (lo - s->w0);
	if (out)
		kiov_from_buf(io->iov, io->iovcnt, pos, b, hi - lo);
	else if (p->kind == RAID_K_ZERO)
		memset(b, 0, hi - lo);
	else
		kiov_to_buf(io->iov, io->iovcnt, pos, b, hi - lo);
}

/* The caller's bytes [pos, pos + len) if they are one contiguous span
 * aligned as ISA-L's parity code (32 bytes) and O_DIRECT members (a page)
 * need, else NULL. */
static uint8_t *iov_span(const struct raid *r, const struct iovec *iov, int cnt, uint64_t pos,
			 uint64_t len)
{
	for (int i = 0; i < cnt; i++) {
		if (pos < iov[i].iov_len) {
			uint8_t *b = (uint8_t *)iov[i].iov_base + pos;
			bool ok = pos + len <= iov[i].iov_len &&
				  ((uintptr_t)b & (r->direct ? 4095u : 31u)) == 0;
			return ok ? b : NULL;
		}
		pos -= iov[i].iov_len;
	}
	return NULL;
}

/* Reconstruct-write: data slot d written over the whole window by one part
 * alone takes the caller's buffer as its slot (parity is computed from it
 * and the member written from it, no copy); false: copy as usual. */
static bool fg_borrow(struct raid_sop *s, int d)
{
	const struct raid_sop *only = NULL;
	uint32_t lo, hi;
	for (const struct raid_sop *p = s; p; p = p->more) {
		if (!part_range(p, d, &lo, &hi))
			continue;
		if (only || p->kind != RAID_K_WRITE || lo > s->w0 || hi < s->w0 + s->wlen)
			return false;
		only = p;
	}
	if (!only)
		return false;
	struct lun_io *io = only->req->io;
	uint64_t pos = only->req_pos + (uint64_t)d * s->r->chunk + s->w0 - only->a;
	uint8_t *b = iov_span(s->r, io->iov, io->iovcnt, pos, s->wlen);
	if (b)
		s->slot[d] = b;
	return b != NULL;
}

static int fg_read(struct raid_sop *s)
{
	int e = sop_fill_missing(s);
	for (int d = 0; !e && d < s->r->k; d++)
		fg_copy(s, s, d, true);
	return e;
}

/* Read-modify-write: take the old data's share out of P/Q and put the new
 * data's in (ec_encode_data_update adds coef * data to each parity row). */
static void rmw_update(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint8_t coef[2 * RAID_SLOT_MAX], tbls[32 * 2 * RAID_SLOT_MAX];
	uint32_t lo, hi;
	for (int p = 0; p < r->np; p++)
		raid_gen_row(r->k, r->k + p, coef + p * r->k);
	ec_init_tables(r->k, r->np, coef, tbls);
	atomic_fetch_add(&r->stat_rmw, 1);
	/* parts in arrival order: where two overlap, the later one's "old"
	 * data is the earlier one's new data, already in the buffer */
	for (const struct raid_sop *p = s; p; p = p->more)
		for (int d = 0; d < r->k; d++) {
			if (!part_range(p, d, &lo, &hi))
				continue;
			uint8_t *par[2] = { s->slot[r->k] + (lo - s->w0),
					    s->slot[r->k + r->np - 1] + (lo - s->w0) };
			uint8_t *data = s->slot[d] + (lo - s->w0);
			ec_encode_data_update((int)(hi - lo), r->k, r->np, d, tbls, data, par);
			fg_copy(s, p, d, false);
			ec_encode_data_update((int)(hi - lo), r->k, r->np, d, tbls, data, par);
		}
}

static int fg_write(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint32_t lo, hi;
	int e = s->rmw ? 0 : sop_fill_missing(s);
	if (e)
		return e;
	if (s->rmw) {
		rmw_update(s);
	} else {
		atomic_fetch_add(s->need ? &r->stat_rcw : &r->stat_full, 1);
		for (int d = 0; d < r->k; d++) {
			if (fg_borrow(s, d))
				continue;
			for (const struct raid_sop *p = s; p; p = p->more)
				fg_copy(s, p, d, false);
		}
		if (raid_parity_gen(r->k, r->np, s->wlen, s->slot))
			return -EIO;
	}
	for (int d = 0; d < r->k; d++)
		if (slot_range(s, d, &lo, &hi))
			sop_write(s, d, lo, hi, s->slot[d]);
	for (int p = r->k; p < r->k + r->np; p++)
		sop_write(s, p, s->w0, s->w0 + s->wlen, s->slot[p]);
	return 0;
}

/* RAID-6 with P and Q both wrong: the one data slot whose reconstruction
 * from P makes Q right, or -1. The fixed data is left in the scratch slot. */
static int locate_bad_data(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint8_t *v[RAID_SLOT_MAX + 2];
	for (int z = 0; z < r->k; z++) {
		memcpy(v, s->slot, sizeof(v[0]) * (size_t)(r->k + 2));
		v[z] = s->slot[r->k + 2 * r->np];
		if (raid_reconstruct(r->k, 1, s->wlen, v, 1u << z) == 0 &&
		    pq_check(r->k + 2, (int)s->wlen, (void **)v) == 0)
			return z;
	}
	return -1;
}

/* Expected parity into the spare slots; returns the mask of parity slots read that differ. */
static uint32_t bg_parity_mismatch(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint8_t *v[RAID_SLOT_MAX + 2];
	memcpy(v, s->slot, sizeof(v[0]) * (size_t)r->k);
	for (int p = 0; p < r->np; p++)
		v[r->k + p] = s->slot[r->k + r->np + p];
	raid_parity_gen(r->k, r->np, s->wlen, v);
	uint32_t mism = 0;
	for (int p = r->k; p < r->k + r->np; p++)
		if ((s->got & (1u << p)) && memcmp(s->slot[p], s->slot[p + r->np], s->wlen))
			mism |= 1u << p;
	return mism;
}

static int target_slot(const struct raid_sop *s)
{
	for (int i = 0; i < s->u.nslots; i++)
		if (s->u.role[i] == s->r->bg_role)
			return i;
	return -1;
}

static void scrub_count(struct raid_sop *s, uint32_t mism, bool fixed)
{
	atomic_fetch_add(&s->r->scrub_units, 1);
	if (!mism)
		return;
	atomic_fetch_add(&s->r->scrub_mismatch, 1);
	if (fixed)
		atomic_fetch_add(&s->r->scrub_repaired, 1);
}

static int bg_parity(struct raid_sop *s)
{
	struct raid *r = s->r;
	uint32_t missing = full_mask(r->k + r->np) & ~s->got;
	if (__builtin_popcount(missing) > r->np ||
	    raid_reconstruct(r->k, r->np, s->wlen, s->slot, missing))
		return -ENODEV;
	uint32_t mism = bg_parity_mismatch(s);
	uint32_t end = s->w0 + s->wlen;
	if (s->kind == RAID_K_REBUILD) {
		int t = target_slot(s);
		if (t >= 0)
			sop_write(s, t, s->w0, end, t < r->k ? s->slot[t] : s->slot[t + r->np]);
		return 0;
	}
	int z = -1;
	if (s->kind == RAID_K_SCRUB && r->np == 2 && mism == (3u << r->k) &&
	    s->got == full_mask(r->k + 2))
		z = locate_bad_data(s);
	bool fix = s->kind == RAID_K_RESYNC || r->bg_repair;
	if (s->kind == RAID_K_SCRUB)
		scrub_count(s, mism, fix);
	if (fix && z >= 0)
		sop_write(s, z, s->w0, end, s->slot[r->k + 2 * r->np]);
	for (int p = r->k; fix && z < 0 && p < r->k + r->np; p++)
		if (mism & (1u << p))
			sop_write(s, p, s->w0, end, s->slot[p + r->np]);
	return 0;
}

static int bg_mirror(struct raid_sop *s)
{
	if (!s->got)
		return -ENODEV;
	int ref = __builtin_ctz(s->got);
	uint32_t mism = 0, end = s->w0 + s->wlen;
	for (int i = ref + 1; i < s->u.nslots; i++)
		if ((s->got & (1u << i)) && memcmp(s->slot[i], s->slot[ref], s->wlen))
			mism |= 1u << i;
	if (s->kind == RAID_K_REBUILD) {
		int t = target_slot(s);
		if (t >= 0)
			sop_write(s, t, s->w0, end, s->slot[ref]);
		return 0;
	}
	bool fix = s->kind == RAID_K_RESYNC || s->r->bg_repair;
	if (s->kind == RAID_K_SCRUB)
		scrub_count(s, mism, fix);
	for (int i = 0; fix && i < s->u.nslots; i++)
		if (mism & (1u << i))
			sop_write(s, i, s->w0, end, s->slot[ref]);
	return 0;
}

static int sop_compute(struct raid_sop *s)
{
	switch (s->kind) {
	case RAID_K_READ: return fg_read(s);
	case RAID_K_WRITE:
	case RAID_K_ZERO: return fg_write(s);
	default: return parity_level(s->r) ? bg_parity(s) : bg_mirror(s);
	}
}

static void sop_after_reads(struct raid_sop *s)
{
	if (s->retry) {
		s->retry = false;
		if (++s->tries > s->r->n)
			return sop_finish(s, -EIO);
		return sop_run(s);
	}
	s->err = sop_compute(s);
	if (s->err || !s->pending)
		sop_finish(s, s->err ? s->err : atomic_load(&s->r->failed) ? -ENODEV : 0);
}

/* ---- starting ---- */

static void sop_window(struct raid_sop *s)
{
	uint32_t lo, hi, w0 = s->r->chunk, w1 = 0;
	for (int d = 0; d < s->r->k; d++)
		if (slot_range(s, d, &lo, &hi)) {
			w0 = lo < w0 ? lo : w0;
			w1 = hi > w1 ? hi : w1;
		}
	s->w0 = w0;
	s->wlen = w1 - w0;
}

static struct raid_sop *sop_new(struct raid *r, struct kloop *loop, enum raid_op_kind kind,
				uint64_t unit)
{
	struct raid_sop *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->r = r;
	s->kind = kind;
	s->w.key = unit;
	s->w.loop = loop;
	s->w.t.fn = sop_locked;
	raid_unit_map(r, unit, &s->u);
	return s;
}

static int sop_alloc_buf(struct raid_sop *s)
{
	int nbuf = s->u.nslots + s->r->np + 1;
	s->buf = kbuf_alloc((size_t)nbuf * s->wlen);
	if (!s->buf)
		return -ENOMEM;
	for (int i = 0; i < nbuf; i++)
		s->slot[i] = s->buf + (size_t)i * s->wlen;
	return 0;
}

/* A write that has the stripe's lock at once but covers only part of the
 * stripe waits one loop iteration before reading anything: the other
 * pieces of a sequential stream submitted in this iteration (the rest of a
 * request, or the thin volume's next chunk) queue behind it meanwhile and
 * are gathered into the same stripe write (sop_gather). */
static void sop_go(struct raid_sop *s)
{
	if (!raid_lock_unit(s->r, &s->w))
		return;
	if (is_write(s) && (s->a != 0 || s->b != (uint64_t)s->r->k << s->r->chunk_shift))
		return kloop_defer(s->w.loop, &s->w.t);
	sop_run(s);
}

void raid_sop_start(struct raid *r, struct kloop *loop, enum raid_op_kind kind, uint64_t unit,
		    uint32_t w0, uint32_t wlen, struct raid_req *req, uint64_t req_pos,
		    void (*bg_done)(struct raid *r, int res))
{
	struct raid_sop *s = sop_new(r, loop, kind, unit);
	if (!s && req) { /* parity_issue still holds the submission's reference */
		req->err = req->err ? req->err : -ENOMEM;
		req->pending--;
		return;
	}
	if (!s)
		return bg_done(r, -ENOMEM);
	s->req = req;
	s->bg_done = bg_done;
	s->nparts = 1;
	s->w0 = w0;
	s->wlen = wlen;
	if (req) { /* w0, wlen carry the stripe-relative range [a, a + len); window: sop_prepare */
		s->a = w0;
		s->b = (uint64_t)w0 + wlen;
		s->req_pos = req_pos;
		s->fua = (req->io->flags & LUN_IO_FUA) != 0;
	}
	sop_go(s);
}

/* ---- parent requests (shared with lun_raid_mirror.c) ---- */

static void req_complete(struct raid_req *q)
{
	struct lun_io *io = q->io;
	if (q->write) {
		atomic_store(&q->r->last_done_us, mono_us());
		atomic_fetch_sub(&q->r->wr_bytes, io->length);
		atomic_fetch_sub(&q->r->wr_inflight, 1);
	}
	io->result = q->err;
	free(q);
	io->done(io);
}

static void req_meta_done(struct kloop_task *t)
{
	struct raid_req *q = container_of(t, struct raid_req, w);
	if (q->w.result && !q->err)
		q->err = q->w.result;
	req_complete(q);
}

static void req_end(struct raid_req *q)
{
	if (q->bm_held)
		raid_bm_exit(q->r, q->row0, q->row1);
	q->w.t.fn = req_meta_done;
	q->w.loop = q->io->loop;
	if (q->need_seq && !raid_meta_wait(q->r, q->need_seq, &q->w))
		return;
	req_complete(q);
}

void raid_req_piece_done(struct raid_req *q, int res)
{
	if (res < 0 && !q->err)
		q->err = res;
	if (--q->pending == 0)
		req_end(q);
}

void raid_req_note_skip(struct raid_req *q, int role)
{
	pthread_mutex_lock(&q->r->mu);
	if (q->r->m[role].fail_seq > q->need_seq)
		q->need_seq = q->r->m[role].fail_seq;
	pthread_mutex_unlock(&q->r->mu);
}

static void parity_issue(struct raid_req *q)
{
	struct raid *r = q->r;
	struct lun_io *io = q->io;
	uint64_t sbytes = (uint64_t)r->k << r->chunk_shift;
	enum raid_op_kind kind = io->op == LUN_OP_READ           ? RAID_K_READ
				 : io->op == LUN_OP_WRITE_ZEROES ? RAID_K_ZERO
								 : RAID_K_WRITE;
	for (uint64_t pos = 0; pos < io->length;) {
		uint64_t at = io->offset + pos, s = at / sbytes, a = at % sbytes;
		uint64_t n = sbytes - a < io->length - pos ? sbytes - a : io->length - pos;
		q->pending++;
		raid_sop_start(r, io->loop, kind, s, (uint32_t)a, (uint32_t)n, q, pos, NULL);
		pos += n;
	}
	raid_req_piece_done(q, 0); /* the submission's own reference */
}

static void parity_bm_ready(struct kloop_task *t)
{
	struct raid_req *q = container_of(t, struct raid_req, w);
	if (q->w.result) {
		q->err = q->w.result;
		return raid_req_piece_done(q, 0);
	}
	parity_issue(q);
}

static void req_release_fn(struct kloop_task *t)
{
	raid_req_piece_done(container_of(t, struct raid_req, rel), 0);
}

void raid_req_defer_release(struct raid_req *q)
{
	q->rel.fn = req_release_fn;
	kloop_defer(q->io->loop, &q->rel);
}

struct raid_req *raid_req_new(struct raid *r, struct lun_io *io)
{
	struct raid_req *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->r = r;
	q->io = io;
	q->pending = 1;
	q->w.loop = io->loop;
	return q;
}

void raid_req_bm_then(struct raid_req *q, uint64_t row0, uint64_t row1,
		      void (*go)(struct kloop_task *t))
{
	q->row0 = row0;
	q->row1 = row1;
	q->bm_held = true;
	q->w.t.fn = go;
	if (raid_bm_enter(q->r, row0, row1, &q->w))
		go(&q->w.t);
}

void raid_submit_parity(struct lun_backend *be, struct lun_io *io)
{
	struct raid *r = raid_of(be);
	if (atomic_load(&r->failed))
		return lun_complete_later(io, -ENODEV);
	struct raid_req *q = raid_req_new(r, io);
	if (!q)
		return lun_complete_later(io, -ENOMEM);
	if (io->op == LUN_OP_READ) {
		q->pending++; /* keep completion off the submit stack: see lun_backend.h */
		parity_issue(q);
		return raid_req_defer_release(q);
	}
	uint64_t sbytes = (uint64_t)r->k << r->chunk_shift;
	q->write = true;
	atomic_fetch_add(&r->wr_inflight, 1);
	/* wr_depth follows the bytes in flight at submission: up at once, down slowly */
	uint64_t now_b = atomic_fetch_add(&r->wr_bytes, io->length) + io->length,
		 d = atomic_load(&r->wr_depth);
	atomic_store(&r->wr_depth, now_b >= d ? now_b : d - d / 16 + now_b / 16);
	q->seq = atomic_exchange(&r->last_end, io->offset + io->length) == io->offset;
	q->pending++;
	raid_req_bm_then(q, io->offset / sbytes, (io->offset + io->length - 1) / sbytes,
			 parity_bm_ready);
	raid_req_defer_release(q);
}
