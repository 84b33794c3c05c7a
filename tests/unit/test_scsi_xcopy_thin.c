/* SPDX-License-Identifier: Apache-2.0 */
/* EXTENDED COPY between thin volumes of one pool (target/scsi/scsi_xcopy.c with
 * lun_thin_share_range): through scsi_task_exec() on a real kloop, thin
 * LUNs 1 and 2 of a pool over a memory data store, LUN 0 a memory LU. A
 * segment with congruent, unaligned offsets is shared in the middle and
 * copied at both ends (data checked, pool chunks do not grow, COPY STATUS
 * reports every byte, lun_thin_check clean); a segment whose offsets are
 * not congruent, and one to the memory LU, are copied. */
#include "test_scsi_harness.h"
#include "lun-backends/thin/lun_thin.h"
#include "xcopy_list.h"
#include <unistd.h>

#define BLK        512u
#define CHUNK_BLKS 128u  /* 64 KiB chunks */
#define VOL_BLKS   8192u /* 4 MiB volumes */

static struct th H;
static struct lun_backend *DATA;
static struct lun_thin_pool *POOL;
static char DIR_[64], META[96];

static struct scsi_lu *thin_lu(uint64_t lun, uint32_t vol)
{
	struct lun_backend *be;
	char err[128];
	assert_int_equal(lun_thin_volume_create(POOL, vol, (uint64_t)VOL_BLKS * BLK), 0);
	assert_int_equal(lun_thin_volume_open(POOL, vol, BLK, &be), 0);
	struct scsi_lu_params p = { .target_iqn = TH_IQN, .lun = lun, .thin = true };
	struct scsi_lu *lu = NULL;
	assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
	assert_int_equal(scsi_lun_map_add(H.map, lun, lu), 0);
	return lu;
}

static void clear_ua(uint64_t lun)
{
	uint8_t tur[6] = { 0 };
	struct tres r;
	for (int i = 0; i < 8 && th_cmd_itn(&H, H.itn, lun, tur, 6, NULL, 0, &r) != SAM_STAT_GOOD;
	     i++)
		;
	assert_int_equal(r.status, SAM_STAT_GOOD);
}

static int setup(void **s)
{
	th_init(&H, false);
	strcpy(DIR_, "/tmp/kura-xcthin-XXXXXX");
	assert_non_null(mkdtemp(DIR_));
	snprintf(META, sizeof(META), "%s/meta", DIR_);
	struct lun_backend_params bp = { .type = "memory", .size = 32u << 20, .block_size = BLK };
	char err[128];
	assert_int_equal(lun_backend_open(&bp, &DATA, err, sizeof(err)), 0);
	struct lun_thin_pool_params pp = { .meta_path = META, .data = DATA };
	assert_int_equal(lun_thin_pool_create(&pp, &POOL, err, sizeof(err)), 0);
	thin_lu(1, 1);
	thin_lu(2, 2);
	for (uint64_t lun = 0; lun < 3; lun++)
		clear_ua(lun);
	uint8_t tur[6] = { 0 };
	struct tres r;
	assert_int_equal(th_cmd(&H, tur, 6, NULL, 0, &r), SAM_STAT_GOOD);
	return 0;
}

static int teardown(void **s)
{
	th_fini(&H); /* closes the LUs' backends, the volumes among them */
	assert_int_equal(lun_thin_pool_close(POOL), 0);
	lun_backend_close(DATA);
	unlink(META);
	rmdir(DIR_);
	return 0;
}

static uint8_t pat(uint64_t lba, unsigned i)
{
	return (uint8_t)(lba * 29 + i + 1);
}

static uint8_t xcopy(uint64_t src, uint64_t dst, uint16_t n, uint64_t slba, uint64_t dlba,
		     uint8_t list_id, struct tres *r)
{
	uint8_t p[128], c[16] = { SCSI_OP_EXTENDED_COPY };
	size_t o = xcopy_build(p, scsi_lun_map_get(H.map, src), scsi_lun_map_get(H.map, dst), n,
			       slba, dlba, list_id);
	put_be32(c + 10, (uint32_t)o);
	return th_cmd_itn(&H, H.itn, src, c, 16, p, (uint32_t)o, r);
}

static uint32_t copied_bytes(uint64_t lun, uint8_t list_id)
{
	uint8_t c[16] = { SCSI_OP_RECEIVE_COPY_RESULTS, 0x00, list_id };
	struct tres r;
	put_be32(c + 10, 64);
	assert_int_equal(th_cmd_itn(&H, H.itn, lun, c, 16, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[4], XCOPY_STATUS_DONE);
	return get_be32(r.in + 8);
}

static uint64_t used(void)
{
	struct lun_thin_pool_status st;
	lun_thin_pool_status(POOL, &st);
	return st.chunks_used;
}

static void test_share_segment(void **s)
{
	struct tres r;
	xt_fill(&H, 1, 0, 4096, 0, pat); /* chunks 0..31 of volume 1 */
	xt_fill(&H, 2, 0, 1024, 0, pat); /* destination's old data, chunks 0..7 */
	uint64_t before = used();
	assert_int_equal(before, 40);
	/* src [8, 3008) -> dst [264, 3264): head 120 blocks, 22 chunks, tail 64 */
	assert_int_equal(xcopy(1, 2, 3000, 8, 8 + 2 * CHUNK_BLKS, 3, &r), SAM_STAT_GOOD);
	assert_int_equal(copied_bytes(1, 3), 3000 * BLK);
	xt_check(&H, 2, 264, 3000, 8, pat);
	xt_check(&H, 2, 0, 264, 0, pat);    /* before the range: the old data */
	xt_check(&H, 2, 3264, 64, 0, NULL); /* after it: still a hole */
	/* 22 chunks shared (dst 3..24); dst's old chunks 3..7 freed, its head
	 * chunk 2 overwritten in place, one new chunk (25) for the tail */
	assert_int_equal(used(), before - 4);
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(POOL, false, &rep), 0);
	/* a write to the source afterwards leaves the copy alone */
	uint8_t c[16], b[BLK];
	memset(b, 0xEE, sizeof(b));
	cdb16(c, SCSI_OP_WRITE16, 1000, 1);
	assert_int_equal(th_cmd_itn(&H, H.itn, 1, c, 16, b, BLK, &r), SAM_STAT_GOOD);
	xt_check(&H, 2, 1256, 1, 1000, pat);
}

static void test_copied_cases(void **s)
{
	struct tres r;
	xt_fill(&H, 1, 0, 4096, 0, pat);
	uint64_t before = used();
	/* offsets not congruent modulo the chunk: copied (allocates) */
	assert_int_equal(xcopy(1, 2, 1024, 0, 4096 + 1, 4, &r), SAM_STAT_GOOD);
	assert_int_equal(copied_bytes(1, 4), 1024 * BLK);
	xt_check(&H, 2, 4097, 1024, 0, pat);
	assert_true(used() >= before + 8);
	/* thin -> memory LU: copied */
	assert_int_equal(xcopy(1, 0, 2048, 0, 0, 5, &r), SAM_STAT_GOOD);
	assert_int_equal(copied_bytes(1, 5), 2048 * BLK);
	xt_check(&H, 0, 0, 2048, 0, pat);
	/* a write-protected thin destination: DATA PROTECT, nothing shared */
	struct scsi_lu *d = scsi_lun_map_get(H.map, 2);
	atomic_store(&d->swp, true);
	xcopy(1, 2, 1024, 0, 0, 7, &r);
	assert_check(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	atomic_store(&d->swp, false);
	/* one volume onto an overlapping range of itself: copied */
	assert_int_equal(xcopy(1, 1, 512, 0, 256, 6, &r), SAM_STAT_GOOD);
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(POOL, false, &rep), 0);
}

int main(void)
{
	struct kloop *probe = kloop_new(8);
	if (!probe) {
		printf("io_uring unavailable: skipping\n");
		return 77;
	}
	kloop_free(probe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_segment),
		cmocka_unit_test(test_copied_cases),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
