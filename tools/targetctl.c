/* SPDX-License-Identifier: Apache-2.0 */
/* kura-targetctl: send one administration request to a running kura-targetd
 * over its Unix socket and print the answer. The protocol is in
 * target/admin/admin.h: one request line, then output lines and "OK" / "ERR why".
 *
 * Not for: anything the daemon decides (this tool only forwards words).
 */
#include "common/unixsock.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_DAEMON = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

static const char usage_text[] =
	"Usage: kura-targetctl [-s SOCKET | --data-dir DIR] COMMAND [ARGS] [--json]\n"
	"Talk to a running kura-targetd (socket <data_dir>/kura-targetd.sock;\n"
	"default data_dir /var/lib/kura). Root or the daemon's user only.\n"
	"\n"
	"Commands:\n"
	"  list targets|portals|luns|sessions [--json]\n"
	"  show lun IQN LUN [--json]     size, identity, PR registrations, reservation\n"
	"  clear-reservation IQN LUN     drop every registration and the reservation\n"
	"                                (initiators see 2A/03 RESERVATIONS PREEMPTED)\n"
	"  alua show [--json]            port groups and their ALUA states\n"
	"  alua set PORT_GROUP STATE     active-optimized, active-nonoptimized, standby,\n"
	"                                unavailable or transitioning (2A/06 to all)\n"
	"  acl add|remove IQN INITIATOR  allow / stop allowing an initiator; remove also\n"
	"                                closes the sessions it no longer allows\n"
	"  chap add IQN USER [--secret-file F]\n"
	"                                add a CHAP account; the secret (12..255 printable\n"
	"                                characters, no spaces) is read from F or stdin\n"
	"  chap remove IQN USER          remove a CHAP account (next login)\n"
	"  lun add IQN LUN --backend file|memory [--path P] --size S\n"
	"          [--block-size 512|4096] [--thin yes|no]\n"
	"                                open and publish a LUN (file: created sparse if\n"
	"                                missing); sessions see 3F/0E REPORTED LUNS DATA\n"
	"                                HAS CHANGED\n"
	"  lun add IQN LUN --backend thin --pool P --volume ID [--read-only]\n"
	"          [--block-size 512|4096]\n"
	"                                export an existing thin volume (a snapshot is\n"
	"                                read-only); --backend raid --raid NAME: an array\n"
	"  lun add IQN LUN --backend rbd --rbd-pool P --rbd-image I [--rbd-conf F]\n"
	"          [--rbd-user U] [--rbd-keyring K] [--rbd-namespace N] [--read-only]\n"
	"                                export an RBD image (docs/ceph.md), e.g. a clone\n"
	"  lun remove IQN LUN [--force]  unpublish (new commands: 25/00), wait for its\n"
	"                                commands in flight, close it (a thin volume can\n"
	"                                then be deleted); refused while it holds a\n"
	"                                persistent reservation unless --force\n"
	"  raid status [NAME]            level, state, members and their states, rebuild /\n"
	"                                resync / scrub progress\n"
	"  raid scrub NAME [--repair]    check parity / mirrors (repair: rewrite mismatches)\n"
	"  raid scrub NAME --stop        stop the running scrub; prints where it stopped\n"
	"                                and its counters (the next scrub starts over)\n"
	"  raid fail NAME ROLE           drop member ROLE as if it had failed\n"
	"  raid remove NAME ROLE|PATH    take a failed member (or an unused spare) out of\n"
	"                                the array and the section's members / spares;\n"
	"                                the role shows missing until a spare rebuilds it;\n"
	"                                refused for an active member (fail it first)\n"
	"  raid add-spare NAME PATH      add a hot spare (PATH relative to the daemon's\n"
	"                                data_dir; saved in the section's spares); a\n"
	"                                failed role rebuilds onto it\n"
	"  pool status [NAME]            chunks total / used / free, volumes, overcommit,\n"
	"                                low-water events\n"
	"  raid create NAME --level 0|1|5|6|10 --members P1,P2,... --member-size S\n"
	"          [--chunk C]           a new array over new member files (sparse,\n"
	"                                no initial resync), saved as a [raid] section\n"
	"  pool create NAME --path FILE --size S | --raid NAME [--chunk-size C]\n"
	"          [--meta M]            a new thin pool (metadata NAME.meta unless\n"
	"          [--force-new]         --meta), saved as a [pool] section; refused\n"
	"                                over a data store holding data or a foreign\n"
	"                                metadata file unless --force-new (not saved)\n"
	"  pool grow NAME [--size S]     extend the pool's data file to S (or take the\n"
	"                                size it was extended to) and use the new chunks;\n"
	"                                refused for a pool on a RAID array (no reshape)\n"
	"  volume list POOL [--json]     id, size, mapped chunks / bytes, kind (volume,\n"
	"                                snapshot, clone), origin, exported as IQN:LUN\n"
	"  volume create POOL ID --size S\n"
	"  volume resize POOL ID --size S\n"
	"                                grow online (exported LUs report the new size:\n"
	"                                2A/09 CAPACITY DATA HAS CHANGED); shrink only\n"
	"                                while not exported\n"
	"  volume delete POOL ID         refused while exported (lun remove it first);\n"
	"                                snapshots and clones of it stay\n"
	"  snapshot create POOL ORIGIN_ID NEW_ID\n"
	"                                read-only point-in-time copy (prints the time)\n"
	"  clone create POOL ORIGIN_ID NEW_ID\n"
	"                                writable copy (prints the time)\n"
	"  snapshot create IQN LUN SNAP  RBD LU: an RBD snapshot of its image\n"
	"  clone create IQN LUN SNAP NEW_IMAGE\n"
	"                                RBD LU: a clone (format 2) of snapshot SNAP, a new\n"
	"                                image in the same pool; lun add exports it\n"
	"  metrics                       every counter and gauge in the Prometheus text\n"
	"                                format (kura-console serves it as /metrics)\n"
	"  raid ... NAME --wait          then poll until no rebuild, resync or scrub runs\n"
	"                                on NAME: a progress bar on a terminal, else one\n"
	"                                percentage line per change\n"
	"acl, chap, lun, raid create / add-spare / remove and pool create / grow\n"
	"changes are saved to the daemon's -c FILE (validated, atomic rename); with\n"
	"the embedded default they are run-time only. Volumes live in the pool's metadata.\n"
	"\n"
	"Exit status: 0 ok, 1 the daemon refused (ERR ...), 2 usage, 3 cannot connect.\n";

static int usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	return code;
}

/* Build "w1 w2 ...\n" from argv; -1 when a word is empty, has a space or is too long. */
static int build_request(int argc, char **argv, char *buf, size_t cap)
{
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (!l || strpbrk(argv[i], " \t\n") || n + l + 2 > cap)
			return -1;
		memcpy(buf + n, argv[i], l);
		n += l;
		buf[n++] = i + 1 < argc ? ' ' : '\n';
	}
	buf[n] = '\0';
	return (int)n;
}

/* The secret of "chap add": the first line of F (or stdin), newline removed;
 * printable ASCII without spaces, so that it travels as one request word. */
static int read_secret(const char *file, char *out, size_t cap)
{
	FILE *f = file ? fopen(file, "re") : stdin;
	if (!f)
		return -errno;
	if (!file && isatty(STDIN_FILENO))
		fputs("CHAP secret: ", stderr);
	char *got = fgets(out, (int)cap, f);
	if (file)
		fclose(f);
	if (!got)
		return -EINVAL;
	out[strcspn(out, "\r\n")] = '\0';
	size_t n = strlen(out);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x21 || (unsigned char)out[i] > 0x7E)
			return -EINVAL;
	return n >= 12 && n <= 255 ? 0 : -EINVAL;
}

/* "chap add IQN USER [--secret-file F]" => "chap add IQN USER SECRET" in
 * words[] (secret in secret[]). Other commands pass through. */
static int chap_words(int argc, char **argv, char **words, char *secret, size_t cap)
{
	int n = 0;
	const char *file = NULL;
	bool chap_add = argc >= 2 && !strcmp(argv[0], "chap") && !strcmp(argv[1], "add");
	for (int i = 0; i < argc && n < 16; i++) {
		if (chap_add && !strcmp(argv[i], "--secret-file") && i + 1 < argc)
			file = argv[++i];
		else
			words[n++] = argv[i];
	}
	if (!chap_add)
		return n;
	if (n != 4 || read_secret(file, secret, cap) < 0) {
		fprintf(stderr,
			"kura-targetctl: chap add IQN USER [--secret-file F]: the secret "
			"(from F or stdin) must be 12..255 printable characters without spaces\n");
		return -1;
	}
	words[n++] = secret;
	return n;
}

/* "lun add ... --backend X --path P --size S --block-size B --thin T
 * --pool P --volume V --raid R --read-only" => the request words
 * "backend=X path=P size=S block_size=B thin=T pool=P volume=V raid=R
 * read_only=yes" (buf holds them); the same for the options of volume, pool
 * and raid create requests (--level L => level=L, --member-size S =>
 * member_size=S...); other words pass through. */
static int lun_words(int n, char **words, char (*buf)[600])
{
	static const char *const opt[][2] = { { "--backend", "backend" },
					      { "--path", "path" },
					      { "--size", "size" },
					      { "--block-size", "block_size" },
					      { "--thin", "thin" },
					      { "--pool", "pool" },
					      { "--volume", "volume" },
					      { "--raid", "raid" },
					      { "--chunk-size", "chunk_size" },
					      { "--meta", "meta" },
					      { "--level", "level" },
					      { "--members", "members" },
					      { "--member-size", "member_size" },
					      { "--chunk", "chunk" },
					      { "--rbd-pool", "rbd_pool" },
					      { "--rbd-image", "rbd_image" },
					      { "--rbd-conf", "rbd_conf" },
					      { "--rbd-user", "rbd_user" },
					      { "--rbd-keyring", "rbd_keyring" },
					      { "--rbd-namespace", "rbd_namespace" } };
	bool lun_add = n >= 2 && !strcmp(words[0], "lun") && !strcmp(words[1], "add");
	bool raid_create = n >= 2 && !strcmp(words[0], "raid") && !strcmp(words[1], "create");
	if (!lun_add && !raid_create &&
	    (n < 2 || (strcmp(words[0], "volume") && strcmp(words[0], "pool"))))
		return n;
	int out = 0, nb = 0;
	for (int i = 0; i < n; i++) {
		size_t k = 0;
		if (lun_add && !strcmp(words[i], "--read-only")) {
			words[out++] = "read_only=yes";
			continue;
		}
		while (k < sizeof(opt) / sizeof(opt[0]) && strcmp(words[i], opt[k][0]))
			k++;
		if (k == sizeof(opt) / sizeof(opt[0]) || i + 1 == n) {
			words[out++] = words[i];
			continue;
		}
		snprintf(buf[nb], sizeof(buf[nb]), "%s=%s", opt[k][1], words[++i]);
		words[out++] = buf[nb++];
	}
	return out;
}

/* Copy the answer to stdout, the status line decides the exit code. */
static int relay(int fd)
{
	FILE *f = fdopen(fd, "r");
	if (!f)
		return EXIT_CONNECT;
	char line[8192];
	int code = EXIT_DAEMON; /* no status line: the daemon went away */
	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "OK\n")) {
			code = EXIT_OK;
			break;
		}
		if (!strncmp(line, "ERR ", 4)) {
			fprintf(stderr, "kura-targetctl: %s", line + 4);
			break;
		}
		fputs(line, stdout);
	}
	fclose(f);
	return code;
}

/* Send one request line and read the whole answer into out (NUL-ended);
 * the exit code as relay() would give it. */
static int fetch(const char *sock, const char *req, char *out, size_t cap)
{
	int fd = kunix_connect(sock);
	if (fd < 0)
		return EXIT_CONNECT;
	size_t len = strlen(req), n = 0;
	if (write(fd, req, len) != (ssize_t)len) {
		close(fd);
		return EXIT_CONNECT;
	}
	shutdown(fd, SHUT_WR);
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, out + n, cap - n - 1)) > 0)
		n += (size_t)r;
	close(fd);
	out[n] = '\0';
	if (n >= 3 && !strcmp(out + n - 3, "OK\n"))
		return EXIT_OK;
	return EXIT_DAEMON;
}

/* Value of " key=" in the first line of s, or -1. */
static long field(const char *s, const char *key)
{
	size_t kl = strlen(key);
	const char *eol = strchr(s, '\n');
	for (const char *p = strchr(s, ' '); p && (!eol || p < eol); p = strchr(p + 1, ' '))
		if (!strncmp(p + 1, key, kl) && p[1 + kl] == '=')
			return strtol(p + 2 + kl, NULL, 10);
	return -1;
}

static void progress(const char *what, long pct, bool tty)
{
	char bar[41];
	int fill = (int)(pct < 0 ? 0 : pct > 100 ? 40 : pct * 40 / 100);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(40 - fill));
	bar[40] = '\0';
	if (tty)
		printf("\r%-24s [%s] %3ld%%", what, bar, pct);
	else
		printf("%s: %ld%%\n", what, pct);
	fflush(stdout);
}

/* --wait after a raid request: poll "raid status NAME" every 250 ms until no
 * rebuild, resync or scrub runs and no spare waits for a failed role. */
static int wait_raid(const char *sock, const char *name)
{
	char req[200], st[16384], what[64] = "", last[64] = "";
	long last_pct = -1;
	bool tty = isatty(STDOUT_FILENO);
	snprintf(req, sizeof(req), "raid status %s\n", name);
	for (;;) {
		int code = fetch(sock, req, st, sizeof(st));
		if (code != EXIT_OK) {
			fprintf(stderr, "kura-targetctl: raid status %s: %s", name,
				code == EXIT_CONNECT ? "cannot connect\n" : st);
			return code;
		}
		long pct = -1;
		if (field(st, "rebuilding") == 1) {
			snprintf(what, sizeof(what), "rebuild %s role %ld", name,
				 field(st, "rebuild_role"));
			pct = field(st, "rebuild_pct");
		} else if (field(st, "resyncing") == 1) {
			snprintf(what, sizeof(what), "resync %s", name);
			pct = field(st, "resync_pct");
		} else if (field(st, "scrubbing") == 1) {
			snprintf(what, sizeof(what), "scrub %s", name);
			pct = field(st, "scrub_pct");
		} else if (!(field(st, "spares") > 0 && field(st, "failed") > 0)) {
			break;
		}
		if (pct >= 0 && (pct != last_pct || strcmp(what, last))) {
			if (tty && last[0] && strcmp(what, last)) {
				progress(last, 100, tty); /* the previous step is done */
				putchar('\n');
			}
			progress(what, pct, tty);
			last_pct = pct;
			snprintf(last, sizeof(last), "%s", what);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 250000000 }, NULL);
	}
	if (last[0])
		progress(last, 100, tty);
	if (last[0] && tty)
		putchar('\n');
	fwrite(st, 1, strcspn(st, "\n") + 1, stdout); /* the final status line */
	return EXIT_OK;
}

/* Drop "--wait" from words; true if it was there. */
static bool take_wait(int *n, char **words)
{
	bool w = false;
	int out = 0;
	for (int i = 0; i < *n; i++)
		if (!strcmp(words[i], "--wait"))
			w = true;
		else
			words[out++] = words[i];
	*n = out;
	return w;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *dir = "/var/lib/kura";
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--json"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(EXIT_OK);
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc)
			dir = argv[++i];
		else
			return usage(EXIT_USAGE);
	}
	if (i == argc)
		return usage(EXIT_USAGE);
	char path[4200], req[1100];
	if (!sock) {
		snprintf(path, sizeof(path), "%s/kura-targetd.sock", dir);
		sock = path;
	}
	char *words[16], secret[300] = "";
	int nw = chap_words(argc - i, argv + i, words, secret, sizeof(secret));
	if (nw < 0)
		return EXIT_USAGE;
	char lun_buf[16][600];
	nw = lun_words(nw, words, lun_buf);
	bool wait = take_wait(&nw, words);
	if (wait && (nw < 3 || strcmp(words[0], "raid") || !strcmp(words[2], "--json"))) {
		fprintf(stderr,
			"kura-targetctl: --wait goes with raid status|scrub|fail|add-spare NAME\n");
		return EXIT_USAGE;
	}
	int br = build_request(nw, words, req, sizeof(req));
	explicit_bzero(secret, sizeof(secret));
	if (br < 0) {
		explicit_bzero(req, sizeof(req));
		fprintf(stderr, "kura-targetctl: empty or too long argument\n");
		return EXIT_USAGE;
	}
	int fd = kunix_connect(sock);
	if (fd < 0) {
		explicit_bzero(req, sizeof(req));
		fprintf(stderr, "kura-targetctl: %s: %s\n", sock, strerror(-fd));
		return EXIT_CONNECT;
	}
	size_t len = strlen(req);
	ssize_t w = write(fd, req, len);
	explicit_bzero(req, sizeof(req));
	if (w != (ssize_t)len) {
		close(fd);
		return EXIT_CONNECT;
	}
	shutdown(fd, SHUT_WR);
	int code = relay(fd);
	return code == EXIT_OK && wait ? wait_raid(sock, words[2]) : code;
}
