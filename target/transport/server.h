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
};
/* Call cb for a copy of every session in full feature phase (the table lock
 * is not held during cb). Returns the count or -ENOMEM. */
int tgt_server_foreach_session(struct tgt_server *srv,
			       void (*cb)(void *arg, const struct tgt_session_info *si), void *arg);
/* After an ACL change of target iqn: close the connection of every normal
 * session on it whose initiator the ACL no longer allows (the initiator sees
 * the connection drop; its re-login is refused). Returns how many. */
int tgt_server_close_revoked(struct tgt_server *srv, const char *iqn);
#endif
