/* SPDX-License-Identifier: Apache-2.0 */
/* kloop: one event loop per worker thread.
 *
 * A loop multiplexes sockets (epoll), disk I/O (an io_uring owned by the loop
 * and shared by every backend running on that thread), deferred work, timers
 * and messages posted from other threads. Every object (connection, channel,
 * in-flight I/O) belongs to exactly one loop and is touched only from its
 * thread; other threads talk to it with kloop_post().
 *
 * Not for: blocking work. Nothing run from a loop callback may block on disk
 * or network.
 */
#ifndef KURA_KLOOP_H
#define KURA_KLOOP_H
#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>

struct kloop;

/* fd readiness: embed in your object; fn gets EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits. */
struct kloop_fd {
	void (*fn)(struct kloop_fd *h, uint32_t events);
};

/* io_uring completion: embed; fn gets cqe->res (bytes or -errno) and cqe->flags. */
struct kloop_completion {
	void (*fn)(struct kloop_completion *c, int res, uint32_t flags);
};

/* Deferred / posted work item: embed; fn runs once on the loop's thread. */
struct kloop_task {
	void (*fn)(struct kloop_task *t);
	struct kloop_task *next; /* owned by the loop while queued */
};

/* A FIFO of tasks linked through their next field, owned by one thread
 * (the loop's deferred tasks, kbuf's tasks waiting for buffers). */
struct kloop_taskq {
	struct kloop_task *head, *tail;
};

static inline void kloop_taskq_push(struct kloop_taskq *q, struct kloop_task *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

/* Empty the queue; its tasks, still linked, in order. */
static inline struct kloop_task *kloop_taskq_take(struct kloop_taskq *q)
{
	struct kloop_task *list = q->head;
	q->head = q->tail = NULL;
	return list;
}

/* Run a chain of tasks (kloop_taskq_take's) in order; each fn may free or
 * requeue its own task, so the next link is read before it runs. */
static inline void kloop_tasks_run(struct kloop_task *t)
{
	while (t) {
		struct kloop_task *next = t->next;
		t->fn(t);
		t = next;
	}
}

/* Periodic timer with millisecond resolution; fn runs on the loop's thread. */
struct kloop_timer {
	void (*fn)(struct kloop_timer *t);
	uint64_t period_ms;
	uint64_t next_ms;         /* private */
	struct kloop_timer *next; /* private */
	bool armed;               /* private */
};

/* Create a loop with an io_uring of ring_entries SQEs. NULL on failure (errno set). */
struct kloop *kloop_new(unsigned ring_entries);
void kloop_free(struct kloop *l);

/* Run until kloop_stop(); returns 0 or -errno. */
int kloop_run(struct kloop *l);
/* Thread-safe: make kloop_run() return after the current iteration. */
void kloop_stop(struct kloop *l);

/* Sockets and other pollable fds (level-triggered epoll). Return 0 or -errno. */
int kloop_add_fd(struct kloop *l, int fd, uint32_t events, struct kloop_fd *h);
int kloop_mod_fd(struct kloop *l, int fd, uint32_t events, struct kloop_fd *h);
int kloop_del_fd(struct kloop *l, int fd);

/* Get an SQE on this loop's ring (submits queued SQEs first if the ring is
 * full; never NULL unless the ring is broken). The caller fills it with an
 * io_uring_prep_* helper and then calls kloop_sqe_done(), which attaches c
 * as the completion. SQEs are submitted in batch once per loop iteration. */
struct io_uring_sqe *kloop_sqe(struct kloop *l);
void kloop_sqe_done(struct kloop *l, struct io_uring_sqe *sqe, struct kloop_completion *c);

/* Run t->fn on this loop soon (next iteration), from this loop's thread only. */
void kloop_defer(struct kloop *l, struct kloop_task *t);
/* Thread-safe: run t->fn on loop l's thread (lock-free MPSC queue + eventfd). */
void kloop_post(struct kloop *l, struct kloop_task *t);

void kloop_timer_start(struct kloop *l, struct kloop_timer *t, uint64_t period_ms);
void kloop_timer_stop(struct kloop *l, struct kloop_timer *t);

/* Monotonic milliseconds, cached per loop iteration. */
uint64_t kloop_now_ms(struct kloop *l);
/* The loop of the calling thread (set while kloop_run() runs), or NULL. */
struct kloop *kloop_current(void);
#endif
