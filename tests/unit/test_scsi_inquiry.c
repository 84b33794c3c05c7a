/* SPDX-License-Identifier: Apache-2.0 */
/* INQUIRY tests (target/scsi/scsi_inquiry.c): standard data, every VPD page byte
 * by byte where fixed, allocation-length truncation, invalid page codes, and
 * NAA designator stability (same target IQN + LUN => same designator across
 * LU re-creation; different LUN or IQN => different). */
#include "test_scsi_harness.h"

static struct th H;

static int setup(void **s)
{
	th_init(&H, true);
	return 0;
}

static int teardown(void **s)
{
	th_fini(&H);
	return 0;
}

static void inquiry(bool evpd, uint8_t page, uint16_t alloc, struct tres *r)
{
	uint8_t c[6] = { SCSI_OP_INQUIRY, evpd ? 1 : 0, page, 0, 0, 0 };
	put_be16(c + 3, alloc);
	th_cmd(&H, c, 6, NULL, 0, r);
}

static void test_standard(void **s)
{
	struct tres r;
	inquiry(false, 0, 255, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 96);
	assert_int_equal(r.in[0], 0x00);
	assert_int_equal(r.in[2], 0x06); /* SPC-4 */
	assert_int_equal(r.in[3], 0x12); /* HISUP, format 2 */
	assert_int_equal(r.in[4], 91);
	assert_int_equal(r.in[5] & 0x30, 0x30); /* TPGS: implicit + explicit ALUA */
	assert_int_equal(r.in[7], 0x02);        /* CMDQUE */
	assert_memory_equal(r.in + 8, "KURA    ", 8);
	assert_memory_equal(r.in + 16, "kura-lun        ", 16);
	assert_int_equal(get_be16(r.in + 58), 0x00A0);
	assert_int_equal(get_be16(r.in + 62), 0x0460);
	/* allocation length honoured exactly */
	inquiry(false, 0, 5, &r);
	assert_int_equal(r.in_len, 5);
	inquiry(false, 0, 0, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 0);
}

static void test_invalid(void **s)
{
	struct tres r;
	inquiry(false, 0x80, 255, &r); /* page code without EVPD */
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(get_be16(r.sense + 16), 2);
	inquiry(true, 0x99, 255, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	uint8_t c[6] = { SCSI_OP_INQUIRY, 0x02, 0, 0, 255, 0 }; /* CMDDT */
	th_cmd(&H, c, 6, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

static void test_vpd_supported_and_serial(void **s)
{
	struct tres r;
	const uint8_t want[] = { 0x00, 0x80, 0x83, 0x86, 0x8F, 0xB0, 0xB1, 0xB2 };
	inquiry(true, 0, 255, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.in[1], 0);
	assert_int_equal(get_be16(r.in + 2), sizeof(want));
	assert_memory_equal(r.in + 4, want, sizeof(want));
	inquiry(true, 0x80, 255, &r);
	assert_int_equal(get_be16(r.in + 2), 32); /* hex of the NAA */
	char hex[3];
	snprintf(hex, sizeof(hex), "%02x", H.lu->naa[0]);
	assert_memory_equal(r.in + 4, hex, 2);
}

/* Find a designator by (association | type) in page 83h. */
static const uint8_t *find_desig(const struct tres *r, uint8_t assoc_type)
{
	size_t len = 4 + get_be16(r->in + 2);
	for (size_t off = 4; off + 4 <= len; off += 4 + r->in[off + 3])
		if ((r->in[off + 1] & 0x3F) == assoc_type)
			return r->in + off;
	return NULL;
}

static void test_vpd_device_id(void **s)
{
	struct tres r;
	inquiry(true, 0x83, 1024, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 4 + get_be16(r.in + 2));
	const uint8_t *d = find_desig(&r, SCSI_DESIG_ASSOC_LU | SCSI_DESIG_NAA);
	assert_non_null(d);
	assert_int_equal(d[0], 0x01);
	assert_int_equal(d[3], 16);
	assert_int_equal(d[4] >> 4, 6);
	assert_memory_equal(d + 4, H.lu->naa, 16);
	d = find_desig(&r, SCSI_DESIG_ASSOC_PORT | SCSI_DESIG_REL_PORT);
	assert_non_null(d);
	assert_int_equal(d[0], 0x51);
	assert_int_equal(d[1], 0x94);
	assert_int_equal(get_be16(d + 6), 1);
	d = find_desig(&r, SCSI_DESIG_ASSOC_PORT | SCSI_DESIG_TPG);
	assert_non_null(d);
	assert_int_equal(d[1], 0x95);
	assert_int_equal(get_be16(d + 6), 1);
	d = find_desig(&r, SCSI_DESIG_ASSOC_PORT | SCSI_DESIG_NAME);
	assert_non_null(d);
	assert_int_equal(d[0], 0x53);
	assert_int_equal(d[3] % 4, 0);
	assert_string_equal((const char *)d + 4, TH_IQN ",t,0x0001");
	d = find_desig(&r, SCSI_DESIG_ASSOC_TARGET | SCSI_DESIG_NAME);
	assert_non_null(d);
	assert_int_equal(d[1], 0xA8);
	assert_string_equal((const char *)d + 4, TH_IQN);
}

static void test_naa_stability(void **s)
{
	uint8_t a[16], b[16], c[16];
	struct scsi_lu *lu1 = th_new_lu(3, 64, TH_BS, false, TH_IQN);
	memcpy(a, lu1->naa, 16);
	scsi_lu_destroy(lu1);
	struct scsi_lu *lu2 = th_new_lu(3, 64, TH_BS, false, TH_IQN);
	memcpy(b, lu2->naa, 16);
	scsi_lu_destroy(lu2);
	assert_memory_equal(a, b, 16);
	scsi_naa_derive(TH_IQN, 4, c);
	assert_memory_not_equal(a, c, 16);
	scsi_naa_derive(TH_IQN "x", 3, c);
	assert_memory_not_equal(a, c, 16);
	assert_int_equal(a[0] >> 4, 6);
	/* explicit NAA from the configuration */
	struct lun_backend_params bp = { .type = "memory",
					 .size = 64 * TH_BS,
					 .block_size = TH_BS };
	struct lun_backend *be;
	char err[64];
	assert_int_equal(lun_backend_open(&bp, &be, err, sizeof(err)), 0);
	struct scsi_lu_params p = { .target_iqn = TH_IQN,
				    .lun = 1,
				    .naa = 0x6001405123456789ull,
				    .naa_ext = 42,
				    .serial = "SER1" };
	struct scsi_lu *lu;
	assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
	assert_int_equal(get_be64(lu->naa), 0x6001405123456789ull);
	assert_int_equal(get_be64(lu->naa + 8), 42);
	assert_string_equal(lu->serial, "SER1");
	scsi_lu_destroy(lu);
}

/* OPTIMAL UNMAP GRANULARITY: reported for a 512-byte thin LU, left 0 (not
 * reported) for a 4096-byte one unless asked (QEMU's allocation map asserts
 * on 4 KiB LUs), never for a fully provisioned LU. */
static void test_vpd_unmap_granularity_hint(void **s)
{
	static const struct {
		uint32_t bs;
		int hint;
		bool thin;
		bool want;
	} cases[] = {
		{ 512, SCSI_UG_AUTO, true, true },   { 4096, SCSI_UG_AUTO, true, false },
		{ 4096, SCSI_UG_YES, true, true },   { 512, SCSI_UG_NO, true, false },
		{ 4096, SCSI_UG_YES, false, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lun_backend_params bp = { .type = "memory",
						 .size = 1 << 20,
						 .block_size = cases[i].bs };
		struct lun_backend *be = NULL;
		char err[128];
		assert_int_equal(lun_backend_open(&bp, &be, err, sizeof(err)), 0);
		struct scsi_lu_params p = { .target_iqn = TH_IQN,
					    .lun = 3,
					    .thin = cases[i].thin,
					    .unmap_gran_hint = cases[i].hint };
		struct scsi_lu *lu = NULL;
		assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
		uint8_t b[SCSI_VPD_BLOCK_LIMITS_LEN + 16] = { 0 };
		struct vpd_ctx c = { .lu = lu };
		vpd_block_limits(&c, b);
		uint32_t gran = get_be32(b + 28), ugavalid = get_be32(b + 32);
		if (cases[i].want) {
			uint32_t ug = be->unmap_granularity >= cases[i].bs
					      ? be->unmap_granularity / cases[i].bs
					      : 1;
			assert_int_equal(gran, ug);
			assert_int_equal(ugavalid, 0x80000000u);
		} else {
			assert_int_equal(gran, 0);
			assert_int_equal(ugavalid, 0);
		}
		scsi_lu_destroy(lu);
	}
}

static void test_vpd_block_pages(void **s)
{
	struct tres r;
	inquiry(true, 0xB0, 255, &r);
	assert_int_equal(r.in_len, 64);
	assert_int_equal(get_be16(r.in + 2), 0x3C);
	assert_int_equal(r.in[4], 0x01); /* WSNZ */
	assert_int_equal(r.in[5], SCSI_MAX_CAW_BLOCKS);
	assert_int_equal(get_be16(r.in + 6), 8);
	assert_int_equal(get_be32(r.in + 8), SCSI_MAX_XFER_BYTES / TH_BS);
	assert_int_equal(get_be32(r.in + 20), SCSI_MAX_UNMAP_BLOCKS);
	assert_int_equal(get_be32(r.in + 24), SCSI_MAX_UNMAP_DESC);
	assert_int_equal(get_be32(r.in + 28), H.lu->be->unmap_granularity > TH_BS
						      ? H.lu->be->unmap_granularity / TH_BS
						      : 1);
	assert_int_equal(get_be32(r.in + 32), 0x80000000u);
	assert_int_equal(get_be64(r.in + 36), SCSI_MAX_WS_BLOCKS);
	inquiry(true, 0xB1, 255, &r);
	assert_int_equal(get_be16(r.in + 2), 0x3C);
	assert_int_equal(get_be16(r.in + 4), 1);
	inquiry(true, 0xB2, 255, &r);
	assert_int_equal(r.in_len, 8);
	assert_int_equal(get_be16(r.in + 2), 4);
	assert_int_equal(r.in[5], 0xE4); /* LBPU LBPWS LBPWS10 LBPRZ */
	assert_int_equal(r.in[6], 0x02); /* thin */
	inquiry(true, 0x86, 255, &r);
	assert_int_equal(get_be16(r.in + 2), 0x3C);
	assert_int_equal(r.in[7] & 1, 1);
	inquiry(true, 0xB0, 10, &r);
	assert_int_equal(r.in_len, 10);
}

static void test_vpd_not_thin(void **s)
{
	struct th h;
	struct tres r;
	th_init(&h, false);
	uint8_t c[6] = { SCSI_OP_INQUIRY, 1, 0xB2, 0, 255, 0 };
	th_cmd_itn(&h, h.itn, 0, c, 6, NULL, 0, &r);
	assert_int_equal(r.in[5], 0);
	assert_int_equal(r.in[6], 0);
	c[2] = 0xB0;
	th_cmd_itn(&h, h.itn, 0, c, 6, NULL, 0, &r);
	assert_int_equal(get_be32(r.in + 20), 0);
	assert_int_equal(get_be32(r.in + 24), 0);
	th_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard),
		cmocka_unit_test(test_vpd_unmap_granularity_hint),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_vpd_supported_and_serial),
		cmocka_unit_test(test_vpd_device_id),
		cmocka_unit_test(test_naa_stability),
		cmocka_unit_test(test_vpd_block_pages),
		cmocka_unit_test(test_vpd_not_thin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
