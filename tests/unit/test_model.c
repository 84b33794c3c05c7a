/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the live model's run-time operations (target/model/model.h),
 * the ones the admin socket calls: the ACL / CHAP swap, a LUN added from a
 * parsed copy of the configuration (strings copied, published, a second add
 * refused), unpublished, destroyed and forgotten, and the ALUA state of a
 * portal's port group; and that building and changing the model leave the
 * parsed configuration byte-identical. Real memory, file and thin backends,
 * LUN maps and ALUA table.
 *
 * Not for: parsing (test_config.c), the file writer (test_conf_write.c), the
 * grace period of a LUN removal (the targetctl_lun integration test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/model/model.h"
#include "target/scsi/scsi_alua.h"

#define IQN "iqn.2026-11.org.kura:m"

static char dir[64];
static char err[1024];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_model.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Parse text (with data_dir = the test's directory) as the daemon does. */
static void load(const char *body, struct tgt_config *cfg)
{
	char path[128], text[2048];
	snprintf(path, sizeof(path), "%s/m.conf", dir);
	snprintf(text, sizeof(text), "[global]\ndata_dir = %s\n%s", dir, body);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fchmod(fileno(f), 0600), 0); /* it holds CHAP secrets */
	fputs(text, f);
	fclose(f);
	if (tgt_config_load(path, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static struct tgt_model *load_open(const char *body, struct tgt_config *cfg)
{
	struct tgt_model *m = NULL;
	load(body, cfg);
	if (tgt_model_open(cfg, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return m;
}

static void close_all(struct tgt_model *m, struct tgt_config *cfg)
{
	tgt_model_close(m);
	tgt_config_free(cfg);
}

static void test_set_access(void **state)
{
	(void)state;
	struct tgt_config run, parsed;
	struct tgt_model *m = load_open("[target " IQN
					"]\nallow = iqn.2026-11.org.kura:a\n"
					"chap = alice:alice-secret-12\n",
					&run);
	load("[target " IQN "]\nallow = iqn.2026-11.org.kura:b\nallow = iqn.2026-11.org.kura:c\n",
	     &parsed);
	struct tgt_target *t = &m->targets[0];
	const struct tgt_target_conf *nt = &parsed.targets[0];
	assert_int_equal(t->n_acl, 1);
	assert_int_equal(t->n_chap_in, 1);
	struct tgt_access acc;
	assert_int_equal(tgt_model_access_copy(nt, &acc), 0);
	tgt_model_set_access(m, t, &acc);
	assert_null(acc.acl);        /* t took the arrays */
	tgt_model_access_free(&acc); /* nothing left: a no-op */
	assert_int_equal(t->n_acl, 2);
	assert_string_equal(t->acl[0], "iqn.2026-11.org.kura:b");
	assert_string_equal(t->acl[1], "iqn.2026-11.org.kura:c");
	assert_int_equal(t->n_chap_in, 0);
	/* the model took copies: the parsed copy keeps its arrays, and freeing it
	 * leaves the model's alone */
	assert_int_equal(nt->n_acl, 2);
	assert_ptr_not_equal(nt->acl, t->acl);
	tgt_config_free(&parsed);
	assert_string_equal(t->acl[1], "iqn.2026-11.org.kura:c");
	/* and back: the running target's old arrays are retired, not freed */
	load("[target " IQN "]\nchap = bob:bob-secret-1234\n", &parsed);
	assert_int_equal(tgt_model_access_copy(&parsed.targets[0], &acc), 0);
	tgt_model_set_access(m, t, &acc);
	assert_int_equal(t->n_acl, 0);
	assert_int_equal(t->n_chap_in, 1);
	assert_string_equal(t->chap_in[0].user, "bob");
	tgt_config_free(&parsed);
	close_all(m, &run);
}

static void test_lun_add_remove(void **state)
{
	(void)state;
	struct tgt_config run, parsed;
	struct tgt_model *m =
		load_open("[target " IQN "]\n[lun 0]\nbackend = memory\nsize = 1M\n", &run);
	load("[target " IQN
	     "]\n[lun 0]\nbackend = memory\nsize = 1M\n[lun 7]\nbackend = memory\nsize = 2M\n"
	     "serial = s7\n",
	     &parsed);
	struct tgt_target *t = &m->targets[0];
	assert_null(scsi_lun_map_get(t->map, 7));
	/* a kind's own keys (lun_conf_kind_key) are copied like the other strings */
	char *kk = strdup("demo_key"), *kv = strdup("v1");
	struct lun_backend_params *pb = &parsed.targets[0].luns[1].backend;
	pb->kind_keys[0] = (struct lun_kind_kv){ kk, kv };
	pb->n_kind_keys = 1;
	assert_int_equal(tgt_model_add_lun(m, t, &parsed.targets[0].luns[1], err, sizeof(err)), 0);
	pb->n_kind_keys = 0;
	free(kk);
	free(kv);
	tgt_config_free(&parsed); /* the strings were copied */
	assert_string_equal(lun_params_get(&t->luns[1].c.backend, "demo_key"), "v1");
	assert_int_equal(t->n_luns, 2);
	assert_string_equal(t->luns[1].c.backend.type, "memory");
	assert_string_equal(t->luns[1].c.ident.serial, "s7");
	struct scsi_lu *lu = scsi_lun_map_get(t->map, 7);
	assert_non_null(lu);
	assert_ptr_equal(lu, t->luns[1].lu);
	assert_int_equal(scsi_lu_size_blocks(lu), 4096);

	/* the same LUN again: refused, nothing changes */
	load("[target " IQN "]\n[lun 7]\nbackend = memory\nsize = 1M\n", &parsed);
	assert_int_equal(tgt_model_add_lun(m, t, &parsed.targets[0].luns[0], err, sizeof(err)),
			 -EEXIST);
	assert_string_equal(err, "LUN 7 of " IQN " exists");
	assert_int_equal(t->n_luns, 2);
	tgt_config_free(&parsed);

	struct scsi_lu *out = NULL;
	assert_int_equal(tgt_model_unpublish_lun(t, 7, &out), 0);
	assert_ptr_equal(out, lu);
	assert_null(scsi_lun_map_get(t->map, 7));
	assert_non_null(scsi_lun_map_get(t->map, 0));
	assert_int_equal(tgt_model_unpublish_lun(t, 7, &out), -ENOENT);
	tgt_model_destroy_lu(m, t, lu);
	tgt_model_forget_lun(t, 7);
	assert_int_equal(t->n_luns, 1);
	assert_int_equal(t->luns[0].c.lun, 0);
	tgt_model_forget_lun(t, 7); /* not there: nothing happens */
	assert_int_equal(t->n_luns, 1);
	close_all(m, &run);
}

/* A byte image of a parsed configuration: the struct and everything it
 * points at (targets, LUNs with their strings, ACLs, CHAP accounts, the
 * [raid] / [pool] sections with their strings). Strings are written out, so
 * the image compares what the value says, not only its pointers. */
struct image {
	char *p;
	size_t n, cap;
};

static void put(struct image *im, const void *p, size_t n)
{
	if (!n)
		return; /* an empty array may be NULL */
	if (im->n + n > im->cap) {
		im->cap = (im->n + n) * 2;
		im->p = realloc(im->p, im->cap);
		assert_non_null(im->p);
	}
	memcpy(im->p + im->n, p, n);
	im->n += n;
}

static void put_str(struct image *im, const char *s)
{
	put(im, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static void put_lun(struct image *im, const struct tgt_lun_conf *l)
{
	put(im, l, sizeof(*l));
	const char *s[] = { l->backend.type, l->backend.path,  l->ident.target_iqn, l->ident.serial,
			    l->ident.vendor, l->ident.product, l->ident.revision,   l->ident.pr_dir,
			    l->stor.pool,    l->stor.raid };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		put_str(im, s[i]);
}

static void put_target(struct image *im, const struct tgt_target_conf *t)
{
	put(im, t, sizeof(*t));
	for (int j = 0; j < t->n_luns; j++)
		put_lun(im, &t->luns[j]);
	put(im, t->acl, (size_t)t->n_acl * sizeof(*t->acl));
	put(im, t->chap_in, (size_t)t->n_chap_in * sizeof(*t->chap_in));
	if (t->chap_out)
		put(im, t->chap_out, sizeof(*t->chap_out));
}

static void put_stack(struct image *im, const struct lun_stack_conf *sc)
{
	for (int i = 0; i < sc->n_raids; i++) {
		const struct lun_raid_conf *r = &sc->raids[i];
		put(im, r, sizeof(*r));
		for (int k = 0; k < r->n_members; k++)
			put_str(im, r->members[k]);
		for (int k = 0; k < r->n_spares; k++)
			put_str(im, r->spares[k]);
	}
	for (int i = 0; i < sc->n_pools; i++) {
		put(im, &sc->pools[i], sizeof(sc->pools[i]));
		put_str(im, sc->pools[i].data);
		put_str(im, sc->pools[i].meta);
	}
}

static struct image image_of(const struct tgt_config *cfg)
{
	struct image im = { 0 };
	put(&im, cfg, sizeof(*cfg));
	for (int i = 0; i < cfg->n_targets; i++)
		put_target(&im, &cfg->targets[i]);
	put(&im, cfg->disc_chap_in, (size_t)cfg->n_disc_chap_in * sizeof(*cfg->disc_chap_in));
	put_stack(&im, &cfg->stack);
	return im;
}

/* Building the model and changing it leave the parsed value it was built
 * from byte-identical: relative LUN paths are completed in the model's copy,
 * LUNs added and removed, ACL / CHAP swapped, the stack sections opened. */
static void test_parsed_value_unchanged(void **state)
{
	(void)state;
	struct tgt_config run, parsed;
	load("[pool p]\ndata = p.data\nmeta = p.meta\nsize = 16M\n"
	     "[target " IQN
	     "]\nallow = iqn.2026-11.org.kura:a\nchap = alice:alice-secret-12\n"
	     "[lun 0]\npath = rel.img\nsize = 1M\ncreate = yes\n"
	     "[lun 1]\nbackend = memory\nsize = 1M\n"
	     "[lun 2]\nbackend = thin\npool = p\nvolume = 1\nsize = 1M\n",
	     &run);
	struct image before = image_of(&run);
	struct tgt_model *m = NULL;
	if (tgt_model_open(&run, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	struct tgt_target *t = &m->targets[0];
	char img[128];
	snprintf(img, sizeof(img), "%s/rel.img", dir);
	assert_string_equal(t->luns[0].c.backend.path, img); /* the model's copy */
	assert_string_equal(run.targets[0].luns[0].backend.path, "rel.img");

	load("[target " IQN
	     "]\nallow = iqn.2026-11.org.kura:b\n"
	     "[lun 5]\nbackend = memory\nsize = 2M\n",
	     &parsed);
	assert_int_equal(tgt_model_add_lun(m, t, &parsed.targets[0].luns[0], err, sizeof(err)), 0);
	struct tgt_access acc;
	assert_int_equal(tgt_model_access_copy(&parsed.targets[0], &acc), 0);
	tgt_model_set_access(m, t, &acc);
	tgt_config_free(&parsed);
	struct scsi_lu *lu = NULL;
	assert_int_equal(tgt_model_unpublish_lun(t, 1, &lu), 0);
	tgt_model_destroy_lu(m, t, lu);
	tgt_model_forget_lun(t, 1);
	assert_int_equal(tgt_model_set_text(m, "[target " IQN "]\n"), 0);
	assert_int_equal(tgt_model_alua_setup(m), 0);

	struct image after = image_of(&run);
	assert_int_equal(after.n, before.n);
	assert_memory_equal(after.p, before.p, before.n);
	tgt_model_close(m);
	after = (free(after.p), image_of(&run)); /* and after the model is gone */
	assert_memory_equal(after.p, before.p, before.n);
	free(after.p);
	free(before.p);
	tgt_config_free(&run);
}

static void test_alua(void **state)
{
	(void)state;
	struct tgt_config run;
	struct tgt_model *m = load_open(
		"[portal a]\naddress = 127.0.0.1:3260\nport_group = 1\n"
		"[portal b]\naddress = 127.0.0.1:3261\nport_group = 2\n"
		"[target " IQN "]\n",
		&run);
	assert_int_equal(tgt_model_alua_setup(m), 0);
	assert_int_equal(tgt_model_set_alua(2, SCSI_ALUA_STANDBY), 0);
	assert_int_equal(scsi_alua_get_state(2), SCSI_ALUA_STANDBY);
	assert_int_equal(scsi_alua_get_state(1), SCSI_ALUA_AO);
	assert_int_equal(tgt_model_set_alua(3, SCSI_ALUA_STANDBY), -ENOENT);
	close_all(m, &run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_access),
		cmocka_unit_test(test_lun_add_remove),
		cmocka_unit_test(test_parsed_value_unchanged),
		cmocka_unit_test(test_alua),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
