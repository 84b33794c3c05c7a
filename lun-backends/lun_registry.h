/* SPDX-License-Identifier: Apache-2.0 */
/* The backend registry: every LUN backend kind (file, memory, thin, raid)
 * declares here its name (backend = NAME), the keys it takes in a [lun]
 * section, the section it owns if any ([raid NAME], [pool NAME]) and the
 * checks run once a section is complete. The daemon's configuration parser
 * knows none of these keys: it hands the registry every [lun] key it does
 * not know itself and every section whose name is a kind's.
 *
 * Key tables are rows of { name, setter, repeatable }: the setter validates
 * the value, stores it where it goes (the LUN's lun_backend_params or
 * lun_stack_lun, or the section's object) and on refusal writes the reason
 * to ctx->why without "FILE:LINE: ", which the parser adds (messages are a
 * contract: docs/configuration.md, tests).
 *
 * Adding a kind: its folder defines a struct lun_kind (keys without a field
 * in lun_backend_params go to kind_keys through lun_conf_kind_key and are
 * read back with lun_params_get), lun_registry.c lists it in lun_kinds[]
 * (one line), the build file compiles the folder.
 *
 * Opening: leaf kinds (file, memory) through lun_backend_open, stacked
 * kinds (raid, thin) through the stack builder (lun_stack.h).
 *
 * Not for: the daemon's control thread (target/model/storage.c),
 * SCSI identity keys of a [lun] (serial, vendor, ...: the target's config).
 */
#ifndef KURA_LUN_REGISTRY_H
#define KURA_LUN_REGISTRY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lun-backends/lun_backend.h"

#define LUN_STACK_NAME_MAX 64

struct lun_pool_rt;
struct lun_stack_open;

/* [raid NAME] */
struct lun_raid_conf {
	char name[LUN_STACK_NAME_MAX];
	int line;             /* of the section header, for messages */
	int level;            /* 0, 1, 5, 6, 10 */
	uint32_t chunk;       /* bytes; 0 = 64 KiB */
	const char **members; /* role order (create) or any order (assemble) */
	int n_members;
	const char **spares;
	int n_spares;
	bool create;           /* create if no member carries a superblock */
	bool direct;           /* members with O_DIRECT */
	uint64_t member_size;  /* create missing member / spare files this big */
	uint64_t rebuild_rate; /* bytes per second of resync / rebuild; 0 = 160 MiB/s */
	bool force_new;        /* create over member files that hold data (lun_raid_format.c) */
};

/* [pool NAME] */
struct lun_pool_conf {
	char name[LUN_STACK_NAME_MAX];
	int line;
	const char *data;    /* a [raid] name or a file path */
	int data_raid;       /* index into raids, or -1 for a file (lun_stack_resolve) */
	const char *meta;    /* metadata file */
	uint32_t chunk_size; /* 0 = LUN_THIN_CHUNK_DEFAULT */
	uint64_t size;       /* data file size (file data store) */
	uint64_t low_water;  /* bytes, or percent of the pool when low_water_pct */
	bool low_water_pct;
	bool force_new; /* format over data / a foreign metadata file (lun_thin_format.c) */
};

/* The stacked storage sections of one configuration. */
struct lun_stack_conf {
	struct lun_raid_conf *raids;
	int n_raids;
	struct lun_pool_conf *pools;
	int n_pools;
};

/* The run-time state of an opened [raid NAME] / [pool NAME], kept apart
 * from the parsed section (which nothing writes once parsed): the stack
 * builder (lun_stack.c) fills it, its host (target/model/storage.c) owns
 * it and keeps the rebuild figures. */
struct lun_raid_run {
	struct lun_backend *be;
	bool failed; /* could not assemble: its LUNs answer NOT READY */
	char why[256];
	uint64_t rebuild_t0_ms; /* rebuild start (status / throughput) */
	int rebuild_role;       /* -1: none seen */
	double last_rebuild_mib_s;
	double last_rebuild_s;
};

struct lun_pool_run {
	struct lun_backend *data_be; /* the pool's data device (owned here if a file) */
	struct lun_thin_pool *pool;
	bool failed;
	char why[256];
	struct lun_pool_rt *rt; /* the host's: LUs to notify of low water */
};

/* A stack being run: the parsed sections and, index for index, the state
 * of each (raids[i] is conf->raids[i]'s, pools[i] conf->pools[i]'s). */
struct lun_stack {
	const struct lun_stack_conf *conf;
	struct lun_raid_run *raids;
	struct lun_pool_run *pools;
};

/* A LUN's thin / raid keys (backend = thin | raid). */
struct lun_stack_lun {
	const char *pool; /* backend = thin */
	const char *raid; /* backend = raid */
	uint32_t volume;
	bool has_volume;
	uint32_t origin; /* snapshot_of / clone_of */
	bool snapshot, clone;
	int line; /* of the [lun] header */
};

/* What a key setter or a check needs from the parser that calls it. */
struct lun_conf_ctx {
	char *why; /* reason of a refusal (the caller prefixes FILE:LINE) */
	size_t whylen;
	int line;     /* line of the key, or of the section header at its end */
	int err_line; /* set by a check that blames another line (0: line) */
	const char *(*store)(void *arg, const char *s); /* keep s as long as the configuration */
	void *arg;
};

/* The object a [lun] key fills: the LUN's backend parameters and stack keys. */
struct lun_conf_lun {
	struct lun_backend_params *b;
	struct lun_stack_lun *s;
};

struct lun_key {
	const char *name;
	int (*set)(struct lun_conf_ctx *c, void *obj, const char *key, const char *v);
	bool repeatable; /* may be given more than once (lists) */
};

/* A section a kind owns: [name ARG]. begin returns the object its keys
 * fill (NULL + why on refusal); end checks it once the section is over. */
struct lun_section {
	const char *name;
	void *(*begin)(struct lun_conf_ctx *c, struct lun_stack_conf *sc, const char *arg);
	int (*end)(struct lun_conf_ctx *c, struct lun_stack_conf *sc, void *obj);
	const struct lun_key *keys;
	size_t n_keys;
};

struct lun_kind {
	const char *name;               /* backend = NAME */
	const struct lun_key *lun_keys; /* [lun] keys of its own (others: lun_registry.c) */
	size_t n_lun_keys;
	bool (*lun_keys_given)(const struct lun_conf_lun *l);
	const char *misplaced; /* refusal when its keys go to a LUN of another kind */
	int (*lun_check)(struct lun_conf_ctx *c, const struct lun_conf_lun *l);
	const struct lun_section *section; /* or NULL */
	int layer;                         /* in a stack: 0 leaf (file, memory), 1 array, 2 pool */
	/* After the whole file: the names a LUN of this kind gives exist. */
	int (*lun_resolve)(struct lun_conf_ctx *c, const struct lun_stack_conf *sc,
			   const struct lun_stack_lun *s);
	/* Leaf kinds: open from the LUN's parameters (lun_backend_open). */
	int (*open)(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		    size_t errlen);
	/* Stacked kinds: open on what the stack builder opened (lun_stack.h). */
	int (*open_lun)(const struct lun_stack *st, const struct lun_conf_lun *l,
			struct lun_backend **out, struct lun_stack_open *o);
	bool open_blocks; /* open_lun blocks (control calls): a control thread only */
};

/* Refuse with a formatted reason: writes c->why, returns -EINVAL. */
int lun_conf_fail(struct lun_conf_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Value parsers shared by the kinds' key tables (messages as the parser's). */
int lun_conf_u64(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t min, uint64_t max,
		 uint64_t *out);
int lun_conf_bool(struct lun_conf_ctx *c, const char *key, const char *v, bool *out);
int lun_conf_size(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t *out);
int lun_conf_pow2(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t lo, uint64_t hi,
		  uint32_t *out);
int lun_conf_str(struct lun_conf_ctx *c, const char *key, const char *v, const char **dst);
/* A kind's own [lun] key without a field in lun_backend_params (a new
 * kind's): kept in kind_keys (repeating a key replaces its value), read by
 * the kind's open with lun_params_get. Use it as a key's setter, or call it
 * from one once the value is validated. */
int lun_conf_kind_key(struct lun_conf_ctx *c, void *obj, const char *key, const char *v);
/* True if l holds any of k's own keys in kind_keys: a lun_keys_given for
 * kinds that keep their keys there. */
bool lun_conf_kind_keys_given(const struct lun_kind *k, const struct lun_conf_lun *l);
/* Array and pool names: letters, digits, '.', '_', '-'; dup: already defined. */
int lun_conf_check_name(struct lun_conf_ctx *c, const char *kind, const char *name, bool dup);
/* "8G", "512", "64K": bytes (powers of 1024, optional "iB"/"B"). 0, -EINVAL or -ERANGE. */
int lun_parse_size(const char *v, uint64_t *out);

/* Registry look-ups. */
const struct lun_kind *lun_kind_find(const char *name);
size_t lun_kind_count(void);
const struct lun_kind *lun_kind_at(size_t i);
/* A [lun] key the registry knows: the row and its index (0..lun_registry_n_lun_keys()-1). */
const struct lun_key *lun_registry_lun_key(const char *name, size_t *idx);
size_t lun_registry_n_lun_keys(void);
/* The section a kind owns named name (len bytes), or NULL. */
const struct lun_section *lun_registry_section(const char *name, size_t len);
/* The i-th section, lower layers first (raid before pool); NULL past the end. */
const struct lun_section *lun_registry_section_at(size_t i);
/* Defaults of a new [lun] (backend = file, block_size 512). */
void lun_conf_lun_init(struct lun_backend_params *b, struct lun_stack_lun *s);
/* A [lun] section is over: keys given to the wrong kind, then the kind's checks. */
int lun_registry_lun_end(struct lun_conf_ctx *c, const struct lun_conf_lun *l);
/* After the whole file: pool data names a [raid] (else it is a path), and
 * each LUN names sections that exist (c->err_line: the LUN's line). */
void lun_stack_resolve(struct lun_stack_conf *sc);
int lun_registry_lun_resolve(struct lun_conf_ctx *c, const struct lun_stack_conf *sc,
			     const struct lun_backend_params *b, const struct lun_stack_lun *s);
int lun_stack_find_raid(const struct lun_stack_conf *sc, const char *name);
int lun_stack_find_pool(const struct lun_stack_conf *sc, const char *name);
/* Free the section arrays (strings belong to the caller's store). */
void lun_stack_conf_free(struct lun_stack_conf *sc);

/* Grow *arr (of elem-byte items, *n in use) by one zeroed item; NULL if out of memory. */
void *lun_conf_grow(void *arr_p, int *n, size_t elem);

#endif
