/* SPDX-License-Identifier: Apache-2.0 */
/* What a path of kura-initiatord learnt at login and probe, for
 * `kura-iscsiadm -m session -P 3` and kura-multipath: the operational
 * parameters the target answered in its Login Responses, the local address
 * of the connection and the LU's vendor / product.
 *
 * libiscsi keeps the negotiated values private, so while a path is logging
 * in path.c calls path_info_login_peek() before libiscsi reads the socket:
 * it looks at the waiting bytes with MSG_PEEK (consuming nothing) and, when
 * a whole Login Response PDU is there, records the keys it answers. The
 * responder's answer is the negotiated value for every key listed (RFC 7143
 * 6.2, 13); the initiator's own MaxRecvDataSegmentLength is libiscsi's
 * fixed declaration (262144, no setter in libiscsi 1.19). A key the target
 * did not answer prints as "<empty>" (MaxXmitDataSegmentLength: the RFC
 * default 8192).
 *
 * Not for: the login itself (path.c) or the control socket's formatting of
 * paths (initiatord_ctl.c).
 */
#include "initiator/initiatord_internal.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define LIBISCSI_MAX_RECV_DSL 262144
#define LOGIN_RSP_OPCODE      0x23
#define BHS_LEN               48

static const char *const key_names[PI_N] = {
	[PI_HDIGEST] = "HeaderDigest",
	[PI_DDIGEST] = "DataDigest",
	[PI_MAXXMIT] = "MaxRecvDataSegmentLength",
	[PI_FBURST] = "FirstBurstLength",
	[PI_MBURST] = "MaxBurstLength",
	[PI_IMMDATA] = "ImmediateData",
	[PI_R2T] = "InitialR2T",
	[PI_MAXR2T] = "MaxOutstandingR2T",
};

static void note_key(struct path_info *pi, const char *kv, size_t len)
{
	const char *eq = memchr(kv, '=', len);
	if (!eq)
		return;
	for (int k = 0; k < PI_N; k++)
		if (strlen(key_names[k]) == (size_t)(eq - kv) &&
		    !memcmp(kv, key_names[k], (size_t)(eq - kv))) {
			size_t vl = len - (size_t)(eq + 1 - kv);
			if (vl >= sizeof(pi->keys[k]))
				vl = sizeof(pi->keys[k]) - 1;
			memcpy(pi->keys[k], eq + 1, vl);
			pi->keys[k][vl] = 0;
		}
}

static void parse_text(struct path_info *pi, const uint8_t *d, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const uint8_t *end = memchr(d + i, 0, len - i);
		size_t n = end ? (size_t)(end - (d + i)) : len - i;
		note_key(pi, (const char *)d + i, n);
		i += n + 1;
	}
}

void path_info_login_peek(struct ini_path *p)
{
	uint8_t b[BHS_LEN + 8192];
	ssize_t n = recv(p->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	if (n < BHS_LEN || (b[0] & 0x3f) != LOGIN_RSP_OPCODE)
		return;
	size_t ahs = (size_t)b[4] * 4;
	size_t dlen = ((size_t)b[5] << 16) | ((size_t)b[6] << 8) | b[7];
	if (BHS_LEN + ahs + dlen > (size_t)n)
		return; /* not all there yet: the next Login Response repeats the keys */
	parse_text(&p->info, b + BHS_LEN + ahs, dlen);
}

static void copy_field(char *out, size_t outlen, const uint8_t *in, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < outlen; i++)
		out[k++] = in[i] > 0x20 && in[i] < 0x7f ? (char)in[i] : '_';
	while (k && out[k - 1] == '_')
		k--; /* INQUIRY pads with spaces */
	out[k] = 0;
}

void path_info_inquiry(struct ini_path *p, const uint8_t *b, size_t len)
{
	if (len < 32)
		return;
	copy_field(p->info.vendor, sizeof(p->info.vendor), b + 8, 8);
	copy_field(p->info.product, sizeof(p->info.product), b + 16, 16);
}

void path_info_attached(const struct ini_path *p, struct ini_lu *lu)
{
	snprintf(lu->vendor, sizeof(lu->vendor), "%s", p->info.vendor);
	snprintf(lu->product, sizeof(lu->product), "%s", p->info.product);
}

static void local_address(const struct ini_path *p, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	snprintf(out, len, "-");
	if (p->state != PATH_UP || p->fd < 0 || getsockname(p->fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)len);
}

static const char *val(const struct ini_path *p, int k, const char *def)
{
	return p->info.keys[k][0] ? p->info.keys[k] : def;
}

void path_info_format(const struct ini_path *p, char *buf, size_t len)
{
	char ip[64];
	local_address(p, ip, sizeof(ip));
	snprintf(buf, len,
		 "local_address=%s header_digest=%s data_digest=%s max_recv_dsl=%d "
		 "max_xmit_dsl=%s first_burst=%s max_burst=%s immediate_data=%s initial_r2t=%s "
		 "max_outstanding_r2t=%s",
		 ip, val(p, PI_HDIGEST, "-"), val(p, PI_DDIGEST, "-"), LIBISCSI_MAX_RECV_DSL,
		 val(p, PI_MAXXMIT, "8192"), val(p, PI_FBURST, "-"), val(p, PI_MBURST, "-"),
		 val(p, PI_IMMDATA, "-"), val(p, PI_R2T, "-"), val(p, PI_MAXR2T, "-"));
}
