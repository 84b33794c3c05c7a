/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kura-iscsiadm (initiator/iscsiadm*.c) and its pure helpers:
 * the argument table (every supported mode / operation combination, long and
 * short options, bad combinations -> exit 7 with a message), portal strings,
 * libiscsi login error mapping, the ctl client's percent coding and reply
 * parser, and whole commands against a temp database with a scripted fake
 * kura-initiatord on a Unix socket (session list formats, login / logout
 * messages and exit codes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "initiator/nodedb.c"
#include "initiator/discovery.c"
#include "initiator/ctl_client.c"
#include "initiator/iscsiadm_args.c"
#include "initiator/iscsiadm_node.c"
#include "initiator/iscsiadm_disc.c"
#include "initiator/iscsiadm_session.c"
#include "initiator/iscsiadm_iface.c"

#include <ftw.h>
#include <pthread.h>

/* ---- argument table ---- */

struct arg_case {
	const char *args; /* space separated, after argv[0] */
	int rc;
	enum adm_mode mode;
	unsigned ops;
	const char *msg_has; /* substring of the message when rc != 0 */
};

static const struct arg_case arg_cases[] = {
	/* discovery */
	{ "-m discovery -t st -p 10.0.0.1", 0, ADM_M_DISCOVERY, 0, NULL },
	{ "-m discovery -t sendtargets -p 10.0.0.1:3261 -l", 0, ADM_M_DISCOVERY, 0, NULL },
	{ "--mode discovery --type st --portal 10.0.0.1 --login", 0, ADM_M_DISCOVERY, 0, NULL },
	{ "-m discovery -t st -p 10.0.0.1 -I default", 0, ADM_M_DISCOVERY, 0, NULL },
	{ "-m discovery -t st -p 10.0.0.1 -o new -o delete", 0, ADM_M_DISCOVERY,
	  ADM_OP_NEW | ADM_OP_DELETE, NULL },
	{ "-m discovery -t st -p 10.0.0.1 -o nonpersistent", 0, ADM_M_DISCOVERY,
	  ADM_OP_NONPERSISTENT, NULL },
	{ "-m discovery", 0, ADM_M_DISCOVERY, 0, NULL },
	{ "-m discovery -t st", 7, 0, 0, "portal" },
	{ "-m discovery -p 10.0.0.1", 7, 0, 0, "'-t' is required" },
	{ "-m discovery -t isns -p 10.0.0.1", 7, 0, 0, "not supported" },
	{ "-m discovery -t bogus -p 10.0.0.1", 7, 0, 0, "Unknown discovery type" },
	{ "-m discovery -t st -p 10.0.0.1 -T iqn.x", 7, 0, 0, "option '-T' is not allowed" },
	{ "-m discovery -t st -p 10.0.0.1,1", 7, 0, 0, "tpgt" },
	{ "-m discovery -t st -p 10.0.0.1 -o show", 7, 0, 0, "operation not allowed" },
	{ "-m discovery -t st -p 10.0.0.1 -o nonpersistent -o new", 7, 0, 0, "nonpersistent" },
	{ "-m discovery -t st -p 10.0.0.1 -o update", 7, 0, 0, "requires name and value" },
	/* discoverydb */
	{ "-m discoverydb -t st -p 10.0.0.1:3260 -o show", 0, ADM_M_DISCOVERYDB, ADM_OP_SHOW,
	  NULL },
	{ "-m discoverydb -t st -p 10.0.0.1:3260 -o new", 0, ADM_M_DISCOVERYDB, ADM_OP_NEW, NULL },
	{ "-m discoverydb -t st -p 10.0.0.1:3260 -o delete", 0, ADM_M_DISCOVERYDB, ADM_OP_DELETE,
	  NULL },
	{ "-m discoverydb -t st -p 10.0.0.1 -o update -n discovery.sendtargets.auth.authmethod -v CHAP",
	  0, ADM_M_DISCOVERYDB, ADM_OP_UPDATE, NULL },
	{ "-m discoverydb -t st -p 10.0.0.1 --discover", 0, ADM_M_DISCOVERYDB, 0, NULL },
	{ "-m discoverydb -t st -p 10.0.0.1 -D -l", 0, ADM_M_DISCOVERYDB, 0, NULL },
	{ "-m discoverydb -t st -p 10.0.0.1 -o update -n a", 7, 0, 0, "-v VALUE" },
	{ "-m discoverydb -t st -p 10.0.0.1 -o show -n a -v b", 7, 0, 0, "only used with" },
	{ "-m discoverydb -t st -p 10.0.0.1 -u", 7, 0, 0, "option '-u'" },
	/* node */
	{ "-m node", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -P 1", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -P 2", 7, 0, 0, "print level" },
	{ "-m node -P 9", 7, 0, 0, "Invalid print level" },
	{ "-m node -T iqn.x -p 10.0.0.1:3260 -o show", 0, ADM_M_NODE, ADM_OP_SHOW, NULL },
	{ "-m node --targetname iqn.x --portal 10.0.0.1:3260,1 --op show", 0, ADM_M_NODE,
	  ADM_OP_SHOW, NULL },
	{ "-m node -T iqn.x -p 10.0.0.1 -o new", 0, ADM_M_NODE, ADM_OP_NEW, NULL },
	{ "-m node -T iqn.x -o new", 7, 0, 0, "requires -T and -p" },
	{ "-m node -T iqn.x -p 10.0.0.1 -o update -n node.startup -v automatic", 0, ADM_M_NODE,
	  ADM_OP_UPDATE, NULL },
	{ "-m node -T iqn.x -p 10.0.0.1 --op=update --name=node.startup --value=automatic", 0,
	  ADM_M_NODE, ADM_OP_UPDATE, NULL },
	{ "-m node -T iqn.x -o delete", 0, ADM_M_NODE, ADM_OP_DELETE, NULL },
	{ "-m node -T iqn.x -l", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -T iqn.x -p 10.0.0.1 --login", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -T iqn.x -u", 0, ADM_M_NODE, 0, NULL },
	{ "-m node --logout", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -L all", 0, ADM_M_NODE, 0, NULL },
	{ "-m node --loginall=automatic", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -U manual", 0, ADM_M_NODE, 0, NULL },
	{ "-m node --logoutall all", 0, ADM_M_NODE, 0, NULL },
	{ "-m node -L sometimes", 7, 0, 0, "Invalid loginall" },
	{ "-m node -L all -T iqn.x", 7, 0, 0, "drop -T" },
	{ "-m node -l -u", 7, 0, 0, "only one of" },
	{ "-m node -l -o show", 7, 0, 0, "cannot be combined" },
	{ "-m node -o show -o delete", 7, 0, 0, "one -o" },
	{ "-m node -o frobnicate", 7, 0, 0, "Invalid operation" },
	{ "-m node -o nonpersistent", 7, 0, 0, "operation not allowed" },
	{ "-m node -t st", 7, 0, 0, "option '-t' is not allowed" },
	{ "-m node -r 1", 7, 0, 0, "option '-r'" },
	{ "-m node -p 10.0.0.1:99999", 7, 0, 0, "Invalid portal" },
	{ "-m node -p [::1", 7, 0, 0, "Invalid portal" },
	{ "-m node -n a -v b", 7, 0, 0, "only used with" },
	/* session */
	{ "-m session", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session -P 3", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session --print=2 --sid=4", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session -r 1 -R", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session --rescan", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session -r 2 -u", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session -r 2 -s", 0, ADM_M_SESSION, 0, NULL },
	{ "-m session -s", 7, 0, 0, "require -r" },
	{ "-m session -R -u", 7, 0, 0, "cannot be combined" },
	{ "-m session -r 0", 7, 0, 0, "invalid sid" },
	{ "-m session -r x", 7, 0, 0, "invalid sid" },
	{ "-m session -o show", 7, 0, 0, "option '-o'" },
	{ "-m session -T iqn.x", 7, 0, 0, "option '-T'" },
	/* iface */
	{ "-m iface", 0, ADM_M_IFACE, 0, NULL },
	{ "-m iface -I eth0 -o new", 0, ADM_M_IFACE, ADM_OP_NEW, NULL },
	{ "-m iface --interface eth0 -o update -n iface.ipaddress -v 10.0.0.9", 0, ADM_M_IFACE,
	  ADM_OP_UPDATE, NULL },
	{ "-m iface -I eth0 -o delete", 0, ADM_M_IFACE, ADM_OP_DELETE, NULL },
	{ "-m iface -I eth0 -o show", 0, ADM_M_IFACE, ADM_OP_SHOW, NULL },
	{ "-m iface -I eth0", 0, ADM_M_IFACE, 0, NULL },
	{ "-m iface -o new", 7, 0, 0, "requires -I" },
	{ "-m iface -p 10.0.0.1", 7, 0, 0, "option '-p'" },
	/* global */
	{ "-m node --root /tmp/x --ctl /tmp/s -d 8", 0, ADM_M_NODE, 0, NULL },
	{ "-h", 0, ADM_M_NONE, 0, NULL },
	{ "--version", 0, ADM_M_NONE, 0, NULL },
	{ "", 7, 0, 0, "no mode" },
	{ "-m", 7, 0, 0, "invalid option" },
	{ "-m bogus", 7, 0, 0, "Invalid mode" },
	{ "-m flashnode", 7, 0, 0, "not supported" },
	{ "-m node --frob", 7, 0, 0, "invalid option" },
	{ "-m node extra", 7, 0, 0, "unexpected argument" },
};

static int split(const char *s, char *buf, size_t len, char **argv, int max)
{
	int n = 0;
	size_t sl = strlen(s);
	assert_true(sl < len);
	memcpy(buf, s, sl + 1);
	argv[n++] = (char *)"iscsiadm";
	for (char *t = strtok(buf, " "); t && n < max - 1; t = strtok(NULL, " "))
		argv[n++] = t;
	argv[n] = NULL;
	return n;
}

static void test_arg_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(arg_cases) / sizeof(arg_cases[0]); i++) {
		const struct arg_case *c = &arg_cases[i];
		char buf[512], msg[256], *argv[40];
		struct adm_opts o;
		int argc = split(c->args, buf, sizeof(buf), argv, 40);
		int rc = adm_parse(argc, argv, &o, msg, sizeof(msg));
		if (rc != c->rc)
			fail_msg("'%s': rc %d, wanted %d (%s)", c->args, rc, c->rc, msg);
		if (rc == 0 && (o.mode != c->mode || o.ops != c->ops))
			fail_msg("'%s': mode %d ops %u", c->args, o.mode, o.ops);
		if (rc && (!msg[0] || (c->msg_has && !strstr(msg, c->msg_has))))
			fail_msg("'%s': message '%s' lacks '%s'", c->args, msg, c->msg_has);
	}
}

static void test_arg_values(void **state)
{
	(void)state;
	char buf[512], msg[256], *argv[40];
	struct adm_opts o;
	int argc = split(
		"-m node -T iqn.x -p [fe80::1]:3261,7 -I eth1 -o update -n a.b -v 1 -n c -v 2 -S -P 1",
		buf, sizeof(buf), argv, 40);
	assert_int_equal(adm_parse(argc, argv, &o, msg, sizeof(msg)), 0);
	assert_string_equal(o.target, "iqn.x");
	assert_string_equal(o.address, "fe80::1");
	assert_int_equal(o.port, 3261);
	assert_int_equal(o.tpgt, 7);
	assert_string_equal(o.iface, "eth1");
	assert_int_equal(o.nnames, 2);
	assert_string_equal(o.names[1], "c");
	assert_string_equal(o.values[1], "2");
	assert_true(o.show_secrets);
	assert_int_equal(o.print, 1);
	argc = split("-m session -r 12", buf, sizeof(buf), argv, 40);
	assert_int_equal(adm_parse(argc, argv, &o, msg, sizeof(msg)), 0);
	assert_int_equal(o.sid, 12);
	assert_int_equal(o.print, -1);
	assert_int_equal(o.tpgt, -1);
}

/* ---- pure helpers ---- */

static void test_portal_strings(void **state)
{
	(void)state;
	char a[64];
	uint16_t port;
	int tpgt;
	assert_int_equal(disc_parse_portal("10.0.0.1", a, sizeof(a), &port, &tpgt), 0);
	assert_string_equal(a, "10.0.0.1");
	assert_int_equal(port, 3260);
	assert_int_equal(tpgt, -1);
	assert_int_equal(disc_parse_portal("10.0.0.1:3261,2", a, sizeof(a), &port, &tpgt), 0);
	assert_int_equal(port, 3261);
	assert_int_equal(tpgt, 2);
	assert_int_equal(disc_parse_portal("[::1]:3262,1", a, sizeof(a), &port, &tpgt), 0);
	assert_string_equal(a, "::1");
	assert_int_equal(disc_parse_portal("[fe80::2]", a, sizeof(a), &port, &tpgt), 0);
	assert_int_equal(port, 3260);
	assert_int_equal(disc_parse_portal("host.example,5", a, sizeof(a), &port, &tpgt), 0);
	assert_string_equal(a, "host.example");
	assert_int_equal(tpgt, 5);
	static const char *const bad[] = {
		"",
		":3260",
		"10.0.0.1:",
		"10.0.0.1:0",
		"10.0.0.1:65536",
		"10.0.0.1:3x",
		"10.0.0.1,",
		"10.0.0.1,x",
		"10.0.0.1:3260,1,2",
		"[::1",
		"::1",
		"a b",
		"a/b",
		"[::1]x",
		"10.0.0.1:3260,70000",
		"10.0.0.1:3260 ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (disc_parse_portal(bad[i], a, sizeof(a), &port, &tpgt) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(disc_parse_portal(NULL, a, sizeof(a), &port, &tpgt), -EINVAL);
	char tiny[4];
	assert_int_equal(disc_parse_portal("10.0.0.1", tiny, sizeof(tiny), &port, &tpgt), -EINVAL);
}

static void test_login_error_map(void **state)
{
	(void)state;
	assert_int_equal(disc_login_error_code(
				 "Failed to log in to target. Status: Authentication failure(513)"),
			 24);
	assert_int_equal(disc_login_error_code(
				 "Failed to log in to target. Status: Authorization failure(514)"),
			 24);
	assert_int_equal(disc_login_error_code(
				 "Failed to log in to target. Status: Target not found(515)"),
			 19);
	assert_int_equal(disc_login_error_code("read from socket timed out"), 8);
	assert_int_equal(disc_login_error_code("Connection refused"), 4);
	assert_int_equal(disc_login_error_code("something else"), 5);
	assert_int_equal(disc_login_error_code(NULL), 5);
	assert_string_equal(adm_err_str(24), "iSCSI login failed due to authorization failure");
	assert_string_equal(adm_err_str(21), "no objects found");
	assert_string_equal(adm_err_str(999), "unknown error");
	assert_string_equal(adm_err_str(-1), "unknown error");
}

static void test_pct(void **state)
{
	(void)state;
	char out[128], back[128];
	assert_int_equal(ctlc_pct_encode("iqn.2026-11.org.kura:a b%", out, sizeof(out)), 31);
	assert_string_equal(out, "iqn.2026-11.org.kura%3Aa%20b%25");
	assert_int_equal(ctlc_pct_decode(out, back, sizeof(back)), 0);
	assert_string_equal(back, "iqn.2026-11.org.kura:a b%");
	assert_int_equal(ctlc_pct_encode("abc", NULL, 0), 3);
	assert_int_equal(ctlc_pct_encode("a:b", out, 3), 5); /* truncated, NUL-terminated */
	assert_string_equal(out, "a%");
	assert_int_equal(ctlc_pct_decode("%zz", back, sizeof(back)), -EINVAL);
	assert_int_equal(ctlc_pct_decode("%4", back, sizeof(back)), -EINVAL);
	assert_int_equal(ctlc_pct_decode("%00", back, sizeof(back)), -EINVAL);
	assert_int_equal(ctlc_pct_decode("abcdef", back, 3), -ENOSPC);
	assert_int_equal(ctlc_kv_get("sid=1 target=iqn.x state=up", "target", out, sizeof(out)), 0);
	assert_string_equal(out, "iqn.x");
	assert_int_equal(ctlc_kv_get("sid=1 xsid=2", "sid", out, sizeof(out)), 0);
	assert_string_equal(out, "1");
	assert_int_equal(ctlc_kv_get("xsid=2", "sid", out, sizeof(out)), -ENOENT);
	assert_int_equal(ctlc_kv_get("sid=12345", "sid", out, 3), -ENOSPC);
}

static void test_reply_lines(void **state)
{
	(void)state;
	struct ctlc_reply r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(ctlc_parse_line("D sid%3D1%20target%3Diqn.x", &r), 0);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "sid=1 target=iqn.x");
	assert_int_equal(ctlc_parse_line("D %G1", &r), -EPROTO);
	assert_int_equal(ctlc_parse_line("OK", &r), 1);
	assert_int_equal(r.code, 0);
	assert_int_equal(ctlc_parse_line("ERR 24 authorization failure", &r), 1);
	assert_int_equal(r.code, 24);
	assert_string_equal(r.msg, "authorization failure");
	assert_int_equal(ctlc_parse_line("ERR 15", &r), 1);
	assert_string_equal(r.msg, "");
	static const char *const bad[] = { "",        "OKAY",      "ERR",    "ERR x y",
					   "ERR 0 z", "ERR 300 z", "ERR 5x", "hello" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ctlc_parse_line(bad[i], &r), -EPROTO);
	ctlc_reply_free(&r);
	assert_int_equal(r.nlines, 0);
}

/* ---- whole commands ---- */

static char g_root[64], g_sock[100];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_root, sizeof(g_root), "/tmp/kura-adm-XXXXXX");
	if (!mkdtemp(g_root))
		return -1;
	snprintf(g_sock, sizeof(g_sock), "%s/ctl.sock", g_root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

struct run {
	int rc;
	char *out, *err;
	size_t outlen, errlen;
};

/* Run kura-iscsiadm with "--root g_root --ctl g_sock ARGS". */
static struct run adm(const char *args)
{
	char buf[1024], line[1200], *argv[48];
	struct run r;
	snprintf(line, sizeof(line), "--root %s --ctl %s %s", g_root, g_sock, args);
	int argc = split(line, buf, sizeof(buf), argv, 48);
	FILE *out = open_memstream(&r.out, &r.outlen), *err = open_memstream(&r.err, &r.errlen);
	r.rc = adm_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void expect(const char *args, int rc, const char *out_has, const char *err_has)
{
	struct run r = adm(args);
	if (r.rc != rc || (out_has && !strstr(r.out, out_has)) ||
	    (err_has && !strstr(r.err, err_has)))
		fail_msg("'%s': rc %d (want %d)\nstdout:\n%s\nstderr:\n%s", args, r.rc, rc, r.out,
			 r.err);
	run_free(&r);
}

static void test_cmd_node(void **state)
{
	(void)state;
	expect("-m node", 21, NULL, "iscsiadm: No records found\n");
	expect("-m node -o new -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261,3", 0,
	       "New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 10.9.9.9,3261,3 iqn.2026-11.org.kura:t] added\n",
	       NULL);
	/* open-iscsi: -o new of an existing record replaces it, exit 0 */
	expect("-m node -o new -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261,3", 0, "added", NULL);
	expect("-m node -o new -T iqn.2026-11.org.kura:t -p [fd00::1]:3260", 0, NULL, NULL);
	expect("-m node", 0,
	       "10.9.9.9:3261,3 iqn.2026-11.org.kura:t\n[fd00::1]:3260,4294967295 iqn.2026-11.org.kura:t\n",
	       NULL);
	expect("-m node -P 1", 0,
	       "Target: iqn.2026-11.org.kura:t\n\tPortal: 10.9.9.9:3261,3\n\t\tIface Name: default\n",
	       NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o update -n node.session.auth.password -v pw123456789012",
	       0, NULL, NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o show", 0,
	       "node.session.auth.password = ********\n", NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o show -S", 0,
	       "node.session.auth.password = pw123456789012\n", NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261", 0,
	       "# BEGIN RECORD 2.1.8\nnode.name = iqn.2026-11.org.kura:t\nnode.tpgt = 3\n", NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o update -n node.name -v x", 7,
	       NULL, "Cannot modify node.name");
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o update -n node.session.auth.password_in -v \x01",
	       7, NULL, NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o update -n node.conn[0].iscsi.HeaderDigest -v CRC32C",
	       0, NULL, NULL);
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261 -o update -n node.conn[0].iscsi.HeaderDigest -v MD5",
	       7, NULL, "Invalid param value");
	expect("-m node -T iqn.2026-11.org.kura:t -p 10.9.9.9:3261,4 -o show", 21, NULL,
	       "No records found");
	expect("-m node -T iqn.2026-11.org.kura:t -I eth7 -o show", 21, NULL, NULL);
	expect("-m node -o new -T iqn.x -p 10.0.0.1 -I eth7", 3, NULL, "iface info for eth7");
	expect("-m node -T iqn.2026-11.org.kura:t -o delete", 0, NULL, NULL);
	expect("-m node", 21, NULL, NULL);
}

static void test_cmd_iface(void **state)
{
	(void)state;
	expect("-m iface", 0, "default tcp,<empty>,<empty>,<empty>,<empty>\n", NULL);
	expect("-m iface -I e1 -o new", 0, "New interface e1 added\n", NULL);
	expect("-m iface -I e1 -o new", 15, NULL, "already exists");
	expect("-m iface -I e1 -o update -n iface.net_ifacename -v eth0", 0, "e1 updated.\n", NULL);
	expect("-m iface -I e1 -o update -n iface.bogus -v 1", 7, NULL, "Invalid param name");
	expect("-m iface", 0, "e1 tcp,<empty>,<empty>,eth0,<empty>\n", NULL);
	expect("-m iface -I default", 0, "iface.iscsi_ifacename = default\n", NULL);
	expect("-m iface -I e1 -o delete", 0, "e1 unbound and deleted.\n", NULL);
	expect("-m iface -I e1 -o delete", 21, NULL, NULL);
	expect("-m iface -I ../x -o new", 7, NULL, NULL);
	expect("-m iface -I default -o update -n iface.mtu -v 9000", 7, NULL, "built in");
}

static void test_cmd_no_daemon(void **state)
{
	(void)state;
	expect("-m session", 21, NULL, "iscsiadm: No active sessions.\n");
	expect("-m session -P 3", 21, NULL, "No active sessions.");
	expect("-m session -u", 21, NULL, "No matching sessions found");
	expect("-m node -o new -T iqn.2026-11.org.kura:n -p 127.0.0.1:3260,1", 0, NULL, NULL);
	expect("-m node -T iqn.2026-11.org.kura:n -l", 20,
	       "Logging in to [iface: default, target: iqn.2026-11.org.kura:n, portal: 127.0.0.1,3260]\n",
	       "kura-initiatord is not running");
	expect("-m node -L all", 20, NULL, "Could not log into all portals");
	expect("-m node -L automatic", 21, NULL, "No records found");
	expect("-m node -T iqn.2026-11.org.kura:n -o delete", 0, NULL, NULL);
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o show", 6, NULL, "not found");
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o update -n discovery.sendtargets.auth.authmethod -v CHAP",
	       6, NULL, NULL);
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o new -n discovery.sendtargets.auth.authmethod -v CHAP",
	       0, "New discovery record for [127.0.0.1,3260] added.\n", NULL);
	/* open-iscsi: -o new writes the defaults and ignores -n/-v */
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o show", 0,
	       "discovery.sendtargets.auth.authmethod = None\n", NULL);
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o update -n discovery.sendtargets.auth.authmethod -v MD5",
	       7, NULL, NULL);
	expect("-m discovery", 0, "127.0.0.1:3260 via sendtargets\n", NULL);
	expect("-m discoverydb -t st -p 127.0.0.1:3260 -o delete", 0, NULL, NULL);
	expect("-m discovery", 21, NULL, NULL);
}

/* A scripted kura-initiatord: answers each connection's verb from a table. */
struct fake {
	int lfd, calls;
	char last[16][512];
};

static const struct {
	const char *verb, *reply;
} script[] = {
	{ "SESSIONS",
	  "D sid%3D3%20target%3Diqn.t%20address%3D10.0.0.1%20port%3D3260%20tpgt%3D1%20iface%3Ddefault%20state%3Dup%20active%3Dyes\n"
	  "D sid%3D4%20target%3Diqn.t%20address%3Dfd00%3A%3A1%20port%3D3261%20tpgt%3D2%20iface%3Ddefault%20state%3Dfailed\n"
	  "OK\n" },
	{ "SESSION",
	  "D sid%3D3%20target%3Diqn.t%20lun%3D0%20state%3Dup\nD auth%3DNone\n"
	  "D lun%3D0%20lu%3Dnaa.1%20device%3D%2Frun%2Fkura%2Flu%2Fa%20paths%3D2\nOK\n" },
	{ "LOGIN", "ERR 24 authorization failure\n" },
	{ "LOGOUT", "OK\n" },
	{ "RESCAN", "OK\n" },
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd;
	while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
		char buf[512];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		snprintf(f->last[f->calls % 16], sizeof(f->last[0]), "%s", buf);
		f->calls++;
		const char *reply = "ERR 16 unknown verb\n";
		for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++)
			if (!strncmp(buf, script[i].verb, strlen(script[i].verb)) &&
			    buf[strlen(script[i].verb)] ==
				    (strcmp(script[i].verb, "SESSIONS") ? ' ' : '\n'))
				reply = script[i].reply;
		if (write(fd, reply, strlen(reply)) < 0)
			break;
		close(fd);
	}
	return NULL;
}

static void test_cmd_fake_daemon(void **state)
{
	(void)state;
	struct fake f = { .calls = 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t th;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_sock);
	f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 8), 0);
	assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);

	expect("-m session", 0,
	       "tcp: [3] 10.0.0.1:3260,1 iqn.t (non-flash)\ntcp: [4] [fd00::1]:3261,2 iqn.t (non-flash)\n",
	       NULL);
	expect("-m session -r 4", 0, "tcp: [4] [fd00::1]:3261,2 iqn.t (non-flash)\n", NULL);
	expect("-m session -r 5", 22, NULL, "Could not get session info for sid 5");
	expect("-m session -P 1 -r 3", 0,
	       "Target: iqn.t (non-flash)\n\tCurrent Portal: 10.0.0.1:3260,1\n", "");
	expect("-m session -P 1 -r 4", 0,
	       "\t\tiSCSI Connection State: TRANSPORT WAIT\n\t\tiSCSI Session State: FAILED\n",
	       NULL);
	expect("-m session -P 3 -r 3", 0,
	       "\t\tHost Number: 3\tState: running\n\t\tscsi3 Channel 00 Id 0 Lun: 0\n"
	       "\t\t\tAttached scsi disk /run/kura/lu/a\t\tState: running (active: carries I/O)\n",
	       NULL);
	expect("-m session -P 2 -r 3", 0, "\t\tRecovery Timeout: 120\n", NULL);
	expect("-m session -R -r 3", 0,
	       "Rescanning session [sid: 3, target: iqn.t, portal: 10.0.0.1,3260]\n", NULL);
	expect("-m session -u -r 3", 0,
	       "Logging out of session [sid: 3, target: iqn.t, portal: 10.0.0.1,3260]\n"
	       "Logout of [sid: 3, target: iqn.t, portal: 10.0.0.1,3260] successful.\n",
	       NULL);
	assert_string_equal(f.last[(f.calls - 1) % 16], "LOGOUT iqn.t 10.0.0.1 3260\n");
	expect("-m node -T iqn.t -p [fd00::1]:3261 -u", 0,
	       "Logout of [sid: 4, target: iqn.t, portal: fd00::1,3261] successful.\n", NULL);
	expect("-m node -T iqn.other -u", 21, NULL, "No matching sessions found");
	expect("-m node -o new -T iqn.t -p 10.0.0.1:3260,1", 0, NULL, NULL);
	expect("-m node -T iqn.t -p 10.0.0.1 -l", 24,
	       "Logging in to [iface: default, target: iqn.t, portal: 10.0.0.1,3260]\n",
	       "iscsiadm: Could not login to [iface: default, target: iqn.t, portal: 10.0.0.1,3260].\n"
	       "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n");
	if (strncmp(f.last[(f.calls - 1) % 16], "LOGIN %2Ftmp%2Fkura-adm-", 24))
		fail_msg("last request: %s", f.last[(f.calls - 1) % 16]);
	assert_non_null(strstr(f.last[(f.calls - 1) % 16], " iqn.t 10.0.0.1 3260 1 default\n"));

	shutdown(f.lfd, SHUT_RDWR);
	close(f.lfd);
	pthread_join(th, NULL);
	unlink(g_sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arg_table),
		cmocka_unit_test(test_arg_values),
		cmocka_unit_test(test_portal_strings),
		cmocka_unit_test(test_login_error_map),
		cmocka_unit_test(test_pct),
		cmocka_unit_test(test_reply_lines),
		cmocka_unit_test(test_cmd_node),
		cmocka_unit_test(test_cmd_iface),
		cmocka_unit_test(test_cmd_no_daemon),
		cmocka_unit_test(test_cmd_fake_daemon),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
