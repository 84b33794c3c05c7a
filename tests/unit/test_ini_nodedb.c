/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of initiator/nodedb.c: record parse / format round trip,
 * open-iscsi sample records (comments, odd spacing, CRLF), hostile records
 * (missing END, huge lines, duplicate keys, binary junk, bad keys), the
 * directory layout with atomic replace, foreach filters and sort order,
 * defaults, iscsid.conf overlay, and the initiator name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "initiator/nodedb.c"

#include <ftw.h>

static char g_root[64];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup_root(void **state)
{
	(void)state;
	snprintf(g_root, sizeof(g_root), "/tmp/kura-nodedb-XXXXXX");
	return mkdtemp(g_root) ? 0 : -1;
}

static int teardown_root(void **state)
{
	(void)state;
	return nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct nodedb_rec *parse_ok(const char *text)
{
	struct nodedb_rec *r = NULL;
	int line = -1;
	assert_int_equal(nodedb_parse(text, strlen(text), &r, &line), 0);
	assert_int_equal(line, 0);
	assert_non_null(r);
	return r;
}

static int parse_bad(const char *text, size_t len)
{
	struct nodedb_rec *r = (struct nodedb_rec *)1;
	int line = 0;
	assert_int_equal(nodedb_parse(text, len, &r, &line), -EINVAL);
	assert_null(r);
	return line;
}

/* ---- parse / format ---- */

static void test_round_trip(void **state)
{
	(void)state;
	struct nodedb_rec *r = nodedb_rec_new(), *back;
	assert_int_equal(nodedb_set(r, "node.name", "iqn.2026-11.org.kura:a"), 0);
	assert_int_equal(nodedb_set(r, "node.tpgt", "2"), 0);
	assert_int_equal(nodedb_set(r, "node.session.auth.username", ""), 0);
	assert_int_equal(nodedb_set(r, "iface.initiatorname", "with spaces = and equals"), 0);
	char *text = nodedb_format(r);
	assert_non_null(text);
	assert_string_equal(text,
			    "# BEGIN RECORD 2.1.8\n"
			    "node.name = iqn.2026-11.org.kura:a\n"
			    "node.tpgt = 2\n"
			    "iface.initiatorname = with spaces = and equals\n"
			    "# END RECORD\n");
	back = parse_ok(text);
	assert_int_equal(nodedb_count(back), 3); /* the empty value is not written */
	assert_string_equal(nodedb_get(back, "iface.initiatorname"), "with spaces = and equals");
	assert_string_equal(nodedb_key_at(back, 0), "node.name");
	assert_null(nodedb_get(back, "node.session.auth.username"));
	free(text);
	nodedb_rec_free(r);
	nodedb_rec_free(back);
}

static void test_set_replace_unset(void **state)
{
	(void)state;
	struct nodedb_rec *r = nodedb_rec_new();
	assert_int_equal(nodedb_set(r, "a.b", "1"), 0);
	assert_int_equal(nodedb_set(r, "c", "2"), 0);
	assert_int_equal(nodedb_set(r, "a.b", "3"), 0);
	assert_int_equal(nodedb_count(r), 2);
	assert_string_equal(nodedb_get(r, "a.b"), "3");
	assert_int_equal(nodedb_unset(r, "a.b"), 0);
	assert_int_equal(nodedb_unset(r, "a.b"), -ENOENT);
	assert_string_equal(nodedb_key_at(r, 0), "c");
	assert_null(nodedb_key_at(r, 5));
	assert_int_equal(nodedb_set(r, "bad key", "x"), -EINVAL);
	assert_int_equal(nodedb_set(r, "", "x"), -EINVAL);
	assert_int_equal(nodedb_set(r, "k", "line\nbreak"), -EINVAL);
	assert_int_equal(nodedb_set(r, "k", "del\x7f"), -EINVAL);
	assert_int_equal(nodedb_set(r, "k", "tab\tok"), 0);
	nodedb_rec_free(r);
}

/* The shape open-iscsi writes, plus hand edits an administrator might make. */
static void test_open_iscsi_sample(void **state)
{
	(void)state;
	const char *text =
		"# BEGIN RECORD 2.0-873\r\n"
		"node.name = iqn.2001-05.com.equallogic:0-8a0906-83bcb3401-16e0002fd0a46f3d-rhel5-test\r\n"
		"node.tpgt = 1\n"
		"   node.startup=automatic\n"
		"iface.iscsi_ifacename\t=\tdefault\n"
		"# a comment someone added\n"
		"\n"
		"node.session.auth.password = s3cr=t with spaces   \n"
		"node.conn[0].address = 192.168.0.19\n"
		"node.conn[0].port = 3260\n"
		"#END RECORD\n";
	struct nodedb_rec *r = parse_ok(text);
	assert_string_equal(nodedb_get(r, "node.startup"), "automatic");
	assert_string_equal(nodedb_get(r, "iface.iscsi_ifacename"), "default");
	assert_string_equal(nodedb_get(r, "node.session.auth.password"), "s3cr=t with spaces");
	assert_string_equal(nodedb_get(r, "node.conn[0].address"), "192.168.0.19");
	assert_int_equal(nodedb_count(r), 7);
	nodedb_rec_free(r);
}

static void test_plain_conf(void **state)
{
	(void)state;
	struct nodedb_rec *r = parse_ok(
		"# iscsid.conf\nnode.startup = automatic\n"
		"iscsid.startup = /bin/systemctl start iscsid.socket\n");
	assert_string_equal(nodedb_get(r, "iscsid.startup"), "/bin/systemctl start iscsid.socket");
	nodedb_rec_free(r);
	r = parse_ok("");
	assert_int_equal(nodedb_count(r), 0);
	nodedb_rec_free(r);
}

static void test_duplicate_keys_last_wins(void **state)
{
	(void)state;
	struct nodedb_rec *r =
		parse_ok("# BEGIN RECORD 2.1.8\nnode.tpgt = 1\nnode.tpgt = 7\n# END RECORD\n");
	assert_int_equal(nodedb_count(r), 1);
	assert_string_equal(nodedb_get(r, "node.tpgt"), "7");
	nodedb_rec_free(r);
}

static void test_hostile(void **state)
{
	(void)state;
	static const char missing_end[] = "# BEGIN RECORD 2.1.8\nnode.name = x\n";
	assert_int_equal(parse_bad(missing_end, strlen(missing_end)), 3);
	static const char no_eq[] = "node.name = x\njunk line\n";
	assert_int_equal(parse_bad(no_eq, strlen(no_eq)), 2);
	static const char after_end[] = "# BEGIN RECORD 1\n# END RECORD\nnode.name = x\n";
	assert_int_equal(parse_bad(after_end, strlen(after_end)), 3);
	static const char two_begin[] = "# BEGIN RECORD 1\n# BEGIN RECORD 1\n# END RECORD\n";
	assert_int_equal(parse_bad(two_begin, strlen(two_begin)), 2);
	static const char end_first[] = "# END RECORD\n";
	assert_int_equal(parse_bad(end_first, strlen(end_first)), 1);
	static const char nul[] = "node.name = a\0b\n";
	assert_int_equal(parse_bad(nul, sizeof(nul) - 1), 1);
	static const char ctl[] =
		"node.name = a\x01"
		"b\n";
	assert_int_equal(parse_bad(ctl, strlen(ctl)), 1);
	static const char badkey[] = "node name = a\n";
	assert_int_equal(parse_bad(badkey, strlen(badkey)), 1);
	static const char nokey[] = " = a\n";
	assert_int_equal(parse_bad(nokey, strlen(nokey)), 1);
	static const char begin_late[] = "a = 1\n# BEGIN RECORD 1\n# END RECORD\n";
	assert_int_equal(parse_bad(begin_late, strlen(begin_late)), 2);

	size_t big = NODEDB_MAX_LINE + 10;
	char *huge = malloc(big + 16);
	memcpy(huge, "k = ", 4);
	memset(huge + 4, 'x', big - 4);
	huge[big] = '\n';
	assert_int_equal(parse_bad(huge, big + 1), 1);
	/* a line of exactly the limit is fine */
	huge[NODEDB_MAX_LINE] = '\n';
	struct nodedb_rec *r = NULL;
	assert_int_equal(nodedb_parse(huge, NODEDB_MAX_LINE + 1, &r, NULL), 0);
	nodedb_rec_free(r);
	free(huge);

	/* random binary junk never crashes and never half-succeeds */
	unsigned seed = 12345;
	char junk[512];
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(junk));
		for (size_t i = 0; i < n; i++)
			junk[i] = (char)(rand_r(&seed) & 0xff);
		r = NULL;
		int rc = nodedb_parse(junk, n, &r, NULL);
		assert_true(rc == 0 || rc == -EINVAL);
		assert_true((rc == 0) == (r != NULL));
		nodedb_rec_free(r);
	}
}

static void test_portal_dir_names(void **state)
{
	(void)state;
	struct nodedb_node_id id;
	assert_int_equal(nodedb_parse_portal_dir("10.0.0.1,3260,1", &id), 0);
	assert_string_equal(id.address, "10.0.0.1");
	assert_int_equal(id.port, 3260);
	assert_int_equal(id.tpgt, 1);
	assert_int_equal(nodedb_parse_portal_dir("fe80::1,3261,-1", &id), 0);
	assert_string_equal(id.address, "fe80::1");
	assert_int_equal(id.tpgt, -1);
	/* open-iscsi's record for an unknown tpgt: "addr,port", no tpgt level */
	assert_int_equal(nodedb_parse_portal_dir("10.0.0.2,3262", &id), 0);
	assert_string_equal(id.address, "10.0.0.2");
	assert_int_equal(id.port, 3262);
	assert_int_equal(id.tpgt, -1);
	static const char *const bad[] = {
		"",         "10.0.0.1", "10.0.0.1,", ",3260",
		",3260,1",  "a,,1",     "a,3260,",   "a,70000,1",
		"a,3260,x", "a,32x0,1", "a,3260,-2", "a,3260,99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(nodedb_parse_portal_dir(bad[i], &id), -EINVAL);
}

/* ---- files ---- */

static struct nodedb_node_id mkid(const char *t, const char *a, uint16_t port, int tpgt,
				  const char *iface)
{
	struct nodedb_node_id id;
	memset(&id, 0, sizeof(id));
	snprintf(id.target, sizeof(id.target), "%s", t);
	snprintf(id.address, sizeof(id.address), "%s", a);
	id.port = port;
	id.tpgt = tpgt;
	snprintf(id.iface, sizeof(id.iface), "%s", iface);
	return id;
}

static int first_id(const struct nodedb_node_id *id, void *arg)
{
	*(struct nodedb_node_id *)arg = *id;
	return 0;
}

static void test_store_load_delete(void **state)
{
	(void)state;
	struct nodedb_node_id id = mkid("iqn.2026-11.org.kura:x", "127.0.0.1", 3260, 1, "default");
	struct nodedb_rec *r = nodedb_node_defaults(&id), *back;
	char path[PATH_MAX];
	struct stat sb;
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0);
	snprintf(path, sizeof(path), "%s/nodes/iqn.2026-11.org.kura:x/127.0.0.1,3260,1/default",
		 g_root);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(nodedb_node_load(g_root, &id, &back), 0);
	assert_string_equal(nodedb_get(back, "node.name"), "iqn.2026-11.org.kura:x");
	assert_string_equal(nodedb_get(back, "node.conn[0].port"), "3260");
	assert_string_equal(nodedb_get(back, "node.startup"), "manual");
	nodedb_rec_free(back);

	/* atomic replace: new content, no temp files left behind */
	nodedb_set(r, "node.startup", "automatic");
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0);
	assert_int_equal(nodedb_node_load(g_root, &id, &back), 0);
	assert_string_equal(nodedb_get(back, "node.startup"), "automatic");
	nodedb_rec_free(back);
	snprintf(path, sizeof(path), "%s/nodes/iqn.2026-11.org.kura:x/127.0.0.1,3260,1", g_root);
	DIR *d = opendir(path);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			files++;
		else
			assert_true(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
	closedir(d);
	assert_int_equal(files, 1);

	assert_int_equal(nodedb_node_delete(g_root, &id), 0);
	assert_int_equal(nodedb_node_load(g_root, &id, &back), -ENOENT);
	assert_int_equal(nodedb_node_delete(g_root, &id), -ENOENT);
	snprintf(path, sizeof(path), "%s/nodes/iqn.2026-11.org.kura:x", g_root);
	assert_int_equal(stat(path, &sb), -1); /* empty dirs removed */
	nodedb_rec_free(r);
}

static void test_unknown_keys_preserved(void **state)
{
	(void)state;
	struct nodedb_node_id id = mkid("iqn.2026-11.org.kura:u", "10.1.1.1", 3260, 1, "default");
	char dir[1024], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/nodes/iqn.2026-11.org.kura:u/10.1.1.1,3260,1", g_root);
	assert_int_equal(kfile_mkdir_p(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/default", dir);
	FILE *f = fopen(path, "w");
	fputs("# BEGIN RECORD 2.1.9\nnode.name = iqn.2026-11.org.kura:u\nnode.future.thing = 42\n# END RECORD\n",
	      f);
	fclose(f);
	struct nodedb_rec *r;
	assert_int_equal(nodedb_node_load(g_root, &id, &r), 0);
	nodedb_set(r, "node.startup", "automatic");
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0);
	nodedb_rec_free(r);
	assert_int_equal(nodedb_node_load(g_root, &id, &r), 0);
	assert_string_equal(nodedb_get(r, "node.future.thing"), "42");
	assert_string_equal(nodedb_get(r, "node.startup"), "automatic");
	nodedb_rec_free(r);
	assert_int_equal(nodedb_node_delete(g_root, &id), 0);
}

static void test_old_layout(void **state)
{
	(void)state;
	struct nodedb_node_id id = mkid("iqn.2026-11.org.kura:old", "10.2.2.2", 3260, 1, "default");
	char dir[1024], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/nodes/iqn.2026-11.org.kura:old", g_root);
	assert_int_equal(kfile_mkdir_p(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/10.2.2.2,3260,1", dir);
	FILE *f = fopen(path, "w");
	fputs("node.name = iqn.2026-11.org.kura:old\nnode.tpgt = 1\n", f);
	fclose(f);
	struct nodedb_rec *r;
	assert_int_equal(nodedb_node_load(g_root, &id, &r), 0);
	assert_string_equal(nodedb_get(r, "node.tpgt"), "1");
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0); /* converted to a dir */
	nodedb_rec_free(r);
	snprintf(path, sizeof(path), "%s/10.2.2.2,3260,1/default", dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(nodedb_node_delete(g_root, &id), 0);
}

/* open-iscsi's layout for an unknown tpgt: nodes/<iqn>/<ip>,<port> is the
 * record itself; found by foreach (iface from inside), converted to the
 * tpgt layout when stored with a tpgt, and a discovered record gets its
 * send_targets link. */
static void test_flat_and_links(void **state)
{
	(void)state;
	struct nodedb_node_id id =
		mkid("iqn.2026-11.org.kura:flat", "10.3.3.3", 3260, -1, "default");
	char path[PATH_MAX], lnk[PATH_MAX];
	struct nodedb_rec *r = nodedb_node_defaults(&id), *out;
	struct stat sb;
	nodedb_set(r, "iface.iscsi_ifacename", "eth9");
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0);
	snprintf(path, sizeof(path), "%s/nodes/iqn.2026-11.org.kura:flat/10.3.3.3,3260", g_root);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	struct nodedb_node_id got;
	assert_int_equal(nodedb_node_foreach(g_root, "iqn.2026-11.org.kura:flat", NULL, 0, first_id,
					     &got),
			 0);
	assert_int_equal(got.tpgt, -1);
	assert_string_equal(got.iface, "eth9");
	assert_int_equal(nodedb_node_load(g_root, &id, &out), 0);
	nodedb_rec_free(out);
	/* with a tpgt and a discovery source: dir layout + link, flat file gone */
	id.tpgt = 4;
	snprintf(lnk, sizeof(lnk), "%s/send_targets/10.3.3.1,3260", g_root);
	assert_int_equal(kfile_mkdir_p(lnk, 0755), 0);
	nodedb_set(r, "node.discovery_type", "send_targets");
	nodedb_set(r, "node.discovery_address", "10.3.3.1");
	nodedb_set(r, "node.discovery_port", "3260");
	assert_int_equal(nodedb_node_store(g_root, &id, r), 0);
	assert_int_not_equal(lstat(path, &sb), 0);
	snprintf(lnk, sizeof(lnk),
		 "%s/send_targets/10.3.3.1,3260/iqn.2026-11.org.kura:flat,10.3.3.3,3260,4,default",
		 g_root);
	assert_int_equal(lstat(lnk, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_int_equal(nodedb_node_delete(g_root, &id), 0);
	assert_int_not_equal(lstat(lnk, &sb), 0);
	nodedb_rec_free(r);
}

static void test_bad_names(void **state)
{
	(void)state;
	struct nodedb_rec *r = nodedb_rec_new(), *out;
	struct nodedb_node_id id = mkid("../../etc", "127.0.0.1", 3260, 1, "default");
	assert_int_equal(nodedb_node_store(g_root, &id, r), -EINVAL);
	id = mkid("iqn.x/y", "127.0.0.1", 3260, 1, "default");
	assert_int_equal(nodedb_node_store(g_root, &id, r), -EINVAL);
	id = mkid("iqn.x", "127.0.0.1", 3260, 1, "..");
	assert_int_equal(nodedb_node_store(g_root, &id, r), -EINVAL);
	id = mkid("iqn.x", "1,2", 3260, 1, "default");
	assert_int_equal(nodedb_node_load(g_root, &id, &out), -EINVAL);
	assert_int_equal(nodedb_iface_store(g_root, "a/b", r), -EINVAL);
	assert_int_equal(nodedb_st_store(g_root, "..", 3260, r), -EINVAL);
	nodedb_rec_free(r);
}

struct seen {
	char names[16][400];
	int n;
};

static int seen_cb(const struct nodedb_node_id *id, void *arg)
{
	struct seen *s = arg;
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s %s,%u,%d %s", id->target, id->address,
		 (unsigned)id->port, id->tpgt, id->iface);
	return 0;
}

static int stop_cb(const struct nodedb_node_id *id, void *arg)
{
	(void)id;
	++*(int *)arg;
	return 42;
}

static void test_foreach_filters(void **state)
{
	(void)state;
	struct nodedb_node_id ids[] = {
		mkid("iqn.b", "10.0.0.2", 3260, 2, "default"),
		mkid("iqn.a", "10.0.0.1", 3261, 1, "default"),
		mkid("iqn.a", "10.0.0.1", 3260, 1, "eth1"),
		mkid("iqn.a", "10.0.0.1", 3260, 1, "default"),
	};
	struct nodedb_rec *r = nodedb_rec_new();
	struct seen s;
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(nodedb_node_store(g_root, &ids[i], r), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nodedb_node_foreach(g_root, NULL, NULL, 0, seen_cb, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[0], "iqn.a 10.0.0.1,3260,1 default");
	assert_string_equal(s.names[1], "iqn.a 10.0.0.1,3260,1 eth1");
	assert_string_equal(s.names[2], "iqn.a 10.0.0.1,3261,1 default");
	assert_string_equal(s.names[3], "iqn.b 10.0.0.2,3260,2 default");
	memset(&s, 0, sizeof(s));
	assert_int_equal(nodedb_node_foreach(g_root, "iqn.a", NULL, 0, seen_cb, &s), 0);
	assert_int_equal(s.n, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nodedb_node_foreach(g_root, "", "10.0.0.1", 3261, seen_cb, &s), 0);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nodedb_node_foreach(g_root, "iqn.none", NULL, 0, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);
	int calls = 0;
	assert_int_equal(nodedb_node_foreach(g_root, NULL, NULL, 0, stop_cb, &calls), 42);
	assert_int_equal(calls, 1);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(nodedb_node_delete(g_root, &ids[i]), 0);
	nodedb_rec_free(r);
}

static void test_foreach_missing_root(void **state)
{
	(void)state;
	int calls = 0;
	assert_int_equal(nodedb_node_foreach("/nonexistent/kura", NULL, NULL, 0, stop_cb, &calls),
			 0);
	assert_int_equal(calls, 0);
}

static void test_defaults_and_conf(void **state)
{
	(void)state;
	struct nodedb_node_id id = mkid("iqn.d", "::1", 3260, -1, "default");
	struct nodedb_rec *r = nodedb_node_defaults(&id);
	assert_string_equal(nodedb_get(r, "node.name"), "iqn.d");
	assert_string_equal(nodedb_get(r, "node.tpgt"), "-1");
	assert_string_equal(nodedb_get(r, "node.startup"), "manual");
	assert_string_equal(nodedb_get(r, "node.conn[0].address"), "::1");
	assert_string_equal(nodedb_get(r, "node.session.timeo.replacement_timeout"), "120");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/iscsid.conf", g_root);
	FILE *f = fopen(path, "w");
	fputs("# iscsid.conf\nnode.startup = automatic\nnode.name = evil\n"
	      "node.session.auth.authmethod = CHAP\ndiscovery.sendtargets.auth.username = du\n",
	      f);
	fclose(f);
	assert_int_equal(nodedb_apply_conf(g_root, r, "node."), 0);
	assert_string_equal(nodedb_get(r, "node.startup"), "automatic");
	assert_string_equal(nodedb_get(r, "node.session.auth.authmethod"), "CHAP");
	assert_string_equal(nodedb_get(r, "node.name"), "iqn.d"); /* identity kept */
	assert_null(nodedb_get(r, "discovery.sendtargets.auth.username"));
	unlink(path);
	assert_int_equal(nodedb_apply_conf(g_root, r, "node."), 0); /* no file: fine */
	nodedb_rec_free(r);

	r = nodedb_st_defaults("10.0.0.1", 3261);
	assert_string_equal(nodedb_get(r, "discovery.sendtargets.port"), "3261");
	assert_string_equal(nodedb_get(r, "discovery.sendtargets.auth.authmethod"), "None");
	nodedb_rec_free(r);
	const struct nodedb_field *fld = nodedb_field_find(NODEDB_NODE, "node.startup");
	assert_non_null(fld);
	assert_int_equal(nodedb_field_check(fld, "onboot"), 0);
	assert_int_equal(nodedb_field_check(fld, "sometimes"), -EINVAL);
	fld = nodedb_field_find(NODEDB_NODE, "node.session.queue_depth");
	assert_int_equal(nodedb_field_check(fld, "64"), 0);
	assert_int_equal(nodedb_field_check(fld, "6x"), -EINVAL);
	assert_int_equal(nodedb_field_check(fld, ""), -EINVAL);
	assert_null(nodedb_field_find(NODEDB_NODE, "node.bogus"));
}

static void test_st_and_iface(void **state)
{
	(void)state;
	struct nodedb_rec *r = nodedb_st_defaults("10.0.0.1", 3260), *back;
	assert_int_equal(nodedb_st_store(g_root, "10.0.0.1", 3260, r), 0);
	assert_int_equal(nodedb_st_load(g_root, "10.0.0.1", 3260, &back), 0);
	assert_string_equal(nodedb_get(back, "discovery.sendtargets.address"), "10.0.0.1");
	nodedb_rec_free(back);
	assert_int_equal(nodedb_st_delete(g_root, "10.0.0.1", 3260), 0);
	assert_int_equal(nodedb_st_load(g_root, "10.0.0.1", 3260, &back), -ENOENT);
	nodedb_rec_free(r);
	r = nodedb_iface_defaults("eth9");
	assert_int_equal(nodedb_iface_store(g_root, "eth9", r), 0);
	assert_int_equal(nodedb_iface_load(g_root, "eth9", &back), 0);
	assert_string_equal(nodedb_get(back, "iface.iscsi_ifacename"), "eth9");
	nodedb_rec_free(back);
	assert_int_equal(nodedb_iface_delete(g_root, "eth9"), 0);
	assert_int_equal(nodedb_iface_delete(g_root, "eth9"), -ENOENT);
	nodedb_rec_free(r);
}

static void test_initiator_name(void **state)
{
	(void)state;
	char a[256], b[256];
	assert_int_equal(nodedb_parse_initiator_name("## c\n  InitiatorName=iqn.x:y  \n", a,
						     sizeof(a)),
			 0);
	assert_string_equal(a, "iqn.x:y");
	assert_int_equal(nodedb_parse_initiator_name("# none\n", a, sizeof(a)), -ENOENT);
	assert_int_equal(nodedb_parse_initiator_name("InitiatorName=\n", a, sizeof(a)), -EINVAL);
	assert_int_equal(nodedb_parse_initiator_name("InitiatorName=a b\n", a, sizeof(a)), -EINVAL);
	assert_int_equal(nodedb_parse_initiator_name("InitiatorName=iqn.long\n", a, 4), -EINVAL);

	assert_int_equal(nodedb_initiator_name(g_root, a, sizeof(a)), 0);
	assert_int_equal(strncmp(a, "iqn.2026-11.org.kura:", 21), 0);
	assert_int_equal(nodedb_initiator_name(g_root, b, sizeof(b)), 0);
	assert_string_equal(a, b); /* generated once, then stored */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/initiatorname.iscsi", g_root);
	FILE *f = fopen(path, "w");
	fputs("InitiatorName=iqn.1993-08.org.debian:01:abc\n", f);
	fclose(f);
	assert_int_equal(nodedb_initiator_name(g_root, a, sizeof(a)), 0);
	assert_string_equal(a, "iqn.1993-08.org.debian:01:abc");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_set_replace_unset),
		cmocka_unit_test(test_open_iscsi_sample),
		cmocka_unit_test(test_plain_conf),
		cmocka_unit_test(test_duplicate_keys_last_wins),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_portal_dir_names),
		cmocka_unit_test(test_store_load_delete),
		cmocka_unit_test(test_unknown_keys_preserved),
		cmocka_unit_test(test_old_layout),
		cmocka_unit_test(test_flat_and_links),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_foreach_filters),
		cmocka_unit_test(test_foreach_missing_root),
		cmocka_unit_test(test_defaults_and_conf),
		cmocka_unit_test(test_st_and_iface),
		cmocka_unit_test(test_initiator_name),
	};
	return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
