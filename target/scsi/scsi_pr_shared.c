/* SPDX-License-Identifier: Apache-2.0 */
/* Persistent reservations shared by several gateways (docs/ceph.md
 * "Reservations across gateways"): the shared store (scsi_pr_store.h)
 * over the backend's shared state (lun_backend.h LUN_CAP_SHARED_STATE),
 * reloading the record when another gateway changed it, and one PROUT at a
 * time per LU here.
 *
 * Every PROUT is a versioned update: it runs against this gateway's copy,
 * then stores the new record at the sequence number the copy came from.
 * The backend completes the store only after every other gateway has
 * reloaded (or was cut off), so when the PROUT completes no gateway still
 * allows what it forbids:
 *
 *   gateway A (PREEMPT AND ABORT of X)    gateway B (X's nexus)
 *   change the copy, store at seq S -----> record now S+1, notify
 *                                          reload: X unregistered, 2A/05
 *                                          raised for X, X's tasks aborted
 *                     <------------------- ack
 *   PROUT GOOD                             X's next WRITE: RESERVATION CONFLICT
 *
 * Two gateways storing at the same S: one wins, the other's store fails
 * with -ECANCELED; it reloads (the winner's notify may come before or
 * after) and runs its PROUT again against the new state (scsi_pr_cmd.c).
 *
 * The unit attentions a PROUT raises travel in the record as events (the
 * latest SCSI_PR_MAX_EVENTS), tagged with the sequence number and the
 * gateway that made them (a random name per LU and process); a reload raises those newer than what it had
 * seen and made elsewhere, for the nexuses present on this gateway.
 *
 * Not for: PR semantics (scsi_pr_cmd.c), the record format (scsi_pr_file.c),
 * the storage of the record (the backend, e.g. lun-backends/rbd/rbd_state.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "common/log.h"
#include "lun-backends/lun_backend.h"
#include "target/scsi/scsi_internal.h"
#include "target/scsi/scsi_pr_store.h"

#define ABORT_WAIT_S 10 /* a remote PREEMPT AND ABORT waits this long for our tasks */

/* ---- the store ---- */
struct shared_store {
	struct scsi_pr_store base;
	struct lun_backend *be;
	const struct lun_shared_state_ops *ss;
	struct scsi_lu *lu;
	bool watching;
};

static int ss_load(struct scsi_pr_store *s, uint8_t **b, size_t *len, uint64_t *seq, char *why,
		   size_t wl)
{
	struct shared_store *p = (struct shared_store *)s;
	int r = p->ss->load(p->be, b, len, seq);
	if (r < 0)
		snprintf(why, wl, "%s", strerror(-r));
	return r;
}

static void ss_store(struct scsi_pr_store *s, uint64_t seq, uint8_t *b, size_t len,
		     void (*done)(void *arg, int result), void *arg)
{
	struct shared_store *p = (struct shared_store *)s;
	p->ss->store(p->be, seq, b, len, done, arg);
	free(b);
}

static void on_changed(void *arg)
{
	struct shared_store *p = arg;
	int r = scsi_pr_reload(p->lu);
	if (r < 0)
		kerr("scsi: LUN %llu: reloading the shared reservation state: %s",
		     (unsigned long long)p->lu->lun, strerror(-r));
}

static void on_lost(void *arg, int err)
{
	struct shared_store *p = arg;
	kerr("scsi: LUN %llu: lost the watch on the shared reservation state (%s): this gateway "
	     "may have been cut off",
	     (unsigned long long)p->lu->lun, strerror(-err));
}

static int ss_watch(struct scsi_pr_store *s, void (*changed)(void *arg), void *arg)
{
	struct shared_store *p = (struct shared_store *)s;
	(void)changed;
	p->lu = arg;
	int r = p->ss->watch(p->be, on_changed, on_lost, p);
	p->watching = r == 0;
	return r;
}

static void ss_close(struct scsi_pr_store *s)
{
	struct shared_store *p = (struct shared_store *)s;
	if (p->watching)
		p->ss->unwatch(p->be);
	free(p);
}

static const char *ss_name(const struct scsi_pr_store *s)
{
	return "(shared state of the backend)";
}

static const struct scsi_pr_store_ops shared_store_ops = {
	.shared = true,
	.load = ss_load,
	.store = ss_store,
	.watch = ss_watch,
	.close = ss_close,
	.name = ss_name,
};

struct scsi_pr_store *scsi_pr_store_shared(struct lun_backend *be)
{
	struct shared_store *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.ops = &shared_store_ops;
	p->be = be;
	p->ss = be->ops->shared_state;
	return &p->base;
}

static uint64_t new_origin(void)
{
	uint64_t o = 0;
	while (!o)
		if (getrandom(&o, sizeof(o), 0) != sizeof(o))
			o = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&o;
	return o;
}

int scsi_pr_shared_start(struct scsi_lu *lu)
{
	struct scsi_pr_store *s = lu->pr.store;
	lu->pr.origin = new_origin();
	return s->ops->watch ? s->ops->watch(s, on_changed, lu) : 0;
}

/* ---- events ---- */
static void events_trim(struct scsi_pr *pr)
{
	struct scsi_pr_event **pp = &pr->events;
	for (unsigned i = 0; *pp && i < SCSI_PR_MAX_EVENTS; i++)
		pp = &(*pp)->next;
	while (*pp) {
		struct scsi_pr_event *e = *pp;
		*pp = e->next;
		free(e);
		pr->nevents--;
	}
}

void scsi_pr_event_add(struct scsi_pr *pr, const struct scsi_pr_id *id, enum scsi_ua ua, bool abort)
{
	uint16_t mask = ua < SCSI_UA__COUNT ? (uint16_t)(1u << ua) : 0;
	for (struct scsi_pr_event *e = pr->events; e && e->seq == pr->rec_seq; e = e->next)
		if (!memcmp(&e->id, id, sizeof(*id)) && e->origin == pr->origin) {
			e->mask |= mask;
			e->abort |= abort;
			return;
		}
	struct scsi_pr_event *e = calloc(1, sizeof(*e));
	if (!e)
		return; /* the other gateways miss this UA; the state itself is right */
	e->id = *id;
	e->seq = pr->rec_seq;
	e->origin = pr->origin;
	e->mask = mask;
	e->abort = abort;
	e->next = pr->events;
	pr->events = e;
	pr->nevents++;
	events_trim(pr);
}

/* ---- reload ---- */
struct abort_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned pending;
};

static void abort_done(void *arg)
{
	struct abort_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	if (--w->pending == 0)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* UAs of ev for the nexuses present here; their tasks aborted when asked
 * (counted in w). lu->lock taken; pr->lock held by the caller. */
static void apply_event(struct scsi_lu *lu, const struct scsi_pr_event *ev, struct abort_wait *w)
{
	struct scsi_pr_id nid;
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus *ln = lu->nexuses; ln; ln = ln->next) {
		struct scsi_itn *itn = ln->itn;
		scsi_pr_id_of(itn, &nid);
		if (!scsi_pr_id_match(&ev->id, &nid))
			continue;
		atomic_fetch_or(&ln->ua, ev->mask);
		if (!ev->abort || !itn->tops || !itn->tops->abort_nexus_tasks)
			continue;
		pthread_mutex_lock(&w->mu);
		w->pending++;
		pthread_mutex_unlock(&w->mu);
		itn->tops->abort_nexus_tasks(itn->tctx, itn, lu, abort_done, w);
	}
	pthread_mutex_unlock(&lu->lock);
}

/* pr->lock held: take the decoded state n in place of pr's. */
static void adopt(struct scsi_pr *pr, struct scsi_pr *n, uint64_t seq)
{
	struct scsi_pr_ua *pending = pr->pending;
	unsigned npending = pr->npending;
	pr->pending = NULL;
	scsi_pr_free_state(pr);
	pr->regs = n->regs;
	pr->nregs = n->nregs;
	pr->reserved = n->reserved;
	pr->type = n->type;
	pr->holder = n->holder;
	pr->generation = n->generation;
	pr->aptpl = n->aptpl;
	pr->events = n->events;
	pr->nevents = n->nevents;
	pr->pending = pending;
	pr->npending = npending;
	pr->seq = seq;
	if (seq > pr->seq_seen)
		pr->seq_seen = seq;
	scsi_pr_update_active(pr);
}

static void wait_aborts(struct abort_wait *w)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ABORT_WAIT_S;
	pthread_mutex_lock(&w->mu);
	while (w->pending && pthread_cond_timedwait(&w->cv, &w->mu, &dl) == 0)
		;
	bool left = w->pending != 0;
	pthread_mutex_unlock(&w->mu);
	if (left) /* the abort callbacks still hold w: leak it rather than free it under them */
		kerr("scsi: preempted tasks still running after %d s", ABORT_WAIT_S);
	else {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

static int load_record(struct scsi_lu *lu, struct scsi_pr *n, uint64_t *seq)
{
	uint8_t *b = NULL;
	size_t len = 0;
	char why[160];
	struct scsi_pr_store *s = lu->pr.store;
	int r = s->ops->load(s, &b, &len, seq, why, sizeof(why));
	if (r == 0 && b && scsi_pr_decode(n, lu->naa, b, len, why, sizeof(why)) < 0) {
		kerr("scsi: LUN %llu: shared reservation record: %s", (unsigned long long)lu->lun,
		     why);
		r = -EINVAL;
	}
	free(b);
	if (r < 0)
		scsi_pr_free_state(n);
	return r;
}

int scsi_pr_reload(struct scsi_lu *lu)
{
	struct scsi_pr n = { 0 }, *pr = &lu->pr;
	uint64_t seq = 0;
	int r = load_record(lu, &n, &seq);
	struct abort_wait *w = calloc(1, sizeof(*w));
	if (r < 0 || !w) {
		free(w);
		return r < 0 ? r : -ENOMEM;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_mutex_lock(&pr->lock);
	uint64_t seen = pr->seq_seen;
	adopt(pr, &n, seq);
	for (const struct scsi_pr_event *e = pr->events; e; e = e->next)
		if (e->seq > seen && e->origin != pr->origin)
			apply_event(lu, e, w);
	pthread_mutex_unlock(&pr->lock);
	wait_aborts(w);
	return 0;
}

/* ---- one PROUT at a time per LU on this gateway ---- */
struct scsi_pr_waiter {
	struct kloop_task kt;
	struct scsi_task *t;
	void (*rerun)(struct scsi_task *t);
	struct scsi_pr_waiter *next;
};

static void waiter_run(struct kloop_task *kt)
{
	struct scsi_pr_waiter *q = (struct scsi_pr_waiter *)kt;
	struct scsi_task *t = q->t;
	void (*rerun)(struct scsi_task *) = q->rerun;
	free(q);
	rerun(t);
}

bool scsi_pr_prout_enter(struct scsi_task *t, void (*rerun)(struct scsi_task *t))
{
	struct scsi_pr *pr = &t->lu->pr;
	struct scsi_pr_waiter *q = calloc(1, sizeof(*q));
	pthread_mutex_lock(&pr->lock);
	bool now = !pr->prout_busy || !q; /* out of memory: run alongside, the CAS still holds */
	if (!pr->prout_busy) {
		pr->prout_busy = true;
	} else if (q) {
		q->kt.fn = waiter_run;
		q->t = t;
		q->rerun = rerun;
		struct scsi_pr_waiter **pp = &pr->waiters;
		while (*pp)
			pp = &(*pp)->next;
		*pp = q;
		q = NULL;
	}
	pthread_mutex_unlock(&pr->lock);
	free(q);
	return now;
}

void scsi_pr_prout_leave(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_lock(&pr->lock);
	struct scsi_pr_waiter *q = pr->waiters;
	if (q)
		pr->waiters = q->next;
	pr->prout_busy = false;
	pthread_mutex_unlock(&pr->lock);
	if (q)
		kloop_post(q->t->loop, &q->kt);
}
