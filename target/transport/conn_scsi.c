/* SPDX-License-Identifier: Apache-2.0 */
/* SCSI commands on a connection (RFC 7143 11.3-11.4, 11.7-11.8): the task
 * table indexed by ITT, the SCSI Command PDU with its CmdSN window and
 * immediate data, unsolicited and solicited Data-Out with R2T, then Data-In
 * and SCSI Response with exact residuals once scsi_task_exec() completes.
 *
 * Not for: CDB semantics (scsi_*.c), aborting tasks (conn_tmf.c), framing
 * and the send queue (conn.c).
 */
#include <stdlib.h>
#include <string.h>
#include "common/byteorder.h"
#include "common/kbuf.h"
#include "common/log.h"
#include "target/transport/transport_internal.h"

#define KBUF_MAX       (16u * 1024u * 1024u)
#define FREE_TASKS_MAX 512

/* ---------------------------------------------------------------------- */
/* tasks                                                                   */

static struct task **hash_slot(struct conn *c, uint32_t itt)
{
	return &c->itt_hash[(itt ^ (itt >> 9)) % ITT_HASH];
}

struct task *conn_task_find(struct conn *c, uint32_t itt)
{
	for (struct task *t = *hash_slot(c, itt); t; t = t->hnext)
		if (t->itt == itt)
			return t;
	return NULL;
}

static struct task *task_new(struct conn *c, uint32_t itt)
{
	struct task *t = c->task_free;
	if (t) {
		c->task_free = t->next;
		c->n_free_tasks--;
	} else if (!(t = malloc(sizeof(*t)))) {
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->itt = itt;
	c->n_tasks++;
	t->hnext = *hash_slot(c, itt);
	*hash_slot(c, itt) = t;
	t->next = c->tasks;
	if (c->tasks)
		c->tasks->prev = t;
	c->tasks = t;
	return t;
}

/* Remove from the ITT table and live list: the ITT is free for reuse once
 * the response is queued (RFC 7143 4.2.1). */
static void task_unlink(struct task *t)
{
	struct conn *c = t->c;
	for (struct task **pp = hash_slot(c, t->itt); *pp; pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	if (t->prev)
		t->prev->next = t->next;
	else if (c->tasks == t)
		c->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = t->hnext = NULL;
}

static void task_window_release(struct task *t)
{
	struct session *s = t->c->sess;
	if (!t->windowed || !s)
		return;
	t->windowed = false;
	__atomic_store_n(&s->in_flight, s->in_flight - 1, __ATOMIC_RELAXED);
	session_update_window(s);
}

void conn_task_free(struct task *t)
{
	struct conn *c = t->c;
	if (c->dtask == t) {
		/* aborted while its data segment is arriving: keep reading the
		 * segment, into the scratch buffer, and drop it */
		c->dtask = NULL;
		if (c->rx == RX_DATA) {
			c->dst = c->seg;
			c->skip = true;
			c->dst_lost = true;
		}
	}
	c->n_tasks--;
	task_unlink(t);
	task_window_release(t);
	if (t->executed)
		scsi_task_release(&t->st);
	scsi_lu_put(t->held_lu);
	t->held_lu = t->st.lu = NULL;
	kbuf_free(t->wbuf);
	if (t->charge && c->sess)
		limits_put(c->sess, t->charge);
	if (c->n_free_tasks < FREE_TASKS_MAX) {
		t->next = c->task_free;
		c->task_free = t;
		c->n_free_tasks++;
	} else {
		free(t);
	}
}

/* ---------------------------------------------------------------------- */
/* responses to SCSI commands (RFC 7143 11.4, 11.7)                        */

struct residual {
	uint8_t flags;
	uint32_t count;
};

/* Exact residuals (11.4.5): reads compare the Data-In the command produced
 * with the EDTL, writes compare the Data-Out the CDB asked for with it. The
 * direction is the CDB's when it moved data (a WRITE sent with R, or with
 * neither bit, has a write EDTL of 0: overflow by all it wanted), else the
 * PDU's. */
static struct residual task_residual(const struct task *t)
{
	struct residual r = { 0, 0 };
	uint32_t want, edtl;
	bool out = t->st.in_len == 0 && (t->st.out_wanted || (t->write && !t->read));
	if (out) {
		want = t->st.out_wanted;
		edtl = t->edtl_write;
	} else {
		want = t->st.in_len;
		edtl = t->edtl_read;
	}
	if (want > edtl) {
		r.flags = ISCSI_RSP_OVERFLOW;
		r.count = want - edtl;
	} else if (want < edtl) {
		r.flags = ISCSI_RSP_UNDERFLOW;
		r.count = edtl - want;
	}
	return r;
}

static void send_scsi_rsp(struct conn *c, struct task *t)
{
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	struct residual res = task_residual(t);
	struct iscsi_scsi_rsp r = { .itt = t->itt,
				    .response = ISCSI_RSP_COMPLETED,
				    .status = t->st.status,
				    .flags = res.flags,
				    .residual = res.count,
				    .exp_datasn = t->datain_pdus + t->r2tsn };
	if (t->st.sense_len) {
		/* 11.4.7: SenseLength (2 bytes) then the sense data */
		uint32_t n = t->st.sense_len > sizeof(p->small) - 2 ? sizeof(p->small) - 2
								    : t->st.sense_len;
		put_be16(p->small, (uint16_t)n);
		memcpy(p->small + 2, t->st.sense, n);
		p->data = p->small;
		p->dlen = r.dsl = n + 2;
	}
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_scsi_rsp(p->hdr, &r, &s);
	p->task = t;
	t->tx_refs++;
	conn_tx_queue(c, p);
}

/* Data-In PDUs: each at most the initiator's MaxRecvDataSegmentLength, each
 * sequence at most MaxBurstLength with F on its last PDU (11.7.1, 13.14);
 * status rides on the last PDU (S bit) when there is no sense (11.7.2). */
static void send_data_in(struct conn *c, struct task *t, uint32_t n, bool with_status)
{
	const struct iscsi_session_params *sp = &c->sess->params;
	uint32_t mrdsl = sp->max_recv_dsl_initiator ? sp->max_recv_dsl_initiator : 8192;
	uint32_t burst = sp->max_burst ? sp->max_burst : 262144;
	struct residual res = task_residual(t);
	for (uint32_t off = 0; off < n;) {
		uint32_t burst_end = (off / burst + 1) * burst;
		uint32_t len = n - off;
		if (len > mrdsl)
			len = mrdsl;
		if (off + len > burst_end)
			len = burst_end - off;
		struct txpdu *p = conn_tx_new(c);
		if (!p) { /* closing here would free t under our caller */
			c->close_when_sent = true;
			return;
		}
		bool last = off + len == n;
		struct iscsi_data_in d = { .final = last || off + len == burst_end,
					   .has_status = last && with_status,
					   .flags = res.flags,
					   .status = t->st.status,
					   .itt = t->itt,
					   .ttt = ISCSI_RSVD_TAG,
					   .datasn = t->datain_pdus++,
					   .offset = off,
					   .residual = res.count,
					   .dsl = len };
		struct iscsi_seq s = conn_seq_next(c, d.has_status);
		iscsi_encode_data_in(p->hdr, &d, &s);
		p->data = (const uint8_t *)t->st.in_buf + off;
		p->dlen = len;
		p->task = t;
		t->tx_refs++;
		conn_tx_queue(c, p);
		off += len;
	}
}

static void task_respond(struct conn *c, struct task *t)
{
	uint32_t n = t->st.in_len < t->edtl_read ? t->st.in_len : t->edtl_read;
	if (!t->st.in_buf)
		n = 0;
	bool status_in_data = n > 0 && t->st.sense_len == 0;
	session_count_cmd(c->sess, n, t->got);
	if (n)
		send_data_in(c, t, n, status_in_data);
	if (!status_in_data)
		send_scsi_rsp(c, t);
}

/* The PDU's W bit against the Data-Out the CDB asked for (RFC 7143
 * 11.3.1): without it no Data-Out arrived and nothing was written, so GOOD
 * would claim a transfer that did not happen: CHECK CONDITION, ILLEGAL
 * REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT, with the overflow
 * residual of all the CDB wanted. Everything else is answered with the
 * residuals of RFC 7143 11.4.5, the first choice FCP-4 gives: an EDTL that
 * differs from the CDB's length (with the right bit) runs the command on the
 * EDTL's worth of data and reports the overflow / underflow; Data-In
 * produced without the R bit is not sent and reported as overflow (a read
 * changes nothing; iscsi-test-cu's iSCSIResiduals require GOOD for all of
 * these, including a READ sent with W). */
static void task_check_direction(struct task *t)
{
	struct scsi_task *st = &t->st;
	if (st->status != SAM_STAT_GOOD || !st->out_wanted || t->write)
		return;
	st->status = SAM_STAT_CHECK_CONDITION;
	scsi_task_set_sense(st, 0x05, 0x0e, 0x03);
}

static void task_done(struct scsi_task *st)
{
	struct task *t = st->priv;
	struct conn *c = t->c;
	t->in_exec = false;
	c->n_exec--;
	task_window_release(t);
	if (st->aborted || c->closing) {
		/* RFC 7143 4.2.3.x / 11.5.1: no response for an aborted task */
		struct abort_wait *aw = t->aw;
		conn_task_free(t);
		if (aw && --aw->pending == 0)
			aw->fn(aw);
		conn_maybe_free(c);
		return;
	}
	kbuf_free(t->wbuf);
	t->wbuf = NULL;
	task_unlink(t);
	task_check_direction(t);
	task_respond(c, t);
	if (t->tx_refs == 0)
		conn_task_free(t);
	conn_tx_schedule(c);
}

static void task_exec(struct task *t)
{
	struct conn *c = t->c;
	if (t->wbuf) {
		t->oiov.iov_base = t->wbuf;
		t->oiov.iov_len = t->got;
		t->st.out_iov = &t->oiov;
		t->st.out_iovcnt = 1;
		t->st.out_len = t->got;
	}
	t->in_exec = true;
	t->executed = true;
	c->n_exec++;
	scsi_task_exec(&t->st);
}

/* Complete a task without the SCSI layer (bad request detected here). */
static void task_fail(struct conn *c, struct task *t, uint8_t key, uint8_t asc, uint8_t ascq)
{
	t->st.status = SAM_STAT_CHECK_CONDITION;
	scsi_task_set_sense(&t->st, key, asc, ascq);
	task_window_release(t);
	kbuf_free(t->wbuf);
	t->wbuf = NULL;
	task_unlink(t);
	send_scsi_rsp(c, t);
	if (t->tx_refs == 0)
		conn_task_free(t);
}

/* No buffer room (limits.c): TASK SET FULL, the initiator retries later
 * (SAM-5 5.3.1); its immediate data was dropped, its Data-Out find no task. */
static void task_busy(struct conn *c, struct task *t)
{
	t->st.status = SAM_STAT_TASK_SET_FULL;
	task_window_release(t);
	task_unlink(t);
	send_scsi_rsp(c, t);
	if (t->tx_refs == 0)
		conn_task_free(t);
}

/* ---------------------------------------------------------------------- */
/* R2T and Data-Out (RFC 7143 4.2.3.x, 11.7-11.8)                          */

static void issue_r2ts(struct conn *c, struct task *t)
{
	const struct iscsi_session_params *sp = &c->sess->params;
	uint32_t max_out = sp->max_outstanding_r2t ? sp->max_outstanding_r2t : 1;
	uint32_t burst = sp->max_burst ? sp->max_burst : 262144;
	if (max_out > MAX_R2T)
		max_out = MAX_R2T;
	while (t->n_r2t < max_out && t->next_r2t_off < t->edtl_write) {
		struct r2t_slot *sl = NULL;
		for (unsigned i = 0; i < MAX_R2T && !sl; i++)
			if (!t->r2t[i].used)
				sl = &t->r2t[i];
		struct txpdu *p = conn_tx_new(c);
		if (!sl || !p) { /* out of memory: end the connection once flushed */
			if (p)
				conn_tx_release(c, p);
			c->close_when_sent = true;
			return;
		}
		uint32_t len = t->edtl_write - t->next_r2t_off;
		if (len > burst)
			len = burst;
		*sl = (struct r2t_slot){ .used = true,
					 .ttt = conn_new_ttt(c),
					 .offset = t->next_r2t_off,
					 .len = len };
		struct iscsi_r2t r = { .itt = t->itt,
				       .ttt = sl->ttt,
				       .r2tsn = t->r2tsn++,
				       .offset = sl->offset,
				       .length = len };
		memcpy(r.lun, t->lun_raw, 8);
		struct iscsi_seq s = conn_seq_next(c, false);
		iscsi_encode_r2t(p->hdr, &r, &s);
		conn_tx_queue(c, p);
		t->next_r2t_off += len;
		t->n_r2t++;
	}
}

/* All Data-Out in? Then execute; else ask for more. */
static void write_progress(struct conn *c, struct task *t)
{
	if (!t->unsol_pending)
		issue_r2ts(c, t);
	if (!t->unsol_pending && t->n_r2t == 0 && t->next_r2t_off >= t->edtl_write)
		task_exec(t);
}

enum hdr_verdict conn_data_out_header(struct conn *c)
{
	struct iscsi_data_out d;
	c->skip = true;
	if (iscsi_decode_data_out(c->hdr, &d)) {
		conn_send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return HV_DATA;
	}
	struct task *t = conn_task_find(c, d.itt);
	if (!t || t->in_exec || !t->wbuf)
		return HV_DATA; /* aborted or unknown task: discard (11.5.1) */
	uint64_t end = (uint64_t)d.offset + d.dsl;
	if (d.ttt == ISCSI_RSVD_TAG) {
		/* unsolicited: in order, within FirstBurstLength (DataPDUInOrder=Yes) */
		if (!t->unsol_pending || d.offset != t->unsol_next || d.datasn != t->unsol_datasn ||
		    end > t->unsol_end)
			goto bad;
		c->dslot = -1;
	} else {
		int i = 0;
		while (i < (int)MAX_R2T && !(t->r2t[i].used && t->r2t[i].ttt == d.ttt))
			i++;
		if (i == (int)MAX_R2T)
			goto bad;
		struct r2t_slot *sl = &t->r2t[i];
		if (d.offset != sl->offset + sl->got || d.datasn != sl->datasn ||
		    end > (uint64_t)sl->offset + sl->len)
			goto bad;
		c->dslot = i;
	}
	c->skip = false;
	c->dtask = t;
	c->dst = t->wbuf + d.offset;
	return HV_DATA;
bad:
	kwarn("%s: Data-Out out of sequence (ITT 0x%x TTT 0x%x DataSN %u offset %u)", c->peer,
	      d.itt, d.ttt, d.datasn, d.offset);
	/* Reject the PDU and end the command with CHECK CONDITION (ABORTED
	 * COMMAND, DATA PHASE ERROR); the session stays up, later Data-Out of
	 * the task find no task and are discarded. */
	conn_send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
	task_fail(c, t, 0x0b, 0x4b, 0x00);
	return HV_DATA;
}

void conn_data_out_complete(struct conn *c)
{
	struct task *t = c->dtask;
	if (!t)
		return;
	bool final = (c->hdr[ISCSI_OFF_FLAGS] & ISCSI_FLAG_FINAL) != 0;
	uint32_t n = c->bhs.dsl;
	t->got += n;
	if (c->dslot < 0) {
		t->unsol_next += n;
		t->unsol_datasn++;
		if (final || t->unsol_next >= t->unsol_end) {
			t->unsol_pending = false;
			t->next_r2t_off = t->unsol_next;
		}
	} else {
		struct r2t_slot *sl = &t->r2t[c->dslot];
		sl->got += n;
		sl->datasn++;
		if (sl->got == sl->len) {
			sl->used = false;
			t->n_r2t--;
		}
	}
	write_progress(c, t);
}

/* ---------------------------------------------------------------------- */
/* SCSI Command (RFC 7143 11.3)                                            */

static void task_setup(struct conn *c, struct task *t, const struct iscsi_scsi_cmd *cmd,
		       const struct iscsi_ahs *ahs)
{
	struct session *s = c->sess;
	struct scsi_task *st = &t->st;
	t->cmdsn = cmd->cmdsn;
	memcpy(t->lun_raw, cmd->lun, 8);
	t->read = cmd->read;
	t->write = cmd->write;
	memcpy(st->cdb, cmd->cdb, 16);
	st->cdb_len = 16;
	if (ahs->ext_cdb) {
		memcpy(st->cdb + 16, ahs->ext_cdb, ahs->ext_cdb_len);
		st->cdb_len = (uint16_t)(16 + ahs->ext_cdb_len);
	}
	st->lun = scsi_decode_lun(cmd->lun);
	/* held until conn_task_free: the SCSI layer may drop st->lu (removed LU) */
	t->held_lu = st->lu = scsi_lun_map_hold(s->map, st->lun);
	st->itn = s->itn;
	st->map = s->map;
	st->loop = c->loop;
	st->dir = (enum scsi_dir)((cmd->read ? SCSI_DIR_READ : 0) |
				  (cmd->write ? SCSI_DIR_WRITE : 0));
	st->edtl = cmd->edtl;
	st->edtl_in = ahs->has_bidi_read_len ? ahs->bidi_read_len : (cmd->read ? cmd->edtl : 0);
	st->task_attr = cmd->attr;
	st->tag = cmd->itt;
	st->done = task_done;
	st->priv = t;
	t->edtl_read = cmd->read ? st->edtl_in : 0; /* no R bit: no Data-In */
	t->edtl_write = cmd->write ? cmd->edtl : 0;
}

/* Does a task of this connection wait for Data-Out? Then the connection
 * must keep reading (that data is behind the next command). */
static bool conn_waits_for_data(const struct conn *c)
{
	for (const struct task *t = c->tasks; t; t = t->next)
		if (t->wbuf && !t->in_exec)
			return true;
	return false;
}

/* Charge the command's buffer to the budget (limits.c). false: wait (stop
 * reading, nothing consumed); true with *busy: answer TASK SET FULL. */
static bool cmd_budget(struct conn *c, const struct iscsi_scsi_cmd *cmd, uint64_t *charge,
		       bool *busy)
{
	*busy = false;
	*charge = (cmd->read || cmd->write) && !(cmd->read && cmd->write) ? limits_charge(cmd->edtl)
									  : 0;
	if (!*charge || limits_take(c->sess, *charge))
		return true;
	if (limits_log_ok(&c->srv->log_budget))
		kwarn("%s: command buffers at their limit (session %llu of %llu KiB, budget %llu "
		      "MiB): commands wait",
		      c->peer, (unsigned long long)(c->sess->buf_held >> 10),
		      (unsigned long long)(c->sess->buf_cap >> 10),
		      (unsigned long long)(c->srv->buf_budget >> 20));
	*charge = 0;
	*busy = conn_waits_for_data(c);
	return *busy;
}

static enum hdr_verdict cmd_reject(struct conn *c, uint8_t reason)
{
	conn_send_reject(c, reason, c->hdr);
	c->skip = true;
	return HV_DATA;
}

enum hdr_verdict conn_scsi_cmd_header(struct conn *c)
{
	struct iscsi_scsi_cmd cmd;
	struct iscsi_ahs ahs;
	const struct iscsi_session_params *sp = &c->sess->params;
	c->skip = true;
	enum iscsi_pdu_err e = iscsi_decode_scsi_cmd(c->hdr, &cmd);
	if (!e)
		e = iscsi_ahs_parse(c->hdr + ISCSI_BHS_LEN, c->bhs.ahs_len, &ahs);
	if (e)
		return cmd_reject(c, iscsi_pdu_err_reject_reason(e));
	/* 11.3.4 / 13.11: immediate data only if negotiated, within FirstBurstLength */
	if (cmd.dsl && (!sp->immediate_data || cmd.dsl > sp->first_burst))
		return cmd_reject(c, ISCSI_REJECT_PROTOCOL);
	if (!cmd.final && (sp->initial_r2t || cmd.dsl >= cmd.edtl))
		return cmd_reject(c, ISCSI_REJECT_PROTOCOL);
	if (conn_task_find(c, cmd.itt))
		return cmd_reject(c, ISCSI_REJECT_TASK_IN_PROGRESS);
	/* 11.17.1 reason 6: immediate commands are outside the CmdSN window, so
	 * bound them by the queue depth as well. */
	if (cmd.immediate && c->n_tasks >= conn_qdepth(c))
		return cmd_reject(c, ISCSI_REJECT_IMMEDIATE);
	uint64_t charge;
	bool busy;
	if (!cmd_budget(c, &cmd, &charge, &busy))
		return HV_PAUSE; /* retried after kbuf_wait; nothing consumed yet */
	uint8_t *wbuf = NULL;
	if (!busy && cmd.write && cmd.edtl && cmd.edtl <= KBUF_MAX && !(cmd.read && cmd.write)) {
		wbuf = kbuf_alloc(cmd.edtl);
		if (!wbuf) {
			limits_put(c->sess, charge);
			return HV_PAUSE; /* retried after kbuf_wait; nothing consumed yet */
		}
	}
	if (conn_cmdsn_check(c, cmd.cmdsn, cmd.immediate, true) == SN_DROP) {
		kbuf_free(wbuf);
		limits_put(c->sess, charge);
		return HV_DATA;
	}
	struct task *t = task_new(c, cmd.itt);
	if (!t) {
		kbuf_free(wbuf);
		limits_put(c->sess, charge);
		return HV_CLOSE;
	}
	t->windowed = !cmd.immediate;
	task_setup(c, t, &cmd, &ahs);
	t->wbuf = wbuf;
	t->charge = charge;
	t->busy = busy;
	t->got = 0;
	t->unsol_pending = !cmd.final;
	t->unsol_next = cmd.dsl;
	t->unsol_end = sp->initial_r2t ? cmd.dsl
				       : (cmd.edtl < sp->first_burst ? cmd.edtl : sp->first_burst);
	t->next_r2t_off = cmd.dsl;
	c->dtask = t;
	c->skip = false;
	c->dst = wbuf ? wbuf : c->seg; /* immediate data of a failing command is dropped */
	return HV_DATA;
}

void conn_scsi_cmd_complete(struct conn *c)
{
	struct task *t = c->dtask;
	if (!t)
		return;
	if (t->busy) {
		task_busy(c, t);
		return;
	}
	if (t->read && t->write) {
		/* Bidirectional commands are not supported: INVALID FIELD IN CDB. */
		task_fail(c, t, 0x05, 0x24, 0x00);
		return;
	}
	if (t->write && t->edtl_write > KBUF_MAX) {
		/* larger than any buffer: INVALID FIELD IN CDB; its data is discarded */
		task_fail(c, t, 0x05, 0x24, 0x00);
		return;
	}
	if (!t->wbuf) {
		task_exec(t);
		return;
	}
	t->got = c->bhs.dsl;
	write_progress(c, t);
}
