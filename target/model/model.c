/* SPDX-License-Identifier: Apache-2.0 */
/* The live model of kura-targetd: the LUs, LUN maps and storage stacks built
 * from a parsed configuration (tgt_model_open), and the operations
 * that change them at run time (model.h), which the admin socket calls.
 *
 * Not for: parsing (config.c, config_sections.c) or writing (conf_write.c)
 * the configuration, the storage control thread (storage.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "common/fileutil.h"
#include "target/model/config_internal.h"
#include "target/model/model.h"

/* ---------------------------------------------------------------- LUNs */

static int resolve_path(struct tgt_config *cfg, struct tgt_lun_conf *l)
{
	char full[PATH_MAX + 4096];
	if (!l->backend.path || l->backend.path[0] == '/')
		return 0;
	snprintf(full, sizeof(full), "%s/%s", cfg->data_dir, l->backend.path);
	l->backend.path = cfg_store_str(cfg, full);
	return l->backend.path ? 0 : -ENOMEM;
}

/* Persistent reservation state lives in <data_dir>/pr (one file per LU). */
static int pr_dir(struct tgt_config *cfg, struct tgt_lun_conf *l)
{
	char dir[4096 + 4];
	snprintf(dir, sizeof(dir), "%s/pr", cfg->data_dir);
	int r = kfile_mkdir_p(dir, 0700);
	if (r == 0 && !(l->ident.pr_dir = cfg_store_str(cfg, dir)))
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

int tgt_model_open(struct tgt_config *cfg, char *err, size_t errlen)
{
	int r = kfile_mkdir_p(cfg->data_dir, 0700);
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
		if (!(a[i] = cfg_store_str(cfg, src[i]))) {
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
	if (!(c.data = cfg_store_str(cfg, src->data)) || !(c.meta = cfg_store_str(cfg, src->meta)))
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
	if (*s && !(*s = cfg_store_str(cfg, *s)))
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

int tgt_model_add_lun(struct tgt_config *cfg, struct tgt_target *t, const struct tgt_lun_conf *src,
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
	if (r == 0)
		scsi_lun_map_changed(t->map, l->lu);   /* SPC-4 6.33: 3F/0E to the other LUs */
	return r;
}

int tgt_model_unpublish_lun(struct tgt_target *t, uint64_t lun, struct scsi_lu **lu)
{
	if (!t->map || scsi_lun_map_remove(t->map, lun, lu) < 0)
		return -ENOENT;
	scsi_lun_map_changed(t->map, NULL);   /* SPC-4 6.33: 3F/0E via the other LUs */
	return 0;
}

void tgt_model_destroy_lu(struct tgt_config *cfg, struct tgt_target *t, struct scsi_lu *lu)
{
	tgt_storage_lu_removed(cfg, lu);    /* no 38/07 to it any more */
	scsi_lun_map_release(t->map, lu);   /* closes its backend: a thin volume can be deleted */
}

void tgt_model_forget_lun(struct tgt_target *t, uint64_t lun)
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

/* Keep p (bytes long, malloc'ed) until tgt_config_free, which wipes and
 * frees it: an array replaced at run time that a login may still read. On
 * out of memory p leaks, which is safe, where freeing it would not be. */
static void retire(struct tgt_config *cfg, void *p, size_t bytes)
{
	struct tgt_retired *r = p ? malloc(sizeof(*r)) : NULL;
	if (!r)
		return;
	*r = (struct tgt_retired){ cfg->retired, p, bytes };
	cfg->retired = r;
}

void tgt_model_set_access(struct tgt_config *cfg, struct tgt_target *t, struct tgt_target *from)
{
	char (*old_acl)[224] = t->acl;
	struct chap_account *old_chap = t->chap_in;
	int old_nacl = t->n_acl, old_nchap = t->n_chap_in;
	pthread_mutex_lock(&cfg->live_lock);
	t->acl = from->acl;
	t->n_acl = from->n_acl;
	t->chap_in = from->chap_in;
	t->n_chap_in = from->n_chap_in;
	pthread_mutex_unlock(&cfg->live_lock);
	from->acl = NULL;
	from->chap_in = NULL;
	from->n_acl = from->n_chap_in = 0;
	retire(cfg, old_acl, (size_t)old_nacl * sizeof(*old_acl));
	retire(cfg, old_chap, (size_t)old_nchap * sizeof(*old_chap));
}

const char *tgt_model_text(const struct tgt_config *cfg)
{
	return cfg->run_text ? cfg->run_text : tgt_default_config;
}

static void wipe_text(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

int tgt_model_set_text(struct tgt_config *cfg, const char *text)
{
	char *s = strdup(text);
	if (!s)
		return -ENOMEM;
	wipe_text(cfg->run_text);
	cfg->run_text = s;
	return 0;
}

/* ---- free ---- */

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
	cfg_store_free(cfg);
	free_retired(cfg);
	wipe_text(cfg->run_text);
	cfg->run_text = NULL;
	cfg->targets = NULL;
	cfg->n_targets = 0;
	cfg->disc_chap_in = cfg->disc_chap_out = NULL;
	cfg->n_disc_chap_in = 0;
}

