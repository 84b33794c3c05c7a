/* SPDX-License-Identifier: Apache-2.0 */
/* Thin provisioning: a pool of data chunks shared by thin volumes, snapshots
 * and clones. Public API (what target/ and the daemon may call).
 *
 * A pool is one metadata file plus one data device (any lun_backend: a file
 * today, a RAID array later). The pool does not own the data backend: the
 * caller opens it before the pool and closes it after lun_thin_pool_close().
 * A thin volume, once opened, is itself a lun_backend (read, write with FUA,
 * flush, unmap, write_zeroes, block_status; zeroes_after_unmap) that the SCSI
 * layer drives like any other backend.
 *
 * Threading: the control calls below (create/open/close, volume management,
 * snapshots, check, grow) block until their metadata is durable, so call them
 * from a control thread, never from a kloop callback. Status and low-water
 * queries never block on I/O and may be called from any thread.
 *
 * Errors are -errno. A write that needs a new chunk in a full pool completes
 * with -ENOSPC (SCSI: SPACE ALLOCATION FAILED WRITE PROTECT, 27/07); reads and
 * overwrites of allocated chunks keep working. Metadata write failures put the
 * pool in a failed state where every allocation fails with -EIO.
 *
 * Not for: SCSI semantics (unit attentions, sense) or configuration parsing.
 */
#ifndef KURA_LUN_THIN_H
#define KURA_LUN_THIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lun-backends/lun_backend.h"

/* Chunk size: the unit of allocation, sharing and copy-on-write. The default
 * of 64 KiB keeps a first 4 KiB write into a new chunk cheap (it writes the
 * whole chunk, zeros around the data, so the rest reads as zeros without any
 * per-block metadata) and makes copy-on-write after a snapshot copy at most
 * 64 KiB, at a metadata cost of 16 Mi chunks per TiB of data (about 6 bytes
 * each in memory: refcount and pin count, plus 4 bytes per mapped virtual
 * chunk). Large sequential-only pools may prefer 256 KiB..1 MiB. */
#define LUN_THIN_CHUNK_MIN     (64u * 1024)
#define LUN_THIN_CHUNK_MAX     (1024u * 1024)
#define LUN_THIN_CHUNK_DEFAULT (64u * 1024)

struct lun_thin_pool;

struct lun_thin_pool_params {
	const char *meta_path;    /* metadata file (created by _create, must not exist) */
	struct lun_backend *data; /* data device; not owned by the pool */
	uint64_t data_bytes;      /* bytes of data to use; 0 = data->size (create only) */
	uint32_t chunk_size;      /* power of two, 64 KiB..1 MiB; 0 = default (create only) */
	uint64_t journal_bytes;   /* metadata journal ring; 0 = default 32 MiB (create only) */
	bool force_new;           /* create: format over data, and over a metadata file that
				   * is not a kura pool (lun_thin_format.c) */
	bool salvage;             /* open: drop journal blocks after an unrepairable one */
};

/* Create refuses (-ENOTEMPTY, err says where) a data device that holds
 * data (a non-zero byte in its first 64 MiB of mapped extents: a pool
 * allocates from chunk 0 up, and file systems and partition tables start
 * there) unless force_new, and an existing metadata file (-EEXIST) unless
 * force_new and it is not a kura pool (lun_thin_meta_probe() == 0).
 *
 * Open refuses (-EUCLEAN, err names the block and what would be lost)
 * metadata that its redundancy cannot repair: both checkpoint slots bad,
 * or a journal block bad in both copies with acknowledged blocks after it.
 * salvage (kura-thin-check --repair) opens the latter without those blocks,
 * reported in lun_thin_check's report. Damage the redundancy repairs is
 * rewritten at open (a warning per block) and reported there too. */
int lun_thin_pool_create(const struct lun_thin_pool_params *p, struct lun_thin_pool **out,
			 char *err, size_t errlen);
int lun_thin_pool_open(const struct lun_thin_pool_params *p, struct lun_thin_pool **out, char *err,
		       size_t errlen);
/* Every volume must be closed (-EBUSY otherwise). Writes a final checkpoint. */
int lun_thin_pool_close(struct lun_thin_pool *pool);
/* 1 if path holds a valid kura thin pool superblock (either copy), 0 if it
 * does not (empty, foreign, both copies damaged), -errno if unreadable. */
int lun_thin_meta_probe(const char *path);

struct lun_thin_pool_status {
	uint32_t chunk_size;
	uint64_t chunks_total;
	uint64_t chunks_used;      /* mapped, or freed and not yet reusable */
	uint64_t chunks_free;      /* allocatable now */
	uint32_t volumes;          /* volumes, snapshots and clones */
	uint64_t virtual_bytes;    /* sum of volume sizes */
	double overcommit;         /* virtual_bytes / data bytes */
	uint64_t low_water;        /* free-chunk threshold (0 = off) */
	uint64_t low_water_events; /* times free chunks fell below low_water */
	bool failed;               /* a metadata write failed: allocation refused */
};
void lun_thin_pool_status(struct lun_thin_pool *pool, struct lun_thin_pool_status *st);

/* The data backend now holds new_bytes (<= data->size): take the new chunks, online. */
int lun_thin_pool_grow(struct lun_thin_pool *pool, uint64_t new_bytes);

/* Low-water mark in free chunks (not persistent: set it after every open).
 * Each time the free count falls below it an event is recorded; it re-arms
 * once free chunks are back at or above the mark. The optional callback runs
 * on the allocating thread with the pool lock held: it must only note the
 * event (e.g. set a flag or kloop_post). */
void lun_thin_pool_set_low_water(struct lun_thin_pool *pool, uint64_t free_chunks,
				 void (*cb)(void *arg, uint64_t generation), void *arg);
/* True if an event happened since the caller's *generation; stores the
 * current generation there. Start with *generation = 0. Lets the SCSI layer
 * raise UA THIN PROVISIONING SOFT THRESHOLD REACHED (38/07) once per event. */
bool lun_thin_pool_low_water_crossed(struct lun_thin_pool *pool, uint64_t *generation);

/* Write a checkpoint now (normally automatic when the journal fills). */
int lun_thin_pool_checkpoint(struct lun_thin_pool *pool);

/* Volumes are named by a caller-chosen 32-bit id. size: multiple of 4096,
 * may exceed the pool (overcommit). */
int lun_thin_volume_create(struct lun_thin_pool *pool, uint32_t id, uint64_t size);
int lun_thin_volume_delete(struct lun_thin_pool *pool, uint32_t id); /* -EBUSY if open */
int lun_thin_volume_resize(struct lun_thin_pool *pool, uint32_t id,
			   uint64_t size); /* shrink: closed only */
/* One opener at a time (-EBUSY). Close with lun_backend_close(). */
int lun_thin_volume_open(struct lun_thin_pool *pool, uint32_t id, uint32_t block_size,
			 struct lun_backend **out);
/* Read-only point-in-time copy / writable copy of a volume, snapshot or
 * clone; O(mapped chunks) in memory, one journal record on disk. The origin
 * may be open and busy. */
int lun_thin_snapshot(struct lun_thin_pool *pool, uint32_t origin, uint32_t new_id);
int lun_thin_clone(struct lun_thin_pool *pool, uint32_t origin, uint32_t new_id);

struct lun_thin_volume_info {
	uint32_t id;
	uint64_t size;
	uint64_t mapped_chunks; /* virtual chunks that map a data chunk (shared ones too) */
	bool read_only;         /* a snapshot */
	bool open;              /* opened (lun_thin_volume_open) */
};
/* A copy of the volume table, sorted by id: *out is malloc'ed (free() it).
 * Walks every map under the pool lock, O(virtual chunks): for
 * administration, not for the I/O path. Never blocks on I/O. */
int lun_thin_volume_list(struct lun_thin_pool *pool, struct lun_thin_volume_info **out, size_t *n);

struct lun_thin_check_report {
	uint64_t bad_mappings;    /* map entries pointing outside the pool */
	uint64_t bad_refcounts;   /* refcount differs from the mappings */
	uint64_t free_and_mapped; /* chunk allocatable although mapped */
	uint64_t leaked;          /* chunk unmapped but not allocatable */
	bool repaired;
	/* metadata damage found when the pool was opened */
	uint32_t damaged_blocks; /* recovered from their redundant copies */
	uint64_t lost_blocks;    /* salvage: journal blocks dropped (acknowledged work lost) */
	uint64_t lost_records;
	char damage[320]; /* the first damaged block */
};
/* Walk the metadata; with repair, fix what was found and checkpoint.
 * Run it with no I/O in flight. 0 if consistent (or repaired), -EUCLEAN if
 * problems were found and not repaired. */
int lun_thin_check(struct lun_thin_pool *pool, bool repair, struct lun_thin_check_report *r);
/* ---- copy by sharing chunks (lun_thin_share.c; EXTENDED COPY offload) ----
 * True if a and b are open thin volumes of one pool (a == b allowed); then
 * *chunk_size (if not NULL) gets the pool's chunk size. Never blocks. */
bool lun_thin_same_pool(struct lun_backend *a, struct lun_backend *b, uint32_t *chunk_size);

/* Make dst's [dst_off, dst_off + len) a copy of src's [src_off, ...) where
 * chunks allow it, without copying data: every whole chunk of the range
 * that is chunk-aligned on both sides gets mapped in dst to the physical
 * chunk src maps (refcount + 1; either side then copies on write), or
 * unmapped in dst where src has none. No chunk is allocated, so it works in
 * a full pool. The part shared is [*skip, *skip + *shared_bytes) of the
 * range (0, 0 if none: offsets not congruent modulo the chunk size, or less
 * than a chunk); the caller copies the rest, the head and tail, itself,
 * and also when an error is returned (*skip and *shared_bytes are then
 * still right). Blocks until the mappings are durable (one journal block
 * per up to 4096 chunks; a crash leaves a whole prefix of them), so call it
 * from a control thread, never from a kloop callback. Both backends stay
 * open during the call.
 *
 * Concurrent I/O: writes to dst that are allocating or copying a chunk
 * when the call reaches it are waited for (a few ms; past 2 s the call
 * stops and shares only the prefix done); I/O that starts meanwhile waits
 * for the mapping and then copies on write. A write to src in flight as a
 * chunk is shared may still land in it, as with snapshots of a busy volume
 * (the copy then holds it, as if that write had come first). Data the
 * source holds in the data device's volatile cache is as durable as it is
 * for the source: flush the source first for a stable copy.
 *
 * -EXDEV: not thin volumes of one pool; -EROFS: dst is a snapshot;
 * -EINVAL: range beyond a volume, or src == dst with overlapping ranges and
 * dst_off > src_off (the caller copies, backwards); -EIO: pool failed. */
int lun_thin_share_range(struct lun_backend *src, uint64_t src_off, struct lun_backend *dst,
			 uint64_t dst_off, uint64_t len, uint64_t *skip, uint64_t *shared_bytes);
#endif
