/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's HTTPS server on libmicrohttpd: one thread per connection
 * (an admin request may take seconds: a snapshot, a pool grow), bounded
 * connections per client and in all, TLS from the configured or generated
 * certificate. Routing:
 *
 *   GET  /metrics          Prometheus exposition (bearer token if set)
 *   GET  /login, POST /login, POST /logout         (web_auth.c)
 *   GET  /style.css                                (no session needed)
 *   GET  /, /app.js, /chart.js, /uPlot.*, GET /api/..., POST /api/action
 *                          a session, and for POST its CSRF token
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles
 * from the console only, no inline code), no-store and nosniff.
 *
 * Not for: authentication decisions (web_auth.c) or what the API relays
 * (web_api.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "common/log.h"
#include "console/history.h"
#include "console/web.h"

#define BODY_MAX (64u << 10)

const struct console_file *web_file(const char *name)
{
	for (size_t i = 0; i < console_n_files; i++)
		if (!strcmp(console_files[i].name, name))
			return &console_files[i];
	return NULL;
}

const char *web_field(const struct web_req *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->key[i], key))
			return r->val[i];
	return NULL;
}

static void security_headers(struct MHD_Response *rsp)
{
	MHD_add_response_header(rsp, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
				"form-action 'self'; base-uri 'none'");
	MHD_add_response_header(rsp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(rsp, "X-Frame-Options", "DENY");
	MHD_add_response_header(rsp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(rsp, "Cache-Control", "no-store");
	MHD_add_response_header(rsp, "Strict-Transport-Security", "max-age=31536000");
}

enum MHD_Result web_send(struct MHD_Connection *c, unsigned status, const char *type,
			 const char *body, size_t len, const char *cookie, const char *location)
{
	struct MHD_Response *rsp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!rsp)
		return MHD_NO;
	MHD_add_response_header(rsp, "Content-Type", type);
	security_headers(rsp);
	if (cookie)
		MHD_add_response_header(rsp, "Set-Cookie", cookie);
	if (location)
		MHD_add_response_header(rsp, "Location", location);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(rsp, "WWW-Authenticate", "Bearer realm=\"kura\"");
	enum MHD_Result r = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return r;
}

enum MHD_Result web_error(struct MHD_Connection *c, unsigned status, const char *why)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return MHD_NO;
	fputs("{\"error\":", f);
	kjson_str(f, why);
	fputs("}\n", f);
	fclose(f);
	enum MHD_Result r = web_send(c, status, "application/json", buf, n, NULL, NULL);
	free(buf);
	return r;
}

static enum MHD_Result send_file(struct MHD_Connection *c, const struct console_file *f)
{
	if (!f)
		return web_error(c, MHD_HTTP_NOT_FOUND, "no such file");
	return web_send(c, MHD_HTTP_OK, f->type, (const char *)f->data, f->len, NULL, NULL);
}

/* ---- request bodies (application/x-www-form-urlencoded) ---- */
static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *filename, const char *type, const char *enc,
				  const char *data, uint64_t off, size_t size)
{
	struct web_req *r = cls;
	(void)kind, (void)filename, (void)type, (void)enc;
	int i = 0;
	while (i < r->n && strcmp(r->key[i], key))
		i++;
	if (i == r->n && (r->n == WEB_FIELDS || strlen(key) >= sizeof(r->key[0]))) {
		r->too_big = true;
		return MHD_NO;
	}
	if (i == r->n)
		snprintf(r->key[r->n++], sizeof(r->key[0]), "%s", key);
	if (off + size >= WEB_VALUE_MAX) {
		r->too_big = true;
		return MHD_NO;
	}
	memcpy(r->val[i] + off, data, size);
	r->val[i][off + size] = '\0';
	return MHD_YES;
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

static struct web_req *req_new(struct MHD_Connection *c, const char *method)
{
	struct web_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	client_addr(c, r->addr, sizeof(r->addr));
	if (!strcmp(method, "POST"))
		r->pp = MHD_create_post_processor(c, 4096, post_field, r);
	return r;
}

static void req_done(void *cls, struct MHD_Connection *c, void **con_cls,
		     enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct web_req *r = *con_cls;
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	explicit_bzero(r, sizeof(*r)); /* passwords and CHAP secrets */
	free(r);
	*con_cls = NULL;
}

/* ---- routing ---- */
static enum MHD_Result route_public(struct MHD_Connection *c, const char *url, const char *method,
				    struct web_req *r, bool *done)
{
	*done = true;
	bool get = !strcmp(method, "GET");
	if (get && !strcmp(url, "/metrics"))
		return web_metrics(c);
	if (get && !strcmp(url, "/login"))
		return web_login_page(c, MHD_HTTP_OK, NULL);
	if (!get && !strcmp(url, "/login"))
		return web_login(c, r);
	if (get && !strcmp(url, "/style.css"))
		return send_file(c, web_file(url));
	*done = false;
	return MHD_YES;
}

static enum MHD_Result route_session(struct MHD_Connection *c, const char *url, const char *method,
				     struct web_req *r, const struct web_session *s)
{
	bool get = !strcmp(method, "GET");
	if (!get && !web_csrf_ok(s, r))
		return web_error(c, MHD_HTTP_FORBIDDEN, "missing or wrong CSRF token");
	if (!get && !strcmp(url, "/logout"))
		return web_logout(c, r);
	if (!get && !strcmp(url, "/api/action"))
		return web_api_action(c, s, r);
	if (get && !strncmp(url, "/api/", 5))
		return web_api_get(c, s, url);
	const struct console_file *f = get ? web_file(strcmp(url, "/") ? url : "/index.html")
					   : NULL;
	if (f && strcmp(url, "/login.html"))
		return send_file(c, f);
	return web_error(c, MHD_HTTP_NOT_FOUND, "no such page");
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
			     struct web_req *r)
{
	if (r->too_big)
		return web_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request too large");
	bool done;
	enum MHD_Result res = route_public(c, url, method, r, &done);
	if (done)
		return res;
	struct web_session s;
	if (!web_session_of(c, &s)) {
		if (!strcmp(method, "GET") && (!strcmp(url, "/") || !strcmp(url, "/index.html")))
			return web_send(c, MHD_HTTP_SEE_OTHER, "text/plain", "", 0, NULL, "/login");
		return web_error(c, MHD_HTTP_UNAUTHORIZED, "log in first");
	}
	res = route_session(c, url, method, r, &s);
	explicit_bzero(&s, sizeof(s));
	return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)cls, (void)version;
	struct web_req *r = *con_cls;
	if (!r) {
		*con_cls = r = req_new(c, method);
		return r ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (!r->pp || MHD_post_process(r->pp, upload, *upload_size) != MHD_YES)
			r->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		return web_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST only");
	return route(c, url, method, r);
}

static int listen_addr(const struct console_cfg *cfg, struct sockaddr_storage *ss, unsigned *flags)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, cfg->listen_addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(cfg->port);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->listen_addr, &a6->sin6_addr) != 1)
		return -EINVAL;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(cfg->port);
	*flags |= MHD_USE_IPv6;
	return 0;
}

int console_serve(const struct console_cfg *cfg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_TLS | MHD_USE_ERROR_LOG;
	if (listen_addr(cfg, &ss, &flags) < 0) {
		snprintf(err, errlen, "--listen: %s is not a numeric address", cfg->listen_addr);
		return -EINVAL;
	}
	struct hist_sampler *hs = hist_sampler_start(cfg->socket, cfg->sample_s);
	if (!hs) {
		snprintf(err, errlen, "cannot start the history sampler: out of memory");
		return -ENOMEM;
	}
	web_auth_init(cfg);
	web_api_init(cfg, hs);
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, cfg->port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_HTTPS_MEM_CERT, cfg->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, cfg->key_pem,
		MHD_OPTION_NOTIFY_COMPLETED, req_done, NULL, MHD_OPTION_CONNECTION_LIMIT, 64,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16, MHD_OPTION_CONNECTION_TIMEOUT, 30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BODY_MAX, MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen,
			 "cannot serve https://%s:%u (address in use, or a bad "
			 "certificate)",
			 cfg->listen_addr, cfg->port);
		hist_sampler_stop(hs);
		return -EADDRINUSE;
	}
	kinfo("console: serving https://%s:%u/ for %s", cfg->listen_addr, cfg->port, cfg->socket);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	int sig = 0;
	sigwait(&set, &sig);
	kinfo("console: signal %d: stopping", sig);
	MHD_stop_daemon(d);
	hist_sampler_stop(hs);
	return 0;
}
