/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool metadata on disk: superblock, two checkpoint slots and the
 * journal ring (layout in lun_thin_internal.h). Everything is explicit
 * little-endian with a CRC32C over the encoded bytes.
 *
 * Checkpoint: the committed volume maps as runs (vchunk, pchunk, length), the
 * pool size, and the journal position/sequence to replay from. Refcounts and
 * the free map are not stored: open derives them from the maps, so a crash
 * can never leak a chunk on disk. A checkpoint goes to the older slot: body
 * first, fdatasync, then the 4 KiB slot header (which carries the body's CRC),
 * fdatasync. A torn body or header fails its CRC and open uses the other
 * slot. The journal is never allowed to overwrite what the older slot still
 * needs to replay (jlive), so either slot alone can rebuild the pool.
 *
 * Journal: each group commit is one block (4 KiB multiple) holding a header
 * (magic, version, sequence, record count, length, CRC over the whole block)
 * and 24-byte records. Blocks are written with pwrite + fdatasync from the
 * service thread only (it may block; no worker waits on it). Replay reads
 * blocks with consecutive sequence numbers from the checkpoint's position; a
 * block that does not fit at the ring's end is written at offset 0, so a
 * failed read retries at 0 before declaring the end; the first bad block is
 * the torn tail and is ignored.
 *
 * Not for: deciding what to record (lun_thin_pool.c) or the data path.
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/byteorder.h"
#include "common/log.h"
#include <errno.h>
#include <isa-l/crc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_PIECE ((size_t)1 << 30)

uint32_t thin_crc(const void *buf, size_t len)
{
	uint32_t c = ~0u;
	const unsigned char *p = buf;
	while (len) {
		size_t n = len > IO_PIECE ? IO_PIECE : len;
		c = crc32_iscsi((unsigned char *)p, (int)n, c);
		p += n;
		len -= n;
	}
	return c;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int thin_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len > IO_PIECE ? IO_PIECE : len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads past the end of the file return zeros (a never-written area). */
int thin_pread(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len > IO_PIECE ? IO_PIECE : len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_fd(int fd)
{
	return fdatasync(fd) ? -errno : 0;
}

/* ---- superblock: written once at create ---- */

int thin_sb_write(struct lun_thin_pool *pool)
{
	uint8_t b[THIN_SECTOR] = { 0 };
	put_le64(b, THIN_SB_MAGIC);
	put_le32(b + 8, THIN_VERSION);
	put_le32(b + 12, pool->chunk_size);
	put_le64(b + 16, THIN_JOURNAL_OFF);
	put_le64(b + 24, pool->jsize);
	put_le64(b + 32, THIN_SLOT0_OFF);
	put_le64(b + 40, THIN_SLOT0_OFF + THIN_SECTOR);
	put_le32(b + 48, thin_crc(b, 48));
	int r = thin_pwrite(pool->fd, b, sizeof(b), 0);
	return r ? r : sync_fd(pool->fd);
}

int thin_sb_read(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	uint8_t b[THIN_SECTOR];
	int r = thin_pread(pool->fd, b, sizeof(b), 0);
	if (r < 0) {
		snprintf(err, errlen, "cannot read superblock: %s", strerror(-r));
		return r;
	}
	if (get_le64(b) != THIN_SB_MAGIC || get_le32(b + 8) != THIN_VERSION ||
	    get_le32(b + 48) != thin_crc(b, 48)) {
		snprintf(
			err, errlen,
			"not a kura thin pool metadata file (bad superblock magic, version or checksum)");
		return -EINVAL;
	}
	uint32_t cs = get_le32(b + 12);
	uint64_t js = get_le64(b + 24);
	if (cs < LUN_THIN_CHUNK_MIN || cs > LUN_THIN_CHUNK_MAX || (cs & (cs - 1)) ||
	    js < THIN_JOURNAL_MIN || js % THIN_SECTOR || get_le64(b + 16) != THIN_JOURNAL_OFF ||
	    get_le64(b + 32) != THIN_SLOT0_OFF) {
		snprintf(err, errlen, "superblock geometry invalid");
		return -EINVAL;
	}
	pool->chunk_size = cs;
	pool->chunk_shift = (uint32_t)__builtin_ctz(cs);
	pool->jsize = js;
	return 0;
}

/* ---- checkpoint body encoding ---- */

struct dbuf {
	uint8_t *p;
	size_t len, cap;
};

static uint8_t *dbuf_grow(struct dbuf *d, size_t n)
{
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 65536;
		while (cap < d->len + n)
			cap *= 2;
		uint8_t *p = realloc(d->p, cap);
		if (!p)
			return NULL;
		d->p = p;
		d->cap = cap;
	}
	uint8_t *at = d->p + d->len;
	d->len += n;
	return at;
}

struct run {
	uint64_t v, n;
	uint32_t p;
};

static int run_emit(struct dbuf *d, const struct run *r, uint64_t *nruns)
{
	uint8_t *b = dbuf_grow(d, THIN_RUN);
	if (!b)
		return -ENOMEM;
	put_le64(b, r->v);
	put_le32(b + 8, r->p);
	put_le32(b + 12, (uint32_t)r->n);
	(*nruns)++;
	return 0;
}

/* Extend run with (vc -> p), or emit it and start a new one. */
static int run_add(struct dbuf *d, struct run *r, uint64_t vc, uint32_t p, uint64_t *nruns)
{
	if (r->n && r->v + r->n == vc && r->p + r->n == p && r->n < UINT32_MAX) {
		r->n++;
		return 0;
	}
	int e = r->n ? run_emit(d, r, nruns) : 0;
	*r = (struct run){ .v = vc, .p = p, .n = 1 };
	return e;
}

static int vol_encode(struct dbuf *d, const struct thin_vol *v)
{
	size_t at = d->len;
	if (!dbuf_grow(d, THIN_VOL_DESC))
		return -ENOMEM;
	uint64_t nruns = 0;
	struct run r = { 0 };
	for (uint64_t li = 0; li < v->nleaves; li++) {
		const uint32_t *leaf = v->leaves[li];
		for (uint32_t i = 0; leaf && i < THIN_LEAF_N; i++) {
			uint32_t e = leaf[i] & ~THIN_PENDING;
			if (e && run_add(d, &r, (li << THIN_LEAF_SHIFT) + i, e - 1, &nruns))
				return -ENOMEM;
		}
	}
	if (r.n && run_emit(d, &r, &nruns))
		return -ENOMEM;
	uint8_t *b = d->p + at;
	put_le32(b, v->id);
	put_le32(b + 4, v->flags);
	put_le64(b + 8, v->size);
	put_le64(b + 16, nruns);
	return 0;
}

/* Lock held: the committed state as a body for generation gen. */
static int body_encode(struct lun_thin_pool *pool, struct dbuf *d, uint64_t gen)
{
	uint8_t *b = dbuf_grow(d, THIN_BODY_HDR);
	if (!b)
		return -ENOMEM;
	memset(b, 0, THIN_BODY_HDR);
	put_le32(b, THIN_BODY_MAGIC);
	put_le32(b + 4, THIN_VERSION);
	put_le64(b + 8, gen);
	put_le64(b + 16, pool->jseq);
	put_le64(b + 24, pool->jpos);
	put_le64(b + 32, pool->nr_chunks);
	put_le32(b + 40, pool->nvols);
	for (uint32_t i = 0; i < pool->nvols; i++) {
		int r = vol_encode(d, pool->vols[i]);
		if (r)
			return r;
	}
	return 0;
}

static void slot_encode(uint8_t *b, uint64_t gen, uint64_t off, uint64_t cap, uint64_t len,
			uint32_t crc)
{
	memset(b, 0, THIN_SECTOR);
	put_le32(b, THIN_SLOT_MAGIC);
	put_le32(b + 4, THIN_VERSION);
	put_le64(b + 8, gen);
	put_le64(b + 16, off);
	put_le64(b + 24, cap);
	put_le64(b + 32, len);
	put_le32(b + 40, crc);
	put_le32(b + 44, thin_crc(b, 44));
}

/* Where slot s's body of len bytes goes: its old area if big enough, else a
 * new area at the end of the file (with room to grow). */
static void body_place(struct lun_thin_pool *pool, int s, uint64_t len)
{
	if (len <= pool->body_cap[s])
		return;
	uint64_t end = THIN_JOURNAL_OFF + pool->jsize;
	for (int i = 0; i < 2; i++)
		if (pool->body_off[i] + pool->body_cap[i] > end)
			end = pool->body_off[i] + pool->body_cap[i];
	pool->body_off[s] = round_up(end, THIN_SECTOR);
	pool->body_cap[s] = round_up(len + len / 2, THIN_SECTOR);
}

static int ck_write(struct lun_thin_pool *pool, int s, uint64_t gen, const struct dbuf *d)
{
	body_place(pool, s, d->len);
	int r = thin_pwrite(pool->fd, d->p, d->len, pool->body_off[s]);
	if (!r)
		r = sync_fd(pool->fd);
	if (r)
		return r;
	uint8_t hdr[THIN_SECTOR];
	slot_encode(hdr, gen, pool->body_off[s], pool->body_cap[s], d->len, thin_crc(d->p, d->len));
	r = thin_pwrite(pool->fd, hdr, sizeof(hdr), THIN_SLOT0_OFF + (uint64_t)s * THIN_SECTOR);
	return r ? r : sync_fd(pool->fd);
}

/* Service thread (or single-threaded open/create). */
int thin_checkpoint(struct lun_thin_pool *pool)
{
	struct dbuf d = { 0 };
	uint64_t gen = pool->ck_gen + 1;
	int s = pool->ck_slot ^ 1;
	pthread_mutex_lock(&pool->lock);
	int r = body_encode(pool, &d, gen);
	pthread_mutex_unlock(&pool->lock);
	if (!r)
		r = ck_write(pool, s, gen, &d);
	free(d.p);
	if (r) {
		kerr("thin pool: checkpoint failed: %s", strerror(-r));
		return r;
	}
	pool->ck_gen = gen;
	pool->ck_slot = s;
	pool->jlive = pool->jused;
	pool->jused = 0;
	return 0;
}

/* ---- checkpoint loading ---- */

struct slot_info {
	uint64_t gen, off, cap, len;
	uint32_t crc;
	uint8_t *body;
	const char *why; /* reason the slot is unusable */
};

static void slot_read(struct lun_thin_pool *pool, int s, struct slot_info *si)
{
	uint8_t b[THIN_SECTOR];
	memset(si, 0, sizeof(*si));
	if (thin_pread(pool->fd, b, sizeof(b), THIN_SLOT0_OFF + (uint64_t)s * THIN_SECTOR) < 0) {
		si->why = "read error";
		return;
	}
	if (get_le32(b) != THIN_SLOT_MAGIC || get_le32(b + 4) != THIN_VERSION ||
	    get_le32(b + 44) != thin_crc(b, 44)) {
		si->why = "header magic/version/checksum bad";
		return;
	}
	si->gen = get_le64(b + 8);
	si->off = get_le64(b + 16);
	si->cap = get_le64(b + 24);
	si->len = get_le64(b + 32);
	si->crc = get_le32(b + 40);
	if (si->len < THIN_BODY_HDR || si->len > si->cap || si->len > ((uint64_t)1 << 36) ||
	    !(si->body = malloc(si->len))) {
		si->why = "body length invalid";
		return;
	}
	if (thin_pread(pool->fd, si->body, si->len, si->off) < 0 ||
	    thin_crc(si->body, si->len) != si->crc || get_le32(si->body) != THIN_BODY_MAGIC ||
	    get_le64(si->body + 8) != si->gen) {
		si->why = "body checksum or generation bad";
		free(si->body);
		si->body = NULL;
	}
}

static struct thin_vol *vol_add(struct lun_thin_pool *pool, uint32_t id, uint32_t flags,
				uint64_t size)
{
	struct thin_rec r = { .type = THIN_R_VOL_CREATE,
			      .vol = id,
			      .a = size,
			      .flags = (uint8_t)flags };
	return thin_apply(pool, &r, false) ? NULL : thin_vol_find(pool, id);
}

static int runs_decode(struct lun_thin_pool *pool, struct thin_vol *v, const uint8_t *b,
		       uint64_t nruns)
{
	for (uint64_t i = 0; i < nruns; i++, b += THIN_RUN) {
		uint64_t vs = get_le64(b), n = get_le32(b + 12);
		uint32_t ps = get_le32(b + 8);
		if (vs > v->nvchunks || n > v->nvchunks - vs || ps > pool->nr_chunks ||
		    n > pool->nr_chunks - ps)
			return -EINVAL;
		for (uint64_t k = 0; k < n; k++) {
			uint32_t *slot = thin_map_slot(v, vs + k, true);
			if (!slot)
				return -ENOMEM;
			*slot = (uint32_t)(ps + k + 1);
		}
	}
	return 0;
}

static int body_decode(struct lun_thin_pool *pool, const uint8_t *b, uint64_t len)
{
	pool->jseq = get_le64(b + 16);
	pool->jpos = get_le64(b + 24);
	uint64_t chunks = get_le64(b + 32);
	uint32_t nvol = get_le32(b + 40);
	if (pool->jpos >= pool->jsize || pool->jpos % THIN_SECTOR || chunks > THIN_MAX_CHUNKS)
		return -EINVAL;
	int r = thin_chunks_resize(pool, chunks);
	uint64_t at = THIN_BODY_HDR;
	for (uint32_t i = 0; !r && i < nvol; i++) {
		if (len - at < THIN_VOL_DESC)
			return -EINVAL;
		const uint8_t *d = b + at;
		uint64_t nruns = get_le64(d + 16);
		at += THIN_VOL_DESC;
		if (nruns > (len - at) / THIN_RUN)
			return -EINVAL;
		struct thin_vol *v = vol_add(pool, get_le32(d), get_le32(d + 4), get_le64(d + 8));
		r = v ? runs_decode(pool, v, b + at, nruns) : -EINVAL;
		at += nruns * THIN_RUN;
	}
	return r;
}

/* ---- journal ---- */

uint64_t thin_journal_block_len(unsigned nrec)
{
	return round_up(THIN_JHDR + (uint64_t)nrec * THIN_REC, THIN_SECTOR);
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

static uint8_t *jblock_encode(const struct lun_thin_pool *pool, const struct thin_rec *recs,
			      unsigned n, uint64_t len)
{
	uint8_t *b = calloc(1, len);
	if (!b)
		return NULL;
	put_le32(b, THIN_JBLK_MAGIC);
	put_le32(b + 4, THIN_VERSION);
	put_le64(b + 8, pool->jseq);
	put_le32(b + 16, n);
	put_le32(b + 20, (uint32_t)len);
	for (unsigned i = 0; i < n; i++)
		rec_put(b + THIN_JHDR + (size_t)i * THIN_REC, &recs[i]);
	put_le32(b + 24, thin_crc(b, len));
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

/* Service thread: encode recs as the next journal block and make room for
 * it (checkpointing if the ring is short); nothing is written yet. */
int thin_journal_prepare(struct lun_thin_pool *pool, const struct thin_rec *recs, unsigned n,
			 struct thin_jblock *jb)
{
	jb->len = thin_journal_block_len(n);
	if (jb->len > pool->jsize / 4)
		return -E2BIG;
	int r = jroom(pool, jb->len);
	if (r)
		return r;
	jb->waste = jwaste(pool, jb->len);
	jb->pos = jb->waste ? 0 : pool->jpos;
	jb->buf = jblock_encode(pool, recs, n, jb->len);
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
		r = sync_fd(pool->fd);
	if (r) {
		free(jb.buf);
		return r;
	}
	thin_journal_advance(pool, &jb);
	return 0;
}

/* The block with sequence seq at ring offset pos, or NULL (end of log). */
static uint8_t *jblock_read(struct lun_thin_pool *pool, uint64_t pos, uint64_t seq, uint64_t *len)
{
	uint8_t h[THIN_JHDR];
	if (thin_pread(pool->fd, h, sizeof(h), THIN_JOURNAL_OFF + pos) < 0 ||
	    get_le32(h) != THIN_JBLK_MAGIC || get_le32(h + 4) != THIN_VERSION ||
	    get_le64(h + 8) != seq)
		return NULL;
	*len = get_le32(h + 20);
	uint64_t nrec = get_le32(h + 16);
	if (*len % THIN_SECTOR || *len == 0 || *len > pool->jsize - pos ||
	    THIN_JHDR + nrec * THIN_REC > *len)
		return NULL;
	uint8_t *b = malloc(*len);
	if (!b)
		return NULL;
	uint32_t crc = get_le32(h + 24);
	if (thin_pread(pool->fd, b, *len, THIN_JOURNAL_OFF + pos) == 0) {
		put_le32(b + 24, 0);
		if (thin_crc(b, *len) == crc)
			return b;
	}
	free(b);
	return NULL;
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

static int replay(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	uint64_t used = 0, len = 0;
	for (;;) {
		uint8_t *b = jblock_read(pool, pool->jpos, pool->jseq, &len);
		if (!b && pool->jpos != 0 && (b = jblock_read(pool, 0, pool->jseq, &len))) {
			used += pool->jsize - pool->jpos;
			pool->jpos = 0;
		}
		if (!b)
			break;
		int r = jblock_apply(pool, b, err, errlen);
		free(b);
		if (r)
			return r;
		pool->jpos = (pool->jpos + len) % pool->jsize;
		pool->jseq++;
		used += len;
	}
	pool->jused = pool->jlive = used;
	return 0;
}

static int pick_slot(struct lun_thin_pool *pool, struct slot_info si[2], char *err, size_t errlen)
{
	for (int s = 0; s < 2; s++)
		slot_read(pool, s, &si[s]);
	int best = -1;
	for (int s = 0; s < 2; s++)
		if (si[s].body && (best < 0 || si[s].gen > si[best].gen))
			best = s;
	if (best < 0) {
		snprintf(err, errlen,
			 "both metadata checkpoint slots are unusable (slot 0: %s; slot 1: %s); "
			 "refusing to open the pool rather than present it empty",
			 si[0].why, si[1].why);
		return -EUCLEAN;
	}
	if (!si[best ^ 1].body)
		kwarn("thin pool: checkpoint slot %d unusable (%s); using slot %d (generation %llu)",
		      best ^ 1, si[best ^ 1].why, best, (unsigned long long)si[best].gen);
	return best;
}

/* Open: newest valid checkpoint, then the journal after it. */
int thin_load(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	struct slot_info si[2];
	int best = pick_slot(pool, si, err, errlen);
	if (best < 0)
		return best;
	for (int s = 0; s < 2; s++) {
		pool->body_off[s] = si[s].body ? si[s].off : 0;
		pool->body_cap[s] = si[s].body ? si[s].cap : 0;
	}
	pool->ck_gen = si[best].gen;
	pool->ck_slot = best;
	int r = body_decode(pool, si[best].body, si[best].len);
	free(si[0].body);
	free(si[1].body);
	if (r) {
		snprintf(err, errlen, "checkpoint generation %llu does not decode: %s",
			 (unsigned long long)pool->ck_gen, strerror(-r));
		return r;
	}
	r = replay(pool, err, errlen);
	if (r)
		return r;
	r = thin_rebuild_refs(pool);
	if (r)
		snprintf(err, errlen, "metadata maps a chunk outside the pool");
	return r;
}
