/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI connections: everything between a TCP socket and the phase that
 * handles a PDU.
 *
 * A connection belongs to one worker loop. Its receive side is a state
 * machine over a ring of bytes (BHS -> AHS -> header digest -> data ->
 * padding -> data digest, RFC 7143 11.2); large data segments (immediate
 * data, Data-Out) are read straight into the command's pooled buffer with
 * readv. Its send side is a queue of PDUs, each a header plus an iovec into
 * the owner's data, written with sendmsg in batches; EPOLLOUT is armed only
 * when the socket is full.
 *
 * This file holds the life cycle (accept, close, teardown once every task
 * the SCSI layer holds has completed), the socket I/O, the receive framing
 * and the dispatch of each complete PDU to its phase: login (conn_login.c),
 * SCSI Command / Data-Out / Data-In (conn_scsi.c), task management, NOP,
 * Text, Logout and Async (conn_tmf.c). It also keeps the CmdSN / StatSN
 * bookkeeping, the NOP-In liveness ping and adaptive polling.
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
#include "target/transport/transport_internal.h"

#define RBUF_SIZE (256u * 1024u)
#define TX_IOV    256
/* Send-queue back-pressure: an initiator that sends faster than it reads
 * (NOP-Out floods, reads it never drains) stops being read above TX_HIGH. */
#define TX_HIGH (64u * 1024u * 1024u)
#define TX_LOW  (16u * 1024u * 1024u)

static void rx_run(struct conn *c);

/* ---------------------------------------------------------------------- */
/* sequence numbers                                                        */

uint32_t conn_qdepth(const struct conn *c)
{
	return c->srv->cfg->queue_depth ? c->srv->cfg->queue_depth : 256;
}

/* StatSN / ExpCmdSN / MaxCmdSN for the next PDU; advance consumes a StatSN
 * (RFC 7143 4.2.2.2: every status-carrying PDU). */
struct iscsi_seq conn_seq_next(struct conn *c, bool advance)
{
	struct iscsi_seq s = { .statsn = c->stat_sn };
	if (c->sess) {
		s.exp_cmdsn = c->sess->exp_cmdsn;
		s.max_cmdsn = c->sess->max_cmdsn;
	} else {
		s.exp_cmdsn = c->login_cmdsn;
		s.max_cmdsn = c->login_cmdsn + conn_qdepth(c) - 1;
	}
	if (advance)
		c->stat_sn++;
	return s;
}

/* CmdSN check (RFC 7143 4.2.2.1). Immediate PDUs do not advance ExpCmdSN;
 * others must fall in [ExpCmdSN, MaxCmdSN] or are silently ignored. With
 * one connection per session a CmdSN above ExpCmdSN can only follow a lost
 * PDU; we accept it and move ExpCmdSN past it rather than stall. */
enum sn_verdict conn_cmdsn_check(struct conn *c, uint32_t cmdsn, bool immediate, bool task)
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
	if (task) /* before the window moves: it stays queue_depth wide */
		__atomic_store_n(&s->in_flight, s->in_flight + 1, __ATOMIC_RELAXED);
	session_update_window(s);
	return SN_ACCEPT;
}

/* ---------------------------------------------------------------------- */
/* send queue                                                              */

struct txpdu *conn_tx_new(struct conn *c)
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

void conn_tx_release(struct conn *c, struct txpdu *p)
{
	free(p->heap);
	if (p->task && --p->task->tx_refs == 0 && !p->task->in_exec)
		conn_task_free(p->task);
	p->next = c->tx_free;
	c->tx_free = p;
}

/* Finish the PDU (digests, padding) and append it to the queue. */
void conn_tx_queue(struct conn *c, struct txpdu *p)
{
	if (c->closing) {
		conn_tx_release(c, p);
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
		conn_tx_flush(c);
}

/* Flush once per loop iteration so completions batch into one sendmsg. */
void conn_tx_schedule(struct conn *c)
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
		struct iovec parts[3] = { { p->hdr, p->hlen },
					  { (void *)p->data, p->dlen },
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
		conn_tx_release(c, p);
	}
	c->tx_off = n;
}

void conn_set_events(struct conn *c)
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
	rx_run(c); /* PDUs may sit in the ring with nothing left on the socket */
	if (!c->closing)
		conn_tx_flush(c);
}

static void tx_unblock(struct conn *c)
{
	if (!c->tx_full || c->txq_bytes > TX_LOW || c->closing)
		return;
	c->tx_full = false;
	conn_set_events(c);
	if (!c->kick_pending) {
		c->kick_pending = true;
		kloop_defer(c->loop, &c->rx_kick);
	}
}

void conn_tx_flush(struct conn *c)
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
				conn_set_events(c);
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
		conn_set_events(c);
	}
	tx_unblock(c);
	if (c->close_when_sent && !c->txq)
		conn_close(c, "logout or fatal error");
}

/* ---------------------------------------------------------------------- */
/* Reject (RFC 7143 11.17), answered from every part of the connection   */

void conn_send_reject(struct conn *c, uint8_t reason, const uint8_t *bhs)
{
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	struct iscsi_seq s = conn_seq_next(c, true);
	iscsi_encode_reject(p->hdr, reason, 0, &s);
	memcpy(p->small, bhs, ISCSI_BHS_LEN);
	p->data = p->small;
	p->dlen = ISCSI_BHS_LEN;
	conn_tx_queue(c, p);
	kdebug("%s: reject opcode 0x%02x reason 0x%02x", c->peer, bhs[0] & 0x3f, reason);
}

/* ---------------------------------------------------------------------- */
/* target transfer tags (R2T, NOP-In ping, Text continuation)             */

uint32_t conn_new_ttt(struct conn *c)
{
	uint32_t v = c->next_ttt++;
	if (v == ISCSI_RSVD_TAG)
		v = c->next_ttt++;
	return v;
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
		conn_send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
		c->skip = true;
		return HV_DATA;
	}
	if (c->bhs.opcode == ISCSI_OP_SCSI_CMD)
		return conn_scsi_cmd_header(c);
	if (c->bhs.opcode == ISCSI_OP_DATA_OUT)
		return conn_data_out_header(c);
	return HV_DATA;
}

static void pdu_complete(struct conn *c)
{
	if (c->state == C_LOGIN) {
		conn_login_complete(c);
		return;
	}
	if (c->skip || c->state != C_FFP)
		return;
	switch (c->bhs.opcode) {
	case ISCSI_OP_SCSI_CMD: conn_scsi_cmd_complete(c); break;
	case ISCSI_OP_DATA_OUT: conn_data_out_complete(c); break;
	case ISCSI_OP_NOP_OUT: conn_nop_out_complete(c); break;
	case ISCSI_OP_TMF_REQ: conn_tmf_complete(c); break;
	case ISCSI_OP_TEXT_REQ: conn_text_complete(c); break;
	case ISCSI_OP_LOGOUT_REQ: conn_logout_complete(c); break;
	case ISCSI_OP_SNACK: /* 11.16: SNACK needs ERL >= 1 */
		conn_send_reject(c, ISCSI_REJECT_PROTOCOL, c->hdr);
		break;
	default: conn_send_reject(c, ISCSI_REJECT_CMD_NOT_SUPPORTED, c->hdr);
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
			CONN_PSTAT(c, digest_errors, 1);
			return -1;
		}
	}
	memcpy(c->hdr, b, ISCSI_BHS_LEN + c->bhs.ahs_len);
	enum hdr_verdict v = HV_DATA;
	if (e) {
		/* framing is intact: answer with a Reject and skip the segment (11.17) */
		if (c->state != C_FFP)
			return -1;
		conn_send_reject(c, iscsi_pdu_err_reject_reason(e), c->hdr);
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
	c->dtail_len = c->bhs.dsl ? iscsi_pad4(c->bhs.dsl) + (c->ddigest ? ISCSI_DIGEST_LEN : 0)
				  : 0;
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
		CONN_PSTAT(c, digest_errors, 1);
		conn_send_reject(c, ISCSI_REJECT_DATA_DIGEST, c->hdr);
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
		if (c->state == C_LOGOUT) { /* nothing more is processed after Logout */
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
		conn_set_events(c);
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
			kdebug("%s: %zu bytes queued for sending: not reading", c->peer,
			       c->txq_bytes);
			c->tx_full = true;
			conn_set_events(c);
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
	conn_set_events(c);
	rx_run(c);
	if (!c->closing)
		conn_tx_flush(c);
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
		conn_tx_flush(c);
	if (!c->closing && !c->rx_paused && !c->tx_full &&
	    (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		rx_run(c);
	if (!c->closing)
		conn_tx_flush(c);
}

/* ---------------------------------------------------------------------- */
/* liveness: NOP-In pings (RFC 7143 11.19) and login timeout               */

static void ping(struct conn *c, uint64_t now)
{
	struct txpdu *p = conn_tx_new(c);
	if (!p)
		return;
	c->ping_ttt = conn_new_ttt(c);
	struct iscsi_nop_in n = { .itt = ISCSI_RSVD_TAG, .ttt = c->ping_ttt };
	struct iscsi_seq s = conn_seq_next(c, false); /* ITT reserved: StatSN not advanced */
	iscsi_encode_nop_in(p->hdr, &n, &s);
	conn_tx_queue(c, p);
	c->ping_out = true;
	c->ping_ms = now;
	conn_tx_flush(c);
}

static void on_tick(struct kloop_timer *tm)
{
	struct conn *c = container_of(tm, struct conn, timer);
	const struct tgt_config *cfg = c->srv->cfg;
	uint64_t now = kloop_now_ms(c->loop);
	uint64_t interval = cfg->nop_interval_ms ? cfg->nop_interval_ms : 5000;
	uint64_t timeout = cfg->nop_timeout_ms ? cfg->nop_timeout_ms : 15000;
	uint64_t login_timeout = cfg->login_timeout_ms ? cfg->login_timeout_ms : 15000;
	if (c->closing)
		return;
	if (c->state == C_LOGIN && now - c->born_ms > login_timeout) {
		if (limits_log_ok(&c->srv->log_timeout))
			kwarn("%s: login not finished within login_timeout_ms (%llu): closing",
			      c->peer, (unsigned long long)login_timeout);
		conn_close(c, "login timed out");
		return;
	}
	if (c->state != C_FFP)
		return;
	if (c->rx_paused) { /* waiting for buffer room (limits.c): not the peer's silence */
		c->last_rx_ms = now;
		c->ping_out = false;
		return;
	}
	if (c->ping_out && c->last_rx_ms > c->ping_ms)
		c->ping_out = false; /* anything received proves the peer alive */
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
			inet_ntop(AF_INET6, &a->sin6_addr, c->pctx.local_addr,
				  sizeof(c->pctx.local_addr));
			c->pctx.local_port = ntohs(a->sin6_port);
			c->pctx.local_v6 = true;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, c->pctx.local_addr,
				  sizeof(c->pctx.local_addr));
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
		m->c = NULL; /* remote acks may still arrive; tmf frees itself */
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
	CONN_PSTAT(c, open, -1);
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

void conn_maybe_free(struct conn *c)
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
		conn_tx_release(c, p);
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
	c->free_task.fn = free_run;
	c->timer.fn = on_tick;
	c->next_ttt = 1;
	c->text_ttt = ISCSI_RSVD_TAG;
	c->born_ms = c->last_rx_ms = kloop_now_ms(c->loop);
	c->over_cap = limits_conn_over(c->srv);
	conn_login_init(c);
	policy_init(c, portal);
	CONN_PSTAT(c, accepted, 1);
	CONN_PSTAT(c, open, 1);
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
