/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the web files of kura-console: web.c (the libmicrohttpd server,
 * routing, static files, headers), web_auth.c (sessions, login, CSRF, the
 * login rate limit) and web_api.c (the JSON API: relayed admin requests and
 * the forms' actions).
 *
 * Not for: anything outside console/.
 */
#ifndef KURA_CONSOLE_WEB_H
#define KURA_CONSOLE_WEB_H
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include "console/console.h"

#define WEB_FIELDS    16
#define WEB_VALUE_MAX 512

/* One request's state across libmicrohttpd's calls (its con_cls). */
struct web_req {
	struct MHD_PostProcessor *pp;
	int n;
	char key[WEB_FIELDS][32];
	char val[WEB_FIELDS][WEB_VALUE_MAX];
	bool too_big;  /* a field or the body went past the limits */
	char addr[64]; /* the client's address, for the log and the rate limit */
};

/* A field of the POST body, or NULL. */
const char *web_field(const struct web_req *r, const char *key);

/* ---- answers (web.c) ---- */
/* Queue a response with the security headers; takes a copy of body. */
enum MHD_Result web_send(struct MHD_Connection *c, unsigned status, const char *type,
			 const char *body, size_t len, const char *cookie, const char *location);
/* {"error": why} with status. */
enum MHD_Result web_error(struct MHD_Connection *c, unsigned status, const char *why);
/* A static file by name ("/app.js"), or NULL. */
const struct console_file *web_file(const char *name);

/* ---- web_auth.c ---- */
struct web_session {
	char id[65];
	char csrf[65];
	char user[65];
};
void web_auth_init(const struct console_cfg *cfg);
/* The session named by the request's cookie (copied into *out). */
bool web_session_of(struct MHD_Connection *c, struct web_session *out);
/* True when the POST field csrf is the session's token. */
bool web_csrf_ok(const struct web_session *s, const struct web_req *r);
enum MHD_Result web_login_page(struct MHD_Connection *c, unsigned status, const char *msg);
enum MHD_Result web_login(struct MHD_Connection *c, struct web_req *r);
enum MHD_Result web_logout(struct MHD_Connection *c, struct web_req *r);

/* ---- web_api.c ---- */
struct hist_sampler;
void web_api_init(const struct console_cfg *cfg, struct hist_sampler *hs);
/* GET /api/NAME (relayed admin requests, /api/history from the sampler,
 * /api/cluster from the kura-lockd sockets) and POST /api/action. */
enum MHD_Result web_api_get(struct MHD_Connection *c, const struct web_session *s, const char *url);
enum MHD_Result web_api_action(struct MHD_Connection *c, const struct web_session *s,
			       struct web_req *r);
/* ---- web_views.c ---- */
enum MHD_Result web_history(struct MHD_Connection *c, struct hist_sampler *hs);
enum MHD_Result web_cluster(struct MHD_Connection *c, const struct console_cfg *cfg);
/* GET /metrics: the bearer token, then the daemon's exposition. */
enum MHD_Result web_metrics(struct MHD_Connection *c);
#endif
