/* SPDX-License-Identifier: Apache-2.0 */
/* SANITIZE (SBC-4 5.30, 4.11): OVERWRITE, BLOCK ERASE and EXIT FAILURE
 * MODE. CRYPTOGRAPHIC ERASE is not offered: kura stores no encrypted data.
 *
 * The command is synchronous (IMMED is not supported, so its bit is not in
 * the CDB usage map and IMMED=1 is INVALID FIELD IN CDB): it completes when
 * the medium is sanitized and flushed. While it runs the LU is "sanitizing"
 * (lu->sanitizing): every other command that needs the LU is answered NOT
 * READY / SANITIZE IN PROGRESS (04/1B) by the dispatcher (scsi_task.c), on
 * every session, and commands that were already running finish first
 * because SANITIZE takes an exclusive range lock over the whole LU before
 * touching it:
 *
 *   SANITIZE arrives   -> sanitizing = true   (new commands: 04/1B)
 *   range lock [0,cap) -> waits for READ/WRITE already holding ranges
 *   granted            -> reservations re-checked, then the passes
 *   done + FLUSH       -> sanitizing = false, unlock, GOOD
 *
 * OVERWRITE writes the initialization pattern (repeated over each logical
 * block, inverted between passes when INVERT is set) OVERWRITE COUNT times
 * over every block; an all-zero pattern on a backend with WRITE ZEROES is
 * one write-zeroes request per pass (a thin LU deallocates: LBPRZ reads
 * zeros). BLOCK ERASE is offered only where the LU can deallocate (LBPME):
 * it unmaps every block, which on a thin pool frees every chunk; reads
 * afterwards return zeros (WABEREQ = 01b in VPD B1).
 *
 * A failure of the backend in the middle ends the command with the error
 * (the LU does not enter the SBC-4 "sanitize failure" mode: nothing keeps
 * reads from succeeding afterwards), so EXIT FAILURE MODE has nothing to
 * exit and answers GOOD.
 *
 * Not for: the opcode table entries (scsi_task.c) or the 04/1B check
 * (dispatch in scsi_task.c).
 */
#include <string.h>
#include "common/kbuf.h"
#include "target/scsi/scsi_internal.h"

#define TASK_OF_IO(io) ((struct scsi_task *)(io)->priv)

#define SAN_ZERO       0x01 /* pattern all zeros and the backend writes zeros */
#define SAN_INVERT     0x02 /* INVERT: invert the pattern between passes */
#define SAN_ERASE      0x04 /* BLOCK ERASE */
#define SAN_CHUNK      (1u << 20)

bool scsi_lu_sanitizing(const struct scsi_lu *lu)
{
	return atomic_load(&((struct scsi_lu *)lu)->sanitizing);
}

static void san_end(struct scsi_task *t, int reason)
{
	scsi_range_unlock(t->lu, t);
	atomic_store(&t->lu->sanitizing, false);
	scsi_task_finish(t, reason);
}

static void san_flush_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	san_end(t, scsi_errno_reason(io->result, true));
}

static void san_flush(struct scsi_task *t)
{
	if (!(lun_backend_caps(t->lu->be) & LUN_CAP_FLUSH))
		return san_end(t, SR_GOOD);
	scsi_submit(t, LUN_OP_FLUSH, 0, 0, 0, NULL, 0, san_flush_done);
}

static void san_next(struct scsi_task *t);

static void san_step_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	if (io->result < 0)
		return san_end(t, scsi_errno_reason(io->result, true));
	t->st.pos += io->length;
	san_next(t);
}

static void san_invert(uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)~b[i];
}

/* Start the next pass over the LU, or finish after the last one. */
static bool san_next_pass(struct scsi_task *t)
{
	if (t->st.pos < t->st.end)
		return true;
	if (--t->st.aux == 0)
		return false;
	t->st.pos = 0;
	if (t->st.flags & SAN_INVERT) {
		t->st.flags &= (uint8_t)~SAN_ZERO; /* inverted zeros are ones */
		san_invert(t->st.scratch, SAN_CHUNK);
	}
	return true;
}

static void san_next(struct scsi_task *t)
{
	if (!san_next_pass(t))
		return san_flush(t);
	uint64_t left = t->st.end - t->st.pos;
	if (t->st.flags & SAN_ERASE) {
		uint64_t n = left < SCSI_SANITIZE_STEP ? left : SCSI_SANITIZE_STEP;
		scsi_submit(t, LUN_OP_UNMAP, 0, t->st.pos, n, NULL, 0, san_step_done);
		return;
	}
	if (t->st.flags & SAN_ZERO) {
		unsigned fl = t->lu->thin ? LUN_IO_UNMAP : 0;
		scsi_submit(t, LUN_OP_WRITE_ZEROES, fl, t->st.pos, left, NULL, 0, san_step_done);
		return;
	}
	size_t n = left < SAN_CHUNK ? (size_t)left : SAN_CHUNK;
	t->st.iov[0] = (struct iovec){ t->st.scratch, n };
	scsi_submit(t, LUN_OP_WRITE, 0, t->st.pos, n, t->st.iov, 1, san_step_done);
}

static void san_locked(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t)) {
		atomic_store(&t->lu->sanitizing, false);
		return; /* a reservation appeared while it waited */
	}
	san_next(t);
}

/* The pattern is at b[0, plen): repeat it over the first block, then that
 * block over the chunk (SBC-4 5.30.2.2: the pattern fills each block). */
static void san_fill(uint8_t *b, uint32_t bs, size_t plen)
{
	for (size_t off = plen; off < bs; off += plen)
		memcpy(b + off, b, plen < bs - off ? plen : bs - off);
	for (size_t have = bs; have < SAN_CHUNK; have += bs)
		memcpy(b + have, b, bs);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void san_rerun(struct scsi_task *t)
{
	int r = scsi_exec_sanitize(t);
	if (r != SR_PENDING)
		scsi_task_finish(t, r);
}

/* OVERWRITE parameter list (SBC-4 table 92): checks, then the pattern
 * chunk in scratch. The length was checked against the CDB already. */
static int san_overwrite_params(struct scsi_task *t, uint32_t plen)
{
	uint8_t h[SCSI_SANITIZE_HDR_LEN];
	scsi_out_copy(t, 0, h, sizeof(h));
	uint8_t count = h[0] & 0x1F;
	uint16_t patlen = get_be16(h + 2);
	if (h[0] & 0x60)
		return scsi_fail_param(t, 0, 6); /* TEST: vendor specific, not used */
	if (count == 0)
		return scsi_fail_param(t, 0, 4);
	if (patlen == 0 || patlen > t->lu->bs || (uint32_t)patlen + SCSI_SANITIZE_HDR_LEN != plen)
		return scsi_fail_param(t, 2, 7);
	uint8_t *b = scsi_scratch_alloc(t, SAN_CHUNK, san_rerun);
	if (!b)
		return SR_PENDING;
	scsi_out_copy(t, SCSI_SANITIZE_HDR_LEN, b, patlen);
	bool zero = all_zero(b, patlen);
	san_fill(b, t->lu->bs, patlen);
	t->st.aux = count;
	t->st.flags = (h[0] & 0x80) ? SAN_INVERT : 0;
	if (zero && (lun_backend_caps(t->lu->be) & LUN_CAP_WRITE_ZEROES))
		t->st.flags |= SAN_ZERO;
	return SR_GOOD;
}

static int san_check(struct scsi_task *t, uint8_t sa, uint32_t plen)
{
	if (sa != SCSI_SANITIZE_OVERWRITE)
		return plen ? scsi_fail_field(t, 7, 7) : SR_GOOD;
	if (plen <= SCSI_SANITIZE_HDR_LEN || plen > t->lu->bs + SCSI_SANITIZE_HDR_LEN)
		return scsi_fail_field(t, 7, 7); /* SBC-4 5.30.2.2 */
	t->out_wanted = plen;
	if (t->out_len < plen)
		return SR_PARAM_LIST_LENGTH;
	return san_overwrite_params(t, plen);
}

int scsi_exec_sanitize(struct scsi_task *t)
{
	uint8_t sa = t->cdb[1] & 0x1F;
	uint32_t plen = get_be16(t->cdb + 7);
	int r = san_check(t, sa, plen);
	if (r != SR_GOOD || sa == SCSI_SANITIZE_EXIT_FAILURE)
		return r;
	if (sa == SCSI_SANITIZE_BLOCK_ERASE) {
		t->st.flags = SAN_ERASE;
		t->st.aux = 1;
	}
	bool was = false;
	if (!atomic_compare_exchange_strong(&t->lu->sanitizing, &was, true))
		return SR_SANITIZE_IN_PROGRESS;
	uint64_t cap = scsi_lu_size_blocks(t->lu);
	t->st.pos = 0;
	t->st.end = cap * t->lu->bs;
	if (scsi_range_lock(t->lu, t, 0, cap, true, san_locked))
		san_locked(t);
	return SR_PENDING;
}
