/* SPDX-License-Identifier: Apache-2.0 */
/* hex: the value of one hexadecimal digit, for the parsers that read hex text
 * (CHAP 0x binary values, 0x numbers in login keys, %XX escapes in control
 * replies). Header-only so that unit tests which #include a module's .c files
 * need nothing more to link.
 *
 * Not for: whole-string decoding; each caller has its own rules for odd
 * lengths, prefixes and limits.
 */
#ifndef KURA_HEX_H
#define KURA_HEX_H

/* 0..15 for [0-9a-fA-F], -1 for anything else. */
static inline int khex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
