/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside target/model/ only: the configuration parser's state and the
 * helpers that config.c (driver, inih glue, value parsers) lends to
 * config_sections.c (the key table of each section) and model.c (the live
 * model, which copies strings into the configuration's storage).
 *
 * Not for: anything outside target/model/ (tgt.h and model.h are public).
 */
#ifndef KURA_CONFIG_INTERNAL_H
#define KURA_CONFIG_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lun-backends/lun_registry.h"
#include "target/iscsi/iscsi_name.h"
#include "target/model/tgt.h"

#define CFG_MAX_KEYS   48
#define CFG_SECRET_MIN 12 /* RFC 7143 recommends at least 96 bits */
#define CFG_SECRET_MAX 255

/* ---------------------------------------------------------------- parser state */

enum cfg_sect_kind { CS_GLOBAL, CS_PORTAL, CS_LIMITS, CS_DISCOVERY, CS_TARGET, CS_LUN, CS_STACK };

struct cfg_parser;

enum cfg_key_type { CK_U32, CK_U16, CK_INT, CK_BOOL, CK_FUNC };

struct cfg_key {
	const char *name;
	enum cfg_key_type type;
	size_t off; /* into the section's object (K_U32..K_BOOL) */
	uint64_t min, max;
	int (*set)(struct cfg_parser *p, const char *key, const char *v); /* K_FUNC */
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
	const char *src; /* for messages */
	FILE *file;      /* input: file ... */
	const char *str; /* ... or string cursor */
	char *line;      /* getline buffer */
	size_t line_cap;
	int lineno;
	const struct cfg_sect *sect; /* current section, NULL before the first */
	int sect_line;
	int seen[CFG_MAX_KEYS]; /* line a key was set on in this section, 0 = unset */
	unsigned seen_sect;     /* bit per enum sect_kind for the singleton sections */
	bool rel_given[TGT_MAX_PORTALS];
	int port_ids_line
		[TGT_MAX_PORTALS]; /* line of a tpgt / port_group / rel_port_id key, 0 = none */
	int cur_target;            /* index, -1 before the first [target] */
	bool has_secrets;          /* inline secrets: warn if the file is world-readable */
	bool failed;
	char *err;
	size_t errlen;
	const struct lun_section *reg_sect; /* current section is the registry's ([raid], [pool]) */
	struct cfg_sect reg_row;            /* ... seen through this row */
	void *reg_obj;                      /* the object its keys fill */
	char why[512];                      /* a refusal of the registry */
};

int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define cfg_fail(p, ...) cfg_fail_line((p), (p)->lineno, __VA_ARGS__)
struct tgt_target_conf *cfg_cur_target(struct cfg_parser *p);
struct tgt_lun_conf *cfg_cur_lun(struct cfg_parser *p);

/* Strings the configuration points at (cfg->storage); freed with it. */
const char *cfg_store_str(struct tgt_config *cfg, const char *s);
void cfg_store_free(struct tgt_config *cfg);
/* The same on any list of strings (the model keeps its own). */
const char *cfg_store_in(void **store, const char *s);
void cfg_store_free_all(void **store);

/* Value parsers: 0, or -EINVAL after cfg_fail(). */
int cfg_u64(struct cfg_parser *p, const char *key, const char *v, uint64_t min, uint64_t max,
	    uint64_t *out);
int cfg_bool(struct cfg_parser *p, const char *key, const char *v, bool *out);
bool cfg_all_hex(const char *s, size_t n);
/* iSCSI names are checked by target/iscsi/iscsi_name.h (iscsi_name_error). */
int cfg_parse_portal(const char *s, struct tgt_portal *out, const char **why);

/* The backend registry's view of the parser (lun-backends/lun_registry.h). */
struct lun_conf_ctx cfg_reg_ctx(struct cfg_parser *p, int line);
int cfg_reg_fail(struct cfg_parser *p, const struct lun_conf_ctx *c);
struct lun_conf_lun cfg_lun_ref(struct cfg_parser *p);

/* Key table rows: a number or boolean stored by offset, or a setter. */
#define CK_NUM(n, t, st, f, lo, hi) \
	{ \
		.name = n, .type = t, .off = offsetof(st, f), .min = lo, .max = hi \
	}
#define CK_FLAG(n, st, f) \
	{ \
		.name = n, .type = CK_BOOL, .off = offsetof(st, f) \
	}
#define CK_FN(n, fn) \
	{ \
		.name = n, .type = CK_FUNC, .set = fn \
	}
#define CK_LIST(n, fn) \
	{ \
		.name = n, .type = CK_FUNC, .set = fn, .repeatable = true \
	}

/* The parser's own sections (config_sections.c); the registry adds its own. */
extern const struct cfg_sect cfg_sections[];
extern const size_t cfg_n_sections;

#endif
