/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client: one EXTENDED COPY (LID1) between two LUNs of a
 * target, then RECEIVE COPY RESULTS for it.
 *
 *   kura-it-client_xcopy URL_SRC URL_DST SRC_LBA DST_LBA NBLOCKS
 *
 * Both URLs name LUNs of one target (the copy is sent to the source LUN).
 * The CSCD descriptors (E4h) carry each LU's NAA designator from VPD page
 * 83h and its block length from READ CAPACITY(16); the range is cut into
 * block -> block segments of at most 32768 blocks (16 at most). Prints
 * "status GOOD" or the sense, "seconds S" for the EXTENDED COPY alone and
 * "copied BYTES segments N" from COPY STATUS; exit 0 only if the copy was
 * GOOD and the status reports every byte.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define SEG_MAX_BLOCKS 32768u
#define MAX_SEGS       16u
#define LIST_ID        0x5a

static struct iscsi_context *ctx;

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | p[2] << 8 | p[3];
}

/* One command; a UNIT ATTENTION (power on, first command to a LUN) is
 * taken and the command sent again. */
static struct scsi_task *run(int lun, const uint8_t *cdb, int len, int dir, int xfer, uint8_t *out,
			     size_t outlen)
{
	for (int i = 0;; i++) {
		struct scsi_task *t = scsi_create_task(len, (unsigned char *)cdb, dir, xfer);
		struct iscsi_data d = { .size = outlen, .data = out };
		if (!t || !iscsi_scsi_command_sync(ctx, lun, t, out ? &d : NULL)) {
			fprintf(stderr, "command 0x%02x: %s\n", cdb[0], iscsi_get_error(ctx));
			exit(1);
		}
		if (i < 4 && t->status == SCSI_STATUS_CHECK_CONDITION &&
		    t->sense.key == SCSI_SENSE_UNIT_ATTENTION) {
			scsi_free_scsi_task(t);
			continue;
		}
		return t;
	}
}

/* The LU's NAA designator (VPD 83h, association LU, 16 bytes) and block length. */
static void lu_ident(int lun, uint8_t naa[16], uint32_t *bs)
{
	uint8_t inq[6] = { 0x12, 0x01, 0x83, 0x01, 0x00, 0x00 };
	struct scsi_task *t = run(lun, inq, 6, SCSI_XFER_READ, 256, NULL, 0);
	const uint8_t *p = t->datain.data;
	int n = t->datain.size, found = 0;
	for (int off = 4; t->status == SCSI_STATUS_GOOD && off + 4 <= n; off += 4 + p[off + 3])
		if ((p[off + 1] & 0x0f) == 3 && (p[off + 1] & 0x30) == 0 && p[off + 3] == 16 &&
		    off + 20 <= n) {
			memcpy(naa, p + off + 4, 16);
			found = 1;
			break;
		}
	scsi_free_scsi_task(t);
	if (!found) {
		fprintf(stderr, "LUN %d: no NAA designator in VPD 83h\n", lun);
		exit(1);
	}
	uint8_t rc16[16] = { 0x9e, 0x10 };
	rc16[13] = 32;
	t = run(lun, rc16, 16, SCSI_XFER_READ, 32, NULL, 0);
	if (t->status != SCSI_STATUS_GOOD || t->datain.size < 12) {
		fprintf(stderr, "LUN %d: READ CAPACITY(16) failed\n", lun);
		exit(1);
	}
	*bs = get32(t->datain.data + 8);
	scsi_free_scsi_task(t);
}

static size_t put_cscd(uint8_t *d, const uint8_t naa[16], uint32_t bs)
{
	memset(d, 0, 32);
	d[0] = 0xe4; /* identification descriptor CSCD */
	d[4] = 1;    /* code set binary */
	d[5] = 3;    /* association LU, designator NAA */
	d[7] = 16;
	memcpy(d + 8, naa, 16);
	d[29] = (uint8_t)(bs >> 16);
	d[30] = (uint8_t)(bs >> 8);
	d[31] = (uint8_t)bs;
	return 32;
}

static size_t put_seg(uint8_t *d, uint16_t n, uint64_t slba, uint64_t dlba)
{
	memset(d, 0, 28);
	d[0] = 0x02; /* block -> block */
	put16(d + 2, 24);
	put16(d + 4, 0); /* source CSCD */
	put16(d + 6, 1); /* destination CSCD */
	put16(d + 10, n);
	put64(d + 12, slba);
	put64(d + 20, dlba);
	return 28;
}

static int connect_url(const char *u, int *lun, char *portal, size_t plen, char *target,
		       size_t tlen)
{
	struct iscsi_url *url = iscsi_parse_full_url(ctx, u);
	if (!url)
		return -1;
	*lun = url->lun;
	snprintf(portal, plen, "%s", url->portal);
	snprintf(target, tlen, "%s", url->target);
	iscsi_destroy_url(url);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s URL_SRC URL_DST SRC_LBA DST_LBA NBLOCKS\n", argv[0]);
		return 2;
	}
	ctx = iscsi_create_context("iqn.2026-11.org.kura:it-xcopy");
	char portal[256], target[256], p2[256], t2[256];
	int src, dst;
	if (connect_url(argv[1], &src, portal, sizeof(portal), target, sizeof(target)) ||
	    connect_url(argv[2], &dst, p2, sizeof(p2), t2, sizeof(t2)) || strcmp(target, t2)) {
		fprintf(stderr, "bad URLs (both must name one target)\n");
		return 2;
	}
	uint64_t slba = strtoull(argv[3], NULL, 0), dlba = strtoull(argv[4], NULL, 0);
	uint64_t nblocks = strtoull(argv[5], NULL, 0);
	iscsi_set_targetname(ctx, target);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_timeout(ctx, 120);
	if (iscsi_full_connect_sync(ctx, portal, src)) {
		fprintf(stderr, "login: %s\n", iscsi_get_error(ctx));
		return 1;
	}
	uint8_t naa_s[16], naa_d[16];
	uint32_t bs_s, bs_d;
	lu_ident(src, naa_s, &bs_s);
	lu_ident(dst, naa_d, &bs_d);
	uint8_t list[16 + 64 + MAX_SEGS * 28] = { 0 };
	list[0] = LIST_ID;
	list[1] = 0 << 3; /* LIST ID USAGE 00b: hold the status */
	size_t at = 16;
	at += put_cscd(list + at, naa_s, bs_s);
	at += put_cscd(list + at, naa_d, bs_d);
	put16(list + 2, 64);
	unsigned nseg = 0;
	for (uint64_t done = 0; done < nblocks; nseg++) {
		uint64_t n = nblocks - done < SEG_MAX_BLOCKS ? nblocks - done : SEG_MAX_BLOCKS;
		if (nseg == MAX_SEGS) {
			fprintf(stderr, "range needs more than %u segments\n", MAX_SEGS);
			return 2;
		}
		at += put_seg(list + at, (uint16_t)n, slba + done, dlba + done);
		done += n;
	}
	put32(list + 8, nseg * 28);
	uint8_t cdb[16] = { 0x83 };
	put32(cdb + 10, (uint32_t)at);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct scsi_task *t = run(src, cdb, 16, SCSI_XFER_WRITE, (int)at, list, at);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int good = t->status == SCSI_STATUS_GOOD;
	if (good)
		printf("status GOOD\n");
	else
		printf("status 0x%02x sense %x/%04x\n", t->status, t->sense.key, t->sense.ascq);
	printf("seconds %.3f\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	scsi_free_scsi_task(t);
	uint8_t rcr[16] = { 0x84, 0x00, LIST_ID };
	put32(rcr + 10, 64);
	t = run(src, rcr, 16, SCSI_XFER_READ, 64, NULL, 0);
	uint64_t bytes = 0;
	if (t->status == SCSI_STATUS_GOOD && t->datain.size >= 12) {
		const uint8_t *p = t->datain.data;
		bytes = (uint64_t)get32(p + 8) << (p[7] == 1 ? 10 : 0);
		printf("copied %" PRIu64 " segments %u status 0x%02x\n", bytes, p[5] << 8 | p[6],
		       p[4]);
	} else {
		printf("RECEIVE COPY RESULTS: status 0x%02x\n", t->status);
	}
	scsi_free_scsi_task(t);
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	return good && bytes == nblocks * bs_d ? 0 : 1;
}
