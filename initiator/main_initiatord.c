/* SPDX-License-Identifier: Apache-2.0 */
/* kura-initiatord: the host-side iSCSI initiator daemon (multipath over
 * libiscsi, FUSE / NBD front ends, control socket for kura-iscsiadm).
 * This file only parses the command line; see initiatord.c.
 */
#include "initiator/initiatord_internal.h"
#include "common/log.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kura-initiatord [options]\n"
		"  --root DIR             node database (default /etc/iscsi)\n"
		"  --initiator-name IQN   override <root>/initiatorname.iscsi\n"
		"  --ctl-sock PATH        control socket (default /run/kura/initiatord.sock)\n"
		"  --fuse-dir DIR         FUSE front end: one file per LU (e.g. /run/kura/lu)\n"
		"  --nbd-dir DIR          NBD front end: one Unix socket per LU\n"
		"  --disk-dir DIR         stable names: DIR/by-id/wwn-naa.<hex>[.sock] and\n"
		"                         DIR/by-path/ip-ADDR:PORT-iscsi-IQN-lun-N[.sock] links to\n"
		"                         the FUSE files [NBD sockets] (e.g. /run/kura/disk)\n"
		"  --ublk                 try the ublk front end (needs /dev/ublk-control)\n"
		"  --login ADDR:PORT,IQN  also log in to this portal (repeatable)\n"
		"  --pr-key HEX           persistent reservation key registered on every path\n"
		"  --no-path-retry S      queue I/O while no path is up for S seconds (default 30)\n"
		"  --policy failover|round-robin     (default failover)\n"
		"  --failback immediate|manual       (default immediate)\n"
		"  --retry-max S          login retry backoff cap (default 30)\n"
		"  --nop-interval-ms N    path checker period (default 500)\n"
		"  --nop-timeout-ms N     path declared dead after N ms without answer (default 3000)\n"
		"  --cmd-timeout-ms N     per-command deadline (default 30000)\n"
		"  --login-timeout-ms N   connect+login+probe deadline (default 5000)\n"
		"  --log-level error|warn|info|debug\n");
}

static int parse_opt(struct ini_opts *o, int c, const char *a)
{
	enum klog_level lvl;
	switch (c) {
	case 'r': snprintf(o->root, sizeof(o->root), "%s", a); break;
	case 'n': snprintf(o->initiator_name, sizeof(o->initiator_name), "%s", a); break;
	case 's': snprintf(o->ctl_sock, sizeof(o->ctl_sock), "%s", a); break;
	case 'f': snprintf(o->fuse_dir, sizeof(o->fuse_dir), "%s", a); break;
	case 'b': snprintf(o->nbd_dir, sizeof(o->nbd_dir), "%s", a); break;
	case 'D': snprintf(o->disk_dir, sizeof(o->disk_dir), "%s", a); break;
	case 'u': o->ublk = true; break;
	case 'L':
		if (o->n_extra >= 8)
			return -1;
		snprintf(o->extra[o->n_extra++], sizeof(o->extra[0]), "%s", a);
		break;
	case 'k': o->pr_key = strtoull(a, NULL, 16); break;
	case 'q': o->no_path_retry_ms = strtoull(a, NULL, 10) * 1000; break;
	case 'p':
		if (strcmp(a, "failover") && strcmp(a, "round-robin"))
			return -1;
		o->policy = strcmp(a, "failover") ? MPATH_ROUND_ROBIN : MPATH_FAILOVER;
		break;
	case 'F':
		if (strcmp(a, "immediate") && strcmp(a, "manual"))
			return -1;
		o->failback_immediate = !strcmp(a, "immediate");
		break;
	case 'R': o->retry_max_ms = strtoull(a, NULL, 10) * 1000; break;
	case 'i': o->nop_interval_ms = strtoull(a, NULL, 10); break;
	case 't': o->nop_timeout_ms = strtoull(a, NULL, 10); break;
	case 'c': o->cmd_timeout_ms = strtoull(a, NULL, 10); break;
	case 'T': o->login_timeout_ms = strtoull(a, NULL, 10); break;
	case 'l':
		if (klog_parse_level(a, &lvl) < 0)
			return -1;
		klog_set_level(lvl);
		break;
	default: return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", 1, 0, 'r' },
		{ "initiator-name", 1, 0, 'n' },
		{ "ctl-sock", 1, 0, 's' },
		{ "fuse-dir", 1, 0, 'f' },
		{ "nbd-dir", 1, 0, 'b' },
		{ "disk-dir", 1, 0, 'D' },
		{ "ublk", 0, 0, 'u' },
		{ "login", 1, 0, 'L' },
		{ "pr-key", 1, 0, 'k' },
		{ "no-path-retry", 1, 0, 'q' },
		{ "policy", 1, 0, 'p' },
		{ "failback", 1, 0, 'F' },
		{ "retry-max", 1, 0, 'R' },
		{ "nop-interval-ms", 1, 0, 'i' },
		{ "nop-timeout-ms", 1, 0, 't' },
		{ "cmd-timeout-ms", 1, 0, 'c' },
		{ "login-timeout-ms", 1, 0, 'T' },
		{ "log-level", 1, 0, 'l' },
		{ "help", 0, 0, 'h' },
		{ "foreground", 0, 0, 'g' },
		{ 0, 0, 0, 0 },
	};
	struct ini_opts o;
	ini_opts_defaults(&o);
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'g')
			continue; /* always in the foreground (systemd Type=simple) */
		if (parse_opt(&o, c, optarg) < 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (o.retry_max_ms < o.retry_min_ms)
		o.retry_max_ms = o.retry_min_ms;
	int rc = ini_daemon_run(&o);
	if (rc < 0) {
		fprintf(stderr, "kura-initiatord: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
