/* SPDX-License-Identifier: Apache-2.0 */
/* The stack builder: opens what the registry parsed (lun_registry.h) as a
 * stack of backends: RAID arrays over member files, thin pools over a file
 * or an array, and a LUN's backend on top (a thin volume, an array shared
 * by its LUNs, a file or memory), plus the two wrappers a stack needs: a
 * shared array (closing it closes nothing) and an offline backend (every
 * I/O fails with -ENODEV: NOT READY for a LUN whose storage is missing).
 *
 * Kinds open their LUNs through lun_kind.open_lun (leaf kinds through
 * lun_backend_open); a kind with open_blocks set makes blocking control
 * calls (a thin pool's metadata) and must be opened from a control thread.
 *
 * Not for: the daemon's control thread, status file, admin requests and
 * low-water notifications (target/model/storage.c), parsing (lun_registry.c).
 */
#ifndef KURA_LUN_STACK_H
#define KURA_LUN_STACK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/kloop.h"
#include "lun-backends/lun_registry.h"

/* What the builder needs from its host. */
struct lun_stack_env {
	const char *data_dir; /* relative paths are taken from here */
	struct kloop *loop;   /* the arrays' background loop */
};

/* path made absolute (relative to data_dir); false if it does not fit. */
bool lun_stack_path(const char *data_dir, const char *p, char *out, size_t len);
/* Create path as a sparse file of size bytes if missing or smaller. */
int lun_stack_ensure_file(const char *path, uint64_t size);
bool lun_stack_file_exists(const char *path);

/* inner under a LUN or a pool: forwards every op, closing it closes nothing. */
int lun_stack_shared(struct lun_backend *inner, struct lun_backend **out);
/* Every I/O completes (later) with -ENODEV. */
int lun_offline_open(uint64_t size, uint32_t block_size, struct lun_backend **out);

/* Assemble (or create) one array; rr->be, or -errno and rr->why. The loop
 * must not run yet or this must run on it (lun_raid.h). */
int lun_stack_open_raid(const struct lun_stack_env *env, const struct lun_raid_conf *rc,
			struct lun_raid_run *rr);
/* Every array of st; a failure marks it failed (its LUNs answer NOT READY). */
void lun_stack_open_raids(const struct lun_stack_env *env, const struct lun_stack *st);
/* Open (or create) pool pc over its data store (an array of st, or a file),
 * take new data space and arm the low-water mark (cb(arg, generation) on
 * the allocating thread); the state goes to pr. Blocks: a control thread.
 * -errno and pr->why. */
int lun_stack_open_pool(const struct lun_stack_env *env, const struct lun_stack *st,
			const struct lun_pool_conf *pc, struct lun_pool_run *pr,
			void (*cb)(void *arg, uint64_t generation), void *arg);

/* The pool's low_water key in free chunks (st: the pool's status). */
struct lun_thin_pool_status;
uint64_t lun_stack_low_water_chunks(const struct lun_pool_conf *pc,
				    const struct lun_thin_pool_status *st);

/* The outcome of opening a LUN's stack beyond 0 / -errno. */
struct lun_stack_open {
	bool offline; /* the storage below failed: answer NOT READY (why) */
	bool created; /* a thin volume was created (new, snapshot, clone) */
	char why[256];
};

/* A stacked LUN (a kind with open_lun): 0 and *out, or -errno with o->why. */
int lun_stack_open_lun(const struct lun_stack *st, const struct lun_conf_lun *l,
		       struct lun_backend **out, struct lun_stack_open *o);
#endif
