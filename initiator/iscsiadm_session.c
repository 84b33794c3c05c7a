/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm -m session, and node login / logout: everything that talks
 * to kura-initiatord over its control socket (ctl_client.h).
 *
 * For: printing sessions in open-iscsi's formats (-P 0..3), login, logout,
 * rescan. Not for: the node database (iscsiadm_node.c) or the daemon side.
 * When the daemon is not running there are no sessions: listing says "No
 * active sessions." (21) and login names the daemon (20).
 */
#include "initiator/iscsiadm.h"
#include "initiator/ctl_client.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CTL_TIMEOUT_MS       10000
#define CTL_LOGIN_TIMEOUT_MS 120000

struct sess {
	int sid, tpgt;
	unsigned port;
	char target[224], address[64], iface[64], state[32];
	const char *line; /* the decoded SESSIONS payload */
};

static void kv(const char *line, const char *key, char *out, size_t len, const char *def)
{
	if (ctlc_kv_get(line, key, out, len))
		snprintf(out, len, "%s", def);
}

static int sess_parse(const char *line, struct sess *s)
{
	char num[16];
	memset(s, 0, sizeof(*s));
	s->line = line;
	kv(line, "sid", num, sizeof(num), "0");
	s->sid = atoi(num);
	kv(line, "port", num, sizeof(num), "0");
	s->port = (unsigned)atoi(num);
	kv(line, "tpgt", num, sizeof(num), "-1");
	s->tpgt = atoi(num);
	kv(line, "target", s->target, sizeof(s->target), "");
	kv(line, "address", s->address, sizeof(s->address), "");
	kv(line, "iface", s->iface, sizeof(s->iface), "default");
	kv(line, "state", s->state, sizeof(s->state), "up");
	return s->sid > 0 && s->target[0] ? 0 : -EPROTO;
}

static void daemon_down(struct adm *a, int err)
{
	adm_errf(a,
		 "kura-initiatord is not running or not reachable (%s: %s); start it first "
		 "(kura-initiatord), or point --ctl / KURA_INITIATORD_SOCK at its socket",
		 a->sock, strerror(-err));
}

static int call(struct adm *a, int argc, const char *const *argv, int tmo, struct ctlc_reply *rep)
{
	int rc = ctlc_call(a->sock, argc, argv, tmo, rep);
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES || rc == -ENOTSOCK)
		return rc;
	if (rc) {
		adm_errf(a, "talking to kura-initiatord at %s failed: %s", a->sock, strerror(-rc));
		return rc;
	}
	return 0;
}

/* SESSIONS into an array (lines stay owned by rep). -errno when unreachable. */
static int get_sessions(struct adm *a, struct ctlc_reply *rep, struct sess **out, int *n)
{
	static const char *const argv[] = { "SESSIONS" };
	*out = NULL;
	*n = 0;
	int rc = call(a, 1, argv, CTL_TIMEOUT_MS, rep);
	if (rc)
		return rc;
	if (rep->code) {
		adm_errf(a, "kura-initiatord: %s", rep->msg ? rep->msg : "error");
		ctlc_reply_free(rep);
		return -EPROTO;
	}
	*out = calloc((size_t)(rep->nlines ? rep->nlines : 1), sizeof(**out));
	if (!*out) {
		ctlc_reply_free(rep);
		return -ENOMEM;
	}
	for (int i = 0; i < rep->nlines; i++)
		if (sess_parse(rep->lines[i], &(*out)[*n]) == 0)
			(*n)++;
	return 0;
}

static void portal_str(char *buf, size_t len, const struct sess *s)
{
	adm_fmt_portal(buf, len, s->address, s->port);
}

/* ---- -P 1..3 --------------------------------------------------------- */

struct detail {
	struct ctlc_reply rep;
	char all[8192]; /* every D line joined, for kv() */
};

static void get_detail(struct adm *a, const struct sess *s, struct detail *d)
{
	char sid[16];
	const char *argv[] = { "SESSION", sid };
	size_t off = 0;
	snprintf(sid, sizeof(sid), "%d", s->sid);
	snprintf(d->all, sizeof(d->all), "%s", s->line);
	if (call(a, 2, argv, CTL_TIMEOUT_MS, &d->rep) || d->rep.code)
		return;
	for (int i = 0; i < d->rep.nlines && off < sizeof(d->all); i++)
		off += (size_t)snprintf(d->all + off, sizeof(d->all) - off, "%s ", d->rep.lines[i]);
}

/* kura-initiatord path states -> open-iscsi's connection / session states. */
static const struct {
	const char *kura, *conn, *sess;
} states[] = {
	{ "up", "LOGGED IN", "LOGGED_IN" },       { "connecting", "IN LOGIN", "FREE" },
	{ "probing", "IN LOGIN", "FREE" },        { "wait", "TRANSPORT WAIT", "FAILED" },
	{ "failed", "TRANSPORT WAIT", "FAILED" },
};

static int state_idx(const char *st)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(st, states[i].kura))
			return (int)i;
	return 3;
}

static const char *conn_state(const char *st)
{
	return states[state_idx(st)].conn;
}

static const char *sess_state(const char *st)
{
	return states[state_idx(st)].sess;
}

/* The name in <root>/initiatorname.iscsi, read only (listing writes nothing). */
static void read_initiator(struct adm *a, char *out, size_t len)
{
	char path[PATH_MAX], text[1024];
	snprintf(out, len, "<empty>");
	snprintf(path, sizeof(path), "%s/initiatorname.iscsi", a->root);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (nodedb_parse_initiator_name(text, out, len))
		snprintf(out, len, "<empty>");
}

static void print_iface(struct adm *a, const struct sess *s, const char *all)
{
	char init[256], ip[64];
	if (ctlc_kv_get(all, "initiator", init, sizeof(init)))
		read_initiator(a, init, sizeof(init));
	kv(all, "local_address", ip, sizeof(ip), "-");
	if (!strcmp(ip, "-"))
		snprintf(ip, sizeof(ip), "<empty>");
	fprintf(a->out,
		"\t\t**********\n\t\tInterface:\n\t\t**********\n"
		"\t\tIface Name: %s\n\t\tIface Transport: tcp\n"
		"\t\tIface Initiatorname: %s\n\t\tIface IPaddress: %s\n"
		"\t\tIface HWaddress: default\n\t\tIface Netdev: default\n"
		"\t\tSID: %d\n\t\tiSCSI Connection State: %s\n"
		"\t\tiSCSI Session State: %s\n\t\tInternal iscsid Session State: NO CHANGE\n",
		s->iface, init, ip, s->sid, conn_state(s->state), sess_state(s->state));
}

static void print_params(struct adm *a, const char *all)
{
	static const struct {
		const char *label, *key;
	} p[] = {
		{ "HeaderDigest", "header_digest" },
		{ "DataDigest", "data_digest" },
		{ "MaxRecvDataSegmentLength", "max_recv_dsl" },
		{ "MaxXmitDataSegmentLength", "max_xmit_dsl" },
		{ "FirstBurstLength", "first_burst" },
		{ "MaxBurstLength", "max_burst" },
		{ "ImmediateData", "immediate_data" },
		{ "InitialR2T", "initial_r2t" },
		{ "MaxOutstandingR2T", "max_outstanding_r2t" },
	};
	char v[64];
	fprintf(a->out,
		"\t\t************************\n\t\tNegotiated iSCSI params:\n"
		"\t\t************************\n");
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		kv(all, p[i].key, v, sizeof(v), "-");
		if (strcmp(v, "-")) /* unknown: left out, as open-iscsi does */
			fprintf(a->out, "\t\t%s: %s\n", p[i].label, v);
	}
}

/* Timeouts and CHAP user names come from the node record (secrets masked). */
static void print_node_bits(struct adm *a, const struct sess *s)
{
	struct nodedb_node_id id = { .port = (uint16_t)s->port, .tpgt = s->tpgt };
	int err;
	snprintf(id.target, sizeof(id.target), "%s", s->target);
	snprintf(id.address, sizeof(id.address), "%s", s->address);
	snprintf(id.iface, sizeof(id.iface), "%s", s->iface);
	struct nodedb_rec *r = adm_node_load_full(a->root, &id, &err);
	if (!r)
		r = nodedb_node_defaults(&id);
	if (!r)
		return;
#define G(k) (nodedb_get(r, k)[0] ? nodedb_get(r, k) : "<empty>")
#define M(k) (nodedb_get(r, k)[0] && !a->o.show_secrets ? "********" : G(k))
	fprintf(a->out,
		"\t\t*********\n\t\tTimeouts:\n\t\t*********\n"
		"\t\tRecovery Timeout: %s\n\t\tTarget Reset Timeout: %s\n"
		"\t\tLUN Reset Timeout: %s\n\t\tAbort Timeout: %s\n",
		G("node.session.timeo.replacement_timeout"),
		G("node.session.err_timeo.tgt_reset_timeout"),
		G("node.session.err_timeo.lu_reset_timeout"),
		G("node.session.err_timeo.abort_timeout"));
	fprintf(a->out,
		"\t\t*****\n\t\tCHAP:\n\t\t*****\n\t\tusername: %s\n\t\tpassword: %s\n"
		"\t\tusername_in: %s\n\t\tpassword_in: %s\n",
		G("node.session.auth.username"), M("node.session.auth.password"),
		G("node.session.auth.username_in"), M("node.session.auth.password_in"));
#undef G
#undef M
	nodedb_rec_free(r);
}

/* The sd state column of -P 3, for a kura path: running / blocked (not
 * logged in) plus whether this path carries the LU's I/O now. */
static void path_state_text(const struct sess *s, char *out, size_t len)
{
	char active[8], admin[16];
	kv(s->line, "active", active, sizeof(active), "no");
	kv(s->line, "admin", admin, sizeof(admin), "ok");
	if (strcmp(s->state, "up"))
		snprintf(out, len, "blocked (path %s: no I/O)", s->state);
	else if (!strcmp(admin, "failed"))
		snprintf(out, len, "running (failed by the administrator: no I/O)");
	else
		snprintf(out, len, "running (%s)",
			 strcmp(active, "yes") ? "standby: no I/O now" : "active: carries I/O");
}

/* -P 3: open-iscsi's "Attached SCSI devices" block, one entry per LUN the
 * daemon reports ("lun=N lu=ID device=PATH ..."). kura presents LUs through
 * its own front ends, not sd: the "Attached scsi disk" column holds the
 * kura device (FUSE file, else NBD URL); the host number is the SID. */
static void print_devices(struct adm *a, const struct sess *s, const struct detail *d)
{
	char lun[16], dev[256], paths[16], st[96];
	path_state_text(s, st, sizeof(st));
	fprintf(a->out,
		"\t\t************************\n\t\tAttached SCSI devices:\n"
		"\t\t************************\n\t\tHost Number: %d\tState: %s\n",
		s->sid, strcmp(s->state, "up") ? "blocked" : "running");
	for (int i = 0; i < d->rep.nlines; i++) {
		if (ctlc_kv_get(d->rep.lines[i], "lun", lun, sizeof(lun)) ||
		    ctlc_kv_get(d->rep.lines[i], "sid", paths, sizeof(paths)) == 0)
			continue; /* skip the path summary line (it has lun= too) */
		kv(d->rep.lines[i], "device", dev, sizeof(dev), "-");
		fprintf(a->out, "\t\tscsi%d Channel 00 Id 0 Lun: %s\n", s->sid, lun);
		fprintf(a->out, "\t\t\tAttached scsi disk %s\t\tState: %s\n",
			strcmp(dev, "-") ? dev : "<none>", st);
	}
}

static void print_tree(struct adm *a, const struct sess *s, int n)
{
	char portal[96];
	for (int i = 0; i < n; i++) {
		struct detail d;
		memset(&d, 0, sizeof(d));
		if (i == 0 || strcmp(s[i].target, s[i - 1].target))
			fprintf(a->out, "Target: %s (non-flash)\n", s[i].target);
		portal_str(portal, sizeof(portal), &s[i]);
		fprintf(a->out, "\tCurrent Portal: %s,%d\n\tPersistent Portal: %s,%d\n", portal,
			s[i].tpgt, portal, s[i].tpgt);
		get_detail(a, &s[i], &d);
		print_iface(a, &s[i], d.all);
		if (a->o.print >= 2) {
			print_node_bits(a, &s[i]);
			print_params(a, d.all);
		}
		if (a->o.print >= 3)
			print_devices(a, &s[i], &d);
		ctlc_reply_free(&d.rep);
	}
}

static int sess_cmp(const void *x, const void *y)
{
	const struct sess *p = x, *q = y;
	int c = strcmp(p->target, q->target);
	return c ? c : p->sid - q->sid;
}

/* ---- login / logout -------------------------------------------------- */

static void login_desc(char *buf, size_t len, const struct nodedb_node_id *id)
{
	snprintf(buf, len, "[iface: %s, target: %s, portal: %s,%u]", id->iface, id->target,
		 id->address, (unsigned)id->port);
}

/* The daemon's answer to LOGIN / LOGOUT, worded as iscsiadm does ("Login to
 * [...] successful." / "Could not login to [...]."); with daemon_msg the
 * daemon's own message too when it says more than the error code. Frees rep
 * and returns its code. */
static int report_reply(struct adm *a, struct ctlc_reply *rep, const char *done, const char *verb,
			const char *desc, bool daemon_msg)
{
	int rc = rep->code;
	if (rc == 0) {
		fprintf(a->out, "%s %s successful.\n", done, desc);
	} else {
		adm_errf(a, "Could not %s %s.", verb, desc);
		adm_errf(a, "initiator reported error (%d - %s)", rc, adm_err_str(rc));
		if (daemon_msg && rep->msg && rep->msg[0] && strcmp(rep->msg, adm_err_str(rc)))
			adm_errf(a, "kura-initiatord: %s", rep->msg);
	}
	ctlc_reply_free(rep);
	return rc;
}

static int login_one(struct adm *a, const char *root, const struct nodedb_node_id *id)
{
	char port[16], tpgt[16], desc[512];
	const char *argv[] = { "LOGIN", root, id->target, id->address, port, tpgt, id->iface };
	struct ctlc_reply rep;
	snprintf(port, sizeof(port), "%u", (unsigned)id->port);
	snprintf(tpgt, sizeof(tpgt), "%d", id->tpgt);
	login_desc(desc, sizeof(desc), id);
	int rc = call(a, 7, argv, CTL_LOGIN_TIMEOUT_MS, &rep);
	if (rc) {
		if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES || rc == -ENOTSOCK)
			daemon_down(a, rc);
		adm_errf(a, "Could not login to %s.", desc);
		return rc == -EACCES ? ADM_ERR_ACCESS : ADM_ERR_ISCSID_NOTCONN;
	}
	return report_reply(a, &rep, "Login to", "login to", desc, true);
}

int adm_login_nodes(struct adm *a, const struct nodedb_node_id *ids, int n)
{
	char desc[512], root[PATH_MAX];
	int first = ADM_OK;
	if (!realpath(a->root, root))
		snprintf(root, sizeof(root), "%s", a->root);
	for (int i = 0; i < n; i++) {
		login_desc(desc, sizeof(desc), &ids[i]);
		fprintf(a->out, "Logging in to %s\n", desc);
	}
	fflush(a->out);
	for (int i = 0; i < n; i++) {
		int rc = login_one(a, root, &ids[i]);
		fflush(a->out);
		if (rc && !first)
			first = rc;
		if (rc == ADM_ERR_ISCSID_NOTCONN || rc == ADM_ERR_ACCESS)
			break; /* no daemon: the others would fail the same way */
	}
	if (first)
		adm_errf(a, "Could not log into all portals");
	return first;
}

static int logout_one(struct adm *a, const struct sess *s)
{
	char port[16], desc[512];
	const char *argv[] = { "LOGOUT", s->target, s->address, port };
	struct ctlc_reply rep;
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(desc, sizeof(desc), "[sid: %d, target: %s, portal: %s,%u]", s->sid, s->target,
		 s->address, s->port);
	int rc = call(a, 4, argv, CTL_TIMEOUT_MS * 3, &rep);
	if (rc) {
		adm_errf(a, "Could not logout of %s.", desc);
		return ADM_ERR_ISCSID_NOTCONN;
	}
	return report_reply(a, &rep, "Logout of", "logout of", desc, false);
}

static bool startup_matches(struct adm *a, const struct sess *s, const char *want)
{
	struct nodedb_node_id id = { .port = (uint16_t)s->port, .tpgt = s->tpgt };
	int err;
	if (!strcmp(want, "all"))
		return true;
	snprintf(id.target, sizeof(id.target), "%s", s->target);
	snprintf(id.address, sizeof(id.address), "%s", s->address);
	snprintf(id.iface, sizeof(id.iface), "%s", s->iface);
	struct nodedb_rec *r = adm_node_load_full(a->root, &id, &err);
	bool m = r && !strcmp(nodedb_get(r, "node.startup"), want);
	nodedb_rec_free(r);
	return m;
}

static bool sess_match(struct adm *a, const struct sess *s, const char *target, const char *address,
		       uint16_t port, const char *startup)
{
	return (!target || !strcmp(target, s->target)) &&
	       (!address || !strcmp(address, s->address)) && (!port || port == s->port) &&
	       (!a->o.sid || a->o.sid == s->sid) && (!startup || startup_matches(a, s, startup));
}

int adm_logout_matching(struct adm *a, const char *target, const char *address, uint16_t port,
			const char *startup)
{
	struct ctlc_reply rep;
	struct sess *s;
	int n, k = 0, first = ADM_OK;
	char desc[512];
	if (get_sessions(a, &rep, &s, &n))
		n = 0;
	for (int i = 0; i < n; i++)
		if (sess_match(a, &s[i], target, address, port, startup))
			s[k++] = s[i];
	for (int i = 0; i < k; i++) {
		snprintf(desc, sizeof(desc), "[sid: %d, target: %s, portal: %s,%u]", s[i].sid,
			 s[i].target, s[i].address, s[i].port);
		fprintf(a->out, "Logging out of session %s\n", desc);
	}
	fflush(a->out);
	for (int i = 0; i < k; i++) {
		int rc = logout_one(a, &s[i]);
		if (rc && !first)
			first = rc;
	}
	free(s);
	ctlc_reply_free(&rep);
	if (k == 0) {
		adm_errf(a, "No matching sessions found");
		return ADM_ERR_NO_OBJS;
	}
	if (first)
		adm_errf(a, "Could not logout of all requested sessions");
	return first;
}

bool adm_node_has_session(struct adm *a, const struct nodedb_node_id *id)
{
	struct ctlc_reply rep;
	struct sess *s;
	int n;
	bool found = false;
	if (get_sessions(a, &rep, &s, &n))
		return false; /* no daemon, no sessions */
	for (int i = 0; i < n && !found; i++)
		found = !strcmp(s[i].target, id->target) && !strcmp(s[i].address, id->address) &&
			s[i].port == id->port;
	free(s);
	ctlc_reply_free(&rep);
	return found;
}

/* -r SID that names no session: open-iscsi finds no sysfs entry (22). */
static int no_sid(struct adm *a)
{
	adm_errf(a, "could not read session targetname: 5");
	adm_errf(a, "Could not get session info for sid %d", a->o.sid);
	return ADM_ERR_SYSFS_LOOKUP;
}

/* ---- -m session -------------------------------------------------------- */

static int rescan(struct adm *a, const struct sess *s, int n)
{
	char sid[16], desc[512];
	const char *argv[] = { "RESCAN", sid };
	struct ctlc_reply rep;
	int first = ADM_OK;
	for (int i = 0; i < n; i++) {
		snprintf(sid, sizeof(sid), "%d", s[i].sid);
		snprintf(desc, sizeof(desc), "[sid: %d, target: %s, portal: %s,%u]", s[i].sid,
			 s[i].target, s[i].address, s[i].port);
		fprintf(a->out, "Rescanning session %s\n", desc);
		int rc = call(a, 2, argv, CTL_TIMEOUT_MS * 3, &rep) ? ADM_ERR_ISCSID_NOTCONN
								    : rep.code;
		if (rc)
			adm_errf(a, "Could not rescan session %d: %s", s[i].sid,
				 rep.msg ? rep.msg : adm_err_str(rc));
		if (rc && !first)
			first = rc;
		ctlc_reply_free(&rep);
	}
	return first;
}

static int session_ops(struct adm *a, struct sess *s, int n)
{
	char portal[96];
	if (a->o.seen & OB_R)
		return rescan(a, s, n);
	qsort(s, (size_t)n, sizeof(*s), sess_cmp);
	if (a->o.print >= 1) {
		print_tree(a, s, n);
		return ADM_OK;
	}
	for (int i = 0; i < n; i++) {
		portal_str(portal, sizeof(portal), &s[i]);
		fprintf(a->out, "tcp: [%d] %s,%d %s (non-flash)\n", s[i].sid, portal, s[i].tpgt,
			s[i].target);
	}
	return ADM_OK;
}

int adm_cmd_session(struct adm *a)
{
	struct ctlc_reply rep;
	struct sess *s;
	int n, k = 0, rc;
	if (a->o.seen & OB_s) {
		adm_errf(a, "session statistics are not supported by kura-iscsiadm");
		return ADM_ERR_OP_NOT_SUPP;
	}
	if (a->o.seen & OB_u)
		return adm_logout_matching(a, NULL, NULL, 0, NULL);
	if ((rc = get_sessions(a, &rep, &s, &n))) {
		if (rc == -EACCES) {
			adm_errf(a, "permission denied on %s (root or the daemon's user only)",
				 a->sock);
			return ADM_ERR_ACCESS;
		}
		if (a->o.sid)
			return no_sid(a);
		adm_errf(a, "No active sessions.");
		return ADM_ERR_NO_OBJS;
	}
	for (int i = 0; i < n; i++)
		if (!a->o.sid || s[i].sid == a->o.sid)
			s[k++] = s[i];
	if (k == 0 && a->o.sid)
		rc = no_sid(a);
	else if (k == 0) {
		adm_errf(a, "No active sessions.");
		rc = ADM_ERR_NO_OBJS;
	} else
		rc = session_ops(a, s, k);
	free(s);
	ctlc_reply_free(&rep);
	return rc;
}
