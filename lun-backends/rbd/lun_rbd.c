/* SPDX-License-Identifier: Apache-2.0 */
/* The rbd backend: opening a LUN on a Ceph RBD image, closing it, and the
 * cluster connections the LUNs share.
 *
 * Connections: a rados_t costs a dozen threads and a session with the
 * monitors, so LUNs that name the same (rbd_conf, rbd_user, rbd_keyring)
 * share one, counted by reference; each LUN has its own I/O context (pool,
 * namespace) and image handle.
 *
 * librbd settings kura imposes (on every connection, over ceph.conf):
 *  - rbd_cache = false: a write is acknowledged once RADOS has it on every
 *    replica, so FUA and SYNCHRONIZE CACHE need nothing more (no volatile
 *    cache: WCE = 0), and a read through another gateway sees it at once;
 *  - rbd_skip_partial_discard = false: a discard that covers part of an
 *    object zeroes that part, so unmapped blocks read as zeros (LBPRZ = 1);
 *  - client_mount_timeout = 30: an unreachable cluster fails the LUN's
 *    open after 30 s instead of 300 s.
 *
 * Opening blocks (monitor session, image header): the daemon's start-up or
 * a control thread only.
 *
 * Not for: the data path (lun_rbd_io.c), block status and the size watch
 * (lun_rbd_ctl.c), the configuration keys (lun_rbd_conf.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "lun-backends/rbd/lun_rbd_internal.h"
#include "lun-backends/rbd/rbd_state.h"

struct lun_rbd_conn {
	struct lun_rbd_conn *next;
	char *conf, *user, *keyring; /* keyring "" = the one ceph.conf names */
	rados_t cluster;
	int refs;
};

static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lun_rbd_conn *conns; /* under conns_mu */

static const struct {
	const char *key, *value;
} imposed[] = {
	{ "rbd_cache", "false" },
	{ "rbd_skip_partial_discard", "false" },
	{ "client_mount_timeout", "30" },
};

static int conn_connect(struct lun_rbd_conn *c, char *err, size_t errlen)
{
	int r = rados_create(&c->cluster, c->user);
	if (r < 0) {
		snprintf(err, errlen, "rados_create(%s): %s", c->user, strerror(-r));
		return r;
	}
	r = rados_conf_read_file(c->cluster, c->conf);
	if (r < 0)
		snprintf(err, errlen, "cannot read %s: %s", c->conf, strerror(-r));
	if (r == 0 && c->keyring[0] && (r = rados_conf_set(c->cluster, "keyring", c->keyring)))
		snprintf(err, errlen, "keyring %s: %s", c->keyring, strerror(-r));
	for (size_t i = 0; r == 0 && i < sizeof(imposed) / sizeof(imposed[0]); i++)
		if ((r = rados_conf_set(c->cluster, imposed[i].key, imposed[i].value)) < 0)
			snprintf(err, errlen, "%s: %s", imposed[i].key, strerror(-r));
	if (r == 0 && (r = rados_connect(c->cluster)) < 0)
		snprintf(err, errlen, "cannot connect to the Ceph cluster of %s as client.%s: %s",
			 c->conf, c->user, strerror(-r));
	if (r < 0)
		rados_shutdown(c->cluster);
	return r;
}

static struct lun_rbd_conn *conn_find(const char *conf, const char *user, const char *keyring)
{
	for (struct lun_rbd_conn *c = conns; c; c = c->next)
		if (!strcmp(c->conf, conf) && !strcmp(c->user, user) &&
		    !strcmp(c->keyring, keyring))
			return c;
	return NULL;
}

static void conn_free(struct lun_rbd_conn *c)
{
	free(c->conf);
	free(c->user);
	free(c->keyring);
	free(c);
}

static struct lun_rbd_conn *conn_new(const char *conf, const char *user, const char *keyring)
{
	struct lun_rbd_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->conf = strdup(conf);
	c->user = strdup(user);
	c->keyring = strdup(keyring);
	if (!c->conf || !c->user || !c->keyring) {
		conn_free(c);
		return NULL;
	}
	return c;
}

int lun_rbd_conn_get(const char *conf, const char *user, const char *keyring,
		     struct lun_rbd_conn **out, rados_t *cluster, char *err, size_t errlen)
{
	int r = 0;
	pthread_mutex_lock(&conns_mu);
	struct lun_rbd_conn *c = conn_find(conf, user, keyring);
	if (!c && !(c = conn_new(conf, user, keyring)))
		r = -ENOMEM;
	else if (c->refs == 0 && (r = conn_connect(c, err, errlen)) < 0)
		conn_free(c);
	else if (c->refs++ == 0) {
		c->next = conns;
		conns = c;
	}
	pthread_mutex_unlock(&conns_mu);
	if (r == 0) {
		*out = c;
		*cluster = c->cluster;
	}
	return r;
}

void lun_rbd_conn_put(struct lun_rbd_conn *c)
{
	pthread_mutex_lock(&conns_mu);
	bool last = --c->refs == 0;
	if (last)
		for (struct lun_rbd_conn **p = &conns; *p; p = &(*p)->next)
			if (*p == c) {
				*p = c->next;
				break;
			}
	pthread_mutex_unlock(&conns_mu);
	if (last) {
		rados_shutdown(c->cluster);
		conn_free(c);
	}
}

/* ---------------------------------------------------------------- open / close */

static const char *param_or(const struct lun_backend_params *p, const char *key, const char *dflt)
{
	const char *v = lun_params_get(p, key);
	return v ? v : dflt;
}

static void rbd_release(struct lun_rbd *r)
{
	if (r->watching)
		rbd_update_unwatch(r->image, r->watch_handle);
	lun_rbd_ctl_stop(r);
	rbd_caw_stop(r);
	rbd_state_close(r->state); /* its thread runs locked CAWs on the image */
	rbd_caw_close(r);
	if (r->image)
		rbd_close(r->image);
	if (r->ioctx)
		rados_ioctx_destroy(r->ioctx);
	if (r->conn)
		lun_rbd_conn_put(r->conn);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static int open_ioctx(struct lun_rbd *r, rados_t cluster, char *err, size_t errlen)
{
	int e = rados_ioctx_create(cluster, r->pool, &r->ioctx);
	if (e < 0) {
		r->ioctx = NULL;
		snprintf(err, errlen, "pool %s: %s", r->pool, strerror(-e));
		return e;
	}
	rados_ioctx_set_namespace(r->ioctx, r->ns);
	return 0;
}

static int open_image(struct lun_rbd *r, bool read_only, char *err, size_t errlen)
{
	rbd_image_info_t info;
	int e = read_only ? rbd_open_read_only(r->ioctx, r->name, &r->image, NULL)
			  : rbd_open(r->ioctx, r->name, &r->image, NULL);
	if (e < 0) {
		r->image = NULL;
		snprintf(err, errlen, "image %s/%s%s%s: %s", r->pool, r->ns, r->ns[0] ? "/" : "",
			 r->name, strerror(-e));
		return e;
	}
	if ((e = rbd_stat(r->image, &info, sizeof(info))) < 0) {
		snprintf(err, errlen, "rbd_stat %s: %s", r->name, strerror(-e));
		return e;
	}
	r->obj_size = info.obj_size;
	r->be.size = info.size - info.size % r->be.block_size;
	if (r->be.size == 0) {
		snprintf(err, errlen, "image %s is smaller than one block", r->name);
		return -EINVAL;
	}
	return 0;
}

/* The shared state (reservations across gateways) and COMPARE AND WRITE.
 * A read-only LUN whose user may not create the state object is served
 * without them (its reservations are this gateway's own), with a warning. */
static int open_shared(struct lun_rbd *r, rados_t cluster, bool read_only, char *err, size_t errlen)
{
	int e = rbd_state_open(cluster, r->ioctx, r->image, &r->state, r->unit_id,
			       sizeof(r->unit_id), err, errlen);
	if (r->unit_id[0]) /* the image's own name: the same LU from every gateway */
		r->be.unit_id = r->unit_id;
	if (e < 0 && read_only && r->unit_id[0]) {
		kwarn("rbd: %s: read-only LUN without shared reservations (%s)", r->name, err);
		r->be.ops = &lun_rbd_local_ops;
		return 0;
	}
	return e < 0 ? e : rbd_caw_open(r, err, errlen);
}

static struct lun_rbd *rbd_new(const struct lun_backend_params *p)
{
	struct lun_rbd *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	snprintf(r->pool, sizeof(r->pool), "%s", lun_params_get(p, "rbd_pool"));
	snprintf(r->ns, sizeof(r->ns), "%s", param_or(p, "rbd_namespace", ""));
	snprintf(r->name, sizeof(r->name), "%s", lun_params_get(p, "rbd_image"));
	r->be = (struct lun_backend){ .ops = &lun_rbd_ops,
				      .block_size = p->block_size,
				      .read_only = p->read_only,
				      .zeroes_after_unmap = true,
				      .priv = r };
	return r;
}

int lun_rbd_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		 size_t errlen)
{
	rados_t cluster;
	if (!lun_params_get(p, "rbd_pool") || !lun_params_get(p, "rbd_image")) {
		snprintf(err, errlen, "backend = rbd needs rbd_pool and rbd_image");
		return -EINVAL;
	}
	struct lun_rbd *r = rbd_new(p);
	if (!r)
		return -ENOMEM;
	int e = lun_rbd_conn_get(param_or(p, "rbd_conf", LUN_RBD_CONF_DEFAULT),
				 param_or(p, "rbd_user", LUN_RBD_USER_DEFAULT),
				 param_or(p, "rbd_keyring", ""), &r->conn, &cluster, err, errlen);
	if (e < 0)
		r->conn = NULL;
	if (e == 0)
		e = open_ioctx(r, cluster, err, errlen);
	if (e == 0)
		e = open_image(r, p->read_only, err, errlen);
	if (e == 0)
		e = open_shared(r, cluster, p->read_only, err, errlen);
	if (e == 0 && (e = lun_rbd_ctl_start(r)) < 0)
		snprintf(err, errlen, "control thread: %s", strerror(-e));
	if (e < 0) {
		rbd_release(r);
		return e;
	}
	r->be.optimal_io = r->obj_size <= UINT32_MAX ? (uint32_t)r->obj_size : 0;
	kinfo("rbd: %s/%s%s%s open: %llu bytes, objects of %llu bytes", r->pool, r->ns,
	      r->ns[0] ? "/" : "", r->name, (unsigned long long)r->be.size,
	      (unsigned long long)r->obj_size);
	*out = &r->be;
	return 0;
}

void lun_rbd_close(struct lun_backend *be)
{
	rbd_release(lun_rbd_of(be));
}

/* ---------------------------------------------------------------- public accessors */

bool lun_rbd_is(const struct lun_backend *be)
{
	return be && (be->ops == &lun_rbd_ops || be->ops == &lun_rbd_local_ops);
}

int lun_rbd_handles(struct lun_backend *be, rados_ioctx_t *ioctx, rbd_image_t *image)
{
	if (!lun_rbd_is(be))
		return -EINVAL;
	*ioctx = lun_rbd_of(be)->ioctx;
	*image = lun_rbd_of(be)->image;
	return 0;
}

const char *lun_rbd_pool(const struct lun_backend *be)
{
	return ((const struct lun_rbd *)be->priv)->pool;
}
const char *lun_rbd_namespace(const struct lun_backend *be)
{
	return ((const struct lun_rbd *)be->priv)->ns;
}
const char *lun_rbd_image(const struct lun_backend *be)
{
	return ((const struct lun_rbd *)be->priv)->name;
}

int lun_rbd_snap_create(struct lun_backend *be, const char *snap)
{
	if (!lun_rbd_is(be))
		return -EINVAL;
	return rbd_snap_create(lun_rbd_of(be)->image, snap);
}

int lun_rbd_clone_create(struct lun_backend *be, const char *snap, const char *newname)
{
	if (!lun_rbd_is(be))
		return -EINVAL;
	struct lun_rbd *r = lun_rbd_of(be);
	rbd_image_options_t opts;
	rbd_image_options_create(&opts);
	int e = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_CLONE_FORMAT, 2);
	if (e == 0)
		e = rbd_clone3(r->ioctx, r->name, snap, r->ioctx, newname, opts);
	rbd_image_options_destroy(opts);
	return e;
}
