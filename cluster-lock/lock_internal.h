/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_internal.h: what the library's files share (internal to
 * cluster-lock/, never included by the daemon): the HA handle and the ops
 * struct through which every disk and reservation operation and the clock
 * go, so that unit tests drive failures and time (STYLE.md: "the lock
 * manager receives its disk I/O and its clock through an ops struct").
 */
#ifndef KURA_LOCK_INTERNAL_H
#define KURA_LOCK_INTERNAL_H

#include "cluster-lock/lock.h"
#include "cluster-lock/lock_ondisk.h"

struct lock_ops {
	/* n blocks of the HA LUN at lba */
	int (*read)(void *ctx, uint64_t lba, uint32_t n, uint8_t *buf);
	/* one block: 0, LOCK_E_MISCOMPARE, LOCK_E_RESV_CONFLICT, or an
	 * unknown outcome (-ETIMEDOUT, -ECONNRESET) */
	int (*caw)(void *ctx, uint64_t lba, const uint8_t *expect, const uint8_t *data);
	/* PREEMPT AND ABORT on the HA LUN (lun NULL: never registers) or on a
	 * VM LUN (registers my key first if needed) */
	int (*preempt)(void *ctx, struct lock_lun *lun, uint64_t my_key, uint64_t victim_key);
	/* 1 if key is registered on lun (NULL: the HA LUN), 0 if not */
	int (*has_key)(void *ctx, struct lock_lun *lun, uint64_t key);
	uint64_t (*now_ns)(void *ctx);
};

struct lock_ha {
	struct lock_lun *lun;
	const struct lock_ops *ops;
	void *ops_ctx;
	char cluster[LOCK_NAME_MAX];
	char host_name[LOCK_NAME_MAX];
	uint16_t host_id;
	unsigned hb_interval_ms, fail_after_ms;
	uint32_t bs;
	struct lock_header hdr;
	bool have_hdr;
	uint32_t incarnation; /* 0 before join / adopt */
	struct lock_slot own; /* my slot as last read or written */
	uint8_t own_blk[LOCK_BLOCK_MAX];
	bool own_valid;
};

extern const struct lock_ops lock_scsi_ops; /* ctx = the struct lock_ha */

/* Header cached in h (read once); sets h->bs. */
int lock_ha_hdr(struct lock_ha *h);
uint64_t lock_ha_key_of(const struct lock_ha *h, uint16_t host_id, uint32_t incarnation);
/* Reads one slot block (raw and decoded): 0 or LOCK_E_CORRUPT or < 0. */
int lock_ha_slot_read(struct lock_ha *h, uint16_t host_id, uint8_t *blk, struct lock_slot *s);
int lock_ha_lease_read(struct lock_ha *h, uint32_t index, uint8_t *blk, struct lock_lease *l);

/* COMPARE AND WRITE of one block with lost-completion resolution (I8):
 * an unknown outcome is resolved by re-reading the block: my new data =
 * success, the expected data = send again (bounded), anything else =
 * LOCK_E_MISCOMPARE with the block now on disk in cur (if not NULL). A
 * target miscompare is checked the same way (a late landing of my own
 * earlier attempt is success, not a conflict). cur must not alias expect. */
int lock_caw_resolve(struct lock_ha *h, uint64_t lba, const uint8_t *expect, const uint8_t *data,
		     uint8_t *cur);

/* Wall seconds for the "for humans" fields only (never for decisions). */
int64_t lock_wall_now(void);

#endif
