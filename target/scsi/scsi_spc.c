/* SPDX-License-Identifier: Apache-2.0 */
/* Primary commands (SPC-4) that are not about the medium: TEST UNIT READY,
 * REQUEST SENSE, REPORT LUNS, REPORT SUPPORTED OPERATION CODES (built from
 * the opcode table, so it can never disagree with dispatch), REPORT
 * SUPPORTED TASK MANAGEMENT FUNCTIONS, START STOP UNIT.
 *
 * Not for: INQUIRY (scsi_inquiry.c), mode pages (scsi_mode.c), block
 * commands (scsi_sbc.c).
 */
#include <string.h>
#include "target/scsi/scsi_internal.h"

#define RSOC_BUF_LEN 8192

/* SPC-4 6.37 */
int scsi_exec_tur(struct scsi_task *t)
{
	return SR_GOOD;
}

/* SPC-4 6.39: returns (and clears) the pending unit attention, or NO SENSE.
 * For an absent LUN: LOGICAL UNIT NOT SUPPORTED in the parameter data. */
int scsi_exec_request_sense(struct scsi_task *t)
{
	bool desc = t->cdb[1] & 0x01;
	uint8_t alloc = t->cdb[4];
	uint8_t *b = scsi_in_alloc(t, 64);
	if (!b)
		return SR_PENDING;
	int reason = t->lu ? scsi_lu_take_ua(t->lu, t->itn) : SR_LU_NOT_SUPPORTED;
	if (reason == SR_GOOD)
		reason = SR_NO_SENSE;
	const struct scsi_reason_info *ri = &scsi_reason_table[reason];
	size_t n = desc ? scsi_sense_desc(b, ri->key, ri->asc, NULL)
			: scsi_sense_fixed(b, ri->key, ri->asc, NULL);
	return scsi_in_done(t, n, alloc);
}

/* SPC-4 6.33: SELECT REPORT 00h / 02h = all LUNs, 01h = well-known LUNs
 * (we have none). */
int scsi_exec_report_luns(struct scsi_task *t)
{
	uint8_t sel = t->cdb[2];
	uint32_t alloc = get_be32(t->cdb + 6);
	if (sel > 2)
		return scsi_fail_field(t, 2, 7);
	if (alloc < 16)
		return scsi_fail_field(t, 6, 7);
	uint8_t *b = scsi_in_alloc(t, SCSI_REPORT_LUNS_HDR_LEN + 8 * SCSI_MAX_LUNS);
	if (!b)
		return SR_PENDING;
	size_t n = SCSI_REPORT_LUNS_HDR_LEN;
	for (unsigned i = 0; sel != 1 && i < SCSI_MAX_LUNS; i++) {
		if (!scsi_lun_map_get(t->map, i))
			continue;
		scsi_encode_lun(i, b + n);
		n += 8;
	}
	put_be32(b, (uint32_t)(n - SCSI_REPORT_LUNS_HDR_LEN));
	return scsi_in_done(t, n, alloc);
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) ---- */
static size_t rsoc_timeouts(const struct scsi_op *op, uint8_t *b)
{
	memset(b, 0, SCSI_RSOC_TIMEOUTS_LEN);
	put_be16(b, SCSI_RSOC_TIMEOUTS_LEN - 2);
	put_be32(b + 4, op->timeout_s);
	put_be32(b + 8, op->timeout_s);
	return SCSI_RSOC_TIMEOUTS_LEN;
}

/* Table 253: one all_commands descriptor. */
static size_t rsoc_desc(const struct scsi_op *op, bool sa, bool rctd, uint8_t *b)
{
	b[0] = op->usage[0];
	put_be16(b + 2, sa ? op->sa : 0);
	b[5] = (uint8_t)((rctd ? 0x02 : 0) | (sa ? 0x01 : 0)); /* CTDP, SERVACTV */
	put_be16(b + 6, op->cdb_len);
	size_t n = SCSI_RSOC_ALL_DESC_LEN;
	return rctd ? n + rsoc_timeouts(op, b + n) : n;
}

static size_t rsoc_all(const struct scsi_lu *lu, bool rctd, uint8_t *b)
{
	size_t n = 4;
	for (unsigned code = 0; code < 256; code++) {
		const struct scsi_op *base = &scsi_op_table[code];
		if (!base->sat) {
			if (scsi_op_available(base, lu))
				n += rsoc_desc(base, false, rctd, b + n);
			continue;
		}
		for (unsigned i = 0; i < base->sat->n; i++)
			if (scsi_op_available(&base->sat->ops[i], lu))
				n += rsoc_desc(&base->sat->ops[i], true, rctd, b + n);
	}
	put_be32(b, (uint32_t)(n - 4));
	return n;
}

/* Table 255: one_command parameter data; SUPPORT 011b or 001b. */
static size_t rsoc_one(const struct scsi_op *op, bool avail, bool rctd, uint8_t *b)
{
	if (!avail) {
		b[1] = 0x01;
		return SCSI_RSOC_ONE_HDR_LEN;
	}
	b[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03);
	put_be16(b + 2, op->cdb_len);
	memcpy(b + 4, op->usage, op->cdb_len);
	size_t n = SCSI_RSOC_ONE_HDR_LEN + op->cdb_len;
	return rctd ? n + rsoc_timeouts(op, b + n) : n;
}

static const struct scsi_op *sa_find(const struct scsi_op *base, uint16_t sa)
{
	for (unsigned i = 0; i < base->sat->n; i++)
		if (base->sat->ops[i].sa == sa)
			return &base->sat->ops[i];
	return NULL;
}

/* Reporting options 1..3: pick the entry (NULL = not supported). */
static int rsoc_pick(struct scsi_task *t, uint8_t opt, const struct scsi_op **out)
{
	const struct scsi_op *base = &scsi_op_table[t->cdb[3]];
	uint16_t sa = get_be16(t->cdb + 4);
	bool has_sa = base->sat != NULL;
	if ((opt == 1 && has_sa) || (opt == 2 && !has_sa))
		return scsi_fail_field(t, 2, 2);
	*out = has_sa ? sa_find(base, sa) : base;
	return SR_GOOD;
}

int scsi_exec_rsoc(struct scsi_task *t)
{
	bool rctd = t->cdb[2] & 0x80;
	uint8_t opt = t->cdb[2] & 0x07;
	uint32_t alloc = get_be32(t->cdb + 6);
	const struct scsi_op *op = NULL;
	if (opt > 3)
		return scsi_fail_field(t, 2, 2);
	if (opt) {
		int r = rsoc_pick(t, opt, &op);
		if (r != SR_GOOD)
			return r;
	}
	uint8_t *b = scsi_in_alloc(t, RSOC_BUF_LEN);
	if (!b)
		return SR_PENDING;
	size_t n = opt ? rsoc_one(op, scsi_op_available(op, t->lu), rctd, b)
		       : rsoc_all(t->lu, rctd, b);
	return scsi_in_done(t, n, alloc);
}

/* SPC-4 6.36, table 258: ABORT TASK, ABORT TASK SET, CLEAR TASK SET,
 * LOGICAL UNIT RESET, TARGET RESET (iSCSI TARGET WARM/COLD RESET). */
int scsi_exec_rstmf(struct scsi_task *t)
{
	bool repd = t->cdb[2] & 0x80;
	uint32_t alloc = get_be32(t->cdb + 6);
	uint8_t *b = scsi_in_alloc(t, 16);
	if (!b)
		return SR_PENDING;
	b[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02; /* ATS ATSS CTSS LURS TRS */
	if (repd)
		b[3] = 0x0C;
	return scsi_in_done(t, repd ? 16 : 4, alloc);
}
