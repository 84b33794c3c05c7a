/* SPDX-License-Identifier: Apache-2.0 */
/* The persistent-reservation store interface (target/scsi/scsi_pr_store.h):
 * the file store (load, store, sequence numbers), the record's unit
 * attention events, and the shared store with two "gateways" (two LUs, each
 * with its own loop and nexus) over one in-memory shared state with a
 * compare-and-swap and change notification, standing in for the RBD
 * backend's RADOS object: registrations and reservations made through one
 * gateway hold on the other, a preempted nexus gets RESERVATION CONFLICT
 * and 2A/05 on its own gateway, and a PROUT whose store loses the race
 * reloads and runs again.
 */
#pragma GCC diagnostic ignored "-Wunused-function" /* the harness's one-LU helpers */
#include "test_scsi_harness.h"
#include <pthread.h>
#include <unistd.h>

/* ---- a shared state in memory (the backend side of LUN_CAP_SHARED_STATE) ---- */
static struct {
	pthread_mutex_t mu;
	uint8_t *b;
	size_t len;
	uint64_t seq;
	struct {
		struct lun_backend *be;
		void (*changed)(void *);
		void *arg;
	} w[4];
	int nw;
	bool mute; /* stores notify nobody (a gateway that misses a change) */
	int cancels;
} M = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int m_load(struct lun_backend *be, uint8_t **b, size_t *len, uint64_t *seq)
{
	pthread_mutex_lock(&M.mu);
	*b = M.b ? malloc(M.len) : NULL;
	if (*b)
		memcpy(*b, M.b, M.len);
	*len = M.b ? M.len : 0;
	*seq = M.seq;
	pthread_mutex_unlock(&M.mu);
	return 0;
}

struct m_req {
	struct lun_backend *be;
	uint64_t seq;
	uint8_t *b;
	size_t len;
	void (*done)(void *, int);
	void *arg;
};

static void *m_store_thread(void *arg)
{
	struct m_req *q = arg;
	void (*changed[4])(void *);
	void *args[4];
	int n = 0;
	pthread_mutex_lock(&M.mu);
	if (q->seq != M.seq) {
		M.cancels++;
		pthread_mutex_unlock(&M.mu);
		free(q->b);
		q->done(q->arg, -ECANCELED);
		free(q);
		return NULL;
	}
	free(M.b);
	M.b = q->b;
	M.len = q->len;
	M.seq++;
	for (int i = 0; i < M.nw && !M.mute; i++)
		if (M.w[i].be != q->be) {
			changed[n] = M.w[i].changed;
			args[n++] = M.w[i].arg;
		}
	pthread_mutex_unlock(&M.mu);
	for (int i = 0; i < n; i++)
		changed[i](args[i]); /* the others reload before the store completes */
	q->done(q->arg, 0);
	free(q);
	return NULL;
}

static void m_store(struct lun_backend *be, uint64_t seq, const uint8_t *b, size_t len,
		    void (*done)(void *, int), void *arg)
{
	struct m_req *q = calloc(1, sizeof(*q));
	q->be = be;
	q->seq = seq;
	q->b = malloc(len);
	memcpy(q->b, b, len);
	q->len = len;
	q->done = done;
	q->arg = arg;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, m_store_thread, q), 0);
	pthread_detach(th);
}

static int m_watch(struct lun_backend *be, void (*changed)(void *), void (*lost)(void *, int),
		   void *arg)
{
	pthread_mutex_lock(&M.mu);
	M.w[M.nw].be = be;
	M.w[M.nw].changed = changed;
	M.w[M.nw++].arg = arg;
	pthread_mutex_unlock(&M.mu);
	return 0;
}

static void m_unwatch(struct lun_backend *be)
{
	pthread_mutex_lock(&M.mu);
	for (int i = 0; i < M.nw; i++)
		if (M.w[i].be == be)
			M.w[i] = M.w[--M.nw];
	pthread_mutex_unlock(&M.mu);
}

static const struct lun_shared_state_ops m_ss = { m_load, m_store, m_watch, m_unwatch };
static struct lun_backend_ops m_ops;

/* ---- two gateways ---- */
#define INI_X "iqn.2026-01.org.kura:x"
#define INI_Y "iqn.2026-01.org.kura:y"
static struct th G1, G2; /* X's nexus is G1.itn, Y's is G2.itn */

static void gw_init(struct th *h, uint16_t gw)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0, 0, 1 };
	struct scsi_port port = { .rel_port_id = (uint16_t)((gw - 1) * 16 + 1),
				  .tpg_id = gw,
				  .target_iqn = TH_IQN,
				  .tpgt = 1 };
	struct lun_backend_params bp = { .type = "memory", .size = 1 << 20, .block_size = TH_BS };
	struct lun_backend *be = NULL;
	char err[256];
	assert_int_equal(lun_backend_open(&bp, &be, err, sizeof(err)), 0);
	m_ops = *be->ops;
	m_ops.caps |= LUN_CAP_SHARED_STATE;
	m_ops.shared_state = &m_ss;
	be->ops = &m_ops;
	be->unit_id = "test:one-image";
	assert_true(lun_backend_caps_consistent(be));
	memset(h, 0, sizeof(*h));
	h->l = kloop_new(64);
	h->map = scsi_lun_map_new();
	struct scsi_lu_params p = { .target_iqn = TH_IQN, .lun = 0 };
	assert_int_equal(scsi_lu_create(&p, be, &h->lu, err, sizeof(err)), 0);
	assert_int_equal(scsi_lun_map_add(h->map, 0, h->lu), 0);
	h->itn = scsi_itn_create(h->map, gw == 1 ? INI_X : INI_Y, isid, &port);
	th_clear_ua(h, h->itn);
}

static void gw_fini(struct th *h)
{
	scsi_itn_destroy(h->itn);
	scsi_lu_destroy(h->lu);
	scsi_lun_map_free(h->map);
	kloop_free(h->l);
}

static int setup(void **s)
{
	free(M.b);
	M.b = NULL;
	M.seq = 0;
	M.mute = false;
	gw_init(&G1, 1);
	gw_init(&G2, 2);
	return 0;
}

static int teardown(void **s)
{
	gw_fini(&G1);
	gw_fini(&G2);
	return 0;
}

static uint8_t prout(struct th *h, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark)
{
	static uint8_t p[24];
	uint8_t c[10] = { SCSI_OP_PR_OUT, sa, type };
	struct tres r;
	memset(p, 0, sizeof(p));
	put_be64(p, rk);
	put_be64(p + 8, sark);
	put_be32(c + 5, 24);
	return th_cmd_itn(h, h->itn, 0, c, 10, p, 24, &r);
}

static unsigned nkeys(struct th *h, uint32_t *gen)
{
	uint8_t c[10] = { SCSI_OP_PR_IN, SCSI_PRIN_READ_KEYS };
	struct tres r;
	put_be16(c + 7, 8192);
	assert_int_equal(th_cmd_itn(h, h->itn, 0, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	*gen = get_be32(r.in);
	return get_be32(r.in + 4) / 8;
}

static uint8_t write1(struct th *h, struct tres *r)
{
	static uint8_t b[TH_BS];
	uint8_t c[10];
	cdb10(c, SCSI_OP_WRITE10, 0, 1);
	return th_cmd_itn(h, h->itn, 0, c, 10, b, TH_BS, r);
}

/* ---- the file store ---- */
static void stored(void *arg, int result)
{
	*(int *)arg = result + 1;
}

static void test_file_store(void **s)
{
	char dir[] = "/tmp/kura-prstore.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.pr", dir);
	struct scsi_pr_store *st = scsi_pr_store_file(path);
	uint8_t *b = NULL;
	size_t len = 0;
	uint64_t seq = 9;
	char why[160];
	assert_false(st->ops->shared);
	assert_null(st->ops->watch);
	assert_string_equal(st->ops->name(st), path);
	assert_int_equal(st->ops->load(st, &b, &len, &seq, why, sizeof(why)), 0);
	assert_null(b); /* no file yet: nothing, sequence 0 */
	assert_int_equal(seq, 0);
	struct scsi_pr pr = { .generation = 5 };
	uint8_t naa[16] = { 0x60 };
	uint8_t *rec = scsi_pr_encode(&pr, naa, 1, false, &len);
	int res = 0;
	st->ops->store(st, 0, rec, len, stored, &res);
	for (int i = 0; i < 500 && !res; i++)
		usleep(10000);
	assert_int_equal(res, 1); /* done(0) */
	assert_int_equal(st->ops->load(st, &b, &len, &seq, why, sizeof(why)), 0);
	assert_non_null(b);
	assert_int_equal(seq, 1);
	assert_int_equal(scsi_pr_decode(&pr, naa, b, len, why, sizeof(why)), 0);
	assert_int_equal(pr.generation, 5);
	free(b);
	st->ops->close(st);
	unlink(path);
	rmdir(dir);
}

/* ---- events in the record ---- */
static void test_events_round_trip(void **s)
{
	struct scsi_pr a = { 0 }, b = { 0 };
	uint8_t naa[16] = { 0x60, 7 };
	char why[160];
	struct scsi_pr_id id = { .name = INI_X, .isid = { 0x80, 0, 0, 0, 0, 1 }, .rel_port = 17 };
	a.rec_seq = 4;
	a.origin = 77;
	scsi_pr_event_add(&a, &id, SCSI_UA_REG_PREEMPTED, false);
	scsi_pr_event_add(&a, &id, SCSI_UA__COUNT, true); /* merged into the same event */
	a.rec_seq = 5;
	id.flags = PRID_ANY_PORT;
	scsi_pr_event_add(&a, &id, SCSI_UA_RES_RELEASED, false);
	assert_int_equal(a.nevents, 2);
	size_t len;
	uint8_t *enc = scsi_pr_encode(&a, naa, 5, true, &len);
	assert_int_equal(scsi_pr_decode(&b, naa, enc, len, why, sizeof(why)), 0);
	assert_int_equal(b.seq, 5);
	assert_int_equal(b.nevents, 2);
	struct scsi_pr_event *e = b.events;
	assert_int_equal(e->seq, 5);
	assert_int_equal(e->mask, 1u << SCSI_UA_RES_RELEASED);
	assert_int_equal(e->id.flags, PRID_ANY_PORT);
	assert_int_equal(e->origin, 77);
	e = e->next;
	assert_int_equal(e->seq, 4);
	assert_int_equal(e->mask, 1u << SCSI_UA_REG_PREEMPTED);
	assert_true(e->abort);
	assert_int_equal(e->id.rel_port, 17);
	assert_string_equal(e->id.name, INI_X);
	for (size_t k = 0; k < len; k++) { /* every torn length is refused */
		struct scsi_pr c = { 0 };
		assert_int_equal(scsi_pr_decode(&c, naa, enc, k, why, sizeof(why)), -EINVAL);
		scsi_pr_free_state(&c);
	}
	free(enc);
	scsi_pr_free_state(&a);
	scsi_pr_free_state(&b);
}

/* ---- two gateways over one shared state ---- */
static void test_two_gateways(void **s)
{
	uint32_t g1, g2;
	struct tres r;
	assert_int_equal(prout(&G1, SCSI_PROUT_REGISTER, 0, 0, 0xA), SAM_STAT_GOOD);
	assert_int_equal(prout(&G2, SCSI_PROUT_REGISTER, 0, 0, 0xB), SAM_STAT_GOOD);
	assert_int_equal(nkeys(&G1, &g1), 2);
	assert_int_equal(nkeys(&G2, &g2), 2);
	assert_int_equal(g1, g2);
	/* X holds Write Exclusive through gateway 1: Y's writes via gateway 2 conflict */
	assert_int_equal(prout(&G1, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0xA, 0), SAM_STAT_GOOD);
	assert_int_equal(write1(&G2, &r), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(write1(&G1, &r), SAM_STAT_GOOD);
	/* Y preempts X through gateway 2: X's next command on gateway 1 gets
	 * REGISTRATIONS PREEMPTED, then RESERVATION CONFLICT */
	assert_int_equal(prout(&G2, SCSI_PROUT_PREEMPT_ABORT, SCSI_PR_EA, 0xB, 0xA), SAM_STAT_GOOD);
	assert_int_equal(write1(&G1, &r), SAM_STAT_CHECK_CONDITION);
	assert_check(&r, SCSI_SK_UNIT_ATTENTION, 0x2A05);
	assert_int_equal(write1(&G1, &r), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(write1(&G2, &r), SAM_STAT_GOOD);
	assert_int_equal(nkeys(&G1, &g1), 1);
	assert_int_equal(nkeys(&G2, &g2), 1);
	assert_int_equal(g1, g2);
}

/* Gateway 1 misses a change (no notification): its PROUT's store meets a
 * newer record, reloads and runs again against it. */
static void test_store_race(void **s)
{
	uint32_t g1, g2;
	assert_int_equal(prout(&G1, SCSI_PROUT_REGISTER, 0, 0, 0xA), SAM_STAT_GOOD);
	M.mute = true;
	assert_int_equal(prout(&G2, SCSI_PROUT_REGISTER, 0, 0, 0xB), SAM_STAT_GOOD);
	M.mute = false;
	int cancels = M.cancels;
	assert_int_equal(prout(&G1, SCSI_PROUT_REGISTER, 0, 0xA, 0xC), SAM_STAT_GOOD);
	assert_int_equal(M.cancels, cancels + 1);
	assert_int_equal(nkeys(&G1, &g1), 2); /* B (from the reload) and C */
	assert_int_equal(nkeys(&G2, &g2), 2);
	assert_int_equal(g1, g2);
	assert_int_equal(M.seq, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_store),
		cmocka_unit_test(test_events_round_trip),
		cmocka_unit_test_setup_teardown(test_two_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_race, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
