/* SPDX-License-Identifier: Apache-2.0 */
/* Execution tests of the SCSI layer: commands through scsi_task_exec() on a
 * memory-backed LU with a real kloop (read/write patterns, COMPARE AND WRITE
 * match, miscompare offset and atomicity against concurrent writers on two
 * threads, WRITE SAME, UNMAP + GET LBA STATUS, unit attentions, MODE SELECT,
 * SWP, D_SENSE, RSOC, REPORT LUNS, absent LUNs, kbuf back-pressure). */
#include "test_scsi_harness.h"
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

static struct th H;

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

static uint8_t buf[256 * 1024], buf2[256 * 1024];

static void write_blocks(uint64_t lba, uint32_t n, uint8_t fill)
{
	uint8_t c[16];
	struct tres r;
	memset(buf, fill, n * TH_BS);
	cdb16(c, SCSI_OP_WRITE16, lba, n);
	assert_int_equal(th_cmd(&H, c, 16, buf, n * TH_BS, &r), SAM_STAT_GOOD);
}

static void read_blocks(uint64_t lba, uint32_t n, struct tres *r)
{
	uint8_t c[16];
	cdb16(c, SCSI_OP_READ16, lba, n);
	assert_int_equal(th_cmd(&H, c, 16, NULL, 0, r), SAM_STAT_GOOD);
	assert_int_equal(r->in_len, n * TH_BS);
}

static void test_write_read_all_sizes(void **s)
{
	struct tres r;
	uint8_t c[16];
	for (unsigned i = 0; i < 64 * TH_BS; i++)
		buf2[i] = (uint8_t)(i * 7 + 3);
	/* WRITE(10) then READ(6), READ(10), READ(12), READ(16) of the same data */
	cdb10(c, SCSI_OP_WRITE10, 100, 64);
	c[1] = 0x08; /* FUA */
	assert_int_equal(th_cmd(&H, c, 10, buf2, 64 * TH_BS, &r), SAM_STAT_GOOD);
	uint8_t r6[6] = { SCSI_OP_READ6, 0, 0, 100, 64, 0 };
	assert_int_equal(th_cmd(&H, r6, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_memory_equal(r.in, buf2, 64 * TH_BS < sizeof(r.in) ? 64 * TH_BS : sizeof(r.in));
	uint8_t r12[12] = { SCSI_OP_READ12, 0x10, 0, 0, 0, 100, 0, 0, 0, 8, 0, 0 };
	assert_int_equal(th_cmd(&H, r12, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 8 * TH_BS);
	assert_memory_equal(r.in, buf2, 8 * TH_BS);
	read_blocks(100, 8, &r);
	assert_memory_equal(r.in, buf2, 8 * TH_BS);
	/* WRITE(6) with transfer length 0 means 256 blocks */
	uint8_t w6[6] = { SCSI_OP_WRITE6, 0, 0, 0, 0, 0 };
	memset(buf, 0x5A, 256 * TH_BS);
	assert_int_equal(th_cmd(&H, w6, 6, buf, 256 * TH_BS, &r), SAM_STAT_GOOD);
	assert_int_equal(r.out_wanted, 256 * TH_BS);
	read_blocks(255, 1, &r);
	assert_int_equal(r.in[0], 0x5A);
	/* 0 blocks: GOOD, no data */
	cdb10(c, SCSI_OP_READ10, 0, 0);
	assert_int_equal(th_cmd(&H, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 0);
}

static void test_range_checks(void **s)
{
	struct tres r;
	uint8_t c[16];
	cdb16(c, SCSI_OP_READ16, TH_BLOCKS - 1, 2);
	th_cmd(&H, c, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb16(c, SCSI_OP_READ16, UINT64_MAX, 2); /* lba + n wraps */
	th_cmd(&H, c, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb16(c, SCSI_OP_READ16, 0, 0xFFFFFFFF);
	th_cmd(&H, c, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb10(c, SCSI_OP_READ10, 0, 1);
	c[1] = 0x20; /* RDPROTECT without protection */
	th_cmd(&H, c, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(r.sense[15], SCSI_SKS_VALID | SCSI_SKS_CD | SCSI_SKS_BPV | 5);
	assert_int_equal(get_be16(r.sense + 16), 1);
	uint8_t bad[16] = { 0xC7 };
	th_cmd(&H, bad, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
	uint8_t badsa[16] = { SCSI_OP_SERVICE_ACTION_IN16, 0x1F };
	th_cmd(&H, badsa, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

static void test_write_residuals(void **s)
{
	struct tres r;
	uint8_t c[10];
	write_blocks(10, 2, 'a');
	/* CDB says 2 blocks, only one arrived: one block written, GOOD */
	memset(buf, 'b', 2 * TH_BS);
	cdb10(c, SCSI_OP_WRITE10, 10, 2);
	assert_int_equal(th_cmd(&H, c, 10, buf, TH_BS, &r), SAM_STAT_GOOD);
	assert_int_equal(r.out_wanted, 2 * TH_BS);
	read_blocks(10, 2, &r);
	assert_int_equal(r.in[0], 'b');
	assert_int_equal(r.in[TH_BS], 'a');
	/* more Data-Out than the CDB: only the CDB's blocks are written */
	write_blocks(10, 2, 'a');
	memset(buf, 'b', 2 * TH_BS);
	cdb10(c, SCSI_OP_WRITE10, 10, 1);
	assert_int_equal(th_cmd(&H, c, 10, buf, 2 * TH_BS, &r), SAM_STAT_GOOD);
	read_blocks(10, 2, &r);
	assert_int_equal(r.in[0], 'b');
	assert_int_equal(r.in[TH_BS], 'a');
}

static void test_caw(void **s)
{
	struct tres r;
	uint8_t c[16] = { SCSI_OP_COMPARE_AND_WRITE };
	write_blocks(20, 2, 0x11);
	memset(buf2, 0x11, 2 * TH_BS);
	memset(buf2 + 2 * TH_BS, 0x22, 2 * TH_BS);
	put_be64(c + 2, 20);
	c[13] = 2;
	assert_int_equal(th_cmd(&H, c, 16, buf2, 4 * TH_BS, &r), SAM_STAT_GOOD);
	read_blocks(20, 2, &r);
	assert_int_equal(r.in[0], 0x22);
	assert_int_equal(r.in[2 * TH_BS - 1], 0x22);
	/* miscompare at byte 700 of the compare data: INFORMATION = 700 */
	memset(buf2, 0x22, 2 * TH_BS);
	buf2[700] = 0x99;
	th_cmd(&H, c, 16, buf2, 4 * TH_BS, &r);
	assert_check(&r, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	assert_true(r.sense[0] & 0x80);
	assert_int_equal(get_be32(r.sense + 3), 700);
	/* too little Data-Out */
	th_cmd(&H, c, 16, buf2, 3 * TH_BS, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_IU);
	/* emulated path: same results without the backend's CAW */
	struct lun_backend_ops ops = *H.lu->be->ops;
	const struct lun_backend_ops *saved = H.lu->be->ops;
	ops.submit_compare_and_write = NULL;
	ops.caps &= ~LUN_CAP_ATOMIC_CAW;
	H.lu->be->ops = &ops;
	th_cmd(&H, c, 16, buf2, 4 * TH_BS, &r);
	assert_check(&r, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(get_be32(r.sense + 3), 700);
	buf2[700] = 0x22;
	memset(buf2 + 2 * TH_BS, 0x33, 2 * TH_BS);
	assert_int_equal(th_cmd(&H, c, 16, buf2, 4 * TH_BS, &r), SAM_STAT_GOOD);
	read_blocks(21, 1, &r);
	assert_int_equal(r.in[5], 0x33);
	H.lu->be->ops = saved;
}

/* ---- CAW atomicity: two threads (own loops, own nexuses) increment a
 * counter in block 30 with read + COMPARE AND WRITE over blocks 30..37,
 * retrying on miscompare, while thread B also overwrites blocks 31..37 with
 * plain WRITEs. If compare and write were not atomic against the other
 * thread, increments would be lost: final counter != successful CAWs. */
#define CAW_LBA   30
#define CAW_NB    8
#define CAW_ITERS 150

struct worker {
	struct th h;
	struct scsi_itn *itn;
	bool plain_writes;
	unsigned ok, errors;
};

static void caw_increment(struct worker *w, uint8_t *rb, uint8_t *ob, struct tres *r)
{
	uint8_t c[16];
	for (;;) {
		cdb16(c, SCSI_OP_READ16, CAW_LBA, CAW_NB);
		if (th_cmd_itn(&w->h, w->itn, 0, c, 16, NULL, 0, r) != SAM_STAT_GOOD) {
			w->errors++;
			return;
		}
		memcpy(ob, r->in, CAW_NB * TH_BS);
		memcpy(ob + CAW_NB * TH_BS, r->in, CAW_NB * TH_BS);
		put_be64(ob + CAW_NB * TH_BS, get_be64(r->in) + 1);
		memset(c, 0, sizeof(c));
		c[0] = SCSI_OP_COMPARE_AND_WRITE;
		put_be64(c + 2, CAW_LBA);
		c[13] = CAW_NB;
		th_cmd_itn(&w->h, w->itn, 0, c, 16, ob, 2 * CAW_NB * TH_BS, r);
		if (r->status == SAM_STAT_GOOD) {
			w->ok++;
			return;
		}
		if (sense_key(r) != SCSI_SK_MISCOMPARE) {
			w->errors++;
			return;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *rb = malloc(CAW_NB * TH_BS), *ob = malloc(2 * CAW_NB * TH_BS), c[16];
	struct tres *r = malloc(sizeof(*r));
	for (int i = 0; i < CAW_ITERS; i++) {
		caw_increment(w, rb, ob, r);
		if (!w->plain_writes)
			continue;
		memset(rb, (uint8_t)i, (CAW_NB - 1) * TH_BS);
		cdb16(c, SCSI_OP_WRITE16, CAW_LBA + 1, CAW_NB - 1);
		if (th_cmd_itn(&w->h, w->itn, 0, c, 16, rb, (CAW_NB - 1) * TH_BS, r) !=
		    SAM_STAT_GOOD)
			w->errors++;
	}
	free(rb);
	free(ob);
	free(r);
	return NULL;
}

static void test_caw_atomic_two_threads(void **s)
{
	struct tres r;
	write_blocks(CAW_LBA, CAW_NB, 0);
	struct worker w[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .h = H, .itn = i ? H.itn2 : H.itn, .plain_writes = i == 1 };
		w[i].h.l = kloop_new(64);
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		kloop_free(w[i].h.l);
	}
	assert_int_equal(w[0].errors + w[1].errors, 0);
	assert_int_equal(w[0].ok + w[1].ok, 2 * CAW_ITERS);
	read_blocks(CAW_LBA, 1, &r);
	assert_int_equal(get_be64(r.in), 2 * CAW_ITERS);
	assert_null(H.lu->rl_held);
	assert_null(H.lu->rl_wait_head);
}

/* Range lock unit test: a shared range overlapping a held exclusive one waits
 * and is resumed through its loop. */
static int resumed;
static void rl_resume(struct scsi_task *t)
{
	resumed++;
	kloop_stop(t->loop);
}

static void test_range_lock_queue(void **s)
{
	struct scsi_task a, b, c;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.loop = b.loop = c.loop = H.l;
	assert_true(scsi_range_lock(H.lu, &a, 10, 5, true, rl_resume));
	assert_false(scsi_range_lock(H.lu, &b, 14, 1, false, rl_resume));
	assert_true(scsi_range_lock(H.lu, &c, 15, 1, false, rl_resume)); /* no overlap */
	scsi_range_unlock(H.lu, &c);
	resumed = 0;
	scsi_range_unlock(H.lu, &a);
	kloop_run(H.l);
	assert_int_equal(resumed, 1);
	assert_int_equal(b.st.rl_state, 1);
	scsi_range_unlock(H.lu, &b);
	assert_null(H.lu->rl_held);
	assert_null(H.lu->rl_wait_head);
}

static bool uniform(const uint8_t *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return false;
	return true;
}

static void test_write_same(void **s)
{
	struct tres r;
	uint8_t c[16];
	memset(buf, 0, TH_BS);
	for (unsigned i = 0; i < TH_BS; i++)
		buf[i] = (uint8_t)i;
	cdb10(c, SCSI_OP_WRITE_SAME10, 200, 3000);
	assert_int_equal(th_cmd(&H, c, 10, buf, TH_BS, &r), SAM_STAT_GOOD);
	read_blocks(200 + 2999, 1, &r);
	assert_int_equal(r.in[7], 7);
	/* UNMAP bit with zero data: deallocates, reads zero */
	memset(buf, 0, TH_BS);
	cdb16(c, SCSI_OP_WRITE_SAME16, 0, 2048);
	c[1] = 0x08;
	assert_int_equal(th_cmd(&H, c, 16, buf, TH_BS, &r), SAM_STAT_GOOD);
	read_blocks(300, 1, &r);
	assert_true(uniform(r.in, TH_BS) && r.in[0] == 0);
	/* NDOB: no Data-Out */
	write_blocks(5, 1, 0xEE);
	cdb16(c, SCSI_OP_WRITE_SAME16, 5, 1);
	c[1] = 0x01;
	assert_int_equal(th_cmd(&H, c, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.out_wanted, 0);
	read_blocks(5, 1, &r);
	assert_int_equal(r.in[0], 0);
	/* 0 blocks (WSNZ) and ANCHOR are invalid */
	cdb10(c, SCSI_OP_WRITE_SAME10, 0, 0);
	th_cmd(&H, c, 10, buf, TH_BS, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	cdb10(c, SCSI_OP_WRITE_SAME10, 0, 1);
	c[1] = 0x10;
	th_cmd(&H, c, 10, buf, TH_BS, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

static void test_unmap_and_get_lba_status(void **s)
{
	struct tres r;
	uint8_t c[16];
	/* 1 MiB chunks of the memory backend = 2048 blocks */
	write_blocks(0, 8, 0x44);
	write_blocks(2048, 8, 0x44);
	uint8_t p[8 + 16] = { 0 };
	put_be16(p, 22);
	put_be16(p + 2, 16);
	put_be64(p + 8, 2048);
	put_be32(p + 16, 2048);
	cdb10(c, SCSI_OP_UNMAP, 0, 0);
	put_be16(c + 7, sizeof(p));
	assert_int_equal(th_cmd(&H, c, 10, p, sizeof(p), &r), SAM_STAT_GOOD);
	read_blocks(2048, 1, &r);
	assert_int_equal(r.in[0], 0);
	uint8_t g[16] = { SCSI_OP_SERVICE_ACTION_IN16, SCSI_SAI_GET_LBA_STATUS };
	put_be64(g + 2, 2048);
	put_be32(g + 10, 1024);
	assert_int_equal(th_cmd(&H, g, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_true(r.in_len >= 24);
	assert_int_equal(get_be64(r.in + 8), 2048);
	assert_int_equal(r.in[8 + 12] & 0x0F, 1); /* deallocated */
	put_be64(g + 2, 0);
	assert_int_equal(th_cmd(&H, g, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[8 + 12] & 0x0F, 0); /* mapped */
	put_be64(g + 2, TH_BLOCKS);
	th_cmd(&H, g, 16, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	/* descriptor beyond capacity; short parameter list */
	put_be64(p + 8, TH_BLOCKS - 1);
	put_be32(p + 16, 2);
	th_cmd(&H, c, 10, p, sizeof(p), &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be16(c + 7, 4);
	th_cmd(&H, c, 10, p, 4, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH_ERROR);
}

static void test_unit_attention_once_per_nexus(void **s)
{
	struct th h;
	struct tres r;
	uint8_t tur[6] = { 0 }, inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 96, 0 };
	th_init(&h, false);
	/* INQUIRY does not consume it */
	assert_int_equal(th_cmd_itn(&h, h.itn, 0, inq, 6, NULL, 0, &r), SAM_STAT_GOOD);
	th_cmd_itn(&h, h.itn, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	assert_int_equal(th_cmd_itn(&h, h.itn, 0, tur, 6, NULL, 0, &r), SAM_STAT_GOOD);
	/* the other nexus still has its own */
	uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	assert_int_equal(th_cmd_itn(&h, h.itn2, 0, rs, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[2] & 0x0F, SCSI_SK_UNIT_ATTENTION);
	assert_int_equal(get_be16(r.in + 12), SCSI_ASC_POWER_ON_RESET);
	assert_int_equal(th_cmd_itn(&h, h.itn2, 0, rs, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[2] & 0x0F, SCSI_SK_NO_SENSE);
	/* LU reset from nexus 1 raises 29/03 on every nexus (SAM-5); capacity change on both */
	scsi_lu_reset(h.lu, h.itn);
	th_cmd_itn(&h, h.itn, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_BUS_DEVICE_RESET);
	th_cmd_itn(&h, h.itn2, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_BUS_DEVICE_RESET);
	scsi_lu_capacity_changed(h.lu);
	th_cmd_itn(&h, h.itn, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_CAPACITY_DATA_CHANGED);
	th_fini(&h);
}

static void mode_select_control(struct scsi_itn *itn, bool dsense, bool swp, struct tres *r)
{
	uint8_t p[4 + 12] = { 0 };
	p[4] = SCSI_MP_CONTROL;
	p[5] = 0x0A;
	p[6] = 0x02 | (dsense ? 0x04 : 0);
	p[7] = 0x10;
	p[8] = swp ? 0x08 : 0;
	uint8_t c[6] = { SCSI_OP_MODE_SELECT6, 0x10, 0, 0, sizeof(p), 0 };
	th_cmd_itn(&H, itn, 0, c, 6, p, sizeof(p), r);
}

static void test_mode_select_ua_swp_dsense(void **s)
{
	struct tres r;
	uint8_t tur[6] = { 0 }, c[16];
	mode_select_control(H.itn, false, true, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	/* the other nexus gets MODE PARAMETERS CHANGED, this one does not */
	assert_int_equal(th_cmd(&H, tur, 6, NULL, 0, &r), SAM_STAT_GOOD);
	th_cmd_itn(&H, H.itn2, 0, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_MODE_PARAMETERS_CHANGED);
	/* SWP: writes fail with DATA PROTECT / WRITE PROTECTED; WP in the header */
	cdb10(c, SCSI_OP_WRITE10, 0, 1);
	th_cmd(&H, c, 10, buf, TH_BS, &r);
	assert_check(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	uint8_t ms[6] = { SCSI_OP_MODE_SENSE6, 0, SCSI_MP_CONTROL, 0, 255, 0 };
	assert_int_equal(th_cmd(&H, ms, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_true(r.in[2] & 0x80);
	/* D_SENSE switches the sense format */
	mode_select_control(H.itn, true, false, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	cdb16(c, SCSI_OP_READ16, TH_BLOCKS, 1);
	th_cmd(&H, c, 16, NULL, 0, &r);
	assert_int_equal(r.sense[0], 0x72);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	mode_select_control(H.itn, false, false, &r);
	cdb16(c, SCSI_OP_READ16, TH_BLOCKS, 1);
	th_cmd(&H, c, 16, NULL, 0, &r);
	assert_int_equal(r.sense[0], 0x70);
	/* non-changeable bit -> INVALID FIELD IN PARAMETER LIST; SP -> INVALID FIELD IN CDB */
	uint8_t p[4 + 12] = { 0, 0, 0, 0, SCSI_MP_CONTROL, 0x0A, 0x02, 0x11 };
	uint8_t sel[6] = { SCSI_OP_MODE_SELECT6, 0x10, 0, 0, sizeof(p), 0 };
	th_cmd(&H, sel, 6, p, sizeof(p), &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	sel[1] = 0x11;
	th_cmd(&H, sel, 6, p, sizeof(p), &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	th_clear_ua(&H, H.itn2);
}

static void test_mode_sense(void **s)
{
	struct tres r;
	uint8_t ms[10] = { SCSI_OP_MODE_SENSE10, 0x10, SCSI_MP_ALL, 0, 0, 0, 0, 0x10, 0, 0 };
	assert_int_equal(th_cmd(&H, ms, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.in) + 2, r.in_len);
	assert_int_equal(r.in[4] & 1, 1); /* LONGLBA */
	assert_int_equal(get_be16(r.in + 6), 16);
	assert_int_equal(get_be64(r.in + 8), TH_BLOCKS);
	assert_int_equal(r.in[24], SCSI_MP_RW_ERROR_RECOVERY);
	ms[2] = 0xC0 | SCSI_MP_CACHING; /* saved */
	th_cmd(&H, ms, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_UNSUP);
	ms[2] = 0x40 | SCSI_MP_CACHING; /* changeable */
	assert_int_equal(th_cmd(&H, ms, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[8 + 16 + 2], SCSI_MP_CACHING_WCE);
	ms[2] = 0x05;
	th_cmd(&H, ms, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	uint8_t m6[6] = { SCSI_OP_MODE_SENSE6, 0x08, SCSI_MP_ALL, 0, 4, 0 };
	assert_int_equal(th_cmd(&H, m6, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 4);
	assert_int_equal(r.in[0], 3 + 12 + 20 + 12 + 12);
	assert_int_equal(r.in[3], 0);
}

static void test_rsoc(void **s)
{
	struct tres r;
	uint8_t c[12] = {
		SCSI_OP_MAINTENANCE_IN, SCSI_MI_REPORT_OPCODES, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0
	};
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	uint32_t n = get_be32(r.in);
	assert_int_equal(n % 8, 0);
	bool saw_rc16 = false, saw_read10 = false;
	for (uint32_t off = 4; off < 4 + n; off += 8) {
		saw_read10 |= r.in[off] == SCSI_OP_READ10;
		saw_rc16 |= r.in[off] == 0x9E && get_be16(r.in + off + 2) == 0x10 &&
			    (r.in[off + 5] & 1);
	}
	assert_true(saw_rc16 && saw_read10);
	c[2] = 0x80; /* RCTD: 20-byte descriptors */
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.in) % 20, 0);
	/* one command: READ(10) usage data */
	c[2] = 1;
	c[3] = SCSI_OP_READ10;
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[1] & 7, 3);
	assert_int_equal(get_be16(r.in + 2), 10);
	assert_int_equal(r.in[4], SCSI_OP_READ10);
	/* option 1 on an opcode with service actions is invalid; option 2 fine */
	c[3] = 0x9E;
	th_cmd(&H, c, 12, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	c[2] = 2;
	put_be16(c + 4, 0x10);
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[5], 0x10);
	/* unsupported opcode: SUPPORT 001b */
	c[2] = 1;
	c[3] = 0xC7;
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[1] & 7, 1);
}

static void test_report_luns_and_absent_lun(void **s)
{
	struct tres r;
	uint8_t c[12] = { SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	struct scsi_lu *lu5 = th_new_lu(5, 64, TH_BS, false, TH_IQN);
	assert_int_equal(scsi_lun_map_add(H.map, 5, lu5), 0);
	assert_int_equal(th_cmd(&H, c, 12, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.in), 16);
	assert_int_equal(r.in[8 + 1], 0);
	assert_int_equal(r.in[16 + 1], 5);
	c[9] = 0;
	c[8] = 0;
	c[9] = 15; /* allocation length < 16 */
	th_cmd(&H, c, 12, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* absent LUN 7: INQUIRY answers PQ 3, others LU NOT SUPPORTED */
	uint8_t inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 }, tur[6] = { 0 };
	assert_int_equal(th_cmd_itn(&H, H.itn, 7, inq, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[0], 0x7F);
	th_cmd_itn(&H, H.itn, 7, tur, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LU_NOT_SUPPORTED);
	uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	assert_int_equal(th_cmd_itn(&H, H.itn, 7, rs, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.in + 12), SCSI_ASC_LU_NOT_SUPPORTED);
}

static void test_read_capacity_and_verify(void **s)
{
	struct tres r;
	uint8_t c[16] = { SCSI_OP_SERVICE_ACTION_IN16, SCSI_SAI_READ_CAPACITY16 };
	put_be32(c + 10, 32);
	assert_int_equal(th_cmd(&H, c, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be64(r.in), TH_BLOCKS - 1);
	assert_int_equal(get_be32(r.in + 8), TH_BS);
	assert_int_equal(r.in[13], 0);
	assert_int_equal(r.in[14], 0xC0); /* LBPME, LBPRZ */
	uint8_t c10[10] = { SCSI_OP_READ_CAPACITY10 };
	assert_int_equal(th_cmd(&H, c10, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.in), TH_BLOCKS - 1);
	/* VERIFY BYTCHK=1: miscompare offset */
	write_blocks(40, 2, 0x66);
	memset(buf2, 0x66, 2 * TH_BS);
	buf2[TH_BS + 3] = 0;
	cdb10(c, SCSI_OP_VERIFY10, 40, 2);
	c[1] = 0x02;
	th_cmd(&H, c, 10, buf2, 2 * TH_BS, &r);
	assert_check(&r, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(get_be32(r.sense + 3), TH_BS + 3);
	buf2[TH_BS + 3] = 0x66;
	assert_int_equal(th_cmd(&H, c, 10, buf2, 2 * TH_BS, &r), SAM_STAT_GOOD);
	c[1] = 0;
	assert_int_equal(th_cmd(&H, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	cdb10(c, SCSI_OP_SYNC_CACHE10, 0, 0);
	assert_int_equal(th_cmd(&H, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	cdb10(c, SCSI_OP_PREFETCH10, TH_BLOCKS, 1);
	th_cmd(&H, c, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
}

static void test_kbuf_backpressure(void **s)
{
	struct tres r;
	write_blocks(50, 4, 0x77);
	kbuf_fail_next(1);
	read_blocks(50, 4, &r);
	assert_int_equal(r.in[0], 0x77);
	uint8_t inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 96, 0 };
	kbuf_fail_next(1);
	assert_int_equal(th_cmd(&H, inq, 6, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 96);
}

static void test_no_unmap_backend(void **s)
{
	struct th h;
	struct tres r;
	th_init(&h, false); /* thin = false: LBPME off, UNMAP absent */
	th_clear_ua(&h, h.itn);
	uint8_t c[10] = { SCSI_OP_UNMAP };
	th_cmd_itn(&h, h.itn, 0, c, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
	uint8_t rc[16] = { SCSI_OP_SERVICE_ACTION_IN16, SCSI_SAI_READ_CAPACITY16 };
	put_be32(rc + 10, 32);
	assert_int_equal(th_cmd_itn(&h, h.itn, 0, rc, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[14], 0);
	th_fini(&h);
}

/* ---- backend errors -> sense (never ILLEGAL REQUEST for backend trouble) ---- */
static int fake_err;

static void fake_fire(struct kloop_task *k)
{
	struct lun_io *io = (struct lun_io *)((char *)k - offsetof(struct lun_io, backend_priv));
	io->result = fake_err;
	io->done(io);
}

static void fake_submit(struct lun_backend *be, struct lun_io *io)
{
	struct kloop_task *k = (struct kloop_task *)io->backend_priv;
	k->fn = fake_fire;
	kloop_defer(io->loop, k);
}

static void fake_close(struct lun_backend *be) {}

static void test_backend_errors(void **s)
{
	static const struct lun_backend_ops ops = { .name = "fake",
						    .caps = LUN_CAP_FLUSH,
						    .submit_read = fake_submit,
						    .submit_write = fake_submit,
						    .submit_flush = fake_submit,
						    .close = fake_close };
	struct lun_backend be = { .ops = &ops, .size = 64 * TH_BS, .block_size = TH_BS };
	struct scsi_lu_params p = { .target_iqn = TH_IQN, .lun = 9 };
	struct scsi_lu *lu;
	char err[64];
	struct tres r;
	assert_int_equal(scsi_lu_create(&p, &be, &lu, err, sizeof(err)), 0);
	assert_int_equal(scsi_lun_map_add(H.map, 9, lu), 0);
	static const struct {
		int err;
		bool write;
		uint8_t key;
		uint16_t asc;
	} cases[] = {
		{ -EIO, false, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR },
		{ -EIO, true, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR },
		{ -ENOSPC, true, SCSI_SK_DATA_PROTECT, SCSI_ASC_SPACE_ALLOC_FAILED_WP },
		{ -EROFS, true, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED },
		{ -EAGAIN, false, SCSI_SK_NOT_READY, SCSI_ASC_LU_BECOMING_READY },
		{ -EBUSY, true, SCSI_SK_NOT_READY, SCSI_ASC_LU_BECOMING_READY },
		{ -EINVAL, false, SCSI_SK_HARDWARE_ERROR, SCSI_ASC_INTERNAL_TARGET_FAILURE },
	};
	uint8_t c[10];
	th_clear_ua(&H, H.itn); /* LU 9 is new for this nexus: no UA registered */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_err = cases[i].err;
		cdb10(c, cases[i].write ? SCSI_OP_WRITE10 : SCSI_OP_READ10, 0, 1);
		th_cmd_itn(&H, H.itn, 9, c, 10, buf, cases[i].write ? TH_BS : 0, &r);
		assert_check(&r, cases[i].key, cases[i].asc);
	}
	/* GET LBA STATUS and UNMAP are not offered without backend unmap; SYNC CACHE flushes */
	fake_err = 0;
	cdb10(c, SCSI_OP_SYNC_CACHE10, 0, 0);
	assert_int_equal(th_cmd_itn(&H, H.itn, 9, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	/* the commands above made H.itn's state for LU 9 lazily (it was added
	 * after the nexus): remove it as kura-targetctl lun remove does */
	struct scsi_lu *gone = NULL;
	assert_int_equal(scsi_lun_map_remove(H.map, 9, &gone), 0);
	assert_ptr_equal(gone, lu);
	assert_int_equal(scsi_lu_inflight(lu), 0);
	assert_non_null(H.itn->ln[9]); /* made lazily by the first command */
	lu->be = NULL;                 /* stack backend: do not close */
	scsi_lun_map_release(H.map, lu);
	assert_null(H.itn->ln[9]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_all_sizes),
		cmocka_unit_test(test_range_checks),
		cmocka_unit_test(test_write_residuals),
		cmocka_unit_test(test_caw),
		cmocka_unit_test(test_caw_atomic_two_threads),
		cmocka_unit_test(test_range_lock_queue),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_unmap_and_get_lba_status),
		cmocka_unit_test(test_unit_attention_once_per_nexus),
		cmocka_unit_test(test_mode_select_ua_swp_dsense),
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_rsoc),
		cmocka_unit_test(test_report_luns_and_absent_lun),
		cmocka_unit_test(test_read_capacity_and_verify),
		cmocka_unit_test(test_kbuf_backpressure),
		cmocka_unit_test(test_no_unmap_backend),
		cmocka_unit_test(test_backend_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
