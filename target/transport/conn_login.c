/* SPDX-License-Identifier: Apache-2.0 */
/* The login phase of a connection (RFC 7143 6, 11.12-11.13): Login
 * Requests go one at a time to the login engine (iscsi_login_step); on the
 * final transition to full feature phase the session is created, registered
 * (reinstating an older one with the same I_T nexus, 6.3.5) and the
 * connection switches to the negotiated digests and segment length.
 *
 * Not for: key negotiation, CHAP and target lookup (iscsi_login.c, chap.c,
 * server.c's policy), the session table (session.c), framing (conn.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/byteorder.h"
#include "common/log.h"
#include "target/transport/transport_internal.h"

/* ---------------------------------------------------------------------- */
/* Login Response (RFC 7143 11.13)                                         */

static void send_login_rsp(struct conn *c, const struct iscsi_login_rsp *r, uint16_t tsih)
{
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	struct iscsi_login_rsp_hdr h = { .transit = r->transit,
					 .csg = r->csg,
					 .nsg = r->nsg,
					 .tsih = tsih,
					 .itt = c->login_itt,
					 .dsl = (uint32_t)r->len,
					 .status = r->status };
	memcpy(h.isid, c->isid, 6);
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_login_rsp(p->hdr, &h, &s);
	if (r->len) {
		p->heap = malloc(r->len);
		if (!p->heap) {
			conn_tx_release(c, p);
			conn_close(c, "out of memory");
			return;
		}
		memcpy(p->heap, c->login_buf, r->len);
		p->data = p->heap;
		p->dlen = (uint32_t)r->len;
	}
	p->close_after = r->status != ISCSI_LS_SUCCESS;
	if (p->close_after)
		CONN_PSTAT(c, login_failures, 1);
	conn_tx_queue(c, p);
}

static void login_fail(struct conn *c, uint16_t status)
{
	struct iscsi_login_rsp r = { .status = status };
	send_login_rsp(c, &r, 0);
}

/* ---------------------------------------------------------------------- */
/* login phase (RFC 7143 6, 11.12-11.13)                                   */

static void login_activate(struct conn *c, struct session *s)
{
	c->sess = s;
	c->pend_sess = NULL;
	if (!s->discovery) {
		const struct tgt_portal *pt = c->pctx.portal;
		struct scsi_port port = { .rel_port_id = pt->rel_port_id,
					  .tpg_id = pt->tpg_id,
					  .target_iqn = s->tgt->iqn,
					  .tpgt = pt->tpgt };
		limits_session_init(s);
		s->itn = scsi_itn_create(s->map, s->initiator, s->isid, &port);
		if (!s->itn) {
			login_fail(c, ISCSI_LS_OUT_OF_RESOURCES);
			return;
		}
		scsi_itn_set_transport(s->itn, &conn_scsi_ops, s);
	}
	session_update_window(s);
	CONN_PSTAT(c, logins, 1);
	send_login_rsp(c, &c->pend_rsp, s->tsih);
	/* Digests start with the first PDU after the final Login Response (13.1). */
	c->hdigest = s->params.header_digest;
	c->ddigest = s->params.data_digest;
	c->max_rx_dsl = s->params.max_recv_dsl_target;
	if (c->max_rx_dsl > c->seg_size || c->max_rx_dsl == 0)
		c->max_rx_dsl = c->seg_size;
	c->state = C_FFP;
	if (c->rx_paused) {
		c->rx_paused = false;
		conn_set_events(c);
	}
	iscsi_login_free(c->login);
	c->login = NULL;
	kinfo("%s: %s session TSIH %u for %s (%s)%s%s", c->peer,
	      s->discovery ? "discovery" : "normal", s->tsih, s->initiator,
	      s->discovery ? "-" : s->target, c->hdigest ? " HeaderDigest" : "",
	      c->ddigest ? " DataDigest" : "");
}

/* Register the new session; an old one with the same I_T nexus is closed
 * first (reinstatement, RFC 7143 6.3.5) and we come back here after it. */
static void login_register(struct conn *c)
{
	bool ok;
	struct session *old = session_register(c->pend_sess, &ok);
	if (ok) {
		login_activate(c, c->pend_sess);
		conn_tx_schedule(c);
		return;
	}
	kinfo("%s: reinstating session TSIH %u of %s", c->peer, old->tsih, old->initiator);
	c->state = C_LOGIN_WAIT;
	c->rx_paused = true; /* the initiator waits for our answer anyway */
	conn_set_events(c);
	c->reinstate_wait = true;
	session_reinstate(old, c->loop, &c->reinstate_task);
}

static void reinstate_done(struct kloop_task *t)
{
	struct conn *c = container_of(t, struct conn, reinstate_task);
	c->reinstate_wait = false;
	if (c->closing) {
		session_put(c->pend_sess);
		c->pend_sess = NULL;
		conn_maybe_free(c);
		return;
	}
	login_register(c);
}

void conn_login_init(struct conn *c)
{
	c->reinstate_task.fn = reinstate_done;
}

/* max_connections_per_initiator: a login that would add a session beyond
 * it (a reinstatement replaces one, so it passes) is refused with 02/06. */
static bool initiator_over_cap(struct conn *c, const struct session *s)
{
	uint32_t cap = c->srv->cfg->max_conns_per_initiator;
	int n = cap ? session_table_count_initiator(c->srv, s) : 0;
	if (!cap || (uint32_t)n < cap)
		return false;
	kwarn("%s: login refused: the initiator has %d sessions (max_connections_per_initiator)",
	      c->peer, n);
	return true;
}

static void login_finish(struct conn *c, const struct iscsi_login_rsp *rsp)
{
	const struct iscsi_session_params *p = iscsi_login_params(c->login);
	const struct tgt_target *tgt =
		p->discovery ? NULL : tgt_model_find_target(c->srv->model, p->target_name);
	if (!p->discovery && !tgt) {
		login_fail(c, ISCSI_LS_NOT_FOUND);
		return;
	}
	struct session *s = session_new(c, p, tgt, c->login_cmdsn);
	if (!s) {
		login_fail(c, ISCSI_LS_OUT_OF_RESOURCES);
		return;
	}
	s->srv = c->srv;
	s->w = c->w;
	memcpy(s->isid, c->isid, 6);
	if (initiator_over_cap(c, s)) {
		session_put(s);
		login_fail(c, ISCSI_LS_TOO_MANY_CONNS);
		return;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", c->peer); /* for kura-targetctl */
	c->pend_rsp = *rsp;
	c->pend_sess = s;
	login_register(c);
}

static bool login_first(struct conn *c, const struct iscsi_login_req_hdr *h)
{
	if (!c->login_started) {
		c->login_started = true;
		c->stat_sn = h->exp_statsn; /* 11.13.4: any starting StatSN will do */
		memcpy(c->isid, h->isid, 6);
		c->cid = h->cid;
		c->login_cmdsn = h->cmdsn;
		if (h->version_min > ISCSI_VERSION) {
			login_fail(c, ISCSI_LS_UNSUPPORTED_VER);
			return false;
		}
		if (h->tsih != 0) { /* adding a connection: MaxConnections=1 */
			login_fail(c, ISCSI_LS_SESSION_NOT_EXIST);
			return false;
		}
	} else if (memcmp(c->isid, h->isid, 6) != 0) {
		login_fail(c, ISCSI_LS_INIT_ERR);
		return false;
	}
	return true;
}

void conn_login_complete(struct conn *c)
{
	struct iscsi_login_req_hdr h;
	c->login_itt = get_be32(c->hdr + ISCSI_OFF_ITT);
	if (c->bhs.opcode != ISCSI_OP_LOGIN_REQ || iscsi_decode_login_req(c->hdr, &h)) {
		login_fail(c, ISCSI_LS_INIT_ERR);
		return;
	}
	if (!login_first(c, &h))
		return;
	if (c->over_cap) { /* RFC 7143 11.13.5: 03/02 out of resources */
		if (limits_log_ok(&c->srv->log_login))
			kwarn("%s: login refused: more than max_connections (%u) connections",
			      c->peer, c->srv->cfg->max_connections);
		login_fail(c, ISCSI_LS_OUT_OF_RESOURCES);
		return;
	}
	struct iscsi_login_req req = { .csg = h.csg,
				       .nsg = h.nsg,
				       .transit = h.transit,
				       .cont = h.cont,
				       .data = c->seg,
				       .len = h.dsl };
	struct iscsi_login_rsp rsp;
	memset(&rsp, 0, sizeof(rsp));
	iscsi_login_step(c->login, &req, &rsp, c->login_buf, LOGIN_BUF);
	if (rsp.len > LOGIN_BUF)
		rsp.len = LOGIN_BUF;
	if (rsp.status == ISCSI_LS_SUCCESS && rsp.transit && rsp.nsg == ISCSI_STAGE_FULL &&
	    iscsi_login_complete(c->login)) {
		login_finish(c, &rsp);
		return;
	}
	send_login_rsp(c, &rsp, 0);
}
