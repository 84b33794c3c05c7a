/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kura-mpathpersist's pure parts: PR IN data printed in
 * mpathpersist's layout (READ KEYS, READ RESERVATION, READ FULL STATUS,
 * REPORT CAPABILITIES) including lengths that claim more than was received
 * and hostile transport IDs, and the SCSI status / sense to MPATH_PR_* exit
 * code translation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "initiator/mpathpersist_print.c"
#include "initiator/mpathpersist_lu.c"

/* Printers write into out; got() closes it and returns the text. */
static FILE *out;
static char *buf;
static size_t blen;

static void start(void)
{
	out = open_memstream(&buf, &blen);
}

static char *got(void)
{
	fclose(out);
	return buf;
}

#define PRINTED(call) (start(), (call), got())

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

static void test_read_keys(void **s)
{
	uint8_t d[24] = { 0 };
	be32(d, 5);
	be32(d + 4, 16);
	be64(d + 8, 0x123abc);
	be64(d + 16, 0xb0b);
	char *t = PRINTED(mpp_print_keys(out, d, sizeof(d)));
	assert_string_equal(t,
			    "  PR generation=0x5, \t2 registered reservation keys follow:\n"
			    "    0x123abc\n    0xb0b\n");
	free(t);
	be32(d + 4, 8);
	t = PRINTED(mpp_print_keys(out, d, sizeof(d)));
	assert_string_equal(t,
			    "  PR generation=0x5, \t1 registered reservation key follows:\n"
			    "    0x123abc\n");
	free(t);
	be32(d + 4, 0);
	t = PRINTED(mpp_print_keys(out, d, sizeof(d)));
	assert_string_equal(t, "  PR generation=0x5, \t0 registered reservation key.\n");
	free(t);
	be32(d + 4, 4096); /* claims more than was received: only what is there */
	t = PRINTED(mpp_print_keys(out, d, sizeof(d)));
	assert_non_null(strstr(t, "\t2 registered reservation keys follow:"));
	free(t);
	t = PRINTED(mpp_print_keys(out, d, 3)); /* not even a header */
	assert_string_equal(t, "  PR generation=0x0, \t0 registered reservation key.\n");
	free(t);
}

static void test_read_reservation(void **s)
{
	uint8_t d[24] = { 0 };
	be32(d, 0x1f);
	char *t = PRINTED(mpp_print_resv(out, d, 8));
	assert_string_equal(t, "  PR generation=0x1f, there is NO reservation held \n");
	free(t);
	be32(d + 4, 16);
	be64(d + 8, 0xabc);
	d[21] = 0x05;
	t = PRINTED(mpp_print_resv(out, d, sizeof(d)));
	assert_string_equal(t,
			    "  PR generation=0x1f, Reservation follows:\n"
			    "   Key = 0xabc\n"
			    "  scope = LU_SCOPE, type = Write Exclusive, registrants only\n");
	free(t);
	t = PRINTED(mpp_print_resv(out, d, 20)); /* cut short: no reservation shown */
	assert_non_null(strstr(t, "NO reservation held"));
	free(t);
}

/* One full-status descriptor with an iSCSI TransportID of format 1. */
static size_t full_desc(uint8_t *p, uint64_t key, int holder, int type, const char *port_id)
{
	size_t nl = strlen(port_id) + 1, tl = (nl + 4 + 3) / 4 * 4;
	memset(p, 0, 24 + tl);
	be64(p, key);
	p[12] = holder ? 1 : 0;
	p[13] = (uint8_t)type;
	p[19] = 2; /* relative target port 2 */
	be32(p + 20, (uint32_t)tl);
	p[24] = 0x45; /* format 01b, iSCSI */
	p[26] = (uint8_t)((tl - 4) >> 8);
	p[27] = (uint8_t)(tl - 4);
	memcpy(p + 28, port_id, nl);
	return 24 + tl;
}

static void test_full_status(void **s)
{
	uint8_t d[512] = { 0 };
	size_t n = 8;
	be32(d, 7);
	n += full_desc(d + n, 0xa11, 1, 5, "iqn.x:a,i,0x230000000001");
	n += full_desc(d + n, 0xb0b, 0, 0, "iqn.x:b,i,0x230000000002");
	be32(d + 4, (uint32_t)(n - 8));
	char *t = PRINTED(mpp_print_full(out, d, n));
	assert_string_equal(t,
			    "  PR generation=0x7 \n"
			    "   Key = 0xa11\n"
			    "      All target ports bit clear\n"
			    "      Relative port address: 0x2\n"
			    "      << Reservation holder >>\n"
			    "      scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
			    "   iSCSI world wide unique port id: iqn.x:a,i,0x230000000001\n"
			    "   Key = 0xb0b\n"
			    "      All target ports bit clear\n"
			    "      Relative port address: 0x2\n"
			    "      not reservation holder\n"
			    "   iSCSI world wide unique port id: iqn.x:b,i,0x230000000002\n");
	free(t);
	/* hostile: a TransportID length far past the data, a name without NUL */
	be32(d + 8 + 20, 0x7fffffff);
	memset(d + 8 + 28, 'A', sizeof(d) - 36);
	be32(d + 4, 0xffffff00);
	t = PRINTED(mpp_print_full(out, d, sizeof(d)));
	assert_non_null(strstr(t, "   Key = 0xa11\n"));
	assert_null(strstr(t, "0xb0b")); /* the first descriptor swallowed the rest */
	free(t);
}

static void test_capabilities(void **s)
{
	uint8_t d[8] = { 0, 8, 0x1d, 0x81, 0xea, 0x01, 0, 0 };
	char *t = PRINTED(mpp_print_caps(out, stderr, d, sizeof(d)));
	assert_non_null(strstr(t, "  Specify Initiator Ports Capable(SIP_C): 1\n"));
	assert_non_null(strstr(t, "  Persist Through Power Loss Active(PTPL_A): 1\n"));
	assert_non_null(strstr(t, "      Write Exclusive, all registrants: 1\n"));
	assert_non_null(strstr(t, "      Exclusive Access, all registrants: 1\n"));
	assert_non_null(strstr(t, "      Write Exclusive: 1\n"));
	free(t);
}

static void test_exit_codes(void **s)
{
	struct mpp_res r = { .status = 0 };
	assert_int_equal(mpp_code(&r), MPATH_PR_SUCCESS);
	r.status = 0x18;
	assert_int_equal(mpp_code(&r), MPATH_PR_RESERV_CONFLICT);
	r.status = 2;
	r.key = 5;
	r.asc = 0x20;
	assert_int_equal(mpp_code(&r),
			 MPATH_PR_ILLEGAL_REQ); /* libmpathpersist: 5 whatever the ASC */
	r.key = 6;
	assert_int_equal(mpp_code(&r), MPATH_PR_SENSE_UNIT_ATTENTION);
	r.key = 2;
	assert_int_equal(mpp_code(&r), MPATH_PR_SENSE_NOT_READY);
	r.key = 0xb;
	assert_int_equal(mpp_code(&r), MPATH_PR_SENSE_ABORTED_COMMAND);
	r.key = 7; /* DATA PROTECT */
	assert_int_equal(mpp_code(&r), MPATH_PR_OTHER);
	r.status = -1; /* transport */
	assert_int_equal(mpp_code(&r), MPATH_PR_OTHER);
	r.status = 8; /* BUSY */
	assert_int_equal(mpp_code(&r), MPATH_PR_OTHER);
}

static void test_names(void **s)
{
	assert_true(name_is("naa.6abc", "naa.6abc", "t-lun0"));
	assert_true(name_is("6ABC", "naa.6abc", "t-lun0"));
	assert_true(name_is("36abc", "naa.6abc", "t-lun0"));
	assert_true(name_is("t-lun0", "naa.6abc", "t-lun0"));
	assert_false(name_is("naa.6ab", "naa.6abc", "t-lun0"));
	assert_false(name_is("t-lun", "naa.6abc", "t-lun0"));
	assert_true(list_has("naa.1,naa.2", "naa.2"));
	assert_false(list_has("naa.12,naa.3", "naa.1"));
	assert_string_equal(strip_url("nbd+unix:///?socket=/run/x.sock"), "/run/x.sock");
	assert_string_equal(strip_url("/dev/x"), "/dev/x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_keys),   cmocka_unit_test(test_read_reservation),
		cmocka_unit_test(test_full_status), cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_exit_codes),  cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
