/* Run-time configuration changes from kura-targetctl: `acl add|remove` and
 * `chap add|remove` (admin.h has the requests).
 *
 * Every change is made to the configuration *text*: the `allow =` / `chap =`
 * line is inserted after the last line of the same key in the [target IQN]
 * section (or right after its header) or removed from it, so comments and
 * ordering survive. The new text is written to a temporary file in the same
 * directory (fsync), parsed with tgt_config_load() — a change that would make
 * the file invalid is refused with the parser's reason — then renamed over
 * the file and the directory fsync'ed. Only then does the running target take
 * the target's new acl / chap_in arrays from the parsed copy, swapped in
 * under cfg->live_lock; the old arrays are retired (kept until
 * tgt_config_free) because a login in progress may still use them.
 *
 * Started without -c FILE, the text edited is an in-memory copy of the
 * embedded default (validated through a temporary file in data_dir, then
 * deleted): the change lasts until the daemon stops, and the reply says so.
 *
 * Existing sessions are not touched: removing an initiator from an ACL or a
 * CHAP account refuses the *next* login only.
 *
 * Not for: the INI grammar (config.c), the login policy (server.c). Secrets
 * are never logged.
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
#include "common/fileutil.h"
#include "common/log.h"
#include "target/admin/admin.h"
#include "target/scsi/scsi_admin.h"

/* ---- text editing (pure) ---- */

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static const char *trim_end(const char *b, const char *e)
{
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return e;
}

static bool span_eq(const char *b, const char *e, const char *s)
{
	return (size_t)(e - b) == strlen(s) && !strncmp(b, s, (size_t)(e - b));
}

/* Is the line [b, e) the header "[KIND NAME]"? */
static bool is_section_header(const char *b, const char *e, const char *kind, const char *name)
{
	size_t kl = strlen(kind);
	b = skip_ws(b, e);
	e = trim_end(b, e);
	if (e - b < 2 || *b != '[' || e[-1] != ']')
		return false;
	b = skip_ws(b + 1, e - 1);
	const char *ie = trim_end(b, e - 1);
	if ((size_t)(ie - b) < kl + 1 || strncmp(b, kind, kl) || (b[kl] != ' ' && b[kl] != '\t'))
		return false;
	return span_eq(skip_ws(b + kl, ie), ie, name);
}

static bool is_target_header(const char *b, const char *e, const char *iqn)
{
	return is_section_header(b, e, "target", iqn);
}

/* Split "key = value" on [b, e); false for comments, headers, blanks. */
static bool line_kv(const char *b, const char *e, const char **kb, const char **ke,
		    const char **vb, const char **ve)
{
	b = skip_ws(b, e);
	const char *eq = memchr(b, '=', (size_t)(e - b));
	if (b == e || *b == ';' || *b == '#' || *b == '[' || !eq)
		return false;
	*kb = b;
	*ke = trim_end(b, eq);
	*vb = skip_ws(eq + 1, e);
	*ve = trim_end(*vb, e);
	return true;
}

/* What to change in one [target] section. */
struct edit {
	const char *iqn;
	const char *key;      /* "allow" or "chap" */
	const char *value;    /* add: the value; remove: the value ("allow") or "USER:" prefix */
	bool add;
};

static bool line_matches(const struct edit *ed, const char *b, const char *e, bool for_insert)
{
	const char *kb, *ke, *vb, *ve;
	if (!line_kv(b, e, &kb, &ke, &vb, &ve))
		return false;
	bool chap = !strcmp(ed->key, "chap");
	bool key_ok = span_eq(kb, ke, ed->key) || (chap && span_eq(kb, ke, "chap_file"));
	if (!key_ok || for_insert)
		return key_ok;
	if (!chap)
		return span_eq(vb, ve, ed->value);
	size_t pl = strlen(ed->value);
	return (size_t)(ve - vb) >= pl && !strncmp(vb, ed->value, pl);
}

struct buf {
	char *s;
	size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *ns = malloc(cap);
		if (!ns)
			return -ENOMEM;
		if (b->s) {
			memcpy(ns, b->s, b->len);
			explicit_bzero(b->s, b->cap);
		}
		free(b->s);
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static void buf_free(struct buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	free(b->s);
	b->s = NULL;
}

/* Where to insert / which lines to drop, found in one pass over text. */
struct plan {
	const char *insert_at;     /* add: after this point; NULL => no section */
	int removed;
};

static void plan_edit(const char *text, const struct edit *ed, struct plan *pl)
{
	bool in = false;
	pl->insert_at = NULL;
	for (const char *b = text; *b;) {
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b), *next = nl ? nl + 1 : e;
		const char *t = skip_ws(b, e);
		if (t < e && *t == '[')
			in = is_target_header(b, e, ed->iqn);
		if (in && (is_target_header(b, e, ed->iqn) || line_matches(ed, b, e, true)))
			pl->insert_at = next;
		b = next;
	}
}

/* Apply ed to text; the result in *out (caller buf_free()s). */
static int edit_text(const char *text, const struct edit *ed, struct buf *out, const char **why)
{
	struct plan pl = { 0 };
	plan_edit(text, ed, &pl);
	*why = "the target has no [target IQN] section in the configuration file";
	if (!pl.insert_at)
		return -ENOENT;
	int r = 0;
	bool in = false;
	for (const char *b = text; *b && r == 0;) {
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b), *next = nl ? nl + 1 : e;
		const char *t = skip_ws(b, e);
		if (t < e && *t == '[')
			in = is_target_header(b, e, ed->iqn);
		bool drop = !ed->add && in && line_matches(ed, b, e, false);
		pl.removed += drop;
		if (!drop)
			r = put(out, b, (size_t)(next - b));
		if (r == 0 && ed->add && next == pl.insert_at) {
			if (!nl)
				r = put(out, "\n", 1);
			r = r ? r : put(out, ed->key, strlen(ed->key));
			r = r ? r : put(out, " = ", 3);
			r = r ? r : put(out, ed->value, strlen(ed->value));
			r = r ? r : put(out, "\n", 1);
		}
		b = next;
	}
	*why = "out of memory";
	if (r == 0 && !ed->add && !pl.removed) {
		*why = "no such entry in the target's section of the configuration file";
		r = -ENOENT;
	}
	return r;
}

/* ---- files ---- */

static int read_all(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char chunk[8192];
	ssize_t n;
	int r = put(out, "", 0);
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		r = put(out, chunk, (size_t)n);
	if (r == 0 && n < 0)
		r = -errno;
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return r;
}

/* ---- the change ---- */

struct live_ctx {
	struct tgt_config *cfg;
	struct tgt_target *t;
	struct buf text;           /* current text, then the new one */
	char dir[4096];
	mode_t mode;
	char err[1200];            /* reasons handed back through *why */
	/* lun add / remove (admin_lun.c): run before the new text is installed
	 * (may refuse) and after (r = outcome); NULL => acl / chap adopt(). */
	int (*prepare)(struct live_ctx *x, struct tgt_target *nt, const char **why);
	/* (x->t is NULL for a [raid] / [pool] change: nt is then NULL too) */
	void (*finish)(struct live_ctx *x, struct tgt_target *nt, int r);
	void *arg;
	const struct tgt_config *parsed;   /* the new text, loaded, while prepare runs */
};

static char *embedded_text;   /* the embedded default as changed (admin thread only) */

static int load_current(struct live_ctx *x)
{
	const char *path = x->cfg->config_path;
	if (!path[0]) {
		snprintf(x->dir, sizeof(x->dir), "%s", x->cfg->data_dir);
		x->mode = 0600;
		const char *s = embedded_text ? embedded_text : tgt_default_config;
		return put(&x->text, s, strlen(s));
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	x->mode = st.st_mode & 07777;
	char copy[sizeof(x->cfg->config_path)];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(x->dir, sizeof(x->dir), "%s", dirname(copy));
	return read_all(path, &x->text);
}

static struct tgt_target *find_target(struct tgt_config *cfg, const char *iqn)
{
	for (int i = 0; i < cfg->n_targets; i++)
		if (!strcasecmp(cfg->targets[i].iqn, iqn))
			return &cfg->targets[i];
	return NULL;
}

/* Swap the parsed acl / chap_in into the running target; retire the old. */
static void adopt(struct tgt_config *cfg, struct tgt_target *t, struct tgt_target *nt)
{
	char (*old_acl)[224] = t->acl;
	struct chap_account *old_chap = t->chap_in;
	int old_nacl = t->n_acl, old_nchap = t->n_chap_in;
	pthread_mutex_lock(&cfg->live_lock);
	t->acl = nt->acl;
	t->n_acl = nt->n_acl;
	t->chap_in = nt->chap_in;
	t->n_chap_in = nt->n_chap_in;
	pthread_mutex_unlock(&cfg->live_lock);
	nt->acl = NULL;
	nt->chap_in = NULL;
	nt->n_acl = nt->n_chap_in = 0;
	tgt_config_retire(cfg, old_acl, (size_t)old_nacl * sizeof(*old_acl));
	tgt_config_retire(cfg, old_chap, (size_t)old_nchap * sizeof(*old_chap));
}

/* Write, validate (tgt_config_load), rename (or keep in memory), adopt. */
static int commit(struct live_ctx *x, const struct buf *next, const char **why)
{
	char tmp[4200];
	struct tgt_config *parsed = calloc(1, sizeof(*parsed));
	int r = parsed ? kfile_write_temp(x->dir, "kura-targetd.conf", next->s, strlen(next->s),
					   x->mode, tmp, sizeof(tmp))
		       : -ENOMEM;
	*why = "cannot write a temporary file next to the configuration file";
	if (r < 0) {
		free(parsed);
		return r;
	}
	r = tgt_config_load(tmp, parsed, x->err, sizeof(x->err));
	bool loaded = r == 0;
	*why = x->err;     /* the parser's "file:line: reason", named after the real file */
	size_t tl = strlen(tmp);
	if (!loaded && !strncmp(x->err, tmp, tl)) {
		char msg[sizeof(x->err)];
		const char *name = x->cfg->config_path[0] ? x->cfg->config_path : "<embedded>";
		snprintf(msg, sizeof(msg), "%.*s", (int)(sizeof(msg) - 1), x->err + tl);
		snprintf(x->err, sizeof(x->err), "refused, the file would not parse: %.512s%.600s", name, msg);
	}
	struct tgt_target *nt = loaded && x->t ? find_target(parsed, x->t->iqn) : NULL;
	if (loaded && x->t && !nt) {
		*why = "the change would remove the target";
		r = -EINVAL;
	}
	x->parsed = loaded ? parsed : NULL;
	if (r == 0 && x->prepare)
		r = x->prepare(x, nt, why);
	x->parsed = NULL;
	if (r == 0 && x->cfg->config_path[0]) {
		*why = "cannot rename the new configuration file into place";
		r = kfile_install(tmp, x->cfg->config_path, false);
	} else if (r == 0) {
		char *s = strdup(next->s);
		*why = "out of memory";
		r = s ? 0 : -ENOMEM;
		if (s && embedded_text)
			explicit_bzero(embedded_text, strlen(embedded_text));
		if (s) {
			free(embedded_text);
			embedded_text = s;
		}
	}
	unlink(tmp);   /* already gone after the rename */
	if (x->finish && (loaded || r < 0))
		x->finish(x, nt, r);
	else if (r == 0)
		adopt(x->cfg, x->t, nt);
	if (loaded)
		tgt_config_free(parsed);
	free(parsed);
	return r;
}

/* Edit, commit and tell the administrator where the change lives. */
static int change(struct tgt_config *cfg, const struct edit *ed, FILE *f, const char **why)
{
	static struct live_ctx x;   /* admin thread only: err outlives the call for *why */
	buf_free(&x.text);
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.t = find_target(cfg, ed->iqn);
	*why = "no such target";
	if (!x.t)
		return -ENOENT;
	struct edit e = *ed;
	e.iqn = x.t->iqn;          /* as spelled in the file */
	struct buf next = { 0 };
	int r = load_current(&x);
	if (ed->add && !strcmp(ed->key, "chap"))
		x.mode &= (mode_t)~077;   /* the file now holds a secret */
	*why = "cannot read the configuration file";
	if (r == 0)
		r = edit_text(x.text.s, &e, &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	buf_free(&next);
	buf_free(&x.text);
	if (r == 0 && cfg->config_path[0])
		fprintf(f, "saved to %s\n", cfg->config_path);
	else if (r == 0)
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE); "
		      "the change is lost when it stops\n", f);
	return r;
}

int admin_live_acl(struct tgt_config *cfg, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why)
{
	struct edit ed = { c->iqn, "allow", c->argv[3], c->op == ADMIN_ACL_ADD };
	int r = change(cfg, &ed, f, why);
	if (r == 0)
		kinfo("admin: %s initiator %s %s the ACL of %s", ed.add ? "added" : "removed", ed.value,
		      ed.add ? "to" : "from", c->argv[2]);
	if (r == 0 && !ed.add && srv) {
		/* a revoked initiator loses its sessions now, not at its next login */
		int n = tgt_server_close_revoked(srv, c->argv[2]);
		fprintf(f, "closed %d session%s no longer allowed\n", n, n == 1 ? "" : "s");
		if (n)
			kinfo("admin: closed %d session(s) on %s no longer allowed by its ACL", n, c->argv[2]);
	}
	return r;
}

/* chap add IQN USER SECRET | chap remove IQN USER. The secret arrives on the
 * socket (kura-targetctl read it from a file or stdin) and is never logged. */
int admin_live_chap(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool add = c->op == ADMIN_CHAP_ADD;
	const char *user = c->user;
	char value[600];      /* admin_parse.c checked that "USER:SECRET" fits */
	if (add)
		snprintf(value, sizeof(value), "%s:%s", user, c->argv[4]);
	else
		snprintf(value, sizeof(value), "%s:", user);
	struct edit ed = { c->iqn, "chap", value, add };
	int r = change(cfg, &ed, f, why);
	explicit_bzero(value, sizeof(value));
	if (r == 0)
		kinfo("admin: %s CHAP user %s %s %s", add ? "added" : "removed", user, add ? "to" : "from",
		      c->argv[2]);
	return r;
}

/* ---- lun add | remove ----
 * The [lun N] section is inserted right before the first section header that
 * follows [target IQN] (so "[lun N]" binds to that target), or removed from
 * its header to the next header ([lun N] under the target, or [lun IQN:N]).
 * The parsed copy decides what is opened: an add opens and publishes the LU
 * before the file is renamed (a backend that will not open refuses the
 * change); a remove unpublishes, drains and destroys it after the rename. */

struct lun_change {
	bool add, force;
	uint64_t lun;
	const char *iqn;
	char section[ADMIN_LUN_SECTION_MAX];   /* add: the text of the new section */
	bool published;           /* add: the LU is in the map */
	struct tgt_server *srv;
	struct tgt_config *cfg;
};

/* "[lun ARG]" header? ARG's span in *ab..*ae. */
static bool is_lun_header(const char *b, const char *e, const char **ab, const char **ae)
{
	b = skip_ws(b, e);
	e = trim_end(b, e);
	if (e - b < 6 || *b != '[' || e[-1] != ']' || strncmp(b + 1, "lun", 3) || (b[4] != ' ' && b[4] != '\t'))
		return false;
	*ab = skip_ws(b + 4, e - 1);
	*ae = trim_end(*ab, e - 1);
	return true;
}

static bool lun_arg_is(const char *ab, const char *ae, uint64_t lun)
{
	char n[24];
	snprintf(n, sizeof(n), "%llu", (unsigned long long)lun);
	return span_eq(ab, ae, n);
}

/* Is the header [b, e) the start of lc's [lun] section? *in_target tracks
 * whether a following "[lun N]" binds to lc's target (config.c lun_owner). */
static bool lun_section_starts(const struct lun_change *lc, const char *b, const char *e, bool *in_target)
{
	const char *ab, *ae;
	if (!is_lun_header(b, e, &ab, &ae)) {
		const char *t = skip_ws(b, e);
		if (t + 7 < e && !strncmp(t + 1, "target", 6))
			*in_target = is_target_header(b, e, lc->iqn);
		return false;
	}
	const char *colon = NULL;
	for (const char *c = ab; c < ae; c++)
		if (*c == ':')
			colon = c;   /* the last ':' (an IQN has some) */
	if (!colon)
		return *in_target && lun_arg_is(ab, ae, lc->lun);
	*in_target = span_eq(ab, colon, lc->iqn);
	return *in_target && lun_arg_is(colon + 1, ae, lc->lun);
}

static int lun_edit(const char *text, const struct lun_change *lc, struct buf *out, const char **why)
{
	bool in_target = false, after_target = false, inserted = false, dropping = false, found = false;
	int r = 0;
	for (const char *b = text; *b && r == 0;) {
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b), *next = nl ? nl + 1 : e;
		const char *t = skip_ws(b, e);
		bool header = t < e && *t == '[';
		if (header && lc->add && after_target && !inserted) {
			r = put(out, lc->section, strlen(lc->section));
			inserted = true;
		}
		if (header) {
			after_target = is_target_header(b, e, lc->iqn);
			dropping = !lc->add && lun_section_starts(lc, b, e, &in_target);
			found |= dropping;
		}
		if (!dropping && r == 0)
			r = put(out, b, (size_t)(next - b));
		if (r == 0 && !nl && lc->add && after_target && !inserted)
			r = put(out, "\n", 1);
		b = next;
	}
	if (r == 0 && lc->add && !inserted && after_target) {
		r = put(out, lc->section, strlen(lc->section));
		inserted = true;
	}
	*why = "out of memory";
	if (r == 0 && lc->add && !inserted) {
		*why = "the target has no [target IQN] section in the configuration file";
		r = -ENOENT;
	}
	if (r == 0 && !lc->add && !found) {
		*why = "the LUN has no [lun] section in the configuration file";
		r = -ENOENT;
	}
	return r;
}

static struct tgt_lun_conf *find_lun(struct tgt_target *t, uint64_t lun)
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
	if (scsi_lun_map_remove(t->map, lc->lun, &lu) < 0)
		return -ENOENT;
	scsi_lun_map_changed(t->map, NULL);   /* SPC-4 6.33: 3F/0E via the other LUs */
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
			fprintf(f, "LUN %llu unpublished, but tasks are still in flight: its backend stays open\n",
				(unsigned long long)lc->lun);
	} else {
		tgt_storage_lu_removed(lc->cfg, lu);    /* no 38/07 to it any more */
		scsi_lun_map_release(t->map, lu);       /* closes its backend: a thin volume can be deleted */
	}
	tgt_config_forget_lun(t, lc->lun);
	return 0;
}

static int lun_prepare(struct live_ctx *x, struct tgt_target *nt, const char **why)
{
	struct lun_change *lc = x->arg;
	if (!lc->add)
		return 0;
	struct tgt_lun_conf *l = find_lun(nt, lc->lun);
	*why = "the new [lun] section did not parse as expected";
	if (!l)
		return -EINVAL;
	int r = tgt_config_add_lun(x->cfg, x->t, l, x->err, sizeof(x->err));
	*why = x->err;
	lc->published = r == 0;
	if (r == 0)
		scsi_lun_map_changed(x->t->map, scsi_lun_map_get(x->t->map, lc->lun));
	return r;
}

static void lun_finish(struct live_ctx *x, struct tgt_target *nt, int r)
{
	struct lun_change *lc = x->arg;
	(void)nt;
	if (lc->add && r < 0 && lc->published)
		lun_drain_destroy(lc, x->t, NULL);   /* the file was not changed: take it back */
}

/* key=value words into the text of a [lun N] section (admin_parse.c
 * checked the keys and that the section fits). */
static void lun_section(const struct admin_cmd *c, struct lun_change *lc)
{
	size_t n = (size_t)snprintf(lc->section, sizeof(lc->section), "[lun %llu]\n", (unsigned long long)lc->lun);
	bool file = false;
	for (int i = 4; i < c->argc && n < sizeof(lc->section); i++) {
		const char *a = c->argv[i], *eq = strchr(a, '=');
		file |= !strcmp(a, "backend=file");
		n += (size_t)snprintf(lc->section + n, sizeof(lc->section) - n, "%.*s = %s\n", (int)(eq - a), a,
				      eq + 1);
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
	x->t = find_target(x->cfg, lc->iqn);
	*why = "no such target";
	if (!x->t)
		return -ENOENT;
	lc->iqn = x->t->iqn;   /* as spelled in the file */
	*why = "the LUN exists";
	if (lc->add)
		return x->t->map && scsi_lun_map_get(x->t->map, lc->lun) ? -EEXIST : 0;
	return lun_check_remove(lc, x->t, why);
}

int admin_live_lun(struct tgt_config *cfg, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why)
{
	static struct live_ctx x;   /* admin thread only: err outlives the call for *why */
	struct lun_change lc = { .add = c->op == ADMIN_LUN_ADD, .force = c->force, .lun = c->lun, .iqn = c->iqn,
				 .srv = srv, .cfg = cfg };
	buf_free(&x.text);
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.prepare = lun_prepare;
	x.finish = lun_finish;
	x.arg = &lc;
	if (lc.add)
		lun_section(c, &lc);
	int r = lun_check(&x, &lc, why);
	struct buf next = { 0 };
	if (r == 0 && (r = load_current(&x)) < 0)
		*why = "cannot read the configuration file";
	if (r == 0)
		r = lun_edit(x.text.s, &lc, &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	buf_free(&next);
	buf_free(&x.text);
	if (r == 0 && !lc.add)
		r = lun_drain_destroy(&lc, x.t, f);
	if (r < 0)
		return r;
	kinfo("admin: %s LUN %llu of %s", lc.add ? "added" : "removed", (unsigned long long)lc.lun, lc.iqn);
	if (cfg->config_path[0])
		fprintf(f, "saved to %s\n", cfg->config_path);
	else
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE); "
		      "the change is lost when it stops\n", f);
	return 0;
}

/* ---- [raid NAME] / [pool NAME] keys (raid add-spare, pool grow) ----
 * The key's first line in the section is rewritten ("key = VALUE", or with
 * append "key = OLD, VALUE"); a section without the key gets it right after
 * its header. The run-time change (apply) runs once the new text has
 * parsed, before it is renamed into place: a refusal leaves the file alone. */

struct sect_change {
	const char *kind, *name, *key, *value;
	bool append;
	int (*apply)(void *arg, const struct tgt_config *parsed, char *err, size_t errlen);
	void *arg;
	const char *section;      /* admin_live_add_section: appended at the end */
	const char *drop;         /* admin_live_section_drop: absolute path to drop */
	const char *data_dir;     /* ... relative list items are relative to it */
};

static bool key_is(const char *b, const char *e, const char *key, const char **vb, const char **ve)
{
	const char *kb, *ke;
	return line_kv(b, e, &kb, &ke, vb, ve) && span_eq(kb, ke, key);
}

/* A new section goes at the end, after a blank line (the parser refuses a
 * name used twice). */
static int sect_append(const char *text, const struct sect_change *sc, struct buf *out, const char **why)
{
	size_t n = strlen(text);
	int r = put(out, text, n);
	if (r == 0 && n && text[n - 1] != '\n')
		r = put(out, "\n", 1);
	r = r ? r : put(out, "\n", 1);
	r = r ? r : put(out, sc->section, strlen(sc->section));
	*why = "out of memory";
	return r;
}

/* Does list item [b, e) name the absolute path sc->drop? */
static bool item_is(const struct sect_change *sc, const char *b, const char *e)
{
	size_t dl = *b == '/' ? 0 : strlen(sc->data_dir) + 1, n = (size_t)(e - b);
	if (dl + n != strlen(sc->drop))
		return false;
	return (!dl || (!strncmp(sc->drop, sc->data_dir, dl - 1) && sc->drop[dl - 1] == '/')) &&
	       !strncmp(sc->drop + dl, b, n);
}

/* The value [vb, ve) of a members / spares line without the items naming
 * sc->drop; a list left empty drops the whole line; a line without such an
 * item is not written (*dropped stays false: the caller copies it). */
static int drop_items(const struct sect_change *sc, const char *kb, const char *ke, const char *vb, const char *ve,
		      struct buf *out, bool *dropped)
{
	struct buf v = { 0 };
	int r = 0;
	*dropped = false;
	for (const char *b = vb; b <= ve && r == 0;) {
		const char *c = memchr(b, ',', (size_t)(ve - b)), *e = c ? c : ve;
		const char *ib = skip_ws(b, e), *ie = trim_end(ib, e);
		if (ie > ib && item_is(sc, ib, ie))
			*dropped = true;
		else if (ie > ib)
			r = (v.len ? put(&v, ", ", 2) : 0) || put(&v, ib, (size_t)(ie - ib)) ? -ENOMEM : 0;
		b = e + 1;
	}
	if (r == 0 && v.len && *dropped)
		r = put(out, kb, (size_t)(ke - kb)) || put(out, " = ", 3) || put(out, v.s, v.len) ||
		    put(out, "\n", 1) ? -ENOMEM : 0;
	free(v.s);
	return r;
}

static int sect_drop(const char *text, const struct sect_change *sc, struct buf *out, const char **why)
{
	bool in = false, dropped = false;
	int r = 0;
	for (const char *b = text; *b && r == 0;) {
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b), *next = nl ? nl + 1 : e, *kb, *ke, *vb, *ve;
		const char *t = skip_ws(b, e);
		bool here = false;
		if (t < e && *t == '[')
			in = is_section_header(b, e, sc->kind, sc->name);
		if (in && line_kv(b, e, &kb, &ke, &vb, &ve) && (span_eq(kb, ke, "members") || span_eq(kb, ke, "spares")))
			r = drop_items(sc, kb, ke, vb, ve, out, &here);
		if (r == 0 && !here)
			r = put(out, b, (size_t)(next - b));
		dropped |= here;
		b = next;
	}
	*why = r ? "out of memory" : "the path is not listed in the section's members or spares";
	return r ? r : dropped ? 0 : -ENOENT;
}

static int sect_edit(const char *text, const struct sect_change *sc, struct buf *out, const char **why)
{
	bool in = false, has_key = false, found = false, done = false;
	if (sc->section)
		return sect_append(text, sc, out, why);
	if (sc->drop)
		return sect_drop(text, sc, out, why);
	const char *vb, *ve;
	for (const char *b = text; *b;) {     /* pass 1: is the key there? */
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b);
		const char *t = skip_ws(b, e);
		if (t < e && *t == '[') {
			in = is_section_header(b, e, sc->kind, sc->name);
			found |= in;
		}
		else if (in && key_is(b, e, sc->key, &vb, &ve))
			has_key = true;
		b = nl ? nl + 1 : e;
	}
	*why = "the section is not in the configuration file";
	if (!found)
		return -ENOENT;
	int r = 0;
	in = false;
	for (const char *b = text; *b && r == 0;) {
		const char *nl = strchr(b, '\n');
		const char *e = nl ? nl : b + strlen(b), *next = nl ? nl + 1 : e;
		const char *t = skip_ws(b, e);
		bool header = t < e && *t == '[';
		if (header)
			in = is_section_header(b, e, sc->kind, sc->name);
		if (in && !done && !header && key_is(b, e, sc->key, &vb, &ve)) {
			r = put(out, sc->key, strlen(sc->key));
			r = r ? r : put(out, " = ", 3);
			if (sc->append && r == 0 && ve > vb) {
				r = put(out, vb, (size_t)(ve - vb));
				r = r ? r : put(out, ", ", 2);
			}
			r = r ? r : put(out, sc->value, strlen(sc->value));
			r = r ? r : put(out, "\n", 1);
			done = true;
		} else {
			r = put(out, b, (size_t)(next - b));
		}
		if (r == 0 && in && header && !has_key && !done) {
			r = nl ? 0 : put(out, "\n", 1);
			r = r ? r : put(out, sc->key, strlen(sc->key));
			r = r ? r : put(out, " = ", 3);
			r = r ? r : put(out, sc->value, strlen(sc->value));
			r = r ? r : put(out, "\n", 1);
			done = true;
		}
		b = next;
	}
	*why = "out of memory";
	return r;
}

static int sect_prepare(struct live_ctx *x, struct tgt_target *nt, const char **why)
{
	struct sect_change *sc = x->arg;
	(void)nt;
	x->err[0] = '\0';
	int r = sc->apply(sc->arg, x->parsed, x->err, sizeof(x->err));
	*why = x->err[0] ? x->err : strerror(-r);
	return r;
}

static void sect_finish(struct live_ctx *x, struct tgt_target *nt, int r)
{
	(void)x, (void)nt, (void)r;    /* nothing to adopt: apply() changed the running storage */
}

static int sect_change_run(struct tgt_config *cfg, struct sect_change *sc, FILE *f, const char **why);

int admin_live_section_key(struct tgt_config *cfg, const char *kind, const char *name, const char *key,
			   const char *value, bool append, admin_apply_fn apply, void *arg, FILE *f,
			   const char **why)
{
	struct sect_change sc = { .kind = kind, .name = name, .key = key, .value = value, .append = append,
				  .apply = apply, .arg = arg };
	*why = "a value cannot hold ',', ';', '#', '[' or ']'";
	if (strpbrk(value, ",;#[]"))
		return -EINVAL;
	return sect_change_run(cfg, &sc, f, why);
}

int admin_live_section_drop(struct tgt_config *cfg, const char *kind, const char *name, const char *path,
			    admin_apply_fn apply, void *arg, FILE *f, const char **why)
{
	struct sect_change sc = { .kind = kind, .name = name, .apply = apply, .arg = arg, .drop = path,
				  .data_dir = cfg->data_dir };
	return sect_change_run(cfg, &sc, f, why);
}

int admin_live_add_section(struct tgt_config *cfg, const char *section, admin_apply_fn apply, void *arg, FILE *f,
			   const char **why)
{
	struct sect_change sc = { .apply = apply, .arg = arg, .section = section };
	return sect_change_run(cfg, &sc, f, why);
}

static int sect_change_run(struct tgt_config *cfg, struct sect_change *sc, FILE *f, const char **why)
{
	static struct live_ctx x;   /* admin thread only: err outlives the call for *why */
	buf_free(&x.text);
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.prepare = sect_prepare;
	x.finish = sect_finish;
	x.arg = sc;
	struct buf next = { 0 };
	int r = load_current(&x);
	*why = "cannot read the configuration file";
	if (r == 0)
		r = sect_edit(x.text.s, sc, &next, why);
	if (r == 0)
		r = commit(&x, &next, why);
	buf_free(&next);
	buf_free(&x.text);
	if (r == 0 && cfg->config_path[0])
		fprintf(f, "saved to %s\n", cfg->config_path);
	else if (r == 0)
		fputs("run-time only: the daemon runs the embedded default configuration (no -c FILE)\n", f);
	return r;
}
