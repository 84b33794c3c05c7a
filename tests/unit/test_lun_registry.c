/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the backend registry (lun-backends/lun_registry.c, the
 * kinds' key tables in raid/lun_raid_conf.c and thin/lun_thin_conf.c) and
 * the stack builder (lun_stack.c): every kind registered with what it
 * needs, [lun] keys and [raid] / [pool] keys accepted and refused with the
 * parser's messages, the end-of-section and whole-file checks, an unknown
 * kind refused, a stack built from parsed sections (a raid1 array, a pool
 * on it, a thin LUN and a raid LUN on top, an offline LUN over a failed
 * array), and the capabilities each backend declares. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/kloop.h"
#include "lun-backends/lun_registry.h"
#include "lun-backends/lun_stack.h"
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"

#define MiB (1024u * 1024u)

static char dir[] = "/tmp/kura-lun-registry-XXXXXX";
static char why[512];
static char *strs[256];
static int n_strs;

static const char *store(void *arg, const char *s)
{
	(void)arg;
	assert_true(n_strs < 256);
	return strs[n_strs++] = strdup(s);
}

static struct lun_conf_ctx ctx(int line)
{
	why[0] = '\0';
	return (struct lun_conf_ctx){ .why = why,
				      .whylen = sizeof(why),
				      .line = line,
				      .store = store };
}

/* Set a [lun] key through the registry: 0, or -EINVAL with why. */
static int lun_key(struct lun_conf_lun *l, const char *k, const char *v)
{
	size_t idx;
	const struct lun_key *key = lun_registry_lun_key(k, &idx);
	assert_non_null(key);
	assert_true(idx < lun_registry_n_lun_keys());
	struct lun_conf_ctx c = ctx(7);
	return key->set(&c, l, k, v);
}

static int sect_key(const struct lun_section *s, void *obj, const char *k, const char *v)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (!strcmp(s->keys[i].name, k)) {
			struct lun_conf_ctx c = ctx(9);
			return s->keys[i].set(&c, obj, k, v);
		}
	fail_msg("no key %s in [%s]", k, s->name);
	return -1;
}

static void expect_refused(int r, const char *msg)
{
	assert_int_equal(r, -EINVAL);
	assert_string_equal(why, msg);
}

/* ---- the registry ---- */

#ifdef KURA_HAVE_RBD
#define KINDS "file, memory, thin, raid or rbd"
#else
#define KINDS "file, memory, thin or raid"
#endif

static void test_kinds(void **state)
{
#ifdef KURA_HAVE_RBD /* built with librbd: the rbd kind comes last */
	static const char *const names[] = { "file", "memory", "thin", "raid", "rbd" };
#else
	static const char *const names[] = { "file", "memory", "thin", "raid" };
#endif
	size_t n = sizeof(names) / sizeof(names[0]);
	assert_int_equal(lun_kind_count(), n);
	for (size_t i = 0; i < n; i++) {
		const struct lun_kind *k = lun_kind_find(names[i]);
		assert_non_null(k);
		assert_ptr_equal(lun_kind_at(i), k);
		assert_non_null(k->lun_check);
		assert_true(!k->open != !k->open_lun); /* a leaf or a stacked kind */
		assert_true(!k->section == !k->lun_resolve);
	}
	assert_null(lun_kind_find("nbd"));
	assert_null(lun_kind_at(n));
	assert_true(lun_kind_find("thin")->open_blocks);
	assert_false(lun_kind_find("raid")->open_blocks);
	/* sections, lower layers first */
	assert_string_equal(lun_registry_section_at(0)->name, "raid");
	assert_string_equal(lun_registry_section_at(1)->name, "pool");
	assert_null(lun_registry_section_at(2));
	assert_non_null(lun_registry_section("pool", 4));
	assert_null(lun_registry_section("lun", 3));
	size_t idx;
	assert_null(
		lun_registry_lun_key("serial", &idx)); /* the LU's identity: not a backend key */
}

static void test_lun_keys(void **state)
{
	struct lun_backend_params b;
	struct lun_stack_lun s;
	struct lun_conf_lun l = { &b, &s };
	lun_conf_lun_init(&b, &s);
	assert_string_equal(b.type, "file");
	assert_int_equal(b.block_size, 512);
	assert_int_equal(lun_key(&l, "size", "8G"), 0);
	assert_int_equal(b.size, 8ull << 30);
	assert_int_equal(lun_key(&l, "size", "64KiB"), 0);
	assert_int_equal(b.size, 64 << 10);
	expect_refused(lun_key(&l, "size", "1Q"),
		       "size: '1Q' is not a size (a number with optional K, M, G, T, P)");
	expect_refused(lun_key(&l, "size", "99999999999P"), "size: '99999999999P' is too large");
	expect_refused(lun_key(&l, "size", "0"), "size: must not be 0");
	expect_refused(lun_key(&l, "block_size", "1024"), "block_size: '1024' must be 512 or 4096");
	assert_int_equal(lun_key(&l, "block_size", "4096"), 0);
	expect_refused(lun_key(&l, "direct", "maybe"), "direct: 'maybe' is not yes or no");
	assert_int_equal(lun_key(&l, "read_only", "on"), 0);
	assert_true(b.read_only);
	/* an unknown kind */
	expect_refused(lun_key(&l, "backend", "nbd"), "backend: 'nbd' is not " KINDS);
	assert_int_equal(lun_key(&l, "backend", "thin"), 0);
	assert_string_equal(b.type, "thin");
	expect_refused(lun_key(&l, "volume", "x"), "volume: 'x' is not a number");
	expect_refused(lun_key(&l, "volume", "4294967296"),
		       "volume: 4294967296 is out of range 0..4294967295");
	assert_int_equal(lun_key(&l, "snapshot_of", "3"), 0);
	expect_refused(lun_key(&l, "clone_of", "4"),
		       "clone_of: a LUN is either a snapshot_of or a clone_of, not both");
	assert_int_equal(lun_key(&l, "pool", "p"), 0);
	assert_string_equal(s.pool, "p");
	assert_true(s.snapshot && s.origin == 3);
}

/* End of a [lun]: keys of another kind first, then the kind's checks. */
static int lun_end(const char *type, void (*set)(struct lun_conf_lun *l))
{
	static struct lun_backend_params b;
	static struct lun_stack_lun s;
	struct lun_conf_lun l = { &b, &s };
	lun_conf_lun_init(&b, &s);
	b.type = lun_kind_find(type)->name;
	set(&l);
	struct lun_conf_ctx c = ctx(3);
	int r = lun_registry_lun_end(&c, &l);
	assert_int_equal(s.line, 3);
	return r;
}

static void file_path_pool(struct lun_conf_lun *l)
{
	l->b->path = "x";
	l->s->pool = "p";
}
static void file_path_raid(struct lun_conf_lun *l)
{
	l->b->path = "x";
	l->s->raid = "r";
}
static void file_create(struct lun_conf_lun *l)
{
	l->b->path = "x";
	l->b->create = true;
}
static void file_odd(struct lun_conf_lun *l)
{
	l->b->path = "x";
	l->b->size = 1000;
}
static void nothing(struct lun_conf_lun *l)
{
	(void)l;
}
static void mem_path(struct lun_conf_lun *l)
{
	l->b->path = "x";
	l->b->size = MiB;
}
static void thin_ok(struct lun_conf_lun *l)
{
	l->s->pool = "p";
	l->s->volume = 1;
	l->s->has_volume = true;
}
static void thin_self(struct lun_conf_lun *l)
{
	thin_ok(l);
	l->s->clone = true;
	l->s->origin = 1;
}
static void thin_odd(struct lun_conf_lun *l)
{
	thin_ok(l);
	l->b->size = 1536;
}
static void thin_path(struct lun_conf_lun *l)
{
	thin_ok(l);
	l->b->path = "x";
}
static void raid_ok(struct lun_conf_lun *l)
{
	l->s->raid = "r";
}

/* The extension point for a kind whose keys have no field in
 * lun_backend_params (the next kind, a Ceph image, keeps rbd_pool etc.
 * there): stored through lun_conf_kind_key, read with lun_params_get, a
 * repeated key replaces its value, at most LUN_KIND_KEYS_MAX keys, and
 * lun_conf_kind_keys_given sees exactly the keys of the kind's own table. */
static int demo_set(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	return lun_conf_kind_key(c, obj, key, v);
}
static const struct lun_key demo_keys[] = { { "demo_image", demo_set, false } };
static const struct lun_kind demo_kind = { .name = "demo", .lun_keys = demo_keys, .n_lun_keys = 1 };

static void test_kind_keys(void **state)
{
	struct lun_backend_params b;
	struct lun_stack_lun st;
	lun_conf_lun_init(&b, &st);
	struct lun_conf_lun l = { &b, &st };
	struct lun_conf_ctx c = ctx(3);
	assert_false(lun_conf_kind_keys_given(&demo_kind, &l));
	assert_null(lun_params_get(&b, "demo_image"));
	assert_int_equal(demo_keys[0].set(&c, &l, "demo_image", "vm-disk-1"), 0);
	assert_true(lun_conf_kind_keys_given(&demo_kind, &l));
	assert_string_equal(lun_params_get(&b, "demo_image"), "vm-disk-1");
	assert_int_equal(lun_conf_kind_key(&c, &l, "demo_image", "vm-disk-2"), 0);
	assert_int_equal(b.n_kind_keys, 1);
	assert_string_equal(lun_params_get(&b, "demo_image"), "vm-disk-2");
	char k[32];
	for (int i = 1; i < LUN_KIND_KEYS_MAX; i++) {
		snprintf(k, sizeof(k), "other_%d", i);
		assert_int_equal(lun_conf_kind_key(&c, &l, k, "x"), 0);
	}
	expect_refused(lun_conf_kind_key(&c, &l, "one_too_many", "x"),
		       "one_too_many: more than 8 keys of the backend's own");
	assert_null(lun_params_get(&b, "one_too_many"));
	assert_string_equal(lun_params_get(&b, "other_7"), "x");
}

static void test_lun_end(void **state)
{
	expect_refused(lun_end("file", file_path_pool),
		       "pool, volume, snapshot_of and clone_of need backend = thin");
	expect_refused(lun_end("file", file_path_raid), "raid = NAME needs backend = raid");
	expect_refused(lun_end("file", nothing), "backend = file needs 'path'");
	expect_refused(lun_end("file", file_create), "create = yes needs 'size'");
	expect_refused(lun_end("file", file_odd), "size 1000 is not a multiple of block_size 512");
	expect_refused(lun_end("memory", mem_path), "backend = memory takes no 'path'");
	expect_refused(lun_end("memory", nothing), "backend = memory needs 'size'");
	expect_refused(lun_end("thin", nothing),
		       "backend = thin needs 'pool = NAME' and 'volume = ID'");
	expect_refused(lun_end("thin", thin_self), "volume 1 cannot be a copy of itself");
	expect_refused(lun_end("thin", thin_odd), "thin volume size must be a multiple of 4096");
	expect_refused(lun_end("thin", thin_path), "backend = thin takes no 'path'");
	expect_refused(lun_end("raid", nothing), "backend = raid needs 'raid = NAME'");
	expect_refused(lun_end("raid", thin_ok),
		       "pool, volume, snapshot_of and clone_of need backend = thin");
	assert_int_equal(lun_end("thin", thin_ok), 0);
	assert_int_equal(lun_end("raid", raid_ok), 0);
}

/* ---- [raid] and [pool] sections ---- */

static void *begin(struct lun_stack_conf *sc, const char *sect, const char *name)
{
	const struct lun_section *s = lun_registry_section(sect, strlen(sect));
	struct lun_conf_ctx c = ctx(5);
	return s->begin(&c, sc, name);
}

static int end(struct lun_stack_conf *sc, const char *sect, void *obj)
{
	const struct lun_section *s = lun_registry_section(sect, strlen(sect));
	struct lun_conf_ctx c = ctx(5);
	return s->end(&c, sc, obj);
}

static void test_sections(void **state)
{
	struct lun_stack_conf sc = { 0 };
	const struct lun_section *rs = lun_registry_section("raid", 4),
				 *ps = lun_registry_section("pool", 4);
	struct lun_raid_conf *r = begin(&sc, "raid", "r1");
	assert_non_null(r);
	assert_int_equal(r->line, 5);
	expect_refused(end(&sc, "raid", r), "[raid r1] needs 'members = PATH, PATH, ...'");
	expect_refused(sect_key(rs, r, "level", "7"), "level: '7' must be 0, 1, 5, 6 or 10");
	assert_int_equal(sect_key(rs, r, "level", "raid10"), 0);
	assert_int_equal(sect_key(rs, r, "members", "a.img, b.img,c.img"), 0);
	assert_int_equal(r->n_members, 3);
	assert_string_equal(r->members[1], "b.img");
	expect_refused(end(&sc, "raid", r), "[raid r1]: raid10 needs at least 4 members, got 3");
	expect_refused(sect_key(rs, r, "member", "d, ,e"),
		       "member: empty or over-long path in 'd, ,e'");
	assert_int_equal(sect_key(rs, r, "spare", "s.img"), 0); /* "d" went in before the refusal */
	assert_int_equal(sect_key(rs, r, "member", "f.img"), 0);
	expect_refused(end(&sc, "raid", r), "[raid r1]: raid10 needs an even number of members");
	expect_refused(sect_key(rs, r, "chunk", "3K"),
		       "chunk: '3K' must be a power of two from 4K to 4096K");
	expect_refused(sect_key(rs, r, "rebuild_rate", "10K/s"),
		       "rebuild_rate: '10K/s' is below 1M per second");
	assert_int_equal(sect_key(rs, r, "rebuild_rate", "200M/s"), 0);
	assert_int_equal(r->rebuild_rate, 200ull << 20);
	assert_null(begin(&sc, "raid", "r1"));
	assert_string_equal(why, "[raid r1] is defined twice");
	assert_null(begin(&sc, "raid", "r!"));
	assert_string_equal(why, "raid name 'r!': use letters, digits, '.', '_' or '-'");
	struct lun_pool_conf *p = begin(&sc, "pool", "p1");
	assert_non_null(p);
	expect_refused(end(&sc, "pool", p),
		       "[pool p1] needs 'data = RAID-NAME|PATH' and 'meta = PATH'");
	expect_refused(sect_key(ps, p, "low_water", "101%"),
		       "low_water: 101 is out of range 0..100");
	assert_int_equal(sect_key(ps, p, "low_water", "10%"), 0);
	assert_true(p->low_water_pct && p->low_water == 10);
	expect_refused(sect_key(ps, p, "chunk_size", "1K"),
		       "chunk_size: '1K' must be a power of two from 64K to 1024K");
	assert_int_equal(sect_key(ps, p, "data", "r1"), 0);
	assert_int_equal(sect_key(ps, p, "meta", "p1.meta"), 0);
	assert_int_equal(end(&sc, "pool", p), 0);
	/* whole file: pool data names an array; a LUN names a missing pool */
	lun_stack_resolve(&sc);
	assert_int_equal(sc.pools[0].data_raid, 0);
	struct lun_backend_params b = { .type = "thin" };
	struct lun_stack_lun s = { .pool = "nope", .line = 12 };
	struct lun_conf_ctx c = ctx(99);
	expect_refused(lun_registry_lun_resolve(&c, &sc, &b, &s),
		       "pool = nope: no [pool nope] section");
	assert_int_equal(c.err_line, 12);
	lun_stack_conf_free(&sc);
}

/* ---- a stack built from parsed sections ---- */

static struct lun_stack_conf parsed_stack(void)
{
	struct lun_stack_conf sc = { 0 };
	const struct lun_section *rs = lun_registry_section("raid", 4),
				 *ps = lun_registry_section("pool", 4);
	struct lun_raid_conf *r = begin(&sc, "raid", "r1");
	assert_int_equal(sect_key(rs, r, "level", "1"), 0);
	assert_int_equal(sect_key(rs, r, "members", "m0.img, m1.img"), 0);
	assert_int_equal(sect_key(rs, r, "create", "yes"), 0);
	assert_int_equal(sect_key(rs, r, "member_size", "40M"), 0);
	assert_int_equal(end(&sc, "raid", r), 0);
	r = begin(&sc, "raid", "gone");
	assert_int_equal(sect_key(rs, r, "members", "x0.img, x1.img"), 0); /* no files, no create */
	struct lun_pool_conf *p = begin(&sc, "pool", "p1");
	assert_int_equal(sect_key(ps, p, "data", "r1"), 0);
	assert_int_equal(sect_key(ps, p, "meta", "p1.meta"), 0);
	assert_int_equal(sect_key(ps, p, "chunk_size", "64K"), 0);
	lun_stack_resolve(&sc);
	return sc;
}

static void low_water(void *arg, uint64_t gen)
{
	(void)arg;
	(void)gen;
}

static void test_stack(void **state)
{
	struct kloop *loop = kloop_new(64);
	if (!loop)
		skip();
	struct lun_stack_conf sc = parsed_stack();
	struct lun_stack_env env = { .data_dir = dir, .loop = loop };
	struct lun_raid_run raids[2] = { { .rebuild_role = -1 }, { .rebuild_role = -1 } };
	struct lun_pool_run pools[1] = { { .pool = NULL } };
	struct lun_stack st = { &sc, raids,
				pools }; /* the run-time state beside the parsed sections */
	lun_stack_open_raids(&env, &st);
	assert_false(raids[0].failed);
	assert_true(raids[1].failed);
	assert_int_equal(lun_stack_open_pool(&env, &st, &sc.pools[0], &pools[0], low_water, NULL),
			 0);
	/* a thin LUN: its volume is created (size given) and opened */
	struct lun_backend_params b = { .type = "thin",
					.size = 8 * MiB,
					.block_size = 512,
					.read_only = true };
	struct lun_stack_lun s = { .pool = "p1", .volume = 3, .has_volume = true };
	struct lun_conf_lun l = { &b, &s };
	struct lun_stack_open o;
	struct lun_backend *vol, *arr, *off;
	assert_int_equal(lun_stack_open_lun(&st, &l, &vol, &o), 0);
	assert_true(o.created);
	assert_int_equal(vol->size, 8 * MiB);
	assert_true(vol->read_only);
	/* the same volume twice: a configuration error, not an offline LUN */
	struct lun_backend *again;
	assert_int_equal(lun_stack_open_lun(&st, &l, &again, &o), -EBUSY);
	assert_false(o.offline);
	assert_string_equal(
		o.why,
		"pool p1 volume 3: is open already (exported by another LUN: a volume has one opener)");
	/* a raid LUN shares the array; over the failed array: offline */
	struct lun_backend_params rb = { .type = "raid", .block_size = 512 };
	struct lun_stack_lun rsl = { .raid = "r1" };
	struct lun_conf_lun rl = { &rb, &rsl };
	assert_int_equal(lun_stack_open_lun(&st, &rl, &arr, &o), 0);
	assert_int_equal(arr->size, raids[0].be->size);
	rsl.raid = "gone";
	assert_int_equal(lun_stack_open_lun(&st, &rl, &off, &o), -ENODEV);
	assert_true(o.offline);
	assert_string_equal(o.why, raids[1].why);
	/* capabilities as declared */
	assert_true(lun_backend_caps_consistent(vol));
	assert_int_equal(lun_backend_caps(vol), LUN_CAP_FLUSH | LUN_CAP_UNMAP |
							LUN_CAP_WRITE_ZEROES |
							LUN_CAP_BLOCK_STATUS | LUN_CAP_COPY_SHARE);
	assert_true(lun_backend_caps_consistent(arr));
	assert_int_equal(lun_backend_caps(arr), lun_backend_caps(raids[0].be));
	assert_false(lun_backend_caps(arr) & LUN_CAP_ATOMIC_CAW);
	lun_backend_close(vol);
	lun_backend_close(arr); /* closes the wrapper only */
	assert_int_equal(lun_thin_pool_close(pools[0].pool), 0);
	lun_backend_close(pools[0].data_be);
	lun_backend_close(raids[0].be);
	lun_stack_conf_free(&sc);
	kloop_free(loop);
}

static void test_caps(void **state)
{
	char err[256], path[256];
	struct lun_backend *m, *f, *off, *sh;
	struct lun_backend_params mp = { .type = "memory", .size = MiB, .block_size = 512 };
	snprintf(path, sizeof(path), "%s/caps.img", dir);
	struct lun_backend_params fp = { .type = "file",
					 .path = path,
					 .size = MiB,
					 .block_size = 512,
					 .create = true };
	assert_int_equal(lun_backend_open(&mp, &m, err, sizeof(err)), 0);
	assert_int_equal(lun_backend_open(&fp, &f, err, sizeof(err)), 0);
	unsigned all = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_ATOMIC_CAW |
		       LUN_CAP_BLOCK_STATUS;
	assert_int_equal(lun_backend_caps(m), all);
	assert_int_equal(lun_backend_caps(f), all);
	assert_true(lun_backend_caps_consistent(m) && lun_backend_caps_consistent(f));
	assert_int_equal(lun_offline_open(MiB, 512, &off), 0);
	assert_int_equal(lun_backend_caps(off), LUN_CAP_FLUSH);
	assert_true(lun_backend_caps_consistent(off));
	assert_int_equal(lun_stack_shared(m, &sh), 0);
	assert_int_equal(lun_backend_caps(sh), all);
	assert_true(lun_backend_caps_consistent(sh));
	uint32_t g;
	assert_false(lun_copy_can_share(m, f, &g));
	/* an unknown kind cannot be opened */
	struct lun_backend_params rp = { .type = "nbd", .size = MiB, .block_size = 512 };
	struct lun_backend *x = NULL;
	assert_int_equal(lun_backend_open(&rp, &x, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown backend type 'nbd' (expected file or memory)");
	lun_backend_close(sh);
	lun_backend_close(off);
	lun_backend_close(m);
	lun_backend_close(f);
}

static int cleanup(void **state)
{
	char cmd[128];
	for (int i = 0; i < n_strs; i++)
		free(strs[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),    cmocka_unit_test(test_lun_keys),
		cmocka_unit_test(test_lun_end),  cmocka_unit_test(test_kind_keys),
		cmocka_unit_test(test_sections), cmocka_unit_test(test_stack),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
