/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI names (RFC 3720 3.2.6, RFC 7143 4.2.7, RFC 3722): the one check of
 * an InitiatorName or TargetName, used by the login (names from the wire)
 * and by the configuration (target names, ACL entries).
 *
 * Accepted forms: "iqn.YYYY-MM.reverse.domain[:anything]" with only a-z 0-9
 * '-' '.' ':' after it; "eui." and 16 hex digits; "naa." and 16 or 32 hex
 * digits; at most 223 bytes. RFC 3722's stringprep maps upper case to lower
 * case before the check: iscsi_name_fold does that for names from the wire;
 * a configuration file must already be written in the normalized form.
 * Non-ASCII names (which RFC 3722 would allow after normalization) are
 * refused.
 *
 * Not for: comparing names (callers compare normalized names with strcmp /
 * strcasecmp) or escaping them for printing (common/log.h klog_escape).
 */
#ifndef KURA_ISCSI_NAME_H
#define KURA_ISCSI_NAME_H
#include <stddef.h>

#define ISCSI_NAME_MAX 223 /* bytes, RFC 7143 4.2.7.1 */

/* NULL if s is a valid, normalized iSCSI name, else the reason (a constant
 * string, e.g. "iqn names use only a-z 0-9 - . :"). */
const char *iscsi_name_error(const char *s);

/* Normalize s (ASCII upper case to lower case, as RFC 3722's mapping step)
 * into out (ISCSI_NAME_MAX + 1 bytes) and check it. NULL if valid, else the
 * reason (out then holds as much of the folded name as fits). */
const char *iscsi_name_fold(const char *s, char out[ISCSI_NAME_MAX + 1]);
#endif
