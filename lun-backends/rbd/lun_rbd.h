/* SPDX-License-Identifier: Apache-2.0 */
/* The rbd kind: a LUN stored in a Ceph RBD image, through librbd.
 *
 * Public part (other folders may call it): recognise an rbd backend and
 * reach its image for what the generic interface does not cover (identity
 * derived from the image, reservation state kept in RADOS beside it,
 * snapshots and clones). Everything else goes through lun_backend.h.
 *
 * Not for: the data path (lun_rbd_io.c) or the connection cache (lun_rbd.c).
 */
#ifndef KURA_LUN_RBD_H
#define KURA_LUN_RBD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include "lun-backends/lun_backend.h"

/* Defaults of the optional keys (docs/ceph.md). */
#define LUN_RBD_CONF_DEFAULT "/etc/ceph/ceph.conf"
#define LUN_RBD_USER_DEFAULT "admin"

bool lun_rbd_is(const struct lun_backend *be);
/* The open image and the I/O context of its pool (and namespace): valid
 * until the backend is closed; librbd / librados calls on them are
 * thread-safe. -EINVAL if be is not an rbd backend. */
int lun_rbd_handles(struct lun_backend *be, rados_ioctx_t *ioctx, rbd_image_t *image);
/* Pool, namespace ("" if none) and image name as configured. */
const char *lun_rbd_pool(const struct lun_backend *be);
const char *lun_rbd_namespace(const struct lun_backend *be);
const char *lun_rbd_image(const struct lun_backend *be);

/* Snapshot and clone of the open image (blocking: a control thread only).
 * snap: a new snapshot of the image; clone: a new image NEW in the same
 * pool and namespace, a copy-on-write child of snapshot SNAP of this image
 * (clone format 2: the snapshot needs no protection). 0 or -errno. */
int lun_rbd_snap_create(struct lun_backend *be, const char *snap);
int lun_rbd_clone_create(struct lun_backend *be, const char *snap, const char *newname);
#endif
