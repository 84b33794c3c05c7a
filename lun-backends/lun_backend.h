/* SPDX-License-Identifier: Apache-2.0 */
/* The LUN backend interface: the storage under a logical unit.
 *
 * The SCSI layer (target/) decodes CDBs into the byte-addressed operations
 * below and submits them here; it never sees a file descriptor. Backends
 * stack as layers (thin pool -> RAID -> file), each one a lun_backend whose
 * ops submit lun_io's to the layer beneath, so every layer has this same
 * interface.
 *
 * Capabilities are declared: ops->caps (LUN_CAP_*) says what the backend
 * does natively, and the SCSI layer advertises and uses features from that
 * declaration alone, never from the kind (absent => it emulates, e.g.
 * write_zeroes by writing a zero buffer, or advertises the feature as
 * absent, e.g. no unmap => LBPME=0). A declared capability has its op; an
 * op without its capability is never called by the SCSI layer.
 *
 * COPY (EXTENDED COPY offload) is the one op every backend has: with
 * LUN_IO_COPY_SHARE a backend that declares LUN_CAP_COPY_SHARE maps what it
 * can of the range to the source's storage (no data moves; the others do
 * nothing); without it, the range is copied, by the backend's own
 * submit_copy or by the generic read-then-write copy (lun_copy.c) through
 * the caller's bounce buffer, on io->loop.
 *
 * Threading: a backend object is shared by every worker thread. submit() is
 * called on a worker thread whose kloop is given in io->loop; the backend
 * does its I/O through that loop's io_uring (kloop_sqe) or any other
 * non-blocking means, and calls io->done(io) on that same thread, always
 * after submit() has returned (never inline: use kloop_defer for immediate
 * completions). Backends keep any per-thread state keyed by the loop.
 *
 * Not for: SCSI semantics (sense data, unit attentions, reservations), which
 * belong to target/.
 */
#ifndef KURA_LUN_BACKEND_H
#define KURA_LUN_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "common/kloop.h"

enum lun_op {
	LUN_OP_READ,
	LUN_OP_WRITE,             /* honours LUN_IO_FUA */
	LUN_OP_FLUSH,             /* make all completed writes durable */
	LUN_OP_UNMAP,             /* deallocate; reads return zeros afterwards */
	LUN_OP_WRITE_ZEROES,      /* LUN_IO_UNMAP: may deallocate instead of writing */
	LUN_OP_COMPARE_AND_WRITE, /* iov holds 2*length bytes: compare data, then write data */
	LUN_OP_BLOCK_STATUS,      /* out: bs_mapped, bs_length for the extent at offset */
	LUN_OP_COPY,              /* copy length bytes from copy_src at copy_src_offset to offset */
};

/* Capabilities (struct lun_backend_ops.caps). */
#define LUN_CAP_FLUSH        (1u << 0) /* FLUSH writes a volatile cache back (SYNCHRONIZE CACHE) */
#define LUN_CAP_UNMAP        (1u << 1) /* UNMAP deallocates: logical block provisioning (LBPME) */
#define LUN_CAP_WRITE_ZEROES (1u << 2) /* WRITE_ZEROES offload (WRITE SAME of zeros) */
#define LUN_CAP_ATOMIC_CAW   (1u << 3) /* COMPARE_AND_WRITE atomic in the backend */
#define LUN_CAP_BLOCK_STATUS \
	(1u << 4)                    /* thin provisioning status: mapped or hole (GET LBA STATUS) */
#define LUN_CAP_COPY_SHARE (1u << 5) /* COPY by reference within one copy_domain */
/* ops->shared_state: a record per LUN shared by every server of the same
 * storage (several gateways in front of one RBD image) */
#define LUN_CAP_SHARED_STATE (1u << 6)

#define LUN_IO_FUA           (1u << 0) /* write through to stable storage before done */
#define LUN_IO_UNMAP         (1u << 1) /* WRITE_ZEROES may deallocate */
#define LUN_IO_COPY_SHARE \
	(1u << 2) /* COPY: by reference only; the part done in copy_skip/copy_bytes */

struct lun_io {
	enum lun_op op;
	unsigned flags;
	uint64_t offset;   /* bytes, multiple of the block size */
	uint64_t length;   /* bytes; 0 allowed for FLUSH (= whole device) */
	struct iovec *iov; /* READ destination / WRITE source / CAW compare+write /
				    COPY bounce buffer of length bytes */
	int iovcnt;
	struct kloop *loop; /* the submitting worker's loop */
	void (*done)(struct lun_io *io);
	void *priv;                   /* for the submitter */
	struct lun_backend *copy_src; /* COPY: the source (same block size) */
	uint64_t copy_src_offset;     /* COPY: bytes */

	/* results */
	int result;                 /* 0 or -errno; -EILSEQ = miscompare (CAW) */
	uint64_t miscompare_offset; /* CAW: byte offset within the range of the first difference */
	bool bs_mapped;             /* BLOCK_STATUS: extent at offset is mapped (true) or a hole */
	uint64_t bs_length;         /* BLOCK_STATUS: bytes in that extent (>= block size) */
	uint64_t copy_skip;  /* COPY_SHARE: [copy_skip, copy_skip + copy_bytes) of the range */
	uint64_t copy_bytes; /*   was shared; the caller copies the rest */

	void *backend_priv[4]; /* scratch for the backend while in flight */
};

struct lun_backend;

/* LUN_CAP_SHARED_STATE: a small versioned record that every server opening
 * the same storage reads and replaces (the SCSI layer keeps a LUN's
 * persistent reservations in it, so that they hold across gateways). The
 * record has a sequence number, 0 before it was ever written, advanced by
 * one at each replacement. */
struct lun_shared_state_ops {
	/* The current record: 0 with *buf (malloc'd, NULL with *len 0 when
	 * never written) and *seq, or -errno. Blocks: call it from a helper or
	 * control thread, never from a worker's loop. */
	int (*load)(struct lun_backend *be, uint8_t **buf, size_t *len, uint64_t *seq);
	/* Replace the record if it is still at seq (compare-and-swap; it
	 * becomes seq + 1), then have every other server watching it run its
	 * changed() and wait for them; a server that does not answer in time
	 * is cut off from the storage (its I/O fails from then on) rather than
	 * left with a stale copy. done(arg, 0 | -ECANCELED when the record had
	 * moved on | -errno) runs on a helper thread; buf stays the caller's
	 * only until store() returns. Never blocks. */
	void (*store)(struct lun_backend *be, uint64_t seq, const uint8_t *buf, size_t len,
		      void (*done)(void *arg, int result), void *arg);
	/* Watch the record: changed(arg) runs on a helper thread each time
	 * another server replaced it (that server's store waits until it
	 * returns); lost(arg, -errno) when this server lost its watch or was
	 * cut off. One watcher per backend; 0 or -errno. */
	int (*watch)(struct lun_backend *be, void (*changed)(void *arg),
		     void (*lost)(void *arg, int err), void *arg);
	/* Stop calling changed() / lost(); returns once none runs. */
	void (*unwatch)(struct lun_backend *be);
};

struct lun_backend_ops {
	const char *name;
	unsigned caps; /* LUN_CAP_* the backend declares */
	/* Required. */
	void (*submit_read)(struct lun_backend *be, struct lun_io *io);
	void (*submit_write)(struct lun_backend *be, struct lun_io *io);
	/* Optional: NULL = capability absent. */
	void (*submit_flush)(struct lun_backend *be, struct lun_io *io);
	void (*submit_unmap)(struct lun_backend *be, struct lun_io *io);
	void (*submit_write_zeroes)(struct lun_backend *be, struct lun_io *io);
	void (*submit_compare_and_write)(struct lun_backend *be, struct lun_io *io);
	void (*submit_block_status)(struct lun_backend *be, struct lun_io *io);
	/* NULL: the generic read-then-write copy (and nothing shared). */
	void (*submit_copy)(struct lun_backend *be, struct lun_io *io);
	/* LUN_CAP_SHARED_STATE, else NULL. */
	const struct lun_shared_state_ops *shared_state;
	/* Release everything; called once no I/O is in flight. */
	void (*close)(struct lun_backend *be);
	/* Optional: the backend learns of size changes made elsewhere (an RBD
	 * image resized by any Ceph client). See lun_backend_watch_size. */
	void (*watch_size)(struct lun_backend *be, void (*cb)(void *arg), void *arg);
};

struct lun_backend {
	const struct lun_backend_ops *ops;
	uint64_t size;              /* bytes */
	uint32_t block_size;        /* 512 or 4096 */
	uint32_t optimal_io;        /* bytes, 0 = unknown */
	uint32_t unmap_granularity; /* bytes, 0 = block size */
	bool read_only;
	bool zeroes_after_unmap;   /* LBPRZ: unmapped blocks read as zeros */
	bool volatile_cache;       /* writes may sit in a cache until FLUSH (WCE) */
	const void *copy_domain;   /* LUN_CAP_COPY_SHARE: backends that can share storage */
	uint32_t copy_granularity; /* bytes of the unit shared (a thin pool's chunk) */
	/* A stable name of the storage itself, the same from every server
	 * that opens it (an RBD image: cluster fsid, pool id, image id), or
	 * NULL. The SCSI layer derives the LU's NAA designator and serial
	 * from it, so that several gateways report one LU without extra keys. */
	const char *unit_id;
	void *priv;
};

/* Parameters for opening a backend; keys come from a [lun] config section. */
/* How many keys of its own a kind may take in a [lun] section. */
#define LUN_KIND_KEYS_MAX 8

struct lun_backend_params {
	const char *type; /* "file" or "memory" */
	const char *path; /* file / block device (file) */
	/* bytes: create a sparse file of this size if missing (file), or the size (memory) */
	uint64_t size;
	uint32_t block_size; /* 512 or 4096 */
	bool direct;         /* O_DIRECT (file) */
	bool read_only;
	bool create; /* create the file if it does not exist */
	/* The [lun] keys of a kind that has no field above (a new kind's, such
	 * as a Ceph image name): its key table validates each value and stores
	 * it here with lun_conf_kind_key (lun_registry.h); its open reads them
	 * with lun_params_get. Strings belong to the configuration. */
	struct lun_kind_kv {
		const char *key, *value;
	} kind_keys[LUN_KIND_KEYS_MAX];
	int n_kind_keys;
};

/* The value of a kind's own [lun] key (kind_keys), or NULL if not given. */
const char *lun_params_get(const struct lun_backend_params *p, const char *key);

/* Open a backend of params->type. 0 or -errno; *err gets a human reason. */
int lun_backend_open(const struct lun_backend_params *params, struct lun_backend **out, char *err,
		     size_t errlen);
void lun_backend_close(struct lun_backend *be);

/* Submit io to be (dispatches on io->op; an absent op completes with -EOPNOTSUPP). */
void lun_submit(struct lun_backend *be, struct lun_io *io);

/* Call cb(arg) on a thread of the backend's each time it finds that the
 * storage changed size by itself (be->size holds the new size by then);
 * cb = NULL stops it, and once that call returns cb runs no more. A no-op
 * for backends whose size changes only through kura (lun_file_grow). */
void lun_backend_watch_size(struct lun_backend *be, void (*cb)(void *arg), void *arg);

/* True if the backend provides op natively (the op function; tests and
 * stacking layers). The SCSI layer reads lun_backend_caps instead. */
bool lun_backend_has(const struct lun_backend *be, enum lun_op op);
/* The declared capabilities (LUN_CAP_*). */
unsigned lun_backend_caps(const struct lun_backend *be);
/* Every declared capability has its op and every optional op its
 * capability (LUN_CAP_ATOMIC_CAW <-> compare_and_write, ...). */
bool lun_backend_caps_consistent(const struct lun_backend *be);
/* COPY_SHARE between src and dst can map something: both declare it, in one
 * domain; *granularity: the unit shared. */
bool lun_copy_can_share(const struct lun_backend *src, const struct lun_backend *dst,
			uint32_t *granularity);

/* Backend constructors (called by lun_backend_open). */
int lun_file_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		  size_t errlen);
/* Grow an open file backend on a regular file to size bytes (rounded down
 * to the block size), online: the file is extended sparse through the open
 * descriptor and be->size follows. -EOPNOTSUPP for any other backend (block
 * devices included), -EINVAL if size is not larger. Callers serialize it
 * with anything reading be->size. */
int lun_file_grow(struct lun_backend *be, uint64_t size);
int lun_mem_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		 size_t errlen);
#endif
