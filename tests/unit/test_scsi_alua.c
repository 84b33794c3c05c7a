/* SPDX-License-Identifier: Apache-2.0 */
/* ALUA (target/scsi/scsi_alua.c): RTPG encoding in both formats with truncation,
 * STPG parameter-list decoding with hostile input, state names, the port
 * group table, and the per-opcode access check of every state against the
 * opcode table (SPC-4 5.16.2.4). */
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
#include "target/scsi/scsi_alua.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

static void test_names(void **s)
{
	assert_int_equal(scsi_alua_state_parse("standby"), SCSI_ALUA_STANDBY);
	assert_int_equal(scsi_alua_state_parse("ao"), SCSI_ALUA_AO);
	assert_int_equal(scsi_alua_state_parse("active-nonoptimized"), SCSI_ALUA_AN);
	assert_int_equal(scsi_alua_state_parse("transitioning"), SCSI_ALUA_TRANSITIONING);
	assert_int_equal(scsi_alua_state_parse(""), -EINVAL);
	assert_int_equal(scsi_alua_state_parse(NULL), -EINVAL);
	assert_int_equal(scsi_alua_state_parse("Standby"), -EINVAL);
	assert_string_equal(scsi_alua_state_name(SCSI_ALUA_UNAVAILABLE), "unavailable");
	assert_string_equal(scsi_alua_state_name(0x7), "unknown");
}

static void test_rtpg_encode(void **s)
{
	struct scsi_alua_group g[2] = {
		{ .id = 1, .state = SCSI_ALUA_AO, .n_ports = 1, .ports = { 1 } },
		{ .id = 2,
		  .state = SCSI_ALUA_STANDBY,
		  .status = SCSI_ALUA_ST_IMPLICIT,
		  .n_ports = 2,
		  .ports = { 2, 3 } },
	};
	uint8_t b[128];
	memset(b, 0xEE, sizeof(b));
	size_t n = scsi_rtpg_encode(g, 2, false, 0, b, sizeof(b));
	assert_int_equal(n, 4 + 12 + 16);
	assert_int_equal(get_be32(b), n - 4);
	assert_int_equal(b[4], SCSI_ALUA_AO);
	assert_int_equal(b[5], SCSI_ALUA_SUP_BITS);
	assert_int_equal(get_be16(b + 6), 1);
	assert_int_equal(b[11], 1);            /* target port count */
	assert_int_equal(get_be16(b + 14), 1); /* relative port */
	assert_int_equal(b[16], SCSI_ALUA_STANDBY);
	assert_int_equal(get_be16(b + 18), 2);
	assert_int_equal(b[21], SCSI_ALUA_ST_IMPLICIT);
	assert_int_equal(b[23], 2);
	assert_int_equal(get_be16(b + 26), 2);
	assert_int_equal(get_be16(b + 30), 3);
	assert_int_equal(b[32], 0xEE); /* nothing past the end */
	/* extended header (SPC-4 table 177) */
	n = scsi_rtpg_encode(g, 2, true, 9, b, sizeof(b));
	assert_int_equal(n, 8 + 12 + 16);
	assert_int_equal(get_be32(b), n - 4);
	assert_int_equal(b[4], 0x10);
	assert_int_equal(b[5], 9);
	assert_int_equal(get_be16(b + 10), 1);
	/* truncated buffers: full length still reported, nothing written past cap */
	for (size_t cap = 0; cap < 40; cap++) {
		uint8_t t[48];
		memset(t, 0xEE, sizeof(t));
		assert_int_equal(scsi_rtpg_encode(g, 2, true, 9, t, cap), 36);
		for (size_t i = cap; i < sizeof(t); i++)
			assert_int_equal(t[i], 0xEE);
		if (cap >= 36)
			assert_memory_equal(t, b, 36);
	}
	assert_int_equal(scsi_rtpg_encode(g, 0, false, 0, b, sizeof(b)), 4);
	assert_int_equal(get_be32(b), 0);
}

static void test_stpg_parse(void **s)
{
	struct scsi_stpg_desc d[4];
	uint16_t bad;
	uint8_t p[24] = { 0 };
	p[4] = SCSI_ALUA_STANDBY;
	put_be16(p + 6, 2);
	p[8] = 0xF0 | SCSI_ALUA_AO;
	put_be16(p + 10, 1); /* reserved high bits ignored */
	assert_int_equal(scsi_stpg_parse(p, 12, d, 4, &bad), 2);
	assert_int_equal(d[0].tpg, 2);
	assert_int_equal(d[0].state, SCSI_ALUA_STANDBY);
	assert_int_equal(d[1].tpg, 1);
	assert_int_equal(d[1].state, SCSI_ALUA_AO);
	assert_int_equal(scsi_stpg_parse(p, 4, d, 4, &bad), 0);  /* header only */
	assert_int_equal(scsi_stpg_parse(p, 0, d, 4, &bad), -1); /* truncated header */
	assert_int_equal(scsi_stpg_parse(p, 3, d, 4, &bad), -1);
	assert_int_equal(scsi_stpg_parse(p, 10, d, 4, &bad), -1); /* partial descriptor */
	assert_int_equal(bad, 0);
	assert_int_equal(scsi_stpg_parse(p, 24, d, 2, &bad), -1); /* more than max */
	assert_int_equal(bad, 12);
	p[8] = SCSI_ALUA_TRANSITIONING; /* cannot be requested */
	assert_int_equal(scsi_stpg_parse(p, 12, d, 4, &bad), -1);
	assert_int_equal(bad, 8);
	p[8] = 0x0E; /* offline: not supported */
	assert_int_equal(scsi_stpg_parse(p, 12, d, 4, &bad), -1);
	/* every single-byte state value */
	for (unsigned v = 0; v < 256; v++) {
		p[8] = (uint8_t)v;
		int r = scsi_stpg_parse(p, 12, d, 4, &bad);
		assert_int_equal(r, (v & 0x0F) <= 3 ? 2 : -1);
	}
}

static int hook_calls;
static const struct scsi_itn *hook_except;
static void hook(void *arg, const struct scsi_itn *except)
{
	hook_calls++;
	hook_except = except;
}

static void test_table(void **s)
{
	scsi_alua_reset();
	assert_int_equal(scsi_alua_add_port(1, 1), 0);
	assert_int_equal(scsi_alua_add_port(2, 2), 0);
	assert_int_equal(scsi_alua_add_port(2, 5), 0);
	scsi_alua_set_change_hook(hook, NULL);
	struct scsi_alua_group g[SCSI_ALUA_MAX_GROUPS];
	assert_int_equal(scsi_alua_snapshot(g, SCSI_ALUA_MAX_GROUPS), 2);
	assert_int_equal(g[1].n_ports, 2);
	assert_int_equal(g[1].ports[1], 5);
	assert_int_equal(scsi_alua_get_state(2), SCSI_ALUA_AO);
	assert_int_equal(scsi_alua_get_state(77), SCSI_ALUA_AO); /* unknown: AO */
	hook_calls = 0;
	assert_int_equal(scsi_alua_set_state(2, SCSI_ALUA_STANDBY), 0);
	assert_int_equal(hook_calls, 1);
	assert_null(hook_except);
	assert_int_equal(scsi_alua_set_state(2, SCSI_ALUA_STANDBY), 0); /* no change, no UA */
	assert_int_equal(hook_calls, 1);
	assert_int_equal(scsi_alua_get_state(2), SCSI_ALUA_STANDBY);
	assert_int_equal(scsi_alua_set_state(9, SCSI_ALUA_STANDBY), -ENOENT);
	assert_int_equal(scsi_alua_set_state(1, 0x0E), -EINVAL);
	assert_int_equal(scsi_alua_set_state(1, 0x7), -EINVAL);
	for (unsigned i = 3; i < SCSI_ALUA_MAX_GROUPS + 1; i++)
		(void)scsi_alua_add_port((uint16_t)(100 + i), (uint16_t)i);
	assert_int_equal(scsi_alua_add_port(999, 1), -ENOSPC);
	for (unsigned i = 0; i < SCSI_ALUA_MAX_PORTS - 1; i++)
		(void)scsi_alua_add_port(1, (uint16_t)(10 + i));
	assert_int_equal(scsi_alua_add_port(1, 99), -ENOSPC);
	scsi_alua_reset();
}

static int check(uint16_t tpg, uint8_t op0, uint8_t sa)
{
	struct scsi_itn itn = { .port = { .rel_port_id = 1, .tpg_id = tpg } };
	uint8_t cdb[16] = { op0, sa };
	bool bad;
	const struct scsi_op *op = scsi_op_lookup(cdb, sizeof(cdb), &bad);
	assert_non_null(op);
	return scsi_alua_check(&itn, op);
}

static void test_access(void **s)
{
	scsi_alua_reset();
	scsi_alua_add_port(1, 1);
	scsi_alua_add_port(2, 2);
	/* SPC-4 5.16.2.4.4: standby */
	scsi_alua_set_state(2, SCSI_ALUA_STANDBY);
	assert_int_equal(check(1, SCSI_OP_READ10, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_READ10, 0), SR_ALUA_STANDBY);
	assert_int_equal(check(2, SCSI_OP_WRITE16, 0), SR_ALUA_STANDBY);
	assert_int_equal(check(2, SCSI_OP_TEST_UNIT_READY, 0), SR_ALUA_STANDBY);
	assert_int_equal(check(2, SCSI_OP_INQUIRY, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_REPORT_LUNS, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_REQUEST_SENSE, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_MODE_SENSE10, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_PR_IN, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_TPG), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_MAINTENANCE_OUT, SCSI_MO_SET_TPG), SR_GOOD);
	/* 5.16.2.4.5: unavailable */
	scsi_alua_set_state(2, SCSI_ALUA_UNAVAILABLE);
	assert_int_equal(check(2, SCSI_OP_READ10, 0), SR_ALUA_UNAVAILABLE);
	assert_int_equal(check(2, SCSI_OP_MODE_SENSE10, 0), SR_ALUA_UNAVAILABLE);
	assert_int_equal(check(2, SCSI_OP_PR_IN, 0), SR_ALUA_UNAVAILABLE);
	assert_int_equal(check(2, SCSI_OP_INQUIRY, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_TPG), SR_GOOD);
	/* 5.16.2.5: transitioning */
	scsi_alua_set_state(2, SCSI_ALUA_TRANSITIONING);
	assert_int_equal(check(2, SCSI_OP_READ10, 0), SR_ALUA_TRANSITIONING);
	assert_int_equal(check(2, SCSI_OP_REPORT_LUNS, 0), SR_GOOD);
	/* active/non-optimized: everything */
	scsi_alua_set_state(2, SCSI_ALUA_AN);
	assert_int_equal(check(2, SCSI_OP_WRITE10, 0), SR_GOOD);
	assert_int_equal(check(2, SCSI_OP_TEST_UNIT_READY, 0), SR_GOOD);
	/* the sense of each refusal (SPC-4 table D.2) */
	assert_int_equal(scsi_reason_table[SR_ALUA_STANDBY].asc, 0x040B);
	assert_int_equal(scsi_reason_table[SR_ALUA_UNAVAILABLE].asc, 0x040C);
	assert_int_equal(scsi_reason_table[SR_ALUA_TRANSITIONING].asc, 0x040A);
	assert_int_equal(scsi_reason_table[SR_ALUA_TRANSITIONING].key, SCSI_SK_NOT_READY);
	assert_int_equal(check(2, SCSI_OP_READ10, 0), SR_GOOD);
	assert_int_equal(scsi_alua_check(NULL, &scsi_op_table[SCSI_OP_READ10]), SR_GOOD);
	scsi_alua_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),      cmocka_unit_test(test_rtpg_encode),
		cmocka_unit_test(test_stpg_parse), cmocka_unit_test(test_table),
		cmocka_unit_test(test_access),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
