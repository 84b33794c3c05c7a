/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kura-initiatord's pure multipath logic (mpath_core.c) and
 * NBD protocol parsers (nbd_proto.c): VPD 0x83 / RTPG parsing incl.
 * truncated and hostile pages, path grouping by identity, outcome
 * classification, failover and round-robin selection with failback, the
 * no-path queue deadline on a fake clock, backoff, and the NBD option /
 * request parsers with hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "initiator/mpath_core.c"
#include "initiator/nbd_proto.c"

/* A VPD 0x83 page with an NAA-6 LU designator, a relative port and a TPG. */
static size_t vpd83(uint8_t *b, uint8_t naa_first, int rel, int tpg)
{
	size_t n = 4;
	b[0] = 0;
	b[1] = 0x83;
	uint8_t d1[] = { 0x01, 0x03, 0, 16, naa_first, 1,  2,  3,  4,  5,
			 6,    7,    8, 9,  10,        11, 12, 13, 14, 15 };
	memcpy(b + n, d1, sizeof(d1));
	n += sizeof(d1);
	uint8_t d2[] = { 0x61, 0x94, 0, 4, 0, 0, 0, (uint8_t)rel };
	memcpy(b + n, d2, sizeof(d2));
	n += sizeof(d2);
	uint8_t d3[] = { 0x01, 0x95, 0, 4, 0, 0, 0, (uint8_t)tpg };
	memcpy(b + n, d3, sizeof(d3));
	n += sizeof(d3);
	b[2] = (uint8_t)((n - 4) >> 8);
	b[3] = (uint8_t)(n - 4);
	return n;
}

static void test_vpd83_parse(void **s)
{
	uint8_t b[128];
	struct mpath_ident id;
	size_t n = vpd83(b, 0x60, 2, 1);
	assert_int_equal(mpath_parse_vpd83(b, n, &id), 0);
	assert_int_equal(id.naa_len, 16);
	assert_int_equal(id.rel_port, 2);
	assert_int_equal(id.tpg, 1);
	char w[40];
	mpath_wwid(&id, w, sizeof(w));
	assert_string_equal(w, "naa.600102030405060708090a0b0c0d0e0f");
}

static void test_vpd83_hostile(void **s)
{
	uint8_t b[128];
	struct mpath_ident id;
	size_t n = vpd83(b, 0x60, 2, 1);
	assert_int_equal(mpath_parse_vpd83(b, 3, &id), -EINVAL); /* shorter than the header */
	b[1] = 0x80;
	assert_int_equal(mpath_parse_vpd83(b, n, &id), -EINVAL); /* wrong page */
	b[1] = 0x83;
	b[7] = 200; /* descriptor longer than page */
	assert_int_equal(mpath_parse_vpd83(b, n, &id), -EINVAL);
	b[7] = 16;
	/* truncated by the allocation length: what fits is parsed */
	assert_int_equal(mpath_parse_vpd83(b, 4 + 20, &id), 0);
	assert_int_equal(id.rel_port, -1);
	/* no NAA at all */
	uint8_t t10[] = { 0, 0x83, 0, 8, 0x02, 0x01, 0, 4, 'K', 'U', 'R', 'A' };
	assert_int_equal(mpath_parse_vpd83(t10, sizeof(t10), &id), -ENOENT);
	/* every truncation of a valid page is handled without reading past it */
	for (size_t k = 0; k < n; k++)
		(void)mpath_parse_vpd83(b, k, &id);
}

static void test_grouping_by_identity(void **s)
{
	uint8_t a[128], b[128], c[128];
	struct mpath_ident ia, ib, ic;
	mpath_parse_vpd83(a, vpd83(a, 0x60, 1, 1), &ia);
	mpath_parse_vpd83(b, vpd83(b, 0x60, 2, 1), &ib); /* same LU, other port */
	mpath_parse_vpd83(c, vpd83(c, 0x61, 1, 1), &ic); /* another LU */
	char wa[40], wb[40], wc[40];
	mpath_wwid(&ia, wa, sizeof(wa));
	mpath_wwid(&ib, wb, sizeof(wb));
	mpath_wwid(&ic, wc, sizeof(wc));
	assert_string_equal(wa, wb);
	assert_string_not_equal(wa, wc);
	assert_int_not_equal(ia.rel_port, ib.rel_port);
}

static void test_std_tpgs_and_rtpg(void **s)
{
	uint8_t inq[8] = { 0, 0, 6, 2, 31, 0x10, 0, 0 };
	assert_int_equal(mpath_std_tpgs(inq, sizeof(inq)), 1);
	assert_int_equal(mpath_std_tpgs(inq, 5), -EINVAL);
	/* two groups: TPG 1 (AO) ports 1,2; TPG 2 (standby) port 3 */
	uint8_t r[] = { 0, 0, 0, 32, 0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1,
			0, 0, 0, 2,  0x02, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3 };
	int tpg, st;
	assert_int_equal(mpath_parse_rtpg(r, sizeof(r), 2, &tpg, &st), 0);
	assert_int_equal(tpg, 1);
	assert_int_equal(st, ALUA_AO);
	assert_int_equal(mpath_parse_rtpg(r, sizeof(r), 3, &tpg, &st), 0);
	assert_int_equal(tpg, 2);
	assert_int_equal(st, ALUA_STANDBY);
	assert_int_equal(mpath_parse_rtpg(r, sizeof(r), 9, &tpg, &st), -ENOENT);
	r[11] = 40; /* port count past the end */
	assert_int_equal(mpath_parse_rtpg(r, sizeof(r), 2, &tpg, &st), -EINVAL);
	for (size_t k = 0; k < sizeof(r); k++)
		(void)mpath_parse_rtpg(r, k, 2, &tpg, &st);
}

static void test_classify(void **s)
{
	assert_int_equal(mpath_classify(SCSI_STATUS_GOOD, 0, 0, 0), MV_OK);
	assert_int_equal(mpath_classify(SCSI_STATUS_CANCELLED, 0, 0, 0), MV_RETRY_OTHER);
	assert_int_equal(mpath_classify(SCSI_STATUS_TIMEOUT, 0, 0, 0), MV_RETRY_OTHER);
	assert_int_equal(mpath_classify(SCSI_STATUS_ERROR, 0, 0, 0), MV_RETRY_OTHER);
	assert_int_equal(mpath_classify(SCSI_STATUS_CHECK_CONDITION, 6, 0x29, 0), MV_RETRY_SAME);
	assert_int_equal(mpath_classify(SCSI_STATUS_CHECK_CONDITION, 2, 4, 0x0a), MV_RETRY_OTHER);
	assert_int_equal(mpath_classify(SCSI_STATUS_CHECK_CONDITION, 5, 0x24, 0), MV_FAIL);
	assert_int_equal(mpath_classify(SCSI_STATUS_CHECK_CONDITION, 3, 0x11, 0), MV_FAIL);
	assert_int_equal(mpath_classify(SCSI_STATUS_BUSY, 0, 0, 0), MV_BUSY);
	assert_int_equal(mpath_classify(SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0), MV_FAIL);
	assert_int_equal(mpath_fail_errno(SCSI_STATUS_CHECK_CONDITION, 7, 0x27, 7), -ENOSPC);
	assert_int_equal(mpath_fail_errno(SCSI_STATUS_CHECK_CONDITION, 3, 0x11, 0), -EIO);
}

static void test_failover_policy(void **s)
{
	struct mpath_cand c[3] = { { true, ALUA_AO }, { true, ALUA_AO }, { true, ALUA_AO } };
	struct mpath_sel st = { .current = -1 };
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, true, &st), 0);
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, true, &st), 0); /* sticky */
	c[0].up = false;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, true, &st), 1); /* fail over */
	c[0].up = true;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, true, &st), 0); /* immediate failback */
	c[0].up = false;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), 1);
	c[0].up = true;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), 1); /* manual: stays */
	c[0].up = c[1].up = c[2].up = false;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), -1);
	assert_int_equal(st.current, -1);
}

static void test_alua_groups(void **s)
{
	/* path 0 standby, path 1 non-optimized, path 2 optimized: 2 wins */
	struct mpath_cand c[3] = { { true, ALUA_STANDBY }, { true, ALUA_ANO }, { true, ALUA_AO } };
	struct mpath_sel st = { .current = -1 };
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), 2);
	c[2].up = false;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), 1);
	c[1].alua_state = ALUA_UNAVAIL;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st),
			 -1); /* standby cannot serve */
	c[2].up = true;       /* better group back: switch even with manual failback */
	c[1].alua_state = ALUA_ANO;
	st.current = 1;
	assert_int_equal(mpath_select(c, 3, MPATH_FAILOVER, false, &st), 2);
}

static void test_round_robin(void **s)
{
	struct mpath_cand c[3] = { { true, ALUA_AO }, { true, ALUA_AO }, { true, ALUA_AO } };
	struct mpath_sel st = { .current = -1 };
	int seen[3] = { 0 };
	for (int i = 0; i < 30; i++)
		seen[mpath_select(c, 3, MPATH_ROUND_ROBIN, false, &st)]++;
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 10);
	c[1].up = false;
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(mpath_select(c, 3, MPATH_ROUND_ROBIN, false, &st), 1);
	c[2].alua_state = ALUA_ANO; /* only the best group rotates */
	for (int i = 0; i < 5; i++)
		assert_int_equal(mpath_select(c, 3, MPATH_ROUND_ROBIN, false, &st), 0);
}

static void test_queue_deadline_fake_clock(void **s)
{
	struct mpath_queue q = { 0 };
	uint64_t t = 1000;
	mpath_q_paths(&q, true, t);
	assert_int_equal(mpath_q_decide(&q, t, 30000), MQ_DISPATCH);
	mpath_q_paths(&q, false, t += 5); /* last path gone at 1005 */
	assert_int_equal(mpath_q_decide(&q, t, 30000), MQ_WAIT);
	assert_int_equal(mpath_q_decide(&q, 1005 + 29999, 30000), MQ_WAIT);
	assert_int_equal(mpath_q_decide(&q, 1005 + 30000, 30000), MQ_FAIL);
	assert_int_equal(mpath_q_decide(&q, 1005 + 30001, 30000), MQ_FAIL); /* stays failing */
	mpath_q_paths(&q, false, 99999); /* still none: deadline not reset */
	assert_int_equal(mpath_q_decide(&q, 99999, 30000), MQ_FAIL);
	mpath_q_paths(&q, true, 100000); /* a path returns */
	assert_int_equal(mpath_q_decide(&q, 100000, 30000), MQ_DISPATCH);
	mpath_q_paths(&q, false, 200000);
	assert_int_equal(mpath_q_decide(&q, 200001, 30000), MQ_WAIT);
	mpath_q_fail_now(&q); /* FAIL-QUEUE */
	assert_int_equal(mpath_q_decide(&q, 200002, 30000), MQ_FAIL);
	mpath_q_paths(&q, true, 200003);
	mpath_q_fail_now(&q); /* no effect while a path is up */
	assert_int_equal(mpath_q_decide(&q, 200004, 30000), MQ_DISPATCH);
	struct mpath_queue z = { 0 }; /* bound 0: fail at once */
	mpath_q_paths(&z, true, 5);
	mpath_q_paths(&z, false, 6);
	assert_int_equal(mpath_q_decide(&z, 6, 0), MQ_FAIL);
}

static void test_backoff(void **s)
{
	uint64_t b = 0;
	uint64_t want[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		b = mpath_backoff_next(b, 500, 30000);
		assert_int_equal(b, want[i]);
	}
}

/* ---- NBD -------------------------------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void test_nbd_opt_hdr(void **s)
{
	uint8_t b[16];
	struct nbd_opt_hdr h;
	put_be(b, NBD_IHAVEOPT, 8);
	put_be(b + 8, NBD_OPT_GO, 4);
	put_be(b + 12, 10, 4);
	assert_int_equal(nbd_parse_opt_hdr(b, 16, &h), 0);
	assert_int_equal(h.option, NBD_OPT_GO);
	assert_int_equal(h.len, 10);
	assert_int_equal(nbd_parse_opt_hdr(b, 15, &h), -EINVAL);
	put_be(b + 12, 0xffffffff, 4); /* 4 GiB option: refused */
	assert_int_equal(nbd_parse_opt_hdr(b, 16, &h), -EINVAL);
	b[0] ^= 1;
	put_be(b + 12, 1, 4);
	assert_int_equal(nbd_parse_opt_hdr(b, 16, &h), -EINVAL);
}

static void test_nbd_go(void **s)
{
	uint8_t b[64];
	struct nbd_go g;
	put_be(b, 3, 4);
	memcpy(b + 4, "abc", 3);
	put_be(b + 7, 2, 2);
	put_be(b + 9, NBD_INFO_NAME, 2);
	put_be(b + 11, NBD_INFO_BLOCK_SIZE, 2);
	assert_int_equal(nbd_parse_go(b, 13, &g), 0);
	assert_int_equal(g.name_len, 3);
	assert_memory_equal(g.name, "abc", 3);
	assert_true(g.want_block_size);
	assert_int_equal(nbd_parse_go(b, 12, &g), -EINVAL); /* info list cut short */
	assert_int_equal(nbd_parse_go(b, 14, &g), -EINVAL); /* trailing byte */
	put_be(b, 0xfffffff0, 4);                           /* name length past the payload */
	assert_int_equal(nbd_parse_go(b, 13, &g), -EINVAL);
	put_be(b, 0, 4);
	put_be(b + 4, 0, 2);
	assert_int_equal(nbd_parse_go(b, 6, &g), 0); /* default export, no infos */
	assert_int_equal(nbd_parse_go(b, 5, &g), -EINVAL);
	/* random bytes never crash the parser */
	unsigned seed = 1;
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand_r(&seed) % 64);
		for (size_t k = 0; k < n; k++)
			b[k] = (uint8_t)rand_r(&seed);
		if (nbd_parse_go(b, n, &g) == 0)
			assert_true(4 + (size_t)g.name_len + 2 + 2 * (size_t)g.n_info == n);
	}
}

static void test_nbd_request(void **s)
{
	uint8_t b[28];
	struct nbd_request r;
	put_be(b, NBD_REQUEST_MAGIC, 4);
	put_be(b + 4, NBD_CMD_FLAG_FUA, 2);
	put_be(b + 6, NBD_CMD_WRITE, 2);
	put_be(b + 8, 0x1122334455667788ULL, 8);
	put_be(b + 16, 4096, 8);
	put_be(b + 24, 512, 4);
	assert_int_equal(nbd_parse_request(b, 28, &r), 0);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_true(r.handle == 0x1122334455667788ULL);
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), 0);
	assert_int_equal(nbd_parse_request(b, 27, &r), -EINVAL);
	r.offset = UINT64_MAX - 100; /* offset + length wraps */
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), NBD_ENOSPC);
	r.offset = (1 << 20) - 512;
	r.length = 1024; /* past the end */
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), NBD_ENOSPC);
	r.offset = 100;
	r.length = 512; /* unaligned */
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), NBD_EINVAL);
	r.offset = 0;
	r.length = NBD_MAX_REQUEST + 512;
	assert_int_equal(nbd_check_request(&r, 1ULL << 40, 512), NBD_EOVERFLOW);
	r.length = 512;
	r.type = 99;
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), NBD_EINVAL);
	r.type = NBD_CMD_READ;
	r.flags = 0x8000;
	assert_int_equal(nbd_check_request(&r, 1 << 20, 512), NBD_EINVAL);
	r.flags = 0;
	r.type = NBD_CMD_TRIM;
	r.length = 1u << 30; /* big trims are fine (chunked) */
	assert_int_equal(nbd_check_request(&r, 1ULL << 40, 512), 0);
	b[0] = 0;
	assert_int_equal(nbd_parse_request(b, 28, &r), -EINVAL);
}

static void test_nbd_builders(void **s)
{
	uint8_t b[32];
	assert_int_equal(nbd_put_simple_reply(b, 5, 0xabcdef), 16);
	assert_int_equal(b[3], 0x98);
	assert_int_equal(b[7], 5);
	assert_int_equal(b[15], 0xef);
	assert_int_equal(nbd_put_info_export(b, 1 << 20, 0x6d), 12);
	assert_int_equal(b[1], NBD_INFO_EXPORT);
	assert_int_equal(b[11], 0x6d);
	assert_int_equal(nbd_put_opt_reply(b, 7, NBD_REP_ACK, 0), 20);
	assert_int_equal(b[15], NBD_REP_ACK);
	assert_int_equal(nbd_errno(-ENOSPC), NBD_ENOSPC);
	assert_int_equal(nbd_errno(-ETIMEDOUT), NBD_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vpd83_parse),
		cmocka_unit_test(test_vpd83_hostile),
		cmocka_unit_test(test_grouping_by_identity),
		cmocka_unit_test(test_std_tpgs_and_rtpg),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_failover_policy),
		cmocka_unit_test(test_alua_groups),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_queue_deadline_fake_clock),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_nbd_opt_hdr),
		cmocka_unit_test(test_nbd_go),
		cmocka_unit_test(test_nbd_request),
		cmocka_unit_test(test_nbd_builders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
