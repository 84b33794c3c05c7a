/* SPDX-License-Identifier: Apache-2.0 */
/* Run-time configuration changes from kura-targetctl: `acl add|remove`,
 * `chap add|remove`, `lun add|remove` and the [raid] / [pool] edits of
 * admin_storage.c (admin.h has the requests).
 *
 * Every change is made to the configuration *text* by the one writer,
 * target/model/conf_write.c (only the lines the change is about move, so
 * comments, unknown keys and ordering survive). The new text is written to a
 * temporary file in the same directory (fsync), parsed with
 * tgt_config_load() — a change that would make the file invalid is refused
 * with the parser's reason — then renamed over the file and the directory
 * fsync'ed. Only then does the running target take the target's new acl /
 * chap_in arrays from the parsed copy, swapped in under m->live_lock; the
 * old arrays are retired (kept until tgt_model_close) because a login in
 * progress may still use them.
 *
 * Started without -c FILE, the text edited is an in-memory copy of the
 * embedded default (validated through a temporary file in data_dir, then
 * deleted): the change lasts until the daemon stops, and the reply says so.
 *
 * Existing sessions are not touched: removing an initiator from an ACL or a
 * CHAP account refuses the *next* login only.
 *
 * Not for: the INI grammar (config.c) or its text (conf_write.c), the login
 * policy (server.c). Secrets are never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "target/admin/admin_internal.h"
#include "target/model/conf_write.h"
#include "target/model/model.h"
#include "target/scsi/scsi_admin.h"

/* ---- the change ---- */

#define LIVE_ERR_MAX 1200 /* a reason is cut to this, as it always was */

struct live_ctx {
	struct tgt_model *m;
	struct tgt_target *t;
	struct conf_buf text; /* current text, then the new one */
	char dir[4096];
	mode_t mode;
	char *err;     /* reasons handed back through *why: the request's */
	size_t errlen; /* buffer (admin_cmd.msg), LIVE_ERR_MAX bytes of it */
	/* lun add / remove, raid / pool edits: run before the new text is installed
	 * (may refuse) and after (r = outcome); NULL => acl / chap: tgt_model_set_access(). */
	int (*prepare)(struct live_ctx *x, const struct tgt_target_conf *nt, const char **why);
	/* (x->t is NULL for a [raid] / [pool] change: nt is then NULL too) */
	void (*finish)(struct live_ctx *x, const struct tgt_target_conf *nt, int r);
	void *arg;
	const struct tgt_config *parsed; /* the new text, loaded, while prepare runs */
};

static int load_current(struct live_ctx *x)
{
	const char *path = x->m->conf->config_path;
	if (!path[0]) {
		snprintf(x->dir, sizeof(x->dir), "%s", x->m->conf->data_dir);
		x->mode = 0600;
		const char *s = tgt_model_text(x->m);
		return conf_buf_put(&x->text, s, strlen(s));
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	x->mode = st.st_mode & 07777;
	char copy[sizeof(x->m->conf->config_path)];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(x->dir, sizeof(x->dir), "%s", dirname(copy));
	return conf_read(path, &x->text);
}

/* A target of the parsed new text. */
static const struct tgt_target_conf *find_target(const struct tgt_config *cfg, const char *iqn)
{
	for (int i = 0; i < cfg->n_targets; i++)
		if (!strcasecmp(cfg->targets[i].iqn, iqn))
			return &cfg->targets[i];
	return NULL;
}

/* Parse the staged file tmp into parsed; a refusal names the real file. */
static int validate(struct live_ctx *x, const char *tmp, struct tgt_config *parsed,
		    const char **why)
{
	int r = tgt_config_load(tmp, parsed, x->err, x->errlen);
	size_t tl = strlen(tmp);
	*why = x->err; /* the parser's "file:line: reason", named after the real file */
	if (r < 0 && !strncmp(x->err, tmp, tl)) {
		char msg[LIVE_ERR_MAX];
		const char *name = x->m->conf->config_path[0] ? x->m->conf->config_path
							      : "<embedded>";
		snprintf(msg, sizeof(msg), "%.*s", (int)(sizeof(msg) - 1), x->err + tl);
		snprintf(x->err, x->errlen, "refused, the file would not parse: %.512s%.600s", name,
			 msg);
	}
	return r;
}

/* The staged file replaces the configuration file; without one, the text
 * becomes the model's run-time text. */
static int install(struct live_ctx *x, const char *tmp, const char *text, const char **why)
{
	if (x->m->conf->config_path[0]) {
		*why = "cannot rename the new configuration file into place";
		return conf_install(tmp, x->m->conf->config_path);
	}
	*why = "out of memory";
	return tgt_model_set_text(x->m, text);
}

/* Write, validate, prepare (may refuse), install, then apply to the model:
 * the ACL / CHAP swap, or finish() of a LUN / storage change. */
static int commit(struct live_ctx *x, const struct conf_buf *next, const char **why)
{
	char tmp[4200];
	struct tgt_config *parsed = calloc(1, sizeof(*parsed));
	int r = parsed ? conf_stage(x->dir, next->s, x->mode, tmp, sizeof(tmp)) : -ENOMEM;
	*why = "cannot write a temporary file next to the configuration file";
	if (r < 0) {
		free(parsed);
		return r;
	}
	r = validate(x, tmp, parsed, why);
	bool loaded = r == 0;
	const struct tgt_target_conf *nt = loaded && x->t ? find_target(parsed, x->t->iqn) : NULL;
	if (loaded && x->t && !nt) {
		*why = "the change would remove the target";
		r = -EINVAL;
	}
	x->parsed = loaded ? parsed : NULL;
	if (r == 0 && x->prepare)
		r = x->prepare(x, nt, why);
	x->parsed = NULL;
	/* acl / chap: copy the new arrays before the file changes, so that
	 * nothing can fail once it has */
	struct tgt_access acc = { 0 };
	if (r == 0 && !x->finish && (r = tgt_model_access_copy(nt, &acc)) < 0)
		*why = "out of memory";
	if (r == 0)
		r = install(x, tmp, next->s, why);
	unlink(tmp); /* already gone after the rename */
	if (x->finish && (loaded || r < 0))
		x->finish(x, nt, r);
	else if (r == 0)
		tgt_model_set_access(x->m, x->t, &acc);
	tgt_model_access_free(&acc); /* not swapped in (or emptied by the swap) */
	if (loaded)
		tgt_config_free(parsed);
	free(parsed);
	return r;
}

/* A change of m for request c (whose buffer takes the reasons). */
static void live_init(struct live_ctx *x, struct tgt_model *m, const struct admin_cmd *c)
{
	*x = (struct live_ctx){ .m = m,
				.err = c->msg,
				.errlen = c->msglen < LIVE_ERR_MAX ? c->msglen : LIVE_ERR_MAX };
}

/* Edit, commit and tell the administrator where the change lives. */
static int change(struct tgt_model *m, const struct conf_edit *ed, const struct admin_cmd *c,
		  FILE *f, const char **why)
{
	struct live_ctx x;
	live_init(&x, m, c);
	x.t = tgt_model_find_target(m, ed->name);
	*why = "no such target";
	if (!x.t)
		return -ENOENT;
	struct conf_edit e = *ed;
	e.name = x.t->iqn; /* as spelled in the file */
	struct conf_buf next = { 0 };
	int r = load_current(&x);
	if (ed->op == CONF_LINE_ADD && !strcmp(ed->key, "chap"))
		x.mode &= (mode_t)~077; /* the file now holds a secret */
	*why = "cannot read the configuration file";
	if (r == 0)
		r = conf_edit_text(x.text.s, &e, &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	conf_buf_free(&next);
	conf_buf_free(&x.text);
	if (r == 0 && m->conf->config_path[0])
		fprintf(f, "saved to %s\n", m->conf->config_path);
	else if (r == 0)
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE); "
		      "the change is lost when it stops\n",
		      f);
	return r;
}

int admin_live_acl(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why)
{
	bool add = c->op == ADMIN_ACL_ADD;
	struct conf_edit ed = { .op = add ? CONF_LINE_ADD : CONF_LINE_DROP,
				.kind = "target",
				.name = c->iqn,
				.key = "allow",
				.value = c->argv[3] };
	int r = change(m, &ed, c, f, why);
	if (r == 0)
		kinfo("admin: %s initiator %s %s the ACL of %s", add ? "added" : "removed",
		      ed.value, add ? "to" : "from", c->argv[2]);
	if (r == 0 && !add && srv) {
		/* a revoked initiator loses its sessions now, not at its next login */
		int n = tgt_server_close_revoked(srv, c->argv[2]);
		fprintf(f, "closed %d session%s no longer allowed\n", n, n == 1 ? "" : "s");
		if (n)
			kinfo("admin: closed %d session(s) on %s no longer allowed by its ACL", n,
			      c->argv[2]);
	}
	return r;
}

/* chap add IQN USER SECRET | chap remove IQN USER. The secret arrives on the
 * socket (kura-targetctl read it from a file or stdin) and is never logged. */
int admin_live_chap(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool add = c->op == ADMIN_CHAP_ADD;
	const char *user = c->user;
	char value[600]; /* admin_parse.c checked that "USER:SECRET" fits */
	if (add)
		snprintf(value, sizeof(value), "%s:%s", user, c->argv[4]);
	else
		snprintf(value, sizeof(value), "%s:", user);
	/* a remove drops the chap / chap_file lines of USER ("USER:" prefix) */
	struct conf_edit ed = { .op = add ? CONF_LINE_ADD : CONF_LINE_DROP,
				.kind = "target",
				.name = c->iqn,
				.key = "chap",
				.alias = "chap_file",
				.value = value,
				.prefix = true };
	int r = change(m, &ed, c, f, why);
	explicit_bzero(value, sizeof(value));
	if (r == 0)
		kinfo("admin: %s CHAP user %s %s %s", add ? "added" : "removed", user,
		      add ? "to" : "from", c->argv[2]);
	return r;
}

/* ---- lun add | remove ----
 * The [lun N] section is inserted after the [target IQN] section or removed
 * (conf_write.c: CONF_LUN_ADD / CONF_LUN_DROP). The parsed copy decides
 * what is opened: an add opens and publishes the LU before the file is
 * renamed (a backend that will not open refuses the change); a remove
 * unpublishes, drains and destroys it after the rename. */

struct lun_change {
	bool add, force;
	uint64_t lun;
	const char *iqn;
	char section[ADMIN_LUN_SECTION_MAX]; /* add: the text of the new section */
	bool published;                      /* add: the LU is in the map */
	struct tgt_server *srv;
	struct tgt_model *m;
};

static const struct tgt_lun_conf *find_lun(const struct tgt_target_conf *t, uint64_t lun)
{
	for (int i = 0; t && i < t->n_luns; i++)
		if (t->luns[i].lun == lun)
			return &t->luns[i];
	return NULL;
}

/* Removal steps 1-3 (scsi.h): unpublish, grace period, drain, destroy. */
static int lun_drain_destroy(struct lun_change *lc, struct tgt_target *t, FILE *f)
{
	struct scsi_lu *lu;
	if (tgt_model_unpublish_lun(t, lc->lun, &lu) < 0)
		return -ENOENT;
	int r = tgt_server_sync_workers(lc->srv);
	unsigned waited_ms = 0;
	while (r == 0 && scsi_lu_inflight(lu) && waited_ms < 60000) {
		usleep(2000);
		waited_ms += 2;
	}
	if (r < 0 || scsi_lu_inflight(lu)) {
		/* never free what a worker may still use: leave it open */
		kerr("admin: LUN %llu of %s still has %u task(s) in flight; left open until restart",
		     (unsigned long long)lc->lun, t->iqn, scsi_lu_inflight(lu));
		if (f)
			fprintf(f,
				"LUN %llu unpublished, but tasks are still in flight: its backend stays open\n",
				(unsigned long long)lc->lun);
	} else {
		tgt_model_destroy_lu(lc->m, t, lu);
	}
	tgt_model_forget_lun(t, lc->lun);
	return 0;
}

static int lun_prepare(struct live_ctx *x, const struct tgt_target_conf *nt, const char **why)
{
	struct lun_change *lc = x->arg;
	if (!lc->add)
		return 0;
	const struct tgt_lun_conf *l = find_lun(nt, lc->lun);
	*why = "the new [lun] section did not parse as expected";
	if (!l)
		return -EINVAL;
	int r = tgt_model_add_lun(x->m, x->t, l, x->err, x->errlen);
	*why = x->err;
	lc->published = r == 0;
	return r;
}

static void lun_finish(struct live_ctx *x, const struct tgt_target_conf *nt, int r)
{
	struct lun_change *lc = x->arg;
	(void)nt;
	if (lc->add && r < 0 && lc->published)
		lun_drain_destroy(lc, x->t, NULL); /* the file was not changed: take it back */
}

/* key=value words into the text of a [lun N] section (admin_parse.c
 * checked the keys and that the section fits). */
static void lun_section(const struct admin_cmd *c, struct lun_change *lc)
{
	size_t n = (size_t)snprintf(lc->section, sizeof(lc->section), "[lun %llu]\n",
				    (unsigned long long)lc->lun);
	bool file = false;
	for (int i = 4; i < c->argc && n < sizeof(lc->section); i++) {
		const char *a = c->argv[i], *eq = strchr(a, '=');
		file |= !strcmp(a, "backend=file");
		n += (size_t)snprintf(lc->section + n, sizeof(lc->section) - n, "%.*s = %s\n",
				      (int)(eq - a), a, eq + 1);
	}
	if (file && n < sizeof(lc->section))
		n += (size_t)snprintf(lc->section + n, sizeof(lc->section) - n, "create = yes\n");
	lc->section[n] = '\n';
	lc->section[n + 1] = '\0';
}

/* A reservation means initiators coordinate through this LU: refuse to pull
 * it from under them unless the administrator insists. */
static int lun_check_remove(struct lun_change *lc, struct tgt_target *t, const char **why)
{
	struct scsi_lu *lu = t->map ? scsi_lun_map_get(t->map, lc->lun) : NULL;
	*why = "no such LUN";
	if (!lu)
		return -ENOENT;
	struct scsi_admin_lu info;
	scsi_admin_lu_info(lu, &info, NULL, 0);
	*why = "the LUN holds persistent reservation registrations or a reservation (initiators may "
	       "be coordinating through it); use --force, or clear-reservation first";
	return (info.nregs || info.reserved || info.spc2_reserved) && !lc->force ? -EBUSY : 0;
}

static int lun_check(struct live_ctx *x, struct lun_change *lc, const char **why)
{
	x->t = tgt_model_find_target(x->m, lc->iqn);
	*why = "no such target";
	if (!x->t)
		return -ENOENT;
	lc->iqn = x->t->iqn; /* as spelled in the file */
	*why = "the LUN exists";
	if (lc->add)
		return x->t->map && scsi_lun_map_get(x->t->map, lc->lun) ? -EEXIST : 0;
	return lun_check_remove(lc, x->t, why);
}

int admin_live_lun(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why)
{
	struct live_ctx x;
	struct lun_change lc = { .add = c->op == ADMIN_LUN_ADD,
				 .force = c->force,
				 .lun = c->lun,
				 .iqn = c->iqn,
				 .srv = srv,
				 .m = m };
	live_init(&x, m, c);
	x.prepare = lun_prepare;
	x.finish = lun_finish;
	x.arg = &lc;
	if (lc.add)
		lun_section(c, &lc);
	int r = lun_check(&x, &lc, why);
	struct conf_buf next = { 0 };
	if (r == 0 && (r = load_current(&x)) < 0)
		*why = "cannot read the configuration file";
	if (r == 0)
		r = conf_edit_text(x.text.s,
				   &(struct conf_edit){ .op = lc.add ? CONF_LUN_ADD : CONF_LUN_DROP,
							.kind = "target",
							.name = lc.iqn,
							.lun = lc.lun,
							.section = lc.section },
				   &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	conf_buf_free(&next);
	conf_buf_free(&x.text);
	if (r == 0 && !lc.add)
		r = lun_drain_destroy(&lc, x.t, f);
	if (r < 0)
		return r;
	kinfo("admin: %s LUN %llu of %s", lc.add ? "added" : "removed", (unsigned long long)lc.lun,
	      lc.iqn);
	if (m->conf->config_path[0])
		fprintf(f, "saved to %s\n", m->conf->config_path);
	else
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE); "
		      "the change is lost when it stops\n",
		      f);
	return 0;
}

/* ---- [raid NAME] / [pool NAME] keys (raid add-spare, pool grow) ----
 * The key's line is rewritten, a list item dropped or a section appended
 * (conf_write.c: CONF_KEY_SET, CONF_ITEM_DROP, CONF_SECTION_ADD). The run-time change (apply) runs once the new text has
 * parsed, before it is renamed into place: a refusal leaves the file alone. */

struct sect_change {
	struct conf_edit edit; /* CONF_KEY_SET, CONF_ITEM_DROP or CONF_SECTION_ADD */
	int (*apply)(void *arg, const struct tgt_config *parsed, char *err, size_t errlen);
	void *arg;
};

static int sect_prepare(struct live_ctx *x, const struct tgt_target_conf *nt, const char **why)
{
	struct sect_change *sc = x->arg;
	(void)nt;
	x->err[0] = '\0';
	int r = sc->apply(sc->arg, x->parsed, x->err, x->errlen);
	*why = x->err[0] ? x->err : strerror(-r);
	return r;
}

static void sect_finish(struct live_ctx *x, const struct tgt_target_conf *nt, int r)
{
	(void)x, (void)nt, (void)r; /* nothing to adopt: apply() changed the running storage */
}

static int sect_change_run(struct tgt_model *m, struct sect_change *sc, const struct admin_cmd *c,
			   FILE *f, const char **why);

int admin_live_section_key(struct tgt_model *m, const char *kind, const char *name, const char *key,
			   const char *value, bool append, admin_apply_fn apply, void *arg,
			   const struct admin_cmd *c, FILE *f, const char **why)
{
	struct sect_change sc = { { .op = CONF_KEY_SET,
				    .kind = kind,
				    .name = name,
				    .key = key,
				    .value = value,
				    .append = append },
				  apply,
				  arg };
	*why = "a value cannot hold ',', ';', '#', '[' or ']'";
	if (strpbrk(value, ",;#[]"))
		return -EINVAL;
	return sect_change_run(m, &sc, c, f, why);
}

int admin_live_section_drop(struct tgt_model *m, const char *kind, const char *name,
			    const char *path, admin_apply_fn apply, void *arg,
			    const struct admin_cmd *c, FILE *f, const char **why)
{
	struct sect_change sc = { { .op = CONF_ITEM_DROP,
				    .kind = kind,
				    .name = name,
				    .value = path,
				    .data_dir = m->conf->data_dir },
				  apply,
				  arg };
	return sect_change_run(m, &sc, c, f, why);
}

int admin_live_add_section(struct tgt_model *m, const char *section, admin_apply_fn apply,
			   void *arg, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct sect_change sc = { { .op = CONF_SECTION_ADD, .section = section }, apply, arg };
	return sect_change_run(m, &sc, c, f, why);
}

static int sect_change_run(struct tgt_model *m, struct sect_change *sc, const struct admin_cmd *c,
			   FILE *f, const char **why)
{
	struct live_ctx x;
	live_init(&x, m, c);
	x.prepare = sect_prepare;
	x.finish = sect_finish;
	x.arg = sc;
	struct conf_buf next = { 0 };
	int r = load_current(&x);
	*why = "cannot read the configuration file";
	if (r == 0)
		r = conf_edit_text(x.text.s, &sc->edit, &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	conf_buf_free(&next);
	conf_buf_free(&x.text);
	if (r == 0 && m->conf->config_path[0])
		fprintf(f, "saved to %s\n", m->conf->config_path);
	else if (r == 0)
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE)\n",
		      f);
	return r;
}
