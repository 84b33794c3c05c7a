/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_scsi.h: SCSI commands of the lock manager over libiscsi (internal to
 * cluster-lock/). One libiscsi context per path, synchronous calls with a
 * per-I/O deadline built on the async API and poll(); a path that misses
 * its deadline is dropped (context destroyed, reconnected on next use) and
 * the next path is tried. Unit attentions are consumed, recorded as events
 * and the command retried (I9): a UA is never success. Sense is decoded into
 * the LOCK_E_* values. Not for policy: callers decide what a miscompare or a
 * conflict means.
 */
#ifndef KURA_LOCK_SCSI_H
#define KURA_LOCK_SCSI_H

#include <stddef.h>
#include <stdint.h>
#include "cluster-lock/lock.h"

/* PERSISTENT RESERVE OUT service actions (SPC-4 table 169) and flags. */
#define LOCK_PR_REGISTER        0x00
#define LOCK_PR_RESERVE         0x01
#define LOCK_PR_RELEASE         0x02
#define LOCK_PR_CLEAR           0x03
#define LOCK_PR_PREEMPT         0x04
#define LOCK_PR_PREEMPT_ABORT   0x05
#define LOCK_PR_REGISTER_IGNORE 0x06
#define LOCK_PR_TYPE_WEAR       0x07 /* Write Exclusive - All Registrants */
#define LOCK_PRF_APTPL          0x01
#define LOCK_PRF_ALL_TG_PT      0x04
#define LOCK_PRF_SPEC_I_PT      0x08

struct lock_prout {
	uint8_t sa, type, flags;
	uint64_t rk, sark;
	const char *tid_name; /* SPEC_I_PT: TransportID format 00h for this name */
};

/* One registration from READ FULL STATUS (SPC-4 6.15.5). */
struct lock_pr_reg {
	uint64_t key;
	bool holder, all_tg_pt, any_isid; /* any_isid: TransportID format 00h */
	uint8_t type;
	uint16_t rel_port;
	char name[LOCK_INITIATOR_MAX];
};

struct lock_sense {
	uint8_t status, key;
	uint16_t asc_ascq;
};

/* Block size and capacity (READ CAPACITY 16), cached after the first call. */
int lock_lun_geometry(struct lock_lun *l, uint32_t *block_size, uint64_t *blocks);
/* READ(16) FUA of n blocks at lba; retried over paths. */
int lock_lun_read(struct lock_lun *l, uint64_t lba, uint32_t n, uint8_t *buf);
/* WRITE(16) FUA (format only: every other HA LUN write is a CAW). */
int lock_lun_write(struct lock_lun *l, uint64_t lba, uint32_t n, const uint8_t *buf);
/* COMPARE AND WRITE of one block, FUA. 0, LOCK_E_MISCOMPARE, or
 * -ETIMEDOUT / -ECONNRESET: outcome unknown (not retried: the caller
 * re-reads the block to resolve it, I8). */
int lock_lun_caw(struct lock_lun *l, uint64_t lba, const uint8_t *expect, const uint8_t *data);
int lock_lun_prout(struct lock_lun *l, const struct lock_prout *p);
/* READ FULL STATUS: up to max registrations, returns the count. */
int lock_lun_read_full_status(struct lock_lun *l, struct lock_pr_reg *regs, int max,
			      uint32_t *generation);
/* READ RESERVATION: 1 and *type if a reservation exists, 0 if none. */
int lock_lun_read_reservation(struct lock_lun *l, uint8_t *type);
/* PREEMPT AND ABORT victim_key; may_register: register my_key first when
 * it is absent (VM disks), else an absent key is LOCK_E_FENCED (HA LUN: a
 * fenced host never registers itself again, I4). */
int lock_pr_preempt(struct lock_lun *l, uint64_t my_key, uint64_t victim_key, bool may_register);
struct lock_sense lock_lun_last_sense(const struct lock_lun *l);
const char *lock_lun_initiator(const struct lock_lun *l);
/* Number of paths; pin all commands to one path (-1: fail over again). */
int lock_lun_paths(const struct lock_lun *l);
void lock_lun_pin(struct lock_lun *l, int path);
/* Pure: the WWID "naa.<hex>" of a VPD 0x83 page (the longest NAA designator
 * with LU association, as kura-initiatord names its FUSE files), or -ENOENT
 * without one / -EINVAL when malformed. */
int lock_vpd83_wwid(const uint8_t *b, size_t len, char *out, size_t outlen);
/* INQUIRY VPD 0x83 through this LUN's own session, then lock_vpd83_wwid. */
int lock_lun_wwid(struct lock_lun *l, char *out, size_t outlen);
/* Drop every path's session now (tests, and a daemon that wants fresh ones). */
void lock_lun_disconnect(struct lock_lun *l);

#endif
