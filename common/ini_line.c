/* SPDX-License-Identifier: Apache-2.0 */
/* kini_line: see common/ini_line.h. */
#include "common/ini_line.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int kini_line(const char *s, size_t len, char *buf, size_t size, char *section, size_t secsize)
{
	while (len &&
	       (s[len - 1] == '\n' || s[len - 1] == '\r' || isblank((unsigned char)s[len - 1])))
		len--;
	while (len && isspace((unsigned char)*s))
		s++, len--;
	if (memchr(s, '\0', len)) { /* inih would cut the line there: refuse it */
		buf[0] = section[0] = '\0';
		return -EILSEQ;
	}
	if (len + 2 > size)
		return -E2BIG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *rb = buf[0] == '[' ? strchr(buf, ']') : NULL;
	section[0] = '\0';
	if (!rb)
		return 0;
	snprintf(section, secsize, "%.*s", (int)(rb - buf - 1), buf + 1);
	return 1;
}
