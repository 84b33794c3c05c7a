/* SPDX-License-Identifier: Apache-2.0 */
/* The file backend: a LUN stored in a regular file or a block device.
 *
 * Data path: every read, write, flush and fallocate goes through the io_uring
 * of the submitting worker (kloop_sqe on io->loop) and completes from that
 * loop's CQE callback, so one LUN is driven from every worker at once with no
 * lock. Short transfers are resubmitted for the remainder. Per-I/O state
 * lives in io->backend_priv (struct lf_io); the data path allocates nothing
 * except a copied iovec when a remainder starts inside an iovec entry.
 *
 * Inline fast path: a read whose data is in the page cache is done with
 * preadv2(RWF_NOWAIT) on the loop thread (a memcpy; io_uring would do the same
 * work plus a CQE round trip), falling back to io_uring on EAGAIN. tmpfs has
 * no RWF_NOWAIT and io_uring punts its reads and writes to io-wq threads (a
 * cross-CPU wake-up per I/O, measured at 42 us of target CPU per 4K read vs
 * 16 us on the memory backend), but tmpfs never waits on a disk, so on tmpfs
 * reads and writes of up to LF_INLINE_MAX are done synchronously. Both
 * complete with kloop_defer, never inline.
 *
 * Synchronous exceptions (run on the loop thread, completed with kloop_defer):
 *  - BLKDISCARD for UNMAP on block devices (no async discard in io_uring of
 *    kernel 6.1; a discard is a metadata operation, typically sub-ms);
 *  - lseek(SEEK_DATA/SEEK_HOLE) for BLOCK STATUS (metadata only).
 * WRITE ZEROES uses io_uring fallocate (ZERO_RANGE, or PUNCH_HOLE when
 * LUN_IO_UNMAP allows deallocation); that works for files and for block
 * devices (where the kernel turns it into WRITE ZEROES, like BLKZEROOUT but
 * asynchronous). If the file system refuses (tmpfs has no ZERO_RANGE) we
 * write zeros from a per-LUN zero buffer, and remember the refusal.
 *
 * COMPARE AND WRITE reads into a scratch kbuf, compares, then writes. It is
 * not atomic by itself: the SCSI layer guarantees that no other command
 * touching the range runs between the read and the write.
 *
 * With O_DIRECT the caller's buffers must be aligned to the device's DIO
 * alignment (kbuf buffers are page aligned); open probes one aligned read so
 * a file system that refuses O_DIRECT is reported then, not at first I/O.
 *
 * Not for: SCSI semantics, or caching of any kind.
 */
#include "lun-backends/lun_internal.h"
#include "common/kbuf.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LF_ZERO_LEN   (64u * 1024) /* zero buffer; writev of up to LF_ZERO_IOVS of it */
#define LF_ZERO_IOVS  16
#define LF_CAW_MAX    ((uint64_t)16 << 20)
#define LF_MAX_OP     (1u << 30)    /* bytes per read/write SQE (kernel caps near 2 GiB) */
#define LF_INLINE_MAX (256u * 1024) /* largest I/O done inline on a memory file system */

struct lun_file {
	struct lun_backend be;
	int fd;
	bool blockdev;
	bool mem_fs;               /* tmpfs: synchronous I/O never waits on a disk */
	bool nowait_read;          /* preadv2(RWF_NOWAIT) works: try cache hits inline */
	atomic_bool no_zero_range; /* fs refused FALLOC_FL_ZERO_RANGE once */
	void *zero;                /* LF_ZERO_LEN zeros, page aligned; read-only after open */
	struct iovec zero_iov[LF_ZERO_IOVS];
};

static struct lun_file *lf_of(struct lun_backend *be)
{
	return be->priv;
}

/* In-flight state, overlaid on io->backend_priv (4 words):
 *   word 0: completion fn / task fn     word 1: lf (task.next while queued)
 *   word 2: done                        word 3: aux
 * While a CAW waits for a scratch buffer, the task's next link overwrites
 * lf, so lf is parked in aux meanwhile. */
struct lf_io {
	union {
		struct kloop_completion c; /* io_uring completion */
		struct kloop_task t;       /* kbuf_wait retry (CAW scratch) */
		struct {
			void *fn;
			struct lun_file *lf;
		} b;
	} u;
	uint64_t done; /* bytes transferred in the current phase */
	void *aux;     /* heap iovec copy (rw phase) or CAW scratch kbuf (compare phase) */
};
lun_priv_fits(struct lf_io);

static struct lf_io *st_of(struct lun_io *io)
{
	return lun_priv(io, struct lf_io);
}
static struct lun_io *io_of_c(struct kloop_completion *c)
{
	return lun_io_of_priv(c);
}

static void lf_finish(struct lun_io *io, int res)
{
	struct lf_io *st = st_of(io);
	free(st->aux);
	st->aux = NULL;
	io->result = res;
	io->done(io);
}

static void lf_start(struct lun_backend *be, struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	st->u.b.lf = be->priv;
	st->done = 0;
	st->aux = NULL;
}

static struct io_uring_sqe *lf_sqe(struct lun_io *io,
				   void (*fn)(struct kloop_completion *, int, uint32_t))
{
	struct io_uring_sqe *sqe = kloop_sqe(io->loop);
	if (sqe)
		st_of(io)->u.c.fn = fn;
	return sqe;
}

static void lf_sqe_done(struct lun_io *io, struct io_uring_sqe *sqe)
{
	kloop_sqe_done(io->loop, sqe, &st_of(io)->u.c);
}

/* ---- read / write (and the write phase of CAW) ---- */

/* Where this phase's data starts in io->iov: CAW writes the second half. */
static uint64_t rw_base(const struct lun_io *io)
{
	return io->op == LUN_OP_COMPARE_AND_WRITE ? io->length : 0;
}

static void rw_done(struct kloop_completion *c, int res, uint32_t flags);

/* Describe iov from byte skip to its end: one segment (ptr,len) if it fits
 * in one entry, else an iovec array (io->iov itself when skip falls on an
 * entry boundary, else a heap copy kept in st->aux). */
static int rw_window(struct lun_io *io, uint64_t skip, const struct iovec **iov, int *cnt,
		     size_t *seg_skip)
{
	int k = 0;
	while (k < io->iovcnt && skip >= io->iov[k].iov_len)
		skip -= io->iov[k++].iov_len;
	if (skip == 0 || k == io->iovcnt - 1) {
		*iov = &io->iov[k];
		*cnt = io->iovcnt - k;
		*seg_skip = (size_t)skip;
		return 0;
	}
	struct lf_io *st = st_of(io);
	struct iovec *copy = realloc(st->aux, sizeof(*copy) * (size_t)(io->iovcnt - k));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, &io->iov[k], sizeof(*copy) * (size_t)(io->iovcnt - k));
	copy[0].iov_base = (char *)copy[0].iov_base + skip;
	copy[0].iov_len -= skip;
	st->aux = copy;
	*iov = copy;
	*cnt = io->iovcnt - k;
	*seg_skip = 0;
	return 0;
}

static void prep_rw(struct io_uring_sqe *sqe, struct lun_io *io, int fd, const struct iovec *iov,
		    int cnt, size_t skip, uint64_t off)
{
	bool wr = io->op != LUN_OP_READ;
	if (cnt == 1) {
		void *p = (char *)iov->iov_base + skip;
		size_t left = iov->iov_len - skip;
		/* one op moves at most LF_MAX_OP; the short-transfer loop does the rest */
		unsigned n = (unsigned)(left > LF_MAX_OP ? LF_MAX_OP : left);
		if (wr)
			io_uring_prep_write(sqe, fd, p, n, off);
		else
			io_uring_prep_read(sqe, fd, p, n, off);
	} else if (wr) {
		io_uring_prep_writev(sqe, fd, iov, (unsigned)cnt, off);
	} else {
		io_uring_prep_readv(sqe, fd, iov, (unsigned)cnt, off);
	}
	if (wr && (io->flags & LUN_IO_FUA))
		sqe->rw_flags = RWF_DSYNC;
}

static void rw_issue(struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	const struct iovec *iov;
	int cnt;
	size_t skip;
	int r = rw_window(io, rw_base(io) + st->done, &iov, &cnt, &skip);
	if (r < 0)
		return lf_finish(io, r);
	struct io_uring_sqe *sqe = lf_sqe(io, rw_done);
	if (!sqe)
		return lf_finish(io, -EIO);
	prep_rw(sqe, io, st->u.b.lf->fd, iov, cnt, skip, io->offset + st->done);
	lf_sqe_done(io, sqe);
}

static void rw_done(struct kloop_completion *c, int res, uint32_t flags)
{
	struct lun_io *io = io_of_c(c);
	struct lf_io *st = st_of(io);
	if (res == -EINTR || res == -EAGAIN)
		return rw_issue(io);
	if (res <= 0) /* 0: end of file inside the LUN (file truncated under us) */
		return lf_finish(io, res < 0 ? res : -EIO);
	st->done += (uint64_t)res;
	if (st->done < io->length)
		return rw_issue(io); /* short transfer: send the rest */
	lf_finish(io, 0);
}

/* The inline fast path (see the file comment): true if it took io. A
 * partial cache hit keeps what it read and lets io_uring do the rest. */
static bool rw_inline(struct lun_file *lf, struct lun_io *io)
{
	bool wr = io->op == LUN_OP_WRITE;
	bool sync_ok = lf->mem_fs && io->length <= LF_INLINE_MAX;
	if (!sync_ok && (wr || !lf->nowait_read))
		return false;
	int flags = sync_ok ? 0 : RWF_NOWAIT;
	if (wr && (io->flags & LUN_IO_FUA))
		flags |= RWF_DSYNC;
	ssize_t n = wr ? pwritev2(lf->fd, io->iov, io->iovcnt, (off_t)io->offset, flags)
		       : preadv2(lf->fd, io->iov, io->iovcnt, (off_t)io->offset, flags);
	if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP || errno == EINTR))
		return false;
	if (n < 0 || (uint64_t)n == io->length) {
		lun_complete_later(io, n < 0 ? -errno : 0);
		return true;
	}
	if (n == 0)
		return false;
	st_of(io)->done = (uint64_t)n;
	return false;
}

static void lf_submit_rw(struct lun_backend *be, struct lun_io *io)
{
	lf_start(be, io);
	if (io->op != LUN_OP_COMPARE_AND_WRITE && rw_inline(be->priv, io))
		return;
	rw_issue(io);
}

/* ---- flush, fallocate-based ops ---- */

static void simple_done(struct kloop_completion *c, int res, uint32_t flags)
{
	lf_finish(io_of_c(c), res < 0 ? res : 0);
}

static void lf_submit_flush(struct lun_backend *be, struct lun_io *io)
{
	lf_start(be, io);
	struct io_uring_sqe *sqe = lf_sqe(io, simple_done);
	if (!sqe)
		return lf_finish(io, -EIO);
	io_uring_prep_fsync(sqe, lf_of(be)->fd, IORING_FSYNC_DATASYNC);
	lf_sqe_done(io, sqe);
}

static void falloc_issue(struct lun_io *io, int mode,
			 void (*fn)(struct kloop_completion *, int, uint32_t))
{
	struct io_uring_sqe *sqe = lf_sqe(io, fn);
	if (!sqe)
		return lf_finish(io, -EIO);
	io_uring_prep_fallocate(sqe, st_of(io)->u.b.lf->fd, mode, io->offset, io->length);
	lf_sqe_done(io, sqe);
}

static void lf_submit_punch(struct lun_backend *be, struct lun_io *io)
{
	lf_start(be, io);
	falloc_issue(io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, simple_done);
}

/* Block devices: discard is a synchronous ioctl (see the file comment). */
static void lf_submit_discard(struct lun_backend *be, struct lun_io *io)
{
	uint64_t range[2] = { io->offset, io->length };
	int r = ioctl(lf_of(be)->fd, BLKDISCARD, range) ? -errno : 0;
	lun_complete_later(io, r);
}

/* ---- write zeroes ---- */

static void zfill_done(struct kloop_completion *c, int res, uint32_t flags);

/* Write zeros from the shared buffer: writev of up to LF_ZERO_IOVS copies,
 * or a plain write for a tail shorter than the buffer. */
static void zfill_issue(struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	struct lun_file *lf = st->u.b.lf;
	uint64_t rem = io->length - st->done, off = io->offset + st->done;
	struct io_uring_sqe *sqe = lf_sqe(io, zfill_done);
	if (!sqe)
		return lf_finish(io, -EIO);
	if (rem >= LF_ZERO_LEN) {
		uint64_t n = rem / LF_ZERO_LEN;
		io_uring_prep_writev(sqe, lf->fd, lf->zero_iov,
				     n > LF_ZERO_IOVS ? LF_ZERO_IOVS : (unsigned)n, off);
	} else {
		io_uring_prep_write(sqe, lf->fd, lf->zero, (unsigned)rem, off);
	}
	lf_sqe_done(io, sqe);
}

static void zfill_done(struct kloop_completion *c, int res, uint32_t flags)
{
	struct lun_io *io = io_of_c(c);
	struct lf_io *st = st_of(io);
	if (res == -EINTR || res == -EAGAIN)
		return zfill_issue(io);
	if (res <= 0)
		return lf_finish(io, res < 0 ? res : -EIO);
	st->done += (uint64_t)res;
	if (st->done < io->length)
		return zfill_issue(io);
	lf_finish(io, 0);
}

static void zero_range_done(struct kloop_completion *c, int res, uint32_t flags)
{
	struct lun_io *io = io_of_c(c);
	if (res == -EOPNOTSUPP || res == -EINVAL) {
		atomic_store_explicit(&st_of(io)->u.b.lf->no_zero_range, true,
				      memory_order_relaxed);
		return zfill_issue(io);
	}
	lf_finish(io, res < 0 ? res : 0);
}

static void lf_submit_write_zeroes(struct lun_backend *be, struct lun_io *io)
{
	struct lun_file *lf = lf_of(be);
	lf_start(be, io);
	if (io->flags & LUN_IO_UNMAP)
		falloc_issue(io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, zero_range_done);
	else if (atomic_load_explicit(&lf->no_zero_range, memory_order_relaxed))
		zfill_issue(io);
	else
		falloc_issue(io, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, zero_range_done);
}

/* ---- compare and write ---- */

static void caw_read_done(struct kloop_completion *c, int res, uint32_t flags);

static void caw_read_issue(struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	struct io_uring_sqe *sqe = lf_sqe(io, caw_read_done);
	if (!sqe) {
		kbuf_free(st->aux);
		st->aux = NULL;
		return lf_finish(io, -EIO);
	}
	io_uring_prep_read(sqe, st->u.b.lf->fd, (char *)st->aux + st->done,
			   (unsigned)(io->length - st->done), io->offset + st->done);
	lf_sqe_done(io, sqe);
}

static void caw_compare(struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	size_t diff = kiov_cmp(io->iov, io->iovcnt, 0, st->aux, io->length);
	kbuf_free(st->aux);
	st->aux = NULL;
	if (diff < io->length) {
		io->miscompare_offset = diff;
		return lf_finish(io, -EILSEQ);
	}
	st->done = 0;
	rw_issue(io); /* write phase: second half of the iovec */
}

static void caw_read_done(struct kloop_completion *c, int res, uint32_t flags)
{
	struct lun_io *io = io_of_c(c);
	struct lf_io *st = st_of(io);
	if (res == -EINTR || res == -EAGAIN)
		return caw_read_issue(io);
	if (res <= 0) {
		kbuf_free(st->aux);
		st->aux = NULL;
		return lf_finish(io, res < 0 ? res : -EIO);
	}
	st->done += (uint64_t)res;
	if (st->done < io->length)
		return caw_read_issue(io);
	caw_compare(io);
}

static void caw_start(struct lun_io *io)
{
	struct lf_io *st = st_of(io);
	void *scratch = kbuf_alloc(io->length);
	if (!scratch) { /* out of memory: queue, do not fail (STYLE) */
		st->aux = st->u.b.lf;
		kbuf_wait(&st->u.t);
		return;
	}
	st->aux = scratch;
	st->done = 0;
	caw_read_issue(io);
}

static void caw_retry(struct kloop_task *t)
{
	struct lun_io *io = lun_io_of_priv(t);
	struct lf_io *st = st_of(io);
	st->u.b.lf = st->aux;
	st->aux = NULL;
	st->u.t.fn = caw_retry;
	caw_start(io);
}

static void lf_submit_caw(struct lun_backend *be, struct lun_io *io)
{
	if (io->length > LF_CAW_MAX)
		return lun_complete_later(io, -EINVAL);
	lf_start(be, io);
	st_of(io)->u.t.fn = caw_retry;
	caw_start(io);
}

/* ---- block status ---- */

/* Extent at off from SEEK_DATA/SEEK_HOLE; no support (EINVAL, block devices,
 * some file systems) means everything is mapped. */
static void extent_at(struct lun_file *lf, uint64_t off, bool *mapped, uint64_t *end)
{
	uint64_t size = lf->be.size;
	off_t data = lseek(lf->fd, (off_t)off, SEEK_DATA);
	*mapped = true;
	*end = size;
	if (data < 0) {
		if (errno == ENXIO) /* no data from off to EOF */
			*mapped = false;
		return;
	}
	if ((uint64_t)data > off) {
		*mapped = false;
		*end = (uint64_t)data < size ? (uint64_t)data : size;
		return;
	}
	off_t hole = lseek(lf->fd, (off_t)off, SEEK_HOLE);
	if (hole >= 0 && (uint64_t)hole < size)
		*end = (uint64_t)hole;
}

static void lf_submit_block_status(struct lun_backend *be, struct lun_io *io)
{
	uint64_t end;
	extent_at(lf_of(be), io->offset, &io->bs_mapped, &end);
	uint64_t len = end > io->offset ? end - io->offset : 0;
	len -= len % be->block_size;
	io->bs_length = len ? len : be->block_size;
	lun_complete_later(io, 0);
}

/* ---- open / close ---- */

static void lf_close(struct lun_backend *be)
{
	struct lun_file *lf = lf_of(be);
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->zero);
	free(lf);
}

static const struct lun_backend_ops file_ops = {
	.name = "file",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_ATOMIC_CAW |
		LUN_CAP_BLOCK_STATUS,
	.submit_read = lf_submit_rw,
	.submit_write = lf_submit_rw,
	.submit_flush = lf_submit_flush,
	.submit_unmap = lf_submit_punch,
	.submit_write_zeroes = lf_submit_write_zeroes,
	.submit_compare_and_write = lf_submit_caw,
	.submit_block_status = lf_submit_block_status,
	.close = lf_close,
};

static const struct lun_backend_ops blk_ops = {
	.name = "file",
	.caps = LUN_CAP_FLUSH | LUN_CAP_UNMAP | LUN_CAP_WRITE_ZEROES | LUN_CAP_ATOMIC_CAW |
		LUN_CAP_BLOCK_STATUS,
	.submit_read = lf_submit_rw,
	.submit_write = lf_submit_rw,
	.submit_flush = lf_submit_flush,
	.submit_unmap = lf_submit_discard,
	.submit_write_zeroes = lf_submit_write_zeroes,
	.submit_compare_and_write = lf_submit_caw,
	.submit_block_status = lf_submit_block_status,
	.close = lf_close,
};

/* Same as blk_ops for devices that cannot discard: no UNMAP (LBPME=0). */
static const struct lun_backend_ops blk_nodiscard_ops = {
	.name = "file",
	.caps = LUN_CAP_FLUSH | LUN_CAP_WRITE_ZEROES | LUN_CAP_ATOMIC_CAW | LUN_CAP_BLOCK_STATUS,
	.submit_read = lf_submit_rw,
	.submit_write = lf_submit_rw,
	.submit_flush = lf_submit_flush,
	.submit_write_zeroes = lf_submit_write_zeroes,
	.submit_compare_and_write = lf_submit_caw,
	.submit_block_status = lf_submit_block_status,
	.close = lf_close,
};

/* Read a small number from /sys/dev/block/M:m/queue/<attr>; 0 if absent. */
static uint64_t sysfs_queue_u64(dev_t rdev, const char *attr)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s", major(rdev), minor(rdev),
		 attr);
	FILE *f = fopen(path, "re");
	unsigned long long v = 0;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static bool sysfs_write_through(dev_t rdev)
{
	char path[128], buf[32] = "";
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/write_cache", major(rdev),
		 minor(rdev));
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return strncmp(buf, "write through", 13) == 0;
}

static int open_fd(const struct lun_backend_params *p, char *err, size_t errlen)
{
	int flags = O_CLOEXEC | (p->read_only ? O_RDONLY : O_RDWR) | (p->direct ? O_DIRECT : 0);
	int fd = open(p->path, flags);
	if (fd < 0 && errno == ENOENT && p->create && !p->read_only) {
		if (p->size == 0) {
			snprintf(err, errlen,
				 "%s does not exist and no size was given to create it", p->path);
			return -EINVAL;
		}
		fd = open(p->path, flags | O_CREAT | O_EXCL, 0600);
	}
	if (fd >= 0)
		return fd;
	int e = errno;
	if (e == EINVAL && p->direct)
		snprintf(err, errlen, "%s: the file system refuses O_DIRECT (direct=yes)", p->path);
	else if (e == ENOENT)
		snprintf(err, errlen, "%s does not exist (set create=yes and a size to create it)",
			 p->path);
	else
		snprintf(err, errlen, "cannot open %s: %s", p->path, strerror(e));
	return -e;
}

/* Size in bytes of the regular file or block device, extending a regular
 * file to p->size when creation is allowed. */
static int probe_size(struct lun_file *lf, const struct lun_backend_params *p,
		      const struct stat *st, uint64_t *size, char *err, size_t errlen)
{
	if (lf->blockdev) {
		if (ioctl(lf->fd, BLKGETSIZE64, size) == 0)
			return 0;
		snprintf(err, errlen, "%s: BLKGETSIZE64: %s", p->path, strerror(errno));
		return -errno;
	}
	*size = (uint64_t)st->st_size;
	if (p->size > *size && p->create && !p->read_only) {
		if (ftruncate(lf->fd, (off_t)p->size) != 0) {
			snprintf(err, errlen, "%s: cannot extend to %llu bytes: %s", p->path,
				 (unsigned long long)p->size, strerror(errno));
			return -errno;
		}
		*size = p->size;
	}
	return 0;
}

/* Some file systems accept O_DIRECT at open and refuse it at I/O time, or
 * need a larger alignment than the LUN block size: find out now. */
static int probe_direct(struct lun_file *lf, const struct lun_backend_params *p, char *err,
			size_t errlen)
{
	void *buf;
	if (posix_memalign(&buf, 4096, lf->be.block_size) != 0)
		return -ENOMEM;
	ssize_t n = pread(lf->fd, buf, lf->be.block_size, 0);
	int e = n < 0 ? errno : 0;
	free(buf);
	if (e == 0)
		return 0;
	if (e == EINVAL)
		snprintf(err, errlen,
			 "%s: O_DIRECT I/O of %u-byte blocks refused (file system without "
			 "direct I/O, or block size below its alignment)",
			 p->path, lf->be.block_size);
	else
		snprintf(err, errlen, "%s: O_DIRECT test read failed: %s", p->path, strerror(e));
	return -e;
}

/* Decide the inline fast path (not with O_DIRECT: that bypasses the cache). */
static void probe_inline(struct lun_file *lf, const struct lun_backend_params *p)
{
	if (p->direct || lf->blockdev)
		return;
	struct statfs sfs;
	lf->mem_fs = fstatfs(lf->fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
	char b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	lf->nowait_read = preadv2(lf->fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno == EAGAIN;
}

static int setup_zero(struct lun_file *lf)
{
	if (posix_memalign(&lf->zero, 4096, LF_ZERO_LEN) != 0) {
		lf->zero = NULL;
		return -ENOMEM;
	}
	memset(lf->zero, 0, LF_ZERO_LEN);
	for (int i = 0; i < LF_ZERO_IOVS; i++)
		lf->zero_iov[i] = (struct iovec){ .iov_base = lf->zero, .iov_len = LF_ZERO_LEN };
	return 0;
}

static void describe(struct lun_file *lf, const struct lun_backend_params *p, const struct stat *st)
{
	struct lun_backend *be = &lf->be;
	be->read_only = p->read_only;
	be->priv = lf;
	if (!lf->blockdev) {
		be->ops = &file_ops;
		be->zeroes_after_unmap = true; /* punched holes read as zeros */
		be->volatile_cache = true;     /* page cache (and the disk's cache below it) */
		be->unmap_granularity = (uint32_t)st->st_blksize;
		return;
	}
	bool discard = sysfs_queue_u64(st->st_rdev, "discard_max_bytes") > 0;
	be->ops = discard ? &blk_ops : &blk_nodiscard_ops;
	be->zeroes_after_unmap = false; /* BLKDISCARD does not promise zeros */
	be->volatile_cache = !(p->direct && sysfs_write_through(st->st_rdev));
	be->unmap_granularity = (uint32_t)sysfs_queue_u64(st->st_rdev, "discard_granularity");
	be->optimal_io = (uint32_t)sysfs_queue_u64(st->st_rdev, "optimal_io_size");
}

static int check_params(const struct lun_backend_params *p, char *err, size_t errlen)
{
	if (!p->path || !*p->path) {
		snprintf(err, errlen, "file backend needs a path");
		return -EINVAL;
	}
	if (p->block_size && p->block_size != 512 && p->block_size != 4096) {
		snprintf(err, errlen, "block size %u not supported (512 or 4096)", p->block_size);
		return -EINVAL;
	}
	return 0;
}

static int lf_setup(struct lun_file *lf, const struct lun_backend_params *p, char *err,
		    size_t errlen)
{
	struct stat st;
	if (fstat(lf->fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", p->path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s is neither a regular file nor a block device", p->path);
		return -EINVAL;
	}
	lf->blockdev = S_ISBLK(st.st_mode);
	lf->be.block_size = p->block_size ? p->block_size : 512;
	uint64_t size;
	int r = probe_size(lf, p, &st, &size, err, errlen);
	if (r < 0)
		return r;
	lf->be.size = size - size % lf->be.block_size;
	if (lf->be.size == 0) {
		snprintf(err, errlen, "%s is smaller than one %u-byte block", p->path,
			 lf->be.block_size);
		return -EINVAL;
	}
	if (p->direct && (r = probe_direct(lf, p, err, errlen)) < 0)
		return r;
	probe_inline(lf, p);
	if ((r = setup_zero(lf)) < 0) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	describe(lf, p, &st);
	return 0;
}

int lun_file_open(const struct lun_backend_params *p, struct lun_backend **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	int r = check_params(p, err, errlen);
	if (r < 0)
		return r;
	struct lun_file *lf = calloc(1, sizeof(*lf));
	if (!lf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lf->be.priv = lf;
	lf->fd = open_fd(p, err, errlen);
	if (lf->fd < 0) {
		r = lf->fd;
		free(lf);
		return r;
	}
	r = lf_setup(lf, p, err, errlen);
	if (r < 0) {
		lf_close(&lf->be);
		return r;
	}
	*out = &lf->be;
	return 0;
}

int lun_file_grow(struct lun_backend *be, uint64_t size)
{
	if (be->ops != &file_ops)
		return -EOPNOTSUPP;
	struct lun_file *lf = (struct lun_file *)be;
	size -= size % be->block_size;
	if (size <= be->size)
		return -EINVAL;
	struct stat st;
	if (fstat(lf->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	if ((uint64_t)st.st_size < size && ftruncate(lf->fd, (off_t)size) < 0)
		return -errno;
	be->size = size;
	return 0;
}
