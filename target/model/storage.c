/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime of the stacked storage declared in the configuration ([raid NAME],
 * [pool NAME], backend = thin / raid LUNs): has the stack builder
 * (lun-backends/lun_stack.h) open each array and pool once, hands their LUNs
 * backends through the registry (a kind whose opening blocks is opened on
 * the control thread), runs the control thread and closes everything in
 * order. The status file is storage_status.c.
 *
 * Threads: a RAID array needs a loop for its background work (metadata,
 * resync, rebuild, scrub); it gets the control thread's kloop, never a
 * worker's. Arrays are assembled on the main thread before that loop runs
 * (lun_raid.h allows it while the loop is not running), pools are opened on
 * the main thread afterwards (their control calls block, so never from a
 * loop callback), and the loop then also carries:
 *  - the low-water notification: the pool's callback (allocating thread,
 *    pool lock held) only posts a task here, which raises UNIT ATTENTION
 *    38/07 THIN PROVISIONING SOFT THRESHOLD REACHED (SBC-4 4.7.3.8) on every
 *    LU of the pool, once per nexus;
 *  - a 250 ms tick that writes <data_dir>/storage.status (array and pool
 *    state, rebuild / scrub progress; format in docs/storage.md), measures
 *    rebuild throughput and picks up scrub requests dropped as
 *    <data_dir>/raid-NAME.scrub (kept beside kura-targetctl's raid scrub);
 *  - the admin socket's raid / pool / volume requests and the opening of
 *    thin volumes for LUNs, at start and at run time (stor_call: posted
 *    here, the caller waits for the answer): the pool's control calls block
 *    on its metadata, so they run here and never on a worker's loop.
 * Shutdown: LUs (volumes) -> pools -> arrays quiesced on the loop (no
 * background step in flight) -> stop the loop -> arrays closed.
 *
 * Not for: parsing (lun-backends/lun_registry.h), building stacks
 * (lun-backends/lun_stack.c), RAID or thin internals (lun-backends/).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/container.h"
#include "common/fileutil.h"
#include "common/log.h"
#include "lun-backends/lun_stack.h"
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"
#include "target/model/storage_internal.h"
#include "target/model/model.h"

/* Relative paths are taken from data_dir, like LUN paths. */
static bool abs_path(const struct tgt_model *m, const char *p, char *out, size_t len)
{
	return lun_stack_path(m->conf->data_dir, p, out, len);
}

static struct lun_stack_env stack_env(const struct tgt_storage_rt *rt)
{
	return (struct lun_stack_env){ .data_dir = rt->m->conf->data_dir, .loop = rt->loop };
}

/* ---------------------------------------------------------------- pools */

static void low_water_ua(struct kloop_task *t)
{
	struct lun_pool_rt *pr = container_of(t, struct lun_pool_rt, ua_task);
	atomic_store(&pr->posted, false);
	pthread_mutex_lock(&pr->mu);
	for (int i = 0; i < pr->n_lus; i++) /* SBC-4 4.7.3.8: soft threshold, once per nexus */
		scsi_lu_raise_ua_all(pr->lus[i], 0x38, 0x07);
	kinfo("pool %s: low-water mark crossed: 38/07 raised on %d LU(s)", pr->name, pr->n_lus);
	pthread_mutex_unlock(&pr->mu);
}

/* Allocating thread, pool lock held: only post. */
static void low_water_cb(void *arg, uint64_t generation)
{
	struct lun_pool_rt *pr = arg;
	if (!atomic_exchange(&pr->posted, true))
		kloop_post(pr->rt->loop, &pr->ua_task);
}

static struct lun_pool_rt *pool_rt_new(struct tgt_storage_rt *rt, const char *name)
{
	struct lun_pool_rt *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	pr->rt = rt;
	snprintf(pr->name, sizeof(pr->name), "%s", name);
	pr->ua_task.fn = low_water_ua;
	pthread_mutex_init(&pr->mu, NULL);
	return pr;
}

static void pool_rt_free(struct lun_pool_rt *pr)
{
	pthread_mutex_destroy(&pr->mu);
	free(pr->lus);
	free(pr);
}

/* Make room for n_raids / n_pools run-time entries (new ones zeroed, no
 * rebuild seen). Control thread, or before it starts. 0 or -ENOMEM. */
static int runs_fit(struct tgt_storage_rt *rt, int n_raids, int n_pools)
{
	if (n_raids > rt->n_raids) {
		struct lun_raid_run *a = realloc(rt->stack.raids, (size_t)n_raids * sizeof(*a));
		if (!a)
			return -ENOMEM;
		for (int i = rt->n_raids; i < n_raids; i++)
			a[i] = (struct lun_raid_run){ .rebuild_role = -1 };
		rt->stack.raids = a;
		rt->n_raids = n_raids;
	}
	if (n_pools > rt->n_pools) {
		struct lun_pool_run *a = realloc(rt->stack.pools, (size_t)n_pools * sizeof(*a));
		if (!a)
			return -ENOMEM;
		memset(a + rt->n_pools, 0, (size_t)(n_pools - rt->n_pools) * sizeof(*a));
		rt->stack.pools = a;
		rt->n_pools = n_pools;
	}
	return 0;
}

static void pools_open(struct tgt_storage_rt *rt)
{
	struct tgt_model *m = rt->m;
	for (int i = 0; i < m->stack.n_pools; i++) {
		const struct lun_pool_conf *pc = &m->stack.pools[i];
		struct lun_pool_run *pst = &rt->stack.pools[i];
		struct lun_pool_rt *pr = pool_rt_new(rt, pc->name);
		if (!pr) {
			pst->failed = true;
			snprintf(pst->why, sizeof(pst->why), "out of memory");
			continue;
		}
		pst->rt = pr;
		struct lun_stack_env env = stack_env(rt);
		if (lun_stack_open_pool(&env, &rt->stack, pc, pst, low_water_cb, pr) < 0) {
			pst->failed = true;
			kerr("pool %s: cannot open: %s; its LUNs answer NOT READY", pc->name,
			     pst->why);
		}
	}
}

/* ---------------------------------------------------------------- admin requests */

static void call_task(struct kloop_task *t)
{
	struct stor_call *c = (struct stor_call *)t;
	int r = c->fn(c);
	pthread_mutex_lock(&c->mu);
	c->result = r;
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int stor_call(struct stor_call *c)
{
	struct tgt_storage_rt *rt = c->m->stor_rt;
	if (!rt || !rt->running)
		return -ENODEV;
	c->t.fn = call_task;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	kloop_post(rt->loop, &c->t);
	pthread_mutex_lock(&c->mu);
	while (!c->done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	return c->result;
}

static int raid_info_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	struct tgt_raid_info *o = c->out;
	if (!rc)
		return -ENOENT;
	memset(o, 0, sizeof(*o));
	o->failed = rr->failed || !rr->be || lun_raid_status(rr->be, &o->st) < 0;
	snprintf(o->why, sizeof(o->why), "%s", rr->why);
	o->last_rebuild_s = rr->last_rebuild_s;
	o->last_rebuild_mib_s = rr->last_rebuild_mib_s;
	return 0;
}

static int pool_info_fn(struct stor_call *c)
{
	struct tgt_pool_info *o = c->out;
	const struct lun_pool_run *pst = call_pool_run(c);
	if (!pst)
		return -ENOENT;
	memset(o, 0, sizeof(*o));
	o->failed = pst->failed || !pst->pool;
	snprintf(o->why, sizeof(o->why), "%s", pst->why);
	if (!o->failed)
		lun_thin_pool_status(pst->pool, &o->st);
	return 0;
}

static int raid_scrub_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	if (!rc || rr->failed || !rr->be)
		return rc ? -ENODEV : -ENOENT;
	int r = lun_raid_scrub_start(rr->be, c->repair);
	if (r == 0)
		kinfo("raid %s: scrub (%s) started (admin)", rc->name,
		      c->repair ? "repair" : "check");
	return r;
}

static int raid_scrub_stop_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	if (!rc || rr->failed || !rr->be)
		return rc ? -ENODEV : -ENOENT;
	int r = lun_raid_scrub_stop(rr->be, c->out);
	if (r == 0)
		kinfo("raid %s: scrub stopped (admin)", rc->name);
	return r;
}

/* Which member path role resolves to, if it may be removed (see lun_raid.h). */
static int remove_role_check(struct lun_raid_run *rr, int role, char *path, char *err,
			     size_t errlen)
{
	static struct lun_raid_status st; /* control thread only */
	if (lun_raid_status(rr->be, &st) < 0 || role >= st.nmembers) {
		snprintf(err, errlen, "no such role");
		return -EINVAL;
	}
	if (st.member[role].state != LUN_RAID_M_FAILED) {
		snprintf(
			err, errlen,
			st.member[role].state == LUN_RAID_M_ACTIVE
				? "member %d is active: fail it first"
				: "member %d is being rebuilt onto: wait for the rebuild, or fail it first",
			role);
		return -EBUSY;
	}
	if (!st.member[role].present && !st.member[role].path[0]) {
		snprintf(err, errlen, "role %d is already missing", role);
		return -ENOENT;
	}
	snprintf(path, PATH_MAX, "%s", st.member[role].path);
	return 0;
}

/* c->role, or -1 and c->path (a member or spare); c->out gets the path
 * removed; c->repair: check only. */
static int raid_remove_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	char *path = c->out;
	if (!rc || rr->failed || !rr->be)
		return rc ? -ENODEV : -ENOENT;
	int role = c->role;
	if (role < 0 && !abs_path(c->m, c->path, path, PATH_MAX)) {
		snprintf(c->err, c->errlen, "path too long");
		return -ENAMETOOLONG;
	}
	if (role < 0)
		role = lun_raid_role_of(rr->be, path);
	int r = role >= 0 ? remove_role_check(rr, role, path, c->err, c->errlen) : 0;
	if (role < 0 && !lun_raid_has_path(rr->be, path)) {
		snprintf(c->err, c->errlen, "%s is not a member or spare of %s", path, rc->name);
		r = -ENOENT;
	}
	if (r < 0 || c->repair)
		return r;
	r = role >= 0 ? lun_raid_remove_member(rr->be, role) : lun_raid_remove_spare(rr->be, path);
	if (r == 0)
		kwarn("raid %s: %s %s removed by the administrator", rc->name,
		      role >= 0 ? "member" : "spare", path);
	else if (r == -ENOSPC)
		snprintf(c->err, c->errlen,
			 "too many members removed or replaced since %s was assembled: restart "
			 "the daemon first",
			 rc->name);
	else
		snprintf(c->err, c->errlen, "cannot remove %s: %s", path, strerror(-r));
	return r;
}

static int raid_fail_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	if (!rc || rr->failed || !rr->be)
		return rc ? -ENODEV : -ENOENT;
	int r = lun_raid_fail_member(rr->be, c->role);
	if (r == 0)
		kwarn("raid %s: role %d failed by the administrator", rc->name, c->role);
	return r;
}

static int raid_spare_fn(struct stor_call *c)
{
	struct lun_raid_conf *rc = call_raid(c);
	struct lun_raid_run *rr = call_raid_run(c);
	char path[PATH_MAX];
	if (!rc || rr->failed || !rr->be)
		return rc ? -ENODEV : -ENOENT;
	if (!abs_path(c->m, c->path, path, sizeof(path))) {
		snprintf(c->err, c->errlen, "path too long");
		return -ENAMETOOLONG;
	}
	int r = !lun_stack_file_exists(path) && rc->member_size
			? lun_stack_ensure_file(path, rc->member_size)
			: 0;
	if (r < 0) {
		snprintf(c->err, c->errlen, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	r = lun_raid_add_spare(rr->be, path, c->err, c->errlen);
	if (r == 0)
		kinfo("raid %s: spare %s added (admin)", rc->name, path);
	return r;
}

/* ---- pool grow ---- */
static int grow_check(struct stor_call *c, const struct lun_pool_conf *pc,
		      const struct lun_pool_run *pst, const char *path, uint64_t *want)
{
	struct stat st;
	if (pc->data_raid >= 0) {
		snprintf(c->err, c->errlen,
			 "pool %s keeps its data on raid %s, and arrays cannot grow (no reshape): "
			 "put new volumes in a new pool",
			 pc->name, pc->data);
		return -EOPNOTSUPP;
	}
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(c->err, c->errlen, "data %s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(c->err, c->errlen,
			 "data %s is not a regular file: only a file data store grows here", path);
		return -EOPNOTSUPP;
	}
	uint64_t cur = pst->data_be->size, chunk;
	struct lun_thin_pool_status ps;
	lun_thin_pool_status(pst->pool, &ps);
	chunk = ps.chunk_size;
	*want = c->size ? c->size : (uint64_t)st.st_size;
	*c->old = cur;
	if (*want / chunk <= ps.chunks_total) {
		snprintf(c->err, c->errlen,
			 c->size ? "the new size must add at least one chunk (%llu bytes) to the "
				   "pool's %llu bytes of data"
				 : "the data file is not larger than the pool's %llu bytes by a "
				   "chunk (%llu bytes): give --size",
			 (unsigned long long)(c->size ? chunk : cur),
			 (unsigned long long)(c->size ? cur : chunk));
		return -EINVAL;
	}
	return 0;
}

static int pool_grow_fn(struct stor_call *c)
{
	struct lun_pool_conf *pc = call_pool(c);
	struct lun_pool_run *pst = call_pool_run(c);
	char path[PATH_MAX];
	uint64_t want = 0;
	if (!pc)
		return -ENOENT;
	if (pst->failed || !pst->pool) {
		snprintf(c->err, c->errlen, "pool %s is not open: %s", pc->name, pst->why);
		return -ENODEV;
	}
	if (!abs_path(c->m, pc->data, path, sizeof(path)))
		return -ENAMETOOLONG;
	int r = grow_check(c, pc, pst, path, &want);
	if (r == 0 && (r = lun_file_grow(pst->data_be, want)) < 0)
		snprintf(c->err, c->errlen, "cannot extend %s: %s", path, strerror(-r));
	if (r < 0)
		return r;
	want = pst->data_be->size; /* rounded to the block size */
	struct lun_thin_pool_status ps;
	lun_thin_pool_status(pst->pool, &ps);
	r = lun_thin_pool_grow(pst->pool, want - want % ps.chunk_size);
	if (r < 0) {
		snprintf(c->err, c->errlen, "the pool did not take the new space: %s",
			 strerror(-r));
		return r;
	}
	lun_thin_pool_status(pst->pool, &ps);
	lun_thin_pool_set_low_water(pst->pool, lun_stack_low_water_chunks(pc, &ps), low_water_cb,
				    pst->rt);
	pc->size = want;
	*c->now = want;
	kinfo("pool %s: grown from %llu to %llu bytes (%llu chunks, %llu free) (admin)", pc->name,
	      (unsigned long long)*c->old, (unsigned long long)want,
	      (unsigned long long)ps.chunks_total, (unsigned long long)ps.chunks_free);
	return 0;
}

int tgt_storage_pool_grow(struct tgt_model *m, int idx, uint64_t new_size, uint64_t *old,
			  uint64_t *now, char *err, size_t errlen)
{
	struct stor_call c = { .fn = pool_grow_fn,
			       .m = m,
			       .idx = idx,
			       .size = new_size,
			       .old = old,
			       .now = now,
			       .err = err,
			       .errlen = errlen };
	err[0] = '\0';
	*old = *now = 0;
	return stor_call(&c);
}

/* ---- raid create / pool create ---- */
static int add_raid_fn(struct stor_call *c)
{
	struct tgt_storage_rt *rt = c->m->stor_rt;
	const struct tgt_config *pa = c->parsed;
	char path[PATH_MAX];
	int i = lun_stack_find_raid(&pa->stack, c->path);
	if (i < 0)
		return -ENOENT;
	struct lun_raid_conf rc = pa->stack.raids[i];
	for (int k = 0; k < rc.n_members; k++)
		if (abs_path(c->m, rc.members[k], path, sizeof(path)) &&
		    lun_stack_file_exists(path)) {
			snprintf(
				c->err, c->errlen,
				"member %s exists: raid create makes new arrays only (to "
				"assemble an existing one, add its section to the file and restart)",
				path);
			return -EEXIST;
		}
	rc.create = true;
	struct lun_stack_env env = stack_env(rt);
	struct lun_raid_run rr = { .rebuild_role = -1 };
	int r = lun_stack_open_raid(&env, &rc, &rr);
	if (r < 0) {
		snprintf(c->err, c->errlen, "%s", rr.why[0] ? rr.why : strerror(-r));
		return r;
	}
	int n = c->m->stack.n_raids;
	int idx = runs_fit(rt, n + 1, rt->n_pools) < 0 ? -ENOMEM : tgt_model_adopt_raid(c->m, &rc);
	if (idx < 0) {
		lun_backend_close(rr.be);
		snprintf(c->err, c->errlen, "out of memory");
		return idx;
	}
	rt->stack.raids[idx] = rr;
	kinfo("raid %s: created at run time (admin)", rc.name);
	return 0;
}

/* Refusals before anything is created: existing metadata, an array in use. */
static int add_pool_check(struct stor_call *c, const struct lun_pool_conf *pc)
{
	char meta[PATH_MAX], data[PATH_MAX];
	if (pc->data_raid < 0 && !pc->size && abs_path(c->m, pc->data, data, sizeof(data)) &&
	    !lun_stack_file_exists(data)) {
		snprintf(c->err, c->errlen, "data file %s does not exist: give --size to create it",
			 data);
		return -ENOENT;
	}
	if (abs_path(c->m, pc->meta, meta, sizeof(meta)) && lun_stack_file_exists(meta) &&
	    !(pc->force_new && lun_thin_meta_probe(meta) == 0)) {
		snprintf(c->err, c->errlen,
			 "metadata file %s exists: pool create makes new pools only (to open "
			 "an existing one, add its section to the file and restart)",
			 meta);
		return -EEXIST;
	}
	for (int k = 0; pc->data_raid >= 0 && k < c->m->stack.n_pools; k++)
		if (c->m->stack.pools[k].data_raid == pc->data_raid) {
			snprintf(c->err, c->errlen, "raid %s already holds pool %s", pc->data,
				 c->m->stack.pools[k].name);
			return -EBUSY;
		}
	return 0;
}

static int add_pool_fn(struct stor_call *c)
{
	struct tgt_storage_rt *rt = c->m->stor_rt;
	struct tgt_model *m = c->m;
	const struct tgt_config *pa = c->parsed;
	int i = lun_stack_find_pool(&pa->stack, c->path);
	if (i < 0)
		return -ENOENT;
	struct lun_pool_conf pc = pa->stack.pools[i];
	pc.data_raid = lun_stack_find_raid(&m->stack, pc.data);
	pc.force_new |= c->force_new; /* pool create --force-new: this once, not saved */
	int r = add_pool_check(c, &pc);
	if (r < 0)
		return r;
	struct lun_pool_run pst = { .rt = pool_rt_new(rt, pc.name) };
	if (!pst.rt || runs_fit(rt, rt->n_raids, m->stack.n_pools + 1) < 0) {
		if (pst.rt)
			pool_rt_free(pst.rt);
		return -ENOMEM;
	}
	struct lun_stack_env env = stack_env(rt);
	r = lun_stack_open_pool(&env, &rt->stack, &pc, &pst, low_water_cb, pst.rt);
	int idx = r < 0 ? r : tgt_model_adopt_pool(m, &pc);
	if (idx < 0) {
		snprintf(c->err, c->errlen, "%s", r < 0 && pst.why[0] ? pst.why : strerror(-idx));
		if (pst.pool)
			lun_thin_pool_close(pst.pool);
		lun_backend_close(pst.data_be);
		pool_rt_free(pst.rt);
		return idx;
	}
	rt->stack.pools[idx] = pst;
	kinfo("pool %s: created at run time (admin)", pc.name);
	return 0;
}

int tgt_storage_add(struct tgt_model *m, const struct tgt_config *parsed, bool pool,
		    const char *name, bool force_new, char *err, size_t errlen)
{
	err[0] = '\0';
	int r = m->stor_rt ? 0 : tgt_storage_open(m, err, errlen); /* no storage at start */
	struct stor_call c = { .fn = pool ? add_pool_fn : add_raid_fn,
			       .m = m,
			       .parsed = parsed,
			       .is_pool = pool,
			       .path = name,
			       .force_new = force_new,
			       .err = err,
			       .errlen = errlen };
	if (r == 0)
		r = stor_call(&c);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "%s", strerror(-r));
	return r;
}


int tgt_storage_raid_info(struct tgt_model *m, int idx, struct tgt_raid_info *out)
{
	struct stor_call c = { .fn = raid_info_fn, .m = m, .idx = idx, .out = out };
	return stor_call(&c);
}

int tgt_storage_pool_info(struct tgt_model *m, int idx, struct tgt_pool_info *out)
{
	struct stor_call c = { .fn = pool_info_fn, .m = m, .idx = idx, .out = out };
	return stor_call(&c);
}

int tgt_storage_raid_scrub(struct tgt_model *m, int idx, bool repair)
{
	struct stor_call c = { .fn = raid_scrub_fn, .m = m, .idx = idx, .repair = repair };
	return stor_call(&c);
}

int tgt_storage_raid_scrub_stop(struct tgt_model *m, int idx, struct lun_raid_status *st)
{
	struct stor_call c = { .fn = raid_scrub_stop_fn, .m = m, .idx = idx, .out = st };
	return stor_call(&c);
}

int tgt_storage_raid_remove(struct tgt_model *m, int idx, int role, const char *what, bool check,
			    char *path, char *err, size_t errlen)
{
	struct stor_call c = { .fn = raid_remove_fn,
			       .m = m,
			       .idx = idx,
			       .role = role,
			       .path = what,
			       .repair = check,
			       .out = path,
			       .err = err,
			       .errlen = errlen };
	err[0] = '\0';
	return stor_call(&c);
}

int tgt_storage_raid_fail(struct tgt_model *m, int idx, int role)
{
	struct stor_call c = { .fn = raid_fail_fn, .m = m, .idx = idx, .role = role };
	return stor_call(&c);
}

int tgt_storage_raid_add_spare(struct tgt_model *m, int idx, const char *path, char *err,
			       size_t errlen)
{
	struct stor_call c = { .fn = raid_spare_fn,
			       .m = m,
			       .idx = idx,
			       .path = path,
			       .err = err,
			       .errlen = errlen };
	err[0] = '\0';
	return stor_call(&c);
}

/* ---------------------------------------------------------------- lifecycle */

static void *control_main(void *arg)
{
	struct tgt_storage_rt *rt = arg;
	int r = kloop_run(rt->loop);
	if (r < 0)
		kerr("storage control loop: %s", strerror(-r));
	return NULL;
}

int tgt_storage_open(struct tgt_model *m, char *err, size_t errlen)
{
	struct tgt_storage_rt *rt = calloc(1, sizeof(*rt));
	if (!rt || !(rt->loop = kloop_new(256))) {
		free(rt);
		snprintf(err, errlen, "storage: cannot create the control loop");
		return -ENOMEM;
	}
	rt->m = m;
	rt->stack.conf = &m->stack;
	m->stor_rt = rt;
	if (runs_fit(rt, m->stack.n_raids, m->stack.n_pools) < 0) {
		snprintf(err, errlen, "storage: out of memory");
		return -ENOMEM;
	}
	char path[PATH_MAX];
	if (abs_path(m, "storage.status", path, sizeof(path)))
		unlink(path); /* never show the last run's state */
	struct lun_stack_env env = stack_env(rt);
	lun_stack_open_raids(&env, &rt->stack); /* loop not running yet (lun_raid.h) */
	rt->tick.fn = tgt_storage_status_tick;
	kloop_timer_start(rt->loop, &rt->tick, STOR_TICK_MS);
	int r = pthread_create(&rt->thread, NULL, control_main, rt);
	if (r) {
		snprintf(err, errlen, "storage: control thread: %s", strerror(r));
		return -r;
	}
	rt->running = true;
	pools_open(rt);
	return 0;
}

/* Control thread: a kind whose opening blocks (a thin volume). */
static int open_lun_fn(struct stor_call *c)
{
	struct lun_conf_lun l = { &c->lun->backend, &c->lun->stor };
	return lun_stack_open_lun(&c->m->stor_rt->stack, &l, c->out, c->opened);
}

/* A snapshot or clone created for its LUN: the pool's lineage file says so. */
static void lun_lineage(struct tgt_model *m, const struct tgt_lun_conf *l)
{
	const struct lun_stack_lun *s = &l->stor;
	int i = s->pool && (s->snapshot || s->clone) ? lun_stack_find_pool(&m->stack, s->pool) : -1;
	if (i >= 0)
		lineage_update(m, &m->stack.pools[i], s->volume, s->snapshot ? "snapshot" : "clone",
			       s->origin);
}

/* Through the registry: the LUN's kind opens it on the stack (on the
 * control thread if that blocks); storage that failed gives an offline
 * backend (NOT READY), anything else is a configuration error. */
int tgt_storage_open_lun(struct tgt_model *m, struct tgt_lun_conf *l, struct lun_backend **out,
			 char *err, size_t errlen)
{
	const struct lun_kind *k = lun_kind_find(l->backend.type);
	struct lun_conf_lun ref = { &l->backend, &l->stor };
	struct lun_stack_open o = { .offline = false };
	struct stor_call c = { .fn = open_lun_fn, .m = m, .lun = l, .out = out, .opened = &o };
	struct lun_stack none = { .conf = &m->stack }; /* no storage runs: no section is found */
	const struct lun_stack *st = m->stor_rt ? &m->stor_rt->stack : &none;
	int r = k && k->open_blocks && m->stor_rt ? stor_call(&c)
						  : lun_stack_open_lun(st, &ref, out, &o);
	if (r == 0 && o.created)
		lun_lineage(m, l);
	if (r == 0 || !o.offline) {
		if (r < 0 && o.why[0])
			snprintf(err, errlen, "%s", o.why);
		return r;
	}
	kerr("LUN %llu (%s %s): %s: answering NOT READY", (unsigned long long)l->lun,
	     l->backend.type, l->stor.raid ? l->stor.raid : l->stor.pool, o.why);
	return lun_offline_open(l->backend.size, l->backend.block_size, out);
}

void tgt_storage_lu_created(struct tgt_model *m, const struct tgt_lun_conf *l, struct scsi_lu *lu)
{
	int i = l->stor.pool ? lun_stack_find_pool(&m->stack, l->stor.pool) : -1;
	struct lun_pool_rt *pr = i >= 0 && m->stor_rt ? m->stor_rt->stack.pools[i].rt : NULL;
	if (!pr)
		return;
	pthread_mutex_lock(&pr->mu);
	struct scsi_lu **n = realloc(pr->lus, (size_t)(pr->n_lus + 1) * sizeof(*n));
	if (n) {
		pr->lus = n;
		pr->lus[pr->n_lus++] = lu;
	}
	pthread_mutex_unlock(&pr->mu);
}

void tgt_storage_lu_removed(struct tgt_model *m, struct scsi_lu *lu)
{
	for (int i = 0; m->stor_rt && i < m->stack.n_pools; i++) {
		struct lun_pool_rt *pr = m->stor_rt->stack.pools[i].rt;
		if (!pr)
			continue;
		pthread_mutex_lock(&pr->mu); /* low_water_ua holds it while it raises */
		for (int k = 0; k < pr->n_lus; k++)
			if (pr->lus[k] == lu)
				pr->lus[k--] = pr->lus[--pr->n_lus];
		pthread_mutex_unlock(&pr->mu);
	}
}

void tgt_storage_forget_lus(struct tgt_model *m)
{
	for (int i = 0; m->stor_rt && i < m->stack.n_pools; i++) {
		struct lun_pool_rt *pr = m->stor_rt->stack.pools[i].rt;
		if (!pr)
			continue;
		pthread_mutex_lock(&pr->mu);
		pr->n_lus = 0;
		pthread_mutex_unlock(&pr->mu);
	}
}

static void pools_close(struct tgt_storage_rt *rt)
{
	for (int i = 0; i < rt->m->stack.n_pools; i++) {
		const struct lun_pool_conf *pc = &rt->m->stack.pools[i];
		struct lun_pool_run *pst = &rt->stack.pools[i];
		if (pst->pool) {
			int r = lun_thin_pool_close(pst->pool);
			if (r < 0)
				kerr("pool %s: close: %s", pc->name, strerror(-r));
		}
		lun_backend_close(pst->data_be); /* the file, or the shared view of an array */
		pst->pool = NULL;
		pst->data_be = NULL;
	}
}

/* Runs on the control loop: are all arrays idle (no step in flight)? */
struct quiesce_req {
	struct kloop_task t;
	struct tgt_storage_rt *rt;
	atomic_int state; /* 0 asked, 1 busy, 2 idle */
};

static void quiesce_fn(struct kloop_task *t)
{
	struct quiesce_req *q = (struct quiesce_req *)t;
	bool idle = true;
	for (int i = 0; i < q->rt->n_raids; i++)
		if (q->rt->stack.raids[i].be)
			idle &= lun_raid_quiesce(q->rt->stack.raids[i].be);
	atomic_store(&q->state, idle ? 2 : 1);
}

/* Let the arrays' background steps in flight finish (up to 5 s) before the
 * loop stops, so that none of their I/O outlives the arrays. */
static void raids_quiesce(struct tgt_storage_rt *rt)
{
	struct quiesce_req q = { .t.fn = quiesce_fn, .rt = rt };
	for (int i = 0; i < 1000; i++) {
		atomic_store(&q.state, 0);
		kloop_post(rt->loop, &q.t);
		while (atomic_load(&q.state) == 0)
			usleep(1000);
		if (atomic_load(&q.state) == 2)
			return;
		usleep(5000);
	}
	kwarn("storage: a RAID background step did not finish within 5 s; closing anyway");
}

void tgt_storage_close(struct tgt_model *m)
{
	struct tgt_storage_rt *rt = m->stor_rt;
	if (!rt)
		return;
	pools_close(rt);
	if (rt->running)
		raids_quiesce(rt);
	if (rt->running) {
		kloop_stop(rt->loop);
		pthread_join(rt->thread, NULL);
	}
	kloop_timer_stop(rt->loop, &rt->tick);
	for (int i = 0; i < rt->n_raids; i++) /* loop stopped: allowed by lun_raid.h */
		lun_backend_close(rt->stack.raids[i].be);
	for (int i = 0; i < rt->n_pools; i++)
		if (rt->stack.pools[i].rt)
			pool_rt_free(rt->stack.pools[i].rt);
	free(rt->stack.raids);
	free(rt->stack.pools);
	kloop_free(rt->loop);
	free(rt);
	m->stor_rt = NULL;
}
