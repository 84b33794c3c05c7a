/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the backend unit tests (test_lun_file.c, test_lun_mem.c): a
 * harness that runs one lun_io at a time on a real kloop (and fails if it
 * completes inside lun_submit() or not within 10 s), plus the semantic suite
 * every backend must pass: read/write, bad input, unmap and write-zeroes,
 * block status at the backend's allocation granule, COMPARE AND WRITE.
 *
 * Include it after cmocka.h and the backend .c files under test; the test
 * file provides its own open and close_h (file backends unlink their file).
 * Not for: backend-specific cases (short transfers, sparse chunks, ...).
 */
#ifndef KURA_TEST_LUN_CONFORMANCE_H
#define KURA_TEST_LUN_CONFORMANCE_H
#include "loop_submit.h"

#define MiB      (1024u * 1024u)
#define LUN_SIZE (8 * MiB)

/* ---- harness ---- */

struct h {
	struct kloop *l;
	struct lun_backend *be;
	int pending;
	bool in_submit;
	char path[128];
};

static void watchdog_fn(struct kloop_timer *t)
{
	fail_msg("I/O did not complete in 10 s");
}

static void io_done(struct lun_io *io)
{
	struct h *h = io->priv;
	assert_false(h->in_submit); /* never completed inline */
	if (--h->pending == 0)
		kloop_stop(h->l);
}

static int run_io_with(struct h *h, struct lun_io *io, void (*fn)(struct lun_io *))
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct loop_submit s = { .be = h->be, .io = io, .in_submit = &h->in_submit, .fn = fn };
	io->loop = h->l;
	io->done = io_done;
	io->priv = h;
	io->result = 12345;
	h->pending = 1;
	loop_submit(h->l, &s);
	kloop_timer_start(h->l, &wd, 10000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	assert_int_equal(h->pending, 0);
	return io->result;
}

static int run_io(struct h *h, struct lun_io *io)
{
	return run_io_with(h, io, NULL);
}

static int do_rw(struct h *h, enum lun_op op, unsigned flags, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op,
			     .flags = flags,
			     .offset = off,
			     .length = len,
			     .iov = &iov,
			     .iovcnt = 1 };
	return run_io(h, &io);
}

static int do_op(struct h *h, enum lun_op op, unsigned flags, uint64_t off, uint64_t len)
{
	struct lun_io io = { .op = op, .flags = flags, .offset = off, .length = len };
	return run_io(h, &io);
}

static int do_bs(struct h *h, uint64_t off, bool *mapped, uint64_t *len)
{
	struct lun_io io = { .op = LUN_OP_BLOCK_STATUS, .offset = off, .length = 512 };
	int r = run_io(h, &io);
	*mapped = io.bs_mapped;
	*len = io.bs_length;
	return r;
}

static int do_caw(struct h *h, uint64_t off, void *cmp, void *wr, uint64_t len, uint64_t *mis)
{
	struct iovec iov[2] = { { cmp, len }, { wr, len } };
	struct lun_io io = { .op = LUN_OP_COMPARE_AND_WRITE,
			     .offset = off,
			     .length = len,
			     .iov = iov,
			     .iovcnt = 2 };
	int r = run_io(h, &io);
	*mis = io.miscompare_offset;
	return r;
}

static void fill(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 9));
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void expect_zero(struct h *h, uint64_t off, uint64_t len)
{
	void *buf = kbuf_alloc(len);
	memset(buf, 0xee, len);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, off, buf, len), 0);
	assert_true(all_zero(buf, len));
	kbuf_free(buf);
}

/* ---- semantic suite (every backend) ---- */

static void suite_rw(struct h *h)
{
	size_t len = 128 * 1024;
	char *w = kbuf_alloc(len), *r = kbuf_alloc(len);
	fill(w, len, 1);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 64 * 1024, w, len), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 64 * 1024, r, len), 0);
	assert_memory_equal(w, r, len);

	/* scattered iovecs of odd sizes, read back with another split */
	fill(w, len, 2);
	struct iovec wi[3] = { { w, 1000 }, { w + 1000, 24 }, { w + 1024, len - 1024 } };
	struct lun_io io = { .op = LUN_OP_WRITE,
			     .flags = LUN_IO_FUA,
			     .offset = 1 * MiB,
			     .length = len,
			     .iov = wi,
			     .iovcnt = 3 };
	assert_int_equal(run_io(h, &io), 0);
	memset(r, 0, len);
	struct iovec ri[2] = { { r, 7 }, { r + 7, len - 7 } };
	io = (struct lun_io){ .op = LUN_OP_READ,
			      .offset = 1 * MiB,
			      .length = len,
			      .iov = ri,
			      .iovcnt = 2 };
	assert_int_equal(run_io(h, &io), 0);
	assert_memory_equal(w, r, len);

	/* the last block of the LUN */
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, LUN_SIZE - 512, w, 512), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, LUN_SIZE - 512, r, 512), 0);
	assert_memory_equal(w, r, 512);
	assert_int_equal(do_op(h, LUN_OP_FLUSH, 0, 0, 0), 0);
	kbuf_free(w);
	kbuf_free(r);
}

static void suite_bad_input(struct h *h)
{
	char buf[1024];
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, LUN_SIZE, buf, 512), -ERANGE);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, LUN_SIZE - 512, buf, 1024), -ERANGE);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 100, buf, 512), -EINVAL);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, buf, 100), -EINVAL);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, UINT64_MAX - 511, 1024), -ERANGE); /* wraps */
	struct iovec iov = { buf, 512 };
	struct lun_io io = { .op = LUN_OP_WRITE,
			     .offset = 0,
			     .length = 1024,
			     .iov = &iov,
			     .iovcnt = 1 };
	assert_int_equal(run_io(h, &io), -EINVAL); /* iovec shorter than length */
	io = (struct lun_io){ .op = LUN_OP_COMPARE_AND_WRITE,
			      .offset = 0,
			      .length = 512,
			      .iov = &iov,
			      .iovcnt = 1 };
	assert_int_equal(run_io(h, &io), -EINVAL); /* CAW needs 2 * length */
	bool m;
	uint64_t n;
	assert_int_equal(do_bs(h, LUN_SIZE, &m, &n), -ERANGE);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, buf, 0), 0); /* empty read is a no-op */
}

static void suite_unmap_and_zeroes(struct h *h, uint64_t gran)
{
	size_t len = 2 * MiB;
	char *w = kbuf_alloc(len);
	fill(w, len, 3);
	bool m;
	uint64_t n;
	/* unmap: reads zero, block status reports a hole */
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 4 * MiB, w, len), 0);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 4 * MiB, 1 * MiB), 0);
	expect_zero(h, 4 * MiB, 1 * MiB);
	assert_int_equal(do_bs(h, 4 * MiB, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, 1 * MiB);
	assert_int_equal(do_bs(h, 5 * MiB, &m, &n), 0);
	assert_true(m);
	/* write zeroes without deallocation */
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 5 * MiB, 512 * 1024), 0);
	expect_zero(h, 5 * MiB, 512 * 1024);
	char *r = kbuf_alloc(512 * 1024);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 5 * MiB + 512 * 1024, r, 512 * 1024), 0);
	assert_memory_equal(r, w + 1 * MiB + 512 * 1024, 512 * 1024); /* neighbours intact */
	/* write zeroes allowed to deallocate */
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 4 * MiB, w, len), 0);
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, LUN_IO_UNMAP, 4 * MiB, 1 * MiB), 0);
	expect_zero(h, 4 * MiB, 1 * MiB);
	assert_int_equal(do_bs(h, 4 * MiB, &m, &n), 0);
	assert_false(m);
	/* a partial-granule unmap zeroes just that range */
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 4 * MiB, w, len), 0);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 4 * MiB + 512, 1024), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 4 * MiB, r, 4096), 0);
	assert_memory_equal(r, w, 512);
	assert_true(all_zero(r + 512, 1024));
	assert_memory_equal(r + 1536, w + 1536, 4096 - 1536);
	(void)gran;
	kbuf_free(w);
	kbuf_free(r);
}

/* On a fresh LUN: hole | 64 KiB written at 2 MiB (rounded up to gran) | hole. */
static void suite_block_status(struct h *h, uint64_t gran)
{
	char *w = kbuf_alloc(65536);
	fill(w, 65536, 4);
	bool m;
	uint64_t n;
	assert_int_equal(do_bs(h, 0, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, LUN_SIZE);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 2 * MiB, w, 65536), 0);
	uint64_t ext = gran > 65536 ? gran : 65536;
	assert_int_equal(do_bs(h, 0, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, 2 * MiB);
	assert_int_equal(do_bs(h, 2 * MiB, &m, &n), 0);
	assert_true(m);
	assert_int_equal(n, ext);
	assert_int_equal(do_bs(h, 2 * MiB + 4096, &m, &n), 0);
	assert_true(m);
	assert_int_equal(n, ext - 4096);
	assert_int_equal(do_bs(h, 2 * MiB + ext, &m, &n), 0);
	assert_false(m);
	assert_int_equal(n, LUN_SIZE - 2 * MiB - ext); /* capped at the end */
	kbuf_free(w);
}

static void suite_caw(struct h *h)
{
	uint64_t len = 4096, mis = 0;
	char *a = kbuf_alloc(len), *b = kbuf_alloc(len), *r = kbuf_alloc(len);
	fill(a, len, 5);
	fill(b, len, 6);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 3 * MiB, a, len), 0);
	assert_int_equal(do_caw(h, 3 * MiB, a, b, len, &mis), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 3 * MiB, r, len), 0);
	assert_memory_equal(r, b, len);
	/* mismatch at byte 777: nothing written, exact offset reported */
	memcpy(a, b, len);
	a[777] ^= 0x40;
	assert_int_equal(do_caw(h, 3 * MiB, a, a, len, &mis), -EILSEQ);
	assert_int_equal(mis, 777);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 3 * MiB, r, len), 0);
	assert_memory_equal(r, b, len);
	/* compare against never-written space (zeros) */
	memset(a, 0, len);
	a[4000] = 1;
	assert_int_equal(do_caw(h, 7 * MiB, a, b, len, &mis), -EILSEQ);
	assert_int_equal(mis, 4000);
	/* out of buffers: the CAW waits and retries instead of failing */
	memset(a, 0, len);
	kbuf_fail_next(2);
	assert_int_equal(do_caw(h, 7 * MiB, a, b, len, &mis), 0);
	kbuf_fail_next(0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 7 * MiB, r, len), 0);
	assert_memory_equal(r, b, len);
	kbuf_free(a);
	kbuf_free(b);
	kbuf_free(r);
}
#endif
