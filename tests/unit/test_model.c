/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the live model's run-time operations (target/model/model.h),
 * the ones the admin socket calls: the ACL / CHAP swap, a LUN added from a
 * parsed copy of the configuration (strings copied, published, a second add
 * refused), unpublished, destroyed and forgotten, and the ALUA state of a
 * portal's port group. Real memory backends, LUN maps and ALUA table.
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
	assert_int_equal(fchmod(fileno(f), 0600), 0);     /* it holds CHAP secrets */
	fputs(text, f);
	fclose(f);
	if (tgt_config_load(path, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static void load_open(const char *body, struct tgt_config *cfg)
{
	load(body, cfg);
	if (tgt_model_open(cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static void test_set_access(void **state)
{
	(void)state;
	struct tgt_config run, parsed;
	load_open("[target " IQN "]\nallow = iqn.2026-11.org.kura:a\nchap = alice:alice-secret-12\n", &run);
	load("[target " IQN "]\nallow = iqn.2026-11.org.kura:b\nallow = iqn.2026-11.org.kura:c\n", &parsed);
	struct tgt_target *t = &run.targets[0], *nt = &parsed.targets[0];
	assert_int_equal(t->n_acl, 1);
	assert_int_equal(t->n_chap_in, 1);
	tgt_model_set_access(&run, t, nt);
	assert_int_equal(t->n_acl, 2);
	assert_string_equal(t->acl[0], "iqn.2026-11.org.kura:b");
	assert_string_equal(t->acl[1], "iqn.2026-11.org.kura:c");
	assert_int_equal(t->n_chap_in, 0);
	/* the parsed copy gave its arrays away: freeing it leaves them alone */
	assert_null(nt->acl);
	assert_int_equal(nt->n_acl, 0);
	tgt_config_free(&parsed);
	assert_string_equal(t->acl[1], "iqn.2026-11.org.kura:c");
	/* and back: the running target's old arrays are retired, not freed */
	load("[target " IQN "]\nchap = bob:bob-secret-1234\n", &parsed);
	tgt_model_set_access(&run, t, &parsed.targets[0]);
	assert_int_equal(t->n_acl, 0);
	assert_int_equal(t->n_chap_in, 1);
	assert_string_equal(t->chap_in[0].user, "bob");
	tgt_config_free(&parsed);
	tgt_config_free(&run);
}

static void test_lun_add_remove(void **state)
{
	(void)state;
	struct tgt_config run, parsed;
	load_open("[target " IQN "]\n[lun 0]\nbackend = memory\nsize = 1M\n", &run);
	load("[target " IQN "]\n[lun 0]\nbackend = memory\nsize = 1M\n[lun 7]\nbackend = memory\nsize = 2M\n"
	     "serial = s7\n", &parsed);
	struct tgt_target *t = &run.targets[0];
	assert_null(scsi_lun_map_get(t->map, 7));
	assert_int_equal(tgt_model_add_lun(&run, t, &parsed.targets[0].luns[1], err, sizeof(err)), 0);
	tgt_config_free(&parsed);       /* the strings were copied */
	assert_int_equal(t->n_luns, 2);
	assert_string_equal(t->luns[1].backend.type, "memory");
	assert_string_equal(t->luns[1].ident.serial, "s7");
	struct scsi_lu *lu = scsi_lun_map_get(t->map, 7);
	assert_non_null(lu);
	assert_ptr_equal(lu, t->luns[1].lu);
	assert_int_equal(scsi_lu_size_blocks(lu), 4096);

	/* the same LUN again: refused, nothing changes */
	load("[target " IQN "]\n[lun 7]\nbackend = memory\nsize = 1M\n", &parsed);
	assert_int_equal(tgt_model_add_lun(&run, t, &parsed.targets[0].luns[0], err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "LUN 7 of " IQN " exists");
	assert_int_equal(t->n_luns, 2);
	tgt_config_free(&parsed);

	struct scsi_lu *out = NULL;
	assert_int_equal(tgt_model_unpublish_lun(t, 7, &out), 0);
	assert_ptr_equal(out, lu);
	assert_null(scsi_lun_map_get(t->map, 7));
	assert_non_null(scsi_lun_map_get(t->map, 0));
	assert_int_equal(tgt_model_unpublish_lun(t, 7, &out), -ENOENT);
	tgt_model_destroy_lu(&run, t, lu);
	tgt_model_forget_lun(t, 7);
	assert_int_equal(t->n_luns, 1);
	assert_int_equal(t->luns[0].lun, 0);
	tgt_model_forget_lun(t, 7);     /* not there: nothing happens */
	assert_int_equal(t->n_luns, 1);
	tgt_config_free(&run);
}

static void test_alua(void **state)
{
	(void)state;
	struct tgt_config run;
	load("[portal a]\naddress = 127.0.0.1:3260\nport_group = 1\n"
	     "[portal b]\naddress = 127.0.0.1:3261\nport_group = 2\n[target " IQN "]\n", &run);
	assert_int_equal(tgt_model_alua_setup(&run), 0);
	assert_int_equal(tgt_model_set_alua(2, SCSI_ALUA_STANDBY), 0);
	assert_int_equal(scsi_alua_get_state(2), SCSI_ALUA_STANDBY);
	assert_int_equal(scsi_alua_get_state(1), SCSI_ALUA_AO);
	assert_int_equal(tgt_model_set_alua(3, SCSI_ALUA_STANDBY), -ENOENT);
	tgt_config_free(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_access),
		cmocka_unit_test(test_lun_add_remove),
		cmocka_unit_test(test_alua),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
