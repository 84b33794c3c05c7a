/* SPDX-License-Identifier: Apache-2.0 */
/* MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4 6.11-6.14, 7.5; SBC-4 6.5).
 *
 * Pages: read-write error recovery (01h), caching (08h, WCE changeable),
 * control (0Ah, D_SENSE and SWP changeable), informational exceptions (1Ch).
 * One table holds each page's builder; the changeable mask is the same
 * builder run with page control 01b, and MODE SELECT validates against it.
 * Current values live in the LU (atomics) and are shared by all nexuses; a
 * change raises MODE PARAMETERS CHANGED (2A/01) to the other nexuses.
 * Saved values are not supported (39/00).
 *
 * Not for: VPD pages (scsi_inquiry.c).
 */
#include <string.h>
#include "target/scsi/scsi_internal.h"

#define MODE_BUF_LEN    512
#define MODE_SELECT_MAX 1024

struct mode_vals {
	bool wce, d_sense, swp;
};

struct mode_page {
	uint8_t code, len;
	void (*build)(const struct mode_vals *v, int pc, uint8_t *p);
};

static void mp_rwer(const struct mode_vals *v, int pc, uint8_t *p)
{
	p[0] = SCSI_MP_RW_ERROR_RECOVERY;
	p[1] = SCSI_MP_RW_ERROR_RECOVERY_LEN - 2;
}

/* SBC-4 table 172 */
static void mp_caching(const struct mode_vals *v, int pc, uint8_t *p)
{
	p[0] = SCSI_MP_CACHING;
	p[1] = SCSI_MP_CACHING_LEN - 2;
	if (pc == SCSI_MP_PC_CHANGEABLE)
		p[2] = SCSI_MP_CACHING_WCE;
	else if (v->wce)
		p[2] = SCSI_MP_CACHING_WCE;
}

/* SPC-4 table 458 */
static void mp_control(const struct mode_vals *v, int pc, uint8_t *p)
{
	p[0] = SCSI_MP_CONTROL;
	p[1] = SCSI_MP_CONTROL_LEN - 2;
	if (pc == SCSI_MP_PC_CHANGEABLE) {
		p[2] = SCSI_MP_CONTROL_DSENSE;
		p[4] = SCSI_MP_CONTROL_SWP;
		return;
	}
	p[2] = 0x02 | (v->d_sense ? SCSI_MP_CONTROL_DSENSE : 0); /* GLTSD */
	p[3] = 0x10;                                             /* unrestricted reordering */
	p[4] = v->swp ? SCSI_MP_CONTROL_SWP : 0;
}

/* SPC-4 table 465 */
static void mp_iec(const struct mode_vals *v, int pc, uint8_t *p)
{
	p[0] = SCSI_MP_INFO_EXCEPTIONS;
	p[1] = SCSI_MP_INFO_EXCEPTIONS_LEN - 2;
	if (pc != SCSI_MP_PC_CHANGEABLE)
		p[2] = 0x08; /* DEXCPT */
}

static const struct mode_page mode_pages[] = {
	{ SCSI_MP_RW_ERROR_RECOVERY, SCSI_MP_RW_ERROR_RECOVERY_LEN, mp_rwer },
	{ SCSI_MP_CACHING, SCSI_MP_CACHING_LEN, mp_caching },
	{ SCSI_MP_CONTROL, SCSI_MP_CONTROL_LEN, mp_control },
	{ SCSI_MP_INFO_EXCEPTIONS, SCSI_MP_INFO_EXCEPTIONS_LEN, mp_iec },
};
#define N_MODE_PAGES (sizeof(mode_pages) / sizeof(mode_pages[0]))

static const struct mode_page *mode_find(uint8_t code)
{
	for (size_t i = 0; i < N_MODE_PAGES; i++)
		if (mode_pages[i].code == code)
			return &mode_pages[i];
	return NULL;
}

static void mode_vals_get(const struct scsi_lu *lu, int pc, struct mode_vals *v)
{
	struct scsi_lu *l = (struct scsi_lu *)lu;
	if (pc == SCSI_MP_PC_DEFAULT) {
		*v = (struct mode_vals){ lu->default_wce, false, false };
		return;
	}
	*v = (struct mode_vals){ atomic_load(&l->wce), atomic_load(&l->d_sense),
				 atomic_load(&l->swp) };
}

/* ---- MODE SENSE ---- */
struct ms_req {
	bool ten, dbd, llbaa;
	int pc;
	uint8_t page, subpage;
	uint32_t alloc;
};

static void ms_decode(const uint8_t *cdb, struct ms_req *r)
{
	r->ten = cdb[0] == SCSI_OP_MODE_SENSE10;
	r->dbd = cdb[1] & 0x08;
	r->llbaa = r->ten && (cdb[1] & 0x10);
	r->pc = cdb[2] >> 6;
	r->page = cdb[2] & 0x3F;
	r->subpage = cdb[3];
	r->alloc = r->ten ? get_be16(cdb + 7) : cdb[4];
}

/* SBC-4 6.5.2: short (8-byte) or long (16-byte) LBA block descriptor. */
static size_t block_desc(const struct scsi_lu *lu, bool lng, uint8_t *b)
{
	uint64_t n = scsi_lu_size_blocks(lu);
	if (lng) {
		put_be64(b, n);
		put_be32(b + 12, lu->bs);
		return SCSI_LBLOCK_DESC_LEN;
	}
	put_be32(b, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
	put_be32(b + 4, lu->bs); /* byte 4 reserved, 5..7 length */
	b[4] = 0;
	return SCSI_BLOCK_DESC_LEN;
}

static size_t ms_pages(const struct scsi_lu *lu, const struct ms_req *r, uint8_t *b)
{
	struct mode_vals v;
	size_t n = 0;
	mode_vals_get(lu, r->pc, &v);
	for (size_t i = 0; i < N_MODE_PAGES; i++) {
		const struct mode_page *mp = &mode_pages[i];
		if (r->page != SCSI_MP_ALL && r->page != mp->code)
			continue;
		mp->build(&v, r->pc, b + n);
		n += mp->len;
	}
	return n;
}

static int ms_check(struct scsi_task *t, const struct ms_req *r)
{
	if (r->pc == SCSI_MP_PC_SAVED)
		return SR_SAVING_UNSUP;
	if (r->page != SCSI_MP_ALL && !mode_find(r->page))
		return scsi_fail_field(t, 2, 5);
	if (r->subpage != 0 && !(r->subpage == 0xFF && r->page == SCSI_MP_ALL))
		return scsi_fail_field(t, 3, 7);
	return SR_GOOD;
}

int scsi_exec_mode_sense(struct scsi_task *t)
{
	struct ms_req r;
	ms_decode(t->cdb, &r);
	int rc = ms_check(t, &r);
	if (rc != SR_GOOD)
		return rc;
	uint8_t *b = scsi_in_alloc(t, MODE_BUF_LEN);
	if (!b)
		return SR_PENDING;
	size_t hdr = r.ten ? SCSI_MODE10_HDR_LEN : SCSI_MODE6_HDR_LEN;
	size_t bdl = r.dbd ? 0 : block_desc(t->lu, r.llbaa, b + hdr);
	size_t n = hdr + bdl + ms_pages(t->lu, &r, b + hdr + bdl);
	uint8_t devspec = SCSI_MODE_DEVSPEC_DPOFUA |
			  (scsi_lu_write_protected(t->lu) ? SCSI_MODE_DEVSPEC_WP : 0);
	if (r.ten) {
		put_be16(b, (uint16_t)(n - 2));
		b[3] = devspec;
		b[4] = r.llbaa && bdl ? 0x01 : 0; /* LONGLBA */
		put_be16(b + 6, (uint16_t)bdl);
	} else {
		b[0] = (uint8_t)(n - 1);
		b[2] = devspec;
		b[3] = (uint8_t)bdl;
	}
	return scsi_in_done(t, n, r.alloc);
}

/* ---- MODE SELECT ---- */
/* Check one block descriptor: only the current block length is accepted. */
static int msel_block_desc(struct scsi_task *t, const uint8_t *p, size_t off, size_t bdl, bool lng)
{
	if (bdl == 0)
		return SR_GOOD;
	size_t want = lng ? SCSI_LBLOCK_DESC_LEN : SCSI_BLOCK_DESC_LEN;
	if (bdl != want)
		return scsi_fail_param(t, lng ? 6 : 3, 7);
	uint32_t bs = lng ? get_be32(p + off + 12) : get_be24(p + off + 5);
	return bs == t->lu->bs ? SR_GOOD : scsi_fail_param(t, (uint16_t)(off + (lng ? 12 : 5)), 7);
}

/* Validate one page at p[off..]; returns its length via *plen. */
static int msel_page(struct scsi_task *t, const uint8_t *p, size_t len, size_t off, size_t *plen)
{
	if (len - off < 2)
		return SR_PARAM_LIST_LENGTH;
	if (p[off] & 0x40)
		return scsi_fail_param(t, (uint16_t)off, 6); /* SPF: no subpages */
	const struct mode_page *mp = mode_find(p[off] & 0x3F);
	if (!mp)
		return scsi_fail_param(t, (uint16_t)off, 5);
	if ((size_t)p[off + 1] + 2 != mp->len)
		return scsi_fail_param(t, (uint16_t)(off + 1), 7);
	if (off + mp->len > len)
		return SR_PARAM_LIST_LENGTH;
	uint8_t cur[32] = { 0 }, chg[32] = { 0 };
	struct mode_vals v;
	mode_vals_get(t->lu, SCSI_MP_PC_CURRENT, &v);
	mp->build(&v, SCSI_MP_PC_CURRENT, cur);
	mp->build(&v, SCSI_MP_PC_CHANGEABLE, chg);
	for (size_t i = 2; i < mp->len; i++) {
		uint8_t bad = (uint8_t)((p[off + i] ^ cur[i]) & ~chg[i]);
		if (bad)
			return scsi_fail_param(t, (uint16_t)(off + i), 31 - __builtin_clz(bad));
	}
	*plen = mp->len;
	return SR_GOOD;
}

static bool msel_apply_page(struct scsi_lu *lu, const uint8_t *pg)
{
	bool old, changed = false;
	switch (pg[0] & 0x3F) {
	case SCSI_MP_CACHING:
		old = atomic_exchange(&lu->wce, (pg[2] & SCSI_MP_CACHING_WCE) != 0);
		changed = old != ((pg[2] & SCSI_MP_CACHING_WCE) != 0);
		break;
	case SCSI_MP_CONTROL:
		old = atomic_exchange(&lu->d_sense, (pg[2] & SCSI_MP_CONTROL_DSENSE) != 0);
		changed = old != ((pg[2] & SCSI_MP_CONTROL_DSENSE) != 0);
		old = atomic_exchange(&lu->swp, (pg[4] & SCSI_MP_CONTROL_SWP) != 0);
		changed |= old != ((pg[4] & SCSI_MP_CONTROL_SWP) != 0);
		break;
	default: break;
	}
	return changed;
}

static int msel_params(struct scsi_task *t, const uint8_t *p, size_t len, bool ten)
{
	size_t hdr = ten ? SCSI_MODE10_HDR_LEN : SCSI_MODE6_HDR_LEN;
	if (len < hdr)
		return SR_PARAM_LIST_LENGTH;
	size_t bdl = ten ? get_be16(p + 6) : p[3];
	bool lng = ten && (p[4] & 0x01);
	if (hdr + bdl > len)
		return SR_PARAM_LIST_LENGTH;
	int r = msel_block_desc(t, p, hdr, bdl, lng);
	for (size_t off = hdr + bdl, plen = 0; r == SR_GOOD && off < len; off += plen)
		r = msel_page(t, p, len, off, &plen);
	if (r != SR_GOOD)
		return r;
	bool changed = false;
	for (size_t off = hdr + bdl; off < len; off += (size_t)p[off + 1] + 2)
		changed |= msel_apply_page(t->lu, p + off);
	if (changed)
		scsi_lu_raise_ua(t->lu, SCSI_UA_MODE_CHANGED, t->itn);
	return SR_GOOD;
}

int scsi_exec_mode_select(struct scsi_task *t)
{
	bool ten = t->cdb[0] == SCSI_OP_MODE_SELECT10;
	uint32_t plen = ten ? get_be16(t->cdb + 7) : t->cdb[4];
	if (!(t->cdb[1] & 0x10))
		return scsi_fail_field(t, 1, 4); /* PF = 0: vendor pages not supported */
	if (t->cdb[1] & 0x01)
		return scsi_fail_field(t, 1, 0); /* SP: saving not supported */
	t->out_wanted = plen;
	if (plen == 0)
		return SR_GOOD;
	if (plen > MODE_SELECT_MAX)
		return SR_PARAM_LIST_LENGTH;
	uint8_t p[MODE_SELECT_MAX];
	size_t got = scsi_out_copy(t, 0, p, plen < t->out_len ? plen : t->out_len);
	return msel_params(t, p, got, ten);
}
