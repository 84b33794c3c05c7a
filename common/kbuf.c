/* SPDX-License-Identifier: Apache-2.0 */
/* kbuf: pooled, page-aligned command buffers (contract in common/kbuf.h).
 *
 * Layout: every buffer is one allocation of (class size + one page). The
 * first page holds a small header (magic, class, free-list link); the data
 * starts at the second page, so it is page aligned for O_DIRECT and
 * kbuf_size()/kbuf_free() find the header at data - KBUF_HDR without any
 * shared table or lock. The cost is one page per buffer (100% for the 4 KiB
 * class, <2% from 256 KiB up), accepted for lock-free lookup. Classes from
 * 256 KiB up are mmap()ed so that releasing them returns memory at once and
 * never fragments the malloc heap; smaller ones use posix_memalign.
 *
 * Free lists are per thread, one per power-of-two class (4 KiB .. 16 MiB); a
 * buffer freed on any thread joins that thread's lists. A thread keeps at
 * most KBUF_IDLE_CAP (kbuf_test.h) idle bytes; beyond that buffers go back
 * to the system. The lists are released by a pthread key destructor when the
 * thread exits.
 *
 * Back-pressure: kbuf_wait() queues a task per thread; the next kbuf_free()
 * on that thread, or a 10 ms timer on the waiter's loop, hands the waiters to
 * their loop with kloop_defer (kloop_post if freed outside that loop).
 *
 * Not for: small objects (use malloc) or memory shared with the kernel ring
 * as registered buffers.
 */
#include "common/kbuf.h"
#include "common/container.h"
#include "common/kbuf_test.h"
#include "common/kloop.h"
#include "common/log.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define KBUF_PAGE       4096u
#define KBUF_HDR        KBUF_PAGE
#define KBUF_MIN_SHIFT  12
#define KBUF_MAX_SHIFT  24
#define KBUF_NCLASS     (KBUF_MAX_SHIFT - KBUF_MIN_SHIFT + 1)
#define KBUF_MMAP_SHIFT 18          /* 256 KiB and up come from mmap */
#define KBUF_MAGIC      0x6b627566u /* "kbuf": handed out */
#define KBUF_IDLE_MAGIC 0x6b626964u /* "kbid": in a free list */
#define KBUF_WAIT_MS    10

struct kbuf_hdr {
	uint32_t magic;
	uint32_t cls;
	struct kbuf_hdr *next; /* free-list link while idle */
};

struct kbuf_tls {
	struct kbuf_hdr *free[KBUF_NCLASS];
	size_t idle;
	struct kloop *wait_loop; /* loop the waiters belong to */
	struct kloop_taskq wait;
	struct kloop_timer timer; /* 10 ms fallback wake-up */
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static __thread struct kbuf_tls *tls;
static __thread bool tls_dead; /* thread is exiting: no more caching */
static atomic_uint fail_next;  /* test hook, see kbuf_test.h */

static size_t class_size(unsigned cls)
{
	return (size_t)1 << (cls + KBUF_MIN_SHIFT);
}
static struct kbuf_hdr *hdr_of(const void *buf)
{
	return (struct kbuf_hdr *)((char *)buf - KBUF_HDR);
}
static void *data_of(struct kbuf_hdr *h)
{
	return (char *)h + KBUF_HDR;
}

static unsigned class_of(size_t len)
{
	unsigned cls = 0;
	while (class_size(cls) < len)
		cls++;
	return cls;
}

/* ---- system allocation ---- */

static struct kbuf_hdr *sys_alloc(unsigned cls)
{
	size_t total = class_size(cls) + KBUF_HDR;
	void *p;
	if (cls + KBUF_MIN_SHIFT >= KBUF_MMAP_SHIFT) {
		p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	} else if (posix_memalign(&p, KBUF_PAGE, total) != 0) {
		return NULL;
	}
	struct kbuf_hdr *h = p;
	h->magic = KBUF_MAGIC;
	h->cls = cls;
	h->next = NULL;
	return h;
}

static void sys_free(struct kbuf_hdr *h)
{
	unsigned cls = h->cls;
	h->magic = 0;
	if (cls + KBUF_MIN_SHIFT >= KBUF_MMAP_SHIFT)
		munmap(h, class_size(cls) + KBUF_HDR);
	else
		free(h);
}

/* ---- per-thread state ---- */

static void release_lists(struct kbuf_tls *t)
{
	for (unsigned c = 0; c < KBUF_NCLASS; c++)
		while (t->free[c]) {
			struct kbuf_hdr *h = t->free[c];
			t->free[c] = h->next;
			sys_free(h);
		}
	t->idle = 0;
}

/* Runs at thread exit. Waiters still queued belong to this thread's loop,
 * which cannot run any more: they are dropped (with a warning). */
static void tls_destroy(void *p)
{
	struct kbuf_tls *t = p;
	if (t->wait.head)
		kwarn("kbuf: thread exiting with tasks waiting for buffers");
	release_lists(t);
	free(t);
	tls = NULL;
	tls_dead = true;
}

static void tls_key_init(void)
{
	if (pthread_key_create(&tls_key, tls_destroy) != 0)
		abort();
}

static struct kbuf_tls *get_tls(void)
{
	if (tls || tls_dead)
		return tls;
	pthread_once(&tls_once, tls_key_init);
	tls = calloc(1, sizeof(*tls));
	if (tls)
		pthread_setspecific(tls_key, tls);
	return tls;
}

/* ---- waiters ---- */

static void hand_over(struct kloop *l, struct kloop_task *list)
{
	bool local = kloop_current() == l;
	while (list) {
		struct kloop_task *next = list->next;
		if (local)
			kloop_defer(l, list);
		else
			kloop_post(l, list);
		list = next;
	}
}

static void wake_waiters(struct kbuf_tls *t)
{
	struct kloop *l = t->wait_loop;
	struct kloop_task *list = kloop_taskq_take(&t->wait);
	if (!list)
		return;
	kloop_timer_stop(l, &t->timer);
	hand_over(l, list);
}

static void wait_timer_fn(struct kloop_timer *timer)
{
	struct kbuf_tls *t = container_of(timer, struct kbuf_tls, timer);
	wake_waiters(t);
}

void kbuf_wait(struct kloop_task *task)
{
	struct kloop *l = kloop_current();
	struct kbuf_tls *t = get_tls();
	if (!l || !t) { /* programming error (no loop) or thread exiting */
		kerr("kbuf_wait: no event loop on this thread; task dropped");
		return;
	}
	if (t->wait.head && t->wait_loop != l)
		wake_waiters(t); /* a new loop on this thread: release the old ones */
	if (!t->wait.head) {
		t->wait_loop = l;
		t->timer.fn = wait_timer_fn;
		kloop_timer_start(l, &t->timer, KBUF_WAIT_MS);
	}
	kloop_taskq_push(&t->wait, task);
}

/* ---- public API ---- */

static bool injected_failure(void)
{
	unsigned n = atomic_load_explicit(&fail_next, memory_order_relaxed);
	while (n && !atomic_compare_exchange_weak(&fail_next, &n, n - 1))
		;
	return n != 0;
}

void *kbuf_alloc(size_t len)
{
	if (len > class_size(KBUF_NCLASS - 1) || injected_failure())
		return NULL;
	unsigned cls = class_of(len);
	struct kbuf_tls *t = get_tls();
	struct kbuf_hdr *h = t ? t->free[cls] : NULL;
	if (h) {
		t->free[cls] = h->next;
		t->idle -= class_size(cls);
		h->next = NULL;
		h->magic = KBUF_MAGIC;
		return data_of(h);
	}
	h = sys_alloc(cls);
	return h ? data_of(h) : NULL;
}

void kbuf_free(void *buf)
{
	if (!buf)
		return;
	struct kbuf_hdr *h = hdr_of(buf);
	if (h->magic != KBUF_MAGIC || h->cls >= KBUF_NCLASS) {
		kerr("kbuf_free: %p is not a kbuf (corrupt or double free)", buf);
		abort();
	}
	struct kbuf_tls *t = get_tls();
	size_t sz = class_size(h->cls);
	if (t && t->idle + sz <= KBUF_IDLE_CAP) {
		h->magic = KBUF_IDLE_MAGIC; /* a second kbuf_free() now aborts */
		h->next = t->free[h->cls];
		t->free[h->cls] = h;
		t->idle += sz;
	} else {
		sys_free(h);
	}
	if (t)
		wake_waiters(t);
}

size_t kbuf_size(const void *buf)
{
	const struct kbuf_hdr *h = hdr_of(buf);
	return h->magic == KBUF_MAGIC ? class_size(h->cls) : 0;
}

/* ---- test hooks (kbuf_test.h) ---- */

void kbuf_fail_next(unsigned n)
{
	atomic_store(&fail_next, n);
}

size_t kbuf_idle_bytes(void)
{
	struct kbuf_tls *t = get_tls();
	return t ? t->idle : 0;
}

void kbuf_trim(void)
{
	struct kbuf_tls *t = get_tls();
	if (t)
		release_lists(t);
}
