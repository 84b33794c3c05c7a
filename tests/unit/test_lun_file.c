/* SPDX-License-Identifier: Apache-2.0 */
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

#include "lun_conformance.h"

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
	struct lun_backend_params p = { .type = "file",
					.size = LUN_SIZE,
					.block_size = 512,
					.create = true };
	return open_h(dir, name, &p);
}

static void close_h(struct h *h)
{
	lun_backend_close(h->be);
	kloop_free(h->l);
	unlink(h->path);
	free(h);
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

static void test_suite_tmp(void **state)
{
	run_suite("/tmp");
}

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
	assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, 0, 0, 512),
			 0); /* straight to the fallback */
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
	struct lun_io io = { .op = LUN_OP_WRITE,
			     .offset = 0,
			     .length = len,
			     .iov = iov,
			     .iovcnt = 3 };
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
	struct lun_backend_params p = { .type = "file",
					.path = path,
					.size = 8 * MiB,
					.block_size = 4096 };
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

/* lun_file_grow: online, sparse, through the open descriptor; refused for
 * a smaller size and for other backends. */
static void test_grow(void **state)
{
	char err[256], path[128];
	struct lun_backend *be, *mem;
	snprintf(path, sizeof(path), "/tmp/kura-test-%d-grow", (int)getpid());
	unlink(path);
	struct lun_backend_params p = { .type = "file",
					.path = path,
					.size = 1 * MiB,
					.block_size = 512,
					.create = true };
	assert_int_equal(try_open(&p, &be, err, sizeof(err)), 0);
	assert_int_equal(lun_file_grow(be, 1 * MiB), -EINVAL);
	assert_int_equal(lun_file_grow(be, 3 * MiB + 100), 0);
	assert_int_equal(be->size, 3 * MiB); /* rounded down to the block size */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3 * MiB);
	assert_true(st.st_blocks * 512 < 1 * MiB); /* sparse */
	lun_backend_close(be);
	struct lun_backend_params mp = { .type = "memory", .size = 1 * MiB, .block_size = 512 };
	assert_int_equal(lun_backend_open(&mp, &mem, err, sizeof(err)), 0);
	assert_int_equal(lun_file_grow(mem, 2 * MiB), -EOPNOTSUPP);
	lun_backend_close(mem);
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
	struct lun_backend_params p = { .type = "file",
					.path = h->path,
					.read_only = true,
					.create = true };
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
	struct lun_backend_params p = { .type = "file",
					.size = LUN_SIZE,
					.block_size = 4096,
					.create = true,
					.direct = true };
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

static void only_rw(struct lun_backend *be, struct lun_io *io)
{
	lun_complete_later(io, 0);
}
static const struct lun_backend_ops min_ops = { .name = "min",
						.submit_read = only_rw,
						.submit_write = only_rw };

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
		assert_int_equal(do_op(h, LUN_OP_WRITE_ZEROES, LUN_IO_UNMAP, 2 * MiB + 4096, 4096),
				 0);
		expect_zero(h, 2 * MiB + 4096, 4096);
		if (lun_backend_has(h->be, LUN_OP_UNMAP))
			assert_int_equal(do_op(h, LUN_OP_UNMAP, 0, 2 * MiB + 65536, 65536), 0);
		bool m;
		uint64_t n;
		assert_int_equal(do_bs(h, 4096, &m, &n),
				 0); /* no SEEK_HOLE on devices: all mapped */
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
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_absent_op),
		cmocka_unit_test(test_loop_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
