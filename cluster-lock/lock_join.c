/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_join.c: a host's own slot on the HA LUN: join (new incarnation, key
 * registered, slot JOINED by COMPARE AND WRITE), one heartbeat (CAW counter
 * + 1), leave / drain, and marking another host LEAVING. Every write is a
 * CAW expecting the block as I last read or wrote it, so any change made by
 * someone else (a fence, a drain mark, a host that joined with my id) shows
 * up as a miscompare at my next heartbeat and is acted on here.
 * Not for liveness decisions about others (lock_hb.c) nor fencing.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "cluster-lock/lock_internal.h"
#include "cluster-lock/lock_scsi.h"

uint64_t lock_ha_key(const struct lock_ha *h)
{
	return h->incarnation && h->have_hdr ? lock_ha_key_of(h, h->host_id, h->incarnation) : 0;
}

uint32_t lock_ha_incarnation(const struct lock_ha *h)
{
	return h->incarnation;
}
uint16_t lock_ha_tag(const struct lock_ha *h)
{
	return h->have_hdr ? h->hdr.tag : 0;
}

void lock_ha_own_slot(const struct lock_ha *h, struct lock_slot *out)
{
	*out = h->own;
}

void lock_ha_adopt(struct lock_ha *h, uint32_t incarnation)
{
	h->incarnation = incarnation;
	if (lock_ha_hdr(h))
		kwarn("lock: adopt: HA LUN header not readable yet");
	h->own_valid = false;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A JOINED slot whose counter moves during watch_ms belongs to a live host. */
static int check_not_live(struct lock_ha *h, const struct lock_slot *s, unsigned watch_ms)
{
	if (s->state == LOCK_SLOT_FENCING)
		return -EAGAIN; /* a fence of this id is in progress */
	if (s->state != LOCK_SLOT_JOINED)
		return 0;
	uint8_t blk[LOCK_BLOCK_MAX];
	struct lock_slot now;
	sleep_ms(watch_ms ? watch_ms : 2 * h->hb_interval_ms + 500);
	int rc = lock_ha_slot_read(h, h->host_id, blk, &now);
	if (rc)
		return rc;
	return now.counter != s->counter || now.incarnation != s->incarnation ? LOCK_E_INUSE : 0;
}

static void fill_own(struct lock_ha *h, struct lock_slot *s, uint16_t state)
{
	s->state = state;
	s->host_id = h->host_id;
	s->hb_interval_ms = h->hb_interval_ms;
	s->fail_after_ms = h->fail_after_ms;
	s->wall = lock_wall_now();
	snprintf(s->host_name, sizeof(s->host_name), "%s", h->host_name);
}

/* CAW my slot from h->own_blk to s; on success it becomes h->own. */
static int own_caw(struct lock_ha *h, const struct lock_slot *s, uint8_t *cur)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	lock_slot_encode(s, blk, h->bs);
	int rc = lock_caw_resolve(h, lock_slot_lba(h->host_id), h->own_blk, blk, cur);
	if (rc == 0) {
		memcpy(h->own_blk, blk, h->bs);
		h->own = *s;
		h->own_valid = true;
	}
	return rc;
}

static int join_write(struct lock_ha *h, const struct lock_slot *old, uint64_t key)
{
	struct lock_slot s = *old;
	s.incarnation = old->incarnation + 1;
	s.counter = old->counter + 1;
	s.fenced_by = 0;
	s.fenced_boot_ns = 0;
	fill_own(h, &s, LOCK_SLOT_JOINED);
	int rc = own_caw(h, &s, NULL);
	if (rc) { /* someone else changed the slot meanwhile: give the key back */
		lock_lun_unregister(h->lun, key);
		h->incarnation = 0;
		h->own_valid = false;
	}
	return rc;
}

int lock_ha_join(struct lock_ha *h, unsigned watch_ms)
{
	struct lock_slot s;
	if (h->host_id == 0)
		return -EINVAL;
	int rc = lock_ha_slot_read(h, h->host_id, h->own_blk, &s);
	if (!rc)
		rc = check_not_live(h, &s, watch_ms);
	if (!rc)
		rc = lock_ha_slot_read(h, h->host_id, h->own_blk, &s);
	if (rc)
		return rc;
	if (s.incarnation == UINT32_MAX)
		return -EOVERFLOW;
	h->incarnation = s.incarnation + 1;
	uint64_t key = lock_ha_key(h);
	rc = lock_lun_register(h->lun, key);
	if (rc) {
		h->incarnation = 0;
		return rc;
	}
	rc = join_write(h, &s, key);
	if (!rc)
		kinfo("lock: host %u joined with incarnation %u key %016llx", h->host_id,
		      h->incarnation, (unsigned long long)key);
	return rc;
}

/* FENCING by X in my slot while my key is still registered: X won step 1
 * but the key on the HA LUN decides (step 2 serializes). If X's own key is
 * gone, X lost the race to me and will never finish: take my slot back.
 * Otherwise X may still preempt me: do not beat, do not give up (-EAGAIN). */
static int fencing_me(struct lock_ha *h, const struct lock_slot *s, const uint8_t *cur)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	struct lock_slot x;
	int mine = h->ops->has_key(h->ops_ctx, NULL, lock_ha_key(h));
	if (mine <= 0)
		return mine == 0 ? LOCK_E_FENCED : mine;
	int rc = lock_ha_slot_read(h, s->fenced_by, blk, &x);
	if (rc)
		return rc;
	int theirs = h->ops->has_key(h->ops_ctx, NULL, lock_ha_key_of(h, x.host_id, x.incarnation));
	if (theirs != 0)
		return theirs < 0 ? theirs : -EAGAIN;
	kwarn("lock: host %u lost its fence of me: taking my slot back", x.host_id);
	memcpy(h->own_blk, cur, h->bs);
	h->own = *s;
	return LOCK_E_MISCOMPARE; /* caller beats again from this record */
}

/* Somebody else's record in my slot: what does it mean for me? */
static int lost_slot(struct lock_ha *h, const uint8_t *cur)
{
	struct lock_slot s;
	if (lock_slot_decode(cur, h->bs, h->host_id, &s))
		return LOCK_E_CORRUPT;
	if (s.incarnation != h->incarnation || s.state == LOCK_SLOT_FENCED)
		return LOCK_E_FENCED; /* fence complete, or my identity was taken over */
	if (s.state == LOCK_SLOT_FENCING)
		return fencing_me(h, &s, cur);
	memcpy(h->own_blk, cur, h->bs); /* e.g. LEAVING marked by a drain */
	h->own = s;
	return s.state == LOCK_SLOT_LEAVING ? LOCK_E_LEFT : LOCK_E_MISCOMPARE;
}

/* RESERVATION CONFLICT on my own slot: fenced if my key is gone. */
static int conflict(struct lock_ha *h)
{
	int has = h->ops->has_key(h->ops_ctx, NULL, lock_ha_key(h));
	return has == 0 ? LOCK_E_FENCED : LOCK_E_RESV_CONFLICT;
}

static int own_update(struct lock_ha *h, uint16_t state)
{
	uint8_t cur[LOCK_BLOCK_MAX];
	if (!h->incarnation)
		return -EINVAL;
	if (!h->own_valid) {
		int rc = lock_ha_slot_read(h, h->host_id, h->own_blk, &h->own);
		if (rc)
			return rc;
		h->own_valid = true;
		if (h->own.incarnation != h->incarnation || h->own.state == LOCK_SLOT_FENCING ||
		    h->own.state == LOCK_SLOT_FENCED)
			return LOCK_E_FENCED;
	}
	struct lock_slot s = h->own;
	s.counter++;
	fill_own(h, &s, state);
	int rc = own_caw(h, &s, cur);
	if (rc == LOCK_E_MISCOMPARE)
		return lost_slot(h, cur);
	return rc == LOCK_E_RESV_CONFLICT ? conflict(h) : rc;
}

/* One heartbeat. A LEAVING slot stays LEAVING (a drained host may keep
 * beating until it stops; observers never fence it). A 2A/05 seen on the HA
 * LUN is checked at once: is my key still there? */
int lock_ha_heartbeat(struct lock_ha *h)
{
	uint16_t state = h->own_valid && h->own.state == LOCK_SLOT_LEAVING ? LOCK_SLOT_LEAVING
									   : LOCK_SLOT_JOINED;
	int rc = own_update(h, state);
	if (rc == LOCK_E_LEFT) /* adopted the LEAVING mark: write it with my beat */
		rc = own_update(h, LOCK_SLOT_LEAVING) ?: LOCK_E_LEFT;
	else if (rc == LOCK_E_MISCOMPARE) /* took my slot back, or it changed harmlessly */
		rc = own_update(h, state);
	unsigned ev = h->lun ? lock_lun_take_events(h->lun) : 0;
	if (!rc && (ev & LOCK_EV_PREEMPTED) &&
	    h->ops->has_key(h->ops_ctx, NULL, lock_ha_key(h)) == 0)
		rc = LOCK_E_FENCED;
	return rc;
}

int lock_ha_leave(struct lock_ha *h, bool drain)
{
	int rc = own_update(h, drain ? LOCK_SLOT_LEAVING : LOCK_SLOT_LEFT);
	if (!rc && !drain)
		rc = lock_lun_unregister(h->lun, lock_ha_key(h));
	return rc;
}

int lock_ha_mark_leaving(struct lock_ha *h, uint16_t host_id)
{
	uint8_t old[LOCK_BLOCK_MAX], blk[LOCK_BLOCK_MAX];
	struct lock_slot s;
	int rc = lock_ha_slot_read(h, host_id, old, &s);
	if (rc)
		return rc;
	if (s.state == LOCK_SLOT_LEAVING)
		return 0;
	if (s.state != LOCK_SLOT_JOINED)
		return LOCK_E_CONFLICT;
	s.state = LOCK_SLOT_LEAVING;
	s.wall = lock_wall_now();
	lock_slot_encode(&s, blk, h->bs);
	return lock_caw_resolve(h, lock_slot_lba(host_id), old, blk, NULL);
}
