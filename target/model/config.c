/* Configuration of kura-targetd: reads the INI file (or the embedded
 * default) into a struct tgt_config, validates every value with a precise
 * "FILE:LINE: reason", applies command-line overrides, and opens the LUNs.
 *
 * inih does the lexing; everything else is here. We feed inih through our own
 * line reader (ini_parse_stream) because the packaged inih neither reports a
 * line number to the handler nor announces empty sections: the reader counts
 * lines, strips indentation (so indented keys are never taken for inih's
 * continuation lines), refuses over-long lines, and sees "[section]" headers
 * as they pass. Each section kind has a declarative key table; generic
 * setters fill numbers and booleans by offset, the rest have small setters.
 *
 * Not for: running anything (server.c), daemon concerns (main.c), the
 * negotiation semantics of the limits (iscsi_login.c). The reference for
 * every key is docs/configuration.md; keep the two in step.
 */
#include "target/model/tgt.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>
#include "common/log.h"
#include "lun-backends/lun_registry.h"

#define CFG_MAX_KEYS 24
#define CFG_SECRET_MIN 12     /* RFC 7143 recommends at least 96 bits */
#define CFG_SECRET_MAX 255
#define CFG_ISCSI_NAME_MAX 223

/* ---------------------------------------------------------------- storage */

/* Strings the config points at (backend params, LU identity) live in a
 * list of nodes hung off cfg->storage and freed by tgt_config_free(). */
struct cfg_str {
	struct cfg_str *next;
	char s[];
};

static const char *store_str(struct tgt_config *cfg, const char *s)
{
	size_t n = strlen(s) + 1;
	struct cfg_str *node = malloc(sizeof(*node) + n);
	if (!node)
		return NULL;
	memcpy(node->s, s, n);
	node->next = cfg->storage;
	cfg->storage = node;
	return node->s;
}

static void store_free(struct tgt_config *cfg)
{
	struct cfg_str *n = cfg->storage;
	while (n) {
		struct cfg_str *next = n->next;
		free(n);
		n = next;
	}
	cfg->storage = NULL;
}

/* Grow *arr (of elem-byte items, *n in use) by one zeroed item. */
static void *cfg_grow(void *arr_p, int *n, size_t elem)
{
	void **arr = arr_p;
	char *a = realloc(*arr, (size_t)(*n + 1) * elem);
	if (!a)
		return NULL;
	memset(a + (size_t)*n * elem, 0, elem);
	*arr = a;
	return a + (size_t)(*n)++ * elem;
}

/* ---------------------------------------------------------------- parser state */

enum cfg_sect_kind { CS_GLOBAL, CS_PORTAL, CS_LIMITS, CS_DISCOVERY, CS_TARGET, CS_LUN, CS_STACK };

struct cfg_parser;

enum cfg_key_type { CK_U32, CK_U16, CK_INT, CK_BOOL, CK_FUNC };

struct cfg_key {
	const char *name;
	enum cfg_key_type type;
	size_t off;                   /* into the section's object (K_U32..K_BOOL) */
	uint64_t min, max;
	int (*set)(struct cfg_parser *p, const char *key, const char *v);  /* K_FUNC */
	bool repeatable;
	bool empty_ok;
};

struct cfg_sect {
	const char *name;
	enum cfg_sect_kind kind;
	bool has_arg;
	bool singleton;
	int (*begin)(struct cfg_parser *p, const char *arg);
	int (*end)(struct cfg_parser *p);
	void *(*obj)(struct cfg_parser *p);
	const struct cfg_key *keys;
	size_t n_keys;
};

struct cfg_parser {
	struct tgt_config *cfg;
	const char *src;              /* for messages */
	FILE *file;                   /* input: file ... */
	const char *str;              /* ... or string cursor */
	char *line;                   /* getline buffer */
	size_t line_cap;
	int lineno;
	const struct cfg_sect *sect;  /* current section, NULL before the first */
	int sect_line;
	int seen[CFG_MAX_KEYS];       /* line a key was set on in this section, 0 = unset */
	unsigned seen_sect;           /* bit per enum sect_kind for the singleton sections */
	bool rel_given[TGT_MAX_PORTALS];
	int cur_target;               /* index, -1 before the first [target] */
	bool has_secrets;             /* inline secrets: warn if the file is world-readable */
	bool failed;
	char *err;
	size_t errlen;
	const struct lun_section *reg_sect;  /* current section is the registry's ([raid], [pool]) */
	struct cfg_sect reg_row;      /* ... seen through this row */
	void *reg_obj;                /* the object its keys fill */
	char why[512];                /* a refusal of the registry */
};

static int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
{
	if (p->failed)
		return -EINVAL;
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->src, line, why);
	p->failed = true;
	return -EINVAL;
}
#define cfg_fail(p, ...) cfg_fail_line((p), (p)->lineno, __VA_ARGS__)

static struct tgt_target *cur_target(struct cfg_parser *p)
{
	return &p->cfg->targets[p->cur_target];
}

static struct tgt_lun_conf *cur_lun(struct cfg_parser *p)
{
	struct tgt_target *t = cur_target(p);
	return &t->luns[t->n_luns - 1];
}

/* ---------------------------------------------------------------- value parsers */

static int cfg_u64(struct cfg_parser *p, const char *key, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return cfg_fail(p, "%s: '%s' is not a number", key, v);
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end)
		return cfg_fail(p, "%s: '%s' is not a number", key, v);
	if (errno == ERANGE || x < min || x > max)
		return cfg_fail(p, "%s: %s is out of range %llu..%llu", key, v,
			    (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

static const struct { const char *word; bool val; } bool_words[] = {
	{ "yes", true }, { "true", true }, { "on", true }, { "1", true },
	{ "no", false }, { "false", false }, { "off", false }, { "0", false },
};

static int cfg_bool(struct cfg_parser *p, const char *key, const char *v, bool *out)
{
	for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++)
		if (strcasecmp(v, bool_words[i].word) == 0) {
			*out = bool_words[i].val;
			return 0;
		}
	return cfg_fail(p, "%s: '%s' is not yes or no", key, v);
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

static bool iqn_char(char c)
{
	return (c >= 'a' && c <= 'z') || isdigit((unsigned char)c) || c == '-' || c == '.' ||
	       c == ':';
}

/* "iqn.YYYY-MM.reverse.domain[:anything]" (RFC 7143 4.2.7.2). */
static const char *check_iqn(const char *s)
{
	const char *d = s + 4;
	if (strlen(s) < 12 || !isdigit((unsigned char)d[0]) || !isdigit((unsigned char)d[1]) ||
	    !isdigit((unsigned char)d[2]) || !isdigit((unsigned char)d[3]) || d[4] != '-' ||
	    !isdigit((unsigned char)d[5]) || !isdigit((unsigned char)d[6]) || d[7] != '.')
		return "iqn names look like iqn.YYYY-MM.reverse.domain[:suffix]";
	int month = (d[5] - '0') * 10 + (d[6] - '0');
	if (month < 1 || month > 12)
		return "month in iqn.YYYY-MM must be 01..12";
	const char *dom = d + 8;
	if (!isalnum((unsigned char)*dom) || *dom == ':')
		return "iqn naming authority (reverse domain) is missing";
	for (const char *c = dom; *c; c++)
		if (!iqn_char(*c))
			return isupper((unsigned char)*c) ? "iSCSI names are lower case (RFC 3722)"
							  : "iqn names use only a-z 0-9 - . :";
	return NULL;
}

/* NULL if s is a valid iSCSI name, else the reason. */
static const char *cfg_name_error(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return "empty iSCSI name";
	if (n > CFG_ISCSI_NAME_MAX)
		return "iSCSI names are at most 223 bytes";
	if (strncmp(s, "iqn.", 4) == 0)
		return check_iqn(s);
	if (strncmp(s, "eui.", 4) == 0)
		return all_hex(s + 4, 16) ? NULL : "eui. names have exactly 16 hex digits";
	if (strncmp(s, "naa.", 4) == 0)
		return all_hex(s + 4, 16) || all_hex(s + 4, 32) ? NULL
								: "naa. names have 16 or 32 hex digits";
	return "iSCSI names start with iqn., eui. or naa.";
}

/* "1.2.3.4:3260", "[fe80::1]:3260", "0.0.0.0" (port 3260). */
static int cfg_parse_portal(const char *s, struct tgt_portal *out, const char **why)
{
	char host[64];
	const char *port = NULL;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			return *why = "missing ']' after IPv6 address", -EINVAL;
		hl = (size_t)(rb - s - 1);
		s++;
		port = rb[1] == ':' ? rb + 2 : rb[1] ? rb + 1 : NULL;
		if (port == rb + 1)
			return *why = "expected ':PORT' after ']'", -EINVAL;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return *why = "write IPv6 addresses as [ADDRESS]:PORT", -EINVAL;
		hl = colon ? (size_t)(colon - s) : strlen(s);
		port = colon ? colon + 1 : NULL;
	}
	if (hl == 0 || hl >= sizeof(host))
		return *why = "missing or over-long address", -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	unsigned char bin[16];
	int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, host, bin) != 1)
		return *why = fam == AF_INET6 ? "not a numeric IPv6 address"
					      : "not a numeric IPv4 address", -EINVAL;
	unsigned long pn = 3260;
	if (port) {
		char *end;
		pn = isdigit((unsigned char)*port) ? strtoul(port, &end, 10) : 0;
		if (!isdigit((unsigned char)*port) || *end || pn < 1 || pn > 65535)
			return *why = "port must be a number 1..65535", -EINVAL;
	}
	snprintf(out->addr, sizeof(out->addr), "%s", host);
	out->port = (uint16_t)pn;
	return 0;
}

/* ---------------------------------------------------------------- key tables */

/* Key table rows: a number or boolean stored by offset, or a setter. */
#define CK_NUM(n, t, st, f, lo, hi) { .name = n, .type = t, .off = offsetof(st, f), .min = lo, .max = hi }
#define CK_FLAG(n, st, f) { .name = n, .type = CK_BOOL, .off = offsetof(st, f) }
#define CK_FN(n, fn) { .name = n, .type = CK_FUNC, .set = fn }
#define CK_LIST(n, fn) { .name = n, .type = CK_FUNC, .set = fn, .repeatable = true }

static int cfg_set_generic(struct cfg_parser *p, const struct cfg_key *k, const char *v)
{
	char *o = (char *)p->sect->obj(p) + k->off;
	uint64_t x = 0;
	if (k->type == CK_BOOL)
		return cfg_bool(p, k->name, v, (bool *)o);
	if (cfg_u64(p, k->name, v, k->min, k->max, &x) < 0)
		return -EINVAL;
	if (k->type == CK_U32)
		*(uint32_t *)o = (uint32_t)x;
	else if (k->type == CK_U16)
		*(uint16_t *)o = (uint16_t)x;
	else
		*(int *)o = (int)x;
	return 0;
}

/* ---- [global] ---- */

static int set_data_dir(struct cfg_parser *p, const char *key, const char *v)
{
	if (v[0] != '/')
		return cfg_fail(p, "%s: '%s' must be an absolute path", key, v);
	if (strlen(v) >= sizeof(p->cfg->data_dir))
		return cfg_fail(p, "%s: path too long", key);
	strcpy(p->cfg->data_dir, v);
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

static const struct cfg_key global_keys[] = {
	CK_FN("data_dir", set_data_dir),
	CK_NUM("workers", CK_INT, struct tgt_config, workers, 0, 256),
	CK_FN("log_level", set_log_level),
	CK_NUM("nop_interval_ms", CK_U32, struct tgt_config, nop_interval_ms, 0, 3600000),
	CK_NUM("nop_timeout_ms", CK_U32, struct tgt_config, nop_timeout_ms, 1000, 3600000),
	CK_NUM("queue_depth", CK_U32, struct tgt_config, queue_depth, 1, 65536),
	{ "user", CK_FUNC, .set = set_user, .empty_ok = true },
};

static void *global_obj(struct cfg_parser *p) { return p->cfg; }

/* ---- [portal NAME] ---- */

static struct tgt_portal *cur_portal(struct cfg_parser *p)
{
	return &p->cfg->portals[p->cfg->n_portals - 1];
}

static void *portal_obj(struct cfg_parser *p) { return cur_portal(p); }

static int portal_begin(struct cfg_parser *p, const char *name)
{
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return cfg_fail(p, "portal name '%s': use letters, digits, '.', '_' or '-'", name);
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
		if (strcmp(p->cfg->portals[i].addr, pt->addr) == 0 && p->cfg->portals[i].port == pt->port)
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
	return 0;
}

/* ---- [limits] ---- */

static void *limits_obj(struct cfg_parser *p) { return &p->cfg->limits; }

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

static const struct { const char *name; enum chap_digest d; } chap_digest_names[] = {
	{ "md5", CHAP_MD5 }, { "sha1", CHAP_SHA1 }, { "sha256", CHAP_SHA256 },
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
			return cfg_fail(p, "%s: '%.*s' is not one of sha3-256, sha256, sha1, md5", key,
				    (int)len, s);
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
		return cfg_fail_line(p, p->sect_line,
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
	struct tgt_target *t = cur_target(p);
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
		return cfg_fail(p, "%s: cannot read secret file '%s': %s", key, path, strerror(errno));
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
		return cfg_fail(p, "%s: expected USER:%s", key, from_file ? "/PATH/TO/SECRET" : "SECRET");
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
		return cfg_fail(p, "%s: CHAP secret of user '%s' is %zu bytes; it must be %d..%d "
			    "(RFC 7143 recommends at least 96 bits)", key, a->user, sl,
			    CFG_SECRET_MIN, CFG_SECRET_MAX);
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
	struct chap_account *slot = cfg_grow(l.in, l.n_in, sizeof(a));
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

static int set_chap(struct cfg_parser *p, const char *k, const char *v) { return add_chap(p, k, v, false); }
static int set_chap_file(struct cfg_parser *p, const char *k, const char *v) { return add_chap(p, k, v, true); }
static int set_mchap(struct cfg_parser *p, const char *k, const char *v) { return set_mutual(p, k, v, false); }
static int set_mchap_file(struct cfg_parser *p, const char *k, const char *v) { return set_mutual(p, k, v, true); }

/* Mutual CHAP needs one-way CHAP first (the initiator authenticates first,
 * RFC 7143 12.1.3), and the two directions must not share a secret. */
static int chap_end(struct cfg_parser *p)
{
	struct chap_lists l = chap_lists_of(p);
	if (!*l.out)
		return 0;
	if (*l.n_in == 0)
		return cfg_fail_line(p, p->sect_line, "mutual CHAP needs at least one 'chap = USER:SECRET'");
	for (int i = 0; i < *l.n_in; i++)
		if ((*l.in)[i].secret_len == (*l.out)->secret_len &&
		    memcmp((*l.in)[i].secret, (*l.out)->secret, (*l.out)->secret_len) == 0)
			return cfg_fail_line(p, p->sect_line,
					 "mutual CHAP secret equals the secret of user '%s'; use "
					 "different secrets for each direction", (*l.in)[i].user);
	return 0;
}

static void *no_obj(struct cfg_parser *p) { return p->cfg; }

static const struct cfg_key discovery_keys[] = {
	CK_LIST("chap", set_chap),
	CK_LIST("chap_file", set_chap_file),
	CK_FN("mutual_chap", set_mchap),
	CK_FN("mutual_chap_file", set_mchap_file),
};

/* ---- [target IQN] ---- */

static int target_begin(struct cfg_parser *p, const char *iqn)
{
	const char *why = cfg_name_error(iqn);
	if (why)
		return cfg_fail(p, "target name '%s': %s", iqn, why);
	for (int i = 0; i < p->cfg->n_targets; i++)
		if (strcmp(p->cfg->targets[i].iqn, iqn) == 0)
			return cfg_fail(p, "target %s is defined twice", iqn);
	if (p->cfg->n_targets == TGT_MAX_TARGETS)
		return cfg_fail(p, "too many targets (at most %d)", TGT_MAX_TARGETS);
	struct tgt_target *t = cfg_grow(&p->cfg->targets, &p->cfg->n_targets, sizeof(*t));
	if (!t)
		return cfg_fail(p, "out of memory");
	strcpy(t->iqn, iqn);
	p->cur_target = p->cfg->n_targets - 1;
	return 0;
}

static void *target_obj(struct cfg_parser *p) { return cur_target(p); }

static int set_alias(struct cfg_parser *p, const char *key, const char *v)
{
	if (strlen(v) >= sizeof(cur_target(p)->alias))
		return cfg_fail(p, "%s: longer than 255 bytes", key);
	strcpy(cur_target(p)->alias, v);
	return 0;
}

static int add_allow(struct cfg_parser *p, const char *key, const char *v)
{
	const char *why = cfg_name_error(v);
	if (why)
		return cfg_fail(p, "%s: initiator name '%s': %s", key, v, why);
	struct tgt_target *t = cur_target(p);
	for (int i = 0; i < t->n_acl; i++)
		if (strcmp(t->acl[i], v) == 0)
			return cfg_fail(p, "%s: %s is listed twice", key, v);
	char *slot = cfg_grow(&t->acl, &t->n_acl, sizeof(t->acl[0]));
	if (!slot)
		return cfg_fail(p, "out of memory");
	strcpy(slot, v);
	return 0;
}

static const struct cfg_key target_keys[] = {
	CK_FN("alias", set_alias),
	CK_LIST("allow", add_allow),
	CK_LIST("chap", set_chap),
	CK_LIST("chap_file", set_chap_file),
	CK_FN("mutual_chap", set_mchap),
	CK_FN("mutual_chap_file", set_mchap_file),
};

/* ---- [lun N] / [lun IQN:N] ---- */

static int cfg_find_target(struct cfg_parser *p, const char *iqn, size_t len)
{
	for (int i = 0; i < p->cfg->n_targets; i++)
		if (strlen(p->cfg->targets[i].iqn) == len && strncmp(p->cfg->targets[i].iqn, iqn, len) == 0)
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
		return cfg_fail(p, "[lun %s]: target %.*s is not defined above", arg, (int)(colon - arg), arg);
	p->cur_target = t;
	return 0;
}

static int lun_begin(struct cfg_parser *p, const char *arg)
{
	const char *num;
	uint64_t n;
	if (lun_owner(p, arg, &num) < 0 || cfg_u64(p, "LUN number", num, 0, SCSI_MAX_LUNS - 1, &n) < 0)
		return -EINVAL;
	struct tgt_target *t = cur_target(p);
	for (int i = 0; i < t->n_luns; i++)
		if (t->luns[i].lun == n)
			return cfg_fail(p, "LUN %llu of %s is defined twice", (unsigned long long)n, t->iqn);
	struct tgt_lun_conf *l = cfg_grow(&t->luns, &t->n_luns, sizeof(*l));
	const char *iqn = store_str(p->cfg, t->iqn);
	if (!l || !iqn)
		return cfg_fail(p, "out of memory");
	l->lun = n;
	lun_conf_lun_init(&l->backend, &l->stor);
	l->ident = (struct scsi_lu_params){ .target_iqn = iqn, .lun = n, .vendor = "KURA",
					    .product = "kura-lun", .thin = true, .write_cache = true };
	return 0;
}

static void *lun_obj(struct cfg_parser *p) { return cur_lun(p); }

static int set_str(struct cfg_parser *p, const char *key, const char *v, const char **dst)
{
	*dst = store_str(p->cfg, v);
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

static int set_serial(struct cfg_parser *p, const char *k, const char *v) { return set_ascii(p, k, v, 64, &cur_lun(p)->ident.serial); }
static int set_vendor(struct cfg_parser *p, const char *k, const char *v) { return set_ascii(p, k, v, 8, &cur_lun(p)->ident.vendor); }
static int set_product(struct cfg_parser *p, const char *k, const char *v) { return set_ascii(p, k, v, 16, &cur_lun(p)->ident.product); }
static int set_revision(struct cfg_parser *p, const char *k, const char *v) { return set_ascii(p, k, v, 4, &cur_lun(p)->ident.revision); }

/* NAA-6 (IEEE Registered Extended, SPC-4 7.8.6.6.6): 16 hex digits for the
 * first half, or 32 for first half + vendor specific extension. */
static int set_naa(struct cfg_parser *p, const char *key, const char *v)
{
	size_t n = strlen(v);
	if ((n != 16 && n != 32) || !all_hex(v, n))
		return cfg_fail(p, "%s: '%s' must be 16 or 32 hex digits", key, v);
	if (v[0] != '6')
		return cfg_fail(p, "%s: '%s' must start with 6 (NAA IEEE Registered Extended)", key, v);
	char half[17];
	struct scsi_lu_params *id = &cur_lun(p)->ident;
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
	cur_lun(p)->ident.pr_persist_all = strcmp(v, "all") == 0;
	return 0;
}

static int set_unmap_gran_hint(struct cfg_parser *p, const char *key, const char *v)
{
	struct scsi_lu_params *id = &cur_lun(p)->ident;
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

/* Backend keys (backend, path, size, ..., pool, raid) are the registry's
 * (lun-backends/lun_registry.h); these are the LU's identity. */
static const struct cfg_key lun_keys[] = {
	CK_FLAG("thin", struct tgt_lun_conf, ident.thin),
	CK_FLAG("write_cache", struct tgt_lun_conf, ident.write_cache),
	CK_FN("unmap_granularity_hint", set_unmap_gran_hint),
	CK_FN("serial", set_serial),
	CK_FN("naa", set_naa),
	CK_FN("vendor", set_vendor),
	CK_FN("product", set_product),
	CK_FN("revision", set_revision),
	CK_FN("pr_persist", set_pr_persist),
};

/* ---- the backend registry's keys and sections ---- */

static const char *ctx_store(void *cfg, const char *s) { return store_str(cfg, s); }

static struct lun_conf_ctx reg_ctx(struct cfg_parser *p, int line)
{
	return (struct lun_conf_ctx){ .why = p->why, .whylen = sizeof(p->why), .line = line,
				      .store = ctx_store, .arg = p->cfg };
}

/* A refusal of the registry, at its line. */
static int reg_fail(struct cfg_parser *p, const struct lun_conf_ctx *c)
{
	return cfg_fail_line(p, c->err_line ? c->err_line : c->line, "%s", c->why);
}

static struct lun_conf_lun cur_lun_ref(struct cfg_parser *p)
{
	return (struct lun_conf_lun){ &cur_lun(p)->backend, &cur_lun(p)->stor };
}

static int lun_end(struct cfg_parser *p)
{
	struct lun_conf_lun l = cur_lun_ref(p);
	struct lun_conf_ctx c = reg_ctx(p, p->sect_line);
	return lun_registry_lun_end(&c, &l) < 0 ? reg_fail(p, &c) : 0;
}

static int reg_sect_begin(struct cfg_parser *p, const char *arg)
{
	struct lun_conf_ctx c = reg_ctx(p, p->lineno);
	p->reg_obj = p->reg_sect->begin(&c, &p->cfg->stack, arg);
	return p->reg_obj ? 0 : reg_fail(p, &c);
}

static int reg_sect_end(struct cfg_parser *p)
{
	struct lun_conf_ctx c = reg_ctx(p, p->sect_line);
	return p->reg_sect->end(&c, &p->cfg->stack, p->reg_obj) < 0 ? reg_fail(p, &c) : 0;
}

/* After the whole file: pool data names a [raid] (else it is a path) and
 * each LUN names sections that exist. */
static int resolve_storage(struct cfg_parser *p)
{
	struct tgt_config *cfg = p->cfg;
	lun_stack_resolve(&cfg->stack);
	for (int t = 0; t < cfg->n_targets; t++)
		for (int j = 0; j < cfg->targets[t].n_luns; j++) {
			const struct tgt_lun_conf *l = &cfg->targets[t].luns[j];
			struct lun_conf_ctx c = reg_ctx(p, p->lineno);
			if (lun_registry_lun_resolve(&c, &cfg->stack, &l->backend, &l->stor) < 0)
				return reg_fail(p, &c);
		}
	return 0;
}

/* ---------------------------------------------------------------- section table */

#define CK_KEYS(t) t, sizeof(t) / sizeof(t[0])
static const struct cfg_sect cfg_sections[] = {
	{ "global", CS_GLOBAL, false, true, NULL, NULL, global_obj, CK_KEYS(global_keys) },
	{ "portal", CS_PORTAL, true, false, portal_begin, portal_end, portal_obj, CK_KEYS(portal_keys) },
	{ "limits", CS_LIMITS, false, true, NULL, limits_end, limits_obj, CK_KEYS(limits_keys) },
	{ "discovery", CS_DISCOVERY, false, true, NULL, chap_end, no_obj, CK_KEYS(discovery_keys) },
	{ "target", CS_TARGET, true, false, target_begin, chap_end, target_obj, CK_KEYS(target_keys) },
	{ "lun", CS_LUN, true, false, lun_begin, lun_end, lun_obj, CK_KEYS(lun_keys) },
};

/* "global, portal, ..., lun" and the registry's sections ("raid, pool"). */
static void section_names(char *out, size_t len)
{
	size_t o = 0, n = sizeof(cfg_sections) / sizeof(cfg_sections[0]);
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", cfg_sections[i].name);
	for (size_t i = 0; lun_registry_section_at(i) && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, ", %s", lun_registry_section_at(i)->name);
}

/* A section of the backend registry ([raid NAME], [pool NAME]): a row of
 * the parser's own, whose keys the registry looks up. */
static const struct cfg_sect *reg_section(struct cfg_parser *p, const char *name, size_t len)
{
	p->reg_sect = lun_registry_section(name, len);
	if (!p->reg_sect)
		return NULL;
	p->reg_row = (struct cfg_sect){ p->reg_sect->name, CS_STACK, true, false, reg_sect_begin,
					reg_sect_end, NULL, NULL, 0 };
	return &p->reg_row;
}

static int cfg_section_end(struct cfg_parser *p)
{
	if (!p->sect || p->failed || !p->sect->end)
		return p->failed ? -EINVAL : 0;
	return p->sect->end(p);
}

static const struct cfg_sect *cfg_find_section(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(cfg_sections) / sizeof(cfg_sections[0]); i++)
		if (strlen(cfg_sections[i].name) == len && strncmp(cfg_sections[i].name, name, len) == 0)
			return &cfg_sections[i];
	return NULL;
}

/* "[kind]" or "[kind ARG]"; text is what lies between the brackets. */
static int cfg_section_begin(struct cfg_parser *p, const char *text)
{
	if (cfg_section_end(p) < 0)
		return -EINVAL;
	size_t kl = strcspn(text, " \t");
	const char *arg = text + kl + strspn(text + kl, " \t");
	const struct cfg_sect *s = cfg_find_section(text, kl);
	char known[256];
	if (!s && !(s = reg_section(p, text, kl))) {
		section_names(known, sizeof(known));
		return cfg_fail(p, "unknown section [%s] (known: %s)", text, known);
	}
	if (s != &p->reg_row)
		p->reg_sect = NULL;
	if (s->has_arg != (*arg != '\0'))
		return cfg_fail(p, s->has_arg ? "[%s] needs a name: [%s NAME]" : "[%s] takes no name",
			    s->name, s->name);
	if (arg[strcspn(arg, " \t")])
		return cfg_fail(p, "[%s %s]: the name must not contain spaces", s->name, arg);
	if (s->singleton && (p->seen_sect & (1u << s->kind)))
		return cfg_fail(p, "section [%s] appears twice", s->name);
	p->seen_sect |= 1u << s->kind;
	p->sect = s;
	p->sect_line = p->lineno;
	memset(p->seen, 0, sizeof(p->seen));
	return s->begin ? s->begin(p, arg) : 0;
}

/* ---------------------------------------------------------------- inih glue */

static const struct cfg_key *cfg_find_key(const struct cfg_sect *s, const char *name)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	return NULL;
}

/* A key of the registry: in one of its sections, or a [lun]'s backend key.
 * NULL if it knows none; *seen: the key's slot in p->seen. */
static const struct lun_key *reg_find_key(struct cfg_parser *p, const char *name, size_t *seen)
{
	if (p->reg_sect) {
		for (size_t i = 0; i < p->reg_sect->n_keys; i++)
			if (strcmp(p->reg_sect->keys[i].name, name) == 0)
				return *seen = i, &p->reg_sect->keys[i];
		return NULL;
	}
	size_t i = 0;
	const struct lun_key *k = p->sect->kind == CS_LUN ? lun_registry_lun_key(name, &i) : NULL;
	*seen = p->sect->n_keys + i;
	return k;
}

static int reg_set_key(struct cfg_parser *p, const struct lun_key *k, const char *name, const char *value)
{
	struct lun_conf_ctx c = reg_ctx(p, p->lineno);
	struct lun_conf_lun l = { NULL, NULL };
	if (!p->reg_sect)
		l = cur_lun_ref(p);
	if (!*value)
		return cfg_fail(p, "'%s' has an empty value", name);
	return k->set(&c, p->reg_sect ? p->reg_obj : &l, name, value) < 0 ? reg_fail(p, &c) : 0;
}

/* Same key twice in a section: refused unless the key is a list. */
static int key_seen(struct cfg_parser *p, const char *name, size_t i, bool repeatable)
{
	if (i >= CFG_MAX_KEYS)
		return cfg_fail(p, "'%s': too many keys in [%s]", name, p->sect->name);
	if (!repeatable && p->seen[i])
		return cfg_fail(p, "'%s' is set twice in this section (first on line %d)", name, p->seen[i]);
	p->seen[i] = p->lineno;
	return 0;
}

static int cfg_set_key(struct cfg_parser *p, const char *name, const char *value)
{
	if (!p->sect)
		return cfg_fail(p, "'%s' is outside any [section]", name);
	const struct cfg_key *k = p->reg_sect ? NULL : cfg_find_key(p->sect, name);
	size_t i = k ? (size_t)(k - p->sect->keys) : 0;
	const struct lun_key *rk = k ? NULL : reg_find_key(p, name, &i);
	if (!k && !rk)
		return cfg_fail(p, "unknown key '%s' in [%s]", name, p->sect->name);
	if (key_seen(p, name, i, k ? k->repeatable : rk->repeatable) < 0)
		return -EINVAL;
	if (rk)
		return reg_set_key(p, rk, name, value);
	if (!*value && !k->empty_ok)
		return cfg_fail(p, "'%s' has an empty value", name);
	return k->type == CK_FUNC ? k->set(p, name, value) : cfg_set_generic(p, k, value);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parser *p = user;
	(void)section;      /* inih truncates long section names; we track our own */
	if (p->failed)
		return 1;
	return cfg_set_key(p, name, value) == 0;
}

/* Next raw line without its newline, or NULL at end of input. */
static const char *next_line(struct cfg_parser *p, size_t *len)
{
	if (p->file) {
		ssize_t n = getline(&p->line, &p->line_cap, p->file);
		if (n < 0)
			return NULL;
		*len = (size_t)n;
	} else {
		if (!*p->str)
			return NULL;
		*len = strcspn(p->str, "\n") + (p->str[strcspn(p->str, "\n")] == '\n');
		const char *s = p->str;
		p->str += *len;
		return s;
	}
	return p->line;
}

/* The ini_reader: one line per call, counted, indentation removed,
 * section headers handled before inih sees them. */
static char *cfg_reader(char *buf, int num, void *stream)
{
	struct cfg_parser *p = stream;
	size_t len;
	const char *s = p->failed ? NULL : next_line(p, &len);
	if (!s)
		return NULL;
	p->lineno++;
	if (p->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3, len -= 3;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	while (len && isspace((unsigned char)*s))
		s++, len--;
	if (len > (size_t)num - 2) {
		cfg_fail(p, "line longer than %d characters (put long secrets in a chap_file)", num - 2);
		return NULL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *rb = buf[0] == '[' ? strchr(buf, ']') : NULL;
	if (rb) {
		char text[256];
		snprintf(text, sizeof(text), "%.*s", (int)(rb - buf - 1), buf + 1);
		if (cfg_section_begin(p, text) < 0)
			return NULL;
	}
	return buf;
}

/* ---------------------------------------------------------------- load */

static void config_defaults(struct tgt_config *cfg, const char *src)
{
	memset(cfg, 0, sizeof(*cfg));
	iscsi_target_limits_default(&cfg->limits);
	strcpy(cfg->data_dir, "/var/lib/kura");
	cfg->nop_interval_ms = 5000;
	cfg->nop_timeout_ms = 15000;
	cfg->queue_depth = 256;
	cfg->log_level = -1;
	snprintf(cfg->source, sizeof(cfg->source), "%s", src);
	pthread_mutex_init(&cfg->live_lock, NULL);
}

/* Portals without rel_port_id get the lowest free ids, in file order. */
static void assign_rel_port_ids(struct cfg_parser *p)
{
	struct tgt_config *cfg = p->cfg;
	uint16_t next = 1;
	for (int i = 0; i < cfg->n_portals; i++) {
		if (p->rel_given[i])
			continue;
		for (bool clash = true; clash; next++) {
			clash = false;
			for (int j = 0; j < cfg->n_portals; j++)
				clash |= p->rel_given[j] && cfg->portals[j].rel_port_id == next;
			if (!clash)
				cfg->portals[i].rel_port_id = next;
		}
	}
}

static int cfg_finish(struct cfg_parser *p)
{
	struct tgt_config *cfg = p->cfg;
	if (cfg->n_targets == 0)
		return cfg_fail(p, "no [target IQN] section: nothing to serve");
	if (cfg->n_portals == 0) {
		const char *why;
		cfg_parse_portal("0.0.0.0:3260", &cfg->portals[0], &why);
		cfg->portals[0].tpgt = cfg->portals[0].tpg_id = 1;
		cfg->n_portals = 1;
	}
	assign_rel_port_ids(p);
	return resolve_storage(p);
}

static int cfg_parse(struct cfg_parser *p)
{
	int line = ini_parse_stream(cfg_reader, p, on_key, p);
	if (line > 0 && (!p->failed || line < p->lineno)) {
		p->failed = false;
		return cfg_fail_line(p, line, "syntax error: expected [section] or key = value");
	}
	if (line < 0)
		return cfg_fail(p, "out of memory");
	if (cfg_section_end(p) < 0)
		return -EINVAL;
	return cfg_finish(p);
}

/* Parse from p->file or p->str into a defaulted cfg; frees cfg on error. */
static int cfg_load(struct cfg_parser *p, const char *src)
{
	config_defaults(p->cfg, src);
	p->src = p->cfg->source;
	p->cur_target = -1;
	int r = cfg_parse(p);
	free(p->line);
	if (r < 0)
		tgt_config_free(p->cfg);
	return r;
}

/* Parse INI text (the embedded default, or a test's snippet). */
static int load_text(const char *text, const char *src, struct tgt_config *cfg, char *err,
		     size_t errlen)
{
	struct cfg_parser p = { .cfg = cfg, .str = text, .err = err, .errlen = errlen };
	return cfg_load(&p, src);
}

int tgt_config_load(const char *path, struct tgt_config *cfg, char *err, size_t errlen)
{
	if (!path)
		return load_text(tgt_default_config, "<embedded>", cfg, err, errlen);
	struct cfg_parser p = { .cfg = cfg, .err = err, .errlen = errlen };
	if (!(p.file = fopen(path, "re"))) {
		int e = errno;
		memset(cfg, 0, sizeof(*cfg));
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	int r = cfg_load(&p, path);
	if (r == 0 && !realpath(path, cfg->config_path))   /* kura-targetctl rewrites it */
		cfg->config_path[0] = '\0';
	struct stat st;
	if (r == 0 && p.has_secrets && fstat(fileno(p.file), &st) == 0 && (st.st_mode & S_IROTH))
		kwarn("%s contains CHAP secrets and is world-readable; chmod 600 it", path);
	fclose(p.file);
	return r;
}

/* ---------------------------------------------------------------- overrides */

int tgt_config_set_listen(struct tgt_config *cfg, const char *const *addrs, int n, char *err,
			  size_t errlen)
{
	struct tgt_portal ps[TGT_MAX_PORTALS];
	const char *why;
	if (n < 1 || n > TGT_MAX_PORTALS) {
		snprintf(err, errlen, "--listen: give 1..%d addresses", TGT_MAX_PORTALS);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		memset(&ps[i], 0, sizeof(ps[i]));
		if (cfg_parse_portal(addrs[i], &ps[i], &why) < 0) {
			snprintf(err, errlen, "--listen %s: %s", addrs[i], why);
			return -EINVAL;
		}
		ps[i].tpgt = ps[i].rel_port_id = (uint16_t)(i + 1);
		ps[i].tpg_id = 1;
	}
	memcpy(cfg->portals, ps, (size_t)n * sizeof(ps[0]));
	cfg->n_portals = n;
	return 0;
}

int tgt_config_set_data_dir(struct tgt_config *cfg, const char *dir)
{
	if (dir[0] != '/')
		return -EINVAL;
	if (strlen(dir) >= sizeof(cfg->data_dir))
		return -ENAMETOOLONG;
	strcpy(cfg->data_dir, dir);
	return 0;
}

/* ---------------------------------------------------------------- LUNs */

/* mkdir -p: missing parents 0755, the directory itself 0700. */
static int mkdir_p(const char *dir)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int resolve_path(struct tgt_config *cfg, struct tgt_lun_conf *l)
{
	char full[PATH_MAX + 4096];
	if (!l->backend.path || l->backend.path[0] == '/')
		return 0;
	snprintf(full, sizeof(full), "%s/%s", cfg->data_dir, l->backend.path);
	l->backend.path = store_str(cfg, full);
	return l->backend.path ? 0 : -ENOMEM;
}

/* Persistent reservation state lives in <data_dir>/pr (one file per LU). */
static int pr_dir(struct tgt_config *cfg, struct tgt_lun_conf *l)
{
	char dir[4096 + 4];
	snprintf(dir, sizeof(dir), "%s/pr", cfg->data_dir);
	int r = mkdir_p(dir);
	if (r == 0 && !(l->ident.pr_dir = store_str(cfg, dir)))
		r = -ENOMEM;
	return r;
}

static int open_lun(struct tgt_config *cfg, struct tgt_target *t, struct tgt_lun_conf *l,
		    char *err, size_t errlen)
{
	char why[1024] = "";
	struct lun_backend *be = NULL;
	int r = resolve_path(cfg, l);
	if (r == 0)
		r = pr_dir(cfg, l);
	bool stacked = l->stor.pool || l->stor.raid;   /* thin / raid: storage.c */
	if (r == 0)
		r = stacked ? tgt_storage_open_lun(cfg, l, &be, why, sizeof(why))
			    : lun_backend_open(&l->backend, &be, why, sizeof(why));
	if (r == 0) {
		r = scsi_lu_create(&l->ident, be, &l->lu, why, sizeof(why));
		if (r < 0)
			lun_backend_close(be);
	}
	if (r == 0 && stacked)
		tgt_storage_lu_created(cfg, l);
	if (r == 0)
		r = scsi_lun_map_add(t->map, l->lun, l->lu);
	if (r < 0)
		snprintf(err, errlen, "target %s LUN %llu (%s %s): %s", t->iqn,
			 (unsigned long long)l->lun, l->backend.type,
			 l->backend.path ? l->backend.path : l->stor.pool ? l->stor.pool : l->stor.raid ? l->stor.raid : "",
			 why[0] ? why : strerror(-r));
	return r;
}

int tgt_config_open_luns(struct tgt_config *cfg, char *err, size_t errlen)
{
	int r = mkdir_p(cfg->data_dir);
	if (r < 0) {
		snprintf(err, errlen, "data_dir %s: %s", cfg->data_dir, strerror(-r));
		return r;
	}
	if ((cfg->stack.n_raids || cfg->stack.n_pools) && !cfg->stor_rt && (r = tgt_storage_open(cfg, err, errlen)) < 0)
		return r;
	for (int i = 0; i < cfg->n_targets; i++) {
		struct tgt_target *t = &cfg->targets[i];
		if (!t->map && !(t->map = scsi_lun_map_new())) {
			snprintf(err, errlen, "target %s: out of memory", t->iqn);
			return -ENOMEM;
		}
		for (int j = 0; j < t->n_luns; j++)
			if (!t->luns[j].lu && (r = open_lun(cfg, t, &t->luns[j], err, errlen)) < 0)
				return r;
	}
	return 0;
}

int tgt_config_parse_size(const char *v, uint64_t *out)
{
	return lun_parse_size(v, out);
}

/* ---- run-time [raid] / [pool] (kura-targetctl raid create / pool create) ----
 * storage.c calls these on its control thread while the admin thread waits:
 * once the server runs, those two are the only threads that index
 * cfg->stack.raids / cfg->stack.pools, so the arrays grow (and move) without a lock. */

static int copy_paths(struct tgt_config *cfg, const char *const *src, int n, const char ***out)
{
	*out = NULL;
	if (!n)
		return 0;
	const char **a = calloc((size_t)n, sizeof(*a));
	for (int i = 0; a && i < n; i++)
		if (!(a[i] = store_str(cfg, src[i]))) {
			free(a);
			return -ENOMEM;
		}
	*out = a;
	return a ? 0 : -ENOMEM;
}

int tgt_config_adopt_raid(struct tgt_config *cfg, const struct lun_raid_conf *src)
{
	struct lun_raid_conf c = *src;
	c.spares = NULL;
	int r = copy_paths(cfg, src->members, src->n_members, &c.members);
	if (r == 0)
		r = copy_paths(cfg, src->spares, src->n_spares, &c.spares);
	struct lun_raid_conf *slot = r == 0 ? cfg_grow(&cfg->stack.raids, &cfg->stack.n_raids, sizeof(*slot)) : NULL;
	if (!slot) {
		free(c.members);
		free(c.spares);
		return -ENOMEM;
	}
	*slot = c;
	return cfg->stack.n_raids - 1;
}

int tgt_config_adopt_pool(struct tgt_config *cfg, const struct lun_pool_conf *src)
{
	struct lun_pool_conf c = *src;
	if (!(c.data = store_str(cfg, src->data)) || !(c.meta = store_str(cfg, src->meta)))
		return -ENOMEM;
	struct lun_pool_conf *slot = cfg_grow(&cfg->stack.pools, &cfg->stack.n_pools, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = c;
	return cfg->stack.n_pools - 1;
}

/* ---- run-time LUN changes (kura-targetctl lun add / remove, admin_live.c) ----
 * t->luns is read only by the admin thread once the server runs, so growing
 * or shrinking it there needs no lock; the LU map is what workers read. */

static int restore(struct tgt_config *cfg, const char **s)
{
	if (*s && !(*s = store_str(cfg, *s)))
		return -ENOMEM;
	return 0;
}

/* Strings of src point into another (parsed) configuration: copy them. */
static int adopt_lun_strings(struct tgt_config *cfg, struct tgt_lun_conf *l)
{
	const char **s[] = { &l->backend.type, &l->backend.path, &l->ident.target_iqn, &l->ident.serial,
			     &l->ident.vendor, &l->ident.product, &l->ident.revision, &l->ident.pr_dir,
			     &l->stor.pool, &l->stor.raid };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (restore(cfg, s[i]) < 0)
			return -ENOMEM;
	return 0;
}

int tgt_config_add_lun(struct tgt_config *cfg, struct tgt_target *t, const struct tgt_lun_conf *src,
		       char *err, size_t errlen)
{
	if ((src->stor.pool || src->stor.raid) && !cfg->stor_rt) {
		snprintf(err, errlen, "the daemon runs no [pool] or [raid] section (restart it with one)");
		return -EOPNOTSUPP;
	}
	if (!t->map || scsi_lun_map_get(t->map, src->lun)) {
		snprintf(err, errlen, "LUN %llu of %s exists", (unsigned long long)src->lun, t->iqn);
		return -EEXIST;
	}
	struct tgt_lun_conf *l = cfg_grow(&t->luns, &t->n_luns, sizeof(*l));
	int r = l ? 0 : -ENOMEM;
	if (l) {
		*l = *src;
		l->lu = NULL;
		r = adopt_lun_strings(cfg, l);
	}
	if (r == 0)
		r = open_lun(cfg, t, l, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	if (r < 0 && l)
		t->n_luns--;   /* nothing was published: open_lun adds to the map last */
	return r;
}

void tgt_config_forget_lun(struct tgt_target *t, uint64_t lun)
{
	for (int i = 0; i < t->n_luns; i++)
		if (t->luns[i].lun == lun) {
			memmove(&t->luns[i], &t->luns[i + 1], (size_t)(t->n_luns - i - 1) * sizeof(t->luns[0]));
			t->n_luns--;
			return;
		}
}

/* ---------------------------------------------------------------- free */

struct tgt_retired {
	struct tgt_retired *next;
	void *p;
	size_t bytes;
};

/* On out of memory p leaks, which is safe, where freeing it would not be. */
void tgt_config_retire(struct tgt_config *cfg, void *p, size_t bytes)
{
	struct tgt_retired *r = p ? malloc(sizeof(*r)) : NULL;
	if (!r)
		return;
	*r = (struct tgt_retired){ cfg->retired, p, bytes };
	cfg->retired = r;
}

static void free_retired(struct tgt_config *cfg)
{
	while (cfg->retired) {
		struct tgt_retired *r = cfg->retired;
		cfg->retired = r->next;
		explicit_bzero(r->p, r->bytes);   /* old CHAP secrets */
		free(r->p);
		free(r);
	}
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void free_accounts(struct chap_account *a, int n)
{
	if (a)
		explicit_bzero(a, (size_t)n * sizeof(*a));
	free(a);
}

static void target_free(struct tgt_target *t)
{
	if (t->map)
		scsi_lun_map_free(t->map);
	for (int j = 0; j < t->n_luns; j++)
		if (t->luns[j].lu)
			scsi_lu_destroy(t->luns[j].lu);
	free(t->luns);
	free(t->acl);
	free_accounts(t->chap_in, t->n_chap_in);
	free_accounts(t->chap_out, 1);
}

void tgt_config_free(struct tgt_config *cfg)
{
	tgt_storage_forget_lus(cfg);
	for (int i = 0; i < cfg->n_targets; i++)
		target_free(&cfg->targets[i]);
	tgt_storage_close(cfg);   /* after the LUs: volumes -> pools -> arrays */
	lun_stack_conf_free(&cfg->stack);
	free(cfg->targets);
	free_accounts(cfg->disc_chap_in, cfg->n_disc_chap_in);
	free_accounts(cfg->disc_chap_out, 1);
	store_free(cfg);
	free_retired(cfg);
	cfg->targets = NULL;
	cfg->n_targets = 0;
	cfg->disc_chap_in = cfg->disc_chap_out = NULL;
	cfg->n_disc_chap_in = 0;
}
