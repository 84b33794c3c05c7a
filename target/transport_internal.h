/* Internal header of the iSCSI transport: the server (server.c), sessions
 * and the global session table (session.c), and connections with their
 * tasks and PDU queues (conn.c). Only these three files include it.
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
#include <stdint.h>
#include <sys/uio.h>
#include "common/kloop.h"
#include "target/iscsi_login.h"
#include "target/iscsi_pdu.h"
#include "target/scsi.h"
#include "target/tgt.h"

struct conn;
struct session;

struct tgt_worker {
	struct tgt_server *srv;
	struct kloop *loop;
	pthread_t th;
	int idx;
	struct conn *conns;          /* list of this worker's connections (loop thread only) */
	pthread_mutex_t start_lock;  /* start-up handshake with tgt_server_start */
	pthread_cond_t start_cond;
	int start_state;             /* 0 starting, 1 running, <0 -errno */
	/* adaptive polling (conn.c): keep the loop from sleeping in epoll for a
	 * short while after activity, so a busy connection costs no wake-ups */
	struct kloop_task poll_task;
	bool poll_armed;
	uint64_t busy_until_ns;
	uint32_t poll_ns;            /* 0 disables */
};

struct tgt_listener {
	int fd;
	const struct tgt_portal *portal;
};

struct tgt_server {
	struct tgt_config *cfg;
	struct tgt_worker *workers;
	int n_workers;
	struct tgt_listener listeners[TGT_MAX_PORTALS];
	int n_listeners;
	pthread_t accept_th;
	bool accept_started;
	int wake_fd;                 /* eventfd: stops the accept thread */
	unsigned next_worker;
	atomic_int n_conns;          /* connections alive (any state) */
	atomic_bool stopping;

	pthread_mutex_t lock;        /* guards the fields below */
	struct session *sessions;    /* table: every session in full feature phase */
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
	char target[224];
	char peer[72];               /* initiator address:port (copied from the connection) */
	uint16_t tsih;
	bool discovery;
	struct tgt_worker *w;
	struct tgt_server *srv;
	struct session *next, *prev; /* table links, under srv->lock */
	atomic_int refs;

	/* owned by w->loop */
	struct conn *conn;           /* NULL once the connection is gone */
	bool dead;
	const struct tgt_target *tgt;
	struct scsi_itn *itn;
	struct scsi_lun_map *map;
	struct iscsi_session_params params;
	uint32_t exp_cmdsn, max_cmdsn;
	uint32_t in_flight;          /* non-immediate commands inside the window */
	struct kloop_task *gone_waiter; /* posted to its loop once the session is destroyed */
	struct kloop *gone_loop;
};

struct session *session_new(struct conn *c, const struct iscsi_session_params *p,
			    const struct tgt_target *tgt, uint32_t cmdsn);
/* Insert into the table and assign a TSIH; returns an existing session with
 * the same (initiator, ISID, target) to reinstate (referenced), or NULL. */
struct session *session_register(struct session *s, bool *ok);
void session_destroy(struct session *s);   /* loop thread; conn already gone */
void session_put(struct session *s);
void session_get(struct session *s);
/* Ask an old session (any loop) to close, then post waiter on wloop. */
void session_reinstate(struct session *old, struct kloop *wloop, struct kloop_task *waiter);
/* Window: MaxCmdSN follows ExpCmdSN + queue_depth - 1 - in_flight, never shrinking. */
void session_update_window(struct session *s);
/* Abort the tasks of every other session on lu (all LUs of map when lu is
 * NULL); when all of them have stopped, done->fn runs on the caller's loop.
 * Returns how many sessions were asked (done->pending was raised by that). */
struct tmf_fanout {
	struct kloop_task task;      /* used to post acks back */
	uint32_t pending;            /* remote sessions still aborting (origin loop only) */
	void (*fn)(struct tmf_fanout *f);
	void *priv;
};
void session_fanout_abort(struct session *self, struct scsi_lu *lu, bool clear_ua,
			  bool close_after, struct tmf_fanout *f);
/* Send Async "request logout" to every session (shutdown). */
void session_table_request_logout(struct tgt_server *srv, uint16_t seconds);
int session_table_count(struct tgt_server *srv);

/* ---- conn.c ---- */
void conn_accept(struct tgt_worker *w, int fd, const struct tgt_portal *portal);
void conn_close(struct conn *c, const char *why);
/* Abort this connection's tasks on lu (NULL: all); w->pending counts those
 * still running; returns the number aborted. */
uint32_t conn_abort_tasks(struct conn *c, struct scsi_lu *lu, uint32_t except_itt,
			  struct abort_wait *w);
void conn_send_async_logout(struct conn *c, uint16_t seconds);
void worker_close_all(struct tgt_worker *w);

/* ---- server.c ---- */
/* Login policy over the configuration, for one connection. */
struct conn_policy_ctx {
	struct tgt_server *srv;
	const struct tgt_portal *portal;
	char local_addr[64];         /* the address the initiator connected to */
	uint16_t local_port;
	bool local_v6;
};
extern const struct iscsi_login_policy tgt_policy_template;
const struct tgt_target *tgt_find_target(const struct tgt_config *cfg, const char *iqn);
#endif
