/* SPDX-License-Identifier: Apache-2.0 */
/* The target server: listening sockets, the accept thread, worker threads
 * (one kloop each), and the login policy over tgt_config (target lookup with
 * ACLs, discovery authentication, SendTargets).
 *
 * Accepted sockets are handed round-robin to the workers with kloop_post;
 * from then on the worker owns the connection (conn.c). Shutdown asks every
 * session to log out (Async Message, RFC 7143 11.9), waits for the grace
 * period, then closes what remains and joins the threads.
 *
 * Not for: PDU handling (conn.c), session bookkeeping (session.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "target/transport/transport_internal.h"

/* ---- login policy over the configuration ---- */

static bool acl_allows(const struct tgt_target *t, const char *initiator)
{
	if (t->n_acl == 0)
		return true;
	for (int i = 0; i < t->n_acl; i++)
		if (strcasecmp(t->acl[i], initiator) == 0)
			return true;
	return false;
}

static int pol_lookup_target(void *ctx, const char *name, const char *initiator,
			     struct iscsi_target_info *out)
{
	struct conn_policy_ctx *pc = ctx;
	struct tgt_model *m = pc->srv->model;
	const struct tgt_target *t = tgt_model_find_target(m, name);
	if (!t)
		return -ENOENT;
	/* kura-targetctl may swap acl / chap_in now; the arrays we copy pointers
	 * to stay valid until tgt_model_close (tgt_model_set_access retires them). */
	pthread_mutex_lock(&m->live_lock);
	bool ok = acl_allows(t, initiator);
	memset(out, 0, sizeof(*out));
	out->iqn = t->iqn;
	out->alias = t->alias[0] ? t->alias : NULL;
	out->tpgt = pc->portal->tpgt;
	out->chap_in = t->chap_in;
	out->n_chap_in = t->n_chap_in;
	out->chap_out = t->chap_out;
	pthread_mutex_unlock(&m->live_lock);
	return ok ? 0 : -EACCES;
}

static void pol_discovery_auth(void *ctx, struct iscsi_target_info *out)
{
	struct conn_policy_ctx *pc = ctx;
	const struct tgt_config *cfg = pc->srv->cfg;
	memset(out, 0, sizeof(*out));
	out->iqn = "";
	out->tpgt = pc->portal->tpgt;
	out->chap_in = cfg->disc_chap_in;
	out->n_chap_in = cfg->n_disc_chap_in;
	out->chap_out = cfg->disc_chap_out;
}

static bool is_wildcard(const char *addr)
{
	return addr[0] == 0 || strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

/* Append "key=value\0" if it fits whole; false otherwise (RFC 7143 6.1:
 * truncation happens at key boundaries). */
static bool put_kv(char *buf, size_t len, size_t *off, const char *kv)
{
	size_t n = strlen(kv) + 1;
	if (*off + n > len)
		return false;
	memcpy(buf + *off, kv, n);
	*off += n;
	return true;
}

/* TargetAddress=<addr>:<port>,<tpgt> with IPv6 in brackets (RFC 7143 13.8). */
static void format_address(const struct conn_policy_ctx *pc, const struct tgt_portal *p, char *out,
			   size_t len)
{
	const char *addr = p->addr;
	uint16_t port = p->port;
	if (is_wildcard(addr)) {
		addr = pc->local_addr;
		if (p == pc->portal)
			port = pc->local_port;
	}
	bool v6 = strchr(addr, ':') != NULL;
	snprintf(out, len, "TargetAddress=%s%s%s:%u,%u", v6 ? "[" : "", addr, v6 ? "]" : "", port,
		 p->tpgt);
}

static size_t pol_send_targets(void *ctx, const char *initiator, const char *which, bool all,
			       char *buf, size_t len)
{
	struct conn_policy_ctx *pc = ctx;
	struct tgt_model *m = pc->srv->model;
	const struct tgt_config *cfg = m->conf;
	size_t off = 0;
	char kv[512];
	pthread_mutex_lock(&m->live_lock); /* the ACLs may change at run time */
	for (int i = 0; i < m->n_targets; i++) {
		const struct tgt_target *t = &m->targets[i];
		if (!acl_allows(t, initiator) || (!all && strcasecmp(which, t->iqn) != 0))
			continue;
		size_t mark = off;
		snprintf(kv, sizeof(kv), "TargetName=%s", t->iqn);
		bool ok = put_kv(buf, len, &off, kv);
		for (int p = 0; ok && p < cfg->n_portals; p++) {
			format_address(pc, &cfg->portals[p], kv, sizeof(kv));
			ok = put_kv(buf, len, &off, kv);
		}
		if (!ok) {
			off = mark;
			break;
		}
	}
	pthread_mutex_unlock(&m->live_lock);
	return off;
}

int tgt_server_close_revoked(struct tgt_server *srv, const char *iqn)
{
	struct tgt_model *m = srv->model;
	const struct tgt_target *t = tgt_model_find_target(m, iqn);
	if (!t)
		return 0;
	/* lock order: m->live_lock, then the session table's srv->lock */
	pthread_mutex_lock(&m->live_lock);
	int n = session_table_close_if(srv, t, acl_allows);
	pthread_mutex_unlock(&m->live_lock);
	return n;
}

const struct iscsi_login_policy tgt_policy_template = {
	.ctx = NULL,
	.lookup_target = pol_lookup_target,
	.discovery_auth = pol_discovery_auth,
	.send_targets = pol_send_targets,
};

/* ---- workers ---- */

static void *worker_main(void *arg)
{
	struct tgt_worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "kura-w%d", w->idx);
	pthread_setname_np(pthread_self(), name);
	/* The loop is created on its own thread: its io_uring may be single-issuer. */
	struct kloop *l = kloop_new(1024);
	pthread_mutex_lock(&w->start_lock);
	w->loop = l;
	w->start_state = l ? 1 : -(errno ? errno : ENOMEM);
	pthread_cond_signal(&w->start_cond);
	pthread_mutex_unlock(&w->start_lock);
	if (!l)
		return NULL;
	int r = kloop_run(l);
	if (r < 0)
		kerr("worker %d: loop stopped: %s", w->idx, strerror(-r));
	return NULL;
}

static int start_worker(struct tgt_server *s, int i)
{
	struct tgt_worker *w = &s->workers[i];
	w->srv = s;
	w->idx = i;
	/* Adaptive polling is off by default: on a shared 2-core box spinning
	 * steals the CPU the initiator needs. KURA_POLL_US enables it for
	 * dedicated appliances (measured in the transport report). */
	const char *pe = getenv("KURA_POLL_US");
	w->poll_ns = (uint32_t)((pe ? strtoul(pe, NULL, 10) : 0) * 1000);
	pthread_mutex_init(&w->start_lock, NULL);
	pthread_cond_init(&w->start_cond, NULL);
	int r = pthread_create(&w->th, NULL, worker_main, w);
	if (r)
		return -r;
	pthread_mutex_lock(&w->start_lock);
	while (w->start_state == 0)
		pthread_cond_wait(&w->start_cond, &w->start_lock);
	pthread_mutex_unlock(&w->start_lock);
	if (w->start_state < 0) {
		pthread_join(w->th, NULL);
		return w->start_state;
	}
	return 0;
}

/* ---- listeners and the accept thread ---- */

static int bind_portal(const struct tgt_portal *p, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", p->port);
	int r = getaddrinfo(p->addr[0] ? p->addr : NULL, port, &hints, &ai);
	if (r) {
		snprintf(err, errlen, "portal %s:%u: %s", p->addr, p->port, gai_strerror(r));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		snprintf(err, errlen, "portal %s:%u: %s", p->addr, p->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	return fd;
}

struct handoff {
	struct kloop_task t;
	struct tgt_worker *w;
	int fd;
	const struct tgt_portal *portal;
};

static void handoff_run(struct kloop_task *t)
{
	struct handoff *h = (struct handoff *)t;
	if (atomic_load(&h->w->srv->stopping)) {
		close(h->fd);
		atomic_fetch_sub(&h->w->srv->n_conns, 1);
	} else {
		conn_accept(h->w, h->fd, h->portal);
	}
	free(h);
}

static void tune_socket(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void accept_one(struct tgt_server *s, const struct tgt_listener *ls)
{
	int fd = accept4(ls->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			kwarn("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE)
			usleep(10000);
		return;
	}
	if (!limits_accept_ok(s)) {
		close(fd);
		return;
	}
	tune_socket(fd);
	struct handoff *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return;
	}
	h->t.fn = handoff_run;
	h->w = &s->workers[s->next_worker++ % (unsigned)s->n_workers];
	h->fd = fd;
	h->portal = ls->portal;
	atomic_fetch_add(&s->n_conns, 1);
	kloop_post(h->w->loop, &h->t);
}

static void *accept_main(void *arg)
{
	struct tgt_server *s = arg;
	struct pollfd pfd[TGT_MAX_PORTALS + 1];
	pthread_setname_np(pthread_self(), "kura-accept");
	for (int i = 0; i < s->n_listeners; i++)
		pfd[i] = (struct pollfd){ .fd = s->listeners[i].fd, .events = POLLIN };
	pfd[s->n_listeners] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
	while (!atomic_load(&s->stopping)) {
		int n = poll(pfd, (nfds_t)s->n_listeners + 1, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; n > 0 && i < s->n_listeners; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(s, &s->listeners[i]);
	}
	return NULL;
}

/* ---- start / shutdown ---- */

static void stop_workers(struct tgt_server *s)
{
	for (int i = 0; i < s->n_workers; i++) {
		struct tgt_worker *w = &s->workers[i];
		if (w->start_state != 1)
			continue;
		kloop_stop(w->loop);
		pthread_join(w->th, NULL);
		kloop_free(w->loop);
		w->start_state = 0;
	}
}

static void free_server(struct tgt_server *s)
{
	for (int i = 0; i < s->n_listeners; i++)
		close(s->listeners[i].fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->workers);
	free(s);
}

static int start_listeners(struct tgt_server *s, char *err, size_t errlen)
{
	for (int i = 0; i < s->cfg->n_portals; i++) {
		int fd = bind_portal(&s->cfg->portals[i], err, errlen);
		if (fd < 0)
			return fd;
		s->listeners[s->n_listeners++] = (struct tgt_listener){ fd, &s->cfg->portals[i] };
	}
	if (s->n_listeners == 0) {
		snprintf(err, errlen, "no portal configured");
		return -EINVAL;
	}
	return 0;
}

int tgt_server_start(struct tgt_model *m, struct tgt_server **out, char *err, size_t errlen)
{
	const struct tgt_config *cfg = m->conf;
	struct tgt_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->model = m;
	s->cfg = cfg;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&s->lock, NULL);
	s->next_tsih = 1;
	limits_init(s);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->n_workers = cfg->workers > 0 ? cfg->workers : (ncpu > 0 ? (int)ncpu : 1);
	s->workers = calloc((size_t)s->n_workers, sizeof(*s->workers));
	int r = s->workers && s->wake_fd >= 0 ? 0 : -ENOMEM;
	if (r == 0)
		r = start_listeners(s, err, errlen);
	for (int i = 0; r == 0 && i < s->n_workers; i++) {
		r = start_worker(s, i);
		if (r)
			snprintf(err, errlen, "worker %d: %s", i, strerror(-r));
	}
	if (r == 0) {
		r = -pthread_create(&s->accept_th, NULL, accept_main, s);
		s->accept_started = r == 0;
	}
	if (r) {
		if (!err[0])
			snprintf(err, errlen, "server start: %s", strerror(-r));
		if (s->workers)
			stop_workers(s);
		free_server(s);
		return r;
	}
	kinfo("serving %d portal(s) with %d worker(s)", s->n_listeners, s->n_workers);
	*out = s;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wait_until(struct tgt_server *s, bool sessions, unsigned ms)
{
	uint64_t end = mono_ms() + ms;
	while (mono_ms() < end) {
		int n = sessions ? session_table_count(s) : atomic_load(&s->n_conns);
		if (n == 0)
			return;
		usleep(10000);
	}
}

/* ---- grace period (run-time LUN removal, scsi.h) ---- */
struct sync_msg {
	struct kloop_task t;
	struct sync_wait *sw;
};
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int left;
};

static void sync_run(struct kloop_task *t)
{
	struct sync_wait *sw = ((struct sync_msg *)t)->sw;
	pthread_mutex_lock(&sw->lock);
	if (--sw->left == 0)
		pthread_cond_signal(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

int tgt_server_sync_workers(struct tgt_server *s)
{
	if (!s || s->n_workers <= 0)
		return 0;
	struct sync_msg *m = calloc((size_t)s->n_workers, sizeof(*m));
	if (!m)
		return -ENOMEM;
	struct sync_wait sw = { .left = s->n_workers };
	pthread_mutex_init(&sw.lock, NULL);
	pthread_cond_init(&sw.cond, NULL);
	for (int i = 0; i < s->n_workers; i++) {
		m[i] = (struct sync_msg){ .t.fn = sync_run, .sw = &sw };
		kloop_post(s->workers[i].loop, &m[i].t);
	}
	pthread_mutex_lock(&sw.lock);
	while (sw.left)
		pthread_cond_wait(&sw.cond, &sw.lock);
	pthread_mutex_unlock(&sw.lock);
	pthread_cond_destroy(&sw.cond);
	pthread_mutex_destroy(&sw.lock);
	free(m);
	return 0;
}

struct close_all_msg {
	struct kloop_task t;
	struct tgt_worker *w;
};

static void close_all_run(struct kloop_task *t)
{
	struct close_all_msg *m = (struct close_all_msg *)t;
	worker_close_all(m->w);
	free(m);
}

void tgt_server_shutdown(struct tgt_server *s, unsigned grace_ms)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	uint64_t one = 1;
	if (write(s->wake_fd, &one, sizeof(one)) < 0)
		kwarn("shutdown: wake accept thread: %s", strerror(errno));
	if (s->accept_started)
		pthread_join(s->accept_th, NULL);
	/* RFC 7143 11.9.1 AsyncEvent 1: Parameter3 is the time to log out. */
	session_table_request_logout(s, (uint16_t)((grace_ms + 999) / 1000));
	wait_until(s, true, grace_ms);
	for (int i = 0; i < s->n_workers; i++) {
		struct close_all_msg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->t.fn = close_all_run;
		m->w = &s->workers[i];
		kloop_post(m->w->loop, &m->t);
	}
	/* Connections free themselves once their backend I/O has completed. */
	wait_until(s, false, 10000);
	if (atomic_load(&s->n_conns))
		kwarn("shutdown: %d connection(s) still busy", atomic_load(&s->n_conns));
	stop_workers(s);
	free_server(s);
}

/* ---- read-only view of the session table (admin.c) ----
 * Under srv->lock, copy what is immutable once a session is in the table
 * (names, ISID, TSIH, peer, negotiated parameters); in_flight belongs to the
 * session's loop and is read with one relaxed atomic load (a snapshot, may
 * be stale). The callback runs after the lock is dropped. */
int tgt_server_foreach_session(struct tgt_server *srv,
			       void (*cb)(void *arg, const struct tgt_session_info *si), void *arg)
{
	pthread_mutex_lock(&srv->lock);
	int n = 0;
	for (struct session *s = srv->sessions; s; s = s->next)
		n++;
	struct tgt_session_info *v = calloc((size_t)n + 1, sizeof(*v));
	int i = 0;
	for (struct session *s = srv->sessions; v && s && i < n; s = s->next, i++) {
		snprintf(v[i].initiator, sizeof(v[i].initiator), "%s", s->initiator);
		snprintf(v[i].target, sizeof(v[i].target), "%s", s->target);
		snprintf(v[i].peer, sizeof(v[i].peer), "%s", s->peer);
		memcpy(v[i].isid, s->isid, 6);
		v[i].tsih = s->tsih;
		v[i].discovery = s->discovery;
		v[i].params = s->params;
		v[i].in_flight = __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
		v[i].cmds = __atomic_load_n(&s->st_cmds, __ATOMIC_RELAXED);
		v[i].data_in_bytes = __atomic_load_n(&s->st_in_bytes, __ATOMIC_RELAXED);
		v[i].data_out_bytes = __atomic_load_n(&s->st_out_bytes, __ATOMIC_RELAXED);
		v[i].tpgt = s->tpgt;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!v)
		return -ENOMEM;
	for (int k = 0; k < n; k++)
		cb(arg, &v[k]);
	free(v);
	return n;
}

/* ---- counters (issue 14) ---- */
void worker_pstat_add(struct tgt_worker *w, const struct tgt_portal *p, size_t off, int64_t v)
{
	ptrdiff_t i = p - w->srv->cfg->portals;
	if (i < 0 || i >= TGT_MAX_PORTALS)
		return;
	uint64_t *c = (uint64_t *)((char *)&w->pstats[i] + off);
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (uint64_t)v, __ATOMIC_RELAXED);
}

void tgt_server_portal_stats(struct tgt_server *srv, int portal, struct tgt_portal_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *sum = (uint64_t *)out;
	for (int k = 0; portal >= 0 && portal < TGT_MAX_PORTALS && k < srv->n_workers; k++) {
		const uint64_t *w = (const uint64_t *)&srv->workers[k].pstats[portal];
		for (size_t j = 0; j < sizeof(*out) / sizeof(uint64_t); j++)
			sum[j] += __atomic_load_n(&w[j], __ATOMIC_RELAXED);
	}
}

int tgt_server_conn_count(struct tgt_server *srv)
{
	return atomic_load(&srv->n_conns);
}
