/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the thin pool (lun-backends/lun_thin_*.c): volumes over a
 * real file backend in a temp dir, driven through a real kloop. Covers data
 * semantics (patterns, zeros for holes and around a first partial write,
 * unmap, block status, concurrent first writes into one chunk), space
 * (overcommit, ENOSPC with reads/overwrites still working, grow, low-water
 * event once), snapshots/clones and deletion in every order, metadata
 * durability (reopen after close and after a dropped pool, journal wrap,
 * torn journal tail, one or both checkpoint slots corrupt, check/repair). The
 * fork + SIGKILL crash loop is in test_thin_crash.c. */
#include "lun-backends/lun_backend.c"
#include "lun-backends/lun_file.c"
#include "lun-backends/thin/lun_thin_meta.c"
#include "lun-backends/thin/lun_thin_journal.c"
#include "lun-backends/thin/lun_thin_format.c"
#include "lun-backends/thin/lun_thin_pool.c"
#include "lun-backends/thin/lun_thin_ctl.c"
#include "lun-backends/thin/lun_thin_io.c"

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "thin_harness.h"

static int op0(struct env *e, struct lun_backend *be, enum lun_op op, unsigned flags, uint64_t off,
	       uint64_t len)
{
	struct lun_io io = { .op = op, .flags = flags, .offset = off, .length = len };
	run_ios(e, be, &io, 1);
	return io.result;
}

static void bstat(struct env *e, struct lun_backend *be, uint64_t off, bool *mapped, uint64_t *len)
{
	struct lun_io io = { .op = LUN_OP_BLOCK_STATUS, .offset = off, .length = be->block_size };
	run_ios(e, be, &io, 1);
	assert_int_equal(io.result, 0);
	*mapped = io.bs_mapped;
	*len = io.bs_length;
}

/* ---- data semantics ---- */

static void test_rw_patterns(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 64 * MiB), 0); /* 4x overcommit */
	struct lun_thin_pool_status st;
	lun_thin_pool_status(e->pool, &st);
	assert_int_equal(st.chunks_total, 256);
	assert_true(st.overcommit > 3.9 && st.overcommit < 4.1);
	struct lun_backend *be = vopen(e, 1, 512);
	assert_int_equal(be->size, 64 * MiB);
	assert_true(be->zeroes_after_unmap);
	expect(e, be, 0, 256 * KiB, 0);
	assert_int_equal(used(e), 0); /* reads of holes allocate nothing */
	put(e, be, 0, 4 * KiB, 1);
	put(e, be, CS - 512, 1024, 2);                /* straddles two chunks */
	put(e, be, 60 * MiB + 3 * 512, 200 * KiB, 3); /* unaligned, several chunks */
	expect(e, be, 0, 4 * KiB, 1);
	expect(e, be, 4 * KiB, CS - 4 * KiB - 512, 0); /* rest of the first chunk: zeros */
	expect(e, be, CS - 512, 1024, 2);
	expect(e, be, CS + 512, CS - 512, 0);
	expect(e, be, 60 * MiB + 3 * 512, 200 * KiB, 3);
	expect(e, be, 60 * MiB, 3 * 512, 0);
	assert_int_equal(used(e), 2 + 4);
	put(e, be, 0, 4 * KiB, 4); /* overwrite in place: no new chunk */
	expect(e, be, 0, 4 * KiB, 4);
	assert_int_equal(used(e), 6);
	assert_int_equal(op0(e, be, LUN_OP_FLUSH, 0, 0, 0), 0);
	uint8_t b[512];
	assert_int_equal(rw(e, be, LUN_OP_WRITE, LUN_IO_FUA, 5 * MiB, b, 0), 0);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

static void test_iovecs_and_4k(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 7, 8 * MiB), 0);
	struct lun_backend *be = vopen(e, 7, 4096);
	assert_int_equal(be->block_size, 4096);
	uint8_t *src = malloc(3 * CS);
	fill(src, CS / 2, 3 * CS, 9);
	struct iovec iov[3] = { { src, 1000 },
				{ src + 1000, CS },
				{ src + 1000 + CS, 2 * CS - 1000 } };
	struct lun_io io = { .op = LUN_OP_WRITE,
			     .offset = CS / 2,
			     .length = 3 * CS,
			     .iov = iov,
			     .iovcnt = 3 };
	run_ios(e, be, &io, 1);
	assert_int_equal(io.result, 0);
	expect(e, be, CS / 2, 3 * CS, 9);
	memset(src, 0, 3 * CS);
	io = (struct lun_io){ .op = LUN_OP_READ,
			      .offset = CS / 2,
			      .length = 3 * CS,
			      .iov = iov,
			      .iovcnt = 3 };
	run_ios(e, be, &io, 1);
	for (size_t i = 0; i < 3 * CS; i++)
		assert_int_equal(src[i], pat(9, CS / 2 + i));
	assert_int_equal(rw(e, be, LUN_OP_WRITE, 0, 512, src, 512), -EINVAL); /* block size 4096 */
	free(src);
	lun_backend_close(be);
	env_free(e);
}

static void test_concurrent_first_writes(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	enum { N = 16 };
	struct lun_io ios[N * 2];
	struct iovec iov[N * 2];
	uint8_t *buf = malloc(N * 2 * 4 * KiB);
	for (int i = 0; i < N * 2; i++) { /* 16 blocks of chunk 3 and 16 of chunk 5 at once */
		uint64_t off = (i < N ? 3 * CS : 5 * CS) + (uint64_t)(i % N) * 4 * KiB;
		fill(buf + i * 4 * KiB, off, 4 * KiB, 20);
		iov[i] = (struct iovec){ buf + i * 4 * KiB, 4 * KiB };
		ios[i] = (struct lun_io){ .op = LUN_OP_WRITE,
					  .offset = off,
					  .length = 4 * KiB,
					  .iov = &iov[i],
					  .iovcnt = 1 };
	}
	run_ios(e, be, ios, N * 2);
	for (int i = 0; i < N * 2; i++)
		assert_int_equal(ios[i].result, 0);
	assert_int_equal(used(e), 2);
	expect(e, be, 3 * CS, CS, 20);
	expect(e, be, 5 * CS, CS, 20);
	free(buf);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

static void test_unmap_and_block_status(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 8 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 2 * CS, 4 * CS, 5); /* chunks 2..5 */
	assert_int_equal(used(e), 4);
	bool m;
	uint64_t len;
	bstat(e, be, 0, &m, &len);
	assert_false(m);
	assert_int_equal(len, 2 * CS);
	bstat(e, be, 2 * CS + 512, &m, &len);
	assert_true(m);
	assert_int_equal(len, 4 * CS - 512);
	bstat(e, be, 6 * CS, &m, &len);
	assert_false(m);
	assert_int_equal(len, 8 * MiB - 6 * CS);
	/* unmap chunk 3 whole, half of chunk 4: one chunk back, half zeroed */
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 3 * CS, CS + CS / 2), 0);
	assert_int_equal(used(e), 3);
	expect(e, be, 2 * CS, CS, 5);
	expect(e, be, 3 * CS, CS + CS / 2, 0);
	expect(e, be, 4 * CS + CS / 2, CS / 2 + CS, 5);
	bstat(e, be, 2 * CS, &m, &len);
	assert_int_equal(len, CS);
	bstat(e, be, 3 * CS, &m, &len);
	assert_false(m);
	assert_int_equal(len, CS);
	/* write_zeroes: UNMAP frees whole chunks, without UNMAP keeps them mapped */
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, LUN_IO_UNMAP, 5 * CS, CS), 0);
	assert_int_equal(used(e), 2);
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, 0, 2 * CS, CS), 0);
	assert_int_equal(used(e), 2);
	expect(e, be, 2 * CS, CS, 0);
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, 0, 7 * CS, 512),
			 0); /* allocates, reads zeros */
	assert_int_equal(used(e), 3);
	expect(e, be, 7 * CS, CS, 0);
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 0, 8 * MiB), 0);
	assert_int_equal(used(e), 0);
	expect(e, be, 0, 8 * MiB, 0);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

/* Two worker threads, each with its own loop, write interleaved 4 KiB blocks
 * of the same new chunks at once (waiters redriven across loops). */
struct worker {
	struct lun_backend *be;
	struct kloop *l;
	int id, next, inflight;
	struct lun_io io[8];
	struct iovec iov[8];
	uint8_t buf[8][4096];
	struct kloop_task t;
};

#define MT_CHUNKS 64

static void mt_issue(struct worker *w, int k);

static void mt_done(struct lun_io *io)
{
	struct worker *w = io->priv;
	if (io->result)
		fail_msg("worker %d: %d", w->id, io->result);
	w->inflight--;
	if (w->next < MT_CHUNKS * 8)
		mt_issue(w, (int)(io - w->io));
	else if (!w->inflight)
		kloop_stop(w->l);
}

static void mt_issue(struct worker *w, int k)
{
	int n = w->next++;
	uint64_t off =
		(uint64_t)(n % MT_CHUNKS) * CS + (uint64_t)((n / MT_CHUNKS) * 2 + w->id) * 4 * KiB;
	fill(w->buf[k], off, 4 * KiB, 70);
	w->iov[k] = (struct iovec){ w->buf[k], 4 * KiB };
	w->io[k] = (struct lun_io){ .op = LUN_OP_WRITE,
				    .offset = off,
				    .length = 4 * KiB,
				    .iov = &w->iov[k],
				    .iovcnt = 1,
				    .loop = w->l,
				    .done = mt_done,
				    .priv = w };
	w->inflight++;
	lun_submit(w->be, &w->io[k]);
}

static void mt_start(struct kloop_task *t)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, t));
	for (int k = 0; k < 8; k++)
		mt_issue(w, k);
}

static void *mt_main(void *arg)
{
	struct worker *w = arg;
	w->t.fn = mt_start;
	kloop_defer(w->l, &w->t);
	kloop_run(w->l);
	return NULL;
}

static void test_two_workers(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, MT_CHUNKS * CS), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	struct worker *w = calloc(2, sizeof(*w));
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .be = be, .l = kloop_new(64), .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, mt_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		kloop_free(w[i].l);
	}
	assert_int_equal(used(e), MT_CHUNKS);
	expect(e, be, 0, MT_CHUNKS * CS, 70);
	free(w);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

/* ---- space ---- */

static void lw_cb(void *arg, uint64_t gen)
{
	*(uint64_t *)arg = gen;
}

static void test_enospc_grow_low_water(void **state)
{
	struct env *e = env_new(4 * MiB, 1 * MiB, 0); /* 16 chunks of a 4 MiB file */
	uint64_t cb_gen = 0, gen = 0;
	lun_thin_pool_set_low_water(e->pool, 4, lw_cb, &cb_gen);
	assert_false(lun_thin_pool_low_water_crossed(e->pool, &gen));
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 64 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	for (unsigned c = 0; c < 16; c++)
		put(e, be, c * 2 * CS, 4 * KiB, c + 1);
	assert_true(lun_thin_pool_low_water_crossed(e->pool, &gen));
	assert_int_equal(gen, 1);
	assert_int_equal(cb_gen, 1);
	assert_false(lun_thin_pool_low_water_crossed(e->pool, &gen)); /* once */
	uint8_t *b = malloc(4 * KiB);
	assert_int_equal(rw(e, be, LUN_OP_WRITE, 0, 40 * MiB, b, 4 * KiB), -ENOSPC);
	expect(e, be, 40 * MiB, 4 * KiB, 0);
	expect(e, be, 2 * CS, 4 * KiB, 2);         /* reads still work */
	put(e, be, 2 * CS + 8 * KiB, 4 * KiB, 50); /* overwrite of an allocated chunk works */
	expect(e, be, 2 * CS + 8 * KiB, 4 * KiB, 50);
	/* unmap gives a chunk back; then full again */
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 0, CS), 0);
	put(e, be, 40 * MiB, 4 * KiB, 60);
	assert_int_equal(rw(e, be, LUN_OP_WRITE, 0, 41 * MiB, b, 4 * KiB), -ENOSPC);
	/* grow: new chunks usable, online */
	assert_int_equal(lun_thin_pool_grow(e->pool, 3 * MiB), 0);
	struct lun_thin_pool_status st;
	lun_thin_pool_status(e->pool, &st);
	assert_int_equal(st.chunks_total, 48);
	put(e, be, 41 * MiB, 4 * KiB, 61);
	expect(e, be, 41 * MiB, 4 * KiB, 61);
	assert_false(lun_thin_pool_low_water_crossed(e->pool, &gen));
	assert_int_equal(lun_thin_pool_grow(e->pool, 8 * MiB),
			 -EINVAL); /* beyond the data device */
	lun_backend_close(be);
	env_reopen(e, true);
	lun_thin_pool_status(e->pool, &st);
	assert_int_equal(st.chunks_total, 48);
	assert_int_equal(st.chunks_used, 17);
	be = vopen(e, 1, 512);
	expect(e, be, 41 * MiB, 4 * KiB, 61);
	lun_backend_close(be);
	check_clean(e);
	free(b);
	env_free(e);
}

/* ---- snapshots and clones ---- */

static void test_snapshot_and_clone(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
	struct lun_backend *o = vopen(e, 1, 512);
	put(e, o, 0, 4 * CS, 1);
	assert_int_equal(lun_thin_snapshot(e->pool, 1, 2), 0); /* origin open and in use */
	assert_int_equal(used(e), 4);
	put(e, o, CS + 4 * KiB, 4 * KiB, 2); /* CoW of chunk 1 */
	assert_int_equal(used(e), 5);
	put(e, o, CS + 8 * KiB, 4 * KiB, 3); /* now private: in place */
	assert_int_equal(used(e), 5);
	struct lun_backend *s = vopen(e, 2, 512);
	assert_true(s->read_only);
	expect(e, s, 0, 4 * CS, 1);
	expect(e, o, CS, 4 * KiB, 1);
	expect(e, o, CS + 4 * KiB, 4 * KiB, 2);
	expect(e, o, CS + 8 * KiB, 4 * KiB, 3);
	expect(e, o, CS + 12 * KiB, CS - 12 * KiB, 1);
	uint8_t b[512];
	assert_int_equal(rw(e, s, LUN_OP_WRITE, 0, 0, b, 512), -EROFS);
	/* clone of the snapshot: writable, diverges from both */
	assert_int_equal(lun_thin_clone(e->pool, 2, 3), 0);
	struct lun_backend *c = vopen(e, 3, 512);
	assert_false(c->read_only);
	put(e, c, 2 * CS, 512, 4);
	assert_int_equal(op0(e, c, LUN_OP_UNMAP, 0, 3 * CS, CS), 0); /* drops a shared ref only */
	assert_int_equal(op0(e, o, LUN_OP_UNMAP, 0, 0, CS / 2),
			 0); /* partial unmap of shared: CoW zeros */
	expect(e, c, 2 * CS, 512, 4);
	expect(e, c, 2 * CS + 512, CS - 512, 1);
	expect(e, c, 3 * CS, CS, 0);
	expect(e, s, 0, 4 * CS, 1);
	expect(e, o, 0, CS / 2, 0);
	expect(e, o, CS / 2, CS / 2, 1);
	expect(e, o, 2 * CS, 2 * CS, 1);
	assert_int_equal(lun_thin_clone(e->pool, 9, 4), -ENOENT);
	assert_int_equal(lun_thin_clone(e->pool, 1, 3), -EEXIST);
	assert_int_equal(lun_thin_volume_delete(e->pool, 3), -EBUSY);
	lun_backend_close(c);
	lun_backend_close(s);
	lun_backend_close(o);
	check_clean(e);
	env_reopen(e, true); /* everything again from the journal */
	o = vopen(e, 1, 512);
	s = vopen(e, 2, 512);
	c = vopen(e, 3, 512);
	expect(e, s, 0, 4 * CS, 1);
	expect(e, o, CS + 4 * KiB, 4 * KiB, 2);
	expect(e, c, 2 * CS, 512, 4);
	/* the volume table: sorted, mapped chunks per volume, snapshot flag, opened */
	struct lun_thin_volume_info *vi = NULL;
	size_t nvi = 0;
	assert_int_equal(lun_thin_volume_list(e->pool, &vi, &nvi), 0);
	assert_int_equal(nvi, 3);
	static const struct {
		uint32_t id;
		uint64_t mapped;
		bool ro;
	} want[] = { { 1, 4, false }, { 2, 4, true }, { 3, 3, false } };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(vi[i].id, want[i].id);
		assert_int_equal(vi[i].size, 4 * MiB);
		assert_int_equal(vi[i].mapped_chunks, want[i].mapped);
		assert_int_equal(vi[i].read_only, want[i].ro);
		assert_true(vi[i].open);
	}
	free(vi);
	lun_backend_close(c);
	assert_int_equal(lun_thin_volume_list(e->pool, &vi, &nvi), 0);
	assert_false(vi[2].open);
	free(vi);
	lun_backend_close(s);
	lun_backend_close(o);
	check_clean(e);
	env_free(e);
}

/* A chunk that lost a sharer while a read of the old owner pins it is not
 * overwritten in place by the remaining owner; a CoW in a full pool fails
 * with ENOSPC while reads go on. */
static void test_stale_pin_and_cow_enospc(void **state)
{
	struct env *e = env_new(16 * MiB, 4 * CS, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 1 * MiB), 0);
	struct lun_backend *a = vopen(e, 1, 512);
	put(e, a, 0, CS, 1);
	assert_int_equal(lun_thin_clone(e->pool, 1, 2), 0);
	struct lun_backend *c = vopen(e, 2, 512);
	uint32_t p = thin_map_get(thin_vol_find(e->pool, 1), 0) - 1;
	pthread_mutex_lock(&e->pool->lock);
	thin_pin(e->pool, p); /* stands for a read of volume 1 still in flight */
	pthread_mutex_unlock(&e->pool->lock);
	put(e, a, 0, 4 * KiB, 2); /* CoW: p now only mapped by the clone, but pinned */
	assert_int_equal(e->pool->ref[p], 1);
	assert_true(e->pool->pins[p] & THIN_PIN_STALE);
	put(e, c, 4 * KiB, 4 * KiB, 3); /* must copy, not write into p */
	assert_int_equal(used(e), 3);
	assert_int_equal(e->pool->ref[p], 0);
	pthread_mutex_lock(&e->pool->lock);
	thin_unpin(e->pool, p); /* the read drains: p is free now */
	pthread_mutex_unlock(&e->pool->lock);
	assert_int_equal(used(e), 2);
	expect(e, c, 0, 4 * KiB, 1);
	expect(e, c, 4 * KiB, 4 * KiB, 3);
	expect(e, a, 0, 4 * KiB, 2);
	expect(e, a, 4 * KiB, CS - 4 * KiB, 1);
	/* full pool: a write to a shared chunk needs a chunk and fails */
	assert_int_equal(lun_thin_snapshot(e->pool, 1, 3), 0);
	put(e, a, CS, 4 * KiB, 4);
	put(e, a, 2 * CS, 4 * KiB, 4);
	uint8_t b[512] = { 0 };
	assert_int_equal(rw(e, a, LUN_OP_WRITE, 0, 0, b, 512), -ENOSPC);
	expect(e, a, 0, 4 * KiB, 2);
	lun_backend_close(c);
	lun_backend_close(a);
	check_clean(e);
	env_free(e);
}

/* Build origin 1 with snapshot 2 and clone 3 (of 2), each with private
 * chunks; delete them in the given order; used chunks return to 0. */
static void delete_order(const uint32_t order[3])
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 2 * MiB), 0);
	struct lun_backend *o = vopen(e, 1, 512);
	put(e, o, 0, 8 * CS, 1);
	assert_int_equal(lun_thin_snapshot(e->pool, 1, 2), 0);
	put(e, o, 0, 2 * CS, 2);
	assert_int_equal(lun_thin_clone(e->pool, 2, 3), 0);
	struct lun_backend *c = vopen(e, 3, 512);
	put(e, c, 4 * CS, 3 * CS, 3);
	put(e, c, 12 * CS, CS, 3);
	lun_backend_close(c);
	lun_backend_close(o);
	assert_int_equal(used(e), 8 + 2 + 4);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lun_thin_volume_delete(e->pool, order[i]), 0);
		check_clean(e);
		if (i == 1)
			env_reopen(e, true);
	}
	assert_int_equal(used(e), 0);
	assert_int_equal(lun_thin_volume_delete(e->pool, order[0]), -ENOENT);
	env_free(e);
}

static void test_delete_orders(void **state)
{
	static const uint32_t orders[6][3] = { { 1, 2, 3 }, { 1, 3, 2 }, { 2, 1, 3 },
					       { 2, 3, 1 }, { 3, 1, 2 }, { 3, 2, 1 } };
	for (int i = 0; i < 6; i++)
		delete_order(orders[i]);
}

static void test_resize(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 1 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 0, 1 * MiB, 1);
	assert_int_equal(lun_thin_volume_resize(e->pool, 1, 512 * KiB), -EBUSY);
	assert_int_equal(lun_thin_volume_resize(e->pool, 1, 300 * MiB), 0); /* online grow */
	assert_int_equal(be->size, 300 * MiB);
	put(e, be, 299 * MiB, 4 * KiB, 2);
	lun_backend_close(be);
	assert_int_equal(lun_thin_volume_resize(e->pool, 1, 512 * KiB), 0);
	assert_int_equal(used(e), 8);
	assert_int_equal(lun_thin_volume_resize(e->pool, 1, 1 * MiB), 0);
	be = vopen(e, 1, 512);
	expect(e, be, 0, 512 * KiB, 1);
	expect(e, be, 512 * KiB, 512 * KiB, 0);
	lun_backend_close(be);
	assert_int_equal(lun_thin_volume_create(e->pool, 2, 1000), -EINVAL);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4096), -EEXIST);
	check_clean(e);
	env_free(e);
}

/* An 8 GiB volume fully mapped (sparse data file, maps installed directly). */
static void test_clone_8g_fast(void **state)
{
	struct env *e = env_new(8ull << 30, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 8ull << 30), 0);
	pthread_mutex_lock(&e->pool->lock);
	for (uint64_t vc = 0; vc < (8ull << 30) / CS; vc++) {
		struct thin_rec r = { .type = THIN_R_MAP, .vol = 1, .a = vc, .b = vc ^ 1 };
		assert_int_equal(thin_apply(e->pool, &r, true), 0);
		e->pool->freemap[(vc ^ 1) / 64] &= ~(1ull << ((vc ^ 1) % 64));
		e->pool->nfree--;
	}
	pthread_mutex_unlock(&e->pool->lock);
	assert_int_equal(lun_thin_pool_checkpoint(e->pool), 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(lun_thin_clone(e->pool, 1, 2), 0);
	assert_int_equal(lun_thin_snapshot(e->pool, 2, 3), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	printf("clone + snapshot of a fully mapped 8 GiB volume: %.1f ms\n", ms);
	assert_true(ms < 1000);
	assert_int_equal(e->pool->ref[5], 3);
	assert_int_equal(lun_thin_volume_delete(e->pool, 1), 0);
	assert_int_equal(lun_thin_volume_delete(e->pool, 3), 0);
	assert_int_equal(lun_thin_volume_delete(e->pool, 2), 0);
	assert_int_equal(used(e), 0);
	check_clean(e);
	env_free(e);
}

/* ---- metadata durability ---- */

static void test_reopen_and_journal_wrap(void **state)
{
	struct env *e =
		env_new(32 * MiB, 0, 128 * KiB); /* tiny journal: wraps and checkpoints often */
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 32 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	for (unsigned i = 0; i < 200; i++) {
		unsigned c = (i * 37) % 400;
		put(e, be, (uint64_t)c * 4 * KiB * 4, 4 * KiB, c + 1);
		if (i % 7 == 3)
			assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0,
					     ((i * 11) % 400) * 16 * KiB / CS * CS + 24 * MiB, CS),
					 0);
	}
	assert_true(e->pool->ck_gen > 10);
	uint64_t u = used(e);
	lun_backend_close(be);
	env_reopen(e, true);
	assert_int_equal(used(e), u);
	be = vopen(e, 1, 512);
	for (unsigned i = 150; i < 200; i++) {
		unsigned c = (i * 37) % 400;
		expect(e, be, (uint64_t)c * 16 * KiB, 4 * KiB, c + 1);
	}
	lun_backend_close(be);
	env_reopen(e, false);
	assert_int_equal(used(e), u);
	check_clean(e);
	env_free(e);
}

/* A 68 KiB journal: a quarter of it (17 KiB) is not a whole number of
 * 4 KiB journal sectors, so a full batch must be cut to what fits in the
 * sectors below the quarter, not to the quarter itself. */
static void test_odd_journal_size_batches(void **state)
{
	struct env *e = env_new(100 * MiB, 0, 68 * KiB);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 100 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, 0, 0, 100 * MiB), 0);
	assert_int_equal(used(e), 1600);
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 0, 100 * MiB), 0);
	assert_int_equal(used(e), 0);
	put(e, be, 7 * MiB, 4 * KiB, 9);
	lun_backend_close(be);
	env_reopen(e, true);
	be = vopen(e, 1, 512);
	expect(e, be, 7 * MiB, 4 * KiB, 9);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

/* A failed pool fails every batch at once: an UNMAP spanning several
 * batches completes with EIO, every one of its batches answered, and reads
 * go on. */
static void test_failed_pool_fails_every_batch(void **state)
{
	struct env *e = env_new(100 * MiB, 0, 128 * KiB);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 100 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, 0, 0, 100 * MiB), 0);
	put(e, be, 3 * MiB, 4 * KiB, 6);
	pthread_mutex_lock(&e->pool->lock);
	e->pool->failed = true; /* as after a metadata write error */
	pthread_mutex_unlock(&e->pool->lock);
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 0, 100 * MiB), -EIO);
	expect(e, be, 3 * MiB, 4 * KiB, 6);
	lun_backend_close(be);
	env_free(e);
}

/* One UNMAP of 1600 chunks: more records than one block of a 128 KiB
 * journal holds, so the commit is split across blocks. */
static void test_big_unmap_small_journal(void **state)
{
	struct env *e = env_new(100 * MiB, 0, 128 * KiB);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 100 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	assert_int_equal(op0(e, be, LUN_OP_WRITE_ZEROES, 0, 0, 100 * MiB), 0);
	assert_int_equal(used(e), 1600);
	put(e, be, 50 * MiB, 4 * KiB, 5);
	assert_int_equal(op0(e, be, LUN_OP_UNMAP, 0, 0, 100 * MiB), 0);
	assert_int_equal(used(e), 0);
	expect(e, be, 50 * MiB, 4 * KiB, 0);
	lun_backend_close(be);
	env_reopen(e, true);
	assert_int_equal(used(e), 0);
	check_clean(e);
	env_free(e);
}

static void corrupt(const char *path, uint64_t off, size_t len)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t *b = malloc(len);
	assert_int_equal(pread(fd, b, len, (off_t)off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		b[i] ^= 0x5a;
	assert_int_equal(pwrite(fd, b, len, (off_t)off), (ssize_t)len);
	free(b);
	close(fd);
}

static void test_torn_journal_tail(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 0, 4 * KiB, 1);
	uint64_t last = e->pool->jpos;
	put(e, be, CS, 4 * KiB, 2);
	lun_backend_close(be);
	thin_pool_shutdown(e->pool, false, NULL);
	e->pool = NULL;
	/* the last block's records, in both copies (a torn write may tear both) */
	corrupt(e->meta, THIN_JOURNAL_OFF + last + 100, 8);
	corrupt(e->meta, THIN_JOURNAL_OFF + last + THIN_SECTOR + 100, 8);
	char err[256];
	assert_int_equal(env_open_pool(e, err, sizeof(err)), 0);
	be = vopen(e, 1, 512);
	expect(e, be, 0, 4 * KiB, 1);
	expect(e, be, CS, CS, 0); /* the torn commit never happened */
	assert_int_equal(used(e), 1);
	put(e, be, CS, 4 * KiB, 3); /* and the journal goes on after it */
	lun_backend_close(be);
	env_reopen(e, true);
	be = vopen(e, 1, 512);
	expect(e, be, CS, 4 * KiB, 3);
	lun_backend_close(be);
	check_clean(e);
	env_free(e);
}

static void test_corrupt_checkpoint_slot(void **state)
{
	for (int what = 0; what < 2; what++) { /* newest slot's header, then its body */
		struct env *e = env_new(16 * MiB, 0, 0);
		assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
		struct lun_backend *be = vopen(e, 1, 512);
		put(e, be, 0, 4 * KiB, 1);
		assert_int_equal(lun_thin_pool_checkpoint(e->pool), 0);
		put(e, be, CS, 4 * KiB, 2);
		lun_backend_close(be);
		int slot = e->pool->ck_slot;
		uint64_t body = e->pool->body_off[slot];
		thin_pool_shutdown(e->pool, false, NULL);
		e->pool = NULL;
		corrupt(e->meta,
			what ? body + THIN_BODY_HDR : THIN_SLOT0_OFF + (uint64_t)slot * THIN_SECTOR,
			16);
		char err[256];
		assert_int_equal(env_open_pool(e, err, sizeof(err)), 0);
		assert_int_equal(e->pool->ck_slot, slot); /* rewrote the bad slot */
		be = vopen(e, 1, 512);
		expect(e, be, 0, 4 * KiB, 1);
		expect(e, be, CS, 4 * KiB, 2);
		lun_backend_close(be);
		check_clean(e);
		env_free(e);
	}
}

static void test_corrupt_both_slots_and_superblock(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
	thin_pool_shutdown(e->pool, false, NULL);
	e->pool = NULL;
	corrupt(e->meta, THIN_SLOT0_OFF + 8, 4);
	corrupt(e->meta, THIN_SLOT0_OFF + THIN_SECTOR + 8, 4);
	char err[256] = "";
	assert_int_equal(env_open_pool(e, err, sizeof(err)), -EUCLEAN);
	assert_non_null(strstr(err, "both metadata checkpoint slots are unusable"));
	corrupt(e->meta, 12, 1);
	assert_int_equal(env_open_pool(e, err, sizeof(err)), -EUCLEAN); /* the copy at 12 KiB */
	corrupt(e->meta, THIN_SB_COPY_OFF + 12, 1);
	assert_int_equal(env_open_pool(e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "superblock"));
	struct lun_thin_pool_params p;
	pool_params(e, &p, 0, 0);
	assert_int_equal(lun_thin_pool_create(&p, &e->pool, err, sizeof(err)), -EEXIST);
	e->pool = NULL;
	env_free(e);
}

static void test_check_repair(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 4 * MiB), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 0, 3 * CS, 1);
	lun_backend_close(be);
	pthread_mutex_lock(&e->pool->lock); /* damage: leak chunk 100, free a mapped one, bad ref */
	e->pool->freemap[100 / 64] &= ~(1ull << (100 % 64));
	e->pool->nfree--;
	uint32_t p0 = thin_map_get(thin_vol_find(e->pool, 1), 0) - 1;
	e->pool->freemap[p0 / 64] |= 1ull << (p0 % 64);
	e->pool->nfree++;
	e->pool->ref[thin_map_get(thin_vol_find(e->pool, 1), 1) - 1] = 7;
	pthread_mutex_unlock(&e->pool->lock);
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(e->pool, false, &rep), -EUCLEAN);
	assert_int_equal(rep.leaked, 1);
	assert_int_equal(rep.free_and_mapped, 1);
	assert_int_equal(rep.bad_refcounts, 1);
	assert_int_equal(lun_thin_check(e->pool, true, &rep), 0);
	assert_true(rep.repaired);
	check_clean(e);
	assert_int_equal(used(e), 3);
	env_free(e);
}

int main(void)
{
	struct kloop *probe = kloop_new(8);
	if (!probe) {
		printf("io_uring unavailable (%s): skipping\n", strerror(errno));
		return 77;
	}
	kloop_free(probe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_patterns),
		cmocka_unit_test(test_iovecs_and_4k),
		cmocka_unit_test(test_concurrent_first_writes),
		cmocka_unit_test(test_unmap_and_block_status),
		cmocka_unit_test(test_two_workers),
		cmocka_unit_test(test_enospc_grow_low_water),
		cmocka_unit_test(test_snapshot_and_clone),
		cmocka_unit_test(test_stale_pin_and_cow_enospc),
		cmocka_unit_test(test_delete_orders),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_clone_8g_fast),
		cmocka_unit_test(test_reopen_and_journal_wrap),
		cmocka_unit_test(test_big_unmap_small_journal),
		cmocka_unit_test(test_odd_journal_size_batches),
		cmocka_unit_test(test_failed_pool_fails_every_batch),
		cmocka_unit_test(test_torn_journal_tail),
		cmocka_unit_test(test_corrupt_checkpoint_slot),
		cmocka_unit_test(test_corrupt_both_slots_and_superblock),
		cmocka_unit_test(test_check_repair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
