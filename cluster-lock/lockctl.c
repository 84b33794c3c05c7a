/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockctl: the command line of the kura cluster lock (issue 10).
 *
 * format and dump work on the HA LUN directly (lockctl_disk.c, no daemon);
 * every other command talks to kura-lockd over its control socket (protocol
 * in lockd_ctl.c). migrate and drain drive both daemons of a hand-over:
 * "incoming" on the destination, "migrate-out" on the source, then
 * "incoming-finish" (or "incoming-cancel") on the destination, so the
 * sockets of both hosts must be reachable from where it runs (the [host]
 * socket keys of the configuration).
 *
 * Not for: any decision about leases or fencing (the daemons decide).
 */
#include "cluster-lock/lock.h"
#include "cluster-lock/lock_config.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/unixsock.h"

static const char help[] =
	"usage: kura-lockctl [-c FILE --host NAME | --socket PATH] [--json] COMMAND [ARGS]\n"
	"(-c FILE without --host: the first host of FILE whose daemon answers)\n"
	"\n"
	"Commands on the HA LUN itself (need -c FILE; no daemon):\n"
	"  format [--force]        write an empty HA LUN layout (refused on a LUN holding\n"
	"                          another cluster's header unless --force)\n"
	"  dump [--json]           print the header, host slots and leases read from the LUN\n"
	"Commands through kura-lockd (the daemon of --host NAME, or --socket PATH):\n"
	"  status [--json]         hosts (id, state alive/dead/fenced/left, incarnation,\n"
	"                          heartbeat age) and VMs (owner, lver, state, pid)\n"
	"  start VM [--on HOST]    take VM's lease, register the key, start QEMU (on HOST)\n"
	"  stop VM                 stop VM on the host that owns it, release its lease\n"
	"  migrate VM --to HOST    live-migrate VM with the disk hand-over (needs -c)\n"
	"  drain HOST              migrate every VM off HOST, then mark it LEAVING (needs -c)\n"
	"  join HOST               rejoin HOST after a fence or a drain (new incarnation)\n"
	"\n"
	"Exit codes:\n"
	"  0  ok\n"
	"  1  usage or configuration error\n"
	"  2  no such VM or host\n"
	"  3  lease conflict (held elsewhere, lver mismatch), or the host cannot do it now\n"
	"  4  HA LUN unreachable\n"
	"  5  daemon not running\n"
	"Reference: docs/cluster-lock.md.\n";

struct ctl {
	const char *conf, *host, *socket, *on, *to;
	bool json, force;
	struct lock_config cfg;
	bool have_cfg;
};

/* ------------------------------------------------------------ socket */

/* Send LINE to the daemon at PATH; output lines go to OUT (or into CAP when
 * CAP is given). Returns the exit code of the answer. */
static int ctl_request(const char *path, const char *line, FILE *out, char *cap, size_t caplen)
{
	int fd = kunix_connect(path);
	if (fd < 0) {
		fprintf(stderr, "kura-lockctl: no kura-lockd at %s: %s\n", path, strerror(errno));
		return LOCKD_EX_NODAEMON;
	}
	dprintf(fd, "%s\n", line);
	shutdown(fd, SHUT_WR);
	FILE *in = fdopen(fd, "r");
	char buf[4096];
	int code = LOCKD_EX_NODAEMON;
	size_t used = 0;
	if (cap && caplen)
		cap[0] = '\0';
	while (in && fgets(buf, sizeof(buf), in)) {
		if (strcmp(buf, "OK\n") == 0) {
			code = LOCKD_EX_OK;
		} else if (strncmp(buf, "ERR ", 4) == 0) {
			char *msg;
			code = (int)strtol(buf + 4, &msg, 10);
			fprintf(stderr, "kura-lockctl: %s", msg + (*msg == ' '));
		} else if (cap) {
			used += snprintf(cap + used, used < caplen ? caplen - used : 0, "%s", buf);
		} else {
			fputs(buf, out);
		}
	}
	if (in)
		fclose(in);
	return code;
}

static const char *host_socket(struct ctl *c, const char *name, char *buf, size_t len)
{
	const struct lock_host_cfg *h = lock_config_host(&c->cfg, name);
	if (!h)
		return NULL;
	if (h->socket[0])
		return h->socket;
	snprintf(buf, len, "/run/kura-lockd/%s.sock", h->name);
	return buf;
}

/* The socket of the daemon this invocation talks to by default: --socket,
 * else --host's, else (with -c only) the first host whose daemon answers. */
static const char *my_socket(struct ctl *c, char *buf, size_t len)
{
	if (c->socket)
		return c->socket;
	if (!c->have_cfg)
		return NULL;
	if (c->host)
		return host_socket(c, c->host, buf, len);
	for (int i = 0; i < c->cfg.n_hosts; i++) {
		const char *s = host_socket(c, c->cfg.hosts[i].name, buf, len);
		int fd = kunix_connect(s);
		if (fd >= 0) {
			close(fd);
			return s;
		}
	}
	return c->cfg.n_hosts ? host_socket(c, c->cfg.hosts[0].name, buf, len) : NULL;
}

/* ------------------------------------------------------------ commands */

static int need_cfg(struct ctl *c, const char *cmd)
{
	if (c->have_cfg)
		return 0;
	fprintf(stderr, "kura-lockctl: %s needs -c FILE\n", cmd);
	return LOCKD_EX_USAGE;
}

static struct lock_ha_params ha_params(struct ctl *c)
{
	const struct lock_host_cfg *h = c->host ? lock_config_host(&c->cfg, c->host) : NULL;
	return (struct lock_ha_params){
		.cluster = c->cfg.name,
		.urls = (const char *const *)c->cfg.ha_lun,
		.n_urls = c->cfg.n_ha_lun,
		.initiator = h ? h->initiator : "iqn.2026-12.org.kura:lockctl",
		.hb_interval_ms = c->cfg.heartbeat_interval_ms,
		.fail_after_ms = c->cfg.fail_after_ms,
		.io_timeout_ms = c->cfg.io_timeout_ms,
	};
}

/* Host NAME of the owner of VM, as the daemon at SOCK reports it. */
static int vm_owner(const char *sock, const char *vm, char *owner, size_t len)
{
	char out[16384], line[128], *p;
	int r = ctl_request(sock, "status", NULL, out, sizeof(out));
	if (r)
		return r;
	for (p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char name[LOCK_CFG_NAME], own[LOCK_CFG_NAME];
		if (sscanf(p, "vm %63s owner %63s", name, own) == 2 && strcmp(name, vm) == 0) {
			snprintf(owner, len, "%s", strcmp(own, "-") ? own : "");
			return LOCKD_EX_OK;
		}
	}
	(void)line;
	fprintf(stderr, "kura-lockctl: no vm '%s'\n", vm);
	return LOCKD_EX_NOENT;
}

static int cmd_start(struct ctl *c, const char *vm, const char *sock)
{
	char buf[LOCK_CFG_PATH], line[256];
	if (c->on) {
		if (need_cfg(c, "start --on"))
			return LOCKD_EX_USAGE;
		sock = host_socket(c, c->on, buf, sizeof(buf));
		if (!sock) {
			fprintf(stderr, "kura-lockctl: no [host %s] in %s\n", c->on, c->conf);
			return LOCKD_EX_NOENT;
		}
	}
	snprintf(line, sizeof(line), "start %s", vm);
	return ctl_request(sock, line, stdout, NULL, 0);
}

static int cmd_stop(struct ctl *c, const char *vm, const char *sock)
{
	char owner[LOCK_CFG_NAME], buf[LOCK_CFG_PATH], line[256];
	const char *target = sock;
	if (c->have_cfg) {
		int r = vm_owner(sock, vm, owner, sizeof(owner));
		if (r)
			return r;
		if (owner[0])
			target = host_socket(c, owner, buf, sizeof(buf));
	}
	snprintf(line, sizeof(line), "stop %s", vm);
	return ctl_request(target ? target : sock, line, stdout, NULL, 0);
}

/* The hand-over between the daemons at SRC and DST (lockd_mig.c). */
static int hand_over(const char *vm, const char *src, const char *dst, unsigned dst_id)
{
	char out[512], line[512], uri[256];
	unsigned long long lver;
	snprintf(line, sizeof(line), "incoming %s", vm);
	int r = ctl_request(dst, line, NULL, out, sizeof(out));
	if (r)
		return r;
	if (sscanf(out, "uri %255s", uri) != 1)
		return LOCKD_EX_USAGE;
	snprintf(line, sizeof(line), "migrate-out %s %u %s", vm, dst_id, uri);
	r = ctl_request(src, line, NULL, out, sizeof(out));
	if (r == LOCKD_EX_OK && sscanf(out, "lver %llu", &lver) != 1)
		r = LOCKD_EX_USAGE;
	if (r) {
		snprintf(line, sizeof(line), "incoming-cancel %s", vm);
		ctl_request(dst, line, NULL, out, sizeof(out));
		return r;
	}
	snprintf(line, sizeof(line), "incoming-finish %s %llu", vm, lver);
	r = ctl_request(dst, line, NULL, out, sizeof(out));
	if (r == LOCKD_EX_OK)
		printf("vm %s migrated, %s", vm, out);
	return r;
}

static int migrate_to(struct ctl *c, const char *vm, const char *owner, const char *to)
{
	char b1[LOCK_CFG_PATH], b2[LOCK_CFG_PATH];
	const struct lock_host_cfg *dst = lock_config_host(&c->cfg, to);
	if (!dst || !lock_config_host(&c->cfg, owner)) {
		fprintf(stderr, "kura-lockctl: no [host %s]\n", dst ? owner : to);
		return LOCKD_EX_NOENT;
	}
	if (strcmp(owner, to) == 0) {
		fprintf(stderr, "kura-lockctl: vm %s already runs on %s\n", vm, to);
		return LOCKD_EX_CONFLICT;
	}
	return hand_over(vm, host_socket(c, owner, b1, sizeof(b1)),
			 host_socket(c, to, b2, sizeof(b2)), dst->id);
}

static int cmd_migrate(struct ctl *c, const char *vm, const char *sock)
{
	char owner[LOCK_CFG_NAME];
	if (need_cfg(c, "migrate"))
		return LOCKD_EX_USAGE;
	if (!c->to) {
		fprintf(stderr, "kura-lockctl: migrate VM --to HOST\n");
		return LOCKD_EX_USAGE;
	}
	if (!lock_config_vm(&c->cfg, vm)) {
		fprintf(stderr, "kura-lockctl: no [vm %s] in %s\n", vm, c->conf);
		return LOCKD_EX_NOENT;
	}
	int r = vm_owner(sock, vm, owner, sizeof(owner));
	if (r == LOCKD_EX_OK && !owner[0]) {
		fprintf(stderr, "kura-lockctl: vm %s is not running\n", vm);
		r = LOCKD_EX_CONFLICT;
	}
	return r ? r : migrate_to(c, vm, owner, c->to);
}

/* Every VM owned by HOST goes where the placement rule says, then HOST is
 * marked LEAVING by its own daemon. */
static int cmd_drain(struct ctl *c, const char *host)
{
	char buf[LOCK_CFG_PATH], owner[LOCK_CFG_NAME], line[256], out[256], to[LOCK_CFG_NAME];
	const struct lock_host_cfg *h = lock_config_host(&c->cfg, host);
	if (!h) {
		fprintf(stderr, "kura-lockctl: no [host %s] in %s\n", host, c->conf);
		return LOCKD_EX_NOENT;
	}
	const char *sock = host_socket(c, host, buf, sizeof(buf));
	for (int i = 0; i < c->cfg.n_vms; i++) {
		const char *vm = c->cfg.vms[i].name;
		int r = vm_owner(sock, vm, owner, sizeof(owner));
		if (r == LOCKD_EX_OK && strcmp(owner, host) != 0)
			continue;
		snprintf(line, sizeof(line), "place %s %u", vm, h->id);
		if (r == LOCKD_EX_OK)
			r = ctl_request(sock, line, NULL, out, sizeof(out));
		if (r == LOCKD_EX_OK && sscanf(out, "host %63s", to) != 1)
			r = LOCKD_EX_CONFLICT;
		if (r == LOCKD_EX_OK)
			r = migrate_to(c, vm, host, to);
		if (r)
			return r;
	}
	return ctl_request(sock, "drain", stdout, NULL, 0);
}

static int cmd_join(struct ctl *c, const char *host, const char *sock)
{
	char buf[LOCK_CFG_PATH];
	if (c->have_cfg) {
		sock = host_socket(c, host, buf, sizeof(buf));
		if (!sock) {
			fprintf(stderr, "kura-lockctl: no [host %s] in %s\n", host, c->conf);
			return LOCKD_EX_NOENT;
		}
	}
	return ctl_request(sock, "join", stdout, NULL, 0);
}

/* ------------------------------------------------------------ main */

static int parse_opts(int argc, char **argv, struct ctl *c)
{
	static const struct option lo[] = { { "config", required_argument, NULL, 'c' },
					    { "host", required_argument, NULL, 'H' },
					    { "socket", required_argument, NULL, 's' },
					    { "json", no_argument, NULL, 'j' },
					    { "force", no_argument, NULL, 'f' },
					    { "on", required_argument, NULL, 'o' },
					    { "to", required_argument, NULL, 't' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	int o;
	while ((o = getopt_long(argc, argv, "+c:H:s:jfo:t:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c': c->conf = optarg; break;
		case 'H': c->host = optarg; break;
		case 's': c->socket = optarg; break;
		case 'j': c->json = true; break;
		case 'f': c->force = true; break;
		case 'o': c->on = optarg; break;
		case 't': c->to = optarg; break;
		case 'h': fputs(help, stdout); exit(LOCKD_EX_OK);
		default: return -EINVAL;
		}
	}
	return 0;
}

/* Options may also follow the command (`dump --json`, `start VM --on HOST`). */
static int parse_all(int argc, char **argv, struct ctl *c, char **words, int *nw)
{
	*nw = 0;
	optind = 1;
	while (optind < argc) {
		if (parse_opts(argc, argv, c) < 0)
			return -EINVAL;
		if (optind < argc && *nw < 4)
			words[(*nw)++] = argv[optind++];
		else if (optind < argc)
			return -EINVAL;
	}
	return 0;
}

static int load_cfg(struct ctl *c)
{
	char err[512];
	if (!c->conf)
		return 0;
	if (lock_config_load(c->conf, &c->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "kura-lockctl: %s\n", err);
		return LOCKD_EX_USAGE;
	}
	c->have_cfg = true;
	if (c->host && !lock_config_host(&c->cfg, c->host)) {
		fprintf(stderr, "kura-lockctl: no [host %s] in %s\n", c->host, c->conf);
		return LOCKD_EX_NOENT;
	}
	return 0;
}

static int run_daemon_cmd(struct ctl *c, char **w, int nw)
{
	char buf[LOCK_CFG_PATH], line[64];
	const char *sock = my_socket(c, buf, sizeof(buf));
	if (!sock) {
		fprintf(stderr, "kura-lockctl: %s needs --socket PATH or -c FILE --host NAME\n",
			w[0]);
		return LOCKD_EX_USAGE;
	}
	if (strcmp(w[0], "status") == 0 && nw == 1) {
		snprintf(line, sizeof(line), "status%s", c->json ? " --json" : "");
		return ctl_request(sock, line, stdout, NULL, 0);
	}
	if (strcmp(w[0], "start") == 0 && nw == 2)
		return cmd_start(c, w[1], sock);
	if (strcmp(w[0], "stop") == 0 && nw == 2)
		return cmd_stop(c, w[1], sock);
	if (strcmp(w[0], "migrate") == 0 && nw == 2)
		return cmd_migrate(c, w[1], sock);
	if (strcmp(w[0], "join") == 0 && nw == 2)
		return cmd_join(c, w[1], sock);
	fprintf(stderr, "kura-lockctl: bad command (see --help)\n");
	return LOCKD_EX_USAGE;
}

static int run(struct ctl *c, char **w, int nw)
{
	struct lock_ha_params p;
	if (nw == 0) {
		fputs(help, stderr);
		return LOCKD_EX_USAGE;
	}
	if ((strcmp(w[0], "format") == 0 || strcmp(w[0], "dump") == 0) && nw == 1) {
		if (need_cfg(c, w[0]))
			return LOCKD_EX_USAGE;
		p = ha_params(c);
		if (w[0][0] == 'f')
			return lockctl_format(&p, c->force, stdout, stderr);
		return lockctl_dump(&p, c->json, stdout, stderr);
	}
	if (strcmp(w[0], "drain") == 0 && nw == 2)
		return need_cfg(c, "drain") ? LOCKD_EX_USAGE : cmd_drain(c, w[1]);
	return run_daemon_cmd(c, w, nw);
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	char *words[4];
	int nw, r;
	if (parse_all(argc, argv, &c, words, &nw) < 0) {
		fputs(help, stderr);
		return LOCKD_EX_USAGE;
	}
	r = load_cfg(&c);
	if (r == 0)
		r = run(&c, words, nw);
	if (c.have_cfg)
		lock_config_free(&c.cfg);
	return r;
}
