/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_hb.c: liveness decisions, pure. The caller feeds the slots it read
 * and the completion times of its own heartbeat writes, with the time taken
 * from CLOCK_BOOTTIME (lock_now_boot_ns) in the daemon or from a fake clock
 * in tests; nothing here reads a clock or a disk, and the wall-time fields
 * of the records are never looked at (I12).
 *
 * A peer is DEAD when its slot (counter, incarnation, state) has not changed
 * for fail_after, counted from the later of (a) the last change this
 * observer saw and (b) the end of the observer's own last stall, and the
 * observer completed at least two heartbeat writes of its own within the
 * last fail_after. (b) is a reading of "the observer completed two writes
 * in that window" that also covers the moment a stall every host saw ends:
 * the observer's writes resume a little before it sees the others' resume,
 * and must not fence them in that gap (I6). An own stall is a gap of more
 * than two intervals between completed own writes.
 *
 * A FENCING slot is reported FENCED, unless it stays unchanged for
 * fail_after under the same rule: then its fencer died half-way (a live one
 * finishes in well under a second) and the slot is DEAD again, so that a
 * survivor takes the fence over (lock_fence with the FENCING record).
 *
 * Not for acting: the daemon decides whom to fence from these verdicts.
 */
#include <string.h>
#include <time.h>
#include "cluster-lock/lock.h"

uint64_t lock_now_boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lock_hb_init(struct lock_hb *hb, uint16_t self_id, unsigned interval_ms,
		  unsigned fail_after_ms)
{
	memset(hb, 0, sizeof(*hb));
	hb->self_id = self_id;
	hb->interval_ns = (uint64_t)(interval_ms ? interval_ms : 1000) * 1000000;
	hb->fail_after_ns = (uint64_t)(fail_after_ms ? fail_after_ms : 10000) * 1000000;
}

static uint64_t last_own(const struct lock_hb *hb)
{
	return hb->own_done_ns[(hb->own_n + LOCK_HB_OWN_RING - 1) % LOCK_HB_OWN_RING];
}

void lock_hb_own_write(struct lock_hb *hb, uint64_t now_ns)
{
	if (hb->own_n == 0 || now_ns - last_own(hb) > 2 * hb->interval_ns)
		hb->own_resume_ns = now_ns;
	hb->own_done_ns[hb->own_n % LOCK_HB_OWN_RING] = now_ns;
	hb->own_n++;
}

/* Own writes completed in (now - window, now]. */
static unsigned own_writes_since(const struct lock_hb *hb, uint64_t since_ns)
{
	unsigned n = 0, have = hb->own_n < LOCK_HB_OWN_RING ? hb->own_n : LOCK_HB_OWN_RING;
	for (unsigned i = 0; i < have; i++)
		if (hb->own_done_ns[i] > since_ns)
			n++;
	return n;
}

static bool slot_changed(const struct lock_hb_peer *p, const struct lock_slot *s)
{
	return !p->seen || p->incarnation != s->incarnation || p->counter != s->counter ||
	       p->state != s->state;
}

static enum lock_hb_verdict by_state(uint16_t state)
{
	switch (state) {
	case LOCK_SLOT_FREE: return LOCK_HB_EMPTY;
	case LOCK_SLOT_LEAVING: return LOCK_HB_LEAVING;
	case LOCK_SLOT_FENCING:
	case LOCK_SLOT_FENCED: return LOCK_HB_FENCED;
	case LOCK_SLOT_LEFT: return LOCK_HB_LEFT;
	default: return LOCK_HB_ALIVE;
	}
}

static enum lock_hb_verdict staleness(const struct lock_hb *hb, const struct lock_hb_peer *p,
				      uint64_t now_ns)
{
	uint64_t from = p->changed_ns > hb->own_resume_ns ? p->changed_ns : hb->own_resume_ns;
	uint64_t stale = now_ns > from ? now_ns - from : 0;
	uint64_t window_start = now_ns > hb->fail_after_ns ? now_ns - hb->fail_after_ns : 0;
	if (stale >= hb->fail_after_ns && own_writes_since(hb, window_start) >= 2)
		return LOCK_HB_DEAD;
	return stale >= 2 * hb->interval_ns ? LOCK_HB_SUSPECT : LOCK_HB_ALIVE;
}

enum lock_hb_verdict lock_hb_observe(struct lock_hb *hb, const struct lock_slot *s, bool corrupt,
				     uint64_t now_ns)
{
	if (corrupt)
		return LOCK_HB_CORRUPT;
	if (s->host_id == 0 || s->host_id > LOCK_MAX_HOSTS)
		return LOCK_HB_CORRUPT;
	struct lock_hb_peer *p = &hb->peer[s->host_id];
	if (slot_changed(p, s)) {
		p->seen = true;
		p->incarnation = s->incarnation;
		p->counter = s->counter;
		p->state = s->state;
		p->changed_ns = now_ns;
	}
	enum lock_hb_verdict v = by_state(s->state);
	if (s->host_id == hb->self_id)
		return v;
	if (s->state == LOCK_SLOT_FENCING) /* a fencer that died half-way */
		return staleness(hb, p, now_ns) == LOCK_HB_DEAD ? LOCK_HB_DEAD : v;
	return v == LOCK_HB_ALIVE ? staleness(hb, p, now_ns) : v;
}

uint64_t lock_hb_age_ms(const struct lock_hb *hb, uint16_t host_id, uint64_t now_ns)
{
	if (host_id == 0 || host_id > LOCK_MAX_HOSTS || !hb->peer[host_id].seen)
		return UINT64_MAX;
	uint64_t at = hb->peer[host_id].changed_ns;
	return now_ns > at ? (now_ns - at) / 1000000 : 0;
}

const char *lock_hb_verdict_name(enum lock_hb_verdict v)
{
	static const char *const names[] = { "empty",   "alive",  "suspect", "dead",
					     "leaving", "fenced", "left",    "corrupt" };
	return v <= LOCK_HB_CORRUPT ? names[v] : "?";
}
