/* SPDX-License-Identifier: Apache-2.0 */
/* The backend dispatcher: opening by kind name (through the registry), capability queries, and
 * lun_submit(), which is the one place where a lun_io is validated (range,
 * alignment, iovec length, read-only) before a backend sees it. Backends
 * below this edge may assume well-formed requests.
 *
 * Not for: backend logic (lun_file.c, lun_mem.c) or SCSI semantics.
 */
#include "lun-backends/lun_internal.h"
#include "lun-backends/lun_registry.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int lun_backend_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		     size_t errlen)
{
	*out = NULL;
	if (!p->type) {
		snprintf(err, errlen, "backend type missing");
		return -EINVAL;
	}
	const struct lun_kind *k = lun_kind_find(p->type); /* lun_registry.c */
	if (k && k->open)
		return k->open(p, out, err, errlen);
	snprintf(err, errlen, "unknown backend type '%s' (expected file or memory)", p->type);
	return -EINVAL;
}

void lun_backend_close(struct lun_backend *be)
{
	if (be)
		be->ops->close(be);
}

typedef void (*lun_submit_fn)(struct lun_backend *, struct lun_io *);

static lun_submit_fn op_fn(const struct lun_backend *be, enum lun_op op)
{
	const struct lun_backend_ops *o = be->ops;
	switch (op) {
	case LUN_OP_READ: return o->submit_read;
	case LUN_OP_WRITE: return o->submit_write;
	case LUN_OP_FLUSH: return o->submit_flush;
	case LUN_OP_UNMAP: return o->submit_unmap;
	case LUN_OP_WRITE_ZEROES: return o->submit_write_zeroes;
	case LUN_OP_COMPARE_AND_WRITE: return o->submit_compare_and_write;
	case LUN_OP_BLOCK_STATUS: return o->submit_block_status;
	case LUN_OP_COPY: return o->submit_copy ? o->submit_copy : lun_copy_generic;
	}
	return NULL;
}

void lun_backend_watch_size(struct lun_backend *be, void (*cb)(void *arg), void *arg)
{
	if (be && be->ops->watch_size)
		be->ops->watch_size(be, cb, arg);
}

bool lun_backend_has(const struct lun_backend *be, enum lun_op op)
{
	return op_fn(be, op) != NULL;
}

unsigned lun_backend_caps(const struct lun_backend *be)
{
	return be->ops->caps;
}

static const struct {
	unsigned cap;
	enum lun_op op;
} cap_ops[] = {
	{ LUN_CAP_FLUSH, LUN_OP_FLUSH },
	{ LUN_CAP_UNMAP, LUN_OP_UNMAP },
	{ LUN_CAP_WRITE_ZEROES, LUN_OP_WRITE_ZEROES },
	{ LUN_CAP_ATOMIC_CAW, LUN_OP_COMPARE_AND_WRITE },
	{ LUN_CAP_BLOCK_STATUS, LUN_OP_BLOCK_STATUS },
};

bool lun_backend_caps_consistent(const struct lun_backend *be)
{
	for (size_t i = 0; i < sizeof(cap_ops) / sizeof(cap_ops[0]); i++)
		if (!(be->ops->caps & cap_ops[i].cap) != !lun_backend_has(be, cap_ops[i].op))
			return false;
	if ((be->ops->caps & LUN_CAP_COPY_SHARE) && (!be->ops->submit_copy || !be->copy_domain))
		return false;
	if (!(be->ops->caps & LUN_CAP_SHARED_STATE) != !be->ops->shared_state)
		return false;
	return true;
}

bool lun_copy_can_share(const struct lun_backend *src, const struct lun_backend *dst,
			uint32_t *granularity)
{
	if (!(src->ops->caps & dst->ops->caps & LUN_CAP_COPY_SHARE) || !src->copy_domain ||
	    src->copy_domain != dst->copy_domain)
		return false;
	*granularity = dst->copy_granularity;
	return true;
}

static bool op_writes(enum lun_op op)
{
	return op == LUN_OP_WRITE || op == LUN_OP_UNMAP || op == LUN_OP_WRITE_ZEROES ||
	       op == LUN_OP_COMPARE_AND_WRITE || op == LUN_OP_COPY;
}

static bool op_has_data(const struct lun_io *io)
{
	return io->op == LUN_OP_READ || io->op == LUN_OP_WRITE ||
	       io->op == LUN_OP_COMPARE_AND_WRITE ||
	       (io->op == LUN_OP_COPY && !(io->flags & LUN_IO_COPY_SHARE));
}

/* COPY: a source of the same block size, the range inside it (overflow-safe). */
static int validate_copy_src(const struct lun_backend *be, const struct lun_io *io)
{
	const struct lun_backend *src = io->copy_src;
	if (!src || src->block_size != be->block_size || io->copy_src_offset % be->block_size)
		return -EINVAL;
	if (io->copy_src_offset > src->size || io->length > src->size - io->copy_src_offset)
		return -ERANGE;
	return 0;
}

/* 0 if io is well formed for be, else the -errno to complete it with. */
static int validate(const struct lun_backend *be, const struct lun_io *io)
{
	if (be->read_only && op_writes(io->op))
		return -EROFS;
	if (io->offset % be->block_size || io->length % be->block_size)
		return -EINVAL;
	if (io->op == LUN_OP_BLOCK_STATUS)
		return io->offset < be->size ? 0 : -ERANGE;
	/* overflow-safe: offset + length may wrap */
	if (io->offset > be->size || io->length > be->size - io->offset)
		return -ERANGE;
	if (io->op == LUN_OP_COPY && validate_copy_src(be, io))
		return validate_copy_src(be, io);
	if (op_has_data(io)) {
		uint64_t want = io->op == LUN_OP_COMPARE_AND_WRITE ? 2 * io->length : io->length;
		if (io->iovcnt < 0 || (io->iovcnt > 0 && !io->iov) ||
		    kiov_bytes(io->iov, io->iovcnt) != want)
			return -EINVAL;
	}
	return 0;
}

void lun_submit(struct lun_backend *be, struct lun_io *io)
{
	io->result = 0;
	io->miscompare_offset = 0;
	io->copy_skip = io->copy_bytes = 0;
	lun_submit_fn fn = op_fn(be, io->op);
	int r = fn ? validate(be, io) : -EOPNOTSUPP;
	if (r == 0 && io->length == 0 && io->op != LUN_OP_FLUSH && io->op != LUN_OP_BLOCK_STATUS)
		r = 1; /* nothing to do: complete with success */
	if (r)
		lun_complete_later(io, r > 0 ? 0 : r);
	else
		fn(be, io);
}

/* ---- helpers for backends (lun_internal.h) ---- */

struct lun_later {
	struct kloop_task t;
};
lun_priv_fits(struct lun_later);

static void later_fn(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	io->done(io);
}

void lun_complete_later(struct lun_io *io, int result)
{
	struct lun_later *l = lun_priv(io, struct lun_later);
	io->result = result;
	l->t.fn = later_fn;
	kloop_defer(io->loop, &l->t);
}

const char *lun_params_get(const struct lun_backend_params *p, const char *key)
{
	for (int i = 0; i < p->n_kind_keys; i++)
		if (strcmp(p->kind_keys[i].key, key) == 0)
			return p->kind_keys[i].value;
	return NULL;
}
