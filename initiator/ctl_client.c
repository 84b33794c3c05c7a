/* SPDX-License-Identifier: Apache-2.0 */
/* Client side of the kura-initiatord control protocol (see ctl_proto.h for
 * the wire format): one request line, "D <payload>" lines, then "OK" or
 * "ERR <code> <message>".
 *
 * For: short synchronous calls from kura-iscsiadm. Not for: the daemon; long
 * lived connections. The line parser and the percent coding are pure.
 */
#include "initiator/ctl_client.h"
#include "initiator/ctl_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "common/hex.h"
#include "common/unixsock.h"

#define CTLC_MAX_LINE  65536
#define CTLC_MAX_LINES 100000

const char *ctlc_sock_path(const char *explicit_path)
{
	const char *env = getenv("KURA_INITIATORD_SOCK");
	if (explicit_path && explicit_path[0])
		return explicit_path;
	return env && env[0] ? env : KURA_INITIATORD_SOCK;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t ctlc_pct_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char enc[3] = { (char)*p, 0, 0 };
		size_t k = 1;
		if (!unreserved(*p)) {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			k = 3;
		}
		for (size_t i = 0; i < k; i++, n++)
			if (n + 1 < outlen)
				out[n] = enc[i];
	}
	if (outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

int ctlc_pct_decode(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '%') {
			int hi = khex_val(p[1]), lo = hi < 0 ? -1 : khex_val(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = hi << 4 | lo;
			p += 2;
		}
		if (n + 1 >= outlen)
			return -ENOSPC;
		out[n++] = (char)c;
	}
	if (!outlen)
		return -ENOSPC;
	out[n] = '\0';
	return 0;
}

int ctlc_kv_get(const char *line, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	for (const char *p = line; p && *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = n - kl - 1;
			if (vl >= outlen)
				return -ENOSPC;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		p += n;
	}
	return -ENOENT;
}

static int add_line(struct ctlc_reply *rep, const char *payload)
{
	size_t n = strlen(payload) + 1;
	char *s = malloc(n);
	if (!s || rep->nlines >= CTLC_MAX_LINES || ctlc_pct_decode(payload, s, n)) {
		free(s);
		return -EPROTO;
	}
	char **v = realloc(rep->lines, (size_t)(rep->nlines + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	rep->lines = v;
	rep->lines[rep->nlines++] = s;
	return 0;
}

int ctlc_parse_line(const char *line, struct ctlc_reply *rep)
{
	if (strncmp(line, "D ", 2) == 0)
		return add_line(rep, line + 2);
	if (strcmp(line, "OK") == 0) {
		rep->code = 0;
		return 1;
	}
	if (strncmp(line, "ERR ", 4) != 0)
		return -EPROTO;
	char *end;
	long code = strtol(line + 4, &end, 10);
	if (end == line + 4 || code <= 0 || code > 255 || (*end && *end != ' '))
		return -EPROTO;
	rep->code = (int)code;
	free(rep->msg);
	rep->msg = strdup(*end ? end + 1 : "");
	return rep->msg ? 1 : -ENOMEM;
}

void ctlc_reply_free(struct ctlc_reply *rep)
{
	for (int i = 0; i < rep->nlines; i++)
		free(rep->lines[i]);
	free(rep->lines);
	free(rep->msg);
	memset(rep, 0, sizeof(*rep));
}

static int send_request(int fd, int argc, const char *const *argv)
{
	size_t len = 2;
	for (int i = 0; i < argc; i++)
		len += ctlc_pct_encode(argv[i], NULL, 0) + 1;
	char *buf = malloc(len), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		if (i)
			*p++ = ' ';
		p += ctlc_pct_encode(argv[i], p, len - (size_t)(p - buf));
	}
	*p++ = '\n';
	int rc = 0;
	for (size_t off = 0; off < (size_t)(p - buf) && !rc;) {
		ssize_t w = send(fd, buf + off, (size_t)(p - buf) - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		off += w > 0 ? (size_t)w : 0;
	}
	free(buf);
	return rc;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read lines until the final one. */
static int read_reply(int fd, int timeout_ms, struct ctlc_reply *rep)
{
	char *buf = malloc(CTLC_MAX_LINE + 1);
	size_t have = 0;
	long deadline = now_ms() + timeout_ms;
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		char *nl = memchr(buf, '\n', have);
		if (nl) {
			*nl = '\0';
			rc = ctlc_parse_line(buf, rep);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
			continue;
		}
		if (have >= CTLC_MAX_LINE) {
			rc = -EPROTO;
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		ssize_t r = pr < 0 ? -1 : read(fd, buf + have, CTLC_MAX_LINE - have);
		if (r < 0 && errno == EINTR)
			continue;
		rc = r < 0 ? -errno : r == 0 ? -EPROTO : 0;
		have += r > 0 ? (size_t)r : 0;
	}
	free(buf);
	return rc == 1 ? 0 : rc;
}

int ctlc_call(const char *sock, int argc, const char *const *argv, int timeout_ms,
	      struct ctlc_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	int fd = kunix_connect(sock);
	if (fd < 0)
		return fd;
	int rc = send_request(fd, argc, argv);
	if (!rc)
		rc = read_reply(fd, timeout_ms, rep);
	close(fd);
	if (rc)
		ctlc_reply_free(rep);
	return rc;
}
