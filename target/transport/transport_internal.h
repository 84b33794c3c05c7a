/* SPDX-License-Identifier: Apache-2.0 */
/* Internal header of the iSCSI transport: the server (server.c), sessions
 * and the global session table (session.c), and connections with their
 * tasks and PDU queues (conn.c, conn_login.c, conn_scsi.c, conn_tmf.c).
 * Only these files include it.
 *
 * Ownership (STYLE.md "one owning thread per object"): a connection, its
 * session, its tasks and PDUs belong to the worker loop the connection was
 * handed to. The session table is the only shared structure (srv->lock); it
 * holds counted references to sessions so other threads can post messages
 * to a session's loop (reinstatement, LUN reset fan-out, shutdown).
 *
 * Not for: PDU layouts (iscsi_spec.h / iscsi_pdu.h), the SCSI layer.
 */
#ifndef KURA_TRANSPORT_INTERNAL_H
#define KURA_TRANSPORT_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "common/container.h"
#include "common/kloop.h"
#include "target/iscsi/iscsi_login.h"
#include "target/iscsi/iscsi_pdu.h"
#include "target/scsi/scsi.h"
#include "target/transport/server.h"

struct conn;
struct session;

struct tgt_worker {
	struct tgt_server *srv;
	struct kloop *loop;
	pthread_t th;
	int idx;
	struct conn *conns;         /* list of this worker's connections (loop thread only) */
	pthread_mutex_t start_lock; /* start-up handshake with tgt_server_start */
	pthread_cond_t start_cond;
	int start_state; /* 0 starting, 1 running, <0 -errno */
	/* adaptive polling (conn.c): keep the loop from sleeping in epoll for a
	 * short while after activity, so a busy connection costs no wake-ups */
	struct kloop_task poll_task;
	bool poll_armed;
	uint64_t busy_until_ns;
	uint32_t poll_ns; /* 0 disables */
	/* Per-portal counters of this worker's connections (stored with
	 * relaxed atomics by the loop thread only; tgt_server_portal_stats
	 * sums them). open goes up at accept and down at free. */
	struct tgt_portal_stats pstats[TGT_MAX_PORTALS];
};
/* Add v to one counter of c's portal (c's worker thread only). */
#define CONN_PSTAT(c, field, v) \
	worker_pstat_add((c)->w, (c)->pctx.portal, offsetof(struct tgt_portal_stats, field), (v))
void worker_pstat_add(struct tgt_worker *w, const struct tgt_portal *p, size_t off, int64_t v);

struct tgt_listener {
	int fd;
	const struct tgt_portal *portal;
};

struct tgt_server {
	struct tgt_model *model;      /* the live targets (model.h) */
	const struct tgt_config *cfg; /* model->conf: portals, limits, timers */
	struct tgt_worker *workers;
	int n_workers;
	struct tgt_listener listeners[TGT_MAX_PORTALS];
	int n_listeners;
	pthread_t accept_th;
	bool accept_started;
	int wake_fd; /* eventfd: stops the accept thread */
	unsigned next_worker;
	atomic_int n_conns; /* connections alive (any state) */
	atomic_bool stopping;

	/* limits.c: command buffer budget (set at start, then atomics) */
	uint64_t buf_budget, buf_floor, buf_shared_cap;
	atomic_uint_fast64_t buf_shared_used; /* charges above the sessions' floors */
	atomic_uint_fast64_t buf_charged;     /* all charges */
	atomic_uint_fast64_t buf_waits;       /* commands that found no room */
	atomic_uint_fast64_t log_accept, log_login, log_timeout, log_budget; /* rate limits */

	pthread_mutex_t lock;     /* guards the fields below */
	struct session *sessions; /* table: every session in full feature phase */
	uint16_t next_tsih;
};

/* ---- session.c ---- */

/* A counted wait for aborted tasks to stop (local to one loop). */
struct abort_wait {
	uint32_t pending;
	void (*fn)(struct abort_wait *w);
};

struct session {
	/* immutable once in the table; readable by any thread under srv->lock */
	char initiator[224];
	uint8_t isid[6];
	uint16_t tpgt; /* portal group it came in through: SSID = ISID + TPGT */
	char target[224];
	char peer[72]; /* initiator address:port (copied from the connection) */
	uint16_t tsih;
	bool discovery;
	struct tgt_worker *w;
	struct tgt_server *srv;
	struct session *next, *prev; /* table links, under srv->lock */
	atomic_int refs;

	/* owned by w->loop */
	struct conn *conn; /* NULL once the connection is gone */
	bool dead;
	const struct tgt_target *tgt;
	struct scsi_itn *itn;
	struct scsi_lun_map *map;
	struct iscsi_session_params params;
	uint32_t exp_cmdsn, max_cmdsn;
	uint32_t in_flight; /* non-immediate commands inside the window; stored
	                                atomically: tgt_server_foreach_session reads it */
	uint64_t st_cmds, st_in_bytes, st_out_bytes; /* the same (relaxed stores) */
	uint64_t buf_held, buf_cap;                  /* command buffer charges (limits.c) */
	bool buf_blocked;                            /* a command found no room: MaxCmdSN waits */
	struct kloop_task *gone_waiter; /* posted to its loop once the session is destroyed */
	struct kloop *gone_loop;
};

struct session *session_new(struct conn *c, const struct iscsi_session_params *p,
			    const struct tgt_target *tgt, uint32_t cmdsn);
/* Insert into the table and assign a TSIH; returns an existing session with
 * the same (initiator, ISID, target, TPGT) to reinstate (referenced), or NULL. */
struct session *session_register(struct session *s, bool *ok);
void session_destroy(struct session *s); /* loop thread; conn already gone */
void session_put(struct session *s);
void session_get(struct session *s);
/* Ask an old session (any loop) to close, then post waiter on wloop. */
void session_reinstate(struct session *old, struct kloop *wloop, struct kloop_task *waiter);
/* Count one answered command of s (its loop only; s may be NULL). */
static inline void session_count_cmd(struct session *s, uint32_t in_bytes, uint32_t out_bytes)
{
	if (!s)
		return;
	__atomic_store_n(&s->st_cmds, s->st_cmds + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_in_bytes, s->st_in_bytes + in_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_out_bytes, s->st_out_bytes + out_bytes, __ATOMIC_RELAXED);
}
/* Window: MaxCmdSN follows ExpCmdSN + queue_depth - 1 - in_flight, never shrinking. */
void session_update_window(struct session *s);
/* Abort the tasks of every other session on lu (all LUs of map when lu is
 * NULL); when all of them have stopped, done->fn runs on the caller's loop.
 * Returns how many sessions were asked (done->pending was raised by that). */
struct tmf_fanout {
	struct kloop_task task; /* used to post acks back */
	uint32_t pending;       /* remote sessions still aborting (origin loop only) */
	void (*fn)(struct tmf_fanout *f);
	void *priv;
};
void session_fanout_abort(struct session *self, struct scsi_lu *lu, bool clear_ua, bool close_after,
			  struct tmf_fanout *f);
/* Send Async "request logout" to every session (shutdown). */
void session_table_request_logout(struct tgt_server *srv, uint16_t seconds);
/* Close the connections of the normal sessions on target t whose initiator
 * allowed() refuses; returns how many were asked to close. */
int session_table_close_if(struct tgt_server *srv, const struct tgt_target *t,
			   bool (*allowed)(const struct tgt_target *t, const char *initiator));
int session_table_count(struct tgt_server *srv);
/* Sessions in the table from s's initiator, other than the one s would
 * reinstate (the per-initiator cap, checked at login). */
int session_table_count_initiator(struct tgt_server *srv, const struct session *s);

/* ---- limits.c: buffer budget and connection caps (docs/security.md) ---- */
#define LIMITS_LOGIN_SLACK 16u /* connections over max_connections still told why */
void limits_init(struct tgt_server *srv);
void limits_session_init(struct session *s);     /* its cap, from the negotiated values */
uint64_t limits_charge(uint32_t edtl);           /* bytes a command's buffer is charged */
bool limits_take(struct session *s, uint64_t n); /* false: no room now (loop thread) */
void limits_put(struct session *s, uint64_t n);
bool limits_accept_ok(struct tgt_server *srv);       /* accept thread: below the hard cap */
bool limits_conn_over(const struct tgt_server *srv); /* more than max_connections open */
bool limits_log_ok(atomic_uint_fast64_t *last);      /* rate limit: one line per 10 s */

/* ---- server.c ---- */
/* Login policy over the configuration, for one connection. */
struct conn_policy_ctx {
	struct tgt_server *srv;
	const struct tgt_portal *portal;
	char local_addr[64]; /* the address the initiator connected to */
	uint16_t local_port;
	bool local_v6;
};
extern const struct iscsi_login_policy tgt_policy_template;

/* ---- conn.c, conn_login.c, conn_scsi.c, conn_tmf.c ----
 * One connection: conn.c owns its life cycle, the socket and the receive
 * framing, and hands each complete PDU to the phase that handles it. */
void conn_accept(struct tgt_worker *w, int fd, const struct tgt_portal *portal);
void conn_close(struct conn *c, const char *why);
/* Abort this connection's tasks on lu (NULL: all); w->pending counts those
 * still running; returns the number aborted. */
uint32_t conn_abort_tasks(struct conn *c, struct scsi_lu *lu, uint32_t except_itt,
			  struct abort_wait *w);
void conn_send_async_logout(struct conn *c, uint16_t seconds);
void worker_close_all(struct tgt_worker *w);

/* The connection itself, shared by the conn*.c files only (server.c and
 * session.c treat struct conn as opaque and call the functions above). */
#define LOGIN_BUF 8192u
#define ITT_HASH  512u
#define MAX_R2T   16u
#define HDR_MAX   (ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + ISCSI_DIGEST_LEN)

struct r2t_slot {
	bool used;
	uint32_t ttt, offset, len, got, datasn;
};

struct task {
	struct scsi_task st;
	struct conn *c;
	struct task *hnext;       /* ITT hash chain */
	struct task *next, *prev; /* the connection's live tasks */
	uint32_t itt, cmdsn;
	uint8_t lun_raw[8];
	struct scsi_lu *held_lu; /* scsi_lun_map_hold'ed at receipt, put at free */
	bool windowed;           /* counted in session in_flight */
	bool in_exec;            /* owned by the SCSI layer until done() */
	bool executed;           /* scsi_task_release() is due */
	bool read, write;
	bool busy;       /* no buffer room: answered TASK SET FULL (limits.c) */
	uint64_t charge; /* held from the buffer budget until conn_task_free */
	uint32_t edtl_read;
	/* Data-Out (RFC 7143 4.2.3.x, 11.8) */
	uint8_t *wbuf;
	uint32_t edtl_write, got;
	bool unsol_pending; /* F=0 on the command: unsolicited Data-Out follows */
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
	uint8_t tail[8];    /* padding + data digest */
	uint8_t small[128]; /* sense / rejected BHS */
	const uint8_t *data;
	uint32_t dlen;
	uint8_t hlen, tlen;
	void *heap;        /* free()d once sent */
	struct task *task; /* reference released once sent */
	bool close_after;
};

enum conn_state { C_LOGIN, C_LOGIN_WAIT, C_FFP, C_LOGOUT };
enum rx_state { RX_HDR, RX_DATA };
enum hdr_verdict { HV_DATA, HV_PAUSE, HV_CLOSE };

struct tmf {
	struct tmf *next;
	struct conn *c; /* NULL once the connection is gone */
	uint32_t itt;
	uint8_t function, response;
	struct scsi_lu *lu;
	struct abort_wait aw;  /* this session's aborted tasks */
	struct tmf_fanout fan; /* other sessions' */
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
	bool over_cap; /* accepted above max_connections: its login is refused */
	char peer[72];

	/* receive */
	uint8_t *rbuf;
	size_t rhead, rtail;
	enum rx_state rx;
	struct iscsi_bhs bhs;
	uint8_t hdr[HDR_MAX];
	uint8_t *dst; /* where the current data segment goes */
	uint32_t dgot;
	uint8_t dtail[8];
	uint32_t dtail_len, dtail_got;
	struct task *dtask; /* task receiving this segment, or NULL */
	int dslot;          /* R2T slot of this Data-Out, -1 unsolicited */
	bool skip;          /* segment is discarded (already answered) */
	bool dst_lost;      /* its task went away mid-segment: no digest check */
	bool hdigest, ddigest;
	uint32_t max_rx_dsl;
	uint8_t *seg; /* non-task data segments */
	uint32_t seg_size;
	bool rx_paused, rx_wait_pending;
	bool rx_short; /* the last read did not fill the buffer */
	bool tx_full;  /* send queue above TX_HIGH: not reading */
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
	uint32_t n_tasks; /* live tasks (bounded: immediate commands too) */
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

enum sn_verdict { SN_ACCEPT, SN_DROP };

/* conn.c: sequence numbers, send queue, Reject, tags, life cycle */
uint32_t conn_qdepth(const struct conn *c);
struct iscsi_seq conn_seq_next(struct conn *c, bool advance);
enum sn_verdict conn_cmdsn_check(struct conn *c, uint32_t cmdsn, bool immediate, bool task);
struct txpdu *conn_tx_new(struct conn *c);
void conn_tx_release(struct conn *c, struct txpdu *p);
void conn_tx_queue(struct conn *c, struct txpdu *p); /* digests, padding, append */
void conn_tx_schedule(struct conn *c);               /* flush once this loop turn */
void conn_tx_flush(struct conn *c);
void conn_set_events(struct conn *c);
void conn_send_reject(struct conn *c, uint8_t reason, const uint8_t *bhs);
uint32_t conn_new_ttt(struct conn *c);
void conn_maybe_free(struct conn *c); /* once closing and idle */

/* conn_login.c: login phase */
void conn_login_init(struct conn *c);
void conn_login_complete(struct conn *c);

/* conn_scsi.c: tasks, SCSI Command, R2T / Data-Out, Data-In and responses */
struct task *conn_task_find(struct conn *c, uint32_t itt);
void conn_task_free(struct task *t);
enum hdr_verdict conn_scsi_cmd_header(struct conn *c);
void conn_scsi_cmd_complete(struct conn *c);
enum hdr_verdict conn_data_out_header(struct conn *c);
void conn_data_out_complete(struct conn *c);

/* conn_tmf.c: task management, PR abort, NOP, Text, Logout, Async */
extern const struct scsi_transport_ops conn_scsi_ops;
void conn_tmf_complete(struct conn *c);
void conn_nop_out_complete(struct conn *c);
void conn_text_complete(struct conn *c);
void conn_logout_complete(struct conn *c);
#endif
