/* SPDX-License-Identifier: Apache-2.0 */
/* Pure CDB and parameter-list parsers of the SCSI layer.
 *
 * Everything here takes bytes and a length and returns a decoded struct plus
 * an enum scsi_reason: no LU, no I/O, no globals. Truncated input is
 * rejected, never read past. Also the SAM-5 LUN field encoders (4.7).
 *
 * Not for: range checks against a medium (callers, with scsi_lba_range_ok) or
 * building responses.
 */
#include <stdio.h>
#include <string.h>
#include "common/hex.h"
#include "target/scsi/scsi_internal.h"

/* SPC-4 4.2.5.1, table 5: group code -> CDB length. */
unsigned scsi_cdb_group_len(uint8_t opcode)
{
	static const uint8_t len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };
	return len[opcode >> 5];
}

int scsi_cdb_check_usage(const uint8_t *cdb, size_t len, const uint8_t *usage, bool sa_field,
			 int *bit)
{
	for (size_t i = 1; i < len && i < 16; i++) {
		uint8_t allowed = usage[i];
		if (i == 1 && sa_field)
			allowed |= 0x1F;
		uint8_t bad = cdb[i] & (uint8_t)~allowed;
		if (!bad)
			continue;
		int b = 7;
		while (!(bad & (1u << b)))
			b--;
		*bit = b;
		return (int)i;
	}
	return -1;
}

/* Where the LBA / length / group fields of each block command live
 * (SBC-4 tables 55 .. 96). */
enum rw_kind { RWK_NONE, RWK_RW, RWK_VERIFY, RWK_WS, RWK_SYNC, RWK_CAW };
struct rw_layout {
	uint8_t len;    /* CDB length */
	uint8_t lba_sz; /* 3 (6-byte CDB), 4 or 8 */
	uint8_t nb_off, nb_sz;
	uint8_t grp_off;
	uint8_t kind;
	uint8_t ndob; /* WRITE SAME(16) only */
};

static const struct rw_layout rw_layouts[256] = {
	[SCSI_OP_READ6] = { 6, 3, 4, 1, 0, RWK_RW, 0 },
	[SCSI_OP_WRITE6] = { 6, 3, 4, 1, 0, RWK_RW, 0 },
	[SCSI_OP_READ10] = { 10, 4, 7, 2, 6, RWK_RW, 0 },
	[SCSI_OP_WRITE10] = { 10, 4, 7, 2, 6, RWK_RW, 0 },
	[SCSI_OP_WRITE_VERIFY10] = { 10, 4, 7, 2, 6, RWK_VERIFY, 0 },
	[SCSI_OP_VERIFY10] = { 10, 4, 7, 2, 6, RWK_VERIFY, 0 },
	[SCSI_OP_PREFETCH10] = { 10, 4, 7, 2, 6, RWK_SYNC, 0 },
	[SCSI_OP_SYNC_CACHE10] = { 10, 4, 7, 2, 6, RWK_SYNC, 0 },
	[SCSI_OP_WRITE_SAME10] = { 10, 4, 7, 2, 6, RWK_WS, 0 },
	[SCSI_OP_READ12] = { 12, 4, 6, 4, 10, RWK_RW, 0 },
	[SCSI_OP_WRITE12] = { 12, 4, 6, 4, 10, RWK_RW, 0 },
	[SCSI_OP_WRITE_VERIFY12] = { 12, 4, 6, 4, 10, RWK_VERIFY, 0 },
	[SCSI_OP_VERIFY12] = { 12, 4, 6, 4, 10, RWK_VERIFY, 0 },
	[SCSI_OP_READ16] = { 16, 8, 10, 4, 14, RWK_RW, 0 },
	[SCSI_OP_WRITE16] = { 16, 8, 10, 4, 14, RWK_RW, 0 },
	[SCSI_OP_ORWRITE16] = { 16, 8, 10, 4, 14, RWK_RW, 0 },
	[SCSI_OP_WRITE_ATOMIC16] = { 16, 8, 12, 2, 14, RWK_RW, 0 },
	[SCSI_OP_WRITE_VERIFY16] = { 16, 8, 10, 4, 14, RWK_VERIFY, 0 },
	[SCSI_OP_VERIFY16] = { 16, 8, 10, 4, 14, RWK_VERIFY, 0 },
	[SCSI_OP_PREFETCH16] = { 16, 8, 10, 4, 14, RWK_SYNC, 0 },
	[SCSI_OP_SYNC_CACHE16] = { 16, 8, 10, 4, 14, RWK_SYNC, 0 },
	[SCSI_OP_WRITE_SAME16] = { 16, 8, 10, 4, 14, RWK_WS, 1 },
	[SCSI_OP_COMPARE_AND_WRITE] = { 16, 8, 13, 1, 14, RWK_CAW, 0 },
};

static uint32_t get_be_n(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t rw_flags(const struct rw_layout *l, uint8_t b1)
{
	uint8_t f = 0;
	switch (l->kind) {
	case RWK_RW:
	case RWK_CAW:
		f |= (b1 & 0x08) ? SCSI_RW_FUA : 0;
		f |= (b1 & 0x10) ? SCSI_RW_DPO : 0;
		break;
	case RWK_VERIFY: f |= (b1 & 0x10) ? SCSI_RW_DPO : 0; break;
	case RWK_WS:
		f |= (b1 & 0x08) ? SCSI_RW_UNMAP : 0;
		f |= (b1 & 0x10) ? SCSI_RW_ANCHOR : 0;
		f |= (l->ndob && (b1 & 0x01)) ? SCSI_RW_NDOB : 0;
		break;
	case RWK_SYNC: f |= (b1 & 0x02) ? SCSI_RW_IMMED : 0; break;
	default: break;
	}
	return f;
}

int scsi_parse_rw(const uint8_t *cdb, size_t len, struct scsi_rw_cdb *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 1)
		return SR_INVALID_FIELD_CDB;
	const struct rw_layout *l = &rw_layouts[cdb[0]];
	if (l->kind == RWK_NONE || len < l->len)
		return SR_INVALID_FIELD_CDB;
	if (l->lba_sz == 3) {
		/* SBC-4 5.16 READ(6): 21-bit LBA; TRANSFER LENGTH 0 = 256 blocks */
		out->lba = (uint64_t)(cdb[1] & 0x1F) << 16 | get_be16(cdb + 2);
		out->nblocks = cdb[4] ? cdb[4] : 256;
		return SR_GOOD;
	}
	out->lba = l->lba_sz == 8 ? get_be64(cdb + 2) : get_be32(cdb + 2);
	out->nblocks = get_be_n(cdb + l->nb_off, l->nb_sz);
	out->group = cdb[l->grp_off] & 0x1F;
	out->protect = cdb[1] >> 5;
	out->flags = rw_flags(l, cdb[1]);
	if (l->kind == RWK_VERIFY)
		out->bytchk = (cdb[1] >> 1) & 3;
	return SR_GOOD;
}

/* SBC-4 5.32.2, table 101 (UNMAP parameter list) and table 102 (descriptor). */
int scsi_parse_unmap_params(const uint8_t *p, size_t len, uint32_t *ndesc, uint16_t *bad_byte)
{
	*ndesc = 0;
	*bad_byte = 0;
	if (len < SCSI_UNMAP_HDR_LEN)
		return SR_PARAM_LIST_LENGTH;
	size_t bddl = get_be16(p + 2);
	size_t avail = len - SCSI_UNMAP_HDR_LEN;
	if (bddl > avail)
		bddl = avail; /* truncated list: use the descriptors that arrived */
	uint32_t n = (uint32_t)(bddl / SCSI_UNMAP_DESC_LEN);
	if (n > SCSI_MAX_UNMAP_DESC) {
		*bad_byte = 2;
		return SR_INVALID_FIELD_PARAM;
	}
	*ndesc = n;
	return SR_GOOD;
}

void scsi_unmap_desc_get(const uint8_t *p, uint32_t i, struct scsi_unmap_desc *d)
{
	const uint8_t *q = p + SCSI_UNMAP_HDR_LEN + (size_t)i * SCSI_UNMAP_DESC_LEN;
	d->lba = get_be64(q);
	d->nblocks = get_be32(q + 8);
}

/* SAM-5 4.7.3: peripheral (00b) and flat (01b) addressing; anything else
 * decodes to an impossible LUN so that the lookup fails. */
uint64_t scsi_decode_lun(const uint8_t f[8])
{
	unsigned method = f[0] >> 6;
	if (method > 1)
		return UINT64_MAX;
	if (method == 0 && (f[0] & 0x3F))
		return UINT64_MAX; /* bus identifier != 0: no such LUN */
	return (uint64_t)(f[0] & 0x3F) << 8 | f[1];
}

void scsi_encode_lun(uint64_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;
	} else {
		out[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3F));
		out[1] = (uint8_t)lun;
	}
}

/* ---- iSCSI TransportIDs (SPC-4 7.6.4.6, tables 509-510) ----
 * Byte 0: FORMAT CODE (bits 7-6) | PROTOCOL IDENTIFIER (bits 3-0, 5h);
 * bytes 2-3: ADDITIONAL LENGTH (>= 20, a multiple of 4); then a
 * NUL-terminated UTF-8 string: "<iSCSI name>" (format 00h: every initiator
 * port of that name) or "<iSCSI name>,i,0x<ISID in 12 hex digits>"
 * (format 01h: one initiator port). */
static bool tid_isid(const char *hex, size_t n, uint8_t isid[6])
{
	if (n != 12)
		return false;
	for (size_t i = 0; i < 6; i++) {
		int hi = khex_val(hex[2 * i]), lo = khex_val(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		isid[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool tid_name(const char *s, size_t n, struct scsi_tid *out)
{
	if (n == 0 || n >= sizeof(out->name) || memchr(s, ',', n))
		return false;
	memcpy(out->name, s, n);
	out->name[n] = '\0';
	return true;
}

int scsi_tid_parse(const uint8_t *p, size_t avail, struct scsi_tid *out)
{
	memset(out, 0, sizeof(*out));
	if (avail < SCSI_TID_HDR_LEN || (p[0] & 0x0F) != SCSI_PROTO_ISCSI)
		return -1;
	uint8_t fmt = p[0] & 0xC0;
	size_t alen = get_be16(p + 2), total = SCSI_TID_HDR_LEN + alen;
	if ((fmt != SCSI_TID_FMT_NAME && fmt != SCSI_TID_FMT_PORT) || alen < 20 || alen % 4 ||
	    total > avail || total > SCSI_TID_MAX_LEN)
		return -1;
	const char *s = (const char *)p + SCSI_TID_HDR_LEN;
	size_t n = strnlen(s, alen);
	if (n == alen)
		return -1; /* not NUL-terminated inside its own length */
	if (fmt == SCSI_TID_FMT_NAME)
		return tid_name(s, n, out) ? (int)total : -1;
	const char *sep = memmem(s, n, ",i,0x", 5);
	if (!sep || !tid_name(s, (size_t)(sep - s), out))
		return -1;
	const char *hex = sep + 5;
	if (!tid_isid(hex, n - (size_t)(hex - s), out->isid))
		return -1;
	out->has_isid = true;
	return (int)total;
}

size_t scsi_tid_encode(const struct scsi_pr_id *id, uint8_t *out)
{
	char s[SCSI_TID_MAX_LEN];
	bool port = !(id->flags & PRID_ANY_ISID);
	int n = port ? snprintf(s, sizeof(s), "%s,i,0x%02x%02x%02x%02x%02x%02x", id->name,
				id->isid[0], id->isid[1], id->isid[2], id->isid[3], id->isid[4],
				id->isid[5])
		     : snprintf(s, sizeof(s), "%s", id->name);
	size_t len = (size_t)n + 1; /* with its NUL */
	size_t alen = (len + 3) & ~(size_t)3;
	if (alen < 20)
		alen = 20;
	memset(out, 0, SCSI_TID_HDR_LEN + alen);
	out[0] = (uint8_t)((port ? SCSI_TID_FMT_PORT : SCSI_TID_FMT_NAME) | SCSI_PROTO_ISCSI);
	put_be16(out + 2, (uint16_t)alen);
	memcpy(out + SCSI_TID_HDR_LEN, s, len);
	return SCSI_TID_HDR_LEN + alen;
}
