/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd: the per-host cluster lock daemon (issue 10).
 *
 *   kura-lockd -c FILE --host NAME [--socket PATH] [--state-dir DIR]
 *              [--foreground] [--log-level LEVEL]
 *
 * Start-up: read the configuration, open two handles on the HA LUN (one for
 * the heartbeat thread, one for fences and leases), join (new incarnation
 * and key), open the VM-disk LUNs, start the heartbeat thread and the
 * control socket. The main loop then waits on the control socket, the
 * heartbeat thread's eventfd, every QEMU pidfd and SIGTERM/SIGINT; after
 * each heartbeat round it runs the HA decisions (lockd_ha.c).
 * On SIGTERM: QEMUs are killed (they die with the daemon anyway, see
 * lock_qemu.h), the slot is left as is (an orderly leave is `drain`).
 *
 * Not for: the library (lock.h), the CLI (lockctl.c).
 */
#include "cluster-lock/lockd.h"
#include "common/fileutil.h"
#include "common/log.h"
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t lockd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

int lockd_fail(FILE *out, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(out, "ERR %d ", code);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	return code;
}

int lockd_err_code(int err)
{
	switch (err) {
	case LOCK_E_CONFLICT:
	case LOCK_E_MISCOMPARE:
	case LOCK_E_FENCED:
	case LOCK_E_INUSE:
	case LOCK_E_RESV_CONFLICT: return LOCKD_EX_CONFLICT;
	case LOCK_E_NOTFOUND: return LOCKD_EX_NOENT;
	case LOCK_E_UNREACHABLE:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ENOTCONN:
	case -EHOSTUNREACH:
	case -EIO: return LOCKD_EX_UNREACHABLE;
	default: return LOCKD_EX_USAGE;
	}
}

struct opts {
	const char *conf, *host, *socket, *state_dir;
	bool foreground;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kura-lockd -c FILE --host NAME [--socket PATH] [--state-dir DIR]\n"
		"                  [--foreground] [--log-level err|warn|info|debug]\n"
		"Runs this host's part of the kura cluster lock: heartbeat on the HA LUN,\n"
		"fencing of dead peers, HA restart, the VMs it owns (docs/cluster-lock.md).\n"
		"Exit status: 0 stopped cleanly, 1 usage or configuration error, 2 no such\n"
		"host in FILE, 3 the host id is alive elsewhere or cannot join now, 4 HA LUN\n"
		"unreachable (kura-lockctl's codes).\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = { { "config", required_argument, NULL, 'c' },
					    { "host", required_argument, NULL, 'H' },
					    { "socket", required_argument, NULL, 's' },
					    { "state-dir", required_argument, NULL, 'd' },
					    { "foreground", no_argument, NULL, 'f' },
					    { "log-level", required_argument, NULL, 'l' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	enum klog_level lvl;
	int c;
	while ((c = getopt_long(argc, argv, "c:H:s:d:fl:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 'H': o->host = optarg; break;
		case 's': o->socket = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'f': o->foreground = true; break;
		case 'l':
			if (klog_parse_level(optarg, &lvl) < 0)
				return -EINVAL;
			klog_set_level(lvl);
			break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	return o->conf && o->host && optind == argc ? 0 : -EINVAL;
}

static void set_paths(struct lockd *d, const struct opts *o)
{
	const struct lock_host_cfg *h = d->me;
	if (o->socket)
		snprintf(d->socket_path, sizeof(d->socket_path), "%s", o->socket);
	else if (h->socket[0])
		snprintf(d->socket_path, sizeof(d->socket_path), "%s", h->socket);
	else
		snprintf(d->socket_path, sizeof(d->socket_path), "/run/kura-lockd/%s.sock",
			 h->name);
	if (o->state_dir)
		snprintf(d->state_dir, sizeof(d->state_dir), "%s", o->state_dir);
	else if (h->state_dir[0])
		snprintf(d->state_dir, sizeof(d->state_dir), "%s", h->state_dir);
	else
		snprintf(d->state_dir, sizeof(d->state_dir), "/var/lib/kura-lockd/%s", h->name);
}

static struct lock_ha *open_ha(struct lockd *d)
{
	struct lock_ha_params p = {
		.cluster = d->cfg.name,
		.urls = (const char *const *)d->cfg.ha_lun,
		.n_urls = d->cfg.n_ha_lun,
		.initiator = d->me->initiator,
		.host_id = d->me->id,
		.host_name = d->me->name,
		.hb_interval_ms = d->cfg.heartbeat_interval_ms,
		.fail_after_ms = d->cfg.fail_after_ms,
		.io_timeout_ms = d->cfg.io_timeout_ms,
	};
	int err = 0;
	struct lock_ha *h = lock_ha_open(&p, &err);
	if (!h)
		kerr("HA LUN: %s", lock_strerror(err));
	return h;
}

static int setup(struct lockd *d, const struct opts *o)
{
	char err[512];
	if (lock_config_load(o->conf, &d->cfg, err, sizeof(err)) < 0) {
		kerr("%s", err);
		return LOCKD_EX_USAGE;
	}
	d->me = lock_config_host(&d->cfg, o->host);
	if (!d->me) {
		kerr("%s: no [host %s]", o->conf, o->host);
		return LOCKD_EX_NOENT;
	}
	set_paths(d, o);
	int e = kfile_mkdir_p(d->state_dir, 0750); /* with its parents (/var/lib/kura-lockd) */
	if (e < 0) {
		kerr("state dir %s: %s", d->state_dir, strerror(-e));
		return LOCKD_EX_USAGE;
	}
	d->ha_hb = open_ha(d);
	d->ha_main = open_ha(d);
	if (!d->ha_hb || !d->ha_main || lockd_vm_setup(d) < 0)
		return LOCKD_EX_USAGE;
	int r = lockd_join(d);
	if (r < 0) {
		kerr("join of host %s: %s", d->me->name, lock_strerror(r));
		return lockd_err_code(r);
	}
	return 0;
}

static int start_services(struct lockd *d)
{
	int r = kfile_mkdir_parent(d->socket_path); /* /run/kura-lockd after a reboot */
	if (r == 0)
		r = lockd_ctl_listen(d);
	if (r < 0) {
		kerr("control socket %s: %s", d->socket_path, strerror(-r));
		return LOCKD_EX_USAGE;
	}
	if (lockd_hb_start(d) < 0) {
		kerr("cannot start the heartbeat thread");
		return LOCKD_EX_USAGE;
	}
	kinfo("kura-lockd host %s: control socket %s, state %s", d->me->name, d->socket_path,
	      d->state_dir);
	return 0;
}

static int signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

enum { PFD_SIG, PFD_CTL, PFD_EV, PFD_VM0 };

static int build_pollset(struct lockd *d, struct pollfd *p, int sfd, int *map)
{
	int n = PFD_VM0;
	p[PFD_SIG] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	p[PFD_CTL] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
	p[PFD_EV] = (struct pollfd){ .fd = d->evfd, .events = POLLIN };
	for (int i = 0; i < d->cfg.n_vms; i++) {
		if (d->vm[i].pidfd < 0)
			continue;
		map[n] = i;
		p[n++] = (struct pollfd){ .fd = d->vm[i].pidfd, .events = POLLIN };
	}
	return n;
}

static void main_loop(struct lockd *d, int sfd)
{
	struct pollfd p[PFD_VM0 + LOCK_CFG_MAX_VMS];
	int map[PFD_VM0 + LOCK_CFG_MAX_VMS];
	for (;;) {
		int n = build_pollset(d, p, sfd, map);
		if (poll(p, n, 1000) < 0 && errno != EINTR)
			return;
		if (p[PFD_SIG].revents)
			return;
		for (int i = PFD_VM0; i < n; i++)
			if (p[i].revents)
				lockd_vm_reaped(d, &d->vm[map[i]]);
		if (p[PFD_EV].revents) {
			eventfd_t v;
			eventfd_read(d->evfd, &v);
			lockd_ha_tick(d);
		}
		if (p[PFD_CTL].revents)
			lockd_ctl_accept(d);
	}
}

int main(int argc, char **argv)
{
	static struct lockd d = { .listen_fd = -1,
				  .mu = PTHREAD_MUTEX_INITIALIZER,
				  .join_cv = PTHREAD_COND_INITIALIZER };
	struct opts o = { 0 };
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return LOCKD_EX_USAGE;
	}
	int sfd = signal_fd();
	d.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = setup(&d, &o);
	if (r == 0 && !o.foreground && daemon(0, 1) < 0)
		r = LOCKD_EX_USAGE;
	if (r == 0)
		r = start_services(&d);
	if (r == 0)
		main_loop(&d, sfd);
	lockd_hb_stop(&d);
	lockd_vm_teardown(&d);
	if (d.listen_fd >= 0) {
		unlink(d.socket_path);
		close(d.listen_fd);
	}
	kinfo("kura-lockd host %s: exit", d.me ? d.me->name : "?");
	if (d.ha_hb)
		lock_ha_close(d.ha_hb);
	if (d.ha_main)
		lock_ha_close(d.ha_main);
	lock_config_free(&d.cfg);
	return r;
}
