/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI name checks: see iscsi_name.h. Pure functions, no state.
 *
 * Not for: the login's choice of status for a bad name (iscsi_login.c) or
 * the configuration's wording around the reason (target/model).
 */
#include "target/iscsi/iscsi_name.h"
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

static bool iqn_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "iqn.YYYY-MM.reverse.domain[:anything]" (RFC 7143 4.2.7.2). */
static const char *check_iqn(const char *s)
{
	const char *d = s + 4;
	if (strlen(s) < 12 || !digits(d, 4) || d[4] != '-' || !digits(d + 5, 2) || d[7] != '.')
		return "iqn names look like iqn.YYYY-MM.reverse.domain[:suffix]";
	int month = (d[5] - '0') * 10 + (d[6] - '0');
	if (month < 1 || month > 12)
		return "month in iqn.YYYY-MM must be 01..12";
	const char *dom = d + 8;
	if (!isalnum((unsigned char)*dom))
		return "iqn naming authority (reverse domain) is missing";
	for (const char *c = dom; *c; c++)
		if (!iqn_char(*c))
			return isupper((unsigned char)*c) ? "iSCSI names are lower case (RFC 3722)"
							  : "iqn names use only a-z 0-9 - . :";
	return NULL;
}

const char *iscsi_name_error(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return "empty iSCSI name";
	if (n > ISCSI_NAME_MAX)
		return "iSCSI names are at most 223 bytes";
	if (strncmp(s, "iqn.", 4) == 0)
		return check_iqn(s);
	if (strncmp(s, "eui.", 4) == 0)
		return all_hex(s + 4, 16) ? NULL : "eui. names have exactly 16 hex digits";
	if (strncmp(s, "naa.", 4) == 0)
		return all_hex(s + 4, 16) || all_hex(s + 4, 32)
			       ? NULL
			       : "naa. names have 16 or 32 hex digits";
	return "iSCSI names start with iqn., eui. or naa.";
}

const char *iscsi_name_fold(const char *s, char out[ISCSI_NAME_MAX + 1])
{
	size_t i = 0;
	for (; s[i] && i < ISCSI_NAME_MAX; i++)
		out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	out[i] = '\0';
	if (s[i])
		return "iSCSI names are at most 223 bytes";
	return iscsi_name_error(out);
}
