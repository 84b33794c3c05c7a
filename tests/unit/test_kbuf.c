/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/kbuf.c: size classes, alignment, reuse, the idle
 * cap, cross-thread frees, thread exit, corrupt frees, and out-of-memory
 * back-pressure (kbuf_fail_next + kbuf_wait woken by a free or the 10 ms
 * fallback) driven by a real kloop. */
#include "common/kbuf.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_classes_and_alignment(void **state)
{
	static const struct {
		size_t len, size;
	} cases[] = {
		{ 0, 4096 },
		{ 1, 4096 },
		{ 4096, 4096 },
		{ 4097, 8192 },
		{ 100000, 131072 },
		{ 1 << 20, 1 << 20 },
		{ (1 << 20) + 1, 2 << 20 },
		{ 16 << 20, 16 << 20 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char *p = kbuf_alloc(cases[i].len);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 4096, 0);
		assert_int_equal(kbuf_size(p), cases[i].size);
		memset(p, 0xa5, kbuf_size(p)); /* whole class is usable */
		assert_int_equal(p[kbuf_size(p) - 1], 0xa5);
		kbuf_free(p);
	}
	assert_null(kbuf_alloc((16 << 20) + 1));
	assert_null(kbuf_alloc(SIZE_MAX));
	kbuf_free(NULL);
	kbuf_trim();
}

static void test_reuse(void **state)
{
	kbuf_trim();
	assert_int_equal(kbuf_idle_bytes(), 0);
	void *a = kbuf_alloc(65536);
	kbuf_free(a);
	assert_int_equal(kbuf_idle_bytes(), 65536);
	void *b = kbuf_alloc(40000); /* same class */
	assert_ptr_equal(a, b);
	assert_int_equal(kbuf_idle_bytes(), 0);
	void *c = kbuf_alloc(65536); /* list empty: a new buffer */
	assert_ptr_not_equal(b, c);
	kbuf_free(b);
	kbuf_free(c);
	assert_int_equal(kbuf_idle_bytes(), 2 * 65536);
	kbuf_trim();
	assert_int_equal(kbuf_idle_bytes(), 0);
}

static void test_idle_cap(void **state)
{
	enum { N = 80 };
	void *v[N];
	kbuf_trim();
	for (int i = 0; i < N; i++)
		assert_non_null(v[i] = kbuf_alloc(1 << 20));
	for (int i = 0; i < N; i++)
		kbuf_free(v[i]);
	assert_int_equal(kbuf_idle_bytes(), KBUF_IDLE_CAP);
	kbuf_trim();
}

static void *alloc_on_thread(void *arg)
{
	void **out = arg;
	out[0] = kbuf_alloc(8192);
	/* leave one idle buffer behind: the thread-exit destructor must free it
	 * (LeakSanitizer would report it otherwise) */
	kbuf_free(kbuf_alloc(1 << 20));
	out[1] = (void *)kbuf_idle_bytes();
	return NULL;
}

static void test_cross_thread_free(void **state)
{
	void *out[2];
	pthread_t th;
	kbuf_trim();
	assert_int_equal(pthread_create(&th, NULL, alloc_on_thread, out), 0);
	pthread_join(th, NULL);
	assert_non_null(out[0]);
	assert_int_equal((size_t)out[1], 1 << 20);
	kbuf_free(out[0]); /* joins this thread's list */
	assert_int_equal(kbuf_idle_bytes(), 8192);
	assert_ptr_equal(kbuf_alloc(8192), out[0]);
	kbuf_free(out[0]);
	kbuf_trim();
}

static void test_bad_free_aborts(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		klog_set_level(-1);
		void *p = kbuf_alloc(4096);
		kbuf_free(p);
		kbuf_free(p); /* double free: must abort, not corrupt the list */
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

/* ---- back-pressure ---- */

struct waiter {
	struct kloop_task t;
	struct kloop *l;
	void *buf;
	int runs;
	uint64_t woke_ms;
};

static void waiter_fn(struct kloop_task *t)
{
	struct waiter *w = (struct waiter *)t;
	w->runs++;
	w->woke_ms = now_ms();
	w->buf = kbuf_alloc(4096); /* the retry */
	if (!w->buf) {
		kbuf_wait(&w->t);
		return;
	}
	kloop_stop(w->l);
}

struct freer {
	struct kloop_task t;
	void *buf;
};

static void freer_fn(struct kloop_task *t)
{
	kbuf_free(((struct freer *)t)->buf);
}

struct first {
	struct kloop_task t;
	struct waiter *w;
	struct freer *f;
};

/* Runs on the loop: an allocation fails, the command queues itself. */
static void first_fn(struct kloop_task *t)
{
	struct first *s = (struct first *)t;
	kbuf_fail_next(1);
	assert_null(kbuf_alloc(4096));
	kbuf_wait(&s->w->t);
	if (s->f)
		kloop_defer(s->w->l, &s->f->t);
}

static void test_wait_woken_by_free(void **state)
{
	struct kloop *l = kloop_new(16);
	assert_non_null(l);
	struct waiter w = { .t.fn = waiter_fn, .l = l };
	struct freer f = { .t.fn = freer_fn, .buf = kbuf_alloc(4096) };
	struct first s = { .t.fn = first_fn, .w = &w, .f = &f };
	kloop_defer(l, &s.t);
	assert_int_equal(kloop_run(l), 0);
	assert_int_equal(w.runs, 1);
	assert_non_null(w.buf);
	assert_null(tls->wait.head);
	assert_false(tls->timer.armed); /* woken by the free, timer cancelled */
	kbuf_free(w.buf);
	kloop_free(l);
	kbuf_trim();
}

static void test_wait_woken_by_timer(void **state)
{
	struct kloop *l = kloop_new(16);
	assert_non_null(l);
	struct waiter w = { .t.fn = waiter_fn, .l = l };
	struct first s = { .t.fn = first_fn, .w = &w };
	uint64_t t0 = now_ms();
	kloop_defer(l, &s.t);
	assert_int_equal(kloop_run(l), 0);
	assert_int_equal(w.runs, 1);
	assert_true(w.woke_ms - t0 >= 9); /* the 10 ms fallback */
	assert_true(w.woke_ms - t0 < 2000);
	kbuf_free(w.buf);
	kloop_free(l);
	kbuf_trim();
}

/* Repeated failure: the waiter re-queues itself until memory comes back. */
static void first3_fn(struct kloop_task *t)
{
	struct first *s = (struct first *)t;
	kbuf_fail_next(3);
	assert_null(kbuf_alloc(4096));
	kbuf_wait(&s->w->t);
}

static void test_wait_repeated_failure(void **state)
{
	struct kloop *l = kloop_new(16);
	assert_non_null(l);
	struct waiter w = { .t.fn = waiter_fn, .l = l };
	struct first s = { .t.fn = first3_fn, .w = &w };
	kloop_defer(l, &s.t);
	assert_int_equal(kloop_run(l), 0);
	assert_int_equal(w.runs, 3);
	assert_non_null(w.buf);
	kbuf_free(w.buf);
	kloop_free(l);
	kbuf_trim();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_and_alignment),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_idle_cap),
		cmocka_unit_test(test_cross_thread_free),
		cmocka_unit_test(test_bad_free_aborts),
		cmocka_unit_test(test_wait_woken_by_free),
		cmocka_unit_test(test_wait_woken_by_timer),
		cmocka_unit_test(test_wait_repeated_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
