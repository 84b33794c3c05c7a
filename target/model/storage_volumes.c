/* SPDX-License-Identifier: Apache-2.0 */
/* Thin volumes of the daemon's pools, as the admin socket asks for them:
 * the lineage file (which volume is a snapshot or a clone of which), volume
 * list, create / delete / resize / snapshot / clone. Each
 * request runs on the storage control loop (stor_call, storage_internal.h).
 *
 * Not for: the pool itself (lun-backends/thin/) or opening LUNs (storage.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fileutil.h"
#include "common/log.h"
#include "lun-backends/lun_stack.h"
#include "lun-backends/thin/lun_thin.h"
#include "target/model/storage_internal.h"
#include "target/model/model.h"

/* ---- lineage: which volume is a snapshot or clone of which ----
 * <data_dir>/pool-NAME.lineage, one "ID KIND ORIGIN" line per snapshot or
 * clone, replaced atomically on each change (control thread only). It is
 * informational (volume list): the pool's metadata is the truth about what
 * exists, and shares chunks by reference count, so losing this file loses
 * no data. */
struct lineage {
	uint32_t id, origin;
	char kind[12];
};

static bool lineage_path(const struct tgt_model *m, const struct lun_pool_conf *pc, char *out,
			 size_t len)
{
	return snprintf(out, len, "%s/pool-%s.lineage", m->conf->data_dir, pc->name) < (int)len;
}

/* A missing or unreadable file is an empty lineage. *out malloc'ed. */
static int lineage_read(const struct tgt_model *m, const struct lun_pool_conf *pc,
			struct lineage **out, int *n)
{
	char path[PATH_MAX], line[128];
	*out = NULL;
	*n = 0;
	FILE *f = lineage_path(m, pc, path, sizeof(path)) ? fopen(path, "re") : NULL;
	if (!f)
		return 0;
	int cap = 0;
	while (fgets(line, sizeof(line), f)) {
		struct lineage e = { 0 };
		unsigned long id, origin;
		if (sscanf(line, "%lu %11s %lu", &id, e.kind, &origin) != 3 || id > UINT32_MAX ||
		    origin > UINT32_MAX)
			continue;
		e.id = (uint32_t)id;
		e.origin = (uint32_t)origin;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct lineage *g = realloc(*out, (size_t)cap * sizeof(*g));
			if (!g) {
				fclose(f);
				return -ENOMEM;
			}
			*out = g;
		}
		(*out)[(*n)++] = e;
	}
	fclose(f);
	return 0;
}

/* Set (kind != NULL) or drop volume id's line. */
void lineage_update(const struct tgt_model *m, const struct lun_pool_conf *pc, uint32_t id,
		    const char *kind, uint32_t origin)
{
	struct lineage *l;
	int n;
	char path[PATH_MAX];
	if (lineage_read(m, pc, &l, &n) < 0 || !lineage_path(m, pc, path, sizeof(path))) {
		free(l);
		return;
	}
	size_t cap = (size_t)(n + 1) * 48 + 1, len = 0;
	char *text = malloc(cap);
	bool changed = kind != NULL;
	for (int i = 0; text && i < n; i++) {
		if (l[i].id == id) {
			changed = true;
			continue;
		}
		len += (size_t)snprintf(text + len, cap - len, "%u %s %u\n", l[i].id, l[i].kind,
					l[i].origin);
	}
	if (text && kind)
		len += (size_t)snprintf(text + len, cap - len, "%u %s %u\n", id, kind, origin);
	int r = !text ? -ENOMEM : changed ? kfile_replace(path, text, len, 0600) : 0;
	if (r < 0)
		kwarn("pool %s: lineage file %s: %s", pc->name, path, strerror(-r));
	free(text);
	free(l);
}

/* ---- volume list: the library's table plus the lineage file's kinds ---- */
static int pool_peek(struct lun_thin_pool *pool, struct tgt_volume_info **out, int *n)
{
	struct lun_thin_volume_info *lv = NULL;
	size_t nv = 0;
	int r = lun_thin_volume_list(pool, &lv, &nv);
	if (r < 0)
		return r;
	struct tgt_volume_info *v = calloc(nv ? nv : 1, sizeof(*v));
	for (size_t i = 0; v && i < nv; i++)
		v[i] = (struct tgt_volume_info){ .id = lv[i].id,
						 .size = lv[i].size,
						 .mapped_chunks = lv[i].mapped_chunks,
						 .read_only = lv[i].read_only,
						 .open = lv[i].open };
	free(lv);
	if (!v)
		return -ENOMEM;
	*out = v;
	*n = (int)nv;
	return 0;
}

static int volume_list_fn(struct stor_call *c)
{
	struct lun_pool_conf *pc = call_pool(c);
	struct lun_pool_run *pst = call_pool_run(c);
	struct tgt_volume_info *v = NULL;
	struct lineage *l = NULL;
	int n = 0, nl = 0;
	if (!pc || pst->failed || !pst->pool)
		return pc ? -ENODEV : -ENOENT;
	int r = pool_peek(pst->pool, &v, &n);
	if (r == 0)
		r = lineage_read(c->m, pc, &l, &nl);
	for (int i = 0; r == 0 && i < n; i++) {
		snprintf(v[i].kind, sizeof(v[i].kind), "%s",
			 v[i].read_only ? "snapshot" : "volume");
		for (int k = 0; k < nl; k++)
			if (l[k].id == v[i].id) {
				snprintf(v[i].kind, sizeof(v[i].kind), "%s", l[k].kind);
				v[i].has_origin = true;
				v[i].origin = l[k].origin;
			}
	}
	free(l);
	if (r < 0) {
		free(v);
		return r;
	}
	*(struct tgt_volume_info **)c->out = v; /* sorted by id by the library */
	*c->now = (uint64_t)n;
	return 0;
}

/* ---- volume create / delete / resize / snapshot / clone ---- */
static int volume_op_fn(struct stor_call *c)
{
	struct lun_pool_conf *pc = call_pool(c);
	struct lun_pool_run *pst = call_pool_run(c);
	if (!pc || pst->failed || !pst->pool)
		return pc ? -ENODEV : -ENOENT;
	static const char *const names[] = { "created", "deleted", "resized", "snapshot", "clone" };
	int r;
	switch (c->op) {
	case TGT_VOL_CREATE: r = lun_thin_volume_create(pst->pool, c->id, c->size); break;
	case TGT_VOL_DELETE: r = lun_thin_volume_delete(pst->pool, c->id); break;
	case TGT_VOL_RESIZE: r = lun_thin_volume_resize(pst->pool, c->id, c->size); break;
	case TGT_VOL_SNAPSHOT: r = lun_thin_snapshot(pst->pool, c->origin, c->id); break;
	case TGT_VOL_CLONE: r = lun_thin_clone(pst->pool, c->origin, c->id); break;
	default: return -EINVAL;
	}
	if (r < 0)
		return r;
	if (c->op == TGT_VOL_SNAPSHOT || c->op == TGT_VOL_CLONE)
		lineage_update(c->m, pc, c->id, names[c->op], c->origin);
	else if (c->op != TGT_VOL_RESIZE)
		lineage_update(c->m, pc, c->id, NULL, 0); /* a new or deleted id has no lineage */
	if (c->op == TGT_VOL_SNAPSHOT || c->op == TGT_VOL_CLONE)
		kinfo("pool %s: volume %u: %s of volume %u (admin)", pc->name, c->id, names[c->op],
		      c->origin);
	else
		kinfo("pool %s: volume %u %s (admin)", pc->name, c->id, names[c->op]);
	return 0;
}

int tgt_storage_volume_list(struct tgt_model *m, int idx, struct tgt_volume_info **out, int *n)
{
	uint64_t count = 0;
	struct stor_call c = { .fn = volume_list_fn,
			       .m = m,
			       .idx = idx,
			       .out = out,
			       .now = &count };
	*out = NULL;
	int r = stor_call(&c);
	*n = (int)count;
	return r;
}

int tgt_storage_volume_op(struct tgt_model *m, int idx, enum tgt_vol_op op, uint32_t id,
			  uint32_t origin, uint64_t size)
{
	struct stor_call c = { .fn = volume_op_fn,
			       .m = m,
			       .idx = idx,
			       .op = op,
			       .id = id,
			       .origin = origin,
			       .size = size };
	return stor_call(&c);
}
