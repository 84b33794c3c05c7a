/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client: out-of-range and invalid CDBs must fail cleanly.
 *
 *   kura-it-client_cdb URL
 *
 * Each case sends one command and checks the exact sense the target returns
 * (CHECK CONDITION, sense key, ASC/ASCQ); a good in-range command between the
 * cases checks that the session is still usable. Prints one line per case;
 * exit 0 only when every case matched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static struct iscsi_context *ctx;
static int lun, fails, checks;

static void expect(const char *what, struct scsi_task *t, int key, int ascq)
{
	checks++;
	if (!t) {
		printf("NOT OK %s: no task (%s)\n", what, iscsi_get_error(ctx));
		fails++;
		return;
	}
	int ok = key < 0 ? t->status == SCSI_STATUS_GOOD
			 : (t->status == SCSI_STATUS_CHECK_CONDITION && (int)t->sense.key == key &&
			    t->sense.ascq == ascq);
	printf("%s %s: status 0x%02x sense %x/%04x (want %s %x/%04x)\n", ok ? "ok" : "NOT OK", what,
	       t->status, t->sense.key, t->sense.ascq, key < 0 ? "GOOD" : "CHECK",
	       key < 0 ? 0 : key, key < 0 ? 0 : ascq);
	if (!ok)
		fails++;
	scsi_free_scsi_task(t);
}

static struct scsi_task *raw(const unsigned char *cdb, int len, int dir, int xfer)
{
	struct scsi_task *t = scsi_create_task(len, (unsigned char *)cdb, dir, xfer);
	if (!t)
		return NULL;
	if (iscsi_scsi_command_sync(ctx, lun, t, NULL) == NULL) {
		/* transport failure: keep the task for the report */
	}
	return t;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s URL\n", argv[0]);
		return 2;
	}
	ctx = iscsi_create_context("iqn.2026-11.org.kura:it-cdb");
	struct iscsi_url *url = iscsi_parse_full_url(ctx, argv[1]);
	if (!url) {
		fprintf(stderr, "bad url\n");
		return 2;
	}
	iscsi_set_targetname(ctx, url->target);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_noautoreconnect(ctx, 1);
	iscsi_set_timeout(ctx, 15);
	lun = url->lun;
	if (iscsi_full_connect_sync(ctx, url->portal, lun)) {
		fprintf(stderr, "login: %s\n", iscsi_get_error(ctx));
		return 1;
	}
	iscsi_destroy_url(url);

	struct scsi_task *t = iscsi_readcapacity16_sync(ctx, lun);
	struct scsi_readcapacity16 *rc = t ? scsi_datain_unmarshall(t) : NULL;
	if (!rc) {
		fprintf(stderr, "READ CAPACITY(16) failed\n");
		return 1;
	}
	uint64_t nblocks = rc->returned_lba + 1;
	int bs = rc->block_length;
	scsi_free_scsi_task(t);
	printf("LUN: %" PRIu64 " blocks of %d bytes\n", nblocks, bs);
	const int IR = SCSI_SENSE_ILLEGAL_REQUEST;

	expect("READ(16) of the last block",
	       iscsi_read16_sync(ctx, lun, nblocks - 1, bs, bs, 0, 0, 0, 0, 0), -1, 0);
	expect("READ(16) at LBA = capacity",
	       iscsi_read16_sync(ctx, lun, nblocks, bs, bs, 0, 0, 0, 0, 0), IR,
	       SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	expect("READ(16) spanning the end",
	       iscsi_read16_sync(ctx, lun, nblocks - 1, 2 * bs, bs, 0, 0, 0, 0, 0), IR,
	       SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	expect("READ(16) at LBA 2^64-1",
	       iscsi_read16_sync(ctx, lun, UINT64_MAX, bs, bs, 0, 0, 0, 0, 0), IR,
	       SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	/* LBA + length wraps around 2^64: must not be taken as in range */
	{
		unsigned char cdb[16] = { 0x88 };
		uint64_t lba = UINT64_MAX - 1;
		for (int i = 0; i < 8; i++)
			cdb[2 + i] = (unsigned char)(lba >> (56 - 8 * i));
		cdb[13] = 4; /* 4 blocks: wraps */
		expect("READ(16) whose LBA+length wraps 2^64", raw(cdb, 16, SCSI_XFER_READ, 4 * bs),
		       IR, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	}
	if (nblocks <= 0xffffffffULL)
		expect("READ(10) at LBA = capacity",
		       iscsi_read10_sync(ctx, lun, (uint32_t)nblocks, bs, bs, 0, 0, 0, 0, 0), IR,
		       SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	{
		unsigned char *buf = calloc(2, bs);
		expect("WRITE(16) at LBA = capacity",
		       iscsi_write16_sync(ctx, lun, nblocks, buf, bs, bs, 0, 0, 0, 0, 0), IR,
		       SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
		expect("WRITE(16) spanning the end",
		       iscsi_write16_sync(ctx, lun, nblocks - 1, buf, 2 * bs, bs, 0, 0, 0, 0, 0),
		       IR, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
		free(buf);
	}
	{
		unsigned char cdb[10] = { 0xff }; /* vendor opcode nobody implements */
		expect("unsupported opcode 0xff", raw(cdb, 10, SCSI_XFER_NONE, 0), IR,
		       SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE);
	}
	{
		unsigned char cdb[6] = {
			0x12, 0x01, 0xfe, 0x00, 0xff, 0x00
		}; /* INQUIRY EVPD page 0xfe */
		expect("INQUIRY of an unknown VPD page", raw(cdb, 6, SCSI_XFER_READ, 255), IR,
		       SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB);
	}
	{
		unsigned char cdb[6] = {
			0x12, 0x00, 0x80, 0x00, 0xff, 0x00
		}; /* page code without EVPD */
		expect("INQUIRY page code with EVPD=0", raw(cdb, 6, SCSI_XFER_READ, 255), IR,
		       SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB);
	}
	expect("session still usable: READ(16) of LBA 0",
	       iscsi_read16_sync(ctx, lun, 0, bs, bs, 0, 0, 0, 0, 0), -1, 0);
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	printf("%d passed, %d failed\n", checks - fails, fails);
	return fails ? 1 : 0;
}
