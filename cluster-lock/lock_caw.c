/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_caw.c: COMPARE AND WRITE with lost-completion resolution, the only
 * way the library changes a slot or a lease on the HA LUN (I8).
 *
 * Why re-reading is enough: a CAW is atomic on the target, and every writer
 * of a block writes a record that differs from all earlier ones (counter or
 * lver + 1, and the writer's identity), so the block holding exactly my new
 * bytes proves my CAW landed, and the block holding exactly the expected
 * bytes proves no CAW landed yet. Sending the same bytes again is then safe
 * even if the first attempt is still queued somewhere and lands late: both
 * carry the same expected and new data, so whichever runs second
 * miscompares, and a miscompare is resolved by the same re-read (my bytes:
 * success). Anything but LOCK_E_MISCOMPARE / LOCK_E_CONFLICT from the
 * callers means "unknown": read the record again before deciding.
 *
 *   me                         target                  other host
 *   CAW(old -> mine) --------> executes, block = mine
 *        (response lost; my deadline passes; context destroyed)
 *   READ ---------------------> mine                   => success, no resend
 *
 *   CAW(old -> mine) --x (lost before execution)
 *   READ ---------------------> old                    => send again
 *                                                       CAW(old -> theirs) wins
 *   CAW(old -> mine) --------> MISCOMPARE
 *   READ ---------------------> theirs                 => LOCK_E_MISCOMPARE
 * Not for policy: callers decide what the block they lost to means.
 */
#include <errno.h>
#include <string.h>
#include "cluster-lock/lock_internal.h"

#define CAW_ATTEMPTS  4
#define READ_ATTEMPTS 3

static bool unknown_outcome(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNRESET;
}

/* Reads the block, retrying a few times (each read fails over paths). */
static int reread(struct lock_ha *h, uint64_t lba, uint8_t *cur)
{
	int rc = -EIO;
	for (int i = 0; i < READ_ATTEMPTS; i++) {
		rc = h->ops->read(h->ops_ctx, lba, 1, cur);
		if (rc == 0)
			return 0;
	}
	return rc;
}

/* After an unknown outcome or a miscompare: 0 = mine landed, 1 = resend,
 * LOCK_E_MISCOMPARE = someone else's, < 0 = cannot tell. */
static int resolve(struct lock_ha *h, uint64_t lba, const uint8_t *expect, const uint8_t *data,
		   uint8_t *cur)
{
	int rc = reread(h, lba, cur);
	if (rc)
		return rc;
	if (!memcmp(cur, data, h->bs))
		return 0;
	if (!memcmp(cur, expect, h->bs))
		return 1;
	return LOCK_E_MISCOMPARE;
}

int lock_caw_resolve(struct lock_ha *h, uint64_t lba, const uint8_t *expect, const uint8_t *data,
		     uint8_t *cur)
{
	uint8_t tmp[LOCK_BLOCK_MAX];
	uint8_t *c = cur ? cur : tmp;
	int rc = -ETIMEDOUT;
	for (int i = 0; i < CAW_ATTEMPTS; i++) {
		rc = h->ops->caw(h->ops_ctx, lba, expect, data);
		if (rc == 0) {
			if (cur)
				memcpy(cur, data, h->bs);
			return 0;
		}
		if (!unknown_outcome(rc) && rc != LOCK_E_MISCOMPARE)
			return rc;
		int r = resolve(h, lba, expect, data, c);
		if (r != 1)
			return r;
		/* the block still holds the expected bytes: send again */
	}
	return rc;
}
