/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd's HA decisions, run by the main thread after every heartbeat
 * round: fence the peers the liveness rules declare dead, then restart the
 * `ha = yes` VMs whose lease is held by a fenced host.
 *
 * Who acts is deterministic and needs no messages between hosts:
 *   - the fencer of a dead host is the live host with the lowest id (two
 *     hosts that disagree both try; the CAW of the fence record and then
 *     PREEMPT AND ABORT on the HA LUN let exactly one win, lock_fence.c);
 *   - the restarter of a VM is its `prefer` host if live, else the live
 *     host with the lowest id (issue 10, item 8).
 * A lease moves only once its owner's slot reads FENCED, i.e. after the fence
 * confirmed the key gone from every LUN (I2): lock_lease_acquire refuses
 * otherwise. LEAVING (drained) hosts are never fenced and their VMs, already
 * moved, are not restarted again.
 *
 * Not for: liveness rules themselves (lock_hb.c), the fence protocol
 * (lock_fence.c), process handling (lockd_vm.c).
 */
#include "cluster-lock/lockd.h"
#include "common/log.h"
#include <string.h>

static struct lockd_view view_of(struct lockd *d, uint16_t id)
{
	pthread_mutex_lock(&d->mu);
	struct lockd_view v = d->view[id];
	pthread_mutex_unlock(&d->mu);
	return v;
}

bool lockd_host_live(struct lockd *d, uint16_t id)
{
	if (id == d->me->id) {
		pthread_mutex_lock(&d->mu);
		bool j = d->self == LOCKD_SELF_JOINED;
		pthread_mutex_unlock(&d->mu);
		return j;
	}
	return view_of(d, id).verdict == LOCK_HB_ALIVE;
}

static uint16_t lowest_live(struct lockd *d, uint16_t exclude)
{
	uint16_t best = 0;
	for (int i = 0; i < d->cfg.n_hosts; i++) {
		uint16_t id = d->cfg.hosts[i].id;
		if (id != exclude && (!best || id < best) && lockd_host_live(d, id))
			best = id;
	}
	return best;
}

/* The placement rule: `prefer` if live (and not EXCLUDE), else lowest live id. */
uint16_t lockd_place(struct lockd *d, const struct lock_vm_cfg *vm, uint16_t exclude)
{
	const struct lock_host_cfg *p = vm->prefer[0] ? lock_config_host(&d->cfg, vm->prefer)
						      : NULL;
	if (p && p->id != exclude && lockd_host_live(d, p->id))
		return p->id;
	return lowest_live(d, exclude);
}

/* The slot now reads FENCED: say so at once, so that the restarts of this
 * round need not wait for the next read of the slots. */
static void mark_fenced(struct lockd *d, uint16_t victim)
{
	pthread_mutex_lock(&d->mu);
	d->view[victim].slot.state = LOCK_SLOT_FENCED;
	d->view[victim].slot.fenced_by = d->me->id;
	d->view[victim].verdict = LOCK_HB_FENCED;
	pthread_mutex_unlock(&d->mu);
}

static void fence_peer(struct lockd *d, uint16_t victim, const struct lock_slot *stale)
{
	struct lock_fence_req req = { .victim = victim,
				      .stale = *stale,
				      .vm_luns = d->all_luns,
				      .n_vm_luns = d->n_all_luns };
	uint64_t t0 = lockd_now_ms();
	const struct lock_host_cfg *h = lock_config_host_by_id(&d->cfg, victim);
	const char *name = h ? h->name : "?";
	kwarn("host %s (id %u) stopped heartbeating (counter still for %llu ms): fencing it", name,
	      victim, (unsigned long long)view_of(d, victim).age_ms);
	int r = lock_fence(d->ha_main, &req);
	if (r == 0) {
		kwarn("host %s fenced in %llu ms", name, (unsigned long long)(lockd_now_ms() - t0));
		mark_fenced(d, victim);
	} else if (r == LOCK_E_FENCED)
		lockd_self_fence(d, "lost a fence race");
	else
		kwarn("fence of host %s: %s (will retry)", name, lock_strerror(r));
}

static void fence_dead(struct lockd *d)
{
	for (int i = 0; i < d->cfg.n_hosts; i++) {
		uint16_t id = d->cfg.hosts[i].id;
		if (id == d->me->id)
			continue;
		struct lockd_view v = view_of(d, id);
		bool mine = v.verdict == LOCK_HB_DEAD && lowest_live(d, id) == d->me->id;
		/* a FENCING record of mine that did not complete: finish it */
		mine |= v.verdict == LOCK_HB_FENCED && v.slot.state == LOCK_SLOT_FENCING &&
			v.slot.fenced_by == d->me->id;
		if (mine)
			fence_peer(d, id, &v.slot);
	}
}

/* Restart VM here if its lease is held by a fenced incarnation and the
 * placement rule names this host. */
static void restart_one(struct lockd *d, struct lockd_vm *vm)
{
	struct lock_lease l;
	if (lock_lease_get(d->ha_main, vm->cfg->name, &l) < 0 || !l.owner || l.owner == d->me->id)
		return;
	struct lockd_view v = view_of(d, l.owner);
	if (v.slot.state != LOCK_SLOT_FENCED || l.owner_incarnation > v.slot.incarnation)
		return;
	if (lockd_place(d, vm->cfg, l.owner) != d->me->id)
		return;
	FILE *devnull = fopen("/dev/null", "w");
	int r = lockd_vm_start(d, vm, devnull);
	if (devnull)
		fclose(devnull);
	kwarn("HA restart of vm %s (its host %u is fenced): %s", vm->cfg->name, l.owner,
	      r ? "failed" : "started");
}

static bool any_fenced_peer(struct lockd *d)
{
	for (int i = 0; i < d->cfg.n_hosts; i++)
		if (d->cfg.hosts[i].id != d->me->id &&
		    view_of(d, d->cfg.hosts[i].id).slot.state == LOCK_SLOT_FENCED)
			return true;
	return false;
}

void lockd_ha_tick(struct lockd *d)
{
	if (!lockd_host_live(d, d->me->id))
		return;
	fence_dead(d);
	if (!any_fenced_peer(d))
		return;
	for (int i = 0; i < d->cfg.n_vms; i++) {
		struct lockd_vm *vm = &d->vm[i];
		if (vm->cfg->ha && vm->pidfd < 0 &&
		    (vm->state == LOCKD_VM_STOPPED || vm->state == LOCKD_VM_FAILED))
			restart_one(d, vm);
	}
}
