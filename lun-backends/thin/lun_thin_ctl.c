/* SPDX-License-Identifier: Apache-2.0 */
/* The thin pool's control API (lun_thin.h): status, growth, the low-water
 * mark, checkpoints, volume create / delete / resize / open / snapshot /
 * clone, check and the volume list. Each call that changes the metadata is
 * a control operation run on the pool's service thread (thin_ctl_call,
 * thin_ctl_record in lun_thin_pool.c); the caller blocks until it is done,
 * so these are for a control thread, never a worker's loop.
 *
 * Not for: the service thread itself, group commit or replay
 * (lun_thin_pool.c), the data path (lun_thin_io.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- control API ---- */

void lun_thin_pool_status(struct lun_thin_pool *pool, struct lun_thin_pool_status *st)
{
	pthread_mutex_lock(&pool->lock);
	uint64_t virt = 0;
	for (uint32_t i = 0; i < pool->nvols; i++)
		virt += pool->vols[i]->size;
	*st = (struct lun_thin_pool_status){
		.chunk_size = pool->chunk_size,
		.chunks_total = pool->nr_chunks,
		.chunks_free = pool->nfree,
		.chunks_used = pool->nr_chunks - pool->nfree,
		.volumes = pool->nvols,
		.virtual_bytes = virt,
		.overcommit = (double)virt / (double)(pool->nr_chunks << pool->chunk_shift),
		.low_water = pool->lw,
		.low_water_events = pool->lw_gen,
		.failed = pool->failed,
	};
	pthread_mutex_unlock(&pool->lock);
}

int lun_thin_pool_grow(struct lun_thin_pool *pool, uint64_t new_bytes)
{
	if (new_bytes > pool->data->size)
		return -EINVAL;
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_GROW,
							.a = new_bytes >> pool->chunk_shift });
}

void lun_thin_pool_set_low_water(struct lun_thin_pool *pool, uint64_t free_chunks,
				 void (*cb)(void *arg, uint64_t generation), void *arg)
{
	pthread_mutex_lock(&pool->lock);
	pool->lw = free_chunks;
	pool->lw_cb = cb;
	pool->lw_arg = arg;
	pool->lw_below = false;
	thin_low_water_check(pool);
	pthread_mutex_unlock(&pool->lock);
}

bool lun_thin_pool_low_water_crossed(struct lun_thin_pool *pool, uint64_t *generation)
{
	pthread_mutex_lock(&pool->lock);
	uint64_t g = pool->lw_gen;
	pthread_mutex_unlock(&pool->lock);
	bool crossed = g != *generation;
	*generation = g;
	return crossed;
}

int lun_thin_pool_checkpoint(struct lun_thin_pool *pool)
{
	struct thin_ctl c = { .op = CTL_CHECKPOINT };
	return thin_ctl_call(pool, &c);
}

int lun_thin_volume_create(struct lun_thin_pool *pool, uint32_t id, uint64_t size)
{
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_VOL_CREATE,
							.vol = id,
							.a = size });
}

int lun_thin_volume_delete(struct lun_thin_pool *pool, uint32_t id)
{
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_VOL_DELETE, .vol = id });
}

int lun_thin_volume_resize(struct lun_thin_pool *pool, uint32_t id, uint64_t size)
{
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_VOL_RESIZE,
							.vol = id,
							.a = size });
}

int lun_thin_volume_open(struct lun_thin_pool *pool, uint32_t id, uint32_t block_size,
			 struct lun_backend **out)
{
	*out = NULL;
	if (block_size != 512 && block_size != 4096)
		return -EINVAL;
	struct thin_ctl c = { .op = CTL_OPEN, .rec.vol = id, .block_size = block_size, .out = out };
	return thin_ctl_call(pool, &c);
}

int lun_thin_snapshot(struct lun_thin_pool *pool, uint32_t origin, uint32_t new_id)
{
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_CLONE,
							.vol = new_id,
							.a = origin,
							.flags = THIN_VOL_RO });
}

int lun_thin_clone(struct lun_thin_pool *pool, uint32_t origin, uint32_t new_id)
{
	return thin_ctl_record(pool, (struct thin_rec){ .type = THIN_R_CLONE,
							.vol = new_id,
							.a = origin });
}

int lun_thin_check(struct lun_thin_pool *pool, bool repair, struct lun_thin_check_report *r)
{
	struct lun_thin_check_report dummy;
	struct thin_ctl c = { .op = CTL_CHECK, .flag = repair, .rep = r ? r : &dummy };
	int e = thin_ctl_call(pool, &c);
	c.rep->damaged_blocks = pool->dmg.repaired;
	c.rep->lost_blocks = pool->dmg.lost_blocks;
	c.rep->lost_records = pool->dmg.lost_records;
	snprintf(c.rep->damage, sizeof(c.rep->damage), "%s", pool->dmg.first);
	return e;
}

static uint64_t vol_mapped_chunks(const struct thin_vol *v)
{
	uint64_t n = 0;
	for (uint64_t li = 0; li < v->nleaves; li++)
		for (uint32_t i = 0; v->leaves[li] && i < THIN_LEAF_N; i++)
			n += (v->leaves[li][i] & ~THIN_PENDING) != 0;
	return n;
}

static int vol_info_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct lun_thin_volume_info *)a)->id,
		 y = ((const struct lun_thin_volume_info *)b)->id;
	return x < y ? -1 : x > y;
}

int lun_thin_volume_list(struct lun_thin_pool *pool, struct lun_thin_volume_info **out, size_t *n)
{
	pthread_mutex_lock(&pool->lock);
	size_t nv = pool->nvols;
	struct lun_thin_volume_info *v = calloc(nv ? nv : 1, sizeof(*v));
	for (size_t i = 0; v && i < nv; i++) {
		const struct thin_vol *tv = pool->vols[i];
		v[i] = (struct lun_thin_volume_info){ .id = tv->id,
						      .size = tv->size,
						      .mapped_chunks = vol_mapped_chunks(tv),
						      .read_only = tv->flags & THIN_VOL_RO,
						      .open = tv->opener != NULL };
	}
	pthread_mutex_unlock(&pool->lock);
	if (!v)
		return -ENOMEM;
	qsort(v, nv, sizeof(*v), vol_info_cmp);
	*out = v;
	*n = nv;
	return 0;
}
