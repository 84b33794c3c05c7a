/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the thin pool's metadata: the input becomes a
 * pool's metadata file (superblocks, checkpoint slots and bodies, journal
 * ring) and the pool is opened as kura-targetd and kura-thin-check open it:
 * superblock pick, checkpoint decode, journal replay with its two copies,
 * torn-tail / damage tell-apart, refcount rebuild, heal.
 *
 * Input: byte 0 = flags, then extents "offset (4 bytes LE, taken modulo
 * 8 MiB), length (2 bytes LE), bytes" written into an empty memfd (a
 * metadata file is sparse: 1 MiB of header area, the journal ring, then the
 * checkpoint bodies). Flags:
 *   bit 0  fix up checksums: recompute the CRCs of both superblock copies,
 *          both slot headers and the bodies they point at, and every journal
 *          block header in the ring, so that the fuzzer explores what lies
 *          behind them (in this mode a ring above 1 MiB is clamped to 1 MiB
 *          so that one input cannot scan a terabyte of zeros);
 *   bit 1  open with salvage (kura-thin-check --repair).
 * The data device is a 16 MiB memory backend, shared by every input.
 *
 * What must hold: no crash, leak or hang; a refused open says why; an open
 * that succeeds yields a pool that lun_thin_check finds consistent, closes
 * cleanly, and opens again with the same status.
 *
 * Seeds: KURA_FUZZ_MKSEED=DIR ./fuzz_thin_meta writes the corpus
 * (tests/fuzz/corpus/fuzz_thin_meta) from pools made by the real code:
 * fresh, after volume operations and writes (crashed and cleanly closed),
 * and the same with damage (a copy, both copies of a journal block, a
 * superblock copy, both checkpoint slots). slot_body_past_eof_fixup was
 * edited from "closed" by hand: a slot header (CRC fixed up) giving its
 * body a 32 GiB length, which open used to allocate before reading.
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/byteorder.h"
#include "common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_SPAN   ((uint32_t)8 << 20)
#define DATA_BYTES  ((uint64_t)16 << 20)
#define FIX_RING    ((uint64_t)1 << 20)
#define F_FIXUP     1u
#define F_SALVAGE   2u
#define SEED_JBYTES ((uint64_t)256 << 10)

static int mfd = -1;
static char mpath[64];
static struct lun_backend *data;

/* ---- input -> metadata file ---- */

static void put_extents(const uint8_t *p, size_t n)
{
	while (n >= 6) {
		uint32_t off = get_le32(p) % FILE_SPAN;
		size_t len = p[4] | (size_t)p[5] << 8;
		p += 6;
		n -= 6;
		len = len > n ? n : len;
		if (len && pwrite(mfd, p, len, off) != (ssize_t)len)
			abort();
		p += len;
		n -= len;
	}
}

static uint64_t file_size(void)
{
	struct stat st;
	return fstat(mfd, &st) ? 0 : (uint64_t)st.st_size;
}

static void rd(void *b, size_t len, uint64_t off)
{
	if (thin_pread(mfd, b, len, off))
		abort();
}

static void wr(const void *b, size_t len, uint64_t off)
{
	if (thin_pwrite(mfd, b, len, off))
		abort();
}

/* A superblock copy with its magic: clamp the ring, fix the CRC. Returns
 * the ring size it declares (0 if not a superblock). */
static uint64_t fix_sb(uint64_t off)
{
	uint8_t b[64];
	rd(b, sizeof(b), off);
	if (get_le64(b) != THIN_SB_MAGIC)
		return 0;
	if (get_le64(b + 24) > FIX_RING)
		put_le64(b + 24, FIX_RING);
	put_le32(b + 48, thin_crc(b, 48));
	wr(b, sizeof(b), off);
	return get_le64(b + 24);
}

static void fix_slot(uint64_t off)
{
	uint8_t b[48];
	rd(b, sizeof(b), off);
	if (get_le32(b) != THIN_SLOT_MAGIC)
		return;
	uint64_t boff = get_le64(b + 16), blen = get_le64(b + 32), fs = file_size();
	if (blen && blen <= FILE_SPAN && boff < fs && blen <= fs - boff) {
		uint8_t *body = malloc(blen);
		rd(body, blen, boff);
		put_le32(b + 40, thin_crc(body, blen));
		free(body);
	}
	put_le32(b + 44, thin_crc(b, 44));
	wr(b, sizeof(b), off);
}

/* Every sector of the ring that starts a journal block header. */
static void fix_journal(uint64_t jsize)
{
	uint8_t *ring = malloc(jsize);
	rd(ring, jsize, THIN_JOURNAL_OFF);
	for (uint64_t at = 0; at + THIN_JHDR <= jsize; at += THIN_SECTOR) {
		uint8_t *h = ring + at;
		uint64_t len = get_le32(h + 20);
		if (get_le32(h) != THIN_JBLK_MAGIC || !len || len % THIN_SECTOR || len > jsize - at)
			continue;
		put_le32(h + 24, 0);
		put_le32(h + 24, thin_crc(h, len));
		wr(h, THIN_JHDR, THIN_JOURNAL_OFF + at);
	}
	free(ring);
}

static void fixup(void)
{
	uint64_t j0 = fix_sb(0), j1 = fix_sb(THIN_SB_COPY_OFF);
	fix_slot(THIN_SLOT0_OFF);
	fix_slot(THIN_SLOT0_OFF + THIN_SECTOR);
	uint64_t j = j0 > j1 ? j0 : j1;
	if (j)
		fix_journal(j);
}

/* ---- the properties ---- */

static int pool_open(bool salvage, struct lun_thin_pool **pool)
{
	struct lun_thin_pool_params pp = { .meta_path = mpath, .data = data, .salvage = salvage };
	char err[512] = "";
	int r = lun_thin_pool_open(&pp, pool, err, sizeof(err));
	if (r && !err[0])
		abort(); /* a refusal must say why */
	return r;
}

static void check_open(struct lun_thin_pool *pool)
{
	struct lun_thin_check_report rep;
	struct lun_thin_pool_status a, b;
	if (lun_thin_check(pool, false, &rep))
		abort(); /* open rebuilt refcounts and the free map: they must agree */
	lun_thin_pool_status(pool, &a);
	if (lun_thin_pool_close(pool))
		abort();
	if (pool_open(false, &pool))
		abort(); /* what opened once and closed cleanly opens again */
	lun_thin_pool_status(pool, &b);
	if (a.chunks_total != b.chunks_total || a.chunks_used != b.chunks_used ||
	    a.volumes != b.volumes || a.virtual_bytes != b.virtual_bytes)
		abort();
	if (lun_thin_pool_close(pool))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	if (n < 1 || ftruncate(mfd, 0))
		return 0;
	put_extents(in + 1, n - 1);
	if (in[0] & F_FIXUP)
		fixup();
	struct lun_thin_pool *pool;
	if (!pool_open(in[0] & F_SALVAGE, &pool))
		check_open(pool);
	return 0;
}

/* ---- seeds, written by the real code ---- */

static void sync_done(struct lun_io *io)
{
	kloop_stop(io->loop);
}

static void vol_write(struct lun_backend *be, uint64_t off, uint64_t len, int seed)
{
	struct kloop *l = kloop_new(8);
	uint8_t *buf = malloc(len);
	memset(buf, seed, len);
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = LUN_OP_WRITE,
			     .offset = off,
			     .length = len,
			     .iov = &iov,
			     .iovcnt = 1,
			     .loop = l,
			     .done = sync_done };
	lun_submit(be, &io);
	if (kloop_run(l) < 0 || io.result)
		abort();
	kloop_free(l);
	free(buf);
}

/* The pool file as an input: flags, then its non-zero sectors as extents. */
static void seed_save(const char *dir, const char *name, uint8_t flags)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	uint64_t fs = file_size();
	uint8_t sec[THIN_SECTOR], zero[THIN_SECTOR] = { 0 };
	fputc(flags, f);
	for (uint64_t off = 0; off < fs; off += THIN_SECTOR) {
		rd(sec, sizeof(sec), off);
		size_t len = sizeof(sec);
		while (len && !sec[len - 1])
			len--;
		if (!len || !memcmp(sec, zero, sizeof(sec)))
			continue;
		uint8_t h[6];
		put_le32(h, (uint32_t)off);
		h[4] = (uint8_t)len;
		h[5] = (uint8_t)(len >> 8);
		fwrite(h, 1, sizeof(h), f);
		fwrite(sec, 1, len, f);
	}
	fclose(f);
}

static struct lun_thin_pool *seed_pool(void)
{
	struct lun_thin_pool_params pp = { .meta_path = mpath,
					   .data = data,
					   .chunk_size = LUN_THIN_CHUNK_MIN,
					   .journal_bytes = SEED_JBYTES,
					   .force_new = true };
	struct lun_thin_pool *pool;
	char err[512];
	if (ftruncate(mfd, 0) || lun_thin_pool_create(&pp, &pool, err, sizeof(err)))
		abort();
	return pool;
}

/* Volumes, a snapshot, a clone, a delete and a resize, then writes
 * (allocations, and copies on write of the snapshot's chunks); with crash,
 * the pool is dropped without its final checkpoint, so the writes are in
 * the journal only (volume operations may checkpoint). */
static void seed_busy_pool(bool crash)
{
	struct lun_thin_pool *pool = seed_pool();
	struct lun_backend *v;
	if (lun_thin_volume_create(pool, 1, 4 << 20) || lun_thin_volume_create(pool, 9, 1 << 20) ||
	    lun_thin_volume_open(pool, 1, 512, &v))
		abort();
	vol_write(v, 4096, 8192, 1);
	if (lun_thin_snapshot(pool, 1, 2) || lun_thin_clone(pool, 2, 3) ||
	    lun_thin_volume_delete(pool, 9) || lun_thin_volume_resize(pool, 1, 8 << 20))
		abort();
	for (int i = 0; i < 5; i++)
		vol_write(v, (uint64_t)i * 3 * LUN_THIN_CHUNK_MIN + 4096, 8192, i + 2);
	lun_backend_close(v);
	if (crash)
		thin_pool_shutdown(pool, false, NULL);
	else if (lun_thin_pool_close(pool))
		abort();
}

static void flip(uint64_t off)
{
	uint8_t b;
	rd(&b, 1, off);
	b ^= 0x10;
	wr(&b, 1, off);
}

/* Ring offset of the first block replay reads: the newest slot's body's. */
static uint64_t replay_pos(void)
{
	uint8_t h[2][48], body[32];
	rd(h[0], sizeof(h[0]), THIN_SLOT0_OFF);
	rd(h[1], sizeof(h[1]), THIN_SLOT0_OFF + THIN_SECTOR);
	int s = get_le64(h[1] + 8) > get_le64(h[0] + 8);
	rd(body, sizeof(body), get_le64(h[s] + 16));
	return get_le64(body + 24);
}

static void mkseed(const char *dir)
{
	struct lun_thin_pool *pool = seed_pool();
	if (lun_thin_pool_close(pool))
		abort();
	seed_save(dir, "fresh", 0);
	seed_busy_pool(false);
	seed_save(dir, "closed", 0);
	seed_busy_pool(true);
	seed_save(dir, "crashed", 0);
	seed_save(dir, "crashed_fixup", F_FIXUP);
	uint64_t j = THIN_JOURNAL_OFF + replay_pos();
	flip(j + 40); /* the first block replayed, copy A: repaired */
	seed_save(dir, "journal_copy_a", 0);
	flip(j + THIN_SECTOR + 40); /* and copy B: later blocks follow */
	seed_save(dir, "journal_both_copies", 0);
	seed_save(dir, "journal_both_copies_salvage", F_SALVAGE);
	seed_busy_pool(true);
	flip(20);
	seed_save(dir, "superblock_0", 0);
	flip(THIN_SLOT0_OFF + 9);
	flip(THIN_SLOT0_OFF + THIN_SECTOR + 9);
	seed_save(dir, "both_slots", 0);
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	klog_set_level((enum klog_level)(KLOG_ERR - 1)); /* damage is logged by design */
	mfd = memfd_create("fuzz-thin-meta", MFD_CLOEXEC);
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	struct lun_backend_params dp = { .type = "memory", .size = DATA_BYTES, .block_size = 512 };
	char err[256];
	if (mfd < 0 || lun_backend_open(&dp, &data, err, sizeof(err)))
		abort();
	const char *seed_dir = getenv("KURA_FUZZ_MKSEED");
	if (seed_dir)
		mkseed(seed_dir);
	return 0;
}
