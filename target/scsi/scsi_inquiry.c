/* SPDX-License-Identifier: Apache-2.0 */
/* INQUIRY (SPC-4 6.6): standard data and the vital product data pages.
 *
 * Each VPD page has a builder in one table; the SUPPORTED VPD PAGES page is
 * generated from that table. Identity (NAA, serial, names) comes from the LU,
 * the target port designators from the nexus. Allocation length is honoured
 * exactly: in_len = min(page length, ALLOCATION LENGTH).
 *
 * Not for: mode pages (scsi_mode.c) or READ CAPACITY (scsi_sbc.c).
 */
#include <stdio.h>
#include <string.h>
#include "target/scsi/scsi_alua.h"
#include "target/scsi/scsi_internal.h"

#define INQ_BUF_LEN 1024

/* TPGS field of standard INQUIRY (SPC-4 table 176): implicit and explicit
 * ALUA (scsi_alua.c), for every LU. */
static uint8_t lu_tpgs(const struct scsi_lu *lu)
{
	(void)lu;
	return SCSI_ALUA_TPGS;
}

static void put_str(uint8_t *dst, const char *s, size_t width)
{
	size_t n = strlen(s);
	memset(dst, ' ', width);
	memcpy(dst, s, n < width ? n : width);
}

/* SPC-4 7.6.2, table 176. */
static size_t inq_standard(const struct scsi_lu *lu, uint8_t *b)
{
	static const uint16_t versions[] = { 0x00A0 /* SAM-5 */, 0x0960 /* iSCSI */,
					     0x0460 /* SPC-4 */, 0x04C0 /* SBC-3 */ };
	b[0] = lu ? SCSI_TYPE_DISK : SCSI_INQ_PQ_NOT_CONNECTED;
	b[1] = lu && lu->removable ? 0x80 : 0; /* RMB */
	b[2] = SCSI_INQ_VERSION_SPC4;
	b[3] = 0x10 | 0x02; /* HISUP, RESPONSE DATA FORMAT 2 */
	b[4] = SCSI_INQ_STD_LEN - 5;
	b[5] = (uint8_t)(lu_tpgs(lu) << 4);
	b[7] = 0x02; /* CMDQUE */
	put_str(b + 8, lu ? lu->vendor : "KURA", 8);
	put_str(b + 16, lu ? lu->product : "kura-lun", 16);
	put_str(b + 32, lu ? lu->revision : "0001", 4);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		put_be16(b + 58 + 2 * i, versions[i]);
	return SCSI_INQ_STD_LEN;
}

/* ---- VPD pages ---- */
struct vpd_ctx {
	const struct scsi_lu *lu;
	const struct scsi_itn *itn;
};
typedef size_t (*vpd_fn)(const struct vpd_ctx *c, uint8_t *b);
struct vpd_page {
	uint8_t code;
	vpd_fn build;
};
static size_t vpd_supported(const struct vpd_ctx *c, uint8_t *b);

static size_t vpd_finish(uint8_t *b, uint8_t code, size_t len)
{
	b[0] = SCSI_TYPE_DISK;
	b[1] = code;
	put_be16(b + 2, (uint16_t)(len - SCSI_VPD_HDR_LEN));
	return len;
}

/* SPC-4 7.8.18 */
static size_t vpd_serial(const struct vpd_ctx *c, uint8_t *b)
{
	size_t n = strlen(c->lu->serial);
	memcpy(b + 4, c->lu->serial, n);
	return vpd_finish(b, SCSI_VPD_SERIAL, 4 + n);
}

/* One designation descriptor (SPC-4 table 589). */
static size_t desig(uint8_t *d, uint8_t proto_codeset, uint8_t piv_assoc_type, const void *id,
		    size_t n)
{
	d[0] = proto_codeset;
	d[1] = piv_assoc_type;
	d[2] = 0;
	d[3] = (uint8_t)n;
	memcpy(d + 4, id, n);
	return 4 + n;
}

/* SCSI name string (SPC-4 7.8.6.11): UTF-8, NUL terminated, padded to 4. */
static size_t desig_name(uint8_t *d, uint8_t assoc, const char *name)
{
	uint8_t s[256] = { 0 };
	size_t n = strlen(name);
	if (n > 250)
		n = 250;
	memcpy(s, name, n);
	n = (n + 1 + 3) & ~(size_t)3;
	return desig(d, (uint8_t)(SCSI_DESIG_PROTO_ISCSI << 4 | SCSI_DESIG_CODESET_UTF8),
		     SCSI_DESIG_PIV | assoc | SCSI_DESIG_NAME, s, n);
}

static size_t desig_port(uint8_t *d, const struct scsi_itn *itn)
{
	uint8_t v[4] = { 0 };
	char name[256];
	size_t n = 0;
	uint8_t pc = SCSI_DESIG_PROTO_ISCSI << 4 | SCSI_DESIG_CODESET_BINARY;
	put_be16(v + 2, itn->port.rel_port_id);
	n += desig(d + n, pc, SCSI_DESIG_PIV | SCSI_DESIG_ASSOC_PORT | SCSI_DESIG_REL_PORT, v, 4);
	put_be16(v + 2, itn->port.tpg_id);
	n += desig(d + n, pc, SCSI_DESIG_PIV | SCSI_DESIG_ASSOC_PORT | SCSI_DESIG_TPG, v, 4);
	snprintf(name, sizeof(name), "%s,t,0x%04x", itn->port_iqn, itn->port.tpgt);
	n += desig_name(d + n, SCSI_DESIG_ASSOC_PORT, name);
	return n;
}

/* SPC-4 7.8.6 device identification: NAA-6 and T10 vendor id of the LU,
 * relative port + port group + SCSI name of the target port, SCSI name of
 * the target device. */
static size_t vpd_devid(const struct vpd_ctx *c, uint8_t *b)
{
	const struct scsi_lu *lu = c->lu;
	size_t n = 4;
	uint8_t t10[8 + 64];
	n += desig(b + n, SCSI_DESIG_CODESET_BINARY, SCSI_DESIG_ASSOC_LU | SCSI_DESIG_NAA, lu->naa,
		   16);
	put_str(t10, lu->vendor, 8);
	size_t sl = strlen(lu->serial);
	memcpy(t10 + 8, lu->serial, sl);
	n += desig(b + n, SCSI_DESIG_CODESET_ASCII, SCSI_DESIG_ASSOC_LU | SCSI_DESIG_T10, t10,
		   8 + sl);
	if (c->itn)
		n += desig_port(b + n, c->itn);
	n += desig_name(b + n, SCSI_DESIG_ASSOC_TARGET, lu->target_iqn);
	return vpd_finish(b, SCSI_VPD_DEVICE_ID, n);
}

/* SPC-4 7.8.7 extended INQUIRY data. */
static size_t vpd_extended(const struct vpd_ctx *c, uint8_t *b)
{
	b[5] = 0x01;                                 /* SIMPSUP */
	b[6] = c->lu->be->volatile_cache ? 0x01 : 0; /* V_SUP */
	b[7] = 0x01;                                 /* LUICLR: UAs are per I_T nexus */
	return vpd_finish(b, SCSI_VPD_EXTENDED_INQ, SCSI_VPD_EXTENDED_INQ_LEN);
}

/* SBC-4 6.6.4 block limits, table 209. */
static size_t vpd_block_limits(const struct vpd_ctx *c, uint8_t *b)
{
	const struct scsi_lu *lu = c->lu;
	uint32_t bs = lu->bs;
	uint32_t gran = bs < 4096 ? 4096 / bs : 1;
	uint32_t maxx = SCSI_MAX_XFER_BYTES / bs;
	uint32_t opt = lu->be->optimal_io >= bs ? lu->be->optimal_io / bs : (1u << 20) / bs;
	uint32_t maxa = SCSI_MAX_ATOMIC_BYTES / bs;
	/* WSNZ: WRITE SAME with 0 blocks is rejected. With WSNZ 0, libiscsi's
	 * WriteSame10/16.UnmapUntilEnd sends UNMAP=1 with a non-zero block
	 * and expects zeros back, which SBC-4 forbids (reads must return the
	 * block written); docs/conformance.md. */
	b[4] = 0x01;
	b[5] = SCSI_MAX_CAW_BLOCKS;
	put_be16(b + 6, (uint16_t)gran);
	put_be32(b + 8, maxx);
	put_be32(b + 12, opt < maxx ? opt : maxx);
	put_be32(b + 16, maxx); /* MAXIMUM PREFETCH LENGTH */
	if (lu->thin) {
		uint32_t ug = lu->be->unmap_granularity >= bs ? lu->be->unmap_granularity / bs : 1;
		put_be32(b + 20, SCSI_MAX_UNMAP_BLOCKS);
		put_be32(b + 24, SCSI_MAX_UNMAP_DESC);
		/* QEMU's iscsi driver (7.2 and later) turns a reported
		 * granularity into an allocation map, then asks GET LBA STATUS
		 * for BDRV_REQUEST_MAX_BYTES (a 512-byte multiple) and asserts
		 * the length is a block multiple: on a 4096-byte LU any read of
		 * 32 KiB or more over unwritten space aborts the VM. 0 = "not
		 * reported" (SBC-4 6.6.4) keeps such hosts alive; Linux then
		 * uses the physical block size as discard granularity. */
		if (lu->report_unmap_gran) {
			put_be32(b + 28, ug);
			put_be32(b + 32, 0x80000000u); /* UGAVALID, alignment 0 */
		}
	}
	put_be64(b + 36, SCSI_MAX_WS_BLOCKS);
	/* WRITE ATOMIC(16) (scsi_sbc_ext.c): MAXIMUM ATOMIC TRANSFER LENGTH;
	 * ATOMIC ALIGNMENT, GRANULARITY and the boundary fields 0 (none). */
	put_be32(b + 44, maxa < maxx ? maxa : maxx);
	return vpd_finish(b, SCSI_VPD_BLOCK_LIMITS, SCSI_VPD_BLOCK_LIMITS_LEN);
}

/* SBC-4 6.6.2 block device characteristics. */
static size_t vpd_bdc(const struct vpd_ctx *c, uint8_t *b)
{
	put_be16(b + 4, 1); /* MEDIUM ROTATION RATE: non-rotating */
	/* WABEREQ 01b: reads after SANITIZE BLOCK ERASE succeed (zeros, or
	 * whatever the medium holds); WACEREQ 0: no CRYPTOGRAPHIC ERASE. */
	if (scsi_lu_can_unmap(c->lu))
		b[7] = 0x40;
	return vpd_finish(b, SCSI_VPD_BLOCK_DEV_CHAR, SCSI_VPD_BDC_LEN);
}

/* SBC-4 6.6.6 logical block provisioning, table 212. */
static size_t vpd_lbp(const struct vpd_ctx *c, uint8_t *b)
{
	const struct scsi_lu *lu = c->lu;
	if (lu->thin) {
		b[5] = 0x80 | 0x40 | 0x20; /* LBPU, LBPWS, LBPWS10 */
		if (lu->be->zeroes_after_unmap)
			b[5] |= 0x04; /* LBPRZ = 001b */
		b[6] = 0x02;          /* PROVISIONING TYPE: thin */
	}
	return vpd_finish(b, SCSI_VPD_LBP, SCSI_VPD_LBP_LEN);
}

/* SPC-4 7.8.17 third-party copy: what EXTENDED COPY supports (scsi_xcopy.c). */
static size_t vpd_tpc(const struct vpd_ctx *c, uint8_t *b)
{
	(void)c;
	return vpd_finish(b, SCSI_VPD_THIRD_PARTY_COPY,
			  SCSI_VPD_HDR_LEN + scsi_xcopy_vpd(b + SCSI_VPD_HDR_LEN));
}

/* Ascending page codes (SPC-4 7.8.16). */
static const struct vpd_page vpd_pages[] = {
	{ SCSI_VPD_SUPPORTED, vpd_supported },  { SCSI_VPD_SERIAL, vpd_serial },
	{ SCSI_VPD_DEVICE_ID, vpd_devid },      { SCSI_VPD_EXTENDED_INQ, vpd_extended },
	{ SCSI_VPD_THIRD_PARTY_COPY, vpd_tpc }, { SCSI_VPD_BLOCK_LIMITS, vpd_block_limits },
	{ SCSI_VPD_BLOCK_DEV_CHAR, vpd_bdc },   { SCSI_VPD_LBP, vpd_lbp },
};
static const size_t vpd_count = sizeof(vpd_pages) / sizeof(vpd_pages[0]);

/* SPC-4 7.8.16 */
static size_t vpd_supported(const struct vpd_ctx *c, uint8_t *b)
{
	for (size_t i = 0; i < vpd_count; i++)
		b[4 + i] = vpd_pages[i].code;
	return vpd_finish(b, SCSI_VPD_SUPPORTED, 4 + vpd_count);
}

static const struct vpd_page *vpd_find(uint8_t code)
{
	for (size_t i = 0; i < vpd_count; i++)
		if (vpd_pages[i].code == code)
			return &vpd_pages[i];
	return NULL;
}

int scsi_exec_inquiry(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	bool evpd = cdb[1] & 0x01;
	uint16_t alloc = get_be16(cdb + 3);
	const struct vpd_page *pg = NULL;
	if (!evpd && cdb[2] != 0)
		return scsi_fail_field(t, 2, 7); /* SPC-4 6.6.1: PAGE CODE without EVPD */
	if (evpd && !t->lu)
		return SR_LU_NOT_SUPPORTED;
	if (evpd && !(pg = vpd_find(cdb[2])))
		return scsi_fail_field(t, 2, 7);
	uint8_t *b = scsi_in_alloc(t, INQ_BUF_LEN);
	if (!b)
		return SR_PENDING;
	struct vpd_ctx c = { t->lu, t->itn };
	size_t n = evpd ? pg->build(&c, b) : inq_standard(t->lu, b);
	return scsi_in_done(t, n, alloc);
}
