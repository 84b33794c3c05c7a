/* SPDX-License-Identifier: Apache-2.0 */
/* The multipath view of kura-initiatord for kura-multipath (control verb
 * MAPS) and the administrator's fail / reinstate of a path (PATH-FAIL,
 * PATH-REINSTATE).
 *
 * MAPS lines (key=value, see ctl_proto.h): one "kind=map" line per
 * presented LU followed by one "kind=path" line per path of it. A path an
 * administrator failed carries no I/O (mpath.c's lu_path_up() skips it)
 * until reinstated, whatever its health; in-flight commands finish where
 * they are.
 *
 * Not for: path selection itself (mpath_core.c, mpath.c) or the client's
 * layouts (multipath_*.c).
 */
#include "initiator/initiatord_internal.h"
#include "common/log.h"
#include <stdio.h>

uint32_t path_isid_rnd(const struct ini_path *p);

static int lu_alua_of(const struct ini_path *p, const struct ini_lu *lu)
{
	for (int k = 0; k < p->n_luns; k++)
		if (p->luns[k].lu == lu)
			return p->luns[k].alua_state;
	return ALUA_UNAVAIL;
}

/* Which path the next command goes to (failover), or whether this path is
 * in the rotation (round-robin): the policy asked on a copy of its state. */
static bool carries_io(const struct ini_lu *lu, int i)
{
	struct mpath_cand c[INI_MAX_LU_PATHS];
	for (int k = 0; k < lu->n_paths; k++) {
		const struct ini_path *q = lu->paths[k].p;
		c[k].up = q->state == PATH_UP && !q->admin_failed;
		c[k].alua_state = lu_alua_of(q, lu);
	}
	if (!c[i].up || mpath_alua_prio(c[i].alua_state) <= 0)
		return false;
	if (lu->d->o.policy == MPATH_ROUND_ROBIN) {
		for (int k = 0; k < lu->n_paths; k++)
			if (c[k].up &&
			    mpath_alua_prio(c[k].alua_state) > mpath_alua_prio(c[i].alua_state))
				return false;
		return true;
	}
	struct mpath_sel sel = lu->sel;
	return mpath_select(c, lu->n_paths, lu->d->o.policy, lu->d->o.failback_immediate, &sel) ==
	       i;
}

static void emit_map(const struct ini_lu *lu, void (*emit)(void *, const char *), void *arg)
{
	char buf[1024];
	const struct ini_daemon *d = lu->d;
	const char *queue = lu->q.failing ? "fail" : d->o.no_path_retry_ms ? "queue" : "fail";
	snprintf(buf, sizeof(buf),
		 "kind=map wwid=%s alias=%s size=%llu block_size=%u device=%s vendor=%s "
		 "product=%s alua=%s policy=%s queue=%s queued=%d no_path_retry_s=%llu",
		 lu->wwid, lu->alias, (unsigned long long)(lu->blocks * lu->block_size),
		 lu->block_size, lu->device[0] ? lu->device : "-", lu->vendor[0] ? lu->vendor : "-",
		 lu->product[0] ? lu->product : "-", lu->ident.tpg >= 0 ? "yes" : "no",
		 d->o.policy == MPATH_ROUND_ROBIN ? "round-robin" : "failover", queue, lu->n_queued,
		 (unsigned long long)(d->o.no_path_retry_ms / 1000));
	emit(arg, buf);
}

static void emit_path(const struct ini_lu *lu, int i, void (*emit)(void *, const char *), void *arg)
{
	char buf[1024];
	const struct ini_path *p = lu->paths[i].p;
	int alua = lu_alua_of(p, lu);
	snprintf(buf, sizeof(buf),
		 "kind=path wwid=%s sid=%d lun=%d target=%s address=%s port=%u tpgt=%d "
		 "state=%s admin=%s alua=%d prio=%d group=%d active=%s isid=80%06x%04x",
		 lu->wwid, p->sid, lu->paths[i].lun, p->id.target, p->id.address, p->id.port,
		 p->id.tpgt, path_state_name(p->state), p->admin_failed ? "failed" : "ok", alua,
		 mpath_alua_prio(alua), p->n_luns && p->luns[0].tpg >= 0 ? p->luns[0].tpg : 0,
		 carries_io(lu, i) ? "yes" : "no", path_isid_rnd(p), p->sid & 0xffff);
	emit(arg, buf);
}

/* Does this path carry the I/O of its first LU now? (SESSIONS active=) */
bool mpath_path_active(const struct ini_path *p)
{
	if (!p->n_luns)
		return false;
	const struct ini_lu *lu = p->luns[0].lu;
	for (int i = 0; i < lu->n_paths; i++)
		if (lu->paths[i].p == p)
			return carries_io(lu, i);
	return false;
}

void mpath_report_maps(struct ini_daemon *d, void (*emit)(void *arg, const char *line), void *arg)
{
	for (int l = 0; l < d->n_lus; l++) {
		const struct ini_lu *lu = d->lus[l];
		if (lu->gone)
			continue;
		emit_map(lu, emit, arg);
		for (int i = 0; i < lu->n_paths; i++)
			emit_path(lu, i, emit, arg);
	}
}

void mpath_admin_fail(struct ini_path *p, bool failed)
{
	if (p->admin_failed == failed)
		return;
	p->admin_failed = failed;
	kinfo("path %d (%s:%u): %s by the administrator", p->sid, p->id.address, p->id.port,
	      failed ? "failed" : "reinstated");
	for (int k = 0; k < p->n_luns; k++) {
		mpath_paths_changed(p->luns[k].lu);
	}
}
