/* SPDX-License-Identifier: Apache-2.0 */
/* Shared harness of the SCSI layer's unit tests (test_scsi_*.c): includes the
 * layer's .c files, builds memory-backed LUs in a LUN map with two I_T
 * nexuses, and runs one CDB (+ Data-Out) through scsi_task_exec() on a real
 * kloop, checking that done() never runs inline and runs exactly once.
 *
 * Not for: transport behaviour (residuals are the transport's job).
 */
#ifndef KURA_TEST_SCSI_HARNESS_H
#define KURA_TEST_SCSI_HARNESS_H
#include "target/scsi/scsi_cdb.c"
#include "target/scsi/scsi_sense.c"
#include "target/scsi/scsi_lu.c"
#include "target/scsi/scsi_stats.c"
#include "target/scsi/scsi_task.c"
#include "target/scsi/scsi_inquiry.c"
#include "target/scsi/scsi_mode.c"
#include "target/scsi/scsi_spc.c"
#include "target/scsi/scsi_sbc.c"
#include "target/scsi/scsi_pr.c"
#include "target/scsi/scsi_pr_cmd.c"
#include "target/scsi/scsi_pr_file.c"
#include "target/scsi/scsi_pr_shared.c"
#include "target/scsi/scsi_xcopy.c"
#include "target/scsi/scsi_sbc_ext.c"
#include "target/scsi/scsi_sanitize.c"
#include "target/scsi/scsi_medium.c"
#include "common/kbuf_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#define TH_IQN    "iqn.2026-01.org.kura:test"
#define TH_BS     512u
#define TH_BLOCKS 4096u

struct th {
	struct kloop *l;
	struct scsi_lun_map *map;
	struct scsi_lu *lu;
	struct scsi_itn *itn, *itn2;
};

/* One command's result. */
struct tres {
	uint8_t status;
	uint8_t sense[96];
	uint8_t sense_len;
	uint8_t in[16384];
	uint32_t in_len;
	uint32_t out_wanted;
};

static struct scsi_lu *th_new_lu(uint64_t lun, uint64_t blocks, uint32_t bs, bool thin,
				 const char *iqn)
{
	struct lun_backend_params bp = { .type = "memory", .size = blocks * bs, .block_size = bs };
	struct lun_backend *be = NULL;
	char err[128];
	int r = lun_backend_open(&bp, &be, err, sizeof(err));
	assert_int_equal(r, 0);
	struct scsi_lu_params p = { .target_iqn = iqn, .lun = lun, .thin = thin };
	struct scsi_lu *lu = NULL;
	assert_int_equal(scsi_lu_create(&p, be, &lu, err, sizeof(err)), 0);
	return lu;
}

static void th_init(struct th *h, bool thin)
{
	static const uint8_t isid1[6] = { 0x80, 0, 0, 0, 0, 1 }, isid2[6] = { 0x80, 0, 0, 0, 0, 2 };
	struct scsi_port port = { .rel_port_id = 1, .tpg_id = 1, .target_iqn = TH_IQN, .tpgt = 1 };
	memset(h, 0, sizeof(*h));
	h->l = kloop_new(64);
	assert_non_null(h->l);
	h->map = scsi_lun_map_new();
	h->lu = th_new_lu(0, TH_BLOCKS, TH_BS, thin, TH_IQN);
	assert_int_equal(scsi_lun_map_add(h->map, 0, h->lu), 0);
	h->itn = scsi_itn_create(h->map, "iqn.2026-01.org.kura:ini1", isid1, &port);
	h->itn2 = scsi_itn_create(h->map, "iqn.2026-01.org.kura:ini2", isid2, &port);
}

static void th_fini(struct th *h)
{
	scsi_itn_destroy(h->itn);
	scsi_itn_destroy(h->itn2);
	for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
		scsi_lu_destroy(scsi_lun_map_get(h->map, i));
	scsi_lun_map_free(h->map);
	kloop_free(h->l);
}

struct tcmd {
	struct scsi_task t;
	struct kloop_task start;
	struct iovec iov[3];
	int done_calls;
	bool in_exec;
};

static void tcmd_done(struct scsi_task *t)
{
	struct tcmd *c = (struct tcmd *)t;
	assert_false(c->in_exec);
	c->done_calls++;
	kloop_stop(t->loop);
}

static void tcmd_start(struct kloop_task *k)
{
	struct tcmd *c = (struct tcmd *)((char *)k - offsetof(struct tcmd, start));
	c->in_exec = true;
	scsi_task_exec(&c->t);
	c->in_exec = false;
}

static void tcmd_prep(struct tcmd *c, struct th *h, struct scsi_itn *itn, uint64_t lun,
		      const uint8_t *cdb, size_t cdb_len, const void *out, uint32_t out_len)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->t.cdb, cdb, cdb_len);
	c->t.cdb_len = (uint16_t)(cdb_len < 16 ? 16 : cdb_len);
	c->t.lun = lun;
	c->t.lu = scsi_lun_map_get(h->map, lun);
	c->t.itn = itn;
	c->t.map = h->map;
	c->t.loop = h->l;
	c->t.done = tcmd_done;
	if (out_len) {
		/* split Data-Out in two iovecs to exercise the gather paths */
		uint32_t half = out_len / 2;
		c->iov[0] = (struct iovec){ (void *)out, half };
		c->iov[1] = (struct iovec){ (uint8_t *)out + half, out_len - half };
		c->t.out_iov = c->iov;
		c->t.out_iovcnt = 2;
		c->t.out_len = out_len;
		c->t.dir = SCSI_DIR_WRITE;
		c->t.edtl = out_len;
	}
	c->start.fn = tcmd_start;
}

static void tcmd_collect(struct tcmd *c, struct tres *r)
{
	assert_int_equal(c->done_calls, 1);
	memset(r, 0, sizeof(*r));
	r->status = c->t.status;
	r->sense_len = c->t.sense_len;
	memcpy(r->sense, c->t.sense, sizeof(r->sense));
	r->in_len = c->t.in_len;
	r->out_wanted = c->t.out_wanted;
	if (c->t.in_len && c->t.in_buf)
		memcpy(r->in, c->t.in_buf,
		       c->t.in_len < sizeof(r->in) ? c->t.in_len : sizeof(r->in));
	scsi_task_release(&c->t);
}

/* Run one command to completion on h's loop (from inside the loop). */
static uint8_t th_cmd_itn(struct th *h, struct scsi_itn *itn, uint64_t lun, const uint8_t *cdb,
			  size_t cdb_len, const void *out, uint32_t out_len, struct tres *r)
{
	struct tcmd *c = calloc(1, sizeof(*c));
	tcmd_prep(c, h, itn, lun, cdb, cdb_len, out, out_len);
	kloop_defer(h->l, &c->start);
	kloop_run(h->l);
	tcmd_collect(c, r);
	free(c);
	return r->status;
}

static uint8_t th_cmd(struct th *h, const uint8_t *cdb, size_t cdb_len, const void *out,
		      uint32_t out_len, struct tres *r)
{
	return th_cmd_itn(h, h->itn, 0, cdb, cdb_len, out, out_len, r);
}

/* Sense key / ASC / ASCQ of a result, fixed or descriptor format. */
static uint8_t sense_key(const struct tres *r)
{
	return r->sense[0] == 0x72 ? r->sense[1] & 0x0F : r->sense[2] & 0x0F;
}

static uint16_t sense_asc(const struct tres *r)
{
	return r->sense[0] == 0x72 ? get_be16(r->sense + 2) : get_be16(r->sense + 12);
}

static void assert_check(const struct tres *r, uint8_t key, uint16_t asc)
{
	assert_int_equal(r->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(sense_key(r), key);
	assert_int_equal(sense_asc(r), asc);
}

/* Clear the POWER ON unit attention of a nexus with TEST UNIT READY. */
__attribute__((unused)) static void th_clear_ua(struct th *h, struct scsi_itn *itn)
{
	uint8_t tur[6] = { 0 };
	struct tres r;
	for (int i = 0; i < 8 && th_cmd_itn(h, itn, 0, tur, 6, NULL, 0, &r) != SAM_STAT_GOOD; i++)
		;
	assert_int_equal(r.status, SAM_STAT_GOOD);
}

__attribute__((unused)) static void cdb10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t n)
{
	memset(c, 0, 10);
	c[0] = op;
	put_be32(c + 2, lba);
	put_be16(c + 7, n);
}

__attribute__((unused)) static void cdb16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(c, 0, 16);
	c[0] = op;
	put_be64(c + 2, lba);
	put_be32(c + 10, n);
}
#endif
