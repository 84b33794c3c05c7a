/* SPDX-License-Identifier: Apache-2.0 */
/* The memory backend: a volatile LUN in RAM, for tests, benchmarks and
 * scratch disks.
 *
 * Storage is a table of 1 MiB chunks, each mmap()ed on first write, so an
 * 8 GiB memory LUN costs only its table (8 KiB per GiB) until written.
 * Reads of a chunk never written return zeros. Concurrency: any worker may
 * submit at any time; a chunk is installed with a compare-and-swap on its
 * table slot (the loser unmaps its copy) and is never freed before close, so
 * data copies need no lock. UNMAP of a whole chunk returns its pages with
 * madvise(MADV_DONTNEED) (they read back as zeros) instead of unmapping it,
 * so a racing copy on another thread can never touch freed memory; a
 * per-chunk flag records that the chunk is deallocated for BLOCK STATUS.
 * Partial-chunk unmaps zero the range.
 *
 * Overlapping commands from different threads get unspecified (but memory
 * safe) data, as on a real disk; COMPARE AND WRITE relies on the SCSI layer
 * to keep other commands off its range while it runs.
 *
 * Every op completes through kloop_defer on io->loop (never inline).
 * Not for: persistence; FLUSH succeeds and does nothing (no volatile cache).
 */
#include "lun-backends/lun_internal.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LM_CHUNK_SHIFT 20
#define LM_CHUNK       ((uint64_t)1 << LM_CHUNK_SHIFT)

struct lun_mem {
	struct lun_backend be;
	uint64_t nchunks;
	_Atomic(char *) *chunk; /* NULL until first written */
	atomic_bool *mapped;    /* chunk holds data (false after a whole-chunk unmap) */
};

static struct lun_mem *lm_of(struct lun_backend *be)
{
	return be->priv;
}

/* The chunk for index i, installing a zeroed one if absent. NULL: no memory. */
static char *chunk_get(struct lun_mem *lm, uint64_t i)
{
	char *p = atomic_load_explicit(&lm->chunk[i], memory_order_acquire);
	if (p)
		return p;
	char *fresh =
		mmap(NULL, LM_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&lm->chunk[i], &p, fresh, memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	munmap(fresh, LM_CHUNK); /* another thread won; p is its chunk */
	return p;
}

static char *chunk_peek(struct lun_mem *lm, uint64_t i)
{
	return atomic_load_explicit(&lm->chunk[i], memory_order_acquire);
}

/* Walk [off, off+len) chunk by chunk: fn(lm, io, chunk index, offset in
 * chunk, bytes, position in the range). A non-zero return stops the walk. */
typedef int (*lm_piece_fn)(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff,
			   uint64_t n, uint64_t pos);

static int lm_walk(struct lun_mem *lm, struct lun_io *io, lm_piece_fn fn)
{
	for (uint64_t pos = 0; pos < io->length;) {
		uint64_t at = io->offset + pos;
		uint64_t ci = at >> LM_CHUNK_SHIFT, coff = at & (LM_CHUNK - 1);
		uint64_t n = LM_CHUNK - coff;
		if (n > io->length - pos)
			n = io->length - pos;
		int r = fn(lm, io, ci, coff, n, pos);
		if (r)
			return r;
		pos += n;
	}
	return 0;
}

/* ---- pieces ---- */

static int read_piece(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff, uint64_t n,
		      uint64_t pos)
{
	char *p = chunk_peek(lm, ci);
	if (p)
		kiov_from_buf(io->iov, io->iovcnt, pos, p + coff, n);
	else
		kiov_zero(io->iov, io->iovcnt, pos, n);
	return 0;
}

/* Writes take their data from io->iov at pos + skip (CAW: second half). */
static int write_piece_at(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff,
			  uint64_t n, uint64_t pos, uint64_t skip)
{
	char *p = chunk_get(lm, ci);
	if (!p)
		return -ENOMEM;
	atomic_store_explicit(&lm->mapped[ci], true, memory_order_relaxed);
	if (io->op == LUN_OP_WRITE_ZEROES)
		memset(p + coff, 0, n);
	else
		kiov_to_buf(io->iov, io->iovcnt, pos + skip, p + coff, n);
	return 0;
}

static int write_piece(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff,
		       uint64_t n, uint64_t pos)
{
	return write_piece_at(lm, io, ci, coff, n, pos,
			      io->op == LUN_OP_COMPARE_AND_WRITE ? io->length : 0);
}

static int unmap_piece(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff,
		       uint64_t n, uint64_t pos)
{
	char *p = chunk_peek(lm, ci);
	if (!p)
		return 0;
	if (n < LM_CHUNK) {
		memset(p + coff, 0, n);
		return 0;
	}
	atomic_store_explicit(&lm->mapped[ci], false, memory_order_relaxed);
	if (madvise(p, LM_CHUNK, MADV_DONTNEED) != 0)
		memset(p, 0, LM_CHUNK);
	return 0;
}

/* CAW compare: returns 1 and sets io->miscompare_offset on a difference. */
static int compare_piece(struct lun_mem *lm, struct lun_io *io, uint64_t ci, uint64_t coff,
			 uint64_t n, uint64_t pos)
{
	char *p = chunk_peek(lm, ci);
	size_t d = p ? kiov_cmp(io->iov, io->iovcnt, pos, p + coff, n)
		     : kiov_cmp_zero(io->iov, io->iovcnt, pos, n);
	if (d == n)
		return 0;
	io->miscompare_offset = pos + d;
	return 1;
}

/* ---- ops ---- */

static void lm_read(struct lun_backend *be, struct lun_io *io)
{
	lun_complete_later(io, lm_walk(lm_of(be), io, read_piece));
}

static void lm_write(struct lun_backend *be, struct lun_io *io)
{
	lun_complete_later(io, lm_walk(lm_of(be), io, write_piece));
}

static void lm_flush(struct lun_backend *be, struct lun_io *io)
{
	lun_complete_later(io, 0);
}

static void lm_unmap(struct lun_backend *be, struct lun_io *io)
{
	lun_complete_later(io, lm_walk(lm_of(be), io, unmap_piece));
}

/* Without LUN_IO_UNMAP the range must end up allocated (zeros written). */
static void lm_write_zeroes(struct lun_backend *be, struct lun_io *io)
{
	lm_piece_fn fn = (io->flags & LUN_IO_UNMAP) ? unmap_piece : write_piece;
	lun_complete_later(io, lm_walk(lm_of(be), io, fn));
}

static void lm_caw(struct lun_backend *be, struct lun_io *io)
{
	struct lun_mem *lm = lm_of(be);
	if (lm_walk(lm, io, compare_piece))
		return lun_complete_later(io, -EILSEQ);
	lun_complete_later(io, lm_walk(lm, io, write_piece));
}

static bool chunk_mapped(struct lun_mem *lm, uint64_t ci)
{
	return chunk_peek(lm, ci) && atomic_load_explicit(&lm->mapped[ci], memory_order_relaxed);
}

static void lm_block_status(struct lun_backend *be, struct lun_io *io)
{
	struct lun_mem *lm = lm_of(be);
	uint64_t ci = io->offset >> LM_CHUNK_SHIFT;
	bool m = chunk_mapped(lm, ci);
	uint64_t end = ci + 1;
	while (end < lm->nchunks && chunk_mapped(lm, end) == m)
		end++;
	uint64_t stop = end << LM_CHUNK_SHIFT;
	if (stop > be->size)
		stop = be->size;
	io->bs_mapped = m;
	io->bs_length = stop - io->offset;
	lun_complete_later(io, 0);
}

static void lm_close(struct lun_backend *be)
{
	struct lun_mem *lm = lm_of(be);
	for (uint64_t i = 0; lm->chunk && i < lm->nchunks; i++)
		if (lm->chunk[i])
			munmap(lm->chunk[i], LM_CHUNK);
	free(lm->chunk);
	free(lm->mapped);
	free(lm);
}

static const struct lun_backend_ops mem_ops = {
	.name = "memory",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_ATOMIC_CAW |
		LUN_CAP_BLOCK_STATUS,
	.submit_read = lm_read,
	.submit_write = lm_write,
	.submit_flush = lm_flush,
	.submit_unmap = lm_unmap,
	.submit_write_zeroes = lm_write_zeroes,
	.submit_compare_and_write = lm_caw,
	.submit_block_status = lm_block_status,
	.close = lm_close,
};

static int lm_check(const struct lun_backend_params *p, char *err, size_t errlen)
{
	uint32_t bs = p->block_size ? p->block_size : 512;
	if (bs != 512 && bs != 4096) {
		snprintf(err, errlen, "block size %u not supported (512 or 4096)", p->block_size);
		return -EINVAL;
	}
	if (p->size < bs) {
		snprintf(err, errlen, "memory backend needs a size of at least one %u-byte block",
			 bs);
		return -EINVAL;
	}
	if (p->size > ((uint64_t)1 << 50)) {
		snprintf(err, errlen, "memory backend size %llu is too large",
			 (unsigned long long)p->size);
		return -EINVAL;
	}
	return 0;
}

int lun_mem_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		 size_t errlen)
{
	*out = NULL;
	int r = lm_check(p, err, errlen);
	if (r < 0)
		return r;
	struct lun_mem *lm = calloc(1, sizeof(*lm));
	uint32_t bs = p->block_size ? p->block_size : 512;
	uint64_t size = p->size - p->size % bs;
	uint64_t n = (size + LM_CHUNK - 1) >> LM_CHUNK_SHIFT;
	if (lm) {
		lm->nchunks = n;
		lm->chunk = calloc(n, sizeof(*lm->chunk));
		lm->mapped = calloc(n, sizeof(*lm->mapped));
	}
	if (!lm || !lm->chunk || !lm->mapped) {
		if (lm)
			lm_close(&lm->be);
		snprintf(err, errlen, "out of memory for a %llu-byte memory LUN",
			 (unsigned long long)size);
		return -ENOMEM;
	}
	lm->be = (struct lun_backend){ .ops = &mem_ops,
				       .size = size,
				       .block_size = bs,
				       .unmap_granularity = (uint32_t)LM_CHUNK,
				       .read_only = p->read_only,
				       .zeroes_after_unmap = true,
				       .volatile_cache = false,
				       .priv = lm };
	*out = &lm->be;
	return 0;
}
