/* SPDX-License-Identifier: Apache-2.0 */
/* The shared state of an RBD image in one RADOS object (rbd_state.h).
 *
 * Object "kura_state.<image id>": data = u64 LE sequence number, then the
 * record; xattr "kura.seq" = the same number in 20 decimal digits; xattr
 * "kura.gw.<gid>" = "<seq> <client address>" of each gateway that watches
 * it (registered at that seq, see cut_off_silent).
 * The object is created at seq 0 when a gateway first opens the image. A
 * store is one write operation: cmpxattr(kura.seq == seq), write_full,
 * setxattr(kura.seq = seq + 1), so two
 * gateways storing at the same seq never both succeed (-ECANCELED for the
 * second). Then a notify: each other gateway's watch thread reloads (the
 * SCSI layer's changed()) and only then acks; a registered gateway that
 * does not ack within RBD_STATE_NOTIFY_MS (or no longer watches) is
 * blocklisted by the address it registered, so its image I/O fails from
 * then on rather than running on a stale copy.
 *
 *   store thread (gateway A)          watch thread (gateway B)
 *   write op (CAS) -> seq S+1
 *   notify2 ------------------------> changed(): read S+1, apply
 *                                      notify_ack
 *   all acked (or blocklisted) <-----
 *   done(0) -> PROUT completes
 *
 * Two threads per image, because a gateway waiting in notify2 for the
 * others must still ack their notifications (else two gateways storing at
 * once would time each other out). All librados calls here are the
 * synchronous ones, made on these two threads only.
 *
 * Not for: image I/O (lun_rbd_io.c), the record's contents (target/scsi/).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/byteorder.h"
#include "common/kloop.h"
#include "common/log.h"
#include "lun-backends/rbd/lun_rbd_internal.h"
#include "lun-backends/rbd/rbd_state.h"

#define SEQ_XATTR "kura.seq"

/* ---- a thread running queued jobs in order ---- */
struct runner {
	pthread_t th;
	bool started, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct kloop_taskq q;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct kloop_task *t = kloop_taskq_take(&r->q);
		if (!t && r->stop)
			break;
		if (!t) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		kloop_tasks_run(t);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int runner_start(struct runner *r)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->started = pthread_create(&r->th, NULL, runner_main, r) == 0;
	return r->started ? 0 : -EAGAIN;
}

static void runner_post(struct runner *r, struct kloop_task *t)
{
	pthread_mutex_lock(&r->mu);
	kloop_taskq_push(&r->q, t);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void runner_stop(struct runner *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	r->started = false;
}

/* ---- the object ---- */
struct rbd_state {
	rados_t cluster;
	rados_ioctx_t io;
	char oid[128];
	uint64_t gid; /* this client's instance id (notifier id of our notifies) */
	struct runner store, watch;
	uint64_t cookie;
	bool watching;
	void (*changed)(void *arg);
	void (*lost)(void *arg, int err);
	void *arg;
};

static void seq_text(uint64_t seq, char out[21])
{
	snprintf(out, 21, "%020" PRIu64, seq);
}

int rbd_state_load(struct rbd_state *s, uint8_t **buf, size_t *len, uint64_t *seq)
{
	char *b = malloc(RBD_STATE_MAX + 8);
	size_t got = 0;
	int prval = 0;
	*buf = NULL;
	*len = 0;
	*seq = 0;
	if (!b)
		return -ENOMEM;
	rados_read_op_t op = rados_create_read_op();
	rados_read_op_read(op, 0, RBD_STATE_MAX + 8, b, &got, &prval);
	int r = rados_read_op_operate(op, s->io, s->oid, 0);
	rados_release_read_op(op);
	if (r == 0 && prval < 0)
		r = prval;
	if (r == 0 && got >= 8) {
		*seq = get_le64((uint8_t *)b);
		if (got > 8 && (*buf = malloc(got - 8)))
			memcpy(*buf, b + 8, got - 8);
		*len = *buf ? got - 8 : 0;
		r = got > 8 && !*buf ? -ENOMEM : 0;
	}
	free(b);
	return r == -ENOENT ? 0 : r;
}

/* ---- store ---- */
struct store_job {
	struct kloop_task kt;
	struct rbd_state *s;
	uint64_t seq;
	uint8_t *buf; /* u64 seq + record */
	size_t len;
	void (*done)(void *arg, int result);
	void *arg;
};

static int cas_write(struct rbd_state *s, uint64_t seq, const uint8_t *b, size_t len)
{
	char old[21], new[21];
	seq_text(seq, old);
	seq_text(seq + 1, new);
	rados_write_op_t op = rados_create_write_op(); /* the object exists (create_object) */
	rados_write_op_cmpxattr(op, SEQ_XATTR, LIBRADOS_CMPXATTR_OP_EQ, old, 20);
	rados_write_op_write_full(op, (const char *)b, len);
	rados_write_op_setxattr(op, SEQ_XATTR, new, 20);
	int r = rados_write_op_operate(op, s->io, s->oid, NULL, 0);
	rados_release_write_op(op);
	/* the record moved on: another seq, or the object already exists */
	if (r == -ECANCELED || r == -EEXIST || r == -ENODATA)
		return -ECANCELED;
	return r;
}

/* Registrations: xattr "kura.gw.<gid>" = "<seq> <address>", set by a
 * gateway once it watches, at the seq the record had then (compared in the
 * same operation). A notify of seq N must be acked by every gateway
 * registered at a seq below N: it was watching before the record reached
 * N. One that registered at N or later read the record after it got
 * there. */
#define GW_PREFIX "kura.gw."

static void blocklist(struct rbd_state *s, const char *name, const char *addr)
{
	int r = rados_blocklist_add(s->cluster, (char *)addr, RBD_STATE_BLOCKLIST_S);
	kerr("rbd: %s: gateway %s (%s) did not reload the shared state within %d ms: "
	     "blocklisted for %d s: %s",
	     s->oid, name + strlen(GW_PREFIX), addr, RBD_STATE_NOTIFY_MS, RBD_STATE_BLOCKLIST_S,
	     r < 0 ? strerror(-r) : "done");
	if (r == 0)
		rados_rmxattr(s->io, s->oid, name);
}

static bool acked(const struct notify_ack_t *acks, size_t n, uint64_t gid)
{
	for (size_t i = 0; i < n; i++)
		if (acks[i].notifier_id == gid)
			return true;
	return false;
}

/* Every registered gateway that should have acked seq and did not. */
static void cut_off_silent(struct rbd_state *s, uint64_t seq, const struct notify_ack_t *acks,
			   size_t nacks)
{
	rados_xattrs_iter_t it;
	const char *name, *val;
	size_t len;
	char todo[8][2][128];
	int n = 0;
	if (rados_getxattrs(s->io, s->oid, &it) < 0)
		return;
	while (n < 8 && rados_getxattrs_next(it, &name, &val, &len) == 0 && name) {
		char v[160], addr[128];
		unsigned long long at = 0, gid = 0;
		if (strncmp(name, GW_PREFIX, strlen(GW_PREFIX)) || len >= sizeof(v))
			continue;
		memcpy(v, val, len);
		v[len] = '\0';
		gid = strtoull(name + strlen(GW_PREFIX), NULL, 10);
		if (sscanf(v, "%llu %127s", &at, addr) != 2 || at >= seq || gid == s->gid ||
		    acked(acks, nacks, gid))
			continue;
		snprintf(todo[n][0], sizeof(todo[n][0]), "%s", name);
		snprintf(todo[n][1], sizeof(todo[n][1]), "%s", addr);
		n++;
	}
	rados_getxattrs_end(it);
	for (int i = 0; i < n; i++)
		blocklist(s, todo[i][0], todo[i][1]);
	if (n)
		rados_wait_for_latest_osdmap(s->cluster);
}

/* seq: what the record now is. */
static void notify_others(struct rbd_state *s, uint64_t seq)
{
	char *reply = NULL;
	size_t rlen = 0;
	struct notify_ack_t *acks = NULL;
	struct notify_timeout_t *tos = NULL;
	size_t nacks = 0, ntos = 0;
	int r = rados_notify2(s->io, s->oid, "", 0, RBD_STATE_NOTIFY_MS, &reply, &rlen);
	if (r < 0 && r != -ETIMEDOUT)
		kerr("rbd: notify of %s: %s", s->oid, strerror(-r));
	if (reply && rados_decode_notify_response(reply, rlen, &acks, &nacks, &tos, &ntos) == 0) {
		cut_off_silent(s, seq, acks, nacks);
		rados_free_notify_response(acks, nacks, tos);
	} else {
		cut_off_silent(s, seq, NULL, 0);
	}
	if (reply)
		rados_buffer_free(reply);
}

static void store_run(struct kloop_task *kt)
{
	struct store_job *j = (struct store_job *)kt;
	int r = cas_write(j->s, j->seq, j->buf, j->len);
	if (r == 0)
		notify_others(j->s, j->seq + 1);
	j->done(j->arg, r);
	free(j->buf);
	free(j);
}

void rbd_state_store(struct rbd_state *s, uint64_t seq, const uint8_t *buf, size_t len,
		     void (*done)(void *arg, int result), void *arg)
{
	struct store_job *j = calloc(1, sizeof(*j));
	uint8_t *b = len <= RBD_STATE_MAX ? malloc(len + 8) : NULL;
	if (!j || !b) {
		free(j);
		free(b);
		done(arg, len > RBD_STATE_MAX ? -EFBIG : -ENOMEM); /* called before return: */
		return; /* the SCSI layer counts it like any other completion */
	}
	put_le64(b, seq + 1);
	memcpy(b + 8, buf, len);
	*j = (struct store_job){ .kt.fn = store_run,
				 .s = s,
				 .seq = seq,
				 .buf = b,
				 .len = len + 8,
				 .done = done,
				 .arg = arg };
	runner_post(&s->store, &j->kt);
}

/* ---- watch ---- */
struct notify_job {
	struct kloop_task kt;
	struct rbd_state *s;
	uint64_t notify_id, cookie, notifier;
};

static void notify_run(struct kloop_task *kt)
{
	struct notify_job *j = (struct notify_job *)kt;
	struct rbd_state *s = j->s;
	if (j->notifier != s->gid && s->changed)
		s->changed(s->arg); /* reload before the ack: the notifier waits for it */
	rados_notify_ack(s->io, s->oid, j->notify_id, j->cookie, NULL, 0);
	free(j);
}

static void on_notify(void *arg, uint64_t notify_id, uint64_t cookie, uint64_t notifier, void *data,
		      size_t len)
{
	struct rbd_state *s = arg;
	struct notify_job *j = calloc(1, sizeof(*j));
	if (!j)
		return; /* no ack: the notifier cuts this gateway off, which is safe */
	*j = (struct notify_job){ .kt.fn = notify_run,
				  .s = s,
				  .notify_id = notify_id,
				  .cookie = cookie,
				  .notifier = notifier };
	runner_post(&s->watch, &j->kt);
}

/* The watch broke (a connection reset, the OSD timed us out, or we were
 * blocklisted): notifications may have been missed, so watch again and
 * reload; a blocklisted gateway cannot, and its image I/O fails too. */
static void on_watch_error(void *arg, uint64_t cookie, int err);

struct rewatch_job {
	struct kloop_task kt;
	struct rbd_state *s;
	int err;
};

static void rewatch_run(struct kloop_task *kt)
{
	struct rewatch_job *j = (struct rewatch_job *)kt;
	struct rbd_state *s = j->s;
	if (s->watching) {
		rados_unwatch2(s->io, s->cookie);
		int r = rados_watch3(s->io, s->oid, &s->cookie, on_notify, on_watch_error,
				     RBD_STATE_WATCH_S, s);
		s->watching = r == 0;
		if (r == 0 && s->changed)
			s->changed(s->arg);
		else if (s->lost)
			s->lost(s->arg, r < 0 ? r : j->err);
	}
	free(j);
}

static void on_watch_error(void *arg, uint64_t cookie, int err)
{
	struct rbd_state *s = arg;
	struct rewatch_job *j = calloc(1, sizeof(*j));
	kerr("rbd: watch on %s: %s", s->oid, strerror(-err));
	if (!j)
		return;
	*j = (struct rewatch_job){ .kt.fn = rewatch_run, .s = s, .err = err };
	runner_post(&s->watch, &j->kt);
}

/* "[v2:127.0.0.1:0/1234,v1:…]" or "v2:127.0.0.1:0/1234" -> "127.0.0.1:0/1234" */
static void first_addr(const char *in, char *out, size_t cap)
{
	const char *p = in + strspn(in, "[");
	if (!strncmp(p, "v2:", 3) || !strncmp(p, "v1:", 3) || !strncmp(p, "any:", 4))
		p = strchr(p, ':') + 1;
	size_t n = strcspn(p, ",]");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

/* The registration, at the record's current seq (retried if it moves). */
static int register_addr(struct rbd_state *s)
{
	char *addrs = NULL, name[64], addr[128], val[160], seq[21];
	int r = rados_getaddrs(s->cluster, &addrs);
	if (r < 0)
		return r;
	first_addr(addrs, addr, sizeof(addr));
	rados_buffer_free(addrs);
	snprintf(name, sizeof(name), GW_PREFIX "%" PRIu64, s->gid);
	for (int i = 0; i < 100; i++) {
		r = rados_getxattr(s->io, s->oid, SEQ_XATTR, seq, 20);
		if (r != 20)
			return r < 0 ? r : -EINVAL;
		seq[20] = '\0';
		snprintf(val, sizeof(val), "%llu %s", strtoull(seq, NULL, 10), addr);
		rados_write_op_t op = rados_create_write_op();
		rados_write_op_cmpxattr(op, SEQ_XATTR, LIBRADOS_CMPXATTR_OP_EQ, seq, 20);
		rados_write_op_setxattr(op, name, val, strlen(val));
		r = rados_write_op_operate(op, s->io, s->oid, NULL, 0);
		rados_release_write_op(op);
		if (r != -ECANCELED)
			return r;
	}
	return -EBUSY;
}

struct reload_job {
	struct kloop_task kt;
	struct rbd_state *s;
};

static void reload_run(struct kloop_task *kt)
{
	struct reload_job *j = (struct reload_job *)kt;
	if (j->s->changed)
		j->s->changed(j->s->arg);
	free(j);
}

/* Watch, then register (a gateway registered is one that gets every later
 * notify), then reload once on the watch thread: a change stored between
 * the caller's load and the watch would otherwise be missed. */
int rbd_state_watch(struct rbd_state *s, void (*changed)(void *arg),
		    void (*lost)(void *arg, int err), void *arg)
{
	s->changed = changed;
	s->lost = lost;
	s->arg = arg;
	int r = rados_watch3(s->io, s->oid, &s->cookie, on_notify, on_watch_error,
			     RBD_STATE_WATCH_S, s);
	s->watching = r == 0;
	if (r == 0 && (r = register_addr(s)) < 0) {
		rados_unwatch2(s->io, s->cookie);
		s->watching = false;
	}
	struct reload_job *j = r == 0 ? calloc(1, sizeof(*j)) : NULL;
	if (j) {
		*j = (struct reload_job){ .kt.fn = reload_run, .s = s };
		runner_post(&s->watch, &j->kt);
	}
	return r;
}

void rbd_state_unwatch(struct rbd_state *s)
{
	if (!s->watching)
		return;
	rados_unwatch2(s->io, s->cookie);
	rados_watch_flush(s->cluster);
	char name[64];
	snprintf(name, sizeof(name), GW_PREFIX "%" PRIu64, s->gid);
	rados_rmxattr(s->io, s->oid, name);
	s->watching = false;
}

const char *rbd_state_oid(const struct rbd_state *s)
{
	return s->oid;
}

void rbd_state_run(struct rbd_state *s, struct kloop_task *t)
{
	runner_post(&s->store, t);
}

/* ---- open / close ---- */
static int name_image(struct rbd_state *s, rbd_image_t image, char *unit_id, size_t unit_len)
{
	char id[64], fsid[64];
	int r = rbd_get_id(image, id, sizeof(id));
	if (r == 0)
		r = rados_cluster_fsid(s->cluster, fsid, sizeof(fsid));
	if (r < 0)
		return r;
	char ns[256] = "";
	rados_ioctx_get_namespace(s->io, ns, sizeof(ns));
	snprintf(s->oid, sizeof(s->oid), "kura_state.%s", id);
	snprintf(unit_id, unit_len, "rbd:%s:%" PRId64 ":%s:%s", fsid, rados_ioctx_get_id(s->io), ns,
		 id);
	return 0;
}

/* An empty record at seq 0, unless some gateway made the object already. */
static int create_object(struct rbd_state *s)
{
	char zero[21];
	uint8_t hdr[8] = { 0 };
	seq_text(0, zero);
	rados_write_op_t op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_write_full(op, (const char *)hdr, 8);
	rados_write_op_setxattr(op, SEQ_XATTR, zero, 20);
	int r = rados_write_op_operate(op, s->io, s->oid, NULL, 0);
	rados_release_write_op(op);
	return r == -EEXIST ? 0 : r;
}

int rbd_state_open(rados_t cluster, rados_ioctx_t io, rbd_image_t image, struct rbd_state **out,
		   char *unit_id, size_t unit_len, char *err, size_t errlen)
{
	struct rbd_state *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cluster = cluster;
	s->io = io;
	s->gid = rados_get_instance_id(cluster);
	int r = name_image(s, image, unit_id, unit_len);
	if (r == 0)
		r = create_object(s);
	if (r == 0)
		r = runner_start(&s->store);
	if (r == 0)
		r = runner_start(&s->watch);
	if (r < 0) {
		snprintf(err, errlen, "shared state object %s: %s", s->oid, strerror(-r));
		rbd_state_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void rbd_state_close(struct rbd_state *s)
{
	if (!s)
		return;
	rbd_state_unwatch(s);
	runner_stop(&s->store);
	runner_stop(&s->watch);
	free(s);
}

/* ---- LUN_CAP_SHARED_STATE of the rbd backend ---- */
static int ss_load(struct lun_backend *be, uint8_t **buf, size_t *len, uint64_t *seq)
{
	return rbd_state_load(lun_rbd_of(be)->state, buf, len, seq);
}

static void ss_store(struct lun_backend *be, uint64_t seq, const uint8_t *buf, size_t len,
		     void (*done)(void *arg, int result), void *arg)
{
	rbd_state_store(lun_rbd_of(be)->state, seq, buf, len, done, arg);
}

static int ss_watch(struct lun_backend *be, void (*changed)(void *arg),
		    void (*lost)(void *arg, int err), void *arg)
{
	return rbd_state_watch(lun_rbd_of(be)->state, changed, lost, arg);
}

static void ss_unwatch(struct lun_backend *be)
{
	rbd_state_unwatch(lun_rbd_of(be)->state);
}

const struct lun_shared_state_ops lun_rbd_shared_state = {
	.load = ss_load,
	.store = ss_store,
	.watch = ss_watch,
	.unwatch = ss_unwatch,
};
