/* SPDX-License-Identifier: Apache-2.0 */
/* Client side of the kura-initiatord control protocol (ctl_proto.h).
 *
 * For: kura-iscsiadm and other tools. Not for: the daemon's side.
 */
#ifndef KURA_CTL_CLIENT_H
#define KURA_CTL_CLIENT_H
#include <stddef.h>

struct ctlc_reply {
	int code;     /* 0 for OK, else the <code> of "ERR <code> <msg>" */
	char *msg;    /* ERR message (malloc'd) or NULL */
	char **lines; /* decoded D payloads */
	int nlines;
};

/* The socket path: explicit, else $KURA_INITIATORD_SOCK, else the default. */
const char *ctlc_sock_path(const char *explicit_path);

/* Send "argv[0] argv[1] ..." (each percent-encoded) and read the reply.
 * Returns 0 when a reply was read (see rep->code), -errno when the daemon
 * could not be reached (-ENOENT / -ECONNREFUSED: not running) or the reply
 * was malformed (-EPROTO) or late (-ETIMEDOUT). */
int ctlc_call(const char *sock, int argc, const char *const *argv, int timeout_ms,
	      struct ctlc_reply *rep);
void ctlc_reply_free(struct ctlc_reply *rep);

/* Pure helpers. encode: RFC 3986 unreserved stay, the rest %XX; returns the
 * length needed (excluding NUL), writes at most outlen. decode: 0 / -EINVAL. */
size_t ctlc_pct_encode(const char *in, char *out, size_t outlen);
int ctlc_pct_decode(const char *in, char *out, size_t outlen);
/* Value of key in a "k=v k=v" line (decoded payload); 0 / -ENOENT / -ENOSPC. */
int ctlc_kv_get(const char *line, const char *key, char *out, size_t outlen);
/* Parse one reply line into rep: 1 final (OK/ERR), 0 data, -EPROTO. */
int ctlc_parse_line(const char *line, struct ctlc_reply *rep);
#endif
