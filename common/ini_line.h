/* SPDX-License-Identifier: Apache-2.0 */
/* One line of an INI file as the daemons' inih readers (ini_parse_stream)
 * hand it on: indentation and the line end (CR, LF, trailing blanks)
 * removed, and a section header's text taken out so that the caller can
 * open the section with its line number before inih sees it.
 *
 * Used by kura-targetd's configuration (target/model/config.c) and
 * kura-lockd's (cluster-lock/lock_config.c). Not for: keys and values
 * (inih splits those) or reading the file.
 */
#ifndef KURA_INI_LINE_H
#define KURA_INI_LINE_H
#include <stddef.h>

/* Copy the raw line s (len bytes, newline optional) into buf (size bytes)
 * trimmed as above. Returns 1 if it is a section header "[text]" (section,
 * secsize bytes, gets text, possibly empty), 0 for any other line, -E2BIG if
 * the trimmed line needs more than size - 2 bytes (inih's own limit), -EILSEQ
 * if it holds a NUL byte (inih would silently cut it there; buf is then ""). */
int kini_line(const char *s, size_t len, char *buf, size_t size, char *section, size_t secsize);
#endif
