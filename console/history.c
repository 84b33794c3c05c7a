/* SPDX-License-Identifier: Apache-2.0 */
/* The per-LUN history of kura-console: IOPS, MiB/s and mean latency of the
 * last hour, computed from two successive scrapes of the daemon's counters
 * (kura_lun_commands_total, kura_lun_bytes_total and the latency
 * histogram's _sum / _count, reads plus writes) and kept in one ring per
 * LUN, so that a page opened now shows the last hour at once.
 *
 * Counter resets: when kura-targetd restarts (or a LUN is removed and added
 * again) its counters start from zero. A reading in which any counter of a
 * LUN went down is not turned into a rate: it becomes the new baseline, and
 * the interval is missing from the history (the chart shows a gap, never a
 * negative or huge rate). A scrape that fails does the same to every LUN.
 *
 * Bounded: at most HIST_LUNS LUNs, each a ring of one hour of samples
 * (3600 / interval points of 16 bytes); a LUN gone from the scrapes for an
 * hour is forgotten.
 *
 * Not for: the thread that scrapes (sampler.c) or HTTP (web_api.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "console/history.h"

struct hist_lun {
	char target[HIST_NAME_MAX], lun[16];
	struct hist_counters last;
	int64_t last_mono_ms, seen_ms; /* seen_ms: wall clock of its last scrape */
	bool have_last;
	unsigned head, n; /* ring: the oldest point is at (head - n) mod cap */
	struct hist_point pts[];
};

struct hist {
	unsigned interval_s, cap;
	int n;
	struct hist_lun *lun[HIST_LUNS];
};

struct hist *hist_new(unsigned interval_s)
{
	struct hist *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->interval_s = interval_s ? interval_s : 1;
	h->cap = 3600 / h->interval_s + 1;
	return h;
}

void hist_free(struct hist *h)
{
	for (int i = 0; h && i < h->n; i++)
		free(h->lun[i]);
	free(h);
}

bool hist_rate(const struct hist_counters *a, int64_t a_ms, const struct hist_counters *b,
	       int64_t b_ms, struct hist_point *out)
{
	double dt = (double)(b_ms - a_ms) / 1000.0;
	if (dt <= 0 || b->ops < a->ops || b->bytes < a->bytes || b->lat_sum < a->lat_sum ||
	    b->lat_count < a->lat_count)
		return false;
	double dn = b->lat_count - a->lat_count;
	out->iops = (float)((b->ops - a->ops) / dt);
	out->mibs = (float)((b->bytes - a->bytes) / dt / 1048576.0);
	out->lat_ms = dn > 0 ? (float)((b->lat_sum - a->lat_sum) / dn * 1000.0) : NAN;
	return true;
}

/* ---- the exposition ---- */
static const char *const families[] = {
	"kura_lun_commands_total",
	"kura_lun_bytes_total",
	"kura_lun_command_duration_seconds_sum",
	"kura_lun_command_duration_seconds_count",
};

/* One label value (after the opening quote) into out, unescaping \\ \" \n;
 * returns the position after the closing quote, or NULL. */
static const char *label_value(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	for (; *p && *p != '"' && *p != '\n'; p++) {
		char c = *p;
		if (c == '\\' && p[1] && p[1] != '\n')
			c = *++p == 'n' ? '\n' : *p;
		if (n + 1 < cap)
			out[n++] = c;
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

/* Where the value of label name goes (other labels: into junk). */
static char *label_dest(struct hist_sample_line *s, const char *name, size_t len, size_t *cap,
			char *junk, size_t junk_cap)
{
	static const char *const names[] = { "target", "lun", "op" };
	char *dest[] = { s->target, s->lun, s->op };
	size_t caps[] = { sizeof(s->target), sizeof(s->lun), sizeof(s->op) };
	for (int i = 0; i < 3; i++)
		if (strlen(names[i]) == len && !strncmp(name, names[i], len)) {
			*cap = caps[i];
			return dest[i];
		}
	*cap = junk_cap;
	return junk;
}

/* The labels of a sample: p is after '{'; the rest of the line after '}'. */
static const char *labels(const char *p, struct hist_sample_line *s)
{
	char junk[HIST_NAME_MAX];
	while (*p && *p != '}') {
		const char *eq = strchr(p, '=');
		size_t cap;
		if (!eq || eq[1] != '"')
			return NULL;
		char *dest = label_dest(s, p, (size_t)(eq - p), &cap, junk, sizeof(junk));
		if (!(p = label_value(eq + 2, dest, cap)))
			return NULL;
		p += *p == ',';
	}
	return *p == '}' ? p + 1 : NULL;
}

int hist_parse_line(const char *line, struct hist_sample_line *s)
{
	memset(s, 0, sizeof(*s));
	s->family = -1;
	for (int i = 0; i < (int)(sizeof(families) / sizeof(families[0])); i++) {
		size_t n = strlen(families[i]);
		if (!strncmp(line, families[i], n) && line[n] == '{')
			s->family = i;
	}
	if (s->family < 0)
		return -ENOENT;
	const char *p = labels(line + strlen(families[s->family]) + 1, s);
	char *end;
	if (!p || *p != ' ' || !s->target[0] || !s->lun[0])
		return -EINVAL;
	s->value = strtod(p + 1, &end);
	if (end == p + 1 || (*end && *end != ' ' && *end != '\n'))
		return -EINVAL;
	return strcmp(s->op, "read") && strcmp(s->op, "write") ? -ENOENT : 0;
}

static void add_to(struct hist_counters *c, const struct hist_sample_line *s)
{
	double *f[] = { &c->ops, &c->bytes, &c->lat_sum, &c->lat_count };
	*f[s->family] += s->value;
}

/* ---- the rings ---- */
static struct hist_lun *find(struct hist *h, const char *target, const char *lun, bool make)
{
	for (int i = 0; i < h->n; i++)
		if (!strcmp(h->lun[i]->target, target) && !strcmp(h->lun[i]->lun, lun))
			return h->lun[i];
	if (!make || h->n == HIST_LUNS)
		return NULL;
	struct hist_lun *l = calloc(1, sizeof(*l) + h->cap * sizeof(l->pts[0]));
	if (!l)
		return NULL;
	snprintf(l->target, sizeof(l->target), "%s", target);
	snprintf(l->lun, sizeof(l->lun), "%s", lun);
	h->lun[h->n++] = l;
	return l;
}

static void push(struct hist *h, struct hist_lun *l, const struct hist_point *p)
{
	l->pts[l->head] = *p;
	l->head = (l->head + 1) % h->cap;
	if (l->n < h->cap)
		l->n++;
}

static void observe(struct hist *h, struct hist_lun *l, const struct hist_counters *c,
		    int64_t wall_ms, int64_t mono_ms)
{
	struct hist_point p = { .t = (uint32_t)(wall_ms / 1000) };
	if (l->have_last && hist_rate(&l->last, l->last_mono_ms, c, mono_ms, &p))
		push(h, l, &p);
	l->last = *c;
	l->last_mono_ms = mono_ms;
	l->seen_ms = wall_ms;
	l->have_last = true;
}

/* LUNs missing from this scrape lose their baseline; after an hour, their
 * ring. */
static void expire(struct hist *h, int64_t wall_ms)
{
	for (int i = 0; i < h->n; i++) {
		struct hist_lun *l = h->lun[i];
		if (l->seen_ms == wall_ms)
			continue;
		l->have_last = false;
		if (wall_ms - l->seen_ms > 3600 * 1000LL) {
			free(l);
			h->lun[i--] = h->lun[--h->n];
		}
	}
}

int hist_sample(struct hist *h, const char *text, int64_t wall_ms, int64_t mono_ms)
{
	struct hist_lun *seen[HIST_LUNS];
	struct hist_counters cur[HIST_LUNS];
	int n = 0, dropped = 0;
	for (const char *line = text, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
		struct hist_sample_line s;
		nl = strchr(line, '\n');
		if (hist_parse_line(line, &s) < 0)
			continue;
		struct hist_lun *l = find(h, s.target, s.lun, true);
		int i = 0;
		while (i < n && seen[i] != l)
			i++;
		if (!l) {
			dropped++;
			continue;
		}
		if (i == n) {
			seen[n] = l;
			memset(&cur[n++], 0, sizeof(cur[0]));
		}
		add_to(&cur[i], &s);
	}
	for (int i = 0; i < n; i++)
		observe(h, seen[i], &cur[i], wall_ms, mono_ms);
	expire(h, wall_ms);
	return dropped ? -ENOSPC : 0;
}

void hist_gap(struct hist *h)
{
	for (int i = 0; i < h->n; i++)
		h->lun[i]->have_last = false;
}

/* ---- JSON ---- */
static void series(FILE *f, const struct hist *h, const struct hist_lun *l, uint32_t since,
		   int field)
{
	static const char *const names[] = { "t", "iops", "mibs", "lat_ms" };
	fprintf(f, ",\"%s\":[", names[field]);
	bool first = true;
	for (unsigned k = 0; k < l->n; k++) {
		const struct hist_point *p = &l->pts[(l->head + h->cap - l->n + k) % h->cap];
		if (p->t <= since)
			continue;
		const float v[] = { 0, p->iops, p->mibs, p->lat_ms };
		if (!first)
			fputc(',', f);
		first = false;
		if (field == 0)
			fprintf(f, "%u", (unsigned)p->t);
		else if (isnan(v[field]))
			fputs("null", f);
		else
			fprintf(f, "%.6g", (double)v[field]);
	}
	fputc(']', f);
}

void hist_json(const struct hist *h, FILE *f, int64_t wall_ms, uint32_t since)
{
	uint32_t hour_ago = (uint32_t)(wall_ms / 1000 - 3600);
	if (since < hour_ago)
		since = hour_ago;
	fprintf(f, "{\"interval_s\":%u,\"now\":%lld,\"luns\":[", h->interval_s,
		(long long)(wall_ms / 1000));
	for (int i = 0; i < h->n; i++) {
		const struct hist_lun *l = h->lun[i];
		fputs(i ? ",{\"target\":" : "{\"target\":", f);
		kjson_str(f, l->target);
		fputs(",\"lun\":", f);
		kjson_str(f, l->lun);
		for (int field = 0; field < 4; field++)
			series(f, h, l, since, field);
		fputc('}', f);
	}
	fputs("]}\n", f);
}
