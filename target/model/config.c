/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration of kura-targetd: reads the INI file (or the embedded
 * default) into a struct tgt_config, validates every value with a precise
 * "FILE:LINE: reason" and applies command-line overrides. The key table of
 * each section is in config_sections.c; the live model built from the
 * result (LUNs opened, run-time changes) is model.c; the writer of the file
 * is conf_write.c.
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
#include "common/ini_line.h"
#include "common/log.h"
#include "lun-backends/lun_registry.h"
#include "target/model/config_internal.h"

/* ---------------------------------------------------------------- storage */

/* Strings the config points at (backend params, LU identity) live in a
 * list of nodes hung off cfg->storage and freed by tgt_config_free(). */
struct cfg_str {
	struct cfg_str *next;
	char s[];
};

const char *cfg_store_in(void **store, const char *s)
{
	size_t n = strlen(s) + 1;
	struct cfg_str *node = malloc(sizeof(*node) + n);
	if (!node)
		return NULL;
	memcpy(node->s, s, n);
	node->next = *store;
	*store = node;
	return node->s;
}

void cfg_store_free_all(void **store)
{
	struct cfg_str *n = *store;
	while (n) {
		struct cfg_str *next = n->next;
		free(n);
		n = next;
	}
	*store = NULL;
}

const char *cfg_store_str(struct tgt_config *cfg, const char *s)
{
	return cfg_store_in(&cfg->storage, s);
}

void cfg_store_free(struct tgt_config *cfg)
{
	cfg_store_free_all(&cfg->storage);
}

int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
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

struct tgt_target_conf *cfg_cur_target(struct cfg_parser *p)
{
	return &p->cfg->targets[p->cur_target];
}

struct tgt_lun_conf *cfg_cur_lun(struct cfg_parser *p)
{
	struct tgt_target_conf *t = cfg_cur_target(p);
	return &t->luns[t->n_luns - 1];
}

/* ---------------------------------------------------------------- value parsers */

/* The registry's value parsers (lun-backends/lun_registry.c), so that a
 * number or a yes / no reads the same in every section. */
int cfg_u64(struct cfg_parser *p, const char *key, const char *v, uint64_t min, uint64_t max,
	    uint64_t *out)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
	return lun_conf_u64(&c, key, v, min, max, out) < 0 ? cfg_reg_fail(p, &c) : 0;
}

int cfg_bool(struct cfg_parser *p, const char *key, const char *v, bool *out)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
	return lun_conf_bool(&c, key, v, out) < 0 ? cfg_reg_fail(p, &c) : 0;
}

bool cfg_all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

/* "1.2.3.4:3260", "[fe80::1]:3260", "0.0.0.0" (port 3260). */
int cfg_parse_portal(const char *s, struct tgt_portal *out, const char **why)
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
					      : "not a numeric IPv4 address",
		       -EINVAL;
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

/* ---- the backend registry's keys and sections ---- */

static const char *ctx_store(void *cfg, const char *s)
{
	return cfg_store_str(cfg, s);
}

struct lun_conf_ctx cfg_reg_ctx(struct cfg_parser *p, int line)
{
	return (struct lun_conf_ctx){ .why = p->why,
				      .whylen = sizeof(p->why),
				      .line = line,
				      .store = ctx_store,
				      .arg = p->cfg };
}

/* A refusal of the registry, at its line. */
int cfg_reg_fail(struct cfg_parser *p, const struct lun_conf_ctx *c)
{
	return cfg_fail_line(p, c->err_line ? c->err_line : c->line, "%s", c->why);
}

struct lun_conf_lun cfg_lun_ref(struct cfg_parser *p)
{
	return (struct lun_conf_lun){ &cfg_cur_lun(p)->backend, &cfg_cur_lun(p)->stor };
}

static int reg_sect_begin(struct cfg_parser *p, const char *arg)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
	p->reg_obj = p->reg_sect->begin(&c, &p->cfg->stack, arg);
	return p->reg_obj ? 0 : cfg_reg_fail(p, &c);
}

static int reg_sect_end(struct cfg_parser *p)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->sect_line);
	return p->reg_sect->end(&c, &p->cfg->stack, p->reg_obj) < 0 ? cfg_reg_fail(p, &c) : 0;
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
			struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
			if (lun_registry_lun_resolve(&c, &cfg->stack, &l->backend, &l->stor) < 0)
				return cfg_reg_fail(p, &c);
		}
	return 0;
}

/* "global, portal, ..., lun" and the registry's sections ("raid, pool"). */
static void section_names(char *out, size_t len)
{
	size_t o = 0, n = cfg_n_sections;
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "",
				      cfg_sections[i].name);
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
					reg_sect_end,      NULL,     NULL, 0 };
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
	for (size_t i = 0; i < cfg_n_sections; i++)
		if (strlen(cfg_sections[i].name) == len &&
		    strncmp(cfg_sections[i].name, name, len) == 0)
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
		return cfg_fail(p,
				s->has_arg ? "[%s] needs a name: [%s NAME]" : "[%s] takes no name",
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

static int reg_set_key(struct cfg_parser *p, const struct lun_key *k, const char *name,
		       const char *value)
{
	struct lun_conf_ctx c = cfg_reg_ctx(p, p->lineno);
	struct lun_conf_lun l = { NULL, NULL };
	if (!p->reg_sect)
		l = cfg_lun_ref(p);
	if (!*value)
		return cfg_fail(p, "'%s' has an empty value", name);
	return k->set(&c, p->reg_sect ? p->reg_obj : &l, name, value) < 0 ? cfg_reg_fail(p, &c) : 0;
}

/* Same key twice in a section: refused unless the key is a list. */
static int key_seen(struct cfg_parser *p, const char *name, size_t i, bool repeatable)
{
	if (i >= CFG_MAX_KEYS)
		return cfg_fail(p, "'%s': too many keys in [%s]", name, p->sect->name);
	if (!repeatable && p->seen[i])
		return cfg_fail(p, "'%s' is set twice in this section (first on line %d)", name,
				p->seen[i]);
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
	(void)section; /* inih truncates long section names; we track our own */
	if (p->failed)
		return 1;
	return cfg_set_key(p, name, value) == 0;
}

/* Next raw line without its newline, or NULL at end of input. */
static const char *next_line(struct cfg_parser *p, size_t *len)
{
	if (p->file) {
		ssize_t n = getline(&p->line, &p->line_cap, p->file);
		if (n < 0 && ferror(p->file))
			cfg_fail(p, "read error: %s", strerror(errno));
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
	char section[256];
	int r = kini_line(s, len, buf, (size_t)num, section, sizeof(section));
	if (r == -E2BIG) {
		cfg_fail(p, "line longer than %d characters (put long secrets in a chap_file)",
			 num - 2);
		return NULL;
	}
	if (r == -EILSEQ) {
		cfg_fail(p, "NUL byte in the line (column %zu)",
			 (size_t)(memchr(s, 0, len) - (const void *)s) + 1);
		return NULL;
	}
	if (r == 1 && cfg_section_begin(p, section) < 0)
		return NULL;
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
	cfg->max_connections = 1024;
	cfg->max_conns_per_initiator = 256;
	cfg->login_timeout_ms = 15000;
	cfg->log_level = -1;
	snprintf(cfg->source, sizeof(cfg->source), "%s", src);
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

/* gateway_id (docs/ceph.md "Gateway layout"): one port group per gateway,
 * numbered by gateway_id, and relative port ids in a range of their own,
 * so that every gateway can list every gateway's group and ports in REPORT
 * TARGET PORT GROUPS without being told them (each has as many portals). */
static int apply_gateway(struct cfg_parser *p)
{
	struct tgt_config *cfg = p->cfg;
	if (!cfg->gateway_id)
		return cfg->gateways ? cfg_fail(p, "gateways is set but gateway_id is not") : 0;
	if (!cfg->gateways)
		cfg->gateways = cfg->gateway_id > 2 ? cfg->gateway_id : 2;
	if (cfg->gateway_id > cfg->gateways)
		return cfg_fail(p, "gateway_id %u is above gateways = %u", cfg->gateway_id,
				cfg->gateways);
	for (int i = 0; i < cfg->n_portals; i++) {
		if (p->port_ids_line[i])
			return cfg_fail_line(p, p->port_ids_line[i],
					     "with gateway_id, tpgt, port_group and rel_port_id "
					     "are derived from it: remove this key");
		struct tgt_portal *pt = &cfg->portals[i];
		pt->tpg_id = cfg->gateway_id;
		pt->rel_port_id = (uint16_t)((cfg->gateway_id - 1) * TGT_GATEWAY_PORTS + i + 1);
		pt->tpgt = pt->rel_port_id;
	}
	return 0;
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
	if (apply_gateway(p) < 0)
		return -EINVAL;
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
	struct stat st;
	int e = (p.file = fopen(path, "re")) ? 0 : errno;
	if (!e && fstat(fileno(p.file), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(p.file);
		e = EISDIR;
	}
	if (e) {
		memset(cfg, 0, sizeof(*cfg));
		snprintf(err, errlen, "%s: %s", path,
			 e == EISDIR ? "is a directory, not a configuration file" : strerror(e));
		return -e;
	}
	int r = cfg_load(&p, path);
	if (r == 0 && !realpath(path, cfg->config_path)) /* kura-targetctl rewrites it */
		cfg->config_path[0] = '\0';
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
		uint16_t base = cfg->gateway_id ? (cfg->gateway_id - 1) * TGT_GATEWAY_PORTS : 0;
		ps[i].tpgt = ps[i].rel_port_id = (uint16_t)(base + i + 1);
		ps[i].tpg_id = cfg->gateway_id ? cfg->gateway_id : 1;
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
	cfg->data_dir_line = 0;
	return 0;
}

int tgt_config_parse_size(const char *v, uint64_t *out)
{
	return lun_parse_size(v, out);
}


/* ---------------------------------------------------------------- free */

/* Secrets are wiped before their memory goes back to the allocator. */
static void free_accounts(struct chap_account *a, int n)
{
	if (a)
		explicit_bzero(a, (size_t)n * sizeof(*a));
	free(a);
}

void tgt_config_free(struct tgt_config *cfg)
{
	for (int i = 0; i < cfg->n_targets; i++) {
		struct tgt_target_conf *t = &cfg->targets[i];
		free(t->luns);
		free(t->acl);
		free_accounts(t->chap_in, t->n_chap_in);
		free_accounts(t->chap_out, 1);
	}
	lun_stack_conf_free(&cfg->stack);
	free(cfg->targets);
	free_accounts(cfg->disc_chap_in, cfg->n_disc_chap_in);
	free_accounts(cfg->disc_chap_out, 1);
	cfg_store_free(cfg);
	cfg->targets = NULL;
	cfg->n_targets = 0;
	cfg->disc_chap_in = cfg->disc_chap_out = NULL;
	cfg->n_disc_chap_in = 0;
}
