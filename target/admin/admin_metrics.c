/* SPDX-License-Identifier: Apache-2.0 */
/* The admin socket's `metrics` request: every counter the daemon keeps, as
 * the Prometheus text exposition format (kura-console's GET /metrics
 * passes it on; docs/console.md lists the families, their labels and
 * meaning). Names follow the Prometheus conventions: kura_ prefix, base
 * units in the name (_bytes, _seconds), _total for counters, histograms as
 * _bucket / _sum / _count.
 *
 * Sources: per-LU counters and histograms (target/scsi/scsi_stats.h, summed
 * over the workers' slots), PR state (scsi_admin_lu_info), sessions and
 * portals (tgt_server_foreach_session, tgt_server_portal_stats), ALUA
 * (scsi_alua_snapshot), pools and arrays (admin_metrics_storage.c), and the
 * process (/proc/self). Reading is a snapshot: nothing here takes a lock the
 * data path takes, apart from the session table's for the copy.
 *
 * Not for: changing anything; JSON (the other requests have --json).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "target/admin/admin_metrics.h"
#include "target/model/model.h"
#include "target/scsi/scsi_admin.h"
#include "target/scsi/scsi_alua.h"
#include "target/scsi/scsi_stats.h"

void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' || ch == '"')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(f, "\\\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* ---- LUNs ---- */
struct mlun {
	const char *iqn;
	uint64_t lun;
	struct scsi_lu *lu;
	struct scsi_lu_stats st;
	struct scsi_admin_lu info;
};

static const char *const op_names[SCSI_STATS_NCLASS] = { "read", "write", "other" };

/* Every LU of the model with its summed counters; *n entries, free() it. */
static struct mlun *collect_luns(struct tgt_model *m, int *n)
{
	int cap = 0;
	for (int i = 0; i < m->n_targets; i++)
		cap += m->targets[i].n_luns;
	struct mlun *v = calloc((size_t)cap + 1, sizeof(*v));
	*n = 0;
	for (int i = 0; v && i < m->n_targets; i++)
		for (int k = 0; k < m->targets[i].n_luns; k++) {
			struct scsi_lu *lu = m->targets[i].luns[k].lu;
			if (!lu)
				continue;
			struct mlun *x = &v[(*n)++];
			x->iqn = m->targets[i].iqn;
			x->lun = m->targets[i].luns[k].c.lun;
			x->lu = lu;
			scsi_lu_stats_read(lu, &x->st);
			scsi_admin_lu_info(lu, &x->info, NULL, 0);
		}
	return v;
}

static void lun_labels(FILE *f, const struct mlun *x)
{
	fputs("{target=", f);
	prom_value(f, x->iqn);
	fprintf(f, ",lun=\"%" PRIu64 "\"", x->lun);
}

static void lun_counters(FILE *f, const struct mlun *v, int n)
{
	prom_family(
		f, "kura_lun_commands_total", "counter",
		"SCSI commands completed, by class (read, write = modifies the medium, other).");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < SCSI_STATS_NCLASS; k++) {
			fputs("kura_lun_commands_total", f);
			lun_labels(f, &v[i]);
			fprintf(f, ",op=\"%s\"} %" PRIu64 "\n", op_names[k], v[i].st.cmds[k]);
		}
	prom_family(
		f, "kura_lun_bytes_total", "counter",
		"Data transferred by completed commands: Data-In of reads, Data-Out of writes.");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < SCSI_STATS_OTHER; k++) {
			fputs("kura_lun_bytes_total", f);
			lun_labels(f, &v[i]);
			fprintf(f, ",op=\"%s\"} %" PRIu64 "\n", op_names[k], v[i].st.bytes[k]);
		}
}

/* The sense keys a command can end with (SPC-4 table 49), as label values. */
static const char *const sense_names[16] = {
	"no_sense",       "recovered_error", "not_ready",      "medium_error",
	"hardware_error", "illegal_request", "unit_attention", "data_protect",
	"blank_check",    "vendor_specific", "copy_aborted",   "aborted_command",
	"reserved_0c",    "volume_overflow", "miscompare",     "completed",
};
/* The keys printed (the others stay 0 for a block device). */
static const int sense_shown[] = { 2, 3, 4, 5, 6, 7, 11, 14 };

static void lun_errors(FILE *f, const struct mlun *v, int n)
{
	prom_family(f, "kura_lun_check_conditions_total", "counter",
		    "Commands ended with CHECK CONDITION, by sense key.");
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(sense_shown) / sizeof(sense_shown[0]); k++) {
			fputs("kura_lun_check_conditions_total", f);
			lun_labels(f, &v[i]);
			fprintf(f, ",sense_key=\"%s\"} %" PRIu64 "\n", sense_names[sense_shown[k]],
				v[i].st.sense_key[sense_shown[k]]);
		}
	prom_family(
		f, "kura_lun_reservation_conflicts_total", "counter",
		"Commands refused with RESERVATION CONFLICT (persistent or SPC-2 reservations).");
	for (int i = 0; i < n; i++) {
		fputs("kura_lun_reservation_conflicts_total", f);
		lun_labels(f, &v[i]);
		fprintf(f, "} %" PRIu64 "\n", v[i].st.resv_conflicts);
	}
	prom_family(f, "kura_lun_busy_total", "counter",
		    "Commands answered BUSY or TASK SET FULL.");
	for (int i = 0; i < n; i++) {
		fputs("kura_lun_busy_total", f);
		lun_labels(f, &v[i]);
		fprintf(f, "} %" PRIu64 "\n", v[i].st.busy);
	}
}

/* A bucket bound in seconds without exponent or trailing zeros ("0.00025"). */
static void le_text(uint32_t us, char out[24])
{
	int n = snprintf(out, 24, "%u.%06u", us / 1000000u, us % 1000000u);
	while (n > 1 && out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
}

static void lun_histogram_one(FILE *f, const struct mlun *x, int k)
{
	uint64_t cum = 0;
	for (int b = 0; b < SCSI_STATS_NBUCKETS; b++) {
		cum += x->st.lat_bucket[k][b];
		fputs("kura_lun_command_duration_seconds_bucket", f);
		lun_labels(f, x);
		char le[24] = "+Inf";
		if (b < SCSI_STATS_NBUCKETS - 1)
			le_text(scsi_stats_bucket_us[b], le);
		fprintf(f, ",op=\"%s\",le=\"%s\"} %" PRIu64 "\n", op_names[k], le, cum);
	}
	fputs("kura_lun_command_duration_seconds_sum", f);
	lun_labels(f, x);
	fprintf(f, ",op=\"%s\"} %.9f\n", op_names[k], x->st.lat_ns[k] / 1e9);
	fputs("kura_lun_command_duration_seconds_count", f);
	lun_labels(f, x);
	fprintf(f, ",op=\"%s\"} %" PRIu64 "\n", op_names[k], cum);
}

static void lun_histograms(FILE *f, const struct mlun *v, int n)
{
	prom_family(f, "kura_lun_command_duration_seconds", "histogram",
		    "Time from the command's start in the SCSI layer to its status, by class.");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < SCSI_STATS_NCLASS; k++)
			lun_histogram_one(f, &v[i], k);
}

/* One gauge per LU: value(x). */
static void lun_gauge(FILE *f, const struct mlun *v, int n, const char *name, const char *help,
		      double (*value)(const struct mlun *x))
{
	prom_family(f, name, "gauge", help);
	for (int i = 0; i < n; i++) {
		fputs(name, f);
		lun_labels(f, &v[i]);
		fprintf(f, "} %.17g\n", value(&v[i]));
	}
}

static double g_size(const struct mlun *x)
{
	return (double)x->info.nblocks * x->info.block_size;
}
static double g_inflight(const struct mlun *x)
{
	return scsi_lu_inflight(x->lu);
}
static double g_prgen(const struct mlun *x)
{
	return x->info.generation;
}
static double g_regs(const struct mlun *x)
{
	return x->info.nregs;
}
static double g_reserved(const struct mlun *x)
{
	return x->info.reserved || x->info.spc2_reserved;
}

static void metrics_luns(struct tgt_model *m, FILE *f)
{
	int n;
	struct mlun *v = collect_luns(m, &n);
	if (!v)
		return;
	lun_counters(f, v, n);
	lun_errors(f, v, n);
	lun_histograms(f, v, n);
	lun_gauge(f, v, n, "kura_lun_size_bytes", "Capacity of the logical unit.", g_size);
	lun_gauge(f, v, n, "kura_lun_commands_in_flight", "Commands the SCSI layer is running now.",
		  g_inflight);
	lun_gauge(f, v, n, "kura_lun_pr_generation",
		  "PRgeneration of the persistent reservations (SPC-4; wraps at 2^32).", g_prgen);
	lun_gauge(f, v, n, "kura_lun_pr_registrations", "Registered reservation keys.", g_regs);
	lun_gauge(f, v, n, "kura_lun_reserved",
		  "1 while a persistent or SPC-2 reservation is held.", g_reserved);
	free(v);
}

/* ---- sessions ---- */
struct sess_vec {
	struct tgt_session_info *v;
	int n, cap;
};

static void sess_keep(void *arg, const struct tgt_session_info *si)
{
	struct sess_vec *s = arg;
	if (si->discovery)
		return;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct tgt_session_info *nv = realloc(s->v, (size_t)cap * sizeof(*nv));
		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = *si;
}

static void sess_labels(FILE *f, const struct tgt_session_info *si)
{
	char isid[13];
	for (int i = 0; i < 6; i++)
		snprintf(isid + 2 * i, 3, "%02x", si->isid[i]);
	fputs("{initiator=", f);
	prom_value(f, si->initiator);
	fputs(",target=", f);
	prom_value(f, si->target);
	fprintf(f, ",isid=\"%s\"", isid);
}

static void sess_family(FILE *f, const struct sess_vec *s, const char *name, const char *type,
			const char *help, size_t off)
{
	prom_family(f, name, type, help);
	for (int i = 0; i < s->n; i++) {
		uint64_t v;
		if (off == offsetof(struct tgt_session_info, in_flight))
			v = s->v[i].in_flight;
		else
			memcpy(&v, (const char *)&s->v[i] + off, sizeof(v));
		fputs(name, f);
		sess_labels(f, &s->v[i]);
		fprintf(f, "} %" PRIu64 "\n", v);
	}
}

static void sess_info(FILE *f, const struct sess_vec *s)
{
	prom_family(f, "kura_session_info", "gauge",
		    "1 per normal session logged in: its address and negotiated digests.");
	for (int i = 0; i < s->n; i++) {
		const struct tgt_session_info *si = &s->v[i];
		fputs("kura_session_info", f);
		sess_labels(f, si);
		fputs(",address=", f);
		prom_value(f, si->peer);
		fprintf(f, ",tsih=\"%u\",tpgt=\"%u\",header_digest=\"%s\",data_digest=\"%s\"} 1\n",
			si->tsih, si->tpgt, si->params.header_digest ? "CRC32C" : "None",
			si->params.data_digest ? "CRC32C" : "None");
	}
}

static void metrics_sessions(struct tgt_server *srv, FILE *f)
{
	struct sess_vec s = { 0 };
	tgt_server_foreach_session(srv, sess_keep, &s);
	prom_family(f, "kura_sessions", "gauge", "Normal iSCSI sessions in full feature phase.");
	fprintf(f, "kura_sessions %d\n", s.n);
	sess_info(f, &s);
	sess_family(f, &s, "kura_session_commands_in_flight", "gauge",
		    "Commands of the session inside the CmdSN window.",
		    offsetof(struct tgt_session_info, in_flight));
	sess_family(f, &s, "kura_session_commands_total", "counter",
		    "SCSI commands the session was answered.",
		    offsetof(struct tgt_session_info, cmds));
	sess_family(f, &s, "kura_session_read_bytes_total", "counter",
		    "Data-In bytes sent to the session.",
		    offsetof(struct tgt_session_info, data_in_bytes));
	sess_family(f, &s, "kura_session_write_bytes_total", "counter",
		    "Data-Out bytes received from the session.",
		    offsetof(struct tgt_session_info, data_out_bytes));
	free(s.v);
}

/* ---- portals and ALUA ---- */
static void portal_family(FILE *f, struct tgt_model *m, struct tgt_server *srv, const char *name,
			  const char *type, const char *help, size_t off)
{
	prom_family(f, name, type, help);
	for (int i = 0; i < m->conf->n_portals; i++) {
		const struct tgt_portal *p = &m->conf->portals[i];
		struct tgt_portal_stats st;
		tgt_server_portal_stats(srv, i, &st);
		uint64_t v;
		memcpy(&v, (const char *)&st + off, sizeof(v));
		fprintf(f, "%s{portal=\"%s:%u\",port_group=\"%u\"} %" PRIu64 "\n", name, p->addr,
			p->port, p->tpg_id, v);
	}
}

#define PSTAT(field) offsetof(struct tgt_portal_stats, field)

static void metrics_portals(struct tgt_model *m, struct tgt_server *srv, FILE *f)
{
	portal_family(f, m, srv, "kura_portal_connections", "gauge",
		      "TCP connections open on the portal (any phase).", PSTAT(open));
	portal_family(f, m, srv, "kura_portal_connections_accepted_total", "counter",
		      "TCP connections accepted on the portal.", PSTAT(accepted));
	portal_family(f, m, srv, "kura_portal_logins_total", "counter",
		      "Logins that reached full feature phase (normal and discovery).",
		      PSTAT(logins));
	portal_family(f, m, srv, "kura_portal_login_failures_total", "counter",
		      "Login Responses with a failure status (authentication, ACL, target).",
		      PSTAT(login_failures));
	portal_family(f, m, srv, "kura_portal_digest_errors_total", "counter",
		      "Header or data digest errors (each one ends its connection: ERL 0).",
		      PSTAT(digest_errors));
}

static const char *const alua_names[] = { "active-optimized", "active-nonoptimized", "standby",
					  "unavailable", "transitioning" };

static void metrics_alua(FILE *f)
{
	struct scsi_alua_group g[SCSI_ALUA_MAX_GROUPS];
	unsigned n = scsi_alua_snapshot(g, SCSI_ALUA_MAX_GROUPS);
	prom_family(f, "kura_alua_state", "gauge",
		    "1 for the port group's current ALUA access state, 0 for the others.");
	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(alua_names) / sizeof(alua_names[0]); k++)
			fprintf(f, "kura_alua_state{port_group=\"%u\",state=\"%s\"} %d\n", g[i].id,
				alua_names[k],
				!strcmp(scsi_alua_state_name(g[i].state), alua_names[k]));
}

/* ---- the process ---- */
static long proc_statm_rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *s = fopen("/proc/self/statm", "r");
	if (s && fscanf(s, "%ld %ld", &size, &rss) != 2)
		rss = 0;
	if (s)
		fclose(s);
	return rss;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void metrics_process(struct tgt_server *srv, FILE *f)
{
	prom_family(f, "kura_process_resident_memory_bytes", "gauge",
		    "Resident set size of kura-targetd.");
	fprintf(f, "kura_process_resident_memory_bytes %ld\n",
		proc_statm_rss_pages() * sysconf(_SC_PAGESIZE));
	prom_family(f, "kura_process_open_fds", "gauge", "Open file descriptors.");
	fprintf(f, "kura_process_open_fds %d\n", count_dir("/proc/self/fd"));
	prom_family(f, "kura_process_threads", "gauge", "Threads of kura-targetd.");
	fprintf(f, "kura_process_threads %d\n", count_dir("/proc/self/task"));
	prom_family(f, "kura_connections", "gauge", "iSCSI connections alive (every portal).");
	fprintf(f, "kura_connections %d\n", tgt_server_conn_count(srv));
}

int admin_metrics(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		  const char **why)
{
	(void)c, (void)why;
	metrics_luns(m, f);
	metrics_sessions(srv, f);
	metrics_portals(m, srv, f);
	metrics_alua(f);
	admin_metrics_storage(m, f);
	metrics_process(srv, f);
	return 0;
}
