/* SPDX-License-Identifier: Apache-2.0 */
/* SendTargets discovery (RFC 7143 section 12.2 / appendix C) with libiscsi,
 * and the parser of the "address[:port][,tpgt]" portal strings that
 * iscsiadm's -p and SendTargets' TargetAddress use.
 *
 * For: kura-iscsiadm -m discovery / discoverydb. Not for: normal sessions.
 */
#ifndef KURA_DISCOVERY_H
#define KURA_DISCOVERY_H
#include <stddef.h>
#include <stdint.h>

#define DISC_DEFAULT_PORT 3260

struct disc_target {
	char target[224];
	char address[64]; /* as the target sent it; IPv6 without brackets */
	uint16_t port;
	int tpgt; /* -1 if the target sent none */
};

/* CHAP for the discovery session; NULL / empty user = no CHAP. */
struct disc_auth {
	const char *user, *pass;       /* initiator -> target */
	const char *user_in, *pass_in; /* mutual: target -> initiator */
};

/* Pure: "1.2.3.4", "1.2.3.4:3261", "1.2.3.4:3261,2", "[::1]:3260,1",
 * "host.example:3260". Port defaults to DISC_DEFAULT_PORT, tpgt to -1.
 * 0 or -EINVAL. */
int disc_parse_portal(const char *s, char *addr, size_t addrlen, uint16_t *port, int *tpgt);

/* Log in to address:port as a discovery session, SendTargets=All, log out.
 * On success (0) *out is a malloc'd array of *n entries (one per target
 * portal, in the target's order). On failure returns an iscsiadm exit code
 * (4 connection failure, 8 timeout, 24 authorization failure, 5 other login
 * failure, 19 non-retryable login failure, 3 no memory) with a message in err. */
int disc_sendtargets(const char *initiator, const char *address, uint16_t port,
		     const struct disc_auth *auth, int timeout_s, struct disc_target **out, int *n,
		     char *err, size_t errlen);
/* Pure: classify a libiscsi error string after a failed login (exit code). */
int disc_login_error_code(const char *liberr);
#endif
