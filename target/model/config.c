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
#include "lun-backends/raid/lun_raid.h"
#include "lun-backends/thin/lun_thin.h"

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

enum cfg_sect_kind { CS_GLOBAL, CS_PORTAL, CS_LIMITS, CS_DISCOVERY, CS_TARGET, CS_LUN, CS_RAID, CS_POOL };

struct cfg_parser;
struct cfg_sect;

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

static const struct { char c; unsigned shift; } size_suffixes[] = {
	{ 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 },
};

/* "8G", "512", "1.5"? no: integers only, with K/M/G/T/P (powers of 1024),
 * optionally followed by "iB" or "B". Strict: no trailing junk, no overflow. */
static int cfg_parse_size(const char *v, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	unsigned shift = 0;
	for (size_t i = 0; *end && i < sizeof(size_suffixes) / sizeof(size_suffixes[0]); i++)
		if (toupper((unsigned char)*end) == size_suffixes[i].c) {
			shift = size_suffixes[i].shift;
			end++;
			if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
				end += strlen(end);
			break;
		}
	if (*end)
		return -EINVAL;
	if (shift && x > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)x << shift;
	return 0;
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

/* Key table rows: a number or boolean stored by offset, or a setter. */
#define CK_NUM(n, t, st, f, lo, hi) { .name = n, .type = t, .off = offsetof(st, f), .min = lo, .max = hi }
#define CK_FLAG(n, st, f) { .name = n, .type = CK_BOOL, .off = offsetof(st, f) }
#define CK_FN(n, fn) { .name = n, .type = CK_FUNC, .set = fn }
#define CK_LIST(n, fn) { .name = n, .type = CK_FUNC, .set = fn, .repeatable = true }

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
	l->backend = (struct lun_backend_params){ .type = "file", .block_size = 512 };
	l->ident = (struct scsi_lu_params){ .target_iqn = iqn, .lun = n, .vendor = "KURA",
					    .product = "kura-lun", .thin = true, .write_cache = true };
	return 0;
}

static void *lun_obj(struct cfg_parser *p) { return cur_lun(p); }

static const char *const backend_types[] = { "file", "memory", "thin", "raid" };

static int set_backend(struct cfg_parser *p, const char *key, const char *v)
{
	for (size_t i = 0; i < sizeof(backend_types) / sizeof(backend_types[0]); i++)
		if (strcmp(v, backend_types[i]) == 0) {
			cur_lun(p)->backend.type = backend_types[i];
			return 0;
		}
	return cfg_fail(p, "%s: '%s' is not file, memory, thin or raid", key, v);
}

static int set_str(struct cfg_parser *p, const char *key, const char *v, const char **dst)
{
	*dst = store_str(p->cfg, v);
	return *dst ? 0 : cfg_fail(p, "%s: out of memory", key);
}

static int set_path(struct cfg_parser *p, const char *key, const char *v)
{
	if (strlen(v) >= PATH_MAX)
		return cfg_fail(p, "%s: path too long", key);
	return set_str(p, key, v, &cur_lun(p)->backend.path);
}

static int set_size(struct cfg_parser *p, const char *key, const char *v)
{
	int r = cfg_parse_size(v, &cur_lun(p)->backend.size);
	if (r == -ERANGE)
		return cfg_fail(p, "%s: '%s' is too large", key, v);
	if (r < 0)
		return cfg_fail(p, "%s: '%s' is not a size (a number with optional K, M, G, T, P)", key, v);
	if (cur_lun(p)->backend.size == 0)
		return cfg_fail(p, "%s: must not be 0", key);
	return 0;
}

static int set_block_size(struct cfg_parser *p, const char *key, const char *v)
{
	if (strcmp(v, "512") && strcmp(v, "4096"))
		return cfg_fail(p, "%s: '%s' must be 512 or 4096", key, v);
	cur_lun(p)->backend.block_size = (uint32_t)atoi(v);
	return 0;
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

/* ---- [raid NAME] and [pool NAME] (target/model/storage.h, docs/storage.md) ---- */

static struct tgt_raid_conf *cur_raid(struct cfg_parser *p) { return &p->cfg->raids[p->cfg->n_raids - 1]; }
static struct tgt_pool_conf *cur_pool(struct cfg_parser *p) { return &p->cfg->pools[p->cfg->n_pools - 1]; }
static void *raid_obj(struct cfg_parser *p) { return cur_raid(p); }
static void *pool_obj(struct cfg_parser *p) { return cur_pool(p); }

static int cfg_find_raid(const struct tgt_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_raids; i++)
		if (strcmp(cfg->raids[i].name, name) == 0)
			return i;
	return -1;
}

static int cfg_find_pool(const struct tgt_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_pools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return i;
	return -1;
}

/* Array and pool names: letters, digits, '.', '_', '-'; unique per kind. */
static int check_stor_name(struct cfg_parser *p, const char *kind, const char *name, bool dup)
{
	if (strlen(name) >= TGT_STORAGE_NAME_MAX)
		return cfg_fail(p, "[%s %s]: name longer than %d characters", kind, name, TGT_STORAGE_NAME_MAX - 1);
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return cfg_fail(p, "%s name '%s': use letters, digits, '.', '_' or '-'", kind, name);
	return dup ? cfg_fail(p, "[%s %s] is defined twice", kind, name) : 0;
}

static int raid_begin(struct cfg_parser *p, const char *name)
{
	if (check_stor_name(p, "raid", name, cfg_find_raid(p->cfg, name) >= 0) < 0)
		return -EINVAL;
	struct tgt_raid_conf *r = cfg_grow(&p->cfg->raids, &p->cfg->n_raids, sizeof(*r));
	if (!r)
		return cfg_fail(p, "out of memory");
	strcpy(r->name, name);
	r->line = p->lineno;
	r->level = -1;
	r->rebuild_role = -1;
	return 0;
}

static int pool_begin(struct cfg_parser *p, const char *name)
{
	if (check_stor_name(p, "pool", name, cfg_find_pool(p->cfg, name) >= 0) < 0)
		return -EINVAL;
	struct tgt_pool_conf *pl = cfg_grow(&p->cfg->pools, &p->cfg->n_pools, sizeof(*pl));
	if (!pl)
		return cfg_fail(p, "out of memory");
	strcpy(pl->name, name);
	pl->line = p->lineno;
	pl->data_raid = -1;
	return 0;
}

static int cfg_size(struct cfg_parser *p, const char *key, const char *v, uint64_t *out)
{
	int r = cfg_parse_size(v, out);
	if (r == -ERANGE)
		return cfg_fail(p, "%s: '%s' is too large", key, v);
	if (r < 0)
		return cfg_fail(p, "%s: '%s' is not a size (a number with optional K, M, G, T, P)", key, v);
	return 0;
}

/* "a.img, b.img" or one path per repeated key; appended to *list. */
static int add_paths(struct cfg_parser *p, const char *key, const char *v, const char ***list, int *n)
{
	char buf[PATH_MAX];
	for (const char *s = v; *s;) {
		size_t len = strcspn(s, ",");
		const char *e = s + len;
		while (len && isspace((unsigned char)*s))
			s++, len--;
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || len >= sizeof(buf))
			return cfg_fail(p, "%s: empty or over-long path in '%s'", key, v);
		if (*n >= LUN_RAID_MAX_MEMBERS)
			return cfg_fail(p, "%s: at most %d paths", key, LUN_RAID_MAX_MEMBERS);
		memcpy(buf, s, len);
		buf[len] = '\0';
		const char **slot = cfg_grow(list, n, sizeof(**list));
		if (!slot || !(*slot = store_str(p->cfg, buf)))
			return cfg_fail(p, "out of memory");
		s = *e ? e + 1 : e;
	}
	return 0;
}

static int add_member(struct cfg_parser *p, const char *k, const char *v)
{
	return add_paths(p, k, v, &cur_raid(p)->members, &cur_raid(p)->n_members);
}

static int add_spare(struct cfg_parser *p, const char *k, const char *v)
{
	return add_paths(p, k, v, &cur_raid(p)->spares, &cur_raid(p)->n_spares);
}

static const int raid_levels[] = { 0, 1, 5, 6, 10 };

static int set_level(struct cfg_parser *p, const char *key, const char *v)
{
	const char *d = strncasecmp(v, "raid", 4) == 0 ? v + 4 : v;
	for (size_t i = 0; i < sizeof(raid_levels) / sizeof(raid_levels[0]); i++) {
		char w[8];
		snprintf(w, sizeof(w), "%d", raid_levels[i]);
		if (strcmp(d, w) == 0) {
			cur_raid(p)->level = raid_levels[i];
			return 0;
		}
	}
	return cfg_fail(p, "%s: '%s' must be 0, 1, 5, 6 or 10", key, v);
}

static int set_pow2(struct cfg_parser *p, const char *key, const char *v, uint64_t lo, uint64_t hi,
		    uint32_t *out)
{
	uint64_t x = 0;
	if (cfg_size(p, key, v, &x) < 0)
		return -EINVAL;
	if (x < lo || x > hi || (x & (x - 1)))
		return cfg_fail(p, "%s: '%s' must be a power of two from %lluK to %lluK", key, v,
			    (unsigned long long)lo >> 10, (unsigned long long)hi >> 10);
	*out = (uint32_t)x;
	return 0;
}

static int set_raid_chunk(struct cfg_parser *p, const char *k, const char *v)
{
	return set_pow2(p, k, v, 4096, 4u << 20, &cur_raid(p)->chunk);
}

static int set_member_size(struct cfg_parser *p, const char *k, const char *v)
{
	return cfg_size(p, k, v, &cur_raid(p)->member_size);
}

/* "200M" = 200 MiB per second; an optional "/s" is accepted. */
static int set_rebuild_rate(struct cfg_parser *p, const char *key, const char *v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", v);
	size_t n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, "/s") == 0)
		buf[n - 2] = '\0';
	uint64_t x = 0;
	if (cfg_size(p, key, buf, &x) < 0)
		return -EINVAL;
	if (x < (1u << 20))
		return cfg_fail(p, "%s: '%s' is below 1M per second", key, v);
	cur_raid(p)->rebuild_rate = x;
	return 0;
}

static const struct cfg_key raid_keys[] = {
	CK_FN("level", set_level),
	CK_FN("chunk", set_raid_chunk),
	CK_LIST("members", add_member),
	CK_LIST("member", add_member),
	CK_LIST("spares", add_spare),
	CK_LIST("spare", add_spare),
	CK_FLAG("create", struct tgt_raid_conf, create),
	CK_FLAG("direct", struct tgt_raid_conf, direct),
	CK_FN("member_size", set_member_size),
	CK_FN("rebuild_rate", set_rebuild_rate),
};

static int raid_end(struct cfg_parser *p)
{
	const struct tgt_raid_conf *r = cur_raid(p);
	if (r->n_members == 0)
		return cfg_fail_line(p, r->line, "[raid %s] needs 'members = PATH, PATH, ...'", r->name);
	if (r->create && r->level < 0)
		return cfg_fail_line(p, r->line, "[raid %s]: create = yes needs 'level'", r->name);
	static const int min_members[] = { [0] = 2, [1] = 2, [5] = 3, [6] = 4, [10] = 4 };
	if (r->level >= 0 && r->n_members < min_members[r->level])
		return cfg_fail_line(p, r->line, "[raid %s]: raid%d needs at least %d members, got %d", r->name,
				 r->level, min_members[r->level], r->n_members);
	if (r->level == 10 && r->n_members % 2)
		return cfg_fail_line(p, r->line, "[raid %s]: raid10 needs an even number of members", r->name);
	return 0;
}

static int set_pool_data(struct cfg_parser *p, const char *k, const char *v)
{
	return set_str(p, k, v, &cur_pool(p)->data);
}

static int set_pool_meta(struct cfg_parser *p, const char *k, const char *v)
{
	return set_str(p, k, v, &cur_pool(p)->meta);
}

static int set_pool_chunk(struct cfg_parser *p, const char *k, const char *v)
{
	return set_pow2(p, k, v, LUN_THIN_CHUNK_MIN, LUN_THIN_CHUNK_MAX, &cur_pool(p)->chunk_size);
}

static int set_pool_size(struct cfg_parser *p, const char *k, const char *v)
{
	if (cfg_size(p, k, v, &cur_pool(p)->size) < 0)
		return -EINVAL;
	return cur_pool(p)->size ? 0 : cfg_fail(p, "%s: must not be 0", k);
}

/* "10%" of the pool's chunks, or a size in bytes ("4G"). */
static int set_low_water(struct cfg_parser *p, const char *key, const char *v)
{
	struct tgt_pool_conf *pl = cur_pool(p);
	size_t n = strlen(v);
	if (n > 1 && v[n - 1] == '%') {
		char num[32];
		snprintf(num, sizeof(num), "%.*s", (int)(n - 1), v);
		pl->low_water_pct = true;
		return cfg_u64(p, key, num, 0, 100, &pl->low_water);
	}
	pl->low_water_pct = false;
	return cfg_size(p, key, v, &pl->low_water);
}

static const struct cfg_key pool_keys[] = {
	CK_FN("data", set_pool_data),
	CK_FN("meta", set_pool_meta),
	CK_FN("chunk_size", set_pool_chunk),
	CK_FN("size", set_pool_size),
	CK_FN("low_water", set_low_water),
};

static int pool_end(struct cfg_parser *p)
{
	const struct tgt_pool_conf *pl = cur_pool(p);
	if (!pl->data || !pl->meta)
		return cfg_fail_line(p, pl->line, "[pool %s] needs 'data = RAID-NAME|PATH' and 'meta = PATH'",
				 pl->name);
	return 0;
}

/* After the whole file: pool data names a [raid] (else it is a path) and
 * thin / raid LUNs name sections that exist. */
static int resolve_storage(struct cfg_parser *p)
{
	struct tgt_config *cfg = p->cfg;
	for (int i = 0; i < cfg->n_pools; i++) {
		struct tgt_pool_conf *pl = &cfg->pools[i];
		pl->data_raid = cfg_find_raid(cfg, pl->data);
	}
	for (int t = 0; t < cfg->n_targets; t++)
		for (int j = 0; j < cfg->targets[t].n_luns; j++) {
			const struct tgt_lun_storage *s = &cfg->targets[t].luns[j].stor;
			if (s->pool && cfg_find_pool(cfg, s->pool) < 0)
				return cfg_fail_line(p, s->line, "pool = %s: no [pool %s] section", s->pool, s->pool);
			if (s->raid && cfg_find_raid(cfg, s->raid) < 0)
				return cfg_fail_line(p, s->line, "raid = %s: no [raid %s] section", s->raid, s->raid);
		}
	return 0;
}

/* ---- [lun] keys of thin and raid LUNs ---- */

static int set_lun_pool(struct cfg_parser *p, const char *k, const char *v)
{
	return set_str(p, k, v, &cur_lun(p)->stor.pool);
}

static int set_lun_raid(struct cfg_parser *p, const char *k, const char *v)
{
	return set_str(p, k, v, &cur_lun(p)->stor.raid);
}

static int set_volume(struct cfg_parser *p, const char *k, const char *v)
{
	uint64_t x = 0;
	if (cfg_u64(p, k, v, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	cur_lun(p)->stor.volume = (uint32_t)x;
	cur_lun(p)->stor.has_volume = true;
	return 0;
}

static int set_origin(struct cfg_parser *p, const char *k, const char *v, bool snap)
{
	struct tgt_lun_storage *s = &cur_lun(p)->stor;
	uint64_t x = 0;
	if (s->snapshot || s->clone)
		return cfg_fail(p, "%s: a LUN is either a snapshot_of or a clone_of, not both", k);
	if (cfg_u64(p, k, v, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	s->origin = (uint32_t)x;
	s->snapshot = snap;
	s->clone = !snap;
	return 0;
}

static int set_snapshot_of(struct cfg_parser *p, const char *k, const char *v) { return set_origin(p, k, v, true); }
static int set_clone_of(struct cfg_parser *p, const char *k, const char *v) { return set_origin(p, k, v, false); }

/* backend = thin / raid: which keys must and must not be given. */
static int lun_stor_end(struct cfg_parser *p, struct tgt_lun_conf *l)
{
	const struct lun_backend_params *b = &l->backend;
	struct tgt_lun_storage *s = &l->stor;
	bool thin = strcmp(b->type, "thin") == 0, raid = strcmp(b->type, "raid") == 0;
	s->line = p->sect_line;
	if (!thin && (s->pool || s->has_volume || s->snapshot || s->clone))
		return cfg_fail_line(p, p->sect_line, "pool, volume, snapshot_of and clone_of need backend = thin");
	if (!raid && s->raid)
		return cfg_fail_line(p, p->sect_line, "raid = NAME needs backend = raid");
	if (!thin && !raid)
		return 0;
	if (b->path)
		return cfg_fail_line(p, p->sect_line, "backend = %s takes no 'path'", b->type);
	if (raid && !s->raid)
		return cfg_fail_line(p, p->sect_line, "backend = raid needs 'raid = NAME'");
	if (thin && (!s->pool || !s->has_volume))
		return cfg_fail_line(p, p->sect_line, "backend = thin needs 'pool = NAME' and 'volume = ID'");
	if (thin && (s->snapshot || s->clone) && s->origin == s->volume)
		return cfg_fail_line(p, p->sect_line, "volume %u cannot be a copy of itself", s->volume);
	if (thin && b->size % 4096)
		return cfg_fail_line(p, p->sect_line, "thin volume size must be a multiple of 4096");
	return 1;
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

static const struct cfg_key lun_keys[] = {
	CK_FN("backend", set_backend),
	CK_FN("path", set_path),
	CK_FN("size", set_size),
	CK_FN("block_size", set_block_size),
	CK_FLAG("direct", struct tgt_lun_conf, backend.direct),
	CK_FLAG("read_only", struct tgt_lun_conf, backend.read_only),
	CK_FLAG("create", struct tgt_lun_conf, backend.create),
	CK_FLAG("thin", struct tgt_lun_conf, ident.thin),
	CK_FLAG("write_cache", struct tgt_lun_conf, ident.write_cache),
	CK_FN("unmap_granularity_hint", set_unmap_gran_hint),
	CK_FN("serial", set_serial),
	CK_FN("naa", set_naa),
	CK_FN("vendor", set_vendor),
	CK_FN("product", set_product),
	CK_FN("revision", set_revision),
	CK_FN("pr_persist", set_pr_persist),
	CK_FN("pool", set_lun_pool),
	CK_FN("volume", set_volume),
	CK_FN("snapshot_of", set_snapshot_of),
	CK_FN("clone_of", set_clone_of),
	CK_FN("raid", set_lun_raid),
};

static int lun_end(struct cfg_parser *p)
{
	const struct lun_backend_params *b = &cur_lun(p)->backend;
	int st = lun_stor_end(p, cur_lun(p));
	if (st)
		return st < 0 ? st : 0;
	bool file = strcmp(b->type, "file") == 0;
	if (file && !b->path)
		return cfg_fail_line(p, p->sect_line, "backend = file needs 'path'");
	if (!file && b->path)
		return cfg_fail_line(p, p->sect_line, "backend = memory takes no 'path'");
	if (!file && !b->size)
		return cfg_fail_line(p, p->sect_line, "backend = memory needs 'size'");
	if (file && b->create && !b->size)
		return cfg_fail_line(p, p->sect_line, "create = yes needs 'size'");
	if (b->size % b->block_size)
		return cfg_fail_line(p, p->sect_line, "size %llu is not a multiple of block_size %u",
				 (unsigned long long)b->size, b->block_size);
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
	{ "raid", CS_RAID, true, false, raid_begin, raid_end, raid_obj, CK_KEYS(raid_keys) },
	{ "pool", CS_POOL, true, false, pool_begin, pool_end, pool_obj, CK_KEYS(pool_keys) },
};

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
	if (!s)
		return cfg_fail(p, "unknown section [%s] (known: global, portal, limits, discovery, "
			    "target, lun, raid, pool)", text);
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

static int cfg_set_key(struct cfg_parser *p, const char *name, const char *value)
{
	if (!p->sect)
		return cfg_fail(p, "'%s' is outside any [section]", name);
	const struct cfg_key *k = cfg_find_key(p->sect, name);
	if (!k)
		return cfg_fail(p, "unknown key '%s' in [%s]", name, p->sect->name);
	size_t i = (size_t)(k - p->sect->keys);
	if (!k->repeatable && p->seen[i])
		return cfg_fail(p, "'%s' is set twice in this section (first on line %d)", name, p->seen[i]);
	p->seen[i] = p->lineno;
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
	if ((cfg->n_raids || cfg->n_pools) && !cfg->stor_rt && (r = tgt_storage_open(cfg, err, errlen)) < 0)
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
	return cfg_parse_size(v, out);
}

/* ---- run-time [raid] / [pool] (kura-targetctl raid create / pool create) ----
 * storage.c calls these on its control thread while the admin thread waits:
 * once the server runs, those two are the only threads that index
 * cfg->raids / cfg->pools, so the arrays grow (and move) without a lock. */

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

int tgt_config_adopt_raid(struct tgt_config *cfg, const struct tgt_raid_conf *src)
{
	struct tgt_raid_conf c = *src;
	c.spares = NULL;
	int r = copy_paths(cfg, src->members, src->n_members, &c.members);
	if (r == 0)
		r = copy_paths(cfg, src->spares, src->n_spares, &c.spares);
	struct tgt_raid_conf *slot = r == 0 ? cfg_grow(&cfg->raids, &cfg->n_raids, sizeof(*slot)) : NULL;
	if (!slot) {
		free(c.members);
		free(c.spares);
		return -ENOMEM;
	}
	*slot = c;
	return cfg->n_raids - 1;
}

int tgt_config_adopt_pool(struct tgt_config *cfg, const struct tgt_pool_conf *src)
{
	struct tgt_pool_conf c = *src;
	if (!(c.data = store_str(cfg, src->data)) || !(c.meta = store_str(cfg, src->meta)))
		return -ENOMEM;
	struct tgt_pool_conf *slot = cfg_grow(&cfg->pools, &cfg->n_pools, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = c;
	return cfg->n_pools - 1;
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
	for (int i = 0; i < cfg->n_raids; i++) {
		free(cfg->raids[i].members);
		free(cfg->raids[i].spares);
	}
	free(cfg->raids);
	free(cfg->pools);
	cfg->raids = NULL;
	cfg->pools = NULL;
	cfg->n_raids = cfg->n_pools = 0;
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
