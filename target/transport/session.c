/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI sessions: the global session table (TSIH allocation, session
 * reinstatement, RFC 7143 6.3.5), the CmdSN window (4.2.2.1), and the
 * cross-session messages a session may receive from other worker threads:
 * close for reinstatement, abort tasks for a LUN or target reset issued on
 * another session (RFC 7143 11.5.1), and request logout at shutdown.
 *
 * With MaxConnections=1 a session has exactly one connection, which owns it
 * on its worker loop. Other threads only read the immutable key fields under
 * srv->lock and post messages; a message holds a reference so the session
 * memory outlives it.
 *
 *   worker A (new login)          table (lock)            worker B (old session)
 *   final login, TSIH=0  ---- find same I+ISID+T ---->
 *                         post "reinstate" ----------------> close connection,
 *                                                           wait for its tasks,
 *   <--------------------------- post waiter ------------- session_destroy
 *   register new session, send the final Login Response
 *
 * Not for: PDUs (conn.c), listeners (server.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/byteorder.h"
#include "common/log.h"
#include "target/transport/transport_internal.h"

struct session *session_new(struct conn *c, const struct iscsi_session_params *p,
			    const struct tgt_target *tgt, uint32_t cmdsn)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->conn = c;
	s->params = *p;
	s->discovery = p->discovery;
	snprintf(s->initiator, sizeof(s->initiator), "%s", p->initiator_name);
	snprintf(s->target, sizeof(s->target), "%s", p->target_name);
	s->tpgt = c->pctx.portal->tpgt;
	s->tgt = tgt;
	s->map = tgt ? tgt->map : NULL;
	s->exp_cmdsn = cmdsn;
	s->max_cmdsn = cmdsn - 1;
	return s;
}

void session_get(struct session *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void session_put(struct session *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		free(s);
}

void session_update_window(struct session *s)
{
	if (s->buf_blocked) /* no buffer room: do not invite more (limits.c) */
		return;
	uint32_t qd = s->srv->cfg->queue_depth ? s->srv->cfg->queue_depth : 256;
	uint32_t room = qd > s->in_flight ? qd - s->in_flight : 0;
	uint32_t cand = s->exp_cmdsn + room - 1;
	/* 4.2.2.1: MaxCmdSN never moves back; an empty window is MaxCmdSN = ExpCmdSN - 1. */
	if (sn_lt(s->max_cmdsn, cand))
		s->max_cmdsn = cand;
}

/* RFC 7143 4.4.3 / 6.3.5: a session is identified by the initiator name,
 * the SSID (ISID + target portal group tag) and the target; the same ISID
 * through another portal group is another session (multipath), not a
 * reinstatement. */
static bool same_nexus(const struct session *a, const struct session *b)
{
	return !a->discovery && !b->discovery && memcmp(a->isid, b->isid, 6) == 0 &&
	       a->tpgt == b->tpgt && strcasecmp(a->initiator, b->initiator) == 0 &&
	       strcasecmp(a->target, b->target) == 0;
}

int session_table_count_initiator(struct tgt_server *srv, const struct session *s)
{
	int n = 0;
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next)
		n += !o->dead && !same_nexus(o, s) && strcasecmp(o->initiator, s->initiator) == 0;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

static bool tsih_used(struct tgt_server *srv, uint16_t tsih)
{
	for (struct session *o = srv->sessions; o; o = o->next)
		if (o->tsih == tsih)
			return true;
	return false;
}

struct session *session_register(struct session *s, bool *ok)
{
	struct tgt_server *srv = s->srv;
	*ok = false;
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next)
		if (same_nexus(o, s) && !o->dead) {
			session_get(o);
			pthread_mutex_unlock(&srv->lock);
			return o;
		}
	do { /* TSIH 0 is reserved (RFC 7143 11.12.8) */
		s->tsih = srv->next_tsih++;
	} while (s->tsih == 0 || tsih_used(srv, s->tsih));
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	session_get(s); /* the table's reference */
	pthread_mutex_unlock(&srv->lock);
	*ok = true;
	return NULL;
}

static void table_remove(struct session *s)
{
	struct tgt_server *srv = s->srv;
	bool listed = false;
	pthread_mutex_lock(&srv->lock);
	if (s->prev || srv->sessions == s) {
		if (s->prev)
			s->prev->next = s->next;
		else
			srv->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->next = s->prev = NULL;
		listed = true;
	}
	s->dead = true;
	pthread_mutex_unlock(&srv->lock);
	if (listed)
		session_put(s);
}

void session_destroy(struct session *s)
{
	table_remove(s);
	s->conn = NULL;
	if (s->itn)
		scsi_itn_destroy(s->itn);
	s->itn = NULL;
	if (s->gone_waiter)
		kloop_post(s->gone_loop, s->gone_waiter);
	s->gone_waiter = NULL;
	session_put(s); /* the connection's reference */
}

int session_table_count(struct tgt_server *srv)
{
	int n = 0;
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next)
		n++;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

/* ---- messages to a session's loop ---- */

enum smsg_kind { SMSG_REINSTATE, SMSG_ABORT, SMSG_LOGOUT, SMSG_REVOKE };

struct smsg {
	struct kloop_task t;
	enum smsg_kind kind;
	struct session *s;
	/* SMSG_REINSTATE */
	struct kloop_task *waiter;
	struct kloop *wloop;
	/* SMSG_ABORT */
	struct scsi_lu *lu;
	bool clear_ua, close_after;
	struct tmf_fanout *origin;
	struct kloop *origin_loop;
	struct abort_wait aw;
	/* SMSG_LOGOUT */
	uint16_t seconds;
};

static void smsg_free(struct smsg *m)
{
	session_put(m->s);
	free(m);
}

/* Ack back on the origin loop: the fan-out counter is touched there only. */
struct fan_ack {
	struct kloop_task t;
	struct tmf_fanout *f;
};

static void fan_ack_run(struct kloop_task *t)
{
	struct fan_ack *a = (struct fan_ack *)t;
	if (--a->f->pending == 0)
		a->f->fn(a->f);
	free(a);
}

static void abort_done(struct abort_wait *w)
{
	struct smsg *m = container_of(w, struct smsg, aw);
	struct fan_ack *a = calloc(1, sizeof(*a));
	if (a) {
		a->t.fn = fan_ack_run;
		a->f = m->origin;
		kloop_post(m->origin_loop, &a->t);
	} else {
		kerr("out of memory acknowledging a task abort; reset response lost");
	}
	if (m->close_after && m->s->conn)
		conn_close(m->s->conn, "target cold reset");
	smsg_free(m);
}

static void smsg_abort(struct smsg *m)
{
	struct session *s = m->s;
	m->aw.pending = 1; /* held until every abort below is counted */
	m->aw.fn = abort_done;
	if (s->conn && !s->dead) {
		uint32_t n = conn_abort_tasks(s->conn, m->lu, ISCSI_RSVD_TAG, &m->aw);
		if (n && m->clear_ua && s->itn)
			scsi_itn_commands_cleared(s->itn, m->lu);
	}
	if (--m->aw.pending == 0)
		abort_done(&m->aw);
}

static void smsg_run(struct kloop_task *t)
{
	struct smsg *m = (struct smsg *)t;
	struct session *s = m->s;
	switch (m->kind) {
	case SMSG_REINSTATE:
		if (s->conn && !s->dead) {
			/* posted when session_destroy runs, after its tasks stopped */
			s->gone_waiter = m->waiter;
			s->gone_loop = m->wloop;
			conn_close(s->conn, "session reinstated");
		} else {
			kloop_post(m->wloop, m->waiter);
		}
		break;
	case SMSG_ABORT: smsg_abort(m); return; /* freed by abort_done */
	case SMSG_LOGOUT:
		if (s->conn && !s->dead)
			conn_send_async_logout(s->conn, m->seconds);
		break;
	case SMSG_REVOKE:
		if (s->conn && !s->dead)
			conn_close(s->conn, "initiator removed from the target's ACL");
		break;
	}
	smsg_free(m);
}

static struct smsg *smsg_new(struct session *s, enum smsg_kind kind)
{
	struct smsg *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->t.fn = smsg_run;
	m->kind = kind;
	m->s = s; /* caller's reference moves into the message */
	return m;
}

/* A message for session o holding a new reference to it (under srv->lock,
 * as the table walks do); NULL, and no reference, when out of memory. */
static struct smsg *smsg_to(struct session *o, enum smsg_kind kind)
{
	session_get(o);
	struct smsg *m = smsg_new(o, kind);
	if (!m)
		session_put(o);
	return m;
}

void session_reinstate(struct session *old, struct kloop *wloop, struct kloop_task *waiter)
{
	struct smsg *m = smsg_new(old, SMSG_REINSTATE);
	if (!m) {
		session_put(old);
		kloop_post(wloop, waiter);
		return;
	}
	m->waiter = waiter;
	m->wloop = wloop;
	kloop_post(old->w->loop, &m->t);
}

static bool affected(const struct session *o, const struct session *self, struct scsi_lu *lu)
{
	if (o == self || o->dead || o->discovery || !o->map)
		return false;
	if (lu)
		for (uint64_t n = 0; n < SCSI_MAX_LUNS; n++)
			if (scsi_lun_map_get(o->map, n) == lu)
				return true;
	return !lu && o->map == self->map;
}

void session_fanout_abort(struct session *self, struct scsi_lu *lu, bool clear_ua, bool close_after,
			  struct tmf_fanout *f)
{
	struct tgt_server *srv = self->srv;
	struct kloop *here = self->w->loop;
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next) {
		if (!affected(o, self, lu))
			continue;
		struct smsg *m = smsg_to(o, SMSG_ABORT);
		if (!m)
			continue;
		m->lu = lu;
		m->clear_ua = clear_ua;
		m->close_after = close_after;
		m->origin = f;
		m->origin_loop = here;
		f->pending++;
		kloop_post(o->w->loop, &m->t);
	}
	pthread_mutex_unlock(&srv->lock);
}

void session_table_request_logout(struct tgt_server *srv, uint16_t seconds)
{
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next) {
		struct smsg *m = smsg_to(o, SMSG_LOGOUT);
		if (!m)
			continue;
		m->seconds = seconds;
		kloop_post(o->w->loop, &m->t);
	}
	pthread_mutex_unlock(&srv->lock);
}

int session_table_close_if(struct tgt_server *srv, const struct tgt_target *t,
			   bool (*allowed)(const struct tgt_target *t, const char *initiator))
{
	int n = 0;
	pthread_mutex_lock(&srv->lock);
	for (struct session *o = srv->sessions; o; o = o->next) {
		if (o->discovery || strcasecmp(o->target, t->iqn) != 0 || allowed(t, o->initiator))
			continue;
		struct smsg *m = smsg_to(o, SMSG_REVOKE);
		if (!m)
			continue;
		kloop_post(o->w->loop, &m->t);
		n++;
	}
	pthread_mutex_unlock(&srv->lock);
	return n;
}
