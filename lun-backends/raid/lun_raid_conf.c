/* SPDX-License-Identifier: Apache-2.0 */
/* The raid kind in the backend registry: the [raid NAME] section (level,
 * chunk, members, spares, create, direct, member_size, rebuild_rate), a
 * LUN's "backend = raid" with "raid = NAME", and opening such a LUN on its
 * array (shared: closing the LUN's backend closes nothing). Reference:
 * docs/storage.md.
 *
 * Not for: assembling (lun-backends/lun_stack.c) or running an array (lun_raid*.c).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "lun-backends/lun_registry.h"
#include "lun-backends/lun_stack.h"
#include "lun-backends/raid/lun_raid.h"

static struct lun_raid_conf *rc(void *obj)
{
	return obj;
}

static void *raid_begin(struct lun_conf_ctx *c, struct lun_stack_conf *sc, const char *name)
{
	if (lun_conf_check_name(c, "raid", name, lun_stack_find_raid(sc, name) >= 0) < 0)
		return NULL;
	struct lun_raid_conf *r = lun_conf_grow(&sc->raids, &sc->n_raids, sizeof(*r));
	if (!r)
		return lun_conf_fail(c, "out of memory"), NULL;
	strcpy(r->name, name);
	r->line = c->line;
	r->level = -1;
	return r;
}

/* "a.img, b.img" or one path per repeated key; appended to *list. */
static int add_paths(struct lun_conf_ctx *c, const char *key, const char *v, const char ***list,
		     int *n)
{
	char buf[PATH_MAX];
	for (const char *s = v; *s;) {
		size_t len = strcspn(s, ",");
		const char *e = s + len;
		while (len && isspace((unsigned char)*s))
			s++, len--;
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || len >= sizeof(buf))
			return lun_conf_fail(c, "%s: empty or over-long path in '%s'", key, v);
		if (*n >= LUN_RAID_MAX_MEMBERS)
			return lun_conf_fail(c, "%s: at most %d paths", key, LUN_RAID_MAX_MEMBERS);
		memcpy(buf, s, len);
		buf[len] = '\0';
		const char **slot = lun_conf_grow(list, n, sizeof(**list));
		if (!slot || !(*slot = c->store(c->arg, buf)))
			return lun_conf_fail(c, "out of memory");
		s = *e ? e + 1 : e;
	}
	return 0;
}

static int add_member(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return add_paths(c, k, v, &rc(o)->members, &rc(o)->n_members);
}

static int add_spare(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return add_paths(c, k, v, &rc(o)->spares, &rc(o)->n_spares);
}

static const int raid_levels[] = { 0, 1, 5, 6, 10 };

static int set_level(struct lun_conf_ctx *c, void *o, const char *key, const char *v)
{
	const char *d = strncasecmp(v, "raid", 4) == 0 ? v + 4 : v;
	for (size_t i = 0; i < sizeof(raid_levels) / sizeof(raid_levels[0]); i++) {
		char w[8];
		snprintf(w, sizeof(w), "%d", raid_levels[i]);
		if (strcmp(d, w) == 0) {
			rc(o)->level = raid_levels[i];
			return 0;
		}
	}
	return lun_conf_fail(c, "%s: '%s' must be 0, 1, 5, 6 or 10", key, v);
}

static int set_chunk(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_pow2(c, k, v, 4096, 4u << 20, &rc(o)->chunk);
}

static int set_member_size(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_size(c, k, v, &rc(o)->member_size);
}

/* "200M" = 200 MiB per second; an optional "/s" is accepted. */
static int set_rebuild_rate(struct lun_conf_ctx *c, void *o, const char *key, const char *v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", v);
	size_t n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, "/s") == 0)
		buf[n - 2] = '\0';
	uint64_t x = 0;
	if (lun_conf_size(c, key, buf, &x) < 0)
		return -EINVAL;
	if (x < (1u << 20))
		return lun_conf_fail(c, "%s: '%s' is below 1M per second", key, v);
	rc(o)->rebuild_rate = x;
	return 0;
}

static int set_create(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &rc(o)->create);
}
static int set_direct(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &rc(o)->direct);
}
static int set_force_new(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &rc(o)->force_new);
}

static const struct lun_key raid_keys[] = {
	{ "level", set_level, false },
	{ "chunk", set_chunk, false },
	{ "members", add_member, true },
	{ "member", add_member, true },
	{ "spares", add_spare, true },
	{ "spare", add_spare, true },
	{ "create", set_create, false },
	{ "direct", set_direct, false },
	{ "member_size", set_member_size, false },
	{ "rebuild_rate", set_rebuild_rate, false },
	{ "force_new", set_force_new, false },
};

static int raid_end(struct lun_conf_ctx *c, struct lun_stack_conf *sc, void *obj)
{
	const struct lun_raid_conf *r = obj;
	static const int min_members[] = { [0] = 2, [1] = 2, [5] = 3, [6] = 4, [10] = 4 };
	(void)sc;
	if (r->n_members == 0)
		return lun_conf_fail(c, "[raid %s] needs 'members = PATH, PATH, ...'", r->name);
	if (r->create && r->level < 0)
		return lun_conf_fail(c, "[raid %s]: create = yes needs 'level'", r->name);
	if (r->level >= 0 && r->n_members < min_members[r->level])
		return lun_conf_fail(c, "[raid %s]: raid%d needs at least %d members, got %d",
				     r->name, r->level, min_members[r->level], r->n_members);
	if (r->level == 10 && r->n_members % 2)
		return lun_conf_fail(c, "[raid %s]: raid10 needs an even number of members",
				     r->name);
	return 0;
}

static const struct lun_section raid_section = {
	"raid", raid_begin, raid_end, raid_keys, sizeof(raid_keys) / sizeof(raid_keys[0]),
};

/* ---- [lun] backend = raid ---- */

static int set_lun_raid(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_str(c, k, v, &((struct lun_conf_lun *)o)->s->raid);
}

static const struct lun_key raid_lun_keys[] = {
	{ "raid", set_lun_raid, false },
};

static bool raid_keys_given(const struct lun_conf_lun *l)
{
	return l->s->raid != NULL;
}

static int raid_lun_check(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	if (l->b->path)
		return lun_conf_fail(c, "backend = %s takes no 'path'", l->b->type);
	if (!l->s->raid)
		return lun_conf_fail(c, "backend = raid needs 'raid = NAME'");
	return 0;
}

static int raid_lun_resolve(struct lun_conf_ctx *c, const struct lun_stack_conf *sc,
			    const struct lun_stack_lun *s)
{
	if (s->raid && lun_stack_find_raid(sc, s->raid) < 0)
		return lun_conf_fail(c, "raid = %s: no [raid %s] section", s->raid, s->raid);
	return 0;
}

static int raid_open_lun(const struct lun_stack *st, const struct lun_conf_lun *l,
			 struct lun_backend **out, struct lun_stack_open *o)
{
	int i = lun_stack_find_raid(st->conf, l->s->raid);
	const struct lun_raid_run *rr = i >= 0 ? &st->raids[i] : NULL;
	if (!rr || rr->failed) {
		o->offline = true;
		snprintf(o->why, sizeof(o->why), "%s", rr ? rr->why : "no such raid");
		return -ENODEV;
	}
	int r = lun_stack_shared(rr->be, out);
	if (r == 0)
		(*out)->read_only |= l->b->read_only;
	return r;
}

const struct lun_kind lun_kind_raid = {
	.name = "raid",
	.lun_keys = raid_lun_keys,
	.n_lun_keys = sizeof(raid_lun_keys) / sizeof(raid_lun_keys[0]),
	.lun_keys_given = raid_keys_given,
	.misplaced = "raid = NAME needs backend = raid",
	.lun_check = raid_lun_check,
	.section = &raid_section,
	.layer = 1,
	.lun_resolve = raid_lun_resolve,
	.open_lun = raid_open_lun,
};
