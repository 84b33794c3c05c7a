/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the iSCSI PDU codec (target/iscsi/iscsi_pdu.c): every initiator
 * PDU decoded from hand-built bytes, every target PDU encoded and compared
 * byte for byte, AHS parsing, hostile headers, and CRC32C against the test
 * vectors of RFC 3720 appendix B.4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "target/iscsi/iscsi_pdu.c"

static void bhs_init(uint8_t *b, uint8_t op0, uint8_t flags, uint32_t dsl, uint32_t itt)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = op0;
	b[1] = flags;
	put_be24(b + 5, dsl);
	put_be32(b + 16, itt);
}

/* ---- CRC32C (RFC 3720 B.4) ---- */

static void test_crc_vectors(void **state)
{
	uint8_t buf[48];
	memset(buf, 0, 32);
	assert_int_equal(iscsi_crc32c(buf, 32), 0x8a9136aa);
	memset(buf, 0xff, 32);
	assert_int_equal(iscsi_crc32c(buf, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(iscsi_crc32c(buf, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(iscsi_crc32c(buf, 32), 0x113fdb5c);
	/* the SCSI Read (10) command PDU of B.4; wire digest bytes 56 3a 96 d9 */
	static const uint8_t read10[48] = {
		0x01, 0xc0, 0, 0, 0, 0, 0,    0, 0,    0, 0, 0,    0, 0, 0, 0,
		0x14, 0,    0, 0, 0, 0, 0x04, 0, 0,    0, 0, 0x14, 0, 0, 0, 0x18,
		0x28, 0,    0, 0, 0, 0, 0,    0, 0x02, 0, 0, 0,    0, 0, 0, 0
	};
	uint32_t crc = iscsi_crc32c(read10, sizeof(read10));
	assert_int_equal(crc, 0xd9963a56);
	uint8_t wire[4];
	iscsi_digest_put(wire, crc);
	static const uint8_t expect[4] = { 0x56, 0x3a, 0x96, 0xd9 };
	assert_memory_equal(wire, expect, 4);
	assert_int_equal(iscsi_digest_get(wire), crc);
}

static void test_crc_chained(void **state)
{
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t one = iscsi_crc32c(buf, sizeof(buf));
	uint32_t c = ISCSI_CRC_INIT;
	c = iscsi_crc32c_update(c, buf, 1);
	c = iscsi_crc32c_update(c, buf + 1, 500);
	c = iscsi_crc32c_update(c, buf + 501, 499);
	assert_int_equal(iscsi_crc32c_final(c), one);
	assert_int_equal(iscsi_crc32c(buf, 0), 0);
}

/* ---- common BHS ---- */

static void test_bhs_common(void **state)
{
	uint8_t b[48];
	struct iscsi_bhs h;
	bhs_init(b, 0x41, 0x80, 0x012345, 0xdeadbeef);
	b[4] = 3;
	assert_int_equal(iscsi_bhs_decode(b, 48, 0xffffff, &h), ISCSI_PDU_OK);
	assert_int_equal(h.opcode, ISCSI_OP_SCSI_CMD);
	assert_true(h.immediate);
	assert_true(h.final);
	assert_int_equal(h.ahs_len, 12);
	assert_int_equal(h.dsl, 0x012345);
	assert_int_equal(h.itt, 0xdeadbeef);
	assert_int_equal(iscsi_pdu_rest_len(&h, true, true), 12 + 4 + 0x012345 + 3 + 4);
	assert_int_equal(iscsi_pdu_rest_len(&h, false, false), 12 + 0x012345 + 3);
	h.dsl = 0;
	assert_int_equal(iscsi_pdu_rest_len(&h, true, true), 16); /* no data digest without data */
}

static void test_bhs_hostile(void **state)
{
	uint8_t b[48];
	struct iscsi_bhs h;
	bhs_init(b, 0x01, 0x80, 0, 1);
	assert_int_equal(iscsi_bhs_decode(b, 47, 8192, &h), ISCSI_PDU_TRUNCATED);
	assert_int_equal(iscsi_bhs_decode(b, 0, 8192, &h), ISCSI_PDU_TRUNCATED);
	static const uint8_t bad_ops[] = { 0x07, 0x0f, 0x11, 0x1c, 0x20, 0x21, 0x25, 0x31, 0x3f };
	for (size_t i = 0; i < sizeof(bad_ops); i++) {
		b[0] = bad_ops[i];
		assert_int_equal(iscsi_bhs_decode(b, 48, 8192, &h), ISCSI_PDU_BAD_OPCODE);
	}
	b[0] = 0x81; /* reserved top bit */
	assert_int_equal(iscsi_bhs_decode(b, 48, 8192, &h), ISCSI_PDU_BAD_FIELD);
	b[0] = 0x05;
	put_be24(b + 5, 8193);
	assert_int_equal(iscsi_bhs_decode(b, 48, 8192, &h), ISCSI_PDU_TOO_LONG);
	assert_int_equal(h.dsl, 8193); /* fields are still decoded for the caller */
	b[0] = 0x3f;                   /* too long wins over a bad opcode: the */
	assert_int_equal(iscsi_bhs_decode(b, 48, 8192, &h),
			 ISCSI_PDU_TOO_LONG); /* caller skips by DSL */
	b[0] = 0x05;
	put_be24(b + 5, 0xffffff);
	assert_int_equal(iscsi_bhs_decode(b, 48, 0xffffff, &h), ISCSI_PDU_OK);
	assert_int_equal(iscsi_pdu_err_reject_reason(ISCSI_PDU_BAD_OPCODE),
			 ISCSI_REJECT_CMD_NOT_SUPPORTED);
	assert_int_equal(iscsi_pdu_err_reject_reason(ISCSI_PDU_BAD_FIELD),
			 ISCSI_REJECT_INVALID_FIELD);
	assert_int_equal(iscsi_pdu_err_reject_reason(ISCSI_PDU_TOO_LONG), ISCSI_REJECT_PROTOCOL);
	assert_string_equal(iscsi_pdu_err_str(ISCSI_PDU_BAD_AHS),
			    "malformed additional header segment");
}

/* ---- initiator PDUs ---- */

static void test_decode_scsi_cmd(void **state)
{
	uint8_t b[48];
	struct iscsi_scsi_cmd c;
	bhs_init(b, 0x41, 0x80 | 0x20 | 0x01, 512, 0x11223344);
	memcpy(b + 8, "\x00\x01\0\0\0\0\0\0", 8);
	put_be32(b + 20, 4096);
	put_be32(b + 24, 77);
	put_be32(b + 28, 9);
	for (int i = 0; i < 16; i++)
		b[32 + i] = (uint8_t)(0x2a + i);
	assert_int_equal(iscsi_decode_scsi_cmd(b, &c), ISCSI_PDU_OK);
	assert_true(c.immediate && c.final && c.write && !c.read);
	assert_int_equal(c.attr, 1);
	assert_int_equal(c.lun[1], 1);
	assert_int_equal(c.itt, 0x11223344);
	assert_int_equal(c.edtl, 4096);
	assert_int_equal(c.cmdsn, 77);
	assert_int_equal(c.exp_statsn, 9);
	assert_int_equal(c.dsl, 512);
	assert_int_equal(c.cdb[0], 0x2a);
	assert_int_equal(c.cdb[15], 0x2a + 15);
	/* immediate data beyond the EDTL */
	put_be24(b + 5, 8192);
	assert_int_equal(iscsi_decode_scsi_cmd(b, &c), ISCSI_PDU_BAD_FIELD);
	/* data on a read */
	b[1] = 0x80 | 0x40;
	put_be24(b + 5, 512);
	assert_int_equal(iscsi_decode_scsi_cmd(b, &c), ISCSI_PDU_BAD_FIELD);
	/* F=0 (unsolicited data follows) without W */
	b[1] = 0x40;
	put_be24(b + 5, 0);
	assert_int_equal(iscsi_decode_scsi_cmd(b, &c), ISCSI_PDU_BAD_FIELD);
	/* reserved ITT */
	b[1] = 0xc0;
	put_be32(b + 16, 0xffffffff);
	assert_int_equal(iscsi_decode_scsi_cmd(b, &c), ISCSI_PDU_BAD_FIELD);
}

static void test_decode_data_out(void **state)
{
	uint8_t b[48];
	struct iscsi_data_out d;
	bhs_init(b, 0x05, 0x80, 8192, 7);
	b[9] = 3;
	put_be32(b + 20, 0x55);
	put_be32(b + 28, 4);
	put_be32(b + 36, 2);
	put_be32(b + 40, 16384);
	assert_int_equal(iscsi_decode_data_out(b, &d), ISCSI_PDU_OK);
	assert_true(d.final);
	assert_int_equal(d.lun[1], 3);
	assert_int_equal(d.itt, 7);
	assert_int_equal(d.ttt, 0x55);
	assert_int_equal(d.exp_statsn, 4);
	assert_int_equal(d.datasn, 2);
	assert_int_equal(d.offset, 16384);
	assert_int_equal(d.dsl, 8192);
	b[4] = 1; /* no AHS on Data-Out */
	assert_int_equal(iscsi_decode_data_out(b, &d), ISCSI_PDU_BAD_FIELD);
}

static void test_decode_nop_out(void **state)
{
	uint8_t b[48];
	struct iscsi_nop_out n;
	bhs_init(b, 0x40, 0x80, 5, 0x99);
	put_be32(b + 20, 0xffffffff);
	put_be32(b + 24, 10);
	put_be32(b + 28, 11);
	assert_int_equal(iscsi_decode_nop_out(b, &n), ISCSI_PDU_OK);
	assert_true(n.immediate);
	assert_int_equal(n.itt, 0x99);
	assert_int_equal(n.ttt, 0xffffffff);
	assert_int_equal(n.cmdsn, 10);
	assert_int_equal(n.exp_statsn, 11);
	assert_int_equal(n.dsl, 5);
	/* ITT and TTT both reserved and not immediate: meaningless */
	b[0] = 0x00;
	put_be32(b + 16, 0xffffffff);
	assert_int_equal(iscsi_decode_nop_out(b, &n), ISCSI_PDU_BAD_FIELD);
}

static void test_decode_tmf(void **state)
{
	uint8_t b[48];
	struct iscsi_tmf_req t;
	bhs_init(b, 0x42, 0x80 | ISCSI_TMF_LUN_RESET, 0, 0x10);
	b[9] = 2;
	put_be32(b + 20, 0x20);
	put_be32(b + 24, 30);
	put_be32(b + 28, 31);
	put_be32(b + 32, 29);
	put_be32(b + 36, 5);
	assert_int_equal(iscsi_decode_tmf_req(b, &t), ISCSI_PDU_OK);
	assert_true(t.immediate);
	assert_int_equal(t.function, ISCSI_TMF_LUN_RESET);
	assert_int_equal(t.lun[1], 2);
	assert_int_equal(t.itt, 0x10);
	assert_int_equal(t.ref_itt, 0x20);
	assert_int_equal(t.cmdsn, 30);
	assert_int_equal(t.exp_statsn, 31);
	assert_int_equal(t.ref_cmdsn, 29);
	assert_int_equal(t.exp_datasn, 5);
	b[1] = ISCSI_TMF_ABORT_TASK; /* F must be 1 */
	assert_int_equal(iscsi_decode_tmf_req(b, &t), ISCSI_PDU_BAD_FIELD);
}

static void test_decode_login(void **state)
{
	uint8_t b[48];
	struct iscsi_login_req_hdr l;
	bhs_init(b, 0x43, 0x80 | (1 << 2) | 3, 100, 0x1234);
	b[2] = 0;
	b[3] = 0;
	memcpy(b + 8, "\x80\x12\x34\x56\x78\x9a", 6);
	put_be16(b + 14, 0);
	put_be16(b + 20, 7);
	put_be32(b + 24, 1000);
	put_be32(b + 28, 55);
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_OK);
	assert_true(l.transit && !l.cont);
	assert_int_equal(l.csg, 1);
	assert_int_equal(l.nsg, 3);
	assert_memory_equal(l.isid, "\x80\x12\x34\x56\x78\x9a", 6);
	assert_int_equal(l.tsih, 0);
	assert_int_equal(l.cid, 7);
	assert_int_equal(l.itt, 0x1234);
	assert_int_equal(l.cmdsn, 1000);
	assert_int_equal(l.exp_statsn, 55);
	assert_int_equal(l.dsl, 100);
	b[0] = 0x03; /* login is always immediate */
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_BAD_FIELD);
	b[0] = 0x43;
	b[1] = 0xc0 | (1 << 2) | 3; /* T and C */
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_BAD_FIELD);
	b[1] = 0x80 | (2 << 2) | 3; /* CSG 2 is reserved */
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_BAD_FIELD);
	b[1] = 0x80 | (1 << 2) | 1; /* transit to the same stage */
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_BAD_FIELD);
	b[1] = (1 << 2) | 0; /* no transit: NSG ignored */
	assert_int_equal(iscsi_decode_login_req(b, &l), ISCSI_PDU_OK);
}

static void test_decode_text_logout_snack(void **state)
{
	uint8_t b[48];
	struct iscsi_text_req t;
	bhs_init(b, 0x44, 0x80, 20, 3);
	put_be32(b + 20, 0xffffffff);
	put_be32(b + 24, 8);
	assert_int_equal(iscsi_decode_text_req(b, &t), ISCSI_PDU_OK);
	assert_true(t.immediate && t.final && !t.cont);
	assert_int_equal(t.ttt, 0xffffffff);
	assert_int_equal(t.cmdsn, 8);
	assert_int_equal(t.dsl, 20);
	b[1] = 0xc0;
	assert_int_equal(iscsi_decode_text_req(b, &t), ISCSI_PDU_BAD_FIELD);

	struct iscsi_logout_req lo;
	bhs_init(b, 0x46, 0x80 | 1, 0, 9);
	put_be16(b + 20, 4);
	put_be32(b + 24, 12);
	put_be32(b + 28, 13);
	assert_int_equal(iscsi_decode_logout_req(b, &lo), ISCSI_PDU_OK);
	assert_true(lo.immediate);
	assert_int_equal(lo.reason, 1);
	assert_int_equal(lo.cid, 4);
	assert_int_equal(lo.cmdsn, 12);
	assert_int_equal(lo.exp_statsn, 13);
	b[1] = 0x80 | 3;
	assert_int_equal(iscsi_decode_logout_req(b, &lo), ISCSI_PDU_BAD_FIELD);

	struct iscsi_snack s;
	bhs_init(b, 0x10, 0x80 | 1, 0, 9);
	put_be32(b + 40, 3);
	put_be32(b + 44, 2);
	assert_int_equal(iscsi_decode_snack(b, &s), ISCSI_PDU_OK);
	assert_int_equal(s.type, 1);
	assert_int_equal(s.begrun, 3);
	assert_int_equal(s.runlength, 2);
	b[1] = 0x80 | 7;
	assert_int_equal(iscsi_decode_snack(b, &s), ISCSI_PDU_BAD_FIELD);
}

/* ---- AHS ---- */

static void test_ahs(void **state)
{
	uint8_t a[64];
	struct iscsi_ahs h;
	/* 32-byte CDB: AHSLength = 1 + 16 (reserved byte + CDB bytes 16..31): 20 bytes */
	memset(a, 0, sizeof(a));
	put_be16(a, 17);
	a[2] = ISCSI_AHS_EXTENDED_CDB;
	for (int i = 0; i < 16; i++)
		a[4 + i] = (uint8_t)(0xa0 + i);
	/* then bidirectional read length */
	put_be16(a + 20, 5);
	a[22] = ISCSI_AHS_BIDI_READ_LEN;
	put_be32(a + 24, 65536);
	assert_int_equal(iscsi_ahs_parse(a, 28, &h), ISCSI_PDU_OK);
	assert_non_null(h.ext_cdb);
	assert_int_equal(h.ext_cdb_len, 16);
	assert_int_equal(h.ext_cdb[0], 0xa0);
	assert_true(h.has_bidi_read_len);
	assert_int_equal(h.bidi_read_len, 65536);
	assert_int_equal(iscsi_ahs_parse(a, 0, &h), ISCSI_PDU_OK);
	assert_null(h.ext_cdb);
	/* length running past the end */
	assert_int_equal(iscsi_ahs_parse(a, 19, &h), ISCSI_PDU_BAD_AHS);
	assert_int_equal(iscsi_ahs_parse(a, 3, &h), ISCSI_PDU_BAD_AHS);
	assert_int_equal(iscsi_ahs_parse(a, 24, &h), ISCSI_PDU_BAD_AHS); /* half a bidi AHS */
	/* zero length, unknown type, duplicate, oversized CDB, wrong bidi length */
	put_be16(a, 0);
	assert_int_equal(iscsi_ahs_parse(a, 24, &h), ISCSI_PDU_BAD_AHS);
	put_be16(a, 17);
	a[2] = 9;
	assert_int_equal(iscsi_ahs_parse(a, 24, &h), ISCSI_PDU_BAD_AHS);
	a[2] = ISCSI_AHS_EXTENDED_CDB;
	memcpy(a + 20, a, 20);
	assert_int_equal(iscsi_ahs_parse(a, 40, &h), ISCSI_PDU_BAD_AHS);
	uint8_t big[300];
	memset(big, 0, sizeof(big));
	put_be16(big, 250);
	big[2] = ISCSI_AHS_EXTENDED_CDB;
	assert_int_equal(iscsi_ahs_parse(big, 256, &h), ISCSI_PDU_BAD_AHS);
	put_be16(big, 6);
	big[2] = ISCSI_AHS_BIDI_READ_LEN;
	assert_int_equal(iscsi_ahs_parse(big, 12, &h), ISCSI_PDU_BAD_AHS);
	put_be16(big, 0xffff);
	assert_int_equal(iscsi_ahs_parse(big, sizeof(big), &h), ISCSI_PDU_BAD_AHS);
}

/* ---- target PDUs, byte-exact ---- */

static const struct iscsi_seq SEQ = { .statsn = 0x01020304,
				      .exp_cmdsn = 0x05060708,
				      .max_cmdsn = 0x090a0b0c };

static void expect_seq(const uint8_t *b)
{
	static const uint8_t s[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	assert_memory_equal(b + 24, s, 12);
}

static void test_encode_scsi_rsp(void **state)
{
	uint8_t b[48], e[48];
	struct iscsi_scsi_rsp r = { .itt = 0xaabbccdd,
				    .response = 0,
				    .status = 2,
				    .flags = ISCSI_RSP_UNDERFLOW | 0x01 /* junk dropped */,
				    .exp_datasn = 3,
				    .bidi_residual = 0,
				    .residual = 512,
				    .dsl = 20 };
	iscsi_encode_scsi_rsp(b, &r, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x21;
	e[1] = 0x82;
	e[2] = 0;
	e[3] = 2;
	e[7] = 20;
	e[16] = 0xaa;
	e[17] = 0xbb;
	e[18] = 0xcc;
	e[19] = 0xdd;
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	e[39] = 3;
	put_be32(e + 44, 512);
	assert_memory_equal(b, e, 48);
}

static void test_encode_data_in(void **state)
{
	uint8_t b[48];
	struct iscsi_data_in d = { .final = false,
				   .has_status = true,
				   .status = 0,
				   .flags = ISCSI_DATAIN_OVERFLOW,
				   .itt = 5,
				   .ttt = 0xffffffff,
				   .datasn = 7,
				   .offset = 0x10000,
				   .residual = 100,
				   .dsl = 4096 };
	iscsi_encode_data_in(b, &d, &SEQ);
	assert_int_equal(b[0], 0x25);
	assert_int_equal(b[1], 0x80 | 0x04 | 0x01); /* S implies F */
	assert_int_equal(get_be24(b + 5), 4096);
	assert_int_equal(get_be32(b + 16), 5);
	assert_int_equal(get_be32(b + 20), 0xffffffff);
	expect_seq(b);
	assert_int_equal(get_be32(b + 36), 7);
	assert_int_equal(get_be32(b + 40), 0x10000);
	assert_int_equal(get_be32(b + 44), 100);
	/* no status: StatSN and residual reserved, O/U not set */
	d.has_status = false;
	d.final = true;
	iscsi_encode_data_in(b, &d, &SEQ);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(get_be32(b + 24), 0);
	assert_int_equal(get_be32(b + 28), SEQ.exp_cmdsn);
	assert_int_equal(get_be32(b + 44), 0);
	d.final = false;
	iscsi_encode_data_in(b, &d, &SEQ);
	assert_int_equal(b[1], 0);
}

static void test_encode_r2t_nop_tmf(void **state)
{
	uint8_t b[48], e[48];
	struct iscsi_r2t r = { .itt = 1, .ttt = 2, .r2tsn = 3, .offset = 4, .length = 5 };
	r.lun[1] = 9;
	iscsi_encode_r2t(b, &r, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x31;
	e[1] = 0x80;
	e[9] = 9;
	put_be32(e + 16, 1);
	put_be32(e + 20, 2);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	put_be32(e + 36, 3);
	put_be32(e + 40, 4);
	put_be32(e + 44, 5);
	assert_memory_equal(b, e, 48);

	struct iscsi_nop_in n = { .itt = 0xffffffff, .ttt = 0x77, .dsl = 3 };
	iscsi_encode_nop_in(b, &n, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x20;
	e[1] = 0x80;
	e[7] = 3;
	put_be32(e + 16, 0xffffffff);
	put_be32(e + 20, 0x77);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	assert_memory_equal(b, e, 48);

	iscsi_encode_tmf_rsp(b, 0x42, ISCSI_TMF_RSP_NO_TASK, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x22;
	e[1] = 0x80;
	e[2] = 1;
	put_be32(e + 16, 0x42);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	assert_memory_equal(b, e, 48);
}

static void test_encode_login_text_logout(void **state)
{
	uint8_t b[48], e[48];
	struct iscsi_login_rsp_hdr l = { .transit = true,
					 .csg = 1,
					 .nsg = 3,
					 .tsih = 0x1234,
					 .itt = 0x55,
					 .dsl = 300,
					 .status = 0x0201 };
	memcpy(l.isid, "\x80\x01\x02\x03\x04\x05", 6);
	iscsi_encode_login_rsp(b, &l, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x23;
	e[1] = 0x80 | (1 << 2) | 3;
	e[2] = 0;
	e[3] = 0;
	put_be24(e + 5, 300);
	memcpy(e + 8, "\x80\x01\x02\x03\x04\x05", 6);
	put_be16(e + 14, 0x1234);
	put_be32(e + 16, 0x55);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	e[36] = 2;
	e[37] = 1;
	assert_memory_equal(b, e, 48);
	l.transit = false; /* NSG only with T */
	iscsi_encode_login_rsp(b, &l, &SEQ);
	assert_int_equal(b[1], 1 << 2);

	struct iscsi_text_rsp t = { .final = false, .cont = true, .itt = 8, .ttt = 9, .dsl = 10 };
	iscsi_encode_text_rsp(b, &t, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x24;
	e[1] = 0x40;
	e[7] = 10;
	put_be32(e + 16, 8);
	put_be32(e + 20, 9);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	assert_memory_equal(b, e, 48);

	iscsi_encode_logout_rsp(b, 0x66, ISCSI_LOGOUT_RSP_SUCCESS, 2, 20, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x26;
	e[1] = 0x80;
	put_be32(e + 16, 0x66);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	put_be16(e + 40, 2);
	put_be16(e + 42, 20);
	assert_memory_equal(b, e, 48);
}

static void test_encode_async_reject(void **state)
{
	uint8_t b[48], e[48];
	struct iscsi_async a = { .event = ISCSI_ASYNC_REQUEST_LOGOUT,
				 .vcode = 0,
				 .param1 = 0,
				 .param2 = 0,
				 .param3 = 2 };
	iscsi_encode_async(b, &a, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x32;
	e[1] = 0x80;
	put_be32(e + 16, 0xffffffff);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	e[36] = 1;
	put_be16(e + 42, 2);
	assert_memory_equal(b, e, 48);

	iscsi_encode_reject(b, ISCSI_REJECT_PROTOCOL, 0, &SEQ);
	memset(e, 0, 48);
	e[0] = 0x3f;
	e[1] = 0x80;
	e[2] = 4;
	e[7] = 48;
	put_be32(e + 16, 0xffffffff);
	put_be32(e + 24, SEQ.statsn);
	put_be32(e + 28, SEQ.exp_cmdsn);
	put_be32(e + 32, SEQ.max_cmdsn);
	assert_memory_equal(b, e, 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_crc_chained),
		cmocka_unit_test(test_bhs_common),
		cmocka_unit_test(test_bhs_hostile),
		cmocka_unit_test(test_decode_scsi_cmd),
		cmocka_unit_test(test_decode_data_out),
		cmocka_unit_test(test_decode_nop_out),
		cmocka_unit_test(test_decode_tmf),
		cmocka_unit_test(test_decode_login),
		cmocka_unit_test(test_decode_text_logout_snack),
		cmocka_unit_test(test_ahs),
		cmocka_unit_test(test_encode_scsi_rsp),
		cmocka_unit_test(test_encode_data_in),
		cmocka_unit_test(test_encode_r2t_nop_tmf),
		cmocka_unit_test(test_encode_login_text_logout),
		cmocka_unit_test(test_encode_async_reject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
