/* SPDX-License-Identifier: Apache-2.0 */
/* The thin pool's crash loop (lun-backends/thin/): a child process runs a
 * write/unmap storm on a pool over a real file backend and is SIGKILLed at a
 * random moment, again and again; after each kill the pool is reopened and
 * every acknowledged write must read back (the other thin tests:
 * test_thin.c, test_thin_meta.c, test_thin_share.c; harness: thin_harness.h). */
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

/* ---- crash loop: fork, write/unmap storm, SIGKILL, verify ---- */

#define CR_CHUNKS 48
#define CR_BLOCKS 16 /* 4 KiB blocks per 64 KiB chunk */
#define CR_QD     8

enum { M_SUBMIT = 1, M_ACK, M_FAIL };
enum { OP_WRITE = 1, OP_UNMAP, OP_ZERO };

struct msg {
	uint8_t type, op;
	uint16_t blk;
	uint32_t chunk;
	uint64_t seed;
};

struct storm_op {
	struct lun_io io;
	struct iovec iov;
	uint64_t buf[512];
	struct msg m;
};

struct storm {
	struct lun_backend *be;
	struct kloop *l;
	int fd;
	bool busy[CR_CHUNKS];
	uint64_t seq;
	struct storm_op ops[CR_QD];
	struct kloop_task t;
};

static void block_fill(uint64_t *w, uint64_t seed)
{
	for (int i = 0; i < 512; i++)
		w[i] = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i;
}

static void storm_issue(struct storm *s, struct storm_op *o);

static void send_msg(int fd, struct msg m)
{
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		_exit(3);
}

static void storm_done(struct lun_io *io)
{
	struct storm_op *o = (struct storm_op *)io;
	struct storm *s = io->priv;
	o->m.type = io->result ? M_FAIL : M_ACK;
	send_msg(s->fd, o->m);
	s->busy[o->m.chunk] = false;
	storm_issue(s, o);
}

static void storm_issue(struct storm *s, struct storm_op *o)
{
	uint32_t c;
	do
		c = (uint32_t)rand() % CR_CHUNKS;
	while (s->busy[c]);
	s->busy[c] = true;
	int dice = rand() % 100;
	o->m = (struct msg){ .type = M_SUBMIT,
			     .chunk = c,
			     .blk = (uint16_t)(rand() % CR_BLOCKS),
			     .seed = ++s->seq,
			     .op = dice < 75   ? OP_WRITE
				   : dice < 90 ? OP_UNMAP
					       : OP_ZERO };
	uint64_t off = (uint64_t)c * CS + (uint64_t)o->m.blk * 4 * KiB;
	o->iov = (struct iovec){ o->buf, 4 * KiB };
	if (o->m.op == OP_WRITE) {
		block_fill(o->buf, o->m.seed);
		o->io = (struct lun_io){ .op = LUN_OP_WRITE,
					 .offset = off,
					 .length = 4 * KiB,
					 .iov = &o->iov,
					 .iovcnt = 1 };
	} else if (o->m.op == OP_UNMAP) {
		o->io = (struct lun_io){ .op = LUN_OP_UNMAP,
					 .offset = (uint64_t)c * CS,
					 .length = CS };
	} else {
		o->io = (struct lun_io){ .op = LUN_OP_WRITE_ZEROES,
					 .offset = off,
					 .length = 4 * KiB };
	}
	o->io.loop = s->l;
	o->io.done = storm_done;
	o->io.priv = s;
	send_msg(s->fd, o->m);
	lun_submit(s->be, &o->io);
}

static void storm_start(struct kloop_task *t)
{
	struct storm *s = (struct storm *)((char *)t - offsetof(struct storm, t));
	for (int i = 0; i < CR_QD; i++)
		storm_issue(s, &s->ops[i]);
}

static void child_storm(struct env *e, int fd, unsigned seed)
{
	srand(seed);
	struct storm *s = calloc(1, sizeof(*s));
	s->fd = fd;
	s->l = kloop_new(256);
	e->pool = NULL;
	char err[256];
	if (!s->l || env_open_pool(e, err, sizeof(err)) ||
	    lun_thin_volume_open(e->pool, 1, 512, &s->be))
		_exit(2);
	s->seq = (uint64_t)seed << 32;
	s->t.fn = storm_start;
	kloop_defer(s->l, &s->t);
	kloop_run(s->l);
	_exit(0);
}

struct model {
	uint64_t val[CR_CHUNKS][CR_BLOCKS];
	struct msg inflight[CR_CHUNKS];
	unsigned acks;
};

static void model_apply(uint64_t v[CR_BLOCKS], const struct msg *m)
{
	if (m->op == OP_UNMAP)
		memset(v, 0, CR_BLOCKS * sizeof(v[0]));
	else
		v[m->blk] = m->op == OP_WRITE ? m->seed : 0;
}

static void model_msg(struct model *md, const struct msg *m)
{
	assert_true(m->chunk < CR_CHUNKS);
	if (m->type == M_SUBMIT) {
		md->inflight[m->chunk] = *m;
		return;
	}
	if (m->type == M_ACK) {
		model_apply(md->val[m->chunk], m);
		md->acks++;
	}
	md->inflight[m->chunk].type = 0;
}

/* Read the pipe until the deadline (ms) or EOF. */
static void drain(struct model *md, int fd, int ms)
{
	struct msg m;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, ms) > 0) {
		ssize_t n = read(fd, &m, sizeof(m));
		if (n <= 0)
			return;
		assert_int_equal(n, sizeof(m));
		model_msg(md, &m);
	}
}

static uint64_t block_value(const uint64_t *w)
{
	return w[0]; /* seed * golden ratio, or 0 */
}

static void verify_chunk(struct env *e, struct lun_backend *be, struct model *md, uint32_t c)
{
	uint64_t want[CR_BLOCKS], alt[CR_BLOCKS], buf[512];
	memcpy(want, md->val[c], sizeof(want));
	memcpy(alt, want, sizeof(alt));
	bool has_alt = md->inflight[c].type == M_SUBMIT;
	if (has_alt)
		model_apply(alt, &md->inflight[c]);
	for (int b = 0; b < CR_BLOCKS; b++) {
		assert_int_equal(rw(e, be, LUN_OP_READ, 0, (uint64_t)c * CS + (uint64_t)b * 4 * KiB,
				    buf, 4 * KiB),
				 0);
		uint64_t exp[512], alt_blk[512];
		block_fill(exp, want[b]);
		block_fill(alt_blk, alt[b]);
		if (!want[b])
			memset(exp, 0, sizeof(exp));
		if (!alt[b])
			memset(alt_blk, 0, sizeof(alt_blk));
		bool ok = !memcmp(buf, exp, sizeof(buf));
		if (!ok && has_alt && !memcmp(buf, alt_blk, sizeof(buf))) {
			ok = true;
			md->val[c][b] =
				alt[b]; /* the in-flight op made it: now part of the model */
		}
		if (!ok)
			fail_msg(
				"chunk %u block %d: read %llx, acknowledged state %llx (in flight %llx)",
				c, b, (unsigned long long)block_value(buf),
				(unsigned long long)want[b], (unsigned long long)alt[b]);
	}
}

static void test_crash_loop(void **state)
{
	struct env *e = env_new(8 * MiB, 0, 128 * KiB);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, CR_CHUNKS * CS), 0);
	assert_int_equal(lun_thin_pool_close(e->pool), 0);
	e->pool = NULL;
	struct model *md = calloc(1, sizeof(*md));
	srand((unsigned)time(NULL));
	int iterations = getenv("THIN_CRASH_ITERS") ? atoi(getenv("THIN_CRASH_ITERS")) : 24;
	for (int it = 0; it < iterations; it++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		unsigned seed = (unsigned)rand();
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child_storm(e, pfd[1], seed);
		}
		close(pfd[1]);
		drain(md, pfd[0], 0);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int life = 30 + rand() % 300;
		do {
			drain(md, pfd[0], 5);
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 <
			 life);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		drain(md, pfd[0], 0);
		close(pfd[0]);
		char err[256];
		if (env_open_pool(e, err, sizeof(err)))
			fail_msg("iteration %d: reopen: %s", it, err);
		check_clean(e);
		struct lun_backend *be = vopen(e, 1, 512);
		for (uint32_t c = 0; c < CR_CHUNKS; c++)
			verify_chunk(e, be, md, c);
		memset(md->inflight, 0, sizeof(md->inflight));
		lun_backend_close(be);
		if (it % 2) /* alternate clean close and a dropped pool */
			assert_int_equal(lun_thin_pool_close(e->pool), 0);
		else
			thin_pool_shutdown(e->pool, false, NULL);
		e->pool = NULL;
	}
	printf("crash loop: %d kills, %u acknowledged operations verified\n", iterations, md->acks);
	assert_true(md->acks > 100);
	free(md);
	env_free(e);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
