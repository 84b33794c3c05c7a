/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_lease.c: one lease record per VM on the HA LUN, changed only by
 * COMPARE AND WRITE from the record as read to the new one with lver + 1
 * (lock_caw.c resolves lost completions, I8). Each operation is a policy
 * (may I make this change?) applied to the record just read.
 *
 * Finding a VM's record: records are claimed in index order (the lowest
 * free one, by CAW of the free record) and never freed (release keeps the
 * name with owner 0), so a scan that finds no record of the VM below the
 * first free block and then wins the CAW on that block cannot duplicate it:
 * a concurrent claimer of the same name targets the same block and loses.
 * A corrupt lease block is reported and never taken as free; while one
 * exists, a VM not found elsewhere gets LOCK_E_CORRUPT rather than a new
 * record (it might be that VM's).
 *
 * HA restart (I2): a lease owned by another host is taken only when that
 * host's slot is FENCED with the lease's owner incarnation, which the fence
 * writes only after the owner's key is gone from every LUN.
 * Not for deciding who restarts what (the daemon).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cluster-lock/lock_internal.h"

#define CLAIM_ATTEMPTS 8

struct found {
	uint32_t index;
	uint8_t blk[LOCK_BLOCK_MAX];
	struct lock_lease rec;
};

/* Looks vm up in the lease table; else the first free index (*free_ix). */
static int scan(struct lock_ha *h, const char *vm, struct found *f, int64_t *free_ix)
{
	struct lock_image *img = malloc(sizeof(*img));
	if (!img)
		return -ENOMEM;
	int rc = lock_ha_read_leases(h, img);
	if (!rc)
		rc = lock_image_lease(img, vm);
	if (rc >= 0) {
		f->index = (uint32_t)rc;
		f->rec = img->lease[rc];
		lock_lease_encode(&f->rec, f->index, f->blk, h->bs);
		rc = 0;
	}
	*free_ix = -1;
	for (uint32_t i = 0; rc == LOCK_E_NOTFOUND && *free_ix < 0 && i < LOCK_MAX_LEASES; i++)
		if (img->lease_status[i] == LOCK_REC_OK && !img->lease[i].vm[0])
			*free_ix = i;
	free(img);
	return rc;
}

static int claim(struct lock_ha *h, const char *vm, uint32_t index)
{
	uint8_t old[LOCK_BLOCK_MAX], blk[LOCK_BLOCK_MAX];
	struct lock_lease l;
	lock_lease_free(&l);
	lock_lease_encode(&l, index, old, h->bs);
	snprintf(l.vm, sizeof(l.vm), "%s", vm);
	l.lver = 1;
	l.wall = lock_wall_now();
	lock_lease_encode(&l, index, blk, h->bs);
	return lock_caw_resolve(h, lock_lease_lba(index), old, blk, NULL);
}

static int find(struct lock_ha *h, const char *vm, struct found *f)
{
	if (!vm || !vm[0] || strlen(vm) >= LOCK_NAME_MAX)
		return -EINVAL;
	for (int i = 0; i < CLAIM_ATTEMPTS; i++) {
		int64_t free_ix;
		int rc = scan(h, vm, f, &free_ix);
		if (rc != LOCK_E_NOTFOUND)
			return rc;
		if (free_ix < 0)
			return LOCK_E_NOSPACE;
		rc = claim(h, vm, (uint32_t)free_ix);
		if (rc && rc != LOCK_E_MISCOMPARE)
			return rc;
	}
	return -EAGAIN;
}

int lock_lease_get(struct lock_ha *h, const char *vm, struct lock_lease *out)
{
	struct found f;
	int rc = find(h, vm, &f);
	if (!rc)
		*out = f.rec;
	return rc;
}

/* A policy turns the current record into the next one, or refuses. */
typedef int (*lease_policy)(struct lock_ha *h, const struct lock_lease *cur,
			    struct lock_lease *next, uint64_t arg);

static int lease_change(struct lock_ha *h, const char *vm, lease_policy fn, uint64_t arg,
			struct lock_lease *out)
{
	struct found f;
	uint8_t blk[LOCK_BLOCK_MAX];
	int rc = find(h, vm, &f);
	if (rc)
		return rc;
	struct lock_lease next = f.rec;
	rc = fn(h, &f.rec, &next, arg);
	if (rc) {
		if (out)
			*out = f.rec;
		return rc > 0 ? 0 : rc; /* > 0: nothing to change */
	}
	next.lver = f.rec.lver + 1;
	next.wall = lock_wall_now();
	lock_lease_encode(&next, f.index, blk, h->bs);
	rc = lock_caw_resolve(h, lock_lease_lba(f.index), f.blk, blk, NULL);
	if (rc == LOCK_E_MISCOMPARE)
		rc = LOCK_E_CONFLICT; /* it changed since I read it */
	if (!rc && out)
		*out = next;
	return rc;
}

static bool mine(const struct lock_ha *h, const struct lock_lease *l)
{
	return l->owner == h->host_id && l->owner_incarnation == h->incarnation;
}

static void set_owner(struct lock_ha *h, struct lock_lease *n, uint32_t epoch)
{
	n->owner = h->host_id;
	n->owner_incarnation = h->incarnation;
	n->fence_epoch = epoch;
	n->mig_src = n->mig_dst = 0;
	n->mig_phase = LOCK_MIG_NONE;
}

/* The owner's slot says its incarnation was fenced: its key is gone. */
static int owner_fenced(struct lock_ha *h, const struct lock_lease *cur, uint32_t *epoch)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	struct lock_slot s;
	int rc = lock_ha_slot_read(h, cur->owner, blk, &s);
	if (rc)
		return rc;
	*epoch = s.fence_epoch;
	return s.state == LOCK_SLOT_FENCED && s.incarnation == cur->owner_incarnation;
}

static int acquire_policy(struct lock_ha *h, const struct lock_lease *cur, struct lock_lease *next,
			  uint64_t expect_lver)
{
	uint32_t epoch = 0;
	if (expect_lver != UINT64_MAX && cur->lver != expect_lver)
		return LOCK_E_CONFLICT;
	if (mine(h, cur))
		return 1;
	/* my own older incarnation: this daemon restarted and owns its VMs */
	if (cur->owner && cur->owner != h->host_id) {
		int f = owner_fenced(h, cur, &epoch);
		if (f <= 0)
			return f == 0 ? LOCK_E_CONFLICT : f;
	}
	set_owner(h, next, epoch);
	return 0;
}

int lock_lease_acquire(struct lock_ha *h, const char *vm, uint64_t expect_lver,
		       struct lock_lease *out)
{
	return lease_change(h, vm, acquire_policy, expect_lver, out);
}

static int begin_policy(struct lock_ha *h, const struct lock_lease *cur, struct lock_lease *next,
			uint64_t dst)
{
	if (!mine(h, cur) || dst == 0 || dst > LOCK_MAX_HOSTS || dst == h->host_id)
		return mine(h, cur) ? -EINVAL : LOCK_E_CONFLICT;
	next->mig_src = h->host_id;
	next->mig_dst = (uint16_t)dst;
	next->mig_phase = LOCK_MIG_ACTIVE;
	return 0;
}

int lock_lease_migrate_begin(struct lock_ha *h, const char *vm, uint16_t dst,
			     struct lock_lease *out)
{
	return lease_change(h, vm, begin_policy, dst, out);
}

static int handover_policy(struct lock_ha *h, const struct lock_lease *cur, struct lock_lease *next,
			   uint64_t expect_lver)
{
	if (cur->mig_phase != LOCK_MIG_ACTIVE || cur->mig_dst != h->host_id ||
	    cur->lver != expect_lver)
		return LOCK_E_CONFLICT;
	set_owner(h, next, cur->fence_epoch);
	return 0;
}

int lock_lease_handover(struct lock_ha *h, const char *vm, uint64_t expect_lver,
			struct lock_lease *out)
{
	return lease_change(h, vm, handover_policy, expect_lver, out);
}

static int abort_policy(struct lock_ha *h, const struct lock_lease *cur, struct lock_lease *next,
			uint64_t unused)
{
	if (!mine(h, cur))
		return LOCK_E_CONFLICT;
	if (cur->mig_phase == LOCK_MIG_NONE)
		return 1;
	next->mig_src = next->mig_dst = 0;
	next->mig_phase = LOCK_MIG_NONE;
	return 0;
}

int lock_lease_migrate_abort(struct lock_ha *h, const char *vm, struct lock_lease *out)
{
	return lease_change(h, vm, abort_policy, 0, out);
}

static int release_policy(struct lock_ha *h, const struct lock_lease *cur, struct lock_lease *next,
			  uint64_t unused)
{
	if (cur->owner == 0)
		return 1;
	if (!mine(h, cur))
		return LOCK_E_CONFLICT;
	next->owner = 0;
	next->owner_incarnation = 0;
	next->mig_src = next->mig_dst = 0;
	next->mig_phase = LOCK_MIG_NONE;
	return 0;
}

int lock_lease_release(struct lock_ha *h, const char *vm, struct lock_lease *out)
{
	return lease_change(h, vm, release_policy, 0, out);
}
