/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket of kura-initiatord (protocol in initiator/ctl_proto.h):
 * a Unix stream socket, mode 0600, peers checked with SO_PEERCRED (root or
 * our own uid). One request per line, percent-encoded arguments; replies
 * are "D <payload>" lines then "OK" or "ERR <code> <message>".
 *
 * Runs on the event loop thread; sockets are non-blocking and replies are
 * buffered, so a client that stops reading cannot stall the daemon. LOGIN
 * holds its reply until the path's first login succeeds or fails.
 *
 * Not for: the client side (ctl_client.c belongs to kura-iscsiadm).
 */
#include "initiator/initiatord_internal.h"
#include "initiator/ctl_proto.h"
#include "common/container.h"
#include "common/fileutil.h"
#include "common/log.h"
#include "common/unixsock.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_ARGS  8
#define CTL_MAX_CONNS 32

struct ctl_conn {
	struct ini_daemon *d;
	int fd;
	struct kloop_fd kfd;
	char in[4096];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	bool pending;             /* LOGIN reply outstanding */
	struct path_waiter login; /* the path's first login answers it */
	struct ctl_hold *hold;    /* a verb in another file answers later */
	bool closing;
};

/* The daemon's open control connections (hung off ini_daemon.ctl_priv). */
struct ctl_set {
	struct ctl_conn *c[CTL_MAX_CONNS];
};

static struct ctl_set *ctl_set_of(struct ini_daemon *d)
{
	return (struct ctl_set *)d->ctl_priv;
}

static void out_add(struct ctl_conn *c, const char *s, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t cap = (c->outlen + n) * 2 + 256;
		char *o = realloc(c->out, cap);
		if (!o)
			return;
		c->out = o;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void out_line(struct ctl_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_line(struct ctl_conn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	out_add(c, buf, (size_t)n);
}

/* "D " + percent-encoded payload (spaces between key=value pairs stay
 * encoded as %20 so one payload is one token). */
static void out_data(struct ctl_conn *c, const char *payload)
{
	char enc[4096];
	size_t n = 0;
	for (const char *s = payload; *s && n + 4 < sizeof(enc); s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || strchr("-._~", ch))
			enc[n++] = (char)ch;
		else
			n += (size_t)snprintf(enc + n, sizeof(enc) - n, "%%%02X", ch);
	}
	enc[n] = 0;
	out_line(c, "D %s", enc);
}

/* ---- for verbs in other files (initiatord_internal.h) --------------------- */

static void conn_flush(struct ctl_conn *c);

struct ini_daemon *ctl_daemon(struct ctl_conn *c)
{
	return c->d;
}

void ctl_hold(struct ctl_conn *c, struct ctl_hold *h)
{
	c->pending = true;
	c->hold = h;
}

void ctl_data(struct ctl_conn *c, const char *payload)
{
	out_data(c, payload);
}

void ctl_end(struct ctl_conn *c, int code, const char *msg)
{
	if (code)
		out_line(c, "ERR %d %s", code, msg && *msg ? msg : "failed");
	else
		out_line(c, "OK");
	if (c->hold) {
		c->hold = NULL;
		c->pending = false;
		conn_flush(c);
	}
}

static void conn_close(struct ctl_conn *c)
{
	struct ini_daemon *d = c->d;
	struct ctl_set *set = ctl_set_of(d);
	if (c->hold)
		c->hold->gone(c->hold);
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (d->paths[i] && d->paths[i]->waiter == &c->login)
			d->paths[i]->waiter = NULL;
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (set->c[i] == c)
			set->c[i] = NULL;
	kloop_del_fd(d->loop, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

static void conn_flush(struct ctl_conn *c)
{
	while (c->outlen) {
		ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w <= 0) {
			if (w < 0 && errno == EAGAIN)
				break;
			c->outlen = 0;
			c->closing = true;
			break;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
	kloop_mod_fd(c->d->loop, c->fd, EPOLLIN | (c->outlen ? EPOLLOUT : 0), &c->kfd);
}

static int unhex(int ch)
{
	return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

static void pct_decode(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '%' && unhex(r[1]) >= 0 && unhex(r[2]) >= 0) {
			*w++ = (char)(unhex(r[1]) * 16 + unhex(r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

static int split_args(char *line, char **argv)
{
	int n = 0;
	for (char *tok = strtok(line, " \t\r"); tok && n < CTL_MAX_ARGS;
	     tok = strtok(NULL, " \t\r")) {
		pct_decode(tok);
		argv[n++] = tok;
	}
	return n;
}

/* ---- verbs ---------------------------------------------------------------- */

static void path_luns(const struct ini_path *p, char *lu, size_t lulen, char *dev, size_t devlen,
		      char *luns, size_t lnlen)
{
	size_t a = 0, b = 0, c = 0;
	lu[0] = dev[0] = luns[0] = 0;
	for (int i = 0; i < p->n_luns; i++) {
		const struct ini_lu *l = p->luns[i].lu;
		a += (size_t)snprintf(lu + a, a < lulen ? lulen - a : 0, "%s%s", i ? "," : "",
				      l->wwid);
		b += (size_t)snprintf(dev + b, b < devlen ? devlen - b : 0, "%s%s", i ? "," : "",
				      l->device[0] ? l->device : "-");
		c += (size_t)snprintf(luns + c, c < lnlen ? lnlen - c : 0, "%s%d", i ? "," : "",
				      p->luns[i].lun);
	}
}

uint32_t path_isid_rnd(const struct ini_path *p);

static int path_group(const struct ini_path *p)
{
	return p->n_luns && p->luns[0].tpg >= 0 ? p->luns[0].tpg : 0;
}

static void fmt_path(const struct ini_path *p, char *buf, size_t len)
{
	char lu[512], dev[1024], luns[128];
	path_luns(p, lu, sizeof(lu), dev, sizeof(dev), luns, sizeof(luns));
	snprintf(
		buf, len,
		"sid=%d target=%s address=%s port=%u tpgt=%d iface=%s state=%s isid=80%06x%04x lun=%s lu=%s device=%s "
		"group=%d alua=%d active=%s admin=%s",
		p->sid, p->id.target, p->id.address, p->id.port, p->id.tpgt,
		p->id.iface[0] ? p->id.iface : "default", path_state_name(p->state),
		path_isid_rnd(p), p->sid & 0xffff, luns[0] ? luns : "-", lu[0] ? lu : "-",
		dev[0] ? dev : "-", path_group(p), p->n_luns ? p->luns[0].alua_state : -1,
		mpath_path_active(p) ? "yes" : "no", p->admin_failed ? "failed" : "ok");
}

static void verb_sessions(struct ctl_conn *c, int argc, char **argv)
{
	char buf[2048];
	for (int i = 0; i < INI_MAX_PATHS; i++) {
		const struct ini_path *p = c->d->paths[i];
		if (!p || p->state == PATH_GONE)
			continue;
		fmt_path(p, buf, sizeof(buf));
		out_data(c, buf);
	}
	out_line(c, "OK");
}

static struct ini_path *path_by_sid(struct ini_daemon *d, int sid)
{
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (d->paths[i] && d->paths[i]->sid == sid && d->paths[i]->state != PATH_GONE)
			return d->paths[i];
	return NULL;
}

static void session_details(struct ctl_conn *c, const struct ini_path *p)
{
	char buf[2048];
	uint64_t now = kloop_now_ms(c->d->loop);
	fmt_path(p, buf, sizeof(buf));
	out_data(c, buf);
	snprintf(buf, sizeof(buf),
		 "auth=%s mutual=%s pr_key=%s inflight=%d failures=%u up_for_ms=%llu last_error=%s",
		 p->user[0] ? "CHAP" : "None", p->user_in[0] ? "yes" : "no",
		 p->pr_key ? "set" : "none", p->n_inflight, p->failures,
		 (unsigned long long)(p->state == PATH_UP ? now - p->up_since_ms : 0),
		 p->last_error[0] ? p->last_error : "-");
	out_data(c, buf);
	path_info_format(p, buf, sizeof(buf));
	out_data(c, buf);
	for (int i = 0; i < p->n_luns; i++) {
		const struct ini_lu *lu = p->luns[i].lu;
		snprintf(
			buf, sizeof(buf),
			"lun=%d lu=%s alias=%s size=%llu block_size=%u device=%s paths=%d queued=%d",
			p->luns[i].lun, lu->wwid, lu->alias,
			(unsigned long long)(lu->blocks * lu->block_size), lu->block_size,
			lu->device[0] ? lu->device : "-", lu->n_paths, lu->n_queued);
		out_data(c, buf);
	}
}

static void verb_session(struct ctl_conn *c, int argc, char **argv)
{
	struct ini_path *p = argc > 1 ? path_by_sid(c->d, atoi(argv[1])) : NULL;
	if (!p) {
		out_line(c, "ERR 2 no such session");
		return;
	}
	session_details(c, p);
	out_line(c, "OK");
}

static void verb_status(struct ctl_conn *c, int argc, char **argv)
{
	struct ini_daemon *d = c->d;
	char buf[2048];
	int up = 0, n = 0;
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (d->paths[i] && d->paths[i]->state != PATH_GONE) {
			n++;
			up += d->paths[i]->state == PATH_UP;
		}
	snprintf(
		buf, sizeof(buf),
		"initiator=%s paths=%d paths_up=%d lus=%d policy=%s failback=%s no_path_retry_s=%llu fuse=%s nbd=%s "
		"uptime_ms=%llu",
		d->o.initiator_name, n, up, d->n_lus,
		d->o.policy == MPATH_ROUND_ROBIN ? "round-robin" : "failover",
		d->o.failback_immediate ? "immediate" : "manual",
		(unsigned long long)(d->o.no_path_retry_ms / 1000),
		d->o.fuse_dir[0] ? d->o.fuse_dir : "-", d->o.nbd_dir[0] ? d->o.nbd_dir : "-",
		(unsigned long long)(kloop_now_ms(d->loop) - d->started_ms));
	out_data(c, buf);
	for (int i = 0; i < d->n_lus; i++) {
		const struct ini_lu *lu = d->lus[i];
		int pu = 0;
		for (int k = 0; k < lu->n_paths; k++)
			pu += lu->paths[k].p->state == PATH_UP;
		snprintf(
			buf, sizeof(buf),
			"lu=%s alias=%s size=%llu paths=%d paths_up=%d queued=%d failing=%d io=%llu retries=%llu "
			"failovers=%llu device=%s",
			lu->wwid, lu->alias, (unsigned long long)(lu->blocks * lu->block_size),
			lu->n_paths, pu, lu->n_queued, lu->q.failing, (unsigned long long)lu->n_io,
			(unsigned long long)lu->n_retries, (unsigned long long)lu->n_failovers,
			lu->device[0] ? lu->device : "-");
		out_data(c, buf);
	}
	out_line(c, "OK");
}

static void verb_rescan(struct ctl_conn *c, int argc, char **argv)
{
	bool all = argc < 2 || !strcmp(argv[1], "all");
	int sid = all ? 0 : atoi(argv[1]), n = 0;
	for (int i = 0; i < INI_MAX_PATHS; i++) {
		struct ini_path *p = c->d->paths[i];
		if (p && (all || p->sid == sid)) {
			path_rescan(p);
			n++;
		}
	}
	out_line(c, n || all ? "OK" : "ERR 2 no such session");
}

static void verb_fail_queue(struct ctl_conn *c, int argc, char **argv)
{
	bool all = argc < 2 || !strcmp(argv[1], "all");
	int n = 0, failed = 0;
	for (int i = 0; i < c->d->n_lus; i++) {
		struct ini_lu *lu = c->d->lus[i];
		if (all || !strcmp(argv[1], lu->wwid) || !strcmp(argv[1], lu->alias)) {
			failed += mpath_fail_queue(lu);
			n++;
		}
	}
	if (!n && !all) {
		out_line(c, "ERR 21 no such LU");
		return;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "failed=%d", failed);
	out_data(c, buf);
	out_line(c, "OK");
}

static void emit_data(void *arg, const char *line)
{
	out_data(arg, line);
}

static void verb_maps(struct ctl_conn *c, int argc, char **argv)
{
	mpath_report_maps(c->d, emit_data, c);
	out_line(c, "OK");
}

/* PATH-FAIL / PATH-REINSTATE <sid> */
static void path_admin(struct ctl_conn *c, int argc, char **argv, bool failed)
{
	struct ini_path *p = argc > 1 ? path_by_sid(c->d, atoi(argv[1])) : NULL;
	if (!p) {
		out_line(c, "ERR 21 no such path");
		return;
	}
	mpath_admin_fail(p, failed);
	out_line(c, "OK");
}

static void verb_path_fail(struct ctl_conn *c, int argc, char **argv)
{
	path_admin(c, argc, argv, true);
}

static void verb_path_reinstate(struct ctl_conn *c, int argc, char **argv)
{
	path_admin(c, argc, argv, false);
}

static void verb_logout(struct ctl_conn *c, int argc, char **argv)
{
	struct ini_path *p =
		argc >= 3 ? ini_find_path(c->d, argv[1], argv[2], argc > 3 ? atoi(argv[3]) : 0)
			  : NULL;
	if (!p) {
		out_line(c, "ERR 21 no matching sessions found");
		return;
	}
	path_logout(p);
	out_line(c, "OK");
}

static void login_result(struct path_waiter *w, int err, const char *msg)
{
	struct ctl_conn *c = container_of(w, struct ctl_conn, login);
	if (!c->pending)
		return;
	c->pending = false;
	if (err)
		out_line(c, "ERR %d %s", err, msg && *msg ? msg : "login failed");
	else
		out_line(c, "OK");
	conn_flush(c);
}

static int login_new_path(struct ctl_conn *c, const struct nodedb_node_id *id, const char *root)
{
	struct nodedb_rec *rec = NULL;
	int rc = nodedb_node_load(root, id, &rec);
	if (rc < 0) {
		out_line(c, "ERR 21 no records found (%s)", strerror(-rc));
		return rc;
	}
	struct ini_path *p = path_new(c->d, id, rec, false);
	nodedb_rec_free(rec);
	if (!p || ini_add_path(c->d, p) < 0) {
		free(p);
		out_line(c, "ERR 3 too many sessions");
		return -ENOSPC;
	}
	c->pending = true;
	c->login.fn = login_result;
	p->waiter = &c->login;
	kinfo("path %d: LOGIN %s %s:%u", p->sid, id->target, id->address, id->port);
	path_start(p);
	return 0;
}

static void verb_login(struct ctl_conn *c, int argc, char **argv)
{
	if (argc < 7) {
		out_line(c, "ERR 7 usage: LOGIN root target address port tpgt iface");
		return;
	}
	struct nodedb_node_id id = { .port = (uint16_t)atoi(argv[4]), .tpgt = atoi(argv[5]) };
	snprintf(id.target, sizeof(id.target), "%s", argv[2]);
	snprintf(id.address, sizeof(id.address), "%s", argv[3]);
	snprintf(id.iface, sizeof(id.iface), "%s", argv[6]);
	struct ini_path *p = ini_find_path(c->d, id.target, id.address, id.port);
	if (p && p->state == PATH_UP) {
		out_line(c, "ERR 15 session exists");
		return;
	}
	if (p) { /* automatic node still trying: wait for its next attempt */
		c->pending = true;
		c->login.fn = login_result;
		p->waiter = &c->login;
		return;
	}
	login_new_path(c, &id, argv[1]);
}

static void handle_line(struct ctl_conn *c, char *line)
{
	char *argv[CTL_MAX_ARGS];
	int argc = split_args(line, argv);
	if (!argc)
		return;
	static const struct {
		const char *verb;
		void (*fn)(struct ctl_conn *, int, char **);
	} verbs[] = {
		{ "LOGIN", verb_login },         { "LOGOUT", verb_logout },
		{ "SESSIONS", verb_sessions },   { "SESSION", verb_session },
		{ "RESCAN", verb_rescan },       { "FAIL-QUEUE", verb_fail_queue },
		{ "STATUS", verb_status },       { "MAPS", verb_maps },
		{ "PATH-FAIL", verb_path_fail }, { "PATH-REINSTATE", verb_path_reinstate },
		{ "PR", ctl_verb_pr },
	};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strcasecmp(argv[0], verbs[i].verb)) {
			verbs[i].fn(c, argc, argv);
			return;
		}
	}
	out_line(c, "ERR 16 unknown verb");
}

static void conn_read(struct ctl_conn *c)
{
	ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		c->closing = true;
		return;
	}
	if (r < 0)
		return;
	c->inlen += (size_t)r;
	char *nl;
	while (!c->pending && (nl = memchr(c->in, '\n', c->inlen))) {
		*nl = 0;
		handle_line(c, c->in);
		size_t used = (size_t)(nl + 1 - c->in);
		memmove(c->in, nl + 1, c->inlen - used);
		c->inlen -= used;
	}
	if (c->inlen >= sizeof(c->in) - 1) {
		out_line(c, "ERR 7 line too long");
		c->inlen = 0;
	}
}

static void conn_event(struct kloop_fd *h, uint32_t ev)
{
	struct ctl_conn *c = container_of(h, struct ctl_conn, kfd);
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	conn_flush(c);
	if (c->closing && !c->outlen)
		conn_close(c);
}

static void accept_event(struct kloop_fd *h, uint32_t ev)
{
	struct ini_daemon *d = container_of(h, struct ini_daemon, ctl_kfd);
	int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ctl_set *set = ctl_set_of(d);
	int slot = -1;
	for (int i = 0; i < CTL_MAX_CONNS && slot < 0; i++)
		if (!set->c[i])
			slot = i;
	struct ctl_conn *c = slot >= 0 && kunix_peer_allowed(fd) ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		kwarn("control socket: connection refused (peer not allowed or too many clients)");
		close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	c->kfd.fn = conn_event;
	set->c[slot] = c;
	kloop_add_fd(d->loop, fd, EPOLLIN, &c->kfd);
}

int ctl_start(struct ini_daemon *d)
{
	if (!(d->ctl_priv = calloc(1, sizeof(struct ctl_set))))
		return -ENOMEM;
	int rc = kfile_mkdir_parent(d->o.ctl_sock);
	if (rc < 0)
		return rc;
	d->ctl_fd = kunix_listen(d->o.ctl_sock, 16, true);
	if (d->ctl_fd < 0) {
		rc = d->ctl_fd;
		kerr("control socket %s: %s", d->o.ctl_sock, strerror(-rc));
		return rc;
	}
	d->ctl_kfd.fn = accept_event;
	return kloop_add_fd(d->loop, d->ctl_fd, EPOLLIN, &d->ctl_kfd);
}

void ctl_stop(struct ini_daemon *d)
{
	struct ctl_set *set = ctl_set_of(d);
	if (set)
		for (int i = 0; i < CTL_MAX_CONNS; i++)
			if (set->c[i])
				conn_close(set->c[i]);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->o.ctl_sock);
		d->ctl_fd = -1;
	}
	free(set);
	d->ctl_priv = NULL;
}
