/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool internals shared by lun_thin_meta.c (on-disk formats, journal,
 * checkpoints), lun_thin_pool.c (in-memory state, metadata service thread,
 * control API) and lun_thin_io.c (the volume backend). Not a public header.
 *
 * Locking: pool->lock protects every in-memory structure below (maps,
 * refcounts, pins, free bitmap, pending table, volume table). Only the
 * service thread writes the metadata file and applies committed records.
 */
#ifndef KURA_LUN_THIN_INTERNAL_H
#define KURA_LUN_THIN_INTERNAL_H
#include "lun-backends/thin/lun_thin.h"
#include "lun-backends/lun_internal.h"
#include <pthread.h>

/* ---- on-disk layout (all little-endian) ----
 * 0       superblock (4 KiB)
 * 4 KiB   checkpoint slot header 0     8 KiB  checkpoint slot header 1
 * 12 KiB  superblock, second copy (format 2)
 * 1 MiB   journal ring (journal_bytes); format 2: two copies of each block
 * after   checkpoint bodies, each slot's area placed/grown at the file end
 * The format (superblock and journal block version) is THIN_FMT; slot
 * headers and checkpoint bodies carry THIN_VERSION, unchanged since 1. */
#define THIN_VERSION         1u
#define THIN_FMT_V1          1u /* one superblock, one copy of each journal block */
#define THIN_FMT             2u /* two of each (issue 11) */
#define THIN_SB_COPY_OFF     (3u * 4096)
#define THIN_SB_MAGIC        0x4e49485441525543ull /* "CURATHIN" */
#define THIN_SLOT_MAGIC      0x4b43544bu           /* "KTCK" */
#define THIN_BODY_MAGIC      0x4243544bu           /* "KTCB" */
#define THIN_JBLK_MAGIC      0x424a544bu           /* "KTJB" */
#define THIN_SECTOR          4096u
#define THIN_SLOT0_OFF       4096u
#define THIN_JOURNAL_OFF     (1024u * 1024)
#define THIN_JOURNAL_DEFAULT ((uint64_t)32 << 20)
#define THIN_JOURNAL_MIN     ((uint64_t)64 << 10)
#define THIN_JHDR            32u /* journal block header bytes */
#define THIN_REC             24u /* journal record bytes */
#define THIN_BODY_HDR        48u
#define THIN_VOL_DESC        24u
#define THIN_RUN             16u

enum thin_rec_type {
	THIN_R_MAP = 1,    /* vol, a = vchunk, b = pchunk (alloc or CoW) */
	THIN_R_UNMAP,      /* vol, a = vchunk */
	THIN_R_VOL_CREATE, /* vol, a = size, flags */
	THIN_R_VOL_DELETE, /* vol */
	THIN_R_VOL_RESIZE, /* vol, a = size */
	THIN_R_CLONE,      /* vol = new id, a = origin id, flags */
	THIN_R_GROW,       /* a = chunks */
};

struct thin_rec {
	uint8_t type, flags;
	uint32_t vol;
	uint64_t a, b;
};

/* A journal block prepared for writing. */
struct thin_jblock {
	uint8_t *buf;
	uint64_t len, pos, waste; /* pos: offset in the ring */
};

/* ---- in-memory state ---- */
#define THIN_LEAF_SHIFT   12 /* 4096 entries (16 KiB) per map leaf */
#define THIN_LEAF_N       (1u << THIN_LEAF_SHIFT)
#define THIN_PENDING      0x80000000u /* map entry: an update is in flight */
#define THIN_MAX_CHUNKS   0x7fff0000u
#define THIN_PIN_FREE     0x8000u /* pins: release once unpinned */
#define THIN_PIN_STALE    0x4000u /* pins: lost a sharer while pinned */
#define THIN_PIN_COUNT    0x3fffu
#define THIN_PEND_BUCKETS 4096u
#define THIN_VOL_RO       1u

/* A volume's map: virtual chunk -> physical chunk + 1 (0 = unmapped), in
 * leaves allocated on first use. THIN_PENDING marks an entry whose update
 * (allocation, copy-on-write, unmap) is in flight; the low bits still hold
 * the committed value, which is what checkpoints save. */
struct thin_vol {
	uint32_t id, flags;
	uint64_t size, nvchunks, nleaves;
	uint32_t **leaves;
	struct thin_open *opener; /* the open backend, or NULL */
};

/* A control operation for the service thread (lun_thin_pool.c). */
enum thin_ctl_op { CTL_REC, CTL_OPEN, CTL_CHECKPOINT, CTL_CHECK, CTL_STOP, CTL_FN };

struct thin_ctl {
	struct kloop_task t;
	struct thin_ctl *next;
	struct lun_thin_pool *pool;
	enum thin_ctl_op op;
	struct thin_rec rec;
	uint32_t block_size;
	struct lun_backend **out;
	bool flag; /* CHECK: repair; STOP: checkpoint */
	struct lun_thin_check_report *rep;
	int (*fn)(struct lun_thin_pool *, void *); /* CTL_FN */
	void *arg;
	int result;
	bool done;
	void (*done_cb)(struct thin_ctl *c); /* thin_ctl_post: on the service thread */
};


/* An opened volume: the lun_backend handed to the SCSI layer. */
struct thin_open {
	struct lun_backend be;
	struct lun_thin_pool *pool;
	struct thin_vol *vol;
};

enum thin_seg_kind { THIN_S_READ, THIN_S_WRITE, THIN_S_UNMAP, THIN_S_FLUSH };
enum thin_seg_state { THIN_ST_IO, THIN_ST_ALLOC, THIN_ST_COW, THIN_ST_UNMAP };

/* The part of one thin I/O that falls in one virtual chunk. Runs on the
 * request's loop except while queued for commit on the service thread. */
struct thin_seg {
	struct thin_req *req;
	uint64_t vc;       /* virtual chunk */
	uint32_t off, len; /* bytes within the chunk */
	uint64_t skip;     /* bytes into the request's iovec */
	enum thin_seg_kind kind;
	bool zero_src;   /* write zeros (write_zeroes, partial unmap) */
	bool keep_holes; /* zero_src on an unmapped chunk: nothing to do */
	enum thin_seg_state st;
	uint32_t p, newp; /* pinned old chunk / chunk being installed */
	bool pinned;
	void *buf;         /* copy-on-write chunk buffer (kbuf) */
	struct iovec *iov; /* child iovec (iovcap entries) */
	int iovcnt, iovcap;
	struct lun_io child;
	struct kloop_task t;      /* commit post / completion post / re-drive */
	struct thin_seg *next;    /* commit batch or wait list */
	struct thin_seg *hnext;   /* pending table chain */
	struct thin_seg *waiters; /* segments waiting for this one's commit */
	int result;
};

/* One thin lun_io: its segments, completed together on io->loop. */
struct thin_req {
	struct lun_io *io;
	struct thin_open *to;
	struct lun_thin_pool *pool;
	int nseg, left, result;
	struct kloop_task done_t;
	struct thin_seg seg[];
};

/* Metadata damage seen at open (lun_thin_journal.c, lun_thin_meta.c). */
struct thin_damage {
	uint32_t repaired;                  /* blocks recovered from their redundant copy */
	bool heal;                          /* rewrite superblocks and both checkpoints */
	uint64_t lost_blocks, lost_records; /* salvage: journal blocks dropped */
	char first[320];                    /* the first one, as logged */
};

struct lun_thin_pool {
	pthread_mutex_t lock;
	/* geometry */
	struct lun_backend *data;
	uint32_t chunk_size, chunk_shift;
	uint64_t nr_chunks;
	/* chunk state */
	uint32_t *ref;     /* mappings (+1 while an allocation is in flight) */
	uint16_t *pins;    /* data I/Os in flight; THIN_PIN_FREE bit */
	uint64_t *freemap; /* bit set = allocatable */
	uint64_t nfree, cursor;
	/* volumes */
	struct thin_vol **vols;
	uint32_t nvols, capvols;
	struct thin_seg *pend[THIN_PEND_BUCKETS];
	/* low water */
	uint64_t lw, lw_gen;
	bool lw_below;
	void (*lw_cb)(void *, uint64_t);
	void *lw_arg;
	bool failed;
	void *zero; /* chunk_size zeros, read-only */
	/* metadata file (service thread only after open) */
	int fd;
	uint32_t fmt; /* THIN_FMT_V1 until converted at open, or THIN_FMT */
	bool salvage; /* open: drop what follows an unrepairable journal block */
	struct thin_damage dmg;
	uint64_t jsize, jpos, jseq; /* ring size, next write offset in ring, next seq */
	uint64_t jused, jlive;      /* bytes since the newest / the older checkpoint */
	uint64_t ck_gen;
	int ck_slot; /* slot holding ck_gen */
	uint64_t body_off[2], body_cap[2];
	/* service thread */
	pthread_t thr;
	bool thr_started;
	struct kloop *svc;
	struct thin_seg *batch, **batch_tail; /* arriving */
	struct thin_seg *flushing;            /* data flush in flight for these */
	struct thin_seg *ready;               /* flushed, waiting for the journal */
	struct thin_seg *journaling;          /* journal write in flight for these */
	struct thin_jblock jb;
	struct kloop_completion jc;
	struct thin_ctl *ctlq, **ctlq_tail;
	struct lun_io flush_io;
	pthread_mutex_t ctl_mu;
	pthread_cond_t ctl_cv;
};

/* ---- lun_thin_meta.c ---- */
uint32_t thin_crc(const void *buf, size_t len);
int thin_pwrite(int fd, const void *buf, size_t len, uint64_t off);
int thin_pread(int fd, void *buf, size_t len, uint64_t off);
int thin_sb_write(struct lun_thin_pool *pool);
int thin_sb_read(struct lun_thin_pool *pool, char *err, size_t errlen);
int thin_checkpoint(struct lun_thin_pool *pool);
int thin_load(struct lun_thin_pool *pool, char *err, size_t errlen);

/* ---- lun_thin_format.c ---- */
/* Create's metadata file (fd in pool->fd), after the refusals of
 * lun_thin_pool_create; open's (sets pool->salvage; -1 and errno). */
int thin_meta_create(struct lun_thin_pool *pool, const struct lun_thin_pool_params *p, char *err,
		     size_t errlen);
int thin_meta_open(struct lun_thin_pool *pool, const struct lun_thin_pool_params *p);

/* ---- lun_thin_journal.c ---- */
int thin_replay(struct lun_thin_pool *pool, char *err, size_t errlen);
void thin_damage_note(struct lun_thin_pool *pool, const char *what);
int thin_journal_append(struct lun_thin_pool *pool, const struct thin_rec *recs, unsigned n);
int thin_journal_prepare(struct lun_thin_pool *pool, const struct thin_rec *recs, unsigned n,
			 struct thin_jblock *jb);
void thin_journal_advance(struct lun_thin_pool *pool, struct thin_jblock *jb);
uint64_t thin_journal_block_len(unsigned nrec);

/* ---- lun_thin_pool.c ---- */
struct thin_vol *thin_vol_find(struct lun_thin_pool *pool, uint32_t id);
uint32_t *thin_map_slot(struct thin_vol *v, uint64_t vc, bool create);
uint32_t thin_map_get(const struct thin_vol *v, uint64_t vc);
int thin_apply(struct lun_thin_pool *pool, const struct thin_rec *r, bool live);
int thin_rebuild_refs(struct lun_thin_pool *pool);
int thin_chunks_resize(struct lun_thin_pool *pool, uint64_t n);
int thin_alloc(struct lun_thin_pool *pool, uint32_t *p);
void thin_ref_dec(struct lun_thin_pool *pool, uint32_t p);
void thin_pin(struct lun_thin_pool *pool, uint32_t p);
void thin_unpin(struct lun_thin_pool *pool, uint32_t p);
void thin_commit_post(struct lun_thin_pool *pool, struct thin_seg *s);
/* Control thread: run c on the service thread and wait for its result;
 * thin_ctl_record: journal and apply one record that way. */
int thin_ctl_call(struct lun_thin_pool *pool, struct thin_ctl *c);
int thin_ctl_record(struct lun_thin_pool *pool, struct thin_rec r);
/* Lock held: raise the low-water event if free chunks fell below the mark. */
void thin_low_water_check(struct lun_thin_pool *pool);

/* LUN_OP_COPY of a volume (lun_thin_share.c). */
void thin_submit_copy(struct lun_backend *be, struct lun_io *io);

/* Any thread: run c->fn(pool, c->arg) on the service thread as
 * thin_ctl_run does, without waiting: c->done_cb(c) is called there with
 * c->result set (it posts to the caller's loop). c lives until then. */
void thin_ctl_post(struct lun_thin_pool *pool, struct thin_ctl *c);
/* Control thread: run fn on the service thread between journal blocks, as
 * control operations run (it may thin_journal_append, then must apply what
 * it journaled), and wait for its result. A checkpoint may follow. */
int thin_ctl_run(struct lun_thin_pool *pool, int (*fn)(struct lun_thin_pool *, void *), void *arg);
struct thin_seg **thin_pend_head(struct lun_thin_pool *pool, const struct thin_vol *v, uint64_t vc);
void thin_vol_free(struct thin_vol *v);
/* Stop the service thread and free the pool; checkpoint=false drops it as a
 * crash would (tests). */
void thin_pool_shutdown(struct lun_thin_pool *pool, bool checkpoint, int *result);

/* ---- lun_thin_io.c ---- */
struct thin_open;
int thin_open_backend(struct lun_thin_pool *pool, struct thin_vol *v, uint32_t block_size,
		      struct lun_backend **out);
/* The open volume behind be, or NULL if be is not a thin volume. */
struct thin_open *thin_open_of(struct lun_backend *be);
/* Service thread, lock held: a committed segment's map update. */
void thin_seg_apply(struct lun_thin_pool *pool, struct thin_seg *s);
void thin_seg_rec(const struct thin_seg *s, struct thin_rec *r);
/* Service thread, lock not held: hand s and its waiters back to their loops. */
void thin_seg_committed(struct thin_seg *s, int result);
void thin_seg_abort_locked(struct lun_thin_pool *pool, struct thin_seg *s);
struct thin_seg *thin_seg_take_waiters(struct lun_thin_pool *pool, struct thin_seg *s);
void thin_seg_redrive(struct thin_seg *waiters);
#endif
