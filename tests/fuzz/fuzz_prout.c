/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for persistent reservations: PERSISTENT RESERVE OUT
 * parameter lists (keys, SPEC_I_PT TransportID lists, REGISTER AND MOVE),
 * interleaved with PERSISTENT RESERVE IN, from two I_T nexuses, against a
 * fresh memory-backed LU per input; and the decoder of the PR state file.
 *
 * Input byte 0 picks the mode:
 *   0xFF  the rest is a PR state record body: the harness fills in the
 *         header (magic, version, NAA, body length) and CRC so the fuzzer
 *         explores the body; scsi_pr_decode must accept or refuse it, and
 *         what it accepts must encode and decode to the same bytes.
 *   0xFE  the rest is one TransportID (scsi_tid_parse): a parsed length
 *         lies within the input and is a multiple of 4.
 *   else  a list of commands, each "flags, scope/type, length (2 bytes LE),
 *         parameter data": flags bit 7 = second nexus, bit 6 = PRIN (service
 *         action in bits 1..0, length = ALLOCATION LENGTH) else PROUT with
 *         the service action in bits 2..0.
 * After each command: status GOOD / CHECK CONDITION (well-formed sense) /
 * RESERVATION CONFLICT, done() once and never inline; after the list the
 * PR state encodes, decodes and re-encodes to identical bytes.
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

#define MAX_CMDS 32
#define MAX_PLEN 2048
static const uint8_t fuzz_naa[16] = { 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static struct kloop *loop;

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
	if (t->status == SAM_STAT_CHECK_CONDITION) {
		if (t->sense_len < 8 || (t->sense[0] & 0x7F) < 0x70 || t->in_len)
			abort();
	} else if (t->status == SAM_STAT_RESERVATION_CONFLICT) {
		if (t->sense_len || t->in_len)
			abort();
	} else if (t->status != SAM_STAT_GOOD ||
		   (t->in_len && (!t->in_buf || t->in_len > kbuf_size(t->in_buf)))) {
		abort();
	}
}

static void run(struct scsi_lu *lu, struct scsi_itn *itn, struct scsi_lun_map *map,
		const uint8_t cdb[10], const uint8_t *p, size_t plen)
{
	struct fcmd *c = calloc(1, sizeof(*c));
	memcpy(c->t.cdb, cdb, 10);
	c->t.cdb_len = 10;
	c->t.lu = lu;
	c->t.itn = itn;
	c->t.map = map;
	c->t.loop = loop;
	c->t.done = fdone;
	if (plen) {
		c->iov = (struct iovec){ (void *)p, plen };
		c->t.out_iov = &c->iov;
		c->t.out_iovcnt = 1;
		c->t.out_len = (uint32_t)plen;
		c->t.edtl = (uint32_t)plen;
	}
	c->start.fn = fstart;
	kloop_defer(loop, &c->start);
	kloop_run(loop);
	check(c);
	scsi_task_release(&c->t);
	free(c);
}

/* Encode, decode into a fresh state, encode again: the same bytes. */
static void roundtrip(const struct scsi_pr *pr, const uint8_t naa[16])
{
	size_t n1 = 0, n2 = 0;
	uint8_t *b1 = scsi_pr_encode(pr, naa, pr->seq, true, &n1);
	struct scsi_pr pr2;
	char why[128];
	memset(&pr2, 0, sizeof(pr2));
	if (!b1 || scsi_pr_decode(&pr2, naa, b1, n1, why, sizeof(why)) != 0)
		abort();
	uint8_t *b2 = scsi_pr_encode(&pr2, naa, pr2.seq, true, &n2);
	if (!b2 || n1 != n2 || memcmp(b1, b2, n1))
		abort();
	scsi_pr_free_state(&pr2);
	free(b1);
	free(b2);
}

static void fuzz_decode(const uint8_t *d, size_t n)
{
	size_t len = HDR_LEN + n + 4;
	if (len > SCSI_PR_FILE_MAX)
		return;
	uint8_t *b = calloc(1, len);
	memcpy(b + HDR_LEN, d, n);
	put_le32(b, SCSI_PR_FILE_MAGIC);
	put_le16(b + 4, SCSI_PR_FILE_VERSION);
	put_le16(b + 6, HDR_LEN);
	memcpy(b + 8, fuzz_naa, 16);
	if (n >= 12) /* generation, flags, type, counts from the input */
		memcpy(b + 24, d, 12);
	put_le32(b + 36, (uint32_t)n);
	put_le32(b + len - 4, rec_crc(b, len - 4));
	struct scsi_pr pr;
	char why[128] = "";
	memset(&pr, 0, sizeof(pr));
	if (scsi_pr_decode(&pr, fuzz_naa, b, len, why, sizeof(why)) == 0)
		roundtrip(&pr, fuzz_naa);
	else if (!why[0])
		abort();
	scsi_pr_free_state(&pr);
	free(b);
}

static void fuzz_tid(const uint8_t *d, size_t n)
{
	struct scsi_tid tid;
	int r = scsi_tid_parse(d, n, &tid);
	if (r >= 0 && ((size_t)r > n || r % 4 || r < SCSI_TID_MIN_LEN ||
		       !memchr(tid.name, 0, sizeof(tid.name))))
		abort();
}

static void build_cdb(uint8_t cdb[10], uint8_t fl, uint8_t st, uint16_t len)
{
	memset(cdb, 0, 10);
	if (fl & 0x40) {
		cdb[0] = SCSI_OP_PR_IN;
		cdb[1] = fl & 0x03;
		put_be16(cdb + 7, len);
		return;
	}
	cdb[0] = SCSI_OP_PR_OUT;
	cdb[1] = fl & 0x07;
	cdb[2] = st;
	put_be32(cdb + 5, len);
}

static void fuzz_cmds(const uint8_t *d, size_t n)
{
	struct lun_backend_params bp = { .type = "memory", .size = 64u << 10, .block_size = 512 };
	struct scsi_lu_params lp = { .target_iqn = "iqn.2026-01.org.kura:fuzz" };
	struct scsi_port port1 = { .rel_port_id = 1,
				   .tpg_id = 1,
				   .target_iqn = lp.target_iqn,
				   .tpgt = 1 };
	struct scsi_port port2 = { .rel_port_id = 2,
				   .tpg_id = 2,
				   .target_iqn = lp.target_iqn,
				   .tpgt = 2 };
	static const uint8_t isid1[6] = { 0x80, 0, 0, 0, 0, 1 }, isid2[6] = { 0x80, 0, 0, 0, 0, 2 };
	struct lun_backend *be;
	struct scsi_lu *lu;
	char err[128];
	if (lun_backend_open(&bp, &be, err, sizeof(err)) != 0 ||
	    scsi_lu_create(&lp, be, &lu, err, sizeof(err)) != 0)
		abort();
	struct scsi_lun_map *map = scsi_lun_map_new();
	scsi_lun_map_add(map, 0, lu);
	struct scsi_itn *itn[2] = {
		scsi_itn_create(map, "iqn.2026-01.org.kura:fuzzer-a", isid1, &port1),
		scsi_itn_create(map, "iqn.2026-01.org.kura:fuzzer-b", isid2, &port2),
	};
	for (int i = 0; i < MAX_CMDS && n >= 4; i++) {
		uint8_t fl = d[0], st = d[1];
		size_t len = (size_t)(d[2] | d[3] << 8) % (MAX_PLEN + 1);
		d += 4;
		n -= 4;
		size_t plen = (fl & 0x40) ? 0 : (len < n ? len : n);
		uint8_t cdb[10];
		build_cdb(cdb, fl, st, (uint16_t)len);
		run(lu, itn[fl >> 7], map, cdb, d, plen);
		d += plen;
		n -= plen;
	}
	roundtrip(&lu->pr, lu->naa);
	scsi_itn_destroy(itn[0]);
	scsi_itn_destroy(itn[1]);
	scsi_lu_destroy(lu);
	scsi_lun_map_free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop)
		loop = kloop_new(64);
	if (size < 1)
		return 0;
	if (data[0] == 0xFF)
		fuzz_decode(data + 1, size - 1);
	else if (data[0] == 0xFE)
		fuzz_tid(data + 1, size - 1);
	else
		fuzz_cmds(data + 1, size - 1);
	return 0;
}
