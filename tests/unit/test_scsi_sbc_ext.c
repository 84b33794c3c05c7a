/* SPDX-License-Identifier: Apache-2.0 */
/* SANITIZE, ORWRITE(16), WRITE ATOMIC(16), READ DEFECT DATA, removable
 * media and the physical block exponent, through scsi_task_exec() on
 * memory-backed LUs with a real kloop (target/scsi/scsi_sanitize.c,
 * scsi_sbc_ext.c, scsi_medium.c): the data each command leaves, its refusals,
 * NOT READY 04/1B while a SANITIZE runs, and WRITE ATOMIC's atomicity
 * against a reader on another thread. */
#include "test_scsi_harness.h"
#include <pthread.h>

static struct th H;
static uint8_t buf[64 * 1024];

static int setup(void **s)
{
	th_init(&H, true);
	th_clear_ua(&H, H.itn);
	th_clear_ua(&H, H.itn2);
	return 0;
}

static int teardown(void **s)
{
	th_fini(&H);
	return 0;
}

static void rw(uint8_t op, uint64_t lba, uint32_t n, const void *out, struct tres *r)
{
	uint8_t c[16];
	cdb16(c, op, lba, n);
	th_cmd(&H, c, 16, out, out ? n * TH_BS : 0, r);
}

static void fill(uint64_t lba, uint32_t n, uint8_t v)
{
	struct tres r;
	memset(buf, v, n * TH_BS);
	rw(SCSI_OP_WRITE16, lba, n, buf, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
}

static void sanitize(uint8_t sa, const uint8_t *p, uint16_t plen, struct tres *r)
{
	uint8_t c[10] = { SCSI_OP_SANITIZE, sa };
	put_be16(c + 7, plen);
	th_cmd(&H, c, 10, p, plen, r);
}

static void test_sanitize_overwrite_pattern(void **s)
{
	struct tres r;
	fill(0, 8, 0x11);
	fill(TH_BLOCKS - 8, 8, 0x11);
	/* 3-byte pattern "abc", two passes with INVERT: the second pass writes
	 * the inverted pattern, which is what stays. */
	uint8_t p[4 + 3] = { 0x80 | 2, 0, 0, 3, 'a', 'b', 'c' };
	sanitize(SCSI_SANITIZE_OVERWRITE, p, sizeof(p), &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_false(scsi_lu_sanitizing(H.lu));
	rw(SCSI_OP_READ16, TH_BLOCKS - 1, 1, NULL, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	for (uint32_t i = 0; i < TH_BS; i++) /* the pattern restarts in every block */
		assert_int_equal(r.in[i], (uint8_t) ~"abc"[i % 3]);
}

static void test_sanitize_refusals(void **s)
{
	struct tres r;
	uint8_t p[4 + TH_BS + 1] = { 1, 0, 0, 0 };
	sanitize(SCSI_SANITIZE_OVERWRITE, p, 4, &r); /* no pattern */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	put_be16(p + 2, TH_BS + 1);
	sanitize(SCSI_SANITIZE_OVERWRITE, p, 4 + TH_BS + 1, &r); /* > one block */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	p[0] = 0;
	put_be16(p + 2, 4);
	sanitize(SCSI_SANITIZE_OVERWRITE, p, 8, &r); /* OVERWRITE COUNT 0 */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	sanitize(SCSI_SANITIZE_BLOCK_ERASE, p, 8, &r); /* BLOCK ERASE takes no list */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	sanitize(SCSI_SANITIZE_CRYPTO_ERASE, NULL, 0, &r); /* not offered */
	assert_int_equal(r.status, SAM_STAT_CHECK_CONDITION);
	sanitize(SCSI_SANITIZE_EXIT_FAILURE, NULL, 0, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	uint8_t immed[10] = { SCSI_OP_SANITIZE, 0x80 | SCSI_SANITIZE_BLOCK_ERASE };
	th_cmd(&H, immed, 10, NULL, 0, &r); /* IMMED is not supported */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

static void test_sanitize_block_erase(void **s)
{
	struct tres r;
	fill(100, 16, 0x5A);
	sanitize(SCSI_SANITIZE_BLOCK_ERASE, NULL, 0, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	rw(SCSI_OP_READ16, 100, 16, NULL, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	for (uint32_t i = 0; i < 16 * TH_BS; i++)
		assert_int_equal(r.in[i], 0);
}

/* While a SANITIZE runs (the flag it holds until it ends), every command
 * that needs the LU gets 04/1B on every nexus; INQUIRY and REPORT LUNS do
 * not. */
static void test_sanitize_in_progress(void **s)
{
	struct tres r;
	uint8_t tur[6] = { 0 }, inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	atomic_store(&H.lu->sanitizing, true);
	th_cmd(&H, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	th_cmd_itn(&H, H.itn2, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	rw(SCSI_OP_READ16, 0, 1, NULL, &r);
	assert_check(&r, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	sanitize(SCSI_SANITIZE_BLOCK_ERASE, NULL, 0, &r);
	assert_check(&r, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	assert_int_equal(th_cmd(&H, inq, 6, NULL, 0, &r), SAM_STAT_GOOD);
	atomic_store(&H.lu->sanitizing, false);
	assert_int_equal(th_cmd(&H, tur, 6, NULL, 0, &r), SAM_STAT_GOOD);
}

static void test_orwrite(void **s)
{
	struct tres r;
	fill(10, 4, 0x0F);
	memset(buf, 0xA0, 4 * TH_BS);
	rw(SCSI_OP_ORWRITE16, 10, 4, buf, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	rw(SCSI_OP_READ16, 10, 4, NULL, &r);
	for (uint32_t i = 0; i < 4 * TH_BS; i++)
		assert_int_equal(r.in[i], 0xAF);
}

static void atomic_cdb(uint8_t c[16], uint64_t lba, uint16_t n)
{
	memset(c, 0, 16);
	c[0] = SCSI_OP_WRITE_ATOMIC16;
	put_be64(c + 2, lba);
	put_be16(c + 12, n);
}

static void test_write_atomic_limits(void **s)
{
	struct tres r;
	uint8_t c[16];
	fill(200, 8, 0x01);
	memset(buf, 0x02, 8 * TH_BS);
	atomic_cdb(c, 200, 8);
	th_cmd(&H, c, 16, buf, 4 * TH_BS, &r); /* half the data: nothing written */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_IU);
	rw(SCSI_OP_READ16, 200, 8, NULL, &r);
	assert_int_equal(r.in[0], 0x01);
	assert_int_equal(r.in[8 * TH_BS - 1], 0x01);
	atomic_cdb(c, 0, (uint16_t)(SCSI_MAX_ATOMIC_BYTES / TH_BS + 1));
	th_cmd(&H, c, 16, NULL, 0, &r); /* over MAXIMUM ATOMIC TRANSFER LENGTH */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	atomic_cdb(c, 0, 1);
	c[11] = 1; /* ATOMIC BOUNDARY: not supported */
	th_cmd(&H, c, 16, buf, TH_BS, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	uint8_t vpd[6] = { SCSI_OP_INQUIRY, 1, SCSI_VPD_BLOCK_LIMITS, 0, 64, 0 };
	th_cmd(&H, vpd, 6, NULL, 0, &r);
	assert_int_equal(get_be32(r.in + 44), SCSI_MAX_ATOMIC_BYTES / TH_BS);
}

/* WRITE ATOMIC atomicity: thread A writes 32 blocks, each time all one new
 * byte value, with WRITE ATOMIC(16); thread B (own loop, own nexus) reads the
 * 32 blocks with READ(16) and checks they hold one value. A reader ever
 * seeing two values means a write was seen half done. */
#define WA_LBA   512
#define WA_NB    32 /* 16 KiB: struct tres holds that much Data-In */
#define WA_ITERS 3000

struct wa_worker {
	struct th h;
	struct scsi_itn *itn;
	bool writer;
	unsigned torn, errors;
};

static void *wa_main(void *arg)
{
	struct wa_worker *w = arg;
	uint8_t *b = malloc(WA_NB * TH_BS), c[16];
	struct tres *r = malloc(sizeof(*r));
	for (int i = 0; i < WA_ITERS; i++) {
		if (w->writer) {
			memset(b, (uint8_t)(i + 1), WA_NB * TH_BS);
			atomic_cdb(c, WA_LBA, WA_NB);
		} else {
			cdb16(c, SCSI_OP_READ16, WA_LBA, WA_NB);
		}
		if (th_cmd_itn(&w->h, w->itn, 0, c, 16, w->writer ? b : NULL,
			       w->writer ? WA_NB * TH_BS : 0, r) != SAM_STAT_GOOD) {
			if (!w->errors)
				fprintf(stderr, "%s: status %#x sense %02x/%04x\n",
					w->writer ? "writer" : "reader", r->status, sense_key(r),
					sense_asc(r));
			w->errors++;
			continue;
		}
		for (uint32_t k = 1; !w->writer && k < WA_NB * TH_BS; k++)
			if (r->in[k] != r->in[0]) {
				w->torn++;
				break;
			}
	}
	free(b);
	free(r);
	return NULL;
}

static void test_write_atomic_vs_reader(void **s)
{
	fill(WA_LBA, WA_NB, 0);
	struct wa_worker w[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct wa_worker){ .h = H, .itn = i ? H.itn2 : H.itn, .writer = i == 0 };
		w[i].h.l = kloop_new(64);
		pthread_create(&th[i], NULL, wa_main, &w[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		kloop_free(w[i].h.l);
	}
	assert_int_equal(w[0].errors + w[1].errors, 0);
	assert_int_equal(w[1].torn, 0);
	assert_null(H.lu->rl_held);
}

static void test_read_defect_data(void **s)
{
	struct tres r;
	uint8_t c10[10] = { SCSI_OP_READ_DEFECT10, 0, 0x05, 0, 0, 0, 0, 0, 32, 0 };
	assert_int_equal(th_cmd(&H, c10, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 4);
	assert_int_equal(r.in[1], 0x05);
	assert_int_equal(get_be16(r.in + 2), 0);
	uint8_t c12[12] = { SCSI_OP_READ_DEFECT12, 0x04, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
	assert_int_equal(th_cmd(&H, c12, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 8);
	assert_int_equal(get_be32(r.in + 4), 0);
}

/* A second LU (LUN 1): removable, 4096-byte physical blocks. */
static struct scsi_lu *add_lu1(void)
{
	struct lun_backend_params bp = { .type = "memory", .size = 1u << 20, .block_size = 512 };
	struct scsi_lu_params p = { .target_iqn = TH_IQN,
				    .lun = 1,
				    .removable = true,
				    .physical_block_size = 4096 };
	struct lun_backend *be;
	struct scsi_lu *lu;
	char err[128];
	assert_int_equal(lun_backend_open(&bp, &be, err, sizeof(err)), 0);
	assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
	assert_int_equal(scsi_lun_map_add(H.map, 1, lu), 0);
	uint8_t tur[6] = { 0 };
	struct tres r;
	for (int i = 0; i < 8; i++) {
		th_cmd_itn(&H, H.itn, 1, tur, 6, NULL, 0, &r);
		th_cmd_itn(&H, H.itn2, 1, tur, 6, NULL, 0, &r);
	}
	return lu;
}

static uint8_t lu1(struct scsi_itn *itn, uint8_t op, uint8_t b4, struct tres *r)
{
	uint8_t c[6] = { op, 0, 0, 0, b4, 0 };
	return th_cmd_itn(&H, itn, 1, c, 6, NULL, 0, r);
}

static void test_removable_and_lbppbe(void **s)
{
	struct tres r;
	add_lu1();
	uint8_t rc16[16] = { SCSI_OP_SERVICE_ACTION_IN16, SCSI_SAI_READ_CAPACITY16 };
	put_be32(rc16 + 10, 32);
	assert_int_equal(th_cmd_itn(&H, H.itn, 1, rc16, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[13] & 0x0F, 3); /* 8 logical blocks per physical block */
	lu1(H.itn, SCSI_OP_INQUIRY, 36, &r);
	assert_int_equal(r.in[1] & 0x80, 0x80); /* RMB */
	assert_int_equal(lu1(H.itn, SCSI_OP_PREVENT_ALLOW, 1, &r), SAM_STAT_GOOD);
	lu1(H.itn2, SCSI_OP_START_STOP_UNIT, 0x02, &r); /* eject from the other nexus */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
	scsi_lu_reset(scsi_lun_map_get(H.map, 1), NULL); /* a LUN reset ends PREVENT */
	for (int i = 0; i < 4; i++)
		lu1(H.itn2, SCSI_OP_TEST_UNIT_READY, 0, &r);
	assert_int_equal(lu1(H.itn2, SCSI_OP_START_STOP_UNIT, 0x02, &r), SAM_STAT_GOOD);
	lu1(H.itn2, SCSI_OP_TEST_UNIT_READY, 0, &r);
	assert_check(&r, SCSI_SK_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT);
	assert_int_equal(lu1(H.itn2, SCSI_OP_START_STOP_UNIT, 0x03, &r), SAM_STAT_GOOD);
	assert_int_equal(lu1(H.itn2, SCSI_OP_TEST_UNIT_READY, 0, &r), SAM_STAT_GOOD);
	/* LUN 0 is not removable: no PREVENT ALLOW, LOEJ ignored */
	uint8_t pa[6] = { SCSI_OP_PREVENT_ALLOW, 0, 0, 0, 1, 0 };
	th_cmd(&H, pa, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_overwrite_pattern),
		cmocka_unit_test(test_sanitize_refusals),
		cmocka_unit_test(test_sanitize_block_erase),
		cmocka_unit_test(test_sanitize_in_progress),
		cmocka_unit_test(test_orwrite),
		cmocka_unit_test(test_write_atomic_limits),
		cmocka_unit_test(test_write_atomic_vs_reader),
		cmocka_unit_test(test_read_defect_data),
		cmocka_unit_test(test_removable_and_lbppbe),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
