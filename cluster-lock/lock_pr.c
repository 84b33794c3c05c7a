/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_pr.c: a host's persistent-reservation key on a LUN (HA LUN or VM
 * disk): register it for every ISID and every target port of the host's
 * initiator name, make the Write Exclusive - All Registrants reservation,
 * unregister it, preempt a victim's key. Policy on top of lock_scsi.c;
 * nothing here knows about slots or leases.
 *
 * Why name-wide (SPEC_I_PT, TransportID format 00h) plus ALL_TG_PT: the
 * library's own sessions get a new ISID at each reconnect and QEMU's iscsi
 * driver logs in with ISIDs of its own; a registration per I_T nexus would
 * leave a reconnected session unregistered, and under WEAR an unregistered
 * nexus cannot write (RESERVATION CONFLICT looks like a fence). One
 * registration covering the name on every port is the host's key.
 *
 * kura-targetd refuses SPEC_I_PT from a nexus that is already registered
 * and refuses to register a TransportID twice (docs/reservations.md), so a
 * leftover registration of this name with another key (an older
 * incarnation that left without being fenced) is removed first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/log.h"
#include "cluster-lock/lock_scsi.h"

#define MAX_REGS     256
#define UNREG_ROUNDS 8

struct mine {
	int with_key, others;
	uint64_t other_key; /* one of the others' keys */
};

/* My name's registrations: with_key = name-wide ones with `key`; others =
 * everything else under my name (other keys, or per-ISID leftovers). */
static int count_mine(struct lock_lun *l, uint64_t key, struct mine *m)
{
	struct lock_pr_reg *regs = calloc(MAX_REGS, sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	int n = lock_lun_read_full_status(l, regs, MAX_REGS, NULL);
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < n; i++) {
		if (strcasecmp(regs[i].name, lock_lun_initiator(l)) != 0)
			continue;
		if (regs[i].key == key && regs[i].any_isid) {
			m->with_key++;
		} else {
			m->others++;
			m->other_key = regs[i].key;
		}
	}
	free(regs);
	return n < 0 ? n : 0;
}

static int prout(struct lock_lun *l, uint8_t sa, uint64_t rk, uint64_t sark, uint8_t flags)
{
	struct lock_prout p = { .sa = sa,
				.type = LOCK_PR_TYPE_WEAR,
				.flags = flags,
				.rk = rk,
				.sark = sark,
				.tid_name = lock_lun_initiator(l) };
	return lock_lun_prout(l, &p);
}

/* Leftovers my nexus does not match (an older session's ISID): register
 * this nexus with a scratch key (incarnation 0, never a host's key) and
 * preempt them one key at a time, then drop the scratch key. */
static int preempt_leftovers(struct lock_lun *l, uint64_t key, struct mine *m)
{
	uint64_t tmp = key & ~(uint64_t)0xFFFFFFFF;
	int rc = prout(l, LOCK_PR_REGISTER_IGNORE, 0, tmp, LOCK_PRF_APTPL);
	for (int i = 0; !rc && m->others && i < UNREG_ROUNDS; i++) {
		if (m->other_key != tmp)
			rc = prout(l, LOCK_PR_PREEMPT_ABORT, tmp, m->other_key, 0);
		if (!rc)
			rc = count_mine(l, key, m);
		if (!rc && m->others == 1 && m->other_key == tmp)
			break; /* only the scratch registration is left */
	}
	int r2 = prout(l, LOCK_PR_REGISTER, tmp, 0, LOCK_PRF_APTPL);
	return rc ? rc : r2;
}

/* Removes every registration of my name that is not the name-wide one with
 * `key`: first those my nexus matches (REGISTER AND IGNORE, key 0). */
static int drop_stale(struct lock_lun *l, uint64_t key)
{
	struct mine m;
	int rc = count_mine(l, key, &m), before = m.others + 1;
	while (!rc && m.others && m.others < before) {
		kinfo("lock: %s: dropping stale registration key %016llx", lock_lun_initiator(l),
		      (unsigned long long)m.other_key);
		before = m.others;
		rc = prout(l, LOCK_PR_REGISTER_IGNORE, 0, 0, LOCK_PRF_APTPL);
		if (!rc)
			rc = count_mine(l, key, &m);
	}
	if (!rc && m.others)
		rc = preempt_leftovers(l, key, &m);
	if (!rc)
		rc = count_mine(l, key, &m);
	return rc ? rc : (m.others ? -EEXIST : 0);
}

/* READ RESERVATION; RESERVE type 7 if there is none. */
static int ensure_reservation(struct lock_lun *l, uint64_t key)
{
	uint8_t type = 0;
	int rc = lock_lun_read_reservation(l, &type);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return type == LOCK_PR_TYPE_WEAR ? 0 : LOCK_E_RESV_CONFLICT;
	return prout(l, LOCK_PR_RESERVE, key, 0, 0);
}

static int register_path(struct lock_lun *l, uint64_t key)
{
	struct mine m;
	int rc = count_mine(l, key, &m);
	if (!rc && !m.with_key) {
		rc = drop_stale(l, key);
		if (!rc)
			rc = prout(l, LOCK_PR_REGISTER, 0, key,
				   LOCK_PRF_SPEC_I_PT | LOCK_PRF_ALL_TG_PT | LOCK_PRF_APTPL);
	}
	if (!rc)
		rc = ensure_reservation(l, key);
	if (!rc)
		rc = count_mine(l, key, &m);
	if (!rc && !m.with_key)
		rc = -EIO; /* READ FULL STATUS does not confirm it */
	return rc;
}

int lock_lun_register(struct lock_lun *l, uint64_t key)
{
	int rc = 0, ok = 0;
	for (int i = 0; i < lock_lun_paths(l); i++) {
		lock_lun_pin(l, i);
		int r = register_path(l, key);
		if (r == 0)
			ok++;
		else if (r != LOCK_E_UNREACHABLE || !rc)
			rc = r;
	}
	lock_lun_pin(l, -1);
	/* A path that is down now registers when it comes back: the name-wide
	 * registration already covers it on the same LU (I10). */
	return ok ? 0 : rc;
}

/* Removes what my nexus matches: the name-wide registration and, while
 * its session lives, the per-ISID one kura-targetd adds for the nexus that
 * sent the SPEC_I_PT REGISTER (hence several rounds). */
static int unregister_mine(struct lock_lun *l, uint64_t key)
{
	int rc = 0;
	for (int i = 0; i < UNREG_ROUNDS && !rc; i++)
		rc = prout(l, LOCK_PR_REGISTER, key, 0, LOCK_PRF_APTPL);
	return rc == LOCK_E_RESV_CONFLICT ? 0 : rc;
}

/* My key on a nexus I no longer have (the registering session dropped, e.g.
 * after an idle NOP-In timeout, and the per-ISID registration stayed):
 * register this nexus with a scratch key (incarnation 0, never a host's
 * key), PREEMPT AND ABORT my key, drop the scratch key. */
static int preempt_own(struct lock_lun *l, uint64_t key)
{
	uint64_t tmp = key & ~(uint64_t)0xFFFFFFFF;
	int rc = prout(l, LOCK_PR_REGISTER_IGNORE, 0, tmp, LOCK_PRF_APTPL);
	if (!rc)
		rc = prout(l, LOCK_PR_PREEMPT_ABORT, tmp, key, 0);
	int r2 = prout(l, LOCK_PR_REGISTER, tmp, 0, LOCK_PRF_APTPL);
	return rc ? rc : r2;
}

int lock_lun_unregister(struct lock_lun *l, uint64_t key)
{
	int rc = unregister_mine(l, key);
	int has = rc ? rc : lock_lun_has_key(l, key);
	if (has == 1) {
		kinfo("lock: %s: key %016llx left on a dropped session's nexus; preempting it",
		      lock_lun_initiator(l), (unsigned long long)key);
		rc = preempt_own(l, key);
		has = rc ? rc : lock_lun_has_key(l, key);
	}
	return has < 0 ? has : (has ? -EBUSY : 0);
}

/* PREEMPT AND ABORT (SPC-4 5.13.11.2.4): under an all-registrants
 * reservation a non-zero SARK removes every registration with that key and
 * aborts their tasks; the reservation stays. RESERVATION CONFLICT means
 * either my key is gone (I was fenced first) or the victim's is (done). */
int lock_pr_preempt(struct lock_lun *l, uint64_t my_key, uint64_t victim_key, bool may_register)
{
	int rc = lock_lun_has_key(l, my_key);
	if (rc == 0 && may_register)
		rc = lock_lun_register(l, my_key);
	else if (rc == 0)
		return LOCK_E_FENCED;
	else if (rc == 1)
		rc = 0;
	if (!rc)
		rc = prout(l, LOCK_PR_PREEMPT_ABORT, my_key, victim_key, 0);
	if (rc != LOCK_E_RESV_CONFLICT)
		return rc;
	int mine = lock_lun_has_key(l, my_key);
	if (mine == 0)
		return LOCK_E_FENCED;
	int victim = lock_lun_has_key(l, victim_key);
	return mine < 0 ? mine : (victim < 0 ? victim : (victim ? rc : 0));
}

int lock_lun_preempt_abort(struct lock_lun *l, uint64_t my_key, uint64_t victim_key)
{
	return lock_pr_preempt(l, my_key, victim_key, true);
}
