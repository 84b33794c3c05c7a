/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the SCSI command layer: arbitrary CDBs (+ Data-Out)
 * run through scsi_task_exec() against a memory-backed LU on a real kloop.
 * Asserts: done() runs exactly once and never inline, the status is a SAM
 * status we produce, CHECK CONDITION carries well-formed fixed or descriptor
 * sense, Data-In never exceeds its buffer.
 *
 * Input: byte 0 = flags (bit 7: absent LUN, bits 0..4: CDB length - 1 ...
 * clamped to 6..32), then the CDB, then Data-Out.
 */
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
#include <stdlib.h>

static struct kloop *loop;
static struct scsi_lun_map *map;
static struct scsi_lu *lu;
static struct scsi_itn *itn;

static void init_once(void)
{
	struct lun_backend_params bp = { .type = "memory", .size = 1u << 20, .block_size = 512 };
	struct lun_backend *be;
	char err[128];
	struct scsi_lu_params p = { .target_iqn = "iqn.2026-01.org.kura:fuzz", .thin = true };
	struct scsi_port port = { .rel_port_id = 1,
				  .tpg_id = 1,
				  .target_iqn = p.target_iqn,
				  .tpgt = 1 };
	static const uint8_t isid[6] = { 0x80 };
	loop = kloop_new(64);
	if (!loop || lun_backend_open(&bp, &be, err, sizeof(err)) != 0 ||
	    scsi_lu_create(&p, be, &lu, err, sizeof(err)) != 0)
		abort();
	map = scsi_lun_map_new();
	scsi_lun_map_add(map, 0, lu);
	itn = scsi_itn_create(map, "iqn.2026-01.org.kura:fuzzer", isid, &port);
}

struct fcmd {
	struct scsi_task t;
	struct kloop_task start;
	struct iovec iov;
	int done;
	bool in_exec;
};

static void fdone(struct scsi_task *t)
{
	struct fcmd *c = (struct fcmd *)t;
	if (c->in_exec)
		abort();
	c->done++;
	kloop_stop(t->loop);
}

static void fstart(struct kloop_task *k)
{
	struct fcmd *c = (struct fcmd *)((char *)k - offsetof(struct fcmd, start));
	c->in_exec = true;
	scsi_task_exec(&c->t);
	c->in_exec = false;
}

static void check(const struct fcmd *c)
{
	const struct scsi_task *t = &c->t;
	if (c->done != 1)
		abort();
	switch (t->status) {
	case SAM_STAT_GOOD:
	case SAM_STAT_CONDITION_MET:
		if (t->in_len && (!t->in_buf || t->in_len > kbuf_size(t->in_buf)))
			abort();
		break;
	case SAM_STAT_CHECK_CONDITION:
		if (t->sense_len < 8 || (t->sense[0] & 0x7F) < 0x70 || (t->sense[0] & 0x7F) > 0x73)
			abort();
		if (t->in_len)
			abort();
		break;
	case SAM_STAT_RESERVATION_CONFLICT:
		/* the fuzzed nexus may itself hold a reservation that refuses the
		 * next command (SPC-4 5.13): no sense, no data */
		if (t->sense_len || t->in_len)
			abort();
		break;
	default: abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop)
		init_once();
	if (size < 2)
		return 0;
	size_t clen = (size_t)(data[0] & 0x1F) + 1;
	if (clen < 6)
		clen = 6;
	if (clen > size - 1)
		clen = size - 1;
	struct fcmd *c = calloc(1, sizeof(*c));
	memcpy(c->t.cdb, data + 1, clen);
	c->t.cdb_len = (uint16_t)clen;
	c->t.lu = (data[0] & 0x80) ? NULL : lu;
	c->t.lun = (data[0] & 0x80) ? 9 : 0;
	c->t.itn = itn;
	c->t.map = map;
	c->t.loop = loop;
	c->t.done = fdone;
	size_t olen = size - 1 - clen;
	if (olen) {
		c->iov = (struct iovec){ (void *)(data + 1 + clen), olen };
		c->t.out_iov = &c->iov;
		c->t.out_iovcnt = 1;
		c->t.out_len = (uint32_t)olen;
		c->t.edtl = (uint32_t)olen;
	}
	c->start.fn = fstart;
	kloop_defer(loop, &c->start);
	kloop_run(loop);
	check(c);
	scsi_task_release(&c->t);
	free(c);
	/* keep the LU writable and in fixed-sense mode for the next input */
	atomic_store(&lu->swp, false);
	atomic_store(&lu->d_sense, (data[0] & 0x40) != 0);
	return 0;
}
