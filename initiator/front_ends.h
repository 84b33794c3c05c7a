/* SPDX-License-Identifier: Apache-2.0 */
/* The front ends of kura-initiatord, all optional: FUSE (fuse_front.c), NBD
 * (nbd_server.c) and the ublk probe (ublk.c). initiatord.c starts and stops
 * them; while running they follow the LUs through the multipath core's
 * events (mpath_subscribe in initiatord_internal.h) and submit I/O with
 * ini_io_submit().
 *
 * Not for: the multipath core (mpath.c, path.c), which must not include this
 * header: it knows nothing of how LUs are presented.
 */
#ifndef KURA_FRONT_ENDS_H
#define KURA_FRONT_ENDS_H
#include "initiator/initiatord_internal.h"

int fuse_front_start(struct ini_daemon *d);
void fuse_front_stop(struct ini_daemon *d);
int nbd_server_start(struct ini_daemon *d);
void nbd_server_stop(struct ini_daemon *d);
int ublk_probe(struct ini_daemon *d);
#endif
