/* SPDX-License-Identifier: Apache-2.0 */
/* Login-engine unit-test harness shared by test_login.c and
 * test_login_chap.c: the engine's .c files (to reach its statics), a fake
 * policy (targets open, CHAP one-way and mutual, ACL, broken), helpers that
 * script a login request by request, and an independent CHAP initiator.
 *
 * Not for: the tests themselves. */
#ifndef KURA_TEST_LOGIN_HARNESS_H
#define KURA_TEST_LOGIN_HARNESS_H
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
__attribute__((unused)) static void secure_none(struct iscsi_login *l, const char *target)
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
__attribute__((unused)) static void chap_login(struct iscsi_login *l, const char *lead,
					       enum chap_digest d, bool b64, bool mutual)
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

#endif
