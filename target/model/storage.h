/* SPDX-License-Identifier: Apache-2.0 */
/* Stacked storage declared in the daemon's configuration: software RAID
 * arrays ([raid NAME]), thin pools ([pool NAME]) and the LUNs that sit on
 * them (backend = thin / backend = raid).
 *
 * The registry (lun-backends/lun_registry.h) parses the sections; storage.c opens them
 * once, shares them between their LUNs and closes them in the right order
 * (LUs -> volumes -> pools -> arrays). Background work (RAID resync,
 * rebuild, scrub, the low-water unit attention and the status file) runs on
 * one dedicated control thread with its own kloop, never on a worker's loop.
 *
 * Not for: the RAID and thin logic itself (lun-backends/lun_raid*.c,
 * lun_thin*.c) or SCSI semantics (target/scsi_*.c).
 */
#ifndef KURA_TGT_STORAGE_H
#define KURA_TGT_STORAGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lun-backends/lun_registry.h"
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"

struct lun_backend;
struct lun_thin_pool;
struct scsi_lu;
struct tgt_config;
struct tgt_model;
struct tgt_lun_conf;

#define TGT_STORAGE_NAME_MAX LUN_STACK_NAME_MAX

/* The parsed sections (struct lun_raid_conf, lun_pool_conf, lun_stack_lun)
 * are the backend registry's: lun-backends/lun_registry.h. */

/* Open arrays, start the control thread, open pools (before the LUNs). */
int tgt_storage_open(struct tgt_model *m, char *err, size_t errlen);
/* Open the backend of a thin or raid LUN (shared objects stay shared:
 * closing the returned backend never closes an array). */
int tgt_storage_open_lun(struct tgt_model *m, struct tgt_lun_conf *l, struct lun_backend **out,
			 char *err, size_t errlen);
/* The LU of a thin LUN now exists: it gets 38/07 when its pool runs low. */
void tgt_storage_lu_created(struct tgt_model *m, const struct tgt_lun_conf *l, struct scsi_lu *lu);
/* Forget every LU (call before they are destroyed). */
void tgt_storage_forget_lus(struct tgt_model *m);
/* Close pools, stop the control thread, close arrays. Idempotent. */
void tgt_storage_close(struct tgt_model *m);
/* Run-time requests of the admin socket (admin_storage.c). Each one runs on
 * the control thread: the caller posts it to the control loop and sleeps
 * until it is answered, so it must not be called from that loop. idx is an
 * index into the model's stack.raids / stack.pools. 0 or -errno; -ENODEV when the array
 * or pool failed to open (info calls then set failed and why instead). */
struct tgt_raid_info {
	bool failed;
	char why[256];
	struct lun_raid_status st; /* progress fields exact (read on the loop) */
	double last_rebuild_s, last_rebuild_mib_s;
};
struct tgt_pool_info {
	bool failed;
	char why[256];
	struct lun_thin_pool_status st;
};
int tgt_storage_raid_info(struct tgt_model *m, int idx, struct tgt_raid_info *out);
int tgt_storage_pool_info(struct tgt_model *m, int idx, struct tgt_pool_info *out);
/* -EBUSY while a resync, rebuild or scrub runs. */
int tgt_storage_raid_scrub(struct tgt_model *m, int idx, bool repair);
/* -ESRCH if no scrub runs; st: the status right after the stop. */
int tgt_storage_raid_scrub_stop(struct tgt_model *m, int idx, struct lun_raid_status *st);
/* raid remove: role >= 0, or -1 and what: a member's or spare's path
 * (relative to data_dir unless absolute). path (PATH_MAX bytes) gets the
 * absolute path of what is removed; check: only resolve and check. -EBUSY
 * the role is active or being rebuilt onto, -ENOENT nothing to remove; the
 * reason goes to err. */
int tgt_storage_raid_remove(struct tgt_model *m, int idx, int role, const char *what, bool check,
			    char *path, char *err, size_t errlen);
/* -EINVAL bad role, -EALREADY already failed. */
int tgt_storage_raid_fail(struct tgt_model *m, int idx, int role);
/* path relative to data_dir unless absolute; created with the array's
 * member_size if missing. The reason of a refusal goes to err. */
int tgt_storage_raid_add_spare(struct tgt_model *m, int idx, const char *path, char *err,
			       size_t errlen);

/* Thin volumes of a pool (volume list). kind and origin come from the
 * pool's lineage file <data_dir>/pool-NAME.lineage, kept by storage.c when it
 * creates a snapshot or clone (the pool's metadata records only the
 * read-only flag of a snapshot); a volume it has no line for is "volume", or
 * "snapshot" when read-only. */
struct tgt_volume_info {
	uint32_t id;
	uint64_t size;
	uint64_t mapped_chunks; /* virtual chunks that map a data chunk */
	bool read_only;         /* a snapshot */
	bool open;              /* exported (opened by a LUN) */
	char kind[12];          /* volume, snapshot, clone */
	bool has_origin;
	uint32_t origin;
};
/* *out is malloc'ed (free() it), *n entries sorted by id. */
int tgt_storage_volume_list(struct tgt_model *m, int idx, struct tgt_volume_info **out, int *n);

/* Volume management on the control thread: create (size), delete, resize
 * (size; a shrink only while closed), snapshot / clone (origin -> id). The
 * lineage file follows. -errno as lun_thin.h: -EEXIST, -ENOENT, -EBUSY
 * (open), -EINVAL (size not a multiple of 4096), -ENODEV (pool failed). */
enum tgt_vol_op { TGT_VOL_CREATE, TGT_VOL_DELETE, TGT_VOL_RESIZE, TGT_VOL_SNAPSHOT, TGT_VOL_CLONE };
int tgt_storage_volume_op(struct tgt_model *m, int idx, enum tgt_vol_op op, uint32_t id,
			  uint32_t origin, uint64_t size);

/* Grow a pool whose data store is a file: extend the file to new_size bytes
 * (0: take the file's current size, grown by hand), then give the pool the
 * new chunks (lun_thin_pool_grow) and re-arm its low-water mark. Refused
 * (-EOPNOTSUPP) for a pool on a RAID array: arrays cannot reshape. *old and
 * *now get the data bytes before and after; the reason of a refusal goes to
 * err. */
int tgt_storage_pool_grow(struct tgt_model *m, int idx, uint64_t new_size, uint64_t *old,
			  uint64_t *now, char *err, size_t errlen);

/* The LU of a thin LUN is about to be destroyed (run-time lun remove): stop
 * notifying it of low water. */
void tgt_storage_lu_removed(struct tgt_model *m, struct scsi_lu *lu);

/* raid create / pool create at run time: open the [raid NAME] or [pool NAME]
 * section of parsed (the validated new configuration) as a new array or
 * pool, on the control thread (started here if the daemon had no storage),
 * and append it to the model's stack.raids / stack.pools. Only new storage: an array
 * whose member files exist, or a pool whose metadata file exists, is
 * refused (-EEXIST; assemble or open those by adding the section and
 * restarting), as is a second pool on one array (-EBUSY). The reason goes
 * to err. */
int tgt_storage_add(struct tgt_model *m, const struct tgt_config *parsed, bool pool,
		    const char *name, bool force_new, char *err, size_t errlen);
/* model.c: copy a parsed section (strings too) into the model's array; the index
 * or -ENOMEM. Only on the control thread while the admin thread waits. */
int tgt_model_adopt_raid(struct tgt_model *m, const struct lun_raid_conf *src);
int tgt_model_adopt_pool(struct tgt_model *m, const struct lun_pool_conf *src);

/* "8G", "512", "64K": bytes (powers of 1024), as the configuration's size
 * keys (config.c). 0, -EINVAL or -ERANGE. */
int tgt_config_parse_size(const char *v, uint64_t *out);

#endif
