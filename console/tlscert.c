/* SPDX-License-Identifier: Apache-2.0 */
/* The console's TLS certificate: the administrator's (--tls-cert /
 * --tls-key), or a self-signed one made at first start (EC P-256, SHA-256,
 * valid for 825 days, for localhost, 127.0.0.1 and the host name) so that
 * the console never serves plain HTTP. Also the random and constant-time
 * helpers the rest of the console uses (OpenSSL).
 *
 * Not for: the TLS handshake (libmicrohttpd / GnuTLS does it).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fileutil.h"
#include "console/console.h"

int random_hex(char *out, size_t n)
{
	unsigned char b[64];
	if (n > sizeof(b) || RAND_bytes(b, (int)n) != 1)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

bool secret_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static int add_san(X509 *x)
{
	char host[256] = "localhost", san[400];
	gethostname(host, sizeof(host) - 1);
	bool other = strcmp(host, "localhost") != 0 && strspn(host,
							      "abcdefghijklmnopqrstuvwxyz"
							      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							      "0123456789.-") == strlen(host);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s", other ? ",DNS:" : "",
		 other ? host : "");
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EINVAL;
}

static X509 *make_cert(EVP_PKEY *k)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	X509_set_version(x, 2);
	unsigned char serial[16];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 825L * 86400);
	X509_set_pubkey(x, k);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"kura", -1, -1, 0);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"kura-console",
				   -1, -1, 0);
	X509_set_issuer_name(x, nm);
	if (add_san(x) < 0 || !X509_sign(x, k, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Write what the BIO holds to path with mode (created, never replaced). */
static int bio_to_file(BIO *b, const char *path, mode_t mode)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0)
		return -EIO;
	int r = kfile_mkdir_parent(path);
	return r < 0 ? r : kfile_create(path, data, (size_t)n, mode);
}

static int create_pair(const char *cert, const char *key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? make_cert(k) : NULL;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int r = x && kb && cb && PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) &&
				PEM_write_bio_X509(cb, x)
			? 0
			: -EIO;
	if (r == 0)
		r = bio_to_file(kb, key, 0600);
	if (r == 0)
		r = bio_to_file(cb, cert, 0644);
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = f ? calloc(1, 65537) : NULL;
	if (b)
		b[fread(b, 1, 65536, f)] = '\0';
	if (f)
		fclose(f);
	return b;
}

int tls_load_or_create(const char *cert, const char *key, char **cert_pem, char **key_pem,
		       char *err, size_t errlen)
{
	bool have_c = access(cert, F_OK) == 0, have_k = access(key, F_OK) == 0;
	int r = 0;
	if (!have_c && !have_k) {
		r = create_pair(cert, key);
		if (r < 0) {
			snprintf(err, errlen, "cannot create a certificate %s: %s", cert,
				 strerror(-r));
			return r;
		}
		fprintf(stderr, "kura-console: created a self-signed certificate %s\n", cert);
	}
	*cert_pem = read_pem(cert);
	*key_pem = read_pem(key);
	if (!*cert_pem || !*key_pem) {
		snprintf(err, errlen, "cannot read %s", !*cert_pem ? cert : key);
		free(*cert_pem);
		free(*key_pem);
		return -ENOENT;
	}
	return 0;
}
