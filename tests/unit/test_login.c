/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the login engine (target/iscsi/iscsi_login.c, iscsi_keys.c):
 * whole logins scripted request by request against a fake policy (discovery
 * and normal), the RFC 7143 combination rules and defaults, open-iscsi's key
 * set, the stage machine, continuation, hostile key lists and Text in full
 * feature phase. CHAP, the leading request and names: test_login_chap.c
 * (harness: login_harness.h). */
#include "login_harness.h"

static void test_kv_parse(void **state)
{
	struct iscsi_kv kv[4];
	char sc[64];
	const uint8_t ok[] = "A=1\0B=\0\0C=x=y"; /* no final NUL, padding NULs */
	assert_int_equal(iscsi_kv_parse(ok, sizeof(ok) - 1, sc, kv, 4), 3);
	assert_string_equal(kv[1].key, "B");
	assert_string_equal(kv[1].value, "");
	assert_string_equal(kv[2].value, "x=y");
	assert_int_equal(iscsi_kv_parse(ok, 0, sc, kv, 4), 0);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"A=1\0A=2", 7, sc, kv, 4), -EINVAL);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"=1", 2, sc, kv, 4), -EINVAL);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"A1", 2, sc, kv, 4), -EINVAL);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"A B=1", 5, sc, kv, 4), -EINVAL);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"a\0b\0c\0d\0e", 9, sc, kv, 4), -EINVAL);
	assert_int_equal(iscsi_kv_parse((const uint8_t *)"a=\0b=\0c=\0d=\0e=", 14, sc, kv, 4),
			 -E2BIG);
	char big[9000], sc2[9001];
	memset(big, 'k', 64);
	big[64] = '=';
	assert_int_equal(iscsi_kv_parse((uint8_t *)big, 65, sc2, kv, 4), -EINVAL); /* key 64 */
	assert_int_equal(iscsi_kv_parse((uint8_t *)big + 1, 64, sc2, kv, 4), 1);   /* key 63 */
	memcpy(big, "K=", 2);
	memset(big + 2, 'v', 8192);
	assert_int_equal(iscsi_kv_parse((uint8_t *)big, 8194, sc2, kv, 4), 1);
	big[8194] = 'v';
	assert_int_equal(iscsi_kv_parse((uint8_t *)big, 8195, sc2, kv, 4), -EINVAL);
}

static void test_numbers(void **state)
{
	uint64_t v;
	assert_int_equal(iscsi_parse_number("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(iscsi_parse_number("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(iscsi_parse_number("18446744073709551616", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number("0xFFFFFFFFFFFFFFFF", &v), 0);
	assert_int_equal(iscsi_parse_number("0x1FFFFFFFFFFFFFFFF", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number("0x", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number("", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number("12a", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number("-1", &v), -EINVAL);
	assert_int_equal(iscsi_parse_number(" 1", &v), -EINVAL);
}

/* ================================================================== */
/* whole logins                                                        */

/* open-iscsi discovery: AuthMethod=None, then its operational keys. */
static void test_discovery_none(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, true, LEAD_DISC "|AuthMethod=None");
	assert_int_equal(s.rsp.status, 0);
	assert_key(&s, "AuthMethod", "None");
	assert_null(rv(&s, "TargetPortalGroupTag"));
	assert_true(s.rsp.transit);
	op_full(l, &s,
		"HeaderDigest=None|DataDigest=None|DefaultTime2Wait=2|DefaultTime2Retain=0|"
		"IFMarker=No|OFMarker=No|ErrorRecoveryLevel=0|MaxRecvDataSegmentLength=32768");
	assert_key(&s, "HeaderDigest", "None");
	assert_key(&s, "DataDigest", "None");
	assert_key(&s, "DefaultTime2Wait", "2");
	assert_key(&s, "DefaultTime2Retain", "0");
	assert_key(&s, "IFMarker", "No");
	assert_key(&s, "OFMarker", "No");
	assert_key(&s, "ErrorRecoveryLevel", "0");
	assert_key(&s, "MaxRecvDataSegmentLength", "262144");
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_true(p->discovery);
	assert_string_equal(p->initiator_name, INI);
	assert_string_equal(p->target_name, "");
	assert_int_equal(p->max_recv_dsl_initiator, 32768);
	assert_int_equal(p->default_time2retain, 0);
	assert_false(p->authenticated);
	iscsi_login_free(l);
}

/* Session-only keys on a discovery session are Irrelevant (RFC 7143 13). */
static void test_discovery_irrelevant(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 1, 3, true, LEAD_DISC "|InitialR2T=No|MaxBurstLength=4096|MaxConnections=2");
	assert_int_equal(s.rsp.status, 0);
	assert_key(&s, "InitialR2T", "Irrelevant");
	assert_key(&s, "MaxBurstLength", "Irrelevant");
	assert_key(&s, "MaxConnections", "Irrelevant");
	assert_int_equal(iscsi_login_params(l)->max_burst, 262144);
	iscsi_login_free(l);
}

/* Linux open-iscsi's normal session key set. */
static void test_normal_open_iscsi(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, true, LEAD_NORMAL(T_PLAIN) "|InitiatorAlias=host1|AuthMethod=None");
	assert_int_equal(s.rsp.status, 0);
	assert_key(&s, "AuthMethod", "None");
	assert_key(&s, "TargetPortalGroupTag", "3");
	assert_key(&s, "TargetAlias", "disk one");
	assert_null(rv(&s, "MaxRecvDataSegmentLength")); /* declared in operational */
	op_full(l, &s,
		"HeaderDigest=None|DataDigest=None|MaxConnections=1|InitialR2T=No|"
		"ImmediateData=Yes|MaxRecvDataSegmentLength=262144|MaxBurstLength=16776192|"
		"FirstBurstLength=262144|DefaultTime2Wait=2|DefaultTime2Retain=0|"
		"MaxOutstandingR2T=1|DataPDUInOrder=Yes|DataSequenceInOrder=Yes|"
		"ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No");
	assert_null(rv(&s, "TargetPortalGroupTag")); /* first response only */
	assert_key(&s, "MaxConnections", "1");
	assert_key(&s, "InitialR2T", "No");
	assert_key(&s, "ImmediateData", "Yes");
	assert_key(&s, "MaxBurstLength", "16776192");
	assert_key(&s, "FirstBurstLength", "262144");
	assert_key(&s, "MaxOutstandingR2T", "1");
	assert_key(&s, "DataPDUInOrder", "Yes");
	assert_key(&s, "DataSequenceInOrder", "Yes");
	assert_key(&s, "MaxRecvDataSegmentLength", "262144");
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_false(p->discovery);
	assert_string_equal(p->target_name, T_PLAIN);
	assert_string_equal(p->initiator_alias, "host1");
	assert_false(p->initial_r2t);
	assert_true(p->immediate_data);
	assert_int_equal(p->max_burst, 16776192);
	assert_int_equal(p->first_burst, 262144);
	assert_int_equal(p->max_recv_dsl_initiator, 262144);
	assert_int_equal(p->max_recv_dsl_target, 262144);
	assert_int_equal(p->max_outstanding_r2t, 1);
	assert_int_equal(p->default_time2retain, 0);
	assert_false(p->header_digest);
	assert_false(p->data_digest);
	iscsi_login_free(l);
}

/* Nothing negotiated: RFC defaults; security -> full declares our MRDSL. */
static void test_defaults_security_to_full(void **state)
{
	struct iscsi_target_limits lim;
	iscsi_target_limits_default(&lim);
	lim.max_recv_dsl = 65536;
	struct iscsi_login *l = new_login(&lim);
	struct step s;
	step(l, &s, 0, 3, true, LEAD_NORMAL(T_PLAIN));
	assert_int_equal(s.rsp.status, 0);
	assert_true(s.rsp.transit);
	assert_int_equal(s.rsp.csg, 0);
	assert_int_equal(s.rsp.nsg, 3);
	assert_key(&s, "MaxRecvDataSegmentLength", "65536");
	assert_key(&s, "TargetPortalGroupTag", "3");
	assert_true(iscsi_login_complete(l));
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_true(p->initial_r2t);
	assert_true(p->immediate_data);
	assert_int_equal(p->first_burst, 65536);
	assert_int_equal(p->max_burst, 262144);
	assert_int_equal(p->max_outstanding_r2t, 1);
	assert_int_equal(p->max_recv_dsl_initiator, 8192);
	assert_int_equal(p->max_recv_dsl_target, 65536);
	assert_int_equal(p->error_recovery_level, 0);
	assert_true(p->data_pdu_in_order);
	assert_true(p->data_sequence_in_order);
	assert_int_equal(p->default_time2wait, 2);
	assert_int_equal(p->default_time2retain, 20);
	assert_int_equal(p->max_connections, 1);
	assert_false(p->authenticated);
	iscsi_login_free(l);
}

static void test_limits_default(void **state)
{
	struct iscsi_target_limits l;
	iscsi_target_limits_default(&l);
	assert_int_equal(l.max_recv_dsl, 262144);
	assert_int_equal(l.max_burst, 16776192);
	assert_int_equal(l.first_burst, 16776192);
	assert_int_equal(l.max_outstanding_r2t, 32);
	assert_true(l.allow_initial_r2t_no && l.allow_immediate_data);
	assert_true(l.allow_header_digest && l.allow_data_digest);
	assert_int_equal(l.chap_digests_mask, 0x1e0);
}

/* Combination rules (RFC 7143 6.2.2, 13). */
static void test_combination_rules(void **state)
{
	struct iscsi_target_limits lim;
	iscsi_target_limits_default(&lim);
	lim.allow_initial_r2t_no = false;
	lim.allow_immediate_data = false;
	lim.max_burst = 131072;
	lim.allow_header_digest = false;
	struct iscsi_login *l = new_login(&lim);
	struct step s;
	secure_none(l, T_PLAIN);
	op_full(l, &s,
		"InitialR2T=No|ImmediateData=Yes|MaxBurstLength=16776192|"
		"FirstBurstLength=262144|HeaderDigest=CRC32C,None|DataDigest=CRC32C,None|"
		"MaxOutstandingR2T=64|DefaultTime2Wait=0|DefaultTime2Retain=3600|"
		"ErrorRecoveryLevel=2|MaxConnections=4|iSCSIProtocolLevel=2|"
		"TaskReporting=RFC3720,FastAbort|OFMarkInt=2048|IFMarkInt=1~65535|"
		"X-com.example.foo=1|Frobnicate=Yes|SendTargets=All|TargetAddress=1.2.3.4");
	assert_key(&s, "InitialR2T", "Yes");          /* OR with our Yes */
	assert_key(&s, "ImmediateData", "No");        /* AND with our No */
	assert_key(&s, "MaxBurstLength", "131072");   /* min */
	assert_key(&s, "FirstBurstLength", "262144"); /* min vs our 16776192 ... */
	assert_key(&s, "HeaderDigest", "None");       /* CRC32C not allowed */
	assert_key(&s, "DataDigest", "CRC32C");
	assert_key(&s, "MaxOutstandingR2T", "32");
	assert_key(&s, "DefaultTime2Wait", "2");    /* max */
	assert_key(&s, "DefaultTime2Retain", "20"); /* min */
	assert_key(&s, "ErrorRecoveryLevel", "0");
	assert_key(&s, "MaxConnections", "1");
	assert_key(&s, "iSCSIProtocolLevel", "1");
	assert_key(&s, "TaskReporting", "RFC3720");
	assert_key(&s, "OFMarkInt", "Irrelevant");
	assert_key(&s, "IFMarkInt", "Irrelevant");
	assert_key(&s, "X-com.example.foo", "NotUnderstood");
	assert_key(&s, "Frobnicate", "NotUnderstood");
	assert_key(&s, "SendTargets", "Irrelevant");
	assert_key(&s, "TargetAddress", "Irrelevant");
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_true(p->initial_r2t);
	assert_false(p->immediate_data);
	assert_int_equal(p->max_burst, 131072);
	assert_int_equal(p->first_burst, 131072); /* ... then clamped to MBL */
	assert_false(p->header_digest);
	assert_true(p->data_digest);
	assert_int_equal(p->max_outstanding_r2t, 32);
	assert_int_equal(p->default_time2wait, 2);
	assert_int_equal(p->default_time2retain, 20);
	iscsi_login_free(l);
}

static void test_combination_rules2(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	secure_none(l, T_PLAIN);
	op_full(l, &s,
		"InitialR2T=No|ImmediateData=No|MaxBurstLength=0x10000|"
		"FirstBurstLength=262144|HeaderDigest=None,CRC32C|DataDigest=MD5|"
		"DefaultTime2Wait=10|TaskReporting=FastAbort|DataPDUInOrder=No|"
		"DataSequenceInOrder=No");
	assert_key(&s, "InitialR2T", "No");
	assert_key(&s, "ImmediateData", "No");
	assert_key(&s, "MaxBurstLength", "65536");
	assert_key(&s, "HeaderDigest", "None"); /* initiator's order */
	assert_key(&s, "DataDigest", "Reject");
	assert_key(&s, "DefaultTime2Wait", "10");
	assert_key(&s, "TaskReporting", "Reject");
	assert_key(&s, "DataPDUInOrder", "Yes");
	assert_key(&s, "DataSequenceInOrder", "Yes");
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_false(p->initial_r2t);
	assert_false(p->immediate_data);
	assert_int_equal(p->max_burst, 65536);
	assert_int_equal(p->first_burst, 65536); /* FBL 262144 clamped */
	assert_int_equal(p->default_time2wait, 10);
	assert_true(p->data_pdu_in_order);
	iscsi_login_free(l);
}

/* Out-of-range and malformed values are answered Reject; defaults stay. */
static void test_reject_values(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	secure_none(l, T_PLAIN);
	op_full(l, &s,
		"MaxBurstLength=100|"
		"FirstBurstLength=123abc|MaxOutstandingR2T=0x1FFFFFFFFFFFFFFFF|"
		"InitialR2T=yes|ImmediateData=|DefaultTime2Wait=3601|ErrorRecoveryLevel=3|"
		"MaxConnections=0|OFMarker=Maybe|DefaultTime2Retain=-1");
	assert_key(&s, "MaxBurstLength", "Reject");
	assert_key(&s, "MaxRecvDataSegmentLength", "262144"); /* ours, once */
	assert_key(&s, "FirstBurstLength", "Reject");
	assert_key(&s, "MaxOutstandingR2T", "Reject");
	assert_key(&s, "InitialR2T", "Reject");
	assert_key(&s, "ImmediateData", "Reject");
	assert_key(&s, "DefaultTime2Wait", "Reject");
	assert_key(&s, "ErrorRecoveryLevel", "Reject");
	assert_key(&s, "MaxConnections", "Reject");
	assert_key(&s, "OFMarker", "Reject");
	assert_key(&s, "DefaultTime2Retain", "Reject");
	const struct iscsi_session_params *p = iscsi_login_params(l);
	assert_int_equal(p->max_burst, 262144);
	assert_int_equal(p->first_burst, 65536);
	assert_int_equal(p->max_recv_dsl_initiator, 8192);
	assert_int_equal(p->max_outstanding_r2t, 1);
	assert_true(p->initial_r2t);
	iscsi_login_free(l);
}

/* The initiator's MaxRecvDataSegmentLength: above 2^24-1 clamped, below 512
 * or malformed fails the login (a declaration cannot be answered Reject). */
static void test_mrdsl_declaration(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	secure_none(l, T_PLAIN);
	op_full(l, &s, "MaxRecvDataSegmentLength=16777216");
	assert_int_equal(iscsi_login_params(l)->max_recv_dsl_initiator, 16777215);
	iscsi_login_free(l);
	const char *bad[] = { "511", "0", "12k", "", "0x", "99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char keys[64];
		l = new_login(NULL);
		secure_none(l, T_PLAIN);
		snprintf(keys, sizeof(keys), "MaxRecvDataSegmentLength=%s", bad[i]);
		step(l, &s, 1, 3, true, keys);
		assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
		assert_false(iscsi_login_complete(l));
		iscsi_login_free(l);
	}
}

/* Operational keys in the security stage are negotiated (leniency). */
static void test_operational_in_security(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN) "|AuthMethod=None|MaxBurstLength=65536");
	assert_int_equal(s.rsp.status, 0);
	assert_false(s.rsp.transit);
	assert_int_equal(s.rsp.nsg, 0);
	assert_key(&s, "MaxBurstLength", "65536");
	step(l, &s, 0, 1, true, "");
	assert_int_equal(s.rsp.status, 0);
	assert_true(s.rsp.transit);
	step(l, &s, 1, 3, false, "");
	assert_key(&s, "MaxRecvDataSegmentLength", "262144");
	assert_false(s.rsp.transit);
	step(l, &s, 1, 3, true, "MaxBurstLength=4096"); /* negotiated twice */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
}

/* ---- stage machine (RFC 7143 6.3) ---- */

static void expect_stage_err(int csg1, int nsg1, bool t1, int csg2, int nsg2, bool t2)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, csg1, nsg1, t1, LEAD_NORMAL(T_PLAIN) "|AuthMethod=None");
	if (csg2 < 0) {
		assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	} else {
		assert_int_equal(s.rsp.status, 0);
		step(l, &s, csg2, nsg2, t2, "");
		assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	}
	iscsi_login_free(l);
}

static void test_stage_violations(void **state)
{
	expect_stage_err(0, 0, true, -1, 0, false);  /* NSG == CSG */
	expect_stage_err(0, 2, true, -1, 0, false);  /* reserved stage */
	expect_stage_err(3, 3, false, -1, 0, false); /* CSG full */
	expect_stage_err(2, 3, true, -1, 0, false);
	expect_stage_err(1, 0, true, -1, 0, false); /* backwards */
	expect_stage_err(0, 1, true, 0, 1, true);   /* back to security */
	expect_stage_err(0, 1, true, 1, 1, true);   /* op -> op */
	expect_stage_err(0, 1, false, 1, 3, true);  /* CSG jumps without transit */
	expect_stage_err(0, 3, true, 1, 3, true);   /* after completion */
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	secure_none(l, T_PLAIN);
	step(l, &s, 1, 3, false, "AuthMethod=None"); /* security key in operational */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
	l = new_login(NULL);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN) "|AuthMethod=None");
	step(l, &s, 0, 1, false, "AuthMethod=None"); /* repeated */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
}

/* ---- continuation (RFC 7143 11.12.2) and hostile lists ---- */

static void test_continuation(void **state)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	uint8_t all[256];
	size_t n = mkdata(LEAD_NORMAL(T_PLAIN) "|AuthMethod=None|MaxBurstLength=65536", all) - 1;
	/* n excludes the final NUL: the last part ends without one */
	raw_step(l, &s, 0, 1, false, true, all, 10); /* mid-key */
	assert_int_equal(s.rsp.status, 0);
	assert_int_equal(s.rsp.len, 0);
	assert_false(s.rsp.transit);
	raw_step(l, &s, 0, 1, false, true, all + 10, 0);
	assert_int_equal(s.rsp.len, 0);
	raw_step(l, &s, 0, 1, false, true, all + 10, 40);
	raw_step(l, &s, 0, 1, true, false, all + 50, n - 50);
	assert_int_equal(s.rsp.status, 0);
	assert_true(s.rsp.transit);
	assert_key(&s, "AuthMethod", "None");
	assert_key(&s, "MaxBurstLength", "65536");
	assert_key(&s, "TargetPortalGroupTag", "3");
	op_full(l, &s, "");
	assert_int_equal(iscsi_login_params(l)->max_burst, 65536);
	iscsi_login_free(l);
}

static void test_continuation_hostile(void **state)
{
	static uint8_t big[40000];
	struct step s;
	memset(big, 'a', sizeof(big));
	struct iscsi_login *l = new_login(NULL);
	raw_step(l, &s, 0, 1, false, true, big, sizeof(big));
	assert_int_equal(s.rsp.status, 0);
	raw_step(l, &s, 0, 1, false, true, big, sizeof(big)); /* 80000 > 64 KiB */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
	l = new_login(NULL);
	raw_step(l, &s, 0, 1, true, true, big, 10); /* C and T */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
	l = new_login(NULL);
	raw_step(l, &s, 0, 1, false, true, big, 10);
	raw_step(l, &s, 1, 3, true, false, big, 10); /* CSG changes mid-request */
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
	l = new_login(NULL);
	static uint8_t huge[ISCSI_LOGIN_MAX_DATA + 1];
	raw_step(l, &s, 0, 1, false, false, huge, sizeof(huge));
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
}

static void expect_bad_list(const char *keys)
{
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN));
	assert_int_equal(s.rsp.status, 0);
	step(l, &s, 0, 1, false, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_INIT_ERR);
	iscsi_login_free(l);
}

static void test_hostile_lists(void **state)
{
	static char keys[10000];
	expect_bad_list("MaxBurstLength=512|MaxBurstLength=512");
	expect_bad_list("=Yes");
	expect_bad_list("InitialR2T");
	expect_bad_list("Initial R2T=Yes");
	strcpy(keys, "X-big=");
	memset(keys + 6, 'v', 8193);
	keys[6 + 8193] = '\0';
	expect_bad_list(keys);
	/* too many keys */
	keys[0] = '\0';
	for (int i = 0; i < 300; i++)
		sprintf(keys + strlen(keys), "%sX-%d=1", i ? "|" : "", i);
	expect_bad_list(keys);
	/* many unknown keys whose answers do not fit the response buffer */
	struct iscsi_login *l = new_login(NULL);
	struct step s;
	keys[0] = '\0';
	for (int i = 0; i < 200 && strlen(keys) < 9000; i++)
		sprintf(keys + strlen(keys), "%sX-%040d=1", i ? "|" : "", i);
	step(l, &s, 0, 1, false, LEAD_NORMAL(T_PLAIN));
	step(l, &s, 0, 1, false, keys);
	assert_int_equal(s.rsp.status, ISCSI_LS_OUT_OF_RESOURCES);
	iscsi_login_free(l);
}

/* ---- Text in full feature phase ---- */

static size_t text(const struct iscsi_session_params *sp, const char *keys, struct step *s)
{
	static uint8_t data[9000];
	size_t n = mkdata(keys, data);
	memset(s, 0, sizeof(*s));
	size_t r = iscsi_text_respond(&policy, sp, data, n, s->buf, sizeof(s->buf));
	s->n = iscsi_kv_parse(s->buf, r, s->scratch, s->kv, 128);
	return r;
}

static void test_text(void **state)
{
	struct iscsi_session_params sp = { .discovery = true };
	struct step s;
	strcpy(sp.initiator_name, INI);
	memset(&fk, 0, sizeof(fk));
	assert_true(text(&sp, "SendTargets=All", &s) > 0);
	assert_key(&s, "TargetName", "iqn.x");
	assert_key(&s, "TargetAddress", "10.0.0.1:3260,1");
	assert_true(fk.st_all);
	assert_int_equal(text(&sp, "SendTargets=", &s), strlen("SendTargets=Reject") + 1);
	text(&sp, "SendTargets=" T_PLAIN, &s);
	assert_false(fk.st_all);
	assert_string_equal(fk.st_which, T_PLAIN);
	sp.discovery = false;
	strcpy(sp.target_name, T_CHAP);
	text(&sp, "SendTargets=All", &s);
	assert_false(fk.st_all);
	assert_string_equal(fk.st_which, T_CHAP);
	fk.st_which[0] = '\0';
	text(&sp, "SendTargets=", &s);
	assert_string_equal(fk.st_which, T_CHAP);
	assert_int_equal(fk.st_calls, 4);
	text(&sp, "MaxRecvDataSegmentLength=65536|X-foo=1|InitiatorAlias=h|InitialR2T=No", &s);
	assert_int_equal(s.n, 3);
	assert_key(&s, "MaxRecvDataSegmentLength", "Reject");
	assert_key(&s, "X-foo", "NotUnderstood");
	assert_key(&s, "InitialR2T", "Reject");
	assert_int_equal(text(&sp, "A=1|A=2", &s), 0);
	assert_int_equal(text(&sp, "junk", &s), 0);
	assert_int_equal(text(&sp, "", &s), 0);
	/* small buffer: whole pairs only */
	uint8_t small[20];
	const uint8_t req[] = "X-aaaaaaa=1\0X-bbbbbbb=1";
	assert_int_equal(iscsi_text_respond(&policy, &sp, req, sizeof(req), small, sizeof(small)),
			 0);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_parse),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_limits_default),
		cmocka_unit_test(test_discovery_none),
		cmocka_unit_test(test_discovery_irrelevant),
		cmocka_unit_test(test_normal_open_iscsi),
		cmocka_unit_test(test_defaults_security_to_full),
		cmocka_unit_test(test_combination_rules),
		cmocka_unit_test(test_combination_rules2),
		cmocka_unit_test(test_reject_values),
		cmocka_unit_test(test_mrdsl_declaration),
		cmocka_unit_test(test_operational_in_security),
		cmocka_unit_test(test_stage_violations),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_continuation_hostile),
		cmocka_unit_test(test_hostile_lists),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
