/* SPDX-License-Identifier: Apache-2.0 */
/* CHAP for iSCSI login (RFC 1994, RFC 7143 12.1.3): the binary value codec
 * (0x hex / 0b base64, RFC 7143 6.1), the digests (MD5, SHA-1, SHA-256,
 * SHA3-256 through OpenSSL EVP; algorithm numbers from the IANA PPP
 * authentication registry as used by RFC 7143), constant-time comparison, and
 * the target's side of the exchange including mutual CHAP.
 *
 * Secrets never leave this file except inside a digest; every temporary
 * that held one is wiped with OPENSSL_cleanse. Nothing is logged here.
 * Not for: deciding when CHAP runs (iscsi_login.c).
 */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "target/iscsi/iscsi_login_internal.h"
#include "common/hex.h"

/* ------------------------------------------------------------------ */
/* Binary values (RFC 7143 6.1: hex-constant, base64-constant)         */

/* An odd number of digits means a leading zero nibble. */
static int decode_hex(const char *s, uint8_t *out, size_t outlen)
{
	size_t n = strlen(s), bytes = (n + 1) / 2;
	if (n == 0 || bytes > outlen)
		return -EINVAL;
	size_t o = 0, i = 0;
	if (n & 1) {
		int v = khex_val(s[i++]);
		if (v < 0)
			return -EINVAL;
		out[o++] = (uint8_t)v;
	}
	for (; i < n; i += 2) {
		int hi = khex_val(s[i]), lo = khex_val(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)o;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard alphabet; '=' padding optional but only at the end. */
static int decode_b64(const char *s, uint8_t *out, size_t outlen)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n == 0 || strlen(s) - n > 2 || n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

int chap_decode(const char *value, uint8_t *out, size_t outlen)
{
	if (value[0] != '0')
		return -EINVAL;
	if (value[1] == 'x' || value[1] == 'X')
		return decode_hex(value + 2, out, outlen);
	if (value[1] == 'b' || value[1] == 'B')
		return decode_b64(value + 2, out, outlen);
	return -EINVAL;
}

/* If out cannot hold "0x", the digits and the NUL, out becomes "". */
void chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	if (outlen == 0)
		return;
	if (len > (outlen - 1) / 2 || 2 + 2 * len + 1 > outlen) {
		out[0] = '\0';
		return;
	}
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Digests                                                              */

struct chap_alg {
	enum chap_digest d;
	const EVP_MD *(*md)(void);
	int len;
};

static const struct chap_alg chap_algs[] = {
	{ CHAP_MD5, EVP_md5, 16 },
	{ CHAP_SHA1, EVP_sha1, 20 },
	{ CHAP_SHA256, EVP_sha256, 32 },
	{ CHAP_SHA3_256, EVP_sha3_256, 32 },
};

static const struct chap_alg *chap_alg_find(uint64_t d)
{
	for (size_t i = 0; i < sizeof(chap_algs) / sizeof(chap_algs[0]); i++)
		if ((uint64_t)chap_algs[i].d == d)
			return &chap_algs[i];
	return NULL;
}

int chap_digest_len(enum chap_digest d)
{
	const struct chap_alg *a = chap_alg_find((uint64_t)d);
	return a ? a->len : -EINVAL;
}

int chap_response(enum chap_digest d, uint8_t id, const uint8_t *secret, size_t secret_len,
		  const uint8_t *challenge, size_t chal_len, uint8_t *out, size_t outlen)
{
	const struct chap_alg *a = chap_alg_find((uint64_t)d);
	unsigned int got = 0;
	if (!a || outlen < (size_t)a->len)
		return -EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, a->md(), NULL) && EVP_DigestUpdate(ctx, &id, 1) &&
		 EVP_DigestUpdate(ctx, secret, secret_len) &&
		 EVP_DigestUpdate(ctx, challenge, chal_len) && EVP_DigestFinal_ex(ctx, out, &got);
	EVP_MD_CTX_free(ctx); /* cleanses its state */
	return ok && got == (unsigned int)a->len ? a->len : -EINVAL;
}

/* Time depends on alen only (the attacker's own length), never on content
 * or on where the strings differ. */
bool chap_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	volatile uint8_t diff = alen != blen;
	if (blen == 0)
		return alen == 0;
	for (size_t i = 0; i < alen; i++)
		diff |= a[i] ^ b[i % blen];
	return diff == 0;
}

/* ------------------------------------------------------------------ */
/* The exchange (RFC 7143 12.1.3)                                       */

/* CHAP_A: the initiator's list in its order of preference; the first entry
 * we allow wins. Non-numeric entries are skipped. */
static const struct chap_alg *chap_pick(const char *list, uint32_t mask)
{
	char item[32];
	for (const char *p = list;;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		uint64_t v;
		if (l < sizeof(item)) {
			memcpy(item, p, l);
			item[l] = '\0';
			const struct chap_alg *a = iscsi_parse_number(item, &v) ? NULL
										: chap_alg_find(v);
			if (a && (mask & (1u << a->d)))
				return a;
		}
		if (!comma)
			return NULL;
		p = comma + 1;
	}
}

int chap_begin(struct chap_exchange *cx, const char *chap_a, uint32_t mask, struct kv_out *o)
{
	const struct chap_alg *a = chap_pick(chap_a, mask);
	char hex[2 * CHAP_CHALLENGE_MAX + 3];
	if (!a) {
		kv_out_add(o, "CHAP_A", "Reject");
		return -ENOTSUP;
	}
	cx->digest = a->d;
	cx->chal_len = (size_t)a->len; /* challenge as long as the digest (>= 16) */
	if (RAND_bytes(&cx->id, 1) != 1 || RAND_bytes(cx->challenge, (int)cx->chal_len) != 1)
		return -EIO;
	chap_encode_hex(cx->challenge, cx->chal_len, hex, sizeof(hex));
	kv_out_add_u32(o, "CHAP_A", a->d);
	kv_out_add_u32(o, "CHAP_I", cx->id);
	kv_out_add(o, "CHAP_C", hex);
	return 0;
}

/* Every account is compared, and an unknown user is checked against a dummy
 * secret, so timing does not tell which user names exist. */
static const struct chap_account *chap_find(const struct iscsi_target_info *ti, const char *user)
{
	const struct chap_account *found = NULL;
	for (int i = 0; i < ti->n_chap_in; i++)
		if (!found &&
		    strncmp(ti->chap_in[i].user, user, sizeof(ti->chap_in[i].user)) == 0 &&
		    strlen(user) < sizeof(ti->chap_in[i].user))
			found = &ti->chap_in[i];
	return found;
}

static size_t secret_len(const struct chap_account *acc)
{
	return acc->secret_len > sizeof(acc->secret) ? sizeof(acc->secret) : acc->secret_len;
}

static bool chap_check_initiator(const struct chap_exchange *cx, const struct iscsi_target_info *ti,
				 const char *chap_n, const char *chap_r)
{
	static const struct chap_account dummy = { .user = "", .secret = "x", .secret_len = 1 };
	const struct chap_account *acc = chap_find(ti, chap_n);
	const struct chap_account *use = acc ? acc : &dummy;
	uint8_t got[64], want[64];
	int gl = chap_decode(chap_r, got, sizeof(got));
	int wl = chap_response(cx->digest, cx->id, (const uint8_t *)use->secret, secret_len(use),
			       cx->challenge, cx->chal_len, want, sizeof(want));
	bool ok = gl > 0 && wl > 0 && chap_equal(got, (size_t)gl, want, (size_t)wl);
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return ok && acc != NULL;
}

/* Mutual CHAP: the initiator challenges us. Refused without a target
 * account, with a challenge of length outside 1..1024, or with our own
 * challenge reflected back (a reflection attack, RFC 7143 12.1.3). */
static int chap_answer_mutual(const struct chap_exchange *cx, const struct iscsi_target_info *ti,
			      const char *chap_i, const char *chap_c, struct kv_out *o)
{
	uint8_t chal[CHAP_MUTUAL_CHAL_MAX], rsp[64];
	char hex[2 * sizeof(rsp) + 3], user[sizeof(ti->chap_out->user) + 1];
	uint64_t id;
	if (!chap_i || !chap_c || !ti->chap_out)
		return -EACCES;
	if (iscsi_parse_number(chap_i, &id) || id > 255)
		return -EACCES;
	int cl = chap_decode(chap_c, chal, sizeof(chal));
	if (cl < 1 || chap_equal(chal, (size_t)cl, cx->challenge, cx->chal_len))
		return -EACCES;
	int rl = chap_response(cx->digest, (uint8_t)id, (const uint8_t *)ti->chap_out->secret,
			       secret_len(ti->chap_out), chal, (size_t)cl, rsp, sizeof(rsp));
	if (rl < 0)
		return -EACCES;
	chap_encode_hex(rsp, (size_t)rl, hex, sizeof(hex));
	memcpy(user, ti->chap_out->user, sizeof(ti->chap_out->user));
	user[sizeof(user) - 1] = '\0';
	kv_out_add(o, "CHAP_N", user);
	kv_out_add(o, "CHAP_R", hex);
	OPENSSL_cleanse(rsp, sizeof(rsp));
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

int chap_verify(const struct chap_exchange *cx, const struct iscsi_target_info *ti,
		const char *chap_n, const char *chap_r, const char *chap_i, const char *chap_c,
		struct kv_out *o)
{
	if (!chap_n || !chap_r || !chap_check_initiator(cx, ti, chap_n, chap_r))
		return -EACCES;
	if (!chap_i && !chap_c)
		return 0;
	return chap_answer_mutual(cx, ti, chap_i, chap_c, o);
}
