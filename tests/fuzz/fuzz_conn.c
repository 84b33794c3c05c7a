/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the connection receive state machine (target/conn*.c
 * with session.c and server.c): arbitrary bytes arrive on a socketpair as
 * the traffic of a session that has just logged in, and the worker loop runs
 * until the connection has closed and freed everything.
 *
 * The login engine and the SCSI layer are replaced by small stubs so the
 * fuzzer spends its time on framing, digests, CmdSN windows, R2T / Data-Out
 * sequences, TMF, Text continuation and teardown with tasks in flight.
 *
 * Input: [flags:1][limits:1][stream...]
 *   flags bit 0 HeaderDigest, 1 DataDigest, 2 InitialR2T, 3 ImmediateData,
 *         4 discovery session, 5-7 MaxOutstandingR2T - 1
 *   limits bits 0-2 MaxRecvDataSegmentLength (initiator) = 512 << n,
 *          bits 3-5 MaxBurstLength = 4096 << n, 6-7 FirstBurstLength = 2048 << n
 * The harness sends a valid Login Request first; the stream follows it.
 *
 * Not for: PDU decoders alone (fuzz_pdu.c), the login engine (fuzz_login.c).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/kbuf.h"
#include "common/log.h"
#include "target/iscsi/iscsi_pdu.c"
#include "target/transport/server.c"
#include "target/transport/session.c"
#include "target/transport/conn.c"
#include "target/transport/conn_login.c"
#include "target/transport/conn_scsi.c"
#include "target/transport/conn_tmf.c"
#include "target/transport/limits.c"
#include "../unit/conn_stubs.h"

/* ---- stub login engine: one request, straight to full feature phase ---- */
static struct iscsi_session_params fz_params;

struct iscsi_login *iscsi_login_new(const struct iscsi_login_policy *policy,
				    const struct iscsi_target_limits *limits)
{
	struct iscsi_login *l = calloc(1, sizeof(*l));
	if (l)
		l->p = fz_params;
	return l;
}

int iscsi_login_step(struct iscsi_login *l, const struct iscsi_login_req *req,
		     struct iscsi_login_rsp *rsp, uint8_t *buf, size_t buflen)
{
	rsp->csg = req->csg;
	rsp->nsg = ISCSI_STAGE_FULL;
	rsp->transit = true;
	rsp->status = ISCSI_LS_SUCCESS;
	rsp->len = 0;
	l->done = true;
	return 0;
}

size_t iscsi_text_respond(const struct iscsi_login_policy *policy,
			  const struct iscsi_session_params *sp, const uint8_t *data, size_t len,
			  uint8_t *buf, size_t buflen)
{
	/* long answers exercise the C-bit continuation */
	size_t n = len * 7 < buflen ? len * 7 : buflen;
	for (size_t i = 0; i < n; i++)
		buf[i] = len ? data[i % len] : 0;
	return n;
}

/* ---- stub SCSI layer ---- */
static int fz_lu;
struct fz_exec {
	struct kloop_task t;
	struct scsi_task *st;
};

struct scsi_lu *scsi_lun_map_get(struct scsi_lun_map *m, uint64_t lun)
{
	return m && lun < 2 ? (struct scsi_lu *)&fz_lu : NULL;
}
void scsi_lu_reset(struct scsi_lu *lu, struct scsi_itn *from) {}

static void fz_complete(struct kloop_task *k)
{
	struct fz_exec *e = (struct fz_exec *)k;
	struct scsi_task *t = e->st;
	free(e);
	t->status = SAM_STAT_GOOD;
	/* CDB bytes steer the outcome: residuals both ways, sense, no data */
	uint32_t want = t->edtl + (uint32_t)(int8_t)t->cdb[2] * 512;
	if (t->cdb[1] & 1)
		scsi_task_set_sense(t, 0x05, 0x24, 0x00), t->status = SAM_STAT_CHECK_CONDITION;
	if (t->dir == SCSI_DIR_READ && want && want <= (1u << 20)) {
		t->in_buf = kbuf_alloc(want);
		if (t->in_buf) {
			memset(t->in_buf, 0x5a, want);
			t->in_len = want;
		}
	}
	if (t->dir == SCSI_DIR_WRITE)
		t->out_wanted = want;
	t->done(t);
}

void scsi_task_exec(struct scsi_task *t)
{
	struct fz_exec *e = calloc(1, sizeof(*e));
	e->t.fn = fz_complete;
	e->st = t;
	kloop_defer(t->loop, &e->t); /* done() never inline */
}

/* ---- the harness ---- */
static struct tgt_config fz_cfg;
static struct tgt_target fz_tgt;
static struct tgt_model fz_model;
static struct tgt_server *fz_srv;
static struct tgt_worker fz_w;
static int fz_peer = -1;
static unsigned fz_iter;
static struct kloop_task fz_watch;

static void watch_run(struct kloop_task *t)
{
	char sinkbuf[65536];
	while (read(fz_peer, sinkbuf, sizeof(sinkbuf)) > 0)
		;
	if (atomic_load(&fz_srv->n_conns) == 0) {
		kloop_stop(fz_w.loop);
		return;
	}
	if (++fz_iter == 20000)
		worker_close_all(&fz_w); /* a connection that never ends is a bug too */
	kloop_defer(fz_w.loop, &fz_watch);
}

static void fz_init(void)
{
	klog_set_level(KLOG_ERR);
	snprintf(fz_tgt.iqn, sizeof(fz_tgt.iqn), "iqn.fuzz");
	fz_tgt.map = (struct scsi_lun_map *)&fz_lu;
	fz_model.targets = &fz_tgt;
	fz_model.n_targets = 1;
	fz_model.conf = &fz_cfg;
	pthread_mutex_init(&fz_model.live_lock, NULL);
	fz_cfg.n_portals = 1;
	snprintf(fz_cfg.portals[0].addr, sizeof(fz_cfg.portals[0].addr), "127.0.0.1");
	fz_cfg.portals[0].port = 3260;
	fz_cfg.portals[0].tpgt = 1;
	fz_cfg.queue_depth = 8;
	fz_cfg.nop_interval_ms = 5000;
	fz_cfg.nop_timeout_ms = 15000;
	iscsi_target_limits_default(&fz_cfg.limits);
	fz_cfg.limits.max_recv_dsl = 16384;
	fz_srv = calloc(1, sizeof(*fz_srv));
	fz_srv->cfg = &fz_cfg;
	fz_srv->model = &fz_model;
	pthread_mutex_init(&fz_srv->lock, NULL);
	fz_srv->next_tsih = 1;
	fz_srv->workers = &fz_w;
	fz_srv->n_workers = 1;
	fz_w.srv = fz_srv;
	fz_w.loop = kloop_new(64);
	fz_watch.fn = watch_run;
}

/* iscsi_target_limits_default lives in the login engine we stubbed out. */
void iscsi_target_limits_default(struct iscsi_target_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_recv_dsl = 262144;
	l->max_burst = l->first_burst = 16776192;
	l->max_outstanding_r2t = 32;
}

static void fz_params_from(uint8_t f, uint8_t lim)
{
	struct iscsi_session_params *p = &fz_params;
	memset(p, 0, sizeof(*p));
	p->discovery = f & 0x10;
	snprintf(p->initiator_name, sizeof(p->initiator_name), "iqn.fuzz-initiator");
	if (!p->discovery)
		snprintf(p->target_name, sizeof(p->target_name), "iqn.fuzz");
	p->header_digest = f & 1;
	p->data_digest = f & 2;
	p->initial_r2t = f & 4;
	p->immediate_data = f & 8;
	p->max_outstanding_r2t = 1u + (f >> 5);
	p->max_recv_dsl_initiator = 512u << (lim & 7);
	p->max_recv_dsl_target = fz_cfg.limits.max_recv_dsl;
	p->max_burst = 4096u << ((lim >> 3) & 7);
	p->first_burst = 2048u << (lim >> 6);
	if (p->first_burst > p->max_burst)
		p->first_burst = p->max_burst;
	p->max_connections = 1;
}

static void login_pdu(uint8_t *b)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = 0x43;
	b[1] = 0x80 | (1 << 2) | 3;
	memcpy(b + 8, "\x80\x01\x02\x03\x04\x05", 6);
	put_be32(b + 16, 1);
	put_be32(b + 24, 100); /* CmdSN */
	put_be32(b + 28, 7);   /* ExpStatSN */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_srv)
		fz_init();
	if (size < 2 || size > 200000)
		return 0;
	fz_params_from(data[0], data[1]);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	uint8_t lp[ISCSI_BHS_LEN];
	login_pdu(lp);
	if (write(sv[1], lp, sizeof(lp)) != (ssize_t)sizeof(lp))
		abort();
	ssize_t w = write(sv[1], data + 2, size - 2);
	(void)w; /* what does not fit is simply not sent */
	shutdown(sv[1], SHUT_WR);
	fz_peer = sv[1];
	fz_iter = 0;
	atomic_store(&fz_srv->n_conns, 1);
	conn_accept(&fz_w, sv[0], &fz_cfg.portals[0]);
	kloop_defer(fz_w.loop, &fz_watch);
	kloop_run(fz_w.loop);
	close(sv[1]);
	if (fz_srv->sessions)
		abort(); /* a session outlived its connection */
	return 0;
}
