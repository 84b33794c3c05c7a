/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's administration socket (kura-targetctl's other end).
 *
 * Socket: a Unix stream socket at <data_dir>/kura-targetd.sock, mode 0600
 * (created before root is dropped, unlinked at exit); a peer whose SO_PEERCRED uid is
 * neither 0 nor the daemon's own uid is answered "ERR permission denied".
 * Up to 16 clients are served at once (the 17th is answered "ERR too many
 * admin clients" and closed); requests run one after the other, in the
 * order they complete. A client that sends no complete request within 5 s
 * is answered "ERR no request"; one that reads nothing of its answer for
 * 5 s is dropped. A request longer than ADMIN_MAX_LINE is "ERR request too
 * long".
 *
 * Protocol (one request per connection, all ASCII):
 *   request  = one line, at most ADMIN_MAX_LINE bytes, words separated by
 *              single or repeated spaces / tabs, ended by "\n". Words are
 *              printable ASCII (0x21..0x7E); at most ADMIN_MAX_ARGS words.
 *              The word "--json" anywhere asks for JSON output. The parser
 *              (admin_parse.h) decodes it; its reasons are the ERR texts.
 *   response = zero or more lines of output, then one status line:
 *              "OK" or "ERR <reason>". The daemon then closes.
 * Requests:
 *   list targets|portals|luns|sessions [--json]
 *   show lun IQN LUN [--json]
 *   clear-reservation IQN LUN
 *   alua show [--json]
 *   alua set PORT_GROUP STATE   (active-optimized|active-nonoptimized|
 *                                standby|unavailable|transitioning)
 *   acl add|remove IQN INITIATOR
 *   chap add IQN USER SECRET    (SECRET: printable ASCII without spaces;
 *                                kura-targetctl reads it from a file or stdin)
 *   chap remove IQN USER
 *   lun add IQN LUN backend=file|memory [path=P] size=S [block_size=512|4096]
 *           [thin=yes|no]
 *   lun remove IQN LUN [--force]
 *   raid status [NAME] [--json]   level, state, members, rebuild / resync /
 *                                 scrub progress (one object with NAME,
 *                                 else a list)
 *   raid scrub NAME [--repair]    start a scrub (ERR while one runs)
 *   raid scrub NAME --stop        stop it; prints where and its counters
 *   raid fail NAME ROLE           drop a member as if it had failed
 *   raid remove NAME ROLE|PATH    take a failed member or an unused spare
 *                                 out of the array and of the section
 *   raid add-spare NAME PATH      add a hot spare (PATH relative to data_dir;
 *                                 created with member_size if missing)
 *                                 and list it under the section's spares
 *   pool status [NAME] [--json]   chunks, volumes, overcommit, low water
 *   raid create NAME level=L members=P1,P2,... member_size=S [chunk=C]
 *   pool create NAME path=FILE size=S | raid=R [chunk_size=C] [meta=M]
 *                                 new storage at run time (section appended)
 *   pool grow NAME [size=S]       extend a file data store (to S, or to the
 *                                 file's size) and give the pool the chunks;
 *                                 the [pool] size key is set
 *   volume list POOL [--json]     id, size, mapped chunks / bytes, kind,
 *                                 origin, exported as (IQN LUN)
 *   volume create POOL ID size=S
 *   volume resize POOL ID size=S  grow online (exported LUs: 2A/09); a
 *                                 shrink only while not exported
 *   volume delete POOL ID         refused while exported
 *   snapshot create POOL ORIGIN NEW   read-only point-in-time copy
 *   clone create POOL ORIGIN NEW      writable copy (both print the time)
 *   lun add IQN LUN backend=thin pool=P volume=ID [read_only=yes]
 *           [block_size=512|4096]
 *   metrics                   every counter and gauge as the Prometheus text
 *                             exposition format (admin_metrics.c; the
 *                             families are listed in docs/console.md)
 *   raid / pool requests run on the storage control thread (storage.h).
 *   acl / chap / lun / raid / pool changes are saved to the -c FILE
 *   (admin_live.c, through model/conf_write.c) before they apply; with the
 *   embedded default they are run-time only (the reply says so).
 *
 * Not for: anything an initiator does (SCSI), configuration parsing.
 */
#ifndef KURA_ADMIN_H
#define KURA_ADMIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "target/transport/server.h"

struct tgt_admin;
/* Bind path (NULL => <data_dir>/kura-targetd.sock) and serve it on a thread. */
int tgt_admin_start(struct tgt_model *m, struct tgt_server *srv, const char *path,
		    struct tgt_admin **out, char *err, size_t errlen);
void tgt_admin_stop(struct tgt_admin *a);
#endif
