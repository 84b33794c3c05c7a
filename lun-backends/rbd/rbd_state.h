/* SPDX-License-Identifier: Apache-2.0 */
/* The shared state of an RBD image (lun_backend.h LUN_CAP_SHARED_STATE):
 * one RADOS object next to the image, "kura_state.<image id>" in the
 * image's pool and namespace, that every gateway serving the image
 * replaces with a compare-and-swap on its sequence number and watches
 * (docs/ceph.md "Reservations across gateways"). Used by the rbd backend (lun_rbd*.c) with
 * the cluster connection its image I/O goes through, so that a gateway cut
 * off here (blocklisted) is cut off from the image too.
 *
 * Not for: what the record means (the SCSI layer's persistent reservations).
 */
#ifndef KURA_RBD_STATE_H
#define KURA_RBD_STATE_H
#include <stddef.h>
#include <stdint.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include "common/kloop.h"

#define RBD_STATE_MAX         (1u << 20) /* bytes of one record */
#define RBD_STATE_NOTIFY_MS   5000       /* a gateway that has not reloaded by then is cut off */
#define RBD_STATE_WATCH_S     10         /* the OSDs drop a silent watcher after this */
#define RBD_STATE_BLOCKLIST_S 3600       /* how long a cut-off gateway stays out */

struct rbd_state;

/* Open the state object of image (created empty on first use) and name the
 * image for the SCSI identity: unit_id gets "rbd:<fsid>:<pool id>:<ns>:<image id>". */
int rbd_state_open(rados_t cluster, rados_ioctx_t io, rbd_image_t image, struct rbd_state **out,
		   char *unit_id, size_t unit_len, char *err, size_t errlen);
void rbd_state_close(struct rbd_state *s);
/* lun_shared_state_ops, on s. */
int rbd_state_load(struct rbd_state *s, uint8_t **buf, size_t *len, uint64_t *seq);
void rbd_state_store(struct rbd_state *s, uint64_t seq, const uint8_t *buf, size_t len,
		     void (*done)(void *arg, int result), void *arg);
int rbd_state_watch(struct rbd_state *s, void (*changed)(void *arg),
		    void (*lost)(void *arg, int err), void *arg);
void rbd_state_unwatch(struct rbd_state *s);
/* The state object's name (rbd_caw.c locks it). */
const char *rbd_state_oid(const struct rbd_state *s);
/* Run t->fn(t) on the state's store thread, after the stores queued before. */
void rbd_state_run(struct rbd_state *s, struct kloop_task *t);
#endif
