/* SPDX-License-Identifier: Apache-2.0 */
/* One path of kura-initiatord: an iSCSI session to one portal over its own
 * libiscsi context, driven asynchronously from the daemon's event loop
 * (iscsi_get_fd / iscsi_which_events / iscsi_service).
 *
 *   WAIT --deadline--> CONNECTING --login ok--> PROBING --all LUNs--> UP
 *     ^                    |                       |                  |
 *     +------ FAILED <-----+-----------------------+------------------+
 *            (error, login/probe deadline, NOP-Out unanswered, command
 *             deadline; context destroyed, I/O handed back to mpath.c)
 *
 * libiscsi's own reconnect is switched off (it ignores timeouts while it
 * reconnects): a failed path is destroyed and rebuilt after an exponential
 * backoff. Probing runs REPORT LUNS, then per LUN standard INQUIRY (TPGS),
 * VPD 0x83 (NAA identity), READ CAPACITY(16), REPORT TARGET PORT GROUPS if
 * the LU has ALUA, and PERSISTENT RESERVE OUT / REGISTER AND IGNORE
 * EXISTING KEY when a key is configured; so a path that comes back is
 * re-registered. Callbacks never destroy the context they run in: failing
 * a path defers the teardown to the next loop turn.
 *
 * Not for: choosing paths or queueing I/O (mpath.c); the CHAP secrets held
 * here are never logged.
 */
#include "initiator/initiatord_internal.h"
#include "common/container.h"
#include "common/log.h"
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

enum { P_LUNS, P_INQ, P_VPD, P_CAP, P_RTPG, P_PR };
#define INI_CHUNK_BYTES (8u << 20)

static void path_teardown(struct kloop_task *t);

const char *path_state_name(enum path_state s)
{
	static const char *const n[] = { "wait", "connecting", "probing", "up", "failed", "gone" };
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

static void copy_key(const struct nodedb_rec *rec, const char *key, char *out, size_t len)
{
	const char *v = rec ? nodedb_get(rec, key) : NULL;
	snprintf(out, len, "%s", v && strcmp(v, "<empty>") ? v : "");
}

static void path_auth_from_rec(struct ini_path *p, const struct nodedb_rec *rec)
{
	char method[32];
	copy_key(rec, "node.session.auth.authmethod", method, sizeof(method));
	if (strcasecmp(method, "CHAP") == 0) {
		copy_key(rec, "node.session.auth.username", p->user, sizeof(p->user));
		copy_key(rec, "node.session.auth.password", p->secret, sizeof(p->secret));
		copy_key(rec, "node.session.auth.username_in", p->user_in, sizeof(p->user_in));
		copy_key(rec, "node.session.auth.password_in", p->secret_in, sizeof(p->secret_in));
	}
	copy_key(rec, "node.conn[0].iscsi.HeaderDigest", p->digest, sizeof(p->digest));
	char key[40];
	copy_key(rec, "node.session.pr_key", key, sizeof(key));
	if (key[0])
		p->pr_key = strtoull(key, NULL, 16);
}

struct ini_path *path_new(struct ini_daemon *d, const struct nodedb_node_id *id,
			  const struct nodedb_rec *rec, bool retry_forever)
{
	struct ini_path *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->d = d;
	p->id = *id;
	p->fd = -1;
	p->live_fd = -1;
	p->retry_forever = retry_forever;
	p->pr_key = d->o.pr_key;
	path_auth_from_rec(p, rec);
	p->state = PATH_WAIT;
	return p;
}

void path_free(struct ini_path *p)
{
	path_live_stop(p);
	explicit_bzero(p->secret, sizeof(p->secret));
	explicit_bzero(p->secret_in, sizeof(p->secret_in));
	free(p);
}

static void path_set_error(struct ini_path *p, const char *why)
{
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
}

/* Fail the path from anywhere (also from inside libiscsi callbacks): the
 * context is destroyed on the next loop turn. */
static void path_fail(struct ini_path *p, const char *why)
{
	if (p->state != PATH_CONNECTING && p->state != PATH_PROBING && p->state != PATH_UP)
		return;
	bool was_up = p->state == PATH_UP;
	path_set_error(p, why);
	kwarn("path %d %s %s:%u: %s (%s)", p->sid, p->id.target, p->id.address, p->id.port,
	      was_up ? "down" : "login failed", why);
	p->state = PATH_FAILED;
	p->down_since_ms = kloop_now_ms(p->d->loop);
	p->failures++;
	for (int i = 0; i < p->n_luns; i++)
		mpath_paths_changed(p->luns[i].lu);
	p->reap.fn = path_teardown;
	kloop_defer(p->d->loop, &p->reap);
}

static uint32_t to_epoll(int ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0);
}

static void path_update_events(struct ini_path *p)
{
	if (!p->iscsi || p->fd < 0)
		return;
	uint32_t ev = to_epoll(iscsi_which_events(p->iscsi));
	if (!ev)
		ev = EPOLLIN;
	if (ev == p->fd_events)
		return; /* one epoll_ctl per change, not per command */
	p->fd_events = ev;
	kloop_mod_fd(p->d->loop, p->fd, ev, &p->kfd);
}

static void path_fd_event(struct kloop_fd *h, uint32_t events)
{
	struct ini_path *p = container_of(h, struct ini_path, kfd);
	int rev = (events & EPOLLIN ? POLLIN : 0) | (events & EPOLLOUT ? POLLOUT : 0) |
		  (events & EPOLLERR ? POLLERR : 0) | (events & EPOLLHUP ? POLLHUP : 0);
	if (!p->iscsi || p->state == PATH_FAILED)
		return;
	if (p->state == PATH_CONNECTING && (events & EPOLLIN))
		path_info_login_peek(p); /* negotiated keys, for -P 3 */
	if (iscsi_service(p->iscsi, rev) < 0) {
		path_fail(p, p->state == PATH_CONNECTING ? "cannot connect"
							 : iscsi_get_error(p->iscsi));
		return;
	}
	if (p->state != PATH_FAILED)
		path_update_events(p);
}

static void path_waiter_done(struct ini_path *p, int code, const char *msg)
{
	struct path_waiter *w = p->waiter;
	if (w) {
		p->waiter = NULL;
		w->fn(w, code, msg);
	}
}

static void path_remove(struct ini_path *p, int code, const char *msg)
{
	for (int i = 0; i < INI_MAX_PATHS; i++)
		if (p->d->paths[i] == p)
			p->d->paths[i] = NULL;
	mpath_detach_path(p->d, p);
	path_waiter_done(p, code, msg);
	path_free(p);
}

static int login_err_code(const char *err)
{
	if (strstr(err, "uthentica") || strstr(err, "uthoriz"))
		return 24;
	return strstr(err, "imeout") ? 8 : 19;
}

/* Runs on a fresh loop turn, never inside libiscsi. */
static void path_teardown(struct kloop_task *t)
{
	struct ini_path *p = container_of(t, struct ini_path, reap);
	if (p->fd >= 0)
		kloop_del_fd(p->d->loop, p->fd);
	p->fd = -1;
	if (p->iscsi) {
		struct iscsi_context *ctx = p->iscsi;
		p->iscsi = NULL; /* I/O callbacks run now with CANCELLED: requeued */
		iscsi_destroy_context(ctx);
	}
	if (p->state == PATH_GONE) {
		path_remove(p, 10, "logged out");
		return;
	}
	int code = login_err_code(p->last_error);
	if (!p->retry_forever) {
		p->state = PATH_GONE;
		path_remove(p, code, p->last_error);
		return;
	}
	p->backoff_ms =
		mpath_backoff_next(p->backoff_ms, p->d->o.retry_min_ms, p->d->o.retry_max_ms);
	/* the portal answering TCP again cuts the backoff short (path_live.c),
	 * unless the target itself refused the login */
	p->live_probe = code != 24 && !strstr(p->last_error, "Status");
	p->state = PATH_WAIT;
	p->deadline_ms = kloop_now_ms(p->d->loop) + p->backoff_ms;
	path_waiter_done(p, code, p->last_error); /* automatic node: report, keep trying */
}

static void path_up(struct ini_path *p)
{
	uint64_t now = kloop_now_ms(p->d->loop);
	p->state = PATH_UP;
	p->backoff_ms = 0;
	p->up_since_ms = p->last_ok_ms = p->nop_sent_ms = now;
	p->nop_pending = false;
	p->retry_forever = true;
	p->last_error[0] = 0;
	kinfo("path %d %s %s:%u up (%d LUN%s)", p->sid, p->id.target, p->id.address, p->id.port,
	      p->n_luns, p->n_luns == 1 ? "" : "s");
	for (int i = 0; i < p->n_luns; i++)
		mpath_paths_changed(p->luns[i].lu);
	path_waiter_done(p, 0, NULL);
}

/* ---- probing ---------------------------------------------------------- */

static bool probe_ok(struct ini_path *p, int status, struct scsi_task *task, const char *what)
{
	if (p->state != PATH_PROBING)
		return false;
	if (status == SCSI_STATUS_GOOD)
		return true;
	if (status == SCSI_STATUS_CHECK_CONDITION && task &&
	    task->sense.key == SCSI_SENSE_UNIT_ATTENTION)
		return false; /* caller retries */
	char why[128];
	snprintf(why, sizeof(why), "%s failed: %s", what,
		 p->iscsi ? iscsi_get_error(p->iscsi) : "cancelled");
	path_fail(p, why);
	return false;
}

static void probe_cb(struct iscsi_context *ctx, int status, void *data, void *priv);

static void probe_issue(struct ini_path *p)
{
	int lun = p->probe_lun >= 0 ? p->report[p->probe_lun] : 0;
	struct scsi_task *t = NULL;
	switch (p->probe_step) {
	case P_LUNS: t = iscsi_reportluns_task(p->iscsi, 0, 1024, probe_cb, p); break;
	case P_INQ: t = iscsi_inquiry_task(p->iscsi, lun, 0, 0, 96, probe_cb, p); break;
	case P_VPD: t = iscsi_inquiry_task(p->iscsi, lun, 1, 0x83, 1024, probe_cb, p); break;
	case P_CAP: t = iscsi_readcapacity16_task(p->iscsi, lun, probe_cb, p); break;
	case P_RTPG: {
		t = scsi_create_task(12,
				     (unsigned char[12]){ 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 4, 0, 0,
							  0 },
				     SCSI_XFER_READ, 1024);
		if (t && iscsi_scsi_command_async(p->iscsi, lun, t, probe_cb, NULL, p) < 0) {
			scsi_free_scsi_task(t);
			t = NULL;
		}
		break;
	}
	case P_PR: {
		struct scsi_persistent_reserve_out_basic b = { .service_action_reservation_key =
								       p->pr_key };
		t = iscsi_persistent_reserve_out_task(
			p->iscsi, lun, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0,
			0, &b, probe_cb, p);
		break;
	}
	}
	if (!t)
		path_fail(p, "cannot queue a probe command");
	else
		path_update_events(p);
}

static void probe_next_lun(struct ini_path *p)
{
	p->probe_lun++;
	if (p->probe_lun >= p->n_report) {
		path_up(p);
		return;
	}
	p->probe_step = P_INQ;
	probe_issue(p);
}

static void probe_luns_done(struct ini_path *p, struct scsi_task *t)
{
	struct scsi_reportluns_list *l = scsi_datain_unmarshall(t);
	p->n_report = 0;
	for (uint32_t i = 0; l && i < l->num && p->n_report < INI_MAX_LUNS; i++)
		p->report[p->n_report++] = l->luns[i];
	p->probe_lun = -1;
	probe_next_lun(p);
}

static void probe_attach(struct ini_path *p)
{
	int lun = p->report[p->probe_lun];
	struct ini_lu *lu = mpath_attach(p->d, p, lun, &p->probe_id, p->probe_blocks, p->probe_bs);
	if (!lu) {
		path_fail(p, "LU table full or identity conflict");
		return;
	}
	int k = 0;
	while (k < p->n_luns && p->luns[k].lun != lun)
		k++;
	if (k == p->n_luns)
		p->n_luns++;
	p->luns[k].lun = lun;
	p->luns[k].lu = lu;
	p->luns[k].tpg = p->probe_id.tpg;
	p->luns[k].alua_state = p->probe_alua;
	path_info_attached(p, lu);
}

static void probe_after_cap(struct ini_path *p)
{
	if (p->probe_tpgs) {
		p->probe_step = P_RTPG;
		probe_issue(p);
		return;
	}
	probe_attach(p);
	if (p->state != PATH_PROBING)
		return;
	if (p->pr_key) {
		p->probe_step = P_PR;
		probe_issue(p);
	} else {
		probe_next_lun(p);
	}
}

static void probe_rtpg_done(struct ini_path *p, struct scsi_task *t, int status)
{
	int tpg = -1, state = ALUA_AO;
	if (status == SCSI_STATUS_GOOD && mpath_parse_rtpg(t->datain.data, (size_t)t->datain.size,
							   p->probe_id.rel_port, &tpg, &state) == 0)
		p->probe_id.tpg = tpg;
	else
		state = ALUA_AO; /* TPGS claimed but no usable answer: one group */
	p->probe_tpgs = 0;
	p->probe_alua = state;
	probe_after_cap(p);
}

static void probe_pr_done(struct ini_path *p, struct scsi_task *t, int status)
{
	int lun = p->report[p->probe_lun];
	if (status == SCSI_STATUS_GOOD)
		kinfo("path %d LUN %d: PR key registered", p->sid, lun);
	else /* ILLEGAL REQUEST / INVALID OPCODE: the target has no PR; the path still works */
		kwarn("path %d LUN %d: PR REGISTER refused (status 0x%x, sense %d/0x%04x)", p->sid,
		      lun, status, t ? (int)t->sense.key : 0, t ? t->sense.ascq : 0);
	probe_next_lun(p);
}

static void probe_step_done(struct ini_path *p, struct scsi_task *t, int status)
{
	switch (p->probe_step) {
	case P_LUNS: probe_luns_done(p, t); break;
	case P_INQ: {
		uint8_t *b = t->datain.data;
		if (t->datain.size < 6 || (b[0] & 0xe0) || (b[0] & 0x1f) != 0) {
			probe_next_lun(p); /* not a connected direct-access device */
			return;
		}
		p->probe_tpgs = mpath_std_tpgs(b, (size_t)t->datain.size);
		path_info_inquiry(p, b, (size_t)t->datain.size);
		p->probe_alua = ALUA_AO;
		p->probe_step = P_VPD;
		probe_issue(p);
		break;
	}
	case P_VPD:
		if (mpath_parse_vpd83(t->datain.data, (size_t)t->datain.size, &p->probe_id) < 0) {
			path_fail(p, "LU has no NAA identity in VPD 0x83");
			return;
		}
		p->probe_step = P_CAP;
		probe_issue(p);
		break;
	case P_CAP: {
		struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(t);
		if (!rc || !rc->block_length) {
			path_fail(p, "bad READ CAPACITY(16) data");
			return;
		}
		p->probe_blocks = rc->returned_lba + 1;
		p->probe_bs = rc->block_length;
		probe_after_cap(p);
		break;
	}
	}
}

static void probe_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ini_path *p = priv;
	struct scsi_task *t = data;
	if (p->state == PATH_PROBING && p->probe_step == P_RTPG)
		probe_rtpg_done(p, t, status);
	else if (p->state == PATH_PROBING && p->probe_step == P_PR)
		probe_pr_done(p, t, status);
	else if (probe_ok(p, status, t, "probe"))
		probe_step_done(p, t, status);
	else if (p->state == PATH_PROBING && t && t->sense.key == SCSI_SENSE_UNIT_ATTENTION)
		probe_issue(p); /* power on / reset UA after login: repeat the step */
	if (t)
		scsi_free_scsi_task(t);
}

/* ---- connect and login ------------------------------------------------ */

static void login_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ini_path *p = priv;
	if (p->state != PATH_CONNECTING)
		return;
	if (status != SCSI_STATUS_GOOD) {
		path_fail(p, iscsi_get_error(ctx));
		return;
	}
	p->state = PATH_PROBING;
	p->deadline_ms = kloop_now_ms(p->d->loop) + p->d->o.login_timeout_ms;
	p->probe_step = P_LUNS;
	p->probe_tpgs = 0;
	probe_issue(p);
}

/* Called once when connected and again (ERROR) when the connection drops. */
static void connect_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ini_path *p = priv;
	if (status != SCSI_STATUS_GOOD) {
		path_fail(p, iscsi_get_error(ctx));
		return;
	}
	if (p->state != PATH_CONNECTING)
		return;
	if (iscsi_login_async(ctx, login_cb, p) < 0)
		path_fail(p, iscsi_get_error(ctx));
}

static enum iscsi_header_digest digest_from_rec(const char *v)
{
	if (!v || !*v || strcasecmp(v, "None") == 0)
		return ISCSI_HEADER_DIGEST_NONE;
	if (strcasecmp(v, "CRC32C") == 0)
		return ISCSI_HEADER_DIGEST_CRC32C;
	if (strcasecmp(v, "CRC32C,None") == 0)
		return ISCSI_HEADER_DIGEST_CRC32C_NONE;
	return ISCSI_HEADER_DIGEST_NONE_CRC32C;
}

uint32_t path_isid_rnd(const struct ini_path *p);
uint32_t path_isid_rnd(const struct ini_path *p)
{
	uint32_t h = 2166136261u; /* FNV-1a of the initiator name: stable across restarts */
	for (const char *s = p->d->o.initiator_name; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & 0xffffff;
}

static int path_configure(struct ini_path *p, struct iscsi_context *ctx)
{
	if (iscsi_set_targetname(ctx, p->id.target) ||
	    iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL) ||
	    iscsi_set_header_digest(ctx, digest_from_rec(p->digest)))
		return -EINVAL;
	iscsi_set_noautoreconnect(ctx, 1);
	iscsi_set_isid_random(ctx, path_isid_rnd(p), (uint32_t)p->sid);
	if (p->user[0] && iscsi_set_initiator_username_pwd(ctx, p->user, p->secret))
		return -EINVAL;
	if (p->user_in[0] && iscsi_set_target_username_pwd(ctx, p->user_in, p->secret_in))
		return -EINVAL;
	return 0;
}

static void path_connect(struct ini_path *p)
{
	char portal[96];
	bool v6 = strchr(p->id.address, ':') != NULL;
	path_live_stop(p);
	snprintf(portal, sizeof(portal), v6 ? "[%s]:%u" : "%s:%u", p->id.address, p->id.port);
	p->iscsi = iscsi_create_context(p->d->o.initiator_name);
	p->state = PATH_CONNECTING;
	p->deadline_ms = kloop_now_ms(p->d->loop) + p->d->o.login_timeout_ms;
	if (!p->iscsi || path_configure(p, p->iscsi) < 0 ||
	    iscsi_connect_async(p->iscsi, portal, connect_cb, p) < 0) {
		path_fail(p,
			  p->iscsi ? iscsi_get_error(p->iscsi) : "cannot create libiscsi context");
		return;
	}
	p->fd = iscsi_get_fd(p->iscsi);
	p->kfd.fn = path_fd_event;
	p->fd_events = to_epoll(iscsi_which_events(p->iscsi)) | EPOLLIN;
	if (kloop_add_fd(p->d->loop, p->fd, p->fd_events, &p->kfd) < 0) {
		p->fd = -1;
		path_fail(p, "epoll registration failed");
	}
}

void path_start(struct ini_path *p)
{
	p->state = PATH_WAIT;
	p->deadline_ms = 0;
	path_connect(p);
}

void path_logout(struct ini_path *p)
{
	if (p->state == PATH_GONE)
		return;
	bool queued = p->state == PATH_FAILED; /* teardown already deferred */
	p->state = PATH_GONE;
	kinfo("path %d %s %s:%u logged out", p->sid, p->id.target, p->id.address, p->id.port);
	for (int i = 0; i < p->n_luns; i++)
		mpath_paths_changed(p->luns[i].lu);
	if (!queued) {
		p->reap.fn = path_teardown;
		kloop_defer(p->d->loop, &p->reap);
	}
}

void path_rescan(struct ini_path *p)
{
	if (p->state != PATH_UP)
		return;
	p->state = PATH_PROBING; /* I/O keeps flowing on other paths meanwhile */
	for (int i = 0; i < p->n_luns; i++)
		mpath_paths_changed(p->luns[i].lu);
	p->deadline_ms = kloop_now_ms(p->d->loop) + p->d->o.login_timeout_ms;
	p->probe_step = P_LUNS;
	probe_issue(p);
}

/* ---- path checker ------------------------------------------------------ */

static void nop_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ini_path *p = priv;
	if (p->state != PATH_UP)
		return;
	if (status != SCSI_STATUS_GOOD) {
		path_fail(p, "NOP-Out failed");
		return;
	}
	p->nop_pending = false;
	p->last_ok_ms = kloop_now_ms(p->d->loop);
}

static void path_check_up(struct ini_path *p, uint64_t now)
{
	const struct ini_opts *o = &p->d->o;
	/* Dead when something is outstanding (NOP-Out or I/O) and nothing has
	 * come back for nop_timeout: NOP replies refresh last_ok every
	 * nop_interval, so a cut is seen nop_timeout (+ one tick) after it. */
	if ((p->nop_pending || p->n_inflight) && now - p->last_ok_ms >= o->nop_timeout_ms) {
		path_fail(p, p->nop_pending ? "NOP-Out timeout" : "no response");
		return;
	}
	for (struct ini_io *io = p->inflight; io; io = io->pnext) {
		if (now >= io->deadline_ms) {
			path_fail(p, "command timeout");
			return;
		}
	}
	if (!p->nop_pending && now - p->nop_sent_ms >= o->nop_interval_ms) {
		p->nop_sent_ms = now;
		if (iscsi_nop_out_async(p->iscsi, nop_cb, NULL, 0, p) < 0) {
			path_fail(p, "cannot queue NOP-Out");
			return;
		}
		p->nop_pending = true;
		path_update_events(p);
	}
}

void path_tick(struct ini_path *p, uint64_t now)
{
	switch (p->state) {
	case PATH_WAIT:
		if (now >= p->deadline_ms)
			path_connect(p);
		else if (p->live_probe)
			path_live_tick(p, now);
		break;
	case PATH_CONNECTING:
	case PATH_PROBING:
		if (now >= p->deadline_ms)
			path_fail(p, "login timeout");
		break;
	case PATH_UP: path_check_up(p, now); break;
	default: break;
	}
}

/* ---- I/O ----------------------------------------------------------------- */

static void inflight_add(struct ini_path *p, struct ini_io *io)
{
	io->path = p;
	io->pprev = NULL;
	io->pnext = p->inflight;
	if (p->inflight)
		p->inflight->pprev = io;
	p->inflight = io;
	p->n_inflight++;
}

static void inflight_del(struct ini_io *io)
{
	struct ini_path *p = io->path;
	if (!p)
		return;
	if (io->pprev)
		io->pprev->pnext = io->pnext;
	else
		p->inflight = io->pnext;
	if (io->pnext)
		io->pnext->pprev = io->pprev;
	p->n_inflight--;
	io->path = NULL;
}

static void io_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct ini_io *io = priv;
	struct scsi_task *t = data;
	int key = 0, asc = 0, ascq = 0;
	struct ini_path *p = io->path;
	if (t && status == SCSI_STATUS_CHECK_CONDITION) {
		key = t->sense.key;
		asc = (t->sense.ascq >> 8) & 0xff;
		ascq = t->sense.ascq & 0xff;
	}
	if (p && status != SCSI_STATUS_CANCELLED && status != SCSI_STATUS_ERROR &&
	    status != SCSI_STATUS_TIMEOUT)
		p->last_ok_ms = kloop_now_ms(p->d->loop); /* any answer proves the path alive */
	inflight_del(io);
	io->stask = NULL;
	if (t)
		scsi_free_scsi_task(t);
	if (p && mpath_classify(status, key, asc, ascq) == MV_RETRY_OTHER)
		path_fail(p, status == SCSI_STATUS_CANCELLED ? "cancelled"
							     : "command failed on transport");
	mpath_io_finished(io, status, key, asc, ascq);
}

static uint32_t io_chunk(const struct ini_io *io, uint32_t bs)
{
	uint32_t n = io->len;
	if ((io->op == INI_UNMAP || io->op == INI_ZEROES) && n > INI_CHUNK_BYTES)
		n = INI_CHUNK_BYTES;
	if (io->op == INI_ZEROES && io->lu->zeroes_fallback && n > (1u << 20))
		n = 1u << 20;
	return n - n % bs;
}

/* End of the loop turn that queued commands: write their PDUs now rather
 * than after an epoll round trip for POLLOUT (the socket is nearly always
 * writable); only what does not fit waits for EPOLLOUT. Queued before any
 * teardown of p (both deferred, in order), so p is alive here. */
static void path_send_turn(struct kloop_task *t)
{
	struct ini_path *p = container_of(t, struct ini_path, send);
	p->send_queued = false;
	if (p->state != PATH_UP || !p->iscsi || p->fd < 0)
		return;
	if (iscsi_service(p->iscsi, POLLOUT) < 0) {
		path_fail(p, iscsi_get_error(p->iscsi));
		return;
	}
	path_update_events(p);
}

static struct scsi_task *io_issue(struct ini_path *p, struct ini_io *io, int lun)
{
	uint32_t bs = io->lu->block_size;
	uint64_t lba = io->off / bs;
	uint32_t n = io_chunk(io, bs);
	struct scsi_task *t = NULL;
	switch (io->op) {
	case INI_READ:
		t = iscsi_read16_task(p->iscsi, lun, lba, io->len, (int)bs, 0, 0, 0, 0, 0, io_cb,
				      io);
		if (t)
			scsi_task_add_data_in_buffer(t, (int)io->len, io->buf);
		break;
	case INI_WRITE:
		t = iscsi_write16_task(p->iscsi, lun, lba, io->buf, io->len, (int)bs, 0, 0, io->fua,
				       0, 0, io_cb, io);
		break;
	case INI_FLUSH:
		t = iscsi_synchronizecache10_task(p->iscsi, lun, 0, 0, 0, 0, io_cb, io);
		break;
	case INI_UNMAP: {
		struct unmap_list l = { .lba = lba, .num = n / bs };
		t = iscsi_unmap_task(p->iscsi, lun, 0, 0, &l, 1, io_cb, io);
		break;
	}
	case INI_ZEROES:
		if (!io->zbuf && !(io->zbuf = calloc(1, io->lu->zeroes_fallback ? 1u << 20 : bs)))
			return NULL;
		if (io->lu->zeroes_fallback)
			t = iscsi_write16_task(p->iscsi, lun, lba, io->zbuf, n, (int)bs, 0, 0,
					       io->fua, 0, 0, io_cb, io);
		else
			t = iscsi_writesame16_task(p->iscsi, lun, lba, io->zbuf, bs, n / bs, 0,
						   io->unmap, 0, 0, io_cb, io);
		break;
	}
	return t;
}

int path_submit(struct ini_path *p, struct ini_io *io, int lun)
{
	if (p->state != PATH_UP || !p->iscsi)
		return -ENOTCONN;
	struct scsi_task *t = io_issue(p, io, lun);
	if (!t) {
		path_fail(p, "cannot queue a command");
		return -ENOMEM;
	}
	io->stask = t;
	io->deadline_ms = kloop_now_ms(p->d->loop) + p->d->o.cmd_timeout_ms;
	inflight_add(p, io);
	if (!p->send_queued) { /* one send pass for every command of this loop turn */
		p->send_queued = true;
		p->send.fn = path_send_turn;
		kloop_defer(p->d->loop, &p->send);
	}
	return 0;
}

uint32_t path_io_chunk(const struct ini_io *io);
uint32_t path_io_chunk(const struct ini_io *io)
{
	return io_chunk(io, io->lu->block_size);
}

/* ---- pass-through commands (initiatord_pr.c) ------------------------------ */

/* Send one caller-built CDB on this path's I_T nexus, outside the multipath
 * queue: not retried elsewhere, not counted as the path's I/O. cb runs on
 * the loop thread with the task (the caller frees it), also with
 * SCSI_STATUS_CANCELLED when the path is torn down first. */
int path_send_task(struct ini_path *p, int lun, struct scsi_task *t, iscsi_command_cb cb,
		   void *priv)
{
	if (p->state != PATH_UP || !p->iscsi)
		return -ENOTCONN;
	if (iscsi_scsi_command_async(p->iscsi, lun, t, cb, NULL, priv) < 0)
		return -ENOMEM;
	path_update_events(p);
	return 0;
}
