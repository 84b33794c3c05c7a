/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's API: GET /api/NAME relays one read-only admin request
 * (their --json answers, or the metrics text), POST /api/action turns one
 * form into one admin request line and logs it with the user and the
 * client's address, and GET /metrics serves the exposition to Prometheus.
 *
 * A form value becomes one word of the admin protocol: 1..255 printable
 * ASCII bytes without spaces (admin.h), and never starting with '-' so that
 * no value can add a flag such as --force. The daemon validates the rest
 * (names, sizes, states) and its ERR reason is shown to the user.
 *
 * Not for: sessions and CSRF (web_auth.c, checked before this runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "common/log.h"
#include "console/web.h"

static const struct console_cfg *cfg;
static struct hist_sampler *sampler;

void web_api_init(const struct console_cfg *c, struct hist_sampler *hs)
{
	cfg = c;
	sampler = hs;
}

/* ---- relays ---- */
static const struct {
	const char *url, *line, *type;
} gets[] = {
	{ "/api/targets", "list targets --json", "application/json" },
	{ "/api/luns", "list luns --json", "application/json" },
	{ "/api/sessions", "list sessions --json", "application/json" },
	{ "/api/portals", "list portals --json", "application/json" },
	{ "/api/alua", "alua show --json", "application/json" },
	{ "/api/pools", "pool status --json", "application/json" },
	{ "/api/arrays", "raid status --json", "application/json" },
	{ "/api/metrics", "metrics", "text/plain; version=0.0.4; charset=utf-8" },
};

static enum MHD_Result relay(struct MHD_Connection *c, const char *line, const char *type)
{
	char *out;
	bool ok;
	int r = console_admin(cfg->socket, line, &out, &ok);
	if (r < 0)
		return web_error(c, MHD_HTTP_BAD_GATEWAY, "kura-targetd does not answer");
	enum MHD_Result res = ok ? web_send(c, MHD_HTTP_OK, type, out, strlen(out), NULL, NULL)
				 : web_error(c, MHD_HTTP_CONFLICT, out);
	free(out);
	return res;
}

/* A form value that is one word of the admin protocol. */
static bool word_ok(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || n > 255 || v[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return false;
	return true;
}

static enum MHD_Result session_json(struct MHD_Connection *c, const struct web_session *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return MHD_NO;
	fputs("{\"user\":", f);
	kjson_str(f, s->user);
	fprintf(f, ",\"csrf\":\"%s\",\"cluster\":%s}\n", s->csrf, cfg->n_lockd ? "true" : "false");
	fclose(f);
	enum MHD_Result r = web_send(c, MHD_HTTP_OK, "application/json", buf, n, NULL, NULL);
	free(buf);
	return r;
}

enum MHD_Result web_api_get(struct MHD_Connection *c, const struct web_session *s, const char *url)
{
	if (!strcmp(url, "/api/session"))
		return session_json(c, s);
	if (!strcmp(url, "/api/history"))
		return web_history(c, sampler);
	if (!strcmp(url, "/api/cluster"))
		return web_cluster(c, cfg);
	if (!strcmp(url, "/api/volumes")) {
		const char *pool = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pool");
		char line[300];
		if (!word_ok(pool))
			return web_error(c, MHD_HTTP_BAD_REQUEST, "pool=NAME wanted");
		snprintf(line, sizeof(line), "volume list %s --json", pool);
		return relay(c, line, "application/json");
	}
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++)
		if (!strcmp(url, gets[i].url))
			return relay(c, gets[i].line, gets[i].type);
	return web_error(c, MHD_HTTP_NOT_FOUND, "no such API");
}

enum MHD_Result web_metrics(struct MHD_Connection *c)
{
	if (cfg->token) {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!h || strncmp(h, "Bearer ", 7) || !secret_equal(h + 7, cfg->token))
			return web_error(c, MHD_HTTP_UNAUTHORIZED, "bearer token wanted");
	}
	return relay(c, "metrics", "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- actions ---- */
/* A template's {name} is replaced by the form field name (one word). */
struct action {
	const char *name, *tmpl;
	bool secret; /* the line is not logged as it is */
};

static const struct action actions[] = {
	{ "volume_create", "volume create {pool} {id} size={size}", false },
	{ "volume_resize", "volume resize {pool} {id} size={size}", false },
	{ "volume_delete", "volume delete {pool} {id}", false },
	{ "snapshot_create", "snapshot create {pool} {origin} {id}", false },
	{ "clone_create", "clone create {pool} {origin} {id}", false },
	{ "lun_export", "lun add {target} {lun} backend=thin pool={pool} volume={volume}", false },
	{ "lun_remove", "lun remove {target} {lun}", false },
	{ "acl_add", "acl add {target} {initiator}", false },
	{ "acl_remove", "acl remove {target} {initiator}", false },
	{ "chap_add", "chap add {target} {user} {secret}", true },
	{ "chap_remove", "chap remove {target} {user}", false },
	{ "alua_set", "alua set {group} {state}", false },
	{ "raid_scrub", "raid scrub {array}", false },
};

/* Fill t from r's fields into line: 0, or -1 with the bad field's name
 * (or why) in bad. */
static int fill(const char *t, const struct web_req *r, char *line, size_t cap, char *bad,
		size_t badlen)
{
	size_t n = 0;
	while (*t) {
		const char *open = strchr(t, '{'), *v = NULL;
		size_t lit = open ? (size_t)(open - t) : strlen(t);
		if (open) {
			char key[32];
			snprintf(key, sizeof(key), "%.*s", (int)(strchr(open, '}') - open - 1),
				 open + 1);
			snprintf(bad, badlen, "%s", key);
			if (!word_ok(v = web_field(r, key)))
				return -1;
		}
		int w = snprintf(line + n, cap - n, "%.*s%s", (int)lit, t, v ? v : "");
		snprintf(bad, badlen, "request");
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
		t = open ? strchr(open, '}') + 1 : t + lit;
	}
	return 0;
}

static enum MHD_Result action_answer(struct MHD_Connection *c, bool ok, const char *out)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return MHD_NO;
	fprintf(f, "{\"ok\":%s,\"%s\":", ok ? "true" : "false", ok ? "output" : "error");
	kjson_str(f, out);
	fputs("}\n", f);
	fclose(f);
	enum MHD_Result r = web_send(c, ok ? MHD_HTTP_OK : MHD_HTTP_CONFLICT, "application/json",
				     buf, n, NULL, NULL);
	free(buf);
	return r;
}

static enum MHD_Result run_action(struct MHD_Connection *c, const struct web_session *s,
				  const struct web_req *r, const struct action *a)
{
	char line[1100], why[96], bad[32];
	if (fill(a->tmpl, r, line, sizeof(line), bad, sizeof(bad)) < 0) {
		snprintf(why, sizeof(why), "%s: one word of printable characters wanted", bad);
		return web_error(c, MHD_HTTP_BAD_REQUEST, why);
	}
	kinfo("console: user %s from %s: %s%s", s->user, r->addr, a->secret ? a->name : line,
	      a->secret ? " (secret not logged)" : "");
	char *out;
	bool ok;
	int e = console_admin(cfg->socket, line, &out, &ok);
	explicit_bzero(line, sizeof(line));
	if (e < 0)
		return web_error(c, MHD_HTTP_BAD_GATEWAY, "kura-targetd does not answer");
	for (size_t n = strlen(out); n && out[n - 1] == '\n'; n--)
		out[n - 1] = '\0';
	if (!ok)
		kwarn("console: user %s from %s: %s refused: %s", s->user, r->addr, a->name, out);
	enum MHD_Result res = action_answer(c, ok, out);
	free(out);
	return res;
}

enum MHD_Result web_api_action(struct MHD_Connection *c, const struct web_session *s,
			       struct web_req *r)
{
	const char *name = web_field(r, "action");
	for (size_t i = 0; name && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i].name, name))
			return run_action(c, s, r, &actions[i]);
	return web_error(c, MHD_HTTP_BAD_REQUEST, "unknown action");
}
