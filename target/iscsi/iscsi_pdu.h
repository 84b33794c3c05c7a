/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI PDU codec (RFC 7143 section 11): pure decoding of the Basic Header
 * Segment of every initiator PDU, parsing of additional header segments,
 * encoding of every target PDU's BHS, and the CRC32C digest.
 *
 * Decoders take (bytes, length, limits) and return a decoded struct plus an
 * iscsi_pdu_err reason; they never touch a socket or global state, so the
 * connection code, the unit tests and the fuzzer share them. Encoders fill a
 * 48-byte BHS; the caller supplies the data segment.
 *
 * Not for: sequence-number policy, task state, sockets (conn.c).
 */
#ifndef KURA_ISCSI_PDU_H
#define KURA_ISCSI_PDU_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/iscsi/iscsi_spec.h"

enum iscsi_pdu_err {
	ISCSI_PDU_OK = 0,
	ISCSI_PDU_TRUNCATED,  /* fewer bytes than the header needs */
	ISCSI_PDU_BAD_OPCODE, /* not an initiator opcode */
	ISCSI_PDU_BAD_FIELD,  /* a field the RFC fixes has another value */
	ISCSI_PDU_TOO_LONG,   /* DataSegmentLength above our MaxRecvDataSegmentLength */
	ISCSI_PDU_BAD_AHS,    /* AHS list does not add up */
};
const char *iscsi_pdu_err_str(enum iscsi_pdu_err e);
/* The Reject reason (RFC 7143 11.17.1) to answer a decode error with. */
uint8_t iscsi_pdu_err_reject_reason(enum iscsi_pdu_err e);

/* Fields every BHS has (11.2.1). */
struct iscsi_bhs {
	uint8_t opcode;
	bool immediate;
	bool final;
	uint8_t flags;    /* byte 1 as sent */
	uint32_t ahs_len; /* bytes (TotalAHSLength * 4) */
	uint32_t dsl;     /* DataSegmentLength */
	uint32_t itt;
};

/* Decode the common part and check framing: opcode is one an initiator may
 * send, DataSegmentLength <= max_dsl. Needs len >= 48. */
enum iscsi_pdu_err iscsi_bhs_decode(const uint8_t *b, size_t len, uint32_t max_dsl,
				    struct iscsi_bhs *out);
/* Bytes on the wire after the BHS: AHS, digests, padded data. */
size_t iscsi_pdu_rest_len(const struct iscsi_bhs *h, bool hdigest, bool ddigest);

struct iscsi_scsi_cmd { /* 11.3 */
	bool immediate, final, read, write;
	uint8_t attr;
	uint8_t lun[8];
	uint32_t itt, edtl, cmdsn, exp_statsn;
	uint8_t cdb[16];
	uint32_t dsl;
};
struct iscsi_data_out { /* 11.8 */
	bool final;
	uint8_t lun[8];
	uint32_t itt, ttt, exp_statsn, datasn, offset, dsl;
};
struct iscsi_nop_out { /* 11.18 */
	bool immediate;
	uint8_t lun[8];
	uint32_t itt, ttt, cmdsn, exp_statsn, dsl;
};
struct iscsi_tmf_req { /* 11.5 */
	bool immediate;
	uint8_t function;
	uint8_t lun[8];
	uint32_t itt, ref_itt, cmdsn, exp_statsn, ref_cmdsn, exp_datasn;
};
struct iscsi_login_req_hdr { /* 11.12 */
	bool transit, cont;
	uint8_t csg, nsg, version_max, version_min;
	uint8_t isid[6];
	uint16_t tsih, cid;
	uint32_t itt, cmdsn, exp_statsn, dsl;
};
struct iscsi_text_req { /* 11.10 */
	bool immediate, final, cont;
	uint8_t lun[8];
	uint32_t itt, ttt, cmdsn, exp_statsn, dsl;
};
struct iscsi_logout_req { /* 11.14 */
	bool immediate;
	uint8_t reason;
	uint16_t cid;
	uint32_t itt, cmdsn, exp_statsn;
};
struct iscsi_snack { /* 11.16 */
	uint8_t type;
	uint8_t lun[8];
	uint32_t itt, ttt, exp_statsn, begrun, runlength;
};

/* Per-opcode decoders: b is a full 48-byte BHS already accepted by
 * iscsi_bhs_decode (so the opcode matches). They check the fields the RFC
 * fixes for that opcode. */
enum iscsi_pdu_err iscsi_decode_scsi_cmd(const uint8_t *b, struct iscsi_scsi_cmd *out);
enum iscsi_pdu_err iscsi_decode_data_out(const uint8_t *b, struct iscsi_data_out *out);
enum iscsi_pdu_err iscsi_decode_nop_out(const uint8_t *b, struct iscsi_nop_out *out);
enum iscsi_pdu_err iscsi_decode_tmf_req(const uint8_t *b, struct iscsi_tmf_req *out);
enum iscsi_pdu_err iscsi_decode_login_req(const uint8_t *b, struct iscsi_login_req_hdr *out);
enum iscsi_pdu_err iscsi_decode_text_req(const uint8_t *b, struct iscsi_text_req *out);
enum iscsi_pdu_err iscsi_decode_logout_req(const uint8_t *b, struct iscsi_logout_req *out);
enum iscsi_pdu_err iscsi_decode_snack(const uint8_t *b, struct iscsi_snack *out);

/* Additional header segments of a SCSI Command (11.2.2): an extended CDB
 * (bytes 17.. of a long CDB) and the bidirectional expected read length. */
struct iscsi_ahs {
	const uint8_t *ext_cdb; /* points into the AHS bytes; NULL if absent */
	uint16_t ext_cdb_len;
	bool has_bidi_read_len;
	uint32_t bidi_read_len;
};
enum iscsi_pdu_err iscsi_ahs_parse(const uint8_t *ahs, size_t len, struct iscsi_ahs *out);

/* ---- encoders: fill the 48-byte BHS b (zeroing reserved fields) ---- */
struct iscsi_seq {
	uint32_t statsn, exp_cmdsn, max_cmdsn;
};

struct iscsi_scsi_rsp {
	uint32_t itt;
	uint8_t response, status, flags; /* flags: ISCSI_RSP_* residual bits */
	uint32_t exp_datasn, bidi_residual, residual, dsl;
};
void iscsi_encode_scsi_rsp(uint8_t *b, const struct iscsi_scsi_rsp *r, const struct iscsi_seq *s);

struct iscsi_data_in {
	bool final, has_status;
	uint8_t flags; /* ISCSI_DATAIN_OVERFLOW / UNDERFLOW (with status) */
	uint8_t status;
	uint8_t lun[8];
	uint32_t itt, ttt, datasn, offset, residual, dsl;
};
/* s->statsn is written only when has_status (otherwise reserved, 11.7.4). */
void iscsi_encode_data_in(uint8_t *b, const struct iscsi_data_in *d, const struct iscsi_seq *s);

struct iscsi_r2t {
	uint8_t lun[8];
	uint32_t itt, ttt, r2tsn, offset, length;
};
void iscsi_encode_r2t(uint8_t *b, const struct iscsi_r2t *r, const struct iscsi_seq *s);

struct iscsi_nop_in {
	uint8_t lun[8];
	uint32_t itt, ttt, dsl;
};
void iscsi_encode_nop_in(uint8_t *b, const struct iscsi_nop_in *n, const struct iscsi_seq *s);

void iscsi_encode_tmf_rsp(uint8_t *b, uint32_t itt, uint8_t response, const struct iscsi_seq *s);

struct iscsi_login_rsp_hdr {
	bool transit, cont;
	uint8_t csg, nsg;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t itt, dsl;
	uint16_t status; /* class << 8 | detail */
};
void iscsi_encode_login_rsp(uint8_t *b, const struct iscsi_login_rsp_hdr *l,
			    const struct iscsi_seq *s);

struct iscsi_text_rsp {
	bool final, cont;
	uint8_t lun[8];
	uint32_t itt, ttt, dsl;
};
void iscsi_encode_text_rsp(uint8_t *b, const struct iscsi_text_rsp *t, const struct iscsi_seq *s);

void iscsi_encode_logout_rsp(uint8_t *b, uint32_t itt, uint8_t response, uint16_t time2wait,
			     uint16_t time2retain, const struct iscsi_seq *s);

struct iscsi_async {
	uint8_t lun[8];
	uint8_t event, vcode;
	uint16_t param1, param2, param3;
	uint32_t dsl;
};
void iscsi_encode_async(uint8_t *b, const struct iscsi_async *a, const struct iscsi_seq *s);

/* Reject: the data segment is the rejected PDU's 48-byte BHS (11.17). */
void iscsi_encode_reject(uint8_t *b, uint8_t reason, uint32_t datasn, const struct iscsi_seq *s);

/* ---- CRC32C digests (RFC 7143 13.1; test vectors RFC 3720 B.4) ----
 * Running value: start with ISCSI_CRC_INIT, feed pieces with
 * iscsi_crc32c_update, finish with iscsi_crc32c_final. On the wire the
 * digest is sent least significant byte first. */
#define ISCSI_CRC_INIT 0xffffffffu
uint32_t iscsi_crc32c_update(uint32_t crc, const void *p, size_t len);
static inline uint32_t iscsi_crc32c_final(uint32_t crc)
{
	return ~crc;
}
uint32_t iscsi_crc32c(const void *p, size_t len);
void iscsi_digest_put(uint8_t out[4], uint32_t digest);
uint32_t iscsi_digest_get(const uint8_t in[4]);
#endif
