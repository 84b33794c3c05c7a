/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for RAID write gathering (lun-backends/raid/lun_raid_stripe.c):
 * sequential and random streams gathered into full stripes, the hold
 * timeout, degraded arrays, FUA, and a writer SIGKILLed mid-stream (the
 * bitmap covers every stripe in flight). RAID_BENCH=1 also prints a RAID-6
 * vs single-file throughput comparison (not a pass/fail test). */
#include "raid_harness.h"

/* ---- write gathering ---- */

/* A stream of writes kept qd deep on the loop, each write of bs bytes at
 * the next offset (sequential) or at a scattered one; a write's data is
 * the shadow's bytes. The loop stops when every write has completed. */
#define QD_MAX 32
struct stream {
	struct h *h;
	const uint8_t *shadow;
	uint64_t start, end, next;
	uint32_t bs;
	unsigned flags;
	bool scatter;
	int qd, inflight, errors;
	unsigned n;
	struct lun_io io[QD_MAX];
	struct iovec iov[QD_MAX];
	struct kloop_task t;
};

static void stream_issue(struct stream *st, int i);

static void stream_done(struct lun_io *io)
{
	struct stream *st = io->priv;
	st->errors += io->result != 0;
	st->inflight--;
	if (st->next < st->end)
		return stream_issue(st, (int)(io - st->io));
	if (!st->inflight)
		kloop_stop(st->h->l);
}

static void stream_issue(struct stream *st, int i)
{
	uint64_t off = st->next;
	if (st->scatter) { /* every bs-sized slot once, in a scrambled order */
		uint64_t slots = (st->end - st->start) / st->bs;
		off = st->start + (st->n * 7919ull % slots) * st->bs;
	}
	st->n++;
	st->next += st->bs;
	st->iov[i] = (struct iovec){ (void *)(st->shadow + off), st->bs };
	st->io[i] = (struct lun_io){ .op = LUN_OP_WRITE,
				     .flags = st->flags,
				     .offset = off,
				     .length = st->bs,
				     .iov = &st->iov[i],
				     .iovcnt = 1,
				     .loop = st->h->l,
				     .done = stream_done,
				     .priv = st };
	st->inflight++;
	lun_submit(st->h->be, &st->io[i]);
}

static void stream_start(struct kloop_task *t)
{
	struct stream *st = (struct stream *)(void *)((char *)t - offsetof(struct stream, t));
	for (int i = 0; i < st->qd && st->next < st->end; i++)
		stream_issue(st, i);
}

static int run_stream(struct h *h, const uint8_t *shadow, uint64_t start, uint64_t end, uint32_t bs,
		      int qd, bool scatter)
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct stream *st = calloc(1, sizeof(*st));
	*st = (struct stream){ .h = h,
			       .shadow = shadow,
			       .start = start,
			       .end = end,
			       .next = start,
			       .bs = bs,
			       .scatter = scatter,
			       .qd = qd < QD_MAX ? qd : QD_MAX };
	st->t.fn = stream_start;
	kloop_defer(h->l, &st->t);
	kloop_timer_start(h->l, &wd, 20000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	assert_int_equal(st->inflight, 0);
	int errors = st->errors;
	free(st);
	return errors;
}

static void gather_stats(struct raid *r, const char *what)
{
	printf("%s: %llu full, %llu rcw, %llu rmw, %llu gathered, %llu held\n", what,
	       (unsigned long long)atomic_load(&r->stat_full),
	       (unsigned long long)atomic_load(&r->stat_rcw),
	       (unsigned long long)atomic_load(&r->stat_rmw),
	       (unsigned long long)atomic_load(&r->stat_gathered),
	       (unsigned long long)atomic_load(&r->stat_held));
}

/* Sequential writes at QD8 on RAID-6 of 6 (stripe 4 x 64 KiB), 64 KiB and
 * 4 KiB: the pieces of a stripe are gathered into stripe writes (64 KiB:
 * full stripes that read nothing); data and parity come out right. */
static void test_gather_full_stripe(void **state)
{
	const uint32_t bs[] = { 64 * KiB, 4 * KiB };
	for (int i = 0; i < 2; i++) {
		struct h *h = h_new(6);
		h_create(h, 6);
		struct raid *r = raid_of(h->be);
		uint64_t size = h->be->size, stripes = size / (4 * 64 * KiB);
		uint8_t *shadow = malloc(size);
		fill(shadow, size, 91 + (unsigned)i);
		assert_int_equal(run_stream(h, shadow, 0, size, bs[i], 8, false), 0);
		gather_stats(r, bs[i] == 4 * KiB ? "gather 4K QD8" : "gather 64K QD8");
		if (bs[i] == 64 * KiB)
			assert_int_equal(atomic_load(&r->stat_full), stripes);
		else /* 8 x 4 KiB in flight can never fill a stripe: never held */
			assert_int_equal(atomic_load(&r->stat_held), 0);
		assert_true(atomic_load(&r->stat_gathered) > 0);
		assert_true(atomic_load(&r->stat_full) + atomic_load(&r->stat_rcw) +
				    atomic_load(&r->stat_rmw) <
			    size / bs[i]);
		assert_int_equal(atomic_load(&r->wr_inflight), 0);
		assert_int_equal(atomic_load(&r->wr_held), 0);
		check_all(h, shadow);
		uint64_t mism;
		scrub(h, false, &mism);
		assert_int_equal(mism, 0);
		free(shadow);
		h_free(h);
	}
}

/* Random 4 KiB writes at QD16 and sequential ones at low depth (QD1..3
 * of 64 KiB: the stripe can never fill, no write may wait for a write
 * that cannot come) all complete and come out right. */
static void test_gather_random_and_shallow(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	struct raid *r = raid_of(h->be);
	uint64_t size = h->be->size;
	uint8_t *shadow = malloc(size);
	fill(shadow, size, 17);
	assert_int_equal(run_stream(h, shadow, 0, size, 64 * KiB, 8, false), 0);
	fill(shadow, size, 18);
	assert_int_equal(run_stream(h, shadow, 0, size, 4 * KiB, 16, true), 0);
	check_all(h, shadow);
	/* A hold that waited for a write that cannot come would last until
	 * hold_us releases it (stat_hold_expired); 5 s keeps a slow but
	 * legitimate hold on a loaded machine from being released that way. */
	r->hold_us = 5000000;
	for (int qd = 1; qd <= 3; qd++) {
		fill(shadow, 4 * MiB, 20 + (unsigned)qd);
		assert_int_equal(run_stream(h, shadow, 0, 4 * MiB, 64 * KiB, qd, false), 0);
	}
	assert_int_equal(atomic_load(&r->stat_hold_expired), 0);
	check_all(h, shadow);
	gather_stats(r, "gather random + shallow");
	assert_int_equal(atomic_load(&r->wr_held), 0);
	free(shadow);
	h_free(h);
}

/* A partial-stripe write of a sequential stream is held while another
 * write is in flight; when its stripe does not fill, it is written after
 * hold_us all the same (reconstruct-write) and reads back right. */
static void test_gather_hold_timeout(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	struct raid *r = raid_of(h->be);
	uint8_t *buf = kbuf_alloc(64 * KiB), *back = kbuf_alloc(256 * KiB),
		*zero = calloc(1, 192 * KiB);
	fill(buf, 64 * KiB, 33);
	r->hold_us = 20000;
	atomic_fetch_add(&r->wr_inflight, 1); /* "another write in flight" that never completes */
	atomic_store(&r->last_end, 0);        /* the write at 0 continues a stream */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, buf, 64 * KiB), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_fetch_sub(&r->wr_inflight, 1);
	uint64_t us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		      (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000;
	assert_true(us >= 20000);
	assert_int_equal(atomic_load(&r->stat_held), 1);
	assert_int_equal(atomic_load(&r->stat_hold_expired), 1); /* released by hold_us */
	assert_int_equal(atomic_load(&r->stat_rcw), 1);
	assert_int_equal(atomic_load(&r->wr_held), 0);
	/* a write that does not continue the stream is not held */
	atomic_fetch_add(&r->wr_inflight, 1);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 512 * KiB, buf, 64 * KiB), 0);
	atomic_fetch_sub(&r->wr_inflight, 1);
	assert_int_equal(atomic_load(&r->stat_held), 1);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, back, 256 * KiB), 0);
	assert_memory_equal(back, buf, 64 * KiB);
	assert_memory_equal(back + 64 * KiB, zero, 192 * KiB);
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	kbuf_free(buf);
	kbuf_free(back);
	free(zero);
	h_free(h);
}

/* Degraded RAID-6 (one, then two members failed): gathered stripe writes
 * skip the missing members, reads reconstruct the right data, and a
 * rebuild onto a spare gives a clean scrub. */
static void test_gather_degraded(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	struct raid *r = raid_of(h->be);
	uint64_t size = h->be->size;
	uint8_t *shadow = malloc(size);
	fill(shadow, size, 51);
	assert_int_equal(run_stream(h, shadow, 0, size, 64 * KiB, 8, false), 0);
	assert_int_equal(lun_raid_fail_member(h->be, 1), 0);
	fill(shadow, size, 52);
	assert_int_equal(run_stream(h, shadow, 0, size, 64 * KiB, 8, false), 0);
	check_all(h, shadow);
	assert_int_equal(lun_raid_fail_member(h->be, 4), 0);
	fill(shadow, size, 53);
	assert_int_equal(run_stream(h, shadow, 0, size, 64 * KiB, 8, false), 0);
	fill(shadow, 1 * MiB, 54);
	assert_int_equal(run_stream(h, shadow, 0, 1 * MiB, 4 * KiB, 16, true), 0);
	gather_stats(r, "gather degraded");
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}

/* Gathered writes of which one carries FUA: every member write of the
 * stripe write is FUA (the FUA write's data is durable before its ack). */
static void test_gather_fua(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	struct raid *r = raid_of(h->be);
	uint64_t size = 1 * MiB;
	uint8_t *shadow = malloc(h->be->size);
	memset(shadow, 0, h->be->size);
	fill(shadow, size, 61);
	for (int i = 0; i < 6; i++)
		h->fy[i]->count_fua = true;
	struct stream *st = calloc(1, sizeof(*st));
	*st = (struct stream){ .h = h,
			       .shadow = shadow,
			       .start = 0,
			       .end = size,
			       .next = 0,
			       .bs = 64 * KiB,
			       .qd = 4 };
	st->t.fn = stream_start;
	/* the first stripe: writes 1 and 3 FUA, 0 and 2 not; all four gathered */
	for (int i = 0; i < 4; i++) {
		st->flags = i % 2 ? LUN_IO_FUA : 0;
		stream_issue(st, i);
	}
	st->flags = 0;
	assert_int_equal(kloop_run(h->l), 0);
	assert_int_equal(st->errors, 0);
	free(st);
	int data_writes = 0, fua_writes = 0;
	for (int i = 0; i < 6; i++) {
		data_writes += h->fy[i]->data_writes;
		fua_writes += h->fy[i]->fua_writes;
	}
	gather_stats(r, "gather fua");
	assert_true(atomic_load(&r->stat_full) >= 1);
	assert_true(fua_writes >= 6);          /* the first stripe's 4 data + P + Q */
	assert_true(data_writes > fua_writes); /* the later, non-FUA stripes are not */
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}


/* A child writes sequential gathered stripes (and random 4 KiB writes
 * gathered into partial ones) and is SIGKILLed mid-stream; the bitmap
 * covered every stripe write in flight, so after reassembly and resync a
 * scrub finds every stripe's P and Q consistent. */
static void gather_writer(struct h *h)
{
	uint64_t size = h->be->size;
	uint8_t *shadow = malloc(size);
	for (unsigned i = 0;; i++) {
		fill(shadow, size, i);
		if (i == 1)
			killed_writer_progress();
		if (run_stream(h, shadow, 0, size, 64 * KiB, 8, false) ||
		    run_stream(h, shadow, 0, size, 4 * KiB, 16, true))
			_exit(4);
	}
}

static void test_gather_killed_writer(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	h_close(h);
	killed_writer(h, 6, 300, gather_writer);
	assert_true(status(h).dirty_regions > 0);
	settle(h);
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	h_free(h);
}

/* ---- throughput (informational) ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench {
	struct h *h;
	uint8_t *buf;
	uint64_t io_size, next, end;
	int inflight;
	enum lun_op op;
	struct lun_io io[16];
	struct iovec iov[16];
};

static void bench_done(struct lun_io *io);

static void bench_issue(struct bench *b, int i)
{
	b->iov[i] = (struct iovec){ b->buf + (size_t)i * b->io_size, b->io_size };
	b->io[i] = (struct lun_io){ .op = b->op,
				    .offset = b->next % b->h->be->size,
				    .length = b->io_size,
				    .iov = &b->iov[i],
				    .iovcnt = 1,
				    .loop = b->h->l,
				    .done = bench_done,
				    .priv = b };
	b->next += b->io_size;
	b->inflight++;
	lun_submit(b->h->be, &b->io[i]);
}

static void bench_done(struct lun_io *io)
{
	struct bench *b = io->priv;
	assert_int_equal(io->result, 0);
	b->inflight--;
	if (b->next < b->end)
		return bench_issue(b, (int)(io - b->io));
	if (!b->inflight)
		kloop_stop(b->h->l);
}

static void bench_start(struct kloop_task *t)
{
	struct bench *b = *(struct bench **)(t + 1);
	for (int i = 0; i < 16; i++)
		bench_issue(b, i);
}

static double bench_run(struct h *h, enum lun_op op, uint64_t total, uint64_t io_size)
{
	struct bench b = { .h = h, .io_size = io_size, .end = total, .op = op };
	b.buf = kbuf_alloc(16 * io_size);
	fill(b.buf, 16 * io_size, 5);
	struct {
		struct kloop_task t;
		struct bench *b;
	} st = { .t.fn = bench_start, .b = &b };
	double t0 = now_s();
	kloop_defer(h->l, &st.t);
	kloop_run(h->l);
	double dt = now_s() - t0;
	kbuf_free(b.buf);
	return (double)total / dt / MiB;
}

static void test_bench(void **state)
{
	if (!getenv("RAID_BENCH"))
		skip();
	const uint64_t msize = LUN_RAID_DATA_OFFSET + 256 * MiB, total = 1024ull * MiB,
		       ios = 1 * MiB;
	struct h *h = h_new(6);
	struct lun_raid_params p = h_params(h, 6);
	p.open_member = NULL;
	p.member_size = msize;
	p.region_mib = 64;
	char err[256];
	assert_int_equal(lun_raid_create(&p, &h->be, err, sizeof(err)), 0);
	double w6 = bench_run(h, LUN_OP_WRITE, total, ios),
	       r6 = bench_run(h, LUN_OP_READ, total, ios);
	double w6s = bench_run(h, LUN_OP_WRITE, 256 * MiB, 64 * KiB);
	double r6s = bench_run(h, LUN_OP_READ, 256 * MiB, 4 * KiB);
	h_close(h);
	struct lun_backend_params fp = { .type = "file",
					 .path = h->path[7],
					 .create = true,
					 .size = 1024ull * MiB };
	assert_int_equal(lun_file_open(&fp, &h->be, err, sizeof(err)), 0);
	double wf = bench_run(h, LUN_OP_WRITE, total, ios),
	       rf = bench_run(h, LUN_OP_READ, total, ios);
	double wfs = bench_run(h, LUN_OP_WRITE, 256 * MiB, 64 * KiB);
	double rfs = bench_run(h, LUN_OP_READ, 256 * MiB, 4 * KiB);
	lun_backend_close(h->be);
	h->be = NULL;
	printf("BENCH raid6 x6 /dev/shm: write %.0f MiB/s read %.0f MiB/s (1 MiB, QD16); "
	       "write %.0f MiB/s (64 KiB), read %.0f MiB/s (4 KiB)\n",
	       w6, r6, w6s, r6s);
	printf("BENCH single file      : write %.0f MiB/s read %.0f MiB/s (1 MiB, QD16); "
	       "write %.0f MiB/s (64 KiB), read %.0f MiB/s (4 KiB)\n",
	       wf, rf, wfs, rfs);
	h_free(h);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather_full_stripe),
		cmocka_unit_test(test_gather_random_and_shallow),
		cmocka_unit_test(test_gather_hold_timeout),
		cmocka_unit_test(test_gather_degraded),
		cmocka_unit_test(test_gather_fua),
		cmocka_unit_test(test_gather_killed_writer),
		cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
