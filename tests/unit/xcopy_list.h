/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the XCOPY unit tests: EXTENDED COPY (LID1) parameter-list
 * builders (CSCD identification descriptors naming an LU by its NAA
 * designator, block-to-block segment descriptors and the list header;
 * SPC-4 6.4.3, 6.4.5.6, 6.4.6.5), and writing / checking per-block data
 * patterns through the harness. Include after test_scsi_harness.h. */
#ifndef KURA_TEST_XCOPY_LIST_H
#define KURA_TEST_XCOPY_LIST_H

static size_t put_tgt(uint8_t *d, const struct scsi_lu *lu)
{
	memset(d, 0, XCOPY_TGT_LEN);
	d[0] = XCOPY_DESC_IDENT;
	d[4] = SCSI_DESIG_CODESET_BINARY;
	d[5] = SCSI_DESIG_NAA;
	d[7] = 16;
	memcpy(d + 8, lu->naa, 16);
	d[30] = (uint8_t)(lu->bs >> 8);
	d[31] = (uint8_t)lu->bs;
	return XCOPY_TGT_LEN;
}

static size_t put_seg(uint8_t *d, uint16_t src, uint16_t dst, uint16_t n, uint64_t slba,
		      uint64_t dlba)
{
	memset(d, 0, XCOPY_B2B_LEN);
	d[0] = XCOPY_SEG_B2B;
	put_be16(d + 2, XCOPY_B2B_LEN - 4);
	put_be16(d + 4, src);
	put_be16(d + 6, dst);
	put_be16(d + 10, n);
	put_be64(d + 12, slba);
	put_be64(d + 20, dlba);
	return XCOPY_B2B_LEN;
}

static void put_hdr(uint8_t *p, uint8_t list_id, uint8_t usage, size_t tl, size_t sl)
{
	memset(p, 0, XCOPY_HDR_LEN);
	p[0] = list_id;
	p[1] = (uint8_t)(usage << 3);
	put_be16(p + 2, (uint16_t)tl);
	put_be32(p + 8, (uint32_t)sl);
}

/* a -> b, one block-to-block segment (CSCD 0 -> 1); returns the list length. */
static size_t xcopy_build(uint8_t *p, const struct scsi_lu *a, const struct scsi_lu *b, uint16_t n,
			  uint64_t slba, uint64_t dlba, uint8_t list_id)
{
	size_t o = XCOPY_HDR_LEN;
	o += put_tgt(p + o, a);
	o += put_tgt(p + o, b);
	o += put_seg(p + o, 0, 1, n, slba, dlba);
	put_hdr(p, list_id, 0, 2 * XCOPY_TGT_LEN, XCOPY_B2B_LEN);
	return o;
}

/* A test's data pattern: byte i of the block written as block lba. */
typedef uint8_t (*xt_pat_fn)(uint64_t lba, unsigned i);

/* Write pat(base + b) into blocks lba + b of LUN lun, b < n (512-byte blocks). */
static void xt_fill(struct th *h, uint64_t lun, uint64_t lba, uint32_t n, uint64_t base,
		    xt_pat_fn pat)
{
	static uint8_t w[512 * 512];
	uint8_t c[16];
	static struct tres r;
	for (uint32_t o = 0; o < n; o += 512) {
		uint32_t k = n - o < 512 ? n - o : 512;
		for (uint32_t b = 0; b < k; b++)
			for (unsigned i = 0; i < 512; i++)
				w[b * 512 + i] = pat(base + o + b, i);
		cdb16(c, SCSI_OP_WRITE16, lba + o, k);
		assert_int_equal(th_cmd_itn(h, h->itn, lun, c, 16, w, k * 512, &r), SAM_STAT_GOOD);
	}
}

/* Blocks lba + b of LUN lun hold pat(base + b), or zeros when pat is NULL. */
static void xt_check(struct th *h, uint64_t lun, uint64_t lba, uint32_t n, uint64_t base,
		     xt_pat_fn pat)
{
	uint8_t c[16];
	static struct tres r;
	for (uint32_t o = 0; o < n; o += 16) {
		uint32_t k = n - o < 16 ? n - o : 16;
		cdb16(c, SCSI_OP_READ16, lba + o, k);
		assert_int_equal(th_cmd_itn(h, h->itn, lun, c, 16, NULL, 0, &r), SAM_STAT_GOOD);
		for (uint32_t b = 0; b < k; b++)
			for (unsigned i = 0; i < 512; i++) {
				uint8_t want = pat ? pat(base + o + b, i) : 0;
				if (r.in[b * 512 + i] != want)
					fail_msg("LUN %llu block %llu byte %u: got %u want %u",
						 (unsigned long long)lun,
						 (unsigned long long)(lba + o + b), i,
						 r.in[b * 512 + i], want);
			}
	}
}

#endif
