/* SPDX-License-Identifier: Apache-2.0 */
/* Block commands (SBC-4): READ / WRITE (6, 10, 12, 16), WRITE AND VERIFY,
 * VERIFY, SYNCHRONIZE CACHE, PRE-FETCH, COMPARE AND WRITE, WRITE SAME,
 * UNMAP, GET LBA STATUS, READ CAPACITY (10, 16).
 *
 * Each command: pure CDB parse, overflow-safe range check, range lock
 * (shared; exclusive for COMPARE AND WRITE), then one or more lun_io's on the
 * LU's backend, completing with scsi_task_finish(). Writes go to the backend
 * straight from the transport's out_iov when it holds exactly the data;
 * reads go into one kbuf of in_len. Missing backend ops are emulated
 * (write-zeroes by writing zero buffers, CAW by read+compare+write under the
 * exclusive range lock, block status = all mapped) or the command is not
 * offered (UNMAP / GET LBA STATUS without backend unmap).
 *
 * Every medium access re-checks reservations once it holds its range lock
 * (scsi_pr_recheck): a nexus preempted while its command waited never
 * reaches the backend, and COMPARE AND WRITE stays atomic because the check
 * and the compare + write happen under the same exclusive range.
 *
 * Data-Out shorter than the CDB asks (iSCSI EDTL < transfer length): WRITE
 * writes the whole blocks that arrived and returns GOOD (the transport
 * reports the residual overflow), as libiscsi's iSCSIResiduals tests expect;
 * commands that cannot be partially done (COMPARE AND WRITE, WRITE SAME,
 * VERIFY with BYTCHK) answer ILLEGAL REQUEST / INVALID FIELD IN INFORMATION
 * UNIT (0E/03).
 *
 * Not for: dispatch and sense (scsi_task.c), LU state (scsi_lu.c).
 */
#include <errno.h>
#include <string.h>
#include "common/kbuf.h"
#include "target/scsi/scsi_internal.h"

#define TASK_OF_IO(io) ((struct scsi_task *)(io)->priv)

static uint64_t lu_cap(const struct scsi_task *t)
{
	return scsi_lu_size_blocks(t->lu);
}

/* Byte of the TRANSFER LENGTH / NUMBER OF BLOCKS field (for SKS pointers). */
static uint16_t len_byte(uint8_t opcode)
{
	static const uint8_t by_len[17] = { [6] = 4, [10] = 7, [12] = 6, [16] = 10 };
	if (opcode == SCSI_OP_COMPARE_AND_WRITE)
		return 13;
	return by_len[scsi_cdb_group_len(opcode)];
}

int scsi_rw_prologue(struct scsi_task *t, struct scsi_rw_cdb *c)
{
	int r = scsi_parse_rw(t->cdb, t->cdb_len, c);
	if (r != SR_GOOD)
		return r;
	if (!scsi_lba_range_ok(c->lba, c->nblocks, lu_cap(t)))
		return SR_LBA_OUT_OF_RANGE; /* SBC-4 4.5 */
	t->st.lba = c->lba;
	t->st.nblocks = c->nblocks;
	return SR_GOOD;
}

int scsi_check_xfer(struct scsi_task *t, uint64_t nblocks)
{
	if (nblocks * t->lu->bs > SCSI_MAX_XFER_BYTES)
		return scsi_fail_field(t, len_byte(t->cdb[0]), 7); /* > MAXIMUM TRANSFER LENGTH */
	return SR_GOOD;
}

unsigned scsi_write_flags(const struct scsi_task *t, bool fua)
{
	return (fua || !atomic_load(&t->lu->wce)) ? LUN_IO_FUA : 0;
}

/* ---- READ ---- */
static void read_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	if (io->result < 0)
		return scsi_task_finish(t, scsi_errno_reason(io->result, false));
	t->in_len = (uint32_t)t->st.pos;
	scsi_task_finish(t, SR_GOOD);
}

static void read_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	size_t len = (size_t)t->st.pos;
	if (!t->in_buf && !(t->in_buf = scsi_kbuf_or_wait(t, len, read_start)))
		return;
	t->st.iov[0] = (struct iovec){ t->in_buf, len };
	scsi_submit(t, LUN_OP_READ, 0, t->st.lba * t->lu->bs, len, t->st.iov, 1, read_done);
}

int scsi_exec_read(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r == SR_GOOD)
		r = scsi_check_xfer(t, c.nblocks);
	if (r != SR_GOOD || c.nblocks == 0)
		return r; /* SBC-4 5.17: 0 blocks is not an error */
	t->st.pos = (uint64_t)c.nblocks * t->lu->bs;
	if (scsi_range_lock(t->lu, t, c.lba, c.nblocks, false, read_start))
		read_start(t);
	return SR_PENDING;
}

/* ---- WRITE ---- */
static void write_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	scsi_task_finish(t, scsi_errno_reason(io->result, true));
}

/* The Data-Out can go to the backend as is when it holds exactly `len`.
 * Also WRITE ATOMIC's body (scsi_sbc_ext.c), there under an exclusive lock. */
void scsi_write_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	size_t len = (size_t)t->st.pos;
	unsigned fl = scsi_write_flags(t, t->st.flags & SCSI_RW_FUA);
	uint64_t off = t->st.lba * t->lu->bs;
	if (t->out_len == len) {
		scsi_submit(t, LUN_OP_WRITE, fl, off, len, t->out_iov, t->out_iovcnt, write_done);
		return;
	}
	uint8_t *b = scsi_scratch_alloc(t, len, scsi_write_start);
	if (!b)
		return;
	scsi_out_copy(t, 0, b, len);
	t->st.iov[0] = (struct iovec){ b, len };
	scsi_submit(t, LUN_OP_WRITE, fl, off, len, t->st.iov, 1, write_done);
}

static int write_common(struct scsi_task *t, const struct scsi_rw_cdb *c, bool fua)
{
	int r = scsi_check_xfer(t, c->nblocks);
	if (r != SR_GOOD)
		return r;
	uint32_t bs = t->lu->bs;
	t->out_wanted = c->nblocks * bs;
	uint32_t have = t->out_len < t->out_wanted ? t->out_len : t->out_wanted;
	uint32_t nb = have / bs; /* whole blocks that arrived */
	if (nb == 0)
		return SR_GOOD;
	t->st.pos = (uint64_t)nb * bs;
	t->st.flags = fua ? SCSI_RW_FUA : 0;
	if (scsi_range_lock(t->lu, t, c->lba, nb, false, scsi_write_start))
		scsi_write_start(t);
	return SR_PENDING;
}

int scsi_exec_write(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	return write_common(t, &c, c.flags & SCSI_RW_FUA);
}

/* SBC-4 5.39: the verification is the write reaching the medium (FUA). */
int scsi_exec_write_verify(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	if (c.bytchk > 1)
		return scsi_fail_field(t, 1, 2);
	return write_common(t, &c, true);
}

/* ---- VERIFY (SBC-4 5.33): BYTCHK 00b range only, 01b compare all blocks,
 * 11b compare every block with one block of Data-Out. ---- */
static void verify_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	if (io->result < 0)
		return scsi_task_finish(t, scsi_errno_reason(io->result, false));
	const uint8_t *m = t->st.scratch;
	size_t len = (size_t)t->st.pos, bs = t->lu->bs;
	size_t step = t->st.aux == 3 ? bs : len;
	for (size_t off = 0; off < len; off += step) {
		size_t k = scsi_out_cmp(t, 0, m + off, step);
		if (k < step) {
			t->st.info_valid = true;
			t->st.info = t->st.aux == 3 ? off + k : k;
			return scsi_task_finish(t, SR_MISCOMPARE);
		}
	}
	scsi_task_finish(t, SR_GOOD);
}

static void verify_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	size_t len = (size_t)t->st.pos;
	uint8_t *b = scsi_scratch_alloc(t, len, verify_start);
	if (!b)
		return;
	t->st.iov[0] = (struct iovec){ b, len };
	scsi_submit(t, LUN_OP_READ, 0, t->st.lba * t->lu->bs, len, t->st.iov, 1, verify_done);
}

int scsi_exec_verify(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	if (c.bytchk == 2)
		return scsi_fail_field(t, 1, 2);
	if (c.bytchk == 0 || c.nblocks == 0)
		return SR_GOOD;
	if ((r = scsi_check_xfer(t, c.nblocks)) != SR_GOOD)
		return r;
	uint32_t bs = t->lu->bs;
	t->out_wanted = c.bytchk == 3 ? bs : c.nblocks * bs;
	if (t->out_len < t->out_wanted)
		return SR_INVALID_FIELD_IU;
	t->st.pos = (uint64_t)c.nblocks * bs;
	t->st.aux = c.bytchk;
	if (scsi_range_lock(t->lu, t, c.lba, c.nblocks, false, verify_start))
		verify_start(t);
	return SR_PENDING;
}

/* ---- SYNCHRONIZE CACHE (SBC-4 5.24) / PRE-FETCH (SBC-4 5.9) ---- */
static void flush_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_task_finish(t, scsi_errno_reason(io->result, true));
}

int scsi_exec_sync_cache(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	if (!(lun_backend_caps(t->lu->be) & LUN_CAP_FLUSH))
		return SR_GOOD;
	scsi_submit(t, LUN_OP_FLUSH, 0, 0, 0, NULL, 0, flush_done);
	return SR_PENDING;
}

/* No cache to load: GOOD ("not all blocks fit the cache") is always true. */
int scsi_exec_prefetch(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	return scsi_rw_prologue(t, &c);
}

/* ---- COMPARE AND WRITE (SBC-4 5.3) ----
 * Exclusive range lock: no other command of any nexus touches the range
 * between the compare and the write. */
static void caw_finish(struct scsi_task *t, int result, uint64_t miscompare)
{
	scsi_range_unlock(t->lu, t);
	if (result == -EILSEQ) {
		t->st.info_valid = true;
		t->st.info = miscompare;
		return scsi_task_finish(t, SR_MISCOMPARE);
	}
	scsi_task_finish(t, scsi_errno_reason(result, true));
}

static void caw_native_done(struct lun_io *io)
{
	caw_finish(TASK_OF_IO(io), io->result, io->miscompare_offset);
}

static void caw_write_done(struct lun_io *io)
{
	caw_finish(TASK_OF_IO(io), io->result, 0);
}

static void caw_read_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	size_t len = (size_t)t->st.pos;
	uint8_t *b = t->st.scratch;
	if (io->result < 0) {
		scsi_range_unlock(t->lu, t);
		return scsi_task_finish(t, scsi_errno_reason(io->result, false));
	}
	size_t k = scsi_out_cmp(t, 0, b, len);
	if (k < len)
		return caw_finish(t, -EILSEQ, k);
	scsi_out_copy(t, len, b, len);
	scsi_submit(t, LUN_OP_WRITE, scsi_write_flags(t, t->st.flags & SCSI_RW_FUA),
		    t->st.lba * t->lu->bs, len, t->st.iov, 1, caw_write_done);
}

static void caw_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	size_t len = (size_t)t->st.pos;
	uint64_t off = t->st.lba * t->lu->bs;
	bool native = lun_backend_caps(t->lu->be) & LUN_CAP_ATOMIC_CAW;
	if (native && t->out_len == 2 * len) {
		scsi_submit(t, LUN_OP_COMPARE_AND_WRITE,
			    scsi_write_flags(t, t->st.flags & SCSI_RW_FUA), off, len, t->out_iov,
			    t->out_iovcnt, caw_native_done);
		return;
	}
	uint8_t *b = scsi_scratch_alloc(t, len, caw_start);
	if (!b)
		return;
	t->st.iov[0] = (struct iovec){ b, len };
	scsi_submit(t, LUN_OP_READ, 0, off, len, t->st.iov, 1, caw_read_done);
}

int scsi_exec_caw(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	if (c.nblocks > SCSI_MAX_CAW_BLOCKS)
		return scsi_fail_field(t, 13, 7);
	uint32_t bs = t->lu->bs;
	t->out_wanted = 2 * c.nblocks * bs;
	/* NUMBER OF LOGICAL BLOCKS is one byte: 256 blocks wraps to 0; Data-Out
	 * with a count of 0 means the count was wrong, not "nothing to do". */
	if (c.nblocks == 0)
		return t->out_len ? scsi_fail_field(t, 13, 7) : SR_GOOD;
	if (t->out_len != t->out_wanted)
		return SR_INVALID_FIELD_IU; /* the compare/write halves are ambiguous */
	t->st.pos = (uint64_t)c.nblocks * bs;
	t->st.flags = c.flags;
	if (scsi_range_lock(t->lu, t, c.lba, c.nblocks, true, caw_start))
		caw_start(t);
	return SR_PENDING;
}

/* ---- WRITE SAME (SBC-4 5.45, 5.46) ---- */
#define WS_ZERO  0x40
#define WS_UNMAP 0x80

static void ws_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	scsi_task_finish(t, scsi_errno_reason(io->result, true));
}

static void ws_next(struct scsi_task *t);

static void ws_chunk_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	if (io->result < 0)
		return ws_done(io);
	t->st.pos += io->length;
	if (t->st.pos >= t->st.end)
		return ws_done(io);
	ws_next(t);
}

static void ws_next(struct scsi_task *t)
{
	uint64_t len = t->st.end - t->st.pos;
	if (len > t->st.aux)
		len = t->st.aux;
	t->st.iov[0] = (struct iovec){ t->st.scratch, (size_t)len };
	scsi_submit(t, LUN_OP_WRITE, scsi_write_flags(t, false), t->st.pos, len, t->st.iov, 1,
		    ws_chunk_done);
}

/* Fill a chunk with the pattern block (or zeros), doubling the copy. */
static void ws_fill(struct scsi_task *t, uint8_t *b, size_t chunk)
{
	size_t bs = t->lu->bs;
	if (t->st.flags & WS_ZERO) {
		memset(b, 0, chunk);
		return;
	}
	scsi_out_copy(t, 0, b, bs);
	for (size_t have = bs; have < chunk;) {
		size_t n = have < chunk - have ? have : chunk - have;
		memcpy(b + have, b, n);
		have += n;
	}
}

static void ws_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	uint64_t total = t->st.end - t->st.pos;
	if ((t->st.flags & WS_ZERO) && (lun_backend_caps(t->lu->be) & LUN_CAP_WRITE_ZEROES)) {
		unsigned fl = scsi_write_flags(t, false) |
			      ((t->st.flags & WS_UNMAP) ? LUN_IO_UNMAP : 0);
		scsi_submit(t, LUN_OP_WRITE_ZEROES, fl, t->st.pos, total, NULL, 0, ws_done);
		return;
	}
	size_t chunk = total < SCSI_WS_CHUNK_BYTES ? (size_t)total : SCSI_WS_CHUNK_BYTES;
	uint8_t *b = scsi_scratch_alloc(t, chunk, ws_start);
	if (!b)
		return;
	ws_fill(t, b, chunk);
	t->st.aux = (uint32_t)chunk;
	ws_next(t);
}

static bool out_is_zero(const struct scsi_task *t, size_t len)
{
	static const uint8_t zero[512];
	for (size_t off = 0; off < len; off += sizeof(zero)) {
		size_t n = len - off < sizeof(zero) ? len - off : sizeof(zero);
		if (scsi_out_cmp(t, off, zero, n) != n)
			return false;
	}
	return true;
}

int scsi_exec_write_same(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	if (c.flags & SCSI_RW_ANCHOR)
		return scsi_fail_field(t, 1, 4);
	if (c.nblocks == 0 || c.nblocks > SCSI_MAX_WS_BLOCKS)
		return scsi_fail_field(t, len_byte(t->cdb[0]), 7); /* WSNZ = 1; VPD B0 limit */
	uint32_t bs = t->lu->bs;
	bool ndob = c.flags & SCSI_RW_NDOB;
	t->out_wanted = ndob ? 0 : bs;
	if (t->out_len != t->out_wanted)
		return SR_INVALID_FIELD_IU; /* exactly one block (none with NDOB) */
	t->st.flags = (ndob || out_is_zero(t, bs)) ? WS_ZERO : 0;
	if ((c.flags & SCSI_RW_UNMAP) && t->lu->thin)
		t->st.flags |= WS_UNMAP;
	t->st.pos = c.lba * bs;
	t->st.end = (c.lba + c.nblocks) * bs;
	if (scsi_range_lock(t->lu, t, c.lba, c.nblocks, false, ws_start))
		ws_start(t);
	return SR_PENDING;
}

/* ---- UNMAP (SBC-4 5.32) ---- */
static void unmap_next(struct scsi_task *t);

static void unmap_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	if (io->result < 0)
		return scsi_task_finish(t, scsi_errno_reason(io->result, true));
	t->st.pos++;
	unmap_next(t);
}

static void unmap_locked(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	struct scsi_unmap_desc d;
	scsi_unmap_desc_get(t->st.scratch, (uint32_t)t->st.pos, &d);
	uint64_t bs = t->lu->bs;
	scsi_submit(t, LUN_OP_UNMAP, 0, d.lba * bs, d.nblocks * bs, NULL, 0, unmap_done);
}

static void unmap_next(struct scsi_task *t)
{
	struct scsi_unmap_desc d;
	for (; t->st.pos < t->st.aux; t->st.pos++) {
		scsi_unmap_desc_get(t->st.scratch, (uint32_t)t->st.pos, &d);
		if (d.nblocks == 0)
			continue;
		if (scsi_range_lock(t->lu, t, d.lba, d.nblocks, false, unmap_locked))
			unmap_locked(t);
		return;
	}
	scsi_task_finish(t, SR_GOOD);
}

static int unmap_validate(struct scsi_task *t, const uint8_t *p, uint32_t n)
{
	uint64_t cap = lu_cap(t);
	for (uint32_t i = 0; i < n; i++) {
		struct scsi_unmap_desc d;
		scsi_unmap_desc_get(p, i, &d);
		if (!scsi_lba_range_ok(d.lba, d.nblocks, cap))
			return SR_LBA_OUT_OF_RANGE;
		if (d.nblocks > SCSI_MAX_UNMAP_BLOCKS)
			return scsi_fail_param(t, (uint16_t)(SCSI_UNMAP_HDR_LEN + 16 * i + 8), 7);
	}
	return SR_GOOD;
}

static void unmap_rerun(struct scsi_task *t)
{
	int r = scsi_exec_unmap(t);
	if (r != SR_PENDING)
		scsi_task_finish(t, r);
}

int scsi_exec_unmap(struct scsi_task *t)
{
	if (t->cdb[1] & 0x01)
		return scsi_fail_field(t, 1, 0); /* ANCHOR: no anchored state */
	uint32_t plen = get_be16(t->cdb + 7);
	t->out_wanted = plen;
	if (plen == 0)
		return SR_GOOD;
	uint32_t got = plen < t->out_len ? plen : t->out_len;
	if (got < SCSI_UNMAP_HDR_LEN)
		return SR_PARAM_LIST_LENGTH;
	uint8_t *p = scsi_scratch_alloc(t, got, unmap_rerun);
	if (!p)
		return SR_PENDING;
	scsi_out_copy(t, 0, p, got);
	uint32_t n;
	uint16_t bad;
	int r = scsi_parse_unmap_params(p, got, &n, &bad);
	if (r == SR_INVALID_FIELD_PARAM)
		return scsi_fail_param(t, bad, 7);
	if (r == SR_GOOD)
		r = unmap_validate(t, p, n);
	if (r != SR_GOOD)
		return r;
	t->st.aux = n;
	t->st.pos = 0;
	unmap_next(t);
	return SR_PENDING;
}

/* ---- GET LBA STATUS (SBC-4 5.8) ---- */
static uint32_t gls_count(const uint8_t *b)
{
	return (get_be32(b) - 4) / SCSI_LBA_STATUS_DESC_LEN;
}

/* Append (or merge into the last) descriptor; false when full. */
static bool gls_add(struct scsi_task *t, uint64_t lba, uint64_t n, uint8_t status)
{
	uint8_t *b = t->in_buf;
	uint32_t cnt = gls_count(b);
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	if (cnt) {
		uint8_t *last = b + SCSI_LBA_STATUS_HDR_LEN + (cnt - 1) * SCSI_LBA_STATUS_DESC_LEN;
		uint64_t ln = get_be32(last + 8);
		if ((last[12] & 0x0F) == status && get_be64(last) + ln == lba &&
		    ln + n <= UINT32_MAX) {
			put_be32(last + 8, (uint32_t)(ln + n));
			return true;
		}
		if (cnt >= t->st.aux)
			return false;
	}
	uint8_t *d = b + SCSI_LBA_STATUS_HDR_LEN + cnt * SCSI_LBA_STATUS_DESC_LEN;
	put_be64(d, lba);
	put_be32(d + 8, (uint32_t)n);
	d[12] = status;
	put_be32(b, 4 + (cnt + 1) * SCSI_LBA_STATUS_DESC_LEN);
	return true;
}

static void gls_finish(struct scsi_task *t)
{
	uint32_t alloc = get_be32(t->cdb + 10);
	size_t full =
		SCSI_LBA_STATUS_HDR_LEN + (size_t)gls_count(t->in_buf) * SCSI_LBA_STATUS_DESC_LEN;
	scsi_in_done(t, full, alloc);
	scsi_task_finish(t, SR_GOOD);
}

static void gls_next(struct scsi_task *t);

static void gls_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	if (io->result < 0)
		return scsi_task_finish(t, scsi_errno_reason(io->result, false));
	uint64_t bs = t->lu->bs, left = t->st.end - t->st.pos;
	uint64_t n = io->bs_length / bs;
	if (n == 0)
		n = 1;
	if (n > left)
		n = left;
	if (!gls_add(t, t->st.pos, n, io->bs_mapped ? 0 : 1))
		return gls_finish(t);
	t->st.pos += n;
	if (t->st.pos >= t->st.end || gls_count(t->in_buf) >= t->st.aux + 1)
		return gls_finish(t);
	gls_next(t);
}

static void gls_next(struct scsi_task *t)
{
	uint64_t bs = t->lu->bs;
	scsi_submit(t, LUN_OP_BLOCK_STATUS, 0, t->st.pos * bs, (t->st.end - t->st.pos) * bs, NULL,
		    0, gls_done);
}

int scsi_exec_get_lba_status(struct scsi_task *t)
{
	uint64_t lba = get_be64(t->cdb + 2), cap = lu_cap(t);
	uint32_t alloc = get_be32(t->cdb + 10);
	if (lba >= cap)
		return SR_LBA_OUT_OF_RANGE;
	uint32_t maxd = alloc >= 24 ? (alloc - SCSI_LBA_STATUS_HDR_LEN) / SCSI_LBA_STATUS_DESC_LEN
				    : 1;
	if (maxd > SCSI_MAX_LBA_STATUS_DESC)
		maxd = SCSI_MAX_LBA_STATUS_DESC;
	uint8_t *b =
		scsi_in_alloc(t, SCSI_LBA_STATUS_HDR_LEN + (size_t)maxd * SCSI_LBA_STATUS_DESC_LEN);
	if (!b)
		return SR_PENDING;
	put_be32(b, 4);
	t->st.aux = maxd;
	t->st.pos = lba;
	t->st.end = cap;
	if (!(lun_backend_caps(t->lu->be) & LUN_CAP_BLOCK_STATUS)) {
		gls_add(t, lba, cap - lba, 0); /* no block status: all mapped */
		gls_finish(t);
		return SR_PENDING;
	}
	gls_next(t);
	return SR_PENDING;
}

/* ---- READ CAPACITY (SBC-4 5.20, 5.21) ---- */
int scsi_exec_read_capacity10(struct scsi_task *t)
{
	uint8_t *b = scsi_in_alloc(t, SCSI_READ_CAP10_LEN);
	if (!b)
		return SR_PENDING;
	uint64_t last = lu_cap(t) - 1;
	put_be32(b, last > 0xFFFFFFFEull ? 0xFFFFFFFFu : (uint32_t)last);
	put_be32(b + 4, t->lu->bs);
	return scsi_in_done(t, SCSI_READ_CAP10_LEN, SCSI_READ_CAP10_LEN);
}

int scsi_exec_read_capacity16(struct scsi_task *t)
{
	uint32_t alloc = get_be32(t->cdb + 10);
	uint8_t *b = scsi_in_alloc(t, SCSI_READ_CAP16_LEN);
	if (!b)
		return SR_PENDING;
	const struct scsi_lu *lu = t->lu;
	put_be64(b, lu_cap(t) - 1);
	put_be32(b + 4 + 4, lu->bs);
	/* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: from the LUN's
	 * physical_block_size (default 0: the backend does not tell us its
	 * physical block; VPD B0 OPTIMAL TRANSFER LENGTH GRANULARITY carries
	 * the 4 KiB alignment hint instead). */
	b[13] = lu->lbppbe;
	if (lu->thin)
		b[14] = 0x80 | (lu->be->zeroes_after_unmap ? 0x40 : 0); /* LBPME, LBPRZ */
	return scsi_in_done(t, SCSI_READ_CAP16_LEN, alloc);
}
