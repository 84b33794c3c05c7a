/* SPDX-License-Identifier: Apache-2.0 */
/* The rbd backend's data path: read, write, flush, discard, write-zeroes
 * as librbd asynchronous calls.
 *
 * Completion: librbd calls back on one of its own threads; the callback
 * takes the result, releases the completion and hands the lun_io back to
 * the worker that submitted it with kloop_post (a lock-free queue and the
 * loop's eventfd: one wake-up covers every completion posted before the
 * loop drains the queue), where io->done runs. No thread of kura's per
 * I/O, no lock, no allocation per I/O (the state lives in backend_priv).
 *
 * FUA needs nothing: with rbd_cache off (lun_rbd.c) librbd acknowledges a
 * write once every replica has it. FLUSH is still rbd_aio_flush, which
 * waits for writes in flight. UNMAP is a discard (partial objects are
 * zeroed, so LBPRZ holds); WRITE ZEROES is rbd_aio_write_zeroes, thick
 * (writing zeros) unless LUN_IO_UNMAP allows deallocation.
 *
 * Not for: COMPARE AND WRITE (rbd_caw.c), block status (lun_rbd_ctl.c).
 */
#include <errno.h>
#include "lun-backends/rbd/lun_rbd_internal.h"

/* In-flight state, overlaid on io->backend_priv. */
struct rbd_io {
	struct kloop_task t; /* posted to io->loop on completion */
	int64_t ret;         /* librbd's return value */
};
lun_priv_fits(struct rbd_io);

static void rbd_io_done(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	int64_t ret = lun_priv(io, struct rbd_io)->ret;
	io->result = ret < 0 ? (int)ret : 0;
	io->done(io);
}

/* On a librbd thread. */
static void rbd_cb(rbd_completion_t c, void *arg)
{
	struct lun_io *io = arg;
	struct rbd_io *st = lun_priv(io, struct rbd_io);
	st->ret = rbd_aio_get_return_value(c);
	rbd_aio_release(c);
	st->t.fn = rbd_io_done;
	kloop_post(io->loop, &st->t);
}

static rbd_completion_t comp_new(struct lun_io *io)
{
	rbd_completion_t c = NULL;
	return rbd_aio_create_completion(io, rbd_cb, &c) < 0 ? NULL : c;
}

/* r: what the aio call returned; on refusal the completion never fires. */
static void submitted(struct lun_io *io, rbd_completion_t c, int r)
{
	if (r < 0) {
		rbd_aio_release(c);
		lun_complete_later(io, r);
	}
}

#define RBD_SUBMIT(io, call) \
	do { \
		rbd_completion_t c_ = comp_new(io); \
		if (!c_) \
			return lun_complete_later(io, -ENOMEM); \
		submitted(io, c_, (int)(call)); \
	} while (0)

static rbd_image_t img(struct lun_backend *be)
{
	return lun_rbd_of(be)->image;
}

static void lr_read(struct lun_backend *be, struct lun_io *io)
{
	RBD_SUBMIT(io, rbd_aio_readv(img(be), io->iov, io->iovcnt, io->offset, c_));
}

static void lr_write(struct lun_backend *be, struct lun_io *io)
{
	RBD_SUBMIT(io, rbd_aio_writev(img(be), io->iov, io->iovcnt, io->offset, c_));
}

static void lr_flush(struct lun_backend *be, struct lun_io *io)
{
	RBD_SUBMIT(io, rbd_aio_flush(img(be), c_));
}

static void lr_unmap(struct lun_backend *be, struct lun_io *io)
{
	RBD_SUBMIT(io, rbd_aio_discard(img(be), io->offset, io->length, c_));
}

static void lr_write_zeroes(struct lun_backend *be, struct lun_io *io)
{
	int zflags = io->flags & LUN_IO_UNMAP ? 0 : RBD_WRITE_ZEROES_FLAG_THICK_PROVISION;
	RBD_SUBMIT(io, rbd_aio_write_zeroes(img(be), io->offset, io->length, c_, zflags, 0));
}

const struct lun_backend_ops lun_rbd_ops = {
	.name = "rbd",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_BLOCK_STATUS |
		LUN_CAP_ATOMIC_CAW | LUN_CAP_SHARED_STATE,
	.submit_read = lr_read,
	.submit_write = lr_write,
	.submit_flush = lr_flush,
	.submit_unmap = lr_unmap,
	.submit_write_zeroes = lr_write_zeroes,
	.submit_block_status = lun_rbd_submit_block_status,
	.submit_compare_and_write = lun_rbd_submit_caw,
	.shared_state = &lun_rbd_shared_state,
	.close = lun_rbd_close,
	.watch_size = lun_rbd_watch_size,
};

const struct lun_backend_ops lun_rbd_local_ops = {
	.name = "rbd",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_BLOCK_STATUS,
	.submit_read = lr_read,
	.submit_write = lr_write,
	.submit_flush = lr_flush,
	.submit_unmap = lr_unmap,
	.submit_write_zeroes = lr_write_zeroes,
	.submit_block_status = lun_rbd_submit_block_status,
	.close = lun_rbd_close,
	.watch_size = lun_rbd_watch_size,
};
