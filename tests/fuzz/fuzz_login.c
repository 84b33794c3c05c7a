/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the login engine: arbitrary bytes go to the key list
 * parser, the CHAP value decoder, and a scripted multi-request login against
 * a fake policy, then to the Text Request handler of the resulting session.
 *
 * Input format of the script: a sequence of records
 *   [flags:1][len:2 big-endian][data:len]
 * flags bits 0-1 CSG, 2-3 NSG, 4 T, 5 C, 6 "answer the last CHAP challenge
 * correctly" (the harness appends CHAP_N/CHAP_R computed with the right
 * secret, so the fuzzer can reach the stages behind authentication).
 * At most 16 records; a short record ends the script.
 */
#include <stdlib.h>
#include "target/iscsi/iscsi_keys.c"
#include "target/iscsi/chap.c"
#include "target/iscsi/iscsi_login.c"
#include "target/iscsi/iscsi_name.c"

static const struct chap_account fz_in[1] = { { "alice", "alice-secret-123", 16 } };
static const struct chap_account fz_out = { "target", "target-secret-456", 17 };

static int fz_lookup(void *ctx, const char *tn, const char *in, struct iscsi_target_info *o)
{
	memset(o, 0, sizeof(*o));
	o->iqn = tn;
	o->tpgt = 1;
	switch (tn[0]) {
	case 'a': o->alias = "alias"; return 0;
	case 'c': o->chap_out = &fz_out; /* fall through */
	case 'o':
		o->chap_in = fz_in;
		o->n_chap_in = 1;
		return 0;
	case 'x': return -EACCES;
	case 'e': return -EIO;
	default: return -ENOENT;
	}
}

static void fz_disc(void *ctx, struct iscsi_target_info *o)
{
	memset(o, 0, sizeof(*o));
	o->chap_in = fz_in;
	o->n_chap_in = *(const bool *)ctx;
}

static size_t fz_send_targets(void *ctx, const char *in, const char *which, bool all, char *buf,
			      size_t len)
{
	static const char rec[] = "TargetName=iqn.x\0TargetAddress=[::1]:3260,1";
	if (len < sizeof(rec))
		return 0;
	memcpy(buf, rec, sizeof(rec));
	return sizeof(rec);
}

/* Find key in a response data segment. */
static const char *fz_find(const uint8_t *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < len; i += strlen((const char *)buf + i) + 1)
		if (strncmp((const char *)buf + i, key, kl) == 0 && buf[i + kl] == '=')
			return (const char *)buf + i + kl + 1;
	return NULL;
}

/* Append CHAP_N/CHAP_R answering the challenge in the previous response. */
static size_t fz_answer(const uint8_t *prev, size_t plen, uint8_t *out, size_t cap)
{
	const char *a = fz_find(prev, plen, "CHAP_A"), *i = fz_find(prev, plen, "CHAP_I");
	const char *c = fz_find(prev, plen, "CHAP_C");
	uint8_t chal[64], r[64];
	char hex[140];
	if (!a || !i || !c)
		return 0;
	int cl = chap_decode(c, chal, sizeof(chal));
	int rl = chap_response((enum chap_digest)atoi(a), (uint8_t)atoi(i),
			       (const uint8_t *)"alice-secret-123", 16, chal,
			       cl > 0 ? (size_t)cl : 0, r, sizeof(r));
	if (cl <= 0 || rl <= 0)
		return 0;
	chap_encode_hex(r, (size_t)rl, hex, sizeof(hex));
	int n = snprintf((char *)out, cap, "CHAP_N=alice%cCHAP_R=%s", 0, hex);
	return n > 0 && (size_t)n < cap ? (size_t)n + 1 : 0;
}

static void fz_script(const uint8_t *d, size_t n)
{
	bool disc_chap = n && (d[0] & 0x80);
	const struct iscsi_login_policy pol = { .ctx = &disc_chap,
						.lookup_target = fz_lookup,
						.discovery_auth = fz_disc,
						.send_targets = fz_send_targets };
	struct iscsi_login *l = iscsi_login_new(&pol, NULL);
	static uint8_t rsp[8192], prev[8192], req[70000];
	size_t prev_len = 0;
	if (!l)
		return;
	for (int step = 0; step < 16 && n >= 3; step++) {
		uint8_t f = d[0];
		size_t take = (size_t)d[1] << 8 | d[2], len;
		if (take > n - 3)
			take = n - 3;
		memcpy(req, d + 3, take);
		len = take;
		if (f & 0x40)
			len += fz_answer(prev, prev_len, req + len, sizeof(req) - len);
		d += 3 + take;
		n -= 3 + take;
		struct iscsi_login_req q = { .csg = f & 3,
					     .nsg = (f >> 2) & 3,
					     .transit = f & 0x10,
					     .cont = f & 0x20,
					     .data = req,
					     .len = len };
		struct iscsi_login_rsp r;
		iscsi_login_step(l, &q, &r, rsp, sizeof(rsp));
		if (r.len > sizeof(rsp) || (r.status && r.len))
			abort();
		memcpy(prev, rsp, r.len);
		prev_len = r.len;
		if (r.status || iscsi_login_complete(l))
			break;
	}
	if (iscsi_login_complete(l)) {
		const struct iscsi_session_params *sp = iscsi_login_params(l);
		if (sp->first_burst > sp->max_burst || sp->max_recv_dsl_initiator < 512)
			abort();
		iscsi_text_respond(&pol, sp, d, n, rsp, sizeof(rsp));
	}
	iscsi_login_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[65537];
	static struct iscsi_kv kv[ISCSI_LOGIN_MAX_KEYS];
	uint8_t out[1100];
	if (size > 65536)
		return 0;
	klog_set_level(KLOG_ERR); /* login refusals log at INFO */
	iscsi_kv_parse(data, size, scratch, kv, ISCSI_LOGIN_MAX_KEYS);
	memcpy(scratch, data, size);
	scratch[size < 9000 ? size : 9000] = '\0';
	int r = chap_decode(scratch, out, sizeof(out));
	if (r > (int)sizeof(out))
		abort();
	fz_script(data, size);
	return 0;
}
