/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for copy by sharing chunks (lun-backends/thin/lun_thin_share.c):
 * volumes of a thin pool over a file in a temp dir, driven through a real
 * kloop like test_thin.c. Covers: both sides read the same after a share,
 * copy-on-write on either side afterwards, the unaligned head and tail the
 * caller copies, unmapped source chunks, refcounts and lun_thin_check,
 * deleting either side, journal replay after a dropped pool, a full pool,
 * refusals (other pool, not thin, snapshot, overlap), overlapping ranges of
 * one volume, and writes to the destination racing the share from another
 * thread (the fence). */
#include "lun-backends/lun_backend.c"
#include "lun-backends/lun_file.c"
#include "lun-backends/thin/lun_thin_meta.c"
#include "lun-backends/thin/lun_thin_journal.c"
#include "lun-backends/thin/lun_thin_format.c"
#include "lun-backends/thin/lun_thin_pool.c"
#include "lun-backends/thin/lun_thin_ctl.c"
#include "lun-backends/thin/lun_thin_io.c"
/* Lets a test act while a share is between its fence and its journal write. */
static void (*journal_hook)(void);
static int hooked_journal_append(struct lun_thin_pool *pool, const struct thin_rec *recs,
				 unsigned n)
{
	if (journal_hook)
		journal_hook();
	return thin_journal_append(pool, recs, n);
}
#define thin_journal_append hooked_journal_append
#include "lun-backends/thin/lun_thin_share.c"
#undef thin_journal_append

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <cmocka.h>

#include "thin_harness.h"

/* ---- for sharing ---- */

static uint64_t journal_bytes = 256 * KiB;

static void copy(struct env *e, struct lun_backend *s, uint64_t so, struct lun_backend *d,
		 uint64_t dof, uint64_t len)
{
	if (!len)
		return;
	void *buf = malloc(len);
	assert_int_equal(rw(e, s, LUN_OP_READ, 0, so, buf, len), 0);
	assert_int_equal(rw(e, d, LUN_OP_WRITE, 0, dof, buf, len), 0);
	free(buf);
}

/* A full copy: share what can be, copy the rest. */
static uint64_t xcopy(struct env *e, struct lun_backend *s, uint64_t so, struct lun_backend *d,
		      uint64_t dof, uint64_t len)
{
	uint64_t skip, n;
	assert_int_equal(lun_thin_share_range(s, so, d, dof, len, &skip, &n), 0);
	copy(e, s, so, d, dof, skip);
	copy(e, s, so + skip + n, d, dof + skip + n, len - skip - n);
	return n;
}

static struct lun_backend *vnew(struct env *e, uint32_t id, uint64_t size)
{
	struct lun_backend *be;
	assert_int_equal(lun_thin_volume_create(e->pool, id, size), 0);
	assert_int_equal(lun_thin_volume_open(e->pool, id, 512, &be), 0);
	return be;
}

static uint32_t phys(struct env *e, uint32_t vol, uint64_t vc)
{
	pthread_mutex_lock(&e->pool->lock);
	uint32_t m = thin_map_get(thin_vol_find(e->pool, vol), vc) & ~THIN_PENDING;
	pthread_mutex_unlock(&e->pool->lock);
	return m;
}

/* ---- tests ---- */

/* Source: chunks 0..7 written (seed 1), 8..11 holes, 12..15 written.
 * Destination had other data in 4..9 (seed 2): it is replaced, and its
 * private chunks are freed; holes become holes. */
static void test_share_reads_same(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 2 * MiB), *d = vnew(e, 2, 2 * MiB);
	put(e, s, 0, 8 * CS, 1);
	put(e, s, 12 * CS, 4 * CS, 1);
	put(e, d, 4 * CS, 6 * CS, 2);
	assert_int_equal(used(e), 18);
	uint64_t skip, n;
	assert_int_equal(lun_thin_share_range(s, 0, d, 0, 16 * CS, &skip, &n), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(n, 16 * CS);
	assert_int_equal(used(e), 12); /* no new chunk; dst's 6 private ones freed */
	expect(e, d, 0, 8 * CS, 1);
	expect(e, d, 8 * CS, 4 * CS, 0);
	expect(e, d, 12 * CS, 4 * CS, 1);
	expect(e, s, 0, 8 * CS, 1);
	for (uint64_t vc = 0; vc < 16; vc++) {
		assert_int_equal(phys(e, 2, vc), phys(e, 1, vc));
		if (phys(e, 1, vc))
			assert_int_equal(e->pool->ref[phys(e, 1, vc) - 1], 2);
	}
	struct lun_io bs = { .op = LUN_OP_BLOCK_STATUS, .offset = 8 * CS, .length = 512 };
	run_ios(e, d, &bs, 1);
	assert_int_equal(bs.result, 0);
	assert_false(bs.bs_mapped);
	assert_int_equal(bs.bs_length, 4 * CS);
	check_clean(e);
	lun_backend_close(s);
	lun_backend_close(d);
	env_free(e);
}

static void test_cow_both_sides(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 1 * MiB), *d = vnew(e, 2, 1 * MiB);
	put(e, s, 0, 4 * CS, 1);
	assert_int_equal(xcopy(e, s, 0, d, 0, 4 * CS), 4 * CS);
	put(e, s, 4 * KiB, 4 * KiB, 3);          /* source diverges */
	put(e, d, 2 * CS + 8 * KiB, 8 * KiB, 4); /* destination diverges */
	assert_int_equal(used(e), 6);
	expect(e, d, 0, 2 * CS + 8 * KiB, 1);
	expect(e, d, 2 * CS + 8 * KiB, 8 * KiB, 4);
	expect(e, d, 2 * CS + 16 * KiB, 2 * CS - 16 * KiB, 1);
	expect(e, s, 0, 4 * KiB, 1);
	expect(e, s, 4 * KiB, 4 * KiB, 3);
	expect(e, s, 8 * KiB, 4 * CS - 8 * KiB, 1);
	check_clean(e);
	lun_backend_close(s);
	lun_backend_close(d);
	env_free(e);
}

/* Congruent offsets: a head and a tail to copy around whole chunks; offsets
 * that are not congruent share nothing; less than a chunk shares nothing. */
static void test_unaligned_head_tail(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 2 * MiB), *d = vnew(e, 2, 2 * MiB);
	put(e, s, 0, 16 * CS, 1);
	put(e, d, 0, 16 * CS, 2);
	uint64_t so = 3 * CS + 8 * KiB, dof = 5 * CS + 8 * KiB, len = 6 * CS, skip, n;
	assert_int_equal(lun_thin_share_range(s, so, d, dof, len, &skip, &n), 0);
	assert_int_equal(skip, CS - 8 * KiB);
	assert_int_equal(n, 5 * CS);
	copy(e, s, so, d, dof, skip);
	copy(e, s, so + skip + n, d, dof + skip + n, len - skip - n);
	expect(e, d, 0, dof, 2);
	expect_at(e, d, dof, len, 1, so);
	expect(e, d, dof + len, 16 * CS - dof - len, 2);
	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(phys(e, 2, 6 + i), phys(e, 1, 4 + i));
	assert_int_equal(lun_thin_share_range(s, 512, d, 1024, 8 * CS, &skip, &n), 0);
	assert_int_equal(skip + n, 0);
	assert_int_equal(lun_thin_share_range(s, 512, d, 512, CS, &skip, &n), 0);
	assert_int_equal(n, 0);
	/* the whole volume */
	assert_int_equal(xcopy(e, s, 0, d, 0, 2 * MiB), 2 * MiB);
	expect(e, d, 0, 16 * CS, 1);
	expect(e, d, 16 * CS, 16 * CS, 0);
	check_clean(e);
	lun_backend_close(s);
	lun_backend_close(d);
	env_free(e);
}

/* Sharing takes no chunk: it works in a full pool; what needs a chunk
 * afterwards (copy-on-write) gets ENOSPC, reads go on. */
static void test_full_pool(void **state)
{
	struct env *e = env_new(4 * MiB, 8 * CS, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 1 * MiB), *d = vnew(e, 2, 1 * MiB);
	put(e, s, 0, 8 * CS, 1);
	assert_int_equal(used(e), 8);
	assert_int_equal(xcopy(e, s, 0, d, 0, 8 * CS), 8 * CS);
	assert_int_equal(used(e), 8);
	expect(e, d, 0, 8 * CS, 1);
	uint8_t b[512] = { 0 };
	assert_int_equal(rw(e, d, LUN_OP_WRITE, 0, 0, b, 512), -ENOSPC);
	assert_int_equal(rw(e, s, LUN_OP_WRITE, 0, 0, b, 512), -ENOSPC);
	/* UNMAP of the destination drops its references; the source is then
	 * private again and written in place */
	struct lun_io u = { .op = LUN_OP_UNMAP, .offset = 0, .length = 8 * CS };
	run_ios(e, d, &u, 1);
	assert_int_equal(u.result, 0);
	assert_int_equal(rw(e, s, LUN_OP_WRITE, 0, 0, b, 512), 0);
	check_clean(e);
	lun_backend_close(s);
	lun_backend_close(d);
	env_free(e);
}

static void delete_after_share(uint32_t first)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 1 * MiB), *d = vnew(e, 2, 1 * MiB);
	put(e, s, 0, 8 * CS, 1);
	xcopy(e, s, 0, d, 0, 8 * CS);
	put(e, d, 0, 4 * KiB, 2); /* one private chunk in dst */
	assert_int_equal(used(e), 9);
	lun_backend_close(s);
	lun_backend_close(d);
	assert_int_equal(lun_thin_volume_delete(e->pool, first), 0);
	check_clean(e);
	assert_int_equal(used(e), 8);
	struct lun_backend *k = vopen(e, first == 1 ? 2 : 1, 512);
	expect(e, k, CS, 7 * CS, 1);
	lun_backend_close(k);
	assert_int_equal(lun_thin_volume_delete(e->pool, first == 1 ? 2 : 1), 0);
	check_clean(e);
	assert_int_equal(used(e), 0);
	env_free(e);
}

static void test_delete_either(void **state)
{
	delete_after_share(1);
	delete_after_share(2);
}

/* The share is durable when the call returns: drop the pool without a
 * checkpoint, reopen from the journal. Also across a journal that wraps
 * (many shares on a small ring, checkpoints in between). */
static void test_replay_after_crash(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 2 * MiB), *d = vnew(e, 2, 2 * MiB);
	put(e, s, 0, 16 * CS, 1);
	put(e, d, 0, 4 * CS, 2);
	xcopy(e, s, 0, d, 0, 12 * CS);
	lun_backend_close(s);
	lun_backend_close(d);
	env_reopen(e, true);
	s = vopen(e, 1, 512);
	d = vopen(e, 2, 512);
	expect(e, d, 0, 12 * CS, 1);
	expect(e, d, 12 * CS, 4 * CS, 0);
	assert_int_equal(used(e), 16);
	check_clean(e);
	for (int i = 0; i < 200; i++) /* 200 journal blocks: several checkpoints */
		xcopy(e, s, (uint64_t)(i % 16) * CS, d, (uint64_t)((i * 7) % 16) * CS, CS);
	lun_backend_close(s);
	lun_backend_close(d);
	env_reopen(e, true);
	check_clean(e);
	assert_int_equal(used(e), 16);
	env_free(e);
}

/* A share larger than one journal block may hold (a 64 KiB ring takes 340
 * records a block: a block's two copies fit a quarter of the ring) goes in
 * several blocks, all replayed. */
static void test_share_many_blocks(void **state)
{
	journal_bytes = 64 * KiB;
	struct env *e = env_new(160 * MiB, 0, journal_bytes);
	journal_bytes = 256 * KiB;
	struct lun_backend *s = vnew(e, 1, 2000 * CS), *d = vnew(e, 2, 2000 * CS);
	put(e, s, 0, 2000 * CS, 1);
	uint64_t jseq = e->pool->jseq;
	assert_int_equal(xcopy(e, s, 0, d, 0, 2000 * CS), 2000 * CS);
	assert_int_equal(e->pool->jseq - jseq, 6);
	assert_int_equal(used(e), 2000);
	lun_backend_close(s);
	lun_backend_close(d);
	env_reopen(e, true);
	check_clean(e);
	d = vopen(e, 2, 512);
	expect(e, d, 0, 2000 * CS, 1);
	lun_backend_close(d);
	env_free(e);
}

static void test_refusals(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes),
		   *e2 = env_new(4 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, 2 * MiB), *d = vnew(e, 2, 2 * MiB),
			   *o = vnew(e2, 1, 2 * MiB);
	uint64_t skip = 1, n = 1;
	uint32_t cs = 0;
	assert_true(lun_thin_same_pool(s, d, &cs));
	assert_int_equal(cs, CS);
	assert_true(lun_thin_same_pool(s, s, NULL));
	assert_false(lun_thin_same_pool(s, o, NULL));
	assert_false(lun_thin_same_pool(s, e->data, NULL));
	assert_int_equal(lun_thin_share_range(s, 0, o, 0, CS, &skip, &n), -EXDEV);
	assert_int_equal(skip + n, 0);
	assert_int_equal(lun_thin_share_range(e->data, 0, d, 0, CS, &skip, &n), -EXDEV);
	assert_int_equal(lun_thin_share_range(s, 0, d, CS, 2 * MiB, &skip, &n), -EINVAL);
	assert_int_equal(lun_thin_share_range(s, UINT64_MAX - CS + 1, d, 0, CS, &skip, &n),
			 -EINVAL);
	put(e, s, 0, 4 * CS, 1);
	assert_int_equal(lun_thin_snapshot(e->pool, 1, 3), 0);
	struct lun_backend *snap = vopen(e, 3, 512);
	assert_int_equal(lun_thin_share_range(d, 0, snap, 0, CS, &skip, &n), -EROFS);
	expect(e, snap, 0, 4 * CS, 1);
	/* one volume: forward overlap (dst below src) shares, memmove-like;
	 * dst above src overlapping is refused (the caller copies backwards) */
	put(e, s, 4 * CS, 4 * CS, 5);
	assert_int_equal(lun_thin_share_range(s, 2 * CS, s, 3 * CS, 4 * CS, &skip, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(xcopy(e, s, 2 * CS, s, 0, 6 * CS), 6 * CS);
	expect_at(e, s, 0, 2 * CS, 1, 2 * CS);
	expect_at(e, s, 2 * CS, 4 * CS, 5, 4 * CS);
	expect(e, s, 6 * CS, 2 * CS, 5);
	check_clean(e);
	lun_backend_close(snap);
	lun_backend_close(s);
	lun_backend_close(d);
	lun_backend_close(o);
	env_free(e);
	env_free(e2);
}

/* A writer on another loop keeps writing 4 KiB blocks into the destination
 * (first writes allocate, later ones copy on write) while the main thread
 * shares the source over it again and again. Every block must end up as
 * the source's or the writer's data: a lost fence would leave the zeros of
 * an allocation or the destination's older data. */
#define RACE_CHUNKS 32

struct writer {
	struct lun_backend *be;
	struct kloop *l;
	atomic_bool stop;
	int inflight;
	unsigned next, writes;
	struct lun_io io[8];
	struct iovec iov[8];
	uint8_t buf[8][4096];
	struct kloop_task t;
};

static void w_issue(struct writer *w, int k);

static void w_done(struct lun_io *io)
{
	struct writer *w = io->priv;
	if (io->result)
		fail_msg("writer: %d", io->result);
	w->inflight--;
	w->writes++;
	if (!atomic_load(&w->stop))
		w_issue(w, (int)(io - w->io));
	else if (!w->inflight)
		kloop_stop(w->l);
}

static void w_issue(struct writer *w, int k)
{
	unsigned n = w->next++ * 2654435761u;
	uint64_t off = (uint64_t)(n % RACE_CHUNKS) * CS + (uint64_t)((n >> 8) % 16) * 4 * KiB;
	fill(w->buf[k], off, 4 * KiB, 70);
	w->iov[k] = (struct iovec){ w->buf[k], 4 * KiB };
	w->io[k] = (struct lun_io){ .op = LUN_OP_WRITE,
				    .offset = off,
				    .length = 4 * KiB,
				    .iov = &w->iov[k],
				    .iovcnt = 1,
				    .loop = w->l,
				    .done = w_done,
				    .priv = w };
	w->inflight++;
	lun_submit(w->be, &w->io[k]);
}

static void w_start(struct kloop_task *t)
{
	struct writer *w = (struct writer *)((char *)t - offsetof(struct writer, t));
	for (int k = 0; k < 8; k++)
		w_issue(w, k);
}

static void *w_main(void *arg)
{
	struct writer *w = arg;
	w->t.fn = w_start;
	kloop_defer(w->l, &w->t);
	kloop_run(w->l);
	return NULL;
}

static void test_share_races_writes(void **state)
{
	struct env *e = env_new(64 * MiB, 0, journal_bytes);
	struct lun_backend *s = vnew(e, 1, RACE_CHUNKS * CS), *d = vnew(e, 2, RACE_CHUNKS * CS);
	struct lun_backend *s2 = vnew(e, 3, RACE_CHUNKS * CS);
	put(e, s, 0, RACE_CHUNKS * CS, 1);
	put(e, s2, 0, RACE_CHUNKS * CS, 3);
	put(e, d, 0, RACE_CHUNKS * CS, 2);
	struct writer *w = calloc(1, sizeof(*w));
	w->be = d;
	w->l = kloop_new(64);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, w_main, w), 0);
	unsigned shares = 0;
	for (; shares < 100; shares++) {
		uint64_t skip, n;
		struct lun_backend *from = shares % 2 ? s : s2; /* the last one from s */
		assert_int_equal(lun_thin_share_range(from, 0, d, 0, RACE_CHUNKS * CS, &skip, &n),
				 0);
		assert_int_equal(n, RACE_CHUNKS * CS);
	}
	atomic_store(&w->stop, true);
	pthread_join(th, NULL);
	kloop_free(w->l);
	print_message("%u shares raced %u writes\n", shares, w->writes);
	uint8_t *buf = malloc(RACE_CHUNKS * CS);
	assert_int_equal(rw(e, d, LUN_OP_READ, 0, 0, buf, RACE_CHUNKS * CS), 0);
	for (uint64_t b = 0; b < RACE_CHUNKS * CS; b += 4 * KiB) {
		bool src = true, wr = true;
		for (size_t i = 0; i < 4 * KiB; i++) {
			src &= buf[b + i] == pat(1, b + i);
			wr &= buf[b + i] == pat(70, b + i);
		}
		if (!src && !wr)
			fail_msg("block at %llu is neither the source's nor the writer's",
				 (unsigned long long)b);
	}
	free(buf);
	free(w);
	check_clean(e);
	lun_backend_close(s);
	lun_backend_close(s2);
	lun_backend_close(d);
	env_free(e);
}

/* Deterministic form of the race: a write into a shared destination chunk
 * (a copy-on-write) arrives after the share has fenced the chunk and before
 * its journal block is written. It must wait and then copy the NEW
 * mapping; without the fence it would copy the old one and commit last. */
static struct writer *hook_w;

static void hook_submit(struct kloop_task *t)
{
	struct writer *w = (struct writer *)((char *)t - offsetof(struct writer, t));
	w->next = 0; /* first write: chunk 0, block 0 */
	w_issue(w, 0);
}

static void hook_write_now(void)
{
	journal_hook = NULL;
	atomic_store(&hook_w->stop, true); /* one write only */
	hook_w->t.fn = hook_submit;
	kloop_post(hook_w->l, &hook_w->t);
	nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000000 }, NULL);
}

static void *loop_main(void *arg)
{
	kloop_run(((struct writer *)arg)->l);
	return NULL;
}

static void test_write_during_share(void **state)
{
	struct env *e = env_new(16 * MiB, 0, journal_bytes);
	struct lun_backend *s1 = vnew(e, 1, 1 * MiB), *s2 = vnew(e, 2, 1 * MiB),
			   *d = vnew(e, 3, 1 * MiB);
	put(e, s1, 0, 4 * CS, 1);
	put(e, s2, 0, 4 * CS, 3);
	xcopy(e, s1, 0, d, 0, 4 * CS); /* d's chunks shared with s1: a write copies */
	hook_w = calloc(1, sizeof(*hook_w));
	hook_w->be = d;
	hook_w->l = kloop_new(64);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, loop_main, hook_w), 0);
	journal_hook = hook_write_now;
	xcopy(e, s2, 0, d, 0, 4 * CS);
	pthread_join(th, NULL);
	assert_int_equal(hook_w->writes, 1);
	kloop_free(hook_w->l);
	free(hook_w);
	expect(e, d, 0, 4 * KiB, 70);
	expect(e, d, 4 * KiB, 4 * CS - 4 * KiB, 3);
	expect(e, s1, 0, 4 * CS, 1);
	check_clean(e);
	lun_backend_close(s1);
	lun_backend_close(s2);
	lun_backend_close(d);
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
		cmocka_unit_test(test_share_reads_same),
		cmocka_unit_test(test_cow_both_sides),
		cmocka_unit_test(test_unaligned_head_tail),
		cmocka_unit_test(test_full_pool),
		cmocka_unit_test(test_delete_either),
		cmocka_unit_test(test_replay_after_crash),
		cmocka_unit_test(test_share_many_blocks),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_share_races_writes),
		cmocka_unit_test(test_write_during_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
