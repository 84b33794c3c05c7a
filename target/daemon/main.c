/* SPDX-License-Identifier: Apache-2.0 */
/* kura-targetd: the iSCSI target daemon's main. Parses the command line,
 * loads and checks the configuration, daemonizes (unless --foreground),
 * opens the LUNs, starts the server, drops root, prints a paste-able
 * "how to connect" block, then waits for signals.
 *
 * Start-up order matters: fork before any thread exists (the server's
 * workers would not survive fork), bind and open LUNs while still root
 * (port 3260, block devices), hand data_dir over to `user` and only then
 * drop to it. In the
 * background the first process stays until the daemon reports ready through
 * a pipe, so start-up failures still reach the terminal and the exit code.
 *
 * Not for: parsing the configuration (config.c) or serving (server.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "target/admin/admin.h"
#include "target/model/model.h"
#include "target/transport/server.h"

#define KURA_VERSION "0.1.0"

/* Exit codes (documented in --help and docs/configuration.md). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_BAD = 2 };

struct opts {
	const char *config; /* NULL => embedded default */
	const char *listen[TGT_MAX_PORTALS];
	int n_listen;
	char data_dir[PATH_MAX];
	bool foreground, check, print_default;
	int log_level; /* -1 => config, else info */
	int workers;   /* -1 => config */
};

static const char usage_text[] =
	"Usage: kura-targetd [OPTIONS]\n"
	"Serve iSCSI targets (LUNs in files or memory) as configured.\n"
	"\n"
	"  -c, --config FILE        configuration file (default: the embedded default,\n"
	"                           see --print-default-config)\n"
	"      --listen ADDR:PORT   portal to listen on, repeatable; replaces the\n"
	"                           config's portals (IPv6: [ADDR]:PORT)\n"
	"      --data-dir DIR       where relative LUN paths and the pid file live\n"
	"      --foreground         stay in the foreground, log to stderr, no pid file\n"
	"      --log-level LEVEL    error, warn, info or debug\n"
	"      --workers N          worker threads (0 = one per CPU)\n"
	"      --print-default-config  print the embedded configuration and exit\n"
	"      --check-config       parse and validate the configuration and open every\n"
	"                           path it names read-only (LUN files and devices,\n"
	"                           pool and RAID files), then exit\n"
	"  -h, --help               this text\n"
	"      --version            print the version\n"
	"\n"
	"Exit status: 0 ok, 1 runtime failure, 2 bad usage or configuration.\n"
	"Signals: TERM/INT log every session out (2 s grace) and exit 0; HUP is\n"
	"logged (reload is not supported yet).\n"
	"Reference: docs/configuration.md\n";

enum {
	OPT_LISTEN = 256,
	OPT_DATA_DIR,
	OPT_FOREGROUND,
	OPT_LOG_LEVEL,
	OPT_WORKERS,
	OPT_PRINT_DEFAULT,
	OPT_CHECK,
	OPT_VERSION
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* ---------------------------------------------------------------- options */

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "kura-targetd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'kura-targetd --help'.\n");
	return EXIT_BAD;
}

/* Relative --data-dir is taken from the directory kura-targetd starts in. */
static int absolute_dir(const char *dir, char *out)
{
	char cwd[PATH_MAX];
	if (dir[0] == '/')
		return snprintf(out, PATH_MAX, "%s", dir) < PATH_MAX ? 0 : -1;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return snprintf(out, PATH_MAX, "%s/%s", cwd, dir) < PATH_MAX ? 0 : -1;
}

static int parse_workers(const char *s, int *out)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (!*s || *end || n < 0 || n > 256)
		return -1;
	*out = (int)n;
	return 0;
}

/* One option; returns -1 to go on, else an exit code. */
static int take_opt(struct opts *o, int c, const char *arg)
{
	enum klog_level lvl;
	switch (c) {
	case 'c': o->config = arg; return -1;
	case OPT_LISTEN:
		if (o->n_listen == TGT_MAX_PORTALS)
			return bad_usage("at most 16 --listen addresses%s", "");
		o->listen[o->n_listen++] = arg;
		return -1;
	case OPT_DATA_DIR:
		return absolute_dir(arg, o->data_dir) < 0
			       ? bad_usage("--data-dir %s: path too long", arg)
			       : -1;
	case OPT_FOREGROUND: o->foreground = true; return -1;
	case OPT_LOG_LEVEL:
		if (klog_parse_level(arg, &lvl) < 0)
			return bad_usage("--log-level %s: use error, warn, info or debug", arg);
		o->log_level = (int)lvl;
		return -1;
	case OPT_WORKERS:
		return parse_workers(arg, &o->workers) < 0
			       ? bad_usage("--workers %s: use 0..256", arg)
			       : -1;
	case OPT_PRINT_DEFAULT: o->print_default = true; return -1;
	case OPT_CHECK: o->check = true; return -1;
	case 'h': fputs(usage_text, stdout); return EXIT_OK;
	case OPT_VERSION: printf("kura-targetd %s\n", KURA_VERSION); return EXIT_OK;
	default: /* getopt_long has said what was wrong */
		fprintf(stderr, "Try 'kura-targetd --help'.\n");
		return EXIT_BAD;
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int c, r;
	*o = (struct opts){ .log_level = -1, .workers = -1 };
	while ((c = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1)
		if ((r = take_opt(o, c, optarg)) >= 0)
			return r;
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	return -1;
}

/* ---------------------------------------------------------------- configuration */

static int apply_overrides(const struct opts *o, struct tgt_config *cfg)
{
	char err[512];
	if (o->n_listen && tgt_config_set_listen(cfg, o->listen, o->n_listen, err, sizeof(err)) < 0)
		return bad_usage("%s", err);
	if (o->data_dir[0] && tgt_config_set_data_dir(cfg, o->data_dir) < 0)
		return bad_usage("--data-dir %s: not usable", o->data_dir);
	if (o->workers >= 0)
		cfg->workers = o->workers;
	if (o->log_level >= 0)
		cfg->log_level = o->log_level;
	klog_set_level(cfg->log_level >= 0 ? (enum klog_level)cfg->log_level : KLOG_INFO);
	return -1;
}

static int count_luns(const struct tgt_config *cfg)
{
	int n = 0;
	for (int i = 0; i < cfg->n_targets; i++)
		n += cfg->targets[i].n_luns;
	return n;
}

/* The account to run as, looked up before anything starts. */
static int resolve_user(const struct tgt_config *cfg, uid_t *uid, gid_t *gid)
{
	if (!cfg->user[0])
		return 0;
	struct passwd *pw = getpwnam(cfg->user);
	if (!pw) {
		fprintf(stderr, "kura-targetd: %s: user = %s: no such user\n", cfg->source,
			cfg->user);
		return -ENOENT;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* ---------------------------------------------------------------- daemon */

/* Double fork + setsid. The original process waits on a pipe for the
 * daemon's "ready" byte and exits 0, or 1 if the daemon dies first. */
static int daemonize(int *notify)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c;
		close(pfd[1]);
		ssize_t n;
		while ((n = read(pfd[0], &c, 1)) < 0 && errno == EINTR)
			;
		_exit(n == 1 ? EXIT_OK : EXIT_RUNTIME);
	}
	close(pfd[0]);
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(EXIT_RUNTIME);
	if (pid > 0)
		_exit(EXIT_OK);
	if (chdir("/") < 0)
		_exit(EXIT_RUNTIME);
	*notify = pfd[1];
	return 0;
}

/* stdin/stdout to /dev/null; stderr too if it is a terminal (a file or
 * journald pipe the operator gave us keeps the log). Then tell the parent. */
static void daemon_ready(int notify)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (isatty(STDERR_FILENO))
			dup2(null, STDERR_FILENO);
		close(null);
	}
	ssize_t w = write(notify, "k", 1);
	(void)w;
	close(notify);
}

/* <data_dir>/kura-targetd.pid, locked for the daemon's lifetime. */
static int write_pid_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		fprintf(stderr, "kura-targetd: %s: %s\n", path,
			e == EWOULDBLOCK ? "another kura-targetd is running" : strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (ftruncate(fd, 0) < 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* ---------------------------------------------------------------- user = */

/* With `user =`, what the daemon keeps in data_dir must be the user's once
 * root is gone: the pid file, the admin socket (kura-targetctl as that
 * user), <data_dir>/pr and its files (PR OUT with APTPL writes there), the
 * pool and LUN images created at start-up, storage.status. They are made
 * as root (LUNs open and ports bind before the drop), so they are handed
 * over just before it; what the daemon creates afterwards (PR files,
 * kura-targetctl pool / volume create) is the user's anyway. Entries that
 * belong to another user, symlinks and device nodes are left alone. */
static void own_entry(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	if (lstat(path, &st) < 0 || st.st_uid != 0 ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	if (lchown(path, uid, gid) < 0)
		kwarn("cannot give %s to the daemon's user: %s", path, strerror(errno));
}

/* dir and its entries; with pr, also the entries of dir/pr. */
static void own_dir(const char *dir, uid_t uid, gid_t gid, bool pr)
{
	char path[PATH_MAX + 264];
	own_entry(dir, uid, gid);
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (pr && strcmp(e->d_name, "pr") == 0)
			own_dir(path, uid, gid, false);
		else
			own_entry(path, uid, gid);
	}
	closedir(d);
}

/* kura-targetctl's changes rewrite the configuration next to itself (a
 * temporary file, then rename): say so now if the user cannot. */
static void check_config_dir(const struct tgt_config *cfg)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", cfg->config_path);
	char *slash = strrchr(dir, '/');
	if (!cfg->config_path[0] || !slash)
		return;
	slash[slash == dir] = '\0';
	if (access(dir, W_OK | X_OK) < 0)
		kwarn("user %s cannot write in %s: kura-targetctl changes will not be saved to %s",
		      cfg->user, dir, cfg->config_path);
}

static int drop_privileges(const struct tgt_config *cfg, uid_t uid, gid_t gid)
{
	if (!cfg->user[0])
		return 0;
	if (geteuid() != 0) {
		kwarn("user = %s ignored: not started as root", cfg->user);
		return 0;
	}
	own_dir(cfg->data_dir, uid, gid, true);
	/* the user's own groups (e.g. "disk" for block devices opened later) */
	if (initgroups(cfg->user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		kerr("cannot switch to user %s: %s", cfg->user, strerror(errno));
		return -EPERM;
	}
	if (setuid(0) == 0) {
		kerr("dropping to user %s did not stick", cfg->user);
		return -EPERM;
	}
	kinfo("running as user %s (uid %u, gid %u)", cfg->user, (unsigned)uid, (unsigned)gid);
	check_config_dir(cfg);
	return 0;
}

/* ---------------------------------------------------------------- banner */

static void human_size(uint64_t bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1024, u++;
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_lun(const struct tgt_lun *ml, const char *sep)
{
	char size[32];
	const struct tgt_lun_conf *l = &ml->c;
	const struct lun_backend_params *b = &l->backend;
	human_size(scsi_lu_size_blocks(ml->lu) * b->block_size, size, sizeof(size));
	if (l->stor.pool || l->stor.raid) { /* thin volume / array (docs/storage.md) */
		if (l->stor.pool)
			printf("%sLUN %llu: %s%s thin pool %s volume %u", sep,
			       (unsigned long long)l->lun, size,
			       l->stor.snapshot ? " snapshot" : "", l->stor.pool, l->stor.volume);
		else
			printf("%sLUN %llu: %s raid %s", sep, (unsigned long long)l->lun, size,
			       l->stor.raid);
		return;
	}
	printf("%sLUN %llu: %s%s%s %s%s%s", sep, (unsigned long long)l->lun, size,
	       l->ident.thin ? " thin" : "", b->read_only ? " read-only" : "", b->type,
	       b->path ? " " : "", b->path ? b->path : "");
}

/* Host part of a URL for a portal: wildcards become loopback. */
static void url_host(const struct tgt_portal *p, char *out, size_t len)
{
	const char *a = strcmp(p->addr, "0.0.0.0") == 0 ? "127.0.0.1"
			: strcmp(p->addr, "::") == 0    ? "::1"
							: p->addr;
	snprintf(out, len, strchr(a, ':') ? "[%s]" : "%s", a);
}

static void print_banner(const struct tgt_model *m)
{
	const struct tgt_config *cfg = m->conf;
	char host[80], first[512] = "";
	for (int i = 0; i < m->n_targets; i++) {
		const struct tgt_target *t = &m->targets[i];
		printf("kura-targetd: serving %s (", t->iqn);
		for (int j = 0; j < t->n_luns; j++)
			print_lun(&t->luns[j], j ? ", " : "");
		printf("%s)\n", t->n_luns ? "" : "no LUNs");
	}
	for (int i = 0; i < cfg->n_portals; i++)
		printf("portal %s%s%s:%u tpgt %u\n", strchr(cfg->portals[i].addr, ':') ? "[" : "",
		       cfg->portals[i].addr, strchr(cfg->portals[i].addr, ':') ? "]" : "",
		       cfg->portals[i].port, cfg->portals[i].tpgt);
	url_host(&cfg->portals[0], host, sizeof(host));
	for (int i = 0; i < m->n_targets; i++)
		for (int j = 0; j < m->targets[i].n_luns; j++) {
			char url[512];
			snprintf(url, sizeof(url), "iscsi://%s:%u/%s/%llu", host,
				 cfg->portals[0].port, m->targets[i].iqn,
				 (unsigned long long)m->targets[i].luns[j].c.lun);
			printf("url:  %s\n", url);
			if (!first[0])
				snprintf(first, sizeof(first), "%s", url);
		}
	if (first[0])
		printf("try:  qemu-img info %s\n", first);
	fflush(stdout);
}

/* ---------------------------------------------------------------- run */

static void block_signals(sigset_t *set)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigprocmask(SIG_BLOCK, set, NULL); /* inherited by the worker threads */
}

static void wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);
		if (sig == SIGHUP)
			kinfo("SIGHUP: reload not supported yet");
		else if (sig == SIGTERM || sig == SIGINT) {
			kinfo("%s: logging sessions out", strsignal(sig));
			return;
		}
	}
}

struct daemon {
	struct opts *o;
	struct tgt_config cfg;   /* the parsed value: const once loaded */
	struct tgt_model *model; /* the live model built from it (model.h) */
	struct tgt_server *server;
	struct tgt_admin *admin; /* kura-targetctl socket (admin.c) */
	uid_t uid;
	gid_t gid;
	int notify; /* pipe to the waiting parent, or -1 */
	int pid_fd;
	char pid_path[PATH_MAX + 32];
};

static int runtime_failure(const char *why)
{
	fprintf(stderr, "kura-targetd: %s\n", why);
	return EXIT_RUNTIME;
}

/* Everything after the configuration is known good; returns an exit code. */
static int start(struct daemon *d)
{
	char err[1024];
	int r;
	if (!d->o->foreground && (r = daemonize(&d->notify)) < 0)
		return runtime_failure(strerror(-r));
	if (tgt_model_open(&d->cfg, &d->model, err, sizeof(err)) < 0)
		return runtime_failure(err);
	snprintf(d->pid_path, sizeof(d->pid_path), "%s/kura-targetd.pid", d->cfg.data_dir);
	if (!d->o->foreground && (d->pid_fd = write_pid_file(d->pid_path)) < 0)
		return EXIT_RUNTIME;
	if (tgt_model_alua_setup(d->model) < 0)
		return runtime_failure("too many ALUA port groups / ports");
	if (tgt_server_start(d->model, &d->server, err, sizeof(err)) < 0)
		return runtime_failure(err);
	if (tgt_admin_start(d->model, d->server, NULL, &d->admin, err, sizeof(err)) < 0)
		kwarn("%s (kura-targetctl will not work)", err);
	if (drop_privileges(&d->cfg, d->uid, d->gid) < 0)
		return EXIT_RUNTIME;
	print_banner(d->model);
	if (d->notify >= 0)
		daemon_ready(d->notify);
	return EXIT_OK;
}

static void stop(struct daemon *d)
{
	tgt_admin_stop(d->admin);
	if (d->server)
		tgt_server_shutdown(d->server, 2000);
	tgt_model_close(d->model);
	tgt_config_free(&d->cfg);
	if (d->pid_fd >= 0) {
		unlink(d->pid_path); /* may fail once root is dropped; the lock is what counts */
		close(d->pid_fd);
	}
}

/* --check-config: the parse, then every path the file names (read-only). */
static int check_only(const struct tgt_config *cfg)
{
	int n = tgt_config_check_paths(cfg, stderr);
	if (n) {
		fprintf(stderr, "kura-targetd: %s: %d problem(s) with the paths above\n",
			cfg->source, n);
		return EXIT_BAD;
	}
	printf("%s: ok: %d target(s), %d LUN(s), %d portal(s)\n", cfg->source, cfg->n_targets,
	       count_luns(cfg), cfg->n_portals);
	return EXIT_OK;
}

static int load(struct daemon *d)
{
	char err[1024];
	if (tgt_config_load(d->o->config, &d->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "kura-targetd: %s\n", err);
		return EXIT_BAD;
	}
	int r = apply_overrides(d->o, &d->cfg);
	if (r < 0 && resolve_user(&d->cfg, &d->uid, &d->gid) < 0)
		r = EXIT_BAD;
	if (r >= 0)
		tgt_config_free(&d->cfg);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct daemon d = { .o = &o, .notify = -1, .pid_fd = -1 };
	sigset_t set;
	int r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	if (o.print_default)
		return fputs(tgt_default_config, stdout) < 0 ? EXIT_RUNTIME : EXIT_OK;
	if ((r = load(&d)) >= 0)
		return r;
	if (o.check) {
		r = check_only(&d.cfg);
		tgt_config_free(&d.cfg);
		return r;
	}
	block_signals(&set);
	r = start(&d);
	if (r == EXIT_OK)
		wait_for_stop(&set);
	stop(&d);
	return r;
}
