/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster configuration parser (see lock_config.h for the format).
 *
 * inih does the lexing through our own line reader (ini_parse_stream), as in
 * target/model/config.c: the packaged inih passes no line number to the
 * handler, so the reader counts lines, strips indentation (an indented key is
 * never an inih continuation line) and notes each "[section]" header as it
 * passes. Every key of every section kind is in a small table; values are
 * checked where they are read, cross-section rules (unique ids and names,
 * `prefer` naming a host) once at the end.
 *
 * Not for: I/O beyond reading the file in lock_config_load; defaults that
 * depend on the host running (the daemon fills socket / state paths).
 */
#include "cluster-lock/lock_config.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/ini_line.h"

#define LOCK_CFG_MAX_LINE 4096

struct cfg_parser {
	struct lock_config *cfg;
	const char *text; /* what is left to read */
	int lineno;
	int sect_line;
	enum { SECT_NONE, SECT_CLUSTER, SECT_HOST, SECT_VM } kind;
	bool failed;
	bool seen_cluster;
	char *err;
	size_t errlen;
};

static int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cfg_fail_line(struct cfg_parser *p, int line, const char *fmt, ...)
{
	if (p->failed)
		return -EINVAL;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->cfg->source, line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	p->failed = true;
	return -EINVAL;
}

#define cfg_fail(p, ...) cfg_fail_line((p), (p)->lineno, __VA_ARGS__)

/* ------------------------------------------------------------ words */

static int push_word(char ***argv, int *argc, const char *w, size_t len)
{
	char **v = realloc(*argv, (*argc + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*argv = v;
	v[*argc] = strndup(w, len);
	if (!v[*argc])
		return -ENOMEM;
	v[++*argc] = NULL;
	return 0;
}

/* Copy one word starting at *S into BUF (at least strlen(s) + 1 bytes). */
static int scan_word(const char **s, char *buf, size_t *len, const char **why)
{
	const char *p = *s;
	char quote = 0;
	size_t n = 0;
	for (; *p && (quote || !isblank((unsigned char)*p)); p++) {
		if (quote == '\'' && *p != '\'') {
			buf[n++] = *p;
		} else if (*p == '\\' && p[1] && (!quote || p[1] == '"' || p[1] == '\\')) {
			buf[n++] = *++p;
		} else if (*p == '"' || *p == '\'') {
			if (!quote)
				quote = *p;
			else if (quote == *p)
				quote = 0;
			else
				buf[n++] = *p;
		} else {
			buf[n++] = *p;
		}
	}
	if (quote) {
		*why = quote == '"' ? "unterminated \"" : "unterminated '";
		return -EINVAL;
	}
	*s = p;
	*len = n;
	return 0;
}

void lock_free_words(char **argv)
{
	for (char **w = argv; w && *w; w++)
		free(*w);
	free(argv);
}

int lock_split_words(const char *s, char ***argv, int *argc, const char **why)
{
	char *buf = malloc(strlen(s) + 1);
	size_t len;
	int r = buf ? 0 : -ENOMEM;
	*argv = calloc(1, sizeof(**argv));
	*argc = 0;
	if (!*argv)
		r = -ENOMEM;
	while (r == 0) {
		while (isblank((unsigned char)*s))
			s++;
		if (!*s)
			break;
		r = scan_word(&s, buf, &len, why);
		if (r == 0)
			r = push_word(argv, argc, buf, len);
	}
	free(buf);
	if (r == -ENOMEM)
		*why = "out of memory";
	if (r < 0) {
		lock_free_words(*argv);
		*argv = NULL;
		*argc = 0;
	}
	return r;
}

int lock_parse_duration_ms(const char *s, unsigned *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || v > 86400)
		return -EINVAL;
	while (isblank((unsigned char)*end))
		end++;
	if (strcmp(end, "ms") == 0)
		*ms = (unsigned)(v + 0.5);
	else if (*end == '\0' || strcmp(end, "s") == 0)
		*ms = (unsigned)(v * 1000 + 0.5);
	else
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ values */

static int set_str(struct cfg_parser *p, const char *key, char *dst, size_t size, const char *v)
{
	if (!*v)
		return cfg_fail(p, "key '%s': empty value", key);
	if (strlen(v) >= size)
		return cfg_fail(p, "key '%s': longer than %zu characters", key, size - 1);
	strcpy(dst, v);
	return 0;
}

static int set_bool(struct cfg_parser *p, const char *key, bool *dst, const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*dst = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return cfg_fail(p, "key '%s': expected yes or no, got '%s'", key, v);
}

static int set_ms(struct cfg_parser *p, const char *key, unsigned *dst, const char *v)
{
	if (lock_parse_duration_ms(v, dst) < 0 || *dst == 0)
		return cfg_fail(p,
				"key '%s': expected a duration in seconds (like 1, 0.5 or "
				"250ms), got '%s'",
				key, v);
	return 0;
}

static int add_url(struct cfg_parser *p, const char *key, char **arr, int *n, int max,
		   const char *v)
{
	if (*n >= max)
		return cfg_fail(p, "key '%s': more than %d values", key, max);
	if (strlen(v) >= LOCK_CFG_URL)
		return cfg_fail(p, "key '%s': value longer than %d characters", key,
				LOCK_CFG_URL - 1);
	if (strncmp(key, "ha_lun", 6) == 0 && strncmp(v, "iscsi://", 8) != 0)
		return cfg_fail(p, "key '%s': expected an iscsi:// URL, got '%s'", key, v);
	arr[*n] = strdup(v);
	if (!arr[*n])
		return cfg_fail(p, "out of memory");
	(*n)++;
	return 0;
}

/* ------------------------------------------------------------ [cluster] */

static int cluster_key(struct cfg_parser *p, const char *k, const char *v)
{
	struct lock_config *c = p->cfg;
	if (strcmp(k, "name") == 0)
		return set_str(p, k, c->name, sizeof(c->name), v);
	if (strcmp(k, "ha_lun") == 0)
		return add_url(p, k, c->ha_lun, &c->n_ha_lun, LOCK_CFG_MAX_PATHS, v);
	if (strcmp(k, "heartbeat_interval") == 0)
		return set_ms(p, k, &c->heartbeat_interval_ms, v);
	if (strcmp(k, "fail_after") == 0)
		return set_ms(p, k, &c->fail_after_ms, v);
	if (strcmp(k, "io_timeout") == 0)
		return set_ms(p, k, &c->io_timeout_ms, v);
	if (strcmp(k, "qemu_binary") == 0)
		return set_str(p, k, c->qemu_binary, sizeof(c->qemu_binary), v);
	return cfg_fail(p, "key '%s': unknown in [cluster]", k);
}

/* ------------------------------------------------------------ [host NAME] */

static int set_host_id(struct cfg_parser *p, const char *k, struct lock_host_cfg *h, const char *v)
{
	char *end;
	long id = strtol(v, &end, 10);
	if (*v == '\0' || *end || id < 1 || id > LOCK_CFG_MAX_HOSTS)
		return cfg_fail(p, "key '%s': expected a host id 1..%d, got '%s'", k,
				LOCK_CFG_MAX_HOSTS, v);
	h->id = (unsigned)id;
	return 0;
}

static int set_abs_path(struct cfg_parser *p, const char *key, char *dst, size_t size,
			const char *v)
{
	if (*v && *v != '/')
		return cfg_fail(p, "key '%s': expected an absolute path, got '%s'", key, v);
	return set_str(p, key, dst, size, v);
}

static int host_key(struct cfg_parser *p, const char *k, const char *v)
{
	struct lock_host_cfg *h = &p->cfg->hosts[p->cfg->n_hosts - 1];
	if (strcmp(k, "id") == 0)
		return set_host_id(p, k, h, v);
	if (strcmp(k, "initiator") == 0)
		return set_str(p, k, h->initiator, sizeof(h->initiator), v);
	if (strcmp(k, "address") == 0)
		return set_str(p, k, h->address, sizeof(h->address), v);
	if (strcmp(k, "socket") == 0)
		return set_str(p, k, h->socket, sizeof(h->socket), v);
	if (strcmp(k, "state_dir") == 0)
		return set_str(p, k, h->state_dir, sizeof(h->state_dir), v);
	if (strcmp(k, "initiatord_dir") == 0)
		return set_abs_path(p, k, h->initiatord_dir, sizeof(h->initiatord_dir), v);
	return cfg_fail(p, "key '%s': unknown in [host %s]", k, h->name);
}

/* ------------------------------------------------------------ [vm NAME] */

static int set_disks(struct cfg_parser *p, const char *k, struct lock_vm_cfg *vm, const char *v)
{
	char **w;
	int n;
	const char *why;
	if (lock_split_words(v, &w, &n, &why) < 0)
		return cfg_fail(p, "key '%s': %s", k, why);
	int r = n == 0 ? cfg_fail(p, "key '%s': empty value", k) : 0;
	for (int i = 0; i < n && r == 0; i++)
		r = add_url(p, k, vm->disks, &vm->n_disks, LOCK_CFG_MAX_DISKS, w[i]);
	lock_free_words(w);
	return r;
}

static int set_qemu(struct cfg_parser *p, const char *k, struct lock_vm_cfg *vm, const char *v)
{
	const char *why;
	lock_free_words(vm->qemu_argv);
	if (lock_split_words(v, &vm->qemu_argv, &vm->qemu_argc, &why) < 0)
		return cfg_fail(p, "key '%s': %s", k, why);
	return 0;
}

static int set_disk_device(struct cfg_parser *p, const char *k, struct lock_vm_cfg *vm,
			   const char *v)
{
	if (strcmp(v, "none") != 0 && strcmp(v, "virtio-blk-pci") != 0)
		return cfg_fail(p, "key '%s': expected virtio-blk-pci or none, got '%s'", k, v);
	vm->disk_device = strcmp(v, "none") != 0;
	return 0;
}

static int set_disk_via(struct cfg_parser *p, const char *k, struct lock_vm_cfg *vm, const char *v)
{
	if (strcmp(v, "iscsi") != 0 && strcmp(v, "initiatord") != 0)
		return cfg_fail(p, "key '%s': expected iscsi or initiatord, got '%s'", k, v);
	vm->via_initiatord = strcmp(v, "initiatord") == 0;
	vm->via_line = p->lineno;
	return 0;
}

static int vm_key(struct cfg_parser *p, const char *k, const char *v)
{
	struct lock_vm_cfg *vm = &p->cfg->vms[p->cfg->n_vms - 1];
	if (strcmp(k, "disks") == 0)
		return set_disks(p, k, vm, v);
	if (strcmp(k, "qemu") == 0)
		return set_qemu(p, k, vm, v);
	if (strcmp(k, "ha") == 0)
		return set_bool(p, k, &vm->ha, v);
	if (strcmp(k, "prefer") == 0)
		return set_str(p, k, vm->prefer, sizeof(vm->prefer), v);
	if (strcmp(k, "disk_device") == 0)
		return set_disk_device(p, k, vm, v);
	if (strcmp(k, "disk_via") == 0)
		return set_disk_via(p, k, vm, v);
	return cfg_fail(p, "key '%s': unknown in [vm %s]", k, vm->name);
}

/* ------------------------------------------------------------ sections */

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= LOCK_CFG_NAME)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static int begin_named(struct cfg_parser *p, const char *kind, const char *name, char *dst, int *n,
		       int max)
{
	if (*n >= max)
		return cfg_fail(p, "more than %d [%s] sections", max, kind);
	if (!valid_name(name))
		return cfg_fail(p, "[%s %s]: a name is 1..%d letters, digits, '-', '_' or '.'",
				kind, name, LOCK_CFG_NAME - 1);
	strcpy(dst, name);
	(*n)++;
	return 0;
}

static int section_begin(struct cfg_parser *p, const char *text)
{
	struct lock_config *c = p->cfg;
	p->sect_line = p->lineno;
	if (strcmp(text, "cluster") == 0) {
		if (p->seen_cluster)
			return cfg_fail(p, "second [cluster] section");
		p->seen_cluster = true;
		p->kind = SECT_CLUSTER;
		return 0;
	}
	if (strncmp(text, "host ", 5) == 0) {
		p->kind = SECT_HOST;
		c->hosts[c->n_hosts < LOCK_CFG_MAX_HOSTS ? c->n_hosts : 0].line = p->lineno;
		return begin_named(p, "host", text + 5, c->hosts[c->n_hosts].name, &c->n_hosts,
				   LOCK_CFG_MAX_HOSTS);
	}
	if (strncmp(text, "vm ", 3) == 0) {
		p->kind = SECT_VM;
		struct lock_vm_cfg *vm = &c->vms[c->n_vms < LOCK_CFG_MAX_VMS ? c->n_vms : 0];
		vm->line = p->lineno;
		vm->index = c->n_vms;
		vm->disk_device = true;
		return begin_named(p, "vm", text + 3, vm->name, &c->n_vms, LOCK_CFG_MAX_VMS);
	}
	return cfg_fail(p, "unknown section [%s] (expected [cluster], [host NAME] or [vm NAME])",
			text);
}

static int on_key(void *user, const char *section, const char *k, const char *v)
{
	struct cfg_parser *p = user;
	int r = -EINVAL;
	if (p->failed)
		return 0;
	if (p->kind == SECT_CLUSTER)
		r = cluster_key(p, k, v);
	else if (p->kind == SECT_HOST)
		r = host_key(p, k, v);
	else if (p->kind == SECT_VM)
		r = vm_key(p, k, v);
	else
		cfg_fail(p, "key '%s' outside any section", k);
	return r == 0;
}

/* The ini_reader: one line per call, counted and unindented; section headers
 * are handled here, before inih sees them, so that they carry a line. */
static char *cfg_reader(char *buf, int num, void *stream)
{
	struct cfg_parser *p = stream;
	if (p->failed || !*p->text)
		return NULL;
	size_t len = strcspn(p->text, "\n");
	const char *s = p->text;
	p->text += len + (p->text[len] == '\n');
	p->lineno++;
	char section[256];
	int r = kini_line(s, len, buf, (size_t)num, section, sizeof(section));
	if (r == -E2BIG) {
		cfg_fail(p, "line longer than %d characters", num - 2);
		return NULL;
	}
	if (r == 1 && section_begin(p, section) < 0)
		return NULL;
	return buf;
}

/* ------------------------------------------------------------ final checks */

static int check_host(struct cfg_parser *p, int i)
{
	const struct lock_host_cfg *h = &p->cfg->hosts[i];
	if (h->id == 0)
		return cfg_fail_line(p, h->line, "[host %s]: key 'id' missing", h->name);
	if (!h->initiator[0])
		return cfg_fail_line(p, h->line, "[host %s]: key 'initiator' missing", h->name);
	for (int j = 0; j < i; j++) {
		const struct lock_host_cfg *o = &p->cfg->hosts[j];
		if (strcmp(o->name, h->name) == 0)
			return cfg_fail_line(p, h->line, "[host %s]: defined twice (line %d)",
					     h->name, o->line);
		if (o->id == h->id)
			return cfg_fail_line(p, h->line,
					     "[host %s]: key 'id': %u already used "
					     "by [host %s]",
					     h->name, h->id, o->name);
		if (strcmp(o->initiator, h->initiator) == 0)
			return cfg_fail_line(p, h->line,
					     "[host %s]: key 'initiator': already "
					     "used by [host %s]",
					     h->name, o->name);
	}
	return 0;
}

/* disk_via = initiatord: the lock daemon still registers and fences through
 * the disks' iscsi:// URLs, and the VM may run (HA, migration) on any host,
 * so every disk is a URL and every host names its kura-initiatord. */
static int check_via_initiatord(struct cfg_parser *p, const struct lock_vm_cfg *vm)
{
	for (int k = 0; k < vm->n_disks; k++)
		if (strncmp(vm->disks[k], "iscsi://", 8) != 0)
			return cfg_fail_line(p, vm->via_line,
					     "key 'disk_via': initiatord needs "
					     "iscsi:// URLs in 'disks', got '%s'",
					     vm->disks[k]);
	for (int i = 0; i < p->cfg->n_hosts; i++) {
		const struct lock_host_cfg *h = &p->cfg->hosts[i];
		if (!h->initiatord_dir[0])
			return cfg_fail_line(p, vm->via_line,
					     "key 'disk_via': initiatord needs "
					     "key 'initiatord_dir' in [host %s] (line %d)",
					     h->name, h->line);
	}
	return 0;
}

static int check_vm(struct cfg_parser *p, int i)
{
	const struct lock_vm_cfg *vm = &p->cfg->vms[i];
	if (vm->n_disks == 0)
		return cfg_fail_line(p, vm->line, "[vm %s]: key 'disks' missing", vm->name);
	if (vm->prefer[0] && !lock_config_host(p->cfg, vm->prefer))
		return cfg_fail_line(p, vm->line, "[vm %s]: key 'prefer': no [host %s]", vm->name,
				     vm->prefer);
	if (vm->via_initiatord && check_via_initiatord(p, vm) < 0)
		return -EINVAL;
	for (int j = 0; j < i; j++)
		if (strcmp(p->cfg->vms[j].name, vm->name) == 0)
			return cfg_fail_line(p, vm->line, "[vm %s]: defined twice (line %d)",
					     vm->name, p->cfg->vms[j].line);
	return 0;
}

static int cfg_finish(struct cfg_parser *p)
{
	struct lock_config *c = p->cfg;
	if (!p->seen_cluster)
		return cfg_fail_line(p, 1, "no [cluster] section");
	if (!c->name[0])
		return cfg_fail_line(p, 1, "[cluster]: key 'name' missing");
	if (c->n_ha_lun == 0)
		return cfg_fail_line(p, 1, "[cluster]: key 'ha_lun' missing");
	if (c->fail_after_ms < 2 * c->heartbeat_interval_ms)
		return cfg_fail_line(p, 1,
				     "[cluster]: key 'fail_after': must be at least two "
				     "heartbeat intervals");
	int r = 0;
	for (int i = 0; i < c->n_hosts && r == 0; i++)
		r = check_host(p, i);
	for (int i = 0; i < c->n_vms && r == 0; i++)
		r = check_vm(p, i);
	return r;
}

static void config_defaults(struct lock_config *c, const char *source)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->source, sizeof(c->source), "%s", source);
	c->heartbeat_interval_ms = 1000;
	c->fail_after_ms = 10000;
	c->io_timeout_ms = 0; /* the library's default: heartbeat_interval */
	strcpy(c->qemu_binary, "qemu-system-x86_64");
}

int lock_config_parse(const char *text, const char *source, struct lock_config *cfg, char *err,
		      size_t errlen)
{
	struct cfg_parser p = { .cfg = cfg, .text = text, .err = err, .errlen = errlen };
	config_defaults(cfg, source);
	if (errlen)
		err[0] = '\0';
	/* Debian's inih reads lines into a 200-byte buffer by default; a `qemu`
	 * line is often longer. These are the library's own run-time knobs
	 * (process-wide, set identically by every caller). */
	ini_use_stack = false;
	ini_max_line = LOCK_CFG_MAX_LINE;
	ini_initial_alloc = LOCK_CFG_MAX_LINE;
	int line = ini_parse_stream(cfg_reader, &p, on_key, &p);
	if (line > 0 && !p.failed)
		return cfg_fail_line(&p, line, "syntax error: expected [section] or key = value");
	if (line < 0)
		return cfg_fail(&p, "out of memory");
	if (p.failed)
		return -EINVAL;
	return cfg_finish(&p);
}

int lock_config_load(const char *path, struct lock_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t size = 0;
	config_defaults(cfg, path);
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	FILE *m = open_memstream(&text, &size);
	char buf[4096];
	size_t n;
	while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(f);
	if (!m || fclose(m) != 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return -ENOMEM;
	}
	int r = lock_config_parse(text, path, cfg, err, errlen);
	free(text);
	return r;
}

void lock_config_free(struct lock_config *cfg)
{
	for (int i = 0; i < cfg->n_ha_lun; i++)
		free(cfg->ha_lun[i]);
	for (int i = 0; i < cfg->n_vms; i++) {
		for (int d = 0; d < cfg->vms[i].n_disks; d++)
			free(cfg->vms[i].disks[d]);
		lock_free_words(cfg->vms[i].qemu_argv);
	}
	cfg->n_ha_lun = cfg->n_vms = cfg->n_hosts = 0;
}

/* ------------------------------------------------------------ lookups */

const struct lock_host_cfg *lock_config_host(const struct lock_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_hosts; i++)
		if (strcmp(cfg->hosts[i].name, name) == 0)
			return &cfg->hosts[i];
	return NULL;
}

const struct lock_host_cfg *lock_config_host_by_id(const struct lock_config *cfg, unsigned id)
{
	for (int i = 0; i < cfg->n_hosts; i++)
		if (cfg->hosts[i].id == id)
			return &cfg->hosts[i];
	return NULL;
}

const struct lock_vm_cfg *lock_config_vm(const struct lock_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_vms; i++)
		if (strcmp(cfg->vms[i].name, name) == 0)
			return &cfg->vms[i];
	return NULL;
}
