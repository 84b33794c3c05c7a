/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI PDU codec: pure decoders for initiator PDUs, encoders for target
 * PDUs, AHS parsing and CRC32C (RFC 7143 sections 11 and 13.1).
 *
 * Every function works on caller-owned bytes and returns a reason code; the
 * connection code (conn.c) decides what to do with a bad PDU (Reject, or
 * close the connection when framing is lost).
 *
 * Not for: state (sequence numbers, tasks), sockets.
 */
#include "target/iscsi/iscsi_pdu.h"
#include <string.h>
#include <isa-l/crc.h>
#include "common/byteorder.h"

const char *iscsi_pdu_err_str(enum iscsi_pdu_err e)
{
	switch (e) {
	case ISCSI_PDU_OK: return "ok";
	case ISCSI_PDU_TRUNCATED: return "truncated PDU";
	case ISCSI_PDU_BAD_OPCODE: return "unknown opcode";
	case ISCSI_PDU_BAD_FIELD: return "invalid PDU field";
	case ISCSI_PDU_TOO_LONG: return "data segment longer than MaxRecvDataSegmentLength";
	case ISCSI_PDU_BAD_AHS: return "malformed additional header segment";
	}
	return "?";
}

uint8_t iscsi_pdu_err_reject_reason(enum iscsi_pdu_err e)
{
	switch (e) {
	case ISCSI_PDU_BAD_OPCODE: return ISCSI_REJECT_CMD_NOT_SUPPORTED;
	case ISCSI_PDU_BAD_FIELD:
	case ISCSI_PDU_BAD_AHS: return ISCSI_REJECT_INVALID_FIELD;
	default: return ISCSI_REJECT_PROTOCOL;
	}
}

/* Opcodes an initiator may send (RFC 7143 11.2.1.2). */
static bool initiator_opcode(uint8_t op)
{
	return op <= ISCSI_OP_LOGOUT_REQ || op == ISCSI_OP_SNACK;
}

enum iscsi_pdu_err iscsi_bhs_decode(const uint8_t *b, size_t len, uint32_t max_dsl,
				    struct iscsi_bhs *out)
{
	if (len < ISCSI_BHS_LEN)
		return ISCSI_PDU_TRUNCATED;
	out->opcode = b[ISCSI_OFF_OPCODE] & ISCSI_BHS_OPCODE_MASK;
	out->immediate = (b[ISCSI_OFF_OPCODE] & ISCSI_BHS_IMMEDIATE) != 0;
	out->flags = b[ISCSI_OFF_FLAGS];
	out->final = (out->flags & ISCSI_FLAG_FINAL) != 0;
	out->ahs_len = (uint32_t)b[ISCSI_OFF_TOTAHSLEN] * 4;
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	/* Length first: a caller that skips a rejected PDU must be able to
	 * trust that its data segment fits the buffer it has. */
	if (out->dsl > max_dsl)
		return ISCSI_PDU_TOO_LONG;
	if (b[ISCSI_OFF_OPCODE] & 0x80) /* bit 0 of byte 0 is reserved */
		return ISCSI_PDU_BAD_FIELD;
	if (!initiator_opcode(out->opcode))
		return ISCSI_PDU_BAD_OPCODE;
	return ISCSI_PDU_OK;
}

size_t iscsi_pdu_rest_len(const struct iscsi_bhs *h, bool hdigest, bool ddigest)
{
	size_t n = h->ahs_len + (hdigest ? ISCSI_DIGEST_LEN : 0);
	if (h->dsl)
		n += h->dsl + iscsi_pad4(h->dsl) + (ddigest ? ISCSI_DIGEST_LEN : 0);
	return n;
}

enum iscsi_pdu_err iscsi_decode_scsi_cmd(const uint8_t *b, struct iscsi_scsi_cmd *out)
{
	uint8_t f = b[ISCSI_OFF_FLAGS];
	out->immediate = (b[0] & ISCSI_BHS_IMMEDIATE) != 0;
	out->final = (f & ISCSI_FLAG_FINAL) != 0;
	out->read = (f & ISCSI_CMD_READ) != 0;
	out->write = (f & ISCSI_CMD_WRITE) != 0;
	out->attr = f & ISCSI_CMD_ATTR_MASK;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->edtl = get_be32(b + ISCSI_OFF_20);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	memcpy(out->cdb, b + ISCSI_CMD_OFF_CDB, ISCSI_CMD_CDB_LEN);
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	/* 11.3.1.1: F=0 announces unsolicited Data-Out, which only a write has;
	 * immediate data (11.3.4) likewise, and never beyond the EDTL. */
	if (out->itt == ISCSI_RSVD_TAG)
		return ISCSI_PDU_BAD_FIELD;
	if ((!out->final || out->dsl) && !out->write)
		return ISCSI_PDU_BAD_FIELD;
	if (out->dsl > out->edtl)
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_data_out(const uint8_t *b, struct iscsi_data_out *out)
{
	out->final = (b[ISCSI_OFF_FLAGS] & ISCSI_FLAG_FINAL) != 0;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->ttt = get_be32(b + ISCSI_OFF_20);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->datasn = get_be32(b + ISCSI_OFF_36);
	out->offset = get_be32(b + ISCSI_OFF_40);
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	if (b[ISCSI_OFF_TOTAHSLEN]) /* 11.8: no AHS on Data-Out */
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_nop_out(const uint8_t *b, struct iscsi_nop_out *out)
{
	out->immediate = (b[0] & ISCSI_BHS_IMMEDIATE) != 0;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->ttt = get_be32(b + ISCSI_OFF_20);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	/* 11.18.3: a NOP-Out that is neither a ping nor a reply is meaningless;
	 * 11.18.1: a reply (ITT reserved) is always immediate. */
	if (out->itt == ISCSI_RSVD_TAG && out->ttt == ISCSI_RSVD_TAG && !out->immediate)
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_tmf_req(const uint8_t *b, struct iscsi_tmf_req *out)
{
	out->immediate = (b[0] & ISCSI_BHS_IMMEDIATE) != 0;
	out->function = b[ISCSI_OFF_FLAGS] & ISCSI_TMF_FUNC_MASK;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->ref_itt = get_be32(b + ISCSI_OFF_20);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->ref_cmdsn = get_be32(b + ISCSI_OFF_32);
	out->exp_datasn = get_be32(b + ISCSI_OFF_36);
	if (!(b[ISCSI_OFF_FLAGS] & ISCSI_FLAG_FINAL) || out->itt == ISCSI_RSVD_TAG)
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_login_req(const uint8_t *b, struct iscsi_login_req_hdr *out)
{
	uint8_t f = b[ISCSI_OFF_FLAGS];
	out->transit = (f & ISCSI_LOGIN_TRANSIT) != 0;
	out->cont = (f & ISCSI_LOGIN_CONT) != 0;
	out->csg = (f >> ISCSI_LOGIN_CSG_SHIFT) & ISCSI_LOGIN_STAGE_MASK;
	out->nsg = f & ISCSI_LOGIN_STAGE_MASK;
	out->version_max = b[ISCSI_OFF_BYTE2];
	out->version_min = b[ISCSI_OFF_BYTE3];
	memcpy(out->isid, b + ISCSI_LOGIN_OFF_ISID, 6);
	out->tsih = get_be16(b + ISCSI_LOGIN_OFF_TSIH);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->cid = get_be16(b + ISCSI_LOGIN_OFF_CID);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	/* 11.12.1-3: always immediate; T and C exclusive; stage 2 is reserved;
	 * NSG is meaningful only with T. */
	if (!(b[0] & ISCSI_BHS_IMMEDIATE) || (out->transit && out->cont))
		return ISCSI_PDU_BAD_FIELD;
	if (out->csg == 2 || (out->transit && (out->nsg == 2 || out->nsg <= out->csg)))
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_text_req(const uint8_t *b, struct iscsi_text_req *out)
{
	uint8_t f = b[ISCSI_OFF_FLAGS];
	out->immediate = (b[0] & ISCSI_BHS_IMMEDIATE) != 0;
	out->final = (f & ISCSI_FLAG_FINAL) != 0;
	out->cont = (f & ISCSI_TEXT_CONT) != 0;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->ttt = get_be32(b + ISCSI_OFF_20);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->dsl = get_be24(b + ISCSI_OFF_DSL);
	if ((out->final && out->cont) || out->itt == ISCSI_RSVD_TAG) /* 11.10.2 */
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_logout_req(const uint8_t *b, struct iscsi_logout_req *out)
{
	out->immediate = (b[0] & ISCSI_BHS_IMMEDIATE) != 0;
	out->reason = b[ISCSI_OFF_FLAGS] & ISCSI_LOGOUT_REASON_MASK;
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->cid = get_be16(b + ISCSI_OFF_20);
	out->cmdsn = get_be32(b + ISCSI_OFF_24);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	if (!(b[ISCSI_OFF_FLAGS] & ISCSI_FLAG_FINAL) ||
	    out->reason > ISCSI_LOGOUT_REMOVE_FOR_RECOVERY)
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_decode_snack(const uint8_t *b, struct iscsi_snack *out)
{
	out->type = b[ISCSI_OFF_FLAGS] & 0x0f;
	memcpy(out->lun, b + ISCSI_OFF_LUN, 8);
	out->itt = get_be32(b + ISCSI_OFF_ITT);
	out->ttt = get_be32(b + ISCSI_OFF_20);
	out->exp_statsn = get_be32(b + ISCSI_OFF_28);
	out->begrun = get_be32(b + ISCSI_OFF_40);
	out->runlength = get_be32(b + ISCSI_OFF_44);
	if (!(b[ISCSI_OFF_FLAGS] & ISCSI_FLAG_FINAL) || out->type > 3)
		return ISCSI_PDU_BAD_FIELD;
	return ISCSI_PDU_OK;
}

/* One AHS (11.2.2): AHSLength (bytes of AHS-specific data, incl. the
 * reserved byte after the type), AHSType, then data padded to 4. */
static enum iscsi_pdu_err ahs_one(const uint8_t *p, size_t avail, struct iscsi_ahs *out,
				  size_t *used)
{
	if (avail < 4)
		return ISCSI_PDU_BAD_AHS;
	uint16_t alen = get_be16(p);
	uint8_t type = p[2];
	size_t total = ISCSI_AHS_HDR_LEN + (size_t)alen;
	total += iscsi_pad4((uint32_t)total);
	if (alen == 0 || total > avail)
		return ISCSI_PDU_BAD_AHS;
	if (type == ISCSI_AHS_EXTENDED_CDB) {
		/* 11.2.2.3: AHSLength = CDB length - 15 (reserved byte + bytes 17..) */
		if (out->ext_cdb || alen < 2 || alen - 1 > 260 - 16)
			return ISCSI_PDU_BAD_AHS;
		out->ext_cdb = p + 4;
		out->ext_cdb_len = (uint16_t)(alen - 1);
	} else if (type == ISCSI_AHS_BIDI_READ_LEN) {
		/* 11.2.2.4: AHSLength 5 = reserved byte + 4-byte length */
		if (alen != 5 || out->has_bidi_read_len)
			return ISCSI_PDU_BAD_AHS;
		out->has_bidi_read_len = true;
		out->bidi_read_len = get_be32(p + 4);
	} else {
		return ISCSI_PDU_BAD_AHS;
	}
	*used = total;
	return ISCSI_PDU_OK;
}

enum iscsi_pdu_err iscsi_ahs_parse(const uint8_t *ahs, size_t len, struct iscsi_ahs *out)
{
	memset(out, 0, sizeof(*out));
	size_t off = 0;
	while (off < len) {
		size_t used = 0;
		enum iscsi_pdu_err e = ahs_one(ahs + off, len - off, out, &used);
		if (e)
			return e;
		off += used;
	}
	return ISCSI_PDU_OK;
}

/* ---- encoders ---- */

static void put_head(uint8_t *b, uint8_t opcode, uint8_t flags, uint32_t dsl, uint32_t itt)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[ISCSI_OFF_OPCODE] = opcode;
	b[ISCSI_OFF_FLAGS] = flags;
	put_be24(b + ISCSI_OFF_DSL, dsl);
	put_be32(b + ISCSI_OFF_ITT, itt);
}

static void put_seq(uint8_t *b, const struct iscsi_seq *s)
{
	put_be32(b + ISCSI_OFF_24, s->statsn);
	put_be32(b + ISCSI_OFF_28, s->exp_cmdsn);
	put_be32(b + ISCSI_OFF_32, s->max_cmdsn);
}

void iscsi_encode_scsi_rsp(uint8_t *b, const struct iscsi_scsi_rsp *r, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_SCSI_RSP, ISCSI_FLAG_FINAL | (r->flags & 0x1e), r->dsl, r->itt);
	b[ISCSI_OFF_BYTE2] = r->response;
	b[ISCSI_OFF_BYTE3] = r->status;
	put_seq(b, s);
	put_be32(b + ISCSI_OFF_36, r->exp_datasn);
	put_be32(b + ISCSI_OFF_40, r->bidi_residual);
	put_be32(b + ISCSI_OFF_44, r->residual);
}

void iscsi_encode_data_in(uint8_t *b, const struct iscsi_data_in *d, const struct iscsi_seq *s)
{
	uint8_t f = d->final ? ISCSI_FLAG_FINAL : 0;
	if (d->has_status) /* 11.7.2: S implies F; O/U only with S */
		f |= ISCSI_FLAG_FINAL | ISCSI_DATAIN_STATUS |
		     (d->flags & (ISCSI_DATAIN_OVERFLOW | ISCSI_DATAIN_UNDERFLOW));
	put_head(b, ISCSI_OP_DATA_IN, f, d->dsl, d->itt);
	memcpy(b + ISCSI_OFF_LUN, d->lun, 8);
	put_be32(b + ISCSI_OFF_20, d->ttt);
	put_seq(b, s);
	if (d->has_status) {
		b[ISCSI_OFF_BYTE3] = d->status;
		put_be32(b + ISCSI_OFF_44, d->residual);
	} else {
		put_be32(b + ISCSI_OFF_24, 0);
	}
	put_be32(b + ISCSI_OFF_36, d->datasn);
	put_be32(b + ISCSI_OFF_40, d->offset);
}

void iscsi_encode_r2t(uint8_t *b, const struct iscsi_r2t *r, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_R2T, ISCSI_FLAG_FINAL, 0, r->itt);
	memcpy(b + ISCSI_OFF_LUN, r->lun, 8);
	put_be32(b + ISCSI_OFF_20, r->ttt);
	put_seq(b, s);
	put_be32(b + ISCSI_OFF_36, r->r2tsn);
	put_be32(b + ISCSI_OFF_40, r->offset);
	put_be32(b + ISCSI_OFF_44, r->length);
}

void iscsi_encode_nop_in(uint8_t *b, const struct iscsi_nop_in *n, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, n->dsl, n->itt);
	memcpy(b + ISCSI_OFF_LUN, n->lun, 8);
	put_be32(b + ISCSI_OFF_20, n->ttt);
	put_seq(b, s);
}

void iscsi_encode_tmf_rsp(uint8_t *b, uint32_t itt, uint8_t response, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0, itt);
	b[ISCSI_OFF_BYTE2] = response;
	put_seq(b, s);
}

void iscsi_encode_login_rsp(uint8_t *b, const struct iscsi_login_rsp_hdr *l,
			    const struct iscsi_seq *s)
{
	uint8_t f =
		(uint8_t)((l->transit ? ISCSI_LOGIN_TRANSIT : 0) |
			  (l->cont ? ISCSI_LOGIN_CONT : 0) | (l->csg & 3) << ISCSI_LOGIN_CSG_SHIFT |
			  (l->transit ? (l->nsg & 3) : 0));
	put_head(b, ISCSI_OP_LOGIN_RSP, f, l->dsl, l->itt);
	b[ISCSI_OFF_BYTE2] = ISCSI_VERSION; /* Version-max */
	b[ISCSI_OFF_BYTE3] = ISCSI_VERSION; /* Version-active */
	memcpy(b + ISCSI_LOGIN_OFF_ISID, l->isid, 6);
	put_be16(b + ISCSI_LOGIN_OFF_TSIH, l->tsih);
	put_seq(b, s);
	b[ISCSI_LOGIN_OFF_STATUS] = (uint8_t)(l->status >> 8);
	b[ISCSI_LOGIN_OFF_STATUS + 1] = (uint8_t)l->status;
}

void iscsi_encode_text_rsp(uint8_t *b, const struct iscsi_text_rsp *t, const struct iscsi_seq *s)
{
	uint8_t f = (uint8_t)((t->final ? ISCSI_FLAG_FINAL : 0) | (t->cont ? ISCSI_TEXT_CONT : 0));
	put_head(b, ISCSI_OP_TEXT_RSP, f, t->dsl, t->itt);
	memcpy(b + ISCSI_OFF_LUN, t->lun, 8);
	put_be32(b + ISCSI_OFF_20, t->ttt);
	put_seq(b, s);
}

void iscsi_encode_logout_rsp(uint8_t *b, uint32_t itt, uint8_t response, uint16_t time2wait,
			     uint16_t time2retain, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, 0, itt);
	b[ISCSI_OFF_BYTE2] = response;
	put_seq(b, s);
	put_be16(b + ISCSI_OFF_40, time2wait);
	put_be16(b + ISCSI_OFF_40 + 2, time2retain);
}

void iscsi_encode_async(uint8_t *b, const struct iscsi_async *a, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_ASYNC, ISCSI_FLAG_FINAL, a->dsl, ISCSI_RSVD_TAG);
	memcpy(b + ISCSI_OFF_LUN, a->lun, 8);
	put_seq(b, s);
	b[ISCSI_OFF_36] = a->event;
	b[ISCSI_OFF_36 + 1] = a->vcode;
	put_be16(b + ISCSI_OFF_36 + 2, a->param1);
	put_be16(b + ISCSI_OFF_40, a->param2);
	put_be16(b + ISCSI_OFF_40 + 2, a->param3);
}

void iscsi_encode_reject(uint8_t *b, uint8_t reason, uint32_t datasn, const struct iscsi_seq *s)
{
	put_head(b, ISCSI_OP_REJECT, ISCSI_FLAG_FINAL, ISCSI_BHS_LEN, ISCSI_RSVD_TAG);
	b[ISCSI_OFF_BYTE2] = reason;
	put_seq(b, s);
	put_be32(b + ISCSI_OFF_36, datasn);
}

/* ---- CRC32C ----
 * ISA-L's crc32_iscsi(buf, len, seed) returns the register without the final
 * inversion (checked against RFC 3720 B.4 in tests/unit/test_pdu.c), so the
 * running value stays raw and iscsi_crc32c_final() inverts it. */
uint32_t iscsi_crc32c_update(uint32_t crc, const void *p, size_t len)
{
	const unsigned char *c = p;
	while (len) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;
		crc = crc32_iscsi((unsigned char *)c, n, crc);
		c += n;
		len -= (size_t)n;
	}
	return crc;
}

uint32_t iscsi_crc32c(const void *p, size_t len)
{
	return iscsi_crc32c_final(iscsi_crc32c_update(ISCSI_CRC_INIT, p, len));
}

void iscsi_digest_put(uint8_t out[4], uint32_t digest)
{
	put_le32(out, digest);
}
uint32_t iscsi_digest_get(const uint8_t in[4])
{
	return get_le32(in);
}
