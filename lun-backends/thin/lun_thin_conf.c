/* SPDX-License-Identifier: Apache-2.0 */
/* The thin kind in the backend registry: the [pool NAME] section (data,
 * meta, chunk_size, size, low_water, force_new), a LUN's "backend = thin" with pool,
 * volume, snapshot_of and clone_of, and opening such a LUN: its volume,
 * created first (new, snapshot, clone) when the configuration says how.
 * Opening blocks on the pool's metadata: a control thread only.
 * Reference: docs/storage.md.
 *
 * Not for: opening pools (lun-backends/lun_stack.c) or their internals.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "common/log.h"
#include "lun-backends/lun_registry.h"
#include "lun-backends/lun_stack.h"
#include "lun-backends/thin/lun_thin.h"

static struct lun_pool_conf *pc(void *obj)
{
	return obj;
}

static void *pool_begin(struct lun_conf_ctx *c, struct lun_stack_conf *sc, const char *name)
{
	if (lun_conf_check_name(c, "pool", name, lun_stack_find_pool(sc, name) >= 0) < 0)
		return NULL;
	struct lun_pool_conf *pl = lun_conf_grow(&sc->pools, &sc->n_pools, sizeof(*pl));
	if (!pl)
		return lun_conf_fail(c, "out of memory"), NULL;
	strcpy(pl->name, name);
	pl->line = c->line;
	pl->data_raid = -1;
	return pl;
}

static int set_data(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_str(c, k, v, &pc(o)->data);
}

static int set_meta(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_str(c, k, v, &pc(o)->meta);
}

static int set_chunk(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_pow2(c, k, v, LUN_THIN_CHUNK_MIN, LUN_THIN_CHUNK_MAX, &pc(o)->chunk_size);
}

static int set_size(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	if (lun_conf_size(c, k, v, &pc(o)->size) < 0)
		return -EINVAL;
	return pc(o)->size ? 0 : lun_conf_fail(c, "%s: must not be 0", k);
}

/* "10%" of the pool's chunks, or a size in bytes ("4G"). */
static int set_low_water(struct lun_conf_ctx *c, void *o, const char *key, const char *v)
{
	struct lun_pool_conf *pl = pc(o);
	size_t n = strlen(v);
	if (n > 1 && v[n - 1] == '%') {
		char num[32];
		snprintf(num, sizeof(num), "%.*s", (int)(n - 1), v);
		pl->low_water_pct = true;
		return lun_conf_u64(c, key, num, 0, 100, &pl->low_water);
	}
	pl->low_water_pct = false;
	return lun_conf_size(c, key, v, &pl->low_water);
}

static int set_force_new(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &pc(o)->force_new);
}

static const struct lun_key pool_keys[] = {
	{ "data", set_data, false },           { "meta", set_meta, false },
	{ "chunk_size", set_chunk, false },    { "size", set_size, false },
	{ "low_water", set_low_water, false }, { "force_new", set_force_new, false },
};

static int pool_end(struct lun_conf_ctx *c, struct lun_stack_conf *sc, void *obj)
{
	const struct lun_pool_conf *pl = obj;
	(void)sc;
	if (!pl->data || !pl->meta)
		return lun_conf_fail(c, "[pool %s] needs 'data = RAID-NAME|PATH' and 'meta = PATH'",
				     pl->name);
	return 0;
}

static const struct lun_section pool_section = {
	"pool", pool_begin, pool_end, pool_keys, sizeof(pool_keys) / sizeof(pool_keys[0]),
};

/* ---- [lun] backend = thin ---- */

static struct lun_stack_lun *ls(void *o)
{
	return ((struct lun_conf_lun *)o)->s;
}

static int set_lun_pool(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_str(c, k, v, &ls(o)->pool);
}

static int set_volume(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	uint64_t x = 0;
	if (lun_conf_u64(c, k, v, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	ls(o)->volume = (uint32_t)x;
	ls(o)->has_volume = true;
	return 0;
}

static int set_origin(struct lun_conf_ctx *c, struct lun_stack_lun *s, const char *k, const char *v,
		      bool snap)
{
	uint64_t x = 0;
	if (s->snapshot || s->clone)
		return lun_conf_fail(c, "%s: a LUN is either a snapshot_of or a clone_of, not both",
				     k);
	if (lun_conf_u64(c, k, v, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	s->origin = (uint32_t)x;
	s->snapshot = snap;
	s->clone = !snap;
	return 0;
}

static int set_snapshot_of(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return set_origin(c, ls(o), k, v, true);
}
static int set_clone_of(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return set_origin(c, ls(o), k, v, false);
}

static const struct lun_key thin_lun_keys[] = {
	{ "pool", set_lun_pool, false },
	{ "volume", set_volume, false },
	{ "snapshot_of", set_snapshot_of, false },
	{ "clone_of", set_clone_of, false },
};

static bool thin_keys_given(const struct lun_conf_lun *l)
{
	const struct lun_stack_lun *s = l->s;
	return s->pool || s->has_volume || s->snapshot || s->clone;
}

static int thin_lun_check(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	const struct lun_stack_lun *s = l->s;
	if (l->b->path)
		return lun_conf_fail(c, "backend = %s takes no 'path'", l->b->type);
	if (!s->pool || !s->has_volume)
		return lun_conf_fail(c, "backend = thin needs 'pool = NAME' and 'volume = ID'");
	if ((s->snapshot || s->clone) && s->origin == s->volume)
		return lun_conf_fail(c, "volume %u cannot be a copy of itself", s->volume);
	if (l->b->size % 4096)
		return lun_conf_fail(c, "thin volume size must be a multiple of 4096");
	return 0;
}

static int thin_lun_resolve(struct lun_conf_ctx *c, const struct lun_stack_conf *sc,
			    const struct lun_stack_lun *s)
{
	if (s->pool && lun_stack_find_pool(sc, s->pool) < 0)
		return lun_conf_fail(c, "pool = %s: no [pool %s] section", s->pool, s->pool);
	return 0;
}

/* The LUN's volume, created first (new, snapshot_of, clone_of) when missing. */
static int open_volume(const struct lun_pool_conf *pc, struct lun_thin_pool *pool,
		       const struct lun_conf_lun *l, struct lun_backend **out, bool *created)
{
	const struct lun_stack_lun *s = l->s;
	int r = lun_thin_volume_open(pool, s->volume, l->b->block_size, out);
	if (r != -ENOENT)
		return r;
	if (s->snapshot)
		r = lun_thin_snapshot(pool, s->origin, s->volume);
	else if (s->clone)
		r = lun_thin_clone(pool, s->origin, s->volume);
	else
		r = l->b->size ? lun_thin_volume_create(pool, s->volume, l->b->size) : -ENOENT;
	if (r < 0)
		return r;
	*created = true;
	kinfo("pool %s: volume %u created (%s)", pc->name, s->volume,
	      s->snapshot ? "snapshot"
	      : s->clone  ? "clone"
			  : "new");
	return lun_thin_volume_open(pool, s->volume, l->b->block_size, out);
}

static int thin_open_lun(const struct lun_stack *st, const struct lun_conf_lun *l,
			 struct lun_backend **out, struct lun_stack_open *o)
{
	int i = lun_stack_find_pool(st->conf, l->s->pool);
	const struct lun_pool_conf *pc = i >= 0 ? &st->conf->pools[i] : NULL;
	const struct lun_pool_run *pr = i >= 0 ? &st->pools[i] : NULL;
	if (!pr || pr->failed) {
		o->offline = true;
		snprintf(o->why, sizeof(o->why), "%s", pr ? pr->why : strerror(ENODEV));
		return -ENODEV;
	}
	int r = open_volume(pc, pr->pool, l, out, &o->created);
	/* a thin volume's backend belongs to the LU: read_only = yes (or a
	 * snapshot) makes the LU write-protected */
	if (r == 0 && l->b->read_only)
		(*out)->read_only = true;
	if (r < 0) /* the pool works: a bad volume is a configuration error */
		snprintf(
			o->why, sizeof(o->why), "pool %s volume %u: %s", pc->name, l->s->volume,
			r == -ENOENT ? "does not exist (give 'size' to create it)"
			: r == -EBUSY
				? "is open already (exported by another LUN: a volume has one opener)"
				: strerror(-r));
	return r;
}

const struct lun_kind lun_kind_thin = {
	.name = "thin",
	.lun_keys = thin_lun_keys,
	.n_lun_keys = sizeof(thin_lun_keys) / sizeof(thin_lun_keys[0]),
	.lun_keys_given = thin_keys_given,
	.misplaced = "pool, volume, snapshot_of and clone_of need backend = thin",
	.lun_check = thin_lun_check,
	.section = &pool_section,
	.layer = 2,
	.lun_resolve = thin_lun_resolve,
	.open_lun = thin_open_lun,
	.open_blocks = true,
};
