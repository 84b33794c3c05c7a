/* SPDX-License-Identifier: Apache-2.0 */
/* The stack builder (lun_stack.h): paths under the data directory, the
 * shared and offline wrappers, assembling arrays, opening pools, and the
 * dispatch of a stacked LUN's opening to its kind.
 *
 * Not for: the kinds' own rules for a LUN (raid/lun_raid_conf.c,
 * thin/lun_thin_conf.c), the daemon's control thread (target/model/storage.c).
 */
#include "lun-backends/lun_stack.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/container.h"
#include "common/log.h"
#include "lun-backends/lun_internal.h"
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"

#define STACK_DEFAULT_RATE (160ull << 20) /* bytes per second of rebuild / resync */

/* ---------------------------------------------------------------- helpers */

bool lun_stack_path(const char *data_dir, const char *p, char *out, size_t len)
{
	size_t dl = p[0] == '/' ? 0 : strlen(data_dir) + 1, pl = strlen(p);
	if (dl + pl >= len)
		return false;
	if (dl) {
		memcpy(out, data_dir, dl - 1);
		out[dl - 1] = '/';
	}
	memcpy(out + dl, p, pl + 1);
	return true;
}

int lun_stack_ensure_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0)
		return -errno;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && (uint64_t)st.st_size < size && ftruncate(fd, (off_t)size) < 0)
		r = -errno;
	close(fd);
	return r;
}

bool lun_stack_file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------------- wrappers */

struct shared_be {
	struct lun_backend be;
	struct lun_backend_ops ops;
};

static void shared_fwd(struct lun_backend *be, struct lun_io *io)
{
	lun_submit(be->priv, io);
}

static void shared_close(struct lun_backend *be)
{
	free(container_of(be, struct shared_be, be));
}

typedef void (**op_slot)(struct lun_backend *, struct lun_io *);

int lun_stack_shared(struct lun_backend *inner, struct lun_backend **out)
{
	struct shared_be *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->be = *inner;
	s->be.priv = inner;
	s->ops = (struct lun_backend_ops){ .name = inner->ops->name,
					   .close = shared_close,
					   .caps = inner->ops->caps };
	const struct {
		op_slot dst;
		bool has;
	} slots[] = {
		{ &s->ops.submit_read, true },
		{ &s->ops.submit_write, true },
		{ &s->ops.submit_flush, inner->ops->submit_flush != NULL },
		{ &s->ops.submit_unmap, inner->ops->submit_unmap != NULL },
		{ &s->ops.submit_write_zeroes, inner->ops->submit_write_zeroes != NULL },
		{ &s->ops.submit_compare_and_write, inner->ops->submit_compare_and_write != NULL },
		{ &s->ops.submit_block_status, inner->ops->submit_block_status != NULL },
		{ &s->ops.submit_copy, inner->ops->submit_copy != NULL },
	};
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].has)
			*slots[i].dst = shared_fwd;
	s->be.ops = &s->ops;
	*out = &s->be;
	return 0;
}

/* Offline: every I/O completes (later, as the interface demands) with
 * -ENODEV, which the SCSI layer answers with NOT READY, MANUAL INTERVENTION
 * REQUIRED (04/03): hosts fail the I/O instead of waiting for readiness. */
static void offline_submit(struct lun_backend *be, struct lun_io *io)
{
	(void)be;
	lun_complete_later(io, -ENODEV);
}

static void offline_close(struct lun_backend *be)
{
	free(be);
}

static const struct lun_backend_ops offline_ops = {
	.name = "offline",
	.caps = LUN_CAP_FLUSH,
	.submit_read = offline_submit,
	.submit_write = offline_submit,
	.submit_flush = offline_submit,
	.close = offline_close,
};

int lun_offline_open(uint64_t size, uint32_t block_size, struct lun_backend **out)
{
	struct lun_backend *be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->ops = &offline_ops;
	be->block_size = block_size ? block_size : 512;
	be->size = size >= be->block_size ? size - size % be->block_size : 1u << 20;
	*out = be;
	return 0;
}

/* ---------------------------------------------------------------- arrays */

struct raid_paths {
	char **p;
	int n;
};

static void paths_free(struct raid_paths *rp)
{
	for (int i = 0; i < rp->n; i++)
		free(rp->p[i]);
	free(rp->p);
}

/* Members then spares, absolute. */
static int raid_paths(const struct lun_stack_env *env, const struct lun_raid_conf *rc,
		      struct raid_paths *rp)
{
	char buf[PATH_MAX];
	rp->n = 0;
	rp->p = calloc((size_t)(rc->n_members + rc->n_spares), sizeof(char *));
	if (!rp->p)
		return -ENOMEM;
	for (int i = 0; i < rc->n_members + rc->n_spares; i++) {
		lun_stack_path(env->data_dir,
			       i < rc->n_members ? rc->members[i] : rc->spares[i - rc->n_members],
			       buf, sizeof(buf));
		if (!(rp->p[rp->n++] = strdup(buf)))
			return -ENOMEM;
	}
	return 0;
}

static void raid_params(const struct lun_stack_env *env, const struct lun_raid_conf *rc,
			const struct raid_paths *rp, int npaths, struct lun_raid_params *p)
{
	uint64_t rate = rc->rebuild_rate ? rc->rebuild_rate : STACK_DEFAULT_RATE;
	uint64_t per_tick = (rate >> 20) / 10; /* lun_raid ticks every 100 ms */
	*p = (struct lun_raid_params){ .level = rc->level,
				       .chunk = rc->chunk,
				       .paths = (const char *const *)rp->p,
				       .npaths = npaths,
				       .loop = env->loop,
				       .member_size = rc->member_size,
				       .direct = rc->direct,
				       .tick_ms = 100,
				       .rebuild_mib_per_tick =
					       (uint32_t)(per_tick ? per_tick : 1) };
}

/* Configured spares that the assembled array does not know yet. */
static void raid_add_spares(const struct lun_raid_conf *rc, struct lun_raid_run *rr,
			    const struct raid_paths *rp)
{
	char e[256];
	for (int i = rc->n_members; i < rp->n; i++) {
		if (lun_raid_has_path(rr->be, rp->p[i]))
			continue;
		if (rc->member_size && lun_stack_ensure_file(rp->p[i], rc->member_size) < 0)
			kwarn("raid %s: cannot create spare %s", rc->name, rp->p[i]);
		int r = lun_raid_add_spare(rr->be, rp->p[i], e, sizeof(e));
		if (r < 0)
			kwarn("raid %s: spare %s not added: %s", rc->name, rp->p[i], e);
		else
			kinfo("raid %s: spare %s added", rc->name, rp->p[i]);
	}
}

/* Spares to create, and whether any member file exists. */
static bool raid_files(const struct lun_raid_conf *rc, const struct raid_paths *rp)
{
	bool any = false;
	for (int i = 0; i < rc->n_members; i++)
		any |= lun_stack_file_exists(rp->p[i]);
	for (int i = rc->n_members; rc->member_size && i < rp->n; i++)
		if (!lun_stack_file_exists(rp->p[i]) &&
		    lun_stack_ensure_file(rp->p[i], rc->member_size) < 0)
			kwarn("raid %s: cannot create spare %s", rc->name,
			      rp->p[i]); /* add_spare says why */
	return any;
}

/* Assemble from superblocks; with create = yes and no superblock anywhere,
 * create (clean, without a resync, if every member file is new). */
int lun_stack_open_raid(const struct lun_stack_env *env, const struct lun_raid_conf *rc,
			struct lun_raid_run *rr)
{
	struct raid_paths rp;
	struct lun_raid_params p;
	int r = raid_paths(env, rc, &rp);
	bool any = r == 0 && raid_files(rc, &rp);
	if (r == 0) {
		raid_params(env, rc, &rp, rp.n, &p);
		r = any ? lun_raid_assemble(&p, &rr->be, rr->why, sizeof(rr->why)) : -ENODEV;
		if (!any)
			snprintf(rr->why, sizeof(rr->why), "no member file exists");
	}
	bool blank = r == -ENODEV && (!any || strstr(rr->why, "no member with a valid superblock"));
	int used = blank && rc->create && any && !rc->force_new
			   ? lun_raid_members_in_use((const char *const *)rp.p, rc->n_members,
						     rr->why, sizeof(rr->why))
			   : 0;
	if (used)
		r = used < 0 ? used : -ENOTEMPTY; /* rr->why says which member */
	else if (blank && rc->create) {
		raid_params(env, rc, &rp, rc->n_members, &p);
		p.assume_clean = !any &&
				 rc->member_size; /* new sparse files: all zeros, parity holds */
		r = lun_raid_create(&p, &rr->be, rr->why, sizeof(rr->why));
		if (r == 0)
			kinfo("raid %s: created raid%d over %d members%s", rc->name, rc->level,
			      rc->n_members,
			      p.assume_clean ? " (new files, no initial resync)" : "");
	}
	if (r == 0)
		raid_add_spares(rc, rr, &rp);
	paths_free(&rp);
	return r;
}

void lun_stack_open_raids(const struct lun_stack_env *env, const struct lun_stack *stack)
{
	static const char *const states[] = { "clean", "dirty", "degraded", "failed" };
	for (int i = 0; i < stack->conf->n_raids; i++) {
		const struct lun_raid_conf *rc = &stack->conf->raids[i];
		struct lun_raid_run *rr = &stack->raids[i];
		int r = lun_stack_open_raid(env, rc, rr);
		if (r < 0) {
			rr->failed = true;
			if (!rr->why[0])
				snprintf(rr->why, sizeof(rr->why), "%s", strerror(-r));
			kerr("raid %s: cannot assemble: %s; its LUNs and pools answer NOT READY",
			     rc->name, rr->why);
			continue;
		}
		struct lun_raid_status st;
		lun_raid_status(rr->be, &st);
		kinfo("raid %s: raid%d, %d members, %llu bytes, %s", rc->name, st.level,
		      st.nmembers, (unsigned long long)st.size, states[st.state]);
	}
}

/* ---------------------------------------------------------------- pools */

static int pool_data(const struct lun_stack_env *env, const struct lun_stack *stack,
		     const struct lun_pool_conf *pc, struct lun_pool_run *pr)
{
	char path[PATH_MAX];
	if (pc->data_raid >= 0) {
		const struct lun_raid_conf *rc = &stack->conf->raids[pc->data_raid];
		const struct lun_raid_run *rr = &stack->raids[pc->data_raid];
		if (rr->failed) {
			snprintf(pr->why, sizeof(pr->why), "raid %s is not available: %.150s",
				 rc->name, rr->why);
			return -ENODEV;
		}
		return lun_stack_shared(rr->be, &pr->data_be);
	}
	lun_stack_path(env->data_dir, pc->data, path, sizeof(path));
	int r = pc->size ? lun_stack_ensure_file(path, pc->size)
			 : 0; /* a larger size grows the file */
	if (r < 0) {
		snprintf(pr->why, sizeof(pr->why), "data %.200s: %s", path, strerror(-r));
		return r;
	}
	struct lun_backend_params bp = { .type = "file", .path = path, .block_size = 512 };
	return lun_backend_open(&bp, &pr->data_be, pr->why, sizeof(pr->why));
}

uint64_t lun_stack_low_water_chunks(const struct lun_pool_conf *pc,
				    const struct lun_thin_pool_status *st)
{
	if (pc->low_water_pct)
		return st->chunks_total * pc->low_water / 100;
	return (pc->low_water + st->chunk_size - 1) / st->chunk_size;
}

/* The data store grew since the last start: give the pool the new chunks. */
static void pool_take_space(const struct lun_pool_conf *pc, struct lun_pool_run *pr,
			    struct lun_thin_pool_status *st)
{
	uint64_t usable = pr->data_be->size / st->chunk_size;
	if (usable <= st->chunks_total)
		return;
	int r = lun_thin_pool_grow(pr->pool, usable * st->chunk_size);
	kinfo("pool %s: grown from %llu to %llu chunks: %s", pc->name,
	      (unsigned long long)st->chunks_total, (unsigned long long)usable,
	      r < 0 ? strerror(-r) : "ok");
	lun_thin_pool_status(pr->pool, st);
}

int lun_stack_open_pool(const struct lun_stack_env *env, const struct lun_stack *stack,
			const struct lun_pool_conf *pc, struct lun_pool_run *pr,
			void (*cb)(void *arg, uint64_t generation), void *arg)
{
	char meta[PATH_MAX];
	int r = pool_data(env, stack, pc, pr);
	if (r < 0)
		return r;
	lun_stack_path(env->data_dir, pc->meta, meta, sizeof(meta));
	struct lun_thin_pool_params pp = { .meta_path = meta,
					   .data = pr->data_be,
					   .chunk_size = pc->chunk_size,
					   .force_new = pc->force_new };
	/* a missing metadata file formats a pool only over no data, or with
	 * force_new also over a file that is not a pool (lun_thin_format.c) */
	bool fresh = !lun_stack_file_exists(meta) ||
		     (pc->force_new && lun_thin_meta_probe(meta) == 0);
	if (pc->force_new && !fresh)
		kwarn("pool %s: force_new = yes is set: remove it (it would format over the "
		      "data if %s went missing)",
		      pc->name, meta);
	r = fresh ? lun_thin_pool_create(&pp, &pr->pool, pr->why, sizeof(pr->why))
		  : lun_thin_pool_open(&pp, &pr->pool, pr->why, sizeof(pr->why));
	if (r < 0)
		return r;
	struct lun_thin_pool_status st;
	lun_thin_pool_status(pr->pool, &st);
	pool_take_space(pc, pr, &st);
	lun_thin_pool_set_low_water(pr->pool, lun_stack_low_water_chunks(pc, &st), cb, arg);
	kinfo("pool %s: %s, %llu of %llu chunks of %u bytes free, %u volume(s)", pc->name,
	      fresh ? "created" : "opened", (unsigned long long)st.chunks_free,
	      (unsigned long long)st.chunks_total, st.chunk_size, st.volumes);
	return 0;
}

/* ---------------------------------------------------------------- LUNs */

int lun_stack_open_lun(const struct lun_stack *stack, const struct lun_conf_lun *l,
		       struct lun_backend **out, struct lun_stack_open *o)
{
	const struct lun_kind *k = lun_kind_find(l->b->type);
	*o = (struct lun_stack_open){ .offline = false };
	if (!k || !k->open_lun) {
		snprintf(o->why, sizeof(o->why), "backend %s is not a stacked kind", l->b->type);
		return -EINVAL;
	}
	return k->open_lun(stack, l, out, o);
}
