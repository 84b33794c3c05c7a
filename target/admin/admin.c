/* SPDX-License-Identifier: Apache-2.0 */
/* The administration socket: a thread whose event loop serves several
 * kura-targetctl clients at once on a Unix socket, checks each peer's uid,
 * parses its line (admin_parse.c, pure), runs the command's handler from a
 * table indexed by the decoded operation and writes the answer (text or JSON) followed by
 * "OK" / "ERR reason". Protocol: admin.h.
 *
 * Everything it reads from running sessions goes through snapshots
 * (tgt_server_foreach_session, scsi_admin_lu_info); what it changes takes
 * the same locks the SCSI commands take (scsi_admin_clear_pr, ALUA table).
 *
 * Not for: configuration parsing (config.c) or SCSI semantics.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/container.h"
#include "common/kloop.h"
#include "common/log.h"
#include "common/unixsock.h"
#include "target/admin/admin_internal.h"
#include "target/admin/admin_metrics.h"
#include "target/model/model.h"
#include "target/scsi/scsi_admin.h"
#include "target/scsi/scsi_alua.h"

/* ---- output helpers ---- */
struct admin {
	struct tgt_model *m;
	struct tgt_server *srv;
};

static const char *sep(int i)
{
	return i ? "," : "";
}

/* ---- list ---- */
static int list_targets(struct admin *a, FILE *f, bool json)
{
	const struct tgt_model *c = a->m;
	fputs(json ? "[" : "", f);
	for (int i = 0; i < c->n_targets; i++) {
		const struct tgt_target *t = &c->targets[i];
		if (json) {
			fprintf(f, "%s{\"iqn\":", sep(i));
			kjson_str(f, t->iqn);
			fprintf(f, ",\"alias\":");
			kjson_str(f, t->alias);
			fprintf(f, ",\"luns\":%d,\"acl\":[", t->n_luns);
			for (int k = 0; k < t->n_acl; k++) {
				fputs(sep(k), f);
				kjson_str(f, t->acl[k]);
			}
			fprintf(f, "],\"chap\":%s}", t->n_chap_in ? "true" : "false");
		} else {
			fprintf(f, "%s luns=%d acl=%d chap=%s\n", t->iqn, t->n_luns, t->n_acl,
				t->n_chap_in ? "yes" : "no");
		}
	}
	fputs(json ? "]\n" : "", f);
	return 0;
}

static int list_portals(struct admin *a, FILE *f, bool json)
{
	const struct tgt_config *c = a->m->conf;
	fputs(json ? "[" : "", f);
	for (int i = 0; i < c->n_portals; i++) {
		const struct tgt_portal *p = &c->portals[i];
		int st = scsi_alua_get_state(p->tpg_id);
		if (json) {
			fprintf(f, "%s{\"address\":", sep(i));
			kjson_str(f, p->addr);
			fprintf(f,
				",\"port\":%u,\"tpgt\":%u,\"rel_port_id\":%u,\"port_group\":%u,\"alua\":\"%s\"}",
				p->port, p->tpgt, p->rel_port_id, p->tpg_id,
				scsi_alua_state_name(st));
		} else {
			fprintf(f, "%s:%u tpgt=%u rel_port_id=%u port_group=%u alua=%s\n", p->addr,
				p->port, p->tpgt, p->rel_port_id, p->tpg_id,
				scsi_alua_state_name(st));
		}
	}
	fputs(json ? "]\n" : "", f);
	return 0;
}

static int list_luns(struct admin *a, FILE *f, bool json)
{
	const struct tgt_model *c = a->m;
	int n = 0;
	fputs(json ? "[" : "", f);
	for (int i = 0; i < c->n_targets; i++)
		for (int k = 0; k < c->targets[i].n_luns; k++) {
			const struct tgt_lun *ml = &c->targets[i].luns[k];
			const struct tgt_lun_conf *l = &ml->c;
			uint64_t blocks = ml->lu ? scsi_lu_size_blocks(ml->lu) : 0;
			const char *path = l->backend.path ? l->backend.path : "";
			if (json) {
				fprintf(f, "%s{\"target\":", sep(n));
				kjson_str(f, c->targets[i].iqn);
				fprintf(f, ",\"lun\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"path\":",
					l->lun, blocks);
				kjson_str(f, path);
				fputc('}', f);
			} else {
				fprintf(f, "%s %" PRIu64 " blocks=%" PRIu64 " path=%s\n",
					c->targets[i].iqn, l->lun, blocks, path);
			}
			n++;
		}
	fputs(json ? "]\n" : "", f);
	return 0;
}

struct sess_ctx {
	FILE *f;
	bool json;
	int n;
};

static void isid_hex(const uint8_t isid[6], char out[13])
{
	for (int i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", isid[i]);
}

static void sess_json(FILE *f, const struct tgt_session_info *si, const char *isid)
{
	const struct iscsi_session_params *p = &si->params;
	fputs("{\"initiator\":", f);
	kjson_str(f, si->initiator);
	fputs(",\"target\":", f);
	kjson_str(f, si->target);
	fputs(",\"address\":", f);
	kjson_str(f, si->peer);
	fprintf(f,
		",\"isid\":\"%s\",\"tsih\":%u,\"discovery\":%s,\"header_digest\":\"%s\","
		"\"data_digest\":\"%s\",\"in_flight\":%u,\"params\":{\"MaxRecvDataSegmentLength\":%u,"
		"\"MaxBurstLength\":%u,\"FirstBurstLength\":%u,\"InitialR2T\":%s,\"ImmediateData\":%s,"
		"\"MaxOutstandingR2T\":%u,\"ErrorRecoveryLevel\":%u,\"authenticated\":%s}}",
		isid, si->tsih, si->discovery ? "true" : "false",
		p->header_digest ? "CRC32C" : "None", p->data_digest ? "CRC32C" : "None",
		si->in_flight, p->max_recv_dsl_initiator, p->max_burst, p->first_burst,
		p->initial_r2t ? "true" : "false", p->immediate_data ? "true" : "false",
		p->max_outstanding_r2t, p->error_recovery_level,
		p->authenticated ? "true" : "false");
}

static void sess_cb(void *arg, const struct tgt_session_info *si)
{
	struct sess_ctx *c = arg;
	char isid[13];
	isid_hex(si->isid, isid);
	if (c->json) {
		fputs(sep(c->n), c->f);
		sess_json(c->f, si, isid);
	} else {
		/* names came from the wire: checked at login, escaped all the same */
		const struct iscsi_session_params *p = &si->params;
		char ini[4 * sizeof(si->initiator)], tgt[4 * sizeof(si->target)];
		klog_escape(si->initiator, ini, sizeof(ini));
		klog_escape(si->target, tgt, sizeof(tgt));
		fprintf(c->f,
			"%s isid=%s tsih=%u address=%s target=%s hd=%s dd=%s in_flight=%u "
			"MaxRecvDataSegmentLength=%u MaxBurstLength=%u FirstBurstLength=%u "
			"InitialR2T=%s ImmediateData=%s\n",
			ini, isid, si->tsih, si->peer, si->discovery ? "(discovery)" : tgt,
			p->header_digest ? "CRC32C" : "None", p->data_digest ? "CRC32C" : "None",
			si->in_flight, p->max_recv_dsl_initiator, p->max_burst, p->first_burst,
			p->initial_r2t ? "Yes" : "No", p->immediate_data ? "Yes" : "No");
	}
	c->n++;
}

static int list_sessions(struct admin *a, FILE *f, bool json)
{
	struct sess_ctx c = { f, json, 0 };
	fputs(json ? "[" : "", f);
	int r = tgt_server_foreach_session(a->srv, sess_cb, &c);
	fputs(json ? "]\n" : "", f);
	return r < 0 ? r : 0;
}

/* Indexed by enum admin_list. */
static int (*const lists[])(struct admin *, FILE *, bool) = {
	list_targets,
	list_portals,
	list_luns,
	list_sessions,
};

static int cmd_list(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	(void)why;
	return lists[c->what](a, f, c->json);
}

/* ---- LUN lookup ---- */
static struct scsi_lu *find_lu(struct admin *a, const char *iqn, uint64_t n, const char **why)
{
	const struct tgt_target *t = NULL;
	for (int i = 0; i < a->m->n_targets && !t; i++)
		if (!strcmp(a->m->targets[i].iqn, iqn))
			t = &a->m->targets[i];
	*why = "no such target";
	if (!t)
		return NULL;
	struct scsi_lu *lu = t->map ? scsi_lun_map_get(t->map, n) : NULL;
	*why = "no such LUN";
	return lu;
}

#define SHOW_MAX_REGS 64

static void show_text(FILE *f, const struct scsi_admin_lu *i, const struct scsi_admin_reg *r,
		      unsigned n)
{
	fprintf(f,
		"blocks=%" PRIu64 " block_size=%u size=%" PRIu64
		"\nnaa=%s serial=%s vendor=%s product=%s\n"
		"pr_generation=%u reserved=%s type=%u spc2_reserved=%s registrations=%u\n",
		i->nblocks, i->block_size, i->nblocks * i->block_size, i->naa, i->serial, i->vendor,
		i->product, i->generation, i->reserved ? "yes" : "no", i->type,
		i->spc2_reserved ? "yes" : "no", i->nregs);
	for (unsigned k = 0; k < n; k++) {
		char isid[13];
		isid_hex(r[k].isid, isid);
		fprintf(f, "registration %s isid=%s rel_port=%u key=0x%016" PRIx64 "%s\n",
			r[k].name, r[k].any_isid ? "*" : isid, r[k].rel_port, r[k].key,
			r[k].holder ? " holder" : "");
	}
}

static void show_json(FILE *f, const struct scsi_admin_lu *i, const struct scsi_admin_reg *r,
		      unsigned n)
{
	fprintf(f,
		"{\"blocks\":%" PRIu64 ",\"block_size\":%u,\"size\":%" PRIu64
		",\"naa\":\"%s\",\"serial\":",
		i->nblocks, i->block_size, i->nblocks * i->block_size, i->naa);
	kjson_str(f, i->serial);
	fprintf(f,
		",\"pr_generation\":%u,\"reserved\":%s,\"type\":%u,\"spc2_reserved\":%s,\"registrations\":[",
		i->generation, i->reserved ? "true" : "false", i->type,
		i->spc2_reserved ? "true" : "false");
	for (unsigned k = 0; k < n; k++) {
		char isid[13];
		isid_hex(r[k].isid, isid);
		fprintf(f, "%s{\"initiator\":", sep((int)k));
		kjson_str(f, r[k].name);
		fprintf(f,
			",\"isid\":\"%s\",\"rel_port\":%u,\"key\":\"0x%016" PRIx64
			"\",\"holder\":%s}",
			r[k].any_isid ? "*" : isid, r[k].rel_port, r[k].key,
			r[k].holder ? "true" : "false");
	}
	fputs("]}\n", f);
}

static int cmd_show(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct scsi_lu *lu = find_lu(a, c->iqn, c->lun, why);
	if (!lu)
		return -ENOENT;
	struct scsi_admin_lu info;
	struct scsi_admin_reg regs[SHOW_MAX_REGS];
	scsi_admin_lu_info(lu, &info, regs, SHOW_MAX_REGS);
	unsigned n = info.nregs < SHOW_MAX_REGS ? info.nregs : SHOW_MAX_REGS;
	(c->json ? show_json : show_text)(f, &info, regs, n);
	return 0;
}

static int cmd_clear_resv(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct scsi_lu *lu = find_lu(a, c->iqn, c->lun, why);
	if (!lu)
		return -ENOENT;
	int n = scsi_admin_clear_pr(lu);
	kinfo("admin: cleared reservation and %d registration(s) of %s LUN %s", n, c->argv[1],
	      c->argv[2]);
	fprintf(f, "cleared %d registration(s)\n", n);
	return 0;
}

/* ---- alua ---- */
static int alua_show(FILE *f, bool json)
{
	struct scsi_alua_group g[SCSI_ALUA_MAX_GROUPS];
	unsigned n = scsi_alua_snapshot(g, SCSI_ALUA_MAX_GROUPS);
	fputs(json ? "[" : "", f);
	for (unsigned i = 0; i < n; i++) {
		if (json)
			fprintf(f, "%s{\"port_group\":%u,\"state\":\"%s\",\"rel_ports\":[",
				sep((int)i), g[i].id, scsi_alua_state_name(g[i].state));
		else
			fprintf(f, "port_group=%u state=%s rel_ports=", g[i].id,
				scsi_alua_state_name(g[i].state));
		for (unsigned k = 0; k < g[i].n_ports; k++)
			fprintf(f, "%s%u", k ? "," : "", g[i].ports[k]);
		fputs(json ? "]}" : "\n", f);
	}
	fputs(json ? "]\n" : "", f);
	return 0;
}

static int cmd_alua_show(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	(void)a, (void)why;
	return alua_show(f, c->json);
}

static int cmd_alua_set(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	(void)a, (void)f;
	int r = tgt_model_set_alua((uint16_t)c->num, c->state);
	*why = "no such port group";
	if (r == 0)
		kinfo("admin: port group %lu is now %s", c->num, scsi_alua_state_name(c->state));
	return r;
}

static int cmd_acl(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_live_acl(a->m, a->srv, c, f, why);
}

static int cmd_chap(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_live_chap(a->m, c, f, why);
}

static int cmd_lun(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_live_lun(a->m, a->srv, c, f, why);
}

static int cmd_raid(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_storage_raid(a->m, c, f, why);
}

static int cmd_pool(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_storage_pool(a->m, c, f, why);
}

static int cmd_volume(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_storage_volume(a->m, c, f, why);
}

static int cmd_copy(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_storage_copy(a->m, c, f, why);
}

static int cmd_rbd_copy(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct scsi_lu *lu = find_lu(a, c->iqn, c->lun, why);
	return lu ? admin_rbd_copy(lu, c, f, why) : -ENOENT;
}

static int cmd_metrics(struct admin *a, const struct admin_cmd *c, FILE *f, const char **why)
{
	return admin_metrics(a->m, a->srv, c, f, why);
}

typedef int (*admin_handler)(struct admin *, const struct admin_cmd *, FILE *, const char **);

static const admin_handler handlers[ADMIN_N_OPS] = {
	[ADMIN_LIST] = cmd_list,
	[ADMIN_SHOW_LUN] = cmd_show,
	[ADMIN_CLEAR_RESV] = cmd_clear_resv,
	[ADMIN_ALUA_SHOW] = cmd_alua_show,
	[ADMIN_ALUA_SET] = cmd_alua_set,
	[ADMIN_ACL_ADD] = cmd_acl,
	[ADMIN_ACL_REMOVE] = cmd_acl,
	[ADMIN_CHAP_ADD] = cmd_chap,
	[ADMIN_CHAP_REMOVE] = cmd_chap,
	[ADMIN_LUN_ADD] = cmd_lun,
	[ADMIN_LUN_REMOVE] = cmd_lun,
	[ADMIN_RAID_STATUS] = cmd_raid,
	[ADMIN_RAID_SCRUB] = cmd_raid,
	[ADMIN_RAID_FAIL] = cmd_raid,
	[ADMIN_RAID_ADD_SPARE] = cmd_raid,
	[ADMIN_RAID_REMOVE] = cmd_raid,
	[ADMIN_RAID_CREATE] = cmd_raid,
	[ADMIN_POOL_STATUS] = cmd_pool,
	[ADMIN_POOL_GROW] = cmd_pool,
	[ADMIN_POOL_CREATE] = cmd_pool,
	[ADMIN_VOLUME_LIST] = cmd_volume,
	[ADMIN_VOLUME_CREATE] = cmd_volume,
	[ADMIN_VOLUME_RESIZE] = cmd_volume,
	[ADMIN_VOLUME_DELETE] = cmd_volume,
	[ADMIN_SNAPSHOT_CREATE] = cmd_copy,
	[ADMIN_CLONE_CREATE] = cmd_copy,
	[ADMIN_METRICS] = cmd_metrics,
	[ADMIN_RBD_SNAPSHOT] = cmd_rbd_copy,
	[ADMIN_RBD_CLONE] = cmd_rbd_copy,
};

static void run_line(struct admin *a, const char *line, size_t len, FILE *f)
{
	struct admin_cmd c;
	char msg[ADMIN_MSG_MAX];
	const char *why = "unknown command";
	/* The parser's last reason is the handler's default one: a handler
	 * sets its own before anything else can fail. */
	int r = admin_parse(line, len, &c, &why);
	c.msg = msg;
	c.msglen = sizeof(msg);
	msg[0] = '\0';
	if (r == 0)
		r = handlers[c.op](a, &c, f, &why);
	if (r < 0)
		fprintf(f, "ERR %s\n", why);
	else
		fputs("OK\n", f);
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(msg, sizeof(msg));
}

/* ---- the socket ----
 * One kloop on the admin thread serves every client at once: requests are
 * read without blocking, so a client that connects and says nothing (or
 * reads its answer slowly) holds only its own slot, never the others.
 * Requests still run one at a time, in the loop callback that completed
 * them: the handlers change the model and the configuration file, which
 * only this thread touches (model.h), and a long one (pool create, raid
 * scrub --stop) delays the others no longer than it would with a queue.
 * The answer goes to a memory stream first, then out as the socket takes
 * it. Bounded: ADMIN_MAX_CLIENTS clients, ADMIN_MAX_LINE + 2 bytes per
 * request, ADMIN_IDLE_MS without progress before a client is dropped. */
#define ADMIN_MAX_CLIENTS 16
#define ADMIN_IDLE_MS     5000
#define ADMIN_TICK_MS     250
#define ADMIN_REQ_MAX     (ADMIN_MAX_LINE + 3)

struct tgt_admin;

struct admin_client {
	struct kloop_fd kfd;
	struct tgt_admin *ad;
	struct admin_client *next;
	int fd;
	size_t n; /* request bytes read */
	char req[ADMIN_REQ_MAX];
	char *out; /* the answer, once the request ran */
	size_t out_len, out_off;
	uint64_t deadline_ms;
};

struct tgt_admin {
	struct admin a;
	int lfd;
	struct kloop *loop;
	struct kloop_fd lkfd;
	struct kloop_timer tick;
	struct admin_client *clients;
	int n_clients;
	pthread_t th;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void client_free(struct admin_client *cl)
{
	struct tgt_admin *ad = cl->ad;
	for (struct admin_client **pp = &ad->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	ad->n_clients--;
	kloop_del_fd(ad->loop, cl->fd);
	close(cl->fd);
	explicit_bzero(cl->req, sizeof(cl->req)); /* a chap add request carries a secret */
	free(cl->out);
	free(cl);
}

static void client_drain(struct admin_client *cl)
{
	char sink[4096];
	for (;;) {
		ssize_t r = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return; /* EPOLLIN calls again; the tick ends it after ADMIN_IDLE_MS */
		client_free(cl);
		return;
	}
}

static void client_write(struct admin_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* EPOLLOUT calls again */
		if (w <= 0)
			break;
		cl->out_off += (size_t)w;
		cl->deadline_ms = kloop_now_ms(cl->ad->loop) + ADMIN_IDLE_MS;
	}
	if (cl->out_off < cl->out_len) {
		client_free(cl);
		return;
	}
	/* Sent: end our side, then read what the peer may still send (the rest
	 * of an over-long request) until it closes; closing with bytes unread
	 * would send a RST that can destroy the answer in flight. */
	shutdown(cl->fd, SHUT_WR);
	kloop_mod_fd(cl->ad->loop, cl->fd, EPOLLIN, &cl->kfd);
	client_drain(cl);
}

/* The request is complete (a newline, a full buffer or the peer's EOF):
 * run it and start sending the answer. The request is read even from a
 * refused peer: closing with its bytes unread would send a RST that can
 * beat our answer to the client. */
static void client_run(struct admin_client *cl, bool got)
{
	FILE *f = open_memstream(&cl->out, &cl->out_len);
	if (!f) {
		client_free(cl);
		return;
	}
	if (!kunix_peer_allowed(cl->fd))
		fputs("ERR permission denied\n", f);
	else if (!got)
		fputs("ERR no request\n", f);
	else
		run_line(&cl->ad->a, cl->req, cl->n, f);
	explicit_bzero(cl->req, sizeof(cl->req));
	if (fclose(f) != 0) {
		client_free(cl);
		return;
	}
	cl->deadline_ms = kloop_now_ms(cl->ad->loop) + ADMIN_IDLE_MS;
	kloop_mod_fd(cl->ad->loop, cl->fd, EPOLLOUT, &cl->kfd);
	client_write(cl);
}

static void client_read(struct admin_client *cl)
{
	ssize_t r = recv(cl->fd, cl->req + cl->n, sizeof(cl->req) - cl->n, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r < 0) {
		client_free(cl);
		return;
	}
	const char *nl = memchr(cl->req + cl->n, '\n', (size_t)r);
	cl->n += (size_t)r;
	if (nl)
		cl->n = (size_t)(nl - cl->req) + 1;
	if (nl || r == 0 || cl->n == sizeof(cl->req)) /* too long: the parser says so */
		client_run(cl, cl->n > 0);
}

static void on_client(struct kloop_fd *h, uint32_t events)
{
	struct admin_client *cl = container_of(h, struct admin_client, kfd);
	if (cl->out && cl->out_off == cl->out_len)
		client_drain(cl);
	else if (cl->out)
		client_write(cl);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(cl);
}

/* Over ADMIN_MAX_CLIENTS: say so and close (what the peer already sent is
 * read first, for the RST reason above). */
static void refuse(int fd)
{
	static const char msg[] = "ERR too many admin clients\n";
	char sink[256];
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		kdebug("admin: refusing a client: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void client_new(struct tgt_admin *ad, int fd)
{
	struct admin_client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->ad = ad;
	cl->fd = fd;
	cl->kfd.fn = on_client;
	cl->deadline_ms = kloop_now_ms(ad->loop) + ADMIN_IDLE_MS;
	if (kloop_add_fd(ad->loop, fd, EPOLLIN, &cl->kfd) < 0) {
		close(fd);
		free(cl);
		return;
	}
	cl->next = ad->clients;
	ad->clients = cl;
	ad->n_clients++;
}

static void on_listen(struct kloop_fd *h, uint32_t events)
{
	struct tgt_admin *ad = container_of(h, struct tgt_admin, lkfd);
	(void)events;
	for (int i = 0; i < ADMIN_MAX_CLIENTS; i++) {
		int fd = accept4(ad->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (ad->n_clients >= ADMIN_MAX_CLIENTS) {
			kwarn("admin: %d clients already connected: refusing one", ad->n_clients);
			refuse(fd);
		} else {
			client_new(ad, fd);
		}
	}
}

/* A client silent for ADMIN_IDLE_MS (no request yet, or not reading its
 * answer) is dropped; one that never sent a full line gets "ERR no request". */
static void on_tick(struct kloop_timer *t)
{
	struct tgt_admin *ad = container_of(t, struct tgt_admin, tick);
	uint64_t now = kloop_now_ms(ad->loop);
	struct admin_client *next;
	for (struct admin_client *cl = ad->clients; cl; cl = next) {
		next = cl->next;
		if (now < cl->deadline_ms)
			continue;
		if (cl->out)
			client_free(cl);
		else
			client_run(cl, cl->n > 0); /* the next tick drops it if it stalls */
	}
}

static void *admin_thread(void *arg)
{
	struct tgt_admin *ad = arg;
	int r = kloop_run(ad->loop);
	if (r < 0)
		kerr("admin: event loop: %s", strerror(-r));
	while (ad->clients)
		client_free(ad->clients);
	return NULL;
}

/* A stale socket of a previous run is replaced (the pid file lock guards);
 * SO_PEERCRED is the real check, mode 0600 keeps others from even connecting. */
static int bind_socket(struct tgt_admin *ad, char *err, size_t errlen)
{
	ad->lfd = kunix_listen(ad->path, 64, true);
	if (ad->lfd < 0)
		snprintf(err, errlen, "admin socket %s: %s", ad->path, strerror(-ad->lfd));
	return ad->lfd < 0 ? ad->lfd : 0;
}

/* The loop (a small ring: the admin thread does no disk I/O through it),
 * the listening socket in it and the idle timer. */
static int loop_setup(struct tgt_admin *ad, char *err, size_t errlen)
{
	ad->loop = kloop_new(8);
	int r = ad->loop ? 0 : -errno;
	ad->lkfd.fn = on_listen;
	if (r == 0)
		r = kloop_add_fd(ad->loop, ad->lfd, EPOLLIN, &ad->lkfd);
	if (r < 0) {
		snprintf(err, errlen, "admin event loop: %s", strerror(-r));
		return r;
	}
	ad->tick.fn = on_tick;
	kloop_timer_start(ad->loop, &ad->tick, ADMIN_TICK_MS);
	return 0;
}

static void admin_free(struct tgt_admin *ad)
{
	if (ad->loop)
		kloop_free(ad->loop);
	if (ad->lfd >= 0) {
		close(ad->lfd);
		unlink(ad->path);
	}
	free(ad);
}

int tgt_admin_start(struct tgt_model *m, struct tgt_server *srv, const char *path,
		    struct tgt_admin **out, char *err, size_t errlen)
{
	struct tgt_admin *ad = calloc(1, sizeof(*ad));
	if (!ad)
		return -ENOMEM;
	ad->a = (struct admin){ m, srv };
	ad->lfd = -1;
	int n = path ? snprintf(ad->path, sizeof(ad->path), "%s", path)
		     : snprintf(ad->path, sizeof(ad->path), "%s/kura-targetd.sock",
				m->conf->data_dir);
	int r = n >= (int)sizeof(ad->path) ? -ENAMETOOLONG : 0;
	if (r < 0)
		snprintf(err, errlen, "admin socket path too long");
	if (r == 0)
		r = bind_socket(ad, err, errlen);
	if (r == 0)
		r = loop_setup(ad, err, errlen);
	if (r == 0 && (r = -pthread_create(&ad->th, NULL, admin_thread, ad)) < 0)
		snprintf(err, errlen, "admin thread: %s", strerror(-r));
	if (r < 0) {
		admin_free(ad);
		return r;
	}
	*out = ad;
	return 0;
}

void tgt_admin_stop(struct tgt_admin *ad)
{
	if (!ad)
		return;
	kloop_stop(ad->loop);
	pthread_join(ad->th, NULL);
	admin_free(ad);
}
