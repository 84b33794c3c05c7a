/* SPDX-License-Identifier: Apache-2.0 */
/* Submitting a lun_io from inside a kloop callback, as the target's workers
 * do, for the backend unit tests (test_lun_file, test_lun_mem, test_raid,
 * test_lun_copy). A backend must never complete an I/O inline: *in_submit
 * is true while lun_submit runs, and the tests' completions assert it false.
 *
 * Not for: waiting for the completion (each test runs its loop itself).
 */
#ifndef KURA_TEST_LOOP_SUBMIT_H
#define KURA_TEST_LOOP_SUBMIT_H
#include <stdbool.h>
#include "common/container.h"
#include "common/kloop.h"
#include "lun-backends/lun_backend.h"

struct loop_submit {
	struct kloop_task t;
	struct lun_backend *be;
	struct lun_io *io;
	bool *in_submit;
	void (*fn)(struct lun_io *io); /* optional custom start instead of lun_submit */
};

static void loop_submit_fn(struct kloop_task *t)
{
	struct loop_submit *s = container_of(t, struct loop_submit, t);
	*s->in_submit = true;
	if (s->fn)
		s->fn(s->io);
	else
		lun_submit(s->be, s->io);
	*s->in_submit = false;
}

/* Queue s (be, io, in_submit and optionally fn filled in) on loop l. */
static inline void loop_submit(struct kloop *l, struct loop_submit *s)
{
	s->t.fn = loop_submit_fn;
	kloop_defer(l, &s->t);
}
#endif
