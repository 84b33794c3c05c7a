/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for RAID metadata: the superblock record decoder and
 * the array assembly that reads every member's two copies, picks the
 * reference, places members by role, merges the write-intent bitmaps and
 * plans the resync.
 *
 * Input byte 0 = flags:
 *   bit 0  clear: the rest is one superblock record for raid_sb_decode
 *          (at least 4 KiB: shorter input is zero-padded); what decodes
 *          must encode and decode to the same record.
 *          set: assembly. Byte 1 % 4 + 1 members, then for each member
 *          and each of its two copies "length (2 bytes LE), bytes", the
 *          copy's first bytes (the rest is zero); the members are 2 MiB
 *          memory backends, assembled with lun_raid_assemble and closed.
 *   bit 1  fix up the CRC (at the record's declared length - 4) of every
 *          record or copy whose magic and length look right, so that the
 *          fuzzer explores the fields behind it.
 * What must hold: no crash, leak or hang; an array that assembles fits its
 * members (each present member holds data_offset + data_size bytes) and
 * closes cleanly.
 *
 * Seeds: KURA_FUZZ_MKSEED=DIR ./fuzz_raid_sb writes the corpus
 * (tests/fuzz/corpus/fuzz_raid_sb) from arrays made by lun_raid_create on
 * files (raid5 of 3, raid1 of 2, raid6 of 4, raid10 of 4, a degraded raid5
 * and one with a damaged copy), and single records. The two
 * *_nregions_wrap_fixup inputs were edited from raid5_3 by hand: nregions
 * 2^32 - 1, whose bitmap length wrapped to 0 bytes in 32 bits, so the
 * record decoded and assembly sized its bitmap maps from it.
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/byteorder.h"
#include "common/log.h"
#include <errno.h>
#include <isa-l/crc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NMEM         4
#define MEMBER_BYTES ((uint64_t)2 << 20)
#define F_ASSEMBLE   1u
#define F_FIXUP      2u

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t rlen = get_le32(b + 12);
	if (len < 4096 || memcmp(b, "KURARAID", 8) || rlen < 4096 || rlen > len || rlen % 4096)
		return;
	put_le32(b + rlen - 4, crc32_iscsi(b, (int)rlen - 4, 0xffffffffu));
}

/* ---- one record ---- */

static void one_record(const uint8_t *in, size_t n, bool fix)
{
	size_t len = n < 4096 ? 4096 : n;
	uint8_t *b = calloc(1, len);
	struct raid_sb *a = malloc(sizeof(*a)), *c = malloc(sizeof(*c));
	memcpy(b, in, n);
	if (fix)
		fix_crc(b, len);
	if (raid_sb_decode(b, len, a) == 0) {
		size_t elen = raid_sb_len(a->nregions);
		uint8_t *e = malloc(elen);
		raid_sb_encode(a, e);
		if (elen > RAID_SB_SLOT || raid_sb_decode(e, elen, c) || memcmp(a, c, sizeof(*a)))
			abort();
		free(e);
	}
	free(b);
	free(a);
	free(c);
}

/* ---- assembly ---- */

struct members {
	uint8_t *img[NMEM]; /* each member's two superblock copies */
	int n;
};

static int mem_open(void *ctx, const char *path, struct lun_backend **out, char *err, size_t errlen)
{
	struct members *m = ctx;
	int i = path[1] - '0';
	struct lun_backend_params p = { .type = "memory", .size = MEMBER_BYTES, .block_size = 512 };
	int r = lun_backend_open(&p, out, err, errlen);
	if (!r && (r = raid_sync_io(*out, LUN_OP_WRITE, 0, 0, m->img[i], 2 * RAID_SB_SLOT))) {
		lun_backend_close(*out);
		snprintf(err, errlen, "write: %d", r);
	}
	return r;
}

/* Copy c of each member from "length, bytes"; returns the input left. */
static size_t take_copies(struct members *m, const uint8_t *in, size_t n, bool fix)
{
	size_t at = 0;
	for (int i = 0; i < m->n; i++) {
		m->img[i] = calloc(2, RAID_SB_SLOT);
		for (int c = 0; c < 2; c++) {
			size_t len = at + 2 <= n ? (size_t)(in[at] | in[at + 1] << 8) : 0;
			at = at + 2 <= n ? at + 2 : n;
			len = len > n - at ? n - at : len > RAID_SB_SLOT ? RAID_SB_SLOT : len;
			uint8_t *dst = m->img[i] + c * RAID_SB_SLOT;
			memcpy(dst, in + at, len);
			at += len;
			if (fix)
				fix_crc(dst, RAID_SB_SLOT);
		}
	}
	return n - at;
}

static void assemble(const uint8_t *in, size_t n, bool fix)
{
	if (n < 1)
		return;
	struct members m = { .n = in[0] % NMEM + 1 };
	take_copies(&m, in + 1, n - 1, fix);
	static const char *const paths[NMEM] = { "m0", "m1", "m2", "m3" };
	struct kloop *l = kloop_new(64);
	struct lun_raid_params p = { .paths = paths,
				     .npaths = m.n,
				     .loop = l,
				     .open_member = mem_open,
				     .open_ctx = &m };
	struct lun_backend *be;
	char err[256] = "";
	if (lun_raid_assemble(&p, &be, err, sizeof(err)) == 0) {
		struct raid *r = be->priv;
		for (int i = 0; i < r->n; i++)
			if (r->m[i].be &&
			    r->m[i].be->size < r->data_offset + (r->rows << r->chunk_shift))
				abort();
		lun_backend_close(be);
	} else if (!err[0]) {
		abort(); /* a refusal says why */
	}
	kloop_free(l);
	for (int i = 0; i < m.n; i++)
		free(m.img[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	if (n < 1)
		return 0;
	if (in[0] & F_ASSEMBLE)
		assemble(in + 1, n - 1, in[0] & F_FIXUP);
	else
		one_record(in + 1, n - 1, in[0] & F_FIXUP);
	return 0;
}

/* ---- seeds, written by lun_raid_create on files ---- */

static char sdir[64];
static char spath[NMEM][96];

static void seed_file(const char *dir, const char *name, uint8_t flags, const uint8_t *body,
		      size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputc(flags, f);
	fwrite(body, 1, len, f);
	fclose(f);
}

/* Append "length, bytes" for a member copy (trailing zeros trimmed). */
static size_t put_copy(uint8_t *out, const uint8_t *copy)
{
	size_t len = RAID_SB_SLOT;
	while (len && !copy[len - 1])
		len--;
	out[0] = (uint8_t)len;
	out[1] = (uint8_t)(len >> 8);
	memcpy(out + 2, copy, len);
	return len + 2;
}

static uint8_t *read_member(int i)
{
	uint8_t *b = malloc(2 * RAID_SB_SLOT);
	FILE *f = fopen(spath[i], "r");
	if (!f || fread(b, 1, 2 * RAID_SB_SLOT, f) != 2 * RAID_SB_SLOT)
		abort();
	fclose(f);
	return b;
}

/* An array of level over n member files, closed; every member's copies as
 * an assembly input of the first `give` members (flip: damage copy 0 of
 * member 0). Also member 0's copy 0 as a single record. */
static void seed_array(const char *dir, const char *name, int level, int n, int give, bool flip)
{
	const char *paths[NMEM];
	for (int i = 0; i < n; i++) {
		unlink(spath[i]);
		paths[i] = spath[i];
	}
	struct kloop *l = kloop_new(64);
	struct lun_raid_params p = { .level = level,
				     .paths = paths,
				     .npaths = n,
				     .loop = l,
				     .member_size = MEMBER_BYTES,
				     .region_mib = 1 };
	struct lun_backend *be;
	char err[256];
	if (lun_raid_create(&p, &be, err, sizeof(err)))
		abort();
	lun_backend_close(be);
	kloop_free(l);
	uint8_t *in = malloc(NMEM * 2 * (RAID_SB_SLOT + 2) + 1), *at = in;
	*at++ = (uint8_t)(give - 1);
	for (int i = 0; i < give; i++) {
		uint8_t *b = read_member(i);
		if (flip && i == 0)
			b[100] ^= 1;
		for (int c = 0; c < 2; c++)
			at += put_copy(at, b + c * RAID_SB_SLOT);
		if (i == 0) {
			char rn[128];
			snprintf(rn, sizeof(rn), "%s_record", name);
			seed_file(dir, rn, 0, b + RAID_SB_SLOT, 4096);
		}
		free(b);
	}
	seed_file(dir, name, F_ASSEMBLE, in, (size_t)(at - in));
	free(in);
}

static void mkseed(const char *dir)
{
	strcpy(sdir, "/tmp/kura-fuzz-raid-XXXXXX");
	if (!mkdtemp(sdir))
		abort();
	for (int i = 0; i < NMEM; i++)
		snprintf(spath[i], sizeof(spath[i]), "%s/m%d", sdir, i);
	seed_array(dir, "raid5_3", 5, 3, 3, false);
	seed_array(dir, "raid5_3_degraded", 5, 3, 2, false);
	seed_array(dir, "raid5_3_copy_damaged", 5, 3, 3, true);
	seed_array(dir, "raid1_2", 1, 2, 2, false);
	seed_array(dir, "raid6_4", 6, 4, 4, false);
	seed_array(dir, "raid10_4", 10, 4, 4, false);
	for (int i = 0; i < NMEM; i++)
		unlink(spath[i]);
	rmdir(sdir);
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* stale members and damage are logged by design: silence */
	klog_set_level((enum klog_level)(KLOG_ERR - 1));
	const char *seed_dir = getenv("KURA_FUZZ_MKSEED");
	if (seed_dir)
		mkseed(seed_dir);
	return 0;
}
