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
 * The superblock has two copies (format 2): either one opens the pool.
 * Every checkpoint slot is a redundant copy of the other plus the journal
 * between them. Open rewrites what it had to recover (heal) and converts a
 * format 1 pool. The journal is in lun_thin_journal.c.
 *
 * Not for: deciding what to record (lun_thin_pool.c) or the data path.
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/byteorder.h"
#include "common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ---- superblock: written at create (and when converting a format 1 pool),
 * two copies (0 and 12 KiB); either one alone opens the pool ---- */

static void sb_encode(const struct lun_thin_pool *pool, uint8_t *b)
{
	memset(b, 0, THIN_SECTOR);
	put_le64(b, THIN_SB_MAGIC);
	put_le32(b + 8, pool->fmt);
	put_le32(b + 12, pool->chunk_size);
	put_le64(b + 16, THIN_JOURNAL_OFF);
	put_le64(b + 24, pool->jsize);
	put_le64(b + 32, THIN_SLOT0_OFF);
	put_le64(b + 40, THIN_SLOT0_OFF + THIN_SECTOR);
	put_le32(b + 48, thin_crc(b, 48));
}

int thin_sb_write(struct lun_thin_pool *pool)
{
	uint8_t b[THIN_SECTOR];
	if (!pool->fmt)
		pool->fmt = THIN_FMT; /* a new pool */
	sb_encode(pool, b);
	int r = thin_pwrite(pool->fd, b, sizeof(b), 0);
	if (!r && pool->fmt >= THIN_FMT)
		r = thin_pwrite(pool->fd, b, sizeof(b), THIN_SB_COPY_OFF);
	return r ? r : sync_fd(pool->fd);
}

/* The format version of a valid superblock copy, or 0. */
static uint32_t sb_valid(const uint8_t *b)
{
	uint32_t v = get_le32(b + 8);
	if (get_le64(b) != THIN_SB_MAGIC || (v != THIN_FMT_V1 && v != THIN_FMT) ||
	    get_le32(b + 48) != thin_crc(b, 48))
		return 0;
	uint32_t cs = get_le32(b + 12);
	uint64_t js = get_le64(b + 24);
	if (cs < LUN_THIN_CHUNK_MIN || cs > LUN_THIN_CHUNK_MAX || (cs & (cs - 1)) ||
	    js < THIN_JOURNAL_MIN || js % THIN_SECTOR || js > ((uint64_t)1 << 40) ||
	    get_le64(b + 16) != THIN_JOURNAL_OFF || get_le64(b + 32) != THIN_SLOT0_OFF)
		return 0;
	return v;
}

/* Both copies; which one is used (the higher format if both are valid: a
 * conversion to format 2 was cut short), and damage to note. */
static const uint8_t *sb_pick(struct lun_thin_pool *pool, const uint8_t *a, const uint8_t *c)
{
	uint32_t va = sb_valid(a), vc = sb_valid(c);
	if (!va && !vc)
		return NULL;
	if (va && vc)
		return vc > va ? c : a;
	if (vc) {
		thin_damage_note(pool, "superblock at offset 0 damaged; its copy at 12 KiB used");
		return c;
	}
	if (va >= THIN_FMT)
		thin_damage_note(pool, "superblock copy at 12 KiB damaged; the one at 0 used");
	return a;
}

int thin_sb_read(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	uint8_t a[THIN_SECTOR], c[THIN_SECTOR];
	int r = thin_pread(pool->fd, a, sizeof(a), 0);
	if (!r)
		r = thin_pread(pool->fd, c, sizeof(c), THIN_SB_COPY_OFF);
	if (r < 0) {
		snprintf(err, errlen, "cannot read superblock: %s", strerror(-r));
		return r;
	}
	const uint8_t *b = sb_pick(pool, a, c);
	if (!b) {
		snprintf(err, errlen,
			 "not a kura thin pool metadata file (no valid superblock at offset 0 or "
			 "12 KiB: bad magic, version, checksum or geometry)");
		return -EINVAL;
	}
	pool->fmt = get_le32(b + 8);
	pool->chunk_size = get_le32(b + 12);
	pool->chunk_shift = (uint32_t)__builtin_ctz(pool->chunk_size);
	pool->jsize = get_le64(b + 24);
	return 0;
}

int lun_thin_meta_probe(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t a[THIN_SECTOR], c[THIN_SECTOR];
	int r = thin_pread(fd, a, sizeof(a), 0);
	if (!r)
		r = thin_pread(fd, c, sizeof(c), THIN_SB_COPY_OFF);
	close(fd);
	return r < 0 ? r : sb_valid(a) || sb_valid(c);
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
	bool magic_ok;   /* the header's magic is right */
};

/* Where a checkpoint body must end: a body is durable before the header
 * that names it, so within a regular file's size (a 64 GiB malloc for a
 * corrupt length otherwise); no bound on other kinds of file. */
static uint64_t meta_end(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
}

static void slot_read(struct lun_thin_pool *pool, int s, struct slot_info *si)
{
	uint8_t b[THIN_SECTOR];
	memset(si, 0, sizeof(*si));
	if (thin_pread(pool->fd, b, sizeof(b), THIN_SLOT0_OFF + (uint64_t)s * THIN_SECTOR) < 0) {
		si->why = "read error";
		return;
	}
	si->magic_ok = get_le32(b) == THIN_SLOT_MAGIC;
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
	uint64_t end = meta_end(pool->fd);
	if (si->off > end || si->len > end - si->off) {
		si->why = "body beyond the end of the file";
		return;
	}
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

/* The other slot is unusable. Checkpoints rewrite the older slot, so a
 * crash mid-checkpoint leaves a torn body behind an older header, or a torn
 * header: neither is damage. A newer header over a bad body, or a header
 * whose magic survived and checksum did not, is. Either way the older slot
 * and the journal after it hold everything. */
static void slot_damage(struct lun_thin_pool *pool, const struct slot_info si[2], int best)
{
	const struct slot_info *o = &si[best ^ 1];
	char what[200];
	snprintf(what, sizeof(what), "checkpoint slot %d unusable (%s); slot %d (generation %llu)",
		 best ^ 1, o->why, best, (unsigned long long)si[best].gen);
	if (o->magic_ok && (o->gen > si[best].gen || !o->gen))
		thin_damage_note(pool, what);
	else
		kwarn("thin pool: %s used", what);
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
		slot_damage(pool, si, best);
	return best;
}

/* Loaded: write both checkpoint slots (the journal is then needed by
 * neither), then both superblock copies in format 2. This converts a format
 * 1 pool and rewrites whatever damage open survived. */
static int heal(struct lun_thin_pool *pool, char *err, size_t errlen)
{
	bool convert = pool->fmt < THIN_FMT;
	int r = 0;
	for (int i = 0; !r && i < 2; i++)
		r = thin_checkpoint(pool);
	if (!r) {
		pool->fmt = THIN_FMT;
		r = thin_sb_write(pool);
	}
	if (r)
		snprintf(err, errlen, "cannot rewrite the metadata: %s", strerror(-r));
	else if (convert)
		kinfo("thin pool: converted to metadata format %u (two copies of the superblock "
		      "and of each journal block)",
		      THIN_FMT);
	else if (pool->dmg.repaired)
		kwarn("thin pool: %u damaged metadata block(s) rewritten from their copies",
		      pool->dmg.repaired);
	return r;
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
	r = thin_replay(pool, err, errlen);
	if (r)
		return r;
	r = thin_rebuild_refs(pool);
	if (r)
		snprintf(err, errlen, "metadata maps a chunk outside the pool");
	if (!r && (pool->fmt < THIN_FMT || pool->dmg.repaired || pool->dmg.heal))
		r = heal(pool, err, errlen);
	return r;
}
