/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd's control socket (kura-lockctl's other end).
 *
 * A Unix stream socket, mode 0600; a peer whose SO_PEERCRED uid is neither 0
 * nor ours is refused. One request per connection, like target/admin/admin.h:
 * one line of words, then the daemon writes zero or more output lines and a
 * status line "OK" or "ERR <code> <reason>", where <code> is the
 * kura-lockctl exit code (lockd.h), and closes. Requests:
 *   status [--json]            hosts and VMs as this host sees them
 *   start VM | stop VM         here
 *   join                       rejoin (after a fence or a drain): new incarnation
 *   drain                      mark this host LEAVING (its VMs must be gone)
 *   place VM EXCLUDE_ID        "host NAME": where the placement rule puts VM
 *   incoming VM | migrate-out VM DST_ID URI | incoming-finish VM LVER |
 *   incoming-cancel VM         the migration steps (lockd_mig.c)
 *
 * Not for: the CLI's option parsing (lockctl.c).
 */
#include "cluster-lock/lockd.h"
#include "common/log.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/unixsock.h"

#define CTL_MAX_LINE 1024
#define CTL_MAX_ARGS 8

int lockd_ctl_listen(struct lockd *d)
{
	int fd = kunix_listen(d->socket_path, 16, true);
	if (fd < 0)
		return fd;
	d->listen_fd = fd;
	return 0;
}

/* ------------------------------------------------------------ status */

static const char *host_state(struct lockd *d, uint16_t id, bool *drained)
{
	*drained = false;
	if (id == d->me->id) {
		static const char *const self[] = { "left", "alive", "fenced", "left" };
		*drained = d->self == LOCKD_SELF_LEFT;
		return self[d->self];
	}
	switch (d->view[id].verdict) {
	case LOCK_HB_ALIVE:
	case LOCK_HB_SUSPECT: return "alive";
	case LOCK_HB_DEAD:
	case LOCK_HB_CORRUPT: return "dead";
	case LOCK_HB_FENCED: return "fenced";
	case LOCK_HB_LEAVING: *drained = true; return "left";
	default: return "left";
	}
}

static void status_hosts(struct lockd *d, bool json, FILE *out)
{
	pthread_mutex_lock(&d->mu);
	for (int i = 0; i < d->cfg.n_hosts; i++) {
		const struct lock_host_cfg *h = &d->cfg.hosts[i];
		const struct lockd_view *v = &d->view[h->id];
		bool drained;
		const char *st = host_state(d, h->id, &drained);
		uint64_t age = h->id == d->me->id
				       ? (lock_now_boot_ns() - d->hb_last_ok_ns) / 1000000
				       : v->age_ms;
		if (json)
			fprintf(out,
				"%s{\"name\": \"%s\", \"id\": %u, \"state\": \"%s\", "
				"\"incarnation\": %u, \"heartbeat_age_ms\": %llu, \"drained\": %s}",
				i ? ", " : "", h->name, h->id, st, v->slot.incarnation,
				(unsigned long long)age, drained ? "true" : "false");
		else
			fprintf(out,
				"host %-12s id %-3u state %-7s incarnation %-5u "
				"heartbeat_age_ms %llu%s\n",
				h->name, h->id, st, v->slot.incarnation, (unsigned long long)age,
				drained ? " (drained)" : "");
	}
	pthread_mutex_unlock(&d->mu);
}

static const char *vm_state(struct lockd *d, struct lockd_vm *vm, const struct lock_lease *l)
{
	/* a QEMU of mine, or mine that failed while I still hold the lease;
	 * otherwise the lease tells (a VM that failed here may run elsewhere) */
	if (vm->pidfd >= 0 || (vm->state == LOCKD_VM_FAILED && l->owner == d->me->id))
		return lockd_vm_state_name(vm->state);
	if (!l->owner)
		return "stopped";
	if (l->mig_phase == LOCK_MIG_ACTIVE)
		return "migrating";
	pthread_mutex_lock(&d->mu);
	bool fenced = d->view[l->owner].slot.state == LOCK_SLOT_FENCED;
	pthread_mutex_unlock(&d->mu);
	return fenced ? "failed" : "running";
}

static int status_vms(struct lockd *d, bool json, FILE *out)
{
	int err = 0;
	for (int i = 0; i < d->cfg.n_vms; i++) {
		struct lockd_vm *vm = &d->vm[i];
		struct lock_lease l = { 0 };
		int r = lock_lease_get(d->ha_main, vm->cfg->name, &l);
		if (r < 0)
			err = r;
		const struct lock_host_cfg *o = lock_config_host_by_id(&d->cfg, l.owner);
		const char *st = r < 0 ? "unknown" : vm_state(d, vm, &l);
		int pid = vm->pidfd >= 0 ? (int)vm->pid : 0;
		if (json)
			fprintf(out,
				"%s{\"name\": \"%s\", \"owner\": \"%s\", \"lver\": %llu, "
				"\"state\": \"%s\", \"pid\": %d, \"ha\": %s}",
				i ? ", " : "", vm->cfg->name, o ? o->name : "",
				(unsigned long long)l.lver, st, pid,
				vm->cfg->ha ? "true" : "false");
		else
			fprintf(out, "vm   %-12s owner %-8s lver %-5llu state %-9s pid %d\n",
				vm->cfg->name, o ? o->name : "-", (unsigned long long)l.lver, st,
				pid);
	}
	return err;
}

int lockd_status(struct lockd *d, bool json, FILE *out)
{
	if (json)
		fprintf(out, "{\"host\": \"%s\", \"hosts\": [", d->me->name);
	status_hosts(d, json, out);
	if (json)
		fprintf(out, "], \"vms\": [");
	int r = status_vms(d, json, out);
	if (json)
		fprintf(out, "]}\n");
	if (r < 0)
		return lockd_fail(out, lockd_err_code(r), "leases: %s", lock_strerror(r));
	return 0;
}

/* ------------------------------------------------------------ requests */

static int cmd_vm(struct lockd *d, char **argv, int argc, FILE *out)
{
	struct lockd_vm *vm = argc > 1 ? lockd_vm_find(d, argv[1]) : NULL;
	if (argc < 2)
		return lockd_fail(out, LOCKD_EX_USAGE, "%s: which VM?", argv[0]);
	if (!vm)
		return lockd_fail(out, LOCKD_EX_NOENT, "no vm '%s' in %s", argv[1], d->cfg.source);
	if (strcmp(argv[0], "start") == 0)
		return lockd_vm_start(d, vm, out);
	if (strcmp(argv[0], "stop") == 0)
		return lockd_vm_stop(d, vm, out);
	if (strcmp(argv[0], "incoming") == 0)
		return lockd_mig_incoming(d, vm, out);
	if (strcmp(argv[0], "incoming-cancel") == 0)
		return lockd_mig_cancel(d, vm, out);
	if (strcmp(argv[0], "incoming-finish") == 0 && argc == 3)
		return lockd_mig_finish(d, vm, strtoull(argv[2], NULL, 10), out);
	if (strcmp(argv[0], "migrate-out") == 0 && argc == 4)
		return lockd_mig_out(d, vm, (uint16_t)atoi(argv[2]), argv[3], out);
	if (strcmp(argv[0], "place") == 0 && argc == 3) {
		const struct lock_host_cfg *h =
			lock_config_host_by_id(&d->cfg, lockd_place(d, vm->cfg, atoi(argv[2])));
		if (!h)
			return lockd_fail(out, LOCKD_EX_CONFLICT, "no live host for vm %s",
					  vm->cfg->name);
		fprintf(out, "host %s\n", h->name);
		return 0;
	}
	return lockd_fail(out, LOCKD_EX_USAGE, "bad request '%s'", argv[0]);
}

static int cmd_drain(struct lockd *d, FILE *out)
{
	for (int i = 0; i < d->cfg.n_vms; i++)
		if (d->vm[i].pidfd >= 0)
			return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s still runs here",
					  d->vm[i].cfg->name);
	int r = lock_ha_mark_leaving(d->ha_main, d->me->id);
	if (r < 0)
		return lockd_fail(out, lockd_err_code(r), "drain: %s", lock_strerror(r));
	pthread_mutex_lock(&d->mu);
	d->self = LOCKD_SELF_LEFT;
	pthread_mutex_unlock(&d->mu);
	kinfo("host %s drained: marked LEAVING, heartbeat stopped", d->me->name);
	return 0;
}

static int dispatch(struct lockd *d, char **argv, int argc, FILE *out)
{
	bool json = argc > 1 && strcmp(argv[argc - 1], "--json") == 0;
	if (argc == 0)
		return lockd_fail(out, LOCKD_EX_USAGE, "empty request");
	if (strcmp(argv[0], "status") == 0)
		return lockd_status(d, json, out);
	if (strcmp(argv[0], "join") == 0) {
		int r = lockd_join(d);
		return r < 0 ? lockd_fail(out, lockd_err_code(r), "join: %s", lock_strerror(r)) : 0;
	}
	if (strcmp(argv[0], "drain") == 0)
		return cmd_drain(d, out);
	return cmd_vm(d, argv, argc, out);
}

static int read_request(int fd, char *line, size_t size)
{
	size_t n = 0;
	while (n < size - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		ssize_t k = read(fd, line + n, size - 1 - n);
		if (k <= 0)
			return -EIO;
		n += k;
		line[n] = '\0';
		if (strchr(line, '\n'))
			return 0;
	}
	return -EMSGSIZE;
}

static void serve(struct lockd *d, int fd)
{
	char line[CTL_MAX_LINE], *argv[CTL_MAX_ARGS + 1], *save;
	int argc = 0;
	FILE *out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return;
	}
	if (!kunix_peer_allowed(fd)) {
		fprintf(out, "ERR %d permission denied\n", LOCKD_EX_USAGE);
	} else if (read_request(fd, line, sizeof(line)) < 0) {
		fprintf(out, "ERR %d bad request\n", LOCKD_EX_USAGE);
	} else {
		for (char *w = strtok_r(line, " \t\r\n", &save); w && argc < CTL_MAX_ARGS;
		     w = strtok_r(NULL, " \t\r\n", &save))
			argv[argc++] = w;
		if (dispatch(d, argv, argc, out) == 0)
			fprintf(out, "OK\n");
	}
	fclose(out);
}

void lockd_ctl_accept(struct lockd *d)
{
	int fd;
	while ((fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		serve(d, fd);
}
