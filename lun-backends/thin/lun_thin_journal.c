/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool journal: encoding, ring space, and replay at open, with the
 * redundancy that keeps one damaged block from losing acknowledged work.
 *
 * Each group commit is one block (4 KiB multiple): a header (magic,
 * format version, sequence number, record count, copy length, CRC32C over
 * the whole copy) and 24-byte records. Format 2 writes every block twice,
 * back to back, in one write: [copy A][copy B], B exactly `len` bytes after
 * A (its header says so, which is how replay finds B when A's header is the
 * damaged part). Format 1 pools (before 2026-12) have one copy; open
 * converts them (lun_thin_meta.c).
 *
 * Replay reads blocks with consecutive sequence numbers from the
 * checkpoint's position (a block that does not fit at the ring's end is
 * written at offset 0, so a miss retries at 0). A block is taken from copy
 * A, or from copy B if A fails its checks. Where neither copy is valid the
 * log ends there, and replay tells the two reasons apart:
 *
 *   torn tail  the block was being written when the process died; it was
 *              never acknowledged and nothing was written after it (the
 *              service thread writes block n+1 only once n is durable), so
 *              no valid block with a higher sequence exists in the ring;
 *   damage     a valid block with a higher sequence exists: acknowledged
 *              work follows the hole. Open refuses, naming the block and
 *              what follows it, unless the caller asked to salvage
 *              (kura-thin-check --repair): then the later blocks are dropped
 *              loudly and the sequence moves past them.
 *
 * A damaged copy A that is not the last block is counted as repaired damage
 * (the open rewrites everything: lun_thin_meta.c); a bad A on the last block
 * is a torn tail whose B made it, which is not damage.
 *
 * Not for: checkpoints and the superblock (lun_thin_meta.c), deciding what to
 * record (lun_thin_pool.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/byteorder.h"
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_PIECE ((uint64_t)1 << 20)

static uint64_t jround_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static unsigned copies(const struct lun_thin_pool *pool)
{
	return pool->fmt >= THIN_FMT ? 2 : 1;
}

/* Bytes of one copy of a block of nrec records. */
uint64_t thin_journal_block_len(unsigned nrec)
{
	return jround_up(THIN_JHDR + (uint64_t)nrec * THIN_REC, THIN_SECTOR);
}

static void rec_put(uint8_t *b, const struct thin_rec *r)
{
	b[0] = r->type;
	b[1] = r->flags;
	b[2] = b[3] = 0;
	put_le32(b + 4, r->vol);
	put_le64(b + 8, r->a);
	put_le64(b + 16, r->b);
}

static void rec_get(const uint8_t *b, struct thin_rec *r)
{
	*r = (struct thin_rec){ .type = b[0],
				.flags = b[1],
				.vol = get_le32(b + 4),
				.a = get_le64(b + 8),
				.b = get_le64(b + 16) };
}

/* Every copy of the block, back to back (ncopy * len bytes). */
static uint8_t *jblock_encode(const struct lun_thin_pool *pool, const struct thin_rec *recs,
			      unsigned n, uint64_t len)
{
	unsigned nc = copies(pool);
	uint8_t *b = calloc(nc, len);
	if (!b)
		return NULL;
	put_le32(b, THIN_JBLK_MAGIC);
	put_le32(b + 4, pool->fmt);
	put_le64(b + 8, pool->jseq);
	put_le32(b + 16, n);
	put_le32(b + 20, (uint32_t)len);
	for (unsigned i = 0; i < n; i++)
		rec_put(b + THIN_JHDR + (size_t)i * THIN_REC, &recs[i]);
	put_le32(b + 24, thin_crc(b, len));
	for (unsigned c = 1; c < nc; c++)
		memcpy(b + c * len, b, len);
	return b;
}

/* Bytes skipped at the ring's end if a block of len is written next. */
static uint64_t jwaste(const struct lun_thin_pool *pool, uint64_t len)
{
	return pool->jpos + len > pool->jsize ? pool->jsize - pool->jpos : 0;
}

static int jroom(struct lun_thin_pool *pool, uint64_t len)
{
	for (int i = 0; i < 2; i++) {
		if (pool->jlive + jwaste(pool, len) + len + THIN_SECTOR <= pool->jsize)
			return 0;
		int r = thin_checkpoint(pool);
		if (r)
			return r;
	}
	return -ENOSPC;
}

/* Service thread: encode recs as the next journal block (all its copies:
 * jb->len is their total) and make room for it (checkpointing if the ring
 * is short); nothing is written yet. */
int thin_journal_prepare(struct lun_thin_pool *pool, const struct thin_rec *recs, unsigned n,
			 struct thin_jblock *jb)
{
	uint64_t one = thin_journal_block_len(n);
	jb->len = one * copies(pool);
	if (jb->len > pool->jsize / 4)
		return -E2BIG;
	int r = jroom(pool, jb->len);
	if (r)
		return r;
	jb->waste = jwaste(pool, jb->len);
	jb->pos = jb->waste ? 0 : pool->jpos;
	jb->buf = jblock_encode(pool, recs, n, one);
	return jb->buf ? 0 : -ENOMEM;
}

/* The prepared block is durable: move the ring on. */
void thin_journal_advance(struct lun_thin_pool *pool, struct thin_jblock *jb)
{
	free(jb->buf);
	jb->buf = NULL;
	pool->jpos = (jb->pos + jb->len) % pool->jsize;
	pool->jseq++;
	pool->jused += jb->waste + jb->len;
	pool->jlive += jb->waste + jb->len;
}

/* Service thread: make recs durable as the next journal block (blocking). */
int thin_journal_append(struct lun_thin_pool *pool, const struct thin_rec *recs, unsigned n)
{
	struct thin_jblock jb;
	int r = thin_journal_prepare(pool, recs, n, &jb);
	if (r)
		return r;
	r = thin_pwrite(pool->fd, jb.buf, jb.len, THIN_JOURNAL_OFF + jb.pos);
	if (!r)
		r = fdatasync(pool->fd) ? -errno : 0;
	if (r) {
		free(jb.buf);
		return r;
	}
	thin_journal_advance(pool, &jb);
	return 0;
}

/* ---- reading ---- */

/* The copy length the header at h declares if it is a block of this
 * format with sequence seq (any seq if seq is 0) that fits in room bytes;
 * 0 if not. */
static uint64_t jhdr_len(const struct lun_thin_pool *pool, const uint8_t *h, uint64_t seq,
			 uint64_t room)
{
	if (get_le32(h) != THIN_JBLK_MAGIC || get_le32(h + 4) != pool->fmt ||
	    (seq && get_le64(h + 8) != seq))
		return 0;
	uint64_t len = get_le32(h + 20), nrec = get_le32(h + 16);
	if (len % THIN_SECTOR || len == 0 || len > room || THIN_JHDR + nrec * THIN_REC > len)
		return 0;
	return len;
}

static bool jcrc_ok(uint8_t *b, uint64_t len)
{
	uint32_t crc = get_le32(b + 24);
	put_le32(b + 24, 0);
	bool ok = thin_crc(b, len) == crc;
	put_le32(b + 24, crc);
	return ok;
}

/* Copy A of block seq at ring offset pos (malloc'ed), or NULL. */
static uint8_t *jcopy_a(struct lun_thin_pool *pool, uint64_t pos, uint64_t seq, uint64_t *len)
{
	uint8_t h[THIN_JHDR];
	uint64_t room = (pool->jsize - pos) / copies(pool) / THIN_SECTOR * THIN_SECTOR;
	if (thin_pread(pool->fd, h, sizeof(h), THIN_JOURNAL_OFF + pos) < 0 ||
	    !(*len = jhdr_len(pool, h, seq, room)))
		return NULL;
	uint8_t *b = malloc(*len);
	if (b && thin_pread(pool->fd, b, *len, THIN_JOURNAL_OFF + pos) == 0 && jcrc_ok(b, *len))
		return b;
	free(b);
	return NULL;
}

/* Copy B of block seq whose A is at pos: the first sector k * 4096 after
 * pos holding a valid block seq of length k * 4096. */
static uint8_t *jcopy_b(struct lun_thin_pool *pool, uint64_t pos, uint64_t seq, uint64_t *len)
{
	uint64_t win = pool->jsize - pos;
	if (win > pool->jsize / 4)
		win = pool->jsize / 4;
	uint8_t *w = malloc(win);
	if (!w || thin_pread(pool->fd, w, win, THIN_JOURNAL_OFF + pos) < 0) {
		free(w);
		return NULL;
	}
	for (uint64_t k = THIN_SECTOR; 2 * k <= win; k += THIN_SECTOR) {
		if (jhdr_len(pool, w + k, seq, k) == k && jcrc_ok(w + k, k)) {
			memmove(w, w + k, k);
			*len = k;
			return w;
		}
	}
	free(w);
	return NULL;
}

/* Block seq at pos from either copy; *second set if copy B was needed. */
static uint8_t *jblock_get(struct lun_thin_pool *pool, uint64_t pos, uint64_t seq, uint64_t *len,
			   bool *second)
{
	*second = false;
	uint8_t *b = jcopy_a(pool, pos, seq, len);
	if (b || copies(pool) < 2)
		return b;
	b = jcopy_b(pool, pos, seq, len);
	*second = b != NULL;
	return b;
}

static int jblock_apply(struct lun_thin_pool *pool, const uint8_t *b, char *err, size_t errlen)
{
	uint32_t n = get_le32(b + 16);
	for (uint32_t i = 0; i < n; i++) {
		struct thin_rec r;
		rec_get(b + THIN_JHDR + (size_t)i * THIN_REC, &r);
		int e = thin_apply(pool, &r, false);
		if (e) {
			snprintf(err, errlen,
				 "journal block %llu record %u (type %u, volume %u) invalid: %s",
				 (unsigned long long)pool->jseq, i, r.type, r.vol, strerror(-e));
			return e;
		}
	}
	return 0;
}

void thin_damage_note(struct lun_thin_pool *pool, const char *what)
{
	kwarn("thin pool: metadata damage: %s", what);
	if (!pool->dmg.repaired++)
		snprintf(pool->dmg.first, sizeof(pool->dmg.first), "%s", what);
}

/* ---- after the end of the log: torn tail or a hole? ---- */

struct jlater {
	uint64_t blocks, recs, max_seq, last_seq;
};

static void later_sector(struct lun_thin_pool *pool, const uint8_t *h, uint64_t off, uint64_t seq,
			 struct jlater *jl)
{
	uint64_t len = jhdr_len(pool, h, 0, pool->jsize - off);
	uint64_t s = get_le64(h + 8);
	if (!len || s <= seq || s == jl->last_seq)
		return;
	uint8_t *b = malloc(len);
	if (b && thin_pread(pool->fd, b, len, THIN_JOURNAL_OFF + off) == 0 && jcrc_ok(b, len)) {
		jl->blocks++;
		jl->recs += get_le32(b + 16);
		jl->last_seq = s;
		if (s > jl->max_seq)
			jl->max_seq = s;
	}
	free(b);
}

/* Valid blocks anywhere in the ring with a sequence above seq. */
static int jscan_later(struct lun_thin_pool *pool, uint64_t seq, struct jlater *jl)
{
	*jl = (struct jlater){ 0 };
	uint8_t *buf = malloc(SCAN_PIECE);
	if (!buf)
		return -ENOMEM;
	for (uint64_t at = 0; at < pool->jsize; at += SCAN_PIECE) {
		uint64_t n = pool->jsize - at < SCAN_PIECE ? pool->jsize - at : SCAN_PIECE;
		int r = thin_pread(pool->fd, buf, n, THIN_JOURNAL_OFF + at);
		for (uint64_t i = 0; !r && i < n; i += THIN_SECTOR)
			later_sector(pool, buf + i, at + i, seq, jl);
		if (r) {
			free(buf);
			return r;
		}
	}
	free(buf);
	return 0;
}

static int tail_check(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	struct jlater jl;
	int r = jscan_later(pool, pool->jseq, &jl);
	if (r || !jl.blocks)
		return r;
	char what[320];
	snprintf(what, sizeof(what),
		 "journal block %llu at ring offset %llu is damaged in every copy, and %llu "
		 "later acknowledged block(s) (sequence %llu..%llu, %llu records: chunk "
		 "mappings and volume changes) follow it",
		 (unsigned long long)pool->jseq, (unsigned long long)pool->jpos,
		 (unsigned long long)jl.blocks, (unsigned long long)pool->jseq + 1,
		 (unsigned long long)jl.max_seq, (unsigned long long)jl.recs);
	if (!pool->salvage) {
		snprintf(err, errlen,
			 "%s: refusing to open the pool rather than lose them silently "
			 "(kura-thin-check --repair opens it without them)",
			 what);
		return -EUCLEAN;
	}
	kerr("thin pool: %s: salvage: dropping them (and block %llu)", what,
	     (unsigned long long)pool->jseq);
	pool->dmg.lost_blocks = jl.blocks + 1;
	pool->dmg.lost_records = jl.recs;
	pool->jseq = jl.max_seq + 1; /* never mistake them for new blocks */
	thin_damage_note(pool, what);
	return 0;
}

/* Apply the journal from the checkpoint's position to the end of the log. */
int thin_replay(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	uint64_t used = 0, len = 0;
	char pend[160] = "";
	for (;;) {
		bool second;
		uint8_t *b = jblock_get(pool, pool->jpos, pool->jseq, &len, &second);
		if (!b && pool->jpos != 0 && (b = jblock_get(pool, 0, pool->jseq, &len, &second))) {
			used += pool->jsize - pool->jpos;
			pool->jpos = 0;
		}
		if (!b)
			break;
		if (pend[0])
			thin_damage_note(pool, pend);
		pend[0] = '\0';
		if (second)
			snprintf(pend, sizeof(pend),
				 "journal block %llu at ring offset %llu: first copy damaged, "
				 "second copy used",
				 (unsigned long long)pool->jseq, (unsigned long long)pool->jpos);
		int r = jblock_apply(pool, b, err, errlen);
		free(b);
		if (r)
			return r;
		pool->jpos = (pool->jpos + len * copies(pool)) % pool->jsize;
		pool->jseq++;
		used += len * copies(pool);
	}
	pool->jused = pool->jlive = used;
	pool->dmg.heal |= pend[0] != '\0'; /* torn tail or damage: rewrite it anyway */
	return tail_check(pool, err, errlen);
}
