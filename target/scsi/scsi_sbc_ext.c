/* SPDX-License-Identifier: Apache-2.0 */
/* The less common block commands of SBC-4: ORWRITE(16), WRITE ATOMIC(16)
 * and READ DEFECT DATA (10, 12).
 *
 * ORWRITE(16) (SBC-4 5.10): read, OR the Data-Out into it, write back, under
 * an exclusive range lock so that no command of any session sees or changes
 * the range in between (as COMPARE AND WRITE in scsi_sbc.c).
 *
 * WRITE ATOMIC(16) (SBC-4 5.48, 4.29): a WRITE under an exclusive range
 * lock. What "atomic" means here, and no more: no READ, WRITE, COMPARE AND
 * WRITE, UNMAP, WRITE SAME, EXTENDED COPY or SANITIZE of any session
 * overlapping the range runs while it is written, so every command sees
 * either none or all of it. A crash or power loss of the appliance in the
 * middle can leave the range torn at the backend's granularity (the file
 * backend writes through the page cache; a thin pool maps a chunk at a
 * time), exactly as for WRITE: crash atomicity is not claimed
 * (docs/conformance.md). MAXIMUM ATOMIC TRANSFER LENGTH is
 * SCSI_MAX_ATOMIC_BYTES; no alignment, granularity or boundary rules.
 *
 * READ DEFECT DATA (SBC-4 5.18, 5.19): a virtual LU has no defects; the
 * answer is an empty list in the format asked for.
 *
 * Not for: the common read / write path (scsi_sbc.c), SANITIZE
 * (scsi_sanitize.c).
 */
#include <string.h>
#include "common/kbuf.h"
#include "target/scsi/scsi_internal.h"

#define TASK_OF_IO(io) ((struct scsi_task *)(io)->priv)

/* ---- ORWRITE(16) ---- */
static void orw_write_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	scsi_range_unlock(t->lu, t);
	scsi_task_finish(t, scsi_errno_reason(io->result, true));
}

/* OR the Data-Out into the blocks read, 4 KiB at a time. */
static void orw_merge(struct scsi_task *t, uint8_t *b, size_t len)
{
	uint8_t tmp[4096];
	for (size_t off = 0; off < len; off += sizeof(tmp)) {
		size_t n = len - off < sizeof(tmp) ? len - off : sizeof(tmp);
		scsi_out_copy(t, off, tmp, n);
		for (size_t i = 0; i < n; i++)
			b[off + i] |= tmp[i];
	}
}

static void orw_read_done(struct lun_io *io)
{
	struct scsi_task *t = TASK_OF_IO(io);
	size_t len = (size_t)t->st.pos;
	if (io->result < 0) {
		scsi_range_unlock(t->lu, t);
		return scsi_task_finish(t, scsi_errno_reason(io->result, false));
	}
	orw_merge(t, t->st.scratch, len);
	scsi_submit(t, LUN_OP_WRITE, scsi_write_flags(t, t->st.flags & SCSI_RW_FUA),
		    t->st.lba * t->lu->bs, len, t->st.iov, 1, orw_write_done);
}

static void orw_start(struct scsi_task *t)
{
	if (!scsi_pr_recheck(t))
		return; /* reservations changed while it waited */
	size_t len = (size_t)t->st.pos;
	uint8_t *b = scsi_scratch_alloc(t, len, orw_start);
	if (!b)
		return;
	t->st.iov[0] = (struct iovec){ b, len };
	scsi_submit(t, LUN_OP_READ, 0, t->st.lba * t->lu->bs, len, t->st.iov, 1, orw_read_done);
}

int scsi_exec_orwrite(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r == SR_GOOD)
		r = scsi_check_xfer(t, c.nblocks);
	if (r != SR_GOOD)
		return r;
	uint32_t bs = t->lu->bs;
	t->out_wanted = c.nblocks * bs;
	uint32_t have = t->out_len < t->out_wanted ? t->out_len : t->out_wanted;
	uint32_t nb = have / bs; /* whole blocks that arrived, as WRITE does */
	if (nb == 0)
		return SR_GOOD;
	t->st.pos = (uint64_t)nb * bs;
	t->st.flags = c.flags;
	if (scsi_range_lock(t->lu, t, c.lba, nb, true, orw_start))
		orw_start(t);
	return SR_PENDING;
}

/* ---- WRITE ATOMIC(16) ---- */
int scsi_exec_write_atomic(struct scsi_task *t)
{
	struct scsi_rw_cdb c;
	int r = scsi_rw_prologue(t, &c);
	if (r != SR_GOOD)
		return r;
	uint32_t bs = t->lu->bs;
	if ((uint64_t)c.nblocks * bs > SCSI_MAX_ATOMIC_BYTES)
		return scsi_fail_field(t, 12, 7); /* > MAXIMUM ATOMIC TRANSFER LENGTH */
	t->out_wanted = c.nblocks * bs;
	if (c.nblocks == 0)
		return SR_GOOD;
	if (t->out_len < t->out_wanted)
		return SR_INVALID_FIELD_IU; /* all or nothing: never a part */
	t->st.pos = (uint64_t)c.nblocks * bs;
	t->st.flags = c.flags;
	if (scsi_range_lock(t->lu, t, c.lba, c.nblocks, true, scsi_write_start))
		scsi_write_start(t);
	return SR_PENDING;
}

/* ---- READ DEFECT DATA (10) / (12) ---- */
int scsi_exec_read_defect(struct scsi_task *t)
{
	bool twelve = t->cdb[0] == SCSI_OP_READ_DEFECT12;
	uint8_t fmt = (twelve ? t->cdb[1] : t->cdb[2]) & 0x07;
	uint32_t alloc = twelve ? get_be32(t->cdb + 6) : get_be16(t->cdb + 7);
	size_t hdr = twelve ? 8 : 4;
	uint8_t *b = scsi_in_alloc(t, hdr);
	if (!b)
		return SR_PENDING;
	b[1] = fmt; /* PLISTV = GLISTV = 0: neither list exists; length 0 */
	return scsi_in_done(t, hdr, alloc);
}
