/* SPDX-License-Identifier: Apache-2.0 */
/* The layouts of kura-multipath: `-ll` in multipath-tools' tree, `show
 * paths` / `show maps` in multipathd's default columns, and --json.
 *
 * kura has no sd or dm devices, so the columns that name them hold kura's
 * own: the map's "dm-N" is the presented device (FUSE file, else NBD URL),
 * a path's "sdX 8:16" is its portal ADDR:PORT, its H:C:T:L is SID:0:0:LUN.
 * Path groups follow the policy: failover = one group per path (as
 * multipath's path_grouping_policy failover), round-robin = one group per
 * priority (group_by_prio). Priorities are multipath's alua prioritizer's
 * (50 active/optimized, 10 non-optimized, 1 standby, 0 unavailable), 1 for
 * LUs without ALUA (the const prioritizer).
 *
 * Not for: talking to the daemon (multipath_cli.c).
 */
#include "initiator/multipath.h"
#include "common/json.h"
#include <stdlib.h>
#include <string.h>

enum { AO = 0, ANO = 1, STANDBY = 2 };

static bool usable(const struct mp_path *p)
{
	return !strcmp(p->state, "up") && !p->admin_failed;
}

const char *mp_dm_st(const struct mp_path *p)
{
	return usable(p) ? "active" : "failed";
}

const char *mp_chk_st(const struct mp_path *p)
{
	if (strcmp(p->state, "up"))
		return "faulty";
	return p->alua == STANDBY ? "ghost" : "ready";
}

const char *mp_dev_st(const struct mp_path *p)
{
	return strcmp(p->state, "up") ? "offline" : "running";
}

int mp_prio(const struct mp_map *m, const struct mp_path *p)
{
	if (!m->alua)
		return 1;
	return p->alua == AO ? 50 : p->alua == ANO ? 10 : p->alua == STANDBY ? 1 : 0;
}

static void fmt_size(char *buf, size_t len, unsigned long long bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes / 1024;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/* Path groups of a map: indexes of its paths, per group, best first. */
struct groups {
	int n;
	int prio[MP_MAX_PATHS];
	int len[MP_MAX_PATHS];
	int idx[MP_MAX_PATHS][MP_MAX_PATHS];
};

static void group_add(struct groups *g, int gi, int prio, int path)
{
	if (gi == g->n) {
		g->prio[g->n] = prio;
		g->len[g->n++] = 0;
	}
	g->idx[gi][g->len[gi]++] = path;
}

static void make_groups(const struct mp_map *m, struct groups *g)
{
	bool rr = !strcmp(m->policy, "round-robin");
	memset(g, 0, sizeof(*g));
	for (int prio = 50; prio >= 0; prio--)
		for (int i = 0; i < m->n_paths; i++) {
			if (mp_prio(m, &m->paths[i]) != prio)
				continue;
			int gi = g->n;
			if (rr && g->n && g->prio[g->n - 1] == prio)
				gi = g->n - 1;
			group_add(g, gi, prio, i);
		}
}

static const char *group_status(const struct mp_map *m, const struct groups *g, int gi)
{
	bool any = false;
	for (int k = 0; k < g->len[gi]; k++) {
		const struct mp_path *p = &m->paths[g->idx[gi][k]];
		if (p->active)
			return "active";
		any |= usable(p);
	}
	return any ? "enabled" : "disabled";
}

static void hcil(char *buf, size_t len, const struct mp_path *p)
{
	snprintf(buf, len, "%d:0:0:%d", p->sid, p->lun);
}

static void portal(char *buf, size_t len, const struct mp_path *p)
{
	snprintf(buf, len, strchr(p->address, ':') ? "[%s]:%u" : "%s:%u", p->address, p->port);
}

static const char *features(const struct mp_map *m)
{
	return strcmp(m->queue, "queue") ? "0" : "1 queue_if_no_path";
}

static void print_map_ll(FILE *f, const struct mp_map *m)
{
	char size[32], h[32], pt[96];
	struct groups g;
	fmt_size(size, sizeof(size), m->size);
	fprintf(f, "%s (%s) %s %s,%s\n", m->alias, m->wwid, m->device, m->vendor, m->product);
	fprintf(f, "size=%s features='%s' hwhandler='%s' wp=rw\n", size, features(m),
		m->alua ? "1 alua" : "0");
	make_groups(m, &g);
	for (int gi = 0; gi < g.n; gi++) {
		bool lastg = gi == g.n - 1;
		fprintf(f, "%s policy='round-robin 0' prio=%d status=%s\n", lastg ? "`-+-" : "|-+-",
			g.prio[gi], group_status(m, &g, gi));
		for (int k = 0; k < g.len[gi]; k++) {
			const struct mp_path *p = &m->paths[g.idx[gi][k]];
			hcil(h, sizeof(h), p);
			portal(pt, sizeof(pt), p);
			fprintf(f, "%s %s %s %s %s %s %s\n", lastg ? " " : "|",
				k == g.len[gi] - 1 ? "`-" : "|-", h, pt, mp_dm_st(p), mp_chk_st(p),
				mp_dev_st(p));
		}
	}
}

void mp_print_ll(FILE *f, const struct mp_map *maps, int n)
{
	for (int i = 0; i < n; i++)
		print_map_ll(f, &maps[i]);
}

/* ---- show paths / show maps -------------------------------------------- */

static void json_kv(FILE *f, const char *key, const char *val, bool comma)
{
	kjson_str(f, key);
	fputc(':', f);
	kjson_str(f, val);
	if (comma)
		fputc(',', f);
}

static void path_json(FILE *f, const struct mp_map *m, const struct mp_path *p)
{
	char h[32], pt[96];
	hcil(h, sizeof(h), p);
	portal(pt, sizeof(pt), p);
	fputc('{', f);
	json_kv(f, "hcil", h, true);
	json_kv(f, "dev", pt, true);
	json_kv(f, "dm_st", mp_dm_st(p), true);
	json_kv(f, "chk_st", mp_chk_st(p), true);
	json_kv(f, "dev_st", mp_dev_st(p), true);
	json_kv(f, "multipath", m->alias, true);
	json_kv(f, "uuid", m->wwid, true);
	json_kv(f, "target", p->target, true);
	json_kv(f, "state", p->state, true);
	json_kv(f, "isid", p->isid, true);
	fprintf(f,
		"\"pri\":%d,\"sid\":%d,\"lun\":%d,\"tpgt\":%d,\"admin_failed\":%s,\"active\":%s}",
		mp_prio(m, p), p->sid, p->lun, p->tpgt, p->admin_failed ? "true" : "false",
		p->active ? "true" : "false");
}

static void paths_json(FILE *f, const struct mp_map *maps, int n)
{
	bool first = true;
	fputs("{\"major_version\":0,\"minor_version\":1,\"paths\":[", f);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < maps[i].n_paths; k++) {
			if (!first)
				fputc(',', f);
			first = false;
			path_json(f, &maps[i], &maps[i].paths[k]);
		}
	fputs("]}\n", f);
}

void mp_print_paths(FILE *f, const struct mp_map *maps, int n, bool json)
{
	char h[32], pt[96];
	if (json) {
		paths_json(f, maps, n);
		return;
	}
	fprintf(f, "%-10s %-22s %-5s %-3s %-6s %-6s %-7s %s\n", "hcil", "dev", "dev_t", "pri",
		"dm_st", "chk_st", "dev_st", "next_check");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < maps[i].n_paths; k++) {
			const struct mp_path *p = &maps[i].paths[k];
			hcil(h, sizeof(h), p);
			portal(pt, sizeof(pt), p);
			fprintf(f, "%-10s %-22s %-5s %-3d %-6s %-6s %-7s %s\n", h, pt, "-",
				mp_prio(&maps[i], p), mp_dm_st(p), mp_chk_st(p), mp_dev_st(p), "-");
		}
}

static void map_json(FILE *f, const struct mp_map *m)
{
	char size[32];
	struct groups g;
	fmt_size(size, sizeof(size), m->size);
	fputc('{', f);
	json_kv(f, "name", m->alias, true);
	json_kv(f, "uuid", m->wwid, true);
	json_kv(f, "sysfs", m->device, true);
	json_kv(f, "queueing", strcmp(m->queue, "queue") ? "off" : "on", true);
	json_kv(f, "features", features(m), true);
	json_kv(f, "hwhandler", m->alua ? "1 alua" : "0", true);
	json_kv(f, "write_prot", "rw", true);
	json_kv(f, "vend", m->vendor, true);
	json_kv(f, "prod", m->product, true);
	json_kv(f, "size", size, true);
	json_kv(f, "policy", m->policy, true);
	fprintf(f, "\"size_bytes\":%llu,\"paths\":%d,\"queued\":%d,\"path_groups\":[", m->size,
		m->n_paths, m->queued);
	make_groups(m, &g);
	for (int gi = 0; gi < g.n; gi++) {
		fprintf(f, "%s{\"selector\":\"round-robin 0\",\"pri\":%d,\"group\":%d,",
			gi ? "," : "", g.prio[gi], gi + 1);
		json_kv(f, "dm_st", group_status(m, &g, gi), true);
		fputs("\"paths\":[", f);
		for (int k = 0; k < g.len[gi]; k++) {
			if (k)
				fputc(',', f);
			path_json(f, m, &m->paths[g.idx[gi][k]]);
		}
		fputs("]}", f);
	}
	fputs("]}", f);
}

void mp_print_maps(FILE *f, const struct mp_map *maps, int n, bool json)
{
	if (json) {
		fputs("{\"major_version\":0,\"minor_version\":1,\"maps\":[", f);
		for (int i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			map_json(f, &maps[i]);
		}
		fputs("]}\n", f);
		return;
	}
	fprintf(f, "%-40s %-40s %s\n", "name", "sysfs", "uuid");
	for (int i = 0; i < n; i++)
		fprintf(f, "%-40s %-40s %s\n", maps[i].alias, maps[i].device, maps[i].wwid);
}
