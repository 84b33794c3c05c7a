/* SPDX-License-Identifier: Apache-2.0 */
/* COMPARE AND WRITE on an RBD image, atomic across gateways (issue 13).
 *
 * Three routes, chosen per request (docs/ceph.md "COMPARE AND WRITE"):
 *
 *  - native: librbd's rbd_aio_compare_and_write, which librbd 16 accepts
 *    only within one aligned 512-byte sector (-EINVAL otherwise): a CAW of
 *    one block on a 512-byte LU. librbd sends it to the OSD as one
 *    compare-extent + write operation on the data object.
 *  - object: anything else within one RADOS object of a "plain" image (no
 *    parent, no snapshot, no object map or journal, default striping, data
 *    in the image's pool): the same compare-extent + write operation, built
 *    here on the data object "<block_name_prefix>.<object number %016x>"
 *    (a missing object compares as zeros and is created by the write).
 *    The OSD runs one operation at a time per object, so two gateways
 *    racing on a block never both succeed, nor does a native CAW beside it.
 *  - locked: the rest (an image with a parent or snapshots, a range across
 *    an object boundary): on the shared state's thread, under a RADOS
 *    exclusive lock on the state object held by one gateway at a time:
 *    read, compare, write, unlock. Atomic against every other locked CAW;
 *    not against a native or object CAW on the same blocks, which can only
 *    happen when the image changes between plain and not while CAWs run.
 *
 * Whether the image is plain is looked up at open and again on every
 * header change librbd reports (a snapshot, a clone flattened, a feature
 * switched), on the state thread.
 *
 * Completion as in lun_rbd_io.c: the librbd / librados callback posts the
 * result back to the submitting worker's loop. One allocation per CAW for
 * the buffers (librbd and librados want the compare and write data
 * contiguous).
 *
 * Not for: plain reads and writes (lun_rbd_io.c), the shared state (rbd_state.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/container.h"
#include "common/iov.h"
#include "common/log.h"
#include "lun-backends/rbd/lun_rbd_internal.h"
#include "lun-backends/rbd/rbd_state.h"

#define CAW_LOCK        "kura.caw"
#define CAW_LOCK_S      30   /* a lock held by a gateway that died expires after this */
#define CAW_LOCK_WAIT_S 20   /* a locked CAW gives up (BUSY) after this */
#define RADOS_MAX_ERRNO 4095 /* cmpext: -MAX_ERRNO - offset of the first difference */

struct rbd_caw {
	struct lun_rbd *r;
	char prefix[64]; /* the image's block_name_prefix */
	atomic_bool plain;
	uint64_t watch_handle;
	bool watching;
	atomic_bool refresh_queued;
	struct kloop_task refresh_task;
};

struct caw_st { /* one per CAW: the posted completion, the buffers */
	struct kloop_task t;
	struct lun_io *io;
	struct lun_rbd *r;
	uint64_t mismatch; /* librbd: image offset of the first difference */
	int64_t ret;
	char buf[]; /* compare data then write data */
};

static void caw_done(struct kloop_task *t)
{
	struct caw_st *st = (struct caw_st *)t;
	struct lun_io *io = st->io;
	io->result = st->ret < 0 ? (int)st->ret : 0;
	if (st->ret == -EILSEQ)
		io->miscompare_offset = st->mismatch;
	free(st);
	io->done(io);
}

static void post_done(struct caw_st *st)
{
	st->t.fn = caw_done;
	kloop_post(st->io->loop, &st->t);
}

/* ---- native ---- */
static void native_cb(rbd_completion_t c, void *arg)
{
	struct caw_st *st = arg;
	st->ret = rbd_aio_get_return_value(c);
	rbd_aio_release(c);
	if (st->ret == -EILSEQ) /* librbd gives the image offset */
		st->mismatch = st->mismatch >= st->io->offset ? st->mismatch - st->io->offset : 0;
	post_done(st);
}

static int native(struct lun_rbd *r, struct caw_st *st)
{
	struct lun_io *io = st->io;
	rbd_completion_t c = NULL;
	if (rbd_aio_create_completion(st, native_cb, &c) < 0)
		return -ENOMEM;
	int e = (int)rbd_aio_compare_and_write(r->image, io->offset, io->length, st->buf,
					       st->buf + io->length, c, &st->mismatch, 0);
	if (e < 0)
		rbd_aio_release(c);
	return e < 0 ? e : 0;
}

/* ---- object: compare-extent + write on the data object ---- */
static void object_cb(rados_completion_t c, void *arg)
{
	struct caw_st *st = arg;
	int e = rados_aio_get_return_value(c);
	rados_aio_release(c);
	if (e <= -RADOS_MAX_ERRNO) {
		st->mismatch = (uint64_t)(-(int64_t)e - RADOS_MAX_ERRNO);
		e = -EILSEQ;
	}
	st->ret = e;
	post_done(st);
}

static int object(struct lun_rbd *r, struct caw_st *st)
{
	struct lun_io *io = st->io;
	char oid[96];
	uint64_t off = io->offset % r->obj_size;
	snprintf(oid, sizeof(oid), "%s.%016" PRIx64, r->caw->prefix, io->offset / r->obj_size);
	rados_completion_t c = NULL;
	if (rados_aio_create_completion2(st, object_cb, &c) < 0)
		return -ENOMEM;
	rados_write_op_t op = rados_create_write_op();
	if (!op) {
		rados_aio_release(c);
		return -ENOMEM;
	}
	rados_write_op_cmpext(op, st->buf, io->length, off, NULL);
	rados_write_op_write(op, st->buf + io->length, io->length, off);
	int e = rados_aio_write_op_operate(op, r->ioctx, c, oid, NULL, 0);
	rados_release_write_op(op);
	if (e < 0)
		rados_aio_release(c);
	return e;
}

/* ---- locked: read, compare, write under the RADOS lock ---- */
struct locked_job {
	struct kloop_task kt;
	struct caw_st *st;
};

static int lock_take(struct lun_rbd *r, const char *oid, const char *cookie)
{
	struct timeval d = { CAW_LOCK_S, 0 };
	struct timespec ts = { 0, 1000 * 1000 };
	for (long i = 0; i < CAW_LOCK_WAIT_S * 1000L; i++) {
		int e = rados_lock_exclusive(r->ioctx, oid, CAW_LOCK, cookie, "kura caw", &d, 0);
		if (e != -EBUSY && e != -EEXIST)
			return e;
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

static int64_t read_compare_write(struct lun_rbd *r, struct caw_st *st)
{
	struct lun_io *io = st->io;
	char *cur = malloc(io->length);
	if (!cur)
		return -ENOMEM;
	int64_t e = rbd_read(r->image, io->offset, io->length, cur);
	if (e >= 0 && (uint64_t)e != io->length)
		e = -EIO;
	for (uint64_t i = 0; e >= 0 && i < io->length; i++)
		if (cur[i] != st->buf[i]) {
			st->mismatch = i;
			e = -EILSEQ;
		}
	if (e >= 0)
		e = rbd_write(r->image, io->offset, io->length, st->buf + io->length);
	free(cur);
	return e < 0 ? e : 0;
}

static void locked_run(struct kloop_task *kt)
{
	struct locked_job *j = (struct locked_job *)kt;
	struct caw_st *st = j->st;
	struct lun_rbd *r = st->r;
	char cookie[32];
	snprintf(cookie, sizeof(cookie), "%" PRIu64,
		 rados_get_instance_id(rados_ioctx_get_cluster(r->ioctx)));
	const char *oid = rbd_state_oid(r->state);
	int e = lock_take(r, oid, cookie);
	st->ret = e < 0 ? e : read_compare_write(r, st);
	if (e == 0)
		rados_unlock(r->ioctx, oid, CAW_LOCK, cookie);
	free(j);
	post_done(st);
}

static int locked(struct lun_rbd *r, struct caw_st *st)
{
	struct locked_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct locked_job){ .kt.fn = locked_run, .st = st };
	rbd_state_run(r->state, &j->kt);
	return 0;
}

void lun_rbd_submit_caw(struct lun_backend *be, struct lun_io *io)
{
	struct lun_rbd *r = lun_rbd_of(be);
	uint64_t len = io->length, off = io->offset;
	struct caw_st *st = malloc(sizeof(*st) + 2 * len);
	if (!st)
		return lun_complete_later(io, -ENOMEM);
	memset(st, 0, sizeof(*st));
	st->io = io;
	st->r = r;
	kiov_to_buf(io->iov, io->iovcnt, 0, st->buf, 2 * len);
	int e;
	if (off % 512 + len <= 512)
		e = native(r, st);
	else if (atomic_load(&r->caw->plain) && off / r->obj_size == (off + len - 1) / r->obj_size)
		e = object(r, st);
	else
		e = locked(r, st);
	if (e < 0) {
		free(st);
		lun_complete_later(io, e);
	}
}

/* ---- is the image plain? ---- */
static bool image_plain(struct lun_rbd *r)
{
	uint64_t f = 0, su = 0, sc = 0, overlap = 0;
	rbd_snap_info_t snaps[8];
	int max = 8;
	if (rbd_get_features(r->image, &f) < 0 || rbd_get_stripe_unit(r->image, &su) < 0 ||
	    rbd_get_stripe_count(r->image, &sc) < 0)
		return false;
	int n = rbd_snap_list(r->image, snaps, &max);
	if (n > 0)
		rbd_snap_list_end(snaps);
	int64_t dp = rbd_get_data_pool_id(r->image);
	if (rbd_get_overlap(r->image, &overlap) < 0)
		overlap = 1;
	return !(f & (RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_JOURNALING)) && su == r->obj_size &&
	       sc == 1 && n == 0 && overlap == 0 && (dp < 0 || dp == rados_ioctx_get_id(r->ioctx));
}

static void refresh_run(struct kloop_task *kt)
{
	struct rbd_caw *c = container_of(kt, struct rbd_caw, refresh_task);
	atomic_store(&c->refresh_queued, false);
	bool was = atomic_load(&c->plain), now = image_plain(c->r);
	atomic_store(&c->plain, now);
	if (was != now)
		kinfo("rbd: %s: COMPARE AND WRITE beyond one sector now %s", c->r->name,
		      now ? "on the data object" : "under the RADOS lock");
}

/* On a librbd thread: the image header changed. */
static void header_changed(void *arg)
{
	struct rbd_caw *c = arg;
	atomic_store(&c->plain, false); /* until looked up again: the safe route */
	if (!atomic_exchange(&c->refresh_queued, true)) {
		c->refresh_task.fn = refresh_run;
		rbd_state_run(c->r->state, &c->refresh_task);
	}
}

int rbd_caw_open(struct lun_rbd *r, char *err, size_t errlen)
{
	rbd_image_info_t info;
	struct rbd_caw *c = calloc(1, sizeof(*c));
	int e = c ? rbd_stat(r->image, &info, sizeof(info)) : -ENOMEM;
	if (e == 0) {
		c->r = r;
		snprintf(c->prefix, sizeof(c->prefix), "%s", info.block_name_prefix);
		atomic_init(&c->plain, image_plain(r));
		e = rbd_update_watch(r->image, &c->watch_handle, header_changed, c);
		c->watching = e == 0;
	}
	if (e < 0) {
		snprintf(err, errlen, "COMPARE AND WRITE set-up: %s", strerror(-e));
		free(c);
		return e;
	}
	r->caw = c;
	return 0;
}

void rbd_caw_stop(struct lun_rbd *r)
{
	struct rbd_caw *c = r->caw;
	if (c && c->watching)
		rbd_update_unwatch(r->image, c->watch_handle);
	if (c)
		c->watching = false;
}

void rbd_caw_close(struct lun_rbd *r)
{
	free(r->caw); /* after rbd_caw_stop and the state thread's end: nothing refers to it */
	r->caw = NULL;
}
