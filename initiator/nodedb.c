/* SPDX-License-Identifier: Apache-2.0 */
/* The node database (initiator/nodedb.h): open-iscsi's record text format,
 * its directory layout under a root (default /etc/iscsi), the default
 * settings of new node / discovery / iface records (field tables in
 * nodedb_fields.c), and the initiator name.
 *
 * For: kura-iscsiadm (administration) and kura-initiatord (reads the node
 * record at login). Not for: deciding anything about sessions; this file only
 * stores text. Records may hold CHAP secrets: files are written 0600 and
 * nothing here logs values.
 *
 * Parsing is pure (nodedb_parse): "# BEGIN RECORD v" opens a record, "# END
 * RECORD" must then close it (a record without its END line is torn and
 * refused), other '#' lines are comments, "key = value" lines set keys (the
 * last occurrence of a duplicate key wins, as open-iscsi does), a file with
 * no BEGIN line is read as plain "key = value" text (iscsid.conf). Anything
 * else -- NUL bytes, control characters, lines over NODEDB_MAX_LINE, lines
 * without '=', keys outside [A-Za-z0-9._[]-] -- is -EINVAL with its line.
 */
#include "initiator/nodedb.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fileutil.h"

struct nodedb_kv {
	char *key;
	char *value;
};

struct nodedb_rec {
	struct nodedb_kv *kv;
	int n, cap;
};

/* ---- the record ------------------------------------------------------- */

struct nodedb_rec *nodedb_rec_new(void)
{
	return calloc(1, sizeof(struct nodedb_rec));
}

void nodedb_rec_free(struct nodedb_rec *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++) {
		free(r->kv[i].key);
		free(r->kv[i].value);
	}
	free(r->kv);
	free(r);
}

static int find_key(const struct nodedb_rec *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->kv[i].key, key) == 0)
			return i;
	return -1;
}

const char *nodedb_get(const struct nodedb_rec *r, const char *key)
{
	int i = find_key(r, key);
	return i < 0 ? NULL : r->kv[i].value;
}

int nodedb_count(const struct nodedb_rec *r)
{
	return r->n;
}

const char *nodedb_key_at(const struct nodedb_rec *r, int i)
{
	return i >= 0 && i < r->n ? r->kv[i].key : NULL;
}

bool nodedb_key_valid(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > NODEDB_MAX_KEY)
		return false;
	for (const char *p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._[]-", *p))
			return false;
	return true;
}

bool nodedb_value_valid(const char *value)
{
	if (strlen(value) > NODEDB_MAX_LINE)
		return false;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

int nodedb_set(struct nodedb_rec *r, const char *key, const char *value)
{
	if (!nodedb_key_valid(key) || !nodedb_value_valid(value))
		return -EINVAL;
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	int i = find_key(r, key);
	if (i >= 0) {
		free(r->kv[i].value);
		r->kv[i].value = v;
		return 0;
	}
	if (r->n >= NODEDB_MAX_KEYS) {
		free(v);
		return -E2BIG;
	}
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 64;
		struct nodedb_kv *kv = realloc(r->kv, (size_t)cap * sizeof(*kv));
		if (!kv) {
			free(v);
			return -ENOMEM;
		}
		r->kv = kv;
		r->cap = cap;
	}
	r->kv[r->n].key = strdup(key);
	if (!r->kv[r->n].key) {
		free(v);
		return -ENOMEM;
	}
	r->kv[r->n++].value = v;
	return 0;
}

int nodedb_unset(struct nodedb_rec *r, const char *key)
{
	int i = find_key(r, key);
	if (i < 0)
		return -ENOENT;
	free(r->kv[i].key);
	free(r->kv[i].value);
	memmove(&r->kv[i], &r->kv[i + 1], (size_t)(r->n - i - 1) * sizeof(r->kv[0]));
	r->n--;
	return 0;
}

/* ---- parse / format ------------------------------------------------- */

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_BEGIN, LINE_END, LINE_KV, LINE_BAD };

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static bool starts_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncmp(s, word, n) == 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == '\t');
}

/* Classify one trimmed line; for LINE_KV split it in place. */
static enum line_kind classify(char *line, char **key, char **value)
{
	if (*line == '\0')
		return LINE_BLANK;
	if (*line == '#') {
		char *c = trim(line + 1);
		if (starts_word(c, "BEGIN") && starts_word(trim(c + 5), "RECORD"))
			return LINE_BEGIN;
		if (starts_word(c, "END") && starts_word(trim(c + 3), "RECORD"))
			return LINE_END;
		return LINE_COMMENT;
	}
	char *eq = strchr(line, '=');
	if (!eq)
		return LINE_BAD;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	if (!nodedb_key_valid(*key) || !nodedb_value_valid(*value))
		return LINE_BAD;
	return LINE_KV;
}

struct parse_state {
	bool begun, ended;
};

/* Apply one line; 0 or -EINVAL. */
static int parse_line(struct nodedb_rec *r, struct parse_state *st, char *line)
{
	char *key = NULL, *value = NULL;
	enum line_kind k = classify(trim(line), &key, &value);

	if (k == LINE_BLANK || k == LINE_COMMENT)
		return 0;
	if (st->ended || k == LINE_BAD)
		return -EINVAL; /* nothing may follow END RECORD */
	if (k == LINE_BEGIN) {
		if (st->begun || r->n)
			return -EINVAL;
		st->begun = true;
		return 0;
	}
	if (k == LINE_END) {
		if (!st->begun)
			return -EINVAL;
		st->ended = true;
		return 0;
	}
	int rc = nodedb_set(r, key, value);
	return rc == -ENOMEM ? rc : rc ? -EINVAL : 0;
}

int nodedb_parse(const char *text, size_t len, struct nodedb_rec **out, int *errline)
{
	struct nodedb_rec *r = nodedb_rec_new();
	struct parse_state st = { false, false };
	char buf[NODEDB_MAX_LINE + 2];
	int lineno = 0, rc = 0;
	size_t pos = 0;

	*out = NULL;
	if (errline)
		*errline = 0;
	if (!r)
		return -ENOMEM;
	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;
		lineno++;
		if (n > NODEDB_MAX_LINE || memchr(text + pos, '\0', n)) {
			rc = -EINVAL;
			break;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		rc = parse_line(r, &st, buf);
		pos += n + 1;
	}
	if (rc == 0 && st.begun && !st.ended) {
		lineno++;
		rc = -EINVAL; /* torn record: no END line */
	}
	if (rc) {
		if (errline)
			*errline = lineno;
		nodedb_rec_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Empty values are not written (open-iscsi does the same). */
char *nodedb_format(const struct nodedb_rec *r)
{
	size_t cap = 64;
	for (int i = 0; i < r->n; i++)
		cap += strlen(r->kv[i].key) + strlen(r->kv[i].value) + 4;
	char *s = malloc(cap), *p = s;
	if (!s)
		return NULL;
	p += sprintf(p, "# BEGIN RECORD %s\n", NODEDB_RECORD_VERSION);
	for (int i = 0; i < r->n; i++)
		if (r->kv[i].value[0])
			p += sprintf(p, "%s = %s\n", r->kv[i].key, r->kv[i].value);
	strcpy(p, "# END RECORD\n");
	return s;
}

/* ---- files --------------------------------------------------------- */

/* A path component taken from user input: no '/', not "." or "..", no
 * control characters. */
static bool component_ok(const char *s)
{
	if (!s[0] || strlen(s) > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int read_text(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > NODEDB_MAX_FILE) {
		int e = S_ISDIR(sb.st_mode) ? -EISDIR : -EFBIG;
		close(fd);
		return e;
	}
	char *buf = malloc((size_t)sb.st_size + 1);
	size_t got = 0;
	ssize_t n = 1;
	while (buf && got < (size_t)sb.st_size &&
	       (n = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)n;
	int e = !buf ? -ENOMEM : n < 0 ? -errno : 0;
	close(fd);
	if (e) {
		free(buf);
		return e;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

static int load_rec(const char *path, struct nodedb_rec **out)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_text(path, &text, &len);
	if (rc)
		return rc;
	rc = nodedb_parse(text, len, out, NULL);
	free(text);
	return rc;
}

/* Write dir/name crash-safely (common/fileutil.h), 0600: records hold
 * secrets. With excl, an existing file is left alone and -EEXIST returned. */
static int atomic_write(const char *dir, const char *name, const char *text, bool excl)
{
	char dst[PATH_MAX];
	int rc = kfile_mkdir_p(dir, 0755);
	if (rc || (rc = pathf(dst, sizeof(dst), "%s/%s", dir, name)))
		return rc;
	return excl ? kfile_create(dst, text, strlen(text), 0600)
		    : kfile_replace(dst, text, strlen(text), 0600);
}

static int store_rec(const char *dir, const char *name, const struct nodedb_rec *r)
{
	char *text = nodedb_format(r);
	if (!text)
		return -ENOMEM;
	int rc = atomic_write(dir, name, text, false);
	free(text);
	return rc;
}

/* ---- node records -------------------------------------------------- */

static int node_dir(const char *root, const struct nodedb_node_id *id, char *out, size_t len)
{
	if (!component_ok(id->target) || !component_ok(id->address) || strchr(id->address, ','))
		return -EINVAL;
	return pathf(out, len, "%s/nodes/%s/%s,%u,%d", root, id->target, id->address,
		     (unsigned)id->port, id->tpgt);
}

/* "<ip>,<port>": open-iscsi keeps a record whose tpgt is unknown (-1) as a
 * plain file of that name, without the tpgt directory level, and reads that
 * file first whatever tpgt is asked for (idbm_rec_read). */
static int flat_path(const char *root, const struct nodedb_node_id *id, char *out, size_t len)
{
	if (!component_ok(id->target) || !component_ok(id->address) || strchr(id->address, ','))
		return -EINVAL;
	return pathf(out, len, "%s/nodes/%s/%s,%u", root, id->target, id->address,
		     (unsigned)id->port);
}

static bool is_file(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/<iface> of a record in the tpgt layout. */
static int iface_path_of(const char *root, const struct nodedb_node_id *id, char *dir, char *path)
{
	int rc = node_dir(root, id, dir, PATH_MAX);
	if (rc || !component_ok(nodedb_iface_of(id)))
		return rc ? rc : -EINVAL;
	return pathf(path, PATH_MAX, "%s/%s", dir, nodedb_iface_of(id));
}

int nodedb_node_load(const char *root, const struct nodedb_node_id *id, struct nodedb_rec **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (flat_path(root, id, path, sizeof(path)) == 0 && is_file(path))
		return load_rec(path, out);
	int rc = iface_path_of(root, id, dir, path);
	if (rc)
		return rc;
	rc = load_rec(path, out);
	/* kura's first layout: "<ip>,<port>,<tpgt>" itself a file (iface default) */
	if (rc == -ENOTDIR && strcmp(nodedb_iface_of(id), "default") == 0)
		rc = load_rec(dir, out);
	return rc;
}

static void rmdir_parents(char *path, int levels)
{
	for (int i = 0; i < levels; i++) {
		char *slash = strrchr(path, '/');
		if (!slash)
			return;
		*slash = '\0';
		if (rmdir(path))
			return;
	}
}

/* tpgt unknown: the flat file; a record kura wrote earlier as
 * "<ip>,<port>,-1/<iface>" is moved there. */
static int store_flat(const char *root, const struct nodedb_node_id *id, const struct nodedb_rec *r)
{
	char flat[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	int rc = flat_path(root, id, flat, sizeof(flat));
	if (rc)
		return rc;
	char *slash = strrchr(flat, '/');
	*slash = '\0';
	rc = store_rec(flat, slash + 1, r);
	if (rc == 0 && iface_path_of(root, id, dir, path) == 0 && unlink(path) == 0)
		rmdir(dir);
	return rc;
}

int nodedb_node_store(const char *root, const struct nodedb_node_id *id, const struct nodedb_rec *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (id->tpgt < 0)
		return store_flat(root, id, r);
	int rc = iface_path_of(root, id, dir, path);
	if (rc)
		return rc;
	if (is_file(dir))
		unlink(dir); /* convert kura's first layout */
	if (flat_path(root, id, path, sizeof(path)) == 0 && is_file(path))
		unlink(path); /* open-iscsi converts a flat record once its tpgt is known */
	rc = store_rec(dir, nodedb_iface_of(id), r);
	if (rc == 0)
		nodedb_link_node(root, id, r);
	return rc;
}

int nodedb_node_delete(const char *root, const struct nodedb_node_id *id)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct nodedb_rec *r;
	if (flat_path(root, id, path, sizeof(path)) == 0 && is_file(path)) {
		if (unlink(path))
			return -errno;
		rmdir_parents(path, 1);
		return 0;
	}
	int rc = iface_path_of(root, id, dir, path);
	if (rc)
		return rc;
	if (is_file(dir))
		strcpy(path, dir);
	else if (nodedb_node_load(root, id, &r) == 0) {
		nodedb_unlink_node(root, id, r);
		nodedb_rec_free(r);
	}
	if (unlink(path))
		return -errno;
	rmdir_parents(path, 2); /* the portal dir, then the target dir */
	return 0;
}

/* name..comma is the address, comma+1..end the port. */
static int parse_addr_port(const char *name, const char *comma, const char *end,
			   struct nodedb_node_id *id)
{
	char *e;
	if (comma == name || (size_t)(comma - name) >= sizeof(id->address) || comma + 1 == end)
		return -EINVAL;
	long port = strtol(comma + 1, &e, 10);
	if (e != end || port < 0 || port > 65535)
		return -EINVAL;
	memcpy(id->address, name, (size_t)(comma - name));
	id->address[comma - name] = '\0';
	id->port = (uint16_t)port;
	return 0;
}

/* "addr,port,tpgt", or open-iscsi's "addr,port" (tpgt -1); the address may be
 * IPv6, which has no commas. */
int nodedb_parse_portal_dir(const char *name, struct nodedb_node_id *id)
{
	const char *c2 = strrchr(name, ','), *c1;
	if (!c2 || c2 == name)
		return -EINVAL;
	for (c1 = c2 - 1; c1 > name && *c1 != ','; c1--)
		;
	if (*c1 != ',') /* one comma: "addr,port" */
		return parse_addr_port(name, c2, name + strlen(name), id) ? -EINVAL
									  : (id->tpgt = -1, 0);
	char *end;
	errno = 0;
	long tpgt = strtol(c2 + 1, &end, 10);
	if (*end || c2[1] == '\0' || errno || tpgt < -1 || tpgt > 65535 ||
	    parse_addr_port(name, c1, c2, id))
		return -EINVAL;
	id->tpgt = (int)tpgt;
	return 0;
}

struct id_list {
	struct nodedb_node_id *v;
	int n, cap;
};

static int id_push(struct id_list *l, const struct nodedb_node_id *id)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		void *v = realloc(l->v, (size_t)cap * sizeof(*l->v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *id;
	return 0;
}

struct node_filter {
	const char *target, *address;
	uint16_t port;
};

static bool filter_match(const struct node_filter *f, const struct nodedb_node_id *id)
{
	return (!f->address || !f->address[0] || strcmp(f->address, id->address) == 0) &&
	       (!f->port || f->port == id->port);
}

static int visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* A record that is a file names its iface inside (open-iscsi's flat
 * "<ip>,<port>" records); "default" if it does not. */
static void flat_iface(const char *path, struct nodedb_node_id *id)
{
	struct nodedb_rec *r;
	const char *v = NULL;
	strcpy(id->iface, "default");
	if (load_rec(path, &r))
		return;
	v = nodedb_get(r, "iface.iscsi_ifacename");
	if (v && component_ok(v) && strlen(v) < sizeof(id->iface))
		strcpy(id->iface, v);
	nodedb_rec_free(r);
}

/* Collect the iface records of one portal entry (dir, or old-layout file). */
static int scan_portal(const char *tdir, const char *target, const char *name,
		       const struct node_filter *f, struct id_list *l)
{
	struct nodedb_node_id id;
	char path[PATH_MAX];
	struct stat sb;

	memset(&id, 0, sizeof(id));
	if (nodedb_parse_portal_dir(name, &id) || strlen(target) >= sizeof(id.target))
		return 0; /* not ours: ignore */
	strcpy(id.target, target);
	if (!filter_match(f, &id) || pathf(path, sizeof(path), "%s/%s", tdir, name) ||
	    lstat(path, &sb))
		return 0;
	if (S_ISREG(sb.st_mode)) {
		flat_iface(path, &id);
		return id_push(l, &id);
	}
	DIR *d = S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
	struct dirent *de;
	int rc = 0;
	while (d && rc == 0 && (de = readdir(d))) {
		if (!visible(de) || strlen(de->d_name) >= sizeof(id.iface))
			continue;
		strcpy(id.iface, de->d_name);
		rc = id_push(l, &id);
	}
	if (d)
		closedir(d);
	return rc;
}

static int scan_target(const char *nodes, const char *target, const struct node_filter *f,
		       struct id_list *l)
{
	char tdir[PATH_MAX];
	if (pathf(tdir, sizeof(tdir), "%s/%s", nodes, target))
		return 0;
	DIR *d = opendir(tdir);
	struct dirent *de;
	int rc = 0;
	while (d && rc == 0 && (de = readdir(d)))
		if (visible(de))
			rc = scan_portal(tdir, target, de->d_name, f, l);
	if (d)
		closedir(d);
	return rc;
}

static int id_cmp(const void *a, const void *b)
{
	const struct nodedb_node_id *x = a, *y = b;
	int c = strcmp(x->target, y->target);
	if (!c)
		c = strcmp(x->address, y->address);
	if (!c)
		c = (int)x->port - (int)y->port;
	if (!c)
		c = x->tpgt - y->tpgt;
	return c ? c : strcmp(x->iface, y->iface);
}

int nodedb_node_foreach(const char *root, const char *target, const char *address, uint16_t port,
			nodedb_node_cb cb, void *arg)
{
	struct node_filter f = { target, address, port };
	struct id_list l = { NULL, 0, 0 };
	char nodes[PATH_MAX];
	int rc = pathf(nodes, sizeof(nodes), "%s/nodes", root);
	if (rc)
		return rc;
	DIR *d = opendir(nodes);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)))
		if (visible(de) && (!target || !target[0] || strcmp(target, de->d_name) == 0))
			rc = scan_target(nodes, de->d_name, &f, &l);
	closedir(d);
	if (l.n)
		qsort(l.v, (size_t)l.n, sizeof(*l.v), id_cmp);
	for (int i = 0; rc == 0 && i < l.n; i++)
		rc = cb(&l.v[i], arg);
	free(l.v);
	return rc;
}

/* ---- iscsid.conf over new records ---------------------------------- */

bool nodedb_identity_key(const char *k)
{
	static const char *const ids[] = {
		"node.name",
		"node.tpgt",
		"node.conn[0].address",
		"node.conn[0].port",
		"iface.iscsi_ifacename",
		"discovery.sendtargets.address",
		"discovery.sendtargets.port",
		NULL,
	};
	for (int i = 0; ids[i]; i++)
		if (strcmp(ids[i], k) == 0)
			return true;
	return false;
}

int nodedb_apply_conf(const char *root, struct nodedb_rec *r, const char *prefix)
{
	char path[PATH_MAX];
	struct nodedb_rec *conf;
	int rc = pathf(path, sizeof(path), "%s/iscsid.conf", root);
	if (rc || (rc = load_rec(path, &conf)))
		return rc == -ENOENT ? 0 : rc;
	for (int i = 0; rc == 0 && i < conf->n; i++) {
		const char *k = conf->kv[i].key;
		if (strncmp(k, prefix, strlen(prefix)) == 0 && !nodedb_identity_key(k))
			rc = nodedb_set(r, k, conf->kv[i].value);
	}
	nodedb_rec_free(conf);
	return rc;
}

/* ---- discovery and iface records ----------------------------------- */

static int st_dir(const char *root, const char *address, uint16_t port, char *out, size_t len)
{
	if (!component_ok(address) || strchr(address, ','))
		return -EINVAL;
	return pathf(out, len, "%s/send_targets/%s,%u", root, address, (unsigned)port);
}

int nodedb_st_load(const char *root, const char *address, uint16_t port, struct nodedb_rec **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = st_dir(root, address, port, dir, sizeof(dir));
	if (rc || (rc = pathf(path, sizeof(path), "%s/st_config", dir)))
		return rc;
	return load_rec(path, out);
}

int nodedb_st_store(const char *root, const char *address, uint16_t port,
		    const struct nodedb_rec *r)
{
	char dir[PATH_MAX];
	int rc = st_dir(root, address, port, dir, sizeof(dir));
	return rc ? rc : store_rec(dir, "st_config", r);
}

/* Removes st_config and whatever else open-iscsi keeps in the directory
 * (links to the node records), then the directory. */
int nodedb_st_delete(const char *root, const char *address, uint16_t port)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = st_dir(root, address, port, dir, sizeof(dir));
	if (rc)
		return rc;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !pathf(path, sizeof(path), "%s/%s", dir, de->d_name))
			unlink(path);
	closedir(d);
	return rmdir(dir) ? -errno : 0;
}

static int iface_path(const char *root, const char *name, char *dir, char *path)
{
	if (!component_ok(name))
		return -EINVAL;
	int rc = pathf(dir, PATH_MAX, "%s/ifaces", root);
	return rc ? rc : pathf(path, PATH_MAX, "%s/%s", dir, name);
}

int nodedb_iface_load(const char *root, const char *name, struct nodedb_rec **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = iface_path(root, name, dir, path);
	return rc ? rc : load_rec(path, out);
}

int nodedb_iface_store(const char *root, const char *name, const struct nodedb_rec *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = iface_path(root, name, dir, path);
	return rc ? rc : store_rec(dir, name, r);
}

int nodedb_iface_delete(const char *root, const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc = iface_path(root, name, dir, path);
	if (rc)
		return rc;
	return unlink(path) ? -errno : 0;
}

int nodedb_iface_foreach(const char *root, int (*cb)(const char *name, void *arg), void *arg)
{
	char dir[PATH_MAX];
	int rc = pathf(dir, sizeof(dir), "%s/ifaces", root);
	if (rc)
		return rc;
	struct dirent **names;
	int n = scandir(dir, &names, visible, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(names[i]->d_name, arg);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- initiator name ----------------------------------------------- */

/* "InitiatorName=..." from the text of initiatorname.iscsi; pure. */
int nodedb_parse_initiator_name(const char *text, char *out, size_t len)
{
	const char *p = text;
	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, "InitiatorName=", 14) == 0) {
			const char *v = p + 14;
			size_t vn = n - 14;
			while (vn && isspace((unsigned char)v[vn - 1]))
				vn--;
			if (vn == 0 || vn >= len || vn > 223 || memchr(v, ' ', vn))
				return -EINVAL;
			memcpy(out, v, vn);
			out[vn] = '\0';
			return 0;
		}
		p = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

/* iqn.2026-11.org.kura:<host>-<12 hex random>: the host part (lower-case,
 * [a-z0-9.-] only) helps an administrator recognise the name in a target's
 * ACL; the random part makes it unique across cloned hosts. */
static int generate_name(char *out, size_t len)
{
	char host[64] = "host", clean[64];
	unsigned char rnd[6];
	size_t j = 0;
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 0; host[i] && j < sizeof(clean) - 1; i++) {
		char c = (char)tolower((unsigned char)host[i]);
		if (isalnum((unsigned char)c) || c == '.' || c == '-')
			clean[j++] = c;
	}
	clean[j] = '\0';
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	int n = snprintf(out, len, "iqn.2026-11.org.kura:%s%s%02x%02x%02x%02x%02x%02x", clean,
			 j ? "-" : "", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int nodedb_initiator_name(const char *root, char *out, size_t len)
{
	char path[PATH_MAX], text[512], name[256];
	char *buf;
	size_t n;
	int rc = pathf(path, sizeof(path), "%s/initiatorname.iscsi", root);
	if (rc)
		return rc;
	for (int tries = 0; tries < 2; tries++) {
		rc = read_text(path, &buf, &n);
		if (rc == 0) {
			rc = nodedb_parse_initiator_name(buf, out, len);
			free(buf);
			return rc;
		}
		if (rc != -ENOENT || (rc = generate_name(name, sizeof(name))))
			return rc;
		snprintf(text, sizeof(text),
			 "## Written by kura-iscsiadm the first time it was needed.\n"
			 "## Targets' ACLs refer to this name: change it only with care.\n"
			 "InitiatorName=%s\n",
			 name);
		rc = atomic_write(root, "initiatorname.iscsi", text, true);
		if (rc && rc != -EEXIST) /* EEXIST: another process won; read theirs */
			return rc;
	}
	return -EIO;
}

/* ---- discovery-source links ---------------------------------------- */

/* open-iscsi links each record from the source that created it (idbm.c
 * setup_disc_to_node_link): send_targets/<da>,<dp>/<iqn>,<ip>,<port>,<tpgt>,<iface>
 * for SendTargets, static/<iqn>,<ip>,<port>,<tpgt>,<iface> for -o new; the
 * link points at <root>/nodes/<iqn>/<ip>,<port>,<tpgt>. Records with an
 * unknown tpgt get none. A discoverydb delete then finds its records. */
static int link_path(const char *root, const struct nodedb_node_id *id, const struct nodedb_rec *r,
		     char *out)
{
	const char *type = nodedb_get(r, "node.discovery_type");
	const char *da = nodedb_get(r, "node.discovery_address");
	const char *dp = nodedb_get(r, "node.discovery_port");
	const char *ifc = nodedb_iface_of(id);
	unsigned port = id->port;
	if (id->tpgt < 0 || !type)
		return -ENOENT;
	if (!strcmp(type, "send_targets") && da && dp && component_ok(da) && component_ok(dp))
		return pathf(out, PATH_MAX, "%s/send_targets/%s,%s/%s,%s,%u,%d,%s", root, da, dp,
			     id->target, id->address, port, id->tpgt, ifc);
	if (!strcmp(type, "static"))
		return pathf(out, PATH_MAX, "%s/static/%s,%s,%u,%d,%s", root, id->target,
			     id->address, port, id->tpgt, ifc);
	return -ENOENT;
}

void nodedb_link_node(const char *root, const struct nodedb_node_id *id, const struct nodedb_rec *r)
{
	char link[PATH_MAX], abs[PATH_MAX], dst[PATH_MAX];
	if (link_path(root, id, r, link) || !realpath(root, abs) ||
	    pathf(dst, sizeof(dst), "%s/nodes/%s/%s,%u,%d", abs, id->target, id->address,
		  (unsigned)id->port, id->tpgt))
		return;
	if (!strcmp(nodedb_get(r, "node.discovery_type"), "static")) {
		char *slash = strrchr(link, '/');
		*slash = '\0';
		kfile_mkdir_p(link, 0755); /* the send_targets dir comes with its record */
		*slash = '/';
	}
	if (symlink(dst, link))
		return; /* EEXIST: linked already; else best effort (an index only) */
}

void nodedb_unlink_node(const char *root, const struct nodedb_node_id *id,
			const struct nodedb_rec *r)
{
	char link[PATH_MAX];
	if (link_path(root, id, r, link) == 0)
		unlink(link);
}
