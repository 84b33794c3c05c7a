/* SPDX-License-Identifier: Apache-2.0 */
/* The generic COPY (lun_backend.h): what a backend without submit_copy
 * does with LUN_OP_COPY, and what a backend that shares storage does with a
 * range it cannot share. Read the source into the caller's bounce buffer
 * (io->iov), then write it to the destination, both through lun_submit on
 * io->loop (io_uring for files): no thread, no blocking call. LUN_IO_FUA
 * goes with the write. With LUN_IO_COPY_SHARE nothing can be shared here:
 * it completes at once with copy_bytes 0.
 *
 * Not for: chunking, range locks or reservations (the caller's: the SCSI
 * layer copies one bounce buffer at a time under its locks).
 */
#include "lun-backends/lun_internal.h"
#include <errno.h>
#include <stdlib.h>

struct copy_op {
	struct lun_io io; /* the read, then the write */
	struct lun_io *outer;
	struct lun_backend *dst;
};

static void copy_finish(struct copy_op *c, int result)
{
	struct lun_io *outer = c->outer;
	free(c);
	outer->result = result;
	outer->done(outer);
}

static void copy_write_done(struct lun_io *io)
{
	copy_finish(io->priv, io->result);
}

static void copy_read_done(struct lun_io *io)
{
	struct copy_op *c = io->priv;
	if (io->result < 0)
		return copy_finish(c, io->result);
	io->op = LUN_OP_WRITE;
	io->flags = c->outer->flags & LUN_IO_FUA;
	io->offset = c->outer->offset;
	io->done = copy_write_done;
	lun_submit(c->dst, io);
}

void lun_copy_generic(struct lun_backend *be, struct lun_io *io)
{
	if (io->flags & LUN_IO_COPY_SHARE)
		return lun_complete_later(io, 0);
	struct copy_op *c = malloc(sizeof(*c));
	if (!c)
		return lun_complete_later(io, -ENOMEM);
	c->outer = io;
	c->dst = be;
	c->io = (struct lun_io){ .op = LUN_OP_READ,
				 .offset = io->copy_src_offset,
				 .length = io->length,
				 .iov = io->iov,
				 .iovcnt = io->iovcnt,
				 .loop = io->loop,
				 .done = copy_read_done,
				 .priv = c };
	lun_submit(io->copy_src, &c->io);
}
