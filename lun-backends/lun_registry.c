/* SPDX-License-Identifier: Apache-2.0 */
/* The backend registry (lun_registry.h): the list of kinds, the [lun] keys
 * every kind shares (backend, path, size, block_size, direct, read_only,
 * create), the file and memory kinds, and the value parsers the kinds' key
 * tables use.
 *
 * Not for: a kind's own keys and checks (raid/lun_raid_conf.c,
 * thin/lun_thin_conf.c), opening anything.
 */
#include "lun-backends/lun_registry.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct lun_kind lun_kind_file, lun_kind_memory;
extern const struct lun_kind lun_kind_thin, lun_kind_raid;
#ifdef KURA_HAVE_RBD
extern const struct lun_kind lun_kind_rbd; /* rbd/lun_rbd_conf.c: built with librbd */
#endif

/* The registry: one line per kind, in the order their misplaced keys are reported. */
static const struct lun_kind *const lun_kinds[] = {
	&lun_kind_file, &lun_kind_memory, &lun_kind_thin, &lun_kind_raid,
#ifdef KURA_HAVE_RBD
	&lun_kind_rbd,
#endif
};
#define N_KINDS (sizeof(lun_kinds) / sizeof(lun_kinds[0]))

size_t lun_kind_count(void)
{
	return N_KINDS;
}
const struct lun_kind *lun_kind_at(size_t i)
{
	return i < N_KINDS ? lun_kinds[i] : NULL;
}

const struct lun_kind *lun_kind_find(const char *name)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (strcmp(lun_kinds[i]->name, name) == 0)
			return lun_kinds[i];
	return NULL;
}

/* ---------------------------------------------------------------- value parsers */

int lun_conf_fail(struct lun_conf_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int lun_conf_u64(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return lun_conf_fail(c, "%s: '%s' is not a number", key, v);
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end)
		return lun_conf_fail(c, "%s: '%s' is not a number", key, v);
	if (errno == ERANGE || x < min || x > max)
		return lun_conf_fail(c, "%s: %s is out of range %llu..%llu", key, v,
				     (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

static const struct {
	const char *word;
	bool val;
} bool_words[] = {
	{ "yes", true }, { "true", true },   { "on", true },   { "1", true },
	{ "no", false }, { "false", false }, { "off", false }, { "0", false },
};

int lun_conf_bool(struct lun_conf_ctx *c, const char *key, const char *v, bool *out)
{
	for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++)
		if (strcasecmp(v, bool_words[i].word) == 0) {
			*out = bool_words[i].val;
			return 0;
		}
	return lun_conf_fail(c, "%s: '%s' is not yes or no", key, v);
}

static const struct {
	char c;
	unsigned shift;
} size_suffixes[] = {
	{ 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 },
};

/* Integers only, with K/M/G/T/P (powers of 1024), optionally followed by
 * "iB" or "B". Strict: no trailing junk, no overflow. */
int lun_parse_size(const char *v, uint64_t *out)
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

int lun_conf_size(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t *out)
{
	int r = lun_parse_size(v, out);
	if (r == -ERANGE)
		return lun_conf_fail(c, "%s: '%s' is too large", key, v);
	if (r < 0)
		return lun_conf_fail(
			c, "%s: '%s' is not a size (a number with optional K, M, G, T, P)", key, v);
	return 0;
}

int lun_conf_pow2(struct lun_conf_ctx *c, const char *key, const char *v, uint64_t lo, uint64_t hi,
		  uint32_t *out)
{
	uint64_t x = 0;
	if (lun_conf_size(c, key, v, &x) < 0)
		return -EINVAL;
	if (x < lo || x > hi || (x & (x - 1)))
		return lun_conf_fail(c, "%s: '%s' must be a power of two from %lluK to %lluK", key,
				     v, (unsigned long long)lo >> 10, (unsigned long long)hi >> 10);
	*out = (uint32_t)x;
	return 0;
}

int lun_conf_str(struct lun_conf_ctx *c, const char *key, const char *v, const char **dst)
{
	*dst = c->store(c->arg, v);
	return *dst ? 0 : lun_conf_fail(c, "%s: out of memory", key);
}

int lun_conf_check_name(struct lun_conf_ctx *c, const char *kind, const char *name, bool dup)
{
	if (strlen(name) >= LUN_STACK_NAME_MAX)
		return lun_conf_fail(c, "[%s %s]: name longer than %d characters", kind, name,
				     LUN_STACK_NAME_MAX - 1);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return lun_conf_fail(c,
					     "%s name '%s': use letters, digits, '.', '_' or '-'",
					     kind, name);
	return dup ? lun_conf_fail(c, "[%s %s] is defined twice", kind, name) : 0;
}

void *lun_conf_grow(void *arr_p, int *n, size_t elem)
{
	void **arr = arr_p;
	char *a = realloc(*arr, (size_t)(*n + 1) * elem);
	if (!a)
		return NULL;
	memset(a + (size_t)*n * elem, 0, elem);
	*arr = a;
	return a + (size_t)(*n)++ * elem;
}

/* ---------------------------------------------------------------- shared [lun] keys */

static struct lun_backend_params *lb(void *obj)
{
	return ((struct lun_conf_lun *)obj)->b;
}

int lun_conf_kind_key(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	struct lun_backend_params *b = lb(obj);
	for (int i = 0; i < b->n_kind_keys; i++)
		if (strcmp(b->kind_keys[i].key, key) == 0)
			return lun_conf_str(c, key, v, &b->kind_keys[i].value);
	if (b->n_kind_keys == LUN_KIND_KEYS_MAX)
		return lun_conf_fail(c, "%s: more than %d keys of the backend's own", key,
				     LUN_KIND_KEYS_MAX);
	struct lun_kind_kv *kv = &b->kind_keys[b->n_kind_keys];
	int r = lun_conf_str(c, key, key, &kv->key);
	if (r == 0)
		r = lun_conf_str(c, key, v, &kv->value);
	if (r == 0)
		b->n_kind_keys++;
	return r;
}

bool lun_conf_kind_keys_given(const struct lun_kind *k, const struct lun_conf_lun *l)
{
	for (int i = 0; i < l->b->n_kind_keys; i++)
		for (size_t j = 0; j < k->n_lun_keys; j++)
			if (strcmp(l->b->kind_keys[i].key, k->lun_keys[j].name) == 0)
				return true;
	return false;
}

/* "file, memory, thin or raid" */
static void kind_names(char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < N_KINDS && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s",
				      i == 0             ? ""
				      : i + 1 == N_KINDS ? " or "
							 : ", ",
				      lun_kinds[i]->name);
}

static int set_backend(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	const struct lun_kind *k = lun_kind_find(v);
	char names[128];
	if (k) {
		lb(obj)->type = k->name;
		return 0;
	}
	kind_names(names, sizeof(names));
	return lun_conf_fail(c, "%s: '%s' is not %s", key, v, names);
}

static int set_path(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (strlen(v) >= PATH_MAX)
		return lun_conf_fail(c, "%s: path too long", key);
	return lun_conf_str(c, key, v, &lb(obj)->path);
}

static int set_size(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (lun_conf_size(c, key, v, &lb(obj)->size) < 0)
		return -EINVAL;
	return lb(obj)->size ? 0 : lun_conf_fail(c, "%s: must not be 0", key);
}

static int set_block_size(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (strcmp(v, "512") && strcmp(v, "4096"))
		return lun_conf_fail(c, "%s: '%s' must be 512 or 4096", key, v);
	lb(obj)->block_size = (uint32_t)atoi(v);
	return 0;
}

static int set_direct(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &lb(o)->direct);
}
static int set_read_only(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &lb(o)->read_only);
}
static int set_create(struct lun_conf_ctx *c, void *o, const char *k, const char *v)
{
	return lun_conf_bool(c, k, v, &lb(o)->create);
}

static const struct lun_key shared_keys[] = {
	{ "backend", set_backend, false }, { "path", set_path, false },
	{ "size", set_size, false },       { "block_size", set_block_size, false },
	{ "direct", set_direct, false },   { "read_only", set_read_only, false },
	{ "create", set_create, false },
};
#define N_SHARED (sizeof(shared_keys) / sizeof(shared_keys[0]))

size_t lun_registry_n_lun_keys(void)
{
	size_t n = N_SHARED;
	for (size_t i = 0; i < N_KINDS; i++)
		n += lun_kinds[i]->n_lun_keys;
	return n;
}

const struct lun_key *lun_registry_lun_key(const char *name, size_t *idx)
{
	for (size_t i = 0; i < N_SHARED; i++)
		if (strcmp(shared_keys[i].name, name) == 0)
			return *idx = i, &shared_keys[i];
	size_t base = N_SHARED;
	for (size_t i = 0; i < N_KINDS; base += lun_kinds[i++]->n_lun_keys)
		for (size_t j = 0; j < lun_kinds[i]->n_lun_keys; j++)
			if (strcmp(lun_kinds[i]->lun_keys[j].name, name) == 0)
				return *idx = base + j, &lun_kinds[i]->lun_keys[j];
	return NULL;
}

const struct lun_section *lun_registry_section(const char *name, size_t len)
{
	for (size_t i = 0; i < N_KINDS; i++) {
		const struct lun_section *s = lun_kinds[i]->section;
		if (s && strlen(s->name) == len && strncmp(s->name, name, len) == 0)
			return s;
	}
	return NULL;
}

const struct lun_section *lun_registry_section_at(size_t i)
{
	for (int layer = 0; layer < 4; layer++)
		for (size_t k = 0; k < N_KINDS; k++)
			if (lun_kinds[k]->section && lun_kinds[k]->layer == layer && i-- == 0)
				return lun_kinds[k]->section;
	return NULL;
}

void lun_conf_lun_init(struct lun_backend_params *b, struct lun_stack_lun *s)
{
	*b = (struct lun_backend_params){ .type = lun_kind_file.name, .block_size = 512 };
	*s = (struct lun_stack_lun){ 0 };
}

int lun_registry_lun_end(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	const struct lun_kind *kind = lun_kind_find(l->b->type);
	l->s->line = c->line;
	for (size_t i = 0; i < N_KINDS; i++)
		if (lun_kinds[i] != kind && lun_kinds[i]->lun_keys_given &&
		    lun_kinds[i]->lun_keys_given(l))
			return lun_conf_fail(c, "%s", lun_kinds[i]->misplaced);
	return kind && kind->lun_check ? kind->lun_check(c, l) : 0;
}

int lun_registry_lun_resolve(struct lun_conf_ctx *c, const struct lun_stack_conf *sc,
			     const struct lun_backend_params *b, const struct lun_stack_lun *s)
{
	const struct lun_kind *kind = lun_kind_find(b->type);
	c->err_line = s->line;
	return kind && kind->lun_resolve ? kind->lun_resolve(c, sc, s) : 0;
}

/* ---------------------------------------------------------------- file and memory */

static int size_fits_blocks(struct lun_conf_ctx *c, const struct lun_backend_params *b)
{
	if (b->size % b->block_size)
		return lun_conf_fail(c, "size %llu is not a multiple of block_size %u",
				     (unsigned long long)b->size, b->block_size);
	return 0;
}

static int file_check(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	const struct lun_backend_params *b = l->b;
	if (!b->path)
		return lun_conf_fail(c, "backend = file needs 'path'");
	if (b->create && !b->size)
		return lun_conf_fail(c, "create = yes needs 'size'");
	return size_fits_blocks(c, b);
}

static int memory_check(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	const struct lun_backend_params *b = l->b;
	if (b->path)
		return lun_conf_fail(c, "backend = memory takes no 'path'");
	if (!b->size)
		return lun_conf_fail(c, "backend = memory needs 'size'");
	return size_fits_blocks(c, b);
}

static const struct lun_kind lun_kind_file = { .name = "file",
					       .lun_check = file_check,
					       .open = lun_file_open };
static const struct lun_kind lun_kind_memory = { .name = "memory",
						 .lun_check = memory_check,
						 .open = lun_mem_open };

/* ---------------------------------------------------------------- stack sections */

static int find_named(const char *name, const void *arr, int n, size_t elem)
{
	for (int i = 0; i < n; i++)
		if (strcmp((const char *)arr + (size_t)i * elem, name) ==
		    0) /* name is the first member */
			return i;
	return -1;
}

int lun_stack_find_raid(const struct lun_stack_conf *sc, const char *name)
{
	return find_named(name, sc->raids, sc->n_raids, sizeof(sc->raids[0]));
}

int lun_stack_find_pool(const struct lun_stack_conf *sc, const char *name)
{
	return find_named(name, sc->pools, sc->n_pools, sizeof(sc->pools[0]));
}

void lun_stack_resolve(struct lun_stack_conf *sc)
{
	for (int i = 0; i < sc->n_pools; i++)
		sc->pools[i].data_raid = lun_stack_find_raid(sc, sc->pools[i].data);
}

void lun_stack_conf_free(struct lun_stack_conf *sc)
{
	for (int i = 0; i < sc->n_raids; i++) {
		free(sc->raids[i].members);
		free(sc->raids[i].spares);
	}
	free(sc->raids);
	free(sc->pools);
	*sc = (struct lun_stack_conf){ 0 };
}
