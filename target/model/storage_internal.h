/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by storage.c (control thread, admin requests, opening LUNs),
 * storage_volumes.c (thin volume requests) and storage_status.c (the status
 * file and scrub requests of the tick); not a public header.
 */
#ifndef KURA_TGT_STORAGE_INTERNAL_H
#define KURA_TGT_STORAGE_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "common/kloop.h"
#include "target/model/model.h"

#define STOR_TICK_MS 250

struct tgt_storage_rt {
	struct tgt_model *m;
	/* The model's [raid] / [pool] sections (stack.conf = &m->stack) and,
	 * index for index, their run-time state, which only this file and the
	 * stack builder write. n_raids / n_pools: entries allocated (the
	 * sections grow at run time: raid create / pool create). */
	struct lun_stack stack;
	int n_raids, n_pools;
	struct kloop *loop;
	pthread_t thread;
	bool running;
	struct kloop_timer tick;
};

/* Per pool: the LUs to notify when it runs low. */
struct lun_pool_rt {
	struct tgt_storage_rt *rt;
	char name[TGT_STORAGE_NAME_MAX]; /* the pool's, for messages */
	pthread_mutex_t mu;
	struct scsi_lu **lus;
	int n_lus;
	struct kloop_task ua_task;
	atomic_bool posted;
};

/* One admin request, run on the control loop (lun_raid.h: the array's
 * control calls belong to its loop's thread) while the admin thread waits:
 *
 *   admin thread                      control thread
 *   stor_call(): kloop_post(c) ---->  call_task(): c->fn(c)
 *   wait on c->cv                     lock, done = true, signal
 *   <------------------------------   (c lives on the admin thread's stack)
 */
struct stor_call {
	struct kloop_task t;
	int (*fn)(struct stor_call *c);
	struct tgt_model *m;
	int idx;
	bool repair;
	int role;
	const char *path;
	enum tgt_vol_op op;
	uint32_t id, origin;
	uint64_t size, *old, *now;
	struct tgt_lun_conf *lun;
	struct lun_stack_open *opened;   /* tgt_storage_open_lun */
	const struct tgt_config *parsed; /* tgt_storage_add */
	bool force_new;                  /* tgt_storage_add: pool create --force-new */
	bool is_pool;
	void *out;
	char *err;
	size_t errlen;
	int result;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

/* Run c->fn on the control loop and wait for it: c->result, or -ENODEV. */
int stor_call(struct stor_call *c);

static inline struct lun_raid_conf *call_raid(struct stor_call *c)
{
	return c->idx >= 0 && c->idx < c->m->stack.n_raids ? &c->m->stack.raids[c->idx] : NULL;
}

/* The run-time state of call_raid's array (NULL with it). */
static inline struct lun_raid_run *call_raid_run(struct stor_call *c)
{
	return call_raid(c) ? &c->m->stor_rt->stack.raids[c->idx] : NULL;
}

static inline struct lun_pool_conf *call_pool(struct stor_call *c)
{
	return c->idx >= 0 && c->idx < c->m->stack.n_pools ? &c->m->stack.pools[c->idx] : NULL;
}

/* The run-time state of call_pool's pool (NULL with it). */
static inline struct lun_pool_run *call_pool_run(struct stor_call *c)
{
	return call_pool(c) ? &c->m->stor_rt->stack.pools[c->idx] : NULL;
}

/* storage_volumes.c: set (kind "snapshot" / "clone") or drop (kind NULL)
 * volume id's line in the lineage file beside pool pc's metadata. */
void lineage_update(const struct tgt_model *m, const struct lun_pool_conf *pc, uint32_t id,
		    const char *kind, uint32_t origin);

/* Control loop, every STOR_TICK_MS: scrub requests, rebuild tracking, the
 * status file (storage_status.c). */
void tgt_storage_status_tick(struct kloop_timer *t);
#endif
