/* SPDX-License-Identifier: Apache-2.0 */
/* The non-command requests of full feature phase: task management (RFC
 * 7143 11.5-11.6, with the LUN / target reset fan-out to other sessions and
 * the PREEMPT AND ABORT request of the SCSI layer), NOP-Out echo (11.18-
 * 11.19), Text with C-bit continuation both ways (11.10-11.11), Logout
 * (11.14-11.15) and the Async "request logout" message (11.9).
 *
 * Not for: SCSI commands and their data (conn_scsi.c), SendTargets and key
 * text (iscsi_keys.c via iscsi_text_respond), framing (conn.c).
 */
#include <stdlib.h>
#include <string.h>
#include "common/byteorder.h"
#include "common/log.h"
#include "target/transport/transport_internal.h"

#define TEXT_BUF 65536u

/* ---------------------------------------------------------------------- */
/* task management (RFC 7143 11.5-11.6)                                    */

uint32_t conn_abort_tasks(struct conn *c, struct scsi_lu *lu, uint32_t except_itt,
			  struct abort_wait *w)
{
	uint32_t n = 0;
	struct task *t = c->tasks, *next;
	for (; t; t = next) {
		next = t->next;
		if ((lu && t->st.lu != lu) || t->itt == except_itt || t->st.aborted)
			continue;
		n++;
		t->st.aborted = true;
		if (t->in_exec) {
			t->aw = w;
			if (w)
				w->pending++;
		} else {
			conn_task_free(t); /* its later Data-Out finds no task and is discarded */
		}
	}
	return n;
}

/* PREEMPT AND ABORT (SPC-4 5.13.11.2.6): the SCSI layer asks, from any
 * thread and with LU locks held, that this session's tasks on one LU stop.
 * Post to the session's loop (as a LUN RESET fan-out does), abort there,
 * and report back once the aborted tasks have left the SCSI layer:
 *
 *   PROUT loop                 session loop (victim)
 *   pr_abort_nexus: post ----> conn_abort_tasks(lu): tasks not yet executing
 *                              are freed, executing ones are waited for
 *                              ... last one done -> done(arg)
 *   PROUT completes after every done() */
struct pr_abort {
	struct kloop_task t;
	struct session *s;
	struct scsi_lu *lu;
	void (*done)(void *arg);
	void *arg;
	struct abort_wait aw;
};

static void pr_abort_done(struct abort_wait *w)
{
	struct pr_abort *m = container_of(w, struct pr_abort, aw);
	m->done(m->arg);
	session_put(m->s);
	free(m);
}

static void pr_abort_run(struct kloop_task *t)
{
	struct pr_abort *m = container_of(t, struct pr_abort, t);
	struct session *s = m->s;
	m->aw.pending = 1; /* held until every abort below is counted */
	m->aw.fn = pr_abort_done;
	if (s->conn && !s->dead)
		conn_abort_tasks(s->conn, m->lu, ISCSI_RSVD_TAG, &m->aw);
	if (--m->aw.pending == 0)
		pr_abort_done(&m->aw);
}

static void pr_abort_nexus(void *ctx, struct scsi_itn *itn, struct scsi_lu *lu,
			   void (*done)(void *arg), void *arg)
{
	struct session *s = ctx;
	struct pr_abort *m = calloc(1, sizeof(*m));
	if (!m) {
		kerr("out of memory aborting the tasks of a preempted nexus (%s)", s->initiator);
		done(arg);
		return;
	}
	session_get(s); /* the nexus is attached, so the session is alive */
	m->s = s;
	m->lu = lu;
	m->done = done;
	m->arg = arg;
	m->t.fn = pr_abort_run;
	kloop_post(s->w->loop, &m->t);
}

const struct scsi_transport_ops conn_scsi_ops = { .abort_nexus_tasks = pr_abort_nexus };

static void tmf_free(struct conn *c, struct tmf *m)
{
	if (c)
		for (struct tmf **pp = &c->tmfs; *pp; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
	scsi_lu_put(m->lu);
	free(m);
}

/* Everything affected has stopped: apply the reset, then answer (11.6.1). */
static void tmf_finish(struct tmf *m)
{
	struct conn *c = m->c;
	if (!c || c->closing) {
		tmf_free(c, m);
		return;
	}
	struct session *s = c->sess;
	/* SAM-5 5.11-5.12: the reset's unit attention goes to every I_T nexus,
	 * the one that asked included (libiscsi MultipathIO.Reset checks it). */
	if (m->response == ISCSI_TMF_RSP_COMPLETE) {
		if (m->function == ISCSI_TMF_LUN_RESET)
			scsi_lu_reset(m->lu, NULL);
		else if (m->function == ISCSI_TMF_TARGET_WARM_RESET ||
			 m->function == ISCSI_TMF_TARGET_COLD_RESET)
			scsi_target_reset(s->map, NULL, m->function == ISCSI_TMF_TARGET_COLD_RESET);
	}
	struct txpdu *p = conn_tx_new(c);
	if (p) {
		struct iscsi_seq sq = conn_seq_next(c, true);
		iscsi_encode_tmf_rsp(p->hdr, m->itt, m->response, &sq);
		/* 11.5.1: a cold reset drops every connection after the response */
		p->close_after = m->function == ISCSI_TMF_TARGET_COLD_RESET &&
				 m->response == ISCSI_TMF_RSP_COMPLETE;
		conn_tx_queue(c, p);
	}
	tmf_free(c, m);
	conn_tx_schedule(c);
}

static void tmf_local_done(struct abort_wait *w)
{
	struct tmf *m = container_of(w, struct tmf, aw);
	if (m->fan.pending == 0)
		tmf_finish(m);
}

static void tmf_remote_done(struct tmf_fanout *f)
{
	struct tmf *m = container_of(f, struct tmf, fan);
	if (m->aw.pending == 0)
		tmf_finish(m);
}

static struct task *abort_task_target(struct conn *c, const struct iscsi_tmf_req *r,
				      uint8_t *response)
{
	struct task *t = conn_task_find(c, r->ref_itt);
	struct session *s = c->sess;
	if (t && !t->st.aborted) {
		*response = ISCSI_TMF_RSP_COMPLETE;
		return t;
	}
	/* 11.5.1: an unknown task whose RefCmdSN is inside the window and before
	 * this request counts as received and aborted. */
	bool in_window = sn_le(s->exp_cmdsn, r->ref_cmdsn) && sn_le(r->ref_cmdsn, s->max_cmdsn);
	*response = in_window && sn_lt(r->ref_cmdsn, r->cmdsn) ? ISCSI_TMF_RSP_COMPLETE
							       : ISCSI_TMF_RSP_NO_TASK;
	return NULL;
}

static void tmf_abort_one(struct task *t, struct abort_wait *w)
{
	t->st.aborted = true;
	if (t->in_exec) {
		t->aw = w;
		w->pending++;
	} else {
		conn_task_free(t);
	}
}

static void tmf_run(struct conn *c, struct tmf *m, const struct iscsi_tmf_req *r)
{
	struct session *s = c->sess;
	m->aw.pending = 1; /* holds until the start below is complete */
	m->fan.pending = 1;
	switch (m->function) {
	case ISCSI_TMF_ABORT_TASK: {
		struct task *t = abort_task_target(c, r, &m->response);
		if (t)
			tmf_abort_one(t, &m->aw);
		break;
	}
	case ISCSI_TMF_ABORT_TASK_SET: conn_abort_tasks(c, m->lu, r->itt, &m->aw); break;
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET:
		conn_abort_tasks(c, m->lu, r->itt, &m->aw);
		session_fanout_abort(s, m->lu, m->function == ISCSI_TMF_CLEAR_TASK_SET, false,
				     &m->fan);
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		conn_abort_tasks(c, NULL, r->itt, &m->aw);
		session_fanout_abort(s, NULL, false, m->function == ISCSI_TMF_TARGET_COLD_RESET,
				     &m->fan);
		break;
	}
	m->fan.pending--;
	if (--m->aw.pending == 0)
		tmf_local_done(&m->aw);
}

static uint8_t tmf_precheck(struct conn *c, const struct iscsi_tmf_req *r, struct scsi_lu **lu)
{
	*lu = scsi_lun_map_hold(c->sess->map, scsi_decode_lun(r->lun)); /* put in tmf_free */
	switch (r->function) {
	case ISCSI_TMF_ABORT_TASK:
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET: return ISCSI_TMF_RSP_COMPLETE;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET: return *lu ? ISCSI_TMF_RSP_COMPLETE : ISCSI_TMF_RSP_NO_LUN;
	case ISCSI_TMF_TASK_REASSIGN: return ISCSI_TMF_RSP_NO_REASSIGN; /* needs ERL 2 */
	default: return ISCSI_TMF_RSP_NOT_SUPPORTED; /* CLEAR ACA (no NACA support) and unknown */
	}
}

/* A request header the decoder refused is rejected (11.17.1); false then. */
static bool decoded(struct conn *c, enum iscsi_pdu_err e)
{
	if (e != ISCSI_PDU_OK)
		conn_send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
	return e == ISCSI_PDU_OK;
}

void conn_tmf_complete(struct conn *c)
{
	struct iscsi_tmf_req r;
	if (!decoded(c, iscsi_decode_tmf_req(c->hdr, &r)) ||
	    conn_cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
		return;
	struct tmf *m = calloc(1, sizeof(*m));
	if (!m) {
		conn_close(c, "out of memory");
		return;
	}
	m->c = c;
	m->itt = r.itt;
	m->function = r.function;
	m->aw.fn = tmf_local_done;
	m->fan.fn = tmf_remote_done;
	m->next = c->tmfs;
	c->tmfs = m;
	m->response = tmf_precheck(c, &r, &m->lu);
	kdebug("%s: TMF function %u ref ITT 0x%x", c->peer, r.function, r.ref_itt);
	if (m->response != ISCSI_TMF_RSP_COMPLETE) {
		tmf_finish(m);
		return;
	}
	tmf_run(c, m, &r);
}

/* ---------------------------------------------------------------------- */
/* NOP, Text, Logout, Async                                                */

void conn_nop_out_complete(struct conn *c)
{
	struct iscsi_nop_out n;
	if (!decoded(c, iscsi_decode_nop_out(c->hdr, &n)))
		return;
	if (n.itt == ISCSI_RSVD_TAG) { /* answer to our ping (11.18.1) */
		if (n.ttt == c->ping_ttt)
			c->ping_out = false;
		return;
	}
	if (conn_cmdsn_check(c, n.cmdsn, n.immediate, false) == SN_DROP)
		return;
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	/* 11.19: echo the ping data, cut to what the initiator can receive */
	uint32_t echo = n.dsl;
	if (echo > c->sess->params.max_recv_dsl_initiator)
		echo = c->sess->params.max_recv_dsl_initiator;
	struct iscsi_nop_in in = { .itt = n.itt, .ttt = ISCSI_RSVD_TAG, .dsl = echo };
	memcpy(in.lun, n.lun, 8);
	if (echo) {
		p->heap = malloc(echo);
		if (!p->heap) {
			conn_tx_release(c, p);
			return;
		}
		memcpy(p->heap, c->seg, echo);
		p->data = p->heap;
		p->dlen = echo;
	}
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_nop_in(p->hdr, &in, &s);
	conn_tx_queue(c, p);
}

static void text_send_chunk(struct conn *c, uint32_t itt, const uint8_t *lun)
{
	uint32_t mrdsl = c->sess->params.max_recv_dsl_initiator;
	uint32_t left = c->text_len - c->text_off;
	uint32_t n = left > mrdsl ? mrdsl : left;
	bool more = n < left;
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	struct iscsi_text_rsp r = { .final = !more,
				    .cont = more,
				    .itt = itt,
				    .dsl = n,
				    .ttt = more ? (c->text_ttt = conn_new_ttt(c))
						: ISCSI_RSVD_TAG };
	memcpy(r.lun, lun, 8);
	if (n) {
		p->heap = malloc(n);
		if (!p->heap) {
			conn_tx_release(c, p);
			return;
		}
		memcpy(p->heap, c->text_rsp + c->text_off, n);
		p->data = p->heap;
		p->dlen = n;
	}
	c->text_off += n;
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_text_rsp(p->hdr, &r, &s);
	conn_tx_queue(c, p);
	if (!more) {
		free(c->text_rsp);
		c->text_rsp = NULL;
		c->text_ttt = ISCSI_RSVD_TAG;
	}
}

/* Gather a request split with the C bit (11.10.1): 1 complete, 0 more
 * parts follow, -1 refused. */
static int text_gather(struct conn *c, const struct iscsi_text_req *r)
{
	uint32_t total = c->text_req_len + r->dsl;
	if (total > TEXT_BUF) {
		conn_send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
		c->text_req_len = 0;
		return -1;
	}
	uint8_t *nb = realloc(c->text_req, total ? total : 1);
	if (!nb)
		return -1;
	c->text_req = nb;
	memcpy(nb + c->text_req_len, c->seg, r->dsl);
	c->text_req_len = total;
	return r->cont ? 0 : 1;
}

/* 11.11.1: each part of a continued request gets an empty response with
 * F=0 and a TTT that the next part quotes. */
static void text_ack_part(struct conn *c, const struct iscsi_text_req *r)
{
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	c->text_ttt = conn_new_ttt(c);
	struct iscsi_text_rsp t = { .itt = r->itt, .ttt = c->text_ttt };
	memcpy(t.lun, r->lun, 8);
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_text_rsp(p->hdr, &t, &s);
	conn_tx_queue(c, p);
}

void conn_text_complete(struct conn *c)
{
	struct iscsi_text_req r;
	if (!decoded(c, iscsi_decode_text_req(c->hdr, &r)) ||
	    conn_cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
		return;
	bool ours = r.ttt != ISCSI_RSVD_TAG && r.ttt == c->text_ttt;
	if (r.ttt != ISCSI_RSVD_TAG && !ours) {
		conn_send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (ours && c->text_rsp) { /* next part of our long response */
		text_send_chunk(c, r.itt, r.lun);
		return;
	}
	if (!ours) { /* TTT reserved: a new exchange (11.10.4) */
		free(c->text_rsp);
		c->text_rsp = NULL;
		c->text_req_len = 0;
	}
	int g = text_gather(c, &r);
	if (g == 0)
		text_ack_part(c, &r);
	if (g <= 0)
		return;
	c->text_rsp = malloc(TEXT_BUF);
	if (!c->text_rsp)
		return;
	c->text_len = (uint32_t)iscsi_text_respond(&c->policy, &c->sess->params, c->text_req,
						   c->text_req_len, c->text_rsp, TEXT_BUF);
	c->text_off = 0;
	c->text_req_len = 0;
	text_send_chunk(c, r.itt, r.lun);
}

void conn_logout_complete(struct conn *c)
{
	struct iscsi_logout_req r;
	if (!decoded(c, iscsi_decode_logout_req(c->hdr, &r)) ||
	    conn_cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
		return;
	uint8_t rsp = ISCSI_LOGOUT_RSP_SUCCESS;
	if (r.reason == ISCSI_LOGOUT_REMOVE_FOR_RECOVERY)
		rsp = ISCSI_LOGOUT_RSP_NO_RECOVERY; /* needs ERL 2 (11.15.1) */
	else if (r.reason == ISCSI_LOGOUT_CLOSE_CONNECTION && r.cid != c->cid)
		rsp = ISCSI_LOGOUT_RSP_CID_NOT_FOUND;
	struct txpdu *p = conn_tx_new(c);
	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_logout_rsp(p->hdr, r.itt, rsp, 0, 0, &s);
	if (rsp == ISCSI_LOGOUT_RSP_SUCCESS) {
		p->close_after = true;
		c->state = C_LOGOUT;
	}
	conn_tx_queue(c, p);
	kdebug("%s: logout reason %u", c->peer, r.reason);
}

void conn_send_async_logout(struct conn *c, uint16_t seconds)
{
	if (c->closing || c->state != C_FFP)
		return;
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	struct iscsi_async a = { .event = ISCSI_ASYNC_REQUEST_LOGOUT, .param3 = seconds };
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_async(p->hdr, &a, &s);
	conn_tx_queue(c, p);
	conn_tx_flush(c);
}
