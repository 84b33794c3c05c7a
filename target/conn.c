/* iSCSI connections: everything between a TCP socket and scsi_task_exec().
 *
 * A connection belongs to one worker loop. Its receive side is a state
 * machine over a ring of bytes (BHS -> AHS -> header digest -> data ->
 * padding -> data digest, RFC 7143 11.2); large data segments (immediate
 * data, Data-Out) are read straight into the command's pooled buffer with
 * readv. Its send side is a queue of PDUs, each a header plus an iovec into
 * the owner's data, written with sendmsg in batches; EPOLLOUT is armed only
 * when the socket is full.
 *
 * Phases: login (Login Request -> iscsi_login_step, helper-owned engine),
 * full feature phase (SCSI Command with CmdSN window, immediate / unsolicited
 * / solicited Data-Out with R2T, Data-In and SCSI Response with residuals,
 * NOP, task management, Text, Logout), then teardown once every task the
 * SCSI layer holds has completed.
 *
 * Error recovery is ERL 0 (RFC 7143 7.1.5): a header digest error, lost
 * framing, a data digest error or a broken Data-Out sequence closes the
 * connection (after a Reject where one is due); the initiator recovers by
 * logging in again and the session is reinstated.
 *
 * Not for: key negotiation (iscsi_login.c), CDB semantics (scsi_*.c), the
 * session table (session.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include "common/byteorder.h"
#include "common/kbuf.h"
#include "common/log.h"
#include "target/transport_internal.h"

#define RBUF_SIZE   (256u * 1024u)
#define LOGIN_BUF   8192u
#define TEXT_BUF    65536u
#define ITT_HASH    512u
#define MAX_R2T     16u
#define TX_IOV      256
#define KBUF_MAX    (16u * 1024u * 1024u)
#define FREE_TASKS_MAX 512
#define HDR_MAX     (ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + ISCSI_DIGEST_LEN)
/* Send-queue back-pressure: an initiator that sends faster than it reads
 * (NOP-Out floods, reads it never drains) stops being read above TX_HIGH. */
#define TX_HIGH     (64u * 1024u * 1024u)
#define TX_LOW      (16u * 1024u * 1024u)

struct r2t_slot {
	bool used;
	uint32_t ttt, offset, len, got, datasn;
};

struct task {
	struct scsi_task st;
	struct conn *c;
	struct task *hnext;          /* ITT hash chain */
	struct task *next, *prev;    /* the connection's live tasks */
	uint32_t itt, cmdsn;
	uint8_t lun_raw[8];
	bool windowed;               /* counted in session in_flight */
	bool in_exec;                /* owned by the SCSI layer until done() */
	bool executed;               /* scsi_task_release() is due */
	bool read, write;
	uint32_t edtl_read;
	/* Data-Out (RFC 7143 4.2.3.x, 11.8) */
	uint8_t *wbuf;
	uint32_t edtl_write, got;
	bool unsol_pending;          /* F=0 on the command: unsolicited Data-Out follows */
	uint32_t unsol_next, unsol_end, unsol_datasn;
	uint32_t next_r2t_off, r2tsn, n_r2t;
	struct r2t_slot r2t[MAX_R2T];
	struct iovec oiov;
	struct abort_wait *aw;
	uint32_t tx_refs;
	uint32_t datain_pdus;
};

struct txpdu {
	struct txpdu *next;
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t tail[8];             /* padding + data digest */
	uint8_t small[128];          /* sense / rejected BHS */
	const uint8_t *data;
	uint32_t dlen;
	uint8_t hlen, tlen;
	void *heap;                  /* free()d once sent */
	struct task *task;           /* reference released once sent */
	bool close_after;
};

enum conn_state { C_LOGIN, C_LOGIN_WAIT, C_FFP, C_LOGOUT };
enum rx_state { RX_HDR, RX_DATA };
enum hdr_verdict { HV_DATA, HV_PAUSE, HV_CLOSE };

struct tmf {
	struct tmf *next;
	struct conn *c;              /* NULL once the connection is gone */
	uint32_t itt;
	uint8_t function, response;
	struct scsi_lu *lu;
	struct abort_wait aw;        /* this session's aborted tasks */
	struct tmf_fanout fan;       /* other sessions' */
};

struct conn {
	struct kloop_fd kfd;
	int fd;
	struct tgt_worker *w;
	struct tgt_server *srv;
	struct kloop *loop;
	struct conn *wnext, *wprev;
	struct conn_policy_ctx pctx;
	struct iscsi_login_policy policy;
	enum conn_state state;
	bool closing;
	char peer[72];

	/* receive */
	uint8_t *rbuf;
	size_t rhead, rtail;
	enum rx_state rx;
	struct iscsi_bhs bhs;
	uint8_t hdr[HDR_MAX];
	uint8_t *dst;                /* where the current data segment goes */
	uint32_t dgot;
	uint8_t dtail[8];
	uint32_t dtail_len, dtail_got;
	struct task *dtask;          /* task receiving this segment, or NULL */
	int dslot;                   /* R2T slot of this Data-Out, -1 unsolicited */
	bool skip;                   /* segment is discarded (already answered) */
	bool dst_lost;               /* its task went away mid-segment: no digest check */
	bool hdigest, ddigest;
	uint32_t max_rx_dsl;
	uint8_t *seg;                /* non-task data segments */
	uint32_t seg_size;
	bool rx_paused, rx_wait_pending;
	bool rx_short;               /* the last read did not fill the buffer */
	bool tx_full;                /* send queue above TX_HIGH: not reading */
	bool kick_pending;
	struct kloop_task rx_kick;
	struct kloop_task rx_resume;

	/* send */
	struct txpdu *txq, *txq_tail, *tx_free;
	size_t tx_off;
	size_t txq_bytes;
	bool want_out, flush_pending, close_when_sent;
	struct kloop_task flush_task;

	uint32_t stat_sn;

	/* login */
	struct iscsi_login *login;
	uint8_t *login_buf;
	bool login_started;
	uint8_t isid[6];
	uint16_t cid;
	uint32_t login_cmdsn, login_itt;
	struct iscsi_login_rsp pend_rsp;
	struct session *pend_sess;
	bool reinstate_wait;
	struct kloop_task reinstate_task;

	struct session *sess;

	/* tasks */
	struct task *itt_hash[ITT_HASH];
	struct task *tasks, *task_free;
	int n_free_tasks;
	uint32_t n_tasks;            /* live tasks (bounded: immediate commands too) */
	uint32_t n_exec;
	uint32_t next_ttt;
	struct tmf *tmfs;

	/* text (RFC 7143 11.10, continuation with C bit / TTT) */
	uint8_t *text_req;
	uint32_t text_req_len;
	uint8_t *text_rsp;
	uint32_t text_len, text_off, text_ttt;

	/* liveness (NOP-In ping) */
	struct kloop_timer timer;
	uint64_t last_rx_ms, ping_ms, born_ms;
	bool ping_out;
	uint32_t ping_ttt;

	bool free_queued;
	struct kloop_task free_task;
};

static void tx_flush(struct conn *c);
static void conn_maybe_free(struct conn *c);
static void task_exec(struct task *t);
static void rx_run(struct conn *c);

#define container_of(p, type, m) ((type *)((char *)(p) - offsetof(type, m)))

/* ---------------------------------------------------------------------- */
/* sequence numbers                                                        */

static uint32_t qdepth(const struct conn *c)
{
	return c->srv->cfg->queue_depth ? c->srv->cfg->queue_depth : 256;
}

/* StatSN / ExpCmdSN / MaxCmdSN for the next PDU; advance consumes a StatSN
 * (RFC 7143 4.2.2.2: every status-carrying PDU). */
static struct iscsi_seq seq_next(struct conn *c, bool advance)
{
	struct iscsi_seq s = { .statsn = c->stat_sn };
	if (c->sess) {
		s.exp_cmdsn = c->sess->exp_cmdsn;
		s.max_cmdsn = c->sess->max_cmdsn;
	} else {
		s.exp_cmdsn = c->login_cmdsn;
		s.max_cmdsn = c->login_cmdsn + qdepth(c) - 1;
	}
	if (advance)
		c->stat_sn++;
	return s;
}

enum sn_verdict { SN_ACCEPT, SN_DROP };

/* CmdSN check (RFC 7143 4.2.2.1). Immediate PDUs do not advance ExpCmdSN;
 * others must fall in [ExpCmdSN, MaxCmdSN] or are silently ignored. With
 * one connection per session a CmdSN above ExpCmdSN can only follow a lost
 * PDU; we accept it and move ExpCmdSN past it rather than stall. */
static enum sn_verdict cmdsn_check(struct conn *c, uint32_t cmdsn, bool immediate, bool task)
{
	struct session *s = c->sess;
	if (immediate)
		return SN_ACCEPT;
	if (sn_lt(cmdsn, s->exp_cmdsn) || sn_lt(s->max_cmdsn, cmdsn)) {
		kdebug("%s: CmdSN %u outside [%u, %u], dropped", c->peer, cmdsn, s->exp_cmdsn,
		       s->max_cmdsn);
		return SN_DROP;
	}
	s->exp_cmdsn = cmdsn + 1;
	if (task)
		s->in_flight++;      /* before the window moves: it stays queue_depth wide */
	session_update_window(s);
	return SN_ACCEPT;
}

/* ---------------------------------------------------------------------- */
/* send queue                                                              */

static struct txpdu *tx_new(struct conn *c)
{
	struct txpdu *p = c->tx_free;
	if (p)
		c->tx_free = p->next;
	else if (!(p = malloc(sizeof(*p))))
		return NULL;
	p->next = NULL;
	p->data = NULL;
	p->dlen = 0;
	p->heap = NULL;
	p->task = NULL;
	p->close_after = false;
	return p;
}

static void task_free(struct task *t);

static void tx_release(struct conn *c, struct txpdu *p)
{
	free(p->heap);
	if (p->task && --p->task->tx_refs == 0 && !p->task->in_exec)
		task_free(p->task);
	p->next = c->tx_free;
	c->tx_free = p;
}

/* Finish the PDU (digests, padding) and append it to the queue. */
static void tx_queue(struct conn *c, struct txpdu *p)
{
	if (c->closing) {
		tx_release(c, p);
		return;
	}
	p->hlen = ISCSI_BHS_LEN;
	if (c->hdigest) {
		iscsi_digest_put(p->hdr + ISCSI_BHS_LEN, iscsi_crc32c(p->hdr, ISCSI_BHS_LEN));
		p->hlen += ISCSI_DIGEST_LEN;
	}
	uint32_t pad = iscsi_pad4(p->dlen);
	memset(p->tail, 0, pad);
	p->tlen = (uint8_t)pad;
	if (p->dlen && c->ddigest) {
		uint32_t crc = iscsi_crc32c_update(ISCSI_CRC_INIT, p->data, p->dlen);
		crc = iscsi_crc32c_update(crc, p->tail, pad);
		iscsi_digest_put(p->tail + pad, iscsi_crc32c_final(crc));
		p->tlen += ISCSI_DIGEST_LEN;
	}
	if (c->txq_tail)
		c->txq_tail->next = p;
	else
		c->txq = p;
	c->txq_tail = p;
	c->txq_bytes += (size_t)p->hlen + p->dlen + p->tlen;
}

static void flush_run(struct kloop_task *t)
{
	struct conn *c = container_of(t, struct conn, flush_task);
	c->flush_pending = false;
	if (c->closing)
		conn_maybe_free(c);
	else
		tx_flush(c);
}

/* Flush once per loop iteration so completions batch into one sendmsg. */
static void tx_schedule(struct conn *c)
{
	if (c->flush_pending || c->closing)
		return;
	c->flush_pending = true;
	kloop_defer(c->loop, &c->flush_task);
}

static int tx_gather(struct conn *c, struct iovec *iov)
{
	int n = 0;
	size_t skip = c->tx_off;
	for (struct txpdu *p = c->txq; p && n + 3 <= TX_IOV; p = p->next) {
		struct iovec parts[3] = { { p->hdr, p->hlen }, { (void *)p->data, p->dlen },
					  { p->tail, p->tlen } };
		for (int i = 0; i < 3; i++) {
			if (parts[i].iov_len <= skip) {
				skip -= parts[i].iov_len;
				continue;
			}
			iov[n].iov_base = (char *)parts[i].iov_base + skip;
			iov[n++].iov_len = parts[i].iov_len - skip;
			skip = 0;
		}
	}
	return n;
}

static void tx_advance(struct conn *c, size_t n)
{
	n += c->tx_off;
	while (c->txq) {
		struct txpdu *p = c->txq;
		size_t len = (size_t)p->hlen + p->dlen + p->tlen;
		if (n < len)
			break;
		n -= len;
		c->txq_bytes -= len;
		c->txq = p->next;
		if (!c->txq)
			c->txq_tail = NULL;
		if (p->close_after)
			c->close_when_sent = true;
		tx_release(c, p);
	}
	c->tx_off = n;
}

static void set_events(struct conn *c)
{
	uint32_t ev = (c->rx_paused || c->tx_full ? 0 : EPOLLIN) | (c->want_out ? EPOLLOUT : 0);
	if (c->fd >= 0)
		kloop_mod_fd(c->loop, c->fd, ev, &c->kfd);
}

static void rx_kick_run(struct kloop_task *t)
{
	struct conn *c = container_of(t, struct conn, rx_kick);
	c->kick_pending = false;
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	rx_run(c);      /* PDUs may sit in the ring with nothing left on the socket */
	if (!c->closing)
		tx_flush(c);
}

static void tx_unblock(struct conn *c)
{
	if (!c->tx_full || c->txq_bytes > TX_LOW || c->closing)
		return;
	c->tx_full = false;
	set_events(c);
	if (!c->kick_pending) {
		c->kick_pending = true;
		kloop_defer(c->loop, &c->rx_kick);
	}
}

static void tx_flush(struct conn *c)
{
	struct iovec iov[TX_IOV];
	while (c->txq && !c->closing) {
		int n = tx_gather(c, iov);
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out) {
				c->want_out = true;
				set_events(c);
			}
			return;
		}
		if (w < 0) {
			conn_close(c, strerror(errno));
			return;
		}
		tx_advance(c, (size_t)w);
		tx_unblock(c);
	}
	if (c->want_out && !c->closing) {
		c->want_out = false;
		set_events(c);
	}
	tx_unblock(c);
	if (c->close_when_sent && !c->txq)
		conn_close(c, "logout or fatal error");
}

/* ---------------------------------------------------------------------- */
/* simple responses                                                        */

static void send_reject(struct conn *c, uint8_t reason, const uint8_t *bhs)
{
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_reject(p->hdr, reason, 0, &s);
	memcpy(p->small, bhs, ISCSI_BHS_LEN);
	p->data = p->small;
	p->dlen = ISCSI_BHS_LEN;
	tx_queue(c, p);
	kdebug("%s: reject opcode 0x%02x reason 0x%02x", c->peer, bhs[0] & 0x3f, reason);
}

static void send_login_rsp(struct conn *c, const struct iscsi_login_rsp *r, uint16_t tsih)
{
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	struct iscsi_login_rsp_hdr h = { .transit = r->transit, .csg = r->csg, .nsg = r->nsg,
					 .tsih = tsih, .itt = c->login_itt,
					 .dsl = (uint32_t)r->len, .status = r->status };
	memcpy(h.isid, c->isid, 6);
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_login_rsp(p->hdr, &h, &s);
	if (r->len) {
		p->heap = malloc(r->len);
		if (!p->heap) {
			tx_release(c, p);
			conn_close(c, "out of memory");
			return;
		}
		memcpy(p->heap, c->login_buf, r->len);
		p->data = p->heap;
		p->dlen = (uint32_t)r->len;
	}
	p->close_after = r->status != ISCSI_LS_SUCCESS;
	tx_queue(c, p);
}

static void login_fail(struct conn *c, uint16_t status)
{
	struct iscsi_login_rsp r = { .status = status };
	send_login_rsp(c, &r, 0);
}

/* ---------------------------------------------------------------------- */
/* tasks                                                                   */

static struct task **hash_slot(struct conn *c, uint32_t itt)
{
	return &c->itt_hash[(itt ^ (itt >> 9)) % ITT_HASH];
}

static struct task *task_find(struct conn *c, uint32_t itt)
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
	s->in_flight--;
	session_update_window(s);
}

static void task_free(struct task *t)
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
	kbuf_free(t->wbuf);
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

struct residual { uint8_t flags; uint32_t count; };

/* Exact residuals (11.4.5): reads compare the Data-In the command produced
 * with the EDTL, writes compare the Data-Out the CDB asked for with it. */
static struct residual task_residual(const struct task *t)
{
	struct residual r = { 0, 0 };
	uint32_t want, edtl;
	if (t->write && !t->read) {
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
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	struct residual res = task_residual(t);
	struct iscsi_scsi_rsp r = { .itt = t->itt, .response = ISCSI_RSP_COMPLETED,
				    .status = t->st.status, .flags = res.flags,
				    .residual = res.count,
				    .exp_datasn = t->datain_pdus + t->r2tsn };
	if (t->st.sense_len) {
		/* 11.4.7: SenseLength (2 bytes) then the sense data */
		uint32_t n = t->st.sense_len > sizeof(p->small) - 2 ? sizeof(p->small) - 2 : t->st.sense_len;
		put_be16(p->small, (uint16_t)n);
		memcpy(p->small + 2, t->st.sense, n);
		p->data = p->small;
		p->dlen = r.dsl = n + 2;
	}
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_scsi_rsp(p->hdr, &r, &s);
	p->task = t;
	t->tx_refs++;
	tx_queue(c, p);
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
		struct txpdu *p = tx_new(c);
		if (!p) {               /* closing here would free t under our caller */
			c->close_when_sent = true;
			return;
		}
		bool last = off + len == n;
		struct iscsi_data_in d = { .final = last || off + len == burst_end,
					   .has_status = last && with_status,
					   .flags = res.flags, .status = t->st.status,
					   .itt = t->itt, .ttt = ISCSI_RSVD_TAG,
					   .datasn = t->datain_pdus++, .offset = off,
					   .residual = res.count, .dsl = len };
		struct iscsi_seq s = seq_next(c, d.has_status);
		iscsi_encode_data_in(p->hdr, &d, &s);
		p->data = (const uint8_t *)t->st.in_buf + off;
		p->dlen = len;
		p->task = t;
		t->tx_refs++;
		tx_queue(c, p);
		off += len;
	}
}

static void task_respond(struct conn *c, struct task *t)
{
	uint32_t n = t->st.in_len < t->edtl_read ? t->st.in_len : t->edtl_read;
	if (!t->st.in_buf)
		n = 0;
	bool status_in_data = n > 0 && t->st.sense_len == 0;
	if (n)
		send_data_in(c, t, n, status_in_data);
	if (!status_in_data)
		send_scsi_rsp(c, t);
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
		task_free(t);
		if (aw && --aw->pending == 0)
			aw->fn(aw);
		conn_maybe_free(c);
		return;
	}
	kbuf_free(t->wbuf);
	t->wbuf = NULL;
	task_unlink(t);
	task_respond(c, t);
	if (t->tx_refs == 0)
		task_free(t);
	tx_schedule(c);
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
		task_free(t);
}

/* ---------------------------------------------------------------------- */
/* R2T and Data-Out (RFC 7143 4.2.3.x, 11.7-11.8)                          */

static uint32_t new_ttt(struct conn *c)
{
	uint32_t v = c->next_ttt++;
	if (v == ISCSI_RSVD_TAG)
		v = c->next_ttt++;
	return v;
}

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
		struct txpdu *p = tx_new(c);
		if (!sl || !p) {        /* out of memory: end the connection once flushed */
			if (p)
				tx_release(c, p);
			c->close_when_sent = true;
			return;
		}
		uint32_t len = t->edtl_write - t->next_r2t_off;
		if (len > burst)
			len = burst;
		*sl = (struct r2t_slot){ .used = true, .ttt = new_ttt(c), .offset = t->next_r2t_off,
					 .len = len };
		struct iscsi_r2t r = { .itt = t->itt, .ttt = sl->ttt, .r2tsn = t->r2tsn++,
				       .offset = sl->offset, .length = len };
		memcpy(r.lun, t->lun_raw, 8);
		struct iscsi_seq s = seq_next(c, false);
		iscsi_encode_r2t(p->hdr, &r, &s);
		tx_queue(c, p);
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

static enum hdr_verdict data_out_header(struct conn *c)
{
	struct iscsi_data_out d;
	c->skip = true;
	if (iscsi_decode_data_out(c->hdr, &d)) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return HV_DATA;
	}
	struct task *t = task_find(c, d.itt);
	if (!t || t->in_exec || !t->wbuf)
		return HV_DATA;   /* aborted or unknown task: discard (11.5.1) */
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
	send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
	task_fail(c, t, 0x0b, 0x4b, 0x00);
	return HV_DATA;
}

static void data_out_complete(struct conn *c)
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
	st->lu = scsi_lun_map_get(s->map, st->lun);
	st->itn = s->itn;
	st->map = s->map;
	st->loop = c->loop;
	st->dir = (enum scsi_dir)((cmd->read ? SCSI_DIR_READ : 0) | (cmd->write ? SCSI_DIR_WRITE : 0));
	st->edtl = cmd->edtl;
	st->edtl_in = ahs->has_bidi_read_len ? ahs->bidi_read_len : (cmd->read ? cmd->edtl : 0);
	st->task_attr = cmd->attr;
	st->tag = cmd->itt;
	st->done = task_done;
	st->priv = t;
	t->edtl_read = st->edtl_in;
	t->edtl_write = cmd->write ? cmd->edtl : 0;
}

static enum hdr_verdict cmd_reject(struct conn *c, uint8_t reason)
{
	send_reject(c, reason, c->hdr);
	c->skip = true;
	return HV_DATA;
}

static enum hdr_verdict scsi_cmd_header(struct conn *c)
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
	if (task_find(c, cmd.itt))
		return cmd_reject(c, ISCSI_REJECT_TASK_IN_PROGRESS);
	/* 11.17.1 reason 6: immediate commands are outside the CmdSN window, so
	 * bound them by the queue depth as well. */
	if (cmd.immediate && c->n_tasks >= qdepth(c))
		return cmd_reject(c, ISCSI_REJECT_IMMEDIATE);
	uint8_t *wbuf = NULL;
	if (cmd.write && cmd.edtl && cmd.edtl <= KBUF_MAX && !(cmd.read && cmd.write)) {
		wbuf = kbuf_alloc(cmd.edtl);
		if (!wbuf)
			return HV_PAUSE;   /* retried after kbuf_wait; nothing consumed yet */
	}
	if (cmdsn_check(c, cmd.cmdsn, cmd.immediate, true) == SN_DROP) {
		kbuf_free(wbuf);
		return HV_DATA;
	}
	struct task *t = task_new(c, cmd.itt);
	if (!t) {
		kbuf_free(wbuf);
		return HV_CLOSE;
	}
	t->windowed = !cmd.immediate;
	task_setup(c, t, &cmd, &ahs);
	t->wbuf = wbuf;
	t->got = 0;
	t->unsol_pending = !cmd.final;
	t->unsol_next = cmd.dsl;
	t->unsol_end = sp->initial_r2t ? cmd.dsl
				       : (cmd.edtl < sp->first_burst ? cmd.edtl : sp->first_burst);
	t->next_r2t_off = cmd.dsl;
	c->dtask = t;
	c->skip = false;
	c->dst = wbuf ? wbuf : c->seg;   /* immediate data of a failing command is dropped */
	return HV_DATA;
}

static void scsi_cmd_complete(struct conn *c)
{
	struct task *t = c->dtask;
	if (!t)
		return;
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
			task_free(t);   /* its later Data-Out finds no task and is discarded */
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
	m->aw.pending = 1;   /* held until every abort below is counted */
	m->aw.fn = pr_abort_done;
	if (s->conn && !s->dead)
		conn_abort_tasks(s->conn, m->lu, ISCSI_RSVD_TAG, &m->aw);
	if (--m->aw.pending == 0)
		pr_abort_done(&m->aw);
}

static void pr_abort_nexus(void *ctx, struct scsi_itn *itn, struct scsi_lu *lu, void (*done)(void *arg),
			   void *arg)
{
	struct session *s = ctx;
	struct pr_abort *m = calloc(1, sizeof(*m));
	if (!m) {
		kerr("out of memory aborting the tasks of a preempted nexus (%s)", s->initiator);
		done(arg);
		return;
	}
	session_get(s);   /* the nexus is attached, so the session is alive */
	m->s = s;
	m->lu = lu;
	m->done = done;
	m->arg = arg;
	m->t.fn = pr_abort_run;
	kloop_post(s->w->loop, &m->t);
}

static const struct scsi_transport_ops conn_scsi_ops = { .abort_nexus_tasks = pr_abort_nexus };

static void tmf_free(struct conn *c, struct tmf *m)
{
	if (c)
		for (struct tmf **pp = &c->tmfs; *pp; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
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
	struct txpdu *p = tx_new(c);
	if (p) {
		struct iscsi_seq sq = seq_next(c, true);
		iscsi_encode_tmf_rsp(p->hdr, m->itt, m->response, &sq);
		/* 11.5.1: a cold reset drops every connection after the response */
		p->close_after = m->function == ISCSI_TMF_TARGET_COLD_RESET &&
				 m->response == ISCSI_TMF_RSP_COMPLETE;
		tx_queue(c, p);
	}
	tmf_free(c, m);
	tx_schedule(c);
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
	struct task *t = task_find(c, r->ref_itt);
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
		task_free(t);
	}
}

static void tmf_run(struct conn *c, struct tmf *m, const struct iscsi_tmf_req *r)
{
	struct session *s = c->sess;
	m->aw.pending = 1;    /* holds until the start below is complete */
	m->fan.pending = 1;
	switch (m->function) {
	case ISCSI_TMF_ABORT_TASK: {
		struct task *t = abort_task_target(c, r, &m->response);
		if (t)
			tmf_abort_one(t, &m->aw);
		break;
	}
	case ISCSI_TMF_ABORT_TASK_SET:
		conn_abort_tasks(c, m->lu, r->itt, &m->aw);
		break;
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET:
		conn_abort_tasks(c, m->lu, r->itt, &m->aw);
		session_fanout_abort(s, m->lu, m->function == ISCSI_TMF_CLEAR_TASK_SET, false, &m->fan);
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
	*lu = scsi_lun_map_get(c->sess->map, scsi_decode_lun(r->lun));
	switch (r->function) {
	case ISCSI_TMF_ABORT_TASK:
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		return ISCSI_TMF_RSP_COMPLETE;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET:
		return *lu ? ISCSI_TMF_RSP_COMPLETE : ISCSI_TMF_RSP_NO_LUN;
	case ISCSI_TMF_TASK_REASSIGN:
		return ISCSI_TMF_RSP_NO_REASSIGN;   /* needs ERL 2 */
	default:
		return ISCSI_TMF_RSP_NOT_SUPPORTED; /* CLEAR ACA (no NACA support) and unknown */
	}
}

static void tmf_complete(struct conn *c)
{
	struct iscsi_tmf_req r;
	if (iscsi_decode_tmf_req(c->hdr, &r)) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
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
/* NOP, Text, Logout, SNACK                                                */

static void nop_out_complete(struct conn *c)
{
	struct iscsi_nop_out n;
	if (iscsi_decode_nop_out(c->hdr, &n)) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (n.itt == ISCSI_RSVD_TAG) {       /* answer to our ping (11.18.1) */
		if (n.ttt == c->ping_ttt)
			c->ping_out = false;
		return;
	}
	if (cmdsn_check(c, n.cmdsn, n.immediate, false) == SN_DROP)
		return;
	struct txpdu *p = tx_new(c);
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
			tx_release(c, p);
			return;
		}
		memcpy(p->heap, c->seg, echo);
		p->data = p->heap;
		p->dlen = echo;
	}
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_nop_in(p->hdr, &in, &s);
	tx_queue(c, p);
}

static void text_send_chunk(struct conn *c, uint32_t itt, const uint8_t *lun)
{
	uint32_t mrdsl = c->sess->params.max_recv_dsl_initiator;
	uint32_t left = c->text_len - c->text_off;
	uint32_t n = left > mrdsl ? mrdsl : left;
	bool more = n < left;
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	struct iscsi_text_rsp r = { .final = !more, .cont = more, .itt = itt, .dsl = n,
				    .ttt = more ? (c->text_ttt = new_ttt(c)) : ISCSI_RSVD_TAG };
	memcpy(r.lun, lun, 8);
	if (n) {
		p->heap = malloc(n);
		if (!p->heap) {
			tx_release(c, p);
			return;
		}
		memcpy(p->heap, c->text_rsp + c->text_off, n);
		p->data = p->heap;
		p->dlen = n;
	}
	c->text_off += n;
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_text_rsp(p->hdr, &r, &s);
	tx_queue(c, p);
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
		send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
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
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	c->text_ttt = new_ttt(c);
	struct iscsi_text_rsp t = { .itt = r->itt, .ttt = c->text_ttt };
	memcpy(t.lun, r->lun, 8);
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_text_rsp(p->hdr, &t, &s);
	tx_queue(c, p);
}

static void text_complete(struct conn *c)
{
	struct iscsi_text_req r;
	if (iscsi_decode_text_req(c->hdr, &r)) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
		return;
	bool ours = r.ttt != ISCSI_RSVD_TAG && r.ttt == c->text_ttt;
	if (r.ttt != ISCSI_RSVD_TAG && !ours) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (ours && c->text_rsp) {           /* next part of our long response */
		text_send_chunk(c, r.itt, r.lun);
		return;
	}
	if (!ours) {                         /* TTT reserved: a new exchange (11.10.4) */
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

static void logout_complete(struct conn *c)
{
	struct iscsi_logout_req r;
	if (iscsi_decode_logout_req(c->hdr, &r)) {
		send_reject(c, ISCSI_REJECT_INVALID_FIELD, c->hdr);
		return;
	}
	if (cmdsn_check(c, r.cmdsn, r.immediate, false) == SN_DROP)
		return;
	uint8_t rsp = ISCSI_LOGOUT_RSP_SUCCESS;
	if (r.reason == ISCSI_LOGOUT_REMOVE_FOR_RECOVERY)
		rsp = ISCSI_LOGOUT_RSP_NO_RECOVERY;     /* needs ERL 2 (11.15.1) */
	else if (r.reason == ISCSI_LOGOUT_CLOSE_CONNECTION && r.cid != c->cid)
		rsp = ISCSI_LOGOUT_RSP_CID_NOT_FOUND;
	struct txpdu *p = tx_new(c);
	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_logout_rsp(p->hdr, r.itt, rsp, 0, 0, &s);
	if (rsp == ISCSI_LOGOUT_RSP_SUCCESS) {
		p->close_after = true;
		c->state = C_LOGOUT;
	}
	tx_queue(c, p);
	kdebug("%s: logout reason %u", c->peer, r.reason);
}

void conn_send_async_logout(struct conn *c, uint16_t seconds)
{
	if (c->closing || c->state != C_FFP)
		return;
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	struct iscsi_async a = { .event = ISCSI_ASYNC_REQUEST_LOGOUT, .param3 = seconds };
	struct iscsi_seq s = seq_next(c, true);
	iscsi_encode_async(p->hdr, &a, &s);
	tx_queue(c, p);
	tx_flush(c);
}

/* ---------------------------------------------------------------------- */
/* login phase (RFC 7143 6, 11.12-11.13)                                   */

static void login_activate(struct conn *c, struct session *s)
{
	c->sess = s;
	c->pend_sess = NULL;
	if (!s->discovery) {
		const struct tgt_portal *pt = c->pctx.portal;
		struct scsi_port port = { .rel_port_id = pt->rel_port_id, .tpg_id = pt->tpg_id,
					  .target_iqn = s->tgt->iqn, .tpgt = pt->tpgt };
		s->itn = scsi_itn_create(s->map, s->initiator, s->isid, &port);
		if (!s->itn) {
			login_fail(c, ISCSI_LS_OUT_OF_RESOURCES);
			return;
		}
		scsi_itn_set_transport(s->itn, &conn_scsi_ops, s);
	}
	session_update_window(s);
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
		set_events(c);
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
		tx_schedule(c);
		return;
	}
	kinfo("%s: reinstating session TSIH %u of %s", c->peer, old->tsih, old->initiator);
	c->state = C_LOGIN_WAIT;
	c->rx_paused = true;        /* the initiator waits for our answer anyway */
	set_events(c);
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

static void login_finish(struct conn *c, const struct iscsi_login_rsp *rsp)
{
	const struct iscsi_session_params *p = iscsi_login_params(c->login);
	const struct tgt_target *tgt = p->discovery ? NULL : tgt_find_target(c->srv->cfg, p->target_name);
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
	snprintf(s->peer, sizeof(s->peer), "%s", c->peer);   /* for kura-targetctl */
	c->pend_rsp = *rsp;
	c->pend_sess = s;
	login_register(c);
}

static bool login_first(struct conn *c, const struct iscsi_login_req_hdr *h)
{
	if (!c->login_started) {
		c->login_started = true;
		c->stat_sn = h->exp_statsn;   /* 11.13.4: any starting StatSN will do */
		memcpy(c->isid, h->isid, 6);
		c->cid = h->cid;
		c->login_cmdsn = h->cmdsn;
		if (h->version_min > ISCSI_VERSION) {
			login_fail(c, ISCSI_LS_UNSUPPORTED_VER);
			return false;
		}
		if (h->tsih != 0) {       /* adding a connection: MaxConnections=1 */
			login_fail(c, ISCSI_LS_SESSION_NOT_EXIST);
			return false;
		}
	} else if (memcmp(c->isid, h->isid, 6) != 0) {
		login_fail(c, ISCSI_LS_INIT_ERR);
		return false;
	}
	return true;
}

static void login_complete(struct conn *c)
{
	struct iscsi_login_req_hdr h;
	c->login_itt = get_be32(c->hdr + ISCSI_OFF_ITT);
	if (c->bhs.opcode != ISCSI_OP_LOGIN_REQ || iscsi_decode_login_req(c->hdr, &h)) {
		login_fail(c, ISCSI_LS_INIT_ERR);
		return;
	}
	if (!login_first(c, &h))
		return;
	struct iscsi_login_req req = { .csg = h.csg, .nsg = h.nsg, .transit = h.transit,
				       .cont = h.cont, .data = c->seg, .len = h.dsl };
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

/* ---------------------------------------------------------------------- */
/* receive state machine                                                   */

/* Where does the data segment of the PDU in c->hdr go? */
static enum hdr_verdict pdu_header(struct conn *c)
{
	c->dst = c->seg;
	c->dtask = NULL;
	c->skip = false;
	if (c->state != C_FFP)
		return HV_DATA;
	if (c->sess->discovery && c->bhs.opcode != ISCSI_OP_TEXT_REQ &&
	    c->bhs.opcode != ISCSI_OP_NOP_OUT && c->bhs.opcode != ISCSI_OP_LOGOUT_REQ) {
		/* 4.3: a discovery session carries Text, NOP and Logout only */
		send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
		c->skip = true;
		return HV_DATA;
	}
	if (c->bhs.opcode == ISCSI_OP_SCSI_CMD)
		return scsi_cmd_header(c);
	if (c->bhs.opcode == ISCSI_OP_DATA_OUT)
		return data_out_header(c);
	return HV_DATA;
}

static void pdu_complete(struct conn *c)
{
	if (c->state == C_LOGIN) {
		login_complete(c);
		return;
	}
	if (c->skip || c->state != C_FFP)
		return;
	switch (c->bhs.opcode) {
	case ISCSI_OP_SCSI_CMD: scsi_cmd_complete(c); break;
	case ISCSI_OP_DATA_OUT: data_out_complete(c); break;
	case ISCSI_OP_NOP_OUT: nop_out_complete(c); break;
	case ISCSI_OP_TMF_REQ: tmf_complete(c); break;
	case ISCSI_OP_TEXT_REQ: text_complete(c); break;
	case ISCSI_OP_LOGOUT_REQ: logout_complete(c); break;
	case ISCSI_OP_SNACK:   /* 11.16: SNACK needs ERL >= 1 */
		send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
		break;
	default:
		send_reject(c, ISCSI_REJECT_CMD_NOT_SUPPORTED, c->hdr);
	}
}

static int rx_header(struct conn *c)
{
	size_t avail = c->rtail - c->rhead;
	const uint8_t *b = c->rbuf + c->rhead;
	if (avail < ISCSI_BHS_LEN)
		return 1;
	enum iscsi_pdu_err e = iscsi_bhs_decode(b, avail, c->max_rx_dsl, &c->bhs);
	if (e == ISCSI_PDU_TOO_LONG || c->bhs.dsl > c->max_rx_dsl || c->max_rx_dsl > c->seg_size) {
		kwarn("%s: %s (%u > %u)", c->peer, iscsi_pdu_err_str(e), c->bhs.dsl, c->max_rx_dsl);
		return -1;
	}
	size_t hlen = ISCSI_BHS_LEN + c->bhs.ahs_len + (c->hdigest ? ISCSI_DIGEST_LEN : 0);
	if (avail < hlen)
		return 1;
	if (c->hdigest) {
		size_t n = ISCSI_BHS_LEN + c->bhs.ahs_len;
		if (iscsi_crc32c(b, n) != iscsi_digest_get(b + n)) {
			kwarn("%s: header digest error: closing (ERL 0)", c->peer);
			return -1;
		}
	}
	memcpy(c->hdr, b, ISCSI_BHS_LEN + c->bhs.ahs_len);
	enum hdr_verdict v = HV_DATA;
	if (e) {
		/* framing is intact: answer with a Reject and skip the segment (11.17) */
		if (c->state != C_FFP)
			return -1;
		send_reject(c, iscsi_pdu_err_reject_reason(e), c->hdr);
		c->skip = true;
		c->dst = c->seg;
		c->dtask = NULL;
	} else {
		v = pdu_header(c);
	}
	if (v == HV_PAUSE)
		return 0;
	if (v == HV_CLOSE)
		return -1;
	c->rhead += hlen;
	c->dst_lost = false;
	c->dgot = 0;
	c->dtail_got = 0;
	c->dtail_len = c->bhs.dsl ? iscsi_pad4(c->bhs.dsl) + (c->ddigest ? ISCSI_DIGEST_LEN : 0) : 0;
	c->rx = RX_DATA;
	return 2;
}

static size_t take(struct conn *c, uint8_t *dst, size_t want)
{
	size_t avail = c->rtail - c->rhead;
	size_t n = want < avail ? want : avail;
	memcpy(dst, c->rbuf + c->rhead, n);
	c->rhead += n;
	return n;
}

static bool data_digest_ok(struct conn *c)
{
	if (!c->ddigest || !c->bhs.dsl || c->dst_lost)
		return true;
	uint32_t pad = iscsi_pad4(c->bhs.dsl);
	uint32_t crc = iscsi_crc32c_update(ISCSI_CRC_INIT, c->dst, c->bhs.dsl);
	crc = iscsi_crc32c_update(crc, c->dtail, pad);
	return iscsi_crc32c_final(crc) == iscsi_digest_get(c->dtail + pad);
}

static int rx_data(struct conn *c)
{
	c->dgot += (uint32_t)take(c, c->dst + c->dgot, c->bhs.dsl - c->dgot);
	c->dtail_got += (uint32_t)take(c, c->dtail + c->dtail_got, c->dtail_len - c->dtail_got);
	if (c->dgot < c->bhs.dsl || c->dtail_got < c->dtail_len)
		return 1;
	c->rx = RX_HDR;
	if (!data_digest_ok(c)) {
		/* ERL 0: Reject, then drop the connection; the initiator retries the
		 * commands on a new session (RFC 7143 7.1.5, 7.8). */
		kwarn("%s: data digest error: closing (ERL 0)", c->peer);
		send_reject(c, ISCSI_REJECT_DATA_DIGEST, c->hdr);
		c->close_when_sent = true;
		return -2;
	}
	pdu_complete(c);
	return 2;
}

/* Consume buffered bytes. 1: need more input; 0: paused; <0: close. */
static int rx_process(struct conn *c)
{
	for (;;) {
		if (c->closing || c->close_when_sent)
			return -2;
		if (c->state == C_LOGOUT) {   /* nothing more is processed after Logout */
			c->rhead = c->rtail;
			return 1;
		}
		if (c->state == C_LOGIN_WAIT)
			return 0;
		if (c->rx == RX_HDR && c->txq_bytes > TX_HIGH)
			return 3;
		int r = c->rx == RX_HDR ? rx_header(c) : rx_data(c);
		if (r != 2)
			return r;
	}
}

/* Read from the socket: a large data segment goes straight to its buffer,
 * the bytes after it land in the ring. */
static ssize_t rx_read(struct conn *c)
{
	struct iovec iov[2];
	int n = 0;
	if (c->rhead == c->rtail)
		c->rhead = c->rtail = 0;
	else if (c->rhead > 0 && c->rtail > RBUF_SIZE / 2) {
		memmove(c->rbuf, c->rbuf + c->rhead, c->rtail - c->rhead);
		c->rtail -= c->rhead;
		c->rhead = 0;
	}
	uint32_t direct = 0;
	if (c->rx == RX_DATA && c->rhead == c->rtail && c->bhs.dsl - c->dgot >= 4096) {
		direct = c->bhs.dsl - c->dgot;
		iov[n++] = (struct iovec){ c->dst + c->dgot, direct };
	}
	iov[n++] = (struct iovec){ c->rbuf + c->rtail, RBUF_SIZE - c->rtail };
	ssize_t r = readv(c->fd, iov, n);
	if (r < 0)
		return -errno;
	size_t space = 0;
	for (int i = 0; i < n; i++)
		space += iov[i].iov_len;
	c->rx_short = (size_t)r < space;
	if (r == 0)
		return 0;
	if (direct) {
		uint32_t d = (size_t)r < direct ? (uint32_t)r : direct;
		c->dgot += d;
		c->rtail += (size_t)r - d;
	} else {
		c->rtail += (size_t)r;
	}
	return r;
}

static void rx_pause(struct conn *c)
{
	if (c->rx == RX_HDR && c->state == C_FFP && !c->rx_paused && !c->close_when_sent &&
	    !c->closing) {
		/* kbuf_alloc failed: stop reading until a buffer frees (kbuf.h) */
		c->rx_paused = true;
		c->rx_wait_pending = true;
		set_events(c);
		kbuf_wait(&c->rx_resume);
	}
}

static void rx_run(struct conn *c)
{
	bool drained = false;
	for (int reads = 0;; reads++) {
		int r = rx_process(c);
		if (r == -1)
			conn_close(c, "protocol error");
		if (r == 0)
			rx_pause(c);
		if (r == 3) {
			kdebug("%s: %zu bytes queued for sending: not reading", c->peer, c->txq_bytes);
			c->tx_full = true;
			set_events(c);
			return;
		}
		/* A short read drained the socket: let epoll say when more comes
		 * rather than paying a read that returns EAGAIN. Level-triggered,
		 * so stopping after 16 reads is fair to the other connections. */
		if (r <= 0 || drained || reads >= 16)
			return;
		ssize_t n = rx_read(c);
		if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
			return;
		if (n <= 0) {
			conn_close(c, n == 0 ? "closed by peer" : strerror((int)-n));
			return;
		}
		c->last_rx_ms = kloop_now_ms(c->loop);
		drained = c->rx_short;
	}
}

static void rx_resume_run(struct kloop_task *t)
{
	struct conn *c = container_of(t, struct conn, rx_resume);
	c->rx_wait_pending = false;
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	c->rx_paused = false;
	set_events(c);
	rx_run(c);
	if (!c->closing)
		tx_flush(c);
}

/* Adaptive polling: after activity the worker spins through its loop
 * (deferred task => epoll timeout 0) for poll_ns before sleeping again. On a
 * busy connection the next command arrives within microseconds, and not
 * sleeping saves a wake-up on both sides of the socket. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void poll_run(struct kloop_task *t)
{
	struct tgt_worker *w = container_of(t, struct tgt_worker, poll_task);
	if (now_ns() < w->busy_until_ns) {
		kloop_defer(w->loop, t);
		return;
	}
	w->poll_armed = false;
}

static void worker_busy(struct tgt_worker *w)
{
	if (!w->poll_ns)
		return;
	w->busy_until_ns = now_ns() + w->poll_ns;
	if (!w->poll_armed) {
		w->poll_armed = true;
		w->poll_task.fn = poll_run;
		kloop_defer(w->loop, &w->poll_task);
	}
}

static void on_io(struct kloop_fd *h, uint32_t events)
{
	struct conn *c = container_of(h, struct conn, kfd);
	if (c->closing)
		return;
	worker_busy(c->w);
	if (events & EPOLLOUT)
		tx_flush(c);
	if (!c->closing && !c->rx_paused && !c->tx_full && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		rx_run(c);
	if (!c->closing)
		tx_flush(c);
}

/* ---------------------------------------------------------------------- */
/* liveness: NOP-In pings (RFC 7143 11.19) and login timeout               */

static void ping(struct conn *c, uint64_t now)
{
	struct txpdu *p = tx_new(c);
	if (!p)
		return;
	c->ping_ttt = new_ttt(c);
	struct iscsi_nop_in n = { .itt = ISCSI_RSVD_TAG, .ttt = c->ping_ttt };
	struct iscsi_seq s = seq_next(c, false);   /* ITT reserved: StatSN not advanced */
	iscsi_encode_nop_in(p->hdr, &n, &s);
	tx_queue(c, p);
	c->ping_out = true;
	c->ping_ms = now;
	tx_flush(c);
}

static void on_tick(struct kloop_timer *tm)
{
	struct conn *c = container_of(tm, struct conn, timer);
	const struct tgt_config *cfg = c->srv->cfg;
	uint64_t now = kloop_now_ms(c->loop);
	uint64_t interval = cfg->nop_interval_ms ? cfg->nop_interval_ms : 5000;
	uint64_t timeout = cfg->nop_timeout_ms ? cfg->nop_timeout_ms : 15000;
	if (c->closing)
		return;
	if (c->state == C_LOGIN && now - c->born_ms > timeout) {
		conn_close(c, "login timed out");
		return;
	}
	if (c->state != C_FFP)
		return;
	if (c->ping_out && c->last_rx_ms > c->ping_ms)
		c->ping_out = false;    /* anything received proves the peer alive */
	if (c->ping_out && now - c->ping_ms > timeout) {
		conn_close(c, "no answer to NOP-In");
		return;
	}
	if (!c->ping_out && now - c->last_rx_ms >= interval)
		ping(c, now);
}

/* ---------------------------------------------------------------------- */
/* life cycle                                                              */

static void policy_init(struct conn *c, const struct tgt_portal *portal)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	c->pctx.srv = c->srv;
	c->pctx.portal = portal;
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, c->pctx.local_addr, sizeof(c->pctx.local_addr));
			c->pctx.local_port = ntohs(a->sin6_port);
			c->pctx.local_v6 = true;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, c->pctx.local_addr, sizeof(c->pctx.local_addr));
			c->pctx.local_port = ntohs(a->sin_port);
		}
	}
	sl = sizeof(ss);
	char a[64] = "?";
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
	}
	snprintf(c->peer, sizeof(c->peer), "%s", a);
	c->policy = tgt_policy_template;
	c->policy.ctx = &c->pctx;
}

static void conn_free(struct conn *c)
{
	struct tgt_worker *w = c->w;
	struct tgt_server *srv = c->srv;
	for (struct tmf *m = c->tmfs; m; m = m->next)
		m->c = NULL;           /* remote acks may still arrive; tmf frees itself */
	if (c->sess) {
		c->sess->conn = NULL;
		session_destroy(c->sess);
	}
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else if (w->conns == c)
		w->conns = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	while (c->task_free) {
		struct task *t = c->task_free;
		c->task_free = t->next;
		free(t);
	}
	while (c->tx_free) {
		struct txpdu *p = c->tx_free;
		c->tx_free = p->next;
		free(p);
	}
	iscsi_login_free(c->login);
	free(c->login_buf);
	free(c->rbuf);
	free(c->seg);
	free(c->text_req);
	free(c->text_rsp);
	free(c);
	atomic_fetch_sub(&srv->n_conns, 1);
}

static bool conn_busy(const struct conn *c)
{
	return c->n_exec || c->rx_wait_pending || c->flush_pending || c->reinstate_wait ||
	       c->kick_pending;
}

/* Freed from a deferred task, never inside a callback that still uses c. */
static void free_run(struct kloop_task *t)
{
	struct conn *c = container_of(t, struct conn, free_task);
	c->free_queued = false;
	if (!conn_busy(c))
		conn_free(c);
}

static void conn_maybe_free(struct conn *c)
{
	if (!c->closing || c->free_queued || conn_busy(c))
		return;
	c->free_queued = true;
	kloop_defer(c->loop, &c->free_task);
}

void conn_close(struct conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->sess)
		kinfo("%s: closing connection (TSIH %u): %s", c->peer, c->sess->tsih, why);
	else
		kdebug("%s: closing connection: %s", c->peer, why);
	kloop_timer_stop(c->loop, &c->timer);
	if (c->fd >= 0) {
		kloop_del_fd(c->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	while (c->txq) {
		struct txpdu *p = c->txq;
		c->txq = p->next;
		tx_release(c, p);
	}
	c->txq_tail = NULL;
	conn_abort_tasks(c, NULL, ISCSI_RSVD_TAG, NULL);
	conn_maybe_free(c);
}


void worker_close_all(struct tgt_worker *w)
{
	for (struct conn *c = w->conns; c; c = c->wnext)
		conn_close(c, "target shutting down");
}

static int conn_buffers(struct conn *c)
{
	const struct iscsi_target_limits *lim = &c->srv->cfg->limits;
	c->seg_size = lim->max_recv_dsl > LOGIN_BUF ? lim->max_recv_dsl : LOGIN_BUF;
	c->max_rx_dsl = c->seg_size;
	c->rbuf = malloc(RBUF_SIZE);
	c->seg = malloc(c->seg_size);
	c->login_buf = malloc(LOGIN_BUF);
	c->login = iscsi_login_new(&c->policy, lim);
	return c->rbuf && c->seg && c->login_buf && c->login ? 0 : -ENOMEM;
}

void conn_accept(struct tgt_worker *w, int fd, const struct tgt_portal *portal)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		atomic_fetch_sub(&w->srv->n_conns, 1);
		return;
	}
	c->fd = fd;
	c->w = w;
	c->srv = w->srv;
	c->loop = w->loop;
	c->kfd.fn = on_io;
	c->flush_task.fn = flush_run;
	c->rx_resume.fn = rx_resume_run;
	c->rx_kick.fn = rx_kick_run;
	c->reinstate_task.fn = reinstate_done;
	c->free_task.fn = free_run;
	c->timer.fn = on_tick;
	c->next_ttt = 1;
	c->text_ttt = ISCSI_RSVD_TAG;
	c->born_ms = c->last_rx_ms = kloop_now_ms(c->loop);
	policy_init(c, portal);
	c->wnext = w->conns;
	if (w->conns)
		w->conns->wprev = c;
	w->conns = c;
	if (conn_buffers(c) < 0 || kloop_add_fd(c->loop, fd, EPOLLIN, &c->kfd) < 0) {
		kerr("%s: cannot set up connection", c->peer);
		c->closing = true;
		close(fd);
		c->fd = -1;
		conn_maybe_free(c);
		return;
	}
	kloop_timer_start(c->loop, &c->timer, 1000);
	kdebug("%s: connected on portal %s:%u", c->peer, portal->addr, portal->port);
}
