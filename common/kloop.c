/* SPDX-License-Identifier: Apache-2.0 */
/* kloop: the per-worker event loop (see common/kloop.h for the contract).
 *
 * One iteration:  submit queued SQEs (one io_uring_enter for the batch)
 *              -> epoll_wait (timeout 0 if work is already pending, else the
 *                 next timer deadline, else forever)
 *              -> fd callbacks -> all CQEs -> posted tasks -> due timers
 *              -> deferred tasks queued before this point.
 *
 * Why epoll plus an eventfd registered with the ring, and not the ring
 * polling the epoll fd: with the ring as the waiter every readable socket
 * costs a poll CQE plus a re-arm SQE and an epoll_wait(0) anyway, whereas
 * here a busy iteration is exactly two syscalls (io_uring_enter to submit,
 * epoll_wait) and an idle one a single epoll_wait. The ring's eventfd and the
 * post eventfd are registered edge-triggered and never read: each eventfd
 * write is a new edge, so we get woken without a read(2) per iteration, and
 * lost wake-ups are impossible because we check the CQ ring and the post
 * stack without syscalls right before deciding the epoll timeout. The
 * counters grow by one per signal and cannot realistically overflow (2^64).
 *
 * Timers are a sorted singly linked list: a worker has a handful of timers
 * (NOP-In, login timeouts, kbuf retry), so O(n) insertion is cheaper than a
 * heap. A period of 0 is treated as 1 ms so a timer can never spin the loop.
 *
 * Not for: blocking work, or being touched from other threads except through
 * kloop_post() and kloop_stop().
 */
#include "common/kloop.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define KLOOP_MAX_EVENTS 64
#define KLOOP_CQE_BATCH  64

/* Sentinel handlers: epoll data pointers for the loop's own eventfds. */
static struct kloop_fd ring_wake_h, post_wake_h;

struct kloop {
	int epfd;
	int ring_efd; /* signalled by the kernel on each CQE */
	int post_efd; /* kloop_post / kloop_stop wake-up */
	struct io_uring ring;
	uint64_t now_ms;
	struct kloop_taskq defer;
	_Atomic(struct kloop_task *) posted; /* Treiber stack, newest first */
	struct kloop_timer *timers;          /* sorted by next_ms */
	atomic_bool stop;
};

static __thread struct kloop *current_loop;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int add_wake_fd(struct kloop *l, int fd, struct kloop_fd *h)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = h };
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int kloop_init(struct kloop *l, unsigned ring_entries)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->post_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->ring_efd < 0 || l->post_efd < 0)
		return -errno;
	int r = io_uring_queue_init(ring_entries ? ring_entries : 256, &l->ring, 0);
	if (r < 0)
		return r;
	r = io_uring_register_eventfd(&l->ring, l->ring_efd);
	if (r < 0) {
		io_uring_queue_exit(&l->ring);
		return r;
	}
	r = add_wake_fd(l, l->ring_efd, &ring_wake_h);
	if (r == 0)
		r = add_wake_fd(l, l->post_efd, &post_wake_h);
	if (r < 0)
		io_uring_queue_exit(&l->ring);
	return r;
}

static void close_fds(struct kloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->ring_efd >= 0)
		close(l->ring_efd);
	if (l->post_efd >= 0)
		close(l->post_efd);
}

struct kloop *kloop_new(unsigned ring_entries)
{
	struct kloop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = l->ring_efd = l->post_efd = -1;
	int r = kloop_init(l, ring_entries);
	if (r < 0) {
		close_fds(l);
		free(l);
		errno = -r;
		return NULL;
	}
	l->now_ms = mono_ms();
	return l;
}

/* Queued tasks, armed timers and in-flight SQEs are the owners' business:
 * their memory is theirs; we only drop our references. */
void kloop_free(struct kloop *l)
{
	if (!l)
		return;
	io_uring_queue_exit(&l->ring);
	close_fds(l);
	free(l);
}

/* ---- fds ---- */

static int ctl_fd(struct kloop *l, int op, int fd, uint32_t events, struct kloop_fd *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };
	return epoll_ctl(l->epfd, op, fd, &ev) ? -errno : 0;
}

int kloop_add_fd(struct kloop *l, int fd, uint32_t events, struct kloop_fd *h)
{
	return ctl_fd(l, EPOLL_CTL_ADD, fd, events, h);
}

int kloop_mod_fd(struct kloop *l, int fd, uint32_t events, struct kloop_fd *h)
{
	return ctl_fd(l, EPOLL_CTL_MOD, fd, events, h);
}

int kloop_del_fd(struct kloop *l, int fd)
{
	return ctl_fd(l, EPOLL_CTL_DEL, fd, 0, NULL);
}

/* ---- io_uring ---- */

struct io_uring_sqe *kloop_sqe(struct kloop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	while (!sqe) {
		/* Ring full: push the batch to the kernel now. -EBUSY/-EAGAIN
		 * mean the CQ is backed up; reaping happens in the loop, so
		 * just retry (the kernel consumed some SQEs or will). */
		int r = io_uring_submit(&l->ring);
		if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR)
			return NULL;
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

void kloop_sqe_done(struct kloop *l, struct io_uring_sqe *sqe, struct kloop_completion *c)
{
	(void)l;
	io_uring_sqe_set_data(sqe, c);
}

/* Copy a batch out and advance the CQ head before running callbacks, so a
 * callback that submits more I/O finds room in the CQ. */
static unsigned reap_batch(struct kloop *l)
{
	struct io_uring_cqe *cqes[KLOOP_CQE_BATCH];
	struct {
		struct kloop_completion *c;
		int res;
		uint32_t flags;
	} got[KLOOP_CQE_BATCH];
	unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, KLOOP_CQE_BATCH);
	for (unsigned i = 0; i < n; i++) {
		got[i].c = io_uring_cqe_get_data(cqes[i]);
		got[i].res = cqes[i]->res;
		got[i].flags = cqes[i]->flags;
	}
	io_uring_cq_advance(&l->ring, n);
	for (unsigned i = 0; i < n; i++)
		if (got[i].c)
			got[i].c->fn(got[i].c, got[i].res, got[i].flags);
	return n;
}

static void reap_cqes(struct kloop *l)
{
	while (reap_batch(l) == KLOOP_CQE_BATCH)
		;
	/* CQEs that did not fit in the CQ wait in the kernel until we enter it. */
	if (io_uring_cq_has_overflow(&l->ring)) {
		io_uring_get_events(&l->ring);
		while (reap_batch(l) == KLOOP_CQE_BATCH)
			;
	}
}

/* ---- deferred and posted tasks ---- */

void kloop_defer(struct kloop *l, struct kloop_task *t)
{
	kloop_taskq_push(&l->defer, t);
}

/* Only the poster that turns the stack non-empty writes the eventfd: the
 * loop drains the whole stack at once, so later posters ride on that wake. */
void kloop_post(struct kloop *l, struct kloop_task *t)
{
	struct kloop_task *old = atomic_load_explicit(&l->posted, memory_order_relaxed);
	do {
		t->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&l->posted, &old, t, memory_order_release,
							memory_order_relaxed));
	if (!old) {
		ssize_t w = eventfd_write(l->post_efd, 1);
		(void)w;
	}
}

static void run_posted(struct kloop *l)
{
	if (!atomic_load_explicit(&l->posted, memory_order_relaxed))
		return;
	struct kloop_task *t = atomic_exchange_explicit(&l->posted, NULL, memory_order_acquire);
	struct kloop_task *fifo = NULL;
	while (t) { /* reverse: the stack is newest first */
		struct kloop_task *next = t->next;
		t->next = fifo;
		fifo = t;
		t = next;
	}
	kloop_tasks_run(fifo);
}

/* Detach the queue first: tasks deferred while these run go to the next
 * iteration, so a task that re-defers itself cannot starve I/O. */
static void run_deferred(struct kloop *l)
{
	kloop_tasks_run(kloop_taskq_take(&l->defer));
}

/* ---- timers ---- */

static void timer_insert(struct kloop *l, struct kloop_timer *t)
{
	struct kloop_timer **pp = &l->timers;
	while (*pp && (*pp)->next_ms <= t->next_ms)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

static void timer_unlink(struct kloop *l, struct kloop_timer *t)
{
	for (struct kloop_timer **pp = &l->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->armed = false;
	t->next = NULL;
}

void kloop_timer_start(struct kloop *l, struct kloop_timer *t, uint64_t period_ms)
{
	if (t->armed)
		timer_unlink(l, t);
	t->period_ms = period_ms ? period_ms : 1;
	t->next_ms = mono_ms() + t->period_ms;
	timer_insert(l, t);
}

void kloop_timer_stop(struct kloop *l, struct kloop_timer *t)
{
	if (t->armed)
		timer_unlink(l, t);
}

/* Re-arm before calling fn so the callback may stop or restart its timer. */
static void run_timers(struct kloop *l)
{
	while (l->timers && l->timers->next_ms <= l->now_ms) {
		struct kloop_timer *t = l->timers;
		l->timers = t->next;
		t->next_ms += t->period_ms;
		if (t->next_ms <= l->now_ms) /* we slept through periods: don't burst */
			t->next_ms = l->now_ms + t->period_ms;
		timer_insert(l, t);
		t->fn(t);
	}
}

/* ---- the loop ---- */

uint64_t kloop_now_ms(struct kloop *l)
{
	return l->now_ms;
}

struct kloop *kloop_current(void)
{
	return current_loop;
}

void kloop_stop(struct kloop *l)
{
	atomic_store(&l->stop, true);
	ssize_t w = eventfd_write(l->post_efd, 1);
	(void)w;
}

static bool work_pending(struct kloop *l)
{
	return l->defer.head || io_uring_cq_ready(&l->ring) || io_uring_cq_has_overflow(&l->ring) ||
	       atomic_load_explicit(&l->posted, memory_order_relaxed) ||
	       atomic_load_explicit(&l->stop, memory_order_relaxed);
}

static int wait_timeout(struct kloop *l)
{
	if (work_pending(l))
		return 0;
	if (!l->timers)
		return -1;
	uint64_t now = mono_ms();
	if (l->timers->next_ms <= now)
		return 0;
	uint64_t d = l->timers->next_ms - now;
	return d > 3600000u ? 3600000 : (int)d;
}

static int poll_fds(struct kloop *l)
{
	struct epoll_event evs[KLOOP_MAX_EVENTS];
	int n = epoll_wait(l->epfd, evs, KLOOP_MAX_EVENTS, wait_timeout(l));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->now_ms = mono_ms();
	for (int i = 0; i < n; i++) {
		struct kloop_fd *h = evs[i].data.ptr;
		if (h != &ring_wake_h && h != &post_wake_h)
			h->fn(h, evs[i].events);
	}
	return 0;
}

static int submit_pending(struct kloop *l)
{
	if (!io_uring_sq_ready(&l->ring))
		return 0;
	int r = io_uring_submit(&l->ring);
	/* -EBUSY/-EAGAIN: CQ backed up; we reap below and retry next round. */
	if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR)
		return r;
	return 0;
}

static int iterate(struct kloop *l)
{
	int r = submit_pending(l);
	if (r == 0)
		r = poll_fds(l);
	if (r < 0)
		return r;
	reap_cqes(l);
	run_posted(l);
	run_timers(l);
	run_deferred(l);
	return 0;
}

int kloop_run(struct kloop *l)
{
	struct kloop *saved = current_loop;
	current_loop = l;
	int r = 0;
	while (r == 0 && !atomic_load_explicit(&l->stop, memory_order_acquire))
		r = iterate(l);
	/* Submit what the last callbacks queued so nothing sits unsent. */
	if (r == 0)
		r = submit_pending(l);
	atomic_store(&l->stop, false);
	current_loop = saved;
	return r;
}
