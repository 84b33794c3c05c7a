/* SPDX-License-Identifier: Apache-2.0 */
/* Sense data tests (target/scsi/scsi_sense.c): fixed (70h) and descriptor (72h)
 * encodings byte for byte, with and without INFORMATION and sense-key
 * specific field pointers, and the reason table's mappings. */
#include "target/scsi/scsi_cdb.c"
#include "target/scsi/scsi_sense.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

static void test_fixed_plain(void **s)
{
	uint8_t b[32];
	memset(b, 0xAA, sizeof(b));
	const uint8_t want[18] = {
		0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00, 0, 0, 0, 0
	};
	assert_int_equal(scsi_sense_fixed(b, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB,
					  NULL),
			 18);
	assert_memory_equal(b, want, 18);
	assert_int_equal(b[18], 0xAA);
}

static void test_fixed_info_sks(void **s)
{
	uint8_t b[32];
	struct scsi_sense_extra x = { .info_valid = true, .info = 0x01020304, .sks_valid = true };
	scsi_sks_field(x.sks, true, 0x0102, 5);
	const uint8_t want[18] = { 0xF0, 0,   0x0E, 0x01, 0x02, 0x03, 0x04, 10,
				   0,    0,   0,    0,    0x1D, 0x00, 0,    0xC0 | 0x08 | 5,
				   0x01, 0x02 };
	assert_int_equal(scsi_sense_fixed(b, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY,
					  &x),
			 18);
	assert_memory_equal(b, want, 18);
	/* INFORMATION that does not fit 4 bytes: VALID clear */
	x.info = 1ull << 40;
	scsi_sense_fixed(b, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY, &x);
	assert_int_equal(b[0], 0x70);
}

static void test_sks_param_no_bit(void **s)
{
	uint8_t sks[3];
	scsi_sks_field(sks, false, 300, -1);
	assert_int_equal(sks[0], 0x80);
	assert_int_equal(get_be16(sks + 1), 300);
}

static void test_desc_plain(void **s)
{
	uint8_t b[64];
	const uint8_t want[8] = { 0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0 };
	assert_int_equal(scsi_sense_desc(b, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET, NULL),
			 8);
	assert_memory_equal(b, want, 8);
}

static void test_desc_info_sks(void **s)
{
	uint8_t b[64];
	struct scsi_sense_extra x = { .info_valid = true,
				      .info = 0x1122334455667788ull,
				      .sks_valid = true };
	scsi_sks_field(x.sks, true, 2, 7);
	const uint8_t want[28] = {
		0x72, 0x05, 0x24, 0x00, 0,    0,    0,    20,   0x00, 0x0A, 0x80, 0x00, 0x11, 0x22,
		0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x02, 0x06, 0x00, 0x00, 0xCF, 0x00, 0x02, 0x00,
	};
	assert_int_equal(scsi_sense_desc(b, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB,
					 &x),
			 28);
	assert_memory_equal(b, want, 28);
}

static void test_reason_table(void **s)
{
	const struct scsi_reason_info *t = scsi_reason_table;
	assert_int_equal(t[SR_GOOD].status, SAM_STAT_GOOD);
	assert_int_equal(t[SR_INVALID_OPCODE].asc, 0x2000);
	assert_int_equal(t[SR_LBA_OUT_OF_RANGE].asc, 0x2100);
	assert_int_equal(t[SR_SPACE_ALLOC_FAILED].key, SCSI_SK_DATA_PROTECT);
	assert_int_equal(t[SR_SPACE_ALLOC_FAILED].asc, 0x2707);
	assert_int_equal(t[SR_NOT_READY].key, SCSI_SK_NOT_READY);
	assert_int_equal(t[SR_READ_ERROR].asc, 0x1100);
	assert_int_equal(t[SR_WRITE_ERROR].asc, 0x0C00);
	assert_int_equal(t[SR_RESERVATION_CONFLICT].status, SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(t[SR_UA_MODE_CHANGED].asc, 0x2A01);
	assert_int_equal(t[SR_UA_BDR].asc, 0x2903);
	/* every CHECK CONDITION reason has a sense key */
	for (int i = 0; i < SR__COUNT; i++)
		if (t[i].status == SAM_STAT_CHECK_CONDITION)
			assert_true(t[i].key != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_plain),      cmocka_unit_test(test_fixed_info_sks),
		cmocka_unit_test(test_sks_param_no_bit), cmocka_unit_test(test_desc_plain),
		cmocka_unit_test(test_desc_info_sks),    cmocka_unit_test(test_reason_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
