/* SPDX-License-Identifier: Apache-2.0 */
/* PERSISTENT RESERVE IN data printed the way mpathpersist (multipath-tools
 * 0.9.x) prints it, so scripts that read mpathpersist's output read
 * kura-mpathpersist's: READ KEYS, READ RESERVATION, REPORT CAPABILITIES,
 * READ FULL STATUS, and the -H hex dump. Keys are printed in hex without
 * leading zeros ("0x123abc"). Lengths in the data are trusted only as far
 * as the data goes.
 *
 * Not for: talking to the daemon (mpathpersist_lu.c).
 */
#include "initiator/mpathpersist.h"
#include <ctype.h>
#include <inttypes.h>

static const char *const pr_type_names[16] = {
	"obsolete [0]",
	"Write Exclusive",
	"obsolete [2]",
	"Exclusive Access",
	"obsolete [4]",
	"Write Exclusive, registrants only",
	"Exclusive Access, registrants only",
	"Write Exclusive, all registrants",
	"Exclusive Access, all registrants",
	"obsolete [9]",
	"obsolete [0xa]",
	"obsolete [0xb]",
	"obsolete [0xc]",
	"obsolete [0xd]",
	"obsolete [0xe]",
	"obsolete [0xf]",
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* The additional length of a PR IN header, cut to the data received. */
static size_t body_len(const uint8_t *data, size_t len)
{
	if (len < 8)
		return 0;
	size_t n = get32(data + 4);
	return n > len - 8 ? len - 8 : n;
}

void mpp_print_keys(FILE *out, const uint8_t *data, size_t len)
{
	size_t num = body_len(data, len) / 8;
	fprintf(out, "  PR generation=0x%x, ", len >= 4 ? get32(data) : 0);
	if (num == 0) {
		fprintf(out, "\t0 registered reservation key.\n");
		return;
	}
	if (num == 1)
		fprintf(out, "\t1 registered reservation key follows:\n");
	else
		fprintf(out, "\t%zu registered reservation keys follow:\n", num);
	for (size_t i = 0; i < num; i++)
		fprintf(out, "    0x%" PRIx64 "\n", get64(data + 8 + 8 * i));
}

void mpp_print_resv(FILE *out, const uint8_t *data, size_t len)
{
	uint32_t gen = len >= 4 ? get32(data) : 0;
	if (body_len(data, len) < 16) {
		fprintf(out, "  PR generation=0x%x, there is NO reservation held \n", gen);
		return;
	}
	fprintf(out, "  PR generation=0x%x, Reservation follows:\n", gen);
	fprintf(out, "   Key = 0x%" PRIx64 "\n", get64(data + 8));
	int scope = data[21] >> 4, type = data[21] & 0x0f;
	if (scope == 0)
		fprintf(out, "  scope = LU_SCOPE, type = %s", pr_type_names[type]);
	else
		fprintf(out, "  scope = %d, type = %s", scope, pr_type_names[type]);
	fprintf(out, "\n");
}

void mpp_print_caps(FILE *out, FILE *err, const uint8_t *data, size_t len)
{
	if (len < 6 || ((size_t)data[0] << 8 | data[1]) <= 2) {
		fprintf(err, "Unexpected response for PRIN Report Capabilities\n");
		return;
	}
	uint8_t f0 = data[2], f1 = data[3];
	unsigned mask = (unsigned)data[4] | (unsigned)data[5] << 8;
	fprintf(out, "Report capabilities response:\n");
	fprintf(out, "  Compatible Reservation Handling(CRH): %d\n", !!(f0 & 0x10));
	fprintf(out, "  Specify Initiator Ports Capable(SIP_C): %d\n", !!(f0 & 0x8));
	fprintf(out, "  All Target Ports Capable(ATP_C): %d\n", !!(f0 & 0x4));
	fprintf(out, "  Persist Through Power Loss Capable(PTPL_C): %d\n", !!f0);
	fprintf(out, "  Type Mask Valid(TMV): %d\n", !!(f1 & 0x80));
	fprintf(out, "  Allow Commands: %d\n", !!((f1 >> 4) & 0x7));
	fprintf(out, "  Persist Through Power Loss Active(PTPL_A): %d\n", !!(f1 & 0x1));
	if (!(f1 & 0x80))
		return;
	/* SPC: byte 4 holds WR_EX_AR..WR_EX, byte 5 bit 0 EX_AC_AR. mpathpersist
	 * 0.9.4 tests these bits on a byte-swapped mask (so prints 0 for them);
	 * kura prints what the target reports, as 0 or 1 */
	static const struct {
		int type;
		unsigned bit;
	} rows[] = { { 7, 0x80 }, { 6, 0x40 }, { 5, 0x20 }, { 3, 0x8 }, { 1, 0x2 }, { 8, 0x100 } };
	fprintf(out, "    Support indicated in Type mask:\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(out, "      %s: %d\n", pr_type_names[rows[i].type], !!(mask & rows[i].bit));
}

static void print_tid(FILE *out, const uint8_t *t, size_t n)
{
	if (n < 4 || (t[0] & 0x0f) != 5)
		return; /* kura's targets speak iSCSI only; mpathpersist prints nothing for unknown ones */
	int fmt = (t[0] >> 6) & 3;
	size_t nl = (size_t)t[2] << 8 | t[3];
	if (nl > n - 4)
		nl = n - 4;
	fprintf(out, "   iSCSI ");
	if (fmt > 1) {
		fprintf(out, "  [Unexpected format code: %d]\n", fmt);
		mpp_print_hex(out, t + 4, nl);
		return;
	}
	fprintf(out, "%s", fmt == 0 ? "name: " : "world wide unique port id: ");
	for (size_t i = 0; i < nl && t[4 + i]; i++)
		fputc(isprint(t[4 + i]) ? t[4 + i] : '?', out); /* from the network */
	fputc('\n', out);
}

static size_t print_full_desc(FILE *out, const uint8_t *p, size_t left)
{
	size_t tl = get32(p + 20);
	if (tl > left - 24)
		tl = left - 24;
	fprintf(out, "   Key = 0x%" PRIx64 "\n", get64(p));
	if (p[12] & 0x02) {
		fprintf(out, "      All target ports bit set\n");
	} else {
		fprintf(out, "      All target ports bit clear\n");
		fprintf(out, "      Relative port address: 0x%x\n", (unsigned)p[18] << 8 | p[19]);
	}
	if (p[12] & 0x01) {
		fprintf(out, "      << Reservation holder >>\n");
		if ((p[13] >> 4) == 0)
			fprintf(out, "      scope: LU_SCOPE, ");
		else
			fprintf(out, "      scope: %d ", p[13] >> 4);
		fprintf(out, " type: %s\n", pr_type_names[p[13] & 0x0f]);
	} else {
		fprintf(out, "      not reservation holder\n");
	}
	print_tid(out, p + 24, tl);
	return 24 + tl;
}

void mpp_print_full(FILE *out, const uint8_t *data, size_t len)
{
	size_t n = body_len(data, len);
	fprintf(out, "  PR generation=0x%x \n", len >= 4 ? get32(data) : 0);
	for (size_t off = 0; off + 24 <= n;)
		off += print_full_desc(out, data + 8 + off, n - off);
}

void mpp_print_hex(FILE *out, const uint8_t *data, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		fprintf(out, " %02zx    ", off);
		for (size_t i = off; i < off + 16; i++) {
			if (i < len)
				fprintf(out, " %02x", data[i]);
			else
				fprintf(out, "   ");
			if (i == off + 7)
				fputc(' ', out);
		}
		fprintf(out, "    ");
		for (size_t i = off; i < off + 16 && i < len; i++)
			fputc(isprint(data[i]) ? data[i] : '.', out);
		fputc('\n', out);
	}
}
