/* SPDX-License-Identifier: Apache-2.0 */
/* The live model of kura-targetd: the targets, LUs, LUN maps and storage
 * stacks built from a parsed configuration (tgt_model_open), and the
 * operations that change them at run time (model.h), which the admin
 * socket calls. The parsed configuration is only read: what changes is
 * copied into the model (strings into its own store).
 *
 * Not for: parsing (config.c, config_sections.c) or writing (conf_write.c)
 * the configuration, the storage control thread (storage.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "common/fileutil.h"
#include "target/model/config_internal.h"
#include "lun-backends/lun_registry.h"
#include "target/model/model.h"

static const char *mstr(struct tgt_model *m, const char *s)
{
	return cfg_store_in(&m->storage, s);
}

/* ---------------------------------------------------------------- LUNs */

/* A relative LUN path is relative to data_dir: the model's copy says so. */
static int resolve_path(struct tgt_model *m, struct tgt_lun_conf *l)
{
	char full[PATH_MAX + 4096];
	if (!l->backend.path || l->backend.path[0] == '/')
		return 0;
	snprintf(full, sizeof(full), "%s/%s", m->conf->data_dir, l->backend.path);
	l->backend.path = mstr(m, full);
	return l->backend.path ? 0 : -ENOMEM;
}

/* Persistent reservation state lives in <data_dir>/pr (one file per LU). */
static int pr_dir(struct tgt_model *m, struct tgt_lun_conf *l)
{
	char dir[4096 + 4];
	snprintf(dir, sizeof(dir), "%s/pr", m->conf->data_dir);
	int r = kfile_mkdir_p(dir, 0700);
	if (r == 0 && !(l->ident.pr_dir = mstr(m, dir)))
		r = -ENOMEM;
	return r;
}

static int open_lun(struct tgt_model *m, struct tgt_target *t, struct tgt_lun *ml, char *err,
		    size_t errlen)
{
	char why[1024] = "";
	struct lun_backend *be = NULL;
	struct tgt_lun_conf *l = &ml->c;
	int r = resolve_path(m, l);
	if (r == 0)
		r = pr_dir(m, l);
	/* A kind that opens on the stack (open_lun: thin, raid) goes through
	 * storage.c, which owns the stack; the others open by themselves. */
	const struct lun_kind *k = lun_kind_find(l->backend.type);
	bool stacked = k && k->open_lun;
	if (r == 0)
		r = stacked ? tgt_storage_open_lun(m, l, &be, why, sizeof(why))
			    : lun_backend_open(&l->backend, &be, why, sizeof(why));
	if (r == 0) {
		r = scsi_lu_create(&l->ident, be, &ml->lu, why, sizeof(why));
		if (r < 0)
			lun_backend_close(be);
	}
	if (r == 0 && stacked)
		tgt_storage_lu_created(m, l, ml->lu);
	if (r == 0)
		r = scsi_lun_map_add(t->map, l->lun, ml->lu);
	if (r < 0)
		snprintf(err, errlen, "target %s LUN %llu (%s %s): %s", t->iqn,
			 (unsigned long long)l->lun, l->backend.type,
			 l->backend.path ? l->backend.path
			 : l->stor.pool  ? l->stor.pool
			 : l->stor.raid  ? l->stor.raid
					 : "",
			 why[0] ? why : strerror(-r));
	return r;
}

static int restore(struct tgt_model *m, const char **s)
{
	if (*s && !(*s = mstr(m, *s)))
		return -ENOMEM;
	return 0;
}

/* Strings of l point into a parsed configuration: copy them. */
static int adopt_lun_strings(struct tgt_model *m, struct tgt_lun_conf *l)
{
	const char **s[] = { &l->backend.type,   &l->backend.path, &l->ident.target_iqn,
			     &l->ident.serial,   &l->ident.vendor, &l->ident.product,
			     &l->ident.revision, &l->ident.pr_dir, &l->stor.pool,
			     &l->stor.raid };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (restore(m, s[i]) < 0)
			return -ENOMEM;
	for (int i = 0; i < l->backend.n_kind_keys; i++)
		if (restore(m, &l->backend.kind_keys[i].key) < 0 ||
		    restore(m, &l->backend.kind_keys[i].value) < 0)
			return -ENOMEM;
	return 0;
}

/* Append a copy of src to t's LUN list (not opened yet). NULL if out of memory. */
static struct tgt_lun *lun_copy(struct tgt_model *m, struct tgt_target *t,
				const struct tgt_lun_conf *src)
{
	struct tgt_lun *l = lun_conf_grow(&t->luns, &t->n_luns, sizeof(*l));
	if (!l)
		return NULL;
	l->c = *src;
	if (adopt_lun_strings(m, &l->c) == 0)
		return l;
	t->n_luns--;
	return NULL;
}

/* ---------------------------------------------------------------- targets */

static void *dup_array(const void *a, size_t bytes)
{
	void *p = a && bytes ? malloc(bytes) : NULL;
	if (p)
		memcpy(p, a, bytes);
	return p;
}

/* t gets copies of src's names, ACL and CHAP accounts, and an empty LUN map. */
static int target_copy(struct tgt_target *t, const struct tgt_target_conf *src)
{
	memcpy(t->iqn, src->iqn, sizeof(t->iqn));
	memcpy(t->alias, src->alias, sizeof(t->alias));
	t->acl = dup_array(src->acl, (size_t)src->n_acl * sizeof(*src->acl));
	t->n_acl = t->acl ? src->n_acl : 0;
	t->chap_in = dup_array(src->chap_in, (size_t)src->n_chap_in * sizeof(*src->chap_in));
	t->n_chap_in = t->chap_in ? src->n_chap_in : 0;
	t->chap_out = dup_array(src->chap_out, src->chap_out ? sizeof(*src->chap_out) : 0);
	t->map = scsi_lun_map_new();
	if (!t->map || t->n_acl != src->n_acl || t->n_chap_in != src->n_chap_in ||
	    !t->chap_out != !src->chap_out)
		return -ENOMEM;
	return 0;
}

static int target_open(struct tgt_model *m, struct tgt_target *t, const struct tgt_target_conf *src,
		       char *err, size_t errlen)
{
	if (target_copy(t, src) < 0) {
		snprintf(err, errlen, "target %s: out of memory", src->iqn);
		return -ENOMEM;
	}
	for (int j = 0; j < src->n_luns; j++) {
		struct tgt_lun *l = lun_copy(m, t, &src->luns[j]);
		if (!l) {
			snprintf(err, errlen, "target %s: out of memory", src->iqn);
			return -ENOMEM;
		}
		int r = open_lun(m, t, l, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The model runs its own copy of the [raid] / [pool] sections: storage.c
 * records run-time state in them and appends the ones created at run time. */
static int stack_copy(struct tgt_model *m, const struct lun_stack_conf *sc)
{
	for (int i = 0; i < sc->n_raids; i++)
		if (tgt_model_adopt_raid(m, &sc->raids[i]) < 0)
			return -ENOMEM;
	for (int i = 0; i < sc->n_pools; i++)
		if (tgt_model_adopt_pool(m, &sc->pools[i]) < 0)
			return -ENOMEM;
	return 0;
}

static int model_build(struct tgt_model *m, char *err, size_t errlen)
{
	const struct tgt_config *cfg = m->conf;
	int r = kfile_mkdir_p(cfg->data_dir, 0700);
	if (r < 0) {
		snprintf(err, errlen, "data_dir %s: %s", cfg->data_dir, strerror(-r));
		return r;
	}
	if (stack_copy(m, &cfg->stack) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((m->stack.n_raids || m->stack.n_pools) && (r = tgt_storage_open(m, err, errlen)) < 0)
		return r;
	if (cfg->n_targets && !(m->targets = calloc((size_t)cfg->n_targets, sizeof(*m->targets)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < cfg->n_targets; i++) {
		m->n_targets++;
		if ((r = target_open(m, &m->targets[i], &cfg->targets[i], err, errlen)) < 0)
			return r;
	}
	return 0;
}

int tgt_model_open(const struct tgt_config *cfg, struct tgt_model **out, char *err, size_t errlen)
{
	struct tgt_model *m = calloc(1, sizeof(*m));
	*out = m;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->conf = cfg;
	pthread_mutex_init(&m->live_lock, NULL);
	return model_build(m, err, errlen);
}

/* ---- run-time [raid] / [pool] (kura-targetctl raid create / pool create) ----
 * storage.c calls these on its control thread while the admin thread waits:
 * once the server runs, those two are the only threads that index
 * m->stack.raids / m->stack.pools, so the arrays grow (and move) without a lock. */

static int copy_paths(struct tgt_model *m, const char *const *src, int n, const char ***out)
{
	*out = NULL;
	if (!n)
		return 0;
	const char **a = calloc((size_t)n, sizeof(*a));
	for (int i = 0; a && i < n; i++)
		if (!(a[i] = mstr(m, src[i]))) {
			free(a);
			return -ENOMEM;
		}
	*out = a;
	return a ? 0 : -ENOMEM;
}

int tgt_model_adopt_raid(struct tgt_model *m, const struct lun_raid_conf *src)
{
	struct lun_raid_conf c = *src;
	c.spares = NULL;
	int r = copy_paths(m, src->members, src->n_members, &c.members);
	if (r == 0)
		r = copy_paths(m, src->spares, src->n_spares, &c.spares);
	struct lun_raid_conf *slot =
		r == 0 ? lun_conf_grow(&m->stack.raids, &m->stack.n_raids, sizeof(*slot)) : NULL;
	if (!slot) {
		free(c.members);
		free(c.spares);
		return -ENOMEM;
	}
	*slot = c;
	return m->stack.n_raids - 1;
}

int tgt_model_adopt_pool(struct tgt_model *m, const struct lun_pool_conf *src)
{
	struct lun_pool_conf c = *src;
	if (!(c.data = mstr(m, src->data)) || !(c.meta = mstr(m, src->meta)))
		return -ENOMEM;
	struct lun_pool_conf *slot =
		lun_conf_grow(&m->stack.pools, &m->stack.n_pools, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = c;
	return m->stack.n_pools - 1;
}

/* ---- run-time LUN changes (kura-targetctl lun add / remove, admin_live.c) ----
 * t->luns is read only by the admin thread once the server runs, so growing
 * or shrinking it there needs no lock; the LU map is what workers read. */

int tgt_model_add_lun(struct tgt_model *m, struct tgt_target *t, const struct tgt_lun_conf *src,
		      char *err, size_t errlen)
{
	if ((src->stor.pool || src->stor.raid) && !m->stor_rt) {
		snprintf(err, errlen,
			 "the daemon runs no [pool] or [raid] section (restart it with one)");
		return -EOPNOTSUPP;
	}
	if (!t->map || scsi_lun_map_get(t->map, src->lun)) {
		snprintf(err, errlen, "LUN %llu of %s exists", (unsigned long long)src->lun,
			 t->iqn);
		return -EEXIST;
	}
	struct tgt_lun *l = lun_copy(m, t, src);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int r = open_lun(m, t, l, err, errlen);
	if (r < 0)
		t->n_luns--; /* nothing was published: open_lun adds to the map last */
	else
		scsi_lun_map_changed(t->map, l->lu); /* SPC-4 6.33: 3F/0E to the other LUs */
	return r;
}

int tgt_model_unpublish_lun(struct tgt_target *t, uint64_t lun, struct scsi_lu **lu)
{
	if (!t->map || scsi_lun_map_remove(t->map, lun, lu) < 0)
		return -ENOENT;
	scsi_lun_map_changed(t->map, NULL); /* SPC-4 6.33: 3F/0E via the other LUs */
	return 0;
}

void tgt_model_destroy_lu(struct tgt_model *m, struct tgt_target *t, struct scsi_lu *lu)
{
	tgt_storage_lu_removed(m, lu);    /* no 38/07 to it any more */
	scsi_lun_map_release(t->map, lu); /* closes its backend: a thin volume can be deleted */
}

void tgt_model_forget_lun(struct tgt_target *t, uint64_t lun)
{
	for (int i = 0; i < t->n_luns; i++)
		if (t->luns[i].c.lun == lun) {
			memmove(&t->luns[i], &t->luns[i + 1],
				(size_t)(t->n_luns - i - 1) * sizeof(t->luns[0]));
			t->n_luns--;
			return;
		}
}

/* ---------------------------------------------------------------- access */

struct tgt_retired {
	struct tgt_retired *next;
	void *p;
	size_t bytes;
};

/* Keep p (bytes long, malloc'ed) until tgt_model_close, which wipes and
 * frees it: an array replaced at run time that a login may still read. On
 * out of memory p leaks, which is safe, where freeing it would not be. */
static void retire(struct tgt_model *m, void *p, size_t bytes)
{
	struct tgt_retired *r = p ? malloc(sizeof(*r)) : NULL;
	if (!r)
		return;
	*r = (struct tgt_retired){ m->retired, p, bytes };
	m->retired = r;
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void wipe_accounts(struct chap_account *a, int n)
{
	if (a)
		explicit_bzero(a, (size_t)n * sizeof(*a));
	free(a);
}

void tgt_model_access_free(struct tgt_access *a)
{
	free(a->acl);
	wipe_accounts(a->chap_in, a->n_chap_in);
	*a = (struct tgt_access){ 0 };
}

int tgt_model_access_copy(const struct tgt_target_conf *from, struct tgt_access *out)
{
	*out = (struct tgt_access){ .n_acl = from->n_acl, .n_chap_in = from->n_chap_in };
	out->acl = dup_array(from->acl, (size_t)from->n_acl * sizeof(*from->acl));
	out->chap_in = dup_array(from->chap_in, (size_t)from->n_chap_in * sizeof(*from->chap_in));
	if ((from->n_acl && !out->acl) || (from->n_chap_in && !out->chap_in)) {
		tgt_model_access_free(out);
		return -ENOMEM;
	}
	return 0;
}

void tgt_model_set_access(struct tgt_model *m, struct tgt_target *t, struct tgt_access *a)
{
	char(*old_acl)[224] = t->acl;
	struct chap_account *old_chap = t->chap_in;
	int old_nacl = t->n_acl, old_nchap = t->n_chap_in;
	pthread_mutex_lock(&m->live_lock);
	t->acl = a->acl;
	t->n_acl = a->n_acl;
	t->chap_in = a->chap_in;
	t->n_chap_in = a->n_chap_in;
	pthread_mutex_unlock(&m->live_lock);
	*a = (struct tgt_access){ 0 };
	retire(m, old_acl, (size_t)old_nacl * sizeof(*old_acl));
	retire(m, old_chap, (size_t)old_nchap * sizeof(*old_chap));
}

/* ---------------------------------------------------------------- text */

const char *tgt_model_text(const struct tgt_model *m)
{
	return m->run_text ? m->run_text : tgt_default_config;
}

static void wipe_text(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

int tgt_model_set_text(struct tgt_model *m, const char *text)
{
	char *s = strdup(text);
	if (!s)
		return -ENOMEM;
	wipe_text(m->run_text);
	m->run_text = s;
	return 0;
}

/* ---------------------------------------------------------------- close */

static void free_retired(struct tgt_model *m)
{
	while (m->retired) {
		struct tgt_retired *r = m->retired;
		m->retired = r->next;
		explicit_bzero(r->p, r->bytes); /* old CHAP secrets */
		free(r->p);
		free(r);
	}
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
	wipe_accounts(t->chap_in, t->n_chap_in);
	wipe_accounts(t->chap_out, 1);
}

void tgt_model_close(struct tgt_model *m)
{
	if (!m)
		return;
	tgt_storage_forget_lus(m);
	for (int i = 0; i < m->n_targets; i++)
		target_free(&m->targets[i]);
	tgt_storage_close(m); /* after the LUs: volumes -> pools -> arrays */
	lun_stack_conf_free(&m->stack);
	free(m->targets);
	free_retired(m);
	wipe_text(m->run_text);
	cfg_store_free_all(&m->storage);
	pthread_mutex_destroy(&m->live_lock);
	free(m);
}
