/* SPDX-License-Identifier: Apache-2.0 */
/* kura-multipath's command line: reads kura-initiatord's MAPS and prints
 * them (multipath_fmt.c), or asks it to fail / reinstate a path or fail a
 * map's queued I/O.
 *
 * Exit codes as multipath-tools: 0 success, 1 failure (daemon not
 * reachable, no such map or path, bad usage). The path commands print
 * multipathd's "ok" / "fail".
 *
 * Not for: layouts (multipath_fmt.c) or the daemon side (mpath_report.c).
 */
#include "initiator/multipath.h"
#include "initiator/ctl_client.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MP_TIMEOUT_MS 10000
#define MP_MAX_MAPS   64

struct mp_cli {
	const char *sock;
	bool json;
	struct mp_map maps[MP_MAX_MAPS];
	int n;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kura-multipath [--ctl PATH] COMMAND\n"
		"  -ll [MAP]                 multipath -ll: maps, path groups and paths\n"
		"  show paths [--json]       multipathd show paths\n"
		"  show maps [--json]        multipathd show maps\n"
		"  show topology [--json]    same as -ll (--json: as show maps --json)\n"
		"  fail path PATH            no I/O on PATH until reinstated, even if healthy\n"
		"  reinstate path PATH       PATH carries I/O again\n"
		"  fail queue MAP|all        fail the I/O queued on a map with no path (EIO)\n"
		"PATH is a session id, SID:0:0:LUN as shown in the hcil column, or the\n"
		"portal ADDR:PORT (every session to it); MAP is the alias, the WWID\n"
		"(naa.<hex>) or the device path. Exit 0 on success, 1 on failure.\n"
		"--ctl PATH (or KURA_INITIATORD_SOCK): kura-initiatord's control socket.\n");
}

static int errf(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "kura-multipath: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 1;
}

static int ask(struct mp_cli *c, int argc, const char *const *argv, struct ctlc_reply *rep)
{
	int rc = ctlc_call(c->sock, argc, argv, MP_TIMEOUT_MS, rep);
	if (rc)
		return errf("cannot reach kura-initiatord at %s: %s", c->sock, strerror(-rc));
	return 0;
}

static void get(const char *line, const char *key, char *out, size_t len)
{
	if (ctlc_kv_get(line, key, out, len))
		out[0] = 0;
}

static int geti(const char *line, const char *key)
{
	char v[32];
	get(line, key, v, sizeof(v));
	return atoi(v);
}

static void parse_map(struct mp_map *m, const char *l)
{
	char v[32];
	memset(m, 0, sizeof(*m));
	get(l, "wwid", m->wwid, sizeof(m->wwid));
	get(l, "alias", m->alias, sizeof(m->alias));
	get(l, "device", m->device, sizeof(m->device));
	get(l, "vendor", m->vendor, sizeof(m->vendor));
	get(l, "product", m->product, sizeof(m->product));
	get(l, "policy", m->policy, sizeof(m->policy));
	get(l, "queue", m->queue, sizeof(m->queue));
	get(l, "size", v, sizeof(v));
	m->size = strtoull(v, NULL, 10);
	get(l, "alua", v, sizeof(v));
	m->alua = !strcmp(v, "yes");
	m->queued = geti(l, "queued");
	m->no_path_retry_s = geti(l, "no_path_retry_s");
}

static void parse_path(struct mp_path *p, const char *l)
{
	char v[16];
	memset(p, 0, sizeof(*p));
	p->sid = geti(l, "sid");
	p->lun = geti(l, "lun");
	p->tpgt = geti(l, "tpgt");
	p->alua = geti(l, "alua");
	p->group = geti(l, "group");
	p->port = (unsigned)geti(l, "port");
	get(l, "target", p->target, sizeof(p->target));
	get(l, "address", p->address, sizeof(p->address));
	get(l, "state", p->state, sizeof(p->state));
	get(l, "isid", p->isid, sizeof(p->isid));
	get(l, "admin", v, sizeof(v));
	p->admin_failed = !strcmp(v, "failed");
	get(l, "active", v, sizeof(v));
	p->active = !strcmp(v, "yes");
}

static int load(struct mp_cli *c)
{
	static const char *const argv[] = { "MAPS" };
	struct ctlc_reply rep;
	char kind[8];
	if (ask(c, 1, argv, &rep))
		return 1;
	int rc = rep.code ? errf("kura-initiatord: %s%s", rep.msg ? rep.msg : "error", "") : 0;
	for (int i = 0; !rc && i < rep.nlines; i++) {
		get(rep.lines[i], "kind", kind, sizeof(kind));
		if (!strcmp(kind, "map") && c->n < MP_MAX_MAPS)
			parse_map(&c->maps[c->n++], rep.lines[i]);
		else if (!strcmp(kind, "path") && c->n &&
			 c->maps[c->n - 1].n_paths < MP_MAX_PATHS) {
			struct mp_map *m = &c->maps[c->n - 1];
			parse_path(&m->paths[m->n_paths++], rep.lines[i]);
		}
	}
	ctlc_reply_free(&rep);
	return rc;
}

static bool map_is(const struct mp_map *m, const char *name)
{
	return !strcmp(name, m->alias) || !strcmp(name, m->wwid) || !strcmp(name, m->device);
}

static int cmd_ll(struct mp_cli *c, const char *only)
{
	if (load(c))
		return 1;
	if (!only) {
		mp_print_ll(stdout, c->maps, c->n);
		return 0;
	}
	for (int i = 0; i < c->n; i++)
		if (map_is(&c->maps[i], only)) {
			mp_print_ll(stdout, &c->maps[i], 1);
			return 0;
		}
	return errf("%s: no such map%s", only, "");
}

static int cmd_show(struct mp_cli *c, const char *what)
{
	if (strcmp(what, "paths") && strcmp(what, "maps") && strcmp(what, "topology"))
		return errf("show %s: unknown (paths, maps, topology)%s", what, "");
	if (load(c))
		return 1;
	if (!strcmp(what, "paths"))
		mp_print_paths(stdout, c->maps, c->n, c->json);
	else if (!strcmp(what, "maps") || c->json)
		mp_print_maps(stdout, c->maps, c->n, c->json);
	else
		mp_print_ll(stdout, c->maps, c->n);
	return 0;
}

/* Does PATH (sid, SID:0:0:LUN or ADDR:PORT) name this path? */
static bool path_is(const struct mp_path *p, const char *spec)
{
	char pt[96], *end;
	long sid = strtol(spec, &end, 10);
	if (end != spec &&
	    (*end == 0 || (*end == ':' && strchr(spec, '.') == NULL && strchr(end + 1, ':'))))
		return sid == p->sid;
	snprintf(pt, sizeof(pt), strchr(p->address, ':') ? "[%s]:%u" : "%s:%u", p->address,
		 p->port);
	return !strcmp(spec, pt);
}

static int path_verb(struct mp_cli *c, const char *verb, const char *spec)
{
	int sids[64], n = 0, rc = 0;
	if (load(c))
		return 1;
	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < c->maps[i].n_paths; k++) {
			int sid = c->maps[i].paths[k].sid, dup = 0;
			for (int j = 0; j < n; j++)
				dup |= sids[j] == sid;
			if (!dup && n < 64 && path_is(&c->maps[i].paths[k], spec))
				sids[n++] = sid;
		}
	if (!n) {
		puts("fail");
		return errf("%s: no such path%s", spec, "");
	}
	for (int j = 0; j < n && !rc; j++) {
		char sid[16];
		const char *argv[] = { verb, sid };
		struct ctlc_reply rep;
		snprintf(sid, sizeof(sid), "%d", sids[j]);
		if (ask(c, 2, argv, &rep))
			rc = 1;
		else if (rep.code)
			rc = errf("%s: %s", spec, rep.msg ? rep.msg : "refused");
		if (!rc)
			ctlc_reply_free(&rep);
	}
	puts(rc ? "fail" : "ok");
	return rc;
}

static int fail_queue(struct mp_cli *c, const char *map)
{
	const char *name = map;
	if (strcmp(map, "all")) {
		if (load(c))
			return 1;
		name = NULL;
		for (int i = 0; i < c->n && !name; i++)
			if (map_is(&c->maps[i], map))
				name = c->maps[i].wwid;
		if (!name) {
			puts("fail");
			return errf("%s: no such map%s", map, "");
		}
	}
	const char *argv[] = { "FAIL-QUEUE", name };
	struct ctlc_reply rep;
	if (ask(c, 2, argv, &rep))
		return 1;
	int rc = rep.code ? errf("%s: %s", map, rep.msg ? rep.msg : "refused") : 0;
	ctlc_reply_free(&rep);
	puts(rc ? "fail" : "ok");
	return rc;
}

static int dispatch(struct mp_cli *c, int argc, char **argv)
{
	if (argc >= 1 && (!strcmp(argv[0], "-ll") || !strcmp(argv[0], "-l")) && argc <= 2)
		return cmd_ll(c, argc == 2 ? argv[1] : NULL);
	if (argc == 2 && !strcmp(argv[0], "show"))
		return cmd_show(c, argv[1]);
	if (argc == 3 && !strcmp(argv[1], "path") && !strcmp(argv[0], "fail"))
		return path_verb(c, "PATH-FAIL", argv[2]);
	if (argc == 3 && !strcmp(argv[1], "path") && !strcmp(argv[0], "reinstate"))
		return path_verb(c, "PATH-REINSTATE", argv[2]);
	if (argc == 3 && !strcmp(argv[1], "queue") && !strcmp(argv[0], "fail"))
		return fail_queue(c, argv[2]);
	usage(stderr);
	return 1;
}

int kura_multipath_main(int argc, char **argv)
{
	static struct mp_cli c;
	const char *sock = NULL;
	char *rest[8];
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--ctl") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			c.json = true;
		else if (n < 8)
			rest[n++] = argv[i];
	}
	c.sock = ctlc_sock_path(sock);
	return dispatch(&c, n, rest);
}
