/* SPDX-License-Identifier: Apache-2.0 */
/* kbuf: pooled data buffers for commands.
 *
 * Large commands (128 KiB .. several MiB) must not pay page faults for a
 * fresh allocation each time, so buffers come from per-thread free lists in
 * power-of-two size classes (4 KiB .. 16 MiB), page aligned (usable for
 * O_DIRECT). Buffers may be freed on any thread (they return to the freeing
 * thread's list). Lists are capped so idle memory stays bounded.
 *
 * Allocation failure returns NULL: callers queue the command and retry later
 * (kbuf_wait), they do not fail it.
 */
#ifndef KURA_KBUF_H
#define KURA_KBUF_H
#include <stddef.h>

struct kloop_task;

void *kbuf_alloc(size_t len);      /* NULL if len > 16 MiB or out of memory */
void kbuf_free(void *buf);         /* NULL is a no-op */
size_t kbuf_size(const void *buf); /* usable size of the buffer's class */

/* Out-of-memory back-pressure: queue t to run on the calling thread's loop
 * after the next kbuf_free() on that thread (or after at most 10 ms). */
void kbuf_wait(struct kloop_task *t);
#endif
