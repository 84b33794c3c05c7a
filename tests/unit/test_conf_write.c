/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of target/model/conf_write.c, the configuration writer: a round
 * trip (parse -> write -> parse gives the same value, byte-identical text),
 * each edit changing exactly the lines it is about (comments, blank lines,
 * unknown keys and ordering kept; expected texts written out in full), the
 * refusals with their reasons, and the atomic replace of the file (mode
 * kept, no temporary file left, the old file intact until install, a
 * writer killed at any point leaves the old or the new text whole).
 *
 * Not for: the INI grammar (test_config.c) or the admin requests that use
 * the writer (the targetctl integration tests).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/model/conf_write.h"
#include "target/model/tgt.h"

#define T1 "iqn.2026-11.org.kura:one"
#define T2 "iqn.2026-11.org.kura:two"

/* Comments of both kinds, blank lines, odd spacing, a chap_file line, a
 * [lun IQN:N] section away from its target, no "\n" at the very end. */
static const char sample[] =
	"; kura test configuration\n"
	"[global]\n"
	"data_dir = /tmp\n"
	"\n"
	"# first target\n"
	"[target " T1
	"]\n"
	"alias = one   ; inline comment\n"
	"allow = iqn.2026-11.org.kura:ini-a\n"
	"allow=iqn.2026-11.org.kura:ini-b\n"
	"chap = alice:alice-secret-12\n"
	"\n"
	"[lun 0]\n"
	"backend = memory\n"
	"size = 1M\n"
	"\n"
	"[target " T2
	"]\n"
	"  alias =   two\n"
	"\n"
	"[lun " T1
	":5]\n"
	"backend = memory\n"
	"size = 2M";

static char dir[64];
static char err[1024];
static const char *why;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_conf_write.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Parse text through a file, as the daemon does. */
static int parse(const char *text, struct tgt_config *cfg)
{
	char path[128];
	path_of("parse.conf", path, sizeof(path));
	assert_int_equal(conf_write_file(path, text), 0);
	err[0] = '\0';
	return tgt_config_load(path, cfg, err, sizeof(err));
}

/* The parsed value, written out: two configurations are the same value iff
 * their dumps are equal. */
static void dump(const struct tgt_config *c, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "data_dir=%s portals=%d targets=%d\n", c->data_dir,
				    c->n_portals, c->n_targets);
	for (int i = 0; i < c->n_portals; i++)
		n += (size_t)snprintf(out + n, cap - n, "portal %s:%u\n", c->portals[i].addr,
				      c->portals[i].port);
	for (int i = 0; i < c->n_targets; i++) {
		const struct tgt_target_conf *t = &c->targets[i];
		n += (size_t)snprintf(out + n, cap - n, "target %s alias=%s\n", t->iqn, t->alias);
		for (int k = 0; k < t->n_acl; k++)
			n += (size_t)snprintf(out + n, cap - n, " allow %s\n", t->acl[k]);
		for (int k = 0; k < t->n_chap_in; k++)
			n += (size_t)snprintf(out + n, cap - n, " chap %s:%.*s\n",
					      t->chap_in[k].user, (int)t->chap_in[k].secret_len,
					      t->chap_in[k].secret);
		for (int k = 0; k < t->n_luns; k++)
			n += (size_t)snprintf(out + n, cap - n, " lun %llu %s size=%llu bs=%u\n",
					      (unsigned long long)t->luns[k].lun,
					      t->luns[k].backend.type,
					      (unsigned long long)t->luns[k].backend.size,
					      t->luns[k].backend.block_size);
	}
	assert_true(n < cap);
}

static void dump_text(const char *text, char *out, size_t cap)
{
	struct tgt_config cfg;
	if (parse(text, &cfg) != 0)
		fail_msg("%s", err);
	dump(&cfg, out, cap);
	tgt_config_free(&cfg);
}

/* Apply one edit to sample; the result must be expect, byte for byte. */
static void edit_is(const char *text, const struct conf_edit *ed, const char *expect)
{
	struct conf_buf out = { 0 };
	why = NULL;
	int r = conf_edit_text(text, ed, &out, &why);
	if (r != 0)
		fail_msg("edit refused: %s", why);
	assert_string_equal(out.s, expect);
	conf_buf_free(&out);
}

static void edit_refused(const char *text, const struct conf_edit *ed, int code, const char *reason)
{
	struct conf_buf out = { 0 };
	why = NULL;
	assert_int_equal(conf_edit_text(text, ed, &out, &why), code);
	assert_string_equal(why, reason);
	conf_buf_free(&out);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	(void)state;
	char path[128], a[4096], b[4096];
	struct conf_buf back = { 0 };
	path_of("kura.conf", path, sizeof(path));
	dump_text(sample, a, sizeof(a));
	assert_int_equal(conf_write_file(path, sample), 0);
	assert_int_equal(conf_read(path, &back), 0);
	assert_string_equal(back.s, sample); /* byte-identical, comments and all */
	dump_text(back.s, b, sizeof(b));
	assert_string_equal(a, b);
	conf_buf_free(&back);
}

/* An add and its remove give back the text they started from. */
static void test_add_then_remove(void **state)
{
	(void)state;
	struct conf_edit add = { .op = CONF_LINE_ADD,
				 .kind = "target",
				 .name = T2,
				 .key = "allow",
				 .value = "iqn.2026-11.org.kura:ini-c" };
	struct conf_edit del = add;
	del.op = CONF_LINE_DROP;
	struct conf_buf mid = { 0 }, out = { 0 };
	assert_int_equal(conf_edit_text(sample, &add, &mid, &why), 0);
	assert_int_equal(conf_edit_text(mid.s, &del, &out, &why), 0);
	assert_string_equal(out.s, sample);
	char a[4096], b[4096];
	dump_text(mid.s, a, sizeof(a));
	dump_text(sample, b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, "target " T2 " alias=two\n allow iqn.2026-11.org.kura:ini-c\n"));
	conf_buf_free(&mid);
	conf_buf_free(&out);
}

/* ---- one line at a time ---- */

static void test_acl_add(void **state)
{
	(void)state;
	/* after the last allow line of the section, not after the last line */
	static const char expect[] = "[target " T1
				     "]\n"
				     "allow = a\n"
				     "allow = new\n"
				     "; comment\n"
				     "colour = red\n";
	struct conf_edit ed = { .op = CONF_LINE_ADD,
				.kind = "target",
				.name = T1,
				.key = "allow",
				.value = "new" };
	edit_is("[target " T1 "]\nallow = a\n; comment\ncolour = red\n", &ed, expect);
	/* no allow line: right after the header; a last line without "\n" */
	edit_is("[target " T1 "]", &ed, "[target " T1 "]\nallow = new\n");
	edit_is("[target  " T1 " ]\r\n# c\n", &ed, "[target  " T1 " ]\r\nallow = new\n# c\n");
}

static void test_acl_drop(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_LINE_DROP,
				.kind = "target",
				.name = T1,
				.key = "allow",
				.value = "iqn.2026-11.org.kura:ini-b" };
	char expect[sizeof(sample)];
	const char *line = strstr(sample, "allow=iqn.2026-11.org.kura:ini-b\n");
	size_t at = (size_t)(line - sample), len = strlen("allow=iqn.2026-11.org.kura:ini-b\n");
	memcpy(expect, sample, at);
	strcpy(expect + at, sample + at + len);
	edit_is(sample, &ed, expect);
	/* exact values only: a prefix of a value is not that value */
	ed.value = "iqn.2026-11.org.kura:ini";
	edit_refused(sample, &ed, -ENOENT,
		     "no such entry in the target's section of the configuration file");
	/* the other target's section is not looked at */
	ed.name = T2;
	ed.value = "iqn.2026-11.org.kura:ini-a";
	edit_refused(sample, &ed, -ENOENT,
		     "no such entry in the target's section of the configuration file");
}

static void test_chap_drop_prefix(void **state)
{
	(void)state;
	static const char text[] = "[target " T1
				   "]\n"
				   "chap = alice:alice-secret-12\n"
				   "chap_file = alice:/etc/kura/alice\n"
				   "chap = alicex:other-secret-12\n";
	struct conf_edit ed = { .op = CONF_LINE_DROP,
				.kind = "target",
				.name = T1,
				.key = "chap",
				.alias = "chap_file",
				.value = "alice:",
				.prefix = true };
	edit_is(text, &ed, "[target " T1 "]\nchap = alicex:other-secret-12\n");
	/* an add goes after the last chap or chap_file line */
	ed = (struct conf_edit){ .op = CONF_LINE_ADD,
				 .kind = "target",
				 .name = T1,
				 .key = "chap",
				 .alias = "chap_file",
				 .value = "bob:bob-secret-1234" };
	edit_is("[target " T1 "]\nchap_file = a:/f\nalias = x\n", &ed,
		"[target " T1 "]\nchap_file = a:/f\nchap = bob:bob-secret-1234\nalias = x\n");
}

static void test_missing_section(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_LINE_ADD,
				.kind = "target",
				.name = "iqn.2026-11.org.kura:none",
				.key = "allow",
				.value = "x" };
	edit_refused(sample, &ed, -ENOENT,
		     "the target has no [target IQN] section in the configuration file");
	ed.name = "iqn.2026-11.org.kura:on"; /* a prefix of a name is not the name */
	edit_refused(sample, &ed, -ENOENT,
		     "the target has no [target IQN] section in the configuration file");
	ed = (struct conf_edit){ .op = CONF_KEY_SET,
				 .kind = "pool",
				 .name = "p",
				 .key = "size",
				 .value = "1" };
	edit_refused(sample, &ed, -ENOENT, "the section is not in the configuration file");
}

/* ---- keys and lists ---- */

static const char storage[] =
	"[raid r]\n"
	"# mirror\n"
	"level = 1\n"
	"members = a.img, /abs/b.img,c.img\n"
	"spares = s.img\n"
	"colour = blue\n"
	"\n"
	"[pool p]\n"
	"data = d.img\n"
	"size = 1G ; grown later\n"
	"meta = p.meta\n";

static void test_key_set(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_KEY_SET,
				.kind = "pool",
				.name = "p",
				.key = "size",
				.value = "2147483648" };
	char expect[sizeof(storage) + 64];
	snprintf(expect, sizeof(expect), "%.*ssize = 2147483648\nmeta = p.meta\n",
		 (int)(strstr(storage, "size = 1G") - storage), storage);
	edit_is(storage, &ed, expect);
	/* append to a list */
	ed = (struct conf_edit){ .op = CONF_KEY_SET,
				 .kind = "raid",
				 .name = "r",
				 .key = "spares",
				 .value = "t.img",
				 .append = true };
	snprintf(expect, sizeof(expect), "%.*sspares = s.img, t.img\n%s",
		 (int)(strstr(storage, "spares") - storage), storage, strstr(storage, "colour"));
	edit_is(storage, &ed, expect);
	/* a key the section lacks goes right after its header */
	ed = (struct conf_edit){ .op = CONF_KEY_SET,
				 .kind = "pool",
				 .name = "p",
				 .key = "low_water",
				 .value = "10" };
	snprintf(expect, sizeof(expect), "%.*s[pool p]\nlow_water = 10\n%s",
		 (int)(strstr(storage, "[pool p]") - storage), storage,
		 strstr(storage, "data = d.img"));
	edit_is(storage, &ed, expect);
}

static void test_item_drop(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_ITEM_DROP,
				.kind = "raid",
				.name = "r",
				.value = "/data/c.img",
				.data_dir = "/data" };
	char expect[sizeof(storage)];
	snprintf(expect, sizeof(expect), "%.*smembers = a.img, /abs/b.img\n%s",
		 (int)(strstr(storage, "members") - storage), storage, strstr(storage, "spares"));
	edit_is(storage, &ed, expect);
	ed.value = "/abs/b.img";
	snprintf(expect, sizeof(expect), "%.*smembers = a.img, c.img\n%s",
		 (int)(strstr(storage, "members") - storage), storage, strstr(storage, "spares"));
	edit_is(storage, &ed, expect);
	/* the last spare: the line goes */
	ed.value = "/data/s.img";
	snprintf(expect, sizeof(expect), "%.*s%s", (int)(strstr(storage, "spares") - storage),
		 storage, strstr(storage, "colour"));
	edit_is(storage, &ed, expect);
	ed.value = "/elsewhere/s.img";
	edit_refused(storage, &ed, -ENOENT,
		     "the path is not listed in the section's members or spares");
}

static void test_section_add(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_SECTION_ADD, .section = "[pool q]\ndata = q.img\n" };
	char expect[sizeof(sample) + 64];
	snprintf(expect, sizeof(expect), "%s\n\n[pool q]\ndata = q.img\n",
		 sample); /* sample has no last "\n" */
	edit_is(sample, &ed, expect);
	edit_is("[global]\n", &ed, "[global]\n\n[pool q]\ndata = q.img\n");
}

/* ---- LUN sections ---- */

static void test_lun_add(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_LUN_ADD,
				.kind = "target",
				.name = T1,
				.section = "[lun 3]\nbackend = memory\nsize = 1M\n\n" };
	/* before the first header after [target T1]: "[lun 3]" binds to T1 */
	const char *at = strstr(sample, "[lun 0]");
	char expect[sizeof(sample) + 64];
	snprintf(expect, sizeof(expect), "%.*s[lun 3]\nbackend = memory\nsize = 1M\n\n%s",
		 (int)(at - sample), sample, at);
	edit_is(sample, &ed, expect);
	char a[4096];
	dump_text(expect, a, sizeof(a));
	if (!strstr(a, " lun 3 memory size=1048576 bs=512\n lun 0 memory size=1048576 bs=512\n"))
		fail_msg("%s", a);
	/* the last target, a last line without "\n" */
	ed.name = T2;
	edit_is("[target " T2 "]", &ed,
		"[target " T2 "]\n[lun 3]\nbackend = memory\nsize = 1M\n\n");
}

static void test_lun_drop(void **state)
{
	(void)state;
	struct conf_edit ed = { .op = CONF_LUN_DROP, .kind = "target", .name = T1, .lun = 0 };
	const char *b = strstr(sample, "[lun 0]"), *e = strstr(sample, "[target " T2);
	char expect[sizeof(sample)];
	snprintf(expect, sizeof(expect), "%.*s%s", (int)(b - sample), sample, e);
	edit_is(sample, &ed, expect);
	/* [lun IQN:N], after another target's section */
	ed.lun = 5;
	b = strstr(sample, "[lun " T1 ":5]");
	snprintf(expect, sizeof(expect), "%.*s", (int)(b - sample), sample);
	edit_is(sample, &ed, expect);
	/* [lun 0] after [target T2] is T2's */
	ed.name = T2;
	ed.lun = 0;
	edit_refused(sample, &ed, -ENOENT,
		     "the LUN has no [lun] section in the configuration file");
}

/* ---- the file ---- */

static int temp_files(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *de; d && (de = readdir(d));)
		n += !strncmp(de->d_name, ".kura-targetd.conf", 18);
	if (d)
		closedir(d);
	return n;
}

static void test_atomic_replace(void **state)
{
	(void)state;
	char path[128], tmp[256];
	struct conf_buf back = { 0 };
	struct stat st;
	path_of("a.conf", path, sizeof(path));
	assert_int_equal(conf_write_file(path, "old\n"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600); /* a new file: owner only */
	assert_int_equal(chmod(path, 0640), 0);
	/* staged, not installed: the file is still the old one */
	assert_int_equal(conf_stage(dir, "new\n", 0640, tmp, sizeof(tmp)), 0);
	assert_int_equal(temp_files(), 1);
	assert_int_equal(conf_read(path, &back), 0);
	assert_string_equal(back.s, "old\n");
	conf_buf_free(&back);
	assert_int_equal(conf_install(tmp, path), 0);
	assert_int_equal(temp_files(), 0);
	assert_int_equal(conf_read(path, &back), 0);
	assert_string_equal(back.s, "new\n");
	conf_buf_free(&back);
	/* a rewrite keeps the mode and leaves no temporary file */
	assert_int_equal(conf_write_file(path, "newer\n"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(temp_files(), 0);
}

static void test_replace_fails_cleanly(void **state)
{
	(void)state;
	char path[160];
	snprintf(path, sizeof(path), "%s/missing/a.conf", dir);
	assert_int_equal(conf_write_file(path, "x\n"), -ENOENT);
	assert_int_equal(temp_files(), 0);
	struct conf_buf b = { 0 };
	assert_int_equal(conf_read(path, &b), -ENOENT);
	conf_buf_free(&b);
}

/* A writer killed at any point leaves the old text or the new one, whole,
 * and a temporary file it left behind does not stop the next writer. */
static void test_killed_writer(void **state)
{
	(void)state;
	static char a[64 * 1024], b[64 * 1024];
	char path[128];
	memset(a, 'a', sizeof(a) - 1);
	memset(b, 'b', sizeof(b) - 1);
	a[sizeof(a) - 1] = b[sizeof(b) - 1] = '\0';
	path_of("killed.conf", path, sizeof(path));
	assert_int_equal(conf_write_file(path, a), 0);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0;; i++)
				conf_write_file(path, i & 1 ? a : b);
		}
		usleep(1000 + 1500 * (useconds_t)round);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		struct conf_buf back = { 0 };
		assert_int_equal(conf_read(path, &back), 0);
		assert_true(!strcmp(back.s, a) || !strcmp(back.s, b));
		conf_buf_free(&back);
	}
	assert_int_equal(conf_write_file(path, "after\n"), 0);
	struct conf_buf back = { 0 };
	assert_int_equal(conf_read(path, &back), 0);
	assert_string_equal(back.s, "after\n");
	conf_buf_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_add_then_remove),
		cmocka_unit_test(test_acl_add),
		cmocka_unit_test(test_acl_drop),
		cmocka_unit_test(test_chap_drop_prefix),
		cmocka_unit_test(test_missing_section),
		cmocka_unit_test(test_key_set),
		cmocka_unit_test(test_item_drop),
		cmocka_unit_test(test_section_add),
		cmocka_unit_test(test_lun_add),
		cmocka_unit_test(test_lun_drop),
		cmocka_unit_test(test_atomic_replace),
		cmocka_unit_test(test_replace_fails_cleanly),
		cmocka_unit_test(test_killed_writer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
