/* SPDX-License-Identifier: Apache-2.0 */
/* kura-console: the web console and Prometheus endpoint of kura-targetd,
 * a separate process speaking the daemon's admin socket protocol
 * (docs/console.md). This file: the command line, --add-user, and start-up
 * (certificate, users file, bearer token, signals).
 *
 * Not for: HTTP (web*.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "console/console.h"

static const char usage_text[] =
	"Usage: kura-console --listen ADDR:PORT --socket PATH [--tls-cert F --tls-key F]\n"
	"                    [--users FILE] [--state-dir DIR] [--metrics-token-file F]\n"
	"                    [--sample-interval S] [--lockd-socket PATH]...\n"
	"                    [--log-level error|warn|info|debug]\n"
	"       kura-console --add-user NAME [--users FILE | --state-dir DIR]\n"
	"\n"
	"The web console of kura-targetd over HTTPS: a dashboard (targets, LUNs,\n"
	"sessions, pools, arrays, alerts), per-LUN charts of the last hour, forms\n"
	"for volumes, snapshots, clones, ACLs, CHAP and ALUA, a cluster view of\n"
	"kura-lockd hosts and VM leases, and GET /metrics for Prometheus.\n"
	"It talks to the daemon only through its admin socket (run it as root or\n"
	"as the daemon's user).\n"
	"\n"
	"  --listen ADDR:PORT     numeric address and port ([::1]:8443 for IPv6);\n"
	"                         default 127.0.0.1:8443\n"
	"  --socket PATH          the daemon's admin socket; default\n"
	"                         /var/lib/kura/kura-targetd.sock\n"
	"  --state-dir DIR        where the users file and a generated certificate\n"
	"                         live; default /var/lib/kura/console\n"
	"  --tls-cert F, --tls-key F\n"
	"                         PEM certificate and key; without them DIR/console.crt\n"
	"                         and DIR/console.key, created self-signed at first start\n"
	"  --users FILE           users and scrypt password hashes; default DIR/users\n"
	"  --metrics-token-file F GET /metrics wants \"Authorization: Bearer TOKEN\"\n"
	"                         (TOKEN: the file's first line, 16 characters or more);\n"
	"                         without it /metrics needs no login\n"
	"  --sample-interval S    scrape the daemon's counters every S seconds (1..60,\n"
	"                         default 5) for the per-LUN history of the last hour\n"
	"  --lockd-socket PATH    a kura-lockd control socket (its [host] socket =);\n"
	"                         repeat it for every host running on this machine:\n"
	"                         the Cluster page shows each one's view of the hosts\n"
	"                         (heartbeat state, incarnation) and VM leases\n"
	"  --add-user NAME        add or replace a user; the password (8 characters or\n"
	"                         more) is read from the first line of stdin\n"
	"\n"
	"Exit status: 0 stopped by SIGTERM / SIGINT or user added, 1 error, 2 usage.\n";

struct opts {
	char listen[128];
	const char *socket, *state, *cert, *key, *users, *token_file, *add_user, *level;
	long sample_s;
	const char *lockd[CONSOLE_LOCKD_MAX];
	int n_lockd;
};

static int usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	return code;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "listen", 1, 0, 'l' },
		{ "socket", 1, 0, 's' },
		{ "state-dir", 1, 0, 'd' },
		{ "tls-cert", 1, 0, 'c' },
		{ "tls-key", 1, 0, 'k' },
		{ "users", 1, 0, 'u' },
		{ "metrics-token-file", 1, 0, 't' },
		{ "add-user", 1, 0, 'a' },
		{ "log-level", 1, 0, 'L' },
		{ "sample-interval", 1, 0, 'S' },
		{ "lockd-socket", 1, 0, 'K' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int ch;
	bool bad = false;
	char *end;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': snprintf(o->listen, sizeof(o->listen), "%s", optarg); break;
		case 's': o->socket = optarg; break;
		case 'd': o->state = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'u': o->users = optarg; break;
		case 't': o->token_file = optarg; break;
		case 'a': o->add_user = optarg; break;
		case 'L': o->level = optarg; break;
		case 'S':
			o->sample_s = strtol(optarg, &end, 10);
			bad |= *end || o->sample_s < 1 || o->sample_s > 60;
			break;
		case 'K':
			bad |= o->n_lockd == CONSOLE_LOCKD_MAX;
			if (!bad)
				o->lockd[o->n_lockd++] = optarg;
			break;
		case 'h': return 1;
		default: return -1;
		}
	}
	return bad || optind < argc || !o->cert != !o->key ? -1 : 0;
}

/* "ADDR:PORT" or "[ADDR]:PORT" into cfg. */
static int split_listen(char *s, struct console_cfg *cfg)
{
	char *colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -EINVAL;
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s[n - 1] = '\0';
		s++;
	}
	cfg->listen_addr = s;
	cfg->port = (uint16_t)port;
	return 0;
}

/* The first line of stdin, without its newline (malloc'ed). */
static char *read_line_stdin(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static int add_user(const char *users, const char *name)
{
	char err[512];
	char *pw = read_line_stdin();
	if (!pw) {
		fprintf(stderr, "kura-console: no password on stdin\n");
		return 1;
	}
	int r = users_add(users, name, pw, err, sizeof(err));
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (r < 0) {
		fprintf(stderr, "kura-console: %s\n", err);
		return 1;
	}
	printf("user %s saved in %s\n", name, users);
	return 0;
}

static char *read_token(const char *file)
{
	FILE *f = fopen(file, "r");
	char *t = NULL;
	size_t cap = 0;
	if (f && getline(&t, &cap, f) > 0)
		t[strcspn(t, "\r\n")] = '\0';
	if (f)
		fclose(f);
	if (t && strlen(t) < 16) {
		free(t);
		t = NULL;
	}
	return t;
}

static int serve(struct opts *o, const char *users, const char *cert, const char *key)
{
	struct console_cfg cfg = { .socket = o->socket,
				   .users = users,
				   .sample_s = (unsigned)o->sample_s,
				   .n_lockd = o->n_lockd };
	memcpy(cfg.lockd, o->lockd, sizeof(cfg.lockd));
	char err[600];
	if (split_listen(o->listen, &cfg) < 0) {
		fprintf(stderr, "kura-console: --listen ADDR:PORT wanted, not %s\n", o->listen);
		return 2;
	}
	if (o->token_file && !(cfg.token = read_token(o->token_file))) {
		fprintf(stderr, "kura-console: %s: no token of 16 characters or more\n",
			o->token_file);
		return 1;
	}
	if (access(users, R_OK) != 0)
		kwarn("console: no users in %s yet: add one with kura-console --add-user NAME",
		      users);
	int r = tls_load_or_create(cert, key, &cfg.cert_pem, &cfg.key_pem, err, sizeof(err));
	if (r == 0)
		r = console_serve(&cfg, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "kura-console: %s\n", err);
	free(cfg.cert_pem);
	free(cfg.key_pem);
	free((char *)cfg.token);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .socket = "/var/lib/kura/kura-targetd.sock",
			  .state = "/var/lib/kura/console",
			  .sample_s = 5 };
	snprintf(o.listen, sizeof(o.listen), "127.0.0.1:8443");
	int p = parse_opts(argc, argv, &o);
	if (p)
		return usage(p > 0 ? 0 : 2);
	enum klog_level lvl;
	if (o.level && klog_parse_level(o.level, &lvl) < 0)
		return usage(2);
	if (o.level)
		klog_set_level(lvl);
	char users[4096], cert[4096], key[4096];
	snprintf(users, sizeof(users), "%s%s", o.users ? "" : o.state,
		 o.users ? o.users : "/users");
	snprintf(cert, sizeof(cert), "%s%s", o.cert ? "" : o.state,
		 o.cert ? o.cert : "/console.crt");
	snprintf(key, sizeof(key), "%s%s", o.key ? "" : o.state, o.key ? o.key : "/console.key");
	if (o.add_user)
		return add_user(users, o.add_user);
	/* Block the stop signals in every thread: console_serve waits for them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return serve(&o, users, cert, key);
}
