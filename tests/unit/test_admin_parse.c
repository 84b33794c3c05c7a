/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of target/admin/admin_parse.c: every request of the admin
 * protocol (admin.h) valid, with words missing and extra, hostile words
 * (non-printable bytes, embedded NUL, INI syntax in values), over-long lines
 * and too many words, and --json anywhere. The reasons are the protocol's
 * "ERR <reason>" texts, so they are compared byte for byte.
 *
 * Not for: what the commands do (the targetctl integration tests run them
 * against the daemon).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "target/admin/admin_parse.c"

static struct admin_cmd cmd;
static const char *why;

static int parse(const char *line)
{
	why = NULL;
	return admin_parse(line, strlen(line), &cmd, &why);
}

/* A line that must decode to op with the given word count. */
static void ok(const char *line, enum admin_op op, int argc)
{
	int r = parse(line);
	if (r != 0)
		fail_msg("\"%s\": %s", line, why);
	assert_int_equal(cmd.op, op);
	assert_int_equal(cmd.argc, argc);
}

/* A line that must be refused with exactly this reason. */
static void refused(const char *line, const char *reason)
{
	int r = parse(line);
	if (r != -EINVAL)
		fail_msg("\"%s\" accepted", line);
	assert_string_equal(why, reason);
}

static const char *const raid_usage =
	"usage: raid status [NAME] | scrub NAME [--repair | --stop] | fail NAME ROLE | remove NAME ROLE|PATH | "
	"add-spare NAME PATH | create NAME level=L members=P1,P2,... member_size=S [chunk=C]";
static const char *const lun_usage =
	"usage: lun add IQN LUN backend=file|memory [path=P] size=S [block_size=B] [thin=yes|no] | "
	"lun add IQN LUN backend=thin pool=P volume=ID [read_only=yes] [block_size=B] | "
	"lun remove IQN LUN [--force]";
static const char *const lun_keys_why =
	"lun add takes backend=file|memory|thin|raid|rbd, path=, size=, block_size=, thin=, pool=, "
	"volume=, raid=, read_only=, rbd_pool=, rbd_image=, rbd_conf=, rbd_user=, rbd_keyring=, "
	"rbd_namespace=";
static const char *const pool_usage =
	"usage: pool status [NAME] [--json] | pool grow NAME [size=S] | pool create NAME ...";
static const char *const volume_usage =
	"usage: volume list POOL | create POOL ID size=S | resize POOL ID size=S | delete POOL ID";

#define IQN "iqn.2026-11.org.kura:t"

/* ---- words ---- */

static void test_words(void **state)
{
	(void)state;
	ok("list targets\n", ADMIN_LIST, 2);
	ok("list targets\r\n", ADMIN_LIST, 2);
	ok("  list \t  luns  ", ADMIN_LIST, 2);
	assert_string_equal(cmd.argv[1], "luns");
	refused("", "empty request");
	refused("\n", "empty request");
	refused(" \t \r\n", "empty request");
	refused("--json", "empty request");
	refused("frobnicate", "unknown command");
	refused("LIST targets", "unknown command");
	refused("list targets \x01", "non-printable byte in request");
	refused("list targ\x7f"
		"ets",
		"non-printable byte in request");
	refused("list \xc3\xa9", "non-printable byte in request");
	refused("a b c d e f g h i j k l m", "too many words");
	ok("raid create r level=1 members=a,b member_size=1M chunk=64K u v w x y",
	   ADMIN_RAID_CREATE, 12);
}

static void test_embedded_nul(void **state)
{
	(void)state;
	static const char line[] = "list targets\0 x";
	why = NULL;
	assert_int_equal(admin_parse(line, sizeof(line) - 1, &cmd, &why), -EINVAL);
	assert_string_equal(why, "non-printable byte in request");
}

static void test_long_lines(void **state)
{
	(void)state;
	char line[ADMIN_MAX_LINE + 8];
	memset(line, 'x', sizeof(line));
	memcpy(line, "list ", 5);
	why = NULL;
	/* exactly ADMIN_MAX_LINE bytes, plus "\r\n": accepted as words */
	memcpy(line + ADMIN_MAX_LINE, "\r\n", 2);
	assert_int_equal(admin_parse_line(line, ADMIN_MAX_LINE + 2, &cmd, &why), 0);
	assert_int_equal(cmd.argc, 2);
	assert_int_equal(strlen(cmd.argv[1]), ADMIN_MAX_LINE - 5);
	assert_int_equal(admin_parse(line, ADMIN_MAX_LINE + 1, &cmd, &why), -EINVAL);
	assert_string_equal(why, "usage: list targets|portals|luns|sessions [--json]");
	/* one byte more: refused before any word is looked at */
	line[ADMIN_MAX_LINE] = 'x';
	assert_int_equal(admin_parse(line, ADMIN_MAX_LINE + 1, &cmd, &why), -EINVAL);
	assert_string_equal(why, "request too long");
	line[ADMIN_MAX_LINE + 1] = '\n';
	assert_int_equal(admin_parse(line, ADMIN_MAX_LINE + 2, &cmd, &why), -EINVAL);
	assert_string_equal(why, "request too long");
}

static void test_json(void **state)
{
	(void)state;
	ok("list luns --json", ADMIN_LIST, 2);
	assert_true(cmd.json);
	ok("--json list luns", ADMIN_LIST, 2);
	assert_true(cmd.json);
	ok("list --json luns", ADMIN_LIST, 2);
	assert_true(cmd.json);
	ok("list luns", ADMIN_LIST, 2);
	assert_false(cmd.json);
	refused("list luns --jsonx", "usage: list targets|portals|luns|sessions [--json]");
	refused("list luns --JSON", "usage: list targets|portals|luns|sessions [--json]");
	ok("acl add " IQN " i --json", ADMIN_ACL_ADD, 4); /* accepted, ignored */
}

/* ---- list, show, clear-reservation, alua ---- */

static void test_list(void **state)
{
	(void)state;
	static const char *const what[] = { "targets", "portals", "luns", "sessions" };
	char line[64];
	for (int i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "list %s", what[i]);
		ok(line, ADMIN_LIST, 2);
		assert_int_equal(cmd.what, i);
	}
	refused("list", "usage: list targets|portals|luns|sessions [--json]");
	refused("list targets luns", "usage: list targets|portals|luns|sessions [--json]");
	refused("list lun", "usage: list targets|portals|luns|sessions [--json]");
}

static void test_show_clear(void **state)
{
	(void)state;
	ok("show lun " IQN " 7", ADMIN_SHOW_LUN, 4);
	assert_string_equal(cmd.iqn, IQN);
	assert_int_equal(cmd.lun, 7);
	ok("show lun " IQN " 255 --json", ADMIN_SHOW_LUN, 4);
	assert_int_equal(cmd.lun, 255);
	refused("show lun " IQN, "usage: show lun IQN LUN [--json]");
	refused("show lun " IQN " 1 2", "usage: show lun IQN LUN [--json]");
	refused("show target " IQN " 1", "usage: show lun IQN LUN [--json]");
	refused("show lun " IQN " 256", "bad LUN number");
	refused("show lun " IQN " -1", "bad LUN number");
	refused("show lun " IQN " 1x", "bad LUN number");
	refused("show lun " IQN " 99999999999999999999999", "bad LUN number");
	ok("clear-reservation " IQN " 0", ADMIN_CLEAR_RESV, 3);
	assert_string_equal(cmd.iqn, IQN);
	assert_int_equal(cmd.lun, 0);
	refused("clear-reservation " IQN, "usage: clear-reservation IQN LUN");
	refused("clear-reservation " IQN " 1 2", "usage: clear-reservation IQN LUN");
	refused("clear-reservation " IQN " x", "bad LUN number");
}

static void test_alua(void **state)
{
	(void)state;
	ok("alua show", ADMIN_ALUA_SHOW, 2);
	ok("alua show --json", ADMIN_ALUA_SHOW, 2);
	ok("alua set 2 standby", ADMIN_ALUA_SET, 4);
	assert_int_equal(cmd.num, 2);
	assert_int_equal(cmd.state, scsi_alua_state_parse("standby"));
	ok("alua set 65535 active-optimized", ADMIN_ALUA_SET, 4);
	static const char *const usage = "usage: alua show | alua set PORT_GROUP STATE";
	refused("alua", usage);
	refused("alua show x", usage);
	refused("alua set 1", usage);
	refused("alua set 1 standby x", usage);
	refused("alua get 1 standby", usage);
	refused("alua set 0 standby", "bad port group or state");
	refused("alua set 65536 standby", "bad port group or state");
	refused("alua set 1x standby", "bad port group or state");
	refused("alua set 1 asleep", "bad port group or state");
}

/* ---- acl, chap, lun ---- */

static void test_acl(void **state)
{
	(void)state;
	ok("acl add " IQN " iqn.1993-08.org.debian:01:abc", ADMIN_ACL_ADD, 4);
	assert_string_equal(cmd.iqn, IQN);
	assert_string_equal(cmd.argv[3], "iqn.1993-08.org.debian:01:abc");
	ok("acl remove " IQN " i", ADMIN_ACL_REMOVE, 4);
	static const char *const usage = "usage: acl add|remove IQN INITIATOR";
	refused("acl add " IQN, usage);
	refused("acl add " IQN " a b", usage);
	refused("acl del " IQN " a", usage);
	refused("acl", usage);
}

static void test_chap(void **state)
{
	(void)state;
	ok("chap add " IQN " alice s3cret-s3cret", ADMIN_CHAP_ADD, 5);
	assert_string_equal(cmd.user, "alice");
	assert_string_equal(cmd.argv[4], "s3cret-s3cret");
	ok("chap remove " IQN " alice", ADMIN_CHAP_REMOVE, 4);
	assert_string_equal(cmd.iqn, IQN);
	static const char *const usage = "usage: chap add IQN USER SECRET | chap remove IQN USER";
	refused("chap add " IQN " alice", usage); /* no secret */
	refused("chap remove " IQN " alice x", usage);
	refused("chap add " IQN " alice a b", usage);
	refused("chap list " IQN " alice", usage);
	refused("chap add " IQN " al:ice secretsecret", "CHAP user names cannot contain ':'");
	refused("chap remove " IQN " a:", "CHAP user names cannot contain ':'");
	char line[ADMIN_MAX_LINE];
	char secret[600];
	memset(secret, 's', sizeof(secret));
	secret[599 - 6] = '\0'; /* "alice:" + 593 = 599 < 600: fits */
	snprintf(line, sizeof(line), "chap add %s alice %s", IQN, secret);
	ok(line, ADMIN_CHAP_ADD, 5);
	secret[599 - 6] = 's'; /* 600 bytes: does not */
	secret[600 - 6] = '\0';
	snprintf(line, sizeof(line), "chap add %s alice %s", IQN, secret);
	refused(line, "CHAP user or secret too long");
}

static void test_lun(void **state)
{
	(void)state;
	ok("lun add " IQN " 3 backend=file path=d.img size=1G", ADMIN_LUN_ADD, 7);
	assert_int_equal(cmd.lun, 3);
	assert_string_equal(cmd.iqn, IQN);
	ok("lun add " IQN " 255 backend=thin pool=p volume=4 read_only=yes block_size=4096",
	   ADMIN_LUN_ADD, 9);
	ok("lun add " IQN " 1 backend=memory size=1M thin=no", ADMIN_LUN_ADD, 7);
	ok("lun add " IQN " 1 backend=raid raid=r", ADMIN_LUN_ADD, 6);
	ok("lun add " IQN " 1", ADMIN_LUN_ADD,
	   4); /* the configuration parser says what is missing */
	ok("lun remove " IQN " 3", ADMIN_LUN_REMOVE, 4);
	assert_false(cmd.force);
	ok("lun remove " IQN " 3 --force", ADMIN_LUN_REMOVE, 5);
	assert_true(cmd.force);
	refused("lun add " IQN, lun_usage);
	refused("lun", lun_usage);
	refused("lun drop " IQN " 1", lun_usage);
	refused("lun add " IQN " 256 backend=memory", "LUN must be a number 0..255");
	refused("lun remove " IQN " -0", "LUN must be a number 0..255");
	refused("lun remove " IQN " one", "LUN must be a number 0..255");
	refused("lun remove " IQN " 1 --forse", "usage: lun remove IQN LUN [--force]");
	refused("lun remove " IQN " 1 --force x", "usage: lun remove IQN LUN [--force]");
	refused("lun add " IQN " 1 backend=memory colour=red", lun_keys_why);
	refused("lun add " IQN " 1 backend=memory size", lun_keys_why);
	/* INI syntax in a value would change the file's structure */
	refused("lun add " IQN " 1 backend=file path=a;b", lun_keys_why);
	refused("lun add " IQN " 1 backend=file path=a#b", lun_keys_why);
	refused("lun add " IQN " 1 backend=file path=[target]", lun_keys_why);
}

/* "lun add i 255 backend=file" and seven path= words of k bytes of value:
 * the [lun 255] section they become is 2 bytes per word plus the create
 * line longer than the request, so it can outgrow ADMIN_LUN_SECTION_MAX. */
static void lun_line(char *line, size_t cap, int k)
{
	char path[200];
	memset(path, 'p', (size_t)k);
	path[k] = '\0';
	size_t n = (size_t)snprintf(line, cap, "lun add i 255 backend=file");
	for (int i = 0; i < 7; i++)
		n += (size_t)snprintf(line + n, cap - n, " path=%s", path);
}

static void test_lun_section_too_long(void **state)
{
	(void)state;
	char line[ADMIN_MAX_LINE * 2];
	lun_line(line, sizeof(line), 100); /* section: 794 bytes */
	ok(line, ADMIN_LUN_ADD, 12);
	lun_line(line, sizeof(line), 135); /* request 1013 bytes, section 1039 */
	assert_true(strlen(line) <= ADMIN_MAX_LINE);
	refused(line, "request too long");
	lun_line(line, sizeof(line), 131); /* section 1011 + "\n": fits */
	ok(line, ADMIN_LUN_ADD, 12);
}

/* ---- raid, pool, volume, snapshot, clone ---- */

static void test_raid(void **state)
{
	(void)state;
	ok("raid status", ADMIN_RAID_STATUS, 2);
	ok("raid status r --json", ADMIN_RAID_STATUS, 3);
	refused("raid status r x", raid_usage);
	refused("raid", raid_usage);
	refused("raid grow r", raid_usage);
	ok("raid scrub r", ADMIN_RAID_SCRUB, 3);
	assert_false(cmd.repair || cmd.stop);
	ok("raid scrub r --repair", ADMIN_RAID_SCRUB, 4);
	assert_true(cmd.repair);
	ok("raid scrub r --stop", ADMIN_RAID_SCRUB, 4);
	assert_true(cmd.stop);
	refused("raid scrub", "usage: raid scrub NAME [--repair | --stop]");
	refused("raid scrub r --now", "usage: raid scrub NAME [--repair | --stop]");
	ok("raid fail r 31", ADMIN_RAID_FAIL, 4);
	assert_int_equal(cmd.num, 31);
	refused("raid fail r", "usage: raid fail NAME ROLE");
	refused("raid fail r 32", "bad role");
	refused("raid fail r -1", "bad role");
	refused("raid fail r x", "bad role");
	ok("raid add-spare r s.img", ADMIN_RAID_ADD_SPARE, 4);
	refused("raid add-spare r", "usage: raid add-spare NAME PATH");
	ok("raid remove r 2", ADMIN_RAID_REMOVE, 4);
	refused("raid remove r 2 3", "usage: raid remove NAME ROLE|PATH");
	ok("raid create r level=1 members=a,b member_size=1M", ADMIN_RAID_CREATE, 6);
	static const char *const create =
		"usage: raid create NAME level=0|1|5|6|10 members=P1,P2,... member_size=S [chunk=C]";
	refused("raid create r level=1 members=a,b", create);
	refused("raid create r level=1 members=a,b chunk=64K", create);
	refused("raid create r[1] level=1 members=a,b member_size=1M", create);
	refused("raid create r;x level=1 members=a,b member_size=1M", create);
	char line[256];
	snprintf(line, sizeof(line), "raid create %064d level=1 members=a,b member_size=1M", 0);
	refused(line, create);
	snprintf(line, sizeof(line), "raid create %063d level=1 members=a,b member_size=1M", 0);
	ok(line, ADMIN_RAID_CREATE, 6);
}

static void test_pool(void **state)
{
	(void)state;
	ok("pool status", ADMIN_POOL_STATUS, 2);
	ok("pool status p --json", ADMIN_POOL_STATUS, 3);
	refused("pool", pool_usage);
	refused("pool status p q", pool_usage);
	refused("pool shrink p", pool_usage);
	ok("pool grow p", ADMIN_POOL_GROW, 3);
	ok("pool grow p size=2G", ADMIN_POOL_GROW, 4);
	ok("pool grow p bigger", ADMIN_POOL_GROW, 4); /* the handler says "usage" once p is found */
	refused("pool grow", "usage: pool grow NAME [size=S]");
	refused("pool grow p size=1G x", "usage: pool grow NAME [size=S]");
	ok("pool create p path=d.img size=1G", ADMIN_POOL_CREATE, 5);
	ok("pool create p raid=r chunk_size=64K", ADMIN_POOL_CREATE, 5);
	ok("pool create p path=d.img size=1G --force-new", ADMIN_POOL_CREATE, 5);
	assert_true(cmd.force);
	static const char *const create =
		"usage: pool create NAME path=FILE [size=S] | raid=NAME, [chunk_size=C] [meta=M] "
		"[--force-new]";
	refused("pool create p", create);
	refused("pool create p --force-new", create);
	refused("pool create p size=1G", create);
	refused("pool create p path=d raid=r", create);
	refused("pool create p,q path=d", create);
}

static void test_volume_copy(void **state)
{
	(void)state;
	ok("volume list p --json", ADMIN_VOLUME_LIST, 3);
	ok("volume create p 1 size=1G", ADMIN_VOLUME_CREATE, 5);
	ok("volume resize p 1 size=2G", ADMIN_VOLUME_RESIZE, 5);
	ok("volume delete p 1", ADMIN_VOLUME_DELETE, 4);
	ok("volume create p", ADMIN_VOLUME_CREATE,
	   3); /* the word count is checked once p is found */
	refused("volume list", volume_usage);
	refused("volume", volume_usage);
	refused("volume move p 1", volume_usage);
	ok("snapshot create p 1 2", ADMIN_SNAPSHOT_CREATE, 5);
	ok("clone create p 1 3", ADMIN_CLONE_CREATE, 5);
	refused("snapshot create p 1", "usage: snapshot create POOL ORIGIN_ID NEW_ID");
	refused("snapshot delete p 1 2", "usage: snapshot create POOL ORIGIN_ID NEW_ID");
	refused("clone create p 1 2 3", "usage: clone create POOL ORIGIN_ID NEW_ID");
	refused("clone", "usage: clone create POOL ORIGIN_ID NEW_ID");
	/* an RBD LU's image: the target name instead of a pool */
	ok("snapshot create iqn.2026-12.x:t 0 before", ADMIN_RBD_SNAPSHOT, 5);
	ok("clone create iqn.2026-12.x:t 3 before vm2", ADMIN_RBD_CLONE, 6);
	assert_int_equal(cmd.lun, 3);
	refused("snapshot create iqn.2026-12.x:t 0", "usage: snapshot create IQN LUN SNAP_NAME");
	refused("clone create iqn.2026-12.x:t 0 s",
		"usage: clone create IQN LUN SNAP_NAME NEW_IMAGE");
	refused("snapshot create iqn.2026-12.x:t x s", "bad LUN number");
	refused("snapshot create iqn.2026-12.x:t 0 a@b",
		"RBD snapshot and image names cannot be empty or hold / @ ; # [ ] = ,");
	refused("clone create iqn.2026-12.x:t 0 s p/img",
		"RBD snapshot and image names cannot be empty or hold / @ ; # [ ] = ,");
}

/* Every operation is reached by some request (a new one needs a line here). */
static void test_every_op(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"list targets",
		"show lun i 1",
		"clear-reservation i 1",
		"alua show",
		"alua set 1 standby",
		"acl add i x",
		"acl remove i x",
		"chap add i u secretsecret",
		"chap remove i u",
		"lun add i 1 backend=memory",
		"lun remove i 1",
		"raid status",
		"raid scrub r",
		"raid fail r 1",
		"raid add-spare r s",
		"raid remove r 1",
		"raid create r level=1 members=a,b member_size=1M",
		"pool status",
		"pool grow p",
		"pool create p path=d",
		"volume list p",
		"volume create p",
		"volume resize p",
		"volume delete p",
		"snapshot create p 1 2",
		"clone create p 1 2",
		"metrics",
		"snapshot create iqn.x 0 s",
		"clone create iqn.x 0 s i",
	};
	bool seen[ADMIN_N_OPS] = { false };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (parse(lines[i]) != 0)
			fail_msg("\"%s\": %s", lines[i], why);
		seen[cmd.op] = true;
	}
	for (int op = 0; op < ADMIN_N_OPS; op++)
		if (!seen[op])
			fail_msg("operation %d not reached", op);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_show_clear),
		cmocka_unit_test(test_alua),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_chap),
		cmocka_unit_test(test_lun),
		cmocka_unit_test(test_lun_section_too_long),
		cmocka_unit_test(test_raid),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_volume_copy),
		cmocka_unit_test(test_every_op),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
