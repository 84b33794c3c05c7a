/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the stacked storage configuration and runtime:
 * [raid NAME] / [pool NAME] sections and the thin / raid LUN keys
 * (target/model/config.c), and target/model/storage.c (opening a pool and its volumes,
 * snapshot / clone creation at first start, NOT READY for an array that
 * cannot assemble, the shared and offline backends, UA 38/07 on the LUs of
 * a pool). The config module comes in as source, like in test_config.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/model/config.c"
#include "target/model/config_sections.c"
#include "target/model/model.c"
#include "target/model/config_default.c"
#include "target/iscsi/iscsi_login.c"
#include "target/iscsi/iscsi_name.c"
#include "target/iscsi/iscsi_keys.c"
#include "target/iscsi/chap.c"
#include "target/scsi/scsi_lu.c"
#include "target/scsi/scsi_stats.c"
#include "target/scsi/scsi_pr.c"
#include "target/scsi/scsi_pr_file.c"
#include "target/scsi/scsi_pr_shared.c"
#include "target/model/storage.c"
#include "target/model/storage_status.c"
#include "target/model/storage_volumes.c"

static char err[1024];

static int parse_text(const char *text, struct tgt_config *cfg)
{
	err[0] = '\0';
	return load_text(text, "t.ini", cfg, err, sizeof(err));
}

#define TARGET "[target iqn.2026-11.org.kura:t]\n"
#define POOL   "[pool p]\ndata = p.data\nsize = 16M\nmeta = p.meta\n"

static int rm_fn(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_fn, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- parsing ---- */

static void test_parse_sections(void **state)
{
	struct tgt_config cfg;
	const char *text =
		"[raid r6]\nlevel = raid6\nchunk = 128K\nmembers = a.img, b.img,c.img\nmember = d.img\n"
		"member = /abs/e.img\nspares = s0.img\nspare = s1.img\ncreate = yes\nmember_size = 64M\n"
		"rebuild_rate = 400M/s\n"
		"[pool p]\ndata = r6\nmeta = p.meta\nchunk_size = 256K\nlow_water = 10%\n"
		"[pool f]\ndata = f.data\nsize = 1G\nmeta = f.meta\nlow_water = 64M\n" TARGET
		"[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsize = 8G\n"
		"[lun 1]\nbackend = thin\npool = p\nvolume = 2\nsnapshot_of = 1\n"
		"[lun 2]\nbackend = thin\npool = f\nvolume = 3\nclone_of = 1\n"
		"[lun 3]\nbackend = raid\nraid = r6\n";
	int r = parse_text(text, &cfg);
	if (r)
		fail_msg("%s", err);
	assert_int_equal(cfg.stack.n_raids, 1);
	const struct lun_raid_conf *rc = &cfg.stack.raids[0];
	assert_string_equal(rc->name, "r6");
	assert_int_equal(rc->level, 6);
	assert_int_equal(rc->chunk, 128 << 10);
	assert_int_equal(rc->n_members, 5);
	assert_string_equal(rc->members[1], "b.img");
	assert_string_equal(rc->members[2], "c.img");
	assert_string_equal(rc->members[4], "/abs/e.img");
	assert_int_equal(rc->n_spares, 2);
	assert_true(rc->create);
	assert_int_equal(rc->member_size, 64ull << 20);
	assert_int_equal(rc->rebuild_rate, 400ull << 20);
	assert_int_equal(cfg.stack.n_pools, 2);
	assert_int_equal(cfg.stack.pools[0].data_raid, 0);
	assert_int_equal(cfg.stack.pools[0].chunk_size, 256 << 10);
	assert_true(cfg.stack.pools[0].low_water_pct);
	assert_int_equal(cfg.stack.pools[0].low_water, 10);
	assert_int_equal(cfg.stack.pools[1].data_raid, -1);
	assert_int_equal(cfg.stack.pools[1].size, 1ull << 30);
	assert_false(cfg.stack.pools[1].low_water_pct);
	assert_int_equal(cfg.stack.pools[1].low_water, 64ull << 20);
	struct tgt_lun_conf *l = cfg.targets[0].luns;
	assert_string_equal(l[0].backend.type, "thin");
	assert_string_equal(l[0].stor.pool, "p");
	assert_int_equal(l[0].stor.volume, 1);
	assert_int_equal(l[0].backend.size, 8ull << 30);
	assert_true(l[1].stor.snapshot);
	assert_int_equal(l[1].stor.origin, 1);
	assert_true(l[2].stor.clone);
	assert_string_equal(l[3].backend.type, "raid");
	assert_string_equal(l[3].stor.raid, "r6");
	tgt_config_free(&cfg);
}

static const struct {
	const char *text;
	int line;
	const char *why;
} bad[] = {
	{ "[raid r]\nlevel = 7\n", 2, "level: '7' must be 0, 1, 5, 6 or 10" },
	{ "[raid r]\nlevel = 6\n" TARGET, 1, "[raid r] needs 'members = PATH, PATH, ...'" },
	{ "[raid r]\nlevel = 6\nmembers = a,b,c\n" TARGET, 1,
	  "[raid r]: raid6 needs at least 4 members, got 3" },
	{ "[raid r]\nlevel = 10\nmembers = a,b,c,d,e\n" TARGET, 1,
	  "[raid r]: raid10 needs an even number of members" },
	{ "[raid r]\nmembers = a,b\ncreate = yes\n" TARGET, 1,
	  "[raid r]: create = yes needs 'level'" },
	{ "[raid r]\nmembers = a,,b\n", 2, "members: empty or over-long path in 'a,,b'" },
	{ "[raid r]\nchunk = 3K\n", 2, "chunk: '3K' must be a power of two from 4K to 4096K" },
	{ "[raid r]\nrebuild_rate = 100K\n", 2, "rebuild_rate: '100K' is below 1M per second" },
	{ "[raid r/x]\n", 1, "raid name 'r/x': use letters, digits, '.', '_' or '-'" },
	{ "[raid r]\nmembers = a,b\nlevel = 1\n[raid r]\n", 4, "[raid r] is defined twice" },
	{ "[pool p]\ndata = x\n" TARGET, 1,
	  "[pool p] needs 'data = RAID-NAME|PATH' and 'meta = PATH'" },
	{ "[pool p]\nchunk_size = 32K\n", 2,
	  "chunk_size: '32K' must be a power of two from 64K to 1024K" },
	{ "[pool p]\nlow_water = 150%\n", 2, "low_water: 150 is out of range 0..100" },
	{ "[pool p]\nsize = 0\n", 2, "size: must not be 0" },
	{ TARGET "[lun 0]\nbackend = thin\nvolume = 1\nsize = 1G\n", 2,
	  "backend = thin needs 'pool = NAME' and 'volume = ID'" },
	{ TARGET "[lun 0]\nbackend = thin\npool = nope\nvolume = 1\nsize = 1G\n", 2,
	  "pool = nope: no [pool nope] section" },
	{ TARGET "[lun 0]\nbackend = raid\nraid = nope\n", 2,
	  "raid = nope: no [raid nope] section" },
	{ TARGET "[lun 0]\nbackend = raid\n", 2, "backend = raid needs 'raid = NAME'" },
	{ TARGET "[lun 0]\npath = x.img\npool = p\n", 2,
	  "pool, volume, snapshot_of and clone_of need backend = thin" },
	{ TARGET "[lun 0]\npath = x.img\nraid = r\n", 2, "raid = NAME needs backend = raid" },
	{ TARGET "[lun 0]\nbackend = thin\npath = x\npool = p\nvolume = 1\n", 2,
	  "backend = thin takes no 'path'" },
	{ TARGET "[lun 0]\nbackend = thin\nsnapshot_of = 1\nclone_of = 2\n", 5,
	  "clone_of: a LUN is either a snapshot_of or a clone_of, not both" },
	{ POOL TARGET "[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsnapshot_of = 1\n", 6,
	  "volume 1 cannot be a copy of itself" },
	{ POOL TARGET "[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsize = 5000\n", 6,
	  "thin volume size must be a multiple of 4096" },
	{ TARGET "[lun 0]\nbackend = thin\nvolume = -1\n", 4, "volume: '-1' is not a number" },
};

static void test_bad_configs(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tgt_config cfg;
		char want[512];
		snprintf(want, sizeof(want), "t.ini:%d: %s", bad[i].line, bad[i].why);
		int r = parse_text(bad[i].text, &cfg);
		if (r != -EINVAL || strcmp(err, want))
			fail_msg("case %zu: r=%d err='%s', want '%s'", i, r, err, want);
	}
}

/* ---- runtime ---- */

static struct tgt_model *model;

static void open_in(const char *text, const char *dir, struct tgt_config *cfg)
{
	assert_int_equal(parse_text(text, cfg), 0);
	assert_int_equal(tgt_config_set_data_dir(cfg, dir), 0);
	int r = tgt_model_open(cfg, &model, err, sizeof(err));
	if (r)
		fail_msg("open: %s", err);
}

/* The model, then the parsed value it was built from. */
static void close_all(struct tgt_config *cfg)
{
	tgt_model_close(model);
	model = NULL;
	tgt_config_free(cfg);
}

static void test_thin_luns(void **state)
{
	char dir[] = "/tmp/kura-test-storage-XXXXXX";
	struct tgt_config cfg;
	assert_non_null(mkdtemp(dir));
	const char *text = POOL
		"low_water = 50%\n" TARGET
		"[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsize = 64M\n"
		"[lun 1]\nbackend = thin\npool = p\nvolume = 2\nsnapshot_of = 1\n"
		"[lun 2]\nbackend = thin\npool = p\nvolume = 3\nclone_of = 1\nblock_size = 4096\n";
	open_in(text, dir, &cfg);
	struct tgt_lun *l = model->targets[0].luns;
	assert_int_equal(scsi_lu_size_blocks(l[0].lu), (64 << 20) / 512);
	assert_int_equal(scsi_lu_size_blocks(l[1].lu), (64 << 20) / 512);
	assert_int_equal(scsi_lu_size_blocks(l[2].lu), (64 << 20) / 4096);
	assert_true(scsi_lu_write_protected(l[1].lu)); /* a snapshot is read-only */
	assert_false(scsi_lu_write_protected(l[2].lu));
	assert_true(scsi_lu_can_unmap(l[0].lu));
	struct lun_thin_pool_status st;
	lun_thin_pool_status(model->stor_rt->stack.pools[0].pool, &st);
	assert_int_equal(st.volumes, 3);
	assert_int_equal(st.chunks_total, 256);
	assert_int_equal(st.low_water, 128);
	assert_int_equal(model->stor_rt->stack.pools[0].rt->n_lus, 3);
	close_all(&cfg);

	/* second start: volumes exist, nothing is created again; a larger size grows the pool */
	char grown[1024];
	snprintf(grown, sizeof(grown), "%s", text);
	memcpy(strstr(grown, "16M"), "32M", 3);
	open_in(grown, dir, &cfg);
	lun_thin_pool_status(model->stor_rt->stack.pools[0].pool, &st);
	assert_int_equal(st.volumes, 3);
	assert_int_equal(st.chunks_total, 512);
	close_all(&cfg);

	/* a volume that does not exist and has no size: a configuration error naming it */
	assert_int_equal(parse_text(POOL TARGET "[lun 0]\nbackend = thin\npool = p\nvolume = 9\n",
				    &cfg),
			 0);
	assert_int_equal(tgt_config_set_data_dir(&cfg, dir), 0);
	assert_true(tgt_model_open(&cfg, &model, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "pool p volume 9: does not exist (give 'size' to create it)"));
	close_all(&cfg);
	rm_rf(dir);
}

static void stop_loop(struct lun_io *io)
{
	kloop_stop(io->loop);
}

/* Submit one read to be on a private loop and return its result. */
static int one_read(struct lun_backend *be)
{
	struct kloop *loop = kloop_new(32);
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct lun_io io = { .op = LUN_OP_READ,
			     .length = 512,
			     .iov = &iov,
			     .iovcnt = 1,
			     .loop = loop,
			     .done = stop_loop };
	lun_submit(be, &io);
	kloop_run(loop);
	kloop_free(loop);
	return io.result;
}

static void test_raid_missing_not_ready(void **state)
{
	char dir[] = "/tmp/kura-test-storage-XXXXXX";
	struct tgt_config cfg;
	assert_non_null(mkdtemp(dir));
	/* no member exists and create = no: the daemon starts, the LUN answers NOT READY */
	open_in("[raid r]\nmembers = a,b,c,d\n[pool p]\ndata = r\nmeta = p.meta\n" TARGET
		"[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsize = 1M\n"
		"[lun 1]\nbackend = raid\nraid = r\n",
		dir, &cfg);
	assert_true(model->stor_rt->stack.raids[0].failed);
	assert_true(model->stor_rt->stack.pools[0].failed);
	struct tgt_lun *l = model->targets[0].luns;
	assert_int_equal(scsi_lu_size_blocks(l[0].lu), 2048);
	assert_int_equal(one_read(l[0].lu->be), -ENODEV);
	assert_int_equal(one_read(l[1].lu->be), -ENODEV);
	close_all(&cfg);

	/* create = yes over new files: a working array shared by a raid LUN and a pool */
	open_in("[raid r]\nlevel = 5\nmembers = a,b,c\nmember_size = 8M\ncreate = yes\n"
		"[pool p]\ndata = r\nmeta = p.meta\n" TARGET
		"[lun 0]\nbackend = thin\npool = p\nvolume = 1\nsize = 1M\n",
		dir, &cfg);
	assert_false(model->stor_rt->stack.raids[0].failed);
	assert_false(model->stor_rt->stack.pools[0].failed);
	assert_int_equal(one_read(model->targets[0].luns[0].lu->be), 0);
	assert_true(lun_raid_has_path(model->stor_rt->stack.raids[0].be,
				      strcat(strcpy(err, dir), "/a")));
	close_all(&cfg);
	rm_rf(dir);
}

static void test_ua_raise_all(void **state)
{
	struct lun_backend *be = NULL;
	struct scsi_lu *lu = NULL;
	struct scsi_lu_params p = { .lun = 0 };
	assert_int_equal(lun_offline_open(1 << 20, 512, &be), 0);
	assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
	struct scsi_lun_map *m = scsi_lun_map_new();
	assert_int_equal(scsi_lun_map_add(m, 0, lu), 0);
	struct scsi_itn *a = scsi_itn_create(m, "iqn.2026-11.org.kura:a", NULL, NULL);
	assert_int_equal(scsi_lu_take_ua(lu, a), SR_UA_POWER_ON);
	assert_int_equal(scsi_lu_take_ua(lu, a), SR_GOOD);
	assert_int_equal(scsi_lu_raise_ua_all(lu, 0x38, 0x07), 0);
	assert_int_equal(scsi_lu_raise_ua_all(lu, 0x38, 0x07), 0); /* pending once, not twice */
	assert_int_equal(scsi_lu_take_ua(lu, a), SR_UA_THIN_THRESHOLD);
	assert_int_equal(scsi_lu_take_ua(lu, a), SR_GOOD);
	assert_int_equal(scsi_lu_raise_ua_all(lu, 0x12, 0x34), -EINVAL);
	scsi_itn_destroy(a);
	scsi_lun_map_free(m);
	scsi_lu_destroy(lu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sections),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_thin_luns),
		cmocka_unit_test(test_raid_missing_not_ready),
		cmocka_unit_test(test_ua_raise_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
