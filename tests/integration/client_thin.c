/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client: thin provisioning answers and crash consistency
 * of a thin LUN, over libiscsi. Units are 4 KiB records ("recs").
 *
 *   kura-it-client_thin URL caps                    LBPME/LBPRZ, VPD B2 LBPU/LBPWS
 *   kura-it-client_thin URL fill  REC_PER_WRITE     write from rec 0 up until CHECK CONDITION
 *   kura-it-client_thin URL write REC NREC BYTE     one WRITE(16); prints GOOD or SENSE k/aa/qq
 *   kura-it-client_thin URL read  REC NREC BYTE     one READ(16), data compared with BYTE
 *   kura-it-client_thin URL unmap REC NREC          one UNMAP
 *   kura-it-client_thin URL storm LOG SPAN          random writes and unmaps in [0, SPAN) recs
 *                                                   until the target goes away
 *   kura-it-client_thin URL verify LOG SPAN         every acknowledged operation reads back
 *
 * Every command prints "ua 38/07" lines for each THIN PROVISIONING SOFT
 * THRESHOLD REACHED unit attention it meets (and retries the command), and
 * "ua_3807=N" at the end, so a test can check that a session sees it once.
 *
 * storm logs "P op rec n seq" before it sends an operation and "A" after the
 * GOOD status (flushed each time): at most one operation is ever in flight,
 * so after a kill only the last "P" without "A" is uncertain. Each written
 * rec holds (seq, rec) in every 16 bytes, so stale data never matches.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define REC 4096

static struct iscsi_context *ctx;
static int lun, blksz;
static int ua_3807;

static int open_lun(const char *urlstr)
{
	ctx = iscsi_create_context("iqn.2026-11.org.kura:it-thin");
	if (!ctx)
		return -1;
	struct iscsi_url *url = iscsi_parse_full_url(ctx, urlstr);
	if (!url) {
		fprintf(stderr, "bad url: %s\n", iscsi_get_error(ctx));
		return -1;
	}
	iscsi_set_targetname(ctx, url->target);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_noautoreconnect(ctx, 1);
	iscsi_set_timeout(ctx, 10);
	lun = url->lun;
	int r = iscsi_full_connect_sync(ctx, url->portal, url->lun);
	iscsi_destroy_url(url);
	if (r != 0) {
		fprintf(stderr, "login failed: %s\n", iscsi_get_error(ctx));
		return -1;
	}
	struct scsi_task *t = iscsi_readcapacity16_sync(ctx, lun);
	struct scsi_readcapacity16 *rc =
		t && t->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(t) : NULL;
	blksz = rc ? (int)rc->block_length : 0;
	if (t)
		scsi_free_scsi_task(t);
	if (blksz <= 0 || REC % blksz) {
		fprintf(stderr, "READ CAPACITY(16) failed or block size %d unsupported\n", blksz);
		return -1;
	}
	return 0;
}

/* ---- one command, unit attentions retried ---- */

enum op { OP_WRITE, OP_READ, OP_UNMAP };

static struct scsi_task *issue(enum op op, uint64_t rec, uint32_t n, unsigned char *buf)
{
	uint64_t lba = rec * (REC / blksz);
	uint32_t len = n * REC;
	struct unmap_list ul = { .lba = lba, .num = len / (uint32_t)blksz };
	switch (op) {
	case OP_WRITE: return iscsi_write16_sync(ctx, lun, lba, buf, len, blksz, 0, 0, 0, 0, 0);
	case OP_READ: return iscsi_read16_sync(ctx, lun, lba, len, blksz, 0, 0, 0, 0, 0);
	case OP_UNMAP: return iscsi_unmap_sync(ctx, lun, 0, 0, &ul, 1);
	}
	return NULL;
}

static bool is_ua(const struct scsi_task *t)
{
	return t->status == SCSI_STATUS_CHECK_CONDITION &&
	       t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

/* NULL = transport failure (target gone). */
static struct scsi_task *run(enum op op, uint64_t rec, uint32_t n, unsigned char *buf)
{
	for (int tries = 0; tries < 8; tries++) {
		struct scsi_task *t = issue(op, rec, n, buf);
		if (!t || !is_ua(t))
			return t;
		if (t->sense.ascq == 0x3807) {
			ua_3807++;
			printf("ua 38/07\n");
			fflush(stdout);
		}
		scsi_free_scsi_task(t);
	}
	return NULL;
}

static void print_status(const struct scsi_task *t)
{
	if (!t)
		printf("TRANSPORT %s\n", iscsi_get_error(ctx));
	else if (t->status == SCSI_STATUS_GOOD)
		printf("GOOD\n");
	else
		printf("SENSE %x/%02x/%02x\n", t->sense.key, t->sense.ascq >> 8,
		       t->sense.ascq & 0xff);
}

/* ---- simple commands ---- */

static int cmd_rw(enum op op, uint64_t rec, uint32_t n, int byte)
{
	unsigned char *buf = malloc((size_t)n * REC);
	memset(buf, byte, (size_t)n * REC);
	struct scsi_task *t = run(op, rec, n, op == OP_WRITE ? buf : NULL);
	int rc = t && t->status == SCSI_STATUS_GOOD ? 0 : 1;
	if (op == OP_READ && rc == 0 &&
	    (t->datain.size != (int)(n * REC) || memcmp(t->datain.data, buf, n * REC))) {
		printf("MISMATCH\n");
		rc = 1;
	} else {
		print_status(t);
	}
	if (t)
		scsi_free_scsi_task(t);
	free(buf);
	return rc;
}

static int cmd_fill(uint32_t per)
{
	unsigned char *buf = malloc((size_t)per * REC);
	memset(buf, 0xA5, (size_t)per * REC);
	uint64_t rec = 0;
	struct scsi_task *t;
	for (;;) {
		t = run(OP_WRITE, rec, per, buf);
		if (!t || t->status != SCSI_STATUS_GOOD)
			break;
		scsi_free_scsi_task(t);
		rec += per;
	}
	printf("filled_recs=%" PRIu64 "\n", rec);
	print_status(t);
	if (t)
		scsi_free_scsi_task(t);
	free(buf);
	return 0;
}

static int cmd_caps(void)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(ctx, lun);
	struct scsi_readcapacity16 *rc = t ? scsi_datain_unmarshall(t) : NULL;
	struct scsi_task *v = iscsi_inquiry_sync(ctx, lun, 1,
						 SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING,
						 255);
	struct scsi_inquiry_logical_block_provisioning *lbp = v ? scsi_datain_unmarshall(v) : NULL;
	if (!rc || !lbp) {
		printf("caps: READ CAPACITY(16) or VPD B2 failed\n");
		return 1;
	}
	printf("lbpme=%d lbprz=%d lbpu=%d lbpws=%d lbpws10=%d\n", rc->lbpme, rc->lbprz, lbp->lbpu,
	       lbp->lbpws, lbp->lbpws10);
	scsi_free_scsi_task(t);
	scsi_free_scsi_task(v);
	return 0;
}

/* ---- storm / verify ---- */

static void pattern(unsigned char *b, uint64_t seq, uint64_t rec)
{
	for (int i = 0; i < REC; i += 16) {
		memcpy(b + i, &seq, 8);
		memcpy(b + i + 8, &rec, 8);
	}
}

static int cmd_storm(const char *logpath, uint64_t span)
{
	FILE *log = fopen(logpath, "a");
	if (!log)
		return 2;
	unsigned char *buf = malloc(16 * REC);
	uint64_t seq = (uint64_t)time(NULL) << 20;
	srandom((unsigned)(seq ^ (uint64_t)getpid()));
	for (;; seq++) {
		bool unmap = random() % 4 == 0;
		uint32_t n = 1 + (uint32_t)(random() % 16);
		uint64_t rec = (uint64_t)random() % (span - n);
		for (uint32_t i = 0; i < n && !unmap; i++)
			pattern(buf + (size_t)i * REC, seq, rec + i);
		fprintf(log, "P %c %" PRIu64 " %u %" PRIu64 "\n", unmap ? 'U' : 'W', rec, n, seq);
		fflush(log);
		struct scsi_task *t = run(unmap ? OP_UNMAP : OP_WRITE, rec, n, unmap ? NULL : buf);
		if (!t || t->status != SCSI_STATUS_GOOD) {
			print_status(t);
			break;
		}
		scsi_free_scsi_task(t);
		fprintf(log, "A\n");
		fflush(log);
	}
	fclose(log);
	free(buf);
	return 0;
}

/* Expected content per rec: seq of the last acknowledged write, 0 after an
 * acknowledged unmap (zeros), UINT64_MAX if never touched or uncertain. */
static uint64_t *expected(const char *logpath, uint64_t span)
{
	FILE *log = fopen(logpath, "r");
	uint64_t *exp = malloc(span * sizeof(*exp));
	if (!log || !exp)
		return NULL;
	for (uint64_t i = 0; i < span; i++)
		exp[i] = UINT64_MAX;
	char line[128], kind = 0;
	uint64_t rec = 0, seq = 0;
	unsigned n = 0;
	bool pending = false;
	while (fgets(line, sizeof(line), log)) {
		if (line[0] == 'P') {
			for (uint64_t i = 0; pending && i < n;
			     i++) /* the previous one was never acknowledged */
				exp[rec + i] = UINT64_MAX - 1;
			if (sscanf(line, "P %c %" SCNu64 " %u %" SCNu64, &kind, &rec, &n, &seq) !=
				    4 ||
			    rec + n > span)
				n = 0;
			pending = true;
		} else if (line[0] == 'A' && pending) {
			for (uint64_t i = 0; i < n; i++)
				exp[rec + i] = kind == 'U' ? 0 : seq;
			pending = false;
		}
	}
	for (uint64_t i = 0; pending && i < n; i++)
		exp[rec + i] = UINT64_MAX - 1;
	fclose(log);
	return exp;
}

static int check_rec(const unsigned char *got, uint64_t rec, uint64_t want)
{
	unsigned char b[REC];
	if (want == 0)
		memset(b, 0, REC);
	else
		pattern(b, want, rec);
	return memcmp(got, b, REC) == 0;
}

static int cmd_verify(const char *logpath, uint64_t span)
{
	uint64_t *exp = expected(logpath, span);
	if (!exp)
		return 2;
	uint64_t checked = 0, bad = 0, uncertain = 0;
	for (uint64_t base = 0; base < span; base += 64) {
		uint32_t n = (uint32_t)(span - base < 64 ? span - base : 64);
		struct scsi_task *t = run(OP_READ, base, n, NULL);
		if (!t || t->status != SCSI_STATUS_GOOD || t->datain.size != (int)(n * REC)) {
			print_status(t);
			return 1;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint64_t w = exp[base + i];
			if (w >= UINT64_MAX - 1) {
				uncertain += w == UINT64_MAX - 1;
				continue;
			}
			checked++;
			if (!check_rec(t->datain.data + (size_t)i * REC, base + i, w)) {
				if (bad++ < 5)
					printf("rec %" PRIu64 ": expected %s %" PRIu64 "\n",
					       base + i, w ? "seq" : "zeros", w);
			}
		}
		scsi_free_scsi_task(t);
	}
	printf("verified=%" PRIu64 " bad=%" PRIu64 " uncertain=%" PRIu64 "\n", checked, bad,
	       uncertain);
	free(exp);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr,
			"usage: kura-it-client_thin URL caps|fill|write|read|unmap|storm|verify ...\n");
		return 2;
	}
	if (open_lun(argv[1]) < 0)
		return 2;
	const char *c = argv[2];
	int rc = 2;
	uint64_t a = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	uint64_t b = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;
	int byte = argc > 5 ? (int)strtol(argv[5], NULL, 0) : 0;
	if (!strcmp(c, "caps"))
		rc = cmd_caps();
	else if (!strcmp(c, "fill") && argc > 3)
		rc = cmd_fill((uint32_t)a);
	else if (!strcmp(c, "write") && argc > 5)
		rc = cmd_rw(OP_WRITE, a, (uint32_t)b, byte);
	else if (!strcmp(c, "read") && argc > 5)
		rc = cmd_rw(OP_READ, a, (uint32_t)b, byte);
	else if (!strcmp(c, "unmap") && argc > 4)
		rc = cmd_rw(OP_UNMAP, a, (uint32_t)b, 0);
	else if (!strcmp(c, "storm") && argc > 4)
		rc = cmd_storm(argv[3], b);
	else if (!strcmp(c, "verify") && argc > 4)
		rc = cmd_verify(argv[3], b);
	printf("ua_3807=%d\n", ua_3807);
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	return rc;
}
