/* SPDX-License-Identifier: Apache-2.0 */
/* kura-initiatord's life cycle: build the daemon object from the options,
 * start a path for every node record with node.startup = automatic (and
 * every --login), run the event loop with a 100 ms tick (path checker,
 * no-path queue deadlines), stop on SIGTERM/SIGINT.
 *
 * Start-up never waits for a target: paths log in in the background and
 * keep retrying with exponential backoff (path.c).
 *
 * Not for: option parsing (main_initiatord.c), the control socket
 * (initiatord_ctl.c).
 */
#include "initiator/ctl_proto.h"
#include "initiator/front_ends.h"
#include "common/container.h"
#include "common/log.h"
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <iscsi/iscsi.h>

void ini_opts_defaults(struct ini_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->root, sizeof(o->root), "%s", NODEDB_DEFAULT_ROOT);
	snprintf(o->ctl_sock, sizeof(o->ctl_sock), "%s", KURA_INITIATORD_SOCK);
	o->no_path_retry_ms = 30000;
	o->policy = MPATH_FAILOVER;
	o->failback_immediate = true;
	o->retry_min_ms = 500;
	o->retry_max_ms = 30000;
	o->nop_interval_ms = 500;
	o->nop_timeout_ms = 3000;
	o->cmd_timeout_ms = 30000;
	o->login_timeout_ms = 5000;
}

struct ini_path *ini_find_path(struct ini_daemon *d, const char *target, const char *addr, int port)
{
	for (int i = 0; i < INI_MAX_PATHS; i++) {
		struct ini_path *p = d->paths[i];
		if (p && p->state != PATH_GONE && !strcmp(p->id.target, target) &&
		    !strcmp(p->id.address, addr) && (port <= 0 || p->id.port == port))
			return p;
	}
	return NULL;
}

int ini_add_path(struct ini_daemon *d, struct ini_path *p)
{
	for (int i = 0; i < INI_MAX_PATHS; i++) {
		if (!d->paths[i]) {
			d->paths[i] = p;
			p->sid = ++d->next_sid;
			return 0;
		}
	}
	return -ENOSPC;
}

static void start_path(struct ini_daemon *d, const struct nodedb_node_id *id,
		       const struct nodedb_rec *rec)
{
	if (ini_find_path(d, id->target, id->address, id->port))
		return;
	struct ini_path *p = path_new(d, id, rec, true);
	if (!p || ini_add_path(d, p) < 0) {
		kerr("too many paths: %s %s:%u not started", id->target, id->address, id->port);
		free(p);
		return;
	}
	kinfo("path %d: logging in to %s at %s:%u in the background", p->sid, id->target,
	      id->address, id->port);
	path_start(p);
}

static int node_cb(const struct nodedb_node_id *id, void *arg)
{
	struct ini_daemon *d = arg;
	struct nodedb_rec *rec = NULL;
	if (nodedb_node_load(d->o.root, id, &rec) < 0)
		return 0;
	const char *st = nodedb_get(rec, "node.startup");
	const char *cst = nodedb_get(rec, "node.conn[0].startup");
	if ((st && !strcasecmp(st, "automatic")) || (cst && !strcasecmp(cst, "automatic")))
		start_path(d, id, rec);
	nodedb_rec_free(rec);
	return 0;
}

/* "ADDR:PORT,IQN" ([v6]:PORT allowed). */
static int parse_extra(const char *s, struct nodedb_node_id *id)
{
	memset(id, 0, sizeof(*id));
	const char *comma = strchr(s, ',');
	if (!comma)
		return -EINVAL;
	char hp[64];
	if (comma - s >= (ptrdiff_t)sizeof(hp))
		return -EINVAL;
	memcpy(hp, s, (size_t)(comma - s));
	hp[comma - s] = 0;
	char *colon = strrchr(hp, ':');
	if (!colon)
		return -EINVAL;
	*colon = 0;
	char *a = hp;
	if (*a == '[') {
		a++;
		a[strcspn(a, "]")] = 0;
	}
	snprintf(id->address, sizeof(id->address), "%s", a);
	id->port = (uint16_t)atoi(colon + 1);
	snprintf(id->target, sizeof(id->target), "%s", comma + 1);
	id->tpgt = -1;
	snprintf(id->iface, sizeof(id->iface), "default");
	return id->port ? 0 : -EINVAL;
}

static void start_all(struct ini_daemon *d)
{
	int rc = nodedb_node_foreach(d->o.root, NULL, NULL, 0, node_cb, d);
	if (rc < 0 && rc != -ENOENT)
		kwarn("node DB %s: %s", d->o.root, strerror(-rc));
	for (int i = 0; i < d->o.n_extra; i++) {
		struct nodedb_node_id id;
		if (parse_extra(d->o.extra[i], &id) < 0) {
			kerr("--login %s: expected ADDR:PORT,IQN", d->o.extra[i]);
			continue;
		}
		struct nodedb_rec *rec = NULL;
		nodedb_node_load(d->o.root, &id, &rec); /* CHAP from the DB if a record exists */
		start_path(d, &id, rec);
		if (rec)
			nodedb_rec_free(rec);
	}
}

static void tick_fn(struct kloop_timer *t)
{
	struct ini_daemon *d = container_of(t, struct ini_daemon, tick);
	uint64_t now = kloop_now_ms(d->loop);
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (d->paths[i])
			path_tick(d->paths[i], now);
	mpath_tick(d, now);
}

static void sig_event(struct kloop_fd *h, uint32_t ev)
{
	struct ini_daemon *d = container_of(h, struct ini_daemon, sig_kfd);
	struct signalfd_siginfo si;
	if (read(d->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		kinfo("signal %u: shutting down", si.ssi_signo);
		kloop_stop(d->loop);
	}
}

static int setup_signals(struct ini_daemon *d)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts: inherited */
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sig_fd < 0)
		return -errno;
	d->sig_kfd.fn = sig_event;
	return kloop_add_fd(d->loop, d->sig_fd, EPOLLIN, &d->sig_kfd);
}

static void resolve_name(struct ini_daemon *d)
{
	if (d->o.initiator_name[0])
		return;
	if (nodedb_initiator_name(d->o.root, d->o.initiator_name, sizeof(d->o.initiator_name)) ==
		    0 &&
	    d->o.initiator_name[0])
		return;
	char host[64] = "localhost";
	gethostname(host, sizeof(host) - 1);
	snprintf(d->o.initiator_name, sizeof(d->o.initiator_name),
		 "iqn.2026-11.org.kura:initiator:%s", host);
	kwarn("no %s/initiatorname.iscsi: using %s", d->o.root, d->o.initiator_name);
}

static int start_front_ends(struct ini_daemon *d)
{
	int rc = 0;
	if (d->o.fuse_dir[0] && (rc = fuse_front_start(d)) < 0)
		return rc;
	if (d->o.nbd_dir[0] && (rc = nbd_server_start(d)) < 0)
		return rc;
	if ((rc = stable_names_start(d)) < 0)
		return rc;
	if (d->o.ublk)
		ublk_probe(d);
	return 0;
}

int ini_daemon_run(const struct ini_opts *o)
{
	struct ini_daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o = *o;
	d->ctl_fd = d->sig_fd = -1;
	pthread_mutex_init(&d->lus_mu, NULL);
	int rc = -ENOMEM;
	if (!(d->loop = kloop_new(64)))
		goto out;
	resolve_name(d);
	if ((rc = setup_signals(d)) < 0 || (rc = ctl_start(d)) < 0 ||
	    (rc = start_front_ends(d)) < 0)
		goto out;
	d->started_ms = kloop_now_ms(d->loop);
	d->tick.fn = tick_fn;
	kloop_timer_start(d->loop, &d->tick, 100);
	kinfo("kura-initiatord: initiator %s, control socket %s", d->o.initiator_name,
	      d->o.ctl_sock);
	start_all(d);
	rc = kloop_run(d->loop);
	kinfo("kura-initiatord: stopping");
out:
	ini_daemon_free(d);
	return rc;
}

/* Order matters: destroying a context hands its I/O back to the LU queues,
 * which are failed while the front ends can still reply; then the front
 * ends stop (their threads joined) and only then the LUs go. */
void ini_daemon_free(struct ini_daemon *d)
{
	ctl_stop(d);
	for (int i = 0; i < INI_MAX_PATHS; i++) {
		struct ini_path *p = d->paths[i];
		if (p && p->iscsi) {
			p->state = PATH_GONE;
			iscsi_destroy_context(p->iscsi); /* I/O callbacks: CANCELLED, requeued */
			p->iscsi = NULL;
		}
	}
	for (int i = 0; i < d->n_lus; i++) {
		struct ini_lu *lu = d->lus[i];
		while (lu->qhead) {
			struct ini_io *io = lu->qhead;
			lu->qhead = io->next;
			free(io->zbuf);
			io->done(io, -EIO);
		}
	}
	stable_names_stop(d);
	fuse_front_stop(d);
	nbd_server_stop(d);
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (d->paths[i])
			path_free(d->paths[i]);
	for (int i = 0; i < d->n_lus; i++)
		free(d->lus[i]);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->loop)
		kloop_free(d->loop);
	pthread_mutex_destroy(&d->lus_mu);
	free(d);
}
