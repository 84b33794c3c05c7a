/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/kloop.c: fd readiness, defer ordering, cross-thread
 * posts, timers, io_uring completions and stopping from another thread. Each
 * test drives a real loop; a watchdog timer fails a test that would hang.
 * Timing assertions are loose on purpose (shared, noisy machine). */
#include "common/kloop.c"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <cmocka.h>

#define WATCHDOG_MS 10000

static void watchdog_fn(struct kloop_timer *t)
{
	fail_msg("watchdog: loop ran for %d ms", WATCHDOG_MS);
}

/* Run l until something calls kloop_stop, failing after WATCHDOG_MS. */
static void run_guarded(struct kloop *l)
{
	struct kloop_timer wd = { .fn = watchdog_fn };
	kloop_timer_start(l, &wd, WATCHDOG_MS);
	assert_int_equal(kloop_run(l), 0);
	kloop_timer_stop(l, &wd);
}

static struct kloop *new_loop(void)
{
	struct kloop *l = kloop_new(64);
	if (!l) {
		printf("io_uring unavailable here (%s): skipping\n", strerror(errno));
		exit(77);
	}
	return l;
}

/* ---- fds ---- */

struct sock_h {
	struct kloop_fd h;
	struct kloop *l;
	int fd;
	char got[16];
	uint32_t events;
};

static void sock_fn(struct kloop_fd *h, uint32_t events)
{
	struct sock_h *s = (struct sock_h *)h;
	s->events = events;
	if (events & EPOLLIN)
		assert_true(read(s->fd, s->got, sizeof(s->got)) >= 0); /* 0 once the peer closed */
	kloop_stop(s->l);
}

static void test_fd_readiness(void **state)
{
	struct kloop *l = new_loop();
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct sock_h s = { .h.fn = sock_fn, .l = l, .fd = sv[0] };
	assert_int_equal(kloop_add_fd(l, sv[0], EPOLLIN, &s.h), 0);
	assert_int_equal(kloop_add_fd(l, sv[0], EPOLLIN, &s.h), -EEXIST);
	assert_int_equal(write(sv[1], "ping", 5), 5);
	run_guarded(l);
	assert_true(s.events & EPOLLIN);
	assert_string_equal(s.got, "ping");

	/* writable right away once we ask for EPOLLOUT */
	s.events = 0;
	assert_int_equal(kloop_mod_fd(l, sv[0], EPOLLOUT, &s.h), 0);
	run_guarded(l);
	assert_true(s.events & EPOLLOUT);

	/* peer closed: EPOLLHUP/EPOLLIN reported */
	s.events = 0;
	assert_int_equal(kloop_mod_fd(l, sv[0], EPOLLIN, &s.h), 0);
	close(sv[1]);
	run_guarded(l);
	assert_true(s.events & (EPOLLIN | EPOLLHUP));

	assert_int_equal(kloop_del_fd(l, sv[0]), 0);
	assert_int_equal(kloop_del_fd(l, sv[0]), -ENOENT);
	assert_int_equal(kloop_add_fd(l, -1, EPOLLIN, &s.h), -EBADF);
	close(sv[0]);
	kloop_free(l);
}

/* ---- defer ---- */

struct rec {
	struct kloop_task t;
	struct kloop *l;
	char name;
	char *log;
	struct rec *then; /* deferred from inside fn */
	bool stop;
};

static void rec_fn(struct kloop_task *t)
{
	struct rec *r = (struct rec *)t;
	size_t n = strlen(r->log);
	r->log[n] = r->name;
	if (r->then) {
		/* deferred now: must not run in this same pass */
		kloop_defer(r->l, &r->then->t);
	}
	if (r->stop)
		kloop_stop(r->l);
}

static void test_defer_order(void **state)
{
	struct kloop *l = new_loop();
	char log[16] = "";
	struct rec d = { .t.fn = rec_fn, .l = l, .name = 'D', .log = log, .stop = true };
	struct rec a = { .t.fn = rec_fn, .l = l, .name = 'A', .log = log, .then = &d };
	struct rec b = { .t.fn = rec_fn, .l = l, .name = 'B', .log = log };
	struct rec c = { .t.fn = rec_fn, .l = l, .name = 'C', .log = log };
	kloop_defer(l, &a.t);
	kloop_defer(l, &b.t);
	kloop_defer(l, &c.t);
	uint64_t t0 = mono_ms();
	run_guarded(l);
	assert_string_equal(log, "ABCD");
	/* the loop must not have slept while D was queued */
	assert_true(mono_ms() - t0 < 2000);
	kloop_free(l);
}

/* A task deferred during run_deferred waits for the next pass. */
static void test_defer_next_iteration(void **state)
{
	struct kloop *l = new_loop();
	char log[16] = "";
	struct rec b = { .t.fn = rec_fn, .l = l, .name = 'B', .log = log };
	struct rec a = { .t.fn = rec_fn, .l = l, .name = 'A', .log = log, .then = &b };
	kloop_defer(l, &a.t);
	run_deferred(l);
	assert_string_equal(log, "A");
	assert_ptr_equal(l->defer.head, &b.t);
	run_deferred(l);
	assert_string_equal(log, "AB");
	assert_null(l->defer.head);
	kloop_free(l);
}

/* ---- post ---- */

#define NPOST 10000

struct post_item {
	struct kloop_task t;
	int poster, seq;
};

struct post_ctx {
	struct kloop *l;
	struct post_item items[2][NPOST];
	int next_seq[2];
	int total;
	bool order_ok;
	bool on_loop_thread;
	pthread_t loop_thread;
};
static struct post_ctx *g_post; /* test-local: task callbacks have no user pointer */

static void post_fn(struct kloop_task *t)
{
	struct post_item *it = (struct post_item *)t;
	struct post_ctx *c = g_post;
	if (it->seq != c->next_seq[it->poster])
		c->order_ok = false;
	if (!pthread_equal(pthread_self(), c->loop_thread))
		c->on_loop_thread = false;
	c->next_seq[it->poster] = it->seq + 1;
	if (++c->total == 2 * NPOST)
		kloop_stop(c->l);
}

static void *poster(void *arg)
{
	struct post_item *items = arg;
	for (int i = 0; i < NPOST; i++) {
		kloop_post(g_post->l, &items[i].t);
		if (i % 1000 == 0)
			usleep(100); /* let the loop drain and sleep sometimes */
	}
	return NULL;
}

static void test_post_from_threads(void **state)
{
	struct post_ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->l = new_loop();
	c->order_ok = c->on_loop_thread = true;
	c->loop_thread = pthread_self();
	g_post = c;
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < NPOST; i++)
			c->items[p][i] =
				(struct post_item){ .t.fn = post_fn, .poster = p, .seq = i };
	pthread_t th[2];
	for (int p = 0; p < 2; p++)
		assert_int_equal(pthread_create(&th[p], NULL, poster, c->items[p]), 0);
	run_guarded(c->l);
	for (int p = 0; p < 2; p++)
		pthread_join(th[p], NULL);
	assert_int_equal(c->total, 2 * NPOST);
	assert_true(c->order_ok);
	assert_true(c->on_loop_thread);
	kloop_free(c->l);
	free(c);
	g_post = NULL;
}

/* ---- timers ---- */

struct tick {
	struct kloop_timer t;
	struct kloop *l;
	int fired, stop_at;
	uint64_t first_ms;
	char name;
	char *log;
};

static void tick_fn(struct kloop_timer *t)
{
	struct tick *k = (struct tick *)t;
	if (!k->fired++)
		k->first_ms = mono_ms();
	if (k->log)
		k->log[strlen(k->log)] = k->name;
	if (k->fired == k->stop_at) {
		kloop_timer_stop(k->l, t);
		kloop_stop(k->l);
	}
}

static void test_timer_periodic(void **state)
{
	struct kloop *l = new_loop();
	struct tick k = { .t.fn = tick_fn, .l = l, .stop_at = 5 };
	uint64_t t0 = mono_ms();
	kloop_timer_start(l, &k.t, 20);
	run_guarded(l);
	uint64_t el = mono_ms() - t0;
	assert_int_equal(k.fired, 5);
	assert_false(k.t.armed);
	assert_true(el >= 95); /* 5 periods of 20 ms, ms rounding */
	assert_true(el < 5000);
	assert_true(k.first_ms - t0 >= 19);
	kloop_free(l);
}

static void test_timer_order_and_stop(void **state)
{
	struct kloop *l = new_loop();
	char log[8] = "";
	struct tick slow = { .t.fn = tick_fn, .l = l, .stop_at = 1, .name = 'S', .log = log };
	struct tick fast = { .t.fn = tick_fn, .l = l, .stop_at = 100, .name = 'F', .log = log };
	struct tick never = { .t.fn = tick_fn, .l = l, .stop_at = 1, .name = 'N', .log = log };
	kloop_timer_start(l, &slow.t, 45);
	kloop_timer_start(l, &fast.t, 20);
	kloop_timer_start(l, &never.t, 10);
	kloop_timer_stop(l, &never.t);
	kloop_timer_stop(l, &never.t); /* stopping twice is harmless */
	run_guarded(l);
	/* "FFS" on time (F at 20 and 40 ms, S at 45); a loop woken late may
	 * run F once before S ("FS"), but never S first nor F after S. */
	assert_true(strcmp(log, "FFS") == 0 || strcmp(log, "FS") == 0);
	assert_int_equal(never.fired, 0);
	kloop_timer_stop(l, &fast.t);
	assert_null(l->timers);
	kloop_free(l);
}

/* ---- io_uring ---- */

struct nop {
	struct kloop_completion c;
	struct kloop *l;
	int done, want, res;
};

static void nop_fn(struct kloop_completion *c, int res, uint32_t flags)
{
	struct nop *n = (struct nop *)c;
	n->res |= res;
	if (++n->done == n->want)
		kloop_stop(n->l);
}

static void test_uring_nop(void **state)
{
	struct kloop *l = kloop_new(8); /* small ring: force the "ring full" path */
	assert_non_null(l);
	struct nop n = { .c.fn = nop_fn, .l = l, .want = 100 };
	/* one ignored completion first: NULL completion = no callback */
	struct io_uring_sqe *sqe = kloop_sqe(l);
	io_uring_prep_nop(sqe);
	kloop_sqe_done(l, sqe, NULL);
	for (int i = 0; i < n.want; i++) {
		sqe = kloop_sqe(l);
		assert_non_null(sqe);
		io_uring_prep_nop(sqe);
		kloop_sqe_done(l, sqe, &n.c);
	}
	run_guarded(l);
	assert_int_equal(n.done, 100);
	assert_int_equal(n.res, 0);
	kloop_free(l);
}

/* A completion that submits more I/O from its callback keeps the loop going. */
struct chain {
	struct kloop_completion c;
	struct kloop *l;
	int left;
};

static void chain_fn(struct kloop_completion *c, int res, uint32_t flags)
{
	struct chain *ch = (struct chain *)c;
	assert_int_equal(res, 0);
	if (--ch->left == 0) {
		kloop_stop(ch->l);
		return;
	}
	struct io_uring_sqe *sqe = kloop_sqe(ch->l);
	io_uring_prep_nop(sqe);
	kloop_sqe_done(ch->l, sqe, &ch->c);
}

static void test_uring_chain(void **state)
{
	struct kloop *l = new_loop();
	struct chain ch = { .c.fn = chain_fn, .l = l, .left = 1000 };
	struct io_uring_sqe *sqe = kloop_sqe(l);
	io_uring_prep_nop(sqe);
	kloop_sqe_done(l, sqe, &ch.c);
	run_guarded(l);
	assert_int_equal(ch.left, 0);
	kloop_free(l);
}

/* ---- stop, current, now ---- */

static void *stopper(void *arg)
{
	usleep(50 * 1000);
	kloop_stop(arg);
	return NULL;
}

static struct kloop *seen_current;
static void note_current(struct kloop_task *t)
{
	seen_current = kloop_current();
}

static void test_stop_from_thread(void **state)
{
	struct kloop *l = new_loop();
	struct kloop_task t = { .fn = note_current };
	kloop_defer(l, &t);
	assert_null(kloop_current());
	uint64_t before = kloop_now_ms(l);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stopper, l), 0);
	run_guarded(l); /* sleeps in epoll_wait until the other thread stops it */
	pthread_join(th, NULL);
	assert_ptr_equal(seen_current, l);
	assert_null(kloop_current());
	assert_true(kloop_now_ms(l) >= before + 40);

	/* stop before run: run returns at once, and the stop is consumed */
	kloop_stop(l);
	assert_int_equal(kloop_run(l), 0);
	assert_false(atomic_load(&l->stop));
	kloop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_readiness),
		cmocka_unit_test(test_defer_order),
		cmocka_unit_test(test_defer_next_iteration),
		cmocka_unit_test(test_post_from_threads),
		cmocka_unit_test(test_timer_periodic),
		cmocka_unit_test(test_timer_order_and_stop),
		cmocka_unit_test(test_uring_nop),
		cmocka_unit_test(test_uring_chain),
		cmocka_unit_test(test_stop_from_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
