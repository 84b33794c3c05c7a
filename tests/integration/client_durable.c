/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client: durability of acknowledged writes.
 *
 *   kura-it-client_durable URL fua    TAG FIRST_LBA COUNT
 *   kura-it-client_durable URL sync   TAG FIRST_LBA COUNT [BATCH]
 *   kura-it-client_durable URL verify TAG            < lba list
 *
 * Each record is 4096 bytes at LBA (in 4096-byte units of the LUN's blocks)
 * and carries TAG, its LBA and a byte pattern derived from both, so stale data
 * from another run never matches.
 * fua:  WRITE(16) with FUA=1, one record at a time; the LBA is printed (and
 *       flushed) only after the target returned GOOD.
 * sync: BATCH plain WRITE(16)s, then SYNCHRONIZE CACHE(10); the batch's LBAs
 *       are printed only after the SYNCHRONIZE CACHE returned GOOD.
 * verify: reads every LBA given on stdin; exits 1 if any record differs.
 * The client never reconnects: when the target dies, it stops.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define REC 4096

static struct iscsi_context *ctx;
static int lun, blksz;

static void fill(unsigned char *b, const char *tag, uint64_t rec)
{
	int n = snprintf((char *)b, REC, "kura-durable tag=%s rec=%" PRIu64 "\n", tag, rec);
	unsigned char seed = (unsigned char)(rec * 131 + (unsigned char)tag[0] * 7 + 1);
	for (int i = n + 1; i < REC; i++)
		b[i] = (unsigned char)(seed + i * 13);
	b[n] = 0;
}

static int open_lun(const char *urlstr)
{
	ctx = iscsi_create_context("iqn.2026-11.org.kura:it-durable");
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
	if (iscsi_full_connect_sync(ctx, url->portal, url->lun) != 0) {
		fprintf(stderr, "login failed: %s\n", iscsi_get_error(ctx));
		iscsi_destroy_url(url);
		return -1;
	}
	iscsi_destroy_url(url);
	struct scsi_task *t = iscsi_readcapacity16_sync(ctx, lun);
	if (!t || t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "READ CAPACITY(16) failed\n");
		return -1;
	}
	struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(t);
	if (!rc)
		return -1;
	blksz = rc->block_length;
	scsi_free_scsi_task(t);
	if (blksz <= 0 || REC % blksz) {
		fprintf(stderr, "unsupported block size %d\n", blksz);
		return -1;
	}
	return 0;
}

static int write_rec(const char *tag, uint64_t rec, int fua)
{
	unsigned char b[REC];
	fill(b, tag, rec);
	struct scsi_task *t =
		iscsi_write16_sync(ctx, lun, rec * (REC / blksz), b, REC, blksz, 0, 0, fua, 0, 0);
	int ok = t && t->status == SCSI_STATUS_GOOD;
	if (!ok)
		fprintf(stderr, "WRITE(16) rec %" PRIu64 " failed: %s\n", rec,
			iscsi_get_error(ctx));
	if (t)
		scsi_free_scsi_task(t);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: see source\n");
		return 2;
	}
	const char *mode = argv[2], *tag = argv[3];
	if (open_lun(argv[1]))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(mode, "verify")) {
		unsigned char want[REC];
		uint64_t rec;
		long n = 0, bad = 0;
		while (scanf("%" SCNu64, &rec) == 1) {
			struct scsi_task *t = iscsi_read16_sync(ctx, lun, rec * (REC / blksz), REC,
								blksz, 0, 0, 0, 0, 0);
			n++;
			fill(want, tag, rec);
			if (!t || t->status != SCSI_STATUS_GOOD || t->datain.size != REC ||
			    memcmp(t->datain.data, want, REC)) {
				if (bad < 10)
					fprintf(stderr, "record %" PRIu64 " does not read back\n",
						rec);
				bad++;
			}
			if (t)
				scsi_free_scsi_task(t);
		}
		printf("verified %ld records, %ld bad\n", n, bad);
		iscsi_logout_sync(ctx);
		iscsi_destroy_context(ctx);
		return bad || n == 0 ? 1 : 0;
	}
	if (argc < 6)
		return 2;
	uint64_t first = strtoull(argv[4], NULL, 0), count = strtoull(argv[5], NULL, 0);
	if (!strcmp(mode, "fua")) {
		for (uint64_t i = 0; i < count; i++) {
			if (write_rec(tag, first + i, 1))
				return 1;
			printf("%" PRIu64 "\n", first + i);
		}
	} else if (!strcmp(mode, "sync")) {
		uint64_t batch = argc > 6 ? strtoull(argv[6], NULL, 0) : 16;
		for (uint64_t i = 0; i < count; i += batch) {
			uint64_t n = count - i < batch ? count - i : batch;
			for (uint64_t j = 0; j < n; j++)
				if (write_rec(tag, first + i + j, 0))
					return 1;
			struct scsi_task *t = iscsi_synchronizecache10_sync(ctx, lun, 0, 0, 0, 0);
			if (!t || t->status != SCSI_STATUS_GOOD) {
				fprintf(stderr, "SYNCHRONIZE CACHE failed: %s\n",
					iscsi_get_error(ctx));
				return 1;
			}
			scsi_free_scsi_task(t);
			for (uint64_t j = 0; j < n; j++)
				printf("%" PRIu64 "\n", first + i + j);
		}
	} else {
		return 2;
	}
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	return 0;
}
