/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of cluster-lock/lock_config.c: the [cluster] / [host] / [vm]
 * INI file, the shell-like splitting of `qemu`, and that every bad value is
 * reported as FILE:LINE with the key. Not for: the daemon's use of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "cluster-lock/lock_config.c"

static const char good[] =
	"; the example of docs/cluster-lock.md\n"
	"[cluster]\n"
	"name = lab\n"
	"ha_lun = iscsi://192.0.2.10:3260/iqn.2026-12.org.example:ha/0   ; path 1\n"
	"ha_lun = iscsi://192.0.2.11:3260/iqn.2026-12.org.example:ha/0\n"
	"heartbeat_interval = 0.5\n"
	"fail_after = 10\n"
	"[host hv1]\n"
	"id = 1\n"
	"  initiator = iqn.2026-12.org.example:hv1\n"
	"address = 192.0.2.21\n"
	"initiatord_dir = /run/kura-initiatord/fs\n"
	"[host hv2]\n"
	"id = 2\n"
	"initiator = iqn.2026-12.org.example:hv2\n"
	"socket = /run/hv2.sock\n"
	"initiatord_dir = /mnt/kura\n"
	"[vm web1]\n"
	"disks = iscsi://192.0.2.10:3260/iqn.2026-12.org.example:vms/1 "
	"iscsi://192.0.2.10:3260/iqn.2026-12.org.example:vms/2\n"
	"qemu = -machine q35 -m 512 -display none -kernel /boot/vmlinuz "
	"-append \"console=ttyS0 quiet\"   ; no disks here\n"
	"ha = yes\n"
	"prefer = hv2\n"
	"disk_via = initiatord\n"
	"[vm db]\n"
	"disks = /dev/loop3\n"
	"disk_device = none\n";

static void parse_ok(const char *text, struct lock_config *c)
{
	char err[256];
	int r = lock_config_parse(text, "t.conf", c, err, sizeof(err));
	if (r != 0)
		fail_msg("unexpected error: %s", err);
}

static void test_good(void **state)
{
	struct lock_config c;
	parse_ok(good, &c);
	assert_string_equal(c.name, "lab");
	assert_int_equal(c.n_ha_lun, 2);
	assert_string_equal(c.ha_lun[1], "iscsi://192.0.2.11:3260/iqn.2026-12.org.example:ha/0");
	assert_int_equal(c.heartbeat_interval_ms, 500);
	assert_int_equal(c.fail_after_ms, 10000);
	assert_int_equal(c.io_timeout_ms, 0);
	assert_int_equal(c.n_hosts, 2);
	assert_string_equal(lock_config_host(&c, "hv1")->initiator, "iqn.2026-12.org.example:hv1");
	assert_string_equal(lock_config_host_by_id(&c, 2)->name, "hv2");
	assert_string_equal(lock_config_host(&c, "hv2")->socket, "/run/hv2.sock");
	assert_null(lock_config_host(&c, "hv3"));
	const struct lock_vm_cfg *w = lock_config_vm(&c, "web1");
	assert_non_null(w);
	assert_int_equal(w->n_disks, 2);
	assert_true(w->ha);
	assert_true(w->disk_device);
	assert_string_equal(w->prefer, "hv2");
	assert_true(w->via_initiatord);
	assert_string_equal(lock_config_host(&c, "hv1")->initiatord_dir, "/run/kura-initiatord/fs");
	assert_int_equal(w->qemu_argc, 10);
	assert_string_equal(w->qemu_argv[9], "console=ttyS0 quiet");
	assert_null(w->qemu_argv[10]);
	const struct lock_vm_cfg *d = lock_config_vm(&c, "db");
	assert_int_equal(d->index, 1);
	assert_false(d->ha);
	assert_false(d->disk_device);
	assert_false(d->via_initiatord);
	assert_int_equal(d->qemu_argc, 0);
	lock_config_free(&c);
}

static void split_is(const char *s, int n, const char *const *want)
{
	char **v;
	int argc;
	const char *why = NULL;
	assert_int_equal(lock_split_words(s, &v, &argc, &why), 0);
	assert_int_equal(argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
	assert_null(v[n]);
	lock_free_words(v);
}

static void test_split(void **state)
{
	split_is("", 0, NULL);
	split_is("  \t ", 0, NULL);
	split_is("a  b\tc", 3, (const char *const[]){ "a", "b", "c" });
	split_is("-append \"a b  c\" x", 3, (const char *const[]){ "-append", "a b  c", "x" });
	split_is("p\"q r\"s", 1, (const char *const[]){ "pq rs" });
	split_is("'$HOME \"x\"' \"it's\"", 2, (const char *const[]){ "$HOME \"x\"", "it's" });
	split_is("a\\ b \"c\\\"d\\\\\" \"\\n\"", 3,
		 (const char *const[]){ "a b", "c\"d\\", "\\n" });
	split_is("\"\" x", 2, (const char *const[]){ "", "x" });
	split_is("$(rm -rf /) *", 4, (const char *const[]){ "$(rm", "-rf", "/)", "*" });
}

static void test_split_bad(void **state)
{
	char **v = (char **)1;
	int argc = 7;
	const char *why = NULL;
	assert_int_equal(lock_split_words("-append \"console=ttyS0", &v, &argc, &why), -EINVAL);
	assert_string_equal(why, "unterminated \"");
	assert_null(v);
	assert_int_equal(argc, 0);
	assert_int_equal(lock_split_words("a 'b", &v, &argc, &why), -EINVAL);
	assert_string_equal(why, "unterminated '");
}

static void test_duration(void **state)
{
	unsigned ms;
	assert_int_equal(lock_parse_duration_ms("1", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(lock_parse_duration_ms("0.25", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(lock_parse_duration_ms("300ms", &ms), 0);
	assert_int_equal(ms, 300);
	assert_int_equal(lock_parse_duration_ms("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(lock_parse_duration_ms("", &ms), -EINVAL);
	assert_int_equal(lock_parse_duration_ms("-1", &ms), -EINVAL);
	assert_int_equal(lock_parse_duration_ms("1h", &ms), -EINVAL);
	assert_int_equal(lock_parse_duration_ms("1e9", &ms), -EINVAL);
}

/* A minimal valid file followed by EXTRA; the error must equal WANT. */
static void bad_is(const char *extra, const char *want)
{
	char text[2048], err[256];
	struct lock_config c;
	snprintf(text, sizeof(text), "[cluster]\nname = x\nha_lun = iscsi://h/i/0\n%s", extra);
	assert_int_equal(lock_config_parse(text, "bad.conf", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	lock_config_free(&c);
}

static void test_bad(void **state)
{
	bad_is("frobnicate = 1\n", "bad.conf:4: key 'frobnicate': unknown in [cluster]");
	bad_is("fail_after = soon\n",
	       "bad.conf:4: key 'fail_after': expected a duration in "
	       "seconds (like 1, 0.5 or 250ms), got 'soon'");
	bad_is("heartbeat_interval = 0\n",
	       "bad.conf:4: key 'heartbeat_interval': expected a "
	       "duration in seconds (like 1, 0.5 or 250ms), got '0'");
	bad_is("ha_lun = /dev/sda\n",
	       "bad.conf:4: key 'ha_lun': expected an iscsi:// URL, "
	       "got '/dev/sda'");
	bad_is("[host a]\nid = 0\n", "bad.conf:5: key 'id': expected a host id 1..64, got '0'");
	bad_is("[host a]\nid = 1\n", "bad.conf:4: [host a]: key 'initiator' missing");
	bad_is("[host a]\nid = 1\ninitiator = i1\n[host b]\nid = 1\ninitiator = i2\n",
	       "bad.conf:7: [host b]: key 'id': 1 already used by [host a]");
	bad_is("[host a]\nid = 1\ninitiator = i1\n[host b]\nid = 2\ninitiator = i1\n",
	       "bad.conf:7: [host b]: key 'initiator': already used by [host a]");
	bad_is("[host a]\nspeed = 3\n", "bad.conf:5: key 'speed': unknown in [host a]");
	bad_is("[vm v]\nqemu = -append \"x\n", "bad.conf:5: key 'qemu': unterminated \"");
	bad_is("[vm v]\nha = maybe\n", "bad.conf:5: key 'ha': expected yes or no, got 'maybe'");
	bad_is("[vm v]\ndisk_device = scsi\n",
	       "bad.conf:5: key 'disk_device': expected "
	       "virtio-blk-pci or none, got 'scsi'");
	bad_is("[vm v]\ndisk_via = fuse\n",
	       "bad.conf:5: key 'disk_via': expected iscsi or "
	       "initiatord, got 'fuse'");
	bad_is("[host a]\ninitiatord_dir = fs\n",
	       "bad.conf:5: key 'initiatord_dir': expected "
	       "an absolute path, got 'fs'");
	bad_is("[host a]\nid = 1\ninitiator = i1\ninitiatord_dir = /fs\n[vm v]\n"
	       "disks = /dev/sdb\ndisk_via = initiatord\n",
	       "bad.conf:10: key 'disk_via': "
	       "initiatord needs iscsi:// URLs in 'disks', got '/dev/sdb'");
	bad_is("[host a]\nid = 1\ninitiator = i1\n[vm v]\ndisk_via = initiatord\n"
	       "disks = iscsi://h/i/1\n",
	       "bad.conf:8: key 'disk_via': initiatord needs key "
	       "'initiatord_dir' in [host a] (line 4)");
	bad_is("[vm v]\nha = yes\n", "bad.conf:4: [vm v]: key 'disks' missing");
	bad_is("[vm v]\ndisks = d\nprefer = hv9\n",
	       "bad.conf:4: [vm v]: key 'prefer': no "
	       "[host hv9]");
	bad_is("[vm v w]\n",
	       "bad.conf:4: [vm v w]: a name is 1..63 letters, digits, '-', '_' "
	       "or '.'");
	bad_is("[disk x]\n",
	       "bad.conf:4: unknown section [disk x] (expected [cluster], "
	       "[host NAME] or [vm NAME])");
	bad_is("[cluster]\n", "bad.conf:4: second [cluster] section");
	bad_is("\n\njunk\n", "bad.conf:6: syntax error: expected [section] or key = value");
	bad_is("fail_after = 1\n",
	       "bad.conf:1: [cluster]: key 'fail_after': must be at least "
	       "two heartbeat intervals");
}

static void test_missing(void **state)
{
	char err[256];
	struct lock_config c;
	assert_int_equal(lock_config_parse("[host a]\nid=1\ninitiator=i\n", "m.conf", &c, err,
					   sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "m.conf:1: no [cluster] section");
	lock_config_free(&c);
	assert_int_equal(lock_config_parse("[cluster]\nname=x\n", "m.conf", &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "m.conf:1: [cluster]: key 'ha_lun' missing");
	lock_config_free(&c);
	assert_int_equal(lock_config_load("/nonexistent/k.conf", &c, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/k.conf: No such file or directory");
}

static void test_long_line(void **state)
{
	char text[4096], err[256];
	struct lock_config c;
	char longq[1500];
	memset(longq, 'x', sizeof(longq) - 1);
	longq[sizeof(longq) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "[cluster]\nname=x\nha_lun=iscsi://h/i/0\n[vm v]\n"
		 "disks = d\nqemu = -append \"%s\"\n",
		 longq);
	if (lock_config_parse(text, "l.conf", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(strlen(c.vms[0].qemu_argv[1]), sizeof(longq) - 1);
	lock_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),      cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_bad), cmocka_unit_test(test_duration),
		cmocka_unit_test(test_bad),       cmocka_unit_test(test_missing),
		cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
