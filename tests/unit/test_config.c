/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of target/model/config.c: the embedded default, a full example, every
 * validation error with its line number and reason (table-driven), sizes,
 * iSCSI names, portal addresses, --listen / --data-dir overrides, CHAP secret
 * lengths, duplicate keys, and opening LUNs over the real memory and file
 * backends.
 *
 * Not for: the daemon (main.c) or the server; the integration tests run those.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/model/config.c"
#include "target/model/config_sections.c"
#include "target/model/model.c"
#include "target/model/config_default.c"
/* iscsi_target_limits_default() is the login engine's; it lives in kura_target,
 * which unit tests do not link, so the engine comes in as source. */
#include "target/iscsi/iscsi_login.c"
#include "target/iscsi/iscsi_name.c"
#include "target/iscsi/iscsi_keys.c"
#include "target/iscsi/chap.c"

/* The SCSI layer's LUs and LUN maps, for tgt_model_open(). */
#include "target/scsi/scsi_lu.c"
#include "target/scsi/scsi_stats.c"
#include "target/scsi/scsi_pr.c"
#include "target/scsi/scsi_pr_file.c"
#include "target/scsi/scsi_pr_shared.c"
/* [raid] / [pool] runtime, for tgt_model_open() and tgt_config_free(). */
#include "target/model/storage.c"
#include "target/model/storage_status.c"
#include "target/model/storage_volumes.c"

#ifdef KURA_HAVE_RBD /* the backend kinds built here */
#define KURA_KINDS "file, memory, thin, raid or rbd"
#else
#define KURA_KINDS "file, memory, thin or raid"
#endif

/* ---- helpers ---- */

static char err[1024];

static int parse_text(const char *text, struct tgt_config *cfg)
{
	err[0] = '\0';
	return load_text(text, "t.ini", cfg, err, sizeof(err));
}

/* A minimal valid tail that makes a snippet a complete configuration. */
#define TARGET "[target iqn.2026-11.org.kura:t]\n"

static void test_default_config(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(tgt_config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.source, "<embedded>");
	assert_string_equal(cfg.data_dir, "/var/lib/kura");
	assert_int_equal(cfg.workers, 0);
	assert_int_equal(cfg.nop_interval_ms, 5000);
	assert_int_equal(cfg.nop_timeout_ms, 15000);
	assert_int_equal(cfg.queue_depth, 256);
	assert_true(cfg.buffer_budget == 0); /* from the machine's memory */
	assert_int_equal(cfg.max_connections, 1024);
	assert_int_equal(cfg.max_conns_per_initiator, 256);
	assert_int_equal(cfg.login_timeout_ms, 15000);
	assert_string_equal(cfg.user, "");
	assert_int_equal(cfg.log_level, -1);
	assert_int_equal(cfg.n_portals, 1);
	assert_string_equal(cfg.portals[0].addr, "0.0.0.0");
	assert_int_equal(cfg.portals[0].port, 3260);
	assert_int_equal(cfg.portals[0].tpgt, 1);
	assert_int_equal(cfg.portals[0].rel_port_id, 1);
	assert_int_equal(cfg.portals[0].tpg_id, 1);
	assert_int_equal(cfg.n_targets, 1);
	struct tgt_target_conf *t = &cfg.targets[0];
	assert_string_equal(t->iqn, "iqn.2026-11.org.kura:demo");
	assert_string_equal(t->alias, "kura demo");
	assert_int_equal(t->n_acl, 0);
	assert_int_equal(t->n_chap_in, 0);
	assert_null(t->chap_out);
	assert_int_equal(cfg.n_disc_chap_in, 0);
	assert_int_equal(t->n_luns, 1);
	struct tgt_lun_conf *l = &t->luns[0];
	assert_int_equal(l->lun, 0);
	assert_string_equal(l->backend.type, "file");
	assert_string_equal(l->backend.path, "demo.img");
	assert_int_equal(l->backend.size, 8ull << 30);
	assert_int_equal(l->backend.block_size, 512);
	assert_true(l->backend.create);
	assert_false(l->backend.direct);
	assert_false(l->backend.read_only);
	assert_true(l->ident.thin);
	assert_true(l->ident.write_cache);
	assert_string_equal(l->ident.target_iqn, "iqn.2026-11.org.kura:demo");
	assert_string_equal(l->ident.vendor, "KURA");
	assert_string_equal(l->ident.product, "kura-lun");
	struct iscsi_target_limits def;
	iscsi_target_limits_default(&def);
	assert_memory_equal(&cfg.limits, &def, sizeof(def));
	tgt_config_free(&cfg);
}

static const char full_example[] =
	"; comment\n"
	"# another comment\n"
	"[global]\n"
	"data_dir = /srv/kura\n"
	"workers = 4\n"
	"log_level = debug\n"
	"nop_interval_ms = 0\n"
	"nop_timeout_ms = 30000\n"
	"queue_depth = 128\n"
	"user = kura\n"
	"buffer_budget = 1G\n"
	"max_connections = 100\n"
	"max_connections_per_initiator = 8\n"
	"login_timeout_ms = 5000\n"
	"\n"
	"[portal a]\n"
	"  address = 192.0.2.10:3260   ; indented keys are fine\n"
	"  tpgt = 1\n"
	"  port_group = 1\n"
	"[portal b]\n"
	"address = [2001:db8::10]:3261\n"
	"tpgt = 2\n"
	"port_group = 2\n"
	"rel_port_id = 1\n"
	"[portal c]\n"
	"address = 198.51.100.1\n"
	"\n"
	"[limits]\n"
	"max_recv_data_segment_length = 65536\n"
	"max_burst_length = 1048576\n"
	"first_burst_length = 65536\n"
	"max_outstanding_r2t = 4\n"
	"initial_r2t = yes\n"
	"immediate_data = no\n"
	"header_digest = none\n"
	"data_digest = crc32c\n"
	"chap_digests = sha256, sha3-256\n"
	"\n"
	"[discovery]\n"
	"chap = disc:discovery-secret-1\n"
	"mutual_chap = target:target-secret-22\n"
	"\n"
	"[target iqn.2026-11.org.kura:vm1]\n"
	"alias = VM one\n"
	"allow = iqn.1993-08.org.debian:01:abcdef\n"
	"allow = iqn.2026-11.org.kura:host2\n"
	"chap = host1:host1-secret-abc\n"
	"chap = host2:host2:secret:colons\n"
	"mutual_chap = vm1:vm1-target-secret\n"
	"\n"
	"[lun 0]\n"
	"path = vm1.img\n"
	"size = 20G\n"
	"create = yes\n"
	"direct = yes\n"
	"block_size = 4096\n"
	"serial = VM1-0\n"
	"naa = 6001405aabbccdd00112233445566778\n"
	"vendor = ACME\n"
	"product = disk\n"
	"revision = 1.0\n"
	"write_cache = no\n"
	"thin = no\n"
	"\n"
	"[target eui.0123456789ABCDEF]\n"
	"[lun iqn.2026-11.org.kura:vm1:3]\n"
	"backend = memory\n"
	"size = 64MiB\n"
	"read_only = yes\n"
	"[lun eui.0123456789ABCDEF:7]\n"
	"path = /dev/null\n";

/* gateway_id: port group = gateway, relative ports in the gateway's range. */
static void test_gateway_ports(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(parse_text("[global]\ngateway_id = 2\n"
				    "[portal a]\naddress = 127.0.0.1:3260\n"
				    "[portal b]\naddress = 127.0.0.2:3260\n" TARGET,
				    &cfg),
			 0);
	assert_int_equal(cfg.gateway_id, 2);
	assert_int_equal(cfg.gateways, 2); /* default: two */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cfg.portals[i].tpg_id, 2);
		assert_int_equal(cfg.portals[i].rel_port_id, 16 + i + 1);
		assert_int_equal(cfg.portals[i].tpgt, 16 + i + 1);
	}
	tgt_config_free(&cfg);
	assert_int_equal(parse_text("[global]\ngateway_id = 1\ngateways = 4\n" TARGET, &cfg), 0);
	assert_int_equal(cfg.gateways, 4);
	assert_int_equal(cfg.portals[0].tpg_id, 1);
	assert_int_equal(cfg.portals[0].rel_port_id, 1);
	tgt_config_free(&cfg);
	(void)state;
}

static void test_full_example(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(parse_text(full_example, &cfg), 0);
	assert_string_equal(cfg.data_dir, "/srv/kura");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.log_level, KLOG_DEBUG);
	assert_int_equal(cfg.nop_interval_ms, 0);
	assert_int_equal(cfg.nop_timeout_ms, 30000);
	assert_true(cfg.buffer_budget == 1ull << 30);
	assert_int_equal(cfg.max_connections, 100);
	assert_int_equal(cfg.max_conns_per_initiator, 8);
	assert_int_equal(cfg.login_timeout_ms, 5000);
	assert_int_equal(cfg.queue_depth, 128);
	assert_string_equal(cfg.user, "kura");

	assert_int_equal(cfg.n_portals, 3);
	assert_string_equal(cfg.portals[0].addr, "192.0.2.10");
	assert_int_equal(cfg.portals[0].port, 3260);
	assert_int_equal(cfg.portals[0].rel_port_id, 2); /* 1 is taken by portal b */
	assert_string_equal(cfg.portals[1].addr, "2001:db8::10");
	assert_int_equal(cfg.portals[1].port, 3261);
	assert_int_equal(cfg.portals[1].tpgt, 2);
	assert_int_equal(cfg.portals[1].tpg_id, 2);
	assert_int_equal(cfg.portals[1].rel_port_id, 1);
	assert_int_equal(cfg.portals[2].port, 3260);
	assert_int_equal(cfg.portals[2].tpgt, 3);
	assert_int_equal(cfg.portals[2].rel_port_id, 3);

	const struct iscsi_target_limits *l = &cfg.limits;
	assert_int_equal(l->max_recv_dsl, 65536);
	assert_int_equal(l->max_burst, 1048576);
	assert_int_equal(l->first_burst, 65536);
	assert_int_equal(l->max_outstanding_r2t, 4);
	assert_false(l->allow_initial_r2t_no);
	assert_false(l->allow_immediate_data);
	assert_false(l->allow_header_digest);
	assert_true(l->allow_data_digest);
	assert_int_equal(l->chap_digests_mask, (1u << CHAP_SHA256) | (1u << CHAP_SHA3_256));

	assert_int_equal(cfg.n_disc_chap_in, 1);
	assert_string_equal(cfg.disc_chap_in[0].user, "disc");
	assert_int_equal(cfg.disc_chap_in[0].secret_len, strlen("discovery-secret-1"));
	assert_memory_equal(cfg.disc_chap_in[0].secret, "discovery-secret-1", 18);
	assert_string_equal(cfg.disc_chap_out->user, "target");

	assert_int_equal(cfg.n_targets, 2);
	struct tgt_target_conf *t = &cfg.targets[0];
	assert_string_equal(t->alias, "VM one");
	assert_int_equal(t->n_acl, 2);
	assert_string_equal(t->acl[1], "iqn.2026-11.org.kura:host2");
	assert_int_equal(t->n_chap_in, 2);
	assert_string_equal(t->chap_in[1].user, "host2");
	assert_memory_equal(t->chap_in[1].secret, "host2:secret:colons", 19);
	assert_string_equal(t->chap_out->user, "vm1");
	assert_int_equal(t->n_luns, 2);
	struct tgt_lun_conf *l0 = &t->luns[0], *l3 = &t->luns[1];
	assert_int_equal(l0->backend.size, 20ull << 30);
	assert_int_equal(l0->backend.block_size, 4096);
	assert_true(l0->backend.direct && l0->backend.create);
	assert_false(l0->ident.thin || l0->ident.write_cache);
	assert_string_equal(l0->ident.serial, "VM1-0");
	assert_true(l0->ident.naa == 0x6001405aabbccdd0ull);
	assert_true(l0->ident.naa_ext == 0x0112233445566778ull);
	assert_string_equal(l0->ident.vendor, "ACME");
	assert_string_equal(l0->ident.product, "disk");
	assert_string_equal(l0->ident.revision, "1.0");
	assert_int_equal(l3->lun, 3);
	assert_string_equal(l3->backend.type, "memory");
	assert_int_equal(l3->backend.size, 64ull << 20);
	assert_true(l3->backend.read_only);
	assert_string_equal(cfg.targets[1].iqn, "eui.0123456789ABCDEF");
	assert_int_equal(cfg.targets[1].luns[0].lun, 7);
	assert_string_equal(cfg.targets[1].luns[0].ident.target_iqn, "eui.0123456789ABCDEF");
	tgt_config_free(&cfg);
}

/* The shipped example must parse (its secrets are inline; it warns). */
static void test_shipped_example(void **state)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", __FILE__);
	char *cut = strstr(path, "tests/unit/test_config.c");
	if (!cut)
		skip();
	strcpy(cut, "examples/kura-targetd.ini");
	struct tgt_config cfg;
	int r = tgt_config_load(path, &cfg, err, sizeof(err));
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_true(cfg.n_targets >= 1);
	tgt_config_free(&cfg);
}

struct bad {
	const char *text;
	int line;
	const char *reason;
};

static const struct bad bad_configs[] = {
	{ "[bogus]\n", 1, "unknown section [bogus]" },
	{ "\n[global]\nfoo = 1\n", 3, "unknown key 'foo' in [global]" },
	{ "workers = 1\n", 1, "outside any [section]" },
	{ "[global]\nworkers = x\n", 2, "workers: 'x' is not a number" },
	{ "[global]\nworkers = 4x\n", 2, "workers: '4x' is not a number" },
	{ "[global]\nworkers = -1\n", 2, "is not a number" },
	{ "[global]\nworkers = 999\n", 2, "workers: 999 is out of range 0..256" },
	{ "[global]\nqueue_depth = 0\n", 2, "queue_depth: 0 is out of range 1..65536" },
	{ "[global]\nnop_timeout_ms = 99999999999999999999999\n", 2, "out of range" },
	{ "[global]\nlog_level = loud\n", 2, "not one of error, warn, info, debug" },
	{ "[global]\nbuffer_budget = 63M\n", 2,
	  "buffer_budget: '63M' is below the minimum of 64M" },
	{ "[global]\nbuffer_budget = lots\n", 2, "buffer_budget: 'lots' is not a size" },
	{ "[global]\nmax_connections = 0\n", 2, "max_connections: 0 is out of range 1..65536" },
	{ "[global]\nmax_connections_per_initiator = 0\n", 2, "out of range 1..65536" },
	{ "[global]\nlogin_timeout_ms = 999\n", 2, "login_timeout_ms: 999 is out of range" },
	{ "[global]\ndata_dir = relative/dir\n", 2, "must be an absolute path" },
	{ "[global]\nuser = ro ot\n", 2, "not a valid user name" },
	{ "[global]\nworkers = 1\nworkers = 2\n", 3,
	  "'workers' is set twice in this section (first on line 2)" },
	{ "[global]\n[global]\n", 2, "section [global] appears twice" },
	{ "[global]\nworkers =\n", 2, "'workers' has an empty value" },
	{ "[global x]\n", 1, "[global] takes no name" },
	{ "[portal]\n", 1, "[portal] needs a name" },
	{ "[portal p]\ntpgt = 1\n" TARGET, 1, "portal needs 'address = IP:PORT'" },
	{ "[portal p]\naddress = 1.2.3:3260\n", 2, "not a numeric IPv4 address" },
	{ "[portal p]\naddress = 1.2.3.4:70000\n", 2, "port must be a number 1..65535" },
	{ "[portal p]\naddress = 1.2.3.4:\n", 2, "port must be a number" },
	{ "[portal p]\naddress = fe80::1:3260\n", 2, "write IPv6 addresses as [ADDRESS]:PORT" },
	{ "[portal p]\naddress = [fe80::1:3260\n", 2, "missing ']'" },
	{ "[portal p]\naddress = [zz::1]:3260\n", 2, "not a numeric IPv6 address" },
	{ "[portal p]\naddress = 1.2.3.4\n[portal q]\naddress = 1.2.3.4:3260\n", 4,
	  "already used by another portal" },
	{ "[portal p]\naddress = 1.2.3.4\nrel_port_id = 2\n[portal q]\naddress = 1.2.3.5\nrel_port_id = 2\n",
	  6, "rel_port_id: 2 is already used" },
	{ "[portal p!]\n", 1, "portal name 'p!'" },
	{ "[global]\ngateway_id = 17\n", 2, "gateway_id: 17 is out of range 1..16" },
	{ "[global]\ngateways = 3\n" TARGET, 3, "gateways is set but gateway_id is not" },
	{ "[global]\ngateway_id = 3\ngateways = 2\n" TARGET, 4,
	  "gateway_id 3 is above gateways = 2" },
	{ "[global]\ngateway_id = 1\n[portal p]\naddress = 1.2.3.4\nport_group = 2\n" TARGET, 5,
	  "with gateway_id, tpgt, port_group and rel_port_id are derived" },
	{ "[portal p]\naddress = 1.2.3.4\ntpgt = 0\n", 3, "tpgt: 0 is out of range 1..65535" },
	{ "[limits]\nmax_burst_length = 100\n", 2,
	  "max_burst_length: 100 is out of range 512..16777215" },
	{ "[limits]\nmax_burst_length = 1024\nfirst_burst_length = 2048\n" TARGET, 1,
	  "first_burst_length 2048 exceeds max_burst_length 1024" },
	{ "[limits]\ninitial_r2t = maybe\n", 2, "initial_r2t: 'maybe' is not yes or no" },
	{ "[limits]\nheader_digest = crc64\n", 2, "header_digest: 'crc64' is not crc32c or none" },
	{ "[limits]\nchap_digests = sha256,sha512\n", 2,
	  "'sha512' is not one of sha3-256, sha256, sha1, md5" },
	{ "[limits]\nchap_digests = ,\n", 2, "list at least one digest" },
	{ "[discovery]\nchap = nosecret\n", 2, "chap: expected USER:SECRET" },
	{ "[discovery]\nchap = :secret-secret-secret\n", 2, "expected USER:SECRET" },
	{ "[discovery]\nchap = u:short\n", 2,
	  "CHAP secret of user 'u' is 5 bytes; it must be 12..255" },
	{ "[discovery]\nmutual_chap = t:target-secret-1\n" TARGET, 1,
	  "mutual CHAP needs at least one 'chap = USER:SECRET'" },
	{ "[discovery]\nchap = u:same-secret-123\nmutual_chap = t:same-secret-123\n" TARGET, 1,
	  "mutual CHAP secret equals the secret of user 'u'" },
	{ "[discovery]\nchap = u:secret-secret-1\nchap = u:secret-secret-2\n", 3,
	  "CHAP user 'u' is listed twice" },
	{ "[discovery]\nchap_file = u:relative\n", 2, "must be an absolute path" },
	{ "[discovery]\nchap_file = u:/nonexistent/kura-secret\n", 2,
	  "cannot read secret file '/nonexistent/kura-secret'" },
	{ "[discovery]\nmutual_chap = t:target-secret-1\nmutual_chap_file = t:/x\n", 3,
	  "mutual CHAP account is already set" },
	{ "[target]\n", 1, "[target] needs a name" },
	{ "[target iqn.2026-11.org.kura:a b]\n", 1, "must not contain spaces" },
	{ "[target iqn.2026-13.org.kura:a]\n", 1, "month in iqn.YYYY-MM must be 01..12" },
	{ "[target iqn.26-11.org.kura]\n", 1, "iqn names look like iqn.YYYY-MM.reverse.domain" },
	{ "[target iqn.2026-11.org.Kura:a]\n", 1, "iSCSI names are lower case (RFC 3722)" },
	{ "[target iqn.2026-11.org.kura:a_b]\n", 1, "iqn names use only a-z 0-9 - . :" },
	{ "[target eui.0123]\n", 1, "eui. names have exactly 16 hex digits" },
	{ "[target naa.0123456789abcdef0]\n", 1, "naa. names have 16 or 32 hex digits" },
	{ "[target foo.bar]\n", 1, "iSCSI names start with iqn., eui. or naa." },
	{ TARGET "\n" TARGET, 3, "target iqn.2026-11.org.kura:t is defined twice" },
	{ TARGET "alias = a\nalias = b\n", 3,
	  "'alias' is set twice in this section (first on line 2)" },
	{ TARGET "allow = IQN.2026-11.org.kura:x\n", 2,
	  "allow: initiator name 'IQN.2026-11.org.kura:x'" },
	{ TARGET "allow = iqn.2026-11.org.kura:x\nallow = iqn.2026-11.org.kura:x\n", 3,
	  "is listed twice" },
	{ TARGET "acl = x\n", 2, "unknown key 'acl' in [target]" },
	{ "[lun 0]\n", 1, "[lun 0] has no [target] section above it" },
	{ TARGET "[lun iqn.2026-11.org.kura:other:0]\n", 2,
	  "target iqn.2026-11.org.kura:other is not defined above" },
	{ TARGET "[lun 0]\npath = a\n[lun 0]\npath = b\n", 4,
	  "LUN 0 of iqn.2026-11.org.kura:t is defined twice" },
	{ TARGET "[lun 256]\n", 2, "LUN number: 256 is out of range 0..255" },
	{ TARGET "[lun x]\n", 2, "LUN number: 'x' is not a number" },
	{ TARGET "[lun 0]\nsize = 1G\n", 2, "backend = file needs 'path'" },
	{ TARGET "[lun 0]\nbackend = memory\n", 2, "backend = memory needs 'size'" },
	{ TARGET "[lun 0]\nbackend = memory\nsize = 1M\npath = x\n", 2,
	  "backend = memory takes no 'path'" },
	{ TARGET "[lun 0]\npath = x\ncreate = yes\n", 2, "create = yes needs 'size'" },
	{ TARGET "[lun 0]\nbackend = nbd\n", 3, "backend: 'nbd' is not " KURA_KINDS },
	{ TARGET "[lun 0]\npath = x\nblock_size = 1024\n", 4,
	  "block_size: '1024' must be 512 or 4096" },
	{ TARGET "[lun 0]\npath = x\nsize = 1000\n", 2,
	  "size 1000 is not a multiple of block_size 512" },
	{ TARGET "[lun 0]\npath = x\nsize = 12Q\n", 4, "size: '12Q' is not a size" },
	{ TARGET "[lun 0]\npath = x\nsize = 0\n", 4, "size: must not be 0" },
	{ TARGET "[lun 0]\npath = x\nsize = 99999999T\n", 4, "size: '99999999T' is too large" },
	{ TARGET "[lun 0]\npath = x\nnaa = 6001\n", 4, "naa: '6001' must be 16 or 32 hex digits" },
	{ TARGET "[lun 0]\npath = x\nnaa = 5001405aabbccdd0\n", 4, "must start with 6" },
	{ TARGET "[lun 0]\npath = x\nvendor = TOOLONGVENDOR\n", 4,
	  "vendor: 'TOOLONGVENDOR' is longer than 8 characters" },
	{ TARGET "[lun 0]\npath = x\nread_only = perhaps\n", 4,
	  "read_only: 'perhaps' is not yes or no" },
	{ "[global]\nworkers = 1\n", 2, "no [target IQN] section: nothing to serve" },
	{ "[global\n" TARGET, 1, "syntax error: expected [section] or key = value" },
	{ TARGET "just some words\n", 2, "syntax error" },
};

static void test_bad_configs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		const struct bad *b = &bad_configs[i];
		struct tgt_config cfg;
		char want[64];
		snprintf(want, sizeof(want), "t.ini:%d: ", b->line);
		int r = parse_text(b->text, &cfg);
		if (r != -EINVAL || strncmp(err, want, strlen(want)) || !strstr(err, b->reason))
			fail_msg("case %zu: r=%d err='%s', want '%s%s'", i, r, err, want,
				 b->reason);
		assert_null(cfg.targets);
		assert_null(cfg.storage);
	}
}

static void test_long_line(void **state)
{
	char text[512];
	struct tgt_config cfg;
	snprintf(text, sizeof(text), TARGET "alias = %0250d\n", 0);
	assert_int_equal(parse_text(text, &cfg), -EINVAL);
	assert_non_null(strstr(err, "t.ini:2: line longer than 198 characters"));
}

/* A NUL byte is refused with its line, not cut (inih would stop there);
 * -c DIR says it is a directory (issue 11 item 8). */
static void test_nul_and_dir(void **state)
{
	char dir[] = "/tmp/kura-cfg-XXXXXX", path[64];
	struct tgt_config cfg;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[global]\nworkers = 1\0 2\n", 1, 24, f);
	fclose(f);
	assert_int_equal(tgt_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.ini:2: NUL byte in the line (column 12)"));
	assert_int_equal(tgt_config_load(dir, &cfg, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, ": is a directory, not a configuration file"));
	unlink(path);
	rmdir(dir);
	char buf[16], sect[8];
	assert_int_equal(kini_line("a\0b\n", 4, buf, sizeof(buf), sect, sizeof(sect)), -EILSEQ);
	assert_string_equal(buf, "");
}

static const struct {
	const char *in;
	int r;
	uint64_t v;
} sizes[] = {
	{ "512", 0, 512 },        { "1K", 0, 1024 },
	{ "1k", 0, 1024 },        { "3M", 0, 3ull << 20 },
	{ "8G", 0, 8ull << 30 },  { "8GiB", 0, 8ull << 30 },
	{ "8GB", 0, 8ull << 30 }, { "2T", 0, 2ull << 40 },
	{ "1P", 0, 1ull << 50 },  { "16383P", 0, 16383ull << 50 },
	{ "16384P", -ERANGE, 0 }, { "18446744073709551616", -ERANGE, 0 },
	{ "", -EINVAL, 0 },       { "G", -EINVAL, 0 },
	{ "1.5G", -EINVAL, 0 },   { "-1", -EINVAL, 0 },
	{ "1 G", -EINVAL, 0 },    { "1Gi", -EINVAL, 0 },
	{ "1X", -EINVAL, 0 },
};

static void test_sizes(void **state)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t v = 0;
		int r = lun_parse_size(sizes[i].in, &v);
		if (r != sizes[i].r || (r == 0 && v != sizes[i].v))
			fail_msg("size '%s': r=%d v=%llu", sizes[i].in, r, (unsigned long long)v);
	}
}

static const struct {
	const char *name;
	bool ok;
} names[] = {
	{ "iqn.2026-11.org.kura:demo", true },
	{ "iqn.1993-08.org.debian:01:abcdef", true },
	{ "iqn.2001-04.com.example", true },
	{ "iqn.2001-04.com.example:storage.disk2.sys1.xyz", true },
	{ "eui.02004567A425678D", true },
	{ "naa.52004567BA64678D", true },
	{ "naa.62004567BA64678D0123456789ABCDEF", true },
	{ "iqn.2001-4.com.example", false },
	{ "iqn.2001-00.com.example", false },
	{ "iqn.2001-04.", false },
	{ "iqn.2001-04.:x", false },
	{ "iqn.2001-04.com.Example", false },
	{ "iqn.2001-04.com.ex ample", false },
	{ "eui.02004567A425678", false },
	{ "eui.02004567A425678G", false },
	{ "naa.123", false },
	{ "", false },
	{ "iqn", false },
	{ "IQN.2001-04.com.example", false },
};

static void test_iscsi_names(void **state)
{
	char longname[300];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((iscsi_name_error(names[i].name) == NULL) != names[i].ok)
			fail_msg("name '%s' should be %s", names[i].name,
				 names[i].ok ? "valid" : "refused");
	snprintf(longname, sizeof(longname), "iqn.2026-11.org.kura:%0202d", 0);
	assert_int_equal(strlen(longname), 223);
	assert_null(iscsi_name_error(longname));
	strcat(longname, "0");
	assert_string_equal(iscsi_name_error(longname), "iSCSI names are at most 223 bytes");
}

static void test_listen_override(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(parse_text(full_example, &cfg), 0);
	const char *addrs[] = { "127.0.0.1:3261", "[::1]:3262", "10.0.0.1" };
	assert_int_equal(tgt_config_set_listen(&cfg, addrs, 3, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_portals, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cfg.portals[i].tpgt, i + 1);
		assert_int_equal(cfg.portals[i].rel_port_id, i + 1);
		assert_int_equal(cfg.portals[i].tpg_id, 1);
	}
	assert_string_equal(cfg.portals[1].addr, "::1");
	assert_int_equal(cfg.portals[1].port, 3262);
	assert_int_equal(cfg.portals[2].port, 3260);

	const char *bad[] = { "127.0.0.1:3261", "localhost:3260" };
	assert_int_equal(tgt_config_set_listen(&cfg, bad, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--listen localhost:3260: not a numeric IPv4 address");
	assert_int_equal(cfg.n_portals, 3); /* unchanged on error */
	assert_int_equal(tgt_config_set_listen(&cfg, bad, 0, err, sizeof(err)), -EINVAL);

	assert_int_equal(tgt_config_set_data_dir(&cfg, "/tmp/x"), 0);
	assert_string_equal(cfg.data_dir, "/tmp/x");
	assert_int_equal(tgt_config_set_data_dir(&cfg, "rel"), -EINVAL);
	tgt_config_free(&cfg);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

/* 11 bytes refused, 12 and 255 accepted, 256 refused; files may end in \n. */
static void test_secret_lengths(void **state)
{
	static const struct {
		size_t len;
		int r;
	} cases[] = {
		{ 11, -EINVAL },
		{ 12, 0 },
		{ 255, 0 },
		{ 256, -EINVAL },
	};
	char dir[] = "/tmp/kura-test-XXXXXX", path[128], secret[300], text[512];
	struct tgt_config cfg;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(secret, 's', cases[i].len);
		secret[cases[i].len] = '\n';
		write_file(path, secret, cases[i].len + 1);
		snprintf(text, sizeof(text), TARGET "chap_file = user:%s\n", path);
		assert_int_equal(parse_text(text, &cfg), cases[i].r);
		if (cases[i].r == 0) {
			assert_int_equal(cfg.targets[0].chap_in[0].secret_len, cases[i].len);
			tgt_config_free(&cfg);
		} else {
			assert_non_null(
				strstr(err, "t.ini:2: chap_file: CHAP secret of user 'user'"));
		}
	}
	/* inline: 11 refused, 12 accepted */
	assert_int_equal(parse_text(TARGET "chap = u:12345678901\n", &cfg), -EINVAL);
	assert_non_null(strstr(err, "is 11 bytes; it must be 12..255"));
	assert_int_equal(parse_text(TARGET "chap = u:123456789012\n", &cfg), 0);
	tgt_config_free(&cfg);
	unlink(path);
	rmdir(dir);
}

/* Scalar keys may not repeat; list keys (allow, chap) accumulate. */
static void test_duplicate_keys(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(parse_text("[limits]\nimmediate_data = yes\nimmediate_data = no\n", &cfg),
			 -EINVAL);
	assert_string_equal(
		err, "t.ini:3: 'immediate_data' is set twice in this section (first on line 2)");
	assert_int_equal(
		parse_text(TARGET "allow = iqn.2026-11.org.kura:a\nallow = iqn.2026-11.org.kura:b\n"
				  "chap = a:aaaaaaaaaaaa\nchap = b:bbbbbbbbbbbb\n"
				  "[lun 0]\npath = x\n[lun 1]\npath = x\n",
			   &cfg),
		0);
	assert_int_equal(cfg.targets[0].n_acl, 2);
	assert_int_equal(cfg.targets[0].n_chap_in, 2);
	assert_int_equal(cfg.targets[0].n_luns, 2);
	tgt_config_free(&cfg);
	/* the same key in two sections is two settings */
	assert_int_equal(
		parse_text("[portal a]\naddress = 1.1.1.1\n[portal b]\naddress = 1.1.1.2\n" TARGET,
			   &cfg),
		0);
	assert_int_equal(cfg.n_portals, 2);
	tgt_config_free(&cfg);
}

static void test_file_source_and_errors(void **state)
{
	char dir[] = "/tmp/kura-test-XXXXXX", path[128];
	struct tgt_config cfg;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.ini", dir);
	assert_int_equal(tgt_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	write_str(path, "[global]\r\nworkers = 2\r\n\r\nbad = 1\r\n");
	assert_int_equal(tgt_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	char want[256];
	snprintf(want, sizeof(want), "%s:4: unknown key 'bad' in [global]", path);
	assert_string_equal(err, want);
	write_str(path, "\xEF\xBB\xBF[target iqn.2026-11.org.kura:x]\n");
	assert_int_equal(tgt_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.source, path);
	tgt_config_free(&cfg);
	unlink(path);
	rmdir(dir);
}

/* Relative paths land under data_dir, which is created 0700; real backends. */
static void test_open_luns(void **state)
{
	char dir[] = "/tmp/kura-test-XXXXXX", sub[128], img[192], text[512];
	struct tgt_config cfg;
	struct stat st;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	snprintf(text, sizeof(text),
		 TARGET
		 "[lun 0]\npath = d.img\nsize = 1M\ncreate = yes\n"
		 "[lun 1]\nbackend = memory\nsize = 4M\n");
	assert_int_equal(parse_text(text, &cfg), 0);
	assert_int_equal(tgt_config_set_data_dir(&cfg, sub), 0);
	struct tgt_model *m;
	int r = tgt_model_open(&cfg, &m, err, sizeof(err));
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(img, sizeof(img), "%s/d.img", sub);
	assert_string_equal(m->targets[0].luns[0].c.backend.path, img);
	assert_string_equal(cfg.targets[0].luns[0].backend.path, "d.img"); /* as parsed */
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_non_null(m->targets[0].luns[0].lu);
	assert_non_null(m->targets[0].luns[1].lu);
	assert_int_equal(scsi_lu_size_blocks(m->targets[0].luns[0].lu), 2048);
	assert_int_equal(scsi_lu_size_blocks(m->targets[0].luns[1].lu), 8192);
	assert_ptr_equal(scsi_lun_map_get(m->targets[0].map, 1), m->targets[0].luns[1].lu);
	/* persistent reservation state goes to <data_dir>/pr (created) */
	snprintf(img, sizeof(img), "%s/pr", sub);
	assert_string_equal(m->targets[0].luns[0].c.ident.pr_dir, img);
	assert_int_equal(stat(img, &st), 0);
	tgt_model_close(m);
	tgt_config_free(&cfg);

	/* a missing file without create: the error names the LUN */
	assert_int_equal(parse_text(TARGET "[lun 5]\npath = missing.img\n", &cfg), 0);
	assert_int_equal(tgt_config_set_data_dir(&cfg, sub), 0);
	assert_true(tgt_model_open(&cfg, &m, err, sizeof(err)) < 0);
	snprintf(text, sizeof(text),
		 "target iqn.2026-11.org.kura:t LUN 5 (file %s/missing.img): ", sub);
	if (strncmp(err, text, strlen(text)))
		fail_msg("got '%s'", err);
	tgt_model_close(m);
	tgt_config_free(&cfg);
	unlink(img);
	snprintf(img, sizeof(img), "%s/pr", sub);
	rmdir(img);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}

/* pr_persist = aptpl (default) | all */
static void test_pr_persist(void **state)
{
	struct tgt_config cfg;
	assert_int_equal(parse_text(TARGET
				    "[lun 0]\nbackend = memory\nsize = 1M\n"
				    "[lun 1]\nbackend = memory\nsize = 1M\npr_persist = all\n",
				    &cfg),
			 0);
	assert_false(cfg.targets[0].luns[0].ident.pr_persist_all);
	assert_true(cfg.targets[0].luns[1].ident.pr_persist_all);
	tgt_config_free(&cfg);
	assert_int_equal(
		parse_text(TARGET "[lun 0]\nbackend = memory\nsize = 1M\npr_persist = sometimes\n",
			   &cfg),
		-EINVAL);
	assert_non_null(strstr(err, "aptpl or all"));
}

int main(void)
{
	klog_set_level(KLOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul_and_dir),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_iscsi_names),
		cmocka_unit_test(test_listen_override),
		cmocka_unit_test(test_secret_lengths),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_file_source_and_errors),
		cmocka_unit_test(test_open_luns),
		cmocka_unit_test(test_pr_persist),
		cmocka_unit_test(test_gateway_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
