/* SPDX-License-Identifier: Apache-2.0 */
/* Test hooks for kbuf (common/kbuf.c). Production code must not call these.
 *
 * kbuf_fail_next(n): the next n kbuf_alloc() calls (on any thread) return
 *   NULL as if memory were exhausted, so tests can drive the kbuf_wait()
 *   back-pressure path.
 * kbuf_idle_bytes(): bytes held in the calling thread's free lists.
 * kbuf_trim(): release the calling thread's free lists to the system.
 * KBUF_IDLE_CAP: the most idle bytes one thread keeps for reuse.
 */
#ifndef KURA_KBUF_TEST_H
#define KURA_KBUF_TEST_H
#include <stddef.h>

#define KBUF_IDLE_CAP ((size_t)64 << 20)

void kbuf_fail_next(unsigned n);
size_t kbuf_idle_bytes(void);
void kbuf_trim(void);
#endif
