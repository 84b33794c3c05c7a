/* SPDX-License-Identifier: Apache-2.0 */
/* Shared state of the RAID backend (lun_raid*.c only; not a public header).
 *
 * Vocabulary:
 *  - role: a position 0..n-1 in the array; m[role] is the member holding it.
 *  - row: a chunk-sized slice of every member at member offset
 *    data_offset + row * chunk.
 *  - unit: what one lock covers and one background step handles: the
 *    stripe (= row) for RAID-5/6, the logical chunk for RAID-1/10 (0: none).
 *  - slot: the chunks of one unit. RAID-5/6: slots 0..k-1 are data, slot k is
 *    P, slot k+1 is Q. RAID-1/10: slots are the copies.
 *
 * Locking: r->mu guards the member table, the metadata queue, the bitmap and
 * the unit lock table; it is never held across I/O or a callback. Member
 * states are also atomics so the data path can read them without the lock.
 */
#ifndef KURA_LUN_RAID_INTERNAL_H
#define KURA_LUN_RAID_INTERNAL_H
#include "lun-backends/lun_internal.h"
#include "lun-backends/raid/lun_raid.h"
#include <pthread.h>
#include <stdatomic.h>

#define RAID_SLOT_MAX     LUN_RAID_MAX_MEMBERS
#define RAID_SB_SLOT      ((uint64_t)64 << 10) /* each superblock copy gets 64 KiB */
#define RAID_SB_MAX       RAID_SB_SLOT
#define RAID_ROLE_SPARE   0xffffffffu
#define RAID_LOCK_BUCKETS 256
/* A partial-stripe write of a sequential stream waits at most this long
 * for the rest of its stripe (lun_raid_stripe.c, sop_hold). */
#define RAID_HOLD_US 500
/* ... and, once every write in flight is held, this long after the last
 * write completed (time for the host to send its next command). */
#define RAID_GRACE_US 150

/* ---- superblock record (lun_raid_sb.c) ---- */

struct raid_sb_member {
	uint32_t state;        /* enum lun_raid_mstate */
	uint64_t recovery_row; /* REBUILDING: rows below this are rebuilt */
	uint8_t dev_uuid[16];
};

struct raid_sb {
	uint8_t uuid[16];
	uint8_t dev_uuid[16]; /* this member */
	uint32_t level, chunk, nmembers, role, block_size, state_flags;
	uint64_t events, seq;
	uint64_t data_offset, data_size, region_size;
	uint32_t nregions;
	struct raid_sb_member m[LUN_RAID_MAX_MEMBERS];
	uint8_t bitmap[RAID_SB_MAX]; /* (nregions + 7) / 8 bytes used */
};

#define RAID_SB_DIRTY    1u
#define RAID_SB_DEGRADED 2u

size_t raid_sb_len(uint32_t nregions);
/* Encode into buf (raid_sb_len bytes). */
void raid_sb_encode(const struct raid_sb *sb, uint8_t *buf);
/* 0 or -EINVAL (bad magic/version/length/fields) / -EBADMSG (checksum). */
int raid_sb_decode(const uint8_t *buf, size_t len, struct raid_sb *sb);
/* Blocking helpers over a member backend, driving a private loop (create,
 * assemble, clean close only). */
int raid_sync_io(struct lun_backend *be, enum lun_op op, unsigned flags, uint64_t off, void *buf,
		 uint64_t len);
/* Read both copies and return the valid one with the higher seq. */
int raid_sb_read(struct lun_backend *be, struct raid_sb *sb);
int raid_sb_write_sync(struct lun_backend *be, const struct raid_sb *sb);

/* ---- in-memory array ---- */

struct raid_member {
	struct lun_backend *be; /* NULL: missing */
	char *path;
	_Atomic int state; /* enum lun_raid_mstate */
	uint8_t dev_uuid[16];
	uint64_t fail_seq; /* metadata seq that records the failure */
};

/* Something parked until a condition (unit lock, metadata seq) holds. A
 * unit lock's holder is its own raid_wait, chained in the lock table by
 * next, with the waiters queued behind it (qhead..qtail, linked by next). */
struct raid_wait {
	struct kloop_task t; /* run on loop when woken */
	struct kloop *loop;
	uint64_t key; /* unit or metadata seq */
	int result;   /* metadata waits: 0 or -errno */
	struct raid_wait *next;
	struct raid_wait *qhead, *qtail;
};

enum raid_bg_kind { RAID_BG_NONE, RAID_BG_RESYNC, RAID_BG_REBUILD, RAID_BG_SCRUB };

struct raid {
	struct lun_backend be;
	struct lun_backend_ops ops;
	int level;
	int n;  /* roles */
	int k;  /* data slots per stripe (5/6) */
	int np; /* parity slots (5: 1, 6: 2) */
	uint32_t chunk, chunk_shift;
	uint64_t data_offset, rows; /* rows per member */
	uint64_t units;             /* lock/background units */
	uint8_t uuid[16];
	struct kloop *loop;
	uint32_t rate_bytes, tick_ms, idle_ms;
	struct kloop_timer timer;

	pthread_mutex_t mu;
	struct raid_member m[LUN_RAID_MAX_MEMBERS];
	struct raid_member spare[LUN_RAID_MAX_SPARES];
	int nspares;
	atomic_bool failed;            /* beyond what the level tolerates */
	_Atomic uint64_t recovery_row; /* of the rebuilding role */
	uint64_t events;

	/* metadata writes (lun_raid_meta.c) */
	uint64_t meta_want, meta_done; /* seq numbers */
	bool meta_busy, meta_kicked;
	struct kloop_task meta_kick;
	struct raid_wait *meta_waiters;
	uint8_t *meta_buf;
	int meta_pending;
	struct lun_io meta_io[LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES];
	struct iovec meta_iov[LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES];

	/* write-intent bitmap: bit set in memory; on disk once meta_done >= bm_seq */
	uint64_t region_size;
	uint32_t nregions;
	uint8_t *bm;
	uint32_t *bm_inflight;
	uint64_t *bm_last_ms;
	uint64_t bm_seq; /* metadata seq that last set a bit */

	/* unit locks */
	struct raid_wait *locks[RAID_LOCK_BUCKETS];
	/* failed members replaced by spares: closed with the array */
	struct lun_backend *retired[2 * LUN_RAID_MAX_MEMBERS];
	int nretired;
	bool meta_clearing; /* queued write clears bitmap bits: flush members first */
	int meta_phase;     /* 0 flush, 1 write */
	int meta_ok;
	int meta_npending_targets;
	uint64_t meta_seq;                                         /* seq being written */
	int meta_role[LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES]; /* role, or -1: a spare */
	struct lun_backend *meta_be[LUN_RAID_MAX_MEMBERS + LUN_RAID_MAX_SPARES];

	/* background (lun_raid_bg.c): only on r->loop */
	enum raid_bg_kind bg;
	uint64_t bg_unit; /* next unit */
	int bg_role;      /* rebuild target */
	bool bg_repair, bg_busy, closing;
	uint64_t bg_budget;
	uint64_t resync_total, resync_done;
	_Atomic uint64_t scrub_units, scrub_mismatch, scrub_repaired;
	_Atomic uint64_t stat_rmw;          /* read-modify-write stripe updates (tests) */
	_Atomic uint64_t stat_rcw;          /* reconstruct-writes that read something */
	_Atomic uint64_t stat_full;         /* stripe writes that read nothing */
	_Atomic uint64_t stat_gathered;     /* writes gathered into another's stripe write */
	_Atomic uint64_t stat_held;         /* stripe writes held for the rest of their stripe */
	_Atomic uint64_t stat_hold_expired; /* ... of those, released by hold_us, not by a write */
	/* write gathering (lun_raid_stripe.c) */
	uint32_t hold_us;              /* longest hold of a partial stripe write */
	_Atomic uint64_t last_end;     /* array byte after the last write submitted */
	_Atomic int wr_inflight;       /* parity-level write requests in flight */
	_Atomic int wr_held;           /* of those, pieces in held stripe writes */
	_Atomic uint64_t last_done_us; /* when the last write request completed */
	_Atomic uint64_t wr_bytes;     /* bytes of the write requests in flight */
	_Atomic uint64_t wr_depth;     /* ... as the host keeps it (smoothed; a hint) */
	bool scrub_ran;
	bool scrub_stopped; /* lun_raid_scrub_stop: ... at unit scrub_stop_unit */
	uint64_t scrub_stop_unit;
	uint32_t *resync_list; /* regions to resync */
	uint32_t resync_n, resync_i;
	/* how to open spares */
	lun_raid_open_fn open_member;
	void *open_ctx;
	bool direct;
};

static inline struct raid *raid_of(struct lun_backend *be)
{
	return be->priv;
}

/* ---- layout (lun_raid_layout.c) ---- */

struct raid_unit {
	int nslots;
	int role[RAID_SLOT_MAX];
	uint64_t row[RAID_SLOT_MAX];
};

int raid_tolerance(int level, int n);
uint64_t raid_units(const struct raid *r);
uint64_t raid_array_size(const struct raid *r);
void raid_unit_map(const struct raid *r, uint64_t unit, struct raid_unit *u);
/* Logical chunk c (RAID-0/1/10) -> copies; returns count. */
int raid_chunk_map(const struct raid *r, uint64_t c, int *role, uint64_t *row);
/* Unit of (role, row) for rebuild; false if that chunk holds nothing. */
bool raid_unit_of(const struct raid *r, int role, uint64_t row, uint64_t *unit);
bool raid_readable(const struct raid *r, int role, uint64_t row);
bool raid_writable(const struct raid *r, int role);
/* True if every unit still has enough readable-or-rebuilding copies. */
bool raid_survives(const struct raid *r);
uint64_t raid_member_off(const struct raid *r, uint64_t row, uint32_t inner);

/* Generator row of slot i (data i, P = k, Q = k + 1): k coefficients. */
void raid_gen_row(int k, int i, uint8_t *row);
/* Parity math over slot buffers (ISA-L). 0 or -EIO. */
int raid_parity_gen(int k, int np, size_t len, uint8_t **slot);
/* Rebuild the data slots in missing (bit mask over 0..k+np-1) from the rest. */
int raid_reconstruct(int k, int np, size_t len, uint8_t **slot, uint32_t missing);

/* ---- locks, metadata, bitmap, members (lun_raid_meta.c) ---- */

/* true: granted now; false: w->t.fn runs on w->loop when granted. */
bool raid_lock_unit(struct raid *r, struct raid_wait *w);
void raid_unlock_unit(struct raid *r, struct raid_wait *w);
struct raid_wait *raid_lock_take_waiters(struct raid *r, struct raid_wait *h,
					 bool (*take)(struct raid_wait *w, void *ctx), void *ctx);
/* Queue a metadata write; returns its seq. Caller holds r->mu. */
uint64_t raid_meta_request_locked(struct raid *r);
/* true: seq already durable; false: w->t.fn runs later with w->result. */
bool raid_meta_wait(struct raid *r, uint64_t seq, struct raid_wait *w);
/* Mark rows [row0, row1] dirty before writing; same contract as meta_wait. */
bool raid_bm_enter(struct raid *r, uint64_t row0, uint64_t row1, struct raid_wait *w);
void raid_bm_exit(struct raid *r, uint64_t row0, uint64_t row1);
/* Drop a member after an I/O error (any thread). */
void raid_member_failed(struct raid *r, int role);
void raid_fill_sb(struct raid *r, struct raid_sb *sb, const struct raid_member *me, int role);
void raid_bm_clear_idle(struct raid *r);
/* Wake a waiter on its own loop. */
void raid_wake(struct raid_wait *w);

/* ---- data path ---- */

/* One stripe/unit operation (lun_raid_stripe.c). */
enum raid_op_kind {
	RAID_K_READ,
	RAID_K_WRITE,
	RAID_K_ZERO,
	RAID_K_RESYNC,
	RAID_K_REBUILD,
	RAID_K_SCRUB
};
struct raid_req;
struct raid_sop;
void raid_sop_start(struct raid *r, struct kloop *loop, enum raid_op_kind kind, uint64_t unit,
		    uint32_t w0, uint32_t wlen, struct raid_req *req, uint64_t req_pos,
		    void (*bg_done)(struct raid *r, int res));

/* Parent request: one lun_io split into unit operations. */
struct raid_req {
	struct raid *r;
	struct lun_io *io;
	int pending;
	int err;
	uint64_t need_seq;   /* metadata seq to wait for before completing */
	uint64_t row0, row1; /* bitmap rows held (writes) */
	bool bm_held;
	bool write; /* counted in r->wr_inflight */
	bool seq;   /* starts where the previous write ended */
	struct raid_wait w;
	struct kloop_task rel; /* drops the submit reference on the next iteration */
};
/* A request holds one reference for its submission plus one per piece; the
 * submit path gives its own up with raid_req_defer_release, so io->done never
 * runs inside submit (lun_backend.h). */
struct raid_req *raid_req_new(struct raid *r, struct lun_io *io);
void raid_req_defer_release(struct raid_req *q);
/* Take bitmap rows [row0, row1] for a write, then run go (now or later). */
void raid_req_bm_then(struct raid_req *q, uint64_t row0, uint64_t row1,
		      void (*go)(struct kloop_task *t));
void raid_req_piece_done(struct raid_req *q, int res);
void raid_req_note_skip(struct raid_req *q, int role);
void raid_submit_parity(struct lun_backend *be, struct lun_io *io);
void raid_submit_mirror(struct lun_backend *be, struct lun_io *io);
void raid_submit_flush(struct lun_backend *be, struct lun_io *io);

/* ---- background (lun_raid_bg.c) ---- */
void raid_bg_tick(struct kloop_timer *t);
#endif
