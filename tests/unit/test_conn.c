/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the iSCSI transport (target/conn*.c, session.c, server.c):
 * a real worker loop and a socketpair, a stub login engine that goes
 * straight to full feature phase with chosen parameters, and a stub SCSI
 * layer whose commands complete only when the test says so. Each test
 * writes initiator PDUs and checks the target's PDUs byte by byte:
 * Data-In cutting (MaxRecvDataSegmentLength, MaxBurstLength, F / S bits),
 * residuals, sense, R2T sequences, unsolicited data, the CmdSN window,
 * TMF ordering, NOP echo, Reject and header digests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
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
#include "conn_stubs.h"

/* ---- stub login engine ---- */
static struct iscsi_session_params tp;

struct iscsi_login *iscsi_login_new(const struct iscsi_login_policy *policy,
				    const struct iscsi_target_limits *limits)
{
	struct iscsi_login *l = calloc(1, sizeof(*l));
	l->p = tp;
	return l;
}
int iscsi_login_step(struct iscsi_login *l, const struct iscsi_login_req *req,
		     struct iscsi_login_rsp *rsp, uint8_t *buf, size_t buflen)
{
	*rsp = (struct iscsi_login_rsp){ .csg = req->csg,
					 .nsg = ISCSI_STAGE_FULL,
					 .transit = true };
	l->done = true;
	return 0;
}
size_t iscsi_text_respond(const struct iscsi_login_policy *policy,
			  const struct iscsi_session_params *sp, const uint8_t *data, size_t len,
			  uint8_t *buf, size_t buflen)
{
	return 0;
}
void iscsi_target_limits_default(struct iscsi_target_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_recv_dsl = 65536;
}

/* ---- stub SCSI layer: commands wait in `held` until released ---- */
static int lu_token;
static struct scsi_task *held[64];
static int n_held;
static int lu_resets;

struct scsi_lu *scsi_lun_map_get(struct scsi_lun_map *m, uint64_t lun)
{
	return lun == 0 ? (struct scsi_lu *)&lu_token : NULL;
}
void scsi_lu_reset(struct scsi_lu *lu, struct scsi_itn *from)
{
	lu_resets++;
}
void scsi_task_exec(struct scsi_task *t)
{
	held[n_held++] = t;
}

struct deferred_done {
	struct kloop_task k;
	struct scsi_task *t;
};
static void run_done(struct kloop_task *k)
{
	struct deferred_done *d = (struct deferred_done *)k;
	d->t->done(d->t);
	free(d);
}

/* Finish held command i: Data-In of in_len bytes (pattern i), optional sense. */
static void release(int i, uint32_t in_len, uint32_t out_wanted, bool sense)
{
	struct scsi_task *t = held[i];
	t->status = sense ? SAM_STAT_CHECK_CONDITION : SAM_STAT_GOOD;
	if (sense)
		scsi_task_set_sense(t, 0x03, 0x11, 0x00);
	if (in_len) {
		t->in_buf = kbuf_alloc(in_len);
		for (uint32_t b = 0; b < in_len; b++)
			((uint8_t *)t->in_buf)[b] = (uint8_t)(b * 7 + i);
	}
	t->in_len = in_len;
	t->out_wanted = out_wanted;
	struct deferred_done *d = calloc(1, sizeof(*d));
	d->k.fn = run_done;
	d->t = t;
	kloop_defer(t->loop, &d->k);
	held[i] = NULL;
}

/* ---- harness ---- */
static struct tgt_config cfg;
static struct tgt_target tgt;
static struct tgt_model model;
static struct tgt_server *srv;
static struct tgt_worker w;
static int peer = -1;
static bool hd; /* header digest on the test side */
static uint32_t cmdsn;

static void stop_run(struct kloop_task *t)
{
	kloop_stop(w.loop);
}
static struct kloop_task stopper = { .fn = stop_run };

/* Run the loop until nothing more happens (a few idle iterations). */
static void pump(void)
{
	for (int i = 0; i < 8; i++) {
		kloop_defer(w.loop, &stopper);
		kloop_run(w.loop);
	}
}

static int group_setup(void **state)
{
	klog_set_level(KLOG_ERR);
	snprintf(tgt.iqn, sizeof(tgt.iqn), "iqn.test");
	tgt.map = (struct scsi_lun_map *)&lu_token;
	model.targets = &tgt;
	model.n_targets = 1;
	model.conf = &cfg;
	pthread_mutex_init(&model.live_lock, NULL);
	cfg.n_portals = 1;
	snprintf(cfg.portals[0].addr, sizeof(cfg.portals[0].addr), "127.0.0.1");
	cfg.portals[0].tpgt = 1;
	cfg.queue_depth = 8;
	iscsi_target_limits_default(&cfg.limits);
	srv = calloc(1, sizeof(*srv));
	srv->cfg = &cfg;
	srv->model = &model;
	pthread_mutex_init(&srv->lock, NULL);
	srv->next_tsih = 1;
	limits_init(srv);
	srv->workers = &w;
	srv->n_workers = 1;
	w.srv = srv;
	w.loop = kloop_new(64);
	return w.loop ? 0 : -1;
}

static void default_params(void)
{
	memset(&tp, 0, sizeof(tp));
	snprintf(tp.initiator_name, sizeof(tp.initiator_name), "iqn.test-initiator");
	snprintf(tp.target_name, sizeof(tp.target_name), "iqn.test");
	tp.max_recv_dsl_initiator = 1024;
	tp.max_recv_dsl_target = 65536;
	tp.max_burst = 2048;
	tp.first_burst = 2048;
	tp.max_outstanding_r2t = 2;
	tp.initial_r2t = true;
	tp.immediate_data = true;
	tp.max_connections = 1;
}

static void bhs(uint8_t *b, uint8_t op, uint8_t flags, uint32_t dsl, uint32_t itt)
{
	memset(b, 0, 48);
	b[0] = op;
	b[1] = flags;
	put_be24(b + 5, dsl);
	put_be32(b + 16, itt);
}

static void send_pdu(const uint8_t *h, const void *data, uint32_t dlen)
{
	uint8_t buf[70000];
	size_t n = 48;
	memcpy(buf, h, 48);
	if (hd) {
		iscsi_digest_put(buf + 48, iscsi_crc32c(h, 48));
		n += 4;
	}
	if (dlen) {
		memcpy(buf + n, data, dlen);
		n += dlen;
		uint32_t pad = iscsi_pad4(dlen);
		memset(buf + n, 0, pad);
		n += pad;
	}
	assert_int_equal(write(peer, buf, n), (ssize_t)n);
	pump();
}

static bool read_full(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(peer, p + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool peer_has_data(void)
{
	struct pollfd pf = { .fd = peer, .events = POLLIN };
	return poll(&pf, 1, 0) == 1;
}

/* Read one target PDU: header into h, data (unpadded) into d; returns dsl. */
static uint32_t recv_pdu(uint8_t *h, uint8_t *d)
{
	assert_true(peer_has_data());
	assert_true(read_full(h, 48));
	if (hd) {
		uint8_t dg[4];
		assert_true(read_full(dg, 4));
		assert_int_equal(iscsi_digest_get(dg), iscsi_crc32c(h, 48));
	}
	uint32_t dsl = get_be24(h + 5);
	uint8_t scratch[4];
	if (dsl) {
		assert_true(read_full(d, dsl));
		assert_true(read_full(scratch, iscsi_pad4(dsl)));
	}
	return dsl;
}

static void login(void)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	peer = sv[1];
	hd = false;
	n_held = 0;
	atomic_store(&srv->n_conns, 1);
	conn_accept(&w, sv[0], &cfg.portals[0]);
	uint8_t h[48], d[8192];
	bhs(h, 0x43, 0x80 | (1 << 2) | 3, 0, 0x1000);
	memcpy(h + 8, "\x80\x00\x00\x00\x00\x01", 6);
	put_be32(h + 24, 100);
	put_be32(h + 28, 7);
	send_pdu(h, NULL, 0);
	recv_pdu(h, d);
	assert_int_equal(h[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(h[1], 0x80 | (1 << 2) | 3);
	assert_int_not_equal(get_be16(h + 14), 0);       /* TSIH assigned */
	assert_int_equal(get_be32(h + 24), 7);           /* StatSN starts at ExpStatSN */
	assert_int_equal(get_be32(h + 28), 100);         /* ExpCmdSN */
	assert_int_equal(get_be32(h + 32), 100 + 8 - 1); /* MaxCmdSN: queue depth 8 */
	assert_int_equal(h[36], 0);
	cmdsn = 100;
	hd = tp.header_digest;
}

static void logout_close(void)
{
	close(peer);
	peer = -1;
	for (int i = 0; i < 100 && atomic_load(&srv->n_conns); i++)
		pump();
	assert_int_equal(atomic_load(&srv->n_conns), 0);
	assert_null(srv->sessions);
	assert_int_equal(stub_lu_holds, 0); /* every command / TMF put its LU */
}

static void scsi_cmd(uint32_t itt, uint8_t flags, uint32_t edtl, const void *imm, uint32_t dsl)
{
	uint8_t h[48];
	bhs(h, 0x01, flags, dsl, itt);
	put_be32(h + 20, edtl);
	put_be32(h + 24, cmdsn++);
	h[32] = (flags & ISCSI_CMD_WRITE) ? 0x2a : 0x28;
	send_pdu(h, imm, dsl);
}

static void data_out(uint32_t itt, uint32_t ttt, uint32_t datasn, uint32_t off, const uint8_t *buf,
		     uint32_t len, bool final)
{
	uint8_t h[48];
	bhs(h, 0x05, final ? 0x80 : 0, len, itt);
	put_be32(h + 20, ttt);
	put_be32(h + 36, datasn);
	put_be32(h + 40, off);
	send_pdu(h, buf + off, len);
}

/* ---- tests ---- */

static void test_login_and_close(void **state)
{
	default_params();
	login();
	assert_false(peer_has_data());
	logout_close();
}

static void test_read_cut_by_mrdsl_and_burst(void **state)
{
	default_params(); /* MRDSL 1024, MaxBurstLength 2048 */
	login();
	scsi_cmd(0x10, 0x80 | ISCSI_CMD_READ | 1, 4096, NULL, 0);
	assert_int_equal(n_held, 1);
	assert_int_equal(held[0]->edtl, 4096);
	assert_int_equal(held[0]->dir, SCSI_DIR_READ);
	release(0, 4096, 0, false);
	pump();
	uint8_t h[48], d[4096];
	static const uint8_t flags[4] = { 0x00, 0x80, 0x00, 0x80 | 0x01 };
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(recv_pdu(h, d), 1024);
		assert_int_equal(h[0], ISCSI_OP_DATA_IN);
		assert_int_equal(h[1], flags[i]); /* F at each burst end; S on the last */
		assert_int_equal(get_be32(h + 16), 0x10);
		assert_int_equal(get_be32(h + 36), i); /* DataSN */
		assert_int_equal(get_be32(h + 40), i * 1024);
		assert_int_equal(d[5], (uint8_t)((i * 1024 + 5) * 7));
		assert_int_equal(get_be32(h + 24), i == 3 ? 8 : 0); /* StatSN only with S */
	}
	assert_int_equal(get_be32(h + 28), 101);         /* ExpCmdSN */
	assert_int_equal(get_be32(h + 32), 101 + 8 - 1); /* window reopened */
	assert_false(peer_has_data());
	logout_close();
}

static void test_read_residuals(void **state)
{
	default_params();
	tp.max_recv_dsl_initiator = 65536;
	tp.max_burst = 65536;
	login();
	uint8_t h[48], d[8192];
	scsi_cmd(0x20, 0x80 | ISCSI_CMD_READ | 1, 4096, NULL, 0);
	release(0, 1024, 0, false); /* underflow */
	pump();
	assert_int_equal(recv_pdu(h, d), 1024);
	assert_int_equal(h[1], 0x80 | ISCSI_DATAIN_UNDERFLOW | ISCSI_DATAIN_STATUS);
	assert_int_equal(get_be32(h + 44), 3072);
	scsi_cmd(0x21, 0x80 | ISCSI_CMD_READ | 1, 4096, NULL, 0);
	release(1, 8192, 0, false); /* overflow: only EDTL bytes go out */
	pump();
	assert_int_equal(recv_pdu(h, d), 4096);
	assert_int_equal(h[1], 0x80 | ISCSI_DATAIN_OVERFLOW | ISCSI_DATAIN_STATUS);
	assert_int_equal(get_be32(h + 44), 4096);
	scsi_cmd(0x22, 0x80 | ISCSI_CMD_READ | 1, 512, NULL, 0);
	release(2, 0, 0, false); /* no data at all: SCSI Response */
	pump();
	assert_int_equal(recv_pdu(h, d), 0);
	assert_int_equal(h[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h[1], 0x80 | ISCSI_RSP_UNDERFLOW);
	assert_int_equal(get_be32(h + 44), 512);
	logout_close();
}

static void test_read_with_sense(void **state)
{
	default_params();
	tp.max_recv_dsl_initiator = 65536;
	tp.max_burst = 65536;
	login();
	uint8_t h[48], d[8192];
	scsi_cmd(0x30, 0x80 | ISCSI_CMD_READ | 1, 1024, NULL, 0);
	release(0, 1024, 0, true);
	pump();
	assert_int_equal(recv_pdu(h, d), 1024); /* data without status */
	assert_int_equal(h[1], 0x80);
	assert_int_equal(recv_pdu(h, d), 20); /* SenseLength + 18 bytes */
	assert_int_equal(h[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
	assert_int_equal(get_be16(d), 18);
	assert_int_equal(d[2 + 2], 0x03);
	assert_int_equal(d[2 + 12], 0x11);
	assert_int_equal(get_be32(h + 36), 1); /* ExpDataSN: one Data-In sent */
	logout_close();
}

static void test_write_r2t_sequences(void **state)
{
	default_params(); /* InitialR2T=Yes, MaxBurst 2048, MaxOutstandingR2T 2 */
	login();
	static uint8_t buf[8192];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3 + 1);
	scsi_cmd(0x40, 0x80 | ISCSI_CMD_WRITE | 1, 8192, buf, 1024);
	uint8_t h[48], d[64];
	uint32_t ttt[4], off[4] = { 1024, 3072, 5120, 7168 }, len[4] = { 2048, 2048, 2048, 1024 };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(recv_pdu(h, d), 0);
		assert_int_equal(h[0], ISCSI_OP_R2T);
		assert_int_equal(get_be32(h + 36), i); /* R2TSN */
		assert_int_equal(get_be32(h + 40), off[i]);
		assert_int_equal(get_be32(h + 44), len[i]);
		ttt[i] = get_be32(h + 20);
	}
	assert_false(peer_has_data()); /* MaxOutstandingR2T = 2 */
	for (int i = 0; i < 2; i++) {
		data_out(0x40, ttt[i], 0, off[i], buf, 1024, false);
		data_out(0x40, ttt[i], 1, off[i] + 1024, buf, 1024, true);
		assert_int_equal(recv_pdu(h, d), 0);
		assert_int_equal(get_be32(h + 36), i + 2);
		assert_int_equal(get_be32(h + 40), off[i + 2]);
		assert_int_equal(get_be32(h + 44), len[i + 2]);
		ttt[i + 2] = get_be32(h + 20);
	}
	assert_int_equal(n_held, 0);
	data_out(0x40, ttt[2], 0, off[2], buf, 1024, false);
	data_out(0x40, ttt[2], 1, off[2] + 1024, buf, 1024, true);
	data_out(0x40, ttt[3], 0, off[3], buf, 1024, true);
	assert_int_equal(n_held, 1); /* all data in: executed */
	assert_int_equal(held[0]->out_len, 8192);
	assert_memory_equal(held[0]->out_iov[0].iov_base, buf, 8192);
	release(0, 0, 8192, false);
	pump();
	assert_int_equal(recv_pdu(h, d), 0);
	assert_int_equal(h[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h[1], 0x80);          /* no residual */
	assert_int_equal(get_be32(h + 36), 4); /* ExpDataSN counts R2Ts */
	logout_close();
}

static void test_write_unsolicited_and_residual(void **state)
{
	default_params();
	tp.initial_r2t = false;
	tp.first_burst = 4096;
	tp.max_burst = 8192;
	login();
	static uint8_t buf[8192];
	memset(buf, 0x5c, sizeof(buf));
	/* 1024 immediate + unsolicited Data-Out up to FirstBurstLength, then R2T */
	scsi_cmd(0x50, ISCSI_CMD_WRITE | 1, 8192, buf, 1024);
	assert_false(peer_has_data());
	data_out(0x50, ISCSI_RSVD_TAG, 0, 1024, buf, 1024, false);
	data_out(0x50, ISCSI_RSVD_TAG, 1, 2048, buf, 2048, true);
	uint8_t h[48], d[64];
	assert_int_equal(recv_pdu(h, d), 0);
	assert_int_equal(h[0], ISCSI_OP_R2T);
	assert_int_equal(get_be32(h + 40), 4096);
	assert_int_equal(get_be32(h + 44), 4096);
	data_out(0x50, get_be32(h + 20), 0, 4096, buf, 4096, true);
	assert_int_equal(n_held, 1);
	release(0, 0, 4096, false); /* the CDB wanted less than the EDTL */
	pump();
	assert_int_equal(recv_pdu(h, d), 0);
	assert_int_equal(h[1], 0x80 | ISCSI_RSP_UNDERFLOW);
	assert_int_equal(get_be32(h + 44), 4096);
	/* a Data-Out out of sequence fails the task and keeps the session */
	scsi_cmd(0x51, ISCSI_CMD_WRITE | 1, 8192, buf, 1024);
	data_out(0x51, ISCSI_RSVD_TAG, 5, 1024, buf, 1024, true); /* DataSN 5 */
	assert_int_equal(recv_pdu(h, d), 48);
	assert_int_equal(h[0], ISCSI_OP_REJECT);
	assert_int_equal(h[2], ISCSI_REJECT_PROTOCOL);
	recv_pdu(h, d);
	assert_int_equal(h[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
	logout_close();
}

static void nop_ping(uint32_t itt, uint8_t *h, uint8_t *d)
{
	bhs(h, 0x40, 0x80, 5, itt);
	put_be32(h + 20, ISCSI_RSVD_TAG);
	put_be32(h + 24, cmdsn);
	send_pdu(h, "hello", 5);
	assert_int_equal(recv_pdu(h, d), 5);
}

static void test_cmdsn_window(void **state)
{
	default_params();
	login();
	uint8_t h[48], d[1024];
	for (uint32_t i = 0; i < 8; i++)
		scsi_cmd(0x60 + i, 0x80 | ISCSI_CMD_READ | 1, 512, NULL, 0);
	assert_int_equal(n_held, 8);
	nop_ping(0x70, h, d);
	assert_int_equal(get_be32(h + 28), 108); /* ExpCmdSN */
	assert_int_equal(get_be32(h + 32), 107); /* window closed: MaxCmdSN = ExpCmdSN - 1 */
	scsi_cmd(0x68, 0x80 | ISCSI_CMD_READ | 1, 512, NULL, 0); /* CmdSN 108: outside */
	assert_int_equal(n_held, 8);
	assert_false(peer_has_data());
	cmdsn--;
	for (int i = 0; i < 8; i++)
		release(i, 512, 0, false);
	pump();
	for (int i = 0; i < 8; i++)
		recv_pdu(h, d);
	assert_int_equal(get_be32(h + 32), 108 + 8 - 1);         /* window open again */
	scsi_cmd(0x68, 0x80 | ISCSI_CMD_READ | 1, 512, NULL, 0); /* now accepted */
	assert_int_equal(n_held, 9);
	release(8, 512, 0, false);
	pump();
	recv_pdu(h, d);
	logout_close();
}

static void test_tmf_after_task_stops(void **state)
{
	default_params();
	login();
	uint8_t h[48], d[64];
	scsi_cmd(0x80, 0x80 | ISCSI_CMD_READ | 1, 512, NULL, 0);
	assert_int_equal(n_held, 1);
	bhs(h, 0x42, 0x80 | ISCSI_TMF_ABORT_TASK, 0, 0x81);
	h[0] |= ISCSI_BHS_IMMEDIATE;
	put_be32(h + 20, 0x80);
	put_be32(h + 24, cmdsn);
	put_be32(h + 32, cmdsn - 1);
	send_pdu(h, NULL, 0);
	assert_false(peer_has_data()); /* the task is still in the backend */
	assert_true(held[0]->aborted);
	release(0, 512, 0, false);
	pump();
	recv_pdu(h, d);
	assert_int_equal(h[0], ISCSI_OP_TMF_RSP); /* and no Data-In for the aborted task */
	assert_int_equal(h[2], ISCSI_TMF_RSP_COMPLETE);
	assert_int_equal(get_be32(h + 16), 0x81);
	assert_false(peer_has_data());
	/* unknown task, RefCmdSN already acknowledged: task does not exist */
	bhs(h, 0x42, 0x80 | ISCSI_TMF_ABORT_TASK, 0, 0x82);
	h[0] |= ISCSI_BHS_IMMEDIATE;
	put_be32(h + 20, 0x99);
	put_be32(h + 24, cmdsn);
	put_be32(h + 32, cmdsn - 1);
	send_pdu(h, NULL, 0);
	recv_pdu(h, d);
	assert_int_equal(h[2], ISCSI_TMF_RSP_NO_TASK);
	/* LUN RESET on LUN 0, nothing running: complete and the LU is reset */
	bhs(h, 0x42 | ISCSI_BHS_IMMEDIATE, 0x80 | ISCSI_TMF_LUN_RESET, 0, 0x83);
	put_be32(h + 24, cmdsn);
	int before = lu_resets;
	send_pdu(h, NULL, 0);
	recv_pdu(h, d);
	assert_int_equal(h[2], ISCSI_TMF_RSP_COMPLETE);
	assert_int_equal(lu_resets, before + 1);
	/* TASK REASSIGN needs ERL 2 */
	bhs(h, 0x42 | ISCSI_BHS_IMMEDIATE, 0x80 | ISCSI_TMF_TASK_REASSIGN, 0, 0x84);
	send_pdu(h, NULL, 0);
	recv_pdu(h, d);
	assert_int_equal(h[2], ISCSI_TMF_RSP_NO_REASSIGN);
	logout_close();
}

static void test_nop_reject_logout(void **state)
{
	default_params();
	login();
	uint8_t h[48], d[64];
	nop_ping(0x90, h, d);
	assert_int_equal(h[0], ISCSI_OP_NOP_IN);
	assert_int_equal(get_be32(h + 16), 0x90);
	assert_int_equal(get_be32(h + 20), ISCSI_RSVD_TAG);
	assert_memory_equal(d, "hello", 5);
	assert_int_equal(get_be32(h + 24), 8); /* the next StatSN after the login */
	bhs(h, 0x1c, 0x80, 0, 0x91);           /* no such opcode */
	send_pdu(h, NULL, 0);
	assert_int_equal(recv_pdu(h, d), 48);
	assert_int_equal(h[0], ISCSI_OP_REJECT);
	assert_int_equal(h[2], ISCSI_REJECT_CMD_NOT_SUPPORTED);
	assert_int_equal(d[0], 0x1c);
	bhs(h, 0x46 | ISCSI_BHS_IMMEDIATE, 0x80 | ISCSI_LOGOUT_CLOSE_SESSION, 0, 0x92);
	put_be32(h + 24, cmdsn);
	send_pdu(h, NULL, 0);
	recv_pdu(h, d);
	assert_int_equal(h[0], ISCSI_OP_LOGOUT_RSP);
	assert_int_equal(h[2], ISCSI_LOGOUT_RSP_SUCCESS);
	assert_int_equal(atomic_load(&srv->n_conns), 0); /* closed after the response */
	logout_close();
}

static void test_header_digest(void **state)
{
	default_params();
	tp.header_digest = true;
	login();
	uint8_t h[48], d[64];
	nop_ping(0xa0, h, d); /* both directions digested */
	assert_int_equal(h[0], ISCSI_OP_NOP_IN);
	hd = false; /* now send a bad digest */
	bhs(h, 0x40, 0x80, 0, 0xa1);
	put_be32(h + 20, ISCSI_RSVD_TAG);
	uint8_t bad[52];
	memcpy(bad, h, 48);
	iscsi_digest_put(bad + 48, iscsi_crc32c(h, 48) ^ 1);
	assert_int_equal(write(peer, bad, 52), 52);
	pump();
	assert_int_equal(atomic_load(&srv->n_conns), 0); /* ERL 0: connection dropped */
	logout_close();
}

static void test_oversized_segment_closes(void **state)
{
	default_params();
	login();
	uint8_t h[48];
	bhs(h, 0x1c, 0x80, 65537, 0xb0); /* bad opcode and DSL > MaxRecvDataSegmentLength */
	assert_int_equal(write(peer, h, 48), 48);
	pump();
	assert_int_equal(atomic_load(&srv->n_conns), 0);
	logout_close();
}

/* The buffer budget (limits.c): a session's floor needs nothing shared, the
 * shared half and each session's cap stop charges, a returned charge makes
 * room again, and every byte comes back. */
static void test_buffer_budget(void **state)
{
	(void)state;
	struct tgt_config bc = cfg;
	bc.buffer_budget = 64u << 20;
	bc.max_connections = 4;
	struct tgt_server b = { .cfg = &bc };
	limits_init(&b);
	assert_true(b.buf_floor == 8u << 20 && b.buf_shared_cap == 32u << 20);
	struct session s1 = { .srv = &b, .buf_cap = 24u << 20 };
	struct session s2 = { .srv = &b, .buf_cap = 40u << 20 };
	struct session s3 = { .srv = &b, .buf_cap = 40u << 20 };
	assert_true(limits_take(&s1, 8u << 20)); /* its floor */
	assert_true(atomic_load(&b.buf_shared_used) == 0);
	assert_true(limits_take(&s1, 16u << 20));
	assert_true(atomic_load(&b.buf_shared_used) == 16u << 20);
	assert_false(limits_take(&s1, 4096)); /* over its cap */
	assert_true(s1.buf_blocked);
	assert_true(limits_take(&s2, 24u << 20));
	assert_true(atomic_load(&b.buf_shared_used) == 32u << 20);
	assert_false(limits_take(&s2, 4096));    /* the shared half is full */
	assert_true(limits_take(&s3, 8u << 20)); /* a floor is still there */
	limits_put(&s1, 16u << 20);
	assert_false(s1.buf_blocked);
	assert_true(limits_take(&s2, 4096));
	limits_put(&s1, 8u << 20);
	limits_put(&s2, (24u << 20) + 4096);
	limits_put(&s3, 8u << 20);
	assert_true(atomic_load(&b.buf_shared_used) == 0 && atomic_load(&b.buf_charged) == 0);
	assert_true(limits_charge(0) == 0 && limits_charge(1) == 8192);
	assert_true(limits_charge(16u << 20) == (16u << 20) + 4096);
	assert_true(limits_charge((16u << 20) + 1) == 0); /* refused before any buffer */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_and_close),
		cmocka_unit_test(test_read_cut_by_mrdsl_and_burst),
		cmocka_unit_test(test_read_residuals),
		cmocka_unit_test(test_read_with_sense),
		cmocka_unit_test(test_write_r2t_sequences),
		cmocka_unit_test(test_write_unsolicited_and_residual),
		cmocka_unit_test(test_cmdsn_window),
		cmocka_unit_test(test_tmf_after_task_stops),
		cmocka_unit_test(test_nop_reject_logout),
		cmocka_unit_test(test_header_digest),
		cmocka_unit_test(test_oversized_segment_closes),
		cmocka_unit_test(test_buffer_budget),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
