/* SPDX-License-Identifier: Apache-2.0 */
/* Multipath LUs of kura-initiatord: paths that report the same NAA identity
 * (VPD 0x83) form one LU; each front-end request is sent on the path the
 * policy picks (mpath_core.c), resubmitted on another path when its path
 * fails (transport error, timeout, NOT READY, cancellation at teardown) and
 * returned with an error only when the command itself is at fault
 * (ILLEGAL REQUEST, MEDIUM ERROR, DATA PROTECT, RESERVATION CONFLICT).
 * While no path is up requests wait in the LU's queue for at most
 * no_path_retry_ms, then fail with EIO (or at once after FAIL-QUEUE).
 *
 * Large UNMAP / write-zeroes requests are cut into chunks sent one after
 * the other; the request completes after the last chunk.
 *
 * What happens to an LU (added, resized, no path, path back, queue failed)
 * is told to the listeners that subscribed (mpath_subscribe): that is how the
 * front ends learn of LUs, without this file knowing them.
 *
 * Not for: sessions (path.c) or presenting LUs (fuse_front.c, nbd_*.c).
 * Everything here runs on the event loop thread except ini_io_submit().
 */
#include "initiator/initiatord_internal.h"
#include "common/container.h"
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

uint32_t path_io_chunk(const struct ini_io *io);

static void lu_dispatch_task(struct kloop_task *t);

void mpath_subscribe(struct ini_daemon *d, struct mpath_listener *l)
{
	struct mpath_listener **at = &d->listeners;
	while (*at)
		at = &(*at)->next;
	l->next = NULL;
	*at = l; /* at the end: listeners hear events in subscription order */
}

void mpath_unsubscribe(struct ini_daemon *d, struct mpath_listener *l)
{
	for (struct mpath_listener **at = &d->listeners; *at; at = &(*at)->next)
		if (*at == l) {
			*at = l->next;
			return;
		}
}

static void lu_notify(struct ini_lu *lu, enum mpath_event ev)
{
	for (struct mpath_listener *l = lu->d->listeners, *next; l; l = next) {
		next = l->next; /* a listener may unsubscribe itself */
		l->fn(l, lu, ev);
	}
}

/* The queue started failing I/O (deadline passed or FAIL-QUEUE). */
static void lu_note_failing(struct ini_lu *lu, bool was_failing)
{
	if (!was_failing && lu->q.failing)
		lu_notify(lu, MPATH_EV_QUEUE_FAILED);
}

static bool lu_path_up(const struct ini_lu *lu, int i)
{
	return lu->paths[i].p->state == PATH_UP && !lu->paths[i].p->admin_failed;
}

static int lu_alua(const struct ini_lu *lu, int i)
{
	const struct ini_path *p = lu->paths[i].p;
	for (int k = 0; k < p->n_luns; k++)
		if (p->luns[k].lu == lu)
			return p->luns[k].alua_state;
	return ALUA_UNAVAIL;
}

static int lu_select(struct ini_lu *lu)
{
	struct mpath_cand c[INI_MAX_LU_PATHS];
	for (int i = 0; i < lu->n_paths; i++) {
		c[i].up = lu_path_up(lu, i);
		c[i].alua_state = lu_alua(lu, i);
	}
	int before = lu->sel.current;
	int i = mpath_select(c, lu->n_paths, lu->d->o.policy, lu->d->o.failback_immediate,
			     &lu->sel);
	if (lu->d->o.policy == MPATH_FAILOVER && i >= 0 && before != i) {
		kinfo("LU %s: I/O now on path %d (%s:%u)", lu->wwid, lu->paths[i].p->sid,
		      lu->paths[i].p->id.address, lu->paths[i].p->id.port);
		if (before >= 0)
			lu->n_failovers++;
	}
	return i;
}

static bool lu_any_up(const struct ini_lu *lu)
{
	for (int i = 0; i < lu->n_paths; i++)
		if (lu_path_up(lu, i) && mpath_alua_prio(lu_alua(lu, i)) > 0)
			return true;
	return false;
}

static void lu_kick(struct ini_lu *lu)
{
	if (lu->kick_queued)
		return;
	lu->kick_queued = true;
	lu->kick.fn = lu_dispatch_task;
	kloop_defer(lu->d->loop, &lu->kick);
}

static struct ini_lu *lu_new(struct ini_daemon *d, struct ini_path *p, int lun,
			     const struct mpath_ident *id)
{
	struct ini_lu *lu = calloc(1, sizeof(*lu));
	if (!lu)
		return NULL;
	lu->d = d;
	lu->ident = *id;
	mpath_wwid(id, lu->wwid, sizeof(lu->wwid));
	snprintf(lu->alias, sizeof(lu->alias), "%s-lun%d", p->id.target, lun);
	lu->sel.current = -1;
	lu->q.nopath_since = kloop_now_ms(d->loop);
	pthread_mutex_lock(&d->lus_mu);
	lu->index = d->n_lus;
	d->lus[d->n_lus++] = lu;
	pthread_mutex_unlock(&d->lus_mu);
	return lu;
}

static struct ini_lu *lu_find(struct ini_daemon *d, const struct mpath_ident *id)
{
	for (int i = 0; i < d->n_lus; i++)
		if (d->lus[i]->ident.naa_len == id->naa_len &&
		    !memcmp(d->lus[i]->ident.naa, id->naa, (size_t)id->naa_len))
			return d->lus[i];
	return NULL;
}

static int lu_add_path(struct ini_lu *lu, struct ini_path *p, int lun)
{
	for (int i = 0; i < lu->n_paths; i++)
		if (lu->paths[i].p == p && lu->paths[i].lun == lun)
			return 0;
	if (lu->n_paths >= INI_MAX_LU_PATHS)
		return -ENOSPC;
	int at = lu->n_paths; /* keep sid order: failover prefers the first node */
	while (at > 0 && lu->paths[at - 1].p->sid > p->sid) {
		lu->paths[at] = lu->paths[at - 1];
		at--;
	}
	lu->paths[at].p = p;
	lu->paths[at].lun = lun;
	lu->n_paths++;
	lu->sel.current = -1;
	lu->paths_changed = true;
	kinfo("LU %s (%s): path %d %s:%u LUN %d added (%d path%s)", lu->wwid, lu->alias, p->sid,
	      p->id.address, p->id.port, lun, lu->n_paths, lu->n_paths == 1 ? "" : "s");
	return 0;
}

struct ini_lu *mpath_attach(struct ini_daemon *d, struct ini_path *p, int lun,
			    const struct mpath_ident *id, uint64_t blocks, uint32_t bs)
{
	struct ini_lu *lu = lu_find(d, id);
	bool fresh = lu && lu->gone; /* back after its last path logged out */
	if (!lu) {
		if (d->n_lus >= INI_MAX_LUS || !(lu = lu_new(d, p, lun, id)))
			return NULL;
		fresh = true;
	}
	if (lu->gone) {
		pthread_mutex_lock(&d->lus_mu);
		lu->gone = false; /* presented again under the same names */
		pthread_mutex_unlock(&d->lus_mu);
	}
	if (!fresh && lu->block_size != bs) {
		kerr("LU %s: path %d reports block size %u, others %u: not added", lu->wwid, p->sid,
		     bs, lu->block_size);
		return NULL;
	}
	bool resized = !fresh && lu->blocks != blocks;
	pthread_mutex_lock(&d->lus_mu);
	lu->blocks = blocks; /* a rescan picks up a grown LU */
	lu->block_size = bs;
	pthread_mutex_unlock(&d->lus_mu);
	if (lu_add_path(lu, p, lun) < 0)
		return NULL;
	if (fresh || resized)
		lu_notify(lu, fresh ? MPATH_EV_LU_ADDED : MPATH_EV_LU_RESIZED);
	else if (lu->paths_changed)
		lu_notify(lu, MPATH_EV_PATHS_CHANGED);
	lu->paths_changed = false;
	return lu;
}

/* The LU's last path logged out: its devices go (MPATH_EV_LU_REMOVED) and
 * queued and new I/O fails with EIO at once instead of waiting for the
 * no-path bound; a later login of a path to it brings it back (LU_ADDED). */
static void lu_remove(struct ini_lu *lu)
{
	bool was_failing = lu->q.failing;
	pthread_mutex_lock(&lu->d->lus_mu);
	lu->gone = true;
	pthread_mutex_unlock(&lu->d->lus_mu);
	kinfo("LU %s (%s): last path logged out; removed", lu->wwid, lu->alias);
	mpath_q_paths(&lu->q, false, kloop_now_ms(lu->d->loop));
	mpath_q_fail_now(&lu->q);
	lu_notify(lu, MPATH_EV_LU_REMOVED);
	lu_note_failing(lu, was_failing);
	mpath_dispatch(lu);
}

void mpath_detach_path(struct ini_daemon *d, struct ini_path *p)
{
	for (int l = 0; l < d->n_lus; l++) {
		struct ini_lu *lu = d->lus[l];
		int w = 0;
		for (int i = 0; i < lu->n_paths; i++)
			if (lu->paths[i].p != p)
				lu->paths[w++] = lu->paths[i];
		if (w != lu->n_paths) {
			lu->n_paths = w;
			lu->sel.current = -1;
			if (w) {
				mpath_paths_changed(lu);
				lu_notify(lu, MPATH_EV_PATHS_CHANGED);
			} else
				lu_remove(lu);
		}
	}
}

void mpath_paths_changed(struct ini_lu *lu)
{
	uint64_t now = kloop_now_ms(lu->d->loop);
	bool up = lu_any_up(lu), had = lu->q.have_path;
	if (had && !up)
		kwarn("LU %s: no path left; queueing I/O for up to %llu ms", lu->wwid,
		      (unsigned long long)lu->d->o.no_path_retry_ms);
	mpath_q_paths(&lu->q, up, now);
	if (had != up)
		lu_notify(lu, up ? MPATH_EV_PATH_UP : MPATH_EV_NO_PATH);
	lu_kick(lu);
}

static void io_complete(struct ini_io *io, int res)
{
	free(io->zbuf);
	io->zbuf = NULL;
	io->done(io, res);
}

static void lu_enqueue(struct ini_lu *lu, struct ini_io *io, bool front)
{
	io->next = NULL;
	if (front) {
		io->next = lu->qhead;
		lu->qhead = io;
		if (!lu->qtail)
			lu->qtail = io;
	} else {
		if (lu->qtail)
			lu->qtail->next = io;
		else
			lu->qhead = io;
		lu->qtail = io;
	}
	lu->n_queued++;
}

static struct ini_io *lu_dequeue(struct ini_lu *lu)
{
	struct ini_io *io = lu->qhead;
	lu->qhead = io->next;
	if (!lu->qhead)
		lu->qtail = NULL;
	lu->n_queued--;
	io->next = NULL;
	return io;
}

void mpath_dispatch(struct ini_lu *lu)
{
	uint64_t now = kloop_now_ms(lu->d->loop);
	if (now < lu->hold_until_ms)
		return;
	bool was_failing = lu->q.failing;
	while (lu->qhead) {
		enum mpath_qdecision q = mpath_q_decide(&lu->q, now, lu->d->o.no_path_retry_ms);
		if (q == MQ_WAIT)
			break;
		if (q == MQ_FAIL) {
			io_complete(lu_dequeue(lu), -EIO);
			continue;
		}
		int i = lu_select(lu);
		if (i < 0)
			break;
		struct ini_io *io = lu_dequeue(lu);
		if (path_submit(lu->paths[i].p, io, lu->paths[i].lun) < 0)
			lu_enqueue(lu, io,
				   true); /* that path just failed; the loop picks another */
	}
	lu_note_failing(lu, was_failing);
}

static void lu_dispatch_task(struct kloop_task *t)
{
	struct ini_lu *lu = container_of(t, struct ini_lu, kick);
	lu->kick_queued = false;
	mpath_dispatch(lu);
}

void mpath_requeue(struct ini_io *io)
{
	io->lu->n_retries++;
	lu_enqueue(io->lu, io, true);
	lu_kick(io->lu);
}

/* A chunked request moves on to its next chunk; true when it is finished. */
static bool io_advance(struct ini_io *io)
{
	if (io->op != INI_UNMAP && io->op != INI_ZEROES)
		return true;
	uint32_t n = path_io_chunk(io);
	io->off += n;
	io->len -= n;
	return io->len == 0;
}

static bool zeroes_refused(struct ini_io *io, int status, int key, int asc)
{
	return io->op == INI_ZEROES && !io->lu->zeroes_fallback &&
	       status == SCSI_STATUS_CHECK_CONDITION && key == SCSI_SENSE_ILLEGAL_REQUEST;
}

void mpath_io_finished(struct ini_io *io, int status, int skey, int asc, int ascq)
{
	struct ini_lu *lu = io->lu;
	switch (mpath_classify(status, skey, asc, ascq)) {
	case MV_OK:
		if (io_advance(io)) {
			io_complete(io, 0);
		} else {
			lu_enqueue(lu, io, true);
			lu_kick(lu);
		}
		return;
	case MV_RETRY_SAME:
		if (++io->ua_tries > 16)
			break;
		mpath_requeue(io);
		return;
	case MV_BUSY:
		lu->hold_until_ms = kloop_now_ms(lu->d->loop) + 50;
		mpath_requeue(io);
		return;
	case MV_RETRY_OTHER:
		io->tries++;
		mpath_requeue(io);
		return;
	case MV_FAIL:
		if (zeroes_refused(io, status, skey, asc)) {
			kinfo("LU %s: WRITE SAME refused; writing zero buffers instead", lu->wwid);
			lu->zeroes_fallback = true;
			free(io->zbuf);
			io->zbuf = NULL;
			mpath_requeue(io);
			return;
		}
		break;
	}
	kdebug("LU %s: command failed, status 0x%x sense %d/%02x/%02x", lu->wwid, status, skey, asc,
	       ascq);
	io_complete(io, mpath_fail_errno(status, skey, asc, ascq));
}

void mpath_tick(struct ini_daemon *d, uint64_t now)
{
	for (int i = 0; i < d->n_lus; i++)
		if (d->lus[i]->qhead)
			mpath_dispatch(d->lus[i]);
}

int mpath_fail_queue(struct ini_lu *lu)
{
	int n = lu->n_queued;
	bool was_failing = lu->q.failing;
	mpath_q_fail_now(&lu->q);
	lu_note_failing(lu, was_failing);
	mpath_dispatch(lu);
	return n;
}

static void io_submit_task(struct kloop_task *t)
{
	struct ini_io *io = container_of(t, struct ini_io, task);
	struct ini_lu *lu = io->lu;
	io->submit_ms = kloop_now_ms(lu->d->loop);
	lu->n_io++;
	if (io->len % lu->block_size || io->off % lu->block_size) {
		io->done(io, -EINVAL);
		return;
	}
	if (io->op != INI_FLUSH && (io->off > lu->blocks * lu->block_size ||
				    io->len > lu->blocks * lu->block_size - io->off)) {
		io->done(io, -ENOSPC);
		return;
	}
	if ((io->op == INI_READ || io->op == INI_WRITE || io->op == INI_UNMAP ||
	     io->op == INI_ZEROES) &&
	    !io->len) {
		io->done(io, 0);
		return;
	}
	lu_enqueue(lu, io, false);
	mpath_dispatch(lu);
}

static void io_init(struct ini_io *io)
{
	io->task.fn = io_submit_task;
	io->zbuf = NULL;
	io->path = NULL;
	io->tries = io->ua_tries = 0;
}

void ini_io_submit(struct ini_daemon *d, struct ini_io *io)
{
	io_init(io);
	kloop_post(d->loop, &io->task);
}

void ini_io_start(struct ini_io *io)
{
	io_init(io);
	io_submit_task(&io->task);
}
