/* SPDX-License-Identifier: Apache-2.0 */
/* EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18), and the
 * third-party copy VPD page's descriptors (SPC-4 7.8.17).
 *
 * The copy manager copies between logical units of the target the command
 * came in on: identification CSCD descriptors (type E4h) name an LU by the
 * NAA designator of its VPD page 83h, block-to-block segment descriptors
 * (type 02h) say what to copy. The parameter list is parsed once by a pure
 * parser (scsi_xcopy_parse); then each segment is copied in chunks of
 * XCOPY_CHUNK bytes through one pooled kbuf: a LUN_OP_COPY of the
 * destination's backend from the source's (lun_backend.h: read, then write,
 * through that buffer, or the backend's own copy) under a shared range
 * lock, asynchronous on the task's loop. The destination is checked like a WRITE
 * (write protection, reservations, re-checked once the range is locked), the
 * source like a READ.
 *
 * Errors (SPC-4 6.4.3 / 6.4.5): a malformed parameter list is ILLEGAL
 * REQUEST (PARAMETER LIST LENGTH ERROR, TOO MANY / UNSUPPORTED ... DESCRIPTOR,
 * INVALID FIELD IN PARAMETER LIST); a segment that cannot be processed (CSCD
 * index beyond the list, an LU not found, a null or non-block CSCD, a range
 * beyond the end of an LU) is COPY ABORTED with 0D/02 COPY TARGET DEVICE NOT
 * REACHABLE, backend failures COPY ABORTED 0D/01 THIRD PARTY DEVICE FAILURE.
 * Out-of-range segments would deserve 21/00 as ASC, but libiscsi's
 * ExtendedCopy.ValidSegDescr accepts only 00/00, 08/04 and 0D/02 with COPY
 * ABORTED, so 0D/02 it is.
 *
 * RECEIVE COPY RESULTS: OPERATING PARAMETERS, and COPY STATUS of copies that
 * completed with list identifier usage 00b / 01b (held per I_T nexus, last
 * SCSI_XCOPY_HELD, discarded once reported). Copies are synchronous to their
 * command, so a status is always "completed"; failed copies are not held
 * (no RECEIVE COPY FAILURE DETAILS).
 *
 * Backends that share storage (LUN_CAP_COPY_SHARE in one copy domain, e.g.
 * thin volumes of one pool; same block length): a segment is first offered
 * as a LUN_OP_COPY with LUN_IO_COPY_SHARE, which maps the destination's
 * whole units (thin chunks) that are aligned on both sides to the source's
 * storage (no data moves; either side copies on write later). The backend
 * does that without blocking the task's loop (the thin pool on its service
 * thread) and completes on it. Meanwhile the SOURCE range is locked
 * exclusively: I/O in flight on it drains first and new I/O waits, so no
 * write can land in a chunk once it is shared (the copy cannot change after
 * GOOD), and the FLUSH of the source that comes next makes the shared data
 * as durable as a copied one would be. Destination writes are fenced per
 * chunk by the thin pool itself (they wait, then copy on write); a task
 * holds one range lock at a time, so the destination range is not locked
 * for the share (two copies in opposite directions cannot deadlock). What
 * was not shared (the unaligned head and tail, chunks busy for too long,
 * any refusal) is then copied as above. One LU as source and destination
 * with overlapping ranges is always copied, last piece first when the
 * destination lies above the source (as memmove), so the destination ends
 * up holding what the source held before the copy.
 *
 *   loop:     seg_begin -> lock src range (excl) -> FLUSH src -> COPY_SHARE ... share_done: unlock, copy the rest
 *   backend:                                                   (journal, fsync) -^
 *
 * Not for: LID4 / ROD tokens (POPULATE TOKEN, WRITE USING TOKEN), inline
 * data, stream or other segment types.
 */
#include <string.h>
#include "common/kbuf.h"
#include "common/log.h"
#include "target/scsi/scsi_internal.h"

/* Limits (RECEIVE COPY RESULTS OPERATING PARAMETERS, VPD 8Fh). The
 * descriptor list may hold one descriptor more of each kind than allowed so
 * that too many of one kind is reported as such (libiscsi DescrLimits). */
#define XCOPY_MAX_TGT       4u
#define XCOPY_MAX_SEG       16u
#define XCOPY_MAX_LIST      1024u
#define XCOPY_TGT_LEN       32u /* CSCD descriptors E0h..E9h */
#define XCOPY_B2B_LEN       28u /* block -> block segment descriptor */
#define XCOPY_HDR_LEN       16u
#define XCOPY_CHUNK         (1u << 20)
#define XCOPY_MAX_SEG_BYTES (0xFFFFull * 4096u) /* NUMBER OF BLOCKS is 16 bits */
#define XCOPY_DESC_IDENT    0xE4
#define XCOPY_SEG_B2B       0x02
#define XCOPY_USAGE_NONE    0x3  /* LIST ID USAGE 11b: no list identifier */
#define XCOPY_STATUS_DONE   0x01 /* COPY MANAGER STATUS: completed, no errors */

_Static_assert(XCOPY_MAX_LIST >= (XCOPY_MAX_TGT + 1) * XCOPY_TGT_LEN + XCOPY_B2B_LEN &&
		       XCOPY_MAX_LIST >= XCOPY_TGT_LEN + (XCOPY_MAX_SEG + 1) * XCOPY_B2B_LEN,
	       "one descriptor too many of each kind must fit the list (TOO MANY, not LENGTH)");

/* One identification CSCD descriptor (SPC-4 6.4.5.6). */
struct xcopy_tgt {
	bool nul;            /* NUL bit: a null device */
	uint8_t pdt;         /* PERIPHERAL DEVICE TYPE */
	uint8_t assoc, type; /* designator association / type */
	uint8_t len;
	uint8_t desig[20];
	uint32_t block_len; /* DISK BLOCK LENGTH (pdt 0) */
};

/* One block -> block segment descriptor (SPC-4 6.4.6.5). */
struct xcopy_seg {
	uint16_t src, dst; /* CSCD descriptor indexes */
	uint16_t nblocks;
	uint64_t src_lba, dst_lba;
};

struct xcopy_list {
	uint8_t list_id, usage;
	unsigned ntgt, nseg;
	struct xcopy_tgt tgt[XCOPY_MAX_TGT];
	struct xcopy_seg seg[XCOPY_MAX_SEG];
};

struct xcopy_bad {
	uint16_t byte;
	int8_t bit;
};

static int xc_bad_at(struct xcopy_bad *b, size_t byte, int bit, int reason)
{
	b->byte = (uint16_t)byte;
	b->bit = (int8_t)bit;
	return reason;
}

static int xc_parse_tgts(const uint8_t *p, size_t tl, struct xcopy_list *o, struct xcopy_bad *bad)
{
	for (size_t off = 0; off < tl; off += XCOPY_TGT_LEN) {
		const uint8_t *d = p + off;
		size_t at = XCOPY_HDR_LEN + off;
		if (o->ntgt == XCOPY_MAX_TGT)
			return SR_TOO_MANY_TGT_DESC;
		if (d[0] != XCOPY_DESC_IDENT)
			return xc_bad_at(bad, at, 7, SR_UNSUPP_TGT_DESC);
		if (tl - off < XCOPY_TGT_LEN)
			return SR_PARAM_LIST_LENGTH;
		/* LU ID TYPE (byte 1 bits 7..6) is ignored: SPC-4 names the LU by
		 * its designator (libiscsi ValidTgtDescr expects GOOD from an
		 * SPC-4 device); NUL is obsolete and read as "unreachable". */
		if (d[7] > 20)
			return xc_bad_at(bad, at + 7, 7, SR_INVALID_FIELD_PARAM);
		struct xcopy_tgt *g = &o->tgt[o->ntgt++];
		g->nul = d[1] & 0x20;
		g->pdt = d[1] & 0x1F;
		g->assoc = (d[5] >> 4) & 0x3;
		g->type = d[5] & 0xF;
		g->len = d[7];
		memcpy(g->desig, d + 8, g->len);
		g->block_len = (uint32_t)d[29] << 16 | (uint32_t)d[30] << 8 | d[31];
	}
	return SR_GOOD;
}

static int xc_parse_segs(const uint8_t *p, size_t sl, size_t base, struct xcopy_list *o,
			 struct xcopy_bad *bad)
{
	size_t off = 0;
	while (off < sl) {
		const uint8_t *s = p + off;
		size_t at = base + off;
		if (o->nseg == XCOPY_MAX_SEG)
			return SR_TOO_MANY_SEG_DESC;
		if (s[0] != XCOPY_SEG_B2B)
			return xc_bad_at(bad, at, 7, SR_UNSUPP_SEG_DESC);
		if (sl - off < 4)
			return SR_PARAM_LIST_LENGTH;
		if (get_be16(s + 2) != XCOPY_B2B_LEN - 4)
			return xc_bad_at(bad, at + 2, 7, SR_INVALID_FIELD_PARAM);
		if (sl - off < XCOPY_B2B_LEN)
			return SR_PARAM_LIST_LENGTH;
		struct xcopy_seg *g = &o->seg[o->nseg++];
		g->src = get_be16(s + 4);
		g->dst = get_be16(s + 6);
		g->nblocks = get_be16(s + 10);
		g->src_lba = get_be64(s + 12);
		g->dst_lba = get_be64(s + 20);
		off += XCOPY_B2B_LEN;
	}
	return SR_GOOD;
}

/* Pure: the EXTENDED COPY (LID1) parameter list (SPC-4 6.4.3, table 104) of
 * len bytes. Returns SR_GOOD and *o, or a reason (for INVALID FIELD IN
 * PARAMETER LIST and the UNSUPPORTED ... codes *bad points at the field). */
static int scsi_xcopy_parse(const uint8_t *p, size_t len, struct xcopy_list *o,
			    struct xcopy_bad *bad)
{
	memset(o, 0, sizeof(*o));
	bad->byte = 0;
	bad->bit = -1;
	if (len < XCOPY_HDR_LEN)
		return SR_PARAM_LIST_LENGTH;
	o->list_id = p[0];
	o->usage = (p[1] >> 3) & 0x3;
	uint64_t tl = get_be16(p + 2), sl = get_be32(p + 8), il = get_be32(p + 12);
	if (XCOPY_HDR_LEN + tl + sl + il > len || tl + sl > XCOPY_MAX_LIST)
		return SR_PARAM_LIST_LENGTH; /* SPC-4 6.4.3.1 */
	if (il)
		return xc_bad_at(bad, 12, 7,
				 SR_INVALID_FIELD_PARAM); /* MAXIMUM INLINE DATA LENGTH 0 */
	if (o->usage == XCOPY_USAGE_NONE && o->list_id)
		return xc_bad_at(bad, 0, 7, SR_INVALID_FIELD_PARAM);
	int r = xc_parse_tgts(p + XCOPY_HDR_LEN, (size_t)tl, o, bad);
	if (r == SR_GOOD)
		r = xc_parse_segs(p + XCOPY_HDR_LEN + tl, (size_t)sl, XCOPY_HDR_LEN + (size_t)tl, o,
				  bad);
	return r;
}

/* ---- execution ---- */
struct xcopy_state {
	struct xcopy_list l;
	struct scsi_lu *lu[XCOPY_MAX_TGT]; /* resolved CSCDs (held), NULL = unreachable */
	struct scsi_lu *src, *dst;         /* current segment */
	unsigned seg;                      /* current segment */
	uint64_t done;                     /* blocks of it copied */
	uint64_t n;                        /* blocks of the chunk in flight */
	uint64_t off;                      /* its first block, from the segment's start */
	bool backward;                     /* one LU, destination above an overlapping
	                                        source: pieces go last to first (memmove) */
	uint64_t bytes;                    /* total copied */
	uint64_t sh_from, sh_len;          /* blocks of the segment shared, not copied */
	bool sh_tried;                     /* the segment was offered for sharing */
	struct iovec iov;
	uint8_t *buf;
};
#define XCOPY_STATE_LEN (((sizeof(struct xcopy_state) + 4095) / 4096) * 4096)

#define TASK_OF_XIO(io) ((struct scsi_task *)(io)->priv)

static struct xcopy_state *xc_xs_of(struct scsi_task *t)
{
	return t->st.scratch;
}

static struct scsi_lun_map *xc_task_map(const struct scsi_task *t)
{
	return t->map ? t->map : t->itn->map;
}

/* A CSCD of this target: a block device named by the NAA designator of an
 * LU (SPC-4 7.8.6.6, association 00b) with that LU's block length. */
static struct scsi_lu *xc_resolve(struct scsi_lun_map *m, const struct xcopy_tgt *g)
{
	if (g->nul || g->pdt != SCSI_TYPE_DISK || g->assoc != 0 || g->type != SCSI_DESIG_NAA ||
	    g->len != 16)
		return NULL;
	for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
		struct scsi_lu *lu = scsi_lun_map_get(m, i);
		if (!lu || memcmp(lu->naa, g->desig, 16) != 0)
			continue;
		lu = scsi_lun_map_hold(m, i);
		if (lu && lu->bs != g->block_len) {
			scsi_lu_put(lu);
			lu = NULL;
		}
		return lu;
	}
	return NULL;
}

static void xc_hold_result(struct scsi_task *t, const struct xcopy_state *s)
{
	if (s->l.usage >= 0x2) /* 10b / 11b: nothing held (SPC-4 table 105) */
		return;
	struct scsi_xcopy_held *h = t->itn->xcopy_held, *slot = &h[0];
	for (unsigned i = 0; i < SCSI_XCOPY_HELD; i++) {
		if (h[i].used && h[i].list_id == s->l.list_id) {
			slot = &h[i];
			break;
		}
		if (!h[i].used)
			slot = &h[i];
	}
	*slot = (struct scsi_xcopy_held){ true, s->l.list_id, XCOPY_STATUS_DONE,
					  (uint16_t)s->l.nseg, s->bytes };
}

static void xcopy_end(struct scsi_task *t, int reason)
{
	struct xcopy_state *s = xc_xs_of(t);
	if (reason == SR_GOOD)
		xc_hold_result(t, s);
	for (unsigned i = 0; i < s->l.ntgt; i++)
		scsi_lu_put(s->lu[i]);
	memset(s->lu, 0, sizeof(s->lu));
	scsi_task_finish(t, reason);
}

/* LUN_OP_COPY of n blocks from the source's src_lba to the destination's
 * dst_lba: through s->buf, or by reference with LUN_IO_COPY_SHARE. */
static void xc_copy(struct scsi_task *t, unsigned flags, uint64_t src_lba, uint64_t dst_lba,
		    uint64_t n, void (*fn)(struct lun_io *io))
{
	struct xcopy_state *s = xc_xs_of(t);
	struct lun_io *io = &t->io;
	bool share = flags & LUN_IO_COPY_SHARE;
	s->iov = (struct iovec){ s->buf, (size_t)(n * s->dst->bs) };
	*io = (struct lun_io){ .op = LUN_OP_COPY,
			       .flags = flags,
			       .offset = dst_lba * s->dst->bs,
			       .length = n * s->dst->bs,
			       .iov = share ? NULL : &s->iov,
			       .iovcnt = !share,
			       .loop = t->loop,
			       .done = fn,
			       .priv = t,
			       .copy_src = s->src->be,
			       .copy_src_offset = src_lba * s->src->bs };
	lun_submit(s->dst->be, io);
}

static void xcopy_next(struct scsi_task *t);
static void xc_share_start(struct scsi_task *t);

static void xc_chunk_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_XIO(io);
	struct xcopy_state *s = xc_xs_of(t);
	scsi_range_unlock(s->dst, t);
	if (io->result < 0)
		return xcopy_end(t, SR_COPY_DEVICE_FAILURE);
	s->done += s->n;
	s->bytes += s->n * s->dst->bs;
	xcopy_next(t);
}

/* Destination range locked: reservations may have changed while it waited. */
static void xc_chunk_locked(struct scsi_task *t)
{
	struct xcopy_state *s = xc_xs_of(t);
	if (scsi_lu_pr_check(s->dst, t->itn, &scsi_op_table[SCSI_OP_WRITE16]) != SR_GOOD) {
		scsi_range_unlock(s->dst, t);
		return xcopy_end(t, SR_RESERVATION_CONFLICT);
	}
	const struct xcopy_seg *g = &s->l.seg[s->seg];
	unsigned fl = atomic_load(&s->dst->wce) ? 0 : LUN_IO_FUA;
	xc_copy(t, fl, g->src_lba + s->off, g->dst_lba + s->off, s->n, xc_chunk_done);
}

/* Checks of a segment before its first chunk (SPC-4 6.4.6.1). */
static int xc_seg_begin(struct scsi_task *t, struct xcopy_state *s)
{
	const struct xcopy_seg *g = &s->l.seg[s->seg];
	if (g->src >= s->l.ntgt || g->dst >= s->l.ntgt || !s->lu[g->src] || !s->lu[g->dst])
		return SR_COPY_UNREACHABLE;
	s->src = s->lu[g->src];
	s->dst = s->lu[g->dst];
	if (!scsi_lba_range_ok(g->src_lba, g->nblocks, scsi_lu_size_blocks(s->src)) ||
	    !scsi_lba_range_ok(g->dst_lba, g->nblocks, scsi_lu_size_blocks(s->dst)))
		return SR_COPY_UNREACHABLE; /* see the file comment for why not 21/00 */
	if (scsi_lu_write_protected(s->dst))
		return SR_WRITE_PROTECTED;
	if (scsi_lu_pr_check(s->src, t->itn, &scsi_op_table[SCSI_OP_READ16]) != SR_GOOD ||
	    scsi_lu_pr_check(s->dst, t->itn, &scsi_op_table[SCSI_OP_WRITE16]) != SR_GOOD)
		return SR_RESERVATION_CONFLICT;
	s->done = 0;
	s->backward = s->src == s->dst && g->dst_lba > g->src_lba &&
		      g->dst_lba < g->src_lba + g->nblocks;
	s->sh_from = s->sh_len = 0;
	s->sh_tried = false;
	return SR_GOOD;
}

/* ---- copy by reference (see the file comment) ---- */

static void xc_share_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_XIO(io);
	struct xcopy_state *s = xc_xs_of(t);
	uint32_t bs = s->dst->bs;
	scsi_range_unlock(s->src, t);
	if (io->result)
		kdebug("xcopy: sharing chunks refused (%d); copying", io->result);
	s->sh_from = io->copy_skip / bs;
	s->sh_len = io->copy_bytes / bs;
	s->bytes += io->copy_bytes;
	xcopy_next(t);
}

static void xc_share_flushed(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_XIO(io);
	struct xcopy_state *s = xc_xs_of(t);
	const struct xcopy_seg *g = &s->l.seg[s->seg];
	if (io->result) { /* not shared: all copied */
		io->copy_skip = io->copy_bytes = 0;
		return xc_share_done(io);
	}
	xc_copy(t, LUN_IO_COPY_SHARE, g->src_lba, g->dst_lba, g->nblocks, xc_share_done);
}

/* Source range locked: reservations may have changed while it waited. */
static void xc_share_locked(struct scsi_task *t)
{
	struct xcopy_state *s = xc_xs_of(t);
	struct lun_io *io = &t->io;
	if (scsi_lu_pr_check(s->src, t->itn, &scsi_op_table[SCSI_OP_READ16]) != SR_GOOD ||
	    scsi_lu_pr_check(s->dst, t->itn, &scsi_op_table[SCSI_OP_WRITE16]) != SR_GOOD) {
		scsi_range_unlock(s->src, t);
		return xcopy_end(t, SR_RESERVATION_CONFLICT);
	}
	memset(io, 0, sizeof(*io));
	io->op = LUN_OP_FLUSH;
	io->loop = t->loop;
	io->done = xc_share_flushed;
	io->priv = t;
	lun_submit(s->src->be, io);
}

/* Backends that can share storage (thin volumes of one pool), one block
 * length, a unit or more, and not one LU copied onto an overlapping range
 * of itself. */
static bool xc_can_share(const struct xcopy_state *s)
{
	const struct xcopy_seg *g = &s->l.seg[s->seg];
	uint32_t cs;
	if (s->src->bs != s->dst->bs || !lun_copy_can_share(s->src->be, s->dst->be, &cs) ||
	    (uint64_t)g->nblocks * s->dst->bs < cs)
		return false;
	return s->src != s->dst || g->src_lba + g->nblocks <= g->dst_lba ||
	       g->dst_lba + g->nblocks <= g->src_lba;
}

static void xc_share_start(struct scsi_task *t)
{
	struct xcopy_state *s = xc_xs_of(t);
	const struct xcopy_seg *g = &s->l.seg[s->seg];
	s->sh_tried = true;
	if (!xc_can_share(s))
		return xcopy_next(t);
	/* exclusive: SCSI I/O in flight on the source range drains first (a
	 * write landing in a chunk after it is shared would change the copy
	 * after GOOD) and new I/O there waits the few ms of the share */
	if (scsi_range_lock(s->src, t, g->src_lba, g->nblocks, true, xc_share_locked))
		xc_share_locked(t);
}

/* Next chunk, or next segment, or the end. Each step completes on t->loop
 * (backend or range-lock callbacks), so the loop is never blocked. */
static void xcopy_next(struct scsi_task *t)
{
	struct xcopy_state *s = xc_xs_of(t);
	if (t->aborted)
		return xcopy_end(t, SR_COPY_DEVICE_FAILURE); /* no response is sent */
	while (s->seg < s->l.nseg && s->src && s->done == s->l.seg[s->seg].nblocks) {
		s->seg++;
		s->src = s->dst = NULL;
	}
	if (s->seg == s->l.nseg)
		return xcopy_end(t, SR_GOOD);
	if (!s->src) {
		int r = xc_seg_begin(t, s);
		if (r != SR_GOOD)
			return xcopy_end(t, r);
		return xcopy_next(t); /* a 0-block segment is done at once */
	}
	if (!s->sh_tried)
		return xc_share_start(t);
	if (s->sh_len && s->done == s->sh_from) {
		s->done += s->sh_len; /* shared, not copied */
		return xcopy_next(t);
	}
	uint64_t left =
		(s->sh_len && s->done < s->sh_from ? s->sh_from : s->l.seg[s->seg].nblocks) -
		s->done;
	uint64_t max = XCOPY_CHUNK / s->dst->bs;
	s->n = left < max ? left : max;
	/* never shared when backward (xc_can_share), so done counts from the end */
	s->off = s->backward ? s->l.seg[s->seg].nblocks - s->done - s->n : s->done;
	if (scsi_range_lock(s->dst, t, s->l.seg[s->seg].dst_lba + s->off, s->n, false,
			    xc_chunk_locked))
		xc_chunk_locked(t);
}

static void xcopy_start(struct scsi_task *t)
{
	uint32_t plen = get_be32(t->cdb + 10);
	size_t have = t->out_len < plen ? t->out_len : plen;
	uint8_t p[XCOPY_HDR_LEN + XCOPY_MAX_LIST];
	if (have > sizeof(p))
		return scsi_task_finish(
			t, SR_PARAM_LIST_LENGTH); /* beyond MAXIMUM DESCRIPTOR LIST LENGTH */
	struct xcopy_state *s = scsi_scratch_alloc(t, XCOPY_STATE_LEN + XCOPY_CHUNK, xcopy_start);
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->buf = (uint8_t *)s + XCOPY_STATE_LEN;
	scsi_out_copy(t, 0, p, have);
	struct xcopy_bad bad;
	int r = scsi_xcopy_parse(p, have, &s->l, &bad);
	if (r == SR_INVALID_FIELD_PARAM || r == SR_UNSUPP_TGT_DESC || r == SR_UNSUPP_SEG_DESC)
		scsi_sks_field(t->st.sks, false, bad.byte, bad.bit);
	if (r != SR_GOOD)
		return scsi_task_finish(t, r);
	for (unsigned i = 0; i < s->l.ntgt; i++)
		s->lu[i] = xc_resolve(xc_task_map(t), &s->l.tgt[i]);
	xcopy_next(t);
}

int scsi_exec_xcopy(struct scsi_task *t)
{
	uint32_t plen = get_be32(t->cdb + 10);
	t->out_wanted = plen;
	if (plen == 0)
		return SR_GOOD; /* SPC-4 6.4.1: not an error */
	xcopy_start(t);
	return SR_PENDING;
}

/* ---- RECEIVE COPY RESULTS (SPC-4 6.18) ---- */
/* OPERATING PARAMETERS, SPC-4 table 130. */
static size_t xc_rcr_op_params(uint8_t *b)
{
	put_be16(b + 8, XCOPY_MAX_TGT);
	put_be16(b + 10, XCOPY_MAX_SEG);
	put_be32(b + 12, XCOPY_MAX_LIST);
	put_be32(b + 16, (uint32_t)XCOPY_MAX_SEG_BYTES); /* MAXIMUM SEGMENT LENGTH */
	put_be32(b + 20, 0);                             /* MAXIMUM INLINE DATA LENGTH */
	put_be32(b + 24, 0);                             /* HELD DATA LIMIT */
	put_be16(b + 34, SCSI_XCOPY_HELD);               /* TOTAL CONCURRENT COPIES */
	b[36] = SCSI_XCOPY_HELD;                         /* MAXIMUM CONCURRENT COPIES (held) */
	b[37] = 9;                                       /* DATA SEGMENT GRANULARITY 2^9 */
	b[43] = 2;                                       /* implemented descriptor codes */
	b[44] = XCOPY_SEG_B2B;
	b[45] = XCOPY_DESC_IDENT;
	put_be32(b, 46 - 4);
	return 46;
}

/* COPY STATUS, SPC-4 table 128; the held status is discarded once sent. */
static int xc_rcr_copy_status(struct scsi_task *t, uint8_t *b, size_t *n)
{
	struct scsi_xcopy_held *h = t->itn->xcopy_held;
	for (unsigned i = 0; i < SCSI_XCOPY_HELD; i++) {
		if (!h[i].used || h[i].list_id != t->cdb[2])
			continue;
		uint64_t cnt = h[i].bytes;
		uint8_t units = 0; /* bytes, else KiB (table 129) */
		if (cnt > 0xFFFFFFFFu) {
			cnt >>= 10;
			units = 1;
		}
		put_be32(b, 12 - 4);
		b[4] = h[i].status;
		put_be16(b + 5, h[i].segments);
		b[7] = units;
		put_be32(b + 8, (uint32_t)cnt);
		h[i].used = false;
		*n = 12;
		return SR_GOOD;
	}
	return scsi_fail_field(t, 2, 7); /* no copy with that LIST IDENTIFIER */
}

int scsi_exec_rcr(struct scsi_task *t)
{
	uint32_t alloc = get_be32(t->cdb + 10);
	uint8_t *b = scsi_in_alloc(t, 64);
	if (!b)
		return SR_PENDING;
	if ((t->cdb[1] & 0x1F) == 0x03)
		return scsi_in_done(t, xc_rcr_op_params(b), alloc);
	size_t n = 0;
	int r = xc_rcr_copy_status(t, b, &n);
	return r == SR_GOOD ? scsi_in_done(t, n, alloc) : r;
}

/* ---- VPD page 8Fh (SPC-4 7.8.17) ---- */
size_t scsi_xcopy_vpd(uint8_t *b)
{
	static const uint8_t cmds[] = {
		SCSI_OP_EXTENDED_COPY, 1, 0x00, SCSI_OP_RECEIVE_COPY_RESULTS, 2, 0x00, 0x03
	};
	size_t n = 0;
	/* Supported Commands (0001h, table 606), padded to a multiple of 4 */
	uint8_t *d = b + n;
	size_t dl = (1 + sizeof(cmds) + 3) & ~(size_t)3;
	put_be16(d, 0x0001);
	put_be16(d + 2, (uint16_t)dl);
	d[4] = sizeof(cmds);
	memcpy(d + 5, cmds, sizeof(cmds));
	n += 4 + dl;
	/* Parameter Data (0008h, table 608) */
	d = b + n;
	put_be16(d, 0x0008);
	put_be16(d + 2, 0x1C);
	put_be16(d + 6, XCOPY_MAX_TGT);
	put_be16(d + 8, XCOPY_MAX_SEG);
	put_be32(d + 10, XCOPY_MAX_LIST);
	put_be32(d + 14, 0);
	n += 4 + 0x1C;
	/* Supported Descriptors (0009h, table 609) */
	d = b + n;
	put_be16(d, 0x0009);
	put_be16(d + 2, 4);
	d[4] = 2;
	d[5] = XCOPY_SEG_B2B;
	d[6] = XCOPY_DESC_IDENT;
	n += 8;
	return n;
}
