/* SPDX-License-Identifier: Apache-2.0 */
/* The iSCSI server (target/transport/): listeners, worker threads,
 * connections and sessions, serving a live model (target/model/model.h).
 *
 * Not for: parsing or changing the configuration (target/model/) or the
 * admin socket (target/admin/), which call in here.
 */
#ifndef KURA_TGT_SERVER_H
#define KURA_TGT_SERVER_H
#include "target/model/model.h"

struct tgt_server;
/* Bind every portal of m->conf and start its `workers` threads. -errno + reason. */
int tgt_server_start(struct tgt_model *m, struct tgt_server **out, char *err, size_t errlen);
/* Send an Asynchronous Message (request logout) to every session, wait up to
 * grace_ms for them to log out, then close everything and join the threads. */
void tgt_server_shutdown(struct tgt_server *s, unsigned grace_ms);
/* Grace period: return once every worker loop has run one callback posted
 * now (whatever a worker read before that call it has finished using, unless
 * it counted a reference). Blocks; not from a worker. 0 or -ENOMEM. */
int tgt_server_sync_workers(struct tgt_server *s);
/* A snapshot of one session's printable state (kura-targetctl). */
struct tgt_session_info {
	char initiator[224];
	char target[224];
	char peer[72];
	uint8_t isid[6];
	uint16_t tsih;
	bool discovery;
	struct iscsi_session_params params; /* as negotiated */
	uint32_t in_flight;                 /* commands in the window (may be stale) */
	uint64_t cmds;                      /* SCSI commands answered */
	uint64_t data_in_bytes;             /* Data-In sent (reads) */
	uint64_t data_out_bytes;            /* Data-Out received (writes) */
	uint16_t tpgt;                      /* portal group it logged in through */
};
/* Call cb for a copy of every session in full feature phase (the table lock
 * is not held during cb). Returns the count or -ENOMEM. */
int tgt_server_foreach_session(struct tgt_server *srv,
			       void (*cb)(void *arg, const struct tgt_session_info *si), void *arg);
/* After an ACL change of target iqn: close the connection of every normal
 * session on it whose initiator the ACL no longer allows (the initiator sees
 * the connection drop; its re-login is refused). Returns how many. */
int tgt_server_close_revoked(struct tgt_server *srv, const char *iqn);

/* Counters of one portal (index into the configuration's portals), summed
 * over the workers; each worker adds to its own copy (no shared atomics on
 * the data path), so a sum may lag by what is being counted meanwhile. */
struct tgt_portal_stats {
	uint64_t accepted;       /* TCP connections accepted */
	uint64_t open;           /* connections alive now */
	uint64_t logins;         /* logins that reached full feature phase */
	uint64_t login_failures; /* Login Responses with a failure status */
	uint64_t digest_errors;  /* header or data digest mismatches */
};
void tgt_server_portal_stats(struct tgt_server *srv, int portal, struct tgt_portal_stats *out);
/* Connections alive (any state, any portal). */
int tgt_server_conn_count(struct tgt_server *srv);
#endif
