/* SPDX-License-Identifier: Apache-2.0 */
/* Pure parser tests of the SCSI layer (target/scsi/scsi_cdb.c): every CDB length
 * of the block commands, truncated CDBs, hostile fields, overflow-safe range
 * checks, CDB usage-map checking, UNMAP parameter lists, LUN encodings, and
 * the opcode table's consistency (usage byte 0 = opcode, lengths = group). */
#include "target/scsi/scsi_cdb.c"
#include "target/scsi/scsi_sense.c"
#include "target/scsi/scsi_lu.c"
#include "target/scsi/scsi_stats.c"
#include "target/scsi/scsi_task.c"
#include "target/scsi/scsi_inquiry.c"
#include "target/scsi/scsi_mode.c"
#include "target/scsi/scsi_spc.c"
#include "target/scsi/scsi_sbc.c"
#include "target/scsi/scsi_pr.c"
#include "target/scsi/scsi_pr_cmd.c"
#include "target/scsi/scsi_pr_file.c"
#include "target/scsi/scsi_pr_shared.c"
#include "target/scsi/scsi_xcopy.c"
#include "target/scsi/scsi_sbc_ext.c"
#include "target/scsi/scsi_sanitize.c"
#include "target/scsi/scsi_medium.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

static void test_group_len(void **s)
{
	assert_int_equal(scsi_cdb_group_len(0x08), 6);
	assert_int_equal(scsi_cdb_group_len(0x28), 10);
	assert_int_equal(scsi_cdb_group_len(0x5A), 10);
	assert_int_equal(scsi_cdb_group_len(0x88), 16);
	assert_int_equal(scsi_cdb_group_len(0xA8), 12);
	assert_int_equal(scsi_cdb_group_len(0x7F), 0);
	assert_int_equal(scsi_cdb_group_len(0xC0), 0);
}

static void test_rw6(void **s)
{
	struct scsi_rw_cdb c;
	uint8_t cdb[6] = { SCSI_OP_READ6, 0xFF, 0x12, 0x34, 0, 0 };
	assert_int_equal(scsi_parse_rw(cdb, 6, &c), SR_GOOD);
	assert_int_equal(c.lba, 0x1F1234); /* top 3 bits of byte 1 are not LBA */
	assert_int_equal(c.nblocks, 256);  /* 0 means 256 */
	cdb[4] = 7;
	assert_int_equal(scsi_parse_rw(cdb, 6, &c), SR_GOOD);
	assert_int_equal(c.nblocks, 7);
	assert_int_equal(scsi_parse_rw(cdb, 5, &c), SR_INVALID_FIELD_CDB);
}

static void test_rw10_12_16(void **s)
{
	struct scsi_rw_cdb c;
	uint8_t c10[10] = {
		SCSI_OP_WRITE10, 0x18 | 0x40, 0xDE, 0xAD, 0xBE, 0xEF, 0x05, 0x12, 0x34, 0
	};
	assert_int_equal(scsi_parse_rw(c10, 10, &c), SR_GOOD);
	assert_int_equal(c.lba, 0xDEADBEEF);
	assert_int_equal(c.nblocks, 0x1234);
	assert_int_equal(c.flags, SCSI_RW_FUA | SCSI_RW_DPO);
	assert_int_equal(c.protect, 2);
	assert_int_equal(c.group, 5);
	assert_int_equal(scsi_parse_rw(c10, 9, &c), SR_INVALID_FIELD_CDB);
	uint8_t c12[12] = { SCSI_OP_READ12, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0 };
	assert_int_equal(scsi_parse_rw(c12, 12, &c), SR_GOOD);
	assert_int_equal(c.lba, 1);
	assert_int_equal(c.nblocks, 0xFFFFFFFFu);
	uint8_t c16[16] = { SCSI_OP_READ16 };
	put_be64(c16 + 2, UINT64_MAX);
	put_be32(c16 + 10, 9);
	assert_int_equal(scsi_parse_rw(c16, 16, &c), SR_GOOD);
	assert_int_equal(c.lba, UINT64_MAX);
	assert_int_equal(c.nblocks, 9);
	assert_int_equal(scsi_parse_rw(c16, 15, &c), SR_INVALID_FIELD_CDB);
	assert_int_equal(scsi_parse_rw(c16, 0, &c), SR_INVALID_FIELD_CDB);
}

static void test_special_fields(void **s)
{
	struct scsi_rw_cdb c;
	uint8_t caw[16] = { SCSI_OP_COMPARE_AND_WRITE, 0x08 };
	put_be64(caw + 2, 77);
	put_be32(caw + 10, 0xFFFFFF00); /* bytes 10..12 reserved; 13 = count */
	caw[13] = 3;
	assert_int_equal(scsi_parse_rw(caw, 16, &c), SR_GOOD);
	assert_int_equal(c.nblocks, 3);
	assert_int_equal(c.flags, SCSI_RW_FUA);
	uint8_t ws[16] = { SCSI_OP_WRITE_SAME16, 0x08 | 0x10 | 0x01 };
	assert_int_equal(scsi_parse_rw(ws, 16, &c), SR_GOOD);
	assert_int_equal(c.flags, SCSI_RW_UNMAP | SCSI_RW_ANCHOR | SCSI_RW_NDOB);
	uint8_t ws10[10] = { SCSI_OP_WRITE_SAME10, 0x01 }; /* no NDOB in WRITE SAME(10) */
	assert_int_equal(scsi_parse_rw(ws10, 10, &c), SR_GOOD);
	assert_int_equal(c.flags, 0);
	uint8_t v[10] = { SCSI_OP_VERIFY10, 0x06 };
	assert_int_equal(scsi_parse_rw(v, 10, &c), SR_GOOD);
	assert_int_equal(c.bytchk, 3);
	uint8_t sc[10] = { SCSI_OP_SYNC_CACHE10, 0x02 };
	assert_int_equal(scsi_parse_rw(sc, 10, &c), SR_GOOD);
	assert_int_equal(c.flags, SCSI_RW_IMMED);
	uint8_t inq[6] = { SCSI_OP_INQUIRY };
	assert_int_equal(scsi_parse_rw(inq, 6, &c), SR_INVALID_FIELD_CDB);
}

static void test_range_ok(void **s)
{
	assert_true(scsi_lba_range_ok(0, 0, 0));
	assert_true(scsi_lba_range_ok(0, 10, 10));
	assert_true(scsi_lba_range_ok(9, 1, 10));
	assert_true(scsi_lba_range_ok(10, 0, 10));
	assert_false(scsi_lba_range_ok(11, 0, 10));
	assert_false(scsi_lba_range_ok(10, 1, 10));
	assert_false(scsi_lba_range_ok(UINT64_MAX, 2, 10));
	assert_false(scsi_lba_range_ok(2, UINT64_MAX, UINT64_MAX));
	assert_false(scsi_lba_range_ok(UINT64_MAX - 1, 4, UINT64_MAX));
}

static void test_usage_check(void **s)
{
	const uint8_t usage[10] = { 0x28, 0x1E, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0x00 };
	uint8_t cdb[10] = { 0x28, 0x1E, 1, 2, 3, 4, 0x1F, 0, 8, 0 };
	int bit = -1;
	assert_int_equal(scsi_cdb_check_usage(cdb, 10, usage, false, &bit), -1);
	cdb[1] = 0x21; /* bit 5 (RDPROTECT) and bit 0 */
	assert_int_equal(scsi_cdb_check_usage(cdb, 10, usage, false, &bit), 1);
	assert_int_equal(bit, 5);
	cdb[1] = 0;
	cdb[9] = 0x04; /* NACA */
	assert_int_equal(scsi_cdb_check_usage(cdb, 10, usage, false, &bit), 9);
	assert_int_equal(bit, 2);
	/* service action bits are skipped */
	const uint8_t sa[16] = { 0x9E, 0x10 };
	uint8_t c16[16] = { 0x9E, 0x10 };
	assert_int_equal(scsi_cdb_check_usage(c16, 16, sa, true, &bit), -1);
	c16[1] = 0x30;
	assert_int_equal(scsi_cdb_check_usage(c16, 16, sa, true, &bit), 1);
	assert_int_equal(bit, 5);
}

static void test_unmap_params(void **s)
{
	uint8_t p[8 + 32] = { 0 };
	uint32_t n;
	uint16_t bad;
	assert_int_equal(scsi_parse_unmap_params(p, 7, &n, &bad), SR_PARAM_LIST_LENGTH);
	put_be16(p + 2, 32);
	put_be64(p + 8, 5);
	put_be32(p + 16, 6);
	put_be64(p + 24, UINT64_MAX);
	assert_int_equal(scsi_parse_unmap_params(p, sizeof(p), &n, &bad), SR_GOOD);
	assert_int_equal(n, 2);
	struct scsi_unmap_desc d;
	scsi_unmap_desc_get(p, 0, &d);
	assert_int_equal(d.lba, 5);
	assert_int_equal(d.nblocks, 6);
	scsi_unmap_desc_get(p, 1, &d);
	assert_int_equal(d.lba, UINT64_MAX);
	/* block descriptor length beyond what arrived: truncated to whole descriptors */
	assert_int_equal(scsi_parse_unmap_params(p, 8 + 20, &n, &bad), SR_GOOD);
	assert_int_equal(n, 1);
	put_be16(p + 2, 0xFFF0);
	static uint8_t big[8 + 16 * 300];
	memcpy(big, p, 8);
	assert_int_equal(scsi_parse_unmap_params(big, sizeof(big), &n, &bad),
			 SR_INVALID_FIELD_PARAM);
	assert_int_equal(bad, 2);
}

static void test_lun_codec(void **s)
{
	uint8_t f[8];
	scsi_encode_lun(5, f);
	assert_int_equal(f[0], 0);
	assert_int_equal(f[1], 5);
	assert_int_equal(scsi_decode_lun(f), 5);
	scsi_encode_lun(300, f);
	assert_int_equal(f[0], 0x41);
	assert_int_equal(f[1], 300 & 0xFF);
	assert_int_equal(scsi_decode_lun(f), 300);
	uint8_t ext[8] = { 0xC0, 1 };
	assert_int_equal(scsi_decode_lun(ext), UINT64_MAX);
	uint8_t bus[8] = { 0x01, 1 };
	assert_int_equal(scsi_decode_lun(bus), UINT64_MAX);
}

static void test_op_table_consistent(void **s)
{
	for (unsigned i = 0; i < 256; i++) {
		const struct scsi_op *op = &scsi_op_table[i];
		if (!op->exec && !op->sat)
			continue;
		assert_int_equal(op->usage[0], i);
		if (scsi_cdb_group_len((uint8_t)i))
			assert_int_equal(op->cdb_len, scsi_cdb_group_len((uint8_t)i));
		for (unsigned k = 0; op->sat && k < op->sat->n; k++) {
			const struct scsi_op *so = &op->sat->ops[k];
			assert_int_equal(so->usage[0], i);
			assert_int_equal(so->usage[1] & 0x1F,
					 so->sa); /* RTPG: + PARAMETER DATA FORMAT */
			assert_true(so->flags & OPF_SA);
		}
	}
	bool bad;
	uint8_t c[2] = { 0x9E, 0x10 };
	assert_non_null(scsi_op_lookup(c, 2, &bad));
	assert_false(bad);
	assert_null(scsi_op_lookup(c, 1, &bad));
	assert_true(bad);
	c[1] = 0x11;
	assert_null(scsi_op_lookup(c, 2, &bad));
	assert_true(bad);
	c[0] = 0xFF;
	assert_null(scsi_op_lookup(c, 2, &bad));
	assert_false(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_len),
		cmocka_unit_test(test_rw6),
		cmocka_unit_test(test_rw10_12_16),
		cmocka_unit_test(test_special_fields),
		cmocka_unit_test(test_range_ok),
		cmocka_unit_test(test_usage_check),
		cmocka_unit_test(test_unmap_params),
		cmocka_unit_test(test_lun_codec),
		cmocka_unit_test(test_op_table_consistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
