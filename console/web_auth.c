/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console's logins and sessions.
 *
 * Login: the form carries a token that must equal the kura_login cookie
 * set with the page (double submit: another site can neither read the
 * cookie nor send it, SameSite=Strict). Wrong passwords are counted per
 * client address: from the fifth failure on, a further attempt is refused
 * (429, Retry-After) until 2^(failures-4) seconds (at most 5 minutes) have
 * passed since the last one; a success clears the count.
 * Sessions: 32 random bytes in the kura_session cookie (HttpOnly; Secure;
 * SameSite=Strict), each with its own CSRF token that every POST must
 * carry; idle sessions end after an hour. At most WEB_SESSIONS sessions:
 * the oldest goes first. Every login, failure and logout is logged with
 * the user and the client's address.
 *
 * Not for: what a session may do (web.c, web_api.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "console/web.h"

#define WEB_SESSIONS   64
#define WEB_FAIL_SLOTS 256
#define SESSION_IDLE_S 3600
#define FAIL_FREE      4   /* failures before the delay starts */
#define FAIL_DELAY_MAX 300 /* seconds */

struct slot {
	struct web_session s;
	time_t used;
};
struct fail {
	char addr[64];
	unsigned n;
	time_t last;
};

static struct {
	pthread_mutex_t lock;
	const struct console_cfg *cfg;
	struct slot s[WEB_SESSIONS];
	struct fail f[WEB_FAIL_SLOTS];
} A = { .lock = PTHREAD_MUTEX_INITIALIZER };

void web_auth_init(const struct console_cfg *cfg)
{
	A.cfg = cfg;
}

static time_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

bool web_session_of(struct MHD_Connection *c, struct web_session *out)
{
	const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kura_session");
	bool found = false;
	if (!id || strlen(id) != 64)
		return false;
	pthread_mutex_lock(&A.lock);
	for (int i = 0; i < WEB_SESSIONS && !found; i++) {
		struct slot *sl = &A.s[i];
		if (!sl->s.id[0] || !secret_equal(sl->s.id, id))
			continue;
		if (now() - sl->used > SESSION_IDLE_S) {
			explicit_bzero(sl, sizeof(*sl));
			break;
		}
		sl->used = now();
		*out = sl->s;
		found = true;
	}
	pthread_mutex_unlock(&A.lock);
	return found;
}

bool web_csrf_ok(const struct web_session *s, const struct web_req *r)
{
	const char *t = web_field(r, "csrf");
	return t && secret_equal(s->csrf, t);
}

/* A new session for user: the oldest slot is reused when all are taken. */
static bool session_new(const char *user, struct web_session *out)
{
	struct slot n = { .used = now() };
	snprintf(n.s.user, sizeof(n.s.user), "%s", user);
	if (random_hex(n.s.id, 32) < 0 || random_hex(n.s.csrf, 32) < 0)
		return false;
	pthread_mutex_lock(&A.lock);
	int pick = 0;
	for (int i = 0; i < WEB_SESSIONS; i++)
		if (!A.s[i].s.id[0] || A.s[i].used < A.s[pick].used)
			pick = i;
	A.s[pick] = n;
	pthread_mutex_unlock(&A.lock);
	*out = n.s;
	explicit_bzero(&n, sizeof(n));
	return true;
}

/* ---- the login rate limit ---- */
static struct fail *fail_slot(const char *addr, bool make)
{
	struct fail *oldest = &A.f[0];
	for (int i = 0; i < WEB_FAIL_SLOTS; i++) {
		if (!strcmp(A.f[i].addr, addr))
			return &A.f[i];
		if (A.f[i].last < oldest->last)
			oldest = &A.f[i];
	}
	if (!make)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

/* Seconds the client must still wait before its next attempt (0: go). */
static long login_wait(const char *addr)
{
	pthread_mutex_lock(&A.lock);
	struct fail *f = fail_slot(addr, false);
	long wait = 0;
	if (f && f->n >= FAIL_FREE + 1) {
		unsigned e = f->n - FAIL_FREE;
		long delay = e >= 9 ? FAIL_DELAY_MAX : 1L << e;
		delay = delay > FAIL_DELAY_MAX ? FAIL_DELAY_MAX : delay;
		wait = f->last + delay - now();
	}
	pthread_mutex_unlock(&A.lock);
	return wait > 0 ? wait : 0;
}

static void login_result(const char *addr, bool ok)
{
	pthread_mutex_lock(&A.lock);
	struct fail *f = fail_slot(addr, !ok);
	if (f && ok)
		memset(f, 0, sizeof(*f));
	else if (f) {
		f->n++;
		f->last = now();
	}
	pthread_mutex_unlock(&A.lock);
}

/* ---- pages ---- */
/* login.html with {{csrf}} and {{msg}} filled in. */
static char *login_html(const char *token, const char *msg)
{
	const struct console_file *f = web_file("/login.html");
	char *buf = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&buf, &n);
	if (!o || !f)
		return NULL;
	const char *p = (const char *)f->data, *end = p + f->len;
	while (p < end) {
		const char *t = memmem(p, (size_t)(end - p), "{{", 2);
		size_t lit = t ? (size_t)(t - p) : (size_t)(end - p);
		fwrite(p, 1, lit, o);
		if (!t)
			break;
		bool is_csrf = !strncmp(t, "{{csrf}}", 8);
		fputs(is_csrf ? token : msg ? msg : "", o);
		p = t + (is_csrf ? 8 : !strncmp(t, "{{msg}}", 7) ? 7 : 2);
	}
	fclose(o);
	return buf;
}

enum MHD_Result web_login_page(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char token[65], cookie[160];
	if (random_hex(token, 32) < 0)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie),
		 "kura_login=%s; HttpOnly; Secure; SameSite=Strict; Path=/login", token);
	char *html = login_html(token, msg);
	if (!html)
		return MHD_NO;
	enum MHD_Result r =
		web_send(c, status, "text/html; charset=utf-8", html, strlen(html), cookie, NULL);
	free(html);
	return r;
}

static enum MHD_Result login_ok(struct MHD_Connection *c, const char *user, const char *addr)
{
	struct web_session s;
	char cookie[200];
	if (!session_new(user, &s))
		return web_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no random bytes");
	kinfo("console: user %s logged in from %s", user, addr);
	snprintf(cookie, sizeof(cookie),
		 "kura_session=%s; HttpOnly; Secure; SameSite=Strict; Path=/", s.id);
	explicit_bzero(&s, sizeof(s));
	enum MHD_Result r = web_send(c, MHD_HTTP_SEE_OTHER, "text/plain", "", 0, cookie, "/");
	explicit_bzero(cookie, sizeof(cookie));
	return r;
}

enum MHD_Result web_login(struct MHD_Connection *c, struct web_req *r)
{
	const char *want = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kura_login");
	const char *got = web_field(r, "csrf"), *user = web_field(r, "user");
	const char *pw = web_field(r, "password");
	if (!want || !got || !secret_equal(want, got))
		return web_login_page(c, MHD_HTTP_FORBIDDEN, "The form expired: try again.");
	long wait = login_wait(r->addr);
	if (wait) {
		kwarn("console: login from %s refused: %ld s left after failures", r->addr, wait);
		return web_login_page(c, MHD_HTTP_TOO_MANY_REQUESTS,
				      "Too many failed logins: wait a minute.");
	}
	bool ok = user && pw && users_check(A.cfg->users, user, pw);
	login_result(r->addr, ok);
	if (ok)
		return login_ok(c, user, r->addr);
	kwarn("console: failed login for %s from %s",
	      user && users_name_ok(user) ? user : "(bad name)", r->addr);
	return web_login_page(c, MHD_HTTP_UNAUTHORIZED, "Wrong user name or password.");
}

enum MHD_Result web_logout(struct MHD_Connection *c, struct web_req *r)
{
	const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kura_session");
	pthread_mutex_lock(&A.lock);
	for (int i = 0; id && i < WEB_SESSIONS; i++)
		if (A.s[i].s.id[0] && secret_equal(A.s[i].s.id, id)) {
			kinfo("console: user %s logged out from %s", A.s[i].s.user, r->addr);
			explicit_bzero(&A.s[i], sizeof(A.s[i]));
		}
	pthread_mutex_unlock(&A.lock);
	return web_send(c, MHD_HTTP_SEE_OTHER, "text/plain", "", 0,
			"kura_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
			"/login");
}
