/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's internal header: the web console and Prometheus endpoint
 * of one kura-targetd, as a separate process (docs/console.md).
 *
 * Layers: console/ uses common/ only and reaches the target through the
 * admin socket protocol (target/admin/admin.h: one request line, the
 * answer, "OK" / "ERR reason"), so the target gains no privilege and no
 * code for the web. HTTP and TLS are libmicrohttpd's (on Debian built
 * with GnuTLS); OpenSSL makes the self-signed certificate, hashes the
 * passwords (scrypt) and draws every token.
 *
 * Not for: anything the daemon decides (the console only relays requests).
 */
#ifndef KURA_CONSOLE_H
#define KURA_CONSOLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- admin_client.c ---- */
/* Send one request line (no "\n") to the admin socket at path (or to a
 * kura-lockd control socket: the same one-request-per-connection protocol,
 * its "ERR code reason" keeping the code in the reason) and read the whole
 * answer. *out (malloc'ed, NUL-terminated) gets the output without
 * the status line; ok tells "OK" from "ERR". On "ERR reason", *out holds the
 * reason. 0, or -errno when the daemon cannot be reached (*out NULL). */
int console_admin(const char *path, const char *line, char **out, bool *ok);
/* The same with an answer timeout of timeout_s seconds (console_admin: 60). */
int console_request(const char *path, const char *line, int timeout_s, char **out, bool *ok);

/* ---- users.c ---- */
/* The users file: one "NAME:scrypt:N:r:p:SALT_HEX:HASH_HEX" line per user,
 * mode 0600, replaced atomically. */
int users_add(const char *file, const char *name, const char *password, char *err, size_t errlen);
/* True when name exists in file and password matches (constant time in
 * the hash comparison; an unknown name costs one scrypt as well). */
bool users_check(const char *file, const char *name, const char *password);
/* Names are 1..64 of [A-Za-z0-9._-]. */
bool users_name_ok(const char *name);

/* ---- tlscert.c ---- */
/* Make sure cert and key exist: when both are missing, create an EC P-256
 * key and a self-signed certificate for localhost / 127.0.0.1 / the host
 * name (key mode 0600). Then read both (PEM, malloc'ed). 0 or -errno. */
int tls_load_or_create(const char *cert, const char *key, char **cert_pem, char **key_pem,
		       char *err, size_t errlen);
/* n random bytes as 2n hex digits (OpenSSL RAND_bytes). 0 or -EIO. */
int random_hex(char *out, size_t n);
/* Constant-time equality of two strings. */
bool secret_equal(const char *a, const char *b);

/* ---- web.c (HTTP server) and its configuration ---- */
#define CONSOLE_LOCKD_MAX 16
struct console_cfg {
	const char *listen_addr; /* numeric IPv4 / IPv6 */
	uint16_t port;
	const char *socket; /* the daemon's admin socket */
	const char *users;  /* users file */
	const char *token;  /* bearer token of /metrics, or NULL: /metrics is open */
	char *cert_pem, *key_pem;
	unsigned sample_s; /* the history's sampling interval (seconds) */
	/* kura-lockd control sockets of the cluster view (status --json) */
	const char *lockd[CONSOLE_LOCKD_MAX];
	int n_lockd;
};
/* Serve until SIGINT / SIGTERM. 0 or -errno with err. */
int console_serve(const struct console_cfg *cfg, char *err, size_t errlen);

/* ---- static files (generated at build time from console/static/) ---- */
struct console_file {
	const char *name; /* "/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct console_file console_files[];
extern const size_t console_n_files;
#endif
