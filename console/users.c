/* SPDX-License-Identifier: Apache-2.0 */
/* The console's users file and password check. Passwords are hashed with
 * scrypt (OpenSSL's EVP_PBE_scrypt; N = 2^15, r = 8, p = 1: 32 MiB and a
 * few tens of milliseconds per check, a cost that grows with a guesser's
 * memory as well as time) and a 16-byte random salt per user.
 *
 * Line format: NAME:scrypt:N:r:p:SALT_HEX:HASH_HEX. The file is replaced
 * atomically (common/fileutil) with mode 0600.
 *
 * Not for: sessions or rate limiting (web.c).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/fileutil.h"
#include "common/hex.h"
#include "console/console.h"

#define SCRYPT_N    32768u
#define SCRYPT_R    8u
#define SCRYPT_P    1u
#define SALT_LEN    16
#define HASH_LEN    32
#define USERS_MAX   (256u << 10) /* bytes of users file read */
#define LINE_FIELDS 7

bool users_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       n;
}

static int scrypt_hash(const char *pw, const uint8_t *salt, uint64_t n, uint64_t r, uint64_t p,
		       uint8_t out[HASH_LEN])
{
	int ok = EVP_PBE_scrypt(pw, strlen(pw), salt, SALT_LEN, n, r, p, 64u << 20, out, HASH_LEN);
	return ok == 1 ? 0 : -EINVAL;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int from_hex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = khex_val(s[2 * i]), lo = khex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The whole file (NUL-terminated, malloc'ed), or an empty string if absent. */
static char *read_users(const char *file)
{
	FILE *f = fopen(file, "r");
	char *b = calloc(1, USERS_MAX + 1);
	if (f && b) {
		size_t n = fread(b, 1, USERS_MAX, f);
		b[n] = '\0';
	}
	if (f)
		fclose(f);
	return b;
}

/* The line of name in text (a pointer into it), or NULL. */
static char *find_line(char *text, const char *name)
{
	size_t n = strlen(name);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, name, n) && l[n] == ':')
			return l;
	return NULL;
}

static int make_line(const char *name, const char *pw, char *line, size_t cap)
{
	uint8_t salt[SALT_LEN], h[HASH_LEN];
	char salt_hex[2 * SALT_LEN + 1], h_hex[2 * HASH_LEN + 1];
	if (random_hex(salt_hex, SALT_LEN) < 0 || from_hex(salt_hex, salt, SALT_LEN) < 0)
		return -EIO;
	if (scrypt_hash(pw, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, h) < 0)
		return -EINVAL;
	to_hex(h, HASH_LEN, h_hex);
	OPENSSL_cleanse(h, sizeof(h));
	snprintf(line, cap, "%s:scrypt:%u:%u:%u:%s:%s\n", name, SCRYPT_N, SCRYPT_R, SCRYPT_P,
		 salt_hex, h_hex);
	return 0;
}

/* text without name's line, then line appended; malloc'ed. */
static char *replace_line(char *text, const char *name, const char *line)
{
	char *old = find_line(text, name);
	if (old) {
		char *end = strchr(old, '\n');
		memmove(old, end ? end + 1 : old + strlen(old), strlen(end ? end + 1 : "") + 1);
	}
	size_t n = strlen(text);
	char *out = malloc(n + strlen(line) + 2);
	if (out)
		snprintf(out, n + strlen(line) + 2, "%s%s%s", text,
			 n && text[n - 1] != '\n' ? "\n" : "", line);
	return out;
}

int users_add(const char *file, const char *name, const char *password, char *err, size_t errlen)
{
	char line[512];
	if (!users_name_ok(name)) {
		snprintf(err, errlen, "user names are 1 to 64 of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	if (strlen(password) < 8) {
		snprintf(err, errlen, "the password must have at least 8 characters");
		return -EINVAL;
	}
	char *text = read_users(file);
	int r = text ? make_line(name, password, line, sizeof(line)) : -ENOMEM;
	char *out = r == 0 ? replace_line(text, name, line) : NULL;
	if (r == 0 && !out)
		r = -ENOMEM;
	if (r == 0 && (r = kfile_mkdir_parent(file)) == 0)
		r = kfile_replace(file, out, strlen(out), 0600);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", file, strerror(-r));
	free(text);
	free(out);
	return r;
}

/* Split "NAME:scrypt:N:r:p:SALT:HASH" (the line, up to its newline). */
static int parse_line(char *l, char *f[LINE_FIELDS])
{
	char *nl = strchr(l, '\n');
	if (nl)
		*nl = '\0';
	for (int i = 0; i < LINE_FIELDS; i++) {
		f[i] = l;
		l = strchr(l, ':');
		if (!l && i < LINE_FIELDS - 1)
			return -EINVAL;
		if (l)
			*l++ = '\0';
	}
	return strcmp(f[1], "scrypt") ? -EINVAL : 0;
}

static bool check_fields(char *f[LINE_FIELDS], const char *pw)
{
	uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	uint64_t n = strtoull(f[2], NULL, 10), r = strtoull(f[3], NULL, 10),
		 p = strtoull(f[4], NULL, 10);
	if (from_hex(f[5], salt, SALT_LEN) < 0 || from_hex(f[6], want, HASH_LEN) < 0)
		return false;
	if (scrypt_hash(pw, salt, n, r, p, got) < 0)
		return false;
	bool ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

bool users_check(const char *file, const char *name, const char *password)
{
	char *text = read_users(file);
	char *l = text && users_name_ok(name) ? find_line(text, name) : NULL;
	char *f[LINE_FIELDS];
	bool ok = false;
	if (l && parse_line(l, f) == 0) {
		ok = check_fields(f, password);
	} else {
		uint8_t salt[SALT_LEN] = { 0 }, h[HASH_LEN];
		scrypt_hash(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, h); /* same cost */
	}
	free(text);
	return ok;
}
