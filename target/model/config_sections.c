/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration's sections and their keys: [global], [portal NAME],
 * [limits], [discovery], [target IQN] and [lun N] / [lun IQN:N], each a
 * declarative key table (config_internal.h: numbers and booleans by offset,
 * the rest through small setters) plus begin / end checks. The backend
 * keys of a [lun] and the [raid] / [pool] sections belong to the backend
 * registry (lun-backends/lun_registry.h).
 *
 * Not for: reading the file (config.c), the live model (model.c). The
 * reference for every key is docs/configuration.md; keep the two in step.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "target/model/config_internal.h"

/* ---- [global] ---- */

static int set_data_dir(struct cfg_parser *p, const char *key, const char *v)
{
	if (v[0] != '/')
		return cfg_fail(p, "%s: '%s' must be an absolute path", key, v);
	if (strlen(v) >= sizeof(p->cfg->data_dir))
		return cfg_fail(p, "%s: path too long", key);
	strcpy(p->cfg->data_dir, v);
	p->cfg->data_dir_line = p->lineno;
	return 0;
}

static int set_log_level(struct cfg_parser *p, const char *key, const char *v)
{
	enum klog_level lvl;
	if (klog_parse_level(v, &lvl) < 0)
		return cfg_fail(p, "%s: '%s' is not one of error, warn, info, debug", key, v);
	p->cfg->log_level = (int)lvl;
	return 0;
}

static int set_user(struct cfg_parser *p, const char *key, const char *v)
{
	if (strlen(v) >= sizeof(p->cfg->user))
		return cfg_fail(p, "%s: user name too long", key);
	for (const char *c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return cfg_fail(p, "%s: '%s' is not a valid user name", key, v);
	strcpy(p->cfg->user, v);
	return 0;
}

/* At least 64 MiB: every session's share must fit one 16 MiB command. */
static int set_buffer_budget(struct cfg_parser *p, const char *key, const char *v)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
	uint64_t x;
	if (lun_conf_size(&c, key, v, &x) < 0)
		return cfg_reg_fail(p, &c);
	if (x < (64u << 20))
		return cfg_fail(p, "%s: '%s' is below the minimum of 64M", key, v);
	p->cfg->buffer_budget = x;
	return 0;
}

static const struct cfg_key global_keys[] = {
	CK_FN("data_dir", set_data_dir),
	CK_NUM("workers", CK_INT, struct tgt_config, workers, 0, 256),
	CK_FN("log_level", set_log_level),
	CK_NUM("nop_interval_ms", CK_U32, struct tgt_config, nop_interval_ms, 0, 3600000),
	CK_NUM("nop_timeout_ms", CK_U32, struct tgt_config, nop_timeout_ms, 1000, 3600000),
	CK_NUM("queue_depth", CK_U32, struct tgt_config, queue_depth, 1, 65536),
	{ "user", CK_FUNC, .set = set_user, .empty_ok = true },
	CK_NUM("gateway_id", CK_U16, struct tgt_config, gateway_id, 1, TGT_MAX_GATEWAYS),
	CK_NUM("gateways", CK_U16, struct tgt_config, gateways, 2, TGT_MAX_GATEWAYS),
	CK_FN("buffer_budget", set_buffer_budget),
	CK_NUM("max_connections", CK_U32, struct tgt_config, max_connections, 1, 65536),
	CK_NUM("max_connections_per_initiator", CK_U32, struct tgt_config, max_conns_per_initiator,
	       1, 65536),
	CK_NUM("login_timeout_ms", CK_U32, struct tgt_config, login_timeout_ms, 1000, 3600000),
};

static void *global_obj(struct cfg_parser *p)
{
	return p->cfg;
}

/* ---- [portal NAME] ---- */

static struct tgt_portal *cur_portal(struct cfg_parser *p)
{
	return &p->cfg->portals[p->cfg->n_portals - 1];
}

static void *portal_obj(struct cfg_parser *p)
{
	return cur_portal(p);
}

static int portal_begin(struct cfg_parser *p, const char *name)
{
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return cfg_fail(p, "portal name '%s': use letters, digits, '.', '_' or '-'",
					name);
	if (p->cfg->n_portals == TGT_MAX_PORTALS)
		return cfg_fail(p, "too many portals (at most %d)", TGT_MAX_PORTALS);
	struct tgt_portal *pt = &p->cfg->portals[p->cfg->n_portals++];
	memset(pt, 0, sizeof(*pt));
	pt->tpgt = (uint16_t)p->cfg->n_portals;
	pt->tpg_id = 1;
	return 0;
}

static int set_address(struct cfg_parser *p, const char *key, const char *v)
{
	const char *why;
	struct tgt_portal *pt = cur_portal(p);
	if (cfg_parse_portal(v, pt, &why) < 0)
		return cfg_fail(p, "%s: '%s': %s", key, v, why);
	for (int i = 0; i < p->cfg->n_portals - 1; i++)
		if (strcmp(p->cfg->portals[i].addr, pt->addr) == 0 &&
		    p->cfg->portals[i].port == pt->port)
			return cfg_fail(p, "%s: %s is already used by another portal", key, v);
	return 0;
}

static int set_rel_port_id(struct cfg_parser *p, const char *key, const char *v)
{
	uint64_t x = 0;
	if (cfg_u64(p, key, v, 1, 65535, &x) < 0)
		return -EINVAL;
	for (int i = 0; i < p->cfg->n_portals - 1; i++)
		if (p->rel_given[i] && p->cfg->portals[i].rel_port_id == x)
			return cfg_fail(p, "%s: %s is already used by another portal", key, v);
	cur_portal(p)->rel_port_id = (uint16_t)x;
	p->rel_given[p->cfg->n_portals - 1] = true;
	return 0;
}

static const struct cfg_key portal_keys[] = {
	CK_FN("address", set_address),
	CK_NUM("tpgt", CK_U16, struct tgt_portal, tpgt, 1, 65535),
	CK_NUM("port_group", CK_U16, struct tgt_portal, tpg_id, 1, 65535),
	CK_FN("rel_port_id", set_rel_port_id),
};

static int portal_end(struct cfg_parser *p)
{
	if (!p->seen[0])
		return cfg_fail_line(p, p->sect_line, "portal needs 'address = IP:PORT'");
	for (int k = 1; k <= 3; k++) /* tpgt, port_group, rel_port_id (gateway_id derives them) */
		if (p->seen[k])
			p->port_ids_line[p->cfg->n_portals - 1] = p->seen[k];
	return 0;
}

/* ---- [limits] ---- */

static void *limits_obj(struct cfg_parser *p)
{
	return &p->cfg->limits;
}

/* initial_r2t = yes: we insist on InitialR2T=Yes; no: we accept No (RFC 7143 13.10). */
static int set_initial_r2t(struct cfg_parser *p, const char *key, const char *v)
{
	bool yes = false;
	if (cfg_bool(p, key, v, &yes) < 0)
		return -EINVAL;
	p->cfg->limits.allow_initial_r2t_no = !yes;
	return 0;
}

static int set_digest(struct cfg_parser *p, const char *key, const char *v)
{
	bool *allow = strcmp(key, "header_digest") == 0 ? &p->cfg->limits.allow_header_digest
							: &p->cfg->limits.allow_data_digest;
	if (strcasecmp(v, "crc32c") == 0 || strcasecmp(v, "crc32c,none") == 0 ||
	    strcasecmp(v, "none,crc32c") == 0)
		*allow = true;
	else if (strcasecmp(v, "none") == 0)
		*allow = false;
	else
		return cfg_fail(p, "%s: '%s' is not crc32c or none", key, v);
	return 0;
}

static const struct {
	const char *name;
	enum chap_digest d;
} chap_digest_names[] = {
	{ "md5", CHAP_MD5 },
	{ "sha1", CHAP_SHA1 },
	{ "sha256", CHAP_SHA256 },
	{ "sha3-256", CHAP_SHA3_256 },
};

static int chap_digest_bit(const char *name, size_t len, uint32_t *bit)
{
	for (size_t i = 0; i < sizeof(chap_digest_names) / sizeof(chap_digest_names[0]); i++)
		if (strlen(chap_digest_names[i].name) == len &&
		    strncasecmp(name, chap_digest_names[i].name, len) == 0) {
			*bit = 1u << chap_digest_names[i].d;
			return 0;
		}
	return -EINVAL;
}

static int set_chap_digests(struct cfg_parser *p, const char *key, const char *v)
{
	uint32_t mask = 0, bit;
	for (const char *s = v; *s;) {
		while (*s == ' ' || *s == ',')
			s++;
		size_t len = strcspn(s, ", ");
		if (len == 0)
			break;
		if (chap_digest_bit(s, len, &bit) < 0)
			return cfg_fail(p, "%s: '%.*s' is not one of sha3-256, sha256, sha1, md5",
					key, (int)len, s);
		mask |= bit;
		s += len;
	}
	if (!mask)
		return cfg_fail(p, "%s: list at least one digest", key);
	p->cfg->limits.chap_digests_mask = mask;
	return 0;
}

/* RFC 7143 13.12-13.14: lengths are 512..2^24-1. */
static const struct cfg_key limits_keys[] = {
#define LIM struct iscsi_target_limits
	CK_NUM("max_recv_data_segment_length", CK_U32, LIM, max_recv_dsl, 512, 16777215),
	CK_NUM("max_burst_length", CK_U32, LIM, max_burst, 512, 16777215),
	CK_NUM("first_burst_length", CK_U32, LIM, first_burst, 512, 16777215),
	CK_NUM("max_outstanding_r2t", CK_U32, LIM, max_outstanding_r2t, 1, 65535),
	CK_FN("initial_r2t", set_initial_r2t),
	CK_FLAG("immediate_data", LIM, allow_immediate_data),
	CK_FN("header_digest", set_digest),
	CK_FN("data_digest", set_digest),
	CK_FN("chap_digests", set_chap_digests),
#undef LIM
};

static int limits_end(struct cfg_parser *p)
{
	const struct iscsi_target_limits *l = &p->cfg->limits;
	if (l->first_burst > l->max_burst)
		return cfg_fail_line(
			p, p->sect_line,
			"first_burst_length %u exceeds max_burst_length %u (RFC 7143 13.14)",
			l->first_burst, l->max_burst);
	return 0;
}

/* ---- CHAP accounts ([discovery] and [target]) ---- */

struct chap_lists {
	struct chap_account **in;
	int *n_in;
	struct chap_account **out;
};

static struct chap_lists chap_lists_of(struct cfg_parser *p)
{
	if (p->sect->kind == CS_DISCOVERY)
		return (struct chap_lists){ &p->cfg->disc_chap_in, &p->cfg->n_disc_chap_in,
					    &p->cfg->disc_chap_out };
	struct tgt_target_conf *t = cfg_cur_target(p);
	return (struct chap_lists){ &t->chap_in, &t->n_chap_in, &t->chap_out };
}

/* Read a secret file: the whole file, one trailing newline removed. */
static int read_secret_file(struct cfg_parser *p, const char *key, const char *path, char *buf,
			    size_t *len)
{
	if (path[0] != '/')
		return cfg_fail(p, "%s: secret file '%s' must be an absolute path", key, path);
	FILE *f = fopen(path, "re");
	if (!f)
		return cfg_fail(p, "%s: cannot read secret file '%s': %s", key, path,
				strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
		kwarn("%s: secret file %s is world-readable; chmod 600 it", p->src, path);
	size_t n = fread(buf, 1, CFG_SECRET_MAX + 2, f);
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

/* "user:secret" (inline) or "user:/path/to/secret" (from_file). */
static int parse_account(struct cfg_parser *p, const char *key, const char *v, bool from_file,
			 struct chap_account *a)
{
	const char *colon = strchr(v, ':');
	if (!colon || colon == v)
		return cfg_fail(p, "%s: expected USER:%s", key,
				from_file ? "/PATH/TO/SECRET" : "SECRET");
	size_t ul = (size_t)(colon - v);
	if (ul >= sizeof(a->user))
		return cfg_fail(p, "%s: CHAP user name longer than 255 bytes", key);
	memcpy(a->user, v, ul);
	a->user[ul] = '\0';
	char buf[CFG_SECRET_MAX + 2];
	size_t sl = strlen(colon + 1);
	if (from_file) {
		if (read_secret_file(p, key, colon + 1, buf, &sl) < 0)
			return -EINVAL;
	} else {
		memcpy(buf, colon + 1, sl < sizeof(buf) ? sl : sizeof(buf));
		p->has_secrets = true;
	}
	if (sl < CFG_SECRET_MIN || sl > CFG_SECRET_MAX)
		return cfg_fail(p,
				"%s: CHAP secret of user '%s' is %zu bytes; it must be %d..%d "
				"(RFC 7143 recommends at least 96 bits)",
				key, a->user, sl, CFG_SECRET_MIN, CFG_SECRET_MAX);
	memcpy(a->secret, buf, sl);
	a->secret_len = sl;
	return 0;
}

static int add_chap(struct cfg_parser *p, const char *key, const char *v, bool from_file)
{
	struct chap_account a;
	if (parse_account(p, key, v, from_file, &a) < 0)
		return -EINVAL;
	struct chap_lists l = chap_lists_of(p);
	for (int i = 0; i < *l.n_in; i++)
		if (strcmp((*l.in)[i].user, a.user) == 0)
			return cfg_fail(p, "%s: CHAP user '%s' is listed twice", key, a.user);
	struct chap_account *slot = lun_conf_grow(l.in, l.n_in, sizeof(a));
	if (!slot)
		return cfg_fail(p, "out of memory");
	*slot = a;
	return 0;
}

static int set_mutual(struct cfg_parser *p, const char *key, const char *v, bool from_file)
{
	struct chap_lists l = chap_lists_of(p);
	if (*l.out)
		return cfg_fail(p, "%s: the mutual CHAP account is already set", key);
	struct chap_account *a = calloc(1, sizeof(*a));
	if (!a)
		return cfg_fail(p, "out of memory");
	*l.out = a;
	return parse_account(p, key, v, from_file, a);
}

static int set_chap(struct cfg_parser *p, const char *k, const char *v)
{
	return add_chap(p, k, v, false);
}
static int set_chap_file(struct cfg_parser *p, const char *k, const char *v)
{
	return add_chap(p, k, v, true);
}
static int set_mchap(struct cfg_parser *p, const char *k, const char *v)
{
	return set_mutual(p, k, v, false);
}
static int set_mchap_file(struct cfg_parser *p, const char *k, const char *v)
{
	return set_mutual(p, k, v, true);
}

/* Mutual CHAP needs one-way CHAP first (the initiator authenticates first,
 * RFC 7143 12.1.3), and the two directions must not share a secret. */
static int chap_end(struct cfg_parser *p)
{
	struct chap_lists l = chap_lists_of(p);
	if (!*l.out)
		return 0;
	if (*l.n_in == 0)
		return cfg_fail_line(p, p->sect_line,
				     "mutual CHAP needs at least one 'chap = USER:SECRET'");
	for (int i = 0; i < *l.n_in; i++)
		if ((*l.in)[i].secret_len == (*l.out)->secret_len &&
		    memcmp((*l.in)[i].secret, (*l.out)->secret, (*l.out)->secret_len) == 0)
			return cfg_fail_line(
				p, p->sect_line,
				"mutual CHAP secret equals the secret of user '%s'; use "
				"different secrets for each direction",
				(*l.in)[i].user);
	return 0;
}

static void *no_obj(struct cfg_parser *p)
{
	return p->cfg;
}

static const struct cfg_key discovery_keys[] = {
	CK_LIST("chap", set_chap),
	CK_LIST("chap_file", set_chap_file),
	CK_FN("mutual_chap", set_mchap),
	CK_FN("mutual_chap_file", set_mchap_file),
};

/* ---- [target IQN] ---- */

static int target_begin(struct cfg_parser *p, const char *iqn)
{
	const char *why = iscsi_name_error(iqn);
	if (why)
		return cfg_fail(p, "target name '%s': %s", iqn, why);
	for (int i = 0; i < p->cfg->n_targets; i++)
		if (strcmp(p->cfg->targets[i].iqn, iqn) == 0)
			return cfg_fail(p, "target %s is defined twice", iqn);
	if (p->cfg->n_targets == TGT_MAX_TARGETS)
		return cfg_fail(p, "too many targets (at most %d)", TGT_MAX_TARGETS);
	struct tgt_target_conf *t = lun_conf_grow(&p->cfg->targets, &p->cfg->n_targets, sizeof(*t));
	if (!t)
		return cfg_fail(p, "out of memory");
	strcpy(t->iqn, iqn);
	p->cur_target = p->cfg->n_targets - 1;
	return 0;
}

static void *target_obj(struct cfg_parser *p)
{
	return cfg_cur_target(p);
}

static int set_alias(struct cfg_parser *p, const char *key, const char *v)
{
	if (strlen(v) >= sizeof(cfg_cur_target(p)->alias))
		return cfg_fail(p, "%s: longer than 255 bytes", key);
	strcpy(cfg_cur_target(p)->alias, v);
	return 0;
}

static int add_allow(struct cfg_parser *p, const char *key, const char *v)
{
	const char *why = iscsi_name_error(v);
	if (why)
		return cfg_fail(p, "%s: initiator name '%s': %s", key, v, why);
	struct tgt_target_conf *t = cfg_cur_target(p);
	for (int i = 0; i < t->n_acl; i++)
		if (strcmp(t->acl[i], v) == 0)
			return cfg_fail(p, "%s: %s is listed twice", key, v);
	char *slot = lun_conf_grow(&t->acl, &t->n_acl, sizeof(t->acl[0]));
	if (!slot)
		return cfg_fail(p, "out of memory");
	strcpy(slot, v);
	return 0;
}

static const struct cfg_key target_keys[] = {
	CK_FN("alias", set_alias),       CK_LIST("allow", add_allow),
	CK_LIST("chap", set_chap),       CK_LIST("chap_file", set_chap_file),
	CK_FN("mutual_chap", set_mchap), CK_FN("mutual_chap_file", set_mchap_file),
};

/* ---- [lun N] / [lun IQN:N] ---- */

static int cfg_find_target(struct cfg_parser *p, const char *iqn, size_t len)
{
	for (int i = 0; i < p->cfg->n_targets; i++)
		if (strlen(p->cfg->targets[i].iqn) == len &&
		    strncmp(p->cfg->targets[i].iqn, iqn, len) == 0)
			return i;
	return -1;
}

/* The LUN's target: "N" => the [target] above; "IQN:N" => that target. */
static int lun_owner(struct cfg_parser *p, const char *arg, const char **num)
{
	const char *colon = strrchr(arg, ':');
	*num = colon ? colon + 1 : arg;
	if (!colon) {
		if (p->cur_target < 0)
			return cfg_fail(p, "[lun %s] has no [target] section above it", arg);
		return 0;
	}
	int t = cfg_find_target(p, arg, (size_t)(colon - arg));
	if (t < 0)
		return cfg_fail(p, "[lun %s]: target %.*s is not defined above", arg,
				(int)(colon - arg), arg);
	p->cur_target = t;
	return 0;
}

static int lun_begin(struct cfg_parser *p, const char *arg)
{
	const char *num;
	uint64_t n;
	if (lun_owner(p, arg, &num) < 0 ||
	    cfg_u64(p, "LUN number", num, 0, SCSI_MAX_LUNS - 1, &n) < 0)
		return -EINVAL;
	struct tgt_target_conf *t = cfg_cur_target(p);
	for (int i = 0; i < t->n_luns; i++)
		if (t->luns[i].lun == n)
			return cfg_fail(p, "LUN %llu of %s is defined twice", (unsigned long long)n,
					t->iqn);
	struct tgt_lun_conf *l = lun_conf_grow(&t->luns, &t->n_luns, sizeof(*l));
	const char *iqn = cfg_store_str(p->cfg, t->iqn);
	if (!l || !iqn)
		return cfg_fail(p, "out of memory");
	l->lun = n;
	lun_conf_lun_init(&l->backend, &l->stor);
	l->ident = (struct scsi_lu_params){ .target_iqn = iqn,
					    .lun = n,
					    .vendor = "KURA",
					    .product = "kura-lun",
					    .thin = true,
					    .write_cache = true };
	return 0;
}

static void *lun_obj(struct cfg_parser *p)
{
	return cfg_cur_lun(p);
}

static int set_str(struct cfg_parser *p, const char *key, const char *v, const char **dst)
{
	*dst = cfg_store_str(p->cfg, v);
	return *dst ? 0 : cfg_fail(p, "%s: out of memory", key);
}

/* Printable ASCII of 1..max bytes (INQUIRY fields, SPC-4 4.3.1). */
static int set_ascii(struct cfg_parser *p, const char *key, const char *v, size_t max,
		     const char **dst)
{
	size_t n = strlen(v);
	if (n > max)
		return cfg_fail(p, "%s: '%s' is longer than %zu characters", key, v, max);
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return cfg_fail(p, "%s: only printable ASCII is allowed", key);
	return set_str(p, key, v, dst);
}

static int set_serial(struct cfg_parser *p, const char *k, const char *v)
{
	return set_ascii(p, k, v, 64, &cfg_cur_lun(p)->ident.serial);
}
static int set_vendor(struct cfg_parser *p, const char *k, const char *v)
{
	return set_ascii(p, k, v, 8, &cfg_cur_lun(p)->ident.vendor);
}
static int set_product(struct cfg_parser *p, const char *k, const char *v)
{
	return set_ascii(p, k, v, 16, &cfg_cur_lun(p)->ident.product);
}
static int set_revision(struct cfg_parser *p, const char *k, const char *v)
{
	return set_ascii(p, k, v, 4, &cfg_cur_lun(p)->ident.revision);
}

/* NAA-6 (IEEE Registered Extended, SPC-4 7.8.6.6.6): 16 hex digits for the
 * first half, or 32 for first half + vendor specific extension. */
static int set_naa(struct cfg_parser *p, const char *key, const char *v)
{
	size_t n = strlen(v);
	if ((n != 16 && n != 32) || !cfg_all_hex(v, n))
		return cfg_fail(p, "%s: '%s' must be 16 or 32 hex digits", key, v);
	if (v[0] != '6')
		return cfg_fail(p, "%s: '%s' must start with 6 (NAA IEEE Registered Extended)", key,
				v);
	char half[17];
	struct scsi_lu_params *id = &cfg_cur_lun(p)->ident;
	memcpy(half, v, 16);
	half[16] = '\0';
	id->naa = strtoull(half, NULL, 16);
	id->naa_ext = n == 32 ? strtoull(v + 16, NULL, 16) : 0;
	return 0;
}

/* Persistent reservations: what survives a restart (docs/reservations.md).
 * aptpl: only state an initiator asked to persist (APTPL, SPC-4 5.13.5);
 * all: every registration and reservation. */
static int set_pr_persist(struct cfg_parser *p, const char *key, const char *v)
{
	if (strcmp(v, "aptpl") && strcmp(v, "all"))
		return cfg_fail(p, "%s: '%s' must be aptpl or all", key, v);
	cfg_cur_lun(p)->ident.pr_persist_all = strcmp(v, "all") == 0;
	return 0;
}

static int set_unmap_gran_hint(struct cfg_parser *p, const char *key, const char *v)
{
	struct scsi_lu_params *id = &cfg_cur_lun(p)->ident;
	if (!strcmp(v, "auto"))
		id->unmap_gran_hint = SCSI_UG_AUTO;
	else if (!strcmp(v, "yes"))
		id->unmap_gran_hint = SCSI_UG_YES;
	else if (!strcmp(v, "no"))
		id->unmap_gran_hint = SCSI_UG_NO;
	else
		return cfg_fail(p, "%s: '%s' must be auto, yes or no", key, v);
	return 0;
}

/* READ CAPACITY(16) LBPPBE: a power of two from 512 to 64 KiB (checked
 * against block_size when the LU is created). */
static int set_phys_bs(struct cfg_parser *p, const char *key, const char *v)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || n < 512 || n > 65536 || (n & (n - 1)))
		return cfg_fail(p, "%s: '%s' must be a power of two from 512 to 65536", key, v);
	cfg_cur_lun(p)->ident.physical_block_size = (uint32_t)n;
	return 0;
}

/* Backend keys (backend, path, size, ..., pool, raid) are the registry's
 * (lun-backends/lun_registry.h); these are the LU's identity. */
static const struct cfg_key lun_keys[] = {
	CK_FLAG("thin", struct tgt_lun_conf, ident.thin),
	CK_FLAG("write_cache", struct tgt_lun_conf, ident.write_cache),
	CK_FN("unmap_granularity_hint", set_unmap_gran_hint),
	CK_FN("physical_block_size", set_phys_bs),
	CK_FLAG("removable", struct tgt_lun_conf, ident.removable),
	CK_FN("serial", set_serial),
	CK_FN("naa", set_naa),
	CK_FN("vendor", set_vendor),
	CK_FN("product", set_product),
	CK_FN("revision", set_revision),
	CK_FN("pr_persist", set_pr_persist),
};

static int lun_end(struct cfg_parser *p)
{
	struct lun_conf_lun l = cfg_lun_ref(p);
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->sect_line);
	return lun_registry_lun_end(&c, &l) < 0 ? cfg_reg_fail(p, &c) : 0;
}

/* ---- the table ---- */

#define CK_KEYS(t) t, sizeof(t) / sizeof(t[0])
const struct cfg_sect cfg_sections[] = {
	{ "global", CS_GLOBAL, false, true, NULL, NULL, global_obj, CK_KEYS(global_keys) },
	{ "portal", CS_PORTAL, true, false, portal_begin, portal_end, portal_obj,
	  CK_KEYS(portal_keys) },
	{ "limits", CS_LIMITS, false, true, NULL, limits_end, limits_obj, CK_KEYS(limits_keys) },
	{ "discovery", CS_DISCOVERY, false, true, NULL, chap_end, no_obj, CK_KEYS(discovery_keys) },
	{ "target", CS_TARGET, true, false, target_begin, chap_end, target_obj,
	  CK_KEYS(target_keys) },
	{ "lun", CS_LUN, true, false, lun_begin, lun_end, lun_obj, CK_KEYS(lun_keys) },
};

const size_t cfg_n_sections = sizeof(cfg_sections) / sizeof(cfg_sections[0]);
