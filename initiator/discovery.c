/* SPDX-License-Identifier: Apache-2.0 */
/* SendTargets discovery with libiscsi, for kura-iscsiadm (discovery.h).
 *
 * For: one blocking discovery session per call (connect, login with the
 * discovery record's CHAP, SendTargets=All, logout) and the pure parsers of
 * portal strings and libiscsi's login errors. Not for: normal sessions
 * (kura-initiatord), retries (the caller decides), printing.
 *
 * Secrets go to libiscsi only; error messages never include them.
 */
#include "initiator/discovery.h"

#include <errno.h>
#include <fcntl.h>
#include <iscsi/iscsi.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pure parsers ---------------------------------------------------- */

static int parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
	long v = 0;
	if (n == 0 || n > 6)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split the host part off; *rest points after it (at ':' / ',' / NUL). */
static int split_host(const char *s, char *addr, size_t addrlen, const char **rest)
{
	const char *end;
	const char *h = s;
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		h = s + 1;
		*rest = end + 1;
	} else {
		end = s + strcspn(s, ":,");
		*rest = end;
	}
	size_t n = (size_t)(end - h);
	if (n == 0 || n >= addrlen)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == '/' || h[i] == '[' || h[i] == ']' ||
		    (h[i] == ':' && *s != '['))
			return -EINVAL;
	memcpy(addr, h, n);
	addr[n] = '\0';
	return 0;
}

int disc_parse_portal(const char *s, char *addr, size_t addrlen, uint16_t *port, int *tpgt)
{
	const char *rest;
	long v;
	if (!s || split_host(s, addr, addrlen, &rest))
		return -EINVAL;
	*port = DISC_DEFAULT_PORT;
	*tpgt = -1;
	if (*rest == ':') {
		size_t n = strcspn(rest + 1, ",");
		if (parse_num(rest + 1, n, 1, 65535, &v))
			return -EINVAL;
		*port = (uint16_t)v;
		rest += 1 + n;
	}
	if (*rest == ',') {
		if (parse_num(rest + 1, strlen(rest + 1), 0, 65535, &v))
			return -EINVAL;
		*tpgt = (int)v;
		rest += strlen(rest);
	}
	return *rest ? -EINVAL : 0;
}

/* libiscsi reports a refused login as "... Status: <text>(<class<<8|detail>)"
 * (RFC 7143 section 11.13.5). Table: substring -> iscsiadm exit code. */
int disc_login_error_code(const char *liberr)
{
	static const struct {
		const char *needle;
		int code;
	} map[] = {
		{ "(513)", 24 },      { "(514)", 24 },    { "uthenticat", 24 }, { "uthoriz", 24 },
		{ "CHAP", 24 },       { "(515)", 19 },    { "(516)", 19 },      { "(517)", 19 },
		{ "(518)", 19 },      { "(519)", 19 },    { "(520)", 19 },      { "(521)", 19 },
		{ "(522)", 19 },      { "timed out", 8 }, { "imeout", 8 },      { "refused", 4 },
		{ "unreachable", 4 }, { "No route", 4 },  { "reset", 4 },       { "closed", 4 },
		{ "connect", 4 },
	};
	for (size_t i = 0; liberr && i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(liberr, map[i].needle))
			return map[i].code;
	return 5;
}

/* ---- the discovery session ---------------------------------------- */

static int set_auth(struct iscsi_context *ctx, const struct disc_auth *a)
{
	if (!a || !a->user || !a->user[0])
		return 0;
	if (iscsi_set_initiator_username_pwd(ctx, a->user, a->pass ? a->pass : ""))
		return -1;
	if (a->user_in && a->user_in[0] &&
	    iscsi_set_target_username_pwd(ctx, a->user_in, a->pass_in ? a->pass_in : ""))
		return -1;
	return 0;
}

static int count_portals(const struct iscsi_discovery_address *da)
{
	int n = 0;
	for (; da; da = da->next)
		for (const struct iscsi_target_portal *p = da->portals; p; p = p->next)
			n++;
	return n;
}

/* Copy libiscsi's list into our array; entries that do not parse are skipped. */
static int collect(const struct iscsi_discovery_address *da, struct disc_target **out, int *n)
{
	int max = count_portals(da), k = 0;
	struct disc_target *v = calloc((size_t)(max ? max : 1), sizeof(*v));
	if (!v)
		return 3;
	for (; da; da = da->next) {
		if (!da->target_name || strlen(da->target_name) >= sizeof(v->target))
			continue;
		for (const struct iscsi_target_portal *p = da->portals; p; p = p->next) {
			if (!p->portal ||
			    disc_parse_portal(p->portal, v[k].address, sizeof(v[k].address),
					      &v[k].port, &v[k].tpgt))
				continue;
			strcpy(v[k++].target, da->target_name);
		}
	}
	*out = v;
	*n = k;
	return 0;
}

/* A plain TCP connect first, so that a refused or unreachable portal is
 * reported with its errno as open-iscsi does ("cannot make connection to
 * ADDR: Connection refused") rather than libiscsi's reconnect text. */
static int tcp_probe(const char *address, uint16_t port, int timeout_s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	char serv[8];
	snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	if (getaddrinfo(address, serv, &hints, &ai))
		return EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
	socklen_t len = sizeof(e);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS))
		e = fd < 0 ? EMFILE : errno;
	else {
		struct pollfd p = { fd, POLLOUT, 0 };
		int w = poll(&p, 1, (timeout_s > 0 ? timeout_s : 15) * 1000);
		if (w <= 0)
			e = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return e;
}

static int run(struct iscsi_context *ctx, const char *address, uint16_t port, int timeout_s,
	       struct disc_target **out, int *n, char *err, size_t errlen)
{
	char portal[96];
	int perr = tcp_probe(address, port, timeout_s);
	snprintf(portal, sizeof(portal), strchr(address, ':') ? "[%s]:%u" : "%s:%u", address,
		 (unsigned)port);
	if (perr) {
		snprintf(err, errlen, "cannot make connection to %s: %s", address, strerror(perr));
		return perr == ETIMEDOUT ? 8 : 4;
	}
	if (iscsi_connect_sync(ctx, portal)) {
		const char *e = iscsi_get_error(ctx);
		int code = strstr(e, "timed out") || strstr(e, "imeout") ? 8 : 4;
		snprintf(err, errlen, "cannot make connection to %s: %s", portal, e);
		return code;
	}
	if (iscsi_login_sync(ctx)) {
		const char *e = iscsi_get_error(ctx);
		snprintf(err, errlen, "discovery login to %s failed: %s", portal, e);
		return disc_login_error_code(e);
	}
	struct iscsi_discovery_address *da = iscsi_discovery_sync(ctx);
	if (!da) {
		snprintf(err, errlen, "SendTargets to %s failed: %s", portal, iscsi_get_error(ctx));
		iscsi_logout_sync(ctx);
		return 4;
	}
	int rc = collect(da, out, n);
	iscsi_free_discovery_data(ctx, da);
	iscsi_logout_sync(ctx);
	return rc;
}

int disc_sendtargets(const char *initiator, const char *address, uint16_t port,
		     const struct disc_auth *auth, int timeout_s, struct disc_target **out, int *n,
		     char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	struct iscsi_context *ctx = iscsi_create_context(initiator);
	if (!ctx) {
		snprintf(err, errlen, "cannot create an iSCSI context");
		return 3;
	}
	int rc = 7;
	if (iscsi_set_session_type(ctx, ISCSI_SESSION_DISCOVERY) ||
	    iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE) || set_auth(ctx, auth))
		snprintf(err, errlen, "bad discovery settings: %s", iscsi_get_error(ctx));
	else {
		if (timeout_s > 0)
			iscsi_set_timeout(ctx, timeout_s);
		rc = run(ctx, address, port, timeout_s, out, n, err, errlen);
	}
	iscsi_destroy_context(ctx);
	return rc;
}
