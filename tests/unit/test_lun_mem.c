/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the memory backend (lun-backends/lun_mem.c): the same
 * semantic suite as the file backend (with 1 MiB allocation granules), sparse
 * allocation of a large LUN, chunk release on unmap, open errors, and two
 * worker threads with their own loops writing into the same chunks at once.
 * Every I/O runs on a real kloop and must complete after lun_submit(). */
#include "lun-backends/lun_backend.c"
#include "lun-backends/lun_mem.c"
#include "common/kbuf.h"
#include "common/kbuf_test.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "lun_conformance.h"

static struct h *open_mem(uint64_t size, bool ro)
{
	struct h *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->l = kloop_new(64);
	if (!h->l) {
		printf("io_uring unavailable (%s): skipping\n", strerror(errno));
		exit(77);
	}
	struct lun_backend_params p = { .type = "memory",
					.size = size,
					.block_size = 512,
					.read_only = ro };
	char err[256] = "";
	if (lun_backend_open(&p, &h->be, err, sizeof(err)) < 0)
		fail_msg("open memory LUN: %s", err);
	return h;
}

static void close_h(struct h *h)
{
	lun_backend_close(h->be);
	kloop_free(h->l);
	free(h);
}

static uint64_t chunks_allocated(struct lun_backend *be)
{
	struct lun_mem *lm = lm_of(be);
	uint64_t n = 0;
	for (uint64_t i = 0; i < lm->nchunks; i++)
		n += lm->chunk[i] != NULL;
	return n;
}

static void test_suite(void **state)
{
	struct h *h = open_mem(LUN_SIZE, false);
	assert_int_equal(h->be->size, LUN_SIZE);
	assert_true(h->be->zeroes_after_unmap);
	assert_false(h->be->volatile_cache);
	for (enum lun_op op = LUN_OP_READ; op <= LUN_OP_BLOCK_STATUS; op++)
		assert_true(lun_backend_has(h->be, op));
	suite_block_status(h, MiB);
	suite_rw(h);
	suite_bad_input(h);
	suite_unmap_and_zeroes(h, MiB);
	suite_caw(h);
	close_h(h);
}

/* 8 GiB costs nothing until written; unmap gives whole chunks back. */
static void test_sparse_large(void **state)
{
	uint64_t size = 8ull << 30;
	struct h *h = open_mem(size, false);
	assert_int_equal(chunks_allocated(h->be), 0);
	expect_zero(h, size - 4096, 4096);
	assert_int_equal(chunks_allocated(h->be), 0); /* reads allocate nothing */
	bool m;
	uint64_t n;
	assert_int_equal(do_bs(h, 0, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, size);
	char *w = kbuf_alloc(MiB);
	fill(w, MiB, 21);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 7ull << 30, w, MiB), 0);
	assert_int_equal(chunks_allocated(h->be), 1);
	assert_int_equal(do_bs(h, 7ull << 30, &m, &n), 0);
	assert_true(m);
	assert_int_equal(n, MiB);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 7ull << 30, MiB), 0);
	assert_false(atomic_load(&lm_of(h->be)->mapped[(7ull << 30) / MiB]));
	expect_zero(h, 7ull << 30, MiB);
	assert_int_equal(do_bs(h, 0, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, size);
	/* write zeroes without UNMAP leaves the range allocated */
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 0, 4096), 0);
	assert_int_equal(do_bs(h, 0, &m, &n), 0);
	assert_true(m);
	assert_int_equal(n, MiB);
	kbuf_free(w);
	close_h(h);
}

static void test_open_errors(void **state)
{
	char err[256];
	struct lun_backend *be = (void *)1;
	struct lun_backend_params p = { .type = "memory", .size = 0 };
	assert_int_equal(lun_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_null(be);
	assert_non_null(strstr(err, "size"));
	p.size = MiB;
	p.block_size = 1000;
	assert_int_equal(lun_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	p.block_size = 4096;
	p.size = 1ull << 60;
	assert_int_equal(lun_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	p.size = 3 * MiB + 100; /* rounded down to the block size */
	assert_int_equal(lun_backend_open(&p, &be, err, sizeof(err)), 0);
	assert_int_equal(be->size, 3 * MiB);
	assert_int_equal(be->block_size, 4096);
	lun_backend_close(be);
}

static void test_read_only(void **state)
{
	struct h *h = open_mem(LUN_SIZE, true);
	char buf[8192] = { 1 };
	uint64_t mis;
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 0, buf, 4096), -EROFS);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 0, 4096), -EROFS);
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, LUN_IO_UNMAP, 0, 4096), -EROFS);
	assert_int_equal(do_caw(h, 0, buf, buf + 4096, 4096, &mis), -EROFS);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, buf, 4096), 0);
	assert_true(all_zero(buf, 4096));
	assert_int_equal(do_op(h, LUN_OP_FLUSH, 0, 0, 0), 0);
	assert_int_equal(chunks_allocated(h->be), 0);
	close_h(h);
}

/* ---- two workers, two loops, one LUN ---- */

#define CONC_BLOCKS 2048 /* 4 KiB blocks over 8 MiB: both threads in every chunk */

struct worker {
	struct lun_backend *be;
	struct kloop *l;
	int parity, pending, errors, mism;
	unsigned char *buf;
	struct lun_io io[CONC_BLOCKS / 2];
	struct iovec iov[CONC_BLOCKS / 2];
	struct kloop_task start;
	enum lun_op op;
};

static void conc_done(struct lun_io *io)
{
	struct worker *w = io->priv;
	if (io->result)
		w->errors++;
	if (--w->pending == 0)
		kloop_stop(w->l);
}

/* Submit every block of this worker at once (queue depth 1024). */
static void conc_start(struct kloop_task *t)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, start));
	w->pending = CONC_BLOCKS / 2;
	for (int i = 0; i < CONC_BLOCKS / 2; i++) {
		uint64_t blk = (uint64_t)(2 * i + w->parity);
		w->iov[i] = (struct iovec){ w->buf + (size_t)i * 4096, 4096 };
		w->io[i] = (struct lun_io){ .op = w->op,
					    .offset = blk * 4096,
					    .length = 4096,
					    .iov = &w->iov[i],
					    .iovcnt = 1,
					    .loop = w->l,
					    .done = conc_done,
					    .priv = w };
		lun_submit(w->be, &w->io[i]);
	}
}

static void conc_run(struct worker *w, enum lun_op op)
{
	w->op = op;
	w->start.fn = conc_start;
	kloop_defer(w->l, &w->start);
	kloop_run(w->l);
}

static void *conc_thread(void *arg)
{
	struct worker *w = arg;
	w->l = kloop_new(64);
	w->buf = kbuf_alloc((size_t)CONC_BLOCKS / 2 * 4096);
	for (size_t i = 0; i < (size_t)CONC_BLOCKS / 2 * 4096; i++)
		w->buf[i] = (unsigned char)(w->parity + 1 + i / 4096);
	conc_run(w, LUN_OP_WRITE);
	unsigned char *want = malloc((size_t)CONC_BLOCKS / 2 * 4096);
	memcpy(want, w->buf, (size_t)CONC_BLOCKS / 2 * 4096);
	memset(w->buf, 0, (size_t)CONC_BLOCKS / 2 * 4096);
	conc_run(w, LUN_OP_READ);
	w->mism = memcmp(want, w->buf, (size_t)CONC_BLOCKS / 2 * 4096) != 0;
	free(want);
	kbuf_free(w->buf);
	kloop_free(w->l);
	return NULL;
}

static void test_two_threads(void **state)
{
	for (int round = 0; round < 5; round++) {
		struct h *h = open_mem(LUN_SIZE, false);
		struct worker *w = calloc(2, sizeof(*w));
		pthread_t th[2];
		for (int t = 0; t < 2; t++) {
			w[t].be = h->be;
			w[t].parity = t;
			assert_int_equal(pthread_create(&th[t], NULL, conc_thread, &w[t]), 0);
		}
		for (int t = 0; t < 2; t++) {
			pthread_join(th[t], NULL);
			assert_int_equal(w[t].errors, 0);
			assert_int_equal(w[t].mism, 0);
		}
		assert_int_equal(chunks_allocated(h->be), LUN_SIZE / MiB);
		free(w);
		close_h(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite),       cmocka_unit_test(test_sparse_large),
		cmocka_unit_test(test_open_errors), cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_two_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
