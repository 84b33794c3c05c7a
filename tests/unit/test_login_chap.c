/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for CHAP in the login engine (target/iscsi/chap.c): one-way and
 * mutual CHAP with every digest and both value encodings, failures and
 * reflection, discovery CHAP; the leading request; InitiatorName and
 * TargetName checks (RFC 3720/7143), case folding and log escaping. */
#include "login_harness.h"

/* ---- CHAP ---- */

static void test_chap_all_digests(void **state)
{
	const enum chap_digest ds[] = { CHAP_MD5, CHAP_SHA1, CHAP_SHA256, CHAP_SHA3_256 };
	for (int i = 0; i < 4; i++) {
		for (int mode = 0; mode < 4; mode++) {
			bool b64 = mode & 1, mutual = mode & 2;
			struct iscsi_login *l = new_login(NULL);
			struct step s;
			chap_login(l, LEAD_NORMAL(T_CHAP), ds[i], b64, mutual);
			op_full(l, &s, "MaxRecvDataSegmentLength=65536");
			assert_true(iscsi_login_params(l)->authenticated);
			iscsi_login_free(l);
		}
	}
}

static void test_chap_discovery(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	fk.disc_chap = true;
	chap_login(l, LEAD_DISC, CHAP_SHA256, false, true);
	op_full(l, &s, "");
	assert_true(iscsi_login_params(l)->discovery);
	iscsi_login_free(l);
	l = new_login(NULL);
	fk.disc_chap = true;
	step(l, &s, 0, 1, true, LEAD_DISC "|AuthMethod=None");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
}

/* Drive a CHAP login up to the challenge; returns the challenge and id. */
static struct iscsi_login *chap_to_challenge(const char *target, const char *alg, struct step *s)
{
	struct iscsi_login *l = new_login(NULL);
	char keys[256];
	snprintf(keys, sizeof(keys), "InitiatorName=%s|TargetName=%s|AuthMethod=CHAP", INI, target);
	step(l, s, 0, 1, true, keys);
	assert_int_equal(s->rsp.status, 0);
	snprintf(keys, sizeof(keys), "CHAP_A=%s", alg);
	step(l, s, 0, 1, true, keys);
	return l;
}

static void test_chap_failures(void **state)
{
	struct step s;
	char keys[512], r[160];
	struct iscsi_login *l = chap_to_challenge(T_CHAP, "7", &s);
	/* wrong secret */
	ref_response(CHAP_SHA256, (unsigned)atoi(rv(&s, "CHAP_I")), rv(&s, "CHAP_C"), "wrong",
		     false, r);
	snprintf(keys, sizeof(keys), "CHAP_N=alice|CHAP_R=%s", r);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	assert_int_equal(s.rsp.len, 0);
	step(l, &s, 0, 1, true, ""); /* stays failed */
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	/* unknown user with the right secret */
	l = chap_to_challenge(T_CHAP, "5", &s);
	ref_response(CHAP_MD5, (unsigned)atoi(rv(&s, "CHAP_I")), rv(&s, "CHAP_C"),
		     "alice-secret-123", false, r);
	snprintf(keys, sizeof(keys), "CHAP_N=mallory|CHAP_R=%s", r);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	/* mutual challenge identical to ours (reflection) */
	l = chap_to_challenge(T_CHAP, "6", &s);
	char chal[160];
	snprintf(chal, sizeof(chal), "%s", rv(&s, "CHAP_C"));
	ref_response(CHAP_SHA1, (unsigned)atoi(rv(&s, "CHAP_I")), chal, "alice-secret-123", false,
		     r);
	snprintf(keys, sizeof(keys), "CHAP_N=alice|CHAP_R=%s|CHAP_I=%s|CHAP_C=%s", r,
		 rv(&s, "CHAP_I"), chal);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	assert_int_equal(s.rsp.len, 0);
	iscsi_login_free(l);
	/* mutual against a target without an outgoing account */
	l = chap_to_challenge(T_ONEWAY, "7", &s);
	ref_response(CHAP_SHA256, (unsigned)atoi(rv(&s, "CHAP_I")), rv(&s, "CHAP_C"),
		     "alice-secret-123", false, r);
	snprintf(keys, sizeof(keys), "CHAP_N=alice|CHAP_R=%s|CHAP_I=1|CHAP_C=0x1234", r);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	/* no CHAP_R at all */
	l = chap_to_challenge(T_CHAP, "7", &s);
	step(l, &s, 0, 1, true, "CHAP_N=alice");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
}

static void test_chap_algorithms(void **state)
{
	struct step s;
	struct iscsi_login *l = chap_to_challenge(T_CHAP, "99,4", &s);
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	l = chap_to_challenge(T_CHAP, "5,7", &s);
	assert_key(&s, "CHAP_A", "5");
	iscsi_login_free(l);
	struct iscsi_target_limits lim;
	iscsi_target_limits_default(&lim);
	lim.chap_digests_mask = 1u << CHAP_SHA3_256 | 1u << CHAP_SHA256;
	l = iscsi_login_new(&policy, &lim);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_CHAP) "|AuthMethod=CHAP");
	step(l, &s, 0, 1, false, "CHAP_A=5,6,8,7");
	assert_key(&s, "CHAP_A", "8");
	iscsi_login_free(l);
	l = iscsi_login_new(&policy, &lim);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_CHAP) "|AuthMethod=CHAP");
	step(l, &s, 0, 1, false, "CHAP_A=5");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
}

/* Attempts to get past the security stage without CHAP. */
static void test_chap_skips(void **state)
{
	struct step s;
	struct iscsi_login *l = new_login(NULL);
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_CHAP) "|AuthMethod=None");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 1, 3, true, LEAD_NORMAL(T_CHAP)); /* start in operational */
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 3, true, LEAD_NORMAL(T_CHAP)); /* T=1, no AuthMethod */
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_CHAP) "|AuthMethod=CHAP");
	assert_false(s.rsp.transit);
	step(l, &s, 0, 1, true, ""); /* CHAP_A due */
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_CHAP) "|AuthMethod=CHAP|CHAP_N=alice");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	/* CHAP keys on a target without accounts */
	l = new_login(NULL);
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_PLAIN) "|AuthMethod=None|CHAP_A=5");
	assert_int_equal(s.rsp.status, ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(l);
	/* a target without accounts answers None, or Reject if None is not offered */
	l = new_login(NULL);
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_PLAIN) "|AuthMethod=CHAP,None");
	assert_key(&s, "AuthMethod", "None");
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN) "|AuthMethod=CHAP");
	assert_key(&s, "AuthMethod", "Reject");
	iscsi_login_free(l);
}

/* ---- leading request ---- */

static void expect_first(const char *keys, int csg, uint16_t status)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, csg, csg == 0 ? 1 : 3, true, keys);
	assert_int_equal(s.rsp.status, status);
	if (status)
		assert_int_equal(s.rsp.len, 0);
	iscsi_login_free(l);
}

static void test_leading_request(void **state)
{
	expect_first("SessionType=Normal|TargetName=" T_PLAIN, 0, ISCSI_LS_MISSING_PARAM);
	expect_first("InitiatorName=|TargetName=" T_PLAIN, 0, ISCSI_LS_MISSING_PARAM);
	expect_first("InitiatorName=" INI, 0, ISCSI_LS_MISSING_PARAM);
	expect_first("InitiatorName=" INI "|SessionType=Normal", 1, ISCSI_LS_MISSING_PARAM);
	expect_first("InitiatorName=" INI "|TargetName=iqn.2024-01.io.kura:nope", 0,
		     ISCSI_LS_NOT_FOUND);
	expect_first("InitiatorName=" INI "|TargetName=" T_ACL, 0, ISCSI_LS_NOT_FOUND);
	expect_first("InitiatorName=iqn.2024-01.io.ok:host|TargetName=" T_ACL, 0, 0);
	expect_first("InitiatorName=" INI "|TargetName=" T_BROKEN, 0, ISCSI_LS_TARGET_ERROR);
	expect_first("InitiatorName=" INI "|SessionType=Bogus|TargetName=" T_PLAIN, 0,
		     ISCSI_LS_SESSION_TYPE_UNSUP);
	expect_first(LEAD_DISC, 1, 0);
	expect_first(LEAD_DISC "|TargetName=" T_PLAIN, 0, 0);
	char keys[400];
	memset(keys, 0, sizeof(keys));
	strcpy(keys, "InitiatorName=");
	memset(keys + 14, 'n', 224);
	strcat(keys, "|TargetName=" T_PLAIN);
	expect_first(keys, 0, ISCSI_LS_MISSING_PARAM);
	memset(keys, 0, sizeof(keys));
	strcpy(keys, "InitiatorName=" INI "|TargetName=");
	memset(keys + strlen(keys), 't', 224);
	expect_first(keys, 0, ISCSI_LS_MISSING_PARAM);
}

/* Names checked as RFC 3720 / 7143 / 3722 say (issue 11 item 4): a bad
 * InitiatorName or TargetName is refused with 02/07 before any lookup; upper
 * case is folded (stringprep's mapping) and the folded name is kept. */
static void test_name_checks(void **state)
{
	static const char *const bad[] = {
		"iqn.x:y",
		"iqn.2001-04.com.ex ample",
		"iqn.2001-04.com.ex_ample",
		"iqn.2001-13.com.example",
		"iqn.2001-04.com.example:\x1b[31mred",
		"iqn.2001-04.com.example:a\nb",
		"eui.0123",
		"naa.0123456789ABCDEG",
		"host1",
		"iqn.2001-04.com.example:\xc3\xa9",
	};
	char keys[400];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(keys, sizeof(keys), "InitiatorName=%s|TargetName=" T_PLAIN, bad[i]);
		expect_first(keys, 0, ISCSI_LS_MISSING_PARAM);
		snprintf(keys, sizeof(keys), "InitiatorName=" INI "|TargetName=%s", bad[i]);
		expect_first(keys, 0, ISCSI_LS_MISSING_PARAM);
	}
	expect_first("InitiatorName=eui.02004567A425678D|TargetName=" T_PLAIN, 0, 0);
	expect_first("InitiatorName=naa.52004567BA64678D|TargetName=" T_PLAIN, 0, 0);
	expect_first("InitiatorName=IQN.2024-01.IO.OK:HOST|TargetName=" T_ACL, 0, 0);
	expect_first("InitiatorName=" INI "|TargetName=IQN.2024-01.io.kura:Plain", 0, 0);
	/* the folded name is what the session keeps */
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, false, "InitiatorName=iqn.1994-05.COM.redhat:Host1|TargetName=" T_PLAIN);
	assert_int_equal(s.rsp.status, 0);
	assert_string_equal(l->sp.initiator_name, INI);
	assert_string_equal(l->sp.target_name, T_PLAIN);
	iscsi_login_free(l);
}

static void test_name_fold(void **state)
{
	char out[ISCSI_NAME_MAX + 1], big[300];
	assert_null(iscsi_name_fold("IQN.2001-04.Com.Example:Disk-1", out));
	assert_string_equal(out, "iqn.2001-04.com.example:disk-1");
	assert_string_equal(iscsi_name_fold("iqn.2001-04.com.ex_ample", out),
			    "iqn names use only a-z 0-9 - . :");
	/* strict form for the configuration: upper case is refused there */
	assert_string_equal(iscsi_name_error("iqn.2001-04.com.Example"),
			    "iSCSI names are lower case (RFC 3722)");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "iqn.2001-04.x:", 14);
	assert_string_equal(iscsi_name_fold(big, out), "iSCSI names are at most 223 bytes");
	assert_int_equal(strlen(out), ISCSI_NAME_MAX);
}

/* Strings from the wire are printed escaped (common/log.h). */
static void test_log_escape(void **state)
{
	char out[32];
	assert_string_equal(klog_escape("iqn.a:b", out, sizeof(out)), "iqn.a:b");
	assert_string_equal(klog_escape("a\x1b[2Jb\nc\\", out, sizeof(out)),
			    "a\\x1b[2Jb\\x0ac\\\\");
	assert_string_equal(klog_escape("\xff\xfe", out, sizeof(out)), "\\xff\\xfe");
	memset(out, 0, sizeof(out));
	assert_string_equal(klog_escape("0123456789abcdefghij", out, 12), "01234567...");
	assert_string_equal(klog_escape("\n\n\n\n", out, 12), "\\x0a\\x0a...");
}

/* Identity keys may be repeated only with the same value. */
static void test_identity_repeat(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN) "|AuthMethod=None");
	step(l, &s, 0, 1, false, "InitiatorName=" INI "|TargetName=" T_PLAIN "|SessionType=Normal");
	assert_int_equal(s.rsp.status, 0);
	step(l, &s, 0, 1, false, "TargetName=" T_CHAP);
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN));
	step(l, &s, 0, 1, false, "SessionType=Discovery");
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chap_all_digests), cmocka_unit_test(test_chap_discovery),
		cmocka_unit_test(test_chap_failures),    cmocka_unit_test(test_chap_algorithms),
		cmocka_unit_test(test_chap_skips),       cmocka_unit_test(test_leading_request),
		cmocka_unit_test(test_identity_repeat),  cmocka_unit_test(test_name_checks),
		cmocka_unit_test(test_name_fold),        cmocka_unit_test(test_log_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
