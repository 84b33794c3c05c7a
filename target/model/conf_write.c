/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration writer (conf_write.h): edits of the INI text that touch
 * only the lines they are about, and the atomic replace of the file.
 *
 * The edits read the text line by line with the same notion of a line as
 * the parser (config.c, inih): a header is a line whose first non-blank
 * character is '[', a key line is "key = value" (blanks around both), ';'
 * and '#' start comments. Everything else is copied byte for byte.
 *
 * Not for: validation (the caller parses the new text with tgt_config_load
 * before conf_install puts it in place) or the running target.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fileutil.h"
#include "target/model/conf_write.h"

/* ---- text ---- */

int conf_buf_put(struct conf_buf *b, const char *s, size_t n)
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

void conf_buf_free(struct conf_buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	free(b->s);
	*b = (struct conf_buf){ 0 };
}

static int put_str(struct conf_buf *b, const char *s)
{
	return conf_buf_put(b, s, strlen(s));
}

/* "key = value\n" */
static int put_kv(struct conf_buf *b, const char *key, const char *value)
{
	return put_str(b, key) || put_str(b, " = ") || put_str(b, value) || put_str(b, "\n")
		       ? -ENOMEM
		       : 0;
}

/* ---- lines ---- */

struct line {
	const char *b, *e, *next; /* [b, e) without the "\n"; next line */
	bool nl;                  /* ended by "\n" (the last line may not be) */
	bool header;              /* first non-blank is '[' */
};

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

/* The line starting at p (p at the text's NUL: false). */
static bool line_at(const char *p, struct line *l)
{
	if (!*p)
		return false;
	const char *nl = strchr(p, '\n');
	l->b = p;
	l->e = nl ? nl : p + strlen(p);
	l->next = nl ? nl + 1 : l->e;
	l->nl = nl != NULL;
	const char *t = skip_ws(l->b, l->e);
	l->header = t < l->e && *t == '[';
	return true;
}

static int put_line(struct conf_buf *out, const struct line *l)
{
	return conf_buf_put(out, l->b, (size_t)(l->next - l->b));
}

static bool span_eq(const char *b, const char *e, const char *s)
{
	return (size_t)(e - b) == strlen(s) && !strncmp(b, s, (size_t)(e - b));
}

/* Is the line the header "[KIND NAME]"? */
static bool is_header(const struct line *l, const char *kind, const char *name)
{
	size_t kl = strlen(kind);
	const char *b = skip_ws(l->b, l->e), *e = trim_end(b, l->e);
	if (e - b < 2 || *b != '[' || e[-1] != ']')
		return false;
	b = skip_ws(b + 1, e - 1);
	const char *ie = trim_end(b, e - 1);
	if ((size_t)(ie - b) < kl + 1 || strncmp(b, kind, kl) || (b[kl] != ' ' && b[kl] != '\t'))
		return false;
	return span_eq(skip_ws(b + kl, ie), ie, name);
}

/* Split "key = value"; false for comments, headers, blanks. */
static bool line_kv(const struct line *l, const char **kb, const char **ke, const char **vb,
		    const char **ve)
{
	const char *b = skip_ws(l->b, l->e);
	const char *eq = memchr(b, '=', (size_t)(l->e - b));
	if (b == l->e || *b == ';' || *b == '#' || *b == '[' || !eq)
		return false;
	*kb = b;
	*ke = trim_end(b, eq);
	*vb = skip_ws(eq + 1, l->e);
	*ve = trim_end(*vb, l->e);
	return true;
}

/* A key line of ed->key (or its alias); its value in *vb..*ve. */
static bool key_line(const struct conf_edit *ed, const struct line *l, const char **vb,
		     const char **ve)
{
	const char *kb, *ke;
	if (!line_kv(l, &kb, &ke, vb, ve))
		return false;
	return span_eq(kb, ke, ed->key) || (ed->alias && span_eq(kb, ke, ed->alias));
}

static bool value_matches(const struct conf_edit *ed, const char *vb, const char *ve)
{
	size_t pl = strlen(ed->value);
	if (!ed->prefix)
		return span_eq(vb, ve, ed->value);
	return (size_t)(ve - vb) >= pl && !strncmp(vb, ed->value, pl);
}

/* ---- CONF_LINE_ADD / CONF_LINE_DROP ---- */

/* Where a new line goes: after the section's last key line, or its header. */
static const char *insert_point(const char *text, const struct conf_edit *ed)
{
	const char *at = NULL, *vb, *ve;
	bool in = false;
	struct line l;
	for (const char *p = text; line_at(p, &l); p = l.next) {
		if (l.header)
			in = is_header(&l, ed->kind, ed->name);
		if (in && (l.header || key_line(ed, &l, &vb, &ve)))
			at = l.next;
	}
	return at;
}

static int line_edit(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		     const char **why)
{
	bool add = ed->op == CONF_LINE_ADD, in = false;
	const char *at = insert_point(text, ed), *vb, *ve;
	int r = 0, removed = 0;
	struct line l;
	*why = "the target has no [target IQN] section in the configuration file";
	if (!at)
		return -ENOENT;
	for (const char *p = text; r == 0 && line_at(p, &l); p = l.next) {
		if (l.header)
			in = is_header(&l, ed->kind, ed->name);
		bool drop = !add && in && key_line(ed, &l, &vb, &ve) && value_matches(ed, vb, ve);
		removed += drop;
		if (!drop)
			r = put_line(out, &l);
		if (r == 0 && add && l.next == at)
			r = (l.nl ? 0 : put_str(out, "\n")) || put_kv(out, ed->key, ed->value)
				    ? -ENOMEM
				    : 0;
	}
	*why = "out of memory";
	if (r == 0 && !add && !removed) {
		*why = "no such entry in the target's section of the configuration file";
		r = -ENOENT;
	}
	return r;
}

/* ---- CONF_LUN_ADD / CONF_LUN_DROP ---- */

/* "[lun ARG]" header? ARG's span in *ab..*ae. */
static bool is_lun_header(const struct line *l, const char **ab, const char **ae)
{
	const char *b = skip_ws(l->b, l->e), *e = trim_end(b, l->e);
	if (e - b < 6 || *b != '[' || e[-1] != ']' || strncmp(b + 1, "lun", 3) ||
	    (b[4] != ' ' && b[4] != '\t'))
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

/* Is the header the start of ed's [lun] section? *in_target tracks whether
 * a following "[lun N]" binds to ed's target (config.c lun_owner). */
static bool lun_section_starts(const struct conf_edit *ed, const struct line *l, bool *in_target)
{
	const char *ab, *ae;
	if (!is_lun_header(l, &ab, &ae)) {
		const char *t = skip_ws(l->b, l->e);
		if (t + 7 < l->e && !strncmp(t + 1, "target", 6))
			*in_target = is_header(l, "target", ed->name);
		return false;
	}
	const char *colon = NULL;
	for (const char *c = ab; c < ae; c++)
		if (*c == ':')
			colon = c; /* the last ':' (an IQN has some) */
	if (!colon)
		return *in_target && lun_arg_is(ab, ae, ed->lun);
	*in_target = span_eq(ab, colon, ed->name);
	return *in_target && lun_arg_is(colon + 1, ae, ed->lun);
}

static int lun_edit(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		    const char **why)
{
	bool add = ed->op == CONF_LUN_ADD;
	bool in_target = false, after_target = false, inserted = false, dropping = false,
	     found = false;
	int r = 0;
	struct line l;
	for (const char *p = text; r == 0 && line_at(p, &l); p = l.next) {
		if (l.header && add && after_target && !inserted) {
			r = put_str(out, ed->section);
			inserted = true;
		}
		if (l.header) {
			after_target = is_header(&l, "target", ed->name);
			dropping = !add && lun_section_starts(ed, &l, &in_target);
			found |= dropping;
		}
		if (!dropping && r == 0)
			r = put_line(out, &l);
		if (r == 0 && !l.nl && add && after_target && !inserted)
			r = put_str(out, "\n");
	}
	if (r == 0 && add && !inserted && after_target) {
		r = put_str(out, ed->section);
		inserted = true;
	}
	*why = "out of memory";
	if (r == 0 && add && !inserted) {
		*why = "the target has no [target IQN] section in the configuration file";
		r = -ENOENT;
	}
	if (r == 0 && !add && !found) {
		*why = "the LUN has no [lun] section in the configuration file";
		r = -ENOENT;
	}
	return r;
}

/* ---- CONF_SECTION_ADD ---- */

/* A new section goes at the end, after a blank line (the parser refuses a
 * name used twice). */
static int section_add(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		       const char **why)
{
	size_t n = strlen(text);
	int r = conf_buf_put(out, text, n);
	if (r == 0 && n && text[n - 1] != '\n')
		r = put_str(out, "\n");
	r = r ? r : put_str(out, "\n");
	r = r ? r : put_str(out, ed->section);
	*why = "out of memory";
	return r;
}

/* ---- CONF_ITEM_DROP ---- */

/* Does list item [b, e) name the absolute path ed->value? */
static bool item_is(const struct conf_edit *ed, const char *b, const char *e)
{
	size_t dl = *b == '/' ? 0 : strlen(ed->data_dir) + 1, n = (size_t)(e - b);
	if (dl + n != strlen(ed->value))
		return false;
	return (!dl || (!strncmp(ed->value, ed->data_dir, dl - 1) && ed->value[dl - 1] == '/')) &&
	       !strncmp(ed->value + dl, b, n);
}

/* The value [vb, ve) of a members / spares line without the items naming
 * ed->value; a list left empty drops the whole line; a line without such an
 * item is not written (*dropped stays false: the caller copies it). */
static int drop_items(const struct conf_edit *ed, const char *kb, const char *ke, const char *vb,
		      const char *ve, struct conf_buf *out, bool *dropped)
{
	struct conf_buf v = { 0 };
	int r = 0;
	*dropped = false;
	for (const char *b = vb; b <= ve && r == 0;) {
		const char *c = memchr(b, ',', (size_t)(ve - b)), *e = c ? c : ve;
		const char *ib = skip_ws(b, e), *ie = trim_end(ib, e);
		if (ie > ib && item_is(ed, ib, ie))
			*dropped = true;
		else if (ie > ib)
			r = (v.len ? put_str(&v, ", ") : 0) ||
					    conf_buf_put(&v, ib, (size_t)(ie - ib))
				    ? -ENOMEM
				    : 0;
		b = e + 1;
	}
	if (r == 0 && v.len && *dropped)
		r = conf_buf_put(out, kb, (size_t)(ke - kb)) || put_str(out, " = ") ||
				    put_str(out, v.s) || put_str(out, "\n")
			    ? -ENOMEM
			    : 0;
	conf_buf_free(&v);
	return r;
}

static int item_drop(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		     const char **why)
{
	bool in = false, dropped = false;
	int r = 0;
	struct line l;
	for (const char *p = text; r == 0 && line_at(p, &l); p = l.next) {
		const char *kb, *ke, *vb, *ve;
		bool here = false;
		if (l.header)
			in = is_header(&l, ed->kind, ed->name);
		if (in && line_kv(&l, &kb, &ke, &vb, &ve) &&
		    (span_eq(kb, ke, "members") || span_eq(kb, ke, "spares")))
			r = drop_items(ed, kb, ke, vb, ve, out, &here);
		if (r == 0 && !here)
			r = put_line(out, &l);
		dropped |= here;
	}
	*why = r ? "out of memory" : "the path is not listed in the section's members or spares";
	return r ? r : dropped ? 0 : -ENOENT;
}

/* ---- CONF_KEY_SET ---- */

/* Is [kind name] there, and does it have the key? */
static bool key_scan(const char *text, const struct conf_edit *ed, bool *has_key)
{
	bool in = false, found = false;
	const char *vb, *ve;
	struct line l;
	*has_key = false;
	for (const char *p = text; line_at(p, &l); p = l.next) {
		if (l.header) {
			in = is_header(&l, ed->kind, ed->name);
			found |= in;
		} else if (in && key_line(ed, &l, &vb, &ve)) {
			*has_key = true;
		}
	}
	return found;
}

/* "key = VALUE" or, appending to a non-empty list, "key = OLD, VALUE". */
static int put_set(struct conf_buf *out, const struct conf_edit *ed, const char *vb, const char *ve)
{
	int r = put_str(out, ed->key) || put_str(out, " = ") ? -ENOMEM : 0;
	if (r == 0 && ed->append && ve > vb)
		r = conf_buf_put(out, vb, (size_t)(ve - vb)) || put_str(out, ", ") ? -ENOMEM : 0;
	return r ? r : put_str(out, ed->value) || put_str(out, "\n") ? -ENOMEM : 0;
}

static int key_set(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		   const char **why)
{
	bool has_key, in = false, done = false;
	const char *vb, *ve;
	struct line l;
	*why = "the section is not in the configuration file";
	if (!key_scan(text, ed, &has_key))
		return -ENOENT;
	int r = 0;
	for (const char *p = text; r == 0 && line_at(p, &l); p = l.next) {
		if (l.header)
			in = is_header(&l, ed->kind, ed->name);
		if (in && !done && !l.header && key_line(ed, &l, &vb, &ve)) {
			r = put_set(out, ed, vb, ve);
			done = true;
		} else {
			r = put_line(out, &l);
		}
		if (r == 0 && in && l.header && !has_key && !done) {
			r = (l.nl ? 0 : put_str(out, "\n")) || put_kv(out, ed->key, ed->value)
				    ? -ENOMEM
				    : 0;
			done = true;
		}
	}
	*why = "out of memory";
	return r;
}

int conf_edit_text(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		   const char **why)
{
	switch (ed->op) {
	case CONF_LINE_ADD:
	case CONF_LINE_DROP: return line_edit(text, ed, out, why);
	case CONF_KEY_SET: return key_set(text, ed, out, why);
	case CONF_ITEM_DROP: return item_drop(text, ed, out, why);
	case CONF_SECTION_ADD: return section_add(text, ed, out, why);
	case CONF_LUN_ADD:
	case CONF_LUN_DROP: return lun_edit(text, ed, out, why);
	}
	*why = "bad edit";
	return -EINVAL;
}

/* ---- the file ---- */

int conf_read(const char *path, struct conf_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char chunk[8192];
	ssize_t n;
	int r = conf_buf_put(out, "", 0);
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		r = conf_buf_put(out, chunk, (size_t)n);
	if (r == 0 && n < 0)
		r = -errno;
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return r;
}

int conf_stage(const char *dir, const char *text, mode_t mode, char *tmp, size_t tmplen)
{
	return kfile_write_temp(dir, "kura-targetd.conf", text, strlen(text), mode, tmp, tmplen);
}

int conf_install(const char *tmp, const char *path)
{
	return kfile_install(tmp, path, false);
}

int conf_write_file(const char *path, const char *text)
{
	char dir[4096], tmp[4200];
	struct stat st;
	mode_t mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0600;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	int r = conf_stage(dirname(dir), text, mode, tmp, sizeof(tmp));
	return r < 0 ? r : conf_install(tmp, path);
}
