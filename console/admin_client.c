/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's side of the admin socket protocol (target/admin/admin.h):
 * one connection per request, the request line, then everything the daemon
 * writes until it closes; the last line is the status.
 *
 * Not for: deciding anything from the answer (web.c relays it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "common/unixsock.h"
#include "console/console.h"

/* The largest answer read (a metrics scrape of many LUNs stays far below). */
#define ADMIN_ANSWER_MAX (8u << 20)

static int send_line(int fd, const char *line)
{
	size_t n = strlen(line);
	char *buf = malloc(n + 2);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, line, n);
	buf[n] = '\n';
	ssize_t w = write(fd, buf, n + 1);
	free(buf);
	return w == (ssize_t)(n + 1) ? 0 : -EIO;
}

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *b = malloc(cap);
	while (b) {
		if (n + 1 == cap) {
			char *nb = cap < ADMIN_ANSWER_MAX ? realloc(b, cap * 2) : NULL;
			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - 1 - n);
		if (r <= 0) {
			b[n] = '\0';
			*out = b;
			*len = n;
			return r < 0 ? -errno : 0;
		}
		n += (size_t)r;
	}
	free(b);
	return -ENOMEM;
}

/* Split the status line off: the text before it stays in b. */
static void split_status(char *b, size_t n, bool *ok)
{
	while (n && b[n - 1] == '\n')
		b[--n] = '\0';
	char *last = memrchr(b, '\n', n);
	char *st = last ? last + 1 : b;
	*ok = !strcmp(st, "OK");
	if (*ok)
		*st = '\0';
	else if (!strncmp(st, "ERR ", 4))
		memmove(b, st + 4, strlen(st + 4) + 1);
	else
		snprintf(b, 64, "%s", "no status line from kura-targetd"); /* cap >= 16 KiB */
}

int console_admin(const char *path, const char *line, char **out, bool *ok)
{
	return console_request(path, line, 60, out, ok);
}

int console_request(const char *path, const char *line, int timeout_s, char **out, bool *ok)
{
	*out = NULL;
	int fd = kunix_connect(path);
	if (fd < 0)
		return fd;
	struct timeval tv = { .tv_sec = timeout_s };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	size_t n = 0;
	int r = send_line(fd, line);
	if (r == 0)
		r = read_all(fd, out, &n);
	close(fd);
	if (r < 0) {
		free(*out);
		*out = NULL;
		return r;
	}
	split_status(*out, n, ok);
	return 0;
}
