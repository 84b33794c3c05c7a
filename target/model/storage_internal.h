/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by storage.c (control thread, admin requests, opening LUNs) and
 * storage_status.c (the status file and scrub requests of the tick); not a
 * public header.
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
	char name[TGT_STORAGE_NAME_MAX];   /* the pool's, for messages */
	pthread_mutex_t mu;
	struct scsi_lu **lus;
	int n_lus;
	struct kloop_task ua_task;
	atomic_bool posted;
};

/* Control loop, every STOR_TICK_MS: scrub requests, rebuild tracking, the
 * status file (storage_status.c). */
void tgt_storage_status_tick(struct kloop_timer *t);
#endif
