/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr. One atomic level; each line written with a
 * single write so lines from worker threads do not interleave. */
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile int g_level = KLOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void klog_set_level(enum klog_level lvl)
{
	__atomic_store_n(&g_level, lvl, __ATOMIC_RELAXED);
}
enum klog_level klog_get_level(void)
{
	return (enum klog_level)__atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

int klog_parse_level(const char *s, enum klog_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum klog_level)i;
			return 0;
		}
	return -EINVAL;
}

void klog(enum klog_level lvl, const char *fmt, ...)
{
	if ((int)lvl > (int)klog_get_level())
		return;
	char line[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

const char *klog_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = c == '\\' ? 2 : (c >= 0x20 && c < 0x7f) ? 1 : 4;
		if (o + need + 4 > len) { /* room for "..." and the NUL */
			memcpy(out + o, "...", 4);
			return out;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else if (need == 2) {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
