/* SPDX-License-Identifier: Apache-2.0 */
/* EXTENDED COPY / RECEIVE COPY RESULTS (target/scsi/scsi_xcopy.c): the pure
 * parameter-list parser with hand-built, truncated and hostile lists, and
 * copies through scsi_task_exec() between two memory LUs (several chunks,
 * data checked), the COPY ABORTED cases, COPY STATUS / OPERATING PARAMETERS
 * and VPD page 8Fh. */
#include "test_scsi_harness.h"
#include "xcopy_list.h"

static struct th H;
static struct scsi_lu *LU1;

static int setup(void **s)
{
	th_init(&H, false);
	LU1 = th_new_lu(1, TH_BLOCKS, TH_BS, false, TH_IQN);
	assert_int_equal(scsi_lun_map_add(H.map, 1, LU1), 0);
	th_clear_ua(&H, H.itn);
	return 0;
}

static int teardown(void **s)
{
	th_fini(&H);
	return 0;
}

/* ---- parser ---- */
static void test_parse_good(void **s)
{
	uint8_t p[256];
	struct xcopy_list l;
	struct xcopy_bad bad;
	size_t n = xcopy_build(p, H.lu, LU1, 7, 10, 20, 5);
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_GOOD);
	assert_int_equal(l.list_id, 5);
	assert_int_equal(l.ntgt, 2);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(l.seg[0].nblocks, 7);
	assert_int_equal(l.seg[0].src_lba, 10);
	assert_int_equal(l.seg[0].dst_lba, 20);
	assert_int_equal(l.seg[0].dst, 1);
	assert_memory_equal(l.tgt[1].desig, LU1->naa, 16);
	assert_int_equal(l.tgt[1].block_len, TH_BS);
	/* every truncation is a PARAMETER LIST LENGTH ERROR */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(scsi_xcopy_parse(p, k, &l, &bad), SR_PARAM_LIST_LENGTH);
}

static void test_parse_limits(void **s)
{
	uint8_t p[XCOPY_HDR_LEN + XCOPY_MAX_LIST + 64];
	struct xcopy_list l;
	struct xcopy_bad bad;
	size_t o = XCOPY_HDR_LEN;
	for (unsigned i = 0; i <= XCOPY_MAX_TGT; i++)
		o += put_tgt(p + o, H.lu);
	o += put_seg(p + o, 0, 0, 1, 0, 1);
	put_hdr(p, 1, 0, (XCOPY_MAX_TGT + 1) * XCOPY_TGT_LEN, XCOPY_B2B_LEN);
	assert_int_equal(scsi_xcopy_parse(p, o, &l, &bad), SR_TOO_MANY_TGT_DESC);
	o = XCOPY_HDR_LEN + put_tgt(p + XCOPY_HDR_LEN, H.lu);
	for (unsigned i = 0; i <= XCOPY_MAX_SEG; i++)
		o += put_seg(p + o, 0, 0, 1, 0, 1);
	put_hdr(p, 1, 0, XCOPY_TGT_LEN, (XCOPY_MAX_SEG + 1) * XCOPY_B2B_LEN);
	assert_int_equal(scsi_xcopy_parse(p, o, &l, &bad), SR_TOO_MANY_SEG_DESC);
	/* lists beyond MAXIMUM DESCRIPTOR LIST LENGTH */
	put_hdr(p, 1, 0, XCOPY_TGT_LEN, XCOPY_MAX_LIST);
	assert_int_equal(scsi_xcopy_parse(p, sizeof(p), &l, &bad), SR_PARAM_LIST_LENGTH);
}

static void test_parse_hostile(void **s)
{
	uint8_t p[256];
	struct xcopy_list l;
	struct xcopy_bad bad;
	size_t n = xcopy_build(p, H.lu, LU1, 1, 0, 0, 1);
	/* lengths that would wrap 32-bit arithmetic */
	put_be16(p + 2, 0xFFFF);
	put_be32(p + 8, 0xFFFFFFFFu);
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_PARAM_LIST_LENGTH);
	put_hdr(p, 1, 0, 2 * XCOPY_TGT_LEN, XCOPY_B2B_LEN);
	put_be32(p + 12, 0xFFFFFFF0u);
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_PARAM_LIST_LENGTH);
	/* inline data (not supported: MAXIMUM INLINE DATA LENGTH 0) */
	put_be32(p + 12, 4);
	assert_int_equal(scsi_xcopy_parse(p, n + 4, &l, &bad), SR_INVALID_FIELD_PARAM);
	assert_int_equal(bad.byte, 12);
	put_be32(p + 12, 0);
	/* unsupported CSCD type (Fibre Channel N_Port_Name, E0h) */
	p[XCOPY_HDR_LEN + XCOPY_TGT_LEN] = 0xE0;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_UNSUPP_TGT_DESC);
	assert_int_equal(bad.byte, XCOPY_HDR_LEN + XCOPY_TGT_LEN);
	p[XCOPY_HDR_LEN + XCOPY_TGT_LEN] = XCOPY_DESC_IDENT;
	/* unsupported segment type (stream -> stream, 03h) and a bad length */
	size_t seg = XCOPY_HDR_LEN + 2 * XCOPY_TGT_LEN;
	p[seg] = 0x03;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_UNSUPP_SEG_DESC);
	p[seg] = XCOPY_SEG_B2B;
	p[seg + 3] = 0x10;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_INVALID_FIELD_PARAM);
	assert_int_equal(bad.byte, seg + 2);
	p[seg + 3] = XCOPY_B2B_LEN - 4;
	/* designator longer than the 20 bytes of the descriptor */
	p[XCOPY_HDR_LEN + 7] = 21;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_INVALID_FIELD_PARAM);
	p[XCOPY_HDR_LEN + 7] = 16;
	/* LIST ID USAGE 11b needs LIST IDENTIFIER 0 */
	p[1] = 0x18;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_INVALID_FIELD_PARAM);
	p[0] = 0;
	assert_int_equal(scsi_xcopy_parse(p, n, &l, &bad), SR_GOOD);
	/* a target list that is not a multiple of 32 bytes */
	put_hdr(p, 1, 0, XCOPY_TGT_LEN + 4, 0);
	assert_int_equal(scsi_xcopy_parse(p, XCOPY_HDR_LEN + XCOPY_TGT_LEN + 4, &l, &bad),
			 SR_PARAM_LIST_LENGTH);
}

/* ---- execution ---- */
static uint8_t xcopy(const uint8_t *p, size_t n, struct tres *r)
{
	uint8_t c[16] = { SCSI_OP_EXTENDED_COPY };
	put_be32(c + 10, (uint32_t)n);
	return th_cmd(&H, c, 16, n ? p : NULL, (uint32_t)n, r);
}

static uint8_t rcr(uint8_t sa, uint8_t list_id, struct tres *r)
{
	uint8_t c[16] = { SCSI_OP_RECEIVE_COPY_RESULTS, sa, list_id };
	put_be32(c + 10, 1024);
	return th_cmd(&H, c, 16, NULL, 0, r);
}

static uint8_t pat(uint64_t lba, unsigned i)
{
	return (uint8_t)(lba * 31 + i);
}

static void test_copy_two_lus(void **s)
{
	uint8_t p[256];
	struct tres r;
	/* LU0 blocks 0..2099 get a per-block pattern */
	xt_fill(&H, 0, 0, 2100, 0, pat);
	/* LU0 [0, 2100) -> LU1 [1000, 3100): two chunks */
	size_t n = xcopy_build(p, H.lu, LU1, 2100, 0, 1000, 7);
	assert_int_equal(xcopy(p, n, &r), SAM_STAT_GOOD);
	/* COPY STATUS of list 7: completed, one segment, 2100 blocks */
	assert_int_equal(rcr(0x00, 7, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 12);
	assert_int_equal(r.in[4], XCOPY_STATUS_DONE);
	assert_int_equal(get_be16(r.in + 5), 1);
	assert_int_equal(get_be32(r.in + 8), 2100 * TH_BS);
	/* reported once */
	rcr(0x00, 7, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* LU1 [3070, 3100) -> LU0 [4000, 4030): the last blocks of the copy */
	n = xcopy_build(p, LU1, H.lu, 30, 3070, 4000, 8);
	p[1] = 0x10; /* LIST ID USAGE 10b: nothing held */
	assert_int_equal(xcopy(p, n, &r), SAM_STAT_GOOD);
	rcr(0x00, 8, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	xt_check(&H, 0, 4000, 30, 2070, pat);
}

/* One LU, overlapping ranges, more than one XCOPY_CHUNK: the destination
 * ends up with what the source held (memmove), upwards and downwards. */
static void test_copy_overlap_same_lu(void **s)
{
	uint8_t p[256];
	struct tres r;
	xt_fill(&H, 0, 0, 3000, 0, pat);
	/* [0, 3000) -> [1000, 4000): destination above, copied last piece first */
	size_t n = xcopy_build(p, H.lu, H.lu, 3000, 0, 1000, 9);
	p[1] = 0x10;
	assert_int_equal(xcopy(p, n, &r), SAM_STAT_GOOD);
	xt_check(&H, 0, 1000, 3000, 0, pat);
	xt_check(&H, 0, 0, 1000, 0, pat); /* below the destination: untouched */
	/* [1000, 4000) -> [0, 3000): destination below, copied first piece first */
	n = xcopy_build(p, H.lu, H.lu, 3000, 1000, 0, 10);
	p[1] = 0x10;
	assert_int_equal(xcopy(p, n, &r), SAM_STAT_GOOD);
	xt_check(&H, 0, 0, 3000, 0, pat);
}

static void test_copy_aborted(void **s)
{
	uint8_t p[256];
	struct tres r;
	size_t n = xcopy_build(p, H.lu, LU1, 8, 0, 0, 1);
	/* CSCD index beyond the list */
	put_be16(p + XCOPY_HDR_LEN + 2 * XCOPY_TGT_LEN + 6, 2);
	xcopy(p, n, &r);
	assert_check(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET_UNREACHABLE);
	/* beyond the end of the destination */
	n = xcopy_build(p, H.lu, LU1, 8, 0, TH_BLOCKS - 7, 1);
	xcopy(p, n, &r);
	assert_check(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET_UNREACHABLE);
	/* an LU this target does not have, and a block length mismatch */
	n = xcopy_build(p, H.lu, LU1, 8, 0, 0, 1);
	p[XCOPY_HDR_LEN + XCOPY_TGT_LEN + 8 + 15] ^= 0xFF;
	xcopy(p, n, &r);
	assert_check(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET_UNREACHABLE);
	n = xcopy_build(p, H.lu, LU1, 8, 0, 0, 1);
	p[XCOPY_HDR_LEN + 30] = 0x10;
	xcopy(p, n, &r);
	assert_check(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET_UNREACHABLE);
	/* failed copies are not held */
	rcr(0x00, 1, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* a truncated list and an empty one */
	n = xcopy_build(p, H.lu, LU1, 8, 0, 0, 1);
	xcopy(p, n - 1, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH_ERROR);
	assert_int_equal(xcopy(p, 0, &r), SAM_STAT_GOOD);
	/* a write-protected destination */
	atomic_store(&LU1->swp, true);
	n = xcopy_build(p, H.lu, LU1, 8, 0, 0, 1);
	xcopy(p, n, &r);
	assert_check(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	atomic_store(&LU1->swp, false);
}

static void test_op_params_and_vpd(void **s)
{
	struct tres r;
	assert_int_equal(rcr(0x03, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 46);
	assert_int_equal(get_be32(r.in), 42);
	assert_int_equal(get_be16(r.in + 8), XCOPY_MAX_TGT);
	assert_int_equal(get_be16(r.in + 10), XCOPY_MAX_SEG);
	assert_int_equal(get_be32(r.in + 12), XCOPY_MAX_LIST);
	assert_int_equal(r.in[44], XCOPY_SEG_B2B);
	assert_int_equal(r.in[45], XCOPY_DESC_IDENT);
	/* LIST IDENTIFIER is reserved for OPERATING PARAMETERS; unknown SA */
	rcr(0x03, 1, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	rcr(0x04, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* VPD 8Fh: Supported Commands lists 83h/00h and 84h/00h,03h */
	uint8_t c[6] = { SCSI_OP_INQUIRY, 0x01, SCSI_VPD_THIRD_PARTY_COPY, 0x04, 0x00, 0 };
	assert_int_equal(th_cmd(&H, c, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[1], SCSI_VPD_THIRD_PARTY_COPY);
	assert_int_equal(get_be16(r.in + 2) + 4, r.in_len);
	assert_int_equal(get_be16(r.in + 4), 0x0001);
	const uint8_t cmds[] = { 0x83, 1, 0x00, 0x84, 2, 0x00, 0x03 };
	assert_int_equal(r.in[8], sizeof(cmds));
	assert_memory_equal(r.in + 9, cmds, sizeof(cmds));
	assert_int_equal((get_be16(r.in + 6) + 4) % 4, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_copy_two_lus),
		cmocka_unit_test(test_copy_aborted),
		cmocka_unit_test(test_copy_overlap_same_lu),
		cmocka_unit_test(test_op_params_and_vpd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
