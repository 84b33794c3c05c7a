/* SPDX-License-Identifier: Apache-2.0 */
/* The admin socket's storage requests (admin.h): `raid status|scrub|fail|
 * remove|add-spare`, `pool status|grow`, `volume list|create|resize|delete`,
 * `snapshot create` and `clone create`, text or JSON.
 *
 * The work itself runs on storage.c's control thread (tgt_storage_*: posted
 * to its loop, this thread waits for the answer); here are argument checks,
 * the checks against exported LUNs (t->luns belongs to this thread), the
 * configuration edits of add-spare, remove and pool grow
 * (admin_live_section_key / _drop: validated, the change applied, then
 * renamed into place) and output. The
 * file stand-ins of docs/storage.md (storage.status, raid-NAME.scrub) keep
 * working beside these requests.
 *
 * Not for: RAID / thin logic (lun-backends/), the control thread (storage.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "common/log.h"
#include "target/admin/admin_internal.h"
#include "target/model/storage.h"

static const char *const raid_state_names[] = { "clean", "dirty", "degraded", "failed" };

static const char *member_state(const struct lun_raid_status *st, int i)
{
	if (!st->member[i].present)
		return "missing";
	switch (st->member[i].state) {
	case LUN_RAID_M_ACTIVE: return "active";
	case LUN_RAID_M_REBUILDING: return "rebuilding";
	default: return "failed";
	}
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

static int find_raid(const struct tgt_model *m, const char *name, const char **why)
{
	for (int i = 0; i < m->stack.n_raids; i++)
		if (!strcmp(m->stack.raids[i].name, name))
			return i;
	*why = "no such raid";
	return -ENOENT;
}

static int find_pool(const struct tgt_model *m, const char *name, const char **why)
{
	for (int i = 0; i < m->stack.n_pools; i++)
		if (!strcmp(m->stack.pools[i].name, name))
			return i;
	*why = "no such pool";
	return -ENOENT;
}

/* ---- raid status ---- */

static void raid_text(FILE *f, const char *name, const struct tgt_raid_info *in)
{
	const struct lun_raid_status *s = &in->st;
	int active = 0, failed = 0;
	if (in->failed) {
		fprintf(f, "%s state=failed reason=\"%s\"\n", name, in->why);
		return;
	}
	for (int i = 0; i < s->nmembers; i++) {
		active += s->member[i].state == LUN_RAID_M_ACTIVE;
		failed += s->member[i].state == LUN_RAID_M_FAILED;
	}
	fprintf(f,
		"%s state=%s level=%d chunk=%u size=%" PRIu64
		" members=%d active=%d failed=%d spares=%d "
		"rebuilding=%d rebuild_role=%d rebuild_pct=%u resyncing=%d resync_pct=%u scrubbing=%d "
		"scrub_pct=%u scrub_units=%" PRIu64 " scrub_mismatches=%" PRIu64
		" scrub_repaired=%" PRIu64 " scrub_stopped=%d dirty_regions=%" PRIu64
		" last_rebuild_s=%.2f last_rebuild_mib_s=%.1f\n",
		name, raid_state_names[s->state], s->level, s->chunk, s->size, s->nmembers, active,
		failed, s->nspares, s->rebuilding, s->rebuild_role, s->rebuild_pct, s->resyncing,
		s->resync_pct, s->scrubbing, s->scrub_pct, s->scrub_units, s->scrub_mismatches,
		s->scrub_repaired, s->scrub_stopped, s->dirty_regions, in->last_rebuild_s,
		in->last_rebuild_mib_s);
	for (int i = 0; i < s->nmembers; i++)
		fprintf(f, "  role=%d state=%s path=%s\n", i, member_state(s, i),
			s->member[i].path);
}

static void raid_json(FILE *f, const char *name, const struct tgt_raid_info *in)
{
	const struct lun_raid_status *s = &in->st;
	fputs("{\"name\":", f);
	kjson_str(f, name);
	if (in->failed) {
		fputs(",\"state\":\"failed\",\"reason\":", f);
		kjson_str(f, in->why);
		fputs("}", f);
		return;
	}
	fprintf(f, ",\"state\":\"%s\",\"level\":%d,\"chunk\":%u,\"size\":%" PRIu64 ",\"members\":[",
		raid_state_names[s->state], s->level, s->chunk, s->size);
	for (int i = 0; i < s->nmembers; i++) {
		fprintf(f, "%s{\"role\":%d,\"state\":\"%s\",\"path\":", i ? "," : "", i,
			member_state(s, i));
		kjson_str(f, s->member[i].path);
		fputc('}', f);
	}
	fprintf(f,
		"],\"spares\":%d,\"rebuild\":{\"running\":%s,\"role\":%d,\"pct\":%u,\"last_s\":%.2f,"
		"\"last_mib_s\":%.1f},\"resync\":{\"running\":%s,\"pct\":%u},\"scrub\":{\"running\":%s,"
		"\"stopped\":%s,\"pct\":%u,\"units\":%" PRIu64 ",\"mismatches\":%" PRIu64
		",\"repaired\":%" PRIu64
		"},"
		"\"dirty_regions\":%" PRIu64 "}",
		s->nspares, tf(s->rebuilding), s->rebuild_role, s->rebuild_pct, in->last_rebuild_s,
		in->last_rebuild_mib_s, tf(s->resyncing), s->resync_pct, tf(s->scrubbing),
		tf(s->scrub_stopped), s->scrub_pct, s->scrub_units, s->scrub_mismatches,
		s->scrub_repaired, s->dirty_regions);
}

static int raid_one(struct tgt_model *m, int idx, FILE *f, bool json, const char **why)
{
	struct tgt_raid_info in;
	int r = tgt_storage_raid_info(m, idx, &in);
	*why = "storage control thread not running";
	if (r < 0)
		return r;
	(json ? raid_json : raid_text)(f, m->stack.raids[idx].name, &in);
	return 0;
}

static int raid_status(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	if (c->argc == 3) {
		int i = find_raid(m, c->argv[2], why);
		int r = i < 0 ? i : raid_one(m, i, f, c->json, why);
		if (r == 0 && c->json)
			fputc('\n', f);
		return r;
	}
	fputs(c->json ? "[" : "", f);
	for (int i = 0; i < m->stack.n_raids; i++) {
		fputs(c->json && i ? "," : "", f);
		int r = raid_one(m, i, f, c->json, why);
		if (r < 0)
			return r;
	}
	fputs(c->json ? "]\n" : "", f);
	return 0;
}

/* ---- raid scrub / fail / add-spare ---- */

/* Where the stopped scrub got to and what it found so far. */
static int raid_scrub_stop(struct tgt_model *m, const struct admin_cmd *c, FILE *f,
			   const char **why)
{
	struct lun_raid_status st;
	int i = find_raid(m, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_scrub_stop(m, i, &st);
	if (r == -ESRCH) {
		snprintf(c->msg, admin_msg_len(c, 128), "no scrub running on %s", c->argv[2]);
		*why = c->msg;
	} else if (r == -ENODEV) {
		*why = "the array is not assembled";
	} else if (r == 0) {
		fprintf(f,
			"scrub of %s stopped at %u%%: units=%" PRIu64 " mismatches=%" PRIu64
			" repaired=%" PRIu64 "\n",
			c->argv[2], st.scrub_pct, st.scrub_units, st.scrub_mismatches,
			st.scrub_repaired);
	}
	return r;
}

static int raid_scrub(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool repair = c->repair;
	if (c->stop)
		return raid_scrub_stop(m, c, f, why);
	int i = find_raid(m, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_scrub(m, i, repair);
	if (r == -EBUSY)
		*why = "a resync, rebuild or scrub is running; try again when it has finished";
	else if (r == -ENODEV)
		*why = "the array is not assembled";
	else if (r == 0)
		fprintf(f, "scrub (%s) of %s started\n", repair ? "repair" : "check", c->argv[2]);
	return r;
}

static int raid_fail(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	long role = (long)c->num;
	int i = find_raid(m, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_fail(m, i, (int)role);
	if (r == -EINVAL)
		*why = "no such role";
	else if (r == -EALREADY)
		*why = "role already failed";
	else if (r == -ENODEV)
		*why = "the array is not assembled";
	else if (r == 0)
		fprintf(f, "role %ld of %s failed\n", role, c->argv[2]);
	return r;
}

struct spare_arg {
	struct tgt_model *m;
	int idx;
	const char *path;
};

/* Runs once the configuration with the new spares line has parsed. */
static int spare_apply(void *arg, const struct tgt_config *parsed, char *err, size_t errlen)
{
	struct spare_arg *a = arg;
	int r = tgt_storage_raid_add_spare(a->m, a->idx, a->path, err, errlen);
	if (r == -ENODEV && !err[0])
		snprintf(err, errlen, "the array is not assembled");
	else if (r < 0 && !err[0])
		snprintf(err, errlen, "cannot add the spare: %s", strerror(-r));
	return r;
}

/* The spare is added to the array, and to the section's spares list so that
 * the next start finds it (assembly takes members and spares in any order). */
static int raid_add_spare(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	int i = find_raid(m, c->argv[2], why);
	if (i < 0)
		return i;
	struct spare_arg a = { m, i, c->argv[3] };
	int r = admin_live_section_key(m, "raid", c->argv[2], "spares", c->argv[3], true,
				       spare_apply, &a, c, f, why);
	if (r == 0)
		fprintf(f, "spare %s added to %s\n", c->argv[3], c->argv[2]);
	return r;
}

struct remove_arg {
	struct tgt_model *m;
	int idx, role;
	const char *what;
	char path[PATH_MAX];
};

/* Runs once the configuration without the member / spare has parsed. */
static int remove_apply(void *arg, const struct tgt_config *parsed, char *err, size_t errlen)
{
	struct remove_arg *a = arg;
	char path[PATH_MAX];
	return tgt_storage_raid_remove(a->m, a->idx, a->role, a->what, false, path, err, errlen);
}

/* raid remove NAME ROLE|PATH: checked and resolved to a path first, so that
 * the path can leave the section's members / spares; then removed from the
 * array (apply) before the new file is renamed into place. */
static int raid_remove(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct remove_arg a;
	char *err = c->msg;
	size_t errlen = admin_msg_len(c, PATH_MAX + 128);
	int i = find_raid(m, c->argv[2], why);
	if (i < 0)
		return i;
	const char *w = c->argv[3];
	a = (struct remove_arg){ .m = m, .idx = i, .role = -1, .what = w };
	if (strspn(w, "0123456789") == strlen(w))
		a.role = strlen(w) < 4 ? atoi(w) : LUN_RAID_MAX_MEMBERS;
	err[0] = '\0';
	int r = tgt_storage_raid_remove(m, i, a.role, w, true, a.path, err, errlen);
	*why = err[0] ? err : r == -ENODEV ? "the array is not assembled" : strerror(-r);
	if (r < 0)
		return r;
	if (a.role < 0)
		a.what = a.path;
	r = admin_live_section_drop(m, "raid", c->argv[2], a.path, remove_apply, &a, c, f, why);
	if (r == 0 && a.role >= 0)
		fprintf(f, "role %d of %s removed (%s)\n", a.role, c->argv[2], a.path);
	else if (r == 0)
		fprintf(f, "%s removed from %s\n", a.path, c->argv[2]);
	return r;
}

/* ---- raid create / pool create ----
 * The new section is appended to the configuration text; once the text
 * parses, storage.c opens the section from the parsed copy on its control
 * thread (new arrays and pools only), then the file is renamed into place. */

struct add_arg {
	struct tgt_model *m;
	const char *name;
	bool pool, force_new;
};

static int add_apply(void *arg, const struct tgt_config *parsed, char *err, size_t errlen)
{
	struct add_arg *a = arg;
	return parsed ? tgt_storage_add(a->m, parsed, a->pool, a->name, a->force_new, err, errlen)
		      : -EINVAL;
}

/* "key=value" words from argv[from] into "KEY = value" lines (keys[k][0] is
 * the word's key, keys[k][1] the section's). */
static int section_words(const struct admin_cmd *c, int from, const char *const (*keys)[2],
			 size_t nkeys, char *sect, size_t cap, size_t *len)
{
	for (int i = from; i < c->argc; i++) {
		const char *w = c->argv[i], *eq = strchr(w, '=');
		size_t k = 0;
		while (eq && k < nkeys &&
		       (strlen(keys[k][0]) != (size_t)(eq - w) ||
			strncmp(w, keys[k][0], (size_t)(eq - w))))
			k++;
		if (!eq || k == nkeys || !eq[1] || strpbrk(eq + 1, ";#[]="))
			return -EINVAL;
		*len += (size_t)snprintf(sect + *len, cap - *len, "%s = %s\n", keys[k][1], eq + 1);
		if (*len >= cap)
			return -EINVAL;
	}
	return 0;
}

static bool has_word(const struct admin_cmd *c, int from, const char *prefix)
{
	for (int i = from; i < c->argc; i++)
		if (!strncmp(c->argv[i], prefix, strlen(prefix)))
			return true;
	return false;
}

static int add_storage(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char *sect,
		       bool pool, const char **why)
{
	struct add_arg a = { m, c->argv[2], pool, c->force };
	int r = admin_live_add_section(m, sect, add_apply, &a, c, f, why);
	if (r == 0)
		fprintf(f, "%s %s created\n", pool ? "pool" : "raid", c->argv[2]);
	return r;
}

static int raid_create(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	static const char *const keys[][2] = { { "level", "level" },
					       { "members", "members" },
					       { "member_size", "member_size" },
					       { "chunk", "chunk" } };
	char sect[ADMIN_MAX_LINE + 128];
	if (find_raid(m, c->argv[2], why) >= 0) {
		*why = "the array exists";
		return -EEXIST;
	}
	size_t len = (size_t)snprintf(sect, sizeof(sect), "[raid %s]\n", c->argv[2]);
	if (section_words(c, 3, keys, sizeof(keys) / sizeof(keys[0]), sect, sizeof(sect), &len) <
		    0 ||
	    len + 16 >= sizeof(sect))
		return -EINVAL;
	snprintf(sect + len, sizeof(sect) - len, "create = yes\n");
	return add_storage(m, c, f, sect, false, why);
}

/* raid ... requests, decoded by admin_parse.c (which also checked the words
 * that need no lookup). */
int admin_storage_raid(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	switch (c->op) {
	case ADMIN_RAID_STATUS: return raid_status(m, c, f, why);
	case ADMIN_RAID_SCRUB: return raid_scrub(m, c, f, why);
	case ADMIN_RAID_FAIL: return raid_fail(m, c, f, why);
	case ADMIN_RAID_ADD_SPARE: return raid_add_spare(m, c, f, why);
	case ADMIN_RAID_REMOVE: return raid_remove(m, c, f, why);
	case ADMIN_RAID_CREATE: return raid_create(m, c, f, why);
	default: return -EINVAL;
	}
}

/* ---- pool status ---- */

static void pool_out(FILE *f, const char *name, const struct tgt_pool_info *in, bool json)
{
	const struct lun_thin_pool_status *s = &in->st;
	if (in->failed && json) {
		fputs("{\"name\":", f);
		kjson_str(f, name);
		fputs(",\"state\":\"failed\",\"reason\":", f);
		kjson_str(f, in->why);
		fputc('}', f);
	} else if (in->failed) {
		fprintf(f, "%s state=failed reason=\"%s\"\n", name, in->why);
	} else if (json) {
		fputs("{\"name\":", f);
		kjson_str(f, name);
		fprintf(f,
			",\"state\":\"%s\",\"chunk_size\":%u,\"chunks\":{\"total\":%" PRIu64
			",\"used\":%" PRIu64 ",\"free\":%" PRIu64
			"},\"volumes\":%u,\"virtual_bytes\":%" PRIu64
			",\"overcommit\":%.3f,"
			"\"low_water\":%" PRIu64 ",\"low_water_events\":%" PRIu64 "}",
			s->failed ? "failed" : "ok", s->chunk_size, s->chunks_total, s->chunks_used,
			s->chunks_free, s->volumes, s->virtual_bytes, s->overcommit, s->low_water,
			s->low_water_events);
	} else {
		fprintf(f,
			"%s state=%s chunk_size=%u chunks_total=%" PRIu64 " chunks_used=%" PRIu64
			" chunks_free=%" PRIu64 " volumes=%u virtual_bytes=%" PRIu64
			" overcommit=%.3f low_water=%" PRIu64 " low_water_events=%" PRIu64 "\n",
			name, s->failed ? "failed" : "ok", s->chunk_size, s->chunks_total,
			s->chunks_used, s->chunks_free, s->volumes, s->virtual_bytes, s->overcommit,
			s->low_water, s->low_water_events);
	}
}

static int pool_grow(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);

/* pool create NAME path=FILE [size=S] | raid=R, [chunk_size=C] [meta=M]
 * [--force-new] (meta defaults to NAME.meta in data_dir; --force-new
 * formats over data or a foreign metadata file, this once: not saved). */
static int pool_create(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	static const char *const keys[][2] = { { "path", "data" },
					       { "raid", "data" },
					       { "size", "size" },
					       { "chunk_size", "chunk_size" },
					       { "meta", "meta" } };
	char sect[ADMIN_MAX_LINE + 128];
	if (find_pool(m, c->argv[2], why) >= 0) {
		*why = "the pool exists";
		return -EEXIST;
	}
	size_t len = (size_t)snprintf(sect, sizeof(sect), "[pool %s]\n", c->argv[2]);
	if (section_words(c, 3, keys, sizeof(keys) / sizeof(keys[0]), sect, sizeof(sect), &len) <
		    0 ||
	    len + TGT_STORAGE_NAME_MAX + 16 >= sizeof(sect))
		return -EINVAL;
	if (!has_word(c, 3, "meta="))
		snprintf(sect + len, sizeof(sect) - len, "meta = %s.meta\n", c->argv[2]);
	return add_storage(m, c, f, sect, true, why);
}

int admin_storage_pool(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct tgt_pool_info in;
	if (c->op == ADMIN_POOL_GROW)
		return pool_grow(m, c, f, why);
	if (c->op == ADMIN_POOL_CREATE)
		return pool_create(m, c, f, why);
	int from = 0, to = m->stack.n_pools;
	if (c->argc == 3 && (from = find_pool(m, c->argv[2], why)) < 0)
		return from;
	to = c->argc == 3 ? from + 1 : to;
	bool list = c->json && c->argc == 2;
	fputs(list ? "[" : "", f);
	for (int i = from; i < to; i++) {
		int r = tgt_storage_pool_info(m, i, &in);
		*why = "storage control thread not running";
		if (r < 0)
			return r;
		fputs(list && i ? "," : "", f);
		pool_out(f, m->stack.pools[i].name, &in, c->json);
	}
	fputs(list ? "]\n" : c->json ? "\n" : "", f);
	return 0;
}

/* ---- pool grow ---- */

struct grow_arg {
	struct tgt_model *m;
	int idx;
	uint64_t size, old, now;
	bool given; /* size= was given */
};

static int grow_apply(void *arg, const struct tgt_config *parsed, char *err, size_t errlen)
{
	struct grow_arg *g = arg;
	/* without size=, storage.c takes the file's size itself (and says so) */
	return tgt_storage_pool_grow(g->m, g->idx, g->given ? g->size : 0, &g->old, &g->now, err,
				     errlen);
}

/* size=S, or the data file's size when the administrator extended it. */
static int grow_size(struct tgt_model *m, const struct lun_pool_conf *pc, const struct admin_cmd *c,
		     uint64_t *size, const char **why)
{

	char path[8300];
	struct stat st;
	*why = "usage: pool grow NAME [size=S]";
	if (c->argc == 4 && strncmp(c->argv[3], "size=", 5))
		return -EINVAL;
	if (c->argc == 4) {
		*why = "size=S: not a size (a number with optional K, M, G, T)";
		return tgt_config_parse_size(c->argv[3] + 5, size) < 0 || !*size ? -EINVAL : 0;
	}
	snprintf(path, sizeof(path), "%s%s%s", pc->data[0] == '/' ? "" : m->conf->data_dir,
		 pc->data[0] == '/' ? "" : "/", pc->data);
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(c->msg, admin_msg_len(c, 600), "data %.500s: %s", path, strerror(e));
		*why = c->msg;
		return -e;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int pool_grow(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	char value[32];
	int i = find_pool(m, c->argv[2], why);
	if (i < 0)
		return i;
	const struct lun_pool_conf *pc = &m->stack.pools[i];
	if (pc->data_raid >= 0) {
		snprintf(c->msg, admin_msg_len(c, 300),
			 "pool %s keeps its data on raid %s, and arrays cannot grow (no "
			 "reshape): put new volumes in a new pool",
			 pc->name, pc->data);
		*why = c->msg;
		return -EOPNOTSUPP;
	}
	struct grow_arg g = { m, i, 0, 0, 0, c->argc == 4 };
	int r = grow_size(m, pc, c, &g.size, why);
	if (r < 0)
		return r;
	snprintf(value, sizeof(value), "%llu", (unsigned long long)g.size);
	r = admin_live_section_key(m, "pool", pc->name, "size", value, false, grow_apply, &g, c, f,
				   why);
	if (r == 0)
		fprintf(f, "pool %s grown from %llu to %llu bytes\n", pc->name,
			(unsigned long long)g.old, (unsigned long long)g.now);
	return r;
}

/* ---- volumes ---- */

#define MAX_EXPORTS 16

struct vol_export {
	const char *iqn;
	uint64_t lun;
	struct scsi_lu *lu;
};

/* The LUNs exporting volume id of pool (t->luns: this thread's). */
static int exports_of(const struct tgt_model *m, const char *pool, uint32_t id,
		      struct vol_export *out)
{
	int n = 0;
	for (int t = 0; t < m->n_targets; t++)
		for (int k = 0; k < m->targets[t].n_luns; k++) {
			const struct tgt_lun *ml = &m->targets[t].luns[k];
			const struct tgt_lun_conf *l = &ml->c;
			if (!ml->lu || !l->stor.pool || strcmp(l->stor.pool, pool) ||
			    l->stor.volume != id)
				continue;
			if (n < MAX_EXPORTS)
				out[n] = (struct vol_export){ m->targets[t].iqn, l->lun, ml->lu };
			n++;
		}
	return n < MAX_EXPORTS ? n : MAX_EXPORTS;
}

static int parse_id(const char *s, uint32_t *out, const char **why)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	*why = "a volume ID is a number 0..4294967295";
	if (errno || *end || s[0] == '-' || !s[0] || x > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static int parse_size_word(const char *w, uint64_t *out, const char **why)
{
	*why = "size=S: a size (a number with optional K, M, G, T), a non-zero multiple of 4096";
	if (strncmp(w, "size=", 5) || tgt_config_parse_size(w + 5, out) < 0 || !*out || *out % 4096)
		return -EINVAL;
	return 0;
}

/* The reason for a library error on volume id of pool (or origin). */
static const char *vol_why(const struct admin_cmd *c, int r, uint32_t id, uint32_t origin,
			   bool copy)
{
	char *msg = c->msg;
	size_t len = admin_msg_len(c, 200);
	switch (r) {
	case -EEXIST: snprintf(msg, len, "volume %u exists", id); break;
	case -ENOENT: snprintf(msg, len, "no volume %u in the pool", copy ? origin : id); break;
	case -EBUSY: snprintf(msg, len, "volume %u is open (exported)", id); break;
	case -EINVAL: snprintf(msg, len, "bad size (a non-zero multiple of 4096)"); break;
	case -ENODEV: snprintf(msg, len, "the pool is not open (pool status says why)"); break;
	case -EIO: snprintf(msg, len, "the pool's metadata failed: allocation is refused"); break;
	default: snprintf(msg, len, "%s", strerror(-r)); break;
	}
	return msg;
}

static void export_json(FILE *f, const struct vol_export *x, int n)
{
	fputs("[", f);
	for (int k = 0; k < n; k++) {
		fputs(k ? ",{\"target\":" : "{\"target\":", f);
		kjson_str(f, x[k].iqn);
		fprintf(f, ",\"lun\":%" PRIu64 "}", x[k].lun);
	}
	fputs("]", f);
}

static void volume_out(FILE *f, const struct tgt_volume_info *v, uint32_t chunk,
		       const struct vol_export *x, int nx, bool json)
{
	if (json) {
		fprintf(f,
			"{\"id\":%u,\"size\":%" PRIu64 ",\"mapped_chunks\":%" PRIu64
			",\"mapped_bytes\":%" PRIu64 ",\"kind\":\"%s\",\"origin\":",
			v->id, v->size, v->mapped_chunks, v->mapped_chunks * chunk, v->kind);
		if (v->has_origin)
			fprintf(f, "%u", v->origin);
		else
			fputs("null", f);
		fprintf(f, ",\"read_only\":%s,\"open\":%s,\"exported\":", tf(v->read_only),
			tf(v->open));
		export_json(f, x, nx);
		fputc('}', f);
		return;
	}
	fprintf(f,
		"%u size=%" PRIu64 " mapped_chunks=%" PRIu64 " mapped_bytes=%" PRIu64
		" kind=%s origin=",
		v->id, v->size, v->mapped_chunks, v->mapped_chunks * chunk, v->kind);
	if (v->has_origin)
		fprintf(f, "%u", v->origin);
	else
		fputc('-', f);
	fputs(" exported=", f);
	for (int k = 0; k < nx; k++)
		fprintf(f, "%s%s:%" PRIu64, k ? "," : "", x[k].iqn, x[k].lun);
	fputs(nx ? "\n" : "-\n", f);
}

static int volume_list(struct tgt_model *m, int pi, const struct admin_cmd *c, FILE *f,
		       const char **why)
{
	struct tgt_pool_info in;
	struct tgt_volume_info *v = NULL;
	struct vol_export x[MAX_EXPORTS];
	int n = 0;
	*why = "usage: volume list POOL [--json]";
	if (c->argc != 3)
		return -EINVAL;
	int r = tgt_storage_pool_info(m, pi, &in);
	if (r == 0 && in.failed)
		r = -ENODEV;
	if (r == 0)
		r = tgt_storage_volume_list(m, pi, &v, &n);
	if (r < 0) {
		*why = r == -ENODEV ? "the pool is not open (pool status says why)"
				    : "storage control thread not running";
		return r;
	}
	fputs(c->json ? "[" : "", f);
	for (int i = 0; i < n; i++) {
		int nx = exports_of(m, m->stack.pools[pi].name, v[i].id, x);
		fputs(c->json && i ? "," : "", f);
		volume_out(f, &v[i], in.st.chunk_size, x, nx, c->json);
	}
	fputs(c->json ? "]\n" : "", f);
	free(v);
	return 0;
}

static uint64_t volume_size(struct tgt_model *m, int pi, uint32_t id)
{
	struct tgt_volume_info *v = NULL;
	int n = 0;
	uint64_t size = 0;
	if (tgt_storage_volume_list(m, pi, &v, &n) == 0)
		for (int i = 0; i < n; i++)
			if (v[i].id == id)
				size = v[i].size;
	free(v);
	return size;
}

/* "volume create|resize POOL ID size=S": ID and S, or *why = usage / reason. */
static int parse_id_size(const struct admin_cmd *c, const char *usage, uint32_t *id, uint64_t *size,
			 const char **why)
{
	*why = usage;
	if (c->argc != 5)
		return -EINVAL;
	int r = parse_id(c->argv[3], id, why);
	return r < 0 ? r : parse_size_word(c->argv[4], size, why);
}

static int volume_create(struct tgt_model *m, int pi, const struct admin_cmd *c, FILE *f,
			 const char **why)
{
	uint32_t id;
	uint64_t size;
	int r = parse_id_size(c, "usage: volume create POOL ID size=S", &id, &size, why);
	if (r < 0)
		return r;
	r = tgt_storage_volume_op(m, pi, TGT_VOL_CREATE, id, 0, size);
	if (r < 0) {
		*why = vol_why(c, r, id, 0, false);
		return r;
	}
	fprintf(f, "volume %u created in %s: %" PRIu64 " bytes\n", id, m->stack.pools[pi].name,
		size);
	return 0;
}

/* Grow online: the library updates the open volume's size; every LU
 * exporting it takes the new capacity and raises 2A/09 (SBC-4 4.6). */
static int volume_resize(struct tgt_model *m, int pi, const struct admin_cmd *c, FILE *f,
			 const char **why)
{
	struct vol_export x[MAX_EXPORTS];
	uint32_t id;
	uint64_t size;
	int r = parse_id_size(c, "usage: volume resize POOL ID size=S", &id, &size, why);
	if (r < 0)
		return r;
	const char *pool = m->stack.pools[pi].name;
	int nx = exports_of(m, pool, id, x);
	uint64_t old = volume_size(m, pi, id);
	if (nx && size < old) {
		snprintf(c->msg, admin_msg_len(c, 400),
			 "volume %u is exported as %s LUN %" PRIu64
			 ": a shrink would cut data "
			 "from under its initiators; lun remove it first",
			 id, x[0].iqn, x[0].lun);
		*why = c->msg;
		return -EBUSY;
	}
	r = tgt_storage_volume_op(m, pi, TGT_VOL_RESIZE, id, 0, size);
	if (r < 0) {
		*why = vol_why(c, r, id, 0, false);
		return r;
	}
	for (int k = 0; k < nx; k++)
		scsi_lu_capacity_changed(x[k].lu);
	kinfo("admin: pool %s volume %u resized from %" PRIu64 " to %" PRIu64
	      " bytes; 2A/09 raised on %d LU(s)",
	      pool, id, old, size, nx);
	fprintf(f, "volume %u resized from %" PRIu64 " to %" PRIu64 " bytes", id, old, size);
	if (nx)
		fprintf(f,
			"; %d exported LU(s) report the new capacity (2A/09 CAPACITY DATA HAS CHANGED)",
			nx);
	fputc('\n', f);
	return 0;
}

static int volume_delete(struct tgt_model *m, int pi, const struct admin_cmd *c, FILE *f,
			 const char **why)
{
	struct vol_export x[MAX_EXPORTS];
	struct tgt_pool_info in;
	uint32_t id;
	*why = "usage: volume delete POOL ID";
	if (c->argc != 4)
		return -EINVAL;
	int r = parse_id(c->argv[3], &id, why);
	if (r < 0)
		return r;
	if (exports_of(m, m->stack.pools[pi].name, id, x)) {
		snprintf(c->msg, admin_msg_len(c, 400),
			 "volume %u is exported as %s LUN %" PRIu64 ": lun remove it first", id,
			 x[0].iqn, x[0].lun);
		*why = c->msg;
		return -EBUSY;
	}
	r = tgt_storage_volume_op(m, pi, TGT_VOL_DELETE, id, 0, 0);
	if (r < 0) {
		*why = vol_why(c, r, id, 0, false);
		return r;
	}
	fprintf(f, "volume %u deleted from %s", id, m->stack.pools[pi].name);
	if (tgt_storage_pool_info(m, pi, &in) == 0 && !in.failed)
		fprintf(f, "; %" PRIu64 " of %" PRIu64 " chunks used", in.st.chunks_used,
			in.st.chunks_total);
	fputc('\n', f);
	return 0;
}

/* Indexed by c->op - ADMIN_VOLUME_LIST. */
static int (*const volume_cmds[])(struct tgt_model *, int, const struct admin_cmd *, FILE *,
				  const char **) = {
	volume_list,
	volume_create,
	volume_resize,
	volume_delete,
};

int admin_storage_volume(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	int pi = find_pool(m, c->argv[2], why);
	return pi < 0 ? pi : volume_cmds[c->op - ADMIN_VOLUME_LIST](m, pi, c, f, why);
}

/* snapshot create POOL ORIGIN NEW | clone create POOL ORIGIN NEW: one
 * journal record and a copy of the origin's map, timed here (the admin
 * thread's view: includes the hop to the control thread). */
int admin_storage_copy(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool snap = c->op == ADMIN_SNAPSHOT_CREATE;
	uint32_t origin, id;
	struct timespec t0, t1;
	int pi = find_pool(m, c->argv[2], why);
	int r = pi < 0 ? pi : parse_id(c->argv[3], &origin, why);
	if (r == 0)
		r = parse_id(c->argv[4], &id, why);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = tgt_storage_volume_op(m, pi, snap ? TGT_VOL_SNAPSHOT : TGT_VOL_CLONE, id, origin, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0) {
		*why = vol_why(c, r, id, origin, true);
		return r;
	}
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (c->json)
		fprintf(f,
			"{\"pool\":\"%s\",\"id\":%u,\"origin\":%u,\"kind\":\"%s\",\"ms\":%.3f}\n",
			m->stack.pools[pi].name, id, origin, snap ? "snapshot" : "clone", ms);
	else
		fprintf(f, "%s %u of volume %u %s in %.3f ms\n", snap ? "snapshot" : "clone", id,
			origin, snap ? "taken" : "cloned", ms);
	return 0;
}
