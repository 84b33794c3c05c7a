/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool unit-test harness shared by test_thin.c and test_thin_share.c
 * (include after lun-backends/lun_thin_*.c and cmocka.h): a pool over a
 * file backend in a temp dir, created / reopened / dropped as a crash would,
 * I/O through a real kloop with a 20 s watchdog, byte patterns by seed and
 * offset, and the pool's used-chunk count and consistency check. */
#ifndef KURA_TEST_THIN_HARNESS_H
#define KURA_TEST_THIN_HARNESS_H

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define CS  (64 * KiB)

struct env {
	char dir[64], meta[96], datap[96];
	struct kloop *l;
	struct lun_backend *data;
	struct lun_thin_pool *pool;
	int pending;
};

static void env_open_data(struct env *e, uint64_t size)
{
	struct lun_backend_params p = { .type = "file",
					.path = e->datap,
					.size = size,
					.block_size = 512,
					.create = true };
	char err[256];
	assert_int_equal(lun_file_open(&p, &e->data, err, sizeof(err)), 0);
}

static void pool_params(struct env *e, struct lun_thin_pool_params *p, uint64_t pool_bytes,
			uint64_t journal)
{
	*p = (struct lun_thin_pool_params){ .meta_path = e->meta,
					    .data = e->data,
					    .data_bytes = pool_bytes,
					    .chunk_size = CS,
					    .journal_bytes = journal };
}

static struct env *env_new(uint64_t file_size, uint64_t pool_bytes, uint64_t journal)
{
	struct env *e = calloc(1, sizeof(*e));
	strcpy(e->dir, "/tmp/kura-thin-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->meta, sizeof(e->meta), "%s/meta", e->dir);
	snprintf(e->datap, sizeof(e->datap), "%s/data", e->dir);
	e->l = kloop_new(256);
	assert_non_null(e->l);
	env_open_data(e, file_size);
	struct lun_thin_pool_params p;
	pool_params(e, &p, pool_bytes, journal);
	char err[256];
	int r = lun_thin_pool_create(&p, &e->pool, err, sizeof(err));
	if (r)
		fail_msg("create: %s", err);
	return e;
}

static int env_open_pool(struct env *e, char *err, size_t errlen)
{
	struct lun_thin_pool_params p;
	pool_params(e, &p, 0, 0);
	return lun_thin_pool_open(&p, &e->pool, err, errlen);
}

/* Close the pool (crash: drop it without a final checkpoint) and reopen. */
__attribute__((unused)) static void env_reopen(struct env *e, bool crash)
{
	if (crash)
		thin_pool_shutdown(e->pool, false, NULL);
	else
		assert_int_equal(lun_thin_pool_close(e->pool), 0);
	e->pool = NULL;
	char err[256];
	int r = env_open_pool(e, err, sizeof(err));
	if (r)
		fail_msg("reopen: %s", err);
}

static void env_free(struct env *e)
{
	if (e->pool)
		assert_int_equal(lun_thin_pool_close(e->pool), 0);
	lun_backend_close(e->data);
	kloop_free(e->l);
	unlink(e->meta);
	unlink(e->datap);
	rmdir(e->dir);
	free(e);
}

static void watchdog_fn(struct kloop_timer *t)
{
	fail_msg("I/O did not complete in 20 s");
}

static void io_done(struct lun_io *io)
{
	struct env *e = io->priv;
	if (--e->pending == 0)
		kloop_stop(e->l);
}

struct batch {
	struct kloop_task t;
	struct lun_backend *be;
	struct lun_io *ios;
	int n;
};

static void submit_all(struct kloop_task *t)
{
	struct batch *b = (struct batch *)t;
	for (int i = 0; i < b->n; i++)
		lun_submit(b->be, &b->ios[i]);
}

static void run_ios(struct env *e, struct lun_backend *be, struct lun_io *ios, int n)
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct batch b = { .t.fn = submit_all, .be = be, .ios = ios, .n = n };
	for (int i = 0; i < n; i++) {
		ios[i].loop = e->l;
		ios[i].done = io_done;
		ios[i].priv = e;
	}
	e->pending = n;
	kloop_defer(e->l, &b.t);
	kloop_timer_start(e->l, &wd, 20000);
	assert_int_equal(kloop_run(e->l), 0);
	kloop_timer_stop(e->l, &wd);
	assert_int_equal(e->pending, 0);
}

static int rw(struct env *e, struct lun_backend *be, enum lun_op op, unsigned flags, uint64_t off,
	      void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op,
			     .flags = flags,
			     .offset = off,
			     .length = len,
			     .iov = &iov,
			     .iovcnt = 1 };
	run_ios(e, be, &io, 1);
	return io.result;
}

static uint8_t pat(unsigned seed, uint64_t x)
{
	return (uint8_t)(seed * 131 + (x >> 9) * 7 + x);
}

static void fill(void *buf, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seed, off + i);
}

__attribute__((unused)) static void put(struct env *e, struct lun_backend *be, uint64_t off,
					uint64_t len, unsigned seed)
{
	void *buf = malloc(len);
	fill(buf, off, len, seed);
	assert_int_equal(rw(e, be, LUN_OP_WRITE, 0, off, buf, len), 0);
	free(buf);
}

/* The bytes at off hold seed's pattern as written at pat_off (seed 0: zeros). */
static void expect_at(struct env *e, struct lun_backend *be, uint64_t off, uint64_t len,
		      unsigned seed, uint64_t pat_off)
{
	uint8_t *buf = malloc(len);
	memset(buf, 0xa5, len);
	assert_int_equal(rw(e, be, LUN_OP_READ, 0, off, buf, len), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (seed ? pat(seed, pat_off + i) : 0))
			fail_msg("byte %llu: got %u want %u (seed %u)",
				 (unsigned long long)(off + i), buf[i],
				 seed ? pat(seed, pat_off + i) : 0, seed);
	free(buf);
}

/* seed 0 = zeros expected */
__attribute__((unused)) static void expect(struct env *e, struct lun_backend *be, uint64_t off,
					   uint64_t len, unsigned seed)
{
	expect_at(e, be, off, len, seed, off);
}

static struct lun_backend *vopen(struct env *e, uint32_t id, uint32_t bs)
{
	struct lun_backend *be;
	assert_int_equal(lun_thin_volume_open(e->pool, id, bs, &be), 0);
	return be;
}

__attribute__((unused)) static uint64_t used(struct env *e)
{
	struct lun_thin_pool_status st;
	lun_thin_pool_status(e->pool, &st);
	return st.chunks_used;
}

static void check_clean(struct env *e)
{
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(e->pool, false, &rep), 0);
	assert_false(rep.bad_mappings || rep.bad_refcounts || rep.free_and_mapped || rep.leaked);
}

#endif
