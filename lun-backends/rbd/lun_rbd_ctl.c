/* SPDX-License-Identifier: Apache-2.0 */
/* The rbd backend's control thread: what librbd offers only as blocking
 * calls, kept off the workers' loops.
 *
 *  - BLOCK STATUS (GET LBA STATUS): rbd_diff_iterate2 over a window of at
 *    most RBD_BS_WINDOW_OBJS objects from the offset, whole objects, parent
 *    included (a clone's unwritten blocks read its parent's data: mapped).
 *    The first extent decides: mapped up to the end of the run of existing
 *    objects, or a hole up to the next existing object (or the window's
 *    end). With the object-map feature this reads one small object; without
 *    it, one RADOS stat per object of the window.
 *  - Size watch: librbd's update_watch tells us (on a librbd thread) that
 *    the image header changed; the control thread reads the size, sets
 *    be->size and calls the watcher (the SCSI layer raises 2A/09), so a
 *    `rbd resize` anywhere reaches the initiators.
 *
 * Each task queued here runs once on the thread, in order; I/O completions
 * go back to their worker with kloop_post.
 *
 * Not for: the data path (lun_rbd_io.c).
 */
#include <errno.h>
#include "common/log.h"
#include "lun-backends/rbd/lun_rbd_internal.h"

#define RBD_BS_WINDOW_OBJS 256

static void *ctl_main(void *arg)
{
	struct lun_rbd *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stop && !r->ctlq.head)
			pthread_cond_wait(&r->cv, &r->mu);
		struct kloop_task *t = kloop_taskq_take(&r->ctlq);
		if (!t && r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		kloop_tasks_run(t);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

void lun_rbd_ctl_queue(struct lun_rbd *r, struct kloop_task *t)
{
	pthread_mutex_lock(&r->mu);
	kloop_taskq_push(&r->ctlq, t);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- size watch */

static void resize_fn(struct kloop_task *t)
{
	struct lun_rbd *r = container_of(t, struct lun_rbd, resize_task);
	uint64_t size = 0;
	atomic_store(&r->resize_queued, false);
	int e = rbd_get_size(r->image, &size);
	size -= size % r->be.block_size;
	if (e < 0 || size == r->be.size || size == 0)
		return;
	kinfo("rbd: %s/%s resized from %llu to %llu bytes", r->pool, r->name,
	      (unsigned long long)r->be.size, (unsigned long long)size);
	r->be.size = size;
	pthread_mutex_lock(&r->mu);
	if (r->size_cb)
		r->size_cb(r->size_arg);
	pthread_mutex_unlock(&r->mu);
}

/* On a librbd thread: the header changed (resize, snapshot, ...). */
static void update_cb(void *arg)
{
	struct lun_rbd *r = arg;
	if (!atomic_exchange(&r->resize_queued, true))
		lun_rbd_ctl_queue(r, &r->resize_task);
}

void lun_rbd_watch_size(struct lun_backend *be, void (*cb)(void *arg), void *arg)
{
	struct lun_rbd *r = lun_rbd_of(be);
	pthread_mutex_lock(&r->mu);
	r->size_cb = cb;
	r->size_arg = arg;
	pthread_mutex_unlock(&r->mu);
}

int lun_rbd_ctl_start(struct lun_rbd *r)
{
	r->resize_task.fn = resize_fn;
	int e = -pthread_create(&r->ctl, NULL, ctl_main, r);
	if (e < 0)
		return e;
	r->ctl_started = true;
	e = rbd_update_watch(r->image, &r->watch_handle, update_cb, r);
	if (e == 0)
		r->watching = true;
	else
		kwarn("rbd: %s: no update watch (%s): resizes are seen at the next open", r->name,
		      strerror(-e));
	return 0;
}

void lun_rbd_ctl_stop(struct lun_rbd *r)
{
	if (!r->ctl_started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->ctl, NULL);
	r->ctl_started = false;
}

/* ---------------------------------------------------------------- block status */

struct bs_scan {
	uint64_t at;      /* the offset asked about */
	uint64_t end;     /* of the window */
	bool started;     /* the extent containing or following `at` is known */
	bool mapped;      /* that extent's state */
	uint64_t run_end; /* where the answer's extent ends so far */
};

/* Extents come in offset order; only existing ones are reported with a
 * NULL from-snapshot. A negative return stops the iteration. */
static int bs_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct bs_scan *s = arg;
	if (!exists)
		return 0;
	uint64_t end = off + len;
	if (!s->started) {
		s->started = true;
		s->mapped = off <= s->at;
		s->run_end = s->mapped ? end : off;
		return s->mapped ? 0 : -ECANCELED; /* a hole ends where the first object starts */
	}
	if (s->mapped && off == s->run_end) {
		s->run_end = end; /* contiguous: the mapped run goes on */
		return 0;
	}
	return -ECANCELED; /* the answer is complete */
}

struct rbd_bs {
	struct kloop_task t; /* ctl queue, then posted back */
	struct lun_rbd *r;
};
lun_priv_fits(struct rbd_bs);

static void bs_done(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	io->done(io);
}

static void bs_fn(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	struct lun_rbd *r = lun_priv(io, struct rbd_bs)->r;
	uint64_t os = r->obj_size, size = r->be.size;
	uint64_t start = io->offset - io->offset % os;
	struct bs_scan s = { .at = io->offset, .end = start + RBD_BS_WINDOW_OBJS * os };
	if (s.end > size)
		s.end = size;
	int e = rbd_diff_iterate2(r->image, NULL, start, s.end - start, 1, 1, bs_cb, &s);
	if (e < 0 && e != -ECANCELED)
		io->result = e;
	if (!s.started) {
		s.mapped = false;
		s.run_end = s.end;
	}
	if (s.run_end > size)
		s.run_end = size;
	io->bs_mapped = s.mapped;
	io->bs_length = s.run_end > io->offset ? s.run_end - io->offset : r->be.block_size;
	t->fn = bs_done;
	kloop_post(io->loop, t);
}

void lun_rbd_submit_block_status(struct lun_backend *be, struct lun_io *io)
{
	struct rbd_bs *st = lun_priv(io, struct rbd_bs);
	st->r = lun_rbd_of(be);
	st->t.fn = bs_fn;
	lun_rbd_ctl_queue(st->r, &st->t);
}
