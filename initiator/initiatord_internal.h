/* SPDX-License-Identifier: Apache-2.0 */
/* Objects of kura-initiatord shared by its files (initiatord*.c, path.c,
 * mpath.c, fuse_front.c, nbd_*.c, ublk.c).
 *
 *   ini_daemon   the process: options, the event loop, paths, LUs, front ends
 *   ini_path     one iSCSI session (libiscsi context) to one portal; carries
 *                one or more LUNs, each a member of a multipath LU
 *   ini_lu       one logical unit, by NAA identity, with all paths to it,
 *                the selection state and the no-path queue
 *   ini_io       one front-end request (read/write/flush/unmap/zeroes)
 *
 * Layers: initiatord.c wires everything; the front ends (front_ends.h) sit
 * on the multipath core (mpath.c) and learn of LUs through its events
 * (mpath_subscribe); the control socket learns of a LOGIN's outcome through
 * a path_waiter callback. The core (path.c, mpath.c) never calls or
 * includes a front end or the control socket.
 *
 * Threads: every ini_path, ini_lu and in-flight ini_io belongs to the event
 * loop thread. FUSE workers build an ini_io and hand it over with
 * ini_io_submit() (kloop_post); the NBD front end runs on the loop and calls
 * ini_io_start(); done() callbacks run on the loop thread. The LU table the front ends read
 * (name, size) is published under lus_mu.
 *
 * Not for: the CLI side (iscsiadm*.c) or node DB parsing (nodedb.c).
 */
#ifndef KURA_INITIATORD_INTERNAL_H
#define KURA_INITIATORD_INTERNAL_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/kloop.h"
#include "initiator/mpath_internal.h"
#include "initiator/nodedb.h"

#define INI_MAX_LUS      64
#define INI_MAX_PATHS    64
#define INI_MAX_LUNS     16 /* per session */
#define INI_MAX_LU_PATHS 8

struct ini_daemon;
struct ini_lu;
struct ini_path;
struct ctl_conn;

struct ini_opts {
	char root[256]; /* node DB */
	char initiator_name[224];
	char ctl_sock[108];
	char fuse_dir[256]; /* "" = no FUSE front end */
	char nbd_dir[256];  /* "" = no NBD front end */
	char disk_dir[256]; /* "" = no stable names (stable_names.c) */
	bool ublk;
	uint64_t pr_key; /* 0 = none */
	uint64_t no_path_retry_ms;
	enum mpath_policy policy;
	bool failback_immediate;
	uint64_t retry_min_ms, retry_max_ms;
	uint64_t nop_interval_ms, nop_timeout_ms, cmd_timeout_ms, login_timeout_ms;
	char extra[8][320]; /* --login IQN@ADDR:PORT, outside the node DB */
	int n_extra;
};

enum path_state {
	PATH_WAIT,       /* backoff before the next attempt */
	PATH_CONNECTING, /* TCP connect + login */
	PATH_PROBING,    /* REPORT LUNS, INQUIRY, READ CAPACITY, PR */
	PATH_UP,
	PATH_FAILED, /* torn down, about to go to WAIT */
	PATH_GONE,   /* logged out: freed on the next loop turn */
};

/* path_info.c: what a path learnt at login and probe, for -P 3 and
 * kura-multipath (the negotiated keys come from the target's Login
 * Responses, read with MSG_PEEK before libiscsi consumes them). */
enum {
	PI_HDIGEST,
	PI_DDIGEST,
	PI_MAXXMIT,
	PI_FBURST,
	PI_MBURST,
	PI_IMMDATA,
	PI_R2T,
	PI_MAXR2T,
	PI_N
};
struct path_info {
	char vendor[9], product[17]; /* standard INQUIRY of the LUN being probed */
	char keys[PI_N][24];         /* "" = not answered */
};

struct path_lun {
	int lun;
	struct ini_lu *lu;
	int alua_state;
	int tpg;
};

/* Someone waiting for a path's first login (the control socket's LOGIN):
 * told once, on the loop thread, with 0 or an iscsiadm error code. */
struct path_waiter {
	void (*fn)(struct path_waiter *w, int code, const char *msg);
};

struct ini_path {
	struct ini_daemon *d;
	int sid;
	struct nodedb_node_id id;
	char user[128], secret[256], user_in[128], secret_in[256]; /* never logged */
	uint64_t pr_key;
	bool retry_forever; /* startup=automatic or logged in once */
	enum path_state state;
	struct iscsi_context *iscsi;
	int fd;
	struct kloop_fd kfd;
	uint32_t fd_events;     /* what epoll watches on fd now */
	struct kloop_task send; /* path_send_turn: PDUs queued this turn go out */
	bool send_queued;
	uint64_t deadline_ms; /* connect/login/probe deadline, or backoff end */
	uint64_t backoff_ms;
	uint64_t nop_sent_ms, last_ok_ms;
	bool nop_pending;
	int probe_step, probe_lun, n_report;
	int report[INI_MAX_LUNS];
	struct path_lun luns[INI_MAX_LUNS];
	int n_luns;
	struct mpath_ident probe_id;
	int probe_tpgs, probe_alua;
	char digest[32];
	uint64_t probe_blocks;
	uint32_t probe_bs;
	struct ini_io *inflight; /* doubly linked through io->pnext/pprev */
	int n_inflight;
	unsigned failures;
	uint64_t up_since_ms, down_since_ms;
	char last_error[160];
	struct path_waiter *waiter; /* LOGIN waiting for the first login */
	struct kloop_task reap;
	int live_fd; /* path_live.c: TCP probe while waiting, -1 none */
	struct kloop_fd live_kfd;
	uint64_t live_ms;
	bool live_probe;
	bool admin_failed; /* kura-multipath fail path: no I/O until reinstated */
	struct path_info info;
};

struct ini_lu {
	struct ini_daemon *d;
	int index;
	char wwid[40];
	char alias[300]; /* <target>-lun<N> */
	uint64_t blocks;
	uint32_t block_size;
	struct mpath_ident ident;
	struct {
		struct ini_path *p;
		int lun;
	} paths[INI_MAX_LU_PATHS];
	int n_paths;
	struct mpath_sel sel;
	struct mpath_queue q;
	struct ini_io *qhead, *qtail; /* waiting for a path */
	int n_queued;
	bool zeroes_fallback; /* WRITE SAME refused: write zero buffers */
	bool unmap_unsupported;
	uint64_t n_io, n_retries, n_failovers;
	uint64_t last_failover_ms;   /* duration of the last path switch */
	char device[300];            /* how it is presented (FUSE path / NBD socket) */
	char vendor[9], product[17]; /* standard INQUIRY (path_info.c) */
	struct kloop_task kick;
	bool kick_queued;
	uint64_t hold_until_ms; /* BUSY: pause dispatch until then */
	bool gone;              /* last path logged out: not presented (lus_mu) */
	bool paths_changed;     /* mpath_attach: a new path joined (event pending) */
};

enum ini_op { INI_READ, INI_WRITE, INI_FLUSH, INI_UNMAP, INI_ZEROES };

struct ini_io {
	struct kloop_task task;
	struct ini_lu *lu;
	enum ini_op op;
	uint64_t off; /* bytes, block aligned */
	uint32_t len;
	uint8_t *buf;
	bool fua;
	bool unmap; /* INI_ZEROES: may deallocate (reads return zeroes) */
	void (*done)(struct ini_io *io, int res); /* loop thread; res = 0 or -errno */
	void *priv;
	/* private to mpath.c / path.c */
	uint64_t submit_ms, deadline_ms;
	int tries, ua_tries;
	struct ini_path *path;
	struct scsi_task *stask;
	struct ini_io *next, *pnext, *pprev;
	uint8_t *zbuf;
	struct kloop_task retry_task;
};

struct ini_fuse;
struct ini_nbd;
struct ini_names;

/* What the multipath core tells its listeners (front ends, anything that
 * presents or reports LUs). Delivered on the loop thread, in subscription
 * order, after the LU's state has changed. */
enum mpath_event {
	MPATH_EV_LU_ADDED,   /* a new LU (its first path), or one back after LU_REMOVED */
	MPATH_EV_LU_RESIZED, /* a rescan reported a new size (lu->blocks) */
	MPATH_EV_PATH_UP,    /* the LU has a usable path (again): I/O flows */
	MPATH_EV_NO_PATH,    /* the last usable path went: I/O queues */
	MPATH_EV_QUEUE_FAILED, /* queued and new I/O fails (deadline or FAIL-QUEUE) until a path is back */
	MPATH_EV_LU_REMOVED,    /* its last path logged out: devices go, I/O fails (EIO) */
	MPATH_EV_PATHS_CHANGED, /* a path joined or left the LU (it still has one) */
};
struct mpath_listener {
	void (*fn)(struct mpath_listener *l, struct ini_lu *lu, enum mpath_event ev);
	struct mpath_listener *next; /* private to mpath.c */
};

struct ini_daemon {
	struct ini_opts o;
	struct kloop *loop;
	struct ini_path *paths[INI_MAX_PATHS];
	int next_sid;
	struct ini_lu *lus[INI_MAX_LUS];
	int n_lus;
	pthread_mutex_t lus_mu; /* guards n_lus growth and LU sizes for front ends */
	struct kloop_timer tick;
	int ctl_fd;
	void *ctl_priv; /* initiatord_ctl.c's connection set */
	struct kloop_fd ctl_kfd;
	struct mpath_listener *listeners; /* mpath_subscribe() */
	struct ini_fuse *fuse;            /* front ends' state, owned by them */
	struct ini_nbd *nbd;
	struct ini_names *names; /* stable_names.c */
	uint64_t started_ms;
	int sig_fd;
	struct kloop_fd sig_kfd;
};

/* path.c */
struct ini_path *path_new(struct ini_daemon *d, const struct nodedb_node_id *id,
			  const struct nodedb_rec *rec, bool retry_forever);
void path_start(struct ini_path *p);
void path_logout(struct ini_path *p);
void path_tick(struct ini_path *p, uint64_t now);
int path_submit(struct ini_path *p, struct ini_io *io, int lun);
void path_rescan(struct ini_path *p);
const char *path_state_name(enum path_state s);
void path_free(struct ini_path *p);
struct scsi_task;
/* One CDB on this path only (PR pass-through); see path.c. cb is libiscsi's
 * iscsi_command_cb. 0, -ENOTCONN (path not up) or -ENOMEM. */
int path_send_task(struct ini_path *p, int lun, struct scsi_task *t,
		   void (*cb)(struct iscsi_context *, int, void *, void *), void *priv);
/* path_live.c */
void path_live_tick(struct ini_path *p, uint64_t now);
void path_live_stop(struct ini_path *p);

/* path_info.c */
void path_info_login_peek(struct ini_path *p);
void path_info_inquiry(struct ini_path *p, const uint8_t *b, size_t len);
void path_info_attached(const struct ini_path *p, struct ini_lu *lu);
/* "local_address=.. header_digest=.. ..." for SESSION (-P 3) */
void path_info_format(const struct ini_path *p, char *buf, size_t len);

/* mpath_report.c: kura-multipath's view (MAPS) and fail / reinstate path */
void mpath_report_maps(struct ini_daemon *d, void (*emit)(void *arg, const char *line), void *arg);
void mpath_admin_fail(struct ini_path *p, bool failed);
bool mpath_path_active(const struct ini_path *p);

/* stable_names.c: <disk_dir>/by-id and by-path links (an mpath listener) */
int stable_names_start(struct ini_daemon *d);
void stable_names_stop(struct ini_daemon *d);

/* mpath.c */
struct ini_lu *mpath_attach(struct ini_daemon *d, struct ini_path *p, int lun,
			    const struct mpath_ident *id, uint64_t blocks, uint32_t bs);
void mpath_detach_path(struct ini_daemon *d, struct ini_path *p);
void mpath_paths_changed(struct ini_lu *lu);
void mpath_dispatch(struct ini_lu *lu);
void mpath_io_finished(struct ini_io *io, int status, int skey, int asc, int ascq);
void mpath_requeue(struct ini_io *io);
void mpath_tick(struct ini_daemon *d, uint64_t now);
int mpath_fail_queue(struct ini_lu *lu);
/* Listen to the events of every LU, present and future (loop thread; l
 * embedded in the listener's own state, see container_of). */
void mpath_subscribe(struct ini_daemon *d, struct mpath_listener *l);
void mpath_unsubscribe(struct ini_daemon *d, struct mpath_listener *l);
/* Thread-safe entry point for front ends. */
void ini_io_submit(struct ini_daemon *d, struct ini_io *io);
/* The same from the loop thread, without the hop: a front end served by the
 * loop itself (NBD). io->done may run before this returns. */
void ini_io_start(struct ini_io *io);

/* initiatord_ctl.c */
int ctl_start(struct ini_daemon *d);
void ctl_stop(struct ini_daemon *d);
/* For verbs served in other files. A verb that answers later calls
 * ctl_hold(): the connection reads no further request until ctl_end(); if
 * the client goes away first, h->gone runs and the verb must forget c. */
struct ctl_hold {
	void (*gone)(struct ctl_hold *h);
};
void ctl_hold(struct ctl_conn *c, struct ctl_hold *h);
struct ini_daemon *ctl_daemon(struct ctl_conn *c);
void ctl_data(struct ctl_conn *c, const char *payload);      /* one "D" line */
void ctl_end(struct ctl_conn *c, int code, const char *msg); /* OK (0) or ERR code msg */
/* initiatord_pr.c: the PR verb (ctl_proto.h) */
void ctl_verb_pr(struct ctl_conn *c, int argc, char **argv);

/* initiatord.c */
void ini_opts_defaults(struct ini_opts *o);
int ini_daemon_run(const struct ini_opts *o);
void ini_daemon_free(struct ini_daemon *d);
struct ini_path *ini_find_path(struct ini_daemon *d, const char *target, const char *addr,
			       int port);
int ini_add_path(struct ini_daemon *d, struct ini_path *p);
#endif
