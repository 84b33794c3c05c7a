/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside lun-backends/rbd/ only.
 *
 * One struct lun_rbd per LUN: its image, the I/O context of its pool, a
 * reference on a cluster connection shared by every LUN with the same
 * (rbd_conf, rbd_user, rbd_keyring), and a control thread for the calls
 * librbd has only in blocking form (diff-iterate for GET LBA STATUS, the
 * size after a resize notification).
 *
 * Not for: anything outside this folder.
 */
#ifndef KURA_LUN_RBD_INTERNAL_H
#define KURA_LUN_RBD_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include "lun-backends/lun_internal.h"
#include "lun-backends/rbd/lun_rbd.h"

#define LUN_RBD_NAME_MAX 256

struct lun_rbd_conn;
struct rbd_caw;

struct lun_rbd {
	struct lun_backend be;
	struct lun_rbd_conn *conn;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t obj_size; /* bytes per RADOS object of the image */
	char pool[LUN_RBD_NAME_MAX], ns[LUN_RBD_NAME_MAX], name[LUN_RBD_NAME_MAX];
	/* control thread: a FIFO of kloop_tasks run there, in order */
	pthread_t ctl;
	bool ctl_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct kloop_taskq ctlq; /* under mu */
	bool stop;               /* under mu */
	/* size watch (librbd update_watch -> control thread) */
	uint64_t watch_handle;
	bool watching;
	atomic_bool resize_queued;
	struct kloop_task resize_task;
	void (*size_cb)(void *arg); /* under mu */
	void *size_arg;
	/* shared state (rbd_state.c): PR record across gateways, CAW lock */
	struct rbd_state *state;
	char unit_id[256];   /* "rbd:<fsid>:<pool id>:<namespace>:<image id>" */
	struct rbd_caw *caw; /* rbd_caw.c */
};

static inline struct lun_rbd *lun_rbd_of(struct lun_backend *be)
{
	return be->priv;
}

/* lun_rbd.c: the cluster connection cache (one rados_t per configuration). */
int lun_rbd_conn_get(const char *conf, const char *user, const char *keyring,
		     struct lun_rbd_conn **out, rados_t *cluster, char *err, size_t errlen);
void lun_rbd_conn_put(struct lun_rbd_conn *c);

/* lun_rbd_io.c: the data path. */
extern const struct lun_backend_ops lun_rbd_ops;
void lun_rbd_close(struct lun_backend *be);

/* lun_rbd_ctl.c: the control thread, block status and the size watch. */
int lun_rbd_ctl_start(struct lun_rbd *r);
void lun_rbd_ctl_stop(struct lun_rbd *r);
void lun_rbd_ctl_queue(struct lun_rbd *r, struct kloop_task *t);
void lun_rbd_submit_block_status(struct lun_backend *be, struct lun_io *io);
void lun_rbd_watch_size(struct lun_backend *be, void (*cb)(void *arg), void *arg);

/* lun_rbd_io.c: without the shared state (a read-only LUN that cannot
 * reach it): no LUN_CAP_SHARED_STATE, no COMPARE AND WRITE op. */
extern const struct lun_backend_ops lun_rbd_local_ops;

/* rbd_state.c / rbd_caw.c */
extern const struct lun_shared_state_ops lun_rbd_shared_state;
void lun_rbd_submit_caw(struct lun_backend *be, struct lun_io *io);
/* Set up / stop watching the header (before the state thread ends) / free. */
int rbd_caw_open(struct lun_rbd *r, char *err, size_t errlen);
void rbd_caw_stop(struct lun_rbd *r);
void rbd_caw_close(struct lun_rbd *r);

/* lun_rbd.c: open from a [lun] section's keys (lun_rbd_conf.c validates them). */
int lun_rbd_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		 size_t errlen);
#endif
