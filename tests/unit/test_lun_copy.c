/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for LUN_OP_COPY (lun-backends/lun_copy.c, the thin pool's
 * copy by sharing in lun_thin_share.c): the generic read-then-write copy
 * between backends of several kinds (file -> file, memory -> file), FUA
 * passed on, a source of another block size or a range beyond it refused,
 * LUN_IO_COPY_SHARE on backends that cannot share (nothing shared, no
 * error), and thin -> thin of one pool by sharing chunks (the data is there,
 * no new chunk is used) with the unaligned head left to the caller.
 * Every I/O runs on a real kloop and must complete after lun_submit(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/kloop.h"
#include "lun-backends/lun_backend.h"
#include "lun-backends/thin/lun_thin.h"
#include "loop_submit.h"

#define MiB (1024u * 1024u)

/* ---- harness: one lun_io at a time on a real kloop ---- */

struct h {
	struct kloop *l;
	struct lun_backend *be;
	bool in_submit;
	bool done;
};

static void watchdog_fn(struct kloop_timer *t)
{
	fail_msg("I/O did not complete in 10 s");
}

static void io_done(struct lun_io *io)
{
	struct h *h = io->priv;
	assert_false(h->in_submit); /* never completed inline */
	h->done = true;
	kloop_stop(h->l);
}

static int run_io(struct h *h, struct lun_io *io)
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct loop_submit s = { .be = h->be, .io = io, .in_submit = &h->in_submit };
	io->loop = h->l;
	io->done = io_done;
	io->priv = h;
	h->done = false;
	loop_submit(h->l, &s);
	kloop_timer_start(h->l, &wd, 10000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	assert_true(h->done);
	return io->result;
}

static int do_rw(struct h *h, enum lun_op op, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op, .offset = off, .length = len, .iov = &iov, .iovcnt = 1 };
	return run_io(h, &io);
}

static void fill(void *buf, size_t len, unsigned seed)
{
	unsigned char *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 9));
}

static char dir[] = "/tmp/kura-lun-copy-XXXXXX";

static struct kloop *new_loop(void)
{
	struct kloop *l = kloop_new(64);
	if (!l) {
		printf("io_uring unavailable (%s): skipping\n", strerror(errno));
		exit(77);
	}
	return l;
}

static struct lun_backend *open_be(const char *type, const char *name, uint64_t size, uint32_t bs)
{
	char path[256], err[256] = "";
	snprintf(path, sizeof(path), "%s/%s", dir, name ? name : "");
	struct lun_backend_params p = { .type = type,
					.path = name ? path : NULL,
					.size = size,
					.block_size = bs,
					.create = name != NULL };
	struct lun_backend *be = NULL;
	if (lun_backend_open(&p, &be, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", type, err);
	return be;
}

/* COPY len bytes from src at soff to h->be at doff through a bounce buffer. */
static int do_copy(struct h *h, struct lun_backend *src, unsigned flags, uint64_t soff,
		   uint64_t doff, uint64_t len, struct lun_io *out)
{
	void *bounce = malloc(len ? len : 1);
	struct iovec iov = { bounce, len };
	struct lun_io io = { .op = LUN_OP_COPY,
			     .flags = flags,
			     .offset = doff,
			     .length = len,
			     .iov = (flags & LUN_IO_COPY_SHARE) ? NULL : &iov,
			     .iovcnt = (flags & LUN_IO_COPY_SHARE) ? 0 : 1,
			     .copy_src = src,
			     .copy_src_offset = soff };
	int r = run_io(h, &io);
	free(bounce);
	if (out)
		*out = io;
	return r;
}

/* Write a pattern of len bytes at off of be (seeded), then read back dst. */
static void put(struct h *h, struct lun_backend *be, uint64_t off, uint64_t len, unsigned seed)
{
	struct lun_backend *keep = h->be;
	void *b = malloc(len);
	fill(b, len, seed);
	h->be = be;
	assert_int_equal(do_rw(h, LUN_OP_WRITE, off, b, len), 0);
	h->be = keep;
	free(b);
}

static void expect(struct h *h, struct lun_backend *be, uint64_t off, uint64_t len, unsigned seed)
{
	struct lun_backend *keep = h->be;
	void *want = malloc(len), *got = malloc(len);
	fill(want, len, seed);
	h->be = be;
	assert_int_equal(do_rw(h, LUN_OP_READ, off, got, len), 0);
	assert_memory_equal(got, want, len);
	h->be = keep;
	free(want);
	free(got);
}

/* a at aoff and b at boff hold the same len bytes. */
static void same(struct h *h, struct lun_backend *a, uint64_t aoff, struct lun_backend *b,
		 uint64_t boff, uint64_t len)
{
	struct lun_backend *keep = h->be;
	void *x = malloc(len), *y = malloc(len);
	h->be = a;
	assert_int_equal(do_rw(h, LUN_OP_READ, aoff, x, len), 0);
	h->be = b;
	assert_int_equal(do_rw(h, LUN_OP_READ, boff, y, len), 0);
	assert_memory_equal(x, y, len);
	h->be = keep;
	free(x);
	free(y);
}

static void test_generic_file_and_mem(void **state)
{
	struct h h = { .l = new_loop() };
	struct lun_backend *f1 = open_be("file", "a.img", 4 * MiB, 512);
	struct lun_backend *f2 = open_be("file", "b.img", 4 * MiB, 512);
	struct lun_backend *m = open_be("memory", NULL, 4 * MiB, 512);
	put(&h, f1, 0, MiB, 1);
	put(&h, m, 512 * 1024, MiB, 2);
	h.be = f2; /* file -> file, FUA passed on */
	assert_int_equal(do_copy(&h, f1, LUN_IO_FUA, 0, 2 * MiB, MiB, NULL), 0);
	expect(&h, f2, 2 * MiB, MiB, 1);
	/* memory -> file, unaligned to anything but the block */
	assert_int_equal(do_copy(&h, m, 0, 512 * 1024, 4096 + 512, MiB, NULL), 0);
	expect(&h, f2, 4096 + 512, MiB, 2);
	/* file -> memory */
	h.be = m;
	assert_int_equal(do_copy(&h, f1, 0, 0, 3 * MiB, MiB, NULL), 0);
	expect(&h, m, 3 * MiB, MiB, 1);
	lun_backend_close(f1);
	lun_backend_close(f2);
	lun_backend_close(m);
	kloop_free(h.l);
}

static void test_refusals(void **state)
{
	struct h h = { .l = new_loop() };
	struct lun_backend *m512 = open_be("memory", NULL, 4 * MiB, 512);
	struct lun_backend *m4k = open_be("memory", NULL, 4 * MiB, 4096);
	struct lun_io io;
	h.be = m4k; /* across block sizes: refused (SCSI copies only between equal ones) */
	assert_int_equal(do_copy(&h, m512, 0, 0, 0, 8192, NULL), -EINVAL);
	h.be = m512;
	assert_int_equal(do_copy(&h, m4k, 0, 0, 0, 8192, NULL), -EINVAL);
	/* a source range beyond its end; a missing source; no bounce buffer */
	assert_int_equal(do_copy(&h, m512, 0, 4 * MiB - 512, 0, 1024, NULL), -ERANGE);
	assert_int_equal(do_copy(&h, NULL, 0, 0, 0, 512, NULL), -EINVAL);
	struct lun_io bare = { .op = LUN_OP_COPY, .offset = 0, .length = 512, .copy_src = m512 };
	assert_int_equal(run_io(&h, &bare), -EINVAL);
	/* COPY_SHARE where nothing can be shared: done, nothing shared */
	assert_false(lun_copy_can_share(m512, m512, &(uint32_t){ 0 }));
	assert_int_equal(do_copy(&h, m512, LUN_IO_COPY_SHARE, 0, MiB, MiB, &io), 0);
	assert_int_equal(io.copy_bytes, 0);
	lun_backend_close(m512);
	lun_backend_close(m4k);
	kloop_free(h.l);
}

/* ---- thin -> thin by sharing ---- */

static void test_thin_share(void **state)
{
	struct h h = { .l = new_loop() };
	char meta[256], err[256] = "";
	struct lun_backend *data = open_be("file", "pool.data", 64 * MiB, 512);
	snprintf(meta, sizeof(meta), "%s/pool.meta", dir);
	struct lun_thin_pool_params pp = { .meta_path = meta,
					   .data = data,
					   .chunk_size = 64 * 1024,
					   .journal_bytes = 4 * MiB };
	struct lun_thin_pool *pool;
	assert_int_equal(lun_thin_pool_create(&pp, &pool, err, sizeof(err)), 0);
	assert_int_equal(lun_thin_volume_create(pool, 1, 16 * MiB), 0);
	assert_int_equal(lun_thin_volume_create(pool, 2, 16 * MiB), 0);
	struct lun_backend *v1, *v2;
	assert_int_equal(lun_thin_volume_open(pool, 1, 512, &v1), 0);
	assert_int_equal(lun_thin_volume_open(pool, 2, 512, &v2), 0);
	uint32_t gran = 0;
	assert_true(lun_copy_can_share(v1, v2, &gran));
	assert_int_equal(gran, 64 * 1024);
	put(&h, v1, 0, 4 * MiB, 3);
	struct lun_thin_pool_status before, after;
	lun_thin_pool_status(pool, &before);
	/* 4 KiB into a chunk on both sides: the head up to the next chunk is the
	 * caller's, 62 whole chunks are shared, the tail too is the caller's */
	struct lun_io io;
	h.be = v2;
	assert_int_equal(do_copy(&h, v1, LUN_IO_COPY_SHARE, 4096, 4096, 4 * MiB - 8192, &io), 0);
	assert_int_equal(io.copy_skip, 64 * 1024 - 4096);
	assert_int_equal(io.copy_bytes, 62 * 64 * 1024);
	lun_thin_pool_status(pool, &after);
	assert_int_equal(after.chunks_used, before.chunks_used); /* shared, not copied */
	same(&h, v1, 64 * 1024, v2, 64 * 1024, 62 * 64 * 1024);
	/* without COPY_SHARE a thin volume copies data like any backend */
	assert_int_equal(do_copy(&h, v1, 0, 0, 8 * MiB, MiB, NULL), 0);
	same(&h, v1, 0, v2, 8 * MiB, MiB);
	lun_backend_close(v1);
	lun_backend_close(v2);
	assert_int_equal(lun_thin_pool_close(pool), 0);
	lun_backend_close(data);
	kloop_free(h.l);
}

static int cleanup(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic_file_and_mem),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_thin_share),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
