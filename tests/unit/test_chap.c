/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for target/iscsi/chap.c: the 0x/0b binary value codec, the four
 * digests (known answers computed independently with OpenSSL one-shot
 * functions and with fixed vectors from Python's hashlib), constant-time
 * comparison, and the target side of the exchange (algorithm choice,
 * verification, mutual CHAP refusals).
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

/* ---- codec ---- */

static void test_decode_hex(void **state)
{
	uint8_t b[8];
	assert_int_equal(chap_decode("0x0aFf", b, sizeof(b)), 2);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(chap_decode("0XABC", b, sizeof(b)), 2); /* odd: leading 0 nibble */
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xbc);
	assert_int_equal(chap_decode("0x", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0x0g", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0x 1", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0x000102030405060708", b, sizeof(b)), -EINVAL); /* 9 > 8 */
	assert_int_equal(chap_decode("0x0001020304050607", b, sizeof(b)), 8);
	assert_int_equal(chap_decode("", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("abcd", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0z12", b, sizeof(b)), -EINVAL);
}

static void test_decode_base64(void **state)
{
	uint8_t b[8];
	assert_int_equal(chap_decode("0bAQID", b, sizeof(b)), 3);
	assert_memory_equal(b, "\x01\x02\x03", 3);
	assert_int_equal(chap_decode("0BAQI=", b, sizeof(b)), 2);
	assert_memory_equal(b, "\x01\x02", 2);
	assert_int_equal(chap_decode("0bAQ==", b, sizeof(b)), 1);
	assert_int_equal(b[0], 1);
	assert_int_equal(chap_decode("0bAQ", b, sizeof(b)), 1); /* padding optional */
	assert_int_equal(chap_decode("0b", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0b====", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0bA", b, sizeof(b)), -EINVAL);    /* 6 bits */
	assert_int_equal(chap_decode("0bAQ=D", b, sizeof(b)), -EINVAL); /* '=' inside */
	assert_int_equal(chap_decode("0bAQ===", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0bA*ID", b, sizeof(b)), -EINVAL);
	assert_int_equal(chap_decode("0b////////////", b, sizeof(b)), -EINVAL); /* 9 > 8 */
	assert_int_equal(chap_decode("0b+/+/+/+/+/8=", b, sizeof(b)), 8);
}

static void test_encode_hex(void **state)
{
	char out[16];
	chap_encode_hex((const uint8_t *)"\x00\xab\xff", 3, out, sizeof(out));
	assert_string_equal(out, "0x00abff");
	chap_encode_hex((const uint8_t *)"\x00\xab\xff", 3, out, 8); /* needs 9 */
	assert_string_equal(out, "");
	chap_encode_hex((const uint8_t *)"\x00\xab\xff", 3, out, 9);
	assert_string_equal(out, "0x00abff");
	uint8_t back[3];
	assert_int_equal(chap_decode(out, back, sizeof(back)), 3);
	assert_memory_equal(back, "\x00\xab\xff", 3);
}

/* ---- digests: known answers ---- */

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

static void kat_one(enum chap_digest d, int dlen)
{
	const char secret[] = "a-secret-of-16ch";
	uint8_t chal[40], cat[1 + 16 + 40], want[64], got[64];
	for (size_t i = 0; i < sizeof(chal); i++)
		chal[i] = (uint8_t)(i * 7 + 3);
	cat[0] = 0x5a;
	memcpy(cat + 1, secret, 16);
	memcpy(cat + 17, chal, sizeof(chal));
	ref_digest(d, cat, sizeof(cat), want);
	assert_int_equal(chap_response(d, 0x5a, (const uint8_t *)secret, 16, chal, sizeof(chal),
				       got, sizeof(got)),
			 dlen);
	assert_memory_equal(got, want, (size_t)dlen);
	assert_int_equal(chap_digest_len(d), dlen);
}

static void test_kat_oneshot(void **state)
{
	kat_one(CHAP_MD5, 16);
	kat_one(CHAP_SHA1, 20);
	kat_one(CHAP_SHA256, 32);
	kat_one(CHAP_SHA3_256, 32);
}

static void hex_to(const char *hex, uint8_t *out)
{
	for (size_t i = 0; hex[2 * i]; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/* Vectors from Python hashlib on the hand-concatenated id||secret||challenge. */
static void test_kat_fixed(void **state)
{
	uint8_t chal[32], got[64], want[32];
	for (int i = 0; i < 32; i++)
		chal[i] = (uint8_t)i;
	assert_int_equal(chap_response(CHAP_MD5, 1, (const uint8_t *)"secret", 6, chal, 16, got,
				       sizeof(got)),
			 16);
	hex_to("740e86463bda3a4d7017d6e0fba0699d", want);
	assert_memory_equal(got, want, 16);
	assert_int_equal(chap_response(CHAP_SHA256, 0xab, (const uint8_t *)"0123456789abcdef", 16,
				       chal, 32, got, sizeof(got)),
			 32);
	hex_to("04cb4d4539b047932bd1f678c68ff6c7cbdbd10d506faef20acfd025f17eb021", want);
	assert_memory_equal(got, want, 32);
	assert_int_equal(chap_response(CHAP_SHA3_256, 0, (const uint8_t *)"k", 1,
				       (const uint8_t *)"\x00\xff", 2, got, sizeof(got)),
			 32);
	hex_to("1363c16bcfa8fe279b81998dd4dbd8b7fa0856efc1a10562b12986823e89afaa", want);
	assert_memory_equal(got, want, 32);
}

static void test_response_bad_args(void **state)
{
	uint8_t out[64] = { 0 };
	assert_int_equal(chap_response((enum chap_digest)4, 0, out, 1, out, 1, out, 64), -EINVAL);
	assert_int_equal(chap_response((enum chap_digest)9, 0, out, 1, out, 1, out, 64), -EINVAL);
	assert_int_equal(chap_response(CHAP_SHA256, 0, out, 1, out, 1, out, 31), -EINVAL);
	assert_int_equal(chap_response(CHAP_MD5, 0, out, 1, out, 1, out, 16), 16);
}

static void test_equal(void **state)
{
	const uint8_t a[] = "abcdef", b[] = "abcdeg";
	assert_true(chap_equal(a, 6, a, 6));
	assert_false(chap_equal(a, 6, b, 6));
	assert_false(chap_equal(a, 5, a, 6)); /* prefix is not equal */
	assert_false(chap_equal(a, 6, a, 5));
	assert_true(chap_equal(a, 0, b, 0));
	assert_false(chap_equal(a, 0, b, 1));
	assert_false(chap_equal(a, 1, b, 0));
	assert_true(chap_equal(a, 5, b, 5));
}

/* ---- exchange ---- */

struct outbuf {
	uint8_t buf[1024];
	struct kv_out o;
	struct iscsi_kv kv[16];
	char scratch[1025];
	int n;
};

static void ob_init(struct outbuf *ob)
{
	kv_out_init(&ob->o, ob->buf, sizeof(ob->buf));
}

static const char *ob_get(struct outbuf *ob, const char *key)
{
	ob->n = iscsi_kv_parse(ob->buf, ob->o.len, ob->scratch, ob->kv, 16);
	for (int i = 0; i < ob->n; i++)
		if (strcmp(ob->kv[i].key, key) == 0)
			return ob->kv[i].value;
	return NULL;
}

static const uint32_t ALL = 1u << 5 | 1u << 6 | 1u << 7 | 1u << 8;

static void test_begin_choice(void **state)
{
	struct chap_exchange cx;
	struct outbuf ob;
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "5,7", ALL, &ob.o), 0);
	assert_string_equal(ob_get(&ob, "CHAP_A"), "5"); /* initiator's order */
	assert_int_equal(cx.chal_len, 16);
	assert_int_equal(strlen(ob_get(&ob, "CHAP_C")), 2 + 32);
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "5,7", ALL & ~(1u << 5), &ob.o), 0);
	assert_string_equal(ob_get(&ob, "CHAP_A"), "7");
	assert_int_equal(cx.chal_len, 32);
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "x,,0x8", ALL, &ob.o), 0);
	assert_string_equal(ob_get(&ob, "CHAP_A"), "8");
	uint8_t c[64];
	assert_int_equal(chap_decode(ob_get(&ob, "CHAP_C"), c, sizeof(c)), 32);
	assert_memory_equal(c, cx.challenge, 32);
	uint64_t id;
	assert_int_equal(iscsi_parse_number(ob_get(&ob, "CHAP_I"), &id), 0);
	assert_int_equal(id, cx.id);
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "6", 1u << 5, &ob.o), -ENOTSUP);
	assert_string_equal(ob_get(&ob, "CHAP_A"), "Reject");
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "99,4,-1,", ALL, &ob.o), -ENOTSUP);
}

static const struct chap_account acc_in[2] = {
	{ "bob", "bob-secret-xyzzy", 16 },
	{ "alice", "alice-secret-123", 16 },
};
static const struct chap_account acc_out = { "target", "target-secret-456", 17 };

static void answer(const struct chap_exchange *cx, const char *secret, char *hex)
{
	uint8_t cat[1 + 64 + 64], d[64];
	size_t sl = strlen(secret);
	cat[0] = cx->id;
	memcpy(cat + 1, secret, sl);
	memcpy(cat + 1 + sl, cx->challenge, cx->chal_len);
	ref_digest(cx->digest, cat, 1 + sl + cx->chal_len, d);
	chap_encode_hex(d, (size_t)chap_digest_len(cx->digest), hex, 140);
}

static void test_verify(void **state)
{
	struct iscsi_target_info ti = { .chap_in = acc_in, .n_chap_in = 2, .chap_out = &acc_out };
	struct chap_exchange cx;
	struct outbuf ob;
	char hex[140];
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "7", ALL, &ob.o), 0);
	answer(&cx, "alice-secret-123", hex);
	ob_init(&ob);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, NULL, NULL, &ob.o), 0);
	assert_int_equal(ob.o.len, 0);
	assert_int_equal(chap_verify(&cx, &ti, "bob", hex, NULL, NULL, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "mallory", hex, NULL, NULL, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", "0x00", NULL, NULL, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", "junk", NULL, NULL, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", NULL, NULL, NULL, &ob.o), -EACCES);
	hex[5] ^= 1;
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, NULL, NULL, &ob.o), -EACCES);
	hex[5] ^= 1;
	hex[strlen(hex) - 2] = '\0'; /* one byte short */
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, NULL, NULL, &ob.o), -EACCES);
}

static void test_verify_mutual(void **state)
{
	struct iscsi_target_info ti = { .chap_in = acc_in, .n_chap_in = 2, .chap_out = &acc_out };
	struct chap_exchange cx, mine = { .digest = CHAP_SHA256, .id = 77, .chal_len = 20 };
	struct outbuf ob;
	char hex[140], ours[140], big[2 * 1025 + 3];
	uint8_t chal[1025];
	ob_init(&ob);
	assert_int_equal(chap_begin(&cx, "7", ALL, &ob.o), 0);
	answer(&cx, "alice-secret-123", hex);
	memset(mine.challenge, 0x42, 20);
	chap_encode_hex(mine.challenge, 20, ours, sizeof(ours));
	ob_init(&ob);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "77", ours, &ob.o), 0);
	assert_string_equal(ob_get(&ob, "CHAP_N"), "target");
	char want[140];
	answer(&mine, "target-secret-456", want);
	assert_string_equal(ob_get(&ob, "CHAP_R"), want);
	/* refusals */
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "77", NULL, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, NULL, ours, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "256", ours, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "1x", ours, &ob.o), -EACCES);
	char reflected[140];
	chap_encode_hex(cx.challenge, cx.chal_len, reflected, sizeof(reflected));
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "1", reflected, &ob.o), -EACCES);
	memset(chal, 1, sizeof(chal));
	chap_encode_hex(chal, 1025, big, sizeof(big));
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "1", big, &ob.o), -EACCES);
	chap_encode_hex(chal, 1024, big, sizeof(big));
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "1", big, &ob.o), 0);
	chap_encode_hex(chal, 1, big, sizeof(big));
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "1", big, &ob.o), 0);
	ti.chap_out = NULL;
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, "77", ours, &ob.o), -EACCES);
	assert_int_equal(chap_verify(&cx, &ti, "alice", hex, NULL, NULL, &ob.o), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_hex), cmocka_unit_test(test_decode_base64),
		cmocka_unit_test(test_encode_hex), cmocka_unit_test(test_kat_oneshot),
		cmocka_unit_test(test_kat_fixed),  cmocka_unit_test(test_response_bad_args),
		cmocka_unit_test(test_equal),      cmocka_unit_test(test_begin_choice),
		cmocka_unit_test(test_verify),     cmocka_unit_test(test_verify_mutual),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
