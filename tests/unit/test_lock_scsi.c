/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the pure parts of cluster-lock/lock_scsi.c: the outcome
 * table (GOOD, RESERVATION CONFLICT, MISCOMPARE, BUSY, NOT READY, other
 * sense) and the unit attentions (I9: every UA is "send again" and recorded
 * as an event, never success: 29/xx, 2A/03..06, others); READ FULL STATUS
 * descriptors with iSCSI TransportIDs of both formats, truncated and
 * hostile; the SPEC_I_PT TransportID builder; URL parsing of the paths.
 * The commands themselves run against kura-targetd in
 * tests/integration/test_lock_target.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "cluster-lock/lock_scsi.c"

static struct lock_lun lun;

static int classify_of(int status, int key, int ascq)
{
	struct scsi_task t;
	memset(&t, 0, sizeof(t));
	t.status = status;
	t.sense.key = (enum scsi_sense_key)key;
	t.sense.ascq = ascq;
	return classify(&lun, &t);
}

static void test_outcomes(void **state)
{
	memset(&lun, 0, sizeof(lun));
	assert_int_equal(classify_of(SCSI_STATUS_GOOD, 0, 0), 0);
	assert_int_equal(classify_of(SCSI_STATUS_RESERVATION_CONFLICT, 0, 0), LOCK_E_RESV_CONFLICT);
	assert_int_equal(lock_lun_take_events(&lun), LOCK_EV_RESV_CONFLICT);
	assert_int_equal(classify_of(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MISCOMPARE, 0x1D00),
			 LOCK_E_MISCOMPARE);
	assert_int_equal(classify_of(SCSI_STATUS_BUSY, 0, 0), -EAGAIN);
	assert_int_equal(classify_of(SCSI_STATUS_TASK_SET_FULL, 0, 0), -EAGAIN);
	assert_int_equal(classify_of(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x0401),
			 -EAGAIN);
	assert_int_equal(classify_of(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST,
				     0x2400),
			 LOCK_E_SCSI);
	assert_int_equal(lock_lun_last_sense(&lun).asc_ascq, 0x2400);
	assert_int_equal(classify_of(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MEDIUM_ERROR, 0x1100),
			 LOCK_E_SCSI);
	assert_int_equal(classify_of(0x28, 0, 0), -EAGAIN); /* TASK SET FULL */
	assert_int_equal(lock_lun_take_events(&lun), 0);
}

/* I9: a unit attention is never success: resend, and say what it was. */
static void test_unit_attentions(void **state)
{
	static const struct {
		int ascq;
		unsigned ev;
	} uas[] = {
		{ 0x2900, LOCK_EV_RESET },
		{ 0x2901, LOCK_EV_RESET },
		{ 0x2907, LOCK_EV_RESET },
		{ 0x2A03, LOCK_EV_RESV_CHANGED },
		{ 0x2A04, LOCK_EV_RESV_CHANGED },
		{ 0x2A05, LOCK_EV_PREEMPTED },
		{ 0x2A06, LOCK_EV_RESV_CHANGED },
		{ 0x3F0E, 0 },
		{ 0x2A09, 0 },
	};
	memset(&lun, 0, sizeof(lun));
	for (unsigned i = 0; i < sizeof(uas) / sizeof(uas[0]); i++) {
		assert_int_equal(classify_of(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION,
					     uas[i].ascq),
				 -EAGAIN);
		assert_int_equal(lock_lun_take_events(&lun), uas[i].ev);
	}
}

static uint32_t desc(uint8_t *p, uint64_t key, uint8_t flags, const char *tid, uint8_t fmt)
{
	size_t n = strlen(tid) + 1, tl = (n + 3) & ~(size_t)3;
	memset(p, 0, 24 + 4 + tl);
	put_be64(p, key);
	p[12] = flags;
	p[13] = 7;
	put_be16(p + 18, 2);
	put_be32(p + 20, (uint32_t)(4 + tl));
	p[24] = (uint8_t)(fmt << 6 | 5);
	put_be16(p + 26, (uint16_t)tl);
	memcpy(p + 28, tid, n);
	return (uint32_t)(28 + tl);
}

static void test_full_status(void **state)
{
	uint8_t b[512];
	struct lock_pr_reg r;
	uint32_t n = desc(b, 0x1122, 3, "iqn.x:a", 0);
	assert_int_equal(full_status_one(b, n, &r), n);
	assert_int_equal(r.key, 0x1122);
	assert_true(r.holder && r.all_tg_pt && r.any_isid);
	assert_int_equal(r.type, 7);
	assert_int_equal(r.rel_port, 2);
	assert_string_equal(r.name, "iqn.x:a");
	n = desc(b, 0x33, 0, "iqn.x:b,i,0x23d000000001", 1);
	assert_int_equal(full_status_one(b, n, &r), n);
	assert_false(r.any_isid);
	assert_string_equal(r.name, "iqn.x:b");             /* the ISID part cut off */
	assert_int_equal(full_status_one(b, n - 1, &r), 0); /* truncated */
	put_be32(b + 20, 0xFFFFFFF0u);                      /* hostile length */
	assert_int_equal(full_status_one(b, sizeof(b), &r), 0);
	n = desc(b, 0x44, 0, "iqn.x:c", 0);
	memset(b + 28, 'x', n - 28); /* no NUL in the name */
	assert_int_equal(full_status_one(b, n, &r), n);
	assert_true(strlen(r.name) < sizeof(r.name));
	b[24] = 0x01; /* not an iSCSI TransportID: no name */
	assert_int_equal(full_status_one(b, n, &r), n);
	assert_string_equal(r.name, "");
}

/* SPC-4 7.6.4.6: format 00h, protocol 5, length a multiple of 4, >= 20 bytes. */
static void test_transport_id(void **state)
{
	uint8_t p[64];
	memset(p, 0xEE, sizeof(p));
	assert_int_equal(tid_put(p, "iqn.a"), 20);
	assert_int_equal(p[0], 0x05);
	assert_int_equal(get_be16(p + 2), 16);
	assert_string_equal((char *)p + 4, "iqn.a");
	assert_int_equal(tid_put(p, "iqn.2026-12.org.kura:lock-h1"), 4 + 32);
	assert_int_equal(get_be16(p + 2) % 4, 0);
}

/* VPD 0x83: the longest NAA designator of the LU, as kura-initiatord names it. */
static void test_wwid(void **state)
{
	(void)state;
	static const uint8_t page[] = {
		0x00, 0x83, 0x00, 0x2c, 0x01, 0x13, 0x00, 0x08, 1, 2, 3, 4,
		5,    6,    7,    8,                                        /* NAA, target port */
		0x01, 0x03, 0x00, 0x08, 0x60, 1,    2,    3,    4, 5, 6, 7, /* NAA 8, LU */
		0x01, 0x03, 0x00, 0x10, 0x6a, 0xbc, 0,    0,    0, 0, 0, 0, /* NAA 16, LU */
		0,    0,    0,    0,    0,    0,    0,    0x2f,
	};
	char w[40];
	assert_int_equal(lock_vpd83_wwid(page, sizeof(page), w, sizeof(w)), 0);
	assert_string_equal(w, "naa.6abc000000000000000000000000002f");
	assert_int_equal(lock_vpd83_wwid(page, 36, w, sizeof(w)), -EINVAL); /* cut descriptor */
	assert_int_equal(lock_vpd83_wwid(page, 16, w, sizeof(w)), -ENOENT); /* port NAA only */
	assert_int_equal(lock_vpd83_wwid(page, 3, w, sizeof(w)), -EINVAL);
	assert_int_equal(lock_vpd83_wwid(page, sizeof(page), w, 20), -ENAMETOOLONG);
}

static void test_open(void **state)
{
	const char *good[2] = { "iscsi://127.0.0.1:3260/iqn.2026-12.org.kura:a/1",
				"iscsi://[::1]:3261/iqn.2026-12.org.kura:a/1" };
	const char *bad[1] = { "http://x/" };
	struct lock_lun_params p = { .urls = good, .n_urls = 2, .initiator = "iqn.x:h" };
	int err;
	struct lock_lun *l = lock_lun_open(&p, &err);
	assert_non_null(l);
	assert_int_equal(lock_lun_paths(l), 2);
	assert_int_equal(l->path[0].lun, 1);
	assert_string_equal(l->path[1].target, "iqn.2026-12.org.kura:a");
	assert_int_equal(l->timeout_ns, 2000000000ull);
	lock_lun_close(l);
	p.urls = bad;
	p.n_urls = 1;
	assert_null(lock_lun_open(&p, &err));
	assert_int_equal(err, -EINVAL);
	p.n_urls = 0;
	assert_null(lock_lun_open(&p, &err));
	p.urls = good;
	p.n_urls = 1;
	p.initiator = NULL;
	assert_null(lock_lun_open(&p, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),    cmocka_unit_test(test_unit_attentions),
		cmocka_unit_test(test_full_status), cmocka_unit_test(test_transport_id),
		cmocka_unit_test(test_wwid),        cmocka_unit_test(test_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
