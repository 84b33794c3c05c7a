/* Unit tests for the file backend (lun-backends/lun_file.c) and the backend
 * dispatcher (lun_backend.c): the same semantic suite on a file in /tmp and
 * one on /dev/shm (tmpfs: no FALLOC_FL_ZERO_RANGE, so the zero-writing
 * fallback runs), then file-specific cases: short transfers, a file truncated
 * under the LUN, read-only, open errors, O_DIRECT, block devices through a
 * loop device (skipped if losetup is unavailable). Every I/O runs on a real
 * kloop and must complete after lun_submit() has returned. */
#include "lun-backends/lun_backend.c"
#include "lun-backends/lun_file.c"
#include "common/kbuf_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <cmocka.h>

#define MiB (1024u * 1024u)
#define LUN_SIZE (8 * MiB)

/* ---- harness ---- */

struct h {
	struct kloop *l;
	struct lun_backend *be;
	int pending;
	bool in_submit;
	char path[128];
};

static void watchdog_fn(struct kloop_timer *t) { fail_msg("I/O did not complete in 10 s"); }

static void io_done(struct lun_io *io)
{
	struct h *h = io->priv;
	assert_false(h->in_submit); /* never completed inline */
	if (--h->pending == 0)
		kloop_stop(h->l);
}

struct submit_task {
	struct kloop_task t;
	struct h *h;
	struct lun_io *io;
	void (*fn)(struct lun_io *io); /* optional custom start instead of lun_submit */
};

static void submit_fn(struct kloop_task *t)
{
	struct submit_task *s = (struct submit_task *)t;
	s->h->in_submit = true;
	if (s->fn)
		s->fn(s->io);
	else
		lun_submit(s->h->be, s->io);
	s->h->in_submit = false;
}

static int run_io_with(struct h *h, struct lun_io *io, void (*fn)(struct lun_io *))
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct submit_task s = { .t.fn = submit_fn, .h = h, .io = io, .fn = fn };
	io->loop = h->l;
	io->done = io_done;
	io->priv = h;
	io->result = 12345;
	h->pending = 1;
	kloop_defer(h->l, &s.t);
	kloop_timer_start(h->l, &wd, 10000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	assert_int_equal(h->pending, 0);
	return io->result;
}

static int run_io(struct h *h, struct lun_io *io) { return run_io_with(h, io, NULL); }

static int do_rw(struct h *h, enum lun_op op, unsigned flags, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op, .flags = flags, .offset = off, .length = len, .iov = &iov, .iovcnt = 1 };
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
	struct lun_io io = { .op = LUN_OP_COMPARE_AND_WRITE, .offset = off, .length = len, .iov = iov, .iovcnt = 2 };
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

static struct h *open_h(const char *dir, const char *name, struct lun_backend_params *p)
{
	struct h *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->l = kloop_new(64);
	if (!h->l) {
		printf("io_uring unavailable (%s): skipping\n", strerror(errno));
		exit(77);
	}
	snprintf(h->path, sizeof(h->path), "%s/kura-test-%d-%s", dir, (int)getpid(), name);
	unlink(h->path);
	p->path = h->path;
	char err[256] = "";
	int r = lun_backend_open(p, &h->be, err, sizeof(err));
	if (r < 0)
		fail_msg("open %s: %s", h->path, err);
	return h;
}

static struct h *open_new(const char *dir, const char *name)
{
	struct lun_backend_params p = { .type = "file", .size = LUN_SIZE, .block_size = 512, .create = true };
	return open_h(dir, name, &p);
}

static void close_h(struct h *h)
{
	lun_backend_close(h->be);
	kloop_free(h->l);
	unlink(h->path);
	free(h);
}

/* ---- semantic suite (same expectations as the memory backend) ---- */

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
	struct lun_io io = { .op = LUN_OP_WRITE, .flags = LUN_IO_FUA, .offset = 1 * MiB, .length = len,
			     .iov = wi, .iovcnt = 3 };
	assert_int_equal(run_io(h, &io), 0);
	memset(r, 0, len);
	struct iovec ri[2] = { { r, 7 }, { r + 7, len - 7 } };
	io = (struct lun_io){ .op = LUN_OP_READ, .offset = 1 * MiB, .length = len, .iov = ri, .iovcnt = 2 };
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
	struct lun_io io = { .op = LUN_OP_WRITE, .offset = 0, .length = 1024, .iov = &iov, .iovcnt = 1 };
	assert_int_equal(run_io(h, &io), -EINVAL); /* iovec shorter than length */
	io = (struct lun_io){ .op = LUN_OP_COMPARE_AND_WRITE, .offset = 0, .length = 512, .iov = &iov, .iovcnt = 1 };
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

static void run_suite(const char *dir)
{
	struct h *h = open_new(dir, "suite");
	assert_int_equal(h->be->size, LUN_SIZE);
	assert_true(h->be->zeroes_after_unmap);
	assert_true(h->be->volatile_cache);
	for (enum lun_op op = LUN_OP_READ; op <= LUN_OP_BLOCK_STATUS; op++)
		assert_true(lun_backend_has(h->be, op));
	suite_block_status(h, 4096);
	suite_rw(h);
	suite_bad_input(h);
	suite_unmap_and_zeroes(h, 4096);
	suite_caw(h);
	close_h(h);
}

static void test_suite_tmp(void **state) { run_suite("/tmp"); }

static void test_suite_shm(void **state)
{
	if (access("/dev/shm", W_OK) != 0)
		skip();
	run_suite("/dev/shm");
}

/* tmpfs refuses FALLOC_FL_ZERO_RANGE: the fallback writes zeros and the
 * refusal is remembered for the next request. */
static void test_zero_fallback_shm(void **state)
{
	if (access("/dev/shm", W_OK) != 0)
		skip();
	struct h *h = open_new("/dev/shm", "zr");
	struct lun_file *lf = lf_of(h->be);
	char *w = kbuf_alloc(3 * MiB);
	fill(w, 3 * MiB, 9);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 0, w, 3 * MiB), 0);
	/* 2 MiB + 1536: several 1 MiB writev rounds plus a short tail */
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 512, 2 * MiB + 1536), 0);
	assert_true(atomic_load(&lf->no_zero_range));
	expect_zero(h, 512, 2 * MiB + 1536);
	char *r = kbuf_alloc(MiB);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 2 * MiB + 2048, r, 4096), 0);
	assert_memory_equal(r, w + 2 * MiB + 2048, 4096);
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 0, 512), 0); /* straight to the fallback */
	expect_zero(h, 0, 512);
	kbuf_free(w);
	kbuf_free(r);
	close_h(h);
}

/* ---- short transfers ---- */

struct partial {
	struct lun_backend *be;
	int first;
};
static struct partial g_partial; /* parameter for start_partial (task fns take no user data) */

/* Pretend the kernel transferred only the first `first` bytes. */
static void start_partial(struct lun_io *io)
{
	lf_start(g_partial.be, io);
	rw_done(&st_of(io)->u.c, g_partial.first, 0);
}

static void short_write_case(struct h *h, int first)
{
	size_t len = 12288;
	char *w = kbuf_alloc(len), *r = kbuf_alloc(len);
	fill(w, len, (unsigned)first);
	/* the part the "kernel" already wrote */
	assert_int_equal(pwrite(lf_of(h->be)->fd, w, (size_t)first, 0), first);
	struct iovec iov[3] = { { w, 4096 }, { w + 4096, 4096 }, { w + 8192, 4096 } };
	struct lun_io io = { .op = LUN_OP_WRITE, .offset = 0, .length = len, .iov = iov, .iovcnt = 3 };
	g_partial = (struct partial){ h->be, first };
	assert_int_equal(run_io_with(h, &io, start_partial), 0);
	assert_null(st_of(&io)->aux); /* the iovec copy was released */
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, r, len), 0);
	assert_memory_equal(w, r, len);
	kbuf_free(w);
	kbuf_free(r);
}

static void test_short_io(void **state)
{
	struct h *h = open_new("/tmp", "short");
	short_write_case(h, 5000);  /* remainder starts inside an iovec: copied */
	short_write_case(h, 4096);  /* on an iovec boundary: no copy */
	short_write_case(h, 10000); /* inside the last iovec: plain write */
	close_h(h);
}

/* The file shrinks under the LUN: the read stops at EOF and fails -EIO
 * after collecting what was there (a real short read from the kernel). */
static void test_truncated_file(void **state)
{
	struct h *h = open_new("/tmp", "trunc");
	char *r = kbuf_alloc(MiB);
	assert_int_equal(truncate(h->path, 512 * 1024), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, r, MiB), -EIO);
	kbuf_free(r);
	close_h(h);
}

/* ---- open paths ---- */

static int try_open(struct lun_backend_params *p, struct lun_backend **be, char *err, size_t n)
{
	err[0] = 0;
	int r = lun_backend_open(p, be, err, n);
	if (r == 0)
		assert_non_null(*be);
	else
		assert_null(*be);
	return r;
}

static void test_open_errors(void **state)
{
	char err[256], path[128];
	struct lun_backend *be;
	snprintf(path, sizeof(path), "/tmp/kura-test-%d-missing", (int)getpid());
	unlink(path);
	struct lun_backend_params p = { .type = "file", .path = path, .size = MiB };
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "does not exist"));
	p.create = true;
	p.size = 0;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "size"));
	p.size = MiB;
	p.block_size = 1000;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	p.block_size = 0;
	p.path = "/tmp";
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EISDIR);
	p.path = NULL;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	p.type = "tape";
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tape"));
	p.type = NULL;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	/* /dev/null is a character device */
	struct lun_backend_params c = { .type = "file", .path = "/dev/null" };
	assert_int_equal(try_open(&c, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "neither"));
}

static void test_existing_size_and_extend(void **state)
{
	char err[256], path[128];
	struct lun_backend *be;
	snprintf(path, sizeof(path), "/tmp/kura-test-%d-size", (int)getpid());
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * MiB + 100), 0); /* not a block multiple */
	close(fd);
	struct lun_backend_params p = { .type = "file", .path = path, .size = 8 * MiB, .block_size = 4096 };
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), 0);
	assert_int_equal(be->size, 3 * MiB); /* from fstat, rounded down; no create: no extend */
	assert_int_equal(be->block_size, 4096);
	lun_backend_close(be);
	p.create = true;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), 0);
	assert_int_equal(be->size, 8 * MiB);
	lun_backend_close(be);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8 * MiB);
	assert_true(st.st_blocks * 512 < 1 * MiB); /* sparse */
	/* smaller than a block */
	assert_int_equal(truncate(path, 100), 0);
	p.create = false;
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "smaller"));
	unlink(path);
}

static void test_read_only(void **state)
{
	struct h *h = open_new("/tmp", "ro");
	char *w = kbuf_alloc(4096);
	fill(w, 4096, 11);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 0, w, 4096), 0);
	lun_backend_close(h->be);
	char err[256];
	struct lun_backend_params p = { .type = "file", .path = h->path, .read_only = true, .create = true };
	assert_int_equal(try_open(&p, &h->be, err, sizeof(err)), 0);
	assert_true(h->be->read_only);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 0, w, 4096), -EROFS);
	assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 0, 4096), -EROFS);
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 0, 4096), -EROFS);
	uint64_t mis;
	char two[8192];
	assert_int_equal(do_caw(h, 0, two, two + 4096, 4096, &mis), -EROFS);
	char *r = kbuf_alloc(4096);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 0, r, 4096), 0);
	assert_memory_equal(r, w, 4096);
	assert_int_equal(do_op(h, LUN_OP_FLUSH, 0, 0, 0), 0);
	/* the fd really is read-only: a direct write attempt fails too */
	assert_true(pwrite(lf_of(h->be)->fd, w, 512, 0) < 0);
	kbuf_free(w);
	kbuf_free(r);
	close_h(h);
}

static void direct_io_check(struct h *h)
{
	char *w = kbuf_alloc(65536), *r = kbuf_alloc(65536);
	fill(w, 65536, 12);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, LUN_IO_FUA, 4096, w, 65536), 0);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, 4096, r, 65536), 0);
	assert_memory_equal(w, r, 65536);
	kbuf_free(w);
	kbuf_free(r);
}

static void test_direct(void **state)
{
	struct lun_backend_params p = { .type = "file", .size = LUN_SIZE, .block_size = 4096,
					.create = true, .direct = true };
	struct h *h = open_h("/tmp", "direct", &p);
	assert_true(fcntl(lf_of(h->be)->fd, F_GETFL) & O_DIRECT);
	direct_io_check(h);
	close_h(h);

	/* tmpfs: older kernels refuse O_DIRECT (clear error); 6.6+ accept it */
	char err[256], path[128];
	struct lun_backend *be;
	snprintf(path, sizeof(path), "/dev/shm/kura-test-%d-direct", (int)getpid());
	unlink(path);
	p.path = path;
	int r = try_open(&p, &be, err, sizeof(err));
	if (r < 0) {
		assert_non_null(strstr(err, "O_DIRECT"));
		printf("tmpfs refuses O_DIRECT here: %s\n", err);
	} else {
		printf("tmpfs accepts O_DIRECT on this kernel: checking that I/O works\n");
		struct h t = { .l = kloop_new(16), .be = be };
		assert_non_null(t.l);
		direct_io_check(&t);
		lun_backend_close(be);
		kloop_free(t.l);
	}
	unlink(path);
}

/* ---- dispatcher ---- */

static void only_rw(struct lun_backend *be, struct lun_io *io) { lun_complete_later(io, 0); }
static const struct lun_backend_ops min_ops = { .name = "min", .submit_read = only_rw, .submit_write = only_rw };

static void test_absent_op(void **state)
{
	struct h h = { .l = kloop_new(8) };
	assert_non_null(h.l);
	struct lun_backend be = { .ops = &min_ops, .size = MiB, .block_size = 512 };
	h.be = &be;
	assert_false(lun_backend_has(&be, LUN_OP_FLUSH));
	assert_false(lun_backend_has(&be, LUN_OP_COMPARE_AND_WRITE));
	assert_true(lun_backend_has(&be, LUN_OP_READ));
	for (enum lun_op op = LUN_OP_FLUSH; op <= LUN_OP_BLOCK_STATUS; op++)
		assert_int_equal(do_op(&h, op, 0, 0, 512), -EOPNOTSUPP);
	kloop_free(h.l);
}

/* ---- block device through a loop device ---- */

static int sh(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t got = fread(out, 1, n - 1, f);
	out[got] = 0;
	while (got && (out[got - 1] == '\n'))
		out[--got] = 0;
	return pclose(f);
}

static void test_loop_device(void **state)
{
	char backing[128], cmd[256], dev[64] = "";
	snprintf(backing, sizeof(backing), "/tmp/kura-test-%d-loopback", (int)getpid());
	int fd = open(backing, O_CREAT | O_TRUNC | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, LUN_SIZE), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", backing);
	if (sh(cmd, dev, sizeof(dev)) != 0 || strncmp(dev, "/dev/loop", 9) != 0) {
		printf("losetup unavailable here: block device case skipped\n");
		unlink(backing);
		skip();
	}
	struct h *h = calloc(1, sizeof(*h));
	h->l = kloop_new(64);
	char err[256];
	struct lun_backend_params p = { .type = "file", .path = dev, .block_size = 512 };
	int r = lun_backend_open(&p, &h->be, err, sizeof(err));
	if (r == 0) {
		assert_int_equal(h->be->size, LUN_SIZE);
		assert_false(h->be->zeroes_after_unmap);
		suite_rw(h);
		suite_bad_input(h);
		size_t len = MiB;
		char *w = kbuf_alloc(len);
		fill(w, len, 13);
		assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, 2 * MiB, w, len), 0);
		assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 2 * MiB, 4096), 0);
		expect_zero(h, 2 * MiB, 4096);
		assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, LUN_IO_UNMAP, 2 * MiB + 4096, 4096), 0);
		expect_zero(h, 2 * MiB + 4096, 4096);
		if (lun_backend_has(h->be, LUN_OP_UNMAP))
			assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 2 * MiB + 65536, 65536), 0);
		bool m;
		uint64_t n;
		assert_int_equal(do_bs(h, 4096, &m, &n), 0); /* no SEEK_HOLE on devices: all mapped */
		assert_true(m);
		assert_int_equal(n, LUN_SIZE - 4096);
		suite_caw(h);
		kbuf_free(w);
		lun_backend_close(h->be);
	}
	kloop_free(h->l);
	free(h);
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	assert_int_equal(system(cmd), 0);
	unlink(backing);
	if (r != 0)
		fail_msg("open %s: %s", dev, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_tmp),
		cmocka_unit_test(test_suite_shm),
		cmocka_unit_test(test_zero_fallback_shm),
		cmocka_unit_test(test_short_io),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_existing_size_and_extend),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_absent_op),
		cmocka_unit_test(test_loop_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
