/* SPDX-License-Identifier: Apache-2.0 */
/* RAID unit-test harness shared by test_raid.c, test_raid_gather.c and
 * test_raid_meta.c: the RAID backend's .c files (to reach its statics), a
 * "faulty" wrapper backend that injects member I/O errors or drops data
 * writes as a crash would, arrays of member files in a fresh directory under
 * /dev/shm on a real kloop with a watchdog, byte patterns by seed, status,
 * scrub, and a writer that is SIGKILLed mid-stream.
 *
 * Not for: the tests themselves. */
#ifndef KURA_TEST_RAID_HARNESS_H
#define KURA_TEST_RAID_HARNESS_H
#include "lun-backends/raid/lun_raid.c"
#include "lun-backends/raid/lun_raid_sb.c"
#include "lun-backends/raid/lun_raid_layout.c"
#include "lun-backends/raid/lun_raid_meta.c"
#include "lun-backends/raid/lun_raid_stripe.c"
#include "lun-backends/raid/lun_raid_mirror.c"
#include "lun-backends/raid/lun_raid_bg.c"
#include "lun-backends/raid/lun_raid_format.c"
#include "common/kbuf.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "loop_submit.h"

#define KiB         1024u
#define MiB         (1024u * 1024u)
#define MEMBER_SIZE (LUN_RAID_DATA_OFFSET + 4 * MiB)
#define NMAX        10

/* ---- faulty wrapper backend ---- */

struct faulty {
	struct lun_backend be;
	struct lun_backend *inner;
	bool fail_reads, fail_writes;
	bool drop_data_writes; /* pretend data-area writes succeeded (a crash lost them) */
	bool count_fua;
	int data_writes, fua_writes; /* data-area writes seen, and of those with FUA (count_fua) */
};

static void fy_read(struct lun_backend *be, struct lun_io *io)
{
	struct faulty *f = be->priv;
	if (f->fail_reads)
		return lun_complete_later(io, -EIO);
	lun_submit(f->inner, io);
}

static void fy_write(struct lun_backend *be, struct lun_io *io)
{
	struct faulty *f = be->priv;
	if (f->fail_writes)
		return lun_complete_later(io, -EIO);
	if (f->drop_data_writes && io->offset >= LUN_RAID_DATA_OFFSET)
		return lun_complete_later(io, 0);
	if (f->count_fua && io->offset >= LUN_RAID_DATA_OFFSET) {
		f->data_writes++;
		f->fua_writes += (io->flags & LUN_IO_FUA) != 0;
	}
	lun_submit(f->inner, io);
}

static void fy_pass(struct lun_backend *be, struct lun_io *io)
{
	struct faulty *f = be->priv;
	if (f->fail_writes)
		return lun_complete_later(io, -EIO);
	lun_submit(f->inner, io);
}

static void fy_close(struct lun_backend *be)
{
	struct faulty *f = be->priv;
	lun_backend_close(f->inner);
	free(f);
}

static const struct lun_backend_ops faulty_ops = {
	.name = "faulty",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES,
	.submit_read = fy_read,
	.submit_write = fy_write,
	.submit_flush = fy_pass,
	.submit_unmap = fy_pass,
	.submit_write_zeroes = fy_pass,
	.close = fy_close,
};

/* ---- harness ---- */

struct h {
	struct kloop *l;
	struct lun_backend *be;
	char dir[64];
	char path[NMAX + 2][96];
	const char *paths[NMAX + 2];
	struct faulty *fy[NMAX + 2];
	int n;
	int pending;
	bool in_submit;
};

static int fy_open(void *ctx, const char *path, struct lun_backend **out, char *err, size_t errlen)
{
	struct h *h = ctx;
	struct lun_backend_params p = { .type = "file",
					.path = path,
					.create = true,
					.size = MEMBER_SIZE };
	struct lun_backend *in;
	int e = lun_file_open(&p, &in, err, errlen);
	if (e < 0)
		return e;
	struct faulty *f = calloc(1, sizeof(*f));
	f->inner = in;
	f->be = *in;
	f->be.ops = &faulty_ops;
	f->be.priv = f;
	for (int i = 0; i < NMAX + 2; i++)
		if (strcmp(h->path[i], path) == 0)
			h->fy[i] = f;
	*out = &f->be;
	return 0;
}

static struct h *h_new(int n)
{
	struct h *h = calloc(1, sizeof(*h));
	h->l = kloop_new(256);
	if (!h->l) {
		printf("io_uring unavailable: skipping\n");
		exit(77);
	}
	snprintf(h->dir, sizeof(h->dir), "/dev/shm/kura-raid-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	h->n = n;
	for (int i = 0; i < NMAX + 2; i++) {
		snprintf(h->path[i], sizeof(h->path[i]), "%s/m%d", h->dir, i);
		h->paths[i] = h->path[i];
	}
	return h;
}

static struct lun_raid_params h_params(struct h *h, int level)
{
	return (struct lun_raid_params){ .level = level,
					 .chunk = 64 * KiB,
					 .paths = h->paths,
					 .npaths = h->n,
					 .loop = h->l,
					 .member_size = MEMBER_SIZE,
					 .assume_clean = true,
					 .region_mib = 1,
					 .tick_ms = 5,
					 .bitmap_idle_ms = 100000,
					 .open_member = fy_open,
					 .open_ctx = h };
}

static void watchdog_fn(struct kloop_timer *t)
{
	fail_msg("timed out");
}

static void io_done(struct lun_io *io)
{
	struct h *h = io->priv;
	assert_false(h->in_submit);
	if (--h->pending == 0)
		kloop_stop(h->l);
}

static int run_io(struct h *h, struct lun_io *io)
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct loop_submit s = { .be = h->be, .io = io, .in_submit = &h->in_submit };
	io->loop = h->l;
	io->done = io_done;
	io->priv = h;
	h->pending = 1;
	loop_submit(h->l, &s);
	kloop_timer_start(h->l, &wd, 20000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	assert_int_equal(h->pending, 0);
	return io->result;
}

static int do_rw(struct h *h, enum lun_op op, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op,
			     .offset = off,
			     .length = len,
			     .iov = &iov,
			     .iovcnt = buf ? 1 : 0 };
	return run_io(h, &io);
}

/* Run the loop until pred(h) holds (checked every 2 ms). */
struct waiter {
	struct kloop_timer t;
	struct h *h;
	bool (*pred)(struct h *h);
};

static void poll_fn(struct kloop_timer *t)
{
	struct waiter *w = (struct waiter *)t;
	if (w->pred(w->h))
		kloop_stop(w->h->l);
}

static void run_until(struct h *h, bool (*pred)(struct h *h))
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	struct waiter w = { .t.fn = poll_fn, .h = h, .pred = pred };
	if (pred(h))
		return;
	kloop_timer_start(h->l, &w.t, 2);
	kloop_timer_start(h->l, &wd, 60000);
	assert_int_equal(kloop_run(h->l), 0);
	kloop_timer_stop(h->l, &wd);
	kloop_timer_stop(h->l, &w.t);
}

static bool idle(struct h *h)
{
	struct raid *r = raid_of(h->be);
	pthread_mutex_lock(&r->mu);
	bool meta = !r->meta_busy && !r->meta_kicked && r->meta_want == r->meta_done;
	pthread_mutex_unlock(&r->mu);
	bool spare_work = !atomic_load(&r->failed) && r->nspares > 0 &&
			  role_in(r, LUN_RAID_M_FAILED) >= 0;
	return meta && !r->bg_busy && r->bg == RAID_BG_NONE && r->resync_i == r->resync_n &&
	       !spare_work && role_in(r, LUN_RAID_M_REBUILDING) < 0;
}

static void settle(struct h *h)
{
	run_until(h, idle);
}

static void h_close(struct h *h)
{
	settle(h);
	lun_backend_close(h->be);
	h->be = NULL;
}

static void h_free(struct h *h)
{
	if (h->be)
		h_close(h);
	for (int i = 0; i < NMAX + 2; i++)
		unlink(h->path[i]);
	rmdir(h->dir);
	kloop_free(h->l);
	free(h);
}

static void h_create(struct h *h, int level)
{
	char err[256] = "";
	struct lun_raid_params p = h_params(h, level);
	int e = lun_raid_create(&p, &h->be, err, sizeof(err));
	if (e)
		fail_msg("create raid%d: %s", level, err);
}

static int h_assemble(struct h *h, const char **paths, int n, char *err, size_t errlen)
{
	struct lun_raid_params p = h_params(h, 0);
	p.paths = paths;
	p.npaths = n;
	return lun_raid_assemble(&p, &h->be, err, errlen);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 11));
}

/* Writes at assorted offsets / lengths into the array and a shadow copy. */
__attribute__((unused)) static void write_pattern(struct h *h, uint8_t *shadow, unsigned seed)
{
	uint64_t size = h->be->size;
	const uint64_t spots[][2] = { { 0, 4 * KiB },
				      { 60 * KiB, 8 * KiB },
				      { 512, 1536 },
				      { 200 * KiB, 300 * KiB },
				      { size - 192 * KiB, 192 * KiB },
				      { 1 * MiB, 1 * MiB + 512 } };
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		uint64_t off = spots[i][0], len = spots[i][1];
		if (off + len > size)
			continue;
		uint8_t *buf = kbuf_alloc(len);
		fill(buf, len, seed + (unsigned)i);
		assert_int_equal(do_rw(h, LUN_OP_WRITE, off, buf, len), 0);
		memcpy(shadow + off, buf, len);
		kbuf_free(buf);
	}
}

static void check_all(struct h *h, const uint8_t *shadow)
{
	uint64_t size = h->be->size;
	uint8_t *buf = malloc(size);
	memset(buf, 0xa5, size);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, buf, size), 0);
	assert_memory_equal(buf, shadow, size);
	/* and an unaligned-to-chunk window */
	memset(buf, 0xa5, 100 * KiB);
	assert_int_equal(do_rw(h, LUN_OP_READ, 30 * KiB, buf, 100 * KiB), 0);
	assert_memory_equal(buf, shadow + 30 * KiB, 100 * KiB);
	free(buf);
}

static struct lun_raid_status status(struct h *h)
{
	struct lun_raid_status st;
	assert_int_equal(lun_raid_status(h->be, &st), 0);
	return st;
}

static void scrub(struct h *h, bool repair, uint64_t *mism)
{
	assert_int_equal(lun_raid_scrub_start(h->be, repair), 0);
	settle(h);
	struct lun_raid_status st = status(h);
	assert_false(st.scrubbing);
	*mism = st.scrub_mismatches;
}


/* Fork a child that reassembles the closed n-member array of h in a loop
 * of its own and runs body (which writes until killed; _exit(4) on an
 * error, killed_writer_progress() once a first round of writes is done);
 * SIGKILL it ms after that sign of progress (not after a fixed time from
 * the fork: on a loaded machine the child may not have written yet), then
 * reassemble in the parent. */
static int kw_progress_fd = -1;

__attribute__((unused)) static void killed_writer_progress(void)
{
	if (kw_progress_fd >= 0 && write(kw_progress_fd, "x", 1) == 1) {
		close(kw_progress_fd);
		kw_progress_fd = -1;
	}
}

__attribute__((unused)) static void killed_writer(struct h *h, int n, long ms,
						  void (*body)(struct h *h))
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		close(pfd[0]);
		kw_progress_fd = pfd[1];
		kloop_free(h->l);
		h->l = kloop_new(256);
		if (!h->l || h_assemble(h, h->paths, n, err, sizeof(err)) != 0)
			_exit(3);
		body(h);
		_exit(0);
	}
	close(pfd[1]);
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1); /* EOF: the child died first */
	close(pfd[0]);
	struct timespec ts = { 0, ms * 1000000 };
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	int wst;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFSIGNALED(wst));
	char err[256];
	assert_int_equal(h_assemble(h, h->paths, n, err, sizeof(err)), 0);
}

__attribute__((unused)) static void corrupt(struct h *h, int member, uint64_t off, size_t len)
{
	int fd = open(h->path[member], O_WRONLY);
	assert_true(fd >= 0);
	uint8_t junk[4096];
	memset(junk, 0xd6, sizeof(junk));
	for (size_t done = 0; done < len; done += sizeof(junk))
		assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)(off + done)),
				 (ssize_t)sizeof(junk));
	close(fd);
}

#endif
