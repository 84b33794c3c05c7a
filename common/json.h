/* SPDX-License-Identifier: Apache-2.0 */
/* JSON output helpers shared by the daemons' --json listings
 * (kura-targetctl's answers, kura-lockctl dump / status).
 *
 * Not for: parsing JSON, or building documents (callers print the
 * structure themselves; only strings need escaping).
 */
#ifndef KURA_JSON_H
#define KURA_JSON_H
#include <stdio.h>

/* Print s as a JSON string: quoted, '"' and '\' escaped, control bytes as
 * \u00XX (RFC 8259 section 7); other bytes are copied as they are. */
void kjson_str(FILE *f, const char *s);
#endif
