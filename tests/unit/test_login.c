/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the login engine (target/iscsi/iscsi_login.c, iscsi_keys.c,
 * chap.c): whole logins scripted request by request against a fake policy
 * (discovery, normal, CHAP and mutual CHAP with every digest and both value
 * encodings), the RFC 7143 combination rules and defaults, open-iscsi's key
 * set, the stage machine, continuation, and hostile input.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include "target/iscsi/iscsi_keys.c"
#include "target/iscsi/chap.c"
#include "target/iscsi/iscsi_login.c"
#include "target/iscsi/iscsi_name.c"

#define T_PLAIN  "iqn.2024-01.io.kura:plain"
#define T_CHAP   "iqn.2024-01.io.kura:chap"
#define T_ONEWAY "iqn.2024-01.io.kura:oneway"
#define T_ACL    "iqn.2024-01.io.kura:acl"
#define T_BROKEN "iqn.2024-01.io.kura:broken"
#define INI      "iqn.1994-05.com.redhat:host1"

/* ---- fake policy ---- */

static const struct chap_account acc_in[1] = { { "alice", "alice-secret-123", 16 } };
static const struct chap_account acc_out = { "target", "target-secret-456", 17 };

struct fake {
	bool disc_chap;
	int st_calls;
	char st_which[256];
	bool st_all;
};

static int fake_lookup(void *ctx, const char *tn, const char *in, struct iscsi_target_info *out)
{
	memset(out, 0, sizeof(*out));
	out->iqn = tn;
	out->tpgt = 3;
	if (strcmp(tn, T_PLAIN) == 0) {
		out->alias = "disk one";
		return 0;
	}
	if (strcmp(tn, T_CHAP) == 0 || strcmp(tn, T_ONEWAY) == 0) {
		out->chap_in = acc_in;
		out->n_chap_in = 1;
		out->chap_out = strcmp(tn, T_CHAP) == 0 ? &acc_out : NULL;
		return 0;
	}
	if (strcmp(tn, T_ACL) == 0)
		return strcmp(in, "iqn.2024-01.io.ok:host") == 0 ? 0 : -EACCES;
	if (strcmp(tn, T_BROKEN) == 0)
		return -EIO;
	return -ENOENT;
}

static void fake_disc_auth(void *ctx, struct iscsi_target_info *out)
{
	struct fake *f = ctx;
	memset(out, 0, sizeof(*out));
	if (f->disc_chap) {
		out->chap_in = acc_in;
		out->n_chap_in = 1;
		out->chap_out = &acc_out;
	}
}

static size_t fake_send_targets(void *ctx, const char *in, const char *which, bool all, char *buf,
				size_t len)
{
	struct fake *f = ctx;
	static const char rec[] = "TargetName=iqn.x\0TargetAddress=10.0.0.1:3260,1";
	f->st_calls++;
	snprintf(f->st_which, sizeof(f->st_which), "%s", which);
	f->st_all = all;
	if (len < sizeof(rec))
		return 0;
	memcpy(buf, rec, sizeof(rec));
	return sizeof(rec);
}

static struct fake fk;
static const struct iscsi_login_policy policy = {
	.ctx = &fk,
	.lookup_target = fake_lookup,
	.discovery_auth = fake_disc_auth,
	.send_targets = fake_send_targets,
};

/* ---- scripting helpers ---- */

struct step {
	struct iscsi_login_rsp rsp;
	uint8_t buf[8192];
	char scratch[8193];
	struct iscsi_kv kv[128];
	int n;
};

/* keys: "k=v|k=v" ('|' becomes NUL; a final NUL is added). */
static size_t mkdata(const char *keys, uint8_t *out)
{
	size_t n = strlen(keys);
	for (size_t i = 0; i < n; i++)
		out[i] = keys[i] == '|' ? 0 : (uint8_t)keys[i];
	out[n] = 0;
	return n ? n + 1 : 0;
}

static void raw_step(struct iscsi_login *l, struct step *s, int csg, int nsg, bool t, bool c,
		     const uint8_t *data, size_t len)
{
	struct iscsi_login_req req = { .csg = (uint8_t)csg,
				       .nsg = (uint8_t)nsg,
				       .transit = t,
				       .cont = c,
				       .data = data,
				       .len = len };
	memset(s, 0, sizeof(*s));
	assert_int_equal(iscsi_login_step(l, &req, &s->rsp, s->buf, sizeof(s->buf)), 0);
	assert_true(s->rsp.len <= sizeof(s->buf));
	assert_null(memmem(s->buf, s->rsp.len, "secret-", 7)); /* secrets never sent */
	s->n = iscsi_kv_parse(s->buf, s->rsp.len, s->scratch, s->kv, 128);
	assert_true(s->n >= 0);
}

static void step(struct iscsi_login *l, struct step *s, int csg, int nsg, bool t, const char *keys)
{
	static uint8_t data[70000];
	raw_step(l, s, csg, nsg, t, false, data, mkdata(keys, data));
}

static const char *rv(const struct step *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].value;
	return NULL;
}

static void assert_key(const struct step *s, const char *key, const char *value)
{
	const char *v = rv(s, key);
	if (!v)
		fail_msg("key %s missing from response", key);
	assert_string_equal(v, value);
}

static struct iscsi_login *new_login(const struct iscsi_target_limits *lim)
{
	memset(&fk, 0, sizeof(fk));
	struct iscsi_login *l = iscsi_login_new(&policy, lim);
	assert_non_null(l);
	return l;
}

#define LEAD_NORMAL(t) "InitiatorName=" INI "|SessionType=Normal|TargetName=" t
#define LEAD_DISC      "InitiatorName=" INI "|SessionType=Discovery"

/* Security stage without authentication, straight to operational. */
static void secure_none(struct iscsi_login *l, const char *target)
{
	struct step s;
	char keys[512];
	snprintf(keys, sizeof(keys),
		 "InitiatorName=%s|SessionType=Normal|TargetName=%s|AuthMethod=None", INI, target);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, 0);
	assert_true(s.rsp.transit);
	assert_int_equal(s.rsp.nsg, 1);
}

/* Operational stage: one request, straight to full feature phase. */
static void op_full(struct iscsi_login *l, struct step *s, const char *keys)
{
	step(l, s, 1, 3, true, keys);
	assert_int_equal(s->rsp.status, 0);
	assert_true(s->rsp.transit);
	assert_int_equal(s->rsp.csg, 1);
	assert_int_equal(s->rsp.nsg, 3);
	assert_true(iscsi_login_complete(l));
}

/* ---- independent CHAP initiator ---- */

static void ref_digest(enum chap_digest d, const uint8_t *in, size_t len, uint8_t *out)
{
	unsigned int ol;
	switch (d) {
	case CHAP_MD5: MD5(in, len, out); break;
	case CHAP_SHA1: SHA1(in, len, out); break;
	case CHAP_SHA256: SHA256(in, len, out); break;
	case CHAP_SHA3_256: EVP_Digest(in, len, out, &ol, EVP_sha3_256(), NULL); break;
	}
}

static int dlen_of(enum chap_digest d)
{
	return d == CHAP_MD5 ? 16 : d == CHAP_SHA1 ? 20 : 32;
}

static void ref_hex(const uint8_t *in, size_t n, char *out)
{
	out += sprintf(out, "0x");
	for (size_t i = 0; i < n; i++)
		out += sprintf(out, "%02X", in[i]); /* upper case on purpose */
}

static void ref_b64(const uint8_t *in, size_t n, char *out)
{
	strcpy(out, "0b");
	EVP_EncodeBlock((unsigned char *)out + 2, in, (int)n);
}

/* response to (id, challenge given as 0x hex) with secret */
static void ref_response(enum chap_digest d, unsigned id, const char *chal_hex, const char *secret,
			 bool b64, char *out)
{
	uint8_t cat[1 + 64 + 1100], dg[64];
	size_t sl = strlen(secret), cl = (strlen(chal_hex) - 2) / 2;
	cat[0] = (uint8_t)id;
	memcpy(cat + 1, secret, sl);
	for (size_t i = 0; i < cl; i++)
		sscanf(chal_hex + 2 + 2 * i, "%2hhx", &cat[1 + sl + i]);
	ref_digest(d, cat, 1 + sl + cl, dg);
	(b64 ? ref_b64 : ref_hex)(dg, (size_t)dlen_of(d), out);
}

/* Full CHAP login through the security stage; returns after transit to
 * operational. mutual: also challenge the target and check its answer. */
static void chap_login(struct iscsi_login *l, const char *lead, enum chap_digest d, bool b64,
		       bool mutual)
{
	struct step s;
	char keys[1024], a[8], rsp[160], mychal[] = "0x0102030405060708090a0b0c0d0e0f10";
	snprintf(keys, sizeof(keys), "%s|AuthMethod=CHAP,None", lead);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, 0);
	assert_false(s.rsp.transit); /* CHAP pending */
	assert_key(&s, "AuthMethod", "CHAP");
	snprintf(a, sizeof(a), "%d", d);
	snprintf(keys, sizeof(keys), "CHAP_A=%s", a);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, 0);
	assert_false(s.rsp.transit);
	assert_key(&s, "CHAP_A", a);
	const char *c = rv(&s, "CHAP_C");
	assert_non_null(c);
	assert_int_equal(strlen(c), 2 + 2 * (size_t)dlen_of(d));
	unsigned id = (unsigned)atoi(rv(&s, "CHAP_I"));
	ref_response(d, id, c, "alice-secret-123", b64, rsp);
	if (mutual)
		snprintf(keys, sizeof(keys), "CHAP_N=alice|CHAP_R=%s|CHAP_I=200|CHAP_C=%s", rsp,
			 mychal);
	else
		snprintf(keys, sizeof(keys), "CHAP_N=alice|CHAP_R=%s", rsp);
	step(l, &s, 0, 1, true, keys);
	assert_int_equal(s.rsp.status, 0);
	assert_true(s.rsp.transit);
	assert_int_equal(s.rsp.nsg, 1);
	if (mutual) {
		char want[160], got[160];
		ref_response(d, 200, mychal, "target-secret-456", false, want);
		assert_key(&s, "CHAP_N", "target");
		/* the target answers in lower-case hex; compare case-blind */
		snprintf(got, sizeof(got), "%s", rv(&s, "CHAP_R"));
		assert_int_equal(strcasecmp(got, want), 0);
	} else {
		assert_null(rv(&s, "CHAP_R"));
	}
	assert_true(iscsi_login_params(l)->authenticated);
}

/* ================================================================== */
/* key list parser                                                     */

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
		cmocka_unit_test(test_chap_all_digests),
		cmocka_unit_test(test_chap_discovery),
		cmocka_unit_test(test_chap_failures),
		cmocka_unit_test(test_chap_algorithms),
		cmocka_unit_test(test_chap_skips),
		cmocka_unit_test(test_leading_request),
		cmocka_unit_test(test_identity_repeat),
		cmocka_unit_test(test_stage_violations),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_continuation_hostile),
		cmocka_unit_test(test_hostile_lists),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_name_checks),
		cmocka_unit_test(test_name_fold),
		cmocka_unit_test(test_log_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
