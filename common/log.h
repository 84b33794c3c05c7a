/* SPDX-License-Identifier: Apache-2.0 */
/* Logging for the daemons: leveled, to stderr (journald captures it).
 * Never pass secrets (CHAP secrets, responses) to these functions. */
#ifndef KURA_LOG_H
#define KURA_LOG_H
#include <stdarg.h>
#include <stddef.h>

enum klog_level { KLOG_ERR = 0, KLOG_WARN, KLOG_INFO, KLOG_DEBUG };

void klog_set_level(enum klog_level lvl);
enum klog_level klog_get_level(void);
int klog_parse_level(const char *s, enum klog_level *out); /* 0 or -EINVAL */
void klog(enum klog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A string from the network (an InitiatorName, a key value) made safe to
 * print in a log line or a listing: printable ASCII is copied, '\' becomes
 * "\\" and every other byte "\xNN"; cut to fit len bytes (len >= 8),
 * ending in "..." when cut. Returns out. */
const char *klog_escape(const char *s, char *out, size_t len);

#define kerr(...)  klog(KLOG_ERR, __VA_ARGS__)
#define kwarn(...) klog(KLOG_WARN, __VA_ARGS__)
#define kinfo(...) klog(KLOG_INFO, __VA_ARGS__)
#define kdebug(...) \
	do { \
		if (klog_get_level() >= KLOG_DEBUG) \
			klog(KLOG_DEBUG, __VA_ARGS__); \
	} while (0)
#endif
