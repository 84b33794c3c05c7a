/* SPDX-License-Identifier: Apache-2.0 */
/* Software RAID as a LUN backend layer: levels 0, 1, 5, 6 and 10 over
 * member backends (normally file backends over files or block devices).
 *
 * This is the public face for the rest of kura (the daemon's [lun] section
 * with `type = raid` will call lun_raid_assemble()); everything else about
 * RAID is private to lun-backends/lun_raid*.c.
 *
 * Members carry a superblock (in the first LUN_RAID_DATA_OFFSET bytes) that
 * names the array, the member's role and the state of every role, plus a
 * write-intent bitmap. lun_raid_create() writes fresh superblocks and
 * assembles; lun_raid_assemble() takes member paths in any order.
 *
 * Threading: the returned backend is used like any other (every worker may
 * submit). Background work (metadata writes, resync, rebuild, scrub, bitmap
 * clearing) runs on params->loop; create, assemble, fail_member, add_spare,
 * scrub_start, status and close must be called on that loop's thread or
 * while it is not running. Close expects no foreground I/O in flight and
 * writes a final clean superblock if no background step is running.
 *
 * Not for: configuration parsing (target/) or member discovery by scanning.
 */
#ifndef KURA_LUN_RAID_H
#define KURA_LUN_RAID_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lun-backends/lun_backend.h"

#define LUN_RAID_MAX_MEMBERS 32
#define LUN_RAID_MAX_SPARES  8
#define LUN_RAID_DATA_OFFSET ((uint64_t)1 << 20) /* superblocks + bitmap live below */

/* Open one member: default is the file backend (O_DIRECT if params->direct). */
typedef int (*lun_raid_open_fn)(void *ctx, const char *path, struct lun_backend **out, char *err,
				size_t errlen);

struct lun_raid_params {
	int level;                /* 0, 1, 5, 6 or 10 (create; ignored by assemble) */
	uint32_t chunk;           /* bytes, power of two >= 4 KiB; 0 = 64 KiB (create) */
	uint32_t block_size;      /* 512 or 4096; 0 = 512 (create) */
	const char *const *paths; /* member paths, any order (assemble) or role order (create) */
	int npaths;
	struct kloop *loop;   /* runs background work; required */
	uint64_t member_size; /* create: make missing member files this big (0: must exist) */
	bool assume_clean; /* create: members hold consistent parity (e.g. all zeros): no initial resync */
	bool direct;                   /* members with O_DIRECT (default opener) */
	uint32_t region_mib;           /* write-intent bitmap granularity per member; 0 = 64 MiB */
	uint32_t rebuild_mib_per_tick; /* background rate; 0 = 16 MiB per tick */
	uint32_t tick_ms;              /* background tick; 0 = 100 ms */
	uint32_t bitmap_idle_ms; /* clear a region's bit this long after its last write; 0 = 2000 */
	lun_raid_open_fn open_member; /* NULL = file backend */
	void *open_ctx;
};

/* Write fresh superblocks on params->paths (role = position) and assemble.
 * Unless assume_clean, every bitmap region starts dirty so parity is made
 * consistent in the background (reads and writes work meanwhile). */
int lun_raid_create(const struct lun_raid_params *p, struct lun_backend **out, char *err,
		    size_t errlen);

/* Assemble from superblocks: groups members by array UUID (the largest group
 * wins), orders by role, refuses stale members (state failed in the newest
 * superblock, or replaced), starts degraded if the level tolerates the missing
 * roles, else fails with -ENODEV and a reason in err. Dirty bitmap regions
 * are resynced and interrupted rebuilds resumed in the background. */
int lun_raid_assemble(const struct lun_raid_params *p, struct lun_backend **out, char *err,
		      size_t errlen);

/* Drop a member as if it had returned an I/O error. 0, -EINVAL (bad role),
 * -EALREADY (already failed). A spare, if any, starts rebuilding. */
int lun_raid_fail_member(struct lun_backend *be, int role);

/* Add a hot spare; if a role is failed it starts rebuilding onto it. */
int lun_raid_add_spare(struct lun_backend *be, const char *path, char *err, size_t errlen);

/* Start a scrub: read everything, check parity / mirrors, count mismatches;
 * with repair, rewrite them (RAID-6 locates a single bad data chunk from
 * P and Q; RAID-5 and mirrors rewrite parity / copies from the first member).
 * -EBUSY if a rebuild, resync or scrub already runs, -ENODEV if failed. */
int lun_raid_scrub_start(struct lun_backend *be, bool repair);

struct lun_raid_status;

/* Stop a running scrub. The unit in flight, if any, still completes; the
 * counters stay (status reports them with scrub_stopped and scrub_pct at the
 * stop); the next scrub_start begins at unit 0 again. Fills *st (if not
 * NULL) as lun_raid_status does. 0, -ESRCH if no scrub runs, -EINVAL if be
 * is not a RAID backend. */
int lun_raid_scrub_stop(struct lun_backend *be, struct lun_raid_status *st);

/* Take a failed role out of the array: its member is no longer referenced
 * (the role shows missing; events + 1, so that the member's own superblock
 * is stale should it come back) and its backend is closed with the array.
 * A spare, if any, then rebuilds the role as for any failed role. 0;
 * -EINVAL bad role; -EBUSY the role is active (fail it first) or being
 * rebuilt onto; -ENOENT the role is already missing (nothing to remove);
 * -ENOSPC too many closed members wait for the array's close (restart). */
int lun_raid_remove_member(struct lun_backend *be, int role);

/* Drop a hot spare that is not in use (path as added or assembled). It is
 * no longer written; events + 1, so that an assembly that finds it again
 * refuses it as stale. 0, -ENOENT (no such spare), -ENOSPC as above. */
int lun_raid_remove_spare(struct lun_backend *be, const char *path);

/* 1 (and the reason in why) if a member file holds data: a non-zero byte in
 * its first 64 MiB of mapped extents; 0 if none does (missing files count
 * as empty), -errno. Create (lun_stack.c) refuses such members unless the
 * configuration says force_new (lun_raid_format.c). */
int lun_raid_members_in_use(const char *const *paths, int n, char *why, size_t whylen);

/* Role of the member at path (as assembled or taken from a spare), or -1. */
int lun_raid_role_of(struct lun_backend *be, const char *path);

enum lun_raid_state { LUN_RAID_CLEAN, LUN_RAID_DIRTY, LUN_RAID_DEGRADED, LUN_RAID_FAILED };
enum lun_raid_mstate {
	LUN_RAID_M_ACTIVE = 1,
	LUN_RAID_M_FAILED = 2,     /* failed, stale or missing; no backend if missing */
	LUN_RAID_M_REBUILDING = 3, /* being rebuilt from the others */
};

struct lun_raid_status {
	int level;
	uint32_t chunk;
	int nmembers;
	enum lun_raid_state state;
	uint64_t events;
	uint64_t size;
	struct {
		enum lun_raid_mstate state;
		bool present;
		char path[256];
	} member[LUN_RAID_MAX_MEMBERS];
	int nspares;
	bool rebuilding;
	int rebuild_role;
	unsigned rebuild_pct;
	bool resyncing;
	unsigned resync_pct;
	bool scrubbing;
	bool scrub_stopped;   /* the last scrub was stopped (lun_raid_scrub_stop) */
	unsigned scrub_pct;   /* of the running scrub, or where the last one ended */
	uint64_t scrub_units; /* stripes (5/6) or chunks (1/10) checked by the last/current scrub */
	uint64_t scrub_mismatches;
	uint64_t scrub_repaired;
	uint64_t dirty_regions; /* bits set in the write-intent bitmap */
};

/* Ahead of close: start no further background step (resync, rebuild and
 * scrub resume from the bitmap / recovery position at the next assembly).
 * Returns true once no background step and no metadata write is in flight,
 * so that close neither leaves I/O behind nor skips the clean superblock.
 * Call on the loop's thread, again until it returns true. */
bool lun_raid_quiesce(struct lun_backend *be);

/* True if path is one of the array's members or spares (as given when it
 * was assembled or added); lets the daemon add only the configured spares
 * that the array does not hold yet. False if be is not a RAID backend. */
bool lun_raid_has_path(struct lun_backend *be, const char *path);

/* Snapshot of the array's state; 0 or -EINVAL if be is not a RAID backend.
 * Member states and scrub counters are exact from any thread; the progress
 * fields are exact only on the loop's thread. */
int lun_raid_status(struct lun_backend *be, struct lun_raid_status *st);
#endif
