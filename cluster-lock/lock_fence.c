/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_fence.c: survivor S fences victim V (the five steps of the design):
 *  1. CAW V's slot: expected = the stale record S read, new = FENCING by S,
 *     fence_epoch + 1. A miscompare means V (or another fencer) moved.
 *  2. PREEMPT AND ABORT V's key on the HA LUN. The serialization point: if
 *     V fences S at the same time, the target applies one PREEMPT first and
 *     the other host, no longer registered, gets RESERVATION CONFLICT.
 *  3. PREEMPT AND ABORT V's key on every VM LUN where READ KEYS shows it.
 *  4. READ KEYS everywhere: V's key must be gone (I2: no lease moves before).
 *  5. CAW V's slot to FENCED by S. Leases of V may now move (lock_lease.c
 *     accepts a dead owner only when its slot is FENCED).
 *
 * Two hosts fencing each other (A fences B, B fences A):
 *   A: CAW B.slot -> FENCING(A)       B: CAW A.slot -> FENCING(B)
 *   A: PREEMPT key(B) on HA LUN       (applied first by the target)
 *                                     B: PREEMPT key(A) -> RESERVATION CONFLICT,
 *                                        READ KEYS: key(B) gone => LOCK_E_FENCED
 *   A: steps 3..5, B.slot FENCED      B: kills its VMs, stays down
 *   A's next heartbeat miscompares (its slot says FENCING(B)); key(B) is gone,
 *   so A takes its slot back (lock_join.c, fencing_me).
 * Every step goes through h->ops, so tests check the order with a mock.
 * Not for choosing the victim or the fencer (the daemon, from lock_hb).
 */
#include <errno.h>
#include <string.h>
#include "common/log.h"
#include "cluster-lock/lock_internal.h"

#define STEP5_ATTEMPTS 4

static void fence_record(struct lock_ha *h, struct lock_slot *s, uint16_t state)
{
	s->state = state;
	s->fenced_by = h->host_id;
	s->fenced_boot_ns = h->ops->now_ns(h->ops_ctx);
	s->wall = lock_wall_now();
}

/* Step 1, or nothing when the slot is already FENCING by me (a retry). */
static int step1(struct lock_ha *h, const struct lock_fence_req *r, uint8_t *blk,
		 struct lock_slot *s)
{
	uint8_t old[LOCK_BLOCK_MAX];
	*s = r->stale;
	lock_slot_encode(s, old, h->bs);
	if (s->state == LOCK_SLOT_FENCING && s->fenced_by == h->host_id) {
		memcpy(blk, old, h->bs);
		return 0;
	}
	fence_record(h, s, LOCK_SLOT_FENCING);
	s->fence_epoch++;
	lock_slot_encode(s, blk, h->bs);
	return lock_caw_resolve(h, lock_slot_lba(r->victim), old, blk, NULL);
}

/* Step 3: every VM LUN that shows the victim's key. */
static int step3(struct lock_ha *h, const struct lock_fence_req *r, uint64_t me, uint64_t v)
{
	for (int i = 0; i < r->n_vm_luns; i++) {
		int has = h->ops->has_key(h->ops_ctx, r->vm_luns[i], v);
		int rc = has == 1 ? h->ops->preempt(h->ops_ctx, r->vm_luns[i], me, v) : has;
		if (rc)
			return rc;
	}
	return 0;
}

/* Step 4: the victim's key is on none of them. */
static int step4(struct lock_ha *h, const struct lock_fence_req *r, uint64_t v)
{
	int has = h->ops->has_key(h->ops_ctx, NULL, v);
	for (int i = 0; has == 0 && i < r->n_vm_luns; i++)
		has = h->ops->has_key(h->ops_ctx, r->vm_luns[i], v);
	return has == 0 ? 0 : (has < 0 ? has : -EAGAIN);
}

/* Step 5: FENCING(me) -> FENCED(me). The victim cannot write its slot any
 * more (its key is gone), so a miscompare can only be its record being
 * taken back by a fencer that lost, or a retry: CAW over what is there as
 * long as it is still the same incarnation. */
static int step5(struct lock_ha *h, const struct lock_fence_req *r, const uint8_t *fencing,
		 struct lock_slot s)
{
	uint8_t old[LOCK_BLOCK_MAX], blk[LOCK_BLOCK_MAX], cur[LOCK_BLOCK_MAX];
	memcpy(old, fencing, h->bs);
	for (int i = 0; i < STEP5_ATTEMPTS; i++) {
		fence_record(h, &s, LOCK_SLOT_FENCED);
		lock_slot_encode(&s, blk, h->bs);
		int rc = lock_caw_resolve(h, lock_slot_lba(r->victim), old, blk, cur);
		if (rc != LOCK_E_MISCOMPARE)
			return rc;
		if (lock_slot_decode(cur, h->bs, r->victim, &s) ||
		    s.incarnation != r->stale.incarnation)
			return LOCK_E_MISCOMPARE;
		memcpy(old, cur, h->bs); /* the same incarnation: CAW over it */
	}
	return LOCK_E_MISCOMPARE;
}

static int fence_check(struct lock_ha *h, const struct lock_fence_req *r)
{
	if (!h->incarnation || r->victim == 0 || r->victim > LOCK_MAX_HOSTS ||
	    r->victim == h->host_id || r->stale.host_id != r->victim)
		return -EINVAL;
	if (r->stale.state == LOCK_SLOT_FENCED)
		return 1; /* already done */
	return lock_ha_hdr(h);
}

int lock_fence(struct lock_ha *h, const struct lock_fence_req *r)
{
	uint8_t fencing[LOCK_BLOCK_MAX];
	struct lock_slot s;
	int rc = fence_check(h, r);
	if (rc)
		return rc > 0 ? 0 : rc;
	uint64_t me = lock_ha_key(h), v = lock_ha_key_of(h, r->victim, r->stale.incarnation);
	kinfo("lock: fencing host %u (key %016llx)", r->victim, (unsigned long long)v);
	rc = step1(h, r, fencing, &s);
	if (!rc)
		rc = h->ops->preempt(h->ops_ctx, NULL, me, v);
	if (!rc)
		rc = step3(h, r, me, v);
	if (!rc)
		rc = step4(h, r, v);
	if (!rc)
		rc = step5(h, r, fencing, s);
	if (rc == LOCK_E_RESV_CONFLICT && h->ops->has_key(h->ops_ctx, NULL, me) == 0)
		rc = LOCK_E_FENCED; /* the victim fenced me first */
	if (rc)
		kwarn("lock: fence of host %u: %s", r->victim, lock_strerror(rc));
	return rc;
}
